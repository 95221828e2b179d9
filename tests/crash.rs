//! kill -9 at random moments under load: afterwards every acknowledged request is on the topic,
//! and none is there twice. Rounds: `INTAKE_CRASH_ROUNDS` (default 4, about 30 s); a soak run is
//! e.g. `INTAKE_CRASH_ROUNDS=200 cargo test --test crash -- --nocapture`.

mod support;

use rand::Rng;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::broker::free_port;
use support::*;

struct Process {
    child: Child,
    base: String,
    ops: String,
}

fn spawn_gateway(data: &std::path::Path, topic: &str) -> Process {
    let (port, ops_port) = (free_port(), free_port());
    let child = Command::new(env!("CARGO_BIN_EXE_intake-gateway"))
        .env_remove("INTAKE_CONFIG")
        .env("INTAKE__SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("INTAKE__OPS__LISTEN", format!("127.0.0.1:{ops_port}"))
        .env("INTAKE__STORAGE__DATA_DIR", data)
        .env("INTAKE__KAFKA__BROKERS", &broker().bootstrap)
        .env("INTAKE__KAFKA__TOPIC", topic)
        .env("INTAKE__LIMITS__SENDER_PER_MINUTE", "0")
        .env("INTAKE__LIMITS__PARTNER_PER_MINUTE", "0")
        .env(
            format!(
                "INTAKE__CHANNELS__WEB__PARTNERS__{}__SECRET",
                PARTNER.to_uppercase()
            ),
            SECRET,
        )
        .env("INTAKE__LOG__LEVEL", "warn")
        .stderr(Stdio::null())
        .spawn()
        .expect("gateway binary");
    Process {
        child,
        base: format!("http://127.0.0.1:{port}"),
        ops: format!("http://127.0.0.1:{ops_port}"),
    }
}

/// Sends unique signed posts until the gateway stops answering; records what was acknowledged.
async fn load(
    client: reqwest::Client,
    base: String,
    worker: String,
    acked: Arc<Mutex<BTreeSet<String>>>,
) {
    for i in 0.. {
        let body = batch(&[post(&format!("{worker}-{i}"), "水管爆裂")]);
        let sent = send_web(&client, &base, PARTNER, SECRET, now(), &body).await;
        let Ok(response) = sent else { return };
        if response.status() == 200 {
            let Ok(v) = response.json::<Value>().await else {
                return;
            };
            acked.lock().unwrap().insert(
                v["results"][0]["request_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_loses_nothing_acknowledged_and_duplicates_nothing() {
    let rounds: usize = std::env::var("INTAKE_CRASH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    let data = tempfile::tempdir().unwrap();
    let topic = format!("intake.requests.v1.crash{}", uuid::Uuid::new_v4().simple());
    broker().create_topics(&[&topic], 3).await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let acked = Arc::new(Mutex::new(BTreeSet::new()));
    for round in 0..rounds {
        let mut gateway = spawn_gateway(data.path(), &topic);
        assert!(
            wait_healthy(&client, &gateway.ops, Duration::from_secs(30)).await,
            "gateway did not come up"
        );
        let workers: Vec<_> = (0..4)
            .map(|w| {
                tokio::spawn(load(
                    client.clone(),
                    gateway.base.clone(),
                    format!("r{round}w{w}"),
                    acked.clone(),
                ))
            })
            .collect();
        let alive = rand::rng().random_range(300..2000);
        tokio::time::sleep(Duration::from_millis(alive)).await;
        gateway.child.kill().expect("kill -9"); // SIGKILL: no shutdown path runs
        let _ = gateway.child.wait();
        for w in workers {
            let _ = w.await;
        }
    }
    // A last life to forward whatever a crash left in the spool.
    let mut gateway = spawn_gateway(data.path(), &topic);
    assert!(
        wait_healthy(&client, &gateway.ops, Duration::from_secs(30)).await,
        "gateway did not come up"
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready: Value = client
            .get(format!("{}/readyz", gateway.ops))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if ready["spool"]["entries"] == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "spool never drained: {ready}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 20,
        "the load did run ({} acknowledged)",
        acked.len()
    );
    let records = consume(
        &broker().bootstrap,
        &topic,
        acked.len(),
        Duration::from_secs(60),
    );
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for r in &records {
        *counts
            .entry(r.value["request_id"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    let lost: Vec<_> = acked
        .iter()
        .filter(|id| !counts.contains_key(*id))
        .collect();
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    eprintln!(
        "{rounds} crashes: {} acknowledged, {} on the topic",
        acked.len(),
        records.len()
    );
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    assert!(twice.is_empty(), "published twice: {twice:?}");
    gateway.child.kill().ok();
    let _ = gateway.child.wait();
}
