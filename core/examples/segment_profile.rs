//! Profiling aid: builds the sample year once, then repeats the 365-day
//! three-condition segment summary (`perf record` this, not the whole bench).
use hitmap::sample::{self, SampleConfig};
use hitmap::{Engine, Query};

fn main() -> Result<(), hitmap::Error> {
    let cfg = SampleConfig::default();
    let mut engine = Engine::in_memory();
    engine.add_site(sample::site_config(&cfg))?;
    engine.ingest(sample::generate(&cfg))?;
    let q = Query::site(1)
        .range("2025-01-01", "2025-12-31")
        .segment("deviceType==desktop;department==HR,department==IT;countryCode==gb")?;
    let t = std::time::Instant::now();
    let mut visits = 0;
    for _ in 0..200 {
        visits += engine.query(&q)?.visits_summary().nb_visits;
    }
    println!(
        "{visits} visits, {:.2} ms per query",
        t.elapsed().as_secs_f64() * 1e3 / 200.0
    );
    Ok(())
}
