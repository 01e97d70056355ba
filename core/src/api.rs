//! The Matomo-style Reporting API surface: one parser and one JSON shape
//! that every host (Rust, Python, PHP, the CLI) answers with.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::period::{Period, PeriodRange};
use crate::query::{BitSet, Query, Resolved, Selection, site_sections};
use crate::render::{ApiResponse, Format, render, render_error};
use crate::report::{
    ActionReportKind, ActionRow, Dimension, DimensionRow, ReferrerPart, ReportRow, SectionRow,
    sort_rows,
};
use crate::segment::Segment;
use crate::summary::{ActionsSummary, VisitsSummary, ratio};
use crate::url::percent_decode;

/// A parsed Reporting API request.
///
/// # Examples
/// ```
/// let r = hitmap::ApiRequest::parse("method=VisitsSummary.get&idSite=1&period=day&date=today&segment=countryCode%3D%3Dgb")?;
/// assert_eq!(r.method, "VisitsSummary.get");
/// assert_eq!(r.segment.as_deref(), Some("countryCode==gb"));
/// # Ok::<(), hitmap::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApiRequest {
    /// `Module.action`.
    pub method: String,
    /// `idSite`.
    pub site: u32,
    /// `period`.
    pub period: String,
    /// `date`.
    pub date: String,
    /// `segment`, decoded once (values inside stay URL-encoded).
    pub segment: Option<String>,
    /// hitmap's `section`: a path prefix or a section name.
    pub section: Option<String>,
    /// `filter_limit` (-1 or absent: all rows).
    pub filter_limit: Option<i64>,
    /// `filter_offset`.
    pub filter_offset: usize,
    /// `filter_sort_column` (default `nb_visits`).
    pub filter_sort_column: Option<String>,
    /// `filter_sort_order`: `desc` (default) or `asc`.
    pub filter_sort_ascending: bool,
    /// `flat=1` for a flat page URL report (default: folder tree).
    pub flat: bool,
    /// `format_metrics=0` for raw ratios instead of Matomo's formatting.
    pub raw_metrics: bool,
    /// `dimension` for `CustomDimensions.getCustomDimension`.
    pub dimension: Option<String>,
    /// `format`: json (default), csv, tsv or xml.
    pub format: Format,
}

fn bad(msg: impl Into<String>) -> Error {
    Error::Request(msg.into())
}

impl ApiRequest {
    /// Parses a query string (`a=b&c=d`, URL-encoded, `+` as space).
    pub fn parse(query: &str) -> Result<ApiRequest> {
        let mut r = ApiRequest {
            period: String::new(),
            ..ApiRequest::default()
        };
        let mut site = None;
        for (key, v) in query_pairs(query) {
            match key.as_str() {
                "method" => r.method = v,
                "idSite" | "idsite" => {
                    site = Some(v.parse::<u32>().ok().filter(|s| *s > 0).ok_or_else(|| {
                        bad(format!(
                            "idSite must be one site id (a positive integer), got '{v}'"
                        ))
                    })?)
                }
                "period" => r.period = v,
                "date" => r.date = v,
                "segment" if !v.is_empty() => r.segment = Some(v),
                "section" if !v.is_empty() => r.section = Some(v),
                "filter_limit" => {
                    r.filter_limit =
                        Some(v.parse().map_err(|_| {
                            bad("filter_limit must be an integer (-1 for all rows)")
                        })?)
                }
                "filter_offset" => {
                    r.filter_offset = v
                        .parse()
                        .map_err(|_| bad("filter_offset must be a non-negative integer"))?
                }
                "filter_sort_column" if !v.is_empty() => r.filter_sort_column = Some(v),
                "filter_sort_order" => {
                    r.filter_sort_ascending = match v.as_str() {
                        "asc" => true,
                        "desc" | "" => false,
                        _ => return Err(bad("filter_sort_order must be asc or desc")),
                    }
                }
                "flat" => r.flat = v == "1",
                "format_metrics" => r.raw_metrics = v == "0",
                "dimension" | "idDimension" if !v.is_empty() => r.dimension = Some(v),
                "format" => r.format = v.parse()?,
                // Honoured as Matomo answers them: subtables come inline.
                "expanded" if v != "0" => {}
                "expanded" => {
                    return Err(bad(
                        "expanded=0 is not supported: hitmap returns subtables inline (expanded=1), or flat rows with flat=1",
                    ));
                }
                k if HARMLESS_PARAMETERS.contains(&k) || k.is_empty() => {}
                "segment" | "section" | "dimension" | "idDimension" | "filter_sort_column" => {}
                other => {
                    return Err(bad(format!(
                        "parameter '{other}' is not supported: hitmap never ignores a parameter it cannot honour. \
                         Supported: {}",
                        SUPPORTED_PARAMETERS.join(", ")
                    )));
                }
            }
        }
        if r.method.is_empty() {
            return Err(bad(
                "missing parameter 'method', e.g. method=VisitsSummary.get",
            ));
        }
        r.site = site.ok_or_else(|| bad("missing parameter 'idSite'"))?;
        if r.period.is_empty() {
            return Err(bad(
                "missing parameter 'period' (day, week, month, year or range)",
            ));
        }
        if r.date.is_empty() {
            return Err(bad(
                "missing parameter 'date' (YYYY-MM-DD, today, yesterday, lastN, previousN or A,B)",
            ));
        }
        Ok(r)
    }
}

/// Parameters a request may carry that change nothing in the answer
/// (routing, authentication, presentation hints Matomo's clients send).
pub const HARMLESS_PARAMETERS: &[&str] = &[
    "module",
    "token_auth",
    "force_api_session",
    "language",
    "translateColumnNames",
    "_",
];

/// The parameters [`ApiRequest::parse`] honours.
pub const SUPPORTED_PARAMETERS: &[&str] = &[
    "method",
    "idSite",
    "period",
    "date",
    "segment",
    "section",
    "format",
    "format_metrics",
    "filter_limit",
    "filter_offset",
    "filter_sort_column",
    "filter_sort_order",
    "flat",
    "expanded",
    "dimension (or idDimension)",
    "and, changing nothing: module, token_auth, force_api_session, language, translateColumnNames, _",
];

/// What a method reports.
enum Method {
    VisitsSummary,
    Actions,
    VisitFrequency,
    ActionReport(ActionReportKind),
    Dimension(Dimension),
    Sections,
}

fn method_of(r: &ApiRequest) -> Result<Method> {
    Ok(match r.method.as_str() {
        "VisitsSummary.get" => Method::VisitsSummary,
        "Actions.get" => Method::Actions,
        "VisitFrequency.get" => Method::VisitFrequency,
        "Actions.getPageUrls" if r.flat => Method::ActionReport(ActionReportKind::PageUrls),
        "Actions.getPageUrls" => Method::ActionReport(ActionReportKind::PageUrlTree),
        "Actions.getPageTitles" => Method::ActionReport(ActionReportKind::PageTitles),
        "Actions.getDownloads" => Method::ActionReport(ActionReportKind::Downloads),
        "Actions.getOutlinks" => Method::ActionReport(ActionReportKind::Outlinks),
        "Actions.getSiteSearchKeywords" => {
            Method::ActionReport(ActionReportKind::SiteSearchKeywords)
        }
        "DevicesDetection.getType" => Method::Dimension(Dimension::DeviceType),
        "DevicesDetection.getBrowsers" => Method::Dimension(Dimension::Browser),
        "DevicesDetection.getOsFamilies" => Method::Dimension(Dimension::OperatingSystem),
        "UserCountry.getCountry" => Method::Dimension(Dimension::Country),
        "UserLanguage.getLanguageCode" => Method::Dimension(Dimension::Language),
        "Referrers.getReferrerType" => Method::Dimension(Dimension::ReferrerType),
        "Referrers.getSearchEngines" => {
            Method::Dimension(Dimension::Referrer(ReferrerPart::SearchEngine))
        }
        "Referrers.getKeywords" => Method::Dimension(Dimension::Referrer(ReferrerPart::Keyword)),
        "Referrers.getWebsites" => Method::Dimension(Dimension::Referrer(ReferrerPart::Website)),
        "Referrers.getSocials" => Method::Dimension(Dimension::Referrer(ReferrerPart::Social)),
        "Referrers.getCampaigns" => Method::Dimension(Dimension::Referrer(ReferrerPart::Campaign)),
        "Referrers.getAIAssistants" => {
            Method::Dimension(Dimension::Referrer(ReferrerPart::AiAssistant))
        }
        "CustomDimensions.getCustomDimension" => {
            Method::Dimension(Dimension::Custom(r.dimension.clone().ok_or_else(|| {
                bad("CustomDimensions.getCustomDimension needs dimension=<name>")
            })?))
        }
        "Hitmap.getSections" => Method::Sections,
        other => {
            return Err(bad(format!(
                "unknown method '{other}': supported are {}",
                SUPPORTED_METHODS.join(", ")
            )));
        }
    })
}

/// The methods [`Engine::api`] answers.
pub const SUPPORTED_METHODS: &[&str] = &[
    "VisitsSummary.get",
    "Actions.get",
    "VisitFrequency.get",
    "Actions.getPageUrls",
    "Actions.getPageTitles",
    "Actions.getDownloads",
    "Actions.getOutlinks",
    "Actions.getSiteSearchKeywords",
    "DevicesDetection.getType",
    "DevicesDetection.getBrowsers",
    "DevicesDetection.getOsFamilies",
    "UserCountry.getCountry",
    "UserLanguage.getLanguageCode",
    "Referrers.getReferrerType",
    "Referrers.getSearchEngines",
    "Referrers.getKeywords",
    "Referrers.getWebsites",
    "Referrers.getSocials",
    "Referrers.getCampaigns",
    "Referrers.getAIAssistants",
    "CustomDimensions.getCustomDimension",
    "Hitmap.getSections",
];

impl Engine {
    /// Answers a Reporting API request (`method=...&idSite=...&period=...&date=...`)
    /// with Matomo-shaped JSON: one object (or row list) for one period, a
    /// map keyed by period label for several, `[]` for an empty period.
    /// `today` is the site's local today.
    ///
    /// Hosts that need Matomo's error shape use [`Error::to_api_json`].
    ///
    /// # Examples
    /// ```
    /// use hitmap::{Engine, Hit, SiteConfig};
    /// let mut e = Engine::in_memory();
    /// e.add_site(SiteConfig::new(1))?;
    /// e.ingest([Hit::pageview(1, 1_717_200_000, "a", "https://x.org/").with_country("gb")])?;
    /// let json = e.api("method=VisitsSummary.get&idSite=1&period=day&date=2024-06-01&segment=countryCode%3D%3Dgb")?;
    /// assert!(json.contains(r#""nb_visits":1"#));
    /// let err = e.api("method=VisitsSummary.get&idSite=1&period=day&date=2024-06-01&segment=nope%3D%3Dx").unwrap_err();
    /// assert!(err.to_string().contains("unknown segment field 'nope'"));
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn api(&self, query: &str) -> Result<String> {
        self.api_at(query, Utc::now())
    }

    /// The periods a `period` and `date` pair names for a site, with its
    /// local today taken from `now`; the flag says whether the Reporting
    /// API would answer a map of periods.
    ///
    /// # Examples
    /// ```
    /// use hitmap::{Engine, Period, SiteConfig};
    /// let mut e = Engine::in_memory();
    /// e.add_site(SiteConfig::new(1).time_zone("Pacific/Auckland"))?;
    /// let now = chrono::DateTime::from_timestamp(1_717_200_000, 0).unwrap(); // 2024-06-01 00:00 UTC
    /// let (days, multi) = e.periods(1, Period::Day, "last2", now)?;
    /// assert_eq!((days[1].label.as_str(), multi), ("2024-06-01", true)); // already noon in Auckland
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn periods(
        &self,
        site: u32,
        period: Period,
        date: &str,
        now: DateTime<Utc>,
    ) -> Result<(Vec<PeriodRange>, bool)> {
        let today = now.with_timezone(&self.site_state(site)?.tz).date_naive();
        period.expand(date, today)
    }

    /// [`Engine::api`] with an explicit "now" (for `today`, `lastN`, ...).
    pub fn api_at(&self, query: &str, now: DateTime<Utc>) -> Result<String> {
        self.api_with(query, &ApiOptions::at(now))
    }

    /// [`Engine::api`] with options: "now" and a deadline. A request still
    /// running at its deadline stops with [`Error::DeadlineExceeded`]
    /// (checked between periods and between sections), so one request
    /// cannot hold the engine, and hosts that share it, for long.
    ///
    /// # Examples
    /// ```
    /// use std::time::{Duration, Instant};
    /// use hitmap::{ApiOptions, Engine, Error, SiteConfig};
    /// let mut e = Engine::in_memory();
    /// e.add_site(SiteConfig::new(1))?;
    /// let past = ApiOptions::default().deadline(Instant::now() - Duration::from_secs(1));
    /// let err = e.api_with("method=VisitsSummary.get&idSite=1&period=day&date=last30", &past).unwrap_err();
    /// assert!(matches!(err, Error::DeadlineExceeded(_)));
    /// let soon = ApiOptions::default().timeout(Duration::from_secs(5));
    /// assert!(e.api_with("method=VisitsSummary.get&idSite=1&period=day&date=last30", &soon).is_ok());
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn api_with(&self, query: &str, options: &ApiOptions) -> Result<String> {
        let request = ApiRequest::parse(query)?;
        Ok(render(
            &self.answer_with(&request, options)?,
            request.format,
        ))
    }

    /// Answers a request as an HTTP endpoint sends it: never an `Err`,
    /// errors rendered in the requested format's error shape (Matomo's
    /// `{"result":"error","message":...}` for JSON) with a fitting status.
    ///
    /// # Examples
    /// ```
    /// use hitmap::{ApiOptions, Engine, SiteConfig};
    /// let mut e = Engine::in_memory();
    /// e.add_site(SiteConfig::new(1))?;
    /// let ok = e.api_response("method=VisitsSummary.get&idSite=1&period=day&date=2024-06-01&format=xml", &ApiOptions::default());
    /// assert_eq!((ok.status, ok.content_type), (200, "text/xml; charset=utf-8"));
    /// let err = e.api_response("method=VisitsSummary.get&idSite=9&period=day&date=today", &ApiOptions::default());
    /// assert_eq!(err.status, 404);
    /// assert!(err.body.starts_with(r#"{"result":"error","message":"site 9"#));
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn api_response(&self, query: &str, options: &ApiOptions) -> ApiResponse {
        let format = Format::of_query(query);
        match self.api_with(query, options) {
            Ok(body) => ApiResponse {
                status: 200,
                content_type: format.content_type(),
                body,
            },
            Err(e) => ApiResponse {
                status: e.http_status(),
                content_type: format.content_type(),
                body: render_error(&e, format),
            },
        }
    }

    /// Answers a parsed request as a JSON value.
    pub fn answer(&self, r: &ApiRequest, now: DateTime<Utc>) -> Result<Value> {
        self.answer_with(r, &ApiOptions::at(now))
    }

    /// Answers a parsed request as a JSON value, with options.
    ///
    /// The segment and the section are resolved once for the request, so
    /// a request over many periods costs what its days hold, not its
    /// period count times the site's dictionaries.
    pub fn answer_with(&self, r: &ApiRequest, options: &ApiOptions) -> Result<Value> {
        let method = method_of(r)?;
        let (periods, multi) = self.periods(r.site, r.period.parse()?, &r.date, options.now)?;
        let segment: Option<Segment> = r.segment.as_deref().map(str::parse).transpose()?;
        let mut q = Query::site(r.site).with_segment(segment);
        if let Some(s) = &r.section {
            q = q.section(s.clone());
        }
        let plan = match method {
            Method::Sections => {
                let resolved = self.resolve(&q.without_section())?;
                let sections = site_sections(resolved.site)?;
                Plan::Sections(resolved, sections)
            }
            _ => Plan::One(self.resolve(&q)?),
        };
        let mut answers = Vec::with_capacity(periods.len());
        for (done, p) in periods.iter().enumerate() {
            options.check(done, periods.len())?;
            answers.push(self.answer_period(
                r,
                &method,
                &plan,
                p,
                options,
                (done, periods.len()),
            )?);
        }
        if !multi {
            return answers.pop().ok_or_else(|| bad("the date names no period"));
        }
        let mut map = Map::new();
        for (p, v) in periods.iter().zip(answers) {
            map.insert(p.label.clone(), v);
        }
        Ok(Value::Object(map))
    }

    fn answer_period(
        &self,
        r: &ApiRequest,
        method: &Method,
        plan: &Plan<'_>,
        p: &PeriodRange,
        options: &ApiOptions,
        progress: (usize, usize),
    ) -> Result<Value> {
        let range = Some((p.from, p.to));
        let resolved = match plan {
            Plan::Sections(resolved, sections) => {
                let mut rows = Vec::with_capacity(sections.len());
                for (label, urls) in sections {
                    options.check(progress.0, progress.1)?;
                    let metrics = resolved
                        .with_section(urls.clone())
                        .select(range)?
                        .visits_summary();
                    rows.push(SectionRow {
                        label: label.clone(),
                        metrics,
                    });
                }
                return window(r, &mut rows, |row| {
                    let mut m = summary_json(&row.metrics, r.raw_metrics);
                    m.shift_insert(0, "label".into(), json!(row.label));
                    Value::Object(m)
                });
            }
            Plan::One(resolved) => resolved,
        };
        let sel: Selection = resolved.select(range)?;
        Ok(match method {
            Method::VisitsSummary => {
                let s = sel.visits_summary();
                if s.nb_visits == 0 {
                    json!([])
                } else {
                    Value::Object(summary_json(&s, r.raw_metrics))
                }
            }
            Method::Actions => {
                let a = sel.actions_summary();
                if a == ActionsSummary::default() {
                    json!([])
                } else {
                    serde_json::to_value(a).map_err(|e| bad(e.to_string()))?
                }
            }
            Method::VisitFrequency => {
                let f = sel.visit_frequency();
                if f.new.nb_visits + f.returning.nb_visits == 0 {
                    json!([])
                } else {
                    let mut m = Map::new();
                    for (suffix, s) in [("new", f.new), ("returning", f.returning)] {
                        for (k, v) in summary_json(&s, r.raw_metrics) {
                            m.insert(format!("{k}_{suffix}"), v);
                        }
                    }
                    Value::Object(m)
                }
            }
            Method::ActionReport(kind) => {
                let mut rows = sel.action_report(*kind);
                let pages = matches!(
                    kind,
                    ActionReportKind::PageUrls
                        | ActionReportKind::PageUrlTree
                        | ActionReportKind::PageTitles
                );
                window(r, &mut rows, |row| {
                    action_row_json(row, pages, r.raw_metrics)
                })?
            }
            Method::Dimension(d) => {
                if let Dimension::Custom(name) = d
                    && sel.site.dicts.custom_dim(name).is_none()
                {
                    let known: Vec<&str> = sel.site.dicts.custom_dim_names().collect();
                    return Err(bad(format!(
                        "site {} has no custom dimension '{name}': declare it with SiteConfig::dimension or send hits that carry it (known: {})",
                        sel.site.config.id,
                        if known.is_empty() {
                            "none".into()
                        } else {
                            known.join(", ")
                        }
                    )));
                }
                let mut rows = sel.dimension_report(d);
                window(r, &mut rows, |row| {
                    dimension_row_json(row, d, r.raw_metrics)
                })?
            }
            Method::Sections => json!([]),
        })
    }
}

/// What a request resolves to once, before its periods.
enum Plan<'e> {
    One(Resolved<'e>),
    Sections(Resolved<'e>, Vec<(String, Arc<BitSet>)>),
}

/// Options of one Reporting API request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiOptions {
    /// The instant `today`, `yesterday` and `lastN` count from.
    pub now: DateTime<Utc>,
    /// When to give up: the request then fails with
    /// [`Error::DeadlineExceeded`]. `None`: no limit.
    pub deadline: Option<Instant>,
}

impl Default for ApiOptions {
    fn default() -> ApiOptions {
        ApiOptions::at(Utc::now())
    }
}

impl ApiOptions {
    /// Options with "now" set and no deadline.
    pub fn at(now: DateTime<Utc>) -> ApiOptions {
        ApiOptions {
            now,
            deadline: None,
        }
    }

    /// Sets the deadline.
    pub fn deadline(mut self, deadline: Instant) -> ApiOptions {
        self.deadline = Some(deadline);
        self
    }

    /// Sets the deadline `budget` from now.
    pub fn timeout(self, budget: Duration) -> ApiOptions {
        match Instant::now().checked_add(budget) {
            Some(at) => self.deadline(at),
            None => self,
        }
    }

    fn check(&self, done: usize, total: usize) -> Result<()> {
        match self.deadline {
            Some(at) if Instant::now() >= at => Err(Error::DeadlineExceeded(format!(
                "the request ran out of time after {done} of {total} period(s): ask for fewer \
                 periods, a shorter range or a simpler segment, or allow more time"
            ))),
            _ => Ok(()),
        }
    }
}

/// Sorts, offsets and limits rows, then renders them.
fn window<R: ReportRow>(
    r: &ApiRequest,
    rows: &mut [R],
    render: impl Fn(&R) -> Value,
) -> Result<Value> {
    let column = r.filter_sort_column.as_deref().unwrap_or("nb_visits");
    sort_rows(rows, column, !r.filter_sort_ascending).map_err(bad)?;
    let limit = match r.filter_limit {
        Some(n) if n >= 0 => n as usize,
        _ => usize::MAX,
    };
    Ok(Value::Array(
        rows.iter()
            .skip(r.filter_offset)
            .take(limit)
            .map(render)
            .collect(),
    ))
}

fn rate(num: u64, den: u64, raw: bool) -> Value {
    let x = ratio(num, den);
    if raw {
        json!(x)
    } else {
        json!(format!("{}%", (x * 100.0).round() as i64))
    }
}

fn average(num: u64, den: u64, raw: bool, decimals: i32) -> Value {
    let x = ratio(num, den);
    if raw {
        json!(x)
    } else if decimals == 0 {
        json!(x.round() as i64)
    } else {
        let f = 10f64.powi(decimals);
        json!((x * f).round() / f)
    }
}

fn summary_json(s: &VisitsSummary, raw: bool) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("nb_uniq_visitors".into(), json!(s.nb_uniq_visitors));
    m.insert("nb_users".into(), json!(s.nb_users));
    m.insert("nb_visits".into(), json!(s.nb_visits));
    m.insert("nb_actions".into(), json!(s.nb_actions));
    m.insert("bounce_count".into(), json!(s.bounce_count));
    m.insert("sum_visit_length".into(), json!(s.sum_visit_length));
    m.insert("max_actions".into(), json!(s.max_actions));
    m.insert("bounce_rate".into(), rate(s.bounce_count, s.nb_visits, raw));
    m.insert(
        "nb_actions_per_visit".into(),
        average(s.nb_actions, s.nb_visits, raw, 1),
    );
    m.insert(
        "avg_time_on_site".into(),
        average(s.sum_visit_length, s.nb_visits, raw, 0),
    );
    m
}

fn action_row_json(row: &ActionRow, pages: bool, raw: bool) -> Value {
    let mut m = Map::new();
    m.insert("label".into(), json!(row.label));
    m.insert("nb_visits".into(), json!(row.nb_visits));
    m.insert("nb_uniq_visitors".into(), json!(row.nb_uniq_visitors));
    m.insert("nb_hits".into(), json!(row.nb_hits));
    if pages {
        m.insert("sum_time_spent".into(), json!(row.sum_time_spent));
        m.insert("entry_nb_visits".into(), json!(row.entry_nb_visits));
        m.insert("entry_bounce_count".into(), json!(row.entry_bounce_count));
        m.insert("exit_nb_visits".into(), json!(row.exit_nb_visits));
        m.insert(
            "avg_time_on_page".into(),
            average(row.sum_time_spent, row.nb_hits, raw, 0),
        );
        m.insert(
            "bounce_rate".into(),
            rate(row.entry_bounce_count, row.entry_nb_visits, raw),
        );
        m.insert(
            "exit_rate".into(),
            rate(row.exit_nb_visits, row.nb_visits, raw),
        );
    }
    if row.is_folder() {
        m.insert(
            "subtable".into(),
            Value::Array(
                row.subtable
                    .iter()
                    .map(|c| action_row_json(c, pages, raw))
                    .collect(),
            ),
        );
    }
    Value::Object(m)
}

/// Splits a query string (`a=b&c=d`, a leading `?` allowed) into decoded
/// pairs, `+` as space: how [`ApiRequest::parse`] reads its parameters,
/// for hosts that look at one before asking (a token, a site id).
///
/// # Examples
/// ```
/// let p: Vec<_> = hitmap::query_pairs("?idSite=1&segment=a%3D%3Db+c&flag").collect();
/// assert_eq!(p, [("idSite".into(), "1".into()), ("segment".into(), "a==b c".into()), ("flag".into(), String::new())]);
/// ```
pub fn query_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query
        .trim_start_matches('?')
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k, true), percent_decode(v, true))
        })
}

/// Percent-encodes a query-string value (everything but `A-Za-z0-9-_.~`),
/// as Matomo writes row segments.
///
/// # Examples
/// ```
/// assert_eq!(hitmap::encode_query_value("a==b c/é"), "a%3D%3Db%20c%2F%C3%A9");
/// ```
pub fn encode_query_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn dimension_row_json(row: &DimensionRow, d: &Dimension, raw: bool) -> Value {
    let mut m = summary_json(&row.metrics, raw);
    m.shift_insert(
        0,
        "label".into(),
        json!(row.label.as_deref().unwrap_or("Unknown")),
    );
    if matches!(d, Dimension::Referrer(_)) {
        // Segments by referrer name and keyword are not supported yet:
        // no row names a segment that would fail.
        return Value::Object(m);
    }
    m.insert(
        "segment".into(),
        json!(format!(
            "{}=={}",
            d.segment_name(),
            row.label
                .as_deref()
                .map(encode_query_value)
                .unwrap_or_default()
        )),
    );
    Value::Object(m)
}
