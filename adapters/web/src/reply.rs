//! The partner's answer: one result per post, in the order they were sent.

use serde::Serialize;

/// What happened to one post.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PostStatus {
    /// Durable and published for the first time.
    Accepted,
    /// Seen before: the same ids as the first time, nothing published again.
    Duplicate,
    /// Refused; `error` says why. The partner should fix it, not retry it.
    Rejected,
}

/// One entry of `results`.
#[derive(Clone, Debug, Serialize)]
pub struct PostResult {
    /// The partner's post id.
    pub id: String,
    /// What happened.
    pub status: PostStatus,
    /// The request id, unless rejected.
    pub request_id: Option<String>,
    /// The tracking number to show the citizen, unless rejected.
    pub tracking_no: Option<String>,
    /// Why it was rejected.
    pub error: Option<String>,
}

/// The 200 body: `{"results": [...]}`.
#[derive(Clone, Debug, Serialize)]
pub struct BatchReply {
    /// One entry per post, in input order.
    pub results: Vec<PostResult>,
}
