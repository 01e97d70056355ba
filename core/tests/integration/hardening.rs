//! Issue 10's defects, each as a regression test: a store is never deleted
//! by mistake, no request panics or runs unbounded, a failed write leaves
//! no bytes, loose input is refused.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use hitmap::{ApiOptions, Engine, Error, Hit, Query, SiteConfig, StoreOptions};

use crate::store::{TempDir, walk};

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    walk(dir)
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

fn small_store(dir: &Path) {
    let mut e = Engine::open(dir).unwrap();
    e.set_live_limit(0); // this test is about day files
    e.add_site(SiteConfig::new(1).section("News", ["/news"]))
        .unwrap();
    for day in 0..3 {
        e.ingest([
            Hit::pageview(1, 1_717_200_000 + day * 86_400, "a", "https://x.org/news/a"),
            Hit::pageview(1, 1_717_200_060 + day * 86_400, "b", "https://x.org/about"),
        ])
        .unwrap();
    }
}

#[test]
fn a_writer_open_without_manifest_leaves_every_byte_in_place() {
    let dir = TempDir::new("no-manifest");
    small_store(&dir.0);
    std::fs::write(dir.0.join("site-1/readme.txt"), b"notes of the operator").unwrap();
    std::fs::remove_file(dir.0.join("MANIFEST")).unwrap();
    let before = snapshot(&dir.0);
    let err = Engine::open(&dir.0).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("MANIFEST") && msg.contains("recover_manifest"),
        "{msg}"
    );
    // The LOCK file holds the pid of whoever tried: everything else is
    // byte for byte as it was.
    let after = snapshot(&dir.0);
    let strip = |m: BTreeMap<String, Vec<u8>>| -> BTreeMap<String, Vec<u8>> {
        m.into_iter()
            .filter(|(p, _)| !p.ends_with("LOCK"))
            .collect()
    };
    assert_eq!(strip(after), strip(before.clone()));
    // A read-only open says there is no store.
    assert!(Engine::open_read_only(&dir.0).is_err());

    // Recovery rebuilds the manifest from the checksummed files and
    // deletes nothing; the store then answers as before.
    let r = hitmap::recover_manifest(&dir.0).unwrap();
    assert_eq!((r.sites.clone(), r.days), (vec![1], 3));
    assert!(
        r.skipped.iter().any(|(p, _)| p.ends_with("readme.txt")),
        "{r:?}"
    );
    for (path, bytes) in &before {
        if !path.ends_with("LOCK") {
            assert_eq!(&std::fs::read(path).unwrap(), bytes, "{path}");
        }
    }
    let e = Engine::open(&dir.0).unwrap();
    let s = e.query(&Query::site(1)).unwrap().visits_summary();
    assert_eq!((s.nb_visits, s.nb_actions), (6, 6));
    // Recovery refuses a store whose manifest is readable.
    drop(e);
    assert!(hitmap::recover_manifest(&dir.0).is_err());
}

#[test]
fn a_damaged_manifest_is_refused_with_the_way_out() {
    let dir = TempDir::new("bad-manifest");
    small_store(&dir.0);
    std::fs::write(dir.0.join("MANIFEST"), b"HITMAP\0garbage").unwrap();
    let before = snapshot(&dir.0);
    let msg = Engine::open(&dir.0).unwrap_err().to_string();
    assert!(msg.contains("recover_manifest"), "{msg}");
    let n = before.len();
    assert_eq!(snapshot(&dir.0).len(), n);
    hitmap::recover_manifest(&dir.0).unwrap();
    let e = Engine::open(&dir.0).unwrap();
    assert_eq!(
        e.query(&Query::site(1)).unwrap().visits_summary().nb_visits,
        6
    );
}

#[test]
fn garbage_collection_never_touches_files_hitmap_did_not_write() {
    let dir = TempDir::new("strangers");
    small_store(&dir.0);
    // Files that are not hitmap's, some named like hitmap's.
    let strangers = [
        "site-1/readme.txt",
        "site-1/days/notes.day",
        "site-1/config-999.bin",
        "site-1/days/2024-06-01-999.day",
        "site-7/data.csv",
        "other.txt",
    ];
    for s in strangers {
        let p = dir.0.join(s);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, format!("not hitmap's: {s}")).unwrap();
    }
    // A file with hitmap's header that no manifest or journal ever listed.
    let orphan = dir.0.join("site-1/days/2024-06-09-998.day");
    std::fs::copy(
        walk(&dir.0.join("site-1/days"))
            .into_iter()
            .find(|p| p.ends_with(".day") && !p.contains("-99"))
            .unwrap(),
        &orphan,
    )
    .unwrap();
    {
        let opts = StoreOptions::default().retain_superseded(Duration::ZERO);
        let mut e = Engine::open_with(&dir.0, opts).unwrap();
        e.set_live_limit(0); // this test is about day files
        for i in 0..5 {
            e.ingest([Hit::pageview(
                1,
                1_717_200_000 + i,
                "c",
                "https://x.org/news/b",
            )])
            .unwrap();
        }
        e.forget_visitor(1, "a").unwrap();
        e.delete_range(1, "2024-06-02", "2024-06-02").unwrap();
        e.add_site(SiteConfig::new(7)).unwrap();
        e.ingest([Hit::pageview(7, 1_717_200_000, "z", "https://y.org/")])
            .unwrap();
        e.drop_site(7).unwrap();
    }
    drop(Engine::open(&dir.0).unwrap());
    for s in strangers {
        assert_eq!(
            std::fs::read_to_string(dir.0.join(s)).unwrap(),
            format!("not hitmap's: {s}"),
            "{s}"
        );
    }
    assert!(orphan.exists(), "an unlisted file is not proven ours");
}

#[test]
fn superseded_files_go_after_the_retention_time() {
    let dir = TempDir::new("retention");
    let opts = StoreOptions::default().retain_superseded(Duration::ZERO);
    let mut e = Engine::open_with(&dir.0, opts).unwrap();
    e.set_live_limit(0); // this test is about day files
    e.add_site(SiteConfig::new(1)).unwrap();
    for i in 0..20 {
        e.ingest([Hit::pageview(
            1,
            1_717_200_000 + i * 60,
            "a",
            "https://x.org/",
        )])
        .unwrap();
    }
    // Live: config, dicts, visitor totals and history page, one day, its
    // month's and year's rollups. Retired by the last commit and kept for
    // its readers until the next: the previous dicts, totals, page, day
    // and rollups.
    let files: Vec<String> = walk(&dir.0)
        .into_iter()
        .filter(|p| p.contains("site-1"))
        .collect();
    assert_eq!(files.len(), 13, "{files:#?}");
    drop(e);
    // With the default retention they stay for readers.
    let mut e = Engine::open(&dir.0).unwrap();
    e.set_live_limit(0); // this test is about day files
    for i in 0..3 {
        e.ingest([Hit::pageview(1, 1_717_200_000 + i, "b", "https://x.org/")])
            .unwrap();
    }
    let kept = walk(&dir.0).iter().filter(|p| p.contains("site-1")).count();
    // Live: 7; each of the three commits' retired dicts, totals, page, day
    // and two rollups; the six retired before the reopen (now under a 60 s
    // retention).
    assert_eq!(kept, 7 + 3 * 6 + 6);
}

#[test]
fn a_failed_commit_leaves_no_bytes_and_the_next_one_succeeds() {
    failed_commit_leaves_no_bytes(0);
}

/// A commit of many day files: a failure among them removes every one
/// written before it, and the same days commit and read back once the
/// obstacle is gone.
#[test]
fn a_failed_commit_of_many_files_leaves_no_bytes() {
    failed_commit_leaves_no_bytes(12);
}

/// A commit of hits on 2024-06-01, 2024-06-10 and `more` days after the
/// 10th, whose 2024-06-10 file cannot be written.
fn failed_commit_leaves_no_bytes(more: i64) {
    let dir = TempDir::new("failed-commit");
    small_store(&dir.0);
    let before = walk(&dir.0);
    let mut e = Engine::open(&dir.0).unwrap();
    e.set_live_limit(0); // this test is about day files
    let gen_next = {
        // The next generation's day file for 2024-06-10: block it with a
        // folder (not ours) where its temporary file goes.
        let manifest_gen = before
            .iter()
            .filter_map(|p| {
                p.rsplit_once("dicts-")?
                    .1
                    .strip_suffix(".bin")?
                    .parse::<u64>()
                    .ok()
            })
            .max()
            .unwrap();
        manifest_gen + 1
    };
    let blocker = dir
        .0
        .join(format!("site-1/days/2024-06-10-{gen_next}.day.tmp"));
    std::fs::create_dir_all(&blocker).unwrap();
    std::fs::write(blocker.join("keep.txt"), b"mine").unwrap();
    let mut hits = vec![
        Hit::pageview(1, 1_717_200_000, "x", "https://x.org/news/new"),
        Hit::pageview(1, 1_717_977_600, "x", "https://x.org/news/new"),
    ];
    for day in 1..=more {
        hits.push(Hit::pageview(
            1,
            1_717_977_600 + day * 86_400,
            "x",
            "https://x.org/",
        ));
    }
    let err = e.ingest(hits.clone()).unwrap_err();
    assert!(matches!(err, Error::Store { .. }), "{err}");
    // Nothing of the failed generation is left, the blocker untouched,
    // and the engine still answers what the disk holds.
    let mut after: Vec<String> = walk(&dir.0);
    after.retain(|p| !p.contains("keep.txt"));
    let mut expected = before.clone();
    expected.retain(|p| !p.ends_with("PENDING"));
    assert_eq!(after, expected);
    assert_eq!(std::fs::read(blocker.join("keep.txt")).unwrap(), b"mine");
    assert_eq!(
        e.query(&Query::site(1)).unwrap().visits_summary().nb_visits,
        6
    );
    // Once the obstacle is gone, the same engine commits again, and what
    // it wrote reads back.
    std::fs::remove_dir_all(&blocker).unwrap();
    e.ingest(hits).unwrap();
    let want = 6 + 2 + more as u64;
    assert_eq!(
        e.query(&Query::site(1)).unwrap().visits_summary().nb_visits,
        want
    );
    drop(e);
    let reopened = Engine::open_read_only(&dir.0).unwrap();
    assert!(reopened.damaged().is_empty(), "{:?}", reopened.damaged());
    assert_eq!(
        reopened
            .query(&Query::site(1))
            .unwrap()
            .visits_summary()
            .nb_visits,
        want
    );
}

#[test]
fn a_crashed_commit_is_cleaned_by_its_journal_only() {
    let dir = TempDir::new("journal");
    small_store(&dir.0);
    // Pretend a commit of generation 1000 crashed after writing one file
    // and half of another: copy a real day file under the new names and
    // write the journal that a commit writes first.
    let day = walk(&dir.0.join("site-1/days")).remove(0);
    let written = dir.0.join("site-1/days/2024-07-01-1000.day");
    let half = dir.0.join("site-1/days/2024-07-02-1000.day.tmp");
    std::fs::copy(&day, &written).unwrap();
    std::fs::write(&half, b"HIT").unwrap();
    let journal_body = serde_json::to_vec(&[
        "site-1/days/2024-07-01-1000.day",
        "site-1/days/2024-07-02-1000.day",
        "site-1/readme.txt",
    ])
    .unwrap();
    std::fs::write(dir.0.join("site-1/readme.txt"), b"listed but not hitmap's").unwrap();
    std::fs::write(dir.0.join("PENDING"), seal_manifest_kind(&journal_body)).unwrap();
    let e = Engine::open(&dir.0).unwrap();
    assert!(!written.exists() && !half.exists());
    assert!(!dir.0.join("PENDING").exists());
    assert_eq!(
        std::fs::read(dir.0.join("site-1/readme.txt")).unwrap(),
        b"listed but not hitmap's"
    );
    assert_eq!(
        e.query(&Query::site(1)).unwrap().visits_summary().nb_visits,
        6
    );
}

/// A writer killed after its manifest swap but before it removed the
/// journal: the next writer clears the journal, and must keep every file
/// the manifest names (found by the crash test: the visitor history was
/// not counted as live and went).
#[test]
fn a_journal_never_removes_what_the_manifest_names() {
    let dir = TempDir::new("journal-live");
    small_store(&dir.0);
    let live: Vec<String> = walk(&dir.0)
        .into_iter()
        .filter(|p| p.contains("site-1/") && !p.ends_with(".tmp"))
        .filter(|p| {
            p.contains("totals-")
                || p.contains("/history/")
                || p.contains("dicts-")
                || p.contains("/days/")
        })
        .collect();
    assert!(live.iter().any(|p| p.contains("totals-")), "{live:?}");
    assert!(live.iter().any(|p| p.contains("/history/")), "{live:?}");
    let rels: Vec<String> = live
        .iter()
        .map(|p| p[p.find("site-1/").unwrap()..].to_string())
        .collect();
    let journal_body = serde_json::to_vec(&rels).unwrap();
    std::fs::write(dir.0.join("PENDING"), seal_manifest_kind(&journal_body)).unwrap();
    let want = Engine::open_read_only(&dir.0)
        .unwrap()
        .query(&Query::site(1))
        .unwrap()
        .visits_summary();
    drop(Engine::open(&dir.0).unwrap());
    for p in &live {
        assert!(std::path::Path::new(p).exists(), "{p} went");
    }
    let mut reader = Engine::open_read_only(&dir.0).unwrap();
    assert!(reader.verify().is_empty(), "{:?}", reader.damaged());
    assert_eq!(
        reader.query(&Query::site(1)).unwrap().visits_summary(),
        want
    );
}

#[test]
fn the_first_commit_crashing_does_not_lock_the_folder_out() {
    let dir = TempDir::new("first-crash");
    {
        let mut e = Engine::open(&dir.0).unwrap();
        e.set_live_limit(0); // this test is about day files
        e.add_site(SiteConfig::new(1)).unwrap();
    }
    // As if the manifest of that first commit never landed.
    std::fs::remove_file(dir.0.join("MANIFEST")).unwrap();
    let files: Vec<String> = walk(&dir.0)
        .into_iter()
        .filter_map(|p| p.split_once("/site-1/").map(|(_, f)| format!("site-1/{f}")))
        .collect();
    std::fs::write(
        dir.0.join("PENDING"),
        seal_manifest_kind(&serde_json::to_vec(&files).unwrap()),
    )
    .unwrap();
    let e = Engine::open(&dir.0).unwrap();
    assert!(e.site_ids().is_empty());
    assert!(walk(&dir.0).iter().all(|p| !p.contains("site-1/")));
}

/// The store envelope of kind `M` around a body (FORMAT.md), as the
/// journal is written.
fn seal_manifest_kind(body: &[u8]) -> Vec<u8> {
    let mut out = b"HITMAP\0M".to_vec();
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(body);
    let crc = crc32(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn engine() -> Engine {
    let mut e = Engine::in_memory();
    e.add_site(
        SiteConfig::new(1)
            .time_zone("Pacific/Kiritimati")
            .section("News", ["/news"]),
    )
    .unwrap();
    e.ingest([
        Hit::pageview(1, 1_717_200_000, "a", "https://x.org/news/a"),
        Hit::pageview(1, 1_717_300_000, "b", "https://x.org/about"),
    ])
    .unwrap();
    e
}

#[test]
fn no_date_can_panic_the_api() {
    let e = engine();
    let methods = hitmap::supported_methods()
        .into_iter()
        .map(|m| match m {
            "CustomDimensions.getCustomDimension" => format!("{m}&dimension=x"),
            m => m.to_string(),
        })
        .collect::<Vec<_>>();
    for method in &methods {
        for period in ["day", "week", "month", "year", "range"] {
            for date in [
                "%2B262142-12-31",
                "-262143-01-01",
                "-262143-01-01,1970-01-01",
                "0000-01-01",
                "9999-12-31",
                "0001-01-01",
                "0001-01-01,9999-12-31",
                "last3660",
                "previous3660",
                "last99999999999999999999",
                "9999-12-31,today",
            ] {
                let q = format!("method={method}&idSite=1&period={period}&date={date}");
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| e.api(&q)));
                let r = r.unwrap_or_else(|_| panic!("panicked: {q}"));
                if let Err(err) = r {
                    assert!(
                        matches!(err, Error::Date { .. } | Error::Request(_)),
                        "{q}: {err:?}"
                    );
                }
            }
        }
    }
    // The dates of the issue are errors that name the range.
    let err = e
        .api("method=VisitsSummary.get&idSite=1&period=week&date=%2B262142-12-31")
        .unwrap_err();
    assert!(
        err.to_string().contains("0001-01-01 to 9999-12-31"),
        "{err}"
    );
}

#[test]
fn many_periods_answer_as_each_period_alone() {
    let e = engine();
    let now = chrono::DateTime::from_timestamp(1_717_400_000, 0).unwrap();
    for method in [
        "Hitmap.getSections",
        "VisitsSummary.get",
        "Actions.getPageUrls",
    ] {
        for extra in ["", "&section=/news", "&segment=pageUrl%3D@news"] {
            let q = format!("method={method}&idSite=1&period=day&date=last3660{extra}");
            let all: serde_json::Value = serde_json::from_str(&e.api_at(&q, now).unwrap()).unwrap();
            let map = all.as_object().unwrap();
            assert_eq!(map.len(), 3660);
            for day in ["2024-06-01", "2024-06-02", "2024-06-03", "2015-01-01"] {
                let one = format!("method={method}&idSite=1&period=day&date={day}{extra}");
                let one: serde_json::Value =
                    serde_json::from_str(&e.api_at(&one, now).unwrap()).unwrap();
                // A single-row getter's period without visits is a row of
                // zeros alone, an empty element among several (Matomo's).
                if map[day] == serde_json::json!([]) && one.get("nb_visits").is_some() {
                    assert_eq!(
                        one["nb_visits"],
                        serde_json::json!(0),
                        "{method} {extra} {day}"
                    );
                } else {
                    assert_eq!(map[day], one, "{method} {extra} {day}");
                }
            }
        }
    }
    // More periods than the cap is an error that says the cap.
    let err = e
        .api("method=VisitsSummary.get&idSite=1&period=day&date=last3661")
        .unwrap_err();
    assert!(err.to_string().contains("1 to 3660"), "{err}");
}

#[test]
fn a_deadline_stops_a_request_with_a_clear_error() {
    let e = engine();
    let q = "method=Hitmap.getSections&idSite=1&period=day&date=last3660&section=/news";
    let passed = ApiOptions::default().deadline(Instant::now());
    let err = e.api_with(q, &passed).unwrap_err();
    assert!(matches!(err, Error::DeadlineExceeded(_)), "{err:?}");
    assert!(err.to_string().contains("ran out of time"), "{err}");
    assert!(err.to_api_json().starts_with(r#"{"result":"error""#));
    let roomy = ApiOptions::default().timeout(Duration::from_secs(600));
    assert_eq!(e.api_with(q, &roomy).unwrap(), e.api(q).unwrap());
}

#[test]
fn hits_past_the_last_day_in_the_site_zone_are_rejected() {
    let mut e = engine();
    let line = r#"{"site":1,"visitor":"k","ts":"9999-12-31T23:59:59Z","url":"https://x.org/"}"#;
    let out = e.ingest_ndjson(line.as_bytes()).unwrap();
    assert_eq!(out.accepted, 0);
    assert!(
        out.rejected[0].reason.contains("10000-01-01"),
        "{:?}",
        out.rejected
    );
    // The same instant is fine on a UTC site.
    e.add_site(SiteConfig::new(2)).unwrap();
    let line = line.replace(r#""site":1"#, r#""site":2"#);
    assert_eq!(e.ingest_ndjson(line.as_bytes()).unwrap().accepted, 1);
}

#[test]
fn every_non_blank_line_is_accepted_or_rejected() {
    let mut e = engine();
    let input = "\u{b}\n\u{c}\n\u{a0}\n \t\r\n\n{\"site\":1,\"visitor\":\"f\",\"ts\":1717200000,\"url\":\"https://x.org/\"}\n";
    let out = e.ingest_ndjson(input.as_bytes()).unwrap();
    assert_eq!(out.accepted, 1);
    let lines: Vec<u64> = out.rejected.iter().map(|r| r.line).collect();
    assert_eq!(lines, [1, 2, 3]);
    assert!(
        out.rejected
            .iter()
            .all(|r| r.reason.starts_with("not valid JSON"))
    );
}

#[test]
fn unknown_sections_are_request_errors() {
    let e = engine();
    let err = e
        .api("method=VisitsSummary.get&idSite=1&period=day&date=2024-06-01&section=Nope")
        .unwrap_err();
    assert!(matches!(err, Error::UnknownSection(_)), "{err:?}");
}

/// A chunk's files are written on another thread while the next chunk is
/// read: when that write fails, the ingest stops with the error, the
/// engine answers what the disk holds, nothing of the failed generation
/// stays, and a re-run finishes the input exactly once.
#[test]
fn a_failed_background_commit_stops_the_ingest_and_a_rerun_completes_it() {
    let mut input = Vec::new();
    for day in 0..20i64 {
        for i in 0..50i64 {
            let ts = 1_717_200_000 + day * 86_400 + i * 10;
            input.extend_from_slice(
                format!("{{\"site\":1,\"visitor\":\"v{i}\",\"ts\":{ts},\"url\":\"https://x.org/p{i}\"}}\n")
                    .as_bytes(),
            );
        }
    }
    let options = hitmap::IngestOptions::default().chunk_bytes(input.len() / 6);
    let dir = TempDir::new("background-commit");
    let mut e = Engine::open(&dir.0).unwrap();
    e.set_live_limit(0);
    e.set_query_threads(2);
    e.add_site(SiteConfig::new(1)).unwrap();
    // 2024-06-11's file (day 10, in the fourth chunk) cannot be written,
    // whatever generation writes it.
    let days = dir.0.join("site-1/days");
    let blockers: Vec<_> = (1..40)
        .map(|g| days.join(format!("2024-06-11-{g}.day.tmp")))
        .collect();
    for b in &blockers {
        std::fs::create_dir_all(b).unwrap();
    }
    let err = e.ingest_ndjson_with(&input[..], &options).unwrap_err();
    assert!(matches!(err, Error::Store { .. }), "{err}");
    let held = e.query(&Query::site(1)).unwrap().visits_summary();
    assert!(held.nb_visits >= 150 && held.nb_visits < 1000, "{held:?}");
    // What the engine answers is what a reader of the disk sees.
    let reader = Engine::open_read_only(&dir.0).unwrap();
    assert_eq!(
        reader.query(&Query::site(1)).unwrap().visits_summary(),
        held
    );
    drop(reader);
    for b in &blockers {
        std::fs::remove_dir(b).unwrap();
    }
    let leftovers: Vec<String> = walk(&dir.0)
        .into_iter()
        .filter(|p| p.ends_with(".tmp") || p.ends_with("PENDING"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let again = e.ingest_ndjson_with(&input[..], &options).unwrap();
    assert!(again.skipped_batches >= 1, "{again:?}");
    let mut whole = Engine::in_memory();
    whole.add_site(SiteConfig::new(1)).unwrap();
    whole.ingest_ndjson(&input[..]).unwrap();
    let want = whole.query(&Query::site(1)).unwrap().visits_summary();
    assert_eq!(want.nb_visits, 1000);
    assert_eq!(e.query(&Query::site(1)).unwrap().visits_summary(), want);
    drop(e);
    let reopened = Engine::open_read_only(&dir.0).unwrap();
    assert_eq!(
        reopened.query(&Query::site(1)).unwrap().visits_summary(),
        want
    );
}

/// The requests of a bulk share the bound on periods one request has, so
/// a bulk of many long ranges cannot build an answer of gigabytes.
#[test]
fn a_bulk_request_shares_one_bound_on_periods() {
    let mut e = Engine::in_memory();
    e.add_site(SiteConfig::new(1)).unwrap();
    e.ingest([Hit::pageview(1, 1_717_200_000, "a", "https://x.org/")])
        .unwrap();
    let inner = hitmap::encode_query_value(
        "method=VisitsSummary.get&idSite=1&period=day&date=2024-01-01,2024-03-31",
    );
    let bulk = |n: usize| {
        let urls: Vec<String> = (0..n).map(|i| format!("urls[{i}]={inner}")).collect();
        e.api(&format!(
            "method=API.getBulkRequest&format=json&{}",
            urls.join("&")
        ))
    };
    // 40 x 91 periods fit in 3660; 41 do not.
    let ok: serde_json::Value = serde_json::from_str(&bulk(40).unwrap()).unwrap();
    assert_eq!(ok.as_array().unwrap().len(), 40);
    let err = bulk(41).unwrap_err().to_string();
    assert!(
        err.contains("3731 periods") && err.contains("split"),
        "{err}"
    );
}
