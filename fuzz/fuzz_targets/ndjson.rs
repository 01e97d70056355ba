//! Any bytes as NDJSON: every line accepted or rejected, never a panic,
//! the fast path reads each line as the serde reader does, and the engine
//! still answers afterwards.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    hitmap::fuzzing::ndjson_paths_agree(data);
    let mut e = hitmap::Engine::in_memory();
    if e.add_site(hitmap::SiteConfig::new(1).time_zone("Pacific/Kiritimati")).is_err() {
        return;
    }
    let Ok(out) = e.ingest_ndjson(data) else {
        return;
    };
    let lines = data.split(|&b| b == b'\n').count() as u64;
    assert!(out.accepted + out.rejected.len() as u64 <= lines);
    let s = e
        .query(&hitmap::Query::site(1))
        .map(|sel| sel.visits_summary())
        .unwrap_or_default();
    assert!(s.nb_actions <= out.accepted);
});
