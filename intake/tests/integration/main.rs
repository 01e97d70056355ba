//! One integration-test binary for the intake crate.

mod log_import;
mod logs;
mod matomo_rows;
