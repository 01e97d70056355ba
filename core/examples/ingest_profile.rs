use hitmap::Engine;
use hitmap::sample::{self, SampleConfig};
use std::time::Instant;
fn main() {
    let cfg = SampleConfig {
        visitors: 10_000,
        ..SampleConfig::default()
    };
    let hits: Vec<_> = sample::generate(&cfg).collect();
    let mut best = 0f64;
    for _ in 0..6 {
        let mut e = Engine::in_memory();
        e.add_site(sample::site_config(&cfg)).unwrap();
        let t = Instant::now();
        e.ingest(&hits).unwrap();
        best = best.max(hits.len() as f64 / t.elapsed().as_secs_f64() / 1e6);
    }
    eprintln!("best {best:.2} M/s");
}
