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

use crate::ops::lines::LineBoard;
use crate::pipeline::Pipeline;
use crate::routing::Router;

/// What every channel's handlers need of the gateway.
#[derive(Clone)]
pub struct Shared {
    /// adapter -> dedup -> sink.
    pub pipeline: Arc<Pipeline>,
    /// Rate limiters and the in-flight cap, built from `config.limits`.
    pub limits: Arc<Limits>,
    /// `server.max_body_bytes`: larger bodies get 413.
    pub max_body_bytes: usize,
    /// Lines, desks, rules: fills each request's `routing` block before it is published.
    pub router: Arc<Router>,
    /// The per-line counts of the ops page.
    pub board: Arc<LineBoard>,
}

impl Shared {
    /// Routes `record` (see [`Router::route`]) and wraps it for the requests topic.
    pub fn routed(
        &self,
        record: &mut intake_schema::IntakeRequest,
    ) -> Result<crate::sink::Envelope, crate::pipeline::NotDurable> {
        self.router.route(record);
        crate::sink::Envelope::request(record)
            .map_err(|e| crate::pipeline::NotDurable(e.to_string()))
    }

    /// Counts an admitted request by channel, source, outcome and line.
    pub fn counted(
        &self,
        record: &intake_schema::IntakeRequest,
        source: &str,
        outcome: &'static str,
    ) {
        crate::telemetry::record_request(&self.board, record, source, outcome);
    }
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
