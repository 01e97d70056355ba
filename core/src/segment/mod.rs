//! Segments in Matomo's syntax: parsing ([`parse`]) and evaluation against
//! day archives as bitmap algebra ([`compile`]).

mod compile;
mod parse;

pub(crate) use compile::CompiledSegment;
pub use parse::{Condition, Field, Op, Segment};
