//! The public hook listener's router: every channel's routes merged, with the layers they
//! share around them (body limit, panic catcher, timeout, and the guard outermost).

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware;
use axum::{Json, Router};
use serde_json::json;
use std::sync::Arc;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;

use crate::channels::call::CallChannel;
use crate::channels::sms::SmsChannel;
use crate::channels::{call, sms, web, wechat};
use crate::config::{ChannelsConfig, ServerConfig};
use crate::hook::guard::{guard, GuardState};
use crate::hook::Shared;

/// The channels that keep state between requests, built by the caller (it owns their upkeep).
pub struct Stateful {
    /// SMS: parts of long messages and receipts.
    pub sms: SmsChannel,
    /// Phone: calls in progress.
    pub call: CallChannel,
}

/// The hook routes of every channel, with the shared limits and layers.
pub fn router(
    server: &ServerConfig,
    channels: &ChannelsConfig,
    shared: Shared,
    stateful: Stateful,
) -> Router {
    let web_config = Arc::new(channels.web.clone());
    let wechat_config = Arc::new(channels.wechat.clone());
    let doors = [
        web::door(web_config.clone()),
        wechat::door(wechat_config.clone()),
        sms::door(stateful.sms.config.clone()),
        call::door(stateful.call.config.clone()),
    ];
    let guard_state = GuardState {
        limits: shared.limits.clone(),
        doors: Arc::from(doors),
    };
    let channels = Router::new()
        .merge(web::routes(shared.clone(), web_config))
        .merge(wechat::routes(shared, wechat_config))
        .merge(sms::routes(stateful.sms))
        .merge(call::routes(stateful.call))
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                Json(json!({"error": "not_found", "reason": "no such hook"})),
            )
        });
    // The shared layers wrap the router once, not each route: `Router::layer` wraps every route
    // with its own copy of the stack, and axum clones a route's boxed stack for each request
    // (about twenty allocations a request here). Outermost first.
    let layered = ServiceBuilder::new()
        // Outermost, so that a refused request costs nothing inside and a shed one is
        // answered at once instead of waiting for a slot.
        .layer(middleware::from_fn_with_state(guard_state, guard))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            server.request_timeout,
        ))
        // A panic is a bug; it must cost one request, never the process or other requests.
        .layer(CatchPanicLayer::new())
        .layer(DefaultBodyLimit::max(server.max_body_bytes))
        .service(channels);
    Router::new().fallback_service(layered)
}
