//! What one mobile-originated SMS costs before any I/O, per provider kind: authenticate
//! (token, Twilio signature, HMAC) + parse + decode + normalize.
//!
//! `cargo bench -p intake-sms -- --quick`.

use criterion::{criterion_group, criterion_main, Criterion};
use intake_adapter::signature::hmac_sha256_hex;
use intake_adapter::Inbound;
use intake_sms::{handle, twilio_signature, Call, Item, Lines, Provider, ProviderKind};
use std::hint::black_box;
use std::time::Duration;

const SECRET: &str = "bench-secret";
const PUBLIC_URL: &str = "https://hotline.example.gov.cn";
const NOW: i64 = 1_772_352_000;
const TEXT: &str = "公园路的路灯坏了一周，晚上很黑。아파트 엘리베이터가 고장났어요.";

struct Request {
    method: &'static str,
    path_and_query: String,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

fn provider(kind: ProviderKind) -> Provider {
    let mut p = Provider::new(kind.as_str(), kind);
    match kind {
        ProviderKind::Twilio => {
            p.auth_token = Some(SECRET.into());
            p.public_url = Some(PUBLIC_URL.into());
        }
        ProviderKind::Generic => p.secret = Some(SECRET.into()),
        _ => p.token = Some(SECRET.into()),
    }
    p
}

fn ucs2(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_be_bytes).collect()
}

fn request(kind: ProviderKind) -> Request {
    let path = format!("/hooks/sms/{}", kind.as_str());
    let ct = |v: &str| ("Content-Type", v.to_string());
    match kind {
        ProviderKind::Aliyun => Request {
            method: "POST",
            path_and_query: format!("{path}?token={SECRET}"),
            headers: vec![ct("application/json")],
            body: format!(r#"[{{"phone_number":"13812345678","content":"{TEXT}","send_time":"2026-03-01 15:59:30","dest_code":"","sequence_id":998877,"sign_name":"延吉12345"}}]"#).into_bytes(),
        },
        ProviderKind::Tencent => Request {
            method: "POST",
            path_and_query: format!("{path}?token={SECRET}"),
            headers: vec![ct("application/json")],
            body: format!(r#"{{"extend":"","mobile":"13812345678","nationcode":"86","sign":"延吉12345","text":"{TEXT}","time":1772351900}}"#).into_bytes(),
        },
        ProviderKind::Twilio => {
            let pairs = [
                ("MessageSid", "SM0a1b2c3d4e5f60718293a4b5c6d7e8f9"),
                ("AccountSid", "AC00000000000000000000000000000000"),
                ("From", "+8613812345678"),
                ("To", "+8612345"),
                ("Body", TEXT),
                ("NumMedia", "0"),
                ("NumSegments", "1"),
                ("SmsStatus", "received"),
                ("ApiVersion", "2010-04-01"),
            ];
            let owned: Vec<(String, String)> =
                pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            let sig = twilio_signature(SECRET, &format!("{PUBLIC_URL}{path}"), &owned);
            let mut body = form_urlencoded::Serializer::new(String::new());
            for (k, v) in pairs {
                body.append_pair(k, v);
            }
            Request {
                method: "POST",
                path_and_query: path,
                headers: vec![
                    ct("application/x-www-form-urlencoded; charset=UTF-8"),
                    ("X-Twilio-Signature", sig),
                ],
                body: body.finish().into_bytes(),
            }
        }
        ProviderKind::Kannel => Request {
            method: "POST",
            path_and_query: format!("{path}?token={SECRET}&id=7c9e6679-7425-40de-944b-e07fc1f90ae7"),
            headers: vec![
                ct("text/plain; charset=\"UTF-16BE\""),
                ("X-Kannel-From", "+8613912345678".into()),
                ("X-Kannel-To", "12345".into()),
                ("X-Kannel-Time", "2026-03-01 07:58:00".into()),
                ("X-Kannel-Coding", "2".into()),
            ],
            body: ucs2(TEXT),
        },
        ProviderKind::Jasmin => {
            let bytes = ucs2(TEXT);
            let content: String = form_urlencoded::byte_serialize(&bytes).collect();
            Request {
                method: "POST",
                path_and_query: format!("{path}?token={SECRET}"),
                headers: vec![ct("application/x-www-form-urlencoded")],
                body: format!(
                    "id=9d8e7f60&from=%2B8613612345678&to=12345&coding=8&binary={}&content={content}",
                    hex::encode(&bytes)
                )
                .into_bytes(),
            }
        }
        ProviderKind::Generic => {
            let body = format!(r#"{{"message_id":"gw-1","from":"+8613812345678","to":"12345","text":"{TEXT}"}}"#);
            let ts = NOW.to_string();
            let sig = hmac_sha256_hex(SECRET.as_bytes(), &[ts.as_bytes(), b".", body.as_bytes()]);
            Request {
                method: "POST",
                path_and_query: path,
                headers: vec![
                    ct("application/json"),
                    ("X-Intake-Timestamp", ts),
                    ("X-Intake-Signature", format!("v1={sig}")),
                ],
                body: body.into_bytes(),
            }
        }
    }
}

fn run(r: &Request, provider: &Provider, lines: &Lines) -> intake_sms::Delivery {
    let pairs: Vec<(&str, &str)> = r.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let headers: &[(&str, &str)] = &pairs;
    let inbound = Inbound {
        method: r.method,
        query: r.path_and_query.split_once('?').map_or("", |(_, q)| q),
        headers: &headers,
        body: &r.body,
        now: chrono::DateTime::from_timestamp(NOW + 30, 0).expect("valid time"),
        peer: None,
        trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
    };
    let call = Call {
        inbound: &inbound,
        path_and_query: &r.path_and_query,
    };
    handle(&call, provider, lines).expect("bench delivery is valid")
}

fn benches(c: &mut Criterion) {
    let lines = Lines::new(&Default::default());
    let mut group = c.benchmark_group("sms");
    for kind in ProviderKind::ALL {
        let (r, p) = (request(kind), provider(kind));
        let delivery = run(&r, &p, &lines);
        assert!(
            matches!(delivery.items.as_slice(), [Item::Request(_)]),
            "{kind:?}: {:?}",
            delivery.items
        );
        group.bench_function(format!("handle/{}", kind.as_str()), |b| {
            b.iter(|| run(black_box(&r), &p, &lines))
        });
    }
    group.finish();
}

criterion_group! {
    name = parse;
    // Short runs: these guide, they do not gate, and `cargo bench` shares 2 cores with builds.
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = benches
}
criterion_main!(parse);
