//! The unified 12345 intake request record, schema `intake-request/1`.
//!
//! Every channel adapter produces an [`IntakeRequest`]; the gateway publishes it as JSON. The JSON
//! Schema file beside this crate (`intake-request.v1.schema.json`) is the contract the platform codes
//! against, and a test keeps the two in step.

mod event;
mod ids;
mod language;
mod record;
mod routing;

pub use event::{DeadLetter, IntakeEvent};
pub use ids::{RequestId, TrackingNo, TRACKING_ALPHABET};
pub use language::Language;
pub use record::*;
pub use routing::{Priority, Reason, Routing};

/// The value of the `schema` field of every record this crate describes.
pub const SCHEMA_ID: &str = "intake-request/1";

/// The value of the `schema` field of every event (non-request) record.
pub const EVENT_SCHEMA_ID: &str = "intake-event/1";

/// The value of the `schema` field of every dead letter.
pub const DEAD_LETTER_SCHEMA_ID: &str = "intake-dead-letter/1";
