//! Nothing acknowledged is lost, nothing is published twice: broker outages, freezes, restarts
//! and injected Kafka errors, each checked on what really reached the topic.

mod support;

use intake_gateway::config::Brokers;
use rdkafka::mocking::MockCluster;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use support::broker::DedicatedBroker;
use support::*;

/// Posts `n` single-post batches with ids `{prefix}-{i}`; returns the request ids acknowledged.
async fn post_many(app: &TestApp, prefix: &str, n: usize) -> BTreeSet<String> {
    let mut acked = BTreeSet::new();
    for i in 0..n {
        let response = app
            .post_web(&batch(&[post(&format!("{prefix}-{i}"), "停电了")]))
            .await;
        if response.status() == 200 {
            let v: Value = response.json().await.unwrap();
            let r = &v["results"][0];
            assert!(
                r["status"] == "accepted" || r["status"] == "duplicate",
                "{v}"
            );
            acked.insert(r["request_id"].as_str().unwrap().to_string());
        }
    }
    acked
}

/// Every acknowledged id is on the topic, and no id is there twice.
fn assert_exactly_once(acked: &BTreeSet<String>, records: &[Consumed]) {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for r in records {
        assert_valid_request(&r.value);
        *seen
            .entry(r.value["request_id"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "published twice: {twice:?}");
    let missing: Vec<_> = acked.iter().filter(|id| !seen.contains_key(*id)).collect();
    assert!(
        missing.is_empty(),
        "acknowledged but not on the topic: {missing:?}"
    );
}

async fn kafka_config(bootstrap: &str) -> (intake_gateway::Config, tempfile::TempDir) {
    let (mut config, data) = test_config(false).await;
    config.kafka.brokers = Brokers::Joined(bootstrap.to_string());
    config.kafka.delivery_timeout = Duration::from_secs(5);
    config.kafka.message_timeout = Duration::from_secs(60);
    config.spool.after = Duration::from_millis(300);
    (config, data)
}

async fn readyz(app: &TestApp) -> Value {
    app.client
        .get(format!("{}/readyz", app.ops))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_during_an_outage_are_spooled_then_forwarded_once() {
    let mut broker = DedicatedBroker::reserve();
    let (config, _data) = kafka_config(&broker.bootstrap).await;
    let topic = config.kafka.topic.clone();
    let app = start(config.clone()).await;
    let acked = post_many(&app, "outage", 20).await;
    assert_eq!(
        acked.len(),
        20,
        "the spool acknowledges while Kafka is away"
    );
    let ready = readyz(&app).await;
    assert_eq!(ready["ready"], true, "{ready}");
    assert_eq!(ready["sink_up"], false);
    assert_eq!(ready["spool"]["entries"], 20);
    let metrics = app
        .client
        .get(format!("{}/metrics", app.ops))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("intake_requests_total") && l.contains("outcome=\"spooled\"")),
        "spooled outcome counted"
    );

    broker.start();
    broker
        .create_topics(
            &[
                &topic,
                &config.kafka.events_topic,
                &config.kafka.dead_letter_topic,
            ],
            3,
        )
        .await;
    let records = consume(&broker.bootstrap, &topic, 20, Duration::from_secs(60));
    assert_exactly_once(&acked, &records);
    assert_eq!(records.len(), 20);
    app.gateway.unwrap().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_broker_mid_load_loses_and_duplicates_nothing() {
    let mut broker = DedicatedBroker::reserve();
    broker.start();
    let (config, _data) = kafka_config(&broker.bootstrap).await;
    let topic = config.kafka.topic.clone();
    broker.create_topics(&[&topic], 3).await;
    let app = std::sync::Arc::new(start(config).await);
    let workers: Vec<_> = (0..3)
        .map(|w| {
            let app = app.clone();
            tokio::spawn(async move { post_many(&app, &format!("freeze-{w}"), 40).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(700)).await;
    broker.freeze();
    tokio::time::sleep(Duration::from_secs(8)).await;
    broker.thaw();
    let mut acked = BTreeSet::new();
    for w in workers {
        acked.extend(w.await.unwrap());
    }
    assert_eq!(
        acked.len(),
        120,
        "every request was acknowledged (Kafka or spool)"
    );
    let records = consume(
        &broker.bootstrap,
        &topic,
        acked.len(),
        Duration::from_secs(90),
    );
    assert_exactly_once(&acked, &records);
    let app = std::sync::Arc::try_unwrap(app).ok().expect("workers done");
    app.gateway.unwrap().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spool_left_by_a_stopped_gateway_is_forwarded_after_restart() {
    let mut broker = DedicatedBroker::reserve();
    let (config, _data) = kafka_config(&broker.bootstrap).await;
    let topic = config.kafka.topic.clone();
    let app = start(config).await;
    let acked = post_many(&app, "restart", 5).await;
    assert_eq!(acked.len(), 5);
    let app = {
        let mut app = app;
        app.gateway.take().unwrap().shutdown().await;
        broker.start();
        broker.create_topics(&[&topic], 3).await;
        let mut next = start(app.config.clone()).await;
        std::mem::swap(&mut next.gateway, &mut app.gateway);
        app.base = next.base.clone();
        app.ops = next.ops.clone();
        app
    };
    let records = consume(&broker.bootstrap, &topic, 5, Duration::from_secs(60));
    assert_exactly_once(&acked, &records);
    let again = post_many(&app, "restart", 5).await;
    assert_eq!(
        again, acked,
        "after the restart they are duplicates with the same ids"
    );
    app.gateway.unwrap().shutdown().await;
}

/// librdkafka's mock cluster: the faults a real broker cannot be made to produce on demand.
async fn mock_app(
    cluster: &MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
) -> (TestApp, tempfile::TempDir) {
    let (config, data) = kafka_config(&cluster.bootstrap_servers()).await;
    cluster.create_topic(&config.kafka.topic, 3, 1).unwrap();
    let app = start(config).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while readyz(&app).await["sink_up"] != true {
        assert!(
            std::time::Instant::now() < deadline,
            "mock cluster never reachable"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (app, data)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_round_trips_spool_without_publishing_twice() {
    let cluster = MockCluster::new(1).unwrap();
    let (app, _data) = mock_app(&cluster).await;
    // Acks slower than spool.after: each request is spooled while its first delivery is still
    // under way. The forwarder must wait for that delivery rather than publish a second copy.
    cluster
        .broker_round_trip_time(1, Duration::from_millis(1500))
        .unwrap();
    let acked = post_many(&app, "slow", 4).await;
    cluster.broker_round_trip_time(1, Duration::ZERO).unwrap();
    assert_eq!(acked.len(), 4);
    let records = consume(
        &cluster.bootstrap_servers(),
        &app.config.kafka.topic,
        4,
        Duration::from_secs(60),
    );
    assert_exactly_once(&acked, &records);
    app.gateway.unwrap().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retriable_produce_errors_are_retried_idempotently() {
    let cluster = MockCluster::new(1).unwrap();
    let (app, _data) = mock_app(&cluster).await;
    cluster.request_errors(
        RDKafkaApiKey::Produce,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS; 4],
    );
    let acked = post_many(&app, "errors", 6).await;
    assert_eq!(acked.len(), 6);
    let records = consume(
        &cluster.bootstrap_servers(),
        &app.config.kafka.topic,
        6,
        Duration::from_secs(60),
    );
    assert_exactly_once(&acked, &records);
    app.gateway.unwrap().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_downed_broker_spools_and_recovers() {
    let cluster = MockCluster::new(1).unwrap();
    let (app, _data) = mock_app(&cluster).await;
    cluster.broker_down(1).unwrap();
    let acked = post_many(&app, "down", 6).await;
    assert_eq!(acked.len(), 6, "acknowledged from the spool");
    cluster.broker_up(1).unwrap();
    let records = consume(
        &cluster.bootstrap_servers(),
        &app.config.kafka.topic,
        6,
        Duration::from_secs(60),
    );
    assert_exactly_once(&acked, &records);
    app.gateway.unwrap().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spool_status_and_drain_serve_the_operator() {
    let mut broker = DedicatedBroker::reserve();
    let (config, _data) = kafka_config(&broker.bootstrap).await;
    let app = start(config.clone()).await;
    let acked = post_many(&app, "drain", 3).await;
    app.gateway.unwrap().shutdown().await;
    let bootstrap = broker.bootstrap.clone();
    let cli = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_intake-gateway"))
            .args(args)
            .env_remove("INTAKE_CONFIG")
            .env("INTAKE__STORAGE__DATA_DIR", &config.storage.data_dir)
            .env("INTAKE__KAFKA__BROKERS", &bootstrap)
            .env("INTAKE__KAFKA__TOPIC", &config.kafka.topic)
            .output()
            .unwrap()
    };
    let status = cli(&["spool", "status"]);
    assert!(status.status.success());
    let v: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(v["entries"], 3, "{v}");
    assert!(v["oldest"].is_string());
    broker.start();
    broker.create_topics(&[&config.kafka.topic], 3).await;
    let drain = cli(&["spool", "drain", "--timeout", "60s"]);
    assert!(
        drain.status.success(),
        "{}",
        String::from_utf8_lossy(&drain.stderr)
    );
    let v: Value = serde_json::from_slice(&drain.stdout).unwrap();
    assert_eq!(
        (v["forwarded"].as_u64(), v["remaining"].as_u64()),
        (Some(3), Some(0)),
        "{v}"
    );
    let records = consume(
        &broker.bootstrap,
        &config.kafka.topic,
        3,
        Duration::from_secs(30),
    );
    assert_exactly_once(&acked, &records);
    let after: Value = serde_json::from_slice(&cli(&["spool", "status"]).stdout).unwrap();
    assert_eq!(after["entries"], 0);
}
