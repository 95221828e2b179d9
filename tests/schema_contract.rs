//! The contract: every example and every adapter golden output validates against
//! `schemas/intake-request.v1.schema.json`, and the file itself rejects what it should.

mod support;

use serde_json::{json, Value};
use support::{assert_valid, assert_valid_request, repo};

fn read(path: &std::path::Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_channel_has_a_valid_example() {
    for channel in ["phone", "sms", "wechat", "web", "radio"] {
        let example = read(&repo().join(format!("schemas/examples/{channel}.json")));
        assert_eq!(example["channel"], channel);
        assert_valid_request(&example);
    }
}

#[test]
fn every_example_is_valid() {
    let mut count = 0;
    for file in std::fs::read_dir(repo().join("schemas/examples")).unwrap() {
        assert_valid_request(&read(&file.unwrap().path()));
        count += 1;
    }
    assert!(count >= 6, "only {count} examples");
}

#[test]
fn a_transfer_needs_no_moderation() {
    let mut example = read(&repo().join("schemas/examples/web.json"));
    example.as_object_mut().unwrap().remove("moderation");
    assert_valid_request(&example);
}

#[test]
#[should_panic(expected = "does not match the schema")]
fn the_schema_rejects_a_plain_web_post_without_moderation() {
    let mut example = read(&repo().join("schemas/examples/web.json"));
    let map = example.as_object_mut().unwrap();
    map.remove("moderation");
    map.remove("transfer");
    assert_valid_request(&example);
}

#[test]
#[should_panic(expected = "does not match the schema")]
fn the_schema_rejects_an_unmoderated_radio_item() {
    let mut example = read(&repo().join("schemas/examples/radio_call_in.json"));
    example.as_object_mut().unwrap().remove("moderation");
    assert_valid_request(&example);
}

/// Golden expectations of every adapter: records wherever they appear in the expected files.
#[test]
fn every_adapter_golden_record_is_valid() {
    let mut checked = 0;
    for adapter in std::fs::read_dir(repo().join("adapters")).unwrap() {
        let fixtures = adapter.unwrap().path().join("fixtures");
        let Ok(files) = std::fs::read_dir(&fixtures) else {
            continue;
        };
        for file in files {
            let path = file.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("json")
                || path.to_string_lossy().ends_with(".request.json")
            {
                continue;
            }
            let mut stack = vec![read(&path)];
            while let Some(v) = stack.pop() {
                let file = match v.get("schema").and_then(Value::as_str) {
                    Some("intake-request/1") => Some("intake-request.v1.schema.json"),
                    Some("intake-event/1") => Some("intake-event.v1.schema.json"),
                    Some("intake-dead-letter/1") => Some("intake-dead-letter.v1.schema.json"),
                    _ => None,
                };
                match (file, v) {
                    (Some(file), v) => {
                        assert_valid(file, &v);
                        checked += 1;
                    }
                    (None, Value::Object(map)) => stack.extend(map.into_values()),
                    (None, Value::Array(items)) => stack.extend(items),
                    _ => {}
                }
            }
        }
    }
    assert!(checked >= 23, "only {checked} golden records found");
}

#[test]
#[should_panic(expected = "does not match the schema")]
fn the_schema_rejects_a_phone_record_without_its_call_block() {
    let mut example = read(&repo().join("schemas/examples/phone.json"));
    example.as_object_mut().unwrap().remove("call");
    assert_valid_request(&example);
}

#[test]
#[should_panic(expected = "does not match the schema")]
fn the_schema_rejects_unknown_fields() {
    let mut example = read(&repo().join("schemas/examples/sms.json"));
    example["surprise"] = json!(1);
    assert_valid_request(&example);
}

#[test]
#[should_panic(expected = "does not match the schema")]
fn the_schema_rejects_an_ambiguous_tracking_number() {
    let mut example = read(&repo().join("schemas/examples/web.json"));
    example["tracking_no"] = json!("O1IL-2345-6789");
    assert_valid_request(&example);
}
