//! Which request ids were already accepted, and which are being accepted right now.
//!
//! Telecom gateways and WeChat re-send what they think we missed; WeChat re-sends after 5 s
//! while the first delivery may still be waiting on Kafka. The index answers three ways: seen
//! (answer as the original did), in flight (wait for the original's outcome), or yours (publish
//! it). The index lives in memory; its file is written in batches, because an entry lost in a
//! crash only costs a duplicate with the same request id, which the platform tolerates.

mod store;

use dashmap::mapref::entry::Entry;
use dashmap::DashMap;
use foldhash::fast::RandomState;
use intake_schema::RequestId;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

use store::SeenFile;

enum Slot {
    /// Durable, at this time (for the window).
    Seen { at_ms: i64 },
    /// The channel exists only once a twin waits: almost every claim is settled with nobody
    /// waiting, and a watch channel is an allocation of eight wait lists, each locked to send.
    InFlight(Option<watch::Sender<Option<bool>>>),
}

/// What [`DedupIndex::claim`] found.
pub enum Claim {
    /// Accepted before, within the window.
    Seen,
    /// Being accepted by another request now; the receiver turns `Some(true)` on success,
    /// `Some(false)` on failure.
    InFlight(watch::Receiver<Option<bool>>),
    /// Nobody has it: the caller publishes and reports through the guard.
    Mine(ClaimGuard),
}

/// The dedup index of one gateway instance.
pub struct DedupIndex {
    /// foldhash, seeded per process, not SipHash: the map is looked up two or three times per
    /// request, and ids are digests of what callers send, not values they choose freely.
    map: DashMap<RequestId, Slot, RandomState>,
    window: Duration,
    max_entries: usize,
    pending: Mutex<Vec<(RequestId, i64)>>,
    file: Mutex<SeenFile>,
}

impl DedupIndex {
    /// Loads the index from `dir`, dropping entries older than `window`.
    pub fn open(dir: &Path, window: Duration, max_entries: usize) -> std::io::Result<Arc<Self>> {
        let cutoff = now_ms() - window.as_millis() as i64;
        let (file, entries) = SeenFile::open(dir, cutoff)?;
        let map = DashMap::with_capacity_and_hasher(entries.len(), RandomState::default());
        for (id, at_ms) in entries {
            map.insert(id, Slot::Seen { at_ms });
        }
        let index = Arc::new(DedupIndex {
            map,
            window,
            max_entries,
            pending: Mutex::new(Vec::new()),
            file: Mutex::new(file),
        });
        index.enforce_bounds();
        Ok(index)
    }

    /// Looks `id` up and, when nobody has it, takes it.
    pub fn claim(self: &Arc<Self>, id: RequestId) -> Claim {
        let cutoff = now_ms() - self.window.as_millis() as i64;
        match self.map.entry(id) {
            Entry::Occupied(mut e) => match e.get() {
                Slot::Seen { at_ms } if *at_ms >= cutoff => Claim::Seen,
                Slot::InFlight(Some(tx)) => Claim::InFlight(tx.subscribe()),
                Slot::InFlight(None) => {
                    let (tx, rx) = watch::channel(None);
                    e.insert(Slot::InFlight(Some(tx)));
                    Claim::InFlight(rx)
                }
                Slot::Seen { .. } => {
                    e.insert(Slot::InFlight(None));
                    Claim::Mine(ClaimGuard {
                        index: self.clone(),
                        id,
                        finished: false,
                        then: None,
                    })
                }
            },
            Entry::Vacant(v) => {
                v.insert(Slot::InFlight(None));
                Claim::Mine(ClaimGuard {
                    index: self.clone(),
                    id,
                    finished: false,
                    then: None,
                })
            }
        }
    }

    fn finish(&self, id: RequestId, ok: bool) {
        let previous = if ok {
            let at_ms = now_ms();
            if let Ok(mut p) = self.pending.lock() {
                p.push((id, at_ms));
            }
            self.map.insert(id, Slot::Seen { at_ms })
        } else {
            self.map.remove(&id).map(|(_, slot)| slot)
        };
        if let Some(Slot::InFlight(Some(tx))) = previous {
            tx.send_replace(Some(ok));
        }
    }

    /// True when `id` was accepted within the window (a read-only look, no claim).
    pub fn is_seen(&self, id: RequestId) -> bool {
        let cutoff = now_ms() - self.window.as_millis() as i64;
        matches!(self.map.get(&id).as_deref(), Some(Slot::Seen { at_ms }) if *at_ms >= cutoff)
    }

    /// Records `id` as accepted without a claim: for ids that stand for something published
    /// under another id (the parts of an assembled long SMS).
    pub fn remember(&self, id: RequestId) {
        let at_ms = now_ms();
        if let Ok(mut p) = self.pending.lock() {
            p.push((id, at_ms));
        }
        self.map.insert(id, Slot::Seen { at_ms });
    }

    /// Ids remembered (seen or in flight).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Writes newly seen ids to the file (no fsync: see the module note). Called every few
    /// hundred milliseconds and at shutdown.
    pub fn flush(&self, sync: bool) -> std::io::Result<()> {
        let batch = std::mem::take(&mut *self.pending.lock().map_err(poisoned)?);
        let mut file = self.file.lock().map_err(poisoned)?;
        file.append(&batch)?;
        if sync {
            file.sync()?;
        }
        Ok(())
    }

    /// Forgets expired ids, keeps the count under its bound, and rewrites the file when it holds
    /// mostly forgotten ids. Called once a minute.
    pub fn sweep(&self) -> std::io::Result<()> {
        self.enforce_bounds();
        let live = self.map.len() as u64;
        let mut file = self.file.lock().map_err(poisoned)?;
        if file.records() > 2 * live + 100_000 {
            let snapshot: Vec<(RequestId, i64)> = self
                .map
                .iter()
                .filter_map(|e| match e.value() {
                    Slot::Seen { at_ms } => Some((*e.key(), *at_ms)),
                    Slot::InFlight(_) => None,
                })
                .collect();
            file.rewrite(&snapshot)?;
        }
        Ok(())
    }

    fn enforce_bounds(&self) {
        let cutoff = now_ms() - self.window.as_millis() as i64;
        self.map.retain(|_, slot| match slot {
            Slot::Seen { at_ms } => *at_ms >= cutoff,
            Slot::InFlight(_) => true,
        });
        let excess = self.map.len().saturating_sub(self.max_entries);
        if excess == 0 {
            return;
        }
        // Over the bound: forget the oldest `excess` ids (ties may take a few more).
        let mut ages: Vec<i64> = self
            .map
            .iter()
            .filter_map(|e| match e.value() {
                Slot::Seen { at_ms } => Some(*at_ms),
                Slot::InFlight(_) => None,
            })
            .collect();
        if ages.is_empty() {
            return;
        }
        let k = excess.min(ages.len()) - 1;
        let limit = *ages.select_nth_unstable(k).1;
        self.map.retain(|_, slot| match slot {
            Slot::Seen { at_ms } => *at_ms > limit,
            Slot::InFlight(_) => true,
        });
    }
}

/// The right, and the duty, to publish one request id. Dropping it unfinished counts as a
/// failure, so a cancelled request never leaves its id stuck "in flight".
pub struct ClaimGuard {
    index: Arc<DedupIndex>,
    id: RequestId,
    finished: bool,
    then: Option<Settled>,
}

/// What else learns how a claim ended (the cluster's shared marker): `true` when durable.
pub type Settled = Box<dyn FnOnce(bool) + Send>;

impl ClaimGuard {
    /// Also tells `then` how the claim ends, whichever path settles it (or drops it).
    pub fn then(mut self, then: Settled) -> Self {
        self.then = Some(then);
        self
    }

    /// The request is durable: remember it and release the waiters as duplicates.
    pub fn succeed(mut self) {
        self.settle(true);
    }

    /// It is not: forget it so the caller's retry is published, and let waiters retry.
    pub fn fail(mut self) {
        self.settle(false);
    }

    fn settle(&mut self, durable: bool) {
        self.finished = true;
        self.index.finish(self.id, durable);
        if let Some(then) = self.then.take() {
            then(durable);
        }
    }
}

impl Drop for ClaimGuard {
    fn drop(&mut self) {
        if !self.finished {
            self.settle(false);
        }
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn poisoned<T>(_: std::sync::PoisonError<T>) -> std::io::Error {
    std::io::Error::other("dedup index lock poisoned")
}

#[cfg(test)]
mod tests;
