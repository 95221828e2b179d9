//! Pull mode end to end: a local fake feed that pages, fails intermittently (500s, timeouts),
//! repeats items and serves one the gateway rejects; the gateway polls it into the real broker.
//! Every item lands once by request_id, the rejected one is dead-lettered, and a kill -9 mid-feed
//! followed by a restart re-reads at most one page.

mod support;

use axum::extract::{OriginalUri, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::broker::free_port;
use support::*;

const TOKEN: &str = "feed-token";
const PAGE: usize = 5;

enum Auth {
    Bearer,
    Hmac,
}

struct Feed {
    items: Vec<Value>,
    requests: AtomicUsize,
    served: AtomicUsize,
    auth: Auth,
    /// Delay of every good page, so a kill can land mid-feed.
    delay: Duration,
}

/// 28 items: 24 distinct acceptable ones (plain posts, a transfer without moderation, a radio
/// call-in), one the gateway rejects (no moderation), one repeated post.
fn items(tag: &str) -> Vec<Value> {
    let mut items: Vec<Value> = (1..=22)
        .map(|i| post(&format!("{tag}-{i}"), &format!("第{i}条：路灯不亮")))
        .collect();
    items.insert(
        5,
        json!({"id": format!("{tag}-t"), "body": "转办件", "transfer": {"platform": "state_council",
            "original_id": format!("GWY-{tag}"), "deadline": "2026-11-30T16:00:00+08:00", "instructions": "请核查"}}),
    );
    items.insert(
        9,
        json!({"id": format!("{tag}-r"), "kind": "radio", "body": "直播来电", "caller": {"phone": "13943312345"},
            "moderation": {"moderator": "host", "approved_at": "2026-11-24T09:00:00+08:00"},
            "program": {"name": "百姓热线", "segment": "听众来电"}}),
    );
    items.insert(12, json!({"id": format!("{tag}-bad"), "body": "没有审核"}));
    items.insert(15, items[3].clone());
    items
}

async fn serve_feed(
    State(feed): State<Arc<Feed>>,
    OriginalUri(uri): OriginalUri,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let authorized = match feed.auth {
        Auth::Bearer => header("authorization") == format!("Bearer {TOKEN}"),
        Auth::Hmac => {
            let target = format!("{}?{}", uri.path(), query.clone().unwrap_or_default());
            let ts: i64 = header("x-intake-timestamp").parse().unwrap_or(0);
            header("x-intake-signature") == format!("v1={}", sign(TOKEN, ts, target.as_bytes()))
        }
    };
    if !authorized {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let n = feed.requests.fetch_add(1, Ordering::SeqCst);
    match n % 5 {
        1 => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        3 => tokio::time::sleep(Duration::from_secs(3)).await, // past the gateway's timeout
        _ => {}
    }
    let params: BTreeMap<String, String> =
        form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let cursor: usize = params
        .get("after")
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let limit: usize = params
        .get("limit")
        .and_then(|c| c.parse().ok())
        .unwrap_or(PAGE);
    assert_eq!(limit, PAGE, "the gateway asks for page_size");
    tokio::time::sleep(feed.delay).await;
    let end = (cursor + limit).min(feed.items.len());
    let posts = feed.items[cursor.min(end)..end].to_vec();
    // Each full page overlaps the next by one item: the gateway sees duplicates on every page.
    let next = if posts.len() == limit { end - 1 } else { end };
    feed.served.fetch_max(end, Ordering::SeqCst);
    Json(json!({"posts": posts, "next_cursor": next.to_string()})).into_response()
}

async fn start_feed(items: Vec<Value>, auth: Auth, delay: Duration) -> (String, Arc<Feed>) {
    let feed = Arc::new(Feed {
        items,
        requests: AtomicUsize::new(0),
        served: AtomicUsize::new(0),
        auth,
        delay,
    });
    let app = axum::Router::new()
        .route("/feed", axum::routing::get(serve_feed))
        .with_state(feed.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/feed", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, feed)
}

/// Distinct request ids on the topic and how often each appears.
fn counts(records: &[Consumed]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for r in records {
        assert_valid_request(&r.value);
        *counts
            .entry(r.value["request_id"].as_str().unwrap().to_string())
            .or_insert(0) += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flaky_paging_feed_lands_every_item_once_and_dead_letters_the_rejected_one() {
    let (url, feed) = start_feed(items("pa"), Auth::Hmac, Duration::ZERO).await;
    let (mut config, data) = test_config(true).await;
    config.channels.web.partners.insert(
        "feed-a".into(),
        toml::from_str(&format!(
            "[pull]\nurl = \"{url}\"\ninterval = \"200ms\"\ntimeout = \"1s\"\ncursor_param = \"after\"\npage_size = {PAGE}\nauth = {{ hmac = \"{TOKEN}\" }}\n"
        ))
        .unwrap(),
    );
    let app = start(config).await;
    let records = app.consume_requests(24);
    let counts = counts(&records);
    assert_eq!(counts.len(), 24, "every acceptable item");
    assert!(counts.values().all(|n| *n == 1), "none twice: {counts:?}");
    let transfer = records
        .iter()
        .find(|r| r.value["transfer"].is_object())
        .unwrap();
    assert_eq!(transfer.value["source"]["system"], "web:feed-a");
    assert!(transfer.value.get("moderation").is_none());
    let radio = records
        .iter()
        .find(|r| r.value["channel"] == "radio")
        .unwrap();
    assert_eq!(radio.value["citizen"]["contact"], "+8613943312345");
    let letters = app.consume_dead_letters(1);
    assert_eq!(letters.len(), 1);
    assert_valid_dead_letter(&letters[0].value);
    assert!(letters[0].value["reason"]
        .as_str()
        .unwrap()
        .contains("moderation"));
    assert!(
        feed.requests.load(Ordering::SeqCst) > 8,
        "failures were retried"
    );

    // Health: in /metrics and /readyz.
    let deadline = Instant::now() + Duration::from_secs(10);
    let ready = loop {
        let ready: Value = app
            .client
            .get(format!("{}/readyz", app.ops))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if ready["feeds"]["feed-a"]["items_last_page"] == 0 || Instant::now() > deadline {
            break ready;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let health = &ready["feeds"]["feed-a"];
    assert!(health["last_success"].is_i64(), "{ready}");
    assert_eq!(health["items_last_page"], 0, "caught up: {ready}");
    let stats: Value = app
        .client
        .get(format!("{}/ops/api/stats", app.ops))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        stats["feeds"]["feed-a"]["last_success"].is_i64(),
        "the ops page's feed row: {}",
        stats["feeds"]
    );
    let metrics = app.metrics().await;
    for name in [
        "intake_pull_last_success_timestamp_seconds{feed=\"feed-a\"}",
        "intake_pull_lag_seconds{feed=\"feed-a\"}",
        "intake_pull_consecutive_failures{feed=\"feed-a\"}",
        "intake_pull_items_per_page{feed=\"feed-a\"}",
    ] {
        assert!(metrics.contains(name), "{name} missing");
    }

    // A graceful restart resumes from the persisted cursor: nothing is published again.
    let app = {
        let mut app = app;
        app.keep_data(data);
        app.restart().await
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        app.consume_requests(24).len(),
        24,
        "no item twice after a restart"
    );
    app.gateway.unwrap().shutdown().await;
}

struct Process {
    child: Child,
    ops: String,
}

impl Drop for Process {
    /// A failed assertion must not leave a gateway running.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_gateway(data: &std::path::Path, topic: &str, letters: &str, url: &str) -> Process {
    spawn_gateway_on(data, Some((topic, letters)), url)
}

/// A gateway polling the feed at `url`, on Kafka (`kafka`: its topic and dead-letter topic) or,
/// without, on its embedded journal.
fn spawn_gateway_on(data: &std::path::Path, kafka: Option<(&str, &str)>, url: &str) -> Process {
    let (port, ops_port) = (free_port(), free_port());
    let feed = "INTAKE__CHANNELS__WEB__PARTNERS__FEEDK__PULL";
    let mut command = Command::new(env!("CARGO_BIN_EXE_intake-gateway"));
    if let Some((topic, letters)) = kafka {
        command
            .env("INTAKE__KAFKA__BROKERS", &broker().bootstrap)
            .env("INTAKE__KAFKA__TOPIC", topic)
            .env("INTAKE__KAFKA__DEAD_LETTER_TOPIC", letters);
    }
    let child = command
        .env_remove("INTAKE_CONFIG")
        .env("INTAKE__SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("INTAKE__OPS__LISTEN", format!("127.0.0.1:{ops_port}"))
        .env("INTAKE__STORAGE__DATA_DIR", data)
        .env(format!("{feed}__URL"), url)
        .env(format!("{feed}__INTERVAL"), "200ms")
        .env(format!("{feed}__TIMEOUT"), "1s")
        .env(format!("{feed}__CURSOR_PARAM"), "after")
        .env(format!("{feed}__PAGE_SIZE"), PAGE.to_string())
        .env(format!("{feed}__AUTH__BEARER"), TOKEN)
        .env("INTAKE__LOG__LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("gateway binary");
    Process {
        child,
        ops: format!("http://127.0.0.1:{ops_port}"),
    }
}

/// A requests topic and a dead-letter topic of this test's own (`tag` plus a fresh suffix), created.
async fn fresh_topics(tag: &str) -> (String, String) {
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let (topic, letters) = (
        format!("intake.requests.v1.{tag}{suffix}"),
        format!("intake.rejected.v1.{tag}{suffix}"),
    );
    broker().create_topics(&[&topic, &letters], 3).await;
    (topic, letters)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_feed_then_restart_lands_every_item_on_the_topic() {
    let (url, feed) = start_feed(items("pk"), Auth::Bearer, Duration::from_millis(150)).await;
    let data = tempfile::tempdir().unwrap();
    let (topic, letters) = fresh_topics("pull").await;
    let client = reqwest::Client::new();

    let mut gateway = spawn_gateway(data.path(), &topic, &letters, &url);
    assert!(wait_healthy(&client, &gateway.ops, Duration::from_secs(30)).await);
    let deadline = Instant::now() + Duration::from_secs(60);
    while feed.served.load(Ordering::SeqCst) < 12 {
        assert!(Instant::now() < deadline, "the feed was never read");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    gateway.child.kill().unwrap(); // SIGKILL
    gateway.child.wait().unwrap();
    drop(gateway);
    let served_before = feed.served.load(Ordering::SeqCst);
    assert!(
        served_before < 28,
        "killed mid-feed ({served_before} of 28 served)"
    );

    let gateway = spawn_gateway(data.path(), &topic, &letters, &url);
    assert!(wait_healthy(&client, &gateway.ops, Duration::from_secs(30)).await);
    let records = consume(&broker().bootstrap, &topic, 24, Duration::from_secs(60));
    let counts = counts(&records);
    assert_eq!(counts.len(), 24, "every acceptable item on the topic");
    let twice = counts.values().filter(|n| **n > 1).count();
    assert_eq!(twice, 0, "no item published twice: {counts:?}");
    let dead = consume(&broker().bootstrap, &letters, 1, Duration::from_secs(20));
    assert_eq!(dead.len(), 1, "the rejected item dead-lettered once");
    drop(gateway);
}

/// The crash window the in-flight page closes, made to happen on purpose: every item reached the
/// topic, then the dedup file and the cursor are lost (as if the gateway died after the broker's
/// acknowledgements and before its own writes) and the page is marked in flight. The restart
/// reads the topics back, so the re-read feed publishes nothing twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_the_broker_took_before_a_crash_are_not_published_again() {
    let (url, _feed) = start_feed(items("pw"), Auth::Bearer, Duration::ZERO).await;
    let data = tempfile::tempdir().unwrap();
    let (topic, letters) = fresh_topics("pullw").await;
    let client = reqwest::Client::new();

    let gateway = spawn_gateway(data.path(), &topic, &letters, &url);
    assert!(wait_healthy(&client, &gateway.ops, Duration::from_secs(30)).await);
    let records = consume(&broker().bootstrap, &topic, 24, Duration::from_secs(60));
    let dead = consume(&broker().bootstrap, &letters, 1, Duration::from_secs(20));
    assert_eq!((counts(&records).len(), dead.len()), (24, 1));
    let cursor = data.path().join("pull/feedk.cursor");
    read_to_the_end(&cursor).await;
    drop(gateway);

    // The ids the broker holds, forgotten by the gateway, and marked in flight.
    let mut page = format!("{}\n", chrono::Utc::now().timestamp_millis() - 5_000);
    for r in &records {
        page.push_str(r.value["request_id"].as_str().unwrap());
        page.push('\n');
    }
    page.push_str(&dead[0].headers["dead_letter_id"]);
    page.push('\n');
    std::fs::remove_dir_all(data.path().join("dedup")).unwrap();
    std::fs::remove_file(data.path().join("pull/feedk.cursor")).unwrap();
    std::fs::write(data.path().join("pull/feedk.inflight"), page).unwrap();

    let gateway = spawn_gateway(data.path(), &topic, &letters, &url);
    assert!(wait_healthy(&client, &gateway.ops, Duration::from_secs(30)).await);
    read_to_the_end(&cursor).await;
    let records = consume(&broker().bootstrap, &topic, 25, Duration::from_secs(5));
    let twice: Vec<_> = counts(&records)
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .collect();
    assert!(
        twice.is_empty(),
        "published again after the read-back: {twice:?}"
    );
    assert_eq!(records.len(), 24);
    let dead = consume(&broker().bootstrap, &letters, 2, Duration::from_secs(3));
    assert_eq!(dead.len(), 1, "the rejected item dead-lettered once");
    assert!(
        !data.path().join("pull/feedk.inflight").exists(),
        "the mark is cleared"
    );
    drop(gateway);
}

/// Waits until the feed was read to its end: the cursor file holds the number of items (the last
/// page's next cursor).
async fn read_to_the_end(cursor: &std::path::Path) {
    let end = items("").len().to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_to_string(cursor).ok().as_deref() != Some(end.as_str()) {
        assert!(
            Instant::now() < deadline,
            "the feed was never read to its end: cursor {:?}",
            std::fs::read_to_string(cursor)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The same window on the embedded journal: the journal's recent segments are read back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_journal_items_written_before_a_crash_are_not_written_again() {
    let (url, _feed) = start_feed(items("pj"), Auth::Bearer, Duration::ZERO).await;
    let data = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let journal = data.path().join("journal");
    // Request ids and dead-letter ids in the journal, and how often each appears.
    let journal_ids = |header: &str| {
        let mut ids = BTreeMap::new();
        for entry in intake_gateway::local_log::read_all(&journal)
            .unwrap()
            .entries
        {
            if let Some(id) = entry.headers.get(header) {
                *ids.entry(id.clone()).or_insert(0usize) += 1;
            }
        }
        ids
    };

    let gateway = spawn_gateway_on(data.path(), None, &url);
    assert!(wait_healthy(&client, &gateway.ops, Duration::from_secs(30)).await);
    let cursor = data.path().join("pull/feedk.cursor");
    read_to_the_end(&cursor).await;
    drop(gateway);
    let (requests, dead) = (journal_ids("request_id"), journal_ids("dead_letter_id"));
    assert_eq!((requests.len(), dead.len()), (24, 1));

    let mut page = format!("{}\n", chrono::Utc::now().timestamp_millis() - 5_000);
    for id in requests.keys().chain(dead.keys()) {
        page.push_str(id);
        page.push('\n');
    }
    std::fs::remove_dir_all(data.path().join("dedup")).unwrap();
    std::fs::remove_file(&cursor).unwrap();
    std::fs::write(data.path().join("pull/feedk.inflight"), page).unwrap();

    let gateway = spawn_gateway_on(data.path(), None, &url);
    assert!(wait_healthy(&client, &gateway.ops, Duration::from_secs(30)).await);
    read_to_the_end(&cursor).await;
    drop(gateway);
    let twice: Vec<_> = journal_ids("request_id")
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .collect();
    assert!(
        twice.is_empty(),
        "written again after the read-back: {twice:?}"
    );
    assert_eq!(journal_ids("dead_letter_id").values().sum::<usize>(), 1);
    assert!(
        !data.path().join("pull/feedk.inflight").exists(),
        "the mark is cleared"
    );
}
