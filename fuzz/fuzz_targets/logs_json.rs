//! Any bytes as a JSON access log (nginx, Traefik, Caddy): a line is a
//! request, a comment or an error, never a panic.
#![no_main]

use hitmap_intake::logs::{Format, Parsed, W3cFields, parse_line};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for format in [Format::NginxJson, Format::TraefikJson, Format::CaddyJson] {
        let mut fields = W3cFields::default();
        for line in text.lines() {
            if let Ok(Parsed::Line(l)) = parse_line(format, line, &mut fields) {
                assert!(l.status.is_none_or(|s| (100..1000).contains(&s)));
            }
        }
    }
});
