//! `GET|POST /hooks/wechat/{account}`: the official account's server URL.
//!
//! WeChat waits 5 seconds for the answer, then re-sends the identical request (three times in
//! all) and finally shows the citizen "该公众号暂时无法提供服务". So the answer leaves within
//! `channels.wechat.reply_budget`: a passive reply with the tracking number once the request is
//! durable, or an error status (WeChat retries) when it could not be made durable in time.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use intake_adapter::AdapterError;
use intake_schema::{Language, RequestId};
use intake_wechat::{Account, Mode, Push, PushKind};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;

use super::request::{body, HeaderView, Hook};
use super::{ApiError, AppState, Limited};
use crate::config::WechatAccountConfig;
use crate::pipeline::NotDurable;
use crate::sink::Envelope;
use crate::telemetry;

/// WeChat's documented answer for "received, nothing to say".
const NO_REPLY: &str = "success";

/// The passive reply to a citizen over `limits.sender_per_minute`: WeChat shows an error status
/// as "该公众号暂时无法提供服务", which would read as if the hotline were down.
const SLOW_DOWN_ZH: &str = "您的消息发送过于频繁，请稍后再试。";
/// The same, for a citizen who wrote in Korean.
const SLOW_DOWN_KO: &str = "메시지를 너무 자주 보내셨습니다. 잠시 후 다시 시도해 주세요.";
/// The same, when the language is unknown (the welcome text is bilingual too).
const SLOW_DOWN_BOTH: &str =
    "您的消息发送过于频繁，请稍后再试。/ 메시지를 너무 자주 보내셨습니다. 잠시 후 다시 시도해 주세요.";

/// URL verification: echo `echostr` when the signature matches the account token.
pub async fn verify(
    State(app): State<AppState>,
    Path(name): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let configured = enabled(&app, &name);
    let hook = Hook::begin("wechat", &name, configured.is_some(), &headers);
    hook.run(async {
        let (_, account) = configured.ok_or_else(|| unknown(&name))?;
        let view = HeaderView(&headers);
        let echo =
            intake_wechat::verify_url(&hook.inbound("GET", &uri, &view, b"", None), &account)?;
        tracing::info!("URL verification answered");
        Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], echo).into_response())
    })
    .await
}

/// A pushed message or event.
pub async fn push(
    State(app): State<AppState>,
    Path(name): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: Uri,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Response {
    let configured = enabled(&app, &name);
    let hook = Hook::begin("wechat", &name, configured.is_some(), &headers);
    hook.run(async {
        let source = hook.source();
        let (config, account) = configured.ok_or_else(|| unknown(&name))?;
        let bytes = body(raw, app.config.server.max_body_bytes)?;
        let push = {
            let view = HeaderView(&headers);
            let inbound = hook.inbound("POST", &uri, &view, &bytes, Some(peer.ip()));
            intake_wechat::parse_push(&inbound, &account)?
        };
        if account.aes_key.is_some() && push.mode == Mode::Plaintext {
            return Err(AdapterError::Unauthorized(
                "this account is configured for encrypted mode; plaintext pushes are refused"
                    .into(),
            )
            .into());
        }
        // The openid is known (and authentic) only now; the channel limit ran before parsing.
        // A re-delivery of something already accepted skips the limit: WeChat's retries must get
        // the byte-identical first answer, and they cost nothing downstream.
        let seen = app.pipeline.dedup().is_seen(push_id(&push));
        if !seen {
            if let Err(limited) = app.limits.check_sender("wechat", &push.from_user) {
                return slow_down(source, &account, &push, limited);
            }
        }
        answer(&app, source, config, &account, push).await
    })
    .await
}

/// The dedup id of whatever the push carries.
fn push_id(push: &Push) -> RequestId {
    match &push.kind {
        PushKind::Request(r) => r.request_id,
        PushKind::Event(e) => RequestId::from_uuid(e.event_id),
        PushKind::DeadLetter(d) => RequestId::from_uuid(d.dead_letter_id),
    }
}

async fn answer(
    app: &AppState,
    source: &str,
    config: &WechatAccountConfig,
    account: &Account,
    push: Push,
) -> Result<Response, ApiError> {
    let budget = app.config.channels.wechat.reply_budget;
    match &push.kind {
        PushKind::Request(record) => {
            let envelope = Envelope::request(record).map_err(|e| NotDurable(e.to_string()))?;
            let admission = app.pipeline.submit_within(envelope, budget).await?;
            let label = admission.label();
            telemetry::record_outcome("wechat", source, label);
            super::Hook::admitted(&record.request_id, &record.tracking_no);
            tracing::info!(request_id = %record.request_id, tracking_no = %record.tracking_no, outcome = label, "message admitted");
            let template = if record.content.language == Language::Ko {
                &config.reply_template_ko
            } else {
                &config.reply_template
            };
            let text = intake_wechat::reply_template(template, record.tracking_no.as_str());
            reply(&push, account, &text, record.request_id)
        }
        PushKind::Event(event) => {
            let envelope = Envelope::event(event).map_err(|e| NotDurable(e.to_string()))?;
            app.pipeline.submit_within(envelope, budget).await?;
            metrics::counter!("intake_events_total", "channel" => "wechat", "kind" => event.kind.clone()).increment(1);
            tracing::info!(event_id = %event.event_id, kind = %event.kind, "event published");
            let key = event
                .attributes
                .get("EventKey")
                .map(String::as_str)
                .unwrap_or("");
            let text = match event.kind.as_str() {
                "wechat.subscribe" => config.welcome_text.as_str(),
                "wechat.click" if config.menu_keys.iter().any(|k| k == key) => {
                    config.menu_prompt.as_str()
                }
                _ => "",
            };
            if text.is_empty() {
                return Ok(NO_REPLY.into_response());
            }
            reply(&push, account, text, RequestId::from_uuid(event.event_id))
        }
        PushKind::DeadLetter(letter) => {
            let envelope = Envelope::dead_letter(letter).map_err(|e| NotDurable(e.to_string()))?;
            app.pipeline.submit_within(envelope, budget).await?;
            telemetry::record_outcome("wechat", source, "dead_lettered");
            tracing::warn!(dead_letter_id = %letter.dead_letter_id, reason = %letter.reason, "push dead-lettered");
            Ok(NO_REPLY.into_response())
        }
    }
}

/// A sender over its limit: nothing is published. A message gets a polite reply (200, so WeChat
/// does not re-send it); an event gets none, because the citizen typed nothing and a "too
/// frequent" message after a follow or an automatic location report would only confuse.
fn slow_down(
    source: &str,
    account: &Account,
    push: &Push,
    limited: Limited,
) -> Result<Response, ApiError> {
    telemetry::record_outcome("wechat", source, "rate_limited");
    tracing::info!(
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
fn reply(push: &Push, account: &Account, text: &str, id: RequestId) -> Result<Response, ApiError> {
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

fn enabled<'a>(app: &'a AppState, name: &str) -> Option<(&'a WechatAccountConfig, Account)> {
    let config = app.config.channels.wechat.accounts.get(name)?;
    config.account(name).map(|account| (config, account))
}

fn unknown(name: &str) -> ApiError {
    ApiError::UnknownSource {
        kind: "account",
        name: name.chars().take(64).collect(),
    }
}
