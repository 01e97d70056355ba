//! One visit's conversions of a goal (`goal.rs` says what converts),
//! from a day's stored actions: what `Selection::goals` counts and what
//! the `visitConverted` and `visitConvertedGoalId` segments test.

use crate::archive::{Columns, DayArchive};
use crate::dict::NONE;
use crate::fsum::ExactSum;
use crate::goal::{Goal, GoalMatch, GoalMatcher};
use crate::hit::HitType;
use crate::raw::SiteDicts;

/// The column groups a day must hold for `goals` to be evaluated over
/// its visits: the actions' kinds, URLs and times (a visit's length comes
/// from them), titles for title goals, events for event goals.
pub(crate) fn columns_for<'g>(goals: impl IntoIterator<Item = &'g Goal>) -> Columns {
    let mut cols = Columns::KINDS
        .with(Columns::URLS)
        .with(Columns::TIMES)
        .with(Columns::CONVERSIONS);
    for g in goals {
        if g.match_attribute == GoalMatch::Title {
            cols = cols.with(Columns::TITLES);
        }
        if g.match_attribute.is_event() {
            cols = cols.with(Columns::EXTRAS);
        }
    }
    cols
}

/// A goal's compiled pattern; `None` for a manual goal, and for one that
/// no longer compiles (validated when the site was added, it converts
/// nothing rather than failing questions).
pub(crate) fn matcher_of(goal: &Goal) -> Option<GoalMatcher> {
    (goal.match_attribute != GoalMatch::Manually)
        .then(|| GoalMatcher::new(goal).ok())
        .flatten()
}

/// A goal ready to evaluate: its matcher and what it already decided for
/// each value id of the dictionary it looks at (0 unknown, 1 no, 2 yes):
/// a URL is compared once per question, not once per hit.
pub(crate) struct GoalState<'g> {
    pub goal: &'g Goal,
    matcher: Option<GoalMatcher>,
    seen: Vec<u8>,
}

impl<'g> GoalState<'g> {
    pub(crate) fn new(goal: &'g Goal) -> GoalState<'g> {
        GoalState::with_matcher(goal, matcher_of(goal))
    }

    /// A state for `goal` with its matcher compiled before
    /// ([`matcher_of`]): a question that starts a state per day compiles
    /// each pattern once, not once a day.
    pub(crate) fn with_matcher(goal: &'g Goal, matcher: Option<GoalMatcher>) -> GoalState<'g> {
        GoalState {
            goal,
            matcher,
            seen: Vec::new(),
        }
    }

    /// The conversions of visit `visit`, among `actions` (positions in
    /// `a`, in time order: the visit's, or those of its cut to a section)
    /// and its recorded conversions of the goal, and their revenue;
    /// `None`: none. Once a visit (the earliest), or with `allow_multiple`
    /// once a second for matching actions and each recorded one; each
    /// earns the goal's revenue, its event's value, or the revenue the
    /// recorded conversion carries.
    pub(crate) fn convert(
        &mut self,
        a: &DayArchive,
        visit: u32,
        actions: impl Iterator<Item = usize>,
        d: &SiteDicts,
    ) -> Option<(u64, ExactSum)> {
        let goal = self.goal;
        let recorded = a
            .conversions_of(visit)
            .iter()
            .filter(|r| r.kind == HitType::Goal && r.data.goal == Some(goal.id));
        let matched = self.matched(a, actions, d);
        let mut first: Option<(i64, f64)> = None;
        let mut conversions = 0u64;
        let mut revenue = ExactSum::default();
        for r in recorded {
            let value = r.data.revenue.unwrap_or(goal.revenue);
            if goal.allow_multiple {
                conversions += 1;
                revenue.add(value);
            } else {
                first = Some((r.ts, value));
                break;
            }
        }
        match matched {
            Some((n, sum, at)) if goal.allow_multiple || first.is_none_or(|f| at < f.0) => {
                if goal.allow_multiple {
                    conversions += n;
                    revenue.add_sum(&sum);
                } else {
                    conversions = n;
                    revenue = sum;
                    first = None;
                }
            }
            _ => {}
        }
        if let Some((_, value)) = first {
            conversions = 1;
            revenue.add(value);
        }
        (conversions > 0).then_some((conversions, revenue))
    }

    /// The conversions among `actions` by the goal's pattern, their
    /// revenue and the time of the first; `None`: none (or a manual goal).
    fn matched(
        &mut self,
        a: &DayArchive,
        actions: impl Iterator<Item = usize>,
        d: &SiteDicts,
    ) -> Option<(u64, ExactSum, i64)> {
        let mut conversions = 0u64;
        let mut revenue = ExactSum::default();
        let mut at = None;
        self.each_match(a, actions, d, |ts, value| {
            conversions += 1;
            at = at.or(ts);
            revenue.add(value);
        });
        (conversions > 0).then(|| (conversions, revenue, at.unwrap_or(i64::MAX)))
    }

    /// Visit `visit`'s conversions of the goal, one (time, revenue) each,
    /// as [`GoalState::convert`] counts them and earns their revenue, in
    /// time order: what Live's visitor log lists.
    pub(crate) fn each_conversion(
        &mut self,
        a: &DayArchive,
        visit: u32,
        actions: impl Iterator<Item = usize>,
        d: &SiteDicts,
        out: &mut Vec<(i64, f64)>,
    ) {
        let goal = self.goal;
        let recorded: Vec<(i64, f64)> = a
            .conversions_of(visit)
            .iter()
            .filter(|r| r.kind == HitType::Goal && r.data.goal == Some(goal.id))
            .map(|r| (r.ts, r.data.revenue.unwrap_or(goal.revenue)))
            .collect();
        let mut matched = Vec::new();
        self.each_match(a, actions, d, |ts, value| {
            matched.push((ts.unwrap_or(i64::MAX), value));
        });
        let start = out.len();
        if goal.allow_multiple {
            out.extend(recorded);
            out.extend(matched);
        } else {
            // The earliest: the first recorded one unless a match came
            // before it (as `convert`).
            let first = match (recorded.first(), matched.first()) {
                (Some(r), Some(m)) if m.0 < r.0 => Some(*m),
                (Some(r), _) => Some(*r),
                (None, m) => m.copied(),
            };
            out.extend(first);
        }
        out[start..].sort_by_key(|c| c.0);
    }

    /// Calls `each` with the time and revenue of every conversion among
    /// `actions` by the goal's pattern (none for a manual goal): the
    /// first only, unless the goal allows several a visit (then one a
    /// second).
    fn each_match(
        &mut self,
        a: &DayArchive,
        actions: impl Iterator<Item = usize>,
        d: &SiteDicts,
        mut each: impl FnMut(Option<i64>, f64),
    ) {
        let Some(matcher) = self.matcher.as_ref() else {
            return;
        };
        let goal = self.goal;
        let kind = match goal.match_attribute {
            GoalMatch::Url | GoalMatch::Title => HitType::Pageview,
            GoalMatch::File => HitType::Download,
            GoalMatch::ExternalWebsite => HitType::Outlink,
            GoalMatch::EventCategory | GoalMatch::EventAction | GoalMatch::EventName => {
                HitType::Event
            }
            GoalMatch::Manually => return,
        };
        let dict = match goal.match_attribute {
            GoalMatch::Title => &d.titles,
            m if m.is_event() => &d.events,
            _ => &d.urls,
        };
        if self.seen.len() < dict.len() {
            self.seen.resize(dict.len(), 0);
        }
        let mut last_second = None;
        for i in actions {
            if a.a_kind.get(i) != Some(&kind) {
                continue;
            }
            let id = match goal.match_attribute {
                GoalMatch::Title => a.a_title.get(i).copied().unwrap_or(NONE),
                GoalMatch::EventCategory => a.extra(i).ev_category,
                GoalMatch::EventAction => a.extra(i).ev_action,
                GoalMatch::EventName => a.extra(i).ev_name,
                _ => a.a_url.get(i).copied().unwrap_or(NONE),
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
            let value = a.extra(i).ev_value;
            each(
                a.a_ts.get(i).copied(),
                if goal.event_value_as_revenue && !value.is_nan() {
                    value
                } else {
                    goal.revenue
                },
            );
            if !goal.allow_multiple {
                break;
            }
        }
    }
}
