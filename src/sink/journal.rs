//! The embedded default sink: the local log under `{data_dir}/journal`.
//!
//! Lets the gateway run with zero infrastructure (a pilot, a laptop, a county office without a
//! Kafka cluster) while keeping the same promise: 2xx only after fsync.

use std::path::Path;

use super::envelope::{Envelope, Topics};
use super::error::SinkError;
use crate::local_log::{encode_line, Entry, LocalLog};

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
        let entry = Entry {
            topic: self.topics.name(envelope.topic).to_string(),
            key: envelope.key.clone(),
            headers: envelope.headers.clone(),
            record: envelope.payload.as_str().into(),
        };
        let line = encode_line(&entry).map_err(|e| SinkError::Encoding(e.to_string()))?;
        let copy = super::urgent::copy_topic(&self.topics, envelope)
            .map(|urgent| {
                let copy = Entry {
                    topic: urgent.to_string(),
                    ..entry.clone()
                };
                encode_line(&copy).map_err(|e| SinkError::Encoding(e.to_string()))
            })
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
