//! The durable spool: where requests wait while Kafka does not confirm.
//!
//! A request Kafka does not acknowledge within `spool.after` is appended here (the same
//! group-committed local log as the journal) and the caller gets its 2xx after the fsync. The
//! [`forwarder`] replays the spool into Kafka in order, keeping each record's key and headers, and
//! moves a durable cursor past what Kafka confirmed. While anything is spooled, new requests are
//! spooled too, so one citizen's requests reach Kafka in the order they arrived.

mod cursor;
pub mod forwarder;
mod lock;
pub mod readback;

pub use lock::SpoolLock;

use chrono::{DateTime, Utc};
use dashmap::DashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;
use tokio::sync::{watch, Notify};
use uuid::Uuid;

use crate::local_log::{encode_parts, read_range, segments, Entry, LocalLog, LogError, Position};
use crate::sink::Envelope;
use cursor::Cursor;

/// Why a request could not be spooled; the caller gets 503.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// `spool.max_bytes` reached: the outage has lasted longer than the disk budget.
    #[error("spool is full ({0} bytes pending)")]
    Full(u64),
    /// The disk refused.
    #[error(transparent)]
    Log(#[from] LogError),
}

/// What is waiting, for metrics, `/readyz` and `spool status`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SpoolStats {
    /// Entries not yet confirmed by Kafka.
    pub entries: u64,
    /// Their bytes on disk.
    pub bytes: u64,
    /// When the oldest of them was received.
    pub oldest: Option<DateTime<Utc>>,
}

/// The spool of one gateway instance.
pub struct Spool {
    dir: PathBuf,
    log: LocalLog,
    cursor_file: Cursor,
    cursor: Mutex<Position>,
    oldest: Mutex<Option<DateTime<Utc>>>,
    entries: AtomicI64,
    bytes: AtomicI64,
    max_bytes: u64,
    /// Requests spooled while their first Kafka delivery was still unresolved: the forwarder
    /// waits for that outcome instead of publishing a second copy.
    originals: DashMap<Uuid, watch::Receiver<Option<bool>>>,
    notify: Notify,
    lock: Mutex<Option<SpoolLock>>,
}

impl Spool {
    /// Opens the spool in `dir`, taking its lock and counting what is pending.
    pub fn open(dir: &Path, segment_bytes: u64, max_bytes: u64) -> std::io::Result<Self> {
        let lock = SpoolLock::acquire(dir)?;
        let log = LocalLog::open(dir, segment_bytes).map_err(std::io::Error::other)?;
        let cursor_file = Cursor::new(dir);
        let stats = inspect(dir, log.committed())?;
        let cursor = cursor_file.load(segments(dir)?.first().copied())?;
        Ok(Spool {
            dir: dir.to_path_buf(),
            log,
            cursor_file,
            cursor: Mutex::new(cursor),
            oldest: Mutex::new(stats.oldest),
            entries: AtomicI64::new(stats.entries as i64),
            bytes: AtomicI64::new(stats.bytes as i64),
            max_bytes,
            originals: DashMap::new(),
            notify: Notify::new(),
            lock: Mutex::new(Some(lock)),
        })
    }

    /// True while anything waits for Kafka.
    pub fn has_backlog(&self) -> bool {
        self.entries.load(Ordering::Relaxed) > 0
    }

    /// True when new requests must be refused.
    pub fn is_full(&self) -> bool {
        self.bytes.load(Ordering::Relaxed).max(0) as u64 >= self.max_bytes
    }

    /// Appends `envelope` bound for `topic` and returns once it is fsynced. `original` is the
    /// outcome of a Kafka delivery of the same record that is still unresolved.
    pub async fn append(
        &self,
        envelope: &Envelope,
        topic: &str,
        original: Option<watch::Receiver<Option<bool>>>,
    ) -> Result<(), SpoolError> {
        if self.is_full() {
            return Err(SpoolError::Full(
                self.bytes.load(Ordering::Relaxed).max(0) as u64
            ));
        }
        let line = encode_parts(topic, &envelope.key, &envelope.headers, &envelope.payload)
            .map_err(|e| LogError::Io(e.to_string()))?;
        let len = line.len() as i64;
        if let Some(original) = original {
            self.originals.insert(*envelope.id.as_uuid(), original);
        }
        self.log.append(line).await?;
        self.entries.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(len, Ordering::Relaxed);
        if let Ok(mut oldest) = self.oldest.lock() {
            oldest.get_or_insert_with(Utc::now);
        }
        self.notify.notify_one();
        Ok(())
    }

    /// What is pending now.
    pub fn stats(&self) -> SpoolStats {
        SpoolStats {
            entries: self.entries.load(Ordering::Relaxed).max(0) as u64,
            bytes: self.bytes.load(Ordering::Relaxed).max(0) as u64,
            oldest: self.oldest.lock().ok().and_then(|o| *o),
        }
    }

    /// Publishes the spool gauges.
    pub fn report(&self) {
        let stats = self.stats();
        metrics::gauge!("intake_spool_entries").set(stats.entries as f64);
        metrics::gauge!("intake_spool_bytes").set(stats.bytes as f64);
        let age = stats.oldest.map_or(0.0, |t| {
            (Utc::now() - t).num_milliseconds().max(0) as f64 / 1000.0
        });
        metrics::gauge!("intake_spool_oldest_age_seconds").set(age);
    }

    /// Syncs and closes the log and releases the lock; the spool stays on disk for the next
    /// start. Released here rather than on drop, because a straggling task may still hold an
    /// `Arc` to the spool after shutdown.
    pub async fn close(&self) {
        self.log.close().await;
        if let Ok(mut lock) = self.lock.lock() {
            lock.take();
        }
    }

    fn cursor(&self) -> Position {
        self.cursor.lock().map(|c| *c).unwrap_or_default()
    }
}

/// Counts what waits in the spool at `dir` without opening it for writing: `spool status`.
pub fn inspect(dir: &Path, committed: Position) -> std::io::Result<SpoolStats> {
    let seqs = segments(dir)?;
    let mut at = Cursor::new(dir).load(seqs.first().copied())?;
    let mut stats = SpoolStats::default();
    loop {
        let read = read_range(dir, at, committed, 10_000)?;
        let mut prev = at;
        for (entry, end) in &read.entries {
            stats.entries += 1;
            stats.bytes += if end.segment == prev.segment {
                end.offset - prev.offset
            } else {
                end.offset
            };
            prev = *end;
            if stats.oldest.is_none() {
                stats.oldest = received_at(entry);
            }
        }
        if read.next == at {
            return Ok(stats);
        }
        at = read.next;
    }
}

/// The end of the spool at `dir` as the files show it (for `spool status` without a writer).
pub fn end_on_disk(dir: &Path) -> std::io::Result<Position> {
    let Some(last) = segments(dir)?.last().copied() else {
        return Ok(Position::default());
    };
    let len = std::fs::metadata(dir.join(crate::local_log::segment_name(last)))?.len();
    Ok(Position {
        segment: last,
        offset: len,
    })
}

fn received_at(entry: &Entry) -> Option<DateTime<Utc>> {
    #[derive(serde::Deserialize)]
    struct Stamp {
        received_at: DateTime<Utc>,
    }
    serde_json::from_str::<Stamp>(&entry.record)
        .ok()
        .map(|s| s.received_at)
}

/// The id a spooled record is deduplicated by.
fn entry_id(entry: &Entry) -> Option<Uuid> {
    ["request_id", "event_id", "dead_letter_id"]
        .iter()
        .find_map(|h| entry.headers.get(*h))
        .and_then(|v| Uuid::parse_str(v).ok())
}

#[cfg(test)]
mod tests;
