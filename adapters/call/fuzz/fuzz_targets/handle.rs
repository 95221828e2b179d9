//! Fuzzes every dialect behind valid credentials: body decoding (JSON, form, FreeSWITCH
//! base64, multipart), the four parsers, and finishing whatever they produce.
//!
//! Input: one selector byte, then the body. `selector % 4` picks the source kind
//! (FreeSWITCH, Asterisk, Kamailio, generic), `selector / 4 % 5` the content type (JSON,
//! form, FreeSWITCH base64 form, multipart with the fixtures' boundary, none). Seeds in
//! `seeds/handle/` are the golden fixtures' requests (tests/fuzz_seeds.rs keeps them).
#![no_main]

use chrono::DateTime;
use intake_adapter::Inbound;
use intake_call::{finish, handle, merge, Item, Lines, Source, SourceKind, FORM_BASE64};
use intake_schema::RawPayload;
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;

const KINDS: [SourceKind; 4] = [
    SourceKind::Freeswitch,
    SourceKind::Asterisk,
    SourceKind::Kamailio,
    SourceKind::Generic,
];
const CONTENT_TYPES: [Option<&str>; 5] = [
    Some("application/json"),
    Some("application/x-www-form-urlencoded"),
    Some(FORM_BASE64),
    Some("multipart/form-data; boundary=------------------------d74496d66958873e"),
    None,
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let kind = KINDS[usize::from(selector) % 4];
    let content_type = CONTENT_TYPES[usize::from(selector) / 4 % 5];
    let mut source = Source::new("fuzz", kind);
    source.token = Some("golden-token".into());
    let mut table = BTreeMap::new();
    table.insert("12345".to_string(), vec!["043312345".to_string()]);
    table.insert("12328".to_string(), vec!["043312328".to_string()]);
    let lines = Lines::new(&table);
    let mut headers = vec![("Authorization", "Bearer golden-token")];
    if let Some(ct) = content_type {
        headers.push(("Content-Type", ct));
    }
    let headers: &[(&str, &str)] = &headers;
    let now = DateTime::from_timestamp(1_795_507_200, 0).unwrap_or_default();
    let inbound = Inbound {
        method: "POST",
        query: "",
        headers: &headers,
        body,
        now,
        peer: None,
        trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
    };
    let Ok(items) = handle(&inbound, &source, &lines) else {
        return;
    };
    let mut live = None;
    for item in items {
        match item {
            Item::Update { state, .. } => live = Some(merge(live.take(), state)),
            Item::Final { state } => {
                let state = merge(live.take(), state);
                let record = finish(
                    &state,
                    now,
                    RawPayload::capture(content_type, body),
                    inbound.trace_id,
                );
                assert_eq!(record.source.message_id, state.call_id);
                assert!(record.call.is_some());
            }
            Item::Skipped { .. } | Item::DeadLetter(_) => {}
        }
    }
});
