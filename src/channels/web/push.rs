//! `POST /hooks/web/{partner}`: the media partner's moderated web-board and radio posts.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::future::join_all;
use intake_web::{BatchReply, PostOutcome, PostResult, PostStatus};
use std::net::SocketAddr;

use super::WebChannel;
use crate::hook::{body, ApiError, ChannelState, HeaderView, Hook};
use crate::pipeline::NotDurable;
use crate::telemetry;

/// Verifies the batch, publishes each accepted post, answers per post in input order.
pub async fn push(
    State(app): State<ChannelState<WebChannel>>,
    Path(partner): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: Uri,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Response {
    let configured = app.config.partner(&partner);
    let hook = Hook::begin("web", &partner, configured.is_some(), &headers);
    hook.run(async {
        let source = hook.source();
        let partner = configured.ok_or_else(|| ApiError::UnknownSource {
            kind: "partner",
            name: partner.chars().take(64).collect(),
        })?;
        let bytes = body(raw, app.shared.max_body_bytes)?;
        // Scoped: the borrowed view must not live across the awaits below.
        let outcomes = {
            let view = HeaderView(&headers);
            intake_web::handle(
                &hook.inbound("POST", &uri, &view, &bytes, Some(peer.ip())),
                partner,
            )?
        };
        // Only now is the partner authenticated: a forged push must not spend its budget.
        // One batch counts as one request, whatever its number of posts.
        app.shared
            .limits
            .check_partner("web", source)
            .map_err(ApiError::RateLimited)?;
        let results = join_all(outcomes.into_iter().map(|o| admit(&app, source, o)))
            .await
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?;
        // One log line per request: it names every record of the batch, in input order.
        let ids = |f: fn(&PostResult) -> Option<&String>| {
            results
                .iter()
                .filter_map(f)
                .cloned()
                .collect::<Vec<_>>()
                .join(",")
        };
        if results.len() > 1 {
            Hook::admitted(
                &ids(|r| r.request_id.as_ref()),
                &ids(|r| r.tracking_no.as_ref()),
            );
        }
        Ok(Json(BatchReply { results }).into_response())
    })
    .await
}

/// Publishes one post, or reports why it was rejected. Only "not durable" fails the batch.
async fn admit(
    app: &ChannelState<WebChannel>,
    source: &str,
    outcome: PostOutcome,
) -> Result<PostResult, NotDurable> {
    let mut record = match outcome.result {
        Ok(record) => record,
        Err(reason) => {
            telemetry::record_outcome("web", source, "rejected");
            tracing::debug!(post_status = "rejected", "post rejected");
            return Ok(PostResult {
                id: outcome.id,
                status: PostStatus::Rejected,
                request_id: None,
                tracking_no: None,
                error: Some(reason),
            });
        }
    };
    let envelope = app.shared.routed(&mut record)?;
    let admission = app.shared.pipeline.submit(envelope).await?;
    let status = if admission.is_new() {
        PostStatus::Accepted
    } else {
        PostStatus::Duplicate
    };
    let label = admission.label();
    app.shared.counted(&record, source, label);
    Hook::admitted(&record.request_id, &record.tracking_no);
    tracing::debug!(request_id = %record.request_id, tracking_no = %record.tracking_no, post_status = label, "post admitted");
    Ok(PostResult {
        id: outcome.id,
        status,
        request_id: Some(record.request_id.to_string()),
        tracking_no: Some(record.tracking_no.to_string()),
        error: None,
    })
}
