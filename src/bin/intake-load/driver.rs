//! Sending: a closed loop of `--concurrency` workers, each waiting for its reply before the
//! next request, or an open loop at a fixed `--rate` whatever the replies do.
//!
//! Open-loop latency runs from the moment a request was *due*, not from when it went out: when
//! the gateway stalls, requests queued behind the stall count their waiting time (the
//! coordinated-omission correction of wrk2 and HdrHistogram). At most `--concurrency` requests
//! are in flight; a late request is sent as soon as a slot frees, its due time unchanged.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use intake_schema::RequestId;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::channel::Target;
use crate::report::{count_status, Stats, POST_STATUSES};

/// Everything the senders share.
pub struct Plan {
    /// What to build.
    pub target: Target,
    /// The HTTP client (keep-alive pool, no proxy, no redirects).
    pub client: reqwest::Client,
    /// `--url` without its trailing slash; request paths start with `/`.
    pub base: String,
    /// `--duplicate-ratio`.
    pub duplicate_ratio: f64,
    /// Learn the request ids of acknowledged requests (for `--verify-topic`).
    pub learn_ids: bool,
    /// The run's wall-clock bound.
    pub deadline: Instant,
    /// Request numbers issued so far (duplicates re-send one of them).
    pub fresh: AtomicU64,
    /// Requests finished so far, for the progress line.
    pub done: AtomicU64,
    /// Of those, failed (no reply or 5xx).
    pub failed: AtomicU64,
    /// Request ids of acknowledged requests.
    pub acked: Mutex<HashSet<RequestId>>,
}

/// How one phase sends.
#[derive(Clone, Copy, Debug)]
pub enum Pace {
    /// `n` workers, one request in flight each.
    Closed(u64),
    /// This many requests a second, at most `max_in_flight` at once.
    Open {
        /// Requests per second.
        rate: f64,
        /// `--concurrency`.
        max_in_flight: u64,
    },
}

/// Sends up to `count` requests (0 = until the deadline) at `pace`.
pub async fn phase(plan: &Arc<Plan>, count: u64, pace: Pace) -> (Stats, Duration) {
    let count = if count == 0 { u64::MAX } else { count };
    // One lock for all senders: with the tool on one or two threads it is never contended,
    // and a single histogram needs no merging.
    let stats = Arc::new(Mutex::new(Stats::new()));
    let started = Instant::now();
    match pace {
        Pace::Closed(workers) => {
            let next = Arc::new(AtomicU64::new(0));
            let mut set = JoinSet::new();
            for _ in 0..workers.min(count) {
                let (plan, stats, next) = (plan.clone(), stats.clone(), next.clone());
                set.spawn(async move {
                    while next.fetch_add(1, Ordering::Relaxed) < count
                        && Instant::now() < plan.deadline
                    {
                        one(&plan, &stats, Instant::now()).await;
                    }
                });
            }
            set.join_all().await;
        }
        Pace::Open {
            rate,
            max_in_flight,
        } => {
            let slots = Arc::new(Semaphore::new(max_in_flight as usize));
            let mut set = JoinSet::new();
            let mut ticks = pacer(started, rate, count, plan.deadline);
            while let Some(due) = ticks.recv().await {
                let slot = slots.clone().acquire_owned().await.expect("never closed");
                let (plan, stats) = (plan.clone(), stats.clone());
                set.spawn(async move {
                    one(&plan, &stats, due).await;
                    drop(slot);
                });
                // Reap finished tasks so a long run does not keep them all.
                while set.try_join_next().is_some() {}
            }
            set.join_all().await;
        }
    }
    let elapsed = started.elapsed();
    let stats = Arc::into_inner(stats).expect("senders are done");
    (stats.into_inner().expect("stats lock"), elapsed)
}

/// The open loop's clock: a thread of its own that hands out each request's due time when it
/// comes, at most `count` of them and none at or past `deadline`.
///
/// Not `tokio::time::sleep_until`: tokio's timer wheel ticks in whole milliseconds and rounds a
/// deadline up, so requests went out about 1 ms late (2 ms at p99), and that lag, the tool's
/// and not the gateway's, was part of every open-loop latency. This thread sleeps with
/// `nanosleep`, but never less than `TICK` between wake-ups: a wake-up per request would cost
/// the machine under test more than the lag it saves. What is due when it wakes goes out at once.
/// The channel is bounded: while the senders are stuck (every slot taken by a stalled server) the
/// clock waits instead of queueing the rest of the run in memory; due times stay on the schedule.
fn pacer(
    started: Instant,
    rate: f64,
    count: u64,
    deadline: Instant,
) -> tokio::sync::mpsc::Receiver<Instant> {
    const TICK: Duration = Duration::from_micros(250);
    let (tx, rx) = tokio::sync::mpsc::channel(4096);
    std::thread::Builder::new()
        .name("intake-load-pacer".into())
        .spawn(move || {
            let mut woke = Instant::now();
            for i in 0..count {
                let due = started + Duration::from_secs_f64(i as f64 / rate);
                if due >= deadline {
                    break;
                }
                let now = Instant::now();
                if due > now {
                    std::thread::sleep((due - now).max(TICK.saturating_sub(now - woke)));
                    woke = Instant::now();
                }
                if tx.blocking_send(due).is_err() {
                    break; // the sender loop is gone
                }
            }
        })
        .expect("pacer thread");
    rx
}

/// Builds, sends and accounts one request due at `due`.
async fn one(plan: &Plan, stats: &Mutex<Stats>, due: Instant) {
    let lag_us = due.elapsed().as_micros() as u64;
    // A duplicate re-sends request number n issued earlier, possibly still in flight: that
    // exercises both the "seen" and the "wait for the twin" paths of the dedup index.
    let issued = plan.fresh.load(Ordering::Relaxed);
    let duplicate = issued > 0 && rand::random::<f64>() < plan.duplicate_ratio;
    let n = if duplicate {
        rand::random_range(0..issued)
    } else {
        plan.fresh.fetch_add(1, Ordering::Relaxed)
    };
    let built = plan.target.build(n);
    let url = format!("{}{}", plan.base, built.path_and_query);
    let method = if built.method == "GET" {
        reqwest::Method::GET
    } else {
        reqwest::Method::POST
    };
    let mut request = plan.client.request(method, url);
    for (name, value) in &built.headers {
        request = request.header(*name, value);
    }
    let request = request.body(built.body.clone());
    let outcome = async {
        let response = request.send().await?;
        Ok::<_, reqwest::Error>((response.status().as_u16(), response.bytes().await?))
    }
    .await;
    let us = due.elapsed().as_micros() as u64;
    // Ids are learned outside the stats lock: the adapter run costs a few µs.
    let ids = match &outcome {
        Ok((code, reply)) if plan.learn_ids && (200..300).contains(code) => {
            Some(plan.target.acked_ids(&built, reply))
        }
        _ => None,
    };
    plan.done.fetch_add(1, Ordering::Relaxed);
    let mut stats = stats.lock().expect("stats lock");
    match outcome {
        Ok((code, reply)) => {
            stats.latency_us.saturating_record(us);
            stats.send_lag_us.saturating_record(lag_us);
            *stats.status.entry(code).or_default() += 1;
            for (count, word) in stats.posts.iter_mut().zip(POST_STATUSES) {
                *count += count_status(&reply, word);
            }
            if code >= 500 {
                plan.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
        Err(e) => {
            plan.failed.fetch_add(1, Ordering::Relaxed);
            stats.transport_errors += 1;
            // reqwest's Display ("error sending request") hides the cause; Debug shows it.
            stats.first_error.get_or_insert_with(|| format!("{e:?}"));
        }
    }
    match ids {
        Some(Ok(ids)) => plan.acked.lock().expect("acked lock").extend(ids),
        Some(Err(e)) => {
            stats.id_errors += 1;
            stats.first_id_error.get_or_insert(e);
        }
        None => {}
    }
}

/// The progress line on stderr, updated 4 times a second by a task of its own; hidden when
/// `hidden` (`--json`) or when stderr is not a terminal.
pub fn progress(
    plan: &Arc<Plan>,
    total: u64,
    hidden: bool,
) -> (ProgressBar, tokio::task::JoinHandle<()>) {
    use std::io::IsTerminal;
    let bar = if hidden || !std::io::stderr().is_terminal() {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::with_draw_target(
            (total > 0).then_some(total),
            ProgressDrawTarget::stderr_with_hz(4),
        );
        let style = ProgressStyle::with_template("{elapsed:>4} {pos:>9} done {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar
    };
    let (ticker, plan) = (bar.clone(), plan.clone());
    let task = tokio::spawn(async move {
        let mut last = (Instant::now(), 0u64);
        let mut every = tokio::time::interval(Duration::from_millis(250));
        loop {
            every.tick().await;
            let done = plan.done.load(Ordering::Relaxed);
            let rate = (done - last.1) as f64 / last.0.elapsed().as_secs_f64().max(1e-3);
            last = (Instant::now(), done);
            ticker.set_position(done);
            let failed = plan.failed.load(Ordering::Relaxed);
            ticker.set_message(format!("{rate:>8.0} req/s  {failed} failed"));
        }
    });
    (bar, task)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_pacer_hands_out_each_due_time_once_in_order_and_stops() {
        let started = Instant::now();
        // A rate so high that everything is due at once: no sleeping, nothing timed.
        let mut ticks = pacer(started, 1e9, 1_000, started + Duration::from_secs(3600));
        let mut dues = Vec::new();
        while let Some(due) = ticks.recv().await {
            dues.push(due);
        }
        assert_eq!(dues.len(), 1_000, "the count bounds it");
        assert!(dues.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(dues[0], started);

        // The deadline bounds it too: at 1,000/s, 5 ms hold requests 0..=4.
        let mut ticks = pacer(
            started,
            1_000.0,
            u64::MAX,
            started + Duration::from_millis(5),
        );
        let mut n = 0;
        while let Some(due) = ticks.recv().await {
            assert!(due < started + Duration::from_millis(5));
            n += 1;
        }
        assert_eq!(n, 5);
    }
}
