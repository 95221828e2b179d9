//! Turning an axum request into the adapter's view of it: headers, body, trace id.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use intake_adapter::{Headers, Inbound};
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Instant;
use tokio::task::futures::TaskLocalFuture;
use tracing::instrument::Instrumented;
use tracing::Instrument;

use super::error::ApiError;
use crate::logging::scope::{self, Admitted, Context as LogContext};
use crate::ops::stats;
use crate::telemetry::{self, InFlight};

/// What every hook handler does around its own work: the in-flight gauge, the trace id, the
/// request span (or its log context), and latency and outcome metrics at the end.
pub struct Hook {
    channel: &'static str,
    source: String,
    trace: String,
    span: tracing::Span,
    started: Instant,
    _in_flight: InFlight,
}

impl Hook {
    /// Starts a request on `channel`. `name` labels metrics and logs only when it is a configured
    /// source (`configured`): a scan of random URLs must not mint label values.
    pub fn begin(channel: &'static str, name: &str, configured: bool, headers: &HeaderMap) -> Self {
        let trace = trace_id(headers);
        let source = if configured {
            name.to_string()
        } else {
            "unknown".to_string()
        };
        // request_id and tracking_no join the outcome line once a record is admitted (see
        // `Hook::admitted`). The span's fields go to the log context when there is no span.
        let span = request_span(channel, &source, &trace);
        Hook {
            channel,
            source,
            trace,
            span,
            started: Instant::now(),
            _in_flight: InFlight::enter(channel),
        }
    }

    /// The source label: the configured name, or `unknown`.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The request's trace id.
    pub fn trace(&self) -> &str {
        &self.trace
    }

    /// Runs the handler's work in the request span and log context, then records its latency
    /// and outcome.
    ///
    /// A future of its own rather than an `async fn`: a coroutine keeps the `work` it was given
    /// in one slot and the wrapper it awaits (log context, span) in another, so every
    /// handler's future held its work twice (the WeChat push: 8.3 KB where 3.8 KB suffice), and
    /// axum moves that future into a fresh heap box per request (README "Performance").
    pub fn run<W>(&self, work: W) -> Run<'_, W>
    where
        W: Future<Output = Result<Response, ApiError>>,
    {
        let context = log_context(&self.span, self.channel, &self.source, &self.trace);
        Run {
            hook: self,
            work: context.scope(work.instrument(self.span.clone())),
        }
    }

    /// Names the record (or, joined by commas, the records) this request produced: the outcome
    /// line carries them. Kept in the request's log context rather than recorded on its span,
    /// because a `Span::record` makes the JSON log layer re-serialize every field of the span.
    pub fn admitted(request_id: &impl std::fmt::Display, tracking_no: &impl std::fmt::Display) {
        scope::admit(request_id, tracking_no);
    }

    /// The adapter's view of this request (borrowed: keep it out of awaits).
    pub fn inbound<'a>(
        &'a self,
        method: &'a str,
        uri: &'a Uri,
        headers: &'a HeaderView<'a>,
        body: &'a [u8],
        peer: Option<IpAddr>,
    ) -> Inbound<'a> {
        Inbound {
            method,
            query: uri.query().unwrap_or(""),
            headers,
            body,
            now: chrono::Utc::now(),
            peer,
            trace_id: &self.trace,
        }
    }
}

/// A request's tracing span, or a disabled one when requests carry a [`LogContext`] instead
/// (`logging::scope::use_spans`).
pub fn request_span(channel: &'static str, source: &str, trace: &str) -> tracing::Span {
    if scope::spans() {
        tracing::info_span!("request", channel, source, trace_id = trace)
    } else {
        tracing::Span::none()
    }
}

/// The log context that goes with `span`: its fields when the span is disabled (requests
/// without spans, or a level that filters spans out, where the lines then still name their
/// request), empty when the span itself carries them.
pub fn log_context(span: &tracing::Span, channel: &str, source: &str, trace: &str) -> LogContext {
    if span.is_disabled() {
        LogContext::new(&[
            ("channel", channel),
            ("source", source),
            ("trace_id", trace),
        ])
    } else {
        LogContext::none()
    }
}

pin_project_lite::pin_project! {
    /// A hook's work in its request span and log context; see [`Hook::run`].
    #[must_use = "futures do nothing unless awaited"]
    pub struct Run<'a, W> {
        hook: &'a Hook,
        #[pin]
        work: TaskLocalFuture<LogContext, Instrumented<W>>,
    }
}

impl<W> Future for Run<'_, W>
where
    W: Future<Output = Result<Response, ApiError>>,
{
    type Output = Response;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Response> {
        let mut this = self.project();
        let result = ready!(this.work.as_mut().poll(cx));
        let mut context = this.work.take_value().unwrap_or_default();
        let ids = context.take_admitted();
        let hook = *this.hook;
        Poll::Ready(finish_request(
            (&hook.span, context),
            hook.channel,
            &hook.source,
            hook.started,
            result,
            ids.as_ref(),
        ))
    }
}

/// Ends a hook request: records latency, counts and logs a failure, renders the response. The
/// outcome line is the request's only line at `info`; it goes out in the request's span or log
/// context (`log`).
pub fn finish_request(
    log: (&tracing::Span, LogContext),
    channel: &'static str,
    source: &str,
    started: Instant,
    result: Result<Response, ApiError>,
    ids: Option<&Admitted>,
) -> Response {
    let (span, context) = log;
    let elapsed = started.elapsed();
    telemetry::record_duration(channel, elapsed.as_secs_f64());
    stats::collector().latency_at(channel, elapsed.as_micros() as u64, stats::now_ms());
    match result {
        Ok(response) => {
            let (status, elapsed_ms) = (response.status().as_u16(), elapsed.as_millis() as u64);
            context.sync_scope(|| {
                span.in_scope(|| match ids {
                    Some(ids) => tracing::info!(
                        status,
                        elapsed_ms,
                        request_id = ids.request_id.as_str(),
                        tracking_no = ids.tracking_no.as_str(),
                        "request answered"
                    ),
                    None => tracing::info!(status, elapsed_ms, "request answered"),
                })
            });
            response
        }
        Err(error) => {
            telemetry::record_outcome(channel, source, error.outcome());
            if error.outcome() == "unauthorized" {
                metrics::counter!("intake_signature_failures_total", "channel" => channel, "source" => source.to_string()).increment(1);
            }
            let elapsed_ms = elapsed.as_millis() as u64;
            context.sync_scope(|| {
                span.in_scope(|| tracing::warn!(status = error.status().as_u16(), elapsed_ms, error = error.code(), reason = %error, "request refused"))
            });
            error.into_response()
        }
    }
}

/// The adapter's header lookup over an axum header map.
pub struct HeaderView<'a>(pub &'a HeaderMap);

impl Headers for HeaderView<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The body, or the right error: 413 over the limit, 400 when unreadable.
pub fn body(body: Result<Bytes, BytesRejection>, limit: usize) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge(limit),
        _ => ApiError::BadBody(rejection.body_text()),
    })
}

/// The W3C trace id of an incoming `traceparent`, or a fresh one.
pub fn trace_id(headers: &HeaderMap) -> String {
    headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .and_then(|tp| {
            let mut parts = tp.split('-');
            let (_version, id) = (parts.next()?, parts.next()?);
            let valid = id.len() == 32
                && id
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                && id != "0".repeat(32);
            valid.then(|| id.to_string())
        })
        // A thread-local generator, not `Uuid::new_v4`: that asks the kernel (getrandom) on every
        // request, about 2 % of a request's CPU. A trace id needs uniqueness, not secrecy.
        .unwrap_or_else(|| {
            let bits: u128 = rand::random();
            uuid::Builder::from_random_bytes(bits.to_le_bytes())
                .into_uuid()
                .simple()
                .to_string()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The outcome lines of an answered and a refused request, with spans on or off, without
    /// the parts that differ between runs (time, elapsed).
    fn outcome_lines(spans: bool) -> Vec<serde_json::Value> {
        let text = crate::logging::format::capture::captured(|| {
            scope::use_spans(spans);
            let span = request_span("web", "baixing", "4bf9");
            let context = log_context(&span, "web", "baixing", "4bf9");
            let ids = Admitted {
                request_id: "r-1".into(),
                tracking_no: "T-1".into(),
            };
            let ok = Ok(StatusCode::OK.into_response());
            finish_request(
                (&span, context),
                "web",
                "baixing",
                Instant::now(),
                ok,
                Some(&ids),
            );
            let span = request_span("web", "baixing", "4bf9");
            let context = log_context(&span, "web", "baixing", "4bf9");
            let refused = Err(ApiError::Overloaded);
            finish_request(
                (&span, context),
                "web",
                "baixing",
                Instant::now(),
                refused,
                None,
            );
            scope::use_spans(true);
        });
        // Byte for byte, in the span's own order: log shippers may match on the text.
        let span =
            r#","span":{"channel":"web","source":"baixing","trace_id":"4bf9","name":"request"}}"#;
        assert!(text.lines().all(|l| l.ends_with(span)), "{text}");
        text.lines()
            .map(|l| {
                let mut line: serde_json::Value = serde_json::from_str(l).unwrap();
                line.as_object_mut().unwrap().remove("timestamp");
                line["fields"].as_object_mut().unwrap().remove("elapsed_ms");
                line
            })
            .collect()
    }

    #[test]
    fn outcome_lines_are_the_same_with_a_span_or_a_log_context() {
        let with_span = outcome_lines(true);
        assert_eq!(with_span.len(), 2);
        assert_eq!(
            with_span[0]["span"],
            serde_json::json!({"channel": "web", "source": "baixing", "trace_id": "4bf9", "name": "request"})
        );
        assert_eq!(with_span[0]["fields"]["tracking_no"], "T-1");
        assert_eq!(outcome_lines(false), with_span);
    }

    #[test]
    fn traceparent_is_honoured_and_junk_replaced() {
        let mut h = HeaderMap::new();
        h.insert(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
                .parse()
                .unwrap(),
        );
        assert_eq!(trace_id(&h), "4bf92f3577b34da6a3ce929d0e0e4736");
        h.insert("traceparent", "garbage".parse().unwrap());
        let fresh = trace_id(&h);
        assert_eq!(fresh.len(), 32);
        assert!(fresh.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
