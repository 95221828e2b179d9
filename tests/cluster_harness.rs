//! The cluster harness itself (tests/support/cluster.rs), with gateways that do not know cluster
//! mode yet: three replicas behind HAProxy with Redis up, consecutive requests spread over all
//! three, and the fault switches (kill -9 and restart of a replica, Redis frozen and restarted).

mod support;

use serde_json::Value;
use std::time::Duration;
use support::cluster::{Cluster, ClusterSpec, Redis};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_harness_smoke() {
    let mut spec = ClusterSpec::new(3, &broker().bootstrap);
    spec.cluster_section = false;
    let mut cluster = Cluster::start(spec).await;
    let base = cluster.base();

    let mut ids = Vec::new();
    for i in 0..3 {
        let body = batch(&[post(&format!("smoke-{i}"), "路灯不亮")]);
        let r = send_web(&cluster.client, &base, PARTNER, SECRET, now(), &body)
            .await
            .expect("request through haproxy");
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        ids.push(v["results"][0]["request_id"].as_str().unwrap().to_string());
    }
    for replica in &cluster.replicas {
        assert_eq!(
            replica.requests_answered(&cluster.client, "web").await,
            1,
            "round-robin: each of 3 consecutive requests on its own replica ({})",
            replica.instance_id
        );
    }
    let records = cluster.consume_requests(3, Duration::from_secs(20));
    let mut on_topic: Vec<String> = records
        .iter()
        .map(|r| r.value["request_id"].as_str().unwrap().to_string())
        .collect();
    on_topic.sort();
    ids.sort();
    assert_eq!(on_topic, ids);
    records.iter().for_each(|r| assert_valid_request(&r.value));

    // kill -9 of one replica: HAProxy sees it down and the others answer; a restart on the same
    // data dir and ports brings it back into the rotation.
    cluster.kill9(1).await;
    assert!(!cluster.replicas[1].is_running());
    for i in 0..2 {
        let body = batch(&[post(&format!("smoke-down-{i}"), "路灯不亮")]);
        let r = send_web(&cluster.client, &base, PARTNER, SECRET, now(), &body)
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "served by the replicas still up");
    }
    cluster.restart(1).await;
    assert_eq!(
        cluster.replicas[1]
            .requests_answered(&cluster.client, "web")
            .await,
        0,
        "a fresh process"
    );
    for i in 0..3 {
        let body = batch(&[post(&format!("smoke-back-{i}"), "路灯不亮")]);
        let r = send_web(&cluster.client, &base, PARTNER, SECRET, now(), &body)
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    assert_eq!(
        cluster.replicas[1]
            .requests_answered(&cluster.client, "web")
            .await,
        1,
        "back in the rotation"
    );
    assert_eq!(
        cluster.consume_requests(8, Duration::from_secs(20)).len(),
        8
    );
}

#[test]
fn redis_can_be_frozen_thawed_killed_and_restarted_on_its_port() {
    let mut redis = Redis::start();
    assert!(redis.redis_url().starts_with("redis://127.0.0.1:"));
    assert_eq!(redis.command(&["SET", "intake-test-k", "v"]), "+OK");
    assert_eq!(
        redis.keys("intake-test-"),
        vec!["intake-test-k".to_string()]
    );
    redis.freeze();
    let stream = std::net::TcpStream::connect(("127.0.0.1", redis.port())).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    std::io::Write::write_all(&mut &stream, b"*1\r\n$4\r\nPING\r\n").unwrap();
    let mut buf = [0u8; 16];
    assert!(
        std::io::Read::read(&mut &stream, &mut buf).is_err(),
        "a frozen Redis does not answer"
    );
    redis.thaw();
    assert_eq!(redis.command(&["PING"]), "+PONG");
    redis.kill();
    redis.restart();
    assert_eq!(redis.command(&["DBSIZE"]), ":0", "restarted empty");
}
