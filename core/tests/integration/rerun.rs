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

/// A file whose first line is still being written, then whole but
/// without its `\n`, then ended, then grown: the line under way is held
/// back (not rejected), the whole line counts once, and the skip of it is
/// reported as one line.
#[test]
fn a_first_line_without_its_newline_counts_once_as_the_file_grows() {
    let input = ndjson(1, 20);
    let end = input.iter().position(|&b| b == b'\n').unwrap();
    let want = {
        let mut e = Engine::in_memory();
        site(&mut e);
        (e.ingest_ndjson(&input[..]).unwrap().accepted, answers(&e))
    };
    let dir = TempDir::new("first-line");
    let mut e = Engine::open(&dir.0).unwrap();
    site(&mut e);
    let options = IngestOptions::default();
    let run = |e: &mut Engine, len: usize| {
        e.ingest_ndjson_resuming(|| Ok(&input[..len]), &options)
            .unwrap()
    };
    let under_way = run(&mut e, end / 2);
    assert_eq!(
        (
            under_way.accepted,
            under_way.rejected.len(),
            under_way.held_back
        ),
        (0, 0, 1)
    );
    let whole = run(&mut e, end);
    assert_eq!(whole.accepted, 1);
    let same = run(&mut e, end);
    assert_eq!(
        (same.accepted, same.skipped_batches, same.skipped_lines),
        (0, 1, 1)
    );
    let ended = run(&mut e, end + 1);
    assert_eq!((ended.accepted, ended.skipped_lines), (0, 1));
    drop(e);
    let mut e = Engine::open(&dir.0).unwrap();
    let rest = run(&mut e, input.len());
    assert_eq!(rest.skipped_lines, 1);
    assert_eq!(1 + rest.accepted, want.0);
    assert_eq!(answers(&e), want.1);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 24, ..Default::default() })]

    /// A cron job over a file that grows: each run reads the file as it
    /// is then (cut anywhere, even inside a line, or after a last line
    /// without its `\n`), in chunks of any size, sometimes from a reopened
    /// store. Every line counts once: the answers equal one read of the
    /// whole file, and so does the number of hits accepted over the runs.
    #[test]
    fn a_growing_file_counts_each_line_once(
        cuts in proptest::collection::vec(0.0f64..1.0, 1..6),
        trailing_newline in proptest::bool::ANY,
        chunk in 40usize..4000,
        reopen in proptest::collection::vec(proptest::bool::ANY, 6),
    ) {
        let mut input = ndjson(2, 40);
        if !trailing_newline {
            input.pop();
        }
        let mut ends: Vec<usize> = cuts.iter().map(|c| (c * input.len() as f64) as usize).collect();
        ends.sort_unstable();
        ends.push(input.len());
        let want = {
            let mut e = Engine::in_memory();
            site(&mut e);
            let out = e.ingest_ndjson(&input[..]).unwrap();
            (out.accepted, answers(&e))
        };
        let dir = TempDir::new("grow");
        let mut e = Engine::open(&dir.0).unwrap();
        site(&mut e);
        let options = IngestOptions::default().chunk_bytes(chunk);
        let mut accepted = 0;
        for (k, &end) in ends.iter().enumerate() {
            if reopen[k] {
                drop(e);
                e = Engine::open(&dir.0).unwrap();
            }
            let out = e
                .ingest_ndjson_resuming(|| Ok(&input[..end]), &options)
                .unwrap();
            accepted += out.accepted;
        }
        proptest::prop_assert_eq!(accepted, want.0);
        proptest::prop_assert_eq!(answers(&e), want.1);
    }
}

/// The cron pattern with rotation: `access.log` grows and is ingested,
/// is renamed `access.log.1` (and grows a last time) while a new
/// `access.log` starts, then moves on to `access.log.2`; the
/// command ingests every file it finds each time. Every line counts once,
/// and a file that shares the first line of another but differs after it
/// is read whole.
#[test]
fn a_rotated_log_counts_once() {
    let all = ndjson(4, 60);
    let lines: Vec<&[u8]> = all.split_inclusive(|&b| b == b'\n').collect();
    let half = lines.len() / 2;
    let (day1, day2): (Vec<u8>, Vec<u8>) = (lines[..half].concat(), lines[half..].concat());
    let want = {
        let mut e = Engine::in_memory();
        site(&mut e);
        e.ingest_ndjson(&all[..]).unwrap();
        answers(&e)
    };
    let dir = TempDir::new("rotate");
    let logs = TempDir::new("rotate-logs");
    std::fs::create_dir_all(&logs.0).unwrap();
    let log = logs.0.join("access.log");
    let log1 = logs.0.join("access.log.1");
    let log2 = logs.0.join("access.log.2");
    let mut e = Engine::open(&dir.0).unwrap();
    site(&mut e);
    let options = IngestOptions::default().chunk_bytes(5000);
    let run = |e: &mut Engine, files: &[&std::path::Path]| -> u64 {
        let mut accepted = 0;
        for f in files {
            let out = e
                .ingest_ndjson_resuming(
                    || Ok(std::io::BufReader::new(std::fs::File::open(f)?)),
                    &options,
                )
                .unwrap();
            accepted += out.accepted;
        }
        accepted
    };
    // Day 1, read three times as it grows.
    let third = day1.len() / 3;
    std::fs::write(&log, &day1[..third]).unwrap();
    let mut accepted = run(&mut e, &[&log]);
    std::fs::write(&log, &day1[..2 * third]).unwrap();
    accepted += run(&mut e, &[&log]);
    // Rotation: the last lines of day 1 land in the renamed file.
    std::fs::rename(&log, &log1).unwrap();
    std::fs::write(&log1, &day1).unwrap();
    std::fs::write(&log, &day2[..day2.len() / 2]).unwrap();
    accepted += run(&mut e, &[&log, &log1]);
    // The old file moves on (compressed, in practice: `hitmap ingest`
    // reads it unpacked; the CLI's test covers gzip), the new one grown.
    std::fs::rename(&log1, &log2).unwrap();
    std::fs::write(&log, &day2).unwrap();
    accepted += run(&mut e, &[&log, &log2]);
    accepted += run(&mut e, &[&log, &log2]);
    assert_eq!(answers(&e), want);
    assert_eq!(accepted as usize, lines.len());
    // Same first line, other lines after it: all of those are read.
    let mut other = lines[0].to_vec();
    other.extend_from_slice(&lines[half..half + 10].concat());
    let other: Vec<u8> = other
        .split_inclusive(|&b| b == b'\n')
        .enumerate()
        .flat_map(|(i, l)| {
            {
                let l = String::from_utf8_lossy(l);
                if i == 0 {
                    l.into_owned()
                } else {
                    l.replace("\"visitor\":\"", "\"visitor\":\"other-")
                }
            }
            .into_bytes()
        })
        .collect();
    let out = e
        .ingest_ndjson_resuming(|| Ok(&other[..]), &options)
        .unwrap();
    assert!(out.accepted >= 10, "{out:?}");
}
