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
use intake_wechat::Account;
use std::collections::HashMap;
use std::sync::Arc;

use crate::hook::{ChannelState, Door, RateRefusal, Shared};

/// The channel's settings, with each enabled account's adapter view built once at start: the
/// guard and the handler both look an account up on every push, and building the view copied
/// its name and secrets each time.
pub struct WechatChannel {
    /// `[channels.wechat]`.
    pub settings: Arc<WechatChannelConfig>,
    accounts: HashMap<String, Account>,
}

impl WechatChannel {
    /// The channel over `settings`; an account without a token is not enabled.
    pub fn new(settings: Arc<WechatChannelConfig>) -> Self {
        let accounts = (settings.accounts.iter())
            .filter_map(|(name, account)| Some((name.clone(), account.account(name)?)))
            .collect();
        WechatChannel { settings, accounts }
    }

    /// An enabled account's settings and adapter view.
    pub fn account(&self, name: &str) -> Option<(&WechatAccountConfig, &Account)> {
        Some((self.settings.accounts.get(name)?, self.accounts.get(name)?))
    }
}

/// The channel's router, with its state.
pub fn routes(shared: Shared, config: Arc<WechatChannelConfig>) -> Router {
    Router::new()
        .route(
            "/hooks/wechat/{account}",
            get(push::verify).post(push::push),
        )
        .with_state(ChannelState {
            shared,
            config: Arc::new(WechatChannel::new(config)),
        })
}

/// How the shared guard sees this channel: over its rate, WeChat gets 503, since it retries
/// only after an error status.
pub fn door(config: Arc<WechatChannelConfig>) -> Door {
    let channel = WechatChannel::new(config);
    Door {
        segment: "wechat",
        channel: "wechat",
        known: Arc::new(move |name| channel.account(name).is_some()),
        refusal: RateRefusal::Busy,
    }
}
