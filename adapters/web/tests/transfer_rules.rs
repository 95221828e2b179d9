//! The rules of transfers and radio call-ins that golden files show only by example: a ticket is
//! one request whoever delivers it, and plain posts keep the ids they always had; and what a
//! post's own fields (`category`, `confidential`, `anonymous`) do to the record.

use chrono::DateTime;
use intake_adapter::Inbound;
use intake_schema::{Channel, ContactKind, Priority, RequestId};
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

/// `(sets, value, by)` of each routing reason, to compare in one line.
fn reasons(r: &intake_schema::IntakeRequest) -> Vec<(String, String, String)> {
    r.routing
        .as_ref()
        .map(|routing| {
            routing
                .reasons
                .iter()
                .map(|x| (x.sets.clone(), x.value.clone(), x.by.clone()))
                .collect()
        })
        .unwrap_or_default()
}

fn reason(sets: &str, value: &str, by: &str) -> (String, String, String) {
    (sets.into(), value.into(), by.into())
}

#[test]
fn an_anonymous_post_drops_the_name_and_keeps_the_contact() {
    let moderation = json!({"moderator": "m", "approved_at": "2026-11-24T00:00:00Z"});
    let author = json!({"name": "李先生", "phone": "139 8765 4321", "account": "li_xs"});
    let r = parse(
        "baixing",
        json!({"posts": [
            {"id": "a-1", "body": "小区门口占道经营", "author": author, "moderation": moderation,
             "category": "市容环境", "anonymous": true},
            {"id": "a-2", "body": "站台顶棚破了", "author": {"name": "赵女士", "account": "zhao_ns"},
             "moderation": moderation, "anonymous": true},
            {"id": "a-3", "body": "站台顶棚破了", "author": author, "moderation": moderation},
        ]}),
    );
    let anonymous = r[0].as_ref().unwrap();
    // Not named, still reachable: the platform may have to answer the citizen.
    assert_eq!(anonymous.citizen.name, None);
    assert_eq!(anonymous.citizen.contact_kind, ContactKind::Phone);
    assert_eq!(anonymous.citizen.contact.as_deref(), Some("+8613987654321"));
    assert!(
        !anonymous.citizen.confidential,
        "anonymous is not confidential"
    );
    let routing = anonymous.routing.as_ref().unwrap();
    assert_eq!(routing.tags, ["市容环境", "anonymous"]);
    assert_eq!(routing.priority, Priority::Normal);
    assert_eq!(
        reasons(anonymous),
        [
            reason("tag", "市容环境", "field:category"),
            reason("tag", "anonymous", "field:anonymous"),
        ]
    );
    // Only the record's fields are cleaned: `raw` is the post as received, for audit, and
    // still holds the name (consumers showing `raw` must not show it for an anonymous post).
    assert!(anonymous.raw.body.contains("李先生"));
    let by_account = r[1].as_ref().unwrap();
    assert_eq!(by_account.citizen.name, None);
    assert_eq!(by_account.citizen.contact_kind, ContactKind::WebAccount);
    assert_eq!(by_account.citizen.contact.as_deref(), Some("zhao_ns"));
    assert_eq!(by_account.routing.as_ref().unwrap().tags, ["anonymous"]);
    // The same author without the field keeps the name, and the post sets no routing.
    let named = r[2].as_ref().unwrap();
    assert_eq!(named.citizen.name.as_deref(), Some("李先生"));
    assert!(named.routing.is_none());
}

#[test]
fn a_transfer_carries_its_category_and_confidentiality() {
    let r = parse(
        "import",
        json!({"posts": [{
            "id": "ph-7788",
            "body": "某部门办理许可证时索要好处费。",
            "author": {"name": "王女士", "phone": "13700001111"},
            "category": "营商环境",
            "confidential": true,
            "transfer": {"platform": "provincial_hotline", "original_id": "JL12345-2026-11240077"},
        }]}),
    );
    let r = r[0].as_ref().unwrap();
    assert_eq!(
        r.request_id,
        RequestId::for_transfer("provincial_hotline", "JL12345-2026-11240077")
    );
    // Confidential keeps name and contact on the record (the hotline must call back); the flag
    // obliges every consumer to keep them from the department.
    assert!(r.citizen.confidential);
    assert_eq!(r.citizen.name.as_deref(), Some("王女士"));
    assert_eq!(r.citizen.contact.as_deref(), Some("+8613700001111"));
    let routing = r.routing.as_ref().unwrap();
    assert_eq!(routing.tags, ["营商环境"]);
    assert_eq!(
        reasons(r),
        [
            reason("tag", "营商环境", "field:category"),
            reason("confidential", "true", "field:confidential"),
        ]
    );
    let record = serde_json::to_value(r).unwrap();
    assert_eq!(record["transfer"]["platform"], "provincial_hotline");
    assert_eq!(record["citizen"]["confidential"], true);
}
