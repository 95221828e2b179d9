//! The phone channel end to end: PBX and SIP-proxy call data through HTTP to the real broker.

mod support;

use base64::Engine;
use serde_json::{json, Value};
use support::*;

async fn post_call(
    app: &TestApp,
    source: &str,
    user: Option<&str>,
    query: &str,
    content_type: &str,
    body: String,
) -> reqwest::Response {
    let mut request = app
        .client
        .post(format!("{}/hooks/call/{source}?{query}", app.base))
        .header("content-type", content_type)
        .body(body);
    if let Some(user) = user {
        request = request.basic_auth(user, Some(CALL_SECRET));
    }
    request.send().await.unwrap()
}

fn fixture(name: &str) -> Value {
    let path = repo().join(format!("adapters/call/fixtures/{name}.request.json"));
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_diverted_from_12328_is_recorded_on_line_12328_with_its_live_view() {
    let app = spawn_app(true).await;
    for request in fixture("kamailio_diverted_12328")["requests"]
        .as_array()
        .unwrap()
    {
        let r = post_call(
            &app,
            "sbc",
            Some("kam"),
            "",
            "application/json",
            request["body"].as_str().unwrap().to_string(),
        )
        .await;
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }
    let records = app.consume_requests(1);
    assert_eq!(records.len(), 1);
    let record = &records[0].value;
    assert_valid_request(record);
    assert_eq!(record["channel"], "phone");
    assert_eq!(
        record["source"]["line"], "12328",
        "the hotline dialed, not the one it was diverted to"
    );
    assert_eq!(record["call"]["dialed_line"], "12328");
    assert_eq!(record["call"]["disposition"], "answered");
    assert_eq!(record["citizen"]["contact"], "+8613812345678");
    let events = app.consume_events(1);
    assert!(
        events.iter().any(|e| e.value["kind"] == "phone.answer"),
        "live view: {events:?}"
    );
    events.iter().for_each(|e| assert_valid_event(&e.value));
    app.gateway.unwrap().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cdr_posted_twice_and_in_two_encodings_is_one_record() {
    let app = spawn_app(true).await;
    let cdr = std::fs::read_to_string(repo().join("adapters/call/fixtures/bodies/fs_a_leg.json"))
        .unwrap();
    let query = "uuid=0b2d8e6c-5a41-4f0b-9e07-7c1d2b9e5f33";
    let first: Value = post_call(
        &app,
        "fs",
        Some("fs-cdr"),
        query,
        "application/json",
        cdr.clone(),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(first["results"][0]["status"], "accepted", "{first}");
    let again: Value = post_call(
        &app,
        "fs",
        Some("fs-cdr"),
        query,
        "application/json",
        cdr.clone(),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(again["results"][0]["status"], "duplicate");
    // mod_json_cdr's base64 form: never form-decoded, `+` is data.
    let b64 = base64::engine::general_purpose::STANDARD.encode(cdr.as_bytes());
    let third: Value = post_call(
        &app,
        "fs",
        Some("fs-cdr"),
        query,
        "application/x-www-form-base64-encoded",
        format!("cdr={b64}"),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(third["results"][0]["status"], "duplicate");
    assert_eq!(
        third["results"][0]["tracking_no"],
        first["results"][0]["tracking_no"]
    );
    let records = app.consume_requests(1);
    assert_eq!(records.len(), 1);
    assert_valid_request(&records[0].value);
    app.gateway.unwrap().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_who_hung_up_in_the_queue_is_flagged_for_callback() {
    let app = spawn_app(true).await;
    let token = format!("token={CALL_SECRET}");
    let new_call = json!({"event": "newCall", "callId": "cti-77", "from": "13987654321", "to": "043312345", "direction": "in", "queue": "12345-general"});
    let hangup = json!({"event": "hangup", "callId": "cti-77", "from": "13987654321", "to": "043312345", "direction": "in", "cause": "cancel"});
    for event in [new_call, hangup] {
        let r = post_call(
            &app,
            "cti",
            None,
            &token,
            "application/json",
            event.to_string(),
        )
        .await;
        assert_eq!(r.status(), 200);
    }
    let records = app.consume_requests(1);
    assert_eq!(records.len(), 1);
    let call = &records[0].value["call"];
    assert_valid_request(&records[0].value);
    assert_eq!(call["disposition"], "abandoned");
    assert_eq!(call["callback_candidate"], true);
    assert_eq!(
        call["queue"], "12345-general",
        "merged from the earlier newCall"
    );
    assert_eq!(records[0].value["source"]["line"], "12345");
    app.gateway.unwrap().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_and_unknown_sources_are_refused() {
    let app = spawn_app(true).await;
    let body = json!({"event": "hangup", "callId": "x", "from": "1", "to": "2", "direction": "in", "cause": "cancel"}).to_string();
    assert_eq!(
        post_call(
            &app,
            "cti",
            None,
            "token=guess",
            "application/json",
            body.clone()
        )
        .await
        .status(),
        401
    );
    assert_eq!(
        post_call(&app, "cti", None, "", "application/json", body.clone())
            .await
            .status(),
        401
    );
    let wrong_password = app
        .client
        .post(format!("{}/hooks/call/fs", app.base))
        .basic_auth("fs-cdr", Some("nope"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_password.status(), 401);
    assert_eq!(
        post_call(
            &app,
            "nosecret",
            None,
            "token=",
            "application/json",
            body.clone()
        )
        .await
        .status(),
        404
    );
    assert_eq!(
        post_call(&app, "nobody", None, "", "application/json", body)
            .await
            .status(),
        404
    );
    assert!(app.consume_requests(0).is_empty());
    app.gateway.unwrap().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_asterisk_cdr_form_post_becomes_an_answered_call_with_its_recording() {
    let app = spawn_app(true).await;
    let request = &fixture("asterisk_cdr_answered_form")["requests"][0];
    let body = request["body"].as_str().unwrap().to_string();
    let token = format!("token={CALL_SECRET}");
    let r = post_call(
        &app,
        "ast",
        None,
        &token,
        "application/x-www-form-urlencoded",
        body,
    )
    .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let records = app.consume_requests(1);
    assert_eq!(records.len(), 1);
    let record = &records[0].value;
    assert_valid_request(record);
    assert_eq!(record["source"]["system"], "call:ast");
    assert_eq!(record["call"]["disposition"], "answered");
    assert_eq!(record["call"]["talk_seconds"], 442);
    assert_eq!(
        record["source"]["line"], "12328",
        "the diverted-from hotline"
    );
    assert!(record["call"]["recording"]
        .as_str()
        .unwrap()
        .starts_with("https://rec.hotline.example.cn/"));
    assert_eq!(
        record["call"]["started_at"], "2026-11-24T01:12:00.000Z",
        "CDR local time is China time"
    );
    app.gateway.unwrap().shutdown().await;
}
