//! Reading the topics back before an orphaned spool is drained: a delivery that was still in
//! flight when its replica died may have landed after all, and the drain must not double it.
//!
//! From the spool's oldest entry time (Kafka's offsets for times) to each partition's end, the
//! ids in the records' `request_id` / `event_id` / `dead_letter_id` headers are collected; the
//! drain then skips spooled entries with those ids.

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};
use uuid::Uuid;

use crate::local_log::ID_HEADERS;

/// How long the whole read-back may take before the drain gives up (and forwards nothing).
const READ_BACK_TIMEOUT: Duration = Duration::from_secs(120);
/// Taken off the oldest entry time: producer and broker clocks differ a little.
const CLOCK_SLACK_MS: i64 = 60_000;

/// The ids already on `topics` in records from `since_ms` (ms since the epoch) on.
pub fn ids_on_topics(
    client: &ClientConfig,
    topics: &[String],
    since_ms: i64,
) -> Result<HashSet<Uuid>, String> {
    let consumer: BaseConsumer = client
        .clone()
        .set(
            "group.id",
            format!("intake-drain-{}", Uuid::new_v4().simple()),
        )
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create()
        .map_err(|e| format!("read-back consumer: {e}"))?;
    let timeout = Duration::from_secs(10);
    let mut wanted = TopicPartitionList::new();
    let mut ends: HashMap<(String, i32), i64> = HashMap::new();
    for topic in topics {
        let metadata = consumer
            .fetch_metadata(Some(topic), timeout)
            .map_err(|e| format!("metadata of {topic}: {e}"))?;
        for t in metadata.topics() {
            for p in t.partitions() {
                let (low, high) = consumer
                    .fetch_watermarks(topic, p.id(), timeout)
                    .map_err(|e| format!("watermarks of {topic}/{}: {e}", p.id()))?;
                if high > low {
                    ends.insert((topic.clone(), p.id()), high);
                    wanted
                        .add_partition_offset(
                            topic,
                            p.id(),
                            Offset::Offset((since_ms - CLOCK_SLACK_MS).max(0)),
                        )
                        .map_err(|e| e.to_string())?;
                }
            }
        }
    }
    let mut ids = HashSet::new();
    if ends.is_empty() {
        return Ok(ids);
    }
    let starts = consumer
        .offsets_for_times(wanted, timeout)
        .map_err(|e| format!("offsets for times: {e}"))?;
    let mut assign = TopicPartitionList::new();
    for e in starts.elements() {
        let end = ends[&(e.topic().to_string(), e.partition())];
        // No record at or after the time: nothing of this partition can be a spooled twin.
        match e.offset() {
            Offset::Offset(o) if o < end => {
                assign
                    .add_partition_offset(e.topic(), e.partition(), Offset::Offset(o))
                    .map_err(|e| e.to_string())?;
            }
            _ => {
                ends.remove(&(e.topic().to_string(), e.partition()));
            }
        }
    }
    if ends.is_empty() {
        return Ok(ids);
    }
    consumer
        .assign(&assign)
        .map_err(|e| format!("assign: {e}"))?;
    let deadline = Instant::now() + READ_BACK_TIMEOUT;
    while !ends.is_empty() {
        if Instant::now() > deadline {
            return Err(format!(
                "read-back did not reach the end of {} partitions within {READ_BACK_TIMEOUT:?}",
                ends.len()
            ));
        }
        let Some(message) = consumer.poll(Duration::from_millis(500)) else {
            continue;
        };
        let message = message.map_err(|e| format!("read-back: {e}"))?;
        if let Some(headers) = message.headers() {
            for h in headers.iter() {
                if ID_HEADERS.contains(&h.key) {
                    if let Some(id) = h
                        .value
                        .and_then(|v| std::str::from_utf8(v).ok())
                        .and_then(|v| Uuid::parse_str(v).ok())
                    {
                        ids.insert(id);
                    }
                }
            }
        }
        let key = (message.topic().to_string(), message.partition());
        if ends
            .get(&key)
            .is_some_and(|end| message.offset() + 1 >= *end)
        {
            ends.remove(&key);
        }
    }
    Ok(ids)
}
