//! `hitmap serve`: the HTTP front on tokio + axum. Requests answer from a
//! read-only snapshot of the store on the blocking pool, many at once; a
//! background task picks up commits of another process (a `hitmap ingest`,
//! a PHP writer) by watching the manifest, and swaps in the new snapshot
//! whole, so a request sees whole batches only.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response as AxumResponse};
use hitmap::{Engine, Error, Format, render_error};
use tokio::sync::Semaphore;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::CliError;
use crate::http::{self, Config, Request};

/// How `hitmap serve` runs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The store folder.
    pub dir: PathBuf,
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
}

struct AppState {
    dir: PathBuf,
    engine: RwLock<Arc<Engine>>,
    config: Config,
    permits: Semaphore,
    max_concurrent: usize,
}

/// What identifies a manifest on disk without reading it.
fn manifest_stamp(dir: &Path) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(dir.join("MANIFEST")).ok()?;
    Some((m.modified().ok()?, m.len()))
}

/// Runs the server until SIGINT or SIGTERM; in-flight requests finish.
/// `ready` receives the bound address (port 0 picks a free one).
pub fn serve(options: ServeOptions, ready: impl FnOnce(SocketAddr)) -> Result<(), CliError> {
    let engine = Engine::open_read_only(&options.dir)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Io("cannot start the server runtime".into(), e))?;
    runtime.block_on(async move {
        let state = Arc::new(AppState {
            dir: options.dir.clone(),
            engine: RwLock::new(Arc::new(engine)),
            config: options.config.clone(),
            permits: Semaphore::new(options.max_concurrent),
            max_concurrent: options.max_concurrent,
        });
        tokio::spawn(refresh(state.clone(), options.refresh));
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
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown())
            .await
            .map_err(|e| CliError::Io("the server stopped".into(), e))
    })
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

/// Swaps in a new snapshot whenever the manifest changes.
async fn refresh(state: Arc<AppState>, every: Duration) {
    let mut stamp = manifest_stamp(&state.dir);
    loop {
        tokio::time::sleep(every).await;
        let now = manifest_stamp(&state.dir);
        if now == stamp || now.is_none() {
            continue;
        }
        let dir = state.dir.clone();
        let loaded = tokio::task::spawn_blocking(move || Engine::open_read_only(&dir)).await;
        if let Ok(Ok(engine)) = loaded {
            if let Ok(mut slot) = state.engine.write() {
                *slot = Arc::new(engine);
            }
            stamp = now;
        }
    }
}

async fn answer(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> AxumResponse {
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
    let limit = state.config.max_request_bytes;
    let body = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b.to_vec(),
        Err(_) => {
            return fail(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the request body is larger than the {limit} bytes this server accepts"),
            );
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
    let engine = match state.engine.read() {
        Ok(e) => e.clone(),
        Err(p) => p.into_inner().clone(),
    };
    let config = state.config.clone();
    let head = method == Method::HEAD;
    let out = tokio::task::spawn_blocking(move || http::handle(&engine, &config, &req)).await;
    match out {
        Ok(r) => {
            let status =
                StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let body = if head { String::new() } else { r.body };
            (status, [(header::CONTENT_TYPE, r.content_type)], body).into_response()
        }
        Err(_) => fail(
            StatusCode::INTERNAL_SERVER_ERROR,
            "an internal error stopped this request (a bug in hitmap); nothing was changed".into(),
        ),
    }
}
