//! What every hook shares, whatever its channel: the adapter's view of a request, trace ids,
//! the error type and its statuses, limits, and the state a channel's handlers start from.
//!
//! Nothing here knows a channel by name: each channel describes itself with a [`Door`] and
//! builds its own router over a [`Shared`].

pub mod error;
pub mod guard;
pub mod limits;
pub mod request;

pub use error::{ApiError, RETRY_AFTER_SECS};
pub use guard::{Door, Known, RateRefusal};
pub use limits::{Limited, Limits, Scope};
pub use request::{body, trace_id, HeaderView, Hook};

use std::sync::Arc;

use crate::pipeline::Pipeline;

/// What every channel's handlers need of the gateway.
#[derive(Clone)]
pub struct Shared {
    /// adapter -> dedup -> sink.
    pub pipeline: Arc<Pipeline>,
    /// Rate limiters and the in-flight cap, built from `config.limits`.
    pub limits: Arc<Limits>,
    /// `server.max_body_bytes`: larger bodies get 413.
    pub max_body_bytes: usize,
}

/// The state of a channel that keeps nothing between requests: the shared parts and its config.
pub struct ChannelState<C> {
    /// What every channel shares.
    pub shared: Shared,
    /// This channel's `[channels.*]` section.
    pub config: Arc<C>,
}

// Derived Clone would ask for `C: Clone`; only the Arc is cloned.
impl<C> Clone for ChannelState<C> {
    fn clone(&self) -> Self {
        ChannelState {
            shared: self.shared.clone(),
            config: self.config.clone(),
        }
    }
}
