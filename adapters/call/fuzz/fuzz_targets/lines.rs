//! Fuzzes number normalization and line resolution: any text, resolved against a table
//! built from the same input, must not panic, and a number always finds the line it was
//! configured under (in the same spelling).
#![no_main]

use intake_call::{line_key, Lines};
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(2, '\n');
    let configured = parts.next().unwrap_or_default().to_string();
    let dialed = parts.next().unwrap_or_default();
    let mut table = BTreeMap::new();
    table.insert("line".to_string(), vec![configured.clone()]);
    let lines = Lines::new(&table);
    let _ = lines.resolve(dialed);
    let _ = line_key(dialed);
    if line_key(&configured).is_some() && line_key("line").is_none() {
        assert_eq!(lines.resolve(&configured).as_deref(), Some("line"));
    }
});
