//! Stores in object storage, against a real S3-compatible server on
//! loopback (moto in server mode, started by `scripts/moto`): published
//! with `Engine::publish` / `hitmap publish`, read lazily by URL, served
//! by `hitmap serve s3://…`, with the same answers as the folder.

use std::sync::OnceLock;

use chrono::DateTime;
use hitmap::{Engine, Hit, PublishOptions, Query, ReaderOptions};

use crate::server::{Server, agent};
use crate::{TempDir, hitmap, sample_store, text};

/// The moto server's endpoint (one per test process, stopped when it exits).
pub(crate) fn endpoint() -> &'static str {
    static ENDPOINT: OnceLock<String> = OnceLock::new();
    ENDPOINT.get_or_init(|| {
        let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let out = std::process::Command::new(root.join("scripts/moto"))
            .arg(root.join("target/moto"))
            .arg(std::process::id().to_string())
            .output()
            .expect("scripts/moto runs");
        assert!(
            out.status.success(),
            "moto did not start (it needs python3 and PyPI's moto[server]): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    })
}

/// object_store's settings for the loopback server.
fn storage() -> [(&'static str, String); 5] {
    [
        ("aws_endpoint", endpoint().to_string()),
        ("aws_allow_http", "true".into()),
        ("aws_access_key_id", "test".into()),
        ("aws_secret_access_key", "test".into()),
        ("aws_region", "us-east-1".into()),
    ]
}

/// The same settings as the environment of a `hitmap` process.
pub(crate) fn env() -> Vec<(String, String)> {
    storage()
        .into_iter()
        .map(|(k, v)| (k.to_ascii_uppercase(), v))
        .collect()
}

fn reader_options() -> ReaderOptions {
    storage()
        .into_iter()
        .fold(ReaderOptions::default(), |o, (k, v)| o.storage_option(k, v))
}

fn publish_options() -> PublishOptions {
    storage()
        .into_iter()
        .fold(PublishOptions::default(), |o, (k, v)| {
            o.storage_option(k, v)
        })
}

/// A bucket prefix of its own for each test.
fn url(tag: &str) -> String {
    format!("s3://hitmap/{tag}-{}", std::process::id())
}

/// `hitmap publish STORE URL` against the loopback server; its output,
/// once it succeeded.
fn hitmap_publish(store: &std::path::Path, url: &str) -> std::process::Output {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hitmap"))
        .args(["publish", store.to_str().unwrap(), url])
        .envs(env())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    out
}

/// Every supported method over a range, as text (answers and errors).
fn answers(e: &Engine, dates: &str) -> Vec<String> {
    let now = DateTime::from_timestamp(1_767_000_000, 0).unwrap();
    hitmap::supported_methods()
        .into_iter()
        .flat_map(|m| ["", "&segment=visitorType==returning"].map(move |x| (m, x)))
        .map(|(m, extra)| {
            let q = format!("method={m}&idSite=1&period=range&date={dates}&idDimension=1{extra}");
            match e.api_at(&q, now) {
                Ok(text) => format!("{q}\n{text}"),
                Err(err) => format!("{q}\nerror: {err}"),
            }
        })
        .collect()
}

/// Site 1's day files for the days `from..=to`: their sizes.
fn day_file_sizes(store: &std::path::Path, from: &str, to: &str) -> Vec<u64> {
    std::fs::read_dir(store.join("site-1/days"))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| (from..=to).contains(&&e.file_name().to_string_lossy()[..10]))
        .map(|e| e.metadata().unwrap().len())
        .collect()
}

fn day_file_bytes(store: &std::path::Path, from: &str, to: &str) -> u64 {
    day_file_sizes(store, from, to).iter().sum()
}

#[test]
fn a_published_store_answers_every_method_as_the_folder_and_reads_only_its_days() {
    let dir = TempDir::new("s3-equal");
    let store = sample_store(&dir.0);
    let url = url("equal");
    let mut writer = Engine::open(&store).unwrap();
    let published = writer.publish(&url, &publish_options()).unwrap();
    assert!(published.uploaded > 20, "{published:?}");
    drop(writer);
    let folder = Engine::open_read_only(&store).unwrap();
    let bucket = Engine::open_reader(&url, reader_options().cache_mb(1)).unwrap();
    for dates in ["2025-01-01,2025-01-21", "2025-01-06,2025-01-06"] {
        assert_eq!(answers(&bucket, dates), answers(&folder, dates));
    }
    // What a 1-day and a 30-day query fetch: one GET per day, exactly the
    // days' bytes.
    let fresh = Engine::open_reader(&url, reader_options()).unwrap();
    let open = fresh.read_stats();
    assert_eq!(open.requests, 3, "manifest, config, dictionaries");
    let summary = |from: &str, to: &str| {
        fresh
            .query(&Query::site(1).range(from, to))
            .unwrap()
            .visits_summary()
    };
    assert_eq!(summary("2025-01-07", "2025-01-07"), {
        folder
            .query(&Query::site(1).range("2025-01-07", "2025-01-07"))
            .unwrap()
            .visits_summary()
    });
    let one = fresh.read_stats();
    summary("2024-12-20", "2025-01-18");
    let month = fresh.read_stats();
    // The day, and its month's visitor history page (the newest file of
    // 2025-01; older ones are retired).
    assert_eq!(one.requests - open.requests, 2);
    let history = std::fs::read_dir(store.join("site-1/history"))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().starts_with("2025-01-"))
        .max_by_key(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name[8..].trim_end_matches(".vis").parse::<u64>().unwrap()
        })
        .unwrap()
        .metadata()
        .unwrap()
        .len();
    assert_eq!(
        one.bytes - open.bytes,
        day_file_bytes(&store, "2025-01-07", "2025-01-07") + history
    );
    // One GET per day with data in 2024-12-20..2025-01-18 but the cached
    // one (no page for December: no visits then).
    let files = day_file_sizes(&store, "2024-12-20", "2025-01-18").len() as u64;
    assert_eq!(month.requests - one.requests, files - 1);
    assert_eq!(
        month.bytes - one.bytes,
        day_file_bytes(&store, "2025-01-01", "2025-01-18")
            - day_file_bytes(&store, "2025-01-07", "2025-01-07")
    );
    // A cold function's year summary: the manifest, config, dictionaries
    // and the year's rollup; no day, no history.
    let cold = Engine::open_reader(&url, reader_options()).unwrap();
    let year = Query::site(1).range("2025-01-01", "2025-12-31");
    assert_eq!(
        cold.visits_summary(&year).unwrap(),
        folder.query(&year).unwrap().visits_summary()
    );
    assert_eq!(cold.read_stats().requests, 3 + 1);
}

#[test]
fn publishing_again_uploads_what_changed_and_a_reader_refreshes_to_it() {
    let dir = TempDir::new("s3-again");
    let store = sample_store(&dir.0);
    let url = url("again");
    let mut writer = Engine::open(&store).unwrap();
    let options = publish_options().retain(std::time::Duration::ZERO);
    writer.publish(&url, &options).unwrap();
    let mut reader = Engine::open_reader(&url, reader_options()).unwrap();
    let q = Query::site(1).range("2025-01-01", "2025-01-21");
    let before = reader.query(&q).unwrap().visits_summary();
    // Nothing new: only the manifest goes up again.
    let again = writer.publish(&url, &options).unwrap();
    assert_eq!((again.uploaded, again.deleted), (1, 0), "{again:?}");
    assert!(!reader.refresh().unwrap());
    // A late hit rewrites one day (a small batch, sealed by publish).
    writer
        .ingest([Hit::pageview(
            1,
            1_735_900_000,
            "late",
            "https://intranet.example.org/",
        )])
        .unwrap();
    let changed = writer.publish(&url, &options).unwrap();
    // Dictionaries, visitor totals, the month's history page, the day, its
    // month's and year's rollups, the manifest; with a retention of 0 the
    // six superseded files go as soon as the manifest is up.
    assert_eq!((changed.uploaded, changed.deleted), (7, 6), "{changed:?}");
    assert!(reader.refresh().unwrap());
    let after = reader.query(&q).unwrap().visits_summary();
    assert_eq!(after, writer.query(&q).unwrap().visits_summary());
    assert_eq!(after.nb_visits, before.nb_visits + 1);
    // A reader of the newest manifest still answers after the deletions.
    let late = Engine::open_reader(&url, reader_options()).unwrap();
    assert_eq!(late.query(&q).unwrap().visits_summary(), after);
    // Another store may not publish over a newer one.
    let other_dir = TempDir::new("s3-other");
    let mut other = Engine::open(&other_dir.0).unwrap();
    other.add_site(hitmap::SiteConfig::new(1)).unwrap();
    let err = other.publish(&url, &options).unwrap_err().to_string();
    assert!(err.contains("one writer"), "{err}");
}

#[test]
fn hitmap_publish_and_serve_from_a_bucket_answer_as_the_folder() {
    let dir = TempDir::new("s3-serve");
    let store = sample_store(&dir.0);
    let url = url("serve");
    let out = hitmap_publish(&store, &url);
    assert!(
        text(&out.stdout).contains("published generation"),
        "{}",
        text(&out.stdout)
    );
    let folder = Server::start(&store, &[]);
    let bucket = Server::start_with_env(&url, &["--cache-mb", "2"], &env());
    let agent = agent();
    for path in [
        "/index.php?module=API&method=VisitsSummary.get&idSite=1&period=day&date=2025-01-01,2025-01-21&format=json",
        "/index.php?module=API&method=Actions.getPageUrls&idSite=1&period=month&date=2025-01-01&flat=1&format=csv",
        "/index.php?module=API&method=Referrers.getAll&idSite=1&period=range&date=2025-01-03,2025-01-17&format=xml",
        "/v1/sites/1/visits?from=2025-01-01&to=2025-01-21",
        "/index.php?module=API&method=VisitsSummary.get&idSite=9&period=day&date=today",
    ] {
        let a = agent.get(format!("{}{path}", folder.base)).call().unwrap();
        let b = agent.get(format!("{}{path}", bucket.base)).call().unwrap();
        let (sa, sb) = (a.status().as_u16(), b.status().as_u16());
        let (ta, tb) = (
            a.into_body().read_to_string().unwrap(),
            b.into_body().read_to_string().unwrap(),
        );
        assert_eq!((sb, tb), (sa, ta), "{path}");
    }
    // A report command reads the bucket too.
    let report = std::process::Command::new(env!("CARGO_BIN_EXE_hitmap"))
        .args([
            "report",
            &url,
            "--site",
            "1",
            "--date",
            "2025-01-01,2025-01-21",
            "--format",
            "csv",
        ])
        .envs(env())
        .output()
        .unwrap();
    let local = hitmap(&[
        "report",
        store.to_str().unwrap(),
        "--site",
        "1",
        "--date",
        "2025-01-01,2025-01-21",
        "--format",
        "csv",
    ]);
    assert!(report.status.success(), "{}", text(&report.stderr));
    assert_eq!(text(&report.stdout), text(&local.stdout));
}

/// A host's own async runtime (a server, a Lambda handler) can open, use
/// and drop a bucket reader on its threads: the object store client runs
/// on a private runtime that never blocks or panics in the host's.
#[test]
fn a_bucket_reader_lives_and_dies_inside_an_async_runtime() {
    let dir = TempDir::new("s3-async");
    let store = sample_store(&dir.0);
    let url = url("async");
    Engine::open(&store)
        .unwrap()
        .publish(&url, &publish_options())
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let visits = rt.block_on(async {
        let e = Engine::open_reader(&url, reader_options()).unwrap();
        let n = e.query(&Query::site(1)).unwrap().visits_summary().nb_visits;
        drop(e);
        n
    });
    assert!(visits > 0);
}

/// A TCP proxy to the object store that a test can freeze (connections
/// held, nothing forwarded, as a hung service) or cut (connections
/// closed, as a service that is down).
struct Proxy {
    addr: String,
    /// 0: forward, 1: frozen, 2: cut.
    state: std::sync::Arc<std::sync::atomic::AtomicU8>,
}

impl Proxy {
    fn start(target: &str) -> Proxy {
        use std::sync::atomic::Ordering::Relaxed;
        let target = target.trim_start_matches("http://").to_string();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = format!("http://{}", listener.local_addr().unwrap());
        let state = std::sync::Arc::new(std::sync::atomic::AtomicU8::new(0));
        let shared = state.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if shared.load(Relaxed) == 2 {
                    continue; // dropped: closed at once
                }
                let Ok(server) = std::net::TcpStream::connect(&target) else {
                    continue;
                };
                for (from, to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    let state = shared.clone();
                    std::thread::spawn(move || pump(from, to, &state));
                }
            }
        });
        Proxy { addr, state }
    }

    fn set(&self, state: u8) {
        self.state
            .store(state, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Copies bytes one way until either side closes; holds them while the
/// proxy is frozen and closes both sides when it is cut.
fn pump(
    mut from: std::net::TcpStream,
    mut to: std::net::TcpStream,
    state: &std::sync::atomic::AtomicU8,
) {
    use std::io::{Read, Write};
    use std::sync::atomic::Ordering::Relaxed;
    from.set_read_timeout(Some(std::time::Duration::from_millis(20)))
        .unwrap();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        match state.load(Relaxed) {
            2 => break,
            1 => {
                std::thread::sleep(std::time::Duration::from_millis(20));
                continue;
            }
            _ => {}
        }
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    let _ = from.shutdown(std::net::Shutdown::Both);
    let _ = to.shutdown(std::net::Shutdown::Both);
}

/// A hung object store costs a request its time budget, not more, and a
/// store that is down answers 503 (retry later), not 500.
#[test]
fn an_object_store_outage_answers_503_within_the_time_budget() {
    let dir = TempDir::new("s3-outage");
    let store = sample_store(&dir.0);
    let url = url("outage");
    hitmap_publish(&store, &url);
    let proxy = Proxy::start(endpoint());
    let env: Vec<(String, String)> = env()
        .into_iter()
        .map(|(k, v)| match k.as_str() {
            "AWS_ENDPOINT" => (k, proxy.addr.clone()),
            _ => (k, v),
        })
        .collect();
    let server = Server::start_with_env(&url, &["--cache-mb", "0", "--timeout-ms", "1500"], &env);
    let day = |d: u32| {
        format!(
            "{}/index.php?module=API&method=VisitsSummary.get&idSite=1&period=day&date=2025-01-{d:02}",
            server.base
        )
    };
    let client = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(6)))
        .build();
    let client: ureq::Agent = client.into();
    let ask = |d: u32| {
        let mut r = client.get(day(d)).call().expect("an answer within 6 s");
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
    };
    assert_eq!(ask(2).0, 200);
    proxy.set(1);
    let (status, body) = ask(3);
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("ran out of time"), "{body}");
    proxy.set(2);
    let (status, body) = ask(4);
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("retry"), "{body}");
    proxy.set(0);
    assert_eq!(ask(5).0, 200);
}

/// HTTPS goes through rustls with ring (installed by the engine, no
/// aws-lc-rs in the build): a store behind an https endpoint that does
/// not answer is a clear error naming the URL, not a panic about a
/// missing crypto provider.
#[test]
fn an_https_endpoint_that_does_not_answer_is_an_error() {
    let options = ReaderOptions::default()
        .storage_option("aws_endpoint", "https://127.0.0.1:9")
        .storage_option("aws_access_key_id", "test")
        .storage_option("aws_secret_access_key", "test")
        .storage_option("aws_region", "us-east-1");
    let Err(err) = Engine::open_reader("s3://nobody/store", options) else {
        panic!("nothing listens there");
    };
    assert!(err.to_string().contains("s3://nobody"), "{err}");
}
