//! The in-process counters behind the live operations page.
//!
//! Prometheus keeps the long history; this keeps just enough for a wall screen to answer "is
//! every channel flowing right now?" without a Prometheus server: per (channel, source) sixty
//! one-minute buckets of outcome counts, per channel a five-minute latency histogram, the time
//! of the last request and the longest recent gap between requests. It is fed by
//! [`crate::telemetry`], holds only counters and names from the configuration (never a contact
//! or a message), and its size is bounded whatever arrives.

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use super::named::named;

/// The outcomes counted, in the order of [`Counts`]; anything else counts as `other`.
pub const OUTCOMES: [&str; 10] = [
    "accepted",
    "duplicate",
    "rejected",
    "unauthorized",
    "rate_limited",
    "dead_lettered",
    "spooled",
    "shed",
    "failed",
    "other",
];

/// Counts per outcome, indexed like [`OUTCOMES`].
pub type Counts = [u64; OUTCOMES.len()];

/// Minutes of per-minute history (the page's chart spans one hour).
pub const MINUTES: usize = 60;
/// Minutes the latency percentiles look back: long enough for a few hundred samples on a quiet
/// channel, short enough that a slow spell shows up at once.
pub const LATENCY_MINUTES: usize = 5;
/// At most this many (channel, source) series: sources come from the configuration, so this is
/// only a guard against a bug turning a URL segment into a label.
pub(crate) const MAX_SERIES: usize = 256;
/// Log-scale latency buckets: bucket `i` holds samples up to `GROWTH^i` microseconds (±5 %).
const LATENCY_BUCKETS: usize = 200;
const GROWTH: f64 = 1.1;

/// Index of `outcome` in [`OUTCOMES`].
pub fn outcome_index(outcome: &str) -> usize {
    OUTCOMES
        .iter()
        .position(|o| *o == outcome)
        .unwrap_or(OUTCOMES.len() - 1)
}

/// The channel name shown on the page: the phone routes live under `/hooks/call/`, but their
/// records say `phone`; both land on one row.
pub fn channel_name(channel: &str) -> &str {
    match channel {
        "call" => "phone",
        other => other,
    }
}

/// Milliseconds since the Unix epoch, the collector's clock.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A ring of one-minute slots; a slot is reused when its minute comes round again.
#[derive(Clone, Debug)]
struct Ring<T: Clone + Default, const N: usize> {
    slots: [(u64, T); N],
}

impl<T: Clone + Default, const N: usize> Ring<T, N> {
    fn new() -> Self {
        Ring {
            slots: std::array::from_fn(|_| (u64::MAX, T::default())),
        }
    }

    /// The slot of `minute`, cleared first if it still holds an older minute.
    fn slot(&mut self, minute: u64) -> &mut T {
        let slot = &mut self.slots[(minute % N as u64) as usize];
        if slot.0 != minute {
            *slot = (minute, T::default());
        }
        &mut slot.1
    }

    /// The `N` minutes ending at `minute`, oldest first; `None` for minutes without data.
    fn window(&self, minute: u64) -> impl Iterator<Item = Option<&T>> + '_ {
        (0..N as u64).rev().map(move |back| {
            let m = minute.checked_sub(back)?;
            let slot = &self.slots[(m % N as u64) as usize];
            (slot.0 == m).then_some(&slot.1)
        })
    }
}

/// A latency histogram over a few minutes, mergeable by adding bucket counts.
#[derive(Clone, Debug)]
pub struct Latency {
    buckets: Box<[u64; LATENCY_BUCKETS]>,
}

impl Default for Latency {
    fn default() -> Self {
        Latency {
            buckets: Box::new([0; LATENCY_BUCKETS]),
        }
    }
}

impl Latency {
    /// Adds one sample of `micros` microseconds.
    pub fn record(&mut self, micros: u64) {
        let index = if micros <= 1 {
            0
        } else {
            ((micros as f64).ln() / GROWTH.ln()).ceil() as usize
        };
        self.buckets[index.min(LATENCY_BUCKETS - 1)] += 1;
    }

    /// Adds `other`'s samples to these.
    pub fn merge(&mut self, other: &Latency) {
        for (a, b) in self.buckets.iter_mut().zip(other.buckets.iter()) {
            *a += b;
        }
    }

    /// How many samples.
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    /// The `q` quantile (0..=1) in milliseconds, rounded up to its bucket's bound; `None` when empty.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Some(GROWTH.powi(i as i32) / 1000.0);
            }
        }
        None
    }
}

/// The history of one (channel, source).
#[derive(Clone, Debug)]
struct Series {
    minutes: Ring<Counts, MINUTES>,
    last_ms: Option<u64>,
}

/// What one channel adds to its sources' series.
#[derive(Clone, Debug)]
struct Channel {
    latency: Ring<Latency, LATENCY_MINUTES>,
    /// The longest gap between two requests that ended in each minute, in ms.
    gaps: Ring<u64, MINUTES>,
    last_ms: Option<u64>,
    in_flight: i64,
    /// Records spooled per minute (the pipeline knows the channel, not the source).
    spooled: Ring<u64, MINUTES>,
}

impl Channel {
    fn new() -> Self {
        Channel {
            latency: Ring::new(),
            gaps: Ring::new(),
            spooled: Ring::new(),
            last_ms: None,
            in_flight: 0,
        }
    }

    /// Notes a request at `now`: its last time and the gap since the previous one.
    fn touch(&mut self, now: u64) {
        if let Some(last) = self.last_ms {
            let gap = self.gaps.slot(now / 60_000);
            *gap = (*gap).max(now.saturating_sub(last));
        }
        self.last_ms = Some(self.last_ms.map_or(now, |l| l.max(now)));
    }
}

/// What the page shows of one (channel, source), read at one instant.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SourceView {
    /// The source name from the configuration (`unknown` for unconfigured ones).
    pub source: String,
    /// Counts per outcome over the last hour.
    pub hour: Counts,
    /// Requests per minute (all outcomes), oldest first, the current minute last.
    pub per_minute: Vec<u64>,
    /// Outcome counts of the last five minutes, for spikes.
    pub recent: Counts,
    /// When the last request came, ms since the epoch.
    pub last_ms: Option<u64>,
}

/// What the page shows of one channel, read at one instant.
#[derive(Clone, Debug, Default)]
pub struct ChannelView {
    /// `phone`, `sms`, `wechat`, `web`, `radio`, or `unknown`.
    pub channel: String,
    /// Its sources, by name.
    pub sources: Vec<SourceView>,
    /// Request latency over the last [`LATENCY_MINUTES`] minutes.
    pub latency: Latency,
    /// The longest gap between requests that ended within the last hour, in ms.
    pub usual_gap_ms: Option<u64>,
    /// When the last request came, ms since the epoch.
    pub last_ms: Option<u64>,
    /// Hook requests being handled now.
    pub in_flight: i64,
    /// Records spooled in the last hour (their source counts them as `spooled`).
    pub spooled: u64,
}

#[derive(Default)]
struct Inner {
    /// Channel, then source: looked up by `&str` on every request, without building a key.
    series: BTreeMap<String, BTreeMap<String, Series>>,
    /// How many series `series` holds (bounded by [`MAX_SERIES`]).
    series_count: usize,
    channels: BTreeMap<String, Channel>,
    /// (ms, spool entries) samples, for the spool's trend.
    spool: Vec<(u64, u64)>,
}

/// The process's collector (like the Prometheus recorder, one per process).
#[derive(Default)]
pub struct Collector {
    inner: Mutex<Inner>,
    degraded: std::sync::atomic::AtomicU64,
}

/// The collector [`crate::telemetry`] feeds and the ops page reads.
pub fn collector() -> &'static Collector {
    static COLLECTOR: OnceLock<Collector> = OnceLock::new();
    COLLECTOR.get_or_init(Collector::default)
}

impl Collector {
    /// Counts one outcome of `channel`/`source` at `now` (ms since the epoch).
    pub fn record_at(&self, channel: &str, source: &str, outcome: &str, now: u64) {
        let channel = channel_name(channel);
        let Ok(mut guard) = self.inner.lock() else {
            return;
        };
        let inner = &mut *guard;
        let known = inner
            .series
            .get(channel)
            .is_some_and(|sources| sources.contains_key(source));
        if !known {
            if inner.series_count >= MAX_SERIES {
                return;
            }
            inner.series_count += 1;
        }
        let sources = named(&mut inner.series, channel, BTreeMap::new);
        let series = named(sources, source, || Series {
            minutes: Ring::new(),
            last_ms: None,
        });
        series.minutes.slot(now / 60_000)[outcome_index(outcome)] += 1;
        series.last_ms = Some(series.last_ms.map_or(now, |l| l.max(now)));
        channel_entry(inner, channel).touch(now);
    }

    /// Records the latency of one hook request of `channel` that ended at `now`.
    pub fn latency_at(&self, channel: &str, micros: u64, now: u64) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        let state = channel_entry(&mut inner, channel_name(channel));
        state.latency.slot(now / 60_000).record(micros);
        state.touch(now);
    }

    /// Counts one record of `channel` spooled at `now`.
    pub fn spooled_at(&self, channel: &str, now: u64) {
        if let Ok(mut inner) = self.inner.lock() {
            *channel_entry(&mut inner, channel_name(channel))
                .spooled
                .slot(now / 60_000) += 1;
        }
    }

    /// Counts one request handled on local state only because Redis was unavailable.
    pub fn cluster_degraded(&self) {
        self.degraded
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Requests handled on local state only since start (cluster mode, Redis down).
    pub fn cluster_degraded_total(&self) -> u64 {
        self.degraded.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Adds `delta` to the requests of `channel` in flight.
    pub fn in_flight(&self, channel: &str, delta: i64) {
        if let Ok(mut inner) = self.inner.lock() {
            channel_entry(&mut inner, channel_name(channel)).in_flight += delta;
        }
    }

    /// Remembers the spool's size at `now`; samples older than `keep_ms` are dropped.
    pub fn spool_sample(&self, now: u64, entries: u64, keep_ms: u64) -> Vec<(u64, u64)> {
        let Ok(mut inner) = self.inner.lock() else {
            return Vec::new();
        };
        inner
            .spool
            .retain(|(at, _)| at + keep_ms >= now && *at <= now);
        // One sample per second is plenty, however many screens poll.
        if inner.spool.last().is_none_or(|(at, _)| at + 1000 <= now) {
            inner.spool.push((now, entries));
        }
        inner.spool.clone()
    }

    /// Everything the page shows, as of `now`.
    pub fn view_at(&self, now: u64) -> Vec<ChannelView> {
        let Ok(inner) = self.inner.lock() else {
            return Vec::new();
        };
        let minute = now / 60_000;
        let mut views: BTreeMap<&str, ChannelView> = BTreeMap::new();
        for (name, state) in &inner.channels {
            let mut latency = Latency::default();
            state
                .latency
                .window(minute)
                .flatten()
                .for_each(|l| latency.merge(l));
            views.insert(
                name,
                ChannelView {
                    channel: name.clone(),
                    latency,
                    usual_gap_ms: state.gaps.window(minute).flatten().copied().max(),
                    last_ms: state.last_ms,
                    in_flight: state.in_flight,
                    spooled: state.spooled.window(minute).flatten().sum(),
                    sources: Vec::new(),
                },
            );
        }
        let series = inner
            .series
            .iter()
            .flat_map(|(channel, sources)| sources.iter().map(move |s| (channel, s)));
        for (channel, (source, series)) in series {
            let mut view = SourceView {
                source: source.clone(),
                last_ms: series.last_ms,
                ..SourceView::default()
            };
            for (age, counts) in series.minutes.window(minute).enumerate() {
                let counts = counts.copied().unwrap_or_default();
                view.per_minute.push(counts.iter().sum());
                let recent = age >= MINUTES - LATENCY_MINUTES;
                for (i, n) in counts.iter().enumerate() {
                    view.hour[i] += n;
                    if recent {
                        view.recent[i] += n;
                    }
                }
            }
            if let Some(channel) = views.get_mut(channel.as_str()) {
                channel.sources.push(view);
            }
        }
        views.into_values().collect()
    }
}

fn channel_entry<'a>(inner: &'a mut Inner, channel: &str) -> &'a mut Channel {
    named(&mut inner.channels, channel, Channel::new)
}
