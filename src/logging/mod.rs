//! The log pipeline: one JSON line per event ([`format`]), copied into a bounded buffer that a
//! background thread writes to stderr ([`writer`]). A request never waits for its log line.

pub mod format;
pub mod writer;

pub use format::JsonLine;
pub use writer::{Dropped, FlushGuard, LogWriter};

use tracing::Subscriber;
use tracing_subscriber::fmt::format::JsonFields;
use tracing_subscriber::registry::LookupSpan;

/// The gateway's log writer to stderr, what it dropped, and the guard that flushes it at exit.
pub fn stderr() -> (LogWriter, Dropped, FlushGuard) {
    writer::buffered(std::io::stderr(), writer::BUFFER_BYTES, writer::FLUSH_EVERY)
}

/// The gateway's JSON log layer over `writer` (what `log.format = "json"` installs).
pub fn json_layer<S, W>(writer: W) -> tracing_subscriber::fmt::Layer<S, JsonFields, JsonLine, W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + 'static,
{
    tracing_subscriber::fmt::layer()
        .fmt_fields(JsonFields::new())
        .event_format(JsonLine)
        .with_writer(writer)
}
