//! The public webhook listener: one route per channel, shared limits and error mapping.

mod call;
mod error;
mod limits;
mod request;
mod sms;
mod web;
mod wechat;

pub use error::{ApiError, RETRY_AFTER_SECS};
pub use limits::{Limited, Limits, Scope};
pub use request::{trace_id, HeaderView, Hook};
pub use sms::{spawn_reassembly_timeouts, PartStore};

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use std::sync::Arc;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;

use crate::config::Config;
use crate::pipeline::Pipeline;

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The effective configuration.
    pub config: Arc<Config>,
    /// adapter -> dedup -> sink.
    pub pipeline: Arc<Pipeline>,
    /// Rate limiters and the in-flight cap, built from `config.limits`.
    pub limits: Arc<Limits>,
    /// Calls in progress, merged until their final record.
    pub calls: Arc<crate::calls::CallStates>,
    /// Parts of long SMS waiting for their siblings.
    pub sms_parts: Arc<PartStore>,
    /// SMS receipts sent through providers' send endpoints, off the request path.
    pub receipts: Arc<crate::receipts::ReceiptSender>,
}

impl AppState {
    /// The handlers' shared state, with limiters built from `config.limits`.
    pub fn new(
        config: Arc<Config>,
        pipeline: Arc<Pipeline>,
        sms_parts: Arc<PartStore>,
        receipts: Arc<crate::receipts::ReceiptSender>,
    ) -> Self {
        let limits = Arc::new(Limits::new(&config.limits));
        let calls = Arc::new(crate::calls::CallStates::new(
            config.channels.call.state_ttl,
        ));
        AppState {
            config,
            pipeline,
            limits,
            calls,
            sms_parts,
            receipts,
        }
    }
}

/// The hook routes with their limits.
pub fn router(state: AppState) -> Router {
    let limit = state.config.server.max_body_bytes;
    let timeout = state.config.server.request_timeout;
    Router::new()
        .route("/hooks/web/{partner}", post(web::push))
        .route("/hooks/call/{source}", post(call::push))
        .route("/hooks/sms/{provider}", get(sms::hook).post(sms::hook))
        .route(
            "/hooks/wechat/{account}",
            get(wechat::verify).post(wechat::push),
        )
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                Json(json!({"error": "not_found", "reason": "no such hook"})),
            )
        })
        .layer(DefaultBodyLimit::max(limit))
        // A panic is a bug; it must cost one request, never the process or other requests.
        .layer(CatchPanicLayer::new())
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        // Outermost, so that a refused request costs nothing inside and a shed one is
        // answered at once instead of waiting for a slot.
        .layer(middleware::from_fn_with_state(state.clone(), limits::guard))
        .with_state(state)
}
