//! Optional OTLP export: with `log.otlp_endpoint` set, the gateway binary sends its spans to
//! `{endpoint}/v1/traces` as protobuf, and what is still batched at SIGTERM is flushed.

mod support;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post as route_post;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::broker::free_port;
use support::*;

/// What the fake collector saw: (content-type, body length) per POST /v1/traces.
type Seen = Arc<Mutex<Vec<(String, usize)>>>;

async fn collect(State(seen): State<Seen>, headers: HeaderMap, body: axum::body::Bytes) {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    seen.lock().unwrap().push((content_type, body.len()));
}

fn exported(seen: &Seen) -> bool {
    seen.lock()
        .unwrap()
        .iter()
        .any(|(ct, len)| ct == "application/x-protobuf" && *len > 0)
}

#[test]
fn spans_reach_the_collector_and_are_flushed_at_shutdown() {
    export_and_flush(None);
}

/// The same to an `https://` collector whose certificate is signed by `outbound.ca_file`.
#[test]
fn spans_reach_an_https_collector_trusted_through_outbound_ca_file() {
    let pki = support::tls::Pki::new("collector ca");
    export_and_flush(Some(&pki));
}

fn export_and_flush(tls: Option<&support::tls::Pki>) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let seen: Seen = Arc::default();
    let collector = runtime.block_on(async {
        let app = axum::Router::new()
            .route("/v1/traces", route_post(collect))
            .with_state(seen.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        match tls {
            None => {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
                format!("http://127.0.0.1:{port}")
            }
            Some(pki) => {
                let config = axum_server::tls_rustls::RustlsConfig::from_config(
                    intake_gateway::tls::server_config(&pki.server_cert, &pki.server_key).unwrap(),
                );
                tokio::spawn(async move {
                    axum_server::from_tcp_rustls(listener, config)
                        .serve(app.into_make_service())
                        .await
                        .unwrap()
                });
                format!("https://localhost:{port}")
            }
        }
    });

    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let ops_port = free_port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_intake-gateway"))
        .env("INTAKE__SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("INTAKE__OPS__LISTEN", format!("127.0.0.1:{ops_port}"))
        .env("INTAKE__STORAGE__DATA_DIR", data.path())
        .env(
            format!(
                "INTAKE__CHANNELS__WEB__PARTNERS__{}__SECRET",
                PARTNER.to_uppercase()
            ),
            SECRET,
        )
        .env("INTAKE__LOG__OTLP_ENDPOINT", &collector)
        .envs(tls.map(|pki| ("INTAKE__OUTBOUND__CA_FILE", pki.ca.clone())))
        .env_remove("INTAKE_CONFIG")
        .env_remove("RUST_LOG")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("gateway binary");

    runtime.block_on(async {
        let client = reqwest::Client::new();
        if !wait_healthy(
            &client,
            &format!("http://127.0.0.1:{ops_port}"),
            Duration::from_secs(20),
        )
        .await
        {
            let _ = child.kill();
            panic!("gateway did not start");
        }
        let body = batch(&[post("o-1", "测试")]);
        let base = format!("http://127.0.0.1:{port}");
        let r = send_web(&client, &base, PARTNER, SECRET, now(), &body)
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    });

    // SIGTERM right away: the span is still in the batch (scheduled every 5 s), so this also
    // shows that shutdown flushes it.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("gateway did not exit within 20 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status:?}");

    let deadline = Instant::now() + Duration::from_secs(5);
    while !exported(&seen) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.iter()
            .any(|(ct, len)| ct == "application/x-protobuf" && *len > 0),
        "no protobuf POST /v1/traces with a body reached the collector: {seen:?}"
    );
}
