//! Methods about the installation rather than one report: sites
//! (`SitesManager.*`, `MultiSites.*`), custom dimension configuration,
//! bulk requests, report metadata and processed reports.

use serde_json::{Map, Value, json};

use super::methods::{self, Kind, METHODS, MethodInfo};
use super::{ApiOptions, ApiRequest, Keyed, Sites, bad};
use crate::engine::Engine;
use crate::error::Result;
use crate::render::Format;
use crate::site::SiteConfig;
use crate::table::{self, Row};

/// A site's display name: its first host, else `Site N` (hitmap's site
/// config has no separate name).
pub(crate) fn site_name(c: &SiteConfig) -> String {
    c.hosts()
        .first()
        .cloned()
        .unwrap_or_else(|| format!("Site {}", c.id()))
}

fn main_url(c: &SiteConfig) -> String {
    c.hosts()
        .first()
        .map(|h| format!("https://{h}"))
        .unwrap_or_default()
}

impl Engine {
    /// `SitesManager.getSitesWithAtLeastViewAccess` rows for some sites.
    pub(super) fn sites_json(&self, ids: &[u32]) -> Value {
        Value::Array(
            ids.iter()
                .filter_map(|&id| self.site(id))
                .map(|c| {
                    json!({
                        "idsite": c.id(),
                        "name": site_name(c),
                        "main_url": main_url(c),
                        "timezone": c.time_zone_name(),
                        "currency": "USD",
                        "ecommerce": u8::from(c.is_ecommerce()),
                        "sitesearch": 1,
                        "type": "website",
                        "alias_urls": c.hosts().iter().map(|h| format!("https://{h}")).collect::<Vec<_>>(),
                    })
                })
                .collect(),
        )
    }

    /// `CustomDimensions.getConfiguredCustomDimensions`: the site's custom
    /// dimensions, numbered in the order the site declares (or first saw)
    /// them; that number is `idDimension` and `dimensionN` in segments.
    pub(super) fn configured_dimensions(&self, site: u32) -> Result<Value> {
        let state = self.site_state(site)?;
        Ok(Value::Array(
            state
                .numbered_dimensions()
                .into_iter()
                .enumerate()
                .map(|(i, (id, name))| {
                    json!({
                        "idcustomdimension": id,
                        "idsite": site,
                        "name": name,
                        "index": i + 1,
                        "scope": "visit",
                        "active": true,
                        "extractions": [],
                        "case_sensitive": true,
                    })
                })
                .collect(),
        ))
    }

    /// `API.getSegmentsMetadata`: every segment name the site takes, in
    /// Matomo's shape (`type` dimension or metric, `category`, `name`,
    /// `segment`), its custom dimensions last.
    pub(super) fn segments_metadata(&self, site: u32) -> Result<Value> {
        use crate::segment::Field;
        let state = self.site_state(site)?;
        let mut out = Vec::new();
        for (name, field) in Field::builtin() {
            let category = if field.is_action_field() {
                "Behaviour"
            } else if matches!(
                field,
                Field::VisitConverted
                    | Field::VisitConvertedGoalId
                    | Field::VisitEcommerceStatus
                    | Field::RevenueOrder
                    | Field::ProductSku
                    | Field::ProductName
                    | Field::ProductCategory
            ) {
                "Goals"
            } else {
                "Visits"
            };
            out.push(json!({
                "type": if field.is_numeric() { "metric" } else { "dimension" },
                "category": category,
                "name": name,
                "segment": name,
            }));
        }
        for name in state.dicts.custom_dim_names() {
            out.push(json!({
                "type": "dimension",
                "category": "Custom dimensions",
                "name": name,
                "segment": name,
            }));
        }
        Ok(Value::Array(out))
    }

    /// `API.getSuggestedValuesForSegment`: values the site's data holds
    /// for a segment name (from its dictionaries: every value stored, at
    /// most 100, sorted), or the fixed values of an enumerated field. The
    /// visitor and user ids are not suggested.
    pub(super) fn suggested_values(&self, site: u32, name: &str) -> Result<Value> {
        use crate::segment::Field;
        let state = self.site_state(site)?;
        let field = Field::builtin()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| f.clone())
            .or_else(|| {
                state
                    .dicts
                    .custom_dim(name)
                    .map(|_| Field::Dimension(name.into()))
            })
            .ok_or_else(|| {
                super::bad(format!(
                    "unknown segment name '{name}': API.getSegmentsMetadata lists them"
                ))
            })?;
        let fixed = |v: &[&str]| Ok(json!(v));
        let d = &state.dicts;
        let dict = match field {
            Field::DeviceType => &d.values[0],
            Field::BrowserName => &d.values[1],
            Field::OperatingSystemName => &d.values[2],
            Field::CountryCode => &d.values[3],
            Field::LanguageCode => &d.values[4],
            Field::ReferrerUrl => &d.referrers,
            Field::PageUrl
            | Field::DownloadUrl
            | Field::OutlinkUrl
            | Field::EntryPageUrl
            | Field::ExitPageUrl => &d.urls,
            Field::PageTitle => &d.titles,
            Field::SiteSearchKeyword => &d.keywords,
            Field::EventCategory | Field::EventAction | Field::EventName => &d.events,
            Field::ReferrerType => {
                return fixed(&["direct", "search", "website", "campaign", "social", "ai"]);
            }
            Field::VisitorType => return fixed(&["new", "returning"]),
            Field::VisitConverted => return fixed(&["0", "1"]),
            Field::VisitEcommerceStatus => {
                return fixed(&[
                    "none",
                    "ordered",
                    "abandonedCart",
                    "orderedThenAbandonedCart",
                ]);
            }
            Field::VisitConvertedGoalId => {
                let ids: Vec<String> = state
                    .config
                    .goals
                    .iter()
                    .map(|g| g.id.to_string())
                    .collect();
                return Ok(json!(ids));
            }
            _ => return Ok(json!([])),
        };
        let mut values: Vec<&str> = dict
            .iter()
            .map(|(_, v)| v)
            .filter(|v| !v.is_empty())
            .collect();
        values.sort_unstable();
        values.dedup();
        values.truncate(100);
        Ok(json!(values))
    }

    /// `API.getBulkRequest`: each `urls[N]` (a URL-encoded query string)
    /// answered in order; a failing one answers Matomo's error object in
    /// its place and the others go on.
    pub(super) fn bulk(&self, r: &ApiRequest, options: &ApiOptions) -> Result<Value> {
        if r.format != Format::Json {
            return Err(bad("API.getBulkRequest answers format=json only"));
        }
        if r.urls.is_empty() {
            return Err(bad(
                "API.getBulkRequest needs urls[0]=<encoded query>, urls[1]=...",
            ));
        }
        // The requests of a bulk share one bound on periods, as one
        // request's periods do: a bulk of hundreds of long ranges would
        // otherwise build an answer of gigabytes.
        let periods: usize = r
            .urls
            .iter()
            .filter_map(|q| ApiRequest::parse(q).ok())
            .map(|sub| self.period_count(&sub, options))
            .sum();
        if periods > crate::period::MAX_PERIODS {
            return Err(bad(format!(
                "API.getBulkRequest asks for {periods} periods in all, more than the {} one request may: split it",
                crate::period::MAX_PERIODS
            )));
        }
        let answers = r
            .urls
            .iter()
            .map(|q| {
                let one = ApiRequest::parse(q).and_then(|sub| {
                    if methods::find(&sub.method).is_some_and(|m| m.kind == Kind::Bulk) {
                        return Err(bad(
                            "API.getBulkRequest cannot contain another bulk request",
                        ));
                    }
                    self.answer_with(&sub, options)
                });
                one.unwrap_or_else(|e| json!({"result": "error", "message": e.to_string()}))
            })
            .collect();
        Ok(Value::Array(answers))
    }

    /// How many periods a request answers over all its sites (0 where it
    /// names none, or where its own answer will be an error).
    fn period_count(&self, r: &ApiRequest, options: &ApiOptions) -> usize {
        let sites = match &r.sites {
            Sites::One(s) => vec![*s],
            Sites::List(l) => l.clone(),
            Sites::All => self.readable_sites(options),
            Sites::None => return 0,
        };
        let Ok(period) = r.period.parse() else {
            return 0;
        };
        sites
            .iter()
            .filter_map(|&s| self.periods(s, period, &r.date, options.now).ok())
            .map(|(p, _)| p.len())
            .sum()
    }

    /// `MultiSites.getAll`: one row per site (visits, actions, page views)
    /// for each period, every site in its own time zone.
    pub(super) fn multi_sites(&self, r: &ApiRequest, options: &ApiOptions) -> Result<Keyed> {
        let info = methods::find("MultiSites.getOne").expect("listed");
        let ids = match &r.sites {
            Sites::One(s) => vec![*s],
            Sites::List(l) => l.clone(),
            Sites::None | Sites::All => self.readable_sites(options),
        };
        options.check_sites(&ids)?;
        let mut per_period: Vec<(String, Vec<Value>)> = Vec::new();
        let mut multi = false;
        let mut flat: Vec<Value> = Vec::new();
        let one = ApiRequest {
            table: table::TableParams {
                limit: Some(-1),
                ..Default::default()
            },
            ..r.clone()
        };
        for id in ids {
            let (value, m) = self.answer_site(&one, info, id, options)?;
            multi = m;
            match value {
                Value::Object(map) if m => {
                    for (date, row) in map {
                        match per_period.iter_mut().find(|(d, _)| *d == date) {
                            Some((_, rows)) => rows.push(row),
                            None => per_period.push((date, vec![row])),
                        }
                    }
                }
                row => flat.push(row),
            }
        }
        let finish = |rows: Vec<Value>| -> Result<Value> {
            let rows: Vec<Row> = rows
                .into_iter()
                .filter_map(|v| match v {
                    Value::Object(m) => Some(m),
                    _ => None,
                })
                .collect();
            table::apply(rows, &r.table, &table::Spec::new(&[]))
        };
        if !multi {
            return Ok(Keyed {
                value: finish(flat)?,
                keys: Vec::new(),
            });
        }
        let mut map = Map::new();
        for (date, rows) in per_period {
            map.insert(date, finish(rows)?);
        }
        Ok(Keyed {
            value: Value::Object(map),
            keys: vec!["date"],
        })
    }

    /// `API.getProcessedReport`: a report's metadata, its rows and totals.
    pub(super) fn processed_report(
        &self,
        r: &ApiRequest,
        site: u32,
        options: &ApiOptions,
    ) -> Result<Value> {
        let (module, action) = match &r.api_method {
            (Some(m), Some(a)) => (m.clone(), a.clone()),
            _ => {
                return Err(bad(
                    "API.getProcessedReport needs apiModule and apiAction (e.g. apiModule=UserCountry&apiAction=getCountry)",
                ));
            }
        };
        let name = format!("{module}.{action}");
        let info = methods::find(&name)
            .filter(|m| methods::is_report(m))
            .ok_or_else(|| bad(format!("{name} is not a report: see API.getReportMetadata")))?;
        let sub = ApiRequest {
            method: name,
            sites: Sites::One(site),
            ..r.clone()
        };
        let (data, multi) = self.answer_site(&sub, info, site, options)?;
        if multi {
            return Err(bad(
                "API.getProcessedReport answers one period: use a single date",
            ));
        }
        let totals = totals(&data, info);
        let state = self.site_state(site)?;
        let metadata = report_json(info);
        let mut columns = Map::new();
        if info.dimension.is_some() {
            columns.insert("label".into(), json!(info.dimension));
        }
        let (metrics, processed) = methods::family_metrics(info.family);
        for (k, v) in metrics.iter().chain(processed) {
            columns.insert((*k).into(), json!(v));
        }
        Ok(json!({
            "website": site_name(&state.config),
            "prettyDate": format!("{} {}", r.period, r.date),
            "metadata": metadata,
            "columns": columns,
            "reportData": data,
            "reportMetadata": [],
            "reportTotal": totals,
        }))
    }
}

/// Sums of the additive columns of a report's rows.
fn totals(data: &Value, info: &MethodInfo) -> Value {
    let (metrics, _) = methods::family_metrics(info.family);
    let rows: Vec<&Map<String, Value>> = match data {
        Value::Array(rows) => rows.iter().filter_map(Value::as_object).collect(),
        Value::Object(m) => vec![m],
        _ => Vec::new(),
    };
    let mut out = Map::new();
    for (k, _) in metrics {
        if k.contains("uniq") || *k == "nb_users" || k.starts_with("max_") || k.starts_with("min_")
        {
            continue;
        }
        let sum: f64 = rows
            .iter()
            .filter_map(|r| r.get(*k))
            .filter_map(Value::as_f64)
            .sum();
        out.insert((*k).into(), json!(sum));
    }
    Value::Object(out)
}

fn report_json(m: &MethodInfo) -> Value {
    let (module, action) = m.name.split_once('.').unwrap_or((m.name, ""));
    let (metrics, processed) = methods::family_metrics(m.family);
    let obj = |pairs: &[(&str, &str)]| -> Map<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json!(v)))
            .collect()
    };
    let mut out = Map::new();
    out.insert("category".into(), json!(m.category));
    out.insert("name".into(), json!(m.report));
    out.insert("module".into(), json!(module));
    out.insert("action".into(), json!(action));
    if let Some(d) = m.dimension {
        out.insert("dimension".into(), json!(d));
    }
    out.insert("metrics".into(), Value::Object(obj(metrics)));
    if !processed.is_empty() {
        out.insert("processedMetrics".into(), Value::Object(obj(processed)));
    }
    out.insert(
        "parameters".into(),
        if m.kind == Kind::Custom {
            json!({"idDimension": "N"})
        } else {
            json!([])
        },
    );
    out.insert("uniqueId".into(), json!(format!("{module}_{action}")));
    Value::Object(out)
}

/// `API.getReportMetadata`: every report hitmap answers.
pub(super) fn report_metadata() -> Value {
    Value::Array(
        METHODS
            .iter()
            .filter(|m| methods::is_report(m))
            .map(report_json)
            .collect(),
    )
}

/// `MultiSites.getOne`: the site's row for one period, from its visits
/// and actions summaries.
pub(super) fn multi_sites_row(
    s: &crate::summary::VisitsSummary,
    a: &crate::summary::ActionsSummary,
    c: &crate::site::SiteConfig,
    r: &ApiRequest,
) -> Result<Value> {
    let row = json!({
        "label": site_name(c),
        "nb_visits": s.nb_visits,
        "nb_actions": s.nb_actions,
        "nb_pageviews": a.nb_pageviews,
        "revenue": 0,
        "idsite": c.id(),
        "main_url": main_url(c),
    });
    match row {
        Value::Object(m) => table::apply_one(m, &r.table, &[]),
        _ => Ok(Value::Null),
    }
}
