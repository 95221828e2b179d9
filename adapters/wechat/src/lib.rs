//! The WeChat official-account (公众号) push adapter of the 12345 intake gateway.
//!
//! WeChat calls the account's server URL twice over: a `GET` to verify the URL when the account
//! is configured ([`verify_url`]), and a `POST` for every message or event a citizen triggers
//! ([`parse_push`]). Pushes come in plaintext, compatible (plaintext and encrypted side by side)
//! or safe (encrypted only) mode; the answer may be a passive reply ([`render_text_reply`]).
//!
//! Like every adapter, this crate is pure: no clock, no randomness, no I/O. The gateway passes
//! the time, the 16 random bytes and the nonce a reply needs, so tests and fuzzers see exactly
//! what production does.

#![warn(missing_docs)]

mod crypto;
mod message;
mod push;
mod reply;
mod signature;
mod xml;

pub use crypto::{decrypt, encrypt, AesKey, Decrypted};
pub use push::{parse_push, verify_url, Mode, Push, PushKind, MAX_BODY_BYTES};
pub use reply::{
    choose_template, render_text_reply, reply_template, DEFAULT_REPLY_KO, DEFAULT_REPLY_ZH,
};
pub use signature::{sha1_signature, signature_matches};
pub use xml::{parse as parse_xml, Fields, MAX_DEPTH, MAX_ELEMENTS};

use intake_adapter::AdapterError;
use serde::Deserialize;

/// How far a push's `timestamp` may be from the gateway clock unless configured otherwise.
pub const DEFAULT_TIMESTAMP_TOLERANCE_SECS: u64 = 300;

/// One official account the gateway serves, as configured on the WeChat platform.
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct Account {
    /// The gateway's name of the account; the source system when `original_id` is unset.
    pub name: String,
    /// The Token set in the account's server configuration.
    pub token: String,
    /// The 43-character EncodingAESKey, required for compatible and safe mode.
    #[serde(default)]
    pub aes_key: Option<String>,
    /// The account's AppID; when set, encrypted bodies must carry it.
    #[serde(default)]
    pub app_id: Option<String>,
    /// The account's original id (`gh_…`); when set, every push must be addressed to it.
    #[serde(default)]
    pub original_id: Option<String>,
    /// Allowed distance of a push's timestamp from the gateway clock, in seconds.
    #[serde(default = "default_tolerance")]
    pub timestamp_tolerance_secs: u64,
}

fn default_tolerance() -> u64 {
    DEFAULT_TIMESTAMP_TOLERANCE_SECS
}

impl Default for Account {
    fn default() -> Self {
        Account {
            name: String::new(),
            token: String::new(),
            aes_key: None,
            app_id: None,
            original_id: None,
            timestamp_tolerance_secs: DEFAULT_TIMESTAMP_TOLERANCE_SECS,
        }
    }
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token and the key are the account's whole security; keep them out of logs.
        f.debug_struct("Account")
            .field("name", &self.name)
            .field("token", &"<redacted>")
            .field("aes_key", &self.aes_key.as_ref().map(|_| "<redacted>"))
            .field("app_id", &self.app_id)
            .field("original_id", &self.original_id)
            .field("timestamp_tolerance_secs", &self.timestamp_tolerance_secs)
            .finish()
    }
}

impl Account {
    /// The `source.system` of this account's records: `wechat:{original_id or name}`.
    pub fn source_system(&self) -> String {
        let id = self
            .original_id
            .as_deref()
            .filter(|id| !id.is_empty())
            .unwrap_or(&self.name);
        ["wechat:", id].concat()
    }

    /// Checks the configuration once at startup, so a bad key fails the deploy, not a citizen.
    pub fn validate(&self) -> Result<(), AdapterError> {
        if self.name.trim().is_empty()
            && self
                .original_id
                .as_deref()
                .is_none_or(|id| id.trim().is_empty())
        {
            return Err(AdapterError::Malformed(
                "account needs a name or an original id".into(),
            ));
        }
        if self.token.is_empty() {
            return Err(AdapterError::Malformed("account token is empty".into()));
        }
        if let Some(key) = &self.aes_key {
            AesKey::from_encoding_aes_key(key)?;
        }
        Ok(())
    }

    /// The decoded AES key, or why encrypted pushes cannot be handled.
    pub fn key(&self) -> Result<AesKey, AdapterError> {
        match &self.aes_key {
            Some(key) => AesKey::from_encoding_aes_key(key),
            None => Err(AdapterError::Unauthorized(
                "encrypted push but no EncodingAESKey is configured for this account".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_defaults_and_redaction() {
        let a = Account {
            name: "yanji".into(),
            token: "secret-token".into(),
            aes_key: Some("k".repeat(43)),
            ..Default::default()
        };
        assert_eq!(a.timestamp_tolerance_secs, 300);
        assert_eq!(a.source_system(), "wechat:yanji");
        let shown = format!("{a:?}");
        assert!(
            !shown.contains("secret-token") && !shown.contains("kkkk"),
            "{shown}"
        );
        let b = Account {
            original_id: Some("gh_abc".into()),
            ..a.clone()
        };
        assert_eq!(b.source_system(), "wechat:gh_abc");
        assert!(a.validate().is_ok());
        assert!(Account {
            aes_key: Some("bad".into()),
            ..a.clone()
        }
        .validate()
        .is_err());
        assert!(Account {
            token: String::new(),
            ..a
        }
        .validate()
        .is_err());
    }
}
