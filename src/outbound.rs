//! The trust settings of every HTTP call the gateway makes (SMS receipts, OTLP export, later
//! pull-mode fetches): rustls with the system's CA store plus the optional `outbound.ca_file`.
//!
//! Certificates are always verified; there is no switch to turn that off. `http://` stays
//! allowed for services on the hotline's own network.

use std::error::Error as _;
use std::sync::Arc;

use crate::config::OutboundConfig;

/// Why the outbound trust settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    /// `outbound.ca_file` cannot be read or holds no usable certificate.
    #[error("outbound.ca_file: {0}")]
    CaFile(String),
}

/// The extra CAs, loaded once and shared by every client.
#[derive(Clone, Default)]
pub struct Outbound {
    extra_roots: Arc<Vec<reqwest::Certificate>>,
}

impl Outbound {
    /// Reads `outbound.ca_file` (if set).
    pub fn load(config: &OutboundConfig) -> Result<Self, OutboundError> {
        let Some(path) = &config.ca_file else {
            return Ok(Outbound::default());
        };
        let pem = std::fs::read(path)
            .map_err(|e| OutboundError::CaFile(format!("{}: {e}", path.display())))?;
        let roots = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| OutboundError::CaFile(format!("{}: {e}", path.display())))?;
        if roots.is_empty() {
            return Err(OutboundError::CaFile(format!(
                "{}: no certificate in the file",
                path.display()
            )));
        }
        Ok(Outbound {
            extra_roots: Arc::new(roots),
        })
    }

    /// An async client builder with the system's roots and the extra CAs.
    pub fn builder(&self) -> reqwest::ClientBuilder {
        let mut b = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_native_certs(true)
            .https_only(false);
        for cert in self.extra_roots.iter() {
            b = b.add_root_certificate(cert.clone());
        }
        b
    }

    /// The same for a blocking client (the OTLP exporter runs on its own thread).
    pub fn blocking_builder(&self) -> reqwest::blocking::ClientBuilder {
        let mut b = reqwest::blocking::Client::builder()
            .use_rustls_tls()
            .tls_built_in_native_certs(true);
        for cert in self.extra_roots.iter() {
            b = b.add_root_certificate(cert.clone());
        }
        b
    }
}

/// An error with its causes, e.g. `error sending request: client error (Connect): invalid peer
/// certificate: UnknownIssuer`: reqwest's own text alone does not say that a certificate failed.
pub fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_empty_bundle_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = OutboundConfig {
            ca_file: Some(dir.path().join("none.pem")),
        };
        assert!(Outbound::load(&missing).is_err());
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        assert!(Outbound::load(&OutboundConfig {
            ca_file: Some(empty)
        })
        .is_err());
        assert!(Outbound::load(&OutboundConfig::default()).is_ok());
    }
}
