//! `[kafka.tls]` and `[kafka.sasl]`: a secured Kafka connection as typed settings, turned into
//! librdkafka properties in one place.
//!
//! Typed keys exist so that the usual setups (SCRAM over TLS, mutual TLS) are checked before
//! the gateway starts: files readable and in PEM, mechanisms this build supports, and no raw
//! `[kafka.properties]` entry quietly overriding a typed one. Verification is always on: a raw
//! property that would switch it off is refused, since TLS is never silently weakened; so is one
//! that would weaken delivery (acks below all, idempotence off), on which every 2xx rests.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::Secret;

/// `[kafka.tls]`: present (even empty) means the connection to the brokers is TLS.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaTlsConfig {
    /// PEM bundle of the CAs that signed the brokers' certificates; unset = the system's store.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate (chain) for mutual TLS; needs `key_file`.
    pub cert_file: Option<PathBuf>,
    /// PEM private key of `cert_file`.
    pub key_file: Option<PathBuf>,
    /// Passphrase of an encrypted `key_file`.
    pub key_password: Option<Secret>,
}

/// `[kafka.sasl]`: username and password authentication.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSaslConfig {
    /// `PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512`.
    pub mechanism: String,
    /// The SASL user.
    pub username: String,
    /// Its password (set it with `INTAKE__KAFKA__SASL__PASSWORD`).
    pub password: Secret,
}

/// Mechanisms the typed section accepts. OAUTHBEARER needs a token source and GSSAPI a
/// Kerberos library this build does not link; see the README.
pub const SASL_MECHANISMS: [&str; 3] = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"];

/// Raw properties that the typed sections own.
const TYPED_KEYS: [&str; 9] = [
    "security.protocol",
    "ssl.ca.location",
    "ssl.certificate.location",
    "ssl.key.location",
    "ssl.key.password",
    "sasl.mechanism",
    "sasl.mechanisms",
    "sasl.username",
    "sasl.password",
];

/// The `security.protocol` these sections mean.
pub fn security_protocol(
    tls: Option<&KafkaTlsConfig>,
    sasl: Option<&KafkaSaslConfig>,
) -> &'static str {
    match (tls.is_some(), sasl.is_some()) {
        (false, false) => "PLAINTEXT",
        (true, false) => "SSL",
        (false, true) => "SASL_PLAINTEXT",
        (true, true) => "SASL_SSL",
    }
}

/// Checks the sections and the raw properties together; the error says which key to fix.
pub fn validate(
    tls: Option<&KafkaTlsConfig>,
    sasl: Option<&KafkaSaslConfig>,
    properties: &BTreeMap<String, String>,
) -> Result<(), String> {
    for (key, value) in properties {
        let v = value.trim().to_ascii_lowercase();
        if key == "enable.ssl.certificate.verification" && v == "false" {
            return Err("kafka.properties: enable.ssl.certificate.verification = false is refused: \
                 the gateway never talks TLS to an unverified broker; give the broker's CA in kafka.tls.ca_file"
                .into());
        }
        if key == "ssl.endpoint.identification.algorithm" && v != "https" {
            return Err(
                "kafka.properties: ssl.endpoint.identification.algorithm must stay https \
                 (server name verification); give a certificate that names the broker"
                    .into(),
            );
        }
        // The 2xx promise rests on these two: acknowledged means on every in-sync replica, and
        // librdkafka's own retries never write a record twice.
        if matches!(key.as_str(), "acks" | "request.required.acks") && v != "all" && v != "-1" {
            return Err(format!(
                "kafka.properties: {key} = {value:?} is refused: a caller gets 2xx only once every in-sync replica has the record (acks = all)"
            ));
        }
        if key == "enable.idempotence" && v != "true" {
            return Err(format!(
                "kafka.properties: enable.idempotence = {value:?} is refused: a retried produce request could then write a request twice"
            ));
        }
        if (tls.is_some() || sasl.is_some()) && TYPED_KEYS.contains(&key.as_str()) {
            return Err(format!(
                "kafka.properties: {key:?} conflicts with [kafka.tls]/[kafka.sasl]; set it there, not as a raw property"
            ));
        }
    }
    if let Some(tls) = tls {
        if let Some(ca) = &tls.ca_file {
            check_pem(ca, "kafka.tls.ca_file", "CERTIFICATE")?;
        }
        match (&tls.cert_file, &tls.key_file) {
            (Some(cert), Some(key)) => {
                check_pem(cert, "kafka.tls.cert_file", "CERTIFICATE")?;
                check_pem(key, "kafka.tls.key_file", "PRIVATE KEY")?;
            }
            (Some(_), None) => return Err("kafka.tls.cert_file needs kafka.tls.key_file".into()),
            (None, Some(_)) => return Err("kafka.tls.key_file needs kafka.tls.cert_file".into()),
            (None, None) if tls.key_password.is_some() => {
                return Err("kafka.tls.key_password is set without kafka.tls.key_file".into())
            }
            (None, None) => {}
        }
    }
    if let Some(sasl) = sasl {
        let m = sasl.mechanism.to_ascii_uppercase();
        if !SASL_MECHANISMS.contains(&m.as_str()) {
            return Err(format!(
                "kafka.sasl.mechanism {:?} is not supported; use one of {}",
                sasl.mechanism,
                SASL_MECHANISMS.join(", ")
            ));
        }
        if sasl.username.is_empty() || sasl.password.expose().is_empty() {
            return Err("kafka.sasl.username and kafka.sasl.password must not be empty".into());
        }
    }
    Ok(())
}

/// The librdkafka properties of the sections (after [`validate`]).
pub fn client_properties(
    tls: Option<&KafkaTlsConfig>,
    sasl: Option<&KafkaSaslConfig>,
) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if tls.is_none() && sasl.is_none() {
        return out;
    }
    out.push((
        "security.protocol",
        security_protocol(tls, sasl).to_string(),
    ));
    if let Some(tls) = tls {
        // Both are librdkafka's defaults; set anyway so no future default can weaken them.
        out.push(("enable.ssl.certificate.verification", "true".into()));
        out.push(("ssl.endpoint.identification.algorithm", "https".into()));
        if let Some(ca) = &tls.ca_file {
            out.push(("ssl.ca.location", ca.display().to_string()));
        }
        if let (Some(cert), Some(key)) = (&tls.cert_file, &tls.key_file) {
            out.push(("ssl.certificate.location", cert.display().to_string()));
            out.push(("ssl.key.location", key.display().to_string()));
        }
        if let Some(pw) = &tls.key_password {
            out.push(("ssl.key.password", pw.expose().to_string()));
        }
    }
    if let Some(sasl) = sasl {
        out.push(("sasl.mechanism", sasl.mechanism.to_ascii_uppercase()));
        out.push(("sasl.username", sasl.username.clone()));
        out.push(("sasl.password", sasl.password.expose().to_string()));
    }
    out
}

/// Readable, and holds a PEM block of `kind` (e.g. `CERTIFICATE`, `PRIVATE KEY`).
pub fn check_pem(path: &Path, key: &str, kind: &str) -> Result<(), String> {
    let text =
        std::fs::read(path).map_err(|e| format!("{key} {}: cannot read: {e}", path.display()))?;
    let text = String::from_utf8_lossy(&text);
    let found = text
        .lines()
        .any(|l| l.starts_with("-----BEGIN ") && l.contains(kind));
    if !found {
        return Err(format!(
            "{key} {}: no PEM {kind} block in the file",
            path.display()
        ));
    }
    Ok(())
}

/// Whether a raw property carries a secret (its value is redacted by `check-config`).
pub fn is_secret_property(key: &str) -> bool {
    key.contains("password")
        || key.contains("secret")
        || key.ends_with(".pem")
        || key.contains("token")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sasl() -> KafkaSaslConfig {
        KafkaSaslConfig {
            mechanism: "scram-sha-512".into(),
            username: "intake".into(),
            password: Secret::from("pw"),
        }
    }

    #[test]
    fn protocol_follows_the_sections() {
        let tls = KafkaTlsConfig::default();
        assert_eq!(security_protocol(None, None), "PLAINTEXT");
        assert_eq!(security_protocol(Some(&tls), None), "SSL");
        assert_eq!(security_protocol(None, Some(&sasl())), "SASL_PLAINTEXT");
        assert_eq!(security_protocol(Some(&tls), Some(&sasl())), "SASL_SSL");
        let props = client_properties(Some(&tls), Some(&sasl()));
        assert!(props.contains(&("sasl.mechanism", "SCRAM-SHA-512".into())));
        assert!(props.contains(&("enable.ssl.certificate.verification", "true".into())));
    }

    #[test]
    fn conflicting_or_weakening_properties_are_refused() {
        let mut p = BTreeMap::new();
        p.insert("security.protocol".to_string(), "SSL".to_string());
        assert!(
            validate(None, None, &p).is_ok(),
            "raw escape hatch without typed keys"
        );
        assert!(validate(None, Some(&sasl()), &p)
            .unwrap_err()
            .contains("conflicts"));
        let mut p = BTreeMap::new();
        p.insert("enable.ssl.certificate.verification".into(), "false".into());
        assert!(validate(None, None, &p).is_err());
        let mut p = BTreeMap::new();
        p.insert(
            "ssl.endpoint.identification.algorithm".into(),
            "none".into(),
        );
        assert!(validate(None, None, &p).is_err());
        for (key, value) in [
            ("acks", "1"),
            ("acks", "0"),
            ("request.required.acks", "1"),
            ("enable.idempotence", "false"),
        ] {
            let p = BTreeMap::from([(key.to_string(), value.to_string())]);
            let e = validate(None, None, &p).unwrap_err();
            assert!(e.contains(key) && e.contains("refused"), "{e}");
        }
        for (key, value) in [
            ("acks", "all"),
            ("acks", "-1"),
            ("enable.idempotence", "true"),
            ("linger.ms", "5"),
        ] {
            let p = BTreeMap::from([(key.to_string(), value.to_string())]);
            assert!(validate(None, None, &p).is_ok(), "{key} = {value}");
        }
    }

    #[test]
    fn raw_secret_properties_are_redacted_by_check_config() {
        let c = crate::config::Config::from_toml(
            "[kafka.properties]\n\"sasl.password\" = \"raw-pw\"\n\"security.protocol\" = \"SASL_SSL\"\n",
        )
        .unwrap();
        let shown = c.redacted_toml();
        assert!(
            !shown.contains("raw-pw") && shown.contains("SASL_SSL"),
            "{shown}"
        );
        assert_eq!(c.kafka.security_protocol(), "SASL_SSL");
    }

    #[test]
    fn files_and_mechanisms_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let missing = KafkaTlsConfig {
            ca_file: Some(dir.path().join("nope.pem")),
            ..Default::default()
        };
        let e = validate(Some(&missing), None, &BTreeMap::new()).unwrap_err();
        assert!(
            e.contains("kafka.tls.ca_file") && e.contains("cannot read"),
            "{e}"
        );
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "hello").unwrap();
        let bad = KafkaTlsConfig {
            ca_file: Some(junk),
            ..Default::default()
        };
        assert!(validate(Some(&bad), None, &BTreeMap::new())
            .unwrap_err()
            .contains("no PEM CERTIFICATE"));
        let half = KafkaTlsConfig {
            cert_file: Some(dir.path().join("c.pem")),
            ..Default::default()
        };
        assert!(validate(Some(&half), None, &BTreeMap::new()).is_err());
        let mut gssapi = sasl();
        gssapi.mechanism = "GSSAPI".into();
        assert!(validate(None, Some(&gssapi), &BTreeMap::new()).is_err());
    }
}
