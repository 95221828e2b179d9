//! Metrics and logs of a hook request, in one place so every channel counts the same way.
//!
//! Labels and log fields carry channel, source, ids and outcomes only: never a phone number,
//! openid or message text.

use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Instant;

use crate::http::ApiError;

const LATENCY_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0,
];

/// Installs the Prometheus recorder once per process and returns its handle.
pub fn prometheus() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
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
}

/// Counts one record's (or request's) outcome.
pub fn record_outcome(channel: &str, source: &str, outcome: &'static str) {
    metrics::counter!("intake_requests_total", "channel" => channel.to_string(), "source" => source.to_string(), "outcome" => outcome).increment(1);
}

/// Counts a request as in flight until the guard drops.
pub struct InFlight(&'static str);

impl InFlight {
    /// Enters `channel`.
    pub fn enter(channel: &'static str) -> Self {
        metrics::gauge!("intake_in_flight", "channel" => channel).increment(1.0);
        InFlight(channel)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        metrics::gauge!("intake_in_flight", "channel" => self.0).decrement(1.0);
    }
}

/// Ends a hook request: records latency, counts and logs a failure, renders the response.
pub fn finish_request(
    span: &tracing::Span,
    channel: &'static str,
    source: &str,
    started: Instant,
    result: Result<Response, ApiError>,
) -> Response {
    metrics::histogram!("intake_request_duration_seconds", "channel" => channel)
        .record(started.elapsed().as_secs_f64());
    match result {
        Ok(response) => {
            span.in_scope(|| {
                tracing::info!(
                    status = response.status().as_u16(),
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "request answered"
                )
            });
            response
        }
        Err(error) => {
            record_outcome(channel, source, error.outcome());
            if error.outcome() == "unauthorized" {
                metrics::counter!("intake_signature_failures_total", "channel" => channel, "source" => source.to_string()).increment(1);
            }
            span.in_scope(|| tracing::warn!(status = error.status().as_u16(), error = error.code(), reason = %error, "request refused"));
            error.into_response()
        }
    }
}
