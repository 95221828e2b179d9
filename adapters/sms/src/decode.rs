//! Message bytes to text, strictly: invalid input is an [`AdapterError::Encoding`] with a reason,
//! never a replacement character. A citizen's words either arrive intact or go to the dead
//! letters with their raw bytes, where someone can still read them.

use encoding_rs::GB18030;
use intake_adapter::AdapterError;
use serde::{Deserialize, Serialize};

use crate::gsm;

/// How the bytes of a message (or of one part of a long message) are encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Coding {
    /// GSM 03.38 default alphabet, unpacked (one septet per byte), with the extension table.
    Gsm7,
    /// ISO-8859-1: one byte per character (also plain ASCII / IA5).
    Latin1,
    /// UCS-2 as phones send it, i.e. UTF-16BE (surrogate pairs allowed, must be paired).
    Ucs2,
    /// GBK / GB2312 (decoded with the GB18030 superset), CMPP `Msg_Fmt` 15.
    Gbk,
    /// UTF-8.
    Utf8,
    /// 8-bit data. Accepted as text only when it is valid UTF-8 (gateways that pass UTF-8
    /// through with an 8-bit DCS); anything else is binary content, not a citizen's words.
    Binary,
}

impl Coding {
    /// The snake_case name, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            Coding::Gsm7 => "gsm7",
            Coding::Latin1 => "latin1",
            Coding::Ucs2 => "ucs2",
            Coding::Gbk => "gbk",
            Coding::Utf8 => "utf8",
            Coding::Binary => "binary",
        }
    }

    /// The coding for a MIME / IANA charset name (`UTF-8`, `ISO-8859-1`, `UTF-16BE`, `GBK`...),
    /// case-insensitively; `None` for a charset we do not decode.
    pub fn from_charset(charset: &str) -> Option<Coding> {
        let c = charset.trim().trim_matches('"').to_ascii_lowercase();
        Some(match c.as_str() {
            "utf-8" | "utf8" => Coding::Utf8,
            "iso-8859-1" | "iso8859-1" | "iso_8859-1" | "latin1" | "latin-1" | "us-ascii"
            | "ascii" => Coding::Latin1,
            "utf-16be" | "utf16be" | "ucs-2" | "ucs2" | "ucs-2be" | "utf-16" => Coding::Ucs2,
            "gbk" | "gb2312" | "gb18030" | "cp936" | "euc-cn" => Coding::Gbk,
            "8-bit" | "binary" => Coding::Binary,
            "gsm" | "gsm7" | "gsm0338" | "gsm-7" => Coding::Gsm7,
            _ => return None,
        })
    }
}

/// Decodes `bytes` in `coding`, strictly.
pub fn decode(bytes: &[u8], coding: Coding) -> Result<String, AdapterError> {
    match coding {
        Coding::Gsm7 => gsm::decode(bytes),
        Coding::Latin1 => Ok(bytes.iter().map(|&b| char::from(b)).collect()),
        Coding::Ucs2 => decode_utf16be(bytes),
        Coding::Gbk => GB18030
            .decode_without_bom_handling_and_without_replacement(bytes)
            .map(|text| text.into_owned())
            .ok_or_else(|| AdapterError::Encoding("invalid GBK byte sequence".into())),
        Coding::Utf8 => std::str::from_utf8(bytes)
            .map(str::to_string)
            .map_err(|e| AdapterError::Encoding(format!("invalid UTF-8: {e}"))),
        Coding::Binary => std::str::from_utf8(bytes).map(str::to_string).map_err(|_| {
            AdapterError::Encoding("8-bit binary message that is not UTF-8 text".into())
        }),
    }
}

fn decode_utf16be(bytes: &[u8]) -> Result<String, AdapterError> {
    let pairs = bytes.chunks_exact(2);
    if !pairs.remainder().is_empty() {
        return Err(AdapterError::Encoding(format!(
            "UCS-2 text has an odd number of bytes ({})",
            bytes.len()
        )));
    }
    let units = pairs.map(|pair| u16::from_be_bytes([pair[0], pair[1]]));
    char::decode_utf16(units)
        .collect::<Result<String, _>>()
        .map_err(|e| {
            AdapterError::Encoding(format!(
                "UCS-2 text has an unpaired surrogate 0x{:04X}",
                e.unpaired_surrogate()
            ))
        })
}

/// Decodes a run of bytes cut out of a longer message where neighbouring parts are missing:
/// a character split across the missing boundary is dropped (up to 3 bytes at either cut end,
/// trying the least trimming first) instead of being turned into a replacement character.
/// `cut_start` / `cut_end` say which ends border on a gap.
pub(crate) fn decode_cut(
    bytes: &[u8],
    coding: Coding,
    cut_start: bool,
    cut_end: bool,
) -> Result<String, AdapterError> {
    let first_error = match decode(bytes, coding) {
        Ok(text) => return Ok(text),
        Err(e) => e,
    };
    let max_front = if cut_start { 3 } else { 0 };
    let max_back = if cut_end { 3 } else { 0 };
    for total in 1..=(max_front + max_back) {
        for front in 0..=total.min(max_front) {
            let back = total - front;
            if back > max_back || front + back > bytes.len() {
                continue;
            }
            if let Ok(text) = decode(&bytes[front..bytes.len() - back], coding) {
                return Ok(text);
            }
        }
    }
    Err(first_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_coding() {
        assert_eq!(decode(b"caf\xe9", Coding::Latin1).unwrap(), "café");
        assert_eq!(
            decode(&[0x4E, 0x2D, 0x65, 0x87], Coding::Ucs2).unwrap(),
            "中文"
        );
        // 😀 U+1F600 = D83D DE00
        assert_eq!(
            decode(&[0xD8, 0x3D, 0xDE, 0x00], Coding::Ucs2).unwrap(),
            "😀"
        );
        assert_eq!(
            decode(&[0xD6, 0xD0, 0xCE, 0xC4], Coding::Gbk).unwrap(),
            "中文"
        );
        assert_eq!(decode("한국".as_bytes(), Coding::Utf8).unwrap(), "한국");
        assert_eq!(decode(b"ok", Coding::Binary).unwrap(), "ok");
        assert_eq!(decode(&[0x00, 0x02], Coding::Gsm7).unwrap(), "@$");
    }

    #[test]
    fn invalid_bytes_are_encoding_errors() {
        for (bytes, coding) in [
            (&[0x4E][..], Coding::Ucs2),
            (&[0xD8, 0x3D][..], Coding::Ucs2),
            (&[0xDE, 0x00, 0x00, 0x41][..], Coding::Ucs2),
            (&[0xD6][..], Coding::Gbk),
            (&[0xFF, 0xFF][..], Coding::Gbk),
            (&[0xE4, 0xB8][..], Coding::Utf8),
            (&[0x00, 0xFF][..], Coding::Binary),
            (&[0x80][..], Coding::Gsm7),
        ] {
            assert!(
                matches!(decode(bytes, coding), Err(AdapterError::Encoding(_))),
                "{coding:?} {bytes:?}"
            );
        }
    }

    #[test]
    fn charsets() {
        assert_eq!(Coding::from_charset("\"UTF-16BE\""), Some(Coding::Ucs2));
        assert_eq!(Coding::from_charset("ISO-8859-1"), Some(Coding::Latin1));
        assert_eq!(Coding::from_charset("gb2312"), Some(Coding::Gbk));
        assert_eq!(Coding::from_charset("koi8-r"), None);
    }

    #[test]
    fn cut_runs_drop_only_the_split_character() {
        // "中😀" with the low surrogate missing: the run ends in a lone high surrogate.
        let run = [0x4E, 0x2D, 0xD8, 0x3D];
        assert!(decode(&run, Coding::Ucs2).is_err());
        assert_eq!(decode_cut(&run, Coding::Ucs2, false, true).unwrap(), "中");
        assert!(decode_cut(&run, Coding::Ucs2, true, false).is_err());
        // A UTF-8 run starting inside a character.
        let run = &"中文".as_bytes()[1..];
        assert_eq!(decode_cut(run, Coding::Utf8, true, false).unwrap(), "文");
    }
}
