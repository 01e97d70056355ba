//! Erasure: forget a visitor, delete a range of days, drop a site. Each
//! rebuilds the site from its own archives minus what goes, into fresh
//! dictionaries, so no id or string of the erased data survives in memory
//! or (after the commit) on disk.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::archive::DayArchive;
use crate::dict::{Dict, NONE};
use crate::engine::{Engine, SiteState};
use crate::error::{Error, Result};
use crate::query::IntoDay;
use crate::raw::{Extra, N_VFIELDS, RawHit, SideArena, SiteDicts};

/// The id in `to` of the string `id` names in `from` ([`NONE`] stays).
fn reintern(id: u32, from: &Dict, to: &mut Dict) -> u32 {
    from.opt(id).map_or(NONE, |s| to.intern(s))
}

/// Re-interns a hit from one site's dictionaries into another's.
pub(crate) fn translate(
    h: &RawHit,
    old_side: &SideArena,
    old: &SiteDicts,
    new: &mut SiteDicts,
    new_side: &mut SideArena,
) -> RawHit {
    let mut out = RawHit::new(
        new.visitors.intern(old.visitors.value(h.visitor)),
        h.ts,
        h.kind,
    );
    out.url = if h.url == NONE {
        NONE
    } else {
        new.intern_url(old.urls.value(h.url))
    };
    out.title = reintern(h.title, &old.titles, &mut new.titles);
    let x = old_side.extra(h);
    let extra = Extra {
        keyword: reintern(x.keyword, &old.keywords, &mut new.keywords),
        ev_category: reintern(x.ev_category, &old.events, &mut new.events),
        ev_action: reintern(x.ev_action, &old.events, &mut new.events),
        ev_name: reintern(x.ev_name, &old.events, &mut new.events),
        ev_value: x.ev_value,
        perf: x.perf,
        search_cat: reintern(x.search_cat, &old.dim_values, &mut new.dim_values),
        search_count: x.search_count,
    };
    new_side.set_extra(&mut out, extra);
    if let Some(c) = old_side.conversion(h) {
        new_side.set_conversion(&mut out, c.clone());
    }
    let old_fields = old_side.fields(h);
    let mut fields = [NONE; N_VFIELDS];
    for f in 0..N_VFIELDS {
        if old_fields[f] != NONE {
            fields[f] = new.field_mut(f).intern(old.field(f).value(old_fields[f]));
        }
    }
    new_side.set_fields(&mut out, fields);
    out.dims_start = new_side.dims.len() as u32;
    for &(name, value) in old_side.dims(h) {
        new_side.dims.push((
            new.dim_names.intern(old.dim_names.value(name)),
            new.dim_values.intern(old.dim_values.value(value)),
        ));
    }
    out.dims_len = h.dims_len;
    out
}

impl SiteState {
    /// Rebuilds every day from its own hits, keeping those `keep` accepts,
    /// into fresh dictionaries. Returns the days as they now stand: each
    /// with its new archive, or `None` where nothing is left.
    fn rebuild_keeping(
        &mut self,
        mut keep: impl FnMut(NaiveDate, &RawHit) -> bool,
    ) -> BTreeMap<NaiveDate, bool> {
        let mut dicts = SiteDicts::default();
        for d in &self.config.dimensions {
            dicts.dim_names.intern(d);
        }
        let old_days = std::mem::take(&mut self.days);
        let mut outcome = BTreeMap::new();
        for (date, archive) in old_days {
            let (mut old_hits, mut old_side) = (Vec::new(), SideArena::default());
            archive.hits_into(&mut old_hits, &mut old_side, &self.dicts);
            let mut side = SideArena::default();
            let mut hits: Vec<RawHit> = old_hits
                .iter()
                .filter(|h| keep(date, h))
                .map(|h| translate(h, &old_side, &self.dicts, &mut dicts, &mut side))
                .collect();
            if hits.is_empty() {
                outcome.insert(date, false);
                continue;
            }
            let rebuilt = DayArchive::build(&mut hits, &side, &dicts, &self.config);
            self.days.insert(date, rebuilt);
            outcome.insert(date, true);
        }
        self.dicts = dicts;
        self.recompute_visitor_days();
        outcome
    }
}

impl Engine {
    /// Forgets a visitor (GDPR right to erasure): their hits, visits and
    /// dictionary entries disappear, and every report afterwards equals one
    /// computed as if they had never come. With a store, the erasure is
    /// committed and the files that held the visitor are deleted at once.
    /// Returns how many hits were removed.
    ///
    /// # Examples
    /// ```
    /// use hitmap::{Engine, Hit, Query, SiteConfig};
    /// let mut e = Engine::in_memory();
    /// e.add_site(SiteConfig::new(1))?;
    /// e.ingest([
    ///     Hit::pageview(1, 1_717_200_000, "alice", "https://x.org/").with_user("alice@example.org"),
    ///     Hit::pageview(1, 1_717_200_000, "bob", "https://x.org/"),
    /// ])?;
    /// assert_eq!(e.forget_visitor(1, "alice")?, 1);
    /// let s = e.query(&Query::site(1))?.visits_summary();
    /// assert_eq!((s.nb_visits, s.nb_users), (1, 0));
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn forget_visitor(&mut self, site: u32, visitor: &str) -> Result<u64> {
        self.prepare_erasure(site, None)?;
        let state = self.sites.get_mut(&site).expect("checked");
        let Some(id) = state.dicts.visitors.get(visitor) else {
            return Ok(0);
        };
        // Every day is held (`prepare_erasure`).
        let removed: u64 = state
            .days
            .values()
            .map(|a| {
                let from = a.visitor.partition_point(|&x| x < id);
                let to = from + a.visitor[from..].partition_point(|&x| x == id);
                (from..to)
                    .map(|v| a.actions_of(v as u32).len() as u64)
                    .sum::<u64>()
            })
            .sum();
        let days = state.rebuild_keeping(|_, h| h.visitor != id);
        self.persist_rebuilt(site, days)?;
        Ok(removed)
    }

    /// Deletes every hit of local days `from` to `to` (both included).
    /// New/returning and visitCount of later days change accordingly.
    pub fn delete_range(&mut self, site: u32, from: impl IntoDay, to: impl IntoDay) -> Result<()> {
        let (from, to) = (from.into_day()?, to.into_day()?);
        self.prepare_erasure(site, Some((from, to)))?;
        let state = self.sites.get_mut(&site).expect("checked");
        let damaged: Vec<NaiveDate> = state.damaged.range(from..=to).map(|(d, _)| *d).collect();
        let mut days = state.rebuild_keeping(|date, _| date < from || date > to);
        for d in damaged {
            // A damaged day in the range is deleted too: that is the way out.
            state.damaged.remove(&d);
            days.insert(d, false);
        }
        self.persist_rebuilt(site, days)
    }

    /// Removes a site with all its data and configuration.
    pub fn drop_site(&mut self, site: u32) -> Result<()> {
        if let Some(store) = &self.store
            && !store.is_writer()
        {
            return Err(Error::ReadOnly);
        }
        // Its hits must leave the write-ahead log too.
        self.seal()?;
        if self.sites.remove(&site).is_none() && self.broken.remove(&site).is_none() {
            return Err(Error::UnknownSite(site));
        }
        if let Some(store) = &mut self.store {
            let change = crate::store::SiteChange {
                drop: true,
                ..Default::default()
            };
            store.commit_erasure(BTreeMap::from([(site, change)]))?;
        }
        Ok(())
    }

    /// Erasure rewrites every day of the site with new ids: live days are
    /// sealed and every day is read into memory, and a damaged day it
    /// cannot read blocks it, unless that day is being deleted.
    fn prepare_erasure(
        &mut self,
        site: u32,
        deleting: Option<(NaiveDate, NaiveDate)>,
    ) -> Result<()> {
        if let Some(store) = &self.store
            && !store.is_writer()
        {
            return Err(Error::ReadOnly);
        }
        self.site_state(site)?;
        self.seal()?;
        self.hold_site(site);
        let state = self.site_state(site)?;
        let blocking = state
            .damaged
            .iter()
            .find(|(day, _)| deleting.is_none_or(|(from, to)| **day < from || **day > to));
        if let Some((_, (path, reason))) = blocking {
            return Err(Error::Store {
                path: path.clone(),
                reason: format!(
                    "{reason}; erasure rewrites every day of the site, so restore or delete_range this day first"
                ),
            });
        }
        Ok(())
    }

    /// Commits a whole-site rebuild: new dictionaries, every day rewritten
    /// (ids changed) or removed; superseded files deleted at once.
    fn persist_rebuilt(&mut self, site: u32, days: BTreeMap<NaiveDate, bool>) -> Result<()> {
        let Some(store) = &mut self.store else {
            return Ok(());
        };
        let state = &self.sites[&site];
        let mut change = crate::store::SiteChange {
            dicts: Some(crate::store::format::encode_dicts(&state.dicts)),
            ..Default::default()
        };
        let (pages, totals) = state.history.changes();
        change.totals = totals.map(crate::store::format::encode_totals);
        for (month, page) in pages {
            change.pages.insert(
                month,
                page.map(|p| crate::store::format::encode_page(month, p)),
            );
        }
        let all: Vec<NaiveDate> = days.keys().copied().collect();
        for (day, kept) in days {
            let bytes = kept.then(|| crate::store::format::encode_day(&state.days[&day]));
            change.days.insert(day, bytes);
        }
        // Every month's rollup holds the old ids: each is rewritten or
        // removed, and the old ones deleted with the old days.
        change.rollups = crate::engine::rollup_changes(
            state,
            store.manifest.sites.get(&site),
            &all,
            false,
            true,
        );
        store.commit_erasure(BTreeMap::from([(site, change)]))?;
        // Cached days hold the old ids (and the erased data).
        if let Some(lazy) = &state.lazy {
            lazy.cache.forget_from(site, NaiveDate::MIN);
        }
        self.release_days(&[(site, all)]);
        Ok(())
    }
}
