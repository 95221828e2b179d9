//! `[server.tls]`, `[outbound]` and the operations listener's credentials: how the gateway's own
//! connections (other than Kafka's, see `kafka.rs`) are secured.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

use super::kafka::check_pem;
use super::Secret;

/// `[server.tls]`: the public listener speaks HTTPS with this certificate (re-read on SIGHUP
/// and when the files change).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerTlsConfig {
    /// PEM certificate chain, leaf first.
    pub cert_file: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1), unencrypted.
    pub key_file: PathBuf,
}

impl ServerTlsConfig {
    /// Both files readable and in PEM.
    pub fn validate(&self) -> Result<(), String> {
        check_pem(&self.cert_file, "server.tls.cert_file", "CERTIFICATE")?;
        check_pem(&self.key_file, "server.tls.key_file", "PRIVATE KEY")
    }
}

/// `[outbound]`: every HTTP call the gateway makes (SMS receipts, OTLP export).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboundConfig {
    /// Extra CA certificates (PEM bundle) trusted besides the system's store, e.g. a
    /// government cloud's private CA.
    pub ca_file: Option<PathBuf>,
}

impl OutboundConfig {
    /// The CA bundle, when set, is readable and in PEM.
    pub fn validate(&self) -> Result<(), String> {
        match &self.ca_file {
            Some(ca) => check_pem(ca, "outbound.ca_file", "CERTIFICATE"),
            None => Ok(()),
        }
    }
}

/// Basic-auth credentials of the operations listener.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpsBasicAuth {
    /// User name.
    pub username: String,
    /// Password (set it with `INTAKE__OPS__BASIC__PASSWORD`).
    pub password: Secret,
}
