//! Goal rollups: a complete month's or year's goal sums (`goal_sums.rs`)
//! by visitor type, with converting visitors as bitmaps, and the goal
//! cells of the visit reports' rows (Matomo's goal columns: `goal_rows.rs`
//! counts the same from days), kept for the goal definitions of the
//! commit that counted them ([`GoalRollup::key`]). Rows hold converting
//! visits only: a row without conversions has no cells.

use std::cell::OnceCell;
use std::collections::BTreeMap;

use foldhash::HashMap;

use chrono::NaiveDate;

use crate::archive::DayArchive;
use crate::goal_sums::{
    ALL_GOALS, Acc, GoalCell, GoalSums, RowGoals, StoredAcc, StoredEcom, VISITS_UNTIL,
};
use crate::referrer::ReferrerPart;
use crate::visit_key::{Grouping, Range, VisitAt, VisitKeys, ranges};

use super::reports::{FIELD_TABLES, VisitTable};

/// The visits-grouped reports whose rows take goal cells (Matomo's goal
/// columns), each stored as its position here: every grouping but the
/// duration and page-count ranges, the visit counts and the days since
/// the last visit (Matomo gives those none).
pub(crate) const GOAL_GROUPINGS: [Grouping; 18] = [
    Grouping::BrowserVersion,
    Grouping::OsVersion,
    Grouping::Resolution,
    Grouping::Continent,
    Grouping::Language,
    Grouping::LanguageCode,
    Grouping::Country,
    Grouping::ServerHour,
    Grouping::LocalHour,
    Grouping::DayOfWeek,
    Grouping::ReferrerType,
    Grouping::ReferrerAll,
    Grouping::Referrer(ReferrerPart::SearchEngine),
    Grouping::Referrer(ReferrerPart::Keyword),
    Grouping::Referrer(ReferrerPart::Website),
    Grouping::Referrer(ReferrerPart::Social),
    Grouping::Referrer(ReferrerPart::Campaign),
    Grouping::Referrer(ReferrerPart::AiAssistant),
];

/// The goal cells of a period's visit reports, by row, counted over its
/// converting visits.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct GoalRows {
    /// Every converting visit's cells together: the row of visits without
    /// a value, in a custom dimension the period has no value of.
    pub all: RowGoals,
    /// Grouped reports by their [`GOAL_GROUPINGS`] position: (label,
    /// sub-label) → cells; a visit counts in its row and its subtable row.
    pub groups: BTreeMap<u32, HashMap<(String, Option<String>), RowGoals>>,
    /// Visit reports by their [`VisitTable::code`]: value id (`NONE`: no
    /// value) → cells.
    pub tables: BTreeMap<(u8, u32), HashMap<u32, RowGoals>>,
}

impl GoalRows {
    /// Adds a disjoint period's rows.
    pub(crate) fn add(&mut self, o: &GoalRows) {
        self.all.add(&o.all);
        for (g, rows) in &o.groups {
            let mine = self.groups.entry(*g).or_default();
            for (k, r) in rows {
                mine.entry(k.clone()).or_default().add(r);
            }
        }
        for (t, rows) in &o.tables {
            let mine = self.tables.entry(*t).or_default();
            for (k, r) in rows {
                mine.entry(*k).or_default().add(r);
            }
        }
    }

    /// Heap bytes, about.
    fn heap_bytes(&self) -> usize {
        let row = |r: &RowGoals| 48 + r.goals.len() * 160;
        self.groups
            .values()
            .flat_map(|t| t.iter())
            .map(|((l, s), r)| l.len() + s.as_ref().map_or(0, String::len) + 64 + row(r))
            .sum::<usize>()
            + self
                .tables
                .values()
                .flat_map(|t| t.values())
                .map(|r| 16 + row(r))
                .sum::<usize>()
    }
}

/// Counts a month's converting visits into goal sums and report rows.
pub(crate) struct GoalRollupBuilder<'a> {
    sums: GoalSums<'a>,
    keys: &'a VisitKeys<'a>,
    history: &'a crate::history::History,
    groups: Vec<(Grouping, Vec<Range>)>,
    tables: Vec<VisitTable>,
    rows: GoalRows,
    until: BTreeMap<i64, Vec<u64>>,
}

impl<'a> GoalRollupBuilder<'a> {
    /// A builder over `sums` (by visitor type) for a site's lookups, its
    /// visitor history and the custom dimensions `dims` its days have.
    pub(crate) fn new(
        sums: GoalSums<'a>,
        keys: &'a VisitKeys<'a>,
        history: &'a crate::history::History,
        dims: &[u32],
    ) -> Self {
        let tables = FIELD_TABLES
            .iter()
            .map(|f| VisitTable::Field(*f as u8))
            .chain([VisitTable::ReferrerType])
            .chain(dims.iter().map(|n| VisitTable::Dimension(*n)))
            .collect();
        GoalRollupBuilder {
            sums,
            keys,
            history,
            groups: GOAL_GROUPINGS.iter().map(|g| (*g, ranges(*g))).collect(),
            tables,
            rows: GoalRows::default(),
            until: BTreeMap::new(),
        }
    }

    /// Counts every visit of a day (with its `before` column).
    pub(crate) fn add_day(&mut self, date: NaiveDate, a: &DayArchive) {
        let d = self.keys.dicts;
        let history = self.history;
        for v in 0..a.visit_count() {
            let (cells, converted) = self.sums.add_visit(a, v, || a.actions_of(v), d, history);
            if cells.is_empty() && !converted {
                continue;
            }
            if let Some(i) = crate::goal_sums::range_of(&VISITS_UNTIL, a.visit_rank(v)) {
                let mut all = 0;
                for (id, c) in cells {
                    if *id > 0 {
                        all += c.conversions;
                    }
                    self.until
                        .entry(*id)
                        .or_insert_with(|| vec![0; VISITS_UNTIL.len()])[i] += c.conversions;
                }
                if all > 0 {
                    self.until
                        .entry(ALL_GOALS)
                        .or_insert_with(|| vec![0; VISITS_UNTIL.len()])[i] += all;
                }
            }
            add_rows(
                &mut self.rows,
                (&self.groups, &self.tables),
                self.keys,
                VisitAt {
                    date,
                    archive: a,
                    visit: v,
                    actions: a.actions_of(v).len(),
                    length: a.length[v as usize],
                    since_last: None,
                },
                (cells, converted),
            );
        }
    }

    /// The goal rollup of what was counted, for goal definitions `key`.
    pub(crate) fn finish(self, key: u64) -> GoalRollup {
        let mut out = self.sums.rollup(key);
        out.rows = self.rows;
        out.until = self.until;
        out
    }
}

/// Adds a converting visit's `cells` to its rows of every report.
fn add_rows(
    rows: &mut GoalRows,
    (groups, tables): (&[(Grouping, Vec<Range>)], &[VisitTable]),
    keys: &VisitKeys<'_>,
    at: VisitAt<'_>,
    (cells, converted): (&[(i64, GoalCell)], bool),
) {
    rows.all.add_cells(cells, converted);
    let referrer = OnceCell::new();
    for (i, (g, bounds)) in groups.iter().enumerate() {
        let Some((label, sub)) = keys.key_of(*g, bounds, &at, &referrer) else {
            continue;
        };
        let table = rows.groups.entry(i as u32).or_default();
        if sub.is_some() {
            table
                .entry((label.clone(), sub))
                .or_default()
                .add_cells(cells, converted);
        }
        table
            .entry((label, None))
            .or_default()
            .add_cells(cells, converted);
    }
    for t in tables {
        let k = t.key(at.archive, at.visit as usize);
        rows.tables
            .entry(t.code())
            .or_default()
            .entry(k)
            .or_default()
            .add_cells(cells, converted);
    }
}

impl GoalSums<'_> {
    /// Adds a goal rollup's sums (a disjoint period, counted with these
    /// goals; new and returning visits only if they are told apart here).
    pub(crate) fn add_rollup(&mut self, r: &GoalRollup) {
        let n = if self.by_type { 3 } else { 1 };
        for k in 0..n {
            self.visits[k] += r.visits[k];
            self.overall[k].add_stored(&r.overall[k]);
            self.orders[k].add_stored(&r.orders[k]);
            self.carts[k].add_stored(&r.carts[k]);
        }
        for (g, acc) in self.goals.iter().zip(self.each.iter_mut()) {
            if let Some((_, theirs)) = r.each.iter().find(|(id, _)| *id == g.id) {
                for (mine, theirs) in acc.iter_mut().zip(theirs).take(n) {
                    mine.add_stored(theirs);
                }
            }
        }
    }

    /// The sums as a goal rollup keeps them (without report rows), for
    /// goal definitions `key`.
    pub(crate) fn rollup(&self, key: u64) -> GoalRollup {
        let three = |acc: &[Acc; 3]| std::array::from_fn(|k| acc[k].stored());
        GoalRollup {
            key,
            visits: self.visits,
            overall: three(&self.overall),
            each: self
                .goals
                .iter()
                .zip(&self.each)
                .map(|(g, acc)| (g.id, three(acc)))
                .collect(),
            orders: std::array::from_fn(|k| self.orders[k].stored()),
            carts: std::array::from_fn(|k| self.carts[k].stored()),
            rows: GoalRows::default(),
            until: BTreeMap::new(),
        }
    }
}

/// A whole month's or year's goal sums, by visitor type (every visit,
/// new, returning), with converting visitors as bitmaps.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct GoalRollup {
    /// The goal definitions counted ([`goals_key`]).
    pub key: u64,
    pub visits: [u64; 3],
    pub overall: [StoredAcc; 3],
    /// Each goal by id, in the site's order.
    pub each: Vec<(u32, [StoredAcc; 3])>,
    pub orders: [StoredEcom; 3],
    pub carts: [StoredEcom; 3],
    /// The visit reports' goal cells, by row.
    pub rows: GoalRows,
    /// Conversions by the converting visit's rank among its visitor's
    /// visits (`VISITS_UNTIL`'s ranges): every goal's together
    /// (`ALL_GOALS`), each goal's by id, orders' (0), abandoned carts'
    /// (-1). They depend on the visitor history, as new and returning
    /// visits do.
    pub until: BTreeMap<i64, Vec<u64>>,
}

impl GoalRollup {
    /// Adds a disjoint period's rollup of the same definitions.
    pub(crate) fn add(&mut self, o: &GoalRollup) {
        for (k, visits) in o.visits.iter().enumerate() {
            self.visits[k] += visits;
        }
        for (mine, theirs) in self.overall.iter_mut().zip(&o.overall) {
            mine.add(theirs);
        }
        for (id, theirs) in &o.each {
            match self.each.iter_mut().find(|(mine, _)| mine == id) {
                Some((_, mine)) => mine.iter_mut().zip(theirs).for_each(|(m, t)| m.add(t)),
                None => self.each.push((*id, theirs.clone())),
            }
        }
        for (mine, theirs) in self.orders.iter_mut().zip(&o.orders) {
            mine.add(theirs);
        }
        for (mine, theirs) in self.carts.iter_mut().zip(&o.carts) {
            mine.add(theirs);
        }
        self.rows.add(&o.rows);
        for (k, theirs) in &o.until {
            let mine = self
                .until
                .entry(*k)
                .or_insert_with(|| vec![0; theirs.len()]);
            for (m, t) in mine.iter_mut().zip(theirs) {
                *m += t;
            }
        }
    }

    /// Its sums of every visit alone (those of new and returning visits
    /// emptied): what holds whatever the visitor history says.
    pub(crate) fn every_visit(&self) -> GoalRollup {
        let mut out = self.clone();
        for k in 1..3 {
            out.visits[k] = 0;
            out.overall[k] = StoredAcc::default();
            out.orders[k] = StoredEcom::default();
            out.carts[k] = StoredEcom::default();
            for (_, acc) in &mut out.each {
                acc[k] = StoredAcc::default();
            }
        }
        out.until.clear();
        out
    }

    /// Every visitor id it holds, at most (for checking a file against
    /// the site's dictionary).
    pub(crate) fn max_visitor(&self) -> Option<u32> {
        let accs = self
            .overall
            .iter()
            .chain(self.each.iter().flat_map(|(_, a)| a.iter()))
            .chain(self.orders.iter().chain(&self.carts).map(|e| &e.acc));
        accs.filter_map(|a| a.visitors.max()).max()
    }

    /// Heap bytes, about.
    pub(crate) fn heap_bytes(&self) -> usize {
        let accs = self
            .overall
            .iter()
            .chain(self.each.iter().flat_map(|(_, a)| a.iter()))
            .chain(self.orders.iter().chain(&self.carts).map(|e| &e.acc));
        accs.map(|a| a.visitors.serialized_size() + 64)
            .sum::<usize>()
            + self.rows.heap_bytes()
            + std::mem::size_of::<GoalRollup>()
    }
}
