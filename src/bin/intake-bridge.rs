//! `intake-bridge`: the "plain webhook → Kafka bridge" of `tests/bench.sh`.
//!
//! The performance issue compares the gateway with an open-source Rust bridge: axum and rdkafka,
//! a 2xx only after the delivery report, no dedup and no parsing beyond JSON. That bridge's
//! source is not reachable from here, so this is one built the same way, with the same axum,
//! tokio and rdkafka as the gateway and librdkafka's defaults plus idempotence (acks=all). It
//! takes any path and body, checks that a JSON body is JSON, sends the body as it came with a
//! random key, and answers once the broker acknowledged it. It does none of what the gateway
//! does besides: no signature, no adapter, no record, no dedup, no limits, no metrics, no logs.
//!
//! `intake-bridge LISTEN BROKERS TOPIC` (loopback only, like the echo baseline).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Router;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

struct Bridge {
    producer: FutureProducer,
    topic: String,
}

/// The only handler: JSON bodies must parse; every body goes to the topic; 200 after the ack.
async fn forward(
    State(bridge): State<Arc<Bridge>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let json = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.contains("json"));
    if json && serde_json::from_slice::<serde::de::IgnoredAny>(&body).is_err() {
        return (StatusCode::BAD_REQUEST, "{\"error\":\"not JSON\"}");
    }
    let key = uuid::Uuid::new_v4().simple().to_string();
    let record = FutureRecord::to(&bridge.topic)
        .key(key.as_bytes())
        .payload(&body[..]);
    match bridge.producer.send(record, Duration::from_secs(5)).await {
        Ok(_) => (StatusCode::OK, "{\"status\":\"ok\"}"),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "{\"error\":\"not delivered\"}",
        ),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: intake-bridge LISTEN BROKERS TOPIC";
    let listen: SocketAddr = args.next().ok_or(usage)?.parse()?;
    let brokers = args.next().ok_or(usage)?;
    let topic = args.next().ok_or(usage)?;
    if !listen.ip().is_loopback() {
        return Err("intake-bridge listens on loopback only".into());
    }
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .create()?;
    let app = Router::new()
        .fallback(forward)
        .with_state(Arc::new(Bridge { producer, topic }));
    let listener = tokio::net::TcpListener::bind(listen).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
