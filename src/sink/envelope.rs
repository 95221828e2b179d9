//! A record ready for a topic: key, headers and JSON payload, the same for every sink.

use intake_schema::{
    DeadLetter, IntakeEvent, IntakeRequest, RequestId, DEAD_LETTER_SCHEMA_ID, EVENT_SCHEMA_ID,
    SCHEMA_ID,
};
use std::collections::BTreeMap;

use super::error::SinkError;

/// The header of a routed request's priority (`normal` or `urgent`).
pub const PRIORITY_HEADER: &str = "priority";

/// Which of the three topics a record belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Topic {
    /// Citizen requests (`kafka.topic`).
    Requests,
    /// Channel events (`kafka.events_topic`).
    Events,
    /// Dead letters (`kafka.dead_letter_topic`).
    DeadLetters,
}

/// The configured topic names.
#[derive(Clone, Debug)]
pub struct Topics {
    /// `kafka.topic`
    pub requests: String,
    /// `kafka.events_topic`
    pub events: String,
    /// `kafka.dead_letter_topic`
    pub dead_letters: String,
    /// `kafka.urgent_topic`: a second copy of every urgent request.
    pub urgent: String,
}

impl Topics {
    /// The names configured in `[kafka]`.
    pub fn of(kafka: &crate::config::KafkaConfig) -> Self {
        Topics {
            requests: kafka.topic.clone(),
            events: kafka.events_topic.clone(),
            dead_letters: kafka.dead_letter_topic.clone(),
            urgent: kafka.urgent_topic.clone(),
        }
    }

    /// The name of `topic`.
    pub fn name(&self, topic: Topic) -> &str {
        match topic {
            Topic::Requests => &self.requests,
            Topic::Events => &self.events,
            Topic::DeadLetters => &self.dead_letters,
        }
    }
}

/// One record with its routing.
#[derive(Clone, Debug)]
pub struct Envelope {
    /// Its topic.
    pub topic: Topic,
    /// The id dedup works on.
    pub id: RequestId,
    /// The Kafka key: keeps one citizen's records in one partition, in order.
    pub key: String,
    /// Kafka headers, so consumers can route without parsing the payload.
    pub headers: BTreeMap<String, String>,
    /// The record as JSON.
    pub payload: String,
}

impl Envelope {
    /// A request record, keyed by the citizen's contact.
    pub fn request(r: &IntakeRequest) -> Result<Self, SinkError> {
        let headers = BTreeMap::from([
            ("request_id".to_string(), r.request_id.to_string()),
            ("channel".to_string(), r.channel.as_str().to_string()),
            ("schema".to_string(), SCHEMA_ID.to_string()),
        ]);
        let mut headers = headers;
        // How urgent it is (see `super::urgent`): consumers can route without parsing.
        if let Some(routing) = &r.routing {
            headers.insert(
                PRIORITY_HEADER.to_string(),
                routing.priority.as_str().to_string(),
            );
        }
        Ok(Envelope {
            topic: Topic::Requests,
            id: r.request_id,
            key: r.partition_key(),
            headers,
            payload: json(r)?,
        })
    }

    /// An event, keyed like a request of the same citizen.
    pub fn event(e: &IntakeEvent) -> Result<Self, SinkError> {
        let headers = BTreeMap::from([
            ("event_id".to_string(), e.event_id.to_string()),
            ("channel".to_string(), e.channel.as_str().to_string()),
            ("schema".to_string(), EVENT_SCHEMA_ID.to_string()),
        ]);
        let key = e
            .citizen
            .contact
            .clone()
            .unwrap_or_else(|| e.event_id.to_string());
        Ok(Envelope {
            topic: Topic::Events,
            id: RequestId::from_uuid(e.event_id),
            key,
            headers,
            payload: json(e)?,
        })
    }

    /// A dead letter, keyed by its source.
    pub fn dead_letter(d: &DeadLetter) -> Result<Self, SinkError> {
        let headers = BTreeMap::from([
            ("dead_letter_id".to_string(), d.dead_letter_id.to_string()),
            ("channel".to_string(), d.channel.as_str().to_string()),
            ("schema".to_string(), DEAD_LETTER_SCHEMA_ID.to_string()),
        ]);
        Ok(Envelope {
            topic: Topic::DeadLetters,
            id: RequestId::from_uuid(d.dead_letter_id),
            key: d.source_system.clone(),
            headers,
            payload: json(d)?,
        })
    }
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, SinkError> {
    serde_json::to_string(value).map_err(|e| SinkError::Encoding(e.to_string()))
}
