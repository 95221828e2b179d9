//! Keeps the fuzz seed corpora (`fuzz/seeds/<target>/`) in step with the golden fixtures.
//! `UPDATE_FUZZ_SEEDS=1` rewrites them; otherwise every fixture request must have its seed.

mod common;

use common::*;
use intake_call::FORM_BASE64;
use std::path::Path;

/// The selector byte of `fuzz/fuzz_targets/handle.rs` for a source kind and content type.
fn selector(kind: &str, content_type: Option<&str>) -> u8 {
    let kind = match kind {
        "freeswitch" => 0,
        "asterisk" => 1,
        "kamailio" => 2,
        _ => 3,
    };
    let media = content_type.map(|c| c.split(';').next().unwrap_or("").trim());
    let ct = match media {
        Some("application/json") => 0,
        Some("application/x-www-form-urlencoded") => 1,
        Some(m) if m == FORM_BASE64 => 2,
        Some("multipart/form-data") => 3,
        _ => 4,
    };
    kind + 4 * ct
}

#[test]
fn fuzz_seeds_follow_fixtures() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let update = std::env::var("UPDATE_FUZZ_SEEDS").is_ok_and(|v| v == "1");
    let mut seeds = Vec::new();
    for (name, fixture) in fixtures() {
        let kind = fixture["source"]["kind"]
            .as_str()
            .unwrap_or("generic")
            .to_string();
        for (i, request) in fixture["requests"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let wire = wire(request);
            let bytes = [&[selector(&kind, wire.content_type())][..], &wire.body].concat();
            seeds.push(("handle", format!("{name}.{i}"), bytes));
        }
    }
    for (configured, dialed) in [
        ("043312328", "sip:+8643312328@sbc;user=phone"),
        ("12345", "tel:+86-433-12345"),
        ("+8613812345678", "008613812345678"),
        ("anonymous", "<sip:anonymous@anonymous.invalid>"),
    ] {
        seeds.push((
            "lines",
            configured.to_string(),
            format!("{configured}\n{dialed}").into_bytes(),
        ));
    }
    let mut missing = Vec::new();
    for (target, file, bytes) in seeds {
        let dir = root.join("fuzz/seeds").join(target);
        let path = dir.join(&file);
        if update {
            std::fs::create_dir_all(&dir).expect("mkdir");
            std::fs::write(&path, bytes).expect("write seed");
        } else if std::fs::read(&path).ok().as_deref() != Some(&bytes[..]) {
            missing.push(format!("{target}/{file}"));
        }
    }
    assert!(
        missing.is_empty(),
        "stale fuzz seeds (run with UPDATE_FUZZ_SEEDS=1): {missing:?}"
    );
}
