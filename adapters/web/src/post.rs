//! One post of a batch, parsed into a request or rejected with a reason the partner can act on.

use chrono::{DateTime, Utc};
use intake_adapter::{phone, AdapterError, Inbound};
use intake_schema::{
    Attachment, AttachmentKind, Channel, Citizen, ContactKind, Content, IntakeRequest, Location,
    Moderation, Program, RawPayload, Routing, Source, Transfer,
};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::Partner;

/// The result for one post, in batch order.
#[derive(Debug)]
pub struct PostOutcome {
    /// The partner's post id as sent (empty when it was missing).
    pub id: String,
    /// The request to publish, or why the post was refused.
    pub result: Result<Box<IntakeRequest>, String>,
}

#[derive(Deserialize)]
struct Batch<'a> {
    #[serde(borrow)]
    posts: Vec<&'a RawValue>,
}

/// A post id may be a JSON string or number; partners' databases use both.
#[derive(Deserialize)]
#[serde(untagged)]
enum PostId {
    Text(String),
    Number(serde_json::Number),
}

#[derive(Deserialize)]
struct Post {
    id: Option<PostId>,
    kind: Option<String>,
    board: Option<String>,
    title: Option<String>,
    body: Option<String>,
    author: Option<Author>,
    posted_at: Option<String>,
    moderation: Option<ModerationIn>,
    location: Option<Location>,
    #[serde(default)]
    attachments: Vec<AttachmentIn>,
    program: Option<ProgramIn>,
    caller: Option<CallerIn>,
    transfer: Option<TransferIn>,
    /// The partner's or sending platform's own category of the item (e.g. 营商环境).
    category: Option<String>,
    /// The citizen asked for confidentiality (保密).
    #[serde(default)]
    confidential: bool,
    /// The citizen asked not to be named (匿名).
    #[serde(default)]
    anonymous: bool,
}

/// The longest category kept as a tag (longer ones are cut); categories are names, not descriptions.
const MAX_CATEGORY: usize = 32;

/// A listener who called in live to the radio programme.
#[derive(Deserialize)]
struct CallerIn {
    phone: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize)]
struct Author {
    name: Option<String>,
    phone: Option<String>,
    account: Option<String>,
}

#[derive(Deserialize)]
struct ModerationIn {
    moderator: Option<String>,
    approved_at: Option<String>,
}

#[derive(Deserialize)]
struct AttachmentIn {
    kind: Option<String>,
    url: String,
    title: Option<String>,
}

#[derive(Deserialize)]
struct ProgramIn {
    name: String,
    aired_at: Option<String>,
    episode: Option<String>,
    segment: Option<String>,
}

#[derive(Deserialize)]
struct TransferIn {
    platform: String,
    original_id: PostId,
    transferred_at: Option<String>,
    url: Option<String>,
    deadline: Option<String>,
    instructions: Option<String>,
    reply_to: Option<String>,
    original_title: Option<String>,
    original_received_at: Option<String>,
}

/// Parses the batch. Only a body that is not `{"posts": [...]}` fails as a whole.
pub fn parse_batch(inbound: &Inbound, partner: &Partner) -> Result<Vec<PostOutcome>, AdapterError> {
    // JSON is UTF-8 (RFC 8259); say so plainly instead of failing inside some post.
    let text = std::str::from_utf8(inbound.body).map_err(|e| {
        AdapterError::Encoding(format!(
            "body is not valid UTF-8 (at byte {})",
            e.valid_up_to()
        ))
    })?;
    intake_adapter::json::check_json_depth(text, intake_adapter::json::MAX_JSON_DEPTH)?;
    let batch: Batch = serde_json::from_str(text).map_err(|e| {
        AdapterError::Malformed(format!(
            "body is not {{\"posts\": [...]}}: {}",
            e.classify_text()
        ))
    })?;
    if batch.posts.is_empty() {
        return Err(AdapterError::Malformed("posts is empty".into()));
    }
    if batch.posts.len() > partner.max_posts {
        return Err(AdapterError::Malformed(format!(
            "{} posts in one batch; at most {}",
            batch.posts.len(),
            partner.max_posts
        )));
    }
    Ok(batch
        .posts
        .iter()
        .map(|raw| parse_post(raw, inbound, partner))
        .collect())
}

trait ClassifyText {
    fn classify_text(&self) -> &'static str;
}

impl ClassifyText for serde_json::Error {
    /// serde's messages quote the offending value, which may be a citizen's text: say only
    /// what kind of problem it was.
    fn classify_text(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Syntax => "invalid JSON syntax",
            serde_json::error::Category::Eof => "JSON ends too early",
            serde_json::error::Category::Data => "wrong field types",
            serde_json::error::Category::Io => "unreadable body",
        }
    }
}

fn parse_post(raw: &RawValue, inbound: &Inbound, partner: &Partner) -> PostOutcome {
    let post: Post = match serde_json::from_str(raw.get()) {
        Ok(p) => p,
        Err(e) => {
            let id = serde_json::from_str::<serde_json::Value>(raw.get())
                .ok()
                .and_then(|v| v.get("id").map(id_text))
                .unwrap_or_default();
            return PostOutcome {
                id,
                result: Err(format!("post is not a valid object: {}", e.classify_text())),
            };
        }
    };
    let id = post.id.as_ref().map(PostId::text).unwrap_or_default();
    let result = build(post, &id, raw, inbound, partner).map(Box::new);
    PostOutcome { id, result }
}

fn id_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl PostId {
    fn text(&self) -> String {
        match self {
            PostId::Text(s) => s.clone(),
            PostId::Number(n) => n.to_string(),
        }
    }
}

fn build(
    post: Post,
    id: &str,
    raw: &RawValue,
    inbound: &Inbound,
    partner: &Partner,
) -> Result<IntakeRequest, String> {
    if id.trim().is_empty() {
        return Err("id is required".into());
    }
    let channel = match post.kind.as_deref().unwrap_or("web") {
        "web" => Channel::Web,
        "radio" => Channel::Radio,
        other => {
            return Err(format!(
                "kind must be web or radio, not {:?}",
                truncate(other)
            ))
        }
    };
    let body = post.body.unwrap_or_default();
    if body.trim().is_empty() {
        return Err("body is required and must not be empty".into());
    }
    // A transfer comes from an official platform, not from the partner's moderated board.
    let moderation = match (post.moderation, post.transfer.is_some()) {
        (Some(m), _) => Some(moderation(m)?),
        (None, true) => None,
        (None, false) => {
            return Err("moderation is required: only approved posts may be pushed".into())
        }
    };
    let source = Source {
        system: ["web:", &partner.name].concat(),
        message_id: id.to_string(),
        line: None,
        occurred_at: time(post.posted_at.as_deref(), "posted_at")?,
    };
    let raw_payload = RawPayload::capture_text(Some("application/json"), raw.get());
    let mut request = IntakeRequest::new(
        channel,
        source,
        inbound.now,
        raw_payload,
        inbound.trace_id.to_string(),
    );
    let live_call = post.caller.is_some();
    request.citizen = match post.caller {
        Some(c) if channel == Channel::Radio => caller(c, post.author)?,
        Some(_) => return Err("caller is only allowed on radio posts".into()),
        None => citizen(post.author),
    };
    request.content = Content::text(body);
    request.content.title = post.title.filter(|t| !t.trim().is_empty());
    request.content.location = post.location.map(checked_location).transpose()?;
    request.content.attachments = post
        .attachments
        .into_iter()
        .map(attachment)
        .collect::<Result<_, _>>()?;
    let program = match post.program {
        Some(p) if channel == Channel::Radio => Some(Program {
            name: p.name,
            aired_at: time(p.aired_at.as_deref(), "program.aired_at")?,
            episode: non_empty(p.episode),
            segment: non_empty(p.segment),
            live_call,
        }),
        Some(_) => return Err("program is only allowed on radio posts".into()),
        None => None,
    };
    request.moderation = moderation.map(|(moderator, approved_at)| Moderation {
        moderator,
        approved_at,
        board: post.board,
        program,
    });
    request.routing = own_fields(
        &mut request.citizen,
        post.category.as_deref(),
        post.confidential,
        post.anonymous,
    );
    match post.transfer {
        Some(t) if channel == Channel::Web => {
            request.set_transfer(transfer(t, &partner.platforms)?)
        }
        Some(_) => return Err("transfer is only allowed on web posts".into()),
        None => {}
    }
    Ok(request)
}

/// What the post says about itself: its category becomes a tag, `confidential` flags the
/// citizen, `anonymous` drops the name (the contact stays: the platform may still answer).
fn own_fields(
    citizen: &mut Citizen,
    category: Option<&str>,
    confidential: bool,
    anonymous: bool,
) -> Option<Routing> {
    let category = category.map(str::trim).filter(|c| !c.is_empty());
    if category.is_none() && !confidential && !anonymous {
        return None;
    }
    let mut routing = Routing::general();
    if let Some(c) = category {
        // A hint, never a reason to refuse the citizen's post: an overlong or odd category is
        // cut to a tag's length and cleaned, not rejected.
        let tag: String = c
            .chars()
            .filter(|ch| !ch.is_control())
            .take(MAX_CATEGORY)
            .collect();
        if !tag.is_empty() {
            routing.tag(&tag, "field:category");
        }
    }
    if confidential {
        citizen.confidential = true;
        routing.note("confidential", "true", "field:confidential");
    }
    if anonymous {
        citizen.name = None;
        routing.tag("anonymous", "field:anonymous");
    }
    Some(routing)
}

fn moderation(m: ModerationIn) -> Result<(String, DateTime<Utc>), String> {
    let moderator = m
        .moderator
        .filter(|m| !m.trim().is_empty())
        .ok_or("moderation.moderator is required")?;
    let approved_at = time(m.approved_at.as_deref(), "moderation.approved_at")?
        .ok_or("moderation.approved_at is required")?;
    Ok((moderator, approved_at))
}

/// The longest platform name; names are identifiers, not descriptions.
const MAX_PLATFORM: usize = 64;

fn transfer(t: TransferIn, configured: &[String]) -> Result<Transfer, String> {
    // The four known platforms, plus the ones the operator configured (an office forwarding
    // from a platform of its own). The name becomes part of the request id, so a typo must be
    // refused rather than mint a second id for the same ticket.
    let known = Transfer::KNOWN_PLATFORMS.contains(&t.platform.as_str())
        || configured.contains(&t.platform);
    if !known || t.platform.len() > MAX_PLATFORM {
        let mut names: Vec<&str> = Transfer::KNOWN_PLATFORMS.to_vec();
        names.extend(configured.iter().map(String::as_str));
        return Err(format!(
            "transfer.platform {:?} is not a known platform (known: {}; more in channels.web.platforms)",
            truncate(&t.platform),
            names.join(", ")
        ));
    }
    let original_id = t.original_id.text();
    if original_id.trim().is_empty() {
        return Err("transfer.original_id is required".into());
    }
    Ok(Transfer {
        platform: t.platform,
        original_id,
        transferred_at: time(t.transferred_at.as_deref(), "transfer.transferred_at")?,
        url: t.url,
        deadline: time(t.deadline.as_deref(), "transfer.deadline")?,
        instructions: non_empty(t.instructions),
        reply_to: non_empty(t.reply_to),
        original_title: non_empty(t.original_title),
        original_received_at: time(
            t.original_received_at.as_deref(),
            "transfer.original_received_at",
        )?,
    })
}

/// A live caller is reachable at the number they called from, whatever the author block says.
fn caller(c: CallerIn, author: Option<Author>) -> Result<Citizen, String> {
    let number = c
        .phone
        .as_deref()
        .filter(|p| !p.trim().is_empty())
        .ok_or("caller.phone is required when a caller is given")?;
    let number = phone::normalize(number)
        .filter(|n| n.starts_with('+'))
        .ok_or("caller.phone is not a phone number that can be called back")?;
    let mut citizen = Citizen::reachable(ContactKind::Phone, number);
    citizen.name = non_empty(c.name).or_else(|| author.and_then(|a| non_empty(a.name)));
    Ok(citizen)
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty())
}

fn citizen(author: Option<Author>) -> Citizen {
    let Some(author) = author else {
        return Citizen::anonymous();
    };
    let mut citizen = match (
        author.phone.as_deref().and_then(phone::normalize),
        author.account,
    ) {
        (Some(number), _) => Citizen::reachable(ContactKind::Phone, number),
        (None, Some(account)) if !account.trim().is_empty() => {
            Citizen::reachable(ContactKind::WebAccount, account)
        }
        _ => Citizen::anonymous(),
    };
    citizen.name = author.name.filter(|n| !n.trim().is_empty());
    citizen
}

fn time(value: Option<&str>, field: &str) -> Result<Option<DateTime<Utc>>, String> {
    value
        .map(|v| {
            DateTime::parse_from_rfc3339(v)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| format!("{field} is not an RFC 3339 time"))
        })
        .transpose()
}

fn checked_location(l: Location) -> Result<Location, String> {
    if (-90.0..=90.0).contains(&l.lat) && (-180.0..=180.0).contains(&l.lon) {
        Ok(l)
    } else {
        Err("location is out of range".into())
    }
}

fn attachment(a: AttachmentIn) -> Result<Attachment, String> {
    if a.url.trim().is_empty() {
        return Err("attachment url is empty".into());
    }
    let kind = match a.kind.as_deref().unwrap_or("file") {
        "image" => AttachmentKind::Image,
        "voice" => AttachmentKind::Voice,
        "video" => AttachmentKind::Video,
        "link" => AttachmentKind::Link,
        "file" => AttachmentKind::File,
        other => {
            return Err(format!(
                "attachment kind {:?} is not image, voice, video, link or file",
                truncate(other)
            ))
        }
    };
    Ok(Attachment {
        kind,
        reference: a.url,
        mime: None,
        duration: None,
        title: a.title,
    })
}

fn truncate(s: &str) -> String {
    s.chars().take(20).collect()
}
