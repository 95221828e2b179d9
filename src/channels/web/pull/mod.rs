//! Pull mode: for a partner that cannot push, a background task per feed fetches pages of posts
//! after the last cursor and submits each post through the same pipeline as a push.
//!
//! Durability order: every item of a page (request or dead letter) is durable before the cursor
//! moves past it, and the cursor is fsynced; a crash re-reads at most one page and dedup makes
//! that harmless, including for an item the broker took just before the crash ([`inflight`]).
//! Fetches time out, are retried with jittered backoff, and a circuit breaker stops hammering a
//! feed that keeps failing.

pub mod config;
pub mod cursor;
pub mod feed;
pub mod health;
pub mod inflight;
pub mod lease;

pub use config::{PullAuth, PullConfig};
pub use lease::FeedLease;

use intake_schema::{Channel, DeadLetter, RawPayload};
use rand::Rng;
use serde_json::value::RawValue;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::cluster::leases::Leases;
use crate::config::Config;
use crate::hook::Shared;
use crate::outbound::Outbound;
use crate::pipeline::Pipeline;
use crate::sink::{connection_config, Envelope, Topics};
use crate::spool::readback::ids_on_topics;
use crate::telemetry;
use cursor::CursorFile;
use inflight::InFlightFile;

/// Failures in a row that open the circuit.
const BREAKER_THRESHOLD: u32 = 5;
/// The longest wait between attempts, and how long an open circuit holds.
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// Read-backs of an interrupted page tried before the feed goes on without (duplicates possible).
const READ_BACK_ATTEMPTS: u32 = 5;

/// Where to look after a crash for items the sink took: the topics an item can land on (with
/// the Kafka client settings), or the embedded journal's directory.
#[derive(Clone)]
enum ReadBack {
    Kafka(rdkafka::ClientConfig, Vec<String>),
    Journal(std::path::PathBuf),
}

impl ReadBack {
    /// The ids the sink holds from records written since `at_ms`.
    fn ids_since(&self, at_ms: i64) -> Result<std::collections::HashSet<uuid::Uuid>, String> {
        match self {
            ReadBack::Kafka(client, topics) => ids_on_topics(client, topics, at_ms),
            // A minute of slack, as for Kafka: the page's clock and the file times may differ.
            ReadBack::Journal(dir) => {
                crate::local_log::ids_since(dir, at_ms - 60_000).map_err(|e| e.to_string())
            }
        }
    }
}

/// Starts one task per configured feed. A feed whose configuration cannot work is logged and
/// left off; the others run.
pub fn spawn_all(
    config: &Config,
    shared: &Shared,
    data_dir: &Path,
    stopped: watch::Receiver<bool>,
    outbound: &Outbound,
    leases: Option<Arc<Leases>>,
) -> Vec<JoinHandle<()>> {
    let mut tasks = Vec::new();
    let readback = match config.kafka.bootstrap_servers() {
        Some(bootstrap) => {
            let topics = Topics::of(&config.kafka);
            ReadBack::Kafka(
                connection_config(&config.kafka, &bootstrap),
                vec![topics.requests, topics.dead_letters],
            )
        }
        None => ReadBack::Journal(data_dir.join("journal")),
    };
    for (name, partner) in &config.channels.web.partners {
        let Some(pull) = partner.pull.clone() else {
            continue;
        };
        if let Err(e) = pull.validate(name, partner.max_posts) {
            tracing::error!(feed = %name, error = %e, "pull feed not started");
            continue;
        }
        let cursor = match CursorFile::open(&data_dir.join("pull"), name) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(feed = %name, error = %e, "pull feed not started: cursor file");
                continue;
            }
        };
        let client = match feed::client(outbound, pull.timeout) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(feed = %name, error = %e, "pull feed not started: HTTP client");
                continue;
            }
        };
        let adapter = intake_web::Partner {
            name: name.clone(),
            secret: String::new(),
            timestamp_tolerance_secs: partner.timestamp_tolerance.as_secs(),
            max_posts: partner.max_posts,
            platforms: config.channels.web.platforms.clone(),
        };
        let lease = FeedLease::new(name, leases.clone(), pull.interval);
        let worker = Worker {
            inflight: InFlightFile::new(&data_dir.join("pull"), name),
            readback: readback.clone(),
            lease,
            feed: name.clone(),
            source: format!("web:{name}"),
            config: pull,
            client,
            cursor,
            adapter,
            pipeline: shared.pipeline.clone(),
            shared: shared.clone(),
            stopped: stopped.clone(),
        };
        health::update(name, |_| {});
        tasks.push(tokio::spawn(worker.run()));
    }
    tasks
}

/// A feed item ready to publish, with its request (none for a dead letter) for the counts.
type Routed = (Envelope, Option<Box<intake_schema::IntakeRequest>>);

struct Worker {
    inflight: InFlightFile,
    readback: ReadBack,
    lease: FeedLease,
    feed: String,
    source: String,
    config: PullConfig,
    client: reqwest::Client,
    cursor: CursorFile,
    adapter: intake_web::Partner,
    pipeline: Arc<Pipeline>,
    shared: Shared,
    stopped: watch::Receiver<bool>,
}

impl Worker {
    async fn run(mut self) {
        let mut cursor = match self.cursor.load() {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(feed = %self.feed, error = %e, "cannot read the feed cursor; feed stopped");
                return;
            }
        };
        if !self.recover().await {
            return;
        }
        let mut failures: u32 = 0;
        loop {
            if *self.stopped.borrow() {
                return;
            }
            if !self.lease.may_poll().await {
                self.sleep(self.config.interval).await;
                continue;
            }
            match feed::fetch(&self.client, &self.config, cursor.as_deref()).await {
                Ok(page) => {
                    failures = 0;
                    let count = page.posts.len();
                    if count > 0 {
                        if !self.submit_page(&page.posts).await {
                            return; // stopping: the cursor stays before this page
                        }
                        if let Some(next) = page.next_cursor.filter(|c| !c.is_empty()) {
                            if let Err(e) = self.cursor.save(&next) {
                                // Keep going from memory; a restart re-reads pages dedup absorbs.
                                tracing::error!(feed = %self.feed, error = %e, "cannot persist the feed cursor");
                            }
                            cursor = Some(next);
                        }
                    }
                    let now = chrono::Utc::now().timestamp();
                    health::update(&self.feed, |h| {
                        h.last_success = Some(now);
                        h.consecutive_failures = 0;
                        h.items_last_page = count;
                        h.circuit_open = false;
                        if count == 0 {
                            h.caught_up_at = Some(now);
                        }
                    });
                    if count == 0 {
                        self.sleep(self.config.interval).await;
                    }
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    let open = failures >= BREAKER_THRESHOLD;
                    metrics::counter!("intake_pull_failures_total", "feed" => self.feed.clone())
                        .increment(1);
                    tracing::warn!(feed = %self.feed, error = %e, failures, circuit_open = open, "feed fetch failed");
                    health::update(&self.feed, |h| {
                        h.consecutive_failures = failures;
                        h.circuit_open = open;
                    });
                    // Open circuit: one probe per MAX_BACKOFF-capped interval (half-open), not a
                    // retry storm against a feed that is down.
                    let wait = if open {
                        self.config.interval.max(backoff(failures)).min(MAX_BACKOFF)
                    } else {
                        backoff(failures)
                    };
                    self.sleep(wait).await;
                }
            }
        }
    }

    /// After a crash mid-page: remembers the items of that page the topics already hold, so the
    /// re-read page skips them. False when the gateway is stopping first.
    async fn recover(&mut self) -> bool {
        let Some(page) = self.inflight.load() else {
            return true;
        };
        let mut attempt = 0;
        let found = loop {
            if *self.stopped.borrow() {
                return false;
            }
            let (readback, at_ms) = (self.readback.clone(), page.at_ms);
            let result = tokio::task::spawn_blocking(move || readback.ids_since(at_ms))
                .await
                .unwrap_or_else(|e| Err(e.to_string()));
            match result {
                Ok(ids) => break Some(ids),
                Err(e) => {
                    attempt += 1;
                    tracing::warn!(feed = %self.feed, error = %e, attempt, "cannot read the sink back for the page a crash interrupted");
                    if attempt >= READ_BACK_ATTEMPTS {
                        break None;
                    }
                    self.sleep(backoff(attempt)).await;
                }
            }
        };
        let Some(found) = found else {
            tracing::error!(feed = %self.feed, "the interrupted page is re-read without a read-back: an item the broker took before the crash may be published twice (same request id)");
            let _ = self.inflight.clear();
            return true;
        };
        let dedup = self.pipeline.dedup().clone();
        let landed: Vec<_> = page
            .ids
            .iter()
            .filter(|id| found.contains(id.as_uuid()) && !dedup.is_seen(**id))
            .copied()
            .collect();
        for id in &landed {
            dedup.remember(*id);
        }
        let count = landed.len();
        let flushed = tokio::task::spawn_blocking(move || dedup.flush(true)).await;
        if !matches!(flushed, Ok(Ok(()))) {
            // Keep the mark: the next start reads back again.
            tracing::warn!(feed = %self.feed, "dedup flush after the read-back failed");
            return true;
        }
        tracing::info!(feed = %self.feed, items = count, "interrupted page read back: items the sink already holds are skipped");
        let _ = self.inflight.clear();
        true
    }

    /// Makes every item of a page durable, in order; false when the gateway is stopping first.
    async fn submit_page(&mut self, posts: &[Box<RawValue>]) -> bool {
        let envelopes = self.envelopes(posts);
        let ids: Vec<_> = envelopes
            .iter()
            .filter_map(|e| e.as_ref().ok().map(|(envelope, _)| envelope.id))
            .collect();
        if let Err(e) = self
            .inflight
            .mark(chrono::Utc::now().timestamp_millis(), &ids)
        {
            tracing::warn!(feed = %self.feed, error = %e, "cannot mark the page in flight; a crash within it may publish an item twice");
        }
        for outcome in envelopes {
            let (envelope, record) = match outcome {
                Ok(e) => e,
                Err(e) => {
                    // Not even a dead letter could be made: skip it rather than stall the feed.
                    tracing::error!(feed = %self.feed, error = %e, "feed item cannot be encoded");
                    continue;
                }
            };
            let dead = envelope.headers.contains_key("dead_letter_id");
            let channel = envelope
                .headers
                .get("channel")
                .cloned()
                .unwrap_or_else(|| "web".into());
            let mut attempt = 0;
            let label = loop {
                if *self.stopped.borrow() {
                    return false;
                }
                match self.pipeline.submit(envelope.clone()).await {
                    Ok(admission) if dead => {
                        break if admission.is_new() {
                            "dead_lettered"
                        } else {
                            "duplicate"
                        }
                    }
                    Ok(admission) => break admission.label(),
                    Err(e) => {
                        attempt += 1;
                        tracing::warn!(feed = %self.feed, error = %e, "feed item not durable yet; retrying");
                        self.sleep(backoff(attempt)).await;
                    }
                }
            };
            if label != "duplicate" {
                // Each new id goes to the dedup file at once (fsync), not in the next batch: a
                // crash re-reads the page, and only ids on disk make that re-read harmless.
                let dedup = self.pipeline.dedup().clone();
                if let Ok(Err(e)) = tokio::task::spawn_blocking(move || dedup.flush(true)).await {
                    tracing::warn!(feed = %self.feed, error = %e, "dedup flush failed");
                }
            }
            match &record {
                Some(record) => self.shared.counted(record, &self.feed, label),
                None => telemetry::record_outcome(&channel, &self.feed, label),
            }
            metrics::counter!("intake_pull_items_total", "feed" => self.feed.clone(), "outcome" => label)
                .increment(1);
        }
        // Every item is in the dedup file now (each new one was flushed with fsync above).
        if let Err(e) = self.inflight.clear() {
            tracing::warn!(feed = %self.feed, error = %e, "cannot clear the in-flight page");
        }
        true
    }

    /// Every post of the page as a request or, when the adapter refuses it, a dead letter.
    /// Each post is parsed on its own, so a page larger than `max_posts` or one odd item never
    /// costs the others.
    fn envelopes(&self, posts: &[Box<RawValue>]) -> Vec<Result<Routed, String>> {
        let trace_id = uuid::Uuid::new_v4().simple().to_string();
        let now = chrono::Utc::now();
        posts
            .iter()
            .map(|raw| {
                let body = format!("{{\"posts\":[{}]}}", raw.get());
                let headers: &[(&str, &str)] = &[];
                let inbound = intake_adapter::Inbound {
                    method: "GET",
                    query: "",
                    headers: &headers,
                    body: body.as_bytes(),
                    now,
                    peer: None,
                    trace_id: &trace_id,
                };
                let result = match intake_web::parse_batch(&inbound, &self.adapter) {
                    Ok(mut outcomes) if outcomes.len() == 1 => outcomes.remove(0).result,
                    Ok(_) => Err("not one post".to_string()),
                    Err(e) => Err(e.to_string()),
                };
                match result {
                    Ok(mut record) => self
                        .shared
                        .routed(&mut record)
                        .map(|e| (e, Some(record)))
                        .map_err(|e| e.to_string()),
                    Err(reason) => {
                        let letter = DeadLetter::new(
                            Channel::Web,
                            self.source.clone(),
                            reason,
                            now,
                            RawPayload::capture_text(Some("application/json"), raw.get()),
                            trace_id.clone(),
                        );
                        Envelope::dead_letter(&letter)
                            .map(|e| (e, None))
                            .map_err(|e| e.to_string())
                    }
                }
            })
            .collect()
    }

    async fn sleep(&mut self, d: Duration) {
        let _ = tokio::time::timeout(d, self.stopped.wait_for(|s| *s)).await;
    }
}

/// Exponential backoff with full jitter: 0.5 s, 1 s, 2 s... capped, each randomised to 50–100 %,
/// so replicas and feeds do not retry in lockstep.
fn backoff(attempt: u32) -> Duration {
    let base = Duration::from_millis(500)
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(10))
        .min(MAX_BACKOFF);
    base.mul_f64(rand::rng().random_range(0.5..=1.0))
}
