//! Leases: "this replica does it" for work that must run on exactly one replica at a time
//! (polling a partner's feed). A lease is renewed by its holder and moves when the holder
//! stops renewing it (it died, or lost Redis) and its time runs out.

use redis::Script;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::link::{Down, Link};

const HOLD: &str = r"
local v = redis.call('GET', KEYS[1])
if (not v) or v == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
";

fn script() -> &'static Script {
    static SCRIPT: OnceLock<Script> = OnceLock::new();
    SCRIPT.get_or_init(|| Script::new(HOLD))
}

/// The leases of one replica.
pub struct Leases {
    link: Arc<Link>,
}

impl Leases {
    /// Leases held in the name of this replica's instance id.
    pub fn new(link: Arc<Link>) -> Self {
        Leases { link }
    }

    /// The link, for counting degraded work.
    pub fn link(&self) -> &Arc<Link> {
        &self.link
    }

    /// Takes or renews the lease `name` for `ttl`; false when another replica holds it.
    pub async fn hold(&self, name: &str, ttl: Duration) -> Result<bool, Down> {
        let held: i64 = self
            .link
            .invoke(
                script()
                    .key(self.link.key(&format!("lease:{name}")))
                    .arg(self.link.instance())
                    .arg(ttl.as_millis() as u64),
            )
            .await?;
        Ok(held == 1)
    }
}
