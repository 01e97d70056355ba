//! The log formats on real samples (`tests/data/matomo-logs`, Matomo's
//! own fixtures), field by field, and format detection.

use hitmap_intake::logs::{Format, LogLine, Parsed, W3cFields, detect, parse_line};
use proptest::prelude::*;

fn sample(name: &str) -> String {
    let path = format!(
        "{}/tests/data/matomo-logs/log-analytics/logs/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Every request of a sample, and the lines that were errors.
fn requests(format: Format, text: &str) -> (Vec<LogLine<'_>>, Vec<String>) {
    let mut fields = W3cFields::default();
    let (mut ok, mut bad) = (Vec::new(), Vec::new());
    for line in text.lines() {
        match parse_line(format, line, &mut fields) {
            Ok(Parsed::Line(l)) => ok.push(l),
            Ok(Parsed::Comment) => {}
            Err(e) => bad.push(e),
        }
    }
    (ok, bad)
}

fn first(format: Format, file: &str) -> LogLine<'static> {
    let text: &'static str = Box::leak(sample(file).into_boxed_str());
    let (mut ok, bad) = requests(format, text);
    assert!(!ok.is_empty(), "{file}: no request ({bad:?})");
    ok.remove(0)
}

fn s<'a>(v: &'a Option<std::borrow::Cow<'_, str>>) -> Option<&'a str> {
    v.as_deref()
}

const CHROME: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/535.11 (KHTML, like Gecko) Chrome/17.0.963.56 Safari/535.11";
/// 10/Feb/2012:16:42:07 -0500
const FEB10: i64 = 1_328_910_127;

#[test]
fn the_apache_family() {
    let l = first(Format::Common, "common.log");
    assert_eq!(
        (s(&l.ip), s(&l.userid), l.ts),
        (Some("1.2.3.4"), Some("theuser"), FEB10)
    );
    assert_eq!(
        (s(&l.method), &*l.path, l.status, l.length),
        (Some("GET"), "/", Some(301), Some(368))
    );
    assert_eq!(
        (s(&l.host), s(&l.referrer), s(&l.user_agent)),
        (None, None, None)
    );

    let l = first(Format::CommonVhost, "common_vhost.log");
    assert_eq!(
        (s(&l.host), s(&l.ip), l.status),
        (Some("www.example.com"), Some("1.2.3.4"), Some(301))
    );

    let l = first(Format::NcsaExtended, "ncsa_extended.log");
    assert_eq!(
        (s(&l.ip), l.ts, s(&l.referrer), s(&l.user_agent)),
        (Some("1.2.3.4"), FEB10, None, Some(CHROME))
    );

    let l = first(Format::CommonComplete, "common_complete.log");
    assert_eq!(
        (s(&l.host), s(&l.user_agent), l.length),
        (Some("www.example.com"), Some(CHROME), Some(368))
    );

    let l = first(Format::Ovh, "ovh.log");
    assert_eq!(
        (s(&l.ip), s(&l.host), s(&l.userid)),
        (Some("1.2.3.4"), Some("www.example.com"), Some("theuser"))
    );
    assert_eq!((l.status, s(&l.user_agent)), (Some(301), Some(CHROME)));

    let text = sample("gandi.log");
    let (gandi, bad) = requests(Format::Gandi, &text);
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(gandi.len(), 2);
    assert_eq!(
        (s(&gandi[1].ip), gandi[1].status, s(&gandi[1].referrer)),
        (
            Some("125.125.125.125"),
            Some(200),
            Some("https://www.example.com/")
        )
    );
    assert_eq!(
        s(&gandi[1].user_agent),
        Some("Mozilla/5.0 (Macintosh; Intel Mac OS X 10.13; rv:90.0) Gecko/20100101 Firefox/90.0")
    );
}

#[test]
fn cloud_and_proxy_formats() {
    let text = sample("elb.log");
    let (elb, bad) = requests(Format::Elb, &text);
    // The TCP line has no HTTP request: an error, the file goes on.
    assert_eq!((elb.len(), bad.len()), (1, 1), "{bad:?}");
    let l = &elb[0];
    assert_eq!(
        (s(&l.ip), s(&l.host), &*l.path),
        (Some("1.2.3.4"), Some("www.example.com"), "/path/index.html")
    );
    // 2015-05-13T23:39:43.945958Z
    assert_eq!(
        (l.ts, l.status, l.length, s(&l.user_agent)),
        (1_431_560_383, Some(200), Some(57), Some(CHROME))
    );

    let l = first(Format::Alb, "alb.log");
    assert_eq!(
        (s(&l.ip), s(&l.host), &*l.path, l.status),
        (
            Some("1.2.3.4"),
            Some("www.example.com"),
            "/path/index.html",
            Some(200)
        )
    );
    // 2020-01-01T00:55:04.127531Z
    assert_eq!((l.ts, l.length), (1_577_840_104, Some(24_950)));

    let l = first(Format::S3, "s3.log");
    assert_eq!(
        (s(&l.host), s(&l.ip), &*l.path, l.ts),
        (Some("www.example.com"), Some("1.2.3.4"), "/index", FEB10)
    );
    assert_eq!(
        (l.status, l.length, s(&l.referrer), s(&l.user_agent)),
        (Some(200), Some(368), None, Some(CHROME))
    );

    let l = first(Format::Haproxy, "haproxy.log");
    // [25/Sep/2018:06:05:27.584], no offset: UTC.
    assert_eq!(
        (s(&l.ip), l.ts, s(&l.method), &*l.path),
        (Some("4.3.2.1"), 1_537_855_527, Some("POST"), "/user/")
    );
    assert_eq!((l.status, l.length), (Some(200), Some(7456)));

    let l = first(Format::Icecast2, "icecast2.log");
    assert_eq!(
        (s(&l.ip), l.status, s(&l.user_agent)),
        (Some("1.2.3.4"), Some(301), Some(CHROME))
    );
}

#[test]
fn w3c_extended_logs() {
    let l = first(Format::W3cExtended, "iis.log");
    assert_eq!(
        (s(&l.ip), s(&l.host), &*l.path),
        (
            Some("1.2.3.4"),
            Some("example.com"),
            "/foo/bar?topCat1=divinity&submit=Search"
        )
    );
    // 2012-04-01 00:00:13, UTC.
    assert_eq!(
        (l.ts, l.status, s(&l.userid), l.generation_ms),
        (1_333_238_413, Some(200), Some("theuser"), Some(1687.0))
    );
    assert_eq!(
        s(&l.user_agent),
        Some("Mozilla/5.0 (X11; U; Linux i686; en-US; rv:1.9.2.7) Gecko/20100722 Firefox/3.6.7")
    );

    let l = first(Format::W3cExtended, "netscaler.log");
    assert_eq!(
        (s(&l.ip), &*l.path, l.status),
        (
            Some("172.20.1.0"),
            "/Citrix/XenApp/Wan/auth/login.jsp",
            Some(302)
        )
    );

    let l = first(Format::W3cExtended, "incapsula_w3c.log");
    assert_eq!(
        (s(&l.ip), s(&l.host), &*l.path),
        (
            Some("123.123.123.123"),
            Some("www.example.com"),
            "/page.php?variable=test"
        )
    );
    assert_eq!((l.status, s(&l.method)), (Some(200), Some("GET")));

    // The host is the one the visitor asked for (x-host-header), not the
    // distribution's (cs(Host)).
    let l = first(Format::W3cExtended, "amazon_cloudfront_web.log");
    assert_eq!(
        (s(&l.ip), s(&l.host), &*l.path, l.status),
        (
            Some("192.0.2.10"),
            Some("example.com"),
            "/view/my/file.html",
            Some(200)
        )
    );
    assert_eq!(s(&l.referrer), Some("https://example.com/"));
    assert_eq!(
        s(&l.user_agent),
        Some(
            "Mozilla/5.0 (Windows; U; Windows NT 6.1; de-DE) AppleWebKit/534.17 (KHTML, like Gecko) Chrome/10.0.649.0 Safari/534.17"
        )
    );

    let l = first(Format::W3cExtended, "shoutcast.log");
    assert_eq!(
        (s(&l.ip), &*l.path, l.status),
        (Some("1.2.3.4"), "/stream?title=UKR%20Nights", Some(200))
    );
    assert_eq!(s(&l.user_agent), Some("NSPlayer/10.0.0.3702 WMFSDK/10.0"));
}

#[test]
fn json_logs() {
    let l = first(Format::NginxJson, "nginx_json.log");
    assert_eq!(
        (s(&l.ip), s(&l.host), l.status, l.length),
        (Some("1.2.3.4"), Some("www.piwik.org"), Some(200), Some(192))
    );
    assert!(l.path.starts_with("/piwik.php?action_name=Clearcode"));
    assert_eq!(
        (l.ts, s(&l.referrer)),
        (1_381_416_720, Some("http://clearcode.cc/"))
    );
    // `generation_time_milli` holds nginx's `$request_time`, seconds:
    // Matomo's importer multiplies it by 1000 (0.001 is 1 ms).
    let line = r#"{"ip": "1.2.3.4","host": "x.org","path": "/","status": "200","length": 9,"generation_time_milli": 0.001,"date": "2012-08-13T13:20:31+01:00"}"#;
    let mut fields = W3cFields::default();
    let Ok(Parsed::Line(l)) = parse_line(Format::NginxJson, line, &mut fields) else {
        panic!("{line}");
    };
    assert_eq!(l.generation_ms, Some(1.0));

    let l = first(Format::TraefikJson, "traefik_json.log");
    assert_eq!(
        (s(&l.ip), &*l.path, l.status, s(&l.user_agent)),
        (
            Some("1.2.3.4"),
            "/my/app/auth?id=1234&user=dude",
            Some(200),
            Some("Prometheus/2.40.5")
        )
    );
    // StartUTC 2023-08-11T11:39:21.773360139Z
    assert_eq!(l.ts, 1_691_753_961);

    let l = first(Format::CaddyJson, "caddy_json.log");
    assert_eq!(
        (s(&l.ip), s(&l.host), &*l.path, l.status),
        (Some("1.2.3.4"), Some("example.com"), "/beta/", Some(200))
    );
    assert_eq!((l.ts, l.length), (1_703_373_474, Some(3609)));
    assert_eq!(
        s(&l.user_agent),
        Some(
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:121.0) Gecko/20100101 Firefox/121.0"
        )
    );
}

#[test]
fn formats_are_detected_from_the_first_lines() {
    for (file, format) in [
        ("common.log", Format::Common),
        ("common_vhost.log", Format::CommonVhost),
        ("ncsa_extended.log", Format::NcsaExtended),
        ("common_complete.log", Format::CommonComplete),
        ("gandi.log", Format::Gandi),
        ("icecast2.log", Format::Icecast2),
        ("elb.log", Format::Elb),
        ("alb.log", Format::Alb),
        ("s3.log", Format::S3),
        ("haproxy.log", Format::Haproxy),
        ("iis.log", Format::W3cExtended),
        ("netscaler.log", Format::W3cExtended),
        ("incapsula_w3c.log", Format::W3cExtended),
        ("amazon_cloudfront_web.log", Format::W3cExtended),
        ("shoutcast.log", Format::W3cExtended),
        ("nginx_json.log", Format::NginxJson),
        ("traefik_json.log", Format::TraefikJson),
        ("caddy_json.log", Format::CaddyJson),
    ] {
        let text = sample(file);
        let lines: Vec<&str> = text.lines().take(20).collect();
        assert_eq!(detect(&lines), Some(format), "{file}");
    }
    // OVH's layout reads as common_complete's too; by name it is exact.
    assert_eq!(Format::parse("ovh"), Some(Format::Ovh));
}

proptest! {
    #[test]
    fn no_line_panics_any_format(line in ".{0,300}", bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let lossy = String::from_utf8_lossy(&bytes);
        for f in Format::ALL {
            let mut fields = W3cFields::default();
            let _ = parse_line(f, "#Fields: date time c-ip cs-uri-stem sc-status", &mut fields);
            for l in [line.as_str(), &lossy] {
                if let Ok(Parsed::Line(parsed)) = parse_line(f, l, &mut fields) {
                    prop_assert!(parsed.status.is_none_or(|s| (100..1000).contains(&s)));
                }
            }
        }
    }
}

#[test]
fn a_custom_regex_reads_matomos_custom_fixture() {
    use hitmap_intake::logs::CustomFormat;
    let path = format!(
        "{}/tests/data/matomo-logs/matomo-core/access-logs/fake_logs_custom.log",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(path).unwrap();
    let f = CustomFormat::new(
        r#"(?P<ip>\S+) - - \[(?P<date>.*?) (?P<timezone>.*?)\] (?P<status>\d+) \"\S+ (?P<path>.*?) \S+\" (?P<generation_time_micro>\S+)"#,
        None,
    )
    .unwrap();
    let lines: Vec<LogLine<'_>> = text.lines().map(|l| f.parse(l).unwrap()).collect();
    assert_eq!(lines.len(), 10);
    assert!(
        lines
            .iter()
            .all(|l| l.ip.as_deref() == Some("175.41.192.40") && l.status == Some(200))
    );
    // Out of order in the file: 10:10:40 comes after 10:12:03.
    assert_eq!(lines[4].ts - lines[0].ts, 2);
    // A date in another layout, with --log-date-format.
    let f = CustomFormat::new(
        r#"(?P<ip>\S+) \S+ \S+ \[(?P<date>.*?)\] "\S+ (?P<path>\S+) \S+" (?P<status>\d+) (?P<length>\d+)"#,
        Some("%B - %d, %Y:%H:%M:%S"),
    )
    .unwrap();
    let text = sample("custom_regex_custom_date.log");
    let l = f.parse(text.trim()).unwrap();
    assert_eq!(
        (l.ts, l.status, l.length),
        (1_328_892_127, Some(301), Some(368))
    );
    // A regex without a path group is refused.
    assert!(
        CustomFormat::new(r"(?P<date>\S+)", None)
            .unwrap_err()
            .contains("path")
    );
}

#[test]
fn matomos_rules_on_its_fake_logs() {
    use hitmap_intake::logs::{Decision, Rules, Skip};
    use std::collections::BTreeMap;
    let path = format!(
        "{}/tests/data/matomo-logs/matomo-core/access-logs/fake_logs.log",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(path).unwrap();
    let count = |rules: &Rules| {
        let mut fields = W3cFields::default();
        let mut out: BTreeMap<String, usize> = BTreeMap::new();
        for line in text.lines() {
            let key = match parse_line(Format::NcsaExtended, line, &mut fields) {
                Ok(Parsed::Comment) => "comment".to_string(),
                Err(_) => "invalid".to_string(),
                Ok(Parsed::Line(l)) => match rules.decide(&l) {
                    Decision::Pageview => "pageview".into(),
                    Decision::Download => "download".into(),
                    Decision::Skip(s) => s.reason().into(),
                },
            };
            *out.entry(key).or_default() += 1;
        }
        out
    };
    let defaults = count(&Rules::default());
    let expect = |pairs: &[(&str, usize)]| -> BTreeMap<String, usize> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    };
    assert_eq!(
        defaults,
        expect(&[
            ("comment", 7),
            ("invalid", 1),
            ("pageview", 17),
            (Skip::Static.reason(), 2),
            (Skip::HttpError.reason(), 3),
            (Skip::HttpRedirect.reason(), 2),
        ])
    );
    // Every switch on: the static files become downloads and nothing is
    // skipped but the invalid line.
    let all = Rules {
        enable_static: true,
        enable_bots: true,
        enable_http_errors: true,
        enable_http_redirects: true,
        ..Rules::default()
    };
    assert_eq!(
        count(&all),
        expect(&[
            ("comment", 7),
            ("invalid", 1),
            ("pageview", 22),
            ("download", 2)
        ])
    );
    // Filters.
    let only_docs = Rules {
        include_paths: vec!["/docs/*".into()],
        ..Rules::default()
    };
    assert_eq!(count(&only_docs).get("pageview"), Some(&4));
    let other_host = Rules {
        include_hosts: vec!["*.example.org".into()],
        ..Rules::default()
    };
    assert_eq!(count(&other_host).get(Skip::Host.reason()), Some(&24));
}

proptest! {
    /// Apache dates read back to the second they were written at, in any
    /// offset (the by-position reader and chrono agree).
    #[test]
    fn apache_dates_round_trip(ts in -2_000_000_000i64..4_000_000_000, offset_min in -720i32..=840) {
        let offset_min = offset_min - offset_min % 15;
        let tz = chrono::FixedOffset::east_opt(offset_min * 60).unwrap();
        let local = chrono::DateTime::from_timestamp(ts, 0).unwrap().with_timezone(&tz);
        let text = local.format("%d/%b/%Y:%H:%M:%S %z").to_string();
        prop_assert_eq!(hitmap_intake::logs::parse_apache_date(&text), Ok(ts), "{}", text);
    }
}

/// A JSON log's status outside 100..999 (a fuzzer found `"020"`) is no
/// status, as in the token formats.
#[test]
fn json_statuses_outside_http_range_are_none() {
    for (status, want) in [
        ("\"020\"", None),
        ("99", None),
        ("1000", None),
        ("\"404\"", Some(404)),
        ("301", Some(301)),
    ] {
        let line = format!(
            r#"{{"ip":"1.2.3.4","host":"x.org","path":"/a","status":{status},"date":"2013-10-10T16:52:00+02:00"}}"#
        );
        let mut fields = W3cFields::default();
        match parse_line(Format::NginxJson, &line, &mut fields) {
            Ok(Parsed::Line(l)) => assert_eq!(l.status, want, "{status}"),
            other => panic!("{status}: {}", other.is_ok()),
        }
    }
}
