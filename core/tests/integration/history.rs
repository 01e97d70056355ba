//! The visitor history kept in month pages (format version 4): a store fed
//! in any order, in batches large and small, with writers reopened between
//! them, late hits into earlier months, and erasures, answers every
//! question that reads earlier visits (new/returning, visitCount, days
//! since the last visit, days since the first visit) as an in-memory engine fed everything at once,
//! and its pages check clean against its days.

use chrono::{Days, NaiveDate};
use hitmap::{Engine, Hit, Query};
use proptest::prelude::*;

use crate::props::{Case, case, first_day, make_hit, site_config};

/// The case's site with a goal that most visits convert: days to
/// conversion read each visitor's first visit.
fn config(case: &Case) -> hitmap::SiteConfig {
    use hitmap::{Goal, GoalMatch, PatternType};
    site_config(case).goal(Goal::new(
        1,
        "any",
        GoalMatch::Url,
        PatternType::Contains,
        "x.org",
    ))
}

/// Days between the months the hits are spread over.
const MONTH: i64 = 31 * 86_400;

/// Questions that read earlier visits, by day and over the whole span.
fn answers(e: &Engine, case: &Case) -> Vec<String> {
    let from = first_day(case);
    let to = from + Days::new(4 * 31 + 7);
    let now = chrono::DateTime::from_timestamp(case.base + 200 * 86_400, 0).unwrap();
    let mut out = Vec::new();
    for method in [
        "VisitFrequency.get",
        "VisitorInterest.getNumberOfVisitsByVisitCount",
        "VisitorInterest.getNumberOfVisitsByDaysSinceLast",
        "VisitsSummary.get",
        "Goals.get",
        // Visit reports with goal columns (from goal rollups' rows).
        "DevicesDetection.getType",
        "Referrers.getReferrerType",
        "Goals.getDaysToConversion",
        "Goals.getVisitsUntilConversion",
    ] {
        for (period, seg) in [
            ("range", ""),
            ("month", ""),
            ("week", "&segment=visitCount%3E%3D2"),
            ("range", "&segment=visitorType%3D%3Dreturning"),
        ] {
            let q = format!(
                "method={method}&idSite=1&period={period}&date={from},{to}&filter_limit=-1{seg}"
            );
            out.push(e.api_at(&q, now).unwrap_or_else(|err| panic!("{q}: {err}")));
        }
    }
    out
}

/// The case's hits, each moved into one of four months.
fn spread(case: &Case, months: &[usize]) -> Vec<Hit> {
    case.specs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let shift = months.get(i).copied().unwrap_or(0) as i64 * MONTH;
            make_hit(s, case.base + shift)
        })
        .collect()
}

fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut state = seed | 1;
    for i in (1..items.len()).rev() {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        items.swap(i, (state >> 33) as usize % (i + 1));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn a_store_fed_in_any_order_keeps_the_history_of_one_batch(
        case in case(),
        months in prop::collection::vec(0..4usize, 70),
        seed in any::<u64>(),
        cuts in prop::collection::vec((1..25usize, any::<bool>(), any::<bool>()), 0..5),
        forget in prop::option::of(0..5usize),
    ) {
        let hits = spread(&case, &months);
        let mut whole = Engine::in_memory();
        whole.add_site(config(&case)).unwrap();
        whole.ingest(&hits).unwrap();
        let mut shuffled = hits.clone();
        shuffle(&mut shuffled, seed);

        let dir = crate::store::TempDir::new("history-pages");
        let mut w = Engine::open(&dir.0).unwrap();
        w.add_site(config(&case)).unwrap();
        let mut rest = shuffled.as_slice();
        for &(n, live, reopen) in &cuts {
            let (now, later) = rest.split_at(n.min(rest.len()));
            // Small live batches, or batches that rebuild their days.
            w.set_live_limit(if live { 1_000 } else { 0 });
            w.ingest(now).unwrap();
            rest = later;
            if reopen {
                drop(w);
                w = Engine::open(&dir.0).unwrap();
            }
        }
        w.set_live_limit(0);
        w.ingest(rest).unwrap();
        if let Some(v) = forget {
            let name = format!("v{v}");
            prop_assert_eq!(
                w.forget_visitor(1, &name).unwrap(),
                whole.forget_visitor(1, &name).unwrap()
            );
        }
        prop_assert_eq!(answers(&w, &case), answers(&whole, &case));
        drop(w);

        let mut r = Engine::open_reader(dir.0.to_str().unwrap(), hitmap::ReaderOptions::default())
            .unwrap();
        prop_assert_eq!(r.verify(), Vec::<String>::new());
        prop_assert_eq!(answers(&r, &case), answers(&whole, &case));
        // A month asked alone reads its own page.
        let day0: NaiveDate = first_day(&case);
        for m in 0..4u64 {
            let from = day0 + Days::new(31 * m);
            let q = Query::site(1).range(from, from + Days::new(8));
            prop_assert_eq!(
                r.query(&q).unwrap().visit_frequency(),
                whole.query(&q).unwrap().visit_frequency()
            );
        }
    }
}
