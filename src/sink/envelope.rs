//! A record ready for a topic: key, headers and JSON payload, the same for every sink.

use intake_schema::{
    DeadLetter, IntakeEvent, IntakeRequest, RequestId, DEAD_LETTER_SCHEMA_ID, EVENT_SCHEMA_ID,
    SCHEMA_ID,
};

use super::error::SinkError;
use crate::local_log::Headers;

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
    pub headers: Headers,
    /// The record as JSON.
    pub payload: String,
}

impl Envelope {
    /// A request record, keyed by the citizen's contact.
    pub fn request(r: &IntakeRequest) -> Result<Self, SinkError> {
        let mut headers = headers(
            ("request_id", r.request_id.to_string()),
            r.channel.as_str(),
            SCHEMA_ID,
        );
        // How urgent it is (see `super::urgent`): consumers can route without parsing.
        if let Some(routing) = &r.routing {
            headers.insert(PRIORITY_HEADER.into(), routing.priority.as_str().into());
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
        let headers = headers(
            ("event_id", e.event_id.to_string()),
            e.channel.as_str(),
            EVENT_SCHEMA_ID,
        );
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
        let headers = headers(
            ("dead_letter_id", d.dead_letter_id.to_string()),
            d.channel.as_str(),
            DEAD_LETTER_SCHEMA_ID,
        );
        Ok(Envelope {
            topic: Topic::DeadLetters,
            id: RequestId::from_uuid(d.dead_letter_id),
            key: d.source_system.clone(),
            headers,
            payload: json(d)?,
        })
    }
}

/// The headers every record carries: its id (under its kind's name), channel and schema.
fn headers(
    (id_name, id): (&'static str, String),
    channel: &'static str,
    schema: &'static str,
) -> Headers {
    Headers::from([
        (id_name.into(), id.into()),
        ("channel".into(), channel.into()),
        ("schema".into(), schema.into()),
    ])
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, SinkError> {
    serde_json::to_string(value).map_err(|e| SinkError::Encoding(e.to_string()))
}
