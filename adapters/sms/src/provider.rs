//! One configured SMS provider: `channels.sms.providers.<name>`.

use intake_adapter::AdapterError;
use serde::{Deserialize, Serialize};

use crate::allow::Cidr;

/// How far a signed generic push's timestamp may be from the gateway clock unless configured.
pub const DEFAULT_TIMESTAMP_TOLERANCE_SECS: u64 = 300;

/// The wire format (and so the parser) of a provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// Alibaba Cloud SMS, SmsUp HTTP batch push (JSON array).
    Aliyun,
    /// Tencent Cloud SMS reply callback (one JSON object).
    Tencent,
    /// Twilio Messaging webhook (form-encoded, `X-Twilio-Signature`).
    Twilio,
    /// Kannel smsbox `sms-service` get-url / post-url.
    Kannel,
    /// Jasmin's HTTP MO thrower (form fields, answered `ACK/Jasmin`).
    Jasmin,
    /// Our own signed JSON format for any other gateway.
    Generic,
}

impl ProviderKind {
    /// The snake_case name, as in the config and in metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Aliyun => "aliyun",
            ProviderKind::Tencent => "tencent",
            ProviderKind::Twilio => "twilio",
            ProviderKind::Kannel => "kannel",
            ProviderKind::Jasmin => "jasmin",
            ProviderKind::Generic => "generic",
        }
    }

    /// Every kind, in documentation order.
    pub const ALL: [ProviderKind; 6] = [
        ProviderKind::Aliyun,
        ProviderKind::Tencent,
        ProviderKind::Twilio,
        ProviderKind::Kannel,
        ProviderKind::Jasmin,
        ProviderKind::Generic,
    ];
}

/// A provider as configured. Only the secret of its own kind matters; without it the provider
/// is disabled (the gateway answers 404).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provider {
    /// The `{provider}` path segment and the `sms:{name}` source system (the config map key).
    #[serde(default)]
    pub name: String,
    /// The wire format.
    pub kind: ProviderKind,
    /// aliyun, tencent, kannel, jasmin: the `token` query parameter every call must carry.
    #[serde(default)]
    pub token: Option<String>,
    /// twilio: the account's Auth Token, the HMAC-SHA1 key of `X-Twilio-Signature`.
    #[serde(default)]
    pub auth_token: Option<String>,
    /// twilio: the public base URL Twilio calls (`https://hotline.example.gov.cn`), since the
    /// gateway sits behind a proxy and cannot see the URL Twilio signed.
    #[serde(default)]
    pub public_url: Option<String>,
    /// generic: the HMAC-SHA256 key of `X-Intake-Signature`.
    #[serde(default)]
    pub secret: Option<String>,
    /// aliyun, tencent (any kind, in fact): CIDRs the provider calls from; empty allows all.
    #[serde(default)]
    pub allow: Vec<String>,
    /// generic: allowed distance of `X-Intake-Timestamp` from the gateway clock, in seconds.
    #[serde(default = "default_tolerance")]
    pub timestamp_tolerance_secs: u64,
    /// aliyun, tencent: the service number the provider's extension codes (`dest_code`,
    /// `extend`) are appended to, so that `lines` can list full numbers. Optional.
    #[serde(default)]
    pub service_number: Option<String>,
}

fn default_tolerance() -> u64 {
    DEFAULT_TIMESTAMP_TOLERANCE_SECS
}

impl Provider {
    /// A provider of `kind` named `name` with no secret (disabled) and the defaults.
    pub fn new(name: impl Into<String>, kind: ProviderKind) -> Self {
        Provider {
            name: name.into(),
            kind,
            token: None,
            auth_token: None,
            public_url: None,
            secret: None,
            allow: Vec::new(),
            timestamp_tolerance_secs: DEFAULT_TIMESTAMP_TOLERANCE_SECS,
            service_number: None,
        }
    }

    /// True when the secret its kind needs is set (twilio also needs `public_url`).
    pub fn enabled(&self) -> bool {
        let set = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.is_empty());
        match self.kind {
            ProviderKind::Aliyun
            | ProviderKind::Tencent
            | ProviderKind::Kannel
            | ProviderKind::Jasmin => set(&self.token),
            ProviderKind::Twilio => set(&self.auth_token) && set(&self.public_url),
            ProviderKind::Generic => set(&self.secret),
        }
    }

    /// The `source.system` of this provider's records: `sms:{name}`.
    pub fn source_system(&self) -> String {
        format!("sms:{}", self.name)
    }

    /// Checks the configuration once at startup: a bad CIDR or URL fails the deploy, not a
    /// citizen's message.
    pub fn validate(&self) -> Result<(), AdapterError> {
        if self.name.trim().is_empty() {
            return Err(AdapterError::Malformed("provider needs a name".into()));
        }
        for entry in &self.allow {
            Cidr::parse(entry)?;
        }
        if let Some(url) = self.public_url.as_deref().filter(|u| !u.is_empty()) {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(AdapterError::Malformed(format!(
                    "public_url of {} must start with https:// or http://",
                    self.name
                )));
            }
        }
        Ok(())
    }

    /// The parsed allow list; an entry that does not parse allows nothing (fail closed).
    pub(crate) fn allow_list(&self) -> Vec<Option<Cidr>> {
        self.allow.iter().map(|e| Cidr::parse(e).ok()).collect()
    }
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Tokens, auth tokens and secrets are the provider's whole security: never in logs.
        let redact = |v: &Option<String>| v.as_ref().map(|_| "<redacted>");
        f.debug_struct("Provider")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("token", &redact(&self.token))
            .field("auth_token", &redact(&self.auth_token))
            .field("public_url", &self.public_url)
            .field("secret", &redact(&self.secret))
            .field("allow", &self.allow)
            .field("timestamp_tolerance_secs", &self.timestamp_tolerance_secs)
            .field("service_number", &self.service_number)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enabled_needs_the_kinds_own_secret() {
        let mut p = Provider::new("ali", ProviderKind::Aliyun);
        assert!(!p.enabled());
        p.secret = Some("x".into());
        assert!(!p.enabled(), "a generic secret does not enable aliyun");
        p.token = Some("t".into());
        assert!(p.enabled());
        let mut t = Provider::new("tw", ProviderKind::Twilio);
        t.auth_token = Some("a".into());
        assert!(!t.enabled(), "twilio also needs public_url");
        t.public_url = Some("https://x".into());
        assert!(t.enabled());
        let mut g = Provider::new("g", ProviderKind::Generic);
        g.secret = Some(String::new());
        assert!(!g.enabled());
    }

    #[test]
    fn config_shape_and_redaction() {
        let p: Provider =
            serde_json::from_str(r#"{"kind":"kannel","token":"tok-123","allow":["10.0.0.0/8"]}"#)
                .unwrap();
        assert_eq!(p.kind, ProviderKind::Kannel);
        assert_eq!(p.timestamp_tolerance_secs, 300);
        let shown = format!("{p:?}");
        assert!(!shown.contains("tok-123"), "{shown}");
        let p = Provider {
            name: "k".into(),
            ..p
        };
        assert!(p.validate().is_ok());
        let bad = Provider {
            allow: vec!["10.0.0.0/33".into()],
            ..p.clone()
        };
        assert!(bad.validate().is_err());
        assert_eq!(p.source_system(), "sms:k");
    }
}
