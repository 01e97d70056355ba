//! Transitions (`transitions.rs`): a page's previous and following steps,
//! loops, exits and entries, from the stored action sequences, equal a
//! brute-force walk over the raw hits for random visits, ranges,
//! segments, sections and pages; the API's shape (Matomo's lists cut to
//! `limitBeforeGrouping` with `Others`, its referrer groups, its error
//! for a page without views, `parts`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use hitmap::{Engine, Hit, HitType, SiteConfig, Transitions, TransitionsOf, UNTITLED};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::props::{Case, CaseQuery, URLS, build, case, case_query, make_hit, reference_visits};
use crate::reference::{self, Cut};

/// A URL as Matomo names a page: no scheme, `www.` or fragment.
fn name(url: &str) -> String {
    let url = reference::no_fragment(url);
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .unwrap_or(url);
    rest.strip_prefix("www.").unwrap_or(rest).to_owned()
}

fn sorted(m: BTreeMap<String, u64>) -> Vec<(String, u64)> {
    let mut v: Vec<_> = m.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

/// The transitions of `of` in the cut visits, walked hit by hit.
fn model(cuts: &[Cut], of: &TransitionsOf) -> Option<Transitions> {
    let key = |h: &Hit| -> String {
        match of {
            TransitionsOf::Url(_) => h.url.as_deref().map(name).unwrap_or_default(),
            TransitionsOf::Title(_) => h.title.clone().unwrap_or_else(|| UNTITLED.to_owned()),
        }
    };
    let wanted = match of {
        TransitionsOf::Url(u) => name(u),
        TransitionsOf::Title(t) => t.clone(),
    };
    let target = |h: &Hit| h.kind == HitType::Pageview && key(h) == wanted;
    let mut t = Transitions::default();
    let [mut pp, mut ps, mut fp, mut fs, mut out, mut down] =
        std::array::from_fn(|_| BTreeMap::<String, u64>::new());
    let mut entries: BTreeMap<String, u64> = BTreeMap::new();
    for c in cuts {
        let hits: Vec<&Hit> = c.actions.iter().map(|&i| &c.visit.hits[i]).collect();
        let mut last: Option<&Hit> = None;
        let first_page = hits
            .iter()
            .find(|h| matches!(h.kind, HitType::Pageview | HitType::Search));
        if first_page.is_some_and(|h| target(h)) {
            *entries.entry(c.visit.referrer_type.to_owned()).or_default() += 1;
        }
        // A search that opened the visit is no page URL's previous search
        // (Matomo's URL reference 0).
        let opening = c.visit.hits.first();
        let urls = matches!(of, TransitionsOf::Url(_));
        for h in hits {
            let after = last.is_some_and(&target);
            match h.kind {
                HitType::Pageview => {
                    if target(h) {
                        t.pageviews += 1;
                        match last {
                            Some(p)
                                if p.kind == HitType::Search
                                    && urls
                                    && opening.is_some_and(|o| std::ptr::eq(o, p)) => {}
                            Some(p) if p.kind == HitType::Search => {
                                *ps.entry(p.search.clone().unwrap_or_default()).or_default() += 1
                            }
                            Some(p) if target(p) => t.loops += 1,
                            Some(p) => *pp.entry(key(p)).or_default() += 1,
                            None => {}
                        }
                    } else if after {
                        *fp.entry(key(h)).or_default() += 1;
                    }
                    last = Some(h);
                }
                HitType::Search => {
                    if after {
                        *fs.entry(h.search.clone().unwrap_or_default()).or_default() += 1;
                    }
                    last = Some(h);
                }
                HitType::Outlink | HitType::Download if after => {
                    let url = reference::no_fragment(h.url.as_deref().unwrap_or("")).to_owned();
                    let m = if h.kind == HitType::Outlink {
                        &mut out
                    } else {
                        &mut down
                    };
                    *m.entry(url).or_default() += 1;
                }
                _ => {}
            }
        }
    }
    if t.pageviews == 0 {
        return None;
    }
    let followed: u64 = fp.values().chain(fs.values()).sum();
    t.exits = t.pageviews - followed - t.loops;
    t.entries = entries.values().sum();
    (
        t.previous_pages,
        t.previous_searches,
        t.following_pages,
        t.following_searches,
        t.outlinks,
        t.downloads,
    ) = (
        sorted(pp),
        sorted(ps),
        sorted(fp),
        sorted(fs),
        sorted(out),
        sorted(down),
    );
    // Entries by type only (details: the API test).
    t.referrers = Vec::new();
    let _ = entries;
    Some(t)
}

fn check(case: &Case) -> Result<(), TestCaseError> {
    let hits: Vec<Hit> = case.specs.iter().map(|s| make_hit(s, case.base)).collect();
    let mut engine = build(case, &hits, &[]);
    engine.split_queries_eagerly(3);
    let visits = reference_visits(case, &hits);
    let mut pages: Vec<TransitionsOf> = URLS
        .iter()
        .take(5)
        .map(|u| TransitionsOf::Url(u.replace("https://", "http://www.")))
        .collect();
    pages.extend(["T1", "T2", UNTITLED].map(|t| TransitionsOf::Title(t.into())));
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
        let cuts = reference::cut_visits(&visits, from, to, seg, section);
        for of in &pages {
            let got = sel.transitions(of).map(|mut t| {
                // Entries by type are checked through their sum.
                t.referrers = Vec::new();
                t
            });
            prop_assert_eq!(got, model(&cuts, of), "{:?}, {}", of, ctx);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 120, ..ProptestConfig::default() })]

    #[test]
    fn transitions_equal_a_walk_over_the_hits(case in case()) {
        check(&case)?;
    }
}

fn api(e: &Engine, q: &str) -> Value {
    let now: DateTime<Utc> = DateTime::from_timestamp(1_718_000_000, 0).unwrap();
    serde_json::from_str(&e.api_at(&format!("{q}&format=json"), now).unwrap()).unwrap()
}

/// The API in Matomo's shape: lists of `{label, referrals}` cut to
/// `limitBeforeGrouping` (5 by default) with an `Others` row, the page's
/// metrics, entries by referrer type with their details, the three
/// method names, `parts`, and `NoDataForAction`.
#[test]
fn transitions_answer_in_matomos_shape() {
    let mut e = Engine::in_memory();
    e.add_site(SiteConfig::new(1).host("x.org")).unwrap();
    let day = 1_717_200_000; // 2024-06-01
    let page = |v: &str, s: i64, path: &str| {
        Hit::pageview(1, day + s, v, format!("https://x.org{path}")).with_title(format!("T{path}"))
    };
    let mut hits = Vec::new();
    // Visit a: from Google, enters on /p, goes to six pages in turn, each
    // time back to /p, then searches, downloads and leaves.
    hits.push(page("a", 0, "/p").with_referrer("https://www.google.com/search?q=pay"));
    for (k, path) in ["/1", "/2", "/3", "/4", "/5", "/6"].iter().enumerate() {
        let s = 10 + k as i64 * 20;
        hits.push(page("a", s, path));
        hits.push(page("a", s + 10, "/p"));
    }
    hits.push(page("a", 200, "/p"));
    hits.push(
        Hit::new(1, day + 210, "a", HitType::Search)
            .with_url("https://x.org/?q=x")
            .with_search("x"),
    );
    hits.push(page("a", 220, "/p"));
    hits.push(Hit::new(1, day + 230, "a", HitType::Download).with_url("https://x.org/f.pdf"));
    // Visit b: direct, enters on /1, then /p and leaves.
    hits.push(page("b", 0, "/1"));
    hits.push(page("b", 10, "/p"));
    // Visit c: from a website, enters on /p and leaves.
    hits.push(page("c", 0, "/p").with_referrer("https://blog.example/post"));
    e.ingest(hits).unwrap();
    let q = "idSite=1&period=day&date=2024-06-01";
    let t = api(
        &e,
        &format!("method=Transitions.getTransitionsForPageUrl&pageUrl=http://www.x.org/p&{q}"),
    );
    // /p: 1 + 6 + 1 + 1 (visit a) + 1 (b) + 1 (c) = 11 views; the loop
    // is the view at 200 after the one at 140; entries a and c; exits:
    // b's and c's views, and a's last (a download follows it).
    assert_eq!(t["date"], json!("Sat, Jun 1"));
    assert_eq!(
        t["pageMetrics"],
        json!({"loops": 1, "pageviews": 11, "entries": 2, "exits": 3})
    );
    assert_eq!(
        t["previousPages"],
        json!([
            {"label": "x.org/1", "referrals": 2},
            {"label": "x.org/2", "referrals": 1},
            {"label": "x.org/3", "referrals": 1},
            {"label": "x.org/4", "referrals": 1},
            {"label": "x.org/5", "referrals": 1},
            {"label": "Others", "referrals": 1},
        ])
    );
    assert_eq!(
        t["previousSiteSearches"],
        json!([{"label": "x", "referrals": 1}])
    );
    assert_eq!(
        t["followingSiteSearches"],
        json!([{"label": "x", "referrals": 1}])
    );
    assert_eq!(
        t["downloads"],
        json!([{"label": "https://x.org/f.pdf", "referrals": 1}])
    );
    assert_eq!(t["outlinks"], json!([]));
    assert_eq!(
        t["referrers"],
        json!([
            {"label": "From search engines", "shortName": "search", "visits": 1,
             "details": [{"label": "Google", "referrals": 1}]},
            {"label": "From websites", "shortName": "website", "visits": 1,
             "details": [{"label": "https://blog.example/post", "referrals": 1}]},
        ])
    );
    let limited = api(
        &e,
        &format!(
            "method=Transitions.getTransitionsForAction&actionName=x.org/p&actionType=url&limitBeforeGrouping=2&{q}"
        ),
    );
    assert_eq!(
        limited["followingPages"],
        json!([
            {"label": "x.org/1", "referrals": 1},
            {"label": "x.org/2", "referrals": 1},
            {"label": "Others", "referrals": 4},
        ])
    );
    // By title: the same steps, labelled by titles.
    let titles = api(
        &e,
        &format!("method=Transitions.getTransitionsForPageTitle&pageTitle=T/p&{q}"),
    );
    assert_eq!(titles["pageMetrics"], t["pageMetrics"]);
    assert_eq!(
        titles["previousPages"][0],
        json!({"label": "T/1", "referrals": 2})
    );
    // Following actions alone: the loop is a following page, no exits.
    let following = api(
        &e,
        &format!(
            "method=Transitions.getTransitionsForPageUrl&pageUrl=https://x.org/p&parts=followingActions&limitBeforeGrouping=10&{q}"
        ),
    );
    assert_eq!(following["pageMetrics"], json!({}));
    assert!(
        following["followingPages"]
            .as_array()
            .unwrap()
            .contains(&json!({"label": "x.org/p", "referrals": 1})),
        "{following}"
    );
    assert!(following.get("previousPages").is_none() && following.get("referrers").is_none());
    let err = |query: &str| {
        e.api_at(&format!("{query}&{q}"), chrono::Utc::now())
            .unwrap_err()
            .to_string()
    };
    let none = err("method=Transitions.getTransitionsForPageUrl&pageUrl=https://x.org/nothing");
    assert!(none.contains("NoDataForAction"), "{none}");
    let missing = err("method=Transitions.getTransitionsForAction&actionName=x.org/p");
    assert!(missing.contains("actionType"), "{missing}");
    let misplaced = err("method=VisitsSummary.get&limitBeforeGrouping=3");
    assert!(
        misplaced.contains("'limitBeforeGrouping' does not apply"),
        "{misplaced}"
    );
}

/// A site search that opens its visit is no previous search of the page
/// URL viewed after it, as Matomo's tracker records the visit's first
/// search with URL reference 0 (a later one with NULL, which falls back to
/// the keyword); the page title's transitions count both.
#[test]
fn a_search_that_opens_a_visit_is_no_page_urls_previous_search() {
    let mut e = Engine::in_memory();
    e.add_site(SiteConfig::new(1).host("x.org")).unwrap();
    let day = 1_717_200_000; // 2024-06-01
    let search = |s: i64, kwd: &str| {
        Hit::new(1, day + s, "d", HitType::Search)
            .with_url(format!("https://x.org/?q={kwd}"))
            .with_search(kwd)
    };
    let page = |s: i64| Hit::pageview(1, day + s, "d", "https://x.org/q").with_title("Q");
    e.ingest([search(0, "a"), page(10), search(20, "b"), page(30)])
        .unwrap();
    let q = "idSite=1&period=day&date=2024-06-01";
    let by_url = api(
        &e,
        &format!("method=Transitions.getTransitionsForPageUrl&pageUrl=https://x.org/q&{q}"),
    );
    assert_eq!(
        by_url["previousSiteSearches"],
        json!([{"label": "b", "referrals": 1}])
    );
    assert_eq!(by_url["pageMetrics"]["pageviews"], 2);
    let by_title = api(
        &e,
        &format!("method=Transitions.getTransitionsForPageTitle&pageTitle=Q&{q}"),
    );
    assert_eq!(
        by_title["previousSiteSearches"],
        json!([{"label": "a", "referrals": 1}, {"label": "b", "referrals": 1}])
    );
}
