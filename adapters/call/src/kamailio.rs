//! Kamailio: JSON posted by `http_connect` from the dialog module's event routes
//! (`KAMAILIO.md` has the configuration).
//!
//! Keys: `event` (`start` when the 200 OK confirmed the dialog, `end` at BYE or timeout,
//! `failed` on a final negative reply), `call_id`, `ruri_user`, `to_user`, `from_user`,
//! `pai`, `diversion`, `diversion_reason`, `history_info`, `p_called_party_id`, `timestamp`
//! (unix seconds) and `code` (the final SIP status of `failed`). Headers the INVITE lacked
//! are empty strings. Optional: `invite_timestamp` and `answer_timestamp` (kept in dialog
//! variables, so an `end` alone still has the call's times) and `direction`.
//! A form body with the same names is read the same way.

use intake_adapter::AdapterError;
use intake_schema::Disposition;

use crate::body::Payload;
use crate::fields::Fields;
use crate::item::{Parsed, Phase};
use crate::parties::Parties;
use crate::state::{ivr_digits, Direction};
use crate::{json_messages, time, Ctx};

/// Parses a post of a Kamailio source into its messages.
pub(crate) fn parse(payload: Payload, ctx: &Ctx) -> Result<Vec<Parsed>, AdapterError> {
    match payload {
        Payload::Fields(fields) => Ok(vec![message(&fields, ctx)]),
        Payload::Json(text) => {
            json_messages(&text, |object| message(&Fields::from_json(object), ctx))
        }
    }
}

/// One dialog event.
fn message(fields: &Fields, ctx: &Ctx) -> Parsed {
    let event = fields.get("event").unwrap_or_default().to_ascii_lowercase();
    if !matches!(event.as_str(), "start" | "end" | "failed") {
        return Parsed::Unusable {
            reason: format!("Kamailio event {event:?} is not start, end or failed"),
            raw: None,
        };
    }
    let Some(call_id) = fields.get("call_id") else {
        return Parsed::Unusable {
            reason: format!("Kamailio {event} event without call_id"),
            raw: None,
        };
    };
    let mut state = ctx.state(call_id);
    state.direction = Direction::parse(fields.get("direction")).or(Some(Direction::Inbound));
    Parties {
        pai: fields.get("pai"),
        from: fields.get("from_user"),
        history_info: fields.get("history_info"),
        diversion: fields.get("diversion"),
        called_party: fields.get("p_called_party_id"),
        to: fields.get("to_user"),
        request_uri: fields.get("ruri_user"),
    }
    .fill(&mut state, ctx.source.trusted_pai, ctx.lines);
    state.ivr = ivr_digits(fields.get("ivr"));
    let at = fields.get("timestamp").and_then(time::any);
    state.started_at = fields.get("invite_timestamp").and_then(time::any);
    state.answered_at = fields.get("answer_timestamp").and_then(time::any);
    match event.as_str() {
        "start" => {
            // dialog:start runs on the 200 OK: the call was answered at `timestamp`.
            state.answered_at = state.answered_at.or(at);
            Parsed::Update {
                state,
                phase: Phase::Answer,
                at,
            }
        }
        "end" => {
            // dialog:end only runs for confirmed dialogs: the call had been answered.
            state.ended_at = at;
            state.outcome = Some(Disposition::Answered);
            Parsed::Final(state)
        }
        _ => {
            let code = fields.get("code");
            state.ended_at = at;
            state.outcome = Some(failure(code));
            state.hangup_cause = Some(code.unwrap_or("failed").to_string());
            Parsed::Final(state)
        }
    }
}

/// The disposition of a final negative reply: 487 is the citizen's CANCEL; busy, timeouts
/// and unavailability come from the callee side; everything else is a failure.
fn failure(code: Option<&str>) -> Disposition {
    match code.and_then(|c| c.parse::<u16>().ok()) {
        Some(487) => Disposition::Abandoned,
        Some(486 | 600) => Disposition::Busy,
        Some(408 | 480) => Disposition::NoAnswer,
        _ => Disposition::Failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_codes() {
        assert_eq!(failure(Some("487")), Disposition::Abandoned);
        assert_eq!(failure(Some("486")), Disposition::Busy);
        assert_eq!(failure(Some("480")), Disposition::NoAnswer);
        assert_eq!(failure(Some("503")), Disposition::Failed);
        assert_eq!(failure(None), Disposition::Failed);
    }
}
