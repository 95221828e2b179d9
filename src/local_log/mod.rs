//! The local log: append-only JSON-lines segment files, group-committed with fsync.
//!
//! It is the embedded journal (the sink when no broker is configured) and, later, the spool
//! that holds requests while Kafka is away: one component, tested once. A write is answered only
//! after the fsync that covers it; many concurrent writes share one fsync, so the cost per
//! request stays a memory copy.

mod entry;
mod reader;
mod writer;

pub use entry::{decode_line, encode_line, encode_parts, Entry, Headers};
pub use reader::{ids_since, read_all, read_range, segments, RangeRead, ReadReport, ID_HEADERS};
pub use writer::{LocalLog, LogError};

/// A place in the log: a segment and a byte offset in it. Orders like the log itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// The segment number.
    pub segment: u64,
    /// Bytes into that segment.
    pub offset: u64,
}

/// File name of segment number `seq`: sorting by name is sorting by age.
pub fn segment_name(seq: u64) -> String {
    format!("segment-{seq:012}.jsonl")
}

/// The segment number in a file name made by [`segment_name`].
pub fn parse_segment_name(name: &str) -> Option<u64> {
    name.strip_prefix("segment-")?
        .strip_suffix(".jsonl")?
        .parse()
        .ok()
}
