//! End-to-end behaviour of `verify_url` and `parse_push`, including hostile input.

mod common;

use common::*;
use intake_adapter::AdapterError;
use intake_wechat::{
    decrypt, parse_push, parse_xml, render_text_reply, sha1_signature, verify_url, Account, Mode,
    PushKind,
};

const TEXT: &str = "<xml><ToUserName><![CDATA[gh_3f8a1b2c4d5e]]></ToUserName><FromUserName><![CDATA[oCitizen]]></FromUserName><CreateTime>1772351990</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[路灯坏了]]></Content><MsgId>1</MsgId></xml>";

fn plain(body: &str) -> Result<intake_wechat::Push, AdapterError> {
    let q = plain_query(TOKEN, NOW_SECS);
    parse_push(&post(&q, body.as_bytes()), &account())
}

fn safe(xml: &str, acct: &Account) -> Result<intake_wechat::Push, AdapterError> {
    let sealed = seal(xml);
    let q = aes_query(TOKEN, NOW_SECS, &sealed);
    parse_push(&post(&q, safe_body(&sealed).as_bytes()), acct)
}

#[test]
fn url_verification_public_vector() {
    let acct = Account {
        name: "t".into(),
        token: "test".into(),
        ..Default::default()
    };
    let q = "signature=f21891de399b4e33a1a93c9a7b8a8fffb5a443ff&timestamp=1410685589&nonce=test&echostr=5838479218127813673";
    assert_eq!(verify_url(&get(q), &acct).unwrap(), "5838479218127813673");
    let wrong = q.replace("f21891", "f21892");
    assert!(matches!(
        verify_url(&get(&wrong), &acct),
        Err(AdapterError::Unauthorized(_))
    ));
    let no_echo =
        "signature=f21891de399b4e33a1a93c9a7b8a8fffb5a443ff&timestamp=1410685589&nonce=test";
    assert!(matches!(
        verify_url(&get(no_echo), &acct),
        Err(AdapterError::Malformed(_))
    ));
    assert!(matches!(
        verify_url(&get("echostr=1"), &acct),
        Err(AdapterError::Unauthorized(_))
    ));
    assert!(verify_url(&post(q, b""), &acct).is_err());
}

#[test]
fn easywechat_vector_through_parse_push() {
    let acct = Account {
        name: "pam".into(),
        token: "pamtest".into(),
        aes_key: Some("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG".into()),
        app_id: Some("wxb11529c136998cb6".into()),
        ..Default::default()
    };
    let encrypt = "rTNFcsut4LfGuAFKEUVVpwcaCOTJzOd9twZdIW910jb3k+iicx2uvhttIZ3Qg9Qgty3BEF2xbOrz6boTfb30dMomcgrkTqdFPwnhqbk+kIQ7rZiwny9D7NUrTgA5kpX3KsZvrXzUZyP2x9YOlxbgm572lmxKvM7HAQQhIQ/p6HBmoY30bGXFK0BtIu1pW9TjhOYrLQoU18nWYjWqDA1ynkmOytpv7QRI1P1+0NoxL0q2zO1DgeSvnE8CZGo/o5Ap/WHK5W2RAsinpzN4/LjPnmB6U01I5XCoJoC0GK/yMZycd2Oh8Nq6+wBkC1U85oy0ktOY4nLvsQMLrourmMGdZHuTbqpeJ8Ao/5PRYJ+WBvRUwPfGKBL2+2IKZF49vAJqkcGWSHGE76ZN2erXeuNazf/o9o3lIE3q739o4c8t9QGPe31GT2Go/rOz1BsrASwvauNulCh+++yz+CQzBIuikA==";
    let body = format!("<xml>\n    <ToUserName><![CDATA[asdasdasd]]></ToUserName>\n    <Encrypt><![CDATA[{encrypt}]]></Encrypt>\n</xml>\n");
    let sig = sha1_signature(&["pamtest", "1458300676", "260774613"]);
    let q = format!("signature={sig}&timestamp=1458300676&nonce=260774613&encrypt_type=aes&msg_signature=4f3ad57b6989f09f4eb392acce4f9e93942ed890");
    let mut inbound = post(&q, body.as_bytes());
    inbound.now = chrono::DateTime::from_timestamp(1_458_300_676, 0).unwrap();
    let push = parse_push(&inbound, &acct).unwrap();
    assert_eq!(push.mode, Mode::Safe);
    assert_eq!(
        (push.to_user.as_str(), push.from_user.as_str()),
        ("asdasdasd", "asdasdasdsadasd")
    );
    let PushKind::Request(req) = push.kind else {
        panic!("expected a request: {:?}", push.kind)
    };
    assert_eq!(req.content.text, "hello");
    assert_eq!(req.source.occurred_at.unwrap().timestamp(), 1_234_567_898);

    let bad = q.replace("4f3ad57b", "4f3ad57c");
    let inbound = intake_adapter::Inbound {
        query: &bad,
        ..inbound
    };
    assert!(matches!(
        parse_push(&inbound, &acct),
        Err(AdapterError::Unauthorized(_))
    ));
}

#[test]
fn signature_and_clock() {
    let q = plain_query("other-token", NOW_SECS);
    assert!(matches!(
        parse_push(&post(&q, TEXT.as_bytes()), &account()),
        Err(AdapterError::Unauthorized(_))
    ));
    for skew in [-301, 301] {
        let q = plain_query(TOKEN, NOW_SECS + skew);
        assert!(
            matches!(
                parse_push(&post(&q, TEXT.as_bytes()), &account()),
                Err(AdapterError::Stale(_))
            ),
            "{skew}"
        );
    }
    let q = plain_query(TOKEN, NOW_SECS - 300);
    assert!(parse_push(&post(&q, TEXT.as_bytes()), &account()).is_ok());
    assert!(matches!(
        parse_push(&post("", TEXT.as_bytes()), &account()),
        Err(AdapterError::Unauthorized(_))
    ));
    let q = plain_query(TOKEN, NOW_SECS);
    assert!(
        parse_push(&get(&q), &account()).is_err(),
        "a push must be a POST"
    );
}

#[test]
fn retries_are_accepted_and_deduplicate() {
    let a = plain(TEXT).unwrap();
    let b = plain(TEXT).unwrap();
    let (PushKind::Request(a), PushKind::Request(b)) = (a.kind, b.kind) else {
        panic!("requests")
    };
    assert_eq!(a.request_id, b.request_id);
    assert_eq!(a.tracking_no, b.tracking_no);
}

#[test]
fn wrong_account_is_refused() {
    let other = TEXT.replace("gh_3f8a1b2c4d5e", "gh_someoneelse");
    assert_eq!(
        plain(&other).unwrap_err(),
        AdapterError::Unauthorized("wrong account".into())
    );
    assert_eq!(
        safe(&other, &account()).unwrap_err(),
        AdapterError::Unauthorized("wrong account".into())
    );
    let open = Account {
        original_id: None,
        ..account()
    };
    let q = plain_query(TOKEN, NOW_SECS);
    let push = parse_push(&post(&q, other.as_bytes()), &open).unwrap();
    let PushKind::Request(req) = push.kind else {
        panic!("request")
    };
    assert_eq!(req.source.system, "wechat:yanji");
}

#[test]
fn modes_and_their_misconfigurations() {
    assert_eq!(safe(TEXT, &account()).unwrap().mode, Mode::Safe);
    let no_key = Account {
        aes_key: None,
        ..account()
    };
    assert!(matches!(
        safe(TEXT, &no_key),
        Err(AdapterError::Unauthorized(_))
    ));
    let wrong_app = Account {
        app_id: Some("wx_not_this_one".into()),
        ..account()
    };
    assert!(matches!(
        safe(TEXT, &wrong_app),
        Err(AdapterError::Unauthorized(_))
    ));
    let any_app = Account {
        app_id: None,
        ..account()
    };
    assert_eq!(
        safe(TEXT, &any_app).unwrap().app_id.as_deref(),
        Some(APP_ID)
    );

    let sealed = seal(TEXT);
    // Encrypt without encrypt_type=aes: plaintext fields win when there are some...
    let compat = compatible_body(TEXT, &sealed);
    assert_eq!(plain(&compat).unwrap().mode, Mode::Plaintext);
    // ...and a safe-mode body cannot be read at all.
    assert!(matches!(
        plain(&safe_body(&sealed)),
        Err(AdapterError::Malformed(_))
    ));
    // encrypt_type=aes without Encrypt, or with a type nobody defined.
    let q = aes_query(TOKEN, NOW_SECS, "");
    assert!(matches!(
        parse_push(&post(&q, TEXT.as_bytes()), &account()),
        Err(AdapterError::Malformed(_))
    ));
    let q = format!("{}&encrypt_type=des", plain_query(TOKEN, NOW_SECS));
    assert!(matches!(
        parse_push(&post(&q, TEXT.as_bytes()), &account()),
        Err(AdapterError::Malformed(_))
    ));
    // msg_signature missing or over another ciphertext.
    let q = format!("{}&encrypt_type=aes", plain_query(TOKEN, NOW_SECS));
    assert!(matches!(
        parse_push(&post(&q, safe_body(&sealed).as_bytes()), &account()),
        Err(AdapterError::Unauthorized(_))
    ));
    let q = aes_query(TOKEN, NOW_SECS, &seal("<xml/>"));
    assert!(matches!(
        parse_push(&post(&q, safe_body(&sealed).as_bytes()), &account()),
        Err(AdapterError::Unauthorized(_))
    ));
}

#[test]
fn truncated_ciphertext_is_an_error() {
    let sealed = seal(TEXT);
    for cut in [4, 16, 24, sealed.len() - 8] {
        let short = &sealed[..sealed.len() - cut];
        let q = aes_query(TOKEN, NOW_SECS, short);
        assert!(
            parse_push(&post(&q, safe_body(short).as_bytes()), &account()).is_err(),
            "cut {cut}"
        );
    }
}

#[test]
fn hostile_xml_is_refused() {
    let xxe = "<?xml version=\"1.0\"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><xml><ToUserName>gh_3f8a1b2c4d5e</ToUserName><FromUserName>o</FromUserName><MsgType>text</MsgType><Content>&xxe;</Content></xml>";
    assert!(matches!(plain(xxe), Err(AdapterError::Malformed(_))));
    let mut lol = String::from("<!DOCTYPE lolz [<!ENTITY lol \"lol\">");
    for i in 1..10 {
        lol.push_str(&format!(
            "<!ENTITY lol{i} \"{}\">",
            format!("&lol{};", i - 1).repeat(10)
        ));
    }
    lol.push_str("]><xml><Content>&lol9;</Content></xml>");
    assert!(matches!(plain(&lol), Err(AdapterError::Malformed(_))));
    // The same attacks inside a correctly encrypted and signed body.
    assert!(matches!(
        safe(xxe, &account()),
        Err(AdapterError::Malformed(_))
    ));
    // 4 MB of nesting, and a nesting bomb small enough to reach the parser.
    let nested = format!("<xml>{}", "<a>".repeat(4 * 1024 * 1024 / 3));
    assert!(plain(&nested).is_err());
    let nested = format!(
        "<xml>{}{}</xml>",
        "<a>".repeat(20_000),
        "</a>".repeat(20_000)
    );
    assert!(matches!(plain(&nested), Err(AdapterError::Malformed(_))));
    let q = plain_query(TOKEN, NOW_SECS);
    assert!(matches!(
        parse_push(&post(&q, &[0xff, 0xfe, b'<']), &account()),
        Err(AdapterError::Encoding(_))
    ));
    assert!(matches!(
        plain(&TEXT.replace("<FromUserName><![CDATA[oCitizen]]></FromUserName>", "")),
        Err(AdapterError::Malformed(_))
    ));
}

#[test]
fn odd_but_authentic_pushes_become_dead_letters() {
    let bad_loc = TEXT.replace(
        "<MsgType><![CDATA[text]]></MsgType>",
        "<MsgType>location</MsgType><Location_X>NaN</Location_X><Location_Y>1</Location_Y>",
    );
    assert!(matches!(
        plain(&bad_loc).unwrap().kind,
        PushKind::DeadLetter(_)
    ));
    let bad_event = TEXT.replace(
        "<MsgType><![CDATA[text]]></MsgType>",
        "<MsgType>event</MsgType><Event>a b\n</Event>",
    );
    assert!(matches!(
        plain(&bad_event).unwrap().kind,
        PushKind::DeadLetter(_)
    ));
    let upper = TEXT.replace("<![CDATA[text]]>", "TEXT");
    assert!(matches!(plain(&upper).unwrap().kind, PushKind::Request(_)));
    let new_event = TEXT.replace(
        "<MsgType><![CDATA[text]]></MsgType>",
        "<MsgType>event</MsgType><Event>TEMPLATESENDJOBFINISH</Event>",
    );
    let PushKind::Event(event) = plain(&new_event).unwrap().kind else {
        panic!("event")
    };
    assert_eq!(event.kind, "wechat.templatesendjobfinish");
}

#[test]
fn safe_mode_reply_round_trip() {
    let push = safe(TEXT, &account()).unwrap();
    let PushKind::Request(req) = &push.kind else {
        panic!("request")
    };
    let text = intake_wechat::reply_template(
        intake_wechat::choose_template(req.content.language),
        req.tracking_no.as_str(),
    );
    let xml = render_text_reply(&push, &account(), &text, now(), [1; 16], "reply-nonce").unwrap();
    let outer = parse_xml(&xml).unwrap();
    let enc = outer.get("Encrypt").unwrap();
    assert_eq!(outer.get("TimeStamp"), Some(NOW_SECS.to_string().as_str()));
    assert_eq!(
        outer.get("MsgSignature").unwrap(),
        sha1_signature(&[TOKEN, &NOW_SECS.to_string(), "reply-nonce", enc])
    );
    let opened = decrypt(&key(), Some(APP_ID), enc).unwrap();
    let inner = parse_xml(&opened.xml).unwrap();
    assert_eq!(inner.get("ToUserName"), Some("oCitizen"));
    assert_eq!(inner.get("FromUserName"), Some(ORIGINAL_ID));
    assert!(inner
        .get("Content")
        .unwrap()
        .contains(req.tracking_no.as_str()));
}
