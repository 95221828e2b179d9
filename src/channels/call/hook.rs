//! `POST /hooks/call/{source}`: one post of call metadata.
//!
//! Each post is answered only when what it carries is durable: live-view events on the events
//! topic, the finished call's request on the requests topic. A PBX that retries a CDR gets the
//! same request id back and publishes nothing new.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use intake_call::Item;
use intake_schema::RawPayload;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;

use super::config::CallChannelConfig;
use super::live::CallStates;
use crate::cluster::calls::SharedCalls;
use crate::hook::{body, ApiError, HeaderView, Hook, Shared};
use crate::pipeline::NotDurable;
use crate::sink::Envelope;
use crate::telemetry;

/// What the phone channel keeps: its config and the calls in progress.
#[derive(Clone)]
pub struct CallChannel {
    /// What every channel shares.
    pub shared: Shared,
    /// `[channels.call]`.
    pub config: Arc<CallChannelConfig>,
    /// Calls in progress, merged until their final record.
    pub calls: Arc<CallStates>,
}

impl CallChannel {
    /// The channel with no call in progress yet; in cluster mode calls are shared.
    pub fn new(
        shared: Shared,
        config: Arc<CallChannelConfig>,
        shared_calls: Option<Arc<SharedCalls>>,
    ) -> Self {
        let mut calls = CallStates::new(config.state_ttl);
        if let Some(shared_calls) = shared_calls {
            calls = calls.with_shared(shared_calls);
        }
        let calls = Arc::new(calls);
        CallChannel {
            shared,
            config,
            calls,
        }
    }
}

/// Authenticates, parses and publishes one post; answers one result per call message.
pub async fn push(
    State(app): State<CallChannel>,
    Path(name): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: Uri,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Response {
    let configured = app.config.source(&name);
    let hook = Hook::begin("phone", &name, configured.is_some(), &headers);
    hook.run(async {
        let source = hook.source();
        let call_source = configured.ok_or_else(|| ApiError::UnknownSource {
            kind: "source",
            name: name.chars().take(64).collect(),
        })?;
        let bytes = body(raw, app.shared.max_body_bytes)?;
        let now = chrono::Utc::now();
        let items = {
            let view = HeaderView(&headers);
            let inbound = hook.inbound("POST", &uri, &view, &bytes, Some(peer.ip()));
            intake_call::handle(
                &inbound,
                &call_source,
                app.shared.router.registry().call_lines(),
            )?
        };
        app.shared
            .limits
            .check_partner("phone", source)
            .map_err(ApiError::RateLimited)?;
        let raw = RawPayload::capture(
            headers.get("content-type").and_then(|v| v.to_str().ok()),
            &bytes,
        );
        let mut results = Vec::with_capacity(items.len());
        for item in items {
            results.push(publish(&app, source, item, now, &raw, hook.trace()).await?);
        }
        Ok(Json(json!({ "results": results })).into_response())
    })
    .await
}

async fn publish(
    app: &CallChannel,
    source: &str,
    item: Item,
    now: chrono::DateTime<chrono::Utc>,
    raw: &RawPayload,
    trace: &str,
) -> Result<Value, NotDurable> {
    let envelope_error = |e: crate::sink::SinkError| NotDurable(e.to_string());
    Ok(match item {
        Item::Update { state, event } => {
            app.shared
                .pipeline
                .submit(Envelope::event(&event).map_err(envelope_error)?)
                .await?;
            metrics::counter!("intake_events_total", "channel" => "phone", "kind" => event.kind.clone()).increment(1);
            tracing::debug!(event_id = %event.event_id, kind = %event.kind, "call progress published");
            let call_id = state.call_id.clone();
            app.calls.update(state).await;
            json!({"status": "updated", "call_id": call_id, "event_id": event.event_id})
        }
        Item::Final { state } => {
            let merged = app.calls.finish(state).await;
            let mut record = intake_call::finish(&merged, now, raw.clone(), trace);
            let envelope = app.shared.routed(&mut record)?;
            let admission = app.shared.pipeline.submit(envelope).await?;
            app.calls
                .forget(&merged.source_system, &merged.call_id)
                .await;
            let label = admission.label();
            app.shared.counted(&record, source, label);
            Hook::admitted(&record.request_id, &record.tracking_no);
            tracing::debug!(request_id = %record.request_id, tracking_no = %record.tracking_no, outcome = label, "call recorded");
            json!({"status": label, "call_id": merged.call_id, "request_id": record.request_id, "tracking_no": record.tracking_no})
        }
        Item::Skipped { reason } => {
            tracing::debug!(reason = %reason, "call message acknowledged without a record");
            json!({"status": "skipped", "reason": reason})
        }
        Item::DeadLetter(letter) => {
            app.shared
                .pipeline
                .submit(Envelope::dead_letter(&letter).map_err(envelope_error)?)
                .await?;
            telemetry::record_outcome("phone", source, "dead_lettered");
            tracing::warn!(dead_letter_id = %letter.dead_letter_id, reason = %letter.reason, "call message dead-lettered");
            json!({"status": "dead_lettered", "reason": letter.reason})
        }
    })
}
