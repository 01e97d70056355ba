//! A distributed build (`distributed.rs`, what `hitmap.dask` drives): the
//! input cut into parts interned on separate engines and merged in order,
//! (site, day) buckets built on separate engines, adopted by the writer
//! in one commit, then new days and late hits the same way. The store
//! equals one process's: every method's answers, and every day file byte
//! for byte.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate};
use hitmap::sample::{self, SampleConfig};
use hitmap::{Engine, Goal, GoalMatch, Hit, PatternType, SiteConfig};

use crate::store::TempDir;

fn configs() -> Vec<SiteConfig> {
    let london = SampleConfig {
        visitors: 300,
        days: 75,
        ..SampleConfig::default()
    };
    let tokyo = SampleConfig {
        site: 2,
        ..london.clone()
    };
    vec![
        sample::site_config(&london).goal(Goal::new(
            1,
            "help",
            GoalMatch::Url,
            PatternType::Contains,
            "/it-help",
        )),
        sample::site_config(&tokyo).time_zone("Asia/Tokyo"),
    ]
}

/// Two sites' hits over 75 days, interleaved by time.
fn hits() -> Vec<Hit> {
    let mut out = Vec::new();
    for (site, seed) in [(1, 7), (2, 8)] {
        let cfg = SampleConfig {
            site,
            seed,
            visitors: 300,
            days: 75,
            ..SampleConfig::default()
        };
        out.extend(sample::generate(&cfg));
    }
    out.sort_by_key(|h| h.ts);
    out
}

fn engine_with_sites() -> Engine {
    let mut e = Engine::in_memory();
    for c in configs() {
        e.add_site(c).unwrap();
    }
    e
}

/// The local day of a hit in its site's zone.
fn local_day(h: &Hit) -> NaiveDate {
    let zone: chrono_tz::Tz = if h.site == 1 {
        "Europe/London".parse().unwrap()
    } else {
        "Asia/Tokyo".parse().unwrap()
    };
    DateTime::from_timestamp(h.ts, 0)
        .unwrap()
        .with_timezone(&zone)
        .date_naive()
}

/// The three phases, as a cluster would run them: `parts` first-pass
/// workers, `tasks` day builders.
fn distributed_build(writer: &mut Engine, hits: &[Hit], parts: usize, tasks: usize) {
    // 1. Dictionaries, part by part, merged in input order.
    let size = hits.len().div_ceil(parts);
    let blocks: Vec<Vec<(u32, Vec<u8>)>> = hits
        .chunks(size)
        .map(|part| {
            let mut w = engine_with_sites();
            w.set_dictionaries_only(true).unwrap();
            w.ingest(part.iter().cloned()).unwrap();
            assert!(w.site_days(1).unwrap().is_empty());
            [1, 2]
                .map(|s| (s, w.site_dictionaries(s).unwrap()))
                .to_vec()
        })
        .collect();
    for block in &blocks {
        for (site, bytes) in block {
            writer.merge_dictionaries(*site, bytes).unwrap();
        }
    }
    // 2. Whole (site, day) buckets to tasks; each gets the writer's
    // dictionaries and the stored days its hits fall on.
    let dicts: Vec<(u32, Vec<u8>)> = [1, 2]
        .map(|s| (s, writer.site_dictionaries(s).unwrap()))
        .to_vec();
    let mut by_task: BTreeMap<usize, Vec<&Hit>> = BTreeMap::new();
    for h in hits {
        let day = local_day(h);
        let task = (day.to_epoch_days() as usize * 7 + h.site as usize) % tasks;
        by_task.entry(task).or_default().push(h);
    }
    let mut built = Vec::new();
    for task_hits in by_task.values() {
        let mut w = engine_with_sites();
        for (site, bytes) in &dicts {
            w.install_dictionaries(*site, bytes).unwrap();
        }
        let mut buckets: Vec<(u32, NaiveDate)> =
            task_hits.iter().map(|h| (h.site, local_day(h))).collect();
        buckets.sort();
        buckets.dedup();
        for (site, day) in buckets {
            if let Some(bytes) = writer.encoded_day(site, day).unwrap() {
                w.install_day(site, day, &bytes).unwrap();
            }
        }
        w.ingest(task_hits.iter().map(|h| (*h).clone())).unwrap();
        for site in [1, 2] {
            built.extend(w.encoded_days(site).unwrap());
        }
    }
    // 3. One commit.
    writer.adopt_days(built, None).unwrap();
}

fn answers(e: &Engine) -> Vec<String> {
    let now = DateTime::from_timestamp(1_767_000_000, 0).unwrap();
    let mut out = Vec::new();
    for site in [1, 2] {
        for method in hitmap::supported_methods() {
            for (period, date, extra) in [
                ("range", "2025-01-01,2025-03-31", ""),
                ("month", "2025-02-01", "&segment=visitorType==returning"),
                ("range", "2025-01-20,2025-02-10", "&flat=1&filter_limit=-1"),
            ] {
                let q = format!("method={method}&idSite={site}&period={period}&date={date}{extra}");
                let a = crate::reader::answer_with(e, &q, &crate::reader::METHOD_PARAMS, now);
                out.push(format!("{q}\n{a}"));
            }
        }
    }
    out
}

/// Every stored day file of both sites.
fn day_files(e: &mut Engine) -> Vec<(u32, NaiveDate, Vec<u8>)> {
    let mut out = Vec::new();
    for site in [1, 2] {
        for day in e.site_days(site).unwrap() {
            out.push((site, day, e.encoded_day(site, day).unwrap().unwrap()));
        }
    }
    out
}

fn assert_same(one: &mut Engine, many: &mut Engine, dirs: (&TempDir, &TempDir)) {
    assert_eq!(one.verify(), Vec::<String>::new());
    assert_eq!(many.verify(), Vec::<String>::new());
    let (a, b) = (day_files(one), day_files(many));
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert!(x == y, "site {} day {} differs", x.0, x.1);
    }
    // Readers of both stores, from new processes' point of view.
    let (ra, rb) = (
        Engine::open_read_only(&dirs.0.0).unwrap(),
        Engine::open_read_only(&dirs.1.0).unwrap(),
    );
    for (x, y) in answers(&ra).iter().zip(answers(&rb)) {
        assert_eq!(*x, y);
    }
}

#[test]
fn a_distributed_build_and_its_increment_equal_one_process() {
    let all = hits();
    // The second wave: the last 15 days, and every 40th hit of the rest
    // (late hits for stored days).
    let cut = all.partition_point(|h| local_day(h) < NaiveDate::from_ymd_opt(2025, 3, 2).unwrap());
    let (mut first, mut second) = (Vec::new(), Vec::new());
    for (i, h) in all.iter().enumerate() {
        if i >= cut || i % 40 == 0 {
            second.push(h.clone());
        } else {
            first.push(h.clone());
        }
    }
    let (dir_one, dir_many) = (TempDir::new("dist-one"), TempDir::new("dist-many"));
    let mut one = Engine::open(&dir_one.0).unwrap();
    let mut many = Engine::open(&dir_many.0).unwrap();
    for c in configs() {
        one.add_site(c.clone()).unwrap();
        many.add_site(c).unwrap();
    }
    one.ingest(first.iter().cloned()).unwrap();
    distributed_build(&mut many, &first, 3, 4);
    assert_same(&mut one, &mut many, (&dir_one, &dir_many));

    one.ingest(second.iter().cloned()).unwrap();
    distributed_build(&mut many, &second, 2, 3);
    assert_same(&mut one, &mut many, (&dir_one, &dir_many));
}

#[test]
fn a_built_day_that_does_not_fit_the_store_is_refused_and_changes_nothing() {
    let all = hits();
    let dir = TempDir::new("dist-refuse");
    let mut writer = Engine::open(&dir.0).unwrap();
    for c in configs() {
        writer.add_site(c).unwrap();
    }
    let (a, b) = all.split_at(all.len() / 2);
    distributed_build(&mut writer, a, 2, 2);
    let before = answers(&Engine::open_read_only(&dir.0).unwrap());

    // A worker that never took the writer's dictionaries.
    let mut stray = engine_with_sites();
    stray.ingest(b.iter().cloned()).unwrap();
    let days = stray.encoded_days(1).unwrap();
    let last = days.last().unwrap().clone();
    let err = writer.adopt_days(vec![last.clone()], None).unwrap_err();
    assert!(err.to_string().contains("other dictionaries"), "{err}");
    // A day file given for another day.
    let mut fitted = engine_with_sites();
    fitted
        .install_dictionaries(1, &writer.site_dictionaries(1).unwrap())
        .unwrap();
    fitted
        .ingest(a.iter().filter(|h| h.site == 1).cloned())
        .unwrap();
    let days = fitted.encoded_days(1).unwrap();
    // One day from two tasks (its hits were split): refused.
    let twice = vec![days[0].clone(), days[0].clone()];
    let err = writer.adopt_days(twice, None).unwrap_err();
    assert!(err.to_string().contains("built twice"), "{err}");
    let mut moved = days.last().unwrap().clone();
    moved.day = moved.day.pred_opt().unwrap();
    let err = writer.adopt_days(vec![moved], None).unwrap_err();
    assert!(err.to_string().contains("is not on"), "{err}");
    // A worker whose hits add values to the installed dictionaries.
    let mut fitted = engine_with_sites();
    fitted
        .install_dictionaries(1, &writer.site_dictionaries(1).unwrap())
        .unwrap();
    fitted.ingest(b.iter().cloned()).unwrap();
    let err = fitted.encoded_days(1).unwrap_err();
    assert!(err.to_string().contains("first pass"), "{err}");
    // Dictionaries only on a store's engine.
    assert!(writer.set_dictionaries_only(true).is_err());
    assert_eq!(
        answers(&Engine::open_read_only(&dir.0).unwrap()),
        before,
        "nothing changed"
    );
}
