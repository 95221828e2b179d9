//! intake-gateway: the single front door of a 12345 government-service hotline.
//!
//! Every channel (phone, SMS, WeChat, web, radio) arrives over HTTP, is verified and normalized
//! by its adapter crate, de-duplicated, made durable (Kafka acks=all, or the local journal's
//! fsync) and only then acknowledged.

pub mod app;
pub mod channels;
pub mod cluster;
pub mod config;
pub mod dedup;
pub mod hook;
pub mod import;
pub mod local_log;
pub mod logging;
pub mod ops;
pub mod otel;
pub mod outbound;
pub mod per_core;
pub mod pipeline;
pub mod routes;
pub mod routing;
pub mod sink;
pub mod spool;
pub mod spool_cli;
pub mod telemetry;
pub mod tls;

pub use app::{start, Gateway, StartError};
pub use config::Config;
