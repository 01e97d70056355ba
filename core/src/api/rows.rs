//! Report rows in Matomo's shapes, for one period's selection: labels,
//! columns, codes and row segments per method. Raw numbers only; the
//! generic filters and formatting are `table.rs`'s.

use serde_json::{Value, json};

use super::goals::GoalColumns;
use super::methods::{FieldKind, Grouping};
use crate::breakdown::{EventPart, EventRow, Group};
use crate::encode_segment_value as enc;
use crate::hit::{HitType, Perf};
use crate::query::Selection;
use crate::referrer::ReferrerType;
use crate::report::{
    ActionReportKind, ActionRow, Dimension, DimensionRow, KEYWORD_NOT_DEFINED, ReferrerPart,
};
use crate::summary::{ActionsSummary, VisitsSummary};
use crate::table::{self, Row, TableParams};
use crate::visit_key::{SEP, UNKNOWN, ranges};

/// A visit summary's base columns (ratios are derived later).
pub(crate) fn summary_row(s: &VisitsSummary) -> Row {
    let mut m = Row::new();
    m.insert("nb_uniq_visitors".into(), json!(s.nb_uniq_visitors));
    m.insert("nb_users".into(), json!(s.nb_users));
    m.insert("nb_visits".into(), json!(s.nb_visits));
    m.insert("nb_actions".into(), json!(s.nb_actions));
    m.insert("bounce_count".into(), json!(s.bounce_count));
    m.insert("sum_visit_length".into(), json!(s.sum_visit_length));
    m.insert("max_actions".into(), json!(s.max_actions));
    m
}

/// A labelled visit-metrics row.
pub(crate) fn labelled(label: &str, s: &VisitsSummary) -> Row {
    let mut m = summary_row(s);
    m.shift_insert(0, "label".into(), json!(label));
    m
}

/// The actions summary as one row.
pub(crate) fn actions_row(a: &ActionsSummary) -> Row {
    match serde_json::to_value(a) {
        Ok(Value::Object(m)) => m,
        _ => Row::new(),
    }
}

/// What an action report's rows show of their load timings and
/// bandwidth, as Matomo's page performance and bandwidth plugins do: every
/// row has its bandwidth columns; a page report's rows have the columns
/// of each timing whose sum over the report's rows is above 0 (the sums
/// themselves are temporary metrics Matomo shows only when `showColumns`
/// or `hideColumns` is given); top rows get the averages.
#[derive(Debug, Clone, Default)]
pub(crate) struct PerfShape {
    pages: bool,
    timings: [bool; 6],
    sums: bool,
    /// Download or outlink rows: Matomo's `sum_time_spent` 0 (time is
    /// spent on pages) before the bandwidth.
    links: bool,
    /// The segment a row's label selects by (`pageUrl`, ...), if any.
    segment: Option<&'static str>,
    /// The site's main URL, which a folder's segment starts with.
    main_url: Option<String>,
    /// A page title tree's delimiter (Matomo's
    /// `action_title_category_delimiter`): its folders are categories, a
    /// title row shows its last one.
    title_delimiter: Option<String>,
}

impl PerfShape {
    /// The shape of a report of `kind` whose top rows are `rows`, on a
    /// site whose main URL is `main_url`.
    pub(crate) fn of(
        rows: &[ActionRow],
        kind: ActionReportKind,
        main_url: Option<&str>,
        t: &TableParams,
    ) -> PerfShape {
        let pages = kind.pages();
        PerfShape {
            pages,
            timings: std::array::from_fn(|f| pages && rows.iter().any(|r| r.perf.sum[f] > 0)),
            sums: !t.show_columns.is_empty() || !t.hide_columns.is_empty(),
            links: false,
            segment: match kind {
                ActionReportKind::PageUrls | ActionReportKind::PageUrlTree => Some("pageUrl"),
                ActionReportKind::PageTitles => Some("pageTitle"),
                ActionReportKind::Downloads => Some("downloadUrl"),
                ActionReportKind::Outlinks => Some("outlinkUrl"),
                ActionReportKind::SiteSearchKeywords => Some("siteSearchKeyword"),
                ActionReportKind::SiteSearchCategories => Some("siteSearchCategory"),
            },
            main_url: main_url.map(|u| u.trim_end_matches('/').to_owned()),
            title_delimiter: None,
        }
    }

    /// The shape of a page title tree whose categories `delimiter` joins.
    pub(crate) fn title_tree(self, delimiter: &str) -> PerfShape {
        PerfShape {
            title_delimiter: Some(delimiter.to_owned()),
            ..self
        }
    }

    /// The shape of download or outlink rows.
    pub(crate) fn links(self) -> PerfShape {
        PerfShape {
            links: true,
            ..self
        }
    }
}

/// Milliseconds as Matomo's archives write seconds (`0.0620`).
fn seconds(ms: u64) -> String {
    format!("{}.{:03}0", ms / 1000, ms % 1000)
}

/// An action report row (pages with their page metrics), with children;
/// `top`: a row of the report's first level (which gets the averages).
pub(crate) fn action_row(row: &ActionRow, shape: &PerfShape, top: bool) -> Row {
    action_row_under(row, shape, top, "")
}

/// [`action_row`] of a row under the folders `path` (`blog/category`).
fn action_row_under(row: &ActionRow, shape: &PerfShape, top: bool, path: &str) -> Row {
    let mut m = Row::new();
    let label = if let (Some(d), false) = (&shape.title_delimiter, row.is_folder()) {
        // A title row of a tree: its last category (the whole title
        // stays its segment's and its goal cells' key).
        let last = crate::site::title_categories_by(&row.label, Some(d))
            .last()
            .copied();
        m.insert("$title".into(), json!(row.label));
        std::borrow::Cow::Owned(crate::url::title_label(last.unwrap_or(&row.label)).into_owned())
    } else if shape.segment == Some("pageTitle") {
        crate::url::title_label(&row.label)
    } else {
        std::borrow::Cow::Borrowed(row.label.as_str())
    };
    m.insert("label".into(), json!(label));
    let counts = ActionRow::count_columns(shape.pages);
    // Matomo's order: counts and time spent, timings, bandwidth, then
    // entries and exits.
    let (before, after) = counts.split_at(counts.len().min(4));
    for (name, value) in before {
        m.insert((*name).into(), json!(value(row)));
    }
    if shape.links {
        m.insert("sum_time_spent".into(), json!(0));
    }
    let p = &row.perf;
    let leaf = !row.is_folder();
    for (f, name) in Perf::TIMINGS.iter().enumerate() {
        if !shape.timings[f] {
            continue;
        }
        if shape.sums {
            // A page's sum as its archive writes it; a folder's added up.
            let sum = if leaf {
                json!(seconds(p.sum[f]))
            } else {
                json!(p.sum[f] as f64 / 1000.0)
            };
            m.insert(format!("sum_time_{name}"), sum);
        }
        m.insert(format!("nb_hits_with_time_{name}"), json!(p.hits[f]));
        m.insert(format!("min_time_{name}"), json!(p.least(f).map(seconds)));
        m.insert(format!("max_time_{name}"), json!(p.most(f).map(seconds)));
    }
    m.insert("sum_bandwidth".into(), json!(p.sum[6]));
    m.insert("nb_hits_with_bandwidth".into(), json!(p.hits[6]));
    m.insert("min_bandwidth".into(), json!(p.least(6)));
    m.insert("max_bandwidth".into(), json!(p.most(6)));
    for (name, value) in after {
        m.insert((*name).into(), json!(value(row)));
    }
    if shape.segment == Some("siteSearchKeyword") {
        m.insert(
            "nb_pages_per_search".into(),
            per_search(row.nb_hits, row.nb_visits),
        );
    }
    if row.nb_hits_following_search > 0 {
        m.insert(
            "nb_hits_following_search".into(),
            json!(row.nb_hits_following_search),
        );
    }
    if top {
        // Matomo's averages: whole bytes (rounded down), seconds to
        // three decimals, the page load time their sum.
        let avg_bytes = p.sum[6].checked_div(p.hits[6]).unwrap_or(0);
        m.insert("avg_bandwidth".into(), json!(avg_bytes));
        if shape.pages {
            let mut load = 0u64;
            for (f, name) in Perf::TIMINGS.iter().enumerate() {
                if shape.timings[f] {
                    let avg = thousandths(p.sum[f], p.hits[f]);
                    load += avg;
                    m.insert(format!("avg_time_{name}"), in_seconds(avg));
                }
            }
            m.insert("avg_page_load_time".into(), in_seconds(load));
        }
    }
    // Matomo's metadata: a page's URL, the segment that selects the row.
    let folder_path = match (row.is_folder(), path) {
        (false, _) => String::new(),
        (true, "") => row.label.clone(),
        (true, p) => format!(
            "{p}{}{}",
            shape.title_delimiter.as_deref().unwrap_or("/"),
            row.label
        ),
    };
    if let Some(url) = &row.url {
        m.insert("url".into(), json!(url));
    }
    if let Some(segment) = row_segment(row, shape, &folder_path) {
        m.insert("segment".into(), json!(segment));
    }
    if row.is_folder() {
        m.insert(
            "subtable".into(),
            Value::Array(
                row.subtable
                    .iter()
                    .map(|c| Value::Object(action_row_under(c, shape, false, &folder_path)))
                    .collect(),
            ),
        );
    }
    m
}

/// The segment that selects an action row's actions, as Matomo writes it:
/// a page's URL or a title twice encoded (`pageUrl==http%253A%252F%252F`),
/// a folder by its URL's start (`pageUrl=^`, from the site's main URL), a
/// keyword once; a download's or outlink's domain has none.
fn row_segment(row: &ActionRow, shape: &PerfShape, folder_path: &str) -> Option<String> {
    let field = shape.segment?;
    let twice = |v: &str| enc(&enc(v));
    Some(match field {
        "pageUrl" if row.is_folder() => {
            let main = shape.main_url.clone().or_else(|| {
                let url = first_leaf_url(row)?;
                let host_end = url.find("://").map(|i| i + 3)?;
                let end = url[host_end..]
                    .find('/')
                    .map_or(url.len(), |i| host_end + i);
                Some(url[..end].to_owned())
            })?;
            format!("pageUrl=^{}", twice(&format!("{main}/{folder_path}")))
        }
        "pageUrl" => format!("pageUrl=={}", twice(row.url.as_deref()?)),
        // A title folder: the titles that start with its categories.
        "pageTitle" if row.is_folder() => format!("pageTitle=^{}", twice(folder_path)),
        "pageTitle" if row.label == crate::report::UNTITLED => "pageTitle==".into(),
        "pageTitle" => format!("pageTitle=={}", twice(&row.label)),
        "siteSearchKeyword" => format!("siteSearchKeyword=={}", enc(&row.label)),
        // Links: the URL rows (their label is the URL here), HTML-escaped
        // as Matomo stores a clicked URL (`&amp;`; `segment::parse` reads
        // it back).
        _ if row.is_folder() => return None,
        _ => format!("{field}=={}", twice(&crate::url::html_escape(&row.label))),
    })
}

/// The URL of a folder's first page row, depth first.
fn first_leaf_url(row: &ActionRow) -> Option<&str> {
    row.url
        .as_deref()
        .or_else(|| row.subtable.iter().find_map(first_leaf_url))
}

/// Thousandths of a second as a number of seconds (whole: an integer).
fn in_seconds(thousandths: u64) -> Value {
    if thousandths.is_multiple_of(1000) {
        json!(thousandths / 1000)
    } else {
        json!(thousandths as f64 / 1000.0)
    }
}

/// `ms / hits` milliseconds in whole thousandths of a second, rounded
/// half away from zero as PHP's `round(x, 3)` (0 without hits).
fn thousandths(ms: u64, hits: u64) -> u64 {
    if hits == 0 {
        return 0;
    }
    // ms / hits milliseconds = thousandths; round the division.
    (2 * ms + hits) / (2 * hits)
}

/// Rows of an action report kind.
pub(crate) fn action_rows(
    sel: &Selection<'_>,
    kind: ActionReportKind,
    t: &TableParams,
) -> Vec<Row> {
    let flat = t.flat;
    let rows = match kind {
        ActionReportKind::Downloads if !flat => {
            return link_tree_rows(&sel.url_tree(HitType::Download), kind, t);
        }
        ActionReportKind::Outlinks if !flat => {
            return link_tree_rows(&sel.url_tree(HitType::Outlink), kind, t);
        }
        ActionReportKind::PageUrlTree if flat => sel.action_report(ActionReportKind::PageUrls),
        ActionReportKind::PageTitles if !flat => {
            if let Some(d) = sel.site.config.title_delimiter() {
                let rows = sel.title_tree();
                let shape = PerfShape::of(&rows, kind, None, t).title_tree(d);
                return rows.iter().map(|r| action_row(r, &shape, true)).collect();
            }
            sel.action_report(kind)
        }
        k => sel.action_report(k),
    };
    let main_url = sel.site.config.main_url.as_deref();
    action_rows_of(&rows, kind, main_url, t)
}

/// Whether a page title report of `site` is a tree of title categories
/// (not flat, and the site has a delimiter): its rows come from the
/// days (report rollups keep the flat titles).
pub(crate) fn title_tree(
    site: &crate::site::SiteConfig,
    kind: ActionReportKind,
    t: &TableParams,
) -> bool {
    kind == ActionReportKind::PageTitles && !t.flat && site.title_delimiter().is_some()
}

/// A downloads or outlinks report by domain in Matomo's shape: each of a
/// domain's URLs labelled by the path under the domain
/// (`/files/a.pdf?v=2`) with its `url`; no time spent (Matomo's
/// `sum_time_spent` 0: the time goes to the page the link was clicked
/// on). A domain's row keeps its exact unique visitors (Matomo has none).
pub(crate) fn link_tree_rows(
    rows: &[ActionRow],
    kind: ActionReportKind,
    t: &TableParams,
) -> Vec<Row> {
    let shape = PerfShape::of(rows, kind, None, t).links();
    rows.iter()
        .map(|r| {
            let mut domain = action_row(r, &shape, true);
            if let Some(Value::Array(urls)) = domain.get_mut("subtable") {
                for u in urls.iter_mut().filter_map(Value::as_object_mut) {
                    let url = u
                        .get("label")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned();
                    u.insert("label".into(), json!(crate::url::link_label(&url)));
                    u.insert("url".into(), json!(url));
                }
            }
            domain
        })
        .collect()
}

/// Rows of an action report's rows (`pages`: with page columns). Rows
/// of a flat report that the filters `t` would only offset and limit are
/// cut to what they keep first: a year of thousands of URLs asked for its
/// top 100 builds 100 rows, not thousands.
pub(crate) fn action_rows_of(
    rows: &[ActionRow],
    kind: ActionReportKind,
    main_url: Option<&str>,
    t: &TableParams,
) -> Vec<Row> {
    let flat = rows.iter().all(|r| !r.is_folder());
    let keep = if flat && t.passes_flat_rows() {
        t.offset
            .saturating_add(t.rows_wanted(crate::table::DEFAULT_LIMIT))
            .min(rows.len())
    } else {
        rows.len()
    };
    if kind == ActionReportKind::SiteSearchCategories {
        return rows[..keep].iter().map(category_row).collect();
    }
    let shape = PerfShape::of(rows, kind, main_url, t);
    rows[..keep]
        .iter()
        .map(|r| action_row(r, &shape, true))
        .collect()
}

/// The row of one page (`Actions.getPageUrl`, `getPageTitle`) as
/// Matomo's: its archived row as it is, without the page performance
/// columns Matomo's page reports add, its bandwidth columns only when it
/// had some (`avg_bandwidth` always), and no segment.
pub(crate) fn one_page_row(row: &ActionRow, kind: ActionReportKind, t: &TableParams) -> Row {
    let shape = PerfShape {
        timings: [false; 6],
        ..PerfShape::of(std::slice::from_ref(row), kind, None, t)
    };
    let mut m = action_row(row, &shape, true);
    m.shift_remove("segment");
    m.shift_remove("avg_page_load_time");
    if row.perf.hits[6] == 0 {
        for c in [
            "sum_bandwidth",
            "nb_hits_with_bandwidth",
            "min_bandwidth",
            "max_bandwidth",
        ] {
            m.shift_remove(c);
        }
    }
    m
}

/// A site search category's row, as Matomo's: its visits, searches
/// (`nb_actions`), searches per visit and segment.
fn category_row(row: &ActionRow) -> Row {
    let mut m = Row::new();
    m.insert("label".into(), json!(row.label));
    m.insert("nb_visits".into(), json!(row.nb_visits));
    m.insert("nb_actions".into(), json!(row.nb_hits));
    m.insert(
        "nb_pages_per_search".into(),
        per_search(row.nb_hits, row.nb_visits),
    );
    m.insert(
        "segment".into(),
        json!(format!("siteSearchCategory=={}", enc(&row.label))),
    );
    m
}

/// Matomo's `nb_pages_per_search`: searches (or result pages) per visit,
/// to one decimal (a whole number as an integer).
fn per_search(searches: u64, visits: u64) -> Value {
    if visits == 0 {
        return json!(0);
    }
    // Tenths, rounded half up.
    let tenths = (20 * searches + visits) / (2 * visits);
    if tenths.is_multiple_of(10) {
        json!(tenths / 10)
    } else {
        json!(tenths as f64 / 10.0)
    }
}

fn event_row(e: &EventRow) -> Row {
    let mut m = Row::new();
    m.insert("label".into(), json!(e.label));
    m.insert("nb_events".into(), json!(e.nb_events));
    m.insert("nb_visits".into(), json!(e.nb_visits));
    m.insert("nb_uniq_visitors".into(), json!(e.nb_uniq_visitors));
    m.insert("sum_event_value".into(), json!(e.sum_event_value));
    // Without a valued event there is no minimum or maximum (Matomo's
    // empty cells).
    m.insert("min_event_value".into(), json!(e.min_event_value));
    m.insert("max_event_value".into(), json!(e.max_event_value));
    m.insert("nb_events_with_value".into(), json!(e.nb_events_with_value));
    // Unnamed events have no row in a subtable by name (Matomo's: an
    // event's name is optional, its category and action are not).
    let sub: Vec<Value> = e
        .sub
        .iter()
        .filter(|c| c.label != crate::breakdown::EVENT_NAME_NOT_DEFINED)
        .map(|c| Value::Object(event_row(c)))
        .collect();
    if !sub.is_empty() {
        m.insert("subtable".into(), Value::Array(sub));
    }
    m
}

pub(crate) fn event_segment(part: EventPart) -> &'static str {
    match part {
        EventPart::Category => "eventCategory",
        EventPart::Action => "eventAction",
        EventPart::Name => "eventName",
    }
}

/// Events by one part with subtables by another.
pub(crate) fn event_rows(sel: &Selection<'_>, by: EventPart, sub: EventPart) -> Vec<Row> {
    event_rows_of(&sel.event_report(by, sub), by)
}

/// Rows of an event report from its rows (a selection's, or rollups').
pub(crate) fn event_rows_of(rows: &[EventRow], by: EventPart) -> Vec<Row> {
    rows.iter()
        .map(|e| {
            let mut m = event_row(e);
            // Unnamed events' row has no segment, nor has a subtable's
            // row (as Matomo's).
            let own = event_condition(by, &e.label);
            if let Some(own) = own {
                m.insert("segment".into(), json!(own));
            }
            m
        })
        .collect()
}

/// A contents report's rows (`Contents.getContentNames`,
/// `getContentPieces`) in Matomo's shape: the top rows with their
/// segment (none for `Content Piece not defined`), the subtable's
/// without.
pub(crate) fn content_rows(
    rows: &[crate::contents::ContentRow],
    by: crate::contents::ContentsBy,
) -> Vec<Row> {
    fn row(c: &crate::contents::ContentRow) -> Row {
        let mut m = Row::new();
        m.insert("label".into(), json!(c.shown_label()));
        m.insert("nb_uniq_visitors".into(), json!(c.visitors));
        m.insert("nb_visits".into(), json!(c.visits));
        m.insert("nb_impressions".into(), json!(c.impressions));
        m.insert("nb_interactions".into(), json!(c.interactions));
        if !c.sub.is_empty() {
            m.insert(
                "subtable".into(),
                Value::Array(c.sub.iter().map(|s| Value::Object(row(s))).collect()),
            );
        }
        m
    }
    rows.iter()
        .map(|c| {
            let mut m = row(c);
            if let Some(label) = &c.label {
                m.insert(
                    "segment".into(),
                    json!(format!("{}=={}", by.segment(), enc(label))),
                );
            }
            m
        })
        .collect()
}

/// An event row's segment; none for unnamed events' row (as Matomo's).
/// The label is HTML-escaped first, as Matomo stores an event's parts
/// (the segment reads it back: `segment::parse`).
fn event_condition(part: EventPart, label: &str) -> Option<String> {
    (label != crate::breakdown::EVENT_NAME_NOT_DEFINED).then(|| {
        let escaped = crate::url::html_escape(label);
        format!("{}=={}", event_segment(part), enc(&escaped))
    })
}

/// A dimension report's rows with Matomo's row segment (device types
/// in Matomo's shape: [`device_type_rows`]).
pub(crate) fn dimension_rows(
    rows: &[DimensionRow],
    segment_name: &str,
    cells: &GoalColumns,
) -> Vec<Row> {
    let out = plain_dimension_rows(rows, segment_name, cells);
    match segment_name {
        "deviceType" => device_type_rows(out),
        "browserName" | "operatingSystemName" => software_rows(out, segment_name == "browserName"),
        _ => out,
    }
}

/// Matomo's `DevicesDetection.getBrowsers` and `getOsFamilies` rows:
/// each with its DeviceDetector icon (`logo`); a browser's segment by its
/// code (`browserCode==FF`, by name when the name has no code); the
/// operating systems without a segment, as Matomo's families.
fn software_rows(mut rows: Vec<Row>, browser: bool) -> Vec<Row> {
    for row in &mut rows {
        let label = row.get("label").and_then(Value::as_str).unwrap_or(UNKNOWN);
        let name = (label != UNKNOWN).then_some(label);
        let logo = if browser {
            crate::device_codes::browser_logo(name)
        } else {
            crate::device_codes::os_logo(name)
        };
        if !browser {
            row.shift_remove("segment");
        } else if let Some(code) = name.and_then(crate::device_codes::browser_code) {
            row.insert("segment".into(), json!(format!("browserCode=={code}")));
        }
        row.insert("logo".into(), json!(logo));
    }
    rows
}

/// Matomo's `DevicesDetection.getType`: each device type labelled as
/// Matomo shows it (`Desktop`) with its icon (`logo`), the row of no type
/// `Unknown` without a segment, and when the report has rows, every other
/// device type with no visits after them (label, `nb_visits` 0, segment,
/// icon), in Matomo's order (by label, case and spaces ignored).
fn device_type_rows(mut rows: Vec<Row>) -> Vec<Row> {
    let logo = |code: &str| json!(crate::names::device_type_logo(code));
    let mut seen: Vec<String> = Vec::new();
    for row in &mut rows {
        let label = row
            .get("label")
            .and_then(Value::as_str)
            .unwrap_or(UNKNOWN)
            .to_owned();
        if label == UNKNOWN {
            row.shift_remove("segment");
            row.insert("logo".into(), logo("unknown"));
        } else if crate::names::DEVICE_TYPES.contains(&label.as_str()) {
            row.insert(
                "label".into(),
                json!(crate::names::device_type_label(&label)),
            );
            row.insert("logo".into(), logo(&label));
        }
        seen.push(label);
    }
    if rows.is_empty() {
        return rows;
    }
    let mut missing: Vec<&str> = crate::names::DEVICE_TYPES
        .iter()
        .copied()
        .filter(|code| !seen.iter().any(|s| s == code))
        .collect();
    let key = |code: &str| code.replace(' ', "").to_lowercase();
    missing.sort_by_key(|code| key(code));
    rows.extend(missing.into_iter().map(|code| {
        let mut m = Row::new();
        m.insert("label".into(), json!(crate::names::device_type_label(code)));
        m.insert("nb_visits".into(), json!(0));
        m.insert(
            "segment".into(),
            json!(format!("deviceType=={}", enc(code))),
        );
        m.insert("logo".into(), logo(code));
        m
    }));
    rows
}

/// The host part of a URL as Matomo's icons name it (`google.com` of
/// `http://google.com/x`, the text itself without a scheme).
fn icon_host(url: &str) -> &str {
    let rest = url.split_once("//").map_or(url, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest)
}

/// Matomo's icon of a search engine by its URL (`xx` for none).
pub(super) fn search_engine_logo(url: Option<&str>) -> String {
    format!(
        "plugins/Morpheus/icons/dist/searchEngines/{}.png",
        url.map_or("xx", icon_host)
    )
}

/// Matomo's icon of a social network by its main URL.
pub(super) fn social_logo(url: &str) -> String {
    format!("plugins/Morpheus/icons/dist/socials/{}.png", icon_host(url))
}

/// Matomo's label of a device model row: `Apple - iPhone`, `Generic
/// Desktop` for a visit without a model of a known device type, the
/// model alone without a brand, `Unknown` without either.
pub(super) fn model_label(brand: &str, model: &str) -> String {
    let model = match model.strip_prefix("generic ") {
        Some(kind) => format!("Generic {}", crate::names::device_type_label(kind)),
        None if model.is_empty() => UNKNOWN.to_owned(),
        None => model.to_owned(),
    };
    if brand == UNKNOWN {
        model
    } else {
        format!("{brand} - {model}")
    }
}

/// Matomo's name of a browser engine (`Blink (Chrome, Opera)`).
pub(super) fn engine_label(engine: &str) -> &str {
    match engine {
        "Trident" => "Trident (IE)",
        "Gecko" => "Gecko (Firefox)",
        "KHTML" => "KHTML (Konqueror)",
        "Presto" => "Presto (Opera)",
        "WebKit" => "WebKit (Safari)",
        "Blink" => "Blink (Chrome, Opera)",
        other => other,
    }
}

/// A dimension report's rows with Matomo's row segment, as they are.
fn plain_dimension_rows(
    rows: &[DimensionRow],
    segment_name: &str,
    cells: &GoalColumns,
) -> Vec<Row> {
    // The user ids report has rows of users only (Matomo's).
    let users = segment_name == "userId";
    rows.iter()
        .filter(|row| !users || row.label.is_some())
        .map(|row| {
            let mut m = labelled(row.label.as_deref().unwrap_or(UNKNOWN), &row.metrics);
            cells.put(&mut m, &(row.label.clone(), None));
            m.insert(
                "segment".into(),
                json!(format!(
                    "{segment_name}=={}",
                    row.label.as_deref().map(enc).unwrap_or_default()
                )),
            );
            m
        })
        .collect()
}

/// The dimension of a stored-field report.
pub(crate) fn field_dimension(f: FieldKind) -> Dimension {
    match f {
        FieldKind::Device => Dimension::DeviceType,
        FieldKind::Browser => Dimension::Browser,
        FieldKind::User => Dimension::User,
    }
}

fn range_field(g: Grouping) -> &'static str {
    match g {
        Grouping::Duration => "visitDuration",
        Grouping::Pages => "actions",
        Grouping::VisitCount => "visitCount",
        _ => "daysSinceLastVisit",
    }
}

/// Matomo's API label of an hour: two digits (`00` to `23`).
pub(crate) fn hour_label(h: u32) -> String {
    format!("{h:02}")
}

const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// Rows of a visits-grouped report, in Matomo's shape and order.
pub(crate) fn group_rows(sel: &Selection<'_>, g: Grouping, cells: &GoalColumns) -> Vec<Row> {
    let keys = sel.site.visit_keys();
    let bounds = ranges(g);
    let groups =
        sel.group_visits(|cut| keys.key_of(g, &bounds, &cut.at(), &std::cell::OnceCell::new()));
    let new_visits = (g == Grouping::DaysSinceLast).then(|| sel.visit_frequency().new.nb_visits);
    group_rows_of(g, &groups, cells, new_visits)
}

/// A visits-grouped report's rows from its groups; `new_visits`: the
/// new visits, Matomo's first row of the days-since-last-visit report.
pub(crate) fn group_rows_of(
    g: Grouping,
    groups: &[Group],
    cells: &GoalColumns,
    new_visits: Option<u64>,
) -> Vec<Row> {
    // Matomo's report of a period without visits is empty: no placeholder
    // hours, weekdays or ranges of zeros.
    if groups.iter().all(|x| x.metrics.nb_visits == 0) && new_visits.unwrap_or(0) == 0 {
        return Vec::new();
    }
    let bounds = ranges(g);
    match g {
        Grouping::ServerHour | Grouping::LocalHour | Grouping::DayOfWeek => {
            let (count, first) = if g == Grouping::DayOfWeek {
                (7, 1)
            } else {
                (24, 0)
            };
            let field = match g {
                Grouping::ServerHour => Some("visitStartServerHour"),
                Grouping::LocalHour => Some("visitLocalHour"),
                _ => None,
            };
            let mut rows: Vec<Row> = (first..first + count)
                .map(|k: u32| {
                    let s = groups
                        .iter()
                        .find(|x| x.label == k.to_string())
                        .map(|x| x.metrics)
                        .unwrap_or_default();
                    let label = if g == Grouping::DayOfWeek {
                        WEEKDAYS[k as usize - 1].to_owned()
                    } else {
                        hour_label(k)
                    };
                    let mut m = labelled(&label, &s);
                    if g == Grouping::DayOfWeek && s.nb_visits == 0 {
                        // Matomo's weekday without visits: its visits (0)
                        // and its number, nothing else.
                        m.retain(|k, _| k == "label" || k == "nb_visits");
                    } else {
                        if g == Grouping::DayOfWeek {
                            // Matomo's weekday rows have no maximum.
                            m.shift_remove("max_actions");
                        }
                        cells.put(&mut m, &(Some(k.to_string()), None));
                    }
                    match field {
                        Some(f) => {
                            m.insert("segment".into(), json!(format!("{f}=={k}")));
                        }
                        None => {
                            m.insert("day_of_week".into(), json!(k));
                        }
                    }
                    m
                })
                .collect();
            if let Some(unknown) = groups.iter().find(|x| x.label == UNKNOWN) {
                let mut m = labelled(UNKNOWN, &unknown.metrics);
                cells.put(&mut m, &(Some(UNKNOWN.to_owned()), None));
                rows.push(m);
            }
            rows
        }
        Grouping::Duration | Grouping::Pages | Grouping::VisitCount | Grouping::DaysSinceLast => {
            let total: u64 = groups.iter().map(|x| x.metrics.nb_visits).sum();
            let mut rows: Vec<Row> = Vec::new();
            if let Some(n) = new_visits {
                let mut m = Row::new();
                m.insert("label".into(), json!("New visits"));
                m.insert("nb_visits".into(), json!(n));
                m.insert("segment".into(), json!("visitorType==new"));
                rows.push(m);
            }
            rows.extend(bounds.iter().enumerate().map(|(i, range)| {
                let visits = groups
                    .iter()
                    .find(|x| x.label == i.to_string())
                    .map_or(0, |x| x.metrics.nb_visits);
                let field = range_field(g);
                // Matomo's: one value is `==`, a range `>=;<=`; a duration
                // row of minutes starts its segment at its whole minute
                // (`1-2 min` is `>=60;<=120`: Matomo's segment metadata
                // names the minutes of the label, while the row counts
                // visits of 61 to 120 seconds).
                let low = match (g, range.high) {
                    (Grouping::Duration, Some(_)) if range.low > 60 => range.low - 1,
                    _ => range.low,
                };
                let segment = match range.high {
                    Some(h) if h == low => format!("{field}=={h}"),
                    Some(h) => format!("{field}>={low};{field}<={h}"),
                    None => format!("{field}>={low}"),
                };
                let mut m = Row::new();
                m.insert("label".into(), json!(range.label));
                m.insert("nb_visits".into(), json!(visits));
                if g == Grouping::VisitCount {
                    // The share of the report's visits (`nb_visits_percentage`).
                    m.insert(table::VISITS_TOTAL.into(), json!(total));
                }
                m.insert("segment".into(), json!(segment));
                m
            }));
            rows
        }
        Grouping::Plugins => plugin_rows(groups),
        _ => rows_of_groups(g, groups, cells),
    }
}

/// `DevicePlugins.getPlugin`'s rows from the visits by plugin set
/// ([`crate::visit_key::plugins_key`]): each plugin's visits, as a share
/// of the visits whose browser is not Internet Explorer 6 to 10 (at most
/// 100 %, as Matomo's range check), every plugin a row; by visits, then
/// name.
fn plugin_rows(groups: &[Group]) -> Vec<Row> {
    use crate::visit_key::plugins_of_key;
    let total: u64 = groups
        .iter()
        .filter(|x| !plugins_of_key(&x.label).0)
        .map(|x| x.metrics.nb_visits)
        .sum();
    let mut rows: Vec<Row> = crate::hit::PLUGIN_NAMES
        .iter()
        .map(|(name, _)| {
            let visits: u64 = groups
                .iter()
                .filter(|x| plugins_of_key(&x.label).1.any(|p| p == *name))
                .map(|x| x.metrics.nb_visits)
                .sum();
            let mut m = Row::new();
            let mut label = name.to_string();
            label[..1].make_ascii_uppercase();
            m.insert("label".into(), json!(label));
            m.insert("nb_visits".into(), json!(visits));
            m.insert(table::VISITS_TOTAL.into(), json!(total.max(visits)));
            m.insert("logo".into(), json!(crate::device_codes::plugin_logo(name)));
            m
        })
        .collect();
    sort_by_visits_then_label(&mut rows);
    rows
}

/// The groups a grouping by one stored visit field gives (`Country`,
/// `LanguageCode`: the value as it is, or "Unknown"), from that field's
/// dimension rows; `None` if a value is literally "Unknown" and visits
/// without one exist too (the grouping merges them).
pub(crate) fn field_groups(rows: &[DimensionRow]) -> Option<Vec<Group>> {
    let mut groups: Vec<Group> = rows
        .iter()
        .map(|r| Group {
            label: r.label.clone().unwrap_or_else(|| UNKNOWN.to_owned()),
            metrics: r.metrics,
            sub: Vec::new(),
        })
        .collect();
    groups.sort_by(|a, b| {
        b.metrics
            .nb_visits
            .cmp(&a.metrics.nb_visits)
            .then_with(|| a.label.cmp(&b.label))
    });
    let unknown = groups.iter().filter(|g| g.label == UNKNOWN).count();
    (unknown <= 1).then_some(groups)
}

/// A grouped report's rows from its groups (a grouping whose rows are
/// one per group, with no fixed set of labels).
pub(crate) fn rows_of_groups(g: Grouping, groups: &[Group], cells: &GoalColumns) -> Vec<Row> {
    let mut rows: Vec<Row> = groups
        .iter()
        // Matomo's Referrers.getAll merges the referrer types' subtables:
        // direct entries, which have none, are not in it.
        .filter(|x| g != Grouping::ReferrerAll || !x.label.starts_with(&format!("0{SEP}")))
        .map(|x| group_row(g, x, cells))
        .collect();
    if g == Grouping::Model {
        // A model's key starts with its brand; rows of as many visits are
        // in the order of their labels (`Apple - iPhone`, `Generic ...`).
        sort_by_visits_then_label(&mut rows);
    }
    rows
}

/// Rows by visits, then label (Matomo's order of a table it built row by
/// row).
pub(crate) fn sort_by_visits_then_label(rows: &mut [Row]) {
    let visits = |r: &Row| r.get("nb_visits").and_then(Value::as_u64).unwrap_or(0);
    let label = |r: &Row| {
        r.get("label")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    rows.sort_by_cached_key(|r| (std::cmp::Reverse(visits(r)), label(r)));
}

fn group_row(g: Grouping, x: &Group, cells: &GoalColumns) -> Row {
    if matches!(g, Grouping::Region | Grouping::City) {
        return location_row(g == Grouping::City, x, cells);
    }
    let label = x.label.as_str();
    let unknown = label == UNKNOWN;
    let mut extra: Vec<(&str, Value)> = Vec::new();
    // Columns after the row's segment.
    let mut tail: Vec<(&str, Value)> = Vec::new();
    let (shown, segment): (String, Option<String>) = match g {
        Grouping::BrowserVersion | Grouping::OsVersion => {
            let browser = g == Grouping::BrowserVersion;
            let code_of = |name: &str| -> Option<&'static str> {
                if browser {
                    crate::device_codes::browser_code(name)
                } else {
                    crate::device_codes::os_code(name)
                }
            };
            let (name, version) = split_version(label, code_of);
            let code = code_of(name);
            let known = (!unknown).then_some(name);
            extra.push((
                "logo",
                json!(if browser {
                    crate::device_codes::browser_logo(known)
                } else {
                    crate::device_codes::os_logo(known)
                }),
            ));
            // Matomo's: by the code (`browserCode==FF;browserVersion==3.6`),
            // by the name when it has none.
            let (name_field, code_field, version_field) = if browser {
                ("browserName", "browserCode", "browserVersion")
            } else {
                (
                    "operatingSystemName",
                    "operatingSystemCode",
                    "operatingSystemVersion",
                )
            };
            let segment = (!unknown).then(|| {
                let what = match code {
                    Some(c) => format!("{code_field}=={c}"),
                    None => format!("{name_field}=={}", enc(name)),
                };
                match version {
                    Some(v) => format!("{what};{version_field}=={}", enc(v)),
                    None => what,
                }
            });
            (label.to_owned(), segment)
        }
        // Matomo's families: the icon of the family's system, no segment.
        Grouping::OsFamily => {
            extra.push((
                "logo",
                json!(crate::device_codes::os_logo((!unknown).then_some(label))),
            ));
            (label.to_owned(), None)
        }
        Grouping::Brand => {
            let file = if unknown {
                "unk".to_owned()
            } else {
                label.replace(' ', "_")
            };
            extra.push((
                "logo",
                json!(format!("plugins/Morpheus/icons/dist/brand/{file}.png")),
            ));
            (
                label.to_owned(),
                Some(format!("deviceBrand=={}", enc(label))),
            )
        }
        Grouping::Model => {
            let (brand, model) = label.split_once(SEP).unwrap_or(("", label));
            let brand = if brand.is_empty() { UNKNOWN } else { brand };
            (
                model_label(brand, model),
                Some(format!(
                    "deviceBrand=={};deviceModel=={}",
                    enc(brand),
                    enc(model)
                )),
            )
        }
        Grouping::Engine => (
            engine_label(label).to_owned(),
            Some(format!(
                "browserEngine=={}",
                if unknown { String::new() } else { enc(label) }
            )),
        ),
        // Matomo's placeholders for no value: `unknown`, `xx` (the
        // segments select the visits without one).
        Grouping::Resolution if unknown => {
            ("unknown".to_owned(), Some("resolution==unknown".into()))
        }
        Grouping::Resolution => (
            label.to_owned(),
            Some(format!("resolution=={}", enc(label))),
        ),
        // Matomo's configuration rows have no segment.
        Grouping::Configuration => (label.to_owned(), None),
        // Matomo's continent rows carry their code, no segment.
        Grouping::Continent => {
            let name = crate::names::continent(label).unwrap_or(UNKNOWN);
            // Matomo's `code` is the continent's name too.
            extra.push(("code", json!(name)));
            (name.to_owned(), None)
        }
        Grouping::Country => {
            let code = if unknown { "xx" } else { label };
            let lower = code.to_ascii_lowercase();
            // Matomo's flag (its UI's icon path) and its height.
            extra.push(("code", json!(lower)));
            extra.push((
                "logo",
                json!(format!("plugins/Morpheus/icons/dist/flags/{lower}.png")),
            ));
            tail.push(("logoHeight", json!(16)));
            (
                crate::names::country(code)
                    .map_or(UNKNOWN, |(n, _)| n)
                    .to_owned(),
                // Matomo's `xx` names the visits without a country.
                Some(format!("countryCode=={}", enc(code))),
            )
        }
        Grouping::Language if unknown => (UNKNOWN.to_owned(), Some("languageCode==xx".into())),
        Grouping::Language => (
            crate::names::language_label(label),
            // Matomo's: the code itself, or any of its regional codes.
            Some(format!(
                "languageCode=={code},languageCode=@{code}-",
                code = enc(label)
            )),
        ),
        Grouping::LanguageCode if unknown => {
            (format!("{UNKNOWN} (xx)"), Some("languageCode==xx".into()))
        }
        Grouping::LanguageCode => (
            crate::names::language_code_label(label),
            Some(format!("languageCode=={}", enc(label))),
        ),
        Grouping::ReferrerType => {
            let kind = label
                .parse::<usize>()
                .ok()
                .and_then(|i| ReferrerType::ALL.get(i).copied());
            let kind = kind.unwrap_or(ReferrerType::Direct);
            tail.push(("referrer_type", json!(kind.matomo_id())));
            (
                kind.label().to_owned(),
                Some(format!("referrerType=={}", kind.name())),
            )
        }
        Grouping::ReferrerAll => {
            let (kind, name) = label.split_once(SEP).unwrap_or(("0", label));
            let kind = kind
                .parse::<usize>()
                .ok()
                .and_then(|i| ReferrerType::ALL.get(i).copied());
            let kind = kind.unwrap_or(ReferrerType::Direct);
            extra.push(("referer_type", json!(kind.matomo_id())));
            // A referrer without a name: the segment of no name.
            let value = if name == UNKNOWN {
                String::new()
            } else {
                enc(name)
            };
            let segment = match kind {
                ReferrerType::Direct => "referrerType==direct".to_owned(),
                // Matomo names a website by its own segment (its row
                // under the websites type).
                ReferrerType::Website => format!("referrerName=={value}"),
                // A search row is a keyword (Referrers.getKeywords' row).
                ReferrerType::Search => {
                    let value = if name == KEYWORD_NOT_DEFINED {
                        String::new()
                    } else {
                        value
                    };
                    format!("referrerType=={};referrerKeyword=={value}", kind.name())
                }
                kind => format!("referrerType=={};referrerName=={value}", kind.name()),
            };
            (name.to_owned(), Some(segment))
        }
        Grouping::Referrer(part) => {
            let field = if part == ReferrerPart::Keyword {
                "referrerKeyword"
            } else {
                "referrerName"
            };
            let value = if label == KEYWORD_NOT_DEFINED || label == UNKNOWN {
                String::new()
            } else {
                enc(label)
            };
            if part == ReferrerPart::SearchEngine {
                // Matomo's engine URL (its first in the list) and icon.
                let url = crate::referrer_lists::lists().search_engine_url(label);
                tail.push(("url", json!(url.as_deref().unwrap_or("URL unknown!"))));
                tail.push(("logo", json!(search_engine_logo(url.as_deref()))));
            }
            if part == ReferrerPart::Social {
                // Matomo's network URL (its first domain in the list) and icon.
                if let Some(url) = crate::referrer_lists::lists().social_main_url(label) {
                    tail.push(("url", json!(url)));
                    tail.push(("logo", json!(social_logo(url))));
                }
            }
            // Matomo prepends the referrer type to the rows of these
            // reports (not to websites').
            let kind = match part {
                ReferrerPart::SearchEngine | ReferrerPart::Keyword => "referrerType==search;",
                ReferrerPart::Campaign => "referrerType==campaign;",
                ReferrerPart::Social => "referrerType==social;",
                ReferrerPart::Website | ReferrerPart::AiAssistant => "",
            };
            (label.to_owned(), Some(format!("{kind}{field}=={value}")))
        }
        _ => (label.to_owned(), None),
    };
    let mut m = labelled(&shown, &x.metrics);
    cells.put(&mut m, &(Some(x.label.clone()), None));
    for (k, v) in extra {
        m.insert(k.into(), v);
    }
    if !x.sub.is_empty() {
        let child_field = match g {
            Grouping::ReferrerType => "referrerName",
            Grouping::Referrer(ReferrerPart::SearchEngine | ReferrerPart::Campaign) => {
                "referrerKeyword"
            }
            Grouping::Referrer(ReferrerPart::Keyword) => "referrerName",
            _ => "referrerUrl",
        };
        let children = x
            .sub
            .iter()
            .map(|c| {
                let mut row = labelled(&c.label, &c.metrics);
                let key = (Some(x.label.clone()), Some(c.label.clone()));
                if matches!(g, Grouping::Referrer(_)) {
                    // Matomo's expanded subtables of the referrer reports
                    // (a website's URLs, a keyword's search engines, ...)
                    // carry the converted visits alone, and no segment.
                    cells.put_converted(&mut row, &key);
                    return Value::Object(row);
                }
                cells.put(&mut row, &key);
                if let Some(own) = &segment {
                    let value = if c.label == KEYWORD_NOT_DEFINED || c.label == UNKNOWN {
                        String::new()
                    } else {
                        enc(&c.label)
                    };
                    // Matomo's websites under a referrer type are named
                    // by their own segment (as in Referrers.getWebsites).
                    let websites = g == Grouping::ReferrerType && own == "referrerType==website";
                    // A search engine type's rows are keywords.
                    let field = if g == Grouping::ReferrerType && own == "referrerType==search" {
                        "referrerKeyword"
                    } else {
                        child_field
                    };
                    let segment = if websites {
                        format!("{field}=={value}")
                    } else {
                        format!("{own};{field}=={value}")
                    };
                    row.insert("segment".into(), json!(segment));
                }
                Value::Object(row)
            })
            .collect();
        m.insert("subtable".into(), Value::Array(children));
    }
    if let Some(s) = segment {
        m.insert("segment".into(), json!(s));
    }
    for (k, v) in tail {
        m.insert(k.into(), v);
    }
    m
}

/// A `UserCountry.getRegion` or `getCity` row, as Matomo's: the label
/// `Ashburn, Virginia, United States` (the region left out when the
/// visits had none, `Unknown` for visits without a region or city), the
/// codes (`xx` for none), names, flag and segment; a city's latitude and
/// longitude are the largest its visits carried (Matomo's `MAX`), to 3
/// decimals. The row's subtable (the names and coordinates its visits
/// carried) is not shown; its name is the one most of them carried.
fn location_row(city: bool, x: &Group, cells: &GoalColumns) -> Row {
    let name_of = |code: &str| crate::names::country(code).map_or(UNKNOWN, |(n, _)| n);
    let flag = |code: &str| json!(format!("plugins/Morpheus/icons/dist/flags/{code}.png"));
    let mut m = labelled(UNKNOWN, &x.metrics);
    cells.put(&mut m, &(Some(x.label.clone()), None));
    if x.label == UNKNOWN && x.sub.is_empty() {
        if city {
            m.insert("city_name".into(), json!(UNKNOWN));
            m.insert("city".into(), json!("xx"));
        }
        for (k, v) in [
            ("region", "xx"),
            ("country", "xx"),
            ("country_name", UNKNOWN),
            ("region_name", UNKNOWN),
        ] {
            m.insert(k.into(), json!(v));
        }
        m.insert("logo".into(), flag("xx"));
        return m;
    }
    let parts: Vec<&str> = x.label.split(SEP).collect();
    let (place, region, country) = match parts[..] {
        [c, r, k] if city => (c, r, k),
        [r, k] => ("", r, k),
        _ => ("", "", ""),
    };
    let country = country.to_ascii_lowercase();
    // The sub-rows: `name`, and for a city `name SEP latitude SEP longitude`.
    let subs: Vec<Vec<&str>> = x.sub.iter().map(|s| s.label.split(SEP).collect()).collect();
    let region_name = match subs.first().map(|p| p[0]) {
        Some(n) if !n.is_empty() && !region.is_empty() => n,
        _ => UNKNOWN,
    };
    let mut label = if city {
        place.to_owned()
    } else {
        region_name.to_owned()
    };
    if !country.is_empty() {
        if city && !region.is_empty() {
            label = format!("{label}, {region_name}");
        }
        label = format!("{label}, {}", name_of(&country));
    }
    m.insert("label".into(), json!(label));
    if city {
        let largest = |k: usize| {
            subs.iter()
                .filter_map(|p| p.get(k)?.parse::<f64>().ok())
                .reduce(f64::max)
                .map(|x| (x * 1000.0).round() / 1000.0)
        };
        if let (Some(lat), Some(long)) = (largest(1), largest(2)) {
            m.insert("lat".into(), json!(lat));
            m.insert("long".into(), json!(long));
        }
        m.insert("city_name".into(), json!(place));
    }
    let mut segment = Vec::new();
    if city {
        segment.push(format!("city=={}", enc(place)));
    }
    segment.push(format!("regionCode=={}", enc(region)));
    segment.push(format!("countryCode=={}", enc(&country)));
    m.insert("segment".into(), json!(segment.join(";")));
    let code = |c: &str| {
        if c.is_empty() {
            "xx".to_owned()
        } else {
            c.to_owned()
        }
    };
    m.insert("region".into(), json!(code(region)));
    m.insert("country".into(), json!(code(&country)));
    m.insert(
        "country_name".into(),
        json!(if country.is_empty() {
            UNKNOWN
        } else {
            name_of(&country)
        }),
    );
    m.insert("region_name".into(), json!(region_name));
    m.insert("logo".into(), flag(&code(&country)));
    m
}

/// A versions report's label as name and version: the longest leading
/// words that are a name with a code (`Windows` of `Windows XP`), else
/// the last word as the version when it starts with a digit (`Chrome
/// 120.0`).
fn split_version(
    label: &str,
    code_of: impl Fn(&str) -> Option<&'static str>,
) -> (&str, Option<&str>) {
    let known = label
        .match_indices(' ')
        .map(|(i, _)| i)
        .rev()
        .find(|&i| code_of(&label[..i]).is_some());
    if let Some(i) = known {
        return (&label[..i], Some(&label[i + 1..]));
    }
    match label.rsplit_once(' ') {
        Some((name, version)) if version.starts_with(|c: char| c.is_ascii_digit()) => {
            (name, Some(version))
        }
        _ => (label, None),
    }
}

/// Whether a grouped report is VisitorInterest's ranges (visits only).
pub(crate) fn is_range(g: Grouping) -> bool {
    matches!(
        g,
        Grouping::Duration | Grouping::Pages | Grouping::VisitCount | Grouping::DaysSinceLast
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_follow_matomo() {
        assert_eq!(hour_label(0), "00");
        assert_eq!(hour_label(13), "13");
        // getPageUrl's pageUrl is looked up as the page report labels it.
        assert_eq!(crate::url::page_label("https://x.org/a?b=1#c"), "/a?b=1");
        assert_eq!(crate::url::page_label("https://x.org"), "/");
        assert_eq!(crate::url::page_label("/news"), "/news");
        let os = crate::device_codes::os_code;
        assert_eq!(split_version("Windows XP", os), ("Windows", Some("XP")));
        assert_eq!(split_version("Mac 10.15", os), ("Mac", Some("10.15")));
        let none = |_: &str| -> Option<&'static str> { None };
        assert_eq!(
            split_version("Chrome 120.0", none),
            ("Chrome", Some("120.0"))
        );
        assert_eq!(split_version("Some OS", none), ("Some OS", None));
    }
}
