//! `[channels.call]`: PBXes and SIP proxies that report calls, and the merged hotlines' numbers.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

use crate::config::names::check_name;
use crate::config::Secret;
pub use intake_call::SourceKind;

/// `[channels.call]`
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CallChannelConfig {
    /// Sources by the name in `/hooks/call/{source}`.
    pub sources: BTreeMap<String, CallSourceConfig>,
    /// Hotline line -> the dialed numbers that reach it (`"12328" = ["12328", "043312328"]`).
    pub lines: BTreeMap<String, Vec<String>>,
    /// How long the live state of a call without its final record is kept.
    #[serde(with = "humantime_serde")]
    pub state_ttl: Duration,
}

impl Default for CallChannelConfig {
    fn default() -> Self {
        CallChannelConfig {
            sources: BTreeMap::new(),
            lines: BTreeMap::new(),
            state_ttl: Duration::from_secs(4 * 3600),
        }
    }
}

/// `[channels.call.sources.<name>]`
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallSourceConfig {
    /// `freeswitch`, `asterisk`, `kamailio` or `generic`.
    pub kind: SourceKind,
    /// Shared token (`?token=` or `Authorization: Bearer`).
    #[serde(default)]
    pub token: Option<Secret>,
    /// HTTP basic user (FreeSWITCH `cred`, Kamailio).
    #[serde(default)]
    pub username: Option<String>,
    /// HTTP basic password.
    #[serde(default)]
    pub password: Option<Secret>,
    /// Take the caller from P-Asserted-Identity (true: the PBX is inside the trust domain).
    #[serde(default = "yes")]
    pub trusted_pai: bool,
    /// One record per citizen call: acknowledge FreeSWITCH B-legs without publishing.
    #[serde(default = "yes")]
    pub skip_b_legs: bool,
    /// FreeSWITCH variable holding the recording path.
    #[serde(default)]
    pub recording_variable: Option<String>,
    /// UTC offset of Asterisk CDR local times, in minutes (480 = China).
    #[serde(default = "china")]
    pub utc_offset_minutes: i32,
}

fn yes() -> bool {
    true
}

fn china() -> i32 {
    intake_call::DEFAULT_UTC_OFFSET_MINUTES
}

impl CallChannelConfig {
    /// Why this section cannot work, if it cannot.
    pub fn validate(&self) -> Result<(), String> {
        for name in self.sources.keys() {
            check_name("channels.call.sources", name)?;
        }
        Ok(())
    }

    /// The enabled source called `name` (it has a token, or a user and a password).
    pub fn source(&self, name: &str) -> Option<intake_call::Source> {
        let c = self.sources.get(name)?;
        let mut source = intake_call::Source::new(name, c.kind);
        source.token = c.token.as_ref().map(|t| t.expose().to_string());
        source.username = c.username.clone();
        source.password = c.password.as_ref().map(|p| p.expose().to_string());
        source.trusted_pai = c.trusted_pai;
        source.skip_b_legs = c.skip_b_legs;
        source.recording_variable = c.recording_variable.clone();
        source.utc_offset_minutes = c.utc_offset_minutes;
        source.enabled().then_some(source)
    }
}
