//! Methods about the installation rather than one report: sites
//! (`SitesManager.*`, `MultiSites.*`), custom dimension configuration,
//! bulk requests, report metadata and processed reports.

use serde_json::{Map, Value, json};

use super::methods::{self, Kind, METHODS, MethodInfo};
use super::{ApiOptions, ApiRequest, Keyed, Sites, bad};
use crate::engine::Engine;
use crate::error::Result;
use crate::period::{Period, PeriodRange};
use crate::render::Format;
use crate::site::SiteConfig;
use crate::table::{self, Row};
use chrono::{DateTime, NaiveDate, Utc};

/// A site's display name ([`SiteConfig::display_name`]).
pub(crate) fn site_name(c: &SiteConfig) -> String {
    c.display_name()
}

fn main_url(c: &SiteConfig) -> String {
    c.url()
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
                    | Field::RevenueAbandonedCart
                    | Field::ProductPrice
                    | Field::OrderId
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
            Field::PageTitle | Field::EntryPageTitle | Field::ExitPageTitle => &d.titles,
            Field::SiteSearchKeyword => &d.keywords,
            Field::EventCategory | Field::EventAction | Field::EventName => &d.events,
            Field::ReferrerType => {
                return fixed(&["direct", "search", "website", "campaign", "social", "ai"]);
            }
            // DeviceDetector's codes of the stored browser and system names.
            Field::BrowserCode | Field::OperatingSystemCode => {
                let (dict, code_of): (_, fn(&str) -> Option<&'static str>) =
                    if field == Field::BrowserCode {
                        (&d.values[1], crate::device_codes::browser_code)
                    } else {
                        (&d.values[2], crate::device_codes::os_code)
                    };
                let mut codes: Vec<&str> = dict.iter().filter_map(|(_, v)| code_of(v)).collect();
                codes.sort_unstable();
                codes.dedup();
                codes.truncate(100);
                return Ok(json!(codes));
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

    /// `MultiSites.getAll`: one row per site with visits for each period
    /// (every site in its own time zone; with `enhanced=1` every site,
    /// and conversions, orders and product revenue), and the evolution
    /// against the period before ([`Engine::multi_sites_site`]).
    pub(super) fn multi_sites(&self, r: &ApiRequest, options: &ApiOptions) -> Result<Keyed> {
        let ids = match &r.sites {
            Sites::One(s) => vec![*s],
            Sites::List(l) => l.clone(),
            Sites::None | Sites::All => self.readable_sites(options),
        };
        options.check_sites(&ids)?;
        let mut per_period: Vec<(String, Vec<Row>)> = Vec::new();
        let mut multi = false;
        for id in ids {
            let (periods, m) = self.multi_sites_site(r, id, options, true)?;
            multi = m;
            for (label, row) in periods {
                // Matomo leaves out sites without visits, but with enhanced=1.
                if !r.enhanced && row.get("nb_visits").and_then(Value::as_f64) == Some(0.0) {
                    if !per_period.iter().any(|(d, _)| *d == label) {
                        per_period.push((label, Vec::new()));
                    }
                    continue;
                }
                match per_period.iter_mut().find(|(d, _)| *d == label) {
                    Some((_, rows)) => rows.push(row),
                    None => per_period.push((label, vec![row])),
                }
            }
        }
        // `pattern`: the sites whose name matches, regardless of case.
        let pattern = match &r.sites_pattern {
            Some(p) => Some(table::regex(p, "pattern")?),
            None => None,
        };
        let spec = table::Spec {
            metadata: MULTI_SITES_METADATA,
            ..table::Spec::new(&[])
        };
        let finish = |mut rows: Vec<Row>| -> Result<Value> {
            if let Some(re) = &pattern {
                rows.retain(|row| {
                    re.is_match(row.get("label").and_then(Value::as_str).unwrap_or(""))
                });
            }
            // Matomo's order: most visits first (sites of equal visits by
            // id), unless a sort is asked.
            let visits = |row: &Row| row.get("nb_visits").and_then(Value::as_f64).unwrap_or(0.0);
            rows.sort_by(|a, b| visits(b).total_cmp(&visits(a)));
            table::apply(rows, &r.table, &spec)
        };
        if !multi {
            let rows = per_period.pop().map(|(_, rows)| rows).unwrap_or_default();
            return Ok(Keyed {
                value: finish(rows)?,
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

    /// `MultiSites.getOne`: the site's visits, actions, page views and
    /// revenue with their evolution against the period before.
    pub(super) fn multi_sites_one(
        &self,
        r: &ApiRequest,
        site: u32,
        options: &ApiOptions,
    ) -> Result<(Value, bool)> {
        let (periods, multi) = self.multi_sites_site(r, site, options, false)?;
        let one = |row: Row| table::apply_one(row, &r.table, &[]);
        if !multi {
            let row = periods
                .into_iter()
                .next()
                .map(|(_, row)| row)
                .unwrap_or_default();
            return Ok((one(row)?, false));
        }
        let mut map = Map::new();
        for (label, row) in periods {
            map.insert(label, one(row)?);
        }
        Ok((Value::Object(map), true))
    }

    /// One site's `MultiSites` rows, one per period of the request: its
    /// metrics (visits, actions, page views, goal revenue; with
    /// `enhanced=1` conversions, and on an ecommerce site orders and
    /// product revenue), each metric's evolution against the period
    /// before (`*_evolution`, `*_evolution_trend`) unless the date is
    /// `lastN`/`previousN` (Matomo's), and, for `getAll` (`all`), Matomo's
    /// row metadata: label (the site's name), `idsite`, `ratio` (the
    /// share of the current period gone by, when it is not over: the
    /// past value is scaled by it), `currencySymbol`, `previous_*`,
    /// `periodName`, `previousRange`, `group` and `main_url`.
    fn multi_sites_site(
        &self,
        r: &ApiRequest,
        site: u32,
        options: &ApiOptions,
        all: bool,
    ) -> Result<(Vec<(String, Row)>, bool)> {
        let config = self.site_state(site)?.config.clone();
        let period: Period = r.period.parse()?;
        let (periods, multi) = self.periods(site, period, &r.date, options.now)?;
        let evolution = !r.date.contains("last") && !r.date.contains("previous");
        let mut metrics: Vec<&SiteMetric> = SITE_METRICS[..4].iter().collect();
        if r.enhanced {
            metrics.push(&SITE_METRICS[4]);
            if config.is_ecommerce() {
                metrics.extend(&SITE_METRICS[5..]);
            }
        }
        let raw = r.table.raw_metrics;
        let mut out = Vec::with_capacity(periods.len());
        for p in &periods {
            let now = self.site_values(r, site, options, p.from, p.to, config.is_ecommerce())?;
            let mut row = Row::new();
            if all {
                row.insert("label".into(), json!(config.display_name()));
            }
            for m in &metrics {
                row.insert(m.column.into(), metric_value(m, now[m.source]));
            }
            if evolution {
                let before = previous_period(period, p);
                let past = self.site_values(
                    r,
                    site,
                    options,
                    before.from,
                    before.to,
                    config.is_ecommerce(),
                )?;
                let ratio = elapsed_ratio(p, &before, options.now);
                for m in &metrics {
                    let q = evolution_quotient(now[m.source], past[m.source] * ratio);
                    row.insert(
                        m.evolution.into(),
                        if raw {
                            number(q)
                        } else {
                            json!(format!("{}%", (q * 1000.0).round() / 10.0))
                        },
                    );
                    row.insert(
                        format!("{}_trend", m.evolution),
                        json!(if q > 0.0 {
                            1
                        } else if q < 0.0 {
                            -1
                        } else {
                            0
                        }),
                    );
                }
                if all {
                    row.insert("ratio".into(), number(ratio));
                    row.insert("currencySymbol".into(), json!("$"));
                    for m in &metrics {
                        row.insert(
                            format!("previous_{}", m.record),
                            metric_value(m, past[m.source]),
                        );
                    }
                    row.insert("periodName".into(), json!(period_name(period)));
                    row.insert("previousRange".into(), json!(short_range(period, &before)));
                }
            }
            if all {
                row.insert("idsite".into(), json!(site));
                row.insert("group".into(), json!(""));
                row.insert("main_url".into(), json!(config.url()));
            }
            out.push((p.label.clone(), row));
        }
        Ok((out, multi))
    }

    /// A site's additive `MultiSites` values from `from` to `to` (by
    /// [`SiteMetric::source`]), segment and section applied.
    fn site_values(
        &self,
        r: &ApiRequest,
        site: u32,
        options: &ApiOptions,
        from: NaiveDate,
        to: NaiveDate,
        ecommerce: bool,
    ) -> Result<[f64; 7]> {
        let ask = |method: &str, goal: Option<&str>| -> Result<Value> {
            let sub = ApiRequest {
                method: method.to_owned(),
                sites: Sites::One(site),
                site,
                period: "range".into(),
                date: format!("{from},{to}"),
                id_goal: goal.map(str::to_owned),
                enhanced: false,
                table: table::TableParams {
                    limit: Some(-1),
                    raw_metrics: true,
                    ..table::TableParams::default()
                },
                ..r.clone()
            };
            Ok(self
                .answer_site(&sub, methods::find(method).expect("listed"), site, options)?
                .0)
        };
        let n = |v: &Value, k: &str| v.get(k).and_then(Value::as_f64).unwrap_or(0.0);
        let visits = ask("VisitsSummary.get", None)?;
        let actions = ask("Actions.get", None)?;
        let goals = ask("Goals.get", None)?;
        let orders = if ecommerce {
            ask("Goals.get", Some("ecommerceOrder"))?
        } else {
            Value::Null
        };
        Ok([
            n(&visits, "nb_visits"),
            n(&visits, "nb_actions"),
            n(&actions, "nb_pageviews"),
            n(&goals, "revenue"),
            n(&goals, "nb_conversions"),
            n(&orders, "nb_conversions"),
            n(&orders, "revenue"),
        ])
    }

    /// `MultiSites.getAllWithGroups`: the number of sites, the totals of
    /// visits, page views, actions and revenue with the visits of the
    /// period before, that period's date, and the sites' `getAll`
    /// (`enhanced=1`) rows, `filter_limit` of them (default none, as
    /// Matomo's). Sites have no groups in hitmap.
    pub(super) fn multi_sites_with_groups(
        &self,
        r: &ApiRequest,
        options: &ApiOptions,
    ) -> Result<Keyed> {
        let period: Period = r.period.parse()?;
        let several = r.date.contains("last") || r.date.contains("previous");
        if several || (period != Period::Range && r.date.contains(',')) {
            return Err(bad(
                "Multiple periods are not supported: MultiSites.getAllWithGroups answers one period",
            ));
        }
        let ids = self.readable_sites(options);
        options.check_sites(&ids)?;
        let enhanced = ApiRequest {
            enhanced: true,
            ..r.clone()
        };
        let mut sites: Vec<Row> = Vec::new();
        let mut totals = [0.0f64; 5];
        let mut last_date = String::new();
        for &id in &ids {
            let (mut periods, _) = self.multi_sites_site(&enhanced, id, options, true)?;
            let Some((_, row)) = periods.pop() else {
                continue;
            };
            let n = |k: &str| row.get(k).and_then(Value::as_f64).unwrap_or(0.0);
            for (t, k) in totals.iter_mut().zip([
                "nb_pageviews",
                "nb_visits",
                "nb_actions",
                "revenue",
                "previous_nb_visits",
            ]) {
                *t += n(k);
            }
            if last_date.is_empty() && period != Period::Range {
                // Matomo's `lastDate`: the date asked, one period earlier
                // (`2012-08-09` by month: `2012-07-09`), else the
                // previous period's start.
                let asked = NaiveDate::parse_from_str(r.date.trim(), "%Y-%m-%d").ok();
                let earlier = asked.and_then(|d| match period {
                    Period::Day => d.checked_sub_days(chrono::Days::new(1)),
                    Period::Week => d.checked_sub_days(chrono::Days::new(7)),
                    Period::Month => d.checked_sub_months(chrono::Months::new(1)),
                    _ => d.checked_sub_months(chrono::Months::new(12)),
                });
                if let Some(d) = earlier {
                    last_date = d.to_string();
                } else if let Some(p) = self.periods(id, period, &r.date, options.now)?.0.first() {
                    last_date = previous_period(period, p).from.to_string();
                }
            }
            sites.push(row);
        }
        let wanted = match r.table.limit {
            None | Some(0) => 0,
            Some(n) if n < 0 => usize::MAX,
            Some(n) => n as usize,
        };
        let params = table::TableParams {
            limit: Some(-1),
            ..r.table.clone()
        };
        let listed = table::apply(sites, &params, &table::Spec::new(&[]))?;
        let listed: Vec<Value> = listed
            .as_array()
            .map(|a| a.iter().take(wanted).cloned().collect())
            .unwrap_or_default();
        Ok(Keyed {
            value: json!({
                "numSites": ids.len(),
                "totals": {
                    "nb_pageviews": number(totals[0]),
                    "nb_visits": number(totals[1]),
                    "nb_actions": number(totals[2]),
                    "revenue": super::goals::money(totals[3]),
                    "nb_visits_lastdate": number(totals[4]),
                },
                "lastDate": last_date,
                "sites": listed,
            }),
            keys: Vec::new(),
        })
    }

    /// `API.getProcessedReport`: a report's metadata, its rows and totals.
    pub(super) fn processed_report(
        &self,
        r: &ApiRequest,
        site: u32,
        options: &ApiOptions,
    ) -> Result<Value> {
        let (_, _, info) = asked_report(r, "UserCountry", "getCountry")?;
        let name = info.name.to_owned();
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
        let period: Period = r.period.parse()?;
        let (periods, _) = self.periods(site, period, &r.date, options.now)?;
        let pretty = periods.first().map_or_else(
            || format!("{} {}", r.period, r.date),
            |p| pretty_date(period, p),
        );
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
            "prettyDate": pretty,
            "metadata": metadata,
            "columns": columns,
            "reportData": data,
            "reportMetadata": [],
            "reportTotal": totals,
        }))
    }
}

/// A period as Matomo's `getLocalizedLongString` writes it in English:
/// `Tuesday, April 5, 2011`, `week April 4 – 10, 2011`, `April 2011`,
/// `2011`, `April 5 – May 2, 2011` (the dash between thin spaces, U+2009).
pub(super) fn pretty_date(period: Period, p: &crate::period::PeriodRange) -> String {
    use chrono::Datelike;
    let (from, to) = (p.from, p.to);
    let range = || {
        if from.year() != to.year() {
            format!(
                "{}\u{2009}–\u{2009}{}",
                from.format("%B %-d, %Y"),
                to.format("%B %-d, %Y")
            )
        } else if from.month() != to.month() {
            format!(
                "{}\u{2009}–\u{2009}{}",
                from.format("%B %-d"),
                to.format("%B %-d, %Y")
            )
        } else {
            format!(
                "{}\u{2009}–\u{2009}{}",
                from.format("%B %-d"),
                to.format("%-d, %Y")
            )
        }
    };
    match period {
        Period::Day => from.format("%A, %B %-d, %Y").to_string(),
        Period::Week => format!("week {}", range()),
        Period::Month => from.format("%B %Y").to_string(),
        Period::Year => from.format("%Y").to_string(),
        Period::Range => range(),
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

/// The report `apiModule` and `apiAction` name (`API.getProcessedReport`,
/// `API.getRowEvolution`): its module, action and method; the example
/// in the error is `module.action`.
pub(super) fn asked_report(
    r: &ApiRequest,
    module: &str,
    action: &str,
) -> Result<(String, String, &'static MethodInfo)> {
    let (m, a) = match &r.api_method {
        (Some(m), Some(a)) => (m.clone(), a.clone()),
        _ => {
            return Err(bad(format!(
                "{} needs apiModule and apiAction (e.g. apiModule={module}&apiAction={action})",
                r.method
            )));
        }
    };
    let name = format!("{m}.{a}");
    let info = methods::find(&name)
        .filter(|m| methods::is_report(m))
        .ok_or_else(|| bad(format!("{name} is not a report: see API.getReportMetadata")))?;
    Ok((m, a, info))
}

/// A metric of `MultiSites` rows.
struct SiteMetric {
    /// Its column.
    column: &'static str,
    /// Its evolution column (`_trend` appended: the trend's).
    evolution: &'static str,
    /// Matomo's record name (`previous_` + it: the period before's value).
    record: &'static str,
    /// Its place in [`Engine::site_values`]'s answer.
    source: usize,
    /// A money amount.
    money: bool,
}

const fn metric(
    column: &'static str,
    evolution: &'static str,
    record: &'static str,
    source: usize,
    money: bool,
) -> SiteMetric {
    SiteMetric {
        column,
        evolution,
        record,
        source,
        money,
    }
}

/// Matomo's `MultiSites` metrics: visits, actions, page views and goal
/// revenue; with `enhanced=1` conversions, and for ecommerce sites orders
/// and product revenue.
const SITE_METRICS: [SiteMetric; 7] = [
    metric("nb_visits", "visits_evolution", "nb_visits", 0, false),
    metric("nb_actions", "actions_evolution", "nb_actions", 1, false),
    metric(
        "nb_pageviews",
        "pageviews_evolution",
        "Actions_nb_pageviews",
        2,
        false,
    ),
    metric("revenue", "revenue_evolution", "Goal_revenue", 3, true),
    metric(
        "nb_conversions",
        "nb_conversions_evolution",
        "Goal_nb_conversions",
        4,
        false,
    ),
    metric(
        "orders",
        "orders_evolution",
        "Goal_0_nb_conversions",
        5,
        false,
    ),
    metric(
        "ecommerce_revenue",
        "ecommerce_revenue_evolution",
        "Goal_0_revenue",
        6,
        true,
    ),
];

/// A number as Matomo writes it: whole numbers without a fraction.
pub(super) fn number(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        json!(x as i64)
    } else {
        json!(x)
    }
}

fn metric_value(m: &SiteMetric, x: f64) -> Value {
    if m.money {
        super::goals::money(x)
    } else {
        json!(x as u64)
    }
}

/// Matomo's evolution quotient (`EvolutionMetric::compute`): 0 when the
/// values are equal, 1 (100%) from nothing, else the change over the
/// past value to three places.
fn evolution_quotient(now: f64, past: f64) -> f64 {
    let change = now - past;
    if change == 0.0 {
        0.0
    } else if past == 0.0 {
        1.0
    } else {
        (change / past * 1000.0).round() / 1000.0
    }
}

/// The period before `p` (Matomo's `Range::getLastDate`): the day, week,
/// month or year before, or the range of as many days just before.
pub(crate) fn previous_period(period: Period, p: &PeriodRange) -> PeriodRange {
    use chrono::{Datelike, Days, Months};
    let (from, to) = match period {
        Period::Day => (p.from - Days::new(1), p.to - Days::new(1)),
        Period::Week => (p.from - Days::new(7), p.to - Days::new(7)),
        Period::Month => {
            let from = p.from - Months::new(1);
            (from, p.from - Days::new(1))
        }
        Period::Year => (
            NaiveDate::from_ymd_opt(p.from.year() - 1, 1, 1).unwrap_or(p.from),
            NaiveDate::from_ymd_opt(p.from.year() - 1, 12, 31).unwrap_or(p.to),
        ),
        Period::Range => {
            let days = (p.to - p.from).num_days().unsigned_abs();
            let to = p.from - Days::new(1);
            (to - Days::new(days), to)
        }
    };
    PeriodRange {
        label: if from == to {
            from.to_string()
        } else {
            format!("{from},{to}")
        },
        from,
        to,
    }
}

/// Matomo's `EvolutionMetric::getRatio`: the share of the current period
/// gone by at `now` when the period is not over (the past period's value
/// is scaled by it), else 1; days as UTC, as Matomo's dates.
fn elapsed_ratio(p: &PeriodRange, before: &PeriodRange, now: DateTime<Utc>) -> f64 {
    let start = |d: NaiveDate| {
        d.and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().timestamp())
            .unwrap_or(0)
    };
    let end = |d: NaiveDate| start(d) + 86_399;
    let now = now.timestamp();
    if start(p.from) <= now && end(p.to) >= now {
        let past = (end(before.to) - start(before.from)) as f64;
        let current = (now - start(p.from)) as f64;
        ((current / past) * 1000.0).round() / 1000.0
    } else {
        1.0
    }
}

fn period_name(p: Period) -> &'static str {
    match p {
        Period::Day => "day",
        Period::Week => "week",
        Period::Month => "month",
        Period::Year => "year",
        Period::Range => "range",
    }
}

/// A `MultiSites` row's metadata (Matomo's: not columns, so
/// `showColumns` and `hideColumns` leave them; `previous_` a prefix).
const MULTI_SITES_METADATA: &[&str] = &[
    "idsite",
    "ratio",
    "currencySymbol",
    "periodName",
    "previousRange",
    "group",
    "main_url",
    "previous_",
];

/// Matomo's short English name of a period (`getLocalizedShortString`):
/// `Fri, Mar 5`, `Mar 1 – 7, 2010`, `Feb 2010`, `2009` (the dash between
/// thin spaces, U+2009, as Matomo's).
pub(crate) fn short_range(period: Period, p: &PeriodRange) -> String {
    use chrono::Datelike;
    match period {
        Period::Day => p.from.format("%a, %b %-d").to_string(),
        Period::Month => p.from.format("%b %Y").to_string(),
        Period::Year => p.from.year().to_string(),
        Period::Week | Period::Range => {
            let (a, b) = (p.from, p.to);
            if a.year() != b.year() {
                format!(
                    "{}\u{2009}–\u{2009}{}",
                    a.format("%b %-d, %Y"),
                    b.format("%b %-d, %Y")
                )
            } else if a.month() != b.month() {
                format!(
                    "{}\u{2009}–\u{2009}{}, {}",
                    a.format("%b %-d"),
                    b.format("%b %-d"),
                    a.year()
                )
            } else {
                format!(
                    "{}\u{2009}–\u{2009}{}, {}",
                    a.format("%b %-d"),
                    b.day(),
                    a.year()
                )
            }
        }
    }
}
