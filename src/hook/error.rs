//! The one place where failures become HTTP statuses.
//!
//! Everything a caller can cause is a 4xx with a reason they can act on; 503 means "we could not
//! make it durable, retry". Nothing a caller sends produces a 500.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use intake_adapter::AdapterError;
use serde_json::json;

use super::limits::Limited;
use crate::pipeline::NotDurable;

/// Seconds a caller should wait before retrying after a 503 that no limiter timed.
pub const RETRY_AFTER_SECS: u64 = 2;

/// Why a hook request failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The adapter refused it.
    #[error(transparent)]
    Adapter(#[from] AdapterError),
    /// No enabled partner, account, provider or source of that name.
    #[error("unknown or disabled {kind} {name:?}")]
    UnknownSource {
        /// `partner`, `account`, `provider` or `source`.
        kind: &'static str,
        /// The name from the URL.
        name: String,
    },
    /// The body is over `server.max_body_bytes`.
    #[error("body is larger than {0} bytes")]
    TooLarge(usize),
    /// The body could not be read.
    #[error("unreadable body: {0}")]
    BadBody(String),
    /// The sink did not confirm durability in time.
    #[error(transparent)]
    NotDurable(#[from] NotDurable),
    /// Too many requests from this channel or sender: 429.
    #[error("rate limited: {0}")]
    RateLimited(Limited),
    /// Too many requests on a channel whose caller retries only after a server error
    /// (WeChat treats 429 like any answer it cannot use): 503.
    #[error("rate limited: {0}")]
    Busy(Limited),
    /// `limits.max_in_flight` requests are being handled already: shed, not queued.
    #[error("the gateway is at its in-flight limit; retry after {RETRY_AFTER_SECS} s")]
    Overloaded,
    /// The request line and headers are over `limits.max_header_bytes`.
    #[error("request headers are larger than {0} bytes")]
    HeadersTooLarge(usize),
}

impl ApiError {
    /// The status for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Adapter(e) => match e {
                AdapterError::Malformed(_) | AdapterError::Encoding(_) => StatusCode::BAD_REQUEST,
                AdapterError::Unauthorized(_) | AdapterError::Stale(_) => StatusCode::UNAUTHORIZED,
                AdapterError::Forbidden(_) => StatusCode::FORBIDDEN,
                AdapterError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            },
            ApiError::UnknownSource { .. } => StatusCode::NOT_FOUND,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BadBody(_) => StatusCode::BAD_REQUEST,
            ApiError::NotDurable(_) | ApiError::Busy(_) | ApiError::Overloaded => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::HeadersTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        }
    }

    /// A stable machine-readable code, also the `outcome` label of metrics.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Adapter(e) => e.kind(),
            ApiError::UnknownSource { .. } => "unknown_source",
            ApiError::TooLarge(_) => "too_large",
            ApiError::BadBody(_) => "bad_body",
            ApiError::NotDurable(_) => "not_durable",
            ApiError::RateLimited(_) | ApiError::Busy(_) => "rate_limited",
            ApiError::Overloaded => "overloaded",
            ApiError::HeadersTooLarge(_) => "headers_too_large",
        }
    }

    /// The metrics outcome this error counts as.
    pub fn outcome(&self) -> &'static str {
        match self {
            ApiError::Adapter(e) if e.is_auth_failure() => "unauthorized",
            ApiError::NotDurable(_) => "failed",
            ApiError::RateLimited(_) | ApiError::Busy(_) => "rate_limited",
            // Not the caller's doing: the gateway as a whole is full.
            ApiError::Overloaded => "shed",
            _ => "rejected",
        }
    }

    /// `Retry-After` seconds for an answer the caller should retry, `None` otherwise.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            ApiError::RateLimited(limited) | ApiError::Busy(limited) => {
                Some(limited.retry_after_secs())
            }
            ApiError::NotDurable(_) | ApiError::Overloaded => Some(RETRY_AFTER_SECS),
            _ => None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status(),
            Json(json!({"error": self.code(), "reason": self.to_string()})),
        )
            .into_response();
        if let Some(secs) = self.retry_after_secs() {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::super::limits::Scope;
    use super::*;

    #[test]
    fn statuses() {
        let cases = [
            (ApiError::Adapter(AdapterError::Malformed("x".into())), 400),
            (ApiError::Adapter(AdapterError::Encoding("x".into())), 400),
            (
                ApiError::Adapter(AdapterError::Unauthorized("x".into())),
                401,
            ),
            (ApiError::Adapter(AdapterError::Stale("x".into())), 401),
            (
                ApiError::Adapter(AdapterError::UnsupportedMediaType("x".into())),
                415,
            ),
            (
                ApiError::UnknownSource {
                    kind: "partner",
                    name: "x".into(),
                },
                404,
            ),
            (ApiError::TooLarge(1), 413),
            (ApiError::NotDurable(NotDurable("x".into())), 503),
            (ApiError::RateLimited(limited(Scope::Sender, 1500)), 429),
            (ApiError::Busy(limited(Scope::Channel, 10)), 503),
            (ApiError::Overloaded, 503),
            (ApiError::HeadersTooLarge(16384), 431),
        ];
        for (err, status) in cases {
            let response = err.into_response();
            assert_eq!(response.status().as_u16(), status);
            if status == 503 || status == 429 {
                assert!(response.headers().contains_key(header::RETRY_AFTER));
            }
        }
    }

    fn limited(scope: Scope, millis: u64) -> Limited {
        Limited {
            scope,
            retry_after: std::time::Duration::from_millis(millis),
        }
    }

    #[test]
    fn retry_after_is_the_limiter_wait_rounded_up() {
        let response = ApiError::RateLimited(limited(Scope::Sender, 1500)).into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");
        // Never "retry at once": 0 would invite a tight retry loop.
        let response = ApiError::Busy(limited(Scope::Channel, 10)).into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        assert_eq!(
            ApiError::Overloaded.into_response().headers()[header::RETRY_AFTER],
            RETRY_AFTER_SECS.to_string().as_str()
        );
    }
}
