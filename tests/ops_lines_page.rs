//! The per-line and per-desk tables and the urgent banner of the ops page in a real headless
//! Chromium: a call to 12343 and an SMS to the Hunchun arrears line show in their rows, an
//! urgent WeChat message raises the banner, and no phone number, openid or text (least of all
//! a confidential request's) reaches the page.
//!
//! Chromium is required: without it this test fails (it never skips); see tests/ops_page.rs.
//! Its own binary, because the page's channel collector is process-wide.

mod support;

#[path = "ops_page/cdp.rs"]
mod cdp;

use serde_json::{json, Value};
use std::time::Duration;
use support::*;

const WIDTH: u32 = 1600;
const HEIGHT: u32 = 1200;
const OPENID: &str = "oOpsLinesPageOpenid000000001";

fn cell(table: &str, row: &str, key: &str) -> String {
    format!("(document.querySelector('#{table} tr[{row}] td[{key}]') || {{}}).textContent")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ops_page_counts_per_line_and_desk_and_flags_urgent_without_personal_data() {
    let Some(chromium) = cdp::find_chromium() else {
        panic!(
            "chromium not found: this test needs a headless Chromium. Run tests/run.sh, which \
             installs it (apt-get install -y chromium fonts-wqy-zenhei), or set CHROMIUM=/path/to/chromium"
        );
    };
    let app = lines_app().await;
    // A call to 12343.
    let call = json!({"event": "hangup", "callId": "ops-lines-1", "from": "13987654321", "to": "043312343", "direction": "in", "cause": "cancel"});
    let r = app
        .client
        .post(format!("{}/hooks/call/cti?token={CALL_SECRET}", app.base))
        .header("content-type", "application/json")
        .body(call.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // An SMS to the arrears line's service number.
    let body = json!({"message_id": "ops-lines-2", "from": "13812345678", "to": "1069012345601", "text": "工程尾款三年未结清", "received_at": "2026-11-24T08:00:00Z"}).to_string();
    let ts = now();
    let r = app
        .client
        .post(format!("{}/hooks/sms/generic", app.base))
        .header("content-type", "application/json")
        .header("x-intake-timestamp", ts.to_string())
        .header(
            "x-intake-signature",
            format!("v1={}", sign(SMS_TOKEN, ts, body.as_bytes())),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // An urgent WeChat message.
    let query = wechat_query(WECHAT_TOKEN, now(), "n1");
    let r = app
        .post_wechat(
            "plain",
            &query,
            wechat_text(
                WECHAT_GH,
                OPENID,
                7300000000000000001,
                "楼下着火了，浓烟很大",
            ),
        )
        .await;
    assert_eq!(r.status(), 200);
    // A confidential web post.
    let mut p = post("ops-lines-4", "举报某窗口吃拿卡要");
    p["confidential"] = json!(true);
    let r: Value = app.post_web(&batch(&[p])).await.json().await.unwrap();
    assert_eq!(r["results"][0]["status"], "accepted");

    let mut browser = cdp::Browser::launch(&chromium, WIDTH, HEIGHT);
    let tab = browser.open(&format!("{}/ops?interval=500", app.ops), WIDTH, HEIGHT);
    browser.wait_for(
        &tab,
        &format!(
            "{} === '1'",
            cell(
                "lines-table",
                "data-line=\"12343\"",
                "data-channel=\"phone\""
            )
        ),
        Duration::from_secs(30),
        "the 12343 row",
    );
    let read = |b: &mut cdp::Browser, js: &str| b.eval(&tab, js).unwrap();
    assert_eq!(
        read(
            &mut browser,
            &cell(
                "lines-table",
                "data-line=\"hunchun_arrears\"",
                "data-channel=\"sms\""
            )
        ),
        "1"
    );
    assert_eq!(
        read(
            &mut browser,
            &cell(
                "lines-table",
                "data-line=\"hunchun_arrears\"",
                "data-k=\"today\""
            )
        ),
        "1"
    );
    assert_eq!(
        read(
            &mut browser,
            &cell("lines-table", "data-line=\"12343\"", "data-k=\"hour\"")
        ),
        "1"
    );
    assert_eq!(
        read(
            &mut browser,
            &cell("lines-table", "data-line=\"other\"", "data-k=\"urgent\"")
        ),
        "1"
    );
    // The last hour by channel, like today's: the call, the SMS and the WeChat message each in
    // their own channel's column, and nothing in the others.
    for (row, channel) in [
        ("data-line=\"12343\"", "phone"),
        ("data-line=\"hunchun_arrears\"", "sms"),
        ("data-line=\"other\"", "wechat"),
        ("data-line=\"other\"", "web"),
    ] {
        assert_eq!(
            read(
                &mut browser,
                &cell(
                    "lines-table",
                    row,
                    &format!("data-hour-channel=\"{channel}\"")
                )
            ),
            "1",
            "{row} {channel} in the last hour"
        );
    }
    assert_eq!(
        read(
            &mut browser,
            &cell(
                "lines-table",
                "data-line=\"12343\"",
                "data-hour-channel=\"sms\""
            )
        ),
        "0"
    );
    assert_eq!(
        read(
            &mut browser,
            &cell(
                "desks-table",
                "data-desk=\"arrears\"",
                "data-hour-channel=\"sms\""
            )
        ),
        "1"
    );
    assert_eq!(
        read(
            &mut browser,
            "[...document.querySelectorAll('#lines-table th')].map(th => th.textContent).join('|')"
        )
        .as_str()
        .unwrap()
        .matches("电话")
        .count(),
        2,
        "a phone column under today and under the last hour"
    );
    // Both tables fit their card on the wall's width: no column is cut off or scrolled away.
    assert_eq!(
        read(
            &mut browser,
            "['lines-table', 'desks-table'].map(id => { const t = document.getElementById(id); \
             return t.scrollWidth <= t.parentElement.clientWidth; })"
        ),
        json!([true, true])
    );
    assert_eq!(
        read(
            &mut browser,
            &cell("desks-table", "data-desk=\"arrears\"", "data-k=\"today\"")
        ),
        "1"
    );
    assert_eq!(
        read(
            &mut browser,
            &cell(
                "desks-table",
                "data-desk=\"business_environment\"",
                "data-channel=\"web\""
            )
        ),
        "1"
    );
    let banner = read(
        &mut browser,
        "[document.getElementById('urgent').hidden, document.getElementById('urgent').dataset.count]",
    );
    assert_eq!(banner, json!([false, "1"]));

    let shown = read(&mut browser, "document.documentElement.outerHTML");
    let shown = shown.as_str().unwrap();
    assert!(shown.contains("州长公开电话") && shown.contains("珲春市民营企业清欠举报专线"));
    for secret in [
        "13987654321",
        "13812345678",
        "139****4321",
        "138****5678",
        OPENID,
        "张女士",
        "着火",
        "浓烟",
        "工程尾款",
        "吃拿卡要",
        "ops-lines-4",
    ] {
        assert!(
            !shown.contains(secret),
            "{secret:?} is shown on the ops page"
        );
    }
    // The tables are what this test is about: the screenshot shows them.
    read(
        &mut browser,
        "document.querySelector('.tables').scrollIntoView(), true",
    );
    let artifact = repo().join("test-artifacts").join("ops-lines-page.png");
    browser.screenshot(&tab, &artifact);
    eprintln!("screenshot: {}", artifact.display());
    drop(browser);
    app.gateway.unwrap().shutdown().await;
}
