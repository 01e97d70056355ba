//! The cost of committing a small batch into a day that already holds
//! many hits: live parts (the default) against rebuilding the day (the
//! path every batch took before live parts), in a durable store (each
//! live commit is a write-ahead log append + fdatasync).
//!
//!     cargo run --release -p hitmap --example live_commit [DAY_HITS...]
//!
//! Prints, per day size, the mean and p99 time of a 100-hit commit (half
//! of its hits from visitors the day already holds) and of the seal.

use std::time::Instant;

use hitmap::{Engine, Hit, SiteConfig};

const DAY: i64 = 1_717_200_000; // 2024-06-01 00:00 UTC

fn hit(i: u64, visitors: u64) -> Hit {
    let v = (i * 2_654_435_761) % visitors;
    let ts = DAY + (i % 86_000) as i64;
    Hit::pageview(
        1,
        ts,
        format!("{v:016x}"),
        format!("https://x.org/p/{}", i % 700),
    )
    .with_title(format!("Page {}", i % 300))
    .with_device(["desktop", "smartphone"][(v % 2) as usize])
}

fn main() {
    let sizes: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("a hit count"))
        .collect();
    let sizes = if sizes.is_empty() {
        vec![10_000, 100_000, 1_000_000]
    } else {
        sizes
    };
    println!("day hits | live: mean, p99 per 100-hit commit | rebuild: mean per commit | seal");
    for n in sizes {
        let visitors = (n / 8).max(100);
        let dir =
            std::env::temp_dir().join(format!("hitmap-live-commit-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut e = Engine::open(&dir).unwrap();
        e.add_site(SiteConfig::new(1).host("x.org")).unwrap();
        e.set_live_limit(0);
        let day: Vec<Hit> = (0..n).map(|i| hit(i, visitors)).collect();
        e.ingest(&day).unwrap();
        drop(day);
        e.set_live_limit(hitmap::DEFAULT_LIVE_LIMIT);
        let mut times = Vec::new();
        let mut next = n;
        for _ in 0..200 {
            // Half returning visitors of the day, half new ones.
            let batch: Vec<Hit> = (0..100)
                .map(|k| {
                    next += 1;
                    if k % 2 == 0 {
                        hit(next, visitors)
                    } else {
                        hit(next, visitors * 1000)
                    }
                })
                .collect();
            let t = Instant::now();
            e.ingest(&batch).unwrap();
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        let t = Instant::now();
        e.seal().unwrap();
        let seal = t.elapsed().as_secs_f64() * 1e3;
        // The old path: every 100-hit batch rebuilds the day.
        e.set_live_limit(0);
        let mut rebuild = Vec::new();
        for _ in 0..5 {
            let batch: Vec<Hit> = (0..100)
                .map(|_| {
                    next += 1;
                    hit(next, visitors)
                })
                .collect();
            let t = Instant::now();
            e.ingest(&batch).unwrap();
            rebuild.push(t.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(f64::total_cmp);
        let mean = times.iter().sum::<f64>() / times.len() as f64;
        let p99 = times[times.len() * 99 / 100];
        let rmean = rebuild.iter().sum::<f64>() / rebuild.len() as f64;
        println!(
            "{n:>8} | {mean:7.2} ms, {p99:7.2} ms | {rmean:9.1} ms ({:.0}x) | {seal:7.0} ms",
            rmean / mean
        );
        drop(e);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
