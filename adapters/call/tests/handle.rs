//! Whole-post outcomes: what is an error (and which), what is a dead letter.

mod common;

use common::*;
use intake_adapter::AdapterError;
use intake_call::{Item, SourceKind, MAX_BATCH};
use serde_json::json;

fn wire_for(auth: &str, content_type: Option<&str>, body: &str) -> Wire {
    let mut request = json!({
        "auth": auth,
        "body": body,
        "at": "2026-11-24T02:00:00.000Z",
    });
    if let Some(ct) = content_type {
        request["content_type"] = json!(ct);
    }
    wire(&request)
}

fn generic() -> intake_call::Source {
    source(&json!({"source": {"kind": "generic", "name": "cti"}}))
}

#[test]
fn credentials_are_checked_before_the_body() {
    let mut w = wire_for("query", Some("application/json"), "not json");
    w.query = "token=wrong".into();
    assert!(matches!(
        run(&w, &generic(), &lines()),
        Err(AdapterError::Unauthorized(_))
    ));
    let w = wire_for("basic", Some("application/json"), "not json");
    assert!(matches!(
        run(&w, &generic(), &lines()),
        Err(AdapterError::Malformed(_))
    ));
    let mut off = generic();
    off.token = None;
    off.username = None;
    assert!(!off.enabled());
    assert!(run(&w, &off, &lines()).is_err());
}

#[test]
fn whole_post_errors() {
    let source = generic();
    let lines = lines();
    let ct = |c: &str, body: &str| run(&wire_for("bearer", Some(c), body), &source, &lines);
    assert!(matches!(
        ct("text/xml", "<x/>"),
        Err(AdapterError::UnsupportedMediaType(_))
    ));
    assert!(matches!(
        ct("application/json", "{"),
        Err(AdapterError::Malformed(_))
    ));
    let too_many = serde_json::to_string(&vec![json!({}); MAX_BATCH + 1]).unwrap_or_default();
    assert!(matches!(
        ct("application/json", &too_many),
        Err(AdapterError::Malformed(_))
    ));
    let fs = source_with(SourceKind::Freeswitch);
    let form = run(
        &wire_for(
            "bearer",
            Some("application/x-www-form-urlencoded"),
            "uuid=1",
        ),
        &fs,
        &lines,
    );
    assert!(matches!(form, Err(AdapterError::Malformed(_))));
}

#[test]
fn unreadable_messages_are_dead_letters_not_errors() {
    let source = generic();
    let items = run(
        &wire_for(
            "query",
            Some("application/json"),
            r#"[1, {"event":"answer"}]"#,
        ),
        &source,
        &lines(),
    )
    .unwrap_or_default();
    assert_eq!(items.len(), 2);
    for item in &items {
        assert!(matches!(item, Item::DeadLetter(d) if d.source_system == "call:cti"));
    }
    let kam = source_with(SourceKind::Kamailio);
    let items = run(
        &wire_for("basic", None, r#"{"event":"start"}"#),
        &kam,
        &lines(),
    )
    .unwrap_or_default();
    assert!(matches!(items.as_slice(), [Item::DeadLetter(_)]));
}

#[test]
fn get_is_refused() {
    let source = generic();
    let w = wire_for("query", None, "");
    let headers: &[(&str, &str)] = &[];
    let inbound = intake_adapter::Inbound {
        method: "GET",
        query: &w.query,
        headers: &headers,
        body: b"",
        now: w.at,
        peer: None,
        trace_id: TRACE_ID,
    };
    assert!(matches!(
        intake_call::handle(&inbound, &source, &lines()),
        Err(AdapterError::Malformed(_))
    ));
}

fn source_with(kind: SourceKind) -> intake_call::Source {
    source(&json!({"source": {"kind": kind.as_str(), "name": "x"}}))
}
