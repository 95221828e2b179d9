//! Who may poll a feed. In cluster mode exactly one replica may (a Redis lease that moves when
//! its holder dies); that lease belongs to the high-availability work and plugs in here.

/// The cluster-mode hook: true when this instance may poll `feed` now. A single instance
/// always may. The Redis lease replaces this body; the worker asks before every page, so a
/// lease lost mid-feed stops polling at the next page and the new holder resumes from the
/// persisted cursor (at most one page is read twice, and dedup absorbs it).
pub fn may_poll(feed: &str) -> bool {
    let _ = feed;
    true
}
