//! Tests of the collector (`stats`) and of the judgement made on its counters (`view`).

use super::stats::*;
use super::view::*;
use serde_json::Value;

const T0: u64 = 1_800_000_000_000;

// --- the collector ---
#[test]
fn outcomes_land_in_their_minute_and_age_out_after_an_hour() {
    let c = Collector::default();
    c.record_at("web", "baixing", "accepted", T0);
    c.record_at("web", "baixing", "accepted", T0 + 61_000);
    c.record_at("web", "baixing", "no-such-outcome", T0 + 61_000);
    let view = &c.view_at(T0 + 61_000)[0];
    let source = &view.sources[0];
    assert_eq!(source.per_minute.len(), MINUTES);
    assert_eq!(&source.per_minute[MINUTES - 2..], &[1, 2]);
    assert_eq!(source.hour[outcome_index("accepted")], 2);
    assert_eq!(source.hour[outcome_index("other")], 1);
    let later = &c.view_at(T0 + 3_600_000)[0].sources[0];
    assert_eq!(later.hour[0], 1, "the first minute has left the hour");
    assert_eq!(later.last_ms, Some(T0 + 61_000));
    let gone = &c.view_at(T0 + 7_200_000)[0].sources[0];
    assert_eq!(gone.hour.iter().sum::<u64>(), 0);
}

#[test]
fn phone_calls_and_their_records_share_one_row() {
    let c = Collector::default();
    c.latency_at("call", 2_000, T0);
    c.record_at("phone", "pbx1", "accepted", T0);
    let views = c.view_at(T0);
    assert_eq!(views.len(), 1);
    assert_eq!(views[0].channel, "phone");
    assert_eq!(views[0].latency.count(), 1);
}

#[test]
fn percentiles_are_within_ten_percent() {
    let mut l = Latency::default();
    (1..=1000).for_each(|ms| l.record(ms * 1000));
    let p50 = l.quantile_ms(0.5).unwrap();
    let p99 = l.quantile_ms(0.99).unwrap();
    assert!((500.0..=550.0).contains(&p50), "{p50}");
    assert!((990.0..=1089.0).contains(&p99), "{p99}");
    assert_eq!(Latency::default().quantile_ms(0.5), None);
    l.record(u64::MAX);
    assert!(
        l.quantile_ms(1.0).unwrap() > 100_000.0,
        "capped at the last bucket, above 100 s"
    );
}

#[test]
fn latency_looks_back_five_minutes_and_gaps_one_hour() {
    let c = Collector::default();
    c.latency_at("wechat", 10_000, T0);
    c.latency_at("wechat", 10_000, T0 + 600_000);
    let v = &c.view_at(T0 + 600_000)[0];
    assert_eq!(v.latency.count(), 1);
    assert_eq!(v.usual_gap_ms, Some(600_000));
    assert_eq!(c.view_at(T0 + 600_000 + 3_600_000)[0].usual_gap_ms, None);
}

#[test]
fn series_are_bounded() {
    let c = Collector::default();
    for i in 0..(MAX_SERIES + 10) {
        c.record_at("web", &format!("s{i}"), "accepted", T0);
    }
    assert_eq!(c.view_at(T0)[0].sources.len(), MAX_SERIES);
}

#[test]
fn spool_samples_are_thinned_and_expire() {
    let c = Collector::default();
    c.spool_sample(T0, 1, 60_000);
    c.spool_sample(T0 + 10, 2, 60_000);
    assert_eq!(c.spool_sample(T0 + 1000, 3, 60_000).len(), 2);
    assert_eq!(
        c.spool_sample(T0 + 120_000, 4, 60_000),
        vec![(T0 + 120_000, 4)]
    );
}

// --- the page's document and its problems ---

fn sink() -> SinkState {
    SinkState {
        kind: "kafka",
        up: true,
        ready: true,
        detail: None,
        dedup_entries: 0,
    }
}

fn doc(c: &Collector, now: u64) -> Value {
    document(now, &c.view_at(now), &sink(), None, T0)
}

#[test]
fn every_channel_is_listed_and_idle_until_it_speaks() {
    let d = doc(&Collector::default(), T0);
    let names: Vec<_> = d["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["channel"].as_str().unwrap())
        .collect();
    assert_eq!(names, CHANNELS);
    assert!(d["channels"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["level"] == "idle"));
    assert_eq!(d["problems"], serde_json::json!([]));
}

#[test]
fn a_channel_quiet_for_twice_its_usual_gap_is_silent() {
    let c = Collector::default();
    for i in 0..10 {
        c.record_at("sms", "aliyun", "accepted", T0 + i * 60_000);
    }
    let last = T0 + 9 * 60_000;
    let quiet = doc(&c, last + 119_000);
    assert_eq!(quiet["channels"][1]["level"], "ok");
    let silent = doc(&c, last + 121_000);
    assert_eq!(silent["channels"][1]["level"], "alarm");
    assert_eq!(silent["problems"][0]["code"], "silent");
    assert_eq!(silent["channels"][1]["totals"]["accepted"], 10);
    assert_eq!(silent["channels"][1]["sources"][0]["source"], "aliyun");
}

#[test]
fn a_burst_of_signature_failures_is_an_alarm_and_one_is_a_warning() {
    let c = Collector::default();
    c.record_at("web", "baixing", "unauthorized", T0);
    assert_eq!(doc(&c, T0)["problems"][0]["level"], "warn");
    (0..5).for_each(|_| c.record_at("web", "baixing", "unauthorized", T0));
    let d = doc(&c, T0);
    assert_eq!(d["problems"][0]["level"], "alarm");
    assert_eq!(d["channels"][3]["signature_failures_5m"], 6);
}

#[test]
fn slow_requests_and_failures_are_flagged() {
    let c = Collector::default();
    c.latency_at("wechat", 3_000_000, T0);
    c.record_at("wechat", "plain", "failed", T0);
    let codes: Vec<_> = doc(&c, T0)["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"].clone())
        .collect();
    assert_eq!(codes, ["failing", "p99_over_budget"]);
}

#[test]
fn the_spool_trend_needs_ten_seconds_of_history() {
    assert_eq!(spool_trend(&[]), "empty");
    assert_eq!(spool_trend(&[(T0, 0)]), "empty");
    assert_eq!(spool_trend(&[(T0, 1), (T0 + 5_000, 9)]), "steady");
    assert_eq!(spool_trend(&[(T0, 1), (T0 + 10_000, 9)]), "growing");
    assert_eq!(spool_trend(&[(T0, 9), (T0 + 10_000, 1)]), "draining");
    let spool = SpoolState {
        entries: 9,
        bytes: 900,
        oldest_age_s: Some(30.0),
        full: false,
        trend: "growing",
    };
    let down = SinkState {
        up: false,
        ready: true,
        ..sink()
    };
    let codes: Vec<_> = sink_problems(&down, Some(&spool))
        .into_iter()
        .map(|p| p.code)
        .collect();
    assert_eq!(codes, ["kafka_down", "spool_growing"]);
}
