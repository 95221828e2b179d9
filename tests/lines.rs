//! Lines, desks and urgent requests end to end: the golden cases of `tests/fixtures/lines/`
//! posted through HTTP to a gateway running the example configuration's lines, read back from
//! the broker (requests topic and urgent topic), checked against the JSON Schema and the
//! expected routing.

mod support;

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use support::*;

fn cases() -> Vec<Value> {
    let text = std::fs::read_to_string(repo().join("tests/fixtures/lines/cases.json")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    doc["cases"].as_array().unwrap().clone()
}

/// Posts one case; returns the reply body.
async fn post_case(app: &TestApp, case: &Value) -> String {
    let id = case["id"].as_str().unwrap();
    let to = case["to"].as_str().unwrap_or("");
    let text = case["text"].as_str().unwrap_or("");
    let response = match case["hook"].as_str().unwrap() {
        "cti" => {
            let mut body = json!({"event": "hangup", "callId": id, "from": "13987654321", "to": to, "direction": "in", "cause": "cancel"});
            if let Some(ivr) = case.get("ivr") {
                body["ivr"] = ivr.clone();
            }
            app.client
                .post(format!("{}/hooks/call/cti?token={CALL_SECRET}", app.base))
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await
        }
        "kamailio" => {
            let body = json!({"event": "end", "call_id": id, "from_user": "13987654321", "ruri_user": to, "to_user": to,
                "pai": "", "diversion": "", "history_info": "", "p_called_party_id": "", "timestamp": now(),
                "ivr": case["ivr"]});
            app.client
                .post(format!("{}/hooks/call/sbc", app.base))
                .basic_auth("kam", Some(CALL_SECRET))
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await
        }
        "sms" => {
            let body = json!({"message_id": id, "from": "13812345678", "to": to, "text": text, "received_at": "2026-11-24T08:00:00Z"}).to_string();
            let ts = now();
            let sig = sign(SMS_TOKEN, ts, body.as_bytes());
            app.client
                .post(format!("{}/hooks/sms/generic", app.base))
                .header("content-type", "application/json")
                .header("x-intake-timestamp", ts.to_string())
                .header("x-intake-signature", format!("v1={sig}"))
                .body(body)
                .send()
                .await
        }
        "wechat" => {
            let body = wechat_text(
                WECHAT_GH,
                "oLinesTestOpenid000000000001",
                id.parse().unwrap(),
                text,
            );
            let query = wechat_query(WECHAT_TOKEN, now(), "nonce1");
            return app
                .post_wechat("plain", &query, body)
                .await
                .text()
                .await
                .unwrap();
        }
        "web" => {
            let mut p = post(id, text);
            p["category"] = case["category"].clone();
            p["confidential"] = case["confidential"].clone();
            return app.post_web(&batch(&[p])).await.text().await.unwrap();
        }
        other => panic!("unknown hook {other}"),
    };
    let response = response.expect("sent");
    assert_eq!(response.status(), 200, "{}", case["name"]);
    response.text().await.unwrap()
}

fn observed(record: &Value) -> Value {
    json!({
        "line": record["source"]["line"],
        "routing": record["routing"],
        "language": record["content"]["language"],
        "confidential": record["citizen"].get("confidential").cloned().unwrap_or(json!(false)),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn golden_cases_carry_their_routing_and_urgent_ones_are_on_both_topics() {
    let app = lines_app().await;
    let cases = cases();
    let mut replies = BTreeMap::new();
    for case in &cases {
        let reply = post_case(&app, case).await;
        replies.insert(case["name"].as_str().unwrap().to_string(), reply);
    }
    let records = app.consume_requests(cases.len());
    assert_eq!(records.len(), cases.len(), "one record per case");
    let mut got = serde_json::Map::new();
    for case in &cases {
        let id = case["id"].as_str().unwrap();
        let name = case["name"].as_str().unwrap();
        let record = records
            .iter()
            .find(|r| {
                r.value["source"]["message_id"]
                    .as_str()
                    .is_some_and(|m| m == id || m.ends_with(&format!("/{id}")))
            })
            .unwrap_or_else(|| panic!("{name}: no record"));
        assert_valid_request(&record.value);
        let urgent = case["urgent"].as_bool().unwrap_or(false);
        assert_eq!(
            record.headers.get("priority").map(String::as_str),
            Some(if urgent { "urgent" } else { "normal" }),
            "{name}: priority header"
        );
        got.insert(name.to_string(), observed(&record.value));
    }
    let path = repo().join("tests/fixtures/lines/expected.json");
    let got = Value::Object(got);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, serde_json::to_string_pretty(&got).unwrap() + "\n").unwrap();
    }
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("run with UPDATE_GOLDEN=1"))
            .unwrap();
    for (name, want) in expected.as_object().unwrap() {
        assert_eq!(&got[name], want, "{name}");
    }
    assert_eq!(
        got.as_object().unwrap().len(),
        expected.as_object().unwrap().len()
    );

    // The urgent topic holds exactly the urgent ones, with the header.
    let urgent: Vec<&Value> = cases.iter().filter(|c| c["urgent"] == true).collect();
    let copies = consume(
        &broker().bootstrap,
        &app.config.kafka.urgent_topic,
        urgent.len(),
        Duration::from_secs(20),
    );
    assert_eq!(copies.len(), urgent.len(), "urgent topic: {copies:?}");
    for copy in &copies {
        assert_eq!(copy.headers["priority"], "urgent");
        assert_eq!(copy.value["routing"]["priority"], "urgent");
        assert_valid_request(&copy.value);
    }
    // The citizen is told to call 110/119/120, in their language.
    assert!(replies["wechat_urgent_fire"].contains("如遇紧急危险请立即拨打110/119/120"));
    assert!(replies["wechat_urgent_korean"].contains("110/119/120에 전화하십시오"));
    assert!(!replies["wechat_ordinary_street_light"].contains("110"));
    let sms: Value = serde_json::from_str(&replies["sms_urgent_korean"]).unwrap();
    assert!(sms["advice"].as_str().unwrap().contains("110/119/120에"));
    let sms: Value = serde_json::from_str(&replies["sms_arrears_number"]).unwrap();
    assert!(sms.get("advice").is_none());
    let sms: Value = serde_json::from_str(&replies["sms_urgent_child"]).unwrap();
    assert!(sms["advice"].as_str().unwrap().contains("如遇紧急危险"));
    for name in ["wechat_urgent_violence", "wechat_urgent_disaster"] {
        assert!(
            replies[name].contains("如遇紧急危险请立即拨打110/119/120"),
            "{name}"
        );
    }
    assert!(replies["wechat_urgent_accident_korean"].contains("110/119/120에 전화하십시오"));
    // Near misses of the urgent words (a radiator leaking air, noise "intensity") stay ordinary.
    for name in [
        "wechat_ordinary_radiator_leak",
        "wechat_ordinary_noise_intensity_korean",
    ] {
        assert!(!replies[name].contains("110"), "{name}");
    }

    // Per line: counted, labelled, and never a number or a text on the ops API.
    let lines = app.ops_json("/ops/api/lines").await;
    let row = |id: &str| {
        lines["lines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["id"] == id)
            .cloned()
            .unwrap()
    };
    assert_eq!(row("12343")["today"]["by_channel"]["phone"], 2);
    assert_eq!(row("hunchun_arrears")["today"]["by_channel"]["sms"], 1);
    assert_eq!(row("hunchun_arrears")["today"]["by_channel"]["phone"], 1);
    assert_eq!(row("other")["today"]["by_channel"]["wechat"], 15);
    assert_eq!(row("12345")["today"]["by_channel"]["sms"], 2);
    assert_eq!(lines["urgent_last_hour"], 7);
    let text = lines.to_string();
    for secret in [
        "13987654321",
        "13812345678",
        "oLinesTestOpenid",
        "着火",
        "持刀",
        "刁难企业",
        "张女士",
    ] {
        assert!(!text.contains(secret), "{secret} on /ops/api/lines");
    }
    let metrics = app.metrics().await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("intake_requests_total")
                && l.contains("line=\"hunchun_arrears\"")
                && l.contains("channel=\"sms\"")),
        "line label"
    );
    assert!(metrics
        .lines()
        .any(|l| l.starts_with("intake_urgent_total") && l.contains("channel=\"wechat\"")));

    // Counts survive a restart.
    let app = app.restart().await;
    let again = app.ops_json("/ops/api/lines").await;
    assert_eq!(
        again["lines"], lines["lines"],
        "per-line counts after a restart"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_journal_mode_an_urgent_request_is_written_twice_before_its_2xx() {
    let app = spawn_app(false).await;
    let body = wechat_text(
        WECHAT_GH,
        "oLinesJournal00000000000001",
        7200000000000000001,
        "煤气泄漏了，味道很大",
    );
    let reply = app
        .post_wechat("plain", &wechat_query(WECHAT_TOKEN, now(), "n"), body)
        .await
        .text()
        .await
        .unwrap();
    assert!(reply.contains("110/119/120"));
    let entries = app.journal();
    let topics: Vec<&str> = entries.iter().map(|e| e.topic.as_str()).collect();
    assert_eq!(
        topics,
        [
            app.config.kafka.topic.as_str(),
            app.config.kafka.urgent_topic.as_str()
        ]
    );
    assert!(entries.iter().all(|e| e.headers["priority"] == "urgent"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urgent_requests_spooled_during_an_outage_reach_both_topics_once() {
    let mut broker = support::broker::DedicatedBroker::reserve();
    let (mut config, data) = test_config(false).await;
    config.kafka.brokers = intake_gateway::config::Brokers::Joined(broker.bootstrap.clone());
    config.kafka.delivery_timeout = Duration::from_secs(5);
    config.kafka.message_timeout = Duration::from_secs(60);
    config.spool.after = Duration::from_millis(300);
    let mut app = start(config.clone()).await;
    app.keep_data(data);
    let texts = ["楼下着火了，浓烟很大", "집에서 가스 냄새가 심해요"];
    for (i, text) in texts.iter().enumerate() {
        let body = wechat_text(
            WECHAT_GH,
            "oLinesOutage0000000000000001",
            7400000000000000001 + i as u64,
            text,
        );
        let reply = app
            .post_wechat(
                "plain",
                &wechat_query(WECHAT_TOKEN, now(), &format!("o{i}")),
                body,
            )
            .await;
        assert_eq!(
            reply.status(),
            200,
            "the spool acknowledges while Kafka is away"
        );
        assert!(reply.text().await.unwrap().contains("110/119/120"));
    }
    broker.start();
    let k = &config.kafka;
    broker
        .create_topics(
            &[
                &k.topic,
                &k.events_topic,
                &k.dead_letter_topic,
                &k.urgent_topic,
            ],
            3,
        )
        .await;
    let requests = consume(&broker.bootstrap, &k.topic, 2, Duration::from_secs(60));
    let copies = consume(
        &broker.bootstrap,
        &k.urgent_topic,
        2,
        Duration::from_secs(30),
    );
    assert_eq!(requests.len(), 2, "requests topic: {requests:?}");
    assert_eq!(copies.len(), 2, "urgent topic: {copies:?}");
    for copy in &copies {
        assert_eq!(copy.headers["priority"], "urgent");
        assert!(requests
            .iter()
            .any(|r| r.value["request_id"] == copy.value["request_id"]));
    }
    app.gateway.take().unwrap().shutdown().await;
}
