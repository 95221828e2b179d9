//! `[limits]` and `[spool]`: how much the gateway takes on before it pushes back.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// `[limits]`
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Hook requests handled at once; beyond it callers get 503 with Retry-After at once,
    /// instead of queueing until memory runs out in a surge.
    pub max_in_flight: usize,
    /// SIGTERM waits this long for in-flight requests and the producer flush, then exits.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// Requests per second per channel (`web`, `wechat`, `sms`, `phone`); absent = unlimited.
    pub channel_per_second: BTreeMap<String, u32>,
    /// Requests per minute one sender (partner, openid, phone number) may make; 0 = unlimited.
    pub sender_per_minute: u32,
    /// Burst allowed on top of `sender_per_minute`.
    pub sender_burst: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_in_flight: 4096,
            shutdown_grace: Duration::from_secs(30),
            channel_per_second: BTreeMap::new(),
            sender_per_minute: 60,
            sender_burst: 20,
        }
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
        SpoolConfig { after: Duration::from_millis(1500), max_bytes: 1024 * 1024 * 1024 }
    }
}
