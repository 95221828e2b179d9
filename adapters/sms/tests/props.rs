//! Properties: no input makes a parser or decoder panic; reassembly gives the same text for
//! every arrival order and every split; Kannel's byte-level encoding round-trips any text.

mod common;

use common::*;
use encoding_rs::GB18030;
use intake_sms::{assemble, assemble_incomplete, decode, Coding, Item, Part, ProviderKind};
use proptest::prelude::*;

const REPLACEMENT: char = '\u{FFFD}';

const CODINGS: [Coding; 6] = [
    Coding::Gsm7,
    Coding::Latin1,
    Coding::Ucs2,
    Coding::Gbk,
    Coding::Utf8,
    Coding::Binary,
];

/// Citizen-like text: Han, Hangul, ASCII, emoji (astral, so surrogate pairs in UCS-2).
fn citizen_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[\u{4E00}-\u{9FA5}]{1,8}",
        "[\u{AC00}-\u{D7A3}]{1,8}",
        "[ -~]{1,8}",
        "[\u{1F300}-\u{1F64F}]{1,3}",
        Just("，。！？".to_string()),
    ];
    prop::collection::vec(piece, 1..12).prop_map(|v| v.concat())
}

fn encode(text: &str, coding: Coding) -> Vec<u8> {
    match coding {
        Coding::Ucs2 => text.encode_utf16().flat_map(u16::to_be_bytes).collect(),
        Coding::Gbk => GB18030.encode(text).0.into_owned(),
        _ => text.as_bytes().to_vec(),
    }
}

/// Cuts `bytes` into `n` parts at arbitrary byte offsets (some parts may be empty).
fn split(bytes: &[u8], cuts: &[usize], coding: Coding) -> Vec<Part> {
    let mut offsets: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    offsets.sort_unstable();
    let total = offsets.len() as u8 + 1;
    let mut parts = Vec::new();
    let mut start = 0;
    for (i, end) in offsets
        .iter()
        .chain(std::iter::once(&bytes.len()))
        .enumerate()
    {
        parts.push(part(i as u8 + 1, total, &bytes[start..*end], coding));
        start = *end;
    }
    parts
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn decoders_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        for coding in CODINGS {
            // Strictness: whatever decodes, decodes exactly (nothing replaced or skipped).
            if let Ok(text) = decode(&bytes, coding) {
                match coding {
                    Coding::Ucs2 | Coding::Utf8 | Coding::Binary => {
                        prop_assert_eq!(encode(&text, coding), bytes.clone())
                    }
                    Coding::Latin1 => prop_assert_eq!(text.chars().count(), bytes.len()),
                    _ => {}
                }
            }
        }
    }

    #[test]
    fn reassembly_is_order_independent(
        text in citizen_text(),
        coding in prop::sample::select(vec![Coding::Ucs2, Coding::Utf8, Coding::Gbk]),
        cuts in prop::collection::vec(any::<usize>(), 1..6),
        order in any::<prop::sample::Index>(),
        seed in any::<u64>(),
    ) {
        let bytes = encode(&text, coding);
        let parts = split(&bytes, &cuts, coding);
        let in_order = assemble(&parts).expect("assembles");
        prop_assert_eq!(&in_order.content.text, &text);
        // A deterministic shuffle driven by the generated seed, plus one re-delivery.
        let mut shuffled = parts.clone();
        let mut s = seed;
        for i in (1..shuffled.len()).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            shuffled.swap(i, (s >> 33) as usize % (i + 1));
        }
        shuffled.push(parts[order.index(parts.len())].clone());
        prop_assert_eq!(assemble(&shuffled).expect("assembles"), in_order);
    }

    #[test]
    fn incomplete_reassembly_never_garbles(
        text in citizen_text(),
        coding in prop::sample::select(vec![Coding::Ucs2, Coding::Utf8]),
        cuts in prop::collection::vec(any::<usize>(), 2..6),
        drop in any::<prop::sample::Index>(),
    ) {
        let bytes = encode(&text, coding);
        let mut parts = split(&bytes, &cuts, coding);
        parts.remove(drop.index(parts.len()));
        if let Ok(rec) = assemble_incomplete(&parts) {
            prop_assert!(!rec.content.text.contains(REPLACEMENT));
            prop_assert!(rec.content.text.contains(intake_sms::INCOMPLETE_MARKER));
        }
    }

    #[test]
    fn kannel_ucs2_round_trips(text in citizen_text()) {
        let bytes = encode(&text, Coding::Ucs2);
        let escaped: String = bytes
            .iter()
            .map(|b| match *b {
                b' ' => "+".to_string(),
                b if b.is_ascii_alphanumeric() => char::from(b).to_string(),
                b => format!("%{b:02X}"),
            })
            .collect();
        let r = Request {
            method: "GET".into(),
            query: format!("from=13812345678&to=12345&text={escaped}&coding=2&charset=UTF-16BE&id=x"),
            ..Request::default()
        };
        let d = r.signed(ProviderKind::Kannel).run(ProviderKind::Kannel).expect("handled");
        match &d.items[0] {
            Item::Request(rec) => prop_assert_eq!(&rec.content.text, &text),
            other => prop_assert!(false, "{other:?}"),
        }
    }

    #[test]
    fn handle_never_panics(
        kind in prop::sample::select(ProviderKind::ALL.to_vec()),
        get in any::<bool>(),
        query in "[a-zA-Z0-9_=&%+.-]{0,80}",
        content_type in prop::sample::select(vec![
            "application/json", "application/x-www-form-urlencoded", "text/plain; charset=\"UTF-16BE\"",
            "application/octet-stream", "",
        ]),
        kannel_udh in "[0-9A-F%]{0,16}",
        body in prop::collection::vec(any::<u8>(), 0..400),
    ) {
        let mut headers = vec![("X-Kannel-From".to_string(), "13812345678".to_string()), ("X-Kannel-UDH".into(), kannel_udh)];
        if !content_type.is_empty() {
            headers.push(("Content-Type".into(), content_type.to_string()));
        }
        let r = Request { method: if get { "GET" } else { "POST" }.into(), query, headers, body, peer: None };
        let _ = r.signed(kind).run(kind);
    }

    #[test]
    fn json_providers_never_panic(
        kind in prop::sample::select(vec![ProviderKind::Aliyun, ProviderKind::Tencent, ProviderKind::Generic]),
        body in r#"[\[\]{}",: 0-9a-z_\\\u{4E00}-\u{4E10}]{0,200}"#,
    ) {
        let r = Request {
            method: "POST".into(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.into_bytes(),
            ..Request::default()
        };
        let _ = r.signed(kind).run(kind);
    }
}

#[test]
fn ucs2_surrogate_pair_split_across_two_parts() {
    // "路😀" = 8DEF D83D DE00: part 1 ends on the high surrogate, part 2 starts on the low one.
    let p1 = part(1, 2, &[0x8D, 0xEF, 0xD8, 0x3D], Coding::Ucs2);
    let p2 = part(2, 2, &[0xDE, 0x00], Coding::Ucs2);
    assert!(
        decode(&p1.bytes, Coding::Ucs2).is_err(),
        "each part alone is invalid"
    );
    assert!(decode(&p2.bytes, Coding::Ucs2).is_err());
    assert_eq!(
        assemble(&[p2.clone(), p1.clone()]).unwrap().content.text,
        "路😀"
    );
    assert_eq!(assemble(&[p1, p2]).unwrap().content.text, "路😀");
}
