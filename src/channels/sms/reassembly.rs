//! Joining the parts of long (concatenated) SMS into one request, and the timeout that
//! publishes what arrived of a message whose parts never all came.

use intake_schema::{Channel, ContactKind, IntakeRequest, RequestId};
use intake_sms::{AdmissionStatus, Part};
use std::sync::Arc;
use std::time::Duration;

use super::parts::PartStore;
use crate::cluster::groups::Groups;
use crate::hook::{Hook, Shared};
use crate::pipeline::NotDurable;
use crate::sink::Envelope;
use crate::telemetry;

/// The admission, the citizen's number when a record with one was published, and the urgent
/// advice to add to the receipt when the request is urgent.
pub type Admitted = (intake_sms::Admission, Option<String>, Option<String>);

/// Where a group's parts wait: this replica's durable store (by key), or the cluster's (by id).
pub enum Waiting<'a> {
    /// `{data_dir}/sms_parts`.
    Local(&'a PartStore, &'a str),
    /// Redis, shared by the replicas.
    Shared(&'a Groups, &'a str),
}

impl Waiting<'_> {
    /// Retires the group once its message is durable.
    async fn finish(&self) -> Result<(), NotDurable> {
        match self {
            Waiting::Local(store, key) => store
                .finish(key)
                .await
                .map_err(|e| NotDurable(e.to_string())),
            Waiting::Shared(groups, id) => groups
                .finish(id)
                .await
                .map_err(|e| NotDurable(e.to_string())),
        }
    }
}

/// Publishes an assembled long SMS (or, after the timeout, what arrived of it) and retires its parts.
pub async fn complete(
    shared: &Shared,
    waiting: Waiting<'_>,
    source: &str,
    parts: &[Part],
    incomplete: bool,
) -> Result<Admitted, NotDurable> {
    let assembled = if incomplete {
        intake_sms::assemble_incomplete(parts)
    } else {
        intake_sms::assemble(parts)
    };
    let admission = match assembled {
        Ok(mut record) => publish(shared, source, &mut record).await?,
        Err(e) => {
            let Some(letter) = intake_sms::parts_dead_letter(parts, &e.to_string()) else {
                return Err(NotDurable("no parts to dead-letter".into()));
            };
            shared
                .pipeline
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
                None,
            )
        }
    };
    for part in parts {
        shared.pipeline.dedup().remember(part_id(part));
    }
    waiting.finish().await?;
    Ok(admission)
}

/// Routes and publishes one whole SMS.
pub async fn publish(
    shared: &Shared,
    source: &str,
    record: &mut IntakeRequest,
) -> Result<Admitted, NotDurable> {
    let envelope = shared.routed(record)?;
    let admission = shared.pipeline.submit(envelope).await?;
    let status = if admission.is_new() {
        AdmissionStatus::Accepted
    } else {
        AdmissionStatus::Duplicate
    };
    let label = admission.label();
    shared.counted(record, source, label);
    Hook::admitted(&record.request_id, &record.tracking_no);
    tracing::debug!(request_id = %record.request_id, tracking_no = %record.tracking_no, outcome = label, "sms admitted");
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
        urgent_advice(shared, record),
    ))
}

/// The advice of `[urgent]` in the citizen's language, when the request is urgent.
fn urgent_advice(shared: &Shared, record: &IntakeRequest) -> Option<String> {
    record
        .routing
        .as_ref()
        .filter(|r| r.is_urgent())
        .and_then(|_| shared.router.advice(record.content.language))
        .map(str::to_string)
}

/// The dedup id of one part: a provider re-sending it after its message was published must not
/// open a new, forever-incomplete group.
pub fn part_id(part: &Part) -> RequestId {
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

/// Publishes, marked incomplete, every long SMS whose parts have waited longer than `timeout`:
/// those of this replica's store, and in cluster mode those it claims from the shared store.
pub fn spawn_timeouts(
    store: Arc<PartStore>,
    groups: Option<Arc<Groups>>,
    shared: Shared,
    timeout: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let every = (timeout / 4).clamp(Duration::from_millis(200), Duration::from_secs(30));
        loop {
            tokio::time::sleep(every).await;
            for (key, parts) in store.expired(timeout) {
                publish_expired(&shared, Waiting::Local(&store, &key), &parts).await;
            }
            let Some(groups) = &groups else { continue };
            // Redis down: nothing to claim now; the groups wait in Redis for the next sweep.
            let Ok(claimed) = groups.claim_expired().await else {
                continue;
            };
            for (id, members) in claimed {
                let parts: Vec<Part> = members
                    .iter()
                    .filter_map(|m| serde_json::from_str(m).ok())
                    .collect();
                publish_expired(&shared, Waiting::Shared(groups, &id), &parts).await;
            }
        }
    })
}

/// One group past its timeout: incomplete unless every part did arrive after all (its
/// completer died before publishing).
async fn publish_expired(shared: &Shared, waiting: Waiting<'_>, parts: &[Part]) {
    let system = parts
        .first()
        .map(|p| p.key.system.clone())
        .unwrap_or_default();
    let source = system.strip_prefix("sms:").unwrap_or(&system).to_string();
    let whole = parts
        .first()
        .is_some_and(|p| parts.len() >= usize::from(p.total));
    match complete(shared, waiting, &source, parts, !whole).await {
        Ok(_) if !whole => tracing::warn!(
            parts = parts.len(),
            "long SMS published incomplete after the reassembly timeout"
        ),
        Ok(_) => tracing::info!(parts = parts.len(), "long SMS published by the sweep"),
        Err(e) => tracing::warn!(error = %e, "incomplete long SMS not yet durable; retrying"),
    }
}
