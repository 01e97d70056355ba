//! Shared setup of hitmap's criterion benchmarks: the data sets and the
//! queries, sized for a full run (`cargo bench`) or for the quick test
//! mode (`cargo test --benches`) that keeps the benches from rotting.

use hitmap::sample::{self, SampleConfig};
use hitmap::{Engine, Hit};

/// The three-condition segment the targets name.
pub const SEGMENT: &str = "deviceType==desktop;department==HR,department==IT;countryCode==gb";

/// The section of the section benchmarks (named: `/news`).
pub const SECTION: &str = "News";

/// Whether criterion was started by `cargo bench` (full data) rather than
/// by `cargo test --benches` (a small data set, each bench run once).
pub fn full_run() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// The sample year (about 10M hits, 30,000 visitors) for a full run; two
/// weeks of 1,000 visitors in test mode. `HITMAP_BENCH_VISITORS` and
/// `HITMAP_BENCH_DAYS` override.
pub fn config() -> SampleConfig {
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse().ok());
    let (days, visitors) = if full_run() {
        (365, 30_000)
    } else {
        (14, 1_000)
    };
    SampleConfig {
        days: env("HITMAP_BENCH_DAYS").unwrap_or(days),
        visitors: env("HITMAP_BENCH_VISITORS").unwrap_or(visitors),
        ..SampleConfig::default()
    }
}

/// A fresh in-memory engine with the sample site.
pub fn fresh_engine(cfg: &SampleConfig) -> Engine {
    let mut e = Engine::in_memory();
    e.add_site(sample::site_config(cfg))
        .expect("the sample site is valid");
    e
}

/// Hits as NDJSON bytes.
pub fn to_ndjson(hits: &[Hit]) -> Vec<u8> {
    let mut out = Vec::new();
    for h in hits {
        out.extend_from_slice(h.to_ndjson().as_bytes());
        out.push(b'\n');
    }
    out
}

/// The local day `n` days after the sample's start, as `YYYY-MM-DD`.
pub fn day(cfg: &SampleConfig, n: u32) -> String {
    let n = n.min(cfg.days.saturating_sub(1));
    (cfg.start + chrono::Days::new(u64::from(n))).to_string()
}
