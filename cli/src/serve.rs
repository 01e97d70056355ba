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
    /// Bounds on connections and the bodies they hold.
    pub limits: Limits,
}

/// Bounds on connections and on what requests hold while they are read,
/// so that idle, slow or large clients cannot take the server from others.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections open at once; 0: the process's open-file limit less
    /// 64 (for store files). Past it, new connections wait in the kernel's
    /// queue until one closes.
    pub max_connections: usize,
    /// Time to read a request's headers, and the longest a kept-alive
    /// connection may sit idle between requests.
    pub header_timeout: Duration,
    /// Time to read a request's body.
    pub body_timeout: Duration,
    /// Request bodies held in memory at once, in bytes (tracking bulk
    /// bodies and Reporting API forms alike). A body waits for room up
    /// to `body_timeout`, then gets 503 (retry).
    pub max_inflight_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: 0,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            max_inflight_bytes: 64 << 20,
        }
    }
}

/// The soft limit on open files of this process (Linux), if known.
fn open_file_limit() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line.split_whitespace().nth(3)?;
    soft.parse().ok()
}

impl Limits {
    /// The connection cap in force: the configured one, or the open-file
    /// limit less a reserve, and never above the latter.
    pub fn connections(&self) -> usize {
        let ceiling = open_file_limit().map_or(usize::MAX, |n| n.saturating_sub(64).max(16));
        match self.max_connections {
            0 => ceiling.min(100_000),
            n => n.min(ceiling),
        }
    }
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
    permits: Arc<Semaphore>,
    max_concurrent: usize,
    track: Option<(std::sync::mpsc::Sender<Job>, usize)>,
    /// What a query waits for: the tracked hits answered before it.
    visible: Option<Arc<track::Visible>>,
    limits: Limits,
    /// Room for request bodies, in bytes.
    inflight: Arc<Semaphore>,
    /// The sites `/healthz` last saw (answered from here while a commit
    /// holds the writer).
    sites: std::sync::Mutex<Vec<u32>>,
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
    let mut visible = None;
    let (source, track) = match &options.track {
        None => (
            Source::Snapshot(RwLock::new(Arc::new(crate::commands::open_reader_with(
                &options.dir,
                hitmap::ReaderOptions::default().cache_mb(options.cache_mb),
            )?))),
            None,
        ),
        Some(cfg) => {
            let store = hitmap::StoreOptions::default().cache_mb(options.cache_mb);
            let engine = Arc::new(RwLock::new(Engine::open_with(&options.dir, store)?));
            let started = track::start(engine.clone(), &options.dir, cfg.clone())?;
            committer = Some(started.thread);
            visible = started.visible;
            (
                Source::Writer(engine),
                Some((started.jobs, cfg.max_body_bytes)),
            )
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Io("cannot start the server runtime".into(), e))?;
    let served = runtime.block_on(async move {
        let inflight = options
            .limits
            .max_inflight_bytes
            .clamp(1, Semaphore::MAX_PERMITS);
        let state = Arc::new(AppState {
            dir: options.dir.clone(),
            source,
            config: options.config.clone(),
            permits: Arc::new(Semaphore::new(options.max_concurrent)),
            max_concurrent: options.max_concurrent,
            track,
            visible,
            limits: options.limits.clone(),
            inflight: Arc::new(Semaphore::new(inflight)),
            sites: std::sync::Mutex::new(Vec::new()),
        });
        if matches!(state.source, Source::Snapshot(_)) {
            tokio::spawn(refresh(state.clone(), options.refresh));
        }
        let mut app = Router::new().fallback(answer).with_state(state.clone());
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
        accept_loop(listener, app, &state.limits).await;
        Ok(())
    });
    // The state (and the committer's channel) is gone with the runtime:
    // the committer seals what is live and stops.
    drop(runtime);
    if let Some(handle) = committer {
        let _ = handle.join();
    }
    served
}

/// Accepts connections up to the cap and serves each on HTTP/1.1 with
/// the header and idle timeouts, until SIGINT or SIGTERM; then every
/// connection finishes its request in flight and closes.
async fn accept_loop(listener: tokio::net::TcpListener, app: Router, limits: &Limits) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt;

    let cap = limits.connections();
    let connections = Arc::new(Semaphore::new(cap));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let header_timeout = limits.header_timeout;
    let mut stopping = std::pin::pin!(shutdown());
    loop {
        let permit = tokio::select! {
            p = connections.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut stopping => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(_) => {
                    // Out of descriptors or a connection reset before it
                    // was taken: wait a moment, never spin.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stopping => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let service = hyper::service::service_fn(
                move |mut req: hyper::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(ConnectInfo(peer));
                    app.clone().oneshot(req.map(Body::new))
                },
            );
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                // A connection's read buffer (hyper's default is 400 KB):
                // what each waiting client can make the server hold.
                .max_buf_size(64 << 10)
                .keep_alive(true);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
    let _ = stop_tx.send(true);
    // Requests in flight finish (each within its own time budget).
    let _ = tokio::time::timeout(
        Duration::from_secs(30),
        connections.acquire_many(u32::try_from(cap).unwrap_or(u32::MAX)),
    )
    .await;
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
        return track_answer(&state, tx, *max_body, peer, method, uri, headers, body).await;
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
    let head = method == Method::HEAD;
    // Answered before any slot is taken: a load balancer must see the
    // server alive while every request slot is busy.
    if (method == Method::GET || head) && uri.path().trim_end_matches('/') == "/healthz" {
        return healthz(&state, head);
    }
    let (body, _room) =
        match read_body(&state, &headers, body, state.config.max_request_bytes).await {
            Ok(b) => b,
            Err(BodyError::TooLarge) => {
                let r = http::body_too_large(&state.config, uri.query().unwrap_or_default());
                return to_axum(r, false);
            }
            Err(e) => return fail(e.status(), e.message(&state.limits)),
        };
    let Ok(permit) = state.permits.clone().try_acquire_owned() else {
        return fail(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "the server is answering {} requests already: retry shortly",
                state.max_concurrent
            ),
        );
    };
    let req = Request {
        method: method.as_str().to_string(),
        path: uri.path().to_string(),
        query: uri.query().unwrap_or_default().to_string(),
        body: body.to_vec(),
        authorization: headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    };
    let config = state.config.clone();
    // An answer, and the note for a period without data (Reporting API).
    let answer = move |engine: &Engine| http::handle_with_note(engine, &config, &req);
    // The slot stays taken until the work itself ends, even past the
    // answer below: the number of requests computing at once is bounded.
    let task = match &state.source {
        Source::Snapshot(slot) => {
            let engine = match slot.read() {
                Ok(e) => e.clone(),
                Err(p) => p.into_inner().clone(),
            };
            tokio::task::spawn_blocking(move || {
                let _permit = permit;
                answer(&engine)
            })
        }
        Source::Writer(engine) => {
            let engine = engine.clone();
            let visible = state.visible.clone();
            let limit = state.config.timeout;
            tokio::task::spawn_blocking(move || {
                let _permit = permit;
                if let Some(v) = visible {
                    v.wait_applied(limit);
                }
                let e = engine.read().unwrap_or_else(|p| p.into_inner());
                answer(&e)
            })
        }
    };
    // The engine checks the deadline between periods; this answers at it
    // whatever the request is waiting for (an object store, a commit).
    let budget = state.config.timeout + Duration::from_millis(200);
    match tokio::time::timeout(budget, task).await {
        Ok(Ok((r, note))) => {
            let mut response = to_axum(r, head);
            if let Some(v) = note.and_then(|n| HeaderValue::from_str(&n).ok()) {
                response.headers_mut().insert(http::NOTE_HEADER, v);
            }
            response
        }
        Ok(Err(_)) => fail(
            StatusCode::INTERNAL_SERVER_ERROR,
            "an internal error stopped this request (a bug in hitmap); nothing was changed".into(),
        ),
        Err(_) => fail(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the request ran out of time after {} ms (--timeout-ms): ask for a shorter range or a simpler segment, or retry",
                state.config.timeout.as_millis()
            ),
        ),
    }
}

/// `/healthz`: alive, and the sites served (the last ones seen while a
/// commit holds the writer).
fn healthz(state: &AppState, head: bool) -> AxumResponse {
    let now = match &state.source {
        Source::Snapshot(slot) => slot.read().ok().map(|e| e.site_ids()),
        Source::Writer(engine) => engine.try_read().ok().map(|e| e.site_ids()),
    };
    let mut sites = state.sites.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(now) = now {
        *sites = now;
    }
    to_axum(http::healthz(&sites), head)
}

/// Why a request body was not read.
enum BodyError {
    /// Larger than this endpoint takes.
    TooLarge,
    /// No room among the bodies in flight within the body timeout.
    Busy,
    /// Not sent whole within the body timeout.
    Slow,
    /// The connection failed while sending it.
    Broken,
}

impl BodyError {
    fn status(&self) -> StatusCode {
        match self {
            BodyError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            BodyError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            BodyError::Slow => StatusCode::REQUEST_TIMEOUT,
            BodyError::Broken => StatusCode::BAD_REQUEST,
        }
    }

    fn message(&self, limits: &Limits) -> String {
        match self {
            BodyError::TooLarge => "the request body is larger than this endpoint takes".into(),
            BodyError::Busy => format!(
                "the server holds {} bytes of request bodies already (--max-inflight-mb): retry shortly",
                limits.max_inflight_bytes
            ),
            BodyError::Slow => format!(
                "the request body was not sent within {} ms (--body-timeout-ms)",
                limits.body_timeout.as_millis()
            ),
            BodyError::Broken => "the request body could not be read".into(),
        }
    }
}

/// Reads a body of at most `max` bytes within the body timeout, once the
/// bytes in flight leave room for it; the permit holds that room until
/// the request is answered.
async fn read_body(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    max: usize,
) -> Result<(axum::body::Bytes, Option<tokio::sync::OwnedSemaphorePermit>), BodyError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.trim().parse::<usize>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(BodyError::TooLarge);
    }
    let chunked = headers.contains_key(header::TRANSFER_ENCODING);
    if declared == Some(0) || (declared.is_none() && !chunked) {
        return Ok((axum::body::Bytes::new(), None));
    }
    let limit = state.limits.max_inflight_bytes.clamp(1, u32::MAX as usize);
    let room = declared.unwrap_or(max).clamp(1, limit) as u32;
    let timeout = state.limits.body_timeout;
    let permit = match tokio::time::timeout(
        timeout,
        state.inflight.clone().acquire_many_owned(room),
    )
    .await
    {
        Ok(Ok(p)) => p,
        _ => return Err(BodyError::Busy),
    };
    let limited = http_body_util::Limited::new(body, max);
    match tokio::time::timeout(timeout, http_body_util::BodyExt::collect(limited)).await {
        Ok(Ok(collected)) => Ok((collected.to_bytes(), Some(permit))),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(BodyError::TooLarge),
        Ok(Err(_)) => Err(BodyError::Broken),
        Err(_) => Err(BodyError::Slow),
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
#[allow(clippy::too_many_arguments)]
async fn track_answer(
    state: &AppState,
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
    // The room the body takes among the bytes in flight is held until
    // the request is answered (its hits are committed or refused).
    let (body, _room) = match read_body(state, &headers, body, max_body).await {
        Ok(b) => b,
        Err(BodyError::TooLarge) => {
            return text(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "a tracking request body is at most {max_body} bytes (send a bulk request in parts)"
                ),
            );
        }
        Err(e) => return text(e.status(), format!("{}\n", e.message(&state.limits))),
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
