//! Keeps the fuzz seed corpora (`fuzz/seeds/<target>/`) in step with the golden fixtures.
//! `UPDATE_FUZZ_SEEDS=1` rewrites them; otherwise every fixture must have its seeds.

mod common;

use common::*;
use encoding_rs::GB18030;
use intake_sms::{encode_gsm7, Item};
use serde_json::Value;
use std::fs;
use std::path::Path;

/// Index of each coding in the decode target's table (Gsm7, Latin1, Ucs2, Gbk, Utf8, Binary).
fn decode_seeds(name: &str, text: &str) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut add = |coding: u8, tag: &str, bytes: Vec<u8>| {
        out.push((format!("{name}.{tag}"), [&[coding, 1][..], &bytes].concat()));
    };
    if let Some(septets) = encode_gsm7(text) {
        add(0, "gsm7", septets);
    }
    if text.chars().all(|c| (c as u32) < 0x100) {
        add(1, "latin1", text.chars().map(|c| c as u8).collect());
    }
    add(
        2,
        "ucs2",
        text.encode_utf16().flat_map(u16::to_be_bytes).collect(),
    );
    add(3, "gbk", GB18030.encode(text).0.into_owned());
    add(4, "utf8", text.as_bytes().to_vec());
    out
}

fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut names: Vec<String> = fs::read_dir(&dir)
        .expect("fixtures")
        .filter_map(|e| {
            e.expect("entry")
                .file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".request.json"))
                .map(str::to_string)
        })
        .collect();
    names.sort();
    let mut out = Vec::new();
    for name in names {
        let fixture: Value = serde_json::from_slice(
            &fs::read(dir.join(format!("{name}.request.json"))).expect("read"),
        )
        .expect("json");
        let kind = kind_named(fixture["provider"].as_str().expect("provider"));
        for (i, request) in fixture["requests"]
            .as_array()
            .expect("requests")
            .iter()
            .enumerate()
        {
            let request = Request::from_json(request);
            out.push(("handle", format!("{name}.{i}"), fuzz_input(kind, &request)));
            let Ok(delivery) = request.signed(kind).run(kind) else {
                continue;
            };
            for (j, item) in delivery.items.iter().enumerate() {
                let texts = match item {
                    Item::Request(r) => decode_seeds(&format!("{name}.{i}.{j}"), &r.content.text),
                    Item::Part(p) => {
                        let coding = match p.coding {
                            intake_sms::Coding::Gsm7 => 0,
                            intake_sms::Coding::Latin1 => 1,
                            intake_sms::Coding::Ucs2 => 2,
                            intake_sms::Coding::Gbk => 3,
                            intake_sms::Coding::Utf8 => 4,
                            intake_sms::Coding::Binary => 5,
                        };
                        vec![(
                            format!("{name}.{i}.{j}.part"),
                            [&[coding, 0][..], &p.bytes].concat(),
                        )]
                    }
                    Item::DeadLetter(_) => Vec::new(),
                };
                out.extend(texts.into_iter().map(|(f, b)| ("decode", f, b)));
            }
        }
    }
    out
}

#[test]
fn fuzz_seeds_follow_fixtures() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let update = std::env::var("UPDATE_FUZZ_SEEDS").is_ok_and(|v| v == "1");
    let mut stale = Vec::new();
    for (target, file, bytes) in seeds() {
        let dir = root.join("fuzz/seeds").join(target);
        let path = dir.join(&file);
        if update {
            fs::create_dir_all(&dir).expect("mkdir");
            fs::write(&path, bytes).expect("write seed");
        } else if fs::read(&path).ok().as_deref() != Some(&bytes[..]) {
            stale.push(format!("{target}/{file}"));
        }
    }
    assert!(
        stale.is_empty(),
        "stale fuzz seeds (run with UPDATE_FUZZ_SEEDS=1): {stale:?}"
    );
}
