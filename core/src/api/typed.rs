//! Answers the generic filters would pass through, as typed rows: a flat
//! action report for one site and one period, with no filter but
//! `filter_offset` and `filter_limit`. Its JSON is written from these rows
//! and its Arrow columns built from them (`arrow.rs`), skipping the JSON
//! rows the generic filters work on; anything else goes the generic way.
//! Both give what the generic rows give, byte for byte.

use crate::api::methods::Kind;
use crate::api::rows::{PerfShape, action_row};
use crate::api::{ApiOptions, ApiRequest, Plan, Sites, method};
use crate::engine::Engine;
use crate::report::{ActionReportKind, ActionRow};
use crate::table::{self, DEFAULT_LIMIT, Ratio, Row};
use serde_json::Value;

/// The rows of a flat action report, as the generic filters would leave
/// them: sorted, offset and limited, with the report's derived metrics.
pub(crate) struct ActionTable {
    pub rows: Vec<ActionRow>,
    /// What the rows show of their load timings and bandwidth (decided
    /// by the whole report's rows, before the offset and limit).
    pub shape: PerfShape,
    /// Whether the rows carry page metrics (time, entries, exits).
    pub pages: bool,
    /// The derived metrics, in the order the generic rows add them.
    pub ratios: &'static [Ratio],
    /// `format_metrics=0`: ratios as raw numbers.
    pub raw_metrics: bool,
    /// Flat: the column that names each row's path (Matomo's flattened
    /// dimension), last, as the generic filters add it.
    pub flat_dimension: Option<&'static str>,
}

impl Engine {
    /// The typed rows of a request, when it asks for a flat action report
    /// of one site and one period that the generic filters would only
    /// offset and limit; `None` otherwise, and for any request that fails
    /// (the generic path then gives its answer or its error).
    pub(crate) fn action_table(&self, r: &ApiRequest, options: &ApiOptions) -> Option<ActionTable> {
        let info = method(&r.method).ok()?;
        let t = &r.table;
        let kind = match info.kind {
            Kind::PageUrls if t.flat => ActionReportKind::PageUrls,
            Kind::Action(
                k @ (ActionReportKind::PageTitles | ActionReportKind::SiteSearchKeywords),
            ) => k,
            Kind::Action(k @ (ActionReportKind::Downloads | ActionReportKind::Outlinks))
                if t.flat =>
            {
                k
            }
            _ => return None,
        };
        let Sites::One(site) = r.sites else {
            return None;
        };
        // Comparisons are added to the rows of the general path.
        if r.compare {
            return None;
        }
        if !t.passes_flat_rows() {
            return None;
        }
        r.require(info.kind.needs()).ok()?;
        r.check_method_parameters(info).ok()?;
        options.check_sites(&[site]).ok()?;
        let period = r.period.parse().ok()?;
        let (periods, multi) = self.periods(site, period, &r.date, options.now).ok()?;
        let [p] = periods.as_slice() else {
            return None;
        };
        if multi {
            return None;
        }
        let Plan::One(resolved) = self.plan(r, info, site).ok()? else {
            return None;
        };
        // Page rows of a site with goals carry goal cells, and a site's
        // title categories make a tree: the generic way.
        if kind.pages() && resolved.site.config.has_conversions()
            || crate::api::rows::title_tree(&resolved.site.config, kind, t)
        {
            return None;
        }
        options.check(0, 1).ok()?;
        let range = Some((p.from, p.to));
        // Whole months and years from their report rollups, if they have
        // them.
        let rows = match resolved.rolled_action_report(range, kind).ok()? {
            Some(rows) => rows,
            None => resolved.select(range).ok()?.action_report(kind),
        };
        let pages = kind.pages();
        let shape = PerfShape::of(&rows, kind, resolved.site.config.main_url.as_deref(), t);
        let rows = rows
            .into_iter()
            .skip(t.offset)
            .take(t.rows_wanted(DEFAULT_LIMIT))
            .collect();
        Some(ActionTable {
            rows,
            shape,
            pages,
            ratios: if pages { table::PAGE_RATIOS } else { &[] },
            raw_metrics: t.raw_metrics,
            flat_dimension: t.flat_dimensions.map(|d| d.0),
        })
    }
}

impl ActionTable {
    /// The rows as the generic path gives them: each row's columns, its
    /// derived metrics (raw or formatted) after them, a page without
    /// entries or exits without those columns.
    pub(crate) fn json_rows(&self) -> Vec<Row> {
        self.rows
            .iter()
            .map(|r| {
                let mut m = action_row(r, &self.shape, true);
                for &(name, n, d) in self.ratios {
                    let num = |c: &str| m.get(c).and_then(Value::as_f64);
                    if let (Some(n), Some(d)) = (num(n), num(d)) {
                        let x = table::ratio(n, d);
                        m.insert(name.into(), table::shown(name, x, self.raw_metrics));
                    }
                }
                if self.pages {
                    crate::api::without_zero_entry_columns(&mut m);
                }
                if let Some(column) = self.flat_dimension {
                    table::name_flat_path(&mut m, column);
                }
                m
            })
            .collect()
    }

    /// The rows as the Reporting API's JSON (`format=json`).
    pub(crate) fn to_json(&self) -> String {
        Value::Array(self.json_rows().into_iter().map(Value::Object).collect()).to_string()
    }
}

/// The requests and data the typed paths are checked on (here for JSON,
/// in `arrow.rs` for Arrow).
#[cfg(test)]
pub(crate) mod typed_tests {
    use super::*;
    use crate::render::{Format, render_keyed};
    use crate::sample::{self, SampleConfig};

    pub(crate) fn engine() -> Engine {
        let cfg = SampleConfig {
            visitors: 150,
            days: 20,
            ..SampleConfig::default()
        };
        let mut e = Engine::in_memory();
        e.add_site(sample::site_config(&cfg)).unwrap();
        e.ingest(sample::generate(&cfg)).unwrap();
        e
    }

    /// Every action report, flat or not, over days, ranges, months, an
    /// empty day and several periods, with and without filters the typed
    /// rows cannot take, segments (one bad), sections and both formats.
    pub(crate) fn requests() -> Vec<String> {
        let mut out = Vec::new();
        for method in [
            "Actions.getPageUrls&flat=1",
            "Actions.getPageUrls",
            "Actions.getPageTitles",
            "Actions.getPageTitles&flat=1",
            "Actions.getDownloads&flat=1",
            "Actions.getDownloads",
            "Actions.getOutlinks&flat=1",
            "Actions.getSiteSearchKeywords",
        ] {
            for date in [
                "period=day&date=2025-01-08",
                "period=range&date=2025-01-01,2025-01-20",
                "period=month&date=2025-01",
                "period=day&date=2024-06-01",
                "period=day&date=last3",
            ] {
                for extra in [
                    "",
                    "&format_metrics=0",
                    "&filter_limit=-1&format_metrics=0",
                    "&filter_limit=7&filter_offset=3",
                    "&filter_limit=0",
                    "&filter_offset=100000",
                    "&segment=deviceType%3D%3Ddesktop&filter_limit=-1",
                    "&section=News&filter_limit=-1&format_metrics=0",
                    "&filter_sort_column=nb_hits&filter_limit=-1",
                    "&segment=nope%3D%3Dx",
                ] {
                    out.push(format!("method={method}&idSite=1&{date}{extra}"));
                }
            }
        }
        out
    }

    /// Asks every request of [`requests`] through the path under test
    /// (`got`) and the generic rows (`generic`), which must agree, answer
    /// or error alike, and checks that the typed rows alone (`typed`) give
    /// the generic answer. Returns how many requests took the typed path,
    /// and the answers.
    pub(crate) fn agree<T: PartialEq + std::fmt::Debug>(
        got: impl Fn(&Engine, &str, &ApiOptions) -> crate::error::Result<T>,
        generic: impl Fn(&Engine, &ApiRequest, &ApiOptions) -> crate::error::Result<T>,
        typed: impl Fn(&ActionTable) -> T,
    ) -> (usize, Vec<T>) {
        let e = engine();
        let options = ApiOptions::default();
        let (mut typed_count, mut answers) = (0, Vec::new());
        for q in requests() {
            let request = ApiRequest::parse(&q).unwrap();
            let want = generic(&e, &request, &options);
            match (got(&e, &q, &options), want.as_ref()) {
                (Ok(got), Ok(want)) => {
                    assert_eq!(&got, want, "{q}");
                    answers.push(got);
                }
                (Err(got), Err(want)) => {
                    assert_eq!(got.to_string(), want.to_string(), "{q}")
                }
                (got, _) => panic!("{q}: {got:?} against {want:?}"),
            }
            if let Some(t) = e.action_table(&request, &options) {
                typed_count += 1;
                assert_eq!(&typed(&t), want.as_ref().unwrap(), "{q}");
            }
        }
        (typed_count, answers)
    }

    #[test]
    fn typed_action_rows_write_the_json_of_the_generic_rows() {
        let (typed, answers) = agree(
            |e, q, options| e.api_with(q, options),
            |e, request, options| {
                e.answer_keyed(request, options)
                    .map(|a| render_keyed(&a.value, Format::Json, &a.keys))
            },
            ActionTable::to_json,
        );
        let bytes: usize = answers.iter().map(String::len).sum();
        // Most requests took the typed path, over many rows.
        assert!(
            typed > 100 && bytes > 1_000_000,
            "{typed} typed, {bytes} bytes"
        );
    }
}
