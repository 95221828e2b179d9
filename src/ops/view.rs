//! `GET /ops/api/stats`: the collector's counters, the sink and the spool, and what looks wrong.
//!
//! The judgement ("silent", "spiking", "growing") is made here rather than in the page, so that
//! it is tested in Rust and every screen polling the gateway agrees on it.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use super::stats::{outcome_index, ChannelView, Counts, SourceView, MINUTES, OUTCOMES};

/// The channels always shown, in this order, even before their first request: a channel that
/// never spoke is as worth seeing as one that went quiet.
pub const CHANNELS: [&str; 5] = ["phone", "sms", "wechat", "web", "radio"];

/// A channel is silent when its current gap exceeds this many times the longest gap of the
/// last hour...
pub const SILENT_FACTOR: u64 = 2;
/// ...and at least this long (ms), so that a busy channel's one-second lull is not an alarm.
pub const SILENT_FLOOR_MS: u64 = 120_000;
/// Signature failures in five minutes from which a channel is flagged; twice the hour's average
/// rate makes it a spike (an alarm) rather than a steady nuisance (a warning).
pub const SIGNATURE_SPIKE: u64 = 5;
/// Request p99 above this (ms) is over budget: `spool.after` is 1.5 s, so a healthy p99 stays
/// below it, and WeChat gives up at 5 s.
pub const P99_BUDGET_MS: f64 = 2000.0;
/// The spool's trend is judged over this window (ms).
pub const SPOOL_TREND_MS: u64 = 60_000;

/// The sink and spool as the pipeline reports them.
#[derive(Clone, Debug, Serialize)]
pub struct SinkState {
    /// `kafka` or `journal`.
    pub kind: &'static str,
    /// Kafka answered its last probe (or the journal is open).
    pub up: bool,
    /// A record submitted now can be made durable (what `/readyz` says).
    pub ready: bool,
    /// Why it is down, in words (e.g. Kafka's TLS or SASL error); `None` while up.
    pub detail: Option<String>,
    /// Ids in the dedup index.
    pub dedup_entries: usize,
}

/// The spool's backlog (Kafka mode only).
#[derive(Clone, Debug, Serialize)]
pub struct SpoolState {
    /// Entries waiting for Kafka.
    pub entries: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Age of the oldest, in seconds.
    pub oldest_age_s: Option<f64>,
    /// At `spool.max_bytes`: new requests get 503.
    pub full: bool,
    /// `empty`, `steady`, `growing` or `draining`, over the last minute.
    pub trend: &'static str,
}

/// One problem for the banner, in both languages.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Problem {
    /// `warn` or `alarm`.
    pub level: &'static str,
    /// Stable code: `silent`, `signature_failures`, `failing`, `shedding`, `p99_over_budget`,
    /// `kafka_down`, `sink_down`, `spool_growing`, `spool_backlog`, `spool_full`.
    pub code: &'static str,
    /// The channel it concerns, if any.
    pub channel: Option<String>,
    /// 中文.
    pub zh: String,
    /// English.
    pub en: String,
}

fn problem(
    level: &'static str,
    code: &'static str,
    channel: Option<&str>,
    zh: String,
    en: String,
) -> Problem {
    Problem {
        level,
        code,
        channel: channel.map(str::to_string),
        zh,
        en,
    }
}

/// The spool's trend from `(ms, entries)` samples, the last being now.
pub fn spool_trend(samples: &[(u64, u64)]) -> &'static str {
    let Some(&(now, entries)) = samples.last() else {
        return "empty";
    };
    if entries == 0 {
        return "empty";
    }
    // The newest sample at least 10 s old: noise between two polls is not a trend.
    let before = samples.iter().rev().find(|(at, _)| at + 10_000 <= now);
    match before {
        Some(&(_, then)) if entries > then => "growing",
        Some(&(_, then)) if entries < then => "draining",
        _ => "steady",
    }
}

fn counts_json(counts: &Counts) -> Value {
    let map: Map<String, Value> = OUTCOMES
        .iter()
        .zip(counts)
        .map(|(name, n)| (name.to_string(), Value::from(*n)))
        .collect();
    Value::Object(map)
}

fn at_json(ms: Option<u64>) -> Value {
    ms.and_then(|ms| DateTime::<Utc>::from_timestamp_millis(ms as i64))
        .map_or(Value::Null, |t| {
            Value::from(t.to_rfc3339_opts(SecondsFormat::Millis, true))
        })
}

fn since_s(now: u64, ms: Option<u64>) -> Value {
    ms.map_or(Value::Null, |ms| Value::from(now.saturating_sub(ms) / 1000))
}

fn count(counts: &Counts, outcome: &str) -> u64 {
    counts[outcome_index(outcome)]
}

fn source_json(now: u64, s: &SourceView) -> Value {
    serde_json::json!({
        "source": s.source,
        "totals": counts_json(&s.hour),
        "per_minute": s.per_minute,
        "last_at": at_json(s.last_ms),
        "since_last_s": since_s(now, s.last_ms),
    })
}

/// One channel's JSON and its problems.
pub fn channel_json(now: u64, view: &ChannelView) -> (Value, Vec<Problem>) {
    let name = view.channel.as_str();
    let mut hour = Counts::default();
    let mut recent = Counts::default();
    let mut per_minute = vec![0u64; MINUTES];
    for s in &view.sources {
        (0..hour.len()).for_each(|i| {
            hour[i] += s.hour[i];
            recent[i] += s.recent[i];
        });
        per_minute
            .iter_mut()
            .zip(&s.per_minute)
            .for_each(|(a, b)| *a += b);
    }
    hour[outcome_index("spooled")] += view.spooled;
    let p50 = view.latency.quantile_ms(0.5);
    let p99 = view.latency.quantile_ms(0.99);
    let problems = channel_problems(now, view, &hour, &recent, p99);
    let sig = count(&recent, "unauthorized");
    let level = worst(&problems).unwrap_or(if view.last_ms.is_some() { "ok" } else { "idle" });
    let mut sources: Vec<&SourceView> = view.sources.iter().collect();
    sources.sort_by_key(|s| std::cmp::Reverse(s.hour.iter().sum::<u64>()));
    let json = serde_json::json!({
        "channel": name,
        "level": level,
        "totals": counts_json(&hour),
        "per_minute": per_minute,
        "p50_ms": p50,
        "p99_ms": p99,
        "latency_samples": view.latency.count(),
        "last_at": at_json(view.last_ms),
        "since_last_s": since_s(now, view.last_ms),
        "usual_gap_s": view.usual_gap_ms.map(|g| g / 1000),
        "in_flight": view.in_flight,
        "signature_failures_5m": sig,
        "sources": sources.iter().map(|s| source_json(now, s)).collect::<Vec<_>>(),
    });
    (json, problems)
}

/// What looks wrong with one channel: silent for longer than usual, signature failures,
/// requests not made durable or shed, p99 over budget.
fn channel_problems(
    now: u64,
    view: &ChannelView,
    hour: &Counts,
    recent: &Counts,
    p99: Option<f64>,
) -> Vec<Problem> {
    let name = view.channel.as_str();
    let mut problems = Vec::new();
    if let Some(last) = view.last_ms {
        let quiet = now.saturating_sub(last);
        let limit = view
            .usual_gap_ms
            .map_or(3_600_000, |gap| (gap * SILENT_FACTOR).max(SILENT_FLOOR_MS));
        if quiet > limit {
            problems.push(problem(
                "alarm",
                "silent",
                Some(name),
                format!(
                    "{name} 渠道已 {} 分钟无请求（平时最长间隔 {} 分钟）",
                    quiet / 60_000,
                    view.usual_gap_ms.unwrap_or(0) / 60_000
                ),
                format!(
                    "{name}: no request for {} min (usual longest gap {} min)",
                    quiet / 60_000,
                    view.usual_gap_ms.unwrap_or(0) / 60_000
                ),
            ));
        }
    }
    let sig = count(recent, "unauthorized");
    if sig > 0 {
        // Twice the hour's average five-minute count: a burst, not a partner failing all along.
        let spiking =
            sig >= SIGNATURE_SPIKE && sig * (MINUTES as u64 / 5) >= 2 * count(hour, "unauthorized");
        problems.push(problem(
            if spiking { "alarm" } else { "warn" },
            "signature_failures",
            Some(name),
            format!("{name} 渠道 5 分钟内验签失败 {sig} 次"),
            format!("{name}: {sig} signature failures in 5 min"),
        ));
    }
    let failed = count(recent, "failed");
    if failed > 0 {
        problems.push(problem(
            "alarm",
            "failing",
            Some(name),
            format!("{name} 渠道 5 分钟内 {failed} 个请求未能落盘（503）"),
            format!("{name}: {failed} requests not made durable in 5 min (503)"),
        ));
    }
    let shed = count(recent, "shed");
    if shed > 0 {
        problems.push(problem(
            "warn",
            "shedding",
            Some(name),
            format!("{name} 渠道 5 分钟内因过载拒绝 {shed} 个请求"),
            format!("{name}: {shed} requests shed (overload) in 5 min"),
        ));
    }
    if let Some(p99) = p99.filter(|p| *p > P99_BUDGET_MS) {
        problems.push(problem(
            "alarm",
            "p99_over_budget",
            Some(name),
            format!("{name} 渠道 p99 延迟 {p99:.0} 毫秒，超过 {P99_BUDGET_MS:.0} 毫秒"),
            format!("{name}: p99 latency {p99:.0} ms over the {P99_BUDGET_MS:.0} ms budget"),
        ));
    }
    problems
}

fn worst(problems: &[Problem]) -> Option<&'static str> {
    problems
        .iter()
        .map(|p| p.level)
        .max_by_key(|l| (*l == "alarm") as u8)
}

/// The sink's and spool's problems.
pub fn sink_problems(sink: &SinkState, spool: Option<&SpoolState>) -> Vec<Problem> {
    let mut problems = Vec::new();
    if !sink.up {
        let (code, zh, en) = if sink.kind == "kafka" {
            (
                "kafka_down",
                "Kafka 不可达，请求暂存本地 spool",
                "Kafka unreachable; requests go to the local spool",
            )
        } else {
            ("sink_down", "本地日志不可写", "local journal not writable")
        };
        let (zh, en) = match &sink.detail {
            Some(d) => (format!("{zh}（{d}）"), format!("{en} ({d})")),
            None => (zh.to_string(), en.to_string()),
        };
        problems.push(problem("alarm", code, None, zh, en));
    }
    if let Some(spool) = spool {
        let age = spool.oldest_age_s.unwrap_or(0.0);
        if spool.full {
            problems.push(problem(
                "alarm",
                "spool_full",
                None,
                "spool 已满，新请求返回 503".into(),
                "spool full: new requests get 503".into(),
            ));
        } else if spool.trend == "growing" {
            problems.push(problem(
                "alarm",
                "spool_growing",
                None,
                format!("spool 积压增长中：{} 条，最早 {age:.0} 秒前", spool.entries),
                format!(
                    "spool growing: {} entries, oldest {age:.0} s",
                    spool.entries
                ),
            ));
        } else if spool.entries > 0 {
            problems.push(problem(
                "warn",
                "spool_backlog",
                None,
                format!("spool 积压 {} 条，正在补发", spool.entries),
                format!("spool backlog of {} entries, forwarding", spool.entries),
            ));
        }
    }
    problems
}

/// The whole `/ops/api/stats` document.
pub fn document(
    now: u64,
    views: &[ChannelView],
    sink: &SinkState,
    spool: Option<&SpoolState>,
    started_ms: u64,
) -> Value {
    let mut problems = sink_problems(sink, spool);
    let mut channels = Vec::new();
    let extra = views
        .iter()
        .filter(|v| !CHANNELS.contains(&v.channel.as_str()));
    let known = CHANNELS.iter().map(|name| {
        views
            .iter()
            .find(|v| v.channel == *name)
            .cloned()
            .unwrap_or_else(|| ChannelView {
                channel: name.to_string(),
                ..ChannelView::default()
            })
    });
    for view in known.chain(extra.cloned()) {
        let (json, found) = channel_json(now, &view);
        channels.push(json);
        problems.extend(found);
    }
    problems.sort_by_key(|p| (p.level != "alarm") as u8);
    serde_json::json!({
        "generated_at": at_json(Some(now)),
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_s": now.saturating_sub(started_ms) / 1000,
        "sink": sink,
        "spool": spool,
        "channels": channels,
        "problems": problems,
        "thresholds": {
            "silent_factor": SILENT_FACTOR,
            "silent_floor_s": SILENT_FLOOR_MS / 1000,
            "signature_spike_5m": SIGNATURE_SPIKE,
            "p99_budget_ms": P99_BUDGET_MS,
        },
    })
}
