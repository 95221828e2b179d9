//! What one web push costs before any I/O: verify + parse + build, and the record's JSON.
//!
//! `cargo bench -p intake-web -- --quick` gives per-op times; the gateway's request budget on a
//! 2-core machine (~100k req/s for parse + record + reply) leaves ~10 µs of CPU per request, so
//! these numbers say how much of it the adapter itself takes.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use intake_adapter::signature::hmac_sha256_hex;
use intake_adapter::Inbound;
use intake_web::Partner;
use std::hint::black_box;
use std::time::Duration;

const SECRET: &str = "bench-secret";
const TS: &str = "1764000000";

/// One moderated post like the load tool sends, its text padded so the 1-post batch is ~300 B.
fn post(i: usize) -> String {
    format!(
        r#"{{"id":"bench-{i}","title":"路灯","body":"延吉路的路灯从周一起不亮了，晚上很危险，请尽快派人维修。","author":{{"name":"张女士","phone":"1381234{i:04}"}},"posted_at":"2026-11-24T08:00:00+08:00","moderation":{{"moderator":"editor-li","approved_at":"2026-11-24T08:05:00+08:00"}}}}"#
    )
}

fn batch(posts: usize) -> String {
    let posts: Vec<String> = (0..posts).map(post).collect();
    format!(r#"{{"posts":[{}]}}"#, posts.join(","))
}

/// Runs `intake_web::handle` over `body`, signed as the gateway would receive it.
fn handle(body: &[u8], sig: &str, partner: &Partner) -> Vec<intake_web::PostOutcome> {
    let headers: &[(&str, &str)] = &[
        ("Content-Type", "application/json"),
        ("X-Intake-Timestamp", TS),
        ("X-Intake-Signature", sig),
    ];
    let inbound = Inbound {
        method: "POST",
        query: "",
        headers: &headers,
        body,
        now: chrono::DateTime::from_timestamp(1_764_000_030, 0).expect("valid time"),
        peer: None,
        trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
    };
    intake_web::handle(&inbound, partner).expect("bench batch is valid")
}

fn benches(c: &mut Criterion) {
    let partner = Partner::new("baixing", SECRET);
    let mut group = c.benchmark_group("web");
    for posts in [1, 50] {
        let body = batch(posts);
        let sig = format!(
            "v1={}",
            hmac_sha256_hex(SECRET.as_bytes(), &[TS.as_bytes(), b".", body.as_bytes()])
        );
        let outcomes = handle(body.as_bytes(), &sig, &partner);
        assert!(
            outcomes.iter().all(|o| o.result.is_ok()),
            "every post parses"
        );
        group.throughput(Throughput::Bytes(body.len() as u64));
        let name = format!("handle/{posts}_post_batch_{}B", body.len());
        group.bench_function(name, |b| {
            b.iter(|| handle(black_box(body.as_bytes()), &sig, &partner))
        });
    }
    // The signature check alone: HMAC-SHA256 over the raw body, paid before any parsing.
    let body = batch(1);
    let sig = format!(
        "v1={}",
        hmac_sha256_hex(SECRET.as_bytes(), &[TS.as_bytes(), b".", body.as_bytes()])
    );
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("hmac_sha256_hex/1_post", |b| {
        b.iter(|| {
            hmac_sha256_hex(
                SECRET.as_bytes(),
                &[TS.as_bytes(), b".", black_box(body.as_bytes())],
            )
        })
    });
    // The record as the sinks write it (Envelope::request does exactly this).
    let record = handle(body.as_bytes(), &sig, &partner)
        .remove(0)
        .result
        .expect("post parses");
    group.bench_function("serde_json::to_string/IntakeRequest", |b| {
        b.iter(|| serde_json::to_string(black_box(&*record)).expect("serializes"))
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
