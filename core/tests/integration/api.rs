//! The Reporting API surface: shapes, periods, filters and errors.

use chrono::{DateTime, Utc};
use hitmap::{Engine, Hit, SiteConfig};
use serde_json::{Value, json};

fn engine() -> Engine {
    let mut e = Engine::in_memory();
    e.add_site(
        SiteConfig::new(1)
            .time_zone("Europe/London")
            .host("x.org")
            .section("News", ["/news"]),
    )
    .unwrap();
    e.ingest([
        Hit::pageview(1, 1_717_200_000, "a", "https://x.org/news/a")
            .with_device("smartphone")
            .with_country("gb"),
        Hit::pageview(1, 1_717_200_030, "a", "https://x.org/news/b").with_title("B"),
        Hit::pageview(1, 1_717_200_000, "b", "https://x.org/about").with_device("desktop"),
        Hit::pageview(1, 1_717_900_000, "a", "https://x.org/"),
    ])
    .unwrap();
    e
}

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_718_000_000, 0).unwrap() // 2024-06-10
}

fn api(e: &Engine, q: &str) -> Value {
    serde_json::from_str(&e.api_at(q, now()).unwrap()).unwrap()
}

#[test]
fn one_period_is_one_object_with_matomo_formatting() {
    let v = api(
        &engine(),
        "method=VisitsSummary.get&idSite=1&period=day&date=2024-06-01",
    );
    assert_eq!(
        v,
        json!({"nb_uniq_visitors":2,"nb_users":0,"nb_visits":2,"nb_actions":3,"nb_visits_converted":0,"bounce_count":1,
               "sum_visit_length":31,"max_actions":2,"bounce_rate":"50%","nb_actions_per_visit":1.5,
               "avg_time_on_site":16})
    );
    let raw = api(
        &engine(),
        "method=VisitsSummary.get&idSite=1&period=day&date=2024-06-01&format_metrics=0",
    );
    assert_eq!(raw["bounce_rate"], json!(0.5));
    assert_eq!(raw["avg_time_on_site"], json!(15.5));
}

/// Several periods are a map by period: a period without visits is an
/// empty array, for the single-row getters (as Matomo writes them, an
/// empty `<result date="..." />`, while one period alone is a row of
/// zeros) and for reports, the visit-grouped ones too (no placeholder
/// hours or ranges).
#[test]
fn several_periods_are_a_map_with_empty_arrays() {
    let v = api(
        &engine(),
        "method=VisitsSummary.get&idSite=1&period=day&date=2024-06-01,2024-06-03",
    );
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["2024-06-01", "2024-06-02", "2024-06-03"]);
    assert_eq!(v["2024-06-02"], json!([]));
    assert_eq!(v["2024-06-01"]["nb_visits"], json!(2));
    let alone = api(
        &engine(),
        "method=VisitsSummary.get&idSite=1&period=day&date=2024-06-02",
    );
    assert_eq!(
        (&alone["nb_visits"], &alone["bounce_rate"]),
        (&json!(0), &json!("0%"))
    );
    for method in [
        "Actions.get",
        "VisitFrequency.get",
        "API.get",
        "Goals.get",
        "Goals.getMetrics",
        "Referrers.get",
    ] {
        let q = format!("method={method}&idSite=1&period=day&date=2024-06-01,2024-06-03");
        let v = api(&engine(), &q);
        assert_eq!(v["2024-06-02"], json!([]), "{q}");
        assert!(
            v["2024-06-01"].as_object().is_some_and(|m| !m.is_empty()),
            "{q}: {v}"
        );
        let one = format!("method={method}&idSite=1&period=day&date=2024-06-02");
        let zeros = api(&engine(), &one);
        let zero = |x: &Value| x.as_f64() == Some(0.0) || x == "0%";
        let row = zeros.as_object().unwrap();
        assert!(!row.is_empty() && row.values().all(zero), "{one}: {zeros}");
    }
    for method in [
        "Actions.getPageUrls",
        "VisitTime.getVisitInformationPerServerTime",
        "VisitTime.getByDayOfWeek",
        "VisitorInterest.getNumberOfVisitsPerVisitDuration",
        "VisitorInterest.getNumberOfVisitsPerPage",
    ] {
        let q = format!("method={method}&idSite=1&period=day&date=2024-06-01,2024-06-03");
        let v = api(&engine(), &q);
        assert_eq!(v["2024-06-02"], json!([]), "{q}");
        assert_ne!(v["2024-06-01"], json!([]), "{q}");
    }

    let weeks = api(
        &engine(),
        "method=VisitsSummary.get&idSite=1&period=week&date=last2",
    );
    let keys: Vec<&String> = weeks.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["2024-06-03,2024-06-09", "2024-06-10,2024-06-16"]);
    let months = api(
        &engine(),
        "method=VisitsSummary.get&idSite=1&period=month&date=today",
    );
    assert_eq!(months["nb_visits"], json!(3));
    assert_eq!(months["nb_uniq_visitors"], json!(2));
    let year = api(
        &engine(),
        "method=VisitsSummary.get&idSite=1&period=year&date=last2",
    );
    // A year without visits, among several: empty, as Matomo's.
    assert_eq!(year["2023"], json!([]));
    assert_eq!(year["2024"]["nb_visits"], json!(3));
}

#[test]
fn reports_sort_filter_and_carry_segments() {
    let e = engine();
    let rows = api(
        &e,
        "method=DevicesDetection.getType&idSite=1&period=month&date=2024-06-01",
    );
    let labels: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["label"].as_str().unwrap())
        .collect();
    // ties on visits sort by label; the missing value sorts first; then
    // every other device type without visits, as Matomo's, by label
    // (spaces and case ignored)
    assert_eq!(
        labels,
        [
            "Unknown",
            "Desktop",
            "Smartphone",
            "Camera",
            "Car browser",
            "Console",
            "Feature phone",
            "Peripheral",
            "Phablet",
            "Portable media player",
            "Smart display",
            "Smart speaker",
            "Tablet",
            "Tv",
            "Wearable"
        ]
    );
    assert!(rows[0].get("segment").is_none(), "{}", rows[0]);
    assert_eq!(rows[2]["segment"], json!("deviceType==smartphone"));
    assert_eq!(
        rows[2]["logo"],
        json!("plugins/Morpheus/icons/dist/devices/smartphone.png")
    );
    assert_eq!(rows[2]["nb_actions"], json!(2));
    assert_eq!(
        rows[4],
        json!({"label": "Car browser", "nb_visits": 0, "segment": "deviceType==car+browser", "logo": "plugins/Morpheus/icons/dist/devices/car_browser.png"})
    );
    let limited = api(
        &e,
        "method=Actions.getPageUrls&flat=1&idSite=1&period=month&date=2024-06-01&filter_sort_column=label&filter_sort_order=asc&filter_limit=2&filter_offset=1",
    );
    let labels: Vec<&str> = limited
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["/about", "/news/a"]);
}

#[test]
fn page_tree_folders_sum_their_rows_and_count_visitors_exactly() {
    let tree = api(
        &engine(),
        "method=Actions.getPageUrls&idSite=1&period=month&date=2024-06-01&expanded=1",
    );
    let news = tree
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["label"] == "news")
        .unwrap();
    assert_eq!(news["nb_hits"], json!(2));
    // As Matomo's: a folder's visits are its rows' summed (two pages of
    // one visit count twice); its unique visitors are exact.
    assert_eq!(news["nb_visits"], json!(2), "two pages, one visit: summed");
    assert_eq!(news["nb_uniq_visitors"], json!(1));
    let children: Vec<&str> = news["subtable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["label"].as_str().unwrap())
        .collect();
    assert_eq!(children, ["/a", "/b"]);
    let root = tree
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["label"] == "/index")
        .unwrap();
    assert_eq!(root["nb_hits"], json!(1));
}

#[test]
fn sections_and_titles() {
    let e = engine();
    let s = api(
        &e,
        "method=Hitmap.getSections&idSite=1&period=month&date=2024-06-01",
    );
    assert_eq!(s[0]["label"], json!("News"));
    assert_eq!(s[0]["nb_actions"], json!(2));
    let cut = api(
        &e,
        "method=VisitsSummary.get&idSite=1&period=month&date=2024-06-01&section=News",
    );
    assert_eq!(cut["nb_visits"], json!(1));
    let titles = api(
        &e,
        "method=Actions.getPageTitles&idSite=1&period=month&date=2024-06-01",
    );
    let labels: Vec<&str> = titles
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["Page Name not defined", "B"]);
}

#[test]
fn errors_say_what_to_fix() {
    let e = engine();
    let err = |q: &str| e.api_at(q, now()).unwrap_err().to_string();
    assert!(err("idSite=1&period=day&date=today").contains("method"));
    assert!(err("method=Nope.get&idSite=1&period=day&date=today").contains("unknown method"));
    assert!(
        err("method=VisitsSummary.get&idSite=2&period=day&date=today").contains("add the site")
    );
    assert!(
        err("method=VisitsSummary.get&idSite=1&period=fortnight&date=today")
            .contains("unknown period")
    );
    assert!(
        err("method=VisitsSummary.get&idSite=1&period=day&date=2024-13-01").contains("YYYY-MM-DD")
    );
    let seg = err("method=VisitsSummary.get&idSite=1&period=day&date=today&segment=deviceType~x");
    assert!(seg.contains("position 10"), "{seg}");
    assert!(err("method=VisitsSummary.get&idSite=1&period=day&date=last0").contains("lastN"));
    assert!(
        err("method=VisitsSummary.get&idSite=1&period=day&date=today&format=original")
            .contains("use format=json, csv, tsv, xml or html")
    );
    assert!(
        err("method=VisitsSummary.get&idSite=1&period=day&date=today&format=yaml")
            .contains("unknown format 'yaml'")
    );
    let shaped = hitmap::Error::Request("x".into()).to_api_json();
    assert_eq!(
        serde_json::from_str::<Value>(&shaped).unwrap(),
        json!({"result":"error","message":"x"})
    );
}

#[test]
fn no_parameter_is_silently_ignored() {
    let e = engine();
    let base = "method=Actions.getPageUrls&idSite=1&period=day&date=2024-06-01";
    for p in [
        "bogus=1",
        "hideFutureHoursWhenToday=1",
        "enhanced=1",
        "disable_generic_filters=1",
    ] {
        let name = p.split('=').next().unwrap();
        let err = e
            .api_at(&format!("{base}&{p}"), now())
            .unwrap_err()
            .to_string();
        assert!(err.contains(&format!("'{name}'")), "{p}: {err}");
    }
    let plain = e.api_at(base, now()).unwrap();
    for p in [
        "module=API",
        "token_auth=anonymous",
        "force_api_session=1",
        "language=en",
        "translateColumnNames=1",
        "idSites=1",
        "_=1717",
        "expanded=0",
        "format=JSON",
    ] {
        assert_eq!(
            e.api_at(&format!("{base}&{p}"), now()).unwrap(),
            plain,
            "{p}"
        );
    }
}

/// Live details are bounded: a period of more visits than one request
/// may list, asked for all of them (`filter_limit=-1`, what the CLI's
/// `report` asks by default), is an error that says how to page, where a
/// year of a big site once built gigabytes of JSON; pages of at most the
/// bound answer.
#[test]
fn live_answers_at_most_ten_thousand_visits_a_request() {
    let mut e = Engine::in_memory();
    e.add_site(SiteConfig::new(1)).unwrap();
    let visits = 10_050;
    e.ingest((0..visits).map(|i| {
        Hit::pageview(
            1,
            1_717_200_000 + i64::from(i),
            format!("v{i}"),
            "https://x.org/",
        )
    }))
    .unwrap();
    let q = |extra: &str| {
        format!(
            "method=Live.getLastVisitsDetails&idSite=1&period=day&date=2024-06-01&format=json{extra}"
        )
    };
    let err = e
        .api_at(&q("&filter_limit=-1"), now())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("at most 10000 visits") && err.contains("filter_offset"),
        "{err}"
    );
    let page = |extra: &str| api(&e, &q(extra)).as_array().unwrap().len();
    assert_eq!(page("&filter_limit=10000"), 10_000);
    assert_eq!(page("&filter_offset=100&filter_limit=-1"), 9_950);
    assert_eq!(page(""), 100);
}

/// Live reads its range a week at a time from the newest day: the visits
/// still come newest first across weeks, and pages of any offset and
/// limit cut the same list.
#[test]
fn live_pages_cross_weeks_newest_first() {
    let mut e = Engine::in_memory();
    e.add_site(SiteConfig::new(1)).unwrap();
    // One visit a day for 30 days, two on some days.
    let start = 1_717_200_000; // 2024-06-01
    let hits: Vec<Hit> = (0..30)
        .flat_map(|d: i64| {
            let one = Hit::pageview(1, start + d * 86_400, format!("v{d}"), "https://x.org/");
            let two = (d % 4 == 0).then(|| {
                Hit::pageview(
                    1,
                    start + d * 86_400 + 60,
                    format!("w{d}"),
                    "https://x.org/",
                )
            });
            std::iter::once(one).chain(two)
        })
        .collect();
    let mut want: Vec<i64> = hits.iter().map(|h| h.ts).collect();
    want.sort_unstable_by(|a, b| b.cmp(a));
    e.ingest(hits).unwrap();
    let starts = |extra: &str| -> Vec<i64> {
        let q = format!(
            "method=Live.getLastVisitsDetails&idSite=1&period=range&date=2024-05-20,2024-07-10&format=json{extra}"
        );
        api(&e, &q)
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["firstActionTimestamp"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(starts("&filter_limit=-1"), want);
    for (offset, limit) in [(0, 5), (3, 9), (7, 8), (30, 10), (37, 5)] {
        let end = (offset + limit).min(want.len());
        let page = if offset < want.len() {
            want[offset..end].to_vec()
        } else {
            Vec::new()
        };
        assert_eq!(
            starts(&format!("&filter_offset={offset}&filter_limit={limit}")),
            page,
            "{offset} {limit}"
        );
    }
}

/// Visit reports carry Matomo's columns: their ratios only when asked
/// (`filter_add_columns_when_show_all_columns=1`), as Matomo's API.
#[test]
fn visit_reports_add_their_ratios_when_asked() {
    let e = engine();
    let q = "method=DevicesDetection.getType&idSite=1&period=day&date=2024-06-01";
    let plain = api(&e, q);
    assert!(plain[0].get("bounce_rate").is_none(), "{plain}");
    assert!(plain[0].get("nb_visits").is_some());
    let with = api(
        &e,
        &format!("{q}&filter_add_columns_when_show_all_columns=1"),
    );
    for k in ["bounce_rate", "nb_actions_per_visit", "avg_time_on_site"] {
        assert!(with[0].get(k).is_some(), "{k}: {with}");
    }
    // A ratio sorts once asked for.
    let sorted = api(
        &e,
        &format!("{q}&filter_add_columns_when_show_all_columns=1&filter_sort_column=bounce_rate"),
    );
    assert_eq!(
        sorted.as_array().unwrap().len(),
        with.as_array().unwrap().len()
    );
}

/// Matomo's placeholders for no value name the visits without one: the
/// rows `Unknown` (`languageCode==xx`, `countryCode==xx`) and `unknown`
/// (`resolution==unknown`) select exactly their visits.
#[test]
fn placeholder_segments_select_the_visits_without_a_value() {
    let e = engine();
    let day = "idSite=1&period=day&date=2024-06-01";
    for (method, segment) in [
        ("UserLanguage.getLanguageCode", "languageCode==xx"),
        ("UserCountry.getCountry", "countryCode==xx"),
        ("Resolution.getResolution", "resolution==unknown"),
    ] {
        let rows = api(&e, &format!("method={method}&{day}"));
        let row = rows
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["segment"] == segment)
            .unwrap_or_else(|| panic!("{method}: no row {segment} in {rows}"));
        let q = format!(
            "method=VisitsSummary.get&{day}&segment={}",
            hitmap::encode_query_value(segment)
        );
        assert_eq!(api(&e, &q)["nb_visits"], row["nb_visits"], "{method}");
        let not = q.replace("%3D%3D", "%21%3D");
        let all = api(&e, &format!("method=VisitsSummary.get&{day}"));
        let others = api(&e, &not)["nb_visits"].as_u64().unwrap_or(0);
        assert_eq!(
            others + row["nb_visits"].as_u64().unwrap(),
            all["nb_visits"].as_u64().unwrap(),
            "{method}: != is the complement"
        );
    }
}

/// `API.getSegmentsMetadata` lists every segment name a site takes, and
/// `API.getSuggestedValuesForSegment` the values its data holds; every
/// suggested value, used in its segment, selects visits.
#[test]
fn segment_names_and_suggested_values() {
    let mut e = Engine::in_memory();
    e.add_site(SiteConfig::new(1).dimension("department"))
        .unwrap();
    e.ingest([
        Hit::pageview(1, 1_717_200_000, "a", "https://x.org/a")
            .with_device("smartphone")
            .with_country("gb")
            .with_dim("department", "HR"),
        Hit::pageview(1, 1_717_200_000, "b", "https://x.org/b").with_device("desktop"),
    ])
    .unwrap();
    let ask = |q: &str| -> Value { serde_json::from_str(&e.api(q).unwrap()).unwrap() };
    let meta = ask("method=API.getSegmentsMetadata&idSite=1&format=json");
    let names: Vec<&str> = meta
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["segment"].as_str().unwrap())
        .collect();
    for name in [
        "deviceType",
        "pageUrl",
        "visitConverted",
        "productSku",
        "department",
    ] {
        assert!(names.contains(&name), "{name}: {names:?}");
    }
    assert!(names.len() >= hitmap::Field::builtin_names().count());
    let devices =
        ask("method=API.getSuggestedValuesForSegment&idSite=1&segmentName=deviceType&format=json");
    assert_eq!(devices, json!(["desktop", "smartphone"]));
    for v in devices.as_array().unwrap() {
        let q = format!(
            "method=VisitsSummary.get&idSite=1&period=day&date=2024-06-01&format=json&segment=deviceType%3D%3D{}",
            v.as_str().unwrap()
        );
        assert_eq!(ask(&q)["nb_visits"], 1);
    }
    let types =
        ask("method=API.getSuggestedValuesForSegment&idSite=1&segmentName=visitorType&format=json");
    assert_eq!(types, json!(["new", "returning"]));
    let err = e
        .api("method=API.getSuggestedValuesForSegment&idSite=1&segmentName=nope")
        .unwrap_err()
        .to_string();
    assert!(err.contains("getSegmentsMetadata"), "{err}");
    let err = e
        .api("method=API.getSuggestedValuesForSegment&idSite=1")
        .unwrap_err()
        .to_string();
    assert!(err.contains("segmentName"), "{err}");
}

/// Matomo's scalar getters answer one number of another report, in
/// Matomo's shapes: `{"value": n}` in JSON, `<result>n</result>` in XML,
/// one per period in a map.
#[test]
fn scalar_getters_answer_a_number_of_their_report() {
    let mut e = Engine::in_memory();
    e.add_site(SiteConfig::new(1).host("x.org")).unwrap();
    e.ingest([
        Hit::pageview(1, 1_717_200_000, "a", "https://x.org/a")
            .with_referrer("https://blog.example.com/post")
            .with_country("fr"),
        Hit::pageview(1, 1_717_200_400, "a", "https://x.org/b"),
        Hit::pageview(1, 1_717_210_000, "b", "https://x.org/")
            .with_referrer("https://news.example.net/")
            .with_country("gb"),
        Hit::pageview(1, 1_717_300_000, "c", "https://x.org/")
            .with_referrer("https://blog.example.com/other"),
    ])
    .unwrap();
    let q = |m: &str, extra: &str| {
        format!("method={m}&idSite=1&period=range&date=2024-06-01,2024-06-02{extra}")
    };
    let ask = |m: &str| -> Value {
        serde_json::from_str(&e.api(&q(m, "&format=json")).unwrap()).unwrap()
    };
    let summary = ask("VisitsSummary.get");
    for (getter, column) in [
        ("VisitsSummary.getVisits", "nb_visits"),
        ("VisitsSummary.getUniqueVisitors", "nb_uniq_visitors"),
        ("VisitsSummary.getActions", "nb_actions"),
        ("VisitsSummary.getMaxActions", "max_actions"),
        ("VisitsSummary.getBounceCount", "bounce_count"),
        ("VisitsSummary.getSumVisitsLength", "sum_visit_length"),
        ("VisitsSummary.getUsers", "nb_users"),
    ] {
        assert_eq!(ask(getter), json!({ "value": summary[column] }), "{getter}");
    }
    assert_eq!(summary["sum_visit_length"], 401);
    assert_eq!(
        ask("VisitsSummary.getSumVisitsLengthPretty"),
        json!({"value": "6 min 41s"})
    );
    let websites = ask("Referrers.getWebsites");
    assert_eq!(websites.as_array().unwrap().len(), 2);
    assert_eq!(
        ask("Referrers.getNumberOfDistinctWebsites"),
        json!({"value": 2})
    );
    assert_eq!(
        ask("Referrers.getNumberOfDistinctWebsitesUrls"),
        json!({"value": 3})
    );
    assert_eq!(
        ask("Referrers.getNumberOfDistinctSearchEngines"),
        json!({"value": 0})
    );
    assert_eq!(
        ask("UserCountry.getNumberOfDistinctCountries"),
        json!({"value": 3})
    );
    let xml = e.api(&q("VisitsSummary.getVisits", "&format=xml")).unwrap();
    assert_eq!(
        xml,
        "<?xml version=\"1.0\" encoding=\"utf-8\" ?>\n<result>3</result>"
    );
    // By day: a number per day, an empty element where it is 0.
    let days = e
        .api("method=Referrers.getNumberOfDistinctWebsites&idSite=1&period=day&date=2024-06-01,2024-06-03&format=xml")
        .unwrap();
    assert!(
        days.contains("<result date=\"2024-06-01\">2</result>"),
        "{days}"
    );
    assert!(days.contains("<result date=\"2024-06-03\" />"), "{days}");
    let version = e.api("method=API.getMatomoVersion&format=xml").unwrap();
    assert!(version.ends_with("<result>5.1.0</result>"), "{version}");
}

/// Events reports with any `secondaryDimension`, and Matomo's six named
/// subtable getters: each answers a row's subtable by its `idsubtable`,
/// the rows (with their segments) as the report's own expanded subtable.
#[test]
fn events_answer_every_secondary_dimension_and_the_named_subtable_getters() {
    let mut e = Engine::in_memory();
    e.add_site(SiteConfig::new(1)).unwrap();
    let ev = |visitor: &str, t: i64, cat: &str, action: &str, name: Option<&str>, value: f64| {
        event_hit(visitor, t, [cat, action], name, Some(value))
    };
    e.ingest([
        ev("a", 0, "Video", "play", Some("intro"), 1.0),
        ev("a", 10, "Video", "pause", Some("intro"), 2.0),
        ev("b", 0, "Video", "play", Some("outro"), 3.0),
        ev("b", 20, "Form", "send", None, 4.0),
        ev("c", 0, "Form", "play", Some("intro"), 5.0),
    ])
    .unwrap();
    let get = |q: &str| -> Value {
        let q = format!("{q}&idSite=1&period=day&date=2024-06-01&format_metrics=0");
        serde_json::from_str(&e.api(&q).unwrap_or_else(|err| panic!("{q}: {err}"))).unwrap()
    };
    let labels = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r["label"].as_str().unwrap().to_owned())
            .collect()
    };
    // Events by name, their subtables by category.
    let by_name = get("method=Events.getName&secondaryDimension=eventCategory&expanded=1");
    let intro = by_name
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["label"] == "intro")
        .unwrap();
    assert_eq!(labels(&intro["subtable"]), ["Video", "Form"]);
    assert_eq!(intro["subtable"][0]["nb_events"], 2);
    // As Matomo's: the row has its segment, its subtable's rows none.
    assert_eq!(intro["segment"], "eventName==intro");
    assert!(intro["subtable"][0].get("segment").is_none(), "{intro}");
    for (parent, secondary, getter) in [
        ("getCategory", "eventAction", "getActionFromCategoryId"),
        ("getCategory", "eventName", "getNameFromCategoryId"),
        ("getAction", "eventCategory", "getCategoryFromActionId"),
        ("getAction", "eventName", "getNameFromActionId"),
        ("getName", "eventAction", "getActionFromNameId"),
        ("getName", "eventCategory", "getCategoryFromNameId"),
    ] {
        let report = format!("method=Events.{parent}&secondaryDimension={secondary}");
        let expanded = get(&format!("{report}&expanded=1"));
        let rows = get(&report);
        let rows = rows.as_array().unwrap();
        assert!(rows.len() >= 2, "{parent}: {rows:?}");
        for row in rows {
            // Unnamed events have no row in a subtable by name.
            let Some(id) = row["idsubtable"].as_u64() else {
                assert!(
                    secondary == "eventName" && row.get("subtable").is_none(),
                    "{row}"
                );
                continue;
            };
            let own = expanded
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["label"] == row["label"])
                .unwrap();
            let sub = get(&format!("method=Events.{getter}&idSubtable={id}"));
            assert_eq!(sub, own["subtable"], "{getter} of {}", row["label"]);
            // As Matomo's, a subtable's rows carry no segment.
            for s in sub.as_array().unwrap() {
                assert!(s.get("segment").is_none(), "{s}");
            }
        }
    }
    // The subtables of a report without `expanded` are the getters'.
    let plain = get("method=Events.getAction&secondaryDimension=eventCategory");
    let play = plain
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["label"] == "play")
        .unwrap();
    let id = play["idsubtable"].as_u64().unwrap();
    let sub = get(&format!(
        "method=Events.getCategoryFromActionId&idSubtable={id}"
    ));
    assert_eq!(labels(&sub), ["Video", "Form"]);
    assert_eq!(sub[0]["nb_events"], 2);
    // A dimension a report cannot group by, a report without it, a getter
    // without its row: clear errors.
    let err = e
        .api("method=Events.getCategory&secondaryDimension=eventCategory&idSite=1&period=day&date=2024-06-01")
        .unwrap_err();
    // Matomo's words, its order (the default first).
    assert!(
        err.to_string().contains(
            "Secondary dimension 'eventCategory' is not valid for the API getCategory. \
             Use one of: eventAction, eventName"
        ),
        "{err}"
    );
    let err = e
        .api("method=Actions.getPageUrls&secondaryDimension=eventName&idSite=1&period=day&date=2024-06-01")
        .unwrap_err();
    assert!(err.to_string().contains("does not apply"), "{err}");
    let err = e
        .api("method=Events.getNameFromActionId&idSite=1&period=day&date=2024-06-01")
        .unwrap_err();
    assert!(err.to_string().contains("needs idSubtable"), "{err}");
}

/// Event rows as Matomo's: a row's visits count a visit once per event
/// combination (category, action, name) under it, its visitors are
/// distinct; rows by visits, then label regardless of case; a row's
/// segment names its label HTML-escaped, as Matomo stores an event's parts,
/// and selects exactly the row's visits.
#[test]
fn event_rows_count_visits_by_combination_in_matomos_order() {
    let mut e = Engine::in_memory();
    e.add_site(SiteConfig::new(1)).unwrap();
    let ev = |visitor: &str, t: i64, cat: &str, action: &str, name: Option<&str>| {
        event_hit(visitor, t, [cat, action], name, None)
    };
    e.ingest([
        // One visit, three combinations under `Movie`, two under `play`.
        ev("a", 0, "Movie", "play", Some("l'eau")),
        ev("a", 10, "Movie", "play", Some("<Ponyo>")),
        ev("a", 20, "Movie", "play", Some("l'eau")),
        ev("a", 30, "Movie", "stop", None),
        ev("b", 0, "music", "play", Some("l'eau")),
        ev("b", 10, "music", "rate", Some("x")),
    ])
    .unwrap();
    let get = |q: &str| -> Value {
        let q = format!("{q}&idSite=1&period=day&date=2024-06-01&format_metrics=0&expanded=1");
        serde_json::from_str(&e.api(&q).unwrap_or_else(|err| panic!("{q}: {err}"))).unwrap()
    };
    let rows = get("method=Events.getCategory");
    let cells = |r: &Value| {
        (
            r["label"].as_str().unwrap().to_owned(),
            r["nb_visits"].as_u64().unwrap(),
            r["nb_uniq_visitors"].as_u64().unwrap(),
            r["nb_events"].as_u64().unwrap(),
        )
    };
    let top: Vec<_> = rows.as_array().unwrap().iter().map(cells).collect();
    assert_eq!(
        top,
        [("Movie".to_owned(), 3, 1, 4), ("music".to_owned(), 2, 1, 2)]
    );
    let movie: Vec<_> = rows[0]["subtable"]
        .as_array()
        .unwrap()
        .iter()
        .map(cells)
        .collect();
    assert_eq!(
        movie,
        [("play".to_owned(), 2, 1, 3), ("stop".to_owned(), 1, 1, 1)]
    );
    // Ties by label regardless of case: `a` before `B`.
    let names = get("method=Events.getName");
    let labels: Vec<&str> = names
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["l'eau", "<Ponyo>", "Event Name not defined", "x"]);
    assert_eq!(names[0]["nb_visits"], 2);
    assert_eq!(names[0]["segment"], "eventName==l%26%23039%3Beau");
    assert_eq!(names[1]["segment"], "eventName==%26lt%3BPonyo%26gt%3B");
    // Each segment, Matomo's escaped form or the plain one, selects the
    // row's visits.
    for segment in [
        "eventName==l%26%23039%3Beau",
        "eventName==l%27eau",
        "eventName==%26lt%3BPonyo%26gt%3B",
    ] {
        let q = format!(
            "method=VisitsSummary.get&idSite=1&period=day&date=2024-06-01&segment={}",
            urlencoding(segment)
        );
        let v: Value = serde_json::from_str(&e.api(&q).unwrap()).unwrap();
        let want = if segment.contains("Ponyo") { 1 } else { 2 };
        assert_eq!(v["nb_visits"], want, "{segment}");
    }
}

/// An event of site 1, `t` seconds after 2024-06-01 00:00 UTC.
fn event_hit(
    visitor: &str,
    t: i64,
    [category, action]: [&str; 2],
    name: Option<&str>,
    value: Option<f64>,
) -> Hit {
    Hit::new(1, 1_717_200_000 + t, visitor, hitmap::HitType::Event)
        .with_url("https://x.org/video")
        .with_event(hitmap::Event {
            category: category.into(),
            action: action.into(),
            name: name.map(str::to_owned),
            value,
        })
}

fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `Actions.getDownload` and `getOutlink`: one URL's row, matched as
/// Matomo matches (the asked URL's fragment and session parameters left
/// out; a link clicked with a fragment is an action of its own, which
/// Matomo's search does not find), labelled by path with its URL. The
/// downloads report keeps a fragment in its label, URL and segment (the
/// segment HTML-escaped, as Matomo stores the URL).
#[test]
fn a_download_and_an_outlink_answer_their_own_row() {
    let mut e = Engine::in_memory();
    e.add_site(SiteConfig::new(1)).unwrap();
    let link = |visitor: &str, t: i64, kind: hitmap::HitType, url: &str| {
        let mut h = Hit::pageview(1, 1_717_200_000 + t, visitor, url);
        h.kind = kind;
        h
    };
    use hitmap::HitType::{Download, Outlink};
    let bytes = |n| hitmap::Perf {
        bandwidth: Some(n),
        ..hitmap::Perf::default()
    };
    e.ingest([
        Hit::pageview(1, 1_717_200_000, "a", "https://x.org/"),
        link("a", 5, Download, "http://piwik.org/path/latest.zip?v=2").with_perf(bytes(1000)),
        link("a", 9, Download, "http://piwik.org/path/latest.zip?v=2#top").with_perf(bytes(3001)),
        link("b", 5, Download, "http://piwik.org/path/latest.zip?v=3"),
        link("b", 7, Outlink, "http://dev.piwik.org/svn"),
        link("c", 5, Download, "http://piwik.org/f.zip#a&b=Open%20x"),
    ])
    .unwrap();
    let get = |q: &str| -> Value {
        let q = format!("{q}&idSite=1&period=day&date=2024-06-01&format_metrics=0");
        serde_json::from_str(&e.api(&q).unwrap_or_else(|err| panic!("{q}: {err}"))).unwrap()
    };
    let enc = hitmap::encode_query_value;
    let rows = get(&format!(
        "method=Actions.getDownload&downloadUrl={}",
        enc("http://piwik.org/path/latest.zip?PHPSESSID=zz&v=2#x")
    ));
    assert_eq!(
        rows,
        json!([{
            "label": "/path/latest.zip?v=2",
            "nb_visits": 1,
            "nb_uniq_visitors": 1,
            "nb_hits": 1,
            "sum_time_spent": 0,
            // Matomo's bandwidth columns.
            "sum_bandwidth": 1000,
            "nb_hits_with_bandwidth": 1,
            "min_bandwidth": 1000,
            "max_bandwidth": 1000,
            "avg_bandwidth": 1000,
            "url": "http://piwik.org/path/latest.zip?v=2",
        }])
    );
    let tree = get("method=Actions.getDownloads&expanded=1");
    let urls: Vec<(&str, &str, u64)> = tree[0]["subtable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["label"].as_str().unwrap(),
                r["url"].as_str().unwrap(),
                r["nb_hits"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(
        urls.contains(&(
            "/path/latest.zip?v=2#top",
            "http://piwik.org/path/latest.zip?v=2#top",
            1
        )),
        "{urls:?}"
    );
    // The segment of a link with `&`: Matomo's stored form, `&amp;`,
    // which finds its visit.
    let row = tree[0]["subtable"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["url"] == "http://piwik.org/f.zip#a&b=Open%20x")
        .unwrap()
        .clone();
    assert_eq!(row["label"], "/f.zip#a&b=Open x");
    let segment = row["segment"].as_str().unwrap();
    assert!(segment.contains("%2526amp%253B"), "{segment}");
    // As a request carries it (Matomo's rows' segments are ready for a
    // query string).
    let found = get(&format!("method=VisitsSummary.get&segment={segment}"));
    assert_eq!(found["nb_visits"], 1);
    let rows = get(&format!(
        "method=Actions.getOutlink&outlinkUrl={}",
        enc("http://dev.piwik.org/svn?gclid=1")
    ));
    assert_eq!(rows[0]["label"], "/svn");
    assert_eq!(rows[0]["nb_hits"], 1);
    // Not there: no row. Each period of several: its own rows.
    let none = get(&format!(
        "method=Actions.getDownload&downloadUrl={}",
        enc("http://piwik.org/other.zip")
    ));
    assert_eq!(none, json!([]));
    let q = format!(
        "method=Actions.getDownload&downloadUrl={}&idSite=1&period=day&date=2024-05-31,2024-06-01",
        enc("http://piwik.org/path/latest.zip?v=3")
    );
    let by_day: Value = serde_json::from_str(&e.api(&q).unwrap()).unwrap();
    assert_eq!(by_day["2024-05-31"], json!([]));
    assert_eq!(by_day["2024-06-01"][0]["nb_visits"], 1);
    // The parameter is required, and belongs to its method alone.
    let err = e
        .api("method=Actions.getOutlink&idSite=1&period=day&date=2024-06-01")
        .unwrap_err();
    assert!(err.to_string().contains("needs outlinkUrl"), "{err}");
    let err = e
        .api("method=Actions.getOutlinks&outlinkUrl=x&idSite=1&period=day&date=2024-06-01")
        .unwrap_err();
    assert!(err.to_string().contains("does not apply"), "{err}");
}

/// As Matomo's (its `urldecode`), `+` in a segment's value is a space and
/// `%2B` a plus; rows give their segments in that form (`car+browser`).
#[test]
fn a_plus_in_a_segment_value_is_a_space() {
    let mut e = Engine::in_memory();
    e.add_site(SiteConfig::new(1)).unwrap();
    let mut a = Hit::pageview(1, 1_717_200_000, "a", "https://x.org/a");
    a.title = Some("tea time".into());
    let mut b = Hit::pageview(1, 1_717_200_000, "b", "https://x.org/b");
    b.title = Some("tea+time".into());
    e.ingest([a, b]).unwrap();
    let visits = |segment: &str| -> u64 {
        let q = format!(
            "method=VisitsSummary.get&idSite=1&period=day&date=2024-06-01&format=json&segment={}",
            hitmap::encode_query_value(segment)
        );
        serde_json::from_str::<Value>(&e.api(&q).unwrap()).unwrap()["nb_visits"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(visits("pageTitle==tea+time"), 1);
    assert_eq!(visits("pageTitle==tea%20time"), 1);
    assert_eq!(visits("pageTitle==tea%2Btime"), 1);
    assert_eq!(visits("pageTitle=@tea"), 2);
    // Two different visits: the space's and the plus's.
    assert_eq!(visits("pageTitle==tea+time,pageTitle==tea%2Btime"), 2);
    assert_eq!(visits("pageTitle==tea+time;pageTitle==tea%20time"), 1);
    assert_eq!(hitmap::encode_segment_value("tea time"), "tea+time");
    assert_eq!(hitmap::encode_segment_value("tea+time"), "tea%2Btime");
}

/// Downloads and outlinks by domain, as Matomo's: a URL's row labelled by
/// its path under the domain with its `url`, no time spent; the domain's
/// row the sum, with exact unique visitors.
#[test]
fn links_by_domain_are_labelled_by_their_path() {
    use hitmap::HitType;
    let mut e = Engine::in_memory();
    e.add_site(SiteConfig::new(1)).unwrap();
    let t = 1_717_200_000;
    e.ingest([
        Hit::pageview(1, t, "a", "https://x.org/"),
        Hit::new(1, t + 10, "a", HitType::Download).with_url("https://cdn.x.org/files/a.pdf?v=2"),
        Hit::new(1, t + 20, "a", HitType::Download).with_url("https://cdn.x.org"),
        Hit::pageview(1, t, "b", "https://x.org/"),
        Hit::new(1, t + 10, "b", HitType::Download).with_url("https://cdn.x.org/files/a.pdf?v=2"),
    ])
    .unwrap();
    let rows = api(
        &e,
        "method=Actions.getDownloads&idSite=1&period=day&date=2024-06-01&format=json&expanded=1",
    );
    let domain = &rows[0];
    assert_eq!(domain["label"], "cdn.x.org");
    assert_eq!(
        (
            domain["nb_hits"].as_u64(),
            domain["nb_uniq_visitors"].as_u64()
        ),
        (Some(3), Some(2))
    );
    assert_eq!(domain["sum_time_spent"], 0);
    let urls: Vec<(&str, &str, u64)> = domain["subtable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["sum_time_spent"], 0);
            (
                r["label"].as_str().unwrap(),
                r["url"].as_str().unwrap(),
                r["nb_hits"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        urls,
        [
            ("/files/a.pdf?v=2", "https://cdn.x.org/files/a.pdf?v=2", 2),
            ("/", "https://cdn.x.org", 1)
        ]
    );
}

/// `Resolution.getConfiguration` groups visits by operating system,
/// browser and resolution as Matomo labels them (names without versions,
/// `Unknown` and `unknown` for what a visit lacks), with no segment.
#[test]
fn configurations_group_visits_by_os_browser_and_resolution() {
    let mut e = Engine::in_memory();
    e.add_site(SiteConfig::new(1)).unwrap();
    let mut a = Hit::pageview(1, 1_717_200_000, "a", "https://x.org/")
        .with_os("Windows")
        .with_browser("Firefox");
    a.resolution = Some("1024x768".into());
    let b = Hit::pageview(1, 1_717_200_100, "b", "https://x.org/").with_os("Windows");
    let c = Hit::pageview(1, 1_717_200_200, "c", "https://x.org/");
    let c2 = Hit::pageview(1, 1_717_200_260, "c", "https://x.org/b");
    let mut a2 = a.clone();
    a2.visitor = "a2".into();
    e.ingest([a, a2, b, c, c2]).unwrap();
    let v = api(
        &e,
        "method=Resolution.getConfiguration&idSite=1&period=day&date=2024-06-01&format=json",
    );
    let rows: Vec<(String, u64, u64, bool)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["label"].as_str().unwrap().to_owned(),
                r["nb_visits"].as_u64().unwrap(),
                r["nb_actions"].as_u64().unwrap(),
                r.get("segment").is_some(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("Windows / Firefox / 1024x768".to_owned(), 2, 2, false),
            ("Unknown / Unknown / unknown".to_owned(), 1, 2, false),
            ("Windows / Unknown / unknown".to_owned(), 1, 1, false),
        ]
    );
}

/// `flat=1` as Matomo's flattener: each row names its parts in the
/// report's dimension columns (`Referrers_SocialNetwork` the network,
/// `Referrers_WebsitePage` the child's own label; an events report's
/// subtable column follows `secondaryDimension`; a flat page report its
/// path in `Actions_PageUrl`), a child takes its parent's URL, logo and
/// segment, and the flattened rows sort by visits, then label.
#[test]
fn flattened_rows_name_their_dimensions_as_matomo() {
    let mut e = Engine::in_memory();
    e.add_site(SiteConfig::new(1)).unwrap();
    let t = 1_717_200_000;
    let from = |v: &str, dt: i64, referrer: &str| {
        Hit::pageview(1, t + dt, v, "https://x.org/a/b").with_referrer(referrer)
    };
    e.ingest([
        from("a", 0, "https://twitter.com/z"),
        from("b", 10, "https://twitter.com/y"),
        from("c", 20, "https://www.facebook.com/w"),
        from("d", 30, "https://twitter.com/y"),
        Hit::new(1, t + 40, "a", hitmap::HitType::Event)
            .with_url("https://x.org/")
            .with_event(hitmap::Event {
                category: "video".into(),
                action: "play".into(),
                name: Some("intro".into()),
                value: None,
            }),
    ])
    .unwrap();
    let get = |q: &str| -> Vec<Value> {
        api(
            &e,
            &format!("{q}&idSite=1&period=day&date=2024-06-01&flat=1&format=json"),
        )
        .as_array()
        .unwrap()
        .clone()
    };
    let socials = get("method=Referrers.getSocials");
    let rows: Vec<(&str, &str, &str, u64)> = socials
        .iter()
        .map(|r| {
            (
                r["label"].as_str().unwrap(),
                r["Referrers_SocialNetwork"].as_str().unwrap(),
                r["Referrers_WebsitePage"].as_str().unwrap(),
                r["nb_visits"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (
                "Twitter - https://twitter.com/y",
                "Twitter",
                "https://twitter.com/y",
                2
            ),
            (
                "Facebook - https://www.facebook.com/w",
                "Facebook",
                "https://www.facebook.com/w",
                1
            ),
            (
                "Twitter - https://twitter.com/z",
                "Twitter",
                "https://twitter.com/z",
                1
            ),
        ]
    );
    for r in &socials {
        let network = r["Referrers_SocialNetwork"].as_str().unwrap();
        assert_eq!(
            r["segment"],
            format!("referrerType==social;referrerName=={network}"),
            "{r}"
        );
        assert!(r["logo"].as_str().unwrap().contains("socials/"), "{r}");
        assert!(r.get("url").is_some(), "{r}");
    }
    let events = get("method=Events.getCategory&secondaryDimension=eventName");
    assert_eq!(events[0]["label"], "video - intro");
    assert_eq!(events[0]["Events_EventCategory"], "video");
    assert_eq!(events[0]["Events_EventName"], "intro");
    let pages = get("method=Actions.getPageUrls");
    assert_eq!(pages[0]["label"], pages[0]["Actions_PageUrl"]);
    // `showColumns` and `hideColumns` leave it out as the other columns.
    for q in [
        "method=Actions.getPageUrls&showColumns=nb_hits",
        "method=Actions.getPageUrls&hideColumns=Actions_PageUrl",
        "method=Referrers.getSocials&showColumns=nb_visits",
    ] {
        let row = &get(q)[0];
        assert!(row.get("Actions_PageUrl").is_none(), "{q}: {row}");
        assert!(row.get("Referrers_SocialNetwork").is_none(), "{q}: {row}");
    }
    // Not flat: no such columns.
    let tree = api(
        &e,
        "method=Referrers.getSocials&idSite=1&period=day&date=2024-06-01&expanded=1&format=json",
    );
    assert!(tree[0].get("Referrers_SocialNetwork").is_none());
}

/// `DevicePlugins.getPlugin`: a row per plugin Matomo records, each the
/// visits whose browser reported it (a visit's plugins from its first hit
/// with them, written in any case and order, through the typed and the
/// NDJSON doors), as a share of the visits not on Internet Explorer 6 to
/// 10 (at most 100 %); by visits, then label. Live shows a visit's
/// plugins as Matomo's visitor log.
#[test]
fn browser_plugins_count_each_plugins_visits_as_matomo() {
    let mut e = Engine::in_memory();
    e.add_site(SiteConfig::new(1)).unwrap();
    let day = 1_717_200_000; // 2024-06-01
    let page = |ts: i64, v: &str| Hit::pageview(1, ts, v, "https://x.org/");
    let mut old_ie = page(day + 300, "ie").with_plugins("flash,pdf");
    old_ie.browser = Some("Internet Explorer".into());
    old_ie.browser_version = Some("9.0".into());
    e.ingest([
        page(day, "a").with_plugins("Java, COOKIE,java"),
        // A later hit's plugins do not change the visit's.
        page(day + 60, "a").with_plugins("pdf"),
        page(day + 100, "b"),
        page(day + 160, "b").with_plugins("cookie,flash"),
        page(day + 200, "c").with_plugins(" , "),
        old_ie,
    ])
    .unwrap();
    let next = r#"{"site":1,"ts":"2024-06-02T10:00:00Z","visitor":"d","url":"https://x.org/","plugins":"windowsmedia, cookie"}"#;
    assert_eq!(e.ingest_ndjson(next.as_bytes()).unwrap().accepted, 1);
    let rows = |q: &str| -> Vec<(String, u64, String)> {
        api(
            &e,
            &format!("method=DevicePlugins.getPlugin&idSite=1&{q}&format=json"),
        )
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(
                r["logo"].as_str().unwrap(),
                format!(
                    "plugins/Morpheus/icons/dist/plugins/{}.png",
                    r["label"].as_str().unwrap().to_lowercase()
                )
            );
            (
                r["label"].as_str().unwrap().to_owned(),
                r["nb_visits"].as_u64().unwrap(),
                r["nb_visits_percentage"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
    };
    let row = |l: &str, n: u64, p: &str| (l.to_owned(), n, p.to_owned());
    // Day one: 4 visits, one on IE 9, so shares are of 3.
    assert_eq!(
        rows("period=day&date=2024-06-01"),
        [
            row("Cookie", 2, "67%"),
            row("Flash", 2, "67%"),
            row("Java", 1, "33%"),
            row("Pdf", 1, "33%"),
            row("Quicktime", 0, "0%"),
            row("Realplayer", 0, "0%"),
            row("Silverlight", 0, "0%"),
            row("Windowsmedia", 0, "0%"),
        ]
    );
    // Both days: 5 visits, 4 counted.
    assert_eq!(
        rows("period=range&date=2024-06-01,2024-06-02")[..4],
        [
            row("Cookie", 3, "75%"),
            row("Flash", 2, "50%"),
            row("Java", 1, "25%"),
            row("Pdf", 1, "25%"),
        ]
    );
    // A day of IE 9 only: its plugin's share stops at 100 %.
    let mut e2 = Engine::in_memory();
    e2.add_site(SiteConfig::new(1)).unwrap();
    let mut ie = page(day, "ie").with_plugins("flash");
    ie.browser = Some("Internet Explorer".into());
    ie.browser_version = Some("9.0".into());
    e2.ingest([ie, page(day + 10, "x").with_plugins("cookie")])
        .unwrap();
    let v = api(
        &e2,
        "method=DevicePlugins.getPlugin&idSite=1&period=day&date=2024-06-01&format=json",
    );
    assert_eq!(v[0]["nb_visits_percentage"], "100%");
    assert_eq!(v[1]["nb_visits_percentage"], "100%");
    // A day without visits has no rows.
    assert_eq!(rows("period=day&date=2024-06-03"), []);
    let live = api(
        &e,
        "method=Live.getLastVisitsDetails&idSite=1&period=day&date=2024-06-01&format=json&filter_limit=-1",
    );
    let of = |visitor: &str| {
        live.as_array()
            .unwrap()
            .iter()
            .find(|v| v["visitorId"] == visitor)
            .unwrap()
            .clone()
    };
    assert_eq!(of("a")["plugins"], "cookie, java");
    assert_eq!(
        of("a")["pluginsIcons"],
        json!([
            {"pluginIcon": "plugins/Morpheus/icons/dist/plugins/cookie.png", "pluginName": "cookie"},
            {"pluginIcon": "plugins/Morpheus/icons/dist/plugins/java.png", "pluginName": "java"},
        ])
    );
    assert_eq!(of("c")["plugins"], "");
    assert_eq!(of("c")["pluginsIcons"], Value::Null);
}

/// Live's newest visit and its counters: `getMostRecentVisitorId` (the
/// visitor of the visit with the latest last action, segment applied),
/// `getMostRecentVisitsDateTime` (that action's time in UTC, within the
/// period when one is asked), `getCounters` and its bounds. JSON wraps a
/// single value as Matomo's renderer does (`{"value": ...}`).
#[test]
fn live_names_the_most_recent_visit_and_counts_the_last_minutes() {
    let e = engine();
    let one = |q: &str| api(&e, &format!("{q}&format=json"));
    assert_eq!(
        one("method=Live.getMostRecentVisitorId&idSite=1"),
        json!({"value": "a"})
    );
    assert_eq!(
        one("method=Live.getMostRecentVisitorId&idSite=1&segment=deviceType==desktop"),
        json!({"value": "b"})
    );
    assert_eq!(
        one("method=Live.getMostRecentVisitorId&idSite=1&segment=deviceType==tablet"),
        json!({"value": false})
    );
    assert_eq!(
        one("method=Live.getMostRecentVisitsDateTime&idSite=1"),
        json!({"value": "2024-06-09 02:26:40"})
    );
    assert_eq!(
        one("method=Live.getMostRecentVisitsDateTime&idSite=1&period=day&date=2024-06-01"),
        json!({"value": "2024-06-01 00:00:30"})
    );
    assert_eq!(
        one("method=Live.getMostRecentVisitsDateTime&idSite=1&period=day&date=2024-06-05"),
        json!({"value": ""})
    );
    // 2024-06-09 02:26:40 is the last hit; now is 2024-06-10 06:13:20.
    let at = |q: &str, now: i64| -> Value {
        serde_json::from_str(
            &e.api_at(
                &format!("{q}&format=json"),
                DateTime::from_timestamp(now, 0).unwrap(),
            )
            .unwrap(),
        )
        .unwrap()
    };
    let counters = "method=Live.getCounters&idSite=1&lastMinutes=";
    assert_eq!(
        at(&format!("{counters}2880"), 1_717_900_060),
        json!([{"visits": 1, "actions": 1, "visitors": 1, "visitsConverted": 0}])
    );
    assert_eq!(
        at(&format!("{counters}1"), 1_717_900_100),
        json!([{"visits": 0, "actions": 0, "visitors": 0, "visitsConverted": 0}])
    );
    // From 45 seconds before: a's first-day visit counts its second
    // action only, b's visit is over, a's later visit counts too (no
    // upper bound, as Matomo's).
    assert_eq!(
        at(
            &format!("{counters}1&hideColumns=visitsConverted"),
            1_717_200_075
        ),
        json!([{"visits": 2, "actions": 2, "visitors": 1}])
    );
    assert_eq!(
        at(&format!("{counters}1&showColumns=visits"), 1_717_200_075),
        json!([{"visits": 2}])
    );
    for bad in ["", "0", "2881", "x"] {
        let q = format!("{counters}{bad}&format=json");
        let err = e.api_at(&q, now()).unwrap_err().to_string();
        assert!(err.contains("lastMinutes"), "{bad}: {err}");
    }
    let err = e
        .api_at(
            "method=VisitsSummary.get&idSite=1&period=day&date=today&lastMinutes=5",
            now(),
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("'lastMinutes' does not apply"), "{err}");
}

/// Pages following a site search: the page reports' rows of the pages
/// viewed right after a search (downloads and events between do not
/// count as a page), with `nb_hits_following_search`; folders keep the
/// sums of all their pages, and only rows with such a view are listed.
#[test]
fn pages_following_a_site_search() {
    use hitmap::HitType;
    let mut e = Engine::in_memory();
    e.add_site(SiteConfig::new(1)).unwrap();
    let t0 = 1_717_200_000;
    let page = |s: i64, url: &str, title: &str| {
        Hit::pageview(1, t0 + s, "v", format!("https://x.org{url}")).with_title(title)
    };
    let search = |s: i64, k: &str| {
        Hit::new(1, t0 + s, "v", HitType::Search)
            .with_url(format!("https://x.org/search?q={k}"))
            .with_search(k)
    };
    e.ingest([
        page(0, "/a", "A"),
        search(10, "x"),
        page(20, "/b", "B"),
        Hit::new(1, t0 + 25, "v", HitType::Download).with_url("https://x.org/f.pdf"),
        page(30, "/news/c", "C"),
        search(40, "y"),
        Hit::new(1, t0 + 45, "v", HitType::Event).with_event(hitmap::Event {
            category: "c".into(),
            action: "a".into(),
            ..Default::default()
        }),
        page(50, "/news/d", "D"),
        page(60, "/a", "A"),
    ])
    .unwrap();
    let q = |m: &str, extra: &str| {
        api(
            &e,
            &format!("method=Actions.{m}&idSite=1&period=day&date=2024-06-01&format=json{extra}"),
        )
    };
    let brief = |rows: &Value| -> Vec<(String, u64, u64, usize)> {
        rows.as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["label"].as_str().unwrap().to_owned(),
                    r["nb_hits"].as_u64().unwrap(),
                    r["nb_hits_following_search"].as_u64().unwrap(),
                    r.get("subtable")
                        .and_then(Value::as_array)
                        .map_or(0, Vec::len),
                )
            })
            .collect()
    };
    let urls = q("getPageUrlsFollowingSiteSearch", "&expanded=1");
    assert_eq!(
        brief(&urls),
        [("news".to_owned(), 2, 1, 1), ("/b".to_owned(), 1, 1, 0)]
    );
    assert_eq!(brief(&urls[0]["subtable"]), [("/d".to_owned(), 1, 1, 0)]);
    assert_eq!(
        brief(&q("getPageUrlsFollowingSiteSearch", "&flat=1")),
        [("/b".to_owned(), 1, 1, 0), ("/news/d".to_owned(), 1, 1, 0)]
    );
    assert_eq!(
        brief(&q("getPageTitlesFollowingSiteSearch", "")),
        [("B".to_owned(), 1, 1, 0), ("D".to_owned(), 1, 1, 0)]
    );
    // The page reports themselves carry no such column.
    let pages = q("getPageUrls", "&flat=1");
    assert!(
        pages
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r.get("nb_hits_following_search").is_none())
    );
    // A visit without searches: empty, as Matomo's.
    let none = q(
        "getPageTitlesFollowingSiteSearch",
        "&segment=pageTitle==nothing",
    );
    assert_eq!(none, json!([]));
}

/// MultiSites as Matomo's: each metric's evolution against the period
/// before (Matomo's quotient to three places, `_trend` its sign), the
/// past value scaled by the share of a current period gone by (`ratio`),
/// none for `lastN`; `getOne` without the row metadata; `enhanced=1`
/// adds conversions and keeps sites without visits; `getAllWithGroups`
/// totals the sites.
#[test]
fn multi_sites_compare_with_the_period_before() {
    let mut e = Engine::in_memory();
    e.add_site(
        SiteConfig::new(1)
            .name("Intranet")
            .main_url("http://x.org")
            .goal(hitmap::Goal::new(
                1,
                "b",
                hitmap::GoalMatch::Url,
                hitmap::PatternType::Contains,
                "/b",
            ))
            .time_zone("UTC"),
    )
    .unwrap();
    e.add_site(SiteConfig::new(2).host("y.org")).unwrap();
    let day1 = 1_717_200_000; // 2024-06-01 00:00 UTC
    let day2 = day1 + 86_400;
    let mut hits = vec![
        Hit::pageview(1, day1, "a", "https://x.org/a"),
        Hit::pageview(1, day1 + 10, "a", "https://x.org/b"),
        Hit::pageview(1, day1 + 20, "a", "https://x.org/c"),
        Hit::pageview(1, day1 + 100, "b", "https://x.org/a"),
    ];
    for v in ["a", "b", "c"] {
        hits.push(Hit::pageview(1, day2 + 50, v, "https://x.org/a"));
    }
    e.ingest(hits).unwrap();
    let at = |q: &str, now: i64| -> Value {
        serde_json::from_str(
            &e.api_at(
                &format!("{q}&format=json"),
                DateTime::from_timestamp(now, 0).unwrap(),
            )
            .unwrap(),
        )
        .unwrap()
    };
    let later = day2 + 10 * 86_400;
    let one = at(
        "method=MultiSites.getOne&idSite=1&period=day&date=2024-06-02",
        later,
    );
    // 3 visits after 2, 3 actions after 4, 3 page views after 4, no
    // revenue after 0 (the goal has no revenue).
    assert_eq!(
        one,
        json!({"nb_visits": 3, "nb_actions": 3, "nb_pageviews": 3, "revenue": 0,
               "visits_evolution": "50%", "visits_evolution_trend": 1,
               "actions_evolution": "-25%", "actions_evolution_trend": -1,
               "pageviews_evolution": "-25%", "pageviews_evolution_trend": -1,
               "revenue_evolution": "0%", "revenue_evolution_trend": 0})
    );
    let raw = at(
        "method=MultiSites.getOne&idSite=1&period=day&date=2024-06-02&format_metrics=0",
        later,
    );
    assert_eq!(raw["visits_evolution"], json!(0.5));
    assert_eq!(raw["actions_evolution"], json!(-0.25));
    // Half of 2024-06-02 gone by: the day before counts half (2 visits
    // as 1, 4 actions as 2).
    let half = at(
        "method=MultiSites.getAll&idSite=1&period=day&date=2024-06-02",
        day2 + 43_200,
    );
    assert_eq!(half[0]["ratio"], json!(0.5));
    assert_eq!(half[0]["visits_evolution"], json!("200%"));
    assert_eq!(half[0]["actions_evolution"], json!("50%"));
    assert_eq!(half[0]["previous_nb_visits"], json!(2));
    assert_eq!(half[0]["previousRange"], json!("Sat, Jun 1"));
    assert_eq!(half[0]["periodName"], json!("day"));
    assert_eq!(half[0]["label"], json!("Intranet"));
    assert_eq!(half[0]["main_url"], json!("http://x.org"));
    // Every site; site 2 has no visits: left out, but with enhanced=1.
    let all = at(
        "method=MultiSites.getAll&idSite=all&period=day&date=2024-06-01",
        later,
    );
    assert_eq!(all.as_array().unwrap().len(), 1);
    let enhanced = at(
        "method=MultiSites.getAll&idSite=all&period=day&date=2024-06-01&enhanced=1",
        later,
    );
    let rows = enhanced.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    // `pattern`: the sites whose name matches, regardless of case.
    let names = |q: &str| -> Vec<Value> {
        at(q, later)
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["label"].clone())
            .collect()
    };
    let q = "method=MultiSites.getAll&idSite=all&period=day&date=2024-06-01&enhanced=1";
    assert_eq!(names(&format!("{q}&pattern=iNTRA")), [json!("Intranet")]);
    assert_eq!(names(&format!("{q}&pattern=^2$|net$")), [json!("Intranet")]);
    assert!(names(&format!("{q}&pattern=nothing")).is_empty());
    assert!(e.api(&format!("{q}&pattern=(")).is_err());
    assert!(
        e.api("method=VisitsSummary.get&idSite=1&period=day&date=2024-06-01&pattern=x")
            .is_err()
    );
    // `showColumns` leaves a site's metadata (Matomo's are not columns),
    // the previous value of the metrics it shows only.
    let shown = at(&format!("{q}&showColumns=nb_visits"), later);
    let keys: Vec<&str> = shown[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for k in [
        "label",
        "nb_visits",
        "idsite",
        "main_url",
        "previous_nb_visits",
        "previousRange",
    ] {
        assert!(keys.contains(&k), "{k}: {keys:?}");
    }
    for k in ["nb_actions", "previous_nb_actions", "visits_evolution"] {
        assert!(!keys.contains(&k), "{k}: {keys:?}");
    }
    assert_eq!(rows[0]["nb_conversions"], json!(1));
    assert_eq!(rows[0]["nb_conversions_evolution"], json!("100%"));
    assert_eq!(rows[1]["label"], json!("y.org"));
    // lastN: no evolution (Matomo's).
    let last = at(
        "method=MultiSites.getOne&idSite=1&period=day&date=last2",
        later,
    );
    assert!(
        last.as_object()
            .unwrap()
            .values()
            .all(|d| d.get("visits_evolution").is_none()),
        "{last}"
    );
    // A range compares with as many days before it.
    let range = at(
        "method=MultiSites.getAll&idSite=1&period=range&date=2024-06-02,2024-06-03",
        later,
    );
    assert_eq!(range[0]["previous_nb_visits"], json!(2));
    assert_eq!(
        range[0]["previousRange"],
        json!("May 31\u{2009}–\u{2009}Jun 1, 2024")
    );
    let groups = at(
        "method=MultiSites.getAllWithGroups&period=day&date=2024-06-02&filter_limit=5",
        later,
    );
    assert_eq!(groups["numSites"], json!(2));
    assert_eq!(
        groups["totals"],
        json!({"nb_pageviews": 3, "nb_visits": 3, "nb_actions": 3, "revenue": 0,
               "nb_visits_lastdate": 2})
    );
    assert_eq!(groups["lastDate"], json!("2024-06-01"));
    assert_eq!(groups["sites"].as_array().unwrap().len(), 2);
    // Matomo's lastDate: the date asked, one period earlier.
    let by_month = at(
        "method=MultiSites.getAllWithGroups&period=month&date=2024-06-02",
        later,
    );
    assert_eq!(by_month["lastDate"], json!("2024-05-02"));
    // Sites by most visits first, by id only on equal visits.
    let day7 = day1 + 6 * 86_400;
    e.ingest([
        Hit::pageview(1, day7, "a", "https://x.org/a"),
        Hit::pageview(2, day7, "a", "https://y.org/a"),
        Hit::pageview(2, day7, "b", "https://y.org/a"),
    ])
    .unwrap();
    let at = |q: &str| -> Value {
        serde_json::from_str(
            &e.api_at(
                &format!("{q}&format=json"),
                DateTime::from_timestamp(later, 0).unwrap(),
            )
            .unwrap(),
        )
        .unwrap()
    };
    let listed = at("method=MultiSites.getAll&period=day&date=2024-06-07");
    let ids: Vec<&Value> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["idsite"])
        .collect();
    assert_eq!(ids, [&json!(2), &json!(1)], "{listed}");
    let err = e
        .api_at(
            "method=VisitsSummary.get&idSite=1&period=day&date=today&enhanced=1",
            now(),
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("'enhanced' does not apply"), "{err}");
    // An update without a name keeps the name.
    e.add_site(SiteConfig::new(1).time_zone("UTC")).unwrap();
    assert_eq!(e.site(1).unwrap().display_name(), "Intranet");
}

/// `API.getRowEvolution`: one row of a report over a series of periods,
/// only the report's metrics in each period's row, no row where the
/// label has none, each metric's range from its first non-zero value and
/// its change from the first period to the last; Matomo's XML map.
#[test]
fn row_evolution_follows_one_row_over_periods() {
    let e = engine();
    let q = "method=API.getRowEvolution&idSite=1&period=day&date=2024-06-01,2024-06-03&apiModule=Actions&apiAction=getPageTitles&label=B";
    let v = api(&e, &format!("{q}&format=json"));
    assert_eq!(v["label"], json!("B"));
    let data = v["reportData"].as_object().unwrap();
    assert_eq!(
        data.keys().collect::<Vec<_>>(),
        ["2024-06-01", "2024-06-02", "2024-06-03"]
    );
    assert_eq!(data["2024-06-01"][0]["nb_hits"], json!(1));
    assert!(data["2024-06-01"][0].get("label").is_none());
    assert_eq!(data["2024-06-02"], json!([]));
    let hits = &v["metadata"]["metrics"]["nb_hits"];
    assert_eq!(
        (&hits["min"], &hits["max"], &hits["change"]),
        (&json!(0), &json!(1), &json!("-100%"))
    );
    assert_eq!(v["metadata"]["dimension"], json!("Page Name"));
    // A page's row by its path: the label is its URL without the scheme.
    let page = api(
        &e,
        "method=API.getRowEvolution&idSite=1&period=day&date=last10&apiModule=Actions&apiAction=getPageUrls&label=news>/a&format=json",
    );
    assert_eq!(page["label"], json!("x.org/news/a"));
    assert_eq!(page["reportData"]["2024-06-01"][0]["nb_hits"], json!(1));
    assert_eq!(page["reportData"].as_object().unwrap().len(), 10);
    let xml = e.api_at(&format!("{q}&format=xml"), now()).unwrap();
    assert!(
        xml.contains("<reportData>\n\t\t<result date=\"2024-06-01\">\n\t\t\t<row>"),
        "{xml}"
    );
    assert!(xml.contains("<result date=\"2024-06-02\" />"), "{xml}");
    for (bad, says) in [
        ("&label=B&date=2024-06-01", "series of periods"),
        ("&date=2024-06-01,2024-06-03", "needs label"),
        ("&label=B&label=C&date=last3", "one label"),
    ] {
        let q = format!(
            "method=API.getRowEvolution&idSite=1&period=day&apiModule=Actions&apiAction=getPageTitles{bad}"
        );
        let err = e.api_at(&q, now()).unwrap_err().to_string();
        assert!(err.contains(says), "{q}: {err}");
    }
}

/// Live's visits carry an `idVisit` that the `visitId` segment finds,
/// the same in a store built in another order; `minTimestamp` keeps the
/// visits active after it; `doNotFetchActions=1` leaves the actions out.
#[test]
fn live_visits_have_ids_the_segment_finds() {
    let e = engine();
    let q = "method=Live.getLastVisitsDetails&idSite=1&period=range&date=2024-05-01,2024-06-30&format=json";
    let visits = api(&e, q);
    let ids: Vec<u64> = visits
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["idVisit"].as_u64().unwrap())
        .collect();
    assert_eq!(ids.len(), 3);
    assert!(ids.iter().all(|&id| id > 0 && id < 1 << 53), "{ids:?}");
    let mut distinct = ids.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 3);
    // The same hits in another order: the same ids.
    let mut again = Engine::in_memory();
    again
        .add_site(SiteConfig::new(1).time_zone("Europe/London").host("x.org"))
        .unwrap();
    again
        .ingest([
            Hit::pageview(1, 1_717_900_000, "a", "https://x.org/"),
            Hit::pageview(1, 1_717_200_000, "b", "https://x.org/about"),
            Hit::pageview(1, 1_717_200_030, "a", "https://x.org/news/b"),
            Hit::pageview(1, 1_717_200_000, "a", "https://x.org/news/a"),
        ])
        .unwrap();
    let other: Vec<u64> = api(&again, q)
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["idVisit"].as_u64().unwrap())
        .collect();
    assert_eq!(other, ids);
    for (i, id) in ids.iter().enumerate() {
        let one = api(&e, &format!("{q}&segment=visitId=={id}"));
        assert_eq!(one.as_array().unwrap().len(), 1);
        assert_eq!(one[0], visits[i]);
        let rest = api(&e, &format!("{q}&segment=visitId!={id}"));
        assert_eq!(rest.as_array().unwrap().len(), 2);
    }
    // Active after 2024-06-01 00:00:10 UTC: a's visits (b's ended at 00:00:00).
    let after = api(&e, &format!("{q}&minTimestamp=1717200010"));
    let who: Vec<&str> = after
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["visitorId"].as_str().unwrap())
        .collect();
    assert_eq!(who, ["a", "a"]);
    let bare = api(&e, &format!("{q}&doNotFetchActions=1"));
    assert!(bare[0].get("actionDetails").is_none());
    assert_eq!(bare[0]["actions"], visits[0]["actions"]);
    let err = e
        .api_at(
            "method=VisitsSummary.get&idSite=1&period=day&date=today&minTimestamp=5",
            now(),
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("'minTimestamp' does not apply"), "{err}");
}

/// `UserCountry.getRegion` and `getCity` as Matomo's: rows by region and
/// country, and by city, region and country; labels from the names the
/// hits carried (`Unknown` for visits without a region or city, a city's
/// region left out when its visits had none); the codes, names and flag;
/// a city's coordinates the largest its visits carried, to 3 decimals;
/// goal columns; and each row's segment selects exactly its visits.
/// Live shows the location.
#[test]
fn regions_and_cities_as_matomo_labels_them() {
    let mut e = Engine::in_memory();
    e.add_site(SiteConfig::new(1).goal(hitmap::Goal::new(
        1,
        "b",
        hitmap::GoalMatch::Url,
        hitmap::PatternType::Contains,
        "/b",
    )))
    .unwrap();
    let at = |visitor: &str, ts: i64, url: &str| {
        Hit::pageview(1, ts, visitor, format!("https://x.org{url}"))
    };
    let placed = |h: Hit, region: Option<&str>, city: Option<&str>, lat: f64, long: f64| Hit {
        country: Some(if region == Some("VA") { "us" } else { "sg" }.into()),
        region: region.map(str::to_owned),
        region_name: region.map(|_| "Virginia".to_owned()),
        city: city.map(str::to_owned),
        latitude: Some(lat),
        longitude: Some(long),
        ..h
    };
    let day = 1_717_200_000; // 2024-06-01
    e.ingest([
        placed(
            at("a", day, "/"),
            Some("VA"),
            Some("Ashburn"),
            39.0438,
            -77.4874,
        ),
        at("a", day + 60, "/b"),
        // The same city a day later, further north: the largest wins.
        placed(
            at("a2", day + 86_400, "/"),
            Some("VA"),
            Some("Ashburn"),
            39.0502,
            -77.5,
        ),
        placed(
            at("b", day + 100, "/"),
            None,
            Some("Singapore"),
            1.3667,
            103.8,
        ),
        // A region without a city.
        placed(at("d", day + 200, "/"), Some("VA"), None, 37.5, -78.0),
        at("c", day + 300, "/b"),
    ])
    .unwrap();
    let ask = |q: &str| {
        api(
            &e,
            &format!("{q}&idSite=1&period=range&date=2024-06-01,2024-06-02&format=json"),
        )
    };
    let cities = ask("method=UserCountry.getCity");
    // (label, visits) of each row.
    let visits_by_label = |rows: &Value| -> Vec<(String, u64)> {
        rows.as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["label"].as_str().unwrap().to_owned(),
                    r["nb_visits"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let rows = visits_by_label(&cities);
    assert_eq!(
        rows,
        [
            ("Ashburn, Virginia, United States".to_owned(), 2),
            ("Unknown".to_owned(), 2),
            ("Singapore, Singapore".to_owned(), 1),
        ]
    );
    let ashburn = &cities[0];
    assert_eq!(
        (&ashburn["lat"], &ashburn["long"]),
        (&json!(39.05), &json!(-77.487))
    );
    assert_eq!(
        ashburn["segment"],
        "city==Ashburn;regionCode==VA;countryCode==us"
    );
    assert_eq!(
        (
            &ashburn["city_name"],
            &ashburn["region"],
            &ashburn["region_name"]
        ),
        (&json!("Ashburn"), &json!("VA"), &json!("Virginia"))
    );
    assert_eq!(ashburn["logo"], "plugins/Morpheus/icons/dist/flags/us.png");
    assert_eq!(ashburn["nb_visits_converted"], 1);
    assert_eq!(ashburn["goals"]["idgoal=1"]["nb_conversions"], 1);
    assert_eq!(cities[1]["city"], "xx");
    assert_eq!(cities[1].get("segment"), None);
    assert_eq!(
        cities[2]["segment"],
        "city==Singapore;regionCode==;countryCode==sg"
    );
    assert_eq!(
        (&cities[2]["region"], &cities[2]["region_name"]),
        (&json!("xx"), &json!("Unknown"))
    );
    let regions = ask("method=UserCountry.getRegion");
    let rows = visits_by_label(&regions);
    assert_eq!(
        rows,
        [
            ("Virginia, United States".to_owned(), 3),
            ("Unknown".to_owned(), 2),
        ]
    );
    assert_eq!(regions[0]["segment"], "regionCode==VA;countryCode==us");
    assert_eq!(regions[0].get("lat"), None);
    // Every row's segment selects its visits.
    for r in cities
        .as_array()
        .unwrap()
        .iter()
        .chain(regions.as_array().unwrap())
    {
        let Some(segment) = r["segment"].as_str() else {
            continue;
        };
        let n = ask(&format!("method=VisitsSummary.getVisits&segment={segment}"));
        assert_eq!(n["value"], r["nb_visits"], "{segment}");
    }
    // The coordinates compare as numbers.
    assert_eq!(
        ask("method=VisitsSummary.getVisits&segment=latitude>30")["value"],
        3
    );
    assert_eq!(
        ask("method=VisitsSummary.getVisits&segment=longitude>0")["value"],
        1
    );
    // Live: the location as Matomo's Live names it.
    let live = api(
        &e,
        "method=Live.getLastVisitsDetails&idSite=1&period=day&date=2024-06-01&segment=visitorId==a&format=json",
    );
    let v = &live[0];
    assert_eq!(
        (
            &v["city"],
            &v["region"],
            &v["regionCode"],
            &v["location"],
            &v["latitude"]
        ),
        (
            &json!("Ashburn"),
            &json!("Virginia"),
            &json!("VA"),
            &json!("Ashburn, Virginia, United States"),
            &json!(39.0438)
        )
    );
}

/// Matomo's case rules for segments: `=@`, `!@`, `=^` and `=$` compare
/// without case (its SQL `LIKE`), as do `==` and `!=` on codes, which are
/// kept in lower case (`countryCode==GB`); other `==` compare exactly, so
/// a row's segment selects exactly its row.
#[test]
fn segments_compare_as_matomos_sql_does() {
    let mut e = Engine::in_memory();
    e.add_site(SiteConfig::new(1)).unwrap();
    let t = 1_717_200_000;
    let mut a = Hit::pageview(1, t, "a", "https://x.org/News/One").with_country("GB");
    a.title = Some("Opening Hours".into());
    let b = Hit::pageview(1, t + 10, "b", "https://x.org/news/two")
        .with_country("gb")
        .with_language("EN-GB");
    e.ingest([a, b]).unwrap();
    let n = |segment: &str| {
        api(
            &e,
            &format!(
                "method=VisitsSummary.getVisits&idSite=1&period=day&date=2024-06-01&segment={segment}&format=json"
            ),
        )["value"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(n("countryCode==GB"), 2);
    assert_eq!(n("countryCode!=Gb"), 0);
    assert_eq!(n("languageCode==en-GB"), 1);
    assert_eq!(n("pageUrl=@%2Fnews%2F"), 2);
    assert_eq!(n("pageUrl=^https%3A%2F%2Fx.org%2FNEWS"), 2);
    assert_eq!(n("pageUrl!@NEWS"), 0);
    assert_eq!(n("pageTitle=$hours"), 1);
    // `==` on an action's name is exact, as Matomo's lookup by hash.
    assert_eq!(n("pageTitle==opening+hours"), 0);
    assert_eq!(n("pageTitle==Opening+Hours"), 1);
    // Codes are kept in lower case: one row, its segment selects both.
    let countries = api(
        &e,
        "method=UserCountry.getCountry&idSite=1&period=day&date=2024-06-01&format=json",
    );
    assert_eq!(countries.as_array().unwrap().len(), 1);
    assert_eq!(countries[0]["segment"], "countryCode==gb");
    assert_eq!(countries[0]["nb_visits"], 2);
}

/// `VisitsSummary.getColumns`: the columns `VisitsSummary.get` answers,
/// Matomo's list (with distinct visitors and users for every period: hitmap
/// counts them exactly).
#[test]
fn visits_summary_names_its_columns() {
    let e = engine();
    let columns = api(
        &e,
        "method=VisitsSummary.getColumns&idSite=1&period=day&date=2024-06-01&format=json",
    );
    let summary = api(
        &e,
        "method=VisitsSummary.get&idSite=1&period=day&date=2024-06-01&format=json",
    );
    let keys: Vec<&str> = summary
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let names: Vec<&str> = columns
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(names, keys);
}

/// Live's visits carry Matomo's visitor-log columns: conversions (a URL
/// goal, an order and an abandoned cart), the ecommerce status, icons and
/// codes of the device, browser and system, the returning visitor's icon,
/// the pretty duration, the site's name and currency.
#[test]
fn live_visits_carry_matomos_visitor_log_columns() {
    let mut e = Engine::in_memory();
    e.add_site(
        SiteConfig::new(1)
            .name("Shop")
            .ecommerce(true)
            .goal(hitmap::Goal::new(
                1,
                "b",
                hitmap::GoalMatch::Url,
                hitmap::PatternType::Contains,
                "/b",
            )),
    )
    .unwrap();
    let t = 1_717_200_000;
    let order =
        Hit::new(1, t + 70, "a", hitmap::HitType::Order).with_conversion(hitmap::Conversion {
            order_id: Some("A-1".into()),
            revenue: Some(20.0),
            items: vec![hitmap::Item::new("S").quantity(2)],
            ..hitmap::Conversion::default()
        });
    let cart =
        Hit::new(1, t + 80, "a", hitmap::HitType::Cart).with_conversion(hitmap::Conversion {
            revenue: Some(5.0),
            items: vec![hitmap::Item::new("T")],
            ..hitmap::Conversion::default()
        });
    e.ingest([
        Hit::pageview(1, t, "a", "https://x.org/a")
            .with_device("desktop")
            .with_browser("Firefox")
            .with_os("Windows")
            .with_country("fr")
            .with_language("fr-fr"),
        Hit::pageview(1, t + 65, "a", "https://x.org/b"),
        order,
        cart,
        // A later visit of the same visitor: returning, no conversion.
        Hit::pageview(1, t + 7200, "a", "https://x.org/a"),
        Hit::new(1, t + 7210, "a", hitmap::HitType::Event).with_event(hitmap::Event {
            category: "video".into(),
            action: "play".into(),
            name: Some("intro".into()),
            value: Some(3.5),
        }),
    ])
    .unwrap();
    let visits = api(
        &e,
        "method=Live.getLastVisitsDetails&idSite=1&period=day&date=2024-06-01&format=json",
    );
    let (later, first) = (&visits[0], &visits[1]);
    let cols =
        |v: &Value, keys: &[&str]| -> Vec<Value> { keys.iter().map(|k| v[*k].clone()).collect() };
    assert_eq!(
        cols(
            first,
            &[
                "goalConversions",
                "visitConverted",
                "visitConvertedIcon",
                "visitEcommerceStatus",
                "totalEcommerceRevenue",
                "totalEcommerceConversions",
                "totalEcommerceItems",
                "totalAbandonedCartsRevenue",
                "totalAbandonedCarts",
                "totalAbandonedCartsItems",
            ]
        ),
        [
            // The URL goal's conversion (Matomo's goalConversions counts
            // goals, not orders).
            json!(1),
            json!(1),
            json!("plugins/Morpheus/images/goal.svg"),
            json!("orderedThenAbandonedCart"),
            json!(20),
            json!(1),
            json!(2),
            json!(5),
            json!(1),
            json!(1),
        ]
    );
    assert_eq!(
        cols(
            first,
            &[
                "deviceType",
                "deviceTypeIcon",
                "browserCode",
                "browserIcon",
                "operatingSystemCode",
                "operatingSystemIcon",
                "visitDurationPretty",
                "visitorTypeIcon",
                "language",
                "continent",
                "countryFlag",
                "siteName",
                "siteCurrency",
            ]
        ),
        [
            json!("Desktop"),
            json!("plugins/Morpheus/icons/dist/devices/desktop.png"),
            json!("FF"),
            json!("plugins/Morpheus/icons/dist/browsers/FF.png"),
            json!("WIN"),
            json!("plugins/Morpheus/icons/dist/os/WIN.png"),
            json!("1 min 6s"),
            Value::Null,
            json!("French"),
            json!("Europe"),
            json!("plugins/Morpheus/icons/dist/flags/fr.png"),
            json!("Shop"),
            json!("USD"),
        ]
    );
    assert_eq!(
        cols(
            later,
            &[
                "visitConverted",
                "visitEcommerceStatus",
                "visitorTypeIcon",
                "secondsSinceFirstVisit",
                "daysSinceFirstVisit"
            ]
        ),
        [
            json!(0),
            json!("none"),
            json!("plugins/Live/images/returningVisitor.png"),
            json!(7200),
            json!(0)
        ]
    );
    assert_eq!(first["secondsSinceFirstVisit"], 0);
    // Each action as Matomo's visitor log shows it.
    let action = |v: &Value, i: usize, keys: &[&str]| cols(&v["actionDetails"][i], keys);
    let page = [
        "pageviewPosition",
        "timeSpentPretty",
        "title",
        "subtitle",
        "icon",
        "iconSVG",
    ];
    assert_eq!(
        action(first, 1, &page),
        [
            json!(2),
            json!("0s"),
            Value::Null,
            json!("https://x.org/b"),
            json!(""),
            json!("plugins/Morpheus/images/action.svg")
        ]
    );
    assert_eq!(first["actionDetails"][0]["timeSpentPretty"], "1 min 5s");
    // The goal's conversion follows the page view that converted it.
    assert_eq!(
        action(
            first,
            2,
            &[
                "type", "goalName", "goalId", "revenue", "url", "title", "subtitle"
            ]
        ),
        [
            json!("goal"),
            json!("b"),
            json!(1),
            json!(0.0),
            json!("https://x.org/b"),
            json!("Goal conversion"),
            json!("b")
        ]
    );
    // Then the order and the abandoned cart, by time, as Matomo's
    // visitor log lists them.
    assert_eq!(first["actionDetails"].as_array().unwrap().len(), 5);
    assert_eq!(
        action(
            first,
            3,
            &["type", "orderId", "revenue", "items", "title", "subtitle"]
        ),
        [
            json!("ecommerceOrder"),
            json!("A-1"),
            json!(20),
            json!(2),
            json!("Ordered (A-1)"),
            json!("$20 revenue - 2 items: S)")
        ]
    );
    assert_eq!(
        first["actionDetails"][3]["itemDetails"],
        json!([{"itemSKU": "S", "itemName": "", "itemCategory": "", "price": 0, "quantity": 2, "categories": []}])
    );
    assert_eq!(
        action(first, 4, &["type", "revenue", "items", "title", "iconSVG"]),
        [
            json!("ecommerceAbandonedCart"),
            json!(5),
            json!(1),
            json!("Abandoned Cart"),
            json!("plugins/Morpheus/images/ecommerceAbandonedCart.svg")
        ]
    );
    assert_eq!(
        action(later, 1, &["title", "subtitle", "iconSVG"]),
        [
            json!("Event"),
            json!("Category: \"video', Name: \"intro\", Action: \"play\", Value: \"3.5\""),
            json!("plugins/Morpheus/images/event.svg")
        ]
    );
}

/// Matomo's device reports from the hits' brand, model and engine (as
/// Matomo's DeviceDetector names them): labels, icons, segments that
/// select each row's visits, operating systems by family, Live's fields,
/// and a month answered from its rollup as from its days.
#[test]
fn device_brands_models_engines_and_os_families() {
    let dir = crate::store::TempDir::new("device-reports");
    let mut e = Engine::open(&dir.0).unwrap();
    e.add_site(SiteConfig::new(1).host("x.org")).unwrap();
    let visit = |visitor: &str,
                 ts: i64,
                 os: &str,
                 device: &str,
                 brand: Option<&str>,
                 model: Option<&str>,
                 engine: Option<&str>| {
        let mut h = Hit::pageview(1, ts, visitor, "https://x.org/")
            .with_os(os)
            .with_device(device);
        h.device_brand = brand.map(str::to_owned);
        h.device_model = model.map(str::to_owned);
        h.browser_engine = engine.map(str::to_owned);
        h
    };
    let day = 1_717_200_000; // 2024-06-01
    e.ingest([
        visit(
            "a",
            day,
            "iOS",
            "smartphone",
            Some("Apple"),
            Some("iPhone"),
            Some("WebKit"),
        ),
        visit(
            "b",
            day + 60,
            "iOS",
            "smartphone",
            Some("Apple"),
            Some("iPhone"),
            Some("WebKit"),
        ),
        visit(
            "c",
            day + 120,
            "Mac",
            "desktop",
            Some("Apple"),
            None,
            Some("WebKit"),
        ),
        visit(
            "d",
            day + 180,
            "Ubuntu",
            "desktop",
            None,
            None,
            Some("Blink"),
        ),
        visit(
            "e",
            day + 240,
            "Debian",
            "desktop",
            None,
            None,
            Some("Gecko"),
        ),
        visit(
            "f",
            day + 300,
            "Android",
            "smartphone",
            Some("Samsung"),
            Some("Galaxy S5"),
            Some("Blink"),
        ),
        Hit::pageview(1, day + 360, "g", "https://x.org/"),
    ])
    .unwrap();
    e.seal().unwrap();
    let q = |method: &str, period: &str| {
        format!("method={method}&idSite=1&period={period}&date=2024-06-01&format=json")
    };
    let rows = |method: &str| api(&e, &q(method, "day"));
    let labels = |v: &Value| -> Vec<(String, u64)> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["label"].as_str().unwrap().to_owned(),
                    r["nb_visits"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let owned = |x: &[(&str, u64)]| -> Vec<(String, u64)> {
        x.iter().map(|(l, n)| ((*l).to_owned(), *n)).collect()
    };
    let brands = rows("DevicesDetection.getBrand");
    assert_eq!(
        labels(&brands),
        owned(&[("Apple", 3), ("Unknown", 3), ("Samsung", 1)])
    );
    assert_eq!(
        brands[0]["logo"],
        json!("plugins/Morpheus/icons/dist/brand/Apple.png")
    );
    assert_eq!(
        brands[1]["logo"],
        json!("plugins/Morpheus/icons/dist/brand/unk.png")
    );
    let models = rows("DevicesDetection.getModel");
    assert_eq!(
        labels(&models),
        owned(&[
            ("Apple - iPhone", 2),
            ("Generic Desktop", 2),
            ("Apple - Generic Desktop", 1),
            ("Samsung - Galaxy S5", 1),
            ("Unknown", 1),
        ])
    );
    assert_eq!(
        models[1]["segment"],
        json!("deviceBrand==Unknown;deviceModel==generic+desktop")
    );
    let engines = rows("DevicesDetection.getBrowserEngines");
    assert_eq!(
        labels(&engines),
        owned(&[
            ("WebKit (Safari)", 3),
            ("Blink (Chrome, Opera)", 2),
            ("Gecko (Firefox)", 1),
            ("Unknown", 1),
        ])
    );
    assert_eq!(engines[3]["segment"], json!("browserEngine=="));
    let families = rows("DevicesDetection.getOsFamilies");
    assert_eq!(
        labels(&families),
        owned(&[
            ("GNU/Linux", 2),
            ("iOS", 2),
            ("Android", 1),
            ("Mac", 1),
            ("Unknown", 1)
        ])
    );
    assert_eq!(
        families[0]["logo"],
        json!("plugins/Morpheus/icons/dist/os/LIN.png")
    );
    // Every row's segment selects exactly its visits.
    for report in [&brands, &models, &engines] {
        for row in report.as_array().unwrap() {
            let segment = row["segment"].as_str().unwrap();
            let got = api(
                &e,
                &format!("{}&segment={segment}", q("VisitsSummary.get", "day")),
            );
            assert_eq!(got["nb_visits"], row["nb_visits"], "{segment}");
        }
    }
    // Live: Matomo's names of them.
    let live = api(
        &e,
        &format!("{}&filter_limit=-1", q("Live.getLastVisitsDetails", "day")),
    );
    let of = |visitor_key: &str| {
        live.as_array()
            .unwrap()
            .iter()
            .find(|v| v["operatingSystemName"] == json!(visitor_key))
            .cloned()
            .unwrap()
    };
    let mac = of("Mac");
    assert_eq!(
        (
            &mac["deviceBrand"],
            &mac["deviceModel"],
            &mac["browserFamily"],
            &mac["browserFamilyDescription"]
        ),
        (
            &json!("Apple"),
            &json!("Generic Desktop"),
            &json!("WebKit"),
            &json!("WebKit (Safari)")
        )
    );
    // A month from its rollup answers as the days do.
    drop(e);
    let r = hitmap::Engine::open_read_only(&dir.0).unwrap();
    for method in [
        "DevicesDetection.getBrand",
        "DevicesDetection.getModel",
        "DevicesDetection.getBrowserEngines",
        "DevicesDetection.getOsFamilies",
    ] {
        let month = api(&r, &q(method, "month"));
        let range = api(
            &r,
            &format!(
                "method={method}&idSite=1&period=range&date=2024-06-01,2024-06-30&format=json"
            ),
        );
        assert_eq!(month, range, "{method}");
    }
}

/// Live's referrer extras, as Matomo's: a Google result's position (its
/// `cd` parameter), the search engine's URL and icon, the social
/// network's main URL and icon; none for a direct entry.
#[test]
fn live_shows_the_search_engine_and_social_network_of_a_visit() {
    let mut e = Engine::in_memory();
    e.add_site(SiteConfig::new(1).host("x.org")).unwrap();
    let t = 1_717_200_000;
    e.ingest([
        Hit::pageview(1, t, "a", "https://x.org/")
            .with_referrer("https://www.google.com/url?q=hitmap&cd=3&sa=t"),
        Hit::pageview(1, t + 10, "b", "https://x.org/").with_referrer("https://www.facebook.com/"),
        Hit::pageview(1, t + 20, "c", "https://x.org/"),
    ])
    .unwrap();
    let live = api(
        &e,
        "method=Live.getLastVisitsDetails&idSite=1&period=day&date=2024-06-01&format=json",
    );
    let of = |kind: &str| {
        live.as_array()
            .unwrap()
            .iter()
            .find(|v| v["referrerType"] == json!(kind))
            .cloned()
            .unwrap()
    };
    let fields = |v: &Value| {
        [
            "referrerKeywordPosition",
            "referrerSearchEngineUrl",
            "referrerSearchEngineIcon",
            "referrerSocialNetworkUrl",
            "referrerSocialNetworkIcon",
        ]
        .map(|k| v[k].clone())
    };
    assert_eq!(
        fields(&of("search")),
        [
            json!("3"),
            json!("http://google.com"),
            json!("plugins/Morpheus/icons/dist/searchEngines/google.com.png"),
            Value::Null,
            Value::Null
        ]
    );
    assert_eq!(
        fields(&of("social")),
        [
            Value::Null,
            Value::Null,
            Value::Null,
            json!("facebook.com"),
            json!("plugins/Morpheus/icons/dist/socials/facebook.com.png")
        ]
    );
    assert_eq!(fields(&of("direct")), [(); 5].map(|_| Value::Null));
}

/// Matomo's URL segments compare `==` by the action name: the URL without
/// scheme, `www.` and case (UrlNormalizationTest's `pageUrl==` values).
#[test]
fn url_segments_match_as_matomo_normalizes() {
    let mut e = Engine::in_memory();
    e.add_site(SiteConfig::new(1)).unwrap();
    let t = 1_717_200_000;
    e.ingest([
        Hit::pageview(1, t, "a", "https://wWw.example.org/foo/bar2.html"),
        Hit::pageview(1, t + 60, "a", "http://example.org/foo/other.html"),
        Hit::pageview(1, t, "b", "http://example.org/foo/bar.html"),
    ])
    .unwrap();
    let visits = |segment: &str| -> u64 {
        let q = format!(
            "method=VisitsSummary.get&idSite=1&period=day&date=2024-06-01&format=json&segment={}",
            hitmap::encode_query_value(segment)
        );
        api(&e, &q)["nb_visits"].as_u64().unwrap()
    };
    for same in [
        "pageUrl==example.org/foo/bar2.html",
        "pageUrl==https://WWw.example.org/foo/bar2.html",
        "pageUrl==http://EXAMPLE.org/Foo/Bar2.html",
        "entryPageUrl==example.org/foo/bar2.html",
        "exitPageUrl==www.example.org/foo/other.html",
    ] {
        assert_eq!(visits(same), 1, "{same}");
    }
    assert_eq!(visits("pageUrl!=example.org/foo/bar2.html"), 1);
    assert_eq!(visits("pageUrl==example.org/foo/bar2"), 0);
    // Other operators compare the URL as it is.
    assert_eq!(visits("pageUrl=@example.org/foo"), 2);
}

/// Matomo's data comparison (`compare=1`): every row, and a summary,
/// carries `comparisons`, one per series (each compared period times
/// each compared segment, the request's own first), whose numbers are
/// those of the same request asked for that segment or period alone;
/// periods compared add each later period's change from the first.
#[test]
fn comparisons_carry_each_series_numbers_and_changes() {
    let e = engine();
    let month = "idSite=1&period=month&date=2024-06-01";
    let summary = api(
        &e,
        &format!(
            "method=VisitsSummary.get&{month}&compare=1&compareSegments[]=deviceType%3D%3Dsmartphone\
             &compareDates[]=2024-06-01&comparePeriods[]=day&format_metrics=0"
        ),
    );
    let c = summary["comparisons"].as_array().unwrap();
    assert_eq!(c.len(), 4, "{summary}");
    let series = [
        ("", "month", "2024-06-01"),
        ("deviceType==smartphone", "month", "2024-06-01"),
        ("", "day", "2024-06-01"),
        ("deviceType==smartphone", "day", "2024-06-01"),
    ];
    for (row, (segment, period, date)) in c.iter().zip(series) {
        let alone = api(
            &e,
            &format!(
                "method=VisitsSummary.get&idSite=1&period={period}&date={date}&segment={}",
                segment.replace("==", "%3D%3D")
            ),
        );
        for k in [
            "nb_visits",
            "nb_actions",
            "nb_uniq_visitors",
            "bounce_count",
        ] {
            assert_eq!(row[k], alone[k], "{k} of {segment} {period}: {row}");
        }
        assert_eq!(row["comparePeriod"], period);
        assert_eq!(row["compareDate"], date);
        assert_eq!(row["idsubdatatable"], -1);
    }
    assert_eq!(c[0]["compareSegmentPretty"], "All visits");
    assert_eq!(c[1]["compareSegmentPretty"], "deviceType==smartphone");
    assert_eq!(c[1]["compareSegment"], "deviceType==smartphone");
    assert_eq!(c[0]["comparePeriodPretty"], "June 2024");
    assert_eq!(
        c[3]["compareSeriesPretty"],
        "(Saturday, June 1, 2024) (deviceType==smartphone)"
    );
    // The month has 3 visits, its first day 2: the day's change from the
    // month and back; the first period's series have none.
    assert_eq!(summary["nb_visits"], 3);
    assert_eq!(c[2]["nb_visits"], 2);
    assert_eq!(c[2]["nb_visits_change"], "-33.3%");
    assert_eq!(c[2]["nb_visits_change_from"], "+50%");
    assert!(c[0].get("nb_visits_change").is_none() && c[1].get("nb_visits_change").is_none());
    // A report's rows: each compared with the same label's row of the
    // series, zeros where the series has none, the row's segment within
    // the series' segment.
    let rows = api(
        &e,
        &format!(
            "method=Actions.getPageUrls&{month}&flat=1&compare=1\
             &compareSegments[]=deviceType%3D%3Ddesktop"
        ),
    );
    let by_label = |label: &str| -> Value {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["label"] == label)
            .cloned()
            .unwrap_or_else(|| panic!("no {label}: {rows}"))
    };
    let about = by_label("/about");
    assert_eq!(about["comparisons"][1]["nb_visits"], 1);
    // A page's segment is Matomo's from the row's value, made after the
    // comparison: the row's own, not combined.
    assert_eq!(about["comparisons"][1]["segment"], about["segment"]);
    let news = by_label("/news/a");
    assert_eq!(news["comparisons"][0]["nb_visits"], news["nb_visits"]);
    assert_eq!(news["comparisons"][1]["nb_visits"], 0);
    // An expanded folder row's comparisons name the series' subtable ids,
    // which expanded rows do not show themselves.
    let plain = api(&e, &format!("method=Actions.getPageUrls&{month}"));
    let expanded = api(
        &e,
        &format!(
            "method=Actions.getPageUrls&{month}&expanded=1&compare=1\
             &compareSegments[]=deviceType%3D%3Dsmartphone\
             &compareSegments[]=deviceType%3D%3Ddesktop"
        ),
    );
    let folder = |rows: &Value| -> Value {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["label"] == "news")
            .cloned()
            .unwrap_or_else(|| panic!("no news folder: {rows}"))
    };
    let news = folder(&expanded);
    assert!(
        news.get("idsubtable").is_none() && news.get("subtable").is_some(),
        "{news}"
    );
    assert_eq!(
        news["comparisons"][0]["idsubdatatable"],
        folder(&plain)["idsubtable"]
    );
    assert_ne!(news["comparisons"][0]["idsubdatatable"], -1);
    // A folder's segment, set before the comparison, is combined.
    assert_eq!(
        news["comparisons"][1]["segment"],
        format!(
            "deviceType==smartphone;{}",
            news["segment"].as_str().unwrap()
        )
    );
    // Its subtable's rows are compared only with the series whose folder
    // row has a subtable, and carry no changes (Matomo's are the top
    // table's); a series' row of zeros has the row's columns at 0, the
    // timing sums the row shows only when asked among them.
    let with_subtable = news["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["idsubdatatable"] != -1)
        .count();
    // The desktop visits have no news page.
    assert_eq!(
        (news["comparisons"].as_array().unwrap().len(), with_subtable),
        (3, 2),
        "{news}"
    );
    let zeros = &news["comparisons"][2];
    assert_eq!(zeros["nb_visits"], 0, "{zeros}");
    for child in news["subtable"].as_array().unwrap() {
        let c = child["comparisons"].as_array().unwrap();
        assert_eq!(c.len(), with_subtable, "{child}");
        for row in c {
            let row = row.as_object().unwrap();
            assert!(row.keys().all(|k| !k.ends_with("_change")), "{child}");
            assert!(!row.contains_key("sum_bandwidth"), "{child}");
        }
    }
    // Several periods with a longer series: a day without data is an
    // empty summary whose own comparison has Matomo's derived metrics at
    // 0; the days after the request's last carry only the longer
    // series' rows, without changes.
    let days = api(
        &e,
        "method=VisitsSummary.get&idSite=1&period=day&date=2024-06-01,2024-06-03&compare=1\
         &compareDates[]=2024-06-08,2024-06-12&comparePeriods[]=day",
    );
    let days = days.as_object().unwrap();
    assert_eq!(days.len(), 5, "{days:?}");
    let second = &days["2024-06-02"];
    assert!(second.is_object(), "an empty summary: {second}");
    let own = &second["comparisons"][0];
    assert_eq!(
        (
            &own["bounce_rate"],
            &own["nb_actions_per_visit"],
            &own["avg_time_on_site"]
        ),
        (&json!("0%"), &json!(0), &json!(0)),
        "{own}"
    );
    assert!(own.get("nb_visits").is_none(), "{own}");
    assert_eq!(second["comparisons"][1]["compareDate"], "2024-06-09");
    assert_eq!(second["comparisons"][1]["nb_visits"], 1);
    assert_eq!(second["comparisons"][1]["nb_visits_change"], "+100%");
    let after = &days["2024-06-05"];
    let only = after[0]["comparisons"].as_array().unwrap();
    assert_eq!(only.len(), 1, "{after}");
    assert_eq!(only[0]["compareDate"], "2024-06-12");
    assert!(
        only[0]
            .as_object()
            .unwrap()
            .keys()
            .all(|k| !k.ends_with("_change")),
        "{after}"
    );
    // Nothing to compare: no rows, no comparisons.
    let empty = api(
        &e,
        "method=Actions.getPageUrls&idSite=1&period=day&date=2024-05-01&compare=1\
         &compareDates[]=2024-06-01&comparePeriods[]=day",
    );
    assert_eq!(empty, json!([]));
    // What cannot be compared says why.
    for (q, says) in [
        (
            "method=VisitsSummary.get&idSite=1&period=day&date=last3&compare=1\
             &compareDates[]=2024-06-01&comparePeriods[]=day",
            "original request is multiple period",
        ),
        (
            "method=VisitsSummary.get&idSite=1&period=day&date=2024-06-01&compare=1\
             &compareDates[]=2024-06-01",
            "same number of values",
        ),
        (
            "method=Live.getLastVisitsDetails&idSite=1&period=day&date=2024-06-01&compare=1\
             &compareSegments[]=deviceType%3D%3Ddesktop",
            "does not apply to Live.getLastVisitsDetails",
        ),
    ] {
        let err = e.api_at(q, now()).unwrap_err().to_string();
        assert!(err.contains(says), "{q}: {err}");
    }
}

/// Matomo's VisitFrequency.get of several periods is a map of
/// VisitsSummary.get's under each visitor type's segment: a period
/// without returning (or new) visits has no such columns, where one
/// period alone has them at 0; its comparisons carry every processed
/// metric and add no periods after the request's last (its map is keyed
/// by `period`, not `date`).
#[test]
fn visit_frequency_of_several_periods_leaves_out_a_type_without_visits() {
    let e = engine();
    let days = api(
        &e,
        "method=VisitFrequency.get&idSite=1&period=day&date=2024-06-01,2024-06-03&format_metrics=0",
    );
    let mut checked = 0;
    for (day, row) in days.as_object().unwrap() {
        let alone = api(
            &e,
            &format!("method=VisitFrequency.get&idSite=1&period=day&date={day}&format_metrics=0"),
        );
        for suffix in ["_new", "_returning"] {
            let visits = alone[format!("nb_visits{suffix}")].as_u64().unwrap();
            let keys: Vec<&String> = match row {
                Value::Object(m) => m.keys().filter(|k| k.ends_with(suffix)).collect(),
                _ => Vec::new(),
            };
            if visits == 0 {
                assert!(keys.is_empty(), "{day}{suffix}: {row}");
                if alone["nb_visits_new"].as_u64().unwrap()
                    + alone["nb_visits_returning"].as_u64().unwrap()
                    > 0
                {
                    checked += 1;
                    assert!(
                        alone.get(format!("bounce_rate{suffix}")).is_some(),
                        "{alone}"
                    );
                }
            } else {
                assert_eq!(row[format!("nb_visits{suffix}")], visits, "{day}: {row}");
            }
        }
    }
    assert!(checked > 0, "a day with visits of one type only: {days}");
    let compared = api(
        &e,
        "method=VisitFrequency.get&idSite=1&period=day&date=2024-06-01,2024-06-02&compare=1\
         &compareDates[]=2024-06-01,2024-06-05&comparePeriods[]=day",
    );
    let compared = compared.as_object().unwrap();
    assert_eq!(compared.len(), 2, "no periods appended: {compared:?}");
    for row in compared.values() {
        let comparisons = match row {
            Value::Array(rows) => &rows[0]["comparisons"],
            row => &row["comparisons"],
        };
        for c in comparisons.as_array().unwrap() {
            for name in ["bounce_rate", "nb_actions_per_visit", "avg_time_on_site"] {
                for suffix in ["_new", "_returning"] {
                    assert!(
                        c.get(format!("{name}{suffix}")).is_some(),
                        "{name}{suffix}: {c}"
                    );
                }
            }
        }
    }
}

/// A page row whose path several hosts share names Matomo's URL: for a
/// day the URL of the most page views (on a tie the first by its stored
/// name, without scheme and `www.`), for a longer period the first day's
/// that has the row.
#[test]
fn a_page_of_several_hosts_names_matomos_url() {
    let mut e = Engine::in_memory();
    e.add_site(SiteConfig::new(1)).unwrap();
    let day = |d: i64, s: i64| 1_719_792_000 + d * 86_400 + s; // 2024-07-01 + d
    let mut hits = Vec::new();
    // The second day first, so the dictionary's first URL of /x is a.org's.
    for s in 0..3 {
        hits.push(Hit::pageview(
            1,
            day(1, s * 60),
            format!("b{s}"),
            "https://www.a.org/x",
        ));
    }
    for s in 0..2 {
        hits.push(Hit::pageview(
            1,
            day(0, s * 60),
            format!("c{s}"),
            "https://b.org/x",
        ));
    }
    hits.push(Hit::pageview(1, day(0, 600), "d", "https://www.a.org/x"));
    // A tie: one view each; c.org's comes first, a.org's name sorts first.
    hits.push(Hit::pageview(1, day(2, 0), "e", "http://c.org/y"));
    hits.push(Hit::pageview(1, day(2, 60), "f", "https://www.a.org/y"));
    // One stored name whatever the scheme and `www.`'s case: q.org's two
    // views outnumber p.org's one, shown as the name was first seen.
    hits.push(Hit::pageview(1, day(3, 0), "g", "https://wWw.q.org/z"));
    hits.push(Hit::pageview(1, day(3, 60), "h", "https://p.org/z"));
    hits.push(Hit::pageview(1, day(3, 120), "i", "http://WwW.q.org/z"));
    e.ingest(hits).unwrap();
    let url_of = |period: &str, date: &str, label: &str| -> Value {
        let rows = api(
            &e,
            &format!("method=Actions.getPageUrls&idSite=1&period={period}&date={date}&flat=1"),
        );
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["label"] == label)
            .map(|r| r["url"].clone())
            .unwrap_or_else(|| panic!("no {label}: {rows}"))
    };
    assert_eq!(url_of("day", "2024-07-01", "/x"), "https://b.org/x");
    assert_eq!(url_of("day", "2024-07-02", "/x"), "https://www.a.org/x");
    assert_eq!(url_of("month", "2024-07-01", "/x"), "https://b.org/x");
    assert_eq!(
        url_of("range", "2024-07-02,2024-07-03", "/x"),
        "https://www.a.org/x"
    );
    assert_eq!(url_of("day", "2024-07-03", "/y"), "https://www.a.org/y");
    assert_eq!(url_of("day", "2024-07-04", "/z"), "https://www.q.org/z");
    // The tree's page rows and the entry pages name it too.
    let tree = api(
        &e,
        "method=Actions.getEntryPageUrls&idSite=1&period=month&date=2024-07-01&flat=1",
    );
    let x = tree
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["label"] == "/x")
        .unwrap_or_else(|| panic!("{tree}"));
    assert_eq!(x["url"], "https://b.org/x");
}

#[test]
fn page_titles_make_a_tree_of_their_categories_as_matomos() {
    // Matomo's action_title_category_delimiter: "Shop / Boots" is folder
    // Shop, title Boots.
    let mut e = Engine::in_memory();
    e.add_site(
        SiteConfig::new(1)
            .title_category_delimiter("/")
            .goal(hitmap::Goal::manual(1, "Called")),
    )
    .unwrap();
    let day = 1_717_200_000; // 2024-06-01
    let page = |ts: i64, v: &str, title: &str| {
        Hit::pageview(1, ts, v, format!("https://x.org/{ts}")).with_title(title)
    };
    e.ingest([
        page(day, "a", "Shop/Boots"),
        page(day + 60, "a", "Shop / Hats/"),
        page(day + 120, "a", "Home"),
        page(day + 300, "b", "Shop/Boots"),
        Hit::new(1, day + 310, "b", hitmap::HitType::Goal)
            .with_conversion(hitmap::Conversion::goal(1)),
        page(day + 400, "c", "Shop/Sale/Boots"),
    ])
    .unwrap();
    let q = "idSite=1&period=day&date=2024-06-01&format=json";
    let rows = api(&e, &format!("method=Actions.getPageTitles&{q}&expanded=1"));
    let labels = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r["label"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(labels(&rows), ["Shop", "Home"]);
    let shop = &rows[0];
    // The folder sums its rows (four page views, visits counted per
    // title), its visitors exact; it selects its titles by their start.
    assert_eq!(
        (
            &shop["nb_hits"],
            &shop["nb_visits"],
            &shop["nb_uniq_visitors"]
        ),
        (&json!(4), &json!(4), &json!(3))
    );
    assert_eq!(shop["segment"], "pageTitle=^Shop");
    assert_eq!(labels(&shop["subtable"]), ["Boots", "Hats", "Sale"]);
    let boots = &shop["subtable"][0];
    assert_eq!(
        (&boots["nb_hits"], &boots["segment"]),
        (&json!(2), &json!("pageTitle==Shop%252FBoots"))
    );
    // The goal cells of a title under a folder are its own title's.
    assert_eq!(boots["goals"]["idgoal=1"]["nb_conversions"], 1);
    let sale = &shop["subtable"][2];
    assert_eq!(sale["segment"], "pageTitle=^Shop%252FSale");
    assert_eq!(labels(&sale["subtable"]), ["Boots"]);
    // The segments select the visits the rows count.
    let visits = |segment: &str| {
        api(
            &e,
            &format!("method=VisitsSummary.get&{q}&segment={segment}"),
        )["nb_visits"]
            .clone()
    };
    assert_eq!(visits("pageTitle%3D%5EShop"), 3);
    assert_eq!(visits("pageTitle%3D%3DShop%252FBoots"), 2);
    // A month reads the same tree (report rollups keep flat titles).
    let month = api(
        &e,
        "method=Actions.getPageTitles&idSite=1&period=month&date=2024-06-01&format=json&expanded=1",
    );
    assert_eq!(month, rows);
    // Flat: the titles as they are stored.
    let flat = api(&e, &format!("method=Actions.getPageTitles&{q}&flat=1"));
    assert!(labels(&flat).contains(&"Shop / Hats/".to_owned()), "{flat}");
    // Entry titles: the tree of the titles visits entered on.
    let entries = api(
        &e,
        &format!("method=Actions.getEntryPageTitles&{q}&expanded=1"),
    );
    assert_eq!(labels(&entries), ["Shop"]);
    assert_eq!(entries[0]["entry_nb_visits"], 3);
    // One title, as Matomo searches it: by its categories, trimmed; the
    // row shows its last one.
    let one = api(
        &e,
        &format!("method=Actions.getPageTitle&{q}&pageName=%20Shop%20%2F%20Boots%20"),
    );
    assert_eq!(
        (&one[0]["label"], &one[0]["nb_hits"]),
        (&json!("Boots"), &json!(2))
    );
}
