//! `GET|POST /hooks/wechat/{account}`: URL verification, and pushed messages and events.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use intake_adapter::AdapterError;
use intake_schema::{Language, RequestId};
use intake_wechat::{Account, Mode, Push, PushKind};
use std::net::SocketAddr;

use super::config::WechatAccountConfig;
use super::reply::{reply, slow_down, NO_REPLY};
use super::WechatChannel;
use crate::hook::{body, ApiError, ChannelState, HeaderView, Hook};
use crate::pipeline::NotDurable;
use crate::sink::Envelope;
use crate::telemetry;

/// URL verification: echo `echostr` when the signature matches the account token.
pub async fn verify(
    State(app): State<ChannelState<WechatChannel>>,
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
            intake_wechat::verify_url(&hook.inbound("GET", &uri, &view, b"", None), account)?;
        tracing::debug!("URL verification answered");
        Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], echo).into_response())
    })
    .await
}

/// A pushed message or event.
pub async fn push(
    State(app): State<ChannelState<WechatChannel>>,
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
        let bytes = body(raw, app.shared.max_body_bytes)?;
        let push = {
            let view = HeaderView(&headers);
            let inbound = hook.inbound("POST", &uri, &view, &bytes, Some(peer.ip()));
            intake_wechat::parse_push(&inbound, account)?
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
        let seen = app.shared.pipeline.dedup().is_seen(push_id(&push));
        if !seen {
            if let Err(limited) = app.shared.limits.check_sender("wechat", &push.from_user) {
                return slow_down(source, account, &push, limited);
            }
        }
        answer(&app, source, config, account, push).await
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
    app: &ChannelState<WechatChannel>,
    source: &str,
    config: &WechatAccountConfig,
    account: &Account,
    mut push: Push,
) -> Result<Response, ApiError> {
    let budget = app.config.settings.reply_budget;
    let routed = match &mut push.kind {
        PushKind::Request(record) => Some(app.shared.routed(record)?),
        _ => None,
    };
    match &push.kind {
        PushKind::Request(record) => {
            let envelope = routed.ok_or_else(|| NotDurable("request not routed".into()))?;
            let admission = app.shared.pipeline.submit_within(envelope, budget).await?;
            let label = admission.label();
            app.shared.counted(record, source, label);
            Hook::admitted(&record.request_id, &record.tracking_no);
            tracing::debug!(request_id = %record.request_id, tracking_no = %record.tracking_no, outcome = label, "message admitted");
            let template = if record.content.language == Language::Ko {
                &config.reply_template_ko
            } else {
                &config.reply_template
            };
            let text = intake_wechat::reply_template(template, record.tracking_no.as_str());
            // Deterministic: a re-delivery is routed the same, so its reply stays byte-identical.
            let text = app.shared.router.acknowledgement(record, &text);
            reply(&push, account, &text, record.request_id)
        }
        PushKind::Event(event) => {
            let envelope = Envelope::event(event).map_err(|e| NotDurable(e.to_string()))?;
            app.shared.pipeline.submit_within(envelope, budget).await?;
            metrics::counter!("intake_events_total", "channel" => "wechat", "kind" => event.kind.clone()).increment(1);
            tracing::debug!(event_id = %event.event_id, kind = %event.kind, "event published");
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
            app.shared.pipeline.submit_within(envelope, budget).await?;
            telemetry::record_outcome("wechat", source, "dead_lettered");
            tracing::warn!(dead_letter_id = %letter.dead_letter_id, reason = %letter.reason, "push dead-lettered");
            Ok(NO_REPLY.into_response())
        }
    }
}

fn enabled<'a>(
    app: &'a ChannelState<WechatChannel>,
    name: &str,
) -> Option<(&'a WechatAccountConfig, &'a Account)> {
    app.config.account(name)
}

fn unknown(name: &str) -> ApiError {
    ApiError::UnknownSource {
        kind: "account",
        name: name.chars().take(64).collect(),
    }
}
