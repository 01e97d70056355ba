//! `hitmap serve` over real loopback HTTP.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hitmap::Engine;
use serde_json::Value;

use crate::{TempDir, hitmap, sample_store, text};

/// A running `hitmap serve`, stopped (SIGTERM) when dropped.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) base: String,
    /// Kept open: the server's stdout stays a live pipe.
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Server {
    pub(crate) fn start(store: &Path, extra: &[&str]) -> Server {
        Server::start_with_env(store.to_str().unwrap(), extra, &[])
    }

    /// `hitmap serve LOCATION` (a folder or a URL) with environment variables.
    pub(crate) fn start_with_env(
        location: &str,
        extra: &[&str],
        env: &[(String, String)],
    ) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hitmap"));
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
        Server::spawn(cmd, location, extra)
    }

    /// `hitmap serve` under a limit on open files (the shell's `ulimit -n`).
    pub(crate) fn start_with_file_limit(store: &Path, extra: &[&str], files: u32) -> Server {
        let mut cmd = Command::new("sh");
        cmd.args([
            "-c",
            &format!("ulimit -n {files} && exec \"$0\" \"$@\""),
            env!("CARGO_BIN_EXE_hitmap"),
        ]);
        Server::spawn(cmd, store.to_str().unwrap(), extra)
    }

    fn spawn(mut cmd: Command, location: &str, extra: &[&str]) -> Server {
        let mut child = cmd
            .args([
                "serve",
                location,
                "--listen",
                "127.0.0.1:0",
                "--refresh-ms",
                "50",
            ])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .map(str::to_string);
        let Some(base) = base else {
            let mut err = String::new();
            let _ = child.kill();
            if let Some(mut e) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut err);
            }
            panic!("unexpected first line {line:?}; stderr: {err}");
        };
        Server {
            child,
            base,
            _stdout: stdout,
        }
    }

    /// The server's peak resident memory so far, in bytes (Linux).
    pub(crate) fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().strip_suffix("kB"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap();
        kb * 1024
    }

    pub(crate) fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let status = self.child.wait().unwrap();
        std::mem::forget(self);
        status
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

pub(crate) struct Got {
    pub(crate) status: u16,
    pub(crate) content_type: String,
    pub(crate) body: String,
    pub(crate) headers: Vec<(String, String)>,
}

pub(crate) fn get(url: &str, headers: &[(&str, &str)]) -> Got {
    let mut req = agent().get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    finish(req.call().unwrap())
}

pub(crate) fn post(url: &str, form: &str) -> Got {
    let resp = agent()
        .post(url)
        .content_type("application/x-www-form-urlencoded")
        .send(form)
        .unwrap();
    finish(resp)
}

pub(crate) fn finish(mut resp: ureq::http::Response<ureq::Body>) -> Got {
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                v.to_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let content_type = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap_or_default().to_string())
        .unwrap_or_default();
    let body = resp.body_mut().read_to_string().unwrap_or_default();
    Got {
        status,
        content_type,
        body,
        headers,
    }
}

pub(crate) const METHODS: &[&str] = &[
    "VisitsSummary.get",
    "Actions.get",
    "VisitFrequency.get",
    "Actions.getPageUrls",
    "Actions.getPageUrls&flat=1",
    "Actions.getPageTitles",
    "Actions.getDownloads",
    "Actions.getOutlinks",
    "Actions.getSiteSearchKeywords",
    "DevicesDetection.getType",
    "DevicesDetection.getBrowsers",
    "DevicesDetection.getOsFamilies",
    "UserCountry.getCountry",
    "UserLanguage.getLanguageCode",
    "Referrers.getReferrerType",
    "CustomDimensions.getCustomDimension&dimension=department",
    "CustomDimensions.getCustomDimension&idDimension=2",
    "Hitmap.getSections",
    "API.get",
    "Actions.getEntryPageTitles",
    "Events.getCategory&expanded=1",
    "Referrers.getAll",
    "VisitTime.getVisitInformationPerServerTime",
    "VisitorInterest.getNumberOfVisitsPerVisitDuration",
    "UserCountry.getContinent",
];

#[test]
fn every_method_in_every_format_answers_what_the_engine_answers() {
    let dir = TempDir::new("formats");
    let store = sample_store(&dir.0);
    let engine = Engine::open_read_only(&store).unwrap();
    let server = Server::start(&store, &[]);
    for method in METHODS {
        for (period, date) in [
            ("day", "2025-01-08"),
            ("week", "2025-01-06,2025-01-19"),
            ("month", "2025-01-01"),
            ("range", "2025-01-01,2025-01-21"),
        ] {
            for seg in ["", "&segment=deviceType%3D%3Ddesktop&section=News"] {
                let q =
                    format!("module=API&method={method}&idSite=1&period={period}&date={date}{seg}");
                let want = engine.api(&q).unwrap();
                let json = get(&format!("{}/index.php?{q}", server.base), &[]);
                assert_eq!(
                    (json.status, json.body.as_str()),
                    (200, want.as_str()),
                    "{q}"
                );
                assert!(json.content_type.starts_with("application/json"));
                // POST (form) answers the same, at / too.
                let posted = post(&format!("{}/", server.base), &q);
                assert_eq!(posted.body, want, "POST {q}");
                for (format, ctype) in [
                    ("csv", "text/csv"),
                    ("tsv", "text/tab-separated-values"),
                    ("xml", "text/xml"),
                    ("html", "text/html"),
                ] {
                    let got = get(
                        &format!("{}/index.php?{q}&format={format}", server.base),
                        &[],
                    );
                    assert_eq!(got.status, 200, "{q} {format}: {}", got.body);
                    assert!(got.content_type.starts_with(ctype), "{}", got.content_type);
                    let rendered = hitmap::render(
                        &serde_json::from_str(&want).unwrap(),
                        format.parse().unwrap(),
                    );
                    assert_eq!(got.body, rendered, "{q} {format}");
                }
            }
        }
    }
    // The same numbers in every format: nb_visits per day.
    let q = "module=API&method=VisitsSummary.get&idSite=1&period=day&date=2025-01-06,2025-01-08&format_metrics=0";
    let json: Value =
        serde_json::from_str(&get(&format!("{}/?{q}", server.base), &[]).body).unwrap();
    let csv = get(&format!("{}/?{q}&format=csv", server.base), &[]).body;
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let col = header.iter().position(|h| *h == "nb_visits").unwrap();
    for line in csv.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(json[cells[0]]["nb_visits"].to_string(), cells[col]);
    }
    let xml = get(&format!("{}/?{q}&format=xml", server.base), &[]).body;
    for (day, v) in json.as_object().unwrap() {
        let needle = format!(
            "<result date=\"{day}\">\n\t\t<nb_uniq_visitors>{}</nb_uniq_visitors>",
            v["nb_uniq_visitors"]
        );
        assert!(xml.contains(&needle), "{needle} in {xml}");
    }
    assert!(server.stop().success());
}

#[test]
fn rest_aliases_equal_the_reporting_api() {
    let dir = TempDir::new("rest");
    let store = sample_store(&dir.0);
    let server = Server::start(&store, &[]);
    let b = &server.base;
    let pairs = [
        (
            "/v1/sites/1/visits?from=2025-01-01&to=2025-01-21",
            "method=VisitsSummary.get&idSite=1&period=range&date=2025-01-01,2025-01-21",
        ),
        (
            "/v1/sites/1/visits?from=2025-01-01&to=2025-01-14&period=week&segment=deviceType%3D%3Dsmartphone",
            "method=VisitsSummary.get&idSite=1&period=week&date=2025-01-01,2025-01-14&segment=deviceType%3D%3Dsmartphone",
        ),
        (
            "/v1/sites/1/pages?from=2025-01-01&to=2025-01-31&section=News&filter_limit=5",
            "method=Actions.getPageUrls&flat=1&idSite=1&period=range&date=2025-01-01,2025-01-31&section=News&filter_limit=5",
        ),
        (
            "/v1/sites/1/downloads?date=2025-01-01,2025-01-31",
            "method=Actions.getDownloads&idSite=1&period=range&date=2025-01-01,2025-01-31",
        ),
        (
            "/v1/sites/1/outlinks?from=2025-01-01&to=2025-01-31&format=xml",
            "method=Actions.getOutlinks&idSite=1&period=range&date=2025-01-01,2025-01-31&format=xml",
        ),
        (
            "/v1/sites/1/sections?from=2025-01-01&to=2025-01-31&period=month",
            "method=Hitmap.getSections&idSite=1&period=month&date=2025-01-01,2025-01-31",
        ),
    ];
    for (rest, api) in pairs {
        let a = get(&format!("{b}{rest}"), &[]);
        let want = get(&format!("{b}/index.php?module=API&{api}"), &[]);
        assert_eq!((a.status, &a.body), (200, &want.body), "{rest}");
    }
    let series: Value = serde_json::from_str(
        &get(
            &format!("{b}/v1/sites/1/series?metric=nb_visits&from=2025-01-06&to=2025-01-08"),
            &[],
        )
        .body,
    )
    .unwrap();
    let days: Value = serde_json::from_str(&get(&format!("{b}/?module=API&method=VisitsSummary.get&idSite=1&period=day&date=2025-01-06,2025-01-08"), &[]).body).unwrap();
    let rows = series.as_array().unwrap();
    assert_eq!(rows.len(), 3);
    for r in rows {
        assert_eq!(r["value"], days[r["date"].as_str().unwrap()]["nb_visits"]);
    }
    let spec: Value = serde_json::from_str(&get(&format!("{b}/openapi.json"), &[]).body).unwrap();
    assert!(spec["paths"]["/v1/sites/{id}/pages"].is_object());
    // How a token is sent, for clients generated from the spec.
    let schemes = &spec["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(
        (&schemes["token_auth"]["in"], &schemes["token_auth"]["name"]),
        (&Value::from("query"), &Value::from("token_auth"))
    );
    for (bad, status) in [
        (
            "/v1/sites/1/visits?from=2025-01-01&to=2025-01-31&bogus=1",
            400,
        ),
        ("/v1/sites/0/visits?from=2025-01-01&to=2025-01-31", 400),
        ("/v1/sites/1/nope?from=2025-01-01&to=2025-01-31", 404),
        (
            "/v1/sites/1/series?metric=nb_nope&from=2025-01-01&to=2025-01-31",
            400,
        ),
        ("/v1/sites/1/visits", 400),
        ("/v1/sites/9/visits?from=2025-01-01&to=2025-01-31", 404),
    ] {
        let got = get(&format!("{b}{bad}"), &[]);
        assert_eq!(got.status, status, "{bad}: {}", got.body);
        let v: Value = serde_json::from_str(&got.body).unwrap();
        assert_eq!(v["result"], "error", "{bad}");
    }
}

#[test]
fn bad_requests_get_the_error_shape_and_a_fitting_status() {
    let dir = TempDir::new("bad");
    let store = sample_store(&dir.0);
    let server = Server::start(&store, &["--max-request-bytes", "4096"]);
    let b = &server.base;
    let huge = "x".repeat(10_000);
    for (q, status, needle) in [
        (
            "module=API&method=Nope.get&idSite=1&period=day&date=2025-01-01",
            400,
            "unknown method",
        ),
        (
            "module=API&method=VisitsSummary.get&idSite=1&period=day&date=2025-13-01",
            400,
            "YYYY-MM-DD",
        ),
        (
            "module=API&method=VisitsSummary.get&idSite=1&period=day&date=2025-01-01&segment=nope%3D%3Dx",
            400,
            "unknown segment field",
        ),
        (
            "module=API&method=VisitsSummary.get&idSite=1&period=day&date=%ZZ%",
            400,
            "invalid date",
        ),
        (
            "module=API&method=VisitsSummary.get&idSite=1&period=week&date=%2B262142-12-31",
            400,
            "0001-01-01 to 9999-12-31",
        ),
        (
            "module=API&method=VisitsSummary.get&idSite=77&period=day&date=2025-01-01",
            404,
            "site 77",
        ),
        (
            "module=API&method=VisitsSummary.get&idSite=1&period=day&date=2025-01-01&format=original",
            400,
            "format=original",
        ),
        ("module=CoreHome&action=index", 400, "module=API"),
        (
            "method=VisitsSummary.get&idSite=1&period=day&date=2025-01-01",
            400,
            "module=API",
        ),
    ] {
        let got = get(&format!("{b}/index.php?{q}"), &[]);
        assert_eq!(got.status, status, "{q}: {}", got.body);
        let v: Value =
            serde_json::from_str(&got.body).unwrap_or_else(|e| panic!("{q}: {e}: {}", got.body));
        assert_eq!(v["result"], "error");
        assert!(
            v["message"].as_str().unwrap().contains(needle),
            "{q}: {}",
            got.body
        );
    }
    let got = get(
        &format!("{b}/index.php?module=API&method=VisitsSummary.get&segment={huge}"),
        &[],
    );
    assert_eq!(got.status, 413, "{}", got.body);
    let got = post(
        &format!("{b}/index.php"),
        &format!("module=API&segment={huge}"),
    );
    assert_eq!(got.status, 413);
    let xml = get(
        &format!("{b}/index.php?module=API&method=Nope&idSite=1&period=day&date=today&format=xml"),
        &[],
    );
    assert!(
        xml.body.contains("<error message=\"unknown method"),
        "{}",
        xml.body
    );
    let csv = get(
        &format!("{b}/index.php?module=API&method=Nope&idSite=1&period=day&date=today&format=csv"),
        &[],
    );
    assert!(csv.body.starts_with("Error: unknown method"));
    let got = get(&format!("{b}/healthz"), &[]);
    assert_eq!(got.status, 200);
}

#[test]
fn tokens_guard_every_site_and_cors_is_configurable() {
    let dir = TempDir::new("auth");
    let store = sample_store(&dir.0);
    let tokens = dir.join("tokens");
    std::fs::write(&tokens, "# readers\nall-sites-token\nsite-two-token 2\n").unwrap();
    let server = Server::start(
        &store,
        &[
            "--token-file",
            tokens.to_str().unwrap(),
            "--cors-origin",
            "https://dash.example",
        ],
    );
    let b = &server.base;
    let q = "module=API&method=VisitsSummary.get&idSite=1&period=day&date=2025-01-08";
    assert_eq!(get(&format!("{b}/index.php?{q}"), &[]).status, 401);
    // An unknown token is not authenticated at all: 401, and it says so.
    let wrong = get(&format!("{b}/index.php?{q}&token_auth=wrong"), &[]);
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("unknown token"), "{}", wrong.body);
    assert_eq!(
        get(&format!("{b}/index.php?{q}&token_auth=site-two-token"), &[]).status,
        403
    );
    let ok = get(
        &format!("{b}/index.php?{q}&token_auth=all-sites-token"),
        &[],
    );
    assert_eq!(ok.status, 200, "{}", ok.body);
    let bearer = get(
        &format!("{b}/index.php?{q}"),
        &[("Authorization", "Bearer all-sites-token")],
    );
    assert_eq!(bearer.body, ok.body);
    let rest = get(
        &format!("{b}/v1/sites/1/visits?date=2025-01-08"),
        &[("Authorization", "Bearer all-sites-token")],
    );
    assert_eq!(rest.status, 200);
    assert_eq!(
        get(&format!("{b}/v1/sites/1/visits?date=2025-01-08"), &[]).status,
        401
    );
    // A token for site 2 reads no other site through lists, all, bulk
    // requests or the sites methods.
    let two = "token_auth=site-two-token";
    let listed = get(
        &format!(
            "{b}/index.php?module=API&method=VisitsSummary.get&idSite=1,2&period=day&date=2025-01-08&{two}"
        ),
        &[],
    );
    assert_eq!(listed.status, 403, "{}", listed.body);
    let all = get(
        &format!("{b}/index.php?module=API&method=SitesManager.getAllSitesId&{two}"),
        &[],
    );
    assert!(!all.body.contains('1'), "{}", all.body);
    let inner =
        hitmap::encode_query_value("method=VisitsSummary.get&idSite=1&period=day&date=2025-01-08");
    let bulk = get(
        &format!("{b}/index.php?module=API&method=API.getBulkRequest&urls[0]={inner}&{two}"),
        &[],
    );
    assert!(
        bulk.body.contains("does not give access to site 1"),
        "{}",
        bulk.body
    );
    let every = get(
        &format!(
            "{b}/index.php?module=API&method=VisitsSummary.get&idSite=all&period=day&date=2025-01-08&{two}"
        ),
        &[],
    );
    assert_eq!(every.status, 200);
    assert!(!every.body.contains("\"1\""), "{}", every.body);
    // The token never shows in an answer.
    let bad = get(&format!("{b}/index.php?{q}&token_auth=s3cr3t-guess"), &[]);
    assert!(!bad.body.contains("s3cr3t-guess"));
    // CORS for the configured origin only.
    let cors = get(
        &format!("{b}/index.php?{q}&token_auth=all-sites-token"),
        &[("Origin", "https://dash.example")],
    );
    let allow = cors
        .headers
        .iter()
        .find(|(k, _)| k == "access-control-allow-origin");
    assert_eq!(allow.map(|(_, v)| v.as_str()), Some("https://dash.example"));
    let other = get(
        &format!("{b}/index.php?{q}&token_auth=all-sites-token"),
        &[("Origin", "https://evil.example")],
    );
    assert!(
        other
            .headers
            .iter()
            .all(|(k, _)| k != "access-control-allow-origin")
    );
    // /healthz stays open for load balancers.
    assert_eq!(get(&format!("{b}/healthz"), &[]).status, 200);
}

#[test]
fn an_ingest_in_another_process_becomes_visible_whole() {
    let dir = TempDir::new("live");
    let store = sample_store(&dir.0);
    let server = Server::start(&store, &[]);
    let q = format!(
        "{}/index.php?module=API&method=VisitsSummary.get&idSite=1&period=day&date=2025-03-01&format_metrics=0",
        server.base
    );
    let visits = |body: &str| -> u64 {
        let v: Value = serde_json::from_str(body).unwrap();
        v["nb_visits"].as_u64().unwrap()
    };
    // A day without visits: Matomo's row of zeros.
    assert_eq!(visits(&get(&q, &[]).body), 0);
    let file = dir.join("more.ndjson");
    let lines: String = (0..50)
        .map(|i| format!("{{\"site\":1,\"visitor\":\"late-{i}\",\"ts\":\"2025-03-01T10:{:02}:00Z\",\"url\":\"https://intranet.example.org/news/x\"}}\n", i % 60))
        .collect();
    std::fs::write(&file, lines).unwrap();
    let out = hitmap(&[
        "ingest",
        store.to_str().unwrap(),
        file.to_str().unwrap(),
        "--no-progress",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let start = Instant::now();
    loop {
        let seen = visits(&get(&q, &[]).body);
        if seen > 0 {
            assert_eq!(seen, 50, "a whole batch, never half of one");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the server never saw the commit"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn many_requests_at_once_get_no_errors_and_shutdown_is_graceful() {
    let dir = TempDir::new("load");
    let store = sample_store(&dir.0);
    let server = Server::start(&store, &[]);
    let urls = [
        format!(
            "{}/index.php?module=API&method=VisitsSummary.get&idSite=1&period=day&date=2025-01-08",
            server.base
        ),
        format!(
            "{}/index.php?module=API&method=VisitsSummary.get&idSite=1&period=range&date=2025-01-01,2025-01-21&segment=deviceType%3D%3Dsmartphone;pageUrl%3D@news,visitCount%3E1",
            server.base
        ),
        format!(
            "{}/index.php?module=API&method=Actions.getPageUrls&flat=1&idSite=1&period=month&date=2025-01-01",
            server.base
        ),
    ];
    let wants: Vec<String> = urls.iter().map(|u| get(u, &[]).body).collect();
    std::thread::scope(|s| {
        for t in 0..8 {
            let (urls, wants) = (&urls, &wants);
            s.spawn(move || {
                for i in 0..40 {
                    let k = (t + i) % urls.len();
                    let got = get(&urls[k], &[]);
                    assert_eq!((got.status, &got.body), (200, &wants[k]));
                }
            });
        }
    });
    assert!(server.stop().success(), "SIGTERM ends the server cleanly");
}

#[test]
fn the_time_budget_and_the_concurrency_cap_answer_503_and_429() {
    let dir = TempDir::new("limits");
    let store = sample_store(&dir.0);
    let slow = "module=API&method=Hitmap.getSections&idSite=1&period=day&date=last3660&segment=deviceType%3D%3Ddesktop";
    // A budget of 0 ms: every request is past it before its first period.
    let server = Server::start(&store, &["--timeout-ms", "0"]);
    let got = get(&format!("{}/index.php?{slow}", server.base), &[]);
    assert_eq!(got.status, 503, "{}", got.body);
    assert!(got.body.contains("ran out of time"), "{}", got.body);
    drop(server);
    // One request at a time: of many sent at once, the extra ones get 429.
    let server = Server::start(&store, &["--max-concurrent", "1"]);
    let url = format!("{}/index.php?{slow}", server.base);
    let barrier = std::sync::Barrier::new(16);
    let statuses: Vec<(u16, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..16)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    let g = get(&url, &[]);
                    (g.status, g.body)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(statuses.iter().any(|(s, _)| *s == 200));
    let refused: Vec<_> = statuses.iter().filter(|(s, _)| *s == 429).collect();
    assert!(
        !refused.is_empty(),
        "16 at once with a cap of 1: {:?}",
        statuses.iter().map(|s| s.0).collect::<Vec<_>>()
    );
    for (status, body) in &statuses {
        assert!(*status == 200 || *status == 429, "{status}: {body}");
        if *status == 429 {
            assert!(body.contains("retry shortly"), "{body}");
        }
    }
}
