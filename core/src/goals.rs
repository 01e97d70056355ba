//! Goal conversions of a selection, computed from its stored actions
//! when asked (`goal.rs` defines what converts): a goal defined or edited
//! today answers for every past day, under any segment and section.
//!
//! A visit converts goal `g` if one of its actions (those inside the
//! section, for a sectioned question) matches `g`: once a visit, or with
//! `allow_multiple` once for each second that has a matching action.
//! Each conversion earns the goal's revenue, or its event's value for a
//! goal that takes it. Conversions count on the day of their visit.

use std::collections::BTreeMap;

use crate::bitset::BitSet;
use crate::dict::NONE;
use crate::fsum::ExactSum;
use crate::goal::{Goal, GoalMatch, GoalMatcher};
use crate::hit::HitType;
use crate::query::{CutVisit, Selection};

/// Conversions of one goal, or of all together.
///
/// # Examples
/// ```
/// let m = hitmap::GoalMetrics::default();
/// assert_eq!((m.nb_conversions, m.nb_visits_converted, m.revenue), (0, 0, 0.0));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GoalMetrics {
    /// Conversions.
    pub nb_conversions: u64,
    /// Visits with at least one conversion.
    pub nb_visits_converted: u64,
    /// Distinct visitors with at least one conversion (exact).
    pub nb_uniq_visitors_converted: u64,
    /// The conversions' revenue.
    pub revenue: f64,
}

/// A value for all visits, new visits and returning visits.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ByVisitorType<T> {
    /// Every visit.
    pub all: T,
    /// First visits of their visitor.
    pub new: T,
    /// Visits of visitors seen before.
    pub returning: T,
}

/// The goals of a selection: conversions of each goal and of all.
///
/// # Examples
/// ```
/// use hitmap::{Engine, Goal, GoalMatch, Hit, PatternType, Query, SiteConfig};
/// let mut e = Engine::in_memory();
/// e.add_site(SiteConfig::new(1))?;
/// e.ingest([
///     Hit::pageview(1, 1_717_200_000, "a", "https://x.org/shop"),
///     Hit::pageview(1, 1_717_200_060, "a", "https://x.org/thanks"),
///     Hit::pageview(1, 1_717_200_000, "b", "https://x.org/"),
/// ])?;
/// // Defined after the data: it answers for it at once.
/// let site = e.site(1).unwrap().clone()
///     .goal(Goal::new(1, "Order", GoalMatch::Url, PatternType::Contains, "/thanks").revenue(10.0));
/// e.add_site(site)?;
/// let g = e.query(&Query::site(1))?.goals();
/// assert_eq!((g.nb_visits.all, g.overall.all.nb_visits_converted, g.overall.all.revenue), (2, 1, 10.0));
/// assert_eq!(g.goals[&1].all.nb_conversions, 1);
/// # Ok::<(), hitmap::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GoalsSummary {
    /// Visits of the selection.
    pub nb_visits: ByVisitorType<u64>,
    /// Every goal together: a visit converted if it converted any.
    pub overall: ByVisitorType<GoalMetrics>,
    /// Each goal of the site, by id (those without conversions too).
    pub goals: BTreeMap<u32, ByVisitorType<GoalMetrics>>,
}

/// Running sums of one goal (or of all) for one visitor type.
struct Acc {
    conversions: u64,
    visits: u64,
    visitors: BitSet,
    revenue: ExactSum,
}

impl Acc {
    fn new(visitors: usize) -> Acc {
        Acc {
            conversions: 0,
            visits: 0,
            visitors: BitSet::new(visitors),
            revenue: ExactSum::default(),
        }
    }

    fn finish(&self) -> GoalMetrics {
        GoalMetrics {
            nb_conversions: self.conversions,
            nb_visits_converted: self.visits,
            nb_uniq_visitors_converted: self.visitors.len(),
            revenue: self.revenue.value(),
        }
    }
}

/// A goal ready to evaluate: its matcher and what it already decided
/// for each value id of the dictionary it looks at (0 unknown, 1 no, 2
/// yes): a URL is compared once per question, not once per hit.
struct Ready<'g> {
    goal: &'g Goal,
    matcher: Option<GoalMatcher>,
    seen: Vec<u8>,
}

impl Selection<'_> {
    /// The conversions of the site's goals in the selection (see the
    /// module's rules).
    pub fn goals(&self) -> GoalsSummary {
        self.goals_of(&self.site.config.goals)
    }

    /// [`Selection::goals`] for the goals `goals`.
    pub(crate) fn goals_of(&self, goals: &[Goal]) -> GoalsSummary {
        let d = &self.site.dicts;
        let n = d.visitors.len();
        let mut ready: Vec<Ready<'_>> = goals
            .iter()
            .map(|goal| Ready {
                goal,
                // Validated when the site was added; a goal that no longer
                // compiles converts nothing rather than failing questions.
                matcher: (goal.match_attribute != GoalMatch::Manually)
                    .then(|| GoalMatcher::new(goal).ok())
                    .flatten(),
                seen: Vec::new(),
            })
            .collect();
        let three = || [Acc::new(n), Acc::new(n), Acc::new(n)];
        let mut overall = three();
        let mut each: Vec<[Acc; 3]> = goals.iter().map(|_| three()).collect();
        let mut visits = [0u64; 3];
        self.for_each_visit(|cut| {
            let a = cut.archive;
            let t = if a.is_new_visit(cut.visit) { 1 } else { 2 };
            visits[0] += 1;
            visits[t] += 1;
            let visitor = cut.visitor();
            let mut any = (0u64, ExactSum::default());
            for (g, acc) in ready.iter_mut().zip(&mut each) {
                let Some((conversions, revenue)) = g.convert(cut, d) else {
                    continue;
                };
                for k in [0, t] {
                    acc[k].conversions += conversions;
                    acc[k].visits += 1;
                    acc[k].visitors.insert(visitor);
                    acc[k].revenue.add_sum(&revenue);
                }
                any.0 += conversions;
                any.1.add_sum(&revenue);
            }
            if any.0 > 0 {
                for k in [0, t] {
                    overall[k].conversions += any.0;
                    overall[k].visits += 1;
                    overall[k].visitors.insert(visitor);
                    overall[k].revenue.add_sum(&any.1);
                }
            }
        });
        let by_type = |acc: &[Acc; 3]| ByVisitorType {
            all: acc[0].finish(),
            new: acc[1].finish(),
            returning: acc[2].finish(),
        };
        GoalsSummary {
            nb_visits: ByVisitorType {
                all: visits[0],
                new: visits[1],
                returning: visits[2],
            },
            overall: by_type(&overall),
            goals: goals
                .iter()
                .zip(&each)
                .map(|(g, acc)| (g.id, by_type(acc)))
                .collect(),
        }
    }
}

impl Ready<'_> {
    /// The visit's conversions of this goal and their revenue (`None`:
    /// it did not convert).
    fn convert(
        &mut self,
        cut: &CutVisit<'_>,
        d: &crate::raw::SiteDicts,
    ) -> Option<(u64, ExactSum)> {
        let matcher = self.matcher.as_ref()?;
        let goal = self.goal;
        let a = cut.archive;
        let kind = match goal.match_attribute {
            GoalMatch::Url | GoalMatch::Title => HitType::Pageview,
            GoalMatch::File => HitType::Download,
            GoalMatch::ExternalWebsite => HitType::Outlink,
            GoalMatch::EventCategory | GoalMatch::EventAction | GoalMatch::EventName => {
                HitType::Event
            }
            GoalMatch::Manually => return None,
        };
        let (dict, len) = match goal.match_attribute {
            GoalMatch::Title => (&d.titles, d.titles.len()),
            m if m.is_event() => (&d.events, d.events.len()),
            _ => (&d.urls, d.urls.len()),
        };
        if self.seen.len() < len {
            self.seen.resize(len, 0);
        }
        // A visit's actions come in time order.
        let mut last_second = None;
        let mut conversions = 0u64;
        let mut revenue = ExactSum::default();
        for i in cut.actions.iter() {
            if a.a_kind[i] != kind {
                continue;
            }
            let id = match goal.match_attribute {
                GoalMatch::Title => a.a_title[i],
                GoalMatch::EventCategory => a.extra(i).ev_category,
                GoalMatch::EventAction => a.extra(i).ev_action,
                GoalMatch::EventName => a.extra(i).ev_name,
                _ => a.a_url[i],
            };
            let hit = match id {
                // An action without the value matches as the empty text.
                NONE => matcher.matches(""),
                id => match self.seen.get(id as usize).copied() {
                    Some(1) => false,
                    Some(2) => true,
                    _ => {
                        let yes = matcher.matches(dict.value(id));
                        if let Some(s) = self.seen.get_mut(id as usize) {
                            *s = 1 + u8::from(yes);
                        }
                        yes
                    }
                },
            };
            if !hit {
                continue;
            }
            if goal.allow_multiple {
                // One conversion a second: Matomo's key is (visit, goal, time).
                let ts = a.a_ts.get(i).copied();
                if last_second.is_some() && last_second == ts {
                    continue;
                }
                last_second = ts;
            }
            conversions += 1;
            let value = a.extra(i).ev_value;
            revenue.add(if goal.event_value_as_revenue && !value.is_nan() {
                value
            } else {
                goal.revenue
            });
            if !goal.allow_multiple {
                break;
            }
        }
        (conversions > 0).then_some((conversions, revenue))
    }
}
