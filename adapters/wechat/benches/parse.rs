//! What one WeChat push costs before any I/O: signature check + (decrypt) + XML parse +
//! normalize, per mode, and the AES-256-CBC seal/open of a message on its own.
//!
//! `cargo bench -p intake-wechat -- --quick`. The goal (safe mode >= 0.8x plaintext
//! end to end) leaves safe mode a few µs more than plaintext; these numbers say how many the
//! adapter itself takes.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use intake_adapter::Inbound;
use intake_wechat::{decrypt, encrypt, parse_push, sha1_signature, Account, AesKey, PushKind};
use std::hint::black_box;
use std::time::Duration;

const TOKEN: &str = "bench-token";
const AES_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const APP_ID: &str = "wx12345bench00000";
const TS: &str = "1764000000";
const NONCE: &str = "1320562132";

/// A text message like the load tool sends: Korean with Chinese street names.
fn message() -> String {
    "<xml><ToUserName><![CDATA[gh_12345yanbian]]></ToUserName><FromUserName><![CDATA[oBench000000000000000000001]]></FromUserName><CreateTime>1764000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[延吉路 12号 아파트 엘리베이터가 고장났어요. 빨리 수리해 주세요. 谢谢]]></Content><MsgId>24187654321012345</MsgId></xml>".to_string()
}

/// (query, body) of a push in `mode`: 0 plaintext, 1 compatible, 2 safe.
fn push(mode: u8) -> (String, String) {
    let signature = sha1_signature(&[TOKEN, TS, NONCE]);
    let mut query = format!("signature={signature}&timestamp={TS}&nonce={NONCE}&openid=oBench");
    let xml = message();
    if mode == 0 {
        return (query, xml);
    }
    let key = AesKey::from_encoding_aes_key(AES_KEY).expect("key");
    let sealed = encrypt(&key, APP_ID, &xml, [7; 16]).expect("seal");
    let msg_signature = sha1_signature(&[TOKEN, TS, NONCE, &sealed]);
    query.push_str(&format!("&encrypt_type=aes&msg_signature={msg_signature}"));
    let body = if mode == 2 {
        format!("<xml><ToUserName><![CDATA[gh_12345yanbian]]></ToUserName><Encrypt><![CDATA[{sealed}]]></Encrypt></xml>")
    } else {
        let inner = xml.trim_end_matches("</xml>");
        format!("{inner}<Encrypt><![CDATA[{sealed}]]></Encrypt></xml>")
    };
    (query, body)
}

fn run(query: &str, body: &[u8], account: &Account) -> intake_wechat::Push {
    let headers: &[(&str, &str)] = &[("Content-Type", "text/xml")];
    let inbound = Inbound {
        method: "POST",
        query,
        headers: &headers,
        body,
        now: chrono::DateTime::from_timestamp(1_764_000_030, 0).expect("valid time"),
        peer: None,
        trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
    };
    parse_push(&inbound, account).expect("bench push is valid")
}

fn benches(c: &mut Criterion) {
    let account = Account {
        name: "bench".into(),
        token: TOKEN.into(),
        aes_key: Some(AES_KEY.into()),
        app_id: Some(APP_ID.into()),
        ..Account::default()
    };
    let mut group = c.benchmark_group("wechat");
    for (mode, name) in [(0, "plaintext"), (1, "compatible"), (2, "safe")] {
        let (query, body) = push(mode);
        let parsed = run(&query, body.as_bytes(), &account);
        assert!(
            matches!(parsed.kind, PushKind::Request(_)),
            "{name} is a request"
        );
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(format!("parse_push/{name}_{}B", body.len()), |b| {
            b.iter(|| run(&query, black_box(body.as_bytes()), &account))
        });
    }
    let key = AesKey::from_encoding_aes_key(AES_KEY).expect("key");
    let xml = message();
    let sealed = encrypt(&key, APP_ID, &xml, [7; 16]).expect("seal");
    group.throughput(Throughput::Bytes(xml.len() as u64));
    group.bench_function("aes/encrypt", |b| {
        b.iter(|| encrypt(&key, APP_ID, black_box(&xml), [7; 16]).expect("seal"))
    });
    group.bench_function("aes/decrypt", |b| {
        b.iter(|| decrypt(&key, Some(APP_ID), black_box(&sealed)).expect("open"))
    });
    group.bench_function("sha1_signature/msg_signature", |b| {
        b.iter(|| sha1_signature(&[TOKEN, TS, NONCE, black_box(&sealed)]))
    });
    group.finish();
}

criterion_group! {
    name = parse;
    // Short runs: these guide, they do not gate, and `cargo bench` shares 2 cores with builds.
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = benches
}
criterion_main!(parse);
