//! hitmap's criterion suite: ingest, sessionize + archive, queries and
//! store loads on the seeded sample year.
//!
//! ```text
//! cargo bench -p hitmap-benches                 # full: ~10M hits, 30,000 visitors
//! cargo test -p hitmap-benches --benches        # test mode: small data, each bench once
//! ```

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use hitmap::sample::{self, SampleConfig};
use hitmap::{ActionReportKind, Engine, Hit, Query};
use hitmap_benches::{SECTION, SEGMENT, config, day, fresh_engine, to_ndjson};

struct Data {
    cfg: SampleConfig,
    hits: Vec<Hit>,
    engine: Engine,
}

fn data() -> &'static Data {
    static DATA: std::sync::OnceLock<Data> = std::sync::OnceLock::new();
    DATA.get_or_init(|| {
        let cfg = config();
        let hits: Vec<Hit> = sample::generate(&cfg).collect();
        let mut engine = fresh_engine(&cfg);
        engine.ingest(&hits).expect("the sample ingests");
        eprintln!(
            "bench data: {} hits, {} visitors, {} days",
            hits.len(),
            cfg.visitors,
            cfg.days
        );
        Data { cfg, hits, engine }
    })
}

/// Hits whose timestamp falls in the first `days` local days (UTC bounds
/// are close enough to pick a slice; the engine sorts them out).
fn first_days(d: &Data, days: i64) -> Vec<Hit> {
    let t0 = d.hits.iter().map(|h| h.ts).min().unwrap_or(0);
    d.hits
        .iter()
        .filter(|h| h.ts < t0 + days * 86_400)
        .cloned()
        .collect()
}

fn ingest(c: &mut Criterion) {
    let d = data();
    let mut g = c.benchmark_group("ingest");
    g.sample_size(10).measurement_time(Duration::from_secs(20));

    let one_day = first_days(d, 1);
    g.throughput(Throughput::Elements(one_day.len() as u64));
    g.bench_function("typed_hits_day", |b| {
        b.iter_batched(
            || fresh_engine(&d.cfg),
            |mut e| e.ingest(&one_day).unwrap(),
            BatchSize::LargeInput,
        )
    });

    g.throughput(Throughput::Elements(d.hits.len() as u64));
    g.bench_function("typed_hits_year", |b| {
        b.iter_batched(
            || fresh_engine(&d.cfg),
            |mut e| e.ingest(&d.hits).unwrap(),
            BatchSize::PerIteration,
        )
    });

    let month = to_ndjson(&first_days(d, 30));
    let lines = month.iter().filter(|&&b| b == b'\n').count() as u64;
    g.throughput(Throughput::Elements(lines));
    g.bench_function("ndjson_month", |b| {
        b.iter_batched(
            || fresh_engine(&d.cfg),
            |mut e| e.ingest_ndjson(&month[..]).unwrap(),
            BatchSize::PerIteration,
        )
    });
    // The NDJSON reader alone: every line parsed and checked against the
    // contract, nothing ingested.
    g.bench_function("ndjson_parse_month", |b| {
        b.iter(|| {
            month
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .filter(|l| {
                    std::str::from_utf8(l).is_ok_and(|l| hitmap::check_ndjson_line(l).is_ok())
                })
                .count()
        })
    });
    // The peer of the NDJSON target: parsing the same lines into
    // serde_json::Value and nothing else.
    g.bench_function("serde_json_value_month", |b| {
        b.iter(|| {
            month
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .filter(|l| serde_json::from_slice::<serde_json::Value>(l).is_ok())
                .count()
        })
    });
    g.finish();
}

fn queries(c: &mut Criterion) {
    let d = data();
    let cfg = &d.cfg;
    let mut g = c.benchmark_group("visits_summary");
    let spans = [
        ("1_day", day(cfg, 40), day(cfg, 40)),
        ("30_days", day(cfg, 59), day(cfg, 88)),
        ("365_days", day(cfg, 0), day(cfg, 364)),
    ];
    for (name, from, to) in &spans {
        let base = || Query::site(1).range(from.as_str(), to.as_str());
        let variants = [
            ("", base()),
            ("+segment", base().segment(SEGMENT).unwrap()),
            ("+section", base().section(SECTION)),
            (
                "+segment+section",
                base().segment(SEGMENT).unwrap().section(SECTION),
            ),
        ];
        for (v, q) in variants {
            g.bench_function(format!("{name}{v}"), |b| {
                b.iter(|| black_box(d.engine.query(&q).unwrap().visits_summary()))
            });
        }
    }
    g.finish();

    let mut g = c.benchmark_group("reports");
    let month = || Query::site(1).range(day(cfg, 59).as_str(), day(cfg, 88).as_str());
    for (v, q) in [
        ("", month()),
        ("+segment", month().segment(SEGMENT).unwrap()),
    ] {
        g.bench_function(format!("page_urls_month{v}"), |b| {
            b.iter(|| {
                black_box(
                    d.engine
                        .query(&q)
                        .unwrap()
                        .action_report(ActionReportKind::PageUrls),
                )
            })
        });
    }
    let series = format!(
        "method=VisitsSummary.get&idSite=1&period=day&date={},{}",
        day(cfg, 0),
        day(cfg, 364)
    );
    g.bench_function("daily_series_year_api", |b| {
        b.iter(|| black_box(d.engine.api(&series).unwrap()))
    });
    g.finish();
}

fn store(c: &mut Criterion) {
    let d = data();
    let mut g = c.benchmark_group("store");
    g.sample_size(10);
    let dir = std::env::temp_dir().join(format!("hitmap-bench-store-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    {
        let mut e = Engine::open(&dir).unwrap();
        e.add_site(sample::site_config(&d.cfg)).unwrap();
        e.ingest(first_days(d, 30)).unwrap();
    }
    g.bench_function("open_read_only_30_days", |b| {
        b.iter(|| black_box(Engine::open_read_only(&dir).unwrap()))
    });
    let bundle = d.engine.export_day(1, day(&d.cfg, 40).as_str()).unwrap();
    g.throughput(Throughput::Bytes(bundle.len() as u64));
    g.bench_function("day_archive_load", |b| {
        b.iter_batched(
            Engine::in_memory,
            |mut e| e.import_day(&bundle).unwrap(),
            BatchSize::SmallInput,
        )
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, ingest, queries, store);
criterion_main!(benches);
