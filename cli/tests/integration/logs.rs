//! `hitmap ingest --log-format`: access logs end to end, compressed
//! files and stdin, the summary, a re-run, bad options.

use std::io::Write;
use std::process::{Command, Stdio};

use hitmap::Engine;
use serde_json::Value;

use crate::{TempDir, hitmap, text};

fn fixture(name: &str) -> String {
    format!(
        "{}/../intake/tests/data/matomo-logs/matomo-core/access-logs/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn store(dir: &TempDir) -> String {
    let store = dir.join("store");
    let s = store.to_str().unwrap().to_owned();
    let out = hitmap(&["init", &s, "--site", "1", "--host", "piwik.net"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    s
}

fn visits(store: &str, from: &str, to: &str) -> (u64, u64) {
    let e = Engine::open_read_only(store).unwrap();
    let v: Value = serde_json::from_str(
        &e.api(&format!(
            "method=VisitsSummary.get&idSite=1&period=range&date={from},{to}&format=json"
        ))
        .unwrap(),
    )
    .unwrap();
    (
        v["nb_visits"].as_u64().unwrap(),
        v["nb_actions"].as_u64().unwrap(),
    )
}

#[test]
fn a_gzipped_log_goes_in_and_a_rerun_is_skipped() {
    let dir = TempDir::new("logs");
    let s = store(&dir);
    let gz = dir.join("access.log.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::fast(),
    );
    enc.write_all(&std::fs::read(fixture("fake_logs.log")).unwrap())
        .unwrap();
    enc.finish().unwrap();
    let gz = gz.to_str().unwrap();
    let out = hitmap(&["ingest", &s, "--log-format", "auto", gz, "--no-progress"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    for needle in [
        "17 hits (17 page views, 0 downloads), 7 skipped, 1 invalid",
        "format ncsa_extended (recognised)",
        "skipped 2: static file",
        "skipped 3: HTTP error (4xx, 5xx)",
        "line 3:",
    ] {
        assert!(err.contains(needle), "{needle:?} not in\n{err}");
    }
    assert_eq!(visits(&s, "2012-08-09", "2012-08-11"), (17, 17));
    // Again: nothing changes.
    let out = hitmap(&[
        "ingest",
        &s,
        "--log-format",
        "combined",
        gz,
        "--no-progress",
    ]);
    assert!(out.status.success());
    assert!(
        text(&out.stderr).contains("already in the store"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(visits(&s, "2012-08-09", "2012-08-11"), (17, 17));
    // A dry run says so and stores nothing.
    let dir3 = TempDir::new("logs-dry");
    let s3 = store(&dir3);
    let out = hitmap(&[
        "ingest",
        &s3,
        "--log-format",
        "auto",
        gz,
        "--no-progress",
        "--dry-run",
    ]);
    assert!(
        text(&out.stderr).contains("dry run: nothing was stored"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stderr).contains("17 hits"),
        "{}",
        text(&out.stderr)
    );
    let stored = Engine::open_read_only(&s3)
        .unwrap()
        .export_hits(1, "2012-08-01", "2013-12-31")
        .unwrap();
    assert!(stored.is_empty());
    // With every switch on, into a new store: the static files count.
    let dir2 = TempDir::new("logs-all");
    let s2 = store(&dir2);
    let out = hitmap(&[
        "ingest",
        &s2,
        "--log-format",
        "auto",
        gz,
        "--no-progress",
        "--enable-static",
        "--enable-http-errors",
        "--enable-http-redirects",
        "--exclude-path",
        "/docs/*",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("skipped 4: path filtered out"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn stdin_with_a_regex() {
    let dir = TempDir::new("logs-stdin");
    let s = store(&dir);
    let mut child = Command::new(env!("CARGO_BIN_EXE_hitmap"))
        .args([
            "ingest",
            &s,
            "-",
            "--no-progress",
            "--log-format-regex",
            r#"(?P<ip>\S+) - - \[(?P<date>.*?) (?P<timezone>.*?)\] (?P<status>\S+) "\S+ (?P<path>.*?) \S+" (?P<generation_time_micro>\S+)"#,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&std::fs::read(fixture("fake_logs_custom.log")).unwrap())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("format custom regex"));
    assert_eq!(visits(&s, "2012-09-30", "2012-09-30"), (1, 10));
}

#[test]
fn bad_log_options_say_what_to_do() {
    let dir = TempDir::new("logs-bad");
    let s = store(&dir);
    let log = fixture("fake_logs.log");
    let out = hitmap(&["ingest", &s, "--log-format", "apache", &log]);
    assert_eq!(out.status.code(), Some(2), "a usage error");
    let err = text(&out.stderr);
    assert!(
        err.contains("unknown format \"apache\"") && err.contains("ncsa_extended"),
        "{err}"
    );
    let out = hitmap(&["ingest", &s, "--log-format", "auto", "--idsite", "7", &log]);
    assert!(
        text(&out.stderr).contains("site 7 is not in the store"),
        "{}",
        text(&out.stderr)
    );
    let out = hitmap(&["ingest", &s, "--log-format-regex", "(?P<ip>\\S+)", &log]);
    assert!(
        text(&out.stderr).contains("(?P<date>...)"),
        "{}",
        text(&out.stderr)
    );
    let out = hitmap(&[
        "ingest",
        &s,
        "--log-format",
        "auto",
        "--geoip",
        "/no/GeoLite2.mmdb",
        &log,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("/no/GeoLite2.mmdb is not a readable MaxMind database"),
        "{}",
        text(&out.stderr)
    );
    let out = hitmap(&["ingest", &s, "--log-format", "auto", "/no/such.log"]);
    assert!(
        text(&out.stderr).contains("cannot open /no/such.log"),
        "{}",
        text(&out.stderr)
    );
}

/// The cron pattern through the command line: `hitmap ingest
/// --log-format auto access.log` every few minutes while the log grows,
/// then after its rotation and compression, counts each request once
/// (the same visits and actions as the whole log ingested once), and says
/// what it skipped.
#[test]
fn a_cron_over_a_growing_rotated_and_compressed_log_counts_each_line_once() {
    let dir = TempDir::new("logs-cron");
    let (cron, once) = (store(&dir), {
        let store = dir.join("once");
        let s = store.to_str().unwrap().to_owned();
        let out = hitmap(&["init", &s, "--site", "1", "--host", "piwik.net"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        s
    });
    let bytes = std::fs::read(fixture("fake_logs.log")).unwrap();
    let lines: Vec<&[u8]> = bytes.split_inclusive(|&b| b == b'\n').collect();
    let (log, log1, log2) = (
        dir.join("access.log"),
        dir.join("access.log.1"),
        dir.join("access.log.2.gz"),
    );
    let run = |files: &[&std::path::Path]| {
        let mut args = vec![
            "ingest",
            cron.as_str(),
            "--log-format",
            "auto",
            "--no-progress",
        ];
        args.extend(files.iter().map(|f| f.to_str().unwrap()));
        let out = hitmap(&args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stderr)
    };
    let half = lines.len() / 2;
    let mut part = lines[..half].concat();
    part.extend_from_slice(&lines[half][..10]);
    std::fs::write(&log, &part).unwrap();
    let first = run(&[&log]);
    assert!(first.contains("left for the next run"), "{first}");
    std::fs::write(&log, &bytes).unwrap();
    let grown = run(&[&log]);
    assert!(grown.contains("already in the store"), "{grown}");
    std::fs::rename(&log, &log1).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&bytes).unwrap();
    std::fs::write(&log2, gz.finish().unwrap()).unwrap();
    std::fs::remove_file(&log1).unwrap();
    let last = run(&[&log2]);
    assert!(last.contains("0 hits"), "{last}");
    let whole = dir.join("whole.log");
    std::fs::write(&whole, &bytes).unwrap();
    let out = hitmap(&[
        "ingest",
        &once,
        "--log-format",
        "auto",
        "--no-progress",
        whole.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let want = visits(&once, "2012-08-09", "2012-08-11");
    assert_eq!(want, (17, 17));
    assert_eq!(visits(&cron, "2012-08-09", "2012-08-11"), want);
}
