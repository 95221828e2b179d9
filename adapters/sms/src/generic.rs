//! The generic format: our own JSON for any SMS gateway we have no parser for.
//!
//! `POST /hooks/sms/{provider}`, `Content-Type: application/json`, signed like the web-board
//! push: `X-Intake-Timestamp: <unix seconds>` and
//! `X-Intake-Signature: v1=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>` (±300 s). Body:
//!
//! ```json
//! {"message_id": "gw-20261124-0001", "from": "+8613812345678", "to": "1069012345",
//!  "text": "路灯不亮", "received_at": "2026-11-24T02:00:00Z"}
//! ```
//!
//! - `message_id` (string or number, required): the gateway's id, the dedup key.
//! - `from` (required), `to` (the number texted, for the line), `received_at` (RFC 3339, when
//!   the gateway received the SMS).
//! - `text` (string) or, for bytes that are not whole characters, `text_base64` with `coding`
//!   (`gsm7`, `latin1`, `ucs2`, `gbk`, `utf8` (default), `binary`). Exactly one of the two.
//! - `parts` {`ref`, `total`, `seq`} when the gateway forwards the parts of a long message one by
//!   one; each part is then kept until all have arrived (use `text_base64` when a character may
//!   straddle two parts, as UCS-2 surrogate pairs do).

use base64::Engine;
use chrono::{DateTime, Utc};
use intake_adapter::json::{check_json_depth, MAX_JSON_DEPTH};
use intake_adapter::AdapterError;
use intake_schema::RawPayload;
use serde::Deserialize;

use crate::aliyun::Id;
use crate::decode::Coding;
use crate::message::{Body, Ctx, Mo};
use crate::udh::Concat;
use crate::{auth, Call, Delivery, ProviderKind};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Message {
    message_id: Id,
    from: String,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    text_base64: Option<String>,
    #[serde(default)]
    coding: Option<Coding>,
    #[serde(default)]
    received_at: Option<String>,
    #[serde(default)]
    parts: Option<Parts>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Parts {
    #[serde(rename = "ref")]
    reference: Id,
    total: u8,
    seq: u8,
}

pub(crate) fn handle(call: &Call, ctx: &Ctx) -> Result<Delivery, AdapterError> {
    let inbound = call.inbound;
    auth::verify_intake_signature(
        inbound,
        ctx.provider.secret.as_deref(),
        ctx.provider.timestamp_tolerance_secs,
    )?;
    if inbound.method != "POST" {
        return Err(AdapterError::Malformed(format!(
            "method {} not supported",
            inbound.method
        )));
    }
    match inbound.media_type().as_deref() {
        Some("application/json") => {}
        other => {
            return Err(AdapterError::UnsupportedMediaType(format!(
                "{}; send application/json",
                other.unwrap_or("no Content-Type")
            )))
        }
    }
    let text = std::str::from_utf8(inbound.body)
        .map_err(|_| AdapterError::Encoding("body is not UTF-8".into()))?;
    check_json_depth(text, MAX_JSON_DEPTH)?;
    let message: Message = serde_json::from_str(text)
        .map_err(|e| AdapterError::Malformed(format!("not a generic SMS message: {e}")))?;
    let mo = into_mo(
        message,
        RawPayload::capture(inbound.content_type(), inbound.body),
    )?;
    let mut delivery = Delivery::new(ProviderKind::Generic);
    let (item, reason) = mo.settle(ctx);
    delivery.push(item, reason);
    Ok(delivery)
}

fn into_mo(m: Message, raw: RawPayload) -> Result<Mo, AdapterError> {
    let message_id = m.message_id.into_string();
    if message_id.is_empty() || m.from.trim().is_empty() {
        return Err(AdapterError::Malformed(
            "message_id and from must not be empty".into(),
        ));
    }
    let body = match (m.text, m.text_base64) {
        (Some(text), None) if m.coding.is_none() => Body::Text(text),
        (None, Some(b64)) => Body::Bytes {
            bytes: base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|_| AdapterError::Malformed("text_base64 is not base64".into()))?,
            coding: m.coding.unwrap_or(Coding::Utf8),
        },
        (Some(_), None) => {
            return Err(AdapterError::Malformed(
                "coding applies to text_base64 only".into(),
            ))
        }
        _ => {
            return Err(AdapterError::Malformed(
                "exactly one of text and text_base64 is required".into(),
            ))
        }
    };
    let occurred_at = m
        .received_at
        .map(|t| {
            DateTime::parse_from_rfc3339(t.trim())
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| AdapterError::Malformed("received_at is not RFC 3339".into()))
        })
        .transpose()?;
    let concat = match m.parts {
        None => None,
        Some(Parts {
            total: 1, seq: 1, ..
        }) => None,
        Some(p) => Some(
            Concat::new(p.reference.into_string(), p.total, p.seq)
                .ok_or_else(|| AdapterError::Malformed("parts: need 1 <= seq <= total".into()))?,
        ),
    };
    Ok(Mo {
        message_id,
        sender: m.from,
        destination: m.to,
        body,
        occurred_at,
        concat,
        attachments: Vec::new(),
        raw,
    })
}
