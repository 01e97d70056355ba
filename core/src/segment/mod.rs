//! Segments in Matomo's syntax: parsing ([`parse`]) and evaluation against
//! day archives as bitmap algebra ([`compile`]).

mod compile;
mod parse;

pub(crate) use compile::CompiledSegment;
pub use parse::{Clock, Condition, Field, Op, Segment};
