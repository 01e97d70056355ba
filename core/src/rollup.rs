//! Rollups: what the unfiltered VisitsSummary of one calendar month, or
//! one calendar year, of a site adds up to (the day totals, the visitor
//! and user bitmaps), kept beside the day files so that a reader answers
//! whole years and months from one small file each instead of decoding
//! their days.
//!
//! A rollup records the days it was built from. It is never updated in
//! place and never trusted on its own word: a reader uses it only while
//! the manifest's days of its period are exactly those days, none newer
//! than the rollup (late data, `forget`, `delete` or an import rewrite a
//! day and so give it a newer generation), and no live batch of the
//! write-ahead log touches the period. Otherwise the period is answered
//! from its months or days, as before; the writer builds a fresh rollup
//! with the next commit that writes the period's days (a year's from its
//! months' rollups).

use chrono::{Datelike, NaiveDate};
use roaring::RoaringBitmap;

use crate::archive::{DayArchive, DayTotals};
use crate::visit_key::VisitKeys;
use goals::GoalRollup;
use reports::{ReportsBuilder, StoredReports};

pub(crate) mod goals;
pub(crate) mod reports;

/// The rollups kept: a period, and whether it holds the period's reports
/// too (a separate, larger file, written once the period is complete).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub(crate) enum Span {
    /// A calendar month's summary.
    #[default]
    Month,
    /// A calendar year's summary, built from its months' rollups.
    Year,
    /// A complete month's summary and reports.
    MonthReports,
    /// A complete year's summary and reports, from its months'.
    YearReports,
    /// A complete month's goal sums (`goal_sums.rs`), for the goal
    /// definitions of its commit.
    MonthGoals,
    /// A complete year's goal sums, from its months'.
    YearGoals,
}

/// Every [`Span`].
pub(crate) const SPANS: [Span; 6] = [
    Span::Month,
    Span::Year,
    Span::MonthReports,
    Span::YearReports,
    Span::MonthGoals,
    Span::YearGoals,
];

impl Span {
    /// The calendar period: `Month` or `Year`.
    pub(crate) fn period(self) -> Span {
        match self {
            Span::Month | Span::MonthReports | Span::MonthGoals => Span::Month,
            Span::Year | Span::YearReports | Span::YearGoals => Span::Year,
        }
    }

    /// Whether its rollups hold reports.
    pub(crate) fn reports(self) -> bool {
        matches!(self, Span::MonthReports | Span::YearReports)
    }

    /// Whether its rollups hold goal sums (and nothing else).
    pub(crate) fn goals(self) -> bool {
        matches!(self, Span::MonthGoals | Span::YearGoals)
    }

    /// The same period's goal sums.
    pub(crate) fn with_goals(self) -> Span {
        match self.period() {
            Span::Month => Span::MonthGoals,
            _ => Span::YearGoals,
        }
    }

    /// The same period with (`true`) or without reports.
    pub(crate) fn with_reports(self, reports: bool) -> Span {
        match (self.period(), reports) {
            (Span::Month, false) => Span::Month,
            (Span::Month, true) => Span::MonthReports,
            (_, false) => Span::Year,
            (_, true) => Span::YearReports,
        }
    }

    /// The first day of `date`'s period.
    pub(crate) fn start_of(self, date: NaiveDate) -> NaiveDate {
        match self.period() {
            Span::Month => month_of(date),
            _ => date.with_ordinal(1).unwrap_or(date),
        }
    }

    /// The last day of the period that starts on `start`.
    pub(crate) fn end(self, start: NaiveDate) -> NaiveDate {
        match self.period() {
            Span::Month => month_end(start),
            _ => NaiveDate::from_ymd_opt(start.year(), 12, 31).unwrap_or(NaiveDate::MAX),
        }
    }

    /// The periods that lie wholly inside `first..=last`, as their first
    /// days (callers clamp the range to the days a site holds).
    pub(crate) fn whole(self, first: NaiveDate, last: NaiveDate) -> Vec<NaiveDate> {
        let mut out = Vec::new();
        let mut p = self.start_of(first);
        if p < first {
            match self.end(p).succ_opt() {
                Some(n) => p = n,
                None => return out,
            }
        }
        while p <= last && self.end(p) <= last {
            out.push(p);
            match self.end(p).succ_opt() {
                Some(n) => p = n,
                None => break,
            }
        }
        out
    }
}

/// One month or year of one site, summed.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Rollup {
    /// The period's first day.
    pub start: NaiveDate,
    /// Month or year.
    pub span: Span,
    /// The days it was built from, in order.
    pub dates: Vec<NaiveDate>,
    /// Sums over those days (the maximum for `max_actions`).
    pub totals: DayTotals,
    /// Every visitor id with a visit in the period.
    pub visitors: RoaringBitmap,
    /// Every user id of the period.
    pub users: RoaringBitmap,
    /// The period's reports (a [`Span::reports`] rollup built here).
    pub reports: Option<Box<reports::Reports>>,
    /// The period's reports as read from its file, each unpacked when
    /// needed (`store::format::decode_report`).
    pub stored: Option<std::sync::Arc<StoredReports>>,
    /// The period's goal sums (a [`Span::goals`] rollup: its totals and
    /// bitmaps stay empty).
    pub goals: Option<std::sync::Arc<GoalRollup>>,
}

impl Rollup {
    /// The rollup of a month's days (sealed archives, in date order),
    /// with the month's reports if `reports` gives the site's lookups.
    /// The reports are counted on every core: each thread counts a run of
    /// days, and the runs add up in date order as a year's months do
    /// ([`Rollup::add`]), the same reports one thread counts (the rollup
    /// tests compare them with the days').
    pub(crate) fn build<'a>(
        month: NaiveDate,
        days: impl IntoIterator<Item = (NaiveDate, &'a DayArchive)>,
        reports: Option<&VisitKeys<'_>>,
    ) -> Rollup {
        let days: Vec<(NaiveDate, &DayArchive)> = days.into_iter().collect();
        let Some(keys) = reports else {
            return Self::count(month, &days, None);
        };
        // Every run keeps the month's custom dimensions.
        let dims = ReportsBuilder::dims_of(keys.dicts, days.iter().map(|(_, a)| *a));
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let runs: Vec<&[(NaiveDate, &DayArchive)]> = if threads < 2 || days.len() < 4 {
            vec![&days]
        } else {
            days.chunks(days.len().div_ceil(threads)).collect()
        };
        let mut parts = crate::par::map_jobs(runs, threads, |run| {
            Self::count(month, run, Some((keys, &dims)))
        })
        .into_iter();
        let mut r = parts.next().unwrap_or_default();
        for part in parts {
            r.add(&part);
        }
        r
    }

    /// [`Rollup::build`] of one run of a month's days, on one thread.
    fn count(
        month: NaiveDate,
        days: &[(NaiveDate, &DayArchive)],
        reports: Option<(&VisitKeys<'_>, &[u32])>,
    ) -> Rollup {
        let mut r = Rollup {
            start: month,
            span: Span::Month.with_reports(reports.is_some()),
            ..Rollup::default()
        };
        for &(date, a) in days {
            debug_assert_eq!(month_of(date), month);
            r.dates.push(date);
            r.totals.add(&a.totals);
            r.visitors |= &a.visitors;
            r.users |= &a.users;
        }
        if let Some((keys, dims)) = reports {
            let mut b = ReportsBuilder::new(keys, None, dims);
            for (date, a) in days {
                b.add_day(*date, a);
            }
            r.reports = Some(Box::new(b.finish()));
        }
        r
    }

    /// The rollup of a year from its months' rollups (in month order),
    /// with reports when every month has them and `reports` asks for them.
    /// Each half of the year is summed on a thread of its own, then the
    /// second is added to the first: the same sums, in month order.
    pub(crate) fn year<'a>(
        start: NaiveDate,
        months: impl IntoIterator<Item = &'a Rollup>,
        reports: bool,
    ) -> Rollup {
        let fold = |months: &[&Rollup]| {
            let mut r = Rollup {
                start,
                span: Span::Year.with_reports(reports),
                reports: reports.then(Box::default),
                ..Rollup::default()
            };
            for m in months {
                r.add(m);
            }
            r
        };
        let months: Vec<&Rollup> = months.into_iter().collect();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let halves = if threads < 2 || months.len() < 4 {
            vec![&months[..]]
        } else {
            let (first, second) = months.split_at(months.len() / 2);
            vec![first, second]
        };
        let mut halves = crate::par::map_jobs(halves, threads, fold).into_iter();
        let mut r = halves.next().unwrap_or_else(|| fold(&[]));
        for later in halves {
            r.add(&later);
        }
        r
    }

    /// The goal rollup of a month's days (sealed archives, in date
    /// order, each with its `before` column), counted with the site's
    /// goals (`keys`: its lookups and configuration) by visitor type, with
    /// the goal cells of its visit reports.
    pub(crate) fn build_goals<'a>(
        month: NaiveDate,
        days: impl IntoIterator<Item = (NaiveDate, &'a DayArchive)>,
        keys: &VisitKeys<'_>,
        history: &crate::history::History,
    ) -> Rollup {
        let (goals, ecommerce) = (&keys.config.goals, keys.config.ecommerce);
        let key = crate::goal_sums::goals_key(goals, ecommerce);
        let sums =
            crate::goal_sums::GoalSums::new(goals, keys.dicts.visitors.len(), true, ecommerce);
        let days: Vec<(NaiveDate, &DayArchive)> = days.into_iter().collect();
        let dims = ReportsBuilder::dims_of(keys.dicts, days.iter().map(|(_, a)| *a));
        let mut b = goals::GoalRollupBuilder::new(sums, keys, history, &dims);
        for &(date, a) in &days {
            debug_assert_eq!(month_of(date), month);
            b.add_day(date, a);
        }
        Rollup {
            start: month,
            span: Span::MonthGoals,
            dates: days.iter().map(|(d, _)| *d).collect(),
            goals: Some(std::sync::Arc::new(b.finish(key))),
            ..Rollup::default()
        }
    }

    /// The goal rollup of a year from its months' (in month order, all
    /// of one goal definitions `key`); `None` if one of them has no goal
    /// sums or other definitions.
    pub(crate) fn year_goals<'a>(
        start: NaiveDate,
        months: impl IntoIterator<Item = &'a Rollup>,
        key: u64,
    ) -> Option<Rollup> {
        let mut goals = GoalRollup {
            key,
            ..GoalRollup::default()
        };
        let mut dates = Vec::new();
        for m in months {
            let g = m.goals.as_ref().filter(|g| g.key == key)?;
            goals.add(g);
            dates.extend_from_slice(&m.dates);
        }
        Some(Rollup {
            start,
            span: Span::YearGoals,
            dates,
            goals: Some(std::sync::Arc::new(goals)),
            ..Rollup::default()
        })
    }

    /// Adds a disjoint period's rollup: its days, totals, bitmaps and
    /// (if both have them) reports; reports are dropped if it has none.
    pub(crate) fn add(&mut self, m: &Rollup) {
        match (&mut self.reports, &m.reports) {
            (Some(mine), Some(theirs)) => mine.merge(
                (&self.totals, &self.visitors, &self.users),
                theirs,
                (&m.totals, &m.visitors, &m.users),
            ),
            (Some(_), None) => self.reports = None,
            _ => {}
        }
        self.dates.extend_from_slice(&m.dates);
        self.totals.add(&m.totals);
        self.visitors |= &m.visitors;
        self.users |= &m.users;
    }

    /// Whether adding `new` (a disjoint period's rollup, [`Rollup::add`])
    /// keeps each page row's URL its first day's: `new` comes after every
    /// day of this one, or none of its page rows that this one has names
    /// another URL. When not, the caller builds the period from its days.
    pub(crate) fn adds_in_order(&self, new: &Rollup) -> bool {
        // Its dates may be unsorted while a writer adds days.
        let after = match (self.dates.iter().max(), new.dates.iter().min()) {
            (Some(last), Some(first)) => first > last,
            _ => true,
        };
        after
            || match (&self.reports, &new.reports) {
                (Some(mine), Some(theirs)) => mine.page_urls_agree(theirs),
                _ => true,
            }
    }

    /// Replaces one of its days, `old` (that day's own rollup as stored),
    /// by `new` (the same day's after it gained hits): sums lose `old`'s
    /// and take `new`'s, bitmaps take `new`'s. Exact when `old`'s visitors
    /// and users are in `new`'s, every row of `old` is in `new` with its
    /// visitors and users (and, in visit
    /// reports, a maximum at least as large): what `old` added to a
    /// bitmap is then still added by `new`. `None` (nothing to trust:
    /// the caller builds the period from its days) when that does not
    /// hold, `old` is not in it, or a custom dimension appears that the
    /// period did not have.
    pub(crate) fn regrow(&mut self, old: &Rollup, new: &Rollup) -> Option<()> {
        // A visit's user can change when an earlier hit joins it: what
        // `old` added to the period's bitmaps must still be added.
        if !old.visitors.is_subset(&new.visitors) || !old.users.is_subset(&new.users) {
            return None;
        }
        let totals = self.totals.without(&old.totals)?;
        if let Some(reports) = &mut self.reports {
            let summary = |r: &Rollup| (r.totals, r.visitors.clone(), r.users.clone());
            reports.regrow(
                old.reports.as_deref()?,
                summary(old),
                new.reports.as_deref()?,
                summary(new),
            )?;
        }
        self.totals = totals;
        self.totals.add(&new.totals);
        self.visitors |= &new.visitors;
        self.users |= &new.users;
        Some(())
    }

    /// Heap bytes, about (a reader's cache counts them).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.dates.len() * 4
            + self.reports.as_ref().map_or(0, |r| r.heap_bytes())
            + self.stored.as_ref().map_or(0, |r| r.heap_bytes())
            + self.goals.as_ref().map_or(0, |g| g.heap_bytes())
            + self.visitors.serialized_size()
            + self.users.serialized_size()
            + std::mem::size_of::<Rollup>()
    }
}

impl DayTotals {
    /// These totals with a day's sums taken out (the maximum stays: the
    /// caller adds a day whose maximum is at least the old one's); `None`
    /// if they do not hold that day.
    pub(crate) fn without(mut self, t: &DayTotals) -> Option<DayTotals> {
        self.visits = self.visits.checked_sub(t.visits)?;
        self.actions = self.actions.checked_sub(t.actions)?;
        self.bounces = self.bounces.checked_sub(t.bounces)?;
        self.sum_length = self.sum_length.checked_sub(t.sum_length)?;
        Some(self)
    }

    /// Adds another day's (or piece's) totals.
    pub(crate) fn add(&mut self, t: &DayTotals) {
        self.visits += t.visits;
        self.actions += t.actions;
        self.max_actions = self.max_actions.max(t.max_actions);
        self.bounces += t.bounces;
        self.sum_length += t.sum_length;
    }
}

pub(crate) use crate::history::month_of;

/// The last day of the month that starts on `month`.
pub(crate) fn month_end(month: NaiveDate) -> NaiveDate {
    next_month(month)
        .and_then(|d| d.pred_opt())
        .unwrap_or(NaiveDate::MAX)
}

fn next_month(month: NaiveDate) -> Option<NaiveDate> {
    let (y, m) = if month.month() == 12 {
        (month.year() + 1, 1)
    } else {
        (month.year(), month.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn whole_months_are_the_months_a_range_covers_entirely() {
        assert_eq!(
            Span::Month.whole(d("2025-01-15"), d("2025-04-30")),
            vec![d("2025-02-01"), d("2025-03-01"), d("2025-04-01")]
        );
        assert_eq!(
            Span::Month.whole(d("2024-12-01"), d("2025-01-30")),
            vec![d("2024-12-01")]
        );
        assert!(
            Span::Month
                .whole(d("2025-02-02"), d("2025-02-28"))
                .is_empty()
        );
        assert_eq!(
            Span::Month.whole(d("2024-02-01"), d("2024-02-29")),
            vec![d("2024-02-01")]
        );
        assert_eq!(
            Span::Month.whole(d("9999-11-30"), d("9999-12-31")),
            vec![d("9999-12-01")]
        );
        assert_eq!(month_end(d("2025-12-01")), d("2025-12-31"));
        assert_eq!(
            Span::Year.whole(d("2024-01-01"), d("2026-12-30")),
            vec![d("2024-01-01"), d("2025-01-01")]
        );
        assert_eq!(Span::Year.end(d("2024-01-01")), d("2024-12-31"));
        assert_eq!(Span::Year.start_of(d("2024-07-09")), d("2024-01-01"));
        assert!(
            Span::Year
                .whole(d("2024-01-02"), d("2025-12-30"))
                .is_empty()
        );
        assert_eq!(month_of(d("2025-12-17")), d("2025-12-01"));
    }
}
