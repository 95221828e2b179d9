//! The operations listener: liveness, readiness and Prometheus metrics.
//!
//! Kept off the public listener so that the hook port can be exposed to telecom partners and
//! WeChat without exposing internals.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;
use std::sync::Arc;

use crate::pipeline::Pipeline;

/// What the ops endpoints read.
#[derive(Clone)]
pub struct OpsState {
    /// For readiness.
    pub pipeline: Arc<Pipeline>,
    /// For `/metrics`.
    pub prometheus: PrometheusHandle,
}

/// `/healthz`, `/readyz`, `/metrics`.
pub fn router(state: OpsState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// 200 when records can be made durable now (Kafka up, or room in the spool); 503 otherwise, so a load balancer sends callers
/// to another instance instead of making them wait for a 503 per request.
async fn ready(State(state): State<OpsState>) -> impl IntoResponse {
    let sink = state.pipeline.sink();
    let ready = state.pipeline.is_ready();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let spool = state.pipeline.spool().map(|s| {
        let stats = s.stats();
        json!({"entries": stats.entries, "bytes": stats.bytes, "oldest": stats.oldest, "full": s.is_full()})
    });
    let body = json!({
        "ready": ready,
        "sink": sink.kind(),
        "sink_up": sink.is_ready(),
        "spool": spool,
        "dedup_entries": state.pipeline.dedup().len(),
    });
    (status, Json(body))
}

async fn metrics(State(state): State<OpsState>) -> impl IntoResponse {
    (
        [("content-type", "text/plain; version=0.0.4")],
        state.prometheus.render(),
    )
}
