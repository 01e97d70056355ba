//! # hitmap: exact web analytics on roaring bitmaps
//!
//! hitmap turns raw page hits into visits and keeps one compact, immutable
//! archive per site and local day: visit and action columns plus roaring
//! bitmaps over dense per-site ids. Any date range, any segment and any
//! site section is then answered exactly from those archives — unique
//! visitors included, for every period and every report row — with no
//! re-archiving when a new segment is asked.
//!
//! ## A tour
//! ```
//! use hitmap::{ActionReportKind, Engine, Hit, Query, SiteConfig};
//!
//! let mut engine = Engine::in_memory();
//! engine.add_site(SiteConfig::new(1).time_zone("Europe/London").section("News", ["/news"]))?;
//!
//! // Typed hits, any order, any number of batches.
//! engine.ingest([
//!     Hit::pageview(1, 1_717_200_000, "alice", "https://x.org/news/a").with_device("smartphone"),
//!     Hit::pageview(1, 1_717_200_030, "alice", "https://x.org/about"),
//!     Hit::pageview(1, 1_717_200_000, "bob", "https://x.org/news/b").with_dim("department", "HR"),
//! ])?;
//!
//! // NDJSON: bad lines are rejected with their line number and reason.
//! let ndjson = b"{\"site\":1,\"visitor\":\"carol\",\"ts\":\"2024-06-01T10:00:00Z\",\"url\":\"https://x.org/\"}\nnot json\n";
//! let outcome = engine.ingest_ndjson(&ndjson[..])?;
//! assert_eq!((outcome.accepted, outcome.rejected[0].line), (1, 2));
//!
//! // Any range, any segment, any section.
//! let q = Query::site(1).range("2024-06-01", "2024-06-30").segment("deviceType==smartphone")?;
//! let s = engine.query(&q)?.visits_summary();
//! assert_eq!((s.nb_visits, s.nb_uniq_visitors, s.nb_actions), (1, 1, 2));
//!
//! let news = engine.query(&Query::site(1).range("2024-06-01", "2024-06-30").section("News"))?;
//! assert_eq!(news.visits_summary().nb_visits, 2);
//!
//! // Reports with exact per-row uniques, never truncated.
//! let pages = engine.query(&Query::site(1))?.action_report(ActionReportKind::PageUrls);
//! assert_eq!(pages.len(), 4);
//!
//! // The Matomo-style Reporting API that every host shares.
//! let json = engine.api("method=VisitsSummary.get&idSite=1&period=month&date=2024-06-01")?;
//! assert!(json.contains("\"nb_visits\":3"));
//! # Ok::<(), hitmap::Error>(())
//! ```
//!
//! ## Where to look
//! - [`Hit`] and the NDJSON reader follow the input contract; rejects are
//!   [`Rejected`] entries in an [`IngestOutcome`].
//! - [`SiteConfig`]: time zone, visit timeout, own hosts, sections.
//! - [`Query`] and [`Selection`]: summaries ([`VisitsSummary`],
//!   [`ActionsSummary`], [`VisitFrequency`]) and reports ([`ActionRow`],
//!   [`DimensionRow`], [`SectionRow`]).
//! - [`Segment`]: Matomo's segment grammar.
//! - [`Engine::api`]: the Reporting API (`method=...&period=...&date=...`).
//! - [`Engine::open`] and [`Engine::open_read_only`]: the durable store
//!   (FORMAT.md); [`Engine::forget_visitor`], [`Engine::delete_range`],
//!   [`Engine::drop_site`] erase; [`Engine::export_day`] and
//!   [`Engine::import_day`] move a day between engines.
#![deny(missing_docs)]

mod api;
mod archive;
#[cfg(feature = "arrow")]
mod arrow;
mod bitset;
mod breakdown;
mod contents;
mod conversions;
pub mod device_codes;
mod dict;
mod distributed;
mod engine;
mod erase;
mod error;
mod export;
#[cfg(feature = "parquet")]
mod export_parquet;
mod fsum;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod goal;
mod goal_rows;
mod goal_sums;
mod goals;
mod history;
mod intern;
mod items;
mod live;
mod log_writer;
mod names;
mod page_goals;
pub mod par;
mod query;
mod raw;
mod reader;
mod recorded;
mod referrer;
mod referrer_lists;
mod render;
mod report;
mod resume;
mod rollup;
pub mod sample;
mod section;
mod segment;
mod site;
mod site_days;
mod summary;
mod table;
mod transfer;
mod transitions;
mod upgrade;
mod url;
mod visit_key;

/// Declares modules that read outside input (hits, NDJSON, dates, store
/// files): no `unwrap`/`expect`, no unchecked indexing or arithmetic.
/// Store decoders beneath opt out file by file and are fuzzed instead.
macro_rules! input_facing {
    ($(mod $name:ident;)*) => {$(
        #[cfg_attr(
            not(test),
            deny(
                clippy::unwrap_used,
                clippy::expect_used,
                clippy::indexing_slicing,
                clippy::arithmetic_side_effects
            )
        )]
        mod $name;
    )*};
}

input_facing! {
    mod hit;
    mod ndjson;
    mod period;
    mod store;
}

/// README.md's Rust code, compiled by `cargo test --doc` so it cannot rot.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

pub use api::{
    ApiOptions, ApiRequest, DEFAULT_LIMIT, HARMLESS_PARAMETERS, MATOMO_API_VERSION,
    SUPPORTED_PARAMETERS, Sites, TableParams, encode_query_value, encode_segment_value,
    query_pairs, supported_methods,
};
pub use contents::{ContentRow, ContentsBy, PIECE_NOT_DEFINED as CONTENT_PIECE_NOT_DEFINED};
pub use distributed::BuiltDay;
pub use engine::{
    Applied, DEFAULT_CHUNK_BYTES, DEFAULT_LIVE_LIMIT, DEFAULT_SEAL_AGE, Engine, IngestOptions,
    IngestOutcome,
};
pub use error::{Error, Result};
pub use export::VisitRecord;
#[cfg(feature = "parquet")]
pub use export_parquet::{ExportKind, Exported};
pub use goal::{Goal, GoalMatch, MAX_GOALS, PatternType};
pub use goals::{ByVisitorType, ConversionsOf, EcommerceMetrics, GoalMetrics, GoalsSummary};
pub use hit::{
    Campaign, CampaignRef, Content, Conversion, Event, EventRef, Hit, HitRef, HitType, Item,
    PLUGIN_NAMES, Perf, plugins_text,
};
pub use items::{ItemRow, ItemsBy, NOT_DEFINED as ITEM_NOT_DEFINED};
pub use log_writer::{LogWriter, Logged};
pub use names::DEVICE_TYPES;
pub use ndjson::{FIELDS as HIT_FIELDS, Rejected, check_ndjson_line, items_from_json};
pub use period::{FIRST_DAY, LAST_DAY, MAX_PERIODS, Period, PeriodRange, parse_day};
pub use query::{IntoDay, Query, Selection};
pub use referrer::{CampaignParts, Referrer, ReferrerType, describe_referrer, has_campaign};
pub use render::{ApiResponse, Format, render, render_error, render_keyed};
pub use report::{
    ActionReportKind, ActionRow, Dimension, DimensionRow, KEYWORD_NOT_DEFINED, ReferrerPart,
    ReportRow, SectionRow, UNTITLED, sort_rows,
};
pub use resume::{InputCursor, Resumed};
pub use rollup::reports::PerfSums;
pub use segment::{Clock, Condition, Field, Op, Segment};
pub use site::SiteConfig;
pub use store::lazy::{DEFAULT_CACHE_MB, ReaderOptions};
#[cfg(feature = "object-store")]
pub use store::remote::{PublishOptions, Published};
pub use store::source::ReadStats;
pub use store::{Recovery, StoreOptions, files_holding, recover_manifest};
pub use summary::{ActionsSummary, VisitFrequency, VisitsSummary};
pub use transitions::{Counted, EntryReferrers, Transitions, TransitionsOf};
pub use url::strip_excluded_parameters;
