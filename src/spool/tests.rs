use super::*;
use crate::local_log::Headers;
use crate::sink::{Envelope, Topic};
use intake_schema::{Channel, RequestId};

fn envelope(n: u32) -> Envelope {
    let id = RequestId::derive(Channel::Sms, "sms:test", &n.to_string());
    let headers = Headers::from([
        ("request_id".into(), id.to_string().into()),
        ("channel".into(), "sms".into()),
    ]);
    let payload =
        serde_json::json!({"n": n, "received_at": "2026-11-24T08:00:00.000Z"}).to_string();
    Envelope {
        topic: Topic::Requests,
        id,
        key: format!("+86138{n:08}"),
        headers,
        payload,
    }
}

#[tokio::test]
async fn appends_are_counted_and_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let spool = Spool::open(dir.path(), 1 << 20, 1 << 30).unwrap();
        assert!(!spool.has_backlog());
        for n in 0..5 {
            spool.append(&envelope(n), "t", None).await.unwrap();
        }
        let stats = spool.stats();
        assert_eq!(stats.entries, 5);
        assert!(stats.bytes > 0 && stats.oldest.is_some());
        spool.close().await;
    }
    let spool = Spool::open(dir.path(), 1 << 20, 1 << 30).unwrap();
    let stats = spool.stats();
    assert_eq!(stats.entries, 5, "pending entries are recounted on open");
    assert_eq!(
        stats.oldest.map(|t| t.to_rfc3339()),
        Some("2026-11-24T08:00:00+00:00".to_string())
    );
    assert_eq!(
        inspect(dir.path(), end_on_disk(dir.path()).unwrap()).unwrap(),
        stats
    );
}

#[tokio::test]
async fn a_second_opener_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _first = Spool::open(dir.path(), 1 << 20, 1 << 30).unwrap();
    let second = Spool::open(dir.path(), 1 << 20, 1 << 30);
    assert!(
        second.is_err(),
        "two forwarders on one spool would publish twice"
    );
}

#[tokio::test]
async fn full_means_refused() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path(), 1 << 20, 300).unwrap();
    spool.append(&envelope(1), "t", None).await.unwrap();
    spool.append(&envelope(2), "t", None).await.unwrap();
    assert!(spool.is_full());
    assert!(matches!(
        spool.append(&envelope(3), "t", None).await,
        Err(SpoolError::Full(_))
    ));
}

#[tokio::test]
async fn a_torn_entry_is_skipped_without_losing_the_ones_after_it() {
    let dir = tempfile::tempdir().unwrap();
    {
        let spool = Spool::open(dir.path(), 1 << 20, 1 << 30).unwrap();
        spool.append(&envelope(1), "t", None).await.unwrap();
        spool.close().await;
    }
    // A crash in the middle of the next write: half a line at the end of the segment.
    let segment = dir.path().join(crate::local_log::segment_name(1));
    let mut bytes = std::fs::read(&segment).unwrap();
    let line = crate::local_log::encode_line(&Entry {
        topic: "t".into(),
        key: "k".into(),
        headers: Headers::new(),
        record: "{}".into(),
    })
    .unwrap();
    bytes.extend_from_slice(&line[..line.len() / 2]);
    std::fs::write(&segment, bytes).unwrap();
    let spool = Spool::open(dir.path(), 1 << 20, 1 << 30).unwrap();
    spool.append(&envelope(2), "t", None).await.unwrap();
    spool.append(&envelope(3), "t", None).await.unwrap();
    assert_eq!(
        spool.stats().entries,
        3,
        "entries 1, 2 and 3; the torn one is not counted"
    );
    let read = read_range(
        dir.path(),
        Position {
            segment: 1,
            offset: 0,
        },
        spool.log.committed(),
        100,
    )
    .unwrap();
    let keys: Vec<_> = read.entries.iter().map(|(e, _)| e.key.clone()).collect();
    assert_eq!(keys, [envelope(1).key, envelope(2).key, envelope(3).key]);
    assert_eq!(read.corrupt, 1);
}
