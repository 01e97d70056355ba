//! Lazy readers (`Engine::open_reader`): the same answers as the writer
//! that holds every day, reads bounded by the days asked, a cache held to
//! its budget, and refreshes that only ever show whole commits.

use chrono::DateTime;
use hitmap::{Engine, Hit, Query, ReaderOptions, SiteConfig};

use crate::store::TempDir;

/// A method's answer (or error) with the parameters of `extra` it takes:
/// one it refuses as not applying to it is left out.
pub(crate) fn answer_with(
    e: &Engine,
    base: &str,
    extra: &[&str],
    now: DateTime<chrono::Utc>,
) -> String {
    let mut params: Vec<&str> = extra.to_vec();
    loop {
        let q = std::iter::once(base)
            .chain(params.iter().copied())
            .collect::<Vec<_>>()
            .join("&");
        match e.api_at(&q, now) {
            Ok(text) => return text,
            Err(err) => {
                let msg = err.to_string();
                // "parameter 'idDimension/dimension' does not apply to …"
                let named = msg
                    .strip_prefix("parameter '")
                    .and_then(|rest| rest.split_once("' does not apply"))
                    .map(|(names, _)| names.split('/').collect::<Vec<_>>())
                    .unwrap_or_default();
                let refused = params.iter().position(|p| {
                    let name = p.split('=').next().unwrap_or_default();
                    named.contains(&name) || msg.starts_with(&format!("{name} does not apply"))
                });
                match refused {
                    Some(i) => {
                        params.remove(i);
                    }
                    None => return format!("error: {msg}"),
                }
            }
        }
    }
}

/// The parameters some methods need: a dimension, a page, a download, an
/// outlink, a visitor, a goal.
pub(crate) const METHOD_PARAMS: [&str; 6] = [
    "idDimension=1",
    "pageUrl=https://intranet.example.org/",
    "downloadUrl=https%3A%2F%2Fintranet.example.org%2Fdocs%2Ffiles%2Fform-1.pdf%3Fsid%3D9",
    "outlinkUrl=https://www.partner1.example/",
    "visitorId=v1",
    "idGoal=1",
];

/// Every supported method over `dates`, as text (answers and errors).
pub(crate) fn every_answer(e: &Engine, dates: &str) -> Vec<(String, String)> {
    let now = DateTime::from_timestamp(1_767_000_000, 0).unwrap();
    let mut out = Vec::new();
    for method in hitmap::supported_methods() {
        for extra in [
            "",
            "&segment=visitorType==returning",
            "&flat=1&filter_limit=-1",
        ] {
            let q = format!("method={method}&idSite=1&period=range&date={dates}{extra}");
            let a = answer_with(e, &q, &METHOD_PARAMS, now);
            out.push((q, a));
        }
    }
    out
}

/// The sample intranet over `days` days, in a store of sealed days.
pub(crate) fn sample_store(dir: &std::path::Path, days: u32) -> Engine {
    let cfg = hitmap::sample::SampleConfig {
        days,
        visitors: 400,
        ..Default::default()
    };
    let mut e = Engine::open(dir).unwrap();
    e.add_site(hitmap::sample::site_config(&cfg)).unwrap();
    e.ingest(hitmap::sample::generate(&cfg)).unwrap();
    e.seal().unwrap();
    e
}

#[test]
fn a_lazy_reader_answers_every_method_as_the_writer_with_a_tiny_cache() {
    let dir = TempDir::new("lazy-equal");
    let writer = sample_store(&dir.0, 40);
    // A budget far below one day: every query reads its days again.
    for cache_mb in [0, 1, 64] {
        let reader = Engine::open_reader(
            dir.0.to_str().unwrap(),
            ReaderOptions::default().cache_mb(cache_mb),
        )
        .unwrap();
        for dates in [
            "2025-01-01,2025-02-09",
            "2025-01-10,2025-01-12",
            "2025-01-20,2025-01-20",
        ] {
            let want = every_answer(&writer, dates);
            let got = every_answer(&reader, dates);
            for ((q, w), (_, g)) in want.iter().zip(&got) {
                assert_eq!(g, w, "cache {cache_mb} MiB: {q}");
            }
            assert!(reader.cached_bytes() <= cache_mb << 20);
        }
    }
}

#[test]
fn reads_follow_the_days_asked() {
    let dir = TempDir::new("lazy-reads");
    drop(sample_store(&dir.0, 60));
    let reader = Engine::open_reader(dir.0.to_str().unwrap(), ReaderOptions::default()).unwrap();
    // Opening: the manifest, and the site's config and dictionaries.
    let open = reader.read_stats();
    assert_eq!(open.requests, 3, "{open:?}");
    let q = |from: &str, to: &str| {
        reader
            .query(&Query::site(1).range(from, to))
            .unwrap()
            .visits_summary()
    };
    q("2025-01-05", "2025-01-05");
    let one = reader.read_stats();
    // The day, and the visitor history the first day read needs.
    assert_eq!(one.requests - open.requests, 2);
    q("2025-01-06", "2025-02-04");
    let thirty = reader.read_stats();
    // The days, and February's history page.
    assert_eq!(thirty.requests - one.requests, 30 + 1);
    // The bytes are exactly those days' files.
    let file_bytes = |from: &str, to: &str| -> u64 {
        std::fs::read_dir(dir.0.join("site-1/days"))
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                (from..=to).contains(&&name[..10])
            })
            .map(|e| e.metadata().unwrap().len())
            .sum()
    };
    // A month's history page: its newest file (older ones are retired).
    let page = |month: &str| -> u64 {
        std::fs::read_dir(dir.0.join("site-1/history"))
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| e.file_name().to_string_lossy().starts_with(month))
            .max_by_key(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name[8..].trim_end_matches(".vis").parse::<u64>().unwrap()
            })
            .unwrap()
            .metadata()
            .unwrap()
            .len()
    };
    assert_eq!(
        one.bytes - open.bytes,
        file_bytes("2025-01-05", "2025-01-05") + page("2025-01")
    );
    assert_eq!(
        thirty.bytes - one.bytes,
        file_bytes("2025-01-06", "2025-02-04") + page("2025-02")
    );
    // Cached: asking again reads nothing.
    q("2025-01-06", "2025-02-04");
    assert_eq!(reader.read_stats(), thirty);
}

#[test]
fn a_store_without_a_visitor_history_is_read_the_slow_way_with_equal_answers() {
    let dir = TempDir::new("lazy-nohistory");
    let writer = sample_store(&dir.0, 20);
    let want = every_answer(&writer, "2025-01-03,2025-01-12");
    drop(writer);
    // As written before histories existed: no visitors file, none named.
    crate::store::edit_manifest(&dir.0, |body| {
        for (_, site) in body["sites"].as_object_mut().unwrap() {
            site.as_object_mut().unwrap().remove("history");
        }
    });
    let reader = Engine::open_reader(dir.0.to_str().unwrap(), ReaderOptions::default()).unwrap();
    assert_eq!(every_answer(&reader, "2025-01-03,2025-01-12"), want);
}

/// 20 batches, each a day of visits plus late hits for earlier days (so
/// the visitor history of cached days changes), some small (write-ahead
/// log), some sealed.
fn batches() -> Vec<Vec<Hit>> {
    let base = 1_735_700_000i64; // 2025-01-01
    (0..20i64)
        .map(|b| {
            let mut hits = Vec::new();
            for v in 0..30 {
                let visitor = format!("v{}", (v * 7 + b) % 45);
                let ts = base + b * 86_400 + v * 600;
                hits.push(Hit::pageview(
                    1,
                    ts,
                    &visitor,
                    format!("https://x.org/p{}", v % 5),
                ));
                if v % 6 == 0 && b > 2 {
                    // A late visit two days back.
                    hits.push(Hit::pageview(
                        1,
                        ts - 2 * 86_400 + 300,
                        &visitor,
                        "https://x.org/late",
                    ));
                }
            }
            hits
        })
        .collect()
}

fn fingerprint(e: &Engine) -> String {
    let now = DateTime::from_timestamp(1_767_000_000, 0).unwrap();
    let q = |m: &str| {
        e.api_at(
            &format!("method={m}&idSite=1&period=day&date=2025-01-01,2025-01-25"),
            now,
        )
        .unwrap()
    };
    q("VisitsSummary.get")
        + &q("VisitFrequency.get")
        + &q("Actions.getPageUrls&flat=1&filter_limit=-1")
}

#[test]
fn a_refreshing_reader_sees_whole_batches_while_a_writer_commits() {
    let dir = TempDir::new("lazy-refresh");
    let site = SiteConfig::new(1);
    // What each whole batch count answers.
    let mut memory = Engine::in_memory();
    memory.add_site(site.clone()).unwrap();
    let mut states = vec![fingerprint(&memory)];
    for b in batches() {
        memory.ingest(b).unwrap();
        states.push(fingerprint(&memory));
    }
    let mut writer = Engine::open(&dir.0).unwrap();
    writer.add_site(site).unwrap();
    writer.seal().unwrap();
    let path = dir.0.to_str().unwrap().to_string();
    let reader_thread = std::thread::spawn(move || {
        let mut reader = Engine::open_reader(&path, ReaderOptions::default().cache_mb(1)).unwrap();
        let mut seen = Vec::new();
        loop {
            let f = fingerprint(&reader);
            let n = states.iter().position(|s| *s == f);
            assert!(
                n.is_some(),
                "a reader saw a state that is no whole batch count"
            );
            seen.push(n.unwrap());
            if n == Some(20) {
                return seen;
            }
            reader.refresh().unwrap();
        }
    });
    for (i, b) in batches().into_iter().enumerate() {
        if i % 3 == 0 {
            writer.set_live_limit(0); // this batch rebuilds its days
        } else {
            writer.set_live_limit(hitmap::DEFAULT_LIVE_LIMIT); // the log
        }
        writer.ingest(b).unwrap();
        if i % 5 == 4 {
            writer.seal().unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let seen = reader_thread.join().unwrap();
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
}

#[test]
fn a_refresh_keeps_unchanged_days_and_reads_only_what_changed() {
    let dir = TempDir::new("lazy-keep");
    let mut writer = sample_store(&dir.0, 30);
    let mut reader =
        Engine::open_reader(dir.0.to_str().unwrap(), ReaderOptions::default()).unwrap();
    let month = Query::site(1).range("2025-01-01", "2025-01-30");
    reader.query(&month).unwrap().visits_summary();
    assert!(!reader.refresh().unwrap(), "nothing was committed");
    // A commit that rewrites one day (a large batch, sealed).
    writer.set_live_limit(0);
    writer
        .ingest([Hit::pageview(
            1,
            1_736_500_000,
            "new",
            "https://intranet.example.org/",
        )])
        .unwrap();
    let before = reader.read_stats();
    assert!(reader.refresh().unwrap());
    let after_refresh = reader.read_stats();
    // The manifest, config, dictionaries and history: no day.
    assert_eq!(after_refresh.requests - before.requests, 4);
    let got = reader.query(&month).unwrap().visits_summary();
    assert_eq!(
        reader.read_stats().requests - after_refresh.requests,
        1,
        "only the changed day"
    );
    assert_eq!(got, writer.query(&month).unwrap().visits_summary());
}

#[test]
fn stale_readers_refresh_before_a_request() {
    let dir = TempDir::new("lazy-stale");
    let mut writer = sample_store(&dir.0, 3);
    let options = ReaderOptions::default().max_age(std::time::Duration::ZERO);
    let mut reader = Engine::open_reader(dir.0.to_str().unwrap(), options).unwrap();
    writer
        .ingest([Hit::pageview(
            1,
            1_735_750_000,
            "new",
            "https://intranet.example.org/",
        )])
        .unwrap();
    assert!(reader.is_stale());
    assert!(reader.refresh_if_stale().unwrap());
    let q = Query::site(1);
    assert_eq!(
        reader.query(&q).unwrap().visits_summary(),
        writer.query(&q).unwrap().visits_summary()
    );
    let never = Engine::open_reader(dir.0.to_str().unwrap(), ReaderOptions::default()).unwrap();
    assert!(!never.is_stale());
}

#[test]
fn unknown_locations_are_clear_errors() {
    let err = Engine::open_reader("ftp://host/x", ReaderOptions::default()).unwrap_err();
    assert!(err.to_string().contains("ftp://"), "{err}");
    let dir = TempDir::new("lazy-empty");
    std::fs::create_dir_all(&dir.0).unwrap();
    let err = Engine::open_reader(dir.0.to_str().unwrap(), ReaderOptions::default()).unwrap_err();
    assert!(err.to_string().contains("no store here"), "{err}");
}

/// Every month of the year, a summary and every row of the page report.
fn every_month(e: &Engine) -> String {
    let now = DateTime::from_timestamp(1_767_000_000, 0).unwrap();
    let mut out = String::new();
    // Ranges that cut months (the 2nd to the next 1st), so that days are
    // read: whole months would come from their rollups.
    for m in 1..=12 {
        let to = if m == 12 {
            "2025-12-31".to_owned()
        } else {
            format!("2025-{:02}-01", m + 1)
        };
        for method in [
            "VisitsSummary.get",
            "Actions.getPageUrls&flat=1&filter_limit=-1",
        ] {
            let q = format!("method={method}&idSite=1&period=range&date=2025-{m:02}-02,{to}");
            out += &e.api_at(&q, now).unwrap();
        }
    }
    out
}

/// A process's resident and peak resident memory (kB), from /proc.
fn rss_kb() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Child side of the memory test: opens the store with a budget, answers
/// every month, checks the cache after each, prints what it answered
/// (hashed) and its memory. Does nothing unless the parent asked.
#[test]
fn budget_child() {
    let (Some(dir), Some(mb)) = (
        std::env::var_os("HITMAP_BUDGET_DIR"),
        std::env::var("HITMAP_BUDGET_MB").ok(),
    ) else {
        return;
    };
    let mb: usize = mb.parse().unwrap();
    let reader =
        Engine::open_reader(dir.to_str().unwrap(), ReaderOptions::default().cache_mb(mb)).unwrap();
    let (opened, _) = rss_kb();
    let answers = every_month(&reader);
    assert!(reader.cached_bytes() <= mb << 20);
    let (_, peak) = rss_kb();
    println!(
        "budget {} {opened} {peak}",
        xxhash_rust::xxh3::xxh3_64(answers.as_bytes())
    );
}

#[test]
fn a_cache_budget_bounds_memory_over_a_year_of_months_with_equal_answers() {
    let dir = TempDir::new("lazy-budget");
    let cfg = hitmap::sample::SampleConfig {
        days: 365,
        visitors: 1500,
        ..Default::default()
    };
    let want = {
        let mut e = Engine::open(&dir.0).unwrap();
        e.add_site(hitmap::sample::site_config(&cfg)).unwrap();
        e.ingest(hitmap::sample::generate(&cfg)).unwrap();
        e.seal().unwrap();
        xxhash_rust::xxh3::xxh3_64(every_month(&e).as_bytes())
    };
    let run = |mb: usize| -> (u64, u64, u64) {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "reader::budget_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("HITMAP_BUDGET_DIR", &dir.0)
            .env("HITMAP_BUDGET_MB", mb.to_string())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text
            .lines()
            .find_map(|l| l.split_once("budget ").map(|(_, rest)| rest))
            .unwrap_or_else(|| panic!("child: {text}{}", String::from_utf8_lossy(&out.stderr)));
        let v: Vec<u64> = line
            .split(' ')
            .take(3)
            .map(|x| x.trim().parse().unwrap())
            .collect();
        (v[0], v[1], v[2])
    };
    let (small_answers, small_open, small_peak) = run(4);
    let (big_answers, _, big_peak) = run(1024);
    assert_eq!(small_answers, want, "answers with a 4 MiB cache");
    assert_eq!(big_answers, want, "answers with a 1 GiB cache");
    // With a budget of a few days' archives, the peak stays within what
    // the process held after opening, the budget and a month's working
    // set; keeping every day (1 GiB budget) holds the year (about 14
    // MiB of columns since id columns are read at their exact length).
    let month_and_slack_kb = 48 << 10;
    assert!(
        small_peak <= small_open + (4 << 10) + month_and_slack_kb,
        "peak {small_peak} kB, {small_open} kB after opening"
    );
    assert!(
        small_peak + (10 << 10) < big_peak,
        "a 4 MiB budget peaked at {small_peak} kB, 1 GiB at {big_peak} kB"
    );
}
