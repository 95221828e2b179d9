//! SMS mobile-originated deliveries: `POST /hooks/sms/{provider}` in each provider kind's own
//! wire format, authenticated the way that provider does (URL token, `X-Twilio-Signature`,
//! `X-Intake-Signature`), each message single-part with a unique sender and message id.

use intake_schema::RequestId;
use intake_sms::{Call, Item, Lines, Provider, ProviderKind};

use crate::channel::{enc, form, Built, Channel, Target};
use crate::content;

/// The hotline's service number the messages are sent to.
const SERVICE_NUMBER: &str = "12345";

/// The provider kind of an SMS channel.
pub fn kind(channel: Channel) -> ProviderKind {
    match channel {
        Channel::SmsAliyun => ProviderKind::Aliyun,
        Channel::SmsTencent => ProviderKind::Tencent,
        Channel::SmsTwilio => ProviderKind::Twilio,
        Channel::SmsKannel => ProviderKind::Kannel,
        Channel::SmsJasmin => ProviderKind::Jasmin,
        _ => ProviderKind::Generic,
    }
}

/// The provider as the gateway's adapter sees it, from the tool's flags.
pub fn provider(target: &Target) -> Provider {
    let kind = kind(target.channel);
    let mut p = Provider::new(target.name.clone(), kind);
    match kind {
        ProviderKind::Twilio => {
            p.auth_token = Some(target.secret.clone());
            p.public_url = Some(target.public_url.clone());
        }
        ProviderKind::Generic => p.secret = Some(target.secret.clone()),
        _ => p.token = Some(target.secret.clone()),
    }
    p
}

/// Delivery `n`, authenticated now.
pub fn build(target: &Target, n: u64) -> Built {
    let text = content::text_of_size(n, target.text_bytes);
    let mobile = content::mobile(target.seed, n);
    let id = format!("{:016x}{n:016x}", target.seed);
    let token = enc(&target.secret);
    let path = format!("/hooks/sms/{}", target.name);
    let json = |body: String| {
        (
            "content-type",
            "application/json".to_string(),
            body.into_bytes(),
        )
    };
    let (query, (ct_name, content_type, body), mut extra) = match kind(target.channel) {
        ProviderKind::Aliyun => {
            let sent = local_time(target.epoch);
            let body = format!(
                r#"[{{"phone_number":"{mobile}","content":"{text}","send_time":"{sent}","dest_code":"","sequence_id":{seq},"sign_name":"延吉12345"}}]"#,
                seq = (target.seed % 1_000_000) * 1_000_000_000_000 + n,
            );
            (format!("token={token}"), json(body), vec![])
        }
        ProviderKind::Tencent => {
            // Tencent sends no message id: the gateway's id covers sender, time and text, so
            // the time is the run's (a duplicate must repeat it exactly).
            let body = format!(
                r#"{{"extend":"","mobile":"{mobile}","nationcode":"86","sign":"延吉12345","text":"{text}","time":{}}}"#,
                target.epoch
            );
            (format!("token={token}"), json(body), vec![])
        }
        ProviderKind::Twilio => {
            let from = format!("+86{mobile}");
            let sid = format!("SM{id}");
            let pairs = [
                ("ToCountry", "CN"),
                ("SmsMessageSid", sid.as_str()),
                ("NumMedia", "0"),
                ("SmsSid", sid.as_str()),
                ("SmsStatus", "received"),
                ("Body", text.as_str()),
                ("FromCountry", "CN"),
                ("To", "+8612345"),
                ("NumSegments", "1"),
                ("MessageSid", sid.as_str()),
                ("AccountSid", "AC00000000000000000000000000000000"),
                ("From", from.as_str()),
                ("ApiVersion", "2010-04-01"),
            ];
            let signed: Vec<(String, String)> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            let url = format!("{}{path}", target.public_url.trim_end_matches('/'));
            let sig = intake_sms::twilio_signature(&target.secret, &url, &signed);
            let ct = "application/x-www-form-urlencoded; charset=UTF-8".to_string();
            let body = form(&pairs).into_bytes();
            (
                String::new(),
                ("content-type", ct, body),
                vec![("x-twilio-signature", sig)],
            )
        }
        ProviderKind::Kannel => {
            // smsbox post-url: the text as the body (UCS-2, as Chinese SMS arrive), the rest
            // in X-Kannel headers and the id in the query.
            let body: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
            let headers = vec![
                ("x-kannel-from", format!("+86{mobile}")),
                ("x-kannel-to", SERVICE_NUMBER.to_string()),
                ("x-kannel-time", local_time(target.epoch)),
                ("x-kannel-smsc", "load".to_string()),
                ("x-kannel-coding", "2".to_string()),
            ];
            let ct = "text/plain; charset=\"UTF-16BE\"".to_string();
            (
                format!("token={token}&id={id}"),
                ("content-type", ct, body),
                headers,
            )
        }
        ProviderKind::Jasmin => {
            // UCS-2 (data_coding 8) short_message bytes, with their hex in `binary`.
            let bytes: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
            let from = format!("+86{mobile}");
            let hex = hex::encode(&bytes);
            let content: String = form_urlencoded::byte_serialize(&bytes).collect();
            let body = format!(
                "{}&content={content}",
                form(&[
                    ("id", id.as_str()),
                    ("from", from.as_str()),
                    ("to", SERVICE_NUMBER),
                    ("origin-connector", "smpp_load"),
                    ("priority", "0"),
                    ("coding", "8"),
                    ("validity", ""),
                    ("binary", hex.as_str()),
                ])
            );
            let ct = "application/x-www-form-urlencoded".to_string();
            (
                format!("token={token}"),
                ("content-type", ct, body.into_bytes()),
                vec![],
            )
        }
        ProviderKind::Generic => {
            let body = format!(
                r#"{{"message_id":"{id}","from":"+86{mobile}","to":"{SERVICE_NUMBER}","text":"{text}"}}"#
            );
            let ts = chrono::Utc::now().timestamp();
            let sig = crate::web::signature(&target.secret, ts, body.as_bytes());
            let headers = vec![
                ("x-intake-timestamp", ts.to_string()),
                ("x-intake-signature", sig),
            ];
            (String::new(), json(body), headers)
        }
    };
    let mut headers = vec![(ct_name, content_type)];
    headers.append(&mut extra);
    Built {
        method: "POST",
        path_and_query: if query.is_empty() {
            path
        } else {
            format!("{path}?{query}")
        },
        headers,
        body,
    }
}

/// `YYYY-MM-DD HH:MM:SS` in China Standard Time, as Aliyun and Kannel write times.
fn local_time(unix: i64) -> String {
    let at = chrono::DateTime::from_timestamp(unix, 0).unwrap_or_default();
    (at + chrono::Duration::hours(8))
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// The request ids of an acknowledged delivery, by the adapter over the bytes sent (no lines
/// configured: a line never changes an id).
pub fn request_ids(target: &Target, built: &Built) -> Result<Vec<RequestId>, String> {
    let path = built.path_and_query.clone();
    let delivery = built
        .with_inbound(|inbound| {
            let call = Call {
                inbound,
                path_and_query: &path,
            };
            intake_sms::handle(&call, &provider(target), &Lines::new(&Default::default()))
        })
        .map_err(|e| format!("the adapter refuses what the tool sent: {e}"))?;
    let ids: Vec<RequestId> = delivery
        .items
        .iter()
        .filter_map(|item| match item {
            Item::Request(r) => Some(r.request_id),
            _ => None,
        })
        .collect();
    if ids.len() != delivery.items.len() {
        return Err(format!(
            "the adapter made {:?} of a delivery",
            delivery.items
        ));
    }
    Ok(ids)
}
