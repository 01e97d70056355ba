//! Any text as a segment: parsed and evaluated, or an error with a
//! position inside the text.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

static ENGINE: OnceLock<hitmap::Engine> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let e = ENGINE.get_or_init(hitmap::fuzzing::sample_engine);
    let text = String::from_utf8_lossy(data);
    match hitmap::Query::site(1).segment(&text) {
        Ok(q) => {
            let _ = e.query(&q).map(|s| s.visits_summary());
            let _ = e.query(&q.section("/news")).map(|s| s.visits_summary());
        }
        Err(hitmap::Error::Segment { position, .. }) => assert!(position <= text.len()),
        Err(other) => panic!("a segment error of another kind: {other}"),
    }
});
