//! One integration-test binary for the intake crate.

mod logs;
mod matomo_rows;
