//! The phone channel: `POST /hooks/call/{source}`, call metadata from the hotline's PBX or SIP
//! proxy (FreeSWITCH, Asterisk, Kamailio, a generic CTI).
//!
//! Progress events (new call, answer) go to the events topic at once and are kept in
//! [`live`] until the final message (hangup or CDR) turns the call into one request.

pub mod config;
mod hook;
pub mod live;

pub use config::{CallChannelConfig, CallSourceConfig};
pub use hook::CallChannel;

use axum::routing::post;
use axum::Router;
use std::sync::Arc;

use crate::hook::{Door, RateRefusal};

/// The channel's router, with its state.
pub fn routes(channel: CallChannel) -> Router {
    Router::new()
        .route("/hooks/call/{source}", post(hook::push))
        .with_state(channel)
}

/// How the shared guard sees this channel (its metrics label is `phone`).
pub fn door(config: Arc<CallChannelConfig>) -> Door {
    Door {
        segment: "call",
        channel: "phone",
        known: Arc::new(move |name| config.source(name).is_some()),
        refusal: RateRefusal::TooManyRequests,
    }
}
