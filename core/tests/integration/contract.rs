//! The input contract shipped in the repository (docs/hits.md and
//! docs/hit.schema.json) agrees with itself and with the engine.

use std::collections::BTreeSet;
use std::path::Path;

use hitmap::{Campaign, Event, Hit, HitType};
use serde_json::Value;

fn docs(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../docs")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn schema_fields() -> BTreeSet<String> {
    let schema: Value = serde_json::from_str(&docs("hit.schema.json")).unwrap();
    schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

#[test]
fn the_field_table_and_the_schema_name_the_same_fields() {
    let md = docs("hits.md");
    let table: BTreeSet<String> = md
        .lines()
        .skip_while(|l| !l.starts_with("## Hit record"))
        .take_while(|l| !l.starts_with("- "))
        .filter_map(|l| l.strip_prefix("| `")?.split('`').next().map(str::to_owned))
        .collect();
    assert_eq!(table, schema_fields());
}

#[test]
fn every_field_the_engine_writes_is_in_the_schema() {
    let hit = Hit::new(1, 1_717_200_000, "v", HitType::Event)
        .with_url("https://x.org/")
        .with_title("t")
        .with_referrer("https://r.org/")
        .with_user("u")
        .with_device("desktop")
        .with_browser("Firefox")
        .with_os("Linux")
        .with_country("gb")
        .with_language("en-gb")
        .with_search("k")
        .with_event(Event {
            category: "c".into(),
            action: "a".into(),
            name: Some("n".into()),
            value: Some(1.5),
        })
        .with_dim("department", "HR")
        .with_visit("17")
        .with_referrer_type("search")
        .with_referrer_name("Google")
        .with_referrer_keyword("hitmap")
        .with_campaign(Campaign {
            name: Some("spring".into()),
            source: Some("newsletter".into()),
            medium: Some("email".into()),
            keyword: Some("k".into()),
            content: Some("banner".into()),
            id: Some("42".into()),
        });
    let hit = Hit {
        browser_version: Some("120.0".into()),
        os_version: Some("10".into()),
        resolution: Some("1920x1080".into()),
        local_hour: Some(14),
        new_visit: true,
        region: Some("VA".into()),
        region_name: Some("Virginia".into()),
        city: Some("Ashburn".into()),
        latitude: Some(39.0438),
        longitude: Some(-77.4874),
        device_brand: Some("Apple".into()),
        device_model: Some("iPhone".into()),
        browser_engine: Some("WebKit".into()),
        plugins: Some("cookie,flash".into()),
        ..hit
    };
    // The conversion fields, on the conversions that carry them.
    let goal = Hit::new(1, 1_717_200_000, "v", HitType::Goal)
        .with_conversion(hitmap::Conversion::goal(2).revenue(3.5));
    let order =
        Hit::new(1, 1_717_200_001, "v", HitType::Order).with_conversion(hitmap::Conversion {
            order_id: Some("A-1".into()),
            revenue: Some(20.0),
            subtotal: Some(15.0),
            tax: Some(3.0),
            shipping: Some(4.0),
            discount: Some(2.0),
            items: vec![
                hitmap::Item::new("S")
                    .name("n")
                    .category("c")
                    .price(5.0)
                    .quantity(3),
            ],
            ..hitmap::Conversion::default()
        });
    // Load timings and bandwidth, on a page view (timings belong to page
    // views only).
    let viewed = Hit::pageview(1, 1_717_200_100, "w", "https://x.org/p").with_perf(hitmap::Perf {
        times: [Some(26), Some(58), Some(155), Some(255), Some(0), Some(90)],
        bandwidth: Some(5_609),
    });
    // A site search's category and result count.
    let searched = Hit::new(1, 1_717_200_200, "w", HitType::Search)
        .with_url("https://x.org/?q=shoes")
        .with_search("shoes")
        .with_search_category("Products")
        .with_search_count(0);
    // A content interaction.
    let clicked = Hit::new(1, 1_717_200_300, "w", HitType::Content)
        .with_url("https://x.org/p")
        .with_conversion(hitmap::Conversion::content(
            hitmap::Content::new("Banner")
                .piece("p")
                .target("https://x.org/t")
                .interaction("click"),
        ));
    let mut written = BTreeSet::new();
    for h in [&hit, &goal, &order, &viewed, &searched, &clicked] {
        let v: Value = serde_json::from_str(&h.to_ndjson()).unwrap();
        written.extend(v.as_object().unwrap().keys().cloned());
    }
    assert_eq!(written, schema_fields());
    // And what it writes, it reads back.
    let mut e = hitmap::Engine::in_memory();
    e.add_site(hitmap::SiteConfig::new(1)).unwrap();
    assert_eq!(
        e.ingest_ndjson(hit.to_ndjson().as_bytes())
            .unwrap()
            .accepted,
        1
    );
    // Every field comes back out of the store as it went in.
    // (A keyword belongs to search hits only.)
    let back = e.export_hits(1, "2024-06-01", "2024-06-01").unwrap();
    assert_eq!(
        back,
        vec![Hit {
            search: None,
            ..hit
        }]
    );
    for c in [&goal, &order, &viewed, &searched] {
        assert_eq!(
            e.ingest_ndjson(c.to_ndjson().as_bytes()).unwrap().accepted,
            1
        );
    }
    // The conversions, with no action near, are a visit of their own.
    let back = e.export_hits(1, "2024-06-01", "2024-06-01").unwrap();
    assert_eq!(back.len(), 5, "{back:?}");
    assert!(back.contains(&goal) && back.contains(&order), "{back:?}");
    assert!(back.contains(&viewed), "{back:?}");
    assert!(back.contains(&searched), "{back:?}");
    // They belong to search hits, and a count is a whole number from 0.
    for (line, why) in [
        (
            r#"{"site":1,"ts":1,"visitor":"v","url":"https://x.org/","search_category":"c"}"#,
            "belongs to search hits",
        ),
        (
            r#"{"site":1,"ts":1,"visitor":"v","type":"search","search":"k","search_count":-1}"#,
            "search_count",
        ),
        (
            r#"{"site":1,"ts":1,"visitor":"v","type":"search","search":"k","search_count":4294967296}"#,
            "from 0 to 4294967295",
        ),
        (
            r#"{"site":1,"ts":1,"visitor":"v","url":"https://x.org/","plugins":"flash,shockwave"}"#,
            "unknown plugin \"shockwave\"",
        ),
    ] {
        let out = e.ingest_ndjson(line.as_bytes()).unwrap();
        assert_eq!(out.accepted, 0, "{line}");
        assert!(
            out.rejected[0].reason.contains(why),
            "{line}: {:?}",
            out.rejected
        );
    }
}

/// A Matomo-style import: visits kept as recorded.
fn recorded(ts: i64, visit: &str) -> Hit {
    Hit::pageview(1, ts, "v", "https://x.org/a").with_visit(visit)
}

fn summary(e: &hitmap::Engine) -> hitmap::VisitsSummary {
    e.query(&hitmap::Query::site(1).range("2024-06-01", "2024-06-02"))
        .unwrap()
        .visits_summary()
}

#[test]
fn a_visit_id_keeps_recorded_visit_boundaries() {
    let t = 1_717_200_000; // 2024-06-01T00:00:00Z
    let mut e = hitmap::Engine::in_memory();
    e.add_site(hitmap::SiteConfig::new(1)).unwrap();
    e.ingest([
        // Two recorded visits 10 s apart stay two visits.
        recorded(t + 100, "1"),
        recorded(t + 110, "2"),
        // One recorded visit with a two-hour gap stays one visit.
        recorded(t + 7_200, "3"),
        recorded(t + 14_400, "3"),
        // Hits without an id follow the timeout rule among themselves.
        Hit::pageview(1, t + 7_300, "v", "https://x.org/b"),
        Hit::pageview(1, t + 7_400, "v", "https://x.org/b"),
        // A recorded visit across midnight is cut there.
        recorded(t + 86_000, "4"),
        recorded(t + 86_500, "4"),
    ])
    .unwrap();
    let s = summary(&e);
    assert_eq!((s.nb_visits, s.nb_actions, s.nb_uniq_visitors), (6, 8, 1));
    // The two-hour visit is 1 + 7200 s long; the rest: 0, 0, 101, 0, 0.
    assert_eq!(s.sum_visit_length, 7_201 + 101);
    // Ranks follow start times: the fifth visit is the midnight one.
    let visits = e.export_visits(1, "2024-06-01", "2024-06-02").unwrap();
    let ranks: Vec<(i64, u32)> = visits
        .iter()
        .map(|v| (v.first_ts - t, v.visit_count))
        .collect();
    assert_eq!(
        ranks,
        [
            (100, 1),
            (110, 2),
            (7_200, 3),
            (7_300, 4),
            (86_000, 5),
            (86_500, 6)
        ]
    );
}

#[test]
fn late_hits_join_their_recorded_visit_after_a_reopen() {
    let dir = crate::store::TempDir::new("recorded");
    let t = 1_717_200_000;
    {
        let mut e = hitmap::Engine::open(&dir.0).unwrap();
        e.add_site(hitmap::SiteConfig::new(1)).unwrap();
        e.ingest([recorded(t + 100, "9"), recorded(t + 110, "10")])
            .unwrap();
    }
    let mut e = hitmap::Engine::open(&dir.0).unwrap();
    // Visit 9 goes on three hours later; an unrelated hit lands between.
    e.ingest([
        recorded(t + 10_900, "9"),
        Hit::pageview(1, t + 120, "v", "https://x.org/c"),
    ])
    .unwrap();
    let s = summary(&e);
    assert_eq!((s.nb_visits, s.nb_actions), (3, 4));
    assert_eq!(s.sum_visit_length, 10_801);
    let back = e.export_hits(1, "2024-06-01", "2024-06-01").unwrap();
    let nine: Vec<i64> = back
        .iter()
        .filter(|h| h.visit.as_deref() == Some("9"))
        .map(|h| h.ts - t)
        .collect();
    assert_eq!(nine, [100, 10_900]);
}

#[test]
fn a_recorded_referrer_type_wins_over_the_derivation() {
    let t = 1_717_200_000;
    let mut e = hitmap::Engine::in_memory();
    e.add_site(hitmap::SiteConfig::new(1)).unwrap();
    let out = e
        .ingest_ndjson(
            format!(
                r#"{{"site":1,"ts":{t},"visitor":"a","url":"https://x.org/","referrer":"https://www.google.com/"}}
{{"site":1,"ts":{t},"visitor":"b","url":"https://x.org/","referrer":"https://www.google.com/","referrer_type":"website"}}
{{"site":1,"ts":{t},"visitor":"c","url":"https://x.org/","referrer_type":"campaign","campaign":{{"name":"spring"}}}}
{{"site":1,"ts":{t},"visitor":"d","url":"https://x.org/","referrer_type":"email"}}
{{"site":1,"ts":{t},"visitor":"e","url":"https://x.org/","dims":{{"$visit":"1"}}}}
{{"site":1,"ts":{t},"visitor":"f","url":"https://x.org/","campaign":"spring"}}
{{"site":1,"ts":{t},"visitor":"g","url":"https://x.org/","visit":1.5}}
"#
            )
            .as_bytes(),
        )
        .unwrap();
    assert_eq!(out.accepted, 3);
    let reasons: Vec<&str> = out.rejected.iter().map(|r| r.reason.as_str()).collect();
    assert!(
        reasons[0].contains("`referrer_type` must be"),
        "{reasons:?}"
    );
    assert!(reasons[1].contains("reserved"), "{reasons:?}");
    assert!(
        reasons[2].contains("`campaign` must be an object"),
        "{reasons:?}"
    );
    assert!(
        reasons[3].contains("`visit` must be a string or an integer"),
        "{reasons:?}"
    );
    let types = e
        .query(&hitmap::Query::site(1).range("2024-06-01", "2024-06-01"))
        .unwrap()
        .dimension_report(&hitmap::Dimension::ReferrerType);
    let types: Vec<(Option<String>, u64)> = types
        .into_iter()
        .filter(|r| r.metrics.nb_visits > 0)
        .map(|r| (r.label, r.metrics.nb_visits))
        .collect();
    assert_eq!(
        types,
        [
            (Some("campaign".into()), 1),
            (Some("search".into()), 1),
            (Some("website".into()), 1)
        ]
    );
    // hitmap's own fields are not custom dimensions.
    let err = e
        .api("method=CustomDimensions.getCustomDimension&idSite=1&period=day&date=2024-06-01&dimension=$visit")
        .unwrap_err();
    assert!(err.to_string().contains("dimension"), "{err}");
    let err = e
        .add_site(hitmap::SiteConfig::new(2).dimension("$x"))
        .unwrap_err();
    assert!(err.to_string().contains("reserved"), "{err}");
}

/// An event value comes back as the very `f64` it was sent as, whether it
/// is read from NDJSON directly or replayed from the write-ahead log (the
/// log keeps hits as NDJSON): numbers are parsed correctly rounded, not
/// one unit in the last place off (`9.709999999999999` read as `9.71`).
#[test]
fn event_values_keep_every_bit() {
    let values = [
        9.709999999999999,
        0.1 + 0.2,
        1e-7,
        123456.789012345,
        2.5e300,
    ];
    let dir = crate::store::TempDir::new("float-roundtrip");
    let mut w = hitmap::Engine::open(&dir.0).unwrap();
    w.add_site(hitmap::SiteConfig::new(1)).unwrap();
    let lines: String = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let hit = Hit::new(1, 1_735_700_000 + i as i64, format!("v{i}"), HitType::Event)
                .with_event(Event {
                    category: "c".into(),
                    action: format!("a{i}"),
                    name: None,
                    value: Some(*v),
                });
            hit.to_ndjson() + "\n"
        })
        .collect();
    w.ingest_ndjson(lines.as_bytes()).unwrap();
    drop(w);
    // A reader replays the live batch from the log.
    let r = hitmap::Engine::open_read_only(&dir.0).unwrap();
    let got: Vec<(String, f64)> = r
        .export_hits(1, "2024-12-31", "2025-01-02")
        .unwrap()
        .into_iter()
        .map(|h| {
            (
                h.event.as_ref().unwrap().action.clone(),
                h.event.unwrap().value.unwrap(),
            )
        })
        .collect();
    for (i, v) in values.iter().enumerate() {
        let back = got.iter().find(|(a, _)| *a == format!("a{i}")).unwrap().1;
        assert_eq!(back.to_bits(), v.to_bits(), "{v}");
    }
}
