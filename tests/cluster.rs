//! Cluster mode (issue #11) end to end: replicas behind a real HAProxy (round-robin, a fresh
//! server connection per request) sharing dedup markers, long-SMS parts, call state and rate
//! limits through a real Redis. Consecutive requests through the proxy reach different
//! replicas, so what one replica saw must be known to the next.

mod support;

use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::cluster::{Cluster, ClusterSpec};
use support::*;

const OPENID: &str = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o";

async fn three_replicas() -> Cluster {
    Cluster::start(ClusterSpec::new(3, &broker().bootstrap)).await
}

/// Asserts that each replica answered exactly one `channel` request: the proxy spread them.
async fn assert_one_each(cluster: &Cluster, channel: &str) {
    for r in &cluster.replicas {
        assert_eq!(
            r.requests_answered(&cluster.client, channel).await,
            1,
            "{} answered one {channel} request",
            r.instance_id
        );
    }
}

async fn post_wechat(cluster: &Cluster, query: &str, body: &str) -> (u16, Vec<u8>) {
    let r = cluster
        .client
        .post(format!("{}/hooks/wechat/plain?{query}", cluster.base()))
        .header("content-type", "text/xml")
        .body(body.to_string())
        .send()
        .await
        .expect("wechat push through haproxy");
    (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_reports_the_cluster() {
    let cluster = three_replicas().await;
    for r in &cluster.replicas {
        let ready = r.readyz(&cluster.client).await;
        let c = &ready["cluster"];
        assert_eq!(c["redis_up"], true, "{}: {ready}", r.instance_id);
        assert_eq!(c["instance_id"], r.instance_id.as_str(), "{ready}");
        assert!(c["peers"].is_array(), "{ready}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wechat_message_delivered_to_three_replicas_is_one_record_with_one_reply() {
    let cluster = three_replicas().await;
    let query = wechat_query(WECHAT_TOKEN, now(), "cluster-n1");
    let body = wechat_text(WECHAT_GH, OPENID, 7_100_000_001, "建工街的井盖丢了");
    let mut replies = Vec::new();
    for _ in 0..3 {
        let (status, reply) = post_wechat(&cluster, &query, &body).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&reply));
        replies.push(reply);
    }
    assert_one_each(&cluster, "wechat").await;
    assert_eq!(
        replies[0], replies[1],
        "the second replica repeats the reply"
    );
    assert_eq!(
        replies[0], replies[2],
        "the third replica repeats the reply"
    );

    // Three twins at the same moment, each on its own replica.
    let twin = wechat_text(WECHAT_GH, OPENID, 7_100_000_002, "建工街的井盖又丢了");
    let (a, b, c) = tokio::join!(
        post_wechat(&cluster, &query, &twin),
        post_wechat(&cluster, &query, &twin),
        post_wechat(&cluster, &query, &twin)
    );
    for (status, reply) in [&a, &b, &c] {
        assert_eq!(*status, 200, "{}", String::from_utf8_lossy(reply));
    }

    let records = cluster.consume_requests(2, Duration::from_secs(20));
    let ids: Vec<&str> = records
        .iter()
        .map(|r| r.value["source"]["message_id"].as_str().unwrap())
        .collect();
    assert_eq!(records.len(), 2, "one record per message: {ids:?}");
    assert!(ids.iter().any(|id| id.ends_with("/7100000001")), "{ids:?}");
    assert!(ids.iter().any(|id| id.ends_with("/7100000002")), "{ids:?}");
    records.iter().for_each(|r| assert_valid_request(&r.value));
    let first = records
        .iter()
        .find(|r| {
            r.value["source"]["message_id"]
                .as_str()
                .unwrap()
                .ends_with("/7100000001")
        })
        .unwrap();
    let reply = String::from_utf8_lossy(&replies[0]).into_owned();
    assert!(
        reply.contains(first.value["tracking_no"].as_str().unwrap()),
        "the repeated reply carries the one record's tracking number: {reply}"
    );
}

/// Part `seq` of `total` (concatenation reference `reference`) of a long Kannel SMS in UCS-2.
fn kannel_part(reference: u8, total: u8, seq: u8, text: &str, id: &str) -> String {
    let ucs2: String = text
        .encode_utf16()
        .flat_map(u16::to_be_bytes)
        .map(|b| format!("%{b:02X}"))
        .collect();
    let udh = format!("%05%00%03%{reference:02X}%{total:02X}%{seq:02X}");
    format!(
        "token={SMS_TOKEN}&from=13812345678&to=1069012345&text={ucs2}&coding=2&charset=UTF-16BE\
         &udh={udh}&time=1795507200&id={id}"
    )
}

const PARTS: [&str; 3] = ["请尽快", "修理路灯", "，谢谢"];

async fn send_part(cluster: &Cluster, query: &str) {
    let r = cluster
        .client
        .get(format!("{}/hooks/sms/kannel?{query}", cluster.base()))
        .send()
        .await
        .expect("sms part through haproxy");
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_wechat_still_serves_degraded_and_sms_parts_get_503_until_it_returns() {
    let mut cluster = three_replicas().await;
    cluster.redis.kill();
    // WeChat (like web and phone) goes on with local dedup, counted as degraded.
    let query = wechat_query(WECHAT_TOKEN, now(), "cluster-down");
    let body = wechat_text(WECHAT_GH, OPENID, 7_100_000_900, "停电了，什么时候来电");
    let (status, reply) = post_wechat(&cluster, &query, &body).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&reply));
    assert!(
        cluster
            .metric_total("intake_cluster_degraded_total", &["what=\"dedup\""])
            .await
            >= 1.0,
        "the degraded request is counted"
    );
    // A long-SMS part kept on one replica could never be joined: the gateway must retry.
    let part = kannel_part(0x3C, 2, 1, PARTS[0], "down-1");
    let r = cluster
        .client
        .get(format!("{}/hooks/sms/kannel?{part}", cluster.base()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503, "a part is refused while Redis is away");
    assert!(r.headers().contains_key("retry-after"));
    for replica in &cluster.replicas {
        // The heartbeat (every 2 s) notices on a replica that had no request since.
        let deadline = Instant::now() + Duration::from_secs(6);
        loop {
            let ready = replica.readyz(&cluster.client).await;
            assert_eq!(
                ready["ready"], true,
                "Redis down is no reason to be unready: {ready}"
            );
            if ready["cluster"]["redis_up"] == false {
                break;
            }
            assert!(Instant::now() < deadline, "redis_up still true: {ready}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    // Redis returns: used again without a restart (a replica that failed a moment ago waits
    // a second before it tries again, so the gateway's retries get through within seconds).
    cluster.redis.restart();
    for (seq, id) in [(1u8, "down-1"), (2, "down-2")] {
        let part = kannel_part(0x3C, 2, seq, PARTS[seq as usize - 1], id);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let r = cluster
                .client
                .get(format!("{}/hooks/sms/kannel?{part}", cluster.base()))
                .send()
                .await
                .unwrap();
            if r.status() == 200 {
                break;
            }
            assert_eq!(r.status(), 503);
            assert!(
                Instant::now() < deadline,
                "parts still refused after Redis returned"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
    let records = cluster.consume_requests(2, Duration::from_secs(20));
    let texts: Vec<&str> = records
        .iter()
        .filter_map(|r| r.value["content"]["text"].as_str())
        .collect();
    assert!(texts.contains(&"请尽快修理路灯"), "{texts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_sms_whose_parts_reach_three_replicas_in_reverse_order_is_one_joined_record() {
    let cluster = three_replicas().await;
    for seq in [3u8, 2, 1] {
        let text = PARTS[seq as usize - 1];
        send_part(
            &cluster,
            &kannel_part(0x2B, 3, seq, text, &format!("lp-{seq}")),
        )
        .await;
    }
    assert_one_each(&cluster, "sms").await;
    let records = cluster.consume_requests(1, Duration::from_secs(20));
    assert_eq!(records.len(), 1, "one record for three parts");
    assert_valid_request(&records[0].value);
    assert_eq!(records[0].value["content"]["text"], PARTS.concat());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incomplete_long_sms_is_published_once_by_the_cluster_after_the_timeout() {
    let spec =
        ClusterSpec::new(3, &broker().bootstrap).env("CHANNELS__SMS__REASSEMBLY_TIMEOUT", "2s");
    let cluster = Cluster::start(spec).await;
    let sent = Instant::now();
    for seq in [1u8, 2] {
        let text = PARTS[seq as usize - 1];
        send_part(
            &cluster,
            &kannel_part(0x2C, 3, seq, text, &format!("ip-{seq}")),
        )
        .await;
    }
    let early = cluster.consume_requests(1, Duration::from_millis(700));
    if sent.elapsed() < Duration::from_secs(2) {
        assert!(early.is_empty(), "published before the timeout: {early:?}");
    }
    // Every replica may sweep expired groups: wait well past the timeout for a second copy.
    let records = cluster.consume_requests(2, Duration::from_secs(10));
    assert_eq!(records.len(), 1, "exactly one fragment record: {records:?}");
    assert_valid_request(&records[0].value);
    let text = records[0].value["content"]["text"].as_str().unwrap();
    assert!(
        text.starts_with(PARTS[0])
            && text.contains(PARTS[1])
            && text.contains(intake_sms::INCOMPLETE_MARKER),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_call_answer_and_hangup_on_three_replicas_merge_into_one_record() {
    let cluster = three_replicas().await;
    let call = "cluster-cti-1";
    let events = [
        json!({"event": "newCall", "callId": call, "from": "13812345678", "to": "12345", "direction": "in", "user": ["李娜", "王伟"], "queue": "hotline", "timestamp": "2026-11-24T02:00:00Z"}),
        json!({"event": "answer", "callId": call, "from": "13812345678", "to": "12345", "direction": "in", "user": "王伟", "answeringNumber": "8009", "timestamp": "2026-11-24T02:00:21Z"}),
        json!({"event": "hangup", "callId": call, "from": "13812345678", "to": "12345", "direction": "in", "user": "王伟", "answeringNumber": "8009", "cause": "normalClearing", "timestamp": "2026-11-24T02:06:40Z"}),
    ];
    for event in &events {
        let r = cluster
            .client
            .post(format!(
                "{}/hooks/call/cti?token={CALL_SECRET}",
                cluster.base()
            ))
            .header("content-type", "application/json")
            .body(event.to_string())
            .send()
            .await
            .expect("call event through haproxy");
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    }
    assert_one_each(&cluster, "phone").await;
    let records = cluster.consume_requests(1, Duration::from_secs(20));
    assert_eq!(records.len(), 1, "one record per call");
    let record = &records[0].value;
    assert_valid_request(record);
    let c = &record["call"];
    assert_eq!(c["call_id"], call);
    assert_eq!(c["disposition"], "answered");
    assert_eq!(
        c["started_at"], "2026-11-24T02:00:00.000Z",
        "from newCall: {c}"
    );
    assert_eq!(
        c["answered_at"], "2026-11-24T02:00:21.000Z",
        "from answer: {c}"
    );
    assert_eq!(c["queue"], "hotline", "from newCall: {c}");
    assert_eq!(c["agent"], "8009");
    assert_eq!(c["ring_seconds"], 21);
    assert_eq!(c["talk_seconds"], 379);
    let events = cluster.consume_events(2, Duration::from_secs(20));
    let kinds: BTreeSet<&str> = events
        .iter()
        .map(|e| e.value["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains("phone.new_call") && kinds.contains("phone.answer"),
        "live view: {kinds:?}"
    );
}

/// One acknowledged request of the load: its id and when it was sent and answered.
struct Acked {
    request_id: String,
    sent: Instant,
    answered: Instant,
}

/// Unique signed posts through the proxy until `until`; records every 2xx.
async fn load(
    client: reqwest::Client,
    base: String,
    worker: usize,
    until: Instant,
    acked: Arc<Mutex<Vec<Acked>>>,
) -> usize {
    let mut failed = 0;
    let mut i = 0;
    while Instant::now() < until {
        i += 1;
        let body = batch(&[post(&format!("load-{worker}-{i}"), "水管爆裂")]);
        let sent = Instant::now();
        let Ok(response) = send_web(&client, &base, PARTNER, SECRET, now(), &body).await else {
            failed += 1;
            continue;
        };
        if !response.status().is_success() {
            failed += 1;
            continue;
        }
        let Ok(v) = response.json::<Value>().await else {
            failed += 1;
            continue;
        };
        let request_id = v["results"][0]["request_id"].as_str().unwrap_or_default();
        acked.lock().unwrap().push(Acked {
            request_id: request_id.to_string(),
            sent,
            answered: Instant::now(),
        });
    }
    failed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_through_a_replica_crash_and_a_redis_stall_loses_and_duplicates_nothing() {
    let mut cluster = three_replicas().await;
    let acked = Arc::new(Mutex::new(Vec::new()));
    let start = Instant::now();
    let until = start + Duration::from_secs(20);
    let workers: Vec<_> = (0..3)
        .map(|w| {
            tokio::spawn(load(
                cluster.client.clone(),
                cluster.base(),
                w,
                until,
                acked.clone(),
            ))
        })
        .collect();

    tokio::time::sleep_until((start + Duration::from_secs(4)).into()).await;
    cluster.kill9(1).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    cluster.restart(1).await;

    tokio::time::sleep_until((start + Duration::from_secs(9)).into()).await;
    cluster.redis.freeze();
    let frozen = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    cluster.redis.thaw();
    let thawed = Instant::now();

    let mut failed = 0;
    for w in workers {
        failed += w.await.expect("load worker");
    }
    cluster.wait_spools_empty(Duration::from_secs(30)).await;
    let degraded = cluster
        .metric_total("intake_cluster_degraded_total", &[])
        .await;

    let acked = std::mem::take(&mut *acked.lock().unwrap());
    assert!(
        acked.len() > 50,
        "the load ran: {} acknowledged",
        acked.len()
    );
    let records = cluster.consume_requests(acked.len(), Duration::from_secs(40));
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &records {
        *counts
            .entry(r.value["request_id"].as_str().unwrap())
            .or_default() += 1;
    }
    let lost: Vec<&str> = acked
        .iter()
        .map(|a| a.request_id.as_str())
        .filter(|id| !counts.contains_key(id))
        .collect();
    // Requests wholly outside the stall: Redis was up for all of their life.
    let while_up: Vec<&Acked> = acked
        .iter()
        .filter(|a| a.answered < frozen || a.sent > thawed)
        .collect();
    let duplicates: Vec<&str> = while_up
        .iter()
        .map(|a| a.request_id.as_str())
        .filter(|id| counts.get(id).copied().unwrap_or(0) > 1)
        .collect();
    println!(
        "acknowledged={} lost={} duplicates={} degraded={degraded} (failed requests={failed}, records={}, acknowledged while redis up={})",
        acked.len(),
        lost.len(),
        duplicates.len(),
        records.len(),
        while_up.len()
    );
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    assert!(duplicates.is_empty(), "published twice: {duplicates:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_spool_of_a_replica_that_never_comes_back_is_drained_by_the_cli() {
    let mut kafka = DedicatedBroker::reserve();
    kafka.start();
    let spec = ClusterSpec::new(2, &kafka.bootstrap).append("[spool]\nafter = \"200ms\"\n");
    let mut cluster = Cluster::start(spec).await;

    kafka.freeze();
    let orphan = &cluster.replicas[0];
    let mut acked = BTreeSet::new();
    for i in 0..5 {
        let body = batch(&[post(&format!("orphan-{i}"), "暖气不热")]);
        let r = send_web(&cluster.client, &orphan.base, PARTNER, SECRET, now(), &body)
            .await
            .expect("post to the replica directly");
        assert_eq!(r.status(), 200, "spooled and acknowledged");
        let v: Value = r.json().await.unwrap();
        acked.insert(v["results"][0]["request_id"].as_str().unwrap().to_string());
    }
    // The first post's produce request was already written to the frozen broker's socket
    // before the spool took over: the broker applies it when thawed, although its sender is
    // dead. Draining that record again is the duplicate this test guards against.
    let ready = orphan.readyz(&cluster.client).await;
    assert_eq!(ready["spool"]["entries"], 5, "the backlog: {ready}");
    cluster.kill9(0).await;
    kafka.thaw();

    let replica = &cluster.replicas[0];
    let mut drain = replica
        .command()
        .args(["spool", "drain", "--timeout", "60s", "--data-dir"])
        .arg(&replica.data_dir)
        .arg("--config")
        .arg(&replica.config_path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("intake-gateway spool drain");
    let deadline = Instant::now() + Duration::from_secs(70);
    let status = loop {
        if let Some(status) = drain.try_wait().expect("drain status") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = drain.kill();
            panic!("spool drain did not finish within 70 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let output = drain.wait_with_output().expect("drain output");
    assert!(
        status.success(),
        "spool drain failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );

    let records = cluster.consume_requests(acked.len(), Duration::from_secs(30));
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for r in &records {
        *counts
            .entry(r.value["request_id"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    for id in &acked {
        assert_eq!(counts.get(id), Some(&1), "{id} exactly once: {counts:?}");
    }
    assert_eq!(records.len(), acked.len(), "nothing else: {counts:?}");
}

/// A feed of `n` posts in pages, for the pull lease test.
async fn start_feed(n: usize) -> String {
    use axum::extract::RawQuery;
    let app = axum::Router::new().route(
        "/feed",
        axum::routing::get(move |RawQuery(query): RawQuery| async move {
            let params: BTreeMap<String, String> =
                form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                    .into_owned()
                    .collect();
            let from: usize = params
                .get("cursor")
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            let limit: usize = params
                .get("limit")
                .and_then(|c| c.parse().ok())
                .unwrap_or(5);
            let end = (from + limit).min(n);
            let posts: Vec<Value> = (from.min(end)..end)
                .map(|i| post(&format!("lease-{i}"), &format!("第{i}条：小区停水")))
                .collect();
            axum::Json(json!({"posts": posts, "next_cursor": end.to_string()}))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/feed", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// Which replicas polled the feed (published or found duplicate items from it).
async fn pollers(cluster: &Cluster) -> Vec<String> {
    let mut who = Vec::new();
    for r in cluster.replicas.iter().filter(|r| r.is_running()) {
        let text = r.metrics(&cluster.client).await;
        if support::cluster::metric_sum(&text, "intake_pull_items_total", &[]) > 0.0 {
            who.push(r.instance_id.clone());
        }
    }
    who
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_replica_polls_a_feed_and_another_takes_over_when_it_dies() {
    const ITEMS: usize = 12;
    let url = start_feed(ITEMS).await;
    let spec = ClusterSpec::new(3, &broker().bootstrap).append(&format!(
        "[channels.web.partners.{PARTNER}.pull]\nurl = \"{url}\"\ninterval = \"1s\"\n\
         page_size = 5\nauth = {{ bearer = \"feed-token\" }}\n"
    ));
    let mut cluster = Cluster::start(spec).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let holder = loop {
        let who = pollers(&cluster).await;
        assert!(
            who.len() <= 1,
            "more than one replica polls the feed: {who:?}"
        );
        if let [one] = who.as_slice() {
            break one.clone();
        }
        assert!(Instant::now() < deadline, "nobody polls the feed");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let records = cluster.consume_requests(ITEMS, Duration::from_secs(20));
    assert_eq!(records.len(), ITEMS, "every item once");
    // The holder dies: its lease runs out and another replica takes the feed over.
    let i = cluster
        .replicas
        .iter()
        .position(|r| r.instance_id == holder)
        .unwrap();
    cluster.kill9(i).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let who = pollers(&cluster).await;
        assert!(
            who.len() <= 1,
            "more than one replica polls the feed: {who:?}"
        );
        if who.len() == 1 {
            assert_ne!(who[0], holder);
            break;
        }
        assert!(Instant::now() < deadline, "nobody took the feed over");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // The new holder read the feed again from its own cursor: all duplicates, nothing new.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let records = cluster.consume_requests(ITEMS + 1, Duration::from_secs(5));
    assert_eq!(records.len(), ITEMS, "the takeover published nothing twice");
}

/// The shared markers of replica `r1` on `redis`, under `prefix`: a 30 s lease, a 10 min window.
fn markers_on(
    redis: &support::cluster::Redis,
    prefix: &str,
) -> intake_gateway::cluster::markers::Markers {
    use intake_gateway::cluster::{ClusterConfig, Link};
    let config = ClusterConfig {
        redis_url: Some(redis.redis_url().as_str().into()),
        key_prefix: prefix.into(),
        instance_id: "r1".into(),
        ..ClusterConfig::default()
    };
    intake_gateway::cluster::markers::Markers::new(
        Link::new(&config).unwrap(),
        Duration::from_secs(30),
        Duration::from_secs(600),
    )
}

/// The shared markers batch the claims (and settlements) that queue up while a round trip runs:
/// many concurrent claims, some of the same id, still give each id exactly one owner, and a
/// settled marker is durable for the next claim.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batched_marker_claims_give_each_id_one_owner() {
    use intake_gateway::cluster::markers::Marker;

    let redis = support::cluster::Redis::start();
    let markers = Arc::new(markers_on(&redis, "batch-test"));
    // 300 claims at once: 100 ids, each claimed three times.
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..300 {
        let markers = markers.clone();
        tasks.spawn(async move {
            let id = format!("id-{}", n % 100);
            (id.clone(), markers.claim(&id).await.unwrap())
        });
    }
    let mut owners: BTreeMap<String, String> = BTreeMap::new();
    let mut in_flight = 0;
    for (id, marker) in tasks.join_all().await {
        match marker {
            Marker::Mine(token) => assert!(owners.insert(id, token).is_none(), "two owners"),
            Marker::InFlight => in_flight += 1,
            Marker::Durable => panic!("nothing was settled yet"),
        }
    }
    assert_eq!((owners.len(), in_flight), (100, 200));
    // Settle half durable, release the other half; a foreign token changes nothing.
    markers.settle("id-0", "f|someone-else|x".into(), false);
    for (id, token) in &owners {
        let durable = id.trim_start_matches("id-").parse::<u32>().unwrap() % 2 == 0;
        markers.settle(id, token.clone(), durable);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let kept = redis.keys("batch-test:req:").len();
        if kept == 50 {
            break;
        }
        assert!(Instant::now() < deadline, "{kept} markers left, want 50");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Releases are batched too: far fewer script calls than the 51 releases.
    let mut con = redis::Client::open(redis.redis_url())
        .unwrap()
        .get_connection()
        .unwrap();
    let stats: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut con)
        .unwrap();
    let calls: u64 = stats
        .lines()
        .filter(|l| l.starts_with("cmdstat_eval"))
        .filter_map(|l| {
            l.split("calls=")
                .nth(1)?
                .split(',')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum();
    eprintln!("script calls for 51 releases: {calls}");
    assert!(calls < 51, "script calls: {calls}");
    // Only the 200 claims that found their marker taken read it (`GET`), plus one `GET` per
    // release inside the script: a `GET` beside every claim would make it 351.
    let gets: u64 = stats
        .lines()
        .find_map(|l| l.strip_prefix("cmdstat_get:calls="))
        .and_then(|l| l.split(',').next()?.parse().ok())
        .unwrap_or(0);
    assert_eq!(gets, 200 + 51, "GET calls");
    assert_eq!(markers.claim("id-0").await.unwrap(), Marker::Durable);
    assert!(matches!(
        markers.claim("id-1").await.unwrap(),
        Marker::Mine(_)
    ));
}

/// A settlement rides along with the next claims' round trip, in front of them: a copy claimed on
/// the same replica right after its original was settled reads durable (a duplicate), never in
/// flight, even though the settlement was not awaited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_right_after_a_settlement_reads_it_durable() {
    use intake_gateway::cluster::markers::Marker;

    let redis = support::cluster::Redis::start();
    let markers = markers_on(&redis, "ride-test");
    for n in 0..50 {
        let id = format!("id-{n}");
        let Marker::Mine(token) = markers.claim(&id).await.unwrap() else {
            panic!("{id} was free");
        };
        markers.settle(&id, token, true);
        assert_eq!(markers.claim(&id).await.unwrap(), Marker::Durable, "{id}");
    }
    // A settlement with no claim behind it still goes, by itself.
    let Marker::Mine(token) = markers.claim("alone").await.unwrap() else {
        panic!("alone was free");
    };
    markers.settle("alone", token, true);
    let mut con = redis::Client::open(redis.redis_url())
        .unwrap()
        .get_connection()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let value: Option<String> = redis::cmd("GET")
            .arg("ride-test:req:alone")
            .query(&mut con)
            .unwrap();
        if value.as_deref() == Some("d|r1") {
            break;
        }
        assert!(Instant::now() < deadline, "the lone settlement never went");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
