//! Who may poll a feed. A single instance always may; in cluster mode exactly one replica may at
//! a time: the holder of the feed's lease in Redis, which moves when its holder dies.
//!
//! The worker asks before every page, so a lease lost mid-feed stops polling at the next page
//! and the new holder resumes from its own persisted cursor; what it reads again is absorbed by
//! dedup. While Redis is down every replica polls (counted as degraded): a feed that nobody
//! polls would be worse than a page read twice.

use std::sync::Arc;
use std::time::Duration;

use crate::cluster::leases::Leases;

/// The shortest lease: longer than one feed request may take (its timeout) plus a page's
/// submissions, so a live holder never loses its lease in the middle of a page.
const MIN_TTL: Duration = Duration::from_secs(10);

/// The lease of one feed.
pub struct FeedLease {
    name: String,
    leases: Option<Arc<Leases>>,
    ttl: Duration,
}

impl FeedLease {
    /// The lease of `feed`, polled every `interval`; `None` leases for a single instance.
    pub fn new(feed: &str, leases: Option<Arc<Leases>>, interval: Duration) -> Self {
        FeedLease {
            name: format!("pull:{feed}"),
            leases,
            // Outlives a page and a pause between pages, so a live holder never loses it.
            ttl: (interval * 3).max(MIN_TTL),
        }
    }

    /// True when this instance may poll the feed now.
    pub async fn may_poll(&self) -> bool {
        let Some(leases) = &self.leases else {
            return true;
        };
        match leases.hold(&self.name, self.ttl).await {
            Ok(held) => held,
            Err(_) => {
                leases.link().degraded("pull");
                true
            }
        }
    }
}
