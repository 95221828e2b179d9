//! Fuzzes the decoders and reassembly together, with an oracle: joining any split of a byte
//! string must decode exactly like the whole string, and an incomplete message must not panic.
//!
//! Input: one byte choosing the coding (index into the six codings), one byte choosing how many
//! parts (1..=4) to cut the rest into, then the message bytes. Seeds in `seeds/decode/` are the
//! golden fixtures' texts in every coding that can carry them.
#![no_main]

use intake_schema::{Citizen, RawPayload};
use intake_sms::{assemble, assemble_incomplete, decode, Coding, Part, PartKey};
use libfuzzer_sys::fuzz_target;

const CODINGS: [Coding; 6] = [
    Coding::Gsm7,
    Coding::Latin1,
    Coding::Ucs2,
    Coding::Gbk,
    Coding::Utf8,
    Coding::Binary,
];

fuzz_target!(|data: &[u8]| {
    let [c, n, bytes @ ..] = data else {
        return;
    };
    let coding = CODINGS[usize::from(*c) % CODINGS.len()];
    let whole = decode(bytes, coding);
    let total = n % 4 + 1;
    let Some(now) = chrono::DateTime::from_timestamp(1_772_352_000, 0) else {
        return;
    };
    let parts: Vec<Part> = (0..total)
        .map(|i| {
            let start = bytes.len() * usize::from(i) / usize::from(total);
            let end = bytes.len() * usize::from(i + 1) / usize::from(total);
            Part {
                key: PartKey {
                    system: "sms:fuzz".into(),
                    sender: "+8613812345678".into(),
                    receiver: "12345".into(),
                    reference: "1".into(),
                },
                total,
                seq: i + 1,
                coding,
                bytes: bytes[start..end].to_vec(),
                message_id: format!("p{i}"),
                occurred_at: None,
                received_at: now,
                line: None,
                citizen: Citizen::anonymous(),
                raw: RawPayload::capture(None, &bytes[start..end]),
                trace_id: "0".repeat(32),
            }
        })
        .collect();
    match (&whole, assemble(&parts)) {
        (Ok(text), Ok(record)) => assert_eq!(text, &record.content.text),
        (Err(_), Err(_)) => {}
        (w, a) => panic!("whole {w:?} but assembled {:?}", a.map(|r| r.content.text)),
    }
    let mut some = parts;
    if some.len() > 1 {
        some.remove(some.len() / 2);
        let _ = assemble_incomplete(&some);
    }
});
