//! HTTPS on the public listener (`[server.tls]`), for sites without a TLS-terminating proxy.
//!
//! rustls with the `ring` provider (no cmake or nasm needed to build). The certificate and key
//! are re-read on SIGHUP and when either file's modification time changes (checked every 2 s,
//! which covers cert-manager and certbot renewals): new handshakes use the new certificate,
//! connections already open keep theirs, none is dropped. A renewal that cannot be loaded is
//! logged and the previous certificate stays in use.

use axum_server::tls_rustls::RustlsConfig;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::task::JoinHandle;

use crate::config::ServerTlsConfig;

/// How often the files' modification times are compared.
const WATCH_EVERY: Duration = Duration::from_secs(2);

/// A rustls server configuration from PEM files; the error names the file and what is wrong.
pub fn server_config(cert_file: &Path, key_file: &Path) -> Result<Arc<ServerConfig>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_file)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| format!("server.tls.cert_file {}: {e}", cert_file.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "server.tls.cert_file {}: no certificate",
            cert_file.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key_file)
        .map_err(|e| format!("server.tls.key_file {}: {e}", key_file.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("server.tls: certificate and key do not fit: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The listener's live configuration plus the task that reloads it.
pub fn load(tls: &ServerTlsConfig) -> Result<RustlsConfig, String> {
    Ok(RustlsConfig::from_config(server_config(
        &tls.cert_file,
        &tls.key_file,
    )?))
}

fn modified(tls: &ServerTlsConfig) -> Option<(SystemTime, SystemTime)> {
    let m = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    Some((m(&tls.cert_file)?, m(&tls.key_file)?))
}

/// Reloads `live` on SIGHUP and when the files change, until aborted.
pub fn spawn_reloader(live: RustlsConfig, tls: ServerTlsConfig) -> JoinHandle<()> {
    tokio::spawn(async move {
        #[cfg(unix)]
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        let mut seen = modified(&tls);
        let mut tick = tokio::time::interval(WATCH_EVERY);
        loop {
            #[cfg(unix)]
            let why = tokio::select! {
                _ = tick.tick() => "changed",
                Some(_) = async { match hup.as_mut() { Some(h) => h.recv().await, None => std::future::pending().await } } => "SIGHUP",
            };
            #[cfg(not(unix))]
            let why = {
                tick.tick().await;
                "changed"
            };
            let now = modified(&tls);
            if why == "changed" && now == seen {
                continue;
            }
            seen = now;
            match server_config(&tls.cert_file, &tls.key_file) {
                Ok(config) => {
                    live.reload_from_config(config);
                    tracing::info!(trigger = why, cert_file = %tls.cert_file.display(), "TLS certificate reloaded");
                }
                Err(error) => {
                    tracing::warn!(trigger = why, %error, "TLS certificate not reloaded; the previous one stays in use")
                }
            }
        }
    })
}
