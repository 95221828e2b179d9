//! The operations listener: liveness, readiness, Prometheus metrics and the live operations page.
//!
//! Kept off the public listener so that the hook port can be exposed to telecom partners and
//! WeChat without exposing internals.

pub mod auth;
pub mod lines;
mod named;
pub mod stats;
pub mod view;

#[cfg(test)]
mod tests;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;
use std::sync::{Arc, OnceLock};

use crate::cluster::Link;
use crate::pipeline::Pipeline;
use view::{SinkState, SpoolState};

/// The live operations page: one self-contained HTML file (inline CSS, JS and SVG), so it works
/// on a wall screen without internet access and loads nothing from anywhere else.
pub const PAGE: &str = include_str!("page.html");

/// What the page may load: only itself, and the stats from the same origin. A browser then
/// refuses any external asset a future edit might add, so "works offline" stays true.
const PAGE_CSP: &str =
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
                        img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
                        frame-ancestors 'none'";

/// What the ops endpoints read.
#[derive(Clone)]
pub struct OpsState {
    /// For readiness.
    pub pipeline: Arc<Pipeline>,
    /// For `/metrics`.
    pub prometheus: PrometheusHandle,
    /// Cluster mode: the link to the shared state, for its health.
    pub cluster: Option<Arc<Link>>,
    /// Credentials required for everything but `/healthz` and `/readyz`.
    pub auth: auth::OpsAuth,
    /// The per-line and per-desk counts.
    pub board: Arc<lines::LineBoard>,
}

/// The cluster as `/readyz` and the page show it; `null` for a single instance.
fn cluster_state(cluster: Option<&Arc<Link>>) -> serde_json::Value {
    cluster.map_or(serde_json::Value::Null, |link| {
        json!({
            "redis_up": link.is_up(),
            "instance_id": link.instance(),
            "peers": link.peers(),
            "degraded_requests": stats::collector().cluster_degraded_total(),
        })
    })
}

/// `/healthz`, `/readyz`, `/metrics`, `/ops` and `/ops/api/stats`.
pub fn router(state: OpsState) -> Router {
    started_ms();
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .route("/ops", get(page))
        .route("/ops/api/stats", get(api_stats))
        .route("/ops/api/lines", get(api_lines))
        .layer(axum::middleware::from_fn_with_state(
            state.auth.clone(),
            auth::require,
        ))
        .with_state(state)
}

/// When this process began serving, for the page's uptime.
fn started_ms() -> u64 {
    static STARTED: OnceLock<u64> = OnceLock::new();
    *STARTED.get_or_init(stats::now_ms)
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
        "sink_detail": sink.detail(),
        "spool": spool,
        "dedup_entries": state.pipeline.dedup().len(),
        // Redis down does not make the gateway unready: it serves on local state.
        "cluster": cluster_state(state.cluster.as_ref()),
        "feeds": crate::channels::web::pull::health::snapshot(),
    });
    (status, Json(body))
}

async fn metrics(State(state): State<OpsState>) -> impl IntoResponse {
    (
        [("content-type", "text/plain; version=0.0.4")],
        state.prometheus.render(),
    )
}

async fn page() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, PAGE_CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        PAGE,
    )
}

/// The counters of the last hour, the sink, the spool and the problems, for the page's polling.
async fn api_stats(State(state): State<OpsState>) -> impl IntoResponse {
    let now = stats::now_ms();
    let pipeline = &state.pipeline;
    let sink = SinkState {
        kind: pipeline.sink().kind(),
        up: pipeline.sink().is_ready(),
        ready: pipeline.is_ready(),
        detail: pipeline.sink().detail(),
        dedup_entries: pipeline.dedup().len(),
    };
    let spool = pipeline.spool().map(|spool| {
        let s = spool.stats();
        let samples = stats::collector().spool_sample(now, s.entries, view::SPOOL_TREND_MS);
        SpoolState {
            entries: s.entries,
            bytes: s.bytes,
            oldest_age_s: s
                .oldest
                .map(|t| (chrono::Utc::now() - t).num_milliseconds().max(0) as f64 / 1000.0),
            full: spool.is_full(),
            trend: view::spool_trend(&samples),
        }
    });
    let views = stats::collector().view_at(now);
    let mut body = view::document(now, &views, &sink, spool.as_ref(), started_ms());
    if let Some(doc) = body.as_object_mut() {
        doc.insert("cluster".into(), cluster_state(state.cluster.as_ref()));
    }
    let feeds = crate::channels::web::pull::health::snapshot();
    if let Some(problems) = body["problems"].as_array_mut() {
        // A pulled feed that keeps failing is as much a problem as a silent channel.
        for (name, f) in feeds.iter().filter(|(_, f)| f.consecutive_failures > 0) {
            let level = if f.circuit_open { "alarm" } else { "warn" };
            problems.push(
                json!({"level": level, "code": "feed_failing", "channel": "web",
                "zh": format!("拉取 {name} 连续失败 {} 次", f.consecutive_failures),
                "en": format!("feed {name}: {} failures in a row", f.consecutive_failures)}),
            );
        }
    }
    body["feeds"] = json!(feeds);
    // A count only, never a text: the banner tells the room to look at the dispatcher console.
    body["urgent_last_hour"] = json!(state.board.view(chrono::Utc::now()).urgent_last_hour);
    ([(header::CACHE_CONTROL, "no-store")], Json(body))
}

/// Today's and the last hour's requests per line and per desk (counts only).
async fn api_lines(State(state): State<OpsState>) -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "no-store")],
        Json(state.board.view(chrono::Utc::now())),
    )
}
