//! Metrics and logs of a hook request, in one place so every channel counts the same way.
//!
//! Labels and log fields carry channel, source, ids and outcomes only: never a phone number,
//! openid or message text.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

use crate::ops::stats;

mod handles;
pub use handles::{record_delivery, record_duration};

/// Set once the Prometheus recorder is installed (see [`handles`]).
static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

fn recorder_installed() -> bool {
    HANDLE.get().is_some()
}

const LATENCY_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0,
];

/// Installs the Prometheus recorder once per process and returns its handle.
pub fn prometheus() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &LATENCY_BUCKETS)
                .expect("bucket list is non-empty")
                .build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder is installed (a test harness); ours then stays empty.
            let _ = metrics::set_global_recorder(recorder);
            describe();
            metrics::gauge!("intake_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
            handle
        })
        .clone()
}

fn describe() {
    metrics::describe_counter!(
        "intake_requests_total",
        "Records and requests by channel, source and outcome."
    );
    metrics::describe_histogram!(
        "intake_request_duration_seconds",
        "Hook request arrival to reply, by channel."
    );
    metrics::describe_histogram!(
        "intake_sink_delivery_seconds",
        "Publish to durable confirmation (Kafka ack or fsync)."
    );
    metrics::describe_counter!(
        "intake_urgent_total",
        "Requests the urgent rules flagged (also published to kafka.urgent_topic), by channel."
    );
    metrics::describe_counter!(
        "intake_dedup_hits_total",
        "Re-deliveries answered from the dedup index."
    );
    metrics::describe_gauge!(
        "intake_kafka_up",
        "1 when the last metadata probe reached the cluster."
    );
    metrics::describe_counter!(
        "intake_signature_failures_total",
        "Requests refused for a bad or missing signature, token or timestamp."
    );
    metrics::describe_gauge!(
        "intake_in_flight",
        "Hook requests being handled, by channel."
    );
    metrics::describe_gauge!("intake_build_info", "Gateway version.");
    metrics::describe_counter!(
        "intake_events_total",
        "Channel events (follows, scans, menu clicks) published, by channel and kind."
    );
    metrics::describe_counter!(
        "intake_spooled_total",
        "Records written to the local spool because Kafka did not confirm in time (also counted as accepted)."
    );
    metrics::describe_gauge!(
        "intake_spool_entries",
        "Spooled records not yet confirmed by Kafka."
    );
    metrics::describe_gauge!("intake_spool_bytes", "Bytes of those records on disk.");
    metrics::describe_counter!(
        "intake_log_dropped_total",
        "Log lines dropped because the log writer's buffer was full (a slow stdout/stderr)."
    );
    metrics::describe_gauge!(
        "intake_spool_oldest_age_seconds",
        "Age of the oldest spooled record; rises while Kafka does not confirm."
    );
}

/// Counts one record's (or request's) outcome, in Prometheus and on the ops page. A request
/// refused before it had a line counts on line `other`.
pub fn record_outcome(channel: &str, source: &str, outcome: &'static str) {
    record_outcome_on(channel, source, outcome, crate::ops::lines::OTHER);
}

fn record_outcome_on(channel: &str, source: &str, outcome: &'static str, line: &str) {
    handles::count_outcome(channel, source, outcome, line);
    stats::collector().record_at(channel, source, outcome, stats::now_ms());
}

/// Counts an admitted request: its outcome on its line (a configured id or `other`), and,
/// when this delivery made it durable, on the per-line board and in `intake_urgent_total`.
pub fn record_request(
    board: &crate::ops::lines::LineBoard,
    record: &intake_schema::IntakeRequest,
    source: &str,
    outcome: &'static str,
) {
    let channel = record.channel.as_str();
    let line = board.label(record.source.line.as_deref());
    record_outcome_on(channel, source, outcome, line);
    if outcome == "duplicate" {
        return;
    }
    let (desk, urgent) = record
        .routing
        .as_ref()
        .map_or(("general", false), |r| (r.desk.as_str(), r.is_urgent()));
    if urgent {
        metrics::counter!("intake_urgent_total", "channel" => channel).increment(1);
    }
    board.count(
        record.source.line.as_deref(),
        channel,
        desk,
        urgent,
        chrono::Utc::now(),
    );
}

/// Counts a record that went to the local spool because Kafka did not confirm in time. It was
/// also counted `accepted` by its handler (the caller got 2xx), so this is a separate counter
/// rather than an outcome: summing outcomes must not count a spooled record twice.
pub fn record_spooled(channel: &str) {
    metrics::counter!("intake_spooled_total", "channel" => channel.to_string()).increment(1);
    stats::collector().spooled_at(channel, stats::now_ms());
}

/// Counts a request as in flight until the guard drops.
pub struct InFlight(&'static str);

impl InFlight {
    /// Enters `channel`.
    pub fn enter(channel: &'static str) -> Self {
        handles::move_in_flight(channel, 1.0);
        stats::collector().in_flight(channel, 1);
        InFlight(channel)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        handles::move_in_flight(self.0, -1.0);
        stats::collector().in_flight(self.0, -1);
    }
}

/// A phone number as it may appear in a log line or on a screen: `13812345678` and
/// `+8613812345678` both become `138****5678` (first three and last four digits, the form
/// Chinese service desks print). Shorter numbers keep only their last four (or two) digits.
///
/// Nothing logs a contact today; this exists so that whoever needs to (an SMS provider's
/// error about one sender, say) has the approved form at hand instead of the raw number.
pub fn mask_phone(number: &str) -> String {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    let national = ["0086", "86"]
        .iter()
        .find_map(|prefix| {
            let international = number.trim_start().starts_with('+') || *prefix == "0086";
            digits
                .strip_prefix(prefix)
                .filter(|rest| international && rest.len() >= 7)
        })
        .unwrap_or(&digits);
    // Mobile numbers (11 digits) keep the operator prefix and the last four, as desks print
    // them; shorter numbers keep less, because three plus four of eight would hide one digit.
    let n = national.len();
    let (head, tail) = match n {
        11.. => (3, 4),
        7..=10 => (0, 4),
        _ => (0, n.min(2)),
    };
    format!(
        "{}{}{}",
        &national[..head],
        "*".repeat(n - head - tail),
        &national[n - tail..]
    )
}

/// A stable pseudonym for an openid or an account name, for correlating log lines of one
/// citizen without naming them: `h:` and 16 hex digits of a domain-separated SHA-256.
///
/// Only for identifiers that cannot be enumerated: a hashed phone number is reversed by hashing
/// all 10¹¹ of them, so phone numbers are masked with [`mask_phone`] instead.
pub fn hash_id(value: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(b"intake-gateway/contact/v1\0")
        .chain_update(value.as_bytes())
        .finalize();
    format!("h:{}", hex::encode(&digest[..8]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_keep_three_and_four_digits() {
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_phone("+8613812345678"), "138****5678");
        assert_eq!(mask_phone("0086 138-1234-5678"), "138****5678");
        assert_eq!(mask_phone("02412345678"), "024****5678");
        assert_eq!(mask_phone("12345"), "***45");
        assert_eq!(mask_phone(""), "");
        // A national number that happens to start with 86 is not an international prefix.
        assert_eq!(mask_phone("86123456"), "****3456");
        assert_eq!(mask_phone("+86 12345"), "***2345");
    }

    #[test]
    fn pseudonyms_are_stable_and_do_not_contain_the_id() {
        let a = hash_id("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o");
        assert_eq!(a, hash_id("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"));
        assert_ne!(a, hash_id("oUpF8uMuAJO_M2pxb1Q9zNjWeS6p"));
        assert_eq!(a.len(), 18);
        assert!(!a.contains("oUpF"));
    }
}
