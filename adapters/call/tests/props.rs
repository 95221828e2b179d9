//! Properties: no input panics the parsers; every spelling of a number finds the same line;
//! call pieces merge to the same record whatever order they arrive in.

mod common;

use chrono::{DateTime, Utc};
use common::*;
use intake_call::{finish, line_key, merge, CallState, Direction, Item, Lines, SourceKind};
use intake_schema::{Disposition, RawPayload};
use proptest::prelude::*;
use serde_json::json;
use std::collections::BTreeMap;

const CONTENT_TYPES: [Option<&str>; 6] = [
    Some("application/json"),
    Some("application/x-www-form-urlencoded"),
    Some(intake_call::FORM_BASE64),
    Some("multipart/form-data; boundary=XyZ"),
    Some("text/plain"),
    None,
];

fn source_of(kind: SourceKind) -> intake_call::Source {
    source(&json!({"source": {"kind": kind.as_str(), "name": "p"}}))
}

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_795_000_000 + secs, 0).unwrap_or_default()
}

fn post(ct: Option<&str>, body: Vec<u8>) -> Wire {
    let mut headers = vec![("Authorization".to_string(), format!("Bearer {TOKEN}"))];
    if let Some(ct) = ct {
        headers.push(("Content-Type".to_string(), ct.to_string()));
    }
    Wire {
        query: String::new(),
        headers,
        body,
        at: at(0),
    }
}

/// A JSON value of call-ish keys and arbitrary scalars, so parsers get past the first checks.
fn callish_json() -> impl Strategy<Value = serde_json::Value> {
    let keys = prop::sample::select(vec![
        "event",
        "callId",
        "call_id",
        "from",
        "to",
        "direction",
        "cause",
        "type",
        "channel",
        "variables",
        "callflow",
        "sip_call_id",
        "timestamp",
        "code",
        "pai",
        "history_info",
        "diversion",
        "disposition",
        "start",
        "answer",
        "end",
        "uniqueid",
        "linkedid",
        "billsec",
    ]);
    let scalar = prop_oneof![
        any::<i64>().prop_map(serde_json::Value::from),
        "\\PC{0,24}".prop_map(serde_json::Value::from),
        prop::sample::select(vec![
            "newCall",
            "answer",
            "hangup",
            "start",
            "end",
            "failed",
            "StasisStart",
            "ChannelDestroyed",
            "ANSWERED",
            "NO ANSWER",
            "in",
            "out",
            "<sip:1@x>;index=1",
            "1795482123",
            "2026-11-24 09:02:03",
            "0",
            "",
        ])
        .prop_map(serde_json::Value::from),
    ];
    let leaf = prop::collection::btree_map(keys.clone(), scalar, 0..8).prop_map(|m| {
        serde_json::Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    });
    leaf.prop_recursive(3, 24, 4, move |inner| {
        prop::collection::btree_map(keys.clone(), inner, 0..5).prop_map(|m| {
            serde_json::Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn parsers_never_panic_on_bytes(
        kind in prop::sample::select(vec![SourceKind::Freeswitch, SourceKind::Asterisk, SourceKind::Kamailio, SourceKind::Generic]),
        ct in prop::sample::select(CONTENT_TYPES.to_vec()),
        body in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        let _ = run(&post(ct, body), &source_of(kind), &lines());
    }

    #[test]
    fn parsers_never_panic_on_callish_json(
        kind in prop::sample::select(vec![SourceKind::Freeswitch, SourceKind::Asterisk, SourceKind::Kamailio, SourceKind::Generic]),
        value in callish_json(),
    ) {
        let body = serde_json::to_vec(&value).unwrap_or_default();
        let wire = post(Some("application/json"), body);
        if let Ok(items) = run(&wire, &source_of(kind), &lines()) {
            for item in items {
                if let Item::Final { state } = item {
                    let _ = finish(&state, wire.at, RawPayload::capture(None, &wire.body), TRACE_ID);
                }
            }
        }
    }

    #[test]
    fn every_spelling_of_a_number_finds_the_same_line(
        area in 300u32..1000,
        short in 10000u32..13000,
        line_name in "[a-z]{3,8}",
    ) {
        let national = format!("0{area}{short}");
        let mut map = BTreeMap::new();
        map.insert(line_name.clone(), vec![national.clone()]);
        let lines = Lines::new(&map);
        for spelling in [
            national.clone(),
            format!("+86{area}{short}"),
            format!("0086{area}{short}"),
            format!("tel:+86-{area}-{short}"),
            format!("sip:{national}@sbc.example.cn;user=phone"),
            format!("<sip:+86{area}{short}@ims>;tag=1"),
            short.to_string(),
        ] {
            prop_assert_eq!(lines.resolve(&spelling), Some(line_name.clone()), "{}", spelling);
        }
        prop_assert_eq!(line_key(&national), line_key(&format!("+86{area}{short}")));
    }

    #[test]
    fn mobile_numbers_match_in_national_and_e164_form(rest in 300_000_000u64..999_999_999) {
        let national = format!("13{rest:09}");
        prop_assert_eq!(line_key(&national), line_key(&format!("+86{national}")));
        prop_assert_eq!(line_key(&national), line_key(&format!("0086{national}")));
    }

    #[test]
    fn merge_is_order_insensitive(
        pieces in prop::collection::vec(piece(), 1..6),
        rotation in 0usize..6,
    ) {
        let forward = pieces.iter().cloned().fold(None, |acc, p| Some(merge(acc, p)));
        let mut shuffled = pieces.clone();
        shuffled.reverse();
        let len = shuffled.len();
        shuffled.rotate_left(rotation % len);
        let other = shuffled.into_iter().fold(None, |acc, p| Some(merge(acc, p)));
        prop_assert_eq!(&forward, &other);
        let raw = RawPayload::capture(None, b"{}");
        if let (Some(a), Some(b)) = (forward, other) {
            prop_assert_eq!(finish(&a, at(999), raw.clone(), TRACE_ID), finish(&b, at(999), raw, TRACE_ID));
        }
    }

    #[test]
    fn cti_events_in_any_order_give_one_record(
        order in Just(vec![0usize, 1, 2]).prop_shuffle(),
        ring in 1i64..120,
        talk in 0i64..900,
        cause in prop::sample::select(vec!["normalClearing", "cancel", "busy", "noAnswer"]),
    ) {
        let source = source_of(SourceKind::Generic);
        let lines = lines();
        let events = [
            (json!({"event":"newCall","from":"13812345678","to":"12345","direction":"in","callId":"c-1","queue":"q"}), at(0)),
            (json!({"event":"answer","from":"13812345678","to":"12345","direction":"in","callId":"c-1","answeringNumber":"8001"}), at(ring)),
            (json!({"event":"hangup","from":"13812345678","to":"12345","direction":"in","callId":"c-1","cause":cause}), at(ring + talk)),
        ];
        let mut arrived = Vec::new();
        for i in &order {
            let (body, when) = &events[*i];
            let mut wire = post(Some("application/json"), body.to_string().into_bytes());
            wire.at = *when;
            for item in run(&wire, &source, &lines).unwrap_or_default() {
                match item {
                    Item::Update { state, .. } | Item::Final { state } => arrived.push((*i, state)),
                    other => prop_assert!(false, "unexpected {:?}", other),
                }
            }
        }
        let a = arrived.iter().cloned().fold(None, |acc, (_, s)| Some(merge(acc, s)));
        arrived.sort_by_key(|(i, _)| *i);
        let b = arrived.into_iter().fold(None, |acc, (_, s)| Some(merge(acc, s)));
        let raw = RawPayload::capture(None, b"{}");
        let (a, b) = (a.unwrap_or_default(), b.unwrap_or_default());
        let record = finish(&a, at(2000), raw.clone(), TRACE_ID);
        prop_assert_eq!(&record, &finish(&b, at(2000), raw, TRACE_ID));
        let call = record.call.unwrap_or_else(|| panic!("phone record without call"));
        prop_assert_eq!(call.disposition, Disposition::Answered);
        prop_assert_eq!(call.talk_seconds, Some(talk as u64));
        prop_assert_eq!(call.ring_seconds, Some(ring as u64));
    }
}

/// A random piece of knowledge about call `c-1`.
fn piece() -> impl Strategy<Value = CallState> {
    let text = || {
        prop::option::of(
            prop::sample::select(vec!["a", "b", "8001", "+8613812345678"]).prop_map(str::to_string),
        )
    };
    let time = || prop::option::of((0i64..1000).prop_map(at));
    let outcome = prop::option::of(prop::sample::select(vec![
        Disposition::Answered,
        Disposition::Abandoned,
        Disposition::Busy,
        Disposition::Failed,
        Disposition::NoAnswer,
    ]));
    (
        (text(), text(), text(), text(), text()),
        (time(), time(), time()),
        (
            prop::option::of(0u64..100),
            prop::option::of(0u64..100),
            outcome,
        ),
        prop::option::of(prop::sample::select(vec![
            Direction::Inbound,
            Direction::Outbound,
        ])),
    )
        .prop_map(
            |(
                (caller, callee, line, queue, agent),
                (started, answered, ended),
                (ring, talk, outcome),
                direction,
            )| {
                CallState {
                    direction,
                    caller,
                    callee,
                    line,
                    queue,
                    agent,
                    started_at: started,
                    answered_at: answered,
                    ended_at: ended,
                    ring_seconds: ring,
                    talk_seconds: talk,
                    outcome,
                    ..CallState::new("c-1", "call:p")
                }
            },
        )
}
