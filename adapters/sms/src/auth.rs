//! Authentication shared by several kinds: the URL token (aliyun, tencent, kannel, jasmin) and
//! the `X-Intake-Signature` of the generic format. Twilio's own scheme is in `twilio.rs`.

use intake_adapter::signature::secrets_equal;
use intake_adapter::{AdapterError, Inbound};
use sha2::{Digest, Sha256};

use crate::form::Form;

/// The query parameter carrying the provider's token.
pub const TOKEN_PARAM: &str = "token";
/// The generic format signs like the web-board push: same headers, same scheme.
pub use intake_adapter::signature::{SIGNATURE_HEADER, TIMESTAMP_HEADER};

/// Checks `?token=` against the configured token in constant time. Both sides are hashed first
/// so that not even the token's length shows in the timing.
pub(crate) fn check_token(inbound: &Inbound, expected: Option<&str>) -> Result<(), AdapterError> {
    let Some(expected) = expected.filter(|t| !t.is_empty()) else {
        return Err(AdapterError::Unauthorized(
            "provider has no token configured".into(),
        ));
    };
    let query = Form::parse(inbound.query.as_bytes());
    let Some(given) = query.bytes(TOKEN_PARAM) else {
        return Err(AdapterError::Unauthorized("missing token parameter".into()));
    };
    let (a, b) = (Sha256::digest(given), Sha256::digest(expected.as_bytes()));
    if secrets_equal(&a, &b) {
        Ok(())
    } else {
        Err(AdapterError::Unauthorized("token does not match".into()))
    }
}

/// Verifies `X-Intake-Signature: v1=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>` (several
/// space- or comma-separated `v1=` values allowed, for secret rotation), then the timestamp
/// window. Same scheme as the web-board push, so partners reuse one signer.
pub(crate) fn verify_intake_signature(
    inbound: &Inbound,
    secret: Option<&str>,
    tolerance_secs: u64,
) -> Result<(), AdapterError> {
    let Some(secret) = secret.filter(|s| !s.is_empty()) else {
        return Err(AdapterError::Unauthorized(
            "provider has no secret configured".into(),
        ));
    };
    intake_adapter::signature::verify_intake_signature(inbound, secret, tolerance_secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;
    use intake_adapter::signature::hmac_sha256_hex;

    fn inbound<'a>(
        query: &'a str,
        headers: &'a &'a [(&'a str, &'a str)],
        body: &'a [u8],
    ) -> Inbound<'a> {
        Inbound {
            method: "POST",
            query,
            headers,
            body,
            now: DateTime::from_timestamp(1_764_000_000, 0).unwrap(),
            peer: None,
            trace_id: "0",
        }
    }

    #[test]
    fn token() {
        let h: &[(&str, &str)] = &[];
        assert!(check_token(&inbound("token=a%2Bb", &h, b""), Some("a+b")).is_ok());
        assert!(check_token(&inbound("token=a+b", &h, b""), Some("a+b")).is_err());
        assert!(check_token(&inbound("", &h, b""), Some("t")).is_err());
        assert!(check_token(&inbound("token=", &h, b""), Some("")).is_err());
    }

    #[test]
    fn intake_signature() {
        let body = br#"{"message_id":"1"}"#;
        let sig = format!("v1={}", hmac_sha256_hex(b"k", &[b"1764000000", b".", body]));
        let rotated = format!("v1=00 {sig}");
        for s in [sig.as_str(), rotated.as_str()] {
            let h: &[(&str, &str)] = &[
                ("X-Intake-Timestamp", "1764000000"),
                ("X-Intake-Signature", s),
            ];
            assert!(verify_intake_signature(&inbound("", &h, body), Some("k"), 300).is_ok());
        }
        let h: &[(&str, &str)] = &[
            ("X-Intake-Timestamp", "1764000000"),
            ("X-Intake-Signature", &sig),
        ];
        assert!(verify_intake_signature(&inbound("", &h, b"{}"), Some("k"), 300).is_err());
        let old = format!("v1={}", hmac_sha256_hex(b"k", &[b"1763990000", b".", body]));
        let h: &[(&str, &str)] = &[
            ("X-Intake-Timestamp", "1763990000"),
            ("X-Intake-Signature", &old),
        ];
        assert!(matches!(
            verify_intake_signature(&inbound("", &h, body), Some("k"), 300),
            Err(AdapterError::Stale(_))
        ));
    }
}
