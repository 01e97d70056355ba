//! Profiling aid: builds the sample year once, then repeats one query
//! (`perf record` this, not the whole bench):
//!
//! ```text
//! [REPEAT=200] cargo run --release --example segment_profile [-- summary|section|pages|pages-rows [VISITORS]]
//! ```
//!
//! `summary` (the default) is the 365-day three-condition segment summary,
//! `section` the 365-day summary of the News section, `pages` a month's
//! page report under the segment, through the Reporting API, and
//! `pages-rows` the same report's rows from `Selection::action_report`.
use hitmap::sample::{self, SampleConfig};
use hitmap::{Engine, Query};

const SEGMENT: &str = "deviceType==desktop;department==HR,department==IT;countryCode==gb";

fn main() -> Result<(), hitmap::Error> {
    let mut args = std::env::args().skip(1);
    let what = args.next().unwrap_or_else(|| "summary".into());
    let cfg = SampleConfig {
        visitors: args.next().and_then(|v| v.parse().ok()).unwrap_or(30_000),
        ..SampleConfig::default()
    };
    let mut engine = Engine::in_memory();
    engine.add_site(sample::site_config(&cfg))?;
    engine.ingest(sample::generate(&cfg))?;
    let year = Query::site(1).range("2025-01-01", "2025-12-31");
    let pages = format!(
        "method=Actions.getPageUrls&flat=1&idSite=1&period=range&date=2025-03-01,2025-03-30&format_metrics=0&filter_limit=-1&segment={}",
        hitmap::encode_query_value(SEGMENT)
    );
    let run = || -> Result<u64, hitmap::Error> {
        Ok(match what.as_str() {
            "section" => {
                let q = year.clone().section("News");
                engine.query(&q)?.visits_summary().nb_visits
            }
            "pages" => engine.api(&pages)?.len() as u64,
            "pages-rows" => {
                let q = Query::site(1)
                    .range("2025-03-01", "2025-03-30")
                    .segment(SEGMENT)?;
                let rows = engine
                    .query(&q)?
                    .action_report(hitmap::ActionReportKind::PageUrls);
                rows.len() as u64
            }
            _ => {
                let q = year.clone().segment(SEGMENT)?;
                engine.query(&q)?.visits_summary().nb_visits
            }
        })
    };
    let t = std::time::Instant::now();
    let mut total = 0;
    let repeat: u32 = std::env::var("REPEAT")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(200);
    for _ in 0..repeat {
        total += run()?;
    }
    println!(
        "{what}: {total} (visits or bytes), {:.2} ms per query",
        t.elapsed().as_secs_f64() * 1e3 / f64::from(repeat)
    );
    Ok(())
}
