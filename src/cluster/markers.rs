//! Dedup markers shared by the replicas: one key per request id, *in flight* (owned by one
//! replica, with a lease) and then *durable* (kept for the dedup window).
//!
//! A claim is `SET NX PX` (and a `GET` where the marker was taken), plain commands rather than a
//! script: Redis spends about half the CPU on them that a Lua script doing the same costs
//! (measured in the README, "Performance"), and cluster mode shares the machine's cores with it.
//! Making a marker durable is a plain `SET` too: whichever delivery turns it durable, a copy of
//! the request was published, so even a replica whose lease ran out may say so. Only releasing a
//! marker (a publish that failed, so that a retry may publish) must be the owner's, and stays a
//! compare-and-delete script on the owner's token, so a replica whose lease ran out never frees a
//! newer owner's claim.
//!
//! Claims and settlements are batched: one task sends everything that queued up while its
//! previous round trip ran as one pipeline, so under load a Redis round trip serves many requests
//! (two round trips per request cost cluster mode a third of its throughput on a busy machine;
//! see README "Performance"), and a durable settlement rides along with the next claims. An idle
//! gateway still sends each claim at once.

use redis::aio::ConnectionManager;
use redis::Script;
use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};

use super::link::{Down, Link};

/// KEYS: the markers; ARGV[i]: the owner's token for KEYS[i]. Deletes each marker still holding
/// its owner's token; returns how many it deleted.
const RELEASE: &str = r"
local n = 0
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[i] then
    redis.call('DEL', key)
    n = n + 1
  end
end
return n
";

/// The most markers one round trip handles: keeps each well under a millisecond of Redis.
const MAX_BATCH: usize = 256;

/// What the shared marker of a request id says.
#[derive(Debug, PartialEq, Eq)]
pub enum Marker {
    /// Nobody had it: this replica owns it now, under this token.
    Mine(String),
    /// Another delivery is publishing it (on this replica or another).
    InFlight,
    /// It was made durable already: answer as a duplicate.
    Durable,
}

/// A claim waiting for its batch: the key, the token to set, and who waits for the answer: `None`
/// when the claim took the marker, else the value found there (empty when it was gone by then).
type ClaimJob = (
    String,
    String,
    oneshot::Sender<Result<Option<String>, Down>>,
);
/// A settlement waiting for its batch: the key, the owner's token, the new value (empty: release).
type SettleJob = (String, String, String);

/// What the marker task is asked to do.
enum Job {
    Claim(ClaimJob),
    Settle(SettleJob),
}

/// How long a durable settlement waits for a claim to ride along with. Under load a claim comes
/// within a fraction of this, so one round trip carries both; an idle gateway sends it alone
/// after this long. Meanwhile the marker still reads as in flight on other replicas: a copy
/// arriving there that instant polls it (as for any delivery in flight) until it reads durable.
const SETTLE_WAIT: Duration = Duration::from_millis(2);

/// The markers of one gateway.
pub struct Markers {
    link: Arc<Link>,
    lease: Duration,
    window: Duration,
    /// Tells this value's lanes apart from another's in a thread's list.
    id: usize,
    /// Dropped with the markers: each lane's task then sends what was settled and ends.
    alive: watch::Sender<()>,
}

/// Ids of [`Markers`] values.
static NEXT_ID: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's lane (the queue of its marker task) of each [`Markers`], by id.
    static LANES: RefCell<Vec<(usize, mpsc::UnboundedSender<Job>)>> = const { RefCell::new(Vec::new()) };
}

fn release_script() -> &'static Script {
    static SCRIPT: OnceLock<Script> = OnceLock::new();
    SCRIPT.get_or_init(|| Script::new(RELEASE))
}

impl Markers {
    /// Markers whose in-flight lease is `lease` (longer than a delivery can take) and whose
    /// durable state lasts `window` (the dedup window). Each thread that claims or settles gets
    /// a marker task of its own (see [`Markers::lane`]); they end when the markers are dropped.
    pub fn new(link: Arc<Link>, lease: Duration, window: Duration) -> Self {
        Markers {
            link,
            lease,
            window,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            alive: watch::channel(()).0,
        }
    }

    /// This thread's marker task, started on first use with a Redis connection of its own,
    /// which connects (and runs its driver task) on this thread's runtime. With the hooks on one
    /// runtime per core (`per_core`) a claim's round trip then never leaves its hook thread. One
    /// task on the main runtime, idle under load, woke one of its parked threads and then the
    /// hook thread on every round trip (cluster mode fell to 0.58-0.79 of Kafka alone side by
    /// side); one task on the first claim's hook thread still made the other thread's claims
    /// cross to it and back (a task per thread: +3.5 % at 64 connections, +12.7 % at 256; README
    /// "Cluster mode side by side"). `None` outside a runtime.
    fn lane(&self) -> Option<mpsc::UnboundedSender<Job>> {
        LANES
            .try_with(|lanes| {
                let mut lanes = lanes.borrow_mut();
                let live = |jobs: &mpsc::UnboundedSender<Job>| !jobs.is_closed();
                if let Some((_, jobs)) = lanes.iter().find(|(id, j)| *id == self.id && live(j)) {
                    return Some(jobs.clone());
                }
                let runtime = tokio::runtime::Handle::try_current().ok()?;
                // Lanes whose task has ended (markers dropped since, or a runtime that ended: a
                // new one is started here) go.
                lanes.retain(|(_, jobs)| live(jobs));
                let (jobs, rx) = mpsc::unbounded_channel();
                runtime.spawn(batches(
                    self.link.clone(),
                    self.link.connection(),
                    (self.lease, self.window),
                    rx,
                    self.alive.subscribe(),
                ));
                lanes.push((self.id, jobs.clone()));
                Some(jobs)
            })
            .ok()
            .flatten()
    }

    /// The link, for counting degraded requests.
    pub fn link(&self) -> &Arc<Link> {
        &self.link
    }

    fn key(&self, id: &str) -> String {
        self.link.key_of("req:", id)
    }

    /// Takes the marker of `id` if nobody holds it.
    pub async fn claim(&self, id: &str) -> Result<Marker, Down> {
        // A thread-local generator, not `Uuid::new_v4` (a getrandom call per request): the token
        // only has to differ from every other claim of the same id.
        let mut random = [0u8; uuid::fmt::Simple::LENGTH];
        let random = uuid::Builder::from_random_bytes(rand::random::<u128>().to_le_bytes())
            .into_uuid()
            .simple()
            .encode_lower(&mut random);
        // Joined, not `format!`: this runs once per request.
        let token = ["f|", self.link.instance(), "|", random].concat();
        let (tx, rx) = oneshot::channel();
        self.lane()
            .ok_or_else(|| Down("no runtime for the marker task".into()))?
            .send(Job::Claim((self.key(id), token.clone(), tx)))
            .map_err(|_| Down("the marker task has stopped".into()))?;
        let found = rx
            .await
            .map_err(|_| Down("the marker task has stopped".into()))??;
        Ok(match found {
            None => Marker::Mine(token),
            Some(value) if value.starts_with("d|") => Marker::Durable,
            Some(_) => Marker::InFlight,
        })
    }

    /// Turns the owner's marker durable (`true`) or releases it so a retry may publish (`false`).
    /// Queued, not awaited: nobody waits for it, and when Redis does not take it the lease runs
    /// out instead (logged by the batch).
    pub fn settle(&self, id: &str, token: String, durable: bool) {
        let value = if durable {
            ["d|", self.link.instance()].concat()
        } else {
            String::new()
        };
        if let Some(jobs) = self.lane() {
            let _ = jobs.send(Job::Settle((self.key(id), token, value)));
        }
    }
}

/// The marker task: sends what queued up since its last round trip as one pipeline, one round
/// trip at a time. Durable settlements go in front of the next claims' pipeline rather than in a
/// round trip of their own, which nearly halves the round trips per request under load (each
/// costs Redis and the gateway a read, a write and a wakeup, more than the commands themselves).
/// A settlement with no claim to ride along waits at most [`SETTLE_WAIT`]; releases (a publish
/// that failed) go at once, so the retry finds the marker free.
async fn batches(
    link: Arc<Link>,
    conn: ConnectionManager,
    (lease, window): (Duration, Duration),
    mut rx: mpsc::UnboundedReceiver<Job>,
    mut alive: watch::Receiver<()>,
) {
    let (lease_ms, window_ms) = (lease.as_millis() as u64, window.as_millis() as u64);
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    let mut claims: Vec<ClaimJob> = Vec::with_capacity(MAX_BATCH);
    let mut durable: Vec<SettleJob> = Vec::new();
    let mut releases: Vec<SettleJob> = Vec::new();
    // When the oldest waiting durable settlement goes, claims or not: counted from that one, so
    // settlements that keep trickling in without claims (the last deliveries after a surge) do
    // not keep postponing each other.
    let mut due: Option<tokio::time::Instant> = None;
    loop {
        // `waited`: the oldest settlement waited SETTLE_WAIT and no claim came to ride along with.
        let (closed, waited) = match due {
            None => (next(&mut rx, &mut jobs, &mut alive).await == 0, false),
            Some(due) => {
                match tokio::time::timeout_at(due, next(&mut rx, &mut jobs, &mut alive)).await {
                    Ok(received) => (received == 0, false),
                    Err(_) => (false, true),
                }
            }
        };
        if closed {
            // The markers were dropped: what was settled still goes.
            send(&link, &conn, window_ms, &mut durable, &mut claims, lease_ms).await;
            return;
        }
        if !waited {
            // The task shares its thread with the requests that claim (see `Markers::lane`):
            // letting the thread's other ready tasks run once before the round trip lets their
            // claims join this pipeline instead of waiting out the next one. It costs a pass of
            // the scheduler, no timer (tokio's are millisecond-grained). Side by side under wrk
            // (`tests/bench_ab.sh cluster`, two runs of four rounds): +6 and +10 % at 256
            // connections, ahead in 8 of 8 rounds; level at 64 (-0.8 and +3.5 %).
            tokio::task::yield_now().await;
            while jobs.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
        }
        for job in jobs.drain(..) {
            match job {
                Job::Claim(claim) => claims.push(claim),
                Job::Settle(settle) if settle.2.is_empty() => releases.push(settle),
                Job::Settle(settle) => durable.push(settle),
            }
        }
        if !releases.is_empty() {
            release(&link, &mut releases).await;
        }
        if !claims.is_empty() || waited || durable.len() >= MAX_BATCH {
            send(&link, &conn, window_ms, &mut durable, &mut claims, lease_ms).await;
        }
        due = match due {
            _ if durable.is_empty() => None,
            None => Some(tokio::time::Instant::now() + SETTLE_WAIT),
            kept => kept,
        };
    }
}

/// Waits for jobs: how many came, or 0 once the markers are dropped and the queue is empty (the
/// lane's sender lives on in its thread's list, so the queue alone never closes).
async fn next(
    rx: &mut mpsc::UnboundedReceiver<Job>,
    jobs: &mut Vec<Job>,
    alive: &mut watch::Receiver<()>,
) -> usize {
    tokio::select! {
        // Queued jobs first: a settlement made just before the markers were dropped still goes.
        biased;
        received = rx.recv_many(jobs, MAX_BATCH) => received,
        _ = alive.changed() => 0,
    }
}

/// One round trip: the durable settlements first (so a claim of the same id in this pipeline
/// finds it durable), then each claim as `SET NX PX`. The claims that found their marker taken
/// (a copy of a request in flight or already published: rare) read it in a second round trip.
async fn send(
    link: &Link,
    conn: &ConnectionManager,
    window_ms: u64,
    durable: &mut Vec<SettleJob>,
    claims: &mut Vec<ClaimJob>,
    lease_ms: u64,
) {
    if durable.is_empty() && claims.is_empty() {
        return;
    }
    let mut pipe = redis::pipe();
    for (key, _, value) in durable.iter() {
        pipe.cmd("SET")
            .arg(key)
            .arg(value)
            .arg("PX")
            .arg(window_ms)
            .ignore();
    }
    for (key, token, _) in claims.iter() {
        pipe.cmd("SET")
            .arg(key)
            .arg(token)
            .arg("NX")
            .arg("PX")
            .arg(lease_ms);
    }
    let result = replies(link, conn, &pipe, claims.len()).await;
    let settled = durable.len();
    durable.clear();
    let mut taken = Vec::new();
    match result {
        Ok(replies) => {
            for (claim, reply) in claims.drain(..).zip(replies) {
                // `OK` when this claim set the marker, nil when it was there already.
                if reply.is_some() {
                    let _ = claim.2.send(Ok(None));
                } else {
                    taken.push(claim);
                }
            }
        }
        Err(Down(reason)) => {
            if settled > 0 {
                tracing::warn!(error = %reason, markers = settled, "shared dedup markers not made durable; their leases run out instead");
            }
            answer_all(claims, &reason)
        }
    }
    if !taken.is_empty() {
        read_taken(link, conn, &mut taken).await;
    }
}

/// Reads the markers that claims found taken: `d|…` (durable) or another claim's token (in
/// flight). One reading none (its owner released it since) answers "" (in flight): the caller
/// polls again and then finds it free. A `GET` only for these, rather than beside every claim,
/// spares Redis and the gateway a command and a reply per request; `SET NX GET` would do both in
/// one command but needs Redis 7, and these claims are rare.
async fn read_taken(link: &Link, conn: &ConnectionManager, taken: &mut Vec<ClaimJob>) {
    let mut pipe = redis::pipe();
    for (key, _, _) in taken.iter() {
        pipe.cmd("GET").arg(key);
    }
    match replies(link, conn, &pipe, taken.len()).await {
        Ok(values) => {
            for ((_, _, tx), value) in taken.drain(..).zip(values) {
                let _ = tx.send(Ok(Some(value.unwrap_or_default())));
            }
        }
        Err(Down(reason)) => answer_all(taken, &reason),
    }
}

/// The `expected` replies of a pipeline whose other commands are ignored; a pipeline that
/// answers a different number is [`Down`], so nobody is paired with another's reply.
async fn replies(
    link: &Link,
    conn: &ConnectionManager,
    pipe: &redis::Pipeline,
    expected: usize,
) -> Result<Vec<Option<String>>, Down> {
    let replies: Vec<Option<String>> = link.query_on(conn, pipe).await?;
    if replies.len() != expected {
        return Err(Down(format!(
            "{} answers for {expected} commands",
            replies.len()
        )));
    }
    Ok(replies)
}

/// Releases markers whose publish failed, as one script call on the owners' tokens.
async fn release(link: &Link, releases: &mut Vec<SettleJob>) {
    let mut invocation = release_script().prepare_invoke();
    for (key, token, _) in releases.iter() {
        invocation.key(key.as_str()).arg(token.as_str());
    }
    if let Err(e) = link.invoke::<i64>(&invocation).await {
        tracing::warn!(error = %e, markers = releases.len(), "shared dedup markers not released; their leases run out instead");
    }
    releases.clear();
}

fn answer_all(batch: &mut Vec<ClaimJob>, reason: &str) {
    for (_, _, tx) in batch.drain(..) {
        let _ = tx.send(Err(Down(reason.to_string())));
    }
}
