//! The live state of calls in progress, merged from their earlier events until the final record.
//!
//! Kept in memory only: a restart in the middle of a call loses the ringing/answer details it had
//! collected, but the final CDR or hangup still produces a complete record on its own.

use intake_call::CallState;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Calls in progress by source system and call id.
pub struct CallStates {
    calls: Mutex<HashMap<(String, String), (CallState, Instant)>>,
    ttl: Duration,
}

impl CallStates {
    /// An empty table whose entries expire after `ttl` without news.
    pub fn new(ttl: Duration) -> Self {
        CallStates {
            calls: Mutex::new(HashMap::new()),
            ttl,
        }
    }

    /// Folds an update into the call's state.
    pub fn update(&self, state: CallState) {
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

    /// The call's full state with the final piece folded in; the call stays known until
    /// [`CallStates::forget`], so a failed publish can be retried with everything.
    pub fn finish(&self, state: CallState) -> CallState {
        let Ok(calls) = self.calls.lock() else {
            return state;
        };
        let key = (state.source_system.clone(), state.call_id.clone());
        let prev = calls.get(&key).map(|(s, _)| s.clone());
        intake_call::merge(prev, state)
    }

    /// Forgets a call whose record was published.
    pub fn forget(&self, source_system: &str, call_id: &str) {
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
