//! The one place where failures become HTTP statuses.
//!
//! Everything a caller can cause is a 4xx with a reason they can act on; 503 means "we could not
//! make it durable, retry". Nothing a caller sends produces a 500.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use intake_adapter::AdapterError;
use serde_json::json;

use crate::pipeline::NotDurable;

/// Seconds a caller should wait before retrying after a 503 or 429.
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
    /// Too many requests from this channel or sender.
    #[error("rate limited")]
    RateLimited,
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
            ApiError::NotDurable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
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
            ApiError::RateLimited => "rate_limited",
        }
    }

    /// The metrics outcome this error counts as.
    pub fn outcome(&self) -> &'static str {
        match self {
            ApiError::Adapter(e) if e.is_auth_failure() => "unauthorized",
            ApiError::NotDurable(_) => "failed",
            ApiError::RateLimited => "rate_limited",
            _ => "rejected",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response = (
            status,
            Json(json!({"error": self.code(), "reason": self.to_string()})),
        )
            .into_response();
        if matches!(
            status,
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS
        ) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        }
        response
    }
}

#[cfg(test)]
mod tests {
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
            (ApiError::RateLimited, 429),
        ];
        for (err, status) in cases {
            let response = err.into_response();
            assert_eq!(response.status().as_u16(), status);
            if status == 503 || status == 429 {
                assert!(response.headers().contains_key(header::RETRY_AFTER));
            }
        }
    }
}
