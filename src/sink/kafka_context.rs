//! What librdkafka says about its connections, kept for `/readyz` and the ops page.
//!
//! librdkafka retries a failing connection on its own and reports every attempt through the
//! error callback. The gateway keeps the last reason in words (a TLS certificate error, a SASL
//! authentication failure, a refused connection), logs it once per change rather than once per
//! retry, and forgets it when the cluster answers again.

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use std::sync::{Arc, Mutex};

/// The producer's client context: records connection errors instead of logging each retry.
#[derive(Clone, Default)]
pub struct GatewayContext {
    last: Arc<Mutex<Option<String>>>,
}

impl GatewayContext {
    /// The last connection error since the cluster last answered, in librdkafka's words.
    pub fn last_error(&self) -> Option<String> {
        self.last.lock().ok().and_then(|l| l.clone())
    }

    /// Records `reason`; logs it when it is a different kind of failure than the one before.
    pub fn record(&self, reason: &str) {
        let reason = normalize(reason);
        let Ok(mut last) = self.last.lock() else {
            return;
        };
        // librdkafka words one failure several ways (the handshake's error, then the socket's),
        // so retries are compared by kind, and the first wording of a kind is kept.
        if last.as_deref().map(kind) != Some(kind(&reason)) {
            tracing::warn!(reason = %reason, "kafka connection error");
            *last = Some(reason);
        }
    }

    /// Records an error only when nothing more specific is known.
    fn record_if_unknown(&self, reason: &str) {
        if self.last_error().is_none() {
            self.record(reason);
        }
    }

    /// The cluster answered: the reason is history.
    pub fn clear(&self) {
        if let Ok(mut last) = self.last.lock() {
            *last = None;
        }
    }
}

impl ClientContext for GatewayContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        // Each retry logs again; what matters reaches `error` below and is logged once.
        match level {
            RDKafkaLogLevel::Emerg | RDKafkaLogLevel::Alert | RDKafkaLogLevel::Critical => {
                tracing::warn!(target: "librdkafka", facility = fac, "{message}")
            }
            _ => tracing::debug!(target: "librdkafka", facility = fac, "{message}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        // "1/1 brokers are down" follows every specific failure and would hide it.
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::AllBrokersDown) {
            self.record_if_unknown(reason);
        } else {
            self.record(reason);
        }
    }
}

/// The kind of a failure: what an operator would fix. Judged without the broker's name in
/// front (`ssl://host:9093/bootstrap: ...`), whose scheme says nothing about the failure.
fn kind(reason: &str) -> String {
    let body = match reason.split_once(": ") {
        Some((broker, rest)) if broker.contains("://") => rest,
        _ => reason,
    };
    let lower = body.to_ascii_lowercase();
    let kind = if lower.contains("sasl") || lower.contains("authentication") {
        "authentication"
    } else if lower.contains("connection refused") {
        "refused"
    } else if lower.contains("certificate") || lower.contains("ssl") || lower.contains("tls") {
        "tls"
    } else if lower.contains("timed out") || lower.contains("timeout") {
        "timeout"
    } else {
        return body.to_string();
    };
    kind.to_string()
}

/// Drops what changes from one retry to the next (timings, suppression counts), so that the
/// same failure compares equal and is logged once.
fn normalize(reason: &str) -> String {
    let mut r = reason;
    for cut in [
        " (after ",
        ": 1 identical",
        " identical error(s) suppressed",
    ] {
        if let Some(i) = r.find(cut) {
            r = &r[..i];
        }
    }
    let r = r.trim_end_matches(|c: char| c == ',' || c.is_whitespace() || c.is_ascii_digit());
    r.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_of_one_failure_compare_equal() {
        let a = "ssl://127.0.0.1:1/bootstrap: SSL handshake failed: certificate verify failed (after 3ms in state SSL_HANDSHAKE)";
        let b = "ssl://127.0.0.1:1/bootstrap: SSL handshake failed: certificate verify failed (after 12ms in state SSL_HANDSHAKE, 4 identical error(s) suppressed)";
        assert_eq!(normalize(a), normalize(b));
        assert!(normalize(a).ends_with("certificate verify failed"));
        let c = GatewayContext::default();
        c.record(a);
        c.record(
            "ssl://127.0.0.1:1/bootstrap: error:0A000086:SSL routines::certificate verify failed",
        );
        assert_eq!(c.last_error().as_deref(), Some(normalize(a).as_str()));
        c.record(
            "ssl://127.0.0.1:1/bootstrap: Connect to ipv4#127.0.0.1:1 failed: Connection refused",
        );
        assert!(c.last_error().unwrap().contains("refused"));
    }

    #[test]
    fn all_brokers_down_does_not_hide_the_reason() {
        let c = GatewayContext::default();
        c.error(
            KafkaError::Global(RDKafkaErrorCode::Authentication),
            "SASL authentication error: invalid credentials",
        );
        c.error(
            KafkaError::Global(RDKafkaErrorCode::AllBrokersDown),
            "1/1 brokers are down",
        );
        assert_eq!(
            c.last_error().as_deref(),
            Some("SASL authentication error: invalid credentials")
        );
        c.clear();
        assert_eq!(c.last_error(), None);
    }
}
