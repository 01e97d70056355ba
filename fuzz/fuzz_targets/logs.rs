//! Any bytes as an access-log file, in every format and a custom regex:
//! a line is a request, a comment or an error, never a panic, and what
//! it reads holds a real HTTP status.
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
    for format in Format::ALL {
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
