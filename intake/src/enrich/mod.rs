//! Request-to-hit enrichment, shared by every intake that sees raw
//! requests (access logs and the tracking endpoint): what a user
//! agent says ([`Agents`]), the country of an address ([`Geo`], from a
//! MaxMind-format database), and the visitor key ([`VisitorKeys`]) that
//! stands for a person without storing their IP address.
//!
//! Referrer type, name, keyword and campaign are not here: the engine
//! derives them from the stored referrer and landing URLs, so old data
//! gets them too.

mod agent;
mod detector;
mod geo;
mod visitor;

pub use agent::{Agent, Agents};
pub use detector::{Detected, Detector};
pub use geo::{Geo, Location};
pub use hitmap::device_codes::os_family;
pub use visitor::{SECRET_CURSOR, VisitorKeys, anonymize_ip};
