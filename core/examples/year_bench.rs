//! Measures issue 2's performance targets on the sample year (~10M hits,
//! 30,000 visitors), one core:
//!
//! ```text
//! cargo run --release --example year_bench [-- --visitors 30000 --repeat 5]
//! ```
//!
//! Prints medians of `--repeat` runs. Ingest is measured cold (first batch
//! in a fresh process: every buffer is fresh memory) and warm (the same
//! batch into a new engine after the first, as a long-running service
//! would see it).

// The counting allocator below is the one unsafe item: it forwards every
// call to the system allocator unchanged and only adds up sizes.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

/// Counts live heap bytes and their peak, so the engine's own share of
/// memory is reported exactly (RSS also holds the benchmark's input and
/// what the allocator keeps after frees).
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Relaxed) + layout.size();
            PEAK.fetch_max(now, Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let now =
                    LIVE.fetch_add(new_size - layout.size(), Relaxed) + new_size - layout.size();
                PEAK.fetch_max(now, Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Starts a new peak window at the current live heap; returns it.
fn heap_mark() -> usize {
    let now = LIVE.load(Relaxed);
    PEAK.store(now, Relaxed);
    now
}

use hitmap::sample::{self, SampleConfig};
use hitmap::{ActionReportKind, Engine, Hit, Query};

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn time<T>(f: impl FnOnce() -> T) -> (f64, T) {
    let t = Instant::now();
    let out = f();
    (t.elapsed().as_secs_f64(), out)
}

fn to_ndjson(hits: &[Hit]) -> Vec<u8> {
    let mut out = Vec::new();
    for h in hits {
        out.extend_from_slice(h.to_ndjson().as_bytes());
        out.push(b'\n');
    }
    out
}

/// A `/proc/self/status` field in kB (Linux), e.g. `VmHWM` (peak RSS).
fn status_kb(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Starts a new peak-RSS window (Linux: writing 5 to clear_refs resets
/// VmHWM to the current RSS).
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn dir_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| {
                    if e.path().is_dir() {
                        dir_size(&e.path())
                    } else {
                        e.metadata().map_or(0, |m| m.len())
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

fn main() -> Result<(), hitmap::Error> {
    let cfg = SampleConfig {
        visitors: arg("--visitors", 30_000) as u32,
        ..SampleConfig::default()
    };
    let repeat = arg("--repeat", 5).max(1);
    let (gen_s, hits) = time(|| sample::generate(&cfg).collect::<Vec<_>>());
    let n = hits.len() as f64;
    println!(
        "sample: {} hits, {} visitors, {} days (generated in {gen_s:.1} s)",
        hits.len(),
        cfg.visitors,
        cfg.days
    );

    let fresh = || {
        let mut e = Engine::in_memory();
        e.add_site(sample::site_config(&cfg)).expect("valid site");
        e
    };
    let mut engine = fresh();
    let rss_before = status_kb("VmRSS");
    let heap_before = heap_mark();
    let (cold, _) = time(|| engine.ingest(&hits));
    let heap_peak = PEAK.load(Relaxed) - heap_before;
    let heap_after = LIVE.load(Relaxed) - heap_before;
    let mut warm = Vec::new();
    for _ in 0..repeat.min(3) {
        let mut e = fresh();
        warm.push(time(|| e.ingest(&hits)).0);
    }
    let warm = median(warm);
    println!(
        "ingest typed hits, cold: {:.2} s = {:.2} M hits/s",
        cold,
        n / cold / 1e6
    );
    if let (Some(before), Some(peak), Some(now)) =
        (rss_before, status_kb("VmHWM"), status_kb("VmRSS"))
    {
        println!(
            "memory: {:.0} MB resident with the input hits; peak {:.0} MB while archiving the year; {:.0} MB after (the engine: +{:.0} MB)",
            before as f64 / 1024.0,
            peak as f64 / 1024.0,
            now as f64 / 1024.0,
            now.saturating_sub(before) as f64 / 1024.0
        );
    }
    println!(
        "engine heap (counted allocations, input excluded): {:.1} bytes/hit held after ingesting the year ({:.0} MB); peak {:.1} bytes/hit ({:.0} MB) while ingesting it as one batch",
        heap_after as f64 / n,
        heap_after as f64 / 1e6,
        heap_peak as f64 / n,
        heap_peak as f64 / 1e6
    );
    let parts: Vec<String> = engine
        .memory_usage()
        .iter()
        .map(|(part, bytes)| format!("{part} {:.1}", *bytes as f64 / n))
        .collect();
    println!("engine heap by part, bytes/hit: {}", parts.join("; "));
    println!(
        "ingest typed hits, warm: {:.2} s = {:.2} M hits/s",
        warm,
        n / warm / 1e6
    );

    // The same year through the durable store: bytes on disk and reopen.
    let dir = std::env::temp_dir().join(format!("hitmap-year-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (stored_s, _) = time(|| -> Result<(), hitmap::Error> {
        let mut e = Engine::open(&dir)?;
        e.add_site(sample::site_config(&cfg))?;
        e.ingest(&hits)?;
        Ok(())
    });
    let bytes = dir_size(&dir);
    let (open_s, reopened) = time(|| Engine::open_read_only(&dir));
    let reopened = reopened?;
    assert!(reopened.damaged().is_empty());
    println!(
        "store: ingest into Engine::open {:.2} s ({:.2} M hits/s); {:.1} MB on disk = {:.2} bytes/hit; reopen {:.2} s",
        stored_s,
        n / stored_s / 1e6,
        bytes as f64 / 1e6,
        bytes as f64 / n,
        open_s
    );
    drop(reopened);
    let _ = std::fs::remove_dir_all(&dir);

    let ndjson = to_ndjson(&hits[..hits.len().min(2_000_000)]);
    let lines = ndjson.iter().filter(|&&b| b == b'\n').count() as f64;
    let (bare, _) = time(|| {
        let mut ok = 0usize;
        for line in ndjson.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            ok += usize::from(serde_json::from_slice::<serde_json::Value>(line).is_ok());
        }
        ok
    });
    // The reader alone: each line parsed and checked, nothing ingested.
    let mut parse = Vec::new();
    for _ in 0..repeat.min(3) {
        parse.push(
            time(|| {
                ndjson
                    .split(|&b| b == b'\n')
                    .filter(|l| !l.is_empty())
                    .filter(|l| {
                        std::str::from_utf8(l).is_ok_and(|l| hitmap::check_ndjson_line(l).is_ok())
                    })
                    .count()
            })
            .0,
        );
    }
    let parse = median(parse);
    let mut nd = Vec::new();
    for _ in 0..repeat.min(3) {
        let mut e = fresh();
        nd.push(time(|| e.ingest_ndjson(&ndjson[..])).0);
    }
    let nd = median(nd);
    println!(
        "NDJSON ({} lines, {:.0} bytes/line): hitmap ingest {:.2} M lines/s; hitmap's reader alone {:.2} M lines/s; bare serde_json::Value parse {:.2} M lines/s (ingest/parse time ratio {:.2})",
        lines,
        ndjson.len() as f64 / lines,
        lines / nd / 1e6,
        lines / parse / 1e6,
        lines / bare / 1e6,
        nd / bare
    );
    drop(ndjson);

    let q = |text: &str, q: Query| -> Result<(), hitmap::Error> {
        let before = status_kb("VmRSS");
        let window = reset_peak_rss();
        let mut times = Vec::new();
        let mut answer = 0;
        for _ in 0..repeat {
            let (t, s) = time(|| engine.query(&q).map(|s| s.visits_summary()));
            times.push(t * 1e3);
            answer = s?.nb_uniq_visitors;
        }
        let extra = match (window, before, status_kb("VmHWM")) {
            (true, Some(b), Some(p)) => {
                format!(", peak RSS +{:.1} MB", p.saturating_sub(b) as f64 / 1024.0)
            }
            _ => String::new(),
        };
        // The first ask of a section also computes its per-day cuts.
        println!(
            "{text}: {:.2} ms (first ask {:.2} ms; nb_uniq_visitors {answer}{extra})",
            median(times.clone()),
            times[0]
        );
        Ok(())
    };
    let segment = "deviceType==desktop;department==HR,department==IT;countryCode==gb";
    let year = || Query::site(1).range("2025-01-01", "2025-12-31");
    let month = || Query::site(1).range("2025-03-01", "2025-03-30");
    q("VisitsSummary 30 days", month())?;
    q(
        "VisitsSummary 30 days, 3-condition segment",
        month().segment(segment)?,
    )?;
    q("VisitsSummary 365 days", year())?;
    q(
        "VisitsSummary 365 days, 3-condition segment",
        year().segment(segment)?,
    )?;
    q(
        "VisitsSummary 365 days, section News",
        year().section("News"),
    )?;
    q(
        "VisitsSummary 365 days, segment + section",
        year().segment(segment)?.section("News"),
    )?;

    for (label, query) in [
        ("", month()),
        (", 3-condition segment", month().segment(segment)?),
    ] {
        let mut times = Vec::new();
        let mut rows = 0;
        for _ in 0..repeat {
            let (t, r) = time(|| {
                engine
                    .query(&query)
                    .map(|s| s.action_report(ActionReportKind::PageUrls))
            });
            times.push(t * 1e3);
            rows = r?.len();
        }
        println!(
            "page report, one month{label}: {:.2} ms ({rows} rows, exact per-row uniques)",
            median(times)
        );
    }
    let mut times = Vec::new();
    for _ in 0..repeat {
        times.push(
            time(|| {
                engine
                    .api("method=VisitsSummary.get&idSite=1&period=day&date=2025-01-01,2025-12-31")
            })
            .0 * 1e3,
        );
    }
    println!(
        "daily series for a year via the API (365 periods): {:.2} ms",
        median(times)
    );
    Ok(())
}
