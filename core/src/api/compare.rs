//! Matomo's data comparison (`compare=1` with `compareSegments[]`,
//! `compareDates[]` and `comparePeriods[]`, as Matomo's UI sends it when
//! segments or periods are compared): every row of the answer, and a
//! summary, gets `comparisons`, one row per series, each the same
//! request's row of that label under another segment or for another
//! period.
//!
//! Matomo's rules (`DataComparisonFilter`, `ComparisonRowGenerator`):
//! - The series are every compared period (the request's first) times
//!   every compared segment (the request's first), periods outermost.
//! - A series row holds the numeric columns of the same label's row in
//!   that series' answer (0 for each of the row's metrics where the
//!   series has no such row), then `compareSegment`,
//!   `compareSegmentPretty` (`All visits` for none), `comparePeriod`,
//!   `compareDate`, `comparePeriodPretty`, `compareSeriesPretty`,
//!   `idsubdatatable` (the series row's subtable, or -1) and, where the
//!   row has one, its `segment` combined with the series' segment.
//! - When periods are compared, each series of a later period gets, per
//!   column, `_change` (from the same segment's series of the first
//!   period to it) and `_change_from` (back), percentages to one decimal
//!   with a sign (`+325%`, `-76.5%`, `+1,033.3%`), computed from the
//!   values as shown (a bounce rate's `94%`).
//! - Expanded subtables are compared row by row in the same way, with
//!   the series whose parent row has a subtable only, without changes
//!   (Matomo computes those for the top table's rows) and without the
//!   bandwidth columns a queued filter adds to Matomo's subtables.
//! - A series row of zeros holds the row's numeric columns (numeric
//!   strings too, as PHP's `is_numeric`) at 0, with the timing sums the
//!   row shows only when asked.
//! - A row whose segment Matomo makes from its value after comparing (a
//!   page's, a country's: `SegmentBy`) gives its series rows its own
//!   segment, not combined.
//!
//! The series are asked as the request is, with every row and raw
//! metrics, so the comparison is exact under the generic filters the
//! request applies to its own rows.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::methods::{Kind, MethodInfo, Needs};
use super::{ApiOptions, ApiRequest, bad};
use crate::engine::Engine;
use crate::error::Result;
use crate::period::Period;

/// Columns of a row that are Matomo's metadata, not metrics, even when
/// they hold numbers.
const NOT_METRICS: &[&str] = &[
    "label",
    "idsubdatatable",
    "idsubtable",
    "logoHeight",
    "logoWidth",
    "referer_type",
];

/// One compared series: its segment (as given), its period and date as
/// asked, the periods they name, and its metadata columns.
struct Series {
    segment: String,
    period: String,
    date: String,
    kind: Period,
    ranges: Vec<crate::period::PeriodRange>,
    pretty: Map<String, Value>,
}

impl Series {
    /// The metadata of the series' `i`-th period in a request of several
    /// periods: that period's own `comparePeriod`, `compareDate` and
    /// `comparePeriodPretty` (its `compareSeriesPretty` names them all).
    fn pretty_of(&self, i: usize) -> Map<String, Value> {
        let mut m = self.pretty.clone();
        if let Some(range) = self.ranges.get(i) {
            m.insert("comparePeriod".into(), json!(self.period));
            m.insert("compareDate".into(), json!(range.from.to_string()));
            m.insert(
                "comparePeriodPretty".into(),
                json!(capitalized(&super::global::pretty_date(self.kind, range))),
            );
        }
        m
    }
}

/// What comparing one table takes: each series' metadata (`pretty`, per
/// table), the series, the number of compared segments, whether periods
/// are compared and whether the changes run from the second period to
/// the first (`invert_compare_change_compute`).
#[derive(Clone, Copy)]
struct Plan<'a> {
    pretty: &'a [Map<String, Value>],
    series: &'a [Series],
    segments: usize,
    periods_compared: bool,
    invert: bool,
    /// The derived metrics the answer's rows carry (`bounce_rate`, ...):
    /// a comparison row of a missing row has them at 0, as Matomo
    /// computes them on its row of zeros.
    derived: &'a [String],
    /// The answer is a summary (one row, `VisitsSummary.get`): a period
    /// without data (`[]`) is compared as an empty summary.
    summary: bool,
    /// A period added after the request's last (a longer series): only
    /// the other series' rows, without changes, as in Matomo.
    appended: bool,
    /// The series compared, by index (`None`: all). A subtable is
    /// compared only with the series whose parent row has one, as Matomo
    /// recurses only into a series row's subtable.
    only: Option<&'a [usize]>,
    /// The rows compared are a subtable's: Matomo computes the changes
    /// of the top table's rows only.
    nested: bool,
    /// How the report's rows get their `segment` (see [`SegmentBy`]).
    segment_by: SegmentBy,
}

/// How a report's rows get their `segment` in Matomo, which decides a
/// comparison row's: a row whose segment Matomo sets before comparing
/// gets it combined with the series' segment; a row whose segment it
/// makes afterwards from the row's value (`segmentValue`, Matomo's
/// `AddSegmentValue`) gets the row's own, as it is.
#[derive(Clone, Copy, PartialEq)]
enum SegmentBy {
    /// Set before comparing: always combined.
    Label,
    /// From the value, on the top table's rows.
    Value,
    /// An action report: a folder's (`=^`) is set before comparing, a
    /// page's (`==`) comes from its value, at every level.
    ActionLeaves,
}

impl SegmentBy {
    /// Matomo's way for method `method`'s rows.
    fn of(method: &str) -> SegmentBy {
        match method {
            m if m.starts_with("Actions.") => SegmentBy::ActionLeaves,
            "UserCountry.getCountry"
            | "UserLanguage.getLanguageCode"
            | "Resolution.getResolution"
            | "VisitTime.getVisitInformationPerLocalTime"
            | "DevicesDetection.getBrowsers"
            | "DevicesDetection.getBrowserEngines"
            | "Events.getCategory"
            | "Events.getAction"
            | "Events.getName"
            | "Contents.getContentNames"
            | "Contents.getContentPieces" => SegmentBy::Value,
            _ => SegmentBy::Label,
        }
    }

    /// Whether a comparison row of a row with `segment` combines it with
    /// the series' segment.
    fn combines(self, segment: &str, nested: bool) -> bool {
        match self {
            SegmentBy::Label => true,
            SegmentBy::Value => nested,
            SegmentBy::ActionLeaves => !segment.contains("=="),
        }
    }
}

impl Plan<'_> {
    /// Whether series `i` is compared.
    fn compares(&self, i: usize) -> bool {
        self.only.is_none_or(|only| only.contains(&i))
    }
}

impl Engine {
    /// Request `r`'s one-site answer `value` with Matomo's comparisons
    /// added, when it asks for them (`compare=1`).
    pub(super) fn compared(
        &self,
        r: &ApiRequest,
        info: &MethodInfo,
        site: u32,
        options: &ApiOptions,
        mut value: Value,
        multi: bool,
    ) -> Result<Value> {
        if !r.compare || (r.compare_segments.is_empty() && r.compare_dates.is_empty()) {
            return Ok(value);
        }
        if info.kind.needs() != Needs::Report
            || matches!(
                info.kind,
                Kind::LastVisits
                    | Kind::Transitions
                    | Kind::ProcessedReport
                    | Kind::RowEvolution
                    | Kind::Scalar(_)
            )
        {
            return Err(bad(format!(
                "compare=1 does not apply to {}: Matomo compares the rows of reports and \
                 summaries (its Live API refuses it too)",
                r.method
            )));
        }
        if r.table.id_subtable.is_some() {
            return Err(bad(
                "compare=1 with idSubtable is not supported: compare the parent report \
                 with expanded=1",
            ));
        }
        let series = self.series(r, site, options, multi)?;
        let segments = 1 + r.compare_segments.len();
        let periods = series.len() / segments;
        if r.invert_compare && periods != 2 {
            return Err(bad(
                "invert_compare_change_compute=1 can only be used when comparing two periods.",
            ));
        }
        // Matomo compares nothing when the request's table has no rows
        // (its series are then not asked).
        let empty = |v: &Value| v.as_array().is_some_and(Vec::is_empty);
        if empty(&value)
            || value
                .as_object()
                .is_some_and(|m| multi && m.values().all(empty))
        {
            return Ok(value);
        }
        let mut answers = Vec::with_capacity(series.len());
        for s in &series {
            let mut sub = r.clone();
            sub.compare = false;
            sub.invert_compare = false;
            sub.compare_segments.clear();
            sub.compare_dates.clear();
            sub.compare_periods.clear();
            sub.segment = (!s.segment.is_empty()).then(|| definition(&s.segment));
            sub.period = s.period.clone();
            sub.date = s.date.clone();
            sub.table = crate::table::TableParams {
                limit: Some(-1),
                flat: r.table.flat,
                expanded: r.table.expanded,
                keep_subtable_ids: true,
                raw_metrics: true,
                ..crate::table::TableParams::default()
            };
            let (answer, _) = self.answer_site(&sub, info, site, options)?;
            answers.push(answer);
        }
        let periods_compared = periods > 1;
        let mut derived = Vec::new();
        for a in answers.iter().chain(std::iter::once(&value)) {
            derived_names(a, &mut derived);
        }
        if info.kind == Kind::VisitFrequency {
            // Its processed metrics, whether or not a period had visits
            // of both types.
            for (name, _, _) in crate::table::VISIT_RATIOS {
                for suffix in ["_new", "_returning"] {
                    let name = format!("{name}{suffix}");
                    if !derived.contains(&name) {
                        derived.push(name);
                    }
                }
            }
        }
        let summary_in = |v: &Value| match v {
            Value::Object(m) if multi => m.values().any(Value::is_object),
            v => v.is_object(),
        };
        let plan = Plan {
            pretty: &[],
            series: &series,
            segments,
            periods_compared,
            invert: r.invert_compare,
            derived: &derived,
            summary: summary_in(&value) || answers.iter().any(summary_in),
            appended: false,
            only: None,
            nested: false,
            segment_by: SegmentBy::of(&r.method),
        };
        if !multi {
            let pretty: Vec<Map<String, Value>> = series.iter().map(|s| s.pretty.clone()).collect();
            let found: Vec<Option<&Value>> = answers.iter().map(Some).collect();
            let plan = Plan {
                pretty: &pretty,
                ..plan
            };
            compare_value(&mut value, &found, &plan);
            return Ok(value);
        }
        // Several periods: each of the request's periods with each
        // series' period of the same place; a series with more periods
        // adds empty ones after the request's last (a map of dates).
        let Value::Object(map) = &mut value else {
            return Ok(value);
        };
        let periods_asked = map.len();
        let longest = answers
            .iter()
            .filter_map(Value::as_object)
            .map(Map::len)
            .max()
            .unwrap_or(0);
        let base = series
            .first()
            .map(|s| (s.kind, s.ranges.last().map(|r| r.to)));
        // Not for VisitFrequency.get, whose map Matomo keys by `period`,
        // not `date` (its comparison fills only a map of dates).
        let by_date = info.kind != Kind::VisitFrequency;
        if let Some((kind, Some(mut last))) =
            base.filter(|(kind, _)| *kind != Period::Range && by_date)
        {
            for _ in map.len()..longest {
                let Some(next) = last.succ_opt().and_then(|day| kind.containing(day)) else {
                    break;
                };
                last = next.to;
                map.insert(next.label, json!([]));
            }
        }
        let keys: Vec<String> = map.keys().cloned().collect();
        for (i, key) in keys.iter().enumerate() {
            // The periods added after the request's last are tables even
            // for a summary (Matomo's new `DataTable` for each).
            let appended = i >= periods_asked;
            let summary = plan.summary && !appended;
            let pretty: Vec<Map<String, Value>> = series.iter().map(|s| s.pretty_of(i)).collect();
            let found: Vec<Option<&Value>> = answers
                .iter()
                .map(|a| a.as_object().and_then(|m| m.values().nth(i)))
                .collect();
            if let Some(child) = map.get_mut(key) {
                let plan = Plan {
                    pretty: &pretty,
                    summary,
                    appended,
                    ..plan
                };
                compare_value(child, &found, &plan);
            }
        }
        Ok(value)
    }

    /// The compared series in Matomo's order: for each period (the
    /// request's first), each segment (the request's first).
    fn series(
        &self,
        r: &ApiRequest,
        site: u32,
        options: &ApiOptions,
        multi: bool,
    ) -> Result<Vec<Series>> {
        if r.compare_dates.len() != r.compare_periods.len() {
            return Err(bad(
                "compareDates[] and comparePeriods[] must have the same number of values",
            ));
        }
        let mut segments = vec![r.segment.clone().unwrap_or_default()];
        segments.extend(r.compare_segments.iter().cloned());
        let mut periods = vec![(r.period.clone(), r.date.clone())];
        periods.extend(
            r.compare_periods
                .iter()
                .cloned()
                .zip(r.compare_dates.iter().cloned()),
        );
        let mut out = Vec::new();
        for (period, date) in &periods {
            let kind: Period = period.parse()?;
            let (ranges, several) = self.periods(site, kind, date, options.now)?;
            if several != multi {
                return Err(bad(if multi {
                    "Cannot compare: original request is multiple period and cannot be compared \
                     with single periods."
                } else {
                    "Cannot compare: original request is single period and cannot be compared \
                     with multiple periods."
                }));
            }
            let (Some(first), Some(last)) = (ranges.first(), ranges.last()) else {
                return Err(bad(format!("compareDates[]: {date} names no period")));
            };
            // A request of several periods is named by their whole span.
            let whole = crate::period::PeriodRange {
                label: String::new(),
                from: first.from,
                to: last.to,
            };
            let period_pretty = if several {
                capitalized(&super::global::pretty_date(Period::Range, &whole))
            } else {
                capitalized(&super::global::pretty_date(kind, first))
            };
            for segment in &segments {
                let segment_pretty = if segment.is_empty() {
                    "All visits".to_owned()
                } else {
                    definition(segment)
                };
                let mut pretty = Map::new();
                pretty.insert("compareSegment".into(), json!(segment));
                pretty.insert("compareSegmentPretty".into(), json!(segment_pretty));
                pretty.insert("comparePeriod".into(), json!(period));
                pretty.insert("compareDate".into(), json!(date));
                pretty.insert("comparePeriodPretty".into(), json!(period_pretty));
                pretty.insert(
                    "compareSeriesPretty".into(),
                    json!(format!("({period_pretty}) ({segment_pretty})")),
                );
                out.push(Series {
                    segment: segment.clone(),
                    period: period.clone(),
                    date: date.clone(),
                    kind,
                    ranges: ranges.clone(),
                    pretty,
                });
            }
        }
        Ok(out)
    }
}

/// One table (a row list) or summary compared with the series' tables.
fn compare_value(value: &mut Value, found: &[Option<&Value>], plan: &Plan<'_>) {
    match value {
        Value::Array(rows) => {
            if rows.is_empty() {
                // Matomo adds an empty row to carry the comparisons.
                rows.push(Value::Object(Map::new()));
            }
            let tables: Vec<Option<&Vec<Value>>> =
                found.iter().map(|f| f.and_then(Value::as_array)).collect();
            if plan.summary || found.iter().any(|f| f.is_some_and(Value::is_object)) {
                // The request's period had no data where the series' are
                // summaries: its empty summary (a table's one empty row
                // after the request's last period), compared with them.
                let found: Vec<Option<&Map<String, Value>>> =
                    found.iter().map(|f| f.and_then(Value::as_object)).collect();
                let mut row = Map::new();
                compare_row(&mut row, &found, plan);
                *value = match plan.summary {
                    true => Value::Object(row),
                    false => Value::Array(vec![Value::Object(row)]),
                };
                return;
            }
            compare_rows(rows, &tables, plan);
        }
        Value::Object(summary) => {
            let found: Vec<Option<&Map<String, Value>>> =
                found.iter().map(|f| f.and_then(Value::as_object)).collect();
            compare_row(summary, &found, plan);
        }
        _ => {}
    }
}

/// Each row of `rows` compared with the same label's row of each series'
/// rows, subtables too.
fn compare_rows(rows: &mut [Value], tables: &[Option<&Vec<Value>>], plan: &Plan<'_>) {
    // Each series' rows by label, found once per table, not per row.
    let by_label: Vec<HashMap<String, &Map<String, Value>>> = tables
        .iter()
        .map(|t| {
            t.iter()
                .flat_map(|rows| rows.iter())
                .filter_map(Value::as_object)
                .filter_map(|r| Some((r.get("label")?.to_string(), r)))
                .rev()
                .collect()
        })
        .collect();
    for row in rows.iter_mut().filter_map(Value::as_object_mut) {
        let label = row.get("label").map(Value::to_string);
        let found: Vec<Option<&Map<String, Value>>> = by_label
            .iter()
            .map(|rows| label.as_ref().and_then(|l| rows.get(l).copied()))
            .collect();
        compare_row(row, &found, plan);
        if let Some(Value::Array(children)) = row.get_mut("subtable") {
            let subtables: Vec<Option<&Vec<Value>>> = found
                .iter()
                .map(|f| f.and_then(|r| r.get("subtable")).and_then(Value::as_array))
                .collect();
            let only: Vec<usize> = (0..subtables.len())
                .filter(|&i| plan.compares(i) && subtables[i].is_some())
                .collect();
            let nested = Plan {
                only: Some(&only),
                nested: true,
                ..*plan
            };
            compare_rows(children, &subtables, &nested);
        }
    }
}

/// Row `row`'s `comparisons`: a row per series from that series' row
/// (`found`), with the changes between periods.
fn compare_row(
    row: &mut Map<String, Value>,
    found: &[Option<&Map<String, Value>>],
    plan: &Plan<'_>,
) {
    let segments = plan.segments;
    let mut out: Vec<Map<String, Value>> = Vec::with_capacity(plan.series.len());
    for f in found.iter().take(plan.series.len()) {
        let mut c = Map::new();
        match f {
            Some(f) => {
                for (k, v) in f.iter() {
                    // A subtable's bandwidth is added by a queued filter,
                    // which Matomo's series requests skip.
                    if numeric(v)
                        && !NOT_METRICS.contains(&k.as_str())
                        && !(plan.nested && BANDWIDTH.contains(&k.as_str()))
                    {
                        c.insert(k.clone(), v.clone());
                    }
                }
                crate::table::format_metrics(&mut c);
            }
            None => {
                for (k, v) in row.iter() {
                    if NOT_METRICS.contains(&k.as_str()) {
                        continue;
                    }
                    if numeric(v) {
                        c.insert(k.clone(), json!(0));
                    } else if v.as_str().is_some_and(|s| s.ends_with('%')) {
                        c.insert(k.clone(), json!("0%"));
                    }
                    // A timing's sum, a temporary metric the row shows
                    // only when asked, is still the row's when Matomo
                    // copies it.
                    if let Some(timing) = k.strip_prefix("nb_hits_with_time_") {
                        let sum = format!("sum_time_{timing}");
                        if !row.contains_key(&sum) {
                            c.insert(sum, json!(0));
                        }
                    }
                }
            }
        }
        out.push(c);
    }
    if plan.periods_compared && !plan.appended && !plan.nested {
        // Each later period's series from the first period's of its
        // segment, or (inverted) the first period's from the second's.
        let pairs: Vec<(usize, usize)> = if plan.invert {
            (0..segments.min(out.len()))
                .map(|i| (i, i + segments))
                .collect()
        } else {
            (segments..out.len()).map(|i| (i, i % segments)).collect()
        };
        for (i, other) in pairs {
            let Some(base) = out.get(other).cloned() else {
                continue;
            };
            let names: Vec<String> = out[i].keys().cloned().collect();
            for name in names {
                let to = shown(out[i].get(&name));
                let from = shown(base.get(&name));
                out[i].insert(format!("{name}_change"), json!(change(to, from)));
                out[i].insert(format!("{name}_change_from"), json!(change(from, to)));
            }
        }
    }
    // The derived metrics of a row of zeros (also of the empty row an
    // empty period's table gets), and those a series row lacks (a
    // VisitFrequency period without returning visits): Matomo computes
    // the top table's on every comparison row, after the changes (a
    // subtable's zero row has the row's own, copied above).
    for c in out.iter_mut().filter(|_| !plan.nested) {
        for name in plan.derived {
            if !c.contains_key(name) {
                let zero = if base_name(name).ends_with("_rate") {
                    json!("0%")
                } else {
                    json!(0)
                };
                c.insert(name.clone(), zero);
            }
        }
    }
    let rows: Vec<Value> = out
        .into_iter()
        .zip(plan.series.iter().zip(plan.pretty))
        .zip(found)
        .map(|((mut c, (s, pretty)), f)| {
            for (k, v) in pretty {
                c.insert(k.clone(), v.clone());
            }
            let subtable = f
                .and_then(|f| f.get("idsubdatatable").or_else(|| f.get("idsubtable")))
                .cloned()
                .unwrap_or(json!(-1));
            c.insert("idsubdatatable".into(), subtable);
            if let Some(segment) = row.get("segment").and_then(Value::as_str) {
                let combined =
                    if s.segment.is_empty() || !plan.segment_by.combines(segment, plan.nested) {
                        segment.to_owned()
                    } else {
                        format!("{};{segment}", s.segment)
                    };
                c.insert("segment".into(), json!(combined));
            }
            Value::Object(c)
        })
        // A period after the request's last: the request's own series
        // (its first, one per segment) has no such period.
        .skip(if plan.appended { segments } else { 0 })
        .enumerate()
        .filter(|(i, _)| plan.compares(i + if plan.appended { segments } else { 0 }))
        .map(|(_, c)| c)
        .collect();
    row.insert("comparisons".into(), Value::Array(rows));
}

/// Whether a column's value is a number as PHP's `is_numeric` sees it:
/// a number, or a string of one (a timing's `0.0010`).
fn numeric(v: &Value) -> bool {
    v.is_number()
        || v.as_str().is_some_and(|s| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'))
                && s.parse::<f64>().is_ok()
        })
}

/// The bandwidth columns of an action row.
const BANDWIDTH: &[&str] = &[
    "sum_bandwidth",
    "nb_hits_with_bandwidth",
    "min_bandwidth",
    "max_bandwidth",
];

/// Derived metrics Matomo computes on every comparison row (of zeros
/// when the series has no such row).
const DERIVED: &[&str] = &[
    "bounce_rate",
    "exit_rate",
    "nb_actions_per_visit",
    "avg_time_on_site",
    "avg_time_on_page",
    "avg_bandwidth",
    "avg_page_load_time",
];

/// A metric's name without VisitFrequency's `_new` or `_returning`.
fn base_name(name: &str) -> &str {
    name.strip_suffix("_new")
        .or_else(|| name.strip_suffix("_returning"))
        .unwrap_or(name)
}

/// The derived metrics (`DERIVED`, also `_new` and `_returning`) of the
/// rows of `v` (a table, a summary, or a map of periods), once each, in
/// the order first met.
fn derived_names(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Array(rows) => rows.iter().for_each(|r| derived_names(r, out)),
        Value::Object(m) => {
            for (k, child) in m {
                if DERIVED.contains(&base_name(k)) {
                    if !out.contains(k) {
                        out.push(k.clone());
                    }
                } else if child.is_array() || child.is_object() {
                    derived_names(child, out);
                }
            }
        }
        _ => {}
    }
}

/// A compared segment's definition: as given, or decoded once more when
/// it came encoded (`browserCode%3D%3Dff`, no operator of its own), as
/// Matomo's segments decode a definition that parses decoded.
fn definition(segment: &str) -> String {
    let has_operator = ["==", "!=", "=@", "!@", "=^", "=$", ">", "<"]
        .iter()
        .any(|op| segment.contains(op));
    if has_operator {
        segment.to_owned()
    } else {
        crate::url::percent_decode(segment, false)
    }
}

/// A metric's value as shown (`94%` is 94, `1.1` is 1.1), 0 for none.
fn shown(v: Option<&Value>) -> f64 {
    match v {
        Some(Value::Number(n)) => n.as_f64().unwrap_or(0.0),
        Some(Value::String(s)) => s
            .trim_end_matches('%')
            .replace(',', "")
            .parse()
            .unwrap_or(0.0),
        _ => 0.0,
    }
}

/// Matomo's evolution from `from` to `to`: a percentage to one decimal,
/// `+` unless it fell, 100 % from nothing.
fn change(to: f64, from: f64) -> String {
    let diff = to - from;
    let pct = if diff == 0.0 {
        0.0
    } else if from == 0.0 {
        100.0 * diff.signum()
    } else {
        diff / from * 100.0
    };
    let pct = super::goals::php_round(pct * 10.0) / 10.0;
    let sign = if pct >= 0.0 { "+" } else { "" };
    format!("{sign}{}%", grouped(pct))
}

/// A number with thousands separators and at most one decimal
/// (`1,033.3`, `-76.5`, `325`).
fn grouped(x: f64) -> String {
    let tenths = (x.abs() * 10.0).round() as u64;
    let sign = if x < 0.0 { "-" } else { "" };
    let whole = super::thousands(tenths / 10);
    match tenths % 10 {
        0 => format!("{sign}{whole}"),
        tenth => format!("{sign}{whole}.{tenth}"),
    }
}

/// The text with its first letter upper-cased (PHP's `ucfirst`).
fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_read_as_matomos() {
        assert_eq!(change(8.0, 34.0), "-76.5%");
        assert_eq!(change(34.0, 8.0), "+325%");
        assert_eq!(change(34.0, 3.0), "+1,033.3%");
        assert_eq!(change(0.0, 1.0), "-100%");
        assert_eq!(change(1.0, 0.0), "+100%");
        assert_eq!(change(5.0, 5.0), "+0%");
        assert_eq!(change(100.0, 94.0), "+6.4%");
        assert_eq!(
            capitalized("week August 13 – 19, 2012"),
            "Week August 13 – 19, 2012"
        );
    }

    /// A series without the row gets the row's numbers at 0: its numeric
    /// strings (a timing's `0.0010`, as PHP's `is_numeric`) and the
    /// timing sums it shows only when asked; a page's segment stays its
    /// own, a folder's is combined with the series'.
    #[test]
    fn a_missing_rows_zeros_are_matomos() {
        assert!(numeric(&json!("0.0010")) && numeric(&json!(3)) && numeric(&json!("-1e3")));
        assert!(!numeric(&json!("100%")) && !numeric(&json!("")) && !numeric(&json!("inf")));
        let mut row = json!({
            "label": "/a", "nb_visits": 2, "nb_hits_with_time_server": 1,
            "min_time_server": "0.0010", "bounce_rate": "50%",
            "segment": "pageUrl==http%253A%252F%252Fx.org%252Fa",
        });
        let series = [Series {
            segment: "browserCode==ff".into(),
            period: "day".into(),
            date: "2024-06-01".into(),
            kind: Period::Day,
            ranges: Vec::new(),
            pretty: Map::new(),
        }];
        let pretty = [Map::new()];
        let plan = Plan {
            pretty: &pretty,
            series: &series,
            segments: 2,
            periods_compared: false,
            invert: false,
            derived: &[],
            summary: false,
            appended: false,
            only: None,
            nested: false,
            segment_by: SegmentBy::of("Actions.getPageUrls"),
        };
        compare_row(row.as_object_mut().unwrap(), &[None], &plan);
        let zeros = &row["comparisons"][0];
        for k in [
            "nb_visits",
            "nb_hits_with_time_server",
            "min_time_server",
            "sum_time_server",
        ] {
            assert_eq!(zeros[k], 0, "{k}: {zeros}");
        }
        assert_eq!(zeros["bounce_rate"], "0%");
        assert_eq!(zeros["segment"], row["segment"]);
        assert!(SegmentBy::ActionLeaves.combines("pageUrl=^http%253A", false));
        assert!(!SegmentBy::Value.combines("browserCode==ff", false));
        assert!(SegmentBy::Label.combines("referrerName==x", true));
    }
}
