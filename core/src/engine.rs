//! The engine: sites, their dictionaries, day archives and visitor table;
//! ingestion of typed hits and NDJSON in batches.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::sync::Arc;

use chrono::NaiveDate;
use chrono_tz::Tz;

use crate::archive::DayArchive;
use crate::error::{Error, Result};
use crate::history::{History, runs};
use crate::hit::{Hit, HitRef, HitView};
use crate::intern::Bucketed;
use crate::ndjson::{Rejected, parse_line};
use crate::raw::{RawHit, SideArena, SiteDicts};
use crate::site::SiteConfig;
use crate::store::wal::{self, Wal};
use crate::store::{LiveMarks, Marks, Store};

/// What an ingest call did: how many hits went in, and every line that did
/// not, with its line number and reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct IngestOutcome {
    /// Hits accepted and archived.
    pub accepted: u64,
    /// Lines (or typed hits, by 1-based position) that were rejected.
    pub rejected: Vec<Rejected>,
    /// Batches (chunks of the input) committed by this call.
    pub batches: u64,
    /// Batches skipped because the store had already committed the same
    /// content (or batch id): a re-run of the same input.
    pub skipped_batches: u64,
    /// Lines inside the skipped batches, blank ones not counted (not
    /// parsed again: what `accepted` plus `rejected` counted the first
    /// time).
    pub skipped_lines: u64,
    /// A last line without its `\n` that is not (yet) whole JSON, left for
    /// the next read of a growing input ([`Engine::ingest_ndjson_resuming`]):
    /// 1 or 0.
    pub held_back: u64,
}

/// How [`Engine::ingest_ndjson_with`] and [`Engine::ingest_with`] read and
/// commit.
///
/// NDJSON is read in chunks of about [`IngestOptions::chunk_bytes`] (cut at
/// line ends), each committed as one batch: memory stays bounded whatever
/// the input's size, and each chunk is atomic. Every batch has an identity,
/// the hash of its bytes or `batch_id#n`; the store remembers the
/// identities it committed and skips a repeat, so re-sending a file (a
/// cron retry, a re-run notebook cell) counts nothing twice, and an
/// interrupted ingest resumes where it stopped when run again.
///
/// # Examples
/// ```
/// use hitmap::{Engine, IngestOptions, SiteConfig};
/// let mut e = Engine::in_memory();
/// e.add_site(SiteConfig::new(1))?;
/// let input = b"{\"site\":1,\"visitor\":\"v\",\"ts\":1717200000,\"url\":\"https://x.org/\"}\n";
/// assert_eq!(e.ingest_ndjson(&input[..])?.accepted, 1);
/// let again = e.ingest_ndjson(&input[..])?;
/// assert_eq!((again.accepted, again.skipped_batches), (0, 1));
/// let forced = e.ingest_ndjson_with(&input[..], &IngestOptions::default().force(true))?;
/// assert_eq!(forced.accepted, 1);
/// # Ok::<(), hitmap::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestOptions {
    chunk_bytes: usize,
    force: bool,
    batch_id: Option<String>,
    cursor: Option<(String, String)>,
}

impl Default for IngestOptions {
    fn default() -> IngestOptions {
        IngestOptions {
            chunk_bytes: DEFAULT_CHUNK_BYTES,
            force: false,
            batch_id: None,
            cursor: None,
        }
    }
}

/// NDJSON bytes per committed chunk by default: 64 MiB, about 350,000
/// lines of 180 bytes. The identity of a chunk depends on its bytes, so a
/// re-run is recognised when it uses the same chunk size.
pub const DEFAULT_CHUNK_BYTES: usize = 64 << 20;

impl IngestOptions {
    /// Bytes of NDJSON per committed chunk (at least one line).
    pub fn chunk_bytes(mut self, bytes: usize) -> IngestOptions {
        self.chunk_bytes = bytes.max(1);
        self
    }

    /// Ingest even what the store already committed.
    pub fn force(mut self, force: bool) -> IngestOptions {
        self.force = force;
        self
    }

    /// A caller-given identity for the input (a file name with its date,
    /// an ETL run id): chunk `n` is `id#n`. Without it, each chunk's
    /// identity is the hash of its bytes.
    pub fn batch_id(mut self, id: impl Into<String>) -> IngestOptions {
        self.batch_id = Some(id.into());
        self
    }

    /// An importer's checkpoint, recorded in the same commit as the hits
    /// of [`Engine::ingest_with`] (even when none of them is accepted), so
    /// that a re-run resumes exactly after what is in. Read it back with
    /// [`Engine::cursor`].
    pub fn cursor(mut self, name: impl Into<String>, value: impl Into<String>) -> IngestOptions {
        self.cursor = Some((name.into(), value.into()));
        self
    }
}

/// The rollups (`rollup.rs`) a commit that writes `days` of a site
/// writes (`Some` bytes) or removes (`None`), by span and first day:
/// every month of those days, and every other month
/// whose rollup the manifest (`files`, before the commit) lacks or holds
/// stale (a day newer than it, or a day added or removed since); then
/// every year of those months, and every stale year, from its months'
/// rollups. A month with a live or damaged day gets none until it is
/// sealed or repaired, and neither does its year; a reader then answers
/// them from their days.
///
/// With `grown` (the days only gained hits: ingest, seals, imports; not
/// erasure), a month whose current rollup stands for its other days is
/// updated from it ([`grown_rollup`]); otherwise it is built from all of
/// the month's days.
pub(crate) fn rollup_changes(
    site: &SiteState,
    files: Option<&crate::store::SiteFiles>,
    days: &[NaiveDate],
    grown: bool,
    reports: bool,
) -> BTreeMap<(crate::rollup::Span, NaiveDate), Option<Vec<u8>>> {
    let mut out = BTreeMap::new();
    shelf_changes(site, files, days, grown, false, &mut out);
    if reports {
        shelf_changes(site, files, days, grown, true, &mut out);
    }
    goal_changes(site, files, days, &mut out);
    // Encoded (and packed) on every core: a month's and a year's report
    // rollups are the largest.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    crate::par::map_jobs(out.into_iter().collect(), threads, |(key, r)| {
        (key, r.map(|r| crate::store::format::encode_rollup(&r)))
    })
    .into_iter()
    .collect()
}

/// What a commit does to each rollup: write this one, or remove it.
type RollupChanges =
    BTreeMap<(crate::rollup::Span, NaiveDate), Option<std::sync::Arc<crate::rollup::Rollup>>>;

/// [`rollup_changes`] of the summary rollups, or (`reports`) of the
/// report rollups: those are kept only for complete periods (the site
/// has a later day), so a month that still grows each day is not
/// rebuilt from its days at every commit.
fn shelf_changes(
    site: &SiteState,
    files: Option<&crate::store::SiteFiles>,
    days: &[NaiveDate],
    grown: bool,
    reports: bool,
    out: &mut RollupChanges,
) {
    use crate::rollup::{Rollup, Span};
    let dates = site.dates();
    let (month_span, year_span) = (
        Span::Month.with_reports(reports),
        Span::Year.with_reports(reports),
    );
    let latest = dates.last().copied();
    let within = |span: Span, start: NaiveDate| dates.range(start..=span.end(start));
    // A period whose rollup the manifest lacks, or holds stale.
    let stale = |span: Span, start: NaiveDate| {
        let Some(f) = files else { return true };
        let Some(&g) = f.rollups_of(span).get(&start) else {
            return true;
        };
        let range = start..=span.end(start);
        f.days.range(range.clone()).any(|(_, &dg)| dg > g)
            || f.days.range(range).count() != within(span, start).count()
    };
    let had = |span: Span, start: &NaiveDate| {
        files.is_some_and(|f| f.rollups_of(span).contains_key(start))
    };
    let periods = |span: Span| {
        let mut out: std::collections::BTreeSet<NaiveDate> =
            days.iter().map(|d| span.start_of(*d)).collect();
        let mut last = None;
        for date in &dates {
            let p = span.start_of(*date);
            if last != Some(p) {
                last = Some(p);
                if !out.contains(&p) && stale(span, p) {
                    out.insert(p);
                }
            }
        }
        // Periods whose days are all gone lose their rollup.
        if let Some(f) = files {
            out.extend(
                f.rollups_of(span)
                    .keys()
                    .filter(|p| within(span, **p).next().is_none()),
            );
        }
        out
    };
    let unsettled = |span: Span, start: NaiveDate| {
        let range = start..=span.end(start);
        site.live.range(range.clone()).next().is_some()
            || site.damaged.range(range).next().is_some()
            || (reports && latest.is_none_or(|l| l <= span.end(start)))
    };
    // Months: built or updated here (`None`: the month has none after
    // this commit).
    let mut months: BTreeMap<NaiveDate, Option<std::sync::Arc<Rollup>>> = BTreeMap::new();
    // The stored report rollups of the months updated here, as they were.
    let mut olds: BTreeMap<NaiveDate, Rollup> = BTreeMap::new();
    // Months rebuilt from their days, on every core (a commit of a year
    // builds twelve).
    let mut rebuild = Vec::new();
    for m in periods(month_span) {
        let built = if unsettled(month_span, m) {
            None
        } else {
            let end = month_span.end(m);
            let changed: Vec<NaiveDate> = days
                .iter()
                .copied()
                .filter(|d| (m..=end).contains(d))
                .collect();
            let grew = (grown && !changed.is_empty())
                .then(|| {
                    files.and_then(|f| grown_rollup(site, f, month_span, m, &changed, &mut olds))
                })
                .flatten();
            if grew.is_none() {
                rebuild.push(m);
            }
            grew
        };
        months.insert(m, built.map(std::sync::Arc::new));
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let rebuilt = crate::par::map_jobs(rebuild, threads, |m| {
        // The month's days: held, cached or read.
        let parts = site.parts(m, month_span.end(m)).unwrap_or_default();
        let keys = site.visit_keys();
        let whole = !parts.is_empty() && parts.len() == within(month_span, m).count();
        let built = whole.then(|| {
            Rollup::build(
                m,
                parts.iter().map(|p| (p.date, &*p.archive)),
                reports.then_some(&keys),
            )
        });
        (m, built)
    });
    for (m, built) in rebuilt {
        months.insert(m, built.map(std::sync::Arc::new));
    }
    // Years: from their months' rollups, this commit's or the stored
    // current ones.
    for y in periods(year_span) {
        if reports && grown && !unsettled(year_span, y) {
            // A complete year whose months only gained hits: its stored
            // report rollup updated month by month, not rebuilt.
            if let Some(year) = files.and_then(|f| grown_year(site, f, y, &months, &olds)) {
                out.insert((year_span, y), Some(std::sync::Arc::new(year)));
                continue;
            }
        }
        let mut parts = Vec::new();
        let mut whole = !unsettled(year_span, y);
        let mut m = None;
        for date in within(year_span, y) {
            if !whole {
                break;
            }
            let start = month_span.start_of(*date);
            if m == Some(start) {
                continue;
            }
            m = Some(start);
            let r = match months.get(&start) {
                Some(built) => built.clone(),
                None => files.and_then(|f| {
                    let &g = f.rollups_of(month_span).get(&start)?;
                    let r = site
                        .lazy
                        .as_ref()?
                        .stored_rollup(site, month_span, start, g)?;
                    let mut r = (!stale(month_span, start)
                        && r.dates.iter().eq(within(month_span, start)))
                    .then(|| unpacked(site, r))
                    .flatten()?;
                    // Its history-dependent reports hold only while its
                    // month's history page is no newer than it: else the
                    // year goes without them.
                    let end = month_span.end(start);
                    if site
                        .history()
                        .newest_within(start, end)
                        .is_some_and(|n| n > g)
                        && let Some(reports) = &mut r.reports
                    {
                        reports.groups.retain(|group, _| !group.history());
                    }
                    Some(std::sync::Arc::new(r))
                }),
            };
            match r {
                Some(r) => parts.push(r),
                None => whole = false,
            }
        }
        if whole && !parts.is_empty() {
            let year = Rollup::year(y, parts.iter().map(|r| &**r), reports);
            out.insert((year_span, y), Some(std::sync::Arc::new(year)));
        } else if had(year_span, &y) {
            out.insert((year_span, y), None);
        }
    }
    for (m, r) in months {
        put_rollup(out, (month_span, m), r, had(month_span, &m));
    }
}

/// Notes a period's rollup in a commit's changes: written when built,
/// removed when not built and the manifest `had` one.
fn put_rollup(
    out: &mut RollupChanges,
    key: (crate::rollup::Span, NaiveDate),
    built: Option<std::sync::Arc<crate::rollup::Rollup>>,
    had: bool,
) {
    if built.is_some() || had {
        out.insert(key, built);
    }
}

/// [`rollup_changes`] of the goal rollups: the complete months and years
/// of a site with goals or ecommerce, counted with its goal definitions,
/// new and returning visits told apart. A period's goal rollup is
/// counted again when a commit writes one of its days, rewrites its
/// visitor history page (new and returning visits) or moves one of its
/// orders' ids to an earlier order (an id counts once in the site: a late
/// visit can take it from a period whose days stay as they were), and
/// every one of them when the goal definitions changed or the order
/// index was set whole; it goes when its period is no longer complete
/// and settled, or the site no longer has goals.
fn goal_changes(
    site: &SiteState,
    files: Option<&crate::store::SiteFiles>,
    days: &[NaiveDate],
    out: &mut RollupChanges,
) {
    use crate::rollup::{Rollup, Span};
    use std::collections::BTreeSet;
    use std::sync::Arc;
    let (month_span, year_span) = (Span::MonthGoals, Span::YearGoals);
    let had = |span: Span, start: &NaiveDate| {
        files.is_some_and(|f| f.rollups_of(span).contains_key(start))
    };
    let stored = |span: Span| -> BTreeSet<NaiveDate> {
        files.map_or_else(BTreeSet::new, |f| {
            f.rollups_of(span).keys().copied().collect()
        })
    };
    if !site.config.has_conversions() {
        for span in [month_span, year_span] {
            for start in stored(span) {
                out.insert((span, start), None);
            }
        }
        return;
    }
    let key = crate::goal_sums::goals_key(&site.config.goals, site.config.ecommerce);
    let dates = site.dates();
    let latest = dates.last().copied();
    let within = |span: Span, start: NaiveDate| dates.range(start..=span.end(start));
    let (pages, _) = site.history.changes();
    let dirty: BTreeSet<NaiveDate> = pages.iter().map(|(m, _)| *m).collect();
    // Months whose orders lost their id to an earlier order since the
    // last commit (their days stay as they were), or every month when
    // the order index was set whole.
    let (reset, moved) = site.history.orders_moved();
    let moved: BTreeSet<NaiveDate> = moved
        .iter()
        .map(|ts| month_span.start_of(site.local_date(*ts)))
        .collect();
    let stale = |span: Span, start: NaiveDate| {
        if site.goals_changed || reset {
            return true;
        }
        if moved.range(start..=span.end(start)).next().is_some() {
            return true;
        }
        let Some(f) = files else { return true };
        let Some(&g) = f.rollups_of(span).get(&start) else {
            return true;
        };
        let range = start..=span.end(start);
        f.days.range(range.clone()).any(|(_, &dg)| dg > g)
            || f.days.range(range.clone()).count() != within(span, start).count()
            || f.pages.range(range.clone()).any(|(_, &pg)| pg > g)
            || dirty.range(range.clone()).next().is_some()
            || days.iter().any(|d| range.contains(d))
    };
    let settled = |span: Span, start: NaiveDate| {
        let range = start..=span.end(start);
        site.live.range(range.clone()).next().is_none()
            && site.damaged.range(range).next().is_none()
            && latest.is_some_and(|l| l > span.end(start))
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    // The report rows' keys read every column group.
    let cols = crate::archive::Columns::ALL;
    let build_month = |m: NaiveDate| -> Option<Rollup> {
        let parts = site.parts_on(m, month_span.end(m), threads, cols).ok()?;
        if parts.is_empty() || parts.len() != within(month_span, m).count() {
            return None;
        }
        Some(Rollup::build_goals(
            m,
            parts.iter().map(|p| (p.date, &*p.archive)),
            &site.visit_keys(),
            site.history(),
        ))
    };
    // Months counted (or gone) here.
    let mut months: BTreeMap<NaiveDate, Option<Arc<Rollup>>> = BTreeMap::new();
    let mut starts: BTreeSet<NaiveDate> = dates.iter().map(|d| month_span.start_of(*d)).collect();
    starts.extend(stored(month_span));
    let stale_months: Vec<NaiveDate> = starts
        .into_iter()
        .filter(|m| stale(month_span, *m))
        .collect();
    // Months count on every core (each reads its days on one thread).
    let built = crate::par::map_jobs(stale_months, threads, |m| {
        let built = settled(month_span, m).then(|| build_month(m)).flatten();
        (m, built.map(Arc::new))
    });
    months.extend(built);
    let mut years: BTreeSet<NaiveDate> = dates.iter().map(|d| year_span.start_of(*d)).collect();
    years.extend(stored(year_span));
    for y in years {
        let end = year_span.end(y);
        if !stale(year_span, y) && months.range(y..=end).next().is_none() {
            continue;
        }
        let mut parts: Vec<Arc<Rollup>> = Vec::new();
        let mut whole = settled(year_span, y);
        let mut last = None;
        for date in within(year_span, y) {
            let m = month_span.start_of(*date);
            if !whole || last == Some(m) {
                continue;
            }
            last = Some(m);
            let r = match months.get(&m) {
                Some(built) => built.clone(),
                None => files.and_then(|f| {
                    let &g = f.rollups_of(month_span).get(&m)?;
                    site.lazy.as_ref()?.stored_rollup(site, month_span, m, g)
                }),
            };
            match r {
                Some(r) => parts.push(r),
                None => whole = false,
            }
        }
        let year = whole
            .then(|| Rollup::year_goals(y, parts.iter().map(|r| &**r), key))
            .flatten();
        put_rollup(out, (year_span, y), year.map(Arc::new), had(year_span, &y));
    }
    for (m, r) in months {
        put_rollup(out, (month_span, m), r, had(month_span, &m));
    }
}

/// Month `m`'s new rollup from its current one, when `changed` (days of
/// `m` this commit writes, each held in `site.days`) only gained hits:
/// each changed day's stored totals come out and its new totals go in,
/// the maximum is the larger of the two (a day that gains hits never
/// loses actions from a visit: visits only merge), and the visitor and
/// user bitmaps take the changed days' (a superset of what they had: a
/// day whose users lost one, when an earlier hit gave a visit another
/// user, returns `None`).
/// `None` when the current rollup does not stand for the month's stored
/// days, a changed stored day's old totals are unknown, or it cannot be
/// read: the caller builds the month from its days.
fn grown_rollup(
    site: &SiteState,
    files: &crate::store::SiteFiles,
    span: crate::rollup::Span,
    m: NaiveDate,
    changed: &[NaiveDate],
    olds: &mut BTreeMap<NaiveDate, crate::rollup::Rollup>,
) -> Option<crate::rollup::Rollup> {
    use crate::rollup::Rollup;
    let lazy = site.lazy.as_ref()?;
    let g = *files.rollups_of(span).get(&m)?;
    let end = span.end(m);
    let stored: Vec<NaiveDate> = files
        .days
        .range(m..=end)
        .filter(|(_, dg)| **dg <= g)
        .map(|(d, _)| *d)
        .collect();
    let mut r = unpacked(site, lazy.stored_rollup(site, span, m, g)?)?;
    let in_month = files.days.range(m..=end).count();
    if r.dates != stored || stored.len() != in_month {
        return None;
    }
    if span.reports() {
        // Its year is updated from it next (`grown_year`).
        olds.insert(m, r.clone());
    }
    for d in changed {
        let new = site.days.get(d)?;
        let had = stored.binary_search(d).is_ok();
        if span.reports() {
            let new = Rollup::build(m, [(*d, new)], Some(&site.visit_keys()));
            if had {
                r.regrow(site.held_reports.get(d)?, &new)?;
            } else {
                // A day before the month's last may name a page row's URL.
                if !r.adds_in_order(&new) {
                    return None;
                }
                r.add(&new);
            }
            continue;
        }
        if had {
            let old = site.held_from.get(d)?;
            // A visit's user can change when an earlier hit joins it:
            // the month's users are then rebuilt from its days.
            if !old.users.is_subset(&new.users) {
                return None;
            }
            r.totals = r.totals.without(&old.totals)?;
        }
        r.totals.add(&new.totals);
        r.visitors |= &new.visitors;
        r.users |= &new.users;
    }
    r.dates.extend_from_slice(changed);
    r.dates.sort_unstable();
    r.dates.dedup();
    if let Some(reports) = &mut r.reports {
        // The batch may have changed the visit counts of the month's
        // other days too: those reports are left to the days until the
        // month is built from them again.
        reports.groups.retain(|g, _| !g.history());
    }
    Some(r)
}

/// Year `y`'s new report rollup from its current one, when this commit's
/// months of it (`months`, each with its new report rollup; `olds`, the
/// stored ones they were updated from) only gained hits: each changed
/// month's current rollup comes out and its new one goes in
/// (`Rollup::regrow`, which checks that nothing was lost), a new month is
/// added; the reports that depend on the visitor history are dropped (a
/// new or grown month changes the visit counts of the months after it). `None` when the year's or a changed month's stored
/// rollup does not stand for its stored days, a changed month has no new
/// rollup, or a check fails: the caller builds the year from its months.
fn grown_year(
    site: &SiteState,
    files: &crate::store::SiteFiles,
    y: NaiveDate,
    months: &BTreeMap<NaiveDate, Option<std::sync::Arc<crate::rollup::Rollup>>>,
    olds: &BTreeMap<NaiveDate, crate::rollup::Rollup>,
) -> Option<crate::rollup::Rollup> {
    use crate::rollup::Span;
    let lazy = site.lazy.as_ref()?;
    // A stored rollup of `span` standing for exactly its stored days.
    let current = |span: Span, start: NaiveDate| -> Option<crate::rollup::Rollup> {
        let g = *files.rollups_of(span).get(&start)?;
        let days = files.days.range(start..=span.end(start));
        if days.clone().any(|(_, &dg)| dg > g) {
            return None;
        }
        let r = unpacked(site, lazy.stored_rollup(site, span, start, g)?)?;
        r.dates.iter().eq(days.map(|(d, _)| d)).then_some(r)
    };
    let mut year = current(Span::YearReports, y)?;
    for (&m, new) in months.range(y..=Span::Year.end(y)) {
        let new = new.as_ref()?;
        if files.days.range(m..=Span::Month.end(m)).next().is_none() {
            if !year.adds_in_order(new) {
                return None;
            }
            year.add(new);
            continue;
        }
        let read;
        let old = match olds.get(&m) {
            Some(old) => old,
            None => {
                read = current(Span::MonthReports, m)?;
                &read
            }
        };
        year.regrow(old, new)?;
        year.dates.extend_from_slice(&new.dates);
    }
    year.dates.sort_unstable();
    year.dates.dedup();
    if let Some(reports) = &mut year.reports {
        // A month added or grown changes the visit counts of the year's
        // later months too (`Reports::regrow` says the same of a changed
        // day): those reports are left to the days until the year is
        // built from its months again.
        reports.groups.retain(|g, _| !g.history());
    }
    Some(year)
}

/// A stored rollup with its reports unpacked (with their bitmaps) into
/// `reports`, for a writer that updates or adds it up; `None` if they
/// cannot be read.
fn unpacked(
    site: &SiteState,
    r: std::sync::Arc<crate::rollup::Rollup>,
) -> Option<crate::rollup::Rollup> {
    let mut r = std::sync::Arc::unwrap_or_clone(r);
    if let Some(stored) = r.stored.take() {
        // Reports built by older rules are rebuilt from the days.
        if !stored.current {
            return None;
        }
        let d = &site.dicts;
        let reports =
            crate::store::format::decode_reports(&stored, d.visitors.len(), d.users.len());
        r.reports = Some(Box::new(reports.ok()?));
    }
    Some(r)
}

/// Everything hitmap keeps for one site.
#[derive(Debug)]
pub(crate) struct SiteState {
    pub config: SiteConfig,
    pub tz: Tz,
    pub dicts: SiteDicts,
    pub days: BTreeMap<NaiveDate, DayArchive>,
    /// Days whose stored file could not be read: (file, reason).
    pub damaged: BTreeMap<NaiveDate, (String, String)>,
    /// The visitor history (`history.rs`): answers new/returning,
    /// visitCount and days since the last visit at query time, so late
    /// data never forces other days to rebuild.
    pub history: History,
    /// Days taking small batches: the sealed archive's mask and the live
    /// parts (`live.rs`).
    pub live: BTreeMap<NaiveDate, crate::live::LiveDay>,
    /// The stored days not held in `days` (`store/lazy.rs`), read through
    /// a cache when a query or a batch needs them; `None` for an
    /// in-memory engine, which holds every day in `days`.
    pub lazy: Option<crate::store::lazy::LazyDays>,
    /// The totals and users of each held day as its stored file has them
    /// (a writer reads a day into `days` before a batch changes it): a
    /// month's rollup is then updated from its old rollup, not rebuilt
    /// from every day of the month (`rollup_changes`).
    pub held_from: BTreeMap<NaiveDate, HeldDay>,
    /// Each held day's own report rollup as its stored file has it, for
    /// days of a month with a report rollup: that one is then updated
    /// (`Rollup::regrow`), not rebuilt from every day of the month.
    pub held_reports: BTreeMap<NaiveDate, crate::rollup::Rollup>,
    /// Rollups `Engine::verify` found disagreeing with their days: (file,
    /// why).
    pub rollup_damage: Vec<(String, String)>,
    /// Whether its goal definitions changed since the last commit: the
    /// next commit counts every goal rollup again (`goal_changes`).
    pub goals_changed: bool,
    /// On a worker of a distributed build: each dictionary's length as
    /// installed (`distributed.rs`), which its ingests must not change,
    /// and the installed dictionaries' identity.
    pub installed: Option<(Vec<usize>, u64)>,
}

/// What a month's rollup took from a held day when it was stored.
#[derive(Debug, Clone)]
pub(crate) struct HeldDay {
    pub totals: crate::archive::DayTotals,
    pub users: roaring::RoaringBitmap,
}

impl HeldDay {
    pub(crate) fn of(a: &crate::archive::DayArchive) -> HeldDay {
        HeldDay {
            totals: a.totals,
            users: a.users.clone(),
        }
    }
}

impl crate::intern::SitesDicts for BTreeMap<u32, SiteState> {
    fn dicts_mut(&mut self, site: u32) -> Option<&mut SiteDicts> {
        self.get_mut(&site).map(|s| &mut s.dicts)
    }
}

impl crate::store::lazy::SiteHead for SiteState {
    fn dicts(&self) -> &SiteDicts {
        &self.dicts
    }

    fn history(&self) -> &History {
        &self.history
    }

    fn busy(&self, range: std::ops::RangeInclusive<NaiveDate>) -> bool {
        self.days.range(range.clone()).next().is_some()
            || self.live.range(range.clone()).next().is_some()
            || self.damaged.range(range).next().is_some()
    }
}

impl SiteState {
    pub(crate) fn new(config: SiteConfig, tz: Tz) -> SiteState {
        let mut dicts = SiteDicts::default();
        for d in &config.dimensions {
            dicts.dim_names.intern(d);
        }
        SiteState {
            config,
            tz,
            dicts,
            days: BTreeMap::new(),
            damaged: BTreeMap::new(),
            history: History::default(),
            live: BTreeMap::new(),
            lazy: None,
            held_from: BTreeMap::new(),
            held_reports: BTreeMap::new(),
            rollup_damage: Vec::new(),
            goals_changed: false,
            installed: None,
        }
    }

    /// Takes a new configuration, noting whether its goals changed.
    pub(crate) fn set_config(&mut self, config: SiteConfig) {
        self.goals_changed |=
            self.config.goals != config.goals || self.config.ecommerce != config.ecommerce;
        self.config = config;
    }

    /// The visitor history.
    pub(crate) fn history(&self) -> &History {
        &self.history
    }

    /// The site's per-visit lookups (`visit_key.rs`).
    pub(crate) fn visit_keys(&self) -> crate::visit_key::VisitKeys<'_> {
        crate::visit_key::VisitKeys::new(&self.dicts, &self.config, self.tz, Some(&self.history))
    }

    /// Holds the history's pages from `date`'s month on (read if they
    /// were not), before a batch changes them.
    pub(crate) fn hold_history_from(&mut self, date: NaiveDate) -> Result<()> {
        self.history.hold_from(crate::history::month_of(date))
    }

    /// The site's custom dimensions with their Matomo ids
    /// (`SiteConfig::numbered_dimensions`).
    pub(crate) fn numbered_dimensions(&self) -> Vec<(u32, &str)> {
        self.config
            .numbered_dimensions(self.dicts.custom_dim_names())
    }

    /// Builds the visitor history from all held day archives (after an
    /// erasure rebuilt them), with each archive's `before` column.
    pub(crate) fn recompute_visitor_days(&mut self) {
        let mut noted = crate::history::Totals::default();
        let by_string = crate::history::by_visitor_string(&self.dicts.visitors);
        for a in self.days.values() {
            noted.note_day(a, &by_string);
        }
        let (pages, totals) = crate::history::pages_of_days(
            self.days.iter().map(|(d, a)| (*d, a.visitor.as_slice())),
            noted,
        );
        self.history.replace(pages, totals);
        for (date, a) in &mut self.days {
            // Every page is held: nothing to read, nothing to fail.
            let _ = self.history.fill_before(*date, a);
        }
    }

    /// The site-local date of a Unix timestamp.
    pub(crate) fn local_date(&self, ts: i64) -> NaiveDate {
        crate::site::local_date(&self.tz, ts)
    }

    /// Rebuilds the given days with their new hits (custom dimensions in
    /// `dims`) on up to `threads` threads (days are independent), then
    /// brings the visitor table up to date in one merge per touched
    /// visitor.
    pub(crate) fn rebuild(
        &mut self,
        days: Vec<(NaiveDate, &mut [RawHit])>,
        side: &mut SideArena,
        threads: usize,
    ) {
        // (visitor, day, order, visits): the later order wins for a key.
        let mut updates: Vec<(u32, NaiveDate, u8, u32)> = Vec::new();
        // Late hits: the old archive (and live parts) give their hits back
        // first, as that changes the side arena; then every day builds.
        let mut late: Vec<(NaiveDate, Vec<RawHit>)> = Vec::new();
        let mut fresh: Vec<(NaiveDate, &mut [RawHit])> = Vec::new();
        for (date, new_hits) in days {
            if self.days.contains_key(&date) || self.live.contains_key(&date) {
                let mut hits = new_hits.to_vec();
                for v in self.take_day_hits(date, &mut hits, side) {
                    updates.push((v, date, 0, 0));
                }
                late.push((date, hits));
            } else {
                fresh.push((date, new_hits));
            }
        }
        fresh.extend(late.iter_mut().map(|(d, h)| (*d, h.as_mut_slice())));
        let (side, dicts, config) = (&*side, &self.dicts, &self.config);
        let built = crate::par::map_jobs(fresh, threads, |(date, hits)| {
            (date, DayArchive::build(hits, side, dicts, config))
        });
        for (date, archive) in built {
            self.insert_built(date, archive, &mut updates);
        }
        self.apply_visitor_updates(updates);
    }

    /// Days built elsewhere (`distributed.rs`) replace the days, and the
    /// visitor history follows, as [`SiteState::rebuild`]'s days.
    pub(crate) fn adopt(&mut self, built: Vec<(NaiveDate, DayArchive)>) {
        let mut updates: Vec<(u32, NaiveDate, u8, u32)> = Vec::new();
        for (date, archive) in built {
            if let Some(old) = self.days.remove(&date) {
                runs(&old.visitor, |v, _| updates.push((v, date, 0, 0)));
            }
            for p in self.live.remove(&date).iter().flat_map(|l| &l.parts) {
                runs(&p.archive.visitor, |v, _| updates.push((v, date, 0, 0)));
            }
            self.insert_built(date, archive, &mut updates);
        }
        self.apply_visitor_updates(updates);
    }

    /// Holds a newly built day: its visitors' updates to the history
    /// (applied by the caller), what it tells of the whole history.
    fn insert_built(
        &mut self,
        date: NaiveDate,
        mut archive: DayArchive,
        updates: &mut Vec<(u32, NaiveDate, u8, u32)>,
    ) {
        runs(&archive.visitor, |v, n| updates.push((v, date, 1, n)));
        self.history.note_day(
            &archive,
            &crate::history::by_visitor_string(&self.dicts.visitors),
        );
        archive.before = vec![0; archive.visitor.len()];
        self.days.insert(date, archive);
    }

    /// Applies `(visitor, day, order, visits)` updates to the visitor
    /// history (for one key the later order wins; 0 visits removes the
    /// day), and refreshes the `before` column of the held days from each
    /// visitor's earliest touched day on.
    pub(crate) fn apply_visitor_updates(&mut self, updates: Vec<(u32, NaiveDate, u8, u32)>) {
        // Cached days from the earliest touched one on may hold `before`
        // columns these updates change: they are read again when needed.
        if let (Some(lazy), Some(earliest)) = (&self.lazy, updates.iter().map(|u| u.1).min()) {
            lazy.cache.forget_from(lazy.site, earliest);
        }
        for (visitor, day, before) in self.history.apply(updates) {
            if let Some(a) = self.holder_mut(day, visitor) {
                let from = a.visitor.partition_point(|&x| x < visitor);
                let to = from + a.visitor[from..].partition_point(|&x| x == visitor);
                a.before[from..to].fill(before);
            }
        }
    }
}

/// One ingest call: its hits by (site, local day) bucket ([`Bucketed`]),
/// what became of each, and whether it lands as live parts.
#[derive(Default)]
pub(crate) struct Batch {
    /// The hits, their side arena and (site, day) buckets.
    pub(crate) held: Bucketed,
    outcome: IngestOutcome,
    /// Small enough to land as live parts (`live.rs`).
    live: bool,
    /// The accepted hits as NDJSON, for the write-ahead log (live
    /// batches of a store only).
    log: Vec<u8>,
    /// Whether a live batch's accepted hits go to the write-ahead log.
    to_wal: bool,
    /// Past this many accepted hits the batch is no longer live.
    limit: LiveLimit,
}

/// What JSON calls whitespace; any other character makes a line to read.
fn json_whitespace(b: &u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// The hitmap engine: add sites, ingest hits, ask queries.
///
/// # Examples
/// ```
/// use hitmap::{Engine, Hit, Query, SiteConfig};
/// let mut engine = Engine::in_memory();
/// engine.add_site(SiteConfig::new(1).time_zone("Europe/London"))?;
/// let outcome = engine.ingest([
///     Hit::pageview(1, 1_717_200_000, "a", "https://x.org/news/a"),
///     Hit::pageview(1, 1_717_200_060, "a", "https://x.org/about"),
/// ])?;
/// assert_eq!(outcome.accepted, 2);
/// let summary = engine.query(&Query::site(1).range("2024-06-01", "2024-06-01"))?.visits_summary();
/// assert_eq!((summary.nb_visits, summary.nb_actions, summary.sum_visit_length), (1, 2, 61));
/// # Ok::<(), hitmap::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct Engine {
    pub(crate) sites: BTreeMap<u32, SiteState>,
    /// Sites whose configuration or dictionaries could not be read.
    pub(crate) broken: BTreeMap<u32, Error>,
    pub(crate) store: Option<Store>,
    /// Committed batch identities of an in-memory engine (a store keeps
    /// them in its manifest).
    pub(crate) batches: BTreeMap<String, u64>,
    batch_seq: u64,
    /// Importer checkpoints of an in-memory engine.
    cursors: BTreeMap<String, String>,
    /// The write-ahead log a writer store appends small batches to,
    /// shared with its log writers ([`Engine::log_writer`]).
    wal: Option<wal::Shared>,
    /// The newest log segment whose records are in live parts: a seal
    /// may retire the segments before the first one holding a record not
    /// applied yet only if no live part holds a record from there on.
    live_segment: Option<u64>,
    /// Batch identities and cursors only the write-ahead log holds yet.
    pending: LiveMarks,
    /// Batches of at most this many hits land as live parts.
    live_limit: LiveLimit,
    /// Write-ahead log segments that could not be read: (file, reason).
    wal_damage: Vec<(String, String)>,
    /// When the unsealed log is sealed on its own (size and age).
    seal_policy: SealPolicy,
    /// A log segment vanished while it was replayed (a seal landed
    /// meanwhile): a reader opens again.
    pub(crate) wal_vanished: bool,
    /// A lazy reader's cache and options (`reader.rs`); `None` for a
    /// writer or an in-memory engine.
    pub(crate) reader: Option<crate::store::lazy::ReaderState>,
    /// A writer's day cache, which its sites share (a site added later
    /// too); `None` for a reader or an in-memory engine.
    pub(crate) day_cache: Option<Arc<crate::store::lazy::DayCache>>,
    /// Threads one query may use ([`Engine::set_query_threads`]).
    pub(crate) query_threads: crate::par::QueryThreads,
    /// Ingests only intern ([`Engine::set_dictionaries_only`]).
    pub(crate) dictionaries_only: bool,
    /// Commits leave the report rollups of completed periods out: a
    /// bulk ingest builds them once, in its last commit
    /// ([`Engine::ingest_chunks`]), rather than a month at each commit
    /// that completes one (and again when a later chunk adds to its last
    /// day).
    pub(crate) defer_report_rollups: bool,
}

/// What [`Engine::apply_logged`] did.
#[derive(Debug, Default)]
pub struct Applied {
    /// Hits added, and those refused with their position and reason.
    pub outcome: IngestOutcome,
    /// The refused hits themselves (for a damaged day): their record
    /// leaves the log at the next seal, so a caller that keeps them (a
    /// file to ingest once the day is restored) loses nothing.
    pub refused: Vec<Hit>,
}

/// How many hits a batch may have to land as live parts instead of
/// rebuilding its days (see [`Engine::set_live_limit`]).
#[derive(Debug, Clone, Copy)]
struct LiveLimit(usize);

impl Default for LiveLimit {
    fn default() -> LiveLimit {
        LiveLimit(DEFAULT_LIVE_LIMIT)
    }
}

/// Batches up to this many hits land as live parts by default.
pub const DEFAULT_LIVE_LIMIT: usize = 20_000;

/// A day's live parts are sealed once they hold this many actions and
/// half as many as the sealed archive.
pub(crate) const SEAL_MIN_ACTIONS: u64 = 100_000;

/// The write-ahead log is sealed into day files once it holds a quarter
/// of the store's files in bytes (so the disk never needs much more than
/// the data, the log and one seal's new files), within these bounds.
const SEAL_WAL_MIN: u64 = 256 << 10;
const SEAL_WAL_MAX: u64 = 64 << 20;

/// The write-ahead log is sealed at the first commit after its oldest
/// unsealed record is this old (see [`Engine::set_seal_age`]).
pub const DEFAULT_SEAL_AGE: std::time::Duration = std::time::Duration::from_secs(600);

/// When a writer seals its log on its own: by size (a share of the
/// store's bytes) and by age, in every host (the server, Python, PHP, C).
#[derive(Debug, Clone, Copy)]
struct SealPolicy {
    /// Seal once the log holds more than this many bytes.
    bytes: u64,
    /// Seal once the oldest unsealed record is this old.
    age: std::time::Duration,
    /// When the oldest unsealed record was appended.
    since: Option<std::time::Instant>,
}

impl Default for SealPolicy {
    fn default() -> SealPolicy {
        SealPolicy {
            bytes: SEAL_WAL_MIN,
            age: DEFAULT_SEAL_AGE,
            since: None,
        }
    }
}

impl SealPolicy {
    /// The size bound for a store whose files hold `store_bytes`.
    fn sized_for(&mut self, store_bytes: u64) {
        self.bytes = (store_bytes / 4).clamp(SEAL_WAL_MIN, SEAL_WAL_MAX);
    }

    fn due(&self, log_bytes: u64) -> bool {
        log_bytes > self.bytes || self.since.is_some_and(|t| t.elapsed() >= self.age)
    }
}

impl Engine {
    /// An engine that keeps everything in memory (tests, notebooks).
    pub fn in_memory() -> Engine {
        Engine::default()
    }

    /// Adds a site, or updates one. A site that already holds data keeps
    /// its time zone, visit timeout and host lists (they shape archived
    /// days); its sections and declared dimensions may change any time.
    /// An update whose configuration has no goals keeps the site's goals
    /// (they are changed with [`Engine::set_goal`] and
    /// [`Engine::remove_goal`]); one with goals replaces them. An update
    /// without a name or main URL keeps the site's.
    ///
    /// # Examples
    /// ```
    /// let mut engine = hitmap::Engine::in_memory();
    /// engine.add_site(hitmap::SiteConfig::new(1).time_zone("Europe/Paris"))?;
    /// assert!(engine.add_site(hitmap::SiteConfig::new(2).time_zone("Mars/Olympus")).is_err());
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn add_site(&mut self, mut config: SiteConfig) -> Result<()> {
        self.writable()?;
        if let Some(old) = self.sites.get(&config.id) {
            config.name = config.name.or_else(|| old.config.name.clone());
            config.main_url = config.main_url.or_else(|| old.config.main_url.clone());
            config.title_delimiter = config
                .title_delimiter
                .or_else(|| old.config.title_delimiter.clone());
        }
        if config.goals.is_empty()
            && let Some(old) = self.sites.get(&config.id)
        {
            config.goals = old.config.goals.clone();
            config.ecommerce |= old.config.ecommerce;
        }
        let (config, tz) = config.validate()?;
        let id = config.id;
        if let Some(e) = self.broken.get(&id) {
            return Err(clone_store_error(e));
        }
        match self.sites.get_mut(&config.id) {
            Some(site) if !site.dates().is_empty() => {
                let old = &site.config;
                if old.time_zone != config.time_zone
                    || old.visit_timeout != config.visit_timeout
                    || old.hosts != config.hosts
                    || old.search_engines != config.search_engines
                    || old.social_networks != config.social_networks
                {
                    return Err(Error::InvalidSite(format!(
                        "site {} already holds data: its time zone, visit timeout and host lists \
                         cannot change (sections and dimensions can)",
                        config.id
                    )));
                }
                for d in &config.dimensions {
                    site.dicts.dim_names.intern(d);
                }
                site.set_config(config);
            }
            _ => {
                let mut site = SiteState::new(config, tz);
                // A writer's new site keeps its days the way a loaded one
                // does: in the store, read through the cache.
                if let (Some(store), Some(cache)) = (&self.store, &self.day_cache) {
                    site.lazy = Some(crate::store::lazy::LazyDays::empty(
                        id,
                        store.source.clone(),
                        cache.clone(),
                    ));
                }
                self.sites.insert(id, site);
            }
        }
        self.persist(BTreeMap::from([(id, (true, Vec::new()))]))
    }

    /// Adds a goal to a site, or replaces the site's goal with its id.
    /// Every answer about the site's past and future days counts it at
    /// once: no day is rebuilt. A store counts its goal rollups (each
    /// complete month's and year's goal sums, that answer whole periods
    /// without their days) again in the same commit.
    ///
    /// # Examples
    /// ```
    /// use hitmap::{Engine, Goal, GoalMatch, PatternType, SiteConfig};
    /// let mut e = Engine::in_memory();
    /// e.add_site(SiteConfig::new(1))?;
    /// e.set_goal(1, Goal::new(1, "Jobs", GoalMatch::Url, PatternType::Contains, "/jobs/apply"))?;
    /// assert_eq!(e.site(1).unwrap().goals()[0].name(), "Jobs");
    /// assert!(e.set_goal(1, Goal::new(2, "Bad", GoalMatch::Url, PatternType::Regex, "(")).is_err());
    /// assert!(e.remove_goal(1, 1)?);
    /// assert!(e.site(1).unwrap().goals().is_empty());
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn set_goal(&mut self, site: u32, goal: crate::goal::Goal) -> Result<()> {
        let config = self.site_state(site)?.config.clone().goal(goal);
        self.replace_goals(config)
    }

    /// Removes a site's goal; whether it had one with that id.
    pub fn remove_goal(&mut self, site: u32, id: u32) -> Result<bool> {
        let config = &self.site_state(site)?.config;
        if !config.goals.iter().any(|g| g.id == id) {
            return Ok(false);
        }
        let config = config.clone().without_goal(id);
        self.replace_goals(config).map(|()| true)
    }

    /// Stores a site's configuration that differs from its current one
    /// by its goals alone.
    fn replace_goals(&mut self, config: SiteConfig) -> Result<()> {
        self.writable()?;
        let (config, _) = config.validate()?;
        let id = config.id;
        if let Some(site) = self.sites.get_mut(&id) {
            site.set_config(config);
        }
        self.persist(BTreeMap::from([(id, (true, Vec::new()))]))
    }

    /// The configuration of a site.
    pub fn site(&self, id: u32) -> Option<&SiteConfig> {
        self.sites.get(&id).map(|s| &s.config)
    }

    /// Ids of all configured sites.
    pub fn site_ids(&self) -> Vec<u32> {
        self.sites.keys().copied().collect()
    }

    /// Ingests typed hits as one batch. A hit that breaks the contract is
    /// rejected (its 1-based position and the reason), the others go in.
    ///
    /// # Examples
    /// ```
    /// use hitmap::{Engine, Hit, SiteConfig};
    /// let mut engine = Engine::in_memory();
    /// engine.add_site(SiteConfig::new(1))?;
    /// let out = engine.ingest([Hit::pageview(1, 0, "", "https://x.org/")])?;
    /// assert_eq!(out.accepted, 0);
    /// assert_eq!(out.rejected[0].line, 1);
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn ingest<I>(&mut self, hits: I) -> Result<IngestOutcome>
    where
        I: IntoIterator,
        I::Item: std::borrow::Borrow<Hit>,
    {
        self.ingest_batch::<Hit, I>(hits, Marks::default())
    }

    fn ingest_batch<T, I>(&mut self, hits: I, marks: Marks<'_>) -> Result<IngestOutcome>
    where
        T: TypedHit,
        I: IntoIterator,
        I::Item: std::borrow::Borrow<T>,
    {
        self.writable()?;
        let hits = hits.into_iter();
        let mut batch = self.new_batch(hits.size_hint().0);
        let mut n = 0u64;
        // A hit's outcome into the batch (and the write-ahead log).
        let mut note = |batch: &mut Batch, hit: &T, r: std::result::Result<(), String>| {
            n += 1;
            batch.record(n, r, |log| {
                log.extend_from_slice(hit.ndjson().as_bytes());
                log.push(b'\n');
            });
        };
        let threads = self.query_threads.get();
        if threads == 1 {
            for hit in hits {
                let hit = std::borrow::Borrow::<T>::borrow(&hit);
                let r = self.add_hit(&mut batch, hit);
                note(&mut batch, hit, r);
            }
        } else {
            let mut hits = hits.peekable();
            // One buffer for every round (a borrowed hit is a few hundred bytes).
            let mut round: Vec<I::Item> = Vec::new();
            while hits.peek().is_some() {
                // Rounds of hits: blocks of a round are validated and interned
                // on every thread and merged in order, as NDJSON blocks are.
                round.clear();
                round.extend(hits.by_ref().take(TYPED_ROUND));
                let refs: Vec<&T> = round.iter().map(std::borrow::Borrow::borrow).collect();
                if refs.len() > TYPED_BLOCK {
                    let zones = self.zones();
                    let blocks: Vec<&[&T]> = refs.chunks(TYPED_BLOCK).collect();
                    let sites = &mut self.sites;
                    crate::par::in_order(
                        &blocks,
                        threads,
                        |b| read_hits(&zones, b),
                        |mut block| {
                            let outcomes = std::mem::take(&mut block.lines);
                            block.merge_into(&mut batch.held, sites);
                            for (hit, r) in outcomes {
                                note(&mut batch, hit, r.unwrap_or(Ok(())));
                            }
                        },
                    );
                } else {
                    for hit in refs {
                        let r = self.add_hit(&mut batch, hit);
                        note(&mut batch, hit, r);
                    }
                }
            }
        }
        let mut out = self.commit_batch(batch, marks)?;
        out.batches = 1;
        Ok(out)
    }

    /// Ingests NDJSON (one hit per line) as one batch. Blank lines (JSON
    /// whitespace only: space, tab, CR) are skipped; a bad line is rejected with its line number and reason.
    /// An I/O error fails the whole call and ingests nothing.
    ///
    /// # Examples
    /// ```
    /// let mut engine = hitmap::Engine::in_memory();
    /// engine.add_site(hitmap::SiteConfig::new(1))?;
    /// let input = "{\"site\":1,\"visitor\":\"f\",\"ts\":1717200000,\"url\":\"https://x.org/a\"}\n{oops\n";
    /// let out = engine.ingest_ndjson(input.as_bytes())?;
    /// assert_eq!(out.accepted, 1);
    /// assert_eq!(out.rejected[0].line, 2);
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn ingest_ndjson<R: BufRead>(&mut self, reader: R) -> Result<IngestOutcome> {
        self.ingest_ndjson_with(reader, &IngestOptions::default())
    }

    /// [`Engine::ingest_ndjson`] with options: chunk size, a batch id,
    /// `force`. Each chunk is committed before the next is read; an error
    /// (an I/O error, a failed commit) stops the call, and what was
    /// committed before it stays committed (a re-run skips it).
    pub fn ingest_ndjson_with<R: BufRead>(
        &mut self,
        reader: R,
        options: &IngestOptions,
    ) -> Result<IngestOutcome> {
        self.writable()?;
        let mut writing = None;
        let read = self.ingest_chunks(reader, options, &mut writing, None);
        match (read, self.settle(writing)) {
            (Ok(total), Ok(())) => Ok(total),
            (_, Err(e)) | (Err(e), Ok(())) => Err(e),
        }
    }

    /// [`Engine::ingest_ndjson_with`] for an input that may have been read
    /// before, in part: a file that grew since (a cron job over a log
    /// still written), was renamed or was compressed resumes after the
    /// part this store holds (`resume.rs`: the input is known by its
    /// first line and its committed prefixes' hashes, recorded with each
    /// chunk). `open` gives the input from its start; it is called again
    /// when the read must start over (the input holds less of a committed
    /// prefix than it first seemed). The prefix this store holds counts
    /// as one skipped batch and its lines as skipped lines; line numbers
    /// of rejected lines count from the input's start. With a
    /// [`IngestOptions::batch_id`] the ids decide, as in
    /// [`Engine::ingest_ndjson_with`]; with `force` the input is read
    /// whole.
    ///
    /// # Examples
    /// ```
    /// use hitmap::{Engine, IngestOptions, SiteConfig};
    /// let mut e = Engine::in_memory();
    /// e.add_site(SiteConfig::new(1))?;
    /// let line = |i: u32| format!("{{\"site\":1,\"visitor\":\"v{i}\",\"ts\":1717200000,\"url\":\"https://x.org/{i}\"}}\n");
    /// let first: String = (0..3).map(line).collect();
    /// let grown: String = (0..5).map(line).collect();
    /// let o = IngestOptions::default();
    /// assert_eq!(e.ingest_ndjson_resuming(|| Ok(first.as_bytes()), &o)?.accepted, 3);
    /// let again = e.ingest_ndjson_resuming(|| Ok(grown.as_bytes()), &o)?;
    /// assert_eq!((again.accepted, again.skipped_lines), (2, 3));
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn ingest_ndjson_resuming<R: BufRead>(
        &mut self,
        mut open: impl FnMut() -> std::io::Result<R>,
        options: &IngestOptions,
    ) -> Result<IngestOutcome> {
        self.writable()?;
        if options.batch_id.is_some() {
            return self.ingest_ndjson_with(open()?, options);
        }
        let resumed = self.resume_input(open, options.force)?;
        let mut writing = None;
        let read = match resumed.cursor {
            None => {
                let read = self.ingest_ndjson_with(resumed.reader, options);
                return match (read, self.settle(writing)) {
                    (Ok(total), Ok(())) => Ok(total),
                    (_, Err(e)) | (Err(e), Ok(())) => Err(e),
                };
            }
            Some(mut at) => {
                let mark = Some(&mut at.0);
                self.ingest_chunks(resumed.reader, options, &mut writing, mark)
            }
        };
        match (read, self.settle(writing)) {
            (Ok(mut total), Ok(())) => {
                if resumed.skipped_lines > 0 {
                    total.skipped_batches += 1;
                    total.skipped_lines += resumed.skipped_filled;
                }
                Ok(total)
            }
            (_, Err(e)) | (Err(e), Ok(())) => Err(e),
        }
    }

    /// Opens an input for a host that reads and commits it itself (the
    /// access-log importer): an input read again after it grew, was renamed
    /// or compressed stands after the part the store holds, known by its
    /// first line and the committed prefixes recorded with each commit
    /// (`InputCursor::cursor`, committed through
    /// [`IngestOptions::cursor`]), as [`Engine::ingest_ndjson_resuming`]
    /// does for NDJSON. `open` is called again when the read must start
    /// over; with `force` the input is read from its start.
    ///
    /// # Examples
    /// ```
    /// use hitmap::{Engine, IngestOptions};
    /// let e = Engine::in_memory();
    /// let log = "line one\nline two\n";
    /// let r = e.resume_input(|| Ok(log.as_bytes()), false)?;
    /// let mut cursor = r.cursor.expect("a whole first line");
    /// assert_eq!(r.skipped_lines, 0);
    /// cursor.advance(log.as_bytes());
    /// let (name, value) = cursor.cursor(false);
    /// assert!(name.starts_with("input:") && value.starts_with("18:"));
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn resume_input<R: BufRead>(
        &self,
        open: impl FnMut() -> std::io::Result<R>,
        force: bool,
    ) -> Result<crate::resume::Resumed<R>> {
        let cursor = |name: &str| {
            self.cursor(name)
                .map(crate::resume::parse)
                .unwrap_or_default()
        };
        Ok(crate::resume::resume(open, cursor, force)?)
    }

    /// Reads, interns and commits chunk after chunk. A chunk's files are
    /// written on another thread while the next chunk is read (`writing`;
    /// see [`crate::store::Store::commit_in_background`]); each write is
    /// waited for before the next commit.
    ///
    /// With a `mark`, each chunk's bytes go to it and each commit records
    /// its cursor (where the input stands); line numbers count on from
    /// the lines it has seen.
    fn ingest_chunks<R: BufRead>(
        &mut self,
        mut reader: R,
        options: &IngestOptions,
        writing: &mut Option<crate::store::Background>,
        mark: Option<&mut crate::resume::InputMark>,
    ) -> Result<IngestOutcome> {
        // Room for a whole chunk from the start: grown on the way, it
        // would be copied and its fresh pages zeroed several times.
        let mut chunk: Vec<u8> = Vec::with_capacity(options.chunk_bytes.saturating_add(1 << 20));
        let mut line_no = mark.as_ref().map_or(0, |m| m.count.lines);
        let mut phases = Phases::from_env();
        // The report rollups of the periods this input completes are
        // built once, in a last commit of their own (below), from the
        // days then at hand; each chunk's commit leaves them out. Were
        // the process to stop before, the store holds its days and the
        // summary rollups, and a later commit of the site builds them.
        let deferred = self.store.is_some() && !self.defer_report_rollups;
        if deferred {
            self.defer_report_rollups = true;
        }
        let mut touched = std::collections::BTreeSet::new();
        let read = self.read_chunks(
            &mut reader,
            options,
            writing,
            mark,
            &mut chunk,
            &mut line_no,
            &mut phases,
            &mut touched,
        );
        if deferred {
            self.defer_report_rollups = false;
        }
        let total = read?;
        if deferred && !touched.is_empty() {
            phases.start();
            self.settle(writing.take())?;
            let changed = touched
                .into_iter()
                .map(|s| (s, (false, Vec::new())))
                .collect();
            let marks = Marks {
                batch: None,
                cursor: None,
                live: None,
            };
            *writing = self.persist_batch(changed, marks, true)?;
            phases.add(Phase::Rollups);
        }
        phases.report(&total);
        Ok(total)
    }

    /// [`Engine::ingest_chunks`]' loop: chunk after chunk, each committed
    /// (the sites it touched go to `touched`).
    #[allow(clippy::too_many_arguments)]
    fn read_chunks<R: BufRead>(
        &mut self,
        reader: &mut R,
        options: &IngestOptions,
        writing: &mut Option<crate::store::Background>,
        mut mark: Option<&mut crate::resume::InputMark>,
        chunk: &mut Vec<u8>,
        line_no: &mut u64,
        phases: &mut Phases,
        touched: &mut std::collections::BTreeSet<u32>,
    ) -> Result<IngestOutcome> {
        let mut total = IngestOutcome::default();
        let mut index = 0u64;
        loop {
            phases.start();
            chunk.clear();
            read_chunk(reader, options.chunk_bytes, chunk)?;
            phases.add(Phase::Read);
            if chunk.is_empty() {
                break;
            }
            let content_id = |bytes: &[u8]| format!("{:032x}", xxhash_rust::xxh3::xxh3_128(bytes));
            // With a mark, a chunk that ends its last line is hashed for
            // its id on a thread of its own while the mark takes it in
            // (both read every byte).
            let early = match mark.as_deref_mut() {
                Some(m) if options.batch_id.is_none() && chunk.ends_with(b"\n") => {
                    let bytes: &[u8] = chunk;
                    Some(std::thread::scope(|s| {
                        let id = s.spawn(|| content_id(bytes));
                        m.advance(bytes);
                        id.join().unwrap_or_else(|e| std::panic::resume_unwind(e))
                    }))
                }
                _ => None,
            };
            if early.is_none()
                && let Some(m) = mark.as_deref_mut()
            {
                m.advance(chunk);
                // Only the end of the input lacks a line end: a last line
                // that is not whole JSON is still being written; it is
                // read again, whole, by a later run (the mark's prefix
                // stops before it).
                if !chunk.ends_with(b"\n") && !crate::resume::is_whole(last_line(chunk)) {
                    chunk.truncate(memchr::memrchr(b'\n', chunk).map_or(0, |i| i + 1));
                    total.held_back = 1;
                    if chunk.is_empty() {
                        break;
                    }
                }
            }
            let id = match (&options.batch_id, early) {
                (Some(b), _) => format!("{b}#{index}"),
                (None, Some(id)) => id,
                (None, None) => content_id(chunk),
            };
            index += 1;
            if !options.force && self.has_batch(&id) {
                total.skipped_batches += 1;
                // Line numbers count every line, blank ones too.
                for line in lines(chunk) {
                    *line_no += 1;
                    total.skipped_lines += u64::from(!line.iter().all(json_whitespace));
                }
                continue;
            }
            phases.add(Phase::BatchId);
            let mut batch = self.new_batch(0);
            let threads = self.query_threads.get();
            // A line's outcome into the batch (and the write-ahead log).
            let mut take = |batch: &mut Batch, raw: &[u8], r: crate::intern::LineOutcome| {
                *line_no += 1;
                let Some(r) = r else { return };
                batch.record(*line_no, r, |log| {
                    log.extend_from_slice(raw);
                    if !raw.ends_with(b"\n") {
                        log.push(b'\n');
                    }
                });
            };
            if threads > 1 && chunk.len() > 2 * BLOCK_BYTES {
                let zones = self.zones();
                // Blocks are read and interned on every thread into
                // dictionaries of their own, and merged in input order as
                // they come (`intern.rs`): the same ids as one thread gives.
                let blocks: Vec<&[u8]> = blocks(chunk, BLOCK_BYTES).collect();
                let sites = &mut self.sites;
                let n = blocks.len();
                crate::par::in_order(
                    &blocks,
                    threads,
                    |b| read_block(&zones, b),
                    |mut block| {
                        if batch.held.hits.capacity() == 0 {
                            // Blocks are of a size: room for them all at once.
                            batch
                                .held
                                .hits
                                .reserve_exact(block.batch.hits.len() * (n + n / 16 + 1));
                        }
                        let outcomes = std::mem::take(&mut block.lines);
                        block.merge_into(&mut batch.held, sites);
                        for (raw, r) in outcomes {
                            take(&mut batch, raw, r);
                        }
                    },
                );
            } else {
                for raw in lines(chunk) {
                    let r = match parse_raw(raw) {
                        Parsed::Blank => None,
                        Parsed::Hit(view) => {
                            Some(view.and_then(|view| self.add_to(&mut batch, &view)))
                        }
                    };
                    take(&mut batch, raw, r);
                }
            }
            let cursor = mark.as_deref().map(|m| (m.name.as_str(), m.value()));
            let marks = Marks {
                batch: Some(&id),
                cursor: cursor.as_ref().map(|(n, v)| (*n, v.as_str())),
                live: None,
            };
            phases.add(Phase::Parse);
            self.settle(writing.take())?;
            phases.add(Phase::Write);
            touched.extend(batch.held.buckets.iter().map(|(site, _)| *site));
            let (out, write) = self.commit_batch_with(batch, marks, true)?;
            phases.add(Phase::Commit);
            *writing = write;
            total.accepted += out.accepted;
            total.rejected.extend(out.rejected);
            total.batches += 1;
        }
        Ok(total)
    }

    /// [`Engine::ingest`] with options: with a [`IngestOptions::batch_id`],
    /// a batch already committed is skipped (typed hits have no content
    /// identity otherwise).
    pub fn ingest_with<I>(&mut self, hits: I, options: &IngestOptions) -> Result<IngestOutcome>
    where
        I: IntoIterator,
        I::Item: std::borrow::Borrow<Hit>,
    {
        self.ingest_typed::<Hit, I>(hits, options)
    }

    /// [`Engine::ingest_with`] for hits whose text is borrowed
    /// ([`HitRef`]): a host that holds the text elsewhere (Arrow columns)
    /// hands it over without a copy per field. The outcome, the stored
    /// hits and a store's bytes are those of the same hits as [`Hit`]s.
    ///
    /// # Examples
    /// ```
    /// use hitmap::{Engine, Hit, HitRef, IngestOptions, SiteConfig};
    /// let hits = [
    ///     Hit::pageview(1, 1_717_200_000, "a", "https://x.org/news"),
    ///     Hit::pageview(1, 1_717_200_060, "", "https://x.org/"), // no visitor: rejected
    /// ];
    /// let mut e = Engine::in_memory();
    /// e.add_site(SiteConfig::new(1))?;
    /// let out = e.ingest_refs_with(hits.iter().map(Hit::as_ref), &IngestOptions::default())?;
    /// assert_eq!((out.accepted, out.rejected[0].line), (1, 2));
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn ingest_refs_with<'a, I>(
        &mut self,
        hits: I,
        options: &IngestOptions,
    ) -> Result<IngestOutcome>
    where
        I: IntoIterator,
        I::Item: std::borrow::Borrow<HitRef<'a>>,
    {
        self.ingest_typed::<HitRef<'a>, I>(hits, options)
    }

    /// [`Engine::ingest_with`] over owned or borrowed hits.
    fn ingest_typed<T, I>(&mut self, hits: I, options: &IngestOptions) -> Result<IngestOutcome>
    where
        T: TypedHit,
        I: IntoIterator,
        I::Item: std::borrow::Borrow<T>,
    {
        let id = options.batch_id.clone();
        if let Some(id) = &id
            && !options.force
            && self.has_batch(id)
        {
            let n = hits.into_iter().count() as u64;
            return Ok(IngestOutcome {
                skipped_batches: 1,
                skipped_lines: n,
                ..IngestOutcome::default()
            });
        }
        let cursor = options
            .cursor
            .as_ref()
            .map(|(n, v)| (n.as_str(), v.as_str()));
        let marks = Marks {
            batch: id.as_deref(),
            cursor,
            live: None,
        };
        self.ingest_batch::<T, I>(hits, marks)
    }

    /// The value of an importer's checkpoint, as the last commit with
    /// [`IngestOptions::cursor`] left it.
    ///
    /// # Examples
    /// ```
    /// use hitmap::{Engine, Hit, IngestOptions, SiteConfig};
    /// let mut e = Engine::in_memory();
    /// e.add_site(SiteConfig::new(1))?;
    /// let hits = [Hit::pageview(1, 1_717_200_000, "v", "https://x.org/")];
    /// e.ingest_with(hits, &IngestOptions::default().cursor("matomo:1", "41"))?;
    /// assert_eq!(e.cursor("matomo:1"), Some("41"));
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn cursor(&self, name: &str) -> Option<&str> {
        match &self.store {
            Some(s) => self
                .pending
                .cursors
                .get(name)
                .or_else(|| s.manifest.cursors.get(name)),
            None => self.cursors.get(name),
        }
        .map(String::as_str)
    }

    /// Whether a batch identity was committed.
    /// Whether a batch with this id (an [`IngestOptions::batch_id`] or a
    /// content hash) was committed: importers skip what a store holds.
    ///
    /// # Examples
    /// ```
    /// use hitmap::{Engine, Hit, IngestOptions, SiteConfig};
    /// let mut e = Engine::in_memory();
    /// e.add_site(SiteConfig::new(1))?;
    /// let hits = [Hit::pageview(1, 1_717_200_000, "v", "https://x.org/")];
    /// e.ingest_with(hits, &IngestOptions::default().batch_id("log-1"))?;
    /// assert!(e.has_batch("log-1") && !e.has_batch("log-2"));
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn has_batch(&self, id: &str) -> bool {
        match &self.store {
            Some(s) => {
                s.manifest.batches.contains_key(id) || self.pending.batches.iter().any(|b| b == id)
            }
            None => self.batches.contains_key(id),
        }
    }

    fn add_to(&mut self, batch: &mut Batch, view: &HitView) -> std::result::Result<(), String> {
        let date = self.place(view)?;
        let bucket = batch.held.bucket((view.site, date));
        let site = self
            .sites
            .get_mut(&view.site)
            .expect("a placed hit's site is known");
        crate::intern::intern_hit(
            &mut site.dicts,
            view,
            bucket,
            &mut batch.held.hits,
            &mut batch.held.side,
        );
        Ok(())
    }

    /// A typed hit checked against the contract and added to the batch.
    fn add_hit<T: TypedHit>(
        &mut self,
        batch: &mut Batch,
        hit: &T,
    ) -> std::result::Result<(), String> {
        let view = hit.view();
        view.validate()?;
        self.add_to(batch, &view)
    }

    /// The site-local day of a hit, or why the engine cannot take it.
    fn place(&self, view: &HitView) -> std::result::Result<NaiveDate, String> {
        match self.sites.get(&view.site) {
            Some(site) => crate::intern::day_of(view, &site.tz, &site.config.time_zone),
            None => Err(self.refusal(view.site)),
        }
    }

    /// Why hits for a site the engine does not hold are rejected.
    pub(crate) fn refusal(&self, site: u32) -> String {
        match self.broken.get(&site) {
            Some(e) => e.to_string(),
            None => Error::UnknownSite(site).to_string(),
        }
    }

    /// An empty batch for at least `hits` hits: live (small batches land
    /// as live parts) unless the engine has a store without a write-ahead
    /// log, or the batch is known to be larger than the live limit (its
    /// hits are then not written out for the log only to be dropped).
    fn new_batch(&self, hits: usize) -> Batch {
        // While a log writer appends, every batch lands live: a rebuild
        // seals the live parts, which must wait for the writer's records.
        let shared = self.log_shared();
        Batch {
            held: Bucketed::with_capacity(hits),
            live: shared
                || (self.live_limit.0 > 0
                    && hits <= self.live_limit.0
                    && (self.store.is_none() || self.wal.is_some())),
            to_wal: self.wal.is_some(),
            limit: if shared {
                LiveLimit(usize::MAX)
            } else {
                self.live_limit
            },
            ..Batch::default()
        }
    }

    /// What workers need to place hits while the calling thread merges:
    /// each site's time zone and its name, or why it cannot take hits.
    fn zones(&self) -> crate::intern::Zones {
        let mut zones: BTreeMap<u32, std::result::Result<(Tz, String), String>> = self
            .broken
            .keys()
            .map(|&id| (id, Err(self.refusal(id))))
            .collect();
        for (&id, site) in &self.sites {
            zones.insert(id, Ok((site.tz, site.config.time_zone.clone())));
        }
        crate::intern::Zones(zones)
    }

    fn commit_batch(&mut self, batch: Batch, marks: Marks<'_>) -> Result<IngestOutcome> {
        self.commit_batch_with(batch, marks, false)
            .map(|(out, _)| out)
    }

    /// Commits a batch; with `background`, the store may write its files
    /// on another thread (the returned write must be settled).
    fn commit_batch_with(
        &mut self,
        mut batch: Batch,
        marks: Marks<'_>,
        background: bool,
    ) -> Result<(IngestOutcome, Option<crate::store::Background>)> {
        // A distributed build's first pass: the strings are in the
        // dictionaries, the hits are not kept.
        if self.dictionaries_only {
            return Ok((batch.outcome, None));
        }
        // The days the batch touches are read first (a writer holds only
        // those); one that cannot be read is damaged.
        self.hold_days(&batch.held.buckets, true);
        // A damaged day cannot take hits: rebuilding it would drop what the
        // unreadable file holds.
        for &(site, date) in &batch.held.buckets {
            if let Some((path, reason)) = self.sites.get(&site).and_then(|s| s.damaged.get(&date)) {
                return Err(Error::Store {
                    path: path.clone(),
                    reason: format!(
                        "{reason}; hits for this day were not ingested (restore the file, or delete the day with delete_range)"
                    ),
                });
            }
        }
        if batch.live {
            return Ok((self.commit_live(batch, marks, true)?, None));
        }
        let ranges = batch.held.group();
        // Ranges follow bucket ids and tile the grouped hits in order: split
        // them into one mutable slice per (site, day).
        let mut per_site: BTreeMap<u32, Vec<(NaiveDate, &mut [RawHit])>> = BTreeMap::new();
        let mut rest: &mut [RawHit] = &mut batch.held.hits;
        for (&(site, date), range) in batch.held.buckets.iter().zip(ranges) {
            let (day, tail) = std::mem::take(&mut rest).split_at_mut(range.len());
            per_site.entry(site).or_default().push((date, day));
            rest = tail;
        }
        let threads = self.query_threads.get();
        let mut changed = BTreeMap::new();
        for (site, mut days) in per_site {
            days.sort_unstable_by_key(|d| d.0);
            changed.insert(site, (false, days.iter().map(|d| d.0).collect::<Vec<_>>()));
            self.sites
                .get_mut(&site)
                .expect("buckets only exist for known sites")
                .rebuild(days, &mut batch.held.side, threads);
        }
        if self.store.is_some() {
            // The files are about to hold what the log held: live days
            // elsewhere are sealed in the same commit.
            self.seal_live(&mut changed, &mut batch.held.side);
        }
        let writing = self.persist_batch(changed, marks, background)?;
        Ok((batch.outcome, writing))
    }

    /// Waits for a commit written in the background; if it failed, the
    /// engine reloads what the store holds.
    fn settle(&mut self, writing: Option<crate::store::Background>) -> Result<()> {
        match writing {
            None => Ok(()),
            Some(w) => w.wait().map_err(|e| self.reload_after_failed_commit(e)),
        }
    }

    /// Lands a live batch: one durable record in the write-ahead log (if
    /// `log` and the engine has one), then a live part per touched day.
    /// Seals when a day's live parts or the log grew large.
    fn commit_live(
        &mut self,
        mut batch: Batch,
        marks: Marks<'_>,
        log: bool,
    ) -> Result<IngestOutcome> {
        if log
            && self.wal.is_some()
            && (batch.outcome.accepted > 0 || marks.batch.is_some() || marks.cursor.is_some())
        {
            let record = wal::encode_record(marks.batch, marks.cursor, &batch.log);
            self.append_record(&record)?;
            self.seal_policy
                .since
                .get_or_insert_with(std::time::Instant::now);
        }
        let ranges = batch.held.group();
        let mut touched = Vec::with_capacity(ranges.len());
        for (&(site, date), range) in batch.held.buckets.iter().zip(ranges) {
            self.sites
                .get_mut(&site)
                .expect("buckets only exist for known sites")
                .add_live(date, &batch.held.hits[range], &mut batch.held.side);
            touched.push((site, date));
        }
        self.note_live_marks(marks.batch, marks.cursor);
        if log {
            let over: Vec<(u32, NaiveDate)> = touched
                .into_iter()
                .filter(|(site, date)| self.sites[site].live_is_large(*date))
                .collect();
            if self.store.is_some() && (self.log_due() || !over.is_empty()) {
                // The batch is durable in the log already: a seal that
                // fails is tried again by a later one, and must not make
                // the caller send the batch twice.
                let _ = self.seal();
            } else if self.store.is_none() {
                for (site, date) in over {
                    let site = self.sites.get_mut(&site).expect("touched");
                    site.seal_day(date, &mut batch.held.side);
                }
            }
        }
        Ok(batch.outcome)
    }

    /// Appends a record of the engine's own live batch to the log and
    /// makes it durable. On a full disk the files kept for readers of
    /// older commits make room, and the append is tried once more.
    fn append_record(&mut self, record: &[u8]) -> Result<()> {
        let Some(shared) = self.wal.clone() else {
            return Ok(());
        };
        let append = |engine: &mut Engine| {
            let mut log = wal::lock(&shared);
            log.wal.append(record)?;
            engine.live_segment = engine.live_segment.max(Some(log.wal.segment()));
            Ok(())
        };
        let appended = append(self);
        match appended {
            Err(e)
                if crate::store::is_disk_full(&e)
                    && self.store.as_mut().is_some_and(Store::purge_retired) =>
            {
                append(self)
            }
            r => r,
        }
    }

    /// Whether the log is due for a seal (its size or its age).
    fn log_due(&self) -> bool {
        self.wal
            .as_ref()
            .is_some_and(|w| self.seal_policy.due(wal::lock(w).wal.len()))
    }

    /// Whether the live parts can be sealed now: none holds a record of a
    /// segment the seal must keep (one with a record a log writer
    /// appended that is not applied yet, or a later one).
    fn log_sealable(&self) -> bool {
        if self.sites.values().all(|s| s.live.is_empty()) {
            return true;
        }
        match (&self.wal, self.live_segment) {
            (Some(w), Some(live)) => wal::lock(w).first_unapplied().is_none_or(|s| live < s),
            _ => true,
        }
    }

    /// A handle that appends hits to this writer's write-ahead log from
    /// any thread, while the engine is busy elsewhere (sealing a large
    /// day, merging live parts): a server answers a request once its
    /// record is durable and applies it after ([`Engine::apply_logged`]).
    /// `None` without a log (an in-memory engine, a reader). The handle
    /// knows the sites the engine holds now. While one exists, every
    /// batch lands as live parts, and a seal waits until the records
    /// appended before it are applied.
    ///
    /// # Examples
    /// ```
    /// let mut engine = hitmap::Engine::in_memory();
    /// assert!(engine.log_writer().is_none()); // no log to append to
    /// ```
    pub fn log_writer(&self) -> Option<crate::LogWriter> {
        let log = self.wal.clone()?;
        self.writable().ok()?;
        Some(crate::LogWriter {
            log,
            zones: Arc::new(self.zones()),
        })
    }

    /// Whether a log writer shares the log.
    fn log_shared(&self) -> bool {
        self.wal.as_ref().is_some_and(|w| Arc::strong_count(w) > 1)
    }

    /// Adds what log writers appended ([`crate::LogWriter::append`]) as
    /// live parts, in the tickets' order, without appending it again; the
    /// cursors they carry are committed with the next seal. Hits for a
    /// day whose file cannot be read are rejected with the reason (their
    /// position counts through the tickets' hits) and handed back in
    /// [`Applied::refused`], for the caller to keep; the rest go
    /// in. Does not seal: see [`Engine::seal_due`].
    ///
    /// # Examples
    /// See [`crate::LogWriter`].
    pub fn apply_logged(&mut self, logged: Vec<crate::Logged>) -> Result<Applied> {
        self.writable()?;
        let Some(shared) = self.wal.clone() else {
            return Err(Error::Store {
                path: wal::WAL_DIR.into(),
                reason: "this engine has no write-ahead log".into(),
            });
        };
        let generation = wal::lock(&shared).generation;
        // A reload since replayed the older tickets' records.
        let logged: Vec<crate::Logged> = logged
            .into_iter()
            .filter(|l| l.generation == generation)
            .collect();
        // Each hit with its 1-based position through the tickets.
        let mut hits: Vec<(u64, &Hit)> = (1..).zip(logged.iter().flat_map(|l| &l.hits)).collect();
        // The days they touch are read first; a damaged one cannot take
        // hits (rebuilding it would drop what the unreadable file holds).
        let zones = self.zones();
        let places: Vec<Option<(u32, NaiveDate)>> = hits
            .iter()
            .map(|(_, h)| zones.place(&h.view()).ok().map(|d| (h.site, d)))
            .collect();
        let mut days: Vec<(u32, NaiveDate)> = places.iter().flatten().copied().collect();
        days.sort_unstable();
        days.dedup();
        self.hold_days(&days, true);
        let damaged = |(site, date): (u32, NaiveDate)| {
            self.sites
                .get(&site)
                .and_then(|s| s.damaged.get(&date))
                .map(|(path, reason)| {
                    format!("{path}: {reason}; this hit was not stored (restore the file, or delete the day with delete_range)")
                })
        };
        let mut rejected: Vec<Rejected> = Vec::new();
        if days.iter().any(|&d| damaged(d).is_some()) {
            let mut kept = Vec::with_capacity(hits.len());
            for ((line, hit), place) in hits.into_iter().zip(&places) {
                match place.and_then(damaged) {
                    Some(reason) => rejected.push(Rejected { line, reason }),
                    None => kept.push((line, hit)),
                }
            }
            hits = kept;
        }
        let mut batch = Batch {
            held: Bucketed::with_capacity(hits.len()),
            live: true,
            limit: LiveLimit(usize::MAX),
            ..Batch::default()
        };
        for &(line, hit) in &hits {
            let r = self.add_hit(&mut batch, hit);
            batch.note(line, r);
        }
        let mut outcome = self.commit_live(batch, Marks::default(), false)?;
        outcome.batches = logged.len() as u64;
        outcome.rejected.extend(rejected);
        outcome.rejected.sort_by_key(|r| r.line);
        let all: Vec<&Hit> = logged.iter().flat_map(|l| &l.hits).collect();
        let refused: Vec<Hit> = outcome
            .rejected
            .iter()
            .filter_map(|r| all.get((r.line as usize).checked_sub(1)?))
            .map(|h| (*h).clone())
            .collect();
        {
            let mut log = wal::lock(&shared);
            for l in &logged {
                log.applied(l.segment);
                self.live_segment = self.live_segment.max(Some(l.segment));
            }
        }
        for l in &logged {
            let cursor = l.cursor.as_ref().map(|(n, v)| (n.as_str(), v.as_str()));
            self.note_live_marks(None, cursor);
        }
        if !logged.is_empty() {
            self.seal_policy
                .since
                .get_or_insert_with(std::time::Instant::now);
        }
        Ok(Applied { outcome, refused })
    }

    /// Whether the live parts are due for a seal ([`Engine::seal`]): a
    /// day's live parts grew large against its sealed archive, or the
    /// log grew large or old (see [`Engine::set_seal_age`]). Ingests
    /// seal on their own; a host applying logged records
    /// ([`Engine::apply_logged`]) asks this after each.
    ///
    /// # Examples
    /// ```
    /// let engine = hitmap::Engine::in_memory();
    /// assert!(!engine.seal_due());
    /// ```
    pub fn seal_due(&self) -> bool {
        self.log_due()
            || self
                .sites
                .values()
                .any(|s| s.live.keys().any(|&d| s.live_is_large(d)))
    }

    /// Records a live batch's identity and cursor: in a store, pending
    /// until the seal that writes its days; in memory, at once.
    fn note_live_marks(&mut self, batch: Option<&str>, cursor: Option<(&str, &str)>) {
        if self.store.is_some() {
            if let Some(id) = batch {
                self.pending.batches.push(id.to_owned());
            }
            if let Some((name, value)) = cursor {
                self.pending
                    .cursors
                    .insert(name.to_owned(), value.to_owned());
            }
        } else {
            if let Some(id) = batch {
                self.batch_seq += 1;
                crate::store::remember_batch(&mut self.batches, id, self.batch_seq);
            }
            if let Some((name, value)) = cursor {
                self.cursors.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    /// Folds every live part into its day's archive (one rebuild per live
    /// day) and, in a store, writes those days and retires the sealed
    /// write-ahead log, in one commit. Small batches land as live parts
    /// (see [`Engine::set_live_limit`]) and are sealed on their own as they
    /// grow; call this to have everything in day files now, such as before
    /// a backup or when a server stops.
    ///
    /// # Examples
    /// ```
    /// use hitmap::{Engine, Hit, Query, SiteConfig};
    /// let dir = std::env::temp_dir().join(format!("hitmap-seal-{}", std::process::id()));
    /// let mut engine = Engine::open(&dir)?;
    /// engine.add_site(SiteConfig::new(1))?;
    /// engine.ingest([Hit::pageview(1, 1_717_200_000, "a", "https://x.org/")])?; // a live part
    /// engine.seal()?; // now in a day file
    /// assert_eq!(engine.query(&Query::site(1))?.visits_summary().nb_visits, 1);
    /// # drop(engine); std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn seal(&mut self) -> Result<()> {
        self.writable()?;
        if !self.log_sealable() {
            // A log writer's records not applied yet share a segment with
            // the live parts: the next seal after they are applied takes
            // them all.
            return Ok(());
        }
        let mut changed = BTreeMap::new();
        let mut side = SideArena::default();
        self.seal_live(&mut changed, &mut side);
        if self.store.is_none() {
            return Ok(());
        }
        self.persist_batch(changed, Marks::default(), false)
            .map(|_| ())
    }

    /// Seals every live day, adding them to `changed`.
    fn seal_live(
        &mut self,
        changed: &mut BTreeMap<u32, (bool, Vec<NaiveDate>)>,
        side: &mut SideArena,
    ) {
        for (&id, site) in &mut self.sites {
            let dates: Vec<NaiveDate> = site.live.keys().copied().collect();
            for &date in &dates {
                site.seal_day(date, side);
            }
            if !dates.is_empty() {
                let entry = changed.entry(id).or_insert((false, Vec::new()));
                entry.1.extend(dates);
                entry.1.sort_unstable();
                entry.1.dedup();
            }
        }
    }

    /// Sets how old the oldest unsealed write-ahead log record may be
    /// before the next commit seals the log into day files (default
    /// [`DEFAULT_SEAL_AGE`]). Besides age, a writer seals once its log
    /// holds a quarter of the store's files in bytes (256 KiB to 64 MiB), so a
    /// Python, PHP or C writer that sends many small batches keeps its log
    /// (and every reader's open, which replays it) small on its own.
    ///
    /// # Examples
    /// ```
    /// use hitmap::{Engine, Hit, SiteConfig};
    /// let dir = std::env::temp_dir().join(format!("hitmap-seal-age-{}", std::process::id()));
    /// let mut engine = Engine::open(&dir)?;
    /// engine.add_site(SiteConfig::new(1))?;
    /// engine.set_seal_age(std::time::Duration::ZERO); // seal at every commit
    /// engine.ingest([Hit::pageview(1, 1_717_200_000, "a", "https://x.org/")])?;
    /// assert_eq!(engine.live_hits(), 0); // already in a day file
    /// # drop(engine); std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn set_seal_age(&mut self, age: std::time::Duration) {
        self.seal_policy.age = age;
    }

    /// Sets how many hits a batch may have to land as live parts (a new
    /// part per touched day, a record in the store's write-ahead log)
    /// instead of rebuilding the days it touches; 0 makes every batch
    /// rebuild its days. The default is [`DEFAULT_LIVE_LIMIT`]. Answers
    /// are the same either way; only the cost of a commit differs.
    ///
    /// # Examples
    /// ```
    /// let mut engine = hitmap::Engine::in_memory();
    /// engine.set_live_limit(0); // every batch rebuilds its days
    /// ```
    pub fn set_live_limit(&mut self, hits: usize) {
        self.live_limit = LiveLimit(hits);
    }

    /// Heap bytes the engine holds, by part, summed over its sites (and,
    /// for a lazy reader, over the days it has loaded): dictionaries, the
    /// visitor table, the day archives' columns and indexes (live parts
    /// included), and the section cuts kept for section summaries. Sizes
    /// are close estimates from capacities; they
    /// leave out what the allocator keeps around freed memory.
    ///
    /// # Examples
    /// ```
    /// use hitmap::{Engine, Hit, SiteConfig};
    /// let mut engine = Engine::in_memory();
    /// engine.add_site(SiteConfig::new(1))?;
    /// engine.ingest([Hit::pageview(1, 1_717_200_000, "a", "https://x.org/")])?;
    /// let parts = engine.memory_usage();
    /// assert!(parts.iter().any(|(part, bytes)| *part == "dictionaries" && *bytes > 0));
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn memory_usage(&self) -> Vec<(&'static str, usize)> {
        let mut parts: Vec<(&'static str, usize)> = vec![("dictionaries", 0), ("visitor table", 0)];
        let mut add =
            |name: &'static str, bytes: usize| match parts.iter_mut().find(|p| p.0 == name) {
                Some(p) => p.1 += bytes,
                None => parts.push((name, bytes)),
            };
        for site in self.sites.values() {
            add("dictionaries", site.dicts.heap_bytes());
            add("visitor table", site.history.heap_bytes());
            let live = site
                .live
                .values()
                .flat_map(|l| l.parts.iter().map(|p| &p.archive));
            for a in site.days.values().chain(live) {
                for (name, bytes) in a.heap_parts() {
                    add(name, bytes);
                }
                add("section cuts", a.section_cuts.heap_bytes());
            }
        }
        parts
    }

    /// Sets how many threads one query or one ingest may use; 0 means one
    /// per core. Reports over many days or visits split their work into
    /// runs of days or of visitors, one per thread, and add the runs'
    /// counts up exactly; small ones stay on the calling thread. An ingest
    /// builds and encodes its days on these threads, and NDJSON is parsed
    /// on one of them while another interns. The default is the
    /// environment's `HITMAP_THREADS`, else one per core. Set 1 where the
    /// host forbids threads (PHP-FPM) or runs one request per core already.
    ///
    /// # Examples
    /// ```
    /// let mut engine = hitmap::Engine::in_memory();
    /// engine.set_query_threads(1); // every query on the calling thread
    /// assert_eq!(engine.query_threads(), 1);
    /// ```
    pub fn set_query_threads(&mut self, threads: usize) {
        self.query_threads = crate::par::QueryThreads::new(threads);
    }

    /// How many threads one query may use ([`Engine::set_query_threads`]).
    pub fn query_threads(&self) -> usize {
        self.query_threads.get()
    }

    /// Splits every query that has work for more than one run across
    /// `threads` runs, however small: for tests that compare split and
    /// unsplit answers on small data. Not for production use.
    #[doc(hidden)]
    pub fn split_queries_eagerly(&mut self, threads: usize) {
        self.query_threads = crate::par::QueryThreads::eager(threads);
    }

    /// Hits that live parts hold, not yet sealed into day archives.
    ///
    /// # Examples
    /// ```
    /// use hitmap::{Engine, Hit, SiteConfig};
    /// let mut engine = Engine::in_memory();
    /// engine.add_site(SiteConfig::new(1))?;
    /// engine.ingest([Hit::pageview(1, 1_717_200_000, "a", "https://x.org/")])?;
    /// assert_eq!(engine.live_hits(), 1);
    /// engine.seal()?;
    /// assert_eq!(engine.live_hits(), 0);
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn live_hits(&self) -> u64 {
        self.sites
            .values()
            .flat_map(|s| s.live.values())
            .map(crate::live::LiveDay::actions)
            .sum()
    }

    /// Replays the store's write-ahead log into live parts, and (for a
    /// writer) starts a new segment to append to.
    pub(crate) fn open_wal(&mut self, write: bool) -> Result<()> {
        // An object store holds no log: `publish` seals first.
        let Some(root) = self
            .store
            .as_ref()
            .and_then(|s| s.source.folder_path())
            .map(std::path::Path::to_path_buf)
        else {
            return Ok(());
        };
        let Some(store) = &self.store else {
            return Ok(());
        };
        let first = store.manifest.wal;
        let log = wal::read_from(&root, first);
        self.replay(&log.records);
        self.wal_damage = log.damaged;
        self.wal_vanished = log.vanished;
        if write {
            let next = wal::segments(&root)
                .last()
                .map_or(first, |last| (last + 1).max(first));
            if !log.records.is_empty() {
                self.live_segment = next.checked_sub(1);
            }
            self.wal = Some(wal::SharedLog::new(Wal::new(&root, next)));
            let bytes = self.store.as_ref().map_or(0, Store::bytes);
            self.seal_policy.sized_for(bytes);
            if self.live_hits() > 0 {
                // Unsealed before this process: its age counts from now.
                self.seal_policy.since = Some(std::time::Instant::now());
            }
        }
        Ok(())
    }

    /// Applies the write-ahead log's records as one live batch (no new
    /// record): their hits together, in order, then their identities and
    /// cursors in order. Live batches are exact however they are grouped,
    /// so this answers what replaying them one by one would, at the cost
    /// of one live part per day instead of one commit per record: a
    /// restart costs what reading the hits costs.
    fn replay(&mut self, records: &[Vec<u8>]) {
        let mut batch = Batch {
            live: true,
            ..Batch::default()
        };
        let mut marks = Vec::new();
        for record in records {
            let Some((id, cursor, lines)) = wal::decode_record(record) else {
                continue;
            };
            for line in lines.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                let r = std::str::from_utf8(line)
                    .map_err(|e| e.to_string())
                    .and_then(parse_line)
                    .and_then(|view| self.add_to(&mut batch, &view));
                batch.note(0, r);
            }
            marks.push((id, cursor));
        }
        if marks.is_empty() {
            return;
        }
        // A lazy reader reads the days the batch touches first.
        let touched = batch.held.buckets.clone();
        self.hold_days(&touched, false);
        // Nothing to write, so nothing can fail.
        let _ = self.commit_live(batch, Marks::default(), false);
        for (id, cursor) in &marks {
            let cursor = cursor.as_ref().map(|(n, v)| (n.as_str(), v.as_str()));
            self.note_live_marks(id.as_deref(), cursor);
        }
    }

    /// Writes what changed (per site: the config?, the days) as one commit.
    /// If the write fails, the engine goes back to what the store holds, so
    /// memory never claims more than the disk.
    pub(crate) fn persist(&mut self, changed: BTreeMap<u32, (bool, Vec<NaiveDate>)>) -> Result<()> {
        self.persist_batch(changed, Marks::default(), false)
            .map(|_| ())
    }

    /// [`Engine::persist`], recording an ingest batch's identity with it.
    /// With every live part sealed, the log before the current segment is
    /// in the files the next commit writes: what that commit records
    /// (pending batch ids and cursors, the new first unsealed segment) and
    /// the segments it retires (readers may still be replaying them).
    fn live_marks(&self) -> Option<LiveMarks> {
        let (Some(w), Some(store)) = (&self.wal, &self.store) else {
            return None;
        };
        if self.sites.values().any(|s| !s.live.is_empty()) {
            return None;
        }
        let mut log = wal::lock(w);
        // A record a log writer appended and the engine has not applied
        // keeps its segment and every later one. Otherwise the current
        // segment, if it holds records, is sealed too, and appends from
        // now on start the next one.
        let next = match log.first_unapplied() {
            Some(s) => s,
            None => {
                if log.wal.has_records() {
                    log.wal.rotate();
                }
                log.wal.segment()
            }
        };
        drop(log);
        let retire: Vec<std::path::PathBuf> = wal::segments(store.root())
            .into_iter()
            .filter(|&n| n < next && n >= store.manifest.wal)
            .map(wal::wal_path)
            .collect();
        let written = !retire.is_empty();
        (written || !self.pending.batches.is_empty() || !self.pending.cursors.is_empty()).then(
            || LiveMarks {
                batches: self.pending.batches.clone(),
                cursors: self.pending.cursors.clone(),
                wal: next,
                retire,
            },
        )
    }

    pub(crate) fn persist_batch(
        &mut self,
        changed: BTreeMap<u32, (bool, Vec<NaiveDate>)>,
        marks: Marks<'_>,
        background: bool,
    ) -> Result<Option<crate::store::Background>> {
        let live_marks = self.live_marks();
        let written: Vec<(u32, Vec<NaiveDate>)> = changed
            .iter()
            .map(|(id, (_, d))| (*id, d.clone()))
            .collect();
        // Writing in the background needs a thread, and a commit that
        // also retires log segments rotates the log once it is in.
        let background = background && live_marks.is_none() && self.query_threads.get() > 1;
        let Some(store) = &mut self.store else {
            if let Some(id) = marks.batch {
                self.batch_seq += 1;
                crate::store::remember_batch(&mut self.batches, id, self.batch_seq);
            }
            if let Some((name, value)) = marks.cursor {
                self.cursors.insert(name.to_owned(), value.to_owned());
            }
            return Ok(None);
        };
        let marks = Marks {
            live: live_marks.as_ref(),
            ..marks
        };
        let mut changes = BTreeMap::new();
        for (id, (config, days)) in changed {
            use crate::store::format::{
                encode_config, encode_day, encode_dicts, encode_page, encode_totals,
            };
            /// A file of the site's commit.
            enum Part<'a> {
                Dicts,
                Totals(&'a crate::history::Totals),
                Page(NaiveDate, Option<&'a crate::history::Page>),
                Day(NaiveDate),
            }
            let site = &self.sites[&id];
            let mut change = crate::store::SiteChange::default();
            if config || !store.manifest.sites.contains_key(&id) {
                change.config = Some(encode_config(&site.config));
            }
            // The files encode (and compress) independently; the
            // dictionaries, the largest, first.
            change.rollups = rollup_changes(
                site,
                store.manifest.sites.get(&id),
                &days,
                true,
                !self.defer_report_rollups,
            );
            let (pages, totals) = site.history.changes();
            let parts = [Part::Dicts]
                .into_iter()
                .chain(totals.map(Part::Totals))
                .chain(pages.into_iter().map(|(m, p)| Part::Page(m, p)))
                .chain(days.into_iter().map(Part::Day))
                .collect();
            let encoded = crate::par::map_jobs(parts, self.query_threads.get(), |part| {
                let bytes = match &part {
                    Part::Dicts => Some(encode_dicts(&site.dicts)),
                    Part::Totals(t) => Some(encode_totals(t)),
                    Part::Page(m, p) => p.map(|p| encode_page(*m, p)),
                    Part::Day(day) => site.days.get(day).map(encode_day),
                };
                (part, bytes)
            });
            for (part, bytes) in encoded {
                match part {
                    Part::Dicts => change.dicts = bytes,
                    Part::Totals(_) => change.totals = bytes,
                    Part::Page(m, _) => {
                        change.pages.insert(m, bytes);
                    }
                    Part::Day(day) => {
                        change.days.insert(day, bytes);
                    }
                }
            }
            changes.insert(id, change);
        }
        if background {
            let writing = store.commit_in_background(changes, marks);
            if writing.is_ok() {
                self.goals_counted(&written);
                self.release_days(&written);
            }
            return writing.map_err(|e| self.reload_after_failed_commit(e));
        }
        let committed = store.commit_batch(changes, marks);
        if committed.is_ok() && live_marks.is_some() && self.wal.is_some() {
            self.pending = LiveMarks::default();
            self.live_segment = None;
            self.seal_policy.since = None;
            self.seal_policy.sized_for(store.bytes());
        }
        if committed.is_ok() {
            self.goals_counted(&written);
            self.release_days(&written);
        }
        committed
            .map(|()| None)
            .map_err(|e| self.reload_after_failed_commit(e))
    }

    /// After a commit: the goal rollups of its sites were counted with
    /// their goal definitions.
    fn goals_counted(&mut self, written: &[(u32, Vec<NaiveDate>)]) {
        for (id, _) in written {
            if let Some(site) = self.sites.get_mut(id) {
                site.goals_changed = false;
                site.history.clear_orders_moved();
            }
        }
    }

    /// After a commit: the written days of each site that take no live
    /// batch leave the writer's memory for its day cache (under their new
    /// file generation), and the site's rollups are the manifest's. A
    /// writer holds only what batches touch between commits.
    pub(crate) fn release_days(&mut self, written: &[(u32, Vec<NaiveDate>)]) {
        let Some(store) = &self.store else { return };
        for (id, days) in written {
            let (Some(site), Some(files)) = (self.sites.get_mut(id), store.manifest.sites.get(id))
            else {
                continue;
            };
            let Some(lazy) = &mut site.lazy else { continue };
            lazy.rollups = files.rollup_names();
            let loader = crate::store::lazy::StoredHistory::loader(
                *id,
                site.dicts.visitors.len(),
                lazy.source.clone(),
            );
            site.history
                .committed(&files.pages, files.totals, Some(loader));
            for day in days {
                if site.live.contains_key(day) {
                    // Still held: the file now holds this archive. Its own
                    // report part as read is no longer what the file holds
                    // (its month then has no report rollup: a month with a
                    // live day gets none until it is sealed and rebuilt).
                    if let Some(a) = site.days.get(day) {
                        site.held_from.insert(*day, HeldDay::of(a));
                    }
                    site.held_reports.remove(day);
                    continue;
                }
                let Some(&generation) = files.days.get(day) else {
                    site.days.remove(day);
                    lazy.files.remove(day);
                    continue;
                };
                site.held_from.remove(day);
                site.held_reports.remove(day);
                if let Some(archive) = site.days.remove(day) {
                    lazy.cache.put((*id, *day, generation), Arc::new(archive));
                    lazy.files.insert(*day, generation);
                }
            }
        }
    }

    /// After a failed commit: the engine reloads what the store holds (and
    /// replays its log), so memory never holds more than the disk; the
    /// commit's error is returned (with the reload's, if that failed too).
    fn reload_after_failed_commit(&mut self, e: Error) -> Error {
        let Some(mut store) = self.store.take() else {
            return e;
        };
        let limit = self.live_limit;
        let threads = self.query_threads;
        // Log writers keep appending to the log they hold: it stays the
        // engine's, and nothing is appended while the reload replays it.
        let shared = self.wal.take();
        let mut guard = shared.as_ref().map(wal::lock);
        let reloaded = store.reload_manifest().and_then(|()| {
            let mut engine = Engine::load(store)?;
            engine.live_limit = limit;
            engine.query_threads = threads;
            engine.open_wal(true)?;
            Ok(engine)
        });
        let reloaded = reloaded.map(|mut engine| {
            let fresh = engine.wal.take().and_then(|f| Arc::try_unwrap(f).ok());
            if let (Some(log), Some(fresh)) = (guard.as_mut(), fresh) {
                // Every record on disk is replayed into live parts, those
                // log writers appended and the engine had not applied
                // included: their tickets (an earlier generation) apply
                // nothing.
                log.wal = fresh
                    .into_inner()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .wal;
                log.unapplied.clear();
                log.generation += 1;
            }
            engine
        });
        drop(guard);
        match reloaded {
            Ok(mut engine) => {
                engine.wal = shared;
                *self = engine;
                e
            }
            Err(reload) => {
                self.wal = shared;
                Error::Store {
                    path: ".".into(),
                    reason: format!("{e}; reloading the store then failed too: {reload}"),
                }
            }
        }
    }

    /// Opens a store folder for reading and writing, creating it if
    /// missing. Every ingest that returns `Ok` is on disk when it returns;
    /// a second writer gets [`Error::Locked`].
    ///
    /// Files that cannot be read are reported by [`Engine::damaged`]; the
    /// rest of the store answers, and a query that needs a damaged day
    /// fails with an error naming the file.
    ///
    /// # Examples
    /// ```
    /// use hitmap::{Engine, Hit, Query, SiteConfig};
    /// let dir = std::env::temp_dir().join(format!("hitmap-doc-{}", std::process::id()));
    /// {
    ///     let mut engine = Engine::open(&dir)?;
    ///     engine.add_site(SiteConfig::new(1))?;
    ///     engine.ingest([Hit::pageview(1, 1_717_200_000, "a", "https://x.org/")])?;
    /// }
    /// let engine = Engine::open_read_only(&dir)?;
    /// assert_eq!(engine.query(&Query::site(1))?.visits_summary().nb_visits, 1);
    /// # std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn open(path: impl AsRef<std::path::Path>) -> Result<Engine> {
        Engine::open_with(path, crate::store::StoreOptions::default())
    }

    /// [`Engine::open`] with store options (how long superseded files stay
    /// for readers).
    ///
    /// A folder that holds store files but no readable `MANIFEST` is
    /// refused, so that nothing in it is deleted; see
    /// [`recover_manifest`](crate::recover_manifest).
    pub fn open_with(
        path: impl AsRef<std::path::Path>,
        options: crate::store::StoreOptions,
    ) -> Result<Engine> {
        let mut engine = Engine::load(Store::open_writer(path.as_ref(), options)?)?;
        engine.open_wal(true)?;
        Ok(engine)
    }

    /// Opens an existing store for queries only, without the writer lock:
    /// a snapshot of the last committed batch, while a writer goes on.
    ///
    /// The engine is a lazy reader ([`Engine::open_reader`] with the
    /// default [`ReaderOptions`](crate::ReaderOptions)): days are read
    /// when a query needs them.
    pub fn open_read_only(path: impl AsRef<std::path::Path>) -> Result<Engine> {
        Engine::open_read_only_with(path, crate::ReaderOptions::default())
    }

    /// [`Engine::open_read_only`] with a cache budget and refresh age.
    ///
    /// # Examples
    /// ```
    /// let dir = std::env::temp_dir().join(format!("hitmap-ro-{}", std::process::id()));
    /// hitmap::Engine::open(&dir)?.add_site(hitmap::SiteConfig::new(1))?;
    /// let options = hitmap::ReaderOptions::default().cache_mb(8);
    /// assert_eq!(hitmap::Engine::open_read_only_with(&dir, options)?.site_ids(), [1]);
    /// # std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn open_read_only_with(
        path: impl AsRef<std::path::Path>,
        options: crate::ReaderOptions,
    ) -> Result<Engine> {
        // A writer removes the previous generation's files after each
        // commit: a reader that lost that race sees files missing while the
        // manifest has moved on, and loads the newer snapshot instead.
        let path = path.as_ref();
        let mut attempts = 0;
        loop {
            let source = crate::store::source::Source::folder(path);
            let engine = Engine::open_source(source, options.clone())?;
            let generation = engine.store.as_ref().map_or(0, |s| s.manifest.generation);
            attempts += 1;
            if engine.damaged().is_empty() || attempts >= 20 {
                return Ok(engine);
            }
            if Store::open_reader(path)?.manifest.generation == generation {
                return Ok(engine); // damage that is really there
            }
        }
    }

    /// Every store file that could not be read, with the reason.
    pub fn damaged(&self) -> Vec<String> {
        let mut out: Vec<String> = self.broken.values().map(Error::to_string).collect();
        for (path, reason) in &self.wal_damage {
            out.push(format!("store file {path}: {reason}"));
        }
        for site in self.sites.values() {
            for (path, reason) in site.damaged.values().chain(&site.rollup_damage) {
                out.push(format!("store file {path}: {reason}"));
            }
        }
        out
    }

    /// The store's folder, if the engine has one.
    pub fn path(&self) -> Option<&std::path::Path> {
        self.store.as_ref().map(Store::root)
    }

    pub(crate) fn writable(&self) -> Result<()> {
        match &self.store {
            Some(s) if !s.is_writer() => Err(Error::ReadOnly),
            _ => Ok(()),
        }
    }

    pub(crate) fn site_state(&self, id: u32) -> Result<&SiteState> {
        match self.sites.get(&id) {
            Some(site) => Ok(site),
            None => Err(self
                .broken
                .get(&id)
                .map_or(Error::UnknownSite(id), clone_store_error)),
        }
    }
}

impl Batch {
    /// Records item `line`'s outcome. An accepted item of a live batch
    /// bound for the write-ahead log is written there by `log`; a batch
    /// that outgrows the live limit rebuilds its days instead.
    fn record(
        &mut self,
        line: u64,
        r: std::result::Result<(), String>,
        log: impl FnOnce(&mut Vec<u8>),
    ) {
        if r.is_ok() && self.live && self.to_wal {
            log(&mut self.log);
        }
        self.note(line, r);
        if self.live && self.outcome.accepted as usize > self.limit.0 {
            self.live = false;
            self.log = Vec::new();
        }
    }

    fn note(&mut self, line: u64, r: std::result::Result<(), String>) {
        match r {
            Ok(()) => self.outcome.accepted += 1,
            Err(reason) => self.outcome.rejected.push(Rejected { line, reason }),
        }
    }
}

/// Typed hits one thread validates and interns at a time, and how many
/// a round of blocks holds (a round's items are held until merged: an
/// iterator of owned hits is not drained whole).
const TYPED_BLOCK: usize = 8 << 10;
const TYPED_ROUND: usize = 8 * TYPED_BLOCK;

/// Bytes of NDJSON one thread reads and interns at a time (about 23,000
/// lines of 180 bytes).
const BLOCK_BYTES: usize = 2 << 20;

/// One NDJSON line read: blank, or a hit (or why it is not one).
// Blank lines are rare; boxing every hit would cost an allocation a line.
#[allow(clippy::large_enum_variant)]
enum Parsed<'a> {
    Blank,
    Hit(std::result::Result<HitView<'a>, String>),
}

fn parse_raw(raw: &[u8]) -> Parsed<'_> {
    if raw.iter().all(json_whitespace) {
        return Parsed::Blank;
    }
    match std::str::from_utf8(raw) {
        Err(e) => Parsed::Hit(Err(format!("not valid UTF-8 (byte {})", e.valid_up_to()))),
        Ok(line) => Parsed::Hit(parse_line(line)),
    }
}

/// Reads and interns a block of NDJSON lines into dictionaries of its own
/// (a thread's share of a chunk; see `intern.rs`).
fn read_block<'a>(zones: &crate::intern::Zones, bytes: &'a [u8]) -> crate::intern::Block<&'a [u8]> {
    let mut block = crate::intern::Block::default();
    for raw in lines(bytes) {
        let outcome = match parse_raw(raw) {
            Parsed::Blank => None,
            Parsed::Hit(view) => Some(view.and_then(|view| block.add(zones, &view))),
        };
        block.lines.push((raw, outcome));
    }
    block
}

impl Drop for Engine {
    fn drop(&mut self) {
        // The store's lock goes with the engine: log writers stop.
        if let Some(w) = &self.wal {
            wal::lock(w).closed = true;
        }
    }
}

/// A typed hit the ingest reads: owned ([`Hit`]) or borrowed ([`HitRef`]).
pub(crate) trait TypedHit: Sync {
    /// The hit as the engine reads it.
    fn view(&self) -> crate::hit::HitView<'_>;
    /// The hit as an NDJSON line (for the write-ahead log).
    fn ndjson(&self) -> String;
}

impl TypedHit for Hit {
    fn view(&self) -> crate::hit::HitView<'_> {
        Hit::view(self)
    }
    fn ndjson(&self) -> String {
        self.to_ndjson()
    }
}

impl TypedHit for HitRef<'_> {
    fn view(&self) -> crate::hit::HitView<'_> {
        HitRef::view(self)
    }
    fn ndjson(&self) -> String {
        self.to_hit().to_ndjson()
    }
}

/// Validates and interns a block of typed hits into dictionaries of its
/// own (a thread's share of a batch).
fn read_hits<'a, T: TypedHit>(
    zones: &crate::intern::Zones,
    hits: &[&'a T],
) -> crate::intern::Block<&'a T> {
    let mut block = crate::intern::Block::default();
    for &hit in hits {
        let view = hit.view();
        let outcome = view.validate().and_then(|()| block.add(zones, &view));
        block.lines.push((hit, Some(outcome)));
    }
    block
}

/// A part of [`Engine::ingest_chunks`]' time ([`Phases`]).
#[derive(Debug, Clone, Copy)]
enum Phase {
    Read,
    BatchId,
    Parse,
    Write,
    Commit,
    Rollups,
}

/// Where an NDJSON ingest's time goes, summed by [`Phase`], when the
/// `HITMAP_INGEST_PHASES` environment variable is set: printed on stderr
/// at the end (the profiles of BENCHMARKS.md).
struct Phases {
    on: Option<(std::time::Instant, [f64; 6])>,
}

impl Phases {
    fn from_env() -> Phases {
        Phases {
            on: std::env::var_os("HITMAP_INGEST_PHASES")
                .map(|_| (std::time::Instant::now(), [0.0; 6])),
        }
    }

    fn start(&mut self) {
        if let Some((t, _)) = &mut self.on {
            *t = std::time::Instant::now();
        }
    }

    /// The time since the last call (or [`Phases::start`]) goes to `p`.
    fn add(&mut self, p: Phase) {
        if let Some((t, sums)) = &mut self.on {
            sums[p as usize] += t.elapsed().as_secs_f64();
            *t = std::time::Instant::now();
        }
    }

    fn report(&self, total: &IngestOutcome) {
        if let Some((_, [read, id, parse, write, commit, rollups])) = self.on {
            eprintln!(
                "ingest phases (s): read {read:.2}, batch id {id:.2}, parse and intern {parse:.2}, \
                 wait for the previous write {write:.2}, commit {commit:.2}, report rollups \
                 {rollups:.2} ({} hits, {} batches)",
                total.accepted, total.batches
            );
        }
    }
}

/// Reads whole lines into `chunk` until it holds at least `size` bytes
/// (or the input ends), taking what the reader has buffered at once
/// rather than a line at a time.
fn read_chunk<R: BufRead>(reader: &mut R, size: usize, chunk: &mut Vec<u8>) -> std::io::Result<()> {
    loop {
        if chunk.len() >= size && chunk.last() == Some(&b'\n') {
            return Ok(());
        }
        let buf = crate::resume::fill_buf(reader)?;
        if buf.is_empty() {
            return Ok(());
        }
        let take = if chunk.len() >= size {
            // Full: finish the line under way.
            memchr::memchr(b'\n', buf).map_or(buf.len(), |i| i + 1)
        } else {
            (size - chunk.len()).min(buf.len())
        };
        chunk.extend_from_slice(&buf[..take]);
        reader.consume(take);
    }
}

/// The bytes after the last `\n` of `bytes` (all of them without one).
fn last_line(bytes: &[u8]) -> &[u8] {
    &bytes[memchr::memrchr(b'\n', bytes).map_or(0, |i| i + 1)..]
}

/// The lines of `bytes`, each with its `\n` (the last may lack one), as
/// `split_inclusive` would cut them but found with SIMD (`memchr`).
fn lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut start = 0;
    let mut ends = memchr::memchr_iter(b'\n', bytes);
    std::iter::from_fn(move || {
        let end = ends.next().map_or(bytes.len(), |i| i + 1);
        if start >= end {
            return None;
        }
        let line = &bytes[start..end];
        start = end;
        Some(line)
    })
}

/// `bytes` cut into runs of whole lines of about `size` bytes.
fn blocks(bytes: &[u8], size: usize) -> impl Iterator<Item = &[u8]> {
    let mut rest = bytes;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let cut = match rest
            .get(size..)
            .and_then(|t| t.iter().position(|&b| b == b'\n'))
        {
            Some(i) => size + i + 1,
            None => rest.len(),
        };
        let (block, tail) = rest.split_at(cut);
        rest = tail;
        Some(block)
    })
}

fn clone_store_error(e: &Error) -> Error {
    match e {
        Error::Store { path, reason } => Error::Store {
            path: path.clone(),
            reason: reason.clone(),
        },
        other => Error::Store {
            path: ".".into(),
            reason: other.to_string(),
        },
    }
}
