//! Month rollups: a reader answers whole months from them with exactly
//! the numbers of their days, reads no day of a rolled month, and never
//! uses a rollup that does not stand for its month's day files (late
//! data, live batches, `forget`, `delete`, a manifest whose days moved on).

use std::path::{Path, PathBuf};

use hitmap::{
    ActionReportKind, Dimension, Engine, Hit, Query, ReaderOptions, SiteConfig, VisitsSummary,
};
use proptest::prelude::*;

use crate::reader::sample_store;
use crate::store::TempDir;
use crate::store::edit_manifest;

fn reader(dir: &Path) -> Engine {
    Engine::open_reader(dir.to_str().unwrap(), ReaderOptions::default()).unwrap()
}

/// The month rollup files of site 1 (`YYYY-MM-gen.sum`), by name.
fn rollup_files(dir: &Path) -> Vec<String> {
    rollups_named(dir, 2, ".sum")
}

/// The year rollup files of site 1 (`YYYY-gen.sum`), by name.
fn year_files(dir: &Path) -> Vec<String> {
    rollups_named(dir, 1, ".sum")
}

/// The report rollup files of site 1 (`YYYY-MM-gen.rep`, `YYYY-gen.rep`).
fn report_files(dir: &Path) -> Vec<String> {
    let mut out = rollups_named(dir, 2, ".rep");
    out.extend(rollups_named(dir, 1, ".rep"));
    out
}

fn rollups_named(dir: &Path, dashes: usize, ext: &str) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir.join("site-1/rollups"))
        .into_iter()
        .flatten()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|f| f.matches('-').count() == dashes && f.ends_with(ext))
        .collect();
    out.sort();
    out
}

fn day(n: i64) -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2024, 12, 1).unwrap() + chrono::Days::new(n as u64)
}

/// Ranges from a fixed pseudo-random sequence over 2024-12-01 plus 200
/// days, with the whole year and some month edges among them.
fn ranges() -> Vec<(chrono::NaiveDate, chrono::NaiveDate)> {
    let mut out = vec![
        (day(0), day(400)),
        (day(31), day(31 + 364)),
        (day(31), day(31 + 30)),
        (day(30), day(31 + 31)),
        (day(62), day(89)),
        (day(40), day(150)),
    ];
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..60 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let a = (x % 200) as i64;
        let b = a + ((x >> 20) % 140) as i64;
        out.push((day(a), day(b)));
    }
    out
}

const ACTION_REPORTS: [ActionReportKind; 7] = [
    ActionReportKind::PageUrls,
    ActionReportKind::PageUrlTree,
    ActionReportKind::PageTitles,
    ActionReportKind::Downloads,
    ActionReportKind::Outlinks,
    ActionReportKind::SiteSearchKeywords,
    ActionReportKind::SiteSearchCategories,
];

/// The visits-grouped reports report rollups keep (the visit count and
/// the days since the last visit only while the visitor history they
/// were counted with is current).
const GROUPED: [&str; 37] = [
    "Actions.get",
    "Actions.getPageUrl&pageUrl=https://intranet.example.org/",
    "VisitFrequency.get",
    "VisitorInterest.getNumberOfVisitsByVisitCount",
    "Hitmap.getSections",
    "VisitorInterest.getNumberOfVisitsByDaysSinceLast",
    "Events.getCategory",
    "Events.getCategory&expanded=1",
    "Events.getAction",
    "Events.getAction&expanded=1",
    "Events.getName",
    "Events.getName&expanded=1",
    "Actions.getEntryPageUrls",
    "Actions.getExitPageUrls",
    "Actions.getEntryPageTitles",
    "Actions.getExitPageTitles",
    "Referrers.getReferrerType",
    "Referrers.getReferrerType&expanded=1",
    "Referrers.getAll",
    "Referrers.getSearchEngines&expanded=1",
    "Referrers.getKeywords&expanded=1",
    "Referrers.getWebsites&expanded=1",
    "Referrers.getSocials",
    "Referrers.getCampaigns&expanded=1",
    "Referrers.getAIAssistants",
    "VisitTime.getVisitInformationPerServerTime",
    "VisitTime.getVisitInformationPerLocalTime",
    "VisitTime.getByDayOfWeek",
    "VisitorInterest.getNumberOfVisitsPerVisitDuration",
    "VisitorInterest.getNumberOfVisitsPerPage",
    "UserCountry.getContinent",
    "UserLanguage.getLanguage",
    "DevicesDetection.getBrowserVersions",
    "DevicesDetection.getOsVersions",
    "Resolution.getResolution",
    "Referrers.getWebsites&flat=1",
    "Actions.getEntryPageUrls&filter_limit=3",
];

fn dimensions() -> Vec<Dimension> {
    vec![
        Dimension::DeviceType,
        Dimension::Browser,
        Dimension::OperatingSystem,
        Dimension::Country,
        Dimension::Language,
        Dimension::ReferrerType,
        Dimension::Custom("department".into()),
        Dimension::Custom("role".into()),
        Dimension::Custom("never-seen".into()),
        Dimension::Referrer(hitmap::ReferrerPart::SearchEngine),
        Dimension::Referrer(hitmap::ReferrerPart::Keyword),
        Dimension::Referrer(hitmap::ReferrerPart::Website),
        Dimension::Referrer(hitmap::ReferrerPart::Campaign),
    ]
}

/// The reader's reports (report rollups where current) over `q` equal
/// `want`'s from its days.
fn assert_reports_equal(r: &Engine, want: &Engine, q: &Query, what: &str) {
    let by_days = want.query(q).unwrap();
    for kind in ACTION_REPORTS {
        assert_eq!(
            r.action_report(q, kind).unwrap(),
            by_days.action_report(kind),
            "{what}: {kind:?} {q:?}"
        );
    }
    for d in dimensions() {
        assert_eq!(
            r.dimension_report(q, &d).unwrap(),
            by_days.dimension_report(&d),
            "{what}: {d:?} {q:?}"
        );
    }
    // The sections report: each section's visits cut to it.
    let sections: Vec<(String, VisitsSummary)> = r
        .sections_report(q)
        .unwrap()
        .into_iter()
        .map(|row| (row.label, row.metrics))
        .collect();
    let names: Vec<String> = r
        .site(1)
        .map(|s| s.sections().iter().map(|(n, _)| n.clone()).collect())
        .unwrap_or_default();
    let expect: Vec<(String, VisitsSummary)> = names
        .into_iter()
        .map(|name| {
            let cut = want.query(&q.clone().section(name.clone())).unwrap();
            (name, cut.visits_summary())
        })
        .collect();
    assert_eq!(sections, expect, "{what}: sections {q:?}");
}

/// Every range's summary: the reader's (rollups where current), the
/// same reader's from its days, and `want`'s (a writer's); and the
/// reports of some ranges.
fn assert_equal_everywhere(dir: &Path, want: &Engine, what: &str) {
    // Every rollup holds what its days give, id for id.
    assert_eq!(reader(dir).verify(), Vec::<String>::new(), "{what}");
    let r = reader(dir);
    for (a, b) in ranges().into_iter().take(16) {
        assert_reports_equal(&r, want, &Query::site(1).range(a, b), what);
    }
    for (a, b) in ranges() {
        let q = Query::site(1).range(a, b);
        let expect: VisitsSummary = want.query(&q).unwrap().visits_summary();
        assert_eq!(r.visits_summary(&q).unwrap(), expect, "{what}: {a}..{b}");
        assert_eq!(
            r.query(&q).unwrap().visits_summary(),
            expect,
            "{what}: {a}..{b} by days"
        );
    }
    // The Reporting API answers through the rollups too.
    for (period, date) in [
        ("year", "2025-01-01"),
        ("month", "2025-02-01"),
        ("range", "2025-01-15,2025-04-02"),
    ] {
        for method in [
            "VisitsSummary.get",
            "Actions.getPageUrls&flat=1",
            "Actions.getPageUrls&expanded=1",
            "Actions.getPageTitles",
            "Actions.getDownloads&flat=1",
            "Actions.getDownloads&expanded=1",
            "Actions.getOutlinks&expanded=1",
            "DevicesDetection.getType",
            "CustomDimensions.getCustomDimension&idDimension=1",
            "API.get",
            "MultiSites.getOne",
        ]
        .into_iter()
        .chain(GROUPED)
        {
            let q = format!(
                "method={method}&idSite=1&period={period}&date={date}&format=json&filter_limit=-1"
            );
            assert_eq!(r.api(&q).unwrap(), want.api(&q).unwrap(), "{what}: {q}");
        }
    }
}

#[test]
fn a_reader_answers_whole_months_from_rollups_with_the_numbers_of_their_days() {
    let dir = TempDir::new("rollup-equal");
    let writer = sample_store(&dir.0, 120); // January to April 2025
    assert_eq!(
        rollup_files(&dir.0)
            .iter()
            .map(|f| &f[..7])
            .collect::<Vec<_>>(),
        ["2025-01", "2025-02", "2025-03", "2025-04"]
    );
    assert_equal_everywhere(&dir.0, &writer, "sealed");

    // The year reads four rollups and no day; a range that cuts months
    // reads its rollups and its edge days only.
    let r = reader(&dir.0);
    let open = r.read_stats().requests;
    let year = r
        .visits_summary(&Query::site(1).range("2025-01-01", "2025-12-31"))
        .unwrap();
    assert_eq!(r.read_stats().requests - open, 1, "the year's rollup");
    assert_eq!(
        year.nb_visits,
        writer
            .query(&Query::site(1))
            .unwrap()
            .visits_summary()
            .nb_visits
    );
    let before = r.read_stats().requests;
    r.visits_summary(&Query::site(1).range("2025-01-30", "2025-03-02"))
        .unwrap();
    assert_eq!(
        r.read_stats().requests - before,
        2 + 2 + 1,
        "Jan 30-31, Mar 1-2, February's rollup (a summary needs no visitor history)"
    );
    assert_eq!(year_files(&dir.0).len(), 1);
    // A segment or a section reads days.
    let before = r.read_stats().requests;
    let q = Query::site(1)
        .range("2025-02-01", "2025-02-28")
        .section("/news");
    assert_eq!(
        r.visits_summary(&q).unwrap(),
        writer.query(&q).unwrap().visits_summary()
    );
    assert_eq!(r.read_stats().requests - before, 28);
}

#[test]
fn complete_months_and_years_answer_reports_from_report_rollups() {
    let dir = TempDir::new("rollup-reports");
    let mut writer = sample_store(&dir.0, 120); // January to April 2025
    // April is the last month with days: not complete, no report rollup.
    assert_eq!(
        report_files(&dir.0)
            .iter()
            .map(|f| &f[..7])
            .collect::<Vec<_>>(),
        ["2025-01", "2025-02", "2025-03"]
    );
    // A visit in 2026 completes April and 2025.
    writer
        .ingest([Hit::pageview(
            1,
            1_767_400_000,
            "n",
            "https://intranet.example.org/",
        )])
        .unwrap();
    writer.seal().unwrap();
    let names = report_files(&dir.0);
    assert_eq!(names.len(), 5, "{names:?}");
    assert!(names.iter().any(|f| f.starts_with("2025-04-")), "{names:?}");
    assert_eq!(names[4].matches('-').count(), 1, "the year's: {names:?}");
    assert_equal_everywhere(&dir.0, &writer, "complete");

    // Through the Reporting API: the same hits in memory (no store, no
    // rollup) answer every report the rollups serve the same.
    let cfg = hitmap::sample::SampleConfig {
        days: 120,
        visitors: 400,
        ..Default::default()
    };
    let mut memory = Engine::in_memory();
    memory.add_site(hitmap::sample::site_config(&cfg)).unwrap();
    memory.ingest(hitmap::sample::generate(&cfg)).unwrap();
    memory
        .ingest([Hit::pageview(
            1,
            1_767_400_000,
            "n",
            "https://intranet.example.org/",
        )])
        .unwrap();
    let methods: Vec<&str> = [
        "Actions.getPageUrls&flat=1",
        "Actions.getPageTitles",
        "Actions.getDownloads&flat=1",
        "Actions.getOutlinks&flat=1",
        "Actions.getSiteSearchKeywords",
        "Actions.getSiteSearchCategories",
        "Actions.getSiteSearchNoResultKeywords",
        "DevicesDetection.getType",
        "DevicesDetection.getBrowsers",
        "DevicesDetection.getOsFamilies",
        "UserCountry.getCountry",
        "UserLanguage.getLanguageCode",
        "CustomDimensions.getCustomDimension&idDimension=2",
    ]
    .into_iter()
    .chain(GROUPED)
    .collect();
    // Every one of them answers the year from its rollup alone.
    let cold = reader(&dir.0);
    let before = cold.read_stats().requests;
    for method in &methods {
        let q = format!("method={method}&idSite=1&period=year&date=2025-01-01&format=json");
        cold.api(&q).unwrap();
    }
    assert_eq!(
        cold.read_stats().requests - before,
        1,
        "2025's report rollup"
    );
    let r = reader(&dir.0);
    for (period, date) in [
        ("year", "2025-01-01"),
        ("month", "2025-03-01"),
        ("range", "2025-01-20,2025-04-02"),
        ("range", "2024-12-01,2026-01-31"),
    ] {
        for method in &methods {
            for extra in ["&filter_limit=-1", "&filter_limit=7&filter_offset=2", ""] {
                let q = format!(
                    "method={method}&idSite=1&period={period}&date={date}&format=json{extra}"
                );
                assert_eq!(r.api(&q).unwrap(), memory.api(&q).unwrap(), "{q}");
            }
        }
    }

    // The year's page report reads one file; a month's too; a range that
    // cuts months reads its report rollups and edge days, not the visitor
    // history (no report row depends on earlier days).
    let r = reader(&dir.0);
    let by_days = writer
        .query(&Query::site(1).range("2025-01-01", "2025-12-31"))
        .unwrap();
    for (a, b, reads) in [
        ("2025-01-01", "2025-12-31", 1),
        ("2025-02-01", "2025-02-28", 1),
        ("2025-01-30", "2025-03-02", 2 + 2), // February's is cached
    ] {
        let q = Query::site(1).range(a, b);
        let before = r.read_stats().requests;
        let rows = r.action_report(&q, ActionReportKind::PageUrls).unwrap();
        assert_eq!(r.read_stats().requests - before, reads, "{a}..{b}");
        assert_eq!(
            rows,
            writer
                .query(&q)
                .unwrap()
                .action_report(ActionReportKind::PageUrls)
        );
    }
    let year = r
        .action_report(
            &Query::site(1).range("2025-01-01", "2025-12-31"),
            ActionReportKind::PageTitles,
        )
        .unwrap();
    assert!(year.len() > 5 && year[0].nb_uniq_visitors > 0);
    assert_eq!(year, by_days.action_report(ActionReportKind::PageTitles));
    // The page tree of the year: from the year's rollup too (already
    // cached), folders with their pages' visitors united.
    let before = r.read_stats().requests;
    let tree = r
        .action_report(
            &Query::site(1).range("2025-01-01", "2025-12-31"),
            ActionReportKind::PageUrlTree,
        )
        .unwrap();
    assert_eq!(r.read_stats().requests, before, "no day read");
    assert!(tree.iter().any(|row| !row.subtable.is_empty()));
    assert_eq!(tree, by_days.action_report(ActionReportKind::PageUrlTree));

    // Late hits for a complete month update its report rollup and the
    // year's from the stored ones; answers stay exact before (live) and
    // after the seal.
    drop(writer);
    let mut writer = Engine::open(&dir.0).unwrap();
    let feb10 = 1_739_180_000;
    let late = |ts: i64| Hit::pageview(1, ts, "late", "https://intranet.example.org/late");
    writer.ingest([late(feb10), late(feb10 + 30)]).unwrap();
    let before = writer.read_stats().requests;
    writer.seal().unwrap();
    assert_eq!(
        writer.read_stats().requests - before,
        1 + 3 + 1 + 1,
        "February's summary and the other months' for the year's, \
         February's report rollup and the year's (not the other months')"
    );
    assert_equal_everywhere(&dir.0, &writer, "sealed late batch");
    writer.ingest([late(feb10 + 60)]).unwrap();
    assert_equal_everywhere(&dir.0, &writer, "live late batch");
    writer.seal().unwrap();
    assert_equal_everywhere(&dir.0, &writer, "sealed again");
    assert!(writer.forget_visitor(1, "late").unwrap() > 0);
    assert_equal_everywhere(&dir.0, &writer, "forget");
    writer.delete_range(1, "2025-03-10", "2025-04-30").unwrap();
    assert_equal_everywhere(&dir.0, &writer, "delete");
    // Sections change (one redefined, one added): their rows in the
    // rollups stand for the old definitions, so the sections report
    // reads the days, and equals them; a late batch then rebuilds the
    // month it touches, whose rollup counts the sections as defined now.
    let mut config = serde_json::to_value(writer.site(1).unwrap()).unwrap();
    let sections = config["sections"].as_array_mut().unwrap();
    assert_eq!(sections[0][0], "News");
    sections[0][1] = serde_json::json!(["/news", "/teams/hr"]);
    sections.push(serde_json::json!(["Search", ["/search"]]));
    let changed: SiteConfig = serde_json::from_value(config).unwrap();
    writer.add_site(changed).unwrap();
    assert_equal_everywhere(&dir.0, &writer, "sections redefined");
    writer.ingest([late(feb10 + 90)]).unwrap();
    writer.seal().unwrap();
    assert_equal_everywhere(&dir.0, &writer, "sections redefined, late batch");
}

#[test]
fn rollups_stay_exact_through_late_hits_forget_and_delete() {
    let dir = TempDir::new("rollup-changes");
    let mut w = sample_store(&dir.0, 120);
    let first = rollup_files(&dir.0);

    // A late live batch for 2025-02-10 (write-ahead log only): February's
    // days change, its rollup does not; readers answer February from days.
    let late =
        |visitor: &str, ts: i64| Hit::pageview(1, ts, visitor, "https://intranet.example.org/late");
    let feb10 = 1_739_180_000; // 2025-02-10 09:33 UTC
    w.ingest([
        late("x1", feb10),
        late("x1", feb10 + 60),
        late("x2", feb10 + 90),
    ])
    .unwrap();
    assert_eq!(rollup_files(&dir.0), first, "a live batch writes no rollup");
    assert_equal_everywhere(&dir.0, &w, "live batch");
    let r = reader(&dir.0);
    let before = r.read_stats().requests;
    r.visits_summary(&Query::site(1).range("2025-02-01", "2025-02-28"))
        .unwrap();
    assert_eq!(
        r.read_stats().requests - before,
        27,
        "February from its days (the 10th held at open), not its rollup"
    );

    // The seal rewrites the day, February's rollup and the year's.
    let year = year_files(&dir.0);
    w.seal().unwrap();
    assert_eq!(year_files(&dir.0).len(), 2, "{:?}", year_files(&dir.0));
    assert!(
        year_files(&dir.0).contains(&year[0]),
        "retired, kept for readers"
    );
    let sealed = rollup_files(&dir.0);
    let feb: Vec<&String> = sealed.iter().filter(|f| f.starts_with("2025-02")).collect();
    assert_eq!(
        feb.len(),
        2,
        "the old one is retired for readers: {sealed:?}"
    );
    assert_equal_everywhere(&dir.0, &w, "sealed late batch");

    // A big batch (rebuilding its days at once) into January and March.
    w.set_live_limit(0);
    w.ingest([late("x1", 1_736_000_000), late("x3", 1_741_000_000)])
        .unwrap();
    assert_equal_everywhere(&dir.0, &w, "rebuilt days");
    w.set_live_limit(20_000);

    // Forgetting a visitor rewrites every day with new ids: every rollup
    // is rewritten and the old files are gone at once.
    assert!(w.forget_visitor(1, "x1").unwrap() > 0);
    let after: Vec<String> = rollup_files(&dir.0);
    assert_eq!(after.len(), 4, "{after:?}");
    assert_eq!(
        year_files(&dir.0).len(),
        1,
        "old ones deleted with the erasure"
    );
    assert!(
        after.iter().all(|f| !sealed.contains(f)),
        "{after:?} {sealed:?}"
    );
    assert_equal_everywhere(&dir.0, &w, "forget");

    // Deleting from 2025-03-10 to the end: March is rebuilt from its
    // first nine days, April loses its rollup.
    w.delete_range(1, "2025-03-10", "2025-04-30").unwrap();
    let left = rollup_files(&dir.0);
    assert_eq!(
        left.iter().map(|f| &f[..7]).collect::<Vec<_>>(),
        ["2025-01", "2025-02", "2025-03"]
    );
    assert_equal_everywhere(&dir.0, &w, "delete");
}

#[test]
fn a_rollup_that_does_not_stand_for_its_days_is_not_used() {
    let dir = TempDir::new("rollup-stale");
    let w = sample_store(&dir.0, 90);
    let want: Vec<VisitsSummary> = ranges()
        .iter()
        .map(|(a, b)| {
            w.query(&Query::site(1).range(*a, *b))
                .unwrap()
                .visits_summary()
        })
        .collect();
    drop(w);
    let rollups = rollup_files(&dir.0);
    let site: PathBuf = dir.0.join("site-1");

    // A day of January newer than January's rollup (as if a commit had
    // rewritten the day and not the rollup).
    let jan5 = std::fs::read_dir(site.join("days"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .find(|f| f.starts_with("2025-01-05-"))
        .unwrap();
    let jan6 = jan5.replace("2025-01-05", "2025-01-06");
    // Its new file holds other visits (the 6th's), so a rollup used in
    // its place would answer differently.
    std::fs::copy(
        site.join("days").join(&jan6),
        site.join("days/2025-01-05-999.day"),
    )
    .unwrap();
    std::fs::remove_file(site.join("days").join(&jan5)).unwrap();
    edit_manifest(&dir.0, |m| {
        m["sites"]["1"]["days"]["2025-01-05"] = 999.into();
    });
    // February's rollup replaced by March's bytes (the wrong month).
    let (feb, mar) = (&rollups[1], &rollups[2]);
    std::fs::copy(
        site.join("rollups").join(mar),
        site.join("rollups").join(feb),
    )
    .unwrap();
    // March's rollup claims a day the manifest no longer lists.
    edit_manifest(&dir.0, |m| {
        m["sites"]["1"]["days"]
            .as_object_mut()
            .unwrap()
            .remove("2025-03-31");
    });

    let r = reader(&dir.0);
    for ((a, b), want) in ranges().into_iter().zip(&want) {
        let q = Query::site(1).range(a, b);
        let by_days = r.query(&q).unwrap().visits_summary();
        assert_eq!(r.visits_summary(&q).unwrap(), by_days, "{a}..{b}");
        let untouched = |d: &str| !(a..=b).contains(&d.parse().unwrap());
        if untouched("2025-01-05") && untouched("2025-03-31") {
            assert_eq!(&by_days, want, "{a}..{b}");
        }
    }
    // All three months are read from their days.
    let before = r.read_stats().requests;
    r.visits_summary(&Query::site(1).range("2025-01-01", "2025-03-31"))
        .unwrap();
    assert_eq!(
        r.read_stats().requests - before,
        0,
        "cached above: days, not rollups"
    );
    let cold = reader(&dir.0);
    let before = cold.read_stats().requests;
    cold.visits_summary(&Query::site(1).range("2025-01-01", "2025-03-31"))
        .unwrap();
    let days = std::fs::read_dir(site.join("days")).unwrap().count() - 1; // not 03-31
    assert_eq!(
        cold.read_stats().requests - before,
        days as u64 + 2,
        "every day and the two rollups found wrong (no visitor history)"
    );
}

/// The hits of one property case: visits on days spread over three
/// months, from a small pool of visitors (and users).
fn case_hits(seeds: &[(u8, u8, u16)]) -> Vec<Hit> {
    let base = 1_735_689_600i64; // 2025-01-01 00:00 UTC
    seeds
        .iter()
        .map(|&(d, v, s)| {
            // Some pages on a second host too: their rows name Matomo's
            // URL, the first day's.
            let host = if v % 4 == 2 { "www.x.org" } else { "x.org" };
            let mut h = Hit::pageview(
                1,
                base + i64::from(d) * 86_400 + i64::from(s) * 7,
                format!("v{}", v % 23),
                format!("https://{host}/p{}", s % 5),
            );
            if v % 3 == 0 {
                h = h.with_user(format!("u{}", v % 7));
            }
            if d > 40 && v % 4 == 1 {
                // A custom dimension on some days only.
                h = h.with_dim("d", format!("x{}", s % 3));
            }
            // Referrers, versions, resolutions and local hours on some
            // visits, for the grouped reports.
            h.referrer = match s % 6 {
                0 => Some("https://www.google.com/search?q=x".into()),
                1 => Some(format!("https://blog{}.example/", v % 3)),
                2 => Some("https://www.linkedin.com/".into()),
                _ => None,
            };
            if v % 5 == 0 {
                h.url = Some(format!("https://x.org/p{}?utm_campaign=c{}", s % 5, d % 2));
            }
            if s % 7 == 3 {
                // An event, with a fractional value on most.
                h = Hit::new(1, h.ts, h.visitor.clone(), hitmap::HitType::Event).with_event(
                    hitmap::Event {
                        category: format!("c{}", s % 3),
                        action: format!("a{}", v % 4),
                        name: (s % 5 != 0).then(|| format!("n{}", d % 3)),
                        value: (v % 3 != 0).then(|| f64::from(s % 100) / 10.0 + 0.01),
                    },
                );
            }
            if v % 2 == 0 {
                h.browser = Some("Firefox".into());
                h.browser_version = Some(format!("{}.0", 120 + v % 3));
                h.resolution = Some("1920x1080".into());
                h.local_hour = Some(v % 24);
            }
            h
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Batches of hits (some live, some sealed, some late for earlier
    /// months) and then any range: the reader's rollup answer equals the
    /// writer's, which the reference tests hold to the brute-force model.
    #[test]
    fn rollups_equal_the_days_after_any_sequence_of_batches(
        batches in prop::collection::vec(
            (
                prop::collection::vec((0u8..90, any::<u8>(), any::<u16>()), 1..40),
                any::<bool>(),
                any::<bool>(),
            ),
            1..7,
        ),
        asks in prop::collection::vec((0i64..120, 0i64..120), 1..12),
    ) {
        check_batches(&batches, &asks)?;
    }
}

/// The body of `rollups_equal_the_days_after_any_sequence_of_batches`.
fn check_batches(
    batches: &[(Vec<(u8, u8, u16)>, bool, bool)],
    asks: &[(i64, i64)],
) -> Result<(), TestCaseError> {
    let dir = TempDir::new("rollup-prop");
    let mut w = Engine::open(&dir.0).unwrap();
    w.add_site(SiteConfig::new(1)).unwrap();
    for (seeds, seal, rebuild) in batches {
        // A batch is live (the log), or rebuilds its days at once.
        w.set_live_limit(if *rebuild { 0 } else { 20_000 });
        w.ingest(case_hits(seeds)).unwrap();
        if *seal {
            w.seal().unwrap();
        }
    }
    // A new writer (its days read from the files) goes on.
    drop(w);
    let mut w = Engine::open(&dir.0).unwrap();
    w.ingest(case_hits(&batches[0].0[..1])).unwrap();
    w.seal().unwrap();
    let r = reader(&dir.0);
    // The same hits in memory: no store, no rollup.
    let mut memory = Engine::in_memory();
    memory.add_site(SiteConfig::new(1)).unwrap();
    for (seeds, _, _) in batches {
        memory.ingest(case_hits(seeds)).unwrap();
    }
    memory.ingest(case_hits(&batches[0].0[..1])).unwrap();
    for &(a, len) in asks {
        let from = day(a + 15);
        let q = Query::site(1).range(from, from + chrono::Days::new(len as u64));
        prop_assert_eq!(
            r.visits_summary(&q).unwrap(),
            w.query(&q).unwrap().visits_summary()
        );
        // Segmented and sectioned: the reader's days are read a window
        // of a month at a time, and only the columns the question uses.
        for filtered in [
            q.clone().segment("pageUrl=@p1,userId!=u3").unwrap(),
            q.clone().segment("visitorType==returning").unwrap(),
        ] {
            prop_assert_eq!(
                r.visits_summary(&filtered).unwrap(),
                w.query(&filtered).unwrap().visits_summary()
            );
        }
        let by_days = w.query(&q).unwrap();
        for kind in [ActionReportKind::PageUrls, ActionReportKind::PageUrlTree] {
            prop_assert_eq!(
                r.action_report(&q, kind).unwrap(),
                by_days.action_report(kind)
            );
        }
        prop_assert_eq!(
            r.dimension_report(&q, &Dimension::Custom("d".into()))
                .unwrap(),
            by_days.dimension_report(&Dimension::Custom("d".into()))
        );
        // Grouped reports (report rollups where whole months are).
        let date = format!("{},{}", from, from + chrono::Days::new(len as u64));
        let summaries = [
            "Actions.get",
            "VisitFrequency.get",
            "API.get",
            "MultiSites.getOne",
        ];
        for method in GROUPED.iter().step_by(2).chain(&summaries) {
            let q = format!(
                "method={method}&idSite=1&period=range&date={date}&format=json&filter_limit=-1"
            );
            prop_assert_eq!(r.api(&q).unwrap(), memory.api(&q).unwrap(), "{}", q);
        }
    }
    Ok(())
}

/// Cases the property found: a page of two hosts whose first day comes
/// into a month after a later day's rollup (the writer then builds the
/// month from its days), and days added to a rollup out of date order.
#[test]
fn rollups_name_a_pages_first_day_url_whatever_order_its_days_come_in() {
    let cases: [(Vec<(Vec<(u8, u8, u16)>, bool, bool)>, Vec<(i64, i64)>); 2] = [
        (
            vec![
                (vec![(28, 0, 37029), (2, 62, 1423)], false, true),
                (
                    vec![
                        (11, 212, 29651),
                        (25, 180, 23669),
                        (23, 218, 16516),
                        (1, 151, 5643),
                        (34, 103, 60021),
                        (78, 71, 3385),
                        (68, 130, 62719),
                        (71, 112, 7592),
                        (62, 91, 12049),
                        (85, 107, 18027),
                        (5, 132, 28338),
                        (74, 204, 52668),
                        (66, 21, 59935),
                        (60, 215, 3880),
                        (32, 41, 25068),
                        (49, 149, 40524),
                        (36, 71, 20443),
                        (73, 32, 61905),
                        (29, 47, 58601),
                        (77, 88, 24491),
                        (31, 99, 63761),
                        (13, 209, 25904),
                    ],
                    true,
                    false,
                ),
            ],
            vec![(65, 57), (45, 76), (12, 34)],
        ),
        (
            vec![
                (
                    vec![(0, 0, 0), (38, 27, 36297), (56, 0, 37029)],
                    false,
                    true,
                ),
                (vec![(29, 0, 24686), (29, 202, 43477)], false, false),
            ],
            vec![(0, 74)],
        ),
    ];
    for (batches, asks) in &cases {
        check_batches(batches, asks).unwrap();
    }
}

/// Bytes of day archives a writer holds (its `memory_usage` parts other
/// than the dictionaries and the visitor table).
fn held_day_bytes(e: &Engine) -> usize {
    e.memory_usage()
        .iter()
        .filter(|(part, _)| *part != "dictionaries" && *part != "visitor table")
        .map(|(_, b)| b)
        .sum()
}

#[test]
fn a_writer_reads_only_what_its_batches_and_questions_touch() {
    let dir = TempDir::new("lazy-writer");
    let want = {
        let w = sample_store(&dir.0, 120);
        (0..4)
            .map(|m| {
                let q = Query::site(1).range(day(31 + 30 * m), day(31 + 30 * m + 40));
                w.query(&q).unwrap().visits_summary()
            })
            .collect::<Vec<_>>()
    };
    let mut w = Engine::open(&dir.0).unwrap();
    // Opening: the site's config, dictionaries, visitor totals and its
    // latest month's history page, April's (the writer reads its
    // manifest itself); no day.
    let open = w.read_stats().requests;
    assert_eq!(open, 4);
    assert_eq!(held_day_bytes(&w), 0);
    // A small batch for 2025-02-10 reads that day, and the history pages
    // of February and March (a visitor's counts there may change).
    let feb10 = 1_739_180_000;
    let hit = |v: &str, ts: i64| Hit::pageview(1, ts, v, "https://intranet.example.org/w");
    w.ingest([hit("w1", feb10), hit("w1", feb10 + 30)]).unwrap();
    assert_eq!(w.read_stats().requests, open + 1 + 2);
    // Its seal writes the day and February's rollups (summary and
    // reports), each updated from the old one (one read each), not from
    // the month's days.
    w.seal().unwrap();
    let sealed = w.read_stats().requests;
    assert_eq!(
        sealed - open,
        3 + 2 + 3,
        "the day and two pages, February's rollups, the other months' for the year's"
    );
    assert_eq!(held_day_bytes(&w), 0, "sealed days go back to the cache");
    // A large batch (rebuilding its days) into January and March reads
    // those two days, and their months for the rollups, nothing else.
    w.set_live_limit(0);
    w.ingest([hit("w2", 1_736_000_000), hit("w3", 1_741_000_000)])
        .unwrap();
    let after = w.read_stats().requests - sealed;
    assert_eq!(
        after,
        2 + 3 + 1 + 2,
        "two days, the history pages of January to March (a commit keeps the \
         latest month's only), February's new rollup for the year's (the others \
         are cached), January's and March's report rollups (updated, not rebuilt)"
    );
    // The answers: the first store's, plus the new hits.
    drop(w);
    let w = Engine::open(&dir.0).unwrap();
    let mut with_new = want.clone();
    for (i, s) in with_new.iter_mut().enumerate() {
        let q = Query::site(1).range(day(31 + 30 * i as i64), day(31 + 30 * i as i64 + 40));
        let got = w.query(&q).unwrap().visits_summary();
        assert!(got.nb_visits >= s.nb_visits && got.nb_visits <= s.nb_visits + 3);
        *s = got;
    }
    let everything = Engine::open_read_only(&dir.0).unwrap();
    for (i, s) in with_new.iter().enumerate() {
        let q = Query::site(1).range(day(31 + 30 * i as i64), day(31 + 30 * i as i64 + 40));
        assert_eq!(&everything.visits_summary(&q).unwrap(), s);
    }
    // A small cache budget keeps the writer's memory bounded while it
    // answers the whole history, with the same answers.
    drop(w);
    let mut w = Engine::open_with(&dir.0, hitmap::StoreOptions::default().cache_mb(1)).unwrap();
    for (i, s) in with_new.iter().enumerate() {
        let q = Query::site(1).range(day(31 + 30 * i as i64), day(31 + 30 * i as i64 + 40));
        assert_eq!(&w.query(&q).unwrap().visits_summary(), s);
    }
    assert_eq!(held_day_bytes(&w), 0);
    // The history pages those questions read leave memory at the next
    // commit: a long-running writer keeps the latest month's, not every
    // month it ever read.
    let history = |e: &Engine| {
        e.memory_usage()
            .iter()
            .find(|(part, _)| *part == "visitor table")
            .map_or(0, |(_, bytes)| *bytes)
    };
    let read = history(&w);
    w.ingest([hit("w4", 1_745_000_000)]).unwrap(); // 2025-04-18
    w.seal().unwrap();
    assert!(history(&w) < read, "{} bytes of {read}", history(&w));
}

/// A report rollup's bytes are part of the format (FORMAT.md, `R` with
/// reports): the writer keeps writing the same bytes for the same hits, or
/// the version must change; `HITMAP_BLESS=1` rewrites the golden file. A
/// reader answers from the golden file as from the days; from the ones
/// written before rollups kept grouped reports (`rollup-v1`), before
/// the referrer type reports' search rows were keywords (`rollup-v5`) and
/// before the time on a page ran to the next page view (`rollup-v7`)
/// before the device reports (`rollup-v9`), before event visits
/// counted by combination (`rollup-v12`) and before action rows kept
/// their load timings, bandwidth and entry actions (`rollup-v13`) and
/// before they kept their entering and leaving visitors (`rollup-v14`),
/// the last that kept the entry and exit page reports (`rollup-v15`) and
/// the last before page rows named Matomo's URL (`rollup-v16`), whose
/// reports are not used at all, too, reading the days for those.
#[test]
fn golden_report_rollup_reads_and_the_writer_is_stable() {
    let dir = TempDir::new("rollup-golden");
    let cfg = hitmap::sample::SampleConfig {
        days: 35,
        visitors: 60,
        ..Default::default()
    };
    let mut w = Engine::open(&dir.0).unwrap();
    w.add_site(hitmap::sample::site_config(&cfg)).unwrap();
    w.ingest(hitmap::sample::generate(&cfg)).unwrap();
    w.seal().unwrap();
    let names = report_files(&dir.0);
    assert_eq!(names.len(), 1, "{names:?}");
    let file = dir.0.join("site-1/rollups").join(&names[0]);
    let written = std::fs::read(&file).unwrap();
    let golden_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let golden = golden_dir.join("rollup-v17/2025-01.rep");
    if std::env::var_os("HITMAP_BLESS").is_some() {
        std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
        std::fs::write(&golden, &written).unwrap();
    }
    assert!(
        written == std::fs::read(&golden).unwrap(),
        "the report rollup is written differently: change its format version"
    );
    let q = Query::site(1).range("2025-01-01", "2025-01-31");
    let grouped = [
        "Referrers.getReferrerType",
        "Referrers.getWebsites",
        "VisitTime.getVisitInformationPerServerTime",
        "VisitorInterest.getNumberOfVisitsPerVisitDuration",
        "Actions.getEntryPageUrls",
        "Actions.getExitPageTitles",
        "DevicesDetection.getBrowserVersions",
    ];
    for (version, grouped_from_rollup, current) in [
        ("rollup-v17", true, true),
        ("rollup-v16", false, false),
        ("rollup-v15", false, false),
        ("rollup-v14", false, false),
        ("rollup-v13", false, false),
        ("rollup-v12", false, false),
        ("rollup-v9", false, false),
        ("rollup-v7", false, false),
        ("rollup-v5", false, false),
        ("rollup-v1", false, false),
    ] {
        // The golden bytes in place of the written ones answer as the days.
        let bytes = std::fs::read(golden_dir.join(version).join("2025-01.rep")).unwrap();
        std::fs::write(&file, bytes).unwrap();
        let r = reader(&dir.0);
        let before = r.read_stats().requests;
        r.action_report(&q, ActionReportKind::PageUrls).unwrap();
        // A rollup of today's version answers alone; an older one's pages
        // were timed by the older rule: the month's days are read.
        assert_eq!(
            r.read_stats().requests - before == 1,
            current,
            "{version}: the golden rollup alone"
        );
        assert_reports_equal(&r, &w, &q, version);
        for method in grouped {
            let q = format!(
                "method={method}&idSite=1&period=month&date=2025-01-01&format=json&filter_limit=-1"
            );
            assert_eq!(r.api(&q).unwrap(), w.api(&q).unwrap(), "{version}: {q}");
        }
        // The old rollup lacks grouped reports: their month's days are read.
        let read_days = r.read_stats().requests - before > 1;
        assert_eq!(read_days, !grouped_from_rollup, "{version}");
    }
    // `hitmap check --upgrade` rebuilds the old rollup (the file now holds
    // rollup-v1's bytes) from its days, once; then every grouped report
    // of the month comes from it.
    drop(w);
    let mut w = Engine::open(&dir.0).unwrap();
    assert_eq!(w.upgrade_rollups().unwrap(), 1);
    assert_eq!(w.upgrade_rollups().unwrap(), 0);
    let r = reader(&dir.0);
    r.action_report(&q, ActionReportKind::PageUrls).unwrap();
    let before = r.read_stats().requests;
    for method in grouped {
        let q = format!(
            "method={method}&idSite=1&period=month&date=2025-01-01&format=json&filter_limit=-1"
        );
        assert_eq!(r.api(&q).unwrap(), w.api(&q).unwrap(), "upgraded: {q}");
    }
    assert_eq!(r.read_stats().requests, before, "upgraded: no day read");
    assert_eq!(reader(&dir.0).verify(), Vec::<String>::new());
}

/// `hitmap check` (`Engine::verify`) proves every rollup a query would use
/// against its days: a report rollup that stands for the right days but
/// holds other numbers (here another store's, whose January has one more
/// hit, with the same file names and dictionaries) is reported, and the
/// checking process answers that month from its days.
#[test]
fn verify_finds_a_rollup_that_disagrees_with_its_days() {
    let cfg = hitmap::sample::SampleConfig {
        days: 40,
        visitors: 80,
        ..Default::default()
    };
    let hits: Vec<Hit> = hitmap::sample::generate(&cfg).collect();
    let make = |name: &str, extra: bool| {
        let dir = TempDir::new(name);
        let mut w = Engine::open(&dir.0).unwrap();
        w.add_site(hitmap::sample::site_config(&cfg)).unwrap();
        let mut all = hits.clone();
        if extra {
            let mut again = hits[0].clone();
            again.ts += 1;
            all.push(again);
        }
        w.ingest(all).unwrap();
        w.seal().unwrap();
        (dir, w)
    };
    let (dir, w) = make("rollup-verify-a", false);
    let (other, _) = make("rollup-verify-b", true);
    let names = report_files(&dir.0);
    assert_eq!(names, report_files(&other.0));
    let q = Query::site(1).range("2025-01-01", "2025-01-31");
    let want = w
        .query(&q)
        .unwrap()
        .action_report(ActionReportKind::PageUrls);
    std::fs::copy(
        other.0.join("site-1/rollups").join(&names[0]),
        dir.0.join("site-1/rollups").join(&names[0]),
    )
    .unwrap();
    let r = reader(&dir.0);
    let wrong = r.action_report(&q, ActionReportKind::PageUrls).unwrap();
    assert!(
        wrong != want,
        "the other store's rollup is used, and it is wrong"
    );
    let mut checked = reader(&dir.0);
    let found = checked.verify();
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains(&names[0]) && found[0].contains("disagree"),
        "{found:?}"
    );
    let fixed = checked
        .action_report(&q, ActionReportKind::PageUrls)
        .unwrap();
    assert!(
        fixed == want,
        "the checked reader answers January from its days"
    );
}

/// Visit counts and days since the last visit depend on earlier days: a
/// late visit in January of a visitor who comes back in February changes
/// February's answers although no February day is rewritten, so
/// February's report rollup no longer answers them (its month's history
/// page is newer than it); the reader reads February's days, and equals
/// the same hits in memory. A month without such a visitor still answers
/// from its rollup.
#[test]
fn history_reports_follow_late_visits_of_returning_visitors() {
    let dir = TempDir::new("rollup-history");
    let ts = |date: &str, h: u32| {
        chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
            .unwrap()
            .and_hms_opt(h, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp()
    };
    let hit = |v: &str, date: &str, h: u32| Hit::pageview(1, ts(date, h), v, "https://x.org/a");
    let mut hits = vec![
        hit("x", "2025-02-05", 9),
        hit("x", "2025-02-20", 9),
        hit("y", "2025-01-03", 9),
        hit("y", "2025-03-03", 9),
        hit("z", "2025-04-02", 9),
    ];
    let mut w = Engine::open(&dir.0).unwrap();
    w.add_site(SiteConfig::new(1)).unwrap();
    w.ingest(hits.clone()).unwrap();
    w.seal().unwrap();
    let methods = [
        "VisitorInterest.getNumberOfVisitsByVisitCount",
        "VisitorInterest.getNumberOfVisitsByDaysSinceLast",
        "VisitFrequency.get",
        "API.get",
    ];
    let ask = |e: &Engine, method: &str, month: &str| {
        e.api(&format!(
            "method={method}&idSite=1&period=month&date={month}&format=json"
        ))
        .unwrap()
    };
    // Before: February from its rollup alone.
    let r = reader(&dir.0);
    let before = r.read_stats().requests;
    let feb = ask(&r, methods[0], "2025-02-01");
    assert_eq!(
        r.read_stats().requests - before,
        1,
        "February's report rollup"
    );
    let late = hit("x", "2025-01-10", 9);
    w.ingest([late.clone()]).unwrap();
    w.seal().unwrap();
    hits.push(late);
    let mut memory = Engine::in_memory();
    memory.add_site(SiteConfig::new(1)).unwrap();
    memory.ingest(hits).unwrap();
    let r = reader(&dir.0);
    assert_ne!(
        ask(&r, methods[0], "2025-02-01"),
        feb,
        "x's February visits count on"
    );
    for method in methods {
        for month in ["2025-01-01", "2025-02-01", "2025-03-01"] {
            assert_eq!(
                ask(&r, method, month),
                ask(&memory, method, month),
                "{method} {month}"
            );
        }
    }
    assert_eq!(reader(&dir.0).verify(), Vec::<String>::new());
    // March (no visitor of the late batch) still answers from its rollup.
    let r = reader(&dir.0);
    let before = r.read_stats().requests;
    ask(&r, methods[0], "2025-03-01");
    assert_eq!(r.read_stats().requests - before, 1, "March's report rollup");
}

/// An input that gives the first `n` bytes of `bytes`, then an error.
struct FailsAfter<'a> {
    bytes: &'a [u8],
    n: usize,
}

impl std::io::Read for FailsAfter<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.n == 0 {
            return Err(std::io::Error::other("the disk went away"));
        }
        let k = buf.len().min(self.n).min(self.bytes.len());
        buf[..k].copy_from_slice(&self.bytes[..k]);
        self.bytes = &self.bytes[k..];
        self.n -= k;
        Ok(k)
    }
}

#[test]
fn an_ndjson_ingest_builds_the_report_rollups_it_completes_once_at_its_end() {
    let cfg = hitmap::sample::SampleConfig {
        days: 120,
        visitors: 400,
        ..Default::default()
    };
    let ndjson: Vec<u8> = hitmap::sample::generate(&cfg)
        .flat_map(|h| (h.to_ndjson() + "\n").into_bytes())
        .collect();
    let options = hitmap::IngestOptions::default().chunk_bytes(ndjson.len() / 10);
    // The same hits committed batch by batch, each commit with its
    // rollups: what the NDJSON ingest must equal.
    let want_dir = TempDir::new("rollup-ndjson-want");
    let want = sample_store(&want_dir.0, 120);

    let dir = TempDir::new("rollup-ndjson");
    let mut e = Engine::open(&dir.0).unwrap();
    e.add_site(hitmap::sample::site_config(&cfg)).unwrap();
    // Stopped at 70 %: its chunks are committed (January and February
    // complete), their report rollups left for the end it did not reach.
    let cut = FailsAfter {
        bytes: &ndjson,
        n: ndjson.len() * 7 / 10,
    };
    let err = e
        .ingest_ndjson_with(std::io::BufReader::new(cut), &options)
        .unwrap_err();
    assert!(err.to_string().contains("the disk went away"), "{err}");
    assert!(
        rollup_files(&dir.0).len() >= 2,
        "{:?}",
        rollup_files(&dir.0)
    );
    assert_eq!(report_files(&dir.0), Vec::<String>::new());
    // A reader answers from the days meanwhile, exactly.
    let q = Query::site(1).range(day(31), day(31 + 30));
    assert_eq!(
        reader(&dir.0).query(&q).unwrap().visits_summary(),
        want.query(&q).unwrap().visits_summary()
    );

    // The whole input again: the committed chunks are skipped, the rest
    // read, and the last commit builds every complete month's reports
    // and no more (April is the last month with days).
    let out = e.ingest_ndjson_with(&ndjson[..], &options).unwrap();
    assert!(out.skipped_batches >= 6 && out.batches >= 3, "{out:?}");
    e.seal().unwrap();
    assert_eq!(
        report_files(&dir.0)
            .iter()
            .map(|f| &f[..7])
            .collect::<Vec<_>>(),
        ["2025-01", "2025-02", "2025-03"]
    );
    assert_equal_everywhere(&dir.0, &want, "NDJSON in chunks");
}
