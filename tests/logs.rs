//! The logs never carry what a citizen sent: representative flows run against an in-process
//! gateway while every INFO-and-above line is captured as JSON (as shipped in production), then
//! the capture is searched for phone numbers, openids, names and message texts.
//!
//! One test per binary, because the subscriber is process-global.

mod support;

use serde_json::{json, Value};
use std::io::Write;
use std::sync::{Arc, Mutex};
use support::*;

const OPENID: &str = "oLogScanOpenid0123456789abcd";
const OTHER_OPENID: &str = "oLogScanOtherOpenid987654321";
const WEB_TEXT: &str = "公园路的路灯坏了一周，晚上很危险。";
const RADIO_TEXT: &str = "가로등이 고장났어요 请尽快修理";
const WECHAT_TEXT: &str = "建工街的井盖丢了，孩子差点掉进去";
const LIMITED_TEXT: &str = "这条消息超过了频率限制";
const NAME: &str = "张女士";

/// Appends every formatted line to a shared buffer.
#[derive(Clone)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() -> Capture {
    let capture = Capture(Arc::default());
    let writer = capture.clone();
    // The production layer, so this test reads the lines an operator's shipper reads.
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    // As the binary sets it for JSON lines without OpenTelemetry: requests carry a task-local
    // log context, not a tracing span, and their lines must look the same.
    intake_gateway::logging::scope::use_spans(false);
    tracing_subscriber::registry()
        .with(tracing_subscriber::filter::LevelFilter::INFO)
        .with(intake_gateway::logging::json_layer(move || writer.clone()))
        .try_init()
        .expect("the only subscriber of this test binary");
    capture
}

async fn wechat(app: &TestApp, query_token: &str, body: String, nonce: &str) -> reqwest::Response {
    let query = wechat_query(query_token, now(), nonce);
    app.post_wechat("plain", &query, body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_carry_ids_and_outcomes_but_no_citizen_data() {
    let capture = capture_logs();
    let (mut config, data) = test_config(true).await;
    // Low enough that the flows below also run into the sender limit once per channel.
    config.limits.sender_per_minute = 1;
    config.limits.sender_burst = 3;
    config.limits.partner_per_minute = 1;
    config.limits.partner_burst = 3;
    let app = start(config).await;

    // Web: a signed batch (phone, name, Chinese and mixed text), its retry, a forgery, a post
    // that is rejected on its own, malformed JSON carrying a number, and a rate-limited batch.
    let mut radio = post("log-2", RADIO_TEXT);
    radio["kind"] = json!("radio");
    radio["program"] = json!({"name": "百姓热线", "aired_at": "2026-11-24T09:00:00+08:00"});
    radio["author"] = json!({"name": NAME, "phone": "+86 138 1234 5678"});
    let body = batch(&[post("log-1", WEB_TEXT), radio]);
    let first = app.post_web(&body).await;
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.unwrap();
    let tracking = first["results"][0]["tracking_no"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(app.post_web(&body).await.status(), 200);
    let forged = app.post_web_signed(PARTNER, "guessed", now(), &body).await;
    assert_eq!(forged.status(), 401);
    let mut unmoderated = post("log-3", WEB_TEXT);
    unmoderated.as_object_mut().unwrap().remove("moderation");
    let partial = app.post_web(&batch(&[unmoderated])).await;
    assert_eq!(partial.status(), 200);
    let truncated = format!(
        "{{\"posts\":[{{\"id\":\"x\",\"body\":\"{WEB_TEXT}\",\"author\":{{\"phone\":\"13812345678\""
    );
    assert_eq!(app.post_web(&truncated).await.status(), 400);
    let limited = app.post_web(&batch(&[post("log-4", WEB_TEXT)])).await;
    assert_eq!(limited.status(), 429);

    // WeChat: a message, its re-delivery, a forgery, an unknown message type, a follow, and
    // a message over the sender limit; another citizen is unaffected.
    let message = wechat_text(WECHAT_GH, OPENID, 9001, WECHAT_TEXT);
    for _ in 0..2 {
        let reply = wechat(&app, WECHAT_TOKEN, message.clone(), "n9001").await;
        assert_eq!(reply.status(), 200);
        assert!(reply.text().await.unwrap().contains("受理编号"));
    }
    let forged = wechat(&app, "guessed-token", message.clone(), "n9001").await;
    assert_eq!(forged.status(), 401);
    let unknown_type = format!(
        "<xml><ToUserName><![CDATA[{WECHAT_GH}]]></ToUserName><FromUserName><![CDATA[{OPENID}]]></FromUserName>\
         <CreateTime>{}</CreateTime><MsgType><![CDATA[miniprogrampage]]></MsgType><Title><![CDATA[{WECHAT_TEXT}]]></Title>\
         <MsgId>9002</MsgId></xml>",
        now()
    );
    assert_eq!(
        wechat(&app, WECHAT_TOKEN, unknown_type, "n9002")
            .await
            .status(),
        200
    );
    // Re-deliveries of accepted messages are exempt from the sender limit; spend the last of
    // the burst on one more new message so the next one is limited.
    let extra = wechat_text(WECHAT_GH, OPENID, 9004, WECHAT_TEXT);
    assert_eq!(
        wechat(&app, WECHAT_TOKEN, extra, "n9004").await.status(),
        200
    );
    let limited = wechat(
        &app,
        WECHAT_TOKEN,
        wechat_text(WECHAT_GH, OPENID, 9003, LIMITED_TEXT),
        "n9003",
    )
    .await;
    assert!(limited.text().await.unwrap().contains("频繁"));
    let follow = format!(
        "<xml><ToUserName><![CDATA[{WECHAT_GH}]]></ToUserName><FromUserName><![CDATA[{OTHER_OPENID}]]></FromUserName>\
         <CreateTime>{}</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event>\
         <EventKey><![CDATA[qrscene_counter7]]></EventKey></xml>",
        now()
    );
    assert_eq!(
        wechat(&app, WECHAT_TOKEN, follow, "n9004").await.status(),
        200
    );
    let other = wechat(
        &app,
        WECHAT_TOKEN,
        wechat_text(WECHAT_GH, OTHER_OPENID, 9005, WECHAT_TEXT),
        "n9005",
    )
    .await;
    assert!(other.text().await.unwrap().contains("受理编号"));

    app.gateway.unwrap().shutdown().await;
    drop(data);
    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).expect("UTF-8 logs");

    // Not vacuous: the request spans and their ids were captured, as JSON lines.
    assert!(logs.contains("request answered"), "{logs}");
    // The request span names the record it produced (one span per request with channel, source,
    // request_id and tracking_no).
    assert!(
        logs.lines().any(|l| l.contains("request answered")
            && l.contains("\"request_id\"")
            && l.contains("\"tracking_no\"")
            && l.contains("\"channel\"")),
        "no answered request carries its ids on the span:\n{logs}"
    );
    let answered: Value = logs
        .lines()
        .find(|l| l.contains("request answered"))
        .and_then(|l| serde_json::from_str(l).ok())
        .expect("an answered line");
    let span = &answered["span"];
    assert_eq!(span["name"], "request", "{answered}");
    for key in ["channel", "source", "trace_id"] {
        assert!(span[key].is_string(), "no {key} in the span of {answered}");
    }
    assert!(logs.contains("request refused"), "{logs}");
    assert!(
        logs.lines()
            .filter(|l| l.contains("request refused"))
            .all(|l| l.contains("\"span\":{\"channel\":")),
        "a refused line without its request's context:\n{logs}"
    );
    assert!(
        logs.contains(&tracking),
        "tracking number {tracking} in\n{logs}"
    );
    assert!(logs.contains("\"channel\":\"wechat\""), "{logs}");
    for line in logs.lines() {
        let line: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        // Exactly one line per request at info: the outcome line. Channels add none of their own.
        let target = line["target"].as_str().unwrap_or("");
        assert!(
            !(line["level"] == "INFO" && target.starts_with("intake_gateway::channels")),
            "a second info line for a request: {line}"
        );
    }
    let forbidden = [
        "13812345678",
        "+8613812345678",
        "8613812345678",
        "138 1234 5678",
        "138-1234-5678",
        OPENID,
        OTHER_OPENID,
        NAME,
        WEB_TEXT,
        RADIO_TEXT,
        WECHAT_TEXT,
        LIMITED_TEXT,
        // Fragments, in case a text is logged cut short or split.
        "路灯坏了",
        "가로등",
        "井盖",
        "频率限制",
    ];
    for needle in forbidden {
        let leaks: Vec<&str> = logs.lines().filter(|l| l.contains(needle)).collect();
        assert!(
            leaks.is_empty(),
            "{needle:?} leaked into the logs:\n{}",
            leaks.join("\n")
        );
    }
}
