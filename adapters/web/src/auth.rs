//! The push signature: `X-Intake-Signature: v1=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>`.
//!
//! Checked over the raw bytes before anything is parsed, so an unauthenticated caller never
//! reaches the JSON parser. Several `v1=` values may be sent (space or comma separated) so a
//! partner can roll its secret without a gap.

use intake_adapter::{AdapterError, Inbound};

use crate::Partner;

/// Checks the signature, then the timestamp window.
pub fn verify(inbound: &Inbound, partner: &Partner) -> Result<(), AdapterError> {
    intake_adapter::signature::verify_intake_signature(
        inbound,
        &partner.secret,
        partner.timestamp_tolerance_secs,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;
    use intake_adapter::signature::hmac_sha256_hex;

    fn inbound<'a>(headers: &'a &'a [(&'a str, &'a str)], body: &'a [u8]) -> Inbound<'a> {
        Inbound {
            method: "POST",
            query: "",
            headers,
            body,
            now: DateTime::from_timestamp(1_764_000_000, 0).unwrap(),
            peer: None,
            trace_id: "0",
        }
    }

    #[test]
    fn accepts_a_rotated_pair_and_rejects_forgeries() {
        let partner = Partner::new("baixing", "s3cret");
        let body = br#"{"posts":[]}"#;
        let good = format!(
            "v1={}",
            hmac_sha256_hex(b"s3cret", &[b"1764000000", b".", body])
        );
        let both = format!("v1=deadbeef {good}");
        for sig in [good.as_str(), both.as_str()] {
            let h: &[(&str, &str)] = &[
                ("X-Intake-Timestamp", "1764000000"),
                ("X-Intake-Signature", sig),
            ];
            assert_eq!(verify(&inbound(&h, body), &partner), Ok(()));
        }
        let h: &[(&str, &str)] = &[
            ("X-Intake-Timestamp", "1764000001"),
            ("X-Intake-Signature", &good),
        ];
        assert!(matches!(
            verify(&inbound(&h, body), &partner),
            Err(AdapterError::Unauthorized(_))
        ));
        let h: &[(&str, &str)] = &[("X-Intake-Signature", &good)];
        assert!(matches!(
            verify(&inbound(&h, body), &partner),
            Err(AdapterError::Unauthorized(_))
        ));
    }

    #[test]
    fn stale_timestamp_is_refused_even_when_signed() {
        let partner = Partner::new("baixing", "s3cret");
        let body = b"{}";
        let sig = format!(
            "v1={}",
            hmac_sha256_hex(b"s3cret", &[b"1763999000", b".", body])
        );
        let h: &[(&str, &str)] = &[
            ("X-Intake-Timestamp", "1763999000"),
            ("X-Intake-Signature", &sig),
        ];
        assert!(matches!(
            verify(&inbound(&h, body), &partner),
            Err(AdapterError::Stale(_))
        ));
    }
}
