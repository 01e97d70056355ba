//! The Lambda handler fed recorded API Gateway REST (v1), HTTP API (v2)
//! and function URL events (`tests/fixtures`, made by `make.py`): each
//! answer equals what `hitmap serve` gives the same request over
//! loopback HTTP, errors and token checks included.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hitmap::{Engine, Hit, SiteConfig};
use hitmap_cli::http::{Config, Tokens};
use hitmap_cli::serve::{ServeOptions, serve};
use hitmap_serverless::{Handler, Settings};
use lambda_http::Body;

const TOKENS: &str = "reader-token\nsite1-token 1\n";

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Three weeks of the sample intranet (site 1) and a second site.
fn store() -> TempDir {
    let dir = TempDir(std::env::temp_dir().join(format!("hitmap-lambda-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&dir.0);
    let cfg = hitmap::sample::SampleConfig {
        days: 21,
        visitors: 200,
        ..Default::default()
    };
    let mut e = Engine::open(&dir.0).unwrap();
    e.add_site(hitmap::sample::site_config(&cfg)).unwrap();
    e.ingest(hitmap::sample::generate(&cfg)).unwrap();
    e.add_site(SiteConfig::new(2)).unwrap();
    e.ingest([Hit::pageview(2, 1_735_800_000, "x", "https://y.org/")])
        .unwrap();
    e.seal().unwrap();
    dir
}

/// `hitmap serve` on the store, in this process; its address.
fn start_serve(store: &Path) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    let options = ServeOptions {
        dir: store.to_path_buf(),
        cache_mb: 16,
        listen: "127.0.0.1:0".parse().unwrap(),
        config: Config {
            tokens: Tokens::parse(TOKENS).unwrap(),
            ..Config::default()
        },
        cors_origins: Vec::new(),
        max_concurrent: 8,
        refresh: Duration::from_secs(1),
        track: None,
        limits: Default::default(),
    };
    std::thread::spawn(move || serve(options, move |addr| tx.send(addr).unwrap()));
    format!("http://{}", rx.recv().unwrap())
}

fn fixtures() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    out.sort();
    out
}

#[test]
fn every_recorded_event_gets_the_answer_hitmap_serve_gives() {
    let dir = store();
    let base = start_serve(&dir.0);
    let settings = Settings::from_lookup(|name| match name {
        "HITMAP_STORE" => Some(dir.0.to_string_lossy().into_owned()),
        "HITMAP_TOKENS" => Some(TOKENS.to_string()),
        _ => None,
    })
    .unwrap();
    let handler = Handler::new(&settings).unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut kinds = std::collections::BTreeSet::new();
    let mut statuses = std::collections::BTreeSet::new();
    for (name, text) in fixtures() {
        let request = lambda_http::request::from_str(&text)
            .unwrap_or_else(|e| panic!("{name}: not an event lambda_http reads: {e}"));
        kinds.insert(name.split('-').next().unwrap().to_string());
        let got = handler.answer(&request);
        let got_type = got.headers()["content-type"].to_str().unwrap().to_string();
        let got_body = match got.body() {
            Body::Text(t) => t.clone(),
            Body::Empty => String::new(),
            Body::Binary(b) => String::from_utf8(b.clone()).unwrap(),
            _ => panic!("{name}: an unexpected body"),
        };
        // The same request to `hitmap serve`.
        let uri = request.uri();
        let url = format!(
            "{base}{}{}",
            uri.path(),
            uri.query().map(|q| format!("?{q}")).unwrap_or_default()
        );
        let mut call = ureq::http::Request::builder()
            .method(request.method().as_str())
            .uri(url);
        for h in ["authorization", "content-type"] {
            if let Some(v) = request.headers().get(h) {
                call = call.header(h, v.to_str().unwrap());
            }
        }
        let body: &[u8] = request.body().as_ref();
        let want = agent.run(call.body(body.to_vec()).unwrap()).unwrap();
        let want_status = want.status().as_u16();
        let want_type = want.headers()["content-type"].to_str().unwrap().to_string();
        let want_body = want.into_body().read_to_string().unwrap();
        assert_eq!(
            (got.status().as_u16(), got_type.as_str(), got_body.as_str()),
            (want_status, want_type.as_str(), want_body.as_str()),
            "{name}"
        );
        statuses.insert(want_status);
    }
    assert_eq!(kinds.into_iter().collect::<Vec<_>>(), ["url", "v1", "v2"]);
    // Answers, refused tokens (missing, or for other sites), a bad method.
    assert!(
        statuses.contains(&200) && statuses.contains(&403),
        "{statuses:?}"
    );
    assert!(
        statuses.iter().any(|s| *s == 400 || *s == 404),
        "{statuses:?}"
    );
}

#[test]
fn settings_are_checked_with_clear_errors() {
    let none = Settings::from_lookup(|_| None).unwrap_err().to_string();
    assert!(none.contains("HITMAP_STORE"), "{none}");
    let bad = Settings::from_lookup(|name| match name {
        "HITMAP_STORE" => Some("s3://b/p".into()),
        "HITMAP_CACHE_MB" => Some("lots".into()),
        _ => None,
    })
    .unwrap_err()
    .to_string();
    assert!(bad.contains("HITMAP_CACHE_MB"), "{bad}");
    let missing = Settings::from_lookup(|name| {
        (name == "HITMAP_STORE").then(|| "/nonexistent/hitmap-store".to_string())
    })
    .unwrap();
    let err = Handler::new(&missing).err().unwrap().to_string();
    assert!(err.contains("no store here"), "{err}");
}
