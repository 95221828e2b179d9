//! `intake-load`: a bounded load generator for the web push hook, for operators and developers.
//!
//! Sends signed one-post batches to `POST /hooks/web/{partner}` and reports throughput, status
//! counts and latency percentiles. It only ever talks to a loopback gateway and always stops by
//! itself (after `--requests` or `--duration`, whichever comes first), so it can gate a smoke run:
//! the exit code is non-zero when any request failed at the transport level or got a 5xx.

use clap::Parser;
use hdrhistogram::Histogram;
use reqwest::Url;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Command line of `intake-load`.
#[derive(Parser, Debug)]
#[command(name = "intake-load", version)]
#[command(about = "Bounded load generator for the gateway's web push hook (loopback only)")]
pub struct Args {
    /// Base URL of the gateway's hook listener; the host must be loopback.
    #[arg(long, default_value = "http://127.0.0.1:8080", value_parser = loopback_url)]
    pub url: Url,
    /// The `{partner}` path segment, as configured under `[channels.web.partners]`.
    #[arg(long, default_value = "baixing")]
    pub partner: String,
    /// The partner's shared secret (also INTAKE_LOAD_SECRET, which keeps it out of `ps`).
    #[arg(long, env = "INTAKE_LOAD_SECRET", hide_env_values = true)]
    pub secret: String,
    /// Measured requests to send (warm-up requests come on top).
    #[arg(long, default_value_t = 10_000)]
    pub requests: u64,
    /// Requests in flight at once (one HTTP/1.1 keep-alive connection each).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub concurrency: u64,
    /// Wall-clock bound of the whole run, warm-up included: `90s`, `500ms`, `2m` or seconds.
    #[arg(long, default_value = "600s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Share of requests that re-send an earlier post id, to exercise the dedup path (0..=1).
    #[arg(long, default_value_t = 0.0, value_parser = parse_ratio)]
    pub duplicate_ratio: f64,
    /// Approximate size of each request body in bytes (the post text is padded to reach it).
    #[arg(long, default_value_t = 300)]
    pub body_bytes: usize,
    /// Unmeasured requests sent first, to open connections and warm the gateway up.
    #[arg(long, default_value_t = 0)]
    pub warmup: u64,
    /// Worker threads of the load tool itself; 1 leaves the other cores to the gateway.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub threads: u64,
    /// Print one JSON object instead of the human summary.
    #[arg(long)]
    pub json: bool,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    // "ms" is tried before "s" and "m": the longest suffix must win.
    let (number, scale) = [("ms", 0.001), ("s", 1.0), ("m", 60.0)]
        .iter()
        .find_map(|(suffix, scale)| s.strip_suffix(suffix).map(|n| (n, *scale)))
        .unwrap_or((s, 1.0));
    match number.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(Duration::from_secs_f64(v * scale)),
        _ => Err(format!("{s:?} is not a duration like 60s, 500ms or 2m")),
    }
}

fn parse_ratio(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    let err = || format!("{v} is not a ratio between 0 and 1");
    (0.0..=1.0).contains(&v).then_some(v).ok_or_else(err)
}

/// Why a URL was refused: this workplace only ever load-tests its own machine.
const NOT_LOOPBACK: &str = "only loopback hosts (127.0.0.0/8, localhost, [::1]) may be loaded";
/// Parses `--url`, refusing anything but http(s) on a loopback host: 127.0.0.0/8, `[::1]` or
/// `localhost`, which is pinned to 127.0.0.1 so neither DNS nor /etc/hosts can send load away.
pub fn loopback_url(s: &str) -> Result<Url, String> {
    let mut url = Url::parse(s).map_err(|e| format!("refusing {s:?}: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("refusing {url}: only http(s) URLs are supported"));
    }
    // The url crate already lowercased names and canonicalised IPv4 (2130706433, 0x7f.1, ...).
    let host = url.host_str().unwrap_or("").to_string();
    match host.trim_matches(['[', ']']).parse::<IpAddr>() {
        Ok(ip) if ip.is_loopback() => Ok(url),
        Err(_) if host == "localhost" => {
            url.set_ip_host(Ipv4Addr::LOCALHOST.into()).ok(); // cannot fail on http(s)
            Ok(url)
        }
        _ => Err(format!("refusing {url}: {NOT_LOOPBACK}")),
    }
}

/// `X-Intake-Signature` for `body` sent at unix second `ts`: `v1=<hex HMAC-SHA256(secret,
/// "{ts}.{body}")>`, by the adapters' own code so that tool and gateway cannot drift apart.
pub fn signature(secret: &str, ts: i64, body: &[u8]) -> String {
    let ts = ts.to_string();
    let parts: [&[u8]; 3] = [ts.as_bytes(), b".", body];
    let hex = intake_adapter::signature::hmac_sha256_hex(secret.as_bytes(), &parts);
    format!("v1={hex}")
}

/// One `{"posts":[...]}` batch with a single moderated post, padded to about `body_bytes`.
///
/// Written by hand rather than through serde: every value is generated ASCII that needs no
/// escaping, and the tool should spend its share of the CPU on sending, not on building JSON.
pub fn batch_body(post_id: &str, n: u64, body_bytes: usize) -> String {
    // Many phone numbers, so Kafka's partition key (the citizen's contact) spreads the load.
    let phone = format!("138{:08}", n % 100_000_000);
    let head = format!(r#"{{"posts":[{{"id":"{post_id}","title":"load test","body":""#);
    let tail = format!(
        r#"","author":{{"name":"load","phone":"{phone}"}},"posted_at":"2026-01-01T08:00:00+08:00","moderation":{{"moderator":"load-tool","approved_at":"2026-01-01T08:05:00+08:00"}}}}]}}"#
    );
    const FILLER: &str = "streetlight on Yanji Road out since Monday, please send a crew. ";
    let want = body_bytes.saturating_sub(head.len() + tail.len()).max(1);
    let text: String = FILLER.chars().cycle().take(want).collect();
    format!("{head}{text}{tail}")
}

/// The per-post statuses counted from reply bodies, in report order.
const POST_STATUSES: [&str; 3] = ["accepted", "duplicate", "rejected"];

/// What one phase (warm-up or measured) saw.
struct Stats {
    latency_us: Histogram<u64>,
    status: BTreeMap<u16, u64>,
    transport_errors: u64,
    first_error: Option<String>,
    posts: [u64; 3],
}

impl Stats {
    fn new() -> Self {
        Stats {
            // 1 µs .. 10 min at 3 significant digits: beyond any timeout the tool allows.
            latency_us: Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid bounds"),
            status: BTreeMap::new(),
            transport_errors: 0,
            first_error: None,
            posts: [0; 3],
        }
    }

    fn requests(&self) -> u64 {
        self.status.values().sum::<u64>() + self.transport_errors
    }

    fn class(&self, hundreds: u16) -> u64 {
        let h = hundreds * 100;
        self.status.range(h..h + 100).map(|(_, n)| n).sum()
    }
}

/// Counts `"status":"<word>"` in a reply: a byte search instead of a JSON parse keeps the tool
/// cheap, and the gateway's serializer writes exactly that space-free form.
fn count_status(body: &[u8], word: &str) -> u64 {
    let needle = format!(r#""status":"{word}""#);
    std::str::from_utf8(body).map_or(0, |text| text.matches(&needle).count() as u64)
}

/// Everything the workers share.
struct Plan {
    args: Args,
    client: reqwest::Client,
    endpoint: Url,
    run_id: String,
    next: AtomicU64,
    /// Post ids issued so far (duplicates re-send one of them).
    fresh: AtomicU64,
    deadline: Instant,
}

/// Sends `count` requests over `--concurrency` workers.
async fn phase(plan: &Arc<Plan>, count: u64) -> (Stats, Duration) {
    plan.next.store(0, Ordering::Relaxed);
    // One lock for all workers: with the tool on one or two threads it is never contended,
    // and a single histogram needs no merging.
    let stats = Arc::new(Mutex::new(Stats::new()));
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..plan.args.concurrency.min(count) {
        workers.spawn(worker(plan.clone(), stats.clone(), count));
    }
    workers.join_all().await;
    let elapsed = started.elapsed();
    let stats = Arc::into_inner(stats).expect("workers are done");
    (stats.into_inner().expect("stats lock"), elapsed)
}

async fn worker(plan: Arc<Plan>, stats: Arc<Mutex<Stats>>, count: u64) {
    loop {
        if plan.next.fetch_add(1, Ordering::Relaxed) >= count || Instant::now() >= plan.deadline {
            return;
        }
        // A duplicate re-sends the post of an id issued earlier, possibly still in flight: that
        // exercises both the "seen" and the "wait for the twin" paths of the dedup index.
        let issued = plan.fresh.load(Ordering::Relaxed);
        let duplicate = issued > 0 && rand::random::<f64>() < plan.args.duplicate_ratio;
        let n = if duplicate {
            rand::random_range(0..issued)
        } else {
            plan.fresh.fetch_add(1, Ordering::Relaxed)
        };
        let body = batch_body(&format!("{}-{n}", plan.run_id), n, plan.args.body_bytes);
        // Signed at send time, so the timestamp is always fresh: a run longer than the gateway's
        // 300 s window is never refused as stale, and an HMAC over ~300 bytes costs about 1 µs.
        let ts = chrono::Utc::now().timestamp();
        let sig = signature(&plan.args.secret, ts, body.as_bytes());
        let request = plan
            .client
            .post(plan.endpoint.clone())
            .header("content-type", "application/json")
            .header("x-intake-timestamp", ts.to_string())
            .header("x-intake-signature", sig)
            .body(body);
        let sent = Instant::now();
        let outcome = async {
            let response = request.send().await?;
            Ok::<_, reqwest::Error>((response.status().as_u16(), response.bytes().await?))
        }
        .await;
        let us = sent.elapsed().as_micros() as u64;
        let mut stats = stats.lock().expect("stats lock");
        match outcome {
            Ok((code, reply)) => {
                stats.latency_us.saturating_record(us);
                *stats.status.entry(code).or_default() += 1;
                for (count, word) in stats.posts.iter_mut().zip(POST_STATUSES) {
                    *count += count_status(&reply, word);
                }
            }
            Err(e) => {
                stats.transport_errors += 1;
                // reqwest's Display ("error sending request") hides the cause; Debug shows it.
                stats.first_error.get_or_insert_with(|| format!("{e:?}"));
            }
        }
    }
}

fn report(args: &Args, warmup: &Stats, stats: &Stats, elapsed: Duration) -> Value {
    let ms = |us: u64| us as f64 / 1000.0;
    let (h, secs) = (&stats.latency_us, elapsed.as_secs_f64());
    json!({
        "url": args.url.as_str(), "partner": args.partner, "concurrency": args.concurrency,
        "threads": args.threads, "body_bytes": args.body_bytes,
        "duplicate_ratio": args.duplicate_ratio,
        "warmup": warmup.requests(), "requests": stats.requests(),
        "status": stats.status, // serde_json writes the u16 keys as strings
        "status_class": {"2xx": stats.class(2), "4xx": stats.class(4), "5xx": stats.class(5)},
        "transport_errors": stats.transport_errors + warmup.transport_errors,
        "first_error": stats.first_error.as_ref().or(warmup.first_error.as_ref()),
        "accepted": stats.posts[0], "duplicate": stats.posts[1], "rejected": stats.posts[2],
        "elapsed_s": (secs * 1000.0).round() / 1000.0,
        "throughput_rps": (stats.requests() as f64 / secs.max(1e-9)).round(),
        "latency_ms": {
            "p50": ms(h.value_at_quantile(0.50)), "p90": ms(h.value_at_quantile(0.90)),
            "p99": ms(h.value_at_quantile(0.99)), "p99_9": ms(h.value_at_quantile(0.999)),
            "max": ms(h.max()), "mean": h.mean().round() / 1000.0,
        },
        // Warm-up failures count too: a gate must not pass a gateway that failed early.
        "ok": ([stats, warmup].iter().all(|s| s.transport_errors + s.class(5) == 0)),
    })
}

/// The human summary, `title: fields` per line; an object's title (latency_ms) reads inside it.
const SUMMARY: [&str; 6] = [
    "target: url partner concurrency threads body_bytes duplicate_ratio",
    "requests: requests warmup elapsed_s throughput_rps",
    "replies: status_class status transport_errors first_error",
    "posts: accepted duplicate rejected",
    "latency_ms: p50 p90 p99 p99_9 max mean",
    "result: ok",
];

fn print_report(r: &Value, json: bool) {
    if json {
        return println!("{r}");
    }
    for line in SUMMARY {
        let (title, keys) = line.split_once(": ").expect("title: keys");
        let object = if r[title].is_object() { &r[title] } else { r };
        let text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_string);
        let fields: Vec<String> = keys
            .split(' ')
            .map(|k| format!("{k} {}", text(&object[k])))
            .collect();
        println!("{title:>10}: {}", fields.join(", "));
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut endpoint = args.url.clone();
    endpoint
        .path_segments_mut()
        .expect("http(s) URLs have a path")
        .pop_if_empty()
        .extend(["hooks", "web", &args.partner]);
    let client = reqwest::Client::builder()
        // A proxy or a redirect could carry the load off this machine: use neither.
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(args.concurrency as usize)
        // Like the gateway's own request_timeout; a timeout counts as a transport failure.
        .timeout(Duration::from_secs(10));
    let plan = Arc::new(Plan {
        // Without TLS features the builder has nothing that can fail at run time.
        client: client.build().expect("HTTP client"),
        endpoint,
        // Unique per run, so every post id is new to the gateway's dedup index.
        run_id: format!("load-{:016x}", rand::random::<u64>()),
        next: AtomicU64::new(0),
        fresh: AtomicU64::new(0),
        deadline: Instant::now() + args.duration,
        args,
    });
    // One thread means a current-thread runtime: no wake-ups cross threads, ~10% less CPU.
    let mut runtime = match plan.args.threads {
        1 => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    };
    let runtime = runtime
        .worker_threads(plan.args.threads as usize) // no effect on a current-thread runtime
        .enable_all()
        .build()
        .expect("tokio runtime");
    let (warmup, _) = runtime.block_on(phase(&plan, plan.args.warmup));
    let (stats, elapsed) = runtime.block_on(phase(&plan, plan.args.requests));
    let r = report(&plan.args, &warmup, &stats, elapsed);
    print_report(&r, plan.args.json);
    ExitCode::from(u8::from(r["ok"] != true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_hosts_are_allowed() {
        let ok = "http://127.0.0.1:8080 http://127.9.8.7/ http://2130706433 http://localhost:8080 \
                  https://[::1]:8443";
        assert!(ok.split_whitespace().all(|url| loopback_url(url).is_ok()));
        let bad = "http://10.0.0.5:8080 http://192.168.1.2 http://8.8.8.8 http://0.0.0.0:8080 \
                   http://example.com http://localhost.example.com http://[::ffff:127.0.0.1] \
                   http://[fe80::1] ftp://127.0.0.1 unix:/tmp/sock not-a-url";
        for url in bad.split_whitespace() {
            let err = loopback_url(url).unwrap_err();
            assert!(err.starts_with("refusing"), "{url}: {err}");
        }
        let url = loopback_url("http://LocalHost:8081/gw/").unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:8081/gw/");
    }

    #[test]
    fn signature_matches_the_adapter_and_passes_its_verifier() {
        let body = batch_body("load-1-0", 7, 300);
        assert_eq!(body.len(), 300);
        let sig = signature("demo-secret", 1_764_000_000, body.as_bytes());
        let parts: [&[u8]; 3] = [b"1764000000", b".", body.as_bytes()];
        let hex = intake_adapter::signature::hmac_sha256_hex(b"demo-secret", &parts);
        assert_eq!(sig, format!("v1={hex}"));
        assert!(hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
        // End to end through the web adapter: signature, timestamp and post are all accepted.
        let headers: &[(&str, &str)] = &[
            ("Content-Type", "application/json"),
            ("X-Intake-Timestamp", "1764000000"),
            ("X-Intake-Signature", &sig),
        ];
        let inbound = intake_adapter::Inbound {
            method: "POST",
            query: "",
            headers: &headers,
            body: body.as_bytes(),
            now: chrono::DateTime::from_timestamp(1_764_000_100, 0).unwrap(),
            peer: None,
            trace_id: "0",
        };
        let partner = intake_web::Partner::new("baixing", "demo-secret");
        let outcomes = intake_web::handle(&inbound, &partner).expect("batch verifies");
        assert_eq!((outcomes.len(), outcomes[0].id.as_str()), (1, "load-1-0"));
        assert!(outcomes[0].result.is_ok(), "{:?}", outcomes[0].result);
        let wrong = intake_web::Partner::new("baixing", "other");
        assert!(intake_web::handle(&inbound, &wrong).is_err());
        let reply = br#"{"results":[{"id":"a","status":"accepted"},{"status":"duplicate"}]}"#;
        assert_eq!(POST_STATUSES.map(|w| count_status(reply, w)), [1, 1, 0]);
        let parsed = ["60s", "250ms", "2m", "5"].map(|d| parse_duration(d).unwrap().as_millis());
        assert_eq!(parsed, [60_000, 250, 120_000, 5_000]);
        assert!(parse_duration("soon").is_err() && parse_ratio("1.5").is_err());
    }
}
