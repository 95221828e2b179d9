//! adapter -> dedup -> sink -> reply: the path every channel shares.
//!
//! The pipeline answers one question per record: may the caller be told "accepted"? Only when
//! the record is durable, or was made durable by an earlier delivery of the same message.

use std::sync::Arc;
use std::time::Duration;
use tokio::time::{timeout_at, Instant};

use crate::dedup::{Claim, DedupIndex};
use crate::sink::{Envelope, Sink};

/// The answer for one record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Durable now, for the first time.
    Accepted,
    /// Made durable by an earlier delivery; nothing new was published.
    Duplicate,
}

/// The record is not confirmed durable; the caller must retry (503).
#[derive(Debug, thiserror::Error)]
#[error("not confirmed durable: {0}")]
pub struct NotDurable(pub String);

/// Shared by every handler.
pub struct Pipeline {
    dedup: Arc<DedupIndex>,
    sink: Sink,
    budget: Duration,
}

impl Pipeline {
    /// A pipeline that waits at most `budget` for durability.
    pub fn new(dedup: Arc<DedupIndex>, sink: Sink, budget: Duration) -> Self {
        Pipeline {
            dedup,
            sink,
            budget,
        }
    }

    /// The sink, for readiness and shutdown.
    pub fn sink(&self) -> &Sink {
        &self.sink
    }

    /// The dedup index, for flushing and sweeping.
    pub fn dedup(&self) -> &Arc<DedupIndex> {
        &self.dedup
    }

    /// Publishes `envelope` unless its id was already accepted; waits for an in-flight twin.
    pub async fn submit(&self, envelope: Envelope) -> Result<Admission, NotDurable> {
        self.submit_within(envelope, self.budget).await
    }

    /// [`Pipeline::submit`] with a tighter budget (WeChat's 5-second rule), never a looser one.
    pub async fn submit_within(
        &self,
        envelope: Envelope,
        budget: Duration,
    ) -> Result<Admission, NotDurable> {
        let budget = budget.min(self.budget);
        let deadline = Instant::now() + budget;
        let channel = envelope.headers.get("channel").cloned().unwrap_or_default();
        loop {
            match self.dedup.claim(envelope.id) {
                Claim::Seen => {
                    metrics::counter!("intake_dedup_hits_total", "channel" => channel).increment(1);
                    return Ok(Admission::Duplicate);
                }
                Claim::InFlight(mut rx) => {
                    match timeout_at(deadline, rx.wait_for(Option::is_some)).await {
                        Ok(Ok(done)) if *done == Some(true) => {
                            metrics::counter!("intake_dedup_hits_total", "channel" => channel)
                                .increment(1);
                            return Ok(Admission::Duplicate);
                        }
                        // The first delivery failed: this one takes over.
                        Ok(_) => continue,
                        Err(_) => {
                            return Err(NotDurable(format!(
                                "an earlier delivery of this message is still unconfirmed after {budget:?}"
                            )))
                        }
                    }
                }
                Claim::Mine(guard) => {
                    let sink = self.sink.clone();
                    let started = std::time::Instant::now();
                    // The publish runs on its own task so that a late acknowledgement still
                    // marks the id seen after the caller was told 503: its retry is then a
                    // duplicate, not a second record.
                    let envelope = envelope.clone();
                    let delivery = tokio::spawn(async move {
                        let result = sink.publish(&envelope).await;
                        metrics::histogram!("intake_sink_delivery_seconds")
                            .record(started.elapsed().as_secs_f64());
                        match &result {
                            Ok(()) => guard.succeed(),
                            Err(_) => guard.fail(),
                        }
                        result
                    });
                    return match timeout_at(deadline, delivery).await {
                        Ok(Ok(Ok(()))) => Ok(Admission::Accepted),
                        Ok(Ok(Err(e))) => Err(NotDurable(e.to_string())),
                        Ok(Err(_)) => Err(NotDurable("publisher task failed".into())),
                        Err(_) => Err(NotDurable(format!(
                            "sink did not confirm within {budget:?}"
                        ))),
                    };
                }
            }
        }
    }
}
