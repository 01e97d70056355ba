//! One integration-test binary for the core crate (links once).

// Rows compared as plain tuples read best in tests.
#![allow(clippy::type_complexity)]

mod api;
mod contents;
mod contract;
mod conversions;
mod disk;
mod distributed;
mod erase;
mod examples;
mod goals;
mod hardening;
mod history;
mod layers;
mod live;
mod log_writer;
mod parity;
mod props;
mod reader;
mod reference;
mod referrers;
mod rerun;
mod rollup;
mod store;
mod threads;
mod tmpfs;
mod transitions;
