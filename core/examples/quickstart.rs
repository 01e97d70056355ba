//! The README's first command: a year of intranet-like traffic in, exact
//! reports out.
//!
//! ```text
//! cargo run --release --example quickstart              # 5,000 visitors, ~1.6M hits
//! cargo run --release --example quickstart -- --full    # 30,000 visitors, ~10M hits
//! ```

use std::time::Instant;

use hitmap::sample::{self, SampleConfig};
use hitmap::{ActionReportKind, Engine, Query, VisitsSummary};

const USAGE: &str = "\
usage: cargo run --release --example quickstart [-- --full]

A year of intranet-like traffic in, exact reports out, from Rust.
  --full   30,000 visitors (~10M hits, about 8 GB of memory) instead of 5,000
  --help   this text
The command line and HTTP server: cargo run --release -p hitmap-cli -- demo";

fn main() -> Result<(), hitmap::Error> {
    let mut full = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--full" => full = true,
            "--help" | "-h" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => {
                eprintln!("quickstart: unknown argument '{other}'\n{USAGE}");
                std::process::exit(2);
            }
        }
    }
    let cfg = SampleConfig {
        visitors: if full { 30_000 } else { 5_000 },
        ..SampleConfig::default()
    };
    let mut engine = Engine::in_memory();
    engine.add_site(sample::site_config(&cfg))?;

    let hits: Vec<_> = sample::generate(&cfg).collect();
    println!(
        "Generated {} hits of {} visitors over {} days (seed {}).",
        hits.len(),
        cfg.visitors,
        cfg.days,
        cfg.seed
    );
    let t = Instant::now();
    let outcome = engine.ingest(&hits)?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "Ingested, sessionized and archived {} hits in {secs:.2} s ({:.2} M hits/s), {} rejected.\n",
        outcome.accepted,
        outcome.accepted as f64 / secs / 1e6,
        outcome.rejected.len()
    );

    let year = Query::site(1).range("2025-01-01", "2025-12-31");
    let show = |title: &str, q: &Query| -> Result<(), hitmap::Error> {
        let t = Instant::now();
        let s: VisitsSummary = engine.query(q)?.visits_summary();
        let ms = t.elapsed().as_secs_f64() * 1e3;
        println!("{title}  ({ms:.1} ms)");
        println!(
            "  visits {:>9}  unique visitors {:>6}  users {:>6}  actions {:>9}  bounce rate {:>5.1}%  avg time {:>5.0} s",
            s.nb_visits,
            s.nb_uniq_visitors,
            s.nb_users,
            s.nb_actions,
            100.0 * s.bounce_rate(),
            s.avg_time_on_site()
        );
        Ok(())
    };
    show("VisitsSummary, 2025", &year)?;
    let segment = "deviceType==smartphone;department==HR,department==IT";
    show(
        &format!("VisitsSummary, 2025, segment {segment}"),
        &year.clone().segment(segment)?,
    )?;
    show(
        "VisitsSummary, 2025, section News (/news)",
        &year.clone().section("News"),
    )?;

    let t = Instant::now();
    let march = engine.query(&Query::site(1).range("2025-03-01", "2025-03-31"))?;
    let pages = march.action_report(ActionReportKind::PageUrls);
    let ms = t.elapsed().as_secs_f64() * 1e3;
    println!(
        "\nTop pages, March 2025: {} rows in all, exact per-row uniques ({ms:.1} ms)",
        pages.len()
    );
    println!(
        "  {:<52} {:>8} {:>8} {:>9}",
        "page", "hits", "visits", "visitors"
    );
    for row in pages.iter().take(10) {
        println!(
            "  {:<52} {:>8} {:>8} {:>9}",
            row.label, row.nb_hits, row.nb_visits, row.nb_uniq_visitors
        );
    }

    let request = "method=VisitsSummary.get&idSite=1&period=month&date=2025-06-01&segment=countryCode%3D%3Dfr";
    println!("\nReporting API: {request}\n  {}", engine.api(request)?);
    // Freed last: dropping millions of small strings first would make the
    // allocator consolidate during the first timed query.
    drop(hits);
    Ok(())
}
