//! The Reporting API's output formats, shaped like Matomo's: `json`,
//! `csv`, `tsv` and `xml`, for answers and for errors. Every host (the
//! server, Python, PHP, C) renders through here, so a request answers the
//! same bytes everywhere.

use std::fmt::Write as _;
use std::str::FromStr;

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// An output format of the Reporting API (`format=`).
///
/// # Examples
/// ```
/// use hitmap::Format;
/// assert_eq!("CSV".parse::<Format>()?, Format::Csv);
/// assert!("original".parse::<Format>().unwrap_err().to_string().contains("format=original"));
/// # Ok::<(), hitmap::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Format {
    /// JSON (the default).
    #[default]
    Json,
    /// Comma-separated values with a header row (UTF-8).
    Csv,
    /// Tab-separated values with a header row (UTF-8).
    Tsv,
    /// Matomo's XML: `<result>`, `<row>`, `<results>` for maps.
    Xml,
    /// An HTML table (Matomo's `format=html`): a header row of the
    /// columns, a row per report row, subtables as nested tables, a
    /// heading per period or site of a map.
    Html,
}

impl FromStr for Format {
    type Err = Error;
    fn from_str(s: &str) -> Result<Format> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "json" | "" => Format::Json,
            "csv" => Format::Csv,
            "tsv" => Format::Tsv,
            "xml" => Format::Xml,
            "html" => Format::Html,
            "original" => {
                return Err(Error::Request(
                    "format=original returns PHP objects inside Matomo and is not supported: \
                     use format=json, csv, tsv, xml or html"
                        .into(),
                ));
            }
            other => {
                return Err(Error::Request(format!(
                    "unknown format '{other}': use json, csv, tsv, xml or html"
                )));
            }
        })
    }
}

impl Format {
    /// The HTTP `Content-Type` of this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json; charset=utf-8",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Tsv => "text/tab-separated-values; charset=utf-8",
            Format::Xml => "text/xml; charset=utf-8",
            Format::Html => "text/html; charset=utf-8",
        }
    }

    /// The format a query string asks for (`format=`), or JSON when it
    /// names none or one this module does not know (the error is then
    /// the request's, reported in JSON).
    pub fn of_query(query: &str) -> Format {
        query
            .trim_start_matches('?')
            .split('&')
            .filter_map(|p| p.split_once('='))
            .rfind(|(k, _)| *k == "format")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or_default()
    }
}

/// A whole HTTP-ready answer: status, content type and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiResponse {
    /// 200, or the error's [`Error::http_status`].
    pub status: u16,
    /// The format's content type.
    pub content_type: &'static str,
    /// The rendered answer or error.
    pub body: String,
}

/// Whether an answer is a map keyed by period (or site), each value an
/// object or a row list; a single summary holds only scalars.
fn is_map(v: &Map<String, Value>) -> bool {
    !v.is_empty() && v.values().all(|x| x.is_object() || x.is_array())
}

/// Renders an answer of [`Engine::answer`](crate::Engine::answer).
///
/// # Examples
/// ```
/// use hitmap::{Format, render};
/// let v = serde_json::json!({"2024-06-01": {"nb_visits": 2}, "2024-06-02": []});
/// assert_eq!(render(&v, Format::Csv), "date,nb_visits\n2024-06-01,2\n");
/// assert!(render(&v, Format::Xml).contains("<result date=\"2024-06-02\" />"));
/// ```
pub fn render(v: &Value, format: Format) -> String {
    let keys: &[&str] = match v {
        Value::Object(m) if is_map(m) => &["date"],
        _ => &[],
    };
    render_keyed(v, format, keys)
}

/// Renders an answer whose outer levels are maps keyed by `keys` (for
/// example `["idSite", "date"]` for several sites and periods): CSV and
/// TSV get a column per key, XML nests `<result idSite="1">` elements.
///
/// # Examples
/// ```
/// use hitmap::{Format, render_keyed};
/// let v = serde_json::json!({"1": {"2024-06": {"nb_visits": 2}}, "3": {"2024-06": []}});
/// assert_eq!(render_keyed(&v, Format::Csv, &["idSite", "date"]), "idSite,date,nb_visits\n1,2024-06,2\n");
/// assert!(render_keyed(&v, Format::Xml, &["idSite", "date"]).contains("<result idSite=\"3\">\n\t\t<result date=\"2024-06\" />"));
/// // No answer at all is Matomo's success message.
/// assert_eq!(render_keyed(&serde_json::Value::Null, Format::Json, &[]), r#"{"result":"success","message":"ok"}"#);
/// ```
pub fn render_keyed(v: &Value, format: Format, keys: &[&str]) -> String {
    // No answer (a getter of something that does not exist, such as
    // `Goals.getGoal` of an unknown id): Matomo's "success" in each format.
    if v.is_null() {
        return match format {
            Format::Json => r#"{"result":"success","message":"ok"}"#.into(),
            Format::Csv => "message\nok".into(),
            Format::Tsv => "message\tok".into(),
            Format::Xml => "<?xml version=\"1.0\" encoding=\"utf-8\" ?>\n<result>\n\t<success message=\"ok\" />\n</result>".into(),
            Format::Html => "<!-- Success: ok -->".into(),
        };
    }
    // A lone number or text (Matomo's scalar getters): `{"value": x}` in
    // JSON, a `value` column in CSV and TSV, `<result>x</result>` in XML.
    if !matches!(v, Value::Object(_) | Value::Array(_))
        && !matches!(format, Format::Xml | Format::Html)
    {
        let wrapped = serde_json::json!({ "value": v });
        return render_keyed(&wrapped, format, keys);
    }
    match format {
        Format::Json => v.to_string(),
        Format::Csv => table(v, ',', keys),
        Format::Tsv => table(v, '\t', keys),
        Format::Xml => xml(v, keys),
        Format::Html => html(v, keys),
    }
}

/// Renders an error in a format's error shape.
///
/// # Examples
/// ```
/// use hitmap::{Error, Format, render_error};
/// let e = Error::Request("missing parameter 'method'".into());
/// assert_eq!(render_error(&e, Format::Json), r#"{"result":"error","message":"missing parameter 'method'"}"#);
/// assert_eq!(render_error(&e, Format::Csv), "Error: missing parameter 'method'\n");
/// assert!(render_error(&e, Format::Xml).contains(r#"<error message="missing parameter &apos;method&apos;" />"#));
/// ```
pub fn render_error(e: &Error, format: Format) -> String {
    match format {
        Format::Json => e.to_api_json(),
        Format::Csv | Format::Tsv => format!("Error: {e}\n"),
        Format::Xml => format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\" ?>\n<result>\n\t<error message=\"{}\" />\n</result>",
            escape(&e.to_string())
        ),
        Format::Html => format!("<p class=\"error\">Error: {}</p>\n", escape(&e.to_string())),
    }
}

/// A cell: strings as they are, numbers as JSON writes them but a whole
/// float without its `.0` (Matomo writes `1`, not `1.0`), booleans 0/1.
fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Bool(b) => u8::from(*b).to_string(),
        Value::String(s) => s.clone(),
        Value::Number(n) => match n.as_f64() {
            Some(x) if n.is_f64() && x.fract() == 0.0 && x.abs() < 1e15 => (x as i64).to_string(),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

/// CSV/TSV: a header of every column in first-seen order (subtables left
/// out: ask `flat=1`), a column per map level (`idSite`, `date`) first.
fn table(v: &Value, sep: char, keys: &[&str]) -> String {
    let mut rows: Vec<(Vec<&str>, &Map<String, Value>)> = Vec::new();
    collect(v, keys.len(), &mut Vec::new(), &mut rows);
    let mut columns: Vec<&str> = Vec::new();
    for (_, m) in &rows {
        for (k, x) in m.iter() {
            if !x.is_array() && !x.is_object() && !columns.contains(&k.as_str()) {
                columns.push(k);
            }
        }
    }
    if columns.is_empty() {
        return String::new();
    }
    let field = |s: &str| -> String {
        if sep == '\t' {
            s.replace(['\t', '\n', '\r'], " ")
        } else if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_owned()
        }
    };
    let mut out = String::new();
    let mut header: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
    header.extend(columns.iter().map(|c| field(c)));
    out.push_str(&header.join(&sep.to_string()));
    out.push('\n');
    for (path, m) in rows {
        let mut line: Vec<String> = path.iter().map(|k| field(k)).collect();
        line.extend(
            columns
                .iter()
                .map(|c| field(&m.get(*c).map(cell).unwrap_or_default())),
        );
        out.push_str(&line.join(&sep.to_string()));
        out.push('\n');
    }
    out
}

/// The rows under `levels` map levels, each with its keys.
fn collect<'a>(
    v: &'a Value,
    levels: usize,
    path: &mut Vec<&'a str>,
    rows: &mut Vec<(Vec<&'a str>, &'a Map<String, Value>)>,
) {
    match v {
        Value::Object(m) if levels > 0 => {
            for (k, x) in m {
                path.push(k);
                collect(x, levels - 1, path, rows);
                path.pop();
            }
        }
        Value::Object(m) => rows.push((path.clone(), m)),
        Value::Array(items) => rows.extend(
            items
                .iter()
                .filter_map(|i| i.as_object())
                .map(|m| (path.clone(), m)),
        ),
        _ => {}
    }
}

/// Escapes text for XML content and attributes.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Matomo's XML: one object is `<result>` with an element per column; a
/// row list is `<result>` of `<row>`s (subtables nested as `<subtable>`);
/// a map is `<results>` of `<result date="...">` (or `idSite`, nested).
fn xml(v: &Value, keys: &[&str]) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\" ?>\n");
    match (v, keys.split_first()) {
        (Value::Object(m), Some((key, rest))) => {
            out.push_str("<results>\n");
            for (k, x) in m {
                keyed(&mut out, 1, key, k, rest, x);
            }
            out.push_str("</results>");
        }
        (other, _) => {
            element(&mut out, 0, "result", "", other);
            out.pop();
        }
    }
    out
}

fn keyed(out: &mut String, depth: usize, key: &str, k: &str, rest: &[&str], x: &Value) {
    let attrs = format!(" {key}=\"{}\"", escape(k));
    match (x, rest.split_first()) {
        (Value::Object(m), Some((next, more))) if !m.is_empty() => {
            let indent = "\t".repeat(depth);
            let _ = writeln!(out, "{indent}<result{attrs}>");
            for (k2, x2) in m {
                keyed(out, depth + 1, next, k2, more, x2);
            }
            let _ = writeln!(out, "{indent}</result>");
        }
        _ => element(out, depth, "result", &attrs, x),
    }
}

fn element(out: &mut String, depth: usize, name: &str, attrs: &str, v: &Value) {
    let indent = "\t".repeat(depth);
    match v {
        Value::Object(m) if !m.is_empty() => {
            let _ = writeln!(out, "{indent}<{name}{attrs}>");
            for (k, x) in m {
                // Matomo's keyed rows (`goals`: `idgoal=1`) are `<row idgoal='1'>`.
                match k.split_once('=') {
                    Some((attr, value)) => {
                        let attrs = format!(" {attr}='{}'", escape(value));
                        element(out, depth + 1, "row", &attrs, x);
                    }
                    // Rows keyed by a number (Goals.getGoals: goal ids)
                    // are `<row key="1">`, as Matomo writes them.
                    // Row evolution's periods, as Matomo writes a map.
                    None if k == "reportData" && x.is_object() => {
                        let inner = "\t".repeat(depth + 1);
                        let _ = writeln!(out, "{inner}<reportData>");
                        for (date, rows) in x.as_object().into_iter().flatten() {
                            let attrs = format!(" date=\"{}\"", escape(date));
                            element(out, depth + 2, "result", &attrs, rows);
                        }
                        let _ = writeln!(out, "{inner}</reportData>");
                    }
                    None if k.starts_with(|c: char| c.is_ascii_digit()) => {
                        let attrs = format!(" key=\"{}\"", escape(k));
                        element(out, depth + 1, "row", &attrs, x);
                    }
                    None => element(out, depth + 1, k, "", x),
                }
            }
            let _ = writeln!(out, "{indent}</{name}>");
        }
        Value::Array(items) if !items.is_empty() => {
            let _ = writeln!(out, "{indent}<{name}{attrs}>");
            for item in items {
                element(out, depth + 1, "row", "", item);
            }
            let _ = writeln!(out, "{indent}</{name}>");
        }
        Value::Object(_) | Value::Array(_) => {
            let _ = writeln!(out, "{indent}<{name}{attrs} />");
        }
        scalar => {
            // An empty value is an empty element, as Matomo writes it.
            let text = cell(scalar);
            if text.is_empty() {
                let _ = writeln!(out, "{indent}<{name}{attrs} />");
            } else {
                let _ = writeln!(out, "{indent}<{name}{attrs}>{}</{name}>", escape(&text));
            }
        }
    }
}

/// HTML: the map levels as headings (`<h2>date 2024-06</h2>`), each
/// answer a table: rows under a header of every column in first-seen
/// order (a nested table for a subtable or another list), one object as a
/// two-column table of names and values, an empty answer as an empty
/// table.
fn html(v: &Value, keys: &[&str]) -> String {
    let mut out = String::new();
    html_level(&mut out, v, keys, 2);
    out
}

fn html_level(out: &mut String, v: &Value, keys: &[&str], depth: usize) {
    match (v, keys.split_first()) {
        (Value::Object(m), Some((key, rest))) => {
            for (k, x) in m {
                let h = depth.min(6);
                let _ = writeln!(out, "<h{h}>{} {}</h{h}>", escape(key), escape(k));
                html_level(out, x, rest, depth + 1);
            }
        }
        (x, _) => html_table(out, x),
    }
}

fn html_table(out: &mut String, v: &Value) {
    match v {
        Value::Array(items) => {
            let rows: Vec<&Map<String, Value>> =
                items.iter().filter_map(Value::as_object).collect();
            let mut columns: Vec<&str> = Vec::new();
            for m in &rows {
                for k in m.keys() {
                    if !columns.contains(&k.as_str()) {
                        columns.push(k);
                    }
                }
            }
            out.push_str("<table>\n<thead><tr>");
            for c in &columns {
                let _ = write!(out, "<th>{}</th>", escape(c));
            }
            out.push_str("</tr></thead>\n<tbody>\n");
            for m in rows {
                out.push_str("<tr>");
                for c in &columns {
                    out.push_str("<td>");
                    match m.get(*c) {
                        Some(x @ (Value::Array(_) | Value::Object(_))) => html_table(out, x),
                        Some(x) => out.push_str(&escape(&cell(x))),
                        None => {}
                    }
                    out.push_str("</td>");
                }
                out.push_str("</tr>\n");
            }
            out.push_str("</tbody>\n</table>\n");
        }
        Value::Object(m) => {
            out.push_str("<table>\n<tbody>\n");
            for (k, x) in m {
                let _ = write!(out, "<tr><th>{}</th><td>", escape(k));
                match x {
                    Value::Array(_) | Value::Object(_) => html_table(out, x),
                    _ => out.push_str(&escape(&cell(x))),
                }
                out.push_str("</td></tr>\n");
            }
            out.push_str("</tbody>\n</table>\n");
        }
        scalar => {
            let _ = writeln!(
                out,
                "<table>\n<tbody>\n<tr><td>{}</td></tr>\n</tbody>\n</table>",
                escape(&cell(scalar))
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shapes_follow_matomo() {
        let one = json!({"nb_visits": 3, "bounce_rate": "33%"});
        assert_eq!(render(&one, Format::Csv), "nb_visits,bounce_rate\n3,33%\n");
        assert_eq!(
            render(&one, Format::Xml),
            "<?xml version=\"1.0\" encoding=\"utf-8\" ?>\n<result>\n\t<nb_visits>3</nb_visits>\n\t<bounce_rate>33%</bounce_rate>\n</result>"
        );
        let rows = json!([{"label": "a,\"b\"", "nb_visits": 2, "subtable": [{"label": "c"}]}, {"label": "d", "nb_visits": 1}]);
        assert_eq!(
            render(&rows, Format::Csv),
            "label,nb_visits\n\"a,\"\"b\"\"\",2\nd,1\n"
        );
        assert_eq!(
            render(&rows, Format::Tsv),
            "label\tnb_visits\na,\"b\"\t2\nd\t1\n"
        );
        let x = render(&rows, Format::Xml);
        assert!(
            x.contains("\t<row>\n\t\t<label>a,&quot;b&quot;</label>"),
            "{x}"
        );
        assert!(
            x.contains("<subtable>\n\t\t\t<row>\n\t\t\t\t<label>c</label>"),
            "{x}"
        );
        assert_eq!(
            render(&json!([]), Format::Xml),
            "<?xml version=\"1.0\" encoding=\"utf-8\" ?>\n<result />"
        );
        assert_eq!(render(&json!([]), Format::Csv), "");
        // A row's goals, keyed `idgoal=N`, as Matomo writes them.
        let goals = json!([{"label": "x", "goals": {"idgoal=2": {"nb_conversions": 1}}}]);
        assert!(
            render(&goals, Format::Xml).contains(
                "\t\t<goals>\n\t\t\t<row idgoal='2'>\n\t\t\t\t<nb_conversions>1</nb_conversions>\n\t\t\t</row>\n\t\t</goals>"
            ),
            "{}",
            render(&goals, Format::Xml)
        );
        let map = json!({"2024-06": [{"label": "x", "nb_hits": 1}], "2024-07": []});
        assert_eq!(
            render(&map, Format::Csv),
            "date,label,nb_hits\n2024-06,x,1\n"
        );
        let x = render(&map, Format::Xml);
        assert!(x.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\" ?>\n<results>\n\t<result date=\"2024-06\">\n\t\t<row>"), "{x}");
    }

    #[test]
    fn html_is_a_table_of_the_rows() {
        let rows = json!([{"label": "<a>", "nb_visits": 2, "subtable": [{"label": "c", "nb_visits": 1}]}, {"label": "d", "nb_visits": 1}]);
        let h = render(&rows, Format::Html);
        assert!(
            h.starts_with(
                "<table>\n<thead><tr><th>label</th><th>nb_visits</th><th>subtable</th></tr></thead>"
            ),
            "{h}"
        );
        assert!(
            h.contains("<tr><td>&lt;a&gt;</td><td>2</td><td><table>"),
            "{h}"
        );
        assert!(h.contains("<tr><td>d</td><td>1</td><td></td></tr>"), "{h}");
        let one = render(&json!({"nb_visits": 3}), Format::Html);
        assert_eq!(
            one,
            "<table>\n<tbody>\n<tr><th>nb_visits</th><td>3</td></tr>\n</tbody>\n</table>\n"
        );
        let map = render(
            &json!({"2024-06": [{"label": "x"}], "2024-07": []}),
            Format::Html,
        );
        assert!(map.starts_with("<h2>date 2024-06</h2>\n<table>"), "{map}");
        assert!(
            map.contains("<h2>date 2024-07</h2>\n<table>\n<thead><tr></tr></thead>"),
            "{map}"
        );
        assert_eq!(
            render(&json!(5), Format::Html),
            "<table>\n<tbody>\n<tr><td>5</td></tr>\n</tbody>\n</table>\n"
        );
        let e = Error::Request("bad <x>".into());
        assert_eq!(
            render_error(&e, Format::Html),
            "<p class=\"error\">Error: bad &lt;x&gt;</p>\n"
        );
        assert_eq!("html".parse::<Format>().unwrap(), Format::Html);
    }

    #[test]
    fn of_query_finds_the_format() {
        assert_eq!(Format::of_query("method=x&format=xml"), Format::Xml);
        assert_eq!(Format::of_query("format=nope"), Format::Json);
        assert_eq!(Format::of_query(""), Format::Json);
    }
}
