//! What one post yields for the gateway: live-view updates, finished calls, acknowledged
//! no-ops and dead letters.

use chrono::{DateTime, Utc};
use intake_adapter::Inbound;
use intake_schema::{Channel, DeadLetter, IntakeEvent, RawPayload};

use crate::finish::citizen;
use crate::state::CallState;

/// One outcome of a post. Every variant is answered 2xx once the gateway has stored it.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    /// A call in progress changed (rang, was answered): publish `event` for the live view
    /// and merge `state` into the gateway's per-call state with [`crate::merge`].
    Update {
        /// What this post says about the call.
        state: CallState,
        /// The `phone.*` event for the events topic.
        event: Box<IntakeEvent>,
    },
    /// The call ended: merge `state` into the call's state, [`crate::finish`] it into the
    /// request, publish that, and forget the call. Re-posts of the same call give the same
    /// request id, so the gateway's dedup absorbs them.
    Final {
        /// What this post says about the call.
        state: CallState,
    },
    /// Authenticated and understood, but nothing to publish (a FreeSWITCH B-leg, an ARI event
    /// that carries nothing for the record). Acknowledge it so the PBX does not retry.
    Skipped {
        /// Why nothing was published.
        reason: String,
    },
    /// Authenticated but not normalizable (no Call-ID, an unknown event): publish to the
    /// dead-letter topic so nothing a citizen did is lost.
    DeadLetter(Box<DeadLetter>),
}

impl Item {
    /// The call state an update or a finished call carries, for the gateway's per-call map.
    pub fn state(&self) -> Option<&CallState> {
        match self {
            Item::Update { state, .. } | Item::Final { state } => Some(state),
            Item::Skipped { .. } | Item::DeadLetter(_) => None,
        }
    }
}

/// The live-view phases a call goes through before it ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// The call arrived (ringing, queued).
    NewCall,
    /// A person answered.
    Answer,
}

impl Phase {
    /// The event name: `phone.{name}` is the kind, `{call_id}/{name}` the dedup key.
    fn name(self) -> &'static str {
        match self {
            Phase::NewCall => "new_call",
            Phase::Answer => "answer",
        }
    }
}

/// A dialect parser's verdict on one call message.
#[derive(Debug)]
pub(crate) enum Parsed {
    /// A call-progress message, happened at `at` when the source says.
    Update {
        state: CallState,
        phase: Phase,
        at: Option<DateTime<Utc>>,
    },
    /// An end-of-call message.
    Final(CallState),
    /// Nothing to publish.
    Skipped(String),
    /// Not normalizable; `raw` is the message itself when it is part of a batch.
    Unusable { reason: String, raw: Option<String> },
}

impl Parsed {
    /// The gateway-facing item, stamped with the request's clock and trace.
    pub(crate) fn into_item(self, inbound: &Inbound, source_system: &str) -> Item {
        match self {
            Parsed::Update { state, phase, at } => {
                let event = event(&state, phase, at, inbound);
                Item::Update {
                    state,
                    event: Box::new(event),
                }
            }
            Parsed::Final(state) => Item::Final { state },
            Parsed::Skipped(reason) => Item::Skipped { reason },
            Parsed::Unusable { reason, raw } => {
                let raw = match raw {
                    Some(part) => RawPayload::capture_text(Some("application/json"), part),
                    None => RawPayload::capture(inbound.content_type(), inbound.body),
                };
                Item::DeadLetter(Box::new(DeadLetter::new(
                    Channel::Phone,
                    source_system,
                    reason,
                    inbound.now,
                    raw,
                    inbound.trace_id,
                )))
            }
        }
    }
}

/// The `phone.{phase}` event of a call-progress message, with the call id, line, queue and
/// agent as attributes (only those known).
fn event(
    state: &CallState,
    phase: Phase,
    at: Option<DateTime<Utc>>,
    inbound: &Inbound,
) -> IntakeEvent {
    let mut event = IntakeEvent::new(
        Channel::Phone,
        format!("phone.{}", phase.name()),
        state.source_system.clone(),
        format!("{}/{}", state.call_id, phase.name()),
        inbound.now,
        citizen(state),
        inbound.trace_id,
    );
    event.occurred_at = at;
    let attributes = [
        ("call_id", Some(&state.call_id)),
        ("line", state.line.as_ref()),
        ("queue", state.queue.as_ref()),
        ("agent", state.agent.as_ref()),
    ];
    for (name, value) in attributes {
        if let Some(value) = value {
            event.attributes.insert(name.to_string(), value.clone());
        }
    }
    event
}
