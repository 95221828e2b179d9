//! Generic CTI: the call events of Zammad's generic CTI push API, so PBXes and CTI servers
//! that already speak it work unchanged (`GENERIC.md`).
//!
//! Every event has `event` (`newCall`, `answer`, `hangup`), `from`, `to`, `direction` (`in`
//! or `out`) and `callId`; `user` (`user[]` in forms: the agents involved) and `queue` are
//! optional, `answeringNumber` names the agent who answered, and `hangup` has `cause`
//! (`normalClearing`, `busy`, `cancel`, `noAnswer`, `congestion`, `notFound`, `forwarded`).
//! The events carry no time, so the gateway's arrival time stands in, unless the sender adds
//! `timestamp` (unix seconds or RFC 3339). `recording` (a URL) may come with `hangup`.

use intake_adapter::AdapterError;
use intake_schema::Disposition;

use crate::body::Payload;
use crate::fields::Fields;
use crate::item::{Parsed, Phase};
use crate::parties::Parties;
use crate::state::{ivr_digits, Direction};
use crate::{json_messages, time, Ctx};

/// Parses a post of a generic CTI source into its messages.
pub(crate) fn parse(payload: Payload, ctx: &Ctx) -> Result<Vec<Parsed>, AdapterError> {
    match payload {
        Payload::Fields(fields) => Ok(vec![message(&fields, ctx)]),
        Payload::Json(text) => {
            json_messages(&text, |object| message(&Fields::from_json(object), ctx))
        }
    }
}

/// One CTI event.
fn message(fields: &Fields, ctx: &Ctx) -> Parsed {
    let event = fields.get("event").unwrap_or_default();
    let phase = match event.to_ascii_lowercase().as_str() {
        "newcall" => Some(Phase::NewCall),
        "answer" => Some(Phase::Answer),
        "hangup" => None,
        _ => {
            return Parsed::Unusable {
                reason: format!("CTI event {event:?} is not newCall, answer or hangup"),
                raw: None,
            }
        }
    };
    let Some(call_id) = fields.get("callId") else {
        return Parsed::Unusable {
            reason: format!("CTI {event} event without callId"),
            raw: None,
        };
    };
    let mut state = ctx.state(call_id);
    state.direction = Direction::parse(fields.get("direction"));
    Parties {
        from: fields.get("from"),
        to: fields.get("to"),
        request_uri: fields.get("to"),
        ..Parties::default()
    }
    .fill(&mut state, ctx.source.trusted_pai, ctx.lines);
    let at = fields
        .get("timestamp")
        .and_then(time::any)
        .unwrap_or(ctx.now);
    state.queue = fields.get("queue").map(str::to_string);
    state.ivr = ivr_digits(fields.get("ivr"));
    // `user` names the agents ringing on newCall, the one who took the call on answer and,
    // for an outbound call, the agent calling; `answeringNumber` is the answering agent.
    let user = fields.get("user");
    state.agent = fields
        .get("answeringNumber")
        .or(match (phase, state.direction) {
            (Some(Phase::Answer), _) | (_, Some(Direction::Outbound)) => user,
            _ => None,
        })
        .map(str::to_string);
    match phase {
        Some(Phase::NewCall) => {
            state.started_at = Some(at);
            Parsed::Update {
                state,
                phase: Phase::NewCall,
                at: Some(at),
            }
        }
        Some(Phase::Answer) => {
            state.answered_at = Some(at);
            Parsed::Update {
                state,
                phase: Phase::Answer,
                at: Some(at),
            }
        }
        None => {
            state.ended_at = Some(at);
            let cause = fields.get("cause");
            state.outcome = Some(outcome(cause));
            state.hangup_cause = cause.map(str::to_string);
            state.recording = fields.get("recording").map(str::to_string);
            Parsed::Final(state)
        }
    }
}

/// The disposition a hangup cause implies. `normalClearing` means the call was established,
/// so a hangup alone (its answer event lost or late) is still an answered call. A
/// `forwarded` call left this system unanswered here: it counts as no answer, so the
/// citizen is called back unless an answer event says otherwise.
fn outcome(cause: Option<&str>) -> Disposition {
    match cause.map(str::to_ascii_lowercase).as_deref() {
        Some("normalclearing") => Disposition::Answered,
        Some("busy") => Disposition::Busy,
        Some("cancel") => Disposition::Abandoned,
        Some("noanswer" | "forwarded") => Disposition::NoAnswer,
        Some("congestion" | "notfound") => Disposition::Failed,
        _ => Disposition::Abandoned,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes() {
        assert_eq!(outcome(Some("normalClearing")), Disposition::Answered);
        assert_eq!(outcome(Some("cancel")), Disposition::Abandoned);
        assert_eq!(outcome(Some("noAnswer")), Disposition::NoAnswer);
        assert_eq!(outcome(Some("notFound")), Disposition::Failed);
        assert_eq!(outcome(None), Disposition::Abandoned);
    }
}
