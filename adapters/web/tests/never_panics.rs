//! Whatever a partner sends, correctly signed, the adapter answers with a value, never a panic.

use chrono::DateTime;
use intake_adapter::signature::hmac_sha256_hex;
use intake_adapter::Inbound;
use intake_web::{handle, Partner};
use proptest::prelude::*;

fn signed(body: &[u8]) {
    let partner = Partner::new("p", "k");
    let sig = format!("v1={}", hmac_sha256_hex(b"k", &[b"1763971200", b".", body]));
    let headers: &[(&str, &str)] = &[
        ("Content-Type", "application/json"),
        ("X-Intake-Timestamp", "1763971200"),
        ("X-Intake-Signature", &sig),
    ];
    let inbound = Inbound {
        method: "POST",
        query: "",
        headers: &headers,
        body,
        now: DateTime::from_timestamp(1_763_971_200, 0).unwrap(),
        peer: None,
        trace_id: "0",
    };
    let _ = handle(&inbound, &partner);
}

proptest! {
    #[test]
    fn arbitrary_bytes(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        signed(&body);
    }

    #[test]
    fn arbitrary_posts(id in any::<Option<String>>(), body in any::<Option<String>>(), kind in "(web|radio|x)?", lat in any::<f64>(), at in "\\PC{0,30}") {
        let post = serde_json::json!({"posts": [{"id": id, "kind": kind, "body": body, "location": {"lat": lat, "lon": 1.0},
            "posted_at": at, "moderation": {"moderator": "m", "approved_at": at}, "author": {"phone": at}}]});
        signed(post.to_string().as_bytes());
    }

    #[test]
    fn arbitrary_transfers_and_callers(platform in "\\PC{0,70}", original in any::<Option<String>>(), at in "\\PC{0,30}", phone in "\\PC{0,20}", kind in "(web|radio)") {
        let post = serde_json::json!({"posts": [{"id": "1", "kind": kind, "body": "b",
            "transfer": {"platform": platform, "original_id": original, "deadline": at, "original_received_at": at, "instructions": at},
            "caller": {"phone": phone, "name": at}, "program": {"name": "p", "episode": at, "segment": at, "aired_at": at}}]});
        signed(post.to_string().as_bytes());
    }
}

#[test]
fn deeply_nested_json_is_refused() {
    let body = format!(
        "{{\"posts\":[{}{}]}}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    signed(body.as_bytes());
}
