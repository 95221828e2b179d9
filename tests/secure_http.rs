//! HTTPS around the gateway: receipts to an HTTPS provider (test CA in `outbound.ca_file`), the
//! built-in TLS listener with certificate reload, and credentials on the operations listener.

mod support;

use intake_gateway::config::{OpsBasicAuth, Secret, ServerTlsConfig};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::tls::Pki;
use support::*;

/// An HTTPS fake SMS provider at `https://localhost:PORT` with `pki`'s server certificate;
/// returns how many sends it received.
async fn https_provider(pki: &Pki) -> (Arc<Mutex<usize>>, String) {
    let seen: Arc<Mutex<usize>> = Arc::default();
    let counter = seen.clone();
    let app = axum::Router::new().route(
        "/sms/send",
        axum::routing::post(move || {
            let counter = counter.clone();
            async move {
                *counter.lock().unwrap() += 1;
                "OK"
            }
        }),
    );
    let tls = axum_server::tls_rustls::RustlsConfig::from_config(
        intake_gateway::tls::server_config(&pki.server_cert, &pki.server_key).unwrap(),
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        axum_server::from_tcp_rustls(listener, tls)
            .serve(app.into_make_service())
            .await
            .unwrap()
    });
    (seen, format!("https://localhost:{port}"))
}

fn with_receipt_to(config: &mut intake_gateway::Config, base: &str) {
    let c = config.channels.sms.providers.get_mut("aliyun").unwrap();
    c.receipt = true;
    c.receipt_url = Some(Secret::from(format!("{base}/sms/send?to={{to}}").as_str()));
    c.receipt_method = serde_json::from_str("\"POST\"").unwrap();
    c.receipt_retry_base = Duration::from_millis(50);
}

async fn post_aliyun(app: &TestApp, sequence_id: u64) {
    let body = format!(
        r#"[{{"phone_number":"13812345678","content":"井盖丢了","send_time":"2026-11-24 15:59:30","dest_code":"1069012345","sequence_id":{sequence_id}}}]"#
    );
    let r = app
        .client
        .post(format!("{}/hooks/sms/aliyun?token={SMS_TOKEN}", app.base))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

fn receipts(metrics: &str, outcome: &str) -> u64 {
    metrics
        .lines()
        .filter(|l| {
            l.starts_with("intake_receipts_total") && l.contains(&format!("outcome=\"{outcome}\""))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_reach_an_https_provider_trusted_through_outbound_ca_file() {
    let pki = Pki::new("provider ca");
    let (seen, base) = https_provider(&pki).await;
    let (mut config, _data) = test_config(false).await;
    with_receipt_to(&mut config, &base);
    config.outbound.ca_file = Some(pki.ca.clone());
    let app = start(config).await;
    post_aliyun(&app, 9101).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while *seen.lock().unwrap() < 1 {
        assert!(
            Instant::now() < deadline,
            "the receipt reached the HTTPS provider"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_provider_certificate_fails_the_receipt_and_nothing_is_sent() {
    let pki = Pki::new("unknown provider ca");
    let (seen, base) = https_provider(&pki).await;
    let (mut config, _data) = test_config(false).await;
    with_receipt_to(&mut config, &base);
    let app = start(config).await;
    let before = receipts(&app.metrics().await, "failed");
    post_aliyun(&app, 9102).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while receipts(&app.metrics().await, "failed") <= before {
        assert!(Instant::now() < deadline, "the receipt failed within 20 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        *seen.lock().unwrap(),
        0,
        "no request over an unverified connection"
    );
}

fn https_client(ca: &std::path::Path) -> reqwest::Client {
    let pem = std::fs::read(ca).unwrap();
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_listener_serves_https_and_picks_up_a_renewed_certificate() {
    let pki = Pki::new("listener ca");
    let (mut config, _data) = test_config(false).await;
    config.server.tls = Some(ServerTlsConfig {
        cert_file: pki.server_cert.clone(),
        key_file: pki.server_key.clone(),
    });
    let app = start(config).await;
    let base = format!("https://localhost:{}", app.addr().port());
    let old = https_client(&pki.ca);
    let body = batch(&[post("tls-listener-1", "噪音扰民")]);
    let r = send_web(&old, &base, PARTNER, SECRET, now(), &body)
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Plain HTTP on the TLS port gets no answer.
    let plain = reqwest::Client::new()
        .get(format!(
            "http://127.0.0.1:{}/hooks/web/{PARTNER}",
            app.addr().port()
        ))
        .timeout(Duration::from_secs(3))
        .send()
        .await;
    assert!(plain.is_err() || plain.unwrap().status().is_client_error());

    let new_ca = pki.rotate_server("renewed ca");
    let new = https_client(&new_ca);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let body = batch(&[post("tls-listener-2", "噪音扰民")]);
        match send_web(&new, &base, PARTNER, SECRET, now(), &body).await {
            Ok(r) if r.status() == 200 => break,
            _ => assert!(
                Instant::now() < deadline,
                "renewed certificate served within 15 s"
            ),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The connection opened before the renewal is still served (pooled, not re-handshaken).
    let body = batch(&[post("tls-listener-3", "噪音扰民")]);
    let r = send_web(&old, &base, PARTNER, SECRET, now(), &body)
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ops_listener_wants_credentials_except_for_health_and_readiness() {
    let (mut config, _data) = test_config(false).await;
    let token = "ops-token-0123456789";
    config.ops.token = Some(Secret::from(token));
    config.ops.basic = Some(OpsBasicAuth {
        username: "watch".into(),
        password: Secret::from("wall-screen"),
    });
    let app = start(config).await;
    let get = |path: &str| app.client.get(format!("{}{path}", app.ops));
    for open in ["/healthz", "/readyz"] {
        assert_eq!(get(open).send().await.unwrap().status(), 200, "{open}");
    }
    for closed in ["/metrics", "/ops", "/ops/api/stats"] {
        let r = get(closed).send().await.unwrap();
        assert_eq!(r.status(), 401, "{closed}");
        assert!(r.headers().contains_key("www-authenticate"));
        let r = get(closed).bearer_auth("wrong").send().await.unwrap();
        assert_eq!(r.status(), 401, "{closed}");
        let r = get(closed).bearer_auth(token).send().await.unwrap();
        assert_eq!(r.status(), 200, "{closed}");
        let r = get(closed)
            .basic_auth("watch", Some("wall-screen"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{closed}");
    }
    // The page opened with ?token= passes it on to its API calls.
    let r = get(&format!("/ops?token={token}")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Authorization: `Bearer ${TOKEN}`"));
    assert_eq!(
        get(&format!("/metrics?token={token}"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
}

/// SIGHUP re-reads the certificate even when the files' times did not change (the binary, so
/// that the signal goes to the gateway alone).
#[test]
fn sighup_reloads_the_listener_certificate() {
    let pki = Pki::new("hup ca");
    let data = tempfile::tempdir().unwrap();
    let port = support::broker::free_port();
    let ops_port = support::broker::free_port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_intake-gateway"))
        .env("INTAKE__SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("INTAKE__OPS__LISTEN", format!("127.0.0.1:{ops_port}"))
        .env("INTAKE__STORAGE__DATA_DIR", data.path())
        .env("INTAKE__SERVER__TLS__CERT_FILE", &pki.server_cert)
        .env("INTAKE__SERVER__TLS__KEY_FILE", &pki.server_key)
        .env_remove("INTAKE_CONFIG")
        .env_remove("RUST_LOG")
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("gateway binary");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let ok = runtime.block_on(async {
        let ops = format!("http://127.0.0.1:{ops_port}");
        assert!(wait_healthy(&reqwest::Client::new(), &ops, Duration::from_secs(20)).await);
        let url = format!("https://localhost:{port}/healthz-not-here");
        // Any HTTP answer (404) proves the handshake with the client's trusted CA went through.
        let answers = |ca: &std::path::Path| {
            let client = https_client(ca);
            let url = url.clone();
            async move { client.get(url).send().await.is_ok() }
        };
        assert!(answers(&pki.ca).await, "initial certificate served");
        let times = |p: &std::path::Path| std::fs::metadata(p).unwrap().modified().unwrap();
        let (cert_time, key_time) = (times(&pki.server_cert), times(&pki.server_key));
        let new_ca = pki.rotate_server("hup renewed ca");
        for (p, t) in [(&pki.server_cert, cert_time), (&pki.server_key, key_time)] {
            std::fs::File::options()
                .write(true)
                .open(p)
                .unwrap()
                .set_modified(t)
                .unwrap();
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert!(
            !answers(&new_ca).await,
            "no reload without a change or a signal"
        );
        unsafe { libc::kill(child.id() as i32, libc::SIGHUP) };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if answers(&new_ca).await {
                break true;
            }
            if Instant::now() > deadline {
                break false;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
    assert!(ok, "SIGHUP reloaded the certificate");
}
