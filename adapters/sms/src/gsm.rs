//! The GSM 03.38 (3GPP TS 23.038) 7-bit default alphabet and its extension table.
//!
//! Input is *unpacked*: one septet per byte, as SMPP `short_message` and most HTTP gateways carry
//! it. Packing into octets is a radio-interface detail no provider we serve hands us.

use intake_adapter::AdapterError;

/// The escape septet that selects the extension table for the next septet.
const ESCAPE: u8 = 0x1B;

/// The default alphabet, indexed by septet value. 0x1B (escape) is handled before lookup.
const DEFAULT: [char; 128] = [
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å', //
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', ' ', 'Æ', 'æ', 'ß', 'É', //
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§', //
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à', //
];

/// The extension table: septet after an escape -> character.
const EXTENSION: [(u8, char); 10] = [
    (0x0A, '\u{000C}'),
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x65, '€'),
];

/// Decodes unpacked GSM 7-bit septets. A byte above 0x7F is not a septet, and an escape with
/// nothing after it is a truncated character: both are encoding errors, never guessed at.
pub fn decode(septets: &[u8]) -> Result<String, AdapterError> {
    let mut out = String::with_capacity(septets.len());
    let mut iter = septets.iter().enumerate();
    while let Some((i, &b)) = iter.next() {
        if b > 0x7F {
            return Err(AdapterError::Encoding(format!(
                "byte 0x{b:02X} at offset {i} is not a GSM 7-bit septet"
            )));
        }
        if b != ESCAPE {
            out.push(DEFAULT[usize::from(b)]);
            continue;
        }
        let Some((_, &next)) = iter.next() else {
            return Err(AdapterError::Encoding(
                "GSM 7-bit text ends in an escape septet".into(),
            ));
        };
        if next > 0x7F {
            return Err(AdapterError::Encoding(format!(
                "byte 0x{next:02X} after escape is not a GSM 7-bit septet"
            )));
        }
        out.push(extension(next));
    }
    Ok(out)
}

/// The character of `septet` in the extension table. TS 23.038 says an unknown extension code
/// shows as the default-table character, and a second escape (a table not yet defined) as a space.
fn extension(septet: u8) -> char {
    if septet == ESCAPE {
        return ' ';
    }
    EXTENSION
        .iter()
        .find(|(code, _)| *code == septet)
        .map(|(_, c)| *c)
        .unwrap_or(DEFAULT[usize::from(septet & 0x7F)])
}

/// Encodes `text` as unpacked GSM 7-bit septets, or `None` when a character has no GSM code.
/// Used to build test messages and by senders of the generic format.
pub fn encode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        if let Some((code, _)) = EXTENSION.iter().find(|(_, e)| *e == c) {
            out.extend([ESCAPE, *code]);
        } else {
            // The escape slot (0x1B) displays as a space in DEFAULT but must never encode one.
            let code = DEFAULT
                .iter()
                .enumerate()
                .find(|(i, d)| **d == c && *i != usize::from(ESCAPE))?
                .0;
            out.push(u8::try_from(code).ok()?);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_and_extension() {
        // "@£$ Hello € [x]" in septets
        let bytes = [
            0x00, 0x01, 0x02, 0x20, b'H', b'e', b'l', b'l', b'o', 0x20, 0x1B, 0x65, 0x20, 0x1B,
            0x3C, b'x', 0x1B, 0x3E,
        ];
        assert_eq!(decode(&bytes).unwrap(), "@£$ Hello € [x]");
        assert_eq!(decode(&[0x11, 0x5F, 0x40]).unwrap(), "_§¡");
    }

    #[test]
    fn unknown_extension_falls_back_and_errors_are_errors() {
        assert_eq!(decode(&[0x1B, b'A']).unwrap(), "A");
        assert_eq!(decode(&[0x1B, 0x1B]).unwrap(), " ");
        assert!(matches!(
            decode(&[b'a', 0x1B]),
            Err(AdapterError::Encoding(_))
        ));
        assert!(matches!(decode(&[0x80]), Err(AdapterError::Encoding(_))));
        assert!(matches!(
            decode(&[0x1B, 0xC0]),
            Err(AdapterError::Encoding(_))
        ));
    }

    #[test]
    fn encode_round_trips() {
        let text = "Øre {12} € ^_^ ß\nΔ";
        let septets = encode(text).unwrap();
        assert!(septets.iter().all(|b| *b < 0x80));
        assert_eq!(decode(&septets).unwrap(), text);
        assert_eq!(encode("中"), None);
    }
}
