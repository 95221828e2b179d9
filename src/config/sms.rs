//! `[channels.sms]`: SMS gateways that post mobile-originated messages, and the service numbers.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

use super::Secret;
pub use intake_sms::ProviderKind;

/// `[channels.sms]`
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmsChannelConfig {
    /// Providers by the name in `/hooks/sms/{provider}`.
    pub providers: BTreeMap<String, SmsProviderConfig>,
    /// Hotline line -> the service numbers / extension codes that reach it.
    pub lines: BTreeMap<String, Vec<String>>,
    /// How long the parts of a long SMS wait for the rest before what arrived is published,
    /// marked incomplete.
    #[serde(with = "humantime_serde")]
    pub reassembly_timeout: Duration,
}

impl Default for SmsChannelConfig {
    fn default() -> Self {
        SmsChannelConfig {
            providers: BTreeMap::new(),
            lines: BTreeMap::new(),
            reassembly_timeout: Duration::from_secs(600),
        }
    }
}

/// `[channels.sms.providers.<name>]`
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsProviderConfig {
    /// `aliyun`, `tencent`, `twilio`, `kannel`, `jasmin` or `generic`.
    pub kind: ProviderKind,
    /// URL token (aliyun, tencent, kannel, jasmin), compared in constant time.
    #[serde(default)]
    pub token: Option<Secret>,
    /// Twilio auth token.
    #[serde(default)]
    pub auth_token: Option<Secret>,
    /// Twilio: the public base URL Twilio calls (the gateway sits behind a proxy).
    #[serde(default)]
    pub public_url: Option<String>,
    /// Generic: HMAC key.
    #[serde(default)]
    pub secret: Option<Secret>,
    /// CIDR allow list of the provider's callback addresses; empty = any.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Allowed clock distance of signed (generic) pushes.
    #[serde(default = "five_minutes", with = "humantime_serde")]
    pub timestamp_tolerance: Duration,
    /// The service number that aliyun `dest_code` / tencent `extend` extension codes extend.
    #[serde(default)]
    pub service_number: Option<String>,
    /// Answer the citizen with the tracking number (Twilio and Kannel: in the reply).
    #[serde(default)]
    pub receipt: bool,
    /// The receipt text; `{tracking_no}` is replaced.
    #[serde(default = "receipt_text")]
    pub receipt_template: String,
}

fn five_minutes() -> Duration {
    Duration::from_secs(300)
}

fn receipt_text() -> String {
    "【12345】您的诉求已受理，受理编号：{tracking_no}。".to_string()
}

impl SmsChannelConfig {
    /// The enabled provider called `name` (its kind's secret is set).
    pub fn provider(&self, name: &str) -> Option<intake_sms::Provider> {
        let c = self.providers.get(name)?;
        let mut p = intake_sms::Provider::new(name, c.kind);
        p.token = c.token.as_ref().map(|s| s.expose().to_string());
        p.auth_token = c.auth_token.as_ref().map(|s| s.expose().to_string());
        p.public_url = c.public_url.clone();
        p.secret = c.secret.as_ref().map(|s| s.expose().to_string());
        p.allow = c.allow.clone();
        p.timestamp_tolerance_secs = c.timestamp_tolerance.as_secs();
        p.service_number = c.service_number.clone();
        p.enabled().then_some(p)
    }

    pub(super) fn validate(&self) -> Result<(), String> {
        for (name, c) in &self.providers {
            super::channels::check_name("channels.sms.providers", name)?;
            if let Some(p) = self.provider(name) {
                p.validate()
                    .map_err(|e| format!("channels.sms.providers.{name}: {e}"))?;
            }
            if c.receipt && !c.receipt_template.contains("{tracking_no}") {
                return Err(format!(
                    "channels.sms.providers.{name}.receipt_template must contain {{tracking_no}}"
                ));
            }
        }
        Ok(())
    }
}
