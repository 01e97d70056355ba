//! Disk and restart cost of a writer that only sends small batches (a
//! Python, PHP or C host, an importer): the sample's hits in batches of
//! `BATCH` into a durable store at `DIR`, the bytes the store holds after
//! each batch (the peak is what a small disk must hold), then the time a
//! new writer and a new reader take to open the store with its unsealed
//! log, and the bytes once sealed.
//!
//!     cargo run --release -p hitmap --example small_batches DIR [VISITORS] [DAYS] [BATCH]
//!
//! With `HITMAP_KEEP_LOG=1` the store keeps its unsealed log at the end
//! (to open it with another build); with `HITMAP_OPEN_ONLY=1` it only
//! times the opens of the store already in DIR.
//!
//! Defaults: 5,000 visitors, 60 days (about 276,000 hits), batches of
//! 14,000. A batch that fails (a full disk) is reported and the run goes
//! on with the next one.

use std::path::Path;
use std::time::Instant;

use hitmap::{Engine, Hit, StoreOptions};

fn bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .expect("usage: small_batches DIR [VISITORS] [DAYS] [BATCH]");
    let mut number = |default: usize| {
        args.next()
            .map_or(default, |a| a.parse().expect("a number"))
    };
    let (visitors, days, batch) = (number(5_000), number(60), number(14_000));
    let cfg = hitmap::sample::SampleConfig {
        days: days as u32,
        visitors: visitors as u32,
        ..Default::default()
    };
    let hits: Vec<Hit> = hitmap::sample::generate(&cfg).collect();
    let dir = Path::new(&dir).join("store");
    // With HITMAP_OPEN_ONLY set, only the opens of an existing store.
    if std::env::var_os("HITMAP_OPEN_ONLY").is_some() {
        let t = Instant::now();
        drop(Engine::open_read_only(&dir).expect("a reader opens"));
        let reader = t.elapsed();
        let t = Instant::now();
        let w = Engine::open(&dir).expect("a writer opens");
        println!(
            "{} hits unsealed: reader open {:.0} ms, writer open {:.0} ms",
            w.live_hits(),
            reader.as_secs_f64() * 1e3,
            t.elapsed().as_secs_f64() * 1e3
        );
        return;
    }
    let _ = std::fs::remove_dir_all(&dir);
    let mut w = Engine::open_with(&dir, StoreOptions::default()).expect("open the store");
    w.set_live_limit(batch.max(hitmap::DEFAULT_LIVE_LIMIT));
    w.add_site(hitmap::sample::site_config(&cfg))
        .expect("add the site");
    let (mut peak, mut failed) = (0, 0);
    let t = Instant::now();
    for chunk in hits.chunks(batch) {
        if let Err(e) = w.ingest(chunk) {
            failed += 1;
            eprintln!("a batch failed: {e}");
        }
        peak = peak.max(bytes(&dir));
    }
    let ingest = t.elapsed();
    let live = w.live_hits();
    drop(w);
    let unsealed = bytes(&dir);
    let t = Instant::now();
    let r = Engine::open_read_only(&dir).expect("a reader opens");
    let reader_open = t.elapsed();
    drop(r);
    let t = Instant::now();
    let mut w = Engine::open(&dir).expect("a writer opens");
    let writer_open = t.elapsed();
    // With HITMAP_KEEP_LOG set, the log stays (to open it with another build).
    if std::env::var_os("HITMAP_KEEP_LOG").is_none() {
        w.seal().expect("seal");
    }
    drop(w);
    println!(
        "{} hits in batches of {batch}: {failed} failed, {:.2} s; peak on disk {:.2} MB; {live} hits unsealed at the end ({:.2} MB on disk); open with that log: reader {:.0} ms, writer {:.0} ms; sealed {:.2} MB",
        hits.len(),
        ingest.as_secs_f64(),
        peak as f64 / 1e6,
        unsealed as f64 / 1e6,
        reader_open.as_secs_f64() * 1e3,
        writer_open.as_secs_f64() * 1e3,
        bytes(&dir) as f64 / 1e6,
    );
}
