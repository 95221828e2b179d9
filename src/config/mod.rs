//! Configuration: one TOML file, every key overridable by `INTAKE__SECTION__KEY` variables.
//!
//! Unknown keys are errors, not warnings: a mistyped `secert` would otherwise leave a partner
//! silently disabled. Secrets are a [`Secret`] type that never prints.

mod kafka;
mod limits;
pub mod names;
mod secret;
mod transport;

pub use crate::channels::call::config::{CallChannelConfig, CallSourceConfig};
pub use crate::channels::sms::config::{SmsChannelConfig, SmsProviderConfig};
pub use crate::channels::web::config::{WebChannelConfig, WebPartnerConfig};
pub use crate::channels::wechat::config::{WechatAccountConfig, WechatChannelConfig};
pub use crate::cluster::config::ClusterConfig;
pub use crate::routing::config::{
    DesksConfig, IvrDesk, LineConfig, MatchRule, RulesConfig, UrgentConfig,
};
pub use kafka::{KafkaSaslConfig, KafkaTlsConfig, SASL_MECHANISMS};
pub use limits::{LimitsConfig, SpoolConfig};
pub use secret::Secret;
pub use transport::{OpsBasicAuth, OutboundConfig, ServerTlsConfig};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The whole configuration of one gateway instance.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The public webhook listener.
    pub server: ServerConfig,
    /// The operations listener (health, readiness, metrics).
    pub ops: OpsConfig,
    /// Where local state lives.
    pub storage: StorageConfig,
    /// Where records go.
    pub kafka: KafkaConfig,
    /// The channels and their sources.
    pub channels: ChannelsConfig,
    /// Back-pressure: in-flight cap, rate limits, shutdown grace.
    pub limits: LimitsConfig,
    /// The local spool used while Kafka is away.
    pub spool: SpoolConfig,
    /// Logging.
    pub log: LogConfig,
    /// Outbound HTTP calls (receipts, OTLP): extra trusted CAs.
    pub outbound: OutboundConfig,
    /// Cluster mode (several replicas sharing state through Redis); absent = one instance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterConfig>,
    /// `[lines.<id>]`: the merged hotlines and special lines, by the id `source.line` carries.
    pub lines: BTreeMap<String, LineConfig>,
    /// `[desks]`: the desks an IVR choice stands for.
    pub desks: DesksConfig,
    /// `[rules]`: keyword rules adding tags, a desk or urgency (hints, never a refusal).
    pub rules: RulesConfig,
    /// `[urgent]`: the advice told to a citizen whose request looks urgent.
    pub urgent: UrgentConfig,
}

/// `[channels.*]`: each channel's own section, defined in its folder under `src/channels/`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChannelsConfig {
    /// The media partner's web-board and radio push.
    pub web: WebChannelConfig,
    /// WeChat official accounts.
    pub wechat: WechatChannelConfig,
    /// PBXes and SIP proxies reporting calls.
    pub call: CallChannelConfig,
    /// SMS gateways.
    pub sms: SmsChannelConfig,
}

impl ChannelsConfig {
    fn validate(&self) -> Result<(), String> {
        self.web.validate()?;
        self.sms.validate()?;
        self.call.validate()?;
        self.wechat.validate()
    }
}

/// `[server]`
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address of the public webhook listener.
    pub listen: SocketAddr,
    /// Largest accepted body; larger ones get 413.
    pub max_body_bytes: usize,
    /// A request still unanswered after this gets 408.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// HTTPS on the public listener; absent = plain HTTP (TLS terminated by a proxy in front).
    pub tls: Option<ServerTlsConfig>,
    /// Threads that serve the public hook listener, each with a single-threaded runtime of its
    /// own (see `per_core`), and the workers of the runtime that runs everything else; absent =
    /// one per core. Fewer than the cores can suit a machine shared with the broker or other work:
    /// the journal's writer, the log writer and Kafka's client threads keep a core
    /// (README "Performance").
    pub worker_threads: Option<usize>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: ([127, 0, 0, 1], 8080).into(),
            max_body_bytes: 256 * 1024,
            request_timeout: Duration::from_secs(10),
            tls: None,
            worker_threads: None,
        }
    }
}

/// `[ops]`
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpsConfig {
    /// Address of `/healthz`, `/readyz` and `/metrics`.
    pub listen: SocketAddr,
    /// Bearer token required for everything but `/healthz` and `/readyz` (set it with
    /// `INTAKE__OPS__TOKEN`); the ops page also takes it as `?token=`.
    pub token: Option<Secret>,
    /// Basic-auth credentials accepted instead of (or besides) the token.
    pub basic: Option<OpsBasicAuth>,
    /// The time zone whose midnight starts "today" in the per-line counts (IANA name).
    pub timezone: String,
}

impl Default for OpsConfig {
    fn default() -> Self {
        OpsConfig {
            listen: ([127, 0, 0, 1], 9090).into(),
            token: None,
            basic: None,
            timezone: "Asia/Shanghai".into(),
        }
    }
}

/// `[storage]`
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// Directory of the journal, the dedup index and (later) the spool.
    pub data_dir: PathBuf,
    /// How long a request id is remembered: re-deliveries within it are duplicates.
    #[serde(with = "humantime_serde")]
    pub dedup_window: Duration,
    /// Upper bound of remembered ids; the oldest go first when it is reached.
    pub dedup_max_entries: usize,
    /// Size at which a journal segment file is closed and the next one started.
    pub segment_bytes: u64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            data_dir: PathBuf::from("./data"),
            dedup_window: Duration::from_secs(72 * 3600),
            dedup_max_entries: 5_000_000,
            segment_bytes: 64 * 1024 * 1024,
        }
    }
}

/// `[kafka]`; no brokers means the embedded journal.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaConfig {
    /// Bootstrap brokers, as a list or one comma-separated string; empty = embedded journal.
    pub brokers: Brokers,
    /// Topic of request records.
    pub topic: String,
    /// Topic of channel events (WeChat follows, call progress).
    pub events_topic: String,
    /// Topic of dead letters.
    pub dead_letter_topic: String,
    /// Topic that also receives every urgent request (`routing.priority = "urgent"`), so a
    /// dispatcher console can watch only those.
    pub urgent_topic: String,
    /// How long a caller waits for the broker's acknowledgement before getting 503.
    #[serde(with = "humantime_serde")]
    pub delivery_timeout: Duration,
    /// How long librdkafka keeps trying a message after the caller got its answer.
    #[serde(with = "humantime_serde")]
    pub message_timeout: Duration,
    /// `lz4`, `zstd`, `gzip`, `snappy` or `none`.
    pub compression: String,
    /// TLS to the brokers (present = on): CA, client certificate for mutual TLS.
    pub tls: Option<KafkaTlsConfig>,
    /// SASL authentication: mechanism, username, password.
    pub sasl: Option<KafkaSaslConfig>,
    /// Extra librdkafka properties, passed through verbatim: the escape hatch. One that a typed
    /// `tls`/`sasl` key also sets is an error.
    pub properties: BTreeMap<String, String>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            brokers: Brokers::default(),
            topic: "intake.requests.v1".into(),
            events_topic: "intake.events.v1".into(),
            dead_letter_topic: "intake.rejected.v1".into(),
            urgent_topic: "intake.urgent.v1".into(),
            delivery_timeout: Duration::from_secs(3),
            message_timeout: Duration::from_secs(30),
            compression: "lz4".into(),
            tls: None,
            sasl: None,
            properties: BTreeMap::new(),
        }
    }
}

impl KafkaConfig {
    /// The bootstrap.servers value, or `None` for the embedded journal.
    pub fn bootstrap_servers(&self) -> Option<String> {
        self.brokers.bootstrap()
    }

    /// The librdkafka properties of `[kafka.tls]` and `[kafka.sasl]`, then the raw ones.
    pub fn security_properties(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> =
            kafka::client_properties(self.tls.as_ref(), self.sasl.as_ref())
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
        out.extend(self.properties.iter().map(|(k, v)| (k.clone(), v.clone())));
        out
    }

    /// `PLAINTEXT`, `SSL`, `SASL_PLAINTEXT` or `SASL_SSL`, as configured.
    pub fn security_protocol(&self) -> String {
        match self.properties.get("security.protocol") {
            Some(p) => p.to_ascii_uppercase(),
            None => kafka::security_protocol(self.tls.as_ref(), self.sasl.as_ref()).to_string(),
        }
    }
}

/// Broker list that accepts `"a:9092,b:9092"` (what an environment variable can carry) and
/// `["a:9092", "b:9092"]` (what TOML reads best).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Brokers {
    /// Comma-separated.
    Joined(String),
    /// One per element.
    List(Vec<String>),
}

impl Default for Brokers {
    fn default() -> Self {
        Brokers::Joined(String::new())
    }
}

impl Brokers {
    /// The bootstrap.servers value, or `None` when no broker is configured.
    pub fn bootstrap(&self) -> Option<String> {
        let list: Vec<String> = match self {
            Brokers::Joined(s) => s.split(',').map(|b| b.trim().to_string()).collect(),
            Brokers::List(v) => v.iter().map(|b| b.trim().to_string()).collect(),
        };
        let list: Vec<String> = list.into_iter().filter(|b| !b.is_empty()).collect();
        (!list.is_empty()).then(|| list.join(","))
    }
}

/// `[log]`
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `json` (default, for log shippers) or `text` (for people at a terminal).
    pub format: String,
    /// A tracing filter, e.g. `info` or `intake_gateway=debug`.
    pub level: String,
    /// OTLP/HTTP collector base URL, e.g. `http://127.0.0.1:4318`: spans go to
    /// `{otlp_endpoint}/v1/traces` as protobuf. Empty (the default) exports nothing.
    pub otlp_endpoint: String,
    /// `service.name` of the exported spans.
    pub otlp_service_name: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: "json".into(),
            level: "info".into(),
            otlp_endpoint: String::new(),
            otlp_service_name: "intake-gateway".into(),
        }
    }
}

/// Why the configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file or an override does not parse or has unknown keys.
    #[error("{0}")]
    Parse(#[from] Box<figment::Error>),
    /// It parses but cannot work.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Defaults, then `file` (if any), then `INTAKE__*` environment variables.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            if !file.exists() {
                return Err(ConfigError::Invalid(format!(
                    "config file {} does not exist",
                    file.display()
                )));
            }
            figment = figment.merge(Toml::file(file));
        }
        Self::extract(figment.merge(Env::prefixed("INTAKE__").split("__")))
    }

    /// Parses a TOML string (tests and `check-config`), without the environment.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        Self::extract(
            Figment::from(Serialized::defaults(Config::default())).merge(Toml::string(text)),
        )
    }

    fn extract(figment: Figment) -> Result<Self, ConfigError> {
        let config: Config = figment.extract().map_err(Box::new)?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.server.worker_threads == Some(0) {
            return Err(ConfigError::Invalid(
                "server.worker_threads must be at least 1 (leave it out for one per core)".into(),
            ));
        }
        if self.server.listen == self.ops.listen && self.server.listen.port() != 0 {
            return Err(ConfigError::Invalid(
                "server.listen and ops.listen must differ".into(),
            ));
        }
        if self.kafka.delivery_timeout.is_zero() {
            return Err(ConfigError::Invalid(
                "kafka.delivery_timeout must be above zero".into(),
            ));
        }
        for topic in [
            &self.kafka.topic,
            &self.kafka.events_topic,
            &self.kafka.dead_letter_topic,
            &self.kafka.urgent_topic,
        ] {
            if topic.is_empty()
                || !topic
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            {
                return Err(ConfigError::Invalid(format!(
                    "{topic:?} is not a valid Kafka topic name"
                )));
            }
        }
        if !["json", "text"].contains(&self.log.format.as_str()) {
            return Err(ConfigError::Invalid(
                "log.format must be json or text".into(),
            ));
        }
        if !self.log.otlp_endpoint.is_empty() {
            let e = &self.log.otlp_endpoint;
            if !(e.starts_with("http://") || e.starts_with("https://"))
                || e.parse::<axum::http::Uri>().is_err()
            {
                return Err(ConfigError::Invalid(format!(
                    "log.otlp_endpoint {e:?} must be an http:// or https:// URL such as http://127.0.0.1:4318"
                )));
            }
            if self.log.otlp_service_name.is_empty() {
                return Err(ConfigError::Invalid(
                    "log.otlp_service_name must not be empty".into(),
                ));
            }
        }
        kafka::validate(
            self.kafka.tls.as_ref(),
            self.kafka.sasl.as_ref(),
            &self.kafka.properties,
        )
        .map_err(ConfigError::Invalid)?;
        if let Some(tls) = &self.server.tls {
            tls.validate().map_err(ConfigError::Invalid)?;
        }
        self.outbound.validate().map_err(ConfigError::Invalid)?;
        if let Some(t) = &self.ops.token {
            if t.expose().len() < 16 {
                return Err(ConfigError::Invalid(
                    "ops.token must be at least 16 characters".into(),
                ));
            }
        }
        self.limits.validate().map_err(ConfigError::Invalid)?;
        if self.ops.timezone.parse::<chrono_tz::Tz>().is_err() {
            return Err(ConfigError::Invalid(format!(
                "ops.timezone {:?} is not an IANA time zone such as Asia/Shanghai",
                self.ops.timezone
            )));
        }
        crate::routing::config::validate(&self.lines, &self.desks, &self.rules, &self.urgent)
            .map_err(ConfigError::Invalid)?;
        self.router()?;
        if let Some(cluster) = &self.cluster {
            cluster.validate().map_err(ConfigError::Invalid)?;
        }
        self.channels.validate().map_err(ConfigError::Invalid)
    }

    /// The merged line registry, the IVR desks and the compiled rules.
    pub fn router(&self) -> Result<crate::routing::Router, ConfigError> {
        let registry = crate::routing::registry::Registry::new(
            &self.lines,
            &self.channels.call.lines,
            &self.channels.sms.lines,
        );
        crate::routing::Router::new(registry, &self.desks, &self.rules, &self.urgent)
            .map_err(ConfigError::Invalid)
    }

    /// The startup warnings of deprecated settings, each naming its replacement.
    pub fn deprecations(&self) -> Vec<String> {
        crate::routing::registry::deprecation_warnings(
            &self.channels.call.lines,
            &self.channels.sms.lines,
        )
    }

    /// The merged line registry as TOML comments, for `check-config` (the old per-channel maps
    /// folded into `[lines.*]`).
    pub fn registry_summary(&self) -> String {
        let Ok(router) = self.router() else {
            return String::new();
        };
        let mut out =
            String::from("\n# merged line registry ([lines.*] + deprecated channels.*.lines):\n");
        for (id, l) in router.registry().lines() {
            out.push_str(&format!(
                "# line {id}: name={:?} desk={} numbers={:?} sms_numbers={:?} tags={:?}\n",
                l.name,
                l.desk.as_deref().unwrap_or("general"),
                l.numbers,
                l.sms_numbers,
                l.tags
            ));
        }
        out
    }

    /// The effective configuration as TOML, secrets redacted: what `check-config` prints.
    pub fn redacted_toml(&self) -> String {
        let mut shown = self.clone();
        for (k, v) in shown.kafka.properties.iter_mut() {
            if kafka::is_secret_property(k) {
                *v = "<redacted>".into();
            }
        }
        toml::to_string_pretty(&shown)
            .unwrap_or_else(|e| format!("# cannot render configuration: {e}\n"))
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod otlp_tests {
    use super::Config;

    #[test]
    fn otlp_export_is_off_by_default() {
        let c = Config::from_toml("").unwrap();
        assert_eq!(c.log.otlp_endpoint, "");
        assert_eq!(c.log.otlp_service_name, "intake-gateway");
    }

    #[test]
    fn otlp_endpoint_must_be_an_http_or_https_url() {
        for bad in ["127.0.0.1:4318", "ftp://collector:4318", "http://bad host"] {
            let toml = format!("[log]\notlp_endpoint = {bad:?}\n");
            assert!(Config::from_toml(&toml).is_err(), "{bad} accepted");
        }
        let c = Config::from_toml("[log]\notlp_endpoint = \"http://127.0.0.1:4318\"\n").unwrap();
        assert_eq!(c.log.otlp_endpoint, "http://127.0.0.1:4318");
        let c = Config::from_toml("[log]\notlp_endpoint = \"https://collector:4318\"\n").unwrap();
        assert_eq!(c.log.otlp_endpoint, "https://collector:4318");
    }
}
