//! Whole files into a store: Matomo's fixture logs give the visits,
//! actions, downloads and skips that the importer's rules imply; every
//! sample format imports; compressed inputs equal plain ones; nothing in
//! a file panics the importer.

use std::io::{BufRead, Write};

use hitmap::{Engine, SiteConfig};
use hitmap_intake::logs::{LogOptions, LogSummary, NO_SITE, import};
use proptest::prelude::*;
use serde_json::Value;

fn fixture(name: &str) -> Vec<u8> {
    let dir = env!("CARGO_MANIFEST_DIR");
    let core = format!("{dir}/tests/data/matomo-logs/matomo-core/access-logs/{name}");
    let analytics = format!("{dir}/tests/data/matomo-logs/log-analytics/logs/{name}");
    std::fs::read(&core)
        .or_else(|_| std::fs::read(&analytics))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn reader(bytes: Vec<u8>) -> Box<dyn BufRead + Send> {
    Box::new(std::io::Cursor::new(bytes))
}

fn engine() -> Engine {
    let mut e = Engine::in_memory();
    e.add_site(SiteConfig::new(1).host("piwik.net")).unwrap();
    e
}

fn options(pairs: &[(&str, &str)]) -> LogOptions {
    let mut o = LogOptions::default();
    for (k, v) in pairs {
        o.set(k, v).unwrap();
    }
    o
}

fn run(e: &mut Engine, bytes: Vec<u8>, o: &LogOptions) -> LogSummary {
    import(
        e,
        vec![("test.log".into(), reader(bytes).into())],
        o,
        &mut |_| {},
    )
    .unwrap()
}

fn api(e: &Engine, q: &str) -> Value {
    serde_json::from_str(&e.api(&format!("idSite=1&format=json&{q}")).unwrap()).unwrap()
}

fn summary(e: &Engine, from: &str, to: &str) -> (u64, u64, u64, u64, u64) {
    let v = api(
        e,
        &format!("method=VisitsSummary.get&period=range&date={from},{to}"),
    );
    let n = |k: &str| v[k].as_u64().unwrap_or_else(|| panic!("{k} in {v}"));
    (
        n("nb_visits"),
        n("nb_actions"),
        n("nb_uniq_visitors"),
        n("bounce_count"),
        n("sum_visit_length"),
    )
}

fn lines(bytes: &[u8]) -> u64 {
    bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .count() as u64
        + bytes
            .split(|&b| b == b'\n')
            .filter(|l| l.is_empty())
            .count() as u64
        - 1
}

/// `fake_logs.log` into site 1 (UTC), by Matomo's default rules: the 17
/// page views come from 17 (IP, user agent) pairs or user ids, so 17
/// one-action visits; static files, errors and redirects are skipped, the
/// bad request line is invalid.
#[test]
fn fake_logs_by_the_default_rules() {
    let bytes = fixture("fake_logs.log");
    let mut e = engine();
    let s = run(&mut e, bytes.clone(), &options(&[("idsite", "1")]));
    assert_eq!(s.lines, lines(&bytes));
    assert_eq!(
        (s.pageviews, s.downloads, s.invalid, s.comments),
        (17, 0, 1, 7)
    );
    assert_eq!(s.skipped["static file"], 2);
    assert_eq!(s.skipped["HTTP error (4xx, 5xx)"], 3);
    assert_eq!(s.skipped["HTTP redirect (3xx)"], 2);
    assert_eq!(s.examples[0].line, 3, "{:?}", s.examples);
    assert_eq!(
        s.formats,
        [("test.log".into(), "ncsa_extended (recognised)".into())]
    );
    assert_eq!(summary(&e, "2012-08-09", "2012-08-11"), (17, 17, 17, 17, 0));
    // User agents: one Android phone, the rest desktops; Firefox twice.
    let types = api(
        &e,
        "method=DevicesDetection.getType&period=range&date=2012-08-09,2012-08-11",
    );
    let row = |v: &Value, label: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|r| r["label"] == label)
            .map(|r| r["nb_visits"].as_u64().unwrap())
    };
    assert_eq!(row(&types, "Smartphone"), Some(1));
    assert_eq!(row(&types, "Desktop"), Some(16));
    let browsers = api(
        &e,
        "method=DevicesDetection.getBrowsers&period=range&date=2012-08-09,2012-08-11",
    );
    assert_eq!(row(&browsers, "Firefox"), Some(2));
    // The proxy's absolute URL and a plain path land on the same page.
    let pages = api(
        &e,
        "method=Actions.getPageUrls&period=range&date=2012-08-09,2012-08-11&flat=1",
    );
    let hits = |label: &str| {
        pages
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["label"] == label)
            .map(|r| r["nb_hits"].as_u64().unwrap())
    };
    assert_eq!(hits("/faq/"), Some(2), "{pages}");
    assert_eq!(hits("/docs/manage-websites/"), Some(2), "{pages}");
}

/// Every switch on: the two static files are downloads in the user's
/// visit, and the errors and redirects are page views titled as Matomo's
/// importer titles them.
#[test]
fn fake_logs_with_everything_enabled() {
    let o = options(&[
        ("idsite", "1"),
        ("enable-static", "1"),
        ("enable-bots", "1"),
        ("enable-http-errors", "1"),
        ("enable-http-redirects", "1"),
    ]);
    let mut e = engine();
    let s = run(&mut e, fixture("fake_logs.log"), &o);
    assert_eq!((s.pageviews, s.downloads, s.invalid), (22, 2, 1));
    assert!(s.skipped.is_empty(), "{:?}", s.skipped);
    // 17 visits as before, +1 for the 404, +1 the 500, +1 the 403 of 2013,
    // +1 for both redirects (same IP and agent, a minute apart).
    assert_eq!(summary(&e, "2012-08-09", "2013-10-29").0, 21);
    assert_eq!(summary(&e, "2012-08-09", "2013-10-29").1, 24);
    let downloads = api(
        &e,
        "method=Actions.getDownloads&period=range&date=2012-08-11,2012-08-11&flat=1",
    );
    assert_eq!(downloads.as_array().map(Vec::len), Some(2), "{downloads}");
    let titles = api(
        &e,
        "method=Actions.getPageTitles&period=day&date=2012-08-11&flat=1",
    );
    let text = titles.to_string();
    // Stored as Matomo's importer titles it (the URL escaped), labelled
    // as Matomo's API shows it (decoded).
    assert!(
        text.contains(
            r#""label":"404/URL = https://piwik.net/this/is/not/the/page/i/am/looking/for/""#
        ),
        "{text}"
    );
    assert!(
        text.contains("pageTitle==404%252FURL%2B%253D%2Bhttps%25253A%25252F%25252Fpiwik.net"),
        "{text}"
    );
    // The user id of the log is the visit's user, and its key: the page
    // and both static files are one visitor's.
    let hits = e.export_hits(1, "2012-08-11", "2012-08-11").unwrap();
    let user = hits
        .iter()
        .find(|h| h.user.as_deref() == Some("commonuser"))
        .unwrap();
    assert_eq!(hits.iter().filter(|h| h.visitor == user.visitor).count(), 3);
}

/// One visitor, one visit on each of three days, read newest first.
#[test]
fn reverse_chronological_visits() {
    let mut e = engine();
    let s = run(
        &mut e,
        fixture("fake_logs_visits_in_reverse_chronological_order.log"),
        &options(&[("idsite", "1")]),
    );
    assert_eq!(s.pageviews, 3);
    assert_eq!(summary(&e, "2013-04-05", "2013-04-07"), (3, 3, 1, 3, 0));
    let days = api(
        &e,
        "method=VisitsSummary.get&period=day&date=2013-04-05,2013-04-07",
    );
    for day in ["2013-04-05", "2013-04-06", "2013-04-07"] {
        assert_eq!(days[day]["nb_visits"], 1, "{days}");
    }
}

/// Matomo's custom-regex fixture: one visit of ten page views; its length
/// is 1 + last - first seconds (10:10:38 to 10:12:04).
#[test]
fn custom_regex_log() {
    let o = options(&[
        ("idsite", "1"),
        (
            "log-format-regex",
            r#"(?P<ip>\S+) - - \[(?P<date>.*?) (?P<timezone>.*?)\] (?P<status>\S+) "\S+ (?P<path>.*?) \S+" (?P<generation_time_micro>\S+)"#,
        ),
    ]);
    let mut e = engine();
    let s = run(&mut e, fixture("fake_logs_custom.log"), &o);
    assert_eq!((s.pageviews, s.invalid), (10, 0));
    assert_eq!(summary(&e, "2012-09-30", "2012-09-30"), (1, 10, 1, 0, 87));
}

/// A file imported again is recognised chunk by chunk; forced, it goes in
/// again.
#[test]
fn a_file_imported_again_is_skipped() {
    let mut e = engine();
    let o = options(&[("idsite", "1"), ("batch-bytes", "1000")]);
    let first = run(&mut e, fixture("fake_logs.log"), &o);
    assert!(first.batches > 1);
    let again = run(&mut e, fixture("fake_logs.log"), &o);
    assert_eq!(
        (again.batches, again.skipped_batches, again.pageviews),
        (0, first.batches, 0)
    );
    assert_eq!(again.skipped_lines, first.lines);
    assert_eq!(summary(&e, "2012-08-09", "2012-08-11").1, 17);
    let mut forced = o.clone();
    forced.force = true;
    run(&mut e, fixture("fake_logs.log"), &forced);
    assert_eq!(summary(&e, "2012-08-09", "2012-08-11").1, 34);
}

/// gzip, bzip2 and zstd inputs, several in one call, equal the plain file.
#[test]
fn compressed_inputs_equal_plain_ones() {
    let plain = fixture("fake_logs.log");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&plain).unwrap();
    let gz = gz.finish().unwrap();
    let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
    bz.write_all(&plain).unwrap();
    let bz = bz.finish().unwrap();
    let zst = zstd::encode_all(&plain[..], 3).unwrap();
    let o = options(&[("idsite", "1"), ("force", "1"), ("visitor-secret", "s")]);
    let mut reference = engine();
    let one = run(&mut reference, plain.clone(), &o);
    for packed in [gz, bz, zst] {
        let mut e = engine();
        let input = hitmap_intake::input::decompress(std::io::Cursor::new(packed)).unwrap();
        let s = import(&mut e, vec![("x".into(), input.into())], &o, &mut |_| {}).unwrap();
        assert_eq!(
            (s.lines, s.pageviews, &s.skipped),
            (one.lines, one.pageviews, &one.skipped)
        );
        assert_eq!(
            e.export_hits(1, "2012-08-01", "2013-12-31").unwrap(),
            reference
                .export_hits(1, "2012-08-01", "2013-12-31")
                .unwrap()
        );
    }
    // Two inputs in one call count as both.
    let mut e = engine();
    let s = import(
        &mut e,
        vec![
            ("a".into(), reader(plain.clone()).into()),
            ("b".into(), reader(fixture("fake_logs_custom.log")).into()),
        ],
        &options(&[("idsite", "1")]),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(s.formats.len(), 2);
    assert_eq!(
        s.pageviews, 17,
        "the custom log is not a known format: {s:?}"
    );
    assert_eq!(s.invalid, 1 + 10);
}

/// Hosts map lines to sites; a host no site has is skipped with its
/// reason unless a fallback site is given.
#[test]
fn hosts_choose_the_site() {
    let mut e1 = Engine::in_memory();
    e1.add_site(SiteConfig::new(1).host("piwik.org")).unwrap();
    e1.add_site(SiteConfig::new(2).host("matomo.org")).unwrap();
    let bytes = fixture("different_hosts.log");
    let s = run(&mut e1, bytes.clone(), &LogOptions::default());
    // shop.matomo.org and www.example.fr are no site's.
    let nowhere = s.skipped[NO_SITE];
    assert_eq!(nowhere, 2, "{s:?}");
    let on = |e: &Engine, site: u32| {
        e.export_hits(site, "2020-08-01", "2020-08-31")
            .unwrap()
            .len() as u64
    };
    assert!(on(&e1, 1) > 0 && on(&e1, 2) > 0);
    assert_eq!(on(&e1, 1) + on(&e1, 2), s.pageviews + s.downloads);
    // Without piwik.org's site and no fallback, its lines have no site.
    let mut e = Engine::in_memory();
    e.add_site(SiteConfig::new(2).host("matomo.org")).unwrap();
    e.add_site(SiteConfig::new(3).host("example.com")).unwrap();
    let s2 = run(&mut e, bytes.clone(), &LogOptions::default());
    assert_eq!(s2.skipped[NO_SITE], nowhere + on(&e1, 1));
    assert_eq!(on(&e, 2), on(&e1, 2));
    let s3 = run(
        &mut e,
        bytes,
        &options(&[("idsite-fallback", "3"), ("force", "1")]),
    );
    assert_eq!(s3.skipped.get(NO_SITE), None);
    assert_eq!(on(&e, 3), nowhere + on(&e1, 1));
    // A site the store lacks is a clear error.
    let err = import(&mut e, vec![], &options(&[("idsite", "9")]), &mut |_| {}).unwrap_err();
    assert!(
        err.to_string().contains("site 9 is not in the store"),
        "{err}"
    );
}

/// Legacy encodings are decoded when named; otherwise bad bytes are
/// replaced and the file goes on.
#[test]
fn encodings() {
    let bytes = fixture("windows-1252.log");
    let mut e = Engine::in_memory();
    e.add_site(SiteConfig::new(1).host("matomo.org")).unwrap();
    let s = run(
        &mut e,
        bytes.clone(),
        &options(&[("encoding", "windows-1252")]),
    );
    assert_eq!(s.pageviews, 1);
    let url = e.export_hits(1, "2012-02-10", "2012-02-10").unwrap()[0]
        .url
        .clone()
        .unwrap();
    assert!(url.ends_with("/äöüß§$%"), "{url}");
    let mut e = Engine::in_memory();
    e.add_site(SiteConfig::new(1).host("matomo.org")).unwrap();
    let s = run(&mut e, bytes, &LogOptions::default());
    assert_eq!(s.pageviews, 1);
    let url = e.export_hits(1, "2012-02-10", "2012-02-10").unwrap()[0]
        .url
        .clone()
        .unwrap();
    assert!(url.contains('\u{fffd}'), "{url}");
}

/// Every sample of every format imports: each line is a hit, a skip, a
/// comment or an invalid line, and most are requests.
#[test]
fn every_sample_format_imports() {
    let dir = format!(
        "{}/tests/data/matomo-logs/log-analytics/logs",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|d| d.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    for name in names {
        if name == "custom_regex_custom_date.log" || name == "splitted_date_and_time.log" {
            continue; // need a regex of their own (tested with the parsers)
        }
        let bytes = fixture(&name);
        let mut e = Engine::in_memory();
        e.add_site(SiteConfig::new(1)).unwrap();
        let s = run(&mut e, bytes.clone(), &sample_options(&name));
        let skipped: u64 = s.skipped.values().sum();
        assert_eq!(
            s.lines,
            s.comments + s.invalid + s.pageviews + s.downloads + s.events + skipped,
            "{name}: {s:?}"
        );
        assert!(s.hits() > 0, "{name}: {}", s.report());
        assert!(s.invalid * 2 <= s.lines, "{name}: {}", s.report());
    }
}

/// The raw IP never reaches the store: the visitor is a keyed hash.
#[test]
fn the_ip_is_not_stored() {
    let dir = std::env::temp_dir().join(format!("hitmap-log-ip-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut e = Engine::open(&dir).unwrap();
    e.add_site(SiteConfig::new(1)).unwrap();
    run(
        &mut e,
        fixture("fake_logs.log"),
        &options(&[("idsite", "1")]),
    );
    let secret = e
        .cursor(hitmap_intake::enrich::SECRET_CURSOR)
        .unwrap()
        .to_owned();
    drop(e);
    // Stored bodies are packed: files_holding looks inside them too; the
    // export is checked as well.
    let e = Engine::open(&dir).unwrap();
    let exported = format!(
        "{:?}",
        e.export_hits(1, "2012-08-01", "2013-12-31").unwrap()
    );
    for ip in ["175.41.192.40", "72.44.32.10", "177.71.128.21"] {
        assert!(!exported.contains(ip));
        assert_eq!(
            hitmap::files_holding(&dir, ip.as_bytes()).unwrap(),
            Vec::<std::path::PathBuf>::new()
        );
    }
    // The secret stays the store's: a second run keys visitors the same.
    let again = hitmap_intake::enrich::VisitorKeys::for_store(&e, None).unwrap();
    assert!(again.1.is_none());
    assert_eq!(
        e.cursor(hitmap_intake::enrich::SECRET_CURSOR),
        Some(secret.as_str())
    );
    drop(e);
    std::fs::remove_dir_all(&dir).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    /// Arbitrary bytes never panic the importer, and every line is
    /// accounted for.
    #[test]
    fn any_bytes_import(
        bytes in prop::collection::vec(any::<u8>(), 0..2000),
        lines_of in prop::collection::vec(
            prop::sample::select(vec![
                r#"1.2.3.4 - - [10/Feb/2012:16:42:07 -0500] "GET /a HTTP/1.1" 200 3 "-" "Mozilla/5.0""#,
                r#"1.2.3.4 - - [10/Feb/2012:16:42:07 -0500] "GET /a.css HTTP/1.1" 200 3 "-" "curl/8""#,
                "# comment",
                "",
                r#"{"ip": "1.2.3.4", "time": "2013-10-10T16:52:00+02:00", "status": 200, "request": "GET / HTTP/1.1"}"#,
            ]),
            0..20,
        ),
    ) {
        let mut text = lines_of.join("\n").into_bytes();
        text.push(b'\n');
        text.extend(bytes);
        let mut e = engine();
        let s = run(&mut e, text, &options(&[("batch-bytes", "300")]));
        let skipped: u64 = s.skipped.values().sum();
        prop_assert_eq!(s.lines, s.comments + s.invalid + s.pageviews + s.downloads + s.events + skipped);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]
    /// Chunk boundaries change nothing: a log cut into batches of any size
    /// gives the same counts and the same stored hits as one batch.
    #[test]
    fn any_batch_size_gives_the_same_store(batch in 1usize..3000) {
        let bytes = fixture("fake_logs.log");
        let whole = options(&[("idsite", "1"), ("visitor-secret", "s"), ("enable-static", "1")]);
        let mut cut = whole.clone();
        cut.batch_bytes = batch;
        let (mut a, mut b) = (engine(), engine());
        let sa = run(&mut a, bytes.clone(), &whole);
        let sb = run(&mut b, bytes, &cut);
        prop_assert_eq!(
            (sa.lines, sa.pageviews, sa.downloads, sa.invalid, sa.comments, &sa.skipped),
            (sb.lines, sb.pageviews, sb.downloads, sb.invalid, sb.comments, &sb.skipped)
        );
        prop_assert_eq!(sa.examples.iter().map(|e| e.line).collect::<Vec<_>>(), sb.examples.iter().map(|e| e.line).collect::<Vec<_>>());
        prop_assert_eq!(
            a.export_hits(1, "2012-08-01", "2013-12-31").unwrap(),
            b.export_hits(1, "2012-08-01", "2013-12-31").unwrap()
        );
    }
}

/// A dry run reads, checks and counts, and stores nothing.
#[test]
fn a_dry_run_stores_nothing() {
    let mut e = engine();
    let s = run(
        &mut e,
        fixture("fake_logs.log"),
        &options(&[("idsite", "1"), ("dry-run", "1")]),
    );
    assert_eq!((s.pageviews, s.invalid, s.batches), (17, 1, 0));
    assert!(
        e.export_hits(1, "2012-08-01", "2013-12-31")
            .unwrap()
            .is_empty()
    );
    // ... so the real import afterwards is not skipped as a re-run.
    let s = run(
        &mut e,
        fixture("fake_logs.log"),
        &options(&[("idsite", "1")]),
    );
    assert_eq!((s.hits(), s.skipped_batches), (17, 0));
}

/// Matomo's exclusion fixture with its options: two hosts and two dates
/// out, three lines in (one exactly at the older-than bound).
#[test]
fn matomos_exclusion_filters() {
    let mut e = engine();
    let o = options(&[
        ("idsite", "1"),
        ("exclude-host", "filtered1.com"),
        ("exclude-host", "www.filtered2.com"),
        ("exclude-older-than", "2012-08-09 08:10:39 +0000"),
        ("exclude-newer-than", "2012-08-31 00:00:00 +0000"),
    ]);
    let s = run(&mut e, fixture("filter_exclude_logs.log"), &o);
    assert_eq!(s.pageviews, 3, "{}", s.report());
    // The filtered hosts' lines are also a second too old: the date test
    // comes first and counts them.
    assert_eq!(s.skipped[hitmap_intake::logs::DATE_FILTERED], 4);
    let o = options(&[
        ("idsite", "1"),
        ("exclude-host", "filtered1.com"),
        ("exclude-host", "www.filtered2.com"),
    ]);
    let s = run(&mut engine(), fixture("filter_exclude_logs.log"), &o);
    assert_eq!((s.pageviews, s.skipped["host filtered out"]), (5, 2));
    let mut bad = LogOptions::default();
    let err = bad.set("exclude-older-than", "yesterday").unwrap_err();
    assert!(
        err.to_string().contains("2012-08-09 08:10:39 +0000"),
        "{err}"
    );
}

/// Fields that were read but cannot be what a server logged are refused
/// with a reason, as the NDJSON reader refuses a bad field; the good
/// lines around them go in.
#[test]
fn loose_fields_are_refused_with_a_reason() {
    let good = |ip: &str, tz: &str, method: &str| {
        format!(
            r#"{ip} - - [10/Feb/2012:16:42:07 {tz}] "{method} /a HTTP/1.1" 200 9 "-" "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0""#
        )
    };
    let text = [
        good("1.2.3.4", "+0100", "GET"),
        good("1.2.3.4", "+9999", "GET"),
        good("1.2.3.4", "-1260", "GET"),
        good("xyz", "+0100", "GET"),
        good("300.1.1.1", "+0100", "GET"),
        good("1.2.3.4", "+0100", "FOO"),
        good("2001:db8::1", "+1400", "POST"),
        good("::1", "-1200", "HEAD"),
        good("10.0.0.1:5050", "+0530", "GET"),
    ]
    .join("\n");
    let mut e = engine();
    let s = run(
        &mut e,
        text.into_bytes(),
        &options(&[("log-format", "ncsa_extended")]),
    );
    assert_eq!((s.pageviews, s.invalid), (4, 5), "{}", s.report());
    let reasons: Vec<&str> = s.examples.iter().map(|x| x.reason.as_str()).collect();
    assert!(
        reasons[0].contains("+9999") && reasons[0].contains("offsets run"),
        "{reasons:?}"
    );
    assert!(reasons[1].contains("-1260"), "{reasons:?}");
    assert!(
        reasons[2].contains("\"xyz\" is not an IP address"),
        "{reasons:?}"
    );
    assert!(
        reasons[3].contains("\"300.1.1.1\" is not an IP address"),
        "{reasons:?}"
    );
    assert!(
        reasons[4].contains("\"FOO\" is not an HTTP method"),
        "{reasons:?}"
    );
}

/// The options every sample format imports with (every request a hit),
/// with one visitor secret.
fn sample_options(name: &str) -> LogOptions {
    let mut o = options(&[
        ("enable-http-errors", "1"),
        ("enable-http-redirects", "1"),
        ("enable-bots", "1"),
        ("enable-static", "1"),
        ("visitor-secret", "cron"),
    ]);
    if name == "iis_custom.log" {
        // Matomo's own test maps its columns so.
        for m in [
            "date-local=date",
            "time-local=time",
            "cs(Host)=cs-host",
            "TimeTakenMS=time-taken",
        ] {
            o.set("w3c-map-field", m).unwrap();
        }
    }
    o
}

/// Every stored hit of site 1, in order, as text.
fn stored_hits(e: &Engine) -> Vec<String> {
    let days = e.site_days(1).unwrap();
    let (Some(first), Some(last)) = (days.first(), days.last()) else {
        return Vec::new();
    };
    e.export_hits(1, *first, *last)
        .unwrap()
        .iter()
        .map(|h| format!("{h:?}"))
        .collect()
}

/// A cron job over an access log of every sample format: the log read
/// while it grows (cut inside a line too), rotated (`access.log` →
/// `access.log.1`) and compressed (`access.log.2.gz`), each run importing
/// what is there, stores every line once: the same hits as the whole
/// content imported at once. W3C logs resume past their `#Fields:` line.
#[test]
fn a_cron_over_a_growing_rotated_and_compressed_log_of_every_format_counts_each_line_once() {
    let data = format!(
        "{}/tests/data/matomo-logs/log-analytics/logs",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut names: Vec<String> = std::fs::read_dir(&data)
        .unwrap()
        .map(|d| d.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != "custom_regex_custom_date.log" && n != "splitted_date_and_time.log")
        .collect();
    names.sort();
    let mut resumed_w3c = 0;
    for name in names {
        let bytes = fixture(&name);
        let lines: Vec<&[u8]> = bytes.split_inclusive(|&b| b == b'\n').collect();
        if lines.len() < 4 {
            continue;
        }
        let o = sample_options(&name);
        let dir = std::env::temp_dir().join(format!("hitmap-cron-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let (log, log1, log2) = (
            dir.join("access.log"),
            dir.join("access.log.1"),
            dir.join("access.log.2.gz"),
        );
        // What the log holds after its rotation: the same lines, the
        // first one dropped (so another first line).
        let next: Vec<u8> = lines[1..].concat();
        let third = lines.len() / 3;
        let store = dir.join("store");
        let mut e = Engine::open(&store).unwrap();
        e.add_site(SiteConfig::new(1)).unwrap();
        drop(e);
        let cron = |files: &[&std::path::Path]| -> LogSummary {
            let mut e = Engine::open(&store).unwrap();
            let s = hitmap_intake::logs::import_files(&mut e, files, &o).unwrap();
            e.seal().unwrap();
            s
        };
        // A third, and half of the next line (still being written).
        let mut part = lines[..third].concat();
        part.extend_from_slice(&lines[third][..lines[third].len() / 2]);
        std::fs::write(&log, &part).unwrap();
        cron(&[&log]);
        std::fs::write(&log, lines[..2 * third].concat()).unwrap();
        let grown = cron(&[&log]);
        if name.contains("iis") || name.contains("w3c") || name.contains("netscaler") {
            resumed_w3c += usize::from(grown.skipped_lines > 0);
        }
        // Rotated after it grew to its end; the new log is half written.
        std::fs::rename(&log, &log1).unwrap();
        std::fs::write(&log1, &bytes).unwrap();
        std::fs::write(&log, &next[..next.len() / 2]).unwrap();
        cron(&[&log1, &log]);
        // Compressed; the log is whole.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&bytes).unwrap();
        std::fs::write(&log2, gz.finish().unwrap()).unwrap();
        std::fs::remove_file(&log1).unwrap();
        std::fs::write(&log, &next).unwrap();
        cron(&[&log2, &log]);
        let again = cron(&[&log2, &log]);
        assert_eq!(
            again.pageviews + again.downloads,
            0,
            "{name}: {}",
            again.report()
        );

        let mut once = Engine::in_memory();
        once.add_site(SiteConfig::new(1)).unwrap();
        // A fixture's last line may lack its newline (whole: the cron
        // imports it so too).
        let mut whole = bytes.clone();
        if !whole.ends_with(b"\n") {
            whole.push(b'\n');
        }
        whole.extend_from_slice(&next);
        run(&mut once, whole, &o);
        let got = stored_hits(&Engine::open_read_only(&store).unwrap());
        assert!(!got.is_empty(), "{name}");
        assert_eq!(got, stored_hits(&once), "{name}");
        let _ = std::fs::remove_dir_all(&dir);
    }
    assert!(resumed_w3c >= 2, "W3C logs resumed: {resumed_w3c}");
}

/// Matomo's replay fixture (`--replay-tracking`): tracking requests in an
/// access log are read as the tracking endpoint reads them, each to the
/// site its `idsite` names (or `--idsite`'s); a request without `rec=1`
/// is not recorded, nor a line that is no tracking request; an unencoded
/// title runs to the protocol.
#[test]
fn matomos_replayed_tracking_requests() {
    let sites = || {
        let mut e = Engine::in_memory();
        for id in 1..=3 {
            e.add_site(SiteConfig::new(id)).unwrap();
        }
        e
    };
    let base = [
        ("replay-tracking", "true"),
        ("exclude-older-than", "2012-01-01 08:10:39 +0000"),
        ("exclude-host", "excluded.com"),
    ];
    let mut e = sites();
    let s = run(&mut e, fixture("fake_logs_replay.log"), &options(&base));
    assert_eq!((s.pageviews, s.downloads), (19, 1), "{}", s.report());
    assert_eq!(s.skipped[hitmap_intake::logs::NOT_RECORDED], 2);
    assert_eq!(s.skipped[hitmap_intake::logs::DATE_FILTERED], 1);
    // The bad `cid` line, and the two lines that are page requests.
    assert_eq!(s.invalid, 3, "{}", s.report());
    assert!(
        s.examples
            .iter()
            .any(|x| x.reason.contains("piwik.php/matomo.php"))
    );
    let visits = |e: &Engine, site: u32| {
        let v: Value = serde_json::from_str(
            &e.api(&format!(
                "method=VisitsSummary.get&idSite={site}&period=range&date=2012-01-01,2015-12-31&format=json"
            ))
            .unwrap(),
        )
        .unwrap();
        (
            v["nb_visits"].as_u64().unwrap_or(0),
            v["nb_actions"].as_u64().unwrap_or(0),
        )
    };
    // Matomo's expected answer for site 2 (ImportLogs, siteIdTwo): one
    // visit of one action.
    assert_eq!(visits(&e, 2), (1, 1));
    let titles = api(
        &e,
        "method=Actions.getPageTitles&period=range&date=2014-03-01,2014-03-31&flat=1&filter_limit=-1",
    );
    let titles: Vec<&str> = titles
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["label"].as_str())
        .collect();
    assert!(
        titles.iter().any(|t| t.contains("Hello Installing Piwik")),
        "{titles:?}"
    );
    // `--idsite 3`: every request goes to site 3.
    let mut forced = sites();
    let mut o = options(&base);
    o.set("idsite", "3").unwrap();
    let s3 = run(&mut forced, fixture("fake_logs_replay.log"), &o);
    assert_eq!(s3.pageviews + s3.downloads, 20);
    // The same actions (one visitor's requests to sites 1, 2 and 3 at
    // one moment become one visit of site 3).
    let all: u64 = (1..=3).map(|id| visits(&e, id).1).sum();
    assert_eq!(visits(&forced, 3).1, all);
    assert_eq!((visits(&forced, 1), visits(&forced, 2)), ((0, 0), (0, 0)));
}

/// `matomo-visitors`: Matomo's importer sends no visitor id, so its
/// tracker gives each new visit of an address and agent a random one:
/// two visits four hours apart are two new visitors there, one new and
/// one returning visitor by default here.
#[test]
fn matomo_visitors_count_each_log_visit_as_a_new_visitor() {
    let log = "\
175.41.192.41 - - [11/Aug/2012:18:10:38 +0200] \"GET /a HTTP/1.1\" 200 10 \"-\" \"Mozilla/5.0 Firefox/3.6\"
175.41.192.41 - - [11/Aug/2012:18:20:38 +0200] \"GET /b HTTP/1.1\" 200 10 \"-\" \"Mozilla/5.0 Firefox/3.6\"
175.41.192.41 - - [11/Aug/2012:22:15:41 +0200] \"GET /c HTTP/1.1\" 200 10 \"-\" \"Mozilla/5.0 Firefox/3.6\"
";
    let counts = |matomo: bool| {
        let mut e = engine();
        let mut o = options(&[("idsite", "1")]);
        if matomo {
            o.set("matomo-visitors", "true").unwrap();
        }
        run(&mut e, log.as_bytes().to_vec(), &o);
        let v = api(&e, "method=VisitsSummary.get&period=day&date=2012-08-11");
        let f = api(&e, "method=VisitFrequency.get&period=day&date=2012-08-11");
        (
            v["nb_visits"].as_u64().unwrap(),
            v["nb_uniq_visitors"].as_u64().unwrap(),
            f["nb_visits_returning"].as_u64().unwrap(),
        )
    };
    assert_eq!(counts(false), (2, 1, 1));
    assert_eq!(counts(true), (2, 2, 0));
}

/// Matomo's fixture (`ManySitesImportedLogs`) imports its IIS log twice,
/// the second time without user ids: Matomo's tracker joins the second
/// import's lines to the first one's visits by address and agent (the
/// visit with the latest last request first), so the site has four
/// visits, not six. With the state kept between imports
/// (`--matomo-visitors-state`), so does hitmap; the state is a file the
/// importer writes and reads back, never deletes.
#[test]
fn matomo_visitors_join_an_earlier_imports_visits_as_matomo() {
    let iis = std::fs::read_to_string(format!(
        "{}/tests/data/matomo-logs/matomo-core/access-logs/fake_logs_custom_iis.log",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let dir = std::env::temp_dir().join(format!("hitmap-matomo-visitors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("visits");
    let counts = |keep: bool| {
        let _ = std::fs::remove_file(&state);
        let mut e = Engine::in_memory();
        e.add_site(SiteConfig::new(1).host("example.org")).unwrap();
        let fields = [
            ("log-format", "iis"),
            ("idsite", "1"),
            ("w3c-map-field", "date-local=date"),
            ("w3c-map-field", "time-local=time"),
            ("w3c-map-field", "cs(Host)=cs-host"),
            ("enable-http-errors", "true"),
            ("enable-http-redirects", "true"),
            ("force", "true"),
        ];
        let mut first = options(&fields);
        let mut second = options(&fields);
        second.set("ignore-groups", "userid").unwrap();
        for o in [&mut first, &mut second] {
            match keep {
                true => o
                    .set("matomo-visitors-state", state.to_str().unwrap())
                    .unwrap(),
                false => o.set("matomo-visitors", "true").unwrap(),
            }
        }
        let a = run(&mut e, iis.clone().into_bytes(), &first);
        let b = run(&mut e, iis.clone().into_bytes(), &second);
        assert_eq!((a.pageviews, b.pageviews), (4, 4), "{}", b.report());
        let q = "period=day&date=2012-08-15";
        let v = api(&e, &format!("method=VisitsSummary.get&{q}"));
        let users = api(&e, &format!("method=UserId.getUsers&{q}"));
        let user1 = users
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["label"] == "user1")
            .map(|r| r["nb_actions"].clone());
        (
            v["nb_visits"].as_u64().unwrap(),
            v["nb_uniq_visitors"].as_u64().unwrap(),
            v["nb_actions"].as_u64().unwrap(),
            user1,
        )
    };
    // Matomo's answer: visits 58 (user1: three actions), 59, 60 (user2,
    // the returning visitor of 59) and 67.
    assert_eq!(counts(true), (4, 3, 8, Some(serde_json::json!(3))));
    assert!(state.exists(), "the state is kept for the next import");
    // Without the state, the second import starts visits of its own.
    let alone = counts(false);
    assert!(alone.0 > 4, "{alone:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Replayed requests are authenticated, as Matomo's importer sends its
/// token with each: their location overrides (`country`, `city`) apply,
/// which an anonymous tracking request's do not.
#[test]
fn replayed_requests_may_set_matomos_overrides() {
    let line = |ip: &str, visitor: &str, extra: &str| {
        format!(
            "{ip} - - [05/Jan/2009:10:00:00 +0000] \"GET /matomo.php?idsite=1&rec=1&_id={visitor}\
             &url=http%3A%2F%2Fpiwik.net%2Fa&action_name=A{extra} HTTP/1.1\" 200 - \"-\" \"Mozilla/5.0\"\n"
        )
    };
    let log = [
        line("156.5.3.2", "0000000000000001", "&country=jp&city=Tokyo"),
        line("156.5.3.2", "0000000000000002", ""),
    ]
    .concat();
    let mut e = engine();
    let s = run(
        &mut e,
        log.into_bytes(),
        &options(&[("replay-tracking", "true")]),
    );
    assert_eq!(s.pageviews, 2, "{}", s.report());
    let q = "period=day&date=2009-01-05";
    let countries = api(&e, &format!("method=UserCountry.getCountry&{q}"));
    let japan = countries
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == "jp");
    assert_eq!(
        japan.map(|r| &r["nb_visits"]),
        Some(&serde_json::json!(1)),
        "{countries}"
    );
    let cities = api(&e, &format!("method=UserCountry.getCity&{q}"));
    assert!(cities.to_string().contains("Tokyo"), "{cities}");
}

/// CloudFront RTMP lines are a streaming server's events, recorded as
/// Matomo's importer records them: category `cloudfront_rtmp`, the
/// `x-event` as action, the stream (`x-sname`) as name; the stream's
/// address without `rtmp:/` as the URL; no referrer (the line's
/// `c-referrer` is the player's address, which Matomo's importer does not
/// read).
#[test]
fn cloudfront_rtmp_lines_are_events() {
    let mut e = engine();
    let s = run(
        &mut e,
        fixture("fake_logs_cloudfront_rtmp.log"),
        &options(&[("idsite", "1")]),
    );
    assert_eq!(
        (s.events, s.pageviews, s.hits(), s.invalid),
        (2, 0, 2, 0),
        "{}",
        s.report()
    );
    assert!(
        s.report().contains("(0 page views, 0 downloads, 2 events)"),
        "{}",
        s.report()
    );
    let q = "period=day&date=2012-08-12";
    let names = api(&e, &format!("method=Events.getName&{q}&expanded=1"));
    let labels: Vec<(&str, Option<&str>, Vec<&str>)> = names
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let sub = r["subtable"].as_array().map_or(vec![], |s| {
                s.iter().map(|c| c["label"].as_str().unwrap()).collect()
            });
            (r["label"].as_str().unwrap(), r["segment"].as_str(), sub)
        })
        .collect();
    assert_eq!(
        labels,
        [
            ("Event Name not defined", None, vec!["connect"]),
            ("myvideo", Some("eventName==myvideo"), vec!["play"]),
        ]
    );
    let cats = api(&e, &format!("method=Events.getCategory&{q}"));
    assert_eq!(cats[0]["label"], "cloudfront_rtmp");
    assert_eq!(cats[0]["nb_events"], 2);
    // No valued event: no minimum or maximum.
    assert!(cats[0]["min_event_value"].is_null() && cats[0]["max_event_value"].is_null());
    // The unnamed `connect` has no row in the actions' subtables by name.
    let actions = api(&e, &format!("method=Events.getAction&{q}&expanded=1"));
    assert_eq!(actions[0]["label"], "connect");
    assert!(actions[0].get("subtable").is_none(), "{actions}");
    assert_eq!(actions[1]["subtable"][0]["label"], "myvideo");
    let pages = api(&e, &format!("method=Actions.get&{q}"));
    assert_eq!(pages["nb_pageviews"], 0);
    let live = api(&e, &format!("method=Live.getLastVisitsDetails&{q}"));
    let url = live[0]["actionDetails"][0]["url"].as_str().unwrap();
    assert!(
        url.starts_with("https://piwik.net/shqshne4jdp4b6.cloudfront.net/cfx/st"),
        "{url}"
    );
    let referrers = api(&e, &format!("method=Referrers.getReferrerType&{q}"));
    assert_eq!(
        (
            referrers[0]["label"].clone(),
            referrers[0]["nb_visits"].clone()
        ),
        ("Direct Entry".into(), 2.into()),
        "{referrers}"
    );
}

/// nginx writes the bytes it will not log as `\xNN`, which JSON does not
/// know: read as `\u00NN` (Matomo's importer does the same), and an
/// escaped backslash before an `x` stays a backslash.
#[test]
fn nginx_json_hex_escapes_read() {
    let mut e = engine();
    let s = run(
        &mut e,
        fixture("fake_logs_nginx_json.log"),
        &options(&[("idsite", "1")]),
    );
    assert_eq!(
        (s.pageviews, s.invalid, s.held_back),
        (2, 0, 0),
        "{}",
        s.report()
    );
    let urls = api(
        &e,
        "method=Actions.getPageUrls&period=day&date=2012-08-13&flat=1",
    );
    let labels: Vec<&str> = urls
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["label"].as_str().unwrap())
        .collect();
    assert!(labels.contains(&"/api/fútbol-user-agent"), "{labels:?}");
    let mut e = engine();
    let line = br#"{"ip": "1.2.3.4","host": "piwik.net","path": "/a\\x41\x41","status": "200","user_agent": "x","date": "2012-08-13T13:20:31+01:00"}
"#;
    let s = run(
        &mut e,
        line.to_vec(),
        &options(&[("idsite", "1"), ("log-format", "nginx_json")]),
    );
    assert_eq!(s.pageviews, 1, "{}", s.report());
    let live = api(
        &e,
        "method=Live.getLastVisitsDetails&period=day&date=2012-08-13",
    );
    assert_eq!(
        live[0]["actionDetails"][0]["url"],
        "https://piwik.net/a\\x41A"
    );
}

/// `ignore-groups` leaves fields of the line out (Matomo's
/// `--ignore-groups`): without their user ids, lines are visitors by
/// address and agent; a field a hit needs cannot be ignored.
#[test]
fn ignored_groups_are_left_out() {
    let log = fixture("fake_logs_custom_iis.log");
    let o = |extra: &[(&str, &str)]| {
        let mut pairs = vec![
            ("idsite", "1"),
            ("w3c-map-field", "date-local=date"),
            ("enable-http-errors", "true"),
            ("enable-http-redirects", "true"),
        ];
        pairs.extend_from_slice(extra);
        let mut o = options(&pairs);
        for m in [
            "time-local=time",
            "cs(Host)=cs-host",
            "TimeTakenMS=time-taken",
        ] {
            o.set("w3c-map-field", m).unwrap();
        }
        o
    };
    let users = |e: &Engine| {
        api(e, "method=VisitsSummary.get&period=day&date=2012-08-15")["nb_users"]
            .as_u64()
            .unwrap()
    };
    let mut with = engine();
    run(&mut with, log.clone(), &o(&[]));
    let mut without = engine();
    let s = run(&mut without, log, &o(&[("ignore-groups", "userid")]));
    assert_eq!(s.pageviews, 4, "{}", s.report());
    assert_eq!((users(&with), users(&without)), (2, 0));
    let err = LogOptions::default()
        .set("ignore-groups", "userid,path")
        .unwrap_err();
    assert!(
        err.to_string().contains("\"path\" cannot be ignored"),
        "{err}"
    );
}

/// URLs take the scheme of the site's main URL, as Matomo's importer
/// builds them (`http://` for a site whose main URL is `http://...`),
/// and its host when a line has none; a site without one gets
/// `https://` and its first host.
#[test]
fn urls_take_the_scheme_and_host_of_the_sites_main_url() {
    let line = b"1.2.3.4 - - [10/Aug/2012:10:11:12 +0000] \"GET /a/b?x=1 HTTP/1.1\" 200 10 \"-\" \"Mozilla/5.0 (X11; Linux x86_64) Firefox/99.0\"\n".to_vec();
    let urls = |config: SiteConfig| {
        let mut e = Engine::in_memory();
        e.add_site(config).unwrap();
        run(&mut e, line.clone(), &options(&[("idsite", "1")]));
        let v = api(
            &e,
            "method=Live.getLastVisitsDetails&period=day&date=2012-08-10",
        );
        v[0]["actionDetails"][0]["url"].as_str().unwrap().to_owned()
    };
    assert_eq!(
        urls(SiteConfig::new(1).host("piwik.net")),
        "https://piwik.net/a/b?x=1"
    );
    assert_eq!(
        urls(
            SiteConfig::new(1)
                .host("piwik.net")
                .main_url("http://www.piwik.net/")
        ),
        "http://www.piwik.net/a/b?x=1"
    );
}

/// Access-log lines lose the site's excluded query parameters and
/// Matomo's default session ids in their page URLs, as Matomo's tracker
/// records the URLs its importer sends: two lines that differ only there
/// are one page; a download keeps its URL as sent.
#[test]
fn excluded_parameters_leave_access_log_page_urls() {
    let mut e = Engine::in_memory();
    e.add_site(SiteConfig::new(1).host("x.org").exclude_parameter("ref"))
        .unwrap();
    let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0";
    let line = |path: &str, at: &str| {
        format!(
            "x.org 10.1.1.1 - - [01/Jun/2024:10:{at} +0000] \"GET {path} HTTP/1.1\" 200 512 \"-\" \"{firefox}\"\n"
        )
    };
    let log = [
        line("/a?ref=mail&q=1", "00:00"),
        line("/a?q=1&PHPSESSID=abc", "01:00"),
        line("/a?q=1", "02:00"),
        line("/f.zip?ref=mail", "03:00"),
    ]
    .concat();
    let o = options(&[("log-format", "common_vhost"), ("idsite", "1")]);
    let s = run(&mut e, log.into_bytes(), &o);
    assert_eq!(s.hits(), 4, "{s:?}");
    let pages = api(
        &e,
        "method=Actions.getPageUrls&idSite=1&period=day&date=2024-06-01&flat=1&format=json",
    );
    let labels: Vec<(&str, u64)> = pages
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["label"].as_str().unwrap(), r["nb_hits"].as_u64().unwrap()))
        .collect();
    assert_eq!(labels, [("/a?q=1", 3)]);
    let downloads = api(
        &e,
        "method=Actions.getDownloads&idSite=1&period=day&date=2024-06-01&flat=1&format=json",
    );
    assert_eq!(
        downloads[0]["label"], "https://x.org/f.zip?ref=mail",
        "{downloads}"
    );
}

/// A site's exclusions hold for access-log lines too, as Matomo's
/// importer sends every line to its tracker: an excluded address (the
/// line's own, before `anonymize-ip`), user agent or URL off the site's
/// hosts is skipped, with the reason.
#[test]
fn a_sites_exclusions_skip_access_log_lines() {
    let mut e = Engine::in_memory();
    e.add_site(
        SiteConfig::new(1)
            .host("x.org")
            .exclude_ip("10.9.0.0/16")
            .exclude_user_agent("HeadlessChrome")
            .exclude_unknown_urls(true),
    )
    .unwrap();
    let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0";
    let line = |ip: &str, host: &str, agent: &str| {
        format!(
            "{host} {ip} - - [01/Jun/2024:10:00:00 +0000] \"GET /a HTTP/1.1\" 200 512 \"-\" \"{agent}\"\n"
        )
    };
    let log = [
        line("10.9.1.1", "x.org", firefox),
        line("10.1.1.1", "x.org", "Mozilla/5.0 HeadlessChrome/120"),
        line("10.1.1.2", "y.org", firefox),
        line("10.1.1.3", "www.x.org", firefox),
    ]
    .concat();
    let o = options(&[
        ("log-format", "common_complete"),
        ("idsite", "1"),
        ("anonymize-ip", "2"),
    ]);
    let s = run(&mut e, log.into_bytes(), &o);
    assert_eq!(s.hits(), 1, "{s:?}");
    for reason in ["excluded IP", "excluded user agent", "URL not of the site"] {
        assert_eq!(s.skipped.get(reason), Some(&1), "{reason}: {:?}", s.skipped);
    }
    assert_eq!(summary(&e, "2024-06-01", "2024-06-01").0, 1);
}

/// As Matomo's importer sends them: a line's generation time as the page
/// view's server time (whole milliseconds, when above 0) and its response
/// length as the action's bandwidth (when above 0).
#[test]
fn generation_time_and_length_become_server_time_and_bandwidth() {
    let log = br#"1.2.3.4 - - [10/Oct/2024:13:55:36 +0000] "GET /a HTTP/1.1" 200 2326 "-" "Mozilla/5.0" 0.1234
1.2.3.4 - - [10/Oct/2024:13:55:40 +0000] "GET /a HTTP/1.1" 200 100 "-" "Mozilla/5.0" 0.0004
1.2.3.4 - - [10/Oct/2024:13:55:50 +0000] "GET /file.pdf HTTP/1.1" 200 5000 "-" "Mozilla/5.0" 1.5
"#;
    let o = options(&[
        ("idsite", "1"),
        (
            "log-format-regex",
            r#"(?P<ip>\S+) - - \[(?P<date>.*?) (?P<timezone>.*?)\] "\S+ (?P<path>.*?) \S+" (?P<status>\S+) (?P<length>\S+) "(?P<referrer>.*?)" "(?P<user_agent>.*?)" (?P<generation_time_secs>\S+)"#,
        ),
    ]);
    let mut e = engine();
    let s = run(&mut e, log.to_vec(), &o);
    assert_eq!((s.pageviews, s.downloads, s.invalid), (2, 1, 0));
    let hits = e.export_hits(1, "2024-10-10", "2024-10-10").unwrap();
    let perf: Vec<(Option<u32>, Option<u64>)> = hits
        .iter()
        .map(|h| (h.perf.times[hitmap::Perf::SERVER], h.perf.bandwidth))
        .collect();
    // 123.4 ms is 123, 0.4 ms is 0 (Matomo's `int()`); a download has no
    // timings.
    assert_eq!(
        perf,
        [
            (Some(123), Some(2326)),
            (Some(0), Some(100)),
            (None, Some(5000))
        ]
    );
    let b = api(&e, "method=Bandwidth.get&period=day&date=2024-10-10");
    assert_eq!(b["nb_total_overall_bandwidth"], 7426);
    assert_eq!(b["nb_total_download_bandwidth"], 5000);
    let p = api(&e, "method=PagePerformance.get&period=day&date=2024-10-10");
    assert_eq!(p["avg_time_server"], 0.06);
}
