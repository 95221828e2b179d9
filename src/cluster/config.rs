//! `[cluster]`: several replicas behind one address, sharing their state through Redis.
//!
//! Absent, the gateway is a single instance and needs nothing but itself.

use serde::{Deserialize, Serialize};
use std::time::Duration;

use crate::config::Secret;

/// `[cluster]`
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// `redis://[user:password@]host:port/db` or `rediss://…` (TLS). A secret: it may carry a
    /// password (set it with `INTAKE__CLUSTER__REDIS_URL`).
    pub redis_url: Option<Secret>,
    /// Every key this gateway writes starts with `{key_prefix}:`, so several gateways (or other
    /// applications) can share one Redis.
    pub key_prefix: String,
    /// This replica's name among its peers; empty = the hostname (in Kubernetes, the pod name).
    pub instance_id: String,
    /// How long a (re)connection to Redis may take.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// How long one Redis operation may take before Redis counts as down for it.
    #[serde(with = "humantime_serde")]
    pub op_timeout: Duration,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            redis_url: None,
            key_prefix: "intake".into(),
            instance_id: String::new(),
            connect_timeout: Duration::from_secs(2),
            op_timeout: Duration::from_millis(500),
        }
    }
}

impl ClusterConfig {
    /// Why this section cannot work, if it cannot.
    pub fn validate(&self) -> Result<(), String> {
        let Some(url) = self.redis_url.as_ref().filter(|u| !u.expose().is_empty()) else {
            return Err(
                "cluster.redis_url is required when [cluster] is present (redis:// or rediss://)"
                    .into(),
            );
        };
        let url = url.expose();
        if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
            return Err("cluster.redis_url must start with redis:// or rediss://".into());
        }
        if redis::Client::open(url).is_err() {
            // The URL is a secret: say what is wrong without repeating it.
            return Err("cluster.redis_url is not a valid Redis URL".into());
        }
        let plain = |s: &str| {
            s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        };
        if self.key_prefix.is_empty() || !plain(&self.key_prefix) {
            return Err("cluster.key_prefix must be letters, digits, - _ and . (not empty)".into());
        }
        if !plain(&self.instance_id) {
            return Err("cluster.instance_id must be letters, digits, - _ and .".into());
        }
        if self.op_timeout.is_zero() || self.connect_timeout.is_zero() {
            return Err("cluster.op_timeout and cluster.connect_timeout must be above zero".into());
        }
        Ok(())
    }

    /// `instance_id`, or the hostname when it is empty.
    pub fn instance(&self) -> String {
        if !self.instance_id.is_empty() {
            return self.instance_id.clone();
        }
        let mut buf = [0u8; 256];
        // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it or
        // truncates, and we read up to the first NUL only.
        let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
        let name = (rc == 0)
            .then(|| {
                let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
                String::from_utf8_lossy(&buf[..end]).into_owned()
            })
            .filter(|n| !n.is_empty());
        name.unwrap_or_else(|| "gateway".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_url(url: &str) -> ClusterConfig {
        ClusterConfig {
            redis_url: Some(Secret::from(url)),
            ..ClusterConfig::default()
        }
    }

    #[test]
    fn a_cluster_needs_a_redis_url_of_either_scheme() {
        assert!(ClusterConfig::default().validate().is_err());
        assert!(with_url("redis://127.0.0.1:6379/0").validate().is_ok());
        assert!(with_url("rediss://:pw@redis.internal:6380")
            .validate()
            .is_ok());
        let err = with_url("http://user:hunter2@x").validate().unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn the_instance_defaults_to_the_hostname() {
        let c = with_url("redis://127.0.0.1");
        assert!(!c.instance().is_empty());
        let named = ClusterConfig {
            instance_id: "gw-1".into(),
            ..c
        };
        assert_eq!(named.instance(), "gw-1");
        let bad = ClusterConfig {
            instance_id: "gw 1".into(),
            ..named
        };
        assert!(bad.validate().is_err());
    }
}
