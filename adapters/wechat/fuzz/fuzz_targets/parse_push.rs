//! Fuzzes the whole push path behind a valid signature: XML parsing, decryption of a correctly
//! sealed body, normalization and reply rendering.
//!
//! Input: one mode byte (0 plaintext, 1 safe, 2 compatible; others plaintext) then the message
//! XML. Seeds in `seeds/parse_push/` are the golden fixtures in each mode.
#![no_main]

use intake_adapter::Inbound;
use intake_wechat::{encrypt, parse_push, render_text_reply, sha1_signature, Account, AesKey};
use libfuzzer_sys::fuzz_target;

const TOKEN: &str = "golden-token";
const AES_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const APP_ID: &str = "wx0123456789abcdef";
const NONCE: &str = "1735962147";
const NOW: i64 = 1_772_352_000;
static HEADERS: &[(&str, &str)] = &[("Content-Type", "text/xml")];

fn account() -> Account {
    Account {
        name: "yanji".into(),
        token: TOKEN.into(),
        aes_key: Some(AES_KEY.into()),
        app_id: Some(APP_ID.into()),
        original_id: None,
        timestamp_tolerance_secs: 300,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, xml)) = data.split_first() else {
        return;
    };
    let Some(now) = chrono::DateTime::from_timestamp(NOW, 0) else {
        return;
    };
    let ts = NOW.to_string();
    let signature = sha1_signature(&[TOKEN, &ts, NONCE]);
    let mut query = format!("signature={signature}&timestamp={ts}&nonce={NONCE}");
    let body: Vec<u8> = match mode {
        1 | 2 => {
            let Ok(text) = std::str::from_utf8(xml) else {
                return;
            };
            let Ok(key) = AesKey::from_encoding_aes_key(AES_KEY) else {
                return;
            };
            let Ok(sealed) = encrypt(&key, APP_ID, text, [0x5a; 16]) else {
                return;
            };
            let msg_signature = sha1_signature(&[TOKEN, &ts, NONCE, &sealed]);
            query.push_str(&format!("&encrypt_type=aes&msg_signature={msg_signature}"));
            if mode == 1 {
                format!("<xml><ToUserName>gh_x</ToUserName><Encrypt>{sealed}</Encrypt></xml>")
                    .into_bytes()
            } else {
                format!("<xml><MsgType>text</MsgType><Encrypt>{sealed}</Encrypt></xml>")
                    .into_bytes()
            }
        }
        _ => xml.to_vec(),
    };
    let inbound = Inbound {
        method: "POST",
        query: &query,
        headers: &HEADERS,
        body: &body,
        now,
        peer: None,
        trace_id: "0af7651916cd43dd8448eb211c80319c",
    };
    if let Ok(push) = parse_push(&inbound, &account()) {
        let _ = render_text_reply(&push, &account(), "受理编号 ]]> 2345", now, [1; 16], "n");
    }
});
