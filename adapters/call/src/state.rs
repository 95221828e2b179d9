//! What is known about one call so far, and how two such views combine.
//!
//! Call data arrives in pieces: a CTI `newCall`, then `answer`, then `hangup`; or a Kamailio
//! `start` and `end`; or FreeSWITCH CDRs re-posted after a timeout. Pieces may come twice or
//! out of order, and the gateway may run several instances. So [`merge`] is a join: it is
//! commutative, associative and idempotent, and any arrival order of the same pieces gives
//! the same state and therefore the same record.

use chrono::{DateTime, Utc};
use intake_schema::Disposition;
use serde::{Deserialize, Serialize};

/// Which way a call went, seen from the hotline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// A citizen called the hotline.
    Inbound,
    /// The hotline called out (a callback, 回拨).
    Outbound,
}

impl Direction {
    /// `inbound` or `outbound`, as in the record's `call.direction`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }

    /// `in`/`inbound` or `out`/`outbound` in any case; anything else leaves it open.
    pub(crate) fn parse(text: Option<&str>) -> Option<Direction> {
        match text?.trim().to_ascii_lowercase().as_str() {
            "in" | "inbound" => Some(Direction::Inbound),
            "out" | "outbound" => Some(Direction::Outbound),
            _ => None,
        }
    }
}

/// Everything known about one call: filled piece by piece, combined with [`merge`], turned
/// into a request by [`crate::finish`]. Every field but the identity is optional; `None`
/// means "this piece did not say".
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallState {
    /// The SIP Call-ID (or the PBX's call id): the request's `source.message_id`.
    pub call_id: String,
    /// `call:{source name}`: the request's `source.system`.
    pub source_system: String,
    /// Which way the call went.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// The calling number, normalized (E.164 where possible); `None` when withheld.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<String>,
    /// The number the call was delivered to (the Request-URI user), normalized.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callee: Option<String>,
    /// The hotline line the dialed number resolved to through `channels.call.lines`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<String>,
    /// The number the citizen originally dialed (before diversions), normalized.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dialed_number: Option<String>,
    /// When the call started (INVITE, channel creation, `newCall`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    /// When a person answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_at: Option<DateTime<Utc>>,
    /// When the call ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    /// Ring seconds as the source counted them, used when the times are missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ring_seconds: Option<u64>,
    /// Talk seconds as the source counted them, used when the times are missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub talk_seconds: Option<u64>,
    /// How the source says the call ended; an answer time overrides it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Disposition>,
    /// The source's hangup cause, verbatim (`ORIGINATOR_CANCEL`, `cancel`, `487`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hangup_cause: Option<String>,
    /// Path or URL of the recording.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording: Option<String>,
    /// The queue the call waited in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// The agent (extension, login or name) who answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// The digits the caller chose in the IVR (see [`ivr_digits`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ivr: Option<String>,
}

/// An IVR choice as the PBX reported it, kept only when it is what a keypad can send: 1 to 8
/// of `0-9`, `*` and `#` (anything else is a misconfigured variable, not a choice).
pub fn ivr_digits(raw: Option<&str>) -> Option<String> {
    let v = raw?.trim();
    ((1..=8).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_digit() || b == b'*' || b == b'#'))
    .then(|| v.to_string())
}

impl CallState {
    /// An empty state of call `call_id` from `source_system`.
    pub fn new(call_id: impl Into<String>, source_system: impl Into<String>) -> Self {
        CallState {
            call_id: call_id.into(),
            source_system: source_system.into(),
            ..CallState::default()
        }
    }
}

/// Combines what is known about one call. Times take the earliest start and answer and the
/// latest end; counters take the larger value; text fields keep their value when only one
/// side has it and the larger one when both do, so the result never depends on which piece
/// came first. An answered outcome beats any unanswered one.
///
/// States of different calls are not merged: `update` is returned unchanged.
pub fn merge(prev: Option<CallState>, update: CallState) -> CallState {
    let Some(prev) = prev else {
        return update;
    };
    if prev.call_id != update.call_id || prev.source_system != update.source_system {
        return update;
    }
    CallState {
        call_id: update.call_id,
        source_system: update.source_system,
        direction: join(prev.direction, update.direction, Ord::max),
        caller: join(prev.caller, update.caller, Ord::max),
        callee: join(prev.callee, update.callee, Ord::max),
        line: join(prev.line, update.line, Ord::max),
        dialed_number: join(prev.dialed_number, update.dialed_number, Ord::max),
        started_at: join(prev.started_at, update.started_at, Ord::min),
        answered_at: join(prev.answered_at, update.answered_at, Ord::min),
        ended_at: join(prev.ended_at, update.ended_at, Ord::max),
        ring_seconds: join(prev.ring_seconds, update.ring_seconds, Ord::max),
        talk_seconds: join(prev.talk_seconds, update.talk_seconds, Ord::max),
        outcome: join(prev.outcome, update.outcome, |a, b| {
            if outcome_rank(a) >= outcome_rank(b) {
                a
            } else {
                b
            }
        }),
        hangup_cause: join(prev.hangup_cause, update.hangup_cause, Ord::max),
        recording: join(prev.recording, update.recording, Ord::max),
        queue: join(prev.queue, update.queue, Ord::max),
        agent: join(prev.agent, update.agent, Ord::max),
        ivr: join(prev.ivr, update.ivr, Ord::max),
    }
}

/// `pick` when both sides know the field, whichever knows it otherwise.
fn join<T>(a: Option<T>, b: Option<T>, pick: impl FnOnce(T, T) -> T) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(pick(a, b)),
        (a, b) => a.or(b),
    }
}

/// Precedence of outcomes when two final pieces disagree (several CDR legs of one call):
/// a call answered on any leg was answered; otherwise the outcome that says most about what
/// the citizen experienced wins.
fn outcome_rank(d: Disposition) -> u8 {
    match d {
        Disposition::Answered => 4,
        Disposition::Abandoned => 3,
        Disposition::Busy => 2,
        Disposition::NoAnswer => 1,
        Disposition::Failed => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp(1_795_000_000 + secs, 0)
    }

    #[test]
    fn pieces_combine_in_any_order() {
        let mut a = CallState::new("c1", "call:pbx");
        a.started_at = t(0);
        a.caller = Some("+8613812345678".into());
        let mut b = CallState::new("c1", "call:pbx");
        b.answered_at = t(10);
        b.agent = Some("8001".into());
        let mut c = CallState::new("c1", "call:pbx");
        c.ended_at = t(70);
        c.outcome = Some(Disposition::Abandoned);
        let mut d = c.clone();
        d.outcome = Some(Disposition::Answered);
        let abcd = merge(
            Some(merge(Some(merge(Some(a.clone()), b.clone())), c.clone())),
            d.clone(),
        );
        let dcba = merge(Some(merge(Some(merge(Some(d), c)), b)), a);
        assert_eq!(abcd, dcba);
        assert_eq!(abcd.outcome, Some(Disposition::Answered));
        assert_eq!((abcd.started_at, abcd.ended_at), (t(0), t(70)));
    }

    #[test]
    fn ivr_choices_are_keypad_digits() {
        assert_eq!(ivr_digits(Some(" 2 ")).as_deref(), Some("2"));
        assert_eq!(ivr_digits(Some("1*3#")).as_deref(), Some("1*3#"));
        for bad in [
            None,
            Some(""),
            Some("korean"),
            Some("123456789"),
            Some("2;drop"),
        ] {
            assert_eq!(ivr_digits(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn other_calls_are_not_mixed_in() {
        let a = CallState::new("c1", "call:pbx");
        let mut b = CallState::new("c2", "call:pbx");
        b.queue = Some("q".into());
        assert_eq!(merge(Some(a), b.clone()), b);
        assert_eq!(merge(None, b.clone()), b);
    }
}
