//! Validation against the schema file the platform codes against.

use serde_json::Value;
use std::sync::OnceLock;

/// Panics with every violation when `record` does not validate against
/// `schemas/intake-request.v1.schema.json`.
pub fn assert_valid_request(record: &Value) {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    let validator = VALIDATOR.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/schemas/intake-request.v1.schema.json"
        );
        let schema: Value = serde_json::from_slice(&std::fs::read(path).expect("schema file"))
            .expect("schema is JSON");
        jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .expect("schema compiles")
    });
    let errors: Vec<String> = validator
        .iter_errors(record)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "record does not match the schema:\n{}\n{record:#}",
        errors.join("\n")
    );
}
