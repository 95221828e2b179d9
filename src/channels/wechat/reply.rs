//! What the gateway answers WeChat: passive replies, byte-identical for every re-delivery.
//!
//! WeChat waits 5 seconds for the answer, then re-sends the identical request (three times in
//! all); each re-delivery must get exactly the first answer.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use intake_schema::{Language, RequestId};
use intake_wechat::{Account, Push, PushKind};
use sha2::{Digest, Sha256};

use crate::hook::{ApiError, Limited};
use crate::telemetry;

/// WeChat's documented answer for "received, nothing to say".
pub const NO_REPLY: &str = "success";

/// The passive reply to a citizen over `limits.sender_per_minute`: WeChat shows an error status
/// as "该公众号暂时无法提供服务", which would read as if the hotline were down.
const SLOW_DOWN_ZH: &str = "您的消息发送过于频繁，请稍后再试。";
/// The same, for a citizen who wrote in Korean.
const SLOW_DOWN_KO: &str = "메시지를 너무 자주 보내셨습니다. 잠시 후 다시 시도해 주세요.";
/// The same, when the language is unknown (the welcome text is bilingual too).
const SLOW_DOWN_BOTH: &str =
    "您的消息发送过于频繁，请稍后再试。/ 메시지를 너무 자주 보내셨습니다. 잠시 후 다시 시도해 주세요.";

/// A sender over its limit: nothing is published. A message gets a polite reply (200, so WeChat
/// does not re-send it); an event gets none, because the citizen typed nothing and a "too
/// frequent" message after a follow or an automatic location report would only confuse.
pub fn slow_down(
    source: &str,
    account: &Account,
    push: &Push,
    limited: Limited,
) -> Result<Response, ApiError> {
    telemetry::record_outcome("wechat", source, "rate_limited");
    tracing::debug!(
        limit = "sender",
        retry_after_s = limited.retry_after_secs(),
        "sender rate limited; not published"
    );
    let (text, id) = match &push.kind {
        PushKind::Request(record) => {
            let text = match record.content.language {
                Language::Ko => SLOW_DOWN_KO,
                Language::Zh => SLOW_DOWN_ZH,
                _ => SLOW_DOWN_BOTH,
            };
            (text, record.request_id)
        }
        PushKind::DeadLetter(letter) => {
            (SLOW_DOWN_BOTH, RequestId::from_uuid(letter.dead_letter_id))
        }
        PushKind::Event(_) => return Ok(NO_REPLY.into_response()),
    };
    reply(push, account, text, id)
}

/// The passive reply, byte-identical for every re-delivery of one message: its time is the
/// push's timestamp, and in encrypted modes the nonce is the push's and the 16 "random" bytes are
/// derived from the account key and the id. WeChat's retries then get exactly the first answer.
pub fn reply(
    push: &Push,
    account: &Account,
    text: &str,
    id: RequestId,
) -> Result<Response, ApiError> {
    let at = chrono::DateTime::from_timestamp(push.timestamp, 0).unwrap_or_else(chrono::Utc::now);
    let mut seed = Sha256::new();
    seed.update(account.aes_key.as_deref().unwrap_or("").as_bytes());
    seed.update(id.as_uuid().as_bytes());
    let digest = seed.finalize();
    let mut random = [0u8; 16];
    random.copy_from_slice(&digest[..16]);
    let xml = intake_wechat::render_text_reply(push, account, text, at, random, &push.nonce)?;
    Ok((
        [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
        xml,
    )
        .into_response())
}
