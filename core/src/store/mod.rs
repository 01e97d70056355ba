//! The durable store: a folder of immutable, checksummed files and one
//! `MANIFEST` that names the current generation of each. A commit writes
//! new files, syncs them, then atomically replaces the manifest, so a crash
//! at any instant leaves the store at the last committed batch, and readers
//! that load a manifest see whole batches only.
//!
//! Layout (every name built from site ids, dates and generation numbers;
//! no user string reaches a path):
//! ```text
//! MANIFEST                          current generation of every file
//! PENDING                           the files a commit is writing (a journal)
//! LOCK                              the writer's lock and pid
//! site-<id>/config-<gen>.bin        site configuration (JSON, sealed)
//! site-<id>/dicts-<gen>.bin         dictionaries
//! site-<id>/days/<date>-<gen>.day   one day archive
//! ```
//!
//! **Deletion is proven, never guessed.** The writer deletes a file only
//! when a manifest listed it as retired (superseded) or the `PENDING`
//! journal listed it as being written by a commit that then failed or
//! crashed, *and* its name and header are hitmap's. Any other file in the
//! folder, hitmap's or not, is left alone. A folder that holds store files
//! but no readable `MANIFEST` is refused for writing;
//! [`recover_manifest`] rebuilds the manifest from the checksummed files.


// The decoders index through a bounds-checked reader; the envelope check
// (`codec::open`) carries the lints itself. Both are fuzzed (`fuzz/`).
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
pub(crate) mod codec;
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
pub(crate) mod format;
// The reader's day cache and the object store client read no file
// format themselves: they hand bytes to `format`.
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
pub(crate) mod lazy;
#[cfg(feature = "object-store")]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
pub(crate) mod remote;
pub(crate) mod source;
pub(crate) mod wal;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::rollup::Span;
use codec::{Kind, open, seal};

/// What the manifest records for one site.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct SiteFiles {
    pub config: u64,
    pub dicts: u64,
    /// Day → generation of its file.
    pub days: BTreeMap<NaiveDate, u64>,
    /// Generation of the visitor history as one table
    /// (`visitors-<gen>.bin`), in stores of format version 2 and 3 (a
    /// writer's first commit turns it into `pages` and `totals`); absent
    /// in stores from before it existed (a lazy reader then derives the
    /// history from the days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<u64>,
    /// Month (its first day) → generation of its visitor history page
    /// (`history/<YYYY-MM>-<gen>.vis`, format version 4).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pages: BTreeMap<NaiveDate, u64>,
    /// Generation of the visitor totals (`totals-<gen>.bin`): what a
    /// writer needs to start a month's page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totals: Option<u64>,
    /// Month (its first day) → generation of its rollup
    /// (`rollups/<YYYY-MM>-<gen>.sum`, `rollup.rs`); a reader checks it
    /// against the month's days before using it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rollups: BTreeMap<NaiveDate, u64>,
    /// Year (its first day) → generation of its rollup
    /// (`rollups/<YYYY>-<gen>.sum`), built from its months' rollups.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub years: BTreeMap<NaiveDate, u64>,
    /// Complete month → generation of its report rollup
    /// (`rollups/<YYYY-MM>-<gen>.rep`: the summary and every report).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub month_reports: BTreeMap<NaiveDate, u64>,
    /// Complete year → generation of its report rollup
    /// (`rollups/<YYYY>-<gen>.rep`), from its months'.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub year_reports: BTreeMap<NaiveDate, u64>,
    /// Complete month → generation of its goal rollup
    /// (`rollups/<YYYY-MM>-<gen>.gol`: the goal sums, `goal_sums.rs`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub month_goals: BTreeMap<NaiveDate, u64>,
    /// Complete year → generation of its goal rollup
    /// (`rollups/<YYYY>-<gen>.gol`), from its months'.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub year_goals: BTreeMap<NaiveDate, u64>,
}

impl SiteFiles {
    /// The rollups of a span: month → generation, or year → generation.
    pub(crate) fn rollups_of(&self, span: Span) -> &BTreeMap<NaiveDate, u64> {
        match span {
            Span::Month => &self.rollups,
            Span::Year => &self.years,
            Span::MonthReports => &self.month_reports,
            Span::YearReports => &self.year_reports,
            Span::MonthGoals => &self.month_goals,
            Span::YearGoals => &self.year_goals,
        }
    }

    pub(crate) fn rollups_of_mut(&mut self, span: Span) -> &mut BTreeMap<NaiveDate, u64> {
        match span {
            Span::Month => &mut self.rollups,
            Span::Year => &mut self.years,
            Span::MonthReports => &mut self.month_reports,
            Span::YearReports => &mut self.year_reports,
            Span::MonthGoals => &mut self.month_goals,
            Span::YearGoals => &mut self.year_goals,
        }
    }

    /// The rollups of every span, as a reader keeps them.
    pub(crate) fn rollup_names(&self) -> BTreeMap<Span, BTreeMap<NaiveDate, u64>> {
        crate::rollup::SPANS
            .into_iter()
            .map(|span| (span, self.rollups_of(span).clone()))
            .filter(|(_, m)| !m.is_empty())
            .collect()
    }

    /// Every rollup file named, with its span and first day.
    fn rollup_files(&self, site: u32) -> impl Iterator<Item = PathBuf> + '_ {
        crate::rollup::SPANS.into_iter().flat_map(move |span| {
            self.rollups_of(span)
                .iter()
                .map(move |(&start, &g)| span_rollup_path(site, span, start, g))
        })
    }
}

/// The manifest: the generation and every live file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub generation: u64,
    pub sites: BTreeMap<u32, SiteFiles>,
    /// Files superseded by a commit, with the Unix time they were retired:
    /// readers that loaded an older manifest may still be reading them, so
    /// they are deleted only after the store's retention time.
    #[serde(default)]
    pub retired: BTreeMap<String, i64>,
    /// Identities of committed ingest batches (content hashes or caller
    /// ids) with the generation that committed them: a repeat is skipped.
    /// The newest [`MAX_BATCH_IDS`] are kept.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub batches: BTreeMap<String, u64>,
    /// Named checkpoints of importers (`IngestOptions::cursor`), committed
    /// with the hits they stand for.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub cursors: BTreeMap<String, String>,
    /// The first write-ahead log segment not sealed into day files
    /// (`wal.rs`): opening the store replays it and later ones.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub wal: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What a seal of live data records: the batch identities and cursors
/// that so far only the write-ahead log held, the new first unsealed
/// segment, and the sealed segments to retire.
#[derive(Debug, Default, Clone)]
pub(crate) struct LiveMarks {
    pub batches: Vec<String>,
    pub cursors: BTreeMap<String, String>,
    pub wal: u64,
    pub retire: Vec<PathBuf>,
}

/// What a commit records besides its files: the batch identity and an
/// importer's checkpoint, so that both land with the data or not at all.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Marks<'a> {
    pub batch: Option<&'a str>,
    pub cursor: Option<(&'a str, &'a str)>,
    /// A seal of live data (`None`: no live data is sealed).
    pub live: Option<&'a LiveMarks>,
}

/// How many batch identities a store remembers.
pub const MAX_BATCH_IDS: usize = 100_000;

/// Records a batch identity, forgetting the oldest past [`MAX_BATCH_IDS`].
pub(crate) fn remember_batch(batches: &mut BTreeMap<String, u64>, id: &str, generation: u64) {
    batches.insert(id.to_owned(), generation);
    if batches.len() > MAX_BATCH_IDS {
        let mut by_age: Vec<(u64, String)> = batches.iter().map(|(k, g)| (*g, k.clone())).collect();
        by_age.sort_unstable();
        let excess = batches.len().saturating_sub(MAX_BATCH_IDS);
        for (_, k) in by_age.into_iter().take(excess) {
            batches.remove(&k);
        }
    }
}

/// Records an importer's cursor. An input cursor (`resume.rs`) is
/// stamped with the generation that committed it (`;g<generation>`), and
/// past [`crate::resume::MAX_INPUTS`] of them the least recently
/// committed ones are forgotten (those inputs are then read whole again,
/// their chunks still skipped by their identities).
pub(crate) fn remember_cursor(
    cursors: &mut BTreeMap<String, String>,
    name: &str,
    value: &str,
    generation: u64,
) {
    use crate::resume::{CURSOR_PREFIX, MAX_INPUTS};
    if !name.starts_with(CURSOR_PREFIX) {
        cursors.insert(name.to_owned(), value.to_owned());
        return;
    }
    let value = value.split(";g").next().unwrap_or(value);
    cursors.insert(name.to_owned(), format!("{value};g{generation}"));
    let inputs = cursors.keys().filter(|k| k.starts_with(CURSOR_PREFIX)).count();
    if inputs > MAX_INPUTS {
        let stamp = |v: &str| -> u64 {
            v.rsplit_once(";g").and_then(|(_, g)| g.parse().ok()).unwrap_or(0)
        };
        let mut by_age: Vec<(u64, String)> = cursors
            .iter()
            .filter(|(k, _)| k.starts_with(CURSOR_PREFIX))
            .map(|(k, v)| (stamp(v), k.clone()))
            .collect();
        by_age.sort_unstable();
        for (_, k) in by_age.into_iter().take(inputs.saturating_sub(MAX_INPUTS)) {
            cursors.remove(&k);
        }
    }
}

/// How a writer treats superseded files.
///
/// # Examples
/// ```
/// use hitmap::{Engine, StoreOptions};
/// let dir = std::env::temp_dir().join(format!("hitmap-opts-{}", std::process::id()));
/// let options = StoreOptions::default().retain_superseded(std::time::Duration::from_secs(5));
/// assert_eq!(StoreOptions::default().retention(), std::time::Duration::from_secs(60));
/// let engine = Engine::open_with(&dir, options)?;
/// # drop(engine); std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), hitmap::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    retain: Duration,
    cache_bytes: usize,
}

impl Default for StoreOptions {
    fn default() -> StoreOptions {
        StoreOptions {
            retain: Duration::from_secs(DEFAULT_RETAIN_SECS),
            cache_bytes: lazy::DEFAULT_CACHE_MB << 20,
        }
    }
}

impl StoreOptions {
    /// How long a superseded file stays for readers that loaded an older
    /// manifest (default 60 s). A reader that finds a file gone loads the
    /// newer manifest instead, so a short time costs readers a retry, never
    /// a wrong answer; a long one costs disk while batches come quickly.
    pub fn retain_superseded(mut self, retain: Duration) -> StoreOptions {
        self.retain = retain;
        self
    }

    /// The retention time set.
    pub fn retention(&self) -> Duration {
        self.retain
    }

    /// How many MiB of day archives a writer keeps between batches
    /// (default 256, as a reader's cache): a writer reads the days a
    /// batch or a query touches, not the whole history, so its memory is
    /// this budget plus its dictionaries, visitor table and live days.
    ///
    /// # Examples
    /// ```
    /// let o = hitmap::StoreOptions::default().cache_mb(64);
    /// assert_eq!(o.cache_bytes(), 64 << 20);
    /// ```
    pub fn cache_mb(mut self, mb: usize) -> StoreOptions {
        self.cache_bytes = mb.saturating_mul(1 << 20);
        self
    }

    /// The day cache budget in bytes.
    pub fn cache_bytes(&self) -> usize {
        self.cache_bytes
    }
}

/// The default retention of superseded files, in seconds.
pub(crate) const DEFAULT_RETAIN_SECS: u64 = 60;

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl Manifest {
    /// The manifest as its file holds it: JSON in an `M` envelope.
    pub(crate) fn sealed(&self) -> Result<Vec<u8>> {
        let body = serde_json::to_vec(self).map_err(|e| store_err("MANIFEST", e))?;
        Ok(seal(Kind::Manifest, &body))
    }

    /// Every file this manifest names as live.
    pub(crate) fn live_files(&self) -> BTreeSet<PathBuf> {
        let mut out = BTreeSet::new();
        for (&site, f) in &self.sites {
            out.insert(config_path(site, f.config));
            out.insert(dicts_path(site, f.dicts));
            if let Some(g) = f.history {
                out.insert(history_path(site, g));
            }
            if let Some(g) = f.totals {
                out.insert(totals_path(site, g));
            }
            for (&month, &g) in &f.pages {
                out.insert(page_path(site, month, g));
            }
            for (&day, &g) in &f.days {
                out.insert(day_path(site, day, g));
            }
            out.extend(f.rollup_files(site));
        }
        out
    }

    /// Every file this manifest keeps: live and retired.
    fn kept(&self) -> BTreeSet<PathBuf> {
        let mut kept = self.live_files();
        kept.extend(self.retired.keys().map(PathBuf::from));
        kept
    }
}

/// One change to commit for a site.
#[derive(Debug, Default)]
pub(crate) struct SiteChange {
    pub config: Option<Vec<u8>>,
    pub dicts: Option<Vec<u8>>,
    /// The visitor totals (`format::encode_totals`): written with any
    /// page, and they replace a table of an older version.
    pub totals: Option<Vec<u8>>,
    /// Month → new visitor history page, or `None` to remove it.
    pub pages: BTreeMap<NaiveDate, Option<Vec<u8>>>,
    /// Day → new archive bytes, or `None` to remove the day.
    pub days: BTreeMap<NaiveDate, Option<Vec<u8>>>,
    /// (Month or year, its first day) → new rollup bytes, or `None` to
    /// remove it.
    pub rollups: BTreeMap<(Span, NaiveDate), Option<Vec<u8>>>,
    /// Remove the whole site.
    pub drop: bool,
}

/// A store folder, opened for writing (holding the lock) or reading.
#[derive(Debug)]
pub(crate) struct Store {
    root: PathBuf,
    /// Where reads go (the folder, or an object store for a reader).
    pub source: std::sync::Arc<source::Source>,
    /// Held for the writer's lifetime; `None` when read-only.
    lock: Option<File>,
    options: StoreOptions,
    pub manifest: Manifest,
}

/// Whether a store error is a full disk or an exhausted quota (ENOSPC,
/// EDQUOT), as the operating system words it.
pub(crate) fn is_disk_full(e: &Error) -> bool {
    matches!(e, Error::Store { reason, .. }
        if reason.contains("os error 28") || reason.contains("os error 122"))
}

pub(crate) fn store_err(path: impl AsRef<Path>, reason: impl std::fmt::Display) -> Error {
    Error::Store {
        path: path.as_ref().display().to_string(),
        reason: reason.to_string(),
    }
}

pub(crate) fn config_path(site: u32, generation: u64) -> PathBuf {
    PathBuf::from(format!("site-{site}")).join(format!("config-{generation}.bin"))
}

pub(crate) fn dicts_path(site: u32, generation: u64) -> PathBuf {
    PathBuf::from(format!("site-{site}")).join(format!("dicts-{generation}.bin"))
}

pub(crate) fn history_path(site: u32, generation: u64) -> PathBuf {
    PathBuf::from(format!("site-{site}")).join(format!("visitors-{generation}.bin"))
}

pub(crate) fn totals_path(site: u32, generation: u64) -> PathBuf {
    PathBuf::from(format!("site-{site}")).join(format!("totals-{generation}.bin"))
}

pub(crate) fn page_path(site: u32, month: NaiveDate, generation: u64) -> PathBuf {
    PathBuf::from(format!("site-{site}"))
        .join("history")
        .join(format!("{}-{generation}.vis", month.format("%Y-%m")))
}

pub(crate) fn day_path(site: u32, day: NaiveDate, generation: u64) -> PathBuf {
    PathBuf::from(format!("site-{site}"))
        .join("days")
        .join(format!("{}-{generation}.day", day.format("%Y-%m-%d")))
}

/// A rollup's file: `rollups/<YYYY-MM>-<gen>` for a month,
/// `rollups/<YYYY>-<gen>` for a year; `.sum` for a summary, `.rep` with
/// reports, `.gol` for goal sums.
pub(crate) fn span_rollup_path(site: u32, span: Span, start: NaiveDate, generation: u64) -> PathBuf {
    let period = match span.period() {
        Span::Month => start.format("%Y-%m"),
        _ => start.format("%Y"),
    };
    let ext = match (span.reports(), span.goals()) {
        (true, _) => "rep",
        (_, true) => "gol",
        _ => "sum",
    };
    PathBuf::from(format!("site-{site}"))
        .join("rollups")
        .join(format!("{period}-{generation}.{ext}"))
}

/// A store file named as hitmap names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileName {
    Config(u32, u64),
    Dicts(u32, u64),
    History(u32, u64),
    Totals(u32, u64),
    Page(u32, NaiveDate, u64),
    Day(u32, NaiveDate, u64),
    Rollup(u32, Span, NaiveDate, u64),
    Wal(u64),
}

impl FileName {
    /// Parses a relative path; `None` for any name hitmap does not write.
    fn parse(rel: &Path) -> Option<FileName> {
        let parts: Vec<&str> = rel.iter().map(|p| p.to_str()).collect::<Option<_>>()?;
        let site_of = |s: &str| -> Option<u32> {
            let id = s.strip_prefix("site-")?;
            (!id.starts_with('0') && id.bytes().all(|b| b.is_ascii_digit()))
                .then(|| id.parse().ok())
                .flatten()
        };
        let gen_of = |s: &str| -> Option<u64> {
            (!s.is_empty()
                && (s == "0" || !s.starts_with('0'))
                && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
        };
        match parts.as_slice() {
            ["wal", file] => {
                let n = gen_of(file.strip_suffix(".log")?)?;
                (wal::wal_path(n) == rel).then_some(FileName::Wal(n))
            }
            [site, file] => {
                let site = site_of(site)?;
                if let Some(g) = file
                    .strip_prefix("config-")
                    .and_then(|f| f.strip_suffix(".bin"))
                {
                    return Some(FileName::Config(site, gen_of(g)?));
                }
                if let Some(g) = file
                    .strip_prefix("visitors-")
                    .and_then(|f| f.strip_suffix(".bin"))
                {
                    return Some(FileName::History(site, gen_of(g)?));
                }
                if let Some(g) = file
                    .strip_prefix("totals-")
                    .and_then(|f| f.strip_suffix(".bin"))
                {
                    return Some(FileName::Totals(site, gen_of(g)?));
                }
                let g = file.strip_prefix("dicts-")?.strip_suffix(".bin")?;
                Some(FileName::Dicts(site, gen_of(g)?))
            }
            [site, "history", file] => {
                let site = site_of(site)?;
                let stem = file.strip_suffix(".vis")?;
                let (month, g) = (stem.get(..7)?, stem.get(7..)?.strip_prefix('-')?);
                let month = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").ok()?;
                let g = gen_of(g)?;
                (page_path(site, month, g) == rel).then_some(FileName::Page(site, month, g))
            }
            [site, "days", file] => {
                let site = site_of(site)?;
                let stem = file.strip_suffix(".day")?;
                let (date, g) = (stem.get(..10)?, stem.get(10..)?.strip_prefix('-')?);
                let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
                (day_path(site, date, gen_of(g)?) == rel).then_some(FileName::Day(
                    site,
                    date,
                    gen_of(g)?,
                ))
            }
            [site, "rollups", file] => {
                let site = site_of(site)?;
                let (stem, reports, goals) = match file.rsplit_once('.')? {
                    (stem, "sum") => (stem, false, false),
                    (stem, "rep") => (stem, true, false),
                    (stem, "gol") => (stem, false, true),
                    _ => return None,
                };
                let (period, g) = stem.rsplit_once('-')?;
                let g = gen_of(g)?;
                let (span, start) = if period.len() == 4 {
                    (Span::Year, format!("{period}-01-01"))
                } else {
                    (Span::Month, format!("{period}-01"))
                };
                let span = if goals {
                    span.with_goals()
                } else {
                    span.with_reports(reports)
                };
                let start = NaiveDate::parse_from_str(&start, "%Y-%m-%d").ok()?;
                (span_rollup_path(site, span, start, g) == rel)
                    .then_some(FileName::Rollup(site, span, start, g))
            }
            _ => None,
        }
    }

    fn kind(self) -> Kind {
        match self {
            FileName::Config(..) => Kind::Config,
            FileName::Dicts(..) => Kind::Dicts,
            FileName::History(..) => Kind::History,
            FileName::Totals(..) => Kind::Totals,
            FileName::Page(..) => Kind::Page,
            FileName::Day(..) => Kind::Day,
            FileName::Rollup(..) => Kind::Rollup,
            FileName::Wal(..) => Kind::Wal,
        }
    }

    fn generation(self) -> u64 {
        match self {
            FileName::Config(_, g)
            | FileName::Dicts(_, g)
            | FileName::History(_, g)
            | FileName::Totals(_, g)
            | FileName::Page(_, _, g)
            | FileName::Day(_, _, g)
            | FileName::Rollup(_, _, _, g)
            | FileName::Wal(g) => g,
        }
    }
}

/// Whether the file at `rel` (or its `.tmp` twin, `tmp`) is one hitmap
/// wrote: a hitmap name and, for a finished file, hitmap's header of the
/// kind its name says. A `.tmp` shorter than a header is a write that
/// failed before the header landed.
fn is_ours(root: &Path, rel: &Path, tmp: bool) -> bool {
    let Some(name) = FileName::parse(rel) else {
        return false;
    };
    let path = if tmp {
        tmp_path(&root.join(rel))
    } else {
        root.join(rel)
    };
    let Ok(f) = File::open(&path) else {
        return false;
    };
    let mut head = Vec::with_capacity(8);
    if f.take(8).read_to_end(&mut head).is_err() {
        return false;
    }
    match head.split_last() {
        Some((&kind, magic)) if head.len() == 8 => {
            magic == &codec::MAGIC[..] && kind == name.kind() as u8
        }
        _ => tmp,
    }
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".tmp");
    PathBuf::from(p)
}

/// Deletes a file of the store, and its `.tmp` twin, if hitmap wrote them.
fn remove_ours(root: &Path, rel: &Path) {
    if is_ours(root, rel, true) {
        let _ = fs::remove_file(tmp_path(&root.join(rel)));
    }
    if is_ours(root, rel, false) {
        let _ = fs::remove_file(root.join(rel));
    }
}

/// The journal of files a commit is writing.
const PENDING: &str = "PENDING";

/// A prepared commit: the files of the next generation and its manifest.
struct Commit {
    writes: Vec<(PathBuf, Vec<u8>)>,
    next: Manifest,
    /// Sites the commit drops (their folders go once it is in).
    dropped: Vec<u32>,
}

/// A commit being written on another thread
/// ([`Store::commit_in_background`]).
pub(crate) struct Background(Option<std::thread::JoinHandle<Result<()>>>);

impl Background {
    /// Waits for the commit: `Ok` once its files and manifest are on disk.
    pub(crate) fn wait(mut self) -> Result<()> {
        match self.0.take().map(std::thread::JoinHandle::join) {
            None | Some(Ok(Ok(()))) => Ok(()),
            Some(Ok(Err(e))) => Err(e),
            Some(Err(_)) => Err(store_err(".", "the thread writing the commit panicked")),
        }
    }
}

impl Drop for Background {
    /// A commit is never left running: the store's lock outlives it.
    fn drop(&mut self) {
        if let Some(h) = self.0.take() {
            let _ = h.join();
        }
    }
}

/// Journals, writes and syncs the files of one generation, then swaps the
/// manifest in. A failure removes every file the generation wrote (so a
/// full disk keeps no half-written bytes) and the journal.
fn write_generation(root: &Path, writes: &[(PathBuf, Vec<u8>)], manifest: &[u8]) -> Result<()> {
    let rels: Vec<PathBuf> = writes.iter().map(|(p, _)| p.clone()).collect();
    let written = (|| {
        write_pending(root, &rels).map_err(|e| store_err(PENDING, e))?;
        for (rel, bytes) in writes {
            write_file(root, rel, bytes)?;
        }
        // The renames are durable once their folders are synced.
        let dirs: BTreeSet<&Path> = rels.iter().filter_map(|p| p.parent()).collect();
        for dir in dirs {
            sync_dir(&root.join(dir)).map_err(|e| store_err(dir, e))?;
        }
        write_file(root, Path::new("MANIFEST"), manifest)?;
        sync_dir(root).map_err(|e| store_err(".", e))
    })();
    if written.is_err() {
        // Nothing of this generation is named by the manifest on disk:
        // its files go.
        for rel in &rels {
            remove_ours(root, rel);
        }
        let _ = fs::remove_file(root.join(PENDING));
    }
    written
}

/// Write-new, fsync, rename. A failed write removes its temporary file.
fn write_file(root: &Path, rel: &Path, bytes: &[u8]) -> Result<()> {
    let path = root.join(rel);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| store_err(rel, e))?;
    }
    let tmp = tmp_path(&path);
    let written = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, &path)
    })();
    written.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        store_err(rel, e)
    })
}

impl Store {
    /// Opens (creating if missing) a store for writing; fails with
    /// [`Error::Locked`] if another process writes to it, and refuses a
    /// folder with store files but no readable manifest.
    pub(crate) fn open_writer(root: &Path, options: StoreOptions) -> Result<Store> {
        fs::create_dir_all(root)
            .map_err(|e| store_err(root, format!("cannot create the folder: {e}")))?;
        let lock = take_lock(root)?;
        let pending = read_pending(root);
        let manifest = match read_manifest(root)? {
            Some(m) => m,
            None => {
                let unexplained: Vec<PathBuf> = site_files(root)
                    .into_iter()
                    .filter(|f| !pending.contains(f))
                    .collect();
                if let Some(first) = unexplained.first() {
                    return Err(store_err(
                        "MANIFEST",
                        format!(
                            "missing, but the folder holds {} store file(s) such as {}: \
                             refusing to open it for writing, so that nothing is deleted. \
                             If this is a store whose MANIFEST was lost, rebuild it with \
                             hitmap::recover_manifest (`hitmap check --repair`); \
                             otherwise open an empty folder",
                            unexplained.len(),
                            first.display()
                        ),
                    ));
                }
                Manifest::default()
            }
        };
        let store = Store {
            root: root.to_path_buf(),
            source: std::sync::Arc::new(source::Source::folder(root)),
            lock: Some(lock),
            options,
            manifest,
        };
        store.clear_pending(&pending);
        Ok(store)
    }

    /// Opens an existing store for reading: a snapshot of its manifest.
    pub(crate) fn open_reader(root: &Path) -> Result<Store> {
        Store::open_source(std::sync::Arc::new(source::Source::folder(root)))
    }

    /// [`Store::open_reader`] at any location (a folder or an object store).
    pub(crate) fn open_source(source: std::sync::Arc<source::Source>) -> Result<Store> {
        let manifest = read_manifest_from(&source)?.ok_or_else(|| {
            store_err(
                format!("{}/MANIFEST", source.describe()),
                "no store here: create one with Engine::open (and publish it there)",
            )
        })?;
        Ok(Store::with_manifest(source, manifest))
    }

    /// A reader of `source` at a manifest already read.
    pub(crate) fn with_manifest(source: std::sync::Arc<source::Source>, manifest: Manifest) -> Store {
        Store {
            root: source.folder_path().map(Path::to_path_buf).unwrap_or_default(),
            source,
            lock: None,
            options: StoreOptions::default(),
            manifest,
        }
    }

    pub(crate) fn is_writer(&self) -> bool {
        self.lock.is_some()
    }

    /// Reads one file the manifest names (decoding checks it).
    pub(crate) fn read(&self, rel: &Path) -> Result<Vec<u8>> {
        self.source.read(rel)
    }

    /// The manifest as the location holds it now (a reader's refresh).
    pub(crate) fn current_manifest(&self) -> Result<Option<Manifest>> {
        read_manifest_from(&self.source)
    }

    /// The store's folder.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// Deletes every file the current manifest retired, before its
    /// retention ends: what a full disk gives up first (a reader of an
    /// older commit that misses one opens the newer commit). The manifest
    /// keeps their names until its next commit; deleting a missing file is
    /// nothing. Whether there was any.
    pub(crate) fn purge_retired(&mut self) -> bool {
        for p in self.manifest.retired.keys() {
            remove_ours(&self.root, Path::new(p));
        }
        !self.manifest.retired.is_empty()
    }

    /// [`Store::purge_retired`] for a store folder known by its path (a
    /// log writer's, whose engine is busy): the retired files of the
    /// manifest on disk.
    pub(crate) fn purge_retired_in(root: &Path) -> bool {
        let Ok(Some(manifest)) = read_manifest(root) else {
            return false;
        };
        for p in manifest.retired.keys() {
            remove_ours(root, Path::new(p));
        }
        !manifest.retired.is_empty()
    }

    /// The bytes of the files the manifest names (what a folder holds;
    /// 0 for an object store, which holds no log).
    pub(crate) fn bytes(&self) -> u64 {
        if self.source.folder_path().is_none() {
            return 0;
        }
        self.manifest
            .live_files()
            .iter()
            .filter_map(|rel| fs::metadata(self.root.join(rel)).ok())
            .map(|m| m.len())
            .sum()
    }

    /// Re-reads the manifest from disk (after a failed commit).
    pub(crate) fn reload_manifest(&mut self) -> Result<()> {
        self.manifest = read_manifest(&self.root)?.unwrap_or_default();
        Ok(())
    }

    /// The options the store was opened with.
    pub(crate) fn options(&self) -> StoreOptions {
        self.options
    }

    /// Commits changes as the next generation: new files, synced, then the
    /// manifest swapped atomically (recording an ingest batch's identity,
    /// if any, in it, so the batch and its identity land together), then
    /// old files removed (superseded ones after the readers' grace).
    pub(crate) fn commit_batch(
        &mut self,
        changes: BTreeMap<u32, SiteChange>,
        marks: Marks<'_>,
    ) -> Result<()> {
        self.commit_with(changes, false, marks)
    }

    /// [`Store::commit_batch`] with the writing on another thread, so the
    /// caller can prepare its next batch meanwhile: the store's manifest
    /// in memory is the new one at once, and the files and the manifest
    /// on disk follow, in the same order and with the same syncs. The
    /// caller must [`Background::wait`] before anything else touches the
    /// store, and reload it if the write failed. A commit that drops a
    /// site is written at once (`Ok(None)`).
    pub(crate) fn commit_in_background(
        &mut self,
        changes: BTreeMap<u32, SiteChange>,
        marks: Marks<'_>,
    ) -> Result<Option<Background>> {
        if changes.values().any(|c| c.drop) {
            return self.commit_batch(changes, marks).map(|()| None);
        }
        let Some(commit) = self.prepare(changes, marks)? else {
            return Ok(None);
        };
        let root = self.root.clone();
        let manifest = commit.next.sealed()?;
        self.manifest = commit.next;
        let writes = commit.writes;
        let handle = std::thread::Builder::new()
            .name("hitmap-commit".into())
            .spawn(move || {
                write_generation(&root, &writes, &manifest)?;
                let _ = fs::remove_file(root.join(PENDING));
                Ok(())
            })
            .map_err(|e| store_err(".", e))?;
        Ok(Some(Background(Some(handle))))
    }

    /// Commits an erasure: superseded files are deleted at once instead of
    /// kept for readers (a reader that loses the race reloads the newer
    /// snapshot), so no erased byte stays on disk.
    pub(crate) fn commit_erasure(&mut self, changes: BTreeMap<u32, SiteChange>) -> Result<()> {
        self.commit_with(changes, true, Marks::default())
    }

    fn commit_with(
        &mut self,
        changes: BTreeMap<u32, SiteChange>,
        erase: bool,
        marks: Marks<'_>,
    ) -> Result<()> {
        let Some(Commit {
            writes,
            mut next,
            dropped,
        }) = self.prepare(changes, marks)?
        else {
            return Ok(());
        };
        if let Err(e) = write_generation(&self.root, &writes, &next.sealed()?) {
            // A full disk: the files the current manifest retired (kept
            // for readers of older manifests, which load the newer one
            // when a file is gone) make room, and the commit is tried
            // once more. Files this commit retires are still the current
            // manifest's, and stay.
            if !is_disk_full(&e) || self.manifest.retired.is_empty() {
                return Err(e);
            }
            self.purge_retired();
            for p in self.manifest.retired.keys() {
                next.retired.remove(p);
            }
            write_generation(&self.root, &writes, &next.sealed()?)?;
        }
        drop(writes);
        let mut superseded = Vec::new();
        if erase {
            superseded.extend(next.retired.keys().cloned());
            next.retired.clear();
        }
        self.manifest = next;
        if erase {
            // The manifest no longer lists them anywhere; record the
            // deletions in the journal first so a crash mid-way is finished
            // by the next writer.
            let rels: Vec<PathBuf> = superseded.iter().map(PathBuf::from).collect();
            let _ = write_pending(&self.root, &rels);
            for rel in &rels {
                remove_ours(&self.root, rel);
            }
        }
        for site in dropped {
            let dir = PathBuf::from(format!("site-{site}"));
            let _ = fs::remove_dir(self.root.join(dir.join("days")));
            let _ = fs::remove_dir(self.root.join(dir.join("rollups")));
            let _ = fs::remove_dir(self.root.join(dir.join("history")));
            let _ = fs::remove_dir(self.root.join(dir));
        }
        let _ = fs::remove_file(self.root.join(PENDING));
        Ok(())
    }

    /// The next generation's files and manifest (`None`: nothing to
    /// commit). Files retired long enough are deleted first.
    fn prepare(
        &mut self,
        changes: BTreeMap<u32, SiteChange>,
        marks: Marks<'_>,
    ) -> Result<Option<Commit>> {
        if changes.is_empty() && marks.cursor.is_none() && marks.live.is_none() {
            return Ok(None);
        }
        // Files retired long enough go first: a full disk gets room back
        // even if this commit then fails.
        let now = now_secs();
        let retain = i64::try_from(self.options.retain.as_secs()).unwrap_or(i64::MAX);
        let expired: Vec<String> = self
            .manifest
            .retired
            .iter()
            .filter(|(_, at)| now.saturating_sub(**at) >= retain)
            .map(|(p, _)| p.clone())
            .collect();
        for p in &expired {
            remove_ours(&self.root, Path::new(p));
        }
        let generation = self
            .manifest
            .generation
            .checked_add(1)
            .ok_or_else(|| store_err("MANIFEST", "the generation counter is exhausted"))?;
        let mut next = self.manifest.clone();
        next.generation = generation;
        if let Some(id) = marks.batch {
            remember_batch(&mut next.batches, id, generation);
        }
        if let Some((name, value)) = marks.cursor {
            remember_cursor(&mut next.cursors, name, value, generation);
        }
        if let Some(live) = marks.live {
            for id in &live.batches {
                remember_batch(&mut next.batches, id, generation);
            }
            for (name, value) in &live.cursors {
                remember_cursor(&mut next.cursors, name, value, generation);
            }
            next.wal = next.wal.max(live.wal);
            for rel in &live.retire {
                next.retired.insert(rel.display().to_string(), now);
            }
        }
        for p in &expired {
            next.retired.remove(p);
        }
        let mut dropped = Vec::new();
        let mut writes: Vec<(PathBuf, Vec<u8>)> = Vec::new();
        {
            let mut retire = |p: PathBuf| {
                next.retired.insert(p.display().to_string(), now);
            };
            for (site, change) in changes {
                let before = self.manifest.sites.get(&site);
                if change.drop {
                    if let Some(f) = before {
                        retire(config_path(site, f.config));
                        retire(dicts_path(site, f.dicts));
                        if let Some(g) = f.history {
                            retire(history_path(site, g));
                        }
                        if let Some(g) = f.totals {
                            retire(totals_path(site, g));
                        }
                        f.pages
                            .iter()
                            .for_each(|(&m, &g)| retire(page_path(site, m, g)));
                        f.days
                            .iter()
                            .for_each(|(&d, &g)| retire(day_path(site, d, g)));
                        f.rollup_files(site).for_each(&mut retire);
                    }
                    next.sites.remove(&site);
                    dropped.push(site);
                    continue;
                }
                if let Some(f) = before {
                    if change.config.is_some() {
                        retire(config_path(site, f.config));
                    }
                    if change.dicts.is_some() {
                        retire(dicts_path(site, f.dicts));
                    }
                    if change.totals.is_some() {
                        // Pages and totals replace a table of an older version.
                        if let Some(g) = f.history {
                            retire(history_path(site, g));
                        }
                        if let Some(g) = f.totals {
                            retire(totals_path(site, g));
                        }
                    }
                    for month in change.pages.keys() {
                        if let Some(&g) = f.pages.get(month) {
                            retire(page_path(site, *month, g));
                        }
                    }
                    for day in change.days.keys() {
                        if let Some(&g) = f.days.get(day) {
                            retire(day_path(site, *day, g));
                        }
                    }
                    for &(span, start) in change.rollups.keys() {
                        if let Some(&g) = f.rollups_of(span).get(&start) {
                            retire(span_rollup_path(site, span, start, g));
                        }
                    }
                }
                let files = next.sites.entry(site).or_default();
                if let Some(bytes) = change.config {
                    writes.push((config_path(site, generation), bytes));
                    files.config = generation;
                }
                if let Some(bytes) = change.dicts {
                    writes.push((dicts_path(site, generation), bytes));
                    files.dicts = generation;
                }
                if let Some(bytes) = change.totals {
                    writes.push((totals_path(site, generation), bytes));
                    files.totals = Some(generation);
                    files.history = None;
                }
                for (month, bytes) in change.pages {
                    match bytes {
                        Some(bytes) => {
                            writes.push((page_path(site, month, generation), bytes));
                            files.pages.insert(month, generation);
                        }
                        None => {
                            files.pages.remove(&month);
                        }
                    }
                }
                for (day, bytes) in change.days {
                    match bytes {
                        Some(bytes) => {
                            writes.push((day_path(site, day, generation), bytes));
                            files.days.insert(day, generation);
                        }
                        None => {
                            files.days.remove(&day);
                        }
                    }
                }
                for ((span, start), bytes) in change.rollups {
                    match bytes {
                        Some(bytes) => {
                            writes.push((span_rollup_path(site, span, start, generation), bytes));
                            files.rollups_of_mut(span).insert(start, generation);
                        }
                        None => {
                            files.rollups_of_mut(span).remove(&start);
                        }
                    }
                }
            }
        }
        Ok(Some(Commit {
            writes,
            next,
            dropped,
        }))
    }

    /// Finishes what a crashed or failed commit left: the files its journal
    /// names that the manifest does not keep are deleted (when hitmap's).
    fn clear_pending(&self, pending: &BTreeSet<PathBuf>) {
        if pending.is_empty() {
            return;
        }
        let kept = self.manifest.kept();
        for rel in pending.iter().filter(|p| !kept.contains(*p)) {
            remove_ours(&self.root, rel);
        }
        // A tmp twin of a kept file is a write that failed before its rename.
        for rel in pending.iter().filter(|p| kept.contains(*p)) {
            if is_ours(&self.root, rel, true) {
                let _ = fs::remove_file(tmp_path(&self.root.join(rel)));
            }
        }
        let _ = fs::remove_file(self.root.join(PENDING));
    }
}

/// Takes the writer lock, writing this process's pid into it.
fn take_lock(root: &Path) -> Result<File> {
    let mut lock = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(root.join("LOCK"))
        .map_err(|e| store_err("LOCK", e))?;
    // The lock of a writer this process just closed can outlive it for a
    // moment: a child that another thread forks holds a copy of every
    // descriptor until it execs. Held under this process's own pid, the
    // lock is tried again for up to a second before it counts as taken.
    let mut tries = 0u32;
    while lock.try_lock().is_err() {
        let mut pid = String::new();
        let _ = lock.read_to_string(&mut pid);
        let pid = pid.trim().parse().unwrap_or(0);
        tries = tries.saturating_add(1);
        if pid != std::process::id() || tries > 100 {
            return Err(Error::Locked { pid });
        }
        std::thread::sleep(Duration::from_millis(10));
        lock.rewind().map_err(|e| store_err("LOCK", e))?;
    }
    lock.set_len(0).map_err(|e| store_err("LOCK", e))?;
    write!(lock, "{}", std::process::id()).map_err(|e| store_err("LOCK", e))?;
    lock.sync_all().map_err(|e| store_err("LOCK", e))?;
    Ok(lock)
}

/// Every file (and `.tmp`) under the `site-*` folders, relative to the
/// root: what a store folder holds besides its manifest. A `.tmp` counts
/// as the file it was becoming.
fn site_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(root) else {
        return out;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("site-") || !entry.path().is_dir() {
            continue;
        }
        let site_dir = PathBuf::from(&name);
        for sub in [
            site_dir.clone(),
            site_dir.join("days"),
            site_dir.join("rollups"),
            site_dir.join("history"),
        ] {
            for file in fs::read_dir(root.join(&sub))
                .into_iter()
                .flatten()
                .flatten()
            {
                if file.path().is_file() {
                    let file_name = file.file_name().to_string_lossy().into_owned();
                    let file_name = file_name.strip_suffix(".tmp").unwrap_or(&file_name);
                    out.push(sub.join(file_name));
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

fn write_pending(root: &Path, rels: &[PathBuf]) -> std::io::Result<()> {
    let names: Vec<String> = rels.iter().map(|p| p.display().to_string()).collect();
    let body = serde_json::to_vec(&names).map_err(std::io::Error::other)?;
    let path = root.join(PENDING);
    let mut f = File::create(&path)?;
    f.write_all(&seal(Kind::Manifest, &body))?;
    f.sync_all()?;
    sync_dir(root)
}

/// The journal's files; an unreadable journal names nothing (so nothing is
/// deleted on its word).
fn read_pending(root: &Path) -> BTreeSet<PathBuf> {
    let Ok(bytes) = fs::read(root.join(PENDING)) else {
        return BTreeSet::new();
    };
    let Ok(body) = open(Kind::Manifest, &bytes) else {
        return BTreeSet::new();
    };
    serde_json::from_slice::<Vec<String>>(body)
        .map(|v| v.into_iter().map(PathBuf::from).collect())
        .unwrap_or_default()
}

fn read_manifest(root: &Path) -> Result<Option<Manifest>> {
    let path = root.join("MANIFEST");
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(store_err("MANIFEST", e)),
    };
    parse_manifest(&bytes).map(Some)
}

fn read_manifest_from(source: &source::Source) -> Result<Option<Manifest>> {
    match source.read_opt(Path::new("MANIFEST"))? {
        Some(bytes) => parse_manifest(&bytes).map(Some),
        None => Ok(None),
    }
}

/// A manifest file's bytes to the manifest.
pub(crate) fn parse_manifest(bytes: &[u8]) -> Result<Manifest> {
    const HINT: &str = "rebuild it from the checksummed files with hitmap::recover_manifest \
                        (`hitmap check --repair`)";
    let body =
        open(Kind::Manifest, bytes).map_err(|r| store_err("MANIFEST", format!("{r}; {HINT}")))?;
    serde_json::from_slice(body)
        .map_err(|e| store_err("MANIFEST", format!("unreadable manifest: {e}; {HINT}")))
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// What [`recover_manifest`] rebuilt.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Sites found with a readable configuration and dictionaries.
    pub sites: Vec<u32>,
    /// Days listed in the new manifest, over all sites.
    pub days: usize,
    /// Files that were not used, with the reason (damaged, or an older
    /// generation of a file that was used). None of them is deleted.
    pub skipped: Vec<(String, String)>,
}

/// The files under a store folder (relative paths, sorted) whose bytes
/// hold `needle`, looking inside packed (zstd) bodies as well: an audit
/// that an erased visitor's key or a client's IP address is stored
/// nowhere. Dictionary strings are stored as a `u64` length and the
/// bytes, so search for that to match a whole key.
///
/// # Examples
/// ```
/// use hitmap::{Engine, Hit, SiteConfig};
/// let dir = std::env::temp_dir().join(format!("hitmap-doc-audit-{}", std::process::id()));
/// let mut e = Engine::open(&dir)?;
/// e.add_site(SiteConfig::new(1))?;
/// e.ingest([Hit::pageview(1, 1_717_200_000, "alice", "https://x.org/")])?;
/// e.seal()?; // the key moves from the write-ahead log into packed dictionaries
/// assert!(!hitmap::files_holding(&dir, b"alice")?.is_empty());
/// e.forget_visitor(1, "alice")?;
/// assert!(hitmap::files_holding(&dir, b"alice")?.is_empty());
/// # drop(e); std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), hitmap::Error>(())
/// ```
pub fn files_holding(root: impl AsRef<Path>, needle: &[u8]) -> Result<Vec<PathBuf>> {
    let root = root.as_ref();
    let holds = |bytes: &[u8]| !needle.is_empty() && bytes.windows(needle.len()).any(|w| w == needle);
    let mut found = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in fs::read_dir(&dir).map_err(|e| store_err(&dir, e))? {
            let path = entry.map_err(|e| store_err(&dir, e))?.path();
            if path.is_dir() {
                todo.push(path);
                continue;
            }
            let bytes = fs::read(&path).map_err(|e| store_err(&path, e))?;
            if holds(&bytes) || format::unpacked_body(&bytes).is_some_and(|b| holds(&b)) {
                found.push(path.strip_prefix(root).unwrap_or(&path).to_path_buf());
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Rebuilds a lost or damaged `MANIFEST` from the checksummed files under
/// `site-*/`: for each site the newest configuration and dictionaries that
/// pass their checksums, and for each day the newest archive that decodes
/// against those dictionaries. It takes the writer lock, refuses a store
/// whose manifest is readable, and deletes nothing: older generations stay
/// where they are (listed in [`Recovery::skipped`]).
///
/// If the manifest was lost while a batch was being committed, that batch
/// may be partly in the recovered store: re-ingest it. The identities of
/// ingested batches lived in the lost manifest: after a recovery, a file
/// ingested again is not recognised as a repeat. The write-ahead log is
/// replayed whole (the lost manifest said which segments were sealed), so
/// hits only the log held are recovered, and a segment sealed less than
/// the retention time (60 s) before the loss is counted twice.
///
/// # Examples
/// ```
/// use hitmap::{Engine, Hit, Query, SiteConfig};
/// let dir = std::env::temp_dir().join(format!("hitmap-recover-{}", std::process::id()));
/// {
///     let mut e = Engine::open(&dir)?;
///     e.add_site(SiteConfig::new(1))?;
///     e.ingest([Hit::pageview(1, 1_717_200_000, "a", "https://x.org/")])?;
///     e.seal()?; // into a day file (small batches wait in the write-ahead log)
/// }
/// std::fs::remove_file(dir.join("MANIFEST")).unwrap();
/// assert!(Engine::open(&dir).is_err()); // refused: files but no manifest
/// let r = hitmap::recover_manifest(&dir)?;
/// assert_eq!((r.sites.as_slice(), r.days), (&[1][..], 1));
/// let e = Engine::open(&dir)?;
/// assert_eq!(e.query(&Query::site(1))?.visits_summary().nb_visits, 1);
/// # drop(e); std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), hitmap::Error>(())
/// ```
pub fn recover_manifest(root: impl AsRef<Path>) -> Result<Recovery> {
    let root = root.as_ref();
    if !root.is_dir() {
        return Err(store_err(root, "no such folder"));
    }
    let _lock = take_lock(root)?;
    if read_manifest(root).is_ok_and(|m| m.is_some()) {
        return Err(store_err(
            "MANIFEST",
            "is readable: there is nothing to recover (hitmap check verifies the files it names)",
        ));
    }
    let mut by_site: BTreeMap<u32, Vec<FileName>> = BTreeMap::new();
    let mut report = Recovery::default();
    let mut max_gen = 0u64;
    for rel in site_files(root) {
        match FileName::parse(&rel) {
            Some(name) if root.join(&rel).is_file() => {
                let site = match name {
                    FileName::Config(s, _) | FileName::Dicts(s, _) | FileName::Day(s, _, _) => s,
                    // Rebuilt by the next commit; lazy readers derive it
                    // from the days meanwhile (and answer whole months
                    // from their days).
                    FileName::History(..)
                    | FileName::Totals(..)
                    | FileName::Page(..)
                    | FileName::Rollup(..)
                    | FileName::Wal(_) => continue,
                };
                max_gen = max_gen.max(name.generation());
                by_site.entry(site).or_default().push(name);
            }
            _ => report.skipped.push((
                rel.display().to_string(),
                "not a finished hitmap file".into(),
            )),
        }
    }
    let mut manifest = Manifest {
        generation: max_gen,
        ..Manifest::default()
    };
    for (site, mut names) in by_site {
        // Newest generation first.
        names.sort_by_key(|n| std::cmp::Reverse(n.generation()));
        let mut skip =
            |rel: PathBuf, why: String| report.skipped.push((rel.display().to_string(), why));
        let read = |rel: &Path, kind: Kind| -> std::result::Result<Vec<u8>, String> {
            let bytes = fs::read(root.join(rel)).map_err(|e| e.to_string())?;
            open(kind, &bytes).map_err(|r| r.to_string())?;
            Ok(bytes)
        };
        let mut config = None;
        let mut dicts = None;
        for n in &names {
            match *n {
                FileName::Config(_, g) if config.is_none() => {
                    let rel = config_path(site, g);
                    let ok = read(&rel, Kind::Config).and_then(|b| {
                        let (c, _) = format::decode_config(&b)?
                            .validate()
                            .map_err(|e| e.to_string())?;
                        if c.id == site {
                            Ok(())
                        } else {
                            Err(format!("holds site {}", c.id))
                        }
                    });
                    match ok {
                        Ok(()) => config = Some(g),
                        Err(why) => skip(rel, why),
                    }
                }
                FileName::Dicts(_, g) if dicts.is_none() => {
                    let rel = dicts_path(site, g);
                    match read(&rel, Kind::Dicts).and_then(|b| format::decode_dicts(&b)) {
                        Ok(d) => dicts = Some((g, d)),
                        Err(why) => skip(rel, why),
                    }
                }
                FileName::Config(_, g) => skip(config_path(site, g), "an older generation".into()),
                FileName::Dicts(_, g) => skip(dicts_path(site, g), "an older generation".into()),
                FileName::Day(..)
                | FileName::History(..)
                | FileName::Totals(..)
                | FileName::Page(..)
                | FileName::Rollup(..)
                | FileName::Wal(_) => {}
            }
        }
        let (Some(config), Some((dicts_gen, dicts))) = (config, dicts) else {
            skip(
                PathBuf::from(format!("site-{site}")),
                "no readable configuration and dictionaries: the site is left out".into(),
            );
            continue;
        };
        let mut files = SiteFiles {
            config,
            dicts: dicts_gen,
            days: BTreeMap::new(),
            history: None,
            ..SiteFiles::default()
        };
        for n in &names {
            let FileName::Day(_, day, g) = *n else {
                continue;
            };
            let rel = day_path(site, day, g);
            if files.days.contains_key(&day) {
                skip(rel, "an older generation".into());
                continue;
            }
            match read(&rel, Kind::Day).and_then(|b| format::decode_day(&b, &dicts).map(|_| ())) {
                Ok(()) => {
                    files.days.insert(day, g);
                }
                Err(why) => skip(rel, why),
            }
        }
        report.days = report.days.saturating_add(files.days.len());
        report.sites.push(site);
        manifest.sites.insert(site, files);
    }
    write_file(root, Path::new("MANIFEST"), &manifest.sealed()?)?;
    sync_dir(root).map_err(|e| store_err(".", e))?;
    let _ = fs::remove_file(root.join(PENDING));
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Datelike;

    #[test]
    fn input_cursors_are_stamped_and_the_oldest_forgotten() {
        use crate::resume::MAX_INPUTS;
        let mut cursors = BTreeMap::new();
        remember_cursor(&mut cursors, "matomo:1", "v1;cursor=9", 1);
        for i in 0..MAX_INPUTS + 3 {
            let g = i as u64 + 2;
            remember_cursor(&mut cursors, &format!("input:{i:016x}"), "10:ab", g);
        }
        // The importer's own cursor stays as it was given.
        assert_eq!(cursors["matomo:1"], "v1;cursor=9");
        assert_eq!(cursors.len(), MAX_INPUTS + 1);
        // The three least recent inputs went; the others keep their stamp.
        assert!(!cursors.contains_key("input:0000000000000002"));
        assert_eq!(cursors["input:0000000000000003"], "10:ab;g5");
        // A recommitted input is stamped again (not twice), and kept.
        let last = format!("input:{:016x}", MAX_INPUTS + 2);
        remember_cursor(&mut cursors, "input:0000000000000003", "12:cd;g5", 9_999);
        assert_eq!(cursors["input:0000000000000003"], "12:cd;g9999");
        assert!(cursors.contains_key(&last));
        assert_eq!(crate::resume::parse(&cursors["input:0000000000000003"]), [(12, 0xcd)]);
    }

    #[test]
    fn file_names_round_trip_and_strangers_do_not_parse() {
        let day = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        for (p, n) in [
            (config_path(3, 7), FileName::Config(3, 7)),
            (dicts_path(3, 0), FileName::Dicts(3, 0)),
            (history_path(3, 12), FileName::History(3, 12)),
            (totals_path(3, 12), FileName::Totals(3, 12)),
            (page_path(3, day, 12), FileName::Page(3, day, 12)),
            (day_path(12, day, 44), FileName::Day(12, day, 44)),
            (
                span_rollup_path(2, Span::Month, day, 9),
                FileName::Rollup(2, Span::Month, day, 9),
            ),
            (
                span_rollup_path(2, Span::MonthReports, day, 9),
                FileName::Rollup(2, Span::MonthReports, day, 9),
            ),
            (
                span_rollup_path(2, Span::MonthGoals, day, 9),
                FileName::Rollup(2, Span::MonthGoals, day, 9),
            ),
            (
                span_rollup_path(2, Span::YearGoals, day.with_month(1).unwrap(), 3),
                FileName::Rollup(2, Span::YearGoals, day.with_month(1).unwrap(), 3),
            ),
            (
                span_rollup_path(2, Span::Year, day.with_month(1).unwrap(), 12),
                FileName::Rollup(2, Span::Year, day.with_month(1).unwrap(), 12),
            ),
            (
                span_rollup_path(2, Span::YearReports, day.with_month(1).unwrap(), 12),
                FileName::Rollup(2, Span::YearReports, day.with_month(1).unwrap(), 12),
            ),
        ] {
            assert_eq!(FileName::parse(&p), Some(n));
        }
        for p in [
            "site-1/readme.txt",
            "site-01/config-1.bin",
            "site-1/config-01.bin",
            "site-1/config-1.bin.bak",
            "site-1/days/2026-3-1-4.day",
            "site-1/days/2026-03-01-x.day",
            "site-1/days/sub/2026-03-01-1.day",
            "site-1/rollups/2026-3-1.sum",
            "site-1/rollups/2026-03-01-1.sum",
            "site-1/rollups/26-1.sum",
            "site-1/rollups/2026-x.sum",
            "site-1/rollups/2026-03-1.rollup",
            "site-1/rollups/2026-03-01.rep",
            "MANIFEST",
            "other/config-1.bin",
        ] {
            assert_eq!(FileName::parse(Path::new(p)), None, "{p}");
        }
    }
}
