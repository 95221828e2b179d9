//! From what is known about a call to the one request the platform dispatches.

use chrono::{DateTime, Utc};
use intake_schema::{
    Attachment, AttachmentKind, CallInfo, Channel, Citizen, ContactKind, Content, Disposition,
    IntakeRequest, RawPayload, Source,
};

use crate::state::{CallState, Direction};
use crate::time::seconds_between;

/// The request of a finished call: `source.system`/`source.message_id` are the state's
/// source and call id (so every re-post of the call gets the same request id), the citizen is
/// the caller (the callee of an outbound call), the text is empty and the `call` block is
/// complete. Unknown durations are `null`; an unanswered call has zero talk seconds.
pub fn finish(
    state: &CallState,
    received_at: DateTime<Utc>,
    raw: RawPayload,
    trace_id: &str,
) -> IntakeRequest {
    let disposition = disposition(state);
    let answered = disposition == Disposition::Answered;
    let direction = state.direction.unwrap_or(Direction::Inbound);
    let source = Source {
        system: state.source_system.clone(),
        message_id: state.call_id.clone(),
        line: state.line.clone(),
        occurred_at: state.started_at.or(state.answered_at).or(state.ended_at),
    };
    let mut request = IntakeRequest::new(
        Channel::Phone,
        source,
        received_at,
        raw,
        trace_id.to_string(),
    );
    request.citizen = citizen(state);
    let talk_seconds = talk_seconds(state, answered);
    request.content = Content::text("");
    if let Some(recording) = &state.recording {
        request.content.attachments.push(Attachment {
            kind: AttachmentKind::Recording,
            reference: recording.clone(),
            mime: recording_mime(recording).map(str::to_string),
            duration: talk_seconds.filter(|s| *s > 0).map(|s| s as f64),
            title: None,
        });
    }
    request.call = Some(CallInfo {
        call_id: state.call_id.clone(),
        direction: direction.as_str().to_string(),
        caller: state.caller.clone(),
        callee: state.callee.clone(),
        dialed_line: state.line.clone().or_else(|| state.dialed_number.clone()),
        started_at: state.started_at,
        answered_at: state.answered_at,
        ended_at: state.ended_at,
        ring_seconds: ring_seconds(state, answered),
        talk_seconds,
        disposition,
        hangup_cause: state.hangup_cause.clone(),
        recording: state.recording.clone(),
        queue: state.queue.clone(),
        agent: state.agent.clone(),
        // Every unanswered citizen call goes on the callback list (回拨): abandoned, busy,
        // failed and no-answer alike, since in each the citizen was not served. An
        // unanswered outbound call is itself a callback attempt, tracked by its own system.
        callback_candidate: !answered && direction == Direction::Inbound,
        ivr: state.ivr.clone(),
    });
    request
}

/// The citizen of a call: the calling number of an inbound call, the called number of an
/// outbound one; anonymous when that number is withheld or unknown.
pub(crate) fn citizen(state: &CallState) -> Citizen {
    let number = match state.direction {
        Some(Direction::Outbound) => &state.callee,
        _ => &state.caller,
    };
    match number {
        Some(n) => Citizen::reachable(ContactKind::Phone, n.clone()),
        None => Citizen::anonymous(),
    }
}

/// Answered when a person answered (an answer time, or the source says so); otherwise what
/// the source said, and abandoned when it said nothing (the citizen is gone and nobody
/// answered: the case that must reach the callback list).
fn disposition(state: &CallState) -> Disposition {
    if state.answered_at.is_some() {
        return Disposition::Answered;
    }
    state.outcome.unwrap_or(Disposition::Abandoned)
}

/// Start to answer, or start to end when unanswered; the source's own count otherwise.
fn ring_seconds(state: &CallState, answered: bool) -> Option<u64> {
    let until = if answered {
        state.answered_at
    } else {
        state.ended_at
    };
    match (state.started_at, until) {
        (Some(start), Some(until)) => seconds_between(start, until),
        _ => state.ring_seconds,
    }
}

/// Answer to end; zero when unanswered; the source's own count otherwise.
fn talk_seconds(state: &CallState, answered: bool) -> Option<u64> {
    if !answered {
        return Some(0);
    }
    match (state.answered_at, state.ended_at) {
        (Some(answer), Some(end)) => seconds_between(answer, end),
        _ => state.talk_seconds,
    }
}

/// The MIME type of a recording, from its extension.
fn recording_mime(reference: &str) -> Option<&'static str> {
    let path = reference.split(['?', '#']).next().unwrap_or(reference);
    let ext = path.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "wav" => "audio/wav",
        "mp3" => "audio/mpeg",
        "ogg" | "opus" => "audio/ogg",
        "gsm" => "audio/gsm",
        "m4a" => "audio/mp4",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use intake_schema::Language;

    fn t(secs: i64) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp(1_795_000_000 + secs, 0)
    }

    fn raw() -> RawPayload {
        RawPayload::capture(Some("application/json"), b"{}")
    }

    #[test]
    fn answered_call() {
        let mut s = CallState::new("abc@pbx", "call:pbx1");
        s.caller = Some("+8613812345678".into());
        s.line = Some("12328".into());
        (s.started_at, s.answered_at, s.ended_at) = (t(0), t(12), t(100));
        s.recording = Some("https://rec.example.cn/a.WAV?sig=1".into());
        let r = finish(
            &s,
            t(101).unwrap_or_default(),
            raw(),
            "0af7651916cd43dd8448eb211c80319c",
        );
        let call = r
            .call
            .clone()
            .unwrap_or_else(|| panic!("phone records have a call block"));
        assert_eq!(call.disposition, Disposition::Answered);
        assert_eq!((call.ring_seconds, call.talk_seconds), (Some(12), Some(88)));
        assert!(!call.callback_candidate);
        assert_eq!(r.source.line.as_deref(), Some("12328"));
        assert_eq!(r.source.message_id, "abc@pbx");
        assert_eq!(r.content.language, Language::Und);
        assert_eq!(r.content.attachments[0].mime.as_deref(), Some("audio/wav"));
        assert_eq!(r.citizen.contact.as_deref(), Some("+8613812345678"));
    }

    #[test]
    fn unanswered_and_outbound() {
        let mut s = CallState::new("x", "call:pbx1");
        (s.started_at, s.ended_at) = (t(0), t(30));
        let r = finish(&s, t(31).unwrap_or_default(), raw(), "0");
        let call = r.call.unwrap_or_else(|| panic!("call block"));
        assert_eq!(call.disposition, Disposition::Abandoned);
        assert_eq!((call.ring_seconds, call.talk_seconds), (Some(30), Some(0)));
        assert!(call.callback_candidate);
        assert_eq!(r.citizen, Citizen::anonymous());
        s.direction = Some(Direction::Outbound);
        s.callee = Some("+8613812345678".into());
        s.outcome = Some(Disposition::Busy);
        let r = finish(&s, t(31).unwrap_or_default(), raw(), "0");
        assert_eq!(r.citizen.contact.as_deref(), Some("+8613812345678"));
        assert!(!r.call.is_some_and(|c| c.callback_candidate));
    }

    #[test]
    fn answered_without_times_uses_source_counts() {
        let mut s = CallState::new("y", "call:pbx1");
        s.outcome = Some(Disposition::Answered);
        s.talk_seconds = Some(42);
        let call = finish(&s, t(0).unwrap_or_default(), raw(), "0").call;
        assert_eq!(
            call.map(|c| (c.ring_seconds, c.talk_seconds)),
            Some((None, Some(42)))
        );
    }
}
