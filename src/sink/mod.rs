//! Where durable requests go: Kafka, or the embedded journal when no broker is configured.
//!
//! Either way `publish` returns only when the record is durable (acks=all, or fsynced), which
//! is the moment the gateway may answer 2xx.

mod envelope;
mod error;
mod journal;
mod kafka;
mod kafka_context;
pub mod urgent;

pub use envelope::{Envelope, Topic, Topics, PRIORITY_HEADER};
pub use error::SinkError;
pub use journal::JournalSink;
pub use kafka::{connection_config, KafkaSink};
pub use kafka_context::GatewayContext;

use std::sync::Arc;
use std::time::Duration;

/// The configured sink.
#[derive(Clone)]
pub enum Sink {
    /// Kafka with an idempotent, acks=all producer.
    Kafka(Arc<KafkaSink>),
    /// The embedded journal.
    Journal(Arc<JournalSink>),
}

impl Sink {
    /// Publishes one record; resolves when it is durable or definitely failed.
    pub async fn publish(&self, envelope: &Envelope) -> Result<(), SinkError> {
        match self {
            Sink::Kafka(k) => k.publish(envelope).await,
            Sink::Journal(j) => j.publish(envelope).await,
        }
    }

    /// True when a publish now would be expected to succeed (for `/readyz`).
    pub fn is_ready(&self) -> bool {
        match self {
            Sink::Kafka(k) => k.is_up(),
            Sink::Journal(j) => j.is_open(),
        }
    }

    /// Why the sink is not ready, in words (e.g. Kafka's TLS or SASL error); `None` when up.
    pub fn detail(&self) -> Option<String> {
        match self {
            Sink::Kafka(k) => k.detail(),
            Sink::Journal(j) => (!j.is_open()).then(|| "journal not writable".to_string()),
        }
    }

    /// `kafka` or `journal`, for logs and the ops page.
    pub fn kind(&self) -> &'static str {
        match self {
            Sink::Kafka(_) => "kafka",
            Sink::Journal(_) => "journal",
        }
    }

    /// Delivers what is queued (within `grace`) and releases the sink.
    pub async fn close(&self, grace: Duration) {
        match self {
            Sink::Kafka(k) => k.close(grace).await,
            Sink::Journal(j) => j.close().await,
        }
    }
}
