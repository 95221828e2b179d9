//! SMS receipts through a provider's send endpoint: sent after the record is durable, retried,
//! never in the way of the inbound acknowledgement. The provider is a fake on 127.0.0.1.

mod support;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use intake_gateway::config::Secret;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::*;
use tokio::sync::Semaphore;

/// One request the fake provider received.
#[derive(Clone, Debug)]
struct Seen {
    uri: String,
    authorization: String,
    body: String,
}

/// Answers 500 twice, then 200; the first answer waits for `gate`, so that the test can show the
/// inbound acknowledgement does not wait for the receipt.
#[derive(Clone)]
struct FakeProvider {
    seen: Arc<Mutex<Vec<Seen>>>,
    gate: Arc<Semaphore>,
}

async fn fake_send(
    State(fake): State<FakeProvider>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let n = {
        let mut seen = fake.seen.lock().unwrap();
        seen.push(Seen {
            uri: uri.to_string(),
            authorization: headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string(),
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        seen.len()
    };
    if n == 1 {
        let _ = fake.gate.acquire().await;
    }
    if n <= 2 {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}

async fn spawn_fake() -> (FakeProvider, String) {
    let fake = FakeProvider {
        seen: Arc::default(),
        gate: Arc::new(Semaphore::new(0)),
    };
    let app = axum::Router::new()
        .route("/sms/send", axum::routing::post(fake_send))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (fake, format!("http://{addr}"))
}

/// The aliyun provider of the test config, sending receipts to `base`.
fn with_receipts(config: &mut intake_gateway::Config, base: &str) {
    provider_with_receipts(config, "aliyun", base);
}

/// `provider` of the test config, sending receipts to `base`.
fn provider_with_receipts(config: &mut intake_gateway::Config, provider: &str, base: &str) {
    let c = config
        .channels
        .sms
        .providers
        .get_mut(provider)
        .expect("provider configured");
    c.receipt = true;
    c.receipt_url = Some(Secret::from(
        format!("{base}/sms/send?to={{to}}&no={{tracking_no}}").as_str(),
    ));
    c.receipt_method = serde_json::from_str("\"POST\"").unwrap();
    c.receipt_body = Some(r#"{"phone":"{to_national}","text":"{text}"}"#.into());
    c.receipt_headers
        .insert("Authorization".into(), Secret::from("Bearer internal-sms"));
    c.receipt_retry_base = Duration::from_millis(200);
}

async fn post_aliyun(app: &TestApp, sequence_id: u64) -> (reqwest::StatusCode, Duration) {
    let body = format!(
        r#"[{{"phone_number":"13812345678","content":"公园路的路灯坏了。","send_time":"2026-11-24 15:59:30","dest_code":"1069012345","sequence_id":{sequence_id}}}]"#
    );
    let started = Instant::now();
    let r = app
        .client
        .post(format!("{}/hooks/sms/aliyun?token={SMS_TOKEN}", app.base))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        serde_json::json!({"code": 0, "msg": "接收成功"})
    );
    (status, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipt_is_retried_until_sent_and_not_resent_for_a_duplicate() {
    let (fake, base) = spawn_fake().await;
    let (mut config, data) = test_config(true).await;
    with_receipts(&mut config, &base);
    let mut app = start(config).await;

    let (status, _) = post_aliyun(&app, 7001).await;
    // Answered while the fake provider still holds the receipt's first attempt (or before it
    // even arrived): the acknowledgement does not wait for the receipt.
    assert_eq!(status, 200);
    assert!(fake.seen.lock().unwrap().len() <= 1);
    fake.gate.add_permits(1);

    let records = app.consume_requests(1);
    assert_eq!(records.len(), 1);
    let tracking_no = records[0].value["tracking_no"]
        .as_str()
        .unwrap()
        .to_string();

    let deadline = Instant::now() + Duration::from_secs(20);
    while fake.seen.lock().unwrap().len() < 3 {
        assert!(Instant::now() < deadline, "three attempts within 20 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let last = fake.seen.lock().unwrap().last().cloned().unwrap();
    assert!(
        last.uri.contains("to=%2B8613812345678"),
        "E.164, encoded: {last:?}"
    );
    assert!(last.uri.contains(&format!("no={tracking_no}")), "{last:?}");
    assert_eq!(last.authorization, "Bearer internal-sms");
    let body: Value = serde_json::from_str(&last.body).expect("JSON body");
    assert_eq!(body["phone"], "13812345678");
    assert!(body["text"].as_str().unwrap().contains(&tracking_no));

    // A re-delivery is a duplicate: the same record, and no second receipt.
    let (status, _) = post_aliyun(&app, 7001).await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(fake.seen.lock().unwrap().len(), 3);
    assert_eq!(app.consume_requests(1).len(), 1);

    let metrics = app.metrics().await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("intake_receipts_total")
                && l.contains(r#"provider="aliyun""#)
                && l.contains(r#"outcome="sent""#)
                && l.ends_with(" 1")),
        "{metrics}"
    );
    if let Some(g) = app.gateway.take() {
        g.shutdown().await;
    }
    drop(data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipt_endpoint_that_hangs_never_delays_the_acknowledgement() {
    // Accepts connections and never answers: every attempt runs into the 5 s timeout.
    let blackhole = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", blackhole.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = blackhole.accept().await {
            held.push(socket);
        }
    });
    let (mut config, data) = test_config(true).await;
    with_receipts(&mut config, &base);
    let mut app = start(config).await;

    for sequence_id in 8001..8004 {
        let (status, took) = post_aliyun(&app, sequence_id).await;
        assert_eq!(status, 200);
        assert!(took < Duration::from_secs(4), "answered in {took:?}");
    }
    assert_eq!(app.consume_requests(3).len(), 3);

    // Shutdown abandons the hanging receipts within its short grace.
    let started = Instant::now();
    if let Some(g) = app.gateway.take() {
        g.shutdown().await;
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    drop(data);
}

/// The default `[urgent.advice]`, as the citizen reads it.
const ADVICE_ZH: &str = "如遇紧急危险请立即拨打110/119/120。";
/// Its Korean.
const ADVICE_KO: &str = "긴급한 위험이 있으면 즉시 110/119/120에 전화하십시오.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_urgent_sms_receipt_tells_the_citizen_to_call_110_119_120() {
    let (fake, base) = spawn_fake().await;
    // No attempt waits: the fake answers 500, 500, then 200 at once.
    fake.gate.add_permits(1);
    let (mut config, data) = test_config(true).await;
    // Tencent, not aliyun: the receipt counter is per provider and process-wide, and the aliyun
    // test beside this one counts its own sent receipts.
    provider_with_receipts(&mut config, "tencent", &base);
    config
        .channels
        .sms
        .providers
        .get_mut("kannel")
        .expect("kannel configured")
        .receipt = true;
    let mut app = start(config).await;

    // Twilio: the receipt is the TwiML reply's <Message>.
    let (form, signature) = twilio_form("SMurgent0001", "楼下着火了，浓烟很大");
    let r = app.post_twilio(form, &signature).await;
    assert_eq!(r.status(), 200);
    let twiml = r.text().await.unwrap();
    assert!(
        twiml.contains("<Message>") && twiml.contains(&format!("{ADVICE_ZH}</Message>")),
        "advice at the end of the TwiML receipt: {twiml}"
    );

    // Kannel: the reply body is the receipt. Korean, in UCS-2 as Kannel passes it on.
    let ucs2: String = "집에 불이 났어요 빨리 와 주세요"
        .encode_utf16()
        .flat_map(u16::to_be_bytes)
        .map(|b| format!("%{b:02X}"))
        .collect();
    let r = app
        .client
        .get(format!(
            "{}/hooks/sms/kannel?token={SMS_TOKEN}&from=13812345678&to=12345&text={ucs2}&coding=2&charset=UTF-16BE&time=1795507200&id=k-urgent-1",
            app.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let kannel = r.text().await.unwrap();
    assert!(
        kannel.contains("受理编号") && kannel.ends_with(ADVICE_KO),
        "advice at the end of the Kannel reply: {kannel:?}"
    );

    // Tencent: the receipt goes through the configured send endpoint.
    let r = app
        .client
        .post(format!("{}/hooks/sms/tencent?token={SMS_TOKEN}", app.base))
        .header("content-type", "application/json")
        .body(r#"{"extend":"2328","mobile":"13812345678","nationcode":"86","sign":"延吉12345","text":"家里煤气泄漏了，味道很大","time":1795507200}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(20);
    while fake.seen.lock().unwrap().len() < 3 {
        assert!(Instant::now() < deadline, "three attempts within 20 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let sent = fake.seen.lock().unwrap().last().cloned().unwrap();
    let body: Value = serde_json::from_str(&sent.body).expect("JSON body");
    let text = body["text"].as_str().unwrap();
    assert!(
        text.contains("受理编号") && text.ends_with(ADVICE_ZH),
        "advice at the end of the sent receipt: {text:?}"
    );

    // Each of the three is urgent on the record too.
    let records = app.consume_requests(3);
    assert_eq!(records.len(), 3);
    for r in &records {
        assert_eq!(r.value["routing"]["priority"], "urgent", "{:?}", r.value);
        assert_eq!(r.headers["priority"], "urgent");
    }
    if let Some(g) = app.gateway.take() {
        g.shutdown().await;
    }
    drop(data);
}

#[test]
fn placeholders_are_encoded_once_for_their_place() {
    use intake_gateway::channels::sms::receipts::{json_escape, percent_encode, render, Receipt};
    let r = Receipt {
        provider: "jasmin".into(),
        to: "+8613812345678".into(),
        text: "受理编号 {to} \"A&B\"".into(),
        tracking_no: "ABCD-EFGH-JKM2".into(),
        request_id: "x".into(),
    };
    let url = render(
        "http://sms/send?to={to_national}&content={text}&coding=8&x={unknown}",
        &r,
        percent_encode,
    );
    assert_eq!(
        url,
        "http://sms/send?to=13812345678&content=%E5%8F%97%E7%90%86%E7%BC%96%E5%8F%B7%20%7Bto%7D%20%22A%26B%22&coding=8&x={unknown}"
    );
    let body = render(r#"{"to":"{to}","text":"{text}"}"#, &r, json_escape);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["to"], "+8613812345678");
    assert_eq!(v["text"], r.text.as_str());
}

#[test]
fn receipt_config_is_checked_at_start() {
    let provider = |extra: &str| {
        intake_gateway::Config::from_toml(&format!(
            "[channels.sms.providers.ali]\nkind = \"aliyun\"\ntoken = \"t\"\nreceipt = true\n{extra}"
        ))
    };
    let err = provider("").unwrap_err().to_string();
    assert!(err.contains("receipt_url is required"), "{err}");
    let err = provider("receipt_url = \"ftp://sms.example/send?to={to}\"")
        .unwrap_err()
        .to_string();
    assert!(err.contains("https://"), "{err}");
    provider("receipt_url = \"https://sms.example/send?to={to}\"").expect("https is allowed");
    let err = provider("receipt_url = \"http://sms/send\"\nreceipt_body = \"{text}\"")
        .unwrap_err()
        .to_string();
    assert!(err.contains("POST"), "{err}");
    let ok = provider(
        "receipt_url = \"http://sms:13013/cgi-bin/sendsms?username=u&password=p&to={to}&text={text}\"\n\
         receipt_headers = { Authorization = \"Bearer s3cret\" }",
    )
    .expect("valid");
    assert!(!format!("{ok:?}").contains("s3cret") && !format!("{ok:?}").contains("password=p"));
    // Kannel's reply body still carries the receipt without a receipt_url.
    intake_gateway::Config::from_toml(
        "[channels.sms.providers.k]\nkind = \"kannel\"\ntoken = \"t\"\nreceipt = true\n",
    )
    .expect("kannel without receipt_url");
}
