//! The media partner's web-board and radio push (《百姓热线》 web edition).
//!
//! `POST /hooks/web/{partner}` carries a batch of posts the partner's moderators approved. The
//! batch is signed as a whole; each post becomes one request or is rejected on its own, so one bad
//! post never costs the others.

mod auth;
mod post;
mod reply;

pub use auth::verify;
pub use post::{parse_batch, PostOutcome};
pub use reply::{BatchReply, PostResult, PostStatus};

use intake_adapter::{AdapterError, Inbound};

/// One configured partner: its name in the URL and its shared secret.
#[derive(Clone, Debug)]
pub struct Partner {
    /// The `{partner}` path segment, also the `web:{partner}` source system.
    pub name: String,
    /// The HMAC-SHA256 key both sides hold.
    pub secret: String,
    /// How far `X-Intake-Timestamp` may be from our clock, in seconds.
    pub timestamp_tolerance_secs: u64,
    /// The most posts one batch may carry.
    pub max_posts: usize,
    /// Transfer platforms this partner may forward from besides the known ones
    /// ([`intake_schema::Transfer::KNOWN_PLATFORMS`]): `channels.web.platforms`.
    pub platforms: Vec<String>,
}

impl Partner {
    /// A partner with the documented defaults (±300 s, 500 posts a batch).
    pub fn new(name: impl Into<String>, secret: impl Into<String>) -> Self {
        Partner {
            name: name.into(),
            secret: secret.into(),
            timestamp_tolerance_secs: 300,
            max_posts: 500,
            platforms: Vec::new(),
        }
    }
}

/// Verifies and parses one push: the whole batch fails on a bad signature, timestamp, content
/// type or JSON; after that each post is accepted or rejected on its own.
pub fn handle(inbound: &Inbound, partner: &Partner) -> Result<Vec<PostOutcome>, AdapterError> {
    verify(inbound, partner)?;
    match inbound.media_type().as_deref() {
        Some("application/json") => {}
        Some(other) => {
            return Err(AdapterError::UnsupportedMediaType(format!(
                "{other}; send application/json"
            )))
        }
        None => {
            return Err(AdapterError::UnsupportedMediaType(
                "missing Content-Type; send application/json".into(),
            ))
        }
    }
    parse_batch(inbound, partner)
}
