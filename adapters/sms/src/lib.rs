//! The SMS mobile-originated (上行短信) adapter of the 12345 intake gateway.
//!
//! Route: `POST /hooks/sms/{provider}` (and `GET` where the provider uses it: Aliyun's console
//! check, Kannel get-url, Jasmin and Twilio GET connectors). Each provider in
//! `channels.sms.providers.<name>` has a [`ProviderKind`] choosing the parser: `aliyun`,
//! `tencent`, `twilio`, `kannel`, `jasmin` or `generic`. [`handle`] authenticates the call,
//! parses it and returns a [`Delivery`] of [`Item`]s: requests to publish, [`Part`]s of long
//! messages to keep until [`assemble`] can join them, and dead letters.
//!
//! **Decode failures.** When the provider declared a coding and the bytes are invalid for it, the
//! message becomes an [`Item::DeadLetter`] with the reason, [`Delivery::rejected_reason`] says
//! why, and `handle` still succeeds: the gateway dead-letters and acknowledges (200), because a
//! provider that is answered 4xx retries bytes that will never decode. Only a call that cannot be
//! parsed at all (not JSON or a form, required fields missing) is an [`AdapterError`] (400), as is
//! any authentication failure (401/403).
//!
//! Like every adapter this crate is pure: no clock, no I/O; the gateway passes time and trace.

#![warn(missing_docs)]

mod aliyun;
mod allow;
mod auth;
mod decode;
mod form;
mod generic;
mod gsm;
mod jasmin;
mod kannel;
mod lines;
mod message;
mod provider;
mod reassembly;
mod reply;
mod tencent;
mod twilio;
mod udh;

pub use aliyun::MAX_BATCH;
pub use allow::Cidr;
pub use auth::{
    SIGNATURE_HEADER as INTAKE_SIGNATURE_HEADER, TIMESTAMP_HEADER as INTAKE_TIMESTAMP_HEADER,
    TOKEN_PARAM,
};
pub use decode::{decode, Coding};
pub use gsm::encode as encode_gsm7;
pub use lines::Lines;
pub use provider::{Provider, ProviderKind, DEFAULT_TIMESTAMP_TOLERANCE_SECS};
pub use reassembly::{
    assemble, assemble_incomplete, parts_dead_letter, Part, PartKey, INCOMPLETE_MARKER,
};
pub use reply::{
    failure_reply, generic_reply, success_reply, Admission, AdmissionStatus, JASMIN_ACK,
};
pub use twilio::{
    twilio_signature, twilio_signature_matches, SIGNATURE_HEADER as TWILIO_SIGNATURE_HEADER,
};
pub use udh::{concat_from_udh, Concat};

use intake_adapter::{AdapterError, Inbound};
use intake_schema::{DeadLetter, IntakeRequest};
use serde::Serialize;

use crate::message::Ctx;

/// One call to `/hooks/sms/{provider}`: the request and the path it was made to.
pub struct Call<'a> {
    /// The request as the gateway received it.
    pub inbound: &'a Inbound<'a>,
    /// The request's path and raw query as received (`/hooks/sms/twilio?x=1`). Twilio signs
    /// the public URL, which is the provider's `public_url` followed by this.
    pub path_and_query: &'a str,
}

/// One thing a delivery carries.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Item {
    /// A complete message: publish it.
    Request(Box<IntakeRequest>),
    /// One part of a long message: keep it durable until the others arrive, then [`assemble`].
    Part(Box<Part>),
    /// Authenticated but not a request (undecodable text, a malformed batch element): publish
    /// to the dead-letter topic so nothing a citizen sent disappears.
    DeadLetter(Box<DeadLetter>),
}

/// The outcome of one call.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Delivery {
    /// Which parser produced it (for the reply).
    pub kind: ProviderKind,
    /// What to publish or keep, in the provider's order.
    pub items: Vec<Item>,
    /// Aliyun's connectivity check: nothing to publish, answer at once.
    pub probe: bool,
    /// Why the first dead-lettered item was refused. The gateway's default is to publish the
    /// dead letter and acknowledge with 200; it may choose to answer 400 with this reason.
    pub rejected_reason: Option<String>,
}

impl Delivery {
    fn new(kind: ProviderKind) -> Self {
        Delivery {
            kind,
            items: Vec::new(),
            probe: false,
            rejected_reason: None,
        }
    }

    fn push(&mut self, item: Item, rejected: Option<String>) {
        if self.rejected_reason.is_none() {
            self.rejected_reason = rejected;
        }
        self.items.push(item);
    }
}

/// Authenticates and parses one call for `provider`, resolving lines with `lines`.
///
/// Order: a disabled provider is refused, then the allow list (403), then the kind's own
/// credential (token, Twilio signature, generic signature: 401), and only then is the body read.
pub fn handle(call: &Call, provider: &Provider, lines: &Lines) -> Result<Delivery, AdapterError> {
    if !provider.enabled() {
        return Err(AdapterError::Unauthorized(format!(
            "provider {} has no {} secret configured",
            provider.name,
            provider.kind.as_str()
        )));
    }
    allow::check(&provider.allow_list(), call.inbound.peer)?;
    let ctx = Ctx {
        provider,
        lines,
        inbound: call.inbound,
    };
    match provider.kind {
        ProviderKind::Aliyun => aliyun::handle(call, &ctx),
        ProviderKind::Tencent => tencent::handle(call, &ctx),
        ProviderKind::Twilio => twilio::handle(call, &ctx),
        ProviderKind::Kannel => kannel::handle(call, &ctx),
        ProviderKind::Jasmin => jasmin::handle(call, &ctx),
        ProviderKind::Generic => generic::handle(call, &ctx),
    }
}
