//! `intake-load`: a bounded load generator that speaks every channel of the gateway.
//!
//! It sends unique, realistic requests (Chinese, Korean and mixed texts; a unique sender and
//! message id per request; `--duplicate-ratio` re-sends) to one hook of a **loopback** gateway
//! and reports throughput, status counts and latency percentiles. It always stops by itself
//! (after `--requests` or `--duration`, whichever comes first).
//!
//! ```text
//! cargo run --release --bin intake-gateway -- --config deploy/intake.load.toml &
//! export INTAKE_LOAD_SECRET=load-secret INTAKE_LOAD_AES_KEY=abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG
//! intake-load --channel wechat-safe --concurrency 64 --duration 10s --requests 0
//! intake-load --channel web --posts 50 --rate 200 --duration 30s --requests 0 --json
//! intake-load --channel sms-twilio --duration 2s --requests 0 --verify-topic 127.0.0.1:9092
//! ```
//!
//! **Channels** (`--channel`, and the `{name}` path segment `--name` defaults to, which are the
//! names `deploy/intake.load.toml` configures): `web` (baixing), `wechat-plain` (plain),
//! `wechat-compat` (compat), `wechat-safe` (safe), `sms-aliyun`, `sms-tencent`, `sms-twilio`,
//! `sms-kannel`, `sms-jasmin`, `sms-generic` (named after the kind), `call-freeswitch`,
//! `call-asterisk`, `call-kamailio`, `call-cti` (freeswitch, asterisk, kamailio, cti).
//! Credentials: `--secret`/`INTAKE_LOAD_SECRET` is the channel's one shared secret (web partner
//! secret, WeChat token, SMS token / Twilio auth token / generic HMAC key, call token or basic
//! password with `--username`); WeChat compat/safe also need `--aes-key`/`INTAKE_LOAD_AES_KEY`
//! and `--app-id`; Twilio signs `--public-url` (default: `--url`), which must be the provider's
//! `public_url`. The gateway's config must name the same secrets: `deploy/intake.load.toml`
//! enables every channel with the one demo secret `load-secret`, limits off.
//!
//! **Pacing.** Without `--rate`: closed loop, `--concurrency` connections each waiting for its
//! reply. With `--rate R`: open loop, R requests a second on schedule, at most `--concurrency`
//! in flight, latency from each request's due time (coordinated omission corrected).
//!
//! **`--verify-topic BROKERS`.** After the run, reads `--topic` (default `intake.requests.v1`,
//! the gateway's default) by assigning every partition from the beginning, and checks that every
//! acknowledged (2xx) request is on it exactly once by `request_id`. The ids come from the reply
//! (web, calls, sms-generic) or are computed by the channel's adapter over the bytes sent, as the
//! gateway does (WeChat, where the reply must also carry that request's tracking number, and the
//! other SMS kinds). Only requests of this run are counted.
//!
//! **Report** (`--json`: one object, these names are stable): `channel`, `name`, `url`,
//! `partner` (= name, kept for old scripts), `mode` (`closed`|`open`), `rate` (null in closed
//! loop), `concurrency`, `threads`, `posts`, `body_bytes`, `duplicate_ratio`, `warmup`,
//! `requests` (measured, finished), `status` (`{"200": n, ...}`), `status_class` (`2xx`, `4xx`,
//! `5xx`), `acked` (2xx, warm-up included), `transport_errors`, `first_error`, `id_errors` (2xx
//! whose ids could not be learned), `first_id_error`, `accepted`, `duplicate`, `rejected`
//! (results counted in JSON replies), `elapsed_s`, `throughput_rps`, `latency_ms` (`p50`, `p90`,
//! `p99`, `p99_9`, `max`, `mean`), `send_lag_ms` (open loop: how late the tool itself started
//! requests, `p50`, `p99`, `max`; null in closed loop), `verify` (null, or `topic`, `acked_ids`, `found`, `lost`,
//! `duplicated`, `records_read`, `lost_sample`, `ok`), and `ok`.
//!
//! **Exit code**: 0 when `ok`; 1 when any request failed at the transport level, got a 4xx or 5xx, or
//! had no learnable id, or when the verification found anything lost or duplicated (or nothing
//! acknowledged to check); 2 for a usage error.

mod call;
mod channel;
mod content;
mod driver;
mod report;
mod sms;
mod verify;
mod web;
mod wechat;

use clap::Parser;
use reqwest::Url;
use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};
use std::process::ExitCode;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use channel::{Channel, Target};
use driver::{Pace, Plan};

/// The gateway's default request topic (`kafka.topic`).
const DEFAULT_TOPIC: &str = "intake.requests.v1";

/// Command line of `intake-load`.
#[derive(Parser, Debug)]
#[command(name = "intake-load", version)]
#[command(about = "Bounded load generator for every hook of the gateway (loopback only)")]
#[command(
    after_help = "Channels, credentials, the --json fields and exit codes are documented in src/bin/intake-load/main.rs; deploy/intake.load.toml is a gateway config that enables every channel for load (secret: load-secret)."
)]
pub struct Args {
    /// Base URL of the gateway's hook listener; the host must be loopback.
    #[arg(long, default_value = "http://127.0.0.1:8080", value_parser = loopback_url)]
    pub url: Url,
    /// Which hook and wire format to drive.
    #[arg(long, value_enum, default_value = "web")]
    pub channel: Channel,
    /// The `{partner|account|provider|source}` path segment; default per channel (baixing,
    /// plain, compat, safe, the SMS kind, freeswitch, asterisk, kamailio, cti).
    #[arg(long, visible_alias = "partner")]
    pub name: Option<String>,
    /// The channel's shared secret (also INTAKE_LOAD_SECRET, which keeps it out of `ps`).
    #[arg(long, env = "INTAKE_LOAD_SECRET", hide_env_values = true)]
    pub secret: String,
    /// WeChat compat/safe: the account's 43-character EncodingAESKey.
    #[arg(long, env = "INTAKE_LOAD_AES_KEY", hide_env_values = true)]
    pub aes_key: Option<String>,
    /// WeChat compat/safe: the AppID sealed into encrypted bodies.
    #[arg(long, default_value = "wx12345load000000")]
    pub app_id: String,
    /// WeChat: the account's `original_id`, when the gateway has one configured.
    #[arg(long)]
    pub original_id: Option<String>,
    /// Calls: authenticate with HTTP basic `USERNAME:secret` instead of the token.
    #[arg(long)]
    pub username: Option<String>,
    /// Twilio: the provider's `public_url` (what Twilio signs); default: `--url`.
    #[arg(long)]
    pub public_url: Option<String>,
    /// Web: posts per batch.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=500))]
    pub posts: u32,
    /// Measured requests to send (warm-up requests come on top); 0 = until `--duration`.
    #[arg(long, default_value_t = 10_000)]
    pub requests: u64,
    /// Connections (closed loop) or most requests in flight (open loop).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub concurrency: u64,
    /// Open loop: send this many requests a second on schedule (absent = closed loop).
    #[arg(long, value_parser = parse_rate)]
    pub rate: Option<f64>,
    /// Wall-clock bound of the whole run, warm-up included: `90s`, `500ms`, `2m` or seconds.
    #[arg(long, default_value = "600s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Share of requests that re-send an earlier request, to exercise the dedup path (0..=1).
    #[arg(long, default_value_t = 0.0, value_parser = parse_ratio)]
    pub duplicate_ratio: f64,
    /// Pad each message text to at least this many bytes (0 = the natural complaint, ~100 B).
    #[arg(long, default_value_t = 0)]
    pub body_bytes: usize,
    /// Unmeasured requests sent first (closed loop), to open connections and warm up.
    #[arg(long, default_value_t = 0)]
    pub warmup: u64,
    /// Worker threads of the load tool itself; 1 leaves the other cores to the gateway.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub threads: u64,
    /// After the run, check on these Kafka brokers that every acknowledged request is on
    /// `--topic` exactly once.
    #[arg(long, value_name = "BROKERS")]
    pub verify_topic: Option<String>,
    /// The request topic to verify.
    #[arg(long, default_value = DEFAULT_TOPIC)]
    pub topic: String,
    /// Give up reading the topic back after this long; also how long to wait for acknowledged
    /// records still missing (a spooled one reaches Kafka only when the forwarder sends it).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub verify_timeout: Duration,
    /// Print one JSON object instead of the human summary (and no progress line).
    #[arg(long)]
    pub json: bool,
}

impl Args {
    /// The path segment: `--name` or the channel's default.
    pub fn name(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| self.channel.default_name().to_string())
    }
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

fn parse_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 1_000_000.0 => Ok(v),
        _ => Err(format!(
            "{s:?} is not a rate between 0 and 1000000 requests a second"
        )),
    }
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

/// The request builder's settings from the flags, or why they cannot work.
fn target(args: &Args) -> Result<Target, String> {
    let encrypted = matches!(args.channel, Channel::WechatCompat | Channel::WechatSafe);
    if encrypted {
        let key = args.aes_key.as_deref().ok_or_else(|| {
            format!(
                "--channel {} needs --aes-key (or INTAKE_LOAD_AES_KEY)",
                args.channel.name()
            )
        })?;
        intake_wechat::AesKey::from_encoding_aes_key(key).map_err(|e| format!("--aes-key: {e}"))?;
    }
    let base = args.url.as_str().trim_end_matches('/').to_string();
    Ok(Target {
        channel: args.channel,
        name: args.name(),
        secret: args.secret.clone(),
        aes_key: args.aes_key.clone().filter(|_| encrypted),
        app_id: args.app_id.clone(),
        original_id: args.original_id.clone(),
        username: args.username.clone(),
        public_url: args.public_url.clone().unwrap_or(base),
        posts: if args.channel == Channel::Web {
            args.posts
        } else {
            1
        },
        text_bytes: args.body_bytes,
        // Unique per run, so every id is new to the gateway's dedup index.
        seed: rand::random::<u64>() >> 1,
        epoch: chrono::Utc::now().timestamp(),
    })
}

fn main() -> ExitCode {
    let args = Args::parse();
    let target = match target(&args) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("intake-load: {e}");
            return ExitCode::from(2);
        }
    };
    let client = reqwest::Client::builder()
        // A proxy or a redirect could carry the load off this machine: use neither.
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(args.concurrency as usize)
        // Like the gateway's own request_timeout; a timeout counts as a transport failure.
        .timeout(Duration::from_secs(10));
    let plan = Arc::new(Plan {
        target,
        // Without TLS features the builder has nothing that can fail at run time.
        client: client.build().expect("HTTP client"),
        base: args.url.as_str().trim_end_matches('/').to_string(),
        duplicate_ratio: args.duplicate_ratio,
        learn_ids: args.verify_topic.is_some(),
        deadline: Instant::now() + args.duration,
        fresh: AtomicU64::new(0),
        done: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        acked: Mutex::new(HashSet::new()),
    });
    // One thread means a current-thread runtime: no wake-ups cross threads (but the open loop's
    // pacer, see `driver::pacer`), ~10% less CPU.
    let mut runtime = match args.threads {
        1 => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    };
    let runtime = runtime
        .worker_threads(args.threads as usize) // no effect on a current-thread runtime
        .enable_all()
        .build()
        .expect("tokio runtime");
    let pace = match args.rate {
        Some(rate) => Pace::Open {
            rate,
            max_in_flight: args.concurrency,
        },
        None => Pace::Closed(args.concurrency),
    };
    let (warmup, stats, elapsed) = runtime.block_on(async {
        let (bar, ticker) = driver::progress(&plan, args.warmup + args.requests, args.json);
        // A warm-up of 0 requests is none (a phase of 0 would mean "until the deadline").
        let warmup = match args.warmup {
            0 => report::Stats::new(),
            n => {
                driver::phase(&plan, n, Pace::Closed(args.concurrency))
                    .await
                    .0
            }
        };
        let (stats, elapsed) = driver::phase(&plan, args.requests, pace).await;
        ticker.abort();
        bar.finish_and_clear();
        (warmup, stats, elapsed)
    });
    let verdict = args.verify_topic.as_deref().map(|brokers| {
        let acked = plan.acked.lock().expect("acked lock");
        verify::verify(brokers, &args.topic, &acked, args.verify_timeout)
    });
    let verdict = match verdict.transpose() {
        Ok(v) => v,
        Err(e) => {
            eprintln!("intake-load: --verify-topic: {e}");
            let r = report::report(&args, &warmup, &stats, elapsed, None);
            report::print_report(&r, args.json);
            return ExitCode::from(1);
        }
    };
    let r = report::report(&args, &warmup, &stats, elapsed, verdict.as_ref());
    report::print_report(&r, args.json);
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

    fn target(channel: Channel) -> Target {
        let args = Args::parse_from([
            "intake-load",
            "--secret",
            "load-secret",
            "--channel",
            &channel.name(),
            "--aes-key",
            "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
            "--posts",
            "3",
        ]);
        super::target(&args).expect("valid flags")
    }

    /// The ids the gateway's adapter gives request `n` of `t`, which must be a clean request.
    fn adapter_ids(t: &Target, n: u64) -> Vec<intake_schema::RequestId> {
        let built = t.build(n);
        match t.channel.family() {
            "web" => built.with_inbound(|inbound| {
                let partner = intake_web::Partner::new(&t.name, &t.secret);
                let outcomes = intake_web::handle(inbound, &partner).expect("batch verifies");
                assert_eq!(outcomes.len(), 3);
                outcomes
                    .iter()
                    .map(|o| o.result.as_ref().expect("post parses").request_id)
                    .collect()
            }),
            "wechat" => built.with_inbound(|inbound| {
                let push = intake_wechat::parse_push(inbound, &wechat::account(t)).expect("push");
                let want = match t.channel {
                    Channel::WechatPlain => intake_wechat::Mode::Plaintext,
                    Channel::WechatCompat => intake_wechat::Mode::Compatible,
                    _ => intake_wechat::Mode::Safe,
                };
                assert_eq!(push.mode, want);
                match push.kind {
                    intake_wechat::PushKind::Request(r) => vec![r.request_id],
                    other => panic!("{other:?}"),
                }
            }),
            "sms" => sms::request_ids(t, &built).expect("the SMS adapter accepts it"),
            _ => built.with_inbound(|inbound| {
                let kind = match t.channel {
                    Channel::CallFreeswitch => intake_call::SourceKind::Freeswitch,
                    Channel::CallAsterisk => intake_call::SourceKind::Asterisk,
                    Channel::CallKamailio => intake_call::SourceKind::Kamailio,
                    _ => intake_call::SourceKind::Generic,
                };
                let mut source = intake_call::Source::new(&t.name, kind);
                source.token = Some(t.secret.clone());
                let lines = intake_call::Lines::new(&Default::default());
                let items = intake_call::handle(inbound, &source, &lines).expect("call verifies");
                assert_eq!(items.len(), 1, "{items:?}");
                match items.into_iter().next() {
                    Some(intake_call::Item::Final { state }) => {
                        let raw = intake_schema::RawPayload::capture(None, b"");
                        let record = intake_call::finish(&state, inbound.now, raw, "0");
                        vec![record.request_id]
                    }
                    other => panic!("{other:?}"),
                }
            }),
        }
    }

    #[test]
    fn every_channel_builds_requests_its_adapter_accepts_with_unique_ids() {
        for channel in Channel::ALL {
            let t = target(channel);
            let mut seen = std::collections::HashSet::new();
            for n in 0..6 {
                let ids = adapter_ids(&t, n);
                assert!(!ids.is_empty(), "{channel:?}");
                // A duplicate (the same n again) is the same request, whatever the signing time.
                assert_eq!(adapter_ids(&t, n), ids, "{channel:?} duplicate of {n}");
                for id in ids {
                    assert!(seen.insert(id), "{channel:?}: request {n} repeats an id");
                }
            }
        }
    }

    #[test]
    fn reply_ids_and_flags() {
        let id = "6f1c2a4e-8a55-5b0e-9e3b-1c2d3e4f5a6b";
        let reply = format!(
            r#"{{"results":[{{"id":"a","status":"accepted","request_id":"{id}"}},{{"id":"b","status":"rejected"}}]}}"#
        );
        assert_eq!(channel::ids_in_reply(reply.as_bytes()).unwrap().len(), 1);
        let generic = format!(r#"{{"status":"duplicate","request_id":"{id}"}}"#);
        assert_eq!(channel::ids_in_reply(generic.as_bytes()).unwrap().len(), 1);
        assert!(channel::ids_in_reply(br#"{"status":"accepted"}"#).is_err());
        let counts = report::POST_STATUSES.map(|w| report::count_status(reply.as_bytes(), w));
        assert_eq!(counts, [1, 0, 1]);
        let parsed = ["60s", "250ms", "2m", "5"].map(|d| parse_duration(d).unwrap().as_millis());
        assert_eq!(parsed, [60_000, 250, 120_000, 5_000]);
        assert!(parse_duration("soon").is_err() && parse_ratio("1.5").is_err());
        assert!(parse_rate("0").is_err() && parse_rate("500").is_ok());
        // The old web-only command line still works: --partner is an alias of --name.
        let old = Args::parse_from(
            ["intake-load", "--secret", "s", "--partner", "p", "-h"]
                .iter()
                .take(5),
        );
        assert_eq!((old.name(), old.channel), ("p".to_string(), Channel::Web));
        let no_key = Args::parse_from(["intake-load", "--secret", "s", "--channel", "wechat-safe"]);
        assert!(super::target(&no_key).unwrap_err().contains("--aes-key"));
    }
}
