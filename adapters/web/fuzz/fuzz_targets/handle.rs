//! Fuzzes the whole web-board path behind a valid signature: UTF-8 and depth checks, batch and
//! post parsing, normalization. The input is the raw body; it is signed here so the fuzzer
//! explores the parser rather than the HMAC. Seeds: the golden request fixtures.
#![no_main]

use intake_adapter::signature::hmac_sha256_hex;
use intake_adapter::Inbound;
use intake_web::{handle, Partner};
use libfuzzer_sys::fuzz_target;

const NOW: i64 = 1_795_507_200;

fuzz_target!(|body: &[u8]| {
    let Some(now) = chrono::DateTime::from_timestamp(NOW, 0) else {
        return;
    };
    let ts = NOW.to_string();
    let sig = format!("v1={}", hmac_sha256_hex(b"fuzz", &[ts.as_bytes(), b".", body]));
    let headers: &[(&str, &str)] = &[
        ("Content-Type", "application/json"),
        ("X-Intake-Timestamp", &ts),
        ("X-Intake-Signature", &sig),
    ];
    let inbound = Inbound {
        method: "POST",
        query: "",
        headers: &headers,
        body,
        now,
        peer: None,
        trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
    };
    if let Ok(outcomes) = handle(&inbound, &Partner::new("fuzz", "fuzz")) {
        for outcome in outcomes {
            if let Ok(record) = outcome.result {
                // Whatever was accepted must serialize: the sink depends on it.
                assert!(serde_json::to_vec(&record).is_ok());
            }
        }
    }
});

