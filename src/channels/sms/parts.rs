//! Parts of long (concatenated) SMS waiting for their siblings, kept durable.
//!
//! A part is answered 2xx only once it is fsynced here, so a gateway restart between part 1 and
//! part 3 loses nothing: the log is replayed on open. A group leaves the store when its message
//! was published (complete, or incomplete after the reassembly timeout): a tombstone line records
//! that, and segments that only hold finished groups are deleted.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::local_log::{
    encode_line, read_all, segment_name, segments, Entry, Headers, LocalLog, LogError,
};

/// The durable store of long-SMS parts.
pub type PartStore = GroupStore<intake_sms::Part>;

const PART: &str = "part";
const DONE: &str = "done";

struct Group {
    members: BTreeMap<u32, serde_json::Value>,
    total: u32,
    first_seen: DateTime<Utc>,
    /// No line of this group lies in an older segment: older ones may go once it is done.
    oldest_segment: u64,
}

/// Durable groups of `T` (one long message's parts), keyed by sender/receiver/reference.
pub struct GroupStore<T> {
    dir: PathBuf,
    log: LocalLog,
    groups: Mutex<HashMap<String, Group>>,
    _member: PhantomData<fn() -> T>,
}

impl<T: Serialize + DeserializeOwned> GroupStore<T> {
    /// Opens the store in `dir`, replaying the parts of unfinished groups.
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let mut groups: HashMap<String, Group> = HashMap::new();
        for entry in read_all(dir)?.entries {
            if entry.topic == DONE {
                groups.remove(&entry.key);
                continue;
            }
            let (Some(seq), Some(total), Some(at)) = (
                header::<u32>(&entry, "seq"),
                header::<u32>(&entry, "total"),
                header::<i64>(&entry, "at"),
            ) else {
                continue;
            };
            let Ok(member) = serde_json::from_str(&entry.record) else {
                continue;
            };
            let first_seen = DateTime::from_timestamp_millis(at).unwrap_or_else(Utc::now);
            let group = groups.entry(entry.key.clone()).or_insert(Group {
                members: BTreeMap::new(),
                total,
                first_seen,
                oldest_segment: 0,
            });
            group.members.insert(seq, member);
            group.first_seen = group.first_seen.min(first_seen);
        }
        let log = LocalLog::open(dir, 1024 * 1024).map_err(std::io::Error::other)?;
        Ok(GroupStore {
            dir: dir.to_path_buf(),
            log,
            groups: Mutex::new(groups),
            _member: PhantomData,
        })
    }

    /// Stores part `seq` of `total` for group `key` durably; returns the whole group, in order,
    /// when this part completed it. A re-delivered part replaces its earlier copy.
    pub async fn add(
        &self,
        key: &str,
        seq: u32,
        total: u32,
        member: &T,
    ) -> Result<Option<Vec<T>>, LogError> {
        let value = serde_json::to_value(member).map_err(|e| LogError::Io(e.to_string()))?;
        let now = Utc::now();
        let headers = Headers::from([
            ("seq".into(), seq.to_string().into()),
            ("total".into(), total.to_string().into()),
            ("at".into(), now.timestamp_millis().to_string().into()),
        ]);
        let entry = Entry {
            topic: PART.into(),
            key: key.into(),
            headers,
            record: value.to_string().into(),
        };
        let line = encode_line(&entry).map_err(|e| LogError::Io(e.to_string()))?;
        let segment_before = self.log.committed().segment;
        self.log.append(line).await?;
        let mut groups = self
            .groups
            .lock()
            .map_err(|_| LogError::Io("reassembly lock poisoned".into()))?;
        let group = groups.entry(key.to_string()).or_insert(Group {
            members: BTreeMap::new(),
            total,
            first_seen: now,
            oldest_segment: segment_before,
        });
        group.members.insert(seq, value);
        group.total = group.total.max(total);
        if group.members.len() as u32 >= group.total {
            return Ok(Some(decode(group)));
        }
        Ok(None)
    }

    /// Records that the message of `key` was published and forgets its parts.
    pub async fn finish(&self, key: &str) -> Result<(), LogError> {
        let entry = Entry {
            topic: DONE.into(),
            key: key.into(),
            headers: Headers::new(),
            record: "{}".into(),
        };
        self.log
            .append(encode_line(&entry).map_err(|e| LogError::Io(e.to_string()))?)
            .await?;
        let keep_from = {
            let mut groups = self
                .groups
                .lock()
                .map_err(|_| LogError::Io("reassembly lock poisoned".into()))?;
            groups.remove(key);
            groups
                .values()
                .map(|g| g.oldest_segment)
                .min()
                .unwrap_or(self.log.committed().segment)
        };
        // Best effort: a segment left behind is only replayed and skipped on the next open.
        if let Ok(seqs) = segments(&self.dir) {
            for seq in seqs.into_iter().filter(|s| *s < keep_from) {
                let _ = std::fs::remove_file(self.dir.join(segment_name(seq)));
            }
        }
        Ok(())
    }

    /// Groups waiting longer than `timeout`, with the parts that did arrive, in order.
    pub fn expired(&self, timeout: std::time::Duration) -> Vec<(String, Vec<T>)> {
        let cutoff = Utc::now()
            - chrono::Duration::from_std(timeout).unwrap_or_else(|_| chrono::Duration::zero());
        let Ok(groups) = self.groups.lock() else {
            return Vec::new();
        };
        groups
            .iter()
            .filter(|(_, g)| g.first_seen <= cutoff)
            .map(|(k, g)| (k.clone(), decode(g)))
            .collect()
    }

    /// Groups waiting.
    pub fn pending(&self) -> usize {
        self.groups.lock().map(|g| g.len()).unwrap_or(0)
    }

    /// Syncs and closes the log.
    pub async fn close(&self) {
        self.log.close().await;
    }
}

fn decode<T: DeserializeOwned>(group: &Group) -> Vec<T> {
    group
        .members
        .values()
        .filter_map(|v| serde_json::from_value(v.clone()).ok())
        .collect()
}

fn header<N: std::str::FromStr>(entry: &Entry, name: &str) -> Option<N> {
    entry.headers.get(name).and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn parts_in_any_order_survive_a_restart_and_complete_once() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = GroupStore::<String>::open(dir.path()).unwrap();
            assert_eq!(store.add("a", 3, 3, &"c".to_string()).await.unwrap(), None);
            assert_eq!(store.add("a", 1, 3, &"a".to_string()).await.unwrap(), None);
            store.close().await;
        }
        let store = GroupStore::<String>::open(dir.path()).unwrap();
        assert_eq!(store.pending(), 1);
        assert_eq!(
            store.add("a", 1, 3, &"a".to_string()).await.unwrap(),
            None,
            "a re-sent part is not a new one"
        );
        let whole = store.add("a", 2, 3, &"b".to_string()).await.unwrap();
        assert_eq!(
            whole,
            Some(vec!["a".to_string(), "b".to_string(), "c".to_string()])
        );
        store.finish("a").await.unwrap();
        store.close().await;
        let store = GroupStore::<String>::open(dir.path()).unwrap();
        assert_eq!(store.pending(), 0, "a finished group stays finished");
    }

    #[tokio::test]
    async fn a_stale_group_is_reported_with_what_arrived() {
        let dir = tempfile::tempdir().unwrap();
        let store = GroupStore::<String>::open(dir.path()).unwrap();
        store.add("b", 2, 2, &"second".to_string()).await.unwrap();
        assert!(store.expired(Duration::from_secs(600)).is_empty());
        let stale = store.expired(Duration::ZERO);
        assert_eq!(stale, vec![("b".to_string(), vec!["second".to_string()])]);
    }
}
