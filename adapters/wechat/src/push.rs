//! The two entry points WeChat calls: URL verification and message push.
//!
//! WeChat's `signature` covers only the token, timestamp and nonce, never the body, so in
//! plaintext mode it proves little more than that the caller once saw a valid triple. The
//! timestamp window limits how long such a triple can be reused; nonces are not tracked because
//! WeChat's own retries are byte-identical and downstream dedup by request id absorbs them.
//! In compatible and safe mode `msg_signature` covers the ciphertext, and the decrypted XML is
//! the only message trusted.

use std::borrow::Cow;

use intake_adapter::signature::check_unix_timestamp;
use intake_adapter::{AdapterError, Inbound};
use intake_schema::{DeadLetter, IntakeEvent, IntakeRequest, RawPayload};

use crate::message::{normalize, Envelope};
use crate::signature::{check_msg_signature, check_signature};
use crate::xml::{self, Fields};
use crate::{crypto, Account};

/// Largest push body accepted. WeChat's largest pushes (a 2,048-character text in safe mode)
/// stay far below it; anything bigger is not from WeChat.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// How the push body was protected, and so how a passive reply must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// 明文模式: the body is the message.
    Plaintext,
    /// 兼容模式: plaintext fields and `Encrypt` side by side; the encrypted copy is authoritative.
    Compatible,
    /// 安全模式: only `ToUserName` and `Encrypt`.
    Safe,
}

/// What the gateway does with a push.
#[derive(Clone, Debug, PartialEq)]
pub enum PushKind {
    /// A citizen's message: publish it as a request.
    Request(Box<IntakeRequest>),
    /// A follow, menu click, scan or location report: publish it as an event.
    Event(Box<IntakeEvent>),
    /// Authentic but not understood (an unknown MsgType): publish it as a dead letter.
    DeadLetter(Box<DeadLetter>),
}

/// One authenticated, normalized push.
#[derive(Clone, Debug, PartialEq)]
pub struct Push {
    /// How the body was protected; a reply must use the same.
    pub mode: Mode,
    /// `ToUserName`: the account's original id (`gh_…`).
    pub to_user: String,
    /// `FromUserName`: the citizen's openid.
    pub from_user: String,
    /// The normalized record.
    pub kind: PushKind,
    /// The push's `timestamp` query parameter, unix seconds.
    pub timestamp: i64,
    /// The push's `nonce` query parameter.
    pub nonce: String,
    /// The app id found inside an encrypted body; an encrypted reply must carry the same.
    pub app_id: Option<String>,
}

/// The checked query parameters, borrowed from the query where they needed no decoding (as
/// WeChat sends them): only the nonce is kept beyond the push, for the reply.
struct Signed<'a> {
    timestamp: Cow<'a, str>,
    nonce: Cow<'a, str>,
}

/// Reads and checks `signature`, `timestamp` and `nonce`.
fn signed<'a>(inbound: &Inbound<'a>, account: &Account) -> Result<Signed<'a>, AdapterError> {
    let param = |name: &str| inbound.query_param(name);
    let (Some(signature), Some(timestamp), Some(nonce)) =
        (param("signature"), param("timestamp"), param("nonce"))
    else {
        return Err(AdapterError::Unauthorized(
            "signature, timestamp and nonce are required".into(),
        ));
    };
    check_signature(&account.token, &timestamp, &nonce, &signature)?;
    Ok(Signed { timestamp, nonce })
}

/// Answers WeChat's URL verification: returns `echostr`, to be sent back verbatim as the body,
/// when `signature` is right for the account token.
pub fn verify_url(inbound: &Inbound, account: &Account) -> Result<String, AdapterError> {
    if !inbound.method.eq_ignore_ascii_case("GET") {
        return Err(AdapterError::Malformed("URL verification is a GET".into()));
    }
    signed(inbound, account)?;
    inbound
        .query_param("echostr")
        .map(|v| v.into_owned())
        .ok_or_else(|| AdapterError::Malformed("echostr is missing".into()))
}

/// Authenticates, decrypts when needed, and normalizes one pushed message or event.
pub fn parse_push(inbound: &Inbound, account: &Account) -> Result<Push, AdapterError> {
    if !inbound.method.eq_ignore_ascii_case("POST") {
        return Err(AdapterError::Malformed("pushes are POSTed".into()));
    }
    let signed = signed(inbound, account)?;
    let timestamp = check_unix_timestamp(
        &signed.timestamp,
        inbound.now,
        account.timestamp_tolerance_secs,
    )?;
    if inbound.body.len() > MAX_BODY_BYTES {
        return Err(AdapterError::Malformed(format!(
            "body larger than {MAX_BODY_BYTES} bytes"
        )));
    }
    let body = std::str::from_utf8(inbound.body)
        .map_err(|_| AdapterError::Encoding("push body is not UTF-8".into()))?;
    let outer = xml::parse(body)?;

    // The decrypted message outlives the match: the fields parsed from it borrow from it.
    let opened;
    let encrypt_type = inbound
        .query_param("encrypt_type")
        .map(|v| v.trim().to_ascii_lowercase());
    let (mode, message_xml, fields, app_id) = match encrypt_type.as_deref() {
        None | Some("") | Some("raw") => {
            if !outer.has("MsgType") && outer.has("Encrypt") {
                return Err(AdapterError::Malformed(
                    "encrypted body without encrypt_type=aes".into(),
                ));
            }
            (Mode::Plaintext, body.to_string(), outer, None)
        }
        Some("aes") => {
            let key = account.key()?;
            let encrypted = outer.get("Encrypt").ok_or_else(|| {
                AdapterError::Malformed("encrypt_type=aes but no Encrypt element".into())
            })?;
            let msg_signature = inbound.query_param("msg_signature").ok_or_else(|| {
                AdapterError::Unauthorized("msg_signature is required with encrypt_type=aes".into())
            })?;
            check_msg_signature(
                &account.token,
                &signed.timestamp,
                &signed.nonce,
                encrypted,
                &msg_signature,
            )?;
            opened = crypto::decrypt(&key, account.app_id.as_deref(), encrypted)?;
            let inner = xml::parse(&opened.xml)?;
            let mode = if outer.has("MsgType") || outer.has("FromUserName") {
                Mode::Compatible
            } else {
                Mode::Safe
            };
            // The audit copy is the decrypted text; the fields still borrow from it, so it is
            // copied (one string, where the owned fields used to cost two per field).
            (mode, opened.xml.clone(), inner, Some(opened.app_id))
        }
        Some(_) => return Err(AdapterError::Malformed("unsupported encrypt_type".into())),
    };

    let to_user = required(&fields, "ToUserName")?;
    let from_user = required(&fields, "FromUserName")?;
    let msg_type = required(&fields, "MsgType")?;
    if let Some(expected) = account.original_id.as_deref().filter(|id| !id.is_empty()) {
        if to_user != expected {
            return Err(AdapterError::Unauthorized("wrong account".into()));
        }
    }
    let system = account.source_system();
    // In encrypted modes the envelope is unreadable without the account key, which may be rotated
    // later; the audit copy is the decrypted message so it stays readable.
    let raw = RawPayload::capture_text(inbound.content_type(), message_xml);
    let envelope = Envelope {
        system: &system,
        to_user: &to_user,
        from_user: &from_user,
        received_at: inbound.now,
        raw,
        trace_id: inbound.trace_id,
    };
    let kind = normalize(&fields, &msg_type, envelope);
    Ok(Push {
        mode,
        to_user,
        from_user,
        kind,
        timestamp,
        nonce: signed.nonce.into_owned(),
        app_id,
    })
}

fn required(fields: &Fields, name: &str) -> Result<String, AdapterError> {
    fields
        .trimmed(name)
        .map(str::to_string)
        .ok_or_else(|| AdapterError::Malformed(format!("{name} is missing")))
}
