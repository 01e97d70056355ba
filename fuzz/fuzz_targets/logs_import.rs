//! Any bytes as a whole log through the importer (format recognition,
//! the rules, user agents, visitor keys, sites, ingest): every line is
//! counted once, as a hit, a skip, a comment or an invalid line, and
//! nothing panics. Each line is also parsed as a user agent.
#![no_main]

use hitmap::{Engine, SiteConfig};
use hitmap_intake::enrich::Agent;
use hitmap_intake::logs::{LogOptions, import};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut engine = Engine::in_memory();
    engine
        .add_site(SiteConfig::new(1).host("example.org"))
        .expect("a plain site");
    let mut options = LogOptions::default();
    options.set("visitor-secret", "fuzz").expect("a known option");
    options.set("batch-bytes", "512").expect("a known option");
    let input: Box<dyn std::io::BufRead + Send> = Box::new(std::io::Cursor::new(data.to_vec()));
    let s = import(&mut engine, vec![("fuzz".into(), input.into())], &options, &mut |_| {})
        .expect("bytes never make the importer fail");
    let skipped: u64 = s.skipped.values().sum();
    assert_eq!(s.lines, s.comments + s.invalid + s.pageviews + s.downloads + skipped);
    for line in String::from_utf8_lossy(data).lines().take(20) {
        let _ = Agent::parse(line);
    }
});
