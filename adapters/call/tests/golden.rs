//! Golden fixtures: every `fixtures/<name>.request.json` (a source and a sequence of requests
//! as the PBX sends them) must produce exactly `fixtures/<name>.expected.json`: per request,
//! its items, with finished calls rendered as the gateway would publish them. Run with
//! `UPDATE_GOLDEN=1` to rewrite the expectations after a deliberate change, then review the
//! diff like code.

mod common;

use common::*;
use serde_json::Value;

#[test]
fn golden_fixtures() {
    let update = std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    let fixtures = fixtures();
    assert!(fixtures.len() >= 18, "fixtures missing: {}", fixtures.len());
    let mut mismatches = Vec::new();
    for (name, fixture) in &fixtures {
        let actual = play(fixture);
        let path = fixtures_dir().join(format!("{name}.expected.json"));
        let rendered = format!("{}\n", serde_json::to_string_pretty(&actual).expect("json"));
        if update {
            std::fs::write(&path, rendered).expect("write golden");
            continue;
        }
        let expected: Value = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null);
        if expected != actual {
            mismatches.push(format!("{name}:\n{rendered}"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "golden mismatch (run with UPDATE_GOLDEN=1 after checking):\n{}",
        mismatches.join("\n")
    );
}

fn fixture(name: &str) -> Value {
    fixtures()
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, f)| f)
        .unwrap_or_else(|| panic!("no fixture {name}"))
}

/// The finished records of a played fixture, in order.
fn records(name: &str) -> Vec<Value> {
    let played = play(&fixture(name));
    played
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|item| item.get("final").map(|f| f["record"].clone()))
        .collect()
}

/// Without `raw`, which records the bytes as sent.
fn without_raw(mut record: Value) -> Value {
    if let Some(object) = record.as_object_mut() {
        object.remove("raw");
    }
    record
}

#[test]
fn the_three_freeswitch_encodings_give_one_record() {
    let raw = records("freeswitch_raw_json");
    let form = records("freeswitch_form_urlencoded");
    let base64 = records("freeswitch_form_base64");
    assert_eq!(raw.len(), 1);
    assert_eq!(without_raw(raw[0].clone()), without_raw(form[0].clone()));
    assert_eq!(without_raw(raw[0].clone()), without_raw(base64[0].clone()));
    // The base64 variant must really exercise a `+` that a form decoder would break.
    let body = wire(&fixture("freeswitch_form_base64")["requests"][0]).body;
    assert!(body.contains(&b'+'), "base64 fixture has no '+'");
}

#[test]
fn a_reposted_cdr_is_the_same_request() {
    let records = records("freeswitch_retry_same_request");
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["request_id"], records[1]["request_id"]);
    assert_eq!(records[0]["tracking_no"], records[1]["tracking_no"]);
    assert_eq!(records[0]["call"], records[1]["call"]);
}

#[test]
fn a_diverted_call_keeps_the_line_the_citizen_dialed() {
    for name in ["kamailio_diverted_12328", "freeswitch_raw_json"] {
        let records = records(name);
        let record = records
            .last()
            .unwrap_or_else(|| panic!("{name}: no record"));
        assert_eq!(record["source"]["line"], "12328", "{name}");
        assert_eq!(record["call"]["dialed_line"], "12328", "{name}");
        assert_eq!(record["call"]["callee"], "12345", "{name}");
    }
}

#[test]
fn unanswered_calls_are_callback_candidates_and_anonymous_stays_anonymous() {
    for (name, disposition) in [
        ("freeswitch_encode_values_abandoned", "abandoned"),
        ("generic_abandoned_multipart", "abandoned"),
        ("kamailio_failed_anonymous", "abandoned"),
        ("asterisk_cdr_no_answer_json", "abandoned"),
        ("asterisk_ari_abandoned", "abandoned"),
        ("generic_anonymous_caller", "no_answer"),
    ] {
        let records = records(name);
        let call = &records.last().unwrap_or_else(|| panic!("{name}"))["call"];
        assert_eq!(call["disposition"], disposition, "{name}");
        assert_eq!(call["callback_candidate"], true, "{name}");
        assert_eq!(call["talk_seconds"], 0, "{name}");
    }
    for name in ["generic_anonymous_caller", "kamailio_failed_anonymous"] {
        let record = records(name).pop().unwrap_or_default();
        assert_eq!(record["citizen"]["contact_kind"], "anonymous", "{name}");
        assert_eq!(record["call"]["caller"], Value::Null, "{name}");
    }
}

/// The IVR choice of the only finished call of `fixture`.
fn ivr_of(fixture: &Value) -> Value {
    let played = play(fixture);
    let finals: Vec<Value> = played
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|item| {
            item.get("final")
                .map(|f| f["record"]["call"]["ivr"].clone())
        })
        .collect();
    assert_eq!(finals.len(), 1, "one finished call: {played}");
    finals[0].clone()
}

#[test]
fn a_configured_ivr_variable_is_read_instead_of_ivr_choice() {
    // FreeSWITCH: the CDR carries yj_menu_digit = 2 and a stale ivr_choice = 9.
    let mut fs = fixture("freeswitch_ivr_custom_variable");
    assert_eq!(fs["source"]["ivr_variable"], "yj_menu_digit");
    assert_eq!(ivr_of(&fs), "2");
    // The same CDR on a source left at the default reads ivr_choice.
    fs["source"].as_object_mut().unwrap().remove("ivr_variable");
    assert_eq!(ivr_of(&fs), "9");

    // Asterisk CDR (a custom field): the configured field wins over ivr_choice too.
    let mut ast = fixture("asterisk_cdr_ivr_korean");
    assert_eq!(ivr_of(&ast), "2");
    let body = ast["requests"][0]["body"].as_str().unwrap().to_string();
    assert!(body.ends_with("&ivr_choice=2"));
    ast["requests"][0]["body"] = Value::from(format!("{body}&menu_key=3%23"));
    ast["source"]["ivr_variable"] = Value::from("menu_key");
    assert_eq!(ivr_of(&ast), "3#");
    // Configured but absent from the CDR: no IVR choice, not a guess from ivr_choice.
    ast["source"]["ivr_variable"] = Value::from("not_in_this_cdr");
    assert_eq!(ivr_of(&ast), Value::Null);
}
