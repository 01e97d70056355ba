//! `hitmap serve`: the HTTP front on tokio + axum. Requests answer from a
//! read-only snapshot of the store (a lazy reader: days are read when a
//! request needs them, within `--cache-mb`) on the blocking pool, many at
//! once; a background task picks up commits of another process (a
//! `hitmap ingest`, a PHP writer, a `hitmap publish` to the bucket) and
//! swaps in the refreshed snapshot whole, sharing the unchanged cached
//! days, so a request sees whole batches only.
//!
//! With `--track` the server is the store's writer instead: it takes
//! Matomo's tracking requests (`track.rs`) and answers queries from the
//! same engine, so an acknowledged hit is in the next answer.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response as AxumResponse};
use hitmap::{Engine, Error, Format, render_error};
use tokio::sync::Semaphore;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::CliError;
use crate::http::{self, Config, Request};
use crate::track::{self, ClientInfo, Job, JobKind, Reply, TrackConfig};
use hitmap_intake::track::Refused;

/// How `hitmap serve` runs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The store folder, or an object store URL (`s3://bucket/prefix`).
    pub dir: PathBuf,
    /// The day cache of a read-only server, in MiB.
    pub cache_mb: usize,
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Auth, size and time limits.
    pub config: Config,
    /// Origins allowed by CORS (`*` for any); empty: no CORS headers.
    pub cors_origins: Vec<String>,
    /// Requests answered at once; more get 429.
    pub max_concurrent: usize,
    /// How often the manifest is checked for new commits.
    pub refresh: Duration,
    /// Take tracking requests (and be the store's writer).
    pub track: Option<TrackConfig>,
}

/// Where answers come from.
enum Source {
    /// A read-only snapshot, swapped when another process commits.
    Snapshot(RwLock<Arc<Engine>>),
    /// The writer engine the tracking endpoint commits to.
    Writer(Arc<RwLock<Engine>>),
}

struct AppState {
    dir: PathBuf,
    source: Source,
    config: Config,
    permits: Semaphore,
    max_concurrent: usize,
    track: Option<(std::sync::mpsc::Sender<Job>, usize)>,
}

/// The manifest's time and size, and the newest log segment's name and size.
type Stamp = (SystemTime, u64, Option<(std::ffi::OsString, u64)>);

/// What identifies a store's committed state on disk without reading it:
/// the manifest, and the write-ahead log's newest segment (small batches
/// of another writer land there first).
fn manifest_stamp(dir: &Path) -> Option<Stamp> {
    let m = std::fs::metadata(dir.join("MANIFEST")).ok()?;
    let wal = std::fs::read_dir(dir.join("wal"))
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let e = e.ok()?;
            Some((e.file_name(), e.metadata().ok()?.len()))
        })
        .max_by_key(|(name, _)| {
            let n = name
                .to_str()
                .and_then(|n| n.strip_suffix(".log")?.parse::<u64>().ok());
            n.unwrap_or(0)
        });
    Some((m.modified().ok()?, m.len(), wal))
}

/// Runs the server until SIGINT or SIGTERM; in-flight requests finish.
/// `ready` receives the bound address (port 0 picks a free one).
pub fn serve(options: ServeOptions, ready: impl FnOnce(SocketAddr)) -> Result<(), CliError> {
    let mut committer = None;
    let (source, track) = match &options.track {
        None => (
            Source::Snapshot(RwLock::new(Arc::new(crate::commands::open_reader_with(
                &options.dir,
                hitmap::ReaderOptions::default().cache_mb(options.cache_mb),
            )?))),
            None,
        ),
        Some(cfg) => {
            let engine = Arc::new(RwLock::new(Engine::open(&options.dir)?));
            let (tx, handle) = track::start(engine.clone(), cfg.clone())?;
            committer = Some(handle);
            (Source::Writer(engine), Some((tx, cfg.max_body_bytes)))
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Io("cannot start the server runtime".into(), e))?;
    let served = runtime.block_on(async move {
        let state = Arc::new(AppState {
            dir: options.dir.clone(),
            source,
            config: options.config.clone(),
            permits: Semaphore::new(options.max_concurrent),
            max_concurrent: options.max_concurrent,
            track,
        });
        if matches!(state.source, Source::Snapshot(_)) {
            tokio::spawn(refresh(state.clone(), options.refresh));
        }
        let mut app = Router::new().fallback(answer).with_state(state);
        if !options.cors_origins.is_empty() {
            let origin = if options.cors_origins.iter().any(|o| o == "*") {
                AllowOrigin::any()
            } else {
                let list: Vec<HeaderValue> = options
                    .cors_origins
                    .iter()
                    .filter_map(|o| HeaderValue::from_str(o).ok())
                    .collect();
                AllowOrigin::list(list)
            };
            app = app.layer(
                CorsLayer::new()
                    .allow_origin(origin)
                    .allow_methods([Method::GET, Method::POST])
                    .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]),
            );
        }
        let listener = tokio::net::TcpListener::bind(options.listen)
            .await
            .map_err(|e| CliError::Io(format!("cannot listen on {}", options.listen), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| CliError::Io("no local address".into(), e))?;
        ready(addr);
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown())
        .await
        .map_err(|e| CliError::Io("the server stopped".into(), e))
    });
    // The state (and the committer's channel) is gone with the runtime:
    // the committer seals what is live and stops.
    drop(runtime);
    if let Some(handle) = committer {
        let _ = handle.join();
    }
    served
}

async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// Swaps in a refreshed snapshot whenever the store has a newer commit: a
/// folder's manifest and log are watched on disk; an object store's
/// manifest is fetched each time.
async fn refresh(state: Arc<AppState>, every: Duration) {
    let Source::Snapshot(slot) = &state.source else {
        return;
    };
    let remote = crate::commands::is_url(&state.dir);
    let mut stamp = manifest_stamp(&state.dir);
    loop {
        tokio::time::sleep(every).await;
        let now = manifest_stamp(&state.dir);
        if !remote && (now == stamp || now.is_none()) {
            continue;
        }
        let current = match slot.read() {
            Ok(e) => e.clone(),
            Err(p) => p.into_inner().clone(),
        };
        let loaded = tokio::task::spawn_blocking(move || current.refreshed()).await;
        match loaded {
            Ok(Ok(Some(engine))) => {
                if let Ok(mut slot) = slot.write() {
                    *slot = Arc::new(engine);
                }
                stamp = now;
            }
            Ok(Ok(None)) => stamp = now,
            // A commit in progress or a network error: try again next time.
            _ => {}
        }
    }
}

async fn answer(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> AxumResponse {
    if let Some((tx, max_body)) = &state.track
        && is_tracking_path(uri.path())
    {
        return track_answer(tx, *max_body, peer, method, uri, headers, body).await;
    }
    let format = Format::of_query(uri.query().unwrap_or_default());
    let fail = |status: StatusCode, message: String| {
        let body = render_error(&Error::Request(message), format);
        (
            status,
            [(header::CONTENT_TYPE, format.content_type())],
            body,
        )
            .into_response()
    };
    let Ok(_permit) = state.permits.try_acquire() else {
        return fail(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "the server is answering {} requests already: retry shortly",
                state.max_concurrent
            ),
        );
    };
    let body = match axum::body::to_bytes(body, state.config.max_request_bytes).await {
        Ok(b) => b.to_vec(),
        Err(_) => {
            let r = http::body_too_large(&state.config, uri.query().unwrap_or_default());
            return to_axum(r, false);
        }
    };
    let req = Request {
        method: method.as_str().to_string(),
        path: uri.path().to_string(),
        query: uri.query().unwrap_or_default().to_string(),
        body,
        authorization: headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    };
    let config = state.config.clone();
    let head = method == Method::HEAD;
    let out = match &state.source {
        Source::Snapshot(slot) => {
            let engine = match slot.read() {
                Ok(e) => e.clone(),
                Err(p) => p.into_inner().clone(),
            };
            tokio::task::spawn_blocking(move || http::handle(&engine, &config, &req)).await
        }
        Source::Writer(engine) => {
            let engine = engine.clone();
            tokio::task::spawn_blocking(move || {
                let e = engine.read().unwrap_or_else(|p| p.into_inner());
                http::handle(&e, &config, &req)
            })
            .await
        }
    };
    match out {
        Ok(r) => to_axum(r, head),
        Err(_) => fail(
            StatusCode::INTERNAL_SERVER_ERROR,
            "an internal error stopped this request (a bug in hitmap); nothing was changed".into(),
        ),
    }
}

/// An answer of `http::handle` as axum's (no body for HEAD).
fn to_axum(r: http::Response, head: bool) -> AxumResponse {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = if head { String::new() } else { r.body };
    (status, [(header::CONTENT_TYPE, r.content_type)], body).into_response()
}

/// Matomo's tracker paths (also under a prefix, as `/matomo/matomo.php`).
fn is_tracking_path(path: &str) -> bool {
    path.ends_with("/matomo.php") || path.ends_with("/piwik.php")
}

/// Matomo's 1x1 transparent GIF.
const GIF: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

/// Matomo's answer to a request that tracks nothing.
const NOT_TRACKING: &str = "This resource is part of hitmap, which answers Matomo's tracking API here. \
Send tracking requests with rec=1 (see https://developer.matomo.org/api-reference/tracking-api).\n";

/// Answers a tracking request once the committer has made it durable.
async fn track_answer(
    tx: &std::sync::mpsc::Sender<Job>,
    max_body: usize,
    peer: SocketAddr,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> AxumResponse {
    let text = |status: StatusCode, body: String| {
        (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            body,
        )
            .into_response()
    };
    let body = match axum::body::to_bytes(body, max_body).await {
        Ok(b) => b,
        Err(_) => {
            return text(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("a tracking request body is at most {max_body} bytes"),
            );
        }
    };
    let header_text = |h: header::HeaderName| {
        headers
            .get(h)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let client = ClientInfo {
        ip: peer.ip().to_string(),
        user_agent: header_text(header::USER_AGENT),
        accept_language: header_text(header::ACCEPT_LANGUAGE),
    };
    let query = uri.query().unwrap_or_default();
    let trimmed = body.trim_ascii_start();
    let bulk = method == Method::POST && trimmed.first() == Some(&b'{');
    let kind = if bulk {
        match hitmap_intake::track::bulk_requests(trimmed) {
            Ok((requests, token)) => JobKind::Bulk(requests, token),
            Err(e) => {
                let body = serde_json::json!({"status": "error", "tracked": 0, "invalid": 0, "message": e.to_string()});
                return (
                    StatusCode::BAD_REQUEST,
                    [(header::CONTENT_TYPE, "application/json")],
                    body.to_string(),
                )
                    .into_response();
            }
        }
    } else {
        // The query string and a form body together, as PHP's $_GET + $_POST.
        let mut params = http::params(query);
        params.extend(http::params(&String::from_utf8_lossy(&body)));
        JobKind::Single(params)
    };
    let send_image = !http::params(query)
        .iter()
        .chain(http::params(&String::from_utf8_lossy(&body)).iter())
        .any(|(k, v)| k == "send_image" && v == "0");
    let empty = query.is_empty() && body.is_empty();
    let (reply_tx, reply_rx) = tokio::sync::oneshot::channel();
    let job = Job {
        kind,
        client,
        reply: reply_tx,
    };
    if tx.send(job).is_err() {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "the tracker is stopping; retry\n".into(),
        );
    }
    let Ok(reply) = reply_rx.await else {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "the tracker stopped; retry\n".into(),
        );
    };
    let mut response = match reply {
        Reply::Failed(e) => text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not stored: {e}; retry\n"),
        ),
        Reply::Bulk {
            tracked,
            invalid,
            authed,
        } => {
            let mut body = serde_json::json!({"status": "success", "tracked": tracked, "invalid": invalid.len()});
            if authed {
                body["invalid_indices"] = invalid.into();
            }
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                body.to_string(),
            )
                .into_response()
        }
        Reply::Single(Err(Refused::NotTracking)) => {
            let status = if empty && method == Method::GET {
                StatusCode::OK
            } else {
                StatusCode::BAD_REQUEST
            };
            text(status, NOT_TRACKING.into())
        }
        Reply::Single(result) => {
            let status = if result.is_ok() {
                StatusCode::OK
            } else {
                StatusCode::BAD_REQUEST
            };
            if !send_image {
                let status = if status == StatusCode::OK {
                    StatusCode::NO_CONTENT
                } else {
                    status
                };
                status.into_response()
            } else {
                (status, [(header::CONTENT_TYPE, "image/gif")], GIF).into_response()
            }
        }
    };
    let h = response.headers_mut();
    if method == Method::GET {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    } else {
        let origin = headers
            .get(header::ORIGIN)
            .cloned()
            .unwrap_or(HeaderValue::from_static("*"));
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
    response
}
