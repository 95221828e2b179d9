//! Fuzzes decryption. Input: one byte choosing how the rest is read (even: as the `Encrypt`
//! text itself; odd: as raw ciphertext, base64-encoded first so the AES and unpadding code is
//! reached rather than only the base64 decoder).
#![no_main]

use base64::Engine;
use intake_wechat::{decrypt, AesKey};
use libfuzzer_sys::fuzz_target;

const AES_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const APP_ID: &str = "wx0123456789abcdef";

fuzz_target!(|data: &[u8]| {
    let Some((&how, rest)) = data.split_first() else {
        return;
    };
    let Ok(key) = AesKey::from_encoding_aes_key(AES_KEY) else {
        return;
    };
    let text = if how % 2 == 0 {
        String::from_utf8_lossy(rest).into_owned()
    } else {
        base64::engine::general_purpose::STANDARD.encode(rest)
    };
    let _ = decrypt(&key, Some(APP_ID), &text);
    let _ = decrypt(&key, None, &text);
});
