//! The visitor history: per visitor, the days with visits and how many
//! came before each, which new/returning and `visitCount` need from
//! earlier days (a day's `before` column), kept per site and stored as
//! its `V` file.

use chrono::NaiveDate;

use crate::archive::DayArchive;

/// One visitor's visits on one day, and how many came before that day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct VisitorDay {
    pub day: NaiveDate,
    pub visits: u32,
    pub before: u32,
}

/// Calls `f(value, run length)` for each run of equal values.
pub(crate) fn runs(sorted: &[u32], mut f: impl FnMut(u32, u32)) {
    let mut i = 0;
    while i < sorted.len() {
        let j = i + sorted[i..].partition_point(|&v| v == sorted[i]);
        f(sorted[i], (j - i) as u32);
        i = j;
    }
}

/// The visitor table from each day's sorted visitor column, days in order.
pub(crate) fn visitor_table<'a>(
    visitors: usize,
    days: impl Iterator<Item = (NaiveDate, &'a [u32])>,
) -> Vec<Vec<VisitorDay>> {
    let mut table: Vec<Vec<VisitorDay>> = vec![Vec::new(); visitors];
    for (day, column) in days {
        runs(column, |v, visits| {
            if let Some(entries) = table.get_mut(v as usize) {
                entries.push(VisitorDay {
                    day,
                    visits,
                    before: 0,
                });
            }
        });
    }
    for entries in &mut table {
        let mut before = 0u32;
        for e in entries.iter_mut() {
            e.before = before;
            before = before.saturating_add(e.visits);
        }
    }
    table
}

/// Fills an archive's `before` column (each visit's visitor's visits on
/// earlier days) from the visitor table.
pub(crate) fn fill_before(table: &[Vec<VisitorDay>], date: NaiveDate, a: &mut DayArchive) {
    a.before = before_column(table, date, &a.visitor);
}

/// The `before` column of a day whose sorted visitor column is `visitor`.
pub(crate) fn before_column(
    table: &[Vec<VisitorDay>],
    date: NaiveDate,
    visitor: &[u32],
) -> Vec<u32> {
    let mut before = vec![0; visitor.len()];
    let mut i = 0;
    runs(visitor, |v, n| {
        let b = table.get(v as usize).map_or(0, |entries| {
            entries
                .binary_search_by(|e| e.day.cmp(&date))
                .map_or(0, |p| entries[p].before)
        });
        before[i..i + n as usize].fill(b);
        i += n as usize;
    });
    before
}
