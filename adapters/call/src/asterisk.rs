//! Asterisk: CDRs (JSON or form) and ARI events (JSON).
//!
//! A CDR carries the standard fields (`clid, src, dst, dcontext, channel, dstchannel,
//! lastapp, start, answer, end, duration, billsec, disposition, uniqueid, linkedid,
//! userfield`); `start`/`answer`/`end` are local wall-clock times, read at the source's
//! `utc_offset_minutes`. A CDR names no SIP Call-ID, so the call id is an optional
//! `sip_call_id` field (from `${CHANNEL(pjsip,call-id)}`), else `linkedid` (shared by every
//! CDR of one call), else `uniqueid`. Optional fields a dialplan may add: `pai`,
//! `diversion`, `history_info`, `dialstatus`, `hangupcause`, `queue`, `agent`,
//! `recordingfile`, `direction`.
//!
//! A JSON object with a `type` member is an ARI event (module `ari`).

use intake_adapter::AdapterError;
use intake_schema::Disposition;

use crate::body::Payload;
use crate::fields::Fields;
use crate::item::Parsed;
use crate::parties::Parties;
use crate::state::{ivr_digits, Direction};
use crate::{ari, json_messages, time, Ctx};

/// Parses a post of an Asterisk source into its messages.
pub(crate) fn parse(payload: Payload, ctx: &Ctx) -> Result<Vec<Parsed>, AdapterError> {
    match payload {
        Payload::Fields(fields) => Ok(vec![cdr(&fields, ctx)]),
        Payload::Json(text) => json_messages(&text, |object| {
            if object.contains_key("type") {
                ari::parse(object, ctx)
            } else {
                cdr(&Fields::from_json(object), ctx)
            }
        }),
    }
}

/// One CDR, which always describes a finished call.
fn cdr(fields: &Fields, ctx: &Ctx) -> Parsed {
    let Some(call_id) = fields.first_of(&["sip_call_id", "linkedid", "uniqueid"]) else {
        return Parsed::Unusable {
            reason: "Asterisk CDR without sip_call_id, linkedid or uniqueid".into(),
            raw: None,
        };
    };
    let mut state = ctx.state(call_id);
    state.direction = Direction::parse(fields.get("direction"));
    Parties {
        pai: fields.get("pai"),
        from: fields.get("src").or_else(|| fields.get("clid")),
        history_info: fields.get("history_info"),
        diversion: fields.get("diversion"),
        to: fields.get("dst"),
        request_uri: fields.get("dst"),
        ..Parties::default()
    }
    .fill(&mut state, ctx.source.trusted_pai, ctx.lines);

    let offset = ctx.source.utc_offset_minutes;
    let local = |name: &str| fields.get(name).and_then(|t| time::local(t, offset));
    let disposition = fields.get("disposition").unwrap_or("").to_ascii_uppercase();
    let answered = disposition == "ANSWERED";
    state.started_at = local("start");
    state.ended_at = local("end");
    state.answered_at = local("answer").filter(|_| answered);
    let seconds = |name: &str| fields.get(name).and_then(|v| v.parse::<u64>().ok());
    state.talk_seconds = seconds("billsec");
    state.ring_seconds = match (seconds("duration"), state.talk_seconds) {
        (Some(total), Some(talk)) => total.checked_sub(talk),
        (total, None) => total.filter(|_| !answered),
        _ => None,
    };
    state.outcome = Some(outcome(&disposition, fields.get("dialstatus")));
    state.hangup_cause = fields
        .get("hangupcause")
        .or(Some(disposition.as_str()).filter(|d| !d.is_empty()))
        .map(str::to_string);
    state.queue = fields.get("queue").map(str::to_string);
    state.ivr = ivr_digits(fields.first_of(&[ctx.source.ivr_name(), "ivr"]));
    state.agent = fields.get("agent").map(str::to_string).or_else(|| {
        fields
            .get("dstchannel")
            .filter(|_| answered)
            .and_then(channel_peer)
    });
    state.recording = fields
        .first_of(&["recordingfile", "recording"])
        .map(str::to_string);
    Parsed::Final(state)
}

/// CDR `disposition`, refined by the dial status when the dialplan sends it. Asterisk writes
/// `NO ANSWER` both when the citizen hung up while it rang and when the dial timed out;
/// without `dialstatus` the first is assumed, as it is the usual case on an inbound hotline.
fn outcome(disposition: &str, dialstatus: Option<&str>) -> Disposition {
    match disposition {
        "ANSWERED" => Disposition::Answered,
        "BUSY" => Disposition::Busy,
        "FAILED" | "CONGESTION" => Disposition::Failed,
        "NO ANSWER" => match dialstatus.map(str::to_ascii_uppercase).as_deref() {
            Some("NOANSWER") => Disposition::NoAnswer,
            Some("BUSY") => Disposition::Busy,
            Some("CONGESTION" | "CHANUNAVAIL") => Disposition::Failed,
            _ => Disposition::Abandoned,
        },
        _ => Disposition::Failed,
    }
}

/// The peer of a channel name: `PJSIP/8001-0000001f` → `8001`,
/// `Local/8001@from-queue-00000012;1` → `8001`.
fn channel_peer(channel: &str) -> Option<String> {
    let (_, rest) = channel.split_once('/')?;
    let rest = rest.split(['@', ';']).next()?;
    let peer = match rest.rsplit_once('-') {
        Some((peer, suffix))
            if !suffix.is_empty() && suffix.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            peer
        }
        _ => rest,
    };
    (!peer.is_empty()).then(|| peer.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_and_outcomes() {
        assert_eq!(channel_peer("PJSIP/8001-0000001f").as_deref(), Some("8001"));
        assert_eq!(
            channel_peer("SIP/agent-li-00000a3c").as_deref(),
            Some("agent-li")
        );
        assert_eq!(
            channel_peer("Local/8001@from-queue-00000012;1").as_deref(),
            Some("8001")
        );
        assert_eq!(channel_peer("nothing"), None);
        assert_eq!(outcome("NO ANSWER", None), Disposition::Abandoned);
        assert_eq!(
            outcome("NO ANSWER", Some("noanswer")),
            Disposition::NoAnswer
        );
        assert_eq!(outcome("CONGESTION", None), Disposition::Failed);
        assert_eq!(outcome("BUSY", None), Disposition::Busy);
        assert_eq!(Direction::parse(Some("OUT")), Some(Direction::Outbound));
    }
}
