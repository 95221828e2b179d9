//! WeChat official accounts: `GET|POST /hooks/wechat/{account}`, the account's server URL.
//!
//! WeChat waits 5 seconds for the answer, then re-sends the identical request (three times in
//! all) and finally shows the citizen "该公众号暂时无法提供服务". So the answer leaves within
//! `channels.wechat.reply_budget`: a passive reply with the tracking number once the request is
//! durable, or an error status (WeChat retries) when it could not be made durable in time.

pub mod config;
mod push;
mod reply;

pub use config::{WechatAccountConfig, WechatChannelConfig};

use axum::routing::get;
use axum::Router;
use std::sync::Arc;

use crate::hook::{ChannelState, Door, RateRefusal, Shared};

/// The channel's router, with its state.
pub fn routes(shared: Shared, config: Arc<WechatChannelConfig>) -> Router {
    Router::new()
        .route(
            "/hooks/wechat/{account}",
            get(push::verify).post(push::push),
        )
        .with_state(ChannelState { shared, config })
}

/// How the shared guard sees this channel: over its rate, WeChat gets 503, since it retries
/// only after an error status.
pub fn door(config: Arc<WechatChannelConfig>) -> Door {
    Door {
        segment: "wechat",
        channel: "wechat",
        known: Arc::new(move |name| {
            (config.accounts.get(name)).is_some_and(|a| a.account(name).is_some())
        }),
        refusal: RateRefusal::Busy,
    }
}
