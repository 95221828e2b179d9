//! The phone-call adapter of the 12345 intake gateway: `POST /hooks/call/{source}`.
//!
//! Call metadata reaches the gateway from four kinds of sources (see [`SourceKind`]):
//! FreeSWITCH `mod_json_cdr`, Asterisk CDRs and ARI events, Kamailio's `http_client` posts
//! from dialog event routes, and generic CTI events in Zammad's shape. Whatever the dialect,
//! a citizen call becomes **one** request keyed by its SIP Call-ID (`source.system` =
//! `call:{source}`, `source.message_id` = Call-ID), so re-posted CDRs and several legs of one
//! call collapse in the gateway's dedup.
//!
//! [`handle`] authenticates and parses one post into [`Item`]s: progress updates (for the
//! live view, with a mergeable [`CallState`]), finished calls, skipped messages and dead
//! letters. The gateway keeps per-call state with [`merge`] and turns a finished call into
//! its request with [`finish`]:
//!
//! ```text
//! Item::Update { state, event } => publish event; live[call] = merge(live.remove(call), state)
//! Item::Final { state }         => publish finish(&merge(live.remove(call), state), now, raw, trace)
//! ```
//!
//! Like every adapter, this crate is pure: the clock, the trace id and the bytes come in,
//! records come out; no I/O. Setup guides per PBX: `FREESWITCH.md`, `ASTERISK.md`,
//! `KAMAILIO.md`, `GENERIC.md` beside this crate.

#![warn(missing_docs)]

mod ari;
mod asterisk;
mod auth;
mod body;
mod config;
mod fields;
mod finish;
mod freeswitch;
mod generic;
mod item;
mod kamailio;
mod lines;
mod parties;
mod sip;
mod state;
mod time;

pub use auth::authenticate;
pub use body::FORM_BASE64;
pub use config::{Source, SourceKind, DEFAULT_IVR_VARIABLE, DEFAULT_UTC_OFFSET_MINUTES};
pub use finish::finish;
pub use item::Item;
pub use lines::{line_key, Lines};
pub use state::{ivr_digits, merge, CallState, Direction};

use chrono::{DateTime, Utc};
use intake_adapter::{AdapterError, Inbound};

use body::Payload;
use item::Parsed;

/// Most messages one post may carry (Asterisk and CTI servers may batch a JSON array).
pub const MAX_BATCH: usize = 500;

/// Authenticates one post of `source` and parses it into items, in message order.
///
/// Errors are for the whole post: bad credentials (401), a method other than POST, a body
/// that cannot be read (400) or an unsupported content type (415). A message that is read
/// but cannot become a call record is a [`Item::DeadLetter`], never an error, so the PBX
/// stops retrying it.
pub fn handle(
    inbound: &Inbound,
    source: &Source,
    lines: &Lines,
) -> Result<Vec<Item>, AdapterError> {
    authenticate(inbound, source)?;
    if !inbound.method.eq_ignore_ascii_case("POST") {
        return Err(AdapterError::Malformed(format!(
            "{} is not accepted here; call data is POSTed",
            inbound.method
        )));
    }
    let payload = body::decode(inbound, source.kind)?;
    let ctx = Ctx {
        source,
        lines,
        now: inbound.now,
    };
    let parsed = match source.kind {
        SourceKind::Freeswitch => match payload {
            Payload::Json(text) => vec![freeswitch::parse(&text, &ctx)?],
            Payload::Fields(_) => {
                return Err(AdapterError::Malformed(
                    "FreeSWITCH posts a JSON CDR".into(),
                ))
            }
        },
        SourceKind::Asterisk => asterisk::parse(payload, &ctx)?,
        SourceKind::Kamailio => kamailio::parse(payload, &ctx)?,
        SourceKind::Generic => generic::parse(payload, &ctx)?,
    };
    let system = source.source_system();
    Ok(parsed
        .into_iter()
        .map(|p| p.into_item(inbound, &system))
        .collect())
}

/// What every dialect parser needs besides the message.
pub(crate) struct Ctx<'a> {
    /// The source being handled.
    pub source: &'a Source,
    /// The hotline lines.
    pub lines: &'a Lines,
    /// The gateway clock at arrival, for sources that send no times.
    pub now: DateTime<Utc>,
}

impl Ctx<'_> {
    /// An empty state of `call_id` from this source.
    pub(crate) fn state(&self, call_id: &str) -> CallState {
        CallState::new(call_id, self.source.source_system())
    }
}

/// Parses a JSON body into its messages: the elements of a top-level array, or the value
/// itself; each object goes through `one`, anything else is a dead letter.
pub(crate) fn json_messages(
    text: &str,
    mut one: impl FnMut(&serde_json::Map<String, serde_json::Value>) -> Parsed,
) -> Result<Vec<Parsed>, AdapterError> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| AdapterError::Malformed(format!("invalid JSON: {e}")))?;
    let (messages, batched) = match value {
        serde_json::Value::Array(items) => (items, true),
        other => (vec![other], false),
    };
    if messages.len() > MAX_BATCH {
        return Err(AdapterError::Malformed(format!(
            "{} messages in one post; at most {MAX_BATCH}",
            messages.len()
        )));
    }
    Ok(messages
        .iter()
        .map(|m| match m.as_object() {
            Some(object) => {
                let mut parsed = one(object);
                if let Parsed::Unusable { raw, .. } = &mut parsed {
                    // A dead letter of a batch keeps its own message, not the whole batch.
                    if batched {
                        *raw = Some(m.to_string());
                    }
                }
                parsed
            }
            None => Parsed::Unusable {
                reason: "message is not a JSON object".into(),
                raw: batched.then(|| m.to_string()),
            },
        })
        .collect())
}
