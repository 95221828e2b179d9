//! Who may post: a token (query parameter or bearer) or HTTP basic credentials.
//!
//! PBXes cannot sign bodies: FreeSWITCH and Kamailio hand libcurl a `user:password`, Asterisk's
//! `CURL()` and most CTI servers can only put a token in the URL. Every comparison is constant
//! time and every presented credential is checked, so timing tells nothing about which part
//! was wrong.

use base64::Engine;
use intake_adapter::signature::secrets_equal;
use intake_adapter::{AdapterError, Inbound};

use crate::Source;

/// Checks the request's credentials against `source`: the `token` query parameter or an
/// `Authorization: Bearer` header when a token is configured, `Authorization: Basic` when a
/// user name and password are.
pub fn authenticate(inbound: &Inbound, source: &Source) -> Result<(), AdapterError> {
    if !source.enabled() {
        return Err(AdapterError::Unauthorized(
            "this call source has no token or username/password configured".into(),
        ));
    }
    let authorization = inbound.headers.get("authorization").map(str::trim);
    let mut presented = false;
    let mut matched = false;
    if let Some(token) = source.token() {
        if let Some(query) = inbound.query_param("token") {
            presented = true;
            // mod_json_cdr appends `?uuid=<uuid>` to the configured URL, so a URL ending in
            // `?token=abc` arrives as `token=abc?uuid=...`; a token never contains `?`.
            let query = query.split('?').next().unwrap_or("");
            matched |= secrets_equal(query.as_bytes(), token.as_bytes());
        }
        if let Some(bearer) = authorization.and_then(|h| scheme_value(h, "bearer")) {
            presented = true;
            matched |= secrets_equal(bearer.as_bytes(), token.as_bytes());
        }
    }
    if let Some((user, password)) = source.basic_credentials() {
        if let Some((u, p)) = authorization
            .and_then(|h| scheme_value(h, "basic"))
            .and_then(basic_pair)
        {
            presented = true;
            // `&` rather than `&&`: both halves are always compared.
            matched |= secrets_equal(u.as_bytes(), user.as_bytes())
                & secrets_equal(p.as_bytes(), password.as_bytes());
        }
    }
    match (presented, matched) {
        (_, true) => Ok(()),
        (false, false) => Err(AdapterError::Unauthorized(
            "no credentials: send ?token=, Authorization: Bearer or Authorization: Basic".into(),
        )),
        (true, false) => Err(AdapterError::Unauthorized(
            "credentials do not match".into(),
        )),
    }
}

/// The value after `scheme ` in an Authorization header, scheme compared case-insensitively.
fn scheme_value<'a>(header: &'a str, scheme: &str) -> Option<&'a str> {
    let (name, value) = header.split_once(' ')?;
    name.eq_ignore_ascii_case(scheme).then(|| value.trim())
}

/// `user:password` from the base64 of a Basic header.
fn basic_pair(encoded: &str) -> Option<(String, String)> {
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.as_bytes())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SourceKind;
    use chrono::DateTime;

    fn check(query: &str, headers: &[(&str, &str)], source: &Source) -> Result<(), AdapterError> {
        let inbound = Inbound {
            method: "POST",
            query,
            headers: &headers,
            body: b"",
            now: DateTime::from_timestamp(0, 0).unwrap_or_default(),
            peer: None,
            trace_id: "0",
        };
        authenticate(&inbound, source)
    }

    fn source() -> Source {
        Source {
            token: Some("t0k".into()),
            username: Some("fs".into()),
            password: Some("pw".into()),
            ..Source::new("pbx1", SourceKind::Freeswitch)
        }
    }

    #[test]
    fn token_bearer_and_basic() {
        let s = source();
        assert!(check("token=t0k", &[], &s).is_ok());
        assert!(check("token=t0k?uuid=abc", &[], &s).is_ok());
        assert!(check("", &[("Authorization", "Bearer t0k")], &s).is_ok());
        // "fs:pw"
        assert!(check("", &[("Authorization", "basic ZnM6cHc=")], &s).is_ok());
        // "fs:px"
        assert!(check("", &[("Authorization", "Basic ZnM6cHg=")], &s).is_err());
        assert!(check("token=t0K", &[], &s).is_err());
        assert!(check("", &[], &s).is_err());
        assert!(check("", &[("Authorization", "Basic !!!")], &s).is_err());
    }

    #[test]
    fn a_source_without_secrets_refuses_everything() {
        let s = Source::new("off", SourceKind::Generic);
        assert!(check("token=", &[], &s).is_err());
        let token_only = Source {
            token: Some("t".into()),
            ..Source::new("t", SourceKind::Generic)
        };
        // Basic is not accepted when only a token is configured.
        assert!(check("", &[("Authorization", "Basic ZnM6cHc=")], &token_only).is_err());
    }
}
