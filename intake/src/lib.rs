//! From the outside world to hitmap hits.
//!
//! The engine (`hitmap`) knows hits only; everything that turns another
//! system's data into hits lives here, once, for every host (the `hitmap`
//! command, Python, the C ABI):
//!
//! - [`logs`]: web-server access-log lines in every format Matomo's log
//!   importer reads (the format layer of the access-log importer).
//! - [`matomo`]: Matomo's raw log tables (`log_visit`,
//!   `log_link_visit_action`, `log_action`) read through any SQL client
//!   that implements [`matomo::Database`], with a checkpoint in the store.
//!
//! # Examples
//! ```
//! use hitmap_intake::matomo::{Database, ImportOptions, Value};
//! // Any client will do: here, a database with no tables.
//! struct Empty;
//! impl Database for Empty {
//!     fn query(&mut self, _sql: &str) -> Result<Vec<Vec<Value>>, String> {
//!         Ok(Vec::new())
//!     }
//! }
//! let mut engine = hitmap::Engine::in_memory();
//! let err = hitmap_intake::matomo::import(&mut engine, &mut Empty, &ImportOptions::default(), &mut |_| {})
//!     .unwrap_err();
//! assert!(err.to_string().contains("no table matomo_site"));
//! ```

#[cfg(feature = "arrow")]
pub mod arrow;
pub mod enrich;
pub mod exclude;
pub mod heap;
pub mod input;
pub mod logs;
pub mod matomo;
pub mod track;

mod error;
pub use error::{Error, Result};
