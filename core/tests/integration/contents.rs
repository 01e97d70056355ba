//! Content tracking: Matomo's Contents plugin system test
//! (plugins/Contents/tests: `TwoVisitsWithContents`) replayed as hits,
//! its expected answers (`test_Contents__Contents.getContentNames_day`
//! and the others) compared row by row.

use chrono::{DateTime, Utc};
use hitmap::{Content, Conversion, Engine, Hit, HitType, SiteConfig};
use serde_json::Value;

use crate::store::{TempDir, open_writer};

/// 2010-01-03 11:22:33 UTC, the fixture's first visit.
const T: i64 = 1_262_517_753;

fn content(ts: i64, visitor: &str, url: &str, c: Content) -> Hit {
    Hit::new(1, ts, visitor, HitType::Content)
        .with_url(url)
        .with_conversion(Conversion::content(c))
}

/// The fixture's `trackContentImpressionsAndInteractions` for one visitor
/// starting at `t`. The PHP tracker sends `Unknown` for a piece left out
/// and nothing for an empty one.
fn visit(t: i64, v: &str) -> Vec<Hit> {
    let page = "http://www.example.org/page";
    let image = |p: &str| {
        Content::new("ImageAd")
            .piece(p)
            .target("http://www.example.com")
    };
    let text = |p: &str, target: &str| Content::new("Text Ad").piece(p).target(target);
    let download = "Click to download Piwik now";
    vec![
        Hit::pageview(1, t, v, page).with_title("Ads"),
        content(t, v, page, Content::new("ImageAd").piece("Unknown")),
        content(t, v, page, Content::new("ImageAd").piece("")),
        content(t + 120, v, page, image("/path/ad.jpg")),
        content(t + 120, v, page, image("/path/ad2.jpg")),
        content(
            t + 120,
            v,
            page,
            image("/path/ad.jpg").interaction("submit"),
        ),
        content(
            t + 180,
            v,
            page,
            text(download, "http://piwik.org/download"),
        ),
        content(t + 180, v, page, text("Click NOW", "http://piwik.org/")),
        content(
            t + 180,
            v,
            page,
            text(download, "http://piwik.org/download").interaction("click"),
        ),
        content(
            t + 180,
            v,
            page,
            text("Click NOW", "http://piwik.org/download").interaction("click"),
        ),
        content(t + 240, v, page, Content::new("Text Ad").piece(download)),
        content(
            t + 270,
            v,
            page,
            Content::new("Video Ad").piece("movie.mov"),
        ),
        content(
            t + 270,
            v,
            "http://www.example.com/de/suche?q=foo",
            Content::new("Video Ad").piece("movie.mov"),
        ),
    ]
}

fn fixture_hits() -> Vec<Hit> {
    let mut hits = visit(T, "first");
    hits.extend(visit(T + 1800, "second"));
    // A third visit without contents: no segment of contents selects it.
    hits.push(Hit::pageview(
        1,
        T + 7200,
        "third",
        "http://www.example.org/other",
    ));
    hits
}

fn api(e: &Engine, q: &str) -> Value {
    let now = DateTime::<Utc>::from_timestamp(T + 86_400 * 40, 0).unwrap();
    serde_json::from_str(&e.api_at(&format!("{q}&idSite=1&format=json"), now).unwrap()).unwrap()
}

/// (label, uniq visitors, visits, impressions, interactions, rate,
/// segment) of each row.
fn rows(v: &Value) -> Vec<(String, u64, u64, u64, u64, String, Option<String>)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["label"].as_str().unwrap().to_owned(),
                r["nb_uniq_visitors"].as_u64().unwrap(),
                r["nb_visits"].as_u64().unwrap(),
                r["nb_impressions"].as_u64().unwrap(),
                r["nb_interactions"].as_u64().unwrap(),
                r["interaction_rate"].as_str().unwrap().to_owned(),
                r.get("segment").and_then(Value::as_str).map(str::to_owned),
            )
        })
        .collect()
}

fn row(
    label: &str,
    n: [u64; 4],
    rate: &str,
    segment: Option<&str>,
) -> (String, u64, u64, u64, u64, String, Option<String>) {
    (
        label.to_owned(),
        n[0],
        n[1],
        n[2],
        n[3],
        rate.to_owned(),
        segment.map(str::to_owned),
    )
}

/// Matomo's expected `getContentNames` (day and month: the numbers are
/// the same, Matomo's month says `sum_daily_nb_uniq_visitors`).
fn expected_names() -> Vec<(String, u64, u64, u64, u64, String, Option<String>)> {
    vec![
        row("ImageAd", [8, 8, 8, 2], "25%", Some("contentName==ImageAd")),
        row(
            "Text Ad",
            [6, 6, 6, 4],
            "66.67%",
            Some("contentName==Text+Ad"),
        ),
        row(
            "Video Ad",
            [2, 2, 4, 0],
            "0%",
            Some("contentName==Video+Ad"),
        ),
    ]
}

/// Matomo's expected `getContentPieces`.
fn expected_pieces() -> Vec<(String, u64, u64, u64, u64, String, Option<String>)> {
    vec![
        row(
            "Click to download Piwik now",
            [4, 4, 4, 2],
            "50%",
            Some("contentPiece==Click+to+download+Piwik+now"),
        ),
        row(
            "/path/ad.jpg",
            [2, 2, 2, 2],
            "100%",
            Some("contentPiece==%2Fpath%2Fad.jpg"),
        ),
        row(
            "/path/ad2.jpg",
            [2, 2, 2, 0],
            "0%",
            Some("contentPiece==%2Fpath%2Fad2.jpg"),
        ),
        row(
            "Click NOW",
            [2, 2, 2, 2],
            "100%",
            Some("contentPiece==Click+NOW"),
        ),
        row("Content Piece not defined", [2, 2, 2, 0], "0%", None),
        row(
            "movie.mov",
            [2, 2, 4, 0],
            "0%",
            Some("contentPiece==movie.mov"),
        ),
        row("Unknown", [2, 2, 2, 0], "0%", Some("contentPiece==Unknown")),
    ]
}

fn engine() -> Engine {
    let mut e = Engine::in_memory();
    e.add_site(SiteConfig::new(1)).unwrap();
    e.ingest(fixture_hits()).unwrap();
    e
}

#[test]
fn contents_reports_equal_matomos_system_test() {
    let e = engine();
    for period in ["period=day&date=2010-01-03", "period=month&date=2010-01-03"] {
        let names = api(&e, &format!("method=Contents.getContentNames&{period}"));
        assert_eq!(rows(&names), expected_names(), "{period}");
        let pieces = api(&e, &format!("method=Contents.getContentPieces&{period}"));
        assert_eq!(rows(&pieces), expected_pieces(), "{period}");
    }
    // The segments of Matomo's test select the two visits with contents,
    // so the reports are the same; the third visit is not selected.
    for segment in [
        "contentName==ImageAd,contentPiece==Click%2520to%2520download%2520Piwik%2520now",
        "contentTarget==http%253A%252F%252Fwww.example.com",
        "contentInteraction==click",
    ] {
        let q = format!("period=day&date=2010-01-03&segment={segment}");
        let names = api(&e, &format!("method=Contents.getContentNames&{q}"));
        assert_eq!(rows(&names), expected_names(), "{segment}");
        let summary = api(&e, &format!("method=VisitsSummary.get&{q}"));
        assert_eq!(summary["nb_visits"], 2, "{segment}");
    }
    let none = api(
        &e,
        "method=VisitsSummary.get&period=day&date=2010-01-03&segment=contentInteraction==hover",
    );
    assert_eq!(none["nb_visits"], 0);
    let without = api(
        &e,
        "method=VisitsSummary.get&period=day&date=2010-01-03&segment=contentName!=ImageAd",
    );
    assert_eq!(without["nb_visits"], 1);
    // Contents are not actions (Matomo's Actions.get of the fixture: two
    // page views, nothing else) and the pages are the fixture's one.
    let actions = api(&e, "method=VisitsSummary.get&period=day&date=2010-01-03");
    assert_eq!(
        (
            actions["nb_visits"].as_u64(),
            actions["nb_actions"].as_u64()
        ),
        (Some(3), Some(3))
    );
    let pages = api(
        &e,
        "method=Actions.getPageUrls&period=day&date=2010-01-03&flat=1",
    );
    assert_eq!(pages.as_array().unwrap().len(), 2);
}

#[test]
fn a_contents_subtable_holds_the_other_part() {
    let e = engine();
    let names = api(
        &e,
        "method=Contents.getContentNames&period=day&date=2010-01-03&expanded=1",
    );
    let sub = |i: usize| -> Vec<(String, u64, u64, u64)> {
        names[i]["subtable"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                assert!(r.get("segment").is_none());
                (
                    r["label"].as_str().unwrap().to_owned(),
                    r["nb_visits"].as_u64().unwrap(),
                    r["nb_impressions"].as_u64().unwrap(),
                    r["nb_interactions"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let s = |l: &str, n: [u64; 3]| (l.to_owned(), n[0], n[1], n[2]);
    // ImageAd's pieces: the piece-less impressions have no row (Matomo's
    // subtable skips them); the submit counts on its piece.
    assert_eq!(
        sub(0),
        [
            s("/path/ad.jpg", [2, 2, 2]),
            s("/path/ad2.jpg", [2, 2, 0]),
            s("Unknown", [2, 2, 0]),
        ]
    );
    // Text Ad: the download piece's two targets add up.
    assert_eq!(
        sub(1),
        [
            s("Click to download Piwik now", [4, 4, 2]),
            s("Click NOW", [2, 2, 2]),
        ]
    );
    let pieces = api(
        &e,
        "method=Contents.getContentPieces&period=day&date=2010-01-03&flat=1",
    );
    let labels: Vec<&str> = pieces
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["label"].as_str().unwrap())
        .collect();
    assert!(
        labels.contains(&"Content Piece not defined - ImageAd"),
        "{labels:?}"
    );
    let flat = pieces
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["label"] == "movie.mov - Video Ad")
        .unwrap();
    assert_eq!(flat["Contents_ContentPiece"], "movie.mov");
    assert_eq!(flat["Contents_ContentName"], "Video Ad");
}

#[test]
fn contents_come_from_ndjson_survive_a_store_and_show_in_live() {
    let ndjson: String = fixture_hits()
        .iter()
        .map(|h| h.to_ndjson() + "\n")
        .collect();
    let dir = TempDir::new("contents");
    {
        let mut e = open_writer(&dir.0);
        e.add_site(SiteConfig::new(1)).unwrap();
        let report = e.ingest_ndjson(ndjson.as_bytes()).unwrap();
        assert_eq!(report.accepted, 27, "{:?}", report.rejected);
        e.seal().unwrap();
    }
    let e = Engine::open_reader(dir.0.to_str().unwrap(), hitmap::ReaderOptions::default()).unwrap();
    let names = api(
        &e,
        "method=Contents.getContentNames&period=day&date=2010-01-03",
    );
    assert_eq!(rows(&names), expected_names());
    // Live lists each content after the page view, as Matomo's visitor log.
    let live = api(
        &e,
        "method=Live.getLastVisitsDetails&period=day&date=2010-01-03&filter_limit=1&filter_offset=1",
    );
    let details = live[0]["actionDetails"].as_array().unwrap();
    assert_eq!(details.len(), 13);
    assert_eq!(details[0]["type"], "action");
    let submit = details
        .iter()
        .find(|d| d["contentInteraction"] == "submit")
        .unwrap();
    assert_eq!(submit["type"], "13");
    assert_eq!(submit["title"], "Content Interaction (submit)");
    assert_eq!(submit["subtitle"], "ImageAd - /path/ad.jpg");
    assert_eq!(submit["contentTarget"], "http://www.example.com");
    let unnamed = details
        .iter()
        .find(|d| d["contentName"] == "ImageAd" && d["contentPiece"].is_null())
        .unwrap();
    assert_eq!(
        (&unnamed["title"], &unnamed["subtitle"]),
        (&Value::from("Content Impression"), &Value::from("ImageAd"))
    );
    assert_eq!(unnamed["contentPiece"], Value::Null);
}

#[test]
fn a_content_hit_needs_its_name_and_nothing_else() {
    let mut e = Engine::in_memory();
    e.add_site(SiteConfig::new(1)).unwrap();
    let lines = [
        r#"{"site":1,"ts":1262517753,"visitor":"a","type":"content","url":"https://x.org/"}"#,
        r#"{"site":1,"ts":1262517753,"visitor":"a","type":"content","content":{"piece":"p"}}"#,
        r#"{"site":1,"ts":1262517753,"visitor":"a","type":"content","content":{"name":"n","colour":"red"}}"#,
        r#"{"site":1,"ts":1262517753,"visitor":"a","type":"content","content":{"name":"n"},"title":"T"}"#,
        r#"{"site":1,"ts":1262517753,"visitor":"a","url":"https://x.org/","content":{"name":"n"}}"#,
        r#"{"site":1,"ts":1262517753,"visitor":"a","type":"content","content":{"name":"n","piece":""}}"#,
    ]
    .join("\n");
    let report = e.ingest_ndjson(lines.as_bytes()).unwrap();
    assert_eq!(report.accepted, 1);
    let reasons: Vec<&str> = report.rejected.iter().map(|r| r.reason.as_str()).collect();
    assert!(
        reasons[0].contains("`content` with its `name`"),
        "{}",
        reasons[0]
    );
    assert!(reasons[1].contains("content.name"), "{}", reasons[1]);
    assert!(reasons[2].contains("`colour`"), "{}", reasons[2]);
    assert!(
        reasons[3].contains("`title` on a content hit"),
        "{}",
        reasons[3]
    );
    assert!(reasons[4].contains("content hits"), "{}", reasons[4]);
    // The empty piece is no piece.
    let pieces = api(
        &e,
        "method=Contents.getContentPieces&period=day&date=2010-01-03",
    );
    assert_eq!(pieces[0]["label"], "Content Piece not defined");
}

#[test]
fn contents_of_one_second_keep_one_order_whatever_their_arrival() {
    let hits = fixture_hits();
    let answer = |hits: Vec<Hit>| {
        let mut e = Engine::in_memory();
        e.add_site(SiteConfig::new(1)).unwrap();
        e.ingest(hits).unwrap();
        api(
            &e,
            "method=Live.getLastVisitsDetails&period=day&date=2010-01-03",
        )
    };
    let mut reversed = hits.clone();
    reversed.reverse();
    assert_eq!(answer(hits), answer(reversed));
}
