//! Report rollups: a whole month's or year's unfiltered action reports
//! (pages, titles, downloads, outlinks, site-search keywords), visit
//! reports (device, browser, OS, country, language, referrer type,
//! custom dimensions) and visits-grouped reports (versions, resolution,
//! continent, language, visit time, duration and pages, referrers with
//! their subtables: `visit_key::ROLLED_GROUPS`),
//! one row per value with its counts and its visitor (and, for visit
//! reports, user) bitmap, so that rows of several periods and edge days
//! add up with exact distinct visitors.
//!
//! The per-visit counting here is the one the query's reports use
//! (`report.rs`), so a report from rollups and one from days agree by
//! construction; the tests compare them anyway.

use std::collections::BTreeMap;

use foldhash::{HashMap, HashMapExt};
use roaring::RoaringBitmap;

use crate::archive::{DayArchive, DayTotals};
use crate::dict::NONE;
use crate::fsum::ExactSum;
use crate::hit::HitType;
use crate::raw::{SiteDicts, VField};
use crate::visit_key::{
    EVENT_TABLES, EventPart, GroupSource, ROLLED_GROUPS, Range, VisitAt, VisitGroup, VisitKeys,
    ranges,
};

/// The key of untitled page views in a stored titles table.
pub(crate) const UNTITLED_KEY: u32 = NONE - 1;

/// The action reports a rollup keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum ActionTable {
    /// Page URLs (their page labels).
    Pages = 0,
    /// Page titles (`UNTITLED_KEY` for page views without one).
    Titles = 1,
    /// Download URLs.
    Downloads = 2,
    /// Outlink URLs.
    Outlinks = 3,
    /// Site-search keywords.
    Keywords = 4,
    /// Site-search categories (values dictionary ids; since format 15).
    Categories = 5,
}

/// Every [`ActionTable`], in their stored order.
pub(crate) const ACTION_TABLES: [ActionTable; 6] = [
    ActionTable::Pages,
    ActionTable::Titles,
    ActionTable::Downloads,
    ActionTable::Outlinks,
    ActionTable::Keywords,
    ActionTable::Categories,
];

impl ActionTable {
    /// The kind of the actions it counts.
    pub(crate) fn kind(self) -> HitType {
        match self {
            ActionTable::Pages | ActionTable::Titles => HitType::Pageview,
            ActionTable::Downloads => HitType::Download,
            ActionTable::Outlinks => HitType::Outlink,
            ActionTable::Keywords | ActionTable::Categories => HitType::Search,
        }
    }

    /// Whether its rows have page columns (time spent, entries, exits).
    pub(crate) fn pages(self) -> bool {
        matches!(self, ActionTable::Pages | ActionTable::Titles)
    }

    /// Action `i`'s row (`untitled` for an untitled page view in the
    /// titles table), `NONE` if the action is not of this report's kind.
    pub(crate) fn key(self, d: &SiteDicts, a: &DayArchive, i: usize, untitled: u32) -> u32 {
        if a.a_kind[i] != self.kind() {
            return NONE;
        }
        match self {
            ActionTable::Pages => d.pages().of(a.a_url[i]),
            ActionTable::Titles => match a.a_title[i] {
                NONE => untitled,
                t => t,
            },
            ActionTable::Downloads | ActionTable::Outlinks => a.a_url[i],
            ActionTable::Keywords => a.extra(i).keyword,
            ActionTable::Categories => a.extra(i).search_cat,
        }
    }
}

/// The visit reports a rollup keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum VisitTable {
    /// A visit-level field by its [`VField`] position (device to language).
    Field(u8),
    /// The referrer type.
    ReferrerType,
    /// A custom dimension by its name id.
    Dimension(u32),
}

/// The visit-level fields with a table of their own.
pub(crate) const FIELD_TABLES: [VField; 5] = [
    VField::Device,
    VField::Browser,
    VField::Os,
    VField::Country,
    VField::Language,
];

impl VisitTable {
    /// Visit `v`'s row (`NONE`: no value).
    pub(crate) fn key(self, a: &DayArchive, v: usize) -> u32 {
        match self {
            VisitTable::Field(f) => a.fields[f as usize][v],
            VisitTable::ReferrerType => u32::from(a.referrer_type[v]),
            VisitTable::Dimension(name) => a
                .dims
                .iter()
                .find(|c| c.name == name)
                .map_or(NONE, |c| c.values[v]),
        }
    }

    /// Whether rollups keep it (users are not kept: a report by user
    /// reads its days).
    pub(crate) fn rolled(self) -> bool {
        match self {
            VisitTable::Field(f) => FIELD_TABLES.iter().any(|t| *t as u8 == f),
            VisitTable::ReferrerType | VisitTable::Dimension(_) => true,
        }
    }

    /// The tag and number it is stored as.
    pub(crate) fn code(self) -> (u8, u32) {
        match self {
            VisitTable::Field(f) => (0, u32::from(f)),
            VisitTable::ReferrerType => (1, 0),
            VisitTable::Dimension(n) => (2, n),
        }
    }

    pub(crate) fn from_code(tag: u8, n: u32) -> Option<VisitTable> {
        match tag {
            0 if FIELD_TABLES.iter().any(|f| *f as u32 == n) => Some(VisitTable::Field(n as u8)),
            1 if n == 0 => Some(VisitTable::ReferrerType),
            2 => Some(VisitTable::Dimension(n)),
            _ => None,
        }
    }
}

/// Per-row sums of an action report.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct ActionCounts {
    /// Actions.
    pub hits: u64,
    /// Visits with such an action.
    pub visits: u64,
    /// Visits entering here.
    pub entries: u64,
    /// Visits leaving from here.
    pub exits: u64,
    /// One-action visits entering here.
    pub entry_bounces: u64,
    /// Seconds spent.
    pub time: u64,
    /// The actions of the visits entering here (Matomo's
    /// `entry_nb_actions`).
    pub entry_actions: u64,
    /// The length of the visits entering here, in seconds (Matomo's
    /// `entry_sum_visit_length`).
    pub entry_length: u64,
    /// The load timings and bandwidth of its actions (boxed: most rows of
    /// most sites have none).
    pub perf: Option<Box<PerfSums>>,
    /// Distinct visitors entering and leaving here (Matomo's
    /// `entry_nb_uniq_visitors`, `exit_nb_uniq_visitors`): not additive,
    /// see [`ActionCounts::add`].
    pub bound_visitors: [u64; 2],
    /// Their ids, entering and leaving (a rolled-up row read with its
    /// bitmaps; `None` while counting days, and for rows without entries
    /// and exits).
    pub bound_ids: Option<Box<[RoaringBitmap; 2]>>,
    /// The most results any of its site searches found (`None`: none
    /// said): a keyword whose searches all found 0 is a keyword without
    /// results.
    pub most_results: Option<u32>,
    /// A page row's URL where Matomo's is not its label's first
    /// ([`crate::raw::Pages::url_of`]): the URL of the most page views
    /// on the first day the row has any ([`FirstDayUrls`]); `None` for
    /// the first URL and for other reports' rows. Adding a later
    /// period's rows keeps a row's own.
    pub url: Option<u32>,
}

impl ActionCounts {
    /// These sums with another's taken out; `None` if they do not hold it
    /// (the least and most timings stay: see [`PerfSums::kept`]).
    pub(crate) fn without(&self, o: &ActionCounts) -> Option<ActionCounts> {
        let perf = match (&self.perf, &o.perf) {
            (p, None) => p.clone(),
            (None, Some(_)) => return None,
            (Some(p), Some(q)) => Some(Box::new(p.without(q)?)),
        };
        Some(ActionCounts {
            hits: self.hits.checked_sub(o.hits)?,
            visits: self.visits.checked_sub(o.visits)?,
            entries: self.entries.checked_sub(o.entries)?,
            exits: self.exits.checked_sub(o.exits)?,
            entry_bounces: self.entry_bounces.checked_sub(o.entry_bounces)?,
            time: self.time.checked_sub(o.time)?,
            entry_actions: self.entry_actions.checked_sub(o.entry_actions)?,
            entry_length: self.entry_length.checked_sub(o.entry_length)?,
            perf,
            // Ids cannot be taken out: `kept` lets this through only when
            // the new rows' ids hold the old ones', which `add` unites.
            bound_visitors: self.bound_visitors,
            bound_ids: self.bound_ids.clone(),
            most_results: self.most_results,
            url: self.url,
        })
    }

    /// Adds another period's (or run's) sums. Distinct entering and
    /// leaving visitors: the ids united when `o` has them (rolled-up
    /// periods), else the counts added (runs of different visitors).
    pub(crate) fn add(&mut self, o: &ActionCounts) {
        // A row's URL is its first period's (periods are added in time
        // order; a row without hits is not there yet).
        if self.hits == 0 {
            self.url = o.url;
        }
        self.hits += o.hits;
        self.visits += o.visits;
        self.entries += o.entries;
        self.exits += o.exits;
        self.entry_bounces += o.entry_bounces;
        self.time += o.time;
        self.entry_actions += o.entry_actions;
        self.entry_length += o.entry_length;
        if let Some(p) = &o.perf {
            self.perf.get_or_insert_default().add(p);
        }
        self.most_results = self.most_results.max(o.most_results);
        match &o.bound_ids {
            Some(ids) => {
                let mine = self.bound_ids.get_or_insert_default();
                for (m, i) in mine.iter_mut().zip(ids.iter()) {
                    *m |= i;
                }
                self.bound_visitors = [mine[0].len(), mine[1].len()];
            }
            None => {
                self.bound_visitors[0] += o.bound_visitors[0];
                self.bound_visitors[1] += o.bound_visitors[1];
            }
        }
    }

    /// Whether a day's rows `o`, before it gained hits, and `n`, after,
    /// let a period's least and most timings and its entering and leaving
    /// visitors be updated in place.
    pub(crate) fn kept(o: &ActionCounts, n: &ActionCounts) -> bool {
        let perf = match (&o.perf, &n.perf) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(o), Some(n)) => PerfSums::kept(o, n),
        };
        let bounds = match (&o.bound_ids, &n.bound_ids) {
            (None, _) => true,
            (Some(o), None) => o.iter().all(RoaringBitmap::is_empty),
            (Some(o), Some(n)) => o.iter().zip(n.iter()).all(|(o, n)| o.is_subset(n)),
        };
        // A day's most results only grow with its hits.
        perf && bounds && o.most_results <= n.most_results
    }

    /// Sets its entering and leaving visitors' ids (those of a row of
    /// days being rolled up), and their counts.
    pub(crate) fn set_bound_ids(&mut self, entering: RoaringBitmap, leaving: RoaringBitmap) {
        self.bound_visitors = [entering.len(), leaving.len()];
        self.bound_ids =
            (!entering.is_empty() || !leaving.is_empty()).then(|| Box::new([entering, leaving]));
    }
}

/// The load timings and bandwidth of an action report row's actions, by
/// [`Perf::FIELDS`](crate::Perf::FIELDS) position (timings in
/// milliseconds, bandwidth in bytes): how many actions had each value,
/// their sum, least and most (`u64::MAX` and 0 while none had it), and how
/// many page views had any timing (Matomo's page load hits).
///
/// # Examples
/// ```
/// use hitmap::{ActionReportKind, Engine, Hit, Perf, Query, SiteConfig};
/// let mut e = Engine::in_memory();
/// e.add_site(SiteConfig::new(1))?;
/// let timed = |ms| Perf { times: [None, Some(ms), None, None, None, None], bandwidth: Some(1000) };
/// e.ingest([
///     Hit::pageview(1, 1_717_200_000, "a", "https://x.org/p").with_perf(timed(100)),
///     Hit::pageview(1, 1_717_200_000, "b", "https://x.org/p").with_perf(timed(300)),
/// ])?;
/// let rows = e.query(&Query::site(1))?.action_report(ActionReportKind::PageUrls);
/// let p = &rows[0].perf;
/// assert_eq!((p.hits[Perf::SERVER], p.sum[Perf::SERVER], p.timed), (2, 400, 2));
/// assert_eq!((p.least(Perf::SERVER), p.most(Perf::SERVER)), (Some(100), Some(300)));
/// assert_eq!(p.sum[6], 2000); // bytes
/// # Ok::<(), hitmap::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PerfSums {
    /// Actions with each value.
    pub hits: [u64; 7],
    /// The values' sums.
    pub sum: [u64; 7],
    /// The least of each (`u64::MAX` while no action had it: see
    /// [`PerfSums::least`]).
    pub min: [u64; 7],
    /// The most of each (see [`PerfSums::most`]).
    pub max: [u64; 7],
    /// Page views with any timing.
    pub timed: u64,
}

impl Default for PerfSums {
    fn default() -> PerfSums {
        PerfSums {
            hits: [0; 7],
            sum: [0; 7],
            min: [u64::MAX; 7],
            max: [0; 7],
            timed: 0,
        }
    }
}

impl PerfSums {
    /// Counts one action's values.
    pub(crate) fn add_action(&mut self, p: &crate::raw::PerfCells) {
        for f in 0..7 {
            if let Some(v) = p.get(f) {
                self.hits[f] += 1;
                self.sum[f] = self.sum[f].saturating_add(v);
                self.min[f] = self.min[f].min(v);
                self.max[f] = self.max[f].max(v);
            }
        }
        self.timed += u64::from(p.ms.iter().any(|&m| m != NONE));
    }

    /// Adds another row's (or period's).
    pub(crate) fn add(&mut self, o: &PerfSums) {
        for f in 0..7 {
            self.hits[f] += o.hits[f];
            self.sum[f] = self.sum[f].saturating_add(o.sum[f]);
            self.min[f] = self.min[f].min(o.min[f]);
            self.max[f] = self.max[f].max(o.max[f]);
        }
        self.timed += o.timed;
    }

    /// The counts and sums with another's taken out; the least and most
    /// stay (a caller checks [`PerfSums::kept`] first).
    fn without(&self, o: &PerfSums) -> Option<PerfSums> {
        let mut out = *self;
        for f in 0..7 {
            out.hits[f] = self.hits[f].checked_sub(o.hits[f])?;
            out.sum[f] = self.sum[f].checked_sub(o.sum[f])?;
        }
        out.timed = self.timed.checked_sub(o.timed)?;
        Some(out)
    }

    /// Whether `n` (a day's row after it gained hits) holds `o` (before):
    /// its least no more and its most no less wherever `o` had a value,
    /// so that taking `o` out and putting `n` in leaves a period's least
    /// and most right.
    fn kept(o: &PerfSums, n: &PerfSums) -> bool {
        (0..7).all(|f| o.hits[f] == 0 || (n.min[f] <= o.min[f] && n.max[f] >= o.max[f]))
    }

    /// Whether no action had any value.
    pub fn is_empty(&self) -> bool {
        self.hits.iter().all(|&n| n == 0)
    }

    /// Field `f`'s least value, if any action had it.
    pub fn least(&self, f: usize) -> Option<u64> {
        (self.hits.get(f)? > &0).then(|| self.min[f])
    }

    /// Field `f`'s most value, if any action had it.
    pub fn most(&self, f: usize) -> Option<u64> {
        (self.hits.get(f)? > &0).then(|| self.max[f])
    }
}

/// Per-row sums of an event report.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct EventCounts {
    /// Events.
    pub events: u64,
    /// Visits with such an event, a visit once per event combination
    /// (category, action, name) it had: Matomo's event visits, the sum
    /// of each combination's visits.
    pub visits: u64,
    /// Events with a value.
    pub with_value: u64,
    /// Their values' exact sum.
    pub sum: ExactSum,
    /// The smallest and largest value.
    pub min: Option<f64>,
    pub max: Option<f64>,
}

impl EventCounts {
    /// Counts one event with its value (NaN: none).
    pub(crate) fn add_event(&mut self, value: f64) {
        self.events += 1;
        if !value.is_nan() {
            self.with_value += 1;
            self.sum.add(value);
            self.min = Some(self.min.map_or(value, |m| m.min(value)));
            self.max = Some(self.max.map_or(value, |m| m.max(value)));
        }
    }

    /// Adds another period's (or day's) sums.
    pub(crate) fn add(&mut self, o: &EventCounts) {
        self.events += o.events;
        self.visits += o.visits;
        self.with_value += o.with_value;
        self.sum.add_sum(&o.sum);
        let pick = |a: Option<f64>, b: Option<f64>, f: fn(f64, f64) -> f64| match (a, b) {
            (Some(x), Some(y)) => Some(f(x, y)),
            (x, None) => x,
            (None, y) => y,
        };
        self.min = pick(self.min, o.min, f64::min);
        self.max = pick(self.max, o.max, f64::max);
    }

    /// These sums with a day's taken out; the smallest and largest value
    /// stay (the caller adds the same day with at least its events, so
    /// its extremes reach as far: [`EventCounts::kept`]).
    pub(crate) fn without(&self, o: &EventCounts) -> Option<EventCounts> {
        let mut sum = self.sum.clone();
        sum.sub_sum(&o.sum);
        Some(EventCounts {
            events: self.events.checked_sub(o.events)?,
            visits: self.visits.checked_sub(o.visits)?,
            with_value: self.with_value.checked_sub(o.with_value)?,
            sum,
            min: self.min,
            max: self.max,
        })
    }

    /// Whether `new` (a day after it gained hits) holds every event of
    /// `old` (the same day before): its extremes reach at least as far.
    pub(crate) fn kept(old: &EventCounts, new: &EventCounts) -> bool {
        let below = |o: Option<f64>, n: Option<f64>| o.is_none_or(|o| n.is_some_and(|n| n <= o));
        let above = |o: Option<f64>, n: Option<f64>| o.is_none_or(|o| n.is_some_and(|n| n >= o));
        new.events >= old.events
            && new.with_value >= old.with_value
            && below(old.min, new.min)
            && above(old.max, new.max)
    }
}

/// Where a report's per-key sums live while visits are counted.
pub(crate) trait CountsByKey {
    /// The sums of key `k`.
    fn at(&mut self, k: u32) -> &mut ActionCounts;
}

impl CountsByKey for Vec<ActionCounts> {
    fn at(&mut self, k: u32) -> &mut ActionCounts {
        &mut self[k as usize]
    }
}

/// A visit's keys while it is counted by [`count_visit`] (reused from
/// visit to visit).
#[derive(Debug, Default)]
pub(crate) struct CountedKeys {
    /// Its distinct keys, sorted: the visit and its visitor count once
    /// in each.
    pub keys: Vec<u32>,
    /// The keys of its first page and of its last (page reports): its
    /// visitor enters and leaves there.
    pub bounds: [Vec<u32>; 2],
}

/// Counts one visit's `actions` (its action positions in order: all of
/// them, or a section's; how many; and the visit's length, for its entry
/// page) into `acc`: `keys_of(i, out)`
/// pushes action `i`'s keys (none if it is not of the report's kind).
/// Leaves the visit's distinct keys and its entry and exit keys in
/// `scratch`, for the caller to count the visit's visitor.
pub(crate) fn count_visit(
    a: &DayArchive,
    visit: u32,
    (actions, n, length): (impl Iterator<Item = usize>, usize, u32),
    pages: bool,
    acc: &mut impl CountsByKey,
    scratch: &mut CountedKeys,
    mut keys_of: impl FnMut(usize, &mut Vec<u32>),
) {
    // The keys of the visit's actions, in action order; the keys of its
    // first and last page are keys[first] and keys[last].
    let keys = &mut scratch.keys;
    keys.clear();
    let perf_day = a.a_extras.has_perf();
    let (mut first, mut last) = (0..0, 0..0);
    for i in actions {
        let from = keys.len();
        keys_of(i, keys);
        if keys.len() == from {
            continue;
        }
        let time = if pages { a.time_spent(visit, i) } else { 0 };
        for &k in &keys[from..] {
            let c = acc.at(k);
            c.hits += 1;
            c.time += u64::from(time);
        }
        if perf_day {
            let p = a.extra(i).perf;
            if !p.is_none() {
                for &k in &keys[from..] {
                    acc.at(k).perf.get_or_insert_default().add_action(&p);
                }
            }
        }
        if a.a_kind[i] == HitType::Search
            && let Some(n) = a.extra(i).search_count
        {
            for &k in &keys[from..] {
                let c = acc.at(k);
                c.most_results = c.most_results.max(Some(n));
            }
        }
        if pages {
            if first.is_empty() {
                first = from..keys.len();
            }
            last = from..keys.len();
        }
    }
    let bounce = u64::from(n <= 1);
    let length = u64::from(length);
    let [entering, leaving] = &mut scratch.bounds;
    entering.clear();
    leaving.clear();
    for &k in &keys[first] {
        let c = acc.at(k);
        c.entries += 1;
        c.entry_bounces += bounce;
        c.entry_actions += n as u64;
        c.entry_length += length;
        entering.push(k);
    }
    for &k in &keys[last] {
        acc.at(k).exits += 1;
        leaving.push(k);
    }
    keys.sort_unstable();
    keys.dedup();
    for &k in keys.iter() {
        acc.at(k).visits += 1;
    }
}

/// Matomo's URL of a page row whose label several URLs share (hosts or
/// schemes with the same path): a day names the URL of the most page
/// views (on a tie the first by its stored name, Matomo's `log_action`
/// name without scheme and `www.`, in MySQL's case-blind order), and a
/// longer period the first day's that has the row (Matomo's period
/// archives keep the first subperiod's metadata). Fed with page views
/// day by day, in date order.
#[derive(Debug, Default)]
pub(crate) struct FirstDayUrls {
    /// The day being counted.
    day: Option<chrono::NaiveDate>,
    /// Its page views by shared label and URL, of labels not yet named.
    hits: HashMap<(u32, u32), u64>,
    /// The URL named for each shared label seen.
    chosen: HashMap<u32, u32>,
}

impl FirstDayUrls {
    /// Counts a page view of URL `url` on `date` (days in order).
    pub(crate) fn page_view(&mut self, d: &SiteDicts, date: chrono::NaiveDate, url: u32) {
        if self.day != Some(date) {
            self.end_day(d);
            self.day = Some(date);
        }
        let pages = d.pages();
        let label = pages.of(url);
        if pages.shared(label) && !self.chosen.contains_key(&label) {
            *self.hits.entry((label, url)).or_default() += 1;
        }
    }

    /// Names the URL of each label the day counted. URLs of one stored
    /// name (`http://` and `https://`, with and without `www.`) are one
    /// Matomo action, shown with the prefix it was first seen with: the
    /// name's first URL in the dictionary.
    fn end_day(&mut self, d: &SiteDicts) {
        // Per label and stored name: page views, and its first URL.
        let mut names: HashMap<(u32, String), (u64, u32)> = HashMap::new();
        for (&(label, url), &n) in &self.hits {
            let e = names
                .entry((label, crate::url::action_name(d.urls.value(url))))
                .or_insert((0, url));
            e.0 += n;
            e.1 = e.1.min(url);
        }
        let mut best: HashMap<u32, (u64, String, u32)> = HashMap::new();
        for ((label, name), (n, url)) in names {
            let b = best.entry(label).or_insert((n, name.clone(), url));
            let before = (name.to_lowercase(), &name) < (b.1.to_lowercase(), &b.1);
            if n > b.0 || (n == b.0 && before) {
                *b = (n, name, url);
            }
        }
        for (label, (_, _, url)) in best {
            self.chosen.insert(label, url);
        }
        self.hits.clear();
    }

    /// The URL named for each shared label, where it is not the label's
    /// first.
    pub(crate) fn finish(mut self, d: &SiteDicts) -> HashMap<u32, u32> {
        self.end_day(d);
        let pages = d.pages();
        self.chosen
            .retain(|&label, &mut url| pages.url_of(label) != url);
        self.chosen
    }
}

/// One row of a rolled-up report.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Row<C> {
    pub counts: C,
    /// How many distinct visitors and users (users: visit reports only).
    pub distinct: [u64; 2],
    /// Its distinct visitors (empty when read without bitmaps).
    pub visitors: RoaringBitmap,
    /// Its distinct users (visit reports only; empty when read without
    /// bitmaps).
    pub users: RoaringBitmap,
}

impl<C> Row<C> {
    /// Sets the distinct counts from the bitmaps.
    fn recount(&mut self) {
        self.distinct = [self.visitors.len(), self.users.len()];
    }
}

/// Which one report of a period: an action report or a visit report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Which {
    Action(ActionTable),
    Visit(VisitTable),
    /// A visits-grouped report (string labels).
    Group(VisitGroup),
    /// An event report by a part, with subtables by another.
    Event(EventPart, EventPart),
}

/// A rollup's reports as its file holds them: each report a packed
/// section of its own, unpacked only when a question needs it.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct StoredReports {
    /// Whether rows keep their visitor and user ids (what this version
    /// writes).
    pub bitmaps: bool,
    /// Each report's packed sections: its rows' keys and counts, and its
    /// rows' ids (read only to add periods up).
    pub sections: BTreeMap<Which, (Vec<u8>, Vec<u8>)>,
    /// Whether they were built by today's rules (a rollup of
    /// [`REPORTS_CURRENT_FROM`](crate::store::codec::REPORTS_CURRENT_FROM)
    /// on); an older one's periods are answered from their days.
    pub current: bool,
    /// The version it was written in (what its rows hold).
    pub version: u16,
}

impl StoredReports {
    /// Heap bytes, about.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.sections
            .values()
            .map(|(c, i)| c.len() + i.len() + 64)
            .sum()
    }
}

/// A rolled-up report: key → row, in key order.
pub(crate) type Table<C, K = u32> = BTreeMap<K, Row<C>>;

pub(crate) use crate::visit_key::GroupKey;

/// A visits-grouped report's rows.
pub(crate) type GroupTable = Table<DayTotals, GroupKey>;

/// An event report's rows, by label (and sub-label).
pub(crate) type EventTable = Table<EventCounts, GroupKey>;

/// A period's rolled-up reports.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Reports {
    /// By [`ActionTable`] position.
    pub actions: [Table<ActionCounts>; 6],
    /// Every visit report; a custom dimension no day of the period has
    /// is absent (its visits all have no value: see [`Reports::merge`]).
    pub visits: BTreeMap<VisitTable, Table<DayTotals>>,
    /// Every visits-grouped report it keeps (a rollup written before
    /// they were kept has none: those reports are answered from days).
    pub groups: BTreeMap<VisitGroup, GroupTable>,
    /// Every event report it keeps (by [`EVENT_TABLES`]; absent from a
    /// rollup written before they were kept).
    pub events: BTreeMap<(EventPart, EventPart), EventTable>,
}

/// Adds `from`'s rows into `into`.
fn merge_table<C: Clone + Default, K: Ord + Clone>(
    into: &mut Table<C, K>,
    from: &Table<C, K>,
    add: impl Fn(&mut C, &C),
) {
    for (k, r) in from {
        let row = into.entry(k.clone()).or_default();
        add(&mut row.counts, &r.counts);
        row.visitors |= &r.visitors;
        row.users |= &r.users;
        row.recount();
    }
}

/// Adds `other`'s tables into `mine` where both keep them (`merge`): a
/// table one side lacks (a rollup written before it was kept) is unknown
/// for the sum, unless that side has no visits at all (`visits`: mine,
/// theirs).
fn merge_kept<K: Ord + Copy, T: Clone>(
    mine: &mut BTreeMap<K, T>,
    other: &BTreeMap<K, T>,
    (my_visits, their_visits): (u64, u64),
    mut merge: impl FnMut(&K, &mut T, &T),
) {
    for (k, from) in other {
        match mine.get_mut(k) {
            Some(into) => merge(k, into, from),
            None if my_visits == 0 => {
                mine.insert(*k, from.clone());
            }
            None => {}
        }
    }
    if their_visits > 0 {
        mine.retain(|k, _| other.contains_key(k));
    }
}

/// [`Reports::regrow`] of one table: `old`'s rows come out of `mine`
/// (`without`), `new`'s go in; `None` unless every row of `old` is in
/// `new` with a subset of its visitors and users and `kept(old, new)`.
fn regrow_table<C: Clone + Default, K: Ord + Clone>(
    mine: &mut Table<C, K>,
    old: &Table<C, K>,
    new: &Table<C, K>,
    without: impl Fn(&C, &C) -> Option<C>,
    add: impl Fn(&mut C, &C),
    kept: impl Fn(&C, &C) -> bool,
) -> Option<()> {
    for (k, o) in old {
        let n = new.get(k)?;
        if !o.visitors.is_subset(&n.visitors)
            || !o.users.is_subset(&n.users)
            || !kept(&o.counts, &n.counts)
        {
            return None;
        }
        let row = mine.get_mut(k)?;
        row.counts = without(&row.counts, &o.counts)?;
    }
    for (k, n) in new {
        let row = mine.entry(k.clone()).or_default();
        add(&mut row.counts, &n.counts);
        row.visitors |= &n.visitors;
        row.users |= &n.users;
        row.recount();
    }
    Some(())
}

/// The one row of a visit report over visits that all lack its value.
fn no_value_table(
    totals: &DayTotals,
    visitors: &RoaringBitmap,
    users: &RoaringBitmap,
) -> Table<DayTotals> {
    let mut t = Table::new();
    if totals.visits > 0 {
        t.insert(
            NONE,
            Row {
                counts: *totals,
                distinct: [visitors.len(), users.len()],
                visitors: visitors.clone(),
                users: users.clone(),
            },
        );
    }
    t
}

impl Reports {
    /// Adds another (disjoint) period's reports: `self` covers visits
    /// summed in `mine` (totals, visitors, users), `other` those of
    /// `theirs`; a custom dimension only one side has counts the other
    /// side's visits as having no value.
    pub(crate) fn merge(
        &mut self,
        mine: (&DayTotals, &RoaringBitmap, &RoaringBitmap),
        other: &Reports,
        theirs: (&DayTotals, &RoaringBitmap, &RoaringBitmap),
    ) {
        for (into, from) in self.actions.iter_mut().zip(&other.actions) {
            merge_table(into, from, ActionCounts::add);
        }
        for t in other.visits.keys() {
            if !self.visits.contains_key(t) {
                self.visits
                    .insert(*t, no_value_table(mine.0, mine.1, mine.2));
            }
        }
        for (t, into) in self.visits.iter_mut() {
            match other.visits.get(t) {
                Some(from) => merge_table(into, from, DayTotals::add),
                None => merge_table(
                    into,
                    &no_value_table(theirs.0, theirs.1, theirs.2),
                    DayTotals::add,
                ),
            }
        }
        let visits = (mine.0.visits, theirs.0.visits);
        merge_kept(&mut self.groups, &other.groups, visits, |g, into, from| {
            if *g == VisitGroup::Sections {
                // A section's row stands only where both sides counted it
                // with the same definition.
                into.retain(|k, _| from.contains_key(k));
                let common: GroupTable = from
                    .iter()
                    .filter(|(k, _)| into.contains_key(*k))
                    .map(|(k, r)| (k.clone(), r.clone()))
                    .collect();
                merge_table(into, &common, DayTotals::add);
            } else {
                merge_table(into, from, DayTotals::add);
            }
        });
        merge_kept(&mut self.events, &other.events, visits, |_, into, from| {
            merge_table(into, from, EventCounts::add)
        });
    }

    /// Whether every page row of `other` that these reports have names
    /// the same URL here.
    pub(crate) fn page_urls_agree(&self, other: &Reports) -> bool {
        let pages = ActionTable::Pages as usize;
        other.actions[pages].iter().all(|(k, o)| {
            self.actions[pages]
                .get(k)
                .is_none_or(|m| m.counts.hits == 0 || m.counts.url == o.counts.url)
        })
    }

    /// Takes the `which` report of `one` (a report decoded alone) into
    /// these reports.
    pub(crate) fn take(&mut self, which: Which, mut one: Reports) {
        match which {
            Which::Action(t) => {
                self.actions[t as usize] = std::mem::take(&mut one.actions[t as usize]);
            }
            Which::Visit(_) => self.visits.extend(one.visits),
            Which::Group(_) => self.groups.extend(one.groups),
            Which::Event(..) => self.events.extend(one.events),
        }
    }

    /// [`crate::rollup::Rollup::regrow`] of the reports: `old` and `new`
    /// are one day's before and after it gained hits, with their
    /// summaries (totals, visitors, users).
    pub(crate) fn regrow(
        &mut self,
        old: &Reports,
        old_summary: (DayTotals, RoaringBitmap, RoaringBitmap),
        new: &Reports,
        new_summary: (DayTotals, RoaringBitmap, RoaringBitmap),
    ) -> Option<()> {
        // A page row's URL is its first day's: a day whose URL for a row
        // changed, or that newly has a row other days have, may be that
        // first day, unknown here unless the period's URL is the day's.
        let pages = ActionTable::Pages as usize;
        for (k, n) in &new.actions[pages] {
            let o = old.actions[pages].get(k);
            if o.is_some_and(|o| o.counts.url == n.counts.url) {
                continue;
            }
            let Some(m) = self.actions[pages].get(k) else {
                continue;
            };
            let others = m.counts.hits - o.map_or(0, |o| o.counts.hits.min(m.counts.hits));
            if others > 0 && m.counts.url != n.counts.url {
                return None;
            }
        }
        // The day's hits changed the visit counts of other days than its
        // own: those reports are left to the days.
        self.groups.retain(|g, _| !g.history());
        for ((mine, o), n) in self.actions.iter_mut().zip(&old.actions).zip(&new.actions) {
            regrow_table(
                mine,
                o,
                n,
                ActionCounts::without,
                ActionCounts::add,
                ActionCounts::kept,
            )?;
        }
        if new.visits.keys().any(|t| !self.visits.contains_key(t))
            || old.visits.keys().any(|t| !self.visits.contains_key(t))
        {
            return None;
        }
        let (ot, ov, ou) = &old_summary;
        let (nt, nv, nu) = &new_summary;
        for (t, mine) in self.visits.iter_mut() {
            let o = old
                .visits
                .get(t)
                .cloned()
                .unwrap_or_else(|| no_value_table(ot, ov, ou));
            let n = new
                .visits
                .get(t)
                .cloned()
                .unwrap_or_else(|| no_value_table(nt, nv, nu));
            regrow_table(
                mine,
                &o,
                &n,
                |a, b| a.without(b),
                DayTotals::add,
                |o, n| o.max_actions <= n.max_actions,
            )?;
        }
        for (g, mine) in self.groups.iter_mut() {
            if *g == VisitGroup::Sections {
                // The day's parts count the sections as defined now: the
                // period's rows must be those very sections.
                let (o, n) = (old.groups.get(g)?, new.groups.get(g)?);
                if !mine.keys().eq(o.keys()) || !o.keys().eq(n.keys()) {
                    return None;
                }
            }
            regrow_table(
                mine,
                old.groups.get(g)?,
                new.groups.get(g)?,
                |a, b| a.without(b),
                DayTotals::add,
                |o, n| o.max_actions <= n.max_actions,
            )?;
        }
        for (e, mine) in self.events.iter_mut() {
            regrow_table(
                mine,
                old.events.get(e)?,
                new.events.get(e)?,
                EventCounts::without,
                EventCounts::add,
                EventCounts::kept,
            )?;
        }
        Some(())
    }

    /// The report of a period whose visits sum to `summary` that has no
    /// `which` table: visits without a value of a custom dimension none
    /// of its days has.
    pub(crate) fn without_values(
        which: Which,
        summary: (&DayTotals, &RoaringBitmap, &RoaringBitmap),
    ) -> Reports {
        let mut out = Reports::default();
        if let Which::Visit(t) = which {
            out.visits
                .insert(t, no_value_table(summary.0, summary.1, summary.2));
        }
        out
    }

    /// Every report, by [`Which`].
    pub(crate) fn tables(&self) -> impl Iterator<Item = Which> + '_ {
        ACTION_TABLES
            .into_iter()
            .map(Which::Action)
            .chain(self.visits.keys().map(|t| Which::Visit(*t)))
            .chain(self.groups.keys().map(|g| Which::Group(*g)))
            .chain(self.events.keys().map(|(by, sub)| Which::Event(*by, *sub)))
    }

    /// Heap bytes, about (the cache counts them).
    pub(crate) fn heap_bytes(&self) -> usize {
        fn table<C, K>(
            t: &Table<C, K>,
            key: impl Fn(&K) -> usize,
            extra: impl Fn(&C) -> usize,
        ) -> usize {
            t.iter()
                .map(|(k, r)| {
                    std::mem::size_of::<Row<C>>()
                        + 16
                        + key(k)
                        + r.visitors.serialized_size()
                        + r.users.serialized_size()
                        + extra(&r.counts)
                })
                .sum()
        }
        let id = |_: &u32| 0;
        let label = |(l, s): &GroupKey| l.len() + s.as_ref().map_or(0, String::len) + 48;
        fn none<C>(_: &C) -> usize {
            0
        }
        let action = |c: &ActionCounts| {
            c.perf
                .as_ref()
                .map_or(0, |_| std::mem::size_of::<PerfSums>())
                + c.bound_ids.as_ref().map_or(0, |b| {
                    b.iter().map(RoaringBitmap::serialized_size).sum::<usize>() + 48
                })
        };
        self.actions
            .iter()
            .map(|t| table(t, id, action))
            .sum::<usize>()
            + self
                .visits
                .values()
                .map(|t| table(t, id, none))
                .sum::<usize>()
            + self
                .groups
                .values()
                .map(|t| table(t, label, none))
                .sum::<usize>()
            + self
                .events
                .values()
                .map(|t| table(t, label, none))
                .sum::<usize>()
    }
}

/// A row's visitor (or user) ids while counting. A list at first: ids
/// pushed as they come (a repeat of the last one skipped: a day's visits
/// are in visitor order), sorted into a bitmap once at the end, which is
/// cheaper than a bitmap insert per visit (that searches its container
/// each time). A row that many visitors reach (a country, a browser, a
/// site's top pages) turns into a bit per id once its list would be
/// larger: setting a bit costs no growth, no copy and no sort.
#[derive(Debug)]
enum Ids {
    /// The ids pushed, with repeats.
    List(Vec<u32>),
    /// Bit `i % 64` of word `i / 64` set for id `i`; ids too far above
    /// those words to double them, listed apart.
    /// (Boxed: a row keeps three of these, and most rows stay lists.)
    Bits(Box<(Vec<u64>, Vec<u32>)>),
}

// As small as a list: a row keeps three.
const _: () = assert!(std::mem::size_of::<Ids>() == std::mem::size_of::<Vec<u32>>());

impl Default for Ids {
    fn default() -> Self {
        Ids::List(Vec::new())
    }
}

impl Ids {
    /// The shortest list checked for turning into bits.
    const SHORTEST: usize = 64;

    #[inline]
    fn insert(&mut self, id: u32) {
        match self {
            Ids::List(list) => {
                if list.last() == Some(&id) {
                    return;
                }
                if list.len() < list.capacity() || list.len() < Self::SHORTEST {
                    list.push(id);
                } else {
                    self.grow(id);
                }
            }
            Ids::Bits(bits) => match bits.0.get_mut(id as usize >> 6) {
                Some(w) => *w |= 1 << (id & 63),
                None => self.grow(id),
            },
        }
    }

    /// [`Ids::insert`] where the list is full or the id is above the bits.
    fn grow(&mut self, id: u32) {
        match self {
            Ids::List(list) => {
                // Would bits up to its largest id take no more room than
                // the list does (a bit an id against 32)?
                let most = list.iter().copied().fold(id, u32::max);
                if list.len() as u64 * 32 > u64::from(most) {
                    let mut words = vec![0u64; (most as usize >> 6) + 1];
                    for &i in list.iter().chain([&id]) {
                        words[i as usize >> 6] |= 1 << (i & 63);
                    }
                    *self = Ids::Bits(Box::new((words, Vec::new())));
                } else {
                    list.push(id);
                }
            }
            Ids::Bits(bits) => {
                let (words, far) = &mut **bits;
                let w = id as usize >> 6;
                if w >= words.len() * 2 {
                    far.push(id);
                } else {
                    words.resize(words.len() * 2, 0);
                    words[w] |= 1 << (id & 63);
                }
            }
        }
    }

    fn into_bitmap(self) -> RoaringBitmap {
        match self {
            Ids::List(mut list) => {
                list.sort_unstable();
                list.dedup();
                RoaringBitmap::from_sorted_iter(list).expect("sorted and deduplicated")
            }
            Ids::Bits(bits) => {
                let (words, far) = *bits;
                let used = words.iter().rposition(|w| *w != 0).map_or(0, |i| i + 1);
                let bytes: Vec<u8> = words[..used].iter().flat_map(|w| w.to_le_bytes()).collect();
                let mut out = RoaringBitmap::from_lsb0_bytes(0, &bytes);
                if !far.is_empty() {
                    out |= Ids::List(far).into_bitmap();
                }
                out
            }
        }
    }
}

/// Values by dictionary id while counting: ids are dense, so most are
/// found by position (an index of 4 bytes an id up to the largest seen
/// below [`IdMap::DENSE`]) instead of by hash.
struct IdMap<V> {
    /// Position in `entries` + 1 by id; 0: none yet.
    index: Vec<u32>,
    entries: Vec<(u32, V)>,
    /// Positions of ids at or above `DENSE`.
    sparse: HashMap<u32, u32>,
}

impl<V: Default> IdMap<V> {
    const DENSE: u32 = 1 << 18;

    fn new() -> Self {
        IdMap {
            index: Vec::new(),
            entries: Vec::new(),
            sparse: HashMap::new(),
        }
    }

    /// The value of `k`, made if new.
    fn at(&mut self, k: u32) -> &mut V {
        let next = self.entries.len() as u32;
        let pos = if k < Self::DENSE {
            let i = k as usize;
            if self.index.len() <= i {
                self.index.resize((i + 1).next_power_of_two(), 0);
            }
            match self.index[i] {
                0 => {
                    self.index[i] = next + 1;
                    next
                }
                p => p - 1,
            }
        } else {
            *self.sparse.entry(k).or_insert(next)
        };
        if pos == next {
            self.entries.push((k, V::default()));
        }
        &mut self.entries[pos as usize].1
    }

    fn into_entries(self) -> Vec<(u32, V)> {
        self.entries
    }
}

impl CountsByKey for IdMap<(ActionCounts, Ids, [Ids; 2])> {
    fn at(&mut self, k: u32) -> &mut ActionCounts {
        &mut IdMap::at(self, k).0
    }
}

/// An action report's sums, visitors, and entering and leaving visitors
/// by key, while counting.
type ActionRows = IdMap<(ActionCounts, Ids, [Ids; 2])>;

/// A visit report's sums, visitors and users by key, while counting.
type VisitRows = IdMap<(DayTotals, Ids, Ids)>;

/// A grouped report's sums, visitors and users, while counting.
type GroupSums = (DayTotals, Ids, Ids);

/// A grouped report while counting: its rows, each label's row, and the
/// rows each visit source counts into ([`VisitKeys::group_source`]), so
/// that a label's strings are made once per distinct source, not once per
/// visit.
#[derive(Default)]
struct GroupRows {
    rows: Vec<(GroupKey, GroupSums)>,
    by_label: HashMap<GroupKey, u32>,
    /// A source's row and its sub-label's row; `None`: no row.
    by_source: HashMap<GroupSource, Slots>,
    /// The same for sources of one small number (most groupings': a
    /// dictionary id, an hour, a range), by that number: no hashing.
    by_number: Vec<Option<Slots>>,
}

/// A visit's row in a grouped report and its sub-label's row; `None`: the
/// report leaves the visit out.
type Slots = Option<(u32, Option<u32>)>;

/// The numbers [`GroupRows::by_number`] keeps (dictionary ids are dense).
const BY_NUMBER: u32 = 1 << 16;

impl GroupRows {
    /// The rows of `source` if known; else `key()`'s, noted for it.
    fn slots_of(
        &mut self,
        source: GroupSource,
        key: impl FnOnce() -> Option<(String, Option<String>)>,
    ) -> Slots {
        let number = (source[1..].iter().all(|&x| x == NONE) && source[0] < BY_NUMBER)
            .then_some(source[0] as usize);
        let known = match number {
            Some(n) => self.by_number.get(n).copied().flatten(),
            None => self.by_source.get(&source).copied(),
        };
        if let Some(slots) = known {
            return slots;
        }
        let slots = self.slots(key());
        match number {
            Some(n) => {
                if self.by_number.len() <= n {
                    self.by_number.resize(n + 1, None);
                }
                self.by_number[n] = Some(slots);
            }
            None => {
                self.by_source.insert(source, slots);
            }
        }
        slots
    }

    /// The row of `key`, made if new.
    fn slot(&mut self, key: GroupKey) -> u32 {
        let rows = &mut self.rows;
        *self.by_label.entry(key).or_insert_with_key(|key| {
            rows.push((key.clone(), GroupSums::default()));
            (rows.len() - 1) as u32
        })
    }

    /// The rows of a visit whose key is `key` (label, sub-label).
    fn slots(&mut self, key: Option<(String, Option<String>)>) -> Slots {
        let (label, sub) = key?;
        let sub = sub.map(|sub| self.slot((label.clone(), Some(sub))));
        Some((self.slot((label, None)), sub))
    }
}

/// An event report's sums and visitors by label, while counting.
type EventRows = HashMap<GroupKey, (EventCounts, Ids)>;

/// Counts visits into [`Reports`].
pub(crate) struct ReportsBuilder<'d> {
    keys: &'d VisitKeys<'d>,
    actions: Vec<(ActionTable, ActionRows)>,
    visits: Vec<(VisitTable, VisitRows)>,
    /// Each grouped report with its grouping's ranges.
    groups: Vec<(VisitGroup, Vec<Range>, GroupRows)>,
    /// The site's sections (for the sections report), with their keys and
    /// rows there (every section has its row, visits or none: a row that
    /// is missing means a section defined otherwise).
    sections: Vec<(
        GroupKey,
        std::sync::Arc<crate::section::SectionSet>,
        Option<u32>,
    )>,
    /// Each event report.
    events: Vec<((EventPart, EventPart), EventRows)>,
    /// Whether a landing URL (by id) carries campaign parameters.
    campaign_urls: HashMap<u32, bool>,
    /// The URLs of page rows whose label several URLs share (when the
    /// page report is counted and the site has such labels).
    first_urls: Option<FirstDayUrls>,
    scratch: CountedKeys,
}

impl<'d> ReportsBuilder<'d> {
    /// A builder of the `wanted` reports (`None`: every one) of the site
    /// `keys` looks up; `dims` are the custom dimensions (name ids) to
    /// keep with every one.
    pub(crate) fn new(keys: &'d VisitKeys<'d>, wanted: Option<&[Which]>, dims: &[u32]) -> Self {
        let (mut actions, mut visits, mut groups, mut events) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        match wanted {
            Some(wanted) => {
                for which in wanted {
                    match *which {
                        Which::Action(t) => actions.push(t),
                        Which::Visit(t) => visits.push(t),
                        Which::Group(g) => groups.push(g),
                        Which::Event(by, sub) => events.push((by, sub)),
                    }
                }
            }
            None => {
                actions = ACTION_TABLES.to_vec();
                visits = FIELD_TABLES
                    .iter()
                    .map(|f| VisitTable::Field(*f as u8))
                    .chain([VisitTable::ReferrerType])
                    .chain(dims.iter().map(|n| VisitTable::Dimension(*n)))
                    .collect();
                groups = ROLLED_GROUPS.to_vec();
                events = EVENT_TABLES.to_vec();
            }
        }
        let bounds = |g: VisitGroup| match g {
            VisitGroup::By(g) => ranges(g),
            _ => Vec::new(),
        };
        let mut sections: Vec<_> = if groups.contains(&VisitGroup::Sections) {
            keys.sections()
                .into_iter()
                .map(|(k, set)| (k, set, None))
                .collect()
        } else {
            Vec::new()
        };
        let mut groups: Vec<_> = groups
            .into_iter()
            .map(|g| (g, bounds(g), GroupRows::default()))
            .collect();
        for (group, _, rows) in groups.iter_mut() {
            if *group == VisitGroup::Sections {
                for (key, _, slot) in sections.iter_mut() {
                    *slot = Some(rows.slot(key.clone()));
                }
            }
        }
        let actions_wanted_pages = actions.contains(&ActionTable::Pages);
        ReportsBuilder {
            keys,
            sections,
            actions: actions.into_iter().map(|t| (t, IdMap::new())).collect(),
            visits: visits.into_iter().map(|t| (t, IdMap::new())).collect(),
            groups,
            events: events.into_iter().map(|e| (e, EventRows::new())).collect(),
            campaign_urls: HashMap::new(),
            first_urls: (actions_wanted_pages && keys.dicts.pages().any_shared())
                .then(FirstDayUrls::default),
            scratch: CountedKeys::default(),
        }
    }

    /// The custom dimensions (name ids, without hitmap's own `$` ones)
    /// that some of `days` has.
    pub(crate) fn dims_of<'a>(
        dicts: &SiteDicts,
        days: impl IntoIterator<Item = &'a DayArchive>,
    ) -> Vec<u32> {
        let mut out: Vec<u32> = days
            .into_iter()
            .flat_map(|a| a.dims.iter().map(|c| c.name))
            .filter(|n| !dicts.dim_names.value(*n).starts_with('$'))
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Counts visit `v` of `a` (a visit of `date`) with its `actions`
    /// (all of its actions or a section's; `n` of them) lasting `length`
    /// seconds.
    pub(crate) fn add_visit(
        &mut self,
        date: chrono::NaiveDate,
        a: &DayArchive,
        v: u32,
        actions: impl Iterator<Item = usize> + Clone,
        n: usize,
        length: u32,
    ) {
        self.add_visit_since(date, a, v, (actions, n, length), None);
    }

    /// [`ReportsBuilder::add_visit`], with the visit's days since the
    /// last when known.
    fn add_visit_since(
        &mut self,
        date: chrono::NaiveDate,
        a: &DayArchive,
        v: u32,
        (actions, n, length): (impl Iterator<Item = usize> + Clone, usize, u32),
        since_last: Option<Option<i64>>,
    ) {
        let visitor = a.visitor[v as usize];
        let d = self.keys.dicts;
        // The kinds of the visit's actions: a report of a kind the visit
        // has none of (most visits download nothing) is skipped, without
        // a pass over the visit's actions.
        let kinds = actions.clone().fold(0u32, |m, i| {
            m | 1u32.checked_shl(u32::from(a.a_kind[i] as u8)).unwrap_or(0)
        });
        for (table, counts) in self.actions.iter_mut() {
            let t = *table;
            if kinds & (1 << (t.kind() as u8)) == 0 {
                continue;
            }
            // Most days have no site search category: no pass over their
            // actions for that report.
            if t == ActionTable::Categories && !a.a_extras.has_search_categories() {
                continue;
            }
            count_visit(
                a,
                v,
                (actions.clone(), n, length),
                t.pages(),
                counts,
                &mut self.scratch,
                |i, out| {
                    let k = t.key(d, a, i, UNTITLED_KEY);
                    if k != NONE {
                        out.push(k);
                    }
                },
            );
            if t == ActionTable::Pages
                && let Some(first) = self.first_urls.as_mut()
            {
                for i in actions.clone() {
                    if a.a_kind[i] == HitType::Pageview {
                        first.page_view(d, date, a.a_url[i]);
                    }
                }
            }
            for &k in &self.scratch.keys {
                counts.at(k).1.insert(visitor);
            }
            for (side, keys) in self.scratch.bounds.iter().enumerate() {
                for &k in keys {
                    counts.at(k).2[side].insert(visitor);
                }
            }
        }
        let user = a.fields[VField::User as usize][v as usize];
        // Counts the visit into a row, with its visitor and user if the
        // report shows them.
        let count_cut = |row: &mut GroupSums, (vs, us): (bool, bool), (n, length): (u64, u32)| {
            row.0.add_visit(n, length);
            if vs {
                row.1.insert(visitor);
            }
            if us && user != NONE {
                row.2.insert(user);
            }
        };
        let count =
            |row: &mut GroupSums, shown: (bool, bool)| count_cut(row, shown, (n as u64, length));
        for (table, rows) in self.visits.iter_mut() {
            count(rows.at(table.key(a, v as usize)), (true, true));
        }
        // Events: each event counts in its row and its subtable's row, the
        // visit once per event combination in each row it touched
        // (`EventCounts::visits`).
        for ((by, sub), rows) in self.events.iter_mut() {
            let mut touched: Vec<(GroupKey, [u32; 3])> = Vec::new();
            for i in actions.clone() {
                if a.a_kind[i] != HitType::Event {
                    continue;
                }
                let label = self.keys.event_label(a, i, *by);
                let child = (label.clone(), Some(self.keys.event_label(a, i, *sub)));
                let value = a.extra(i).ev_value;
                for key in [(label, None), child] {
                    rows.entry(key.clone()).or_default().0.add_event(value);
                    touched.push((key, crate::visit_key::event_combination(a, i)));
                }
            }
            touched.sort_unstable();
            touched.dedup();
            for (key, _) in touched {
                if let Some(row) = rows.get_mut(&key) {
                    row.0.visits += 1;
                    row.1.insert(visitor);
                }
            }
        }
        if self.groups.is_empty() {
            return;
        }
        let at = VisitAt {
            date,
            archive: a,
            visit: v,
            actions: n,
            length,
            since_last,
        };
        let referrer = std::cell::OnceCell::new();
        let campaign_urls = &mut self.campaign_urls;
        for (group, bounds, rows) in self.groups.iter_mut() {
            if *group == VisitGroup::Sections {
                // The visit cut to each section it has an action in.
                for (_, set, slot) in &self.sections {
                    if let (Some(cut), Some(slot)) =
                        (crate::archive::cut_counts(a, v, &set.urls), slot)
                    {
                        count_cut(&mut rows.rows[*slot as usize].1, group.distinct(), cut);
                    }
                }
                continue;
            }
            let keys = self.keys;
            let key = || keys.group_key(*group, &at, bounds, &referrer);
            let campaign = |u: u32| {
                *campaign_urls
                    .entry(u)
                    .or_insert_with(|| keys.is_campaign_url(u))
            };
            let slots = match keys.group_source(*group, &at, bounds, campaign) {
                Some(source) => {
                    let slots = rows.slots_of(source, key);
                    // Every test checks that a source stands for one key.
                    debug_assert_eq!(
                        slots.map(|(s, sub)| (
                            rows.rows[s as usize].0.0.clone(),
                            sub.and_then(|x| rows.rows[x as usize].0.1.clone())
                        )),
                        key()
                    );
                    slots
                }
                None => rows.slots(key()),
            };
            let Some((main, sub)) = slots else { continue };
            let shown = group.distinct();
            if let Some(sub) = sub {
                count(&mut rows.rows[sub as usize].1, shown);
            }
            count(&mut rows.rows[main as usize].1, shown);
        }
    }

    /// Counts every visit of a whole day, `date`.
    pub(crate) fn add_day(&mut self, date: chrono::NaiveDate, a: &DayArchive) {
        let by_days = VisitGroup::By(crate::visit_key::Grouping::DaysSinceLast);
        let since_last = self
            .groups
            .iter()
            .any(|(g, ..)| *g == by_days)
            .then(|| self.keys.days_since_last_of_day(a, date));
        for v in 0..a.visitor.len() {
            let (from, to) = (
                a.action_offsets[v] as usize,
                a.action_offsets[v + 1] as usize,
            );
            let since = since_last.as_ref().map(|s| s[v]);
            self.add_visit_since(date, a, v as u32, (from..to, to - from, a.length[v]), since);
        }
    }

    /// The reports counted.
    pub(crate) fn finish(self) -> Reports {
        let mut out = Reports::default();
        let urls = self
            .first_urls
            .map(|f| f.finish(self.keys.dicts))
            .unwrap_or_default();
        for (table, counts) in self.actions {
            out.actions[table as usize] = counts
                .into_entries()
                .into_iter()
                .map(|(k, (mut c, visitors, [entering, leaving]))| {
                    c.set_bound_ids(entering.into_bitmap(), leaving.into_bitmap());
                    if table == ActionTable::Pages {
                        c.url = urls.get(&k).copied();
                    }
                    let mut row = Row {
                        counts: c,
                        visitors: visitors.into_bitmap(),
                        ..Row::default()
                    };
                    row.recount();
                    (k, row)
                })
                .collect();
        }
        fn rows<K: Ord>(
            rows: impl IntoIterator<Item = (K, (DayTotals, Ids, Ids))>,
        ) -> Table<DayTotals, K> {
            rows.into_iter()
                .map(|(k, (counts, visitors, users))| {
                    let mut row = Row {
                        counts,
                        visitors: visitors.into_bitmap(),
                        users: users.into_bitmap(),
                        ..Row::default()
                    };
                    row.recount();
                    (k, row)
                })
                .collect()
        }
        for (table, r) in self.visits {
            out.visits.insert(table, rows(r.into_entries()));
        }
        for (parts, r) in self.events {
            let table = r
                .into_iter()
                .map(|(k, (counts, visitors))| {
                    let mut row = Row {
                        counts,
                        visitors: visitors.into_bitmap(),
                        ..Row::default()
                    };
                    row.recount();
                    (k, row)
                })
                .collect();
            out.events.insert(parts, table);
        }
        for (group, _, r) in self.groups {
            out.groups.insert(group, rows(r.rows));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::visit_key::{ROLLED_GROUPS, VisitAt};
    use proptest::prelude::*;

    /// One hit's varying parts, each from a small pool (so that sources
    /// and labels repeat and collide).
    type HitParts = (u8, u8, [u8; 8], u8, [u8; 4]);

    fn line(i: usize, (visitor, minutes, p, kind, c): HitParts) -> String {
        let pick = |xs: &[&str], n: u8| xs[usize::from(n) % xs.len()].to_owned();
        let mut hit = serde_json::json!({
            "site": 1,
            "ts": 1_735_700_000 + i64::from(minutes) * 600 + i as i64,
            "visitor": format!("v{visitor}"),
            "url": pick(&[
                "http://x.org/",
                "http://x.org/a",
                "http://x.org/a/b?q=1",
                "http://y.org/",
                "http://x.org/?pk_campaign=Spring",
                "http://x.org/a?utm_campaign=fall&utm_term=k&utm_medium=mail",
            ], p[0]),
            "title": pick(&["", "A", "B"], p[1]),
        });
        let o = hit.as_object_mut().unwrap();
        let mut set = |k: &str, xs: &[&str], n: u8| {
            let v = pick(xs, n);
            if !v.is_empty() {
                o.insert(k.into(), v.into());
            }
        };
        set("browser", &["", "Chrome", "Firefox"], p[2]);
        set("browser_version", &["", "1.0", "2.0"], p[3]);
        set("os", &["", "Windows", "Mac"], p[4]);
        set("os_version", &["", "10", "11"], p[5]);
        set("resolution", &["", "800x600", "1024x768"], p[6]);
        set("language", &["", "en-gb", "en-us", "fr"], p[7]);
        set("country", &["", "gb", "fr"], c[0]);
        set("region", &["", "ENG", "IDF"], c[1]);
        set("region_name", &["", "England", "Paris"], c[2]);
        set("city", &["", "London", "Paris"], c[3]);
        set("device", &["", "desktop", "smartphone"], c[0] >> 2);
        set("device_brand", &["", "Apple", "Samsung"], c[1] >> 2);
        set("device_model", &["", "iPhone", "Galaxy"], c[2] >> 2);
        set("browser_engine", &["", "Blink", "Gecko"], c[3] >> 2);
        set("local_hour", &["", "3", "17"], p[0] >> 2);
        set(
            "referrer",
            &[
                "",
                "https://www.google.com/search?q=a",
                "http://news.example/x",
                "https://facebook.com/",
            ],
            p[1] >> 2,
        );
        set("referrer_name", &["", "Engine", "Site"], p[2] >> 2);
        set("referrer_keyword", &["", "kw", "other"], p[3] >> 2);
        set("user", &["", "u1", "u2"], p[4] >> 2);
        match kind % 4 {
            1 => {
                o.insert("referrer_type".into(), "campaign".into());
                let campaign = serde_json::json!({
                    "name": pick(&["spring", "fall"], p[5] >> 2),
                    "source": pick(&["mail", "ads"], p[6] >> 2),
                    "keyword": pick(&["k1", "k2"], p[7] >> 2),
                });
                o.insert("campaign".into(), campaign);
            }
            2 => {
                o.insert("referrer_type".into(), "search".into());
            }
            3 => {
                o.insert("type".into(), "download".into());
            }
            _ => {}
        }
        hit.to_string()
    }

    proptest! {
        /// An id map keeps each id's value apart, dense ids and sparse
        /// ones alike, as a hash map does, and gives back every id once.
        #[test]
        fn an_id_map_equals_a_hash_map(
            ops in prop::collection::vec(
                (prop_oneof![0..64u32, (IdMap::<u64>::DENSE - 4)..(IdMap::<u64>::DENSE + 4), Just(NONE), Just(NONE - 1)], 1..9u64),
                0..300,
            ),
        ) {
            let mut map = IdMap::<u64>::new();
            let mut model = std::collections::BTreeMap::new();
            for (k, x) in ops {
                *map.at(k) += x;
                *model.entry(k).or_insert(0) += x;
            }
            let mut got = map.into_entries();
            got.sort_unstable();
            prop_assert_eq!(got, model.into_iter().collect::<Vec<_>>());
        }
    }

    proptest! {
        /// A row's ids give the bitmap of the ids inserted, whether they
        /// stay a list or turn into bits (few ids over a wide range, many
        /// over a narrow one, and ids above those already set).
        #[test]
        fn ids_give_the_ids_inserted(
            first in prop_oneof![
                prop::collection::vec(0..200u32, 0..2000),
                prop::collection::vec(0..100_000u32, 0..300),
            ],
            then in prop::collection::vec(prop_oneof![
                8 => 0..256u32,
                1 => 256..1024u32,
                1 => 60_000..70_000u32,
                1 => Just(u32::MAX - 1),
            ], 0..300),
        ) {
            let ids: Vec<u32> = first.into_iter().chain(then).collect();
            let mut got = Ids::default();
            for &i in &ids {
                got.insert(i);
            }
            let turned = matches!(got, Ids::Bits(..));
            let want: RoaringBitmap = ids.iter().copied().collect();
            prop_assert_eq!(got.into_bitmap(), want, "bits: {}", turned);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// Two visits with the same source have the same key in every
        /// grouped report a rollup keeps: counting by source is counting
        /// by key.
        #[test]
        fn a_group_source_stands_for_one_key(
            hits in prop::collection::vec(
                (0..6u8, 0..200u8, any::<[u8; 8]>(), any::<u8>(), any::<[u8; 4]>()),
                1..160,
            ),
        ) {
            let text: String = hits.iter().enumerate().map(|(i, h)| line(i, *h) + "\n").collect();
            let mut engine = crate::Engine::in_memory();
            engine.add_site(crate::SiteConfig::new(1)).unwrap();
            let outcome = engine.ingest_ndjson(text.as_bytes()).unwrap();
            prop_assert_eq!(outcome.accepted, hits.len() as u64);
            engine.seal().unwrap();
            let state = engine.site_state(1).unwrap();
            let keys = state.visit_keys();
            let mut seen = std::collections::HashMap::new();
            let visits: usize = state.days.values().map(|a| a.visitor.len()).sum();
            prop_assert!(visits > 0, "{} days, {} live", state.days.len(), state.live.len());
            for (date, a) in &state.days {
                for v in 0..a.visitor.len() as u32 {
                    let actions = a.actions_of(v);
                    let at = VisitAt {
                        date: *date,
                        archive: a,
                        visit: v,
                        actions: actions.clone().count(),
                        length: a.length[v as usize],
                        since_last: None,
                    };
                    for group in ROLLED_GROUPS {
                        let bounds = match group {
                            VisitGroup::By(g) => ranges(g),
                            _ => Vec::new(),
                        };
                        let campaign = |u| keys.is_campaign_url(u);
                        let Some(source) = keys.group_source(group, &at, &bounds, campaign) else {
                            continue;
                        };
                        let key =
                            keys.group_key(group, &at, &bounds, &std::cell::OnceCell::new());
                        let first = seen.entry((group, source)).or_insert_with(|| key.clone());
                        prop_assert_eq!(&*first, &key, "{:?} {:?}", group, source);
                    }
                }
            }
        }
    }
}
