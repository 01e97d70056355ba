//! Goals (`goal.rs`, `goals.rs`): conversions computed from the stored
//! actions equal a brute-force model over the raw hits for random goals,
//! ranges, segments and sections; a goal defined after the data answers
//! for it at once; definitions are kept with the store; the API's shapes.

use chrono::Days;
use hitmap::{Engine, Goal, GoalMatch, Hit, PatternType, Query, SiteConfig};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::props::{
    Case, CaseQuery, SECTIONS, build, case, case_query, first_day, make_hit, reference_visits,
    segment_text, site_config,
};
use crate::reference;

/// Goals over what the generated hits hold (props.rs's URLs, titles,
/// files, outlinks and events), each with its flags varied.
fn goal_pool(i: usize, id: u32, multiple: bool, case_sensitive: bool, revenue: u8) -> Goal {
    use GoalMatch as M;
    use PatternType as P;
    let g = match i % 11 {
        0 => Goal::new(id, "news", M::Url, P::Contains, "/NEWS"),
        1 => Goal::new(id, "about", M::Url, P::Exact, "https://x.org/about"),
        2 => Goal::new(
            id,
            "re",
            M::Url,
            P::Regex,
            r"^https://x\.org/(news/a|teams)",
        ),
        3 => Goal::new(id, "t1", M::Title, P::Exact, "t1"),
        4 => Goal::new(id, "titled", M::Title, P::Contains, "T"),
        5 => Goal::new(id, "pdf", M::File, P::Contains, ".pdf"),
        6 => Goal::new(id, "out", M::ExternalWebsite, P::Regex, r"ext\.com/news/1$"),
        7 => Goal::new(id, "cat", M::EventCategory, P::Exact, "C1").event_value_as_revenue(true),
        8 => Goal::new(id, "name", M::EventName, P::Contains, "n"),
        9 => Goal::new(id, "action", M::EventAction, P::Exact, "a").event_value_as_revenue(true),
        _ => Goal::manual(id, "manual"),
    };
    g.allow_multiple(multiple)
        .case_sensitive(case_sensitive)
        .revenue(f64::from(revenue) / 4.0)
}

fn goals() -> impl Strategy<Value = Vec<Goal>> {
    prop::collection::vec((0..11usize, any::<bool>(), any::<bool>(), 0..9u8), 0..6).prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(k, (i, m, c, r))| goal_pool(i, k as u32 + 1, m, c, r))
            .collect()
    })
}

fn check_goals(case: &Case, goals: &[Goal]) -> Result<(), TestCaseError> {
    let hits: Vec<Hit> = case.specs.iter().map(|s| make_hit(s, case.base)).collect();
    // Defined after the data, as a user adds a goal to a year of hits.
    let mut engine = build(case, &hits, &[]);
    engine.split_queries_eagerly(3);
    for g in goals {
        engine.set_goal(1, g.clone()).unwrap();
    }
    // Defined before the data.
    let mut before = Engine::in_memory();
    let mut config = site_config(case);
    for g in goals {
        config = config.goal(g.clone());
    }
    before.add_site(config).unwrap();
    before.ingest(&hits).unwrap();
    let visits = reference_visits(case, &hits);
    for query in &case.queries {
        let CaseQuery {
            from,
            to,
            seg,
            section,
            q,
            ctx,
        } = case_query(case, query);
        let sel = engine.query(&q).unwrap();
        let got = sel.goals();
        let cuts = reference::cut_visits(&visits, from, to, seg, section);
        let first = &goals[..goals.len().min(1)];
        prop_assert_eq!(
            sel.visits_until_conversion(None),
            reference::visits_until_conversion(&cuts, goals),
            "visits until conversion, {}",
            ctx
        );
        prop_assert_eq!(
            sel.visits_until_conversion(first.first().map(Goal::id)),
            reference::visits_until_conversion(&cuts, first),
            "visits until conversion of the first goal, {}",
            ctx
        );
        prop_assert_eq!(
            sel.days_to_conversion(None).unwrap(),
            reference::days_to_conversion(&cuts, goals),
            "days to conversion, {}",
            ctx
        );
        prop_assert_eq!(
            sel.days_to_conversion(first.first().map(Goal::id)).unwrap(),
            reference::days_to_conversion(&cuts, first),
            "days to conversion of the first goal, {}",
            ctx
        );
        prop_assert_eq!(&got, &reference::goals(&cuts, goals), "goals, {}", ctx);
        prop_assert_eq!(
            &before.query(&q).unwrap().goals(),
            &got,
            "defined before, {}",
            ctx
        );
    }
    // The goal segments select visits whose whole visit converted (any
    // goal; goal N; another goal than N), then the section cuts them.
    let day0 = first_day(case);
    let (from, to) = (day0, day0 + Days::new(9));
    let whole = reference::cut_visits(&visits, from, to, &[], None);
    let first = goals.first().map(Goal::id);
    let mut segments = vec![("visitConverted==1".to_string(), None, false, false)];
    segments.push(("visitConverted==0".to_string(), None, false, true));
    if let Some(id) = first {
        segments.push((
            format!("visitConvertedGoalId=={id}"),
            Some(id),
            false,
            false,
        ));
        segments.push((format!("visitConvertedGoalId!={id}"), Some(id), true, false));
    }
    for (text, goal, other, negate) in segments {
        let picked: Vec<&reference::RVisit> = whole
            .iter()
            .filter(|c| {
                let converted = goals
                    .iter()
                    .filter(|g| goal.is_none_or(|id| (g.id() == id) != other))
                    .any(|g| reference::goal_conversions(c, g).is_some());
                converted != negate
            })
            .map(|c| c.visit)
            .collect();
        for section in SECTIONS {
            let cuts: Vec<_> = reference::cut_visits(&visits, from, to, &[], section)
                .into_iter()
                .filter(|c| picked.iter().any(|v| std::ptr::eq(*v, c.visit)))
                .collect();
            let mut q = Query::site(1).range(from, to).segment(&text).unwrap();
            if let Some(s) = section {
                q = q.section(s);
            }
            let got = engine.query(&q).unwrap().visits_summary();
            prop_assert_eq!(
                got,
                reference::summary(&cuts),
                "{} section {:?}",
                text,
                section
            );
        }
    }
    check_live_counters(case, &engine, &visits, goals)?;
    check_live_goal_rows(case, &engine, &visits, goals)
}

/// Live's visitor log lists each visit's goal conversions (goal, time,
/// revenue) as the goals count them.
fn check_live_goal_rows(
    case: &Case,
    engine: &Engine,
    visits: &[reference::RVisit],
    goals: &[Goal],
) -> Result<(), TestCaseError> {
    type Rows = std::collections::BTreeMap<(String, i64), Vec<(u64, i64, String)>>;
    let day0 = first_day(case);
    let (first, last) = (day0 - Days::new(2), day0 + Days::new(60));
    let mut want: Rows = Rows::new();
    for c in reference::cut_visits(visits, first, last, &[], None) {
        let start = c.visit.hits.iter().map(|h| h.ts).min().unwrap();
        let mut rows: Vec<(u64, i64, String)> = goals
            .iter()
            .flat_map(|g| {
                reference::goal_conversion_list(&c, g)
                    .into_iter()
                    .map(move |(ts, revenue)| (u64::from(g.id()), ts, format!("{revenue}")))
            })
            .collect();
        if !rows.is_empty() {
            rows.sort();
            want.insert((c.visit.visitor.clone(), start), rows);
        }
    }
    let q = format!(
        "method=Live.getLastVisitsDetails&idSite=1&period=range&date={first},{last}&filter_limit=10000&format=json"
    );
    let got: Value = serde_json::from_str(&engine.api(&q).unwrap()).unwrap();
    let mut have: Rows = Rows::new();
    for v in got.as_array().unwrap() {
        let mut rows: Vec<(u64, i64, String)> = v["actionDetails"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["type"] == "goal")
            .map(|x| {
                (
                    x["goalId"].as_u64().unwrap(),
                    x["timestamp"].as_i64().unwrap(),
                    format!("{}", x["revenue"].as_f64().unwrap()),
                )
            })
            .collect();
        if !rows.is_empty() {
            rows.sort();
            let key = (
                v["visitorId"].as_str().unwrap().to_owned(),
                v["firstActionTimestamp"].as_i64().unwrap(),
            );
            have.insert(key, rows);
        }
    }
    prop_assert_eq!(have, want, "Live's goal rows");
    Ok(())
}

/// `Live.getCounters` at moments inside the data: the visits whose last
/// action is within the last minutes, their actions since then, their
/// visitors, and the conversions since then (each goal's as it counts
/// them), with every later hit counting too (Matomo's query has no upper
/// bound).
fn check_live_counters(
    case: &Case,
    engine: &Engine,
    visits: &[reference::RVisit],
    goals: &[Goal],
) -> Result<(), TestCaseError> {
    let day0 = first_day(case);
    let all = reference::cut_visits(visits, day0 - Days::new(2), day0 + Days::new(60), &[], None);
    let mut times: Vec<i64> = visits
        .iter()
        .flat_map(|v| v.hits.iter().map(|h| h.ts))
        .collect();
    times.sort_unstable();
    let moments = [
        0,
        times.len() / 3,
        times.len() / 2,
        times.len().saturating_sub(1),
    ];
    for at in moments.iter().filter_map(|&i| times.get(i)) {
        let now = chrono::DateTime::from_timestamp(at + 30, 0).unwrap();
        for minutes in [1i64, 45, 600, 2880] {
            let since = now.timestamp() - minutes * 60;
            let (mut n, mut actions, mut conversions) = (0u64, 0u64, 0u64);
            let mut visitors = std::collections::BTreeSet::new();
            for c in &all {
                let last = c.visit.hits.iter().map(|h| h.ts).max().unwrap();
                if last < since {
                    continue;
                }
                n += 1;
                visitors.insert(&c.visit.visitor);
                actions += c.visit.hits.iter().filter(|h| h.ts >= since).count() as u64;
                conversions += goals
                    .iter()
                    .flat_map(|g| reference::goal_conversion_list(c, g))
                    .filter(|(ts, _)| *ts >= since)
                    .count() as u64;
            }
            let q = format!("method=Live.getCounters&idSite=1&lastMinutes={minutes}&format=json");
            let got: Value = serde_json::from_str(&engine.api_at(&q, now).unwrap()).unwrap();
            prop_assert_eq!(
                got,
                json!([{"visits": n, "actions": actions, "visitors": visitors.len(),
                        "visitsConverted": conversions}]),
                "Live.getCounters, {} minutes before {}",
                minutes,
                now
            );
        }
    }
    Ok(())
}

/// Goals answered by a reader of the store (its days read a window at a
/// time with only the columns the goals use) equal the in-memory
/// engine's, which holds whole days.
fn check_projected(case: &Case, goals: &[Goal]) -> Result<(), TestCaseError> {
    let hits: Vec<Hit> = case.specs.iter().map(|s| make_hit(s, case.base)).collect();
    let mut whole = build(case, &hits, &[]);
    let mut config = site_config(case);
    for g in goals {
        whole.set_goal(1, g.clone()).unwrap();
        config = config.goal(g.clone());
    }
    let dir = crate::store::TempDir::new("goals-projected");
    let mut w = Engine::open(&dir.0).unwrap();
    w.set_live_limit(0);
    w.add_site(config).unwrap();
    w.ingest(&hits).unwrap();
    drop(w);
    let r = Engine::open_reader(dir.0.to_str().unwrap(), hitmap::ReaderOptions::default()).unwrap();
    let day0 = first_day(case);
    // Rows of whole months and years (from the store's report rollups)
    // take the goal columns of their days.
    for (method, _) in GOAL_REPORTS {
        for period in ["month", "year"] {
            let q = format!(
                "method={method}&idSite=1&period={period}&date={day0}&format=json&filter_limit=-1\
                 &filter_update_columns_when_show_all_goals=1&idGoal=0"
            );
            match (r.api(&q), whole.api(&q)) {
                (Ok(a), Ok(b)) => prop_assert_eq!(a, b, "{}", q),
                (Err(a), Err(b)) => prop_assert_eq!(a.to_string(), b.to_string(), "{}", q),
                (a, b) => prop_assert!(false, "{}: {:?} vs {:?}", q, a, b),
            }
        }
    }
    for (start, len, seg, section) in &case.queries {
        let from = day0 + Days::new(*start);
        let to = from + Days::new(*len);
        let mut q = format!("idSite=1&period=range&date={from},{to}&format=json&format_metrics=0");
        if let Some(text) = segment_text(seg) {
            q.push_str(&format!("&segment={}", hitmap::encode_query_value(&text)));
        }
        if let Some(s) = SECTIONS[*section] {
            q.push_str(&format!("&section={s}"));
        }
        let ids = goals.iter().map(|g| format!("&idGoal={}", g.id()));
        for extra in std::iter::once(String::new()).chain(ids) {
            let goals_q = format!("method=Goals.get&{q}{extra}");
            prop_assert_eq!(api(&r, &goals_q), api(&whole, &goals_q), "{}", goals_q);
        }
        let summary_q = format!("method=VisitsSummary.get&{q}");
        prop_assert_eq!(
            api(&r, &summary_q),
            api(&whole, &summary_q),
            "{}",
            summary_q
        );
        // The goal segments read only the columns the goals use.
        let mut segments = vec!["visitConverted==1".to_string()];
        segments.extend(
            goals
                .first()
                .map(|g| format!("visitConvertedGoalId=={}", g.id())),
        );
        for text in segments {
            let mut q = format!(
                "method=VisitsSummary.get&idSite=1&period=range&date={from},{to}&format=json&segment={}",
                hitmap::encode_query_value(&text)
            );
            if let Some(s) = SECTIONS[*section] {
                q.push_str(&format!("&section={s}"));
            }
            // A new reader: its cache holds no day read wider before.
            let fresh =
                Engine::open_reader(dir.0.to_str().unwrap(), hitmap::ReaderOptions::default())
                    .unwrap();
            prop_assert_eq!(api(&fresh, &q), api(&whole, &q), "{}", q);
        }
    }
    Ok(())
}

/// The visit reports Matomo gives goal columns, with whether rows take
/// each goal's numbers (`goals`, `nb_conversions`, `revenue`) or only
/// `nb_visits_converted`.
const GOAL_REPORTS: [(&str, bool); 9] = [
    ("Referrers.getReferrerType", true),
    ("Referrers.getAll", true),
    ("Referrers.getWebsites", true),
    ("DevicesDetection.getType", true),
    ("UserCountry.getCountry", true),
    ("VisitTime.getVisitInformationPerServerTime", true),
    (
        "CustomDimensions.getCustomDimension&dimension=department",
        true,
    ),
    ("DevicesDetection.getOsFamilies", false),
    ("VisitTime.getByDayOfWeek", false),
];

/// Each row of a visit report (and of its subtables) shows the goal
/// numbers `Goals.get` gives under the row's own segment, and the rows
/// of a report that splits every visit once add up to `Goals.get`.
fn check_rows(case: &Case, goals: &[Goal]) -> Result<(), TestCaseError> {
    let hits: Vec<Hit> = case.specs.iter().map(|s| make_hit(s, case.base)).collect();
    let mut e = build(case, &hits, &[]);
    for g in goals {
        e.set_goal(1, g.clone()).unwrap();
    }
    let day0 = first_day(case);
    for (start, len, seg, section) in &case.queries {
        let from = day0 + Days::new(*start);
        let to = from + Days::new(*len);
        let mut q = format!(
            "idSite=1&period=range&date={from},{to}&format=json&format_metrics=0&filter_limit=-1"
        );
        if let Some(s) = SECTIONS[*section] {
            q.push_str(&format!("&section={s}"));
        }
        let own = segment_text(seg);
        let with = |row_segment: &str| match &own {
            Some(o) => format!("{o};{row_segment}"),
            None => row_segment.to_owned(),
        };
        let seg_param = |text: &str| format!("&segment={}", hitmap::encode_query_value(text));
        let all_q = format!(
            "method=Goals.get&{q}{}",
            own.as_deref().map(seg_param).unwrap_or_default()
        );
        let all = api(&e, &all_q);
        for (method, full) in GOAL_REPORTS {
            let report_q = format!(
                "method={method}&{q}{}",
                own.as_deref().map(seg_param).unwrap_or_default()
            );
            let rows = api(&e, &report_q);
            let rows = rows.as_array().unwrap();
            // Each row with its parent's segment (a website under its
            // referrer type is named by its own).
            let mut rows_and_subrows: Vec<(&Value, Option<&str>)> =
                rows.iter().map(|r| (r, None)).collect();
            for r in rows {
                if let Some(sub) = r["subtable"].as_array() {
                    rows_and_subrows.extend(sub.iter().map(|c| (c, r["segment"].as_str())));
                }
            }
            for (row, parent) in rows_and_subrows {
                let visits = row["nb_visits"].as_u64().unwrap_or(0);
                let converted = row["nb_visits_converted"].as_u64();
                if goals.is_empty() {
                    // A site without goals: Matomo's rows convert no visit
                    // (its placeholder rows carry no such column).
                    prop_assert!(converted.unwrap_or(0) == 0, "{} {}", report_q, row);
                    continue;
                }
                // Matomo's placeholder rows (a weekday, a device type
                // without visits) have their visits only.
                let bare_weekday = visits == 0 && row.get("nb_uniq_visitors").is_none();
                prop_assert!(
                    converted.is_some() != bare_weekday,
                    "{} row without nb_visits_converted: {}",
                    report_q,
                    row
                );
                if bare_weekday {
                    prop_assert!(row.as_object().unwrap().len() <= 4, "{}", row);
                    continue;
                }
                let Some(row_segment) = row["segment"].as_str() else {
                    continue;
                };
                if visits == 0 {
                    prop_assert_eq!(converted, Some(0));
                    continue;
                }
                // A website row's segment names the referrer, which a
                // visit of another type may share.
                // A website row (getAll's referer_type 3) is named by its
                // own segment too.
                let website = row["referer_type"] == json!(3);
                let row_segment = match parent {
                    _ if method == "Referrers.getWebsites" || website => {
                        format!("referrerType==website;{row_segment}")
                    }
                    Some(p) if !row_segment.starts_with(p) => format!("{p};{row_segment}"),
                    _ => row_segment.to_owned(),
                };
                let under = format!("method=Goals.get&{q}{}", seg_param(&with(&row_segment)));
                let expected = api(&e, &under);
                // The row's segment selects the row's visits.
                let summary = api(
                    &e,
                    &under.replace("method=Goals.get", "method=VisitsSummary.get"),
                );
                prop_assert_eq!(
                    &summary["nb_visits"],
                    &row["nb_visits"],
                    "{} {}",
                    under,
                    row
                );
                prop_assert_eq!(
                    &row["nb_visits_converted"],
                    &expected["nb_visits_converted"],
                    "{} {}",
                    report_q,
                    row
                );
                if !full {
                    prop_assert!(row.get("goals").is_none());
                    continue;
                }
                let conversions = expected["nb_conversions"].as_u64().unwrap();
                if conversions == 0 {
                    prop_assert!(row.get("goals").is_none(), "{} {}", report_q, row);
                    continue;
                }
                prop_assert_eq!(
                    &row["nb_conversions"],
                    &expected["nb_conversions"],
                    "{} {}",
                    report_q,
                    row
                );
                prop_assert_eq!(
                    &row["revenue"],
                    &expected["revenue"],
                    "{} {}",
                    report_q,
                    row
                );
                for g in goals {
                    let one = api(&e, &format!("{under}&idGoal={}", g.id()));
                    let cell = &row["goals"][format!("idgoal={}", g.id())];
                    if one["nb_conversions"] == json!(0) {
                        prop_assert!(cell.is_null(), "{} {}", report_q, row);
                    } else {
                        prop_assert_eq!(&cell["nb_conversions"], &one["nb_conversions"]);
                        prop_assert_eq!(&cell["nb_visits_converted"], &one["nb_visits_converted"]);
                        prop_assert_eq!(&cell["revenue"], &one["revenue"]);
                    }
                }
            }
            // Reports with a row for every visit (no subtables) add up.
            let partition =
                method.starts_with("DevicesDetection.getType") || method.starts_with("UserCountry");
            if !goals.is_empty() && partition {
                let sum: u64 = rows
                    .iter()
                    .map(|r| r["nb_visits_converted"].as_u64().unwrap_or(0))
                    .sum();
                prop_assert_eq!(
                    json!(sum),
                    all["nb_visits_converted"].clone(),
                    "{}",
                    report_q
                );
            }
        }
    }
    Ok(())
}

/// Page rows' goal cells (`goals` of Actions.getPageUrls and
/// getPageTitles, flat) equal the reference's, written from Matomo's SQL,
/// for each query's range, segment and section.
fn check_page_goals(case: &Case, goals: &[Goal]) -> Result<(), TestCaseError> {
    let hits: Vec<Hit> = case.specs.iter().map(|s| make_hit(s, case.base)).collect();
    let mut e = build(case, &hits, &[]);
    for g in goals {
        e.set_goal(1, g.clone()).unwrap();
    }
    let visits = reference_visits(case, &hits);
    for query in &case.queries {
        let CaseQuery {
            from,
            to,
            seg,
            section,
            ctx,
            ..
        } = case_query(case, query);
        let mut q =
            format!("idSite=1&period=range&date={from},{to}&format=json&flat=1&filter_limit=-1");
        if let Some(s) = section {
            q.push_str(&format!("&section={s}"));
        }
        if let Some(text) = segment_text(seg) {
            q.push_str(&format!("&segment={}", hitmap::encode_query_value(&text)));
        }
        let cuts = reference::cut_visits(&visits, from, to, seg, section);
        for (method, titles) in [
            ("Actions.getPageUrls", false),
            ("Actions.getPageTitles", true),
        ] {
            let want = reference::page_goals(&cuts, goals, titles);
            let rows = api(&e, &format!("method={method}&{q}"));
            let mut got = std::collections::BTreeMap::new();
            for row in rows.as_array().unwrap() {
                let label = row["label"].as_str().unwrap().to_owned();
                for (name, cell) in row["goals"].as_object().into_iter().flatten() {
                    let id: u32 = name.trim_start_matches("idgoal=").parse().unwrap();
                    got.insert((label.clone(), id), (cell.clone(), row.clone()));
                }
            }
            let keys = |m: &std::collections::BTreeMap<(String, u32), _>| -> Vec<(String, u32)> {
                m.keys().cloned().collect()
            };
            let want_keys: Vec<(String, u32)> = want
                .iter()
                .filter(|(_, c)| c.conversions > 0 || c.entry_conversions > 0)
                .map(|(k, _)| k.clone())
                .collect();
            prop_assert_eq!(keys(&got), want_keys, "{} {} {}", method, ctx, rows);
            let num = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
            let close = |a: f64, b: f64| (a - b).abs() < 1e-6;
            for (key, (cell, row)) in &got {
                let w = &want[key];
                let why = format!("{method} {ctx} {key:?}: {cell} vs {w:?}");
                if w.conversions > 0 {
                    prop_assert_eq!(&cell["nb_conversions"], &json!(w.conversions), "{}", why);
                    prop_assert_eq!(
                        &cell["nb_conversions_page_uniq"],
                        &json!(w.conversions),
                        "{}",
                        why
                    );
                    prop_assert!(close(num(&cell["revenue"]), w.revenue), "{}", why);
                    prop_assert_eq!(
                        &cell["nb_conv_pages_before"],
                        &json!(w.pages_before),
                        "{}",
                        why
                    );
                    prop_assert!(
                        close(
                            num(&cell["nb_conversions_attrib"]),
                            w.attrib as f64 / 10_000.0
                        ),
                        "{}",
                        why
                    );
                    prop_assert!(
                        close(num(&cell["revenue_attrib"]), w.revenue_attrib),
                        "{}",
                        why
                    );
                } else {
                    prop_assert!(cell.get("nb_conversions").is_none(), "{}", why);
                }
                if w.entry_conversions > 0 {
                    prop_assert_eq!(
                        &cell["nb_conversions_entry"],
                        &json!(w.entry_conversions),
                        "{}",
                        why
                    );
                    prop_assert!(
                        close(num(&cell["revenue_entry"]), w.entry_revenue),
                        "{}",
                        why
                    );
                    let entries = num(&row["entry_nb_visits"]);
                    prop_assert!(
                        close(
                            num(&cell["nb_conversions_entry_rate"]),
                            ((w.entry_conversions as f64 / entries) * 1000.0).round() / 1000.0
                        ),
                        "{}",
                        why
                    );
                } else {
                    prop_assert!(cell.get("nb_conversions_entry").is_none(), "{}", why);
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 150, ..ProptestConfig::default() })]

    #[test]
    fn page_goal_cells_equal_the_reference(case in case(), goals in goals()) {
        check_page_goals(&case, &goals)?;
    }

    #[test]
    fn goals_equal_the_reference(case in case(), goals in goals()) {
        check_goals(&case, &goals)?;
    }

    #[test]
    fn goals_from_stored_days_equal_whole_days(case in case(), goals in goals()) {
        check_projected(&case, &goals)?;
    }

    #[test]
    fn report_rows_show_the_goals_of_their_segment(case in case(), goals in goals()) {
        check_rows(&case, &goals)?;
    }
}

fn hit(visitor: &str, ts: i64, url: &str) -> Hit {
    Hit::pageview(1, ts, visitor, url)
}

/// 2024-06-01 00:00 UTC.
const T: i64 = 1_717_200_000;

fn api(e: &Engine, q: &str) -> Value {
    serde_json::from_str(&e.api(q).unwrap()).unwrap()
}

#[test]
fn goals_are_kept_with_the_store_and_change_past_answers_at_once() {
    let dir = crate::store::TempDir::new("goals");
    let mut w = Engine::open(&dir.0).unwrap();
    w.add_site(SiteConfig::new(1).host("x.org")).unwrap();
    w.ingest([
        hit("a", T, "https://x.org/shop"),
        hit("a", T + 60, "https://x.org/thanks"),
        hit("a", T + 120, "https://x.org/thanks?again"),
        hit("b", T, "https://x.org/"),
        hit("c", T + 86_400 * 40, "https://x.org/thanks"),
        // A second month: goals are read a window of days at a time, and
        // `a` converts in both.
        hit("a", T + 86_400 * 40, "https://x.org/thanks"),
    ])
    .unwrap();
    w.seal().unwrap();
    let q = "method=Goals.get&idSite=1&period=year&date=2024-01-01&format=json";
    let g = Goal::new(
        1,
        "Thanks",
        GoalMatch::Url,
        PatternType::Contains,
        "/thanks",
    )
    .revenue(12.5);
    w.set_goal(1, g).unwrap();
    let v = api(&w, q);
    // A new reader reads the days with only the columns this goal uses
    // (it panicked when a once-a-visit goal left out the times).
    let r = Engine::open_reader(dir.0.to_str().unwrap(), hitmap::ReaderOptions::default()).unwrap();
    assert_eq!(api(&r, q), v);
    assert_eq!(
        (
            &v["nb_conversions"],
            &v["nb_visits_converted"],
            &v["revenue"],
            &v["conversion_rate"]
        ),
        (&json!(3), &json!(3), &json!(37.5), &json!("75%"))
    );
    assert_eq!(v["nb_uniq_visitors_converted"], json!(2));
    // Re-adding the site without goals keeps them; a new process sees them.
    w.add_site(SiteConfig::new(1).host("x.org")).unwrap();
    drop(w);
    let mut w = Engine::open(&dir.0).unwrap();
    assert_eq!(w.site(1).unwrap().goals().len(), 1);
    // Editing the goal changes the past: every second of the visit counts.
    let g = Goal::new(
        1,
        "Thanks",
        GoalMatch::Url,
        PatternType::Contains,
        "/thanks",
    )
    .allow_multiple(true);
    w.set_goal(1, g).unwrap();
    let v = api(&w, q);
    assert_eq!(
        (&v["nb_conversions"], &v["revenue"]),
        (&json!(4), &json!(0))
    );
    let r = Engine::open_reader(dir.0.to_str().unwrap(), hitmap::ReaderOptions::default()).unwrap();
    assert_eq!(api(&r, q)["nb_conversions"], json!(4));
    // VisitsSummary carries the converted visits, after nb_actions.
    let s = api(
        &r,
        "method=VisitsSummary.get&idSite=1&period=year&date=2024-01-01&format=json",
    );
    let keys: Vec<&str> = s.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        &keys[..6],
        [
            "nb_uniq_visitors",
            "nb_users",
            "nb_visits",
            "nb_actions",
            "nb_visits_converted",
            "bounce_count"
        ]
    );
    assert_eq!(s["nb_visits_converted"], json!(3));
    assert!(w.remove_goal(1, 1).unwrap());
    assert!(!w.remove_goal(1, 1).unwrap());
    let s = api(
        &w,
        "method=VisitsSummary.get&idSite=1&period=year&date=2024-01-01&format=json",
    );
    // Matomo's column stays, with no goal to convert.
    assert_eq!(s["nb_visits_converted"], json!(0));
}

#[test]
fn goal_segments_say_what_is_wrong() {
    let mut e = Engine::in_memory();
    e.add_site(SiteConfig::new(1).goal(Goal::manual(2, "Call")))
        .unwrap();
    let err = |segment: &str| -> String {
        match Query::site(1).segment(segment) {
            Err(e) => e.to_string(),
            Ok(q) => match e.query(&q) {
                Err(e) => e.to_string(),
                Ok(_) => panic!("{segment} was accepted"),
            },
        }
    };
    for (segment, says) in [
        ("visitConvertedGoalId==x", "takes == or != with a goal id"),
        ("visitConverted==2", "with 0 or 1"),
        ("visitConverted=@1", "with 0 or 1"),
    ] {
        let got = err(segment);
        assert!(got.contains(says), "{segment}: {got}");
    }
    // A goal the site does not define converted no visit (Matomo's
    // answer, not an error): `==` selects none, `!=` the converted ones.
    e.ingest([
        Hit::pageview(1, 1_717_200_000, "a", "https://x.org/"),
        Hit::new(1, 1_717_200_010, "a", hitmap::HitType::Goal)
            .with_conversion(hitmap::Conversion::goal(2)),
        Hit::pageview(1, 1_717_200_000, "b", "https://x.org/"),
    ])
    .unwrap();
    for (segment, visits) in [
        ("visitConvertedGoalId==9", 0),
        ("visitConvertedGoalId!=9", 1),
        ("visitConvertedGoalId==2", 1),
    ] {
        let q = Query::site(1).day("2024-06-01").segment(segment).unwrap();
        assert_eq!(e.visits_summary(&q).unwrap().nb_visits, visits, "{segment}");
    }
}

#[test]
fn goals_api_speaks_matomos_shapes_and_says_what_is_wrong() {
    let mut e = Engine::in_memory();
    let site = SiteConfig::new(1)
        .goal(Goal::new(1, "A", GoalMatch::Url, PatternType::Contains, "/a").revenue(1.25))
        .goal(Goal::manual(2, "Call").description("phoned"));
    e.add_site(site).unwrap();
    e.ingest([
        hit("n", T, "https://x.org/a"),
        hit("m", T, "https://x.org/b"),
    ])
    .unwrap();
    let day = "idSite=1&period=day&date=2024-06-01&format=json";
    let v = api(&e, &format!("method=Goals.get&{day}&idGoal=1"));
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "nb_conversions",
            "nb_visits_converted",
            "revenue",
            "conversion_rate",
            "nb_conversions_new_visit",
            "nb_visits_converted_new_visit",
            "revenue_new_visit",
            "conversion_rate_new_visit",
            "nb_conversions_returning_visit",
            "nb_visits_converted_returning_visit",
            "revenue_returning_visit",
            "conversion_rate_returning_visit",
            "nb_uniq_visitors_converted",
        ]
    );
    assert_eq!(
        (
            &v["revenue"],
            &v["conversion_rate"],
            &v["conversion_rate_returning_visit"]
        ),
        (&json!(1.25), &json!("50%"), &json!("0%"))
    );
    let raw = api(&e, &format!("method=Goals.get&{day}&format_metrics=0"));
    assert_eq!(raw["conversion_rate"], json!(0.5));
    let until = api(
        &e,
        "method=Goals.getVisitsUntilConversion&idSite=1&period=day&date=2024-06-01&format=json&idGoal=1",
    );
    assert_eq!(until[0], json!({"label": "1 visit", "nb_conversions": 1}));
    assert_eq!(until[12]["label"], json!("101+ visits"));
    let defs = api(&e, "method=Goals.getGoals&idSite=1&format=json");
    assert_eq!(defs["1"]["pattern_type"], json!("contains"));
    assert_eq!(defs["1"]["revenue"], json!(1.25));
    assert_eq!(defs["2"]["match_attribute"], json!("manually"));
    assert!(defs["2"].get("pattern").is_none());
    assert_eq!(defs["2"]["description"], json!("phoned"));
    let one = api(&e, "method=Goals.getGoal&idSite=1&idGoal=2&format=json");
    assert_eq!(one, defs["2"]);
    let err = e
        .api("method=Goals.getGoal&idSite=1")
        .unwrap_err()
        .to_string();
    assert!(err.contains("needs idGoal"), "{err}");
    // A goal the site does not have: Matomo's "success", in every format.
    for id in ["9", "ecommerceAbandonedCart"] {
        let q = format!("method=Goals.getGoal&idSite=1&idGoal={id}");
        assert_eq!(
            e.api(&format!("{q}&format=json")).unwrap(),
            r#"{"result":"success","message":"ok"}"#
        );
        assert!(
            e.api(&format!("{q}&format=xml"))
                .unwrap()
                .ends_with("<result>\n\t<success message=\"ok\" />\n</result>")
        );
    }
    for (param, says) in [
        ("idGoal=9", "has no goal 9"),
        ("idGoal=x", "must be a goal id"),
        ("idGoal=ecommerceOrder", "not an ecommerce site"),
    ] {
        let err = e
            .api(&format!("method=Goals.get&{day}&{param}"))
            .unwrap_err()
            .to_string();
        assert!(err.contains(says), "{param}: {err}");
    }
    let err = e
        .api(&format!("method=VisitsSummary.get&{day}&idGoal=1"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not apply"), "{err}");
    assert!(hitmap::supported_methods().contains(&"Goals.get"));
}

/// Matomo's goal columns on a visit report, as its system tests show them
/// (`OneVisitorTwoVisits`, `TrackGoalsOneConversionPerVisit`): three
/// Firefox visits, two converting goal 1 (500 each), one goal 2.
#[test]
fn visit_reports_carry_matomos_goal_columns() {
    let mut e = Engine::in_memory();
    let site = SiteConfig::new(1)
        .host("x.org")
        .goal(Goal::new(1, "Buy", GoalMatch::Url, PatternType::Contains, "/buy").revenue(500.0))
        .goal(Goal::new(
            2,
            "Read",
            GoalMatch::Title,
            PatternType::Exact,
            "Docs",
        ));
    e.add_site(site).unwrap();
    let ff = |h: Hit| h.with_browser("Firefox").with_device("desktop");
    e.ingest([
        ff(hit("a", T, "https://x.org/buy").with_referrer("https://www.google.com/search?q=shop")),
        ff(hit("b", T + 3_600, "https://x.org/buy")),
        ff(hit("c", T + 7_200, "https://x.org/docs").with_title("Docs")),
        ff(hit("c", T + 7_300, "https://x.org/other")),
    ])
    .unwrap();
    let day = "idSite=1&period=day&date=2024-06-01&format=json";
    let v = api(&e, &format!("method=DevicesDetection.getBrowsers&{day}"));
    let row = &v[0];
    let keys: Vec<&str> = row
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let at = |k: &str| keys.iter().position(|x| *x == k).unwrap();
    // After the visit metrics, before the row's segment and ratios.
    assert!(at("bounce_count") < at("nb_visits_converted"));
    assert!(at("nb_visits_converted") < at("goals") && at("goals") < at("nb_conversions"));
    assert!(at("revenue") < at("segment"), "{keys:?}");
    assert_eq!(
        (
            &row["nb_visits_converted"],
            &row["nb_conversions"],
            &row["revenue"]
        ),
        (&json!(3), &json!(3), &json!(1000))
    );
    assert_eq!(
        row["goals"],
        json!({
            "idgoal=1": {"nb_conversions": 2, "nb_visits_converted": 2, "revenue": 1000},
            "idgoal=2": {"nb_conversions": 1, "nb_visits_converted": 1, "revenue": 0},
        })
    );
    // Only nb_visits_converted where Matomo keeps no goal numbers.
    let os = api(&e, &format!("method=DevicesDetection.getOsFamilies&{day}"));
    assert_eq!(os[0]["nb_visits_converted"], json!(3));
    assert!(os[0].get("goals").is_none());
    // A referrer type's subtable rows carry theirs.
    let types = api(
        &e,
        &format!("method=Referrers.getReferrerType&{day}&expanded=1"),
    );
    let search = types
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["label"] == "Search Engines")
        .unwrap();
    assert_eq!(
        search["subtable"][0]["goals"]["idgoal=1"]["revenue"],
        json!(500)
    );
    // XML as Matomo writes it.
    let xml = e
        .api("method=DevicesDetection.getBrowsers&idSite=1&period=day&date=2024-06-01&format=xml")
        .unwrap();
    assert!(
        xml.contains("<goals>\n\t\t\t<row idgoal='1'>\n\t\t\t\t<nb_conversions>2</nb_conversions>"),
        "{xml}"
    );
    // The processed goal metrics of one goal (Matomo's Goals view).
    let one = api(
        &e,
        &format!(
            "method=DevicesDetection.getBrowsers&{day}&filter_update_columns_when_show_all_goals=1&idGoal=1"
        ),
    );
    assert_eq!(
        (
            &one[0]["conversion_rate"],
            &one[0]["goal_1_conversion_rate"],
            &one[0]["goal_1_nb_conversions"],
            &one[0]["goal_1_revenue_per_visit"],
            &one[0]["goal_1_revenue"],
        ),
        (
            &json!("100%"),
            &json!("66.67%"),
            &json!(2),
            &json!(333.33),
            &json!(1000)
        )
    );
    assert!(one[0].get("goal_2_conversion_rate").is_none());
    // The overview: every goal's conversion rate, nothing else.
    let overview = api(
        &e,
        &format!(
            "method=DevicesDetection.getBrowsers&{day}&filter_update_columns_when_show_all_goals=1"
        ),
    );
    assert_eq!(overview[0]["goal_2_conversion_rate"], json!("33.33%"));
    assert!(overview[0].get("goal_2_nb_conversions").is_none());
    // Sorting by a goal column works like any other.
    let sorted = api(
        &e,
        &format!(
            "method=Referrers.getReferrerType&{day}&filter_update_columns_when_show_all_goals=1&idGoal=0&filter_sort_column=goal_1_revenue&filter_sort_order=desc"
        ),
    );
    assert_eq!(sorted[0]["goal_1_revenue"], json!(500));
    // What cannot be honoured says so.
    for (q, says) in [
        ("method=DevicesDetection.getBrowsers&idGoal=1", "idGoal"),
        (
            "method=VisitorInterest.getNumberOfVisitsPerPage&filter_update_columns_when_show_all_goals=1",
            "filter_update_columns_when_show_all_goals",
        ),
        (
            "method=DevicesDetection.getBrowsers&filter_update_columns_when_show_all_goals=1&idGoal=9",
            "no goal 9",
        ),
    ] {
        let err = e.api(&format!("{q}&{day}")).unwrap_err().to_string();
        assert!(err.contains(says), "{q}: {err}");
    }
}

/// `Goals.getMetrics` is `Goals.get`'s columns for all visits, as
/// Matomo's.
#[test]
fn goal_metrics_are_goals_get_for_all_visits() {
    let mut e = Engine::in_memory();
    e.add_site(
        SiteConfig::new(1).goal(
            Goal::new(
                1,
                "Thanks",
                GoalMatch::Url,
                PatternType::Contains,
                "/thanks",
            )
            .revenue(5.0),
        ),
    )
    .unwrap();
    e.ingest([
        hit("a", T, "https://x.org/shop"),
        hit("a", T + 60, "https://x.org/thanks"),
        hit("b", T, "https://x.org/"),
    ])
    .unwrap();
    for extra in ["", "&idGoal=1"] {
        let q =
            |m: &str| format!("method={m}&idSite=1&period=day&date=2024-06-01&format=json{extra}");
        let all = api(&e, &q("Goals.get"));
        let metrics = api(&e, &q("Goals.getMetrics"));
        let keys: Vec<&str> = metrics
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "nb_conversions",
                "nb_visits_converted",
                "revenue",
                "conversion_rate"
            ]
        );
        for k in keys {
            assert_eq!(metrics[k], all[k], "{k}");
        }
        assert_eq!(metrics["conversion_rate"], "50%");
        // Matomo's single-metric getters: the column alone.
        for (getter, column) in [
            ("Goals.getConversions", "nb_conversions"),
            ("Goals.getNbVisitsConverted", "nb_visits_converted"),
            ("Goals.getRevenue", "revenue"),
        ] {
            // Matomo's JSON gives a number as `{"value": n}`.
            assert_eq!(api(&e, &q(getter))["value"], all[column], "{getter}{extra}");
        }
        // Goals.getConversionRate: the three conversion rates of Goals.get.
        let rates = api(&e, &q("Goals.getConversionRate"));
        let rate_keys = [
            "conversion_rate",
            "conversion_rate_new_visit",
            "conversion_rate_returning_visit",
        ];
        assert_eq!(rates.as_object().unwrap().len(), 3, "{rates}");
        for k in rate_keys {
            assert_eq!(rates[k], all[k], "{k}{extra}");
        }
    }
    assert_eq!(
        api(
            &e,
            "method=Goals.getRevenue&idSite=1&period=day&date=2024-06-01&format=json"
        )["value"],
        5
    );
}

/// Three months of visits (2024-01 .. 2024-03) and a day of April, so
/// that the three months are complete: visitors come back, some convert.
fn quarter_hits() -> Vec<Hit> {
    // 2024-01-01 00:00 UTC.
    let jan = 1_704_067_200;
    let mut out = Vec::new();
    for day in 0..92i64 {
        for v in 0..12i64 {
            if (day + v) % 3 == 0 {
                continue;
            }
            let visitor = format!("v{}", (v * 7 + day / 10) % 40);
            let ts = jan + day * 86_400 + v * 3_000;
            let mut first = hit(&visitor, ts, "https://x.org/");
            first.device = Some(["desktop", "smartphone", "tablet"][(v % 3) as usize].into());
            first.country = Some(["fr", "de", "gb", "us"][((v + day) % 4) as usize].into());
            first.referrer = match (v + day) % 5 {
                0 => Some("https://www.google.com/search?q=shop".into()),
                1 => Some(format!("https://blog{}.example/post", v % 3)),
                _ => None,
            };
            if v % 2 == 0 {
                first = first.with_dim("plan", ["free", "pro"][(day % 2) as usize]);
            }
            out.push(first);
            let path = ["/shop", "/thanks", "/jobs/apply", "/about"][((day + v) % 4) as usize];
            out.push(hit(&visitor, ts + 40, &format!("https://x.org{path}")));
        }
    }
    out
}

fn quarter_goals() -> [Goal; 2] {
    [
        Goal::new(
            1,
            "Thanks",
            GoalMatch::Url,
            PatternType::Contains,
            "/thanks",
        )
        .revenue(5.0),
        Goal::new(2, "Jobs", GoalMatch::Url, PatternType::Contains, "/jobs/").allow_multiple(true),
    ]
}

/// Goal questions over whole months and years (and the days between),
/// as the reader answers and as the in-memory engine does.
fn goal_questions() -> Vec<String> {
    let mut out = Vec::new();
    for (period, date) in [
        ("month", "2024-02-01"),
        ("range", "2024-01-01,2024-03-31"),
        ("range", "2024-01-15,2024-04-01"),
        ("year", "2024-01-01"),
    ] {
        for method in [
            "Goals.get",
            "Goals.get&idGoal=2",
            "Goals.getVisitsUntilConversion",
            "Goals.getVisitsUntilConversion&idGoal=2",
            "VisitsSummary.get",
            "VisitFrequency.get",
            "API.get",
            // Visit reports with Matomo's goal columns.
            "DevicesDetection.getType",
            "UserCountry.getCountry",
            "UserCountry.getContinent",
            "Referrers.getReferrerType",
            "Referrers.getAll",
            "Referrers.getWebsites&expanded=1",
            "Referrers.getKeywords",
            "VisitTime.getVisitInformationPerServerTime",
            "VisitTime.getByDayOfWeek",
            "DevicesDetection.getOsFamilies",
            "CustomDimensions.getCustomDimension&dimension=plan",
            // A dimension first seen in April: the quarter has no value.
            "CustomDimensions.getCustomDimension&dimension=later",
        ] {
            out.push(format!(
                "method={method}&idSite=1&period={period}&date={date}&format=json&filter_limit=-1"
            ));
            if !method.starts_with("Goals.")
                && !method.contains(".get&")
                && !method.ends_with(".get")
            {
                out.push(format!(
                    "method={method}&idSite=1&period={period}&date={date}&format=json\
                     &filter_limit=-1&filter_update_columns_when_show_all_goals=1&idGoal=0"
                ));
            }
        }
    }
    out
}

/// The files a question reads.
fn files_read(e: &Engine, q: &str) -> u64 {
    let before = e.read_stats().requests;
    api(e, q);
    e.read_stats().requests - before
}

fn rollup_files(dir: &std::path::Path, ext: &str) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir.join("site-1").join("rollups"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(ext))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

#[test]
fn goal_rollups_answer_whole_months_exactly_and_follow_every_change() {
    let dir = crate::store::TempDir::new("goal-rollups");
    let mut hits = quarter_hits();
    // A day of April: the first quarter's months are complete.
    hits.push(hit("v1", 1_711_929_600 + 3_600, "https://x.org/").with_dim("later", "x"));
    // A visitor first seen (and converting) in March.
    hits.push(hit("m", 1_710_028_800, "https://x.org/thanks"));
    let mut config = SiteConfig::new(1).host("x.org");
    for g in quarter_goals() {
        config = config.goal(g);
    }
    let mut w = Engine::open(&dir.0).unwrap();
    w.add_site(config.clone()).unwrap();
    w.ingest(&hits).unwrap();
    w.seal().unwrap();
    drop(w);
    // A goal rollup for each complete month; the year is not complete.
    assert_eq!(
        rollup_files(&dir.0, ".gol")
            .iter()
            .map(|n| &n[..7])
            .collect::<Vec<_>>(),
        ["2024-01", "2024-02", "2024-03"]
    );
    let mut whole = Engine::in_memory();
    whole.add_site(config).unwrap();
    whole.ingest(&hits).unwrap();
    let open =
        || Engine::open_reader(dir.0.to_str().unwrap(), hitmap::ReaderOptions::default()).unwrap();
    let check = |whole: &Engine| {
        for q in goal_questions() {
            let r = open();
            match (r.api(&q), whole.api(&q)) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{q}"),
                (a, b) => panic!("{q}: {a:?} vs {b:?}"),
            }
        }
    };
    check(&whole);
    // A quarter's goals from a new reader: its three goal rollups, the
    // summary's, no day file.
    let goal_reads = files_read(
        &open(),
        "method=Goals.get&idSite=1&period=range&date=2024-01-01,2024-03-31&format=json",
    );
    assert!(goal_reads <= 4, "{goal_reads} files read");
    let until_reads = files_read(
        &open(),
        "method=Goals.getVisitsUntilConversion&idSite=1&period=range&date=2024-01-01,2024-03-31&format=json",
    );
    assert!(until_reads <= 4, "{until_reads} files read");
    // A visit report with its goal columns: the months' report rollups
    // and goal rollups, no day file.
    let report_reads = files_read(
        &open(),
        "method=Referrers.getReferrerType&idSite=1&period=range&date=2024-01-01,2024-03-31&format=json",
    );
    assert!(report_reads <= 8, "{report_reads} files read");
    assert!(open().verify().is_empty());

    // A late visit into February of the visitor first seen in March:
    // March's visit turns returning (its days unwritten, its visitor
    // history page rewritten), and February's goals change.
    let late = [
        hit("m", 1_706_745_600 + 7_200, "https://x.org/"),
        hit("m", 1_706_745_600 + 7_260, "https://x.org/jobs/x"),
    ];
    let mut w = Engine::open(&dir.0).unwrap();
    w.ingest(&late).unwrap();
    w.seal().unwrap();
    drop(w);
    whole.ingest(&late).unwrap();
    check(&whole);
    // The commit counted March's goals again: still no day file read.
    assert!(
        files_read(
            &open(),
            "method=Goals.get&idSite=1&period=range&date=2024-01-01,2024-03-31&format=json"
        ) <= 4
    );

    // An edited goal and a new one answer for every past month at once;
    // the month rollups are counted again with the commit that edits.
    let edited = Goal::new(1, "Shop", GoalMatch::Url, PatternType::Contains, "/shop");
    let added = Goal::new(
        3,
        "About",
        GoalMatch::Url,
        PatternType::Exact,
        "https://x.org/about",
    );
    let before = rollup_files(&dir.0, ".gol");
    let mut w = Engine::open(&dir.0).unwrap();
    w.set_goal(1, edited.clone()).unwrap();
    w.set_goal(1, added.clone()).unwrap();
    drop(w);
    whole.set_goal(1, edited).unwrap();
    whole.set_goal(1, added).unwrap();
    assert_ne!(rollup_files(&dir.0, ".gol"), before);
    check(&whole);
    assert!(
        files_read(
            &open(),
            "method=Goals.get&idSite=1&period=range&date=2024-01-01,2024-03-31&format=json&idGoal=3"
        ) <= 4
    );
    assert!(open().verify().is_empty());

    // Without goals, the goal rollups go (the manifest no longer names
    // them; their files stay for readers until the retention time).
    let manifest =
        || String::from_utf8_lossy(&std::fs::read(dir.0.join("MANIFEST")).unwrap()).into_owned();
    assert!(manifest().contains("\"month_goals\""));
    let mut w = Engine::open(&dir.0).unwrap();
    for id in [1, 2, 3] {
        w.remove_goal(1, id).unwrap();
    }
    drop(w);
    assert!(!manifest().contains("\"month_goals\""));
}

#[test]
fn verify_finds_a_goal_rollup_that_disagrees_with_its_days() {
    let make = |name: &str, extra: bool| {
        let dir = crate::store::TempDir::new(name);
        let mut hits = quarter_hits();
        hits.push(hit("v1", 1_711_929_600 + 3_600, "https://x.org/"));
        if extra {
            // One more conversion in January.
            hits.push(hit("v1", 1_704_153_600 + 82_800, "https://x.org/thanks"));
        }
        let mut config = SiteConfig::new(1).host("x.org");
        for g in quarter_goals() {
            config = config.goal(g);
        }
        let mut w = Engine::open(&dir.0).unwrap();
        w.add_site(config).unwrap();
        w.ingest(&hits).unwrap();
        w.seal().unwrap();
        dir
    };
    let (dir, other) = (make("goal-verify-a", false), make("goal-verify-b", true));
    let names = rollup_files(&dir.0, ".gol");
    assert_eq!(names, rollup_files(&other.0, ".gol"));
    let q = "method=Goals.get&idSite=1&period=month&date=2024-01-01&format=json";
    let open =
        || Engine::open_reader(dir.0.to_str().unwrap(), hitmap::ReaderOptions::default()).unwrap();
    let want = api(&open(), q);
    std::fs::copy(
        other.0.join("site-1/rollups").join(&names[0]),
        dir.0.join("site-1/rollups").join(&names[0]),
    )
    .unwrap();
    assert_ne!(
        api(&open(), q),
        want,
        "the other store's goal rollup is used"
    );
    let found = open().verify();
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains(&names[0]) && found[0].contains("goal sums disagree"),
        "{found:?}"
    );
}

/// An order of `visitor` at `ts` with id `id` (in a visit of its own
/// page view a second before).
fn order_visit(visitor: &str, ts: i64, id: &str, revenue: f64) -> [Hit; 2] {
    use hitmap::{Conversion, HitType, Item};
    [
        hit(visitor, ts - 1, "https://x.org/shop"),
        Hit::new(1, ts, visitor, HitType::Order).with_conversion(Conversion {
            order_id: Some(id.into()),
            revenue: Some(revenue),
            subtotal: Some(revenue - 1.0),
            tax: Some(1.0),
            items: vec![Item::new("SKU").price(revenue).quantity(1)],
            ..Conversion::default()
        }),
    ]
}

#[test]
fn an_ecommerce_sites_goal_rollups_follow_order_ids_across_months() {
    let dir = crate::store::TempDir::new("goal-rollups-ecommerce");
    let mut hits = quarter_hits();
    hits.push(hit("v1", 1_711_929_600 + 3_600, "https://x.org/").with_dim("later", "x"));
    // Orders each month; ids used again later count only the first time.
    let (jan, feb, mar) = (1_704_067_200i64, 1_706_745_600i64, 1_709_251_200i64);
    for (i, (month, id)) in [
        (jan, "A"),
        (jan, "B"),
        (feb, "A"),
        (feb, "C"),
        (mar, "D"),
        (mar, "E"),
    ]
    .into_iter()
    .enumerate()
    {
        let ts = month + 5 * 86_400 + 80_000 + i as i64 * 60;
        hits.extend(order_visit(&format!("v{i}"), ts, id, 10.0 + i as f64));
    }
    let config = SiteConfig::new(1)
        .host("x.org")
        .ecommerce(true)
        .goal(quarter_goals()[0].clone());
    let mut w = Engine::open(&dir.0).unwrap();
    w.add_site(config.clone()).unwrap();
    w.ingest(&hits).unwrap();
    w.seal().unwrap();
    drop(w);
    let mut whole = Engine::in_memory();
    whole.add_site(config).unwrap();
    whole.ingest(&hits).unwrap();
    let open =
        || Engine::open_reader(dir.0.to_str().unwrap(), hitmap::ReaderOptions::default()).unwrap();
    let questions = || {
        let mut out: Vec<String> = goal_questions()
            .into_iter()
            .filter(|q| !q.contains("&idGoal=2&"))
            .collect();
        for (period, date) in [("month", "2024-03-01"), ("range", "2024-01-01,2024-03-31")] {
            for extra in ["&idGoal=ecommerceOrder", "&idGoal=ecommerceAbandonedCart"] {
                for method in ["Goals.get", "Goals.getVisitsUntilConversion"] {
                    out.push(format!(
                        "method={method}&idSite=1&period={period}&date={date}&format=json{extra}"
                    ));
                }
            }
        }
        out
    };
    let check = |r: &Engine, whole: &Engine| {
        for q in questions() {
            match (r.api(&q), whole.api(&q)) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{q}"),
                (a, b) => panic!("{q}: {a:?} vs {b:?}"),
            }
        }
    };
    check(&open(), &whole);
    let quarter_reads = |r: &Engine| {
        files_read(
            r,
            "method=Goals.get&idSite=1&period=range&date=2024-01-01,2024-03-31&format=json&idGoal=ecommerceOrder",
        )
    };
    assert!(quarter_reads(&open()) <= 4);

    // A late order in February takes id D from March: March's days stay
    // as they were, its goal rollup is counted again.
    let late = order_visit("late", feb + 9 * 86_400 + 80_000, "D", 99.0);
    let mut w = Engine::open(&dir.0).unwrap();
    w.ingest(&late).unwrap();
    w.seal().unwrap();
    drop(w);
    whole.ingest(&late).unwrap();
    check(&open(), &whole);
    assert!(quarter_reads(&open()) <= 4);
    assert!(open().verify().is_empty());

    // A live order (in the write-ahead log, not sealed) that takes id E
    // from March: a reader reads the days while it is held.
    let live = order_visit("live", feb + 10 * 86_400 + 80_000, "E", 7.0);
    let mut w = Engine::open(&dir.0).unwrap();
    w.set_live_limit(1_000_000);
    w.ingest(&live).unwrap();
    whole.ingest(&live).unwrap();
    check(&w, &whole);
    check(&open(), &whole);
    w.seal().unwrap();
    drop(w);
    check(&open(), &whole);
    assert!(quarter_reads(&open()) <= 4);
    assert!(open().verify().is_empty());
}

/// Matomo's page goal cells by hand: each conversion credited to every
/// earlier view of a page in its visit, its share by the pages before it,
/// the entry page's conversions; folders add up; the entry and exit page
/// reports keep the rows visits entered (left) on, with their cells.
#[test]
fn page_rows_carry_matomos_goal_cells() {
    let mut e = Engine::in_memory();
    e.add_site(
        SiteConfig::new(1)
            .host("x.org")
            .goal(Goal::new(1, "buy", GoalMatch::Url, PatternType::Contains, "/buy").revenue(10.0)),
    )
    .unwrap();
    e.ingest([
        hit("a", T, "https://x.org/news/a"),
        hit("a", T + 60, "https://x.org/news/b"),
        hit("a", T + 120, "https://x.org/news/a"),
        hit("a", T + 180, "https://x.org/buy"),
        hit("b", T, "https://x.org/news/b"),
        hit("b", T + 60, "https://x.org/buy"),
    ])
    .unwrap();
    let q = "idSite=1&period=day&date=2024-06-01&format=json&format_metrics=0";
    let flat = api(&e, &format!("method=Actions.getPageUrls&{q}&flat=1"));
    let cell = |rows: &Value, label: &str| -> Value {
        let row = rows
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["label"] == label)
            .unwrap_or_else(|| panic!("no row {label}: {rows}"));
        row["goals"]["idgoal=1"].clone()
    };
    // Visit a: 4 page views before its conversion (a share of 0.25 each);
    // visit b: 2 (0.5 each). Two conversions of goal 1 in all.
    assert_eq!(
        cell(&flat, "/news/a"),
        json!({"nb_conversions": 2, "revenue": 20, "nb_conv_pages_before": 4,
               "nb_conversions_attrib": 0.5, "nb_conversions_page_rate": 1,
               "nb_conversions_page_uniq": 2, "revenue_attrib": 5, "revenue_entry": 10,
               "nb_conversions_entry_rate": 1, "revenue_per_entry": 10,
               "nb_conversions_entry": 1})
    );
    assert_eq!(
        cell(&flat, "/news/b"),
        json!({"nb_conversions": 2, "revenue": 20, "nb_conv_pages_before": 4,
               "nb_conversions_attrib": 0.75, "nb_conversions_page_rate": 1,
               "nb_conversions_page_uniq": 2, "revenue_attrib": 7.5, "revenue_entry": 10,
               "nb_conversions_entry_rate": 1, "revenue_per_entry": 10,
               "nb_conversions_entry": 1})
    );
    assert_eq!(
        cell(&flat, "/buy"),
        json!({"nb_conversions": 2, "revenue": 20, "nb_conv_pages_before": 4,
               "nb_conversions_attrib": 0.75, "nb_conversions_page_rate": 1,
               "nb_conversions_page_uniq": 2, "revenue_attrib": 7.5})
    );
    // The folder adds up its pages; its entry rate is per visit entering
    // in it.
    let tree = api(&e, &format!("method=Actions.getPageUrls&{q}&expanded=1"));
    assert_eq!(
        cell(&tree, "news"),
        json!({"nb_conversions": 4, "revenue": 40, "nb_conv_pages_before": 4,
               "nb_conversions_attrib": 1.25, "nb_conversions_page_rate": 1,
               "nb_conversions_page_uniq": 4, "revenue_attrib": 12.5, "revenue_entry": 20,
               "nb_conversions_entry_rate": 1, "revenue_per_entry": 10,
               "nb_conversions_entry": 2})
    );
    // Entry pages: the folder and both its pages, each page's segment
    // naming the entry page; exit pages: /buy alone.
    let entry = api(
        &e,
        &format!("method=Actions.getEntryPageUrls&{q}&expanded=1"),
    );
    let labels = |rows: &Value| -> Vec<String> {
        rows.as_array()
            .unwrap()
            .iter()
            .map(|r| r["label"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(labels(&entry), ["news"]);
    // By visits: /b was viewed in both.
    assert_eq!(labels(&entry[0]["subtable"]), ["/b", "/a"]);
    assert_eq!(cell(&entry, "news"), cell(&tree, "news"));
    assert_eq!(
        entry[0]["subtable"][1]["segment"],
        "entryPageUrl==https%253A%252F%252Fx.org%252Fnews%252Fa"
    );
    let exit = api(
        &e,
        &format!("method=Actions.getExitPageUrls&{q}&expanded=1"),
    );
    assert_eq!(labels(&exit), ["/buy"]);
    assert_eq!(cell(&exit, "/buy"), cell(&flat, "/buy"));
    // A site without goals has no cells.
    let mut plain = Engine::in_memory();
    plain.add_site(SiteConfig::new(1).host("x.org")).unwrap();
    plain.ingest([hit("a", T, "https://x.org/news/a")]).unwrap();
    let rows = api(&plain, &format!("method=Actions.getPageUrls&{q}&flat=1"));
    assert!(rows[0].get("goals").is_none(), "{rows}");
}

/// Matomo's goals-by-page view: `idGoal` and
/// `filter_update_columns_when_show_all_goals` on the page reports give
/// the table's rows (not its expanded subtables) the processed goal
/// metrics, worked out from their goal cells and visits; without the
/// flag, `idGoal` leaves the rows as they are.
#[test]
fn page_reports_take_matomos_processed_goal_metrics() {
    let mut e = Engine::in_memory();
    e.add_site(
        SiteConfig::new(1)
            .host("x.org")
            .goal(Goal::new(1, "buy", GoalMatch::Url, PatternType::Contains, "/buy").revenue(10.0))
            .goal(
                Goal::new(2, "news", GoalMatch::Url, PatternType::Contains, "/news/b").revenue(3.0),
            ),
    )
    .unwrap();
    e.ingest([
        hit("a", T, "https://x.org/news/a"),
        hit("a", T + 60, "https://x.org/news/b"),
        hit("a", T + 180, "https://x.org/buy"),
        hit("b", T, "https://x.org/news/a"),
        hit("c", T, "https://x.org/news/a"),
        hit("c", T + 60, "https://x.org/buy"),
    ])
    .unwrap();
    let q = "idSite=1&period=day&date=2024-06-01&format=json";
    let plain = api(
        &e,
        &format!("method=Actions.getEntryPageUrls&{q}&expanded=1"),
    );
    assert_eq!(
        api(
            &e,
            &format!("method=Actions.getEntryPageUrls&{q}&expanded=1&idGoal=1")
        ),
        plain,
        "idGoal alone changes nothing"
    );
    let flag = "filter_update_columns_when_show_all_goals=1";
    let flat = api(
        &e,
        &format!("method=Actions.getEntryPageUrls&{q}&flat=1&idGoal=1&{flag}"),
    );
    let a = &flat[0];
    assert_eq!(a["label"], "/news/a");
    // Three visits entered on news/a; two converted goal 1 (10 each), one
    // goal 2 (3): 23 over 3 visits.
    assert_eq!(a["nb_visits"], 3);
    assert_eq!(a["conversion_rate"], "0%");
    assert_eq!(a["nb_actions_per_visit"].as_f64(), Some(0.0));
    assert_eq!(a["avg_time_on_site"], 0);
    assert_eq!(a["revenue_per_visit"], 7.67);
    assert_eq!(a["goal_1_conversion_rate"], "66.67%");
    assert_eq!(a["goal_1_nb_conversions"], 2);
    assert_eq!(a["goal_1_revenue_per_visit"], 6.67);
    assert_eq!(a["goal_1_revenue"], 20);
    assert!(a.get("goal_2_conversion_rate").is_none(), "{a}");
    // A folder's come from its cells (its pages' together) over its
    // visits (its pages' together): news/a 3 and news/b 1; goal 1
    // converted after news/a twice and news/b once.
    let tree = api(
        &e,
        &format!("method=Actions.getEntryPageUrls&{q}&expanded=1&idGoal=1&{flag}"),
    );
    let news = &tree[0];
    assert_eq!(
        (&news["label"], &news["nb_visits"]),
        (&json!("news"), &json!(4))
    );
    assert_eq!(news["goal_1_nb_conversions"], 3);
    assert_eq!(news["goal_1_conversion_rate"], "75%");
    assert_eq!(news["revenue_per_visit"], 9);
    // The expanded subtable keeps its plain rows.
    assert_eq!(news["subtable"], plain[0]["subtable"]);
    // Every goal the rows converted (idGoal=0), and only rates (-1).
    let all = api(
        &e,
        &format!("method=Actions.getEntryPageUrls&{q}&flat=1&idGoal=0&{flag}"),
    );
    assert_eq!(all[0]["goal_2_nb_conversions"], 1);
    assert_eq!(all[0]["goal_2_revenue"], 3);
    assert_eq!(all[0]["goal_2_conversion_rate"], "33.33%");
    let rates = api(&e, &format!("method=Actions.getPageUrls&{q}&flat=1&{flag}"));
    assert!(rates[0].get("goal_1_conversion_rate").is_some(), "{rates}");
    assert!(rates[0].get("goal_1_nb_conversions").is_none(), "{rates}");
    // A site without goals says so.
    let mut bare = Engine::in_memory();
    bare.add_site(SiteConfig::new(1).host("x.org")).unwrap();
    bare.ingest([hit("a", T, "https://x.org/news/a")]).unwrap();
    let err = bare
        .api(&format!(
            "method=Actions.getPageUrls&{q}&filter_update_columns_when_show_all_goals=1"
        ))
        .unwrap_err()
        .to_string();
    assert!(err.contains("has no goals"), "{err}");
}

/// Matomo's `showAllGoalSpecificMetrics`: `Goals.get` without `idGoal`
/// gives every goal's numbers and conversion rate next to the totals,
/// for all, new and returning visits, and `columns` picks among them.
#[test]
fn goals_get_shows_every_goals_metrics_when_asked() {
    let mut e = Engine::in_memory();
    e.add_site(
        SiteConfig::new(1)
            .host("x.org")
            .goal(Goal::new(1, "buy", GoalMatch::Url, PatternType::Contains, "/buy").revenue(10.0))
            .goal(Goal::new(2, "news", GoalMatch::Url, PatternType::Contains, "/news").revenue(3.0))
            .goal(Goal::new(
                3,
                "never",
                GoalMatch::Url,
                PatternType::Contains,
                "/never",
            )),
    )
    .unwrap();
    e.ingest([
        hit("a", T, "https://x.org/news"),
        hit("a", T + 60, "https://x.org/buy"),
        hit("b", T, "https://x.org/buy"),
        hit("c", T, "https://x.org/home"),
        // c again, two hours later: a returning visit that reads news.
        hit("c", T + 7200, "https://x.org/news"),
    ])
    .unwrap();
    let q = "method=Goals.get&idSite=1&period=day&date=2024-06-01&format=json";
    let all = api(&e, &format!("{q}&showAllGoalSpecificMetrics=1"));
    assert_eq!(all["nb_visits"], 4);
    assert_eq!(all["nb_conversions"], 4);
    assert_eq!(
        (
            &all["goal_1_nb_conversions"],
            &all["goal_1_nb_visits_converted"],
            &all["goal_1_revenue"]
        ),
        (&json!(2), &json!(2), &json!(20))
    );
    assert_eq!(all["goal_1_conversion_rate"], "50%");
    assert_eq!(all["goal_2_conversion_rate"], "50%");
    assert_eq!(all["goal_3_nb_conversions"], 0);
    assert_eq!(all["goal_3_conversion_rate"], "0%");
    assert_eq!(all["nb_visits_new_visit"], 3);
    assert_eq!(all["goal_2_nb_conversions_new_visit"], 1);
    assert_eq!(all["goal_2_nb_conversions_returning_visit"], 1);
    assert_eq!(all["goal_2_conversion_rate_returning_visit"], "100%");
    // The plain answer has none of them.
    let plain = api(&e, q);
    assert!(plain.get("goal_1_nb_conversions").is_none(), "{plain}");
    assert!(plain.get("nb_visits").is_none(), "{plain}");
    // `columns` picks one, with its new and returning forms.
    let picked = api(
        &e,
        &format!("{q}&showAllGoalSpecificMetrics=1&columns=goal_1_conversion_rate"),
    );
    assert_eq!(
        picked,
        json!({"goal_1_conversion_rate": "50%", "goal_1_conversion_rate_new_visit": "66.67%",
               "goal_1_conversion_rate_returning_visit": "0%"})
    );
    // Elsewhere it is refused by name.
    let err = e
        .api("method=VisitsSummary.get&idSite=1&period=day&date=2024-06-01&showAllGoalSpecificMetrics=1")
        .unwrap_err()
        .to_string();
    assert!(err.contains("showAllGoalSpecificMetrics"), "{err}");
}
