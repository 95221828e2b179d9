//! Cluster mode: several replicas behind one address share what must be shared (dedup markers,
//! long-SMS parts, calls in progress) through Redis. Kafka stays the only place records go.
//!
//! Redis is a help, not a dependency: while it is down, every channel but long SMS keeps
//! serving on local state (counted in `intake_cluster_degraded_total`), and the link comes
//! back by itself.

pub mod calls;
pub mod config;
pub mod groups;
pub mod leases;
pub mod link;
pub mod markers;

pub use config::ClusterConfig;
pub use link::{Down, Link};
