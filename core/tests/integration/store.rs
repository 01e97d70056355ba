//! The durable store: reopen equality, locking, read-only snapshots,
//! damage isolation, golden files, and writers killed at random moments.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use hitmap::{Engine, Error, Hit, Query, SiteConfig};
use proptest::prelude::*;

use crate::props::{Case, build, case, fingerprint, make_hit, site_config};

/// A fresh folder under the target dir, removed when dropped.
pub(crate) struct TempDir(pub PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> TempDir {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("hitmap-test-{}-{tag}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        TempDir(dir)
    }
}

/// Rewrites the manifest's JSON body (and its envelope's length and
/// checksum).
pub(crate) fn edit_manifest(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = dir.join("MANIFEST");
    let bytes = std::fs::read(&path).unwrap();
    let mut body: serde_json::Value = serde_json::from_slice(&bytes[20..bytes.len() - 4]).unwrap();
    edit(&mut body);
    let body = serde_json::to_vec(&body).unwrap();
    let mut file = bytes[..20].to_vec();
    file[12..20].copy_from_slice(&(body.len() as u64).to_le_bytes());
    file.extend_from_slice(&body);
    let crc = crc32fast::hash(&file);
    file.extend_from_slice(&crc.to_le_bytes());
    std::fs::write(&path, file).unwrap();
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `Engine::open`, retried briefly while the lock is held: the crash test
/// forks child processes, and a fork holds a copy of every open descriptor
/// (other tests' LOCK files included) until it execs.
pub(crate) fn open_writer(dir: &Path) -> Engine {
    for _ in 0..200 {
        match Engine::open(dir) {
            Err(Error::Locked { .. }) => std::thread::sleep(std::time::Duration::from_millis(10)),
            other => return other.unwrap(),
        }
    }
    panic!("{} stayed locked", dir.display());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    /// The property tests' data through a store closed and reopened between
    /// batches answers exactly as the in-memory engine.
    #[test]
    fn reopened_store_equals_in_memory(case in case(), cuts in prop::collection::vec(0..25usize, 1..4)) {
        let hits: Vec<Hit> = case.specs.iter().map(|s| make_hit(s, case.base)).collect();
        let memory = build(&case, &hits, &[]);
        let dir = TempDir::new("reopen");
        {
            let mut e = open_writer(&dir.0);
            e.add_site(site_config(&case)).unwrap();
        }
        let mut rest = &hits[..];
        for &n in cuts.iter().chain([&usize::MAX]) {
            let (now, later) = rest.split_at(n.min(rest.len()));
            let mut e = open_writer(&dir.0);
            e.ingest(now).unwrap();
            rest = later;
        }
        let reopened = Engine::open_read_only(&dir.0).unwrap();
        prop_assert!(reopened.damaged().is_empty());
        prop_assert_eq!(fingerprint(&reopened, &case), fingerprint(&memory, &case));
        // Every hit comes back out of the day files as it went in (load
        // timings and bandwidth included).
        let all = |e: &Engine| {
            let mut hits = e.export_hits(1, "1970-01-01", "9999-12-31").unwrap();
            hits.sort_by_key(|h| (h.ts, h.visitor.clone(), h.to_ndjson()));
            hits
        };
        let back = all(&reopened);
        prop_assert!(back.iter().any(|h| !h.perf.is_empty()) || hits.iter().all(|h| h.perf.is_empty()));
        prop_assert_eq!(back, all(&memory));
    }
}

fn sample_hits() -> Vec<Hit> {
    let cfg = hitmap::sample::SampleConfig {
        days: 5,
        visitors: 40,
        ..Default::default()
    };
    hitmap::sample::generate(&cfg).collect()
}

fn sample_store(dir: &Path) -> Engine {
    let cfg = hitmap::sample::SampleConfig::default();
    let mut e = Engine::open(dir).unwrap();
    e.set_live_limit(0); // this test is about day files
    e.add_site(hitmap::sample::site_config(&cfg)).unwrap();
    e.add_site(SiteConfig::new(2)).unwrap();
    e.ingest(sample_hits()).unwrap();
    e.ingest([Hit::pageview(2, 1_735_700_000, "z", "https://y.org/")])
        .unwrap();
    e
}

pub(crate) fn day_files(dir: &Path, site: u32) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join(format!("site-{site}/days")))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

#[test]
fn one_writer_at_a_time_and_readers_see_commits() {
    let dir = TempDir::new("lock");
    let mut writer = sample_store(&dir.0);
    match Engine::open(&dir.0) {
        Err(Error::Locked { pid }) => assert_eq!(pid, std::process::id()),
        other => panic!("expected Locked, got {other:?}"),
    }
    let reader = Engine::open_read_only(&dir.0).unwrap();
    assert!(matches!(reader_ingest(&reader), Err(Error::ReadOnly)));
    let before = reader.query(&Query::site(1)).unwrap().visits_summary();
    writer
        .ingest([Hit::pageview(
            1,
            1_735_800_000,
            "late",
            "https://intranet.example.org/",
        )])
        .unwrap();
    // The old snapshot is unchanged; a new reader sees the commit.
    assert_eq!(
        reader.query(&Query::site(1)).unwrap().visits_summary(),
        before
    );
    let after = Engine::open_read_only(&dir.0)
        .unwrap()
        .query(&Query::site(1))
        .unwrap()
        .visits_summary();
    assert_eq!(after.nb_actions, before.nb_actions + 1);
    drop(writer);
    open_writer(&dir.0); // the lock goes with the writer
}

fn reader_ingest(reader: &Engine) -> hitmap::Result<hitmap::IngestOutcome> {
    // A read-only engine refuses writes through &mut; borrow a copy of the path.
    let mut again = Engine::open_read_only(reader.path().unwrap())?;
    again.ingest([Hit::pageview(1, 0, "x", "https://x.org/")])
}

/// A day of many alike visits packs into fewer bytes than it has visits
/// (each section is zstd-packed): it still reads back. Such a day was
/// once refused as "runs past the end", and a writer then refused every
/// hit for it.
#[test]
fn a_day_that_packs_smaller_than_its_visit_count_reads_back() {
    let dir = TempDir::new("packs-small");
    let visitors = 30_000u32;
    {
        let mut e = open_writer(&dir.0);
        e.add_site(hitmap::SiteConfig::new(1)).unwrap();
        let hits: Vec<Hit> = (0..visitors)
            .map(|v| {
                Hit::pageview(
                    1,
                    1_717_200_000 + i64::from(v % 600),
                    format!("{v:016x}"),
                    "https://x.org/",
                )
            })
            .collect();
        e.ingest(&hits).unwrap();
    }
    let file = &day_files(&dir.0, 1)[0];
    let bytes = std::fs::metadata(file).unwrap().len();
    assert!(
        bytes < u64::from(visitors),
        "the day packs to {bytes} bytes: the case needs fewer than its visits"
    );
    let mut reader = Engine::open_read_only(&dir.0).unwrap();
    assert_eq!(reader.verify(), Vec::<String>::new());
    let s = reader.query(&Query::site(1)).unwrap().visits_summary();
    assert_eq!(s.nb_visits, u64::from(visitors));
    // And a writer takes hits for it.
    drop(reader);
    let mut w = open_writer(&dir.0);
    w.set_live_limit(0);
    w.ingest([Hit::pageview(1, 1_717_200_000, "another", "https://x.org/")])
        .unwrap();
    let s = w.query(&Query::site(1)).unwrap().visits_summary();
    assert_eq!(s.nb_visits, u64::from(visitors) + 1);
}

#[test]
fn damaged_files_are_named_and_the_rest_still_answers() {
    let dir = TempDir::new("damage");
    drop(sample_store(&dir.0));
    let days = day_files(&dir.0, 1);
    assert!(days.len() >= 4, "{days:?}");
    // Flip a byte, truncate another, delete a third.
    let mut bytes = std::fs::read(&days[0]).unwrap();
    bytes[40] ^= 0x55;
    std::fs::write(&days[0], bytes).unwrap();
    let len = std::fs::metadata(&days[1]).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&days[1])
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    std::fs::remove_file(&days[2]).unwrap();

    let mut e = Engine::open_read_only(&dir.0).unwrap();
    // A lazy reader reads no day at open: damage shows when a query needs
    // the day, or when every file is checked.
    assert!(e.damaged().is_empty());
    let damaged = e.verify();
    assert_eq!(damaged.len(), 3, "{damaged:?}");
    assert!(
        damaged.iter().any(|d| d.contains("checksum mismatch")),
        "{damaged:?}"
    );
    assert!(
        damaged.iter().any(|d| d.contains("truncated")),
        "{damaged:?}"
    );
    assert!(
        damaged.iter().any(|d| d.contains("No such file")),
        "{damaged:?}"
    );
    // A query that needs a damaged day names its file.
    let err = e
        .query(&Query::site(1).day("2025-01-01"))
        .err()
        .expect("damaged day");
    let name = days[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(err.to_string().contains(&name), "{err} should name {name}");
    // Other days and sites answer.
    let intact = days[3].file_name().unwrap().to_string_lossy()[..10].to_string();
    assert!(
        e.query(&Query::site(1).day(intact.as_str()))
            .unwrap()
            .visits_summary()
            .nb_visits
            > 0
    );
    assert_eq!(
        e.query(&Query::site(2)).unwrap().visits_summary().nb_visits,
        1
    );

    // A writer refuses hits for a damaged day rather than losing it.
    let mut w = open_writer(&dir.0);
    let hit = Hit::pageview(1, 1_735_700_000, "v", "https://intranet.example.org/");
    assert!(matches!(w.ingest([hit]), Err(Error::Store { .. })));
    drop(w);

    // The way out: delete the damaged days; erasure elsewhere waits until then.
    let mut w = open_writer(&dir.0);
    assert!(matches!(
        w.forget_visitor(1, "anyone"),
        Err(Error::Store { .. })
    ));
    let dates: Vec<String> = days[..3]
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy()[..10].to_string())
        .collect();
    w.delete_range(1, dates[0].as_str(), dates[2].as_str())
        .unwrap();
    assert!(w.damaged().is_empty(), "{:?}", w.damaged());
    assert!(
        w.query(&Query::site(1).day(dates[0].as_str()))
            .unwrap()
            .visits_summary()
            .nb_visits
            == 0
    );
    drop(w);
    assert!(Engine::open_read_only(&dir.0).unwrap().damaged().is_empty());

    // Broken dictionaries take down their site only; a broken manifest the store.
    let dicts: Vec<PathBuf> = std::fs::read_dir(dir.0.join("site-2"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("dicts-"))
        .collect();
    std::fs::write(&dicts[0], b"HITMAP\0T").unwrap();
    let e = Engine::open_read_only(&dir.0).unwrap();
    let err = e.query(&Query::site(2)).err().expect("broken site");
    assert!(err.to_string().contains("dicts-"), "{err}");
    assert!(e.query(&Query::site(1).day(intact.as_str())).is_ok());
    std::fs::write(dir.0.join("MANIFEST"), b"garbage").unwrap();
    assert!(
        Engine::open_read_only(&dir.0)
            .unwrap_err()
            .to_string()
            .contains("MANIFEST")
    );
}

/// Golden files: a store written by this format version must keep reading
/// and keep giving the same answers; the writer must keep writing the same
/// bytes, or the version must change. `HITMAP_BLESS=1` rewrites them.
#[test]
fn golden_store_reads_and_the_writer_is_stable() {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/store-v7");
    let dir = TempDir::new("golden");
    let e = sample_store(&dir.0);
    let answers = golden_answers(&e);
    drop(e);
    // The manifest records retirement times, so it is read, not byte-compared.
    let files = [
        "site-1/config-1.bin",
        "site-1/dicts-3.bin",
        "site-1/days/2025-01-01-3.day",
        "site-1/history/2025-01-3.vis",
        "site-1/totals-3.bin",
        "site-2/dicts-4.bin",
    ];
    if std::env::var_os("HITMAP_BLESS").is_some() {
        let _ = std::fs::remove_dir_all(&golden);
        copy_dir(&dir.0, &golden);
        std::fs::remove_file(golden.join("LOCK")).unwrap();
        std::fs::write(golden.join("answers.json"), &answers).unwrap();
    }
    for f in files {
        let want = std::fs::read(golden.join(f)).unwrap_or_else(|e| panic!("golden {f}: {e}"));
        assert_eq!(
            std::fs::read(dir.0.join(f)).unwrap(),
            want,
            "{f} is written differently: bump the format version"
        );
    }
    // Month rollups came later; this store has none and reads its days.
    let old = Engine::open_read_only(&golden).unwrap();
    assert!(old.damaged().is_empty());
    assert_eq!(
        golden_answers(&old),
        std::fs::read_to_string(golden.join("answers.json")).unwrap()
    );
    // The rollup the same hits get today (FORMAT.md, `R`).
    let rollup = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/rollup-v1/2025-01-3.sum");
    let written = std::fs::read(dir.0.join("site-1/rollups/2025-01-3.sum")).unwrap();
    if std::env::var_os("HITMAP_BLESS").is_some() {
        std::fs::create_dir_all(rollup.parent().unwrap()).unwrap();
        std::fs::write(&rollup, &written).unwrap();
    }
    assert_eq!(
        written,
        std::fs::read(&rollup).unwrap(),
        "the rollup is written differently: change its format version"
    );
    // And a store with it answers from it, as the store without.
    let fresh = Engine::open_read_only(&dir.0).unwrap();
    assert_eq!(
        golden_answers(&fresh),
        std::fs::read_to_string(golden.join("answers.json")).unwrap()
    );
}

/// A store written in format version 1 (before day files left out what
/// they can derive) opens, checks clean and answers exactly as the same
/// hits written today; a writer adds today's files next to the old ones
/// and the store still answers the same.
#[test]
fn version_1_stores_read_and_keep_working() {
    old_stores_read_and_keep_working(1);
}

/// The same for format version 2 (before day files were cut into
/// sections unpacked one by one).
#[test]
fn version_2_stores_read_and_keep_working() {
    old_stores_read_and_keep_working(2);
}

/// The same for format version 3 (before the visitor history was kept in
/// month pages: one table per site, read whole and split into pages).
#[test]
fn version_3_stores_read_and_keep_working() {
    old_stores_read_and_keep_working(3);
}

/// A store whose visitor totals were written before first visits were
/// kept (version 4 totals: `tests/golden/store-v4`) answers everything as
/// before; days to conversion of returning visitors say to upgrade, and
/// after `upgrade_days` they equal the same hits written today.
#[test]
fn version_4_totals_answer_days_to_conversion_after_an_upgrade() {
    use hitmap::{Goal, GoalMatch, PatternType};
    let old_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/store-v4");
    let totals = std::fs::read(old_dir.join("site-1/totals-3.bin")).unwrap();
    assert_eq!(
        &totals[8..10],
        &4u16.to_le_bytes(),
        "the fixture has version 4 totals"
    );
    let copy = TempDir::new("totals-v4");
    copy_dir(&old_dir, &copy.0);
    let goal = Goal::new(1, "any page", GoalMatch::Url, PatternType::Contains, "/");
    let q = "method=Goals.getDaysToConversion&idSite=1&period=range&date=2025-01-01,2025-01-05&format=json";
    let today = TempDir::new("totals-today");
    let mut want = sample_store(&today.0);
    want.set_goal(1, goal.clone()).unwrap();
    let want = want.api(q).unwrap();
    assert!(!want.contains(r#""0 days","nb_conversions":0"#), "{want}");

    let mut w = Engine::open(&copy.0).unwrap();
    w.set_goal(1, goal).unwrap();
    let err = w.api(q).unwrap_err().to_string();
    assert!(err.contains("hitmap check DIR --upgrade"), "{err}");
    assert_eq!(w.upgrade_days().unwrap(), 0, "no day file to rewrite");
    assert_eq!(w.api(q).unwrap(), want);
    drop(w);
    let mut r =
        Engine::open_reader(copy.0.to_str().unwrap(), hitmap::ReaderOptions::default()).unwrap();
    assert_eq!(r.verify(), Vec::<String>::new());
    assert_eq!(r.api(q).unwrap(), want);
}

/// `upgrade_days` (`hitmap check --upgrade`) rewrites a version 1 or 2
/// store's day files in today's version, month by month, and an older
/// store's visitor history as month pages: every day file is then
/// today's, every site has pages, the answers are the same, the check is
/// clean, and a second run has nothing to do.
#[test]
fn old_stores_upgrade_to_todays_day_files_with_equal_answers() {
    for version in [1u16, 2, 3] {
        let old_dir =
            Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/store-v{version}"));
        let want = std::fs::read_to_string(old_dir.join("answers.json")).unwrap();
        let copy = TempDir::new("upgrade");
        copy_dir(&old_dir, &copy.0);
        let versions = |dir: &Path| -> Vec<u16> {
            [1, 2]
                .iter()
                .flat_map(|&site| day_files(dir, site))
                .map(|p| {
                    let b = std::fs::read(p).unwrap();
                    u16::from_le_bytes([b[8], b[9]])
                })
                .collect()
        };
        let before = versions(&copy.0);
        assert!(before.iter().all(|&v| v == version), "{before:?}");
        let mut w = Engine::open(&copy.0).unwrap();
        let old_days = if version < 3 { before.len() as u64 } else { 0 };
        assert_eq!(w.upgrade_days().unwrap(), old_days);
        for site in [1, 2] {
            assert!(
                std::fs::read_dir(copy.0.join(format!("site-{site}")))
                    .unwrap()
                    .any(|e| e
                        .unwrap()
                        .file_name()
                        .to_string_lossy()
                        .starts_with("totals-")),
                "version {version}, site {site}: no history pages"
            );
        }
        assert_eq!(w.upgrade_days().unwrap(), 0, "nothing left to do");
        assert_eq!(golden_answers(&w), want);
        drop(w);
        // The live day files (the manifest's) are all today's.
        let mut r = Engine::open_reader(copy.0.to_str().unwrap(), hitmap::ReaderOptions::default())
            .unwrap();
        assert_eq!(r.verify(), Vec::<String>::new());
        assert_eq!(golden_answers(&r), want);
        let manifest = std::fs::read(copy.0.join("MANIFEST")).unwrap();
        let manifest = String::from_utf8_lossy(&manifest);
        let live: Vec<u16> = [1, 2]
            .iter()
            .flat_map(|&site| day_files(&copy.0, site))
            .filter(|p| {
                let name = p.file_name().unwrap().to_string_lossy();
                let (day, generation) = name.trim_end_matches(".day").rsplit_once('-').unwrap();
                manifest.contains(&format!("\"{day}\":{generation}"))
            })
            .map(|p| {
                let b = std::fs::read(p).unwrap();
                u16::from_le_bytes([b[8], b[9]])
            })
            .collect();
        assert_eq!(live.len(), before.len());
        assert!(live.iter().all(|&v| v == 3), "{live:?}");
    }
}

fn old_stores_read_and_keep_working(version: u16) {
    let old_dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/store-v{version}"));
    let day = std::fs::read(old_dir.join("site-1/days/2025-01-01-3.day")).unwrap();
    assert_eq!(
        &day[8..10],
        &version.to_le_bytes(),
        "the fixture is a version {version} file"
    );
    let old = Engine::open_read_only(&old_dir).unwrap();
    assert!(old.damaged().is_empty());
    if std::env::var_os("HITMAP_BLESS").is_some() {
        // The answers' shape changed (the old store's data did not: the
        // second check below holds them to today's store's answers).
        std::fs::write(old_dir.join("answers.json"), golden_answers(&old)).unwrap();
    }
    let want = std::fs::read_to_string(old_dir.join("answers.json")).unwrap();
    assert_eq!(golden_answers(&old), want);
    drop(old);
    let dir = TempDir::new("old-today");
    let today_store = sample_store(&dir.0);
    assert_eq!(
        golden_answers(&today_store),
        want,
        "the same hits, written today"
    );
    // A lazy reader's segmented and sectioned summaries (which read only
    // some columns of a day written today) equal the old store's.
    let old_lazy =
        Engine::open_reader(old_dir.to_str().unwrap(), hitmap::ReaderOptions::default()).unwrap();
    let new_lazy =
        Engine::open_reader(dir.0.to_str().unwrap(), hitmap::ReaderOptions::default()).unwrap();
    for q in [
        Query::site(1)
            .range("2025-01-01", "2025-01-05")
            .segment("department==HR")
            .unwrap(),
        Query::site(1)
            .range("2025-01-01", "2025-01-05")
            .section("News"),
    ] {
        assert_eq!(
            old_lazy.visits_summary(&q).unwrap(),
            new_lazy.visits_summary(&q).unwrap()
        );
    }
    drop((today_store, old_lazy, new_lazy));
    // A writer on the old store: new hits go into today's files.
    let copy = TempDir::new("old-writer");
    copy_dir(&old_dir, &copy.0);
    let mut e = Engine::open(&copy.0).unwrap();
    assert_eq!(golden_answers(&e), want);
    e.ingest([Hit::pageview(
        1,
        1_735_700_000,
        "late",
        "https://x.org/late",
    )])
    .unwrap();
    e.seal().unwrap();
    drop(e);
    let e = Engine::open_read_only(&copy.0).unwrap();
    assert!(e.damaged().is_empty());
    let mut lazy =
        Engine::open_reader(copy.0.to_str().unwrap(), hitmap::ReaderOptions::default()).unwrap();
    assert_eq!(lazy.verify(), Vec::<String>::new());
    // The writer's commit kept site 1's visitor history as month pages
    // (format version 4), whatever the old store kept.
    let names: Vec<String> = std::fs::read_dir(copy.0.join("site-1"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().any(|n| n.starts_with("totals-")), "{names:?}");
    assert!(copy.0.join("site-1/history").is_dir());
    let today = Query::site(1).range("2024-12-31", "2025-01-05");
    let s = e.query(&today).unwrap().visits_summary();
    assert_eq!(lazy.query(&today).unwrap().visits_summary(), s);
    let before = old_summary(&old_dir, &today);
    assert_eq!(s.nb_visits, before.nb_visits + 1);
}

fn old_summary(dir: &Path, q: &Query) -> hitmap::VisitsSummary {
    let e = Engine::open_read_only(dir).unwrap();
    e.query(q).unwrap().visits_summary()
}

fn golden_answers(e: &Engine) -> String {
    let now = chrono::DateTime::from_timestamp(1_736_000_000, 0).unwrap();
    [
        "method=VisitsSummary.get&idSite=1&period=day&date=2025-01-01,2025-01-05",
        "method=Actions.getPageUrls&flat=1&idSite=1&period=range&date=2025-01-01,2025-01-05&segment=department%3D%3DHR",
        "method=VisitFrequency.get&idSite=1&period=range&date=2025-01-01,2025-01-05",
        "method=VisitsSummary.get&idSite=2&period=year&date=2025-01-01",
    ]
    .iter()
    .map(|q| e.api_at(q, now).unwrap())
    .collect::<Vec<_>>()
    .join("\n")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Batch `k` of the crash test: deterministic, so the parent can rebuild
/// the state of any prefix of batches.
fn crash_batch(k: u64) -> Vec<Hit> {
    (0..50)
        .map(|i| {
            let ts = 1_717_200_000 + (k as i64) * 3_600 + i * 37;
            Hit::pageview(
                1,
                ts,
                format!("v{}", (k + i as u64) % 7),
                format!("https://x.org/p{}", i % 5),
            )
        })
        .collect()
}

/// Child side of the crash test: ingest batches forever, acknowledging
/// each on stdout. Does nothing unless the parent asked for it.
#[test]
fn crash_child() {
    let Some(dir) = std::env::var_os("HITMAP_CRASH_DIR") else {
        return;
    };
    let mut e = Engine::open(&dir).unwrap();
    if e.site(1).is_none() {
        e.add_site(SiteConfig::new(1)).unwrap();
    }
    let mut k: u64 = std::env::var("HITMAP_CRASH_FROM").unwrap().parse().unwrap();
    loop {
        e.ingest(crash_batch(k)).unwrap();
        println!("ack {k}");
        k += 1;
    }
}

/// Fingerprints of the states after 0, 1, 2, ... batches, built once.
struct States {
    engine: Engine,
    seen: Vec<String>,
}

impl States {
    fn new() -> States {
        let mut engine = Engine::in_memory();
        engine.add_site(SiteConfig::new(1)).unwrap();
        let seen = vec![crash_fingerprint(&engine)];
        States { engine, seen }
    }

    fn after(&mut self, batches: u64) -> &str {
        while self.seen.len() as u64 <= batches {
            let k = self.seen.len() as u64 - 1;
            self.engine.ingest(crash_batch(k)).unwrap();
            self.seen.push(crash_fingerprint(&self.engine));
        }
        &self.seen[batches as usize]
    }
}

fn crash_fingerprint(e: &Engine) -> String {
    let now = chrono::DateTime::from_timestamp(1_717_200_000, 0).unwrap();
    let q = |m: &str| {
        e.api_at(
            &format!("method={m}&idSite=1&period=day&date=2024-05-30,2024-07-30"),
            now,
        )
        .unwrap()
    };
    q("VisitsSummary.get") + &q("Actions.getPageUrls&flat=1&filter_limit=-1")
}

/// Kills a writer process with SIGKILL at random moments, many times; after
/// each kill the store must hold exactly the acknowledged batches (or those
/// plus the one in flight, which may have committed before its ack), and a
/// reader opened during the writes must see whole batches only.
#[test]
fn writer_killed_at_random_moments_leaves_the_last_commit() {
    const KILLS: u64 = 25;
    let dir = TempDir::new("crash");
    let exe = std::env::current_exe().unwrap();
    let mut committed = 0u64; // batches known to be in the store
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut states = States::new();
    for round in 0..KILLS {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "store::crash_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("HITMAP_CRASH_DIR", &dir.0)
            .env("HITMAP_CRASH_FROM", committed.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        std::thread::sleep(std::time::Duration::from_millis(30 + rng % 120));
        // A reader during the writes sees some whole prefix of batches.
        if let Ok(reader) = Engine::open_read_only(&dir.0) {
            let seen = crash_fingerprint_opt(&reader);
            if let Some(seen) = seen {
                let ok = (0..=committed + 400).any(|n| states.after(n) == seen);
                assert!(
                    ok,
                    "round {round}: a reader saw a state that is no whole batch prefix"
                );
            }
        }
        child.kill().unwrap(); // SIGKILL on Unix
        let out = child.wait_with_output().unwrap();
        let acked = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix("ack "))
            .filter_map(|n| n.parse::<u64>().ok())
            .max()
            .map_or(committed, |k| k + 1);
        let e = Engine::open_read_only(&dir.0).unwrap();
        if !e.damaged().is_empty() {
            let listing: Vec<String> = walk(&dir.0);
            let manifest = std::fs::read(dir.0.join("MANIFEST")).unwrap();
            panic!(
                "round {round}: {:?}\nfiles: {listing:?}\nmanifest: {}",
                e.damaged(),
                String::from_utf8_lossy(&manifest[20..manifest.len() - 4])
            );
        }
        let got = crash_fingerprint(&e);
        committed = if got == states.after(acked) {
            acked
        } else if got == states.after(acked + 1) {
            acked + 1
        } else {
            panic!(
                "round {round}: after {acked} acknowledged batches the store holds neither them nor one more"
            );
        };
    }
    assert!(
        committed > 0,
        "the writer never committed: the test proved nothing"
    );
}

fn crash_fingerprint_opt(e: &Engine) -> Option<String> {
    e.site(1).map(|_| crash_fingerprint(e))
}

#[allow(dead_code)]
fn _uses(_: &Case) {}

pub(crate) fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        if entry.file_type().unwrap().is_dir() {
            out.extend(walk(&entry.path()));
        } else {
            out.push(entry.path().display().to_string());
        }
    }
    out.sort();
    out
}
