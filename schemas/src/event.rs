//! Records that are not citizen requests: channel events (schema `intake-event/1`, topic
//! `intake.events.v1`) and dead letters (schema `intake-dead-letter/1`, topic `intake.rejected.v1`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

use crate::record::rfc3339_millis;
use crate::{Channel, Citizen, RawPayload, RequestId, DEAD_LETTER_SCHEMA_ID, EVENT_SCHEMA_ID};

/// Something that happened on a channel without being a request: a WeChat follow or menu
/// click, a call ringing before its final record. Counted and published, never dispatched.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IntakeEvent {
    /// Always [`EVENT_SCHEMA_ID`].
    pub schema: String,
    /// UUIDv5 like a request id, over the event's own dedup key.
    pub event_id: Uuid,
    /// The channel it happened on.
    pub channel: Channel,
    /// `{channel}.{name}`, lowercase: `wechat.subscribe`, `wechat.click`, `phone.answer`...
    pub kind: String,
    /// `{kind}:{name}` of the source, as in requests.
    pub source_system: String,
    /// The source's dedup key of the event.
    pub source_message_id: String,
    /// When it happened, per the source.
    #[serde(default, serialize_with = "opt_millis")]
    pub occurred_at: Option<DateTime<Utc>>,
    /// When the gateway received it.
    #[serde(serialize_with = "rfc3339_millis")]
    pub received_at: DateTime<Utc>,
    /// Who it concerns.
    pub citizen: Citizen,
    /// Event-specific values (EventKey, Ticket, Latitude...), as text.
    pub attributes: BTreeMap<String, String>,
    /// The trace it was handled in.
    pub trace_id: String,
}

impl IntakeEvent {
    /// An event with its id derived from channel, source and dedup key.
    pub fn new(
        channel: Channel,
        kind: impl Into<String>,
        source_system: impl Into<String>,
        source_message_id: impl Into<String>,
        received_at: DateTime<Utc>,
        citizen: Citizen,
        trace_id: impl Into<String>,
    ) -> Self {
        let source_system = source_system.into();
        let source_message_id = source_message_id.into();
        let event_id = *RequestId::derive(
            channel,
            &format!("event:{source_system}"),
            &source_message_id,
        )
        .as_uuid();
        IntakeEvent {
            schema: EVENT_SCHEMA_ID.to_string(),
            event_id,
            channel,
            kind: kind.into(),
            source_system,
            source_message_id,
            occurred_at: None,
            received_at,
            citizen,
            attributes: BTreeMap::new(),
            trace_id: trace_id.into(),
        }
    }
}

/// Input that authenticated but could not be turned into a request (unknown WeChat MsgType,
/// undecodable SMS, a CDR without Call-ID). Kept so that nothing a citizen sent disappears.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// Always [`DEAD_LETTER_SCHEMA_ID`].
    pub schema: String,
    /// UUIDv5 over the raw body digest, so a retried delivery is one dead letter.
    pub dead_letter_id: Uuid,
    /// The channel it came in on.
    pub channel: Channel,
    /// `{kind}:{name}` of the source.
    pub source_system: String,
    /// Why it could not be normalized.
    pub reason: String,
    /// When the gateway received it.
    #[serde(serialize_with = "rfc3339_millis")]
    pub received_at: DateTime<Utc>,
    /// The payload as received.
    pub raw: RawPayload,
    /// The trace it was handled in.
    pub trace_id: String,
}

impl DeadLetter {
    /// A dead letter whose id is derived from the source and the body digest.
    pub fn new(
        channel: Channel,
        source_system: impl Into<String>,
        reason: impl Into<String>,
        received_at: DateTime<Utc>,
        raw: RawPayload,
        trace_id: impl Into<String>,
    ) -> Self {
        let source_system = source_system.into();
        let dead_letter_id =
            *RequestId::derive(channel, &format!("dead:{source_system}"), &raw.sha256).as_uuid();
        DeadLetter {
            schema: DEAD_LETTER_SCHEMA_ID.to_string(),
            dead_letter_id,
            channel,
            source_system,
            reason: reason.into(),
            received_at,
            raw,
            trace_id: trace_id.into(),
        }
    }
}

fn opt_millis<S: serde::Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => rfc3339_millis(t, s),
        None => s.serialize_none(),
    }
}
