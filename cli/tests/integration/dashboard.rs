//! The dashboard at `/` in a real browser (Debian's chromium driven by
//! npm's playwright-core, `tests/node/dashboard.js`) against `hitmap
//! serve` on loopback with the sample data: what the page shows equals
//! what the Reporting API answers.

use std::path::PathBuf;

use serde_json::Value;

use crate::server::{Server, get};
use crate::{TempDir, hitmap, sample_store, text};

/// Where `scripts/test-all` installs npm's packages (playwright-core).
fn node_modules() -> PathBuf {
    std::env::var_os("HITMAP_NODE_MODULES").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/npm/node_modules"),
        PathBuf::from,
    )
}

/// Runs the browser script; what it saw.
fn browse(base: &str, hash: &str, screenshot: &std::path::Path, token: Option<&str>) -> Value {
    let modules = node_modules();
    assert!(
        modules.join("playwright-core").is_dir(),
        "npm's playwright-core is not installed in {}: run `npm install --prefix target/npm playwright-core` (scripts/test-all does), and Debian's chromium",
        modules.display()
    );
    let mut cmd = std::process::Command::new("node");
    cmd.arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node/dashboard.js"))
        .args([base, hash, screenshot.to_str().unwrap()])
        .env("NODE_PATH", &modules);
    if let Some(t) = token {
        cmd.arg(t);
    }
    let out = cmd.output().expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap()
}

fn api(base: &str, q: &str) -> Value {
    let got = get(&format!("{base}/index.php?module=API&format=json&{q}"), &[]);
    assert_eq!(got.status, 200, "{q}: {}", got.body);
    serde_json::from_str(&got.body).unwrap()
}

const RANGE: &str = "idSite=1&period=range&date=2025-01-01,2025-01-21";

#[test]
fn the_dashboard_shows_what_the_api_answers() {
    let dir = TempDir::new("dashboard");
    let store = sample_store(&dir.0);
    let out = hitmap(&[
        "goals",
        "add",
        store.to_str().unwrap(),
        "--site",
        "1",
        "--name",
        "News reader",
        "--match",
        "url",
        "--pattern",
        "/news",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // An ecommerce site (the sample's configuration, plus the flag) with
    // a few orders: the goals panel shows them, the products panel too.
    let s = store.to_str().unwrap();
    crate::init_sample_site(s, &["--ecommerce"]);
    let mut orders = String::new();
    for (i, (sku, qty)) in [("MUG", 2), ("PEN", 5), ("MUG", 1)].into_iter().enumerate() {
        let ts = 1_736_074_800 + i as i64 * 86_400; // 2025-01-05 11:00 UTC, then a day apart
        let shopper = format!("shopper{i}");
        orders.push_str(&format!(
            "{{\"site\":1,\"ts\":{ts},\"visitor\":\"{shopper}\",\"url\":\"https://intranet.example.org/shop\"}}\n\
             {{\"site\":1,\"ts\":{},\"visitor\":\"{shopper}\",\"type\":\"order\",\"order\":{{\"id\":\"A{i}\"}},\"revenue\":{},\"items\":[{{\"sku\":\"{sku}\",\"price\":2.5,\"quantity\":{qty}}}]}}\n",
            ts + 30,
            2.5 * f64::from(qty)
        ));
    }
    let file = dir.join("orders.ndjson");
    std::fs::write(&file, orders).unwrap();
    let out = hitmap(&["ingest", s, file.to_str().unwrap(), "--no-progress"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let server = Server::start(&store, &[]);
    let b = &server.base;
    let shot = dir.join("dashboard.png");
    let hash = "site=1&preset=custom&from=2025-01-01&to=2025-01-21&period=day";
    let seen = browse(b, hash, &shot, None);
    assert_eq!(
        seen["errors_at_load"],
        Value::Array(vec![]),
        "console errors: {seen}"
    );
    // Later, only the wrong segment's answer (400) is a failed resource.
    for e in seen["errors"].as_array().unwrap() {
        let e = e.as_str().unwrap();
        assert!(e.contains("status of 400"), "console error: {e}");
    }
    // The tiles are the API's numbers for the same range.
    let want = api(
        b,
        &format!("method=VisitsSummary.get&{RANGE}&format_metrics=0"),
    );
    for k in ["nb_visits", "nb_uniq_visitors", "nb_users", "nb_actions"] {
        assert_eq!(seen["tiles"][k], want[k].to_string(), "{k}: {seen}");
    }
    assert!(want["nb_visits"].as_u64().unwrap() > 100);
    // The URL carries the view.
    let h = seen["hash"].as_str().unwrap();
    assert!(h.contains("from=2025-01-01") && h.contains("site=1"), "{h}");
    assert_eq!(seen["sites"], serde_json::json!(["1"]));
    let sections: Vec<&str> = seen["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        sections.contains(&"News") && sections.contains(&"HR"),
        "{sections:?}"
    );
    assert!(seen["segment_names"].as_u64().unwrap() > 40);
    assert!(
        seen["chart"].as_u64().unwrap() >= 1,
        "the time series is drawn"
    );
    // The goal's panel.
    assert_eq!(seen["goals_shown"], true);
    let goal = api(b, &format!("method=Goals.get&{RANGE}&idGoal=1"));
    assert_eq!(seen["goal_rows"][0][1], goal["nb_conversions"].to_string());
    let orders = api(
        b,
        &format!("method=Goals.get&{RANGE}&idGoal=ecommerceOrder"),
    );
    assert_eq!(orders["nb_conversions"], 3);
    assert_eq!(seen["goal_rows"][1][0], "Ecommerce orders");
    assert_eq!(
        seen["goal_rows"][1][1],
        orders["nb_conversions"].to_string()
    );
    assert_eq!(seen["goal_rows"][2][0], "Abandoned carts");
    assert_eq!(seen["products_shown"], true);
    let products = api(
        b,
        &format!(
            "method=Goals.getItemsSku&{RANGE}&filter_sort_column=revenue&filter_sort_order=desc"
        ),
    );
    let skus: Vec<&Value> = products
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["label"])
        .collect();
    assert_eq!(seen["products"], serde_json::json!(skus));
    assert_eq!(skus.len(), 2);
    // Paging reaches every row of the pages report, in its order.
    let pages = api(
        b,
        &format!(
            "method=Actions.getPageUrls&flat=1&{RANGE}&filter_limit=-1&filter_sort_column=nb_hits&filter_sort_order=desc"
        ),
    );
    let labels: Vec<&str> = pages
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["label"].as_str().unwrap())
        .collect();
    let shown: Vec<&str> = seen["page_labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(labels.len() > 10, "more than one page of rows");
    assert_eq!(shown, labels);
    // The CSV link downloads the report's rows in the order shown.
    let csv = seen["csv"].as_str().unwrap();
    let sorted = api(
        b,
        &format!(
            "method=Actions.getPageUrls&flat=1&{RANGE}&filter_limit=-1&filter_sort_column=nb_visits&filter_sort_order=asc"
        ),
    );
    let csv_rows: Vec<&str> = csv.lines().skip(1).filter(|l| !l.is_empty()).collect();
    assert_eq!(csv_rows.len(), sorted.as_array().unwrap().len(), "{csv}");
    assert_eq!(seen["sorted_first"], sorted[0]["label"]);
    assert!(
        csv_rows[0].starts_with(sorted[0]["label"].as_str().unwrap()),
        "{csv}"
    );
    assert!(
        seen["api_link"]
            .as_str()
            .unwrap()
            .contains("method=Actions.getPageUrls")
    );
    assert_eq!(seen["trend"], true);
    // The segment box suggests the device types the site holds.
    let suggested = api(
        b,
        "method=API.getSuggestedValuesForSegment&idSite=1&segmentName=deviceType",
    );
    let want_suggestions: Vec<String> = suggested
        .as_array()
        .unwrap()
        .iter()
        .map(|v| format!("deviceType=={}", v.as_str().unwrap()))
        .collect();
    assert!(want_suggestions.contains(&"deviceType==smartphone".to_string()));
    assert_eq!(seen["suggestions"], serde_json::json!(want_suggestions));
    // A segment changes the tiles to the segment's numbers.
    let phones = api(
        b,
        &format!(
            "method=VisitsSummary.get&{RANGE}&segment=deviceType%3D%3Dsmartphone&format_metrics=0"
        ),
    );
    assert_eq!(
        seen["segment_tiles"]["nb_visits"],
        phones["nb_visits"].to_string()
    );
    assert_ne!(phones["nb_visits"], want["nb_visits"]);
    assert!(
        seen["segment_hash"]
            .as_str()
            .unwrap()
            .contains("segment=deviceType")
    );
    // A wrong segment shows the server's own reason.
    let wrong = get(
        &format!(
            "{b}/index.php?module=API&format=json&method=VisitsSummary.get&{RANGE}&segment=nonsense%3D%3D1"
        ),
        &[],
    );
    let reason: Value = serde_json::from_str(&wrong.body).unwrap();
    assert_eq!(seen["segment_error"], reason["message"], "{seen}");
    // Compared with the previous period: a delta on every tile.
    assert_eq!(seen["deltas"].as_array().unwrap().len(), 6, "{seen}");
    assert_eq!(seen["phone_overflow"], false, "readable on a phone");
    assert!(shot.is_file());
    // Kept where `scripts/test-all` prints it (target/dashboard.png), or
    // at HITMAP_SCREENSHOT=path (the README's picture).
    let kept = std::env::var_os("HITMAP_SCREENSHOT").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/dashboard.png"),
        PathBuf::from,
    );
    std::fs::copy(&shot, &kept).unwrap();
    println!("dashboard screenshot: {}", kept.display());
}

#[test]
fn a_token_protected_dashboard_asks_for_the_token_once() {
    let dir = TempDir::new("dashboard-token");
    let store = sample_store(&dir.0);
    // A second site the token may not read: the page never lists it.
    let out = hitmap(&["init", store.to_str().unwrap(), "--site", "2"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let tokens = dir.join("tokens");
    std::fs::write(&tokens, "reader-token 1\n").unwrap();
    let server = Server::start(&store, &["--token-file", tokens.to_str().unwrap()]);
    // The page itself needs no token; the API does.
    assert_eq!(get(&format!("{}/", server.base), &[]).status, 200);
    assert_eq!(
        get(&format!("{}/assets/app.js", server.base), &[]).status,
        200
    );
    let shot = dir.join("dashboard-token.png");
    let hash = "site=1&preset=custom&from=2025-01-01&to=2025-01-21";
    let seen = browse(&server.base, hash, &shot, Some("reader-token"));
    assert_eq!(seen["asked_token"], true);
    assert_eq!(
        seen["sites"],
        serde_json::json!(["1"]),
        "only the token's sites"
    );
    let want = get(
        &format!(
            "{}/index.php?module=API&format=json&method=VisitsSummary.get&{RANGE}&token_auth=reader-token",
            server.base
        ),
        &[],
    );
    let want: Value = serde_json::from_str(&want.body).unwrap();
    assert_eq!(seen["tiles"]["nb_visits"], want["nb_visits"].to_string());
    // The one failed resource is the first request's 401, before the token.
    let errors: Vec<&str> = seen["errors_at_load"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert!(
        errors.iter().all(|e| e.contains("status of 401")),
        "{errors:?}"
    );
}
