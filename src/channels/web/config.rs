//! `[channels.web]`: the media partners that may push, and with which secrets.
//!
//! A partner without its secret is disabled: its URL answers 404 exactly like a name that was
//! never configured, so a half-finished configuration is closed, not open.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

use crate::config::names::check_name;
use crate::config::Secret;

/// `[channels.web]`
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebChannelConfig {
    /// Partners by the name in `/hooks/web/{partner}`.
    pub partners: BTreeMap<String, WebPartnerConfig>,
    /// Transfer platforms accepted besides `mayor_mailbox`, `provincial_hotline`,
    /// `state_council` and `people_daily` (lowercase letters, digits, `_` and `-`).
    pub platforms: Vec<String>,
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
    /// Pull mode: poll this partner's feed (see `crate::channels::web::pull`).
    pub pull: Option<crate::channels::web::pull::PullConfig>,
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
    /// Why this section cannot work, if it cannot.
    pub fn validate(&self) -> Result<(), String> {
        for p in &self.platforms {
            let plain =
                |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-';
            if p.is_empty() || p.len() > 64 || !p.chars().all(plain) {
                return Err(format!(
                    "channels.web.platforms: {p:?} is not a platform name (lowercase letters, digits, _ and -)"
                ));
            }
        }
        for (name, partner) in &self.partners {
            check_name("channels.web.partners", name)?;
            if let Some(pull) = &partner.pull {
                pull.validate(name, partner.max_posts)?;
            }
        }
        Ok(())
    }

    /// The enabled partner called `name`, ready for the adapter.
    pub fn partner(&self, name: &str) -> Option<intake_web::Partner> {
        let cfg = self.partners.get(name)?;
        let secret = cfg.secret.as_ref().filter(|s| !s.expose().is_empty())?;
        Some(intake_web::Partner {
            name: name.to_string(),
            secret: secret.expose().to_string(),
            timestamp_tolerance_secs: cfg.timestamp_tolerance.as_secs(),
            max_posts: cfg.max_posts,
            platforms: self.platforms.clone(),
        })
    }
}
