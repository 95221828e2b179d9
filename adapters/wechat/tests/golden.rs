//! Golden fixtures: every `fixtures/*.xml` is pushed in plaintext, compatible and safe mode and
//! must normalize to `fixtures/*.json` in all three. `UPDATE_GOLDEN=1` rewrites the JSON files.

mod common;

use common::*;
use intake_wechat::{choose_template, parse_push, reply_template, Mode, Push, PushKind};
use std::fs;
use std::path::{Path, PathBuf};

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut inputs: Vec<PathBuf> = fs::read_dir(&dir)
        .expect("fixtures dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    inputs.sort();
    inputs
}

fn record_json(push: &Push) -> serde_json::Value {
    match &push.kind {
        PushKind::Request(r) => serde_json::to_value(r),
        PushKind::Event(e) => serde_json::to_value(e),
        PushKind::DeadLetter(d) => serde_json::to_value(d),
    }
    .expect("records serialize")
}

#[test]
fn golden_fixtures() {
    let update = std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    let inputs = fixtures();
    assert!(inputs.len() >= 17, "fixtures missing: {}", inputs.len());
    let mut mismatches = Vec::new();
    for input in &inputs {
        let name = input
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("utf-8 name")
            .to_string();
        let xml = fs::read_to_string(input).expect("read fixture");

        let query = plain_query(TOKEN, NOW_SECS);
        let plain = parse_push(&post(&query, xml.as_bytes()), &account())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(plain.mode, Mode::Plaintext, "{name}");
        let actual = record_json(&plain);

        let sealed = seal(&xml);
        let aes = aes_query(TOKEN, NOW_SECS, &sealed);
        for (mode, body) in [
            (Mode::Safe, safe_body(&sealed)),
            (Mode::Compatible, compatible_body(&xml, &sealed)),
        ] {
            let push = parse_push(&post(&aes, body.as_bytes()), &account())
                .unwrap_or_else(|e| panic!("{name} {mode:?}: {e}"));
            assert_eq!(push.mode, mode, "{name}");
            assert_eq!(push.app_id.as_deref(), Some(APP_ID));
            assert_eq!(
                record_json(&push),
                actual,
                "{name}: {mode:?} differs from plaintext"
            );
        }

        if let PushKind::Request(request) = &plain.kind {
            let reply = reply_template(
                choose_template(request.content.language),
                request.tracking_no.as_str(),
            );
            assert!(reply.contains(request.tracking_no.as_str()), "{name}");
        }

        let expected_path = input.with_extension("json");
        let rendered = format!("{}\n", serde_json::to_string_pretty(&actual).expect("json"));
        if update {
            fs::write(&expected_path, rendered).expect("write golden");
            continue;
        }
        let expected = fs::read_to_string(&expected_path).unwrap_or_default();
        let expected: serde_json::Value =
            serde_json::from_str(&expected).unwrap_or(serde_json::Value::Null);
        if expected != actual {
            mismatches.push(format!("{name}:\n{rendered}"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "golden mismatch (run with UPDATE_GOLDEN=1 after checking):\n{}",
        mismatches.join("\n")
    );
}
