//! The visitor history: per visitor, the days with visits and how many
//! came before each, which new/returning, `visitCount` and days since the
//! last visit need from earlier days (a day's `before` column).
//!
//! It is kept in pages, one per month with visits ([`Page`]): a visitor's
//! days of that month, each with the visits on every earlier day, and the
//! last earlier day with visits. A question about a day reads its month's
//! page only, and a writer appending to this month holds this month's page
//! and the [`Totals`] (each visitor's visits so far and last day), not
//! years of history. A store keeps each page in a file of its own
//! (`history/<YYYY-MM>-<gen>.vis`) and the totals in another; the store
//! layer reads them through [`PageLoader`], on first use.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, OnceLock};

use chrono::{Datelike, NaiveDate};

use crate::archive::DayArchive;

/// One visitor's visits on one day, and how many came before that day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct VisitorDay {
    pub day: NaiveDate,
    pub visits: u32,
    pub before: u32,
}

/// One visitor in one month's page: the last day with visits before the
/// month, and the month's days (at least one) with their visits and the
/// visits before each (the first one's `before` is the visits before the
/// month).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    pub prev: Option<NaiveDate>,
    pub days: Vec<VisitorDay>,
}

/// One month of the visitor history: visitor id → its row.
pub(crate) type Page = BTreeMap<u32, Row>;

/// The latest day before `day` on which the visitor of `row` (a row of
/// `day`'s month) had visits.
fn previous_in(row: &Row, day: NaiveDate) -> Option<NaiveDate> {
    match row.days.partition_point(|d| d.day < day) {
        0 => row.prev,
        i => Some(row.days[i - 1].day),
    }
}

/// Per visitor id: visits on all days, the last day with any, and when
/// the first visit started (Matomo's seconds since the first visit count
/// from it: `Goals.getDaysToConversion`). `first` is empty in totals
/// written before it was kept (`hitmap check --upgrade` fills it).
///
/// They also keep the site's order index: each order id's first use (its
/// time and visitor), so that an order id counts once in the site, as
/// Matomo's unique key on `log_conversion` (idsite, idorder) has it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    pub visits: Vec<u32>,
    pub last: Vec<Option<NaiveDate>>,
    pub first: Vec<Option<i64>>,
    /// Order id → (time, visitor) of the order that counts: the earliest,
    /// equal times by visitor id string.
    pub orders: BTreeMap<String, (i64, u32)>,
    /// Whether `orders` is missing (totals written before it was kept:
    /// orders then count once per visitor and day until `hitmap check
    /// --upgrade`).
    pub orders_unknown: bool,
}

impl Totals {
    fn of(&self, v: u32) -> (u32, Option<NaiveDate>) {
        (
            self.visits.get(v as usize).copied().unwrap_or(0),
            self.last.get(v as usize).copied().flatten(),
        )
    }

    fn set(&mut self, v: u32, visits: u32, last: Option<NaiveDate>) {
        let i = v as usize;
        if self.visits.len() <= i {
            self.visits.resize(i + 1, 0);
            self.last.resize(i + 1, None);
        }
        self.visits[i] = visits;
        self.last[i] = last;
    }

    /// Whether every visitor with visits has its first visit's start
    /// (totals written before it was kept have none).
    pub(crate) fn has_firsts(&self) -> bool {
        self.visits
            .iter()
            .enumerate()
            .all(|(i, &n)| n == 0 || self.first.get(i).copied().flatten().is_some())
    }

    /// When visitor `v`'s first visit started, if known.
    pub(crate) fn first_start(&self, v: u32) -> Option<i64> {
        self.first.get(v as usize).copied().flatten()
    }

    /// Notes an order: it becomes its id's first use if it is earlier
    /// than the one noted (`visitor_cmp` orders visitors by their ids'
    /// strings, for equal times).
    pub(crate) fn note_order(
        &mut self,
        id: &str,
        ts: i64,
        visitor: u32,
        visitor_cmp: &dyn Fn(u32, u32) -> std::cmp::Ordering,
    ) -> Option<i64> {
        match self.orders.get_mut(id) {
            Some(held) => {
                if ts
                    .cmp(&held.0)
                    .then_with(|| visitor_cmp(visitor, held.1))
                    .is_lt()
                {
                    let displaced = held.0;
                    *held = (ts, visitor);
                    return Some(displaced);
                }
                None
            }
            None => {
                self.orders.insert(id.to_string(), (ts, visitor));
                None
            }
        }
    }

    /// Notes what a day archive tells of the site's whole history: when
    /// each of its visitors' first visit that day started
    /// ([`Totals::note_start`]), and each order attached to a visit that
    /// counts within its visitor's day ([`Totals::note_order`]; an order
    /// no visit shows does not take its id from a later one). Gives the
    /// times of the orders that lost their id to an earlier one here.
    pub(crate) fn note_day(
        &mut self,
        a: &DayArchive,
        visitor_cmp: &dyn Fn(u32, u32) -> std::cmp::Ordering,
    ) -> Vec<i64> {
        let mut displaced = Vec::new();
        // Visits are sorted by visitor, then start: a run's first visit.
        let mut first = 0u32;
        runs(&a.visitor, |v, n| {
            self.note_start(v, a.visit_start(first));
            first += n;
        });
        for r in &a.conversions {
            if r.kind == crate::hit::HitType::Order
                && r.counted
                && r.visit != crate::dict::NONE
                && let Some(id) = &r.data.order_id
                && let Some(ts) = self.note_order(id, r.ts, r.visitor, visitor_cmp)
            {
                displaced.push(ts);
            }
        }
        displaced
    }

    /// Whether order `r` counts: its visitor's first use of the id that
    /// day, and the site's first use of it (when the index is known).
    pub(crate) fn order_counts(&self, r: &crate::recorded::Recorded) -> bool {
        r.counted
            && (self.orders_unknown
                || r.data
                    .order_id
                    .as_ref()
                    .is_none_or(|id| self.orders.get(id) == Some(&(r.ts, r.visitor))))
    }

    /// Notes a visit of `v` that started at `ts`: the first start is the
    /// earliest one noted.
    fn note_start(&mut self, v: u32, ts: i64) {
        let i = v as usize;
        if self.first.len() <= i {
            self.first.resize(i + 1, None);
        }
        let f = &mut self.first[i];
        *f = Some(f.map_or(ts, |x| x.min(ts)));
    }
}

/// Every page and the totals: a history read whole.
pub(crate) type Whole = (BTreeMap<NaiveDate, Page>, Totals);

/// A file that could not be read: (its path, why).
pub(crate) type Damage = (String, String);

/// Reads a site's stored history files (the store layer implements it).
pub(crate) trait PageLoader: Send + Sync + std::fmt::Debug {
    /// The page of `month` written as generation `generation`.
    fn page(&self, month: NaiveDate, generation: u64) -> Result<Page, Damage>;
    /// The totals written as generation `generation`.
    fn totals(&self, generation: u64) -> Result<Totals, Damage>;
    /// A store from before pages: its one table, as pages and totals.
    fn legacy(&self, generation: u64) -> Result<Whole, Damage>;
}

/// A page: in memory (built here, or taken over by a writer), or stored
/// and read on first use.
#[derive(Debug)]
enum Slot {
    Held(Page),
    Stored {
        generation: u64,
        page: OnceLock<Result<Page, Damage>>,
    },
}

/// The totals, as a [`Slot`] holds a page.
#[derive(Debug)]
enum TotalsSlot {
    Held(Totals),
    Stored {
        generation: u64,
        totals: OnceLock<Result<Totals, Damage>>,
    },
}

/// A site's visitor history: its pages and totals, held or stored.
#[derive(Debug)]
pub(crate) struct History {
    pages: BTreeMap<NaiveDate, Slot>,
    totals: TotalsSlot,
    /// A store from before pages: its one table, read on first use.
    legacy: Option<(u64, OnceLock<Result<Whole, Damage>>)>,
    loader: Option<Arc<dyn PageLoader>>,
    /// Months whose pages changed (or went) since the last commit.
    dirty: BTreeSet<NaiveDate>,
    /// Whether the totals changed without a page (first starts filled in
    /// by an upgrade).
    totals_dirty: bool,
    /// Since the last commit: the times of orders whose id an earlier
    /// order took (their periods' goal rollups count them no more), and
    /// whether the whole order index was set (an upgrade).
    orders_moved: (bool, Vec<i64>),
}

impl Default for History {
    fn default() -> History {
        History {
            pages: BTreeMap::new(),
            totals: TotalsSlot::Held(Totals::default()),
            legacy: None,
            loader: None,
            dirty: BTreeSet::new(),
            totals_dirty: false,
            orders_moved: (false, Vec::new()),
        }
    }
}

/// The first day of a date's month.
pub(crate) fn month_of(date: NaiveDate) -> NaiveDate {
    date.with_day(1).unwrap_or(date)
}

fn damage_err(d: &Damage) -> crate::error::Error {
    crate::error::Error::Store {
        path: d.0.clone(),
        reason: d.1.clone(),
    }
}

/// What a stored slot's cell holds (read before by a reader), else what
/// `read` gives now; a failure stays in the cell, so the next asker gets
/// the same error without reading again.
fn read_once<T>(
    cell: &mut OnceLock<Result<T, Damage>>,
    read: impl FnOnce() -> Result<T, Damage>,
) -> crate::error::Result<T> {
    cell.take().unwrap_or_else(read).map_err(|d| {
        let e = damage_err(&d);
        *cell = OnceLock::from(Err(d));
        e
    })
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

impl History {
    /// A stored history: pages month → generation, totals generation.
    pub(crate) fn stored(
        loader: Arc<dyn PageLoader>,
        pages: &BTreeMap<NaiveDate, u64>,
        totals: Option<u64>,
    ) -> History {
        History {
            pages: pages
                .iter()
                .map(|(&m, &generation)| {
                    (
                        m,
                        Slot::Stored {
                            generation,
                            page: OnceLock::new(),
                        },
                    )
                })
                .collect(),
            totals: match totals {
                Some(generation) => TotalsSlot::Stored {
                    generation,
                    totals: OnceLock::new(),
                },
                None => TotalsSlot::Held(Totals::default()),
            },
            legacy: None,
            loader: Some(loader),
            dirty: BTreeSet::new(),
            totals_dirty: false,
            orders_moved: (false, Vec::new()),
        }
    }

    /// A store from before pages: the one table of generation
    /// `generation`, read on first use (and written as pages by the first
    /// commit that changes it).
    pub(crate) fn legacy(loader: Arc<dyn PageLoader>, generation: u64) -> History {
        History {
            legacy: Some((generation, OnceLock::new())),
            loader: Some(loader),
            ..History::default()
        }
    }

    /// The history of days given by their sorted visitor columns, in day
    /// order, with what `noted` holds of them ([`Totals::note_day`])
    /// (every page changed: a commit writes them all).
    pub(crate) fn from_days<'a>(
        days: impl Iterator<Item = (NaiveDate, &'a [u32])>,
        noted: Totals,
    ) -> History {
        let (pages, totals) = pages_of_days(days, noted);
        let mut h = History::default();
        h.replace(pages, totals);
        h
    }

    /// Replaces every page and the totals (each month, old or new, is
    /// written by the next commit).
    pub(crate) fn replace(&mut self, pages: BTreeMap<NaiveDate, Page>, totals: Totals) {
        let old = self.months();
        self.dirty.extend(old);
        self.dirty.extend(pages.keys().copied());
        self.pages = pages.into_iter().map(|(m, p)| (m, Slot::Held(p))).collect();
        self.totals = TotalsSlot::Held(totals);
        self.legacy = None;
    }

    /// Every month with a page.
    pub(crate) fn months(&self) -> Vec<NaiveDate> {
        if let Some(Ok((pages, _))) = self.legacy.as_ref().and_then(|(_, l)| l.get()) {
            return pages.keys().copied().collect();
        }
        self.pages.keys().copied().collect()
    }

    fn loader(&self) -> Result<&Arc<dyn PageLoader>, Damage> {
        self.loader
            .as_ref()
            .ok_or_else(|| ("history".into(), "no store to read it from".into()))
    }

    fn legacy_table(&self) -> Option<Result<&Whole, Damage>> {
        let (generation, cell) = self.legacy.as_ref()?;
        Some(
            cell.get_or_init(|| self.loader()?.legacy(*generation))
                .as_ref()
                .map_err(Clone::clone),
        )
    }

    /// The page of a month (`None`: no visits that month), read on first
    /// use.
    pub(crate) fn page(&self, month: NaiveDate) -> crate::error::Result<Option<&Page>> {
        if let Some(l) = self.legacy_table() {
            return l
                .map(|(pages, _)| pages.get(&month))
                .map_err(|d| damage_err(&d));
        }
        match self.pages.get(&month) {
            None => Ok(None),
            Some(Slot::Held(p)) => Ok(Some(p)),
            Some(Slot::Stored { generation, page }) => page
                .get_or_init(|| self.loader()?.page(month, *generation))
                .as_ref()
                .map(Some)
                .map_err(damage_err),
        }
    }

    /// Each visitor's visits on earlier days, for a day whose sorted
    /// visitor column is `visitor`.
    pub(crate) fn before_column(
        &self,
        date: NaiveDate,
        visitor: &[u32],
    ) -> crate::error::Result<Vec<u32>> {
        let page = self.page(month_of(date))?;
        let mut before = vec![0; visitor.len()];
        let mut i = 0;
        runs(visitor, |v, n| {
            let b = page.and_then(|p| p.get(&v)).map_or(0, |row| {
                row.days
                    .binary_search_by(|e| e.day.cmp(&date))
                    .map_or(0, |k| row.days[k].before)
            });
            before[i..i + n as usize].fill(b);
            i += n as usize;
        });
        Ok(before)
    }

    /// Fills an archive's `before` column from its month's page.
    pub(crate) fn fill_before(
        &self,
        date: NaiveDate,
        a: &mut DayArchive,
    ) -> crate::error::Result<()> {
        a.before = self.before_column(date, &a.visitor)?;
        Ok(())
    }

    /// The latest day before `day` with visits of visitor `v`.
    /// The newest generation among the stored pages of the months of
    /// `first..=last` (`u64::MAX` when one of them is held: written by
    /// no commit yet; a version 3 table's generation for all of them);
    /// `None` when those months have no page. What those months' visit
    /// counts and days since the last visit depend on: a month's page
    /// holds each of its visitors' visits and last day before it, so a
    /// late visit that changes them rewrites the page.
    pub(crate) fn newest_within(&self, first: NaiveDate, last: NaiveDate) -> Option<u64> {
        if let Some((generation, _)) = &self.legacy {
            return Some(*generation);
        }
        self.pages
            .range(first..=last)
            .map(|(_, slot)| match slot {
                Slot::Held(_) => u64::MAX,
                Slot::Stored { generation, .. } => *generation,
            })
            .max()
    }

    pub(crate) fn previous_day(&self, v: u32, day: NaiveDate) -> Option<NaiveDate> {
        previous_in(self.page(month_of(day)).ok()??.get(&v)?, day)
    }

    /// [`History::previous_day`] of each of `visitors` on `day`: for
    /// visitors in ascending order (a day's visits are), one walk through
    /// the month's page instead of a search of it for each.
    pub(crate) fn previous_days(&self, visitors: &[u32], day: NaiveDate) -> Vec<Option<NaiveDate>> {
        if !visitors.is_sorted() {
            return visitors
                .iter()
                .map(|&v| self.previous_day(v, day))
                .collect();
        }
        let Some(page) = self.page(month_of(day)).ok().flatten() else {
            return vec![None; visitors.len()];
        };
        let mut rows = page
            .range(visitors.first().copied().unwrap_or(0)..)
            .peekable();
        visitors
            .iter()
            .map(|&v| {
                while rows.next_if(|(k, _)| **k < v).is_some() {}
                match rows.peek() {
                    Some((k, row)) if **k == v => previous_in(row, day),
                    _ => None,
                }
            })
            .collect()
    }

    /// Reads (if needed) and holds every page from `month` on and the
    /// totals, before a batch changes them. A store from before pages is
    /// read whole and every page marked for writing.
    pub(crate) fn hold_from(&mut self, month: NaiveDate) -> crate::error::Result<()> {
        let no_store = || -> Damage { ("history".into(), "no store to read it from".into()) };
        if let Some((generation, mut cell)) = self.legacy.take() {
            let loader = self.loader.clone();
            match read_once(&mut cell, || {
                loader.ok_or_else(no_store)?.legacy(generation)
            }) {
                Ok((pages, totals)) => self.replace(pages, totals),
                Err(e) => {
                    self.legacy = Some((generation, cell));
                    return Err(e);
                }
            }
        }
        let loader = self.loader.as_ref();
        for (&m, slot) in self.pages.range_mut(month..) {
            if let Slot::Stored { generation, page } = slot {
                let g = *generation;
                let p = read_once(page, || loader.ok_or_else(no_store)?.page(m, g))?;
                *slot = Slot::Held(p);
            }
        }
        if let TotalsSlot::Stored { generation, totals } = &mut self.totals {
            let g = *generation;
            let t = read_once(totals, || loader.ok_or_else(no_store)?.totals(g))?;
            self.totals = TotalsSlot::Held(t);
        }
        Ok(())
    }

    /// The totals (read on first use).
    pub(crate) fn totals(&self) -> crate::error::Result<&Totals> {
        if let Some(l) = self.legacy_table() {
            return l.map(|(_, t)| t).map_err(|d| damage_err(&d));
        }
        match &self.totals {
            TotalsSlot::Held(t) => Ok(t),
            TotalsSlot::Stored { generation, totals } => totals
                .get_or_init(|| self.loader()?.totals(*generation))
                .as_ref()
                .map_err(damage_err),
        }
    }

    /// The orders of a visit's conversions that count: an order id's
    /// first use in the site ([`Totals::order_counts`]). The totals are
    /// read on the first order met; if they cannot be, an order counts
    /// once per visitor and day (the damage is reported by `verify`).
    pub(crate) fn orders<'a>(
        &'a self,
        visit: &'a [crate::recorded::Recorded],
    ) -> impl Iterator<Item = &'a crate::recorded::Recorded> + 'a {
        crate::recorded::orders(visit)
            .filter(move |r| self.totals().map_or(true, |t| t.order_counts(r)))
    }

    /// Notes a new day archive of a batch ([`Totals::note_day`]): the
    /// totals are held ([`History::hold_from`]), and are written by the
    /// next commit (a day's visitors change pages; its orders alone may
    /// not).
    pub(crate) fn note_day(
        &mut self,
        a: &DayArchive,
        visitor_cmp: &dyn Fn(u32, u32) -> std::cmp::Ordering,
    ) {
        let displaced = self.held_totals().note_day(a, visitor_cmp);
        self.orders_moved.1.extend(displaced);
        self.totals_dirty |= !a.conversions.is_empty();
    }

    /// Whether the order index was set whole since the last commit, and
    /// the times of the orders that lost their id to an earlier one.
    pub(crate) fn orders_moved(&self) -> (bool, &[i64]) {
        (self.orders_moved.0, &self.orders_moved.1)
    }

    /// After a commit that counted the goal rollups again.
    pub(crate) fn clear_orders_moved(&mut self) {
        self.orders_moved = (false, Vec::new());
    }

    /// Sets every visitor's first start and the order index (an upgrade
    /// of totals written before they were kept, from the days); the next
    /// commit writes the totals.
    pub(crate) fn set_firsts(
        &mut self,
        first: Vec<Option<i64>>,
        orders: BTreeMap<String, (i64, u32)>,
    ) {
        let t = self.held_totals();
        t.first = first;
        t.orders = orders;
        t.orders_unknown = false;
        self.totals_dirty = true;
        self.orders_moved.0 = true;
    }

    fn held_totals(&mut self) -> &mut Totals {
        if !matches!(self.totals, TotalsSlot::Held(_)) {
            self.totals = TotalsSlot::Held(Totals::default());
        }
        match &mut self.totals {
            TotalsSlot::Held(t) => t,
            TotalsSlot::Stored { .. } => unreachable!("made held above"),
        }
    }

    /// Applies `(visitor, day, order, visits)` updates (for one key the
    /// later order wins; 0 visits removes the day) to the held pages, and
    /// returns each `(visitor, day, before)` from each visitor's earliest
    /// updated day on, for the days held in memory. Pages from the
    /// earliest updated month on must be held ([`History::hold_from`]);
    /// a stored one is left as it is.
    pub(crate) fn apply(
        &mut self,
        mut updates: Vec<(u32, NaiveDate, u8, u32)>,
    ) -> Vec<(u32, NaiveDate, u32)> {
        updates.sort_unstable();
        let mut changed = Vec::new();
        let mut i = 0;
        while i < updates.len() {
            let visitor = updates[i].0;
            let j = i + updates[i..].partition_point(|u| u.0 == visitor);
            self.apply_visitor(visitor, &updates[i..j], &mut changed);
            i = j;
        }
        changed
    }

    fn apply_visitor(
        &mut self,
        v: u32,
        updates: &[(u32, NaiveDate, u8, u32)],
        changed: &mut Vec<(u32, NaiveDate, u32)>,
    ) {
        let first = month_of(updates[0].1);
        // The visitor's days from the first updated month on, and what
        // came before them.
        let mut days: Vec<VisitorDay> = Vec::new();
        let mut base = None;
        for (&m, slot) in self.pages.range_mut(first..) {
            if let Slot::Held(page) = slot
                && let Some(row) = page.remove(&v)
            {
                self.dirty.insert(m);
                if base.is_none() {
                    base = Some((row.days.first().map_or(0, |d| d.before), row.prev));
                }
                days.extend(row.days);
            }
        }
        let (start, prev) = base.unwrap_or_else(|| match &self.totals {
            TotalsSlot::Held(t) => t.of(v),
            TotalsSlot::Stored { .. } => (0, None),
        });
        // Merged with the updates (both by day; the last update of a day
        // wins).
        let mut merged = Vec::with_capacity(days.len() + updates.len());
        let mut old = days.into_iter().peekable();
        let mut k = 0;
        while k < updates.len() {
            let (_, day, _, visits) = updates[k];
            if k + 1 < updates.len() && updates[k + 1].1 == day {
                k += 1;
                continue;
            }
            while let Some(e) = old.next_if(|e| e.day < day) {
                merged.push(e);
            }
            old.next_if(|e| e.day == day);
            if visits > 0 {
                merged.push(VisitorDay {
                    day,
                    visits,
                    before: 0,
                });
            }
            k += 1;
        }
        merged.extend(old);
        // Counted again from `start`, and cut into months.
        let (mut before, mut last) = (start, prev);
        for e in &mut merged {
            e.before = before;
            before = before.saturating_add(e.visits);
            changed.push((v, e.day, e.before));
        }
        let mut rest = merged.as_slice();
        while let Some(head) = rest.first() {
            let month = month_of(head.day);
            let n = rest.partition_point(|e| month_of(e.day) == month);
            let slot = self
                .pages
                .entry(month)
                .or_insert_with(|| Slot::Held(Page::new()));
            if let Slot::Held(page) = slot {
                page.insert(
                    v,
                    Row {
                        prev: last,
                        days: rest[..n].to_vec(),
                    },
                );
                self.dirty.insert(month);
            }
            last = Some(rest[n - 1].day);
            rest = &rest[n..];
        }
        // Months left without visitors go.
        let empty: Vec<NaiveDate> = self
            .pages
            .range(first..)
            .filter(|(_, s)| matches!(s, Slot::Held(p) if p.is_empty()))
            .map(|(m, _)| *m)
            .collect();
        for m in empty {
            self.pages.remove(&m);
        }
        self.held_totals().set(v, before, last);
    }

    /// The months changed since the last commit, each with its page (or
    /// `None`: it went), and whether the totals are to be written.
    pub(crate) fn changes(&self) -> (Vec<(NaiveDate, Option<&Page>)>, Option<&Totals>) {
        let pages = self
            .dirty
            .iter()
            .map(|m| match self.pages.get(m) {
                Some(Slot::Held(p)) => (*m, Some(p)),
                _ => (*m, None),
            })
            .collect::<Vec<_>>();
        let totals = match (&self.totals, self.dirty.is_empty() && !self.totals_dirty) {
            (TotalsSlot::Held(t), false) => Some(t),
            _ => None,
        };
        (pages, totals)
    }

    /// After a commit: the written pages are stored under their new
    /// generations; the latest month stays held (the next batch most
    /// likely goes there), older ones leave memory, and so do the pages
    /// questions read since the last commit.
    pub(crate) fn committed(
        &mut self,
        pages: &BTreeMap<NaiveDate, u64>,
        totals: Option<u64>,
        loader: Option<Arc<dyn PageLoader>>,
    ) {
        let Some(loader) = loader else {
            // An in-memory engine holds everything.
            self.dirty.clear();
            self.totals_dirty = false;
            return;
        };
        self.loader = Some(loader);
        self.totals_dirty = false;
        let latest = self.pages.keys().next_back().copied();
        for m in std::mem::take(&mut self.dirty) {
            let Some(&generation) = pages.get(&m) else {
                self.pages.remove(&m);
                continue;
            };
            let held = match self.pages.remove(&m) {
                Some(Slot::Held(p)) if Some(m) == latest => OnceLock::from(Ok(p)),
                _ => OnceLock::new(),
            };
            self.pages.insert(
                m,
                Slot::Stored {
                    generation,
                    page: held,
                },
            );
        }
        // Pages questions read go too: a long-running writer that answers
        // a month now and then does not keep every month it ever read.
        for (m, slot) in self.pages.iter_mut() {
            if let Slot::Stored { page, .. } = slot
                && Some(*m) != latest
                && page.get().is_some_and(Result::is_ok)
            {
                *page = OnceLock::new();
            }
        }
        if let (Some(generation), TotalsSlot::Held(t)) = (totals, &mut self.totals) {
            let t = std::mem::take(t);
            self.totals = TotalsSlot::Stored {
                generation,
                totals: OnceLock::from(Ok(t)),
            };
        }
    }

    /// Every page read, in month order, and the totals (a check compares
    /// them with the history derived from the days).
    pub(crate) fn read_all(
        &self,
    ) -> crate::error::Result<(BTreeMap<NaiveDate, &Page>, Option<&Totals>)> {
        if let Some(l) = self.legacy_table() {
            let (pages, totals) = l.map_err(|d| damage_err(&d))?;
            return Ok((pages.iter().map(|(m, p)| (*m, p)).collect(), Some(totals)));
        }
        let mut out = BTreeMap::new();
        for &m in self.pages.keys() {
            if let Some(p) = self.page(m)? {
                out.insert(m, p);
            }
        }
        Ok((out, Some(self.totals()?)))
    }

    /// Bytes held in memory (estimated from lengths).
    pub(crate) fn heap_bytes(&self) -> usize {
        let row = std::mem::size_of::<(u32, Row)>() + 16;
        let day = std::mem::size_of::<VisitorDay>();
        let page = |p: &Page| {
            p.values()
                .map(|r| row + r.days.capacity() * day)
                .sum::<usize>()
        };
        let mut bytes = 0;
        for slot in self.pages.values() {
            bytes += match slot {
                Slot::Held(p) => page(p),
                Slot::Stored { page: cell, .. } => {
                    cell.get().and_then(|r| r.as_ref().ok()).map_or(0, page)
                }
            };
        }
        let totals = match &self.totals {
            TotalsSlot::Held(t) => Some(t),
            TotalsSlot::Stored { totals, .. } => totals.get().and_then(|r| r.as_ref().ok()),
        };
        bytes
            + totals.map_or(0, |t| {
                t.visits.capacity() * 4
                    + t.last.capacity() * 4
                    + t.first.capacity() * 16
                    + t.orders.keys().map(|k| k.len() + 64).sum::<usize>()
            })
    }
}

/// Orders visitor ids by their strings (equal order times: the order
/// index's tie-break).
pub(crate) fn by_visitor_string(
    visitors: &crate::dict::Dict,
) -> impl Fn(u32, u32) -> std::cmp::Ordering + '_ {
    move |x, y| visitors.opt(x).cmp(&visitors.opt(y))
}

/// Pages and totals from each day's sorted visitor column, days in order;
/// the totals start from what `noted` holds of the same days (first
/// starts and orders: [`Totals::note_day`]).
pub(crate) fn pages_of_days<'a>(
    days: impl Iterator<Item = (NaiveDate, &'a [u32])>,
    noted: Totals,
) -> (BTreeMap<NaiveDate, Page>, Totals) {
    let mut pages: BTreeMap<NaiveDate, Page> = BTreeMap::new();
    let mut totals = noted;
    for (day, column) in days {
        let page = pages.entry(month_of(day)).or_default();
        runs(column, |v, visits| {
            let (before, last) = totals.of(v);
            page.entry(v)
                .or_insert_with(|| Row {
                    prev: last,
                    days: Vec::new(),
                })
                .days
                .push(VisitorDay {
                    day,
                    visits,
                    before,
                });
            totals.set(v, before.saturating_add(visits), Some(day));
        });
    }
    pages.retain(|_, p| !p.is_empty());
    (pages, totals)
}

/// Pages and totals from a whole table (a store from before pages).
pub(crate) fn pages_of_table(table: &[Vec<VisitorDay>]) -> (BTreeMap<NaiveDate, Page>, Totals) {
    let mut pages: BTreeMap<NaiveDate, Page> = BTreeMap::new();
    let mut totals = Totals {
        orders_unknown: true,
        ..Totals::default()
    };
    for (v, entries) in table.iter().enumerate() {
        let v = v as u32;
        let mut last = None;
        for e in entries {
            let page = pages.entry(month_of(e.day)).or_default();
            page.entry(v)
                .or_insert_with(|| Row {
                    prev: last,
                    days: Vec::new(),
                })
                .days
                .push(*e);
            last = Some(e.day);
        }
        if let Some(e) = entries.last() {
            totals.set(v, e.before.saturating_add(e.visits), Some(e.day));
        }
    }
    (pages, totals)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// A day's previous days found in one walk of its month's page
        /// are those found visitor by visitor: visitors in order, with
        /// repeats, without a row, and out of order.
        #[test]
        fn previous_days_in_one_walk_are_those_found_one_by_one(
            visits in prop::collection::vec((0..40u32, 0..90u64, 1..3u32), 0..200),
            asked in prop::collection::vec(0..45u32, 0..60),
            day in 0..90u64,
            sorted in any::<bool>(),
        ) {
            let start = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
            let date = |d: u64| start + chrono::Days::new(d);
            let mut h = History::default();
            h.apply(visits.iter().map(|&(v, d, n)| (v, date(d), 0, n)).collect());
            let mut asked = asked;
            if sorted {
                asked.sort_unstable();
            }
            let day = date(day);
            let one_by_one: Vec<_> = asked.iter().map(|&v| h.previous_day(v, day)).collect();
            prop_assert_eq!(h.previous_days(&asked, day), one_by_one);
        }
    }

    #[test]
    fn an_earlier_order_takes_the_id_and_names_the_order_it_displaced() {
        let mut t = Totals::default();
        let by_id = |a: u32, b: u32| a.cmp(&b);
        assert_eq!(t.note_order("A", 100, 1, &by_id), None);
        // Later: the id stays with the first.
        assert_eq!(t.note_order("A", 170, 3, &by_id), None);
        // Earlier: it takes the id, and says whose time lost it.
        assert_eq!(t.note_order("A", 50, 2, &by_id), Some(100));
        // The same time, an earlier visitor: it takes the id too.
        assert_eq!(t.note_order("A", 50, 0, &by_id), Some(50));
        assert_eq!(t.orders["A"], (50, 0));
        assert_eq!(t.note_order("B", 10, 9, &by_id), None);
    }
}
