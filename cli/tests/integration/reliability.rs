//! Issue 30's failures, each against the real server on loopback: a full
//! disk under live tracking, tokens that write only their sites, idle and
//! slow connections, request bodies in flight, a costly parameter, the
//! request time budget, and `hitmap report --limit -1`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use hitmap::{Engine, SiteConfig};

use crate::server::{Server, agent, finish, get, post};
use crate::{TempDir, hitmap, sample_store, text};

#[path = "../../../core/tests/integration/tmpfs.rs"]
mod tmpfs;

use tmpfs::noise;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A bulk tracking body of `n` page views, numbered from `first`, whose
/// URLs do not compress.
fn bulk(first: u64, n: u64) -> String {
    let requests: Vec<String> = (first..first + n)
        .map(|i| {
            format!(
                "\"?idsite=1&rec=1&_id={:016x}&url=https%3A%2F%2Fx.org%2Fp%2F{i}%2F{}\"",
                i % 7,
                noise(i, 200)
            )
        })
        .collect();
    format!("{{\"requests\": [{}]}}", requests.join(","))
}

fn post_bulk(base: &str, body: &str) -> u16 {
    match agent()
        .post(format!("{base}/matomo.php"))
        .content_type("application/json")
        .send(body)
    {
        Ok(r) => r.status().as_u16(),
        Err(e) => panic!("{e}"),
    }
}

/// Page numbers of the stored hits of site 1.
fn stored_pages(dir: &std::path::Path) -> Vec<u64> {
    let e = Engine::open_read_only(dir).unwrap();
    let mut pages: Vec<u64> = e
        .export_hits(1, "1970-01-01", "9999-12-31")
        .unwrap()
        .into_iter()
        .map(|h| h.url.unwrap().split('/').nth(4).unwrap().parse().unwrap())
        .collect();
    pages.sort_unstable();
    pages
}

#[test]
fn live_tracking_takes_hits_again_once_a_full_disk_has_room() {
    let fs = tmpfs::Tmpfs::mount("track-full", 4096);
    let dir = fs.path().join("store");
    let mut e = Engine::open(&dir).unwrap();
    e.add_site(SiteConfig::new(1).host("x.org")).unwrap();
    drop(e);
    let server = Server::start(&dir, &["--track"]);
    let b = server.base.clone();
    let mut acked = Vec::new();
    assert_eq!(post_bulk(&b, &bulk(0, 30)), 200);
    acked.extend(0..30);
    let filler = fs.fill();
    let mut refused = 0;
    for round in 1..=4u64 {
        match post_bulk(&b, &bulk(round * 100, 30)) {
            200 => acked.extend(round * 100..round * 100 + 30),
            503 => refused += 1,
            other => panic!("status {other} while the disk is full"),
        }
    }
    assert!(
        refused >= 3,
        "the full disk refused {refused} of 4 bulk requests"
    );
    fs.free(&filler);
    // Room again: acknowledged at once, no restart.
    for round in 5..=8u64 {
        assert_eq!(post_bulk(&b, &bulk(round * 100, 30)), 200, "round {round}");
        acked.extend(round * 100..round * 100 + 30);
    }
    // The store checks clean while the server still runs.
    let check = hitmap(&["check", dir.to_str().unwrap()]);
    assert!(
        check.status.success(),
        "{}{}",
        text(&check.stdout),
        text(&check.stderr)
    );
    assert!(server.stop().success());
    acked.sort_unstable();
    assert_eq!(stored_pages(&dir), acked, "exactly the acknowledged hits");
}

#[test]
fn a_token_for_one_site_back_dates_and_sets_addresses_only_there() {
    let dir = TempDir::new("track-token");
    let store = dir.join("store");
    let mut e = Engine::open(&store).unwrap();
    e.add_site(SiteConfig::new(1).host("x.org")).unwrap();
    e.add_site(SiteConfig::new(2).host("y.org")).unwrap();
    drop(e);
    let tokens = dir.join("tokens");
    std::fs::write(&tokens, "site-one 1\nevery-site\n").unwrap();
    let server = Server::start(
        &store,
        &["--track", "--token-file", tokens.to_str().unwrap()],
    );
    let b = &server.base;
    let old = now() - 5 * 86_400;
    let track = |site: u32, token: &str, page: &str| {
        get(
            &format!(
                "{b}/matomo.php?idsite={site}&rec=1&_id=00000000000000aa&cdt={old}&cip=203.0.113.9&token_auth={token}&url=https%3A%2F%2Fh.org%2F{page}"
            ),
            &[],
        )
    };
    let refused = track(2, "site-one", "refused");
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_eq!(track(1, "site-one", "one").status, 200);
    assert_eq!(track(2, "every-site", "two").status, 200);
    // A bulk request's token counts per request's site too.
    let body = format!(
        r#"{{"requests": ["?idsite=2&rec=1&_id=00000000000000bb&cdt={old}&url=https%3A%2F%2Fh.org%2Fbulk"], "token_auth": "site-one"}}"#
    );
    let r = agent()
        .post(format!("{b}/matomo.php"))
        .content_type("application/json")
        .send(&body)
        .unwrap();
    let r = finish(r);
    assert!(r.body.contains("\"tracked\":0"), "{}", r.body);
    assert!(server.stop().success());
    let e = Engine::open_read_only(&store).unwrap();
    let urls = |site| -> Vec<String> {
        e.export_hits(site, "1970-01-01", "9999-12-31")
            .unwrap()
            .into_iter()
            .map(|h| h.url.unwrap())
            .collect()
    };
    assert_eq!(urls(1), ["https://h.org/one"]);
    assert_eq!(urls(2), ["https://h.org/two"]);
}

/// Reads a whole response from a raw connection (the server closes it).
fn read_all(mut s: TcpStream) -> String {
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

#[test]
fn idle_and_slow_clients_leave_the_server_to_everyone_else() {
    let dir = TempDir::new("slow-clients");
    let store = sample_store(&dir.0);
    let server = Server::start_with_file_limit(
        &store,
        &[
            "--header-timeout-ms",
            "500",
            "--body-timeout-ms",
            "500",
            "--max-concurrent",
            "4",
        ],
        256,
    );
    let addr = server.base.strip_prefix("http://").unwrap().to_string();
    let q = "module=API&method=VisitsSummary.get&idSite=1&period=day&date=2025-01-08";
    let healthz = || get(&format!("{}/healthz", server.base), &[]);
    // More idle connections than the server may open files: it keeps
    // answering, since idle ones are closed and the rest wait their turn.
    let idle: Vec<TcpStream> = (0..300)
        .map(|_| TcpStream::connect(&addr).unwrap())
        .collect();
    assert_eq!(healthz().status, 200);
    assert_eq!(
        get(&format!("{}/index.php?{q}", server.base), &[]).status,
        200
    );
    drop(idle);
    // Slow bodies, more than the request slots: none holds a slot while
    // it is sent, each gets 408 once its time is up.
    let slow: Vec<TcpStream> = (0..8)
        .map(|_| {
            let mut s = TcpStream::connect(&addr).unwrap();
            write!(
                s,
                "POST /index.php?{q} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nformat=json&"
            )
            .unwrap();
            s
        })
        .collect();
    assert_eq!(healthz().status, 200);
    let ok = get(&format!("{}/index.php?{q}", server.base), &[]);
    assert_eq!(ok.status, 200, "{}", ok.body);
    for s in slow {
        let answer = read_all(s);
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    }
    // Headers sent too slowly: the connection is closed.
    let mut s = TcpStream::connect(&addr).unwrap();
    write!(s, "GET /healthz HTTP/1.1\r\nHost").unwrap();
    let answer = read_all(s);
    assert!(!answer.contains("200 OK"), "{answer}");
    assert_eq!(healthz().status, 200);
}

#[test]
fn tracking_bodies_in_flight_are_bounded() {
    let dir = TempDir::new("bodies");
    let store = dir.join("store");
    let mut e = Engine::open(&store).unwrap();
    e.add_site(SiteConfig::new(1).host("x.org")).unwrap();
    drop(e);
    let server = Server::start(
        &store,
        &[
            "--track",
            "--max-inflight-mb",
            "8",
            "--max-track-body-bytes",
            "4000000",
            "--body-timeout-ms",
            "20000",
        ],
    );
    let before = server.peak_rss();
    // 48 bulk bodies of 3.5 MB at once: 168 MB that, parsed, would take
    // several times that much (without the bound the server grew by
    // about 230 MB here; with it, by about 70). Not tracking requests (no rec=1), so the
    // cost is reading them.
    let body = {
        let one = format!("\"?idsite=1&url=https%3A%2F%2Fx.org%2F{}\"", noise(1, 200));
        let n = 3_500_000 / one.len();
        format!("{{\"requests\": [{}]}}", vec![one; n].join(","))
    };
    let body = std::sync::Arc::new(body);
    let statuses: Vec<u16> = (0..48)
        .map(|_| {
            let (b, body) = (server.base.clone(), body.clone());
            std::thread::spawn(move || post_bulk(&b, &body))
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 503),
        "{statuses:?}"
    );
    assert!(statuses.contains(&200), "{statuses:?}");
    let grown = server.peak_rss().saturating_sub(before);
    assert!(
        grown < 150 << 20,
        "the server grew by {} MB for 8 MB of bodies in flight",
        grown >> 20
    );
    // Larger than the tracking limit: 413 before it is read.
    let mut s = TcpStream::connect(server.base.strip_prefix("http://").unwrap()).unwrap();
    write!(
        s,
        "POST /matomo.php HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4100000\r\n\r\n"
    )
    .unwrap();
    let answer = read_all(s);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
}

#[test]
fn a_long_label_list_answers_the_rows_asked_for() {
    let dir = TempDir::new("labels");
    let store = sample_store(&dir.0);
    let server = Server::start(&store, &["--max-request-bytes", "70000"]);
    let base = format!(
        "{}/index.php?module=API&method=Actions.getPageUrls&idSite=1&period=range&date=2025-01-01,2025-01-21&flat=1&filter_limit=-1&format=json",
        server.base
    );
    let all: serde_json::Value = serde_json::from_str(&get(&base, &[]).body).unwrap();
    let rows = all.as_array().unwrap();
    let labels: Vec<&str> = rows.iter().map(|r| r["label"].as_str().unwrap()).collect();
    assert!(labels.len() > 10);
    // Every known label backwards, between thousands of unknown ones:
    // about 60 KB of labels.
    let mut asked: Vec<String> = Vec::new();
    for (i, l) in labels.iter().rev().enumerate() {
        asked.push((*l).to_string());
        asked.push(format!("/nothing/{i}"));
    }
    let mut n = 0;
    while asked.iter().map(|l| l.len() + 3).sum::<usize>() < 60_000 {
        asked.push(format!("/unknown/{n}"));
        n += 1;
    }
    let list: Vec<String> = asked
        .iter()
        .map(|l| hitmap::encode_query_value(l))
        .collect();
    // Sent as a form: a URL that long is refused by HTTP clients.
    let got = post(&base, &format!("label={}", list.join(",")));
    assert_eq!(got.status, 200, "{}", got.body);
    let got: serde_json::Value = serde_json::from_str(&got.body).unwrap();
    let mut want: Vec<serde_json::Value> = rows.clone();
    want.reverse();
    assert_eq!(got.as_array().unwrap(), &want);
}

#[test]
fn report_takes_a_negative_limit_as_a_separate_word() {
    let dir = TempDir::new("limit");
    let store = sample_store(&dir.0);
    let args = |limit: &[&str]| {
        let mut a = vec![
            "pages",
            store.to_str().unwrap(),
            "--site",
            "1",
            "--date",
            "2025-01-01,2025-01-21",
            "--format",
            "csv",
        ];
        a.extend_from_slice(limit);
        let out = hitmap(&a);
        assert!(out.status.success(), "{:?}: {}", limit, text(&out.stderr));
        text(&out.stdout)
    };
    let every = args(&["--limit", "-1"]);
    assert_eq!(every, args(&["--limit=-1"]));
    assert!(every.lines().count() > args(&["--limit", "5"]).lines().count());
}
