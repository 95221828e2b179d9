//! Dedup markers shared by the replicas: one key per request id, *in flight* (owned by one
//! replica, with a lease) and then *durable* (kept for the dedup window).
//!
//! Only the owner may turn its marker durable or release it: both are compare-and-set scripts on
//! the owner's token, so a replica whose lease ran out can never overwrite a newer owner.

use redis::Script;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::link::{Down, Link};

const CLAIM: &str = r"
local v = redis.call('GET', KEYS[1])
if v then return v end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 'mine'
";

const SETTLE: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end
return 1
";

/// What the shared marker of a request id says.
#[derive(Debug, PartialEq, Eq)]
pub enum Marker {
    /// Nobody had it: this replica owns it now, under this token.
    Mine(String),
    /// Another delivery is publishing it (on this replica or another).
    InFlight,
    /// It was made durable already: answer as a duplicate.
    Durable,
}

/// The markers of one gateway.
pub struct Markers {
    link: Arc<Link>,
    lease: Duration,
    window: Duration,
}

fn scripts() -> &'static (Script, Script) {
    static SCRIPTS: OnceLock<(Script, Script)> = OnceLock::new();
    SCRIPTS.get_or_init(|| (Script::new(CLAIM), Script::new(SETTLE)))
}

impl Markers {
    /// Markers whose in-flight lease is `lease` (longer than a delivery can take) and whose
    /// durable state lasts `window` (the dedup window).
    pub fn new(link: Arc<Link>, lease: Duration, window: Duration) -> Self {
        Markers {
            link,
            lease,
            window,
        }
    }

    /// The link, for counting degraded requests.
    pub fn link(&self) -> &Arc<Link> {
        &self.link
    }

    fn key(&self, id: &str) -> String {
        self.link.key(&format!("req:{id}"))
    }

    /// Takes the marker of `id` if nobody holds it.
    pub async fn claim(&self, id: &str) -> Result<Marker, Down> {
        let token = format!(
            "f|{}|{}",
            self.link.instance(),
            uuid::Uuid::new_v4().simple()
        );
        let found: String = self
            .link
            .invoke(
                scripts()
                    .0
                    .key(self.key(id))
                    .arg(&token)
                    .arg(self.lease.as_millis() as u64),
            )
            .await?;
        Ok(match found.as_str() {
            "mine" => Marker::Mine(token),
            v if v.starts_with("d|") => Marker::Durable,
            _ => Marker::InFlight,
        })
    }

    /// Turns the owner's marker durable (`true`) or releases it so a retry may publish (`false`).
    pub async fn settle(&self, id: &str, token: &str, durable: bool) -> Result<bool, Down> {
        let value = if durable {
            format!("d|{}", self.link.instance())
        } else {
            String::new()
        };
        let changed: i64 = self
            .link
            .invoke(
                scripts()
                    .1
                    .key(self.key(id))
                    .arg(token)
                    .arg(value)
                    .arg(self.window.as_millis() as u64),
            )
            .await?;
        Ok(changed == 1)
    }
}
