//! What a run saw, and how it is told: one JSON object (`--json`, stable field names, listed
//! in the binary's module doc) or a short human summary built from the same object.

use hdrhistogram::Histogram;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

use crate::verify::Verdict;
use crate::Args;

/// The per-post (or per-message) statuses counted from JSON reply bodies, in report order.
pub const POST_STATUSES: [&str; 3] = ["accepted", "duplicate", "rejected"];

/// What one phase (warm-up or measured) saw.
pub struct Stats {
    /// Latency in µs: from the intended send time in open loop, from the send in closed loop.
    pub latency_us: Histogram<u64>,
    /// Open loop: how late the tool itself started each request (µs after its due time). When
    /// this is high, the tool could not keep its schedule and the latency above is partly its own.
    pub send_lag_us: Histogram<u64>,
    /// Replies by HTTP status.
    pub status: BTreeMap<u16, u64>,
    /// Requests without any HTTP reply (connect, timeout, reset).
    pub transport_errors: u64,
    /// The first of those, for the report.
    pub first_error: Option<String>,
    /// `accepted`, `duplicate`, `rejected` results counted in JSON replies.
    pub posts: [u64; 3],
    /// 2xx replies whose request ids could not be learned (with `--verify-topic`).
    pub id_errors: u64,
    /// The first of those.
    pub first_id_error: Option<String>,
}

impl Stats {
    /// Nothing seen yet.
    pub fn new() -> Self {
        Stats {
            // 1 µs .. 10 min at 3 significant digits: beyond any timeout the tool allows.
            latency_us: Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid bounds"),
            send_lag_us: Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid bounds"),
            status: BTreeMap::new(),
            transport_errors: 0,
            first_error: None,
            posts: [0; 3],
            id_errors: 0,
            first_id_error: None,
        }
    }

    /// Requests finished, answered or not.
    pub fn requests(&self) -> u64 {
        self.status.values().sum::<u64>() + self.transport_errors
    }

    /// Replies with a status of `hundreds`xx.
    pub fn class(&self, hundreds: u16) -> u64 {
        let h = hundreds * 100;
        self.status.range(h..h + 100).map(|(_, n)| n).sum()
    }

    /// A 4xx fails the run too: the tool sends only valid, signed requests, so a 4xx means a
    /// wrong secret or a limiter refusing, and counting refusals as throughput makes a run look
    /// faster than the gateway is (the likely source of an early, too-good figure: README
    /// "Performance").
    fn failed(&self) -> bool {
        self.transport_errors + self.class(4) + self.class(5) + self.id_errors > 0
    }
}

/// Counts `"status":"<word>"` in a reply: a byte search instead of a JSON parse keeps the tool
/// cheap, and the gateway's serializer writes exactly that space-free form.
pub fn count_status(body: &[u8], word: &str) -> u64 {
    let needle = format!(r#""status":"{word}""#);
    std::str::from_utf8(body).map_or(0, |text| text.matches(&needle).count() as u64)
}

/// The report object; `ok` is what the exit code says.
pub fn report(
    args: &Args,
    warmup: &Stats,
    stats: &Stats,
    elapsed: Duration,
    verdict: Option<&Verdict>,
) -> Value {
    let ms = |us: u64| us as f64 / 1000.0;
    let (h, secs) = (&stats.latency_us, elapsed.as_secs_f64());
    let verified = verdict.is_none_or(|v| v.ok());
    json!({
        "channel": args.channel.name(), "name": args.name(),
        "url": args.url.as_str(), "partner": args.name(),
        "mode": if args.rate.is_some() { "open" } else { "closed" },
        "rate": args.rate, "concurrency": args.concurrency, "threads": args.threads,
        "posts": args.posts, "body_bytes": args.body_bytes,
        "duplicate_ratio": args.duplicate_ratio,
        "warmup": warmup.requests(), "requests": stats.requests(),
        "status": stats.status, // serde_json writes the u16 keys as strings
        "status_class": {"2xx": stats.class(2), "4xx": stats.class(4), "5xx": stats.class(5)},
        "acked": stats.class(2) + warmup.class(2),
        "transport_errors": stats.transport_errors + warmup.transport_errors,
        "first_error": stats.first_error.as_ref().or(warmup.first_error.as_ref()),
        "id_errors": stats.id_errors + warmup.id_errors,
        "first_id_error": stats.first_id_error.as_ref().or(warmup.first_id_error.as_ref()),
        "accepted": stats.posts[0], "duplicate": stats.posts[1], "rejected": stats.posts[2],
        "elapsed_s": (secs * 1000.0).round() / 1000.0,
        "throughput_rps": (stats.requests() as f64 / secs.max(1e-9)).round(),
        "latency_ms": {
            "p50": ms(h.value_at_quantile(0.50)), "p90": ms(h.value_at_quantile(0.90)),
            "p99": ms(h.value_at_quantile(0.99)), "p99_9": ms(h.value_at_quantile(0.999)),
            "max": ms(h.max()), "mean": h.mean().round() / 1000.0,
        },
        // Open loop only: the tool's own lateness in starting requests (see `Stats::send_lag_us`).
        "send_lag_ms": args.rate.map(|_| {
            let lag = &stats.send_lag_us;
            json!({"p50": ms(lag.value_at_quantile(0.50)), "p99": ms(lag.value_at_quantile(0.99)),
                   "max": ms(lag.max())})
        }),
        "verify": verdict.map(Verdict::to_json),
        // Warm-up failures count too: a gate must not pass a gateway that failed early.
        "ok": !stats.failed() && !warmup.failed() && verified,
    })
}

/// The human summary, `title: fields` per line; an object's title (latency_ms) reads inside it.
const SUMMARY: [&str; 7] = [
    "target: channel name url mode rate concurrency threads posts duplicate_ratio",
    "requests: requests warmup elapsed_s throughput_rps",
    "replies: status_class status transport_errors first_error id_errors first_id_error",
    "posts: accepted duplicate rejected",
    "latency_ms: p50 p90 p99 p99_9 max mean",
    "send_lag_ms: p50 p99 max",
    "verify: topic acked_ids found lost duplicated",
];

/// Prints `r` as JSON or as the summary.
pub fn print_report(r: &Value, json: bool) {
    if json {
        return println!("{r}");
    }
    for line in SUMMARY {
        let (title, keys) = line.split_once(": ").expect("title: keys");
        let object = if r[title].is_object() { &r[title] } else { r };
        if matches!(title, "verify" | "send_lag_ms") && r[title].is_null() {
            continue;
        }
        let text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_string);
        let fields: Vec<String> = keys
            .split(' ')
            .filter(|k| !object[*k].is_null())
            .map(|k| format!("{k} {}", text(&object[k])))
            .collect();
        println!("{title:>10}: {}", fields.join(", "));
    }
    println!("{:>10}: ok {}", "result", r["ok"]);
}
