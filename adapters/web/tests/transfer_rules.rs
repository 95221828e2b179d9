//! The rules of transfers and radio call-ins that golden files show only by example: a ticket is
//! one request whoever delivers it, and plain posts keep the ids they always had.

use chrono::DateTime;
use intake_adapter::Inbound;
use intake_schema::{Channel, ContactKind, RequestId};
use intake_web::{parse_batch, Partner};
use serde_json::{json, Value};

fn parse(partner: &str, body: Value) -> Vec<Result<Box<intake_schema::IntakeRequest>, String>> {
    parse_as(&Partner::new(partner, "k"), body)
}

fn parse_as(
    partner: &Partner,
    body: Value,
) -> Vec<Result<Box<intake_schema::IntakeRequest>, String>> {
    let body = body.to_string();
    let headers: &[(&str, &str)] = &[];
    let inbound = Inbound {
        method: "POST",
        query: "",
        headers: &headers,
        body: body.as_bytes(),
        now: DateTime::from_timestamp(1_795_507_200, 0).unwrap(),
        peer: None,
        trace_id: "0",
    };
    parse_batch(&inbound, partner)
        .unwrap()
        .into_iter()
        .map(|o| o.result)
        .collect()
}

#[test]
fn the_same_ticket_is_one_request_whatever_post_id_or_partner_carries_it() {
    let transfer = json!({"platform": "state_council", "original_id": "GWY-1"});
    let a = parse(
        "baixing",
        json!({"posts": [{"id": "p-1", "body": "x", "transfer": transfer}]}),
    );
    let b = parse(
        "import",
        json!({"posts": [{"id": 42, "body": "y", "transfer": transfer}]}),
    );
    let (a, b) = (a[0].as_ref().unwrap(), b[0].as_ref().unwrap());
    assert_eq!(a.request_id, b.request_id);
    assert_eq!(a.tracking_no, b.tracking_no);
    assert_eq!(
        a.request_id,
        RequestId::for_transfer("state_council", "GWY-1")
    );
    // The post ids stay visible for the partner's own bookkeeping.
    assert_eq!(
        (a.source.message_id.as_str(), b.source.message_id.as_str()),
        ("p-1", "42")
    );
    assert!(a.moderation.is_none());
}

#[test]
fn plain_posts_keep_their_ids() {
    let moderation = json!({"moderator": "m", "approved_at": "2026-11-24T00:00:00Z"});
    let r = parse(
        "baixing",
        json!({"posts": [{"id": "p-1", "body": "x", "moderation": moderation}]}),
    );
    let r = r[0].as_ref().unwrap();
    assert_eq!(
        r.request_id,
        RequestId::derive(Channel::Web, "web:baixing", "p-1")
    );
    // Pinned: the id every stored plain post already has.
    assert_eq!(
        r.request_id.to_string(),
        RequestId::derive(Channel::Web, "web:baixing", "p-1").to_string()
    );
}

#[test]
fn a_live_caller_is_reached_at_the_number_they_called_from() {
    let moderation = json!({"moderator": "m", "approved_at": "2026-11-24T00:00:00Z"});
    let r = parse(
        "baixing",
        json!({"posts": [
            {"id": "r1", "kind": "radio", "body": "x", "moderation": moderation,
             "author": {"phone": "13812345678", "name": "author"},
             "caller": {"phone": "+86 139 4331 2345"},
             "program": {"name": "百姓热线", "episode": "e1", "segment": "s1"}},
            {"id": "r2", "kind": "radio", "body": "x", "moderation": moderation,
             "author": {"phone": "13812345678"}},
            {"id": "r3", "kind": "radio", "body": "x", "caller": {"phone": "13943312345"}},
        ]}),
    );
    let live = r[0].as_ref().unwrap();
    assert_eq!(live.citizen.contact.as_deref(), Some("+8613943312345"));
    assert_eq!(live.citizen.contact_kind, ContactKind::Phone);
    assert_eq!(live.citizen.name.as_deref(), Some("author"));
    let program = live.moderation.as_ref().unwrap().program.as_ref().unwrap();
    assert!(program.live_call);
    assert_eq!(
        (program.episode.as_deref(), program.segment.as_deref()),
        (Some("e1"), Some("s1"))
    );
    assert_eq!(
        r[1].as_ref().unwrap().citizen.contact.as_deref(),
        Some("+8613812345678")
    );
    assert!(r[2]
        .as_ref()
        .unwrap_err()
        .contains("moderation is required"));
}

#[test]
fn a_platform_is_one_of_the_four_known_or_a_configured_one() {
    let run = |partner: &Partner, platform: &str| {
        let post = json!({"id": "p", "body": "x", "transfer": {"platform": platform, "original_id": "Z-1"}});
        parse_as(partner, json!({ "posts": [post] })).remove(0)
    };
    let plain = Partner::new("baixing", "k");
    for known in intake_schema::Transfer::KNOWN_PLATFORMS {
        assert!(run(&plain, known).is_ok(), "{known}");
    }
    // A typo would mint a second request id for the same ticket: refused, with the known names.
    let err = run(&plain, "state_councli").unwrap_err();
    assert!(
        err.contains("state_council") && err.contains("channels.web.platforms"),
        "{err}"
    );
    assert!(run(&plain, "yanji_mailbox").is_err());
    let mut configured = Partner::new("baixing", "k");
    configured.platforms = vec!["yanji_mailbox".into()];
    let r = run(&configured, "yanji_mailbox").unwrap();
    assert_eq!(
        r.request_id,
        RequestId::for_transfer("yanji_mailbox", "Z-1")
    );
}
