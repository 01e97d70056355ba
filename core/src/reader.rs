//! Store readers: opened lazily from a folder or an object store URL,
//! refreshed to newer commits without reloading unchanged days.
//!
//! Opening reads the manifest and, per site, the configuration and the
//! dictionaries; the visitor history (`visitors-<gen>.bin`: every
//! visitor's days with visits, which new/returning and `visitCount`
//! need) is read with the first day a query reads (`LazyHistory`), or at
//! open when the write-ahead log's batches change it; a VisitsSummary of
//! whole months reads their rollups and no day. A query reads the day
//! archives in its range through a shared
//! [`DayCache`] that keeps the most recently used days within a byte
//! budget. Days the write-ahead log touches are read at open and held,
//! since its batches apply to them.

use std::sync::Arc;
use std::time::Instant;

use chrono::NaiveDate;

use crate::engine::{Engine, SiteState};
use crate::error::{Error, Result};
use crate::history::History;
use crate::rollup::{self, Rollup, Span};
use crate::store::lazy::{DayCache, LazyDays, ReaderOptions, ReaderState};
use crate::store::source::{ReadStats, Source};
use crate::store::{
    SiteFiles, Store, config_path, day_path, dicts_path, format, history_path, store_err,
};

impl Engine {
    /// A writer of `store`: every site's head and visitor table, and its
    /// days' files, read when a batch, an erasure or a query needs them
    /// (through a cache of the store options' budget).
    pub(crate) fn load(store: Store) -> Result<Engine> {
        let mut engine = Engine::default();
        let cache = Arc::new(crate::store::lazy::DayCache::new(
            store.options().cache_bytes(),
        ));
        engine.day_cache = Some(cache.clone());
        for (&id, files) in &store.manifest.sites {
            match load_site(&store, id, files, &cache) {
                Ok(site) => {
                    engine.sites.insert(id, site);
                }
                Err(e) => {
                    engine.broken.insert(id, e);
                }
            }
        }
        engine.store = Some(store);
        Ok(engine)
    }

    /// Opens a store for queries only, lazily: `location` is a folder path
    /// or an object store URL (`s3://bucket/prefix`, `gs://…`, `az://…`,
    /// with the `object-store` feature; credentials and endpoints from the
    /// usual environment variables, such as `AWS_ACCESS_KEY_ID`,
    /// `AWS_REGION`, `AWS_ENDPOINT`). Opening reads the manifest and each
    /// site's configuration and dictionaries; queries read the days they
    /// need (and, with the first day, the site's visitor history), kept in
    /// a cache of `options.cache_mb`, or a whole month's rollup.
    ///
    /// # Examples
    /// ```
    /// use hitmap::{Engine, Hit, Query, ReaderOptions, SiteConfig};
    /// let dir = std::env::temp_dir().join(format!("hitmap-reader-{}", std::process::id()));
    /// {
    ///     let mut engine = Engine::open(&dir)?;
    ///     engine.add_site(SiteConfig::new(1))?;
    ///     engine.ingest([Hit::pageview(1, 1_717_200_000, "a", "https://x.org/")])?;
    ///     engine.seal()?;
    /// }
    /// let reader = Engine::open_reader(dir.to_str().unwrap(), ReaderOptions::default().cache_mb(16))?;
    /// let before = reader.read_stats().requests; // manifest, config, dictionaries
    /// assert_eq!(reader.query(&Query::site(1))?.visits_summary().nb_visits, 1);
    /// assert_eq!(reader.read_stats().requests, before + 2); // the one day, the visitor history
    /// # std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn open_reader(location: &str, options: ReaderOptions) -> Result<Engine> {
        Engine::open_source(Source::parse(location, &options.storage)?, options)
    }

    pub(crate) fn open_source(source: Source, options: ReaderOptions) -> Result<Engine> {
        let source = Arc::new(source);
        let cache = Arc::new(DayCache::new(options.cache_bytes));
        // A seal that lands while the log is replayed deletes a segment
        // this manifest still names (at once on a full disk): open the
        // newer commit instead.
        let mut attempts = 0;
        loop {
            let store = Store::open_source(source.clone())?;
            let engine = Engine::load_lazy(store, options.clone(), cache.clone())?;
            attempts += 1;
            if !engine.wal_vanished || attempts == 3 {
                return Ok(engine);
            }
        }
    }

    fn load_lazy(store: Store, options: ReaderOptions, cache: Arc<DayCache>) -> Result<Engine> {
        let mut engine = Engine::default();
        for (&id, files) in &store.manifest.sites {
            match load_site_lazy(&store, id, files, &cache) {
                Ok(site) => {
                    engine.sites.insert(id, site);
                }
                Err(e) => {
                    engine.broken.insert(id, e);
                }
            }
        }
        engine.store = Some(store);
        engine.open_wal(false)?;
        let wal_bytes = engine.wal_bytes();
        engine.reader = Some(ReaderState {
            options,
            cache,
            loaded_at: std::sync::Mutex::new(Instant::now()),
            wal_bytes,
        });
        Ok(engine)
    }

    /// Bytes in the folder store's write-ahead log segments from the
    /// manifest's first unsealed one.
    fn wal_bytes(&self) -> u64 {
        let Some(store) = &self.store else { return 0 };
        let Some(root) = store.source.folder_path() else {
            return 0;
        };
        crate::store::wal::segments(root)
            .into_iter()
            .filter(|&n| n >= store.manifest.wal)
            .filter_map(|n| std::fs::metadata(root.join(crate::store::wal::wal_path(n))).ok())
            .map(|m| m.len())
            .sum()
    }

    /// Brings a reader up to the store's newest commit (and, for a folder,
    /// the write-ahead log's newest batches). Days whose files did not
    /// change stay cached. Returns whether anything changed. A writer or
    /// an in-memory engine is always current: `Ok(false)`.
    ///
    /// # Examples
    /// ```
    /// use hitmap::{Engine, Hit, Query, ReaderOptions, SiteConfig};
    /// let dir = std::env::temp_dir().join(format!("hitmap-refresh-{}", std::process::id()));
    /// let mut writer = Engine::open(&dir)?;
    /// writer.add_site(SiteConfig::new(1))?;
    /// let mut reader = Engine::open_reader(dir.to_str().unwrap(), ReaderOptions::default())?;
    /// writer.ingest([Hit::pageview(1, 1_717_200_000, "a", "https://x.org/")])?;
    /// assert_eq!(reader.query(&Query::site(1))?.visits_summary().nb_visits, 0);
    /// assert!(reader.refresh()?);
    /// assert_eq!(reader.query(&Query::site(1))?.visits_summary().nb_visits, 1);
    /// # drop(writer); std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn refresh(&mut self) -> Result<bool> {
        match self.refreshed()? {
            Some(engine) => {
                *self = engine;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// [`Engine::refresh`] without touching this engine: the reader of the
    /// store's newest commit (sharing the cached days that did not
    /// change), or `None` if this one is current. A server swaps it in
    /// while requests in flight finish on the old one.
    ///
    /// # Examples
    /// ```
    /// assert!(hitmap::Engine::in_memory().refreshed()?.is_none());
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn refreshed(&self) -> Result<Option<Engine>> {
        let (Some(reader), Some(store)) = (&self.reader, &self.store) else {
            return Ok(None);
        };
        let manifest = store.current_manifest()?.ok_or_else(|| {
            store_err(
                format!("{}/MANIFEST", store.source.describe()),
                "is gone: the store was removed",
            )
        })?;
        *reader.loaded_at.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
        if manifest.generation == store.manifest.generation && self.wal_bytes() == reader.wal_bytes
        {
            return Ok(None);
        }
        let next = Store::with_manifest(store.source.clone(), manifest);
        let cache = Arc::new(DayCache::new(reader.options.cache_bytes));
        let mut engine = Engine::load_lazy(next, reader.options.clone(), cache.clone())?;
        if engine.wal_vanished {
            return Err(store_err(
                "wal",
                "a seal landed while the log was read: refresh again for its commit",
            ));
        }
        engine.query_threads = self.query_threads;
        // Unchanged day files stay: the same archive when its `before`
        // column (earlier visits of its visitors) is unchanged too, else a
        // copy with the new column; the old engine keeps its own.
        reader
            .cache
            .carry_over(&cache, |(site, date, generation), archive| {
                let s = engine.sites.get(&site)?;
                if s.lazy.as_ref()?.files.get(&date) != Some(&generation) {
                    return None;
                }
                if !archive.cols.has(crate::archive::Columns::BEFORE) {
                    return Some(archive.clone());
                }
                let column = s.history().before_column(date, &archive.visitor).ok()?;
                if column == archive.before {
                    return Some(archive.clone());
                }
                let mut fresh = (**archive).clone();
                fresh.before = column;
                Some(Arc::new(fresh))
            });
        Ok(Some(engine))
    }

    /// [`Engine::refresh`] if the snapshot is older than the reader's
    /// [`ReaderOptions::max_age`]; hosts call it before each request.
    ///
    /// # Examples
    /// ```
    /// let mut engine = hitmap::Engine::in_memory();
    /// assert!(!engine.refresh_if_stale()?);
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn refresh_if_stale(&mut self) -> Result<bool> {
        if self.is_stale() {
            self.refresh()
        } else {
            Ok(false)
        }
    }

    /// Whether a reader's snapshot is older than its
    /// [`ReaderOptions::max_age`] (never without one).
    ///
    /// # Examples
    /// ```
    /// assert!(!hitmap::Engine::in_memory().is_stale());
    /// ```
    pub fn is_stale(&self) -> bool {
        self.reader.as_ref().is_some_and(|r| {
            r.options.max_age.is_some_and(|age| {
                r.loaded_at
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .elapsed()
                    >= age
            })
        })
    }

    /// How many files and bytes this engine has read from its store since
    /// it was opened (zero for an in-memory engine).
    ///
    /// # Examples
    /// ```
    /// assert_eq!(hitmap::Engine::in_memory().read_stats(), hitmap::ReadStats::default());
    /// ```
    pub fn read_stats(&self) -> ReadStats {
        self.store
            .as_ref()
            .map_or_else(ReadStats::default, |s| s.source.stats())
    }

    /// Bytes of day archives (and month rollups) a reader's or a writer's
    /// cache holds now (an estimate of their heap size; 0 in memory).
    /// A writer's days that take live batches are held outside it.
    ///
    /// # Examples
    /// ```
    /// assert_eq!(hitmap::Engine::in_memory().cached_bytes(), 0);
    /// ```
    pub fn cached_bytes(&self) -> usize {
        match &self.reader {
            Some(r) => r.cache.bytes(),
            None => self
                .sites
                .values()
                .find_map(|s| s.lazy.as_ref())
                .map_or(0, |l| l.cache.bytes()),
        }
    }

    /// Reads and checks every day file a lazy reader has not read yet (and,
    /// where no live batch changed it, that the stored visitor history
    /// agrees with the days), and that every rollup a query would use
    /// gives what its days give (its totals, ids and every report row);
    /// records what fails (this engine then answers those periods from
    /// their days) and returns [`Engine::damaged`]. A writer checked
    /// every file when it opened.
    ///
    /// # Examples
    /// ```
    /// let mut engine = hitmap::Engine::in_memory();
    /// assert!(engine.verify().is_empty());
    /// ```
    pub fn verify(&mut self) -> Vec<String> {
        if let Some(store) = &self.store {
            for (&id, site) in &mut self.sites {
                let Some(lazy) = &site.lazy else { continue };
                let (columns, noted, bad) = visitor_columns(store, site, id, &lazy.files);
                let whole = bad.is_empty() && site.days.is_empty() && site.live.is_empty();
                if whole {
                    let (pages, totals) = crate::history::pages_of_days(
                        columns.iter().map(|(d, v)| (*d, v.as_slice())),
                        noted,
                    );
                    let files = &store.manifest.sites[&id];
                    let disagrees = match site.history().read_all() {
                        Err(e) => Some(e.to_string()),
                        Ok((stored, stored_totals)) => {
                            let same_pages = stored.len() == pages.len()
                                && stored
                                    .iter()
                                    .zip(&pages)
                                    .all(|((m, p), (n, q))| m == n && *p == q);
                            // Totals name every visitor the dictionaries had
                            // when written; the ones without visits are 0.
                            let same_totals = stored_totals.is_none_or(|t| {
                                (0..t.visits.len().max(totals.visits.len())).all(|v| {
                                    t.visits.get(v).copied().unwrap_or(0)
                                        == totals.visits.get(v).copied().unwrap_or(0)
                                        && t.last.get(v).copied().flatten()
                                            == totals.last.get(v).copied().flatten()
                                        // Totals from before first starts
                                        // were kept have none.
                                        && (t.first.is_empty()
                                            || t.first_start(v as u32)
                                                == totals.first_start(v as u32))
                                }) && (t.orders_unknown || t.orders == totals.orders)
                            });
                            (!(same_pages && same_totals)).then(|| {
                                "the visitor history disagrees with the day files".to_string()
                            })
                        }
                    };
                    if let Some(reason) = disagrees {
                        let path = match (files.totals, files.history) {
                            (Some(_), _) => format!("site-{id}/history"),
                            (None, Some(g)) => history_path(id, g).display().to_string(),
                            (None, None) => format!("site-{id}"),
                        };
                        site.damaged.insert(NaiveDate::MIN, (path, reason));
                    }
                }
                for (date, d) in bad {
                    if let Some(lazy) = &mut site.lazy {
                        lazy.files.remove(&date);
                    }
                    site.damaged.insert(date, d);
                }
                // Every rollup a query would use, against its days.
                for (span, start, path, reason) in wrong_rollups(id, site) {
                    if let Some(names) = site.lazy.as_mut().and_then(|l| l.rollups.get_mut(&span)) {
                        names.remove(&start);
                    }
                    site.rollup_damage.push((path, reason));
                }
            }
        }
        self.damaged()
    }

    /// Holds every day of a site (an erasure rewrites them all).
    pub(crate) fn hold_site(&mut self, id: u32) {
        let dates: Vec<(u32, NaiveDate)> = self
            .sites
            .get(&id)
            .and_then(|s| s.lazy.as_ref())
            .map(|l| l.files.keys().map(|d| (id, *d)).collect())
            .unwrap_or_default();
        self.hold_days(&dates, false);
    }

    /// A reader holds the days the write-ahead log's batch touches before
    /// replaying it (its live parts mask their visits); a writer the days
    /// a batch touches, and (`reports`) each one's part of its month's
    /// report rollup, so that the rollup is updated, not rebuilt.
    pub(crate) fn hold_days(&mut self, days: &[(u32, NaiveDate)], reports: bool) {
        for &(id, date) in days {
            let Some(site) = self.sites.get_mut(&id) else {
                continue;
            };
            // The batch changes the visitor history from this month on:
            // it is read now.
            let held = site.hold_history_from(date).map_err(|e| match e {
                Error::Store { path, reason } => (path, reason),
                e => (format!("site-{id}"), e.to_string()),
            });
            let Some(generation) = site.lazy.as_mut().and_then(|l| l.files.remove(&date)) else {
                continue;
            };
            let Some(store) = &self.store else { return };
            // From the cache if it is there (a writer's days go back to
            // it after each commit), else from the file.
            let cached = site
                .lazy
                .as_ref()
                .and_then(|l| l.cache.take((id, date, generation)))
                .map(|a| Arc::try_unwrap(a).unwrap_or_else(|shared| (*shared).clone()));
            let read = held.and_then(|()| match cached {
                Some(a) => Ok(a),
                None => read_day(store, site, id, date, generation),
            });
            match read {
                Ok(mut archive) => {
                    // The page is held: nothing left to read or fail.
                    let _ = site.history.fill_before(date, &mut archive);
                    site.held_from
                        .insert(date, crate::engine::HeldDay::of(&archive));
                    // Its part of its month's report rollup, if it has one.
                    let month = crate::rollup::month_of(date);
                    let rolled = site.lazy.as_ref().is_some_and(|l| {
                        l.rollups
                            .get(&crate::rollup::Span::MonthReports)
                            .is_some_and(|m| m.contains_key(&month))
                    });
                    if reports && rolled {
                        let own = crate::rollup::Rollup::build(
                            month,
                            [(date, &archive)],
                            Some(&site.visit_keys()),
                        );
                        site.held_reports.insert(date, own);
                    }
                    site.days.insert(date, archive);
                }
                Err(d) => {
                    site.damaged.insert(date, d);
                }
            }
        }
    }
}

/// Why a goal rollup that a query would use (counted with the site's
/// goal definitions) disagrees with its days, if it does: every visit's
/// sums, and new and returning visits' while the visitor history is as
/// it saw it.
fn wrong_goals(site: &SiteState, stored: &Rollup) -> Option<String> {
    let g = stored.goals.as_ref()?;
    let config = &site.config;
    if g.key != crate::goal_sums::goals_key(&config.goals, config.ecommerce) {
        return None;
    }
    let mut months: Vec<NaiveDate> = stored.dates.iter().map(|d| rollup::month_of(*d)).collect();
    months.dedup();
    let mut built = crate::rollup::goals::GoalRollup {
        key: g.key,
        ..Default::default()
    };
    for m in months {
        let parts = match site.parts(m, Span::Month.end(m)) {
            Ok(parts) => parts,
            Err(_) => return None,
        };
        let r = Rollup::build_goals(
            m,
            parts.iter().map(|p| (p.date, &*p.archive)),
            &site.visit_keys(),
            site.history(),
        );
        built.add(r.goals.as_deref()?);
    }
    let generation = site
        .lazy
        .as_ref()
        .and_then(|l| l.rollups.get(&stored.span)?.get(&stored.start).copied())?;
    let current = site
        .history()
        .newest_within(stored.start, stored.span.end(stored.start))
        .is_none_or(|n| n <= generation);
    let (mine, days) = if current {
        (g.as_ref().clone(), built)
    } else {
        (g.every_visit(), built.every_visit())
    };
    (mine != days).then(|| {
        format!(
            "its goal sums disagree with its days' ({} converted visits, {} from the days)",
            mine.overall[0].visits, days.overall[0].visits
        )
    })
}

/// The rollups of a site that a query would use (current for their
/// days) but that disagree with what those days give, as (span, first
/// day, file, why). Days that cannot be read are left to the day check.
fn wrong_rollups(id: u32, site: &SiteState) -> Vec<(Span, NaiveDate, String, String)> {
    let Some(lazy) = &site.lazy else {
        return Vec::new();
    };
    let d = &site.dicts;
    // Each month built once from its days, with its reports.
    let mut months: std::collections::BTreeMap<NaiveDate, Option<Rollup>> =
        std::collections::BTreeMap::new();
    let mut build_month = |start: NaiveDate, reports: bool| -> Option<Rollup> {
        let built = months.entry(start).or_insert_with(|| {
            let parts = site.parts(start, Span::Month.end(start)).ok()?;
            (!parts.is_empty()).then(|| {
                let parts = parts.iter().map(|p| (p.date, &*p.archive));
                Rollup::build(start, parts, Some(&site.visit_keys()))
            })
        });
        let built = built.as_ref()?;
        Some(if reports {
            built.clone()
        } else {
            // The summary alone, without copying the reports.
            Rollup {
                start: built.start,
                dates: built.dates.clone(),
                totals: built.totals,
                visitors: built.visitors.clone(),
                users: built.users.clone(),
                ..Rollup::default()
            }
        })
    };
    let mut out = Vec::new();
    for span in crate::rollup::SPANS {
        let starts: Vec<NaiveDate> = lazy
            .rollups
            .get(&span)
            .map(|m| m.keys().copied().collect())
            .unwrap_or_default();
        for (start, stored) in lazy.rollups(site, span, &starts) {
            // What is wrong with it, and where.
            let mut wrong = |why: String| {
                let generation = lazy.rollups[&span][&start];
                let path = crate::store::span_rollup_path(id, span, start, generation);
                out.push((
                    span,
                    start,
                    path.display().to_string(),
                    format!("{why}; this process answers that period from its days, and the next commit that writes them rewrites it"),
                ));
            };
            if span.goals() {
                if let Some(why) = wrong_goals(site, &stored) {
                    wrong(why);
                }
                continue;
            }
            let built = match span.period() {
                Span::Month => build_month(start, span.reports()),
                _ => {
                    let mut months: Vec<NaiveDate> =
                        stored.dates.iter().map(|d| rollup::month_of(*d)).collect();
                    months.dedup();
                    let built: Option<Vec<Rollup>> = months
                        .iter()
                        .map(|m| build_month(*m, span.reports()))
                        .collect();
                    built.map(|b| Rollup::year(start, b.iter(), span.reports()))
                }
            };
            let Some(mut built) = built else { continue };
            // Reports built by older rules are not used (`hitmap check
            // --upgrade` rebuilds them): nothing of them to check.
            let mut reports =
                stored.stored.as_ref().filter(|s| s.current).map(|s| {
                    crate::store::format::decode_reports(s, d.visitors.len(), d.users.len())
                });
            let why = if (stored.totals, &stored.visitors, &stored.users)
                != (built.totals, &built.visitors, &built.users)
            {
                Some(format!(
                    "its totals or ids disagree with its days' ({} visits, {} from the days)",
                    stored.totals.visits, built.totals.visits
                ))
            } else {
                // A rollup written before grouped reports were kept is
                // checked for the reports it keeps.
                if let (Some(Ok(r)), Some(b)) = (&mut reports, built.reports.as_mut()) {
                    // Grouped reports it does not keep (written before
                    // they were kept, or dropped by a late batch's update)
                    // are read from the days; those that depend on the
                    // visitor history only while it is as they saw it.
                    let generation = lazy.rollups[&span][&start];
                    let current = site
                        .history()
                        .newest_within(start, span.end(start))
                        .is_none_or(|n| n <= generation);
                    r.groups.retain(|g, _| current || !g.history());
                    b.groups.retain(|g, _| r.groups.contains_key(g));
                    b.events.retain(|e, _| r.events.contains_key(e));
                    // Sections defined otherwise since it was written
                    // have other rows (and are not answered from it).
                    let g = crate::visit_key::VisitGroup::Sections;
                    if let (Some(mine), Some(days)) = (r.groups.get_mut(&g), b.groups.get_mut(&g)) {
                        mine.retain(|k, _| days.contains_key(k));
                        days.retain(|k, _| mine.contains_key(k));
                    }
                }
                match reports {
                    Some(Err(e)) => Some(format!("its reports cannot be read: {e}")),
                    Some(Ok(r)) if Some(&r) != built.reports.as_deref() => {
                        Some("its reports disagree with its days'".to_owned())
                    }
                    _ => None,
                }
            };
            if let Some(why) = why {
                wrong(why);
            }
        }
    }
    out
}

/// Reads and validates one day file of a site; a failure as the damage
/// record `(file, reason)` that `Engine::damaged` reports.
pub(crate) fn read_day(
    store: &Store,
    site: &SiteState,
    id: u32,
    date: NaiveDate,
    generation: u64,
) -> std::result::Result<crate::archive::DayArchive, (String, String)> {
    let path = day_path(id, date, generation);
    store
        .read(&path)
        .and_then(|bytes| format::decode_day(&bytes, &site.dicts).map_err(|r| store_err(&path, r)))
        .map_err(|e| match e {
            Error::Store { path, reason } => (path, reason),
            e => (path.display().to_string(), e.to_string()),
        })
}

/// Days' visitor columns.
type Columns = Vec<(NaiveDate, Vec<u32>)>;
/// Days that could not be read, with their damage records.
type Unread = Vec<(NaiveDate, (String, String))>;

/// Each day's visitor column (read, validated, the rest dropped), what
/// the days tell of the site's whole history (first starts and orders:
/// `Totals::note_day`), and the days that could not be read.
fn visitor_columns(
    store: &Store,
    site: &SiteState,
    id: u32,
    files: &std::collections::BTreeMap<NaiveDate, u64>,
) -> (Columns, crate::history::Totals, Unread) {
    let (mut columns, mut bad) = (Vec::with_capacity(files.len()), Vec::new());
    let mut noted = crate::history::Totals::default();
    let by_string = crate::history::by_visitor_string(&site.dicts.visitors);
    for (&date, &g) in files {
        match read_day(store, site, id, date, g) {
            Ok(a) => {
                noted.note_day(&a, &by_string);
                columns.push((date, a.visitor));
            }
            Err(d) => bad.push((date, d)),
        }
    }
    (columns, noted, bad)
}

/// A site's configuration and dictionaries, checked (writers and readers).
pub(crate) fn load_site_head(store: &Store, id: u32, files: &SiteFiles) -> Result<SiteState> {
    let path = config_path(id, files.config);
    let config = format::decode_config(&store.read(&path)?).map_err(|r| store_err(&path, r))?;
    let (config, tz) = config.validate().map_err(|e| store_err(&path, e))?;
    if config.id != id {
        return Err(store_err(
            &path,
            format!("holds site {} where site {id} was expected", config.id),
        ));
    }
    let path = dicts_path(id, files.dicts);
    let mut dicts = format::decode_dicts(&store.read(&path)?).map_err(|r| store_err(&path, r))?;
    for d in &config.dimensions {
        dicts.dim_names.intern(d);
    }
    let mut site = SiteState::new(config, tz);
    site.dicts = dicts;
    Ok(site)
}

/// A site for a lazy reader: its head, its visitor history (read, or
/// derived from every day for a store written before histories), and its
/// days' files.
pub(crate) fn load_site_lazy(
    store: &Store,
    id: u32,
    files: &SiteFiles,
    cache: &Arc<DayCache>,
) -> Result<SiteState> {
    let mut site = load_site_head(store, id, files)?;
    let visitors = site.dicts.visitors.len();
    let mut days = files.days.clone();
    let loader = crate::store::lazy::StoredHistory::loader(id, visitors, store.source.clone());
    site.history = match files.history {
        // Read when a query first needs them.
        _ if files.totals.is_some() || !files.pages.is_empty() => {
            History::stored(loader, &files.pages, files.totals)
        }
        Some(g) => History::legacy(loader, g),
        None => {
            let (columns, noted, bad) = visitor_columns(store, &site, id, &files.days);
            for (date, d) in bad {
                days.remove(&date);
                site.damaged.insert(date, d);
            }
            History::from_days(columns.iter().map(|(d, v)| (*d, v.as_slice())), noted)
        }
    };
    site.lazy = Some(LazyDays {
        site: id,
        files: days,
        rollups: files.rollup_names(),
        source: store.source.clone(),
        cache: cache.clone(),
    });
    Ok(site)
}

/// Loads one site for a writer: as a lazy reader does, with the visitor
/// history's latest month and totals read at once (batches change them).
fn load_site(
    store: &Store,
    id: u32,
    files: &crate::store::SiteFiles,
    cache: &Arc<crate::store::lazy::DayCache>,
) -> Result<SiteState> {
    let mut site = load_site_lazy(store, id, files, cache)?;
    let latest = site.history.months().last().copied();
    site.history.hold_from(latest.unwrap_or(NaiveDate::MAX))?;
    Ok(site)
}
