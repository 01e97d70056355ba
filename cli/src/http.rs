//! The HTTP front, as a pure function from a request to a response, so
//! that `hitmap serve` (axum) and a serverless handler answer the same
//! bytes. Routes:
//!
//! - `GET|POST /index.php?module=API&method=...` and `/?module=API...`:
//!   Matomo's Reporting API, exactly what [`Engine::api_response`] answers
//!   (formats json, csv, tsv, xml, html; errors in Matomo's shape).
//! - `GET /v1/sites/{id}/visits|pages|downloads|outlinks|sections|series`:
//!   the REST layout, each a thin alias of a Reporting API request
//!   (`openapi.json` documents it, served at `/openapi.json`).
//! - `GET /healthz`.
//! - `GET /` (without `module`): the dashboard (`web.rs`), and its files
//!   under `/assets/`.

use std::time::Duration;

use hitmap::{
    ApiOptions, ApiRequest, Engine, Error, Format, encode_query_value as encode, render,
    render_error,
};
use serde_json::{Value, json};

/// The OpenAPI 3 description of the REST layout.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// A request as the HTTP layer sees it.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, without the query string.
    pub path: String,
    /// The raw query string (no `?`).
    pub query: String,
    /// A form-encoded body (`POST`), or empty.
    pub body: Vec<u8>,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
}

/// What to send back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// The body.
    pub body: String,
}

impl Response {
    fn error(e: &Error, format: Format) -> Response {
        Response::error_with(e.http_status(), e, format)
    }

    fn error_with(status: u16, e: &Error, format: Format) -> Response {
        Response {
            status,
            content_type: format.content_type(),
            body: render_error(e, format),
        }
    }
}

/// Who may ask: no tokens (open), or tokens each for every site or some.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    entries: Vec<(String, Option<Vec<u32>>)>,
}

impl Tokens {
    /// Parses a token file: one token a line, optionally followed by the
    /// site ids it may read (`TOKEN 1,3`); blank lines and `#` comments
    /// are skipped.
    ///
    /// # Examples
    /// ```
    /// let t = hitmap_cli::http::Tokens::parse("# readers\nsecret-a\nsecret-b 1,3\n").unwrap();
    /// assert!(t.allows("secret-a", Some(7)));
    /// assert!(t.allows("secret-b", Some(3)) && !t.allows("secret-b", Some(2)));
    /// assert!(!t.allows("nope", Some(1)));
    /// ```
    pub fn parse(text: &str) -> Result<Tokens, String> {
        let mut entries = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut parts = line.split_whitespace();
            let token = parts.next().unwrap_or_default().to_string();
            let sites = match parts.next() {
                None => None,
                Some(list) => Some(
                    list.split(',')
                        .map(|s| s.trim().parse::<u32>())
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|_| format!("line {}: sites must be ids like 1,3", n + 1))?,
                ),
            };
            if parts.next().is_some() {
                return Err(format!("line {}: expected TOKEN [SITE,SITE...]", n + 1));
            }
            entries.push((token, sites));
        }
        if entries.is_empty() {
            return Err("the token file holds no token".into());
        }
        Ok(Tokens { entries })
    }

    /// Every configured token with its sites, for the tracking endpoint:
    /// a token writes (back-dates, sets `cip`) only the sites it reads.
    pub fn access(&self) -> Vec<hitmap_intake::track::TokenAccess> {
        self.entries
            .iter()
            .map(|(token, sites)| hitmap_intake::track::TokenAccess {
                token: token.clone(),
                sites: sites.clone(),
            })
            .collect()
    }

    /// Whether any token is configured.
    pub fn enabled(&self) -> bool {
        !self.entries.is_empty()
    }

    /// The sites `token` may read: `None` for every site (or no token
    /// restrictions configured). Every configured token is compared in
    /// constant time.
    pub fn sites_of(&self, token: &str) -> Option<Vec<u32>> {
        let mut all = false;
        let mut sites = Vec::new();
        for (t, list) in &self.entries {
            if ct_eq(t.as_bytes(), token.as_bytes()) {
                match list {
                    None => all = true,
                    Some(l) => sites.extend_from_slice(l),
                }
            }
        }
        (!all).then_some(sites)
    }

    /// Whether `token` is one of the configured tokens (for any site).
    /// Every configured token is compared in constant time.
    pub fn known(&self, token: &str) -> bool {
        self.entries.iter().fold(false, |ok, (t, _)| {
            ok | ct_eq(t.as_bytes(), token.as_bytes())
        })
    }

    /// Whether `token` may read `site` (`None`: a request naming no site).
    /// Every configured token is compared in constant time.
    pub fn allows(&self, token: &str, site: Option<u32>) -> bool {
        let mut ok = false;
        for (t, sites) in &self.entries {
            let matches = ct_eq(t.as_bytes(), token.as_bytes());
            let site_ok = match (sites, site) {
                (None, _) | (_, None) => true,
                (Some(list), Some(s)) => list.contains(&s),
            };
            ok |= matches & site_ok;
        }
        ok
    }
}

/// Compares in time that depends only on the lengths.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    for i in 0..a.len().max(b.len()) {
        diff |= a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0);
    }
    diff == 0
}

/// How the front answers.
#[derive(Debug, Clone)]
pub struct Config {
    /// Tokens; empty means open.
    pub tokens: Tokens,
    /// The longest query string plus body accepted (bytes).
    pub max_request_bytes: usize,
    /// The time budget of one request.
    pub timeout: Duration,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            tokens: Tokens::default(),
            max_request_bytes: 64 * 1024,
            timeout: Duration::from_secs(10),
        }
    }
}

/// Decoded `(key, value)` pairs of a query string, as the core reads them.
pub fn params(query: &str) -> Vec<(String, String)> {
    hitmap::query_pairs(query).collect()
}

/// The value of `key` in decoded pairs: the last one, as PHP's `$_GET`.
fn value_of<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// `/healthz`: alive, and the sites served.
pub fn healthz(sites: &[u32]) -> Response {
    Response {
        status: 200,
        content_type: "application/json; charset=utf-8",
        body: json!({"status": "ok", "sites": sites}).to_string(),
    }
}

/// The 413 for a request body over `config.max_request_bytes`, refused
/// before it is read (`hitmap serve` and the serverless handler).
pub fn body_too_large(config: &Config, query: &str) -> Response {
    let e = Error::Request(format!(
        "the request body is larger than the {} bytes this server accepts",
        config.max_request_bytes
    ));
    Response::error_with(413, &e, Format::of_query(query))
}

/// The request's parameters: its query string and a form body together.
pub fn request_query(req: &Request) -> String {
    let body = String::from_utf8_lossy(&req.body);
    match (req.query.is_empty(), body.trim().is_empty()) {
        (_, true) => req.query.clone(),
        (true, false) => body.trim().to_string(),
        (false, false) => format!("{}&{}", req.query, body.trim()),
    }
}

/// The header that says a Reporting API answer for one site is empty
/// because its periods hold no data while the site has data elsewhere.
pub const NOTE_HEADER: &str = "X-Hitmap-Note";

/// For a request of one site (`idSite=N`, `period`, `date`) whose periods
/// hold none of the site's days, a note saying which days do (the answer
/// itself stays Matomo's); `None` otherwise.
///
/// # Examples
/// ```
/// use hitmap::{Engine, Hit, SiteConfig};
/// let mut e = Engine::in_memory();
/// e.add_site(SiteConfig::new(1))?;
/// e.ingest([Hit::pageview(1, 1_717_200_000, "a", "https://x.org/")])?; // 2024-06-01
/// let note = hitmap_cli::http::no_data_note(&e, "method=VisitsSummary.get&idSite=1&period=month&date=2020-03-01");
/// assert_eq!(note.as_deref(), Some("site 1 has no data in period=month, date=2020-03-01 (it has data from 2024-06-01 to 2024-06-01)"));
/// assert_eq!(hitmap_cli::http::no_data_note(&e, "method=VisitsSummary.get&idSite=1&period=day&date=2024-06-01"), None);
/// # Ok::<(), hitmap::Error>(())
/// ```
pub fn no_data_note(engine: &Engine, query: &str) -> Option<String> {
    let params = params(query);
    let value = |key: &str| value_of(&params, key);
    let site: u32 = value("idSite").or(value("idsite"))?.trim().parse().ok()?;
    let (period, date) = (value("period")?, value("date")?);
    let days = engine.site_days(site).ok()?;
    let (first, last) = (*days.first()?, *days.last()?);
    let (periods, _) = engine
        .periods(site, period.parse().ok()?, date, chrono::Utc::now())
        .ok()?;
    let held = periods.iter().any(|p| {
        let from = days.partition_point(|d| *d < p.from);
        days.get(from).is_some_and(|d| *d <= p.to)
    });
    (!held).then(|| {
        format!(
            "site {site} has no data in period={period}, date={date} (it has data from {first} to {last})"
        )
    })
}

/// [`handle`], and for a Reporting API answer whose periods hold no data
/// of its site, the note a host sends as [`NOTE_HEADER`].
pub fn handle_with_note(
    engine: &Engine,
    config: &Config,
    req: &Request,
) -> (Response, Option<String>) {
    let r = handle(engine, config, req);
    let api = req.path.trim_end_matches('/').is_empty() || req.path == "/index.php";
    let note = (api && r.status == 200)
        .then(|| no_data_note(engine, &request_query(req)))
        .flatten();
    (r, note)
}

/// Answers one request.
pub fn handle(engine: &Engine, config: &Config, req: &Request) -> Response {
    let query = request_query(req);
    let format = Format::of_query(&query);
    if query.len() > config.max_request_bytes {
        let e = Error::Request(format!(
            "the request is {} bytes, more than the {} this server accepts",
            query.len(),
            config.max_request_bytes
        ));
        return Response::error_with(413, &e, format);
    }
    let path = req.path.trim_end_matches('/');
    match (req.method.as_str(), path) {
        ("GET" | "HEAD", "/healthz") => healthz(&engine.site_ids()),
        ("GET" | "HEAD", "/openapi.json") => Response {
            status: 200,
            content_type: "application/json; charset=utf-8",
            body: OPENAPI.to_string(),
        },
        // The dashboard: `/` asked for no API module or method.
        ("GET" | "HEAD", "")
            if !params(&query)
                .iter()
                .any(|(k, _)| k == "module" || k == "method") =>
        {
            crate::web::index()
        }
        ("GET" | "HEAD", p) if p.starts_with("/assets/") => {
            crate::web::asset(p).unwrap_or_else(|| {
                Response::error_with(
                    404,
                    &Error::Request(format!("no dashboard file '{p}'")),
                    format,
                )
            })
        }
        ("GET" | "POST", "" | "/index.php") => reporting_api(engine, config, req, &query, format),
        (_, p) if p.starts_with("/v1/") => {
            if req.method != "GET" && req.method != "HEAD" {
                return Response::error_with(405, &Error::Request("use GET".into()), format);
            }
            rest(engine, config, req, p, &query, format)
        }
        ("GET" | "POST", _) => Response::error_with(
            404,
            &Error::Request(format!(
                "no such endpoint '{}': use /index.php?module=API&method=..., /v1/sites/{{id}}/visits, or see /openapi.json",
                req.path
            )),
            format,
        ),
        _ => Response::error_with(405, &Error::Request("use GET or POST".into()), format),
    }
}

/// Checks the token of a request for a site.
/// Checks the request's token; the sites it may read (`None`: all),
/// which the engine then enforces for lists, `all` and bulk requests.
fn authorize(
    config: &Config,
    req: &Request,
    params: &[(String, String)],
    site: Option<u32>,
) -> Result<Option<Vec<u32>>, (u16, Error)> {
    if !config.tokens.enabled() {
        return Ok(None);
    }
    let bearer = req
        .authorization
        .as_deref()
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim);
    let token = value_of(params, "token_auth").or(bearer);
    match token {
        None => Err((
            401,
            Error::Request(
                "this server needs a token: pass token_auth=... or an Authorization: Bearer header"
                    .into(),
            ),
        )),
        Some(t) if config.tokens.allows(t, site) => Ok(config.tokens.sites_of(t)),
        Some(t) if !config.tokens.known(t) => Err((
            401,
            Error::Request("unknown token: check token_auth (or the Bearer header)".into()),
        )),
        Some(_) => Err((
            403,
            Error::Request(match site {
                Some(s) => format!("the token does not give access to site {s}"),
                None => "the token is not valid".into(),
            }),
        )),
    }
}

fn reporting_api(
    engine: &Engine,
    config: &Config,
    req: &Request,
    query: &str,
    format: Format,
) -> Response {
    let params = params(query);
    let value = |key: &str| value_of(&params, key);
    let site = value("idSite")
        .or(value("idsite"))
        .and_then(|s| s.parse().ok());
    let only = match authorize(config, req, &params, site) {
        Ok(only) => only,
        Err((status, e)) => return Response::error_with(status, &e, format),
    };
    match value("module") {
        Some("API") => {}
        other => {
            let e = Error::Request(format!(
                "module={} is not served here: ask module=API&method=...",
                other.unwrap_or("(missing)")
            ));
            return Response::error(&e, format);
        }
    }
    let mut options = ApiOptions::default().timeout(config.timeout);
    if let Some(sites) = only {
        options = options.only_sites(sites);
    }
    let r = engine.api_response(query, &options);
    Response {
        status: r.status,
        content_type: r.content_type,
        body: r.body,
    }
}

/// The REST layout: each route a Reporting API request.
fn rest(
    engine: &Engine,
    config: &Config,
    req: &Request,
    path: &str,
    query: &str,
    format: Format,
) -> Response {
    let params = params(query);
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (site, what) = match segments.as_slice() {
        ["v1", "sites", id, what] => match id.parse::<u32>() {
            Ok(id) if id > 0 => (id, *what),
            _ => {
                let e = Error::Request(format!("'{id}' is not a site id (a positive integer)"));
                return Response::error(&e, format);
            }
        },
        _ => {
            let e = Error::Request(format!("no such endpoint '{path}': see /openapi.json"));
            return Response::error_with(404, &e, format);
        }
    };
    if let Err((status, e)) = authorize(config, req, &params, Some(site)) {
        return Response::error_with(status, &e, format);
    }
    match rest_query(site, what, &params) {
        Ok((q, metric)) => {
            let options = ApiOptions::default().timeout(config.timeout);
            match metric {
                None => {
                    let r = engine.api_response(&q, &options);
                    Response {
                        status: r.status,
                        content_type: r.content_type,
                        body: r.body,
                    }
                }
                Some(metric) => match series(engine, &q, &metric, &options) {
                    Ok(v) => Response {
                        status: 200,
                        content_type: format.content_type(),
                        body: render(&v, format),
                    },
                    Err(e) => Response::error(&e, format),
                },
            }
        }
        Err((status, e)) => Response::error_with(status, &e, format),
    }
}

/// The metrics `/series` can follow, and the method that answers each.
const SERIES_METRICS: &[(&str, &str)] = &[
    ("nb_visits", "VisitsSummary.get"),
    ("nb_uniq_visitors", "VisitsSummary.get"),
    ("nb_users", "VisitsSummary.get"),
    ("nb_actions", "VisitsSummary.get"),
    ("bounce_count", "VisitsSummary.get"),
    ("sum_visit_length", "VisitsSummary.get"),
    ("max_actions", "VisitsSummary.get"),
    ("nb_pageviews", "Actions.get"),
    ("nb_uniq_pageviews", "Actions.get"),
    ("nb_downloads", "Actions.get"),
    ("nb_uniq_downloads", "Actions.get"),
    ("nb_outlinks", "Actions.get"),
    ("nb_uniq_outlinks", "Actions.get"),
    ("nb_searches", "Actions.get"),
    ("nb_keywords", "Actions.get"),
    ("nb_events", "Actions.get"),
];

/// The Reporting API query of a REST route, and for `/series` its metric.
/// Every parameter is honoured or refused by name.
pub fn rest_query(
    site: u32,
    what: &str,
    params: &[(String, String)],
) -> Result<(String, Option<String>), (u16, Error)> {
    let bad = |m: String| (400, Error::Request(m));
    let method = match what {
        "visits" => "VisitsSummary.get",
        "pages" => "Actions.getPageUrls",
        "downloads" => "Actions.getDownloads",
        "outlinks" => "Actions.getOutlinks",
        "sections" => "Hitmap.getSections",
        "series" => "",
        other => {
            return Err((
                404,
                Error::Request(format!(
                    "no such report '{other}': use visits, pages, downloads, outlinks, sections or series"
                )),
            ));
        }
    };
    let mut from = None;
    let mut to = None;
    let mut date = None;
    let mut period = None;
    let mut metric = None;
    let mut passed = Vec::new();
    for (k, v) in params {
        match k.as_str() {
            "from" => from = Some(v.clone()),
            "to" => to = Some(v.clone()),
            "date" => date = Some(v.clone()),
            "period" => period = Some(v.clone()),
            "metric" if what == "series" => metric = Some(v.clone()),
            "segment" | "section" | "format" | "filter_limit" | "filter_offset"
            | "filter_sort_column" | "filter_sort_order" | "format_metrics" => {
                passed.push((k.clone(), v.clone()))
            }
            "token_auth" => {}
            other => {
                return Err(bad(format!(
                    "unknown parameter '{other}' for /v1/sites/{{id}}/{what} (see /openapi.json)"
                )));
            }
        }
    }
    let date = match (from, to, date) {
        (Some(f), Some(t), None) => format!("{f},{t}"),
        (None, None, Some(d)) => d,
        (Some(f), None, None) => format!("{f},today"),
        _ => {
            return Err(bad(
                "give from=YYYY-MM-DD&to=YYYY-MM-DD (or date=...), not both".into(),
            ));
        }
    };
    let (method, metric) = if what == "series" {
        let metric =
            metric.ok_or_else(|| bad("series needs metric=, e.g. metric=nb_visits".into()))?;
        let method = SERIES_METRICS
            .iter()
            .find(|(m, _)| *m == metric)
            .map(|(_, method)| *method)
            .ok_or_else(|| {
                bad(format!(
                    "unknown metric '{metric}': use one of {}",
                    SERIES_METRICS
                        .iter()
                        .map(|(m, _)| *m)
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
        (method, Some(metric))
    } else {
        (method, None)
    };
    let period = match (period, &metric) {
        (Some(p), Some(_)) if p == "range" => {
            return Err(bad("a series needs period=day, week, month or year".into()));
        }
        (Some(p), _) => p,
        (None, Some(_)) => "day".into(),
        (None, None) => "range".into(),
    };
    let mut q = format!(
        "module=API&method={method}&idSite={site}&period={}&date={}",
        encode(&period),
        encode(&date)
    );
    if what == "pages" {
        q.push_str("&flat=1");
    }
    // The REST layout answers every row unless asked (the Reporting API's
    // default is Matomo's 100).
    if !passed.iter().any(|(k, _)| k == "filter_limit") {
        q.push_str("&filter_limit=-1");
    }
    for (k, v) in passed {
        if metric.is_some() && k == "format" {
            continue;
        }
        q.push_str(&format!("&{k}={}", encode(&v)));
    }
    if metric.is_some() {
        q.push_str("&format_metrics=0");
    }
    Ok((q, metric))
}

/// `/series`: one `{date, value}` row per period.
fn series(engine: &Engine, q: &str, metric: &str, options: &ApiOptions) -> Result<Value, Error> {
    let request = ApiRequest::parse(q)?;
    let answer = engine.answer_with(&request, options)?;
    let Value::Object(map) = answer else {
        return Err(Error::Request("a series needs several periods".into()));
    };
    Ok(Value::Array(
        map.iter()
            .map(|(date, v)| {
                let value = v.get(metric).cloned().unwrap_or(json!(0));
                json!({"date": date, "value": value})
            })
            .collect(),
    ))
}
