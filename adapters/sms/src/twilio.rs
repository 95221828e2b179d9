//! Twilio Messaging webhook: form fields `MessageSid, From, To, Body, NumMedia, MediaUrl{N},
//! MediaContentType{N}, …`, signed with `X-Twilio-Signature`.
//!
//! The signature is base64(HMAC-SHA1(auth token, URL + every POST parameter name and value,
//! sorted by name; a repeated name contributes its distinct values sorted)). The URL is the one
//! Twilio called, query included; behind our proxy that is `public_url` + the request's path and
//! raw query. Twilio's own validators accept the URL with and without the default port, since
//! its back end signs inconsistently; so do we.

use base64::Engine;
use hmac::{Hmac, Mac};
use intake_adapter::signature::secrets_equal;
use intake_adapter::AdapterError;
use intake_schema::{Attachment, AttachmentKind, RawPayload};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::form::Form;
use crate::message::{Body, Ctx, Mo};
use crate::{Call, Delivery, ProviderKind};

/// The signature header.
pub const SIGNATURE_HEADER: &str = "x-twilio-signature";
/// Twilio attaches at most 10 media to one message.
const MAX_MEDIA: usize = 10;

/// base64(HMAC-SHA1(`auth_token`, `url` + sorted `params`)), exactly as Twilio computes it.
pub fn twilio_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut names: Vec<&str> = params.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let mut data = url.to_string();
    for name in names {
        let mut values: Vec<&str> = params
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect();
        values.sort_unstable();
        values.dedup();
        for value in values {
            data.push_str(name);
            data.push_str(value);
        }
    }
    // HMAC accepts keys of any length; the error arm cannot happen but must not panic either.
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()) else {
        return String::new();
    };
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// True when `provided` is the signature of `url` (with or without its default port) and
/// `params`, compared in constant time. A JSON-body webhook signs `url` (carrying
/// `bodySHA256=<hex SHA-256 of the body>`) with no params: pass the body as `json_body` then.
pub fn twilio_signature_matches(
    auth_token: &str,
    url: &str,
    params: &[(String, String)],
    json_body: Option<&[u8]>,
    provided: &str,
) -> bool {
    let mut body_ok = true;
    let mut params = params;
    if let Some(body) = json_body {
        let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
        let claimed = Form::parse(query.as_bytes())
            .bytes("bodySHA256")
            .map(<[u8]>::to_vec)
            .unwrap_or_default();
        let actual = hex::encode(Sha256::digest(body));
        body_ok = secrets_equal(&claimed, actual.as_bytes());
        params = &[];
    }
    let mut matched = false;
    for candidate in port_variants(url) {
        let expected = twilio_signature(auth_token, &candidate, params);
        matched |= secrets_equal(expected.as_bytes(), provided.trim().as_bytes());
    }
    body_ok && matched
}

/// The URL without any port, and with its port (the default one added when absent).
fn port_variants(url: &str) -> Vec<String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return vec![url.to_string()];
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let host_start = authority.rfind('@').map_or(0, |i| i + 1);
    let (userinfo, hostport) = authority.split_at(host_start);
    let port_at = match hostport.rfind(':') {
        Some(i) if !hostport[i..].contains(']') => Some(i),
        _ => None,
    };
    let host = port_at.map_or(hostport, |i| &hostport[..i]);
    let default = if scheme.eq_ignore_ascii_case("https") {
        "443"
    } else {
        "80"
    };
    let port = port_at.map_or(default, |i| &hostport[i + 1..]);
    let without = format!("{scheme}://{userinfo}{host}{tail}");
    let with = format!("{scheme}://{userinfo}{host}:{port}{tail}");
    vec![without, with]
}

pub(crate) fn handle(call: &Call, ctx: &Ctx) -> Result<Delivery, AdapterError> {
    let inbound = call.inbound;
    let (Some(token), Some(base)) = (
        ctx.provider.auth_token.as_deref().filter(|t| !t.is_empty()),
        ctx.provider.public_url.as_deref().filter(|u| !u.is_empty()),
    ) else {
        return Err(AdapterError::Unauthorized(
            "provider has no auth_token/public_url configured".into(),
        ));
    };
    let (form, signed, raw) = match inbound.method {
        "POST" => {
            if let Some(mt) = inbound.media_type() {
                if mt != "application/x-www-form-urlencoded" {
                    return Err(AdapterError::UnsupportedMediaType(format!(
                        "{mt}; Twilio posts application/x-www-form-urlencoded"
                    )));
                }
            }
            let form = Form::parse(inbound.body);
            let signed = utf8_pairs(&form)?;
            let raw = RawPayload::capture(inbound.content_type(), inbound.body);
            (form, signed, raw)
        }
        // A GET webhook carries the fields in the (signed) URL itself.
        "GET" => (
            Form::parse(inbound.query.as_bytes()),
            Vec::new(),
            RawPayload::capture_text(Some("application/x-www-form-urlencoded"), inbound.query),
        ),
        other => {
            return Err(AdapterError::Malformed(format!(
                "method {other} not supported"
            )))
        }
    };
    let provided = inbound
        .headers
        .get(SIGNATURE_HEADER)
        .ok_or_else(|| AdapterError::Unauthorized("missing X-Twilio-Signature".into()))?;
    let path = call.path_and_query;
    let url = format!(
        "{}{}{}",
        base.trim_end_matches('/'),
        if path.starts_with('/') { "" } else { "/" },
        path
    );
    if !twilio_signature_matches(token, &url, &signed, None, provided) {
        return Err(AdapterError::Unauthorized(
            "X-Twilio-Signature does not match".into(),
        ));
    }
    let sid = form
        .non_empty("MessageSid")?
        .or(form.non_empty("SmsSid")?)
        .ok_or_else(|| AdapterError::Malformed("missing MessageSid".into()))?;
    let from = form
        .non_empty("From")?
        .ok_or_else(|| AdapterError::Malformed("missing From".into()))?;
    let mo = Mo {
        message_id: sid,
        sender: from,
        destination: form.non_empty("To")?,
        body: Body::Text(form.text("Body")?.unwrap_or_default()),
        occurred_at: None,
        concat: None,
        attachments: media(&form)?,
        raw,
    };
    let mut delivery = Delivery::new(ProviderKind::Twilio);
    let (item, reason) = mo.settle(ctx);
    delivery.push(item, reason);
    Ok(delivery)
}

fn utf8_pairs(form: &Form) -> Result<Vec<(String, String)>, AdapterError> {
    form.pairs()
        .iter()
        .map(|(n, v)| {
            String::from_utf8(v.clone())
                .map(|v| (n.clone(), v))
                .map_err(|_| AdapterError::Malformed(format!("field {n} is not UTF-8")))
        })
        .collect()
}

/// `MediaUrl{N}` / `MediaContentType{N}` as attachments, by the media's type.
fn media(form: &Form) -> Result<Vec<Attachment>, AdapterError> {
    let count = form
        .non_empty("NumMedia")?
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(0)
        .min(MAX_MEDIA);
    let mut out = Vec::new();
    for i in 0..count {
        let Some(url) = form.non_empty(&format!("MediaUrl{i}"))? else {
            continue;
        };
        let mime = form.non_empty(&format!("MediaContentType{i}"))?;
        let kind = match mime.as_deref().and_then(|m| m.split('/').next()) {
            Some("image") => AttachmentKind::Image,
            Some("video") => AttachmentKind::Video,
            Some("audio") => AttachmentKind::Voice,
            _ => AttachmentKind::File,
        };
        out.push(Attachment {
            kind,
            reference: url,
            mime,
            duration: None,
            title: None,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// twilio-python `tests/unit/test_request_validator.py`.
    const TOKEN: &str = "12345";
    const URI: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";

    fn params() -> Vec<(String, String)> {
        [
            ("CallSid", "CA1234567890ABCDE"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
            ("Caller", "+14158675309"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn compute_signature() {
        assert_eq!(
            twilio_signature(TOKEN, URI, &params()),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        );
    }

    #[test]
    fn duplicate_keys_sorted_and_deduplicated() {
        let p: Vec<(String, String)> = [
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(
            twilio_signature(TOKEN, URI, &p),
            "IK+Dwps556ElfBT0I3Rgjkr1wJU="
        );
    }

    #[test]
    fn ports() {
        let p = params();
        let expected = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
        assert!(twilio_signature_matches(TOKEN, URI, &p, None, expected));
        // removes the port on https
        let with_port = URI.replace(".com", ".com:1234");
        assert!(twilio_signature_matches(
            TOKEN, &with_port, &p, None, expected
        ));
        // keeps a non-default port on http
        let http_1234 = with_port.replace("https", "http");
        assert!(twilio_signature_matches(
            TOKEN,
            &http_1234,
            &p,
            None,
            "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="
        ));
        // adds the default port
        assert!(twilio_signature_matches(
            TOKEN,
            URI,
            &p,
            None,
            "kvajT1Ptam85bY51eRf/AJRuM3w="
        ));
        let http = URI.replace("https", "http");
        assert!(twilio_signature_matches(
            TOKEN,
            &http,
            &p,
            None,
            "0ZXoZLH/DfblKGATFgpif+LLRf4="
        ));
        assert!(!twilio_signature_matches(
            TOKEN,
            URI,
            &p,
            None,
            "RSOYDt4T1cUTdK1PDd93/VVr8B8"
        ));
        assert!(!twilio_signature_matches("54321", URI, &p, None, expected));
    }

    #[test]
    fn json_body_variant() {
        let body = br#"{"property": "value", "boolean": true}"#;
        let hash = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
        assert_eq!(hex::encode(Sha256::digest(body)), hash);
        let url = format!("{URI}&bodySHA256={hash}");
        assert!(twilio_signature_matches(
            TOKEN,
            &url,
            &[],
            Some(body),
            "a9nBmqA0ju/hNViExpshrM61xv4="
        ));
        assert!(!twilio_signature_matches(
            TOKEN,
            &url,
            &[],
            Some(b"{}"),
            "a9nBmqA0ju/hNViExpshrM61xv4="
        ));
    }

    #[test]
    fn port_variants_keep_path_and_query() {
        assert_eq!(
            port_variants("https://u@[::1]:8443/a?b=1"),
            vec![
                "https://u@[::1]/a?b=1".to_string(),
                "https://u@[::1]:8443/a?b=1".to_string()
            ]
        );
        assert_eq!(port_variants("nonsense"), vec!["nonsense".to_string()]);
    }
}
