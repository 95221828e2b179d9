//! The media partner's web-board and radio posts: `POST /hooks/web/{partner}`.

pub mod config;
pub mod pull;
mod push;

pub use config::{WebChannelConfig, WebPartnerConfig};

use axum::routing::post;
use axum::Router;
use std::collections::HashMap;
use std::sync::Arc;

use crate::hook::{ChannelState, Door, RateRefusal, Shared};

/// Each enabled partner's adapter view, built once at start: the guard and the handler look a
/// partner up on every push, and building the view copied its name and secret each time.
pub struct WebChannel {
    partners: HashMap<String, intake_web::Partner>,
}

impl WebChannel {
    /// The enabled partners of `config` (a partner without a secret is not enabled).
    pub fn new(config: &WebChannelConfig) -> Self {
        let partners = (config.partners.keys())
            .filter_map(|name| Some((name.clone(), config.partner(name)?)))
            .collect();
        WebChannel { partners }
    }

    /// The enabled partner called `name`, ready for the adapter.
    pub fn partner(&self, name: &str) -> Option<&intake_web::Partner> {
        self.partners.get(name)
    }
}

/// The channel's router, with its state.
pub fn routes(shared: Shared, config: Arc<WebChannelConfig>) -> Router {
    Router::new()
        .route("/hooks/web/{partner}", post(push::push))
        .with_state(ChannelState {
            shared,
            config: Arc::new(WebChannel::new(&config)),
        })
}

/// How the shared guard sees this channel.
pub fn door(config: Arc<WebChannelConfig>) -> Door {
    let channel = WebChannel::new(&config);
    Door {
        segment: "web",
        channel: "web",
        known: Arc::new(move |name| channel.partner(name).is_some()),
        refusal: RateRefusal::TooManyRequests,
    }
}
