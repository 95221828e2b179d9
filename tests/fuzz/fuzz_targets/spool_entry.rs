//! Fuzzes the spool/journal line codec: whatever a crash or a disk leaves in a segment, decoding
//! returns an entry or nothing, never panics, and a decoded entry encodes back to a line that
//! decodes to the same entry.
//!
//! The codec file is compiled in directly (it only needs serde_json and crc32c), so the fuzz
//! build does not drag in the whole gateway with librdkafka.
#![no_main]

#[allow(dead_code)]
#[path = "../../../src/local_log/entry.rs"]
mod entry;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|line: &[u8]| {
    if let Some(decoded) = entry::decode_line(line) {
        let again = entry::encode_line(&decoded).expect("a decoded record is JSON");
        assert_eq!(entry::decode_line(&again), Some(decoded));
    }
});
