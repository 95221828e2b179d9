//! The Kafka sink: one idempotent producer with acks=all per gateway instance.
//!
//! Idempotence makes librdkafka's own retries exactly-once per partition; acks=all makes an
//! acknowledgement mean "on every in-sync replica", the only meaning under which a 2xx may be sent.

use crate::local_log::Headers;
use rdkafka::config::ClientConfig;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer, PurgeConfig};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::envelope::{Envelope, Topic, Topics};
use super::error::SinkError;
use super::kafka_context::GatewayContext;
use crate::config::KafkaConfig;

/// The producer and what `/readyz` knows about the cluster.
pub struct KafkaSink {
    producer: FutureProducer<GatewayContext>,
    context: GatewayContext,
    topics: Topics,
    up: Arc<AtomicBool>,
    probe_error: std::sync::Mutex<Option<String>>,
}

/// How any client of this gateway reaches the cluster: the brokers, `[kafka.tls]`,
/// `[kafka.sasl]` and `[kafka.properties]`. The producer and the drain's read-back consumer both
/// start from it, so the drain is as secured as the gateway.
pub fn connection_config(config: &KafkaConfig, bootstrap: &str) -> ClientConfig {
    let mut client = ClientConfig::new();
    client
        .set("bootstrap.servers", bootstrap)
        .set("client.id", "intake-gateway");
    for (k, v) in config.security_properties() {
        client.set(k, v);
    }
    client
}

/// The producer's settings: [`connection_config`], the gateway's own delivery settings, then
/// `[kafka.tls]`, `[kafka.sasl]` and `[kafka.properties]` again, so that what the operator set wins.
fn producer_config(config: &KafkaConfig, bootstrap: &str) -> ClientConfig {
    let mut client = connection_config(config, bootstrap);
    client
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("compression.type", &config.compression)
        // One produce request in flight per broker, and a 1 ms linger: with acks=all every
        // caller waits for its batch, so batches should be as full as the load makes them, not
        // as full as a timer makes them. While one request is out, what arrives gathers for the
        // next (self-clocking, as Nagle's algorithm does for TCP); a quiet gateway sends within
        // 1 ms. With librdkafka's 5 ms linger and 5 requests in flight, 64 callers' records never
        // filled a batch (10,000 records) and every reply waited the linger: WeChat plaintext
        // into tansu on the same 2-core machine (README "Performance") gave 8.9-9.2k req/s at 64
        // connections with the machine 40 % idle; these settings 12.2-16.8k, level or a few
        // percent behind at 256 connections, and half the median latency at half load.
        // `[kafka.properties]` overrides both (a remote cluster holding many partitions per
        // broker may want more requests in flight: README).
        .set("linger.ms", "1")
        .set("max.in.flight.requests.per.connection", "1")
        .set(
            "message.timeout.ms",
            config.message_timeout.as_millis().to_string(),
        );
    // Conflicts with the typed sections were refused at load.
    for (k, v) in config.security_properties() {
        client.set(k, v);
    }
    client
}

impl KafkaSink {
    /// Builds the producer; fails only on invalid settings (no broker is contacted yet).
    pub fn new(config: &KafkaConfig, bootstrap: &str, topics: Topics) -> Result<Self, SinkError> {
        let client = producer_config(config, bootstrap);
        let context = GatewayContext::default();
        // A CA, certificate or key librdkafka cannot load fails here: no plaintext fallback.
        let producer: FutureProducer<GatewayContext> = client
            .create_with_context(context.clone())
            .map_err(|e| SinkError::Kafka(e.to_string()))?;
        Ok(KafkaSink {
            producer,
            context,
            topics,
            up: Arc::new(AtomicBool::new(false)),
            probe_error: std::sync::Mutex::new(None),
        })
    }

    /// Sends and waits for the broker's acknowledgement.
    pub async fn publish(&self, envelope: &Envelope) -> Result<(), SinkError> {
        let topic = self.topics.name(envelope.topic);
        let delivery = self.enqueue(topic, &envelope.key, &envelope.headers, &envelope.payload)?;
        // An urgent request also goes to the urgent topic; the caller's 2xx waits for both.
        let copy = match super::urgent::copy_topic(&self.topics, envelope) {
            Some(urgent) => {
                Some(self.enqueue(urgent, &envelope.key, &envelope.headers, &envelope.payload)?)
            }
            None => None,
        };
        self.confirm(delivery).await?;
        match copy {
            Some(copy) => self.confirm(copy).await,
            None => Ok(()),
        }
    }

    /// The configured name of `topic`.
    pub fn topic_name(&self, topic: Topic) -> &str {
        self.topics.name(topic)
    }

    /// Hands a record to the producer without waiting: records enqueued one after another keep
    /// their order within a partition, which the spool's replay relies on.
    pub fn enqueue(
        &self,
        topic: &str,
        key: &str,
        headers: &Headers,
        payload: &str,
    ) -> Result<DeliveryFuture, SinkError> {
        let mut kafka_headers = OwnedHeaders::new_with_capacity(headers.len());
        for (k, v) in headers {
            kafka_headers = kafka_headers.insert(Header {
                key: k,
                value: Some(v.as_bytes()),
            });
        }
        let record = FutureRecord::to(topic)
            .key(key.as_bytes())
            .payload(payload.as_bytes())
            .headers(kafka_headers);
        self.producer
            .send_result(record)
            .map_err(|(e, _)| SinkError::Kafka(e.to_string()))
    }

    /// [`KafkaSink::enqueue`] of a spooled entry, with its urgent copy when it is an urgent
    /// request (see [`super::urgent`]).
    pub fn enqueue_entry(
        &self,
        topic: &str,
        key: &str,
        headers: &Headers,
        payload: &str,
    ) -> Result<(DeliveryFuture, Option<DeliveryFuture>), SinkError> {
        let first = self.enqueue(topic, key, headers, payload)?;
        let copy = match super::urgent::copy_topic_of_entry(&self.topics, topic, headers) {
            Some(urgent) => Some(self.enqueue(urgent, key, headers, payload)?),
            None => None,
        };
        Ok((first, copy))
    }

    /// Waits for both deliveries of [`KafkaSink::enqueue_entry`].
    pub async fn confirm_entry(
        &self,
        (first, copy): (DeliveryFuture, Option<DeliveryFuture>),
    ) -> Result<(), SinkError> {
        self.confirm(first).await?;
        match copy {
            Some(copy) => self.confirm(copy).await,
            None => Ok(()),
        }
    }

    /// Waits for the acknowledgement of an enqueued record.
    pub async fn confirm(&self, delivery: DeliveryFuture) -> Result<(), SinkError> {
        match delivery.await {
            Ok(Ok(_)) => {
                self.up.store(true, Ordering::Relaxed);
                self.context.clear();
                Ok(())
            }
            Ok(Err((e, _))) => Err(SinkError::Kafka(e.to_string())),
            Err(_) => Err(SinkError::Kafka(
                "delivery report lost (producer closed)".into(),
            )),
        }
    }

    /// Whether the last metadata probe or delivery reached the cluster.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// Why the cluster is not reachable, in words (a TLS or authentication error when that is
    /// the cause); `None` while it is up.
    pub fn detail(&self) -> Option<String> {
        if self.is_up() {
            return None;
        }
        self.context
            .last_error()
            .or_else(|| self.probe_error.lock().ok().and_then(|e| e.clone()))
    }

    /// Asks the cluster for metadata (at most 3 s) and records whether it answered.
    pub async fn probe(&self) -> bool {
        let producer = self.producer.clone();
        let answer = tokio::task::spawn_blocking(move || {
            producer
                .client()
                .fetch_metadata(None, Duration::from_secs(3))
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
        let reachable = answer.is_ok();
        if reachable {
            self.context.clear();
        }
        if let Ok(mut last) = self.probe_error.lock() {
            *last = answer.err();
        }
        let was = self.up.swap(reachable, Ordering::Relaxed);
        if was != reachable {
            match self.detail() {
                Some(reason) => {
                    tracing::warn!(kafka_up = reachable, reason = %reason, "kafka reachability changed")
                }
                None => tracing::warn!(kafka_up = reachable, "kafka reachability changed"),
            }
        }
        metrics::gauge!("intake_kafka_up").set(if reachable { 1.0 } else { 0.0 });
        reachable
    }

    /// Probes the cluster every `every` until the returned task is aborted.
    pub fn spawn_probe(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let sink = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                sink.probe().await;
            }
        })
    }

    /// Drops what was never sent, then waits (up to `grace`) for what is in flight.
    ///
    /// Called when every caller has its answer and the forwarder has stopped, so anything still
    /// queued is either in the spool (and replayed on the next start) or was never acknowledged.
    /// Sending it now, after the spool cursor was last stored, would publish it twice.
    pub async fn close(&self, grace: Duration) {
        let producer = self.producer.clone();
        let _ = tokio::task::spawn_blocking(move || {
            producer.purge(PurgeConfig::default().queue());
            producer.flush(grace)
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_settings_are_the_gateways_unless_the_operator_sets_them() {
        let config = KafkaConfig::default();
        let client = producer_config(&config, "127.0.0.1:9092");
        assert_eq!(client.get("acks"), Some("all"));
        assert_eq!(client.get("enable.idempotence"), Some("true"));
        assert_eq!(client.get("linger.ms"), Some("1"));
        assert_eq!(
            client.get("max.in.flight.requests.per.connection"),
            Some("1")
        );

        let mut config = KafkaConfig::default();
        config.properties.insert("linger.ms".into(), "5".into());
        config
            .properties
            .insert("max.in.flight.requests.per.connection".into(), "5".into());
        let client = producer_config(&config, "127.0.0.1:9092");
        assert_eq!(client.get("linger.ms"), Some("5"));
        assert_eq!(
            client.get("max.in.flight.requests.per.connection"),
            Some("5")
        );
        assert_eq!(client.get("acks"), Some("all"));
    }
}
