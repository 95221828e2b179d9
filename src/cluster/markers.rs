//! Dedup markers shared by the replicas: one key per request id, *in flight* (owned by one
//! replica, with a lease) and then *durable* (kept for the dedup window).
//!
//! Only the owner may turn its marker durable or release it: both are compare-and-set scripts on
//! the owner's token, so a replica whose lease ran out can never overwrite a newer owner.
//!
//! Claims and settlements are batched: one task per kind sends everything that queued up while
//! its previous script ran as one script call, so under load a Redis round trip serves many
//! requests (two script calls per request cost cluster mode a third of its throughput on a busy
//! machine; see README "Performance"). An idle gateway still sends each claim at once.

use redis::Script;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

use super::link::{Down, Link};

/// KEYS: the markers; ARGV[1]: the lease (ms); ARGV[1 + i]: the token for KEYS[i].
/// Returns, per key, the value found or `mine`.
const CLAIM: &str = r"
local out = {}
for i, key in ipairs(KEYS) do
  local v = redis.call('GET', key)
  if v then
    out[i] = v
  else
    redis.call('SET', key, ARGV[1 + i], 'PX', ARGV[1])
    out[i] = 'mine'
  end
end
return out
";

/// KEYS: the markers; ARGV[1]: the window (ms); ARGV[2i], ARGV[2i + 1]: the owner's token and the
/// new value for KEYS[i] (empty: release). Returns how many markers were the owner's.
const SETTLE: &str = r"
local n = 0
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[2 * i] then
    local v = ARGV[2 * i + 1]
    if v == '' then redis.call('DEL', key) else redis.call('SET', key, v, 'PX', ARGV[1]) end
    n = n + 1
  end
end
return n
";

/// The most markers one script call handles: keeps each call well under a millisecond of Redis.
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

/// A claim waiting for its batch: the key, the token to set, and who waits for the answer.
type ClaimJob = (String, String, oneshot::Sender<Result<String, Down>>);
/// A settlement waiting for its batch: the key, the owner's token, the new value.
type SettleJob = (String, String, String);

/// The markers of one gateway.
pub struct Markers {
    link: Arc<Link>,
    claims: mpsc::UnboundedSender<ClaimJob>,
    settles: mpsc::UnboundedSender<SettleJob>,
}

fn scripts() -> &'static (Script, Script) {
    static SCRIPTS: OnceLock<(Script, Script)> = OnceLock::new();
    SCRIPTS.get_or_init(|| (Script::new(CLAIM), Script::new(SETTLE)))
}

impl Markers {
    /// Markers whose in-flight lease is `lease` (longer than a delivery can take) and whose
    /// durable state lasts `window` (the dedup window). Starts the two batching tasks, which end
    /// when the markers are dropped.
    pub fn new(link: Arc<Link>, lease: Duration, window: Duration) -> Self {
        let (claims, claim_rx) = mpsc::unbounded_channel();
        let (settles, settle_rx) = mpsc::unbounded_channel();
        tokio::spawn(claim_batches(link.clone(), lease, claim_rx));
        tokio::spawn(settle_batches(link.clone(), window, settle_rx));
        Markers {
            link,
            claims,
            settles,
        }
    }

    /// The link, for counting degraded requests.
    pub fn link(&self) -> &Arc<Link> {
        &self.link
    }

    fn key(&self, id: &str) -> String {
        self.link.key(&format!("req:{id}"))
    }

    /// Takes the marker of `id` if nobody holds it.
    pub async fn claim(&self, id: &str) -> Result<Marker, Down> {
        // A thread-local generator, not `Uuid::new_v4` (a getrandom call per request): the token
        // only has to differ from every other claim of the same id.
        let token = format!(
            "f|{}|{}",
            self.link.instance(),
            uuid::Builder::from_random_bytes(rand::random::<u128>().to_le_bytes())
                .into_uuid()
                .simple()
        );
        let (tx, rx) = oneshot::channel();
        self.claims
            .send((self.key(id), token.clone(), tx))
            .map_err(|_| Down("the marker task has stopped".into()))?;
        let found = rx
            .await
            .map_err(|_| Down("the marker task has stopped".into()))??;
        Ok(match found.as_str() {
            "mine" => Marker::Mine(token),
            v if v.starts_with("d|") => Marker::Durable,
            _ => Marker::InFlight,
        })
    }

    /// Turns the owner's marker durable (`true`) or releases it so a retry may publish (`false`).
    /// Queued, not awaited: nobody waits for it, and when Redis does not take it the lease runs
    /// out instead (logged by the batch).
    pub fn settle(&self, id: &str, token: String, durable: bool) {
        let value = if durable {
            format!("d|{}", self.link.instance())
        } else {
            String::new()
        };
        let _ = self.settles.send((self.key(id), token, value));
    }
}

/// Sends the claims queued since the last call as one script call, one call at a time.
async fn claim_batches(
    link: Arc<Link>,
    lease: Duration,
    mut rx: mpsc::UnboundedReceiver<ClaimJob>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let mut invocation = scripts().0.prepare_invoke();
        invocation.arg(lease.as_millis() as u64);
        for (key, token, _) in &batch {
            invocation.key(key).arg(token);
        }
        let result: Result<Vec<String>, Down> = link.invoke(&invocation).await;
        match result {
            Ok(found) if found.len() == batch.len() => {
                for ((_, _, tx), v) in batch.drain(..).zip(found) {
                    let _ = tx.send(Ok(v));
                }
            }
            Ok(found) => {
                let reason = format!("{} answers for {} claims", found.len(), batch.len());
                answer_all(&mut batch, &reason)
            }
            Err(Down(reason)) => answer_all(&mut batch, &reason),
        }
    }
}

fn answer_all(batch: &mut Vec<ClaimJob>, reason: &str) {
    for (_, _, tx) in batch.drain(..) {
        let _ = tx.send(Err(Down(reason.to_string())));
    }
}

/// Sends the settlements queued since the last call as one script call, one call at a time.
async fn settle_batches(
    link: Arc<Link>,
    window: Duration,
    mut rx: mpsc::UnboundedReceiver<SettleJob>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let mut invocation = scripts().1.prepare_invoke();
        invocation.arg(window.as_millis() as u64);
        for (key, token, value) in &batch {
            invocation.key(key).arg(token).arg(value);
        }
        let result: Result<i64, Down> = link.invoke(&invocation).await;
        if let Err(e) = result {
            tracing::warn!(error = %e, markers = batch.len(), "shared dedup markers not settled; their leases run out instead");
        }
        batch.clear();
    }
}
