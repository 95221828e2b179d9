//! `channels.call.sources.<name>`: who may post call data, in which dialect, with which secret.

use intake_adapter::AdapterError;
use serde::{Deserialize, Serialize};

/// China Standard Time, the zone Asterisk CDR local times are read in unless configured.
pub const DEFAULT_UTC_OFFSET_MINUTES: i32 = 480;

/// The dialect a source speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// FreeSWITCH `mod_json_cdr`: one JSON CDR per call leg at hangup.
    Freeswitch,
    /// Asterisk CDRs (JSON or form) and ARI events (JSON).
    Asterisk,
    /// Kamailio `http_client` posts from the dialog module's event routes.
    Kamailio,
    /// The generic CTI events `newCall`, `answer`, `hangup` (Zammad's shape).
    Generic,
}

impl SourceKind {
    /// The snake_case name used in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Freeswitch => "freeswitch",
            SourceKind::Asterisk => "asterisk",
            SourceKind::Kamailio => "kamailio",
            SourceKind::Generic => "generic",
        }
    }
}

/// One configured call source (a PBX, SIP proxy or CTI server).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// The `{source}` path segment of `POST /hooks/call/{source}`; the gateway fills it from
    /// the table key.
    #[serde(default)]
    pub name: String,
    /// The dialect this source speaks.
    pub kind: SourceKind,
    /// A shared token, accepted as the `token` query parameter or `Authorization: Bearer`.
    #[serde(default)]
    pub token: Option<String>,
    /// HTTP basic user name (FreeSWITCH `cred`, Kamailio `httpcon` user).
    #[serde(default)]
    pub username: Option<String>,
    /// HTTP basic password.
    #[serde(default)]
    pub password: Option<String>,
    /// Take the caller from P-Asserted-Identity when present (true by default: PBXes and
    /// proxies in front of a hotline receive it from the carrier's trust domain). Set false
    /// for a source that accepts calls from untrusted user agents, which could forge it.
    #[serde(default = "yes")]
    pub trusted_pai: bool,
    /// Acknowledge FreeSWITCH B-leg CDRs without publishing them (true by default), so one
    /// citizen call gives one request.
    #[serde(default = "yes")]
    pub skip_b_legs: bool,
    /// The FreeSWITCH channel variable holding the recording path or URL. Unset: try
    /// `recording_file`, then `record_path` + `record_name`, then `record_path`.
    #[serde(default)]
    pub recording_variable: Option<String>,
    /// The FreeSWITCH or Asterisk channel variable (ARI: `channelvars`, CDR: a custom field)
    /// holding the caller's IVR choice; unset: `ivr_choice`. Generic CTI and Kamailio posts
    /// carry it as their `ivr` field.
    #[serde(default)]
    pub ivr_variable: Option<String>,
    /// Offset from UTC of the local times in Asterisk CDRs (`start`, `answer`, `end`), in
    /// minutes; 480 (UTC+8) by default.
    #[serde(default = "china")]
    pub utc_offset_minutes: i32,
}

/// The channel variable read for the IVR choice when `ivr_variable` is unset.
pub const DEFAULT_IVR_VARIABLE: &str = "ivr_choice";

fn yes() -> bool {
    true
}

fn china() -> i32 {
    DEFAULT_UTC_OFFSET_MINUTES
}

impl Source {
    /// A source with no credentials yet and the documented defaults.
    pub fn new(name: impl Into<String>, kind: SourceKind) -> Self {
        Source {
            name: name.into(),
            kind,
            token: None,
            username: None,
            password: None,
            trusted_pai: true,
            skip_b_legs: true,
            recording_variable: None,
            ivr_variable: None,
            utc_offset_minutes: DEFAULT_UTC_OFFSET_MINUTES,
        }
    }

    /// The channel variable of the IVR choice (`ivr_variable`, else `ivr_choice`).
    pub(crate) fn ivr_name(&self) -> &str {
        self.ivr_variable
            .as_deref()
            .filter(|v| !v.is_empty())
            .unwrap_or(DEFAULT_IVR_VARIABLE)
    }

    /// True when the source can authenticate at all: it has a token, or a user name and a
    /// password. A source without either is off (the gateway answers 404).
    pub fn enabled(&self) -> bool {
        self.token().is_some() || self.basic_credentials().is_some()
    }

    /// The configured token, when not empty.
    pub(crate) fn token(&self) -> Option<&str> {
        self.token.as_deref().filter(|t| !t.is_empty())
    }

    /// The configured basic-auth pair, when both halves are set and not empty.
    pub(crate) fn basic_credentials(&self) -> Option<(&str, &str)> {
        match (self.username.as_deref(), self.password.as_deref()) {
            (Some(u), Some(p)) if !u.is_empty() && !p.is_empty() => Some((u, p)),
            _ => None,
        }
    }

    /// The `source.system` of this source's records: `call:{name}`.
    pub fn source_system(&self) -> String {
        format!("call:{}", self.name)
    }

    /// Checks the configuration once at startup, so a typo fails the deploy, not a call.
    pub fn validate(&self) -> Result<(), AdapterError> {
        if self.name.trim().is_empty() {
            return Err(AdapterError::Malformed("call source needs a name".into()));
        }
        if !(-18 * 60..=18 * 60).contains(&self.utc_offset_minutes) {
            return Err(AdapterError::Malformed(format!(
                "utc_offset_minutes {} is outside ±18 hours",
                self.utc_offset_minutes
            )));
        }
        if self.username.is_some() != self.password.is_some() {
            return Err(AdapterError::Malformed(
                "username and password must be set together".into(),
            ));
        }
        Ok(())
    }
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token and the password are the source's whole security; keep them out of logs.
        let redact = |s: &Option<String>| s.as_ref().map(|_| "<redacted>");
        f.debug_struct("Source")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("token", &redact(&self.token))
            .field("username", &self.username)
            .field("password", &redact(&self.password))
            .field("trusted_pai", &self.trusted_pai)
            .field("skip_b_legs", &self.skip_b_legs)
            .field("recording_variable", &self.recording_variable)
            .field("ivr_variable", &self.ivr_variable)
            .field("utc_offset_minutes", &self.utc_offset_minutes)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_from_config_and_redaction() {
        let s: Source = serde_json::from_str(
            r#"{"name":"pbx1","kind":"freeswitch","username":"fs","password":"pw-secret"}"#,
        )
        .expect("valid config");
        assert!(s.trusted_pai && s.skip_b_legs);
        assert_eq!(s.utc_offset_minutes, 480);
        assert!(s.enabled());
        assert_eq!(s.source_system(), "call:pbx1");
        assert!(!format!("{s:?}").contains("pw-secret"));
        assert!(s.validate().is_ok());
        assert!(serde_json::from_str::<Source>(r#"{"kind":"generic","tokn":"x"}"#).is_err());
    }

    #[test]
    fn enabled_needs_a_whole_credential() {
        let mut s = Source::new("x", SourceKind::Generic);
        assert!(!s.enabled());
        s.token = Some(String::new());
        assert!(!s.enabled());
        s.username = Some("u".into());
        assert!(!s.enabled());
        assert!(s.validate().is_err());
        s.password = Some("p".into());
        assert!(s.enabled());
        s.utc_offset_minutes = 24 * 60;
        assert!(s.validate().is_err());
    }
}
