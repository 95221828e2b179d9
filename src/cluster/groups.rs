//! Groups of parts shared by the replicas (the parts of one long SMS): a hash per group, with
//! a TTL of the reassembly timeout plus a margin.
//!
//! Adding a part and finding the group complete is one script, so exactly one replica gets the
//! whole group to publish: it holds the group's claim (a lease) until it marks the group done.
//! Groups past the timeout are claimed the same way by whichever replica sweeps first; a claim
//! whose holder died runs out and the group is swept again. Done groups stay marked for a day,
//! so a part re-sent after its message was published is a duplicate, not a new group.

use redis::Script;
use sha2::{Digest, Sha256};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::link::{Down, Link};

/// How long a finished group is remembered.
const DONE_TTL: Duration = Duration::from_secs(24 * 3600);
/// Groups looked at per sweep.
const SWEEP_BATCH: usize = 100;

// KEYS: parts hash, claim, pending zset. ARGV: seq, member, total, now, ttl, group, owner, lease.
const ADD: &str = r"
local c = redis.call('GET', KEYS[2])
if c == 'done' then return {'done'} end
redis.call('HSET', KEYS[1], 'p:' .. ARGV[1], ARGV[2])
local t = tonumber(redis.call('HGET', KEYS[1], 'total') or '0')
if tonumber(ARGV[3]) > t then t = tonumber(ARGV[3]); redis.call('HSET', KEYS[1], 'total', t) end
redis.call('HSETNX', KEYS[1], 'first', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('ZADD', KEYS[3], 'NX', ARGV[4], ARGV[6])
if (not c) and redis.call('HLEN', KEYS[1]) - 2 >= t then
  redis.call('SET', KEYS[2], ARGV[7], 'PX', ARGV[8])
  local out = redis.call('HGETALL', KEYS[1])
  table.insert(out, 1, 'complete')
  return out
end
return {'pending'}
";

// KEYS: parts hash, claim, pending zset. ARGV: group, owner, lease.
const CLAIM: &str = r"
local c = redis.call('GET', KEYS[2])
if c == 'done' or redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('ZREM', KEYS[3], ARGV[1])
  return {'gone'}
end
if c then return {'busy'} end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
local out = redis.call('HGETALL', KEYS[1])
table.insert(out, 1, 'mine')
return out
";

// KEYS: parts hash, claim, pending zset. ARGV: group, done ttl.
const FINISH: &str = r"
redis.call('SET', KEYS[2], 'done', 'PX', ARGV[2])
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return 1
";

fn scripts() -> &'static [Script; 3] {
    static SCRIPTS: OnceLock<[Script; 3]> = OnceLock::new();
    SCRIPTS.get_or_init(|| [Script::new(ADD), Script::new(CLAIM), Script::new(FINISH)])
}

/// What adding a part did.
#[derive(Debug, PartialEq, Eq)]
pub enum Added {
    /// Stored; the group still waits for others.
    Pending,
    /// This part completed the group: here are all its members (JSON), in order; publish them.
    Complete(Vec<String>),
    /// The group was published already.
    Done,
}

/// Shared groups under one name (`sms`).
pub struct Groups {
    link: Arc<Link>,
    name: &'static str,
    timeout: Duration,
    lease: Duration,
}

impl Groups {
    /// Groups that wait `timeout` for their missing members; a claim lasts `lease`.
    pub fn new(link: Arc<Link>, name: &'static str, timeout: Duration, lease: Duration) -> Self {
        Groups {
            link,
            name,
            timeout,
            lease,
        }
    }

    /// The link, for counting degraded requests.
    pub fn link(&self) -> &Arc<Link> {
        &self.link
    }

    /// The group's id in Redis: a hash of its key, which holds phone numbers.
    pub fn id(key: &str) -> String {
        hex::encode(&Sha256::digest(key.as_bytes())[..16])
    }

    fn keys(&self, id: &str) -> [String; 3] {
        [
            self.link.key(&format!("{}:{id}:parts", self.name)),
            self.link.key(&format!("{}:{id}:claim", self.name)),
            self.link.key(&format!("{}:pending", self.name)),
        ]
    }

    fn owner(&self) -> String {
        format!("{}|{}", self.link.instance(), uuid::Uuid::new_v4().simple())
    }

    /// Stores member `seq` of `total` of group `id`, atomically with the completeness check.
    pub async fn add(&self, id: &str, seq: u32, total: u32, member: &str) -> Result<Added, Down> {
        let [parts, claim, pending] = self.keys(id);
        // The hash outlives the timeout, so the sweep can still publish what arrived.
        let ttl = self.timeout + self.lease + Duration::from_secs(60);
        let reply: Vec<String> = self
            .link
            .invoke(
                scripts()[0]
                    .key(parts)
                    .key(claim)
                    .key(pending)
                    .arg(seq)
                    .arg(member)
                    .arg(total)
                    .arg(chrono::Utc::now().timestamp_millis())
                    .arg(ttl.as_millis() as u64)
                    .arg(id)
                    .arg(self.owner())
                    .arg(self.lease.as_millis() as u64),
            )
            .await?;
        Ok(match reply.first().map(String::as_str) {
            Some("complete") => Added::Complete(members(&reply[1..])),
            Some("done") => Added::Done,
            _ => Added::Pending,
        })
    }

    /// Marks group `id` published and forgets its members.
    pub async fn finish(&self, id: &str) -> Result<(), Down> {
        let [parts, claim, pending] = self.keys(id);
        self.link
            .invoke::<i64>(
                scripts()[2]
                    .key(parts)
                    .key(claim)
                    .key(pending)
                    .arg(id)
                    .arg(DONE_TTL.as_millis() as u64),
            )
            .await
            .map(|_| ())
    }

    /// Claims groups that waited past the timeout (or whose claimer died): each comes back to
    /// one replica only, with the members that arrived, in order.
    pub async fn claim_expired(&self) -> Result<Vec<(String, Vec<String>)>, Down> {
        let cutoff = chrono::Utc::now().timestamp_millis() - self.timeout.as_millis() as i64;
        let mut cmd = redis::cmd("ZRANGEBYSCORE");
        cmd.arg(self.link.key(&format!("{}:pending", self.name)))
            .arg("-inf")
            .arg(cutoff)
            .arg("LIMIT")
            .arg(0)
            .arg(SWEEP_BATCH);
        let ids: Vec<String> = self.link.query(&cmd).await?;
        let mut claimed = Vec::new();
        for id in ids {
            let [parts, claim, pending] = self.keys(&id);
            let reply: Vec<String> = self
                .link
                .invoke(
                    scripts()[1]
                        .key(parts)
                        .key(claim)
                        .key(pending)
                        .arg(&id)
                        .arg(self.owner())
                        .arg(self.lease.as_millis() as u64),
                )
                .await?;
            if reply.first().map(String::as_str) == Some("mine") {
                claimed.push((id, members(&reply[1..])));
            }
        }
        Ok(claimed)
    }
}

/// The members of a flat HGETALL reply (`p:{seq}`, value, …), in sequence order.
fn members(flat: &[String]) -> Vec<String> {
    let mut found: Vec<(u32, String)> = flat
        .chunks(2)
        .filter_map(|pair| match pair {
            [field, value] => Some((field.strip_prefix("p:")?.parse().ok()?, value.clone())),
            _ => None,
        })
        .collect();
    found.sort_by_key(|(seq, _)| *seq);
    found.into_iter().map(|(_, v)| v).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_come_in_sequence_order_without_the_bookkeeping_fields() {
        let flat: Vec<String> = [
            "p:3", "c", "total", "3", "p:1", "a", "first", "1", "p:2", "b",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(members(&flat), vec!["a", "b", "c"]);
    }

    #[test]
    fn group_ids_hide_the_key() {
        let id = Groups::id("sms:kannel/+8613800000000/12345/17");
        assert_eq!(id.len(), 32);
        assert!(!id.contains("138"));
    }
}
