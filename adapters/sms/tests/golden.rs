//! Golden fixtures: `fixtures/<name>.request.json` (one or more provider calls) must produce
//! exactly `fixtures/<name>.expected.json`. `UPDATE_GOLDEN=1` rewrites the expectations after a
//! deliberate change; review the diff like code.
//!
//! Request fixture: `{"provider": "<kind>", "requests": [{"method", "query", "headers": {},
//! "body_text" | "body_base64", "peer"}], "assemble": "complete" | "incomplete"}`. The runner adds
//! the credentials (URL token, Twilio or generic signature) a real provider would have sent, with
//! the fixed clock and trace of `common`. With `assemble`, every part the calls produced is joined.

mod common;

use common::*;
use intake_sms::{assemble, assemble_incomplete, success_reply, Item, Part};
use serde_json::{json, Value};
use std::path::Path;

fn run_fixture(fixture: &Value) -> Value {
    let kind = kind_named(fixture["provider"].as_str().expect("provider"));
    let mut deliveries = Vec::new();
    let mut parts: Vec<Part> = Vec::new();
    for request in fixture["requests"].as_array().expect("requests") {
        let request = Request::from_json(request).signed(kind);
        match request.run(kind) {
            Ok(delivery) => {
                for item in &delivery.items {
                    if let Item::Part(part) = item {
                        parts.push((**part).clone());
                    }
                }
                let (content_type, body) = success_reply(kind, delivery.probe, None);
                let mut value = serde_json::to_value(&delivery).expect("delivery serializes");
                value["reply"] = json!({"content_type": content_type, "body": body});
                deliveries.push(value);
            }
            Err(e) => deliveries.push(json!({"error": e.kind(), "reason": e.to_string()})),
        }
    }
    let mut out = json!({ "deliveries": deliveries });
    match fixture.get("assemble").and_then(Value::as_str) {
        Some("complete") => {
            out["assembled"] =
                serde_json::to_value(assemble(&parts).expect("assembles")).expect("json")
        }
        Some("incomplete") => {
            out["assembled"] =
                serde_json::to_value(assemble_incomplete(&parts).expect("assembles")).expect("json")
        }
        _ => {}
    }
    out
}

#[test]
fn golden_fixtures() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let update = std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("fixtures dir")
        .filter_map(|e| {
            e.expect("entry")
                .file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".request.json"))
                .map(str::to_string)
        })
        .collect();
    names.sort();
    assert!(names.len() >= 14, "fixtures missing: {names:?}");
    let mut mismatches = Vec::new();
    for name in &names {
        let fixture: Value = serde_json::from_slice(
            &std::fs::read(dir.join(format!("{name}.request.json"))).expect("read"),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        let actual = run_fixture(&fixture);
        let expected_path = dir.join(format!("{name}.expected.json"));
        if update {
            std::fs::write(
                &expected_path,
                serde_json::to_string_pretty(&actual).expect("json") + "\n",
            )
            .expect("write expected");
            continue;
        }
        let expected: Value = serde_json::from_slice(
            &std::fs::read(&expected_path)
                .unwrap_or_else(|_| panic!("{name}: no expected file; run with UPDATE_GOLDEN=1")),
        )
        .expect("expected json");
        if actual != expected {
            mismatches.push(name.clone());
            eprintln!(
                "{name}: got\n{}",
                serde_json::to_string_pretty(&actual).expect("json")
            );
        }
    }
    assert!(mismatches.is_empty(), "golden mismatches: {mismatches:?}");
}
