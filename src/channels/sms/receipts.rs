//! Receipts sent to the citizen through a provider's HTTP send endpoint (`receipt_url`).
//!
//! Best effort, by design: a receipt is queued only after its request is durable, sent by a
//! background task, retried with exponential backoff, and never delays or fails the inbound
//! acknowledgement. Receipts are held in memory only: a receipt still queued or retrying when
//! the gateway stops (or crashes) is lost, and the citizen gets no SMS for that request.
//!
//! `receipt_url` may be `https://` (verified against the system's store and `outbound.ca_file`)
//! or `http://` for an SMS gateway on the hotline's own network.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc::error::TrySendError::{Closed, Full};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::{JoinHandle, JoinSet};

use super::config::{SmsChannelConfig, SmsProviderConfig};

/// Receipts waiting for the sender; beyond this they are dropped rather than block a hook.
pub const QUEUE_CAPACITY: usize = 10_000;
/// Sends per receipt, the first included.
pub const MAX_ATTEMPTS: u32 = 5;
/// Receipts being sent (or waiting between attempts) at once.
pub const MAX_CONCURRENT: usize = 64;
/// Per-attempt timeout (connect, send, answer).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long `shutdown` lets receipts in progress finish before abandoning them.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// One receipt to send.
#[derive(Clone)]
pub struct Receipt {
    /// The provider's name (`channels.sms.providers.<name>`).
    pub provider: String,
    /// The citizen's number, E.164. Never logged.
    pub to: String,
    /// The receipt text. Never logged.
    pub text: String,
    /// The request's tracking number (logged, so that a failed receipt can be followed up).
    pub tracking_no: String,
    /// The request id (logged).
    pub request_id: String,
}

/// How one provider's receipts are sent, from its config.
struct Target {
    url: String,
    post: bool,
    body: Option<String>,
    content_type: String,
    headers: HeaderMap,
    retry_base: Duration,
}

/// The queue and its background sender.
pub struct ReceiptSender {
    queue: mpsc::Sender<Receipt>,
    targets: Arc<HashMap<String, Target>>,
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl ReceiptSender {
    /// A sender for every provider that sends receipts over HTTP; spawns its task.
    pub fn start(sms: &SmsChannelConfig, outbound: crate::outbound::Outbound) -> Self {
        metrics::describe_counter!("intake_receipts_total", "SMS receipts: sent|failed|dropped");
        let targets: Arc<HashMap<String, Target>> = (sms.providers)
            .iter()
            .filter(|(_, c)| c.sends_receipts())
            .map(|(name, c)| (name.clone(), Target::from_config(c)))
            .collect::<HashMap<_, _>>()
            .into();
        let (queue, rx) = mpsc::channel(QUEUE_CAPACITY);
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(rx, targets.clone(), stopped, outbound));
        ReceiptSender {
            queue,
            targets,
            stop,
            task: Mutex::new(Some(task)),
        }
    }

    /// Queues `receipt` without waiting; when the queue is full (or stopped) it is dropped.
    pub fn enqueue(&self, receipt: Receipt) {
        if !self.targets.contains_key(&receipt.provider) {
            return;
        }
        if let Err(Full(r) | Closed(r)) = self.queue.try_send(receipt) {
            count(&r.provider, "dropped");
            tracing::warn!(provider = %r.provider, request_id = %r.request_id, tracking_no = %r.tracking_no, "receipt queue full or stopped; receipt dropped");
        }
    }

    /// Stops the sender: receipts in progress get [`SHUTDOWN_GRACE`], queued ones are dropped.
    pub async fn shutdown(&self) {
        let _ = self.stop.send(true);
        let task = self.task.lock().ok().and_then(|mut t| t.take());
        if let Some(mut task) = task {
            if tokio::time::timeout(SHUTDOWN_GRACE + Duration::from_secs(1), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }
}

impl Target {
    fn from_config(c: &SmsProviderConfig) -> Self {
        // Validated with the config: a bad header cannot reach here. Sensitive: never printed.
        let headers = (c.receipt_headers.iter())
            .filter_map(|(k, v)| {
                let mut v = HeaderValue::from_str(v.expose()).ok()?;
                v.set_sensitive(true);
                Some((HeaderName::from_bytes(k.as_bytes()).ok()?, v))
            })
            .collect();
        Target {
            url: (c.receipt_url.as_ref()).map_or_else(String::new, |u| u.expose().into()),
            post: c.receipt_posts(),
            body: c.receipt_body.clone(),
            content_type: c.receipt_content_type.clone(),
            headers,
            retry_base: c.receipt_retry_base,
        }
    }
}

async fn run(
    mut rx: mpsc::Receiver<Receipt>,
    targets: Arc<HashMap<String, Target>>,
    mut stopped: watch::Receiver<bool>,
    outbound: crate::outbound::Outbound,
) {
    let built =
        client(&outbound).inspect_err(|e| tracing::error!(error = %e, "receipt client not built"));
    let Ok(client) = built else { return };
    let slots = Arc::new(Semaphore::new(MAX_CONCURRENT));
    let mut sending = JoinSet::new();
    loop {
        while sending.try_join_next().is_some() {}
        tokio::select! {
            _ = stopped.changed() => break,
            Some(_) = sending.join_next(), if !sending.is_empty() => {}
            receipt = rx.recv() => {
                let Some(receipt) = receipt else { break };
                let Ok(slot) = slots.clone().acquire_owned().await else { break };
                let (client, targets) = (client.clone(), targets.clone());
                sending.spawn(async move {
                    if let Some(target) = targets.get(&receipt.provider) {
                        deliver(&client, target, &receipt).await;
                    }
                    drop(slot);
                });
            }
        }
    }
    rx.close();
    while let Ok(r) = rx.try_recv() {
        count(&r.provider, "dropped");
    }
    let finish = async { while sending.join_next().await.is_some() {} };
    if tokio::time::timeout(SHUTDOWN_GRACE, finish).await.is_err() {
        tracing::warn!(
            in_progress = sending.len(),
            "receipts still being sent at shutdown are abandoned"
        );
        sending.abort_all();
    }
}

/// No redirects at all: the URL and headers carry credentials and the citizen's number, which
/// must not follow a redirect elsewhere. A 3xx counts as a refusal.
fn client(outbound: &crate::outbound::Outbound) -> reqwest::Result<reqwest::Client> {
    outbound
        .builder()
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(REQUEST_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
}

/// Sends one receipt with retries; logs ids, attempt and status only (no number, no text).
async fn deliver(client: &reqwest::Client, target: &Target, r: &Receipt) {
    for attempt in 1..=MAX_ATTEMPTS {
        let outcome = send_once(client, target, r).await;
        let retry = match &outcome {
            Ok(status) if status.is_success() => {
                count(&r.provider, "sent");
                tracing::info!(provider = %r.provider, request_id = %r.request_id, tracking_no = %r.tracking_no, attempt, status = status.as_u16(), "receipt sent");
                return;
            }
            // A refusal other than timeout/throttling will not change on its own.
            Ok(status) => {
                status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429
            }
            Err(_) => true,
        };
        let status = outcome.as_ref().map(|s| s.as_u16()).unwrap_or(0);
        let error = outcome.as_ref().err().map(crate::outbound::describe);
        tracing::warn!(provider = %r.provider, request_id = %r.request_id, tracking_no = %r.tracking_no, attempt, status, error, "receipt not sent");
        if !retry || attempt == MAX_ATTEMPTS {
            break;
        }
        tokio::time::sleep(backoff(target.retry_base, attempt)).await;
    }
    count(&r.provider, "failed");
    tracing::error!(provider = %r.provider, request_id = %r.request_id, tracking_no = %r.tracking_no, "receipt failed; the citizen got no SMS receipt");
}

/// `base * 2^(attempt-1)` plus up to 10% jitter, so that a provider recovering from an outage is
/// not hit by every queued receipt in the same instant.
fn backoff(base: Duration, attempt: u32) -> Duration {
    let delay = base.saturating_mul(1 << (attempt - 1).min(16));
    let jitter_ms = (delay.as_millis() / 10) as u64;
    delay + Duration::from_millis(rand::random_range(0..=jitter_ms))
}

/// The error carries no URL: the URL holds the citizen's number and the account's password.
async fn send_once(
    client: &reqwest::Client,
    target: &Target,
    r: &Receipt,
) -> Result<reqwest::StatusCode, reqwest::Error> {
    let url = render(&target.url, r, percent_encode);
    let request = match target.post {
        false => client.get(url),
        true => {
            let escape: fn(&str) -> String = match target.content_type.as_str() {
                t if t.contains("json") => json_escape,
                t if t.contains("x-www-form-urlencoded") => percent_encode,
                _ => str::to_owned,
            };
            let body = target.body.as_deref().map(|b| render(b, r, escape));
            client
                .post(url)
                .header(CONTENT_TYPE, target.content_type.as_str())
                .body(body.unwrap_or_default())
        }
    };
    let response = request
        .headers(target.headers.clone())
        .send()
        .await
        .map_err(|e| e.without_url())?;
    Ok(response.status())
}

/// Replaces `{to}`, `{to_national}`, `{text}` and `{tracking_no}` in one pass, so that a value
/// containing a placeholder is never expanded again; other braces are kept as written.
pub fn render(template: &str, r: &Receipt, escape: fn(&str) -> String) -> String {
    let national = r.to.strip_prefix("+86").unwrap_or(&r.to);
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let tail = &rest[open..];
        let value = [
            ("{to}", r.to.as_str()),
            ("{to_national}", national),
            ("{text}", r.text.as_str()),
            ("{tracking_no}", r.tracking_no.as_str()),
        ]
        .into_iter()
        .find(|(p, _)| tail.starts_with(p));
        let (text, used) = value.map_or(("{".into(), 1), |(p, v)| (escape(v), p.len()));
        out.push_str(&text);
        rest = &tail[used..];
    }
    out.push_str(rest);
    out
}

/// RFC 3986 percent-encoding of everything but the unreserved characters (UTF-8 bytes).
pub fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The inside of a JSON string literal.
pub fn json_escape(s: &str) -> String {
    let quoted = serde_json::Value::from(s).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

fn count(provider: &str, outcome: &'static str) {
    metrics::counter!("intake_receipts_total", "provider" => provider.to_string(), "outcome" => outcome).increment(1);
}
