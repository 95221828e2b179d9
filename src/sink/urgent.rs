//! The urgent copy: a request with `routing.priority = "urgent"` carries the Kafka header
//! `priority: urgent` and is also published to `kafka.urgent_topic`.
//!
//! Kept apart from the producer so that the hot path gains one header lookup and nothing else.
//! Both copies are acknowledged (or fsynced) before the caller's 2xx; after a partial failure
//! the retry may repeat the record on the topic that had already acknowledged it, with the same
//! `request_id` (consumers dedupe on it, as after any producer retry across a restart).

use super::envelope::{Envelope, Topic, Topics, PRIORITY_HEADER};
use crate::local_log::Headers;

/// True when the headers mark an urgent request.
pub fn is_urgent(headers: &Headers) -> bool {
    headers.get(PRIORITY_HEADER).is_some_and(|p| p == "urgent")
}

/// The urgent topic, when `envelope` is an urgent request.
pub fn copy_topic<'a>(topics: &'a Topics, envelope: &Envelope) -> Option<&'a str> {
    (envelope.topic == Topic::Requests && is_urgent(&envelope.headers))
        .then_some(topics.urgent.as_str())
}

/// The urgent topic for a spooled entry written to `topic`, when it is an urgent request.
pub fn copy_topic_of_entry<'a>(
    topics: &'a Topics,
    topic: &str,
    headers: &Headers,
) -> Option<&'a str> {
    (topic == topics.requests && is_urgent(headers)).then_some(topics.urgent.as_str())
}
