//! The middleware in front of every hook route: head size, in-flight cap, channel rate.
//!
//! It runs before any handler, so what it refuses costs neither a body parse nor a signature
//! check. It knows the channels only through the [`Door`] each one describes itself with.

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::OwnedSemaphorePermit;

use super::error::ApiError;
use super::limits::{Limited, Limits};
use super::request::{finish_request, log_context, request_span, trace_id};

/// Whether a name from the URL is a configured, enabled source of a channel.
pub type Known = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// How a channel's caller is told that the channel is over its rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateRefusal {
    /// 429 with `Retry-After`: the caller understands it.
    TooManyRequests,
    /// 503 with `Retry-After`: the caller retries only after a server error (WeChat treats 429
    /// like any answer it cannot use).
    Busy,
}

/// One channel's hook family as the guard sees it: `/hooks/{segment}/{name}`.
#[derive(Clone)]
pub struct Door {
    /// The path segment after `/hooks/`.
    pub segment: &'static str,
    /// The `channel` label of metrics and logs.
    pub channel: &'static str,
    /// Whether `name` is a configured source: only those get their own label value.
    pub known: Known,
    /// What a caller over `limits.channel_per_second` gets.
    pub refusal: RateRefusal,
}

/// What the guard reads.
#[derive(Clone)]
pub struct GuardState {
    /// The shared limiters.
    pub limits: Arc<Limits>,
    /// Every channel's door.
    pub doors: Arc<[Door]>,
}

/// The middleware: admits a request into its handler or answers it at once.
pub async fn guard(State(state): State<GuardState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let (door, source) = labels(&state.doors, request.uri().path());
    let channel = door.map_or(UNKNOWN, |d| d.channel);
    match admit(&state.limits, &request, door, &source) {
        Ok(slot) => {
            // Held across the handler: the slot is free again once the answer is ready, or
            // once the timeout layer inside drops the handler.
            let response = next.run(request).await;
            drop(slot);
            response
        }
        Err(error) => {
            let trace = trace_id(request.headers());
            let span = request_span(channel, &source, &trace);
            let context = log_context(&span, channel, &source, &trace);
            finish_request(
                (&span, context),
                channel,
                &source,
                started,
                Err(error),
                None,
            )
        }
    }
}

/// The cheap checks, cheapest first; a refused request gives its slot back at once.
fn admit(
    limits: &Limits,
    request: &Request,
    door: Option<&Door>,
    source: &str,
) -> Result<OwnedSemaphorePermit, ApiError> {
    if head_bytes(request) > limits.max_header_bytes() {
        return Err(ApiError::HeadersTooLarge(limits.max_header_bytes()));
    }
    let slot = limits.enter().ok_or(ApiError::Overloaded)?;
    // Only pushes to a configured source count against the channel: a scan of random URLs
    // (404 at once) must not use up the budget of the real senders.
    if let Some(door) = door.filter(|_| request.method() == Method::POST && source != UNKNOWN) {
        limits
            .check_channel(door.channel)
            .map_err(|limited: Limited| match door.refusal {
                RateRefusal::Busy => ApiError::Busy(limited),
                RateRefusal::TooManyRequests => ApiError::RateLimited(limited),
            })?;
    }
    Ok(slot)
}

const UNKNOWN: &str = "unknown";

/// The door of a hook path and its source label: the name only when it is configured (an
/// arbitrary URL segment must not create a new time series).
fn labels<'a>(doors: &'a [Door], path: &str) -> (Option<&'a Door>, String) {
    let mut parts = path.trim_start_matches('/').split('/');
    let (Some("hooks"), Some(segment), Some(name)) = (parts.next(), parts.next(), parts.next())
    else {
        return (None, UNKNOWN.into());
    };
    let Some(door) = doors.iter().find(|d| d.segment == segment) else {
        return (None, UNKNOWN.into());
    };
    let source = if (door.known)(name) { name } else { UNKNOWN };
    (Some(door), source.to_string())
}

/// The request line and headers as they were on the wire, give or take the separators.
fn head_bytes(request: &Request) -> usize {
    let uri = request.uri();
    let target = uri.path().len() + uri.query().map_or(0, |q| q.len() + 1);
    let line = request.method().as_str().len() + target + 12;
    let headers: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    line + headers
}

#[cfg(test)]
mod tests {
    use super::*;

    fn door(segment: &'static str, channel: &'static str) -> Door {
        Door {
            segment,
            channel,
            known: Arc::new(|name| name == "known"),
            refusal: RateRefusal::TooManyRequests,
        }
    }

    #[test]
    fn labels_name_only_configured_sources_of_known_channels() {
        let doors = [door("call", "phone"), door("web", "web")];
        let (d, source) = labels(&doors, "/hooks/call/known");
        assert_eq!(
            (d.map(|d| d.channel), source.as_str()),
            (Some("phone"), "known")
        );
        let (d, source) = labels(&doors, "/hooks/web/random-scan");
        assert_eq!(
            (d.map(|d| d.channel), source.as_str()),
            (Some("web"), "unknown")
        );
        let (d, source) = labels(&doors, "/hooks/fax/known");
        assert!(d.is_none());
        assert_eq!(source, "unknown");
        assert!(labels(&doors, "/other").0.is_none());
    }
}
