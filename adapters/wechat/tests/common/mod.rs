//! Builds signed requests the way WeChat's servers do, for the integration tests.
#![allow(dead_code)]

use chrono::{DateTime, Utc};
use intake_adapter::Inbound;
use intake_wechat::{encrypt, sha1_signature, Account, AesKey};

pub const TOKEN: &str = "golden-token";
pub const AES_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
pub const APP_ID: &str = "wx0123456789abcdef";
pub const ORIGINAL_ID: &str = "gh_3f8a1b2c4d5e";
pub const TRACE_ID: &str = "0af7651916cd43dd8448eb211c80319c";
pub const NONCE: &str = "1735962147";
/// 2026-03-01T08:00:00Z, the fixed clock of every test.
pub const NOW_SECS: i64 = 1_772_352_000;

pub static HEADERS: &[(&str, &str)] = &[("Content-Type", "text/xml")];

pub fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(NOW_SECS, 0).expect("fixed time")
}

pub fn account() -> Account {
    Account {
        name: "yanji".into(),
        token: TOKEN.into(),
        aes_key: Some(AES_KEY.into()),
        app_id: Some(APP_ID.into()),
        original_id: Some(ORIGINAL_ID.into()),
        timestamp_tolerance_secs: 300,
    }
}

pub fn key() -> AesKey {
    AesKey::from_encoding_aes_key(AES_KEY).expect("test key")
}

/// `signature`, `timestamp` and `nonce` as WeChat sends them, plus `openid` it adds.
pub fn plain_query(token: &str, timestamp: i64) -> String {
    let ts = timestamp.to_string();
    let sig = sha1_signature(&[token, &ts, NONCE]);
    format!("signature={sig}&timestamp={ts}&nonce={NONCE}&openid=oYx3z6B0a1pQ9LmN8kR7sT2uVwXy")
}

/// The query of an encrypted push whose `Encrypt` text is `encrypted`.
pub fn aes_query(token: &str, timestamp: i64, encrypted: &str) -> String {
    let ts = timestamp.to_string();
    let msg_sig = sha1_signature(&[token, &ts, NONCE, encrypted]);
    format!(
        "{}&encrypt_type=aes&msg_signature={msg_sig}",
        plain_query(token, timestamp)
    )
}

/// The encrypted text of `xml` under the test key and app id.
pub fn seal(xml: &str) -> String {
    encrypt(&key(), APP_ID, xml, [0x5a; 16]).expect("encrypt")
}

/// A safe-mode body carrying `encrypted`.
pub fn safe_body(encrypted: &str) -> String {
    format!("<xml><ToUserName><![CDATA[{ORIGINAL_ID}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>")
}

/// A compatible-mode body: the plaintext message with `Encrypt` added before `</xml>`.
pub fn compatible_body(xml: &str, encrypted: &str) -> String {
    let cut = xml.rfind("</xml>").expect("fixture has a root");
    format!(
        "{}<Encrypt><![CDATA[{encrypted}]]></Encrypt>\n{}",
        &xml[..cut],
        &xml[cut..]
    )
}

pub fn post<'a>(query: &'a str, body: &'a [u8]) -> Inbound<'a> {
    Inbound {
        method: "POST",
        query,
        headers: &HEADERS,
        body,
        now: now(),
        peer: None,
        trace_id: TRACE_ID,
    }
}

pub fn get(query: &str) -> Inbound<'_> {
    Inbound {
        method: "GET",
        query,
        headers: &HEADERS,
        body: b"",
        now: now(),
        peer: None,
        trace_id: TRACE_ID,
    }
}
