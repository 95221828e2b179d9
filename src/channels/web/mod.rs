//! The media partner's web-board and radio posts: `POST /hooks/web/{partner}`.

pub mod config;
pub mod pull;
mod push;

pub use config::{WebChannelConfig, WebPartnerConfig};

use axum::routing::post;
use axum::Router;
use std::sync::Arc;

use crate::hook::{ChannelState, Door, RateRefusal, Shared};

/// The channel's router, with its state.
pub fn routes(shared: Shared, config: Arc<WebChannelConfig>) -> Router {
    Router::new()
        .route("/hooks/web/{partner}", post(push::push))
        .with_state(ChannelState { shared, config })
}

/// How the shared guard sees this channel.
pub fn door(config: Arc<WebChannelConfig>) -> Door {
    Door {
        segment: "web",
        channel: "web",
        known: Arc::new(move |name| config.partner(name).is_some()),
        refusal: RateRefusal::TooManyRequests,
    }
}
