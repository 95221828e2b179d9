//! Tencent Cloud SMS reply callback (短信回复回调).
//!
//! `POST` one JSON object `{extend, mobile, nationcode, sign, text, time}` (`time` in unix
//! seconds). The legacy SMS v1 variant has `port` instead of `extend` and neither `sign` nor
//! `nationcode`; both are accepted, and an array of such objects too.
//!
//! Tencent gives a reply no id. We derive one that a re-delivered callback reproduces:
//! `{E.164 mobile}/{time}/{extend}/{first 16 hex digits of SHA-256(text)}`. Two identical texts
//! from one phone to one extension within the same second are taken as one message.

use intake_adapter::json::{check_json_depth, MAX_JSON_DEPTH};
use intake_adapter::AdapterError;
use intake_schema::RawPayload;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::aliyun::{batch_elements, destination, Id};
use crate::message::{from_unix, Body, Ctx, Mo};
use crate::{auth, Call, Delivery, ProviderKind};

#[derive(Deserialize)]
struct Reply {
    mobile: Option<Id>,
    nationcode: Option<Id>,
    text: Option<String>,
    time: Option<Id>,
    extend: Option<Id>,
    /// Legacy v1 name of the extension code.
    port: Option<Id>,
}

pub(crate) fn handle(call: &Call, ctx: &Ctx) -> Result<Delivery, AdapterError> {
    let inbound = call.inbound;
    auth::check_token(inbound, ctx.provider.token.as_deref())?;
    if inbound.method != "POST" {
        return Err(AdapterError::Malformed(format!(
            "method {} not supported; Tencent posts replies",
            inbound.method
        )));
    }
    let text = std::str::from_utf8(inbound.body)
        .map_err(|_| AdapterError::Encoding("body is not UTF-8".into()))?;
    check_json_depth(text, MAX_JSON_DEPTH)?;
    let mut delivery = Delivery::new(ProviderKind::Tencent);
    for element in batch_elements(text)? {
        let raw = RawPayload::capture_text(Some("application/json"), element.get());
        let (item, reason) = match serde_json::from_str::<Reply>(element.get()) {
            Ok(reply) => match message(reply, ctx, raw.clone()) {
                Ok(mo) => mo.settle(ctx),
                Err(reason) => (ctx.dead_letter(reason.clone(), raw), Some(reason)),
            },
            Err(e) => {
                let reason = format!("not a Tencent reply callback: {e}");
                (ctx.dead_letter(reason.clone(), raw), Some(reason))
            }
        };
        delivery.push(item, reason);
    }
    Ok(delivery)
}

fn message(reply: Reply, ctx: &Ctx, raw: RawPayload) -> Result<Mo, String> {
    let mobile = reply
        .mobile
        .map(Id::into_string)
        .filter(|m| !m.is_empty())
        .ok_or("reply callback without mobile")?;
    let text = reply.text.ok_or("reply callback without text")?;
    let time = reply.time.map(Id::into_string).unwrap_or_default();
    let nationcode = reply
        .nationcode
        .map(Id::into_string)
        .unwrap_or_default()
        .trim_start_matches('+')
        .to_string();
    // A national number with its country code in front is international; 86 or none keeps
    // the plain Chinese form that `phone::normalize` already understands.
    let sender = match nationcode.as_str() {
        "" | "86" => mobile,
        _ if mobile.starts_with('+') || mobile.starts_with("00") => mobile,
        cc => format!("+{cc}{mobile}"),
    };
    let extend = reply
        .extend
        .or(reply.port)
        .map(Id::into_string)
        .unwrap_or_default();
    let contact = Ctx::citizen(&sender)
        .contact
        .unwrap_or_else(|| sender.clone());
    let digest = hex::encode(Sha256::digest(text.as_bytes()));
    Ok(Mo {
        message_id: format!("{contact}/{time}/{extend}/{}", &digest[..16]),
        sender,
        destination: destination(ctx, Some(&extend)),
        body: Body::Text(text),
        occurred_at: time.parse::<i64>().ok().and_then(from_unix),
        concat: None,
        attachments: Vec::new(),
        raw,
    })
}
