//! Goal conversions of page rows: Matomo's `goals` column of its page
//! URL and page title reports, computed from the stored actions when
//! asked (as `goal_rows.rs` computes the goal columns of visit reports).
//!
//! Matomo's rules (`LogAggregator::queryConversionsByPageView`,
//! `queryConversionsByEntryPageView`, `Actions\ArchivingHelper`):
//! - A conversion counts once for every view of a page in its visit at
//!   or before its time: a page viewed twice before it has two
//!   (`nb_conversions`, `nb_conversions_page_uniq`), and its revenue
//!   twice (`revenue`, rounded to cents per visit and page).
//! - Each such view earns the conversion's share `1 / pages before`
//!   (the page views of the visit up to the conversion, the one that
//!   converted included), rounded to 4 decimals as MariaDB divides:
//!   `nb_conversions_attrib`, and `revenue_attrib` the revenue times the
//!   share (rounded to cents per visit and page). An abandoned cart has
//!   no pages-before count: only its conversions and revenue count.
//! - `nb_conv_pages_before`: the most pages before any of the page's
//!   conversions.
//! - The visit's entry page gets each of the visit's conversions
//!   (orders too, not carts): `nb_conversions_entry`, `revenue_entry`.
//!
//! Rows are keyed by the page report's label (a URL's path and query,
//! or a title); page views without a title have none.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;

use crate::conversions::GoalState;
use crate::dict::NONE;
use crate::error::Result;
use crate::fsum::ExactSum;
use crate::goal_sums::{CARTS, ORDERS};
use crate::hit::HitType;
use crate::query::{CutVisit, Resolved, Selection};
use crate::rollup::reports::ActionTable;

/// One goal's conversions credited to a page row.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct PageGoalCell {
    /// Conversions, each once for every view of the page before it
    /// (Matomo's `nb_conversions` and `nb_conversions_page_uniq`).
    pub conversions: u64,
    /// Their revenue, once for every such view.
    pub revenue: ExactSum,
    /// Whether any conversion knew its pages before (not an abandoned
    /// cart): the row then has the attributed columns.
    pub attributed: bool,
    /// The most pages viewed before a conversion.
    pub pages_before: u64,
    /// The views' shares of their conversions, in ten-thousandths.
    pub attrib: u64,
    /// The revenue by those shares.
    pub revenue_attrib: ExactSum,
    /// Conversions of the visits that entered on the page.
    pub entry_conversions: u64,
    /// Their revenue.
    pub entry_revenue: ExactSum,
}

impl PageGoalCell {
    /// Adds another page's (a folder's child) or period's cell.
    pub(crate) fn add(&mut self, o: &PageGoalCell) {
        self.conversions += o.conversions;
        self.revenue.add_sum(&o.revenue);
        self.attributed |= o.attributed;
        self.pages_before = self.pages_before.max(o.pages_before);
        self.attrib += o.attrib;
        self.revenue_attrib.add_sum(&o.revenue_attrib);
        self.entry_conversions += o.entry_conversions;
        self.entry_revenue.add_sum(&o.entry_revenue);
    }

    /// Whether pages before conversions earned it anything (else it
    /// only has entry conversions).
    pub(crate) fn has_pages(&self) -> bool {
        self.conversions > 0
    }
}

/// A page row's goal cells, by goal id ([`ORDERS`], [`CARTS`] for
/// ecommerce).
pub(crate) type PageGoals = BTreeMap<i64, PageGoalCell>;

/// Adds `o`'s cells to `to`.
pub(crate) fn add_goals(to: &mut PageGoals, o: &PageGoals) {
    for (id, c) in o {
        to.entry(*id).or_default().add(c);
    }
}

/// One conversion of a visit.
struct Conversion {
    goal: i64,
    ts: i64,
    revenue: f64,
    /// Whether its pages before count (not for an abandoned cart).
    attributed: bool,
}

/// A (page, goal) pair of one visit while it is counted: Matomo's
/// `GROUP BY idvisit, idaction`.
#[derive(Default)]
struct Pair {
    views: u64,
    revenue: f64,
    attrib: u64,
    revenue_attrib: f64,
    /// The first conversion's pages before, if a conversion knew them
    /// (not an abandoned cart): then the pair has the attributed columns.
    pages_before: Option<u64>,
}

/// What a visit's counting reuses from visit to visit.
#[derive(Default)]
struct Scratch {
    conversions: Vec<Conversion>,
    found: Vec<(i64, f64)>,
    /// The visit's page views: (time, row key; `NONE` without one).
    views: Vec<(i64, u32)>,
    pairs: Vec<((u32, i64), Pair)>,
}

/// `1 / n` rounded to 4 decimals, in ten-thousandths, as MariaDB
/// divides integers (`div_precision_increment` 4, half up).
fn share(n: u64) -> u64 {
    if n == 0 { 0 } else { (20_000 + n) / (2 * n) }
}

/// `x` rounded to cents, half away from zero.
fn cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// What page goals are counted with: the site's goals ready to
/// evaluate, and whether it is an ecommerce site.
struct Counter<'g> {
    states: Vec<GoalState<'g>>,
    ecommerce: bool,
}

impl Counter<'_> {
    /// Adds visit `cut`'s conversions to the rows of its pages (`key`:
    /// a page view's row key, `NONE` for none).
    fn add_visit(
        &mut self,
        sel: &Selection<'_>,
        cut: &CutVisit<'_>,
        key: impl Fn(usize) -> u32,
        s: &mut Scratch,
        out: &mut HashMap<u32, PageGoals>,
    ) {
        let (a, v) = (cut.archive, cut.visit);
        let d = &sel.site.dicts;
        s.conversions.clear();
        for state in self.states.iter_mut() {
            s.found.clear();
            state.each_conversion(a, v, cut.actions.iter(), d, &mut s.found);
            let goal = i64::from(state.goal.id);
            s.conversions
                .extend(s.found.iter().map(|&(ts, revenue)| Conversion {
                    goal,
                    ts,
                    revenue,
                    attributed: true,
                }));
        }
        let recorded = a.conversions_of(v);
        if self.ecommerce && !recorded.is_empty() {
            if let Some(cart) = crate::recorded::abandoned_cart(recorded) {
                s.conversions.push(Conversion {
                    goal: CARTS,
                    ts: cart.ts,
                    revenue: cart.data.revenue.unwrap_or(0.0),
                    attributed: false,
                });
            }
            for o in sel.site.history().orders(recorded) {
                s.conversions.push(Conversion {
                    goal: ORDERS,
                    ts: o.ts,
                    revenue: o.data.revenue.unwrap_or(0.0),
                    attributed: true,
                });
            }
        }
        if s.conversions.is_empty() {
            return;
        }
        s.views.clear();
        for i in cut.actions.iter() {
            if a.a_kind.get(i) == Some(&HitType::Pageview) {
                s.views.push((a.a_ts[i], key(i)));
            }
        }
        // The page views in time order (a visit's actions are).
        s.pairs.clear();
        for c in &s.conversions {
            let before = s.views.partition_point(|(ts, _)| *ts <= c.ts);
            let pages_before = before as u64;
            let q = share(pages_before);
            for &(_, k) in &s.views[..before] {
                if k == NONE {
                    continue;
                }
                let at = match s.pairs.iter().position(|(p, _)| *p == (k, c.goal)) {
                    Some(at) => at,
                    None => {
                        s.pairs.push(((k, c.goal), Pair::default()));
                        s.pairs.len() - 1
                    }
                };
                let p = &mut s.pairs[at].1;
                p.views += 1;
                p.revenue += c.revenue;
                if c.attributed && pages_before > 0 {
                    p.attrib += q;
                    p.revenue_attrib += q as f64 / 10_000.0 * c.revenue;
                    p.pages_before.get_or_insert(pages_before);
                }
            }
        }
        for ((k, goal), p) in s.pairs.drain(..) {
            let cell = out.entry(k).or_default().entry(goal).or_default();
            cell.conversions += p.views;
            cell.revenue.add(cents(p.revenue));
            if let Some(before) = p.pages_before {
                cell.attributed = true;
                cell.attrib += p.attrib;
                cell.revenue_attrib.add(cents(p.revenue_attrib));
                cell.pages_before = cell.pages_before.max(before);
            }
        }
        // The entry page: the visit's first page view.
        let Some(&(_, entry)) = s.views.first() else {
            return;
        };
        if entry == NONE {
            return;
        }
        let row = out.entry(entry).or_default();
        for c in s.conversions.iter().filter(|c| c.goal != CARTS) {
            let cell = row.entry(c.goal).or_default();
            cell.entry_conversions += 1;
            cell.entry_revenue.add(c.revenue);
        }
    }
}

impl Resolved<'_> {
    /// The goal cells of the page rows of `table` ([`ActionTable::Pages`]
    /// or [`ActionTable::Titles`]) over the days `range`, keyed by the
    /// rows' labels; empty for a site without goals.
    pub(crate) fn page_goals(
        &self,
        range: Option<(NaiveDate, NaiveDate)>,
        table: ActionTable,
    ) -> Result<HashMap<String, PageGoals>> {
        let site = self.site;
        let goals = &site.config.goals;
        if !site.config.has_conversions() {
            return Ok(HashMap::new());
        }
        let matchers: Vec<_> = goals.iter().map(crate::conversions::matcher_of).collect();
        let cols = crate::conversions::columns_for(goals).with(crate::archive::Columns::REPORTS);
        let mut out: HashMap<String, PageGoals> = HashMap::new();
        let mut scratch = Scratch::default();
        for window in self.windows(Some(self.checked_range(range)?))? {
            let sel = self.select_columns(Some(window), cols)?;
            // The selection's dictionaries: a live part's values too.
            let d = &sel.site.dicts;
            let untitled = d.titles.len() as u32;
            let mut counter = Counter {
                states: goals
                    .iter()
                    .zip(&matchers)
                    .map(|(g, m)| GoalState::with_matcher(g, m.clone()))
                    .collect(),
                ecommerce: site.config.is_ecommerce(),
            };
            let mut by_key: HashMap<u32, PageGoals> = HashMap::new();
            sel.for_each_visit(|cut| {
                let a = cut.archive;
                counter.add_visit(
                    &sel,
                    cut,
                    |i| match table.key(d, a, i, untitled) {
                        k if k == untitled && table == ActionTable::Titles => NONE,
                        k => k,
                    },
                    &mut scratch,
                    &mut by_key,
                );
            });
            for (k, cells) in by_key {
                // The label the row shows (a title's decoded).
                let label = match table {
                    ActionTable::Titles => crate::url::title_label(d.titles.value(k)),
                    _ => std::borrow::Cow::Borrowed(d.pages().labels.value(k)),
                };
                add_goals(out.entry(label.into_owned()).or_default(), &cells);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_round_as_mariadb_divides() {
        assert_eq!(share(1), 10_000);
        assert_eq!(share(2), 5_000);
        assert_eq!(share(3), 3_333);
        assert_eq!(share(6), 1_667);
        assert_eq!(share(7), 1_429);
        assert_eq!(share(8), 1_250);
        assert_eq!(share(0), 0);
    }
}
