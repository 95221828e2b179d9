//! The one error type adapters return; the gateway maps it to HTTP statuses in one place.

/// Why an adapter refused a request. The message is safe to show the caller: it never contains
/// secrets, contact data or message text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdapterError {
    /// The body or a parameter cannot be parsed (HTTP 400).
    #[error("malformed request: {0}")]
    Malformed(String),
    /// Text in an encoding we cannot decode, or invalid bytes for the declared one (HTTP 400).
    #[error("wrong encoding: {0}")]
    Encoding(String),
    /// Missing or wrong signature, token or credentials (HTTP 401).
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// A timestamp outside the allowed window: a replay or a badly set clock (HTTP 401).
    #[error("stale or future timestamp: {0}")]
    Stale(String),
    /// The content type is not one this channel accepts (HTTP 415).
    #[error("unsupported content type: {0}")]
    UnsupportedMediaType(String),
    /// The sender's address is not on the source's allow list (HTTP 403).
    #[error("forbidden: {0}")]
    Forbidden(String),
}

impl AdapterError {
    /// A short, stable name for metrics labels and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            AdapterError::Malformed(_) => "malformed",
            AdapterError::Encoding(_) => "encoding",
            AdapterError::Unauthorized(_) => "unauthorized",
            AdapterError::Stale(_) => "stale",
            AdapterError::UnsupportedMediaType(_) => "unsupported_media_type",
            AdapterError::Forbidden(_) => "forbidden",
        }
    }

    /// True for authentication failures (counted as signature failures, never stored).
    pub fn is_auth_failure(&self) -> bool {
        matches!(
            self,
            AdapterError::Unauthorized(_) | AdapterError::Stale(_) | AdapterError::Forbidden(_)
        )
    }
}
