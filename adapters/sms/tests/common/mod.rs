//! Shared by the integration tests: the fixed configuration, clock and trace of the golden runs,
//! the fixture request format, and the signatures a real provider would have computed.
#![allow(dead_code)]

use base64::Engine;
use chrono::{DateTime, Utc};
use intake_adapter::signature::hmac_sha256_hex;
use intake_adapter::{AdapterError, Inbound};
use intake_schema::{Citizen, ContactKind, RawPayload};
use intake_sms::{
    handle, twilio_signature, Call, Coding, Delivery, Lines, Part, PartKey, Provider, ProviderKind,
};
use serde_json::Value;
use std::collections::BTreeMap;

/// 2026-03-01T08:00:00Z.
pub const NOW: i64 = 1_772_352_000;
pub const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
pub const TOKEN: &str = "golden-token";
pub const TWILIO_AUTH_TOKEN: &str = "golden-auth-token";
pub const PUBLIC_URL: &str = "https://hotline.example.gov.cn";
pub const GENERIC_SECRET: &str = "golden-secret";
/// Inside the aliyun provider's allow list.
pub const DEFAULT_PEER: &str = "106.11.34.2";

pub fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(NOW, 0).expect("fixed clock")
}

pub fn provider(kind: ProviderKind) -> Provider {
    let mut p = Provider::new(kind.as_str(), kind);
    match kind {
        ProviderKind::Aliyun => {
            p.token = Some(TOKEN.into());
            p.allow = vec!["106.11.0.0/16".into(), "140.205.0.0/16".into()];
            p.service_number = Some("1069012345".into());
        }
        ProviderKind::Tencent => {
            p.token = Some(TOKEN.into());
            p.service_number = Some("106901".into());
        }
        ProviderKind::Kannel | ProviderKind::Jasmin => p.token = Some(TOKEN.into()),
        ProviderKind::Twilio => {
            p.auth_token = Some(TWILIO_AUTH_TOKEN.into());
            p.public_url = Some(PUBLIC_URL.into());
        }
        ProviderKind::Generic => p.secret = Some(GENERIC_SECRET.into()),
    }
    p
}

pub fn kind_named(name: &str) -> ProviderKind {
    ProviderKind::ALL
        .into_iter()
        .find(|k| k.as_str() == name)
        .unwrap_or_else(|| panic!("no provider kind {name}"))
}

pub fn lines() -> Lines {
    let mut map = BTreeMap::new();
    map.insert(
        "12345".to_string(),
        vec!["12345".into(), "1069012345".into()],
    );
    map.insert(
        "12328".to_string(),
        vec!["12328".into(), "1069012328".into()],
    );
    map.insert(
        "12343".to_string(),
        vec!["12343".into(), "+15017122661".into()],
    );
    Lines::new(&map)
}

/// One HTTP request of a fixture, before the credentials are added.
#[derive(Clone, Debug, Default)]
pub struct Request {
    pub method: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub peer: Option<String>,
}

impl Request {
    /// `{"method","query","headers":{},"body_text"|"body_base64","peer"}`.
    pub fn from_json(v: &Value) -> Request {
        let body = match (v.get("body_text"), v.get("body_base64")) {
            (Some(t), _) => t.as_str().expect("body_text").as_bytes().to_vec(),
            (None, Some(b)) => base64::engine::general_purpose::STANDARD
                .decode(b.as_str().expect("body_base64"))
                .expect("base64"),
            (None, None) => Vec::new(),
        };
        Request {
            method: v
                .get("method")
                .and_then(Value::as_str)
                .unwrap_or("POST")
                .to_string(),
            query: v
                .get("query")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            headers: v
                .get("headers")
                .and_then(Value::as_object)
                .map(|h| {
                    h.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().expect("header").to_string()))
                        .collect()
                })
                .unwrap_or_default(),
            body,
            peer: v.get("peer").and_then(Value::as_str).map(str::to_string),
        }
    }

    fn has_header(&self, name: &str) -> bool {
        self.headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case(name))
    }

    /// Adds what the provider would: the URL token, or the request's signature.
    pub fn signed(mut self, kind: ProviderKind) -> Request {
        match kind {
            ProviderKind::Aliyun
            | ProviderKind::Tencent
            | ProviderKind::Kannel
            | ProviderKind::Jasmin
                if !self.query.split('&').any(|p| p.starts_with("token=")) =>
            {
                self.query = if self.query.is_empty() {
                    format!("token={TOKEN}")
                } else {
                    format!("token={TOKEN}&{}", self.query)
                };
            }
            ProviderKind::Twilio if !self.has_header("X-Twilio-Signature") => {
                let params = if self.method == "POST" {
                    form_pairs(&self.body)
                } else {
                    Vec::new()
                };
                let sig = twilio_signature(
                    TWILIO_AUTH_TOKEN,
                    &format!("{PUBLIC_URL}{}", self.path_and_query(kind)),
                    &params,
                );
                self.headers.push(("X-Twilio-Signature".into(), sig));
            }
            ProviderKind::Generic if !self.has_header("X-Intake-Signature") => {
                let ts = NOW.to_string();
                let sig = hmac_sha256_hex(
                    GENERIC_SECRET.as_bytes(),
                    &[ts.as_bytes(), b".", &self.body],
                );
                self.headers.push(("X-Intake-Timestamp".into(), ts));
                self.headers
                    .push(("X-Intake-Signature".into(), format!("v1={sig}")));
            }
            _ => {}
        }
        self
    }

    pub fn path_and_query(&self, kind: ProviderKind) -> String {
        let path = format!("/hooks/sms/{}", kind.as_str());
        if self.query.is_empty() {
            path
        } else {
            format!("{path}?{}", self.query)
        }
    }

    /// Runs the request through `handle` with the fixed configuration.
    pub fn run(&self, kind: ProviderKind) -> Result<Delivery, AdapterError> {
        self.run_with(&provider(kind))
    }

    /// Runs the request for a provider of its own.
    pub fn run_with(&self, provider: &Provider) -> Result<Delivery, AdapterError> {
        let kind = provider.kind;
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let headers: &[(&str, &str)] = &headers;
        let peer = self.peer.as_deref().unwrap_or(DEFAULT_PEER).parse().ok();
        let inbound = Inbound {
            method: &self.method,
            query: &self.query,
            headers: &headers,
            body: &self.body,
            now: now(),
            peer,
            trace_id: TRACE,
        };
        let path = self.path_and_query(kind);
        let call = Call {
            inbound: &inbound,
            path_and_query: &path,
        };
        handle(&call, provider, &lines())
    }
}

/// Twilio's POST parameters as UTF-8 pairs (test inputs are UTF-8).
pub fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The fuzz target's input for a request: kind, method, query, headers and body.
pub fn fuzz_input(kind: ProviderKind, req: &Request) -> Vec<u8> {
    let k = ProviderKind::ALL
        .iter()
        .position(|x| *x == kind)
        .expect("kind") as u8;
    let m = u8::from(req.method == "GET");
    let query: Vec<&str> = req
        .query
        .split('&')
        .filter(|p| !p.starts_with("token="))
        .collect();
    let headers: String = req
        .headers
        .iter()
        .filter(|(k, _)| {
            !k.eq_ignore_ascii_case("x-twilio-signature")
                && !k.to_ascii_lowercase().starts_with("x-intake-")
        })
        .map(|(k, v)| format!("{k}: {v}\n"))
        .collect();
    let mut out = vec![k, m];
    out.extend_from_slice(query.join("&").as_bytes());
    out.push(0);
    out.extend_from_slice(headers.as_bytes());
    out.push(0);
    out.extend_from_slice(&req.body);
    out
}

/// A part of the long message `+8613812345678 -> 12345, ref 9`, received `seq` seconds after NOW.
pub fn part(seq: u8, total: u8, bytes: &[u8], coding: Coding) -> Part {
    Part {
        key: PartKey {
            system: "sms:kannel".into(),
            sender: "+8613812345678".into(),
            receiver: "12345".into(),
            reference: "9".into(),
        },
        total,
        seq,
        coding,
        bytes: bytes.to_vec(),
        message_id: format!("id-{seq}"),
        occurred_at: None,
        received_at: now() + chrono::Duration::seconds(i64::from(seq)),
        line: Some("12345".into()),
        citizen: Citizen::reachable(ContactKind::Phone, "+8613812345678"),
        raw: RawPayload::capture(Some("text/plain"), bytes),
        trace_id: format!("{seq:032x}"),
    }
}
