//! Signed batches to the running gateway's web hook, exactly as a partner pushes them, so dedup,
//! limits, metrics and cluster mode apply to imports as to pushes.

use serde::Deserialize;
use serde_json::Value;
use std::time::Duration;

/// One post's answer, as the hook gives it.
#[derive(Clone, Debug, Deserialize)]
pub struct Answer {
    /// accepted, duplicate or rejected.
    pub status: String,
    /// The tracking number, unless rejected.
    pub tracking_no: Option<String>,
    /// Why it was rejected.
    pub error: Option<String>,
}

#[derive(Deserialize)]
struct Reply {
    results: Vec<Answer>,
}

/// Why a batch got no per-post answers.
pub enum BatchError {
    /// The gateway refused the whole batch (400, 413...): its posts are rejected with this reason.
    Refused(String),
    /// Wrong partner or secret, or the gateway stayed unreachable: nothing more can be sent.
    Fatal(String),
}

/// Sends signed batches to `{base}/hooks/web/{partner}`.
pub struct Submitter {
    client: reqwest::Client,
    url: String,
    secret: String,
    retries: u32,
}

impl Submitter {
    /// A submitter; `retries` is how often a batch is re-sent on 429, 5xx or a network error.
    pub fn new(base: &str, partner: &str, secret: &str) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(Submitter {
            client,
            url: format!("{}/hooks/web/{partner}", base.trim_end_matches('/')),
            secret: secret.to_string(),
            retries: 6,
        })
    }

    /// Sends one batch. A retried batch is harmless: the gateway answers `duplicate` for what a
    /// lost answer had already accepted.
    pub async fn send(&self, posts: &[Value]) -> Result<Vec<Answer>, BatchError> {
        let body = serde_json::json!({ "posts": posts }).to_string();
        let mut last = String::new();
        for attempt in 0..=self.retries {
            if attempt > 0 {
                let backoff = Duration::from_millis(250 << attempt.min(5));
                tokio::time::sleep(backoff).await;
            }
            let ts = chrono::Utc::now().timestamp().to_string();
            let sig = intake_adapter::signature::hmac_sha256_hex(
                self.secret.as_bytes(),
                &[ts.as_bytes(), b".", body.as_bytes()],
            );
            let sent = self
                .client
                .post(&self.url)
                .header("content-type", "application/json")
                .header("x-intake-timestamp", &ts)
                .header("x-intake-signature", format!("v1={sig}"))
                .body(body.clone())
                .send()
                .await;
            let response = match sent {
                Ok(r) => r,
                Err(e) => {
                    last = format!("cannot reach the gateway: {}", without_url(&e));
                    continue;
                }
            };
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            let reason = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v.get("reason").and_then(Value::as_str).map(str::to_string))
                .unwrap_or_else(|| text.chars().take(200).collect());
            match status.as_u16() {
                200 => {
                    let reply: Reply = serde_json::from_str(&text)
                        .map_err(|e| BatchError::Fatal(format!("unexpected answer: {e}")))?;
                    if reply.results.len() != posts.len() {
                        return Err(BatchError::Fatal(format!(
                            "the gateway answered {} results for {} posts",
                            reply.results.len(),
                            posts.len()
                        )));
                    }
                    return Ok(reply.results);
                }
                401 | 403 | 404 => {
                    return Err(BatchError::Fatal(format!(
                        "the gateway refused the partner or its secret ({status}): {reason}"
                    )))
                }
                429 | 500..=599 => last = format!("{status}: {reason}"),
                _ => {
                    return Err(BatchError::Refused(format!(
                        "batch refused ({status}): {reason}"
                    )))
                }
            }
        }
        Err(BatchError::Fatal(format!(
            "gave up after {} attempts: {last}",
            self.retries + 1
        )))
    }
}

/// reqwest's messages name the URL; the kind of failure is enough and keeps the output short.
fn without_url(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection refused or unreachable"
    } else {
        "request failed"
    }
}
