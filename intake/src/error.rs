//! The one error type of the crate.

/// What can go wrong while turning outside data into hits.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database refused a query or the connection failed.
    #[error("database error: {0}")]
    Database(String),
    /// The database does not hold what the importer needs (a table, a
    /// column, a site).
    #[error("{0}")]
    Schema(String),
    /// An option or a site setting cannot be used as given.
    #[error("{0}")]
    Config(String),
    /// The store's checkpoint does not fit this run.
    #[error("{0}")]
    Checkpoint(String),
    /// An input file cannot be opened or read.
    #[error("{0}")]
    Input(String),
    /// A log line format (or regex) cannot be used.
    #[error("{0}")]
    Format(String),
    /// The engine refused the hits or could not commit them.
    #[error(transparent)]
    Engine(#[from] hitmap::Error),
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;
