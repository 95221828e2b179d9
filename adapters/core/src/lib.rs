//! What every channel adapter shares.
//!
//! An adapter is a pure function: an [`Inbound`] request (path parameter, query, headers, raw body,
//! the clock) and that source's configuration in; verified, normalized records and the channel's
//! reply out, or an [`AdapterError`]. No I/O happens here, so adapters are tested and fuzzed with
//! nothing but bytes.

mod error;
mod inbound;
pub mod json;
pub mod phone;
pub mod signature;

pub use error::AdapterError;
pub use inbound::{Headers, Inbound};
