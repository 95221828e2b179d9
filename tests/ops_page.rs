//! The live operations page in a real headless Chromium: it renders the counters, updates them
//! without a reload while requests arrive, loads nothing from elsewhere, shows no personal data;
//! and `/metrics` carries every metric the runbook and alerts name.
//!
//! Chromium is required: without it this test fails (it never skips). `tests/run.sh` installs
//! it (`apt-get install -y chromium fonts-wqy-zenhei`); `CHROMIUM=/path` picks another binary.
//! The screenshot is saved as `test-artifacts/ops-page.png`.
//!
//! The page's collector is process-wide, like the Prometheus recorder, so this binary holds one
//! test that sends traffic: exact counts would be disturbed by a second one running alongside.

mod support;

#[path = "ops_page/cdp.rs"]
mod cdp;

use serde_json::{json, Value};
use std::time::Duration;
use support::*;

const WIDTH: u32 = 1600;
const HEIGHT: u32 = 1000;
const OPENID: &str = "oOpsPageTestOpenid0000000001";

/// The text of the element `id`.
fn text(id: &str) -> String {
    format!("(document.getElementById({id:?}) || {{}}).textContent")
}

/// The sum of the bars of a channel's chart, as drawn (`data-v` of each bar).
fn chart_sum(channel: &str) -> String {
    format!(
        "[...document.getElementById('ch-{channel}-chart').children].reduce((n, r) => n + Number(r.dataset.v), 0)"
    )
}

async fn wechat_push(app: &TestApp, msg_id: u64, xml: String) {
    let query = wechat_query(WECHAT_TOKEN, now(), &format!("n{msg_id}"));
    let response = app.post_wechat("plain", &query, xml).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

async fn web(app: &TestApp, posts: &[Value]) -> Value {
    let response = app.post_web(&batch(posts)).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn forged(app: &TestApp) {
    let response = app
        .post_web_signed(
            PARTNER,
            "not-the-secret",
            now(),
            &batch(&[post("x", "伪造")]),
        )
        .await;
    assert_eq!(response.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ops_page_shows_live_counters_without_reloading() {
    let Some(chromium) = cdp::find_chromium() else {
        panic!(
            "chromium not found: this test needs a headless Chromium. Run tests/run.sh, which \
             installs it (apt-get install -y chromium fonts-wqy-zenhei), or set CHROMIUM=/path/to/chromium"
        );
    };
    let app = spawn_app(true).await;

    // Round one: two web posts and a radio post, the same batch again (duplicates), a forged
    // batch (signature failure), a WeChat message and a WeChat follow.
    let mut radio = post("r-1", "가로등이 꺼졌어요 路灯坏了");
    radio["kind"] = json!("radio");
    radio["program"] = json!({"name": "百姓热线", "aired_at": "2026-11-24T09:00:00+08:00"});
    let first = [
        post("w-1", "公园路的路灯坏了一周。"),
        post("w-2", "垃圾清运不及时"),
        radio,
    ];
    web(&app, &first).await;
    let again = web(&app, &first).await;
    assert!(again["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["status"] == "duplicate"));
    forged(&app).await;
    wechat_push(
        &app,
        7001,
        wechat_text(WECHAT_GH, OPENID, 7001, "建工街的井盖丢了"),
    )
    .await;
    let follow = format!(
        "<xml><ToUserName><![CDATA[{WECHAT_GH}]]></ToUserName><FromUserName><![CDATA[{OPENID}]]></FromUserName>\
         <CreateTime>{}</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event></xml>",
        now()
    );
    wechat_push(&app, 7002, follow).await;

    // The page is plain HTML that may load nothing from elsewhere.
    let page = app
        .client
        .get(format!("{}/ops", app.ops))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("connect-src 'self'"),
        "{csp}"
    );
    let html = page.text().await.unwrap();
    let elsewhere = html.replace("http://www.w3.org/2000/svg", "");
    assert!(
        !elsewhere.contains("http://")
            && !elsewhere.contains("https://")
            && !elsewhere.contains("//cdn"),
        "the page must not reference external assets"
    );

    let mut browser = cdp::Browser::launch(&chromium, WIDTH, HEIGHT);
    let tab = browser.open(&format!("{}/ops?interval=500", app.ops), WIDTH, HEIGHT);
    browser.wait_for(
        &tab,
        &format!("{} === '2'", text("ch-web-accepted")),
        Duration::from_secs(30),
        "the first counts",
    );
    let read = |b: &mut cdp::Browser, id: &str| b.eval(&tab, &text(id)).unwrap();
    assert_eq!(read(&mut browser, "ch-web-duplicate"), "2");
    assert_eq!(
        read(&mut browser, "ch-web-rejected"),
        "1",
        "the forged batch"
    );
    assert_eq!(read(&mut browser, "ch-web-failed"), "0");
    assert_eq!(read(&mut browser, "ch-web-sig"), "1");
    assert_eq!(read(&mut browser, "ch-radio-accepted"), "1");
    assert_eq!(read(&mut browser, "ch-radio-duplicate"), "1");
    assert_eq!(read(&mut browser, "ch-wechat-accepted"), "1");
    assert_eq!(read(&mut browser, "ch-phone-accepted"), "0");
    assert_eq!(browser.eval(&tab, &chart_sum("web")).unwrap(), 5);
    assert_eq!(browser.eval(&tab, &chart_sum("radio")).unwrap(), 2);
    let sink = read(&mut browser, "sink-state");
    assert!(
        sink.as_str().unwrap().contains("Kafka") && sink.as_str().unwrap().contains("UP"),
        "{sink}"
    );
    // A latency is shown (in ms or s, however loaded the machine is), not the "—" of no data.
    let p99 = read(&mut browser, "ch-web-p99");
    let p99 = p99.as_str().unwrap();
    assert!(p99.ends_with(" ms") || p99.ends_with(" s"), "{p99}");
    let sources = browser
        .eval(
            &tab,
            "[...document.querySelectorAll('#ch-web-sources tr[data-source]')].map(r => r.dataset.source)",
        )
        .unwrap();
    assert_eq!(sources, json!([PARTNER]));
    let problems = browser
        .eval(
            &tab,
            "[...document.querySelectorAll('#problems [data-code]')].map(p => p.dataset.code)",
        )
        .unwrap();
    // One forged batch is a warning, not silence or an outage. (A slow first Kafka delivery on a
    // busy machine may add a p99 or spool note; those are not what this test is about.)
    let codes: Vec<&str> = problems
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(codes.contains(&"signature_failures"), "{codes:?}");
    for outage in ["silent", "kafka_down", "sink_down", "failing", "spool_full"] {
        assert!(!codes.contains(&outage), "{codes:?}");
    }

    // Mark this document, then send more requests: the same document must show them.
    let polls = browser
        .eval(
            &tab,
            "window.__marked = 'same document'; Number(document.body.dataset.polls)",
        )
        .unwrap();
    web(
        &app,
        &[
            post("w-3", "噪音扰民"),
            post("w-4", "路面塌陷"),
            post("w-5", "占道经营"),
        ],
    )
    .await;
    forged(&app).await;
    browser.wait_for(
        &tab,
        &format!("{} === '5'", text("ch-web-accepted")),
        Duration::from_secs(15),
        "the page to update by itself",
    );
    assert_eq!(
        browser.eval(&tab, "window.__marked").unwrap(),
        "same document",
        "the page was reloaded"
    );
    assert_eq!(
        browser
            .eval(&tab, "performance.getEntriesByType('navigation').length")
            .unwrap(),
        1
    );
    assert!(
        browser
            .eval(&tab, "Number(document.body.dataset.polls)")
            .unwrap()
            .as_u64()
            > polls.as_u64()
    );
    assert_eq!(read(&mut browser, "ch-web-rejected"), "2");
    assert_eq!(read(&mut browser, "ch-web-sig"), "2");
    assert_eq!(
        browser.eval(&tab, &chart_sum("web")).unwrap(),
        9,
        "the chart moved too"
    );
    let foreign = browser
        .eval(&tab, "performance.getEntriesByType('resource').map(e => e.name).filter(n => !n.startsWith(location.origin))")
        .unwrap();
    assert_eq!(
        foreign,
        json!([]),
        "only the gateway was asked for anything"
    );

    // Counters only: no phone number, openid, name or message text reaches the page.
    let shown = browser
        .eval(&tab, "document.documentElement.outerHTML")
        .unwrap();
    let shown = shown.as_str().unwrap();
    for secret in [
        "13812345678",
        "138****5678",
        OPENID,
        "张女士",
        "公园路",
        "井盖",
        "가로등",
    ] {
        assert!(
            !shown.contains(secret),
            "{secret:?} is shown on the ops page"
        );
    }

    let artifact = repo().join("test-artifacts").join("ops-page.png");
    browser.screenshot(&tab, &artifact);
    eprintln!("screenshot: {}", artifact.display());
    drop(browser);

    // The JSON behind the page, as other tools may read it.
    let stats: Value = app
        .client
        .get(format!("{}/ops/api/stats", app.ops))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let web_channel = stats["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel"] == "web")
        .unwrap();
    assert_eq!(web_channel["totals"]["accepted"], 5);
    assert_eq!(web_channel["totals"]["unauthorized"], 2);
    assert_eq!(stats["sink"]["kind"], "kafka");
    assert!(
        stats["spool"]["entries"].is_u64(),
        "Kafka mode shows its spool: {}",
        stats["spool"]
    );

    // Every metric the runbook, the alerts and the dashboard use, under its documented name.
    // `intake_kafka_up` is set by the reachability probe, every 5 s.
    let mut metrics = app.metrics().await;
    for _ in 0..50 {
        if metrics.contains("intake_kafka_up") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        metrics = app.metrics().await;
    }
    for name in [
        "intake_requests_total{",
        "intake_request_duration_seconds_bucket{",
        "intake_sink_delivery_seconds_bucket",
        "intake_dedup_hits_total",
        "intake_signature_failures_total{",
        "intake_in_flight{",
        "intake_build_info{",
        "intake_events_total{",
        "intake_kafka_up",
        "intake_spool_entries",
        "intake_spool_bytes",
        "intake_spool_oldest_age_seconds",
    ] {
        assert!(metrics.contains(name), "{name} missing from /metrics");
    }
    for outcome in ["accepted", "duplicate", "unauthorized"] {
        assert!(
            metrics.contains(&format!("outcome=\"{outcome}\"")),
            "outcome {outcome} missing"
        );
    }
    app.gateway.unwrap().shutdown().await;
}
