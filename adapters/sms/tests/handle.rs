//! Behaviour of `handle` beyond the golden fixtures: authentication, refusals, and the edges of
//! each provider's format.

mod common;

use common::*;
use intake_adapter::AdapterError;
use intake_sms::{assemble, Item, Part, ProviderKind};

fn req(method: &str, query: &str, headers: &[(&str, &str)], body: &str) -> Request {
    Request {
        method: method.into(),
        query: query.into(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: body.as_bytes().to_vec(),
        peer: None,
    }
}

fn only_item(kind: ProviderKind, r: Request) -> Item {
    let d = r.signed(kind).run(kind).expect("handled");
    assert_eq!(d.items.len(), 1, "{d:?}");
    d.items.into_iter().next().expect("item")
}

const ALIYUN_ONE: &str = r#"[{"phone_number":"13812345678","content":"路灯","send_time":"2026-03-01 15:59:30","dest_code":"01","sequence_id":1}]"#;

#[test]
fn token_kinds_refuse_missing_and_wrong_tokens() {
    for kind in [
        ProviderKind::Aliyun,
        ProviderKind::Tencent,
        ProviderKind::Kannel,
        ProviderKind::Jasmin,
    ] {
        let r = req("POST", "", &[], "{}");
        assert!(
            matches!(r.run(kind), Err(AdapterError::Unauthorized(_))),
            "{kind:?}"
        );
        let r = req("POST", "token=golden-tokeN", &[], "{}");
        assert!(
            matches!(r.run(kind), Err(AdapterError::Unauthorized(_))),
            "{kind:?}"
        );
    }
}

#[test]
fn allow_list_is_checked_before_anything_else() {
    let mut r = req("POST", "token=golden-token", &[], ALIYUN_ONE);
    r.peer = Some("8.8.8.8".into());
    assert!(matches!(
        r.run(ProviderKind::Aliyun),
        Err(AdapterError::Forbidden(_))
    ));
    r.peer = Some("::ffff:140.205.1.1".into());
    assert!(r.run(ProviderKind::Aliyun).is_ok());
}

#[test]
fn disabled_provider_is_refused() {
    let mut p = provider(ProviderKind::Kannel);
    p.token = None;
    assert!(!p.enabled());
    let r = req("GET", "from=1&text=x", &[], "").signed(ProviderKind::Kannel);
    assert!(matches!(r.run_with(&p), Err(AdapterError::Unauthorized(_))));
    p.token = Some("other".into());
    assert!(matches!(r.run_with(&p), Err(AdapterError::Unauthorized(_))));
}

#[test]
fn aliyun_malformed_and_probe() {
    let r = req("POST", "", &[], "not json");
    assert!(matches!(
        r.signed(ProviderKind::Aliyun).run(ProviderKind::Aliyun),
        Err(AdapterError::Malformed(_))
    ));
    let r = req("POST", "", &[], "[1, {\"phone_number\":\"1\"}]");
    let d = r
        .signed(ProviderKind::Aliyun)
        .run(ProviderKind::Aliyun)
        .unwrap();
    assert_eq!(d.items.len(), 2);
    assert!(d.items.iter().all(|i| matches!(i, Item::DeadLetter(_))));
    assert!(d.rejected_reason.is_some());
    let big = format!("[{}]", vec!["{}"; intake_sms::MAX_BATCH + 1].join(","));
    assert!(req("POST", "", &[], &big)
        .signed(ProviderKind::Aliyun)
        .run(ProviderKind::Aliyun)
        .is_err());
    let d = req("GET", "", &[], "")
        .signed(ProviderKind::Aliyun)
        .run(ProviderKind::Aliyun)
        .unwrap();
    assert!(d.probe && d.items.is_empty());
    let deep = "[".repeat(100) + &"]".repeat(100);
    assert!(req("POST", "", &[], &deep)
        .signed(ProviderKind::Aliyun)
        .run(ProviderKind::Aliyun)
        .is_err());
}

#[test]
fn twilio_signature_is_required_and_covers_the_public_url() {
    let body = "MessageSid=SM1&From=%2B8613812345678&To=%2B15017122661&Body=hi";
    let ok = req(
        "POST",
        "",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        body,
    );
    let Item::Request(r) = only_item(ProviderKind::Twilio, ok.clone()) else {
        panic!()
    };
    assert_eq!(r.content.text, "hi");
    // Forged body, same signature.
    let mut forged = ok.clone().signed(ProviderKind::Twilio);
    forged.body = body.replace("hi", "bye").into_bytes();
    assert!(matches!(
        forged.run(ProviderKind::Twilio),
        Err(AdapterError::Unauthorized(_))
    ));
    // Signed for the URL with the default port: accepted.
    let params = form_pairs(body.as_bytes());
    let sig = intake_sms::twilio_signature(
        TWILIO_AUTH_TOKEN,
        "https://hotline.example.gov.cn:443/hooks/sms/twilio",
        &params,
    );
    let with_port = req(
        "POST",
        "",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("X-Twilio-Signature", &sig),
        ],
        body,
    );
    assert!(with_port.run(ProviderKind::Twilio).is_ok());
    // No signature at all.
    let none = req("POST", "", &[], body);
    assert!(matches!(
        none.run(ProviderKind::Twilio),
        Err(AdapterError::Unauthorized(_))
    ));
    // JSON is not a Twilio SMS webhook.
    let json = req("POST", "", &[("Content-Type", "application/json")], "{}");
    assert!(matches!(
        json.signed(ProviderKind::Twilio).run(ProviderKind::Twilio),
        Err(AdapterError::UnsupportedMediaType(_))
    ));
}

#[test]
fn twilio_get_webhook_signs_the_query() {
    let r = req(
        "GET",
        "MessageSid=SM2&From=%2B8613812345678&Body=%E8%B7%AF%E7%81%AF",
        &[],
        "",
    );
    let Item::Request(rec) = only_item(ProviderKind::Twilio, r) else {
        panic!()
    };
    assert_eq!(rec.content.text, "路灯");
    assert_eq!(rec.source.message_id, "SM2");
}

#[test]
fn generic_signature_window_and_format() {
    let body = r#"{"message_id":1,"from":"13812345678","text":"x"}"#;
    let mut stale = req("POST", "", &[("Content-Type", "application/json")], body);
    let ts = (NOW - 301).to_string();
    let sig = intake_adapter::signature::hmac_sha256_hex(
        GENERIC_SECRET.as_bytes(),
        &[ts.as_bytes(), b".", body.as_bytes()],
    );
    stale.headers.push(("X-Intake-Timestamp".into(), ts));
    stale
        .headers
        .push(("X-Intake-Signature".into(), format!("v1={sig}")));
    assert!(matches!(
        stale.run(ProviderKind::Generic),
        Err(AdapterError::Stale(_))
    ));
    for bad in [
        r#"{"message_id":"1","from":"1"}"#,
        r#"{"message_id":"1","from":"1","text":"a","text_base64":"YQ=="}"#,
        r#"{"message_id":"1","from":"1","text":"a","coding":"ucs2"}"#,
        r#"{"message_id":"1","from":"1","text":"a","surprise":1}"#,
        r#"{"message_id":"1","from":"1","text":"a","parts":{"ref":1,"total":2,"seq":3}}"#,
        r#"{"message_id":"1","from":"1","text":"a","received_at":"yesterday"}"#,
    ] {
        let r = req("POST", "", &[("Content-Type", "application/json")], bad);
        assert!(
            matches!(
                r.signed(ProviderKind::Generic).run(ProviderKind::Generic),
                Err(AdapterError::Malformed(_))
            ),
            "{bad}"
        );
    }
    let text_plain = req("POST", "", &[("Content-Type", "text/plain")], body);
    assert!(matches!(
        text_plain
            .signed(ProviderKind::Generic)
            .run(ProviderKind::Generic),
        Err(AdapterError::UnsupportedMediaType(_))
    ));
}

#[test]
fn generic_parts_split_a_surrogate_pair() {
    use base64::Engine;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    // "路灯🚧坏了": 🚧 = D83D DEA7, split between the parts.
    let all: Vec<u8> = "路灯🚧坏了"
        .encode_utf16()
        .flat_map(|u| u.to_be_bytes())
        .collect();
    let (a, b) = all.split_at(6);
    let mut parts: Vec<Part> = Vec::new();
    for (seq, bytes) in [(2, b), (1, a)] {
        let body = format!(
            r#"{{"message_id":"p{seq}","from":"13812345678","to":"12345","text_base64":"{}","coding":"ucs2","parts":{{"ref":"77","total":2,"seq":{seq}}}}}"#,
            b64(bytes)
        );
        let Item::Part(p) = only_item(
            ProviderKind::Generic,
            req("POST", "", &[("Content-Type", "application/json")], &body),
        ) else {
            panic!("expected a part")
        };
        parts.push(*p);
    }
    let rec = assemble(&parts).unwrap();
    assert_eq!(rec.content.text, "路灯🚧坏了");
    assert_eq!(rec.source.message_id, "+8613812345678/12345/77/p1");
    assert_eq!(rec.source.line.as_deref(), Some("12345"));
    // Parts survive the gateway's store.
    let stored = serde_json::to_string(&parts).unwrap();
    let back: Vec<Part> = serde_json::from_str(&stored).unwrap();
    assert_eq!(back, parts);
}

#[test]
fn kannel_shapes() {
    // POST form with the same names as get-url.
    let r = req(
        "POST",
        "",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        "from=13812345678&to=12345&text=caf%E9&charset=ISO-8859-1&id=k1",
    );
    let Item::Request(rec) = only_item(ProviderKind::Kannel, r) else {
        panic!()
    };
    assert_eq!(rec.content.text, "café");
    // post-url with UCS-2 body, old-style hex UDH header, no id: a derived id, and a part.
    let mut r = req(
        "POST",
        "",
        &[
            ("Content-Type", "text/plain; charset=\"UTF-16BE\""),
            ("X-Kannel-From", "13812345678"),
            ("X-Kannel-To", "12345"),
            ("X-Kannel-Coding", "2"),
            ("X-Kannel-UDH", "0500030A0201"),
        ],
        "",
    );
    r.body = vec![0x4E, 0x2D];
    let Item::Part(p) = only_item(ProviderKind::Kannel, r) else {
        panic!()
    };
    assert_eq!((p.seq, p.total, p.key.reference.as_str()), (1, 2, "10"));
    assert!(
        p.message_id.starts_with("13812345678//"),
        "{}",
        p.message_id
    );
    // Missing sender or text: malformed.
    let r = req("GET", "to=12345&text=x", &[], "");
    assert!(matches!(
        r.signed(ProviderKind::Kannel).run(ProviderKind::Kannel),
        Err(AdapterError::Malformed(_))
    ));
    let r = req("GET", "from=1&to=12345", &[], "");
    assert!(matches!(
        r.signed(ProviderKind::Kannel).run(ProviderKind::Kannel),
        Err(AdapterError::Malformed(_))
    ));
    // Unknown charset: kept as a dead letter, acknowledged.
    let r = req(
        "GET",
        "from=13812345678&text=x&coding=0&charset=KOI8-R",
        &[],
        "",
    );
    let d = r
        .signed(ProviderKind::Kannel)
        .run(ProviderKind::Kannel)
        .unwrap();
    assert!(matches!(d.items[0], Item::DeadLetter(_)));
    assert!(d.rejected_reason.unwrap().contains("KOI8-R"));
}

#[test]
fn audit_copies_never_hold_the_token() {
    let r = req("GET", "from=13812345678&to=12345&text=hi&id=1", &[], "");
    let Item::Request(rec) = only_item(ProviderKind::Kannel, r) else {
        panic!()
    };
    assert!(!rec.raw.body.contains("golden-token"), "{}", rec.raw.body);
    assert_eq!(rec.raw.body, "from=13812345678&to=12345&text=hi&id=1");
    let r = req("GET", "id=j1&from=13812345678&content=hi", &[], "");
    let Item::Request(rec) = only_item(ProviderKind::Jasmin, r) else {
        panic!()
    };
    assert!(!rec.raw.body.contains("golden-token"));
}

#[test]
fn jasmin_edges() {
    let r = req("GET", "from=1&content=x", &[], "");
    assert!(matches!(
        r.signed(ProviderKind::Jasmin).run(ProviderKind::Jasmin),
        Err(AdapterError::Malformed(_))
    ));
    let r = req("GET", "id=1&from=1&content=x&binary=zz", &[], "");
    assert!(matches!(
        r.signed(ProviderKind::Jasmin).run(ProviderKind::Jasmin),
        Err(AdapterError::Malformed(_))
    ));
    // Invalid GBK bytes: dead letter, still acknowledged.
    let r = req("GET", "id=1&from=13812345678&coding=15&binary=ff", &[], "");
    let d = r
        .signed(ProviderKind::Jasmin)
        .run(ProviderKind::Jasmin)
        .unwrap();
    assert!(matches!(d.items[0], Item::DeadLetter(_)));
    assert_eq!(
        intake_sms::success_reply(d.kind, d.probe, None).1,
        "ACK/Jasmin"
    );
    // Korean in UCS-2.
    let hex: String = "안녕하세요"
        .encode_utf16()
        .flat_map(|u| u.to_be_bytes())
        .map(|b| format!("{b:02x}"))
        .collect();
    let r = req(
        "GET",
        &format!("id=2&from=13812345678&coding=8&binary={hex}"),
        &[],
        "",
    );
    let Item::Request(rec) = only_item(ProviderKind::Jasmin, r) else {
        panic!()
    };
    assert_eq!(rec.content.text, "안녕하세요");
    assert_eq!(rec.content.language, intake_schema::Language::Ko);
}

#[test]
fn tencent_international_sender_and_method() {
    let body = r#"{"mobile":"1012345678","nationcode":"82","text":"가로등","time":"1772351000"}"#;
    let Item::Request(rec) = only_item(ProviderKind::Tencent, req("POST", "", &[], body)) else {
        panic!()
    };
    assert_eq!(rec.citizen.contact.as_deref(), Some("+821012345678"));
    assert_eq!(rec.source.line, None);
    let r = req("GET", "", &[], "");
    assert!(matches!(
        r.signed(ProviderKind::Tencent).run(ProviderKind::Tencent),
        Err(AdapterError::Malformed(_))
    ));
}
