//! Properties: encryption round-trips, and no input of any shape makes the adapter panic.

mod common;

use base64::Engine;
use common::*;
use intake_wechat::{decrypt, encrypt, parse_push, parse_xml, Account};
use proptest::prelude::*;

/// Strings that look like WeChat XML often enough to get past the first bytes of the parser.
fn xmlish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("<xml>".to_string()),
        Just("</xml>".to_string()),
        Just("<ToUserName><![CDATA[gh_3f8a1b2c4d5e]]></ToUserName>".to_string()),
        Just("<FromUserName>o1</FromUserName>".to_string()),
        Just("<MsgType>text</MsgType>".to_string()),
        Just("<MsgType>event</MsgType>".to_string()),
        Just("<MsgType>location</MsgType>".to_string()),
        Just("<Event>subscribe</Event>".to_string()),
        Just("<![CDATA[".to_string()),
        Just("]]>".to_string()),
        Just("<!DOCTYPE x>".to_string()),
        Just("&amp;".to_string()),
        Just("&#0;".to_string()),
        Just("<a>".to_string()),
        Just("</a>".to_string()),
        Just("<b/>".to_string()),
        "[A-Za-z_]{1,12}".prop_map(|n| format!("<{n}>")),
        "[A-Za-z_]{1,12}".prop_map(|n| format!("</{n}>")),
        "\\PC{0,16}",
    ];
    prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn encrypt_decrypt_round_trip(xml in "\\PC{0,300}", app_id in "[A-Za-z0-9_]{0,32}", random in any::<[u8; 16]>()) {
        let sealed = encrypt(&key(), &app_id, &xml, random).unwrap();
        let opened = decrypt(&key(), Some(&app_id), &sealed).unwrap();
        prop_assert_eq!(opened.xml, xml);
        prop_assert_eq!(opened.app_id, app_id);
    }

    #[test]
    fn decrypt_never_panics_on_text(text in "\\PC{0,200}") {
        let _ = decrypt(&key(), None, &text);
    }

    #[test]
    fn decrypt_never_panics_on_aligned_blocks(blocks in 0usize..12, bytes in prop::collection::vec(any::<u8>(), 192)) {
        let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes[..blocks * 16]);
        let _ = decrypt(&key(), Some(APP_ID), &b64);
    }

    #[test]
    fn xml_parser_never_panics(text in "\\PC{0,400}") {
        let _ = parse_xml(&text);
    }

    #[test]
    fn xml_parser_never_panics_on_xmlish(text in xmlish()) {
        let _ = parse_xml(&text);
    }

    #[test]
    fn parse_push_never_panics_on_bytes(body in prop::collection::vec(any::<u8>(), 0..600)) {
        let q = plain_query(TOKEN, NOW_SECS);
        let _ = parse_push(&post(&q, &body), &account());
    }

    #[test]
    fn parse_push_never_panics_on_xmlish(body in xmlish(), encrypted in any::<bool>()) {
        let q = plain_query(TOKEN, NOW_SECS);
        let _ = parse_push(&post(&q, body.as_bytes()), &account());
        let _ = parse_push(&post(&q, body.as_bytes()), &Account { original_id: None, ..account() });
        if encrypted {
            // A correctly signed and encrypted body whose plaintext is arbitrary.
            let sealed = seal(&body);
            let q = aes_query(TOKEN, NOW_SECS, &sealed);
            let _ = parse_push(&post(&q, safe_body(&sealed).as_bytes()), &account());
        }
    }

    #[test]
    fn parse_push_never_panics_on_query(query in "\\PC{0,200}", body in xmlish()) {
        let _ = parse_push(&post(&query, body.as_bytes()), &account());
        let _ = intake_wechat::verify_url(&get(&query), &account());
    }
}
