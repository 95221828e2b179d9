//! One line of a segment: `{"topic":…,"key":…,"headers":{…},"record":{…},"crc32c":N}`.
//!
//! The checksum covers every byte of the line before `,"crc32c":`, so a torn or bit-flipped line
//! is recognised without trusting anything in it. JSON escaping guarantees that sequence cannot
//! occur inside a string value, and it is always the last field, so the last occurrence is ours.

use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Write as _;

const CRC_FIELD: &[u8] = b",\"crc32c\":";

/// Kafka headers, by name. The gateway's header names and most of their values are fixed
/// strings, borrowed rather than copied: a record's headers then cost one allocation for its id
/// and one for the map, not two per header (they are built for every request).
pub type Headers = BTreeMap<Cow<'static, str>, Cow<'static, str>>;

/// What a line holds: enough to publish it to Kafka exactly as it would have been.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The Kafka topic it belongs to.
    pub topic: String,
    /// The Kafka key.
    pub key: String,
    /// The Kafka headers.
    pub headers: Headers,
    /// The record, a JSON document.
    pub record: Box<str>,
}

#[derive(Deserialize)]
struct LineIn<'a> {
    topic: String,
    key: String,
    headers: Headers,
    #[serde(borrow)]
    record: &'a RawValue,
    #[allow(dead_code)]
    crc32c: u32,
}

/// Encodes `entry` as one line, newline included. Fails only if `record` is not JSON.
pub fn encode_line(entry: &Entry) -> Result<Vec<u8>, serde_json::Error> {
    let _: &RawValue = serde_json::from_str(&entry.record)?;
    encode_parts(&entry.topic, &entry.key, &entry.headers, &entry.record)
}

/// [`encode_line`] from borrowed parts, with `record` spliced in unchecked: for a payload this
/// process serialized itself (an envelope's), where the journal and the spool would otherwise
/// copy every field into an [`Entry`] and parse each record a second time just to validate it.
/// The bytes are exactly [`encode_line`]'s.
pub fn encode_parts(
    topic: &str,
    key: &str,
    headers: &Headers,
    record: &str,
) -> Result<Vec<u8>, serde_json::Error> {
    let mut line = Vec::with_capacity(record.len() + key.len() + 192);
    line.extend_from_slice(b"{\"topic\":");
    serde_json::to_writer(&mut line, topic)?;
    line.extend_from_slice(b",\"key\":");
    serde_json::to_writer(&mut line, key)?;
    line.extend_from_slice(b",\"headers\":");
    serde_json::to_writer(&mut line, headers)?;
    line.extend_from_slice(b",\"record\":");
    line.extend_from_slice(record.as_bytes());
    let crc = crc32c::crc32c(&line);
    line.extend_from_slice(CRC_FIELD);
    // Writing into a Vec cannot fail.
    let _ = writeln!(line, "{crc}}}");
    Ok(line)
}

/// Decodes one line (with or without its newline); `None` when it is torn or corrupt.
pub fn decode_line(line: &[u8]) -> Option<Entry> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let at = line
        .windows(CRC_FIELD.len())
        .rposition(|w| w == CRC_FIELD)?;
    let digits = line[at + CRC_FIELD.len()..].strip_suffix(b"}")?;
    let stored: u32 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    if crc32c::crc32c(&line[..at]) != stored {
        return None;
    }
    let parsed: LineIn = serde_json::from_slice(line).ok()?;
    Some(Entry {
        topic: parsed.topic,
        key: parsed.key,
        headers: parsed.headers,
        record: parsed.record.get().into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry(record: &str) -> Entry {
        let headers = Headers::from([("channel".into(), "web".into())]);
        Entry {
            topic: "intake.requests.v1".into(),
            key: "+8613812345678".into(),
            headers,
            record: record.into(),
        }
    }

    #[test]
    fn round_trip_keeps_the_record_bytes() {
        let e = entry(r#"{"text":"路灯 \"crc32c\": 1","n":[1,2]}"#);
        let line = encode_line(&e).unwrap();
        assert!(line.ends_with(b"}\n"));
        assert_eq!(decode_line(&line), Some(e));
    }

    #[test]
    fn torn_and_flipped_lines_are_refused() {
        let line = encode_line(&entry(r#"{"a":1}"#)).unwrap();
        for cut in 0..line.len() - 1 {
            assert_eq!(decode_line(&line[..cut]), None, "cut at {cut}");
        }
        let mut flipped = line.clone();
        flipped[5] ^= 0x20;
        assert_eq!(decode_line(&flipped), None);
    }

    #[test]
    fn the_line_format_is_pinned() {
        let e = entry(r#"{"a":"\u0001"}"#);
        let line = encode_line(&e).unwrap();
        let text = String::from_utf8(line.clone()).unwrap();
        let body = r#"{"topic":"intake.requests.v1","key":"+8613812345678","headers":{"channel":"web"},"record":{"a":"\u0001"}"#;
        let crc = crc32c::crc32c(body.as_bytes());
        assert_eq!(text, format!("{body},\"crc32c\":{crc}}}\n"));
        assert_eq!(
            encode_parts(&e.topic, &e.key, &e.headers, &e.record).unwrap(),
            line
        );
    }

    #[test]
    fn not_json_is_refused_on_write() {
        assert!(encode_line(&entry("not json")).is_err());
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode_line(&bytes);
        }

        #[test]
        fn any_text_round_trips(text in "\\PC{0,60}", key in "\\PC{0,20}") {
            let mut e = entry(&serde_json::json!({"text": text}).to_string());
            e.key = key;
            prop_assert_eq!(decode_line(&encode_line(&e).unwrap()), Some(e));
        }
    }
}
