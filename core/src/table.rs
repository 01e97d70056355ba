//! Matomo's generic DataTable filters over report rows: `idSubtable`,
//! `label`, `flat`, `filter_excludelowpop`, `filter_sort_column`,
//! `filter_truncate`, `filter_pattern`, `filter_offset`/`filter_limit`,
//! `showColumns`/`hideColumns`, `format_metrics` and `expanded`, applied
//! in Matomo's order to the rows of any report.
//!
//! Reports build rows with raw numbers (ratios as fractions); derived
//! metrics are computed here from their parts, so a truncated "Others"
//! row gets true ratios, and formatting (`45%`, rounding) comes last.

use std::cmp::Ordering;
use std::collections::HashMap;

use regex::{Regex, RegexBuilder};
use serde_json::{Map, Value, json};

use crate::error::{Error, Result};

/// One row: columns in output order; children under `subtable`.
pub(crate) type Row = Map<String, Value>;

/// A derived metric: `name = numerator / denominator`.
pub(crate) type Ratio = (&'static str, &'static str, &'static str);

/// Ratios of visit metrics.
pub(crate) const VISIT_RATIOS: &[Ratio] = &[
    ("bounce_rate", "bounce_count", "nb_visits"),
    ("nb_actions_per_visit", "nb_actions", "nb_visits"),
    ("avg_time_on_site", "sum_visit_length", "nb_visits"),
];

/// Ratios of page rows.
pub(crate) const PAGE_RATIOS: &[Ratio] = &[
    ("avg_time_on_page", "sum_time_spent", "nb_hits"),
    ("bounce_rate", "entry_bounce_count", "entry_nb_visits"),
    ("exit_rate", "exit_nb_visits", "nb_visits"),
];

/// A hidden column (not shown: its name starts with `$`): the visits of
/// the whole report, for a row's share of them.
pub(crate) const VISITS_TOTAL: &str = "$visits_total";

/// A row's share of the report's visits (Matomo's `nb_visits_percentage`).
pub(crate) const VISITS_PERCENT: &[Ratio] = &[("nb_visits_percentage", "nb_visits", VISITS_TOTAL)];

/// Ratios of content rows.
pub(crate) const CONTENT_RATIOS: &[Ratio] =
    &[("interaction_rate", "nb_interactions", "nb_impressions")];

/// Ratios of event rows.
pub(crate) const EVENT_RATIOS: &[Ratio] =
    &[("avg_event_value", "sum_event_value", "nb_events_with_value")];

/// How a report's rows behave under the generic filters.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spec {
    /// Derived metrics, recomputed for an "Others" row.
    pub ratios: &'static [Ratio],
    /// How `flat=1` names a child: `parent - child` (Matomo's default) or
    /// the child's own label (when it is already whole, like a URL).
    pub flat_join: Option<&'static str>,
    /// Columns that are distinct counts: an "Others" row cannot sum them.
    pub distinct: &'static [&'static str],
    /// Row metadata that `showColumns` and `hideColumns` leave (Matomo's
    /// metadata are not columns); a name ending with `_` is a prefix.
    pub metadata: &'static [&'static str],
}

impl Spec {
    pub(crate) const fn new(ratios: &'static [Ratio]) -> Spec {
        Spec {
            ratios,
            flat_join: Some(" - "),
            distinct: &[
                "nb_uniq_visitors",
                "nb_users",
                "entry_nb_uniq_visitors",
                "exit_nb_uniq_visitors",
            ],
            metadata: &[],
        }
    }

    pub(crate) const fn flat_child_labels(mut self) -> Spec {
        self.flat_join = None;
        self
    }
}

/// The generic parameters of one request, as
/// [`ApiRequest::parse`](crate::ApiRequest::parse) reads them.
///
/// # Examples
/// ```
/// let r = hitmap::ApiRequest::parse("method=Actions.getPageUrls&idSite=1&period=day&date=today&filter_limit=-1&expanded=1")?;
/// assert_eq!((r.table.limit, r.table.expanded), (Some(-1), true));
/// // As Matomo's, `label` drops `expanded`.
/// let r = hitmap::ApiRequest::parse("method=Actions.getPageUrls&idSite=1&period=day&date=today&label=news%3E%2Fa&expanded=1")?;
/// assert_eq!((r.table.labels.as_slice(), r.table.expanded), (&["news>/a".to_string()][..], false));
/// # Ok::<(), hitmap::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TableParams {
    /// `filter_limit`: `None` means Matomo's default of 100, `-1` all.
    pub limit: Option<i64>,
    /// `filter_offset`.
    pub offset: usize,
    /// `filter_sort_column`.
    pub sort_column: Option<String>,
    /// `filter_sort_order=asc`.
    pub ascending: bool,
    /// `filter_pattern`.
    pub pattern: Option<String>,
    /// `filter_pattern_recursive`.
    pub pattern_recursive: Option<String>,
    /// `filter_column` (default `label`).
    pub pattern_column: Option<String>,
    /// `filter_excludelowpop`: a column.
    pub excludelowpop: Option<String>,
    /// `filter_excludelowpop_value`.
    pub excludelowpop_value: Option<f64>,
    /// `filter_truncate`.
    pub truncate: Option<usize>,
    /// `showColumns`.
    pub show_columns: Vec<String>,
    /// `hideColumns`.
    pub hide_columns: Vec<String>,
    /// `label`: labels (a `>` in one walks into subtables).
    pub labels: Vec<String>,
    /// `idSubtable`.
    pub id_subtable: Option<u32>,
    /// `flat=1`.
    pub flat: bool,
    /// `expanded=1`: subtables inline.
    pub expanded: bool,
    /// `format_metrics=0`: ratios as raw numbers.
    pub raw_metrics: bool,
    /// `filter_add_columns_when_show_all_columns=1`: a visit report's rows
    /// get the visit ratios (bounce rate, actions per visit, average time
    /// on site), which Matomo's API leaves out by default.
    pub add_columns: bool,
    /// With `expanded`, rows keep their `idsubtable` too (the series a
    /// comparison asks: a comparison row names its subtable's id).
    pub keep_subtable_ids: bool,
    /// With `flat=1`, the columns that name each flattened row's parts:
    /// Matomo's report dimension and its subtable's (`Referrers_SocialNetwork`,
    /// `Referrers_WebsitePage`); set from the method by
    /// [`ApiRequest::parse`](crate::ApiRequest::parse).
    pub(crate) flat_dimensions: Option<FlatDimensions>,
}

/// The columns Matomo's flattener names a row's parts by: the report's
/// dimension (a top row's label) and its subtable's (a child's label).
pub(crate) type FlatDimensions = (&'static str, &'static str);

impl TableParams {
    /// How many rows `filter_limit` asks for: `default` without one, all
    /// for `-1`.
    pub(crate) fn rows_wanted(&self, default: usize) -> usize {
        match self.limit {
            None => default,
            Some(n) if n >= 0 => n as usize,
            Some(_) => usize::MAX,
        }
    }

    /// Whether the filters leave a flat report's rows as the report gives
    /// them, but for `filter_offset`, `filter_limit` and the formatting of
    /// derived metrics (so a host may take the typed rows as they are).
    pub(crate) fn passes_flat_rows(&self) -> bool {
        self.labels.is_empty()
            && self.id_subtable.is_none()
            && self.excludelowpop.is_none()
            && self.sort_column.is_none()
            && self.truncate.is_none()
            && self.pattern.is_none()
            && self.pattern_recursive.is_none()
            && self.show_columns.is_empty()
            && self.hide_columns.is_empty()
    }
}

/// Matomo's default `filter_limit` for API requests
/// (`API_datatable_default_limit`).
///
/// # Examples
/// ```
/// use hitmap::{Engine, Hit, SiteConfig};
/// let mut e = Engine::in_memory();
/// e.add_site(SiteConfig::new(1))?;
/// e.ingest((0..150).map(|i| Hit::pageview(1, 1_717_200_000 + i, "v", format!("https://x.org/{i}"))))?;
/// let q = "method=Actions.getPageUrls&flat=1&idSite=1&period=day&date=2024-06-01";
/// let rows: serde_json::Value = serde_json::from_str(&e.api(q)?).unwrap();
/// assert_eq!(rows.as_array().unwrap().len(), hitmap::DEFAULT_LIMIT);
/// let all: serde_json::Value = serde_json::from_str(&e.api(&format!("{q}&filter_limit=-1"))?).unwrap();
/// assert_eq!(all.as_array().unwrap().len(), 150);
/// # Ok::<(), hitmap::Error>(())
/// ```
pub const DEFAULT_LIMIT: usize = 100;

fn bad(msg: impl Into<String>) -> Error {
    Error::Request(msg.into())
}

fn num(v: Option<&Value>) -> f64 {
    v.and_then(Value::as_f64).unwrap_or(0.0)
}

/// Adds a report's derived metrics to a row and its subtables.
pub(crate) fn derive(row: &mut Row, ratios: &[Ratio]) {
    for (name, n, d) in ratios {
        if row.contains_key(*d) {
            let (n, d) = (num(row.get(*n)), num(row.get(*d)));
            row.insert((*name).into(), json!(ratio(n, d)));
        }
    }
    if let Some(Value::Array(children)) = row.get_mut("subtable") {
        for c in children {
            if let Value::Object(c) = c {
                derive(c, ratios);
            }
        }
    }
}

/// A derived metric from its parts: 0 when the denominator is.
pub(crate) fn ratio(n: f64, d: f64) -> f64 {
    if d == 0.0 { 0.0 } else { n / d }
}

/// A derived metric as an answer shows it: raw (`format_metrics=0`) or
/// in Matomo's format.
pub(crate) fn shown(name: &str, x: f64, raw_metrics: bool) -> Value {
    match raw_metrics {
        true => json!(x),
        false => formatted(name, x).unwrap_or_else(|| json!(x)),
    }
}

fn children_mut(row: &mut Row) -> Option<&mut Vec<Value>> {
    match row.get_mut("subtable") {
        Some(Value::Array(c)) => Some(c),
        _ => None,
    }
}

fn take_children(row: &mut Row) -> Vec<Row> {
    match row.shift_remove("subtable") {
        Some(Value::Array(c)) => c.into_iter().filter_map(into_row).collect(),
        _ => Vec::new(),
    }
}

fn into_row(v: Value) -> Option<Row> {
    match v {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

fn label(row: &Row) -> &str {
    row.get("label").and_then(Value::as_str).unwrap_or("")
}

/// Numbers every row with a subtable, depth first in the report's own
/// order: the `idsubtable` a request's `idSubtable` names. The same
/// request over the same data numbers the same way.
fn number_subtables(rows: &mut [Value], next: &mut u32) {
    for r in rows {
        if let Value::Object(m) = r
            && let Some(c) = children_mut(m)
        {
            if c.is_empty() {
                m.shift_remove("subtable");
                continue;
            }
            *next += 1;
            let id = *next;
            number_subtables(children_mut(m).expect("checked"), next);
            m.insert("idsubtable".into(), json!(id));
        }
    }
}

fn find_subtable(rows: Vec<Value>, id: u32) -> Option<Vec<Value>> {
    for r in rows {
        if let Value::Object(mut m) = r {
            let here = m.get("idsubtable").and_then(Value::as_u64) == Some(u64::from(id));
            let Some(Value::Array(c)) = m.shift_remove("subtable") else {
                continue;
            };
            if here {
                return Some(c);
            }
            if let Some(found) = find_subtable(c, id) {
                return Some(found);
            }
        }
    }
    None
}

pub(crate) fn regex(pattern: &str, param: &str) -> Result<Regex> {
    RegexBuilder::new(pattern)
        .case_insensitive(true)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| bad(format!("{param} is not a valid regular expression: {e}")))
}

/// Applies the generic filters to a report's rows, in Matomo's order.
pub(crate) fn apply(rows: Vec<Row>, p: &TableParams, spec: &Spec) -> Result<Value> {
    let mut rows: Vec<Value> = rows
        .into_iter()
        .map(|mut r| {
            derive(&mut r, spec.ratios);
            Value::Object(r)
        })
        .collect();
    let mut next = 0;
    number_subtables(&mut rows, &mut next);
    if let Some(id) = p.id_subtable {
        rows = find_subtable(rows, id).ok_or_else(|| {
            bad(format!(
                "idSubtable={id} names no subtable of this report: use an idsubtable from a row of the same request without idSubtable"
            ))
        })?;
    }
    let mut rows: Vec<Row> = rows.into_iter().filter_map(into_row).collect();
    if !p.labels.is_empty() {
        rows = by_labels(rows, &p.labels);
    }
    if p.flat {
        let nested = rows.iter().any(|r| children(r).next().is_some());
        rows = flatten(rows, spec.flat_join, p.flat_dimensions);
        // Matomo sorts the flattened table by the report's default column
        // (visits), then label: a table that had subtables is re-sorted
        // (a flat one keeps the report's order).
        if nested
            && p.sort_column.is_none()
            && p.flat_dimensions.is_some()
            && rows.iter().all(|r| r.contains_key("nb_visits"))
        {
            sort(&mut rows, "nb_visits", true);
        }
    }
    if let Some(column) = &p.excludelowpop {
        let min = match p.excludelowpop_value {
            Some(v) => v,
            None => 0.02 * rows.iter().map(|r| num(r.get(column))).sum::<f64>(),
        };
        check_column(&rows, column, "filter_excludelowpop")?;
        rows.retain(|r| num(r.get(column)) >= min);
    }
    if let Some(column) = &p.sort_column {
        check_column(&rows, column, "filter_sort_column")?;
        sort(&mut rows, column, !p.ascending);
    }
    if let Some(n) = p.truncate {
        truncate(&mut rows, n, spec);
    }
    if let Some(pattern) = &p.pattern {
        let re = regex(pattern, "filter_pattern")?;
        let column = p.pattern_column.as_deref().unwrap_or("label");
        check_column(&rows, column, "filter_column")?;
        rows.retain(|r| re.is_match(&text(r.get(column))));
    }
    if let Some(pattern) = &p.pattern_recursive {
        let re = regex(pattern, "filter_pattern_recursive")?;
        rows = keep_matching(rows, &re);
    }
    let rows: Vec<Row> = rows
        .into_iter()
        .skip(p.offset)
        .take(p.rows_wanted(DEFAULT_LIMIT))
        .collect();
    let columns = Columns::of(p, &rows, spec.metadata)?;
    Ok(Value::Array(
        rows.into_iter()
            .map(|r| Value::Object(finish(r, p, &columns)))
            .collect(),
    ))
}

/// A one-row answer (a summary): derived metrics, columns, formatting.
pub(crate) fn apply_one(mut row: Row, p: &TableParams, ratios: &[Ratio]) -> Result<Value> {
    derive(&mut row, ratios);
    let rows = [row];
    let columns = Columns::of(p, &rows, &[])?;
    let [row] = rows;
    Ok(Value::Object(finish(row, p, &columns)))
}

fn text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn check_column(rows: &[Row], column: &str, param: &str) -> Result<()> {
    if column == "label" || rows.is_empty() || rows.iter().any(|r| r.contains_key(column)) {
        return Ok(());
    }
    let mut known: Vec<&str> = Vec::new();
    for r in rows {
        for k in r.keys() {
            if k != "subtable" && !known.contains(&k.as_str()) {
                known.push(k);
            }
        }
    }
    Err(bad(format!(
        "{param}: this report has no column '{column}' (it has {})",
        known.join(", ")
    )))
}

/// Labels in Matomo's order (PHP's `SORT_NATURAL | SORT_FLAG_CASE`):
/// without case, runs of digits by their number (`item-9` before
/// `item-10`); labels equal so are ordered by their bytes, so that the
/// order never depends on anything but the data.
pub(crate) fn label_order(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a.chars().peekable(), b.chars().peekable());
    loop {
        match (x.peek().copied(), y.peek().copied()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let run = |it: &mut std::iter::Peekable<std::str::Chars<'_>>| {
                    let mut digits = String::new();
                    while let Some(c) = it.peek().copied().filter(char::is_ascii_digit) {
                        digits.push(c);
                        it.next();
                    }
                    digits.trim_start_matches('0').to_owned()
                };
                let (m, n) = (run(&mut x), run(&mut y));
                let o = m.len().cmp(&n.len()).then_with(|| m.cmp(&n));
                if o != Ordering::Equal {
                    return o;
                }
            }
            (Some(c), Some(d)) => {
                let o = c.to_lowercase().cmp(d.to_lowercase());
                if o != Ordering::Equal {
                    return o;
                }
                x.next();
                y.next();
            }
        }
    }
}

fn sort(rows: &mut [Row], column: &str, descending: bool) {
    let cmp = |a: &Row, b: &Row| -> Ordering {
        let o = if column == "label" {
            label_order(label(a), label(b))
        } else {
            match (a.get(column), b.get(column)) {
                (Some(Value::String(x)), Some(Value::String(y))) => x.cmp(y),
                (x, y) => num(x).partial_cmp(&num(y)).unwrap_or(Ordering::Equal),
            }
        };
        let o = if descending { o.reverse() } else { o };
        o.then_with(|| label_order(label(a), label(b)))
    };
    rows.sort_by(cmp);
    for r in rows {
        if let Some(children) = children_mut(r) {
            let mut c: Vec<Row> = std::mem::take(children)
                .into_iter()
                .filter_map(into_row)
                .collect();
            sort(&mut c, column, descending);
            *children = c.into_iter().map(Value::Object).collect();
        }
    }
}

/// Keeps `n` rows and sums the rest into Matomo's "Others" row (label
/// `-1` in Matomo's archives, shown as "Others"). Distinct counts cannot
/// be summed and are left out of that row; subtables are truncated too.
fn truncate(rows: &mut Vec<Row>, n: usize, spec: &Spec) {
    for r in rows.iter_mut() {
        if let Some(children) = children_mut(r) {
            let mut c: Vec<Row> = std::mem::take(children)
                .into_iter()
                .filter_map(into_row)
                .collect();
            truncate(&mut c, n, spec);
            *children = c.into_iter().map(Value::Object).collect();
        }
    }
    if rows.len() <= n {
        return;
    }
    let rest = rows.split_off(n);
    let ratio_names: Vec<&str> = spec.ratios.iter().map(|r| r.0).collect();
    let mut others = Row::new();
    others.insert("label".into(), json!("Others"));
    for r in &rest {
        for (k, v) in r {
            if k == "label"
                || spec.distinct.contains(&k.as_str())
                || ratio_names.contains(&k.as_str())
            {
                continue;
            }
            // Least and most: the extreme of the rows' (numbers, or
            // Matomo's seconds as text); averages are not summed.
            let extreme = k
                .strip_prefix("min_")
                .map(|_| Ordering::Less)
                .or_else(|| k.strip_prefix("max_").map(|_| Ordering::Greater));
            if let Some(want) = extreme {
                let value = |v: &Value| v.as_f64().or_else(|| v.as_str()?.parse().ok());
                if let Some(x) = value(v) {
                    let better = others
                        .get(k)
                        .and_then(value)
                        .is_none_or(|y| x.partial_cmp(&y) == Some(want));
                    if better {
                        others.insert(k.clone(), v.clone());
                    }
                }
                continue;
            }
            if k.starts_with("avg_") {
                continue;
            }
            if let Some(x) = v.as_f64() {
                let sum = num(others.get(k)) + x;
                let value = if v.is_f64() {
                    json!(sum)
                } else {
                    json!(sum as u64)
                };
                others.insert(k.clone(), value);
            }
        }
    }
    derive(&mut others, spec.ratios);
    rows.push(others);
}

fn keep_matching(rows: Vec<Row>, re: &Regex) -> Vec<Row> {
    rows.into_iter()
        .filter_map(|mut r| {
            if re.is_match(label(&r)) {
                return Some(r);
            }
            let children = take_children(&mut r);
            let kept = keep_matching(children, re);
            if kept.is_empty() {
                None
            } else {
                r.insert(
                    "subtable".into(),
                    Value::Array(kept.into_iter().map(Value::Object).collect()),
                );
                Some(r)
            }
        })
        .collect()
}

/// `label=a,b` (each URL-decoded by the query parser; `>` walks into
/// subtables): the rows with those labels, in the order asked. The top
/// level is indexed once, so a long list costs a look-up per label, not a
/// pass (and a copy) of the table.
fn by_labels(rows: Vec<Row>, labels: &[String]) -> Vec<Row> {
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        index.entry(label(r)).or_insert(i);
    }
    let mut out = Vec::new();
    for wanted in labels {
        let mut path = wanted.split('>').map(str::trim);
        let Some(&top) = path.next().and_then(|first| index.get(first)) else {
            continue;
        };
        let mut row = &rows[top];
        let mut whole = true;
        for part in path {
            match children(row).find(|r| label(r) == part) {
                Some(child) => row = child,
                None => {
                    whole = false;
                    break;
                }
            }
        }
        if whole {
            out.push(row.clone());
        }
    }
    out
}

/// A row's subtable rows, borrowed.
fn children(row: &Row) -> impl Iterator<Item = &Row> {
    let list = match row.get("subtable") {
        Some(Value::Array(c)) => c.as_slice(),
        _ => &[],
    };
    list.iter().filter_map(Value::as_object)
}

/// Subtables' rows in their parents' places, labelled `parent - child`;
/// a row without a segment, URL or logo takes its parent's (as Matomo's
/// flattener gives a subtable's rows their parent's metadata); with
/// `dims`, each row names its parts in the dimensions' columns (the top
/// row's label, a child's own label: without its parent's `parent/` when
/// the child's label is whole).
fn flatten(rows: Vec<Row>, join: Option<&str>, dims: Option<FlatDimensions>) -> Vec<Row> {
    flatten_under(rows, join, "", &Row::new(), dims, 0)
}

/// A row of a report that comes flat (page URLs): its label, its whole
/// path, in the dimension's column, last, as Matomo's flattener names it.
pub(crate) fn name_flat_path(row: &mut Row, column: &str) {
    if let Some(label) = row.get("label").cloned() {
        row.insert(column.into(), label);
    }
}

/// What a subtable's rows take from their parent when they lack it.
const INHERITED: [&str; 3] = ["url", "logo", "segment"];

fn flatten_under(
    rows: Vec<Row>,
    join: Option<&str>,
    prefix: &str,
    parent: &Row,
    dims: Option<FlatDimensions>,
    level: usize,
) -> Vec<Row> {
    let mut out = Vec::with_capacity(rows.len());
    for mut r in rows {
        let children = take_children(&mut r);
        r.shift_remove("idsubtable");
        for (k, v) in parent {
            if !r.contains_key(k) {
                r.insert(k.clone(), v.clone());
            }
        }
        let own = label(&r).to_owned();
        let name = match join {
            Some(sep) if !prefix.is_empty() => format!("{prefix}{sep}{own}"),
            _ => own.clone(),
        };
        if let Some((top, sub)) = dims {
            let column = if level == 0 { top } else { sub };
            let part = match (join, prefix.is_empty()) {
                (None, false) => own
                    .strip_prefix(prefix)
                    .and_then(|rest| rest.strip_prefix('/'))
                    .unwrap_or(&own)
                    .to_owned(),
                _ => own.clone(),
            };
            let part = match r.get(column).and_then(Value::as_str) {
                // A deeper level of the same dimension continues its path.
                Some(up) if level > 1 || top == sub => {
                    format!("{up}{}{part}", join.unwrap_or("/"))
                }
                _ => part,
            };
            r.insert(column.into(), json!(part));
        }
        if children.is_empty() {
            r.insert("label".into(), json!(name));
            out.push(r);
        } else {
            let mut inherited: Row = INHERITED
                .iter()
                .filter_map(|k| Some(((*k).to_owned(), r.get(*k)?.clone())))
                .collect();
            if let Some((top, sub)) = dims {
                for column in [top, sub] {
                    if let Some(v) = r.get(column) {
                        inherited.insert(column.into(), v.clone());
                    }
                }
            }
            out.extend(flatten_under(
                children,
                join,
                &name,
                &inherited,
                dims,
                level + 1,
            ));
        }
    }
    out
}

/// The columns a request keeps.
struct Columns {
    show: Vec<String>,
    hide: Vec<String>,
    metadata: &'static [&'static str],
}

impl Columns {
    /// As Matomo's: `hideColumns` names that a report lacks are nothing to
    /// hide, and `showColumns` shows the named columns the report has
    /// (one list serves many reports); a `showColumns` that names none of
    /// them is an error, not an empty answer.
    fn of(p: &TableParams, rows: &[Row], metadata: &'static [&'static str]) -> Result<Columns> {
        if let Some(first) = p.show_columns.first()
            && p.show_columns
                .iter()
                .all(|name| check_column(rows, name, "showColumns").is_err())
        {
            check_column(rows, first, "showColumns")?;
        }
        Ok(Columns {
            show: p.show_columns.clone(),
            hide: p.hide_columns.clone(),
            metadata,
        })
    }

    fn keeps(&self, name: &str) -> bool {
        if matches!(name, "label" | "subtable" | "idsubtable") || self.metadata.contains(&name) {
            return true;
        }
        if self
            .metadata
            .iter()
            .any(|m| m.ends_with('_') && name.starts_with(m))
        {
            // A metric's metadata (`previous_nb_visits`, ...) goes with it.
            let of = |c: &String| name.ends_with(c.as_str());
            return (self.show.is_empty() || self.show.iter().any(of)) && !self.hide.iter().any(of);
        }
        (self.show.is_empty() || self.show.iter().any(|s| s == name))
            && !self.hide.iter().any(|h| h == name)
    }
}

fn finish(mut row: Row, p: &TableParams, columns: &Columns) -> Row {
    row.retain(|k, _| !k.starts_with('$') && columns.keeps(k));
    if !p.raw_metrics {
        format_metrics(&mut row);
    }
    match row.shift_remove("subtable") {
        Some(Value::Array(children)) if p.expanded => {
            let children = children
                .into_iter()
                .filter_map(into_row)
                .map(|c| Value::Object(finish(c, p, columns)))
                .collect();
            // Inline, as Matomo's `expanded=1`: no subtable id to ask for.
            if !p.keep_subtable_ids {
                row.shift_remove("idsubtable");
            }
            row.insert("subtable".into(), Value::Array(children));
        }
        _ => {}
    }
    row
}

/// A row's derived metrics formatted as Matomo formats them
/// (`format_metrics=1`: `0.94` bounce rate is `94%`), the rest as they
/// are.
pub(crate) fn format_metrics(row: &mut Row) {
    for (k, v) in row.iter_mut() {
        if let Some(f) = v.as_f64().and_then(|x| formatted(k, x)) {
            *v = f;
        }
    }
}

/// Matomo's formatting of a derived metric (`format_metrics=1`).
fn formatted(name: &str, x: f64) -> Option<Value> {
    let name = name
        .strip_suffix("_new")
        .or_else(|| name.strip_suffix("_returning"))
        .unwrap_or(name);
    Some(if name == "interaction_rate" {
        // Matomo's two decimals, trailing zeros dropped (`66.67%`).
        let x = (x * 10_000.0).round() / 100.0;
        json!(format!("{x}%"))
    } else if name.ends_with("_rate") || name.ends_with("_percentage") {
        json!(format!("{}%", (x * 100.0).round() as i64))
    } else if name == "nb_actions_per_visit" {
        json!((x * 10.0).round() / 10.0)
    } else if matches!(name, "avg_time_on_site" | "avg_time_on_page") {
        json!(x.round() as i64)
    } else if name == "avg_event_value" {
        json!((x * 100.0).round() / 100.0)
    } else {
        return None;
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_sort_as_matomos_natural_case_insensitive_order() {
        let mut labels = vec![
            "item-10",
            "Valid",
            "item-9",
            "incredible",
            "Emoji",
            "item-09",
            "B",
            "b",
        ];
        labels.sort_by(|a, b| label_order(a, b));
        assert_eq!(
            labels,
            [
                "B",
                "b",
                "Emoji",
                "incredible",
                "item-09",
                "item-9",
                "item-10",
                "Valid"
            ]
        );
    }

    fn rows(v: Value) -> Vec<Row> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_object().unwrap().clone())
            .collect()
    }

    fn labels(v: &Value) -> Vec<&str> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r["label"].as_str().unwrap())
            .collect()
    }

    const SPEC: Spec = Spec::new(VISIT_RATIOS);

    fn sample() -> Vec<Row> {
        rows(json!([
            {"label": "a", "nb_visits": 5, "bounce_count": 1, "nb_uniq_visitors": 4,
             "subtable": [{"label": "x", "nb_visits": 3, "bounce_count": 0}, {"label": "y", "nb_visits": 2, "bounce_count": 1}]},
            {"label": "b", "nb_visits": 3, "bounce_count": 3, "nb_uniq_visitors": 3},
            {"label": "c", "nb_visits": 1, "bounce_count": 0, "nb_uniq_visitors": 1},
        ]))
    }

    #[test]
    fn truncation_sums_into_others_with_true_ratios() {
        let p = TableParams {
            truncate: Some(1),
            ..TableParams::default()
        };
        let v = apply(sample(), &p, &SPEC).unwrap();
        assert_eq!(labels(&v), ["a", "Others"]);
        assert_eq!(v[1]["nb_visits"], json!(4));
        assert_eq!(v[1]["bounce_rate"], json!("75%"));
        assert!(v[1].get("nb_uniq_visitors").is_none());
        assert_eq!(v[0]["idsubtable"], json!(1));
        assert!(
            v[0].get("subtable").is_none(),
            "expanded=0 keeps only the id"
        );
    }

    #[test]
    fn subtables_labels_and_flat() {
        let p = TableParams {
            id_subtable: Some(1),
            ..TableParams::default()
        };
        assert_eq!(labels(&apply(sample(), &p, &SPEC).unwrap()), ["x", "y"]);
        let p = TableParams {
            labels: vec!["a>y".into(), "c".into(), "nope".into()],
            ..TableParams::default()
        };
        assert_eq!(labels(&apply(sample(), &p, &SPEC).unwrap()), ["y", "c"]);
        let p = TableParams {
            flat: true,
            ..TableParams::default()
        };
        assert_eq!(
            labels(&apply(sample(), &p, &SPEC).unwrap()),
            ["a - x", "a - y", "b", "c"]
        );
        let p = TableParams {
            id_subtable: Some(7),
            ..TableParams::default()
        };
        assert!(
            apply(sample(), &p, &SPEC)
                .unwrap_err()
                .to_string()
                .contains("idSubtable=7")
        );
    }

    #[test]
    fn patterns_lowpop_sort_and_columns() {
        let p = TableParams {
            pattern: Some("^[AB]$".into()),
            sort_column: Some("bounce_rate".into()),
            ..TableParams::default()
        };
        assert_eq!(labels(&apply(sample(), &p, &SPEC).unwrap()), ["b", "a"]);
        let p = TableParams {
            pattern_recursive: Some("y".into()),
            expanded: true,
            ..TableParams::default()
        };
        let v = apply(sample(), &p, &SPEC).unwrap();
        assert_eq!(labels(&v), ["a"]);
        assert_eq!(labels(&v[0]["subtable"]), ["y"]);
        let p = TableParams {
            excludelowpop: Some("nb_visits".into()),
            excludelowpop_value: Some(3.0),
            show_columns: vec!["nb_visits".into()],
            ..TableParams::default()
        };
        let v = apply(sample(), &p, &SPEC).unwrap();
        assert_eq!(
            v,
            json!([{"label": "a", "nb_visits": 5, "idsubtable": 1}, {"label": "b", "nb_visits": 3}])
        );
        // As Matomo's, hiding a column the report lacks hides nothing; a
        // showColumns that names none of its columns is an error.
        let p = TableParams {
            hide_columns: vec!["nope".into()],
            ..TableParams::default()
        };
        assert_eq!(
            apply(sample(), &p, &SPEC).unwrap(),
            apply(sample(), &TableParams::default(), &SPEC).unwrap()
        );
        let p = TableParams {
            show_columns: vec!["nope".into()],
            ..TableParams::default()
        };
        assert!(
            apply(sample(), &p, &SPEC)
                .unwrap_err()
                .to_string()
                .contains("no column 'nope'")
        );
        let p = TableParams {
            pattern: Some("(".into()),
            ..TableParams::default()
        };
        assert!(
            apply(sample(), &p, &SPEC)
                .unwrap_err()
                .to_string()
                .contains("filter_pattern")
        );
    }
}
