//! `[limits]` and `[spool]`: how much the gateway takes on before it pushes back.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// The channel names `limits.channel_per_second` knows: one per hook family (radio posts
/// arrive through the web hook, so they count as `web`).
const CHANNELS: [&str; 4] = ["web", "wechat", "sms", "phone"];

/// `[limits]`
///
/// A zero in a rate means "unlimited" for that rate; the in-flight cap and the burst must be at
/// least 1 (see [`LimitsConfig::validate`]).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Hook requests handled at once; beyond it callers get 503 with Retry-After at once,
    /// instead of queueing until memory runs out in a surge.
    pub max_in_flight: usize,
    /// SIGTERM waits this long for in-flight requests and the producer flush, then exits.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// Requests per second per channel (`web`, `wechat`, later `sms`, `phone`), counted before
    /// the body is parsed, so that a flood costs no parsing; absent or 0 = unlimited. Bursts of
    /// up to one second's worth pass at once. Over it, web callers get 429 and WeChat gets 503
    /// (WeChat only retries after an error status).
    pub channel_per_second: BTreeMap<String, u32>,
    /// Requests per minute one authenticated sender may make (a web partner's batches, a
    /// WeChat openid's pushes); 0 = unlimited.
    pub sender_per_minute: u32,
    /// Requests a sender may make back to back before the `sender_per_minute` pace applies.
    pub sender_burst: u32,
    /// Requests per minute one partner system (a media partner's batches, an SMS gateway, a
    /// PBX) may make; far above a citizen's, since one partner carries many citizens. 0 = off.
    pub partner_per_minute: u32,
    /// Requests a partner may make back to back before `partner_per_minute` applies.
    pub partner_burst: u32,
    /// Largest request head (request line plus headers) in bytes; larger gets 431. More than
    /// 100 headers get 431 from the HTTP parser whatever this says.
    pub max_header_bytes: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_in_flight: 4096,
            shutdown_grace: Duration::from_secs(30),
            channel_per_second: BTreeMap::new(),
            sender_per_minute: 60,
            sender_burst: 20,
            partner_per_minute: 6000,
            partner_burst: 1000,
            max_header_bytes: 16 * 1024,
        }
    }
}

impl LimitsConfig {
    /// Why these limits cannot work, if they cannot: a cap of 0 would refuse every request.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_in_flight == 0 {
            return Err("limits.max_in_flight must be at least 1".into());
        }
        if self.partner_per_minute > 0 && self.partner_burst == 0 {
            return Err(
                "limits.partner_burst must be at least 1 (or set partner_per_minute = 0)".into(),
            );
        }
        if self.sender_per_minute > 0 && self.sender_burst == 0 {
            return Err("limits.sender_burst must be at least 1 (or set sender_per_minute = 0 to turn sender limits off)".into());
        }
        // A typo would otherwise leave that channel silently unlimited.
        if let Some(name) = self
            .channel_per_second
            .keys()
            .find(|name| !CHANNELS.contains(&name.as_str()))
        {
            return Err(format!(
                "limits.channel_per_second: unknown channel {name:?} (known: {})",
                CHANNELS.join(", ")
            ));
        }
        if self.max_header_bytes < 1024 {
            return Err("limits.max_header_bytes must be at least 1024".into());
        }
        Ok(())
    }
}

/// `[spool]`: the local buffer used when Kafka does not confirm in time.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpoolConfig {
    /// How long a request waits for Kafka before it is spooled locally instead.
    #[serde(with = "humantime_serde")]
    pub after: Duration,
    /// Spool size at which new requests get 503: the disk bound of an outage.
    pub max_bytes: u64,
}

impl Default for SpoolConfig {
    fn default() -> Self {
        SpoolConfig {
            after: Duration::from_millis(1500),
            max_bytes: 1024 * 1024 * 1024,
        }
    }
}
