//! Erasure: forget_visitor, delete_range and drop_site equal the engine
//! that never saw the erased data, in memory and through the store.

use chrono::{DateTime, Days};
use hitmap::{Engine, Hit, Query};
use proptest::prelude::*;

use crate::props::{build, case, fingerprint, first_day, make_hit, site_config};
use crate::store::{TempDir, open_writer};

/// Whether a dictionary entry for `key` (stored length-prefixed) is in
/// any file of the store, packed bodies included.
fn stored_anywhere(dir: &std::path::Path, key: &str) -> bool {
    let mut encoded = (key.len() as u64).to_le_bytes().to_vec();
    encoded.extend_from_slice(key.as_bytes());
    !hitmap::files_holding(dir, &encoded).unwrap().is_empty()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn forget_visitor_equals_never_having_seen_them(case in case(), who in 0..5usize) {
        let hits: Vec<Hit> = case.specs.iter().map(|s| make_hit(s, case.base)).collect();
        let gone = format!("v{who}");
        let without: Vec<Hit> = hits.iter().filter(|h| h.visitor != gone).cloned().collect();
        let expected = fingerprint(&build(&case, &without, &[]), &case);

        let mut memory = build(&case, &hits, &[]);
        let removed = memory.forget_visitor(1, &gone).unwrap();
        prop_assert_eq!(removed as usize, hits.len() - without.len());
        prop_assert_eq!(fingerprint(&memory, &case), expected.clone());

        let dir = TempDir::new("forget");
        {
            let mut stored = open_writer(&dir.0);
            stored.add_site(site_config(&case)).unwrap();
            stored.ingest(&hits).unwrap();
            stored.seal().unwrap(); // dictionaries now, not only the log
            let had = hits.len() != without.len();
            prop_assert_eq!(stored_anywhere(&dir.0, &gone), had, "before forgetting");
            stored.forget_visitor(1, &gone).unwrap();
        }
        let reopened = Engine::open_read_only(&dir.0).unwrap();
        prop_assert_eq!(fingerprint(&reopened, &case), expected);
        // The key is in no file: not a dictionary, not a retired day. Keys
        // are stored length-prefixed, so look for that exact encoding.
        prop_assert!(!stored_anywhere(&dir.0, &gone), "{} is still in the store", gone);
    }

    #[test]
    fn delete_range_equals_never_having_had_those_days(case in case(), start in 0..6u64, len in 0..3u64) {
        let hits: Vec<Hit> = case.specs.iter().map(|s| make_hit(s, case.base)).collect();
        let tz: chrono_tz::Tz = case.zone.parse().unwrap();
        let from = first_day(&case) + Days::new(start);
        let to = from + Days::new(len);
        let local = |h: &Hit| DateTime::from_timestamp(h.ts, 0).unwrap().with_timezone(&tz).date_naive();
        let kept: Vec<Hit> = hits.iter().filter(|h| local(h) < from || local(h) > to).cloned().collect();
        let mut e = build(&case, &hits, &[]);
        e.delete_range(1, from, to).unwrap();
        prop_assert_eq!(fingerprint(&e, &case), fingerprint(&build(&case, &kept, &[]), &case));
    }
}

#[test]
fn dropping_a_site_removes_it_and_its_files() {
    let dir = TempDir::new("drop");
    {
        let mut e = open_writer(&dir.0);
        e.add_site(hitmap::SiteConfig::new(1)).unwrap();
        e.add_site(hitmap::SiteConfig::new(2)).unwrap();
        e.ingest([
            Hit::pageview(1, 1_717_200_000, "a", "https://x.org/"),
            Hit::pageview(2, 1_717_200_000, "b", "https://y.org/"),
        ])
        .unwrap();
        e.drop_site(1).unwrap();
        assert!(e.query(&Query::site(1)).is_err());
        assert!(matches!(e.drop_site(1), Err(hitmap::Error::UnknownSite(1))));
    }
    assert!(!dir.0.join("site-1").exists(), "the site's files are gone");
    let e = Engine::open_read_only(&dir.0).unwrap();
    assert_eq!(e.site_ids(), [2]);
    assert_eq!(
        e.query(&Query::site(2)).unwrap().visits_summary().nb_visits,
        1
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 30, ..ProptestConfig::default() })]

    /// Every day exported and imported into an empty engine answers as the
    /// original: a serverless reader built from bundles is exact.
    #[test]
    fn exported_days_import_to_the_same_answers(case in case()) {
        let hits: Vec<Hit> = case.specs.iter().map(|s| make_hit(s, case.base)).collect();
        let source = build(&case, &hits, &[]);
        let mut reader = Engine::in_memory();
        reader.add_site(site_config(&case)).unwrap();
        let from = first_day(&case);
        for d in 0..8 {
            let day = from + Days::new(d);
            if let Ok(bytes) = source.export_day(1, day) {
                prop_assert_eq!(reader.import_day(&bytes).unwrap(), day);
            }
        }
        prop_assert_eq!(fingerprint(&reader, &case), fingerprint(&source, &case));
    }
}

#[test]
fn bad_bundles_are_refused() {
    let mut source = Engine::in_memory();
    source
        .add_site(hitmap::SiteConfig::new(1).time_zone("Europe/London"))
        .unwrap();
    source
        .ingest([Hit::pageview(1, 1_717_200_000, "a", "https://x.org/")])
        .unwrap();
    let bytes = source.export_day(1, "2024-06-01").unwrap();
    assert!(
        source.export_day(1, "2024-06-02").is_err(),
        "no data that day"
    );

    let mut reader = Engine::in_memory();
    let mut flipped = bytes.clone();
    flipped[30] ^= 1;
    assert!(
        reader
            .import_day(&flipped)
            .unwrap_err()
            .to_string()
            .contains("checksum")
    );
    assert!(reader.import_day(&bytes[..bytes.len() - 3]).is_err());
    reader.import_day(&bytes).unwrap();
    assert!(
        reader
            .import_day(&bytes)
            .unwrap_err()
            .to_string()
            .contains("delete_range")
    );

    let mut other_zone = Engine::in_memory();
    other_zone
        .add_site(hitmap::SiteConfig::new(1).time_zone("Asia/Tokyo"))
        .unwrap();
    assert!(
        other_zone
            .import_day(&bytes)
            .unwrap_err()
            .to_string()
            .contains("time zone")
    );
}
