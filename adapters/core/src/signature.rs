//! Signature and timestamp checks shared by the channels that sign with HMAC.
//!
//! Always compare in constant time: a byte-by-byte early exit would let a caller guess a valid
//! signature one byte at a time.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::{AdapterError, Inbound};

/// The header carrying unix seconds in a signed push (web board, generic SMS).
pub const TIMESTAMP_HEADER: &str = "x-intake-timestamp";
/// The header carrying `v1=<hex>` in a signed push.
pub const SIGNATURE_HEADER: &str = "x-intake-signature";

/// Verifies a signed push: `X-Intake-Signature: v1=<hex HMAC-SHA256(secret, "{timestamp}.{raw
/// body}")>` (several space- or comma-separated `v1=` values, so a partner can roll its secret
/// without a gap), then the timestamp window. One scheme for every partner that signs, so they
/// reuse one signer.
pub fn verify_intake_signature(
    inbound: &Inbound,
    secret: &str,
    tolerance_secs: u64,
) -> Result<(), AdapterError> {
    let timestamp = inbound
        .headers
        .get(TIMESTAMP_HEADER)
        .ok_or_else(|| AdapterError::Unauthorized("missing X-Intake-Timestamp".into()))?
        .trim();
    let header = inbound
        .headers
        .get(SIGNATURE_HEADER)
        .ok_or_else(|| AdapterError::Unauthorized("missing X-Intake-Signature".into()))?;
    let parts: [&[u8]; 3] = [timestamp.as_bytes(), b".", inbound.body];
    let (mut seen, mut matched) = (false, false);
    for candidate in header.split([' ', ',']).filter(|s| !s.is_empty()) {
        if let Some(hex) = candidate.strip_prefix("v1=") {
            seen = true;
            // No early exit: every candidate costs the same, whichever matches.
            matched |= hmac_sha256_hex_matches(secret.as_bytes(), &parts, hex);
        }
    }
    if !seen {
        return Err(AdapterError::Unauthorized(
            "X-Intake-Signature has no v1= value".into(),
        ));
    }
    if !matched {
        return Err(AdapterError::Unauthorized(
            "signature does not match".into(),
        ));
    }
    check_unix_timestamp(timestamp, inbound.now, tolerance_secs)?;
    Ok(())
}

/// Lowercase hex HMAC-SHA256 of the concatenation of `parts` under `secret`.
pub fn hmac_sha256_hex(secret: &[u8], parts: &[&[u8]]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts keys of any length");
    for p in parts {
        mac.update(p);
    }
    hex::encode(mac.finalize().into_bytes())
}

/// True when the hex HMAC-SHA256 of `parts` equals `provided` (case-insensitive hex), compared
/// in constant time.
pub fn hmac_sha256_hex_matches(secret: &[u8], parts: &[&[u8]], provided: &str) -> bool {
    let Ok(provided) = hex::decode(provided.trim()) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts keys of any length");
    for p in parts {
        mac.update(p);
    }
    mac.verify_slice(&provided).is_ok()
}

/// Constant-time equality of two secrets (tokens in URLs, basic-auth passwords).
pub fn secrets_equal(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// Parses unix seconds from `value` and checks it lies within `tolerance_secs` of `now`.
pub fn check_unix_timestamp(
    value: &str,
    now: DateTime<Utc>,
    tolerance_secs: u64,
) -> Result<i64, AdapterError> {
    let ts: i64 = value
        .trim()
        .parse()
        .map_err(|_| AdapterError::Malformed("timestamp is not unix seconds".into()))?;
    let skew = now.timestamp().abs_diff(ts);
    if skew > tolerance_secs {
        return Err(AdapterError::Stale(format!(
            "timestamp is {skew} s away from the gateway clock (allowed {tolerance_secs} s)"
        )));
    }
    Ok(ts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4231_case_2() {
        let mac = hmac_sha256_hex(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        assert_eq!(
            mac,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(hmac_sha256_hex_matches(
            b"Jefe",
            &[b"what do ya want for nothing?"],
            &mac.to_uppercase()
        ));
        assert!(!hmac_sha256_hex_matches(
            b"Jefe",
            &[b"what do ya want for nothing!"],
            &mac
        ));
        assert!(!hmac_sha256_hex_matches(b"Jefe", &[b"x"], "not hex"));
    }

    #[test]
    fn timestamp_window() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        assert!(check_unix_timestamp("1700000299", now, 300).is_ok());
        assert!(matches!(
            check_unix_timestamp("1699999000", now, 300),
            Err(AdapterError::Stale(_))
        ));
        assert!(matches!(
            check_unix_timestamp("soon", now, 300),
            Err(AdapterError::Malformed(_))
        ));
        assert!(matches!(
            check_unix_timestamp("-99999999999999999999", now, 300),
            Err(AdapterError::Malformed(_))
        ));
    }
}
