//! Back-pressure through HTTP: sender and channel rate limits, the in-flight cap, header limits.
//!
//! No assertion is about speed: waits are generous and only bound how long a test may hang.

mod support;

use intake_wechat::parse_xml;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use support::*;

const OPENID_A: &str = "oUpF8uLimitAAAAAAAAAAAAAAAAA";
const OPENID_B: &str = "oUpF8uLimitBBBBBBBBBBBBBBBBB";

async fn wechat_message(app: &TestApp, openid: &str, msg_id: u64, text: &str) -> reqwest::Response {
    app.post_wechat(
        "plain",
        &wechat_query(WECHAT_TOKEN, now(), &format!("n{msg_id}")),
        wechat_text(WECHAT_GH, openid, msg_id, text),
    )
    .await
}

fn retry_after(response: &reqwest::Response) -> u64 {
    response
        .headers()
        .get("retry-after")
        .expect("Retry-After is set")
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After is whole seconds")
}

/// A raw connection (tokio's io-util is not enabled here): a read that hangs fails after 20 s.
fn connect(app: &TestApp) -> TcpStream {
    let stream = TcpStream::connect(app.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream
}

/// Reads what the gateway answers on `stream` (blocking, so on a blocking thread).
async fn read_answer(mut stream: TcpStream, len: Option<usize>) -> String {
    tokio::task::spawn_blocking(move || {
        let mut answer = vec![0u8; len.unwrap_or(0)];
        match len {
            Some(_) => stream.read_exact(&mut answer).expect("answered, not hung"),
            None => drop(stream.read_to_end(&mut answer).expect("answered, not hung")),
        }
        String::from_utf8_lossy(&answer).into_owned()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_partner_over_its_burst_gets_429_and_forgeries_do_not_spend_its_budget() {
    let (mut config, data) = test_config(false).await;
    config.limits.partner_per_minute = 1;
    config.limits.partner_burst = 3;
    let app = start(config).await;
    for _ in 0..5 {
        let forged = app
            .post_web_signed(PARTNER, "not-the-secret", now(), &batch(&[post("f", "x")]))
            .await;
        assert_eq!(forged.status(), 401);
    }
    for i in 0..3 {
        let body = batch(&[post(&format!("s-{i}"), "路灯不亮")]);
        assert_eq!(app.post_web(&body).await.status(), 200, "within the burst");
    }
    let limited = app.post_web(&batch(&[post("s-3", "路灯不亮")])).await;
    assert_eq!(limited.status(), 429);
    assert!(retry_after(&limited) >= 1);
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body["error"], "rate_limited");
    assert!(
        body["reason"].as_str().unwrap().contains("sender"),
        "{body}"
    );
    assert_eq!(app.journal().len(), 3, "the limited batch was not written");
    let metrics = app.metrics().await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("intake_requests_total")
                && l.contains("channel=\"web\"")
                && l.contains("outcome=\"rate_limited\"")),
        "{metrics}"
    );
    app.gateway.unwrap().shutdown().await;
    drop(data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wechat_openid_over_its_limit_is_answered_politely_and_not_published() {
    let (mut config, data) = test_config(true).await;
    config.limits.sender_per_minute = 1;
    config.limits.sender_burst = 2;
    let app = start(config).await;
    for (msg_id, text) in [(7001, "井盖丢了"), (7002, "路灯不亮")] {
        let response = wechat_message(&app, OPENID_A, msg_id, text).await;
        assert_eq!(response.status(), 200);
        let reply_xml = response.text().await.unwrap();
        let reply = parse_xml(&reply_xml).unwrap();
        assert!(reply.get("Content").unwrap().contains("受理编号"));
    }
    let limited = wechat_message(&app, OPENID_A, 7003, "第三条消息不应发布").await;
    assert_eq!(limited.status(), 200, "WeChat must not re-send it");
    let reply_xml = limited.text().await.unwrap();
    let reply = parse_xml(&reply_xml).unwrap();
    assert_eq!(reply.get("ToUserName"), Some(OPENID_A));
    let content = reply.get("Content").unwrap();
    assert!(content.contains("频繁"), "{content}");
    assert!(!content.contains("受理编号"), "{content}");

    let other = wechat_message(&app, OPENID_B, 7004, "另一位市民").await;
    assert_eq!(other.status(), 200);
    let reply_xml = other.text().await.unwrap();
    let reply = parse_xml(&reply_xml).unwrap();
    assert!(reply.get("Content").unwrap().contains("受理编号"));

    let records = app.consume_requests(3);
    assert_eq!(records.len(), 3, "the limited message is not on the topic");
    let texts: Vec<&str> = records
        .iter()
        .map(|r| r.value["content"]["text"].as_str().unwrap())
        .collect();
    assert!(!texts.contains(&"第三条消息不应发布"), "{texts:?}");
    assert!(texts.contains(&"另一位市民"), "{texts:?}");
    let metrics = app.metrics().await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("intake_requests_total")
                && l.contains("channel=\"wechat\"")
                && l.contains("outcome=\"rate_limited\"")),
        "{metrics}"
    );
    app.gateway.unwrap().shutdown().await;
    drop(data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_over_its_rate_gets_429_on_web_and_503_on_wechat() {
    let (mut config, data) = test_config(false).await;
    config.limits.channel_per_second.insert("web".into(), 1);
    config.limits.channel_per_second.insert("wechat".into(), 1);
    let app = start(config).await;
    // Unknown partners are refused before the channel limit and do not use it up.
    for _ in 0..5 {
        let unknown = app.post_web_signed("nobody", SECRET, now(), "{}").await;
        assert_eq!(unknown.status(), 404);
    }
    let mut web = Vec::new();
    for _ in 0..10 {
        web.push(app.post_web_signed(PARTNER, "wrong", now(), "{}").await);
    }
    assert_eq!(
        web[0].status(),
        401,
        "the first request of the second passes"
    );
    let limited = web
        .iter()
        .find(|r| r.status() == 429)
        .expect("some web request is rate limited");
    assert!(retry_after(limited) >= 1);

    let mut wechat = Vec::new();
    for i in 0..10 {
        let query = wechat_query("wrong-token", now(), &format!("c{i}"));
        let body = wechat_text(WECHAT_GH, OPENID_A, 8000 + i, "x");
        wechat.push(app.post_wechat("plain", &query, body).await);
    }
    assert_eq!(wechat[0].status(), 401);
    let busy = wechat
        .iter()
        .find(|r| r.status() == 503)
        .expect("some WeChat push is refused with 503, so that WeChat retries");
    assert!(retry_after(busy) >= 1);
    app.gateway.unwrap().shutdown().await;
    drop(data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_max_in_flight_requests_are_shed_at_once_with_503() {
    let (mut config, data) = test_config(false).await;
    config.limits.max_in_flight = 1;
    config.server.request_timeout = Duration::from_secs(120);
    let app = start(config).await;
    // A request whose body never finishes holds the only slot: the handler waits for the body.
    let mut slow = connect(&app);
    slow.write_all(
        b"POST /hooks/web/baixing HTTP/1.1\r\nhost: gateway\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{",
    )
    .unwrap();
    let url = format!("{}/hooks/web/nobody", app.base);
    let deadline = Instant::now() + Duration::from_secs(20);
    let shed = loop {
        let response = app.client.post(&url).body("{}").send().await.unwrap();
        if response.status() == 503 {
            break response;
        }
        assert_eq!(response.status(), 404, "admitted while the slot was free");
        assert!(
            Instant::now() < deadline,
            "the slow request never took the slot"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(retry_after(&shed) >= 1);
    let body: Value = shed.json().await.unwrap();
    assert_eq!(body["error"], "overloaded");

    // The slow request completes (unsigned: 401) and gives its slot back.
    slow.write_all(b"}").unwrap();
    assert_eq!(read_answer(slow, Some(12)).await, "HTTP/1.1 401");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let response = app.client.post(&url).body("{}").send().await.unwrap();
        if response.status() == 404 {
            break;
        }
        assert!(Instant::now() < deadline, "the slot was never released");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let metrics = app.metrics().await;
    assert!(metrics.contains("outcome=\"shed\""), "{metrics}");
    app.gateway.unwrap().shutdown().await;
    drop(data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_or_countless_headers_get_431_not_a_hang() {
    let app = spawn_app(false).await;
    let huge = app
        .client
        .post(format!("{}/hooks/web/{PARTNER}", app.base))
        .header("x-padding", "a".repeat(100 * 1024))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), 431);
    let body: Value = huge.json().await.unwrap();
    assert_eq!(body["error"], "headers_too_large");

    // The HTTP parser itself refuses more than 100 headers.
    let mut head = String::from("POST /hooks/web/baixing HTTP/1.1\r\nhost: gateway\r\n");
    for i in 0..1000 {
        head.push_str(&format!("x-h{i}: v\r\n"));
    }
    head.push_str("content-length: 0\r\n\r\n");
    let mut stream = connect(&app);
    stream.write_all(head.as_bytes()).unwrap();
    let answer = read_answer(stream, None).await;
    let status: u16 = answer
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {answer:?}"));
    assert!((400..500).contains(&status), "{answer}");

    // And the gateway still serves.
    let fine = app.post_web(&batch(&[post("h-1", "路灯不亮")])).await;
    assert_eq!(fine.status(), 200);
    app.gateway.unwrap().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wechat_retries_of_an_accepted_message_are_not_rate_limited() {
    let (mut config, _data) = test_config(true).await;
    config.limits.sender_per_minute = 1;
    config.limits.sender_burst = 1;
    let app = start(config).await;
    let (query, body) = (
        wechat_query(WECHAT_TOKEN, now(), "retry"),
        wechat_text(WECHAT_GH, "oRetryOpenid", 8801, "路灯坏了"),
    );
    let first = app
        .post_wechat("plain", &query, body.clone())
        .await
        .text()
        .await
        .unwrap();
    assert!(first.contains("受理编号"), "{first}");
    // The sender's budget is spent, yet WeChat's re-sends get the byte-identical first answer.
    for _ in 0..2 {
        let again = app
            .post_wechat("plain", &query, body.clone())
            .await
            .text()
            .await
            .unwrap();
        assert_eq!(again, first);
    }
    let other = wechat_text(WECHAT_GH, "oRetryOpenid", 8802, "还有一件事");
    let limited = app
        .post_wechat("plain", &wechat_query(WECHAT_TOKEN, now(), "n2"), other)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !limited.contains("受理编号"),
        "a new message over the limit is slowed down: {limited}"
    );
    assert_eq!(app.consume_requests(1).len(), 1);
    app.gateway.unwrap().shutdown().await;
}
