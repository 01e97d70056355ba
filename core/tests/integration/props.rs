//! Property tests: the engine equals the reference model for random hits,
//! segments, sections and ranges across time-zone and DST boundaries;
//! arrival order and batching change nothing; no input panics.

use std::collections::BTreeMap;

use chrono::{DateTime, Days, NaiveDate};
use hitmap::{ActionReportKind, Dimension, Engine, Event, Hit, HitType, Query, SiteConfig};
use proptest::prelude::*;

use crate::reference::{self, RCond, RefSite};

const ZONES: [&str; 5] = [
    "UTC",
    "Europe/London",
    "America/New_York",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
];
/// UTC midnights a day before DST changes (London and New York in spring,
/// London in autumn, Lord Howe's half-hour shift).
const BASES: [i64; 4] = [1_711_756_800, 1_709_942_400, 1_729_900_800, 1_712_361_600];
pub(crate) const URLS: [&str; 9] = [
    "https://x.org/",
    "https://x.org/news",
    "https://x.org/news/a",
    "https://x.org/news/b?x=1#top",
    "https://x.org/newsletter",
    "https://x.org/about",
    "https://x.org/teams/hr/p",
    "https://x.org/news/a#f",
    "https://x.org/?utm_source=mail",
];
const REFERRERS: [Option<&str>; 5] = [
    None,
    Some("https://x.org/p"),
    Some("https://www.google.com/search?q=a"),
    Some("https://facebook.com/"),
    Some("https://blog.example.com/"),
];

fn pick<T: Clone>(items: &[T], i: usize) -> T {
    items[i % items.len()].clone()
}

fn opt(items: &[&str], i: usize) -> Option<String> {
    // index 0 (and out-of-list values) mean "missing"
    let k = i % (items.len() + 1);
    (k > 0).then(|| items[k - 1].to_string())
}

#[derive(Debug, Clone)]
pub(crate) struct Spec {
    visitor: usize,
    slot: u64,
    jitter: i64,
    kind: usize,
    url: usize,
    title: usize,
    fields: (usize, usize, usize, usize, usize),
    extra: usize,
    /// Visit id (mostly none) and recorded referrer type (mostly none).
    recorded: (usize, usize),
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        0..5usize,
        0..16u64,
        prop_oneof![0..2400i64, Just(0i64), Just(1799), Just(1800), Just(600)],
        0..10usize,
        0..20usize,
        0..3usize,
        (0..3usize, 0..4usize, 0..3usize, 0..5usize, 0..3usize),
        0..6usize,
        (0..8usize, 0..10usize),
    )
        .prop_map(
            |(visitor, slot, jitter, kind, url, title, fields, extra, recorded)| Spec {
                visitor,
                slot,
                jitter,
                kind,
                url,
                title,
                fields,
                extra,
                recorded,
            },
        )
}

pub(crate) fn make_hit(s: &Spec, base: i64) -> Hit {
    let ts = base + (s.slot as i64) * 21_600 + s.jitter;
    let visitor = format!("v{}", s.visitor);
    let kind = match s.kind {
        0..=5 => HitType::Pageview,
        6 => HitType::Download,
        7 => HitType::Outlink,
        8 => HitType::Search,
        _ => HitType::Event,
    };
    let mut h = Hit::new(1, ts, visitor, kind);
    h.url = match kind {
        HitType::Download => Some(format!("https://x.org/news/f{}.pdf", s.url % 2)),
        HitType::Outlink => Some(format!("https://ext.com/news/{}", s.url % 2)),
        HitType::Pageview => Some(pick(&URLS, s.url).into()),
        _ => s.url.is_multiple_of(3).then(|| pick(&URLS, s.url).into()),
    };
    h.title = opt(&["T1", "T2"], s.title);
    if kind == HitType::Search {
        h.search = Some(format!("k{}", s.extra % 3));
        h.search_category = (s.title > 0).then(|| format!("cat{}", s.title % 2));
        h.search_count = match s.url % 3 {
            0 => None,
            1 => Some(0),
            _ => Some(s.jitter as u32 % 3),
        };
    }
    if kind == HitType::Event {
        h.event = Some(Event {
            category: format!("c{}", s.extra % 2),
            action: "a".into(),
            name: (s.extra % 3 == 1).then(|| format!("n{}", s.extra % 2)),
            value: s.extra.is_multiple_of(2).then_some(s.extra as f64),
        });
    }
    let (device, country, user, referrer, dept) = s.fields;
    h.device = opt(&["desktop", "smartphone"], device);
    h.country = opt(&["gb", "fr", "de"], country);
    h.user = opt(&["u1", "u2"], user);
    h.referrer = pick(&REFERRERS, referrer).map(str::to_string);
    let (visit, rtype) = s.recorded;
    h.visit = (visit >= 6).then(|| format!("k{}", visit - 5));
    h.referrer_type = (rtype >= 8).then(|| pick(&["social", "search"], rtype).into());
    if dept > 0 {
        h.dims
            .push(("department".into(), pick(&["HR", "IT"], dept).into()));
    }
    // Load timings on some page views, bandwidth on some actions.
    if kind == HitType::Pageview && s.title != 1 {
        h.perf.times[hitmap::Perf::SERVER] = Some((s.jitter as u32 * 7) % 900);
        h.perf.times[s.url % 6] = Some((s.slot as u32 * 13) % 400);
    }
    if s.extra >= 3 && kind != HitType::Event {
        h.perf.bandwidth = Some((s.jitter as u64 * 31) % 20_000);
    }
    h
}

/// A condition pool that covers every operator and field kind.
fn cond() -> impl Strategy<Value = RCond> {
    let c = |field: &'static str, op: &'static str, value: &str| RCond {
        field,
        op,
        value: value.to_string(),
    };
    prop_oneof![
        (0..3usize).prop_map(move |i| c(
            "deviceType",
            pick(&["==", "!="], i),
            pick(&["smartphone", "desktop", ""], i)
        )),
        (0..6usize).prop_map(move |i| c(
            "countryCode",
            pick(&["==", "!=", "=@", "=^"], i),
            pick(&["gb", "FR", ""], i)
        )),
        (0..4usize).prop_map(move |i| c(
            "department",
            pick(&["==", "!=", "!@"], i),
            pick(&["HR", "it", ""], i)
        )),
        (0..6usize).prop_map(move |i| c(
            "pageUrl",
            pick(&["=@", "!@", "==", "!=", "=$"], i),
            pick(&["/news", "https://x.org/about", "", "/a"], i)
        )),
        (0..6usize).prop_map(move |i| c(
            "pageTitle",
            pick(&["==", "!=", "=@"], i),
            pick(&["T1", "t2", ""], i)
        )),
        (0..3usize).prop_map(move |i| c(
            "downloadUrl",
            pick(&["=@", "!@", "=="], i),
            pick(&["f0", "", "f1"], i)
        )),
        (0..3usize).prop_map(move |i| c(
            "siteSearchKeyword",
            pick(&["==", "!="], i),
            pick(&["k1", "k0", ""], i)
        )),
        (0..2usize).prop_map(move |i| c("eventCategory", pick(&["==", "!@"], i), "c1")),
        (0..3usize).prop_map(move |i| c(
            "siteSearchCategory",
            pick(&["==", "!=", "=@"], i),
            pick(&["cat1", "cat0", ""], i)
        )),
        (0..3usize).prop_map(move |i| c(
            "siteSearchCount",
            pick(&["==", ">", "<"], i),
            pick(&["0", "1", "2"], i)
        )),
        (0..4usize).prop_map(move |i| c(
            "eventName",
            pick(&["==", "!=", "=@"], i),
            pick(&["n1", "n0", ""], i)
        )),
        (0..3usize).prop_map(move |i| c(
            "eventValue",
            pick(&[">", "<=", "=="], i),
            pick(&["2", "4", "0"], i)
        )),
        (0..4usize).prop_map(move |i| c(
            "visitServerHour",
            pick(&["<", ">=", "==", "!="], i),
            pick(&["6", "12", "0", "18"], i)
        )),
        (0..4usize).prop_map(move |i| c(
            "visitStartServerHour",
            pick(&["<", ">=", "==", "!="], i),
            pick(&["6", "12", "0", "18"], i)
        )),
        (0..8usize).prop_map(move |i| c(
            pick(
                &[
                    "visitEndServerMinute",
                    "visitStartServerMinute",
                    "actionServerMinute",
                    "visitEndServerSecond",
                ],
                i
            ),
            pick(&["<", ">="], i),
            pick(&["20", "40"], i)
        )),
        (0..12usize).prop_map(move |i| c(
            pick(
                &[
                    "visitEndServerDayOfWeek",
                    "visitEndServerDayOfMonth",
                    "visitEndServerDayOfYear",
                    "visitEndServerMonth",
                    "visitEndServerQuarter",
                    "visitEndServerWeekOfYear",
                    "visitEndServerYear",
                    "actionServerHour",
                ],
                i
            ),
            pick(&["==", ">", "<="], i),
            pick(&["1", "2", "3", "14", "2024"], i)
        )),
        (0..6usize).prop_map(move |i| c(
            pick(&["events", "searches"], i),
            pick(&["==", ">", "<="], i),
            pick(&["0", "1", "2"], i)
        )),
        (0..6usize).prop_map(move |i| c(
            pick(&["entryPageTitle", "exitPageTitle"], i),
            pick(&["==", "!=", "=@"], i),
            pick(&["T1", "T2", ""], i)
        )),
        (0..3usize).prop_map(move |i| c(
            "daysSinceLastVisit",
            pick(&["==", ">", "<="], i),
            pick(&["0", "1", "2"], i)
        )),
        (0..6usize).prop_map(move |i| c(
            "actions",
            pick(&["==", "!=", "<", "<=", ">", ">="], i),
            pick(&["1", "2", "3"], i)
        )),
        (0..4usize).prop_map(move |i| c(
            "visitDuration",
            pick(&[">", "<=", "=="], i),
            pick(&["0", "600", "1800"], i)
        )),
        (0..4usize).prop_map(move |i| c(
            "visitCount",
            pick(&["==", ">", "<="], i),
            pick(&["1", "2"], i)
        )),
        (0..2usize).prop_map(move |i| c("visitorType", pick(&["==", "!="], i), "new")),
        (0..3usize).prop_map(move |i| c("visitorType", "==", pick(&["returning", "new"], i))),
        (0..4usize).prop_map(move |i| c(
            "visitorId",
            pick(&["==", "!=", "=^"], i),
            pick(&["v1", "v2", "v"], i)
        )),
        (0..3usize).prop_map(move |i| c(
            "userId",
            pick(&["==", "!=", "!="], i),
            pick(&["u1", "u2", ""], i)
        )),
        (0..5usize).prop_map(move |i| c(
            "referrerType",
            pick(&["==", "!="], i),
            pick(&["direct", "search", "website", "campaign", "social"], i)
        )),
        (0..2usize).prop_map(move |i| c(
            "referrerUrl",
            pick(&["=@", "=="], i),
            pick(&["google", ""], i)
        )),
        (0..2usize).prop_map(move |i| c(
            "entryPageUrl",
            pick(&["=@", "!="], i),
            pick(&["/news", "https://x.org/"], i)
        )),
    ]
}

fn segment() -> impl Strategy<Value = Vec<Vec<RCond>>> {
    prop::collection::vec(prop::collection::vec(cond(), 1..3), 0..3)
}

pub(crate) fn segment_text(seg: &[Vec<RCond>]) -> Option<String> {
    (!seg.is_empty()).then(|| {
        seg.iter()
            .map(|clause| clause.iter().map(RCond::text).collect::<Vec<_>>().join(","))
            .collect::<Vec<_>>()
            .join(";")
    })
}

#[derive(Debug, Clone)]
pub(crate) struct Case {
    pub zone: &'static str,
    pub base: i64,
    pub timeout: u32,
    pub specs: Vec<Spec>,
    pub queries: Vec<(u64, u64, Vec<Vec<RCond>>, usize)>,
}

pub(crate) fn case() -> impl Strategy<Value = Case> {
    (
        0..ZONES.len(),
        0..BASES.len(),
        prop_oneof![Just(1800u32), Just(600u32)],
        prop::collection::vec(spec(), 0..70),
        prop::collection::vec((0..6u64, 0..5u64, segment(), 0..4usize), 1..4),
    )
        .prop_map(|(z, b, timeout, specs, queries)| Case {
            zone: ZONES[z],
            base: BASES[b],
            timeout,
            specs,
            queries,
        })
}

pub(crate) const SECTIONS: [Option<&str>; 4] = [None, Some("/news"), Some("/teams"), Some("/")];

pub(crate) fn site_config(case: &Case) -> SiteConfig {
    SiteConfig::new(1)
        .time_zone(case.zone)
        .visit_timeout(case.timeout)
        .host("x.org")
        .dimension("department")
}

/// The case's hits in one rebuild (no live parts): the reference that
/// other ways of landing the same hits must answer like.
pub(crate) fn rebuilt(case: &Case, hits: &[Hit]) -> Engine {
    let mut e = Engine::in_memory();
    e.set_live_limit(0);
    e.add_site(site_config(case)).unwrap();
    e.ingest(hits).unwrap();
    e
}

pub(crate) fn build(case: &Case, hits: &[Hit], batches: &[usize]) -> Engine {
    build_with(case, hits, batches, |_| {})
}

/// [`build`], calling `between` after each batch.
pub(crate) fn build_with(
    case: &Case,
    hits: &[Hit],
    batches: &[usize],
    mut between: impl FnMut(&Engine),
) -> Engine {
    let mut e = Engine::in_memory();
    e.add_site(site_config(case)).unwrap();
    let mut rest = hits;
    for &n in batches {
        let (now, later) = rest.split_at(n.min(rest.len()));
        let out = e.ingest(now).unwrap();
        assert_eq!(out.accepted as usize, now.len(), "{:?}", out.rejected);
        rest = later;
        between(&e);
    }
    e.ingest(rest).unwrap();
    e
}

pub(crate) fn first_day(case: &Case) -> NaiveDate {
    let tz: chrono_tz::Tz = case.zone.parse().unwrap();
    DateTime::from_timestamp(case.base, 0)
        .unwrap()
        .with_timezone(&tz)
        .date_naive()
        - Days::new(1)
}

/// The brute-force model's visits of a case's hits.
pub(crate) fn reference_visits(case: &Case, hits: &[Hit]) -> Vec<reference::RVisit> {
    let site = RefSite {
        tz: case.zone.parse().unwrap(),
        timeout: i64::from(case.timeout),
    };
    reference::visits(hits, &site)
}

/// One of a case's queries: its days, segment and section, the query,
/// and how a failure names it.
pub(crate) struct CaseQuery<'c> {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub seg: &'c [Vec<RCond>],
    pub section: Option<&'static str>,
    pub q: Query,
    pub ctx: String,
}

pub(crate) fn case_query<'c>(
    case: &Case,
    (start, len, seg, section): &'c (u64, u64, Vec<Vec<RCond>>, usize),
) -> CaseQuery<'c> {
    let from = first_day(case) + Days::new(*start);
    let to = from + Days::new(*len);
    let section = SECTIONS[*section];
    let mut q = Query::site(1).range(from, to);
    if let Some(text) = segment_text(seg) {
        q = q.segment(&text).unwrap();
    }
    if let Some(s) = section {
        q = q.section(s);
    }
    let ctx = format!(
        "range {from}..{to} segment {:?} section {section:?}",
        segment_text(seg)
    );
    CaseQuery {
        from,
        to,
        seg,
        section,
        q,
        ctx,
    }
}

fn check_against_reference(case: &Case) -> Result<(), TestCaseError> {
    let hits: Vec<Hit> = case.specs.iter().map(|s| make_hit(s, case.base)).collect();
    let mut engine = build(case, &hits, &[]);
    // Every report split into runs of days or visitors on three threads,
    // however few visits: the runs must add up to the reference exactly
    // (the other tests answer on one run).
    engine.split_queries_eagerly(3);
    let visits = reference_visits(case, &hits);
    for query in &case.queries {
        let CaseQuery {
            from,
            to,
            seg,
            section,
            q,
            ctx,
        } = case_query(case, query);
        let sel = engine.query(&q).unwrap();
        let cuts = reference::cut_visits(&visits, from, to, seg, section);

        prop_assert_eq!(
            sel.visits_summary(),
            reference::summary(&cuts),
            "summary, {}",
            ctx
        );
        prop_assert_eq!(
            sel.actions_summary(),
            reference::actions(&cuts),
            "actions, {}",
            ctx
        );

        let pages: std::collections::BTreeMap<_, _> = sel
            .action_report(ActionReportKind::PageUrls)
            .into_iter()
            .map(|r| {
                (
                    r.label,
                    (
                        r.nb_hits,
                        r.nb_visits,
                        r.nb_uniq_visitors,
                        r.entry_nb_visits,
                        r.exit_nb_visits,
                        r.entry_bounce_count,
                        r.sum_time_spent,
                    ),
                )
            })
            .collect();
        prop_assert_eq!(pages, reference::pages(&cuts), "pages, {}", ctx);
        // Entry visits' actions and length, load timings and bandwidth.
        let extras: std::collections::BTreeMap<_, _> = sel
            .action_report(ActionReportKind::PageUrls)
            .into_iter()
            .map(|r| {
                let p = r.perf;
                let cells = (0..7)
                    .map(|f| (p.hits[f], p.sum[f], p.least(f), p.most(f)))
                    .collect();
                let bounds = [r.entry_nb_uniq_visitors, r.exit_nb_uniq_visitors];
                (
                    r.label,
                    (
                        r.entry_nb_actions,
                        r.entry_sum_visit_length,
                        cells,
                        p.timed,
                        bounds,
                    ),
                )
            })
            .collect();
        prop_assert_eq!(
            extras,
            reference::page_extras(&cuts),
            "page extras, {}",
            ctx
        );

        let devices: std::collections::BTreeMap<_, _> = sel
            .dimension_report(&Dimension::DeviceType)
            .into_iter()
            .map(|r| (r.label, r.metrics))
            .collect();
        prop_assert_eq!(
            devices,
            reference::by_dimension(&cuts, |v| v.device.clone()),
            "devices, {}",
            ctx
        );

        let depts: std::collections::BTreeMap<_, _> = sel
            .dimension_report(&Dimension::Custom("department".into()))
            .into_iter()
            .map(|r| (r.label, r.metrics))
            .collect();
        prop_assert_eq!(
            depts,
            reference::by_dimension(&cuts, |v| v.dims.get("department").cloned()),
            "department, {}",
            ctx
        );

        // Visits by user id (UserId.getUsers: rows of users only).
        let users: std::collections::BTreeMap<_, _> = sel
            .dimension_report(&Dimension::User)
            .into_iter()
            .map(|r| (r.label, r.metrics))
            .collect();
        prop_assert_eq!(
            users,
            reference::by_dimension(&cuts, |v| v.user.clone()),
            "users, {}",
            ctx
        );
        let api_users = api_rows(&engine, "UserId.getUsers", from, to, seg, section);
        let want: std::collections::BTreeMap<String, u64> =
            reference::by_dimension(&cuts, |v| v.user.clone())
                .into_iter()
                .filter_map(|(k, s)| Some((k?, s.nb_visits)))
                .collect();
        let got: std::collections::BTreeMap<String, u64> = api_users
            .iter()
            .map(|(k, r)| (k.clone(), r["nb_visits"].as_u64().unwrap()))
            .collect();
        prop_assert_eq!(got, want, "UserId.getUsers, {}", ctx);

        check_api_reports(&engine, &cuts, from, to, seg, section, &ctx)?;

        let refs: std::collections::BTreeMap<_, _> = sel
            .dimension_report(&Dimension::ReferrerType)
            .into_iter()
            .map(|r| (r.label, r.metrics))
            .collect();
        prop_assert_eq!(
            refs,
            reference::by_dimension(&cuts, |v| Some(v.referrer_type.to_string())),
            "referrer type, {}",
            ctx
        );
    }
    Ok(())
}

/// Rows of an API answer by label (every row, raw numbers).
fn api_rows(
    e: &Engine,
    method: &str,
    from: NaiveDate,
    to: NaiveDate,
    seg: &[Vec<RCond>],
    section: Option<&str>,
) -> BTreeMap<String, serde_json::Value> {
    let mut q = format!(
        "method={method}&idSite=1&period=range&date={from},{to}&filter_limit=-1&format_metrics=0"
    );
    if let Some(text) = segment_text(seg) {
        q.push_str(&format!("&segment={}", hitmap::encode_query_value(&text)));
    }
    if let Some(s) = section {
        q.push_str(&format!("&section={s}"));
    }
    let v: serde_json::Value =
        serde_json::from_str(&e.api(&q).unwrap_or_else(|err| panic!("{q}: {err}"))).unwrap();
    v.as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|r| (r["label"].as_str().unwrap().to_owned(), r.clone()))
        .collect()
}

/// Matomo's API label of an hour (`00` to `23`).
fn hour_label(h: u32) -> String {
    format!("{h:02}")
}

/// The Reporting API's newer reports equal the reference model.
fn check_api_reports(
    e: &Engine,
    cuts: &[reference::Cut],
    from: NaiveDate,
    to: NaiveDate,
    seg: &[Vec<RCond>],
    section: Option<&str>,
    ctx: &str,
) -> Result<(), TestCaseError> {
    let visits_of = |rows: &BTreeMap<String, serde_json::Value>| -> BTreeMap<String, u64> {
        rows.iter()
            .map(|(k, r)| (k.clone(), r["nb_visits"].as_u64().unwrap()))
            .filter(|(_, n)| *n > 0)
            .collect()
    };
    let model_visits =
        |label: &dyn Fn(&reference::Cut) -> Option<String>| -> BTreeMap<String, u64> {
            let mut m = BTreeMap::new();
            for c in cuts {
                if let Some(l) = label(c) {
                    *m.entry(l).or_insert(0) += 1;
                }
            }
            m
        };
    // Visits per label of a visits-only report, from the API and from the
    // model's label for each cut visit.
    let check = |method: &str, label: &dyn Fn(&reference::Cut) -> Option<String>| {
        let rows = api_rows(e, method, from, to, seg, section);
        prop_assert_eq!(visits_of(&rows), model_visits(label), "{}, {}", method, ctx);
        Ok(())
    };
    // Site search categories (searches and visits) and the keywords
    // whose searches all found no result.
    let rows = api_rows(e, "Actions.getSiteSearchCategories", from, to, seg, section);
    let got: BTreeMap<String, (u64, u64)> = rows
        .iter()
        .map(|(k, r)| {
            let n = |c: &str| r[c].as_u64().unwrap();
            (k.clone(), (n("nb_actions"), n("nb_visits")))
        })
        .collect();
    prop_assert_eq!(
        got,
        reference::search_categories(cuts),
        "categories, {}",
        ctx
    );
    let rows = api_rows(
        e,
        "Actions.getSiteSearchNoResultKeywords",
        from,
        to,
        seg,
        section,
    );
    let got: std::collections::BTreeSet<String> = rows.into_keys().collect();
    prop_assert_eq!(
        got,
        reference::no_result_keywords(cuts),
        "no results, {}",
        ctx
    );
    let days = [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ];
    let duration = |x: u64| -> String {
        match x {
            // Matomo's labels: an en dash for seconds.
            0..=10 => "0\u{2013}10s".into(),
            11..=30 => "11\u{2013}30s".into(),
            31..=60 => "31\u{2013}60s".into(),
            x if x > 1800 => "30+ min".into(),
            x => {
                let bounds = [(1, 2), (2, 4), (4, 7), (7, 10), (10, 15), (15, 30)];
                let (l, h) = bounds.into_iter().find(|(_, h)| x <= h * 60).unwrap();
                format!("{l}-{h} min")
            }
        }
    };
    let pages = |n: usize| -> String {
        match n {
            1 => "1 page".into(),
            2..=5 => format!("{n} pages"),
            6..=7 => "6-7 pages".into(),
            8..=10 => "8-10 pages".into(),
            11..=14 => "11-14 pages".into(),
            15..=20 => "15-20 pages".into(),
            _ => "21+ pages".into(),
        }
    };
    let count = |n: u32| -> String {
        match n {
            1 => "1 visit".into(),
            2..=8 => format!("{n} visits"),
            9..=14 => "9-14 visits".into(),
            _ => "15-25 visits".into(),
        }
    };
    let since = |d: i64| -> String {
        match d {
            1 => "1 day".into(),
            0..=7 => format!("{d} days"),
            _ => "8-14 days".into(),
        }
    };
    check("VisitTime.getVisitInformationPerServerTime", &|c| {
        Some(hour_label(c.visit.hour))
    })?;
    check("VisitTime.getByDayOfWeek", &|c| {
        Some(days[c.visit.weekday as usize - 1].to_owned())
    })?;
    check("VisitorInterest.getNumberOfVisitsPerVisitDuration", &|c| {
        Some(duration(c.length))
    })?;
    check("VisitorInterest.getNumberOfVisitsPerPage", &|c| {
        Some(pages(c.actions.len()))
    })?;
    check("VisitorInterest.getNumberOfVisitsByVisitCount", &|c| {
        Some(count(c.visit.visit_count))
    })?;
    // A first visit has no last one: Matomo's "New visits" row.
    check("VisitorInterest.getNumberOfVisitsByDaysSinceLast", &|c| {
        Some(
            c.visit
                .days_since_last
                .map_or_else(|| "New visits".to_owned(), since),
        )
    })?;
    for (method, last) in [
        ("Actions.getEntryPageUrls", false),
        ("Actions.getExitPageUrls", true),
    ] {
        let column = if last {
            "exit_nb_visits"
        } else {
            "entry_nb_visits"
        };
        // Matomo's tree: the page tree's rows with entries (exits).
        let tree = api_rows(e, method, from, to, seg, section);
        let pages: BTreeMap<String, serde_json::Value> =
            api_rows(e, "Actions.getPageUrls", from, to, seg, section)
                .into_iter()
                .filter(|(_, r)| r[column].as_u64().unwrap_or(0) > 0)
                .collect();
        prop_assert_eq!(
            tree.iter()
                .map(|(k, r)| (k.clone(), r[column].clone(), r["nb_visits"].clone()))
                .collect::<Vec<_>>(),
            pages
                .iter()
                .map(|(k, r)| (k.clone(), r[column].clone(), r["nb_visits"].clone()))
                .collect::<Vec<_>>(),
            "{} tree, {}",
            method,
            ctx
        );
        let rows = api_rows(e, &format!("{method}&flat=1"), from, to, seg, section);
        let got: BTreeMap<String, u64> = rows
            .iter()
            .map(|(k, r)| (k.clone(), r[column].as_u64().unwrap()))
            .collect();
        prop_assert_eq!(
            got,
            model_visits(&|c| reference::boundary_page(c, last)),
            "{}, {}",
            method,
            ctx
        );
        if !last {
            let mut model: BTreeMap<String, (u64, u64)> = BTreeMap::new();
            for c in cuts {
                if let Some(p) = reference::boundary_page(c, false) {
                    let r = model.entry(p).or_default();
                    r.0 += c.actions.len() as u64;
                    r.1 += c.length;
                }
            }
            let got: BTreeMap<String, (u64, u64)> = rows
                .iter()
                .map(|(k, r)| {
                    (
                        k.clone(),
                        (
                            r["entry_nb_actions"].as_u64().unwrap(),
                            r["entry_sum_visit_length"].as_u64().unwrap(),
                        ),
                    )
                })
                .collect();
            prop_assert_eq!(got, model, "entry actions and length, {}", ctx);
        }
    }
    // The page tree's top level, as Matomo builds it: a folder's hits and
    // visits are the sums of its pages' (a page's visits: the visits that
    // viewed it), its unique visitors those with a page view beneath it.
    {
        let mut model: BTreeMap<String, (u64, u64, std::collections::BTreeSet<&str>)> =
            BTreeMap::new();
        for c in cuts {
            let mut seen = std::collections::BTreeSet::new();
            for &i in &c.actions {
                let h = &c.visit.hits[i];
                if h.kind != HitType::Pageview {
                    continue;
                }
                let label = reference::page_label(h.url.as_deref().unwrap());
                let path = label.split('?').next().unwrap();
                let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
                let top = if parts.len() > 1 {
                    parts[0].to_string()
                } else {
                    let query = label
                        .split_once('?')
                        .map_or(String::new(), |(_, q)| format!("?{q}"));
                    // Matomo's default name for an empty path without a
                    // query only (`/?a=1` stays).
                    let leaf = if parts[0].is_empty() && query.is_empty() {
                        "index"
                    } else {
                        parts[0]
                    };
                    format!("/{leaf}{query}")
                };
                let row = model.entry(top).or_default();
                row.0 += 1;
                if seen.insert(label) {
                    row.1 += 1;
                }
                row.2.insert(c.visit.visitor.as_str());
            }
        }
        let model = counted(model);
        let rows = api_rows(e, "Actions.getPageUrls", from, to, seg, section);
        prop_assert_eq!(tree_rows(&rows), model, "page tree, {}", ctx);
    }
    // Downloads and outlinks by domain: a host's hits and visits are the
    // sums of its URLs' (a URL's visits: those that followed it), its
    // unique visitors those who followed any of its URLs.
    for (method, kind) in [
        ("Actions.getDownloads", HitType::Download),
        ("Actions.getOutlinks", HitType::Outlink),
    ] {
        let mut model: BTreeMap<String, (u64, u64, std::collections::BTreeSet<&str>)> =
            BTreeMap::new();
        for c in cuts {
            let mut seen = std::collections::BTreeSet::new();
            for &i in &c.actions {
                let h = &c.visit.hits[i];
                if h.kind != kind {
                    continue;
                }
                let url = reference::no_fragment(h.url.as_deref().unwrap());
                let host = url.split("://").nth(1).unwrap().split('/').next().unwrap();
                let row = model.entry(host.to_owned()).or_default();
                row.0 += 1;
                if seen.insert(url) {
                    row.1 += 1;
                }
                row.2.insert(c.visit.visitor.as_str());
            }
        }
        let model = counted(model);
        let rows = api_rows(e, method, from, to, seg, section);
        prop_assert_eq!(tree_rows(&rows), model, "{} by domain, {}", method, ctx);
    }
    for (method, by_name) in [("Events.getCategory", false), ("Events.getName", true)] {
        let rows = api_rows(e, method, from, to, seg, section);
        let got: BTreeMap<String, (u64, u64, u64, f64, f64, f64, u64)> = rows
            .iter()
            .map(|(k, r)| {
                (
                    k.clone(),
                    (
                        r["nb_events"].as_u64().unwrap(),
                        r["nb_visits"].as_u64().unwrap(),
                        r["nb_uniq_visitors"].as_u64().unwrap(),
                        r["sum_event_value"].as_f64().unwrap(),
                        // No minimum or maximum without a valued event.
                        r["min_event_value"].as_f64().unwrap_or(0.0),
                        r["max_event_value"].as_f64().unwrap_or(0.0),
                        r["nb_events_with_value"].as_u64().unwrap(),
                    ),
                )
            })
            .collect();
        for r in rows.values() {
            let valued = r["nb_events_with_value"].as_u64().unwrap() > 0;
            prop_assert_eq!(r["min_event_value"].is_null(), !valued, "{}", ctx);
            prop_assert_eq!(r["max_event_value"].is_null(), !valued, "{}", ctx);
        }
        prop_assert_eq!(got, reference::events(cuts, by_name), "{}, {}", method, ctx);
    }
    // Every pair of parts (`secondaryDimension`), flattened.
    for (method, by, sub) in [
        ("Events.getCategory", "eventCategory", "eventAction"),
        ("Events.getCategory", "eventCategory", "eventName"),
        ("Events.getAction", "eventAction", "eventName"),
        ("Events.getAction", "eventAction", "eventCategory"),
        ("Events.getName", "eventName", "eventAction"),
        ("Events.getName", "eventName", "eventCategory"),
    ] {
        let asked = format!("{method}&secondaryDimension={sub}&flat=1");
        let rows = api_rows(e, &asked, from, to, seg, section);
        let got: BTreeMap<String, (u64, u64, u64, u64)> = rows
            .iter()
            .map(|(k, r)| {
                let n = |c: &str| r[c].as_u64().unwrap();
                let counts = (
                    n("nb_events"),
                    n("nb_visits"),
                    n("nb_uniq_visitors"),
                    n("nb_events_with_value"),
                );
                (k.clone(), counts)
            })
            .collect();
        // Unnamed events have no row in a subtable by name: a row whose
        // events are all unnamed stays whole, flattened.
        let named: std::collections::BTreeSet<String> =
            reference::events_by(cuts, |ev| match (sub, &ev.name) {
                ("eventName", None) => String::new(),
                _ => reference::event_part(ev, by),
            })
            .into_keys()
            .collect();
        let want: BTreeMap<String, (u64, u64, u64, u64)> = reference::events_by(cuts, |ev| {
            let top = reference::event_part(ev, by);
            match (sub, &ev.name) {
                ("eventName", None) if named.contains(&top) => String::new(),
                ("eventName", None) => top,
                _ => format!("{top} - {}", reference::event_part(ev, sub)),
            }
        })
        .into_iter()
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, r)| (k, (r.0, r.1, r.2, r.6)))
        .collect();
        prop_assert_eq!(got, want, "{}, {}", asked, ctx);
    }
    Ok(())
}

/// A tree's top rows: label → (hits, visits, unique visitors).
fn tree_rows(rows: &BTreeMap<String, serde_json::Value>) -> BTreeMap<String, (u64, u64, u64)> {
    let n = |r: &serde_json::Value, k: &str| r[k].as_u64().unwrap();
    rows.iter()
        .map(|(k, r)| {
            let counts = (n(r, "nb_hits"), n(r, "nb_visits"), n(r, "nb_uniq_visitors"));
            (k.clone(), counts)
        })
        .collect()
}

/// The model's tree rows with their visitors counted.
fn counted(
    rows: BTreeMap<String, (u64, u64, std::collections::BTreeSet<&str>)>,
) -> BTreeMap<String, (u64, u64, u64)> {
    rows.into_iter()
        .map(|(k, (hits, visits, who))| (k, (hits, visits, who.len() as u64)))
        .collect()
}

/// Everything the API can say about the data, for equality checks.
pub(crate) fn fingerprint(e: &Engine, case: &Case) -> Vec<String> {
    let from = first_day(case);
    let to = from + Days::new(6);
    let now = DateTime::from_timestamp(case.base + 10 * 86_400, 0).unwrap();
    let mut out = Vec::new();
    for method in [
        "VisitsSummary.get",
        "Actions.get",
        "VisitFrequency.get",
        "Actions.getPageUrls",
        "Actions.getPageUrls&flat=1",
        "Actions.getPageTitles",
        "Actions.getDownloads",
        "Actions.getOutlinks",
        "Actions.getSiteSearchKeywords",
        "Actions.getSiteSearchCategories",
        "Actions.getSiteSearchNoResultKeywords",
        "DevicesDetection.getType",
        "UserCountry.getCountry",
        "Referrers.getReferrerType",
        "CustomDimensions.getCustomDimension&dimension=department",
    ] {
        for (period, date) in [
            ("day", format!("{from},{to}")),
            ("range", format!("{from},{to}")),
            ("week", "last2".into()),
        ] {
            for seg in [
                "",
                "&segment=visitCount%3D%3D1",
                "&segment=pageUrl%3D@news&section=/news",
            ] {
                let q = format!(
                    "method={method}&idSite=1&period={period}&date={date}&filter_limit=-1{seg}"
                );
                out.push(e.api_at(&q, now).unwrap_or_else(|err| panic!("{q}: {err}")));
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn engine_equals_reference(case in case()) {
        check_against_reference(&case)?;
    }

    /// A store's reader answers a segmented or sectioned summary from the
    /// few columns of each day file it needs (format version 3 sections):
    /// equal to the in-memory engine's whole days for every segment field,
    /// and the same days read again whole for a report (the cache holds
    /// the narrower read) answer as before.
    #[test]
    fn projected_reads_equal_whole_days(case in case()) {
        let hits: Vec<Hit> = case.specs.iter().map(|s| make_hit(s, case.base)).collect();
        let whole = build(&case, &hits, &[]);
        let dir = crate::store::TempDir::new("projected");
        let mut w = Engine::open(&dir.0).unwrap();
        w.set_live_limit(0);
        w.add_site(site_config(&case)).unwrap();
        w.ingest(&hits).unwrap();
        drop(w);
        let r = Engine::open_reader(dir.0.to_str().unwrap(), hitmap::ReaderOptions::default()).unwrap();
        let day0 = first_day(&case);
        for (start, len, seg, section) in &case.queries {
            let from = day0 + Days::new(*start);
            let mut q = Query::site(1).range(from, from + Days::new(*len));
            if let Some(text) = segment_text(seg) {
                q = q.segment(&text).unwrap();
            }
            if let Some(s) = SECTIONS[*section] {
                q = q.section(s);
            }
            let want = whole.query(&q).unwrap();
            prop_assert_eq!(r.visits_summary(&q).unwrap(), want.visits_summary(), "{:?}", segment_text(seg));
            let again = r.query(&q).unwrap();
            prop_assert_eq!(again.visit_frequency(), want.visit_frequency());
            prop_assert_eq!(again.actions_summary(), want.actions_summary());
        }
    }

    #[test]
    fn order_and_batches_change_nothing(case in case(), seed in any::<u64>(), cuts in prop::collection::vec(0..20usize, 0..5)) {
        let hits: Vec<Hit> = case.specs.iter().map(|s| make_hit(s, case.base)).collect();
        let whole = build(&case, &hits, &[]);
        let mut shuffled = hits.clone();
        // Fisher-Yates with a small LCG: deterministic per seed.
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            shuffled.swap(i, (state >> 33) as usize % (i + 1));
        }
        // Sections asked between batches: their URL sets are cached and
        // must grow with the URLs that arrive later.
        let split = build_with(&case, &shuffled, &cuts, |e| {
            for s in SECTIONS.into_iter().flatten() {
                let _ = e.query(&Query::site(1).section(s)).map(|q| q.visits_summary());
            }
        });
        let mut split = split;
        split.split_queries_eagerly(2);
        prop_assert_eq!(fingerprint(&whole, &case), fingerprint(&split, &case));
    }

    #[test]
    fn ndjson_reader_never_panics(lines in prop::collection::vec(prop_oneof![
        any::<Vec<u8>>(),
        "[ -~]{0,80}".prop_map(String::into_bytes),
        Just(br#"{"site":1,"visitor":"a","ts":1717200000,"url":"https://x.org/"}"#.to_vec()),
        Just(br#"{"site":1,"visitor":"a","ts":"2024-06-01T00:00:00Z","type":"event","event":{"category":"c","action":"a","value":1e308}}"#.to_vec()),
        Just(br#"{"site":1,"visitor":"a","ts":-5,"url":"u","dims":{"a":1}}"#.to_vec()),
    ], 0..20)) {
        let mut e = Engine::in_memory();
        e.add_site(SiteConfig::new(1)).unwrap();
        let mut input = Vec::new();
        let mut nonblank = 0u64;
        for l in &lines {
            let l: Vec<u8> = l.iter().copied().filter(|&b| b != b'\n').collect();
            // Only JSON whitespace makes a blank line; anything else is
            // accepted or rejected with a reason.
            if !std::str::from_utf8(&l).is_ok_and(|s| s.trim_matches([' ', '\t', '\r']).is_empty()) {
                nonblank += 1;
            }
            input.extend_from_slice(&l);
            input.push(b'\n');
        }
        let out = e.ingest_ndjson(&input[..]).unwrap();
        prop_assert_eq!(out.accepted + out.rejected.len() as u64, nonblank);
        let s = e.query(&Query::site(1)).unwrap().visits_summary();
        prop_assert!(s.nb_actions <= out.accepted);
    }

    #[test]
    fn segment_parser_and_api_never_panic(text in prop_oneof![
        any::<String>(),
        "[a-zA-Z=!@<>^$,;%\\\\0-9]{0,40}",
    ]) {
        let mut e = Engine::in_memory();
        e.add_site(SiteConfig::new(1)).unwrap();
        e.ingest([Hit::pageview(1, 1_717_200_000, "a", "https://x.org/")]).unwrap();
        if let Ok(q) = Query::site(1).segment(&text) {
            let _ = e.query(&q).map(|s| s.visits_summary());
        }
        let _ = e.api(&format!("method=VisitsSummary.get&idSite=1&period=day&date=2024-06-01&segment={text}"));
        let _ = e.api(&text);
    }
}
