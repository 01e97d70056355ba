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
use crate::conversions::GoalState;
use crate::fsum::ExactSum;
use crate::goal::Goal;
use crate::recorded::Recorded;
use chrono::NaiveDate;

use crate::archive::Columns;
use crate::error::Result;
use crate::query::{Resolved, Selection};

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

/// Ecommerce orders or abandoned carts (Matomo's `ecommerceOrder` and
/// `ecommerceAbandonedCart` goals).
///
/// # Examples
/// ```
/// let m = hitmap::EcommerceMetrics::default();
/// assert_eq!((m.goal.nb_conversions, m.items), (0, 0));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EcommerceMetrics {
    /// Orders (or abandoned carts), converted visits, converting visitors
    /// and revenue (grand totals).
    pub goal: GoalMetrics,
    /// Products: the sum of the items' quantities.
    pub items: u64,
    /// Sum of the subtotals.
    pub revenue_subtotal: f64,
    /// Sum of the taxes.
    pub revenue_tax: f64,
    /// Sum of the shipping costs.
    pub revenue_shipping: f64,
    /// Sum of the discounts.
    pub revenue_discount: f64,
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
    /// Ecommerce orders (an order id counts once in the site);
    /// part of `overall`.
    pub orders: ByVisitorType<EcommerceMetrics>,
    /// Abandoned carts: visits whose last ecommerce conversion is a cart
    /// update (not part of `overall`, as in Matomo).
    pub abandoned_carts: ByVisitorType<EcommerceMetrics>,
}

/// Running sums of one goal (or of all) for one visitor type.
struct Acc {
    conversions: u64,
    visits: u64,
    visitors: BitSet,
    revenue: ExactSum,
}

/// Running sums of orders or abandoned carts for one visitor type.
struct EcomAcc {
    acc: Acc,
    items: u64,
    amounts: [ExactSum; 4],
}

impl EcomAcc {
    fn new(visitors: usize) -> EcomAcc {
        EcomAcc {
            acc: Acc::new(visitors),
            items: 0,
            amounts: Default::default(),
        }
    }

    /// Adds one visit's orders (or its abandoned cart).
    fn add(&mut self, visitor: u32, records: &[&Recorded]) {
        self.acc.conversions += records.len() as u64;
        self.acc.visits += 1;
        self.acc.visitors.insert(visitor);
        for r in records {
            crate::recorded::add_ecommerce(
                &r.data,
                &mut self.acc.revenue,
                &mut self.items,
                &mut self.amounts,
            );
        }
    }

    fn finish(&self) -> EcommerceMetrics {
        EcommerceMetrics {
            goal: self.acc.finish(),
            items: self.items,
            revenue_subtotal: self.amounts[0].value(),
            revenue_tax: self.amounts[1].value(),
            revenue_shipping: self.amounts[2].value(),
            revenue_discount: self.amounts[3].value(),
        }
    }
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

impl Selection<'_> {
    /// The conversions of the site's goals in the selection (see the
    /// module's rules).
    pub fn goals(&self) -> GoalsSummary {
        let goals = &self.site.config.goals;
        let mut acc = GoalsAcc::new(
            goals,
            self.site.dicts.visitors.len(),
            true,
            self.site.config.ecommerce,
        );
        acc.add(self);
        acc.finish()
    }
}

impl Resolved<'_> {
    /// [`Selection::goals`] of the days `range`, read a window of days at
    /// a time with the columns its goals use (memory follows the window,
    /// not the range). Without `by_type`, new and returning visits are not
    /// told apart (their fields stay zero) and the visitor history is not
    /// read.
    pub(crate) fn goals(
        &self,
        range: Option<(NaiveDate, NaiveDate)>,
        by_type: bool,
    ) -> Result<GoalsSummary> {
        let goals = &self.site.config.goals;
        let mut acc = GoalsAcc::new(
            goals,
            self.site.dicts.visitors.len(),
            by_type,
            self.site.config.ecommerce,
        );
        let mut cols = crate::conversions::columns_for(goals);
        if by_type {
            cols = cols.with(Columns::BEFORE);
        }
        for window in self.windows(range)? {
            acc.add(&self.select_columns(Some(window), cols)?);
        }
        Ok(acc.finish())
    }
}

/// The sums a visit of type `t` adds to: every visit's (0), and its
/// type's unless `t` is 0 (types not told apart).
fn types(t: usize) -> impl Iterator<Item = usize> {
    std::iter::once(0).chain((t > 0).then_some(t))
}

/// Running sums of every goal over selections.
struct GoalsAcc<'g> {
    goals: &'g [Goal],
    ready: Vec<GoalState<'g>>,
    overall: [Acc; 3],
    each: Vec<[Acc; 3]>,
    orders: [EcomAcc; 3],
    carts: [EcomAcc; 3],
    visits: [u64; 3],
    /// Whether new and returning visits are told apart.
    by_type: bool,
    /// Whether orders and carts count (an ecommerce site).
    ecommerce: bool,
}

impl<'g> GoalsAcc<'g> {
    fn new(goals: &'g [Goal], visitors: usize, by_type: bool, ecommerce: bool) -> GoalsAcc<'g> {
        let three = || [Acc::new(visitors), Acc::new(visitors), Acc::new(visitors)];
        GoalsAcc {
            goals,
            ready: goals.iter().map(GoalState::new).collect(),
            overall: three(),
            each: goals.iter().map(|_| three()).collect(),
            orders: std::array::from_fn(|_| EcomAcc::new(visitors)),
            carts: std::array::from_fn(|_| EcomAcc::new(visitors)),
            visits: [0; 3],
            by_type,
            ecommerce,
        }
    }

    fn add(&mut self, sel: &Selection<'_>) {
        let d = &sel.site.dicts;
        let history = sel.site.history();
        let GoalsAcc {
            ready,
            overall,
            each,
            orders,
            carts,
            visits,
            by_type,
            ecommerce,
            ..
        } = self;
        for acc in overall.iter_mut().chain(each.iter_mut().flatten()).chain(
            orders
                .iter_mut()
                .chain(carts.iter_mut())
                .map(|e| &mut e.acc),
        ) {
            acc.visitors.grow(d.visitors.len());
        }
        sel.for_each_visit(|cut| {
            let a = cut.archive;
            // Every visit's sums (0), and its type's (1 new, 2 returning)
            // when they are told apart.
            let t = match (*by_type, *by_type && a.is_new_visit(cut.visit)) {
                (false, _) => 0,
                (true, true) => 1,
                (true, false) => 2,
            };
            visits[0] += 1;
            if t > 0 {
                visits[t] += 1;
            }
            let visitor = cut.visitor();
            let mut any = (0u64, ExactSum::default());
            for (g, acc) in ready.iter_mut().zip(each.iter_mut()) {
                let Some((conversions, revenue)) = g.convert(a, cut.visit, cut.actions.iter(), d)
                else {
                    continue;
                };
                for k in types(t) {
                    acc[k].conversions += conversions;
                    acc[k].visits += 1;
                    acc[k].visitors.insert(visitor);
                    acc[k].revenue.add_sum(&revenue);
                }
                any.0 += conversions;
                any.1.add_sum(&revenue);
            }
            let recorded = a.conversions_of(cut.visit);
            if *ecommerce && !recorded.is_empty() {
                let bought: Vec<&Recorded> = history.orders(recorded).collect();
                if !bought.is_empty() {
                    for k in types(t) {
                        orders[k].add(visitor, &bought);
                    }
                    any.0 += bought.len() as u64;
                    for r in &bought {
                        any.1.add(r.data.revenue.unwrap_or(0.0));
                    }
                }
                if let Some(cart) = crate::recorded::abandoned_cart(recorded) {
                    for k in types(t) {
                        carts[k].add(visitor, &[cart]);
                    }
                }
            }
            if any.0 > 0 {
                for k in types(t) {
                    overall[k].conversions += any.0;
                    overall[k].visits += 1;
                    overall[k].visitors.insert(visitor);
                    overall[k].revenue.add_sum(&any.1);
                }
            }
        });
    }

    fn finish(self) -> GoalsSummary {
        let by_type = |acc: &[Acc; 3]| ByVisitorType {
            all: acc[0].finish(),
            new: acc[1].finish(),
            returning: acc[2].finish(),
        };
        let ecom = |acc: &[EcomAcc; 3]| ByVisitorType {
            all: acc[0].finish(),
            new: acc[1].finish(),
            returning: acc[2].finish(),
        };
        GoalsSummary {
            nb_visits: ByVisitorType {
                all: self.visits[0],
                new: self.visits[1],
                returning: self.visits[2],
            },
            overall: by_type(&self.overall),
            goals: self
                .goals
                .iter()
                .zip(&self.each)
                .map(|(g, acc)| (g.id, by_type(acc)))
                .collect(),
            orders: ecom(&self.orders),
            abandoned_carts: ecom(&self.carts),
        }
    }
}

/// The ranges of Matomo's `Goals.getVisitsUntilConversion`: a visit's
/// rank among its visitor's visits, from..=to (`None`: and more).
pub(crate) const VISITS_UNTIL: [(u32, Option<u32>); 13] = [
    (1, Some(1)),
    (2, Some(2)),
    (3, Some(3)),
    (4, Some(4)),
    (5, Some(5)),
    (6, Some(6)),
    (7, Some(7)),
    (8, Some(8)),
    (9, Some(14)),
    (15, Some(25)),
    (26, Some(50)),
    (51, Some(100)),
    (101, None),
];

/// The ranges of Matomo's `Goals.getDaysToConversion`: whole days from
/// the visitor's first visit's start to the converting visit's start.
pub(crate) const DAYS_TO: [(u32, Option<u32>); 14] = [
    (0, Some(0)),
    (1, Some(1)),
    (2, Some(2)),
    (3, Some(3)),
    (4, Some(4)),
    (5, Some(5)),
    (6, Some(6)),
    (7, Some(7)),
    (8, Some(14)),
    (15, Some(30)),
    (31, Some(60)),
    (61, Some(120)),
    (121, Some(364)),
    (365, None),
];

/// A range's label as Matomo shows it (`1 visit`, `9-14 visits`,
/// `101+ visits`; `0 days`, `1 day`, `365+ days`).
fn range_label(from: u32, to: Option<u32>, one: &str, many: &str) -> String {
    match to {
        Some(1) if from == 1 => format!("1 {one}"),
        Some(t) if t == from => format!("{from} {many}"),
        Some(t) => format!("{from}-{t} {many}"),
        None => format!("{from}+ {many}"),
    }
}

/// Which conversions [`Selection::visits_until_conversion`] and
/// [`Selection::days_to_conversion`] count (Matomo's `idGoal`).
///
/// # Examples
/// ```
/// use hitmap::ConversionsOf;
/// assert_eq!(ConversionsOf::from(None), ConversionsOf::AllGoals);
/// assert_eq!(ConversionsOf::from(Some(3)), ConversionsOf::Goal(3));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversionsOf {
    /// Every goal's conversions (Matomo's overview: orders and carts are
    /// not goals there).
    AllGoals,
    /// The conversions of one goal.
    Goal(u32),
    /// Ecommerce orders (those that count: an order id once).
    Orders,
    /// Abandoned carts (a visit's, at most one).
    AbandonedCarts,
}

impl From<Option<u32>> for ConversionsOf {
    fn from(goal: Option<u32>) -> ConversionsOf {
        goal.map_or(ConversionsOf::AllGoals, ConversionsOf::Goal)
    }
}

impl Selection<'_> {
    /// Conversions of `of` (every goal, one goal, orders or abandoned
    /// carts) by the converting visit's rank among its visitor's visits,
    /// in Matomo's ranges (`Goals.getVisitsUntilConversion`).
    ///
    /// # Examples
    /// ```
    /// use hitmap::{Engine, Goal, GoalMatch, Hit, PatternType, Query, SiteConfig};
    /// let mut e = Engine::in_memory();
    /// e.add_site(SiteConfig::new(1).goal(Goal::new(1, "Buy", GoalMatch::Url, PatternType::Contains, "/buy")))?;
    /// e.ingest([
    ///     Hit::pageview(1, 1_717_200_000, "a", "https://x.org/"),
    ///     Hit::pageview(1, 1_717_300_000, "a", "https://x.org/buy"),
    /// ])?;
    /// let rows = e.query(&Query::site(1))?.visits_until_conversion(None);
    /// assert_eq!(rows[1], ("2 visits".to_string(), 1));
    /// assert_eq!(rows.len(), 13);
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn visits_until_conversion(&self, of: impl Into<ConversionsOf>) -> Vec<(String, u64)> {
        let counts = self.conversions_by(of.into(), &VISITS_UNTIL, |a, v| Ok(a.visit_rank(v)));
        // Ranks need no history beyond the day's `before` column.
        let counts = counts.unwrap_or_else(|_| vec![0; VISITS_UNTIL.len()]);
        VISITS_UNTIL
            .iter()
            .zip(counts)
            .map(|(&(from, to), n)| (range_label(from, to, "visit", "visits"), n))
            .collect()
    }

    /// Conversions of `of` by whole days from the visitor's first visit
    /// to the converting visit (both by their starts), in Matomo's ranges
    /// (`Goals.getDaysToConversion`).
    ///
    /// # Errors
    /// A store written before each visitor's first visit was kept, until
    /// `hitmap check --upgrade` (`Engine::upgrade_days`) fills it in; a
    /// visitor history file that cannot be read.
    ///
    /// # Examples
    /// ```
    /// use hitmap::{Engine, Goal, GoalMatch, Hit, PatternType, Query, SiteConfig};
    /// let mut e = Engine::in_memory();
    /// e.add_site(SiteConfig::new(1).goal(Goal::new(1, "Buy", GoalMatch::Url, PatternType::Contains, "/buy")))?;
    /// e.ingest([
    ///     Hit::pageview(1, 1_717_200_000, "a", "https://x.org/"),
    ///     Hit::pageview(1, 1_717_200_000 + 3 * 86_400 + 5, "a", "https://x.org/buy"),
    /// ])?;
    /// let rows = e.query(&Query::site(1))?.days_to_conversion(None)?;
    /// assert_eq!(rows[3], ("3 days".to_string(), 1));
    /// assert_eq!(rows.len(), 14);
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn days_to_conversion(&self, of: impl Into<ConversionsOf>) -> Result<Vec<(String, u64)>> {
        let history = self.site.history();
        let counts = self.conversions_by(of.into(), &DAYS_TO, |a, v| {
            if a.visit_rank(v) == 1 {
                return Ok(0);
            }
            let visitor = a.visitor[v as usize];
            let first = history.totals()?.first_start(visitor).ok_or_else(|| {
                crate::error::Error::Store {
                    path: format!("site-{}/history", self.site.config.id()),
                    reason: "the visitor history was written before first visits were kept: \
                             run `hitmap check DIR --upgrade` to fill them in from the days"
                        .into(),
                }
            })?;
            let days = (a.visit_start(v) - first).max(0) / 86_400;
            Ok(u32::try_from(days).unwrap_or(u32::MAX))
        })?;
        Ok(DAYS_TO
            .iter()
            .zip(counts)
            .map(|(&(from, to), n)| (range_label(from, to, "day", "days"), n))
            .collect())
    }

    /// Conversions of `of` summed by the range `key` puts each converting
    /// visit in.
    fn conversions_by(
        &self,
        of: ConversionsOf,
        ranges: &[(u32, Option<u32>)],
        mut key: impl FnMut(&crate::archive::DayArchive, u32) -> Result<u32>,
    ) -> Result<Vec<u64>> {
        let d = &self.site.dicts;
        let mut states: Vec<GoalState<'_>> = self
            .site
            .config
            .goals
            .iter()
            .filter(|g| match of {
                ConversionsOf::AllGoals => true,
                ConversionsOf::Goal(id) => g.id == id,
                _ => false,
            })
            .map(GoalState::new)
            .collect();
        let ecommerce = self.site.config.ecommerce;
        let mut counts = vec![0u64; ranges.len()];
        let mut failed = None;
        self.for_each_visit(|cut| {
            if failed.is_some() {
                return;
            }
            let (a, v) = (cut.archive, cut.visit);
            let n: u64 = match of {
                ConversionsOf::AllGoals | ConversionsOf::Goal(_) => states
                    .iter_mut()
                    .filter_map(|s| s.convert(a, v, cut.actions.iter(), d))
                    .map(|(n, _)| n)
                    .sum(),
                ConversionsOf::Orders if ecommerce => {
                    self.site.history().orders(a.conversions_of(v)).count() as u64
                }
                ConversionsOf::AbandonedCarts if ecommerce => {
                    u64::from(crate::recorded::abandoned_cart(a.conversions_of(v)).is_some())
                }
                _ => 0,
            };
            if n == 0 {
                return;
            }
            match key(a, v) {
                Ok(k) => {
                    if let Some(i) = ranges
                        .iter()
                        .position(|&(from, to)| k >= from && to.is_none_or(|t| k <= t))
                    {
                        counts[i] += n;
                    }
                }
                Err(e) => failed = Some(e),
            }
        });
        failed.map_or(Ok(counts), Err)
    }
}
