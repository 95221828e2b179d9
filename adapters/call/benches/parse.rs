//! What one finished call costs before any I/O, per PBX kind: authenticate + parse + merge
//! into the call state + finish into the request record.
//!
//! `cargo bench -p intake-call -- --quick`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use intake_adapter::Inbound;
use intake_call::{finish, handle, Item, Lines, Source, SourceKind};
use intake_schema::RawPayload;
use std::hint::black_box;
use std::time::Duration;

const TOKEN: &str = "bench-token";

/// One finished, answered call in `kind`'s dialect.
fn body(kind: SourceKind) -> String {
    match kind {
        SourceKind::Freeswitch => r#"{"core-uuid":"6d5d3a0e-9b7c-4c5e-8f27-2b1f0f4c9a10","switchname":"yj-fs01","channel_data":{"state":"CS_REPORTING","direction":"inbound"},"variables":{"direction":"inbound","uuid":"0b2d8e6c-5a41-4f0b-9e07-7c1d2b9e5f33","sip_from_user":"13812345678","sip_call_id":"4f3a9c2e-1b7d-4e8a-a1c3-5d6e7f809a1b@61.138.0.10","sip_req_user":"12345","sip_to_user":"12345","sip_P-Asserted-Identity":"<tel:+8613812345678>","cc_queue":"hotline@default","cc_queue_answered_epoch":"1795482168","cc_agent":"8012@default","start_epoch":"1795482123","answer_epoch":"1795482168","end_epoch":"1795482468","billsec":"300","hangup_cause":"NORMAL_CLEARING","sip_hangup_disposition":"recv_bye"},"callflow":[{"caller_profile":{"caller_id_number":"13812345678","destination_number":"12345"}}]}"#.into(),
        SourceKind::Asterisk => r#"{"accountcode":"","src":"04332912345","dst":"12345","dcontext":"from-trunk","clid":"\"\" <04332912345>","channel":"PJSIP/cmcc-trunk-00000a31","dstchannel":"PJSIP/8007-00000a32","lastapp":"Dial","lastdata":"PJSIP/8007,30","start":"2026-11-24 09:30:00","answer":"2026-11-24 09:30:21","end":"2026-11-24 09:35:21","duration":321,"billsec":300,"disposition":"ANSWERED","amaflags":"DOCUMENTATION","uniqueid":"1795483800.2620","linkedid":"1795483800.2619","userfield":""}"#.into(),
        SourceKind::Kamailio => r#"{"call_id":"b7c41d0e9a2f4d3c@198.51.100.20","ruri_user":"12345","to_user":"12345","from_user":"13812345678","pai":"<sip:+8613812345678@ims.jl.chinamobile.com;user=phone>","invite_timestamp":"1795484400","answer_timestamp":"1795484431","event":"end","timestamp":"1795484719"}"#.into(),
        SourceKind::Generic => r#"{"event":"hangup","from":"13812345678","to":"12345","direction":"in","callId":"307fa962-de8d-4ffc-817b-7f6993204159","user":"王伟","answeringNumber":"8009","cause":"normalClearing"}"#.into(),
    }
}

fn run(body: &[u8], source: &Source, lines: &Lines) -> intake_schema::IntakeRequest {
    let headers: &[(&str, &str)] = &[
        ("Content-Type", "application/json"),
        ("Authorization", "Bearer bench-token"),
    ];
    let inbound = Inbound {
        method: "POST",
        query: "",
        headers: &headers,
        body,
        now: chrono::DateTime::from_timestamp(1_795_484_800, 0).expect("valid time"),
        peer: None,
        trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
    };
    let items = handle(&inbound, source, lines).expect("bench call is valid");
    let Some(Item::Final { state }) = items.into_iter().next() else {
        panic!("a finished call");
    };
    // The gateway merges with whatever live state it kept; a call without any merges with none.
    let merged = intake_call::merge(None, state);
    finish(
        &merged,
        inbound.now,
        RawPayload::capture(Some("application/json"), body),
        inbound.trace_id,
    )
}

fn benches(c: &mut Criterion) {
    let lines = Lines::new(&Default::default());
    let mut group = c.benchmark_group("call");
    for kind in [
        SourceKind::Freeswitch,
        SourceKind::Asterisk,
        SourceKind::Kamailio,
        SourceKind::Generic,
    ] {
        let mut source = Source::new(kind.as_str(), kind);
        source.token = Some(TOKEN.into());
        let body = body(kind);
        run(body.as_bytes(), &source, &lines);
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(format!("handle_finish/{}", kind.as_str()), |b| {
            b.iter(|| run(black_box(body.as_bytes()), &source, &lines))
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
