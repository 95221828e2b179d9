//! `[channels.*]`: which sources may call us, and with which secrets.
//!
//! A source without its secret is disabled: its URL answers 404 exactly like a name that was
//! never configured, so a half-finished configuration is closed, not open.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

use super::Secret;

/// All channels.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChannelsConfig {
    /// The media partner's web-board and radio push.
    pub web: WebChannelConfig,
    /// WeChat official accounts.
    pub wechat: super::wechat::WechatChannelConfig,
    /// PBXes and SIP proxies reporting calls.
    pub call: super::call::CallChannelConfig,
    /// SMS gateways.
    pub sms: super::sms::SmsChannelConfig,
}

impl ChannelsConfig {
    pub(super) fn validate(&self) -> Result<(), String> {
        for (name, partner) in &self.web.partners {
            check_name("channels.web.partners", name)?;
            if let Some(pull) = &partner.pull {
                pull.validate(name, partner.max_posts)?;
            }
        }
        self.sms.validate()?;
        for name in self.call.sources.keys() {
            check_name("channels.call.sources", name)?;
        }
        for (name, account) in &self.wechat.accounts {
            check_name("channels.wechat.accounts", name)?;
            account.validate(name)?;
        }
        Ok(())
    }
}

pub(super) fn check_name(table: &str, name: &str) -> Result<(), String> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(format!(
            "{table}.{name:?}: names are letters, digits, - and _ (they appear in URLs)"
        ));
    }
    Ok(())
}

/// `[channels.web]`
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebChannelConfig {
    /// Partners by the name in `/hooks/web/{partner}`.
    pub partners: BTreeMap<String, WebPartnerConfig>,
}

/// `[channels.web.partners.<name>]`
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebPartnerConfig {
    /// The HMAC key; the partner is enabled only when it is set.
    pub secret: Option<Secret>,
    /// Allowed distance between `X-Intake-Timestamp` and our clock.
    #[serde(with = "humantime_serde")]
    pub timestamp_tolerance: Duration,
    /// Most posts in one batch.
    pub max_posts: usize,
    /// Pull mode: poll this partner's feed (see `crate::pull`).
    pub pull: Option<crate::pull::PullConfig>,
}

impl Default for WebPartnerConfig {
    fn default() -> Self {
        WebPartnerConfig {
            secret: None,
            timestamp_tolerance: Duration::from_secs(300),
            max_posts: 500,
            pull: None,
        }
    }
}

impl WebChannelConfig {
    /// The enabled partner called `name`, ready for the adapter.
    pub fn partner(&self, name: &str) -> Option<intake_web::Partner> {
        let cfg = self.partners.get(name)?;
        let secret = cfg.secret.as_ref().filter(|s| !s.expose().is_empty())?;
        Some(intake_web::Partner {
            name: name.to_string(),
            secret: secret.expose().to_string(),
            timestamp_tolerance_secs: cfg.timestamp_tolerance.as_secs(),
            max_posts: cfg.max_posts,
        })
    }
}
