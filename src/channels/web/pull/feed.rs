//! One page of a partner's feed: `GET {url}?{cursor_param}={cursor}&limit={page_size}`,
//! answered `200 {"posts": [...], "next_cursor": "..."}`.

use serde::Deserialize;
use serde_json::value::RawValue;
use std::time::Duration;

use super::config::{PullAuth, PullConfig};
use crate::outbound::Outbound;

/// A fetched page.
#[derive(Deserialize)]
pub struct Page {
    /// The posts, raw, each exactly as a push would carry it.
    pub posts: Vec<Box<RawValue>>,
    /// Where the next request starts; absent or null keeps the current cursor.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// Why a fetch failed (retried with backoff; counted against the circuit breaker).
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Connect error, timeout, reset.
    #[error("feed unreachable: {0}")]
    Network(&'static str),
    /// A status other than 200.
    #[error("feed answered {0}")]
    Status(u16),
    /// A 200 whose body is not the contract's shape.
    #[error("feed answered a body that is not {{\"posts\": [...], \"next_cursor\": ...}}")]
    Body,
}

/// The HTTP client of every feed: HTTPS verified against the system's trust store plus
/// `outbound.ca_file`, like every outbound call.
pub fn client(outbound: &Outbound, timeout: Duration) -> reqwest::Result<reqwest::Client> {
    outbound
        .builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .user_agent(concat!("intake-gateway/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// The request target (`/path?query`) for `cursor`, as signed by `hmac` auth.
pub fn target(cfg: &PullConfig, cursor: Option<&str>) -> Result<reqwest::Url, String> {
    let mut url = reqwest::Url::parse(&cfg.url).map_err(|e| e.to_string())?;
    {
        let mut q = url.query_pairs_mut();
        if let Some(c) = cursor {
            q.append_pair(&cfg.cursor_param, c);
        }
        q.append_pair("limit", &cfg.page_size.to_string());
    }
    Ok(url)
}

/// Fetches one page.
pub async fn fetch(
    client: &reqwest::Client,
    cfg: &PullConfig,
    cursor: Option<&str>,
) -> Result<Page, FetchError> {
    let url = target(cfg, cursor).map_err(|_| FetchError::Network("bad url"))?;
    let mut request = client.get(url.clone());
    match &cfg.auth {
        PullAuth::Bearer(token) => request = request.bearer_auth(token.expose()),
        PullAuth::Hmac(secret) => {
            let ts = chrono::Utc::now().timestamp().to_string();
            let signed = match url.query() {
                Some(q) => format!("{}?{q}", url.path()),
                None => url.path().to_string(),
            };
            let sig = intake_adapter::signature::hmac_sha256_hex(
                secret.expose().as_bytes(),
                &[ts.as_bytes(), b".", signed.as_bytes()],
            );
            request = request
                .header("x-intake-timestamp", ts)
                .header("x-intake-signature", format!("v1={sig}"));
        }
    }
    let response = request.send().await.map_err(|e| {
        FetchError::Network(if e.is_timeout() {
            "timed out"
        } else if e.is_connect() {
            "connection failed"
        } else {
            "request failed"
        })
    })?;
    if response.status() != reqwest::StatusCode::OK {
        return Err(FetchError::Status(response.status().as_u16()));
    }
    let body = response
        .bytes()
        .await
        .map_err(|_| FetchError::Network("body interrupted"))?;
    serde_json::from_slice(&body).map_err(|_| FetchError::Body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_call_has_no_cursor_and_later_ones_carry_it_encoded() {
        let cfg: PullConfig = toml::from_str(
            "url = \"https://feed.example.cn/api/feed?token=1\"\nauth = { bearer = \"T\" }\ncursor_param = \"after\"\npage_size = 50\n",
        )
        .unwrap();
        assert_eq!(
            target(&cfg, None).unwrap().as_str(),
            "https://feed.example.cn/api/feed?token=1&limit=50"
        );
        assert_eq!(
            target(&cfg, Some("a b&c")).unwrap().query(),
            Some("token=1&after=a+b%26c&limit=50")
        );
    }
}
