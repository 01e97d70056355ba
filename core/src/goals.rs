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

use crate::conversions::GoalState;
use crate::goal_sums::{Acc, EcomAcc, GoalSums};
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

impl Selection<'_> {
    /// The conversions of the site's goals in the selection (see the
    /// module's rules).
    pub fn goals(&self) -> GoalsSummary {
        let goals = &self.site.config.goals;
        let mut acc = GoalSums::new(
            goals,
            self.site.dicts.visitors.len(),
            true,
            self.site.config.ecommerce,
        );
        add_selection(&mut acc, self);
        finish(acc)
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
        let mut acc = GoalSums::new(
            goals,
            self.site.dicts.visitors.len(),
            by_type,
            self.site.config.ecommerce,
        );
        let mut cols = crate::conversions::columns_for(goals);
        if by_type {
            cols = cols.with(Columns::BEFORE);
        }
        // Whole months and years from their goal rollups where they stand
        // for their periods: the days between are read.
        let (rolled, gaps) = match self.rolled_goals(range, by_type)? {
            Some(rolled) => rolled,
            None => (Vec::new(), vec![self.checked_range(range)?]),
        };
        for r in &rolled {
            if let Some(g) = &r.goals {
                acc.add_rollup(g);
            }
        }
        for gap in gaps {
            for window in self.windows(Some(gap))? {
                add_selection(&mut acc, &self.select_columns(Some(window), cols)?);
            }
        }
        Ok(finish(acc))
    }
}

impl Resolved<'_> {
    /// [`Selection::visits_until_conversion`] of the days `range`, whole
    /// months and years from their goal rollups (counted with the site's
    /// goal definitions and visitor history as it is) and the days
    /// between read a window at a time; `None` when no goal rollup
    /// applies (the caller reads the days).
    pub(crate) fn rolled_visits_until(
        &self,
        range: Option<(NaiveDate, NaiveDate)>,
        of: ConversionsOf,
    ) -> Result<Option<Vec<(String, u64)>>> {
        let config = &self.site.config;
        let Some((rolled, gaps)) = self.rolled_goals(range, true)? else {
            return Ok(None);
        };
        if rolled.is_empty() {
            return Ok(None);
        }
        let cell = match of {
            ConversionsOf::AllGoals => crate::goal_sums::ALL_GOALS,
            ConversionsOf::Goal(id) => i64::from(id),
            ConversionsOf::Orders => crate::goal_sums::ORDERS,
            ConversionsOf::AbandonedCarts => crate::goal_sums::CARTS,
        };
        let mut counts = vec![0u64; VISITS_UNTIL.len()];
        for r in &rolled {
            let stored = r.goals.as_ref().and_then(|g| g.until.get(&cell));
            for (c, n) in counts.iter_mut().zip(stored.into_iter().flatten()) {
                *c += n;
            }
        }
        let cols = crate::conversions::columns_for(&config.goals).with(Columns::BEFORE);
        for gap in gaps {
            for window in self.windows(Some(gap))? {
                let sel = self.select_columns(Some(window), cols)?;
                let more = sel.conversions_by(of, &VISITS_UNTIL, |a, v| Ok(a.visit_rank(v)))?;
                for (c, n) in counts.iter_mut().zip(more) {
                    *c += n;
                }
            }
        }
        Ok(Some(visits_until_rows(counts)))
    }
}

/// Visits-until-conversion counts as Matomo's labelled rows.
fn visits_until_rows(counts: Vec<u64>) -> Vec<(String, u64)> {
    VISITS_UNTIL
        .iter()
        .zip(counts)
        .map(|(&(from, to), n)| (range_label(from, to, "visit", "visits"), n))
        .collect()
}

/// Adds the visits of a selection (cut to its section).
fn add_selection(acc: &mut GoalSums<'_>, sel: &Selection<'_>) {
    let d = &sel.site.dicts;
    let history = sel.site.history();
    acc.grow(d.visitors.len());
    sel.for_each_visit(|cut| {
        acc.add_visit(cut.archive, cut.visit, || cut.actions.iter(), d, history);
    });
}

/// The summary of running sums.
fn finish(acc: GoalSums<'_>) -> GoalsSummary {
    let by_type = |acc: &[Acc; 3]| ByVisitorType {
        all: metrics(&acc[0]),
        new: metrics(&acc[1]),
        returning: metrics(&acc[2]),
    };
    let ecom = |acc: &[EcomAcc; 3]| ByVisitorType {
        all: ecommerce(&acc[0]),
        new: ecommerce(&acc[1]),
        returning: ecommerce(&acc[2]),
    };
    GoalsSummary {
        nb_visits: ByVisitorType {
            all: acc.visits[0],
            new: acc.visits[1],
            returning: acc.visits[2],
        },
        overall: by_type(&acc.overall),
        goals: acc
            .goals
            .iter()
            .zip(&acc.each)
            .map(|(g, each)| (g.id, by_type(each)))
            .collect(),
        orders: ecom(&acc.orders),
        abandoned_carts: ecom(&acc.carts),
    }
}

fn metrics(acc: &Acc) -> GoalMetrics {
    GoalMetrics {
        nb_conversions: acc.conversions,
        nb_visits_converted: acc.visits,
        nb_uniq_visitors_converted: acc.visitors.len(),
        revenue: acc.revenue.value(),
    }
}

fn ecommerce(acc: &EcomAcc) -> EcommerceMetrics {
    EcommerceMetrics {
        goal: metrics(&acc.acc),
        items: acc.items,
        revenue_subtotal: acc.amounts[0].value(),
        revenue_tax: acc.amounts[1].value(),
        revenue_shipping: acc.amounts[2].value(),
        revenue_discount: acc.amounts[3].value(),
    }
}

pub(crate) use crate::goal_sums::VISITS_UNTIL;

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
        visits_until_rows(counts)
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
                    if let Some(i) = crate::goal_sums::range_of(ranges, k) {
                        counts[i] += n;
                    }
                }
                Err(e) => failed = Some(e),
            }
        });
        failed.map_or(Ok(counts), Err)
    }
}
