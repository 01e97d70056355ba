//! `Transitions.getTransitionsForAction`, `getTransitionsForPageUrl` and
//! `getTransitionsForPageTitle` in Matomo's shape: the page's metrics,
//! its previous and following pages and searches, outlinks, downloads
//! and entry referrers, each list cut to `limitBeforeGrouping` rows (5 by
//! default) and an `Others` row, as Matomo's ranking query groups them.

use serde_json::{Map, Value, json};

use super::{ApiRequest, bad};
use crate::error::Result;
use crate::period::{Period, PeriodRange};
use crate::query::Selection;
use crate::referrer::ReferrerType;
use crate::transitions::{Counted, TransitionsOf};

/// Matomo's default `limitBeforeGrouping`.
const DEFAULT_LIMIT: usize = 5;

/// The parts a request asks for (`parts`: `all`, or some of
/// `internalReferrers`, `followingActions`, `externalReferrers`).
struct Parts {
    internal: bool,
    following: bool,
    external: bool,
}

fn parts(r: &ApiRequest) -> Result<Parts> {
    let text = r.transitions_parts.as_deref().unwrap_or("all");
    if text == "all" {
        return Ok(Parts {
            internal: true,
            following: true,
            external: true,
        });
    }
    let mut p = Parts {
        internal: false,
        following: false,
        external: false,
    };
    for part in text.split(',').map(str::trim) {
        match part {
            "internalReferrers" => p.internal = true,
            "followingActions" => p.following = true,
            "externalReferrers" => p.external = true,
            other => {
                return Err(bad(format!(
                    "parts takes all, or internalReferrers, followingActions and externalReferrers separated by commas; got '{other}'"
                )));
            }
        }
    }
    Ok(p)
}

/// The page a request names.
pub(super) fn transitions_of(r: &ApiRequest) -> Result<TransitionsOf> {
    let of = match r.method.as_str() {
        "Transitions.getTransitionsForPageUrl" => r.page_url.clone().map(TransitionsOf::Url),
        "Transitions.getTransitionsForPageTitle" => r.page_title.clone().map(TransitionsOf::Title),
        _ => match (r.action_name.clone(), r.action_type.as_deref()) {
            (Some(name), Some("url")) => Some(TransitionsOf::Url(name)),
            (Some(name), Some("title")) => Some(TransitionsOf::Title(name)),
            (Some(_), Some(other)) => {
                return Err(bad(format!(
                    "actionType must be url or title, got '{other}'"
                )));
            }
            _ => None,
        },
    };
    of.ok_or_else(|| {
        bad(format!(
            "{} needs {}",
            r.method,
            match r.method.as_str() {
                "Transitions.getTransitionsForPageUrl" => "pageUrl=<the page's URL>",
                "Transitions.getTransitionsForPageTitle" => "pageTitle=<the page's title>",
                _ => "actionName=<a page URL or title> and actionType=url or title",
            }
        ))
    })
}

/// Rows `{label, referrals}`, the first `limit` and the rest summed as
/// `Others`.
fn ranked(rows: &Counted, limit: usize) -> Value {
    let mut out: Vec<Value> = rows
        .iter()
        .take(limit)
        .map(|(label, n)| json!({"label": label, "referrals": n}))
        .collect();
    let rest: u64 = rows.iter().skip(limit).map(|(_, n)| n).sum();
    if rows.len() > limit {
        out.push(json!({"label": "Others", "referrals": rest}));
    }
    Value::Array(out)
}

/// Matomo's Transitions label of a referrer type.
fn referrer_label(kind: ReferrerType) -> &'static str {
    match kind {
        ReferrerType::Direct => "Direct entries",
        ReferrerType::Search => "From search engines",
        ReferrerType::Social => "From social networks",
        ReferrerType::Website => "From websites",
        ReferrerType::Campaign => "From campaigns",
        ReferrerType::Ai => "From AI assistants",
    }
}

/// One period's transitions answer; Matomo's `NoDataForAction` error
/// when the period has no page view of the page.
pub(super) fn answer(
    r: &ApiRequest,
    sel: &Selection<'_>,
    period: Period,
    p: &PeriodRange,
) -> Result<Value> {
    let of = transitions_of(r)?;
    let parts = parts(r)?;
    let limit = match r.limit_before_grouping {
        Some(0) | None => DEFAULT_LIMIT,
        Some(n) => n,
    };
    let Some(t) = sel.transitions(&of) else {
        let (what, name) = match &of {
            TransitionsOf::Url(u) => ("URL", u),
            TransitionsOf::Title(t) => ("title", t),
        };
        return Err(bad(format!(
            "NoDataForAction: no page view of the page {what} '{name}' in {}",
            p.label
        )));
    };
    let mut out = Map::new();
    out.insert("date".into(), json!(super::global::short_range(period, p)));
    let mut metrics = Map::new();
    if parts.internal {
        out.insert("previousPages".into(), ranked(&t.previous_pages, limit));
        out.insert(
            "previousSiteSearches".into(),
            ranked(&t.previous_searches, limit),
        );
        metrics.insert("loops".into(), json!(t.loops));
        metrics.insert("pageviews".into(), json!(t.pageviews));
    }
    if parts.external {
        metrics.insert("entries".into(), json!(t.entries));
    }
    if parts.internal && parts.following && parts.external {
        metrics.insert("exits".into(), json!(t.exits));
    }
    out.insert("pageMetrics".into(), Value::Object(metrics));
    if parts.following {
        let mut pages = t.following_pages.clone();
        // Without the previous pages, a loop is a following page (Matomo's).
        if !parts.internal && t.loops > 0 {
            let label = match &of {
                TransitionsOf::Url(u) => crate::url::page_name(u).to_owned(),
                TransitionsOf::Title(title) => title.trim().to_owned(),
            };
            pages.push((label, t.loops));
            pages.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        }
        out.insert("followingPages".into(), ranked(&pages, limit));
        out.insert(
            "followingSiteSearches".into(),
            ranked(&t.following_searches, limit),
        );
        out.insert("outlinks".into(), ranked(&t.outlinks, limit));
        out.insert("downloads".into(), ranked(&t.downloads, limit));
    }
    if parts.external {
        let mut referrers: Vec<Value> = t
            .referrers
            .iter()
            .map(|e| {
                json!({
                    "label": referrer_label(e.kind),
                    "shortName": e.kind.name(),
                    "visits": e.visits,
                    "details": ranked(&e.details, limit),
                })
            })
            .collect();
        if referrers.is_empty() {
            // Matomo's placeholder when no visit entered here.
            referrers.push(json!({"label": "Direct entries", "shortName": "direct", "visits": 0}));
        }
        out.insert("referrers".into(), Value::Array(referrers));
    }
    Ok(Value::Object(out))
}
