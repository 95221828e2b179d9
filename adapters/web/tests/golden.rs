//! Golden fixtures: `fixtures/<name>.request.json` (a signed batch body) must produce exactly
//! `fixtures/<name>.expected.json`. Run with `UPDATE_GOLDEN=1` to rewrite the expectations after a
//! deliberate change, then review the diff like code.

use chrono::DateTime;
use intake_adapter::signature::hmac_sha256_hex;
use intake_adapter::Inbound;
use intake_web::{handle, Partner};
use serde_json::{json, Value};
use std::path::Path;

/// The fixed clock and trace of every golden run: 2026-11-24T08:00:00Z.
pub const NOW: i64 = 1_795_507_200;
const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

fn run(body: &[u8]) -> Value {
    let partner = Partner::new("baixing", "demo-secret");
    let ts = NOW.to_string();
    let sig = format!(
        "v1={}",
        hmac_sha256_hex(b"demo-secret", &[ts.as_bytes(), b".", body])
    );
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
        now: DateTime::from_timestamp(NOW, 0).unwrap(),
        peer: None,
        trace_id: TRACE,
    };
    let outcomes = handle(&inbound, &partner).expect("fixture batches are well-formed");
    Value::Array(
        outcomes
            .into_iter()
            .map(|o| match o.result {
                Ok(record) => json!({"id": o.id, "record": record}),
                Err(reason) => json!({"id": o.id, "rejected": reason}),
            })
            .collect(),
    )
}

#[test]
fn golden_fixtures() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".request.json"))
        else {
            continue;
        };
        let actual = run(&std::fs::read(&path).unwrap());
        let expected_path = dir.join(format!("{name}.expected.json"));
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(
                &expected_path,
                serde_json::to_string_pretty(&actual).unwrap() + "\n",
            )
            .unwrap();
        }
        let expected: Value = serde_json::from_slice(
            &std::fs::read(&expected_path)
                .unwrap_or_else(|_| panic!("{name}: no expected file; run with UPDATE_GOLDEN=1")),
        )
        .unwrap();
        assert_eq!(
            actual,
            expected,
            "{name}: output differs from {}",
            expected_path.display()
        );
        count += 1;
    }
    assert!(count >= 5, "only {count} fixtures found");
}
