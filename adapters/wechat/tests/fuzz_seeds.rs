//! Keeps the fuzz seed corpora (`fuzz/seeds/<target>/`) in step with the golden fixtures.
//! `UPDATE_FUZZ_SEEDS=1` rewrites them; otherwise every fixture must have its seeds.

mod common;

use base64::Engine;
use common::*;
use std::fs;
use std::path::{Path, PathBuf};

fn seeds_for(name: &str, xml: &str) -> Vec<(&'static str, String, Vec<u8>)> {
    let sealed = seal(xml);
    let raw = base64::engine::general_purpose::STANDARD
        .decode(&sealed)
        .expect("own base64");
    let with = |tag: u8, rest: &[u8]| [&[tag][..], rest].concat();
    vec![
        (
            "parse_push",
            format!("{name}.plain"),
            with(0, xml.as_bytes()),
        ),
        (
            "parse_push",
            format!("{name}.safe"),
            with(1, xml.as_bytes()),
        ),
        (
            "parse_push",
            format!("{name}.compatible"),
            with(2, xml.as_bytes()),
        ),
        (
            "decrypt",
            format!("{name}.text"),
            with(0, sealed.as_bytes()),
        ),
        ("decrypt", format!("{name}.raw"), with(1, &raw)),
    ]
}

#[test]
fn fuzz_seeds_follow_fixtures() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let update = std::env::var("UPDATE_FUZZ_SEEDS").is_ok_and(|v| v == "1");
    let mut fixtures: Vec<PathBuf> = fs::read_dir(root.join("fixtures"))
        .expect("fixtures")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    fixtures.sort();
    let mut missing = Vec::new();
    for fixture in fixtures {
        let name = fixture
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("name")
            .to_string();
        let xml = fs::read_to_string(&fixture).expect("read");
        for (target, file, bytes) in seeds_for(&name, &xml) {
            let dir = root.join("fuzz/seeds").join(target);
            let path = dir.join(&file);
            if update {
                fs::create_dir_all(&dir).expect("mkdir");
                fs::write(&path, bytes).expect("write seed");
            } else if fs::read(&path).ok().as_deref() != Some(&bytes[..]) {
                missing.push(format!("{target}/{file}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "stale fuzz seeds (run with UPDATE_FUZZ_SEEDS=1): {missing:?}"
    );
}
