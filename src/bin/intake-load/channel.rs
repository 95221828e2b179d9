//! Which hook a run drives, with which credentials, and the one HTTP request it sends.
//!
//! Every request is built by the channel modules from the request number `n` (content, ids,
//! sender) plus the moment it is sent (timestamps, nonces, signatures). Signing and encryption
//! use the adapters' own code, so the tool and the gateway cannot drift apart.

use clap::ValueEnum;
use intake_schema::RequestId;

use crate::{call, sms, web, wechat};

/// The channel a run drives: one value per hook and provider/PBX kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Channel {
    /// `POST /hooks/web/{partner}`: signed batches of `--posts` posts.
    Web,
    /// `POST /hooks/wechat/{account}`, plaintext mode (明文模式).
    WechatPlain,
    /// The same, compatible mode (兼容模式): plaintext and AES side by side.
    WechatCompat,
    /// The same, safe mode (安全模式): AES-256-CBC only, with `msg_signature`.
    WechatSafe,
    /// `POST /hooks/sms/{provider}` as Alibaba Cloud's SmsUp batch push.
    SmsAliyun,
    /// As Tencent Cloud's reply callback.
    SmsTencent,
    /// As Twilio's Messaging webhook, with a valid `X-Twilio-Signature`.
    SmsTwilio,
    /// As Kannel's smsbox post-url.
    SmsKannel,
    /// As Jasmin's HTTP MO thrower (UCS-2, `binary` hex).
    SmsJasmin,
    /// As the gateway's own signed generic JSON.
    SmsGeneric,
    /// `POST /hooks/call/{source}` as a FreeSWITCH `mod_json_cdr` A-leg CDR.
    CallFreeswitch,
    /// As an Asterisk JSON CDR.
    CallAsterisk,
    /// As a Kamailio dialog `end` event.
    CallKamailio,
    /// As a generic CTI `hangup` event (Zammad's shape).
    CallCti,
}

impl Channel {
    /// Every channel, in `--help` order (the smoke test walks them all).
    pub const ALL: [Channel; 14] = [
        Channel::Web,
        Channel::WechatPlain,
        Channel::WechatCompat,
        Channel::WechatSafe,
        Channel::SmsAliyun,
        Channel::SmsTencent,
        Channel::SmsTwilio,
        Channel::SmsKannel,
        Channel::SmsJasmin,
        Channel::SmsGeneric,
        Channel::CallFreeswitch,
        Channel::CallAsterisk,
        Channel::CallKamailio,
        Channel::CallCti,
    ];

    /// The `--channel` value.
    pub fn name(self) -> String {
        self.to_possible_value()
            .map_or_else(String::new, |v| v.get_name().to_string())
    }

    /// The first path segment after `/hooks/`.
    pub fn family(self) -> &'static str {
        match self {
            Channel::Web => "web",
            Channel::WechatPlain | Channel::WechatCompat | Channel::WechatSafe => "wechat",
            Channel::SmsAliyun
            | Channel::SmsTencent
            | Channel::SmsTwilio
            | Channel::SmsKannel
            | Channel::SmsJasmin
            | Channel::SmsGeneric => "sms",
            _ => "call",
        }
    }

    /// The `{name}` path segment used unless `--name` says otherwise: the names of
    /// `deploy/intake.load.toml`.
    pub fn default_name(self) -> &'static str {
        match self {
            Channel::Web => "baixing",
            Channel::WechatPlain => "plain",
            Channel::WechatCompat => "compat",
            Channel::WechatSafe => "safe",
            Channel::SmsAliyun => "aliyun",
            Channel::SmsTencent => "tencent",
            Channel::SmsTwilio => "twilio",
            Channel::SmsKannel => "kannel",
            Channel::SmsJasmin => "jasmin",
            Channel::SmsGeneric => "generic",
            Channel::CallFreeswitch => "freeswitch",
            Channel::CallAsterisk => "asterisk",
            Channel::CallKamailio => "kamailio",
            Channel::CallCti => "cti",
        }
    }
}

/// Everything needed to build the requests of one run.
#[derive(Clone, Debug)]
pub struct Target {
    /// The channel.
    pub channel: Channel,
    /// The `{partner|account|provider|source}` path segment.
    pub name: String,
    /// The channel's one shared secret: web partner secret, WeChat token, SMS token / Twilio
    /// auth token / generic HMAC key, call token or basic password.
    pub secret: String,
    /// WeChat: the 43-character EncodingAESKey (compatible and safe mode).
    pub aes_key: Option<String>,
    /// WeChat: the AppID sealed into encrypted bodies.
    pub app_id: String,
    /// WeChat: the account's `original_id` when the gateway has one configured.
    pub original_id: Option<String>,
    /// Calls: send HTTP basic `username:secret` instead of `Bearer secret`.
    pub username: Option<String>,
    /// Twilio: the public base URL the gateway's provider is configured with.
    pub public_url: String,
    /// Web: posts per batch.
    pub posts: u32,
    /// Approximate size of each message text, in bytes.
    pub text_bytes: usize,
    /// Unique per run: keeps ids of two runs apart.
    pub seed: u64,
    /// The run's start, unix seconds: the deterministic time of messages whose id includes it.
    pub epoch: i64,
}

/// One HTTP request, ready to send.
#[derive(Clone, Debug, PartialEq)]
pub struct Built {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// `/hooks/...?...`
    pub path_and_query: String,
    /// Headers besides Host and Content-Length.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Built {
    /// The query string without `?`.
    pub fn query(&self) -> &str {
        self.path_and_query.split_once('?').map_or("", |(_, q)| q)
    }

    /// Runs `f` over the request as an adapter sees it, received now.
    pub fn with_inbound<T>(&self, f: impl FnOnce(&intake_adapter::Inbound) -> T) -> T {
        let pairs: Vec<(&str, &str)> = self.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let headers: &[(&str, &str)] = &pairs;
        let inbound = intake_adapter::Inbound {
            method: self.method,
            query: self.query(),
            headers: &headers,
            body: &self.body,
            now: chrono::Utc::now(),
            peer: Some(std::net::Ipv4Addr::LOCALHOST.into()),
            trace_id: "00000000000000000000000000000000",
        };
        f(&inbound)
    }
}

impl Target {
    /// Request number `n`, signed for now.
    pub fn build(&self, n: u64) -> Built {
        match self.channel.family() {
            "web" => web::build(self, n),
            "wechat" => wechat::build(self, n),
            "sms" => sms::build(self, n),
            _ => call::build(self, n),
        }
    }

    /// True when the channel's 2xx reply names the request ids itself (web and calls list
    /// `results[].request_id`, the generic SMS reply has `request_id`); otherwise they are
    /// computed from the sent request by the adapter, as the gateway does.
    pub fn reply_has_ids(&self) -> bool {
        matches!(self.channel.family(), "web" | "call") || self.channel == Channel::SmsGeneric
    }

    /// The request ids an acknowledged request stands for: from the reply when it carries
    /// them, else computed by the channel's adapter over exactly the bytes that were sent.
    pub fn acked_ids(&self, built: &Built, reply: &[u8]) -> Result<Vec<RequestId>, String> {
        if self.reply_has_ids() {
            return ids_in_reply(reply);
        }
        match self.channel.family() {
            "wechat" => wechat::request_ids(self, built, reply),
            _ => sms::request_ids(self, built),
        }
    }
}

/// The `request_id` of every admitted (accepted, duplicate or spooled) result in a JSON reply.
pub fn ids_in_reply(reply: &[u8]) -> Result<Vec<RequestId>, String> {
    let value: serde_json::Value =
        serde_json::from_slice(reply).map_err(|e| format!("reply is not JSON: {e}"))?;
    let results = match value.get("results").and_then(|r| r.as_array()) {
        Some(results) => results.clone(),
        None => vec![value],
    };
    let mut ids = Vec::new();
    for r in results {
        let status = r.get("status").and_then(|s| s.as_str()).unwrap_or("");
        if !matches!(status, "accepted" | "duplicate" | "spooled") {
            continue;
        }
        let id = r.get("request_id").and_then(|s| s.as_str());
        match id.and_then(|id| id.parse::<uuid::Uuid>().ok()) {
            Some(uuid) => ids.push(RequestId::from_uuid(uuid)),
            None => return Err(format!("admitted result without a request_id: {r}")),
        }
    }
    Ok(ids)
}

/// Percent-encodes `value` for a query string or form body.
pub fn enc(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// A form body or query string of `pairs`.
pub fn form(pairs: &[(&str, &str)]) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        out.append_pair(k, v);
    }
    out.finish()
}
