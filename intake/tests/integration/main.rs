//! One integration-test binary for the intake crate.

#[cfg(feature = "arrow")]
mod arrow;
mod detector;
mod geo;
mod heap;
mod log_import;
mod logs;
mod matomo_rows;
mod track;
