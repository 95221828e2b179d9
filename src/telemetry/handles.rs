//! The metric handles every request touches, kept per worker thread.
//!
//! Why: each `metrics::counter!(..)` with labels builds a key (a label list, one `String` per
//! borrowed value), hashes it and looks it up in the recorder's shared registry, on every request
//! and for each of its four or five metrics. Their label values are few and fixed by configuration
//! (channels × sources × outcomes × lines), so each worker thread keeps the handles it has used: the
//! next request finds its handle by comparing borrowed strings, without allocating or locking.
//!
//! Handles are kept only once the Prometheus recorder is installed: one taken before that is the
//! no-op handle, and keeping it would hide that thread's counts for good.

use foldhash::fast::FixedState;
use metrics::{Counter, Gauge, Histogram};
use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::BuildHasher;

/// One `intake_requests_total` series and its label values.
struct Outcome {
    channel: String,
    source: String,
    outcome: &'static str,
    line: String,
    counter: Counter,
}

/// What one worker thread has looked up so far.
#[derive(Default)]
struct Handles {
    /// `intake_requests_total` by a hash of its label values; a bucket holds every series with
    /// that hash (almost always one). foldhash with a fixed seed: the values come from the
    /// configuration, not from callers, and SipHash cost more than the lookup it replaced.
    outcomes: HashMap<u64, Vec<Outcome>, FixedState>,
    /// `intake_request_duration_seconds` by channel: a handful, so a list.
    durations: Vec<(&'static str, Histogram)>,
    /// `intake_in_flight` by channel.
    in_flight: Vec<(&'static str, Gauge)>,
    /// `intake_sink_delivery_seconds` (no labels).
    delivery: Option<Histogram>,
}

thread_local! {
    static HANDLES: RefCell<Handles> = RefCell::default();
}

/// Runs `f` on this thread's handles; `None` when they may not be kept (recorder not installed
/// yet, thread shutting down).
fn with_handles<T>(f: impl FnOnce(&mut Handles) -> T) -> Option<T> {
    if !super::recorder_installed() {
        return None;
    }
    HANDLES
        .try_with(|cell| cell.try_borrow_mut().ok().map(|mut h| f(&mut h)))
        .ok()
        .flatten()
}

fn outcome_counter(channel: &str, source: &str, outcome: &'static str, line: &str) -> Counter {
    metrics::counter!("intake_requests_total", "channel" => channel.to_string(), "source" => source.to_string(), "outcome" => outcome, "line" => line.to_string())
}

/// `intake_requests_total{channel, source, outcome, line}` += 1.
pub fn count_outcome(channel: &str, source: &str, outcome: &'static str, line: &str) {
    let kept = with_handles(|h| {
        let hash = FixedState::default().hash_one((channel, source, outcome, line));
        let bucket = h.outcomes.entry(hash).or_default();
        let found = bucket.iter().find(|o| {
            o.outcome == outcome && o.channel == channel && o.source == source && o.line == line
        });
        match found {
            Some(o) => o.counter.increment(1),
            None => {
                let counter = outcome_counter(channel, source, outcome, line);
                counter.increment(1);
                bucket.push(Outcome {
                    channel: channel.to_string(),
                    source: source.to_string(),
                    outcome,
                    line: line.to_string(),
                    counter,
                });
            }
        }
    });
    if kept.is_none() {
        outcome_counter(channel, source, outcome, line).increment(1);
    }
}

/// The entry for `channel` in a short per-channel list, added by `make` on first use.
fn by_channel<'a, H>(
    list: &'a mut Vec<(&'static str, H)>,
    channel: &'static str,
    make: impl FnOnce() -> H,
) -> &'a H {
    let at = match list.iter().position(|(c, _)| *c == channel) {
        Some(at) => at,
        None => {
            list.push((channel, make()));
            list.len() - 1
        }
    };
    &list[at].1
}

/// `intake_request_duration_seconds{channel}` records `seconds`.
pub fn record_duration(channel: &'static str, seconds: f64) {
    let make = || metrics::histogram!("intake_request_duration_seconds", "channel" => channel);
    if with_handles(|h| by_channel(&mut h.durations, channel, make).record(seconds)).is_none() {
        make().record(seconds);
    }
}

/// `intake_in_flight{channel}` moves by `delta`.
pub fn move_in_flight(channel: &'static str, delta: f64) {
    let make = || metrics::gauge!("intake_in_flight", "channel" => channel);
    if with_handles(|h| by_channel(&mut h.in_flight, channel, make).increment(delta)).is_none() {
        make().increment(delta);
    }
}

/// `intake_sink_delivery_seconds` records `seconds`.
pub fn record_delivery(seconds: f64) {
    let make = || metrics::histogram!("intake_sink_delivery_seconds");
    let kept = with_handles(|h| h.delivery.get_or_insert_with(make).record(seconds));
    if kept.is_none() {
        make().record(seconds);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_handles_count_into_the_same_series_as_fresh_ones() {
        let handle = super::super::prometheus();
        for _ in 0..3 {
            count_outcome("wechat", "handles-test", "accepted", "12345");
        }
        count_outcome("wechat", "handles-test", "duplicate", "12345");
        // Same hash bucket or not, a different label value is a different series.
        count_outcome("wechat", "handles-test-2", "accepted", "12345");
        metrics::counter!("intake_requests_total", "channel" => "wechat", "source" => "handles-test", "outcome" => "accepted", "line" => "12345").increment(1);
        let text = handle.render();
        let value = |source: &str, outcome: &str| {
            let head = format!(
                "intake_requests_total{{channel=\"wechat\",source=\"{source}\",outcome=\"{outcome}\",line=\"12345\"}} "
            );
            text.lines()
                .find_map(|l| l.strip_prefix(head.as_str()))
                .map(|v| v.trim().to_string())
        };
        assert_eq!(value("handles-test", "accepted").as_deref(), Some("4"));
        assert_eq!(value("handles-test", "duplicate").as_deref(), Some("1"));
        assert_eq!(value("handles-test-2", "accepted").as_deref(), Some("1"));
    }

    #[test]
    fn channel_lists_grow_once_per_channel() {
        let mut list: Vec<(&'static str, u32)> = Vec::new();
        assert_eq!(*by_channel(&mut list, "sms", || 1), 1);
        assert_eq!(*by_channel(&mut list, "sms", || 2), 1);
        assert_eq!(*by_channel(&mut list, "call", || 3), 3);
        assert_eq!(list.len(), 2);
    }
}
