//! One integration-test binary for the intake crate.

mod geo;
mod log_import;
mod logs;
mod matomo_rows;
mod track;
