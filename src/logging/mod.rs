//! The log pipeline: one JSON line per event ([`format`]), copied into a bounded buffer that a
//! background thread writes to stderr ([`writer`]). A request never waits for its log line.
//! A request's context on its lines comes from its tracing span, or without OpenTelemetry from a
//! cheaper task-local [`scope`].

pub mod format;
mod json;
pub mod scope;
pub mod writer;

pub use format::{json_layer, JsonLine, SpanFields};
pub use writer::{Dropped, FlushGuard, LogWriter};

/// The gateway's log writer to stderr, what it dropped, and the guard that flushes it at exit.
pub fn stderr() -> (LogWriter, Dropped, FlushGuard) {
    writer::buffered(std::io::stderr(), writer::BUFFER_BYTES, writer::FLUSH_EVERY)
}
