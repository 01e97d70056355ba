//! Lazy readers: a store opened for reading loads its manifest, each
//! site's configuration, dictionaries and visitor history, and nothing
//! else; a query reads the day archives it needs, and a [`DayCache`] keeps
//! the most recently used ones within a memory budget.
//!
//! A day in the cache is shared (`Arc`): a query holds the days it
//! answers from, so eviction never pulls a day from under a query; the
//! budget bounds what stays between queries.

use std::collections::{BTreeMap, HashMap};
use std::ops::Deref;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::NaiveDate;

use crate::archive::{Columns, DayArchive};
use crate::history::{Damage, History, Page, PageLoader, Totals};
use crate::error::{Error, Result};
use crate::rollup::{Rollup, Span};

use super::source::Source;
use super::{day_path, format, history_path, page_path, span_rollup_path, store_err, totals_path};

/// What a lazy reader needs from the site it reads for (the engine's
/// `SiteState`): its dictionaries, its visitor history, and whether it
/// holds, takes live batches for, or lost any day of a range (its files
/// then do not answer for those days).
pub(crate) trait SiteHead: Sync {
    fn dicts(&self) -> &crate::raw::SiteDicts;
    /// The visitor history (its pages read on first use).
    fn history(&self) -> &History;
    fn busy(&self, range: std::ops::RangeInclusive<NaiveDate>) -> bool;
}

/// A day archive as a query sees it: borrowed from the site (a writer's
/// days, live parts) or shared with the lazy reader's cache.
#[derive(Debug, Clone)]
pub(crate) enum DayRef<'a> {
    Borrowed(&'a DayArchive),
    Shared(Arc<DayArchive>),
}

impl Deref for DayRef<'_> {
    type Target = DayArchive;

    fn deref(&self) -> &DayArchive {
        match self {
            DayRef::Borrowed(a) => a,
            DayRef::Shared(a) => a,
        }
    }
}

/// The days of one site that a lazy reader has not loaded: their files,
/// where to read them, and the cache they go to.
#[derive(Debug)]
pub(crate) struct LazyDays {
    pub site: u32,
    /// Day → generation of its file (days held in `SiteState::days`, the
    /// ones the write-ahead log touches, are not here).
    pub files: BTreeMap<NaiveDate, u64>,
    /// Per span, each period's first day → generation of its rollup, as
    /// the manifest names them.
    pub rollups: BTreeMap<Span, BTreeMap<NaiveDate, u64>>,
    pub source: Arc<Source>,
    pub cache: Arc<DayCache>,
}

impl LazyDays {
    /// A site without stored days yet (a writer's new site).
    pub(crate) fn empty(site: u32, source: Arc<Source>, cache: Arc<DayCache>) -> LazyDays {
        LazyDays {
            site,
            files: BTreeMap::new(),
            rollups: BTreeMap::new(),
            source,
            cache,
        }
    }

    /// The archives of the days `first..=last` this reader has not loaded,
    /// by date: from the cache, or read (all misses at once: an object
    /// store fetches them concurrently), validated against the site's
    /// dictionaries and given their `before` column, on up to `threads`
    /// threads. Each holds at least the column groups `cols` (a day read
    /// now holds those and the ones its cached copy held).
    pub(crate) fn days(
        &self,
        site: &impl SiteHead,
        first: NaiveDate,
        last: NaiveDate,
        threads: usize,
        cols: Columns,
    ) -> Result<BTreeMap<NaiveDate, Arc<DayArchive>>> {
        let mut out = BTreeMap::new();
        let mut missing = Vec::new();
        for (&date, &generation) in self.files.range(first..=last) {
            match self.cache.get((self.site, date, generation), cols) {
                Ok(a) => {
                    out.insert(date, a);
                }
                Err(held) => missing.push((
                    date,
                    generation,
                    day_path(self.site, date, generation),
                    held.with(cols),
                )),
            }
        }
        let paths: Vec<&std::path::Path> = missing.iter().map(|(_, _, p, _)| p.as_path()).collect();
        let read = self.source.read_many(&paths);
        let history = site.history();
        // Decoded on the query's threads, a day per job.
        let jobs: Vec<_> = missing.iter().zip(read).collect();
        let decoded = crate::par::map_jobs(jobs, threads, |((date, _, path, cols), bytes)| {
            let mut archive = format::decode_day_columns(&bytes?, site.dicts(), *cols).map_err(|r| {
                store_err(
                    path,
                    format!("{r}; this query needs that day (other days still answer)"),
                )
            })?;
            // `before` is filled only when asked for (an older file is
            // read whole, but its `before` still needs the history).
            if cols.has(Columns::BEFORE) {
                history.fill_before(*date, &mut archive)?;
            } else {
                archive.cols = archive.cols.without(Columns::BEFORE);
            }
            Ok::<_, Error>(Arc::new(archive))
        });
        for ((date, generation, _, _), archive) in missing.iter().zip(decoded) {
            let archive: Arc<DayArchive> = archive?;
            self.cache.put((self.site, *date, *generation), archive.clone());
            out.insert(*date, archive);
        }
        Ok(out)
    }

    /// The rollups of the `span` periods starting on `starts` that answer
    /// for their period's days, by start: cached or read (all misses at
    /// once). A period has none when the manifest names none, when a day
    /// of it is held (the write-ahead log's batches touch it), live or
    /// damaged, when one of its day files is newer than the rollup, or
    /// when the rollup's days are not the period's days; such a period,
    /// and one whose rollup cannot be read, is answered from its months
    /// or days.
    pub(crate) fn rollups(
        &self,
        site: &impl SiteHead,
        span: Span,
        starts: &[NaiveDate],
    ) -> BTreeMap<NaiveDate, Arc<Rollup>> {
        let Some(names) = self.rollups.get(&span) else {
            return BTreeMap::new();
        };
        let mut out = BTreeMap::new();
        let mut missing = Vec::new();
        for &start in starts {
            let Some(&generation) = names.get(&start) else {
                continue;
            };
            let range = start..=span.end(start);
            if site.busy(range.clone())
                || self.files.range(range).any(|(_, &g)| g > generation)
            {
                continue;
            }
            match self.cache.get_rollup((self.site, start, generation, span)) {
                Some(r) => {
                    out.insert(start, r);
                }
                None => missing.push((start, generation)),
            }
        }
        let paths: Vec<std::path::PathBuf> = missing
            .iter()
            .map(|(start, g)| span_rollup_path(self.site, span, *start, *g))
            .collect();
        let paths: Vec<&std::path::Path> = paths.iter().map(|p| p.as_path()).collect();
        let read = self.source.read_many(&paths);
        for ((start, generation), bytes) in missing.iter().zip(read) {
            if let Some(r) = self.decoded(site, span, *start, *generation, bytes.ok()) {
                out.insert(*start, r);
            }
        }
        // The rollup must stand for exactly the period's day files.
        out.retain(|start, r| {
            r.start == *start
                && self
                    .files
                .range(*start..=span.end(*start))
                .map(|(d, _)| *d)
                .eq(r.dates.iter().copied())
        });
        out
    }

    /// One stored rollup, cached or read, not checked against the days
    /// (a writer checks it against the manifest it is about to replace).
    pub(crate) fn stored_rollup(
        &self,
        site: &impl SiteHead,
        span: Span,
        start: NaiveDate,
        generation: u64,
    ) -> Option<Arc<Rollup>> {
        if let Some(r) = self.cache.get_rollup((self.site, start, generation, span)) {
            return (r.start == start).then_some(r);
        }
        let bytes = self
            .source
            .read(&span_rollup_path(self.site, span, start, generation))
            .ok();
        self.decoded(site, span, start, generation, bytes)
    }

    /// A rollup file's bytes decoded (its ids checked against the site's
    /// dictionaries) and cached; `None` if unreadable or of another period
    /// (cached too, so it is not read again).
    fn decoded(
        &self,
        site: &impl SiteHead,
        span: Span,
        start: NaiveDate,
        generation: u64,
        bytes: Option<Vec<u8>>,
    ) -> Option<Arc<Rollup>> {
        let (visitors, users) = (site.dicts().visitors.len(), site.dicts().users.len());
        let r = Arc::new(format::decode_rollup(&bytes?, span, visitors, users).ok()?);
        // Kept even if it is another period's, so it is not read again.
        self.cache
            .put_rollup((self.site, start, generation, span), r.clone());
        (r.start == start).then_some(r)
    }
}

/// Reads a site's visitor history files for [`History`]: pages and
/// totals, or a whole table of an older version.
#[derive(Debug)]
pub(crate) struct StoredHistory {
    site: u32,
    /// Visitor ids the site's dictionaries hold (a file naming more is
    /// damaged).
    visitors: usize,
    source: Arc<Source>,
}

impl StoredHistory {
    /// A loader for site `site` with `visitors` visitor ids.
    pub(crate) fn loader(site: u32, visitors: usize, source: Arc<Source>) -> Arc<dyn PageLoader> {
        Arc::new(StoredHistory {
            site,
            visitors,
            source,
        })
    }

    fn read<T>(
        &self,
        path: std::path::PathBuf,
        decode: impl FnOnce(&[u8]) -> std::result::Result<T, String>,
    ) -> std::result::Result<T, Damage> {
        let name = || path.display().to_string();
        let bytes = self
            .source
            .read(&path)
            .map_err(|e| (name(), e.to_string()))?;
        decode(&bytes).map_err(|r| (name(), r))
    }
}

impl PageLoader for StoredHistory {
    fn page(&self, month: NaiveDate, generation: u64) -> std::result::Result<Page, Damage> {
        self.read(page_path(self.site, month, generation), |b| {
            format::decode_page(b, month, self.visitors)
        })
    }

    fn totals(&self, generation: u64) -> std::result::Result<Totals, Damage> {
        self.read(totals_path(self.site, generation), |b| {
            format::decode_totals(b, self.visitors)
        })
    }

    fn legacy(
        &self,
        generation: u64,
    ) -> std::result::Result<crate::history::Whole, Damage> {
        self.read(history_path(self.site, generation), |b| {
            let table = format::decode_history(b, self.visitors)?;
            Ok(crate::history::pages_of_table(&table))
        })
    }
}

/// The default day cache of a reader or a writer: 256 MiB.
pub const DEFAULT_CACHE_MB: usize = 256;

/// How a reader keeps days in memory and how fresh it stays.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// let options = hitmap::ReaderOptions::default().cache_mb(64).max_age(Duration::from_secs(5));
/// assert_eq!(options.cache_bytes(), 64 << 20);
/// ```
#[derive(Debug, Clone)]
pub struct ReaderOptions {
    pub(crate) cache_bytes: usize,
    pub(crate) max_age: Option<Duration>,
    pub(crate) storage: Vec<(String, String)>,
}

impl Default for ReaderOptions {
    fn default() -> ReaderOptions {
        ReaderOptions {
            cache_bytes: DEFAULT_CACHE_MB << 20,
            max_age: None,
            storage: Vec::new(),
        }
    }
}

impl ReaderOptions {
    /// Keeps at most this many MiB of day archives between queries (a
    /// query holds the days it needs while it runs, whatever the budget).
    pub fn cache_mb(mut self, mb: usize) -> ReaderOptions {
        self.cache_bytes = mb.saturating_mul(1 << 20);
        self
    }

    /// An object store configuration key and value for a URL location
    /// (object_store's keys: `aws_endpoint`, `aws_allow_http`,
    /// `aws_access_key_id`, `google_service_account`, `azure_storage_account_name`, …),
    /// over what the environment gives; pandas and polars call these
    /// `storage_options`.
    pub fn storage_option(
        mut self,
        key: impl Into<String>,
        value: impl Into<String>,
    ) -> ReaderOptions {
        self.storage.push((key.into(), value.into()));
        self
    }

    /// Options from a JSON object, as the C ABI and PHP pass them:
    /// `{"cache_mb": 64, "max_age_ms": 5000, "storage_options": {"aws_endpoint": "..."}}`
    /// (every key optional; an unknown key is an error).
    ///
    /// # Examples
    /// ```
    /// let o = hitmap::ReaderOptions::from_json(r#"{"cache_mb": 8}"#)?;
    /// assert_eq!(o.cache_bytes(), 8 << 20);
    /// assert!(hitmap::ReaderOptions::from_json(r#"{"cache": 8}"#).is_err());
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn from_json(text: &str) -> Result<ReaderOptions> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Json {
            cache_mb: Option<usize>,
            max_age_ms: Option<u64>,
            #[serde(default)]
            storage_options: std::collections::BTreeMap<String, String>,
        }
        let j: Json = serde_json::from_str(text).map_err(|e| {
            Error::Request(format!(
                "reader options: {e} (keys: cache_mb, max_age_ms, storage_options)"
            ))
        })?;
        let mut o = ReaderOptions::default();
        if let Some(mb) = j.cache_mb {
            o = o.cache_mb(mb);
        }
        if let Some(ms) = j.max_age_ms {
            o = o.max_age(Duration::from_millis(ms));
        }
        for (k, v) in j.storage_options {
            o = o.storage_option(k, v);
        }
        Ok(o)
    }

    /// The cache budget in bytes.
    pub fn cache_bytes(&self) -> usize {
        self.cache_bytes
    }

    /// Refreshes the snapshot before a request once it is this old
    /// ([`Engine::refresh_if_stale`](crate::Engine::refresh_if_stale)); `None` (the default) only on
    /// [`Engine::refresh`](crate::Engine::refresh).
    pub fn max_age(mut self, age: Duration) -> ReaderOptions {
        self.max_age = Some(age);
        self
    }
}

/// What a lazy reader keeps besides its sites.
#[derive(Debug)]
pub(crate) struct ReaderState {
    pub(crate) options: ReaderOptions,
    pub(crate) cache: Arc<DayCache>,
    /// When the manifest was last read.
    pub(crate) loaded_at: std::sync::Mutex<Instant>,
    /// Bytes of write-ahead log replayed (a folder store): more means new
    /// small batches.
    pub(crate) wal_bytes: u64,
}


/// (site, first day, file generation, span): a rollup's file.
type RollupKey = (u32, NaiveDate, u64, Span);

/// (site, day, file generation): a file's name, so a newer generation of
/// a day is a different entry.
type Key = (u32, NaiveDate, u64);

/// Recently used day archives within a byte budget (least recently used
/// first out), shared by every site of a reader.
#[derive(Debug)]
pub(crate) struct DayCache {
    budget: usize,
    inner: Mutex<CacheInner>,
}

#[derive(Debug, Default)]
struct CacheInner {
    entries: HashMap<Key, Entry>,
    tick: u64,
    bytes: usize,
    /// Rollups by (site, first day, generation, span), small: kept until
    /// they hold an eighth of the budget, then dropped together.
    rollups: HashMap<RollupKey, Arc<Rollup>>,
    rollup_bytes: usize,
}

impl CacheInner {
    /// Removes a day, keeping the byte count.
    fn remove(&mut self, key: Key) -> Option<Arc<DayArchive>> {
        let e = self.entries.remove(&key)?;
        self.bytes -= e.bytes;
        Some(e.archive)
    }
}

#[derive(Debug)]
struct Entry {
    archive: Arc<DayArchive>,
    bytes: usize,
    used: u64,
}

impl DayCache {
    pub(crate) fn new(budget: usize) -> DayCache {
        DayCache {
            budget,
            inner: Mutex::new(CacheInner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheInner> {
        // A panic elsewhere cannot leave the map half-updated: every
        // change below is a whole insert or remove.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached day if it holds the column groups `cols`; else the
    /// groups it holds (none if it is not cached), for a read that
    /// replaces it with one holding both.
    fn get(&self, key: Key, cols: Columns) -> std::result::Result<Arc<DayArchive>, Columns> {
        let mut inner = self.lock();
        inner.tick += 1;
        let tick = inner.tick;
        let Some(e) = inner.entries.get_mut(&key) else {
            return Err(Columns::NONE);
        };
        if !e.archive.cols.has(cols) {
            return Err(e.archive.cols);
        }
        e.used = tick;
        Ok(e.archive.clone())
    }

    fn get_rollup(&self, key: RollupKey) -> Option<Arc<Rollup>> {
        self.lock().rollups.get(&key).cloned()
    }

    fn put_rollup(&self, key: RollupKey, rollup: Arc<Rollup>) {
        let bytes = rollup.heap_bytes();
        let mut inner = self.lock();
        if inner.rollup_bytes + bytes > self.budget / 8 {
            inner.rollups.clear();
            inner.rollup_bytes = 0;
        }
        if bytes <= self.budget / 8 && inner.rollups.insert(key, rollup).is_none() {
            inner.rollup_bytes += bytes;
            self.evict(&mut inner);
        }
    }

    pub(crate) fn put(&self, key: Key, archive: Arc<DayArchive>) {
        let bytes = archive.heap_bytes();
        let mut inner = self.lock();
        inner.tick += 1;
        let used = inner.tick;
        if let Some(old) = inner.entries.insert(
            key,
            Entry {
                archive,
                bytes,
                used,
            },
        ) {
            inner.bytes -= old.bytes;
        }
        inner.bytes += bytes;
        self.evict(&mut inner);
    }

    /// Drops the least recently used days until the days and rollups fit
    /// the budget; a day larger than the whole budget is not kept.
    fn evict(&self, inner: &mut CacheInner) {
        let budget = self.budget.saturating_sub(inner.rollup_bytes);
        while inner.bytes > budget && inner.entries.len() > 1 {
            let Some((&oldest, _)) = inner.entries.iter().min_by_key(|(_, e)| e.used) else {
                break;
            };
            inner.remove(oldest);
        }
        if inner.bytes > budget {
            inner.entries.clear();
            inner.bytes = 0;
        }
    }

    /// Takes a day out of the cache (for a writer about to change it): a
    /// day read whole only.
    pub(crate) fn take(&self, key: Key) -> Option<Arc<DayArchive>> {
        self.lock()
            .remove(key)
            .filter(|a| a.cols == Columns::ALL)
    }

    /// Drops the cached days of `site` from `date` on (their `before`
    /// columns are about to change).
    pub(crate) fn forget_from(&self, site: u32, date: NaiveDate) {
        let mut inner = self.lock();
        let gone: Vec<Key> = inner
            .entries
            .keys()
            .filter(|k| k.0 == site && k.1 >= date)
            .copied()
            .collect();
        for k in gone {
            inner.remove(k);
        }
    }

    /// Puts into `into` what `keep` makes of each cached day (in the
    /// order they were last used), for a refreshed reader.
    pub(crate) fn carry_over(
        &self,
        into: &DayCache,
        mut keep: impl FnMut(Key, &Arc<DayArchive>) -> Option<Arc<DayArchive>>,
    ) {
        let mut entries: Vec<(Key, Arc<DayArchive>, u64)> = self
            .lock()
            .entries
            .iter()
            .map(|(k, e)| (*k, e.archive.clone(), e.used))
            .collect();
        entries.sort_by_key(|e| e.2);
        for (key, archive, _) in entries {
            if let Some(a) = keep(key, &archive) {
                into.put(key, a);
            }
        }
    }

    /// Bytes the cached days and rollups hold (an estimate of their heap
    /// size).
    pub(crate) fn bytes(&self) -> usize {
        let inner = self.lock();
        inner.bytes + inner.rollup_bytes
    }
}
