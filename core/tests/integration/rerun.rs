//! Safe re-runs and bounded memory (issue 11): NDJSON is committed in
//! chunks, each with an identity the store remembers, so the same input
//! twice counts once, an interrupted ingest resumes without duplicates,
//! and chunking never changes a number.

use std::io::Read;

use hitmap::{Engine, IngestOptions, SiteConfig};

use crate::store::TempDir;

fn ndjson(days: u32, visitors: u32) -> Vec<u8> {
    let cfg = hitmap::sample::SampleConfig {
        days,
        visitors,
        ..Default::default()
    };
    hitmap::sample::generate(&cfg)
        .map(|h| h.to_ndjson() + "\n")
        .collect::<String>()
        .into_bytes()
}

fn answers(e: &Engine) -> Vec<String> {
    [
        "method=VisitsSummary.get&idSite=1&period=day&date=2025-01-01,2025-01-10",
        "method=Actions.getPageUrls&idSite=1&period=range&date=2025-01-01,2025-01-10&flat=1",
        "method=VisitFrequency.get&idSite=1&period=range&date=2025-01-01,2025-01-10",
        "method=Hitmap.getSections&idSite=1&period=range&date=2025-01-01,2025-01-10&segment=deviceType%3D%3Dsmartphone",
    ]
    .iter()
    .map(|q| e.api(q).unwrap())
    .collect()
}

fn site(e: &mut Engine) {
    e.add_site(hitmap::sample::site_config(
        &hitmap::sample::SampleConfig::default(),
    ))
    .unwrap();
}

#[test]
fn the_same_input_twice_counts_once_even_after_reopening() {
    let input = ndjson(10, 300);
    let dir = TempDir::new("rerun");
    let first_answers;
    {
        let mut e = Engine::open(&dir.0).unwrap();
        site(&mut e);
        let first = e.ingest_ndjson(&input[..]).unwrap();
        assert!(first.accepted > 1000);
        assert_eq!((first.batches, first.skipped_batches), (1, 0));
        first_answers = answers(&e);
        let again = e.ingest_ndjson(&input[..]).unwrap();
        assert_eq!(
            (again.accepted, again.batches, again.skipped_batches),
            (0, 0, 1)
        );
        assert_eq!(again.skipped_lines, first.accepted);
        assert_eq!(answers(&e), first_answers);
    }
    // The identities are in the store: a new process skips too.
    let mut e = Engine::open(&dir.0).unwrap();
    assert_eq!(e.ingest_ndjson(&input[..]).unwrap().skipped_batches, 1);
    assert_eq!(answers(&e), first_answers);
    // Unless forced.
    let forced = e
        .ingest_ndjson_with(&input[..], &IngestOptions::default().force(true))
        .unwrap();
    assert!(forced.accepted > 1000);
    assert_ne!(answers(&e), first_answers);
}

#[test]
fn chunking_changes_no_number_and_line_numbers_stay_global() {
    let mut input = ndjson(10, 300);
    input.extend_from_slice(b"not json\n");
    let mut whole = Engine::in_memory();
    site(&mut whole);
    let w = whole.ingest_ndjson(&input[..]).unwrap();
    let mut chunked = Engine::in_memory();
    site(&mut chunked);
    let c = chunked
        .ingest_ndjson_with(&input[..], &IngestOptions::default().chunk_bytes(10_000))
        .unwrap();
    assert!(c.batches > 20, "{} chunks", c.batches);
    assert_eq!((c.accepted, &c.rejected), (w.accepted, &w.rejected));
    assert_eq!(w.rejected[0].line, w.accepted + 1);
    assert_eq!(answers(&chunked), answers(&whole));
}

/// A re-run skips the chunks it committed before; a bad line after them
/// still gets its line number in the file, blank lines counted.
#[test]
fn line_numbers_after_skipped_chunks_count_blank_lines() {
    let mut first = Vec::new();
    for (i, line) in ndjson(4, 50).split_inclusive(|&b| b == b'\n').enumerate() {
        first.extend_from_slice(line);
        if i % 10 == 3 {
            first.extend_from_slice(b"\n  \n");
        }
    }
    let options = IngestOptions::default().chunk_bytes(first.len());
    let mut e = Engine::in_memory();
    site(&mut e);
    let once = e.ingest_ndjson_with(&first[..], &options).unwrap();
    assert!(once.rejected.is_empty());
    let mut again = first.clone();
    again.extend_from_slice(b"not json\n");
    let out = e.ingest_ndjson_with(&again[..], &options).unwrap();
    assert_eq!(out.skipped_batches, 1);
    assert_eq!(out.skipped_lines, once.accepted);
    let lines = again.split_inclusive(|&b| b == b'\n').count() as u64;
    assert_eq!(out.rejected.len(), 1);
    assert_eq!(out.rejected[0].line, lines);
}

/// A reader that fails after `limit` bytes, as a killed or broken transfer.
struct Breaks<'a> {
    data: &'a [u8],
    pos: usize,
    limit: usize,
}

impl Read for Breaks<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.limit {
            return Err(std::io::Error::other("the connection broke"));
        }
        let n = buf
            .len()
            .min(self.limit - self.pos)
            .min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[test]
fn an_interrupted_ingest_resumes_without_duplicates() {
    let input = ndjson(10, 300);
    let options = IngestOptions::default().chunk_bytes(20_000);
    let mut once = Engine::in_memory();
    site(&mut once);
    once.ingest_ndjson_with(&input[..], &options).unwrap();
    let dir = TempDir::new("resume");
    let mut e = Engine::open(&dir.0).unwrap();
    site(&mut e);
    let broken = Breaks {
        data: &input,
        pos: 0,
        limit: input.len() / 2,
    };
    assert!(
        e.ingest_ndjson_with(std::io::BufReader::new(broken), &options)
            .is_err()
    );
    let resumed = e.ingest_ndjson_with(&input[..], &options).unwrap();
    assert!(
        resumed.skipped_batches > 0 && resumed.batches > 0,
        "{resumed:?}"
    );
    assert_eq!(answers(&e), answers(&once));
}

#[test]
fn a_caller_batch_id_makes_typed_and_ndjson_batches_idempotent() {
    let mut e = Engine::in_memory();
    e.add_site(SiteConfig::new(1)).unwrap();
    let hits = [hitmap::Hit::pageview(
        1,
        1_717_200_000,
        "a",
        "https://x.org/",
    )];
    let opts = IngestOptions::default().batch_id("export-2024-06-01");
    assert_eq!(e.ingest_with(hits.clone(), &opts).unwrap().accepted, 1);
    let again = e.ingest_with(hits.clone(), &opts).unwrap();
    assert_eq!((again.accepted, again.skipped_batches), (0, 1));
    // Plain typed ingest has no identity: it counts again.
    assert_eq!(e.ingest(hits).unwrap().accepted, 1);
    let s = e.query(&hitmap::Query::site(1)).unwrap().visits_summary();
    assert_eq!(s.nb_actions, 2);
}

#[test]
fn a_cursor_lands_with_its_hits_and_survives_a_reopen() {
    use hitmap::Hit;
    let dir = TempDir::new("cursor");
    {
        let mut e = Engine::open(&dir.0).unwrap();
        site(&mut e);
        let hits = [Hit::pageview(1, 1_717_200_000, "v", "https://x.org/")];
        e.ingest_with(hits, &IngestOptions::default().cursor("matomo:1", "10"))
            .unwrap();
        // A batch whose rows were all rejected still moves the cursor:
        // the importer must not read them again.
        let bad = [Hit::pageview(9, 1_717_200_000, "v", "https://x.org/")];
        let out = e
            .ingest_with(bad, &IngestOptions::default().cursor("matomo:1", "20"))
            .unwrap();
        assert_eq!(out.rejected.len(), 1);
        assert_eq!(e.cursor("matomo:1"), Some("20"));
    }
    let e = Engine::open_read_only(&dir.0).unwrap();
    assert_eq!(e.cursor("matomo:1"), Some("20"));
    assert_eq!(e.cursor("matomo:2"), None);
    let s = e
        .query(&hitmap::Query::site(1).range("2024-06-01", "2024-06-01"))
        .unwrap()
        .visits_summary();
    assert_eq!(s.nb_actions, 1);
}
