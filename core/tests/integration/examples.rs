//! The worked examples of `docs/examples.md`, with their exact answers.

use hitmap::{ActionReportKind, Engine, Query, SiteConfig};

fn engine(tz: &str) -> Engine {
    let mut e = Engine::in_memory();
    e.add_site(SiteConfig::new(1).time_zone(tz).host("x.org"))
        .unwrap();
    e
}

fn ingest(e: &mut Engine, lines: &str) -> hitmap::IngestOutcome {
    e.ingest_ndjson(lines.as_bytes()).unwrap()
}

fn summary(e: &Engine, q: Query) -> hitmap::VisitsSummary {
    e.query(&q).unwrap().visits_summary()
}

#[test]
fn e1_the_30_minute_rule_is_strict() {
    let mut e = engine("UTC");
    ingest(
        &mut e,
        r#"{"site":1,"visitor":"a","ts":1717200000,"url":"https://x.org/a"}
{"site":1,"visitor":"a","ts":1717201799,"url":"https://x.org/b"}
{"site":1,"visitor":"a","ts":1717203599,"url":"https://x.org/c"}"#,
    );
    let s = summary(&e, Query::site(1));
    assert_eq!(s.nb_visits, 2);
    assert_eq!(s.nb_uniq_visitors, 1);
    assert_eq!(s.nb_actions, 3);
    assert_eq!(s.max_actions, 2);
    assert_eq!(s.bounce_count, 1);
    assert_eq!(s.sum_visit_length, 1800);
}

const E2: &str = r#"{"site":1,"visitor":"b","ts":"2024-06-01T22:50:00Z","url":"https://x.org/a"}
{"site":1,"visitor":"b","ts":"2024-06-01T23:05:00Z","url":"https://x.org/b"}"#;

#[test]
fn e2_local_midnight_splits_a_visit() {
    let mut e = engine("Europe/London");
    ingest(&mut e, E2);
    let day1 = summary(&e, Query::site(1).day("2024-06-01"));
    let day2 = summary(&e, Query::site(1).day("2024-06-02"));
    assert_eq!(
        (day1.nb_visits, day1.bounce_count, day1.sum_visit_length),
        (1, 1, 0)
    );
    assert_eq!(
        (day2.nb_visits, day2.bounce_count, day2.sum_visit_length),
        (1, 1, 0)
    );
    let both = summary(&e, Query::site(1).range("2024-06-01", "2024-06-02"));
    assert_eq!((both.nb_visits, both.nb_uniq_visitors), (2, 1));

    let mut utc = engine("UTC");
    ingest(&mut utc, E2);
    let s = summary(&utc, Query::site(1).range("2024-06-01", "2024-06-02"));
    assert_eq!((s.nb_visits, s.sum_visit_length), (1, 901));
}

const E3: [&str; 4] = [
    r#"{"site":1,"visitor":"c","ts":1717200060,"url":"https://x.org/b"}"#,
    r#"{"site":1,"visitor":"c","ts":1717200000,"url":"https://x.org/a"}"#,
    r#"{"site":1,"visitor":"c","ts":1717200100,"type":"download","url":"https://x.org/f.pdf"}"#,
    r#"{"site":1,"visitor":"c","ts":1717200130,"url":"https://x.org/c"}"#,
];

fn e3_answers(e: &Engine) -> (u64, u64, u64, u64, Vec<(String, u64, u64, u64)>) {
    let sel = e.query(&Query::site(1)).unwrap();
    let s = sel.visits_summary();
    let a = sel.actions_summary();
    let pages = sel
        .action_report(ActionReportKind::PageUrls)
        .into_iter()
        .map(|r| {
            (
                r.label,
                r.sum_time_spent,
                r.entry_nb_visits,
                r.exit_nb_visits,
            )
        })
        .collect();
    (
        s.nb_actions,
        a.nb_pageviews,
        a.nb_downloads,
        s.sum_visit_length,
        pages,
    )
}

#[test]
fn e3_arrival_order_never_matters_and_time_goes_to_the_page_before() {
    let mut e = engine("UTC");
    ingest(&mut e, &E3.join("\n"));
    let (actions, pageviews, downloads, length, mut pages) = e3_answers(&e);
    assert_eq!((actions, pageviews, downloads, length), (4, 3, 1, 131));
    pages.sort();
    assert_eq!(
        pages,
        [
            ("/a".to_string(), 60, 1, 0),
            // Until the next page view, Matomo's rule (docs/hits.md; the
            // first contract, ../shared/spec/examples.md, stopped at the
            // download: 40).
            ("/b".to_string(), 70, 0, 0),
            ("/c".to_string(), 0, 0, 1)
        ]
    );
    let expected = e3_answers(&e);
    // Every order of the four lines, each line in a batch of its own.
    let mut order = [0usize, 1, 2, 3];
    for _ in 0..24 {
        let mut e2 = engine("UTC");
        for &i in &order {
            ingest(&mut e2, E3[i]);
        }
        assert_eq!(e3_answers(&e2), expected, "order {order:?}");
        next_permutation(&mut order);
    }
}

fn next_permutation(v: &mut [usize]) {
    let Some(i) = (1..v.len()).rev().find(|&i| v[i - 1] < v[i]) else {
        v.reverse();
        return;
    };
    let j = (i..v.len()).rev().find(|&j| v[j] > v[i - 1]).unwrap();
    v.swap(i - 1, j);
    v[i..].reverse();
}

fn e4_engine() -> Engine {
    let mut e = engine("UTC");
    ingest(
        &mut e,
        r#"{"site":1,"visitor":"p","ts":1717200000,"url":"https://x.org/news/x","device":"smartphone","country":"gb"}
{"site":1,"visitor":"p","ts":1717200010,"url":"https://x.org/about"}
{"site":1,"visitor":"q","ts":1717200000,"url":"https://x.org/teams/hr","device":"desktop","country":"gb"}
{"site":1,"visitor":"r","ts":1717200000,"url":"https://x.org/news/y","country":"fr"}"#,
    );
    e
}

fn visitors_of(e: &Engine, segment: &str) -> Vec<String> {
    let q = Query::site(1).segment(segment).unwrap();
    let sel = e.query(&q).unwrap();
    let mut out = Vec::new();
    for who in ["p", "q", "r"] {
        let narrowed = e
            .query(
                &Query::site(1)
                    .segment(&format!("{segment};visitorId=={who}"))
                    .unwrap(),
            )
            .unwrap();
        if narrowed.visits_summary().nb_visits > 0 {
            out.push(who.to_string());
        }
    }
    assert_eq!(sel.visits_summary().nb_visits as usize, out.len());
    out
}

#[test]
fn e4_segments_select_visits() {
    let e = e4_engine();
    assert_eq!(
        visitors_of(&e, "deviceType==smartphone;countryCode==gb"),
        ["p"]
    );
    assert_eq!(
        visitors_of(&e, "pageUrl=@/news,deviceType==desktop"),
        ["p", "q", "r"]
    );
    assert_eq!(visitors_of(&e, "deviceType!=smartphone"), ["q", "r"]);
    assert_eq!(visitors_of(&e, "pageUrl=@/news;pageUrl=@/about"), ["p"]);
    assert_eq!(visitors_of(&e, "pageUrl!@/news"), ["q"]);
    let gb = e
        .query(&Query::site(1).segment("countryCode==gb").unwrap())
        .unwrap();
    assert_eq!(gb.actions_summary().nb_pageviews, 3);
}

#[test]
fn e5_a_section_cuts_visits_down_to_its_actions() {
    let mut e = engine("UTC");
    e.add_site(SiteConfig::new(1).host("x.org").section("News", ["/news/"]))
        .unwrap();
    ingest(
        &mut e,
        r#"{"site":1,"visitor":"d","ts":1717200000,"url":"https://x.org/news/a"}
{"site":1,"visitor":"d","ts":1717200010,"url":"https://x.org/about"}
{"site":1,"visitor":"d","ts":1717200040,"url":"https://x.org/news/b"}
{"site":1,"visitor":"e","ts":1717200000,"url":"https://x.org/about"}
{"site":1,"visitor":"f","ts":1717200000,"url":"https://x.org/newsletter"}"#,
    );
    let all = summary(&e, Query::site(1).segment("visitorId!=f").unwrap());
    assert_eq!(
        (
            all.nb_visits,
            all.nb_actions,
            all.bounce_count,
            all.sum_visit_length
        ),
        (2, 4, 1, 41)
    );
    for section in ["/news", "News"] {
        let s = summary(&e, Query::site(1).section(section));
        assert_eq!(
            (
                s.nb_visits,
                s.nb_uniq_visitors,
                s.nb_actions,
                s.max_actions,
                s.bounce_count,
                s.sum_visit_length
            ),
            (1, 1, 2, 2, 0, 41),
            "section {section}"
        );
    }
    ingest(
        &mut e,
        r#"{"site":1,"visitor":"g","ts":1717200000,"url":"https://x.org/news"}"#,
    );
    assert_eq!(summary(&e, Query::site(1).section("/news")).nb_visits, 2);
    assert!(e.query(&Query::site(1).section("Sport")).is_err());
}

#[test]
fn e6_new_and_returning_do_not_depend_on_arrival_order() {
    let mut e = engine("UTC");
    ingest(
        &mut e,
        r#"{"site":1,"visitor":"x","ts":"2024-03-05T10:00:00Z","url":"https://x.org/"}"#,
    );
    ingest(
        &mut e,
        r#"{"site":1,"visitor":"x","ts":"2024-03-01T10:00:00Z","url":"https://x.org/"}"#,
    );
    let seg =
        |s: &str, day: &str| summary(&e, Query::site(1).day(day).segment(s).unwrap()).nb_visits;
    assert_eq!(seg("visitorType==new;visitCount==1", "2024-03-01"), 1);
    assert_eq!(seg("visitorType==returning;visitCount==2", "2024-03-05"), 1);
    assert_eq!(seg("visitorType==new", "2024-03-05"), 0);
    let f = e
        .query(&Query::site(1).range("2024-03-01", "2024-03-31"))
        .unwrap()
        .visit_frequency();
    assert_eq!((f.new.nb_visits, f.returning.nb_visits), (1, 1));
    let json = e
        .api("method=VisitFrequency.get&idSite=1&period=month&date=2024-03-01")
        .unwrap();
    assert!(
        json.contains(r#""nb_visits_new":1"#) && json.contains(r#""nb_visits_returning":1"#),
        "{json}"
    );
}

#[test]
fn e7_bad_lines_are_rejected_and_good_lines_kept() {
    let mut e = engine("UTC");
    let out = ingest(
        &mut e,
        r#"{"site":1,"visitor":"f","ts":1717200000,"url":"https://x.org/a"}
{"site":1,"visitor":"f","ts":
{"site":1,"ts":1717200020,"url":"https://x.org/b"}
{"site":"one","visitor":"f","ts":1717200030,"url":"https://x.org/c"}
{"site":1,"visitor":"f","ts":1717200040,"url":"https://x.org/d","extra":true}"#,
    );
    assert_eq!(out.accepted, 2);
    let lines: Vec<u64> = out.rejected.iter().map(|r| r.line).collect();
    assert_eq!(lines, [2, 3, 4]);
    assert!(
        out.rejected[0].reason.starts_with("not valid JSON"),
        "{:?}",
        out.rejected[0]
    );
    assert!(out.rejected[1].reason.contains("`visitor`"));
    assert!(out.rejected[2].reason.contains("`site` must be an integer"));
    let s = summary(&e, Query::site(1));
    assert_eq!((s.nb_visits, s.nb_actions, s.sum_visit_length), (1, 2, 41));
}

#[test]
fn unknown_sites_are_rejected_per_line() {
    let mut e = engine("UTC");
    let out = ingest(
        &mut e,
        r#"{"site":7,"visitor":"f","ts":1717200000,"url":"https://x.org/a"}"#,
    );
    assert_eq!(out.accepted, 0);
    assert!(
        out.rejected[0].reason.contains("add the site"),
        "{}",
        out.rejected[0].reason
    );
}

const E8: &str = r#"{"site":1,"visitor":"g","ts":1717200000,"url":"https://x.org/a","visit":10}
{"site":1,"visitor":"g","ts":1717200300,"url":"https://x.org/b","visit":11,"referrer_type":"campaign","campaign":{"name":"mail"}}
{"site":1,"visitor":"g","ts":1717209000,"url":"https://x.org/c","visit":11}
{"site":1,"visitor":"g","ts":1717200200,"url":"https://x.org/d"}"#;

#[test]
fn e8_a_recorded_visit_id_keeps_another_systems_visits() {
    // The block as docs/examples.md shows it.
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/examples.md"))
        .unwrap();
    assert!(
        doc.contains(E8),
        "docs/examples.md E8 and this test must agree"
    );
    let mut e = engine("UTC");
    assert_eq!(ingest(&mut e, E8).accepted, 4);
    let s = summary(&e, Query::site(1));
    assert_eq!((s.nb_visits, s.nb_uniq_visitors, s.nb_actions), (3, 1, 4));
    assert_eq!((s.bounce_count, s.sum_visit_length), (2, 8701));
    let types: Vec<(Option<String>, u64)> = e
        .query(&Query::site(1))
        .unwrap()
        .dimension_report(&hitmap::Dimension::ReferrerType)
        .into_iter()
        .filter(|r| r.metrics.nb_visits > 0)
        .map(|r| (r.label, r.metrics.nb_visits))
        .collect();
    assert_eq!(
        types,
        [(Some("direct".into()), 2), (Some("campaign".into()), 1)]
    );
    // Without the ids: the timeout rule alone.
    let plain: String = E8
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            let o = v.as_object_mut().unwrap();
            o.remove("visit");
            o.remove("referrer_type");
            o.remove("campaign");
            v.to_string() + "\n"
        })
        .collect();
    let mut e = engine("UTC");
    ingest(&mut e, &plain);
    assert_eq!(summary(&e, Query::site(1)).nb_visits, 2);
}

/// Time on page as Matomo's tracker keeps it (docs/hits.md): until the
/// next page view, a download's and an outlink's seconds to the page they
/// were made on, an event's counted nowhere, a recorded conversion
/// restarting the clock; the page report and the visit log agree.
#[test]
fn time_on_page_runs_to_the_next_page_view() {
    let mut e = engine("UTC");
    e.set_goal(1, hitmap::Goal::manual(1, "signup")).unwrap();
    let t = 1_717_200_000;
    let line =
        |dt: i64, rest: &str| format!(r#"{{"site":1,"visitor":"v","ts":{},{rest}}}"#, t + dt);
    let lines = [
        line(0, r#""url":"https://x.org/a""#),
        line(180, r#""type":"outlink","url":"https://y.org/""#),
        line(
            200,
            r#""type":"event","url":"https://x.org/a","event":{"category":"c","action":"play"}"#,
        ),
        line(300, r#""type":"download","url":"https://x.org/f.pdf""#),
        line(400, r#""type":"goal","goal":1,"url":"https://x.org/a""#),
        line(500, r#""url":"https://x.org/b""#),
        line(520, r#""url":"https://x.org/c""#),
    ];
    let out = ingest(&mut e, &lines.join("\n"));
    assert_eq!(out.rejected.len(), 0, "{out:?}");
    let pages: Vec<(String, u64)> = e
        .query(&Query::site(1))
        .unwrap()
        .action_report(ActionReportKind::PageUrls)
        .into_iter()
        .map(|r| (r.label, r.sum_time_spent))
        .collect();
    // /a: 180 (to the outlink) + 100 (event to download; the event's 20
    // count nowhere) + 100 (conversion to /b; download to conversion's 100
    // count nowhere); /b: 20; /c: the last.
    let want = [
        ("/a".to_string(), 380),
        ("/b".to_string(), 20),
        ("/c".to_string(), 0),
    ];
    let mut sorted = pages.clone();
    sorted.sort();
    assert_eq!(sorted, want);
    let live: serde_json::Value = serde_json::from_str(
        &e.api("method=Live.getLastVisitsDetails&idSite=1&period=day&date=2024-06-01&format=json")
            .unwrap(),
    )
    .unwrap();
    let spent: Vec<(String, u64)> = live[0]["actionDetails"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["type"] == "action")
        .map(|a| {
            (
                a["url"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("https://x.org")
                    .to_owned(),
                a["timeSpent"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(spent, want);
}
