//! Deterministic request ids and the tracking numbers citizens read over the phone.

use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

use crate::Channel;

/// Fixed namespace of request ids: the UUIDv5 of the URL `urn:intake-gateway:request`, written
/// out because deriving it was one of the two SHA-1 runs of every request (a unit test derives it
/// again). Changing it would give every re-delivered message a new id, so it never changes.
const NAMESPACE: Uuid = uuid::uuid!("bd5739fc-667b-500b-9277-53dccc55ac61");

/// The UUIDv5 in [`NAMESPACE`] of the name made of `parts`, as `Uuid::new_v5` derives it, but
/// hashed in pieces (no joined copy of the name) with RustCrypto's SHA-1, which uses the CPU's
/// SHA extensions where it has them; uuid hashes with `sha1_smol`, in software: about 3,000
/// instructions of every request (callgrind).
fn v5(parts: &[&str]) -> Uuid {
    use sha1::{Digest, Sha1};
    let mut hash = Sha1::new();
    hash.update(NAMESPACE.as_bytes());
    for part in parts {
        hash.update(part.as_bytes());
    }
    let digest = hash.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_sha1_bytes(bytes).into_uuid()
}

/// A request id: UUIDv5 over `{channel}/{source.system}/{source.message_id}`.
///
/// Derived, never random, so that a re-delivered source message gets the same id on every
/// gateway instance and after restarts; that is what makes retries harmless downstream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RequestId(Uuid);

impl RequestId {
    /// Derives the id of the message `message_id` of `system` on `channel`.
    pub fn derive(channel: Channel, system: &str, message_id: &str) -> Self {
        RequestId(v5(&[channel.as_str(), "/", system, "/", message_id]))
    }

    /// The id of a ticket transferred from another platform: UUIDv5 over
    /// `transfer/{platform}/{original_id}`, independent of who delivered it and under which post id.
    /// (`transfer` is no channel name, so these names never meet those of [`RequestId::derive`].)
    pub fn for_transfer(platform: &str, original_id: &str) -> Self {
        RequestId(v5(&["transfer/", platform, "/", original_id]))
    }

    /// Wraps an id read back from storage.
    pub fn from_uuid(uuid: Uuid) -> Self {
        RequestId(uuid)
    }

    /// The underlying UUID.
    pub fn as_uuid(&self) -> &Uuid {
        &self.0
    }

    /// The tracking number that belongs to this id.
    pub fn tracking_no(&self) -> TrackingNo {
        TrackingNo::for_request(self)
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The 31 symbols of a tracking number: digits 2-9 and the letters without I, L and O,
/// so nothing can be misheard or misread as 0/O or 1/I/L.
pub const TRACKING_ALPHABET: &[u8; 31] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

const DATA_SYMBOLS: usize = 11;

/// The acceptance number (受理编号) a citizen is told: `XXXX-XXXX-XXXX`.
///
/// Eleven symbols taken from the request id plus one check symbol (weighted sum modulo 31, a
/// prime, so any single wrong symbol and any swap of two neighbours is caught when an operator
/// types it back in). 31^11 values keep collisions below 0.2 % even after ten million requests.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TrackingNo(String);

impl TrackingNo {
    /// The tracking number of `id`; a pure function, so duplicates get the same number.
    pub fn for_request(id: &RequestId) -> Self {
        let mut n = u128::from_be_bytes(*id.as_uuid().as_bytes());
        let mut symbols = [0u8; DATA_SYMBOLS + 1];
        for slot in symbols.iter_mut().take(DATA_SYMBOLS) {
            *slot = (n % 31) as u8;
            n /= 31;
        }
        symbols[DATA_SYMBOLS] = check_symbol(&symbols[..DATA_SYMBOLS]);
        let mut text = String::with_capacity(14);
        for (i, s) in symbols.iter().enumerate() {
            if i > 0 && i % 4 == 0 {
                text.push('-');
            }
            text.push(TRACKING_ALPHABET[*s as usize] as char);
        }
        TrackingNo(text)
    }

    /// Parses what a person typed or read out: case and separators do not matter, the check
    /// symbol must match. Returns the canonical form.
    pub fn parse(input: &str) -> Option<Self> {
        let mut values = Vec::with_capacity(DATA_SYMBOLS + 1);
        for c in input.chars() {
            if c == '-' || c == ' ' {
                continue;
            }
            let upper = c.to_ascii_uppercase() as u32;
            let pos = TRACKING_ALPHABET.iter().position(|&a| a as u32 == upper)?;
            values.push(pos as u8);
        }
        if values.len() != DATA_SYMBOLS + 1
            || check_symbol(&values[..DATA_SYMBOLS]) != values[DATA_SYMBOLS]
        {
            return None;
        }
        let text: String = values
            .iter()
            .enumerate()
            .flat_map(|(i, v)| {
                let sep = (i > 0 && i % 4 == 0).then_some('-');
                sep.into_iter()
                    .chain(std::iter::once(TRACKING_ALPHABET[*v as usize] as char))
            })
            .collect();
        Some(TrackingNo(text))
    }

    /// The canonical text, e.g. `7KQ2-M9XA-4TRC`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TrackingNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn check_symbol(data: &[u8]) -> u8 {
    let sum: u32 = data
        .iter()
        .enumerate()
        .map(|(i, v)| (i as u32 + 1) * u32::from(*v))
        .sum();
    (sum % 31) as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn namespace_is_the_uuid_of_its_url() {
        assert_eq!(
            NAMESPACE,
            Uuid::new_v5(&Uuid::NAMESPACE_URL, b"urn:intake-gateway:request")
        );
    }

    #[test]
    fn request_id_is_stable_across_calls_and_versions() {
        let a = RequestId::derive(Channel::Web, "web:baixing", "p-1");
        let b = RequestId::derive(Channel::Web, "web:baixing", "p-1");
        assert_eq!(a, b);
        assert_eq!(a.as_uuid().get_version_num(), 5);
        // Pinned (Python: `uuid.uuid5(NAMESPACE, "web/web:baixing/p-1")`): a change here would
        // re-key every stored request.
        assert_eq!(a.to_string(), "04d87119-5007-5945-afd0-78534f229ba3");
        assert_eq!(
            RequestId::for_transfer("state_council", "GWY-1").to_string(),
            "83f64530-7fcb-5c21-8c33-623a69983bcb"
        );
        assert_ne!(a, RequestId::derive(Channel::Radio, "web:baixing", "p-1"));
    }

    #[test]
    fn transfer_ids_ignore_the_deliverer() {
        let a = RequestId::for_transfer("state_council", "GWY-1");
        assert_eq!(a, RequestId::for_transfer("state_council", "GWY-1"));
        assert_ne!(a, RequestId::for_transfer("people_daily", "GWY-1"));
        assert_ne!(a, RequestId::derive(Channel::Web, "state_council", "GWY-1"));
        assert_eq!(a.as_uuid().get_version_num(), 5);
    }

    #[test]
    fn tracking_number_shape() {
        let t = RequestId::derive(Channel::Sms, "sms:aliyun", "x").tracking_no();
        assert_eq!(t.as_str().len(), 14);
        assert!(t
            .as_str()
            .chars()
            .all(|c| c == '-' || TRACKING_ALPHABET.contains(&(c as u8))));
        assert!(!t.as_str().contains(['0', '1', 'O', 'I', 'L']));
    }

    #[test]
    fn parse_rejects_typos_and_swaps() {
        let t = RequestId::derive(Channel::Phone, "call:pbx1", "abc").tracking_no();
        assert_eq!(
            TrackingNo::parse(&t.as_str().to_lowercase().replace('-', " ")),
            Some(t.clone())
        );
        let mut chars: Vec<char> = t.as_str().chars().collect();
        chars.swap(0, 1);
        if chars[0] != chars[1] {
            assert_eq!(TrackingNo::parse(&chars.iter().collect::<String>()), None);
        }
    }

    proptest! {
        #[test]
        fn ids_are_uuids_v5_of_their_names(system in "\\PC{0,30}", id in "\\PC{0,60}") {
            let name = format!("sms/{system}/{id}");
            prop_assert_eq!(
                *RequestId::derive(Channel::Sms, &system, &id).as_uuid(),
                Uuid::new_v5(&NAMESPACE, name.as_bytes())
            );
        }

        #[test]
        fn every_tracking_number_parses_back(id in "[ -~]{0,40}") {
            let t = RequestId::derive(Channel::Wechat, "wechat:gh_1", &id).tracking_no();
            prop_assert_eq!(TrackingNo::parse(t.as_str()), Some(t));
        }

        #[test]
        fn single_substitution_is_caught(id in "[a-z]{1,10}", pos in 0usize..12, delta in 1u8..31) {
            let t = RequestId::derive(Channel::Web, "web:x", &id).tracking_no();
            let mut symbols: Vec<u8> = t.as_str().bytes().filter(|b| *b != b'-').collect();
            let old = TRACKING_ALPHABET.iter().position(|a| *a == symbols[pos]).unwrap() as u8;
            symbols[pos] = TRACKING_ALPHABET[((old + delta) % 31) as usize];
            prop_assert_eq!(TrackingNo::parse(std::str::from_utf8(&symbols).unwrap()), None);
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,30}") {
            let _ = TrackingNo::parse(&s);
        }
    }
}
