//! Kafka over TLS, mutual TLS and SASL, against a real broker: tansu behind stunnel4 for TLS
//! (tansu 0.6 cannot terminate TLS itself), tansu's own `--authentication` for SASL.
//! Certificates come from a test CA made by rcgen for each test.

mod support;

use intake_gateway::config::{Brokers, KafkaSaslConfig, KafkaTlsConfig, Secret};
use serde_json::Value;
use std::time::{Duration, Instant};
use support::broker::{create_topics_with, free_port};
use support::tls::{client_props, Pki, TlsBroker};
use support::*;

/// A Kafka-mode config against `bootstrap`, topics created over `props`.
async fn config_for(
    bootstrap: &str,
    props: &[(String, String)],
) -> (intake_gateway::Config, tempfile::TempDir) {
    let (mut config, data) = test_config(false).await;
    config.kafka.brokers = Brokers::Joined(bootstrap.to_string());
    config.kafka.delivery_timeout = Duration::from_secs(5);
    config.spool.after = Duration::from_millis(300);
    let k = &config.kafka;
    create_topics_with(
        props,
        bootstrap,
        &[&k.topic, &k.events_topic, &k.dead_letter_topic],
        1,
    )
    .await;
    (config, data)
}

async fn get_json(app: &TestApp, path: &str) -> Value {
    app.client
        .get(format!("{}{path}", app.ops))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Posts one web request and returns its request id (200 accepted).
async fn post_one(app: &TestApp, id: &str) -> String {
    let r = app.post_web(&batch(&[post(id, "路灯不亮")])).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["results"][0]["status"], "accepted", "{v}");
    v["results"][0]["request_id"].as_str().unwrap().to_string()
}

async fn wait_sink_up(app: &TestApp) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ready = get_json(app, "/readyz").await;
        if ready["sink_up"] == true || Instant::now() > deadline {
            return ready;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn delivered(props: &[(String, String)], bootstrap: &str, topic: &str, id: &str) -> bool {
    consume_with(props, bootstrap, topic, 1, Duration::from_secs(15))
        .iter()
        .any(|r| {
            assert_valid_request(&r.value);
            r.value["request_id"] == id
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_are_delivered_over_tls() {
    let pki = Pki::new("intake test ca");
    let broker = TlsBroker::start(&pki, false);
    let props = client_props(&pki.ca, None);
    let (mut config, _data) = config_for(&broker.bootstrap, &props).await;
    config.kafka.tls = Some(KafkaTlsConfig {
        ca_file: Some(pki.ca.clone()),
        ..Default::default()
    });
    let topic = config.kafka.topic.clone();
    let app = start(config).await;
    let ready = wait_sink_up(&app).await;
    assert_eq!(ready["sink_up"], true, "{ready}");
    assert_eq!(ready["sink_detail"], Value::Null, "{ready}");
    let id = post_one(&app, "tls-1").await;
    assert!(delivered(&props, &broker.bootstrap, &topic, &id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_are_delivered_over_mutual_tls_and_refused_without_a_client_certificate() {
    let pki = Pki::new("intake mtls ca");
    let broker = TlsBroker::start(&pki, true);
    let props = client_props(&pki.ca, Some((&pki.client_cert, &pki.client_key)));
    let (mut config, _data) = config_for(&broker.bootstrap, &props).await;
    let topic = config.kafka.topic.clone();

    // Without the client certificate the terminator ends every handshake: the sink stays down.
    let (mut anonymous, _anonymous_data) = test_config(false).await;
    anonymous.kafka = config.kafka.clone();
    anonymous.kafka.tls = Some(KafkaTlsConfig {
        ca_file: Some(pki.ca.clone()),
        ..Default::default()
    });
    let app = start(anonymous).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let ready = get_json(&app, "/readyz").await;
    assert_eq!(ready["sink_up"], false, "{ready}");
    assert!(ready["sink_detail"].is_string(), "{ready}");
    drop(app);

    config.kafka.tls = Some(KafkaTlsConfig {
        ca_file: Some(pki.ca.clone()),
        cert_file: Some(pki.client_cert.clone()),
        key_file: Some(pki.client_key.clone()),
        key_password: None,
    });
    let app = start(config).await;
    let ready = wait_sink_up(&app).await;
    assert_eq!(ready["sink_up"], true, "{ready}");
    let id = post_one(&app, "mtls-1").await;
    assert!(delivered(&props, &broker.bootstrap, &topic, &id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_ca_keeps_the_sink_down_with_the_certificate_error_and_spools() {
    let pki = Pki::new("the broker's ca");
    let other = Pki::new("some other ca");
    let broker = TlsBroker::start(&pki, false);
    let props = client_props(&pki.ca, None);
    let (mut config, _data) = config_for(&broker.bootstrap, &props).await;
    config.kafka.tls = Some(KafkaTlsConfig {
        ca_file: Some(other.ca.clone()),
        ..Default::default()
    });
    let topic = config.kafka.topic.clone();
    let app = start(config).await;
    let ready = get_json(&app, "/readyz").await;
    assert_eq!(ready["sink_up"], false, "{ready}");
    let detail = ready["sink_detail"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        detail.contains("certificate verify failed"),
        "readyz names the certificate error: {ready}"
    );
    // Exactly as when Kafka is away: acknowledged from the spool, never sent unverified.
    let id = post_one(&app, "wrong-ca-1").await;
    let ready = get_json(&app, "/readyz").await;
    assert_eq!(ready["spool"]["entries"], 1, "{ready}");
    let stats = get_json(&app, "/ops/api/stats").await;
    assert!(
        stats["sink"]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("certificate verify failed")),
        "{}",
        stats["sink"]
    );
    assert!(
        stats["problems"]
            .to_string()
            .contains("certificate verify failed"),
        "{}",
        stats["problems"]
    );
    assert!(!delivered(&props, &broker.bootstrap, &topic, &id));
}

/// The reason is logged once, not once per librdkafka retry (the binary, for its real logs).
#[test]
fn the_tls_error_is_logged_once_per_change() {
    let pki = Pki::new("log ca");
    let other = Pki::new("log other ca");
    let broker = TlsBroker::start(&pki, false);
    let data = tempfile::tempdir().unwrap();
    let ops_port = free_port();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_intake-gateway"))
        .env(
            "INTAKE__SERVER__LISTEN",
            format!("127.0.0.1:{}", free_port()),
        )
        .env("INTAKE__OPS__LISTEN", format!("127.0.0.1:{ops_port}"))
        .env("INTAKE__STORAGE__DATA_DIR", data.path())
        .env("INTAKE__KAFKA__BROKERS", &broker.bootstrap)
        .env("INTAKE__KAFKA__TLS__CA_FILE", &other.ca)
        .env_remove("INTAKE_CONFIG")
        .env_remove("RUST_LOG")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("gateway binary");
    // librdkafka retries the handshake several times in 8 s (reconnect.backoff 100 ms .. 10 s).
    std::thread::sleep(Duration::from_secs(8));
    unsafe { libc::kill(out.id() as i32, libc::SIGTERM) };
    let output = out.wait_with_output().unwrap();
    let logs = String::from_utf8_lossy(&output.stderr);
    let reasons: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("kafka connection error"))
        .collect();
    assert_eq!(reasons.len(), 1, "one line per change:\n{logs}");
    assert!(
        reasons[0].contains("certificate verify failed"),
        "{}",
        reasons[0]
    );
}

/// tansu 0.6 with `--authentication` speaks SCRAM-SHA-256/512 (and OAUTHBEARER), refuses PLAIN,
/// and refuses every request before authentication, including the AlterUserScramCredentials
/// that `tansu user create` sends: with the memory storage no user can ever exist. So this is
/// the failure half, against the real broker over SASL_SSL: the gateway authenticates with SCRAM
/// over a verified TLS connection, the broker rejects the credentials, and the sink is down with
/// the authentication error in words, requests spooled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_sasl_password_keeps_the_sink_down_with_the_authentication_error() {
    let pki = Pki::new("sasl ca");
    let broker = TlsBroker::start_with(&pki, false, &["--authentication"]);
    let (mut config, _data) = test_config(false).await;
    config.kafka.brokers = Brokers::Joined(broker.bootstrap.clone());
    config.kafka.delivery_timeout = Duration::from_secs(5);
    config.spool.after = Duration::from_millis(300);
    config.kafka.tls = Some(KafkaTlsConfig {
        ca_file: Some(pki.ca.clone()),
        ..Default::default()
    });
    config.kafka.sasl = Some(KafkaSaslConfig {
        mechanism: "SCRAM-SHA-512".into(),
        username: "intake".into(),
        password: Secret::from("not-the-password"),
    });
    let app = start(config).await;
    let ready = get_json(&app, "/readyz").await;
    assert_eq!(ready["sink_up"], false, "{ready}");
    let detail = ready["sink_detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("SASL") && detail.to_lowercase().contains("authentication"),
        "readyz names the authentication error: {ready}"
    );
    assert!(!detail.contains("not-the-password"), "{detail}");
    post_one(&app, "sasl-1").await;
    let ready = get_json(&app, "/readyz").await;
    assert_eq!(ready["spool"]["entries"], 1, "{ready}");
}
