use super::*;
use intake_schema::Channel;

fn id(n: u32) -> RequestId {
    RequestId::derive(Channel::Sms, "sms:test", &n.to_string())
}

#[tokio::test]
async fn seen_in_flight_and_failed() {
    let dir = tempfile::tempdir().unwrap();
    let index = DedupIndex::open(dir.path(), Duration::from_secs(60), 100).unwrap();
    let Claim::Mine(guard) = index.claim(id(1)) else {
        panic!("first claim is mine")
    };
    let Claim::InFlight(mut rx) = index.claim(id(1)) else {
        panic!("second claim waits")
    };
    guard.succeed();
    rx.changed().await.unwrap();
    assert_eq!(*rx.borrow(), Some(true));
    assert!(matches!(index.claim(id(1)), Claim::Seen));

    let Claim::Mine(guard) = index.claim(id(2)) else {
        panic!()
    };
    let Claim::InFlight(mut rx) = index.claim(id(2)) else {
        panic!()
    };
    drop(guard); // cancelled: counts as failed
    rx.changed().await.unwrap();
    assert_eq!(*rx.borrow(), Some(false));
    assert!(
        matches!(index.claim(id(2)), Claim::Mine(_)),
        "a failed id can be published again"
    );
}

#[test]
fn survives_a_restart_and_forgets_after_the_window() {
    let dir = tempfile::tempdir().unwrap();
    {
        let index = DedupIndex::open(dir.path(), Duration::from_secs(60), 100).unwrap();
        for n in 0..10 {
            let Claim::Mine(g) = index.claim(id(n)) else {
                panic!()
            };
            g.succeed();
        }
        index.flush(true).unwrap();
    }
    let index = DedupIndex::open(dir.path(), Duration::from_secs(60), 100).unwrap();
    assert_eq!(index.len(), 10);
    assert!(matches!(index.claim(id(3)), Claim::Seen));
    drop(index);
    // A torn tail (crash mid-append) is ignored.
    let path = dir.path().join("seen.bin");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(&[1, 2, 3]);
    std::fs::write(&path, bytes).unwrap();
    let index = DedupIndex::open(dir.path(), Duration::from_secs(60), 100).unwrap();
    assert_eq!(index.len(), 10);
    drop(index);
    let index = DedupIndex::open(dir.path(), Duration::from_millis(0), 100).unwrap();
    std::thread::sleep(Duration::from_millis(5));
    assert!(matches!(index.claim(id(3)), Claim::Mine(_)));
}

#[test]
fn bounded_by_max_entries() {
    let dir = tempfile::tempdir().unwrap();
    let index = DedupIndex::open(dir.path(), Duration::from_secs(3600), 5).unwrap();
    for n in 0..20 {
        if let Claim::Mine(g) = index.claim(id(n)) {
            g.succeed();
        }
    }
    index.sweep().unwrap();
    assert!(index.len() <= 5, "{} ids kept", index.len());
}
