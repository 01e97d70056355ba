//! What commands print: a table on a terminal, JSON, CSV, TSV or XML when
//! piped or asked. Tables are laid out from the core's TSV rendering, so a
//! table shows exactly the columns every other format carries.

use std::io::IsTerminal;
use std::str::FromStr;

use hitmap::{Format, render};
use serde_json::Value;

/// How a command prints an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// A table on a terminal, JSON when piped.
    #[default]
    Auto,
    /// Aligned columns.
    Table,
    /// One of the Reporting API formats.
    Api(Format),
}

impl FromStr for OutputFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<OutputFormat, String> {
        match s {
            "auto" => Ok(OutputFormat::Auto),
            "table" => Ok(OutputFormat::Table),
            other => other
                .parse::<Format>()
                .map(OutputFormat::Api)
                .map_err(|e| e.to_string().replace("format=", "--format ")),
        }
    }
}

impl OutputFormat {
    /// Auto resolved against stdout.
    pub fn resolve(self) -> OutputFormat {
        match self {
            OutputFormat::Auto if std::io::stdout().is_terminal() => OutputFormat::Table,
            OutputFormat::Auto => OutputFormat::Api(Format::Json),
            other => other,
        }
    }
}

/// Renders an answer for stdout.
///
/// # Examples
/// ```
/// use hitmap_cli::output::{OutputFormat, show};
/// let v = serde_json::json!([{"label": "/a", "nb_hits": 12}, {"label": "/bb", "nb_hits": 3}]);
/// assert_eq!(show(&v, OutputFormat::Table), "label  nb_hits\n/a          12\n/bb          3\n");
/// ```
pub fn show(v: &Value, format: OutputFormat) -> String {
    match format.resolve() {
        OutputFormat::Api(Format::Json) => {
            let mut s = serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string());
            s.push('\n');
            s
        }
        OutputFormat::Api(f) => {
            let mut s = render(v, f);
            if !s.ends_with('\n') {
                s.push('\n');
            }
            s
        }
        _ => table(&render(v, Format::Tsv)),
    }
}

/// Aligns TSV into columns; numbers right-aligned. One wide row is shown
/// as `metric value` lines.
fn table(tsv: &str) -> String {
    let rows: Vec<Vec<&str>> = tsv.lines().map(|l| l.split('\t').collect()).collect();
    let Some(header) = rows.first() else {
        return "(no data)\n".into();
    };
    if rows.len() == 1 {
        return "(no data)\n".into();
    }
    if rows.len() == 2 && header.len() > 4 {
        let width = header.iter().map(|h| h.chars().count()).max().unwrap_or(0);
        return header
            .iter()
            .zip(&rows[1])
            .map(|(h, v)| format!("{h:<width$}  {v}\n"))
            .collect();
    }
    let cols = header.len();
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .map(|r| r.get(c).map_or(0, |s| s.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let numeric = |s: &str| !s.is_empty() && s.trim_end_matches('%').parse::<f64>().is_ok();
    let mut out = String::new();
    for (i, r) in rows.iter().enumerate() {
        let cells: Vec<String> = (0..cols)
            .map(|c| {
                let s = r.get(c).copied().unwrap_or("");
                let w = widths[c];
                if i > 0 && numeric(s) {
                    format!("{s:>w$}")
                } else {
                    format!("{s:<w$}")
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}
