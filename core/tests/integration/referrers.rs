//! Referrers from real referrer URLs, with Matomo's lists: type, name and
//! keyword, and the Referrers reports over them.

use hitmap::{Engine, Hit, HitType, ReferrerType, SiteConfig, describe_referrer};

fn site() -> SiteConfig {
    SiteConfig::new(1).host("intranet.example.org")
}

#[test]
fn real_referrer_urls_get_matomos_type_name_and_keyword() {
    let landing = Some("https://intranet.example.org/news/a");
    let cases: &[(&str, ReferrerType, Option<&str>, Option<&str>)] = &[
        (
            "https://www.google.com/search?q=holiday+policy&hl=en",
            ReferrerType::Search,
            Some("Google"),
            Some("holiday policy"),
        ),
        (
            "https://www.google.co.uk/search?q=Caf%C3%A9",
            ReferrerType::Search,
            Some("Google"),
            Some("café"),
        ),
        (
            "https://www.google.de/",
            ReferrerType::Search,
            Some("Google"),
            None,
        ),
        (
            "https://www.google.fr/url?sa=t&rct=j",
            ReferrerType::Search,
            Some("Google"),
            None,
        ),
        (
            "https://www.bing.com/search?q=expense+report&form=QBLH",
            ReferrerType::Search,
            Some("Bing"),
            Some("expense report"),
        ),
        (
            "https://duckduckgo.com/",
            ReferrerType::Search,
            Some("DuckDuckGo"),
            None,
        ),
        (
            "https://duckduckgo.com/?q=vpn+setup",
            ReferrerType::Search,
            Some("DuckDuckGo"),
            Some("vpn setup"),
        ),
        (
            "https://www.baidu.com/s?wd=%E5%A4%A9%E6%B0%94",
            ReferrerType::Search,
            Some("Baidu"),
            Some("天气"),
        ),
        (
            "https://l.facebook.com/l.php?u=https%3A%2F%2Fintranet.example.org",
            ReferrerType::Social,
            Some("Facebook"),
            None,
        ),
        (
            "https://t.co/abc123",
            ReferrerType::Social,
            Some("Twitter"),
            None,
        ),
        (
            "https://www.reddit.com/r/sysadmin/comments/1",
            ReferrerType::Social,
            Some("reddit"),
            None,
        ),
        (
            "https://chatgpt.com/",
            ReferrerType::Ai,
            Some("ChatGPT"),
            None,
        ),
        (
            "https://www.perplexity.ai/search/x",
            ReferrerType::Ai,
            Some("Perplexity"),
            None,
        ),
        (
            "https://blog.example.com/post/1",
            ReferrerType::Website,
            Some("blog.example.com"),
            None,
        ),
        (
            "https://intranet.example.org/home",
            ReferrerType::Direct,
            None,
            None,
        ),
    ];
    for (referrer, kind, name, keyword) in cases {
        let r = describe_referrer(landing, Some(referrer), &site());
        assert_eq!(
            (r.kind, r.name.as_deref(), r.keyword.as_deref()),
            (*kind, *name, *keyword),
            "{referrer}"
        );
    }
    // Campaign parameters on the landing URL win over any referrer.
    let r = describe_referrer(
        Some("https://intranet.example.org/?mtm_campaign=Spring%20Sale&mtm_kwd=Shoes"),
        Some("https://www.google.com/search?q=x"),
        &site(),
    );
    assert_eq!(
        (r.kind, r.name.as_deref(), r.keyword.as_deref()),
        (ReferrerType::Campaign, Some("spring sale"), Some("shoes"))
    );
    let r = describe_referrer(
        Some("https://intranet.example.org/?utm_source=newsletter"),
        None,
        &site(),
    );
    assert_eq!(
        (r.kind, r.name.as_deref()),
        (ReferrerType::Campaign, Some("newsletter"))
    );
    assert_eq!(
        describe_referrer(landing, None, &site()).kind,
        ReferrerType::Direct
    );
}

/// The site's home page.
const HOME: &str = "https://intranet.example.org/";

/// A page view of visitor `v`, `k` hours after 2024-06-01 00:00 UTC,
/// from `referrer`.
fn page(v: &str, k: i64, referrer: Option<&str>, url: &str) -> Hit {
    let mut h = Hit::pageview(1, 1_717_200_000 + k * 3600, v, url);
    h.referrer = referrer.map(str::to_owned);
    h
}

#[test]
fn referrers_reports_count_visits_by_name_and_keyword() {
    let mut e = Engine::in_memory();
    e.add_site(site()).unwrap();
    e.ingest([
        page("a", 0, Some("https://www.google.de/search?q=Payroll"), HOME),
        page(
            "a",
            1,
            Some("https://www.google.com/search?q=payroll"),
            HOME,
        ),
        page("b", 0, Some("https://www.bing.com/search?q=holidays"), HOME),
        page("c", 0, Some("https://www.google.com/"), HOME),
        page("d", 0, Some("https://chatgpt.com/"), HOME),
        page("e", 0, Some("https://t.co/x"), HOME),
        page(
            "f",
            0,
            None,
            "https://intranet.example.org/?utm_campaign=Spring",
        ),
        page("g", 0, Some("https://blog.example.com/"), HOME),
        page("g", 1, Some("https://blog.example.com/b"), HOME),
    ])
    .unwrap();
    let rows = |method: &str| -> Vec<(String, u64)> {
        let q = format!(
            "method=Referrers.{method}&idSite=1&period=day&date=2024-06-01&format_metrics=0"
        );
        let v: serde_json::Value = serde_json::from_str(&e.api(&q).unwrap()).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["label"].as_str().unwrap().to_owned(),
                    r["nb_visits"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(
        rows("getSearchEngines"),
        [("Google".into(), 3), ("Bing".into(), 1)]
    );
    assert_eq!(
        rows("getKeywords"),
        [
            ("payroll".into(), 2),
            ("Keyword not defined".into(), 1),
            ("holidays".into(), 1)
        ]
    );
    assert_eq!(rows("getAIAssistants"), [("ChatGPT".into(), 1)]);
    assert_eq!(rows("getSocials"), [("Twitter".into(), 1)]);
    assert_eq!(rows("getCampaigns"), [("spring".into(), 1)]);
    assert_eq!(rows("getWebsites"), [("blog.example.com".into(), 2)]);
    let types = rows("getReferrerType");
    assert!(
        types.contains(&("AI Assistants".to_string(), 1)),
        "{types:?}"
    );
    // A segment on the new type.
    let q = "method=VisitsSummary.get&idSite=1&period=day&date=2024-06-01&segment=referrerType%3D%3Dai&format_metrics=0";
    let v: serde_json::Value = serde_json::from_str(&e.api(q).unwrap()).unwrap();
    assert_eq!(v["nb_visits"], 1);
}

/// Matomo's named subtable getters answer a row's subtable of their
/// report by `idSubtable`, each row segmented as Matomo segments it: the
/// segment selects exactly the row's visits.
#[test]
fn named_subtable_getters_answer_a_rows_subtable_with_matomos_segments() {
    let mut e = Engine::in_memory();
    e.add_site(site()).unwrap();
    e.ingest([
        page("a", 0, Some("https://www.google.de/search?q=Payroll"), HOME),
        page(
            "a",
            1,
            Some("https://www.google.com/search?q=payroll"),
            HOME,
        ),
        page("b", 0, Some("https://www.bing.com/search?q=payroll"), HOME),
        page("c", 0, Some("https://www.google.com/"), HOME),
        page(
            "f",
            0,
            None,
            "https://intranet.example.org/?utm_campaign=Spring&utm_term=Tulip+bulbs",
        ),
        page("g", 0, Some("https://blog.example.com/a b"), HOME),
        page("g", 1, Some("https://blog.example.com/b"), HOME),
        page("h", 0, Some("https://www.facebook.com/groups/x"), HOME),
        page("i", 0, Some("https://www.facebook.com/b"), HOME),
        page("j", 0, Some("https://twitter.com/a"), HOME),
    ])
    .unwrap();
    let get = |q: &str| -> serde_json::Value {
        let q = format!("{q}&idSite=1&period=day&date=2024-06-01&format_metrics=0");
        serde_json::from_str(&e.api(&q).unwrap_or_else(|err| panic!("{q}: {err}"))).unwrap()
    };
    let visits = |segment: &str| -> u64 {
        let v = get(&format!(
            "method=VisitsSummary.get&segment={}",
            hitmap::encode_query_value(segment)
        ));
        v["nb_visits"].as_u64().unwrap()
    };
    for (parent, getter, parent_label, want) in [
        (
            "getSearchEngines",
            "getKeywordsFromSearchEngineId",
            "Google",
            vec![
                "referrerName==Google;referrerType==search;referrerKeyword==payroll",
                "referrerName==Google;referrerType==search;referrerKeyword==",
            ],
        ),
        (
            "getKeywords",
            "getSearchEnginesFromKeywordId",
            "payroll",
            vec![
                "referrerKeyword==payroll;referrerType==search;referrerName==Google",
                "referrerKeyword==payroll;referrerType==search;referrerName==Bing",
            ],
        ),
        (
            "getCampaigns",
            "getKeywordsFromCampaignId",
            "spring",
            vec!["referrerName==spring;referrerType==campaign;referrerKeyword==tulip+bulbs"],
        ),
        (
            "getSocials",
            "getUrlsForSocial",
            "Facebook",
            vec![
                "referrerUrl==https%3A%2F%2Fwww.facebook.com%2Fb",
                "referrerUrl==https%3A%2F%2Fwww.facebook.com%2Fgroups%2Fx",
            ],
        ),
        (
            "getWebsites",
            "getUrlsFromWebsiteId",
            "blog.example.com",
            vec![
                "referrerUrl==https%3A%2F%2Fblog.example.com%2Fa+b",
                "referrerUrl==https%3A%2F%2Fblog.example.com%2Fb",
            ],
        ),
    ] {
        let rows = get(&format!("method=Referrers.{parent}"));
        let row = rows
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["label"] == parent_label)
            .unwrap_or_else(|| panic!("{parent}: {rows}"));
        if parent == "getSocials" {
            // Matomo's network URL (the first domain of its list) and icon.
            assert_eq!(row["url"], "facebook.com", "{row}");
            assert_eq!(
                row["logo"],
                "plugins/Morpheus/icons/dist/socials/facebook.com.png"
            );
        }
        let id = row["idsubtable"].as_u64().unwrap();
        let sub = get(&format!("method=Referrers.{getter}&idSubtable={id}"));
        let sub = sub.as_array().unwrap();
        let expanded = get(&format!("method=Referrers.{parent}&idSubtable={id}"));
        // The same rows as the report's own subtable.
        let labels = |rows: &[serde_json::Value]| -> Vec<String> {
            rows.iter()
                .map(|r| r["label"].as_str().unwrap().to_owned())
                .collect()
        };
        // The same rows as the report's own subtable; Matomo's social
        // URLs are labelled without their scheme, the URL as `url`.
        let bare = |l: String| {
            if getter == "getUrlsForSocial" {
                l.trim_start_matches("https://")
                    .trim_start_matches("http://")
                    .to_owned()
            } else {
                l
            }
        };
        let own: Vec<String> = labels(expanded.as_array().unwrap())
            .into_iter()
            .map(bare)
            .collect();
        assert_eq!(labels(sub), own, "{getter}");
        if getter == "getUrlsForSocial" {
            let urls: Vec<String> = sub
                .iter()
                .map(|r| r["url"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(urls, labels(expanded.as_array().unwrap()), "{getter}");
        }
        let segments: Vec<&str> = sub.iter().map(|r| r["segment"].as_str().unwrap()).collect();
        assert_eq!(segments, want, "{getter}");
        // Each segment selects the row's visits.
        for r in sub {
            // As Matomo's, `+` in a segment's value is a space.
            let segment = r["segment"].as_str().unwrap().to_owned();
            assert_eq!(
                visits(&segment),
                r["nb_visits"].as_u64().unwrap(),
                "{getter}: {segment}"
            );
        }
    }
    // Referrers.getUrlsForSocial without idSubtable: every social
    // network's URLs together, as Matomo's: by visits, then label.
    let all = get("method=Referrers.getUrlsForSocial");
    let urls: Vec<(&str, &str)> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["label"].as_str().unwrap(), r["url"].as_str().unwrap()))
        .collect();
    let mut sorted = all.as_array().unwrap().clone();
    sorted.sort_by(|a, b| {
        b["nb_visits"]
            .as_u64()
            .cmp(&a["nb_visits"].as_u64())
            .then_with(|| a["label"].as_str().cmp(&b["label"].as_str()))
    });
    assert_eq!(&sorted, all.as_array().unwrap());
    let mut urls = urls;
    urls.sort_unstable();
    assert_eq!(
        urls,
        [
            ("twitter.com/a", "https://twitter.com/a"),
            ("www.facebook.com/b", "https://www.facebook.com/b"),
            (
                "www.facebook.com/groups/x",
                "https://www.facebook.com/groups/x"
            )
        ]
    );
    // Without idSubtable, or with one no row has: a clear error.
    let err = e
        .api("method=Referrers.getUrlsFromWebsiteId&idSite=1&period=day&date=2024-06-01")
        .unwrap_err()
        .to_string();
    assert!(err.contains("needs idSubtable"), "{err}");
    let err = e
        .api("method=Referrers.getUrlsFromWebsiteId&idSite=1&period=day&date=2024-06-01&idSubtable=99")
        .unwrap_err()
        .to_string();
    assert!(err.contains("names no row"), "{err}");
}

/// `Referrers.get`: the visits of each channel and their share of all
/// visits, and the distinct referrers of each kind, equal to the reports
/// that list them, for one period and for several.
#[test]
fn referrers_get_sums_up_the_channels() {
    let mut e = Engine::in_memory();
    e.add_site(site()).unwrap();
    e.ingest([
        page("a", 0, Some("https://www.google.de/search?q=Payroll"), HOME),
        page("b", 0, Some("https://www.bing.com/search?q=holidays"), HOME),
        page("c", 0, None, HOME),
        page("d", 0, Some("https://t.co/x"), HOME),
        page(
            "f",
            0,
            None,
            "https://intranet.example.org/?utm_campaign=Spring",
        ),
        page("g", 0, Some("https://blog.example.com/"), HOME),
        page("h", 0, Some("https://blog.example.com/b"), HOME),
        page("i", 0, Some("https://news.example.net/"), HOME),
        page("j", 30, None, HOME),
    ])
    .unwrap();
    let get = |q: &str| -> serde_json::Value {
        serde_json::from_str(&e.api(&format!("idSite=1&format=json&{q}")).unwrap()).unwrap()
    };
    let one = get("method=Referrers.get&period=day&date=2024-06-01");
    let n = |k: &str| one[k].as_u64().unwrap_or_else(|| panic!("{k}: {one}"));
    assert_eq!(
        [
            n("Referrers_visitorsFromSearchEngines"),
            n("Referrers_visitorsFromSocialNetworks"),
            n("Referrers_visitorsFromDirectEntry"),
            n("Referrers_visitorsFromWebsites"),
            n("Referrers_visitorsFromCampaigns"),
        ],
        [2, 1, 1, 3, 1]
    );
    assert_eq!(
        [
            n("Referrers_distinctSearchEngines"),
            n("Referrers_distinctSocialNetworks"),
            n("Referrers_distinctKeywords"),
            n("Referrers_distinctWebsites"),
            n("Referrers_distinctWebsitesUrls"),
            n("Referrers_distinctCampaigns"),
        ],
        [2, 1, 2, 2, 3, 1]
    );
    // 3 of 8 visits.
    assert_eq!(one["Referrers_visitorsFromWebsites_percent"], "38%");
    for (column, getter) in [
        ("Referrers_distinctWebsites", "getNumberOfDistinctWebsites"),
        (
            "Referrers_distinctWebsitesUrls",
            "getNumberOfDistinctWebsitesUrls",
        ),
        ("Referrers_distinctKeywords", "getNumberOfDistinctKeywords"),
    ] {
        let v = get(&format!(
            "method=Referrers.{getter}&period=day&date=2024-06-01"
        ));
        assert_eq!(one[column], v["value"], "{getter}");
    }
    // Several periods: one object each, the day without visits all 0.
    let days = get("method=Referrers.get&period=day&date=2024-06-01,2024-06-02");
    assert_eq!(days["2024-06-01"], one);
    assert_eq!(days["2024-06-02"]["Referrers_visitorsFromDirectEntry"], 1);
    assert_eq!(
        days["2024-06-02"]["Referrers_visitorsFromDirectEntry_percent"],
        "100%"
    );
}

/// Matomo's tracker strips a campaign's name and keyword parameters from
/// the URLs it stores (`campaign_var_name`, `campaign_keyword_var_name`),
/// and the visit keeps the campaign: a page reached from a campaign is
/// one page with the same page reached otherwise, while the campaign
/// report still names the campaign, its keyword and its parts. Other
/// parameters stay, in their order; downloads keep their URLs; a campaign
/// on a later action is the visit's only when the visit was a direct
/// entry (Matomo's tracker gives a direct entry a later request's
/// referrer).
#[test]
fn campaign_parameters_leave_page_urls_and_the_visit_keeps_its_campaign() {
    let mut e = Engine::in_memory();
    e.add_site(site()).unwrap();
    let landing = "https://intranet.example.org/a?x=1&PK_CAMPAIGN=Spring&pk_kwd=Tulips&utm_medium=Mail&utm_content=top";
    let mut download = Hit::new(1, 1_717_200_060, "b", HitType::Download);
    download.url = Some("https://intranet.example.org/f.pdf?utm_campaign=Spring".into());
    let mut later = page(
        "b",
        0,
        None,
        "https://intranet.example.org/a?x=1&mtm_campaign=Autumn",
    );
    later.ts += 120;
    let mut direct_later = page(
        "d",
        0,
        None,
        "https://intranet.example.org/b?mtm_campaign=Autumn",
    );
    direct_later.ts += 60;
    e.ingest([
        page("a", 0, None, landing),
        page(
            "b",
            0,
            Some("https://www.google.com/search?q=payroll"),
            "https://intranet.example.org/a?x=1",
        ),
        download,
        later,
        // A campaign named by its keyword alone.
        page("c", 0, None, "https://intranet.example.org/?utm_term=Shoes"),
        // A direct entry, then a page of a campaign: the visit's.
        page("d", 0, None, "https://intranet.example.org/b"),
        direct_later,
    ])
    .unwrap();
    let ask = |q: &str| -> serde_json::Value {
        let q = format!("{q}&idSite=1&period=day&date=2024-06-01&format_metrics=0");
        serde_json::from_str(&e.api(&q).unwrap()).unwrap()
    };
    let rows = |q: &str, column: &str| -> std::collections::BTreeSet<(String, u64)> {
        ask(q)
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["label"].as_str().unwrap().to_owned(),
                    r[column].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let set = |xs: &[(&str, u64)]| xs.iter().map(|(l, n)| (l.to_string(), *n)).collect();
    assert_eq!(
        rows("method=Actions.getPageUrls&flat=1", "nb_hits"),
        set(&[
            ("/a?x=1", 2),
            ("/a?x=1&utm_content=top", 1),
            ("/", 1),
            ("/b", 2)
        ])
    );
    let downloads = ask("method=Actions.getDownloads&flat=1");
    assert_eq!(
        downloads[0]["label"],
        "https://intranet.example.org/f.pdf?utm_campaign=Spring"
    );
    assert_eq!(
        rows("method=Referrers.getReferrerType", "nb_visits"),
        set(&[("Campaigns", 3), ("Search Engines", 1)])
    );
    let campaigns = ask("method=Referrers.getCampaigns");
    assert_eq!(
        rows("method=Referrers.getCampaigns", "nb_visits"),
        set(&[("spring", 1), ("autumn", 1), ("Unknown", 1)])
    );
    let spring = campaigns
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["label"] == "spring")
        .unwrap();
    let id = spring["idsubtable"].as_u64().unwrap();
    assert_eq!(
        rows(
            &format!("method=Referrers.getKeywordsFromCampaignId&idSubtable={id}"),
            "nb_visits"
        ),
        set(&[("tulips", 1)])
    );
    // The campaign's parts: the stripped medium, and the content the URL
    // keeps; `pageUrl` matches the stored URL.
    for (segment, visits) in [
        ("campaignMedium==mail", 1),
        ("campaignContent==top", 1),
        ("campaignKeyword==shoes", 1),
        ("pageUrl==https%3A%2F%2Fintranet.example.org%2Fa%3Fx%3D1", 1),
        // d's visit, not b's (a search visit keeps its referrer).
        ("referrerName==autumn", 1),
        ("referrerName==autumn;visitorId==d", 1),
    ] {
        let v = ask(&format!(
            "method=VisitsSummary.get&segment={}",
            segment.replace('=', "%3D")
        ));
        assert_eq!(v["nb_visits"], visits, "{segment}");
    }
}
