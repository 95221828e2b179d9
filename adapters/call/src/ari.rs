//! Asterisk REST Interface events, relayed as the JSON ARI sends on its websocket.
//!
//! - `StasisStart`: the citizen's channel entered the hotline's Stasis application → new call.
//! - `ChannelEnteredBridge` into a non-holding bridge: the citizen was connected → answer.
//! - `ChannelDestroyed`: the channel is gone → the finished call. `cause` is Q.850.
//!
//! Every other event type is acknowledged and skipped, so a relay may forward everything.
//! The call id is `channel.protocol_id` (the SIP Call-ID for chan_pjsip), else `channel.id`.

use chrono::{DateTime, Utc};
use intake_schema::Disposition;
use serde_json::{Map, Value};

use crate::item::{Parsed, Phase};
use crate::parties::{present, Parties};
use crate::state::{ivr_digits, Direction};
use crate::{time, Ctx};

/// Parses one ARI event object.
pub(crate) fn parse(event: &Map<String, Value>, ctx: &Ctx) -> Parsed {
    let kind = text(event.get("type")).unwrap_or_default();
    let phase = match kind {
        "StasisStart" => Some(Phase::NewCall),
        "ChannelEnteredBridge" if !holding_bridge(event) => Some(Phase::Answer),
        "ChannelDestroyed" => None,
        other => {
            return Parsed::Skipped(format!(
                "ARI event {other:?} carries nothing for the call record"
            ))
        }
    };
    let channel = event.get("channel").and_then(Value::as_object);
    let field = |path: &[&str]| channel.and_then(|c| lookup(c, path));
    let Some(call_id) = field(&["protocol_id"]).or_else(|| field(&["id"])) else {
        return Parsed::Unusable {
            reason: format!("ARI {kind} without channel.protocol_id or channel.id"),
            raw: None,
        };
    };
    let mut state = ctx.state(call_id);
    state.direction = Some(Direction::Inbound);
    let exten = field(&["dialplan", "exten"]);
    Parties {
        from: field(&["caller", "number"]),
        diversion: field(&["caller_rdnis"]),
        to: exten,
        request_uri: exten,
        ..Parties::default()
    }
    .fill(&mut state, ctx.source.trusted_pai, ctx.lines);
    state.ivr = ivr_digits(field(&["channelvars", ctx.source.ivr_name()]));
    let at = text(event.get("timestamp")).and_then(time::zoned);
    state.started_at = field(&["creationtime"]).and_then(time::zoned);
    match phase {
        Some(Phase::NewCall) => {
            state.started_at = state.started_at.or(at);
            Parsed::Update {
                state,
                phase: Phase::NewCall,
                at,
            }
        }
        Some(Phase::Answer) => {
            state.answered_at = at;
            Parsed::Update {
                state,
                phase: Phase::Answer,
                at,
            }
        }
        None => destroyed(state, event, field(&["state"]), at),
    }
}

/// The finished call of a `ChannelDestroyed`.
fn destroyed(
    mut state: crate::CallState,
    event: &Map<String, Value>,
    channel_state: Option<&str>,
    at: Option<DateTime<Utc>>,
) -> Parsed {
    state.ended_at = at;
    let cause = event.get("cause").and_then(Value::as_i64);
    state.hangup_cause = text(event.get("cause_txt"))
        .map(str::to_string)
        .or_else(|| cause.map(|c| c.to_string()));
    // A channel that was Up when destroyed had been answered; the answer time then comes
    // from an earlier ChannelEnteredBridge, if the relay forwarded one.
    state.outcome = Some(if channel_state == Some("Up") {
        Disposition::Answered
    } else {
        match cause {
            Some(0 | 16 | 31) | None => Disposition::Abandoned,
            Some(17) => Disposition::Busy,
            Some(18 | 19) => Disposition::NoAnswer,
            Some(_) => Disposition::Failed,
        }
    });
    Parsed::Final(state)
}

/// True for a bridge that only parks the caller (queue music), which is no answer.
fn holding_bridge(event: &Map<String, Value>) -> bool {
    event
        .get("bridge")
        .and_then(|b| b.get("bridge_type"))
        .and_then(Value::as_str)
        .is_some_and(|t| t.eq_ignore_ascii_case("holding"))
}

/// A present string at `path` below `object`.
fn lookup<'a>(object: &'a Map<String, Value>, path: &[&str]) -> Option<&'a str> {
    let (last, parents) = path.split_last()?;
    let mut current = object;
    for key in parents {
        current = current.get(*key)?.as_object()?;
    }
    text(current.get(*last))
}

/// A present string value.
fn text(value: Option<&Value>) -> Option<&str> {
    present(value.and_then(Value::as_str))
}
