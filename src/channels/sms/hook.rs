//! `GET|POST /hooks/sms/{provider}`: one delivery from an SMS gateway, answered as it expects.
//!
//! Gateways retry what we do not acknowledge, and some push the same message twice anyway; the
//! request id (provider, sender, the provider's message id) turns both into duplicates. The
//! parts of a long SMS are acknowledged one by one once each is durable in the reassembly store.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use intake_schema::ContactKind;
use intake_sms::{AdmissionStatus, Call, Item};
use std::net::SocketAddr;
use std::path::Path as FsPath;
use std::sync::Arc;

use super::config::SmsChannelConfig;
use super::parts::PartStore;
use super::reassembly::{complete, part_id, publish, Admitted, Waiting};
use super::receipts::{Receipt, ReceiptSender};
use crate::cluster::groups::{Added, Groups};
use crate::hook::{body, ApiError, HeaderView, Hook, Shared};
use crate::outbound::Outbound;
use crate::pipeline::NotDurable;
use crate::sink::Envelope;
use crate::telemetry;

/// What the SMS channel keeps: its config, the parts of long messages waiting for their
/// siblings, and the sender of receipts through providers' send endpoints.
#[derive(Clone)]
pub struct SmsChannel {
    /// What every channel shares.
    pub shared: Shared,
    /// `[channels.sms]`.
    pub config: Arc<SmsChannelConfig>,
    /// Parts of long SMS waiting for their siblings, durable under `{data_dir}/sms_parts`.
    pub parts: Arc<PartStore>,
    /// SMS receipts sent through providers' send endpoints, off the request path.
    pub receipts: Arc<ReceiptSender>,
    /// Cluster mode: the parts shared by the replicas (then new parts go there, not to `parts`).
    pub shared_parts: Option<Arc<Groups>>,
}

impl SmsChannel {
    /// Opens the parts store in `parts_dir` (replaying what waited before a restart) and starts
    /// the receipt sender (its HTTPS trust from `outbound`).
    pub fn open(
        shared: Shared,
        config: Arc<SmsChannelConfig>,
        parts_dir: &FsPath,
        shared_parts: Option<Arc<Groups>>,
        outbound: Outbound,
    ) -> std::io::Result<Self> {
        let parts = Arc::new(PartStore::open(parts_dir)?);
        let receipts = Arc::new(ReceiptSender::start(&config, outbound));
        Ok(SmsChannel {
            shared,
            config,
            parts,
            receipts,
            shared_parts,
        })
    }
}

/// One delivery: authenticate, parse, make every message durable, answer as the provider expects.
pub async fn hook(
    State(app): State<SmsChannel>,
    Path(name): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Response {
    let sms = &app.config;
    let configured = sms.provider(&name);
    let hook = Hook::begin("sms", &name, configured.is_some(), &headers);
    hook.run(async {
        let source = hook.source();
        let provider = configured.ok_or_else(|| ApiError::UnknownSource {
            kind: "provider",
            name: name.chars().take(64).collect(),
        })?;
        let bytes = body(raw, app.shared.max_body_bytes)?;
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
                app.shared.router.registry().sms_lines(),
            )?
        };
        app.shared
            .limits
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
                app.shared
                    .limits
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
        let mut last_advice: Option<String> = None;
        // Receipts through a send endpoint go per accepted message (a batch push carries many
        // citizens); the reply, where it carries one, answers only the last.
        let send_receipts = receipt_config.is_some_and(|c| c.sends_receipts());
        for item in delivery.items {
            let (admission, phone, advice) = admit(&app, source, item).await?;
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
                    text: with_advice(
                        c.receipt_template.replace("{tracking_no}", no),
                        advice.as_deref(),
                    ),
                    tracking_no: no.clone(),
                    request_id: id.clone(),
                });
            }
            last = admission;
            last_advice = advice;
        }
        let receipt = match (receipt_config, &last.tracking_no) {
            (Some(c), Some(no)) if last.status == AdmissionStatus::Accepted && !send_receipts => {
                Some(with_advice(
                    c.receipt_template.replace("{tracking_no}", no),
                    last_advice.as_deref(),
                ))
            }
            _ => None,
        };
        Ok(reply(match delivery.kind {
            intake_sms::ProviderKind::Generic => {
                generic_with_advice(intake_sms::generic_reply(&last), last_advice.as_deref())
            }
            kind => intake_sms::success_reply(kind, false, receipt.as_deref()),
        }))
    })
    .await
}

/// The receipt with the urgent advice appended (urgent requests only).
fn with_advice(receipt: String, advice: Option<&str>) -> String {
    match advice {
        Some(a) => format!("{receipt}{a}"),
        None => receipt,
    }
}

/// The generic provider's JSON answer, with `advice` for the citizen when the request is urgent.
fn generic_with_advice(
    (content_type, body): (&'static str, String),
    advice: Option<&str>,
) -> (&'static str, String) {
    let Some(advice) = advice else {
        return (content_type, body);
    };
    match serde_json::from_str::<serde_json::Value>(&body) {
        Ok(serde_json::Value::Object(mut o)) => {
            o.insert("advice".into(), advice.into());
            (content_type, serde_json::Value::Object(o).to_string())
        }
        _ => (content_type, body),
    }
}

fn reply((content_type, body): (&'static str, String)) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn admit(app: &SmsChannel, source: &str, item: Item) -> Result<Admitted, NotDurable> {
    let admission = match item {
        Item::Request(mut record) => return publish(&app.shared, source, &mut record).await,
        Item::DeadLetter(letter) => {
            app.shared
                .pipeline
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
            if app.shared.pipeline.dedup().is_seen(id) {
                // A re-sent part of a message that was already assembled and published.
                return Ok((
                    intake_sms::Admission {
                        status: AdmissionStatus::Duplicate,
                        request_id: None,
                        tracking_no: None,
                        error: None,
                    },
                    None,
                    None,
                ));
            }
            let key = part.key.as_string();
            if let Some(groups) = &app.shared_parts {
                // Boxed, as `complete` below: the rare paths hold the largest states here
                // (4.6 and 4.4 KB), and inline they would size every SMS request's future,
                // which axum moves into a fresh heap box per request.
                return Box::pin(shared_part(app, groups, source, &key, &part)).await;
            }
            let whole = app
                .parts
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
                    return Box::pin(complete(
                        &app.shared,
                        Waiting::Local(&app.parts, &key),
                        source,
                        &parts,
                        false,
                    ))
                    .await
                }
            }
        }
    };
    Ok((admission, None, None))
}

/// A part in cluster mode: acknowledged only once Redis has it; Redis down is a 503 (the
/// gateway retries), since a part kept on one replica could never be joined with the others.
async fn shared_part(
    app: &SmsChannel,
    groups: &Groups,
    source: &str,
    key: &str,
    part: &intake_sms::Part,
) -> Result<Admitted, NotDurable> {
    let member = serde_json::to_string(part).map_err(|e| NotDurable(e.to_string()))?;
    let id = Groups::id(key);
    let added = groups
        .add(&id, u32::from(part.seq), u32::from(part.total), &member)
        .await
        .map_err(|e| {
            groups.link().degraded("sms_parts");
            NotDurable(e.to_string())
        })?;
    let status = match added {
        Added::Pending => AdmissionStatus::Pending,
        Added::Done => AdmissionStatus::Duplicate,
        Added::Complete(members) => {
            let parts: Vec<intake_sms::Part> = members
                .iter()
                .filter_map(|m| serde_json::from_str(m).ok())
                .collect();
            return complete(
                &app.shared,
                Waiting::Shared(groups, &id),
                source,
                &parts,
                false,
            )
            .await;
        }
    };
    let admission = intake_sms::Admission {
        status,
        request_id: None,
        tracking_no: None,
        error: None,
    };
    Ok((admission, None, None))
}
