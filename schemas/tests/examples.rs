//! The example records in `schemas/examples/` are built here from the Rust types, so they can
//! never drift from what the gateway emits. `UPDATE_GOLDEN=1` rewrites them; otherwise a
//! difference fails. (Their validation against the JSON Schema file runs in the gateway's tests.)

use chrono::{DateTime, Utc};
use intake_schema::*;
use std::path::Path;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

fn source(system: &str, id: &str, line: Option<&str>, occurred: Option<&str>) -> Source {
    Source {
        system: system.into(),
        message_id: id.into(),
        line: line.map(Into::into),
        occurred_at: occurred.map(at),
    }
}

fn phone() -> IntakeRequest {
    let raw = RawPayload::capture(
        Some("application/json"),
        br#"{"event":"end","call_id":"a84b4c76e66710@pbx1"}"#,
    );
    let mut r = IntakeRequest::new(
        Channel::Phone,
        source(
            "call:pbx1",
            "a84b4c76e66710@pbx1",
            Some("12328"),
            Some("2026-11-24T01:02:03Z"),
        ),
        at("2026-11-24T01:04:10.250Z"),
        raw,
        TRACE.into(),
    );
    r.citizen = Citizen::reachable(ContactKind::Phone, "+8613812345678");
    r.content = Content::text("");
    r.call = Some(CallInfo {
        call_id: "a84b4c76e66710@pbx1".into(),
        direction: "inbound".into(),
        caller: Some("+8613812345678".into()),
        callee: Some("12345".into()),
        dialed_line: Some("12328".into()),
        started_at: Some(at("2026-11-24T01:02:03Z")),
        answered_at: None,
        ended_at: Some(at("2026-11-24T01:04:08Z")),
        ring_seconds: Some(125),
        talk_seconds: Some(0),
        disposition: Disposition::Abandoned,
        hangup_cause: Some("ORIGINATOR_CANCEL".into()),
        recording: None,
        queue: Some("transport".into()),
        agent: None,
        callback_candidate: true,
        ivr: Some("2".into()),
    });
    r.content.language = Language::Ko;
    let mut routing = Routing::general();
    routing.line_name = Some("交通运输服务热线".into());
    routing.set_desk("korean", "ivr:2");
    routing.note("language", "ko", "ivr:2");
    r.routing = Some(routing);
    r
}

fn sms() -> IntakeRequest {
    let raw = RawPayload::capture(
        Some("application/json"),
        "[{\"phone_number\":\"13812345678\",\"content\":\"건공가 가로등이 안 켜져요\"}]".as_bytes(),
    );
    let mut r = IntakeRequest::new(
        Channel::Sms,
        source(
            "sms:aliyun",
            "+8613812345678/998877",
            Some("12345"),
            Some("2026-11-24T02:00:00Z"),
        ),
        at("2026-11-24T02:00:01.120Z"),
        raw,
        TRACE.into(),
    );
    r.citizen = Citizen::reachable(ContactKind::Phone, "+8613812345678");
    r.content = Content::text("건공가 가로등이 안 켜져요");
    let mut routing = Routing::general();
    routing.line_name = Some("12345政务服务便民热线".into());
    r.routing = Some(routing);
    r
}

fn sms_urgent() -> IntakeRequest {
    let raw = RawPayload::capture(
        Some("application/json"),
        "[{\"phone_number\":\"13812345679\",\"content\":\"공사장 사무실에 불이 났어요 임금체불 항의하다가\"}]".as_bytes(),
    );
    let mut r = IntakeRequest::new(
        Channel::Sms,
        source(
            "sms:aliyun",
            "+8613812345679/998901",
            Some("hunchun_arrears"),
            Some("2026-11-24T02:10:00Z"),
        ),
        at("2026-11-24T02:10:00.900Z"),
        raw,
        TRACE.into(),
    );
    r.citizen = Citizen::reachable(ContactKind::Phone, "+8613812345679");
    r.content = Content::text("공사장 사무실에 불이 났어요 임금체불 항의하다가");
    let mut routing = Routing::general();
    routing.line_name = Some("珲春市民营企业清欠举报专线".into());
    routing.set_desk("arrears", "line:hunchun_arrears");
    routing.tag("fire", "rule:urgent_fire");
    routing.set_urgent("rule:urgent_fire");
    r.routing = Some(routing);
    r
}

fn wechat() -> IntakeRequest {
    let raw = RawPayload::capture(Some("text/xml"), b"<xml><ToUserName><![CDATA[gh_12345yanbian]]></ToUserName><MsgType><![CDATA[image]]></MsgType></xml>");
    let mut r = IntakeRequest::new(
        Channel::Wechat,
        source(
            "wechat:gh_12345yanbian",
            "gh_12345yanbian/oUpF8uMuAJO_M2pxb1Q9zNjWeS6o/24461839281938213",
            None,
            Some("2026-11-24T03:00:00Z"),
        ),
        at("2026-11-24T03:00:00.480Z"),
        raw,
        TRACE.into(),
    );
    r.citizen = Citizen::reachable(ContactKind::WechatOpenid, "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o");
    r.content = Content::text("");
    r.content.attachments = vec![Attachment {
        kind: AttachmentKind::Image,
        reference: "http://mmbiz.qpic.cn/example.jpg".into(),
        mime: None,
        duration: None,
        title: None,
    }];
    r
}

fn web() -> IntakeRequest {
    let raw = RawPayload::capture(Some("application/json"), br#"{"id":"MB-2026-1123-008"}"#);
    let mut r = IntakeRequest::new(
        Channel::Web,
        source(
            "web:baixing",
            "MB-2026-1123-008",
            None,
            Some("2026-11-23T09:00:00Z"),
        ),
        at("2026-11-23T10:00:02.000Z"),
        raw,
        TRACE.into(),
    );
    r.citizen = Citizen {
        contact_kind: ContactKind::WebAccount,
        contact: Some("citizen_li".into()),
        name: Some("李先生".into()),
        confidential: true,
    };
    r.content = Content::text("建议在图们江边增加健身器材。");
    r.content.title = Some("健身器材建议".into());
    r.content.location = Some(Location {
        lat: 42.96,
        lon: 129.84,
        label: Some("图们市江边公园".into()),
    });
    r.moderation = Some(Moderation {
        moderator: "transfer-bot".into(),
        approved_at: at("2026-11-23T10:00:00Z"),
        board: Some("市长信箱转办".into()),
        program: None,
    });
    r.set_transfer(Transfer {
        platform: "mayor_mailbox".into(),
        original_id: "MB-2026-1123-008".into(),
        transferred_at: Some(at("2026-11-23T09:58:00Z")),
        url: None,
        deadline: Some(at("2026-11-30T09:00:00Z")),
        instructions: Some("请图们市城管局核实并于时限内答复。".into()),
        reply_to: Some("https://mailbox.example.cn/reply/MB-2026-1123-008".into()),
        original_title: Some("关于江边健身器材的建议".into()),
        original_received_at: Some(at("2026-11-22T20:15:00Z")),
    });
    let mut routing = Routing::general();
    routing.tag("城市管理", "field:category");
    routing.note("confidential", "true", "field:confidential");
    r.routing = Some(routing);
    r
}

fn radio_call_in() -> IntakeRequest {
    let raw = RawPayload::capture(
        Some("application/json"),
        br#"{"id":"r-7","kind":"radio","caller":{"phone":"13943312345"}}"#,
    );
    let mut r = IntakeRequest::new(
        Channel::Radio,
        source("web:baixing", "r-7", None, Some("2026-11-24T01:12:00Z")),
        at("2026-11-24T01:20:00.000Z"),
        raw,
        TRACE.into(),
    );
    r.citizen = Citizen {
        contact_kind: ContactKind::Phone,
        contact: Some("+8613943312345".into()),
        name: Some("金女士".into()),
        confidential: false,
    };
    r.content = Content::text("延吉市公园路路灯连续一周不亮。");
    r.moderation = Some(Moderation {
        moderator: "host-kim".into(),
        approved_at: at("2026-11-24T01:15:00Z"),
        board: None,
        program: Some(Program {
            name: "百姓热线".into(),
            aired_at: Some(at("2026-11-24T01:00:00Z")),
            episode: Some("2026-11-24".into()),
            segment: Some("听众来电".into()),
            live_call: true,
        }),
    });
    r
}

fn radio() -> IntakeRequest {
    let raw = RawPayload::capture(Some("application/json"), br#"{"id":99817,"kind":"radio"}"#);
    let mut r = IntakeRequest::new(
        Channel::Radio,
        source("web:baixing", "99817", None, None),
        at("2026-11-24T01:05:00.000Z"),
        raw,
        TRACE.into(),
    );
    r.citizen = Citizen {
        contact_kind: ContactKind::Anonymous,
        contact: None,
        name: Some("听众王先生".into()),
        confidential: false,
    };
    r.content = Content::text("我们小区供暖温度不达标，室内只有十四度。");
    r.moderation = Some(Moderation {
        moderator: "host-kim".into(),
        approved_at: at("2026-11-24T01:05:00Z"),
        board: None,
        program: Some(Program {
            name: "百姓热线".into(),
            aired_at: Some(at("2026-11-24T01:00:00Z")),
            episode: None,
            segment: None,
            live_call: false,
        }),
    });
    r
}

#[test]
fn examples_match_the_types() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    for (name, record) in [
        ("phone", phone()),
        ("sms", sms()),
        ("sms_urgent", sms_urgent()),
        ("wechat", wechat()),
        ("web", web()),
        ("radio", radio()),
        ("radio_call_in", radio_call_in()),
    ] {
        let path = dir.join(format!("{name}.json"));
        let json = serde_json::to_string_pretty(&record).unwrap() + "\n";
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, &json).unwrap();
        }
        let stored = std::fs::read_to_string(&path)
            .unwrap_or_else(|_| panic!("{name}: run with UPDATE_GOLDEN=1"));
        assert_eq!(stored, json, "{} differs from the types", path.display());
        let back: IntakeRequest = serde_json::from_str(&stored).unwrap();
        assert_eq!(back.request_id, back.expected_request_id());
        assert_eq!(back.tracking_no, back.request_id.tracking_no());
    }
}
