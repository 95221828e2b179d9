//! SMS: `GET|POST /hooks/sms/{provider}`, mobile-originated messages from the hotline's SMS
//! gateways.
//!
//! Gateways retry what we do not acknowledge, and some push the same message twice anyway; the
//! request id (provider, sender, the provider's message id) turns both into duplicates. The
//! parts of a long SMS are acknowledged one by one once each is durable in the parts store, and
//! joined when the last arrives ([`reassembly`]).

pub mod config;
mod hook;
pub mod parts;
pub mod reassembly;
pub mod receipts;

pub use config::{SmsChannelConfig, SmsProviderConfig};
pub use hook::SmsChannel;

use axum::routing::get;
use axum::Router;
use std::sync::Arc;
use tokio::task::JoinHandle;

use crate::hook::{Door, RateRefusal};

/// The channel's router, with its state.
pub fn routes(channel: SmsChannel) -> Router {
    Router::new()
        .route("/hooks/sms/{provider}", get(hook::hook).post(hook::hook))
        .with_state(channel)
}

/// How the shared guard sees this channel.
pub fn door(config: Arc<SmsChannelConfig>) -> Door {
    Door {
        segment: "sms",
        channel: "sms",
        known: Arc::new(move |name| config.provider(name).is_some()),
        refusal: RateRefusal::TooManyRequests,
    }
}

/// Publishes, marked incomplete, every long SMS whose parts waited past the reassembly timeout.
pub fn spawn_reassembly_timeouts(channel: &SmsChannel) -> JoinHandle<()> {
    reassembly::spawn_timeouts(
        channel.parts.clone(),
        channel.shared_parts.clone(),
        channel.shared.clone(),
        channel.config.reassembly_timeout,
    )
}
