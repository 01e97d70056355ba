//! hitmap's HTTP API as a stateless function: AWS Lambda behind API
//! Gateway (REST APIs, v1 events; HTTP APIs, v2 events), a Lambda
//! function URL or an Application Load Balancer, answering from a store
//! in S3 (or any location [`hitmap::Engine::open_reader`] takes).
//!
//! Each request goes through [`hitmap_cli::http::handle`], the function
//! `hitmap serve` answers with, so the Reporting API, the REST layout,
//! formats, errors and token checks are the same bytes. The store is
//! opened lazily once per function instance (a cold start reads the
//! manifest and each site's configuration, dictionaries and visitor
//! history) and refreshed when older than `HITMAP_MAX_AGE_MS`; day
//! archives are read as requests need them and kept within
//! `HITMAP_CACHE_MB`.
//!
//! # Examples
//! ```
//! let settings = hitmap_serverless::Settings::from_lookup(|name| match name {
//!     "HITMAP_STORE" => Some("s3://analytics/hitmap".to_string()),
//!     "HITMAP_CACHE_MB" => Some("64".to_string()),
//!     _ => None,
//! })?;
//! assert_eq!(settings.store, "s3://analytics/hitmap");
//! # Ok::<(), hitmap_serverless::Error>(())
//! ```

use std::sync::{Arc, RwLock};
use std::time::Duration;

use hitmap::{Engine, ReaderOptions};
use hitmap_cli::http::{self, Config, Request, Tokens};
use lambda_http::{Body, Response};

/// What can stop the function from starting.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting is missing or malformed.
    #[error("{0}")]
    Setting(String),
    /// The store could not be opened.
    #[error("cannot open the store: {0}")]
    Store(#[from] hitmap::Error),
}

/// The function's configuration, from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `HITMAP_STORE`: the store, `s3://bucket/prefix` (or a folder).
    pub store: String,
    /// `HITMAP_CACHE_MB`: memory for day archives (default 64).
    pub cache_mb: usize,
    /// `HITMAP_MAX_AGE_MS`: re-read the manifest before a request once the
    /// snapshot is this old (default 5000).
    pub max_age: Duration,
    /// `HITMAP_TOKENS`: the token file's text (`token` or
    /// `token site,site` per line); unset: no authentication.
    pub tokens: Tokens,
    /// `HITMAP_TIMEOUT_MS`: the time budget of one request (default
    /// 10000); keep it below the function's timeout.
    pub timeout: Duration,
    /// `HITMAP_MAX_REQUEST_BYTES` (default 65536).
    pub max_request_bytes: usize,
}

impl Settings {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Settings, Error> {
        Settings::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup` (the environment, or a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Settings, Error> {
        let number = |name: &str, default: u64| -> Result<u64, Error> {
            match lookup(name) {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse()
                    .map_err(|_| Error::Setting(format!("{name}={v:?} is not a whole number"))),
            }
        };
        let store = lookup("HITMAP_STORE")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                Error::Setting(
                    "HITMAP_STORE is not set: give the store's URL (s3://bucket/prefix)".into(),
                )
            })?;
        let tokens = match lookup("HITMAP_TOKENS") {
            None => Tokens::default(),
            Some(text) => {
                Tokens::parse(&text).map_err(|e| Error::Setting(format!("HITMAP_TOKENS: {e}")))?
            }
        };
        Ok(Settings {
            store,
            cache_mb: number("HITMAP_CACHE_MB", 64)? as usize,
            max_age: Duration::from_millis(number("HITMAP_MAX_AGE_MS", 5000)?),
            tokens,
            timeout: Duration::from_millis(number("HITMAP_TIMEOUT_MS", 10_000)?),
            max_request_bytes: number("HITMAP_MAX_REQUEST_BYTES", 65_536)? as usize,
        })
    }
}

/// One function instance: the lazily opened store and the request
/// handling of `hitmap serve`.
pub struct Handler {
    engine: RwLock<Arc<Engine>>,
    config: Config,
}

impl Handler {
    /// Opens the store (a cold start).
    pub fn new(settings: &Settings) -> Result<Handler, Error> {
        let options = ReaderOptions::default()
            .cache_mb(settings.cache_mb)
            .max_age(settings.max_age);
        let engine = Engine::open_reader(&settings.store, options)?;
        Ok(Handler {
            engine: RwLock::new(Arc::new(engine)),
            config: Config {
                tokens: settings.tokens.clone(),
                max_request_bytes: settings.max_request_bytes,
                timeout: settings.timeout,
            },
        })
    }

    /// The current snapshot, refreshed first if it is older than the
    /// maximum age (a failed refresh keeps the old snapshot).
    fn engine(&self) -> Arc<Engine> {
        let current = match self.engine.read() {
            Ok(e) => e.clone(),
            Err(p) => p.into_inner().clone(),
        };
        if !current.is_stale() {
            return current;
        }
        match current.refreshed() {
            Ok(Some(fresh)) => {
                let fresh = Arc::new(fresh);
                if let Ok(mut slot) = self.engine.write() {
                    *slot = fresh.clone();
                }
                fresh
            }
            _ => current,
        }
    }

    /// Answers one request as `hitmap serve` would.
    pub fn answer(&self, request: &lambda_http::Request) -> Response<Body> {
        let uri = request.uri();
        let body: &[u8] = request.body().as_ref();
        // As `hitmap serve`: a body over the limit is refused before it is
        // read; `http::handle` checks the query and body together.
        let (r, note) = if body.len() > self.config.max_request_bytes {
            (
                http::body_too_large(&self.config, uri.query().unwrap_or_default()),
                None,
            )
        } else {
            let req = Request {
                method: request.method().as_str().to_string(),
                path: uri.path().to_string(),
                query: uri.query().unwrap_or_default().to_string(),
                body: body.to_vec(),
                authorization: request
                    .headers()
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned),
            };
            http::handle_with_note(&self.engine(), &self.config, &req)
        };
        let head = request.method() == lambda_http::http::Method::HEAD;
        let mut builder = Response::builder()
            .status(r.status)
            .header("content-type", r.content_type);
        if let Some(note) = note {
            builder = builder.header(http::NOTE_HEADER, note);
        }
        builder
            .body(if head {
                Body::Empty
            } else {
                Body::Text(r.body)
            })
            .unwrap_or_else(|_| Response::new(Body::Empty))
    }
}

/// Runs the Lambda runtime loop with a handler (the `bootstrap` binary).
pub async fn run(handler: Handler) -> Result<(), lambda_http::Error> {
    let handler = Arc::new(handler);
    lambda_http::run(lambda_http::service_fn(
        move |request: lambda_http::Request| {
            let handler = handler.clone();
            async move {
                // Queries are CPU work: off the runtime's thread.
                let answer = tokio::task::spawn_blocking(move || handler.answer(&request)).await;
                Ok::<_, lambda_http::Error>(answer.unwrap_or_else(|_| {
                    Response::builder()
                        .status(500)
                        .body(Body::Text(
                            "an internal error stopped this request (a bug in hitmap)".into(),
                        ))
                        .unwrap_or_else(|_| Response::new(Body::Empty))
                }))
            }
        },
    ))
    .await
}
