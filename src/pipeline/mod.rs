//! adapter -> dedup -> sink -> reply: the path every channel shares.
//!
//! The pipeline answers one question per record: may the caller be told "accepted"? Only when
//! the record is durable (Kafka acks=all, the journal's fsync, or the spool's fsync), or was made
//! durable by an earlier delivery of the same message.

use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::{timeout_at, Instant};

use crate::cluster::markers::{Marker, Markers};
use crate::dedup::{Claim, ClaimGuard, DedupIndex};
use crate::sink::{Envelope, KafkaSink, Sink};
use crate::spool::Spool;

mod detached;
use detached::Detached;

/// The answer for one record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Durable now, for the first time (in Kafka, the journal or the spool).
    Accepted,
    /// Made durable by an earlier delivery; nothing new was published.
    Duplicate,
    /// Durable in the local spool; Kafka gets it from the forwarder. The caller is told
    /// "accepted" like for [`Admission::Accepted`]; only metrics tell the two apart.
    Spooled,
}

impl Admission {
    /// The `outcome` label of `intake_requests_total`.
    pub fn label(self) -> &'static str {
        match self {
            Admission::Accepted => "accepted",
            Admission::Duplicate => "duplicate",
            Admission::Spooled => "spooled",
        }
    }

    /// True when this delivery made the record durable (rather than an earlier one).
    pub fn is_new(self) -> bool {
        self != Admission::Duplicate
    }
}

/// The record is not confirmed durable; the caller must retry (503).
#[derive(Debug, thiserror::Error)]
#[error("not confirmed durable: {0}")]
pub struct NotDurable(pub String);

/// Shared by every handler.
pub struct Pipeline {
    dedup: Arc<DedupIndex>,
    sink: Sink,
    spool: Option<Arc<Spool>>,
    budget: Duration,
    spool_after: Duration,
    markers: Option<Arc<Markers>>,
}

/// How often a twin looks again at a marker another replica holds.
const MARKER_POLL: Duration = Duration::from_millis(25);

/// Who settles a claim whose caller was already answered 503 while Kafka was still deciding.
#[derive(Default)]
struct Handoff {
    guard: Option<ClaimGuard>,
    outcome: Option<bool>,
}

impl Pipeline {
    /// A pipeline that waits at most `budget` for durability; with a spool, Kafka gets
    /// `spool_after` before the record is spooled instead.
    pub fn new(
        dedup: Arc<DedupIndex>,
        sink: Sink,
        spool: Option<Arc<Spool>>,
        budget: Duration,
        spool_after: Duration,
    ) -> Self {
        Pipeline {
            dedup,
            sink,
            spool,
            budget,
            spool_after,
            markers: None,
        }
    }

    /// Cluster mode: the local index stays a cache in front of the markers the replicas share.
    pub fn with_markers(mut self, markers: Arc<Markers>) -> Self {
        self.markers = Some(markers);
        self
    }

    /// The sink, for readiness and shutdown.
    pub fn sink(&self) -> &Sink {
        &self.sink
    }

    /// The spool, when there is one (Kafka mode).
    pub fn spool(&self) -> Option<&Arc<Spool>> {
        self.spool.as_ref()
    }

    /// The dedup index, for flushing and sweeping.
    pub fn dedup(&self) -> &Arc<DedupIndex> {
        &self.dedup
    }

    /// True when a record submitted now can be made durable: the sink is up, or the spool has room.
    pub fn is_ready(&self) -> bool {
        self.sink.is_ready() || self.spool.as_ref().is_some_and(|s| !s.is_full())
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
                    let Some(guard) = self.shared_claim(&envelope, guard, deadline).await? else {
                        metrics::counter!("intake_dedup_hits_total", "channel" => channel)
                            .increment(1);
                        return Ok(Admission::Duplicate);
                    };
                    return match (&self.sink, &self.spool) {
                        (Sink::Kafka(kafka), Some(spool)) => {
                            self.via_kafka(kafka.clone(), spool, envelope, guard, deadline)
                                .await
                        }
                        _ => self.direct(envelope, guard, deadline, budget).await,
                    };
                }
            }
        }
    }

    /// In cluster mode, also takes the shared marker: the guard then settles it too. `None` when
    /// another replica made the record durable already. Redis down: local dedup only, counted.
    async fn shared_claim(
        &self,
        envelope: &Envelope,
        guard: ClaimGuard,
        deadline: Instant,
    ) -> Result<Option<ClaimGuard>, NotDurable> {
        let Some(markers) = &self.markers else {
            return Ok(Some(guard));
        };
        let id = envelope.id.to_string();
        loop {
            match markers.claim(&id).await {
                Ok(Marker::Mine(token)) => {
                    let markers = markers.clone();
                    return Ok(Some(guard.then(Box::new(move |durable| {
                        markers.settle(&id, token, durable);
                    }))));
                }
                Ok(Marker::Durable) => {
                    guard.succeed();
                    return Ok(None);
                }
                Ok(Marker::InFlight) => {
                    if Instant::now() + MARKER_POLL >= deadline {
                        // Never 2xx before the record is durable: the caller retries later.
                        return Err(NotDurable(
                            "an earlier delivery of this message (on another replica) is still unconfirmed".into(),
                        ));
                    }
                    tokio::time::sleep(MARKER_POLL).await;
                }
                Err(_) => {
                    markers.link().degraded("dedup");
                    return Ok(Some(guard));
                }
            }
        }
    }

    /// The journal (or Kafka without a spool): durable when the sink says so, within the budget.
    async fn direct(
        &self,
        envelope: Envelope,
        guard: ClaimGuard,
        deadline: Instant,
        budget: Duration,
    ) -> Result<Admission, NotDurable> {
        let sink = self.sink.clone();
        let started = std::time::Instant::now();
        // Awaited here; when the caller stops waiting (budget over, or it hung up) the publish
        // finishes on its own task, so a late acknowledgement still marks the id seen after the
        // caller was told 503: its retry is then a duplicate, not a second record.
        let delivery = Detached::new(async move {
            let result = sink.publish(&envelope).await;
            crate::telemetry::record_delivery(started.elapsed().as_secs_f64());
            settle(guard, result.is_ok());
            result
        });
        match timeout_at(deadline, delivery).await {
            Ok(Ok(())) => Ok(Admission::Accepted),
            Ok(Err(e)) => Err(NotDurable(e.to_string())),
            Err(_) => Err(NotDurable(format!(
                "sink did not confirm within {budget:?}"
            ))),
        }
    }

    /// Kafka first; the spool when Kafka is down, has a backlog to keep in order, fails, or does
    /// not confirm within `spool.after`.
    async fn via_kafka(
        &self,
        kafka: Arc<KafkaSink>,
        spool: &Arc<Spool>,
        envelope: Envelope,
        guard: ClaimGuard,
        deadline: Instant,
    ) -> Result<Admission, NotDurable> {
        let topic = kafka.topic_name(envelope.topic).to_string();
        if spool.has_backlog() || !kafka.is_up() {
            return spooled(spool, &envelope, &topic, None, guard, None).await;
        }
        let (tx, rx) = watch::channel(None);
        let handoff = Arc::new(Mutex::new(Handoff::default()));
        // Shared, not copied: the record may still be needed here for the spool.
        let envelope = Arc::new(envelope);
        let (task_handoff, task_envelope) = (handoff.clone(), envelope.clone());
        let started = std::time::Instant::now();
        // Awaited here until `spool.after`; past it, the delivery goes on by itself (see
        // `Detached`) and the spool learns its outcome through `rx` and the handoff.
        let delivery = Detached::new(async move {
            let ok = kafka.publish(&task_envelope).await.is_ok();
            crate::telemetry::record_delivery(started.elapsed().as_secs_f64());
            tx.send_replace(Some(ok));
            if let Ok(mut h) = task_handoff.lock() {
                h.outcome = Some(ok);
                if let Some(guard) = h.guard.take() {
                    settle(guard, ok);
                }
            }
            ok
        });
        let patience = (Instant::now() + self.spool_after).min(deadline);
        match timeout_at(patience, delivery).await.ok() {
            Some(true) => {
                guard.succeed();
                Ok(Admission::Accepted)
            }
            Some(false) => spooled(spool, &envelope, &topic, None, guard, None).await,
            None => spooled(spool, &envelope, &topic, Some(rx), guard, Some(handoff)).await,
        }
    }
}

/// Appends to the spool; on failure, a still-running Kafka delivery decides the id's fate.
async fn spooled(
    spool: &Spool,
    envelope: &Envelope,
    topic: &str,
    original: Option<watch::Receiver<Option<bool>>>,
    guard: ClaimGuard,
    handoff: Option<Arc<Mutex<Handoff>>>,
) -> Result<Admission, NotDurable> {
    match spool.append(envelope, topic, original).await {
        Ok(()) => {
            guard.succeed();
            let channel = envelope.headers.get("channel").cloned().unwrap_or_default();
            crate::telemetry::record_spooled(&channel);
            Ok(Admission::Spooled)
        }
        Err(e) => {
            let Some(handoff) = handoff else {
                guard.fail();
                return Err(NotDurable(e.to_string()));
            };
            let mut h = handoff
                .lock()
                .map_err(|_| NotDurable("handoff lock poisoned".into()))?;
            match h.outcome {
                Some(true) => {
                    guard.succeed();
                    Ok(Admission::Accepted)
                }
                Some(false) => {
                    guard.fail();
                    Err(NotDurable(e.to_string()))
                }
                None => {
                    h.guard = Some(guard);
                    Err(NotDurable(e.to_string()))
                }
            }
        }
    }
}

fn settle(guard: ClaimGuard, ok: bool) {
    if ok {
        guard.succeed()
    } else {
        guard.fail()
    }
}
