//! One mobile-originated message as every provider parser reports it, and how it becomes a
//! request, a part of a long message, or a dead letter. Kept in one place so that ids, lines,
//! contacts and the decode-failure policy are the same for all six kinds.

use chrono::{DateTime, Utc};
use intake_adapter::{phone, AdapterError, Inbound};
use intake_schema::{
    Attachment, Channel, Citizen, ContactKind, Content, DeadLetter, IntakeRequest, RawPayload,
    Source,
};

use crate::decode::{decode, Coding};
use crate::reassembly::{Part, PartKey};
use crate::udh::Concat;
use crate::{Item, Lines, Provider};

/// What the message says, as the provider delivered it.
pub(crate) enum Body {
    /// Already text (JSON providers deliver UTF-8 strings).
    Text(String),
    /// Bytes in a declared coding, decoded only here (or after reassembly).
    Bytes { bytes: Vec<u8>, coding: Coding },
    /// Bytes whose coding we cannot even name (an unknown charset): a dead letter.
    Undecodable(String),
}

/// A parsed message, before ids, line and contact are settled.
pub(crate) struct Mo {
    /// The provider's id (or our derived one) of this message or part.
    pub message_id: String,
    /// The sender as the provider wrote it.
    pub sender: String,
    /// The number or code it was sent to, for `source.line` and the part key.
    pub destination: Option<String>,
    pub body: Body,
    pub occurred_at: Option<DateTime<Utc>>,
    /// Set when this is one part of a long message the provider did not reassemble.
    pub concat: Option<Concat>,
    pub attachments: Vec<Attachment>,
    /// The audit copy: the request body, or this message's element of a batch.
    pub raw: RawPayload,
}

/// What a parser needs besides its own input.
pub(crate) struct Ctx<'a> {
    pub provider: &'a Provider,
    pub lines: &'a Lines,
    pub inbound: &'a Inbound<'a>,
}

impl Ctx<'_> {
    /// The citizen behind `sender`: E.164 where it is a number, anonymous when withheld.
    pub(crate) fn citizen(sender: &str) -> Citizen {
        match phone::normalize(sender) {
            Some(contact) => Citizen::reachable(ContactKind::Phone, contact),
            None => Citizen::anonymous(),
        }
    }

    /// A dead letter of this provider for `raw`, e.g. a batch element that is not a message.
    pub(crate) fn dead_letter(&self, reason: impl Into<String>, raw: RawPayload) -> Item {
        Item::DeadLetter(Box::new(DeadLetter::new(
            Channel::Sms,
            self.provider.source_system(),
            reason,
            self.inbound.now,
            raw,
            self.inbound.trace_id,
        )))
    }
}

impl Mo {
    /// Settles the message: a [`Part`] when it is one part of several, else the decoded
    /// request; text that does not decode becomes a dead letter whose reason is also returned,
    /// so the provider is acknowledged (it must not retry bytes that will never decode) and the
    /// citizen's message is kept.
    pub(crate) fn settle(self, ctx: &Ctx) -> (Item, Option<String>) {
        let citizen = Ctx::citizen(&self.sender);
        let line = self
            .destination
            .as_deref()
            .and_then(|d| ctx.lines.resolve(d));
        let system = ctx.provider.source_system();
        let (bytes, coding) = match self.body {
            Body::Undecodable(reason) => {
                let reason = AdapterError::Encoding(reason).to_string();
                return (ctx.dead_letter(reason.clone(), self.raw), Some(reason));
            }
            Body::Text(text) => (text.into_bytes(), Coding::Utf8),
            Body::Bytes { bytes, coding } => (bytes, coding),
        };
        if let Some(concat) = self.concat {
            let part = Part {
                key: PartKey {
                    system,
                    sender: citizen.contact.clone().unwrap_or(self.sender),
                    receiver: self
                        .destination
                        .as_deref()
                        .map(crate::lines::digits)
                        .unwrap_or_default(),
                    reference: concat.reference,
                },
                total: concat.total,
                seq: concat.seq,
                coding,
                bytes,
                message_id: self.message_id,
                occurred_at: self.occurred_at,
                received_at: ctx.inbound.now,
                line,
                citizen,
                raw: self.raw,
                trace_id: ctx.inbound.trace_id.to_string(),
            };
            return (Item::Part(Box::new(part)), None);
        }
        let text = match decode(&bytes, coding) {
            Ok(text) => text,
            Err(e) => {
                let reason = e.to_string();
                return (ctx.dead_letter(reason.clone(), self.raw), Some(reason));
            }
        };
        let source = Source {
            system,
            message_id: self.message_id,
            line,
            occurred_at: self.occurred_at,
        };
        let mut request = IntakeRequest::new(
            Channel::Sms,
            source,
            ctx.inbound.now,
            self.raw,
            ctx.inbound.trace_id.to_string(),
        );
        request.citizen = citizen;
        request.content = Content::text(text);
        request.content.attachments = self.attachments;
        (Item::Request(Box::new(request)), None)
    }
}

/// China Standard Time, for providers that write local times without a zone (aliyun).
pub(crate) fn parse_china_time(text: &str) -> Option<DateTime<Utc>> {
    let naive = chrono::NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%d %H:%M:%S").ok()?;
    let offset = chrono::FixedOffset::east_opt(8 * 3600)?;
    naive
        .and_local_timezone(offset)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

/// Unix seconds to a time, `None` when out of range.
pub(crate) fn from_unix(secs: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(secs, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn china_time_is_utc_plus_8() {
        let t = parse_china_time("2026-11-24 10:00:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-24T02:00:00+00:00");
        assert_eq!(parse_china_time("2026-11-24T10:00:00"), None);
        assert_eq!(from_unix(i64::MAX), None);
    }
}
