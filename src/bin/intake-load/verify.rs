//! `--verify-topic`: after the run, read the request topic back and check that every request
//! the gateway acknowledged (2xx) is on it exactly once, by `request_id`.
//!
//! The consumer is *assigned* every partition from the beginning (no group join, which takes
//! ~20 s on the test broker) and reads up to the high watermarks taken when the check starts:
//! every acknowledged record is durable by then (acks=all before the 2xx), so it lies below
//! them, and the read ends exactly instead of waiting for silence. Records of other runs on the
//! same topic are skipped: every id of a run carries the run's random seed.

use intake_schema::RequestId;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// What the topic held of the acknowledged requests.
#[derive(Debug)]
pub struct Verdict {
    /// The topic read.
    pub topic: String,
    /// Distinct request ids acknowledged.
    pub acked_ids: u64,
    /// Of those, found on the topic.
    pub found: u64,
    /// Acknowledged but not on the topic.
    pub lost: u64,
    /// On the topic more than once.
    pub duplicated: u64,
    /// Records read in all (any run).
    pub records_read: u64,
    /// Acknowledged records found only past the watermarks taken at the start (a lagging
    /// broker watermark; 0 on a well-behaved broker).
    pub found_after_watermark: u64,
    /// A few lost ids, to look up in the gateway's logs.
    pub lost_sample: Vec<String>,
}

impl Verdict {
    /// True when nothing was lost or duplicated, and something was acknowledged at all (a
    /// check of nothing proves nothing).
    pub fn ok(&self) -> bool {
        self.lost == 0 && self.duplicated == 0 && self.acked_ids > 0
    }

    /// The `verify` object of the report.
    pub fn to_json(&self) -> Value {
        json!({
            "topic": self.topic, "acked_ids": self.acked_ids, "found": self.found,
            "lost": self.lost, "duplicated": self.duplicated,
            "records_read": self.records_read,
            "found_after_watermark": self.found_after_watermark, "lost_sample": self.lost_sample,
            "ok": self.ok(),
        })
    }
}

/// How long the topic must stay quiet after the watermarks were reached.
const SETTLE: Duration = Duration::from_millis(500);

#[derive(Deserialize)]
struct IdOnly {
    request_id: String,
}

/// Reads `topic` on `brokers` and counts each id of `acked`; gives up after `timeout`.
pub fn verify(
    brokers: &str,
    topic: &str,
    acked: &HashSet<RequestId>,
    timeout: Duration,
) -> Result<Verdict, String> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "intake-load-verify")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create()
        .map_err(|e| format!("consumer for {brokers}: {e}"))?;
    let wait = Duration::from_secs(10);
    let metadata = consumer
        .fetch_metadata(Some(topic), wait)
        .map_err(|e| format!("metadata of {topic}: {e}"))?;
    let partitions = metadata
        .topics()
        .first()
        .map_or(0, |t| t.partitions().len());
    if partitions == 0 {
        return Err(format!("topic {topic} has no partitions on {brokers}"));
    }
    let mut assignment = TopicPartitionList::new();
    // Partition -> the offset after which everything acknowledged has been read.
    let mut high = HashMap::new();
    for p in 0..partitions as i32 {
        let (low, hi) = consumer
            .fetch_watermarks(topic, p, wait)
            .map_err(|e| format!("watermarks of {topic}/{p}: {e}"))?;
        if hi > low {
            high.insert(p, hi);
            assignment
                .add_partition_offset(topic, p, Offset::Beginning)
                .map_err(|e| e.to_string())?;
        }
    }
    let mut seen: HashMap<RequestId, u32> = HashMap::with_capacity(acked.len());
    let (mut records_read, mut late) = (0, 0);
    if high.is_empty() {
        return Err(format!("topic {topic} is empty"));
    }
    consumer.assign(&assignment).map_err(|e| e.to_string())?;
    let deadline = Instant::now() + timeout;
    // Past the watermarks, read on until the topic has been quiet for a moment: a broker whose
    // watermark lags its log (or other runs still producing) must not make a record look lost.
    let mut quiet_since: Option<Instant> = None;
    // And while acknowledged ids are missing, on until the deadline: a request the gateway
    // spooled (Kafka slow to confirm) was acknowledged before its forwarder published it.
    while !high.is_empty()
        || quiet_since.is_none_or(|q| q.elapsed() < SETTLE)
        || (seen.len() < acked.len() && Instant::now() < deadline)
    {
        if high.is_empty() && quiet_since.is_none() {
            quiet_since = Some(Instant::now());
        }
        if !high.is_empty() && Instant::now() > deadline {
            return Err(format!(
                "{topic}: partitions {:?} not read up to their high watermark within {timeout:?}",
                high.keys().collect::<Vec<_>>()
            ));
        }
        let Some(message) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let m = message.map_err(|e| format!("consume {topic}: {e}"))?;
        records_read += 1;
        if quiet_since.is_some() {
            quiet_since = Some(Instant::now());
        }
        let id = serde_json::from_slice::<IdOnly>(m.payload().unwrap_or_default())
            .ok()
            .and_then(|r| r.request_id.parse::<uuid::Uuid>().ok())
            .map(RequestId::from_uuid);
        if let Some(id) = id.filter(|id| acked.contains(id)) {
            *seen.entry(id).or_default() += 1;
            late += u64::from(quiet_since.is_some());
        }
        if high
            .get(&m.partition())
            .is_some_and(|h| m.offset() + 1 >= *h)
        {
            high.remove(&m.partition());
        }
    }
    let lost_sample = acked
        .iter()
        .filter(|id| !seen.contains_key(id))
        .take(5)
        .map(ToString::to_string)
        .collect();
    Ok(Verdict {
        topic: topic.to_string(),
        acked_ids: acked.len() as u64,
        found: seen.len() as u64,
        lost: (acked.len() - seen.len()) as u64,
        duplicated: seen.values().filter(|n| **n > 1).count() as u64,
        records_read,
        found_after_watermark: late,
        lost_sample,
    })
}
