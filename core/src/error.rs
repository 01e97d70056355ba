//! The one error type of the core crate.

/// Everything that can go wrong in hitmap's core, with a message that says
/// what to do about it.
///
/// Bad *input lines* are not errors of this kind: ingestion reports them as
/// [`Rejected`](crate::Rejected) entries and goes on with the rest.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A hit or a query names a site that was never added.
    #[error(
        "site {0} is not configured: add the site (with its time zone) before its hits and reports"
    )]
    UnknownSite(u32),
    /// A site configuration is not usable (bad id, bad timeout, bad section).
    #[error("invalid site configuration: {0}")]
    InvalidSite(String),
    /// The time zone is not an IANA name that chrono-tz knows.
    #[error("unknown time zone '{0}': use an IANA name such as 'Europe/London' or 'UTC'")]
    UnknownTimeZone(String),
    /// A segment definition could not be parsed or names an unknown field.
    #[error("invalid segment at position {position}: {reason}")]
    Segment {
        /// Byte offset into the segment string where the problem starts.
        position: usize,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A date, period or date range could not be understood.
    #[error("invalid date '{value}': {reason}")]
    Date {
        /// The text that was given.
        value: String,
        /// What is wrong and what is accepted.
        reason: String,
    },
    /// A section name that the site does not define.
    #[error(
        "unknown section '{0}': give a path prefix starting with '/' or a name the site defines with SiteConfig::section"
    )]
    UnknownSection(String),
    /// A Reporting API request that is malformed or asks for something unsupported.
    #[error("{0}")]
    Request(String),
    /// A store file is missing, unreadable, corrupt or from a newer hitmap.
    #[error("store file {path}: {reason}")]
    Store {
        /// The file, relative to the store's folder.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An object store did not answer, or answered with a failure of its
    /// own (a network error, a time-out, a 5xx): the request may succeed
    /// when retried.
    #[error(
        "object {path} could not be read: {reason}; the object store may be unreachable, retry later"
    )]
    Unavailable {
        /// The object's URL.
        path: String,
        /// What the object store client said.
        reason: String,
    },
    /// Another process holds the store's writer lock.
    #[error(
        "store is locked by pid {pid}: one writer at a time; open it read-only to query while that process writes"
    )]
    Locked {
        /// The process id written in the lock file (0 if unreadable).
        pid: u32,
    },
    /// The engine was opened read-only and was asked to write.
    #[error("the store was opened read-only: open it with Engine::open to ingest or change sites")]
    ReadOnly,
    /// A request names a site its caller may not read
    /// ([`ApiOptions::only_sites`](crate::ApiOptions::only_sites)).
    #[error("{0}")]
    Forbidden(String),
    /// A request ran past its deadline ([`ApiOptions`](crate::ApiOptions)).
    #[error("{0}")]
    DeadlineExceeded(String),
    /// Reading input failed.
    #[error("I/O error while reading input: {0}")]
    Io(#[from] std::io::Error),
}

/// `Result` with hitmap's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// The error in the Reporting API's error shape:
    /// `{"result":"error","message":"..."}`.
    ///
    /// # Examples
    /// ```
    /// let e = hitmap::Error::UnknownSite(9);
    /// assert!(e.to_api_json().starts_with(r#"{"result":"error","message":"site 9 is not configured"#));
    /// ```
    pub fn to_api_json(&self) -> String {
        serde_json::json!({"result": "error", "message": self.to_string()}).to_string()
    }

    /// The HTTP status an endpoint answers this error with: 400 for a bad
    /// request, 404 for an unknown site, 503 for a request past its
    /// deadline or a locked store, 500 for a damaged or unwritable store.
    ///
    /// # Examples
    /// ```
    /// assert_eq!(hitmap::Error::UnknownSite(9).http_status(), 404);
    /// assert_eq!(hitmap::Error::Request("x".into()).http_status(), 400);
    /// ```
    pub fn http_status(&self) -> u16 {
        match self {
            Error::UnknownSite(_) => 404,
            Error::DeadlineExceeded(_) | Error::Locked { .. } | Error::Unavailable { .. } => 503,
            Error::ReadOnly | Error::Forbidden(_) => 403,
            Error::Store { .. } | Error::Io(_) => 500,
            Error::InvalidSite(_)
            | Error::UnknownTimeZone(_)
            | Error::Segment { .. }
            | Error::Date { .. }
            | Error::UnknownSection(_)
            | Error::Request(_) => 400,
        }
    }
}
