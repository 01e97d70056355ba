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

fn to_py(e: hitmap::Error) -> PyErr {
    let message = e.to_string();
    match e {
        hitmap::Error::Segment { .. } => SegmentError::new_err(message),
        hitmap::Error::UnknownSite(_) => UnknownSiteError::new_err(message),
        hitmap::Error::DeadlineExceeded(_) => DeadlineError::new_err(message),
        hitmap::Error::Request(_)
        | hitmap::Error::Date { .. }
        | hitmap::Error::UnknownSection(_) => RequestError::new_err(message),
        hitmap::Error::Store { .. } | hitmap::Error::Locked { .. } | hitmap::Error::ReadOnly => {
            StoreError::new_err(message)
        }
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

    fn with<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut hitmap::Engine) -> hitmap::Result<T> + Send,
    ) -> PyResult<T> {
        py.detach(|| {
            let mut engine = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut engine)
        })
        .map_err(to_py)
    }
}

#[pymethods]
impl Engine {
    /// Opens (creating if missing) a store folder for reading and writing.
    #[new]
    fn open(py: Python<'_>, path: std::path::PathBuf) -> PyResult<Engine> {
        py.detach(|| hitmap::Engine::open(path))
            .map(Engine::wrap)
            .map_err(to_py)
    }

    /// An engine that keeps everything in memory.
    #[staticmethod]
    fn in_memory() -> Engine {
        Engine::wrap(hitmap::Engine::in_memory())
    }

    /// Opens an existing store for queries only.
    #[staticmethod]
    fn open_read_only(py: Python<'_>, path: std::path::PathBuf) -> PyResult<Engine> {
        py.detach(|| hitmap::Engine::open_read_only(path))
            .map(Engine::wrap)
            .map_err(to_py)
    }

    /// Adds or updates a site.
    // One parameter per Python keyword argument: the signature is the API.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (site, timezone="UTC", visit_timeout=1800, hosts=Vec::new(), sections=BTreeMap::new(), dimensions=Vec::new()))]
    fn add_site(
        &self,
        py: Python<'_>,
        site: u32,
        timezone: &str,
        visit_timeout: u32,
        hosts: Vec<String>,
        sections: BTreeMap<String, Vec<String>>,
        dimensions: Vec<String>,
    ) -> PyResult<()> {
        let mut config = hitmap::SiteConfig::new(site)
            .time_zone(timezone)
            .visit_timeout(visit_timeout);
        for h in hosts {
            config = config.host(h);
        }
        for (name, prefixes) in sections {
            config = config.section(name, prefixes);
        }
        for d in dimensions {
            config = config.dimension(d);
        }
        self.with(py, |e| e.add_site(config))
    }

    /// Ingests NDJSON bytes as one batch; returns (accepted, [(line, reason)]).
    ///
    /// Every `CHECK_EVERY` bytes the reader takes the GIL back for a moment
    /// to run Python's signal handlers (so Ctrl-C cancels the batch before
    /// anything is committed) and to call `progress(bytes_read)`.
    #[pyo3(signature = (data, progress=None))]
    fn ingest_ndjson_bytes(
        &self,
        py: Python<'_>,
        data: Vec<u8>,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<(u64, Vec<(u64, String)>)> {
        let mut reader = WatchedReader {
            data: &data,
            pos: 0,
            next_check: 0,
            progress: progress.as_ref(),
            interrupted: None,
        };
        let result = py.detach(|| {
            let mut engine = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            engine.ingest_ndjson(&mut reader)
        });
        if let Some(err) = reader.interrupted.take() {
            return Err(err);
        }
        let outcome = result.map_err(to_py)?;
        if let Some(cb) = &progress {
            cb.call1(py, (data.len(),))?;
        }
        Ok((
            outcome.accepted,
            outcome
                .rejected
                .into_iter()
                .map(|r| (r.line, r.reason))
                .collect(),
        ))
    }

    /// The IANA time zone of a site.
    fn site_timezone(&self, py: Python<'_>, site: u32) -> PyResult<String> {
        self.with(py, |e| {
            e.site(site)
                .map(|c| c.time_zone_name().to_string())
                .ok_or(hitmap::Error::UnknownSite(site))
        })
    }

    /// Answers a Reporting API request; the JSON text.
    #[pyo3(signature = (query, timeout=None))]
    fn api_json(&self, py: Python<'_>, query: String, timeout: Option<f64>) -> PyResult<String> {
        let mut options = hitmap::ApiOptions::default();
        if let Some(t) = timeout {
            let budget = std::time::Duration::try_from_secs_f64(t).map_err(|_| {
                PyValueError::new_err(format!(
                    "timeout must be a non-negative number of seconds, got {t}"
                ))
            })?;
            options = options.timeout(budget);
        }
        self.with(py, |e| e.api_with(&query, &options))
    }

    /// Forgets a visitor; returns the hits removed.
    fn forget_visitor(&self, py: Python<'_>, site: u32, visitor: String) -> PyResult<u64> {
        self.with(py, |e| e.forget_visitor(site, &visitor))
    }

    /// Ids of the configured sites.
    fn site_ids(&self, py: Python<'_>) -> PyResult<Vec<u32>> {
        self.with(py, |e| Ok(e.site_ids()))
    }
}

/// How many bytes the NDJSON reader parses between two looks at Python
/// (signals and progress): a few milliseconds of work.
const CHECK_EVERY: usize = 4 << 20;

/// NDJSON bytes handed to the engine in slices that end at check points,
/// where Python gets a chance to raise `KeyboardInterrupt`.
struct WatchedReader<'a> {
    data: &'a [u8],
    pos: usize,
    next_check: usize,
    progress: Option<&'a Py<PyAny>>,
    /// The Python exception that stopped the read, re-raised afterwards.
    interrupted: Option<PyErr>,
}

impl WatchedReader<'_> {
    fn look_at_python(&mut self) -> std::io::Result<()> {
        let pos = self.pos;
        let progress = self.progress;
        let checked = Python::attach(|py| {
            py.check_signals()?;
            if let Some(cb) = progress {
                cb.call1(py, (pos,))?;
            }
            Ok::<(), PyErr>(())
        });
        checked.map_err(|e| {
            self.interrupted = Some(e);
            // Not `Interrupted`: `read_until` would retry that kind.
            std::io::Error::other("ingest stopped from Python")
        })
    }
}

impl std::io::Read for WatchedReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let available = std::io::BufRead::fill_buf(self)?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        std::io::BufRead::consume(self, n);
        Ok(n)
    }
}

impl std::io::BufRead for WatchedReader<'_> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.pos >= self.next_check && self.pos < self.data.len() {
            if self.pos > 0 {
                self.look_at_python()?;
            }
            self.next_check = self.pos + CHECK_EVERY;
        }
        let end = self.next_check.min(self.data.len());
        Ok(&self.data[self.pos.min(end)..end])
    }

    fn consume(&mut self, n: usize) {
        self.pos += n;
    }
}

/// The project's seeded sample traffic as NDJSON bytes (see
/// `hitmap::sample`): the same seed gives the same hits everywhere.
#[pyfunction]
#[pyo3(signature = (days=30, visitors=2000, seed=42, start="2025-01-01"))]
fn sample_ndjson(
    py: Python<'_>,
    days: u32,
    visitors: u32,
    seed: u64,
    start: &str,
) -> PyResult<Py<pyo3::types::PyBytes>> {
    let start = hitmap::parse_day(start).map_err(to_py)?;
    let cfg = hitmap::sample::SampleConfig {
        seed,
        start,
        days,
        visitors,
        ..Default::default()
    };
    let out = py.detach(|| {
        let mut out = Vec::new();
        for hit in hitmap::sample::generate(&cfg) {
            out.extend_from_slice(hit.to_ndjson().as_bytes());
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
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
