//! The live state of calls in progress, merged from their earlier events until the final record.
//!
//! A single instance keeps them in memory only: a restart in the middle of a call loses the
//! ringing/answer details it had collected, but the final CDR or hangup still produces a
//! complete record on its own. In cluster mode each event's state also goes to Redis, so the
//! replica that gets the final message merges what every replica saw; while Redis is down, the
//! local table carries on alone (counted as degraded).

use intake_call::CallState;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::cluster::calls::SharedCalls;

/// Calls in progress by source system and call id.
pub struct CallStates {
    calls: Mutex<HashMap<(String, String), (CallState, Instant)>>,
    ttl: Duration,
    shared: Option<Arc<SharedCalls>>,
}

impl CallStates {
    /// An empty table whose entries expire after `ttl` without news.
    pub fn new(ttl: Duration) -> Self {
        CallStates {
            calls: Mutex::new(HashMap::new()),
            ttl,
            shared: None,
        }
    }

    /// Cluster mode: calls in progress are shared through Redis too.
    pub fn with_shared(mut self, shared: Arc<SharedCalls>) -> Self {
        self.shared = Some(shared);
        self
    }

    /// Folds an update into the call's state, here and (cluster mode) in Redis.
    pub async fn update(&self, state: CallState) {
        if let Some(shared) = &self.shared {
            let json = serde_json::to_string(&state).unwrap_or_default();
            if shared
                .append(&state.source_system, &state.call_id, &json)
                .await
                .is_err()
            {
                shared.link().degraded("calls");
            }
        }
        self.update_local(state);
    }

    fn update_local(&self, state: CallState) {
        let Ok(mut calls) = self.calls.lock() else {
            return;
        };
        let key = (state.source_system.clone(), state.call_id.clone());
        let prev = calls.remove(&key).map(|(s, _)| s);
        calls.insert(key, (intake_call::merge(prev, state), Instant::now()));
        if calls.len() % 1024 == 0 {
            let ttl = self.ttl;
            calls.retain(|_, (_, at)| at.elapsed() < ttl);
        }
    }

    /// The call's full state with the final piece folded in (cluster mode: with what every
    /// replica saw); the call stays known until [`CallStates::forget`], so a failed publish can
    /// be retried with everything.
    pub async fn finish(&self, state: CallState) -> CallState {
        let mut merged = self.finish_local(state);
        if let Some(shared) = &self.shared {
            match shared.states(&merged.source_system, &merged.call_id).await {
                Ok(states) => {
                    for earlier in states.iter().filter_map(|s| serde_json::from_str(s).ok()) {
                        merged = intake_call::merge(Some(earlier), merged);
                    }
                }
                Err(_) => shared.link().degraded("calls"),
            }
        }
        merged
    }

    fn finish_local(&self, state: CallState) -> CallState {
        let Ok(calls) = self.calls.lock() else {
            return state;
        };
        let key = (state.source_system.clone(), state.call_id.clone());
        let prev = calls.get(&key).map(|(s, _)| s.clone());
        intake_call::merge(prev, state)
    }

    /// Forgets a call whose record was published.
    pub async fn forget(&self, source_system: &str, call_id: &str) {
        if let Some(shared) = &self.shared {
            // Best effort: an entry left behind expires with the call's TTL.
            let _ = shared.forget(source_system, call_id).await;
        }
        if let Ok(mut calls) = self.calls.lock() {
            calls.remove(&(source_system.to_string(), call_id.to_string()));
        }
    }

    /// Calls in progress.
    pub fn len(&self) -> usize {
        self.calls.lock().map(|c| c.len()).unwrap_or(0)
    }

    /// True when no call is in progress.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
