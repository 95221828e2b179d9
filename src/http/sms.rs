//! `GET|POST /hooks/sms/{provider}`: mobile-originated SMS from the hotline's SMS gateways.
//!
//! Gateways retry what we do not acknowledge, and some push the same message twice anyway; the
//! request id (provider, sender, the provider's message id) turns both into duplicates. The
//! parts of a long SMS are acknowledged one by one once each is durable in the reassembly store.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use intake_schema::{Channel, ContactKind, IntakeRequest, RequestId};
use intake_sms::{AdmissionStatus, Call, Item, Lines, Part};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::request::{body, HeaderView, Hook};
use super::{ApiError, AppState};
use crate::pipeline::{NotDurable, Pipeline};
use crate::reassembly::GroupStore;
use crate::receipts::Receipt;
use crate::sink::Envelope;
use crate::telemetry;

/// The durable store of long-SMS parts.
pub type PartStore = GroupStore<Part>;

/// One delivery: authenticate, parse, make every message durable, answer as the provider expects.
pub async fn hook(
    State(app): State<AppState>,
    Path(name): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Response {
    let sms = &app.config.channels.sms;
    let configured = sms.provider(&name);
    let hook = Hook::begin("sms", &name, configured.is_some(), &headers);
    hook.run(async {
        let source = hook.source();
        let provider = configured.ok_or_else(|| ApiError::UnknownSource {
            kind: "provider",
            name: name.chars().take(64).collect(),
        })?;
        let bytes = body(raw, app.config.server.max_body_bytes)?;
        let delivery = {
            let view = HeaderView(&headers);
            let inbound = hook.inbound(method.as_str(), &uri, &view, &bytes, Some(peer.ip()));
            let path_and_query = uri.path_and_query().map(|p| p.as_str()).unwrap_or("");
            intake_sms::handle(
                &Call {
                    inbound: &inbound,
                    path_and_query,
                },
                &provider,
                &Lines::new(&sms.lines),
            )?
        };
        app.limits
            .check_partner("sms", source)
            .map_err(ApiError::RateLimited)?;
        if delivery.probe {
            return Ok(reply(intake_sms::success_reply(delivery.kind, true, None)));
        }
        if let [Item::Request(r)] = delivery.items.as_slice() {
            // A single citizen flooding the line; a batch is never refused for one sender.
            if let Some(phone) = r
                .citizen
                .contact
                .as_deref()
                .filter(|_| r.citizen.contact_kind == ContactKind::Phone)
            {
                app.limits
                    .check_sender("sms", phone)
                    .map_err(ApiError::RateLimited)?;
            }
        }
        let mut last = intake_sms::Admission {
            status: AdmissionStatus::Pending,
            request_id: None,
            tracking_no: None,
            error: delivery.rejected_reason.clone(),
        };
        let receipt_config = sms.providers.get(&name).filter(|c| c.receipt);
        // Receipts through a send endpoint go per accepted message (a batch push carries many
        // citizens); the reply, where it carries one, answers only the last.
        let send_receipts = receipt_config.is_some_and(|c| c.sends_receipts());
        for item in delivery.items {
            let (admission, phone) = admit(&app, source, item).await?;
            if let (Some(c), Some(to), Some(no), Some(id), true) = (
                receipt_config,
                phone,
                &admission.tracking_no,
                &admission.request_id,
                send_receipts && admission.status == AdmissionStatus::Accepted,
            ) {
                // Queued without waiting: the record is durable, the receipt is best effort.
                app.receipts.enqueue(Receipt {
                    provider: name.clone(),
                    to,
                    text: c.receipt_template.replace("{tracking_no}", no),
                    tracking_no: no.clone(),
                    request_id: id.clone(),
                });
            }
            last = admission;
        }
        let receipt = match (receipt_config, &last.tracking_no) {
            (Some(c), Some(no)) if last.status == AdmissionStatus::Accepted && !send_receipts => {
                Some(c.receipt_template.replace("{tracking_no}", no))
            }
            _ => None,
        };
        Ok(reply(match delivery.kind {
            intake_sms::ProviderKind::Generic => intake_sms::generic_reply(&last),
            kind => intake_sms::success_reply(kind, false, receipt.as_deref()),
        }))
    })
    .await
}

fn reply((content_type, body): (&'static str, String)) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// The admission, and the citizen's number when a record with one was published.
type Admitted = (intake_sms::Admission, Option<String>);

async fn admit(app: &AppState, source: &str, item: Item) -> Result<Admitted, NotDurable> {
    let admission = match item {
        Item::Request(record) => return publish(&app.pipeline, source, &record).await,
        Item::DeadLetter(letter) => {
            app.pipeline
                .submit(Envelope::dead_letter(&letter).map_err(|e| NotDurable(e.to_string()))?)
                .await?;
            telemetry::record_outcome("sms", source, "dead_lettered");
            tracing::warn!(dead_letter_id = %letter.dead_letter_id, reason = %letter.reason, "sms dead-lettered");
            intake_sms::Admission {
                status: AdmissionStatus::Rejected,
                request_id: None,
                tracking_no: None,
                error: Some(letter.reason.clone()),
            }
        }
        Item::Part(part) => {
            let id = part_id(&part);
            if app.pipeline.dedup().is_seen(id) {
                // A re-sent part of a message that was already assembled and published.
                return Ok((
                    intake_sms::Admission {
                        status: AdmissionStatus::Duplicate,
                        request_id: None,
                        tracking_no: None,
                        error: None,
                    },
                    None,
                ));
            }
            let key = part.key.as_string();
            let whole = app
                .sms_parts
                .add(&key, u32::from(part.seq), u32::from(part.total), &part)
                .await
                .map_err(|e| NotDurable(e.to_string()))?;
            match whole {
                None => intake_sms::Admission {
                    status: AdmissionStatus::Pending,
                    request_id: None,
                    tracking_no: None,
                    error: None,
                },
                Some(parts) => {
                    return complete(&app.pipeline, &app.sms_parts, source, &key, &parts, false)
                        .await
                }
            }
        }
    };
    Ok((admission, None))
}

/// Publishes an assembled long SMS (or, after the timeout, what arrived of it) and retires its parts.
async fn complete(
    pipeline: &Pipeline,
    store: &PartStore,
    source: &str,
    key: &str,
    parts: &[Part],
    incomplete: bool,
) -> Result<Admitted, NotDurable> {
    let assembled = if incomplete {
        intake_sms::assemble_incomplete(parts)
    } else {
        intake_sms::assemble(parts)
    };
    let admission = match assembled {
        Ok(record) => publish(pipeline, source, &record).await?,
        Err(e) => {
            let Some(letter) = intake_sms::parts_dead_letter(parts, &e.to_string()) else {
                return Err(NotDurable("no parts to dead-letter".into()));
            };
            pipeline
                .submit(Envelope::dead_letter(&letter).map_err(|e| NotDurable(e.to_string()))?)
                .await?;
            telemetry::record_outcome("sms", source, "dead_lettered");
            (
                intake_sms::Admission {
                    status: AdmissionStatus::Rejected,
                    request_id: None,
                    tracking_no: None,
                    error: Some(e.to_string()),
                },
                None,
            )
        }
    };
    for part in parts {
        pipeline.dedup().remember(part_id(part));
    }
    store
        .finish(key)
        .await
        .map_err(|e| NotDurable(e.to_string()))?;
    Ok(admission)
}

async fn publish(
    pipeline: &Pipeline,
    source: &str,
    record: &IntakeRequest,
) -> Result<Admitted, NotDurable> {
    let admission = pipeline
        .submit(Envelope::request(record).map_err(|e| NotDurable(e.to_string()))?)
        .await?;
    let status = if admission.is_new() {
        AdmissionStatus::Accepted
    } else {
        AdmissionStatus::Duplicate
    };
    let label = admission.label();
    telemetry::record_outcome("sms", source, label);
    super::Hook::admitted(&record.request_id, &record.tracking_no);
    tracing::info!(request_id = %record.request_id, tracking_no = %record.tracking_no, outcome = label, "sms admitted");
    let phone = match record.citizen.contact_kind {
        ContactKind::Phone => record.citizen.contact.clone(),
        _ => None,
    };
    Ok((
        intake_sms::Admission {
            status,
            request_id: Some(record.request_id.to_string()),
            tracking_no: Some(record.tracking_no.to_string()),
            error: None,
        },
        phone,
    ))
}

/// The dedup id of one part: a provider re-sending it after its message was published must not
/// open a new, forever-incomplete group.
fn part_id(part: &Part) -> RequestId {
    RequestId::derive(
        Channel::Sms,
        &part.key.system,
        &format!(
            "part/{}/{}/{}",
            part.key.as_string(),
            part.seq,
            part.message_id
        ),
    )
}

/// Publishes, marked incomplete, every long SMS whose parts have waited longer than `timeout`.
pub fn spawn_reassembly_timeouts(
    store: Arc<PartStore>,
    pipeline: Arc<Pipeline>,
    timeout: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let every = (timeout / 4).clamp(Duration::from_millis(200), Duration::from_secs(30));
        loop {
            tokio::time::sleep(every).await;
            for (key, parts) in store.expired(timeout) {
                let system = parts
                    .first()
                    .map(|p| p.key.system.clone())
                    .unwrap_or_default();
                let source = system.strip_prefix("sms:").unwrap_or(&system).to_string();
                match complete(&pipeline, &store, &source, &key, &parts, true).await {
                    Ok(_) => tracing::warn!(
                        parts = parts.len(),
                        "long SMS published incomplete after the reassembly timeout"
                    ),
                    Err(e) => {
                        tracing::warn!(error = %e, "incomplete long SMS not yet durable; retrying")
                    }
                }
            }
        }
    })
}
