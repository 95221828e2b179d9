//! Back-pressure on the hook routes: header size, the in-flight cap, and rate limits per channel
//! and per sender.
//!
//! The guard (`super::guard`) runs before any handler, so what it refuses costs neither a body parse nor a
//! signature check: oversized heads get 431, requests beyond `max_in_flight` get 503 at once
//! (shedding, never queueing: a queue only turns a surge into timeouts for everyone), and a
//! channel over its rate gets 429 (web) or 503 (WeChat, which retries only after an error).
//! The per-sender limit needs to know who sent the request, so the handlers check it after the
//! adapter authenticated the push; an unauthenticated caller can never spend a sender's budget.

use governor::clock::Clock;
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::fmt;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::LimitsConfig;

/// The sender map is swept of idle senders once per this many sender checks: often enough to
/// keep it at "senders seen in the last burst window", rarely enough to cost nothing per request.
const SWEEP_EVERY: u64 = 1024;

/// Which limit a request ran into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// `limits.channel_per_second`: everyone on this channel together.
    Channel,
    /// `limits.sender_per_minute`: this partner or openid alone.
    Sender,
}

/// A refused request: which limit, and when a retry can pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limited {
    /// The limit that refused it.
    pub scope: Scope,
    /// How long until the limiter lets the next request of this scope through.
    pub retry_after: Duration,
}

impl Limited {
    /// Whole seconds for `Retry-After`, rounded up and at least 1 so a client never retries at once.
    pub fn retry_after_secs(&self) -> u64 {
        let secs = self.retry_after.as_secs() + u64::from(self.retry_after.subsec_nanos() > 0);
        secs.max(1)
    }
}

impl fmt::Display for Limited {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = match self.scope {
            Scope::Channel => "on this channel",
            Scope::Sender => "from this sender",
        };
        write!(
            f,
            "too many requests {who}; retry after {} s",
            self.retry_after_secs()
        )
    }
}

/// The limiter state shared by all hook requests of one gateway.
pub struct Limits {
    channels: HashMap<String, DefaultDirectRateLimiter>,
    senders: Option<DefaultKeyedRateLimiter<String>>,
    partners: Option<DefaultKeyedRateLimiter<String>>,
    sender_checks: AtomicU64,
    in_flight: Arc<Semaphore>,
    max_header_bytes: usize,
}

impl Limits {
    /// Limiters for `config`; zero rates are left out (unlimited), zero caps are raised to 1.
    pub fn new(config: &LimitsConfig) -> Self {
        let channels = config
            .channel_per_second
            .iter()
            .filter_map(|(channel, &rate)| {
                let rate = NonZeroU32::new(rate)?;
                Some((
                    channel.clone(),
                    RateLimiter::direct(Quota::per_second(rate)),
                ))
            })
            .collect();
        let senders = NonZeroU32::new(config.sender_per_minute).map(|rate| {
            let burst = NonZeroU32::new(config.sender_burst).unwrap_or(NonZeroU32::MIN);
            RateLimiter::keyed(Quota::per_minute(rate).allow_burst(burst))
        });
        let partners = NonZeroU32::new(config.partner_per_minute).map(|rate| {
            let burst = NonZeroU32::new(config.partner_burst).unwrap_or(NonZeroU32::MIN);
            RateLimiter::keyed(Quota::per_minute(rate).allow_burst(burst))
        });
        let permits = config.max_in_flight.clamp(1, Semaphore::MAX_PERMITS);
        Limits {
            channels,
            senders,
            partners,
            sender_checks: AtomicU64::new(0),
            in_flight: Arc::new(Semaphore::new(permits)),
            max_header_bytes: config.max_header_bytes,
        }
    }

    /// Takes one cell of `channel`'s rate, if that channel has one.
    pub fn check_channel(&self, channel: &str) -> Result<(), Limited> {
        let Some(limiter) = self.channels.get(channel) else {
            return Ok(());
        };
        limiter.check().map_err(|not_until| Limited {
            scope: Scope::Channel,
            retry_after: not_until.wait_time_from(limiter.clock().now()),
        })
    }

    /// Takes one cell of the sender `{channel}:{sender}`; call only once the sender is
    /// authenticated, so that nobody can spend someone else's budget.
    pub fn check_sender(&self, channel: &str, sender: &str) -> Result<(), Limited> {
        let Some(limiter) = &self.senders else {
            return Ok(());
        };
        if self.sender_checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.sweep();
        }
        limiter
            .check_key(&[channel, ":", sender].concat())
            .map_err(|not_until| Limited {
                scope: Scope::Sender,
                retry_after: not_until.wait_time_from(limiter.clock().now()),
            })
    }

    /// Takes one cell of the partner system `{channel}:{partner}` (the web partner, an SMS
    /// gateway, a PBX), authenticated first like a sender.
    pub fn check_partner(&self, channel: &str, partner: &str) -> Result<(), Limited> {
        let Some(limiter) = &self.partners else {
            return Ok(());
        };
        limiter
            .check_key(&[channel, ":", partner].concat())
            .map_err(|not_until| Limited {
                scope: Scope::Sender,
                retry_after: not_until.wait_time_from(limiter.clock().now()),
            })
    }

    /// Forgets senders whose budget is full again: they are indistinguishable from new ones,
    /// so the map only holds senders active within the last burst window.
    pub fn sweep(&self) {
        if let Some(limiter) = &self.senders {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    /// How many senders the keyed limiter currently remembers.
    pub fn tracked_senders(&self) -> usize {
        self.senders.as_ref().map_or(0, |l| l.len())
    }

    /// A slot among `max_in_flight`, held until dropped; `None` when all are taken.
    pub fn enter(&self) -> Option<OwnedSemaphorePermit> {
        self.in_flight.clone().try_acquire_owned().ok()
    }

    /// The largest accepted request head in bytes.
    pub fn max_header_bytes(&self) -> usize {
        self.max_header_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(edit: impl FnOnce(&mut LimitsConfig)) -> Limits {
        let mut config = LimitsConfig::default();
        edit(&mut config);
        Limits::new(&config)
    }

    #[test]
    fn a_channel_without_a_rate_is_unlimited_and_one_with_a_rate_is_not() {
        let limits = limits(|c| {
            c.channel_per_second.insert("web".into(), 2);
            c.channel_per_second.insert("wechat".into(), 0);
        });
        assert!((0..1000).all(|_| limits.check_channel("wechat").is_ok()));
        assert!((0..1000).all(|_| limits.check_channel("sms").is_ok()));
        assert!(limits.check_channel("web").is_ok());
        assert!(limits.check_channel("web").is_ok());
        let limited = limits.check_channel("web").unwrap_err();
        assert_eq!(limited.scope, Scope::Channel);
        assert!(limited.retry_after <= Duration::from_secs(1));
        assert_eq!(limited.retry_after_secs(), 1);
    }

    #[test]
    fn senders_have_their_own_burst() {
        let limits = limits(|c| {
            c.sender_per_minute = 1;
            c.sender_burst = 3;
        });
        for _ in 0..3 {
            limits.check_sender("wechat", "openid-a").unwrap();
        }
        let limited = limits.check_sender("wechat", "openid-a").unwrap_err();
        assert_eq!(limited.scope, Scope::Sender);
        assert!(limited.retry_after_secs() > 1, "{limited}");
        limits.check_sender("wechat", "openid-b").unwrap();
        // The same name on another channel is another sender.
        limits.check_sender("web", "openid-a").unwrap();
    }

    #[test]
    fn zero_means_unlimited_for_senders() {
        let limits = limits(|c| c.sender_per_minute = 0);
        assert!((0..1000).all(|_| limits.check_sender("web", "p").is_ok()));
        assert_eq!(limits.tracked_senders(), 0);
    }

    #[test]
    fn idle_senders_are_forgotten() {
        // 1000 a second with a burst of 1: a sender is idle again 1 ms after its request.
        let limits = limits(|c| {
            c.sender_per_minute = 60_000;
            c.sender_burst = 1;
        });
        for i in 0..(SWEEP_EVERY - 1) {
            limits
                .check_sender("wechat", &format!("openid-{i}"))
                .unwrap();
        }
        assert_eq!(limits.tracked_senders() as u64, SWEEP_EVERY - 1);
        std::thread::sleep(Duration::from_millis(50));
        // This check is the SWEEP_EVERY-th: it sweeps first, then adds itself.
        limits.check_sender("wechat", "openid-new").unwrap();
        assert_eq!(limits.tracked_senders(), 1);
    }

    #[test]
    fn the_in_flight_cap_hands_out_slots_and_takes_them_back() {
        let limits = limits(|c| c.max_in_flight = 2);
        let a = limits.enter().unwrap();
        let _b = limits.enter().unwrap();
        assert!(limits.enter().is_none());
        drop(a);
        assert!(limits.enter().is_some());
    }

    #[test]
    fn zero_caps_are_raised_rather_than_refusing_everything() {
        let limits = limits(|c| {
            c.max_in_flight = 0;
            c.sender_burst = 0;
        });
        assert!(limits.enter().is_some());
        assert!(limits.check_sender("web", "p").is_ok());
        assert!(LimitsConfig {
            max_in_flight: 0,
            ..LimitsConfig::default()
        }
        .validate()
        .is_err());
        assert!(LimitsConfig::default().validate().is_ok());
        let mut typo = LimitsConfig::default();
        typo.channel_per_second.insert("wechta".into(), 10);
        assert!(typo.validate().unwrap_err().contains("wechta"));
    }
}
