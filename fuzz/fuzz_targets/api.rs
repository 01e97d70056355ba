//! Any query string through the Reporting API: an answer or an error,
//! never a panic, within a deadline.
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;

static ENGINE: OnceLock<hitmap::Engine> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let e = ENGINE.get_or_init(hitmap::fuzzing::sample_engine);
    let query = String::from_utf8_lossy(data);
    let options = hitmap::ApiOptions::default().timeout(Duration::from_secs(2));
    if let Err(err) = e.api_with(&query, &options) {
        let _ = err.to_api_json();
    }
});

