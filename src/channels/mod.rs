//! The channels, one folder each: its hook handlers, its `[channels.*]` config types, the state
//! it keeps between requests, and one `routes()` that returns its router with that state.
//!
//! A channel knows the shared hook layer (`crate::hook`) and the pipeline below it, never another
//! channel; the top router (`crate::routes`) merges them.

pub mod call;
pub mod sms;
pub mod web;
pub mod wechat;
