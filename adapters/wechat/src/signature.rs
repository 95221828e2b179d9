//! WeChat's SHA-1 signatures: `signature` over the token, timestamp and nonce, and
//! `msg_signature` over the same plus the `Encrypt` text.
//!
//! The parts are sorted as byte strings before hashing, so the order WeChat lists them in its
//! documentation does not matter. Comparisons run in constant time: an early exit would let a
//! caller learn a valid signature one byte at a time.

use intake_adapter::signature::secrets_equal;
use intake_adapter::AdapterError;
use sha1::{Digest, Sha1};

/// Lowercase hex SHA-1 of `parts`, sorted lexicographically and concatenated.
pub fn sha1_signature(parts: &[&str]) -> String {
    let mut sorted: Vec<&str> = parts.to_vec();
    sorted.sort_unstable();
    let mut hasher = Sha1::new();
    for part in sorted {
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// True when `provided` (hex, any case, surrounding spaces ignored) is the signature of `parts`.
pub fn signature_matches(parts: &[&str], provided: &str) -> bool {
    let expected = sha1_signature(parts);
    let provided = provided.trim().to_ascii_lowercase();
    secrets_equal(expected.as_bytes(), provided.as_bytes())
}

/// Checks the `signature` query parameter of a URL verification or a push.
pub fn check_signature(
    token: &str,
    timestamp: &str,
    nonce: &str,
    provided: &str,
) -> Result<(), AdapterError> {
    if signature_matches(&[token, timestamp, nonce], provided) {
        Ok(())
    } else {
        Err(AdapterError::Unauthorized(
            "signature does not match the account token".into(),
        ))
    }
}

/// Checks the `msg_signature` query parameter of an encrypted push.
pub fn check_msg_signature(
    token: &str,
    timestamp: &str,
    nonce: &str,
    encrypt: &str,
    provided: &str,
) -> Result<(), AdapterError> {
    if signature_matches(&[token, timestamp, nonce, encrypt], provided) {
        Ok(())
    } else {
        Err(AdapterError::Unauthorized(
            "msg_signature does not match the encrypted body".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_url_verification_vector() {
        // The vector of WeChat's own access guide (token "test").
        let sig = sha1_signature(&["test", "1410685589", "test"]);
        assert_eq!(sig, "f21891de399b4e33a1a93c9a7b8a8fffb5a443ff");
        assert!(check_signature("test", "1410685589", "test", &sig.to_uppercase()).is_ok());
        assert!(check_signature("test", "1410685590", "test", &sig).is_err());
        assert!(check_signature("test", "1410685589", "test", "").is_err());
    }

    #[test]
    fn order_of_parts_does_not_matter() {
        assert_eq!(
            sha1_signature(&["b", "a", "c"]),
            sha1_signature(&["c", "b", "a"])
        );
    }
}
