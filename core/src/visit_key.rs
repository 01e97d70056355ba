//! Values derived per visit from what its hits stored: the hour and
//! weekday of its start on the site's clock, the visitor's local hour,
//! browser and OS versions, resolution, continent, the referrer's name,
//! keyword and campaign parts, days since the visitor's previous visit.
//! Reports group by them and segments test them, through this one place.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{Datelike, Timelike};

use crate::archive::DayArchive;
use crate::dict::NONE;
use crate::engine::SiteState;
use crate::hit::attr;
use crate::raw::VField;
use crate::referrer::{Referrer, ReferrerType, describe_referrer};

/// Referrer descriptions by (landing URL id, referrer id) of one site's
/// dictionaries: a segment keeps one for all the days of a request.
pub(crate) type ReferrerCache = Mutex<HashMap<(u32, u32), Arc<Referrer>>>;

/// Where a [`VisitKeys`] keeps its referrer descriptions.
enum Cache<'s> {
    Own(ReferrerCache),
    Shared(&'s ReferrerCache),
}

/// Per-site lookups for visit-derived values, with a cache of referrer
/// descriptions by (landing URL, referrer) pair.
pub(crate) struct VisitKeys<'s> {
    pub site: &'s SiteState,
    attrs: [Option<u32>; attr::N],
    referrers: Cache<'s>,
}

impl<'s> VisitKeys<'s> {
    pub(crate) fn new(site: &'s SiteState) -> VisitKeys<'s> {
        VisitKeys {
            site,
            attrs: std::array::from_fn(|i| site.dicts.dim_names.get(attr::NAMES[i])),
            referrers: Cache::Own(Mutex::new(HashMap::new())),
        }
    }

    /// Lookups that share a referrer cache (a segment's, across days).
    pub(crate) fn with_cache(site: &'s SiteState, cache: &'s ReferrerCache) -> VisitKeys<'s> {
        VisitKeys {
            referrers: Cache::Shared(cache),
            ..VisitKeys::new(site)
        }
    }

    /// The value of one of hitmap's visit attributes (`attr::*`).
    pub(crate) fn attr(&self, a: &DayArchive, v: u32, index: usize) -> Option<&'s str> {
        let name = self.attrs[index]?;
        let column = a.dims.iter().find(|c| c.name == name)?;
        let id = column.values[v as usize];
        (id != NONE).then(|| self.site.dicts.dim_values.value(id))
    }

    /// A visit-level field's value.
    pub(crate) fn field(&self, a: &DayArchive, v: u32, f: VField) -> Option<&'s str> {
        let id = a.fields[f as usize][v as usize];
        (id != NONE).then(|| self.site.dicts.field(f as usize).value(id))
    }

    fn start(&self, a: &DayArchive, v: u32) -> chrono::DateTime<chrono_tz::Tz> {
        chrono::DateTime::from_timestamp(a.visit_start(v), 0)
            .expect("timestamps are validated")
            .with_timezone(&self.site.tz)
    }

    /// The hour (0-23) the visit started, on the site's clock.
    pub(crate) fn server_hour(&self, a: &DayArchive, v: u32) -> u32 {
        self.start(a, v).hour()
    }

    /// The weekday the visit started, 1 (Monday) to 7 (Sunday).
    pub(crate) fn weekday(&self, a: &DayArchive, v: u32) -> u32 {
        self.start(a, v).weekday().number_from_monday()
    }

    /// The visitor's local hour, when a hit carried it.
    pub(crate) fn local_hour(&self, a: &DayArchive, v: u32) -> Option<u32> {
        self.attr(a, v, attr::LOCAL_HOUR)?.parse().ok()
    }

    /// `Chrome 120.0`: browser and version (the name alone without one).
    pub(crate) fn browser_version(&self, a: &DayArchive, v: u32) -> Option<String> {
        joined(
            self.field(a, v, VField::Browser),
            self.attr(a, v, attr::AFTER_CAMPAIGN),
        )
    }

    /// `Windows 10`: operating system and version.
    pub(crate) fn os_version(&self, a: &DayArchive, v: u32) -> Option<String> {
        joined(
            self.field(a, v, VField::Os),
            self.attr(a, v, attr::AFTER_CAMPAIGN + 1),
        )
    }

    /// The browser's version alone.
    pub(crate) fn browser_version_only(&self, a: &DayArchive, v: u32) -> Option<&'s str> {
        self.attr(a, v, attr::AFTER_CAMPAIGN)
    }

    /// The operating system's version alone.
    pub(crate) fn os_version_only(&self, a: &DayArchive, v: u32) -> Option<&'s str> {
        self.attr(a, v, attr::AFTER_CAMPAIGN + 1)
    }

    /// The screen resolution (`1920x1080`).
    pub(crate) fn resolution(&self, a: &DayArchive, v: u32) -> Option<&'s str> {
        self.attr(a, v, attr::AFTER_CAMPAIGN + 2)
    }

    /// The continent code of the visit's country (`eur`, `amc`, ...).
    pub(crate) fn continent(&self, a: &DayArchive, v: u32) -> Option<&'static str> {
        crate::names::country(self.field(a, v, VField::Country)?).map(|(_, c)| c)
    }

    /// The visit's referrer: its type as stored, the name, keyword and
    /// campaign parts as recorded on its hits, else derived from its
    /// landing URL and referrer URL (once per distinct pair).
    pub(crate) fn referrer(&self, a: &DayArchive, v: u32) -> Referrer {
        let kind = ReferrerType::ALL
            .get(usize::from(a.referrer_type[v as usize]))
            .copied()
            .unwrap_or(ReferrerType::Direct);
        if kind == ReferrerType::Direct {
            return Referrer {
                kind,
                name: None,
                keyword: None,
                campaign: None,
            };
        }
        let d = &self.site.dicts;
        let first = a.a_url[a.actions_of(v).start];
        let referrer = a.fields[VField::Referrer as usize][v as usize];
        let cache = match &self.referrers {
            Cache::Own(c) => c,
            Cache::Shared(c) => *c,
        };
        let derived = Arc::clone(
            cache
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .entry((first, referrer))
                .or_insert_with(|| {
                    Arc::new(describe_referrer(
                        d.urls.opt(first),
                        d.referrers.opt(referrer),
                        &self.site.config,
                    ))
                }),
        );
        let recorded = |i: usize| self.attr(a, v, i).map(str::to_owned);
        let campaign = kind == ReferrerType::Campaign;
        let (name, keyword) = if campaign {
            (attr::CAMPAIGN, attr::CAMPAIGN + 3)
        } else {
            (attr::REFERRER_NAME, attr::REFERRER_KEYWORD)
        };
        let mut out = Referrer {
            kind,
            name: recorded(name).or_else(|| derived.name.clone()),
            keyword: recorded(keyword).or_else(|| derived.keyword.clone()),
            campaign: None,
        };
        if campaign {
            let mut parts = derived.campaign.clone().unwrap_or_default();
            for (i, slot) in [
                &mut parts.source,
                &mut parts.medium,
                &mut parts.content,
                &mut parts.id,
            ]
            .into_iter()
            .enumerate()
            {
                let index = attr::CAMPAIGN + [1, 2, 4, 5][i];
                if let Some(x) = recorded(index) {
                    *slot = Some(x);
                }
            }
            out.campaign = Some(parts);
        }
        out
    }

    /// Days since the visitor's previous visit: 0 for another visit the
    /// same day, else whole local days back to the latest earlier day
    /// with one; `None` for a first visit.
    pub(crate) fn days_since_last(
        &self,
        a: &DayArchive,
        v: u32,
        day: chrono::NaiveDate,
    ) -> Option<i64> {
        let vi = v as usize;
        if a.rank_in_day[vi] > 0 {
            return Some(0);
        }
        if a.before[vi] == 0 {
            return None;
        }
        // Read by now: the day's `before` column came from it.
        let previous = self.site.history().previous_day(a.visitor[vi], day)?;
        Some((day - previous).num_days())
    }
}

fn joined(name: Option<&str>, version: Option<&str>) -> Option<String> {
    Some(match (name?, version) {
        (n, Some(v)) => format!("{n} {v}"),
        (n, None) => n.to_owned(),
    })
}
