//! Any bytes as a W3C extended log (IIS, Netscaler, Incapsula,
//! CloudFront, SHOUTcast), with and without renamed columns: `#Fields:`
//! lines change the columns as they come; nothing panics.
#![no_main]

use hitmap_intake::logs::{Format, Parsed, W3cFields, parse_line};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for mut fields in [
        W3cFields::default(),
        W3cFields::mapped(vec![
            ("date-local".into(), "date".into()),
            ("time-local".into(), "time".into()),
        ]),
    ] {
        for line in text.lines() {
            if let Ok(Parsed::Line(l)) = parse_line(Format::W3cExtended, line, &mut fields) {
                assert!(l.status.is_none_or(|s| (100..1000).contains(&s)));
            }
        }
    }
});
