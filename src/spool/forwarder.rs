//! Replays the spool into Kafka, in order, and moves the durable cursor past what Kafka confirmed.
//!
//! A batch is enqueued in spool order and then awaited. The cursor advances over the unbroken run
//! of confirmed entries. Entries confirmed after a failed one are remembered, so the retry of the
//! batch does not publish them twice.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use uuid::Uuid;

use super::{entry_id, received_at, Spool};
use crate::local_log::{read_range, segment_name, segments, Position};
use crate::sink::KafkaSink;

/// Entries enqueued per round: enough to keep the producer's batches full.
const BATCH: usize = 500;

/// Forwards until `stop` turns true, or (with `until_empty`) until the spool is empty. Entries
/// whose id is in `on_topic` are known to be in Kafka already and are passed, not sent.
pub async fn run(
    spool: Arc<Spool>,
    kafka: Arc<KafkaSink>,
    mut stop: watch::Receiver<bool>,
    until_empty: bool,
    on_topic: HashSet<Uuid>,
) -> u64 {
    let mut forwarded = 0u64;
    let mut ahead: HashSet<Uuid> = on_topic;
    let mut backoff = Duration::from_millis(200);
    loop {
        spool.report();
        if *stop.borrow() {
            return forwarded;
        }
        let (from, to) = (spool.cursor(), spool.log.committed());
        if from >= to
            || !spool.has_backlog() && from.segment == to.segment && from.offset >= to.offset
        {
            if until_empty {
                return forwarded;
            }
            tokio::select! {
                _ = spool.notify.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        let dir = spool.dir.clone();
        let read =
            match tokio::task::spawn_blocking(move || read_range(&dir, from, to, BATCH)).await {
                Ok(Ok(read)) => read,
                other => {
                    tracing::error!(error = ?other.err(), "spool unreadable; retrying");
                    tokio::time::sleep(backoff).await;
                    continue;
                }
            };
        if read.corrupt > 0 {
            tracing::warn!(
                lines = read.corrupt,
                "skipped corrupt spool lines (torn by a crash)"
            );
        }
        if let Some((first, _)) = read.entries.first() {
            if let Ok(mut oldest) = spool.oldest.lock() {
                *oldest = received_at(first).or(*oldest);
            }
        }
        // Deliver: first let unresolved original deliveries finish, then enqueue the rest in order.
        let mut outcomes = Vec::with_capacity(read.entries.len());
        for (entry, _) in &read.entries {
            let id = entry_id(entry);
            let original = id
                .and_then(|id| spool.originals.remove(&id))
                .map(|(_, rx)| rx);
            let done_already = match original {
                Some(mut rx) => rx
                    .wait_for(Option::is_some)
                    .await
                    .map(|v| *v == Some(true))
                    .unwrap_or(false),
                None => false,
            };
            if done_already || id.is_some_and(|id| ahead.contains(&id)) {
                outcomes.push(None);
            } else {
                outcomes.push(Some(kafka.enqueue_entry(
                    &entry.topic,
                    &entry.key,
                    &entry.headers,
                    &entry.record,
                )));
            }
        }
        let mut advanced_to = from;
        let (mut count, mut bytes, mut broken) = (0i64, 0i64, false);
        let mut prev = from;
        for ((entry, end), outcome) in read.entries.iter().zip(outcomes) {
            let ok = match outcome {
                None => true,
                Some(Ok(delivery)) => kafka.confirm_entry(delivery).await.is_ok(),
                Some(Err(_)) => false,
            };
            let len = if end.segment == prev.segment {
                end.offset - prev.offset
            } else {
                end.offset
            } as i64;
            prev = *end;
            match (ok, broken) {
                (true, false) => {
                    advanced_to = *end;
                    count += 1;
                    bytes += len;
                    if let Some(id) = entry_id(entry) {
                        ahead.remove(&id);
                    }
                }
                (true, true) => {
                    if let Some(id) = entry_id(entry) {
                        ahead.insert(id);
                    }
                }
                (false, _) => broken = true,
            }
        }
        if !broken && read.entries.is_empty() {
            advanced_to = read.next; // only corrupt lines or a segment boundary were passed
        } else if !broken && advanced_to == prev {
            advanced_to = advanced_to.max(read.next);
        }
        if advanced_to != from {
            if let Err(e) = commit(&spool, advanced_to).await {
                tracing::error!(error = %e, "cannot store the spool cursor; will replay from the last stored one");
            }
            spool.entries.fetch_sub(count, Ordering::Relaxed);
            spool.bytes.fetch_sub(bytes, Ordering::Relaxed);
            forwarded += count as u64;
            if !spool.has_backlog() {
                if let Ok(mut oldest) = spool.oldest.lock() {
                    *oldest = None;
                }
            }
        }
        if broken {
            tracing::warn!(
                delay_ms = backoff.as_millis() as u64,
                "kafka refused a spooled record; retrying"
            );
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = stop.changed() => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(10));
        } else {
            backoff = Duration::from_millis(200);
        }
    }
}

/// Stores the cursor, then deletes the segments wholly behind it.
async fn commit(spool: &Arc<Spool>, to: Position) -> std::io::Result<()> {
    let s = spool.clone();
    tokio::task::spawn_blocking(move || {
        s.cursor_file.store(to)?;
        if let Ok(mut c) = s.cursor.lock() {
            *c = to;
        }
        for seq in segments(&s.dir)?
            .into_iter()
            .filter(|seq| *seq < to.segment)
        {
            std::fs::remove_file(s.dir.join(segment_name(seq)))?;
        }
        Ok(())
    })
    .await
    .map_err(std::io::Error::other)?
}
