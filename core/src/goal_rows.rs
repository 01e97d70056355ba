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
use std::collections::HashMap;

use chrono::NaiveDate;

use crate::archive::Columns;
use crate::conversions::GoalState;
use crate::dict::NONE;
use crate::error::Result;
use crate::query::{CutVisit, Resolved, Selection};
use crate::report::Dimension;
use crate::visit_key::{Grouping, ranges};

use crate::goal_sums::visit_cells;
pub(crate) use crate::goal_sums::{CARTS, ORDERS, RowGoals, RowKey};

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
    let mut converted = Vec::new();
    sel.for_each_visit(|cut| {
        let visit_converted = visit_cells(
            states,
            (cut.archive, cut.visit),
            || cut.actions.iter(),
            d,
            ecommerce,
            sel.site.history(),
            &mut converted,
        );
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
            if visit_converted || !converted.is_empty() {
                row.add_cells(&converted, visit_converted);
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
        // Whole months and years from their goal rollups (counted with
        // these goals); the days between are read.
        let gaps = match self.rolled_goal_rows(range, of)? {
            Some((rolled, gaps)) => {
                out = rolled;
                gaps
            }
            None => vec![self.checked_range(range)?],
        };
        let windows = gaps
            .into_iter()
            .map(|gap| self.windows(Some(gap)))
            .collect::<Result<Vec<_>>>()?;
        for window in windows.into_iter().flatten() {
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
    /// The goal rows of report `of` from the goal rollups of the whole
    /// months and years of `range` that were counted with the site's
    /// goal definitions, with the day ranges left to read; `None` when
    /// none applies (a segment, a section, other definitions, a value a
    /// rollup names that the dictionaries lack).
    #[allow(clippy::type_complexity)]
    fn rolled_goal_rows(
        &self,
        range: Option<(NaiveDate, NaiveDate)>,
        of: &RowsOf,
    ) -> Result<Option<(HashMap<RowKey, RowGoals>, Vec<(NaiveDate, NaiveDate)>)>> {
        use crate::rollup::goals::GOAL_GROUPINGS;
        use crate::rollup::reports::VisitTable;
        // Goal rows do not depend on the visitor history.
        let Some((rolled, gaps)) = self.rolled_goals(range, false)? else {
            return Ok(None);
        };
        let d = &self.site.dicts;
        let mut out: HashMap<RowKey, RowGoals> = HashMap::new();
        for r in &rolled {
            let Some(g) = &r.goals else {
                return Ok(None);
            };
            match of {
                RowsOf::Group(grouping) => {
                    let Some(i) = GOAL_GROUPINGS.iter().position(|x| x == grouping) else {
                        return Ok(None);
                    };
                    for ((label, sub), row) in g.rows.groups.get(&(i as u32)).into_iter().flatten()
                    {
                        out.entry((Some(label.clone()), sub.clone()))
                            .or_default()
                            .add(row);
                    }
                }
                RowsOf::Dimension(dim) => {
                    let Some(table) = dim.table(d).filter(|t| t.rolled()) else {
                        return Ok(None);
                    };
                    let Some(rows) = g.rows.tables.get(&table.code()) else {
                        // A custom dimension none of the period's visits
                        // has: every converting visit is without a value.
                        out.entry((None, None)).or_default().add(&g.rows.all);
                        continue;
                    };
                    for (&k, row) in rows {
                        let known = match table {
                            VisitTable::Field(f) => (k as usize) < d.field(f as usize).len(),
                            VisitTable::Dimension(_) => (k as usize) < d.dim_values.len(),
                            VisitTable::ReferrerType => {
                                (k as usize) < crate::referrer::ReferrerType::ALL.len()
                            }
                        };
                        let label = match k {
                            NONE => None,
                            _ if known => Some(crate::report::visit_label(d, table, k)),
                            _ => return Ok(None),
                        };
                        out.entry((label, None)).or_default().add(row);
                    }
                }
            }
        }
        Ok(Some((out, gaps)))
    }
}
