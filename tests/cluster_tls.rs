//! Cluster mode over `rediss://`: a real redis-server with TLS, its certificate from a CA the
//! test makes (openssl), trusted through `SSL_CERT_FILE` (the system trust store's override).
//! A certificate the gateway cannot verify leaves Redis "down", never an unverified link.

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::broker::free_port;
use support::cluster::{Cluster, ClusterSpec};
use support::*;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl (Debian package openssl) is needed for the TLS tests");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA: `{ca}.pem` and `{ca}.key`.
fn authority(dir: &Path, ca: &str) {
    let ca_key = format!("{ca}.key");
    let ca_pem = format!("{ca}.pem");
    let subject = format!("/CN={ca}");
    openssl(
        dir,
        &[
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", &ca_key, "-out", &ca_pem,
            "-days", "2", "-subj", &subject,
        ],
    );
}

/// `server.pem`/`server.key` for localhost and 127.0.0.1, signed by `ca`.
fn server_certificate(dir: &Path, ca: &str) {
    let ca_key = format!("{ca}.key");
    let ca_pem = format!("{ca}.pem");
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    std::fs::write(
        dir.join("ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            &ca_pem,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "ext",
        ],
    );
}

struct TlsRedis(Child);

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tls_redis(dir: &Path, port: u16) -> TlsRedis {
    let child = Command::new("redis-server")
        .args([
            "--port",
            "0",
            "--tls-port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
        ])
        .args([
            "--tls-cert-file",
            "server.pem",
            "--tls-key-file",
            "server.key",
        ])
        .args([
            "--tls-ca-cert-file",
            "trusted.pem",
            "--tls-auth-clients",
            "no",
        ])
        .args(["--save", "", "--appendonly", "no"])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server (Debian package redis-server) is needed for the cluster tests");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "redis-server with TLS did not listen"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    TlsRedis(child)
}

async fn redis_up_within(cluster: &Cluster, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    loop {
        let ready = cluster.replicas[0].readyz(&cluster.client).await;
        if ready["cluster"]["redis_up"] == true {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn spec(url: &str, ca: &Path) -> ClusterSpec {
    let mut spec = ClusterSpec::new(1, &broker().bootstrap).env("CLUSTER__REDIS_URL", url);
    spec.env
        .push(("SSL_CERT_FILE".into(), ca.display().to_string()));
    spec
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_is_verified_against_the_trust_store_and_never_falls_back_to_plaintext() {
    let dir = tempfile::tempdir().unwrap();
    authority(dir.path(), "trusted");
    authority(dir.path(), "stranger");
    server_certificate(dir.path(), "trusted");
    let port = free_port();
    let _redis = tls_redis(dir.path(), port);
    let url = format!("rediss://localhost:{port}/0");

    let trusted = Cluster::start(spec(&url, &dir.path().join("trusted.pem"))).await;
    assert!(
        redis_up_within(&trusted, Duration::from_secs(10)).await,
        "rediss:// with a trusted certificate: {}",
        trusted.replicas[0].log_tail()
    );
    let ready = trusted.replicas[0].readyz(&trusted.client).await;
    assert_eq!(
        ready["cluster"]["peers"],
        serde_json::json!(["gw-1"]),
        "{ready}"
    );
    drop(trusted);

    let untrusted = Cluster::start(spec(&url, &dir.path().join("stranger.pem"))).await;
    assert!(
        !redis_up_within(&untrusted, Duration::from_secs(5)).await,
        "a certificate from an unknown CA must not be accepted"
    );
    let log = untrusted.replicas[0].log_tail();
    assert!(
        log.to_lowercase().contains("certificate") || log.to_lowercase().contains("unknownissuer"),
        "the log says why Redis is unreachable:\n{log}"
    );
}
