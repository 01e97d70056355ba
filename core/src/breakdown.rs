//! Reports that group visits (or events) by a label computed per visit,
//! with an optional second label for each row's subtable: the time of
//! day, visitor interest ranges, versions, continents, languages,
//! referrers with their subtables, and events. Every row,
//! child rows included, carries exact distinct visitors and users.

use std::collections::HashMap;

use crate::dict::NONE;
use crate::hit::HitType;
use crate::query::{CutVisit, DistinctStamp, Selection, distinct_per_key};
use crate::rollup::reports::EventCounts;
use crate::summary::VisitsSummary;

/// A row of a grouped visit report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Group {
    pub label: String,
    pub metrics: VisitsSummary,
    /// Rows by the second label, sorted like the top level.
    pub sub: Vec<Group>,
}

/// Interns (parent, label) keys into one dense id space; a lookup of a
/// known label allocates nothing.
#[derive(Default)]
struct Keys {
    /// Per parent (`NONE` for the top level): label -> id.
    ids: HashMap<u32, HashMap<String, u32>>,
    labels: Vec<String>,
    parents: Vec<u32>,
}

impl Keys {
    fn id(&mut self, parent: u32, label: &str) -> u32 {
        let level = self.ids.entry(parent).or_default();
        if let Some(&id) = level.get(label) {
            return id;
        }
        let id = self.labels.len() as u32;
        level.insert(label.to_owned(), id);
        self.labels.push(label.to_owned());
        self.parents.push(parent);
        id
    }

    /// Rows from per-key values, children under their parents, each level
    /// sorted by `order` (then label).
    fn assemble<T>(
        &self,
        values: Vec<Option<T>>,
        order: impl Fn(&T, &T) -> std::cmp::Ordering + Copy,
    ) -> Vec<Node<T>> {
        let mut top: Vec<Node<T>> = Vec::new();
        let mut at: HashMap<u32, usize> = HashMap::new();
        let mut children: Vec<(u32, String, T)> = Vec::new();
        for (id, value) in values.into_iter().enumerate() {
            let Some(value) = value else { continue };
            let label = self.labels[id].clone();
            match self.parents[id] {
                NONE => {
                    at.insert(id as u32, top.len());
                    top.push(Node {
                        label,
                        value,
                        children: Vec::new(),
                    });
                }
                parent => children.push((parent, label, value)),
            }
        }
        for (parent, label, value) in children {
            if let Some(&i) = at.get(&parent) {
                top[i].children.push((label, value));
            }
        }
        for n in &mut top {
            n.children
                .sort_by(|a, b| order(&a.1, &b.1).then_with(|| a.0.cmp(&b.0)));
        }
        top.sort_by(|a, b| order(&a.value, &b.value).then_with(|| a.label.cmp(&b.label)));
        top
    }
}

/// A top-level row and its children, before they become report rows.
struct Node<T> {
    label: String,
    value: T,
    children: Vec<(String, T)>,
}

/// A grouped report's rows from its rolled-up table (`report.rs`,
/// [`crate::query::Resolved::rolled_group`]), ordered as
/// [`Selection::group_visits`] orders them.
pub(crate) fn groups_of_table(table: crate::rollup::reports::GroupTable) -> Vec<Group> {
    two_levels(
        table,
        |row| row.counts.visits > 0,
        |label, row| Group {
            label,
            metrics: crate::report::rolled_summary(&row),
            sub: Vec::new(),
        },
        (|g: &Group| &g.label, |g: &mut Group| &mut g.sub),
        |a, b| b.metrics.nb_visits.cmp(&a.metrics.nb_visits),
    )
}

/// A rolled-up table keyed by (label, sub-label) as report rows: the rows
/// it keeps (`keep`) made by `make`, each top row with its subtable's
/// rows beneath (`parts`: a row's label, and its subtable), each level
/// sorted by `order` and then label, as `Keys::assemble` sorts a
/// report's rows.
fn two_levels<C, R>(
    table: crate::rollup::reports::Table<C, crate::rollup::reports::GroupKey>,
    keep: impl Fn(&crate::rollup::reports::Row<C>) -> bool,
    make: impl Fn(String, crate::rollup::reports::Row<C>) -> R,
    (label, sub): (impl Fn(&R) -> &String, impl Fn(&mut R) -> &mut Vec<R>),
    order: impl Fn(&R, &R) -> std::cmp::Ordering,
) -> Vec<R> {
    let mut top: Vec<R> = Vec::new();
    let mut children: HashMap<String, Vec<R>> = HashMap::new();
    for ((name, below), row) in table {
        if !keep(&row) {
            continue;
        }
        match below {
            None => top.push(make(name, row)),
            Some(below) => children.entry(name).or_default().push(make(below, row)),
        }
    }
    let sort =
        |rows: &mut Vec<R>| rows.sort_by(|a, b| order(a, b).then_with(|| label(a).cmp(label(b))));
    for row in &mut top {
        if let Some(mut rows) = children.remove(label(row)) {
            sort(&mut rows);
            *sub(row) = rows;
        }
    }
    sort(&mut top);
    top
}

pub(crate) use crate::visit_key::{EVENT_NAME_NOT_DEFINED, EventPart};

/// A row of an event report.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct EventRow {
    pub label: String,
    pub nb_events: u64,
    pub nb_visits: u64,
    pub nb_uniq_visitors: u64,
    pub sum_event_value: f64,
    pub min_event_value: Option<f64>,
    pub max_event_value: Option<f64>,
    pub nb_events_with_value: u64,
    pub sub: Vec<EventRow>,
}

impl Selection<'_> {
    /// Visits grouped by `key` (a label and an optional sub-label); visits
    /// for which it gives `None` are left out. Sorted by visits, then label.
    pub(crate) fn group_visits(
        &self,
        mut key: impl FnMut(&CutVisit<'_>) -> Option<(String, Option<String>)>,
    ) -> Vec<Group> {
        let mut keys = Keys::default();
        let mut acc: Vec<Option<VisitsSummary>> = Vec::new();
        let mut visitors = DistinctStamp::new(0);
        let mut user_pairs = Vec::new();
        self.for_each_visit_by_visitor(|cut| {
            let Some((label, sub)) = key(cut) else {
                return;
            };
            let top = keys.id(NONE, &label);
            let child = sub.map(|s| keys.id(top, &s));
            acc.resize(keys.labels.len(), None);
            visitors.grow(keys.labels.len());
            for k in std::iter::once(top).chain(child) {
                let s = acc[k as usize].get_or_insert_with(VisitsSummary::default);
                crate::report::tally(s, &mut visitors, &mut user_pairs, k, cut);
            }
        });
        let uniques = visitors.counts;
        let users = distinct_per_key(user_pairs, keys.labels.len());
        for (k, s) in acc.iter_mut().enumerate() {
            if let Some(s) = s {
                s.nb_uniq_visitors = uniques[k];
                s.nb_users = users[k];
            }
        }
        keys.assemble(acc, |a, b| b.nb_visits.cmp(&a.nb_visits))
            .into_iter()
            .map(|n| Group {
                label: n.label,
                metrics: n.value,
                sub: n
                    .children
                    .into_iter()
                    .map(|(label, metrics)| Group {
                        label,
                        metrics,
                        sub: Vec::new(),
                    })
                    .collect(),
            })
            .collect()
    }

    /// Events grouped by one part, with subtables by another. A row's
    /// visits count each visit once per event combination (category,
    /// action, name) it had under the row, as Matomo's do
    /// ([`EventCounts::visits`]); its visitors are distinct.
    pub(crate) fn event_report(&self, by: EventPart, sub: EventPart) -> Vec<EventRow> {
        let labels = self.site.visit_keys();
        let mut keys = Keys::default();
        let mut acc: Vec<Option<EventCounts>> = Vec::new();
        let mut visitors = DistinctStamp::new(0);
        let mut touched: Vec<(u32, [u32; 3])> = Vec::new();
        self.for_each_visit_by_visitor(|cut| {
            let a = cut.archive;
            touched.clear();
            for i in cut.actions.iter() {
                if a.a_kind[i] != HitType::Event {
                    continue;
                }
                let top = keys.id(NONE, &labels.event_label(a, i, by));
                let child = keys.id(top, &labels.event_label(a, i, sub));
                acc.resize(keys.labels.len(), None);
                let value = a.extra(i).ev_value;
                for k in [top, child] {
                    acc[k as usize]
                        .get_or_insert_with(EventCounts::default)
                        .add_event(value);
                    touched.push((k, crate::visit_key::event_combination(a, i)));
                }
            }
            touched.sort_unstable();
            touched.dedup();
            visitors.grow(keys.labels.len());
            for &(k, _) in &touched {
                if let Some(e) = acc[k as usize].as_mut() {
                    e.visits += 1;
                }
                visitors.see(k, cut.visitor());
            }
        });
        let uniques = visitors.counts;
        let with_uniques: Vec<Option<(EventCounts, u64)>> = acc
            .into_iter()
            .enumerate()
            .map(|(k, e)| e.map(|e| (e, uniques.get(k).copied().unwrap_or(0))))
            .collect();
        let mut rows: Vec<EventRow> = keys
            .assemble(with_uniques, |a, b| b.0.visits.cmp(&a.0.visits))
            .into_iter()
            .map(|n| EventRow {
                sub: n
                    .children
                    .into_iter()
                    .map(|(l, v)| event_row(l, v))
                    .collect(),
                ..event_row(n.label, n.value)
            })
            .collect();
        sort_event_rows(&mut rows);
        rows
    }
}

/// Event rows in Matomo's order: by visits, then label regardless of
/// case (then byte order), each subtable too.
fn sort_event_rows(rows: &mut [EventRow]) {
    // Each label lowered once, not at every comparison.
    let key = |r: &EventRow| {
        (
            std::cmp::Reverse(r.nb_visits),
            r.label.to_lowercase(),
            r.label.clone(),
        )
    };
    rows.sort_by_cached_key(key);
    for r in rows.iter_mut() {
        r.sub.sort_by_cached_key(key);
    }
}

/// An event report's row from its sums and distinct visitors.
fn event_row(label: String, (e, uniques): (EventCounts, u64)) -> EventRow {
    EventRow {
        label,
        nb_events: e.events,
        nb_visits: e.visits,
        nb_uniq_visitors: uniques,
        sum_event_value: e.sum.value(),
        min_event_value: e.min,
        max_event_value: e.max,
        nb_events_with_value: e.with_value,
        sub: Vec::new(),
    }
}

/// An event report's rows from its rolled-up table, ordered as
/// [`Selection::event_report`] orders them.
pub(crate) fn event_rows_of_table(table: crate::rollup::reports::EventTable) -> Vec<EventRow> {
    let mut rows = two_levels(
        table,
        |row| row.counts.events > 0,
        |label, row| {
            let uniques = row.distinct[0];
            event_row(label, (row.counts, uniques))
        },
        (|e: &EventRow| &e.label, |e: &mut EventRow| &mut e.sub),
        |a, b| b.nb_visits.cmp(&a.nb_visits),
    );
    sort_event_rows(&mut rows);
    rows
}
