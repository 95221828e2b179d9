//! The gateway's own share of a request, without HTTP or a broker: the dedup index claim, the
//! journal append with group commit, the record's serialization into its envelope, and its
//! routing by the shipped keyword rules.
//!
//! `cargo bench --bench hot_path -- --quick`. Indicative only (2 shared cores); the end-to-end
//! numbers come from `intake-load`. The journal benches fsync a real file in a temp dir, so
//! they measure this machine's disk as much as the code: compare one append alone (one fsync
//! each) with 64 concurrent appends (group commit: a few fsyncs for all 64).

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use intake_adapter::signature::hmac_sha256_hex;
use intake_adapter::Inbound;
use intake_gateway::dedup::{Claim, DedupIndex};
use intake_gateway::sink::JournalSink;
use intake_gateway::sink::{Envelope, Topics};
use intake_schema::{Channel, IntakeRequest, RequestId};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// One web post's record, as the adapter builds it (the most common record shape).
fn record() -> IntakeRequest {
    let body = r#"{"posts":[{"id":"bench-1","title":"路灯","body":"延吉路的路灯从周一起不亮了，晚上很危险，请尽快派人维修。","author":{"name":"张女士","phone":"13812341234"},"posted_at":"2026-11-24T08:00:00+08:00","moderation":{"moderator":"editor-li","approved_at":"2026-11-24T08:05:00+08:00"}}]}"#;
    let sig = hmac_sha256_hex(b"s", &[b"1764000000", b".", body.as_bytes()]);
    let sig = format!("v1={sig}");
    let headers: &[(&str, &str)] = &[
        ("Content-Type", "application/json"),
        ("X-Intake-Timestamp", "1764000000"),
        ("X-Intake-Signature", &sig),
    ];
    let inbound = Inbound {
        method: "POST",
        query: "",
        headers: &headers,
        body: body.as_bytes(),
        now: chrono::DateTime::from_timestamp(1_764_000_030, 0).expect("valid time"),
        peer: None,
        trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
    };
    let partner = intake_web::Partner::new("baixing", "s");
    let mut outcomes = intake_web::handle(&inbound, &partner).expect("valid batch");
    *outcomes.remove(0).result.expect("valid post")
}

fn topics() -> Topics {
    Topics {
        requests: "intake.requests.v1".into(),
        events: "intake.events.v1".into(),
        dead_letters: "intake.rejected.v1".into(),
        urgent: "intake.urgent.v1".into(),
    }
}

fn dedup(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let index = DedupIndex::open(dir.path(), Duration::from_secs(72 * 3600), 5_000_000)
        .expect("dedup index");
    let next = AtomicU64::new(0);
    let fresh = || {
        let n = next.fetch_add(1, Ordering::Relaxed);
        RequestId::derive(Channel::Wechat, "wechat:gh_bench", &n.to_string())
    };
    let mut group = c.benchmark_group("dedup");
    // A new id: claim it, then mark it durable (what every accepted request pays).
    group.bench_function("claim_new_then_succeed", |b| {
        b.iter_batched(
            fresh,
            |id| match index.claim(black_box(id)) {
                Claim::Mine(guard) => guard.succeed(),
                _ => panic!("a fresh id is mine"),
            },
            BatchSize::SmallInput,
        )
    });
    // A re-delivery of an accepted id (what a duplicate pays).
    let seen = fresh();
    if let Claim::Mine(guard) = index.claim(seen) {
        guard.succeed();
    }
    group.bench_function("claim_seen", |b| {
        b.iter(|| assert!(matches!(index.claim(black_box(seen)), Claim::Seen)))
    });
    group.finish();
}

fn serialization(c: &mut Criterion) {
    let record = record();
    let mut group = c.benchmark_group("record");
    group.bench_function("envelope_request", |b| {
        b.iter(|| Envelope::request(black_box(&record)).expect("serializes"))
    });
    group.bench_function("derive_request_id", |b| {
        b.iter(|| RequestId::derive(Channel::Web, "web:baixing", black_box("bench-1")))
    });
    group.finish();
}

/// Routing one record: line, IVR and the shipped keyword rules over its title and text.
fn routing(c: &mut Criterion) {
    let router = intake_gateway::routing::Router::with_defaults();
    let base = record();
    let mut group = c.benchmark_group("routing");
    group.bench_function("route_shipped_rules", |b| {
        b.iter_batched(
            || base.clone(),
            |mut r| {
                router.route(&mut r);
                r
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn journal(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let sink = runtime
        .block_on(async { JournalSink::open(dir.path(), 64 << 20, topics()) })
        .expect("journal");
    let envelope = Envelope::request(&record()).expect("envelope");
    let mut group = c.benchmark_group("journal");
    group.sample_size(10);
    for batch in [1u64, 64] {
        group.throughput(Throughput::Elements(batch));
        // `batch` appends at once; each returns only after its fsync, so the time per batch
        // shows how well group commit shares one fsync among concurrent requests.
        group.bench_function(format!("append_fsync/{batch}_concurrent"), |b| {
            b.iter_custom(|iters| {
                runtime.block_on(async {
                    let started = Instant::now();
                    for _ in 0..iters {
                        let appends = (0..batch).map(|_| sink.publish(&envelope));
                        for r in futures_util::future::join_all(appends).await {
                            r.expect("appended");
                        }
                    }
                    started.elapsed()
                })
            })
        });
    }
    group.finish();
    runtime.block_on(sink.close());
}

criterion_group! {
    name = hot_path;
    // Short runs: these guide, they do not gate, and `cargo bench` shares 2 cores with builds.
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = dedup, serialization, routing, journal
}
criterion_main!(hot_path);
