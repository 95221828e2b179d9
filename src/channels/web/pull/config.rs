//! `[channels.web.partners.<name>.pull]`: a partner that cannot push publishes a feed we poll.

use serde::{Deserialize, Serialize};
use std::time::Duration;

use crate::config::Secret;

/// How to poll one partner's feed.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PullConfig {
    /// The feed URL (HTTPS in production; the query string is added by the gateway).
    pub url: String,
    /// How long to wait after a caught-up (empty) page before asking again.
    #[serde(default = "default_interval", with = "humantime_serde")]
    pub interval: Duration,
    /// How each request authenticates.
    pub auth: PullAuth,
    /// The query parameter that carries the cursor.
    #[serde(default = "default_cursor_param")]
    pub cursor_param: String,
    /// Posts per page asked for (`limit`); at most the partner's `max_posts`.
    #[serde(default = "default_page_size")]
    pub page_size: usize,
    /// Timeout of one feed request.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

/// `auth = { bearer = "TOKEN" }` or `auth = { hmac = "SECRET" }`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum PullAuth {
    /// `Authorization: Bearer <token>`.
    Bearer(Secret),
    /// `X-Intake-Timestamp` and `X-Intake-Signature: v1=hex(HMAC-SHA256(secret,
    /// "{timestamp}.{path}?{query}"))`, the push signature over the request target.
    Hmac(Secret),
}

fn default_interval() -> Duration {
    Duration::from_secs(30)
}

fn default_cursor_param() -> String {
    "cursor".into()
}

fn default_page_size() -> usize {
    100
}

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}

impl PullConfig {
    /// Refuses what cannot work, at start rather than at the first poll.
    pub fn validate(&self, partner: &str, max_posts: usize) -> Result<(), String> {
        let table = format!("channels.web.partners.{partner}.pull");
        let parsed = reqwest::Url::parse(&self.url)
            .map_err(|e| format!("{table}.url {:?}: {e}", self.url))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!("{table}.url must be http(s)"));
        }
        if self.page_size == 0 || self.page_size > max_posts {
            return Err(format!("{table}.page_size must be 1..={max_posts}"));
        }
        if self.cursor_param.is_empty() || self.cursor_param == "limit" {
            return Err(format!(
                "{table}.cursor_param must be a name other than limit"
            ));
        }
        let secret = match &self.auth {
            PullAuth::Bearer(s) | PullAuth::Hmac(s) => s,
        };
        if secret.expose().is_empty() {
            return Err(format!("{table}.auth: the token or secret is empty"));
        }
        if self.interval.is_zero() {
            return Err(format!("{table}.interval must be positive"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_shapes_parse_with_defaults_and_bad_ones_are_refused() {
        let c: PullConfig =
            toml::from_str("url = \"https://feed.example.cn/x\"\nauth = { bearer = \"T\" }\n")
                .unwrap();
        assert_eq!(c.interval, Duration::from_secs(30));
        assert_eq!((c.cursor_param.as_str(), c.page_size), ("cursor", 100));
        assert!(matches!(c.auth, PullAuth::Bearer(ref s) if s.expose() == "T"));
        assert_eq!(c.validate("p", 500), Ok(()));
        let c: PullConfig = toml::from_str(
            "url = \"ftp://x\"\nauth = { hmac = \"S\" }\ninterval = \"5s\"\npage_size = 10\n",
        )
        .unwrap();
        assert!(c.validate("p", 500).unwrap_err().contains("http(s)"));
        assert!(
            toml::from_str::<PullConfig>("url = \"https://x\"\nauth = { basic = \"S\" }\n")
                .is_err()
        );
        assert!(toml::from_str::<PullConfig>(
            "url = \"https://x\"\nauth = { bearer = \"S\" }\nsurprise = 1\n"
        )
        .is_err());
        let big: PullConfig =
            toml::from_str("url = \"https://x\"\nauth = { bearer = \"S\" }\npage_size = 600\n")
                .unwrap();
        assert!(big.validate("p", 500).unwrap_err().contains("page_size"));
    }
}
