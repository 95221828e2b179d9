//! FreeSWITCH `mod_json_cdr`: one JSON CDR per call leg, posted at hangup.
//!
//! The CDR (built by `switch_ivr_generate_json_cdr`) has `channel_data`, `variables` (every
//! channel variable as a string, URL-encoded when `encode-values` is on, which is the
//! default), `app_log` and one `callflow` object per caller profile, written as *repeated*
//! `callflow` keys at the top level, newest profile first. The top level is therefore read
//! with a visitor that keeps every `callflow` instead of a map that would keep one.
//!
//! A B-leg (the leg FreeSWITCH originated towards the agent) is recognised the way
//! `mod_json_cdr` itself decides `log-b-leg`: its current caller profile has an `originator`
//! profile; FreeSWITCH also sets `originating_leg_uuid` on originated legs only.

use chrono::{DateTime, Utc};
use intake_adapter::AdapterError;
use intake_schema::Disposition;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::borrow::Cow;

use crate::item::Parsed;
use crate::parties::{present, Parties};
use crate::state::{ivr_digits, Direction};
use crate::{time, Ctx};

/// The recording variable tried first when `recording_variable` is unset.
const RECORDING_VARIABLE: &str = "recording_file";

/// The parts of a JSON CDR this adapter reads.
#[derive(Debug, Default)]
struct Cdr {
    variables: Map<String, Value>,
    callflows: Vec<Value>,
    channel_data: Option<Value>,
}

impl<'de> Deserialize<'de> for Cdr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(CdrVisitor)
    }
}

struct CdrVisitor;

impl<'de> Visitor<'de> for CdrVisitor {
    type Value = Cdr;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a FreeSWITCH JSON CDR object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Cdr, A::Error> {
        let mut cdr = Cdr::default();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "variables" => {
                    if let Value::Object(vars) = map.next_value::<Value>()? {
                        cdr.variables.extend(vars);
                    }
                }
                // Repeated keys in older releases, an array in newer ones: keep them all.
                "callflow" => match map.next_value::<Value>()? {
                    Value::Array(flows) => cdr.callflows.extend(flows),
                    flow => cdr.callflows.push(flow),
                },
                "channel_data" => cdr.channel_data = Some(map.next_value()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(cdr)
    }
}

impl Cdr {
    /// Channel variable `name` (case-insensitive, since header variables keep the sender's
    /// case), URL-decoded, trimmed, `None` when absent or empty.
    fn var(&self, name: &str) -> Option<Cow<'_, str>> {
        let value = self.variables.get(name).or_else(|| {
            self.variables
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        })?;
        let text = match value {
            Value::String(s) => Cow::Borrowed(s.as_str()),
            Value::Number(n) => Cow::Owned(n.to_string()),
            _ => return None,
        };
        let decoded = url_decoded(text);
        let trimmed = decoded.trim();
        if trimmed.is_empty() {
            None
        } else if trimmed.len() == decoded.len() {
            Some(decoded)
        } else {
            Some(Cow::Owned(trimmed.to_string()))
        }
    }

    /// The first present variable of `names`.
    fn first_var(&self, names: &[&str]) -> Option<Cow<'_, str>> {
        names.iter().find_map(|n| self.var(n))
    }

    /// A `*_epoch` variable as a time; `0` means the moment never came.
    fn epoch(&self, name: &str) -> Option<DateTime<Utc>> {
        self.var(name).and_then(|v| time::unix(&v))
    }

    /// `caller_profile` of callflow `index`.
    fn profile(&self, index: usize) -> Option<&Map<String, Value>> {
        self.callflows
            .get(index)?
            .get("caller_profile")?
            .as_object()
    }

    /// True for a B-leg: see the module documentation.
    fn is_b_leg(&self) -> bool {
        let originator = self
            .profile(0)
            .and_then(|p| p.get("originator"))
            .is_some_and(|o| o.as_object().is_some_and(|o| !o.is_empty()));
        originator || self.var("originating_leg_uuid").is_some()
    }
}

/// `encode-values` (on by default) percent-encodes every variable value, `+` included, so
/// percent-decoding is exact; a value that does not decode to UTF-8 is kept as sent.
fn url_decoded(text: Cow<'_, str>) -> Cow<'_, str> {
    if !text.contains('%') {
        return text;
    }
    match percent_encoding::percent_decode_str(&text).decode_utf8() {
        Ok(decoded) => Cow::Owned(decoded.into_owned()),
        Err(_) => text,
    }
}

/// Parses one JSON CDR.
pub(crate) fn parse(text: &str, ctx: &Ctx) -> Result<Parsed, AdapterError> {
    let cdr: Cdr = serde_json::from_str(text)
        .map_err(|e| AdapterError::Malformed(format!("invalid FreeSWITCH JSON CDR: {e}")))?;
    if ctx.source.skip_b_legs && cdr.is_b_leg() {
        return Ok(Parsed::Skipped(
            "FreeSWITCH B-leg CDR: the citizen's call is recorded from its A-leg".into(),
        ));
    }
    let Some(call_id) = cdr.var("sip_call_id") else {
        return Ok(Parsed::Unusable {
            reason: "FreeSWITCH CDR without variables.sip_call_id".into(),
            raw: None,
        });
    };
    let mut state = ctx.state(&call_id);
    state.direction = direction(&cdr);

    // The oldest profile holds the numbers as they arrived, before any dialplan rewrite.
    let original = cdr.profile(cdr.callflows.len().saturating_sub(1));
    let profile_field = |name: &str| {
        original
            .and_then(|p| p.get(name))
            .and_then(Value::as_str)
            .and_then(|s| present(Some(s)))
    };
    let pai = cdr.first_var(&[
        "sip_P-Asserted-Identity",
        "sip_i_p_asserted_identity",
        "sip_h_P-Asserted-Identity",
    ]);
    let from = cdr.first_var(&["sip_from_user", "caller_id_number"]);
    let history_info = cdr.first_var(&[
        "sip_history_info",
        "sip_i_history_info",
        "sip_h_History-Info",
    ]);
    let diversion = cdr.first_var(&[
        "sip_i_diversion",
        "sip_h_Diversion",
        "sip_diversion",
        "sip_rdnis",
    ]);
    let called_party = cdr.first_var(&[
        "sip_i_p_called_party_id",
        "sip_h_P-Called-Party-ID",
        "sip_p_called_party_id",
    ]);
    let to = cdr.var("sip_to_user");
    let request_uri = cdr.first_var(&["sip_req_user", "destination_number"]);
    Parties {
        pai: pai.as_deref(),
        from: from
            .as_deref()
            .or_else(|| profile_field("caller_id_number")),
        history_info: history_info.as_deref(),
        diversion: diversion.as_deref(),
        called_party: called_party.as_deref(),
        to: to.as_deref(),
        request_uri: request_uri
            .as_deref()
            .or_else(|| profile_field("destination_number")),
    }
    .fill(&mut state, ctx.source.trusted_pai, ctx.lines);

    state.started_at = cdr.epoch("start_epoch");
    state.ended_at = cdr.epoch("end_epoch");
    state.answered_at = agent_answer(&cdr);
    state.talk_seconds = cdr.var("billsec").and_then(|s| s.parse().ok());
    state.hangup_cause = cdr.var("hangup_cause").map(Cow::into_owned);
    state.outcome = Some(outcome(&cdr, state.answered_at.is_some()));
    state.recording = recording(&cdr, ctx.source.recording_variable.as_deref());
    state.queue = cdr.var("cc_queue").map(Cow::into_owned);
    state.ivr = ivr_digits(cdr.var(ctx.source.ivr_name()).as_deref());
    state.agent = cdr.var("cc_agent").map(Cow::into_owned).or_else(|| {
        state
            .answered_at
            .and(cdr.var("bridge_channel"))
            .and_then(|c| channel_user(&c))
    });
    Ok(Parsed::Final(state))
}

/// `call_direction` / `direction` variable, else `channel_data.direction`.
fn direction(cdr: &Cdr) -> Option<Direction> {
    let text = cdr
        .first_var(&["call_direction", "direction"])
        .map(Cow::into_owned)
        .or_else(|| {
            cdr.channel_data
                .as_ref()
                .and_then(|c| c.get("direction"))
                .and_then(Value::as_str)
                .map(str::to_string)
        })?;
    Direction::parse(Some(&text))
}

/// When a person took the call. A hotline's FreeSWITCH answers the citizen itself for the
/// IVR and the queue (`answer_epoch`); the agent is reached when the call is bridged
/// (`bridge_epoch`) or `mod_callcenter` marks the member answered. Only when neither variable
/// exists (an old release, a CDR edited upstream) does `answer_epoch` count.
fn agent_answer(cdr: &Cdr) -> Option<DateTime<Utc>> {
    let markers = ["cc_queue_answered_epoch", "bridge_epoch"];
    if markers.iter().any(|m| cdr.var(m).is_some()) {
        markers.iter().find_map(|m| cdr.epoch(m))
    } else {
        cdr.epoch("answer_epoch")
    }
}

/// How an unanswered leg ended, from `hangup_cause` and who hung up
/// (`sip_hangup_disposition`: `recv_bye`/`recv_cancel` when the citizen's side did).
fn outcome(cdr: &Cdr, answered: bool) -> Disposition {
    if answered {
        return Disposition::Answered;
    }
    let by_caller = cdr
        .var("sip_hangup_disposition")
        .is_some_and(|d| d == "recv_bye" || d == "recv_cancel");
    match cdr.var("hangup_cause").as_deref() {
        Some("ORIGINATOR_CANCEL") => Disposition::Abandoned,
        Some("USER_BUSY") => Disposition::Busy,
        Some("NO_ANSWER" | "NO_USER_RESPONSE" | "ALLOTTED_TIMEOUT") => Disposition::NoAnswer,
        _ if by_caller => Disposition::Abandoned,
        // The PBX ended a call it had answered for the IVR or queue: nobody came.
        Some("NORMAL_CLEARING") => Disposition::NoAnswer,
        _ => Disposition::Failed,
    }
}

/// The recording reference: the configured variable, else the usual ones.
fn recording(cdr: &Cdr, configured: Option<&str>) -> Option<String> {
    if let Some(name) = configured {
        return cdr.var(name).map(Cow::into_owned);
    }
    if let Some(found) = cdr.var(RECORDING_VARIABLE) {
        return Some(found.into_owned());
    }
    // FusionPBX-style: a directory and a file name in two variables.
    match (cdr.var("record_path"), cdr.var("record_name")) {
        (Some(dir), Some(file)) => Some(format!("{}/{}", dir.trim_end_matches('/'), file)),
        (Some(path), None) => Some(path.into_owned()),
        _ => None,
    }
}

/// The user of a channel name such as `sofia/internal/8001@10.0.0.5:5060`.
fn channel_user(channel: &str) -> Option<String> {
    let last = channel.rsplit('/').next()?;
    let user = last.split('@').next()?.trim();
    (!user.is_empty()).then(|| user.to_string())
}
