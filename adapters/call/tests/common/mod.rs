//! Fixture requests, built the way each PBX sends them, and the gateway's use of the items.
#![allow(dead_code)]

use base64::Engine;
use chrono::{DateTime, Utc};
use intake_adapter::Inbound;
use intake_call::{finish, handle, merge, CallState, Item, Lines, Source, FORM_BASE64};
use intake_schema::RawPayload;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

pub const TOKEN: &str = "golden-token";
pub const USER: &str = "fs-cdr";
pub const PASSWORD: &str = "golden+pass";
pub const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

/// The lines table of every fixture.
pub fn lines() -> Lines {
    let mut map = BTreeMap::new();
    for (line, numbers) in [
        ("12345", ["12345", "043312345"]),
        ("12328", ["12328", "043312328"]),
        ("12343", ["12343", "043312343"]),
    ] {
        map.insert(
            line.to_string(),
            numbers.iter().map(|n| n.to_string()).collect(),
        );
    }
    Lines::new(&map)
}

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Every `fixtures/*.request.json`, sorted, with its name.
pub fn fixtures() -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures dir")
        .filter_map(|e| {
            let path = e.expect("entry").path();
            let name = path
                .file_name()?
                .to_str()?
                .strip_suffix(".request.json")?
                .to_string();
            let value = serde_json::from_slice(&std::fs::read(&path).expect("read fixture"))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            Some((name, value))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The fixture's source with every kind of credential configured.
pub fn source(fixture: &Value) -> Source {
    let mut config = fixture["source"].clone();
    config["token"] = json!(TOKEN);
    config["username"] = json!(USER);
    config["password"] = json!(PASSWORD);
    serde_json::from_value(config).expect("fixture source config")
}

/// One request as the sender puts it on the wire.
pub struct Wire {
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub at: DateTime<Utc>,
}

impl Wire {
    pub fn content_type(&self) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            .map(|(_, v)| v.as_str())
    }
}

/// FreeSWITCH's `switch_url_encode`: everything outside printable ASCII and the characters
/// `\r\n "#%&+:;<=>?@[\]^`{|}` become `%XX`.
pub fn fs_url_encode(text: &str) -> String {
    let unsafe_chars = "\r\n \"#%&+:;<=>?@[\\]^`{|}";
    text.bytes()
        .map(|b| {
            if !(0x20..=0x7e).contains(&b) || unsafe_chars.as_bytes().contains(&b) {
                format!("%{b:02X}")
            } else {
                (b as char).to_string()
            }
        })
        .collect()
}

/// Builds the wire form of one fixture request.
pub fn wire(request: &Value) -> Wire {
    let text = |k: &str| request[k].as_str().map(str::to_string);
    let body = match (text("body"), text("body_file")) {
        (Some(body), _) => body,
        (None, Some(file)) => {
            std::fs::read_to_string(fixtures_dir().join(file)).expect("body file")
        }
        _ => String::new(),
    };
    let mut content_type = text("content_type");
    let body = match text("encode").as_deref() {
        Some("fs_form") => {
            content_type = Some("application/x-www-form-urlencoded".into());
            format!("cdr={}", fs_url_encode(&body))
        }
        Some("fs_base64") => {
            content_type = Some(FORM_BASE64.into());
            format!(
                "cdr={}",
                base64::engine::general_purpose::STANDARD.encode(&body)
            )
        }
        Some("raw") => {
            content_type.get_or_insert_with(|| "application/json".into());
            body
        }
        _ => body,
    };
    let mut query = text("query").unwrap_or_default();
    let mut headers = Vec::new();
    if let Some(ct) = content_type {
        headers.push(("Content-Type".to_string(), ct));
    }
    match text("auth").as_deref().unwrap_or("query") {
        "basic" => {
            let pair =
                base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
            headers.push(("Authorization".into(), format!("Basic {pair}")));
        }
        "bearer" => headers.push(("Authorization".into(), format!("Bearer {TOKEN}"))),
        _ => {
            query = if query.is_empty() {
                format!("token={TOKEN}")
            } else {
                format!("token={TOKEN}&{query}")
            }
        }
    }
    let at = text("at")
        .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
        .map(|t| t.with_timezone(&Utc))
        .expect("every fixture request has `at`");
    Wire {
        query,
        headers,
        body: body.into_bytes(),
        at,
    }
}

/// Runs `wire` through the adapter.
pub fn run(
    wire: &Wire,
    source: &Source,
    lines: &Lines,
) -> Result<Vec<Item>, intake_adapter::AdapterError> {
    let headers: Vec<(&str, &str)> = wire
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let headers: &[(&str, &str)] = &headers;
    let inbound = Inbound {
        method: "POST",
        query: &wire.query,
        headers: &headers,
        body: &wire.body,
        now: wire.at,
        peer: None,
        trace_id: TRACE_ID,
    };
    handle(&inbound, source, lines)
}

/// Plays a fixture's requests like the gateway does (live state per call, finish on the
/// final item) and renders what came out of each request.
pub fn play(fixture: &Value) -> Value {
    let source = source(fixture);
    let lines = lines();
    let mut live: HashMap<String, CallState> = HashMap::new();
    let requests = fixture["requests"].as_array().expect("requests");
    let mut out = Vec::new();
    for request in requests {
        let wire = wire(request);
        let items = match run(&wire, &source, &lines) {
            Ok(items) => items,
            Err(e) => {
                out.push(json!({ "error": e.to_string() }));
                continue;
            }
        };
        let rendered: Vec<Value> = items
            .into_iter()
            .map(|item| match item {
                Item::Update { state, event } => {
                    let merged = merge(live.remove(&state.call_id), state.clone());
                    live.insert(merged.call_id.clone(), merged);
                    json!({ "update": { "state": state, "event": event } })
                }
                Item::Final { state } => {
                    let merged = merge(live.remove(&state.call_id), state.clone());
                    let raw = RawPayload::capture(wire.content_type(), &wire.body);
                    let record = finish(&merged, wire.at, raw, TRACE_ID);
                    json!({ "final": { "state": state, "record": record } })
                }
                Item::Skipped { reason } => json!({ "skipped": reason }),
                Item::DeadLetter(dead) => json!({ "dead_letter": dead }),
            })
            .collect();
        out.push(Value::Array(rendered));
    }
    Value::Array(out)
}
