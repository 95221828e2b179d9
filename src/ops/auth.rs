//! Optional credentials on the operations listener: `ops.token` (bearer) and/or `ops.basic`.
//!
//! `/healthz` and `/readyz` stay open, because load balancers and kubelets probe them without
//! credentials. Everything else (metrics, the page, its API) needs one of the configured
//! credentials once any is set. The page is opened as `/ops?token=...`; its script then sends
//! the same token as a bearer header on every poll.

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use subtle::ConstantTimeEq;

use crate::config::OpsConfig;

/// What the ops listener accepts; empty = no credentials required (loopback default).
#[derive(Clone, Default)]
pub struct OpsAuth {
    token: Option<String>,
    basic: Option<(String, String)>,
}

impl OpsAuth {
    /// From `[ops]`.
    pub fn from_config(ops: &OpsConfig) -> Self {
        OpsAuth {
            token: ops.token.as_ref().map(|t| t.expose().to_string()),
            basic: ops
                .basic
                .as_ref()
                .map(|b| (b.username.clone(), b.password.expose().to_string())),
        }
    }

    /// True when no credential is configured.
    pub fn is_open(&self) -> bool {
        self.token.is_none() && self.basic.is_none()
    }

    fn allows(&self, request: &Request) -> bool {
        if self.is_open() {
            return true;
        }
        let path = request.uri().path();
        if path == "/healthz" || path == "/readyz" {
            return true;
        }
        let authorization = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if let (Some(token), Some(given)) = (&self.token, authorization.strip_prefix("Bearer ")) {
            if eq(token, given.trim()) {
                return true;
            }
        }
        if let (Some((user, password)), Some(given)) =
            (&self.basic, authorization.strip_prefix("Basic "))
        {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(given.trim())
                .ok()
                .and_then(|d| String::from_utf8(d).ok());
            if let Some((u, p)) = decoded.as_deref().and_then(|d| d.split_once(':')) {
                if eq(user, u) & eq(password, p) {
                    return true;
                }
            }
        }
        // Only the page takes the token from the URL: a browser cannot set a header on it.
        if let (Some(token), "/ops") = (&self.token, path) {
            let query = request.uri().query().unwrap_or("");
            return form_urlencoded_token(query).is_some_and(|t| eq(token, &t));
        }
        false
    }
}

fn eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

fn form_urlencoded_token(query: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
}

/// The middleware: 401 with a `WWW-Authenticate` challenge when credentials are missing or wrong.
pub async fn require(State(auth): State<OpsAuth>, request: Request, next: Next) -> Response {
    if auth.allows(&request) {
        return next.run(request).await;
    }
    let challenge = if auth.basic.is_some() {
        "Basic realm=\"intake-gateway ops\""
    } else {
        "Bearer realm=\"intake-gateway ops\""
    };
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, challenge)],
        "credentials required: Authorization: Bearer <ops.token> (or ?token= on /ops)\n",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{OpsBasicAuth, Secret};

    fn req(path: &str, auth: Option<&str>) -> Request {
        let mut b = Request::builder().uri(path);
        if let Some(a) = auth {
            b = b.header(header::AUTHORIZATION, a);
        }
        b.body(axum::body::Body::empty()).unwrap()
    }

    #[test]
    fn token_and_basic_guard_all_but_health() {
        let auth = OpsAuth::from_config(&OpsConfig {
            token: Some(Secret::from("0123456789abcdef")),
            basic: Some(OpsBasicAuth {
                username: "ops".into(),
                password: Secret::from("pw"),
            }),
            ..OpsConfig::default()
        });
        assert!(auth.allows(&req("/healthz", None)));
        assert!(auth.allows(&req("/readyz", None)));
        assert!(!auth.allows(&req("/metrics", None)));
        assert!(!auth.allows(&req("/ops/api/stats", Some("Bearer nope"))));
        assert!(auth.allows(&req("/ops/api/stats", Some("Bearer 0123456789abcdef"))));
        assert!(auth.allows(&req("/metrics", Some("Basic b3BzOnB3"))));
        assert!(!auth.allows(&req("/metrics", Some("Basic b3BzOnB4"))));
        assert!(auth.allows(&req("/ops?token=0123456789abcdef", None)));
        assert!(!auth.allows(&req("/ops/api/stats?token=0123456789abcdef", None)));
        assert!(OpsAuth::default().allows(&req("/metrics", None)));
    }
}
