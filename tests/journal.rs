//! The embedded default: no brokers configured, records go to the fsynced local journal.

mod support;

use serde_json::Value;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_brokers_records_go_to_the_journal() {
    let app = spawn_app(false).await;
    let reply: Value = app
        .post_web(&batch(&[
            post("j-1", "供暖不热"),
            post("j-2", "난방이 안 돼요"),
        ]))
        .await
        .json()
        .await
        .unwrap();
    assert!(reply["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["status"] == "accepted"));
    // 2xx means fsynced: the lines are there before shutdown.
    let entries = app.journal();
    assert_eq!(entries.len(), 2);
    for entry in &entries {
        assert_eq!(entry.topic, app.config.kafka.topic);
        let record: Value = serde_json::from_str(&entry.record).unwrap();
        assert_valid_request(&record);
        assert_eq!(
            entry.headers["request_id"],
            record["request_id"].as_str().unwrap()
        );
    }
    let ready: Value = app
        .client
        .get(format!("{}/readyz", app.ops))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["sink"], "journal");
    let app = app.restart().await;
    let again: Value = app
        .post_web(&batch(&[post("j-1", "供暖不热")]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["results"][0]["status"], "duplicate");
    assert_eq!(app.journal().len(), 2);
    app.gateway.unwrap().shutdown().await;
}

#[test]
fn sigterm_finishes_and_exits_zero() {
    let data = tempfile::tempdir().unwrap();
    let port = support::broker::free_port();
    let ops_port = support::broker::free_port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_intake-gateway"))
        .env("INTAKE__SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("INTAKE__OPS__LISTEN", format!("127.0.0.1:{ops_port}"))
        .env("INTAKE__STORAGE__DATA_DIR", data.path())
        // One runtime worker (`server.worker_threads`): the binary runs and shuts down on it too.
        .env("INTAKE__SERVER__WORKER_THREADS", "1")
        .env(
            format!(
                "INTAKE__CHANNELS__WEB__PARTNERS__{}__SECRET",
                PARTNER.to_uppercase()
            ),
            SECRET,
        )
        .env_remove("INTAKE_CONFIG")
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("gateway binary");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let ops = format!("http://127.0.0.1:{ops_port}");
        assert!(
            wait_healthy(&client, &ops, std::time::Duration::from_secs(20)).await,
            "gateway did not start"
        );
        let body = batch(&[post("t-1", "测试")]);
        let base = format!("http://127.0.0.1:{port}");
        let r = send_web(&client, &base, PARTNER, SECRET, now(), &body)
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    });
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert!(status.success(), "exit status {status:?}");
    let entries = intake_gateway::local_log::read_all(&data.path().join("journal"))
        .unwrap()
        .entries;
    assert_eq!(entries.len(), 1);
    assert!(
        data.path().join("dedup/seen.bin").metadata().unwrap().len() >= 24,
        "dedup index flushed at shutdown"
    );
}
