//! A full disk, on a real small file system: failed batches are not
//! stored, the store stays whole, and the same writer takes batches again
//! once there is room, with no restart.

use hitmap::{Engine, Hit, Query, SiteConfig};

use crate::tmpfs::{Tmpfs, noise};

/// A batch of about 12 KB of NDJSON that packs to more than a page of
/// the log.
fn batch(n: i64) -> Vec<Hit> {
    (0..60)
        .map(|i| {
            Hit::pageview(
                1,
                1_717_200_000 + n * 600 + i,
                format!("v{n}-{}", i % 4),
                format!(
                    "https://x.org/batch/{n}/page/{i}/{}",
                    noise((n * 1000 + i) as u64, 160)
                ),
            )
        })
        .collect()
}

pub(crate) fn actions(e: &Engine) -> u64 {
    e.query(&Query::site(1))
        .unwrap()
        .visits_summary()
        .nb_actions
}

#[test]
fn a_writer_takes_batches_again_once_a_full_disk_has_room() {
    let fs = Tmpfs::mount("full", 4096);
    let dir = fs.path().join("store");
    let mut e = Engine::open(&dir).unwrap();
    e.add_site(SiteConfig::new(1)).unwrap();
    e.ingest(batch(0)).unwrap();
    let mut stored = 60;
    let filler = fs.fill();
    let mut failed = 0;
    for n in 1..=4 {
        match e.ingest(batch(n)) {
            Ok(_) => stored += 60,
            Err(err) => {
                failed += 1;
                let msg = err.to_string();
                assert!(msg.contains("No space left"), "{msg}");
            }
        }
        assert_eq!(actions(&e), stored, "a failed batch is not answered");
    }
    assert!(
        failed >= 3,
        "the full disk refused only {failed} of 4 batches"
    );
    fs.free(&filler);
    // Room again: the same writer takes every batch (it answered
    // "File exists" for the log segment a failed batch had started).
    for n in 5..=8 {
        e.ingest(batch(n)).unwrap();
        stored += 60;
    }
    assert_eq!(actions(&e), stored);
    e.seal().unwrap();
    e.ingest(batch(9)).unwrap();
    stored += 60;
    drop(e);
    // What is on disk is whole: nothing damaged, and a reader and a new
    // writer answer exactly the acknowledged batches.
    let mut r = Engine::open_read_only(&dir).unwrap();
    assert_eq!(r.verify(), Vec::<String>::new());
    assert_eq!(actions(&r), stored);
    let mut w = Engine::open(&dir).unwrap();
    assert_eq!(actions(&w), stored);
    w.seal().unwrap();
    assert_eq!(actions(&w), stored);
}

#[test]
fn a_log_segment_whose_creation_failed_is_not_damage() {
    let fs = Tmpfs::mount("half-segment", 4096);
    let dir = fs.path().join("store");
    let mut e = Engine::open(&dir).unwrap();
    e.add_site(SiteConfig::new(1)).unwrap();
    e.ingest(batch(0)).unwrap();
    drop(e);
    // A crash while a segment's header was being written leaves a few of
    // its bytes: a reader and a check see no damage, and the next writer
    // replaces it.
    let segment = std::fs::read_dir(dir.join("wal"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter_map(|n| n.strip_suffix(".log")?.parse::<u64>().ok())
        .max()
        .unwrap();
    let header = std::fs::read(dir.join(format!("wal/{segment}.log"))).unwrap();
    std::fs::write(dir.join(format!("wal/{}.log", segment + 1)), &header[..5]).unwrap();
    let mut r = Engine::open_read_only(&dir).unwrap();
    assert_eq!(r.verify(), Vec::<String>::new());
    assert_eq!(actions(&r), 60);
    let mut w = Engine::open(&dir).unwrap();
    w.ingest(batch(1)).unwrap();
    drop(w);
    assert_eq!(actions(&Engine::open_read_only(&dir).unwrap()), 120);
}

/// A writer of small batches on a small disk: the log is sealed while it
/// is a quarter of the store's size, and on a full disk the files kept
/// for readers of older commits go first, so 276,552 hits (1.5 MB of day
/// files once sealed, 2.6 MB with the report rollups of the two complete
/// months, which keep the visits-grouped reports too) fit in 3.6 MB.
/// Before, the log alone grew to 49 MB.
#[test]
fn small_batches_fit_a_disk_not_much_larger_than_their_data() {
    let fs = Tmpfs::mount("small-disk", 3600);
    let dir = fs.path().join("store");
    let cfg = hitmap::sample::SampleConfig {
        days: 60,
        visitors: 5_000,
        ..Default::default()
    };
    let hits: Vec<Hit> = hitmap::sample::generate(&cfg).collect();
    let mut e = Engine::open(&dir).unwrap();
    e.add_site(hitmap::sample::site_config(&cfg)).unwrap();
    for (n, batch) in hits.chunks(14_000).enumerate() {
        if let Err(err) = e.ingest(batch) {
            panic!("batch {n} of {} hits: {err}", hits.len());
        }
    }
    let mut rebuilt = Engine::in_memory();
    rebuilt.add_site(hitmap::sample::site_config(&cfg)).unwrap();
    rebuilt.ingest(&hits).unwrap();
    let q = "method=VisitsSummary.get&idSite=1&period=range&date=2025-01-01,2025-03-01";
    assert_eq!(e.api(q).unwrap(), rebuilt.api(q).unwrap());
    drop(e);
    let r = Engine::open_read_only(&dir).unwrap();
    assert_eq!(r.api(q).unwrap(), rebuilt.api(q).unwrap());
}
