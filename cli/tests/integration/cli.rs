//! Every subcommand end to end: outputs, exit codes, error messages.

use std::io::Write;

use hitmap::{Engine, Hit, SiteConfig};
use serde_json::Value;

use crate::{TempDir, hitmap, sample_store, text};

fn json(out: &std::process::Output) -> Value {
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)))
}

#[test]
fn help_teaches_by_example_and_documents_exit_codes() {
    let out = hitmap(&["--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for needle in [
        "Exit codes:",
        "hitmap demo",
        "hitmap init ./metrics",
        "serve",
    ] {
        assert!(help.contains(needle), "{needle} missing from\n{help}");
    }
    let out = hitmap(&["report", "--help"]);
    assert!(
        text(&out.stdout).contains("hitmap report ./metrics --site 1 --period month --date last3")
    );
    let out = hitmap(&["report", "x", "--site", "1", "--bogus"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--bogus"));
}

#[test]
fn init_ingest_report_pages_sites() {
    let dir = TempDir::new("flow");
    let store = sample_store(&dir.0);
    let s = store.to_str().unwrap();
    let engine = Engine::open_read_only(&store).unwrap();
    // report as JSON equals the engine's own API answer.
    let out = hitmap(&[
        "report",
        s,
        "--site",
        "1",
        "--period",
        "week",
        "--date",
        "2025-01-06,2025-01-19",
        "--segment",
        "deviceType==smartphone",
        "--section",
        "News",
        "--format",
        "json",
    ]);
    let want: Value = serde_json::from_str(
        &engine
            .api("method=VisitsSummary.get&idSite=1&period=week&date=2025-01-06,2025-01-19&segment=deviceType%3D%3Dsmartphone&section=News")
            .unwrap(),
    )
    .unwrap();
    assert_eq!(json(&out), want);
    // The date's form picks the period.
    let out = hitmap(&[
        "report", s, "--site", "1", "--date", "2025-01", "--format", "json",
    ]);
    let want: Value = serde_json::from_str(
        &engine
            .api("method=VisitsSummary.get&idSite=1&period=month&date=2025-01-01")
            .unwrap(),
    )
    .unwrap();
    assert_eq!(json(&out), want);
    // pages: the top N rows, as CSV.
    let out = hitmap(&[
        "pages", s, "--site", "1", "--date", "2025-01", "--limit", "5", "--format", "csv",
    ]);
    assert!(out.status.success());
    let csv = text(&out.stdout);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 6, "{csv}");
    assert!(lines[0].starts_with("label,nb_visits,nb_uniq_visitors,nb_hits"));
    // A table on request.
    let out = hitmap(&[
        "report",
        s,
        "--site",
        "1",
        "--date",
        "2025-01-10",
        "--format",
        "table",
    ]);
    assert!(
        text(&out.stdout).contains("nb_visits"),
        "{}",
        text(&out.stdout)
    );
    // sites
    let out = hitmap(&["sites", s, "--format", "json"]);
    let sites = json(&out);
    assert_eq!(sites[0]["site"], 1);
    assert_eq!(sites[0]["timezone"], "Europe/London");
    assert_eq!(sites[0]["sections"], "News,HR");
    assert!((10..=21).contains(&sites[0]["days"].as_u64().unwrap()));
    assert!(sites[0]["bytes"].as_u64().unwrap() > 1000);
    let total: Value = serde_json::from_str(
        &engine.api("method=VisitsSummary.get&idSite=1&period=range&date=2024-01-01,2026-12-31&format_metrics=0").unwrap(),
    )
    .unwrap();
    assert_eq!(sites[0]["hits"], total["nb_actions"]);
}

#[test]
fn ingest_reports_rejects_with_line_numbers_and_exit_3() {
    let dir = TempDir::new("rejects");
    let store = dir.join("m");
    let s = store.to_str().unwrap();
    assert!(hitmap(&["init", s, "--site", "1"]).status.success());
    let file = dir.join("in.ndjson.gz");
    let body = "{\"site\":1,\"visitor\":\"a\",\"ts\":1717200000,\"url\":\"https://x.org/\"}\nnot json\n{\"site\":2,\"visitor\":\"a\",\"ts\":1717200000,\"url\":\"https://x.org/\"}\n";
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&file).unwrap(),
        flate2::Compression::fast(),
    );
    gz.write_all(body.as_bytes()).unwrap();
    gz.finish().unwrap();
    let out = hitmap(&["ingest", s, file.to_str().unwrap(), "--no-progress"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("1 hits ingested, 2 lines rejected"), "{err}");
    assert!(err.contains("line 2: not valid JSON"), "{err}");
    assert!(err.contains("line 3: site 2 is not configured"), "{err}");
}

#[test]
fn errors_say_what_to_do() {
    let dir = TempDir::new("errors");
    let missing = dir.join("nothing-here");
    let m = missing.to_str().unwrap();
    let out = hitmap(&["report", m, "--site", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("hitmap init"),
        "{}",
        text(&out.stderr)
    );
    let store = sample_store(&dir.0);
    let s = store.to_str().unwrap();
    let out = hitmap(&["report", s, "--site", "1", "--segment", "nope==x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("unknown segment field 'nope'"));
    let out = hitmap(&["report", s, "--site", "1", "--date", "2025-02-30"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("YYYY-MM-DD"));
    let out = hitmap(&["report", s, "--site", "1", "--format", "yaml"]);
    assert_eq!(out.status.code(), Some(2));
    // A locked store: another writer holds it.
    let writer = Engine::open(&store).unwrap();
    let out = hitmap(&["forget", s, "--site", "1", "--visitor", "v1"]);
    assert_eq!(out.status.code(), Some(5));
    assert!(text(&out.stderr).contains(&format!("locked by pid {}", std::process::id())));
    drop(writer);
}

/// `hitmap init --exclude-ip/--exclude-user-agent/--exclude-unknown-urls`:
/// Matomo's site exclusions drop replayed tracking requests; a rule that
/// is no address is refused, named. `--exclude-parameter` strips a query
/// parameter from the page URLs the tracker records.
#[test]
fn init_takes_matomos_exclusions() {
    let dir = TempDir::new("exclusions");
    let store = dir.join("store");
    let s = store.to_str().unwrap();
    let out = hitmap(&["init", s, "--site", "1", "--exclude-ip", "10.1.2"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("10.1.2"),
        "{}",
        text(&out.stderr)
    );
    let out = hitmap(&[
        "init",
        s,
        "--site",
        "1",
        "--host",
        "x.org",
        "--exclude-ip",
        "10.9.*.*",
        "--exclude-user-agent",
        "HeadlessChrome",
        "--exclude-unknown-urls",
        "--exclude-parameter",
        "ref",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let line = |ip: &str, url: &str, agent: &str| {
        format!(
            "{ip} - - [01/Jun/2024:10:00:00 +0000] \"GET /matomo.php?idsite=1&rec=1&url={url}&action_name=A HTTP/1.1\" 200 43 \"-\" \"{agent}\"\n"
        )
    };
    let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0";
    let log = [
        line("10.9.1.1", "https%3A%2F%2Fx.org%2F", firefox),
        line(
            "10.1.1.1",
            "https%3A%2F%2Fx.org%2F",
            "Mozilla/5.0 HeadlessChrome/120",
        ),
        line("10.1.1.2", "https%3A%2F%2Fy.org%2F", firefox),
        line(
            "10.1.1.3",
            "https%3A%2F%2Fx.org%2Fa%3Fref%3D1%26q%3D2",
            firefox,
        ),
    ]
    .concat();
    let file = dir.join("tracking.log");
    std::fs::write(&file, log).unwrap();
    let out = hitmap(&[
        "ingest",
        s,
        file.to_str().unwrap(),
        "--log-format",
        "auto",
        "--replay-tracking",
        "--no-progress",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout) + &text(&out.stderr);
    for reason in ["excluded IP", "excluded user agent", "URL not of the site"] {
        assert!(said.contains(reason), "{reason}: {said}");
    }
    let out = hitmap(&[
        "report",
        s,
        "--site",
        "1",
        "--date",
        "2024-06-01",
        "--method",
        "VisitsSummary.get",
        "--format",
        "json",
    ]);
    assert_eq!(json(&out)["nb_visits"], 1, "{}", text(&out.stdout));
    let out = hitmap(&[
        "report",
        s,
        "--site",
        "1",
        "--date",
        "2024-06-01",
        "--method",
        "Actions.getPageUrls",
        "--param",
        "flat=1",
        "--format",
        "json",
    ]);
    assert_eq!(json(&out)[0]["label"], "/a?q=2", "{}", text(&out.stdout));
}

#[test]
fn forget_delete_drop_site() {
    let dir = TempDir::new("erase");
    let store = dir.join("m");
    let s = store.to_str().unwrap();
    {
        let mut e = Engine::open(&store).unwrap();
        e.add_site(SiteConfig::new(1)).unwrap();
        e.add_site(SiteConfig::new(2)).unwrap();
        e.ingest([
            Hit::pageview(1, 1_717_200_000, "alice", "https://x.org/a"),
            Hit::pageview(1, 1_717_290_000, "bob", "https://x.org/b"),
            Hit::pageview(2, 1_717_200_000, "carol", "https://y.org/"),
        ])
        .unwrap();
    }
    let out = hitmap(&["forget", s, "--site", "1", "--visitor", "alice"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("1 hits removed"));
    let out = hitmap(&[
        "delete",
        s,
        "--site",
        "1",
        "--from",
        "2024-06-02",
        "--to",
        "2024-06-02",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(hitmap(&["drop-site", s, "--site", "2"]).status.success());
    let e = Engine::open_read_only(&store).unwrap();
    assert_eq!(e.site_ids(), [1]);
    assert!(e.site_days(1).unwrap().is_empty());
}

#[test]
fn check_names_damage_and_repairs_a_lost_manifest() {
    let dir = TempDir::new("check");
    let store = sample_store(&dir.0);
    let s = store.to_str().unwrap();
    let out = hitmap(&["check", s]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("every checksum verified"));
    // Damage one day file.
    let days = store.join("site-1/days");
    let mut files: Vec<_> = std::fs::read_dir(&days)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let victim = &files[3];
    let mut bytes = std::fs::read(victim).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(victim, &bytes).unwrap();
    let out = hitmap(&["check", s]);
    assert_eq!(out.status.code(), Some(4));
    let name = victim.file_name().unwrap().to_str().unwrap();
    assert!(text(&out.stderr).contains(name), "{}", text(&out.stderr));
    // A lost manifest: refused, then rebuilt with --repair.
    std::fs::remove_file(store.join("MANIFEST")).unwrap();
    let out = hitmap(&["check", s]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--repair"));
    let out = hitmap(&["check", s, "--repair"]);
    let all = text(&out.stdout) + &text(&out.stderr);
    assert!(all.contains("rebuilt MANIFEST: 1 site(s)"), "{all}");
    assert!(all.contains(name), "the damaged day is named: {all}");
}

/// `hitmap check --upgrade` on a format version 2 store (the golden one
/// of core's tests): its day files are rewritten in version 3 and a
/// segmented report answers as before.
#[test]
fn check_upgrades_an_older_store() {
    let golden =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/tests/golden/store-v2");
    let dir = TempDir::new("upgrade");
    let store = dir.join("store");
    let mut todo = vec![(golden.clone(), store.clone())];
    while let Some((from, to)) = todo.pop() {
        std::fs::create_dir_all(&to).unwrap();
        for e in std::fs::read_dir(&from).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                todo.push((e.path(), to.join(e.file_name())));
            } else {
                std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
            }
        }
    }
    let s = store.to_str().unwrap();
    let ask = [
        "report",
        s,
        "--site",
        "1",
        "--period",
        "range",
        "--date",
        "2025-01-01,2025-01-05",
        "--segment",
        "department==HR",
        "--format",
        "json",
    ];
    let before = hitmap(&ask);
    assert!(before.status.success(), "{}", text(&before.stderr));
    let out = hitmap(&["check", s, "--upgrade"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.contains("upgraded: 5 day file(s) rewritten in format version 3"),
        "{said}"
    );
    let after = hitmap(&ask);
    assert_eq!(text(&after.stdout), text(&before.stdout));
    let again = hitmap(&["check", s, "--upgrade"]);
    let said = text(&again.stdout);
    assert!(
        said.contains("upgraded: 0 day file(s)") && said.contains("0 report rollup(s) rebuilt"),
        "{said}"
    );
}

#[test]
fn export_round_trips_into_the_same_reports() {
    let dir = TempDir::new("export");
    let store = sample_store(&dir.0);
    let s = store.to_str().unwrap();
    let hits = dir.join("hits.out.ndjson");
    let out = hitmap(&[
        "export",
        s,
        "--site",
        "1",
        "--from",
        "2025-01-01",
        "--to",
        "2025-01-31",
        "--what",
        "hits",
        "--format",
        "ndjson",
        "--output",
        hits.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let copy = dir.join("copy");
    let c = copy.to_str().unwrap();
    crate::init_sample_site(c, &[]);
    assert!(
        hitmap(&["ingest", c, hits.to_str().unwrap(), "--no-progress"])
            .status
            .success()
    );
    let a = Engine::open_read_only(&store).unwrap();
    let b = Engine::open_read_only(&copy).unwrap();
    for q in [
        "method=VisitsSummary.get&idSite=1&period=day&date=2025-01-01,2025-01-21",
        "method=Actions.getPageUrls&idSite=1&period=month&date=2025-01-01&flat=1",
        "method=VisitFrequency.get&idSite=1&period=week&date=2025-01-06",
        "method=Referrers.getReferrerType&idSite=1&period=month&date=2025-01-01",
        "method=CustomDimensions.getCustomDimension&dimension=department&idSite=1&period=month&date=2025-01-01",
        "method=Hitmap.getSections&idSite=1&period=month&date=2025-01-01&segment=deviceType%3D%3Dsmartphone",
    ] {
        assert_eq!(a.api(q).unwrap(), b.api(q).unwrap(), "{q}");
    }
    // Visits: one row per visit, as many as the summary counts.
    let out = hitmap(&[
        "export",
        s,
        "--site",
        "1",
        "--from",
        "2025-01-01",
        "--to",
        "2025-01-21",
        "--what",
        "visits",
        "--format",
        "csv",
    ]);
    assert!(out.status.success());
    let rows = text(&out.stdout).lines().count() - 1;
    let v: Value = serde_json::from_str(
        &a.api("method=VisitsSummary.get&idSite=1&period=range&date=2025-01-01,2025-01-21")
            .unwrap(),
    )
    .unwrap();
    assert_eq!(rows as u64, v["nb_visits"].as_u64().unwrap());
    let out = hitmap(&[
        "export",
        s,
        "--site",
        "1",
        "--from",
        "2025-01-01",
        "--to",
        "2025-01-21",
        "--what",
        "visits",
        "--format",
        "parquet",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Parquet on stdout: a row per visit, a row group per day.
    let file = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        bytes::Bytes::from(out.stdout),
    )
    .unwrap();
    let days = a.site_days(1).unwrap();
    let in_range = days
        .iter()
        .filter(|d| d.to_string().as_str() <= "2025-01-21");
    assert_eq!(file.metadata().num_row_groups(), in_range.count());
    assert_eq!(
        file.metadata().file_metadata().num_rows() as u64,
        v["nb_visits"].as_u64().unwrap()
    );
    let out = hitmap(&[
        "export",
        s,
        "--site",
        "1",
        "--from",
        "2025-01-01",
        "--to",
        "2025-01-02",
        "--what",
        "rows",
        "--format",
        "parquet",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--what hits|visits"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn demo_prints_reports_and_a_rerun_changes_nothing() {
    let dir = TempDir::new("demo");
    let d = dir.join("demo");
    let args = [
        "demo",
        "--no-serve",
        "--dir",
        d.to_str().unwrap(),
        "--visitors",
        "80",
        "--days",
        "20",
    ];
    let first = hitmap(&args);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let out = text(&first.stdout);
    for needle in [
        "Generated",
        "Visits summary",
        "By month:",
        "Sections:",
        "Top pages of ",
    ] {
        assert!(out.contains(needle), "{needle}:\n{out}");
    }
    // Run from target/, not on PATH: it says how to put it there; on
    // PATH it says nothing of it.
    assert!(
        out.contains("`cargo install --path cli` puts `hitmap` on your PATH"),
        "{out}"
    );
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_hitmap"))
        .parent()
        .unwrap();
    let on_path = std::process::Command::new(env!("CARGO_BIN_EXE_hitmap"))
        .args(args)
        .env("PATH", std::env::join_paths([bin_dir]).unwrap())
        .output()
        .unwrap();
    assert!(on_path.status.success());
    assert!(!text(&on_path.stdout).contains("cargo install"));
    // The traffic ends yesterday, so relative dates show data.
    let yesterday = (chrono::Utc::now().date_naive() - chrono::Days::new(1)).to_string();
    assert!(out.contains(&format!("to {yesterday}")), "{out}");
    let e = Engine::open_read_only(&d).unwrap();
    let q = "method=VisitsSummary.get&idSite=1&period=day&date=yesterday&format=json";
    let v: serde_json::Value = serde_json::from_str(&e.api(q).unwrap()).unwrap();
    assert!(v["nb_visits"].as_u64().unwrap() > 0, "{v}");
    drop(e);
    // The examples the server prints answer with data.
    let server = crate::server::Server::start(&d, &[]);
    let printed = {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hitmap"))
            .args(["serve", d.to_str().unwrap(), "--listen", "127.0.0.1:0"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines =
            std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
        let head: Vec<String> = (0..4).map(|_| lines.next().unwrap().unwrap()).collect();
        let _ = child.kill();
        let _ = child.wait();
        head
    };
    let urls: Vec<String> = printed
        .iter()
        .filter_map(|l| {
            l.split_once("try: curl '")
                .map(|(_, r)| r.split('\'').next().unwrap().to_string())
                .or_else(|| {
                    l.split_once("REST: ")
                        .map(|(_, r)| r.split_whitespace().next().unwrap().to_string())
                })
        })
        .map(|u| {
            let path = u.splitn(4, '/').nth(3).unwrap().to_string();
            format!("{}/{path}", server.base)
        })
        .collect();
    assert_eq!(urls.len(), 2, "{printed:?}");
    // The dashboard's URL, printed right after the address, is the page.
    let dashboard = printed[1]
        .trim()
        .strip_prefix("dashboard: ")
        .expect("the dashboard line");
    let page = crate::server::get(&format!("{}/", server.base), &[]);
    assert!(
        dashboard.ends_with('/') && page.body.contains("<title>hitmap</title>"),
        "{printed:?}"
    );
    for url in urls {
        let got = crate::server::get(&url, &[]);
        let v: serde_json::Value = serde_json::from_str(&got.body).unwrap();
        assert!(crate::readme::has_data(&v), "{url}: {v}");
    }
    let second = hitmap(&args);
    let again = text(&second.stdout);
    assert!(again.contains("Using the demo store already"), "{again}");
    let tail = |s: &str| s.split_once("Visits summary").unwrap().1.to_string();
    assert_eq!(tail(&out), tail(&again));
}

#[test]
fn ingesting_the_same_file_again_changes_nothing() {
    let dir = TempDir::new("again");
    let store = sample_store(&dir.0);
    let s = store.to_str().unwrap();
    let q = "method=VisitsSummary.get&idSite=1&period=range&date=2025-01-01,2025-01-31";
    let before = Engine::open_read_only(&store).unwrap().api(q).unwrap();
    let file = dir.join("hits.ndjson");
    let out = hitmap(&["ingest", s, file.to_str().unwrap(), "--no-progress"]);
    assert!(out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("0 hits ingested") && err.contains("skipped 1 batch(es)"),
        "{err}"
    );
    assert_eq!(
        Engine::open_read_only(&store).unwrap().api(q).unwrap(),
        before
    );
    let out = hitmap(&[
        "ingest",
        s,
        file.to_str().unwrap(),
        "--no-progress",
        "--force",
    ]);
    assert!(out.status.success());
    assert_ne!(
        Engine::open_read_only(&store).unwrap().api(q).unwrap(),
        before
    );
}

#[test]
fn a_day_bundle_carries_a_day_to_another_store() {
    let dir = TempDir::new("bundle");
    let store = sample_store(&dir.0);
    let s = store.to_str().unwrap();
    let file = dir.join("2025-01-08.day");
    let out = hitmap(&[
        "export-day",
        s,
        "--site",
        "1",
        "--date",
        "2025-01-08",
        "--out",
        file.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("bytes"));
    let replica = dir.join("replica");
    let r = replica.to_str().unwrap();
    let out = hitmap(&["import-day", r, file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!("imported 2025-01-08 from {}\n", file.display())
    );
    let source = Engine::open_read_only(&store).unwrap();
    let copy = Engine::open_read_only(&replica).unwrap();
    for m in [
        "VisitsSummary.get",
        "Actions.getPageUrls&flat=1&filter_limit=-1",
        "UserCountry.getCountry",
    ] {
        let q = format!("method={m}&idSite=1&period=day&date=2025-01-08");
        assert_eq!(copy.api(&q).unwrap(), source.api(&q).unwrap(), "{q}");
    }
    drop(copy);
    // The same day again, and a damaged bundle, are errors naming the file.
    let again = hitmap(&["import-day", r, file.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again.stderr).contains("2025-01-08.day"),
        "{}",
        text(&again.stderr)
    );
    let mut bytes = std::fs::read(&file).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    let bad = dir.join("bad.day");
    std::fs::write(&bad, bytes).unwrap();
    let out = hitmap(&[
        "import-day",
        dir.join("other").to_str().unwrap(),
        bad.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("bad.day"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_period_without_data_answers_zeros_and_says_where_the_data_is() {
    let dir = TempDir::new("empty-period");
    let store = sample_store(&dir.0);
    let out = hitmap(&[
        "report",
        store.to_str().unwrap(),
        "--site",
        "1",
        "--date",
        "2020-03",
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert!(!crate::readme::has_data(&v), "Matomo's empty answer: {v}");
    let err = text(&out.stderr);
    assert!(
        err.contains(
            "site 1 has no data in period=month, date=2020-03-01 (it has data from 2025-01-01 to 2025-01-21)"
        ),
        "{err}"
    );
    let out = hitmap(&[
        "report",
        store.to_str().unwrap(),
        "--site",
        "1",
        "--date",
        "2025-01-01,2025-01-31",
    ]);
    assert!(
        !text(&out.stderr).contains("no data"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn the_server_says_in_a_header_when_a_period_holds_no_data() {
    let dir = TempDir::new("empty-period-http");
    let store = sample_store(&dir.0);
    let server = crate::server::Server::start(&store, &[]);
    let ask = |date: &str| {
        crate::server::get(
            &format!(
                "{}/index.php?module=API&method=VisitsSummary.get&idSite=1&period=month&date={date}&format=json",
                server.base
            ),
            &[],
        )
    };
    let empty = ask("2020-03-01");
    assert_eq!(empty.status, 200);
    let note = empty
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("x-hitmap-note"))
        .map(|(_, v)| v.clone());
    assert_eq!(
        note.as_deref(),
        Some(
            "site 1 has no data in period=month, date=2020-03-01 (it has data from 2025-01-01 to 2025-01-21)"
        )
    );
    let full = ask("2025-01-01");
    assert!(
        !full
            .headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("x-hitmap-note")),
        "{:?}",
        full.headers
    );
}

/// The cron pattern: `hitmap ingest` every few minutes over an NDJSON
/// file that grows, is rotated (`hits.ndjson` -> `hits.ndjson.1`, which
/// still gets its last lines) and compressed (`hits.ndjson.2.gz`), each
/// run naming every file there is. The store ends equal to one ingest
/// of all the lines, and a last run adds nothing.
#[test]
fn a_cron_over_a_growing_rotated_and_compressed_file_counts_each_line_once() {
    let dir = TempDir::new("cron");
    let init = |name: &str| {
        let store = dir.join(name);
        let out = hitmap(&["init", store.to_str().unwrap(), "--site", "1"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        store
    };
    let (cron, once) = (init("cron"), init("once"));
    let cfg = hitmap::sample::SampleConfig {
        days: 6,
        visitors: 80,
        ..Default::default()
    };
    let all: String = hitmap::sample::generate(&cfg)
        .map(|h| h.to_ndjson() + "\n")
        .collect();
    let lines: Vec<&str> = all.split_inclusive('\n').collect();
    let half = lines.len() / 2;
    let (day1, day2) = (lines[..half].concat(), lines[half..].concat());
    let (log, log1, log2) = (
        dir.join("hits.ndjson"),
        dir.join("hits.ndjson.1"),
        dir.join("hits.ndjson.2.gz"),
    );
    let run = |files: &[&std::path::Path]| {
        let mut args = vec!["ingest", cron.to_str().unwrap(), "--no-progress"];
        args.extend(files.iter().map(|f| f.to_str().unwrap()));
        let out = hitmap(&args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stderr)
    };
    let third = day1.len() / 3;
    let cut = |s: &str, n: usize| s.as_bytes()[..n].to_vec();
    std::fs::write(&log, cut(&day1, third)).unwrap();
    run(&[&log]);
    std::fs::write(&log, cut(&day1, 2 * third)).unwrap();
    run(&[&log]);
    std::fs::rename(&log, &log1).unwrap();
    std::fs::write(&log1, &day1).unwrap();
    std::fs::write(&log, cut(&day2, day2.len() / 2)).unwrap();
    run(&[&log, &log1]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(day1.as_bytes()).unwrap();
    std::fs::write(&log2, gz.finish().unwrap()).unwrap();
    std::fs::remove_file(&log1).unwrap();
    std::fs::write(&log, &day2).unwrap();
    run(&[&log, &log2]);
    let last = run(&[&log, &log2]);
    assert_eq!(last.matches(": 0 hits ingested").count(), 2, "{last}");
    assert!(
        last.contains("the part of a grown file read before"),
        "{last}"
    );
    let whole = dir.join("all.ndjson");
    std::fs::write(&whole, &all).unwrap();
    let out = hitmap(&[
        "ingest",
        once.to_str().unwrap(),
        whole.to_str().unwrap(),
        "--no-progress",
    ]);
    assert!(out.status.success());
    let ask = |store: &std::path::Path| {
        let e = Engine::open_read_only(store).unwrap();
        [
            "method=VisitsSummary.get&idSite=1&period=day&date=2025-01-01,2025-01-08",
            "method=Actions.getPageUrls&idSite=1&period=range&date=2025-01-01,2025-01-08&flat=1",
        ]
        .map(|q| e.api(q).unwrap())
    };
    let want = ask(&once);
    let days: serde_json::Value = serde_json::from_str(&want[0]).unwrap();
    let visits: u64 = days
        .as_object()
        .unwrap()
        .values()
        .filter_map(|d| d["nb_visits"].as_u64())
        .sum();
    assert!(visits > 30, "{days}");
    assert_eq!(ask(&cron), want);
}

/// `hitmap goals add|list|remove`: a goal added to a store of past days
/// answers for them at once (equal to the engine's own API answer), an
/// init keeps the goals, a bad goal is refused with its reason.
#[test]
fn goals_commands_define_goals_that_answer_for_past_days() {
    let dir = TempDir::new("goals");
    let store = sample_store(&dir.0);
    let s = store.to_str().unwrap();
    let ok = |args: &[&str]| {
        let out = hitmap(args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        text(&out.stdout)
    };
    let added = ok(&[
        "goals",
        "add",
        s,
        "--site",
        "1",
        "--name",
        "News",
        "--match",
        "url",
        "--pattern",
        "/news",
        "--revenue",
        "1.5",
    ]);
    assert!(added.contains("goal 1 of site 1 added"), "{added}");
    ok(&[
        "goals",
        "add",
        s,
        "--site",
        "1",
        "--name",
        "Titled",
        "--match",
        "title",
        "--pattern-type",
        "regex",
        "--pattern",
        "^[A-Z]",
        "--allow-multiple",
    ]);
    let bad = hitmap(&[
        "goals",
        "add",
        s,
        "--site",
        "1",
        "--name",
        "Bad",
        "--match",
        "url",
        "--pattern-type",
        "regex",
        "--pattern",
        "(",
    ]);
    assert!(!bad.status.success() && text(&bad.stderr).contains("not a regular expression"));
    ok(&["init", s, "--site", "1", "--timezone", "Europe/London"]);
    let list: serde_json::Value = serde_json::from_str(&ok(&[
        "goals", "list", s, "--site", "1", "--format", "json",
    ]))
    .unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["News", "Titled"]);
    let args = [
        "report",
        s,
        "--site",
        "1",
        "--period",
        "month",
        "--date",
        "2025-01-01",
        "--method",
        "Goals.get",
        "--param",
        "idGoal=1",
        "--format",
        "json",
    ];
    let cli: serde_json::Value = serde_json::from_str(&ok(&args)).unwrap();
    let engine = Engine::open_read_only(&store).unwrap();
    let api: serde_json::Value = serde_json::from_str(
        &engine
            .api("method=Goals.get&idSite=1&period=month&date=2025-01-01&idGoal=1&format=json")
            .unwrap(),
    )
    .unwrap();
    assert_eq!(cli, api);
    assert!(cli["nb_conversions"].as_u64().unwrap() > 0, "{cli}");
    drop(engine);
    ok(&["goals", "remove", s, "--site", "1", "--id", "1"]);
    let gone = hitmap(&["goals", "remove", s, "--site", "1", "--id", "1"]);
    assert!(!gone.status.success() && text(&gone.stderr).contains("has no goal 1"));
}

/// `hitmap sample --profile heavy` (issue 37's benchmark data): RFC 3339
/// times, the visit's fields on every hit, long lines; every line is
/// accepted, and its answers are those of the same hits as Rust values.
#[test]
fn the_heavy_sample_is_rfc_3339_lines_of_a_collector_that_ingest_whole() {
    let dir = TempDir::new("heavy-sample");
    let file = dir.0.join("heavy.ndjson");
    let out = hitmap(&[
        "sample",
        file.to_str().unwrap(),
        "--profile",
        "heavy",
        "--days",
        "3",
        "--visitors",
        "300",
        "--start",
        "2025-06-01",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines = std::fs::read_to_string(&file).unwrap();
    let n = lines.lines().count();
    assert!(n > 500, "{n} hits");
    let mean = lines.len() / n;
    assert!((300..400).contains(&mean), "{mean} bytes a line");
    for line in lines.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let ts = v["ts"].as_str().unwrap();
        assert!(chrono::DateTime::parse_from_rfc3339(ts).is_ok(), "{ts}");
        // Summer time in London: the site's offset.
        assert!(ts.ends_with("+01:00"), "{ts}");
        for field in ["device", "browser", "os", "country", "language"] {
            assert!(v[field].is_string(), "{field}: {line}");
        }
    }
    let store = dir.0.join("store");
    let s = store.to_str().unwrap();
    crate::init_sample_site(s, &[]);
    let out = hitmap(&["ingest", s, file.to_str().unwrap(), "--no-progress"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains(&format!("{n} hits ingested, 0 lines rejected")));
    // The same hits as Rust values, in memory.
    let cfg = hitmap::sample::SampleConfig {
        days: 3,
        visitors: 300,
        start: chrono::NaiveDate::from_ymd_opt(2025, 6, 1).unwrap(),
        profile: hitmap::sample::Profile::Heavy,
        ..Default::default()
    };
    let mut memory = Engine::in_memory();
    memory
        .add_site(
            hitmap::SiteConfig::new(1)
                .time_zone("Europe/London")
                .section("News", ["/news"])
                .section("HR", ["/teams/hr", "/policies"])
                .dimension("department"),
        )
        .unwrap();
    memory.ingest(hitmap::sample::generate(&cfg)).unwrap();
    let stored = Engine::open_read_only(&store).unwrap();
    for q in [
        "method=VisitsSummary.get&idSite=1&period=range&date=2025-06-01,2025-06-03",
        "method=Actions.getPageTitles&idSite=1&period=range&date=2025-06-01,2025-06-03&filter_limit=-1",
        "method=CustomDimensions.getCustomDimension&dimension=department&idSite=1&period=day&date=2025-06-02",
    ] {
        assert_eq!(stored.api(q).unwrap(), memory.api(q).unwrap(), "{q}");
    }
}
