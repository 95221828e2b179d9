//! Concatenation headers: where a provider hands us one part of a long (concatenated) SMS.
//!
//! A long message travels as parts, each with a User Data Header (3GPP TS 23.040 §9.2.3.24)
//! carrying a concatenation information element: `00 03 ref total seq` (8-bit reference) or
//! `08 04 refHi refLo total seq` (16-bit reference). SMPP gateways may instead pass the SAR
//! optional parameters `sar_msg_ref_num`, `sar_total_segments`, `sar_segment_seqnum`.

/// Which part of which long message this is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Concat {
    /// The sender's reference number of the long message (decimal text).
    pub reference: String,
    /// How many parts the message has (2..=255).
    pub total: u8,
    /// This part's position, 1-based.
    pub seq: u8,
}

impl Concat {
    /// A concatenation marker, or `None` when it does not describe a part of a longer message:
    /// TS 23.040 says a receiver ignores the element when `seq` is 0 or above `total`, and a
    /// "long" message of one part is simply a message.
    pub fn new(reference: impl Into<String>, total: u8, seq: u8) -> Option<Concat> {
        if total < 2 || seq == 0 || seq > total {
            return None;
        }
        Some(Concat {
            reference: reference.into(),
            total,
            seq,
        })
    }

    /// From SAR values as text (SMPP TLVs forwarded by a gateway); `None` when any is absent or
    /// not a number in range.
    pub fn from_sar(
        reference: Option<&str>,
        total: Option<&str>,
        seq: Option<&str>,
    ) -> Option<Self> {
        let reference: u16 = reference?.trim().parse().ok()?;
        let total: u8 = total?.trim().parse().ok()?;
        let seq: u8 = seq?.trim().parse().ok()?;
        Concat::new(reference.to_string(), total, seq)
    }
}

/// The concatenation element of a User Data Header, if it has a valid one.
///
/// `udh` starts with its length octet (UDHL) as Kannel and SMPP carry it; a header given without
/// it is read as bare elements. A header that does not parse is treated as having no
/// concatenation element (the spec's "ignore the element"), so the text is still delivered.
pub fn concat_from_udh(udh: &[u8]) -> Option<Concat> {
    let (&udhl, rest) = udh.split_first()?;
    rest.get(..usize::from(udhl))
        .and_then(concat_element)
        .or_else(|| concat_element(udh))
}

/// Walks information elements (IEI, length, data) for a concatenation element.
fn concat_element(elements: &[u8]) -> Option<Concat> {
    let mut found = None;
    let mut pos = 0usize;
    while pos + 2 <= elements.len() {
        let iei = elements[pos];
        let len = usize::from(elements[pos + 1]);
        let Some(data) = elements.get(pos + 2..pos + 2 + len) else {
            break;
        };
        // The last concatenation element wins, as TS 23.040 lets a repeated element override.
        match (iei, data) {
            (0x00, [reference, total, seq]) => {
                found = Concat::new(reference.to_string(), *total, *seq).or(found);
            }
            (0x08, [hi, lo, total, seq]) => {
                let reference = u16::from_be_bytes([*hi, *lo]);
                found = Concat::new(reference.to_string(), *total, *seq).or(found);
            }
            _ => {}
        }
        pos += 2 + len;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eight_and_sixteen_bit_references() {
        assert_eq!(
            concat_from_udh(&[0x05, 0x00, 0x03, 0x7F, 0x02, 0x01]),
            Concat::new("127", 2, 1)
        );
        assert_eq!(
            concat_from_udh(&[0x06, 0x08, 0x04, 0x12, 0x34, 0x03, 0x03]),
            Concat::new("4660", 3, 3)
        );
        // Without the length octet.
        assert_eq!(
            concat_from_udh(&[0x00, 0x03, 0x01, 0x02, 0x02]),
            Concat::new("1", 2, 2)
        );
        // After another element (port addressing, IEI 05).
        assert_eq!(
            concat_from_udh(&[
                0x0B, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0, 0x00, 0x03, 0x09, 0x02, 0x02
            ]),
            Concat::new("9", 2, 2)
        );
    }

    #[test]
    fn invalid_elements_are_ignored() {
        assert_eq!(concat_from_udh(&[]), None);
        assert_eq!(concat_from_udh(&[0x05, 0x00, 0x03, 0x01, 0x02, 0x00]), None);
        assert_eq!(concat_from_udh(&[0x05, 0x00, 0x03, 0x01, 0x02, 0x03]), None);
        assert_eq!(concat_from_udh(&[0x05, 0x00, 0x03, 0x01, 0x01, 0x01]), None);
        assert_eq!(concat_from_udh(&[0x05, 0x00, 0x09, 0x01]), None);
        assert_eq!(
            Concat::from_sar(Some("513"), Some("2"), Some("2")),
            Concat::new("513", 2, 2)
        );
        assert_eq!(Concat::from_sar(Some("x"), Some("2"), Some("2")), None);
        assert_eq!(Concat::from_sar(None, Some("2"), Some("2")), None);
    }
}
