//! `intake-echo`: the bare axum baseline of `tests/bench.sh`.
//!
//! The performance goals are ratios to "what this HTTP stack can do at all on this machine":
//! the same axum and tokio versions, the same runtime flavour, one handler that reads the whole
//! body and answers its length. Measured in the same run as the gateway, with the same load
//! generator, the ratio cancels out the machine and the generator's own cost.

use axum::body::Bytes;
use axum::Router;
use std::net::SocketAddr;

/// The only handler: reads the body (as the gateway must) and answers its length.
async fn echo(body: Bytes) -> String {
    body.len().to_string()
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listen: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18081".into())
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    if !listen.ip().is_loopback() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "intake-echo listens on loopback only",
        ));
    }
    let app = Router::new().fallback(echo);
    let listener = tokio::net::TcpListener::bind(listen).await?;
    axum::serve(listener, app).await
}
