//! Health of every feed: last success, lag, consecutive failures, items per page; as gauges in
//! `/metrics` and as a snapshot for `/readyz`.

use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};

/// What is known about one feed.
#[derive(Clone, Debug, Default, Serialize)]
pub struct FeedHealth {
    /// Unix seconds of the last page fetched and made durable.
    pub last_success: Option<i64>,
    /// Unix seconds when the feed was last seen caught up (an empty page).
    pub caught_up_at: Option<i64>,
    /// Seconds since the feed was last caught up (0 while caught up, and before it first was:
    /// then `caught_up_at` is null).
    pub lag_seconds: i64,
    /// Failed fetches in a row.
    pub consecutive_failures: u32,
    /// Items in the last page.
    pub items_last_page: usize,
    /// True while the circuit breaker holds requests back.
    pub circuit_open: bool,
}

fn feeds() -> &'static Mutex<BTreeMap<String, FeedHealth>> {
    static FEEDS: OnceLock<Mutex<BTreeMap<String, FeedHealth>>> = OnceLock::new();
    FEEDS.get_or_init(Default::default)
}

/// Changes the feed's entry and republishes its gauges.
pub fn update(feed: &str, change: impl FnOnce(&mut FeedHealth)) {
    let Ok(mut all) = feeds().lock() else { return };
    let h = all.entry(feed.to_string()).or_default();
    change(h);
    let now = chrono::Utc::now().timestamp();
    h.lag_seconds = h.caught_up_at.map_or(0, |t| (now - t).max(0));
    let label = feed.to_string();
    if let Some(t) = h.last_success {
        metrics::gauge!("intake_pull_last_success_timestamp_seconds", "feed" => label.clone())
            .set(t as f64);
    }
    metrics::gauge!("intake_pull_lag_seconds", "feed" => label.clone()).set(h.lag_seconds as f64);
    metrics::gauge!("intake_pull_consecutive_failures", "feed" => label.clone())
        .set(f64::from(h.consecutive_failures));
    metrics::gauge!("intake_pull_items_per_page", "feed" => label.clone())
        .set(h.items_last_page as f64);
    metrics::gauge!("intake_pull_circuit_open", "feed" => label)
        .set(f64::from(u8::from(h.circuit_open)));
}

/// Every feed's health, for `/readyz` and the ops page.
pub fn snapshot() -> BTreeMap<String, FeedHealth> {
    feeds().lock().map(|f| f.clone()).unwrap_or_default()
}
