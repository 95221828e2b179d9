//! Turns the fields of one authenticated push into a request, an event or a dead letter.
//!
//! Mapping choices the platform relies on:
//! - `image`: one image attachment whose `ref` is `PicUrl` (fetchable without an API token) and
//!   whose title is `media_id:{MediaId}`, so the picture stays retrievable through the media API
//!   after the URL expires without showing two pictures to an agent.
//! - `voice`, `video`, `shortvideo`: the attachment `ref` is the `MediaId`; a video's
//!   `ThumbMediaId` is a second, image attachment titled `thumbnail`.
//! - `location`: `content.location` plus a `location` attachment `geo:{lat},{lon}?z={Scale}`
//!   (RFC 5870 URI with the map-app zoom parameter) titled with `Label`; the text stays empty.
//! - `link`: `Title` is the title, `Description` the text, `Url` a link attachment.

use chrono::{DateTime, Utc};
use intake_schema::{
    Attachment, AttachmentKind, Channel, Citizen, ContactKind, Content, DeadLetter, IntakeEvent,
    IntakeRequest, Location, RawPayload, Source,
};

use crate::xml::Fields;
use crate::PushKind;

/// Longest event name accepted into an event kind; kinds become metric labels.
const MAX_EVENT_NAME: usize = 64;

/// What every record of one push shares.
pub(crate) struct Envelope<'a> {
    /// `wechat:{original_id or name}`.
    pub system: &'a str,
    /// The account's original id, from the authoritative XML.
    pub to_user: &'a str,
    /// The citizen's openid.
    pub from_user: &'a str,
    /// The gateway clock at arrival.
    pub received_at: DateTime<Utc>,
    /// The audit copy of the authoritative message.
    pub raw: RawPayload,
    /// The trace to stamp on the record.
    pub trace_id: &'a str,
}

impl Envelope<'_> {
    fn citizen(&self) -> Citizen {
        Citizen::reachable(ContactKind::WechatOpenid, self.from_user)
    }

    fn dead_letter(self, reason: String) -> PushKind {
        PushKind::DeadLetter(Box::new(DeadLetter::new(
            Channel::Wechat,
            self.system,
            reason,
            self.received_at,
            self.raw,
            self.trace_id,
        )))
    }
}

/// Normalizes an authenticated push whose `MsgType` is `msg_type`.
pub(crate) fn normalize(fields: &Fields, msg_type: &str, env: Envelope<'_>) -> PushKind {
    let msg_type = msg_type.trim().to_ascii_lowercase();
    let create_time = fields.trimmed("CreateTime").unwrap_or("");
    let occurred_at = create_time
        .parse::<i64>()
        .ok()
        .and_then(|secs| DateTime::from_timestamp(secs, 0));
    if msg_type == "event" {
        return event(fields, create_time, occurred_at, env);
    }
    let content = match msg_type.as_str() {
        "text" => Content::text(fields.get("Content").unwrap_or("")),
        "image" => image(fields),
        "voice" => voice(fields),
        "video" | "shortvideo" => video(fields),
        "location" => match location(fields) {
            Some(content) => content,
            None => {
                return env
                    .dead_letter("location message without valid Location_X/Location_Y".into())
            }
        },
        "link" => link(fields),
        _ => return env.dead_letter(format!("unsupported MsgType \"{}\"", printable(&msg_type))),
    };
    let message_id = match fields.trimmed("MsgId") {
        Some(id) => [env.to_user, "/", env.from_user, "/", id].concat(),
        // Without MsgId the push itself is the identity: a retry repeats all of these.
        None => format!(
            "{}/{}/{}/{}",
            env.to_user, env.from_user, create_time, msg_type
        ),
    };
    let source = Source {
        system: env.system.to_string(),
        message_id,
        line: None,
        occurred_at,
    };
    let citizen = env.citizen();
    let mut request = IntakeRequest::new(
        Channel::Wechat,
        source,
        env.received_at,
        env.raw,
        env.trace_id.to_string(),
    );
    request.citizen = citizen;
    request.content = content;
    PushKind::Request(Box::new(request))
}

fn attachment(kind: AttachmentKind, reference: &str) -> Option<Attachment> {
    let reference = reference.trim();
    // The schema requires a non-empty ref; an attachment without one cannot be fetched anyway.
    (!reference.is_empty()).then(|| Attachment {
        kind,
        reference: reference.to_string(),
        mime: None,
        duration: None,
        title: None,
    })
}

fn image(fields: &Fields) -> Content {
    let mut content = Content::text("");
    let media_id = fields.trimmed("MediaId");
    let pic = attachment(AttachmentKind::Image, fields.get("PicUrl").unwrap_or(""))
        .map(|a| Attachment {
            title: media_id.map(|m| format!("media_id:{m}")),
            ..a
        })
        .or_else(|| attachment(AttachmentKind::Image, media_id.unwrap_or("")));
    content.attachments.extend(pic);
    content
}

fn voice(fields: &Fields) -> Content {
    // With speech recognition on, WeChat transcribes the voice: that transcript is the request.
    let mut content = Content::text(fields.trimmed("Recognition").unwrap_or(""));
    let mime = fields.trimmed("Format").and_then(audio_mime);
    if let Some(a) = attachment(AttachmentKind::Voice, fields.get("MediaId").unwrap_or("")) {
        content.attachments.push(Attachment { mime, ..a });
    }
    content
}

fn audio_mime(format: &str) -> Option<String> {
    let format = format.to_ascii_lowercase();
    match format.as_str() {
        "mp3" => Some("audio/mpeg".into()),
        f if !f.is_empty() && f.len() <= 16 && f.bytes().all(|b| b.is_ascii_alphanumeric()) => {
            Some(format!("audio/{f}"))
        }
        _ => None,
    }
}

fn video(fields: &Fields) -> Content {
    let mut content = Content::text("");
    content.attachments.extend(attachment(
        AttachmentKind::Video,
        fields.get("MediaId").unwrap_or(""),
    ));
    if let Some(thumb) = attachment(
        AttachmentKind::Image,
        fields.get("ThumbMediaId").unwrap_or(""),
    ) {
        content.attachments.push(Attachment {
            title: Some("thumbnail".into()),
            ..thumb
        });
    }
    content
}

fn location(fields: &Fields) -> Option<Content> {
    let lat = coordinate(fields.trimmed("Location_X")?, 90.0)?;
    let lon = coordinate(fields.trimmed("Location_Y")?, 180.0)?;
    let label = fields.trimmed("Label").map(str::to_string);
    let mut content = Content::text("");
    let mut geo = format!("geo:{lat},{lon}");
    if let Some(scale) = fields
        .trimmed("Scale")
        .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
    {
        geo.push_str(&format!("?z={scale}"));
    }
    content.attachments.push(Attachment {
        kind: AttachmentKind::Location,
        reference: geo,
        mime: None,
        duration: None,
        title: label.clone(),
    });
    content.location = Some(Location { lat, lon, label });
    Some(content)
}

/// A finite coordinate within ±`limit`; JSON cannot carry NaN and the platform's map cannot
/// place anything beyond the poles.
fn coordinate(text: &str, limit: f64) -> Option<f64> {
    text.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && v.abs() <= limit)
}

fn link(fields: &Fields) -> Content {
    let title = fields.trimmed("Title").map(str::to_string);
    let mut content = Content::text(fields.get("Description").unwrap_or("").trim());
    if let Some(a) = attachment(AttachmentKind::Link, fields.get("Url").unwrap_or("")) {
        content.attachments.push(Attachment {
            title: title.clone(),
            ..a
        });
    }
    content.title = title;
    content
}

fn event(
    fields: &Fields,
    create_time: &str,
    occurred_at: Option<DateTime<Utc>>,
    env: Envelope<'_>,
) -> PushKind {
    let name = fields.trimmed("Event").unwrap_or("");
    let valid = !name.is_empty()
        && name.len() <= MAX_EVENT_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
    if !valid {
        return env.dead_letter(format!(
            "event with missing or invalid Event name \"{}\"",
            printable(name)
        ));
    }
    let lower = name.to_ascii_lowercase();
    let key = fields.get("EventKey").unwrap_or("");
    let dedup = format!(
        "{}/{}/{}/{}/{}",
        env.to_user, env.from_user, create_time, name, key
    );
    let mut record = IntakeEvent::new(
        Channel::Wechat,
        format!("wechat.{lower}"),
        env.system,
        dedup,
        env.received_at,
        env.citizen(),
        env.trace_id,
    );
    record.occurred_at = occurred_at;
    for attr in [
        "EventKey",
        "Ticket",
        "Latitude",
        "Longitude",
        "Precision",
        "MenuId",
    ] {
        if let Some(value) = fields.trimmed(attr) {
            record
                .attributes
                .insert(attr.to_string(), value.to_string());
        }
    }
    // The QR scene tells which poster or counter brought the citizen; subscribe prefixes it with
    // `qrscene_`, SCAN does not. `Scene` gives both the same shape.
    let scene = match lower.as_str() {
        "subscribe" => key.trim().strip_prefix("qrscene_"),
        "scan" => Some(key.trim()),
        _ => None,
    };
    if let Some(scene) = scene.filter(|s| !s.is_empty()) {
        record.attributes.insert("Scene".into(), scene.to_string());
    }
    PushKind::Event(Box::new(record))
}

/// A short, single-line copy of untrusted text for a dead letter's reason.
fn printable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(40).collect()
}
