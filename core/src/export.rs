//! Raw data back out of the archives, for BI tools and for moving data
//! elsewhere: the stored hits of a range of days, as the input contract's
//! records, and the days a site holds.

use chrono::NaiveDate;

use crate::dict::NONE;
use crate::engine::Engine;
use crate::error::Result;
use crate::hit::{Event, Hit, attr};
use crate::query::IntoDay;
use crate::referrer::ReferrerType;

/// A dictionary's string for an id, `None` for the missing value.
fn text(dict: &crate::dict::Dict, id: u32) -> Option<String> {
    (id != NONE).then(|| dict.value(id).to_owned())
}

/// A recorded conversion as the hit it came from.
fn conversion_hit(
    site: u32,
    d: &crate::raw::SiteDicts,
    r: &crate::recorded::Recorded,
    visit_key: Option<u32>,
) -> Hit {
    let mut hit = Hit::new(site, r.ts, d.visitors.value(r.visitor), r.kind);
    hit.url = text(&d.urls, r.url);
    if visit_key.is_some() && r.key != NONE {
        hit.visit = text(&d.dim_values, r.key);
    }
    hit.conversion = Some(r.data.clone());
    hit
}

impl Engine {
    /// The local days a site holds data for, oldest first.
    ///
    /// # Examples
    /// ```
    /// use hitmap::{Engine, Hit, SiteConfig};
    /// let mut e = Engine::in_memory();
    /// e.add_site(SiteConfig::new(1))?;
    /// e.ingest([Hit::pageview(1, 1_717_200_000, "a", "https://x.org/")])?;
    /// assert_eq!(e.site_days(1)?, [hitmap::parse_day("2024-06-01")?]);
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn site_days(&self, site: u32) -> Result<Vec<NaiveDate>> {
        Ok(self.site_state(site)?.dates().into_iter().collect())
    }

    /// The stored hits of a site's local days `from..=to`, as [`Hit`]
    /// records: the same records ingested give back the same archives.
    /// Visit-level fields come on the hit that carried them. Hits are in
    /// day, visitor and time order.
    ///
    /// # Examples
    /// ```
    /// use hitmap::{Engine, Hit, SiteConfig};
    /// let mut e = Engine::in_memory();
    /// e.add_site(SiteConfig::new(1))?;
    /// let hit = Hit::pageview(1, 1_717_200_000, "a", "https://x.org/").with_device("desktop");
    /// e.ingest([hit.clone()])?;
    /// assert_eq!(e.export_hits(1, "2024-06-01", "2024-06-01")?, [hit]);
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn export_hits(&self, site: u32, from: impl IntoDay, to: impl IntoDay) -> Result<Vec<Hit>> {
        let sel = self.query(&crate::query::Query::site(site).range(from, to))?;
        let s = sel.site;
        let d = &s.dicts;
        let visit_key = d.dim_names.get(attr::NAMES[attr::VISIT]);
        let mut out = Vec::new();
        let mut start = 0;
        while start < sel.days.len() {
            let date = sel.days[start].date;
            let end = start + sel.days[start..].partition_point(|p| p.date == date);
            let pieces = &sel.days[start..end];
            start = end;
            for (k, v) in crate::live::visits_in_order(pieces) {
                let a = &*pieces[k].archive;
                self.visit_hits_out(site, d, a, v, visit_key, &mut out);
            }
            // Conversions attached to no visit, of the visitors each piece
            // holds.
            for p in pieces {
                for r in p.archive.unattached_records() {
                    if crate::live::unattached_visible(p.mask, r.visitor) {
                        out.push(conversion_hit(site, d, r, visit_key));
                    }
                }
            }
        }
        Ok(out)
    }

    /// One visit's hits, its actions then its conversions, into `out`.
    fn visit_hits_out(
        &self,
        site: u32,
        d: &crate::raw::SiteDicts,
        a: &crate::archive::DayArchive,
        v: u32,
        visit_key: Option<u32>,
        out: &mut Vec<Hit>,
    ) {
        {
            {
                let vi = v as usize;
                let range = a.actions_of(v);
                let first = range.start;
                for i in range {
                    let pos = (i - first) as u32;
                    let carried = |f: usize| {
                        (a.field_carriers[f][vi] == pos)
                            .then(|| text(d.field(f), a.fields[f][vi]))
                            .flatten()
                    };
                    let event = (a.extra(i).ev_category != NONE).then(|| Event {
                        category: d.events.value(a.extra(i).ev_category).to_owned(),
                        action: text(&d.events, a.extra(i).ev_action).unwrap_or_default(),
                        name: text(&d.events, a.extra(i).ev_name),
                        value: Some(a.extra(i).ev_value).filter(|x| !x.is_nan()),
                    });
                    let mut hit = Hit {
                        site,
                        ts: a.a_ts[i],
                        visitor: d.visitors.value(a.visitor[vi]).to_owned(),
                        kind: a.a_kind[i],
                        url: text(&d.urls, a.a_url[i]),
                        title: text(&d.titles, a.a_title[i]),
                        user: carried(0),
                        referrer: carried(1),
                        device: carried(2),
                        browser: carried(3),
                        os: carried(4),
                        country: carried(5),
                        language: carried(6),
                        search: text(&d.keywords, a.extra(i).keyword),
                        search_category: text(&d.dim_values, a.extra(i).search_cat),
                        search_count: a.extra(i).search_count,
                        event,
                        perf: a.extra(i).perf.to_perf(),
                        ..Hit::default()
                    };
                    for c in &a.dims {
                        let value = c.values[vi];
                        // A visit id belongs on every hit of its visit.
                        let every_hit = Some(c.name) == visit_key && value != NONE;
                        if c.carriers[vi] != pos && !every_hit {
                            continue;
                        }
                        let name = d.dim_names.value(c.name);
                        let value = d.dim_values.value(value).to_owned();
                        if !hit.set_attr(name, value.clone()) {
                            hit.dims.push((name.to_owned(), value));
                        }
                    }
                    out.push(hit);
                }
                for r in a.conversions_of(v).iter().chain(a.views_of(v)) {
                    out.push(conversion_hit(site, d, r, visit_key));
                }
            }
        }
    }

    /// One record per stored visit of a site's local days `from..=to`:
    /// what a BI tool joins on, with the numbers the reports count.
    ///
    /// # Examples
    /// ```
    /// use hitmap::{Engine, Hit, SiteConfig};
    /// let mut e = Engine::in_memory();
    /// e.add_site(SiteConfig::new(1))?;
    /// e.ingest([
    ///     Hit::pageview(1, 1_717_200_000, "a", "https://x.org/a"),
    ///     Hit::pageview(1, 1_717_200_060, "a", "https://x.org/b"),
    ///     Hit::pageview(1, 1_717_210_000, "a", "https://x.org/c"),
    /// ])?;
    /// let v = e.export_visits(1, "2024-06-01", "2024-06-01")?;
    /// assert_eq!(v.len(), 2);
    /// assert_eq!((v[0].actions, v[0].length, v[0].visit_count), (2, 61, 1));
    /// assert_eq!(v[1].visitor_type, "returning");
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn export_visits(
        &self,
        site: u32,
        from: impl IntoDay,
        to: impl IntoDay,
    ) -> Result<Vec<VisitRecord>> {
        let sel = self.query(&crate::query::Query::site(site).range(from, to))?;
        let s = sel.site;
        let d = &s.dicts;
        let mut out = Vec::new();
        for (k, v) in crate::live::visits_in_order(&sel.days) {
            let (date, a) = (sel.days[k].date, &*sel.days[k].archive);
            {
                let vi = v as usize;
                let range = a.actions_of(v);
                let field = |f: usize| text(d.field(f), a.fields[f][vi]);
                out.push(VisitRecord {
                    date,
                    visitor: d.visitors.value(a.visitor[vi]).to_owned(),
                    first_ts: a.visit_start(v),
                    length: a.length[vi],
                    actions: range.len() as u32,
                    entry_url: text(&d.urls, a.entry_url[vi]),
                    exit_url: text(&d.urls, a.exit_url[vi]),
                    referrer_type: ReferrerType::ALL
                        .get(usize::from(a.referrer_type[vi]))
                        .map_or("direct", |t| t.name()),
                    visitor_type: if a.is_new_visit(v) {
                        "new"
                    } else {
                        "returning"
                    },
                    visit_count: a.visit_rank(v),
                    user: field(0),
                    referrer: field(1),
                    device: field(2),
                    browser: field(3),
                    os: field(4),
                    country: field(5),
                    language: field(6),
                });
            }
        }
        Ok(out)
    }
}

/// One stored visit, as [`Engine::export_visits`] gives it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct VisitRecord {
    /// The site's local day.
    pub date: NaiveDate,
    /// The visitor key.
    pub visitor: String,
    /// Unix seconds of the first action.
    pub first_ts: i64,
    /// Visit length in seconds (0 for one action).
    pub length: u32,
    /// Actions of every kind.
    pub actions: u32,
    /// First page view's URL.
    pub entry_url: Option<String>,
    /// Last page view's URL.
    pub exit_url: Option<String>,
    /// `direct`, `search`, `website`, `campaign`, `social`, `ai`.
    pub referrer_type: &'static str,
    /// `new` or `returning`.
    pub visitor_type: &'static str,
    /// The visit's rank among the visitor's visits.
    pub visit_count: u32,
    /// Logged-in user.
    pub user: Option<String>,
    /// Referrer URL.
    pub referrer: Option<String>,
    /// Device type.
    pub device: Option<String>,
    /// Browser.
    pub browser: Option<String>,
    /// Operating system.
    pub os: Option<String>,
    /// Country code.
    pub country: Option<String>,
    /// Language code.
    pub language: Option<String>,
}
