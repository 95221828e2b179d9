//! The message body encryption of compatible and safe mode (WeChat's "消息加解密").
//!
//! The plaintext is `random(16) ‖ len(xml) as u32 big-endian ‖ xml ‖ app_id`, padded PKCS#7-style
//! to a multiple of **32** bytes (not AES's 16: the pad byte is 1..=32), then AES-256-CBC under the
//! 32 bytes of the EncodingAESKey with the first 16 of them as IV, then standard base64.
//!
//! The IV is fixed per account, so equal prefixes would give equal ciphertext prefixes; the 16
//! random leading bytes are what prevents that, which is why the caller must supply fresh ones.

use aes::Aes256;
use base64::alphabet::STANDARD;
use base64::engine::{GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use intake_adapter::signature::secrets_equal;
use intake_adapter::AdapterError;

/// WeChat pads to this many bytes, twice the AES block.
const PAD_BLOCK: usize = 32;
const AES_BLOCK: usize = 16;
/// Random prefix plus the length field.
const HEADER: usize = 20;

/// An EncodingAESKey has 43 base64 characters: 256 bits plus two spare bits. Those spare bits are
/// often non-zero in real keys (the public test key ends in `G`), so strict decoding would refuse
/// valid keys; WeChat's own samples decode leniently.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
);

/// The 32-byte AES key of an account, decoded from its EncodingAESKey.
#[derive(Clone, PartialEq, Eq)]
pub struct AesKey([u8; 32]);

impl std::fmt::Debug for AesKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys end up in panics and logs through Debug; never print them.
        f.write_str("AesKey(..)")
    }
}

impl AesKey {
    /// Decodes a 43-character EncodingAESKey (base64 of 32 bytes without its `=`).
    pub fn from_encoding_aes_key(encoding_aes_key: &str) -> Result<Self, AdapterError> {
        let bad =
            || AdapterError::Unauthorized("EncodingAESKey must be 43 base64 characters".into());
        let text = encoding_aes_key.trim();
        if text.len() != 43 {
            return Err(bad());
        }
        let bytes = LENIENT_BASE64
            .decode(format!("{text}="))
            .map_err(|_| bad())?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| bad())?;
        Ok(AesKey(key))
    }

    /// The raw key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    fn iv(&self) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv.copy_from_slice(&self.0[..16]);
        iv
    }
}

/// A decrypted message body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decrypted {
    /// The message XML, the authoritative message in compatible and safe mode.
    pub xml: String,
    /// The app id WeChat appended after the XML.
    pub app_id: String,
}

/// Encrypts `xml` for `app_id` with the 16 `random` bytes, as WeChat expects a reply: returns the
/// base64 text of the `Encrypt` element.
pub fn encrypt(
    key: &AesKey,
    app_id: &str,
    xml: &str,
    random: [u8; 16],
) -> Result<String, AdapterError> {
    let len = u32::try_from(xml.len())
        .map_err(|_| AdapterError::Malformed("message too long to encrypt".into()))?;
    let mut plain = Vec::with_capacity(HEADER + xml.len() + app_id.len() + PAD_BLOCK);
    plain.extend_from_slice(&random);
    plain.extend_from_slice(&len.to_be_bytes());
    plain.extend_from_slice(xml.as_bytes());
    plain.extend_from_slice(app_id.as_bytes());
    let pad = PAD_BLOCK - plain.len() % PAD_BLOCK;
    // `pad` is 1..=32, so it always fits a byte.
    plain.resize(plain.len() + pad, pad as u8);
    let len = plain.len();
    let cipher = cbc::Encryptor::<Aes256>::new(key.as_bytes().into(), &key.iv().into());
    let sealed = cipher
        .encrypt_padded_mut::<NoPadding>(&mut plain, len)
        .map_err(|_| AdapterError::Malformed("plaintext is not block aligned".into()))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(sealed))
}

/// Decrypts the text of an `Encrypt` element. When `expected_app_id` is given, the app id inside
/// must equal it. Every failure is an error, never a panic, whatever the input.
pub fn decrypt(
    key: &AesKey,
    expected_app_id: Option<&str>,
    encrypted: &str,
) -> Result<Decrypted, AdapterError> {
    let mut buf = LENIENT_BASE64
        .decode(encrypted.trim())
        .map_err(|_| AdapterError::Malformed("Encrypt is not base64".into()))?;
    if buf.is_empty() || buf.len() % AES_BLOCK != 0 {
        return Err(AdapterError::Malformed(
            "ciphertext is not a whole number of AES blocks".into(),
        ));
    }
    let cipher = cbc::Decryptor::<Aes256>::new(key.as_bytes().into(), &key.iv().into());
    let plain = cipher
        .decrypt_padded_mut::<NoPadding>(&mut buf)
        .map_err(|_| {
            AdapterError::Malformed("ciphertext is not a whole number of AES blocks".into())
        })?;
    let plain = unpad(plain)?;
    // A wrong key decrypts to noise: padding and length checks are where that shows, hence the hint.
    if plain.len() < HEADER {
        return Err(AdapterError::Unauthorized(
            "decrypted body too short (wrong EncodingAESKey?)".into(),
        ));
    }
    let mut len_bytes = [0u8; 4];
    len_bytes.copy_from_slice(&plain[16..HEADER]);
    let xml_len = u32::from_be_bytes(len_bytes) as usize;
    let rest = &plain[HEADER..];
    if xml_len > rest.len() {
        return Err(AdapterError::Unauthorized(
            "decrypted length field exceeds the body (wrong EncodingAESKey?)".into(),
        ));
    }
    let (xml, app_id) = rest.split_at(xml_len);
    let app_id = std::str::from_utf8(app_id).map_err(|_| {
        AdapterError::Unauthorized("decrypted app id is not text (wrong EncodingAESKey?)".into())
    })?;
    if let Some(expected) = expected_app_id {
        if !secrets_equal(expected.as_bytes(), app_id.as_bytes()) {
            return Err(AdapterError::Unauthorized(
                "app id inside the encrypted body is not this account's".into(),
            ));
        }
    }
    let xml = std::str::from_utf8(xml)
        .map_err(|_| AdapterError::Encoding("decrypted message is not UTF-8".into()))?;
    Ok(Decrypted {
        xml: xml.to_string(),
        app_id: app_id.to_string(),
    })
}

/// Strips WeChat's 32-byte PKCS#7 padding, checking every pad byte rather than only the last one:
/// WeChat's encoder always writes them all, so anything else is not a message of this account.
fn unpad(plain: &[u8]) -> Result<&[u8], AdapterError> {
    let bad = || {
        AdapterError::Unauthorized(
            "invalid padding after decryption (wrong EncodingAESKey?)".into(),
        )
    };
    let pad = *plain.last().ok_or_else(bad)? as usize;
    if pad == 0 || pad > PAD_BLOCK || pad > plain.len() {
        return Err(bad());
    }
    let (body, padding) = plain.split_at(plain.len() - pad);
    if padding.iter().any(|&b| b as usize != pad) {
        return Err(bad());
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
    /// EasyWeChat's encryptor test vector (token `pamtest`, app id `wxb11529c136998cb6`).
    const EASYWECHAT_ENCRYPT: &str = "rTNFcsut4LfGuAFKEUVVpwcaCOTJzOd9twZdIW910jb3k+iicx2uvhttIZ3Qg9Qgty3BEF2xbOrz6boTfb30dMomcgrkTqdFPwnhqbk+kIQ7rZiwny9D7NUrTgA5kpX3KsZvrXzUZyP2x9YOlxbgm572lmxKvM7HAQQhIQ/p6HBmoY30bGXFK0BtIu1pW9TjhOYrLQoU18nWYjWqDA1ynkmOytpv7QRI1P1+0NoxL0q2zO1DgeSvnE8CZGo/o5Ap/WHK5W2RAsinpzN4/LjPnmB6U01I5XCoJoC0GK/yMZycd2Oh8Nq6+wBkC1U85oy0ktOY4nLvsQMLrourmMGdZHuTbqpeJ8Ao/5PRYJ+WBvRUwPfGKBL2+2IKZF49vAJqkcGWSHGE76ZN2erXeuNazf/o9o3lIE3q739o4c8t9QGPe31GT2Go/rOz1BsrASwvauNulCh+++yz+CQzBIuikA==";

    fn key() -> AesKey {
        AesKey::from_encoding_aes_key(KEY).unwrap()
    }

    #[test]
    fn easywechat_vector_decrypts() {
        let d = decrypt(&key(), Some("wxb11529c136998cb6"), EASYWECHAT_ENCRYPT).unwrap();
        assert_eq!(d.app_id, "wxb11529c136998cb6");
        assert!(
            d.xml
                .contains("<ToUserName><![CDATA[asdasdasd]]></ToUserName>"),
            "{}",
            d.xml
        );
        assert!(d.xml.contains("asdasdasdsadasd"));
        assert!(d.xml.contains("1234567898"));
        assert!(d.xml.contains("<Content><![CDATA[hello]]></Content>"));
        let signed = crate::signature::sha1_signature(&[
            "pamtest",
            "1458300676",
            "260774613",
            EASYWECHAT_ENCRYPT,
        ]);
        assert_eq!(signed, "4f3ad57b6989f09f4eb392acce4f9e93942ed890");
    }

    #[test]
    fn round_trip_and_wrong_app_id() {
        let sealed = encrypt(&key(), "wx1", "<xml/>", [7; 16]).unwrap();
        assert_eq!(decrypt(&key(), Some("wx1"), &sealed).unwrap().xml, "<xml/>");
        assert!(matches!(
            decrypt(&key(), Some("wx2"), &sealed),
            Err(AdapterError::Unauthorized(_))
        ));
        assert_eq!(decrypt(&key(), None, &sealed).unwrap().app_id, "wx1");
    }

    #[test]
    fn key_must_be_43_chars() {
        assert!(AesKey::from_encoding_aes_key("short").is_err());
        assert!(AesKey::from_encoding_aes_key(&"!".repeat(43)).is_err());
        assert_eq!(format!("{:?}", key()), "AesKey(..)");
    }

    #[test]
    fn truncated_and_garbage_ciphertexts_fail() {
        let short = &EASYWECHAT_ENCRYPT[..EASYWECHAT_ENCRYPT.len() - 24];
        assert!(decrypt(&key(), None, short).is_err());
        assert!(decrypt(&key(), None, "").is_err());
        assert!(decrypt(&key(), None, "not base64 at all!").is_err());
        // One block shorter: still base64 and block aligned, but the padding is now noise.
        let raw = base64::engine::general_purpose::STANDARD
            .decode(EASYWECHAT_ENCRYPT)
            .unwrap();
        let cut = base64::engine::general_purpose::STANDARD.encode(&raw[..raw.len() - 16]);
        assert!(matches!(
            decrypt(&key(), None, &cut),
            Err(AdapterError::Unauthorized(_))
        ));
    }

    #[test]
    fn wrong_padding_fails() {
        for pad in [0u8, 33, 200] {
            let mut plain = vec![0u8; 64];
            plain[63] = pad;
            let sealed = seal_raw(&plain);
            assert!(
                matches!(
                    decrypt(&key(), None, &sealed),
                    Err(AdapterError::Unauthorized(_))
                ),
                "pad {pad}"
            );
        }
        // A pad byte in range whose run is not uniform.
        let mut plain = vec![0u8; 64];
        plain[62] = 1;
        plain[63] = 2;
        assert!(decrypt(&key(), None, &seal_raw(&plain)).is_err());
        // Valid padding, but the length field points past the end.
        let mut plain = [32u8; 64];
        plain[16..20].copy_from_slice(&1000u32.to_be_bytes());
        assert!(decrypt(&key(), None, &seal_raw(&plain[..])).is_err());
    }

    fn seal_raw(plain: &[u8]) -> String {
        let k = key();
        let mut buf = plain.to_vec();
        let len = buf.len();
        let out = cbc::Encryptor::<Aes256>::new(k.as_bytes().into(), &k.iv().into())
            .encrypt_padded_mut::<NoPadding>(&mut buf, len)
            .unwrap()
            .to_vec();
        base64::engine::general_purpose::STANDARD.encode(out)
    }
}
