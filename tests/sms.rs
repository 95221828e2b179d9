//! The SMS channel end to end: every provider kind through HTTP to the real broker.

mod support;

use serde_json::Value;
use std::time::Duration;
use support::*;

async fn send(
    app: &TestApp,
    provider: &str,
    method: &str,
    query: &str,
    content_type: &str,
    body: &str,
) -> reqwest::Response {
    let url = format!("{}/hooks/sms/{provider}?{query}", app.base);
    let request = if method == "GET" {
        app.client.get(url)
    } else {
        app.client
            .post(url)
            .header("content-type", content_type)
            .body(body.to_string())
    };
    request.send().await.unwrap()
}

fn token() -> String {
    format!("token={SMS_TOKEN}")
}

fn generic(id: &str, text: &str) -> (String, i64, String) {
    let body = serde_json::json!({"message_id": id, "from": "13812345678", "to": "12345", "text": text, "received_at": "2026-11-24T08:00:00Z"}).to_string();
    let ts = now();
    let sig = sign(SMS_TOKEN, ts, body.as_bytes());
    (body, ts, sig)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_provider_kind_lands_on_kafka_schema_valid() {
    let app = spawn_app(true).await;
    let aliyun = r#"[{"phone_number":"13812345678","content":"公园路的路灯坏了。","send_time":"2026-11-24 15:59:30","dest_code":"1069012345","sequence_id":4001}]"#;
    let r = send(&app, "aliyun", "POST", &token(), "application/json", aliyun).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        serde_json::json!({"code": 0, "msg": "接收成功"})
    );
    let tencent = r#"{"extend":"2328","mobile":"13987654321","nationcode":"86","sign":"延吉12345","text":"下水道堵了。","time":1795507200}"#;
    let r = send(
        &app,
        "tencent",
        "POST",
        &token(),
        "application/json",
        tencent,
    )
    .await;
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        serde_json::json!({"result": 0, "errmsg": "OK"})
    );
    let (form, signature) = twilio_form("SM0001", "路面塌陷");
    let r = app.post_twilio(form, &signature).await;
    assert_eq!(r.status(), 200);
    let twiml = r.text().await.unwrap();
    assert!(
        twiml.contains("<Message>") && twiml.contains("受理编号"),
        "receipt in TwiML: {twiml}"
    );
    // Kannel, UCS-2: "供暖" as UTF-16BE bytes, percent-encoded.
    let r = send(&app, "kannel", "GET", &format!("{}&from=13812345678&to=12345&text=%4F%9B%66%96&coding=2&charset=UTF-16BE&time=1795507200&id=k-1", token()), "", "").await;
    assert_eq!(r.status(), 200);
    // Jasmin, GBK (CMPP Msg_Fmt 15): "供暖温度太低".
    let jasmin = "id=j-1&from=8613812345678&to=1069012328&origin-connector=cmpp&priority=0&coding=15&validity=none&content=x&binary=b9a9c5afcec2b6c8ccabb5cd";
    let r = send(
        &app,
        "jasmin",
        "POST",
        &token(),
        "application/x-www-form-urlencoded",
        jasmin,
    )
    .await;
    assert_eq!(r.text().await.unwrap(), "ACK/Jasmin");
    let (body, ts, sig) = generic("g-1", "噪音扰民");
    let r = app
        .client
        .post(format!("{}/hooks/sms/generic", app.base))
        .header("content-type", "application/json")
        .header("x-intake-timestamp", ts.to_string())
        .header("x-intake-signature", format!("v1={sig}"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "accepted");

    let records = app.consume_requests(6);
    assert_eq!(records.len(), 6);
    let mut texts = Vec::new();
    for r in &records {
        assert_valid_request(&r.value);
        assert_eq!(r.value["channel"], "sms");
        assert_eq!(r.value["citizen"]["contact_kind"], "phone");
        texts.push(r.value["content"]["text"].as_str().unwrap().to_string());
    }
    for expected in [
        "公园路的路灯坏了。",
        "下水道堵了。",
        "路面塌陷",
        "供暖",
        "供暖温度太低",
        "噪音扰民",
    ] {
        assert!(
            texts.iter().any(|t| t == expected),
            "{expected} missing from {texts:?}"
        );
    }
    let jasmin = records
        .iter()
        .find(|r| r.value["source"]["system"] == "sms:jasmin")
        .unwrap();
    assert_eq!(
        jasmin.value["source"]["line"], "12328",
        "line from the service number"
    );
    assert_eq!(jasmin.value["citizen"]["contact"], "+8613812345678");
    app.gateway.unwrap().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_retry_is_one_record_and_bad_credentials_are_401() {
    let app = spawn_app(true).await;
    let batch = r#"[{"phone_number":"13812345678","content":"重复推送","send_time":"2026-11-24 15:59:30","dest_code":"","sequence_id":"5001"}]"#;
    for _ in 0..3 {
        assert_eq!(
            send(&app, "aliyun", "POST", &token(), "application/json", batch)
                .await
                .status(),
            200
        );
    }
    assert_eq!(
        send(
            &app,
            "aliyun",
            "POST",
            "token=guess",
            "application/json",
            batch
        )
        .await
        .status(),
        401
    );
    assert_eq!(
        send(&app, "aliyun", "POST", "", "application/json", batch)
            .await
            .status(),
        401
    );
    let (form, _) = twilio_form("SM0002", "伪造");
    let forged = app.post_twilio(form, "AAAAAAAAAAAAAAAAAAAAAAAAAAA=").await;
    assert_eq!(forged.status(), 401);
    assert_eq!(
        send(
            &app,
            "unconfigured",
            "GET",
            "token=x&from=1&to=2&text=a",
            "",
            ""
        )
        .await
        .status(),
        404,
        "no secret, no channel"
    );
    assert_eq!(send(&app, "nobody", "GET", "", "", "").await.status(), 404);
    assert_eq!(
        app.consume_requests(1).len(),
        1,
        "three deliveries, one record"
    );
    app.gateway.unwrap().shutdown().await;
}

/// The two halves of "请尽快修理" + "路灯，谢谢" (UTF-16BE), each with its UDH, as Kannel sends them.
fn kannel_part(seq: u8, id: &str) -> String {
    let (text, udh) = match seq {
        1 => ("%8B%F7%5C%3D%5F%EB%4F%EE%74%06", "%05%00%03%2A%02%01"),
        _ => ("%8D%EF%70%6F%FF%0C%8C%22%8C%22", "%05%00%03%2A%02%02"),
    };
    format!("token={SMS_TOKEN}&from=13812345678&to=1069012345&text={text}&coding=2&charset=UTF-16BE&udh={udh}&time=1795507200&id={id}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_sms_in_reverse_order_survives_a_restart_and_is_published_once() {
    let app = spawn_app(true).await;
    assert_eq!(
        send(&app, "kannel", "GET", &kannel_part(2, "p-2"), "", "")
            .await
            .status(),
        200
    );
    // Each part is acknowledged once durable; the gateway restarts between the two parts.
    let app = app.restart().await;
    assert_eq!(
        send(&app, "kannel", "GET", &kannel_part(1, "p-1"), "", "")
            .await
            .status(),
        200
    );
    let records = app.consume_requests(1);
    assert_eq!(records.len(), 1);
    assert_valid_request(&records[0].value);
    assert_eq!(records[0].value["content"]["text"], "请尽快修理路灯，谢谢");
    // Kannel re-sends a part after the message was published: acknowledged, nothing new.
    assert_eq!(
        send(&app, "kannel", "GET", &kannel_part(2, "p-2"), "", "")
            .await
            .status(),
        200
    );
    assert_eq!(app.consume_requests(1).len(), 1);
    app.gateway.unwrap().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_sms_missing_a_part_is_published_incomplete_after_the_timeout() {
    let (mut config, _data) = test_config(true).await;
    config.channels.sms.reassembly_timeout = Duration::from_millis(800);
    let app = start(config).await;
    assert_eq!(
        send(&app, "kannel", "GET", &kannel_part(1, "q-1"), "", "")
            .await
            .status(),
        200
    );
    let records = app.consume_requests(1);
    assert_eq!(records.len(), 1, "published rather than lost");
    assert_valid_request(&records[0].value);
    let text = records[0].value["content"]["text"].as_str().unwrap();
    assert!(
        text.starts_with("请尽快修理") && text.contains(intake_sms::INCOMPLETE_MARKER),
        "{text}"
    );
    app.gateway.unwrap().shutdown().await;
}
