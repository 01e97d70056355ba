//! A writer's cost to append a small NDJSON batch to a big store, by
//! stage: opening (and replaying the log), ingesting, sealing. Each line
//! gives the wall time and the process's resident memory after it.
//!
//!     cargo run --release -p hitmap --example append STORE FILE.ndjson [--seal]

use std::time::Instant;

fn rss_mb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(store), Some(file)) = (args.get(1), args.get(2)) else {
        return Err("usage: append STORE FILE.ndjson [--seal]".into());
    };
    let t = Instant::now();
    let mut engine = hitmap::Engine::open(store)?;
    println!(
        "open    {:>7.1} ms  {:>5} MB",
        t.elapsed().as_secs_f64() * 1e3,
        rss_mb()
    );
    let t = Instant::now();
    let out = engine.ingest_ndjson(std::io::BufReader::new(std::fs::File::open(file)?))?;
    println!(
        "ingest  {:>7.1} ms  {:>5} MB  ({} hits)",
        t.elapsed().as_secs_f64() * 1e3,
        rss_mb(),
        out.accepted
    );
    if args.iter().any(|a| a == "--seal") {
        let t = Instant::now();
        engine.seal()?;
        println!(
            "seal    {:>7.1} ms  {:>5} MB",
            t.elapsed().as_secs_f64() * 1e3,
            rss_mb()
        );
    }
    for (part, bytes) in engine.memory_usage() {
        println!("  {part}: {} KB", bytes / 1024);
    }
    Ok(())
}
