//! `[channels.sms]`: SMS gateways that post mobile-originated messages, and the service numbers.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

use crate::config::names::check_name;
use crate::config::Secret;
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
    /// Where receipts are sent for kinds whose callback reply cannot carry one (aliyun, tencent,
    /// jasmin, generic; kannel through its `sendsms` CGI instead of the reply body). A URL
    /// template with `{to}` (E.164), `{to_national}` (without +86), `{text}` and `{tracking_no}`,
    /// each percent-encoded. A secret: it usually carries the send account's password.
    /// `https://` (verified; extra CAs in `outbound.ca_file`) or `http://` for an internal one.
    #[serde(default)]
    pub receipt_url: Option<Secret>,
    /// `GET` (default) or `POST`.
    #[serde(default)]
    pub receipt_method: ReceiptMethod,
    /// POST body template, same placeholders: JSON-escaped when `receipt_content_type` is JSON,
    /// form-encoded when it is `application/x-www-form-urlencoded`, verbatim otherwise.
    #[serde(default)]
    pub receipt_body: Option<String>,
    /// The POST body's content type.
    #[serde(default = "json_content_type")]
    pub receipt_content_type: String,
    /// Extra request headers (an `Authorization` for an internal SMS service); never printed.
    #[serde(default)]
    pub receipt_headers: BTreeMap<String, Secret>,
    /// The first retry delay of a failed receipt; it doubles per attempt.
    #[serde(default = "one_second", with = "humantime_serde")]
    pub receipt_retry_base: Duration,
}

/// How a receipt is sent to `receipt_url`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReceiptMethod {
    /// Everything in the URL (Kannel `sendsms`, Jasmin `/send`).
    #[default]
    #[serde(rename = "GET", alias = "get")]
    Get,
    /// `receipt_body` as the request body.
    #[serde(rename = "POST", alias = "post")]
    Post,
}

impl SmsProviderConfig {
    /// True when receipts go through `receipt_url` rather than in the callback reply.
    pub fn sends_receipts(&self) -> bool {
        self.receipt && self.receipt_url.is_some() && self.kind != ProviderKind::Twilio
    }

    /// True when receipts are POSTed (`receipt_method = "POST"`).
    pub fn receipt_posts(&self) -> bool {
        self.receipt_method == ReceiptMethod::Post
    }
}

fn five_minutes() -> Duration {
    Duration::from_secs(300)
}

fn one_second() -> Duration {
    Duration::from_secs(1)
}

fn json_content_type() -> String {
    "application/json".to_string()
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

    /// Why this section cannot work, if it cannot.
    pub fn validate(&self) -> Result<(), String> {
        for (name, c) in &self.providers {
            check_name("channels.sms.providers", name)?;
            if let Some(p) = self.provider(name) {
                p.validate()
                    .map_err(|e| format!("channels.sms.providers.{name}: {e}"))?;
            }
            if c.receipt && !c.receipt_template.contains("{tracking_no}") {
                return Err(format!(
                    "channels.sms.providers.{name}.receipt_template must contain {{tracking_no}}"
                ));
            }
            check_receipt_sending(c).map_err(|e| format!("channels.sms.providers.{name}.{e}"))?;
        }
        Ok(())
    }
}

/// The HTTP send path of receipts: required where the reply cannot carry the receipt, and well
/// formed wherever it is set, so that a typo fails at start rather than on every receipt.
fn check_receipt_sending(c: &SmsProviderConfig) -> Result<(), String> {
    let Some(url) = &c.receipt_url else {
        if c.receipt && !matches!(c.kind, ProviderKind::Twilio | ProviderKind::Kannel) {
            return Err("receipt_url is required when receipt = true (this kind's reply cannot carry a receipt)".into());
        }
        return Ok(());
    };
    if c.kind == ProviderKind::Twilio {
        return Err("receipt_url: Twilio receipts are the TwiML reply; remove receipt_url".into());
    }
    let sample = ["{to}", "{to_national}", "{text}", "{tracking_no}"]
        .iter()
        .fold(url.expose().to_string(), |u, p| u.replace(p, "x"));
    match reqwest::Url::parse(&sample) {
        Ok(u) if ["http", "https"].contains(&u.scheme()) && u.host_str().is_some() => {}
        _ => return Err("receipt_url is not an http:// or https:// URL".into()),
    }
    if c.receipt_body.is_some() && c.receipt_method != ReceiptMethod::Post {
        return Err("receipt_body needs receipt_method = \"POST\"".into());
    }
    if reqwest::header::HeaderValue::from_str(&c.receipt_content_type).is_err() {
        return Err("receipt_content_type is not a valid header value".into());
    }
    for (k, v) in &c.receipt_headers {
        if reqwest::header::HeaderName::from_bytes(k.as_bytes()).is_err()
            || reqwest::header::HeaderValue::from_str(v.expose()).is_err()
        {
            return Err(format!("receipt_headers: {k:?} is not a valid header"));
        }
    }
    if c.receipt_retry_base.is_zero() {
        return Err("receipt_retry_base must be above zero".into());
    }
    Ok(())
}
