//! The record types. Field names are the JSON contract: never rename one without a new schema.

use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::ser::Error as _;
use serde::{Deserialize, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::{Language, RequestId, Routing, TrackingNo, SCHEMA_ID};

/// How the citizen reached the hotline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// A phone call, from the PBX/SIP platform's call metadata.
    Phone,
    /// A mobile-originated SMS.
    Sms,
    /// A message to the WeChat official account.
    Wechat,
    /// A moderated web-board post (the media partner or a transfer from another platform).
    Web,
    /// A moderated message of the radio programme.
    Radio,
}

impl Channel {
    /// The snake_case name used in the record, in metrics labels and in request ids.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Phone => "phone",
            Channel::Sms => "sms",
            Channel::Wechat => "wechat",
            Channel::Web => "web",
            Channel::Radio => "radio",
        }
    }

    /// Every channel, in display order.
    pub const ALL: [Channel; 5] = [
        Channel::Phone,
        Channel::Sms,
        Channel::Wechat,
        Channel::Web,
        Channel::Radio,
    ];
}

/// One citizen request, normalized: what the platform's dispatching reads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IntakeRequest {
    /// Always [`SCHEMA_ID`].
    pub schema: String,
    /// Deterministic id; see [`RequestId::derive`].
    pub request_id: RequestId,
    /// The acceptance number told to the citizen.
    pub tracking_no: TrackingNo,
    /// The channel the request came through.
    pub channel: Channel,
    /// Where exactly it came from.
    pub source: Source,
    /// When the gateway received it (RFC 3339, UTC, milliseconds).
    #[serde(serialize_with = "rfc3339_millis")]
    pub received_at: DateTime<Utc>,
    /// Who asked, as far as the channel tells.
    pub citizen: Citizen,
    /// What they asked.
    pub content: Content,
    /// Phone channel only: the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call: Option<CallInfo>,
    /// Web and radio only: who approved the item and where it was shown. Required on radio and on
    /// web posts, except on transfers, which come from an official platform, not a moderated board.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moderation: Option<Moderation>,
    /// Web only: an item transferred from another platform (mayor's mailbox, State Council...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer: Option<Transfer>,
    /// Line name, desk, tags and priority set at intake, with the reason for each: hints for
    /// the dispatcher (absent on records of gateways before the line registry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing: Option<Routing>,
    /// The payload exactly as received, for audit.
    pub raw: RawPayload,
    /// The trace this request was handled in (W3C trace id, 32 hex digits).
    pub trace_id: String,
}

impl IntakeRequest {
    /// Starts a record: derives `request_id` and `tracking_no` from channel and source, and
    /// leaves the citizen anonymous, the content empty and the channel blocks absent.
    pub fn new(
        channel: Channel,
        source: Source,
        received_at: DateTime<Utc>,
        raw: RawPayload,
        trace_id: String,
    ) -> Self {
        let request_id = RequestId::derive(channel, &source.system, &source.message_id);
        IntakeRequest {
            schema: SCHEMA_ID.to_string(),
            tracking_no: request_id.tracking_no(),
            request_id,
            channel,
            source,
            received_at,
            citizen: Citizen::anonymous(),
            content: Content::text(""),
            call: None,
            moderation: None,
            transfer: None,
            routing: None,
            raw,
            trace_id,
        }
    }

    /// Attaches a transfer block and re-keys the record by the transferred ticket, so the same
    /// ticket delivered twice (re-sent, or once pushed and once imported) is one request.
    pub fn set_transfer(&mut self, transfer: Transfer) {
        self.request_id = transfer.request_id();
        self.tracking_no = self.request_id.tracking_no();
        self.transfer = Some(transfer);
    }

    /// The id this record must have: from its transfer when it has one, else from its source.
    pub fn expected_request_id(&self) -> RequestId {
        match &self.transfer {
            Some(t) => t.request_id(),
            None => RequestId::derive(self.channel, &self.source.system, &self.source.message_id),
        }
    }

    /// The Kafka key: the citizen's contact, so one citizen's requests stay in order;
    /// anonymous requests fall back to their own id.
    pub fn partition_key(&self) -> String {
        match &self.citizen.contact {
            Some(c) if !c.is_empty() => c.clone(),
            _ => self.request_id.to_string(),
        }
    }
}

/// The origin of a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// `{kind}:{name}`, e.g. `web:baixing`, `wechat:gh_xxx`, `sms:aliyun`, `call:pbx1`.
    pub system: String,
    /// The source's own id of the message (post id, MsgId, SIP Call-ID...).
    pub message_id: String,
    /// The hotline number reached ("12345", "12343", "12328"...), when known.
    #[serde(default)]
    pub line: Option<String>,
    /// The source's own timestamp, when it has one.
    #[serde(default, serialize_with = "opt_rfc3339_millis")]
    pub occurred_at: Option<DateTime<Utc>>,
}

/// How the platform can get back to the citizen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactKind {
    /// An E.164 phone number.
    Phone,
    /// The openid of the citizen on the official account.
    WechatOpenid,
    /// An account on the partner's web board.
    WebAccount,
    /// No way back.
    Anonymous,
}

/// The citizen, as far as the channel identifies them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Citizen {
    /// What `contact` is.
    pub contact_kind: ContactKind,
    /// The contact itself; null when anonymous.
    #[serde(default)]
    pub contact: Option<String>,
    /// The name they gave, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The citizen asked for confidentiality (GB/T 33358 保密): the contact stays on the record
    /// (the platform must call back) but must not be disclosed to the department handling the
    /// request or to anyone else. Absent means false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub confidential: bool,
}

impl Citizen {
    /// A citizen we cannot reach.
    pub fn anonymous() -> Self {
        Citizen {
            contact_kind: ContactKind::Anonymous,
            contact: None,
            name: None,
            confidential: false,
        }
    }

    /// A citizen reachable through `contact` of `kind`.
    pub fn reachable(kind: ContactKind, contact: impl Into<String>) -> Self {
        Citizen {
            contact_kind: kind,
            contact: Some(contact.into()),
            name: None,
            confidential: false,
        }
    }
}

/// What the citizen said or sent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Content {
    /// The text (may be empty, e.g. for a call or a picture without words).
    pub text: String,
    /// The script of `text`.
    pub language: Language,
    /// A title, where the channel has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Pictures, voice, links, recordings...
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    /// Where the citizen is or what the request is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

impl Content {
    /// Content with `text` and its detected language, nothing else.
    pub fn text(text: impl Into<String>) -> Self {
        let text = text.into();
        Content {
            language: Language::of(&text),
            text,
            title: None,
            attachments: Vec::new(),
            location: None,
        }
    }
}

/// The kind of an attachment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttachmentKind {
    /// A picture.
    Image,
    /// A voice message.
    Voice,
    /// A video.
    Video,
    /// A link the citizen shared.
    Link,
    /// A shared location.
    Location,
    /// A call recording.
    Recording,
    /// Any other file.
    File,
}

/// A thing attached to a request, by reference (URL or the channel's media id).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    /// What it is.
    pub kind: AttachmentKind,
    /// A URL or a media id of the channel.
    #[serde(rename = "ref")]
    pub reference: String,
    /// MIME type, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime: Option<String>,
    /// Length in seconds (voice, video, recordings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    /// A caption or title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

/// A point on the map (WGS-84 unless the channel says otherwise in the label).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Location {
    /// Latitude in degrees.
    pub lat: f64,
    /// Longitude in degrees.
    pub lon: f64,
    /// A human-readable place name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// How a call ended, for the platform's callback (回拨) list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    /// An agent talked to the citizen.
    Answered,
    /// The citizen hung up before anyone answered.
    Abandoned,
    /// The line was busy.
    Busy,
    /// The call failed (network, congestion).
    Failed,
    /// Nobody answered until the ring timeout.
    NoAnswer,
}

/// The `call` block of a phone request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallInfo {
    /// The SIP Call-ID (or the PBX's call id).
    pub call_id: String,
    /// `inbound` or `outbound`.
    pub direction: String,
    /// The caller's number, E.164 where possible, or `anonymous`.
    pub caller: Option<String>,
    /// The number the call was delivered to.
    pub callee: Option<String>,
    /// The hotline the citizen dialed, after diversions ("12328" even when routed to 12345).
    pub dialed_line: Option<String>,
    /// When the call started.
    #[serde(default, serialize_with = "opt_rfc3339_millis")]
    pub started_at: Option<DateTime<Utc>>,
    /// When it was answered, if it was.
    #[serde(default, serialize_with = "opt_rfc3339_millis")]
    pub answered_at: Option<DateTime<Utc>>,
    /// When it ended.
    #[serde(default, serialize_with = "opt_rfc3339_millis")]
    pub ended_at: Option<DateTime<Utc>>,
    /// Seconds from start to answer (or to the end, unanswered).
    pub ring_seconds: Option<u64>,
    /// Seconds of conversation.
    pub talk_seconds: Option<u64>,
    /// How it ended.
    pub disposition: Disposition,
    /// The PBX's hangup cause, verbatim.
    pub hangup_cause: Option<String>,
    /// Where the recording is, when there is one.
    pub recording: Option<String>,
    /// The queue the call waited in.
    pub queue: Option<String>,
    /// The agent (extension or id) that answered.
    pub agent: Option<String>,
    /// True when the citizen should be called back (unanswered calls).
    pub callback_candidate: bool,
    /// The digits the caller chose in the IVR menu (e.g. `2` for the Korean-speaking desk), as
    /// the PBX reported them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ivr: Option<String>,
}

/// The `moderation` block of web and radio requests.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Moderation {
    /// Who approved the item at the partner.
    pub moderator: String,
    /// When it was approved.
    #[serde(serialize_with = "rfc3339_millis")]
    pub approved_at: DateTime<Utc>,
    /// The board or section it was posted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub board: Option<String>,
    /// Radio only: the programme it aired in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program: Option<Program>,
}

/// A radio programme airing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Program {
    /// The programme's name, e.g. 百姓热线.
    pub name: String,
    /// When the message was aired.
    #[serde(default, serialize_with = "opt_rfc3339_millis")]
    pub aired_at: Option<DateTime<Utc>>,
    /// The episode (期/集) of the programme, as the station names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub episode: Option<String>,
    /// The segment (环节/板块) within the episode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
    /// True when the listener called in live; the citizen's contact is then the caller's phone.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub live_call: bool,
}

/// The `transfer` block: an item another platform handed over to 12345.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Transfer {
    /// Where it came from: `mayor_mailbox`, `provincial_hotline`, `state_council`,
    /// `people_daily` (人民网领导留言板) or another name.
    pub platform: String,
    /// That platform's id of the item.
    pub original_id: String,
    /// When it was transferred.
    #[serde(default, serialize_with = "opt_rfc3339_millis")]
    pub transferred_at: Option<DateTime<Utc>>,
    /// A link to the item there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The reply due date the sender set (办理时限); the platform must report back by then.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "opt_rfc3339_millis"
    )]
    pub deadline: Option<DateTime<Utc>>,
    /// The sender's instructions (批示/转办意见).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// How and where to report the result (a URL, a mailbox, a platform's reply channel).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// The item's title on the sending platform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_title: Option<String>,
    /// When the sending platform first received the item from the citizen.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "opt_rfc3339_millis"
    )]
    pub original_received_at: Option<DateTime<Utc>>,
}

impl Transfer {
    /// The platform names the gateway knows; any other configured name is accepted too.
    pub const KNOWN_PLATFORMS: [&'static str; 4] = [
        "mayor_mailbox",
        "provincial_hotline",
        "state_council",
        "people_daily",
    ];

    /// The request id of this transfer: the same ticket is one request, whoever delivers it
    /// and however often (see [`RequestId::for_transfer`]).
    pub fn request_id(&self) -> RequestId {
        RequestId::for_transfer(&self.platform, &self.original_id)
    }
}

/// How `raw.body` is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RawEncoding {
    /// The body was valid UTF-8 and is kept as text.
    Text,
    /// The body was not UTF-8 and is kept as standard base64.
    Base64,
}

/// The payload as received, for audit and replays.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawPayload {
    /// The Content-Type header, if any.
    pub content_type: Option<String>,
    /// How `body` is written.
    pub encoding: RawEncoding,
    /// The body.
    pub body: String,
    /// Lowercase hex SHA-256 of the body bytes.
    pub sha256: String,
}

impl RawPayload {
    /// Keeps `body` as text when it is UTF-8, else as base64, with its digest.
    pub fn capture(content_type: Option<&str>, body: &[u8]) -> Self {
        match std::str::from_utf8(body) {
            Ok(text) => Self::capture_text(content_type, text),
            Err(_) => RawPayload {
                content_type: content_type.map(str::to_string),
                encoding: RawEncoding::Base64,
                body: base64::engine::general_purpose::STANDARD.encode(body),
                sha256: sha256_hex(body),
            },
        }
    }

    /// [`RawPayload::capture`] of a body the adapter already holds as text (a parsed JSON value,
    /// a decoded XML message): the same payload without checking the UTF-8 a second time, and
    /// without a copy when the text is handed over as a `String`.
    pub fn capture_text(content_type: Option<&str>, body: impl Into<String>) -> Self {
        let body = body.into();
        RawPayload {
            content_type: content_type.map(str::to_string),
            encoding: RawEncoding::Text,
            sha256: sha256_hex(body.as_bytes()),
            body,
        }
    }
}

/// Lowercase hex of the SHA-256 of `bytes`. Into a fixed buffer: `hex::encode` collects an
/// iterator of chars one push at a time, five times the instructions for every record.
fn sha256_hex(bytes: &[u8]) -> String {
    let mut digits = [0u8; 64];
    // 32 bytes always fit 64 digits; the digits are ASCII.
    let _ = hex::encode_to_slice(Sha256::digest(bytes), &mut digits);
    String::from_utf8_lossy(&digits).into_owned()
}

/// Serializes a time as RFC 3339 UTC with milliseconds, the record's one time format.
pub fn rfc3339_millis<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    match fixed_width_millis(t) {
        Some(text) => s.serialize_str(std::str::from_utf8(&text).map_err(S::Error::custom)?),
        None => s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Millis, true)),
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` written digit by digit: every record carries two or three times,
/// and chrono's general formatter (a `String` and the formatting machinery each) was about 1,000
/// instructions a time under callgrind. Years outside 0-9999 and leap seconds, which this fixed
/// width cannot show as chrono does, are left to chrono.
fn fixed_width_millis(t: &DateTime<Utc>) -> Option<[u8; 24]> {
    fixed_width(t, *b"0000-00-00T00:00:00.000Z", t.timestamp_subsec_millis())
}

/// `YYYY-MM-DDTHH:MM:SS.uuuuuuZ`, as chrono's `to_rfc3339_opts(SecondsFormat::Micros, true)`
/// writes it, digit by digit (for log lines, one per request); `None` where only chrono can
/// (years outside 0-9999, leap seconds).
pub fn fixed_width_micros(t: &DateTime<Utc>) -> Option<[u8; 27]> {
    fixed_width(
        t,
        *b"0000-00-00T00:00:00.000000Z",
        t.timestamp_subsec_micros(),
    )
}

/// Fills `template` (a UTC time with `N - 21` fraction digits before its `Z`) with `t`, and
/// `fraction` in those digits.
fn fixed_width<const N: usize>(
    t: &DateTime<Utc>,
    template: [u8; N],
    fraction: u32,
) -> Option<[u8; N]> {
    use chrono::{Datelike, Timelike};
    let digits = N - 21;
    if !(0..=9999).contains(&t.year()) || fraction >= 10u32.pow(digits as u32) {
        return None;
    }
    let mut out = template;
    let mut put = |at: usize, width: usize, mut value: u32| {
        for i in (at..at + width).rev() {
            out[i] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, 4, t.year() as u32);
    put(5, 2, t.month());
    put(8, 2, t.day());
    put(11, 2, t.hour());
    put(14, 2, t.minute());
    put(17, 2, t.second());
    put(20, digits, fraction);
    Some(out)
}

fn opt_rfc3339_millis<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => rfc3339_millis(t, s),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn fixed_width_times_are_chronos(secs in -62_135_596_800i64..=253_402_300_799, nanos in 0u32..2_000_000_000) {
            let Some(t) = DateTime::from_timestamp(secs, nanos) else { return Ok(()); };
            let mut ours = Vec::new();
            rfc3339_millis(&t, &mut serde_json::Serializer::new(&mut ours)).unwrap();
            let chrono = serde_json::to_vec(&t.to_rfc3339_opts(SecondsFormat::Millis, true)).unwrap();
            proptest::prop_assert_eq!(String::from_utf8(ours).unwrap(), String::from_utf8(chrono).unwrap());
        }

        #[test]
        fn fixed_width_micros_are_chronos(secs in -62_135_596_800i64..=253_402_300_799, nanos in 0u32..2_000_000_000) {
            let Some(t) = DateTime::from_timestamp(secs, nanos) else { return Ok(()); };
            let chrono = t.to_rfc3339_opts(SecondsFormat::Micros, true);
            match fixed_width_micros(&t) {
                Some(ours) => proptest::prop_assert_eq!(std::str::from_utf8(&ours).unwrap(), chrono),
                // Only where the fixed width cannot: a leap second or a year beyond four digits.
                None => proptest::prop_assert!(nanos >= 1_000_000_000 || !(0..=9999).contains(&chrono::Datelike::year(&t))),
            }
        }
    }

    #[test]
    fn times_beyond_four_digit_years_are_chronos() {
        for t in [DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC] {
            let mut ours = Vec::new();
            rfc3339_millis(&t, &mut serde_json::Serializer::new(&mut ours)).unwrap();
            assert_eq!(
                serde_json::from_slice::<String>(&ours).unwrap(),
                t.to_rfc3339_opts(SecondsFormat::Millis, true)
            );
        }
    }

    #[test]
    fn text_captured_as_text_is_the_same_payload() {
        let text = "<xml><Content><![CDATA[延吉 연길]]></Content></xml>";
        let expected = RawPayload::capture(Some("text/xml"), text.as_bytes());
        assert_eq!(RawPayload::capture_text(Some("text/xml"), text), expected);
        assert_eq!(
            RawPayload::capture_text(Some("text/xml"), text.to_string()),
            expected
        );
        assert_eq!(expected.encoding, RawEncoding::Text);
    }

    #[test]
    fn times_have_milliseconds_and_z() {
        let t = DateTime::parse_from_rfc3339("2026-11-24T08:00:00+08:00")
            .unwrap()
            .with_timezone(&Utc);
        let src = Source {
            system: "web:x".into(),
            message_id: "1".into(),
            line: None,
            occurred_at: Some(t),
        };
        let rec = IntakeRequest::new(
            Channel::Web,
            src,
            t,
            RawPayload::capture(None, b"{}"),
            "0".repeat(32),
        );
        let json = serde_json::to_value(&rec).unwrap();
        assert_eq!(json["received_at"], "2026-11-24T00:00:00.000Z");
        assert_eq!(json["source"]["occurred_at"], "2026-11-24T00:00:00.000Z");
        assert_eq!(json["schema"], "intake-request/1");
        let back: IntakeRequest = serde_json::from_value(json).unwrap();
        assert_eq!(back, rec);
    }

    #[test]
    fn raw_keeps_text_or_base64() {
        assert_eq!(RawPayload::capture(None, b"hi").encoding, RawEncoding::Text);
        let bin = RawPayload::capture(Some("application/octet-stream"), &[0xff, 0xfe]);
        assert_eq!(
            (bin.encoding, bin.body.as_str()),
            (RawEncoding::Base64, "//4=")
        );
    }
}
