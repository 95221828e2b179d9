//! Long-message reassembly: order, duplicates, gaps and refusals.

mod common;

use common::{now, part};
use intake_adapter::AdapterError;
use intake_sms::{
    assemble, assemble_incomplete, parts_dead_letter, Coding, Part, INCOMPLETE_MARKER,
};

fn utf8_parts(texts: &[&str]) -> Vec<Part> {
    let total = texts.len() as u8;
    texts
        .iter()
        .enumerate()
        .map(|(i, t)| part(i as u8 + 1, total, t.as_bytes(), Coding::Utf8))
        .collect()
}

#[test]
fn order_and_redelivery_do_not_matter() {
    let mut parts = utf8_parts(&["一", "二", "三"]);
    let expected = assemble(&parts).unwrap();
    assert_eq!(expected.content.text, "一二三");
    parts.reverse();
    parts.push(parts[1].clone());
    let again = assemble(&parts).unwrap();
    assert_eq!(again, expected);
    assert_eq!(again.source.message_id, "+8613812345678/12345/9/id-1");
    assert_eq!(again.trace_id, format!("{:032x}", 1));
    assert_eq!(again.received_at, now() + chrono::Duration::seconds(3));
    assert_eq!(again.raw.content_type.as_deref(), Some("application/json"));
}

#[test]
fn refusals() {
    assert!(matches!(assemble(&[]), Err(AdapterError::Malformed(_))));
    let mut parts = utf8_parts(&["a", "b", "c"]);
    parts.remove(1);
    let err = assemble(&parts).unwrap_err();
    assert_eq!(
        err,
        AdapterError::Malformed("parts 2 of 3 are missing".into())
    );
    let mut other = utf8_parts(&["a", "b"]);
    other[1].key.reference = "10".into();
    assert!(matches!(assemble(&other), Err(AdapterError::Malformed(_))));
    let mut mixed = utf8_parts(&["a", "b"]);
    mixed[1].coding = Coding::Ucs2;
    assert!(matches!(assemble(&mixed), Err(AdapterError::Malformed(_))));
    // A part may even end inside a UCS-2 code unit: only the joined bytes are decoded.
    let odd = vec![
        part(1, 2, &[0x4E], Coding::Ucs2),
        part(2, 2, &[0x2D], Coding::Ucs2),
    ];
    assert_eq!(assemble(&odd).unwrap().content.text, "中");
}

#[test]
fn undecodable_joined_bytes_are_encoding_errors_with_a_dead_letter() {
    let parts = vec![
        part(1, 2, &[0xD8, 0x3D], Coding::Ucs2),
        part(2, 2, &[0x00, 0x41], Coding::Ucs2),
    ];
    let err = assemble(&parts).unwrap_err();
    assert!(matches!(err, AdapterError::Encoding(_)));
    let dead = parts_dead_letter(&parts, &err.to_string()).unwrap();
    assert_eq!(dead.source_system, "sms:kannel");
    assert!(dead.raw.body.contains("id-2"));
    assert!(parts_dead_letter(&[], "x").is_none());
}

#[test]
fn gaps_get_one_marker_each() {
    let parts = utf8_parts(&["一", "二", "三", "四", "五"]);
    let some: Vec<Part> = parts
        .iter()
        .filter(|p| [2, 5].contains(&p.seq))
        .cloned()
        .collect();
    let rec = assemble_incomplete(&some).unwrap();
    let m = INCOMPLETE_MARKER;
    assert_eq!(rec.content.text, format!("{m}二{m}五"));
    assert_eq!(rec.source.message_id, "+8613812345678/12345/9/id-2");
    assert_eq!(rec.content.title, None);
    let tail: Vec<Part> = parts.iter().filter(|p| p.seq <= 2).cloned().collect();
    assert_eq!(
        assemble_incomplete(&tail).unwrap().content.text,
        format!("一二{m}")
    );
    // Complete input: the same as assemble.
    assert_eq!(
        assemble_incomplete(&parts).unwrap(),
        assemble(&parts).unwrap()
    );
}

#[test]
fn a_character_split_by_a_gap_is_dropped_not_garbled() {
    // "中😀文" in UCS-2 over 3 parts: part 2 (the low surrogate) is missing.
    let p1 = part(1, 3, &[0x4E, 0x2D, 0xD8, 0x3D], Coding::Ucs2);
    let p3 = part(3, 3, &[0x65, 0x87], Coding::Ucs2);
    let rec = assemble_incomplete(&[p3, p1]).unwrap();
    assert_eq!(rec.content.text, format!("中{INCOMPLETE_MARKER}文"));
    assert!(!rec.content.text.contains('\u{FFFD}'));
}

#[test]
fn gsm_and_latin1_parts_of_the_smsc_default_alphabet_join() {
    let parts = vec![
        part(1, 2, &[0x00, b'a'], Coding::Gsm7),
        part(2, 2, b"bc", Coding::Latin1),
    ];
    assert_eq!(assemble(&parts).unwrap().content.text, "@abc");
    let parts = vec![
        part(1, 2, b"a", Coding::Gsm7),
        part(2, 2, &[0xE9], Coding::Latin1),
    ];
    assert_eq!(assemble(&parts).unwrap().content.text, "aé");
}
