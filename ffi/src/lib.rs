//! # hitmap C ABI
//!
//! The header `ffi/include/hitmap.h` is generated from this file by
//! cbindgen (a test fails when it drifts) and is the reference: every
//! function returns a `hitmap_status`; results come back through
//! out-parameters; after a failure, `hitmap_last_error_message()` says what
//! went wrong on the calling thread. Owned strings that hitmap hands out are
//! freed with `hitmap_string_free`, handles with `hitmap_store_free`; both
//! accept NULL.
//!
//! Thread safety: a `hitmap_store` may be used from several threads at
//! once; calls on one handle are serialized by a lock inside it. The last
//! error message is per thread.
//!
//! No panic crosses the boundary: every body runs inside `catch_unwind`,
//! and a panic becomes `HITMAP_ERR_PANIC` with its message.
#![allow(unsafe_code)] // a C ABI is raw pointers; each use is commented.

use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;

use hitmap::{Engine, Error, SiteConfig};
use hitmap_intake::heap::Releasing;

/// What a call did. `HITMAP_OK` is 0; anything else is an error whose text
/// `hitmap_last_error_message()` returns.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum hitmap_status {
    /// Success.
    HITMAP_OK = 0,
    /// A required pointer argument was NULL.
    HITMAP_ERR_NULL_ARGUMENT = 1,
    /// A string argument was not valid UTF-8.
    HITMAP_ERR_INVALID_UTF8 = 2,
    /// An argument was malformed (site configuration, date, ...).
    HITMAP_ERR_INVALID_ARGUMENT = 3,
    /// The site was never added.
    HITMAP_ERR_UNKNOWN_SITE = 4,
    /// The segment could not be parsed.
    HITMAP_ERR_SEGMENT = 5,
    /// The Reporting API request is malformed or unsupported.
    HITMAP_ERR_REQUEST = 6,
    /// A store file is missing, damaged or unwritable.
    HITMAP_ERR_STORE = 7,
    /// Another process holds the store's writer lock.
    HITMAP_ERR_LOCKED = 8,
    /// The store was opened read-only.
    HITMAP_ERR_READ_ONLY = 9,
    /// Reading input failed.
    HITMAP_ERR_IO = 10,
    /// A request ran past its time budget
    /// (`hitmap_store_api_with_timeout`).
    HITMAP_ERR_DEADLINE = 11,
    /// hitmap panicked (a bug): the message says where.
    HITMAP_ERR_PANIC = 99,
}

use hitmap_status::*;

/// An opened hitmap store (or in-memory engine). Opaque.
///
/// Thread safety: one handle may be used from several threads at once
/// (PHP ZTS, a C server); its calls are serialized by a lock inside it.
/// `hitmap_last_error_message()` is per thread. Free it exactly once.
#[allow(non_camel_case_types)]
pub struct hitmap_store {
    engine: Mutex<Engine>,
}

/// Bumped whenever a signature or a struct of this header changes.
pub const HITMAP_ABI_VERSION: u32 = 1;

thread_local! {
    static LAST_ERROR: RefCell<Option<CString>> = const { RefCell::new(None) };
}

fn set_error(message: &str) {
    let c = CString::new(message.replace('\0', " ")).expect("NULs replaced");
    LAST_ERROR.with(|e| *e.borrow_mut() = Some(c));
}

fn status_of(e: &Error) -> hitmap_status {
    match e {
        Error::UnknownSite(_) => HITMAP_ERR_UNKNOWN_SITE,
        Error::Segment { .. } => HITMAP_ERR_SEGMENT,
        Error::Request(_) | Error::Forbidden(_) | Error::Date { .. } | Error::UnknownSection(_) => {
            HITMAP_ERR_REQUEST
        }
        Error::DeadlineExceeded(_) => HITMAP_ERR_DEADLINE,
        Error::Store { .. } | Error::Unavailable { .. } => HITMAP_ERR_STORE,
        Error::Locked { .. } => HITMAP_ERR_LOCKED,
        Error::ReadOnly => HITMAP_ERR_READ_ONLY,
        Error::Io(_) => HITMAP_ERR_IO,
        _ => HITMAP_ERR_INVALID_ARGUMENT,
    }
}

/// Why a call failed before or inside the engine.
struct Failure(hitmap_status, String);

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure(status_of(&e), e.to_string())
    }
}

impl From<hitmap_intake::Error> for Failure {
    fn from(e: hitmap_intake::Error) -> Failure {
        use hitmap_intake::Error as I;
        match e {
            I::Engine(e) => e.into(),
            I::Input(m) | I::Database(m) => Failure(HITMAP_ERR_IO, m),
            other => Failure(HITMAP_ERR_INVALID_ARGUMENT, other.to_string()),
        }
    }
}

/// Runs a body: errors and panics become a status and a message.
fn guard(body: impl FnOnce() -> Result<(), Failure>) -> hitmap_status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => HITMAP_OK,
        Ok(Err(Failure(status, message))) => {
            set_error(&message);
            status
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            set_error(&format!(
                "hitmap panicked (a bug, please report it): {what}"
            ));
            HITMAP_ERR_PANIC
        }
    }
}

fn null(name: &str) -> Failure {
    Failure(
        HITMAP_ERR_NULL_ARGUMENT,
        format!("`{name}` must not be NULL"),
    )
}

/// A borrowed C string argument as UTF-8.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string valid for the call.
unsafe fn text<'a>(p: *const c_char, name: &str) -> Result<&'a str, Failure> {
    if p.is_null() {
        return Err(null(name));
    }
    // SAFETY: non-NULL and NUL-terminated per the function's contract.
    unsafe { CStr::from_ptr(p) }.to_str().map_err(|_| {
        Failure(
            HITMAP_ERR_INVALID_UTF8,
            format!("`{name}` is not valid UTF-8"),
        )
    })
}

/// The engine behind a handle, locked for this call.
///
/// # Safety
/// `store` is NULL or a pointer from `hitmap_store_open*` not yet freed.
unsafe fn engine<'a>(store: *const hitmap_store) -> Result<Locked<'a>, Failure> {
    if store.is_null() {
        return Err(null("store"));
    }
    // SAFETY: a live handle per the contract; the Mutex serializes threads.
    let store = unsafe { &*store };
    // A panic while locked poisons the mutex; the engine is still whole
    // (every mutation commits or reloads), so carry on with it.
    Ok(Releasing(
        store.engine.lock().unwrap_or_else(|p| p.into_inner()),
    ))
}

/// A handle's engine, locked for a call, which gives the heap it freed
/// back to the host process when the call is over (`heap.rs` of
/// hitmap-intake: PHP workers live long).
type Locked<'a> = Releasing<std::sync::MutexGuard<'a, Engine>>;

/// A reader past its `max_age_ms` picks up newer commits first; if that
/// fails (a network error), it answers from the snapshot it has.
fn fresh(mut e: Locked<'_>) -> Locked<'_> {
    let _ = e.refresh_if_stale();
    e
}

/// Hands a string to the caller, to be freed with `hitmap_string_free`.
///
/// # Safety
/// `out` is a valid pointer to write to (checked non-NULL).
unsafe fn give_string(out: *mut *mut c_char, s: String) -> Result<(), Failure> {
    if out.is_null() {
        return Err(null("out"));
    }
    let c = CString::new(s).map_err(|_| {
        Failure(
            HITMAP_ERR_INVALID_ARGUMENT,
            "result holds a NUL byte".into(),
        )
    })?;
    // SAFETY: checked non-NULL; the caller owns the string from here on.
    unsafe { *out = c.into_raw() };
    Ok(())
}

/// The library version, e.g. `"0.1.0"`. Static: do not free.
#[unsafe(no_mangle)]
pub extern "C" fn hitmap_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The ABI version ([`HITMAP_ABI_VERSION`]); a host checks it at load.
#[unsafe(no_mangle)]
pub extern "C" fn hitmap_abi_version() -> u32 {
    HITMAP_ABI_VERSION
}

/// The message of the last failed call on this thread, or NULL. Borrowed:
/// valid until the next failing call on this thread; do not free.
#[unsafe(no_mangle)]
pub extern "C" fn hitmap_last_error_message() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ref().map_or(std::ptr::null(), |c| c.as_ptr()))
}

fn hand_out(engine: Engine, out: *mut *mut hitmap_store) -> Result<(), Failure> {
    let handle = Box::new(hitmap_store {
        engine: Mutex::new(engine),
    });
    // SAFETY: the caller checked `out` non-NULL before opening.
    unsafe { *out = Box::into_raw(handle) };
    Ok(())
}

/// Opens a store folder with `open` and hands out the handle.
///
/// # Safety
/// As `hitmap_store_open`.
unsafe fn open_with(
    path: *const c_char,
    out: *mut *mut hitmap_store,
    open: fn(&str) -> hitmap::Result<Engine>,
) -> hitmap_status {
    guard(|| {
        // SAFETY: per the calling function's contract.
        let path = unsafe { text(path, "path") }?;
        if out.is_null() {
            return Err(null("out"));
        }
        hand_out(open(path)?, out)
    })
}

/// Opens (creating if missing) a store folder for reading and writing.
/// `*out` receives the handle; free it with `hitmap_store_free`.
///
/// # Safety
/// `path` is a NUL-terminated string; `out` a valid pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hitmap_store_open(
    path: *const c_char,
    out: *mut *mut hitmap_store,
) -> hitmap_status {
    // SAFETY: the same contract.
    unsafe { open_with(path, out, |p| Engine::open(p)) }
}

/// Opens an existing store for queries only (no writer lock).
///
/// # Safety
/// As `hitmap_store_open`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hitmap_store_open_read_only(
    path: *const c_char,
    out: *mut *mut hitmap_store,
) -> hitmap_status {
    // SAFETY: the same contract.
    unsafe {
        open_with(path, out, |p| {
            Engine::open_reader(p, hitmap::ReaderOptions::default())
        })
    }
}

/// Opens a store for queries only, lazily, at `location`: a folder or an
/// object store URL (`s3://bucket/prefix`, `gs://…`, `az://…`; credentials
/// from the environment). `options_json` (may be NULL) is a JSON object:
/// `{"cache_mb": 64, "max_age_ms": 5000, "storage_options": {"aws_endpoint": "…"}}`.
/// Day archives are read as queries need them; with `max_age_ms` every
/// API call first picks up newer commits once the snapshot is that old.
///
/// # Safety
/// `location` is a NUL-terminated string; `options_json` NULL or one;
/// `out` a valid pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hitmap_store_open_reader(
    location: *const c_char,
    options_json: *const c_char,
    out: *mut *mut hitmap_store,
) -> hitmap_status {
    guard(|| {
        // SAFETY: per this function's contract.
        let location = unsafe { text(location, "location") }?;
        let options = if options_json.is_null() {
            hitmap::ReaderOptions::default()
        } else {
            // SAFETY: non-NULL, NUL-terminated per the contract.
            hitmap::ReaderOptions::from_json(unsafe { text(options_json, "options_json") }?)?
        };
        if out.is_null() {
            return Err(null("out"));
        }
        hand_out(Engine::open_reader(location, options)?, out)
    })
}

/// Brings a reader up to the store's newest commit, keeping the cached
/// days that did not change. `*changed` (may be NULL) receives 1 if there
/// was a newer commit, else 0. A writer is always current.
///
/// # Safety
/// `store` is a live handle; `changed` NULL or a valid pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hitmap_store_refresh(
    store: *mut hitmap_store,
    changed: *mut u32,
) -> hitmap_status {
    guard(|| {
        // SAFETY: per this function's contract.
        let refreshed = unsafe { engine(store) }?.refresh()?;
        if !changed.is_null() {
            // SAFETY: non-NULL and valid per the contract.
            unsafe { *changed = u32::from(refreshed) };
        }
        Ok(())
    })
}

/// Sets how many threads one query of `store` may use: 0 means one per
/// core, 1 keeps every query on the calling thread (for hosts that forbid
/// threads). The default is the environment's `HITMAP_THREADS`, else one
/// per core.
///
/// # Safety
/// `store` is a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hitmap_store_set_query_threads(
    store: *mut hitmap_store,
    threads: u32,
) -> hitmap_status {
    guard(|| {
        // SAFETY: per this function's contract.
        unsafe { engine(store) }?.set_query_threads(threads as usize);
        Ok(())
    })
}

/// An engine that keeps everything in memory.
///
/// # Safety
/// `out` is a valid pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hitmap_store_new_in_memory(out: *mut *mut hitmap_store) -> hitmap_status {
    guard(|| {
        if out.is_null() {
            return Err(null("out"));
        }
        hand_out(Engine::in_memory(), out)
    })
}

/// Closes a handle. NULL is allowed and does nothing.
///
/// # Safety
/// `store` is NULL or a handle not yet freed; it must not be used after.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hitmap_store_free(store: *mut hitmap_store) {
    if store.is_null() {
        return;
    }
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: a handle from Box::into_raw, freed once per the contract.
        drop(unsafe { Box::from_raw(store) });
    }));
}

/// A site as the C ABI takes it: JSON such as
/// `{"id":1,"timezone":"Europe/London","visit_timeout":1800,
///   "hosts":["x.org"],"sections":{"News":["/news"]},"dimensions":["department"],"ecommerce":true}`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SiteSpec {
    id: u32,
    #[serde(default)]
    timezone: Option<String>,
    #[serde(default)]
    visit_timeout: Option<u32>,
    #[serde(default)]
    hosts: Vec<String>,
    #[serde(default)]
    sections: std::collections::BTreeMap<String, Vec<String>>,
    #[serde(default)]
    dimensions: Vec<String>,
    /// An ecommerce site: its orders and carts are reported.
    #[serde(default)]
    ecommerce: bool,
    /// The site's name (Matomo's).
    #[serde(default)]
    name: Option<String>,
    /// The site's main URL, with its scheme.
    #[serde(default)]
    main_url: Option<String>,
    /// Matomo's excluded IPs (addresses, ranges, wildcards).
    #[serde(default)]
    excluded_ips: Vec<String>,
    /// Matomo's excluded user agents (a part, any case).
    #[serde(default)]
    excluded_user_agents: Vec<String>,
    /// Drop requests to URLs that are not the site's.
    #[serde(default)]
    exclude_unknown_urls: bool,
    /// Matomo's excluded query parameters (any case), stripped from the
    /// page URLs the tracker records.
    #[serde(default)]
    excluded_parameters: Vec<String>,
}

impl SiteSpec {
    fn config(self) -> SiteConfig {
        let mut c = SiteConfig::new(self.id);
        if let Some(tz) = self.timezone {
            c = c.time_zone(tz);
        }
        if let Some(t) = self.visit_timeout {
            c = c.visit_timeout(t);
        }
        for h in self.hosts {
            c = c.host(h);
        }
        for (name, prefixes) in self.sections {
            c = c.section(name, prefixes);
        }
        for d in self.dimensions {
            c = c.dimension(d);
        }
        if let Some(n) = self.name {
            c = c.name(n);
        }
        if let Some(u) = self.main_url {
            c = c.main_url(u);
        }
        for ip in self.excluded_ips {
            c = c.exclude_ip(ip);
        }
        for agent in self.excluded_user_agents {
            c = c.exclude_user_agent(agent);
        }
        for p in self.excluded_parameters {
            c = c.exclude_parameter(p);
        }
        c.exclude_unknown_urls(self.exclude_unknown_urls)
            .ecommerce(self.ecommerce)
    }
}

/// Adds or updates a site from JSON (see the fields above; only `id` is
/// required).
///
/// # Safety
/// `store` is a live handle; `site_json` a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hitmap_store_add_site(
    store: *mut hitmap_store,
    site_json: *const c_char,
) -> hitmap_status {
    guard(|| {
        // SAFETY: per this function's contract.
        let json = unsafe { text(site_json, "site_json") }?;
        let spec: SiteSpec = serde_json::from_str(json).map_err(|e| {
            Failure(
                HITMAP_ERR_INVALID_ARGUMENT,
                format!("site_json is not a site: {e}; expected {{\"id\":1,\"timezone\":\"Europe/London\",...}}"),
            )
        })?;
        // SAFETY: per this function's contract.
        unsafe { engine(store) }?.add_site(spec.config())?;
        Ok(())
    })
}

/// Adds a goal to a site, or replaces the site's goal with its id, from
/// JSON with Matomo's field names: `{"idgoal":1,"name":"Contact",
/// "match_attribute":"url","pattern":"/contact/sent",
/// "pattern_type":"contains","case_sensitive":0,"allow_multiple":0,
/// "revenue":5,"event_value_as_revenue":0,"description":""}` (only
/// `idgoal`, `name` and `match_attribute` are required; docs/goals.md).
/// Every answer about the site's past and future days counts it at once.
/// `Goals.getGoals` through `hitmap_store_api` lists a site's goals.
///
/// # Safety
/// `store` is a live handle; `goal_json` a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hitmap_store_set_goal(
    store: *mut hitmap_store,
    site: u32,
    goal_json: *const c_char,
) -> hitmap_status {
    guard(|| {
        // SAFETY: per this function's contract.
        let json = unsafe { text(goal_json, "goal_json") }?;
        let goal = hitmap::Goal::from_json(json)?;
        // SAFETY: per this function's contract.
        unsafe { engine(store) }?.set_goal(site, goal)?;
        Ok(())
    })
}

/// Removes a site's goal. `*removed` (may be NULL) receives 1 if the site
/// had a goal with that id, else 0.
///
/// # Safety
/// `store` is a live handle; `removed` NULL or a valid pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hitmap_store_remove_goal(
    store: *mut hitmap_store,
    site: u32,
    id: u32,
    removed: *mut u8,
) -> hitmap_status {
    guard(|| {
        // SAFETY: per this function's contract.
        let had = unsafe { engine(store) }?.remove_goal(site, id)?;
        if !removed.is_null() {
            // SAFETY: non-NULL and valid per the contract.
            unsafe { *removed = u8::from(had) };
        }
        Ok(())
    })
}

/// Ingests an NDJSON buffer (one hit per line) as one batch. `*result_json`
/// receives `{"accepted":N,"rejected":[{"line":L,"reason":"..."}]}`; free
/// it with `hitmap_string_free`.
///
/// # Safety
/// `store` is a live handle; `data` points to `len` readable bytes (may be
/// NULL when `len` is 0); `result_json` is a valid pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hitmap_store_ingest_ndjson(
    store: *mut hitmap_store,
    data: *const u8,
    len: usize,
    result_json: *mut *mut c_char,
) -> hitmap_status {
    guard(|| {
        if result_json.is_null() {
            return Err(null("result_json"));
        }
        let bytes: &[u8] = match (data.is_null(), len) {
            (_, 0) => &[],
            (true, _) => return Err(null("data")),
            // SAFETY: `len` readable bytes at `data` per the contract.
            (false, n) => unsafe { std::slice::from_raw_parts(data, n) },
        };
        // SAFETY: per this function's contract.
        let outcome = unsafe { engine(store) }?.ingest_ndjson(bytes)?;
        let json = serde_json::to_string(&outcome).expect("outcome serializes");
        // SAFETY: checked non-NULL above.
        unsafe { give_string(result_json, json) }
    })
}

/// Imports web-server access logs, with the rules of Matomo's log
/// importer (the same importer as `hitmap ingest --log-format` and
/// Python's `Engine.ingest_log`).
///
/// `paths_json` is a JSON array of file paths (gzip, bzip2 and zstd
/// recognised). `options_json` is NULL or a JSON object of the CLI's flags
/// without dashes or with `_`: `{"log-format":"combined","idsite":1,
/// "enable-static":true,"exclude-path":["/login","/logout"]}` (a list gives the
/// option once per value). `*result_json` receives the summary:
/// `{"lines":..,"hits":..,"pageviews":..,"downloads":..,"events":..,"comments":..,
/// "invalid":..,"skipped":{"reason":n},"examples":[{"input","line","reason"}],
/// "rejected":..,"batches":..,"skipped_batches":..,"skipped_lines":..,
/// "formats":[{"input","format"}]}`; free it with `hitmap_string_free`.
///
/// # Safety
/// `store` is a live handle; `paths_json` and `options_json` (unless NULL)
/// NUL-terminated strings; `result_json` a valid pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hitmap_store_ingest_log(
    store: *mut hitmap_store,
    paths_json: *const c_char,
    options_json: *const c_char,
    result_json: *mut *mut c_char,
) -> hitmap_status {
    guard(|| {
        if result_json.is_null() {
            return Err(null("result_json"));
        }
        // SAFETY: per this function's contract.
        let paths = unsafe { text(paths_json, "paths_json") }?;
        let paths: Vec<String> = serde_json::from_str(paths).map_err(|e| {
            Failure(
                HITMAP_ERR_INVALID_ARGUMENT,
                format!(
                    "paths_json is not a list of paths: {e}; expected [\"/var/log/access.log\"]"
                ),
            )
        })?;
        let mut options = hitmap_intake::logs::LogOptions::default();
        if !options_json.is_null() {
            // SAFETY: per this function's contract.
            let raw = unsafe { text(options_json, "options_json") }?;
            let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(raw)
                .map_err(|e| {
                    Failure(
                        HITMAP_ERR_INVALID_ARGUMENT,
                        format!("options_json is not an object: {e}; expected {{\"log-format\":\"combined\",\"idsite\":1}}"),
                    )
                })?;
            for (name, value) in &map {
                let values = match value {
                    serde_json::Value::Array(a) => a.clone(),
                    v => vec![v.clone()],
                };
                for v in values {
                    let v = match v {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    };
                    options.set(name, &v)?;
                }
            }
        }
        // SAFETY: per this function's contract.
        let mut engine = unsafe { engine(store) }?;
        let summary = hitmap_intake::logs::import_files(&mut engine, &paths, &options)?;
        // SAFETY: checked non-NULL above.
        unsafe { give_string(result_json, summary.to_json().to_string()) }
    })
}

/// Answers a Reporting API request (`method=...&idSite=...&period=...&date=...`)
/// with the same JSON as every other host. `*json_out` receives it; free it
/// with `hitmap_string_free`.
///
/// # Safety
/// `store` is a live handle; `query` a NUL-terminated string; `json_out` a
/// valid pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hitmap_store_api(
    store: *mut hitmap_store,
    query: *const c_char,
    json_out: *mut *mut c_char,
) -> hitmap_status {
    guard(|| {
        // SAFETY: per this function's contract.
        let query = unsafe { text(query, "query") }?;
        if json_out.is_null() {
            return Err(null("json_out"));
        }
        // SAFETY: per this function's contract.
        let json = fresh(unsafe { engine(store) }?).api(query)?;
        // SAFETY: checked non-NULL above.
        unsafe { give_string(json_out, json) }
    })
}

/// API options with a budget of `timeout_ms` (0: none).
fn api_options(timeout_ms: u64) -> hitmap::ApiOptions {
    let options = hitmap::ApiOptions::default();
    match timeout_ms {
        0 => options,
        ms => options.timeout(std::time::Duration::from_millis(ms)),
    }
}

/// [`hitmap_store_api`] with a time budget: a request still running after
/// `timeout_ms` milliseconds stops with `HITMAP_ERR_DEADLINE` (0: no
/// budget). A PHP-FPM worker or a C server uses it so that one request
/// cannot hold the store's lock for long.
///
/// # Safety
/// As for [`hitmap_store_api`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hitmap_store_api_with_timeout(
    store: *mut hitmap_store,
    query: *const c_char,
    timeout_ms: u64,
    json_out: *mut *mut c_char,
) -> hitmap_status {
    guard(|| {
        // SAFETY: per this function's contract.
        let query = unsafe { text(query, "query") }?;
        if json_out.is_null() {
            return Err(null("json_out"));
        }
        let options = api_options(timeout_ms);
        // SAFETY: per this function's contract.
        let json = fresh(unsafe { engine(store) }?).api_with(query, &options)?;
        // SAFETY: checked non-NULL above.
        unsafe { give_string(json_out, json) }
    })
}

/// Answers a Reporting API request the way an HTTP endpoint sends it:
/// errors are not a status of this call but the answer itself, rendered in
/// the request's `format` (Matomo's `{"result":"error","message":...}` for
/// JSON). `*http_status` receives the status to send (200, or 400/404/503
/// ...), `*content_type` a static string (do not free) and `*body_out` the
/// body (free it with `hitmap_string_free`). `timeout_ms` 0: no budget.
///
/// # Safety
/// `store` is a live handle; `query` a NUL-terminated string; the out
/// pointers valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hitmap_store_api_response(
    store: *mut hitmap_store,
    query: *const c_char,
    timeout_ms: u64,
    http_status: *mut u16,
    content_type: *mut *const c_char,
    body_out: *mut *mut c_char,
) -> hitmap_status {
    guard(|| {
        // SAFETY: per this function's contract.
        let query = unsafe { text(query, "query") }?;
        if http_status.is_null() || content_type.is_null() || body_out.is_null() {
            return Err(null("http_status, content_type or body_out"));
        }
        let options = api_options(timeout_ms);
        // SAFETY: per this function's contract.
        let r = fresh(unsafe { engine(store) }?).api_response(query, &options);
        let ctype: &'static std::ffi::CStr = match hitmap::Format::of_query(query) {
            hitmap::Format::Json => c"application/json; charset=utf-8",
            hitmap::Format::Csv => c"text/csv; charset=utf-8",
            hitmap::Format::Tsv => c"text/tab-separated-values; charset=utf-8",
            hitmap::Format::Xml => c"text/xml; charset=utf-8",
            hitmap::Format::Html => c"text/html; charset=utf-8",
        };
        // SAFETY: checked non-NULL above.
        unsafe {
            *http_status = r.status;
            *content_type = ctype.as_ptr();
            give_string(body_out, r.body)
        }
    })
}

/// Forgets a visitor (right to erasure). `*removed` receives the number of
/// hits removed (may be NULL if not wanted).
///
/// # Safety
/// `store` is a live handle; `visitor` a NUL-terminated string; `removed`
/// NULL or a valid pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hitmap_store_forget_visitor(
    store: *mut hitmap_store,
    site: u32,
    visitor: *const c_char,
    removed: *mut u64,
) -> hitmap_status {
    guard(|| {
        // SAFETY: per this function's contract.
        let visitor = unsafe { text(visitor, "visitor") }?;
        // SAFETY: per this function's contract.
        let n = unsafe { engine(store) }?.forget_visitor(site, visitor)?;
        if !removed.is_null() {
            // SAFETY: non-NULL and valid per the contract.
            unsafe { *removed = n };
        }
        Ok(())
    })
}

/// Seals live data into day files: small ingests land in a write-ahead
/// log and live parts first (cheap, durable) and are sealed on their own
/// as they grow; call this before a backup, or when a writer stops for
/// good. `*live_hits` (may be NULL) receives the hits that were live.
///
/// # Safety
/// `store` is a live handle; `live_hits` NULL or a valid pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hitmap_store_seal(
    store: *mut hitmap_store,
    live_hits: *mut u64,
) -> hitmap_status {
    guard(|| {
        // SAFETY: per this function's contract.
        let mut engine = unsafe { engine(store) }?;
        let n = engine.live_hits();
        engine.seal()?;
        if !live_hits.is_null() {
            // SAFETY: non-NULL and valid per the contract.
            unsafe { *live_hits = n };
        }
        Ok(())
    })
}

/// Exports one local day of a site as a self-contained bundle (the
/// site's configuration, that day's dictionaries and archive, checksummed;
/// `Engine::export_day`). `day` is `YYYY-MM-DD`. `*data` and `*len`
/// receive the bytes; free them with `hitmap_bytes_free(*data, *len)`.
///
/// # Safety
/// `store` is a live handle; `day` a NUL-terminated string; `data` and
/// `len` valid pointers.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hitmap_store_export_day(
    store: *mut hitmap_store,
    site: u32,
    day: *const c_char,
    data: *mut *mut u8,
    len: *mut usize,
) -> hitmap_status {
    guard(|| {
        if data.is_null() {
            return Err(null("data"));
        }
        if len.is_null() {
            return Err(null("len"));
        }
        // SAFETY: per this function's contract.
        let day = unsafe { text(day, "day") }?;
        // SAFETY: per this function's contract.
        let bytes = unsafe { engine(store) }?.export_day(site, day)?;
        let boxed: Box<[u8]> = bytes.into_boxed_slice();
        // SAFETY: both checked non-NULL above.
        unsafe {
            *len = boxed.len();
            *data = Box::into_raw(boxed).cast::<u8>();
        }
        Ok(())
    })
}

/// Imports a day bundle from `hitmap_store_export_day` (any store). A
/// missing site is added from the bundle; `*day` (may be NULL) receives
/// the bundle's day as `YYYY-MM-DD`, to free with `hitmap_string_free`.
/// A damaged or foreign bundle is an error and changes nothing.
///
/// # Safety
/// `store` is a live handle; `data` points to `len` readable bytes;
/// `day` NULL or a valid pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hitmap_store_import_day(
    store: *mut hitmap_store,
    data: *const u8,
    len: usize,
    day: *mut *mut c_char,
) -> hitmap_status {
    guard(|| {
        if data.is_null() {
            return Err(null("data"));
        }
        // SAFETY: `len` readable bytes at `data` per the contract.
        let bytes = unsafe { std::slice::from_raw_parts(data, len) };
        // SAFETY: per this function's contract.
        let imported = unsafe { engine(store) }?.import_day(bytes)?;
        if day.is_null() {
            return Ok(());
        }
        // SAFETY: checked non-NULL above.
        unsafe { give_string(day, imported.to_string()) }
    })
}

/// Frees bytes hitmap handed out (`hitmap_store_export_day`). NULL is
/// allowed.
///
/// # Safety
/// `data` is NULL or bytes from this library, not yet freed, with the
/// `len` they were handed out with.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hitmap_bytes_free(data: *mut u8, len: usize) {
    if data.is_null() {
        return;
    }
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: from Box::into_raw of a boxed slice of `len` bytes in
        // hitmap_store_export_day, freed once.
        drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(data, len)) });
    }));
}

/// Frees a string hitmap handed out. NULL is allowed.
///
/// # Safety
/// `s` is NULL or a string from this library not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hitmap_string_free(s: *mut c_char) {
    if s.is_null() {
        return;
    }
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: from CString::into_raw in give_string, freed once.
        drop(unsafe { CString::from_raw(s) });
    }));
}
