//! Shared by the end-to-end tests: a gateway on port 0 against the real broker, signing, reading.
#![allow(dead_code, unused_imports)]

pub mod broker;
pub mod cluster;
pub mod consume;
pub mod schema;
pub mod tls;

use intake_gateway::{Config, Gateway};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use broker::{broker, DedicatedBroker};
pub use consume::{consume, consume_with, Consumed};
pub use schema::{
    assert_valid, assert_valid_dead_letter, assert_valid_event, assert_valid_request,
};

/// The demo partner every test configures.
pub const PARTNER: &str = "baixing";
/// Its secret.
pub const SECRET: &str = "test-secret";

/// The plaintext WeChat account's token and original id.
pub const WECHAT_TOKEN: &str = "plain-token";
/// Its gh_ id.
pub const WECHAT_GH: &str = "gh_12345yanbian";
/// The safe-mode account: EasyWeChat's public test values.
pub const SAFE_TOKEN: &str = "pamtest";
/// Its EncodingAESKey.
pub const SAFE_AES_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
/// Its app id.
pub const SAFE_APP_ID: &str = "wxb11529c136998cb6";

/// Every SMS provider's token or secret in the tests.
pub const SMS_TOKEN: &str = "sms-test-token";
/// The public base URL Twilio is told to call.
pub const TWILIO_PUBLIC_URL: &str = "https://hotline.example.gov.cn";

/// Every call source's token or password in the tests.
pub const CALL_SECRET: &str = "call-test-secret";

/// A gateway running in this process, and where its records go.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// `http://127.0.0.1:OPS_PORT`
    pub ops: String,
    /// The running gateway (taken by `stop`).
    pub gateway: Option<Gateway>,
    /// The configuration it runs with (start it again on the same data dir to "restart").
    pub config: Config,
    /// HTTP client.
    pub client: reqwest::Client,
    _data: Option<tempfile::TempDir>,
}

/// A configuration on port 0, with a fresh data dir and per-test topics; Kafka when `kafka`.
pub async fn test_config(kafka: bool) -> (Config, tempfile::TempDir) {
    let data = tempfile::tempdir().expect("temp dir");
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let brokers = if kafka {
        format!("\"{}\"", broker().bootstrap)
    } else {
        "\"\"".into()
    };
    let toml = format!(
        r#"
        [server]
        listen = "127.0.0.1:0"
        [ops]
        listen = "127.0.0.1:0"
        [storage]
        data_dir = "{data}"
        {shared}"#,
        data = data.path().display(),
        shared = shared_toml(&brokers, &suffix),
    );
    let config = Config::from_toml(&toml).expect("test config");
    if kafka {
        let k = &config.kafka;
        broker()
            .create_topics(
                &[
                    &k.topic,
                    &k.events_topic,
                    &k.dead_letter_topic,
                    &k.urgent_topic,
                ],
                3,
            )
            .await;
    }
    (config, data)
}

/// The `[lines.*]`, `[desks]`, `[rules]` and `[urgent]` sections of the example configuration
/// (`deploy/intake.example.toml`, from its "lines and desks" marker on), so the tests run the
/// seed's lines exactly as shipped.
pub fn example_lines_toml() -> String {
    let example =
        std::fs::read_to_string(repo().join("deploy/intake.example.toml")).expect("example config");
    let at = example
        .find("# --- lines and desks")
        .expect("the example has a lines and desks section");
    example[at..].to_string()
}

/// A gateway with Kafka, the test channels and the example configuration's lines and desks.
pub async fn lines_app() -> TestApp {
    let (config, data) = test_config(true).await;
    let toml = format!(
        "{}\n[server]\nlisten = \"127.0.0.1:0\"\n[ops]\nlisten = \"127.0.0.1:0\"\n[storage]\ndata_dir = \"{}\"\n{}",
        shared_toml(
            &format!("\"{}\"", broker().bootstrap),
            config
                .kafka
                .topic
                .strip_prefix("intake.requests.v1.")
                .unwrap()
        ),
        data.path().display(),
        example_lines_toml(),
    );
    let config = intake_gateway::Config::from_toml(&toml).expect("lines config");
    let mut app = start(config).await;
    app.keep_data(data);
    app
}

/// Every section of the test configuration except `[server]`, `[ops]` and `[storage]` (which
/// name this process's listeners and data dir): Kafka at `brokers` (a TOML value, `""` for the
/// embedded journal) on topics ending in `suffix`, and every channel with the test secrets.
/// In-process gateways and the cluster harness's subprocess replicas share it.
pub fn shared_toml(brokers: &str, suffix: &str) -> String {
    format!(
        r#"
        [kafka]
        brokers = {brokers}
        topic = "intake.requests.v1.{suffix}"
        events_topic = "intake.events.v1.{suffix}"
        dead_letter_topic = "intake.rejected.v1.{suffix}"
        urgent_topic = "intake.urgent.v1.{suffix}"
        delivery_timeout = "5s"
        [limits]
        sender_per_minute = 0
        partner_per_minute = 0
        shutdown_grace = "5s"
        [channels.web.partners.{PARTNER}]
        secret = "{SECRET}"
        [channels.web.partners.no-secret-yet]
        [channels.wechat.accounts.plain]
        token = "{WECHAT_TOKEN}"
        original_id = "{WECHAT_GH}"
        menu_keys = ["FILE_REQUEST"]
        [channels.wechat.accounts.safe]
        token = "{SAFE_TOKEN}"
        aes_key = "{SAFE_AES_KEY}"
        app_id = "{SAFE_APP_ID}"
        [channels.wechat.accounts.tokenless]
        [channels.sms]
        reassembly_timeout = "600s"
        [channels.sms.lines]
        "12345" = ["12345", "1069012345"]
        "12328" = ["1069012328"]
        [channels.sms.providers.aliyun]
        kind = "aliyun"
        token = "{SMS_TOKEN}"
        [channels.sms.providers.tencent]
        kind = "tencent"
        token = "{SMS_TOKEN}"
        service_number = "106901"
        [channels.sms.providers.twilio]
        kind = "twilio"
        auth_token = "{SMS_TOKEN}"
        public_url = "{TWILIO_PUBLIC_URL}"
        receipt = true
        [channels.sms.providers.kannel]
        kind = "kannel"
        token = "{SMS_TOKEN}"
        [channels.sms.providers.jasmin]
        kind = "jasmin"
        token = "{SMS_TOKEN}"
        [channels.sms.providers.generic]
        kind = "generic"
        secret = "{SMS_TOKEN}"
        [channels.sms.providers.unconfigured]
        kind = "kannel"
        [channels.call.lines]
        "12345" = ["12345", "043312345"]
        "12328" = ["12328", "043312328"]
        [channels.call.sources.sbc]
        kind = "kamailio"
        username = "kam"
        password = "{CALL_SECRET}"
        [channels.call.sources.fs]
        kind = "freeswitch"
        username = "fs-cdr"
        password = "{CALL_SECRET}"
        [channels.call.sources.cti]
        kind = "generic"
        token = "{CALL_SECRET}"
        [channels.call.sources.ast]
        kind = "asterisk"
        token = "{CALL_SECRET}"
        [channels.call.sources.nosecret]
        kind = "generic"
        "#
    )
}

/// A Twilio inbound SMS form from +8613812345678 and its `X-Twilio-Signature`.
pub fn twilio_form(sid: &str, body: &str) -> (String, String) {
    let params = [
        ("MessageSid", sid),
        ("From", "+8613812345678"),
        ("To", "+15017122661"),
        ("Body", body),
        ("NumMedia", "0"),
    ];
    let form = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let owned: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let signature = intake_sms::twilio_signature(
        SMS_TOKEN,
        &format!("{TWILIO_PUBLIC_URL}/hooks/sms/twilio"),
        &owned,
    );
    (form, signature)
}

/// Starts a gateway with Kafka (`kafka = true`) or on the embedded journal.
pub async fn spawn_app(kafka: bool) -> TestApp {
    let (config, data) = test_config(kafka).await;
    let mut app = start(config).await;
    app._data = Some(data);
    app
}

/// Starts a gateway with `config` as is.
pub async fn start(config: Config) -> TestApp {
    let gateway = intake_gateway::start(config.clone())
        .await
        .expect("gateway starts");
    TestApp {
        base: format!("http://{}", gateway.addr),
        ops: format!("http://{}", gateway.ops_addr),
        gateway: Some(gateway),
        config,
        client: reqwest::Client::new(),
        _data: None,
    }
}

impl TestApp {
    /// Graceful shutdown, then a fresh gateway on the same configuration and data dir.
    pub async fn restart(mut self) -> TestApp {
        if let Some(g) = self.gateway.take() {
            g.shutdown().await;
        }
        let mut next = start(self.config.clone()).await;
        next._data = self._data.take();
        next
    }

    /// Keeps `data` (from [`test_config`]) alive as long as this gateway and its restarts.
    pub fn keep_data(&mut self, data: tempfile::TempDir) {
        self._data = Some(data);
    }

    /// The data dir.
    pub fn data_dir(&self) -> &Path {
        &self.config.storage.data_dir
    }

    /// POSTs `body` to the web hook of `partner`, signed with `secret` at `timestamp`.
    pub async fn post_web_signed(
        &self,
        partner: &str,
        secret: &str,
        timestamp: i64,
        body: &str,
    ) -> reqwest::Response {
        send_web(&self.client, &self.base, partner, secret, timestamp, body)
            .await
            .expect("request sent")
    }

    /// POSTs `body` to the demo partner, signed now.
    pub async fn post_web(&self, body: &str) -> reqwest::Response {
        self.post_web_signed(PARTNER, SECRET, now(), body).await
    }

    /// Records on this gateway's request topic.
    pub fn consume_requests(&self, expected: usize) -> Vec<Consumed> {
        consume(
            &broker().bootstrap,
            &self.config.kafka.topic,
            expected,
            Duration::from_secs(20),
        )
    }

    /// Records on this gateway's events topic.
    pub fn consume_events(&self, expected: usize) -> Vec<Consumed> {
        consume(
            &broker().bootstrap,
            &self.config.kafka.events_topic,
            expected,
            Duration::from_secs(20),
        )
    }

    /// Records on this gateway's dead-letter topic.
    pub fn consume_dead_letters(&self, expected: usize) -> Vec<Consumed> {
        consume(
            &broker().bootstrap,
            &self.config.kafka.dead_letter_topic,
            expected,
            Duration::from_secs(20),
        )
    }

    /// Records in this gateway's journal.
    pub fn journal(&self) -> Vec<intake_gateway::local_log::Entry> {
        intake_gateway::local_log::read_all(&self.data_dir().join("journal"))
            .expect("journal readable")
            .entries
    }
}

impl TestApp {
    /// POSTs `body` to the WeChat hook of `account` with `query` (see [`wechat_query`]).
    pub async fn post_wechat(&self, account: &str, query: &str, body: String) -> reqwest::Response {
        self.client
            .post(format!("{}/hooks/wechat/{account}?{query}", self.base))
            .header("content-type", "text/xml")
            .body(body)
            .send()
            .await
            .expect("request sent")
    }

    /// POSTs a Twilio inbound SMS `form` (see [`twilio_form`]) signed with `signature`.
    pub async fn post_twilio(&self, form: String, signature: &str) -> reqwest::Response {
        self.client
            .post(format!("{}/hooks/sms/twilio", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-twilio-signature", signature)
            .body(form)
            .send()
            .await
            .expect("request sent")
    }

    /// The hook listener's address, for raw TCP.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.gateway.as_ref().expect("gateway running").addr
    }

    /// A JSON answer of the ops listener, e.g. `/readyz` or `/ops/api/lines`.
    pub async fn ops_json(&self, path: &str) -> serde_json::Value {
        self.client
            .get(format!("{}{path}", self.ops))
            .send()
            .await
            .expect("ops answered")
            .json()
            .await
            .expect("ops JSON")
    }

    /// The ops `/metrics` text.
    pub async fn metrics(&self) -> String {
        self.client
            .get(format!("{}/metrics", self.ops))
            .send()
            .await
            .expect("metrics answered")
            .text()
            .await
            .expect("metrics text")
    }
}

/// The plaintext-mode query of a WeChat push: `signature`, `timestamp`, `nonce`.
pub fn wechat_query(token: &str, timestamp: i64, nonce: &str) -> String {
    let ts = timestamp.to_string();
    let signature = intake_wechat::sha1_signature(&[token, &ts, nonce]);
    format!("signature={signature}&timestamp={ts}&nonce={nonce}")
}

/// A WeChat text message from `openid` to the account `to`, created now.
pub fn wechat_text(to: &str, openid: &str, msg_id: u64, content: &str) -> String {
    format!(
        "<xml><ToUserName><![CDATA[{to}]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>\
         <CreateTime>{}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{content}]]></Content>\
         <MsgId>{msg_id}</MsgId></xml>",
        now()
    )
}

/// `hex(HMAC-SHA256(secret, "{timestamp}.{body}"))`
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    intake_adapter::signature::hmac_sha256_hex(
        secret.as_bytes(),
        &[timestamp.to_string().as_bytes(), b".", body],
    )
}

/// Unix seconds now.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A moderated web post.
pub fn post(id: &str, text: &str) -> serde_json::Value {
    serde_json::json!({
        "id": id, "title": "路灯", "body": text,
        "author": {"name": "张女士", "phone": "13812345678"},
        "posted_at": "2026-11-24T08:00:00+08:00",
        "moderation": {"moderator": "editor-li", "approved_at": "2026-11-24T08:05:00+08:00"}
    })
}

/// `{"posts": [...]}`
pub fn batch(posts: &[serde_json::Value]) -> String {
    serde_json::json!({ "posts": posts }).to_string()
}

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// POSTs a body that declares `declared` bytes but sends only `sent` of them, then reads the
/// status. A server refusing an oversized body answers before the upload ends and closes; an
/// HTTP client still writing would see a broken pipe instead of the answer, so this test client
/// stops writing where the limit must already have been passed.
pub async fn post_oversized(
    base: &str,
    path_and_query: &str,
    content_type: &str,
    declared: usize,
    sent: usize,
) -> u16 {
    let addr = base.trim_start_matches("http://").to_string();
    let head = format!(
        "POST {path_and_query} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\nContent-Length: {declared}\r\nConnection: close\r\n\r\n"
    );
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(&vec![b'a'; sent]);
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
        let status_line = String::from_utf8_lossy(&answer)
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
        status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no HTTP answer: {status_line:?}"))
    })
    .await
    .expect("oversized post")
}

/// Signs `body` for `partner` with `secret` at `timestamp` and POSTs it to the web hook of the
/// gateway at `base`: the one signed-push client of every test, in-process or subprocess.
pub async fn send_web(
    client: &reqwest::Client,
    base: &str,
    partner: &str,
    secret: &str,
    timestamp: i64,
    body: &str,
) -> reqwest::Result<reqwest::Response> {
    client
        .post(format!("{base}/hooks/web/{partner}"))
        .header("content-type", "application/json")
        .header("x-intake-timestamp", timestamp.to_string())
        .header(
            "x-intake-signature",
            format!("v1={}", sign(secret, timestamp, body.as_bytes())),
        )
        .body(body.to_string())
        .send()
        .await
}

/// Waits until the gateway process whose ops listener is `ops` answers `/healthz`; false when it
/// did not within `within` (the caller decides whether to kill it before failing).
pub async fn wait_healthy(client: &reqwest::Client, ops: &str, within: Duration) -> bool {
    let deadline = std::time::Instant::now() + within;
    while client.get(format!("{ops}/healthz")).send().await.is_err() {
        if std::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    true
}
