//! What each provider must read back: the acknowledgement that stops its retries, or the
//! answer (with HTTP 503) that makes it retry when the gateway could not make a message durable.

use serde::Serialize;

use crate::ProviderKind;

/// `Content-Type` of JSON answers.
pub const JSON: &str = "application/json; charset=utf-8";
/// `Content-Type` of plain-text answers.
pub const TEXT: &str = "text/plain; charset=utf-8";
/// `Content-Type` of TwiML.
pub const XML: &str = "text/xml; charset=utf-8";
/// The one answer Jasmin accepts as an acknowledgement.
pub const JASMIN_ACK: &str = "ACK/Jasmin";

/// The 200 answer once every item of a delivery is durable (or dead-lettered).
///
/// `probe` is Aliyun's console check (`{"code":0,"msg":"成功"}`). `receipt` is text for the
/// citizen where the provider turns the answer into a reply SMS: Twilio (`<Message>`) and Kannel
/// (the body is sent back to the sender; empty sends nothing with `omit-empty`). Aliyun, Tencent
/// and Jasmin have no such channel and ignore it. For the generic format use [`generic_reply`],
/// which carries the ids; this gives its id-less form.
pub fn success_reply(
    kind: ProviderKind,
    probe: bool,
    receipt: Option<&str>,
) -> (&'static str, String) {
    match kind {
        ProviderKind::Aliyun if probe => (JSON, r#"{"code":0,"msg":"成功"}"#.into()),
        ProviderKind::Aliyun => (JSON, r#"{"code":0,"msg":"接收成功"}"#.into()),
        ProviderKind::Tencent => (JSON, r#"{"result":0,"errmsg":"OK"}"#.into()),
        ProviderKind::Twilio => (XML, twiml(receipt)),
        ProviderKind::Kannel => (TEXT, receipt.unwrap_or("").to_string()),
        ProviderKind::Jasmin => (TEXT, JASMIN_ACK.into()),
        ProviderKind::Generic => (JSON, r#"{"status":"accepted"}"#.into()),
    }
}

/// The body to send with a 503 so that the provider retries. Every provider retries on a
/// non-2xx status already; the body makes the refusal explicit where the protocol has a field
/// for it (Aliyun `code`, Tencent `result`), and for Jasmin anything but `ACK/Jasmin` is a NACK.
pub fn failure_reply(kind: ProviderKind) -> (&'static str, String) {
    match kind {
        ProviderKind::Aliyun => (JSON, r#"{"code":1,"msg":"系统繁忙，请重试"}"#.into()),
        ProviderKind::Tencent => (JSON, r#"{"result":1,"errmsg":"busy, retry later"}"#.into()),
        ProviderKind::Twilio => (XML, twiml(None)),
        ProviderKind::Kannel => (TEXT, String::new()),
        ProviderKind::Jasmin => (TEXT, "NACK/retry".into()),
        ProviderKind::Generic => (
            JSON,
            r#"{"status":"retry","error":"not durable yet, retry later"}"#.into(),
        ),
    }
}

fn twiml(receipt: Option<&str>) -> String {
    match receipt.filter(|r| !r.is_empty()) {
        None => r#"<?xml version="1.0" encoding="UTF-8"?><Response/>"#.into(),
        Some(text) => format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Message>{}</Message></Response>"#,
            xml_escape(text)
        ),
    }
}

fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all are dropped rather than sent broken.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// What the gateway did with one generic-format message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AdmissionStatus {
    /// Durable and published for the first time.
    Accepted,
    /// Seen before: the ids of the first time, nothing published again.
    Duplicate,
    /// One part of a long message, stored until the others arrive.
    Pending,
    /// Authenticated but not a request (undecodable text): dead-lettered; do not retry.
    Rejected,
}

/// The admission result the gateway reports for one generic-format message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Admission {
    /// What happened.
    pub status: AdmissionStatus,
    /// The request id, when accepted or duplicate.
    pub request_id: Option<String>,
    /// The tracking number, when accepted or duplicate.
    pub tracking_no: Option<String>,
    /// Why it was rejected.
    pub error: Option<String>,
}

/// The 200 answer of the generic format:
/// `{"status":"accepted","request_id":"…","tracking_no":"…","error":null}`.
pub fn generic_reply(admission: &Admission) -> (&'static str, String) {
    let body =
        serde_json::to_string(admission).unwrap_or_else(|_| r#"{"status":"accepted"}"#.to_string());
    (JSON, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acknowledgements() {
        assert_eq!(
            success_reply(ProviderKind::Aliyun, true, None).1,
            r#"{"code":0,"msg":"成功"}"#
        );
        assert_eq!(
            success_reply(ProviderKind::Jasmin, false, Some("x")).1,
            "ACK/Jasmin"
        );
        assert_eq!(
            success_reply(ProviderKind::Twilio, false, None).1,
            r#"<?xml version="1.0" encoding="UTF-8"?><Response/>"#
        );
        assert_eq!(
            success_reply(ProviderKind::Twilio, false, Some("受理编号 <A&B>")).1,
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Message>受理编号 &lt;A&amp;B&gt;</Message></Response>"#
        );
        assert_eq!(
            success_reply(ProviderKind::Kannel, false, Some("ok")),
            (TEXT, "ok".into())
        );
        assert_ne!(failure_reply(ProviderKind::Jasmin).1.trim(), JASMIN_ACK);
        assert!(failure_reply(ProviderKind::Aliyun)
            .1
            .starts_with(r#"{"code":1"#));
        assert!(failure_reply(ProviderKind::Tencent)
            .1
            .starts_with(r#"{"result":1"#));
    }

    #[test]
    fn generic_with_ids() {
        let (ct, body) = generic_reply(&Admission {
            status: AdmissionStatus::Accepted,
            request_id: Some("r".into()),
            tracking_no: Some("T".into()),
            error: None,
        });
        assert_eq!(ct, JSON);
        assert_eq!(
            body,
            r#"{"status":"accepted","request_id":"r","tracking_no":"T","error":null}"#
        );
    }
}
