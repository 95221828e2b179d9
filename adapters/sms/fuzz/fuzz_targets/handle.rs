//! Fuzzes every provider's whole path behind valid credentials: form and JSON parsing, UDH and
//! SAR handling, decoding, part building, and the reply.
//!
//! Input: one byte choosing the provider kind (index into `ProviderKind::ALL`), one byte whose
//! low bit chooses GET over POST, then `query \0 headers \0 body`, headers as `Name: value`
//! lines. The target adds the URL token or computes the Twilio / generic signature itself, so
//! the fuzzer spends its time past authentication. Seeds in `seeds/handle/` are the golden
//! fixtures (kept in step by `tests/fuzz_seeds.rs`).
#![no_main]

use hmac::{Hmac, Mac};
use intake_adapter::Inbound;
use intake_sms::{
    assemble, assemble_incomplete, handle, success_reply, twilio_signature, Call, Item, Lines,
    Provider, ProviderKind,
};
use libfuzzer_sys::fuzz_target;
use percent_encoding::percent_decode_str;
use sha2::Sha256;
use std::collections::BTreeMap;

const NOW: i64 = 1_772_352_000;
const TOKEN: &str = "golden-token";
const AUTH: &str = "golden-auth-token";
const URL: &str = "https://hotline.example.gov.cn";
const SECRET: &str = "golden-secret";

fn provider(kind: ProviderKind) -> Provider {
    let mut p = Provider::new(kind.as_str(), kind);
    p.token = Some(TOKEN.into());
    p.auth_token = Some(AUTH.into());
    p.public_url = Some(URL.into());
    p.secret = Some(SECRET.into());
    p.service_number = Some("106901".into());
    p
}

fn lines() -> Lines {
    let mut map = BTreeMap::new();
    map.insert(
        "12345".to_string(),
        vec!["12345".to_string(), "1069012345".to_string()],
    );
    map.insert("12328".to_string(), vec!["12328".to_string()]);
    Lines::new(&map)
}

fuzz_target!(|data: &[u8]| {
    let [k, m, rest @ ..] = data else {
        return;
    };
    let kind = ProviderKind::ALL[usize::from(*k) % ProviderKind::ALL.len()];
    let method = if m & 1 == 1 { "GET" } else { "POST" };
    let mut sections = rest.splitn(3, |b| *b == 0);
    let query = String::from_utf8_lossy(sections.next().unwrap_or_default()).into_owned();
    let header_text = String::from_utf8_lossy(sections.next().unwrap_or_default()).into_owned();
    let body = sections.next().unwrap_or_default();
    let mut headers: Vec<(String, String)> = header_text
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let query = match kind {
        ProviderKind::Twilio | ProviderKind::Generic => query,
        _ if query.is_empty() => format!("token={TOKEN}"),
        _ => format!("token={TOKEN}&{query}"),
    };
    let path = if query.is_empty() {
        format!("/hooks/sms/{}", kind.as_str())
    } else {
        format!("/hooks/sms/{}?{query}", kind.as_str())
    };
    match kind {
        ProviderKind::Twilio => {
            let params: Vec<(String, String)> = if method == "POST" {
                body.split(|b| *b == b'&')
                    .filter(|p| !p.is_empty())
                    .filter_map(|p| {
                        let text = std::str::from_utf8(p).ok()?;
                        let (k, v) = text.split_once('=').unwrap_or((text, ""));
                        let dec = |s: &str| {
                            let spaced = s.replace('+', " ");
                            percent_decode_str(&spaced)
                                .decode_utf8()
                                .ok()
                                .map(|c| c.into_owned())
                        };
                        Some((dec(k)?, dec(v)?))
                    })
                    .collect()
            } else {
                Vec::new()
            };
            headers.push((
                "X-Twilio-Signature".into(),
                twilio_signature(AUTH, &format!("{URL}{path}"), &params),
            ));
        }
        ProviderKind::Generic => {
            let ts = NOW.to_string();
            let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()) else {
                return;
            };
            mac.update(ts.as_bytes());
            mac.update(b".");
            mac.update(body);
            headers.push(("X-Intake-Timestamp".into(), ts));
            headers.push((
                "X-Intake-Signature".into(),
                format!("v1={}", hex::encode(mac.finalize().into_bytes())),
            ));
        }
        _ => {}
    }
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let pairs: &[(&str, &str)] = &pairs;
    let Some(now) = chrono::DateTime::from_timestamp(NOW, 0) else {
        return;
    };
    let inbound = Inbound {
        method,
        query: &query,
        headers: &pairs,
        body,
        now,
        peer: "106.11.1.1".parse().ok(),
        trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
    };
    let call = Call {
        inbound: &inbound,
        path_and_query: &path,
    };
    if let Ok(delivery) = handle(&call, &provider(kind), &lines()) {
        let parts: Vec<_> = delivery
            .items
            .iter()
            .filter_map(|i| match i {
                Item::Part(p) => Some((**p).clone()),
                _ => None,
            })
            .collect();
        if !parts.is_empty() {
            let _ = assemble(&parts);
            let _ = assemble_incomplete(&parts);
        }
        let _ = success_reply(delivery.kind, delivery.probe, Some("受理编号 <&>"));
    }
});
