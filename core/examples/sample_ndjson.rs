//! Writes sample traffic as NDJSON to stdout (fixtures, other hosts):
//! `cargo run --example sample_ndjson -- <days> <visitors>`.
use std::io::Write;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let cfg = hitmap::sample::SampleConfig {
        start: chrono::NaiveDate::from_ymd_opt(2024, 6, 1).expect("valid"),
        days: *args.first().unwrap_or(&7) as u32,
        visitors: *args.get(1).unwrap_or(&30) as u32,
        ..Default::default()
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for h in hitmap::sample::generate(&cfg) {
        writeln!(out, "{}", h.to_ndjson()).expect("stdout");
    }
}
