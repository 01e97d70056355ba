//! Log writers: hits appended to a writer's log on the side (as the
//! tracking server's committer does while its applier seals) and applied
//! later, in any interleaving with seals, direct ingests and crashes,
//! answer exactly what one rebuild of the same hits answers, and every
//! appended hit is stored exactly once.

use hitmap::{Engine, Hit, Logged, Query, SiteConfig};
use proptest::prelude::*;

use crate::disk::actions;
use crate::props::{case, fingerprint, make_hit, rebuilt, site_config};
use crate::store::{TempDir, open_writer};

/// What a step of the interleaving does after appending its batch.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// Keep the tickets for later.
    Hold,
    /// Apply every held ticket.
    Apply,
    /// The server's seal: a new segment, the tickets before it applied,
    /// then a seal (tickets after it stay held).
    Seal,
    /// A seal asked for with tickets still held: it may do nothing, but
    /// must lose and repeat nothing.
    SealNow,
    /// The batch goes through the engine's own ingest instead.
    Direct,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => Just(Step::Hold),
        3 => Just(Step::Apply),
        2 => Just(Step::Seal),
        1 => Just(Step::SealNow),
        1 => Just(Step::Direct),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 80, ..ProptestConfig::default() })]

    #[test]
    fn logged_batches_equal_a_rebuild(
        case in case(),
        cut in prop::collection::vec(1..5usize, 1..40),
        steps in prop::collection::vec(step(), 1..40),
        crash in any::<bool>(),
    ) {
        let hits: Vec<Hit> = case.specs.iter().map(|s| make_hit(s, case.base)).collect();
        let rebuilt = rebuilt(&case, &hits);
        let expected = fingerprint(&rebuilt, &case);

        let dir = TempDir::new("log-writer");
        let mut e = open_writer(&dir.0);
        e.add_site(site_config(&case)).unwrap();
        let log = e.log_writer().expect("a writer store has a log");
        let mut held: Vec<Logged> = Vec::new();
        let mut rest = hits.as_slice();
        let mut i = 0;
        while !rest.is_empty() {
            let (now, later) = rest.split_at(cut[i % cut.len()].min(rest.len()));
            rest = later;
            let step = steps[i % steps.len()];
            i += 1;
            if let Step::Direct = step {
                let out = e.ingest(now).unwrap();
                prop_assert_eq!(out.accepted as usize, now.len());
                continue;
            }
            let (logged, rejected) = log.append(now.to_vec(), None).unwrap();
            prop_assert!(rejected.is_empty(), "{:?}", rejected);
            held.push(logged);
            match step {
                Step::Hold | Step::Direct => {}
                Step::Apply => {
                    e.apply_logged(std::mem::take(&mut held)).unwrap();
                }
                Step::Seal => {
                    let boundary = log.rotate();
                    let (before, after): (Vec<Logged>, Vec<Logged>) =
                        held.drain(..).partition(|l| l.segment() < boundary);
                    e.apply_logged(before).unwrap();
                    prop_assert!(log.applied_before(boundary));
                    e.seal().unwrap();
                    held = after;
                    // Everything applied is in day files.
                    prop_assert_eq!(e.live_hits(), 0);
                }
                Step::SealNow => e.seal().unwrap(),
            }
        }
        if crash {
            // Stopped with tickets unapplied: their hits are in the log,
            // and the store opened again replays them.
            drop(held);
            drop(log);
            drop(e);
            let reopened = open_writer(&dir.0);
            prop_assert_eq!(&fingerprint(&reopened, &case), &expected, "reopened");
        } else {
            e.apply_logged(held).unwrap();
            prop_assert_eq!(&fingerprint(&e, &case), &expected, "applied");
            let boundary = log.rotate();
            prop_assert!(log.applied_before(boundary));
            e.seal().unwrap();
            prop_assert_eq!(e.live_hits(), 0);
            prop_assert_eq!(&fingerprint(&e, &case), &expected, "sealed");
            drop(log);
            drop(e);
            let reader = Engine::open_read_only(&dir.0).unwrap();
            prop_assert_eq!(&fingerprint(&reader, &case), &expected, "read");
        }
    }
}

#[test]
fn a_log_writer_rejects_what_an_ingest_rejects_and_appends_the_rest() {
    let dir = TempDir::new("log-writer-rejects");
    let mut e = open_writer(&dir.0);
    e.add_site(SiteConfig::new(1)).unwrap();
    let log = e.log_writer().unwrap();
    let hits = vec![
        Hit::pageview(1, 1_717_200_000, "a", "https://x.org/"),
        Hit::pageview(1, 1_717_200_000, "", "https://x.org/"),
        Hit::pageview(9, 1_717_200_000, "b", "https://x.org/"),
        Hit::pageview(1, 1_717_200_060, "a", "https://x.org/b"),
    ];
    let direct = Engine::in_memory().ingest(&hits);
    let mut plain = Engine::in_memory();
    plain.add_site(SiteConfig::new(1)).unwrap();
    let want = plain.ingest(&hits).unwrap();
    drop(direct);
    let (logged, rejected) = log.append(hits, Some(("import", "7"))).unwrap();
    assert_eq!(logged.hits(), 2);
    assert_eq!(rejected, want.rejected, "the same positions and reasons");
    // Appended is not answered yet; applied is.
    assert_eq!(actions(&e), 0);
    let out = e.apply_logged(vec![logged]).unwrap().outcome;
    assert_eq!((out.accepted, out.rejected.len()), (2, 0));
    assert_eq!(actions(&e), 2);
    // The cursor lands with the seal, as an ingest's would.
    e.seal().unwrap();
    drop(log);
    drop(e);
    let e = Engine::open(&dir.0).unwrap();
    assert_eq!(e.cursor("import"), Some("7"));
    assert_eq!(actions(&e), 2);
}

#[test]
fn a_log_writer_of_a_closed_engine_appends_nothing() {
    let dir = TempDir::new("log-writer-closed");
    let mut e = open_writer(&dir.0);
    e.add_site(SiteConfig::new(1)).unwrap();
    let log = e.log_writer().unwrap();
    drop(e);
    let err = log
        .append(
            vec![Hit::pageview(1, 1_717_200_000, "a", "https://x.org/")],
            None,
        )
        .unwrap_err();
    assert!(err.to_string().contains("is gone"), "{err}");
    // Another writer holds the store now and never sees that hit.
    let e = Engine::open(&dir.0).unwrap();
    assert_eq!(actions(&e), 0);
    assert!(Engine::in_memory().log_writer().is_none());
}

/// A seal whose commit fails (a full disk) reloads the engine from the
/// store, which replays every record in the log, those appended and not
/// applied yet included: their tickets then apply nothing, so each hit
/// counts once.
#[test]
fn tickets_replayed_by_a_reload_after_a_failed_seal_apply_nothing() {
    let fs = crate::tmpfs::Tmpfs::mount("log-writer-reload", 4096);
    let dir = fs.path().join("store");
    let mut e = Engine::open(&dir).unwrap();
    e.add_site(SiteConfig::new(1)).unwrap();
    let log = e.log_writer().unwrap();
    let batch = |n: i64| -> Vec<Hit> {
        (0..40)
            .map(|i| {
                Hit::pageview(
                    1,
                    1_717_200_000 + n * 3600 + i,
                    format!("v{n}-{}", i % 5),
                    format!(
                        "https://x.org/{n}/{i}/{}",
                        crate::tmpfs::noise((n * 100 + i) as u64, 120)
                    ),
                )
            })
            .collect()
    };
    let (a, _) = log.append(batch(0), None).unwrap();
    e.apply_logged(vec![a]).unwrap();
    // The next record starts a new segment, so the live parts can seal
    // while it is held.
    log.rotate();
    let (b, _) = log.append(batch(1), None).unwrap();
    let filler = fs.fill();
    let sealed = e.seal();
    assert!(sealed.is_err(), "the full disk fails the seal");
    // The reload replayed both records.
    assert_eq!(actions(&e), 80);
    fs.free(&filler);
    let out = e.apply_logged(vec![b]).unwrap().outcome;
    assert_eq!(out.accepted, 0, "replayed already");
    assert_eq!(actions(&e), 80);
    let (c, _) = log.append(batch(2), None).unwrap();
    e.apply_logged(vec![c]).unwrap();
    let boundary = log.rotate();
    assert!(log.applied_before(boundary));
    e.seal().unwrap();
    assert_eq!(e.live_hits(), 0);
    drop(log);
    drop(e);
    let e = Engine::open(&dir).unwrap();
    assert_eq!(actions(&e), 120);
}

/// A logged hit for a day whose file cannot be read is not added (the
/// day would lose what the file holds): it comes back to the caller with
/// the reason, and the other hits go in.
#[test]
fn logged_hits_for_a_damaged_day_come_back_and_the_rest_go_in() {
    let dir = TempDir::new("log-writer-damaged");
    let day = |d: i64, v: &str| Hit::pageview(1, 1_717_200_000 + d * 86_400, v, "https://x.org/");
    {
        let mut e = open_writer(&dir.0);
        e.add_site(SiteConfig::new(1)).unwrap();
        e.set_live_limit(0);
        e.ingest([day(0, "a"), day(1, "b")]).unwrap();
    }
    let files = crate::store::day_files(&dir.0, 1);
    assert_eq!(files.len(), 2, "{files:?}");
    let mut bytes = std::fs::read(&files[0]).unwrap();
    bytes[40] ^= 0x55;
    std::fs::write(&files[0], bytes).unwrap();
    let mut e = open_writer(&dir.0);
    let log = e.log_writer().unwrap();
    let (logged, rejected) = log
        .append(vec![day(1, "c"), day(0, "d"), day(2, "e")], None)
        .unwrap();
    assert!(rejected.is_empty(), "the log writer cannot know");
    let applied = e.apply_logged(vec![logged]).unwrap();
    assert_eq!(applied.outcome.accepted, 2);
    assert_eq!(applied.outcome.rejected.len(), 1);
    assert_eq!(applied.outcome.rejected[0].line, 2);
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        applied.outcome.rejected[0].reason.contains(&name),
        "{:?} names {name}",
        applied.outcome.rejected[0]
    );
    assert_eq!(applied.refused, vec![day(0, "d")]);
    let boundary = log.rotate();
    assert!(log.applied_before(boundary));
    e.seal().unwrap();
    let visits = |d: &str| {
        e.query(&Query::site(1).day(d))
            .unwrap()
            .visits_summary()
            .nb_visits
    };
    assert_eq!((visits("2024-06-02"), visits("2024-06-03")), (2, 1));
}
