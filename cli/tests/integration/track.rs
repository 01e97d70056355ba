//! `hitmap serve --track`: Matomo's tracking API over loopback HTTP. The
//! reports of tracked visits equal those of the same hits ingested as
//! NDJSON, and a writer killed at any moment keeps every request it
//! acknowledged, exactly once.

use std::collections::BTreeMap;
use std::time::Duration;

use hitmap::{Engine, SiteConfig};
use hitmap_intake::track::{Client, TrackOptions, Tracked, Tracker};

use crate::TempDir;
use crate::server::{METHODS, Server, agent, finish, get};

const UAS: [&str; 3] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
];
const LANGS: [&str; 3] = ["de-CH,de;q=0.9", "fr", "en-GB"];

fn store(tag: &str) -> TempDir {
    let dir = TempDir::new(tag);
    let mut e = Engine::open(&dir.0).unwrap();
    e.add_site(SiteConfig::new(1).host("x.org").section("News", ["/news"]))
        .unwrap();
    drop(e);
    dir
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The days around the traffic from `start` to now, whatever the zone.
fn window(start: i64) -> (chrono::NaiveDate, chrono::NaiveDate) {
    let day = |t: i64| chrono::DateTime::from_timestamp(t, 0).unwrap().date_naive();
    (day(start - 86_400), day(now() + 86_400))
}

/// A scripted stretch of traffic: (query, user agent, language).
fn script(start: i64) -> Vec<(String, usize, usize)> {
    let mut out = Vec::new();
    let pages = ["/", "/news/a", "/news/b", "/about", "/teams/hr"];
    for v in 0..30usize {
        let id = format!("{:016x}", 0xabc000 + v);
        let (ua, lang) = (v % 3, (v / 3) % 3);
        for k in 0..(1 + v % 5) {
            let ts = start
                + (v as i64) * 97
                + (k as i64) * 40
                + if v % 7 == 0 && k > 1 { 4000 } else { 0 };
            let page = pages[(v + k) % pages.len()];
            let url = hitmap::encode_query_value(&format!("https://x.org{page}?src={k}"));
            let mut q = format!(
                "idsite=1&rec=1&_id={id}&cdt={ts}&url={url}&action_name=P{}",
                (v + k) % 4
            );
            if k == 0 && v % 4 == 1 {
                q.push_str("&urlref=https%3A%2F%2Fwww.google.de%2Fsearch%3Fq%3Dhitmap");
            }
            if k == 0 && v % 6 == 2 {
                q.push_str("&_rcn=Spring&_rck=Mail");
            }
            if v % 5 == 3 && k == 1 {
                q.push_str("&download=https%3A%2F%2Fx.org%2Ff.pdf");
            }
            if v % 8 == 4 && k == 2 {
                q.push_str("&e_c=Video&e_a=Play&e_v=3");
            }
            if v % 9 == 5 {
                q.push_str("&uid=user-5&dimension1=HR&res=1280x800&h=9");
            }
            out.push((q, ua, lang));
        }
    }
    out
}

#[test]
fn tracked_visits_answer_what_the_same_hits_answer_as_ndjson() {
    let dir = store("track-equal");
    let server = Server::start(&dir.0, &["--track"]);
    let start = now() - 6 * 3600;
    let script = script(start);
    let agent = agent();
    let track = format!("{}/matomo.php", server.base);
    // Most requests one by one (GET and POST), the rest as one bulk request.
    let (single, bulk) = script.split_at(script.len() - 12);
    for (i, (q, ua, lang)) in single.iter().enumerate() {
        let req = |r: ureq::RequestBuilder<_>| {
            r.header("User-Agent", UAS[*ua])
                .header("Accept-Language", LANGS[*lang])
        };
        let got = if i % 2 == 0 {
            finish(req(agent.get(&format!("{track}?{q}"))).call().unwrap())
        } else {
            let r = agent
                .post(&track)
                .header("User-Agent", UAS[*ua])
                .header("Accept-Language", LANGS[*lang]);
            finish(
                r.content_type("application/x-www-form-urlencoded")
                    .send(q.as_str())
                    .unwrap(),
            )
        };
        assert_eq!(got.status, 200, "{q}: {}", got.body);
        assert_eq!(got.content_type, "image/gif");
    }
    // Bulk requests carry no headers of their own: ua and lang go in them.
    let requests: Vec<String> = bulk
        .iter()
        .map(|(q, ua, lang)| {
            format!(
                "?{q}&ua={}&lang={}",
                hitmap::encode_query_value(UAS[*ua]),
                hitmap::encode_query_value(LANGS[*lang])
            )
        })
        .collect();
    let body = serde_json::json!({ "requests": requests }).to_string();
    let got = finish(
        agent
            .post(&track)
            .content_type("application/json")
            .send(body.as_str())
            .unwrap(),
    );
    assert_eq!(got.status, 200);
    let v: serde_json::Value = serde_json::from_str(&got.body).unwrap();
    assert_eq!(
        (
            v["status"].as_str(),
            v["tracked"].as_u64(),
            v["invalid"].as_u64()
        ),
        (Some("success"), Some(12), Some(0))
    );
    // send_image=0 answers 204; a bad site 400; no parameters, Matomo's page.
    let got = get(&format!("{track}?{}&send_image=0", single[0].0), &[]);
    assert_eq!(got.status, 204);
    assert_eq!(
        get(&format!("{track}?idsite=99&rec=1&url=x"), &[]).status,
        400
    );
    let page = get(&track, &[]);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("tracking API"));

    // The same requests through the library, ingested as NDJSON.
    let mut expected = Engine::in_memory();
    expected.set_live_limit(0);
    expected
        .add_site(SiteConfig::new(1).host("x.org").section("News", ["/news"]))
        .unwrap();
    let mut tracker = Tracker::new(&expected, TrackOptions::default()).unwrap();
    let mut ndjson = String::new();
    let mut push = |q: &str, ua: usize, lang: usize| {
        let client = Client {
            ip: "127.0.0.1",
            user_agent: Some(UAS[ua]),
            accept_language: Some(LANGS[lang]),
            now: now(),
        };
        if let Ok(Tracked::Hit(h)) = tracker.track_query(q, &client) {
            ndjson.push_str(&h.to_ndjson());
            ndjson.push('\n');
        }
    };
    for (q, ua, lang) in single {
        push(q, *ua, *lang);
    }
    push(
        &format!("{}&send_image=0", single[0].0),
        single[0].1,
        single[0].2,
    );
    for (q, ua, lang) in bulk {
        push(q, *ua, *lang);
    }
    expected.ingest_ndjson(ndjson.as_bytes()).unwrap();
    let (from, to) = window(start);
    let answers = |answer: &dyn Fn(&str) -> String| -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for m in METHODS.iter().map(|m| {
            m.replace("dimension=department", "dimension=dimension1")
                .replace("idDimension=2", "idDimension=1")
        }) {
            for period in ["day", "range"] {
                for seg in ["", "&segment=referrerType%3D%3Dcampaign", "&section=News"] {
                    let q = format!(
                        "method={m}&idSite=1&period={period}&date={from},{to}&format=json&format_metrics=0{seg}"
                    );
                    out.insert(q.clone(), answer(&q));
                }
            }
        }
        out
    };
    let want = answers(&|q| expected.api(q).unwrap());
    let served = answers(&|q| get(&format!("{}/index.php?module=API&{q}", server.base), &[]).body);
    assert_eq!(
        served, want,
        "the server (live parts) answers what a rebuild answers"
    );
    assert!(want.values().any(|a| a.contains("campaign")));
    // Stopped, it seals; the store then answers the same.
    assert!(server.stop().success());
    // No file of the store (log, days, dictionaries, packed or not) holds
    // the client's IP.
    let holding = hitmap::files_holding(&dir.0, b"127.0.0.1").unwrap();
    assert!(
        holding.iter().all(|p| p.ends_with("plan.json")),
        "{holding:?} hold the IP"
    );
    let sealed = Engine::open_read_only(&dir.0).unwrap();
    assert_eq!(sealed.live_hits(), 0);
    assert_eq!(answers(&|q| sealed.api(q).unwrap()), want);
}

#[test]
fn a_writer_killed_at_any_moment_keeps_every_acknowledged_request_once() {
    let dir = store("track-crash");
    let mut acked: Vec<u64> = Vec::new();
    let mut next = 0u64;
    for round in 0..4u64 {
        let server = Server::start(&dir.0, &["--track"]);
        let base = server.base.clone();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let workers: Vec<_> = (0..4u64)
            .map(|w| {
                let (base, stop) = (base.clone(), stop.clone());
                let first = next + w * 1_000_000;
                std::thread::spawn(move || {
                    let agent = agent();
                    let mut got = Vec::new();
                    let mut i = first;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let q = format!("{base}/matomo.php?idsite=1&rec=1&_id={:016x}&url=https%3A%2F%2Fx.org%2Fp%2F{i}", i % 97);
                        if let Ok(r) = agent.get(&q).call()
                            && r.status() == 200
                        {
                            got.push(i);
                        }
                        i += 1;
                    }
                    got
                })
            })
            .collect();
        // Kill at a moment that varies by round, mid-traffic.
        std::thread::sleep(Duration::from_millis(150 + 97 * round));
        let mut server = server;
        server.child.kill().unwrap(); // SIGKILL
        server.child.wait().unwrap();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for w in workers {
            acked.extend(w.join().unwrap());
        }
        next += 10_000_000;
        std::mem::forget(server);
    }
    assert!(
        acked.len() > 50,
        "only {} requests were acknowledged",
        acked.len()
    );
    let e = Engine::open_read_only(&dir.0).unwrap();
    let mut seen: BTreeMap<u64, u32> = BTreeMap::new();
    for h in e.export_hits(1, "1970-01-01", "9999-12-31").unwrap() {
        let i: u64 = h.url.unwrap().rsplit('/').next().unwrap().parse().unwrap();
        *seen.entry(i).or_default() += 1;
    }
    for i in &acked {
        assert_eq!(seen.get(i), Some(&1), "acknowledged request {i}");
    }
    assert!(seen.values().all(|&n| n == 1), "a request stored twice");
    // A writer reopens it, seals, and nothing changes.
    let mut w = Engine::open(&dir.0).unwrap();
    let before = w.query(&hitmap::Query::site(1)).unwrap().visits_summary();
    w.seal().unwrap();
    assert_eq!(
        w.query(&hitmap::Query::site(1)).unwrap().visits_summary(),
        before
    );
}

/// Where `scripts/test-all` installs npm's `matomo-tracker`.
fn node_modules() -> std::path::PathBuf {
    std::env::var_os("HITMAP_NODE_MODULES").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/npm/node_modules"),
        std::path::PathBuf::from,
    )
}

#[test]
fn npms_matomo_tracker_sends_a_day_that_answers_like_ndjson() {
    let modules = node_modules();
    assert!(
        modules.join("matomo-tracker").is_dir(),
        "npm's matomo-tracker is not installed in {}: run `npm install --prefix target/npm matomo-tracker` (scripts/test-all does)",
        modules.display()
    );
    let dir = store("track-npm");
    // An ecommerce site with a manual goal: the script ends with a goal
    // conversion, an order with items and an abandoned cart.
    let shop = || {
        SiteConfig::new(1)
            .host("x.org")
            .section("News", ["/news"])
            .ecommerce(true)
            .goal(hitmap::Goal::manual(1, "Signed up").revenue(5.0))
    };
    {
        let mut e = Engine::open(&dir.0).unwrap();
        e.add_site(shop()).unwrap();
    }
    let server = Server::start(&dir.0, &["--track"]);
    let start = now() - 6 * 3600;
    // The script's requests as parameter objects, with the user agent and
    // language in them (the Node client sends neither header).
    let to_object = |(q, ua, lang): &(String, usize, usize)| {
        let mut o: serde_json::Map<String, serde_json::Value> = hitmap::query_pairs(q)
            .filter(|(k, _)| k != "idsite" && k != "rec")
            .map(|(k, v)| (k, v.into()))
            .collect();
        o.insert("ua".into(), UAS[*ua].into());
        o.insert("lang".into(), LANGS[*lang].into());
        o
    };
    let mut script = script(start);
    let items = hitmap::encode_query_value(
        r#"[["MUG","Mug",["Kitchen","Gifts"],9.5,2],["PEN","Pen","Office",2,3]]"#,
    );
    let shopper = "_id=0000000000abc001";
    let at = |s: i64| format!("cdt={}", start + 97 + s);
    let url = "url=https%3A%2F%2Fx.org%2Fcheckout";
    script.insert(
        0,
        (
            format!("idsite=1&rec=1&{shopper}&{}&{url}&idgoal=0&ec_id=A-17&revenue=25&ec_st=25&ec_tx=4.5&ec_sh=0&ec_items={items}", at(30)),
            1,
            0,
        ),
    );
    script.insert(
        0,
        (
            format!("idsite=1&rec=1&{shopper}&{}&{url}&idgoal=1", at(20)),
            1,
            0,
        ),
    );
    script.push((
        format!(
            "idsite=1&rec=1&_id=0000000000abc002&{}&{url}&idgoal=0&revenue=9.5&ec_items={}",
            at(150),
            hitmap::encode_query_value(r#"[["MUG","Mug","Kitchen",9.5,1]]"#)
        ),
        0,
        1,
    ));
    let (single, bulk) = script.split_at(script.len() - 20);
    let plan = serde_json::json!({
        "single": single.iter().map(to_object).collect::<Vec<_>>(),
        "bulk": bulk.iter().map(to_object).collect::<Vec<_>>(),
    });
    let plan_path = dir.0.join("plan.json");
    std::fs::write(&plan_path, plan.to_string()).unwrap();
    let out = std::process::Command::new("node")
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node/track-day.js"))
        .arg(&server.base)
        .arg(&plan_path)
        .env("NODE_PATH", &modules)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bulk_answer: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(bulk_answer["tracked"], 20, "{stdout}");
    // The same parameters through the library, as NDJSON.
    let mut expected = Engine::in_memory();
    expected.add_site(shop()).unwrap();
    let mut tracker = Tracker::new(&expected, TrackOptions::default()).unwrap();
    let mut ndjson = String::new();
    for o in plan["single"]
        .as_array()
        .unwrap()
        .iter()
        .chain(plan["bulk"].as_array().unwrap())
    {
        let mut params: Vec<(String, String)> =
            vec![("idsite".into(), "1".into()), ("rec".into(), "1".into())];
        params.extend(
            o.as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned())),
        );
        let client = Client {
            ip: "127.0.0.1",
            user_agent: None,
            accept_language: None,
            now: now(),
        };
        let Ok(Tracked::Hit(h)) = tracker.track(&params, &client, None) else {
            panic!("{params:?}")
        };
        ndjson.push_str(&h.to_ndjson());
        ndjson.push('\n');
    }
    expected.ingest_ndjson(ndjson.as_bytes()).unwrap();
    let (from, to) = window(start);
    // Single requests are fire-and-forget in that client: node exits when
    // every response came back, so all are in.
    for m in METHODS.iter().map(|m| {
        m.replace("dimension=department", "dimension=dimension1")
            .replace("idDimension=2", "idDimension=1")
    }) {
        let q = format!(
            "method={m}&idSite=1&period=range&date={from},{to}&format=json&format_metrics=0"
        );
        let served = get(&format!("{}/index.php?module=API&{q}", server.base), &[]).body;
        assert_eq!(served, expected.api(&q).unwrap(), "{q}");
    }
    // The order, its products, the cart and the goal conversion.
    let ask = |m: &str| {
        let q = format!("method={m}&idSite=1&period=range&date={from},{to}&format=json");
        let served = get(&format!("{}/index.php?module=API&{q}", server.base), &[]).body;
        assert_eq!(served, expected.api(&q).unwrap(), "{q}");
        serde_json::from_str::<serde_json::Value>(&served).unwrap()
    };
    let orders = ask("Goals.get&idGoal=ecommerceOrder");
    assert_eq!(
        (
            orders["nb_conversions"].clone(),
            orders["revenue"].clone(),
            orders["items"].clone(),
            orders["revenue_tax"].clone()
        ),
        (1.into(), 25.into(), 5.into(), 4.5.into())
    );
    let carts = ask("Goals.get&idGoal=ecommerceAbandonedCart");
    assert_eq!(
        (carts["nb_conversions"].clone(), carts["items"].clone()),
        (1.into(), 1.into())
    );
    let goal = ask("Goals.get&idGoal=1");
    assert_eq!(
        (goal["nb_conversions"].clone(), goal["revenue"].clone()),
        (1.into(), 5.into())
    );
    let products = ask("Goals.getItemsSku");
    let rows: Vec<(&str, u64)> = products
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["label"].as_str().unwrap(),
                r["quantity"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(rows, [("MUG", 2), ("PEN", 3)]);
}
