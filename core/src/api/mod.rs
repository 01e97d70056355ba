//! The Matomo-style Reporting API surface: one parser and one answer
//! shape that every host (Rust, Python, PHP, the CLI, the server) uses.
//!
//! - `mod.rs`: the request, its parameters, and answering it over sites
//!   and periods;
//! - `methods.rs`: the table of methods and their metadata;
//! - `rows.rs`: each report's rows in Matomo's shape;
//! - `visits.rs`: `Live.*` (visits with their actions);
//! - `typed.rs`: typed rows for answers the generic filters would pass
//!   through (written as JSON, or as Arrow columns by `Engine::api_arrow`);
//! - `global.rs`: methods about the installation (sites, versions, bulk
//!   requests, report metadata);
//! - the generic filters (`filter_limit`, `label`, `flat`, ...) are
//!   `table.rs`'s, the output formats `render.rs`'s.

mod compare;
mod evolution;
mod global;
mod goals;
mod methods;
mod rows;
mod transitions;
mod typed;
#[cfg(all(test, feature = "arrow"))]
pub(crate) use typed::typed_tests;
mod visits;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value, json};

use crate::engine::{Engine, SiteState};
use crate::error::{Error, Result};
use crate::hit::HitType;
use crate::period::{Period, PeriodRange};
use crate::query::{Query, Resolved, SectionSet, Selection, site_sections};
use crate::render::{ApiResponse, Format, render_error, render_keyed};
use crate::report::{ActionReportKind, Dimension, SectionRow, sort_rows};
use crate::segment::Segment;
use crate::summary::ActionsSummary;
use crate::table::{self, Row, Spec};
use crate::url::percent_decode;
use crate::visit_key::VisitGroup;
use goals::GoalColumns;
use methods::{Kind, MethodInfo, Needs};

pub use crate::table::{DEFAULT_LIMIT, TableParams};
#[cfg(feature = "arrow")]
pub(crate) use typed::ActionTable;

/// The Matomo version whose Reporting API hitmap follows
/// (`API.getMatomoVersion`).
///
/// # Examples
/// ```
/// let e = hitmap::Engine::in_memory();
/// assert_eq!(e.api("method=API.getMatomoVersion")?, format!(r#"{{"value":"{}"}}"#, hitmap::MATOMO_API_VERSION));
/// # Ok::<(), hitmap::Error>(())
/// ```
pub const MATOMO_API_VERSION: &str = "5.1.0";

/// Which sites a request names.
///
/// # Examples
/// ```
/// use hitmap::{ApiRequest, Sites};
/// let r = ApiRequest::parse("method=VisitsSummary.get&idSite=1,3&period=day&date=today")?;
/// assert_eq!(r.sites, Sites::List(vec![1, 3]));
/// assert_eq!(ApiRequest::parse("method=VisitsSummary.get&idSite=all")?.sites, Sites::All);
/// # Ok::<(), hitmap::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Sites {
    /// No `idSite`.
    #[default]
    None,
    /// One site: the answer is that site's.
    One(u32),
    /// `idSite=1,3,7`: a map keyed by site.
    List(Vec<u32>),
    /// `idSite=all`: every site, as a map keyed by site.
    All,
}

/// A parsed Reporting API request.
///
/// # Examples
/// ```
/// let r = hitmap::ApiRequest::parse("method=VisitsSummary.get&idSite=1&period=day&date=today&segment=countryCode%3D%3Dgb")?;
/// assert_eq!(r.method, "VisitsSummary.get");
/// assert_eq!(r.segment.as_deref(), Some("countryCode==gb"));
/// assert_eq!(r.site, 1);
/// # Ok::<(), hitmap::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApiRequest {
    /// `Module.action`.
    pub method: String,
    /// `idSite` as given.
    pub sites: Sites,
    /// The site when `idSite` names one (else 0).
    pub site: u32,
    /// `period`.
    pub period: String,
    /// `date`.
    pub date: String,
    /// `segment`, decoded once (values inside stay URL-encoded).
    pub segment: Option<String>,
    /// hitmap's `section`: a path prefix or a section name.
    pub section: Option<String>,
    /// The generic filters (`filter_*`, `label`, `flat`, `expanded`,
    /// `idSubtable`, `showColumns`, `hideColumns`, `format_metrics`).
    pub table: TableParams,
    /// `dimension` (hitmap: a custom dimension by name).
    pub dimension: Option<String>,
    /// `idDimension` (Matomo: a custom dimension by number).
    pub id_dimension: Option<u32>,
    /// `pageUrl` for `Actions.getPageUrl`.
    pub page_url: Option<String>,
    /// `pageName` for `Actions.getPageTitle`.
    pub page_name: Option<String>,
    /// `downloadUrl` for `Actions.getDownload`.
    pub download_url: Option<String>,
    /// `outlinkUrl` for `Actions.getOutlink`.
    pub outlink_url: Option<String>,
    /// `visitorId` for `Live.getVisitorProfile`.
    pub visitor_id: Option<String>,
    /// `lastMinutes` for `Live.getCounters`.
    pub last_minutes: Option<i64>,
    /// `minTimestamp` for `Live.getLastVisitsDetails`: visits whose last
    /// action is later.
    pub min_timestamp: Option<i64>,
    /// `doNotFetchActions=1` for `Live.getLastVisitsDetails`: visits
    /// without their `actionDetails`.
    pub do_not_fetch_actions: bool,
    /// `pageTitle` for `Transitions.getTransitionsForPageTitle`.
    pub page_title: Option<String>,
    /// `actionName` and `actionType` (`url` or `title`) for
    /// `Transitions.getTransitionsForAction`.
    pub action_name: Option<String>,
    /// See `action_name`.
    pub action_type: Option<String>,
    /// `limitBeforeGrouping` for Transitions: rows before `Others`.
    pub limit_before_grouping: Option<usize>,
    /// `parts` for Transitions.
    pub transitions_parts: Option<String>,
    /// `enhanced=1` for `MultiSites`: conversions, orders and product
    /// revenue too, and sites without visits.
    pub enhanced: bool,
    /// `pattern` for `MultiSites`: the sites whose name matches it (a
    /// regular expression, regardless of case, as Matomo's).
    pub sites_pattern: Option<String>,
    /// `urls[N]` for `API.getBulkRequest`, in index order.
    pub urls: Vec<String>,
    /// `apiModule` and `apiAction` for `API.getProcessedReport`.
    pub api_method: (Option<String>, Option<String>),
    /// `format`: json (default), csv, tsv, xml or html.
    pub format: Format,
    /// `idGoal` for `Goals.get`: a goal id.
    pub id_goal: Option<String>,
    /// `abandonedCarts=1`: the products reports show abandoned carts.
    pub abandoned_carts: bool,
    /// `segmentName`: the segment `API.getSuggestedValuesForSegment` asks
    /// about.
    pub segment_name: Option<String>,
    /// `filter_update_columns_when_show_all_goals`: a visit report's
    /// processed goal metrics.
    pub goal_columns: Option<String>,
    /// `filter_show_goal_columns_process_goals`: goal ids whose columns
    /// the processed goal metrics add.
    pub goal_process: Vec<String>,
    /// `compare=1`: rows get Matomo's `comparisons` with the series of
    /// `compare_segments` and of `compare_dates`/`compare_periods`.
    pub compare: bool,
    /// `compareSegments[]`: segments compared with the request's.
    pub compare_segments: Vec<String>,
    /// `compareDates[]`: dates compared with the request's, each with
    /// the period of the same place in `compare_periods`.
    pub compare_dates: Vec<String>,
    /// `comparePeriods[]`.
    pub compare_periods: Vec<String>,
    /// `invert_compare_change_compute=1`: with two compared periods, the
    /// changes run from the second period's series to the first's.
    pub invert_compare: bool,
    /// `showAllGoalSpecificMetrics=1` of `Goals.get` and `getMetrics`
    /// without `idGoal`: each goal's columns too.
    pub all_goal_metrics: bool,
    /// `secondaryDimension` of an events report: what its subtables group
    /// by (`eventCategory`, `eventAction` or `eventName`).
    pub secondary_dimension: Option<String>,
    /// Whether `columns` was given (the metrics of `API.get`,
    /// `VisitsSummary.get`, `Goals.get`, ...: it sets `showColumns`).
    pub columns: bool,
}

/// Which of Matomo's comparison lists a parameter adds to
/// (`compareSegments[]`, `compareSegments[0]`, ...).
enum CompareList {
    Segments,
    Dates,
    Periods,
}

fn compare_list(key: &str) -> Option<CompareList> {
    let (name, rest) = key.split_once('[')?;
    if !rest.ends_with(']') || !rest[..rest.len() - 1].bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(match name {
        "compareSegments" => CompareList::Segments,
        "compareDates" => CompareList::Dates,
        "comparePeriods" => CompareList::Periods,
        _ => return None,
    })
}

/// The part an events report's subtables group by: its
/// `secondaryDimension`, else `default` (Matomo's for the report).
fn secondary(
    r: &ApiRequest,
    by: crate::visit_key::EventPart,
    default: crate::visit_key::EventPart,
) -> Result<crate::visit_key::EventPart> {
    use crate::visit_key::EventPart;
    let Some(name) = r.secondary_dimension.as_deref() else {
        return Ok(default);
    };
    // Matomo's order (Events' API): the default first.
    let others = match by {
        EventPart::Category => [EventPart::Action, EventPart::Name],
        EventPart::Action => [EventPart::Name, EventPart::Category],
        EventPart::Name => [EventPart::Action, EventPart::Category],
    };
    if let Some(part) = others.into_iter().find(|p| rows::event_segment(*p) == name) {
        return Ok(part);
    }
    let valid: Vec<&str> = others.into_iter().map(rows::event_segment).collect();
    // Matomo's words: "Secondary dimension 'x' is not valid for the API
    // getAction. Use one of: eventName, eventCategory".
    let action = r
        .method
        .split_once('.')
        .map_or(r.method.as_str(), |(_, a)| a);
    Err(bad(format!(
        "Secondary dimension '{name}' is not valid for the API {action}. Use one of: {}",
        valid.join(", ")
    )))
}

/// A row of `Referrers.getUrlsForSocial` as Matomo's: labelled by its
/// URL without the scheme, the whole URL as `url` (other subtables'
/// rows stay as they are).
fn social_url_row(of: methods::SubtableOf, m: &mut table::Row) {
    if of.parent != "Referrers.getSocials" {
        return;
    }
    let Some(url) = m.get("label").and_then(Value::as_str).map(str::to_owned) else {
        return;
    };
    let bare = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .unwrap_or(&url)
        .to_owned();
    m.insert("label".into(), json!(bare));
    m.insert("url".into(), json!(url));
}

fn bad(msg: impl Into<String>) -> Error {
    Error::Request(msg.into())
}

fn integer<T: std::str::FromStr>(v: &str, what: &str) -> Result<T> {
    v.parse().map_err(|_| bad(format!("{what}, got '{v}'")))
}

fn site_id(v: &str) -> Result<u32> {
    v.trim()
        .parse::<u32>()
        .ok()
        .filter(|s| *s > 0)
        .ok_or_else(|| bad(format!("idSite must be a site id (a positive integer), a list such as 1,3,7, or all; got '{v}'")))
}

fn list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl ApiRequest {
    /// Parses a query string (`a=b&c=d`, URL-encoded, `+` as space).
    /// Every parameter is honoured or refused by name: a parameter hitmap
    /// cannot honour is an error, never silently ignored.
    pub fn parse(query: &str) -> Result<ApiRequest> {
        let mut r = ApiRequest::default();
        let mut urls: Vec<(usize, String)> = Vec::new();
        for (key, v) in query_pairs(query) {
            let t = &mut r.table;
            match key.as_str() {
                "method" => r.method = v,
                "idSite" | "idsite" => {
                    r.sites = if v == "all" {
                        Sites::All
                    } else if v.contains(',') {
                        Sites::List(
                            v.split(',')
                                .filter(|s| !s.trim().is_empty())
                                .map(site_id)
                                .collect::<Result<_>>()?,
                        )
                    } else {
                        Sites::One(site_id(&v)?)
                    };
                }
                "period" => r.period = v,
                "date" => r.date = v,
                "segment" if !v.is_empty() => r.segment = Some(v),
                "section" if !v.is_empty() => r.section = Some(v),
                "filter_limit" => {
                    t.limit = Some(integer(
                        &v,
                        "filter_limit must be an integer (-1 for all rows)",
                    )?)
                }
                "filter_offset" => {
                    t.offset = integer(&v, "filter_offset must be a non-negative integer")?
                }
                "filter_sort_column" if !v.is_empty() => t.sort_column = Some(v),
                "filter_sort_order" => {
                    t.ascending = match v.as_str() {
                        "asc" => true,
                        "desc" | "" => false,
                        _ => return Err(bad("filter_sort_order must be asc or desc")),
                    }
                }
                "filter_pattern" if !v.is_empty() => t.pattern = Some(v),
                "filter_pattern_recursive" if !v.is_empty() => t.pattern_recursive = Some(v),
                "filter_column" if !v.is_empty() => t.pattern_column = Some(v),
                "filter_excludelowpop" if !v.is_empty() => t.excludelowpop = Some(v),
                "filter_excludelowpop_value" if !v.is_empty() => {
                    t.excludelowpop_value =
                        Some(integer(&v, "filter_excludelowpop_value must be a number")?)
                }
                "filter_truncate" if !v.is_empty() => {
                    t.truncate = Some(integer(
                        &v,
                        "filter_truncate must be a non-negative integer",
                    )?)
                }
                "showColumns" => t.show_columns = list(&v),
                // Matomo's `columns` of the single-row getters: those
                // metrics, with their new- and returning-visit forms.
                "columns" if !v.is_empty() => {
                    r.columns = true;
                    for c in list(&v) {
                        t.show_columns.push(format!("{c}_new_visit"));
                        t.show_columns.push(format!("{c}_returning_visit"));
                        t.show_columns.push(c);
                    }
                }
                "hideColumns" => t.hide_columns = list(&v),
                "label" => t.labels.extend(list(&v)),
                "label[]" if !v.is_empty() => t.labels.push(v),
                "idSubtable" if !v.is_empty() => {
                    t.id_subtable = Some(integer(
                        &v,
                        "idSubtable must be a subtable id (a positive integer)",
                    )?)
                }
                "flat" => t.flat = v == "1",
                "expanded" => t.expanded = v == "1",
                "format_metrics" => t.raw_metrics = v == "0",
                "filter_add_columns_when_show_all_columns" => {
                    t.add_columns = !v.is_empty() && v != "0"
                }
                "dimension" if !v.is_empty() => r.dimension = Some(v),
                "idDimension" if !v.is_empty() => {
                    r.id_dimension = Some(integer(&v, "idDimension must be a positive integer")?)
                }
                "idGoal" if !v.is_empty() => r.id_goal = Some(v),
                "abandonedCarts" => r.abandoned_carts = v == "1",
                "showAllGoalSpecificMetrics" => r.all_goal_metrics = !v.is_empty() && v != "0",
                "segmentName" if !v.is_empty() => r.segment_name = Some(v),
                "secondaryDimension" if !v.is_empty() => r.secondary_dimension = Some(v),
                "filter_update_columns_when_show_all_goals" if !v.is_empty() => {
                    r.goal_columns = Some(v)
                }
                "filter_show_goal_columns_process_goals" => {
                    r.goal_process = v.split(',').map(str::to_owned).collect()
                }
                "pageUrl" if !v.is_empty() => r.page_url = Some(v),
                "pageName" if !v.is_empty() => r.page_name = Some(v),
                "downloadUrl" if !v.is_empty() => r.download_url = Some(v),
                "outlinkUrl" if !v.is_empty() => r.outlink_url = Some(v),
                "visitorId" if !v.is_empty() => r.visitor_id = Some(v),
                "enhanced" => r.enhanced = v == "1" || v == "true",
                "pattern" if !v.is_empty() => r.sites_pattern = Some(v),
                "minTimestamp" if !v.is_empty() => {
                    r.min_timestamp =
                        Some(integer(&v, "minTimestamp must be a unix time in seconds")?)
                }
                "doNotFetchActions" => r.do_not_fetch_actions = v == "1" || v == "true",
                "pageTitle" if !v.is_empty() => r.page_title = Some(v),
                "actionName" if !v.is_empty() => r.action_name = Some(v),
                "actionType" if !v.is_empty() => r.action_type = Some(v),
                "limitBeforeGrouping" if !v.is_empty() => {
                    r.limit_before_grouping = Some(integer(
                        &v,
                        "limitBeforeGrouping must be a non-negative integer",
                    )?)
                }
                "parts" if !v.is_empty() => r.transitions_parts = Some(v),
                "lastMinutes" if !v.is_empty() => {
                    r.last_minutes = Some(integer(
                        &v,
                        "lastMinutes must be a number of minutes (1 to 2880)",
                    )?)
                }
                "apiModule" => r.api_method.0 = Some(v),
                "apiAction" => r.api_method.1 = Some(v),
                "format" => r.format = v.parse()?,
                "compare" => r.compare = v == "1",
                "invert_compare_change_compute" => r.invert_compare = v == "1",
                k if compare_list(k).is_some() => {
                    let list = match compare_list(k) {
                        Some(CompareList::Segments) => &mut r.compare_segments,
                        Some(CompareList::Dates) => &mut r.compare_dates,
                        _ => &mut r.compare_periods,
                    };
                    list.push(v);
                }
                k if k.starts_with("urls[") && k.ends_with(']') => {
                    let i: usize = integer(&k[5..k.len() - 1], "urls[N] needs a number N")?;
                    urls.push((i, v));
                }
                k if HARMLESS_PARAMETERS.contains(&k) || k.is_empty() => {}
                "segment"
                | "section"
                | "filter_sort_column"
                | "filter_pattern"
                | "filter_pattern_recursive"
                | "filter_column"
                | "filter_excludelowpop"
                | "filter_excludelowpop_value"
                | "filter_truncate"
                | "label[]"
                | "idSubtable"
                | "dimension"
                | "idDimension"
                | "idGoal"
                | "filter_update_columns_when_show_all_goals"
                | "pageUrl"
                | "pageName"
                | "visitorId"
                | "lastMinutes"
                | "minTimestamp"
                | "pageTitle"
                | "actionName"
                | "actionType"
                | "limitBeforeGrouping"
                | "parts" => {}
                other => {
                    return Err(bad(format!(
                        "parameter '{other}' is not supported: hitmap never ignores a parameter it cannot honour. \
                         Supported: {}",
                        SUPPORTED_PARAMETERS.join(", ")
                    )));
                }
            }
        }
        urls.sort_by_key(|(i, _)| *i);
        r.urls = urls.into_iter().map(|(_, u)| u).collect();
        if let Sites::One(s) = r.sites {
            r.site = s;
        }
        if r.method.is_empty() {
            return Err(bad(
                "missing parameter 'method', e.g. method=VisitsSummary.get",
            ));
        }
        if r.table.flat {
            r.table.flat_dimensions =
                methods::flat_dimensions(&r.method, r.secondary_dimension.as_deref());
        }
        // Matomo's: `label` drops `expanded` (the rows it finds come
        // with their subtable's id, not the subtable).
        if !r.table.labels.is_empty() {
            r.table.expanded = false;
        }
        Ok(r)
    }

    /// Parameters that belong to one method are an error on another.
    fn check_method_parameters(&self, info: &MethodInfo) -> Result<()> {
        let k = info.kind;
        let misplaced = [
            ("urls[N]", !self.urls.is_empty(), k == Kind::Bulk),
            (
                "pageUrl",
                self.page_url.is_some(),
                k == Kind::OnePage { titles: false } || k == Kind::Transitions,
            ),
            (
                "pageTitle",
                self.page_title.is_some(),
                k == Kind::Transitions,
            ),
            (
                "actionName",
                self.action_name.is_some(),
                k == Kind::Transitions,
            ),
            (
                "actionType",
                self.action_type.is_some(),
                k == Kind::Transitions,
            ),
            (
                "limitBeforeGrouping",
                self.limit_before_grouping.is_some(),
                k == Kind::Transitions,
            ),
            (
                "parts",
                self.transitions_parts.is_some(),
                k == Kind::Transitions,
            ),
            (
                "pageName",
                self.page_name.is_some(),
                k == Kind::OnePage { titles: true },
            ),
            (
                "downloadUrl",
                self.download_url.is_some(),
                k == Kind::OneLink { outlink: false },
            ),
            (
                "outlinkUrl",
                self.outlink_url.is_some(),
                k == Kind::OneLink { outlink: true },
            ),
            (
                "visitorId",
                self.visitor_id.is_some(),
                k == Kind::VisitorProfile,
            ),
            (
                "lastMinutes",
                self.last_minutes.is_some(),
                k == Kind::LiveCounters,
            ),
            (
                "enhanced",
                self.enhanced,
                matches!(k, Kind::MultiSites { .. }),
            ),
            (
                "pattern",
                self.sites_pattern.is_some(),
                matches!(k, Kind::MultiSites { .. }),
            ),
            (
                "minTimestamp",
                self.min_timestamp.is_some(),
                k == Kind::LastVisits,
            ),
            (
                "doNotFetchActions",
                self.do_not_fetch_actions,
                k == Kind::LastVisits,
            ),
            (
                "apiModule/apiAction",
                self.api_method != (None, None),
                matches!(k, Kind::ProcessedReport | Kind::RowEvolution),
            ),
            (
                "idGoal",
                self.id_goal.is_some(),
                matches!(
                    k,
                    Kind::Goals
                        | Kind::GoalMetrics
                        | Kind::Scalar(
                            methods::Scalar::Goals(_) | methods::Scalar::ConversionRates
                        )
                        | Kind::VisitsUntilConversion
                        | Kind::DaysToConversion
                        | Kind::GoalDefinition
                ) || (self.goal_columns.is_some() && goals::goal_rows_of(k).is_some())
                    // Matomo's goals-by-page view sends it to the page
                    // reports, whose rows carry every goal's cells (with
                    // filter_update_columns_when_show_all_goals it chooses
                    // the processed metrics).
                    || goals::page_rows_of(k).is_some(),
            ),
            (
                "abandonedCarts",
                self.abandoned_carts,
                matches!(k, Kind::Items(_)),
            ),
            (
                "showAllGoalSpecificMetrics",
                self.all_goal_metrics,
                matches!(k, Kind::Goals | Kind::GoalMetrics),
            ),
            (
                "columns",
                self.columns,
                matches!(
                    k,
                    Kind::ApiGet
                        | Kind::VisitsSummary
                        | Kind::Actions
                        | Kind::VisitFrequency
                        | Kind::Goals
                        | Kind::ReferrersGet
                ),
            ),
            (
                "segmentName",
                self.segment_name.is_some(),
                k == Kind::SuggestedValues,
            ),
            (
                "secondaryDimension",
                self.secondary_dimension.is_some(),
                matches!(k, Kind::Events(..)),
            ),
            (
                "filter_update_columns_when_show_all_goals",
                self.goal_columns.is_some() || !self.goal_process.is_empty(),
                goals::goal_rows_of(k).is_some() || goals::page_rows_of(k).is_some(),
            ),
            (
                "idDimension/dimension",
                self.id_dimension.is_some() || self.dimension.is_some(),
                k == Kind::Custom || k == Kind::ProcessedReport,
            ),
        ];
        match misplaced.iter().find(|(_, given, fits)| *given && !*fits) {
            Some((name, _, _)) => Err(bad(format!(
                "parameter '{name}' does not apply to {}: hitmap never ignores a parameter it cannot honour",
                self.method
            ))),
            None => Ok(()),
        }
    }

    fn require(&self, needs: Needs) -> Result<()> {
        if matches!(needs, Needs::Report | Needs::Site) && self.sites == Sites::None {
            return Err(bad("missing parameter 'idSite'"));
        }
        if matches!(needs, Needs::Report | Needs::Period) {
            if self.period.is_empty() {
                return Err(bad(
                    "missing parameter 'period' (day, week, month, year or range)",
                ));
            }
            if self.date.is_empty() {
                return Err(bad(
                    "missing parameter 'date' (YYYY-MM-DD, today, yesterday, lastN, previousN or A,B)",
                ));
            }
        }
        Ok(())
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
    "idSites",
    "_",
];

/// The parameters [`ApiRequest::parse`] honours.
pub const SUPPORTED_PARAMETERS: &[&str] = &[
    "method",
    "idSite (one id, 1,3,7 or all)",
    "period",
    "date",
    "segment",
    "section",
    "format",
    "format_metrics",
    "filter_add_columns_when_show_all_columns",
    "filter_limit",
    "filter_offset",
    "filter_sort_column",
    "filter_sort_order",
    "filter_pattern",
    "filter_pattern_recursive",
    "filter_column",
    "filter_excludelowpop",
    "filter_excludelowpop_value",
    "filter_truncate",
    "showColumns",
    "hideColumns",
    "columns (API.get, VisitsSummary.get, Actions.get, VisitFrequency.get, Goals.get, Referrers.get)",
    "label",
    "idSubtable",
    "flat",
    "expanded",
    "idDimension",
    "dimension",
    "idGoal",
    "abandonedCarts",
    "showAllGoalSpecificMetrics",
    "segmentName",
    "filter_update_columns_when_show_all_goals",
    "filter_show_goal_columns_process_goals",
    "pageUrl",
    "pageName",
    "visitorId",
    "lastMinutes",
    "minTimestamp",
    "doNotFetchActions",
    "enhanced",
    "pattern",
    "pageTitle",
    "actionName",
    "actionType",
    "limitBeforeGrouping",
    "parts",
    "apiModule",
    "apiAction",
    "urls[N]",
    "compare",
    "compareSegments[]",
    "compareDates[]",
    "comparePeriods[]",
    "invert_compare_change_compute",
    "and, changing nothing: module, token_auth, force_api_session, language, translateColumnNames, idSites, _",
];

/// `Referrers.get`'s channels: the name in its columns and the row of
/// `Referrers.getReferrerType`, in Matomo's order.
const REFERRERS_CHANNELS: [(&str, &str); 5] = [
    ("SearchEngines", "Search Engines"),
    ("SocialNetworks", "Social Networks"),
    ("DirectEntry", "Direct Entry"),
    ("Websites", "Websites"),
    ("Campaigns", "Campaigns"),
];

/// `Referrers.get`'s distinct counts: the name in its columns and the
/// report whose rows they are (flat or not).
const REFERRERS_DISTINCT: [(&str, &str, bool); 6] = [
    ("SearchEngines", "Referrers.getSearchEngines", false),
    ("SocialNetworks", "Referrers.getSocials", false),
    ("Keywords", "Referrers.getKeywords", false),
    ("Websites", "Referrers.getWebsites", false),
    ("WebsitesUrls", "Referrers.getWebsites", true),
    ("Campaigns", "Referrers.getCampaigns", false),
];

/// A scalar getter's number from its source report's answer for one
/// period (`[]`: no data, 0), taken with raw metrics; rates formatted
/// unless `raw`.
fn scalar_of(s: methods::Scalar, v: &Value, raw: bool) -> Value {
    match s {
        methods::Scalar::Summary(column, pretty) => {
            let n = v.get(column).and_then(Value::as_f64).unwrap_or(0.0);
            if pretty {
                json!(pretty_seconds(n as u64))
            } else {
                v.get(column).cloned().unwrap_or(json!(0))
            }
        }
        methods::Scalar::Rows(_) => json!(v.as_array().map_or(0, Vec::len)),
        methods::Scalar::Goals(column) => v.get(column).cloned().unwrap_or(json!(0)),
        methods::Scalar::ConversionRates => Value::Object(
            ["", "_new_visit", "_returning_visit"]
                .iter()
                .map(|suffix| {
                    let k = format!("conversion_rate{suffix}");
                    let x = v.get(&k).and_then(Value::as_f64).unwrap_or(0.0);
                    (k, goals::conversion_rate(x, raw))
                })
                .collect(),
        ),
    }
}

/// A whole number with Matomo's thousands separators (`1,033`).
pub(super) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Seconds as Matomo's sentence (`9 min 11s`, `2 hours 5 min`, `3 days 4
/// hours`, `1 years 2 days`).
pub(super) fn pretty_seconds(s: u64) -> String {
    let year = 31_557_600; // 365.25 days
    let (years, days) = (s / year, (s % year) / 86_400);
    let (hours, minutes, seconds) = ((s % 86_400) / 3600, (s % 3600) / 60, s % 60);
    if years > 0 {
        format!("{years} years {days} days")
    } else if days > 0 {
        format!("{days} days {hours} hours")
    } else if hours > 0 {
        format!("{hours} hours {minutes} min")
    } else if minutes > 0 {
        format!("{minutes} min {seconds}s")
    } else {
        format!("{seconds}s")
    }
}

/// The methods [`Engine::api`] answers.
///
/// # Examples
/// ```
/// let methods = hitmap::supported_methods();
/// assert!(methods.contains(&"Events.getCategory") && methods.contains(&"API.getBulkRequest"));
/// assert!(!methods.contains(&"DevicesDetection.getBrowserFamilies")); // refused by name
/// ```
pub fn supported_methods() -> Vec<&'static str> {
    methods::METHODS
        .iter()
        .filter(|m| !matches!(m.kind, Kind::Refused(_)))
        .map(|m| m.name)
        .collect()
}

fn method(name: &str) -> Result<&'static MethodInfo> {
    let info = methods::find(name).ok_or_else(|| {
        bad(format!(
            "unknown method '{name}': supported are {}",
            supported_methods().join(", ")
        ))
    })?;
    if let Kind::Refused(why) = info.kind {
        return Err(bad(format!("{name} is not supported: {why}")));
    }
    Ok(info)
}

/// An answer and the names of its map levels (`idSite`, `date`).
pub(crate) struct Keyed {
    pub value: Value,
    pub keys: Vec<&'static str>,
}

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
        if request.format == Format::Json
            && let Some(table) = self.action_table(&request, options)
        {
            return Ok(table.to_json());
        }
        let answer = self.answer_keyed(&request, options)?;
        Ok(render_keyed(&answer.value, request.format, &answer.keys))
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
        Ok(self.answer_keyed(r, options)?.value)
    }

    pub(crate) fn answer_keyed(&self, r: &ApiRequest, options: &ApiOptions) -> Result<Keyed> {
        let info = method(&r.method)?;
        r.require(info.kind.needs())?;
        r.check_method_parameters(info)?;
        let plain = |value| {
            Ok(Keyed {
                value,
                keys: Vec::new(),
            })
        };
        match info.kind {
            Kind::Version => return plain(json!(MATOMO_API_VERSION)),
            Kind::Bulk => return plain(self.bulk(r, options)?),
            Kind::ReportMetadata => return plain(global::report_metadata()),
            Kind::Sites { one: false } => {
                return plain(self.sites_json(&self.readable_sites(options)));
            }
            Kind::SiteIds => return plain(json!(self.readable_sites(options))),
            Kind::MultiSites { one: false } => return self.multi_sites(r, options),
            Kind::MultiSitesGroups => return self.multi_sites_with_groups(r, options),
            _ => {}
        }
        let (sites, multi_site) = match &r.sites {
            Sites::One(s) => (vec![*s], false),
            Sites::List(l) => (l.clone(), true),
            Sites::All => (self.readable_sites(options), true),
            Sites::None => return Err(bad("missing parameter 'idSite'")),
        };
        options.check_sites(&sites)?;
        let mut answers = Vec::with_capacity(sites.len());
        let mut keys = Vec::new();
        for &site in &sites {
            let (value, multi_period) = self.answer_site(r, info, site, options)?;
            let value = self.compared(r, info, site, options, value, multi_period)?;
            if multi_period && keys.is_empty() {
                keys.push("date");
            }
            answers.push(value);
        }
        if !multi_site {
            return Ok(Keyed {
                value: answers.pop().unwrap_or(Value::Null),
                keys,
            });
        }
        let mut map = Map::new();
        for (site, v) in sites.iter().zip(answers) {
            map.insert(site.to_string(), v);
        }
        keys.insert(0, "idSite");
        Ok(Keyed {
            value: Value::Object(map),
            keys,
        })
    }

    /// The sites a request may read, in id order.
    fn readable_sites(&self, options: &ApiOptions) -> Vec<u32> {
        self.site_ids()
            .into_iter()
            .filter(|s| options.may_read(*s))
            .collect()
    }

    /// Report `name` of request `r`'s site, periods, segment and section,
    /// whole (every row, flat or not, raw metrics): what a scalar getter
    /// or `Referrers.get` takes its numbers from.
    fn whole_report(
        &self,
        r: &ApiRequest,
        name: &str,
        flat: bool,
        site: u32,
        options: &ApiOptions,
    ) -> Result<(Value, bool)> {
        let mut sub = r.clone();
        sub.method = name.to_owned();
        sub.table = table::TableParams {
            limit: Some(-1),
            flat,
            raw_metrics: true,
            ..table::TableParams::default()
        };
        self.answer_site(&sub, method(name)?, site, options)
    }

    /// One site's answer, and whether it is a map of periods.
    fn answer_site(
        &self,
        r: &ApiRequest,
        info: &MethodInfo,
        site: u32,
        options: &ApiOptions,
    ) -> Result<(Value, bool)> {
        match info.kind {
            Kind::Sites { one: true } => {
                self.site_state(site)?;
                let mut all = self.sites_json(&[site]);
                return Ok((
                    all.as_array_mut()
                        .and_then(|a| a.pop())
                        .unwrap_or(Value::Null),
                    false,
                ));
            }
            Kind::ConfiguredDimensions => return Ok((self.configured_dimensions(site)?, false)),
            Kind::SegmentsMetadata => return Ok((self.segments_metadata(site)?, false)),
            Kind::Scalar(s) => {
                // The report the number is taken from, whole, for the same
                // periods, segment and section.
                let (name, flat) = match s.source().split_once('&') {
                    Some((m, _)) => (m, true),
                    None => (s.source(), false),
                };
                let (value, multi) = self.whole_report(r, name, flat, site, options)?;
                // Matomo applies hideColumns to the one column: hidden,
                // the answer is empty.
                let hidden = matches!(s, methods::Scalar::Summary(column, _) | methods::Scalar::Goals(column)
                    if r.table.hide_columns.iter().any(|h| h == column));
                let one = |v: &Value| {
                    if hidden {
                        json!([])
                    } else {
                        scalar_of(s, v, r.table.raw_metrics)
                    }
                };
                let value = match (multi, value) {
                    (true, Value::Object(map)) => Value::Object(
                        map.into_iter()
                            .map(|(k, v)| {
                                // Matomo writes a period whose number is 0
                                // or missing as an empty element.
                                let x = one(&v);
                                let x = if x == json!(0) { json!([]) } else { x };
                                (k, x)
                            })
                            .collect(),
                    ),
                    (_, v) => one(&v),
                };
                return Ok((value, multi));
            }
            Kind::Subtable(of) => return self.named_subtable(r, of, site, options),
            Kind::ReferrersGet => return self.referrers_get(r, site, options),
            Kind::SuggestedValues => {
                let name = r
                    .segment_name
                    .as_deref()
                    .ok_or_else(|| bad("API.getSuggestedValuesForSegment needs segmentName"))?;
                return Ok((self.suggested_values(site, name)?, false));
            }
            Kind::SummaryColumns => {
                let columns = [
                    "nb_uniq_visitors",
                    "nb_users",
                    "nb_visits",
                    "nb_actions",
                    "nb_visits_converted",
                    "bounce_count",
                    "sum_visit_length",
                    "max_actions",
                    "bounce_rate",
                    "nb_actions_per_visit",
                    "avg_time_on_site",
                ];
                return Ok((serde_json::json!(columns), false));
            }
            Kind::GoalDefinitions => {
                let goals = &self.site_state(site)?.config.goals;
                return Ok((goals::definitions(site, goals), false));
            }
            Kind::GoalDefinition => {
                // Matomo's getGoal answers nothing (its "success") for an
                // id that names no goal of the site.
                let goals = &self.site_state(site)?.config.goals;
                let given = r
                    .id_goal
                    .as_deref()
                    .ok_or_else(|| bad("Goals.getGoal needs idGoal (Goals.getGoals lists them)"))?;
                let all = goals::definitions(site, goals);
                return Ok((all.get(given).cloned().unwrap_or(Value::Null), false));
            }
            Kind::VisitorProfile => return Ok((self.visitor_profile(r, site)?, false)),
            Kind::LiveCounters => return Ok((self.live_counters(r, site, options.now)?, false)),
            Kind::MultiSites { one: true } => return self.multi_sites_one(r, site, options),
            Kind::MostRecentVisitorId => {
                let newest = self.newest_visit(site, r.segment.as_deref(), None)?;
                return Ok((newest.map_or(json!(false), |(_, v)| json!(v)), false));
            }
            Kind::MostRecentVisitsDateTime => {
                // Within the period when one is asked, else over every day.
                let range = if r.period.is_empty() || r.date.is_empty() {
                    None
                } else {
                    let (periods, _) =
                        self.periods(site, r.period.parse()?, &r.date, options.now)?;
                    periods
                        .first()
                        .zip(periods.last())
                        .map(|(f, l)| (f.from, l.to))
                };
                let newest = self.newest_visit(site, r.segment.as_deref(), range)?;
                let at = newest
                    .and_then(|(ts, _)| DateTime::from_timestamp(ts, 0))
                    .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string());
                return Ok((json!(at.unwrap_or_default()), false));
            }
            Kind::ProcessedReport => return Ok((self.processed_report(r, site, options)?, false)),
            Kind::RowEvolution => return Ok((self.row_evolution(r, site, options)?, false)),
            _ => {}
        }
        let (periods, multi) = self.periods(site, r.period.parse()?, &r.date, options.now)?;
        let plan = self.plan(r, info, site)?;
        let mut answers = Vec::with_capacity(periods.len());
        for (done, p) in periods.iter().enumerate() {
            options.check(done, periods.len())?;
            answers.push(self.answer_period(
                r,
                info.kind,
                &plan,
                (p, multi),
                options,
                (done, periods.len()),
            )?);
        }
        if !multi {
            return Ok((
                answers
                    .pop()
                    .ok_or_else(|| bad("the date names no period"))?,
                false,
            ));
        }
        let mut map = Map::new();
        for (p, v) in periods.iter().zip(answers) {
            map.insert(p.label.clone(), v);
        }
        Ok((Value::Object(map), true))
    }

    /// The site, segment and section a request's periods are answered
    /// over.
    fn plan(&self, r: &ApiRequest, info: &MethodInfo, site: u32) -> Result<Plan<'_>> {
        let segment: Option<Segment> = r.segment.as_deref().map(str::parse).transpose()?;
        let mut q = Query::site(site).with_segment(segment);
        if let Some(s) = &r.section {
            q = q.section(s.clone());
        }
        Ok(match info.kind {
            Kind::Sections => {
                let resolved = self.resolve(&q.without_section())?;
                let sections = site_sections(resolved.site)?;
                Plan::Sections(resolved, sections)
            }
            _ => Plan::One(self.resolve(&q)?),
        })
    }

    fn answer_period(
        &self,
        r: &ApiRequest,
        kind: Kind,
        plan: &Plan<'_>,
        (p, several): (&PeriodRange, bool),
        options: &ApiOptions,
        progress: (usize, usize),
    ) -> Result<Value> {
        let range = Some((p.from, p.to));
        let t = &r.table;
        let resolved = match plan {
            Plan::Sections(resolved, sections) => {
                // Whole months and years from their report rollups.
                let mut out = match resolved.rolled_sections(range, sections)? {
                    Some(rows) => rows,
                    None => Vec::with_capacity(sections.len()),
                };
                for (label, urls) in sections.iter().skip(out.len()) {
                    options.check(progress.0, progress.1)?;
                    let metrics = resolved
                        .with_section(urls.clone())
                        .select(range)?
                        .visits_summary();
                    out.push(SectionRow {
                        label: label.clone(),
                        metrics,
                    });
                }
                let _ = sort_rows(&mut out, "nb_visits", true);
                let rows = out
                    .iter()
                    .map(|row| rows::labelled(&row.label, &row.metrics))
                    .collect();
                return table::apply(rows, t, &visit_spec(t));
            }
            Plan::One(resolved) => resolved,
        };
        // Of several periods (`several`: `p` is one of them), Matomo
        // writes one without visits (in the segment and section asked) of
        // a report of one row of metrics as an empty element (`<result
        // date="..." />`); one period alone is a row of zeros.
        // VisitsSummary.get's is decided below, from its own summary.
        if several
            && matches!(
                kind,
                Kind::Actions
                    | Kind::VisitFrequency
                    | Kind::ApiGet
                    | Kind::Goals
                    | Kind::GoalMetrics
                    | Kind::PagePerformance
                    | Kind::Bandwidth
            )
            && resolved.visits_summary(range)?.nb_visits == 0
        {
            return Ok(json!([]));
        }
        if kind == Kind::VisitsSummary {
            // Whole months may come from their rollups, not their days.
            let summary = resolved.visits_summary(range)?;
            if summary.nb_visits == 0 {
                if several {
                    return Ok(json!([]));
                }
                // Matomo's period without visits (or a segment, a section
                // that selects none) alone is a row of zeros.
                let mut row = rows::summary_row(&summary);
                row.shift_insert(4, "nb_visits_converted".into(), json!(0));
                return table::apply_one(row, t, table::VISIT_RATIOS);
            }
            // Matomo's converted visits: none without goals, else from
            // the days.
            let converted = if !resolved.site.config.has_conversions() {
                0
            } else {
                resolved
                    .goals(range, false)?
                    .overall
                    .all
                    .nb_visits_converted
            };
            let mut row = rows::summary_row(&summary);
            row.shift_insert(4, "nb_visits_converted".into(), json!(converted));
            return table::apply_one(row, t, table::VISIT_RATIOS);
        }
        if matches!(kind, Kind::ApiGet | Kind::VisitFrequency) {
            let mut answer =
                match self.rolled_answer(r, kind, resolved, range, &GoalColumns::none())? {
                    Some(a) => a,
                    None => {
                        self.period_answer(r, kind, &resolved.select(range)?, &GoalColumns::none())?
                    }
                };
            // Matomo's converted visits (none without goals), each after
            // its visits' actions: API.get's as VisitsSummary.get's,
            // VisitFrequency.get's for new and for returning visits.
            if let Value::Object(row) = &mut answer {
                let by_type = kind == Kind::VisitFrequency;
                let g = if !resolved.site.config.has_conversions() {
                    crate::goals::ByVisitorType::default()
                } else {
                    resolved.goals(range, by_type)?.overall
                };
                let columns = if by_type {
                    vec![
                        ("nb_actions_new", "nb_visits_converted_new", g.new),
                        (
                            "nb_actions_returning",
                            "nb_visits_converted_returning",
                            g.returning,
                        ),
                    ]
                } else {
                    vec![("nb_actions", "nb_visits_converted", g.all)]
                };
                for (after, name, m) in columns {
                    let shown = (t.show_columns.is_empty()
                        || t.show_columns.iter().any(|c| c == name))
                        && !t.hide_columns.iter().any(|c| c == name);
                    if !shown {
                        continue;
                    }
                    let at = row
                        .keys()
                        .position(|k| k == after)
                        .map_or(row.len(), |i| i + 1);
                    row.shift_insert(at, name.into(), json!(m.nb_visits_converted));
                }
                // Matomo's VisitFrequency.get of several periods or sites
                // is a map of VisitsSummary.get's under each visitor
                // type's segment, whose table without such visits is
                // empty: that type's columns are absent.
                if by_type && (several || !matches!(r.sites, Sites::One(_))) {
                    for suffix in ["_new", "_returning"] {
                        let visits = row.get(&format!("nb_visits{suffix}"));
                        if visits.and_then(Value::as_u64) == Some(0) {
                            row.retain(|k, _| !k.ends_with(suffix));
                        }
                    }
                }
            }
            return Ok(answer);
        }
        if matches!(kind, Kind::Goals | Kind::GoalMetrics) {
            // A window of days at a time, with the columns goals read.
            let row = if let Some(e) = goals::requested_ecommerce(r, &resolved.site.config)? {
                goals::ecommerce_row(&resolved.goals(range, true)?, e, r)?
            } else {
                let defined = &resolved.site.config.goals;
                let goal = goals::requested_goal(r, defined)?;
                // Matomo's showAllGoalSpecificMetrics: every goal of the
                // site, when no goal is asked for.
                let each: Vec<u32> = if r.all_goal_metrics && goal.is_none() {
                    defined.iter().map(|g| g.id).collect()
                } else {
                    Vec::new()
                };
                goals::goals_row(&resolved.goals(range, true)?, goal, &each, r)?
            };
            return Ok(match (kind, row) {
                // Matomo's getMetrics: the columns for all visits only.
                (Kind::GoalMetrics, Value::Object(mut m)) => {
                    m.retain(|k, _| {
                        !k.ends_with("_new_visit")
                            && !k.ends_with("_returning_visit")
                            && k != "nb_uniq_visitors_converted"
                    });
                    Value::Object(m)
                }
                (_, row) => row,
            });
        }
        if kind == Kind::LastVisits {
            // Its newest days first, until the page is full.
            return self.last_visits(r, resolved, range);
        }
        if kind == Kind::Transitions {
            let sel = resolved.select(range)?;
            return transitions::answer(r, &sel, r.period.parse()?, p);
        }
        // A site with goals: its visit reports' goal columns.
        let custom = match kind {
            Kind::Custom => Some(self.custom_dimension(r, resolved.site)?.0),
            _ => None,
        };
        let cells = goals::GoalColumns::of(r, kind, resolved, range, custom)?;
        if let Some(answer) = self.rolled_answer(r, kind, resolved, range, &cells)? {
            return Ok(answer);
        }
        let sel: Selection = resolved.select(range)?;
        self.period_answer(r, kind, &sel, &cells)
    }

    /// One period's answer for a selection (a VisitsSummary is answered
    /// by [`Resolved::visits_summary`] instead).
    fn period_answer(
        &self,
        r: &ApiRequest,
        kind: Kind,
        sel: &Selection<'_>,
        cells: &goals::GoalColumns,
    ) -> Result<Value> {
        let t = &r.table;
        let visits = visit_spec(t);
        Ok(match kind {
            Kind::VisitsSummary => summary_answer(&sel.visits_summary(), t)?,
            // Answered before a selection is made (`answer_period`).
            Kind::Goals | Kind::GoalMetrics => json!([]),
            Kind::VisitsUntilConversion | Kind::DaysToConversion => {
                let of = conversions_of(r, &sel.site.config)?;
                let rows = if kind == Kind::DaysToConversion {
                    sel.days_to_conversion(of)?
                } else {
                    sel.visits_until_conversion(of)
                };
                conversion_ranges_answer(rows, t)?
            }
            Kind::Items(by) => {
                // Matomo's: a site that is not an ecommerce site has no
                // products (an empty table, not an error).
                let rows = if sel.site.config.is_ecommerce() {
                    goals::item_rows(&sel.items(by, r.abandoned_carts), by, r)
                } else {
                    Vec::new()
                };
                table::apply(rows, t, &Spec::new(&[]))?
            }
            Kind::Contents(by) => table::apply(
                rows::content_rows(&sel.contents(by), by),
                t,
                &Spec::new(table::CONTENT_RATIOS),
            )?,
            Kind::Actions => actions_answer(&sel.actions_summary(), t)?,
            Kind::PagePerformance | Kind::Bandwidth => {
                let totals = perf_totals(kind, |k| Ok(Some(sel.action_report(k))))?;
                perf_answer(kind, &totals.unwrap_or_default(), t)?
            }
            Kind::VisitFrequency => frequency_answer(&sel.visit_frequency(), t)?,
            Kind::ApiGet => api_get_answer(
                &sel.visits_summary(),
                &sel.actions_summary(),
                &sel.visit_frequency(),
                t,
            )?,
            Kind::PageUrls => {
                let kind = if t.flat {
                    ActionReportKind::PageUrls
                } else {
                    ActionReportKind::PageUrlTree
                };
                let mut rows = rows::action_rows(sel, kind, t);
                cells.put_pages(&mut rows);
                page_urls_answer(rows, t)?
            }
            Kind::Action(kind) => {
                let mut rows = rows::action_rows(sel, kind, t);
                cells.put_pages(&mut rows);
                action_answer(kind, rows, t)?
            }
            Kind::NoResultKeywords => {
                let kind = ActionReportKind::SiteSearchKeywords;
                let main_url = sel.site.config.main_url.as_deref();
                let rows = without_results(sel.action_report(kind));
                action_answer(kind, rows::action_rows_of(&rows, kind, main_url, t), t)?
            }
            Kind::FollowingSearch { titles } => {
                let kind = if titles {
                    ActionReportKind::PageTitles
                } else {
                    ActionReportKind::PageUrlTree
                };
                let main_url = sel.site.config.main_url.as_deref();
                let rows = sel.pages_following_search(titles, t.flat);
                let rows = rows::action_rows_of(&rows, kind, main_url, t);
                if titles {
                    action_answer(ActionReportKind::PageTitles, rows, t)?
                } else {
                    page_urls_answer(rows, t)?
                }
            }
            Kind::Entry { titles } | Kind::Exit { titles } => {
                let exit = matches!(kind, Kind::Exit { .. });
                let kind = boundary_kind(titles, t);
                let rows = rows::action_rows(sel, kind, &every_row(t));
                boundary_answer(rows, (titles, exit), t, cells)?
            }
            Kind::OnePage { titles } => {
                let (kind, wanted) = one_page(r, titles)?;
                one_page_answer(
                    &sel.action_report(kind),
                    (kind, &wanted),
                    (t, &sel.site.config),
                    cells,
                )?
            }
            Kind::OneLink { outlink } => {
                let (kind, wanted) = one_link(r, outlink)?;
                one_link_answer(&sel.action_report(kind), (kind, &wanted), t)?
            }
            Kind::Events(by, sub) => {
                let sub = secondary(r, by, sub)?;
                table::apply(
                    rows::event_rows(sel, by, sub),
                    t,
                    &Spec::new(table::EVENT_RATIOS),
                )?
            }
            Kind::Field(f) => {
                let d = rows::field_dimension(f);
                let rows = rows::dimension_rows(&sel.dimension_report(&d), d.segment_name(), cells);
                table::apply(rows, t, &visits)?
            }
            Kind::Custom => {
                let (d, segment) = self.custom_dimension(r, sel.site)?;
                let rows = rows::dimension_rows(&sel.dimension_report(&d), &segment, cells);
                table::apply(rows, t, &visits)?
            }
            Kind::Group(g) => table::apply(rows::group_rows(sel, g, cells), t, &group_spec(g, t))?,
            Kind::Sections
            | Kind::MultiSites { .. }
            | Kind::MultiSitesGroups
            | Kind::Sites { .. }
            | Kind::SiteIds
            | Kind::Version
            | Kind::Bulk
            | Kind::ReportMetadata
            | Kind::ProcessedReport
            | Kind::RowEvolution
            | Kind::ConfiguredDimensions
            | Kind::SegmentsMetadata
            | Kind::SuggestedValues
            | Kind::SummaryColumns
            | Kind::Scalar(_)
            | Kind::ReferrersGet
            | Kind::Subtable(_)
            | Kind::GoalDefinitions
            | Kind::GoalDefinition
            | Kind::VisitorProfile
            | Kind::LiveCounters
            | Kind::MostRecentVisitorId
            | Kind::MostRecentVisitsDateTime
            | Kind::Transitions
            // Answered before a selection is made (`answer_period`).
            | Kind::LastVisits
            | Kind::Refused(_) => json!([]),
        })
    }

    /// `Referrers.get` (Matomo's Referrers plugin's `get`): the visits of
    /// each channel (`Referrers_visitorsFrom*`, and `_percent` of all
    /// visits), and the number of distinct search engines, social
    /// networks, keywords, websites, website URLs and campaigns: the rows
    /// of the reports that list them, for the same periods, segment and
    /// section.
    fn referrers_get(
        &self,
        r: &ApiRequest,
        site: u32,
        options: &ApiOptions,
    ) -> Result<(Value, bool)> {
        let sub = |name: &str, flat: bool| self.whole_report(r, name, flat, site, options);
        let (types, multi) = sub("Referrers.getReferrerType", false)?;
        let mut distinct = Vec::with_capacity(REFERRERS_DISTINCT.len());
        for (name, report, flat) in REFERRERS_DISTINCT {
            distinct.push((name, sub(report, flat)?.0));
        }
        let one = |key: Option<&str>| -> Value {
            let pick = |v: &Value| -> Value {
                match key {
                    Some(k) => v.get(k).cloned().unwrap_or(Value::Null),
                    None => v.clone(),
                }
            };
            let types = pick(&types);
            let rows = types.as_array().map_or(&[][..], Vec::as_slice);
            let visits_of = |row: &Value| row.get("nb_visits").and_then(Value::as_u64);
            let all: u64 = rows.iter().filter_map(visits_of).sum();
            // Each channel's visits, in REFERRERS_CHANNELS' order.
            let channels: Vec<(&str, u64)> = REFERRERS_CHANNELS
                .iter()
                .map(|&(name, label)| {
                    let n = rows
                        .iter()
                        .filter(|row| row.get("label").and_then(Value::as_str) == Some(label))
                        .filter_map(visits_of)
                        .sum();
                    (name, n)
                })
                .collect();
            let mut m = Map::new();
            for (name, n) in &channels {
                m.insert(format!("Referrers_visitorsFrom{name}"), json!(n));
            }
            for (name, rows) in &distinct {
                let n = pick(rows).as_array().map_or(0, Vec::len);
                m.insert(format!("Referrers_distinct{name}"), json!(n));
            }
            // The shares, in Matomo's order of them.
            for name in [
                "DirectEntry",
                "SearchEngines",
                "Campaigns",
                "SocialNetworks",
                "Websites",
            ] {
                let n = channels
                    .iter()
                    .find(|(c, _)| *c == name)
                    .map_or(0, |(_, n)| *n);
                let share = if all == 0 {
                    0
                } else {
                    (n as f64 * 100.0 / all as f64).round() as u64
                };
                m.insert(
                    format!("Referrers_visitorsFrom{name}_percent"),
                    json!(format!("{share}%")),
                );
            }
            Value::Object(m)
        };
        let value = match (&types, multi) {
            // Of several periods, one without visits is an empty element
            // (as `VisitsSummary.get`'s, `answer_site`).
            (Value::Object(periods), true) => Value::Object(
                periods
                    .iter()
                    .map(|(k, rows)| {
                        let visited = rows.as_array().is_some_and(|r| !r.is_empty());
                        (k.clone(), if visited { one(Some(k)) } else { json!([]) })
                    })
                    .collect(),
            ),
            _ => one(None),
        };
        Ok((value, multi))
    }

    /// A named subtable getter's answer for one site: the parent report
    /// (whole, every row, with its subtables numbered as any request of it
    /// numbers them), the subtable `idSubtable` names, each row given
    /// Matomo's segment (the parent row's part, then the row's own), then
    /// the request's generic filters.
    /// A merged named subtable getter without `idSubtable`
    /// ([`methods::SubtableOf::merged`]): the rows of every parent row's
    /// subtable together, each with its segment.
    fn every_subtable(
        &self,
        r: &ApiRequest,
        of: methods::SubtableOf,
        site: u32,
        options: &ApiOptions,
    ) -> Result<(Value, bool)> {
        let mut parent = r.clone();
        parent.method = of.parent.to_owned();
        parent.table = table::TableParams {
            limit: Some(-1),
            expanded: true,
            raw_metrics: true,
            ..table::TableParams::default()
        };
        let (value, multi) = self.answer_site(&parent, method(of.parent)?, site, options)?;
        let t = &r.table;
        let one = |v: &Value| -> Result<Value> {
            let rows: Vec<table::Row> = v
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|row| row.get("subtable").and_then(Value::as_array))
                .flatten()
                .filter_map(|c| c.as_object().cloned())
                .map(|mut m| {
                    let own = m.get("label").and_then(Value::as_str).unwrap_or("");
                    let segment = format!("{}=={}", of.field, crate::encode_segment_value(own));
                    m.insert("segment".into(), json!(segment));
                    social_url_row(of, &mut m);
                    m
                })
                .collect();
            // Matomo's merged table: by visits, then label.
            let mut rows = rows;
            rows::sort_by_visits_then_label(&mut rows);
            table::apply(rows, t, &visit_spec(t))
        };
        Ok(match (multi, &value) {
            (true, Value::Object(map)) => (
                Value::Object(
                    map.iter()
                        .map(|(k, v)| Ok((k.clone(), one(v)?)))
                        .collect::<Result<_>>()?,
                ),
                true,
            ),
            (_, v) => (one(v)?, false),
        })
    }

    fn named_subtable(
        &self,
        r: &ApiRequest,
        of: methods::SubtableOf,
        site: u32,
        options: &ApiOptions,
    ) -> Result<(Value, bool)> {
        if r.table.id_subtable.is_none() && of.merged {
            return self.every_subtable(r, of, site, options);
        }
        let id = r.table.id_subtable.ok_or_else(|| {
            bad(format!(
                "{} needs idSubtable: the idsubtable of a {} row",
                r.method, of.parent
            ))
        })?;
        // The parent's rows (with their subtable ids), and the subtable.
        let mut parent = r.clone();
        parent.method = of.parent.to_owned();
        parent.secondary_dimension = of.secondary.map(str::to_owned);
        parent.table = table::TableParams {
            limit: Some(-1),
            raw_metrics: true,
            ..table::TableParams::default()
        };
        let info = method(of.parent)?;
        let (value, multi) = self.answer_site(&parent, info, site, options)?;
        parent.table.id_subtable = Some(id);
        // A period without that row has no such subtable.
        let subtable = self.answer_site(&parent, info, site, options).ok();
        let mut t = r.table.clone();
        t.id_subtable = None;
        // A period of several without that row answers an empty table.
        let one = |v: Value, sub: Option<Value>| -> Result<Value> {
            let rows = v.as_array().map(Vec::as_slice).unwrap_or_default();
            let Some(row) = rows
                .iter()
                .find(|row| row.get("idsubtable").and_then(Value::as_u64) == Some(u64::from(id)))
            else {
                if multi {
                    return Ok(json!([]));
                }
                return Err(bad(format!(
                    "idSubtable={id} names no row of {}: use an idsubtable from its rows",
                    of.parent
                )));
            };
            let label = row.get("label").and_then(Value::as_str).unwrap_or("");
            let label = if label == crate::referrer::KEYWORD_NOT_DEFINED {
                ""
            } else {
                label
            };
            let children = match sub {
                Some(Value::Array(children)) => children,
                _ => Vec::new(),
            };
            if of.secondary.is_some() {
                // Events: the subtable's rows as they are (no segment, as Matomo's).
                let rows: Vec<table::Row> = children
                    .into_iter()
                    .filter_map(|c| match c {
                        Value::Object(m) => Some(m),
                        _ => None,
                    })
                    .collect();
                return table::apply(rows, &t, &Spec::new(table::EVENT_RATIOS));
            }
            let prefix = of.prefix.replace("{}", label);
            let rows: Vec<table::Row> = children
                .into_iter()
                .filter_map(|c| match c {
                    Value::Object(mut m) => {
                        let own = m
                            .get("label")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_owned();
                        let value = if own == crate::referrer::KEYWORD_NOT_DEFINED {
                            String::new()
                        } else {
                            crate::encode_segment_value(&own)
                        };
                        m.insert(
                            "segment".into(),
                            json!(format!("{prefix}{}=={value}", of.field)),
                        );
                        social_url_row(of, &mut m);
                        Some(m)
                    }
                    _ => None,
                })
                .collect();
            table::apply(rows, &t, &visit_spec(&t))
        };
        let value = match (multi, value) {
            (true, Value::Object(map)) => {
                let mut subs = match subtable {
                    Some((Value::Object(subs), _)) => subs,
                    _ => Map::new(),
                };
                Value::Object(
                    map.into_iter()
                        .map(|(k, v)| {
                            let sub = subs.remove(&k);
                            Ok((k, one(v, sub)?))
                        })
                        .collect::<Result<_>>()?,
                )
            }
            (_, v) => one(v, subtable.map(|(s, _)| s))?,
        };
        Ok((value, multi))
    }

    /// The custom dimension a request names, and its segment name.
    fn custom_dimension(&self, r: &ApiRequest, site: &SiteState) -> Result<(Dimension, String)> {
        let name = self.custom_dimension_name(r, site)?;
        let segment = match r.id_dimension {
            Some(id) => format!("dimension{id}"),
            None => name.clone(),
        };
        Ok((Dimension::Custom(name), segment))
    }

    /// The answer of a request without segment or section from report
    /// rollups (`report.rs`: whole years and months from their rollups,
    /// the edge days read), for the reports rollups keep; `None` for the
    /// others, and when no rollup applies.
    fn rolled_answer(
        &self,
        r: &ApiRequest,
        kind: Kind,
        resolved: &Resolved<'_>,
        range: Option<(NaiveDate, NaiveDate)>,
        cells: &goals::GoalColumns,
    ) -> Result<Option<Value>> {
        let t = &r.table;
        // The rows of an action report, flat or the page tree.
        let main_url = resolved.site.config.main_url.as_deref();
        let flat_rows = |kind: ActionReportKind| -> Result<Option<Vec<Row>>> {
            Ok(resolved
                .rolled_action_report(range, kind)?
                .map(|rows| rows::action_rows_of(&rows, kind, main_url, t)))
        };
        let dimension = |d: &Dimension, segment: &str| -> Result<Option<Value>> {
            resolved
                .rolled_dimension_report(range, d)?
                .map(|rows| {
                    let rows = rows::dimension_rows(&rows, segment, cells);
                    table::apply(rows, t, &visit_spec(t))
                })
                .transpose()
        };
        match kind {
            // A tree of title categories comes from the days.
            Kind::Action(k) if rows::title_tree(&resolved.site.config, k, t) => Ok(None),
            Kind::Entry { titles: true } | Kind::Exit { titles: true }
                if rows::title_tree(&resolved.site.config, ActionReportKind::PageTitles, t) =>
            {
                Ok(None)
            }
            Kind::PageUrls => {
                let kind = if t.flat {
                    ActionReportKind::PageUrls
                } else {
                    ActionReportKind::PageUrlTree
                };
                flat_rows(kind)?
                    .map(|mut rows| {
                        cells.put_pages(&mut rows);
                        page_urls_answer(rows, t)
                    })
                    .transpose()
            }
            Kind::Action(k @ (ActionReportKind::Downloads | ActionReportKind::Outlinks))
                if !t.flat =>
            {
                let kind = if k == ActionReportKind::Downloads {
                    HitType::Download
                } else {
                    HitType::Outlink
                };
                resolved
                    .rolled_url_tree(range, kind)?
                    .map(|rows| action_answer(k, rows::link_tree_rows(&rows, k, t), t))
                    .transpose()
            }
            Kind::Action(k) => flat_rows(k)?
                .map(|mut rows| {
                    cells.put_pages(&mut rows);
                    action_answer(k, rows, t)
                })
                .transpose(),
            Kind::NoResultKeywords => {
                let k = ActionReportKind::SiteSearchKeywords;
                resolved
                    .rolled_action_report(range, k)?
                    .map(|rows| {
                        let rows = rows::action_rows_of(&without_results(rows), k, main_url, t);
                        action_answer(k, rows, t)
                    })
                    .transpose()
            }
            Kind::Field(f) => {
                let d = rows::field_dimension(f);
                dimension(&d, d.segment_name())
            }
            Kind::Custom => {
                let (d, segment) = self.custom_dimension(r, resolved.site)?;
                dimension(&d, &segment)
            }
            Kind::OnePage { titles } => {
                let (kind, wanted) = one_page(r, titles)?;
                resolved
                    .rolled_action_report(range, kind)?
                    .map(|rows| {
                        one_page_answer(&rows, (kind, &wanted), (t, &resolved.site.config), cells)
                    })
                    .transpose()
            }
            Kind::OneLink { outlink } => {
                let (kind, wanted) = one_link(r, outlink)?;
                resolved
                    .rolled_action_report(range, kind)?
                    .map(|rows| one_link_answer(&rows, (kind, &wanted), t))
                    .transpose()
            }
            Kind::VisitsUntilConversion => resolved
                .rolled_visits_until(range, conversions_of(r, &resolved.site.config)?)?
                .map(|rows| conversion_ranges_answer(rows, t))
                .transpose(),
            Kind::PagePerformance | Kind::Bandwidth => {
                perf_totals(kind, |k| resolved.rolled_action_report(range, k))?
                    .map(|totals| perf_answer(kind, &totals, t))
                    .transpose()
            }
            Kind::Actions => resolved
                .rolled_actions_summary(range)?
                .map(|a| actions_answer(&a, t))
                .transpose(),
            Kind::VisitFrequency => resolved
                .rolled_frequency(range)?
                .map(|f| frequency_answer(&f, t))
                .transpose(),
            Kind::ApiGet => {
                let Some(a) = resolved.rolled_actions_summary(range)? else {
                    return Ok(None);
                };
                let s = resolved.visits_summary(range)?;
                let Some(f) = resolved.rolled_frequency(range)? else {
                    return Ok(None);
                };
                api_get_answer(&s, &a, &f, t).map(Some)
            }
            Kind::Entry { titles } | Kind::Exit { titles } => {
                let exit = matches!(kind, Kind::Exit { .. });
                let kind = boundary_kind(titles, t);
                resolved
                    .rolled_action_report(range, kind)?
                    .map(|rows| {
                        let rows = rows::action_rows_of(&rows, kind, main_url, &every_row(t));
                        boundary_answer(rows, (titles, exit), t, cells)
                    })
                    .transpose()
            }
            Kind::Events(by, sub) => {
                let sub = secondary(r, by, sub)?;
                let Some(table) = resolved.rolled_events(range, by, sub)? else {
                    return Ok(None);
                };
                let rows = crate::breakdown::event_rows_of_table(table);
                let rows = rows::event_rows_of(&rows, by);
                table::apply(rows, t, &Spec::new(table::EVENT_RATIOS)).map(Some)
            }
            Kind::Group(g) if VisitGroup::By(g).rolled() => {
                let Some(groups) = resolved.rolled_group(range, VisitGroup::By(g))? else {
                    return Ok(None);
                };
                let groups = crate::breakdown::groups_of_table(groups);
                let new_visits = match g {
                    methods::Grouping::DaysSinceLast => match resolved.rolled_frequency(range)? {
                        Some(f) => Some(f.new.nb_visits),
                        None => return Ok(None),
                    },
                    _ => None,
                };
                let rows = rows::group_rows_of(g, &groups, cells, new_visits);
                table::apply(rows, t, &group_spec(g, t)).map(Some)
            }
            Kind::Group(g @ (methods::Grouping::Country | methods::Grouping::LanguageCode)) => {
                let d = if g == methods::Grouping::Country {
                    Dimension::Country
                } else {
                    Dimension::Language
                };
                let Some(rows) = resolved.rolled_dimension_report(range, &d)? else {
                    return Ok(None);
                };
                rows::field_groups(&rows)
                    .map(|groups| {
                        let rows = rows::rows_of_groups(g, &groups, cells);
                        table::apply(rows, t, &visit_spec(t))
                    })
                    .transpose()
            }
            _ => Ok(None),
        }
    }

    /// The custom dimension a request names: `idDimension=N` (Matomo's
    /// number: the site's N-th configured dimension) or `dimension=name`.
    fn custom_dimension_name(&self, r: &ApiRequest, site: &SiteState) -> Result<String> {
        let numbered = site.numbered_dimensions();
        let listed = || {
            if numbered.is_empty() {
                "none".to_owned()
            } else {
                numbered
                    .iter()
                    .map(|(id, n)| format!("{id} = {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        let name = match (r.id_dimension, &r.dimension) {
            (Some(id), _) => numbered
                .iter()
                .find(|(n, _)| *n == id)
                .map(|(_, s)| (*s).to_owned())
                .ok_or_else(|| {
                    bad(format!(
                        "site {} has no custom dimension with idDimension={id} (known: {})",
                        site.config.id,
                        listed()
                    ))
                })?,
            (None, Some(name)) => name.clone(),
            (None, None) => {
                return Err(bad(
                    "CustomDimensions.getCustomDimension needs idDimension=<number> (or dimension=<name>)",
                ));
            }
        };
        if site.dicts.custom_dim(&name).is_none() {
            return Err(bad(format!(
                "site {} has no custom dimension '{name}': declare it with SiteConfig::dimension or send hits that carry it (known: {})",
                site.config.id,
                listed()
            )));
        }
        Ok(name)
    }
}

/// A page URL report's answer (flat or a tree) from its rows.
fn page_urls_answer(rows: Vec<Row>, t: &TableParams) -> Result<Value> {
    let params = TableParams {
        flat: false,
        ..t.clone()
    };
    let mut v = table::apply(rows, &params, &Spec::new(table::PAGE_RATIOS))?;
    without_zero_entries(&mut v);
    name_flat_paths(&mut v, t);
    Ok(v)
}

/// The rows of a report that comes flat (page URLs, downloads, outlinks)
/// with `flat=1`: each names its path in the report's dimension column,
/// as Matomo's flattener does (unless `showColumns` or `hideColumns`
/// leave it out, as the generic filters do).
fn name_flat_paths(v: &mut Value, t: &TableParams) {
    if t.flat
        && let Some((column, _)) = t.flat_dimensions
        && (t.show_columns.is_empty() || t.show_columns.iter().any(|c| c == column))
        && !t.hide_columns.iter().any(|c| c == column)
        && let Value::Array(rows) = v
    {
        rows.iter_mut()
            .filter_map(Value::as_object_mut)
            .for_each(|r| table::name_flat_path(r, column));
    }
}

/// A page report's rows without entries leave out their entry columns,
/// and those without exits their exit column, as Matomo's (whose entry
/// and exit counts come from queries of their own: a page no visit
/// entered has no such row); the rates stay.
pub(crate) fn without_zero_entries(v: &mut Value) {
    match v {
        Value::Array(rows) => rows.iter_mut().for_each(without_zero_entries),
        Value::Object(m) => {
            if m.contains_key("label") {
                without_zero_entry_columns(m);
            }
            // Rows of several periods or sites, and subtables.
            for x in m.values_mut() {
                if x.is_array() || x.is_object() {
                    without_zero_entries(x);
                }
            }
        }
        _ => {}
    }
}

/// [`without_zero_entries`] of one row (not its subtable).
pub(crate) fn without_zero_entry_columns(m: &mut Row) {
    for (count, columns) in [
        (
            "entry_nb_visits",
            &[
                "entry_nb_uniq_visitors",
                "entry_nb_visits",
                "entry_nb_actions",
                "entry_sum_visit_length",
                "entry_bounce_count",
            ][..],
        ),
        (
            "exit_nb_visits",
            &["exit_nb_uniq_visitors", "exit_nb_visits"][..],
        ),
    ] {
        if m.get(count).and_then(Value::as_u64) == Some(0) {
            for c in columns {
                m.shift_remove(*c);
            }
        }
    }
}

/// Another action report's answer from its rows.
fn action_answer(kind: ActionReportKind, rows: Vec<Row>, t: &TableParams) -> Result<Value> {
    let ratios = if kind == ActionReportKind::PageTitles {
        table::PAGE_RATIOS
    } else {
        &[]
    };
    let tree = matches!(
        kind,
        ActionReportKind::Downloads | ActionReportKind::Outlinks
    );
    let params = TableParams {
        flat: t.flat && !tree,
        ..t.clone()
    };
    let mut v = table::apply(rows, &params, &Spec::new(ratios))?;
    if kind.pages() {
        without_zero_entries(&mut v);
    }
    if tree {
        name_flat_paths(&mut v, t);
    }
    Ok(v)
}

/// The page report an entry or exit page report filters: the URL tree
/// (flat with `flat`), or the titles.
fn boundary_kind(titles: bool, t: &TableParams) -> ActionReportKind {
    match (titles, t.flat) {
        (true, _) => ActionReportKind::PageTitles,
        (false, true) => ActionReportKind::PageUrls,
        (false, false) => ActionReportKind::PageUrlTree,
    }
}

/// `t` without its offset and limit: every row of a report that is
/// filtered before they apply.
fn every_row(t: &TableParams) -> TableParams {
    TableParams {
        limit: Some(-1),
        offset: 0,
        ..t.clone()
    }
}

/// Matomo's entry (exit) page reports: the rows of the page report
/// (URL tree, flat URLs or titles) that visits entered (left) on, and
/// the folders above them, with their goal cells (a folder's of all its
/// pages); a page's segment names its entry (exit) page
/// (`entryPageUrl==`). Titles leave out the row of untitled views.
fn boundary_answer(
    mut rows: Vec<Row>,
    (titles, exit): (bool, bool),
    t: &TableParams,
    cells: &GoalColumns,
) -> Result<Value> {
    cells.put_pages(&mut rows);
    if titles {
        // Matomo's: a visit that entered (left) on a page view without a
        // title has no entry (exit) title, so no row.
        rows.retain(|m| m.get("label") != Some(&json!(crate::report::UNTITLED)));
    }
    let rows = boundary_only(rows, exit);
    if titles {
        action_answer(ActionReportKind::PageTitles, rows, t)
    } else {
        page_urls_answer(rows, t)
    }
}

/// The rows (and subtable rows) with entries (`exit`: exits).
fn boundary_only(rows: Vec<Row>, exit: bool) -> Vec<Row> {
    let (count, prefix) = if exit {
        ("exit_nb_visits", "exit")
    } else {
        ("entry_nb_visits", "entry")
    };
    rows.into_iter()
        .filter(|m| m.get(count).and_then(Value::as_u64).unwrap_or(0) > 0)
        .map(|mut m| {
            if let Some(Value::Array(sub)) = m.get_mut("subtable") {
                let children = std::mem::take(sub)
                    .into_iter()
                    .filter_map(|v| match v {
                        Value::Object(o) => Some(o),
                        _ => None,
                    })
                    .collect();
                *sub = boundary_only(children, exit)
                    .into_iter()
                    .map(Value::Object)
                    .collect();
            }
            if let Some(Value::String(segment)) = m.get_mut("segment") {
                for (field, named) in [("pageUrl==", "PageUrl=="), ("pageTitle==", "PageTitle==")] {
                    if let Some(value) = segment.strip_prefix(field) {
                        *segment = format!("{prefix}{named}{value}");
                        break;
                    }
                }
            }
            m
        })
        .collect()
}

/// The page report and the row label `Actions.getPageUrl` (`pageUrl`)
/// or `getPageTitle` (`pageName`) asks for.
fn one_page(r: &ApiRequest, titles: bool) -> Result<(ActionReportKind, String)> {
    Ok(if titles {
        let name = r.page_name.clone();
        let name = name.ok_or_else(|| bad("Actions.getPageTitle needs pageName=<title>"))?;
        (ActionReportKind::PageTitles, name)
    } else {
        let url = r.page_url.as_deref();
        let url = url.ok_or_else(|| bad("Actions.getPageUrl needs pageUrl=<URL or path>"))?;
        // As Matomo matches: without the session parameters it leaves
        // out of page URLs (`sessionid`, `phpsessid`, ...).
        (
            ActionReportKind::PageUrls,
            crate::url::page_label(&crate::url::without_session_parameters(url)).to_owned(),
        )
    })
}

/// The report and the URL `Actions.getDownload` (`downloadUrl`) or
/// `getOutlink` (`outlinkUrl`) asks about, without its fragment and the
/// session parameters, as Matomo searches (`excludeQueryParametersFromUrl`):
/// a link stored with a fragment is not found.
fn one_link(r: &ApiRequest, outlink: bool) -> Result<(ActionReportKind, String)> {
    let (url, kind, name) = if outlink {
        (&r.outlink_url, ActionReportKind::Outlinks, "outlinkUrl")
    } else {
        (&r.download_url, ActionReportKind::Downloads, "downloadUrl")
    };
    let url = url
        .as_deref()
        .ok_or_else(|| bad(format!("{} needs {name}=<URL>", r.method)))?;
    Ok((kind, crate::url::without_session_parameters(url)))
}

/// A download's or outlink's rows among the report's URLs, as Matomo's:
/// labelled by path and query (the host is the parent row in the tree),
/// with the URL, and no time spent (time is spent on pages). URLs stored
/// with different session parameters are rows of their own.
fn one_link_answer(
    rows: &[crate::report::ActionRow],
    (kind, wanted): (ActionReportKind, &str),
    t: &table::TableParams,
) -> Result<Value> {
    let shape = rows::PerfShape::of(rows, kind, None, t).links();
    let rows: Vec<Row> = rows
        .iter()
        // A link stored with its fragment is another action.
        .filter(|row| {
            !row.label.contains('#') && crate::url::without_session_parameters(&row.label) == wanted
        })
        .map(|row| {
            let mut m = rows::action_row(row, &shape, true);
            m.insert("label".into(), json!(crate::url::link_label(&row.label)));
            // Matomo's one link row has its URL and no segment.
            m.shift_remove("segment");
            m.insert("url".into(), json!(row.label));
            m
        })
        .collect();
    table::apply(rows, t, &Spec::new(&[]))
}

/// The one page's row among a page report's rows.
fn one_page_answer(
    rows: &[crate::report::ActionRow],
    (kind, wanted): (ActionReportKind, &str),
    (t, site): (&table::TableParams, &crate::site::SiteConfig),
    cells: &GoalColumns,
) -> Result<Value> {
    // A title as Matomo searches it: its categories, trimmed (the whole
    // title, trimmed, on a site without a delimiter); the row shows its
    // last category, as the title tree's.
    let titles = kind == ActionReportKind::PageTitles;
    let wanted_parts = site.title_categories(wanted);
    let mut rows: Vec<Row> = rows
        .iter()
        .filter(|row| {
            if titles {
                site.title_categories(&row.label) == wanted_parts
            } else {
                row.label == wanted
            }
        })
        .map(|row| {
            let mut m = rows::one_page_row(row, kind, t);
            if titles && site.title_delimiter().is_some() {
                m.insert("$title".into(), json!(row.label));
                if let Some(last) = site.title_categories(&row.label).last() {
                    m.insert("label".into(), json!(crate::url::title_label(last)));
                }
            }
            m
        })
        .collect();
    cells.put_pages(&mut rows);
    let mut v = table::apply(rows, t, &Spec::new(table::PAGE_RATIOS))?;
    without_zero_entries(&mut v);
    Ok(v)
}

/// Which conversions a request's `idGoal` names (every goal without).
fn conversions_of(
    r: &ApiRequest,
    config: &crate::site::SiteConfig,
) -> Result<crate::goals::ConversionsOf> {
    Ok(match goals::requested_ecommerce(r, config)? {
        Some(goals::Ecommerce::Order) => crate::goals::ConversionsOf::Orders,
        Some(goals::Ecommerce::Cart) => crate::goals::ConversionsOf::AbandonedCarts,
        None => goals::requested_goal(r, &config.goals)?.into(),
    })
}

/// Conversions by Matomo's ranges (days or visits until conversion) as
/// rows of `label` and `nb_conversions`.
fn conversion_ranges_answer(rows: Vec<(String, u64)>, t: &table::TableParams) -> Result<Value> {
    // Matomo's: a period without conversions has no rows (no ranges of
    // zeros).
    if rows.iter().all(|(_, n)| *n == 0) {
        return table::apply(Vec::new(), t, &Spec::new(&[]));
    }
    let rows = rows
        .into_iter()
        .map(|(label, n)| {
            let mut row = Row::new();
            row.insert("label".into(), json!(label));
            row.insert("nb_conversions".into(), json!(n));
            row
        })
        .collect();
    table::apply(rows, t, &Spec::new(&[]))
}

/// The site search keyword rows whose searches all found no result
/// (Matomo's keywords without results: their greatest result count is 0;
/// a keyword no search gave a count for is not one).
fn without_results(mut rows: Vec<crate::report::ActionRow>) -> Vec<crate::report::ActionRow> {
    rows.retain(|r| r.most_results == Some(0));
    rows
}

/// Actions.get's answer: its one row (of zeros for a period without
/// actions, as Matomo's).
fn actions_answer(a: &ActionsSummary, t: &table::TableParams) -> Result<Value> {
    table::apply_one(rows::actions_row(a), t, &[])
}

/// The load timings and bandwidth of a period's page views, downloads,
/// outlinks and site searches, summed over their reports' rows
/// (`report(kind)`; `None` if one is not at hand). `PagePerformance.get`
/// needs the page views' alone.
fn perf_totals(
    kind: Kind,
    mut report: impl FnMut(ActionReportKind) -> Result<Option<Vec<crate::report::ActionRow>>>,
) -> Result<Option<[crate::PerfSums; 4]>> {
    let kinds = [
        ActionReportKind::PageUrls,
        ActionReportKind::Downloads,
        ActionReportKind::Outlinks,
        ActionReportKind::SiteSearchKeywords,
    ];
    let wanted = if kind == Kind::PagePerformance { 1 } else { 4 };
    let mut out = [crate::PerfSums::default(); 4];
    for (total, k) in out.iter_mut().zip(kinds).take(wanted) {
        let Some(rows) = report(k)? else {
            return Ok(None);
        };
        for row in &rows {
            total.add(&row.perf);
        }
    }
    Ok(Some(out))
}

/// `PagePerformance.get` (each timing's average over the page views that
/// have it, and the average page load time: all timings of the page
/// views with any, in seconds to two decimals, as Matomo's) or
/// `Bandwidth.get` (bytes of all actions, of page views, of downloads).
fn perf_answer(kind: Kind, totals: &[crate::PerfSums; 4], t: &TableParams) -> Result<Value> {
    let mut row = Row::new();
    if kind == Kind::Bandwidth {
        let bytes = |p: &crate::PerfSums| p.sum[6];
        let overall: u64 = totals.iter().map(bytes).sum();
        row.insert("nb_total_overall_bandwidth".into(), json!(overall));
        row.insert(
            "nb_total_pageview_bandwidth".into(),
            json!(bytes(&totals[0])),
        );
        row.insert(
            "nb_total_download_bandwidth".into(),
            json!(bytes(&totals[1])),
        );
        return table::apply_one(row, t, &[]);
    }
    let pages = &totals[0];
    // Milliseconds per view in hundredths of a second, rounded half up.
    let hundredths = |ms: u64, n: u64| (2 * ms + 10 * n).checked_div(20 * n).unwrap_or(0);
    let seconds = |h: u64| {
        if h.is_multiple_of(100) {
            json!(h / 100)
        } else {
            json!(h as f64 / 100.0)
        }
    };
    for (f, name) in crate::hit::Perf::TIMINGS.iter().enumerate() {
        row.insert(
            format!("avg_time_{name}"),
            seconds(hundredths(pages.sum[f], pages.hits[f])),
        );
    }
    let load: u64 = pages.sum[..6].iter().sum();
    row.insert(
        "avg_page_load_time".into(),
        seconds(hundredths(load, pages.timed)),
    );
    table::apply_one(row, t, &[])
}

/// VisitFrequency.get's answer: its one row (of zeros without visits, as
/// Matomo's).
fn frequency_answer(f: &crate::summary::VisitFrequency, t: &table::TableParams) -> Result<Value> {
    table::apply_one(frequency_row(f), &suffixed_hidden(t), &[])
}

/// Matomo's VisitFrequency.get (and API.get's part of it) is
/// VisitsSummary.get's columns with `_new` and `_returning` appended, and
/// the request's `hideColumns` applies to them before: hiding `nb_users`
/// hides `nb_users_new` and `nb_users_returning`.
fn suffixed_hidden(t: &table::TableParams) -> std::borrow::Cow<'_, table::TableParams> {
    if t.hide_columns.is_empty() {
        return std::borrow::Cow::Borrowed(t);
    }
    let mut t = t.clone();
    let extra: Vec<String> = t
        .hide_columns
        .iter()
        .flat_map(|h| [format!("{h}_new"), format!("{h}_returning")])
        .collect();
    t.hide_columns.extend(extra);
    std::borrow::Cow::Owned(t)
}

/// API.get's answer: the visits summary with its ratios, the actions
/// summary and the frequency split, in one row.
fn api_get_answer(
    s: &crate::summary::VisitsSummary,
    a: &ActionsSummary,
    f: &crate::summary::VisitFrequency,
    t: &table::TableParams,
) -> Result<Value> {
    let mut row = rows::summary_row(s);
    table::derive(&mut row, table::VISIT_RATIOS);
    row.extend(rows::actions_row(a));
    row.extend(frequency_row(f));
    table::apply_one(row, &suffixed_hidden(t), &[])
}

/// The table filters' view of a visits-grouped report: VisitorInterest's
/// ranges have no ratios; referrer websites label their subtable rows
/// flat.
fn group_spec(g: methods::Grouping, t: &TableParams) -> Spec {
    let spec = if matches!(
        g,
        methods::Grouping::VisitCount | methods::Grouping::Plugins
    ) {
        Spec::new(table::VISITS_PERCENT)
    } else if rows::is_range(g) {
        Spec::new(&[])
    } else {
        visit_spec(t)
    };
    if matches!(
        g,
        methods::Grouping::Referrer(crate::report::ReferrerPart::Website)
    ) {
        spec.flat_child_labels()
    } else {
        spec
    }
}

/// The table filters' view of a visit report (rows of visit metrics by a
/// dimension): Matomo's API gives their ratios only when asked
/// (`filter_add_columns_when_show_all_columns=1`).
fn visit_spec(t: &TableParams) -> Spec {
    Spec::new(if t.add_columns {
        table::VISIT_RATIOS
    } else {
        &[]
    })
}

/// A VisitsSummary period's answer: no row without visits (Matomo's
/// empty answer), else the row with its ratios.
fn summary_answer(s: &crate::summary::VisitsSummary, t: &TableParams) -> Result<Value> {
    if s.nb_visits == 0 {
        Ok(json!([]))
    } else {
        table::apply_one(rows::summary_row(s), t, table::VISIT_RATIOS)
    }
}

/// New and returning visit metrics in one row (`_new`, `_returning`).
fn frequency_row(f: &crate::summary::VisitFrequency) -> Row {
    let mut m = Row::new();
    for (suffix, s) in [("new", f.new), ("returning", f.returning)] {
        let mut row = rows::summary_row(&s);
        table::derive(&mut row, table::VISIT_RATIOS);
        for (k, v) in row {
            m.insert(format!("{k}_{suffix}"), v);
        }
    }
    m
}

/// What a request resolves to once, before its periods.
enum Plan<'e> {
    One(Resolved<'e>),
    Sections(Resolved<'e>, Vec<(String, Arc<SectionSet>)>),
}

/// Options of one Reporting API request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiOptions {
    /// The instant `today`, `yesterday` and `lastN` count from.
    pub now: DateTime<Utc>,
    /// When to give up: the request then fails with
    /// [`Error::DeadlineExceeded`]. `None`: no limit.
    pub deadline: Option<Instant>,
    /// The sites the caller may read (`None`: every site). A request that
    /// names another fails with [`Error::Forbidden`]; `idSite=all`, site
    /// lists and `MultiSites`/`SitesManager` answer only these.
    pub sites: Option<Vec<u32>>,
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
            sites: None,
        }
    }

    /// Restricts the request to some sites (a token's sites on a server).
    ///
    /// # Examples
    /// ```
    /// use hitmap::{ApiOptions, Engine, Error, SiteConfig};
    /// let mut e = Engine::in_memory();
    /// e.add_site(SiteConfig::new(1))?;
    /// e.add_site(SiteConfig::new(2))?;
    /// let only_1 = ApiOptions::default().only_sites([1]);
    /// let err = e.api_with("method=VisitsSummary.get&idSite=1,2&period=day&date=today", &only_1).unwrap_err();
    /// assert!(matches!(err, Error::Forbidden(_)));
    /// let all = e.api_with("method=SitesManager.getAllSitesId", &only_1)?;
    /// assert_eq!(all, "[1]");
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn only_sites(mut self, sites: impl IntoIterator<Item = u32>) -> ApiOptions {
        self.sites = Some(sites.into_iter().collect());
        self
    }

    fn may_read(&self, site: u32) -> bool {
        self.sites.as_ref().is_none_or(|s| s.contains(&site))
    }

    /// Fails unless the caller may read every one of `sites`.
    fn check_sites(&self, sites: &[u32]) -> Result<()> {
        match sites.iter().find(|s| !self.may_read(**s)) {
            Some(s) => Err(Error::Forbidden(format!(
                "the token does not give access to site {s}"
            ))),
            None => Ok(()),
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
    encode_value(v, "%20")
}

/// A value in a report row's segment, as Matomo writes it (PHP's
/// `urlencode`: spaces as `+`, which a segment reads back as spaces).
///
/// # Examples
/// ```
/// assert_eq!(hitmap::encode_segment_value("car browser/é+"), "car+browser%2F%C3%A9%2B");
/// ```
pub fn encode_segment_value(v: &str) -> String {
    encode_value(v, "+")
}

fn encode_value(v: &str, space: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else if b == b' ' {
            out.push_str(space);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
