//! The media partner's web-board push, end to end: HTTP in, schema-valid records on a real broker.

mod support;

use serde_json::{json, Value};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_batch_lands_on_kafka_as_schema_valid_records() {
    let app = spawn_app(true).await;
    let mut radio = post("r-1", "가로등이 꺼졌어요 路灯坏了");
    radio["kind"] = json!("radio");
    radio["program"] = json!({"name": "百姓热线", "aired_at": "2026-11-24T09:00:00+08:00"});
    radio["author"] = json!({"account": "listener-9"});
    let response = app
        .post_web(&batch(&[post("w-1", "公园路的路灯坏了一周。"), radio]))
        .await;
    assert_eq!(response.status(), 200);
    let reply: Value = response.json().await.unwrap();
    let results = reply["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert!(
        results
            .iter()
            .all(|r| r["status"] == "accepted" && r["error"].is_null()),
        "{reply}"
    );

    let records = app.consume_requests(2);
    assert_eq!(records.len(), 2, "exactly one record per post");
    for record in &records {
        assert_valid_request(&record.value);
        let id = record.value["request_id"].as_str().unwrap();
        let result = results
            .iter()
            .find(|r| r["request_id"] == id)
            .expect("record matches a reply");
        assert_eq!(record.value["tracking_no"], result["tracking_no"]);
        assert_eq!(record.headers["request_id"], id);
        assert_eq!(record.headers["schema"], "intake-request/1");
        assert_eq!(record.headers["channel"], record.value["channel"]);
        assert_eq!(record.value["source"]["system"], "web:baixing");
    }
    let web = records
        .iter()
        .find(|r| r.value["channel"] == "web")
        .unwrap();
    assert_eq!(web.key, "+8613812345678", "key = citizen contact");
    assert_eq!(web.value["citizen"]["contact_kind"], "phone");
    assert_eq!(web.value["content"]["language"], "zh");
    let radio = records
        .iter()
        .find(|r| r.value["channel"] == "radio")
        .unwrap();
    assert_eq!(radio.value["content"]["language"], "mixed");
    assert_eq!(
        radio.value["citizen"],
        json!({"contact_kind": "web_account", "contact": "listener-9"})
    );
    assert_eq!(radio.value["moderation"]["program"]["name"], "百姓热线");
    app.gateway.unwrap().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_batch_is_answered_alike_and_published_once() {
    let app = spawn_app(true).await;
    let body = batch(&[post("d-1", "垃圾清运不及时"), post("d-2", "噪音扰民")]);
    let first: Value = app.post_web(&body).await.json().await.unwrap();
    let second: Value = app.post_web(&body).await.json().await.unwrap();
    for (a, b) in first["results"]
        .as_array()
        .unwrap()
        .iter()
        .zip(second["results"].as_array().unwrap())
    {
        assert_eq!(a["status"], "accepted");
        assert_eq!(b["status"], "duplicate");
        assert_eq!(a["request_id"], b["request_id"]);
        assert_eq!(a["tracking_no"], b["tracking_no"]);
    }
    // A storm of concurrent re-deliveries of a new post: one record, one set of ids.
    let storm = batch(&[post("d-3", "停水了")]);
    let replies = futures_util::future::join_all((0..8).map(|_| app.post_web(&storm))).await;
    let mut ids = std::collections::BTreeSet::new();
    let mut accepted = 0;
    for r in replies {
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        ids.insert(v["results"][0]["tracking_no"].as_str().unwrap().to_string());
        accepted += usize::from(v["results"][0]["status"] == "accepted");
    }
    assert_eq!((ids.len(), accepted), (1, 1));
    let records = app.consume_requests(3);
    assert_eq!(records.len(), 3, "d-1, d-2 and d-3 once each");
    app.gateway.unwrap().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dedup_survives_a_restart() {
    let app = spawn_app(true).await;
    let body = batch(&[post("restart-1", "路面塌陷")]);
    let first: Value = app.post_web(&body).await.json().await.unwrap();
    assert_eq!(first["results"][0]["status"], "accepted");
    let app = app.restart().await;
    let again: Value = app.post_web(&body).await.json().await.unwrap();
    assert_eq!(again["results"][0]["status"], "duplicate");
    assert_eq!(
        again["results"][0]["tracking_no"],
        first["results"][0]["tracking_no"]
    );
    assert_eq!(app.consume_requests(1).len(), 1);
    app.gateway.unwrap().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_bad_post_is_rejected_alone() {
    let app = spawn_app(true).await;
    let mut unmoderated = post("bad-1", "未审核");
    unmoderated.as_object_mut().unwrap().remove("moderation");
    let reply: Value = app
        .post_web(&batch(&[
            post("good-1", "好"),
            unmoderated,
            post("good-2", "也好"),
        ]))
        .await
        .json()
        .await
        .unwrap();
    let statuses: Vec<&str> = reply["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["accepted", "rejected", "accepted"]);
    assert!(reply["results"][1]["error"]
        .as_str()
        .unwrap()
        .contains("moderation"));
    assert_eq!(reply["results"][1]["id"], "bad-1");
    assert_eq!(app.consume_requests(2).len(), 2);
    app.gateway.unwrap().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_clear_4xx() {
    let app = spawn_app(true).await;
    let body = batch(&[post("x-1", "测试")]);
    let cases: Vec<(&str, reqwest::Response, u16, &str)> = vec![
        (
            "forged signature",
            app.post_web_signed(PARTNER, "wrong-secret", now(), &body)
                .await,
            401,
            "unauthorized",
        ),
        (
            "stale timestamp",
            app.post_web_signed(PARTNER, SECRET, now() - 301, &body)
                .await,
            401,
            "stale",
        ),
        (
            "future timestamp",
            app.post_web_signed(PARTNER, SECRET, now() + 3600, &body)
                .await,
            401,
            "stale",
        ),
        (
            "malformed JSON",
            app.post_web("{\"posts\": [").await,
            400,
            "malformed",
        ),
        (
            "no posts",
            app.post_web("{\"posts\": []}").await,
            400,
            "malformed",
        ),
        (
            "unknown partner",
            app.post_web_signed("nobody", SECRET, now(), &body).await,
            404,
            "unknown_source",
        ),
        (
            "partner without secret",
            app.post_web_signed("no-secret-yet", "", now(), &body).await,
            404,
            "unknown_source",
        ),
    ];
    for (what, response, status, code) in cases {
        assert_eq!(response.status().as_u16(), status, "{what}");
        let v: Value = response
            .json()
            .await
            .unwrap_or_else(|_| panic!("{what}: JSON error body"));
        assert_eq!(v["error"], code, "{what}: {v}");
        assert!(
            !v["reason"].as_str().unwrap_or("").is_empty(),
            "{what}: a reason"
        );
    }
    let ts = now();
    let wrong_type = app
        .client
        .post(format!("{}/hooks/web/{PARTNER}", app.base))
        .header("content-type", "text/plain")
        .header("x-intake-timestamp", ts.to_string())
        .header(
            "x-intake-signature",
            format!("v1={}", sign(SECRET, ts, body.as_bytes())),
        )
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_type.status(), 415);
    let huge = post_oversized(
        &app.base,
        &format!("/hooks/web/{PARTNER}"),
        "application/json",
        10 * 1024 * 1024,
        300 * 1024,
    )
    .await;
    assert_eq!(huge, 413, "a 10 MB body");
    let nested = format!("{{\"posts\":{}{}}}", "[".repeat(5000), "]".repeat(5000));
    assert_eq!(app.post_web(&nested).await.status(), 400);
    let invalid_utf8 = app
        .client
        .post(format!("{}/hooks/web/{PARTNER}", app.base))
        .header("content-type", "application/json")
        .header("x-intake-timestamp", ts.to_string())
        .header(
            "x-intake-signature",
            format!("v1={}", sign(SECRET, ts, b"{\"posts\":[\"\xff\xfe\"]}")),
        )
        .body(&b"{\"posts\":[\"\xff\xfe\"]}"[..])
        .send()
        .await
        .unwrap();
    assert_eq!(invalid_utf8.status(), 400);
    assert_eq!(
        invalid_utf8.json::<Value>().await.unwrap()["error"],
        "encoding"
    );
    // None of that reached the topic, and the gateway still serves.
    assert_eq!(app.post_web(&body).await.status(), 200);
    assert_eq!(app.consume_requests(1).len(), 1);
    app.gateway.unwrap().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unconfirmed_request_gets_503_and_its_retry_is_not_swallowed() {
    let (mut config, _data) = test_config(false).await;
    // Nothing listens on port 1: the broker never acknowledges, and the spool has no room.
    config.kafka.brokers = intake_gateway::config::Brokers::Joined("127.0.0.1:1".into());
    config.kafka.delivery_timeout = std::time::Duration::from_millis(800);
    config.kafka.message_timeout = std::time::Duration::from_millis(1500);
    config.spool.max_bytes = 0;
    let app = start(config).await;
    let body = batch(&[post("u-1", "测试")]);
    for attempt in 0..2 {
        let response = app.post_web(&body).await;
        assert_eq!(response.status(), 503, "attempt {attempt}");
        assert!(response.headers().contains_key("retry-after"));
        let v: Value = response.json().await.unwrap();
        assert_eq!(v["error"], "not_durable");
        // Let librdkafka give up on the message, so the id is released, not "seen".
        tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    }
    let ready = app
        .client
        .get(format!("{}/readyz", app.ops))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    app.gateway.unwrap().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ops_endpoints_report_health_readiness_and_metrics() {
    let app = spawn_app(true).await;
    assert_eq!(
        app.client
            .get(format!("{}/healthz", app.ops))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let r = app
            .client
            .get(format!("{}/readyz", app.ops))
            .send()
            .await
            .unwrap();
        if r.status() == 200 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never ready with a live broker"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    app.post_web(&batch(&[post("m-1", "测试")])).await;
    let metrics = app
        .client
        .get(format!("{}/metrics", app.ops))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "intake_requests_total",
        "intake_request_duration_seconds_bucket",
        "intake_sink_delivery_seconds",
        "intake_build_info",
    ] {
        assert!(metrics.contains(name), "{name} missing from /metrics");
    }
    app.gateway.unwrap().shutdown().await;
}
