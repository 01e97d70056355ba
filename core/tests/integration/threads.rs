//! Threads change nothing: an ingest on one thread, two or three (days
//! built in parallel, NDJSON blocks read and interned on every thread and
//! merged in order) gives the same outcome, line for line, the same
//! answers and the same store, byte for byte.

use hitmap::sample::{self, SampleConfig};
use hitmap::{ActionReportKind, Engine, IngestOutcome, Query};

use crate::store::{TempDir, open_writer, walk};

/// Two months of sample traffic from 600 visitors.
fn two_months() -> SampleConfig {
    SampleConfig {
        visitors: 600,
        days: 60,
        ..SampleConfig::default()
    }
}

/// Sample traffic as NDJSON (several MB for two months, so blocks are
/// read on every thread), with bad and blank lines among the good ones.
fn input(cfg: &SampleConfig) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, hit) in sample::generate(cfg).enumerate() {
        match i % 997 {
            13 => out.extend_from_slice(b"{\"site\":1,\"visitor\":\"x\",\"ts\":\"soon\"}\n"),
            14 => out.extend_from_slice(b"\n   \n"),
            15 => out.extend_from_slice(b"{\"site\":1,\"visitor\":\"\xff\"}\n"),
            16 => out.extend_from_slice(b"{broken\n"),
            17 => out.extend_from_slice(b"{\"site\":9,\"visitor\":\"x\",\"ts\":1}\n"),
            _ => {}
        }
        out.extend_from_slice(hit.to_ndjson().as_bytes());
        out.push(b'\n');
    }
    out
}

fn engine(cfg: &SampleConfig, threads: usize) -> Engine {
    let mut e = Engine::in_memory();
    e.set_query_threads(threads);
    e.add_site(sample::site_config(cfg)).unwrap();
    e
}

fn answers(e: &Engine) -> String {
    let q = e
        .query(&Query::site(1).range("2025-01-01", "2025-03-31"))
        .unwrap();
    let seg = e
        .query(
            &Query::site(1)
                .range("2025-01-01", "2025-03-31")
                .segment("deviceType==desktop")
                .unwrap(),
        )
        .unwrap();
    format!(
        "{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
        q.visits_summary(),
        seg.visits_summary(),
        q.action_report(ActionReportKind::PageUrls),
        q.action_report(ActionReportKind::Downloads),
        e.export_hits(1, "2025-01-01", "2025-03-31").unwrap(),
    )
}

#[test]
fn ndjson_and_day_builds_answer_the_same_on_any_thread_count() {
    let cfg = two_months();
    let ndjson = input(&cfg);
    assert!(
        ndjson.len() > 5 << 20,
        "{} bytes: too few for blocks on several threads",
        ndjson.len()
    );
    let mut outcomes: Vec<IngestOutcome> = Vec::new();
    let mut all = Vec::new();
    for threads in [1, 2, 3] {
        let mut e = engine(&cfg, threads);
        outcomes.push(e.ingest_ndjson(&ndjson[..]).unwrap());
        all.push(answers(&e));
    }
    let one = &outcomes[0];
    assert!(one.accepted > 20_000);
    assert!(one.rejected.len() > 100, "{} rejected", one.rejected.len());
    for (o, a) in outcomes.iter().zip(&all).skip(1) {
        assert_eq!(o.accepted, one.accepted);
        assert_eq!(
            o.rejected
                .iter()
                .map(|r| (r.line, &r.reason))
                .collect::<Vec<_>>(),
            one.rejected
                .iter()
                .map(|r| (r.line, &r.reason))
                .collect::<Vec<_>>()
        );
        assert_eq!(a, &all[0]);
    }
    // The typed path on one thread agrees with them all.
    let mut typed = engine(&cfg, 1);
    let hits: Vec<_> = sample::generate(&cfg).collect();
    assert_eq!(typed.ingest(&hits).unwrap().accepted, one.accepted);
    assert_eq!(answers(&typed), all[0]);
}

/// Ids are first-seen on any thread count, so the files a store holds
/// after an ingest (dictionaries, day archives, visitor history) are the
/// same bytes, under the same names. The NDJSON comes in two calls: a small one read line by line,
/// then blocks that merge into the dictionaries it filled. Typed hits
/// come in two calls too, the second in blocks on every thread, with
/// hits the contract refuses among them.
#[test]
fn a_store_written_on_any_thread_count_holds_the_same_bytes() {
    let cfg = two_months();
    let ndjson = input(&cfg);
    let cut = 1 << 20;
    let cut = cut + ndjson[cut..].iter().position(|&b| b == b'\n').unwrap() + 1;
    let (first, rest) = ndjson.split_at(cut);
    assert!(
        rest.len() > 4 << 20,
        "{} bytes: too few for blocks",
        rest.len()
    );
    same_store_on_any_thread_count(&cfg, |e| {
        for part in [first, rest] {
            e.ingest_ndjson(part).unwrap();
        }
    });
    let mut hits: Vec<hitmap::Hit> = sample::generate(&cfg).collect();
    for i in (0..hits.len()).step_by(997) {
        hits[i].visitor.clear(); // refused: a hit needs a visitor
    }
    let (first, rest) = hits.split_at(5_000);
    let typed = same_store_on_any_thread_count(&cfg, |e| {
        for part in [first, rest] {
            let out = e.ingest(part).unwrap();
            let refused = part.iter().filter(|h| h.visitor.is_empty()).count();
            assert!(refused > 0);
            assert_eq!(out.rejected.len(), refused);
        }
    });
    // The same hits borrowed (HitRef, as the DataFrame path gives them).
    let borrowed = same_store_on_any_thread_count(&cfg, |e| {
        for part in [first, rest] {
            let refs: Vec<hitmap::HitRef> = part.iter().map(hitmap::Hit::as_ref).collect();
            let out = e
                .ingest_refs_with(&refs, &hitmap::IngestOptions::default())
                .unwrap();
            let refused = part.iter().filter(|h| h.visitor.is_empty()).count();
            assert_eq!(out.rejected.len(), refused);
        }
    });
    assert_eq!(borrowed.len(), typed.len());
    for (a, b) in borrowed.iter().zip(&typed) {
        assert!(a == b, "{} differs", a.0);
    }
}

/// Ingests with `ingest` into a store on 1, 2 and 3 threads and checks the
/// stores hold the same files, byte for byte; returns them.
fn same_store_on_any_thread_count(
    cfg: &SampleConfig,
    ingest: impl Fn(&mut Engine),
) -> Vec<(String, Vec<u8>)> {
    let mut stores = Vec::new();
    for threads in [1, 2, 3] {
        let dir = TempDir::new("threads");
        let mut e = open_writer(&dir.0);
        e.set_query_threads(threads);
        e.set_live_limit(0);
        e.add_site(sample::site_config(cfg)).unwrap();
        ingest(&mut e);
        drop(e);
        // The manifest records when superseded files were retired (wall
        // clock seconds): it names the same files, compared below.
        let files: Vec<(String, Vec<u8>)> = walk(&dir.0)
            .into_iter()
            .filter(|f| !f.ends_with("LOCK") && !f.ends_with("MANIFEST"))
            .map(|f| {
                let bytes = std::fs::read(&f).unwrap();
                (
                    f.strip_prefix(&*dir.0.to_string_lossy())
                        .unwrap()
                        .to_string(),
                    bytes,
                )
            })
            .collect();
        assert!(files.len() > 60, "{} files", files.len());
        stores.push(files);
        std::fs::remove_dir_all(&dir.0).ok();
    }
    for other in &stores[1..] {
        let names = |s: &[(String, Vec<u8>)]| s.iter().map(|f| f.0.clone()).collect::<Vec<_>>();
        assert_eq!(names(other), names(&stores[0]));
        for (a, b) in other.iter().zip(&stores[0]) {
            assert!(a.1 == b.1, "{} differs", a.0);
        }
    }
    stores.swap_remove(0)
}
