//! Builds across processes (`python/hitmap/dask.py`; docs/scale.md): a
//! site's dictionaries interned on many workers and merged in input order,
//! its days built on many workers against those dictionaries, and the
//! built days adopted by the store's one writer in one commit.
//!
//! 1. Each worker interns its part of the input into dictionaries of its
//!    own ([`Engine::set_dictionaries_only`], [`Engine::site_dictionaries`]);
//!    the writer merges them in input order ([`Engine::merge_dictionaries`]):
//!    every value gets the id one process reading the whole input in that
//!    order gives it (first-seen ids; `intern.rs` merges its thread blocks
//!    the same way).
//! 2. Each worker takes the writer's dictionaries
//!    ([`Engine::install_dictionaries`]), the stored days its hits fall on
//!    ([`Engine::install_day`]), ingests the hits of whole (site, day)
//!    buckets and hands back the day files ([`Engine::encoded_days`]). A
//!    day file holds dictionary ids and nothing that depends on other days
//!    (the visitor history is the writer's), so it is the file the writer
//!    would have written.
//! 3. The writer adopts them ([`Engine::adopt_days`]): each is validated
//!    against the site's dictionaries, the visitor history and rollups
//!    follow, and one commit publishes them all.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::archive::DayArchive;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::store::format;

fn build_err(reason: impl Into<String>) -> Error {
    Error::Store {
        path: "(distributed build)".into(),
        reason: reason.into(),
    }
}

/// Each dictionary's length: what a worker's interning must not change.
fn sizes(d: &crate::raw::SiteDicts) -> Vec<usize> {
    format::dicts_in_order(d).iter().map(|x| x.len()).collect()
}

/// The identity of a site's dictionaries (xxh3 of every value, in order):
/// a day file's ids mean its values only under the dictionaries it was
/// built with.
fn fingerprint(d: &crate::raw::SiteDicts) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for dict in format::dicts_in_order(d) {
        h.update(&(dict.len() as u64).to_le_bytes());
        for (_, v) in dict.iter() {
            h.update(&(v.len() as u64).to_le_bytes());
            h.update(v.as_bytes());
        }
    }
    h.digest()
}

/// A day built on a worker ([`Engine::encoded_days`]), for
/// [`Engine::adopt_days`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltDay {
    /// The site.
    pub site: u32,
    /// The site's local day.
    pub day: NaiveDate,
    /// The identity of the dictionaries its ids refer to.
    pub dictionaries: u64,
    /// The day file.
    pub bytes: Vec<u8>,
}

impl Engine {
    /// With `on`, an in-memory engine's ingests only intern: each accepted
    /// hit's strings join its site's dictionaries (in input order) and the
    /// hits are dropped, so [`Engine::site_dictionaries`] is the first pass
    /// of a distributed build at a fraction of an ingest's cost. A store's
    /// engine refuses it.
    ///
    /// # Examples
    /// ```
    /// use hitmap::{Engine, Hit, SiteConfig};
    /// let mut worker = Engine::in_memory();
    /// worker.add_site(SiteConfig::new(1))?;
    /// worker.set_dictionaries_only(true)?;
    /// worker.ingest([Hit::pageview(1, 1_717_200_000, "a", "https://x.org/")])?;
    /// assert!(worker.site_days(1)?.is_empty());
    /// let mut writer = Engine::in_memory();
    /// writer.add_site(SiteConfig::new(1))?;
    /// writer.merge_dictionaries(1, &worker.site_dictionaries(1)?)?;
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn set_dictionaries_only(&mut self, on: bool) -> Result<()> {
        if self.store.is_some() {
            return Err(build_err(
                "only an in-memory engine interns without keeping hits: use Engine::in_memory() on the workers",
            ));
        }
        self.dictionaries_only = on;
        Ok(())
    }

    /// A site's dictionaries as bytes (the store's dictionary file): what
    /// a worker's first pass hands to the writer, and what the writer hands
    /// to the workers that build days.
    pub fn site_dictionaries(&self, site: u32) -> Result<Vec<u8>> {
        Ok(format::encode_dicts(&self.site_state(site)?.dicts))
    }

    /// Interns every value of `bytes` (from [`Engine::site_dictionaries`])
    /// into a site's dictionaries, in their id order: merging the workers'
    /// dictionaries in input order gives each value the id one process
    /// reading the whole input would. Nothing is written until a commit
    /// ([`Engine::adopt_days`]).
    pub fn merge_dictionaries(&mut self, site: u32, bytes: &[u8]) -> Result<()> {
        self.writable()?;
        let theirs = format::decode_dicts(bytes).map_err(build_err)?;
        let state = self.sites.get_mut(&site).ok_or(Error::UnknownSite(site))?;
        crate::intern::merge_dicts(&mut state.dicts, &theirs);
        Ok(())
    }

    /// A worker takes the writer's dictionaries of a site as they are, so
    /// that the days it builds hold the writer's ids. The site must hold
    /// no data yet and know no value the dictionaries lack.
    ///
    /// # Examples
    /// ```
    /// use hitmap::{Engine, Hit, SiteConfig};
    /// let mut writer = Engine::in_memory();
    /// writer.add_site(SiteConfig::new(1))?;
    /// let hit = Hit::pageview(1, 1_717_200_000, "a", "https://x.org/");
    /// let mut first = Engine::in_memory();
    /// first.add_site(SiteConfig::new(1))?;
    /// first.set_dictionaries_only(true)?;
    /// first.ingest([hit.clone()])?;
    /// writer.merge_dictionaries(1, &first.site_dictionaries(1)?)?;
    ///
    /// let mut worker = Engine::in_memory();
    /// worker.add_site(SiteConfig::new(1))?;
    /// worker.install_dictionaries(1, &writer.site_dictionaries(1)?)?;
    /// worker.ingest([hit])?;
    /// writer.adopt_days(worker.encoded_days(1)?, None)?;
    /// assert_eq!(writer.export_hits(1, "2024-06-01", "2024-06-01")?.len(), 1);
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn install_dictionaries(&mut self, site: u32, bytes: &[u8]) -> Result<()> {
        if self.store.is_some() {
            return Err(build_err(
                "dictionaries are installed on a worker's in-memory engine, not a store's",
            ));
        }
        let dicts = format::decode_dicts(bytes).map_err(build_err)?;
        let state = self.sites.get_mut(&site).ok_or(Error::UnknownSite(site))?;
        if !state.days.is_empty() || !state.live.is_empty() {
            return Err(build_err(format!(
                "site {site} already holds days: install its dictionaries first"
            )));
        }
        let mut check = dicts.clone();
        crate::intern::merge_dicts(&mut check, &state.dicts);
        if sizes(&check) != sizes(&dicts) {
            return Err(build_err(format!(
                "site {site} knows values the installed dictionaries lack"
            )));
        }
        state.installed = Some((sizes(&dicts), fingerprint(&dicts)));
        state.dicts = dicts;
        Ok(())
    }

    /// A worker takes a stored day of a site (a day file's bytes, from
    /// [`Engine::encoded_day`] of the writer), so that new hits for that
    /// day rebuild it whole. Install the dictionaries first.
    pub fn install_day(&mut self, site: u32, date: NaiveDate, bytes: &[u8]) -> Result<()> {
        if self.store.is_some() {
            return Err(build_err(
                "days are installed on a worker's in-memory engine, not a store's",
            ));
        }
        let state = self.sites.get_mut(&site).ok_or(Error::UnknownSite(site))?;
        let archive = decode_on(state, site, date, bytes)?;
        if state.days.contains_key(&date) || state.live.contains_key(&date) {
            return Err(build_err(format!("site {site} already holds {date}")));
        }
        state.days.insert(date, archive);
        Ok(())
    }

    /// A day of a site as its day file's bytes, `None` if the site has no
    /// data that day: a writer's (read from its store, live parts sealed
    /// first) or an in-memory engine's. A read-only engine refuses.
    pub fn encoded_day(&mut self, site: u32, date: NaiveDate) -> Result<Option<Vec<u8>>> {
        self.seal()?;
        if self.store.is_some() {
            self.hold_days(&[(site, date)], false);
        }
        let state = self.site_state(site)?;
        if let Some((path, reason)) = state.damaged.get(&date) {
            return Err(Error::Store {
                path: path.clone(),
                reason: reason.clone(),
            });
        }
        Ok(state.days.get(&date).map(format::encode_day))
    }

    /// Every day a worker's in-memory engine holds for a site, oldest
    /// first, as day files: what [`Engine::adopt_days`] takes. Live parts
    /// are sealed first. Fails if the engine's ingests added a value to
    /// the installed dictionaries (the worker saw hits the first pass did
    /// not: the ids would not be the writer's).
    pub fn encoded_days(&mut self, site: u32) -> Result<Vec<BuiltDay>> {
        self.seal()?;
        let state = self.site_state(site)?;
        let dictionaries = match &state.installed {
            Some((installed, _)) if *installed != sizes(&state.dicts) => {
                return Err(build_err(format!(
                    "site {site}: the hits added values to the installed dictionaries; build the dictionaries from every hit (the first pass) before the days"
                )));
            }
            Some((_, key)) => *key,
            None => fingerprint(&state.dicts),
        };
        let days: Vec<(NaiveDate, &DayArchive)> = state.days.iter().map(|(d, a)| (*d, a)).collect();
        Ok(crate::par::map_jobs(
            days,
            self.query_threads.get(),
            |(day, a)| BuiltDay {
                site,
                day,
                dictionaries,
                bytes: format::encode_day(a),
            },
        ))
    }

    /// The writer adopts days built elsewhere against its dictionaries
    /// ([`Engine::encoded_days`] of workers). Each is validated (built
    /// with the site's dictionaries as they are, its ids within them, its
    /// hits on its day); a stored day is replaced (the worker rebuilt it
    /// with its new hits). The visitor history, rollups and dictionaries
    /// follow, in one commit: readers see all of them or none. A damaged
    /// or foreign day fails the call before anything is changed. With
    /// `batch`, the commit records that identity
    /// ([`Engine::has_batch`]), so a build that ran once is not run twice.
    pub fn adopt_days(&mut self, days: Vec<BuiltDay>, batch: Option<&str>) -> Result<()> {
        self.writable()?;
        self.seal()?;
        let mut keys: BTreeMap<u32, u64> = BTreeMap::new();
        let mut decoded: BTreeMap<u32, Vec<(NaiveDate, DayArchive)>> = BTreeMap::new();
        for b in &days {
            let state = self.sites.get(&b.site).ok_or(Error::UnknownSite(b.site))?;
            let key = *keys
                .entry(b.site)
                .or_insert_with(|| fingerprint(&state.dicts));
            if b.dictionaries != key {
                return Err(build_err(format!(
                    "site {}, {}: the day was built with other dictionaries than the store's; give the workers the store's dictionaries (site_dictionaries) after merging the first pass, and build again",
                    b.site, b.day
                )));
            }
            let archive = decode_on(state, b.site, b.day, &b.bytes)?;
            decoded.entry(b.site).or_default().push((b.day, archive));
        }
        let buckets: Vec<(u32, NaiveDate)> = days.iter().map(|b| (b.site, b.day)).collect();
        self.hold_days(&buckets, true);
        for &(site, date) in &buckets {
            if let Some((path, reason)) = self.sites.get(&site).and_then(|s| s.damaged.get(&date)) {
                return Err(Error::Store {
                    path: path.clone(),
                    reason: format!(
                        "{reason}; the built day was not adopted (restore the file, or delete the day with delete_range)"
                    ),
                });
            }
        }
        let mut changed = BTreeMap::new();
        for (site, mut built) in decoded {
            built.sort_by_key(|(d, _)| *d);
            if built.windows(2).any(|w| w[0].0 == w[1].0) {
                return Err(build_err(format!(
                    "site {site}: a day was built twice; give each (site, day) bucket to one task"
                )));
            }
            changed.insert(site, (false, built.iter().map(|(d, _)| *d).collect()));
            self.sites
                .get_mut(&site)
                .expect("checked above")
                .adopt(built);
        }
        let marks = crate::store::Marks {
            batch,
            cursor: None,
            live: None,
        };
        self.persist_batch(changed, marks, false).map(|_| ())
    }

    /// A site's configuration as bytes (the store's configuration file),
    /// for the workers of a distributed build ([`Engine::add_site_from`]).
    pub fn site_configuration(&self, site: u32) -> Result<Vec<u8>> {
        Ok(format::encode_config(&self.site_state(site)?.config))
    }

    /// Adds (or updates) a site from [`Engine::site_configuration`]'s
    /// bytes: a worker's engine then places, interns and builds its hits
    /// as the writer would.
    pub fn add_site_from(&mut self, bytes: &[u8]) -> Result<()> {
        let config = format::decode_config(bytes).map_err(build_err)?;
        self.add_site(config)
    }
}

/// A day file of `site` decoded against its dictionaries, every action on
/// `date` in its time zone.
fn decode_on(
    state: &crate::engine::SiteState,
    site: u32,
    date: NaiveDate,
    bytes: &[u8],
) -> Result<DayArchive> {
    let archive = format::decode_day(bytes, &state.dicts)
        .map_err(|r| build_err(format!("site {site}, {date}: {r}")))?;
    if let Some(ts) = archive
        .a_ts
        .iter()
        .find(|ts| state.local_date(**ts) != date)
    {
        return Err(build_err(format!(
            "site {site}: a hit at {ts} is not on {date} in the site's time zone"
        )));
    }
    Ok(archive)
}
