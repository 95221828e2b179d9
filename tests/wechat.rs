//! The WeChat official-account channel end to end: verification, plaintext and safe mode,
//! retries, events, dead letters and hostile input, through HTTP and the real broker.

mod support;

use intake_wechat::{decrypt, encrypt, parse_xml, sha1_signature, AesKey};
use serde_json::Value;
use support::*;

const OPENID: &str = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o";

fn text_xml(to: &str, msg_id: u64, content: &str) -> String {
    format!(
        "<xml><ToUserName><![CDATA[{to}]]></ToUserName><FromUserName><![CDATA[{OPENID}]]></FromUserName>\
         <CreateTime>{}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{content}]]></Content>\
         <MsgId>{msg_id}</MsgId></xml>",
        now()
    )
}

fn query(token: &str, ts: i64, nonce: &str) -> String {
    let ts = ts.to_string();
    format!(
        "signature={}&timestamp={ts}&nonce={nonce}",
        sha1_signature(&[token, &ts, nonce])
    )
}

async fn post(app: &TestApp, account: &str, query: &str, body: String) -> reqwest::Response {
    app.client
        .post(format!("{}/hooks/wechat/{account}?{query}", app.base))
        .header("content-type", "text/xml")
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Encrypts `xml` as WeChat does in safe mode and posts it with both signatures.
async fn post_safe(app: &TestApp, xml: &str, app_id: &str) -> reqwest::Response {
    let key = AesKey::from_encoding_aes_key(SAFE_AES_KEY).unwrap();
    let encrypted = encrypt(&key, app_id, xml, *b"0123456789abcdef").unwrap();
    let (ts, nonce) = (now(), "1320562132");
    let msg_signature = sha1_signature(&[SAFE_TOKEN, &ts.to_string(), nonce, &encrypted]);
    let q = format!(
        "{}&encrypt_type=aes&msg_signature={msg_signature}&openid={OPENID}",
        query(SAFE_TOKEN, ts, nonce)
    );
    post(app, "safe", &q, format!("<xml><ToUserName><![CDATA[gh_safe]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>")).await
}

/// Checks a safe-mode reply's signature and returns the reply message inside it.
fn open_reply(body: &str) -> String {
    let outer = parse_xml(body).expect("reply is XML");
    let (encrypted, signature) = (
        outer.get("Encrypt").unwrap(),
        outer.get("MsgSignature").unwrap(),
    );
    let (ts, nonce) = (outer.get("TimeStamp").unwrap(), outer.get("Nonce").unwrap());
    assert_eq!(ts.len(), 10, "TimeStamp is in seconds");
    assert_eq!(
        signature,
        sha1_signature(&[SAFE_TOKEN, ts, nonce, encrypted]),
        "reply MsgSignature"
    );
    let key = AesKey::from_encoding_aes_key(SAFE_AES_KEY).unwrap();
    decrypt(&key, Some(SAFE_APP_ID), encrypted)
        .expect("reply decrypts")
        .xml
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_verification_echoes_only_for_the_right_signature() {
    let app = spawn_app(true).await;
    let ok = app
        .client
        .get(format!(
            "{}/hooks/wechat/plain?{}&echostr=5837397287",
            app.base,
            query(WECHAT_TOKEN, now(), "n1")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "5837397287");
    let forged = app
        .client
        .get(format!(
            "{}/hooks/wechat/plain?{}&echostr=1",
            app.base,
            query("guess", now(), "n1")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    let disabled = app
        .client
        .get(format!(
            "{}/hooks/wechat/tokenless?{}&echostr=1",
            app.base,
            query("", now(), "n1")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(disabled.status(), 404);
    app.gateway.unwrap().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plaintext_message_becomes_a_record_and_the_reply_carries_its_tracking_number() {
    let app = spawn_app(true).await;
    let response = post(
        &app,
        "plain",
        &query(WECHAT_TOKEN, now(), "n2"),
        text_xml(WECHAT_GH, 1001, "建工街的井盖丢了"),
    )
    .await;
    assert_eq!(response.status(), 200);
    let reply_xml = response.text().await.unwrap();
    let reply = parse_xml(&reply_xml).unwrap();
    let records = app.consume_requests(1);
    assert_eq!(records.len(), 1);
    let record = &records[0].value;
    assert_valid_request(record);
    assert_eq!(record["channel"], "wechat");
    assert_eq!(record["source"]["system"], format!("wechat:{WECHAT_GH}"));
    assert_eq!(record["citizen"]["contact"], OPENID);
    assert_eq!(reply.get("ToUserName"), Some(OPENID));
    assert_eq!(reply.get("FromUserName"), Some(WECHAT_GH));
    assert_eq!(reply.get("MsgType"), Some("text"));
    let content = reply.get("Content").unwrap();
    assert!(
        content.contains(record["tracking_no"].as_str().unwrap()),
        "{content}"
    );
    assert!(content.contains("受理编号"));
    app.gateway.unwrap().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_safe_mode_message_is_decrypted_and_answered_encrypted_in_korean() {
    let app = spawn_app(true).await;
    let response = post_safe(
        &app,
        &text_xml("gh_safe", 2002, "가로등이 고장났어요"),
        SAFE_APP_ID,
    )
    .await;
    assert_eq!(response.status(), 200);
    let inner_xml = open_reply(&response.text().await.unwrap());
    let inner = parse_xml(&inner_xml).unwrap();
    let records = app.consume_requests(1);
    assert_eq!(records.len(), 1);
    assert_valid_request(&records[0].value);
    assert_eq!(records[0].value["content"]["language"], "ko");
    let content = inner.get("Content").unwrap();
    assert!(content.contains(records[0].value["tracking_no"].as_str().unwrap()));
    assert!(
        content.contains("접수번호"),
        "Korean template for a Korean message: {content}"
    );
    app.gateway.unwrap().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_triple_delivery_is_one_record_and_three_identical_replies() {
    let app = spawn_app(true).await;
    let (q, body) = (
        query(WECHAT_TOKEN, now(), "n3"),
        text_xml(WECHAT_GH, 3003, "停车场收费不合理"),
    );
    let replies =
        futures_util::future::join_all((0..3).map(|_| post(&app, "plain", &q, body.clone()))).await;
    let mut bodies = Vec::new();
    for r in replies {
        assert_eq!(r.status(), 200);
        bodies.push(r.text().await.unwrap());
    }
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "replies differ: {bodies:?}"
    );
    assert_eq!(app.consume_requests(1).len(), 1);
    app.gateway.unwrap().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_go_to_the_events_topic_and_get_their_replies() {
    let app = spawn_app(true).await;
    let event = |name: &str, key: &str| {
        format!(
            "<xml><ToUserName><![CDATA[{WECHAT_GH}]]></ToUserName><FromUserName><![CDATA[{OPENID}]]></FromUserName>\
             <CreateTime>{}</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{name}]]></Event>\
             <EventKey><![CDATA[{key}]]></EventKey></xml>",
            now()
        )
    };
    let welcome = post(
        &app,
        "plain",
        &query(WECHAT_TOKEN, now(), "n4"),
        event("subscribe", "qrscene_counter7"),
    )
    .await;
    assert_eq!(welcome.status(), 200);
    assert!(parse_xml(&welcome.text().await.unwrap())
        .unwrap()
        .get("Content")
        .unwrap()
        .contains("欢迎关注"));
    let prompt = post(
        &app,
        "plain",
        &query(WECHAT_TOKEN, now(), "n5"),
        event("CLICK", "FILE_REQUEST"),
    )
    .await;
    assert!(parse_xml(&prompt.text().await.unwrap())
        .unwrap()
        .get("Content")
        .unwrap()
        .contains("受理编号"));
    let other = post(
        &app,
        "plain",
        &query(WECHAT_TOKEN, now(), "n6"),
        event("VIEW", "https://example.cn"),
    )
    .await;
    assert_eq!(other.text().await.unwrap(), "success");
    let events = app.consume_events(3);
    assert_eq!(events.len(), 3);
    for e in &events {
        assert_valid_event(&e.value);
        assert_eq!(e.headers["schema"], "intake-event/1");
    }
    let subscribe = events
        .iter()
        .find(|e| e.value["kind"] == "wechat.subscribe")
        .expect("subscribe event");
    assert_eq!(subscribe.value["attributes"]["Scene"], "counter7");
    assert!(
        app.consume_requests(0).is_empty(),
        "events are not requests"
    );
    app.gateway.unwrap().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_message_type_is_dead_lettered_not_dropped() {
    let app = spawn_app(true).await;
    let xml = format!(
        "<xml><ToUserName><![CDATA[{WECHAT_GH}]]></ToUserName><FromUserName><![CDATA[{OPENID}]]></FromUserName>\
         <CreateTime>{}</CreateTime><MsgType><![CDATA[miniprogrampage]]></MsgType><MsgId>4004</MsgId></xml>",
        now()
    );
    let response = post(&app, "plain", &query(WECHAT_TOKEN, now(), "n7"), xml).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "success");
    let letters = app.consume_dead_letters(1);
    assert_eq!(letters.len(), 1);
    assert_valid_dead_letter(&letters[0].value);
    assert!(letters[0].value["raw"]["body"]
        .as_str()
        .unwrap()
        .contains("miniprogrampage"));
    app.gateway.unwrap().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_foreign_truncated_and_hostile_pushes_get_4xx() {
    let app = spawn_app(true).await;
    let xml = text_xml(WECHAT_GH, 5005, "测试");
    let status = |r: reqwest::Response| r.status().as_u16();
    assert_eq!(
        status(post(&app, "plain", &query("forged", now(), "n"), xml.clone()).await),
        401,
        "forged signature"
    );
    assert_eq!(
        status(
            post(
                &app,
                "plain",
                &query(WECHAT_TOKEN, now() - 3600, "n"),
                xml.clone()
            )
            .await
        ),
        401,
        "stale"
    );
    assert_eq!(
        status(
            post(
                &app,
                "plain",
                &query(WECHAT_TOKEN, now(), "n"),
                text_xml("gh_other", 1, "x")
            )
            .await
        ),
        401,
        "wrong account"
    );
    assert_eq!(
        status(
            post(
                &app,
                "nobody",
                &query(WECHAT_TOKEN, now(), "n"),
                xml.clone()
            )
            .await
        ),
        404,
        "unknown account"
    );
    assert_eq!(
        status(post_safe(&app, &xml, "wx_someone_else").await),
        401,
        "wrong app id"
    );
    assert_eq!(
        status(post(&app, "safe", &query(SAFE_TOKEN, now(), "n"), xml.clone()).await),
        401,
        "plaintext push to an encrypted account"
    );
    // Truncated ciphertext, correctly signed: the decryptor refuses it cleanly.
    let key = AesKey::from_encoding_aes_key(SAFE_AES_KEY).unwrap();
    let full = encrypt(&key, SAFE_APP_ID, &xml, [7; 16]).unwrap();
    let truncated = &full[..full.len() - 24];
    let (ts, nonce) = (now(), "99");
    let q = format!(
        "{}&encrypt_type=aes&msg_signature={}",
        query(SAFE_TOKEN, ts, nonce),
        sha1_signature(&[SAFE_TOKEN, &ts.to_string(), nonce, truncated])
    );
    let r = post(
        &app,
        "safe",
        &q,
        format!("<xml><ToUserName>gh_safe</ToUserName><Encrypt>{truncated}</Encrypt></xml>"),
    )
    .await;
    assert!(
        r.status().is_client_error(),
        "truncated ciphertext: {}",
        r.status()
    );
    let xxe = format!("<?xml version=\"1.0\"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><xml><ToUserName>{WECHAT_GH}</ToUserName><FromUserName>{OPENID}</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&xxe;</Content><MsgId>1</MsgId></xml>");
    let r = post(&app, "plain", &query(WECHAT_TOKEN, now(), "n"), xxe).await;
    assert_eq!(r.status(), 400, "XXE");
    let v: Value = r.json().await.unwrap();
    assert!(
        !v["reason"].as_str().unwrap().contains("root:"),
        "no file content leaks"
    );
    let laughs = "<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;\">]><xml><Content>&lol2;</Content></xml>".to_string();
    assert_eq!(
        status(post(&app, "plain", &query(WECHAT_TOKEN, now(), "n"), laughs).await),
        400,
        "billion laughs"
    );
    let ten_mb = post_oversized(
        &app.base,
        &format!("/hooks/wechat/plain?{}", query(WECHAT_TOKEN, now(), "n")),
        "text/xml",
        10 * 1024 * 1024,
        300 * 1024,
    )
    .await;
    assert_eq!(ten_mb, 413, "10 MB body");
    assert!(
        app.consume_requests(0).is_empty(),
        "nothing hostile was published"
    );
    app.gateway.unwrap().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compatible_mode_push_trusts_the_encrypted_copy_and_replies_encrypted() {
    let app = spawn_app(true).await;
    let key = AesKey::from_encoding_aes_key(SAFE_AES_KEY).unwrap();
    let inner = text_xml("gh_safe", 7007, "暖气不热");
    let encrypted = encrypt(&key, SAFE_APP_ID, &inner, [9; 16]).unwrap();
    let (ts, nonce) = (now(), "5551212");
    let q = format!(
        "{}&encrypt_type=aes&msg_signature={}",
        query(SAFE_TOKEN, ts, nonce),
        sha1_signature(&[SAFE_TOKEN, &ts.to_string(), nonce, &encrypted])
    );
    // 兼容模式: the plaintext fields ride along (here tampered with), the Encrypt copy decides.
    let body = format!(
        "<xml><ToUserName><![CDATA[gh_safe]]></ToUserName><FromUserName><![CDATA[{OPENID}]]></FromUserName>\
         <CreateTime>{ts}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[forged outer text]]></Content>\
         <MsgId>7007</MsgId><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    );
    let response = post(&app, "safe", &q, body).await;
    assert_eq!(response.status(), 200);
    let reply_xml = open_reply(&response.text().await.unwrap());
    let reply = parse_xml(&reply_xml).unwrap();
    let records = app.consume_requests(1);
    assert_eq!(records.len(), 1);
    assert_valid_request(&records[0].value);
    assert_eq!(records[0].value["content"]["text"], "暖气不热");
    assert!(reply
        .get("Content")
        .unwrap()
        .contains(records[0].value["tracking_no"].as_str().unwrap()));
    app.gateway.unwrap().shutdown().await;
}
