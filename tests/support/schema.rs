//! Validation against the schema files the platform codes against.

use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

/// Panics with every violation when `record` does not validate against `schemas/{file}`.
pub fn assert_valid(file: &str, record: &Value) {
    static VALIDATORS: OnceLock<Mutex<HashMap<String, &'static jsonschema::Validator>>> =
        OnceLock::new();
    let validator = {
        let mut cache = VALIDATORS.get_or_init(Default::default).lock().unwrap();
        *cache.entry(file.to_string()).or_insert_with(|| {
            let path = format!("{}/schemas/{file}", env!("CARGO_MANIFEST_DIR"));
            let schema: Value = serde_json::from_slice(&std::fs::read(&path).expect("schema file"))
                .expect("schema is JSON");
            Box::leak(Box::new(
                jsonschema::options()
                    .should_validate_formats(true)
                    .build(&schema)
                    .expect("schema compiles"),
            ))
        })
    };
    let errors: Vec<String> = validator
        .iter_errors(record)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "record does not match the schema {file}:\n{}\n{record:#}",
        errors.join("\n")
    );
}

/// [`assert_valid`] against the request schema.
pub fn assert_valid_request(record: &Value) {
    assert_valid("intake-request.v1.schema.json", record);
}

/// [`assert_valid`] against the event schema.
pub fn assert_valid_event(record: &Value) {
    assert_valid("intake-event.v1.schema.json", record);
}

/// [`assert_valid`] against the dead-letter schema.
pub fn assert_valid_dead_letter(record: &Value) {
    assert_valid("intake-dead-letter.v1.schema.json", record);
}
