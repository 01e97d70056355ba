//! A brute-force reference model written straight from `docs/hits.md`
//! over raw hits: no dictionaries, no bitmaps, no archives. The property
//! tests check that the engine equals it.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, NaiveDate, Timelike};
use chrono_tz::Tz;
use hitmap::{Hit, HitType};

pub struct RefSite {
    pub tz: Tz,
    pub timeout: i64,
}

#[derive(Debug, Clone)]
pub struct RVisit {
    /// A number of its own: two visits of a visitor may start in the same
    /// second (a campaign that changes starts a visit).
    pub seq: usize,
    pub date: NaiveDate,
    pub visitor: String,
    /// Its actions (none for a visit of conversions alone).
    pub hits: Vec<Hit>,
    /// Its first action's time, or its first conversion's.
    pub start: i64,
    /// Its `visit` id.
    pub key: Option<String>,
    /// The recorded conversions of its stretch of requests (or of its
    /// `visit` id): the ones it holds.
    pub convs: Vec<Hit>,
    pub user: Option<String>,
    pub referrer: Option<String>,
    pub device: Option<String>,
    pub country: Option<String>,
    pub dims: BTreeMap<String, String>,
    pub visit_count: u32,
    pub length: u64,
    pub referrer_type: &'static str,
    /// The hour (0-23) and weekday (1 = Monday) of the first hit, on the
    /// site's clock.
    pub hour: u32,
    pub weekday: u32,
    /// Local days since the visitor's previous visit (0 the same day).
    pub days_since_last: Option<i64>,
    /// When the visitor's first visit started (its first hit).
    pub first_start: i64,
}

pub fn no_fragment(url: &str) -> &str {
    url.split('#').next().unwrap()
}

/// Path and query of `https://host/...`, fragment dropped.
pub fn page_label(url: &str) -> String {
    let u = no_fragment(url);
    let after = u.split_once("://").map_or(u, |(_, rest)| rest);
    match after.find(['/', '?']) {
        Some(i) if after[i..].starts_with('/') => after[i..].to_string(),
        Some(i) => after[i..].to_string(),
        None => "/".to_string(),
    }
}

pub fn path(url: &str) -> String {
    let l = page_label(url);
    let p = l.split('?').next().unwrap().to_string();
    if p.is_empty() { "/".into() } else { p }
}

pub fn in_section(url: Option<&str>, prefix: &str) -> bool {
    let Some(url) = url else { return false };
    let p = path(url);
    prefix == "/" || p == prefix || p.starts_with(&format!("{prefix}/"))
}

/// Everything that orders hits of one visitor at one second.
fn action_key(
    h: &Hit,
) -> (
    Option<String>,
    HitType,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
) {
    let is_search = h.kind == HitType::Search;
    let ev = if h.kind == HitType::Event {
        h.event.clone()
    } else {
        None
    };
    (
        h.url.as_deref().map(|u| no_fragment(u).to_string()),
        h.kind,
        h.title.clone(),
        if is_search { h.search.clone() } else { None },
        ev.as_ref().map(|e| e.category.clone()),
        ev.as_ref().map(|e| e.action.clone()),
        ev.as_ref().and_then(|e| e.name.clone()),
    )
}

fn ev_value(h: &Hit) -> f64 {
    match (&h.kind, &h.event) {
        (HitType::Event, Some(e)) => e.value.unwrap_or(f64::NAN),
        _ => f64::NAN,
    }
}

/// The load timings and bandwidth as the engine orders equal actions by
/// them (a missing value after every value).
fn perf_key(h: &Hit) -> ([u32; 6], u64) {
    (
        h.perf.times.map(|t| t.unwrap_or(u32::MAX)),
        h.perf.bandwidth.unwrap_or(u64::MAX),
    )
}

/// A site search's category and result count, as the engine orders
/// equal actions by them (missing first).
fn search_key(h: &Hit) -> (Option<String>, Option<u32>) {
    (h.search_category.clone(), h.search_count)
}

fn same_action(a: &Hit, b: &Hit) -> bool {
    a.ts == b.ts
        && action_key(a) == action_key(b)
        && ev_value(a).total_cmp(&ev_value(b)).is_eq()
        && perf_key(a) == perf_key(b)
        && search_key(a) == search_key(b)
}

/// The visit's value of a field: its first hit that carries one; among
/// hits that are the same action, the smallest value.
fn first_value(hits: &[Hit], get: impl Fn(&Hit) -> Option<String>) -> Option<String> {
    let c = hits.iter().position(|h| get(h).is_some())?;
    hits[c..]
        .iter()
        .take_while(|h| same_action(h, &hits[c]))
        .filter_map(&get)
        .min()
}

fn referrer_type(first_url: Option<&str>, referrer: Option<&str>) -> &'static str {
    if let Some(u) = first_url
        && let Some((_, q)) = no_fragment(u).split_once('?')
        && q.split('&')
            .any(|kv| ["utm_", "mtm_", "pk_"].iter().any(|p| kv.starts_with(p)))
    {
        return "campaign";
    }
    match referrer {
        None => "direct",
        Some(r) if r.contains("://x.org") => "direct",
        Some(r) if r.contains("google.") => "search",
        Some(r) if r.contains("facebook.com") => "social",
        Some(_) => "website",
    }
}

/// Matomo's campaign name and keyword parameters (docs/hits.md, "Campaigns").
const CAMPAIGN_NAMES: [&str; 8] = [
    "pk_cpn",
    "pk_campaign",
    "piwik_campaign",
    "mtm_campaign",
    "matomo_campaign",
    "utm_campaign",
    "utm_source",
    "utm_medium",
];
const CAMPAIGN_KEYWORDS: [&str; 7] = [
    "pk_kwd",
    "pk_keyword",
    "piwik_kwd",
    "mtm_kwd",
    "mtm_keyword",
    "matomo_kwd",
    "utm_term",
];

/// A hit as the engine keeps it: an action's URL (not a download's or
/// outlink's) without campaign name and keyword parameters; an action
/// whose URL named a campaign, and that records no campaign, records it
/// (its name: the first name parameter's value, lower-cased).
pub fn as_stored(h: &Hit) -> Hit {
    let mut h = h.clone();
    if matches!(h.kind, HitType::Download | HitType::Outlink) {
        return h;
    }
    let Some(url) = h.url.clone() else { return h };
    let (base, fragment) = url
        .split_once('#')
        .map_or((&*url, None), |(b, f)| (b, Some(f)));
    let Some((path, query)) = base.split_once('?') else {
        return h;
    };
    let is = |list: &[&str], kv: &str| {
        let k = kv.split('=').next().unwrap();
        list.iter().any(|p| p.eq_ignore_ascii_case(k))
    };
    let pairs: Vec<&str> = query.split('&').collect();
    if !pairs
        .iter()
        .any(|kv| is(&CAMPAIGN_NAMES, kv) || is(&CAMPAIGN_KEYWORDS, kv))
    {
        return h;
    }
    let kept: Vec<&str> = pairs
        .iter()
        .copied()
        .filter(|kv| !kv.is_empty() && !is(&CAMPAIGN_NAMES, kv) && !is(&CAMPAIGN_KEYWORDS, kv))
        .collect();
    let mut stored = path.to_string();
    if !kept.is_empty() {
        stored = format!("{stored}?{}", kept.join("&"));
    }
    if let Some(f) = fragment {
        stored = format!("{stored}#{f}");
    }
    h.url = Some(stored);
    if h.kind.is_action() && h.campaign.is_none() {
        let value = |list: &[&str]| {
            list.iter().find_map(|name| {
                pairs.iter().find_map(|kv| {
                    let (k, v) = kv.split_once('=')?;
                    (k.eq_ignore_ascii_case(name) && !v.is_empty()).then(|| v.to_lowercase())
                })
            })
        };
        h.campaign = Some(hitmap::Campaign {
            name: value(&CAMPAIGN_NAMES),
            keyword: value(&CAMPAIGN_KEYWORDS),
            ..Default::default()
        });
    }
    h
}

/// The referrer type of a visit's actions: the first recorded; else a
/// campaign when its landing action (any hit of it) records a campaign
/// name or keyword; else derived from the first one's URL and the first
/// referrer, a direct entry becoming a campaign when any action records
/// one.
fn type_of(vh: &[Hit]) -> &'static str {
    let names_campaign = |h: &Hit| {
        h.campaign
            .as_ref()
            .is_some_and(|c| c.name.is_some() || c.keyword.is_some())
    };
    let landing_campaign = vh.first().is_some_and(|first| {
        vh.iter()
            .take_while(|h| same_action(h, first))
            .any(names_campaign)
    });
    match first_value(vh, |h| h.referrer_type.clone()) {
        Some(t) => recorded_type(&t),
        None if landing_campaign => "campaign",
        None => match referrer_type(
            vh.first().and_then(|h| h.url.as_deref()),
            first_value(vh, |h| h.referrer.clone()).as_deref(),
        ) {
            "direct" if vh.iter().any(names_campaign) => "campaign",
            derived => derived,
        },
    }
}

fn recorded_type(t: &str) -> &'static str {
    ["direct", "search", "website", "campaign", "social"]
        .into_iter()
        .find(|n| *n == t)
        .unwrap()
}

pub fn visits(hits: &[Hit], site: &RefSite) -> Vec<RVisit> {
    let local = |ts: i64| {
        DateTime::from_timestamp(ts, 0)
            .unwrap()
            .with_timezone(&site.tz)
            .date_naive()
    };
    // A visit id groups a visitor's hits of a day whatever the gaps; hits
    // without one follow the timeout rule.
    let mut groups: BTreeMap<(String, NaiveDate, Option<String>), Vec<Hit>> = BTreeMap::new();
    for h in hits {
        groups
            .entry((h.visitor.clone(), local(h.ts), h.visit.clone()))
            .or_default()
            .push(as_stored(h));
    }
    let mut out = Vec::new();
    for ((visitor, date, key), mut hs) in groups {
        hs.sort_by(|a, b| {
            a.ts.cmp(&b.ts)
                .then_with(|| action_key(a).cmp(&action_key(b)))
                .then_with(|| ev_value(a).total_cmp(&ev_value(b)))
                .then_with(|| perf_key(a).cmp(&perf_key(b)))
                .then_with(|| search_key(a).cmp(&search_key(b)))
        });
        let mut start = 0;
        for i in 1..=hs.len() {
            if i == hs.len() || (key.is_none() && hs[i].ts - hs[i - 1].ts >= site.timeout) {
                // Conversions keep a visit open but are not its actions; a
                // stretch of conversions alone is a visit without actions.
                let vh: Vec<Hit> = hs[start..i]
                    .iter()
                    .filter(|h| h.kind.is_action())
                    .cloned()
                    .collect();
                let convs: Vec<Hit> = hs[start..i]
                    .iter()
                    .filter(|h| !h.kind.is_action())
                    .cloned()
                    .collect();
                start = i;
                // Without actions: no fields, a direct entry, its
                // conversions' times.
                let first = vh.first().map_or_else(|| convs[0].ts, |h| h.ts);
                let last = vh.last().map_or(first, |h| h.ts);
                let referrer = first_value(&vh, |h| h.referrer.clone());
                let mut dims = BTreeMap::new();
                let names: BTreeSet<String> = vh
                    .iter()
                    .flat_map(|h| h.dims.iter().map(|d| d.0.clone()))
                    .collect();
                for n in names {
                    let v = first_value(&vh, |h| {
                        h.dims.iter().find(|d| d.0 == n).map(|d| d.1.clone())
                    });
                    dims.insert(n, v.unwrap());
                }
                let clock = DateTime::from_timestamp(first, 0)
                    .unwrap()
                    .with_timezone(&site.tz);
                out.push(RVisit {
                    seq: out.len(),
                    hour: clock.hour(),
                    weekday: clock.weekday().number_from_monday(),
                    days_since_last: None,
                    first_start: first,
                    date,
                    visitor: visitor.clone(),
                    user: first_value(&vh, |h| h.user.clone()),
                    device: first_value(&vh, |h| h.device.clone()),
                    country: first_value(&vh, |h| h.country.clone()),
                    referrer_type: type_of(&vh),
                    referrer,
                    dims,
                    visit_count: 0,
                    length: if vh.len() <= 1 {
                        0
                    } else {
                        (1 + last - first) as u64
                    },
                    start: first,
                    key: key.clone(),
                    convs,
                    hits: vh,
                });
            }
        }
    }
    // visitCount: rank among the visitor's visits by (local day, start).
    let mut by_visitor: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, v) in out.iter().enumerate() {
        by_visitor.entry(v.visitor.clone()).or_default().push(i);
    }
    for idx in by_visitor.values() {
        let mut idx = idx.clone();
        idx.sort_by(|&i, &j| {
            let (a, b) = (&out[i], &out[j]);
            (a.date, a.start, &a.key)
                .cmp(&(b.date, b.start, &b.key))
                .then_with(|| {
                    a.hits
                        .first()
                        .map(action_key)
                        .cmp(&b.hits.first().map(action_key))
                })
                .then_with(|| {
                    let value = |v: &RVisit| v.hits.first().map_or(f64::NAN, ev_value);
                    value(a).total_cmp(&value(b))
                })
                .then_with(|| {
                    let key = |v: &RVisit| v.hits.first().map(perf_key);
                    key(a).cmp(&key(b))
                })
                .then_with(|| {
                    let key = |v: &RVisit| v.hits.first().map(search_key);
                    key(a).cmp(&key(b))
                })
        });
        let mut previous: Option<NaiveDate> = None;
        let first_start = idx.iter().map(|&i| out[i].start).min().unwrap();
        for (rank, i) in idx.into_iter().enumerate() {
            out[i].first_start = first_start;
            out[i].visit_count = rank as u32 + 1;
            out[i].days_since_last = previous.map(|p| (out[i].date - p).num_days());
            previous = Some(out[i].date);
        }
    }
    out
}

/// A condition of the reference's segment pool.
#[derive(Debug, Clone)]
pub struct RCond {
    pub field: &'static str,
    pub op: &'static str,
    pub value: String,
}

impl RCond {
    pub fn text(&self) -> String {
        format!("{}{}{}", self.field, self.op, self.value)
    }
}

/// `=@`, `!@`, `=^`, `=$` compare without case (Matomo's `LIKE`), as do
/// `==` and `!=` on codes kept in lower case (`countryCode`); other `==`
/// exactly (each row's segment selects exactly its row).
/// A URL as Matomo's URL segments compare it with `==`: without scheme,
/// `www.`, fragment and case.
fn url_key(url: &str) -> String {
    let lower = no_fragment(url.trim()).to_lowercase();
    let rest = lower
        .strip_prefix("http://")
        .or_else(|| lower.strip_prefix("https://"))
        .unwrap_or(&lower);
    rest.strip_prefix("www.").unwrap_or(rest).to_owned()
}

fn text_match(op: &str, v: &str, s: Option<&str>) -> bool {
    if matches!(op, "==" | "!=") {
        exact_match(op, v, s)
    } else {
        fold_match(op, v, s)
    }
}

fn fold_match(op: &str, v: &str, s: Option<&str>) -> bool {
    let (v, s) = (v.to_lowercase(), s.map(str::to_lowercase));
    exact_match(op, &v, s.as_deref())
}

fn exact_match(op: &str, v: &str, s: Option<&str>) -> bool {
    match op {
        "==" if v.is_empty() => s.is_none(),
        "!=" if v.is_empty() => s.is_some(),
        "==" => s == Some(v),
        "!=" => s != Some(v),
        "=@" => s.is_some_and(|s| s.contains(v)),
        "!@" => !s.is_some_and(|s| s.contains(v)),
        "=^" => s.is_some_and(|s| s.starts_with(v)),
        "=$" => s.is_some_and(|s| s.ends_with(v)),
        _ => panic!("op {op}"),
    }
}

fn positive(op: &str) -> &'static str {
    match op {
        "!=" => "==",
        "!@" => "=@",
        "==" => "==",
        "=@" => "=@",
        "=^" => "=^",
        "=$" => "=$",
        _ => panic!("op {op}"),
    }
}

fn num_match(op: &str, x: f64, v: f64) -> bool {
    match op {
        "==" => x == v,
        "!=" => x != v,
        "<" => x < v,
        "<=" => x <= v,
        ">" => x > v,
        ">=" => x >= v,
        _ => panic!("op {op}"),
    }
}

pub fn cond_matches(c: &RCond, v: &RVisit) -> bool {
    let page_urls = || v.hits.iter().filter(|h| h.kind == HitType::Pageview);
    let action_values: Option<Vec<Option<String>>> = match c.field {
        "pageUrl" => Some(
            page_urls()
                .map(|h| h.url.as_deref().map(|u| no_fragment(u).to_string()))
                .collect(),
        ),
        "pageTitle" => Some(page_urls().map(|h| h.title.clone()).collect()),
        "downloadUrl" => Some(
            v.hits
                .iter()
                .filter(|h| h.kind == HitType::Download)
                .map(|h| h.url.as_deref().map(|u| no_fragment(u).to_string()))
                .collect(),
        ),
        "siteSearchKeyword" => Some(
            v.hits
                .iter()
                .filter(|h| h.kind == HitType::Search)
                .map(|h| h.search.clone())
                .collect(),
        ),
        "siteSearchCategory" => Some(
            v.hits
                .iter()
                .filter(|h| h.kind == HitType::Search)
                .map(|h| h.search_category.clone())
                .collect(),
        ),
        "eventCategory" => Some(
            v.hits
                .iter()
                .filter(|h| h.kind == HitType::Event)
                .map(|h| h.event.as_ref().map(|e| e.category.clone()))
                .collect(),
        ),
        "eventName" => Some(
            v.hits
                .iter()
                .filter(|h| h.kind == HitType::Event)
                .map(|h| h.event.as_ref().and_then(|e| e.name.clone()))
                .collect(),
        ),
        _ => None,
    };
    if let Some(values) = action_values {
        let present: Vec<&str> = values.iter().flatten().map(String::as_str).collect();
        if c.value.is_empty() && matches!(c.op, "==" | "!=") {
            return (c.op == "!=") != present.is_empty();
        }
        let op = positive(c.op);
        let url = matches!(c.field, "pageUrl" | "downloadUrl");
        let any = present.iter().any(|s| {
            if url && op == "==" {
                url_key(&c.value) == url_key(s)
            } else {
                text_match(op, &c.value, Some(s))
            }
        });
        return if matches!(c.op, "!=" | "!@") {
            !any
        } else {
            any
        };
    }
    let num = |x: f64| num_match(c.op, x, c.value.parse().unwrap());
    let entry = page_urls()
        .next()
        .and_then(|h| h.url.as_deref())
        .map(|u| no_fragment(u).to_string());
    match c.field {
        "actions" => num(v.hits.len() as f64),
        // Matomo's: the last action's hour in UTC.
        "visitServerHour" => num(f64::from(utc(last_ts(v)).hour())),
        "visitStartServerHour" => num(f64::from(v.hour)),
        "visitStartServerMinute" => num(f64::from(utc(v.start).minute())),
        "visitEndServerMinute" => num(f64::from(utc(last_ts(v)).minute())),
        "visitEndServerSecond" => num(f64::from(utc(last_ts(v)).second())),
        "visitEndServerDayOfWeek" => num(f64::from(utc(last_ts(v)).weekday().number_from_sunday())),
        "visitEndServerDayOfMonth" => num(f64::from(utc(last_ts(v)).day())),
        "visitEndServerDayOfYear" => num(f64::from(utc(last_ts(v)).ordinal())),
        "visitEndServerMonth" => num(f64::from(utc(last_ts(v)).month())),
        "visitEndServerQuarter" => num(f64::from((utc(last_ts(v)).month() - 1) / 3 + 1)),
        "visitEndServerWeekOfYear" => num(f64::from(utc(last_ts(v)).iso_week().week())),
        "visitEndServerYear" => num(f64::from(utc(last_ts(v)).year())),
        "actionServerHour" => v.hits.iter().any(|h| num(f64::from(utc(h.ts).hour()))),
        "actionServerMinute" => v.hits.iter().any(|h| num(f64::from(utc(h.ts).minute()))),
        "events" => num(v.hits.iter().filter(|h| h.kind == HitType::Event).count() as f64),
        "searches" => num(v.hits.iter().filter(|h| h.kind == HitType::Search).count() as f64),
        "entryPageTitle" => text_match(
            c.op,
            &c.value,
            page_urls().next().and_then(|h| h.title.as_deref()),
        ),
        "exitPageTitle" => text_match(
            c.op,
            &c.value,
            page_urls().next_back().and_then(|h| h.title.as_deref()),
        ),
        "daysSinceLastVisit" => v.days_since_last.is_some_and(|d| num(d as f64)),
        "eventValue" => v.hits.iter().any(|h| {
            h.kind == HitType::Event && h.event.as_ref().and_then(|e| e.value).is_some_and(num)
        }),
        "siteSearchCount" => v.hits.iter().any(|h| {
            h.kind == HitType::Search && h.search_count.is_some_and(|n| num(f64::from(n)))
        }),
        "visitDuration" => num(v.length as f64),
        "visitCount" => num(f64::from(v.visit_count)),
        "visitorType" => (v.visit_count == 1) == ((c.value == "new") == (c.op == "==")),
        "visitorId" => exact_match(c.op, &c.value, Some(&v.visitor)),
        "userId" => text_match(c.op, &c.value, v.user.as_deref()),
        "deviceType" => text_match(c.op, &c.value, v.device.as_deref()),
        "countryCode" => fold_match(c.op, &c.value, v.country.as_deref()),
        "referrerType" => text_match(c.op, &c.value, Some(v.referrer_type)),
        "referrerUrl" => text_match(c.op, &c.value, v.referrer.as_deref()),
        "entryPageUrl" if matches!(c.op, "==" | "!=") && !c.value.is_empty() => {
            (entry.as_deref().map(url_key) == Some(url_key(&c.value))) == (c.op == "==")
        }
        "entryPageUrl" => text_match(c.op, &c.value, entry.as_deref()),
        dim => text_match(c.op, &c.value, v.dims.get(dim).map(String::as_str)),
    }
}

fn utc(ts: i64) -> DateTime<chrono::Utc> {
    DateTime::from_timestamp(ts, 0).unwrap()
}

fn last_ts(v: &RVisit) -> i64 {
    let of = if v.hits.is_empty() { &v.convs } else { &v.hits };
    of.iter().map(|h| h.ts).max().unwrap()
}

/// AND of ORs.
pub fn segment_matches(segment: &[Vec<RCond>], v: &RVisit) -> bool {
    segment
        .iter()
        .all(|clause| clause.iter().any(|c| cond_matches(c, v)))
}

/// A visit as reports see it: the selected visit cut to a section.
pub struct Cut<'a> {
    pub visit: &'a RVisit,
    /// Indices into `visit.hits`.
    pub actions: Vec<usize>,
    pub length: u64,
}

pub fn cut_visits<'a>(
    visits: &'a [RVisit],
    from: NaiveDate,
    to: NaiveDate,
    segment: &[Vec<RCond>],
    section: Option<&str>,
) -> Vec<Cut<'a>> {
    let mut out = Vec::new();
    for v in visits {
        if v.date < from || v.date > to || !segment_matches(segment, v) {
            continue;
        }
        let actions: Vec<usize> = (0..v.hits.len())
            .filter(|&i| section.is_none_or(|p| in_section(v.hits[i].url.as_deref(), p)))
            .collect();
        if actions.is_empty() && section.is_some() {
            continue;
        }
        let length = if section.is_none() {
            v.length
        } else if actions.len() == 1 {
            0
        } else {
            (1 + v.hits[*actions.last().unwrap()].ts - v.hits[actions[0]].ts) as u64
        };
        out.push(Cut {
            visit: v,
            actions,
            length,
        });
    }
    out
}

pub fn summary(cuts: &[Cut]) -> hitmap::VisitsSummary {
    let mut s = hitmap::VisitsSummary::default();
    let mut visitors = BTreeSet::new();
    let mut users = BTreeSet::new();
    for c in cuts {
        let n = c.actions.len() as u64;
        s.nb_visits += 1;
        s.nb_actions += n;
        s.max_actions = s.max_actions.max(n);
        s.bounce_count += u64::from(n <= 1);
        s.sum_visit_length += c.length;
        visitors.insert(&c.visit.visitor);
        if let Some(u) = &c.visit.user {
            users.insert(u);
        }
    }
    s.nb_uniq_visitors = visitors.len() as u64;
    s.nb_users = users.len() as u64;
    s
}

pub fn actions(cuts: &[Cut]) -> hitmap::ActionsSummary {
    let mut s = hitmap::ActionsSummary::default();
    let mut keywords = BTreeSet::new();
    for c in cuts {
        let mut uniq: [BTreeSet<String>; 3] = Default::default();
        for &i in &c.actions {
            let h = &c.visit.hits[i];
            match h.kind {
                HitType::Pageview => {
                    s.nb_pageviews += 1;
                    uniq[0].insert(page_label(h.url.as_deref().unwrap()));
                }
                HitType::Download => {
                    s.nb_downloads += 1;
                    uniq[1].insert(no_fragment(h.url.as_deref().unwrap()).to_string());
                }
                HitType::Outlink => {
                    s.nb_outlinks += 1;
                    uniq[2].insert(no_fragment(h.url.as_deref().unwrap()).to_string());
                }
                HitType::Search => {
                    s.nb_searches += 1;
                    keywords.insert(h.search.clone().unwrap());
                }
                HitType::Event => s.nb_events += 1,
                // The model's visits hold only actions.
                HitType::Goal
                | HitType::Order
                | HitType::Cart
                | HitType::ProductView
                | HitType::Content => {
                    unreachable!()
                }
            }
        }
        s.nb_uniq_pageviews += uniq[0].len() as u64;
        s.nb_uniq_downloads += uniq[1].len() as u64;
        s.nb_uniq_outlinks += uniq[2].len() as u64;
    }
    s.nb_keywords = keywords.len() as u64;
    s
}

/// docs/hits.md's time spent on page view `i` of a visit's hits (no
/// recorded conversions): each later hit's seconds since the one before,
/// up to and with the next page view, events' seconds left out.
pub fn page_time(hits: &[Hit], i: usize) -> u64 {
    let mut t = 0;
    for k in i + 1..hits.len() {
        if hits[k].kind != HitType::Event {
            t += (hits[k].ts - hits[k - 1].ts) as u64;
        }
        if hits[k].kind == HitType::Pageview {
            break;
        }
    }
    t
}

/// Flat page rows: label -> (hits, visits, visitors, entries, exits, entry bounces, time).
pub fn pages(cuts: &[Cut]) -> BTreeMap<String, (u64, u64, u64, u64, u64, u64, u64)> {
    let mut rows: BTreeMap<String, (u64, BTreeSet<usize>, BTreeSet<String>, u64, u64, u64, u64)> =
        BTreeMap::new();
    for c in cuts {
        let hits = &c.visit.hits;
        let pv: Vec<usize> = c
            .actions
            .iter()
            .copied()
            .filter(|&i| hits[i].kind == HitType::Pageview)
            .collect();
        for &i in &pv {
            let r = rows
                .entry(page_label(hits[i].url.as_deref().unwrap()))
                .or_default();
            r.0 += 1;
            r.1.insert(c.visit.seq);
            r.2.insert(c.visit.visitor.clone());
            r.6 += page_time(hits, i);
        }
        if let (Some(&first), Some(&last)) = (pv.first(), pv.last()) {
            let e = rows
                .get_mut(&page_label(hits[first].url.as_deref().unwrap()))
                .unwrap();
            e.3 += 1;
            e.5 += u64::from(c.actions.len() == 1);
            rows.get_mut(&page_label(hits[last].url.as_deref().unwrap()))
                .unwrap()
                .4 += 1;
        }
    }
    rows.into_iter()
        .map(|(k, r)| {
            (
                k,
                (r.0, r.1.len() as u64, r.2.len() as u64, r.3, r.4, r.5, r.6),
            )
        })
        .collect()
}

/// Site search categories: category -> (searches, visits with one).
pub fn search_categories(cuts: &[Cut]) -> BTreeMap<String, (u64, u64)> {
    let mut rows: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for c in cuts {
        let mut seen = BTreeSet::new();
        for &i in &c.actions {
            let h = &c.visit.hits[i];
            if let (HitType::Search, Some(cat)) = (h.kind, &h.search_category) {
                rows.entry(cat.clone()).or_default().0 += 1;
                if seen.insert(cat.clone()) {
                    rows.get_mut(cat).unwrap().1 += 1;
                }
            }
        }
    }
    rows
}

/// The keywords whose searches all found no result (a count of 0, and
/// no search of them with another count).
pub fn no_result_keywords(cuts: &[Cut]) -> BTreeSet<String> {
    let mut most: BTreeMap<String, Option<u32>> = BTreeMap::new();
    for c in cuts {
        for &i in &c.actions {
            let h = &c.visit.hits[i];
            if h.kind == HitType::Search {
                let m = most.entry(h.search.clone().unwrap()).or_default();
                *m = (*m).max(h.search_count);
            }
        }
    }
    most.into_iter()
        .filter(|(_, m)| *m == Some(0))
        .map(|(k, _)| k)
        .collect()
}

/// Per page label: the actions and length of the visits entering there,
/// then each load timing's and the bandwidth's count, sum, least and most
/// over its page views, how many had any timing, and the distinct
/// visitors entering and leaving there.
pub type PageExtras = (
    u64,
    u64,
    Vec<(u64, u64, Option<u64>, Option<u64>)>,
    u64,
    [u64; 2],
);

pub fn page_extras(cuts: &[Cut]) -> BTreeMap<String, PageExtras> {
    let mut rows: BTreeMap<String, PageExtras> = BTreeMap::new();
    // Per page label: its entering and leaving visitors.
    let mut bounds: BTreeMap<String, [BTreeSet<&str>; 2]> = BTreeMap::new();
    for c in cuts {
        let hits = &c.visit.hits;
        let pv: Vec<usize> = c
            .actions
            .iter()
            .copied()
            .filter(|&i| hits[i].kind == HitType::Pageview)
            .collect();
        for &i in &pv {
            let r = rows
                .entry(page_label(hits[i].url.as_deref().unwrap()))
                .or_insert_with(|| (0, 0, vec![(0, 0, None, None); 7], 0, [0, 0]));
            let p = &hits[i].perf;
            let values = p
                .times
                .iter()
                .map(|t| t.map(u64::from))
                .chain([p.bandwidth]);
            for (cell, v) in r.2.iter_mut().zip(values) {
                if let Some(v) = v {
                    cell.0 += 1;
                    cell.1 += v;
                    cell.2 = Some(cell.2.map_or(v, |m| m.min(v)));
                    cell.3 = Some(cell.3.map_or(v, |m| m.max(v)));
                }
            }
            r.3 += u64::from(p.times.iter().any(Option::is_some));
        }
        if let Some(&first) = pv.first() {
            let label = page_label(hits[first].url.as_deref().unwrap());
            let e = rows.get_mut(&label).unwrap();
            e.0 += c.actions.len() as u64;
            e.1 += c.length;
            bounds.entry(label).or_default()[0].insert(&c.visit.visitor);
        }
        if let Some(&last) = pv.last() {
            let label = page_label(hits[last].url.as_deref().unwrap());
            bounds.entry(label).or_default()[1].insert(&c.visit.visitor);
        }
    }
    for (label, [entering, leaving]) in bounds {
        if let Some(r) = rows.get_mut(&label) {
            r.4 = [entering.len() as u64, leaving.len() as u64];
        }
    }
    rows
}

/// Dimension rows: value (None = missing) -> summary of its visits.
pub fn by_dimension(
    cuts: &[Cut],
    value: impl Fn(&RVisit) -> Option<String>,
) -> BTreeMap<Option<String>, hitmap::VisitsSummary> {
    let mut groups: BTreeMap<Option<String>, Vec<&Cut>> = BTreeMap::new();
    for c in cuts {
        groups.entry(value(c.visit)).or_default().push(c);
    }
    groups
        .into_iter()
        .map(|(k, cs)| {
            let owned: Vec<Cut> = cs
                .iter()
                .map(|c| Cut {
                    visit: c.visit,
                    actions: c.actions.clone(),
                    length: c.length,
                })
                .collect();
            (k, summary(&owned))
        })
        .collect()
}

/// Event rows by category or name: label -> (events, visits, visitors,
/// sum of values, min, max, events with a value).
pub fn events(
    cuts: &[Cut],
    by_name: bool,
) -> BTreeMap<String, (u64, u64, u64, f64, f64, f64, u64)> {
    events_by(cuts, |e| {
        if by_name {
            event_part(e, "eventName")
        } else {
            e.category.clone()
        }
    })
}

/// An event's category (`eventCategory`), action (`eventAction`) or name
/// (`eventName`) as the events reports label it.
pub fn event_part(e: &hitmap::Event, part: &str) -> String {
    match part {
        "eventCategory" => e.category.clone(),
        "eventAction" => e.action.clone(),
        _ => e
            .name
            .clone()
            .unwrap_or_else(|| "Event Name not defined".into()),
    }
}

/// Events rows by any label of an event: (events, visits, visitors, sum,
/// min, max, events with a value). A row's visits count a visit once per
/// event combination (category, action, name) it had under the row
/// (Matomo's); its visitors are distinct.
pub fn events_by(
    cuts: &[Cut],
    label: impl Fn(&hitmap::Event) -> String,
) -> BTreeMap<String, (u64, u64, u64, f64, f64, f64, u64)> {
    type Acc = (
        u64,
        BTreeSet<(usize, String, String, Option<String>)>,
        BTreeSet<String>,
        f64,
        Option<f64>,
        Option<f64>,
        u64,
    );
    let mut rows: BTreeMap<String, Acc> = BTreeMap::new();
    for (k, c) in cuts.iter().enumerate() {
        for &i in &c.actions {
            let h = &c.visit.hits[i];
            let (HitType::Event, Some(e)) = (h.kind, &h.event) else {
                continue;
            };
            let r = rows.entry(label(e)).or_default();
            r.0 += 1;
            r.1.insert((k, e.category.clone(), e.action.clone(), e.name.clone()));
            r.2.insert(c.visit.visitor.clone());
            if let Some(x) = e.value {
                r.3 += x;
                r.4 = Some(r.4.map_or(x, |m| m.min(x)));
                r.5 = Some(r.5.map_or(x, |m| m.max(x)));
                r.6 += 1;
            }
        }
    }
    rows.into_iter()
        .map(|(k, r)| {
            (
                k,
                (
                    r.0,
                    r.1.len() as u64,
                    r.2.len() as u64,
                    r.3,
                    r.4.unwrap_or(0.0),
                    r.5.unwrap_or(0.0),
                    r.6,
                ),
            )
        })
        .collect()
}

/// The page label of a cut visit's first (or last) page view.
pub fn boundary_page(c: &Cut, last: bool) -> Option<String> {
    let mut pv = c
        .actions
        .iter()
        .map(|&i| &c.visit.hits[i])
        .filter(|h| h.kind == HitType::Pageview);
    let h = if last { pv.next_back() } else { pv.next() }?;
    Some(page_label(h.url.as_deref().unwrap()))
}

/// Whether `value` matches goal `g`'s pattern, as Matomo's tracker
/// compares (ASCII case folded unless case-sensitive; the patterns the
/// tests use need no percent-decoding).
fn goal_matches(g: &hitmap::Goal, value: &str) -> bool {
    let p = g.pattern();
    let fold = !g.is_case_sensitive();
    match g.pattern_type() {
        hitmap::PatternType::Contains if fold => {
            value.to_ascii_lowercase().contains(&p.to_ascii_lowercase())
        }
        hitmap::PatternType::Contains => value.contains(p),
        hitmap::PatternType::Exact if fold => value.eq_ignore_ascii_case(p),
        hitmap::PatternType::Exact => value == p,
        hitmap::PatternType::Regex => regex::RegexBuilder::new(p)
            .case_insensitive(fold)
            .build()
            .unwrap()
            .is_match(value),
    }
}

/// One visit's conversions of goal `g` and their revenue, or `None`.
pub fn goal_conversions(c: &Cut, g: &hitmap::Goal) -> Option<(u64, f64)> {
    let each = goal_conversion_list(c, g);
    (!each.is_empty()).then(|| (each.len() as u64, each.iter().map(|(_, r)| r).sum()))
}

/// One visit's conversions of goal `g`: each one's time and revenue.
pub fn goal_conversion_list(c: &Cut, g: &hitmap::Goal) -> Vec<(i64, f64)> {
    use hitmap::GoalMatch as M;
    let mut seconds = BTreeSet::new();
    let mut out = Vec::new();
    for &i in &c.actions {
        let h = &c.visit.hits[i];
        let ev = h.event.as_ref();
        let value: Option<String> = match (g.match_attribute(), h.kind) {
            (M::Url, HitType::Pageview)
            | (M::File, HitType::Download)
            | (M::ExternalWebsite, HitType::Outlink) => {
                h.url.as_deref().map(|u| no_fragment(u).to_string())
            }
            (M::Title, HitType::Pageview) => Some(h.title.clone().unwrap_or_default()),
            (M::EventCategory, HitType::Event) => {
                Some(ev.map(|e| e.category.clone()).unwrap_or_default())
            }
            (M::EventAction, HitType::Event) => {
                Some(ev.map(|e| e.action.clone()).unwrap_or_default())
            }
            (M::EventName, HitType::Event) => {
                Some(ev.and_then(|e| e.name.clone()).unwrap_or_default())
            }
            _ => None,
        };
        let Some(value) = value else { continue };
        if !goal_matches(g, &value) {
            continue;
        }
        if g.allows_multiple() && !seconds.insert(h.ts) {
            continue;
        }
        let revenue = match ev.and_then(|e| e.value) {
            Some(v) if g.uses_event_value() => v,
            _ => g.revenue_per_conversion(),
        };
        out.push((h.ts, revenue));
        if !g.allows_multiple() {
            break;
        }
    }
    out
}

/// The goals of the cut visits, straight from the hits.
pub fn goals(cuts: &[Cut], goals: &[hitmap::Goal]) -> hitmap::GoalsSummary {
    use hitmap::{ByVisitorType, GoalMetrics};
    #[derive(Default)]
    struct Acc<'a> {
        conversions: u64,
        visits: u64,
        visitors: BTreeSet<&'a str>,
        revenue: f64,
    }
    let metrics = |a: &Acc| GoalMetrics {
        nb_conversions: a.conversions,
        nb_visits_converted: a.visits,
        nb_uniq_visitors_converted: a.visitors.len() as u64,
        revenue: a.revenue,
    };
    let by_type = |a: &[Acc; 3]| ByVisitorType {
        all: metrics(&a[0]),
        new: metrics(&a[1]),
        returning: metrics(&a[2]),
    };
    let mut out = hitmap::GoalsSummary::default();
    let mut overall: [Acc; 3] = Default::default();
    let mut each: Vec<[Acc; 3]> = goals.iter().map(|_| Default::default()).collect();
    for c in cuts {
        let t = if c.visit.visit_count == 1 { 1 } else { 2 };
        out.nb_visits.all += 1;
        if t == 1 {
            out.nb_visits.new += 1;
        } else {
            out.nb_visits.returning += 1;
        }
        let mut any = (0u64, 0.0f64);
        for (g, acc) in goals.iter().zip(&mut each) {
            let Some((n, revenue)) = goal_conversions(c, g) else {
                continue;
            };
            any.0 += n;
            any.1 += revenue;
            for k in [0, t] {
                acc[k].conversions += n;
                acc[k].visits += 1;
                acc[k].visitors.insert(&c.visit.visitor);
                acc[k].revenue += revenue;
            }
        }
        if any.0 > 0 {
            for k in [0, t] {
                overall[k].conversions += any.0;
                overall[k].visits += 1;
                overall[k].visitors.insert(&c.visit.visitor);
                overall[k].revenue += any.1;
            }
        }
    }
    out.overall = by_type(&overall);
    out.goals = goals
        .iter()
        .zip(&each)
        .map(|(g, a)| (g.id(), by_type(a)))
        .collect();
    out
}

/// Conversions of `goals` summed by the range (from, to, label) each
/// converting visit's `key` falls in.
fn conversions_by(
    cuts: &[Cut],
    goals: &[hitmap::Goal],
    ranges: &[(i64, i64, String)],
    key: impl Fn(&Cut) -> i64,
) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = ranges.iter().map(|r| (r.2.clone(), 0)).collect();
    for c in cuts {
        let n: u64 = goals
            .iter()
            .filter_map(|g| goal_conversions(c, g))
            .map(|(n, _)| n)
            .sum();
        let k = key(c);
        let i = ranges
            .iter()
            .position(|r| (r.0..=r.1).contains(&k))
            .unwrap();
        out[i].1 += n;
    }
    out
}

/// Conversions of `goals` by whole days from the visitor's first visit's
/// start to the converting visit's, in Matomo's ranges (label,
/// conversions), written from Matomo's `Archiver::$daysToConvRanges`.
pub fn days_to_conversion(cuts: &[Cut], goals: &[hitmap::Goal]) -> Vec<(String, u64)> {
    let mut ranges: Vec<(i64, i64, String)> = (0..=7)
        .map(|d| (d, d, format!("{d} {}", if d == 1 { "day" } else { "days" })))
        .collect();
    for (a, b) in [(8, 14), (15, 30), (31, 60), (61, 120), (121, 364)] {
        ranges.push((a, b, format!("{a}-{b} days")));
    }
    ranges.push((365, i64::MAX, "365+ days".into()));
    conversions_by(cuts, goals, &ranges, |c| {
        (c.visit.start - c.visit.first_start) / 86_400
    })
}

/// Conversions of `goals` by the converting visit's rank among its
/// visitor's visits, in Matomo's ranges (label, conversions).
pub fn visits_until_conversion(cuts: &[Cut], goals: &[hitmap::Goal]) -> Vec<(String, u64)> {
    let ranges: Vec<(i64, i64, String)> = [
        (1, 1, "1 visit"),
        (2, 2, "2 visits"),
        (3, 3, "3 visits"),
        (4, 4, "4 visits"),
        (5, 5, "5 visits"),
        (6, 6, "6 visits"),
        (7, 7, "7 visits"),
        (8, 8, "8 visits"),
        (9, 14, "9-14 visits"),
        (15, 25, "15-25 visits"),
        (26, 50, "26-50 visits"),
        (51, 100, "51-100 visits"),
        (101, i64::MAX, "101+ visits"),
    ]
    .into_iter()
    .map(|(a, b, l)| (a, b, l.to_string()))
    .collect();
    conversions_by(cuts, goals, &ranges, |c| i64::from(c.visit.visit_count))
}

/// One goal's conversions credited to a page row, written from Matomo's
/// SQL (`LogAggregator::queryConversionsByPageView`, by entry page
/// `queryConversionsByEntryPageView`).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct PageGoal {
    /// (conversion, earlier view of the page) pairs.
    pub conversions: u64,
    /// Their revenue, rounded to cents per visit and page.
    pub revenue: f64,
    /// Each pair's `ROUND(1 / pages before, 4)`, in ten-thousandths.
    pub attrib: u64,
    /// `ROUND(SUM(1 / pages before * revenue), 2)` per visit and page.
    pub revenue_attrib: f64,
    /// The most pages before a conversion (the first conversion's, per
    /// visit and page).
    pub pages_before: u64,
    /// Conversions of visits entering on the page, and their revenue.
    pub entry_conversions: u64,
    pub entry_revenue: f64,
}

/// Page goal cells by (row label, goal id): rows of page URLs (path and
/// query), or of titles (`titles`; views without a title have none).
pub fn page_goals(
    cuts: &[Cut],
    goals: &[hitmap::Goal],
    titles: bool,
) -> BTreeMap<(String, u32), PageGoal> {
    let round = |x: f64| (x * 100.0).round() / 100.0;
    let mut out: BTreeMap<(String, u32), PageGoal> = BTreeMap::new();
    for c in cuts {
        let hits = &c.visit.hits;
        // The visit's page views: (time, row label).
        let views: Vec<(i64, Option<String>)> = c
            .actions
            .iter()
            .map(|&i| &hits[i])
            .filter(|h| h.kind == HitType::Pageview)
            .map(|h| {
                let label = if titles {
                    h.title.clone()
                } else {
                    Some(page_label(h.url.as_deref().unwrap()))
                };
                (h.ts, label)
            })
            .collect();
        for g in goals {
            // Matomo's GROUP BY idvisit, idaction for this goal.
            let mut groups: BTreeMap<String, (u64, f64, u64, f64, Option<u64>)> = BTreeMap::new();
            let list = goal_conversion_list(c, g);
            for &(ts, revenue) in &list {
                let before: Vec<&(i64, Option<String>)> =
                    views.iter().filter(|(t, _)| *t <= ts).collect();
                let n = before.len() as u64;
                let share = if n == 0 { 0 } else { (20_000 + n) / (2 * n) };
                for (_, label) in before {
                    let Some(label) = label else { continue };
                    let gr = groups.entry(label.clone()).or_default();
                    gr.0 += 1;
                    gr.1 += revenue;
                    gr.2 += share;
                    gr.3 += share as f64 / 10_000.0 * revenue;
                    gr.4.get_or_insert(n);
                }
            }
            for (label, (pairs, revenue, share, revenue_attrib, before)) in groups {
                let cell = out.entry((label, g.id())).or_default();
                cell.conversions += pairs;
                cell.revenue += round(revenue);
                cell.attrib += share;
                cell.revenue_attrib += round(revenue_attrib);
                cell.pages_before = cell.pages_before.max(before.unwrap_or(0));
            }
            if let Some((_, Some(entry))) = views.first()
                && !list.is_empty()
            {
                let cell = out.entry((entry.clone(), g.id())).or_default();
                cell.entry_conversions += list.len() as u64;
                cell.entry_revenue += list.iter().map(|(_, r)| r).sum::<f64>();
            }
        }
    }
    out
}
