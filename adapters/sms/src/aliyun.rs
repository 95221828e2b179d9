//! Alibaba Cloud SMS, mobile-originated messages by HTTP batch push (SmsUp, 上行短信).
//!
//! `POST` a JSON array of `{phone_number, content, send_time, dest_code, sequence_id,
//! sign_name}`; `send_time` is China time (`yyyy-MM-dd HH:mm:ss`, UTC+8) and `sequence_id` a
//! number (older docs) or a string (newer ones). The console's connectivity check is a `GET`.
//! Aliyun re-pushes a batch whose answer is not HTTP 200 (after 1, 5, 10… minutes), so one bad
//! element must not fail the batch: it becomes a dead letter and the rest go through.

use intake_adapter::json::{check_json_depth, MAX_JSON_DEPTH};
use intake_adapter::AdapterError;
use intake_schema::RawPayload;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::message::{parse_china_time, Body, Ctx, Mo};
use crate::{auth, Call, Delivery, ProviderKind};

/// The most messages one push may carry; Aliyun's batches are far smaller.
pub const MAX_BATCH: usize = 1000;

#[derive(Deserialize)]
struct SmsUp {
    phone_number: Option<String>,
    content: Option<String>,
    send_time: Option<String>,
    dest_code: Option<String>,
    sequence_id: Option<Id>,
}

/// Ids come as JSON numbers or strings depending on the doc version.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum Id {
    Text(String),
    Number(serde_json::Number),
}

impl Id {
    pub(crate) fn into_string(self) -> String {
        match self {
            Id::Text(s) => s.trim().to_string(),
            Id::Number(n) => n.to_string(),
        }
    }
}

pub(crate) fn handle(call: &Call, ctx: &Ctx) -> Result<Delivery, AdapterError> {
    let inbound = call.inbound;
    auth::check_token(inbound, ctx.provider.token.as_deref())?;
    let mut delivery = Delivery::new(ProviderKind::Aliyun);
    match inbound.method {
        "GET" | "HEAD" => {
            delivery.probe = true;
            return Ok(delivery);
        }
        "POST" => {}
        other => {
            return Err(AdapterError::Malformed(format!(
                "method {other} not supported"
            )))
        }
    }
    let text = std::str::from_utf8(inbound.body)
        .map_err(|_| AdapterError::Encoding("body is not UTF-8".into()))?;
    check_json_depth(text, MAX_JSON_DEPTH)?;
    let elements = batch_elements(text)?;
    for element in elements {
        let raw = RawPayload::capture_text(Some("application/json"), element.get());
        let (item, reason) = match serde_json::from_str::<SmsUp>(element.get()) {
            Ok(up) => match message(up, ctx, raw.clone()) {
                Ok(mo) => mo.settle(ctx),
                Err(reason) => (ctx.dead_letter(reason.clone(), raw), Some(reason)),
            },
            Err(e) => {
                let reason = format!("not an SmsUp message: {e}");
                (ctx.dead_letter(reason.clone(), raw), Some(reason))
            }
        };
        delivery.push(item, reason);
    }
    Ok(delivery)
}

/// The elements of the pushed array; a lone object is taken as a batch of one.
pub(crate) fn batch_elements(text: &str) -> Result<Vec<&RawValue>, AdapterError> {
    let trimmed = text.trim_start();
    let elements: Vec<&RawValue> = if trimmed.starts_with('{') {
        let one: &RawValue = serde_json::from_str(text)
            .map_err(|e| AdapterError::Malformed(format!("body is not JSON: {e}")))?;
        vec![one]
    } else {
        serde_json::from_str(text)
            .map_err(|e| AdapterError::Malformed(format!("body is not a JSON array: {e}")))?
    };
    if elements.len() > MAX_BATCH {
        return Err(AdapterError::Malformed(format!(
            "batch of {} messages exceeds {MAX_BATCH}",
            elements.len()
        )));
    }
    Ok(elements)
}

fn message(up: SmsUp, ctx: &Ctx, raw: RawPayload) -> Result<Mo, String> {
    let phone = up
        .phone_number
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .ok_or("SmsUp message without phone_number")?;
    let content = up.content.ok_or("SmsUp message without content")?;
    let sequence = up
        .sequence_id
        .map(Id::into_string)
        .filter(|s| !s.is_empty())
        .ok_or("SmsUp message without sequence_id")?;
    let contact = Ctx::citizen(&phone)
        .contact
        .unwrap_or_else(|| phone.clone());
    Ok(Mo {
        // Aliyun's sequence ids are per phone number, so the pair is the dedup key.
        message_id: format!("{contact}/{sequence}"),
        sender: phone,
        destination: destination(ctx, up.dest_code.as_deref()),
        body: Body::Text(content),
        occurred_at: up.send_time.as_deref().and_then(parse_china_time),
        concat: None,
        attachments: Vec::new(),
        raw,
    })
}

/// The number the citizen texted: the configured service number with the extension code
/// appended, or the bare code when no service number is configured.
pub(crate) fn destination(ctx: &Ctx, code: Option<&str>) -> Option<String> {
    let code = code.map(str::trim).unwrap_or("");
    let base = ctx
        .provider
        .service_number
        .as_deref()
        .map(str::trim)
        .unwrap_or("");
    let full = format!("{base}{code}");
    // Both tried by `lines`: the full number first, else the bare extension code.
    match (
        full.is_empty(),
        ctx.lines.resolve(&full).is_some() || base.is_empty(),
    ) {
        (true, _) => None,
        (false, true) => Some(full),
        (false, false) if code.is_empty() => Some(full),
        (false, false) => Some(code.to_string()),
    }
}
