//! Live parts and the write-ahead log: many small batches (each a live
//! part, visitors moving between parts, parts merging, seals at random
//! moments) answer exactly what one rebuild of the same hits answers, in
//! memory, in a writer store, and in a store reopened from its log.

use hitmap::{Engine, Hit, IngestOptions, Query};
use proptest::prelude::*;

use crate::props::{case, fingerprint, make_hit, rebuilt, site_config};
use crate::store::{TempDir, open_writer};

/// The hits shuffled by a seeded LCG, cut into batches of 1..=4.
fn small_batches(hits: &[Hit], seed: u64) -> Vec<Vec<Hit>> {
    let mut shuffled = hits.to_vec();
    let mut state = seed | 1;
    let mut next = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as usize
    };
    for i in (1..shuffled.len()).rev() {
        shuffled.swap(i, next() % (i + 1));
    }
    let mut out = Vec::new();
    let mut rest = shuffled.as_slice();
    while !rest.is_empty() {
        let (now, later) = rest.split_at((1 + next() % 4).min(rest.len()));
        out.push(now.to_vec());
        rest = later;
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 120, ..ProptestConfig::default() })]

    #[test]
    fn live_parts_equal_a_rebuild(case in case(), seed in any::<u64>(), seals in prop::collection::vec(0..40usize, 0..3)) {
        let hits: Vec<Hit> = case.specs.iter().map(|s| make_hit(s, case.base)).collect();
        let rebuilt = rebuilt(&case, &hits);
        let expected = fingerprint(&rebuilt, &case);

        let batches = small_batches(&hits, seed);
        let mut live = Engine::in_memory();
        live.add_site(site_config(&case)).unwrap();
        let dir = TempDir::new("live");
        let mut stored = open_writer(&dir.0);
        stored.add_site(site_config(&case)).unwrap();
        for (i, batch) in batches.iter().enumerate() {
            live.ingest(batch).unwrap();
            stored.ingest(batch).unwrap();
            if seals.contains(&i) {
                live.seal().unwrap();
                stored.seal().unwrap();
            }
        }
        prop_assert_eq!(&fingerprint(&live, &case), &expected, "in memory");
        prop_assert_eq!(&fingerprint(&stored, &case), &expected, "writer");
        // The actions come back (export order follows visitor ids, which
        // follow arrival order; which of two identical hits carries a visit
        // value is arrival order too, and answers never depend on it).
        let export = |e: &Engine| {
            let mut lines: Vec<String> = e
                .export_hits(1, "1970-01-01", "9999-12-31")
                .unwrap()
                .into_iter()
                .map(|h| Hit { title: h.title, search: h.search, event: h.event, url: h.url, ..Hit::new(h.site, h.ts, h.visitor, h.kind) }.to_ndjson())
                .collect();
            lines.sort();
            lines
        };
        prop_assert_eq!(export(&live), export(&rebuilt));
        // A reader replays the log into live parts.
        let reader = Engine::open_read_only(&dir.0).unwrap();
        prop_assert_eq!(&fingerprint(&reader, &case), &expected, "reader");
        drop(reader);
        drop(stored);
        // A writer reopened after a crash (no seal on the way out) too,
        // and sealing then changes nothing.
        let mut reopened = open_writer(&dir.0);
        prop_assert_eq!(&fingerprint(&reopened, &case), &expected, "reopened");
        reopened.seal().unwrap();
        prop_assert_eq!(&fingerprint(&reopened, &case), &expected, "sealed");
        drop(reopened);
        let reader = Engine::open_read_only(&dir.0).unwrap();
        prop_assert_eq!(&fingerprint(&reader, &case), &expected, "sealed, read");
    }
}

/// A batch whose size says it is larger than the live limit builds its
/// days at once, even when rejected hits leave no more accepted than the
/// limit: its hits are not written out for the log first. One of unknown
/// size is live until its accepted hits pass the limit.
#[test]
fn a_batch_known_to_be_larger_than_the_live_limit_builds_its_days() {
    let hits: Vec<Hit> = (0..12)
        .map(|i| {
            // Two hits without a visitor: rejected.
            let v = if i < 2 {
                String::new()
            } else {
                format!("v{i}")
            };
            Hit::pageview(1, 1_717_200_000 + i, v, "https://x.org/")
        })
        .collect();
    for (known, live) in [(true, 0), (false, 10)] {
        let dir = TempDir::new("live-limit");
        let mut e = open_writer(&dir.0);
        e.add_site(hitmap::SiteConfig::new(1)).unwrap();
        e.set_live_limit(10);
        let opts = IngestOptions::default();
        let out = if known {
            e.ingest_with(&hits, &opts).unwrap()
        } else {
            e.ingest_with(hits.iter().filter(|_| true), &opts).unwrap()
        };
        assert_eq!((out.accepted, out.rejected.len()), (10, 2));
        assert_eq!(e.live_hits(), live, "size known: {known}");
        assert_eq!(dir.0.join("site-1/days").exists(), known);
        let s = e.query(&Query::site(1)).unwrap().visits_summary();
        assert_eq!(s.nb_visits, 10);
    }
}

#[test]
fn a_live_batch_is_durable_and_a_repeat_is_skipped_before_and_after_a_seal() {
    let dir = TempDir::new("live-ids");
    let hit = |v: &str| Hit::pageview(1, 1_717_200_000, v, "https://x.org/");
    {
        let mut e = open_writer(&dir.0);
        e.add_site(hitmap::SiteConfig::new(1)).unwrap();
        let opts = IngestOptions::default()
            .batch_id("b1")
            .cursor("import", "7");
        e.ingest_with([hit("a")], &opts).unwrap();
        assert_eq!(e.live_hits(), 1);
        // No day file yet: the log holds the batch.
        assert!(!dir.0.join("site-1/days").exists());
        assert!(e.has_batch("b1"));
        assert_eq!(e.cursor("import"), Some("7"));
        let again = e.ingest_with([hit("a")], &opts).unwrap();
        assert_eq!(again.skipped_batches, 1);
    }
    {
        // Replayed: the hit, its batch id and its cursor.
        let mut e = open_writer(&dir.0);
        assert_eq!(e.live_hits(), 1);
        assert!(e.has_batch("b1"));
        assert_eq!(e.cursor("import"), Some("7"));
        e.seal().unwrap();
        assert_eq!(e.live_hits(), 0);
        assert!(e.has_batch("b1"));
        assert_eq!(e.cursor("import"), Some("7"));
        let s = e.query(&Query::site(1)).unwrap().visits_summary();
        assert_eq!(s.nb_visits, 1);
    }
    let e = Engine::open_read_only(&dir.0).unwrap();
    assert_eq!(e.live_hits(), 0);
    assert!(e.has_batch("b1"));
    assert_eq!(
        e.query(&Query::site(1)).unwrap().visits_summary().nb_visits,
        1
    );
}

#[test]
fn a_torn_record_at_the_end_of_the_log_is_ignored_and_later_writes_survive() {
    let dir = TempDir::new("live-torn");
    let hit = |v: &str, t: i64| Hit::pageview(1, 1_717_200_000 + t, v, "https://x.org/");
    {
        let mut e = open_writer(&dir.0);
        e.add_site(hitmap::SiteConfig::new(1)).unwrap();
        e.ingest([hit("a", 0)]).unwrap();
        e.ingest([hit("b", 0)]).unwrap();
    }
    // A crash in the middle of an append: half a record at the end.
    let seg = std::fs::read_dir(dir.0.join("wal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .max()
        .unwrap();
    let mut bytes = std::fs::read(&seg).unwrap();
    let full = bytes.len();
    bytes.extend_from_slice(&[200, 0, 0, 0, 1, 2, 3, 4, b'{']);
    std::fs::write(&seg, &bytes).unwrap();
    {
        let mut e = open_writer(&dir.0);
        assert_eq!(
            e.query(&Query::site(1)).unwrap().visits_summary().nb_visits,
            2
        );
        e.ingest([hit("c", 0)]).unwrap();
    }
    assert_eq!(
        std::fs::read(&seg).unwrap().len(),
        full + 9,
        "the torn segment is left as it was"
    );
    let e = Engine::open_read_only(&dir.0).unwrap();
    assert_eq!(
        e.query(&Query::site(1)).unwrap().visits_summary().nb_visits,
        3
    );
}

#[test]
fn new_visit_starts_a_visit_that_later_hits_continue_in_any_batching() {
    let t = 1_717_200_000;
    let mut marked = Hit::pageview(1, t + 60, "a", "https://x.org/b");
    marked.new_visit = true;
    let hits = [
        Hit::pageview(1, t, "a", "https://x.org/a"),
        marked,
        Hit::pageview(1, t + 120, "a", "https://x.org/c"),
    ];
    assert!(hits[1].to_ndjson().contains(r#""new_visit":true"#));
    let answers = |order: &[usize], limit: usize| {
        let mut e = Engine::in_memory();
        e.set_live_limit(limit);
        e.add_site(hitmap::SiteConfig::new(1)).unwrap();
        for &i in order {
            e.ingest([hits[i].clone()]).unwrap();
        }
        let s = e.query(&Query::site(1)).unwrap().visits_summary();
        (
            s.nb_visits,
            s.nb_actions,
            s.bounce_count,
            s.sum_visit_length,
        )
    };
    assert_eq!(answers(&[0, 1, 2], 0), (2, 3, 1, 61));
    assert_eq!(answers(&[2, 1, 0], 0), (2, 3, 1, 61));
    assert_eq!(answers(&[1, 2, 0], 100), (2, 3, 1, 61));
    // Through NDJSON too.
    let mut e = Engine::in_memory();
    e.add_site(hitmap::SiteConfig::new(1)).unwrap();
    let text: String = hits.iter().map(|h| h.to_ndjson() + "\n").collect();
    e.ingest_ndjson(text.as_bytes()).unwrap();
    assert_eq!(
        e.query(&Query::site(1)).unwrap().visits_summary().nb_visits,
        2
    );
    assert_eq!(e.export_hits(1, "2024-06-01", "2024-06-01").unwrap(), hits);
}

#[test]
fn thousands_of_sample_hits_in_small_batches_answer_like_one_rebuild() {
    let cfg = hitmap::sample::SampleConfig {
        days: 4,
        visitors: 2_000,
        ..Default::default()
    };
    let hits: Vec<Hit> = hitmap::sample::generate(&cfg).collect();
    assert!(hits.len() > 5_000, "{}", hits.len());
    let mut rebuilt = Engine::in_memory();
    rebuilt.set_live_limit(0);
    rebuilt.add_site(hitmap::sample::site_config(&cfg)).unwrap();
    rebuilt.ingest(&hits).unwrap();
    let mut live = Engine::in_memory();
    live.add_site(hitmap::sample::site_config(&cfg)).unwrap();
    // Batches of 1 to 97 in an order that interleaves days and visitors,
    // so parts of every tier merge and visitors move between them.
    let mut rest: Vec<&Hit> = hits.iter().collect();
    let mut state = 7u64;
    let mut i = 0;
    while !rest.is_empty() {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let n = (1 + (state >> 33) as usize % 97).min(rest.len());
        let start = (state >> 40) as usize % rest.len();
        let end = (start + n).min(rest.len());
        let batch: Vec<Hit> = rest.drain(start..end).cloned().collect();
        live.ingest(&batch).unwrap();
        i += 1;
    }
    assert!(i > 100);
    assert!(live.live_hits() > 0);
    let methods = [
        "VisitsSummary.get",
        "VisitFrequency.get",
        "Actions.getPageUrls&flat=1",
        "Actions.getPageTitles",
        "DevicesDetection.getType",
        "Referrers.getReferrerType",
        "Referrers.getWebsites",
        "Hitmap.getSections",
    ];
    for m in methods {
        for seg in [
            "",
            "&segment=visitCount%3E%3D2",
            "&segment=deviceType%3D%3Dsmartphone&section=News",
        ] {
            for period in ["day", "range"] {
                let q = format!(
                    "method={m}&idSite=1&period={period}&date=2025-01-01,2025-01-04&format_metrics=0&filter_limit=-1{seg}"
                );
                assert_eq!(live.api(&q).unwrap(), rebuilt.api(&q).unwrap(), "{q}");
            }
        }
    }
    live.seal().unwrap();
    let q = "method=VisitsSummary.get&idSite=1&period=range&date=2025-01-01,2025-01-04";
    assert_eq!(live.api(q).unwrap(), rebuilt.api(q).unwrap());
}

#[test]
fn a_file_named_like_a_log_segment_that_is_not_one_is_named_and_skipped() {
    let dir = TempDir::new("live-stranger");
    {
        let mut e = open_writer(&dir.0);
        e.add_site(hitmap::SiteConfig::new(1)).unwrap();
        e.ingest([Hit::pageview(1, 1_717_200_000, "a", "https://x.org/")])
            .unwrap();
    }
    std::fs::write(dir.0.join("wal/99.log"), b"notes of the operator").unwrap();
    let e = Engine::open_read_only(&dir.0).unwrap();
    assert_eq!(
        e.query(&Query::site(1)).unwrap().visits_summary().nb_visits,
        1
    );
    let damaged = e.damaged();
    assert!(
        damaged
            .iter()
            .any(|d| d.contains("99.log") && d.contains("skipped")),
        "{damaged:?}"
    );
    drop(e);
    // A writer leaves it alone too, and seals the rest.
    let mut w = open_writer(&dir.0);
    w.seal().unwrap();
    drop(w);
    assert_eq!(
        std::fs::read(dir.0.join("wal/99.log")).unwrap(),
        b"notes of the operator"
    );
}

#[test]
fn a_site_with_only_live_data_keeps_it_when_added_again() {
    let dir = TempDir::new("live-readd");
    {
        let mut e = open_writer(&dir.0);
        e.add_site(hitmap::SiteConfig::new(1).time_zone("Europe/London"))
            .unwrap();
        e.ingest([Hit::pageview(1, 1_717_200_000, "a", "https://x.org/")])
            .unwrap();
    }
    let mut e = open_writer(&dir.0);
    // Re-adding it (as a setup script does on every run) keeps the data,
    // and the time zone of a site with data cannot change.
    e.add_site(
        hitmap::SiteConfig::new(1)
            .time_zone("Europe/London")
            .section("All", ["/"]),
    )
    .unwrap();
    assert_eq!(
        e.query(&Query::site(1)).unwrap().visits_summary().nb_visits,
        1
    );
    assert!(
        e.add_site(hitmap::SiteConfig::new(1).time_zone("Asia/Tokyo"))
            .is_err()
    );
}

/// The bytes of the write-ahead log's segments on disk.
fn log_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir.join("wal"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// A writer that only ever sends small batches (a Python or PHP process,
/// an importer) seals its log on its own, by size: the log stays about
/// as large as the store's files, and the answers are a rebuild's.
#[test]
fn a_writer_of_small_batches_seals_its_log_on_its_own() {
    let cfg = hitmap::sample::SampleConfig {
        days: 60,
        visitors: 5_000,
        ..Default::default()
    };
    let hits: Vec<Hit> = hitmap::sample::generate(&cfg).collect();
    let dir = TempDir::new("live-self-seal");
    let options = hitmap::StoreOptions::default().retain_superseded(std::time::Duration::ZERO);
    let mut w = Engine::open_with(&dir.0, options).unwrap();
    w.add_site(hitmap::sample::site_config(&cfg)).unwrap();
    let mut largest = 0;
    for batch in hits.chunks(2_000) {
        w.ingest(batch).unwrap();
        largest = largest.max(log_bytes(&dir.0));
    }
    // The store's own files, and the log: sealed each time it holds a
    // quarter of their bytes (256 KiB at the least), so beside the
    // segment sealed last (kept a while for readers) it never holds much
    // more than half of them. Without a seal by size it would hold every
    // batch: about 5 MB here.
    let files: u64 = crate::store::walk(&dir.0)
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum::<u64>()
        - log_bytes(&dir.0);
    let bound = files / 2 + 2 * (256 << 10) + 100_000;
    assert!(
        largest < bound,
        "the log grew to {largest} bytes beside {files} bytes of files"
    );
    let mut rebuilt = Engine::in_memory();
    rebuilt.set_live_limit(0);
    rebuilt.add_site(hitmap::sample::site_config(&cfg)).unwrap();
    rebuilt.ingest(&hits).unwrap();
    let q = "method=Actions.getPageUrls&idSite=1&period=range&date=2025-01-01,2025-03-01&flat=1&filter_limit=-1&format_metrics=0";
    assert_eq!(w.api(q).unwrap(), rebuilt.api(q).unwrap());
    drop(w);
    // What the log still holds is replayed at open, in one go.
    let r = Engine::open_read_only(&dir.0).unwrap();
    assert_eq!(r.api(q).unwrap(), rebuilt.api(q).unwrap());
}

/// By age: a log whose oldest record is older than the seal age is
/// sealed at the next commit.
#[test]
fn a_writer_seals_a_log_older_than_its_seal_age() {
    let dir = TempDir::new("live-age");
    let mut w = Engine::open(&dir.0).unwrap();
    w.add_site(hitmap::SiteConfig::new(1)).unwrap();
    w.ingest([Hit::pageview(1, 1_717_200_000, "a", "https://x.org/a")])
        .unwrap();
    assert_eq!(w.live_hits(), 1, "young: still live");
    w.set_seal_age(std::time::Duration::ZERO);
    w.ingest([Hit::pageview(1, 1_717_200_060, "a", "https://x.org/b")])
        .unwrap();
    assert_eq!(w.live_hits(), 0, "old: sealed with the next commit");
    w.ingest([Hit::pageview(1, 1_717_200_120, "b", "https://x.org/c")])
        .unwrap();
    assert_eq!(w.live_hits(), 0);
    drop(w);
    let r = Engine::open_read_only(&dir.0).unwrap();
    let s = r.query(&Query::site(1)).unwrap().visits_summary();
    assert_eq!((s.nb_visits, s.nb_actions), (2, 3));
}
