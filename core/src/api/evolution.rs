//! `API.getRowEvolution` for one row: a report's row (by `label`) over a
//! series of periods, its metrics' smallest and largest values and the
//! change from the first period to the last, in Matomo's shape.

use serde_json::{Map, Value, json};

use super::methods;
use super::{ApiOptions, ApiRequest, Sites, bad};
use crate::engine::Engine;
use crate::error::Result;

/// The leading number of a cell (`"100%"` is 100), as PHP's `floatval`.
fn leading_number(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().unwrap_or(0.0),
        Value::String(s) => {
            let end = s
                .char_indices()
                .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || (i == 0 && c == '-')))
                .map_or(s.len(), |(i, _)| i);
            s[..end].parse().unwrap_or(0.0)
        }
        Value::Bool(b) => f64::from(u8::from(*b)),
        _ => 0.0,
    }
}

impl Engine {
    /// `API.getRowEvolution` (`apiModule`, `apiAction`, `label`, a series
    /// of periods: `lastN`, `previousN`, `A,B`; `period=range` is a
    /// series of days): `label` (the row's URL without scheme and `www.`
    /// for an action report's page, else its label), `reportData` (each
    /// period's row with the report's metrics, or none), and `metadata`
    /// (each metric's name, smallest and largest value from its first
    /// non-zero one, and its change from the first period to the last
    /// when the first is not zero; the report's dimension).
    pub(super) fn row_evolution(
        &self,
        r: &ApiRequest,
        site: u32,
        options: &ApiOptions,
    ) -> Result<Value> {
        let (module, action, info) = super::global::asked_report(r, "Actions", "getPageUrls")?;
        let name = info.name.to_owned();
        if info.dimension.is_none() {
            return Err(bad(format!(
                "{name} has no dimension: row evolution follows a row of a report with one"
            )));
        }
        let label = match r.table.labels.as_slice() {
            [one] => one.clone(),
            [] => {
                return Err(bad(
                    "API.getRowEvolution needs label=<the row's label> (a>b for a row of a subtable)",
                ));
            }
            _ => {
                return Err(bad(
                    "API.getRowEvolution answers one label here (Matomo's several-row evolution is not supported): ask once per label",
                ));
            }
        };
        let period = if r.period == "range" {
            "day"
        } else {
            r.period.as_str()
        };
        let (_, multi) = self.periods(site, period.parse()?, &r.date, options.now)?;
        if !multi {
            return Err(bad(
                "API.getRowEvolution needs a series of periods: date=lastN, previousN or A,B (or period=range)",
            ));
        }
        let sub = ApiRequest {
            method: name.clone(),
            sites: Sites::One(site),
            site,
            period: period.to_owned(),
            api_method: (None, None),
            table: crate::table::TableParams {
                labels: vec![label.clone()],
                limit: Some(-1),
                raw_metrics: r.table.raw_metrics,
                ..crate::table::TableParams::default()
            },
            ..r.clone()
        };
        let (data, _) = self.answer_site(&sub, info, site, options)?;
        let (metrics, processed) = methods::family_metrics(info.family);
        let names: Vec<(&str, &str)> = metrics.iter().chain(processed).copied().collect();
        let mut report = Map::new();
        let mut actual: Option<String> = None;
        let periods = data.as_object().cloned().unwrap_or_default();
        // Each period's row of the label, if it has one.
        let rows: Vec<Option<&Map<String, Value>>> = periods
            .values()
            .map(|rows| {
                rows.as_array()
                    .and_then(|a| a.first())
                    .and_then(Value::as_object)
            })
            .collect();
        for (date, &row) in periods.keys().zip(&rows) {
            if let (None, Some(row)) = (&actual, row) {
                let url = row.get("url").and_then(Value::as_str);
                actual = match url {
                    Some(u) if module == "Actions" || name == "Referrers.getWebsites" => {
                        Some(crate::url::page_name(u).to_owned())
                    }
                    _ => row.get("label").and_then(Value::as_str).map(str::to_owned),
                };
            }
            let kept: Map<String, Value> = row
                .map(|row| {
                    row.iter()
                        .filter(|(k, _)| names.iter().any(|(n, _)| n == k))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect()
                })
                .unwrap_or_default();
            report.insert(
                date.clone(),
                if row.is_some() {
                    json!([kept])
                } else {
                    json!([])
                },
            );
        }
        let mut described = Map::new();
        for (metric, title) in &names {
            let mut m = Map::new();
            m.insert("name".into(), json!(title));
            let value = |row: &Option<&Map<String, Value>>| {
                row.and_then(|r| r.get(*metric)).map_or(0.0, leading_number)
            };
            let mut seen = false;
            let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
            for row in &rows {
                let x = value(row);
                seen |= x > 0.0;
                if seen {
                    min = min.min(x);
                    max = max.max(x);
                }
            }
            if seen {
                m.insert("min".into(), super::global::number(min));
                m.insert("max".into(), super::global::number(max));
            }
            let first = rows.first().map_or(0.0, value);
            let last = rows.last().map_or(0.0, value);
            if first != 0.0 {
                let change = ((last - first) / first * 100.0).round();
                let sign = if change > 0.0 { "+" } else { "" };
                m.insert("change".into(), json!(format!("{sign}{change}%")));
            }
            described.insert((*metric).into(), Value::Object(m));
        }
        // A page URL report's row: the page's URL without the scheme (the
        // folders and the page joined), as Matomo labels it.
        let url_report = module == "Actions"
            && matches!(
                action.as_str(),
                "getPageUrls"
                    | "getEntryPageUrls"
                    | "getExitPageUrls"
                    | "getPageUrlsFollowingSiteSearch"
            );
        let label = if url_report {
            let state = self.site_state(site)?;
            let main = state.config.url();
            let host = crate::url::page_name(&main).trim_end_matches('/');
            let path: String = label.split('>').map(str::trim).collect();
            let slash = if path.starts_with('/') { "" } else { "/" };
            format!("{host}{slash}{path}")
        } else {
            actual.unwrap_or_else(|| label.replace('>', " - "))
        };
        Ok(json!({
            "label": label,
            "reportData": report,
            "metadata": {
                "metrics": described,
                "dimension": info.dimension,
            },
        }))
    }
}
