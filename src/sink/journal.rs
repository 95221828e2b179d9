//! The embedded default sink: the local log under `{data_dir}/journal`.
//!
//! Lets the gateway run with zero infrastructure (a pilot, a laptop, a county office without a
//! Kafka cluster) while keeping the same promise: 2xx only after fsync.

use std::path::Path;

use super::envelope::{Envelope, Topics};
use super::error::SinkError;
use crate::local_log::{encode_parts, LocalLog};

/// Writes each record as one line of the journal.
pub struct JournalSink {
    log: LocalLog,
    topics: Topics,
}

impl JournalSink {
    /// Opens the journal in `dir`.
    pub fn open(dir: &Path, segment_bytes: u64, topics: Topics) -> Result<Self, SinkError> {
        Ok(JournalSink {
            log: LocalLog::open(dir, segment_bytes)?,
            topics,
        })
    }

    /// Appends and fsyncs (group-committed with concurrent requests).
    pub async fn publish(&self, envelope: &Envelope) -> Result<(), SinkError> {
        // Encoded straight from the envelope: no copy of its key, headers and payload.
        let encode = |topic: &str| {
            encode_parts(topic, &envelope.key, &envelope.headers, &envelope.payload)
                .map_err(|e| SinkError::Encoding(e.to_string()))
        };
        let line = encode(self.topics.name(envelope.topic))?;
        let copy = super::urgent::copy_topic(&self.topics, envelope)
            .map(encode)
            .transpose()?;
        self.log.append(line).await?;
        // The urgent copy is a second line, fsynced before the caller's 2xx like the first; a
        // drain to Kafka later delivers it to the urgent topic.
        if let Some(copy) = copy {
            self.log.append(copy).await?;
        }
        Ok(())
    }

    /// True while the writer runs.
    pub fn is_open(&self) -> bool {
        self.log.is_open()
    }

    /// Where the segments are.
    pub fn dir(&self) -> &Path {
        self.log.dir()
    }

    /// Syncs and stops the writer.
    pub async fn close(&self) {
        self.log.close().await
    }
}
