//! Python bindings of hitmap: the `hitmap._hitmap` extension module that
//! the pure-Python `hitmap` package wraps. Thin by design: it converts
//! arguments, errors and ownership; the engine lives in the core crate.

use std::collections::BTreeMap;
use std::sync::Mutex;

use pyo3::create_exception;
use pyo3::exceptions::PyException;
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
        hitmap::Error::Request(_) | hitmap::Error::Date { .. } => RequestError::new_err(message),
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
    fn ingest_ndjson_bytes(
        &self,
        py: Python<'_>,
        data: Vec<u8>,
    ) -> PyResult<(u64, Vec<(u64, String)>)> {
        let outcome = self.with(py, |e| e.ingest_ndjson(&data[..]))?;
        Ok((
            outcome.accepted,
            outcome
                .rejected
                .into_iter()
                .map(|r| (r.line, r.reason))
                .collect(),
        ))
    }

    /// Answers a Reporting API request; the JSON text.
    fn api_json(&self, py: Python<'_>, query: String) -> PyResult<String> {
        self.with(py, |e| e.api(&query))
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

/// The extension module.
#[pymodule]
fn _hitmap(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<Engine>()?;
    m.add("HitmapError", py.get_type::<HitmapError>())?;
    m.add("SegmentError", py.get_type::<SegmentError>())?;
    m.add("RequestError", py.get_type::<RequestError>())?;
    m.add("UnknownSiteError", py.get_type::<UnknownSiteError>())?;
    m.add("StoreError", py.get_type::<StoreError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
