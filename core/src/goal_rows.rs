//! Goal conversions by report row: what Matomo adds to the rows of its
//! visit reports for a site with goals (`nb_visits_converted` on every
//! row; `goals`, `nb_conversions` and `revenue` on the referrer, country,
//! continent, device type, browser, server time and custom dimension
//! reports), computed from the stored actions when asked, as `goals.rs`
//! computes `Goals.get`.
//!
//! A visit's conversions count in the row its visit is counted in (and
//! in the subtable row under it): a row's numbers are those `Goals.get`
//! gives under the row's segment.

use std::cell::OnceCell;
use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;

use crate::archive::Columns;
use crate::conversions::GoalState;
use crate::dict::NONE;
use crate::error::Result;
use crate::fsum::ExactSum;
use crate::query::{CutVisit, Resolved, Selection};
use crate::report::Dimension;
use crate::visit_key::{Grouping, ranges};

/// A row's key: its label (`None`: the row of visits without a value,
/// in a dimension report) and, for a subtable row, its sub-label.
pub(crate) type RowKey = (Option<String>, Option<String>);

/// One goal's conversions in a row.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct GoalCell {
    pub conversions: u64,
    pub visits_converted: u64,
    pub revenue: ExactSum,
    /// Orders and abandoned carts: their products.
    pub items: u64,
    /// Orders: their subtotals, taxes, shipping and discounts.
    pub amounts: [ExactSum; 4],
}

/// The cell key of orders (Matomo's `ecommerceOrder`, `idgoal` 0).
pub(crate) const ORDERS: i64 = 0;
/// The cell key of abandoned carts (`ecommerceAbandonedCart`, -1).
pub(crate) const CARTS: i64 = -1;

/// A row's conversions: visits that converted any goal (or ordered), and
/// each goal's (only goals with conversions), orders' ([`ORDERS`]) and
/// abandoned carts' ([`CARTS`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct RowGoals {
    pub visits_converted: u64,
    pub goals: BTreeMap<i64, GoalCell>,
}

impl RowGoals {
    /// Conversions of every goal and order together (carts are not
    /// conversions).
    pub(crate) fn conversions(&self) -> u64 {
        self.goals
            .iter()
            .filter(|(id, _)| **id != CARTS)
            .map(|(_, c)| c.conversions)
            .sum()
    }

    /// Revenue of every goal and order together.
    pub(crate) fn revenue(&self) -> f64 {
        let mut sum = ExactSum::default();
        for (_, c) in self.goals.iter().filter(|(id, _)| **id != CARTS) {
            sum.add_sum(&c.revenue);
        }
        sum.value()
    }
}

/// A visit's conversions by cell: each goal's (conversions, revenue) and,
/// on an ecommerce site, its counted orders and abandoned cart.
fn visit_cells(
    states: &mut [GoalState<'_>],
    cut: &CutVisit<'_>,
    d: &crate::raw::SiteDicts,
    ecommerce: bool,
    history: &crate::history::History,
) -> Vec<(i64, GoalCell)> {
    let mut out = Vec::new();
    for s in states.iter_mut() {
        if let Some((n, revenue)) = s.convert(cut.archive, cut.visit, cut.actions.iter(), d) {
            let cell = GoalCell {
                conversions: n,
                visits_converted: 1,
                revenue,
                ..GoalCell::default()
            };
            out.push((i64::from(s.goal.id), cell));
        }
    }
    let recorded = cut.archive.conversions_of(cut.visit);
    if !ecommerce || recorded.is_empty() {
        return out;
    }
    let cell_of = |records: &[&crate::recorded::Recorded]| {
        let mut cell = GoalCell {
            conversions: records.len() as u64,
            visits_converted: 1,
            ..GoalCell::default()
        };
        for r in records {
            crate::recorded::add_ecommerce(
                &r.data,
                &mut cell.revenue,
                &mut cell.items,
                &mut cell.amounts,
            );
        }
        cell
    };
    if let Some(cart) = crate::recorded::abandoned_cart(recorded) {
        out.push((CARTS, cell_of(&[cart])));
    }
    let bought: Vec<&crate::recorded::Recorded> = history.orders(recorded).collect();
    if !bought.is_empty() {
        out.push((ORDERS, cell_of(&bought)));
    }
    out
}

/// Which report's rows.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RowsOf {
    /// A visits-grouped report.
    Group(Grouping),
    /// A report by one visit field or custom dimension.
    Dimension(Dimension),
}

/// Conversions of a selection's visits by `key` (a row and, for a
/// subtable row, its parent's label with the sub-label).
fn add_rows(
    sel: &Selection<'_>,
    mut key: impl FnMut(&CutVisit<'_>) -> Option<(Option<String>, Option<String>)>,
    states: &mut [GoalState<'_>],
    out: &mut HashMap<RowKey, RowGoals>,
) {
    let d = &sel.site.dicts;
    let ecommerce = sel.site.config.is_ecommerce();
    sel.for_each_visit(|cut| {
        let converted = visit_cells(states, cut, d, ecommerce, sel.site.history());
        let Some((label, sub)) = key(cut) else {
            return;
        };
        let mut keys = vec![(label.clone(), None)];
        if sub.is_some() {
            keys.push((label, sub));
        }
        for k in keys {
            // Every row of a visit's value exists, converted or not.
            let row = out.entry(k).or_default();
            if converted.is_empty() {
                continue;
            }
            if converted.iter().any(|(id, _)| *id != CARTS) {
                row.visits_converted += 1;
            }
            for (id, c) in &converted {
                let cell = row.goals.entry(*id).or_default();
                cell.conversions += c.conversions;
                cell.visits_converted += 1;
                cell.revenue.add_sum(&c.revenue);
                cell.items += c.items;
                for (sum, v) in cell.amounts.iter_mut().zip(&c.amounts) {
                    sum.add_sum(v);
                }
            }
        }
    });
}

impl Resolved<'_> {
    /// The conversions of the site's goals by the rows of report `of`
    /// over the days `range`, read a window of days at a time; keys are
    /// the rows' raw labels, as the report's own rows are made from.
    pub(crate) fn goal_rows(
        &self,
        range: Option<(NaiveDate, NaiveDate)>,
        of: &RowsOf,
    ) -> Result<HashMap<RowKey, RowGoals>> {
        let goals = &self.site.config.goals;
        let mut out = HashMap::new();
        if !self.site.config.has_conversions() {
            return Ok(out);
        }
        let matchers: Vec<_> = goals.iter().map(crate::conversions::matcher_of).collect();
        let cols = crate::conversions::columns_for(goals).with(Columns::REPORTS);
        for window in self.windows(range)? {
            let sel = self.select_columns(Some(window), cols)?;
            let mut states: Vec<GoalState<'_>> = goals
                .iter()
                .zip(&matchers)
                .map(|(g, m)| GoalState::with_matcher(g, m.clone()))
                .collect();
            let keys = sel.site.visit_keys();
            match of {
                RowsOf::Group(g) => {
                    let bounds = ranges(*g);
                    add_rows(
                        &sel,
                        |cut| {
                            let (label, sub) =
                                keys.key_of(*g, &bounds, &cut.at(), &OnceCell::new())?;
                            Some((Some(label), sub))
                        },
                        &mut states,
                        &mut out,
                    );
                }
                RowsOf::Dimension(dim) => {
                    let d = &sel.site.dicts;
                    let Some(table) = dim.table(d) else {
                        return Ok(HashMap::new());
                    };
                    add_rows(
                        &sel,
                        |cut| {
                            let k = table.key(cut.archive, cut.visit as usize);
                            let label =
                                (k != NONE).then(|| crate::report::visit_label(d, table, k));
                            Some((label, None))
                        },
                        &mut states,
                        &mut out,
                    );
                }
            }
        }
        Ok(out)
    }
}
