//! One day of a site as a self-contained, versioned bundle: what a
//! serverless reader loads from object storage.

use chrono::NaiveDate;

use crate::archive::DayArchive;
use crate::engine::Engine;
use crate::erase::translate;
use crate::error::{Error, Result};
use crate::query::IntoDay;
use crate::raw::{RawHit, SideArena, SiteDicts};
use crate::store::codec::{Kind, Reader, Writer, open, seal};
use crate::store::format;

fn bundle_err(reason: impl Into<String>) -> Error {
    Error::Store {
        path: "(day bundle)".into(),
        reason: reason.into(),
    }
}

impl Engine {
    /// Exports one local day of a site: its configuration, the
    /// dictionaries of that day only, and the day archive, in one sealed
    /// file (FORMAT.md, kind `B`). [`Engine::import_day`] loads it
    /// elsewhere.
    ///
    /// # Examples
    /// ```
    /// use hitmap::{Engine, Hit, Query, SiteConfig};
    /// let mut source = Engine::in_memory();
    /// source.add_site(SiteConfig::new(1).time_zone("Europe/London"))?;
    /// source.ingest([Hit::pageview(1, 1_717_200_000, "a", "https://x.org/")])?;
    /// let bytes = source.export_day(1, "2024-06-01")?;
    ///
    /// let mut reader = Engine::in_memory();
    /// reader.import_day(&bytes)?;
    /// assert_eq!(reader.query(&Query::site(1))?.visits_summary().nb_visits, 1);
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn export_day(&self, site: u32, day: impl IntoDay) -> Result<Vec<u8>> {
        let day = day.into_day()?;
        let state = self.site_state(site)?;
        let parts = state.parts(day, day)?;
        if parts.is_empty() {
            return Err(bundle_err(format!("site {site} has no data on {day}")));
        }
        // The day's own dictionaries: no string of other days leaves.
        let (mut hits, mut side) = (Vec::new(), SideArena::default());
        crate::live::parts_hits_into(&parts, &state.dicts, &mut hits, &mut side);
        let mut dicts = SiteDicts::default();
        let mut own_side = SideArena::default();
        let mut own: Vec<RawHit> = hits
            .iter()
            .map(|h| translate(h, &side, &state.dicts, &mut dicts, &mut own_side))
            .collect();
        let own_archive = DayArchive::build(&mut own, &own_side, &dicts, &state.config);
        let mut w = Writer::default();
        w.str(&day.format("%Y-%m-%d").to_string());
        w.u8s(&format::encode_config(&state.config));
        w.u8s(&format::encode_dicts(&dicts));
        w.u8s(&format::encode_day(&own_archive));
        Ok(seal(Kind::Bundle, &w.buf))
    }

    /// Imports a day exported by [`Engine::export_day`] (any engine, any
    /// store). The site is added from the bundle's configuration if it is
    /// missing; if it exists, its time zone and timeout must match and the
    /// day must not be there yet (`delete_range` it to replace it). Every
    /// byte is validated: a damaged or foreign bundle is an error.
    pub fn import_day(&mut self, bytes: &[u8]) -> Result<NaiveDate> {
        self.writable()?;
        self.seal()?;
        let body = open(Kind::Bundle, bytes).map_err(bundle_err)?;
        let mut r = Reader::new(body);
        let day = crate::period::parse_day(&r.str().map_err(bundle_err)?)?;
        let config = format::decode_config(&r.u8s().map_err(bundle_err)?).map_err(bundle_err)?;
        let dicts = format::decode_dicts(&r.u8s().map_err(bundle_err)?).map_err(bundle_err)?;
        let archive =
            format::decode_day(&r.u8s().map_err(bundle_err)?, &dicts).map_err(bundle_err)?;
        r.finish().map_err(bundle_err)?;
        let site = config.id;
        match self.site(site) {
            None => self.add_site(config.clone())?,
            Some(existing) => {
                let (mine, theirs) = (existing, &config);
                if mine.time_zone != theirs.time_zone || mine.visit_timeout != theirs.visit_timeout
                {
                    return Err(bundle_err(format!(
                        "site {site} here has time zone {} and timeout {} s, the bundle {} and {} s",
                        mine.time_zone, mine.visit_timeout, theirs.time_zone, theirs.visit_timeout
                    )));
                }
            }
        }
        self.writable()?;
        let state = self.sites.get_mut(&site).expect("added above");
        if state.dates().contains(&day) || state.damaged.contains_key(&day) {
            return Err(bundle_err(format!(
                "site {site} already has {day}: delete_range it first to replace it"
            )));
        }
        let (mut hits, mut side) = (Vec::new(), SideArena::default());
        archive.hits_into(&mut hits, &mut side, &dicts);
        if let Some(h) = hits.iter().find(|h| state.local_date(h.ts) != day) {
            return Err(bundle_err(format!(
                "a hit at {} is not on {day} in this site's time zone",
                h.ts
            )));
        }
        let mut own_side = SideArena::default();
        let mut own: Vec<RawHit> = hits
            .iter()
            .map(|h| translate(h, &side, &dicts, &mut state.dicts, &mut own_side))
            .collect();
        state.rebuild(vec![(day, &mut own)], &mut own_side, 1);
        self.persist(std::collections::BTreeMap::from([(
            site,
            (false, vec![day]),
        )]))?;
        Ok(day)
    }
}

#[cfg(feature = "object-store")]
impl Engine {
    /// Publishes this store's current commit to an object store URL
    /// (`s3://bucket/prefix`, `gs://…`, `az://…`) for lazy readers
    /// ([`Engine::open_reader`]): seals live data, uploads the files the
    /// bucket lacks, then the manifest. The local store is the one writer
    /// of that prefix; a bucket holding a newer generation than this store
    /// is refused. Files the bucket's previous manifests named and this one
    /// does not are deleted by a later publish once the retention time
    /// ([`PublishOptions::retain`](crate::PublishOptions::retain)) has passed.
    pub fn publish(
        &mut self,
        url: &str,
        options: &crate::PublishOptions,
    ) -> Result<crate::Published> {
        self.seal()?;
        let store = self.store.as_ref().ok_or_else(|| {
            crate::store::store_err(
                url,
                "an in-memory engine has no files to publish: open a store folder",
            )
        })?;
        crate::store::remote::publish(store, url, options)
    }
}
