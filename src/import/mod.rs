//! `intake-gateway import`: a file of requests (CSV, JSON Lines, XLSX) submitted to the running
//! gateway as signed web-push batches of the configured partner.
//!
//! Going through the hook rather than straight to Kafka is the point: dedup (a re-run is all
//! duplicates, a ticket pushed and then imported is one request), rate limits, metrics and
//! cluster mode apply to imports exactly as to pushes.

pub mod mapping;
pub mod read;
pub mod submit;

use chrono_tz::Tz;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;
use std::path::PathBuf;
use std::process::ExitCode;

use mapping::Mapping;
use read::{Encoding, Format};
use submit::{BatchError, Submitter};

/// The arguments of `intake-gateway import`.
#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// The running gateway's public base URL, e.g. http://127.0.0.1:8080.
    #[arg(long, required_unless_present = "dry_run")]
    pub url: Option<String>,
    /// The configured web partner to submit as (`channels.web.partners.<NAME>`).
    #[arg(long)]
    pub partner: String,
    /// The partner's secret; prefer INTAKE_IMPORT_SECRET, which keeps it out of `ps`.
    #[arg(long, env = "INTAKE_IMPORT_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
    /// CSV text encoding.
    #[arg(long, value_enum, default_value = "auto")]
    pub encoding: Encoding,
    /// The file's format; by default from its extension (.csv, .jsonl/.ndjson, .xlsx).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// A TOML mapping file (`[columns]` header = "field.path", `[set]` constants).
    #[arg(long)]
    pub mapping: Option<PathBuf>,
    /// The zone of times written without an offset (`2026-11-24 08:00`).
    #[arg(long, default_value = "Asia/Shanghai")]
    pub timezone: String,
    /// Validate and map only: print what each row would become, submit nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: a transfer platform the gateway is configured for besides the known ones
    /// (`channels.web.platforms`); repeat for several.
    #[arg(long = "platform")]
    pub platforms: Vec<String>,
    /// Posts per signed batch (the partner's max_posts is the ceiling).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u16).range(1..=500))]
    pub batch_size: u16,
    /// The largest file accepted, in MiB.
    #[arg(long, default_value_t = 32)]
    pub max_size: u64,
    /// The file to import.
    pub file: PathBuf,
}

/// What happened to one row.
struct RowResult {
    row: usize,
    id: String,
    status: &'static str,
    detail: String,
}

/// A row waiting for its batch: its number, its id, its post or why it has none. Rows that
/// failed locally wait too, so every result is printed in file order.
type Pending = (usize, String, Result<Value, String>);

/// The largest batch body, well under the hook's body limit.
const MAX_BATCH_BYTES: usize = 1024 * 1024;

/// Runs the import; exit 0 when every row landed (accepted or duplicate), 1 when any row was
/// rejected, 2 when the file or the arguments could not be used at all.
pub fn run(args: ImportArgs) -> ExitCode {
    match prepare(&args) {
        Ok((mapping, table)) => {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => return whole_file(format!("cannot start runtime: {e}")),
            };
            runtime.block_on(import(&args, &mapping, table))
        }
        Err(e) => whole_file(e),
    }
}

fn whole_file(reason: String) -> ExitCode {
    eprintln!("intake-gateway import: {reason}");
    ExitCode::from(2)
}

fn prepare(args: &ImportArgs) -> Result<(Mapping, read::Table), String> {
    let tz: Tz = args
        .timezone
        .parse()
        .map_err(|_| format!("--timezone {:?} is not an IANA zone", args.timezone))?;
    if !args.dry_run && args.secret.as_deref().is_none_or(str::is_empty) {
        return Err(
            "the partner's secret is required: set INTAKE_IMPORT_SECRET or --secret".into(),
        );
    }
    let mapping = match &args.mapping {
        Some(path) => Mapping::from_file(path, tz)?,
        None => Mapping::default_in(tz),
    };
    let format = args
        .format
        .or_else(|| read::format_of(&args.file))
        .ok_or("cannot tell the format from the file name; pass --format csv|jsonl|xlsx")?;
    let table = read::read(
        &args.file,
        format,
        args.encoding,
        args.max_size.saturating_mul(1024 * 1024),
    )?;
    if format != Format::Jsonl {
        for column in mapping.check_headers(&table.headers)? {
            eprintln!("intake-gateway import: column {column:?} is not mapped; ignored");
        }
    }
    Ok((mapping, table))
}

async fn import(args: &ImportArgs, mapping: &Mapping, table: read::Table) -> ExitCode {
    let total = table.rows.len();
    let progress = if total > 200 {
        ProgressBar::new(total as u64)
    } else {
        ProgressBar::hidden()
    };
    progress.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} rows {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let submitter = match args.dry_run {
        true => None,
        false => match Submitter::new(
            args.url.as_deref().unwrap_or(""),
            &args.partner,
            args.secret.as_deref().unwrap_or(""),
        ) {
            Ok(s) => Some(s),
            Err(e) => return whole_file(e),
        },
    };
    let mut counts = [0usize; 4]; // accepted, duplicate, rejected, valid
    let mut pending: Vec<Pending> = Vec::new();
    let mut pending_bytes = 0;
    let mut fatal = None;
    let report = |results: Vec<RowResult>, counts: &mut [usize; 4]| {
        for r in results {
            counts[match r.status {
                "accepted" => 0,
                "duplicate" => 1,
                "valid" => 3,
                _ => 2,
            }] += 1;
            progress.suspend(|| println!("row {}\t{}\t{}\t{}", r.row, r.id, r.status, r.detail));
            progress.inc(1);
        }
    };
    for (row, cells) in table.rows {
        let id = cells.as_ref().map(|c| mapping.id_of(c)).unwrap_or_default();
        if fatal.is_some() {
            report(
                vec![rejected(row, id, "not submitted: the import stopped")],
                &mut counts,
            );
            continue;
        }
        let post = cells.and_then(|c| mapping.post(&c));
        let size = post.as_ref().map_or(0, |p| p.to_string().len() + 1);
        let posts = pending.iter().filter(|(_, _, p)| p.is_ok()).count();
        if posts > 0
            && (posts >= usize::from(args.batch_size) || pending_bytes + size > MAX_BATCH_BYTES)
        {
            let batch = std::mem::take(&mut pending);
            pending_bytes = 0;
            let (results, stop) = flush(args, submitter.as_ref(), batch).await;
            report(results, &mut counts);
            fatal = stop;
            if fatal.is_some() {
                report(
                    vec![rejected(row, id, "not submitted: the import stopped")],
                    &mut counts,
                );
                continue;
            }
        }
        pending_bytes += size;
        pending.push((row, id, post));
    }
    if !pending.is_empty() && fatal.is_none() {
        let (results, stop) = flush(args, submitter.as_ref(), pending).await;
        report(results, &mut counts);
        fatal = stop;
    }
    progress.finish_and_clear();
    let [accepted, duplicate, rejected_rows, valid] = counts;
    if args.dry_run {
        println!(
            "{total} rows: {valid} valid, {rejected_rows} rejected (dry run, nothing submitted)"
        );
    } else {
        println!(
            "{total} rows: {accepted} accepted, {duplicate} duplicate, {rejected_rows} rejected"
        );
    }
    if let Some(reason) = fatal {
        eprintln!("intake-gateway import: {reason}");
        return ExitCode::from(2);
    }
    if rejected_rows > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn rejected(row: usize, id: String, reason: &str) -> RowResult {
    RowResult {
        row,
        id,
        status: "rejected",
        detail: reason.to_string(),
    }
}

/// Submits (or, in a dry run, validates) one batch; the second value is set when the import
/// must stop (wrong secret, gateway gone).
async fn flush(
    args: &ImportArgs,
    submitter: Option<&Submitter>,
    batch: Vec<Pending>,
) -> (Vec<RowResult>, Option<String>) {
    let posts: Vec<Value> = batch
        .iter()
        .filter_map(|(_, _, p)| p.as_ref().ok().cloned())
        .collect();
    let (mut answers, stop): (std::collections::VecDeque<Result<RowAnswer, String>>, _) =
        match submitter {
            None => (dry_run(&args.partner, &args.platforms, &posts).into(), None),
            Some(s) => match s.send(&posts).await {
                Ok(answers) => (
                    answers
                        .into_iter()
                        .map(|a| match a.status.as_str() {
                            "accepted" => Ok(("accepted", a.tracking_no.unwrap_or_default())),
                            "duplicate" => Ok(("duplicate", a.tracking_no.unwrap_or_default())),
                            _ => Err(a.error.unwrap_or_default()),
                        })
                        .collect(),
                    None,
                ),
                Err(BatchError::Refused(reason)) => (vec![Err(reason); posts.len()].into(), None),
                Err(BatchError::Fatal(reason)) => (
                    vec![Err(format!("not submitted: {reason}")); posts.len()].into(),
                    Some(reason),
                ),
            },
        };
    let results = batch
        .into_iter()
        .map(|(row, id, post)| {
            let answer = match post {
                Err(reason) => Err(reason),
                Ok(_) => answers
                    .pop_front()
                    .unwrap_or_else(|| Err("no answer".into())),
            };
            match answer {
                Ok((status, tracking)) => RowResult {
                    row,
                    id,
                    status,
                    detail: tracking,
                },
                Err(reason) => rejected(row, id, &reason),
            }
        })
        .collect();
    (results, stop)
}

/// A post's fate: (accepted | duplicate | valid, tracking number), or the reason it was refused.
type RowAnswer = (&'static str, String);

/// The adapter's own rules, run locally: what the gateway would say, without sending.
fn dry_run(partner: &str, platforms: &[String], posts: &[Value]) -> Vec<Result<RowAnswer, String>> {
    let body = serde_json::json!({ "posts": posts }).to_string();
    let headers: &[(&str, &str)] = &[];
    let inbound = intake_adapter::Inbound {
        method: "POST",
        query: "",
        headers: &headers,
        body: body.as_bytes(),
        now: chrono::Utc::now(),
        peer: None,
        trace_id: "00000000000000000000000000000000",
    };
    let mut adapter = intake_web::Partner::new(partner, "");
    adapter.platforms = platforms.to_vec();
    match intake_web::parse_batch(&inbound, &adapter) {
        Ok(outcomes) => outcomes
            .into_iter()
            .map(|o| {
                o.result
                    .map(|record| ("valid", record.tracking_no.to_string()))
            })
            .collect(),
        Err(e) => vec![Err(e.to_string()); posts.len()],
    }
}
