//! From HTTP body to what a dialect parser reads: JSON text, or name/value fields.
//!
//! The content type decides, because FreeSWITCH's three encodings differ only there:
//! `application/json`, `application/x-www-form-urlencoded` (`cdr=<url-encoded JSON>`) and
//! `application/x-www-form-base64-encoded` (`cdr=<base64 JSON>`). The last one must never go
//! through a form decoder: its `+` characters are base64 data, not spaces.

use base64::Engine;
use intake_adapter::json::{check_json_depth, MAX_JSON_DEPTH};
use intake_adapter::{AdapterError, Inbound};

use crate::fields::{disposition_param, Fields};
use crate::SourceKind;

/// The content type FreeSWITCH's `mod_json_cdr` sends with `encode=base64`.
pub const FORM_BASE64: &str = "application/x-www-form-base64-encoded";

/// A body ready for a dialect parser.
#[derive(Debug)]
pub(crate) enum Payload {
    /// JSON text, already checked for depth.
    Json(String),
    /// Form or multipart fields.
    Fields(Fields),
}

/// Decodes the body of `inbound` for a source of `kind`.
pub(crate) fn decode(inbound: &Inbound, kind: SourceKind) -> Result<Payload, AdapterError> {
    let media = inbound.media_type().unwrap_or_default();
    let media = if media.is_empty() {
        sniff(inbound.body)
    } else {
        media
    };
    match media.as_str() {
        "application/json" | "text/json" => json_text(inbound.body).map(Payload::Json),
        "application/x-www-form-urlencoded" if kind == SourceKind::Freeswitch => {
            let fields = Fields::from_form(inbound.body);
            let cdr = fields
                .get("cdr")
                .ok_or_else(|| AdapterError::Malformed("form body has no cdr field".into()))?;
            json_text(cdr.as_bytes()).map(Payload::Json)
        }
        "application/x-www-form-urlencoded" => Ok(Payload::Fields(Fields::from_form(inbound.body))),
        FORM_BASE64 if kind == SourceKind::Freeswitch => {
            base64_cdr(inbound.body).map(Payload::Json)
        }
        "multipart/form-data" if kind != SourceKind::Freeswitch => {
            let boundary = inbound
                .content_type()
                .and_then(|ct| disposition_param(ct, "boundary"))
                .ok_or_else(|| AdapterError::Malformed("multipart body without boundary".into()))?;
            Fields::from_multipart(inbound.body, boundary)
                .map(Payload::Fields)
                .ok_or_else(|| AdapterError::Malformed("unreadable multipart body".into()))
        }
        other => Err(AdapterError::UnsupportedMediaType(format!(
            "{other}; send {}",
            accepted(kind)
        ))),
    }
}

/// What each dialect may send, for the 415 answer.
fn accepted(kind: SourceKind) -> &'static str {
    match kind {
        SourceKind::Freeswitch => {
            "application/json, application/x-www-form-urlencoded or application/x-www-form-base64-encoded"
        }
        _ => "application/json, application/x-www-form-urlencoded or multipart/form-data",
    }
}

/// A media type for a body sent without Content-Type: JSON when it looks like JSON, else a
/// form (what curl sends for `-d`).
fn sniff(body: &[u8]) -> String {
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') | Some(b'[') => "application/json",
        _ => "application/x-www-form-urlencoded",
    }
    .to_string()
}

/// Checked JSON text: valid UTF-8 and not nested deeper than the shared limit.
fn json_text(bytes: &[u8]) -> Result<String, AdapterError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| AdapterError::Encoding("JSON body is not valid UTF-8".into()))?;
    check_json_depth(text, MAX_JSON_DEPTH)?;
    Ok(text.to_string())
}

/// The JSON inside `cdr=<base64>`. Whitespace is tolerated (some proxies fold long bodies)
/// and so is missing padding.
fn base64_cdr(body: &[u8]) -> Result<String, AdapterError> {
    let value = body.strip_prefix(b"cdr=").unwrap_or(body);
    // Never form-decode this body; `%` does not occur in base64, but a proxy may have
    // percent-escaped `+`, `/` and `=`.
    let compact: Vec<u8> = percent_encoding::percent_decode(value)
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let trimmed = compact
        .iter()
        .rposition(|b| *b != b'=')
        .map_or(&compact[..0], |end| &compact[..=end]);
    let decoded = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(trimmed)
        .map_err(|_| AdapterError::Malformed("cdr is not valid base64".into()))?;
    json_text(&decoded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    fn run(ct: Option<&str>, body: &[u8], kind: SourceKind) -> Result<Payload, AdapterError> {
        let headers: Vec<(&str, &str)> = ct.map(|c| ("Content-Type", c)).into_iter().collect();
        let headers: &[(&str, &str)] = &headers;
        let inbound = Inbound {
            method: "POST",
            query: "",
            headers: &headers,
            body,
            now: DateTime::from_timestamp(0, 0).unwrap_or_default(),
            peer: None,
            trace_id: "0",
        };
        decode(&inbound, kind)
    }

    fn json(p: Result<Payload, AdapterError>) -> String {
        match p {
            Ok(Payload::Json(t)) => t,
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn freeswitch_encodings() {
        let fs = SourceKind::Freeswitch;
        let raw = r#"{"a":"+86 1"}"#;
        assert_eq!(json(run(Some("application/json"), raw.as_bytes(), fs)), raw);
        let form = "cdr=%7B%22a%22%3A%22%2B86%201%22%7D";
        assert_eq!(
            json(run(
                Some("application/x-www-form-urlencoded"),
                form.as_bytes(),
                fs
            )),
            raw
        );
        let b64 = format!(
            "cdr={}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        );
        assert_eq!(json(run(Some(FORM_BASE64), b64.as_bytes(), fs)), raw);
        assert!(run(Some(FORM_BASE64), b"cdr=!!", fs).is_err());
        assert!(matches!(
            run(Some("text/plain"), b"x", fs),
            Err(AdapterError::UnsupportedMediaType(_))
        ));
        assert!(run(Some(FORM_BASE64), b"cdr=e30=", SourceKind::Generic).is_err());
    }

    #[test]
    fn sniffing_and_limits() {
        assert_eq!(json(run(None, b" {}", SourceKind::Generic)), " {}");
        assert!(matches!(
            run(None, b"event=hangup", SourceKind::Generic),
            Ok(Payload::Fields(_))
        ));
        let deep = "[".repeat(100);
        assert!(run(
            Some("application/json"),
            deep.as_bytes(),
            SourceKind::Kamailio
        )
        .is_err());
        assert!(matches!(
            run(
                Some("application/json"),
                &[0xff, 0xfe],
                SourceKind::Kamailio
            ),
            Err(AdapterError::Encoding(_))
        ));
        assert!(run(Some("multipart/form-data"), b"", SourceKind::Generic).is_err());
    }
}
