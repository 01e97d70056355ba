//! Matomo Reporting API parity: every method's shape on the sample data
//! (golden answers, checked by hand against Matomo's documented response
//! shapes), the generic parameters, the formats, and the methods about
//! sites, versions, bulk requests and metadata.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use hitmap::{Campaign, Engine, Event, Hit, HitType, SiteConfig};
use serde_json::{Value, json};

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_736_500_000, 0).unwrap() // 2025-01-10
}

/// A week of the sample intranet (site 1), and a small second site.
fn sample() -> Engine {
    let cfg = hitmap::sample::SampleConfig {
        days: 7,
        visitors: 300,
        ..Default::default()
    };
    let mut e = Engine::in_memory();
    e.add_site(hitmap::sample::site_config(&cfg)).unwrap();
    e.ingest(hitmap::sample::generate(&cfg)).unwrap();
    e.add_site(SiteConfig::new(3).host("shop.example")).unwrap();
    e.ingest([Hit::pageview(
        3,
        1_735_820_000,
        "s",
        "https://shop.example/cart",
    )])
    .unwrap();
    e
}

fn get(e: &Engine, q: &str) -> Value {
    let body = e
        .api_at(q, now())
        .unwrap_or_else(|err| panic!("{q}: {err}"));
    serde_json::from_str(&body).unwrap_or_else(|err| panic!("{q}: {err}: {body}"))
}

fn err(e: &Engine, q: &str) -> String {
    e.api_at(q, now()).unwrap_err().to_string()
}

fn labels(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r["label"].as_str().unwrap().to_owned())
        .collect()
}

const WEEK: &str = "idSite=1&period=range&date=2025-01-01,2025-01-07";

/// Columns of every row, as Matomo documents them for each method
/// (hitmap adds exact `nb_uniq_visitors`/`nb_users` where Matomo has them
/// only for days).
const VISIT_COLUMNS: &[&str] = &[
    "label",
    "nb_uniq_visitors",
    "nb_users",
    "nb_visits",
    "nb_actions",
    "bounce_count",
    "sum_visit_length",
    "max_actions",
    // Matomo's visit reports carry it, 0 on a site without goals.
    "nb_visits_converted",
];

fn shapes() -> Vec<(&'static str, Vec<&'static str>)> {
    let visits = |extra: &[&'static str]| {
        let mut c = VISIT_COLUMNS.to_vec();
        c.extend_from_slice(extra);
        c
    };
    // Matomo's bandwidth columns are on every action row; a page's entry
    // and exit columns only when it has entries and exits (checked
    // below); the sample has no load timings.
    let bandwidth = [
        "sum_bandwidth",
        "nb_hits_with_bandwidth",
        "min_bandwidth",
        "max_bandwidth",
        "avg_bandwidth",
    ];
    let pages = [
        &[
            "label",
            "nb_visits",
            "nb_uniq_visitors",
            "nb_hits",
            "sum_time_spent",
            "entry_nb_uniq_visitors",
            "entry_nb_visits",
            "entry_nb_actions",
            "entry_sum_visit_length",
            "entry_bounce_count",
            "exit_nb_uniq_visitors",
            "exit_nb_visits",
            "avg_page_load_time",
            "avg_time_on_page",
            "bounce_rate",
            "exit_rate",
        ][..],
        &bandwidth,
    ]
    .concat();
    let hits = [
        &[
            "label",
            "nb_visits",
            "nb_uniq_visitors",
            "nb_hits",
            "segment",
        ][..],
        &bandwidth,
    ]
    .concat();
    // A page title's row selects by its title; a page URL's shows its URL too.
    let titles = [&pages[..], &["segment"]].concat();
    let urls = [&pages[..], &["url", "segment"]].concat();
    let events = vec![
        "label",
        "nb_events",
        "nb_visits",
        "nb_uniq_visitors",
        "sum_event_value",
        "min_event_value",
        "max_event_value",
        "nb_events_with_value",
        "avg_event_value",
        "segment",
    ];
    let interest = vec!["label", "nb_visits", "segment"];
    vec![
        // Flattened, a row names its parts in the report's dimension
        // columns (Matomo's flattener).
        (
            "Actions.getPageUrls&flat=1",
            [&urls[..], &["Actions_PageUrl"]].concat(),
        ),
        ("Actions.getPageTitles", titles.clone()),
        // Matomo's entry and exit page reports: the page report's rows
        // with entries (exits).
        (
            "Actions.getEntryPageUrls&flat=1",
            [&urls[..], &["Actions_EntryPageUrl"]].concat(),
        ),
        ("Actions.getExitPageTitles", titles.clone()),
        (
            "Actions.getDownloads&flat=1",
            [&hits[..], &["Actions_DownloadUrl"]].concat(),
        ),
        (
            "Actions.getSiteSearchKeywords",
            [&hits[..], &["nb_pages_per_search"]].concat(),
        ),
        (
            "Actions.getSiteSearchNoResultKeywords",
            [&hits[..], &["nb_pages_per_search"]].concat(),
        ),
        (
            "Actions.getSiteSearchCategories",
            vec![
                "label",
                "nb_visits",
                "nb_actions",
                "nb_pages_per_search",
                "segment",
            ],
        ),
        (
            "Events.getCategory&flat=1",
            [&events[..], &["Events_EventCategory", "Events_EventAction"]].concat(),
        ),
        ("Events.getName", events.clone()),
        // A type's row carries its Matomo id (the websites under it, as
        // flat rows, do not: their shape is the websites report's).
        (
            "Referrers.getReferrerType",
            visits(&["segment", "referrer_type"]),
        ),
        ("Referrers.getAll", visits(&["referer_type", "segment"])),
        ("Referrers.getWebsites", visits(&["segment"])),
        ("Referrers.getCampaigns", visits(&["segment"])),
        (
            "VisitTime.getVisitInformationPerServerTime",
            visits(&["segment"]),
        ),
        // Matomo's weekday rows have no max_actions.
        (
            "VisitTime.getByDayOfWeek",
            visits(&["day_of_week"])
                .into_iter()
                .filter(|c| *c != "max_actions")
                .collect(),
        ),
        (
            "VisitorInterest.getNumberOfVisitsPerVisitDuration",
            interest.clone(),
        ),
        ("VisitorInterest.getNumberOfVisitsPerPage", interest.clone()),
        (
            "VisitorInterest.getNumberOfVisitsByVisitCount",
            [interest.clone(), vec!["nb_visits_percentage"]].concat(),
        ),
        (
            "VisitorInterest.getNumberOfVisitsByDaysSinceLast",
            interest.clone(),
        ),
        (
            "UserCountry.getCountry",
            visits(&["code", "logo", "segment", "logoHeight"]),
        ),
        ("UserCountry.getContinent", visits(&["code"])),
        ("UserLanguage.getLanguage", visits(&["segment"])),
        ("UserLanguage.getLanguageCode", visits(&["segment"])),
        ("DevicesDetection.getType", visits(&["segment", "logo"])),
        ("DevicesDetection.getBrowsers", visits(&["segment", "logo"])),
        ("UserId.getUsers", visits(&["segment"])),
        // Matomo's operating system families carry no segment.
        ("DevicesDetection.getOsFamilies", visits(&["logo"])),
        (
            "CustomDimensions.getCustomDimension&idDimension=1",
            visits(&["segment"]),
        ),
    ]
}

/// Compares an answer with its golden file under `tests/golden/api/`
/// (`HITMAP_BLESS=1` writes it).
fn golden(name: &str, v: &Value) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/api");
    let file = dir.join(format!("{name}.json"));
    let text = serde_json::to_string_pretty(v).unwrap() + "\n";
    if std::env::var_os("HITMAP_BLESS").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(&file, &text).unwrap();
    }
    let want = std::fs::read_to_string(&file)
        .unwrap_or_else(|err| panic!("{}: {err} (HITMAP_BLESS=1 writes it)", file.display()));
    assert_eq!(text, want, "{name} differs from {}", file.display());
}

#[test]
fn every_report_has_matomo_columns_and_its_golden_answer() {
    let e = sample();
    for (method, columns) in shapes() {
        let q = format!("method={method}&{WEEK}&filter_limit=5");
        let v = get(&e, &q);
        let rows = v.as_array().unwrap_or_else(|| panic!("{q}: {v}"));
        assert!(!rows.is_empty(), "{q}: no rows on the sample data");
        for r in rows {
            let got: BTreeSet<&str> = r
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .filter(|k| *k != "idsubtable")
                .collect();
            // Matomo's device types without visits: visits, segment, icon.
            let placeholder = r["nb_visits"] == 0 && r.get("nb_uniq_visitors").is_none();
            let want: BTreeSet<&str> = if placeholder && method == "DevicesDetection.getType" {
                ["label", "nb_visits", "segment", "logo"].into()
            } else if r["label"] == "Event Name not defined" {
                // Matomo's unnamed events' row has no segment.
                columns
                    .iter()
                    .copied()
                    .filter(|c| *c != "segment")
                    .collect()
            } else {
                let entries =
                    r.get("entry_nb_visits").is_some() || !columns.contains(&"sum_time_spent");
                let exits =
                    r.get("exit_nb_visits").is_some() || !columns.contains(&"sum_time_spent");
                columns
                    .iter()
                    .copied()
                    .filter(|c| entries || !c.starts_with("entry_"))
                    .filter(|c| exits || !c.starts_with("exit_nb_"))
                    .collect()
            };
            assert_eq!(got, want, "{q}: {r}");
        }
        golden(&method.replace(['&', '='], "_"), &v);
    }
}

#[test]
fn summaries_and_api_get() {
    let e = sample();
    let all = get(&e, &format!("method=API.get&{WEEK}"));
    let visits = get(&e, &format!("method=VisitsSummary.get&{WEEK}"));
    let actions = get(&e, &format!("method=Actions.get&{WEEK}"));
    for (k, x) in visits
        .as_object()
        .unwrap()
        .iter()
        .chain(actions.as_object().unwrap())
    {
        assert_eq!(&all[k], x, "API.get {k}");
    }
    assert!(all["nb_visits_returning"].as_u64().unwrap() > 0);
    let shown = get(
        &e,
        &format!("method=VisitsSummary.get&{WEEK}&showColumns=nb_visits,bounce_rate"),
    );
    assert_eq!(shown.as_object().unwrap().len(), 2, "{shown}");
    let hidden = get(
        &e,
        &format!("method=VisitsSummary.get&{WEEK}&hideColumns=nb_users"),
    );
    assert!(hidden.get("nb_users").is_none() && hidden.get("nb_visits").is_some());
    // As Matomo's: columns a report lacks are passed over (one list serves
    // many reports).
    let lenient = get(
        &e,
        &format!(
            "method=VisitsSummary.get&{WEEK}&hideColumns=nb_users,sum_bandwidth&showColumns=nb_visits,nb_hits,nb_users"
        ),
    );
    assert_eq!(
        lenient,
        json!({"nb_visits": shown["nb_visits"]}),
        "{lenient}"
    );
    // hideColumns applies to VisitsSummary's columns before
    // VisitFrequency.get suffixes them, and empties a one-number getter of
    // the hidden column (Matomo's OneVisitorTwoVisits expected files).
    let frequency = get(
        &e,
        &format!("method=VisitFrequency.get&{WEEK}&hideColumns=nb_users"),
    );
    assert!(frequency.get("nb_visits_new").is_some(), "{frequency}");
    assert!(
        frequency.get("nb_users_new").is_none() && frequency.get("nb_users_returning").is_none()
    );
    assert_eq!(
        get(
            &e,
            &format!("method=VisitsSummary.getUsers&{WEEK}&hideColumns=nb_users")
        ),
        json!([])
    );
    assert_ne!(
        get(&e, &format!("method=VisitsSummary.getUsers&{WEEK}")),
        json!([])
    );
    assert!(
        err(
            &e,
            &format!("method=VisitsSummary.get&{WEEK}&showColumns=nope")
        )
        .contains("no column 'nope'")
    );
}

#[test]
fn generic_filters_work_on_every_report() {
    let e = sample();
    let base = format!("method=Actions.getPageUrls&{WEEK}&flat=1");
    // Matomo's default of 100 rows; -1 for all.
    let all = get(&e, &format!("{base}&filter_limit=-1"));
    let n = all.as_array().unwrap().len();
    assert!(n > 100, "{n}");
    assert_eq!(get(&e, &base).as_array().unwrap().len(), 100);
    // filter_pattern is a case-insensitive regular expression on the label,
    // or on filter_column.
    let news = get(
        &e,
        &format!("{base}&filter_limit=-1&filter_pattern=%5E/NEWS/"),
    );
    assert!(!labels(&news).is_empty());
    assert!(labels(&news).iter().all(|l| l.starts_with("/news/")));
    let busy = get(
        &e,
        &format!(
            "{base}&filter_limit=-1&filter_column=nb_hits&filter_pattern=%5E%5B0-9%5D%7B2,%7D%24"
        ),
    );
    assert!(
        busy.as_array()
            .unwrap()
            .iter()
            .all(|r| r["nb_hits"].as_u64().unwrap() >= 10)
    );
    // filter_excludelowpop
    let popular = get(
        &e,
        &format!(
            "{base}&filter_limit=-1&filter_excludelowpop=nb_visits&filter_excludelowpop_value=5"
        ),
    );
    assert!(!popular.as_array().unwrap().is_empty());
    assert!(
        popular
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["nb_visits"].as_u64().unwrap() >= 5)
    );
    // filter_truncate: the rest summed into "Others".
    let top = get(&e, &format!("{base}&filter_truncate=3&filter_limit=-1"));
    assert_eq!(labels(&top).len(), 4);
    assert_eq!(labels(&top)[3], "Others");
    let hits: u64 = all
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["nb_hits"].as_u64().unwrap())
        .sum();
    let top_hits: u64 = top
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["nb_hits"].as_u64().unwrap())
        .sum();
    assert_eq!(hits, top_hits);
    // label, with > walking into subtables of the tree.
    let tree = get(
        &e,
        &format!("method=Actions.getPageUrls&{WEEK}&filter_limit=-1&expanded=1"),
    );
    let folder = &tree
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["label"] == "news")
        .unwrap();
    let child = folder["subtable"][0]["label"].as_str().unwrap().to_owned();
    let found = get(
        &e,
        &format!(
            "method=Actions.getPageUrls&{WEEK}&label={}",
            hitmap::encode_query_value(&format!("news>{child}"))
        ),
    );
    assert_eq!(labels(&found), std::slice::from_ref(&child));
    assert_eq!(found[0]["nb_hits"], folder["subtable"][0]["nb_hits"]);
    // expanded=0 (Matomo's default): rows name their subtable, which
    // idSubtable answers.
    let plain = get(
        &e,
        &format!("method=Actions.getPageUrls&{WEEK}&filter_limit=-1"),
    );
    let row = plain
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["label"] == "news")
        .unwrap();
    assert!(row.get("subtable").is_none());
    let id = row["idsubtable"].as_u64().unwrap();
    let sub = get(
        &e,
        &format!("method=Actions.getPageUrls&{WEEK}&idSubtable={id}&filter_limit=-1"),
    );
    assert_eq!(labels(&sub), labels(&folder["subtable"]));
    assert!(err(&e, &format!("{base}&idSubtable=99999")).contains("idSubtable=99999"));
    // Sorting by any column, both orders.
    let asc = get(
        &e,
        &format!("{base}&filter_sort_column=nb_hits&filter_sort_order=asc&filter_limit=-1"),
    );
    let hits: Vec<u64> = asc
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["nb_hits"].as_u64().unwrap())
        .collect();
    assert!(hits.windows(2).all(|w| w[0] <= w[1]));
    assert!(err(&e, &format!("{base}&filter_sort_column=nope")).contains("no column 'nope'"));
    assert!(err(&e, &format!("{base}&filter_pattern=(")).contains("filter_pattern"));
    // flat=1 on a report with subtables joins labels as Matomo does.
    let flat = get(
        &e,
        &format!("method=Events.getCategory&{WEEK}&flat=1&filter_limit=-1"),
    );
    assert!(labels(&flat).iter().all(|l| l.contains(" - ")), "{flat}");
}

#[test]
fn several_sites_are_a_map_keyed_by_site() {
    let e = sample();
    let v = get(
        &e,
        "method=VisitsSummary.get&idSite=1,3&period=day&date=2025-01-02",
    );
    assert_eq!(
        v.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["1", "3"]
    );
    assert_eq!(v["3"]["nb_visits"], json!(1));
    let all = get(
        &e,
        "method=VisitsSummary.get&idSite=all&period=day&date=last2",
    );
    assert!(all["1"]["2025-01-09"].is_array() || all["1"]["2025-01-09"].is_object());
    let csv = e
        .api_at(
            "method=VisitsSummary.get&idSite=all&period=day&date=2025-01-01,2025-01-02&format=csv",
            now(),
        )
        .unwrap();
    assert!(csv.starts_with("idSite,date,nb_uniq_visitors"), "{csv}");
    assert!(csv.contains("\n3,2025-01-02,1,"), "{csv}");
    let xml = e
        .api_at(
            "method=VisitsSummary.get&idSite=1,3&period=day&date=2025-01-02&format=xml",
            now(),
        )
        .unwrap();
    assert!(xml.contains("<result idSite=\"3\">"), "{xml}");
    assert!(
        err(
            &e,
            "method=VisitsSummary.get&idSite=1,x&period=day&date=today"
        )
        .contains("idSite")
    );
}

#[test]
fn formats_carry_the_same_numbers() {
    let e = sample();
    for method in [
        "UserCountry.getCountry",
        "Actions.getPageTitles",
        "VisitTime.getByDayOfWeek",
        "Events.getAction",
    ] {
        let q = format!("method={method}&{WEEK}&filter_limit=10");
        let json = get(&e, &q);
        let rows = json.as_array().unwrap();
        for (format, sep) in [("csv", ','), ("tsv", '\t')] {
            let text = e.api_at(&format!("{q}&format={format}"), now()).unwrap();
            let mut lines = text.lines();
            let header: Vec<&str> = lines.next().unwrap().split(sep).collect();
            let body: Vec<&str> = lines.collect();
            assert_eq!(body.len(), rows.len(), "{method} {format}");
            let visits = header.iter().position(|c| *c == "nb_visits").unwrap();
            for (line, row) in body.iter().zip(rows) {
                // Labels here hold no separator or quote.
                let cells: Vec<&str> = line.split(sep).collect();
                assert_eq!(
                    cells[visits],
                    row["nb_visits"].to_string(),
                    "{method} {format}"
                );
            }
        }
        let xml = e.api_at(&format!("{q}&format=xml"), now()).unwrap();
        for row in rows {
            assert!(
                xml.contains(&format!("<nb_visits>{}</nb_visits>", row["nb_visits"])),
                "{method}"
            );
        }
        assert_eq!(xml.matches("<row>").count(), rows.len());
    }
}

#[test]
fn date_forms_and_their_errors() {
    let e = sample();
    for date in [
        "today",
        "yesterday",
        "last3",
        "previous3",
        "2025-01-02",
        "2025-01-01,2025-01-03",
        "2025-01-01,today",
        "yesterday,today",
        "lastWeek",
        "lastMonth",
        "lastYear",
    ] {
        assert!(
            e.api_at(
                &format!("method=VisitsSummary.get&idSite=1&period=day&date={date}"),
                now()
            )
            .is_ok(),
            "{date}"
        );
    }
    let bad = err(
        &e,
        "method=VisitsSummary.get&idSite=1&period=day&date=lastweek",
    );
    assert!(bad.contains("lastweek"), "{bad}");
}

#[test]
fn custom_dimensions_by_matomo_number() {
    let e = sample();
    let configured = get(
        &e,
        "method=CustomDimensions.getConfiguredCustomDimensions&idSite=1",
    );
    let names: Vec<&str> = configured
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["department", "office", "role"]);
    assert_eq!(configured[1]["idcustomdimension"], json!(2));
    let by_id = get(
        &e,
        &format!("method=CustomDimensions.getCustomDimension&{WEEK}&idDimension=2&filter_limit=-1"),
    );
    let by_name = get(
        &e,
        &format!(
            "method=CustomDimensions.getCustomDimension&{WEEK}&dimension=office&filter_limit=-1"
        ),
    );
    assert_eq!(labels(&by_id), labels(&by_name));
    assert_eq!(by_id[0]["nb_visits"], by_name[0]["nb_visits"]);
    // dimensionN in the row segment, and as a segment.
    let seg = by_id[0]["segment"].as_str().unwrap();
    assert!(seg.starts_with("dimension2=="), "{seg}");
    let cut = get(
        &e,
        &format!(
            "method=VisitsSummary.get&{WEEK}&segment={}",
            hitmap::encode_query_value(seg)
        ),
    );
    assert_eq!(cut["nb_visits"], by_id[0]["nb_visits"]);
    assert!(
        err(
            &e,
            &format!("method=CustomDimensions.getCustomDimension&{WEEK}&idDimension=9")
        )
        .contains("idDimension=9")
    );
}

#[test]
fn every_row_segment_selects_that_row() {
    let e = sample();
    for method in [
        "UserCountry.getCountry",
        "UserCountry.getContinent",
        "UserLanguage.getLanguageCode",
        "Referrers.getReferrerType",
        "Referrers.getWebsites",
        "Referrers.getCampaigns",
        "VisitTime.getVisitInformationPerServerTime",
        "VisitorInterest.getNumberOfVisitsPerPage",
        "VisitorInterest.getNumberOfVisitsByVisitCount",
        "DevicesDetection.getBrowsers",
    ] {
        let rows = get(&e, &format!("method={method}&{WEEK}&filter_limit=4"));
        for row in rows.as_array().unwrap() {
            let Some(seg) = row["segment"].as_str() else {
                continue;
            };
            let cut = get(
                &e,
                &format!(
                    "method=VisitsSummary.get&{WEEK}&segment={}",
                    hitmap::encode_query_value(seg)
                ),
            );
            let want = row["nb_visits"].as_u64().unwrap();
            let got = cut.get("nb_visits").and_then(Value::as_u64).unwrap_or(0);
            assert_eq!(got, want, "{method} {seg}");
        }
    }
}

/// Hits carrying the fields the sample does not: versions, resolution,
/// local hour, search engines with keywords, AI assistants, campaigns.
fn devices() -> Engine {
    let mut e = Engine::in_memory();
    e.add_site(SiteConfig::new(1).host("x.org")).unwrap();
    let t = 1_735_819_200; // 2025-01-02 12:00 UTC
    let mut a = Hit::pageview(1, t, "a", "https://x.org/")
        .with_browser("Chrome")
        .with_os("Windows");
    a.browser_version = Some("120.0".into());
    a.os_version = Some("10".into());
    a.resolution = Some("1920x1080".into());
    a.local_hour = Some(13);
    let mut b = Hit::pageview(
        1,
        t + 60,
        "b",
        "https://x.org/?mtm_campaign=Spring&mtm_kwd=tulips&mtm_source=mail",
    )
    .with_browser("Firefox");
    b.resolution = Some("390x844".into());
    let c = Hit::pageview(1, t + 120, "c", "https://x.org/a")
        .with_referrer("https://www.google.com/search?q=opening+hours");
    let d = Hit::pageview(1, t + 180, "d", "https://x.org/b").with_referrer("https://chatgpt.com/");
    let mut ev = Hit::new(1, t + 30, "a", HitType::Event);
    ev.event = Some(Event {
        category: "video".into(),
        action: "play".into(),
        name: Some("intro".into()),
        value: Some(3.5),
    });
    let mut camp = Hit::pageview(1, t + 240, "e", "https://x.org/");
    camp.referrer_type = Some("campaign".into());
    camp.campaign = Some(Campaign {
        name: Some("autumn".into()),
        source: Some("news".into()),
        ..Campaign::default()
    });
    e.ingest([a, b, c, d, ev, camp]).unwrap();
    e
}

#[test]
fn versions_resolution_local_time_and_referrers() {
    let e = devices();
    let day = "idSite=1&period=day&date=2025-01-02";
    let q = |m: &str| get(&e, &format!("method={m}&{day}"));
    let browsers = q("DevicesDetection.getBrowserVersions");
    assert_eq!(labels(&browsers), ["Unknown", "Chrome 120.0", "Firefox"]);
    // Matomo's: the browser by its DeviceDetector code, and its icon.
    assert_eq!(
        browsers[1]["segment"],
        json!("browserCode==CH;browserVersion==120.0")
    );
    assert_eq!(
        browsers[1]["logo"],
        json!("plugins/Morpheus/icons/dist/browsers/CH.png")
    );
    assert_eq!(
        browsers[0]["logo"],
        json!("plugins/Morpheus/icons/dist/browsers/UNK.png")
    );
    // Every versions row's segment selects its visits; the codes compare
    // without case, as Matomo's.
    let visits = |segment: &str| {
        let v = get(
            &e,
            &format!(
                "method=VisitsSummary.get&{day}&segment={}",
                hitmap::encode_query_value(segment)
            ),
        );
        v.get("nb_visits").and_then(Value::as_u64).unwrap_or(0)
    };
    for method in [
        "DevicesDetection.getBrowserVersions",
        "DevicesDetection.getOsVersions",
        "DevicesDetection.getBrowsers",
    ] {
        for row in q(method).as_array().unwrap() {
            if let Some(segment) = row["segment"].as_str() {
                assert_eq!(
                    visits(segment),
                    row["nb_visits"].as_u64().unwrap(),
                    "{segment}"
                );
            }
        }
    }
    assert_eq!(visits("browserCode==ch"), visits("browserName==Chrome"));
    assert!(visits("browserCode==CH") > 0);
    assert_eq!(
        visits("operatingSystemCode=@wi"),
        visits("operatingSystemName==Windows")
    );
    assert_eq!(visits("browserCode!=CH"), visits("browserName!=Chrome"));
    // Suggested values: the codes of the stored names, each selecting
    // its browser's visits.
    let codes = get(
        &e,
        "method=API.getSuggestedValuesForSegment&idSite=1&segmentName=browserCode",
    );
    assert_eq!(codes, json!(["CH", "FF"]));
    assert_eq!(visits("browserCode==FF"), visits("browserName==Firefox"));
    let systems = get(
        &e,
        "method=API.getSuggestedValuesForSegment&idSite=1&segmentName=operatingSystemCode",
    );
    assert_eq!(systems, json!(["WIN"]));
    assert_eq!(
        labels(&q("DevicesDetection.getOsVersions"))[1],
        "Windows 10"
    );
    let resolutions = labels(&q("Resolution.getResolution"));
    // Matomo's placeholder for no resolution.
    assert_eq!(resolutions, ["unknown", "1920x1080", "390x844"]);
    let local = q("VisitTime.getVisitInformationPerLocalTime");
    let one_pm = local
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["label"] == "13")
        .unwrap();
    assert_eq!(one_pm["nb_visits"], json!(1));
    assert_eq!(
        local.as_array().unwrap().last().unwrap()["label"],
        json!("Unknown")
    );
    let engines = get(
        &e,
        &format!("method=Referrers.getSearchEngines&{day}&expanded=1"),
    );
    assert_eq!(engines[0]["label"], json!("Google"));
    assert_eq!(engines[0]["subtable"][0]["label"], json!("opening hours"));
    assert_eq!(labels(&q("Referrers.getAIAssistants")), ["ChatGPT"]);
    let campaigns = get(
        &e,
        &format!("method=Referrers.getCampaigns&{day}&expanded=1"),
    );
    assert_eq!(labels(&campaigns), ["autumn", "spring"]);
    // Matomo's getAll merges the types' subtables: no direct entries.
    let all = q("Referrers.getAll");
    let rows = all.as_array().unwrap();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r["referer_type"] != json!(1)), "{all}");
    assert!(rows.iter().all(|r| r["label"] != "Direct Entry"));
    // The new segment fields.
    for (segment, visits) in [
        ("browserVersion==120.0", 1),
        ("operatingSystemVersion==10", 1),
        ("resolution=@x8", 1),
        ("visitLocalHour>=13", 1),
        ("visitServerHour==12", 5),
        ("referrerName==Google", 1),
        ("referrerKeyword==opening hours", 1),
        ("campaignName==spring", 1),
        ("campaignKeyword==tulips", 1),
        ("campaignSource==mail,campaignSource==news", 2),
        ("campaignMedium!=", 0),
        ("eventName==intro", 1),
        ("eventValue>3", 1),
        ("continentCode==eur", 0),
    ] {
        let v = get(
            &e,
            &format!(
                "method=VisitsSummary.get&{day}&segment={}",
                hitmap::encode_query_value(segment)
            ),
        );
        let got = v.get("nb_visits").and_then(Value::as_u64).unwrap_or(0);
        assert_eq!(got, visits, "{segment}");
    }
    let events = get(
        &e,
        &format!("method=Events.getCategory&{day}&expanded=1&format_metrics=0"),
    );
    assert_eq!(events[0]["label"], json!("video"));
    assert_eq!(events[0]["avg_event_value"], json!(3.5));
    assert_eq!(events[0]["subtable"][0]["label"], json!("play"));
    assert!(
        err(
            &e,
            &format!("method=DevicesDetection.getBrowserFamilies&{day}")
        )
        .contains("not supported")
    );
}

#[test]
fn live_visits_and_the_visitor_profile() {
    let e = devices();
    let day = "idSite=1&period=day&date=2025-01-02";
    let visits = get(
        &e,
        &format!("method=Live.getLastVisitsDetails&{day}&filter_limit=2"),
    );
    let visits = visits.as_array().unwrap();
    assert_eq!(visits.len(), 2);
    assert_eq!(visits[0]["visitorId"], json!("e"), "newest first");
    assert_eq!(visits[0]["referrerType"], json!("campaign"));
    assert_eq!(visits[1]["actionDetails"][0]["type"], json!("action"));
    let a = get(
        &e,
        &format!("method=Live.getLastVisitsDetails&{day}&segment=visitorId%3D%3Da"),
    );
    let actions = a[0]["actionDetails"].as_array().unwrap();
    assert_eq!(actions[1]["type"], json!("event"));
    assert_eq!(actions[1]["eventValue"], json!(3.5));
    assert_eq!(a[0]["browserVersion"], json!("120.0"));
    let profile = get(&e, "method=Live.getVisitorProfile&idSite=1&visitorId=a");
    assert_eq!(profile["totalVisits"], json!(1));
    assert_eq!(profile["totalActions"], json!(2));
    assert!(
        err(
            &e,
            &format!("method=Live.getLastVisitsDetails&{day}&filter_pattern=x")
        )
        .contains("filter_pattern")
    );
}

#[test]
fn installation_methods() {
    let e = sample();
    assert_eq!(
        get(&e, "method=API.getMatomoVersion"),
        json!({"value": hitmap::MATOMO_API_VERSION})
    );
    let sites = get(&e, "method=SitesManager.getSitesWithAtLeastViewAccess");
    assert_eq!(sites.as_array().unwrap().len(), 2);
    assert_eq!(sites[1]["main_url"], json!("https://shop.example"));
    assert_eq!(
        get(&e, "method=SitesManager.getSiteFromId&idSite=3")["idsite"],
        json!(3)
    );
    assert_eq!(get(&e, "method=SitesManager.getAllSitesId"), json!([1, 3]));
    let multi = get(&e, "method=MultiSites.getAll&period=day&date=2025-01-02");
    let rows = multi.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let one = get(
        &e,
        "method=MultiSites.getOne&idSite=3&period=day&date=2025-01-02",
    );
    assert_eq!(one["nb_pageviews"], json!(1));
    // Bulk: each answer in order, a failing one in place.
    let bulk = get(
        &e,
        &format!(
            "method=API.getBulkRequest&urls[0]={}&urls[1]={}",
            hitmap::encode_query_value(
                "method=VisitsSummary.get&idSite=3&period=day&date=2025-01-02"
            ),
            hitmap::encode_query_value("method=Nope.get&idSite=3&period=day&date=2025-01-02"),
        ),
    );
    assert_eq!(bulk[0]["nb_visits"], json!(1));
    assert_eq!(bulk[1]["result"], json!("error"));
    let meta = get(&e, "method=API.getReportMetadata&idSites=1");
    let countries = meta
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["module"] == "UserCountry" && r["action"] == "getCountry")
        .unwrap();
    assert_eq!(countries["metrics"]["nb_visits"], json!("Visits"));
    let processed = get(
        &e,
        &format!("method=API.getProcessedReport&{WEEK}&apiModule=UserCountry&apiAction=getCountry"),
    );
    let data = processed["reportData"].as_array().unwrap();
    let total: u64 = data.iter().map(|r| r["nb_visits"].as_u64().unwrap()).sum();
    assert_eq!(processed["reportTotal"]["nb_visits"], json!(total as f64));
    assert_eq!(processed["metadata"]["name"], json!("Country"));
}

/// Answers that are not row tables (or whose rows vary in shape), each
/// compared whole with its golden file.
#[test]
fn other_methods_have_their_golden_answers() {
    let e = sample();
    for (name, q) in [
        (
            "Actions.getPageUrls",
            format!("method=Actions.getPageUrls&{WEEK}&filter_limit=5"),
        ),
        (
            "Actions.getPageUrls_expanded",
            format!(
                "method=Actions.getPageUrls&{WEEK}&filter_limit=2&expanded=1&filter_sort_column=label&filter_sort_order=asc"
            ),
        ),
        (
            "Actions.getOutlinks",
            format!("method=Actions.getOutlinks&{WEEK}&filter_limit=3&expanded=1"),
        ),
        (
            "Actions.getPageUrl",
            format!(
                "method=Actions.getPageUrl&{WEEK}&pageUrl=https%3A%2F%2Fintranet.example.org%2F"
            ),
        ),
        (
            "Events.getAction",
            format!("method=Events.getAction&{WEEK}&expanded=1"),
        ),
        (
            "Referrers.getSearchEngines",
            format!("method=Referrers.getSearchEngines&{WEEK}&expanded=1"),
        ),
        (
            "VisitsSummary.get",
            "method=VisitsSummary.get&idSite=1&period=day&date=2025-01-01,2025-01-03".to_owned(),
        ),
        (
            "VisitFrequency.get",
            format!("method=VisitFrequency.get&{WEEK}"),
        ),
        ("API.get", format!("method=API.get&{WEEK}")),
        (
            "Live.getLastVisitsDetails",
            format!("method=Live.getLastVisitsDetails&{WEEK}&filter_limit=2"),
        ),
        (
            "MultiSites.getAll",
            "method=MultiSites.getAll&period=week&date=2025-01-02".to_owned(),
        ),
        (
            "SitesManager.getSitesWithAtLeastViewAccess",
            "method=SitesManager.getSitesWithAtLeastViewAccess".to_owned(),
        ),
        (
            "API.getProcessedReport",
            format!(
                "method=API.getProcessedReport&{WEEK}&apiModule=VisitorInterest&apiAction=getNumberOfVisitsPerPage"
            ),
        ),
        (
            "API.getReportMetadata",
            "method=API.getReportMetadata".to_owned(),
        ),
        (
            "Actions.getEntryPageTitles",
            format!("method=Actions.getEntryPageTitles&{WEEK}&filter_limit=3"),
        ),
        (
            "Actions.getExitPageUrls",
            format!("method=Actions.getExitPageUrls&{WEEK}&filter_limit=3"),
        ),
        (
            "Actions.getPageTitle",
            format!("method=Actions.getPageTitle&{WEEK}&pageName=News%20story%202"),
        ),
        (
            "Referrers.getKeywords",
            format!("method=Referrers.getKeywords&{WEEK}&expanded=1"),
        ),
        (
            "CustomDimensions.getConfiguredCustomDimensions",
            "method=CustomDimensions.getConfiguredCustomDimensions&idSite=1".to_owned(),
        ),
        (
            "Live.getVisitorProfile",
            "method=Live.getVisitorProfile&idSite=1&visitorId=7812160ce497cb35&filter_limit=1"
                .to_owned(),
        ),
        (
            "MultiSites.getOne",
            "method=MultiSites.getOne&idSite=3&period=day&date=2025-01-02".to_owned(),
        ),
        (
            "SitesManager.getSiteFromId",
            "method=SitesManager.getSiteFromId&idSite=3".to_owned(),
        ),
        (
            "SitesManager.getAllSitesId",
            "method=SitesManager.getAllSitesId".to_owned(),
        ),
        (
            "API.getMatomoVersion",
            "method=API.getMatomoVersion".to_owned(),
        ),
        (
            "API.getBulkRequest",
            format!(
                "method=API.getBulkRequest&urls[0]={}&urls[1]={}",
                hitmap::encode_query_value(
                    "method=UserCountry.getContinent&idSite=1&period=day&date=2025-01-02"
                ),
                hitmap::encode_query_value(
                    "method=DevicesDetection.getModel&idSite=1&period=day&date=2025-01-02"
                ),
            ),
        ),
    ] {
        golden(name, &get(&e, &q));
    }
}

#[test]
fn explicit_dimension_ids_name_dimensions_as_matomo_did() {
    let mut e = Engine::in_memory();
    e.add_site(
        SiteConfig::new(1)
            .dimension_with_id("team", 7)
            .dimension("office"),
    )
    .unwrap();
    let mut h = Hit::pageview(1, 1_735_819_200, "a", "https://x.org/");
    h.dims = vec![
        ("team".into(), "red".into()),
        ("office".into(), "Paris".into()),
    ];
    e.ingest([h]).unwrap();
    let configured = get(
        &e,
        "method=CustomDimensions.getConfiguredCustomDimensions&idSite=1",
    );
    let ids: Vec<(u64, &str)> = configured
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["idcustomdimension"].as_u64().unwrap(),
                d["name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(ids, [(7, "team"), (8, "office")]);
    let day = "idSite=1&period=day&date=2025-01-02";
    let rows = get(
        &e,
        &format!("method=CustomDimensions.getCustomDimension&{day}&idDimension=8"),
    );
    assert_eq!(labels(&rows), ["Paris"]);
    assert_eq!(rows[0]["segment"], json!("dimension8==Paris"));
    let cut = get(
        &e,
        &format!("method=VisitsSummary.get&{day}&segment=dimension7%3D%3Dred"),
    );
    assert_eq!(cut["nb_visits"], json!(1));
    assert!(
        err(
            &e,
            &format!("method=CustomDimensions.getCustomDimension&{day}&idDimension=1")
        )
        .contains("7 = team")
    );
    assert!(
        e.add_site(
            SiteConfig::new(2)
                .dimension_with_id("a", 3)
                .dimension_with_id("b", 3)
        )
        .unwrap_err()
        .to_string()
        .contains("distinct")
    );
}

#[test]
fn codes_in_any_case_keep_their_row_segments_exact() {
    let mut e = Engine::in_memory();
    e.add_site(SiteConfig::new(1)).unwrap();
    let t = 1_735_819_200;
    e.ingest([
        Hit::pageview(1, t, "a", "https://x.org/")
            .with_country("GB")
            .with_language("en-GB"),
        Hit::pageview(1, t, "b", "https://x.org/")
            .with_country("gb")
            .with_language("en-gb"),
        Hit::pageview(1, t, "c", "https://x.org/")
            .with_country("de")
            .with_language("de"),
    ])
    .unwrap();
    let day = "idSite=1&period=day&date=2025-01-02";
    for method in [
        "UserCountry.getCountry",
        "UserLanguage.getLanguageCode",
        "UserLanguage.getLanguage",
        // (Matomo's continent rows carry no segment.)
    ] {
        let rows = get(&e, &format!("method={method}&{day}"));
        let mut total = 0;
        for row in rows.as_array().unwrap() {
            let seg = row["segment"].as_str().unwrap();
            let cut = get(
                &e,
                &format!(
                    "method=VisitsSummary.get&{day}&segment={}",
                    hitmap::encode_query_value(seg)
                ),
            );
            assert_eq!(cut["nb_visits"], row["nb_visits"], "{method} {seg}");
            total += row["nb_visits"].as_u64().unwrap();
        }
        assert_eq!(total, 3, "{method}");
    }
    let countries = get(&e, &format!("method=UserCountry.getCountry&{day}"));
    assert!(
        countries
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["code"] == "gb" || r["code"] == "de")
    );
}

/// Golden answers for the fields the sample does not carry.
#[test]
fn versions_resolution_and_local_time_have_their_golden_answers() {
    let e = devices();
    for method in [
        "DevicesDetection.getBrowserVersions",
        "DevicesDetection.getOsVersions",
        "Resolution.getResolution",
        "VisitTime.getVisitInformationPerLocalTime",
        "Referrers.getAIAssistants",
        "Referrers.getCampaigns",
        "Events.getName",
    ] {
        let v = get(
            &e,
            &format!("method={method}&idSite=1&period=day&date=2025-01-02&expanded=1"),
        );
        golden(&format!("devices-{method}"), &v);
    }
}
