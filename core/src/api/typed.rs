//! Answers the generic filters would pass through, as typed rows: a flat
//! action report for one site and one period, with no filter but
//! `filter_offset` and `filter_limit`. A host that renders columns (Arrow)
//! takes these rows as they are, skipping the JSON rows the generic
//! filters work on; anything else goes the generic way.

use crate::api::methods::Kind;
use crate::api::{ApiOptions, ApiRequest, Plan, Sites, method};
use crate::engine::Engine;
use crate::report::{ActionReportKind, ActionRow};
use crate::table::{self, DEFAULT_LIMIT, Ratio};

/// The rows of a flat action report, as the generic filters would leave
/// them: sorted, offset and limited, with the report's derived metrics.
pub(crate) struct ActionTable {
    pub rows: Vec<ActionRow>,
    /// Whether the rows carry page metrics (time, entries, exits).
    pub pages: bool,
    /// The derived metrics, in the order the generic rows add them.
    pub ratios: &'static [Ratio],
    /// `format_metrics=0`: ratios as raw numbers.
    pub raw_metrics: bool,
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
        options.check(0, 1).ok()?;
        let sel = resolved.select(Some((p.from, p.to))).ok()?;
        let pages = matches!(
            kind,
            ActionReportKind::PageUrls | ActionReportKind::PageTitles
        );
        let rows = sel
            .action_report(kind)
            .into_iter()
            .skip(t.offset)
            .take(t.rows_wanted(DEFAULT_LIMIT))
            .collect();
        Some(ActionTable {
            rows,
            pages,
            ratios: if pages { table::PAGE_RATIOS } else { &[] },
            raw_metrics: t.raw_metrics,
        })
    }
}
