//! Why a record is not (yet) durable, whichever sink it went to.

/// Why a record is not (yet) durable.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SinkError {
    /// The broker refused or did not confirm.
    #[error("kafka: {0}")]
    Kafka(String),
    /// The local journal could not write.
    #[error(transparent)]
    Local(#[from] crate::local_log::LogError),
    /// The record could not be encoded (a bug, not the caller's fault).
    #[error("encoding: {0}")]
    Encoding(String),
}
