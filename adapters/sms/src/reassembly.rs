//! Long (concatenated) SMS: parts in, one request out, pure.
//!
//! The gateway keeps [`Part`]s durable (they serialize), groups them by [`PartKey`], calls
//! [`assemble`] once all `total` have arrived, and [`assemble_incomplete`] when its timeout
//! (10 minutes) expires first. Bytes are joined in `seq` order and decoded only then: a UCS-2
//! surrogate pair, a GBK or UTF-8 character or a GSM escape may straddle two parts.

use chrono::{DateTime, Utc};
use intake_adapter::AdapterError;
use intake_schema::{Channel, Citizen, Content, DeadLetter, IntakeRequest, RawPayload, Source};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::decode::{decode, decode_cut, Coding};

/// Put into the text of an incomplete message where parts are missing (one marker per gap), in
/// Chinese and Korean. The record schema has no "incomplete" flag; agents see the gap in the
/// text itself, and `content.title` stays empty.
pub const INCOMPLETE_MARKER: &str = "[部分内容缺失 / 일부 내용 누락]";

/// What the parts of one long message share: the provider, the sender, the number it was sent
/// to and the sender's reference number.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PartKey {
    /// `sms:{provider}`.
    pub system: String,
    /// The sender, E.164 where it is a number.
    pub sender: String,
    /// The destination's digits (empty when the provider did not say).
    pub receiver: String,
    /// The concatenation reference, as decimal text.
    pub reference: String,
}

impl PartKey {
    /// One string for the gateway's map or store key: `system|sender|receiver|reference`.
    pub fn as_string(&self) -> String {
        format!(
            "{}|{}|{}|{}",
            self.system, self.sender, self.receiver, self.reference
        )
    }
}

/// One part of a long message, as received. Serializable so the gateway can persist it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Part {
    /// Which long message it belongs to.
    pub key: PartKey,
    /// How many parts the message has.
    pub total: u8,
    /// This part's position, 1-based.
    pub seq: u8,
    /// How `bytes` are encoded.
    pub coding: Coding,
    /// This part's message bytes, undecoded (base64 in JSON).
    #[serde(with = "base64_bytes")]
    pub bytes: Vec<u8>,
    /// The provider's id of this part (or our derived one).
    pub message_id: String,
    /// The provider's time of this part.
    pub occurred_at: Option<DateTime<Utc>>,
    /// When the gateway received this part.
    pub received_at: DateTime<Utc>,
    /// The hotline reached, when known.
    pub line: Option<String>,
    /// The sender as a citizen contact.
    pub citizen: Citizen,
    /// This part's request as received, for audit.
    pub raw: RawPayload,
    /// The trace this part was received in.
    pub trace_id: String,
}

mod base64_bytes {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(serde::de::Error::custom)
    }
}

/// The parts after validation: one per `seq`, in order, with the coding they share.
struct Checked<'a> {
    by_seq: BTreeMap<u8, &'a Part>,
    coding: Coding,
    total: u8,
}

fn check(parts: &[Part]) -> Result<Checked<'_>, AdapterError> {
    let first = parts
        .first()
        .ok_or_else(|| AdapterError::Malformed("no parts to assemble".into()))?;
    let mut by_seq: BTreeMap<u8, &Part> = BTreeMap::new();
    for part in parts {
        if part.key != first.key || part.total != first.total {
            return Err(AdapterError::Malformed(
                "parts belong to different messages".into(),
            ));
        }
        if part.seq == 0 || part.seq > part.total {
            return Err(AdapterError::Malformed(format!(
                "part {} of {} is out of range",
                part.seq, part.total
            )));
        }
        // A re-delivered part: keep the same one whatever the arrival order.
        let keep = by_seq.get(&part.seq).map_or(part, |kept| {
            if (&part.bytes, &part.message_id) < (&kept.bytes, &kept.message_id) {
                part
            } else {
                kept
            }
        });
        by_seq.insert(part.seq, keep);
    }
    let coding = shared_coding(by_seq.values().copied())?;
    Ok(Checked {
        by_seq,
        coding,
        total: first.total,
    })
}

/// The coding all parts share. Jasmin's "SMSC default" coding is judged per part (GSM 7-bit
/// or Latin-1), so those two may mix: then any byte above 0x7F means Latin-1.
fn shared_coding<'a>(
    parts: impl Iterator<Item = &'a Part> + Clone,
) -> Result<Coding, AdapterError> {
    let mut codings: Vec<Coding> = parts.clone().map(|p| p.coding).collect();
    codings.dedup();
    codings.sort_by_key(|c| c.as_str());
    codings.dedup();
    match codings.as_slice() {
        [one] => Ok(*one),
        [Coding::Gsm7, Coding::Latin1] => {
            let high = parts.flat_map(|p| p.bytes.iter()).any(|b| *b > 0x7F);
            Ok(if high { Coding::Latin1 } else { Coding::Gsm7 })
        }
        _ => Err(AdapterError::Malformed(
            "parts of one message disagree on their coding".into(),
        )),
    }
}

/// Joins all `total` parts (any order, re-deliveries allowed) into one request. Missing parts
/// are [`AdapterError::Malformed`]; bytes that do not decode once joined are
/// [`AdapterError::Encoding`] (the gateway dead-letters them with [`parts_dead_letter`]).
pub fn assemble(parts: &[Part]) -> Result<IntakeRequest, AdapterError> {
    let checked = check(parts)?;
    let missing: Vec<String> = (1..=checked.total)
        .filter(|s| !checked.by_seq.contains_key(s))
        .map(|s| s.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(AdapterError::Malformed(format!(
            "parts {} of {} are missing",
            missing.join(", "),
            checked.total
        )));
    }
    let joined: Vec<u8> = checked
        .by_seq
        .values()
        .flat_map(|p| p.bytes.iter().copied())
        .collect();
    let text = decode(&joined, checked.coding)?;
    build(&checked, text)
}

/// Publishes what arrived of a message whose parts did not all come in time: each gap becomes
/// one [`INCOMPLETE_MARKER`], and a character split by a gap is dropped rather than garbled.
/// With every part present this is [`assemble`].
pub fn assemble_incomplete(parts: &[Part]) -> Result<IntakeRequest, AdapterError> {
    let checked = check(parts)?;
    if checked.by_seq.len() == usize::from(checked.total) {
        return assemble(parts);
    }
    let mut text = String::new();
    let mut run: Vec<u8> = Vec::new();
    let mut run_cut_start = false;
    for seq in 1..=checked.total {
        match checked.by_seq.get(&seq) {
            Some(part) => {
                if run.is_empty() {
                    run_cut_start = seq > 1;
                }
                run.extend_from_slice(&part.bytes);
            }
            None => {
                if !run.is_empty() {
                    text.push_str(&decode_cut(&run, checked.coding, run_cut_start, true)?);
                    run.clear();
                }
                if !text.ends_with(INCOMPLETE_MARKER) {
                    text.push_str(INCOMPLETE_MARKER);
                }
            }
        }
    }
    if !run.is_empty() {
        text.push_str(&decode_cut(&run, checked.coding, run_cut_start, false)?);
    }
    build(&checked, text)
}

fn build(checked: &Checked, text: String) -> Result<IntakeRequest, AdapterError> {
    let parts: Vec<&Part> = checked.by_seq.values().copied().collect();
    let first = *parts
        .first()
        .ok_or_else(|| AdapterError::Malformed("no parts to assemble".into()))?;
    let key = &first.key;
    let source = Source {
        system: key.system.clone(),
        // The same long message always gets the same id, however its parts arrived.
        message_id: format!(
            "{}/{}/{}/{}",
            key.sender, key.receiver, key.reference, first.message_id
        ),
        line: parts.iter().find_map(|p| p.line.clone()),
        occurred_at: parts.iter().filter_map(|p| p.occurred_at).min(),
    };
    let received_at = parts
        .iter()
        .map(|p| p.received_at)
        .max()
        .unwrap_or(first.received_at);
    let mut request = IntakeRequest::new(
        Channel::Sms,
        source,
        received_at,
        combined_raw(&parts),
        first.trace_id.clone(),
    );
    request.citizen = first.citizen.clone();
    request.content = Content::text(text);
    Ok(request)
}

/// The audit copy of a long message: `{"parts":[{"seq","message_id","raw"}...]}` in seq order.
fn combined_raw(parts: &[&Part]) -> RawPayload {
    let list: Vec<serde_json::Value> = parts
        .iter()
        .map(|p| serde_json::json!({"seq": p.seq, "message_id": p.message_id, "raw": p.raw}))
        .collect();
    let body = serde_json::json!({ "parts": list }).to_string();
    RawPayload::capture_text(Some("application/json"), body)
}

/// A dead letter holding every part of a message that cannot be assembled (bytes that do not
/// decode), so the citizen's words are kept; `None` when `parts` is empty.
pub fn parts_dead_letter(parts: &[Part], reason: &str) -> Option<DeadLetter> {
    let mut sorted: Vec<&Part> = parts.iter().collect();
    sorted.sort_by(|a, b| (a.seq, &a.bytes).cmp(&(b.seq, &b.bytes)));
    let first = *sorted.first()?;
    let received_at = sorted.iter().map(|p| p.received_at).max()?;
    Some(DeadLetter::new(
        Channel::Sms,
        first.key.system.clone(),
        reason,
        received_at,
        combined_raw(&sorted),
        first.trace_id.clone(),
    ))
}
