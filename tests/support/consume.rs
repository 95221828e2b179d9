//! Reading what the gateway published: an assigned consumer (no group join, which takes ~20 s on
//! the test broker), every partition from the beginning.

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// One consumed record.
#[derive(Debug, Clone)]
pub struct Consumed {
    /// The Kafka key.
    pub key: String,
    /// The Kafka headers.
    pub headers: BTreeMap<String, String>,
    /// The JSON payload.
    pub value: Value,
}

/// Reads `topic` until `expected` records arrived or `wait` passed, then a little longer to
/// catch any unexpected extra record (a duplicate would show up there).
pub fn consume(bootstrap: &str, topic: &str, expected: usize, wait: Duration) -> Vec<Consumed> {
    consume_with(&[], bootstrap, topic, expected, wait)
}

/// [`consume`] over a secured connection: `props` are extra client properties (TLS, SASL).
pub fn consume_with(
    props: &[(String, String)],
    bootstrap: &str,
    topic: &str,
    expected: usize,
    wait: Duration,
) -> Vec<Consumed> {
    let mut config = ClientConfig::new();
    for (k, v) in props {
        config.set(k, v);
    }
    let consumer: BaseConsumer = config
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "intake-tests")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create()
        .expect("consumer");
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("metadata");
    let partitions = metadata
        .topics()
        .first()
        .map(|t| t.partitions().len())
        .unwrap_or(0);
    assert!(partitions > 0, "topic {topic} has no partitions");
    let mut assignment = TopicPartitionList::new();
    for p in 0..partitions as i32 {
        assignment
            .add_partition_offset(topic, p, Offset::Beginning)
            .expect("offset");
    }
    consumer.assign(&assignment).expect("assign");
    let mut out = Vec::new();
    let deadline = Instant::now() + wait;
    let mut settle: Option<Instant> = None;
    loop {
        if out.len() >= expected && settle.is_none() {
            settle = Some(Instant::now() + Duration::from_millis(750));
        }
        if Instant::now() > deadline || settle.is_some_and(|s| Instant::now() > s) {
            break;
        }
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                let headers = m
                    .headers()
                    .map(|h| {
                        h.iter()
                            .map(|h| {
                                (
                                    h.key.to_string(),
                                    String::from_utf8_lossy(h.value.unwrap_or_default())
                                        .into_owned(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let value = serde_json::from_slice(m.payload().unwrap_or_default())
                    .expect("payload is JSON");
                let key = String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned();
                out.push(Consumed {
                    key,
                    headers,
                    value,
                });
            }
            Some(Err(e)) => panic!("consume {topic}: {e}"),
            None => {}
        }
    }
    out
}
