//! Kannel smsbox `sms-service` deliveries.
//!
//! get-url (documented form, parameter names fixed):
//! `…/hooks/sms/<name>?token=…&from=%p&to=%P&text=%b&coding=%c&charset=%C&udh=%u&time=%T&smsc=%i&id=%I`.
//! `%b` is the message *bytes* percent-encoded in the source charset (UCS-2 arrives as raw
//! UTF-16BE octets, a space as `+`), so values are decoded to bytes first and to text only by
//! `coding`/`charset`: 0 = 7-bit (Kannel already converted it to `charset`, UTF-8 by default),
//! 1 = 8-bit, 2 = UCS-2. The same fields are accepted as a POST form. post-url sends the text as
//! the body with `X-Kannel-From/To/Coding/UDH/Time/SMSC` headers and the charset in
//! `Content-Type`; put `id=%I` in the post-url query to give it an id.
//!
//! With `sms-combine-concatenated-mo = false` each part arrives alone with its header in `udh`
//! (`%05%00%03%7F%02%01`; old Kannels put hex in `X-Kannel-UDH`), and becomes a [`crate::Part`].

use chrono::{DateTime, NaiveDateTime, Utc};
use intake_adapter::AdapterError;
use intake_schema::RawPayload;
use sha2::{Digest, Sha256};

use crate::decode::Coding;
use crate::form::{query_without, Form};
use crate::message::{from_unix, Body, Ctx, Mo};
use crate::udh::{concat_from_udh, Concat};
use crate::{auth, Call, Delivery, ProviderKind};

pub(crate) fn handle(call: &Call, ctx: &Ctx) -> Result<Delivery, AdapterError> {
    let inbound = call.inbound;
    auth::check_token(inbound, ctx.provider.token.as_deref())?;
    let query = Form::parse(inbound.query.as_bytes());
    let is_form = inbound.media_type().as_deref() == Some("application/x-www-form-urlencoded");
    let fields = match inbound.method {
        "GET" => Fields::from_form(
            query,
            RawPayload::capture_text(
                Some("application/x-www-form-urlencoded"),
                query_without(inbound.query, auth::TOKEN_PARAM),
            ),
        )?,
        "POST" if is_form => {
            let mut form = Form::parse(inbound.body);
            form.merge_missing(query);
            Fields::from_form(
                form,
                RawPayload::capture(inbound.content_type(), inbound.body),
            )?
        }
        "POST" => Fields::from_post_url(call, query)?,
        other => {
            return Err(AdapterError::Malformed(format!(
                "method {other} not supported"
            )))
        }
    };
    let mut delivery = Delivery::new(ProviderKind::Kannel);
    let (item, reason) = fields.into_mo().settle(ctx);
    delivery.push(item, reason);
    Ok(delivery)
}

/// The delivery's fields, from whichever of the three shapes it came in.
struct Fields {
    from: String,
    to: Option<String>,
    text: Vec<u8>,
    coding: Option<u8>,
    charset: Option<String>,
    udh: Vec<u8>,
    time: Option<DateTime<Utc>>,
    id: Option<String>,
    sar: Option<Concat>,
    raw: RawPayload,
}

impl Fields {
    fn from_form(form: Form, raw: RawPayload) -> Result<Fields, AdapterError> {
        let text = form
            .bytes("text")
            .ok_or_else(|| AdapterError::Malformed("missing text (text=%b)".into()))?
            .to_vec();
        Ok(Fields {
            from: required_from(form.non_empty("from")?)?,
            to: form.non_empty("to")?,
            text,
            coding: parse_coding(form.non_empty("coding")?.as_deref())?,
            charset: form.non_empty("charset")?,
            udh: form.bytes("udh").map(<[u8]>::to_vec).unwrap_or_default(),
            time: form.non_empty("time")?.as_deref().and_then(parse_time),
            id: form.non_empty("id")?,
            sar: sar(&form)?,
            raw,
        })
    }

    fn from_post_url(call: &Call, query: Form) -> Result<Fields, AdapterError> {
        let inbound = call.inbound;
        let header = |name: &str| {
            inbound
                .headers
                .get(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let from = header("x-kannel-from").or(query.non_empty("from")?);
        let coding = match header("x-kannel-coding") {
            Some(c) => parse_coding(Some(&c))?,
            None => parse_coding(query.non_empty("coding")?.as_deref())?,
        }
        // Kannel's own rule: an octet-stream body without a coding header is 8-bit.
        .or(match inbound.media_type().as_deref() {
            Some("application/octet-stream") => Some(1),
            _ => None,
        });
        let udh = match header("x-kannel-udh") {
            Some(h) => udh_header(&h),
            None => query.bytes("udh").map(<[u8]>::to_vec).unwrap_or_default(),
        };
        Ok(Fields {
            from: required_from(from)?,
            to: header("x-kannel-to").or(query.non_empty("to")?),
            text: inbound.body.to_vec(),
            coding,
            charset: inbound
                .content_type()
                .and_then(charset_param)
                .or(query.non_empty("charset")?),
            udh,
            time: header("x-kannel-time")
                .or(query.non_empty("time")?)
                .as_deref()
                .and_then(parse_time),
            id: query.non_empty("id")?,
            sar: sar(&query)?,
            raw: RawPayload::capture(inbound.content_type(), inbound.body),
        })
    }

    fn into_mo(self) -> Mo {
        let body = match body_coding(self.coding, self.charset.as_deref(), &self.text) {
            Ok(coding) => Body::Bytes {
                bytes: self.text,
                coding,
            },
            Err(reason) => Body::Undecodable(reason),
        };
        let message_id = self.id.unwrap_or_else(|| {
            // No %I in the URL: derive an id a retried delivery reproduces.
            let digest = hex::encode(Sha256::digest(&self.raw.body));
            let time = self
                .time
                .map(|t| t.timestamp().to_string())
                .unwrap_or_default();
            format!("{}/{time}/{}", self.from, &digest[..16])
        });
        Mo {
            message_id,
            sender: self.from,
            destination: self.to,
            body,
            occurred_at: self.time,
            concat: concat_from_udh(&self.udh).or(self.sar),
            attachments: Vec::new(),
            raw: self.raw,
        }
    }
}

fn required_from(from: Option<String>) -> Result<String, AdapterError> {
    from.ok_or_else(|| AdapterError::Malformed("missing sender (from=%p)".into()))
}

/// `%c`: 0, 1 or 2; Kannel writes `-1` (DC_UNDEF) when the SMSC set none, which means 7-bit.
fn parse_coding(value: Option<&str>) -> Result<Option<u8>, AdapterError> {
    let Some(c) = value else {
        return Ok(None);
    };
    match c.trim().parse::<i32>() {
        Ok(n) if n < 0 => Ok(None),
        Ok(n) => u8::try_from(n)
            .map(Some)
            .map_err(|_| AdapterError::Malformed(format!("coding {n} is out of range"))),
        Err(_) => Err(AdapterError::Malformed(format!(
            "coding {c:?} is not a number"
        ))),
    }
}

fn sar(form: &Form) -> Result<Option<Concat>, AdapterError> {
    Ok(Concat::from_sar(
        form.non_empty("sar_msg_ref_num")?.as_deref(),
        form.non_empty("sar_total_segments")?.as_deref(),
        form.non_empty("sar_segment_seqnum")?.as_deref(),
    ))
}

/// Which decoder the text needs, or why there is none.
fn body_coding(coding: Option<u8>, charset: Option<&str>, text: &[u8]) -> Result<Coding, String> {
    let named = charset.map(|c| (c, Coding::from_charset(c)));
    match (coding.unwrap_or(0), named) {
        (2, _) => Ok(Coding::Ucs2),
        (1, Some((_, Some(c)))) => Ok(c),
        (1, _) => Ok(Coding::Binary),
        (0, Some((_, Some(c)))) => Ok(c),
        (0, Some((name, None))) => Err(format!("unsupported charset {name:?}")),
        // No charset: modern Kannel converts 7-bit text to UTF-8, very old ones to Latin-1.
        (0, None) if std::str::from_utf8(text).is_ok() => Ok(Coding::Utf8),
        (0, None) => Ok(Coding::Latin1),
        (other, _) => Err(format!("unsupported Kannel coding {other}")),
    }
}

/// `X-Kannel-UDH`: URL-encoded octets in current Kannel, hex in old ones.
fn udh_header(value: &str) -> Vec<u8> {
    if !value.contains('%') {
        if let Ok(bytes) = hex::decode(value) {
            return bytes;
        }
    }
    Form::parse(format!("u={value}").as_bytes())
        .bytes("u")
        .map(<[u8]>::to_vec)
        .unwrap_or_default()
}

/// `charset=` of a Content-Type, unquoted.
fn charset_param(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| v.trim().trim_matches('"').to_string())
            .filter(|v| !v.is_empty())
    })
}

/// `%T` (unix seconds), or `%t` / `X-Kannel-Time` (`YYYY-MM-DD HH:MM:SS`, UTC; the `+` of `%t`
/// is already a space after form decoding).
fn parse_time(value: &str) -> Option<DateTime<Utc>> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<i64>() {
        return from_unix(secs);
    }
    NaiveDateTime::parse_from_str(&value.replace('+', " "), "%Y-%m-%d %H:%M:%S")
        .ok()
        .map(|t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coding_rules() {
        assert_eq!(
            body_coding(Some(2), Some("UTF-16BE"), b""),
            Ok(Coding::Ucs2)
        );
        assert_eq!(body_coding(Some(0), Some("UTF-8"), b""), Ok(Coding::Utf8));
        assert_eq!(
            body_coding(None, Some("ISO-8859-1"), b""),
            Ok(Coding::Latin1)
        );
        assert_eq!(body_coding(Some(1), Some("8-BIT"), b""), Ok(Coding::Binary));
        assert_eq!(body_coding(Some(1), Some("GBK"), b""), Ok(Coding::Gbk));
        assert_eq!(body_coding(None, None, "é".as_bytes()), Ok(Coding::Utf8));
        assert_eq!(body_coding(None, None, b"\xe9"), Ok(Coding::Latin1));
        assert!(body_coding(Some(0), Some("KOI8-R"), b"").is_err());
        assert!(body_coding(Some(7), None, b"").is_err());
        assert_eq!(parse_coding(Some("-1")).unwrap(), None);
        assert_eq!(parse_coding(Some("2")).unwrap(), Some(2));
        assert!(parse_coding(Some("300")).is_err());
        assert!(parse_coding(Some("x")).is_err());
    }

    #[test]
    fn headers_and_times() {
        assert_eq!(udh_header("0500037F0201"), vec![5, 0, 3, 0x7F, 2, 1]);
        assert_eq!(udh_header("%05%00%03%7F%02%01"), vec![5, 0, 3, 0x7F, 2, 1]);
        assert_eq!(
            charset_param("text/plain; charset=\"UTF-16BE\"").as_deref(),
            Some("UTF-16BE")
        );
        assert_eq!(charset_param("text/plain"), None);
        let t = parse_time("2026-03-01 07:59:50").unwrap();
        assert_eq!(t.timestamp(), 1_772_351_990);
        assert_eq!(parse_time("2026-03-01+07:59:50"), Some(t));
        assert_eq!(parse_time("1772351990"), Some(t));
        assert_eq!(parse_time("soon"), None);
    }
}
