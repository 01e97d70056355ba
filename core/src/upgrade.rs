//! Rewriting a store's older day files in today's format version.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::engine::Engine;
use crate::error::Result;
use crate::rollup::Span;
use crate::store::codec::{DAY_VERSION, Kind, open_versioned};
use crate::store::day_path;

impl Engine {
    /// Rewrites every day file of an older format version in today's, a
    /// month of days per commit (so a writer holds at most a month), and
    /// a visitor history kept as one table as month pages, and returns how
    /// many days it rewrote. Answers do not change; what
    /// changes is what a question reads: a version 3 day file keeps each
    /// column group apart, so a segmented summary of an upgraded year reads
    /// a fraction of each day (FORMAT.md, "Versions"). Older files are
    /// read whole until then, and are retired like any superseded file.
    /// Live and damaged days are left as they are. `hitmap check --upgrade`
    /// runs it.
    ///
    /// # Examples
    /// ```
    /// use hitmap::{Engine, Hit, SiteConfig};
    /// let dir = std::env::temp_dir().join(format!("hitmap-upgrade-doc-{}", std::process::id()));
    /// let mut e = Engine::open(&dir)?;
    /// e.add_site(SiteConfig::new(1))?;
    /// e.ingest([Hit::pageview(1, 1_717_200_000, "a", "https://x.org/")])?;
    /// e.seal()?;
    /// assert_eq!(e.upgrade_days()?, 0); // written today: nothing to do
    /// # drop(e); std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn upgrade_days(&mut self) -> Result<u64> {
        self.writable()?;
        let mut rewritten = 0;
        for id in self.site_ids() {
            let old = self.older_days(id);
            let mut months: BTreeMap<NaiveDate, Vec<NaiveDate>> = BTreeMap::new();
            for day in old {
                months
                    .entry(crate::rollup::month_of(day))
                    .or_default()
                    .push(day);
            }
            for days in months.into_values() {
                let held: Vec<(u32, NaiveDate)> = days.iter().map(|&d| (id, d)).collect();
                self.hold_days(&held, false);
                let site = &self.sites[&id];
                let days: Vec<NaiveDate> = days
                    .into_iter()
                    .filter(|d| site.days.contains_key(d))
                    .collect();
                rewritten += days.len() as u64;
                self.persist(BTreeMap::from([(id, (false, days))]))?;
            }
            // A visitor history kept as one table (before version 4) is
            // written as month pages.
            let legacy = self
                .store
                .as_ref()
                .and_then(|s| s.manifest.sites.get(&id))
                .is_some_and(|f| f.history.is_some() && f.totals.is_none());
            if legacy && let Some(site) = self.sites.get_mut(&id) {
                site.history.hold_from(NaiveDate::MIN)?;
                self.persist(BTreeMap::from([(id, (false, Vec::new()))]))?;
            }
            // Totals written before each visitor's first visit start and
            // the order index were kept get them from the days.
            let lacks = self.sites.get(&id).is_some_and(|s| {
                s.history()
                    .totals()
                    .is_ok_and(|t| !t.has_firsts() || t.orders_unknown)
            });
            if lacks {
                self.fill_first_starts(id)?;
                self.persist(BTreeMap::from([(id, (false, Vec::new()))]))?;
            }
        }
        Ok(rewritten)
    }

    /// Sets each visitor's first visit start and the order index in the
    /// site's totals from every day (stored, held and live), read one at
    /// a time.
    fn fill_first_starts(&mut self, id: u32) -> Result<()> {
        let Some(site) = self.sites.get(&id) else {
            return Ok(());
        };
        let mut t = crate::history::Totals::default();
        {
            let by_string = crate::history::by_visitor_string(&site.dicts.visitors);
            let mut note = |a: &crate::archive::DayArchive| {
                t.note_day(a, &by_string);
            };
            if let (Some(store), Some(lazy)) = (&self.store, &site.lazy) {
                for (&date, &g) in &lazy.files {
                    if site.days.contains_key(&date) || site.damaged.contains_key(&date) {
                        continue;
                    }
                    let a = crate::reader::read_day(store, site, id, date, g)
                        .map_err(|(path, reason)| crate::error::Error::Store { path, reason })?;
                    note(&a);
                }
            }
            site.days.values().for_each(&mut note);
            site.live
                .values()
                .flat_map(|l| &l.parts)
                .for_each(|p| note(&p.archive));
        }
        let site = self.sites.get_mut(&id).expect("looked up above");
        site.history.hold_from(NaiveDate::MAX)?;
        site.history.set_firsts(t.first, t.orders);
        Ok(())
    }

    /// Rebuilds, from their days, the report rollups written by an older
    /// format version (their reports lack what today's keep: the
    /// visits-grouped reports, the event reports, the sections report),
    /// one commit per site, and returns how many it rebuilt. Until then
    /// those reports of their periods are read from the days (answers are
    /// the same; cold questions are slower). `hitmap check --upgrade`
    /// runs it.
    ///
    /// # Examples
    /// ```
    /// use hitmap::{Engine, Hit, SiteConfig};
    /// let dir = std::env::temp_dir().join(format!("hitmap-upgrade-rollups-doc-{}", std::process::id()));
    /// let mut e = Engine::open(&dir)?;
    /// e.add_site(SiteConfig::new(1))?;
    /// e.ingest([Hit::pageview(1, 1_717_200_000, "a", "https://x.org/")])?;
    /// e.seal()?;
    /// assert_eq!(e.upgrade_rollups()?, 0); // written today: nothing to do
    /// # drop(e); std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn upgrade_rollups(&mut self) -> Result<u64> {
        self.writable()?;
        let mut rebuilt = 0;
        for id in self.site_ids() {
            let outdated = self.older_rollups(id);
            if outdated.is_empty() {
                continue;
            }
            // Left out of the manifest, they are missing: the commit
            // builds them from their days (`rollup_changes`).
            if let Some(files) = self
                .store
                .as_mut()
                .and_then(|s| s.manifest.sites.get_mut(&id))
            {
                for (span, start) in &outdated {
                    files.rollups_of_mut(*span).remove(start);
                }
            }
            if let Some(lazy) = self.sites.get_mut(&id).and_then(|s| s.lazy.as_mut()) {
                for (span, start) in &outdated {
                    if let Some(m) = lazy.rollups.get_mut(span) {
                        m.remove(start);
                    }
                }
            }
            rebuilt += outdated.len() as u64;
            self.persist(BTreeMap::from([(id, (false, Vec::new()))]))?;
        }
        Ok(rebuilt)
    }

    /// The report rollups of site `id` whose files are of an older format
    /// version (an unreadable one is left to `verify`).
    fn older_rollups(&self, id: u32) -> Vec<(Span, NaiveDate)> {
        let Some(store) = &self.store else {
            return Vec::new();
        };
        let Some(files) = store.manifest.sites.get(&id) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for span in [Span::MonthReports, Span::YearReports] {
            for (&start, &generation) in files.rollups_of(span) {
                let path = crate::store::span_rollup_path(id, span, start, generation);
                let Ok(bytes) = store.source.read(&path) else {
                    continue;
                };
                if let Ok((version, _)) = open_versioned(Kind::Rollup, &bytes)
                    && version < crate::store::codec::REPORTS_CURRENT_FROM
                {
                    out.push((span, start));
                }
            }
        }
        out
    }

    /// The stored days of site `id` whose files are of an older format
    /// version (not live, not damaged).
    fn older_days(&self, id: u32) -> Vec<NaiveDate> {
        let (Some(store), Some(site)) = (&self.store, self.sites.get(&id)) else {
            return Vec::new();
        };
        let Some(lazy) = &site.lazy else {
            return Vec::new();
        };
        lazy.files
            .iter()
            .filter(|(d, _)| !site.live.contains_key(d) && !site.damaged.contains_key(d))
            .filter(|&(&d, &g)| {
                store.read(&day_path(id, d, g)).is_ok_and(|bytes| {
                    open_versioned(Kind::Day, &bytes).is_ok_and(|(v, _)| v < DAY_VERSION)
                })
            })
            .map(|(d, _)| *d)
            .collect()
    }
}
