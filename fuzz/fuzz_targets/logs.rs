//! Any bytes as an access-log file in the layout formats (the Apache
//! family, S3, ELB, ALB, HAProxy, ...) and a custom regex: a line is a
//! request, a comment or an error, never a panic, and what it reads holds
//! a real HTTP status. (W3C, JSON and the whole importer have targets of
//! their own: logs_w3c, logs_json, logs_import.)
#![no_main]

use std::sync::OnceLock;

use hitmap_intake::logs::{CustomFormat, Format, Parsed, W3cFields, parse_line};
use libfuzzer_sys::fuzz_target;

static CUSTOM: OnceLock<CustomFormat> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let custom = CUSTOM.get_or_init(|| {
        CustomFormat::new(
            r#"(?P<ip>\S+) \S+ (?P<userid>\S+) \[(?P<date>.*?) (?P<timezone>.*?)\] "\S+ (?P<path>\S*) \S+" (?P<status>\S+) (?P<length>\S+)"#,
            None,
        )
        .expect("the fuzz format compiles")
    });
    for format in Format::ALL.into_iter().filter(|f| {
        !matches!(
            f,
            Format::W3cExtended | Format::NginxJson | Format::TraefikJson | Format::CaddyJson
        )
    }) {
        let mut fields = W3cFields::default();
        for line in text.lines() {
            if let Ok(Parsed::Line(l)) = parse_line(format, line, &mut fields) {
                assert!(l.status.is_none_or(|s| (100..1000).contains(&s)));
            }
        }
    }
    for line in text.lines() {
        if let Ok(l) = custom.parse(line) {
            assert!(l.status.is_none_or(|s| (100..1000).contains(&s)));
        }
    }
    let lines: Vec<&str> = text.lines().take(20).collect();
    let _ = hitmap_intake::logs::detect(&lines);
});
