//! Calls in progress shared by the replicas: each progress event's state is appended to a list
//! per call, and whichever replica gets the final message merges them all.
//!
//! Appending is atomic and merging is order-independent, so two events of one call arriving at
//! two replicas at once lose nothing.

use std::sync::Arc;
use std::time::Duration;

use super::link::{Down, Link};

/// The shared live state of calls, as JSON documents per call.
pub struct SharedCalls {
    link: Arc<Link>,
    ttl: Duration,
}

impl SharedCalls {
    /// Entries expire `ttl` after a call's last event.
    pub fn new(link: Arc<Link>, ttl: Duration) -> Self {
        SharedCalls { link, ttl }
    }

    /// The link, for counting degraded requests.
    pub fn link(&self) -> &Arc<Link> {
        &self.link
    }

    fn key(&self, system: &str, call_id: &str) -> String {
        self.link.key(&format!("call:{system}:{call_id}"))
    }

    /// Appends one event's state to the call.
    pub async fn append(&self, system: &str, call_id: &str, state: &str) -> Result<(), Down> {
        let key = self.key(system, call_id);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("RPUSH")
            .arg(&key)
            .arg(state)
            .ignore()
            .cmd("PEXPIRE")
            .arg(&key)
            .arg(self.ttl.as_millis() as u64)
            .ignore();
        self.link.query_pipe(&pipe).await
    }

    /// Every state appended to the call so far.
    pub async fn states(&self, system: &str, call_id: &str) -> Result<Vec<String>, Down> {
        let mut cmd = redis::cmd("LRANGE");
        cmd.arg(self.key(system, call_id)).arg(0).arg(-1);
        self.link.query(&cmd).await
    }

    /// Forgets a call whose record was published.
    pub async fn forget(&self, system: &str, call_id: &str) -> Result<(), Down> {
        let mut cmd = redis::cmd("DEL");
        cmd.arg(self.key(system, call_id));
        self.link.query::<i64>(&cmd).await.map(|_| ())
    }
}
