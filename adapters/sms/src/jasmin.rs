//! Jasmin's HTTP MO thrower (`deliverSmHttpThrower`).
//!
//! Form fields, as a POST body or a GET query per the HTTP connector's method: `id, from, to,
//! origin-connector, priority, coding, validity, content, binary`, where `content` is the
//! `short_message` bytes percent-encoded as they came from the SMSC and `binary` their hex. The
//! answer must be exactly `ACK/Jasmin`, or Jasmin re-queues the message.
//!
//! `coding` is the SMPP `data_coding` number: 0 SMSC default alphabet, 1 IA5 (ASCII), 2 and 4
//! octets, 3 Latin-1, 8 UCS-2, and 15 GBK as Chinese SMSCs (CMPP `Msg_Fmt` 15) use it. Jasmin
//! joins long messages itself; should a deployment forward parts, the SAR fields
//! `sar_msg_ref_num`, `sar_total_segments`, `sar_segment_seqnum` make them [`crate::Part`]s.

use intake_adapter::AdapterError;
use intake_schema::RawPayload;

use crate::decode::Coding;
use crate::form::{query_without, Form};
use crate::message::{Body, Ctx, Mo};
use crate::udh::Concat;
use crate::{auth, Call, Delivery, ProviderKind};

pub(crate) fn handle(call: &Call, ctx: &Ctx) -> Result<Delivery, AdapterError> {
    let inbound = call.inbound;
    auth::check_token(inbound, ctx.provider.token.as_deref())?;
    let query = Form::parse(inbound.query.as_bytes());
    let (form, raw) = match inbound.method {
        "GET" => (
            query,
            RawPayload::capture_text(
                Some("application/x-www-form-urlencoded"),
                query_without(inbound.query, auth::TOKEN_PARAM),
            ),
        ),
        "POST" => {
            let mut form = Form::parse(inbound.body);
            form.merge_missing(query);
            (
                form,
                RawPayload::capture(inbound.content_type(), inbound.body),
            )
        }
        other => {
            return Err(AdapterError::Malformed(format!(
                "method {other} not supported"
            )))
        }
    };
    let id = form
        .non_empty("id")?
        .ok_or_else(|| AdapterError::Malformed("missing id".into()))?;
    let from = form
        .non_empty("from")?
        .ok_or_else(|| AdapterError::Malformed("missing from".into()))?;
    let bytes = match form.non_empty("binary")? {
        // `binary` is exact where `content` went through the thrower's string handling.
        Some(hex) => {
            hex::decode(&hex).map_err(|_| AdapterError::Malformed("binary is not hex".into()))?
        }
        None => form
            .bytes("content")
            .ok_or_else(|| AdapterError::Malformed("missing content".into()))?
            .to_vec(),
    };
    let coding = match form.non_empty("coding")? {
        Some(c) => coding_number(&c)?,
        None => 0,
    };
    let body = match coding_of(coding, &bytes) {
        Some(coding) => Body::Bytes { bytes, coding },
        None => Body::Undecodable(format!("unsupported data_coding {coding}")),
    };
    let mo = Mo {
        message_id: id,
        sender: from,
        destination: form.non_empty("to")?,
        body,
        // The thrower sends no time of its own.
        occurred_at: None,
        concat: Concat::from_sar(
            form.non_empty("sar_msg_ref_num")?.as_deref(),
            form.non_empty("sar_total_segments")?.as_deref(),
            form.non_empty("sar_segment_seqnum")?.as_deref(),
        ),
        attachments: Vec::new(),
        raw,
    };
    let mut delivery = Delivery::new(ProviderKind::Jasmin);
    let (item, reason) = mo.settle(ctx);
    delivery.push(item, reason);
    Ok(delivery)
}

/// The number, or Jasmin's name for it (older throwers sent names).
fn coding_number(value: &str) -> Result<u8, AdapterError> {
    if let Ok(n) = value.parse::<u8>() {
        return Ok(n);
    }
    Ok(match value {
        "SMSC_DEFAULT_ALPHABET" => 0,
        "IA5_ASCII" => 1,
        "OCTET_UNSPECIFIED" => 2,
        "LATIN_1" => 3,
        "OCTET_UNSPECIFIED_COMMON" => 4,
        "UCS2" => 8,
        _ => {
            return Err(AdapterError::Malformed(format!(
                "coding {value:?} is not a data_coding"
            )))
        }
    })
}

/// The decoder for an SMPP `data_coding`, `None` when we have none.
fn coding_of(data_coding: u8, bytes: &[u8]) -> Option<Coding> {
    Some(match data_coding {
        0 => smsc_default(bytes),
        1 | 3 => Coding::Latin1,
        2 | 4 => Coding::Binary,
        8 => Coding::Ucs2,
        15 => Coding::Gbk,
        _ => return None,
    })
}

/// "SMSC default alphabet" is GSM 03.38 on GSM networks and ASCII/Latin-1 on most Chinese
/// SMSCs. The two agree on letters, digits and common punctuation; GSM is chosen only when the
/// bytes use GSM-only codes below 0x20 (`@ £ $ é Δ _`, the escape…) and nothing above 0x7F.
fn smsc_default(bytes: &[u8]) -> Coding {
    let gsm_only = bytes
        .iter()
        .any(|b| *b < 0x20 && !matches!(b, b'\n' | b'\r'));
    if gsm_only && bytes.iter().all(|b| *b < 0x80) {
        Coding::Gsm7
    } else {
        Coding::Latin1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_codings() {
        assert_eq!(coding_of(0, b"hello"), Some(Coding::Latin1));
        assert_eq!(coding_of(0, &[0x00, b'x']), Some(Coding::Gsm7));
        assert_eq!(coding_of(0, &[0x00, 0xE9]), Some(Coding::Latin1));
        assert_eq!(coding_of(8, b""), Some(Coding::Ucs2));
        assert_eq!(coding_of(15, b""), Some(Coding::Gbk));
        assert_eq!(coding_of(3, b""), Some(Coding::Latin1));
        assert_eq!(coding_of(4, b""), Some(Coding::Binary));
        assert_eq!(coding_of(14, b""), None);
        assert_eq!(coding_number("UCS2").unwrap(), 8);
        assert!(coding_number("KLINGON").is_err());
    }
}
