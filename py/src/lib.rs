//! Python bindings of hitmap: the `hitmap._hitmap` extension module that
//! the pure-Python `hitmap` package wraps. Thin by design: it converts
//! arguments, errors and ownership; the engine lives in the core crate.

use std::collections::BTreeMap;
use std::sync::Mutex;

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;

create_exception!(
    _hitmap,
    HitmapError,
    PyException,
    "Base class of every hitmap error."
);
create_exception!(
    _hitmap,
    SegmentError,
    HitmapError,
    "A segment could not be parsed or names an unknown field."
);
create_exception!(
    _hitmap,
    RequestError,
    HitmapError,
    "A Reporting API request, date or period is malformed."
);
create_exception!(
    _hitmap,
    DeadlineError,
    RequestError,
    "A request ran past its time budget (``timeout=``)."
);
create_exception!(
    _hitmap,
    UnknownSiteError,
    HitmapError,
    "The site was never added."
);
create_exception!(
    _hitmap,
    StoreError,
    HitmapError,
    "A store file is damaged, locked or read-only."
);

create_exception!(
    _hitmap,
    IntakeError,
    HitmapError,
    "An importer failed: its source database, the schema there, the store's checkpoint or an option."
);

fn intake_to_py(e: hitmap_intake::Error) -> PyErr {
    match e {
        hitmap_intake::Error::Engine(e) => to_py(e),
        other => IntakeError::new_err(other.to_string()),
    }
}

fn to_py(e: hitmap::Error) -> PyErr {
    let message = e.to_string();
    match e {
        hitmap::Error::Segment { .. } => SegmentError::new_err(message),
        hitmap::Error::UnknownSite(id) => UnknownSiteError::new_err(format!(
            "site {id} is not configured: call add_site({id}, timezone=...) first"
        )),
        hitmap::Error::DeadlineExceeded(_) => DeadlineError::new_err(message),
        hitmap::Error::Request(_)
        | hitmap::Error::Forbidden(_)
        | hitmap::Error::Date { .. }
        | hitmap::Error::UnknownSection(_) => RequestError::new_err(message),
        hitmap::Error::Store { .. }
        | hitmap::Error::Unavailable { .. }
        | hitmap::Error::Locked { .. }
        | hitmap::Error::ReadOnly => StoreError::new_err(message),
        _ => HitmapError::new_err(message),
    }
}

/// The engine behind `hitmap.Engine`. Calls release the GIL while the
/// engine works; a lock inside serializes calls on one engine.
#[pyclass(module = "hitmap._hitmap", name = "Engine", frozen)]
struct Engine {
    inner: Mutex<hitmap::Engine>,
}

impl Engine {
    fn wrap(engine: hitmap::Engine) -> Engine {
        Engine {
            inner: Mutex::new(engine),
        }
    }

    /// The engine, locked for a call; the heap the call freed goes back
    /// to the system when it is over (`heap.rs` of hitmap-intake: a
    /// long-running writer kept every peak otherwise).
    fn lock(&self) -> hitmap_intake::heap::Releasing<std::sync::MutexGuard<'_, hitmap::Engine>> {
        hitmap_intake::heap::Releasing(self.inner.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn with<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut hitmap::Engine) -> hitmap::Result<T> + Send,
    ) -> PyResult<T> {
        py.detach(|| {
            let mut engine = self.lock();
            f(&mut engine)
        })
        .map_err(to_py)
    }
}

/// An ingest's outcome as Python gets it: (accepted, [(line, reason)],
/// batches, skipped batches, skipped lines).
fn ingest_tuple(outcome: hitmap::IngestOutcome) -> IngestTuple {
    (
        outcome.accepted,
        outcome
            .rejected
            .into_iter()
            .map(|r| (r.line, r.reason))
            .collect(),
        outcome.batches,
        outcome.skipped_batches,
        outcome.skipped_lines,
    )
}

/// A number of seconds from Python as a duration.
fn seconds(value: f64, name: &str) -> PyResult<std::time::Duration> {
    std::time::Duration::try_from_secs_f64(value).map_err(|_| {
        PyValueError::new_err(format!(
            "{name} must be a non-negative number of seconds, got {value}"
        ))
    })
}

#[pymethods]
impl Engine {
    /// Opens (creating if missing) a store folder for reading and writing,
    /// keeping at most `cache_mb` MiB of day archives between batches.
    #[new]
    #[pyo3(signature = (path, cache_mb=hitmap::DEFAULT_CACHE_MB))]
    fn open(py: Python<'_>, path: std::path::PathBuf, cache_mb: usize) -> PyResult<Engine> {
        let options = hitmap::StoreOptions::default().cache_mb(cache_mb);
        py.detach(|| hitmap::Engine::open_with(path, options))
            .map(Engine::wrap)
            .map_err(to_py)
    }

    /// An engine that keeps everything in memory.
    #[staticmethod]
    fn in_memory() -> Engine {
        Engine::wrap(hitmap::Engine::in_memory())
    }

    /// Opens a store for queries only, lazily: a folder or an object
    /// store URL (s3://, gs://, az://).
    #[staticmethod]
    #[pyo3(signature = (location, cache_mb=hitmap::DEFAULT_CACHE_MB, max_age=None, storage_options=BTreeMap::new()))]
    fn open_read_only(
        py: Python<'_>,
        location: String,
        cache_mb: usize,
        max_age: Option<f64>,
        storage_options: BTreeMap<String, String>,
    ) -> PyResult<Engine> {
        let mut options = hitmap::ReaderOptions::default().cache_mb(cache_mb);
        if let Some(age) = max_age {
            options = options.max_age(seconds(age, "max_age")?);
        }
        for (k, v) in storage_options {
            options = options.storage_option(k, v);
        }
        py.detach(|| hitmap::Engine::open_reader(&location, options))
            .map(Engine::wrap)
            .map_err(to_py)
    }

    /// Sets how many threads one query may use (0: one per core).
    fn set_query_threads(&self, py: Python<'_>, threads: usize) -> PyResult<()> {
        self.with(py, |e| {
            e.set_query_threads(threads);
            Ok(())
        })
    }

    /// How many threads one query may use.
    fn query_threads(&self, py: Python<'_>) -> PyResult<usize> {
        self.with(py, |e| Ok(e.query_threads()))
    }

    /// Picks up the store's newest commit; whether there was one.
    fn refresh(&self, py: Python<'_>) -> PyResult<bool> {
        self.with(py, |e| e.refresh())
    }

    /// Files and bytes read from the store so far: (requests, bytes).
    fn read_stats(&self, py: Python<'_>) -> PyResult<(u64, u64)> {
        self.with(py, |e| {
            let s = e.read_stats();
            Ok((s.requests, s.bytes))
        })
    }

    /// Publishes the store's current commit to an object store URL;
    /// (generation, files uploaded, bytes uploaded, files deleted).
    #[pyo3(signature = (url, retain=3600.0, storage_options=BTreeMap::new()))]
    fn publish(
        &self,
        py: Python<'_>,
        url: String,
        retain: f64,
        storage_options: BTreeMap<String, String>,
    ) -> PyResult<(u64, u64, u64, u64)> {
        let mut options = hitmap::PublishOptions::default().retain(seconds(retain, "retain")?);
        for (k, v) in storage_options {
            options = options.storage_option(k, v);
        }
        self.with(py, |e| {
            let p = e.publish(&url, &options)?;
            Ok((p.generation, p.uploaded, p.bytes, p.deleted))
        })
    }

    /// Adds a goal (a JSON object with Matomo's field names,
    /// `hitmap::Goal::from_json`) to a site, or replaces the one with its id.
    fn set_goal(&self, py: Python<'_>, site: u32, goal: &str) -> PyResult<()> {
        let goal = hitmap::Goal::from_json(goal).map_err(to_py)?;
        self.with(py, |e| e.set_goal(site, goal))
    }

    /// Removes a site's goal; whether it had one with that id.
    fn remove_goal(&self, py: Python<'_>, site: u32, id: u32) -> PyResult<bool> {
        self.with(py, |e| e.remove_goal(site, id))
    }

    /// Adds or updates a site.
    // One parameter per Python keyword argument: the signature is the API.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (site, timezone="UTC", visit_timeout=1800, hosts=Vec::new(), sections=BTreeMap::new(), dimensions=Vec::new(), ecommerce=false, name=None, main_url=None, excluded_ips=Vec::new(), excluded_user_agents=Vec::new(), exclude_unknown_urls=false, excluded_parameters=Vec::new(), title_category_delimiter=None))]
    fn add_site(
        &self,
        py: Python<'_>,
        site: u32,
        timezone: &str,
        visit_timeout: u32,
        hosts: Vec<String>,
        sections: BTreeMap<String, Vec<String>>,
        dimensions: Vec<String>,
        ecommerce: bool,
        name: Option<String>,
        main_url: Option<String>,
        excluded_ips: Vec<String>,
        excluded_user_agents: Vec<String>,
        exclude_unknown_urls: bool,
        excluded_parameters: Vec<String>,
        title_category_delimiter: Option<String>,
    ) -> PyResult<()> {
        let mut config = hitmap::SiteConfig::new(site)
            .time_zone(timezone)
            .visit_timeout(visit_timeout)
            .ecommerce(ecommerce);
        if let Some(n) = name {
            config = config.name(n);
        }
        if let Some(u) = main_url {
            config = config.main_url(u);
        }
        if let Some(d) = title_category_delimiter {
            config = config.title_category_delimiter(d);
        }
        for h in hosts {
            config = config.host(h);
        }
        for ip in excluded_ips {
            config = config.exclude_ip(ip);
        }
        for agent in excluded_user_agents {
            config = config.exclude_user_agent(agent);
        }
        for p in excluded_parameters {
            config = config.exclude_parameter(p);
        }
        config = config.exclude_unknown_urls(exclude_unknown_urls);
        for (name, prefixes) in sections {
            config = config.section(name, prefixes);
        }
        for d in dimensions {
            config = config.dimension(d);
        }
        self.with(py, |e| e.add_site(config))
    }

    /// Ingests NDJSON read from a binary file object in chunks, each
    /// committed as one batch; repeats of committed chunks are skipped.
    /// Returns (accepted, rejected, batches, skipped_batches, skipped_lines).
    #[pyo3(signature = (source, progress=None, batch_id=None, force=false))]
    fn ingest_ndjson_stream(
        &self,
        py: Python<'_>,
        source: Py<PyAny>,
        progress: Option<Py<PyAny>>,
        batch_id: Option<String>,
        force: bool,
    ) -> PyResult<IngestTuple> {
        let options = ingest_options(batch_id, force);
        let mut reader = PyStream {
            source: &source,
            buf: Vec::new(),
            pos: 0,
            done: 0,
            eof: false,
            progress: progress.as_ref(),
            interrupted: None,
        };
        let result = py.detach(|| {
            let mut engine = self.lock();
            engine.ingest_ndjson_with(&mut reader, &options)
        });
        if let Some(err) = reader.interrupted.take() {
            return Err(err);
        }
        let outcome = result.map_err(to_py)?;
        if let Some(cb) = &progress {
            cb.call1(py, (reader.done,))?;
        }
        Ok(ingest_tuple(outcome))
    }

    /// Ingests an NDJSON file by path (gzip, bzip2 and zstd recognised),
    /// resuming after the part the store holds when the file was ingested
    /// before and has grown, or was renamed or compressed
    /// (`Engine::ingest_ndjson_resuming`). Ctrl-C and `progress(bytes)`
    /// run between slices of the read, as for a stream.
    #[pyo3(signature = (path, progress=None, batch_id=None, force=false))]
    fn ingest_ndjson_path(
        &self,
        py: Python<'_>,
        path: String,
        progress: Option<Py<PyAny>>,
        batch_id: Option<String>,
        force: bool,
    ) -> PyResult<IngestTuple> {
        let options = ingest_options(batch_id, force);
        let interrupted: std::sync::Arc<std::sync::Mutex<Option<PyErr>>> = Default::default();
        let done = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        // Opened once here, so that a missing file is an error before
        // anything is read; again when the read must start over.
        let mut first =
            Some(hitmap_intake::input::open(std::path::Path::new(&path)).map_err(intake_to_py)?);
        let open = || -> std::io::Result<PathStream> {
            let inner = match first.take() {
                Some(r) => r,
                None => hitmap_intake::input::open(std::path::Path::new(&path))
                    .map_err(|e| std::io::Error::other(e.to_string()))?,
            };
            done.store(0, std::sync::atomic::Ordering::Relaxed);
            Ok(PathStream {
                inner,
                done: done.clone(),
                checked: 0,
                progress: progress
                    .as_ref()
                    .map(|p| Python::attach(|py| p.clone_ref(py))),
                interrupted: interrupted.clone(),
            })
        };
        let result = py.detach(|| {
            let mut engine = self.lock();
            engine.ingest_ndjson_resuming(open, &options)
        });
        if let Some(err) = interrupted.lock().unwrap_or_else(|p| p.into_inner()).take() {
            return Err(err);
        }
        let outcome = result.map_err(to_py)?;
        if let Some(cb) = &progress {
            cb.call1(py, (done.load(std::sync::atomic::Ordering::Relaxed),))?;
        }
        Ok(ingest_tuple(outcome))
    }

    /// Ingests Arrow record batches (any object with `__arrow_c_stream__`:
    /// a polars or pyarrow table, a pandas DataFrame with pyarrow) column
    /// by column, committed in chunks of `chunk_rows` rows. Returns the
    /// same tuple as `ingest_ndjson_stream`, rows numbered from 1.
    #[pyo3(signature = (data, batch_id=None, force=false, chunk_rows=262_144))]
    fn ingest_arrow(
        &self,
        py: Python<'_>,
        data: pyo3_arrow::PyRecordBatchReader,
        batch_id: Option<String>,
        force: bool,
        chunk_rows: usize,
    ) -> PyResult<IngestTuple> {
        let reader = data.into_reader()?;
        let options = hitmap_intake::arrow::ArrowOptions {
            chunk_rows,
            batch_id,
            force,
        };
        let outcome = py
            .detach(|| {
                let mut engine = self.lock();
                hitmap_intake::arrow::ingest_batches(&mut engine, reader, &options)
            })
            .map_err(|e| match e {
                // A column that cannot be read is the caller's value.
                hitmap_intake::Error::Format(m) => pyo3::exceptions::PyValueError::new_err(m),
                other => intake_to_py(other),
            })?;
        Ok(ingest_tuple(outcome))
    }

    /// Imports access logs (paths; `-` is stdin; gzip, bzip2, zstd
    /// recognised) with the importer's options as (name, value) pairs
    /// (`LogOptions::set` names). Returns the summary as JSON text.
    fn ingest_log(
        &self,
        py: Python<'_>,
        paths: Vec<String>,
        options: Vec<(String, String)>,
    ) -> PyResult<String> {
        let mut o = hitmap_intake::logs::LogOptions::default();
        for (name, value) in &options {
            o.set(name, value).map_err(intake_to_py)?;
        }
        let summary = py.detach(|| {
            let mut engine = self.lock();
            hitmap_intake::logs::import_files(&mut engine, &paths, &o)
        });
        Ok(summary.map_err(intake_to_py)?.to_json().to_string())
    }

    /// Imports Matomo's raw log tables (`hitmap_intake::matomo`), calling
    /// `query(sql)` for the rows of each `SELECT` (a DB-API cursor's
    /// `fetchall()`), and `progress(site, rows, hits, cursor)` after every
    /// committed batch. Returns one tuple per site: (site, rows, hits,
    /// skipped, rejected, cursor, settling).
    // One parameter per Python keyword argument: the signature is the API.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (query, sites=None, from_day=None, to_day=None, keep_visits=false, prefix="matomo_".to_string(), batch_rows=100_000, settle_secs=60, progress=None))]
    fn import_matomo(
        &self,
        py: Python<'_>,
        query: Py<PyAny>,
        sites: Option<Vec<u32>>,
        from_day: Option<String>,
        to_day: Option<String>,
        keep_visits: bool,
        prefix: String,
        batch_rows: usize,
        settle_secs: u32,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Vec<MatomoSiteTuple>> {
        let day = |d: Option<String>| {
            d.as_deref()
                .map(hitmap::parse_day)
                .transpose()
                .map_err(to_py)
        };
        let options = hitmap_intake::matomo::ImportOptions {
            prefix,
            sites,
            from: day(from_day)?,
            to: day(to_day)?,
            keep_visits,
            batch_rows,
            settle_secs,
        };
        let mut db = PyDatabase {
            py,
            query: &query,
            failed: None,
        };
        let mut callback_error = None;
        let mut on_batch = |p: &hitmap_intake::matomo::Progress| {
            if let Some(cb) = &progress
                && callback_error.is_none()
                && let Err(e) = cb.call1(py, (p.site, p.rows, p.hits, p.cursor))
            {
                callback_error = Some(e);
            }
        };
        // The GIL stays held: every batch calls back into Python.
        let result = {
            let mut engine = self.lock();
            hitmap_intake::matomo::import(&mut engine, &mut db, &options, &mut on_batch)
        };
        if let Some(e) = db.failed.take() {
            return Err(e);
        }
        if let Some(e) = callback_error {
            return Err(e);
        }
        let summary = result.map_err(intake_to_py)?;
        Ok(summary
            .sites
            .into_iter()
            .map(|s| {
                (
                    s.site, s.rows, s.hits, s.skipped, s.rejected, s.cursor, s.settling,
                )
            })
            .collect())
    }

    /// An importer checkpoint of the store (e.g. `matomo:1`).
    fn cursor(&self, py: Python<'_>, name: String) -> PyResult<Option<String>> {
        self.with(py, |e| Ok(e.cursor(&name).map(str::to_owned)))
    }

    /// The IANA time zone of a site.
    fn site_timezone(&self, py: Python<'_>, site: u32) -> PyResult<String> {
        self.with(py, |e| {
            e.site(site)
                .map(|c| c.time_zone_name().to_string())
                .ok_or(hitmap::Error::UnknownSite(site))
        })
    }

    /// Answers a Reporting API request; the JSON text. A reader past its
    /// `max_age` picks up newer commits first.
    #[pyo3(signature = (query, timeout=None))]
    fn api_json(&self, py: Python<'_>, query: String, timeout: Option<f64>) -> PyResult<String> {
        let mut options = hitmap::ApiOptions::default();
        if let Some(t) = timeout {
            options = options.timeout(seconds(t, "timeout")?);
        }
        self.with(py, |e| {
            // A failed refresh (a network error) answers from the snapshot.
            let _ = e.refresh_if_stale();
            e.api_with(&query, &options)
        })
    }

    /// Answers a Reporting API request as an Arrow table (an object with
    /// `__arrow_c_stream__`: `pyarrow.table(t)`, `polars.DataFrame(t)`),
    /// one row per report row, without JSON.
    #[pyo3(signature = (query, timeout=None))]
    fn api_arrow(
        &self,
        py: Python<'_>,
        query: String,
        timeout: Option<f64>,
    ) -> PyResult<pyo3_arrow::PyTable> {
        let mut options = hitmap::ApiOptions::default();
        if let Some(t) = timeout {
            options = options.timeout(seconds(t, "timeout")?);
        }
        let batch = self.with(py, |e| {
            let _ = e.refresh_if_stale();
            e.api_arrow(&query, &options)
        })?;
        let schema = batch.schema();
        pyo3_arrow::PyTable::try_new(vec![batch], schema)
    }

    /// Heap bytes the engine holds, by part (`hitmap::Engine::memory_usage`).
    fn memory_usage(&self, py: Python<'_>) -> PyResult<Vec<(String, usize)>> {
        self.with(py, |e| {
            Ok(e.memory_usage()
                .into_iter()
                .map(|(part, bytes)| (part.to_owned(), bytes))
                .collect())
        })
    }

    /// Forgets a visitor; returns the hits removed.
    fn forget_visitor(&self, py: Python<'_>, site: u32, visitor: String) -> PyResult<u64> {
        self.with(py, |e| e.forget_visitor(site, &visitor))
    }

    /// One local day of a site as a self-contained bundle.
    fn export_day<'py>(
        &self,
        py: Python<'py>,
        site: u32,
        day: String,
    ) -> PyResult<Bound<'py, pyo3::types::PyBytes>> {
        let bytes = self.with(py, |e| e.export_day(site, day.as_str()))?;
        Ok(pyo3::types::PyBytes::new(py, &bytes))
    }

    /// The stored hits or visits of local days `from_day..=to_day` as an
    /// Arrow table, a record batch per day (`hitmap::Engine::export_arrow`).
    fn export_arrow(
        &self,
        py: Python<'_>,
        site: u32,
        from_day: String,
        to_day: String,
        what: String,
    ) -> PyResult<pyo3_arrow::PyTable> {
        let kind = export_kind(&what)?;
        let (batches, schema) = self.with(py, |e| {
            let _ = e.refresh_if_stale();
            Ok((
                e.export_arrow(site, from_day.as_str(), to_day.as_str(), kind)?,
                e.export_schema(site, kind)?,
            ))
        })?;
        pyo3_arrow::PyTable::try_new(batches, schema)
    }

    /// Writes the stored hits or visits of local days `from_day..=to_day`
    /// to a Parquet file (written beside it, then renamed over it);
    /// returns (rows, row groups).
    fn export_parquet(
        &self,
        py: Python<'_>,
        site: u32,
        from_day: String,
        to_day: String,
        what: String,
        path: std::path::PathBuf,
    ) -> PyResult<(u64, u64)> {
        let kind = export_kind(&what)?;
        let done = self.with(py, |e| {
            let _ = e.refresh_if_stale();
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            let partial = path.with_file_name(format!(".{}.partial", name.unwrap_or_default()));
            let file = std::fs::File::create(&partial)?;
            let mut out = std::io::BufWriter::new(file);
            let written = e
                .export_parquet(site, from_day.as_str(), to_day.as_str(), kind, &mut out)
                .and_then(|d| {
                    std::io::Write::flush(&mut out)?;
                    std::fs::rename(&partial, &path)?;
                    Ok(d)
                });
            if written.is_err() {
                let _ = std::fs::remove_file(&partial);
            }
            written
        })?;
        Ok((done.rows, done.row_groups))
    }

    /// Closes the store: live data is sealed, the writer's lock released;
    /// the engine is empty and in memory afterwards.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        self.with(py, |e| {
            if e.path().is_some() && e.damaged().is_empty() {
                let _ = e.seal();
            }
            *e = hitmap::Engine::in_memory();
            Ok(())
        })
    }

    /// A distributed build's steps (`hitmap::Engine::set_dictionaries_only`
    /// and the rest; `hitmap.dask` drives them).
    fn set_dictionaries_only(&self, py: Python<'_>, on: bool) -> PyResult<()> {
        self.with(py, |e| e.set_dictionaries_only(on))
    }

    fn site_dictionaries<'py>(
        &self,
        py: Python<'py>,
        site: u32,
    ) -> PyResult<Bound<'py, pyo3::types::PyBytes>> {
        let bytes = self.with(py, |e| e.site_dictionaries(site))?;
        Ok(pyo3::types::PyBytes::new(py, &bytes))
    }

    fn merge_dictionaries(&self, py: Python<'_>, site: u32, bytes: Vec<u8>) -> PyResult<()> {
        self.with(py, |e| e.merge_dictionaries(site, &bytes))
    }

    fn install_dictionaries(&self, py: Python<'_>, site: u32, bytes: Vec<u8>) -> PyResult<()> {
        self.with(py, |e| e.install_dictionaries(site, &bytes))
    }

    fn install_day(&self, py: Python<'_>, site: u32, day: String, bytes: Vec<u8>) -> PyResult<()> {
        let day = hitmap::parse_day(&day).map_err(to_py)?;
        self.with(py, |e| e.install_day(site, day, &bytes))
    }

    fn encoded_day<'py>(
        &self,
        py: Python<'py>,
        site: u32,
        day: String,
    ) -> PyResult<Option<Bound<'py, pyo3::types::PyBytes>>> {
        let day = hitmap::parse_day(&day).map_err(to_py)?;
        let bytes = self.with(py, |e| e.encoded_day(site, day))?;
        Ok(bytes.map(|b| pyo3::types::PyBytes::new(py, &b)))
    }

    /// Every held day of a site: [(site, day, dictionaries key, bytes)].
    fn encoded_days<'py>(&self, py: Python<'py>, site: u32) -> PyResult<Vec<BuiltDayTuple<'py>>> {
        let days = self.with(py, |e| e.encoded_days(site))?;
        Ok(days
            .into_iter()
            .map(|b| {
                (
                    b.site,
                    b.day.to_string(),
                    b.dictionaries,
                    pyo3::types::PyBytes::new(py, &b.bytes),
                )
            })
            .collect())
    }

    #[pyo3(signature = (days, batch_id=None))]
    fn adopt_days(
        &self,
        py: Python<'_>,
        days: Vec<(u32, String, u64, Vec<u8>)>,
        batch_id: Option<String>,
    ) -> PyResult<()> {
        let days = days
            .into_iter()
            .map(|(site, day, dictionaries, bytes)| {
                Ok(hitmap::BuiltDay {
                    site,
                    day: hitmap::parse_day(&day)?,
                    dictionaries,
                    bytes,
                })
            })
            .collect::<hitmap::Result<Vec<_>>>()
            .map_err(to_py)?;
        self.with(py, |e| e.adopt_days(days, batch_id.as_deref()))
    }

    fn has_batch(&self, py: Python<'_>, batch_id: String) -> PyResult<bool> {
        self.with(py, |e| Ok(e.has_batch(&batch_id)))
    }

    fn site_configuration<'py>(
        &self,
        py: Python<'py>,
        site: u32,
    ) -> PyResult<Bound<'py, pyo3::types::PyBytes>> {
        let bytes = self.with(py, |e| e.site_configuration(site))?;
        Ok(pyo3::types::PyBytes::new(py, &bytes))
    }

    fn add_site_from(&self, py: Python<'_>, bytes: Vec<u8>) -> PyResult<()> {
        self.with(py, |e| e.add_site_from(&bytes))
    }

    /// Imports a day bundle; returns its day (YYYY-MM-DD).
    fn import_day(&self, py: Python<'_>, bundle: Vec<u8>) -> PyResult<String> {
        self.with(py, |e| e.import_day(&bundle).map(|d| d.to_string()))
    }

    /// Seals live data into day files; returns the hits that were live.
    fn seal(&self, py: Python<'_>) -> PyResult<u64> {
        self.with(py, |e| {
            let n = e.live_hits();
            e.seal()?;
            Ok(n)
        })
    }

    /// Ids of the configured sites.
    fn site_ids(&self, py: Python<'_>) -> PyResult<Vec<u32>> {
        self.with(py, |e| Ok(e.site_ids()))
    }
}

/// How many bytes the NDJSON reader parses between two looks at Python
/// (signals and progress): a few milliseconds of work.
const CHECK_EVERY: usize = 4 << 20;

/// (accepted, rejected (line, reason), batches, skipped batches, skipped lines).
type IngestTuple = (u64, Vec<(u64, String)>, u64, u64, u64);

/// An ingest's options from Python's `batch_id` and `force`.
/// A built day as Python gets it: (site, day, dictionaries key, bytes).
type BuiltDayTuple<'py> = (u32, String, u64, Bound<'py, pyo3::types::PyBytes>);

fn export_kind(what: &str) -> PyResult<hitmap::ExportKind> {
    hitmap::ExportKind::parse(what).ok_or_else(|| {
        pyo3::exceptions::PyValueError::new_err(format!(
            "what={what:?}: export \"hits\" or \"visits\""
        ))
    })
}

fn ingest_options(batch_id: Option<String>, force: bool) -> hitmap::IngestOptions {
    let options = hitmap::IngestOptions::default().force(force);
    match batch_id {
        Some(id) => options.batch_id(id),
        None => options,
    }
}

/// A Python binary file object read in slices of [`CHECK_EVERY`] bytes.
/// Between slices Python gets the GIL back for a moment: it runs signal
/// handlers (Ctrl-C raises `KeyboardInterrupt`, which stops the read and
/// so the chunk being parsed) and the progress callback. Memory holds one
/// slice here and one chunk in the engine, whatever the input's size.
struct PyStream<'a> {
    source: &'a Py<PyAny>,
    buf: Vec<u8>,
    pos: usize,
    /// Bytes handed to the engine so far.
    done: u64,
    eof: bool,
    progress: Option<&'a Py<PyAny>>,
    /// The Python exception that stopped the read, re-raised afterwards.
    interrupted: Option<PyErr>,
}

impl PyStream<'_> {
    fn refill(&mut self) -> std::io::Result<()> {
        let (source, progress, done) = (self.source, self.progress, self.done);
        let read = Python::attach(|py| {
            // Between slices (not before the first): Ctrl-C and progress.
            if done > 0 {
                py.check_signals()?;
                if let Some(cb) = progress {
                    cb.call1(py, (done,))?;
                }
            }
            let chunk = source.call_method1(py, "read", (CHECK_EVERY,))?;
            let bytes = chunk.bind(py).cast::<pyo3::types::PyBytes>().map_err(|_| {
                pyo3::exceptions::PyTypeError::new_err(
                    "source: the file object must return bytes (open it with 'rb')",
                )
            })?;
            Ok::<Vec<u8>, PyErr>(bytes.as_bytes().to_vec())
        });
        match read {
            Ok(bytes) => {
                self.eof = bytes.is_empty();
                self.buf = bytes;
                self.pos = 0;
                Ok(())
            }
            Err(e) => {
                self.interrupted = Some(e);
                // Not `Interrupted`: `read_until` would retry that kind.
                Err(std::io::Error::other("ingest stopped from Python"))
            }
        }
    }
}

/// `Read::read` through a reader's own buffer (`fill_buf`, `consume`),
/// where its checks between slices run.
fn read_buffered(r: &mut impl std::io::BufRead, buf: &mut [u8]) -> std::io::Result<usize> {
    let available = r.fill_buf()?;
    let n = available.len().min(buf.len());
    buf[..n].copy_from_slice(&available[..n]);
    r.consume(n);
    Ok(n)
}

impl std::io::Read for PyStream<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        read_buffered(self, buf)
    }
}

impl std::io::BufRead for PyStream<'_> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.pos >= self.buf.len() && !self.eof {
            self.refill()?;
        }
        Ok(&self.buf[self.pos..])
    }

    fn consume(&mut self, n: usize) {
        self.pos += n;
        self.done += n as u64;
    }
}

/// A file read by Rust for `ingest_ndjson_path`: every [`CHECK_EVERY`]
/// bytes Python gets the GIL back for a moment for its signal handlers
/// (Ctrl-C stops the read) and the progress callback.
struct PathStream {
    inner: Box<dyn std::io::BufRead + Send>,
    /// Bytes handed to the engine so far (this open's).
    done: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// `done` when Python last ran.
    checked: u64,
    progress: Option<Py<PyAny>>,
    /// The Python exception that stopped the read, re-raised afterwards.
    interrupted: std::sync::Arc<std::sync::Mutex<Option<PyErr>>>,
}

impl std::io::Read for PathStream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        read_buffered(self, buf)
    }
}

impl std::io::BufRead for PathStream {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        let done = self.done.load(std::sync::atomic::Ordering::Relaxed);
        if done >= self.checked + CHECK_EVERY as u64 {
            self.checked = done;
            let progress = &self.progress;
            let ran = Python::attach(|py| {
                py.check_signals()?;
                if let Some(cb) = progress {
                    cb.call1(py, (done,))?;
                }
                Ok::<(), PyErr>(())
            });
            if let Err(e) = ran {
                *self.interrupted.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                return Err(std::io::Error::other("ingest stopped from Python"));
            }
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        self.inner.consume(n);
        self.done
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
    }
}

/// One site's import: (site, rows, hits, skipped by reason, rejected by
/// reason, checkpoint, settling).
type MatomoSiteTuple = (
    u32,
    u64,
    u64,
    BTreeMap<String, u64>,
    BTreeMap<String, u64>,
    u64,
    bool,
);

/// A Python callable `query(sql) -> rows` as the importer's database. A
/// Python exception is kept and raised as it was once the import stops.
struct PyDatabase<'a, 'py> {
    py: Python<'py>,
    query: &'a Py<PyAny>,
    failed: Option<PyErr>,
}

impl hitmap_intake::matomo::Database for PyDatabase<'_, '_> {
    fn query(&mut self, sql: &str) -> Result<Vec<Vec<hitmap_intake::matomo::Value>>, String> {
        let rows = self.query.call1(self.py, (sql,)).and_then(|rows| {
            rows.bind(self.py)
                .try_iter()
                .map(|it| it.collect::<Vec<_>>())
        });
        let rows = match rows {
            Ok(rows) => rows,
            Err(e) => {
                let message = e.to_string();
                self.failed = Some(e);
                return Err(message);
            }
        };
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let row = row.and_then(|r| r.try_iter()?.map(|v| v.map(|v| value(&v))).collect());
            match row {
                Ok(r) => out.push(r),
                Err(e) => {
                    let message = e.to_string();
                    self.failed = Some(e);
                    return Err(message);
                }
            }
        }
        Ok(out)
    }
}

/// A DB-API value as the importer's: None, int, float, str, bytes; any
/// other type (Decimal, datetime) by its `str()`.
fn value(v: &Bound<'_, PyAny>) -> hitmap_intake::matomo::Value {
    use hitmap_intake::matomo::Value;
    use pyo3::types::{PyBytes, PyFloat, PyInt, PyString};
    if v.is_none() {
        Value::Null
    } else if v.cast::<PyInt>().is_ok()
        && let Ok(i) = v.extract::<i64>()
    {
        Value::Int(i)
    } else if let Ok(f) = v.cast::<PyFloat>() {
        Value::Float(f.value())
    } else if let Ok(s) = v.cast::<PyString>() {
        Value::Text(s.to_string_lossy().into_owned())
    } else if let Ok(b) = v.cast::<PyBytes>() {
        Value::Text(String::from_utf8_lossy(b.as_bytes()).into_owned())
    } else {
        v.str().map_or(Value::Null, |s| {
            Value::Text(s.to_string_lossy().into_owned())
        })
    }
}

/// The project's seeded sample traffic as NDJSON bytes (see
/// `hitmap::sample`): the same seed gives the same hits everywhere.
#[pyfunction]
#[pyo3(signature = (days=30, visitors=2000, seed=42, start="2025-01-01", profile="intranet"))]
fn sample_ndjson(
    py: Python<'_>,
    days: u32,
    visitors: u32,
    seed: u64,
    start: &str,
    profile: &str,
) -> PyResult<Py<pyo3::types::PyBytes>> {
    let start = hitmap::parse_day(start).map_err(to_py)?;
    let profile = profile
        .parse()
        .map_err(pyo3::exceptions::PyValueError::new_err)?;
    let cfg = hitmap::sample::SampleConfig {
        seed,
        start,
        days,
        visitors,
        profile,
        ..Default::default()
    };
    let out = py.detach(|| {
        let mut out = Vec::new();
        for hit in hitmap::sample::generate(&cfg) {
            out.extend_from_slice(hitmap::sample::ndjson_line(&cfg, &hit).as_bytes());
            out.push(b'\n');
        }
        out
    });
    Ok(pyo3::types::PyBytes::new(py, &out).unbind())
}

/// The extension module.
#[pymodule]
fn _hitmap(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<Engine>()?;
    m.add_function(wrap_pyfunction!(sample_ndjson, m)?)?;
    m.add("HitmapError", py.get_type::<HitmapError>())?;
    m.add("SegmentError", py.get_type::<SegmentError>())?;
    m.add("RequestError", py.get_type::<RequestError>())?;
    m.add("DeadlineError", py.get_type::<DeadlineError>())?;
    m.add("UnknownSiteError", py.get_type::<UnknownSiteError>())?;
    m.add("StoreError", py.get_type::<StoreError>())?;
    m.add("IntakeError", py.get_type::<IntakeError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
