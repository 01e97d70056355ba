//! The `hitmap` command line and HTTP server, as a library so that tests
//! and a serverless handler reuse the same request handling.
//!
//! - [`http`]: the HTTP front as a pure function (Reporting API, REST
//!   layout, auth, limits), shared by `hitmap serve` and serverless.
//! - [`serve`]: the axum server around it.
//! - [`commands`]: the subcommands; [`output`]: tables, CSV and JSON on
//!   stdout.
//! - [`matomo`]: `hitmap import-matomo`, the `mysql` client of
//!   `hitmap_intake::matomo`.

pub mod commands;
pub mod http;
pub mod matomo;
pub mod output;
pub mod serve;
pub mod track;
pub mod web;

/// Everything a `hitmap` command can fail with, and its exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The engine refused (a bad site, segment, date, a locked store...).
    #[error("{0}")]
    Hitmap(#[from] hitmap::Error),
    /// Reading or writing a file failed.
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),
    /// The command line asks for something that cannot be done.
    #[error("{0}")]
    Usage(String),
    /// Some input lines were rejected (the rest went in).
    #[error("{0} line(s) were rejected; the other lines were ingested")]
    Rejected(u64),
    /// `hitmap check` found damaged files.
    #[error("{0} damaged file(s)")]
    Damaged(usize),
    /// An importer failed (a database, its schema, a checkpoint).
    #[error("{0}")]
    Intake(#[from] hitmap_intake::Error),
}

impl CliError {
    /// The process exit code: 1 failure, 2 usage, 3 rejected lines,
    /// 4 damaged store files.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Hitmap(hitmap::Error::Locked { .. }) => 5,
            CliError::Intake(hitmap_intake::Error::Engine(hitmap::Error::Locked { .. })) => 5,
            CliError::Intake(hitmap_intake::Error::Config(_)) => 2,
            CliError::Hitmap(_) | CliError::Io(..) | CliError::Intake(_) => 1,
            CliError::Usage(_) => 2,
            CliError::Rejected(_) => 3,
            CliError::Damaged(_) => 4,
        }
    }
}
