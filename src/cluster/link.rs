//! The connection to Redis, whether it answers, and which peers were seen recently.
//!
//! The connection manager reconnects by itself; every operation has `op_timeout`, and its
//! outcome sets `redis_up`, so a Redis that comes back is used again without a restart.

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{FromRedisValue, ScriptInvocation};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;

use super::config::ClusterConfig;

/// How often a replica says it is alive, and how long it counts as a peer after that.
const HEARTBEAT: Duration = Duration::from_secs(2);
const PEER_TTL: Duration = Duration::from_secs(10);

/// Redis did not answer (or refused): the caller falls back, or tells its own caller to retry.
#[derive(Debug, thiserror::Error)]
#[error("cluster state store (Redis) unavailable: {0}")]
pub struct Down(pub String);

/// One replica's link to the shared state.
pub struct Link {
    conn: ConnectionManager,
    /// For more connections like `conn`: see [`Link::connection`].
    client: redis::Client,
    manager: ConnectionManagerConfig,
    prefix: String,
    instance: String,
    op_timeout: Duration,
    up: AtomicBool,
    /// Whether any operation finished yet: the first outcome is logged either way.
    known: AtomicBool,
    /// When an operation last failed (ms since the epoch), for the short circuit below.
    failed_at: AtomicI64,
    peers: Mutex<Vec<String>>,
}

/// After a failure, requests skip Redis for this long (the heartbeat keeps probing), so a Redis
/// that hangs costs each request nothing rather than `op_timeout`.
const SHORT_CIRCUIT_MS: i64 = 1000;

impl Link {
    /// A link that connects on first use; never fails on an unreachable Redis, only on a bad URL.
    pub fn new(config: &ClusterConfig) -> Result<Arc<Link>, String> {
        let url = config.redis_url.as_ref().map(|u| u.expose()).unwrap_or("");
        let client = redis::Client::open(url).map_err(|_| "cluster.redis_url is not usable")?;
        let manager = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.connect_timeout))
            .set_response_timeout(Some(config.op_timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), manager.clone())
            .map_err(|e| format!("cluster: {e}"))?;
        metrics::describe_counter!(
            "intake_cluster_degraded_total",
            "Requests handled on local state only because Redis was unavailable (a duplicate across replicas becomes possible), by what."
        );
        metrics::describe_gauge!("intake_cluster_redis_up", "1 when Redis answered last.");
        Ok(Arc::new(Link {
            conn,
            client,
            manager,
            prefix: config.key_prefix.clone(),
            instance: config.instance(),
            op_timeout: config.op_timeout,
            up: AtomicBool::new(false),
            known: AtomicBool::new(false),
            failed_at: AtomicI64::new(0),
            peers: Mutex::new(Vec::new()),
        }))
    }

    /// `{key_prefix}:{rest}`.
    pub fn key(&self, rest: &str) -> String {
        self.key_of(rest, "")
    }

    /// `{key_prefix}:{kind}{id}`, joined without `format!` (a dedup marker's key, per request).
    pub fn key_of(&self, kind: &str, id: &str) -> String {
        [self.prefix.as_str(), ":", kind, id].concat()
    }

    /// This replica's name.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// True when Redis answered the last operation.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// Replicas that said they were alive within the last few seconds (this one included).
    pub fn peers(&self) -> Vec<String> {
        self.peers.lock().map(|p| p.clone()).unwrap_or_default()
    }

    /// Counts one request handled on local state because Redis was not there.
    pub fn degraded(&self, what: &'static str) {
        metrics::counter!("intake_cluster_degraded_total", "what" => what).increment(1);
        crate::ops::stats::collector().cluster_degraded();
    }

    /// `Err` while Redis failed within the last second and has not answered since.
    fn short_circuit(&self) -> Result<(), Down> {
        let since = chrono::Utc::now().timestamp_millis() - self.failed_at.load(Ordering::Relaxed);
        if !self.is_up() && since < SHORT_CIRCUIT_MS {
            return Err(Down("unreachable a moment ago".into()));
        }
        Ok(())
    }

    /// Runs a script; any error or a timeout is [`Down`].
    pub async fn invoke<T: FromRedisValue>(
        &self,
        invocation: &ScriptInvocation<'_>,
    ) -> Result<T, Down> {
        self.short_circuit()?;
        let mut conn = self.conn.clone();
        let result =
            tokio::time::timeout(self.op_timeout, invocation.invoke_async(&mut conn)).await;
        self.settle(result)
    }

    /// Runs a command; any error or a timeout is [`Down`].
    pub async fn query<T: FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, Down> {
        self.short_circuit()?;
        let mut conn = self.conn.clone();
        let result = tokio::time::timeout(self.op_timeout, cmd.query_async(&mut conn)).await;
        self.settle(result)
    }

    /// Runs a pipeline and returns its replies; any error or a timeout is [`Down`].
    pub async fn query_pipe_values<T: FromRedisValue>(
        &self,
        pipe: &redis::Pipeline,
    ) -> Result<T, Down> {
        self.query_on(&self.conn, pipe).await
    }

    /// Another connection to the same Redis, with the same settings. It connects, and spawns its
    /// driver task, on first use: from the runtime of its first caller, where the link's own
    /// connection runs on the main runtime (see `markers`).
    pub fn connection(&self) -> ConnectionManager {
        ConnectionManager::new_lazy_with_config(self.client.clone(), self.manager.clone())
            // The same client and settings were accepted in `Link::new`.
            .unwrap_or_else(|_| self.conn.clone())
    }

    /// [`Link::query_pipe_values`] on `conn` (from [`Link::connection`]).
    pub async fn query_on<T: FromRedisValue>(
        &self,
        conn: &ConnectionManager,
        pipe: &redis::Pipeline,
    ) -> Result<T, Down> {
        self.short_circuit()?;
        let mut conn = conn.clone();
        let result = tokio::time::timeout(self.op_timeout, pipe.query_async::<T>(&mut conn)).await;
        self.settle(result)
    }

    /// Runs a pipeline whose replies are all ignored; any error or a timeout is [`Down`].
    pub async fn query_pipe(&self, pipe: &redis::Pipeline) -> Result<(), Down> {
        self.query_pipe_values::<()>(pipe).await
    }

    fn settle<T>(
        &self,
        result: Result<redis::RedisResult<T>, tokio::time::error::Elapsed>,
    ) -> Result<T, Down> {
        let outcome = match result {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(Down(e.to_string())),
            Err(_) => Err(Down(format!("no answer within {:?}", self.op_timeout))),
        };
        let up = outcome.is_ok();
        if !up {
            self.failed_at
                .store(chrono::Utc::now().timestamp_millis(), Ordering::Relaxed);
        }
        let first = !self.known.swap(true, Ordering::Relaxed);
        if self.up.swap(up, Ordering::Relaxed) != up || first {
            metrics::gauge!("intake_cluster_redis_up").set(if up { 1.0 } else { 0.0 });
            match &outcome {
                Ok(_) => {
                    tracing::info!(instance = %self.instance, "redis reachable: cluster state is shared")
                }
                Err(e) => {
                    tracing::warn!(instance = %self.instance, error = %e, "redis unreachable: serving on local state (SMS parts get 503)")
                }
            }
        }
        outcome
    }

    /// Says "alive" every two seconds and learns the peers that did the same.
    pub fn spawn_heartbeat(self: &Arc<Self>) -> JoinHandle<()> {
        let link = self.clone();
        tokio::spawn(async move {
            let key = link.key("peers");
            let mut tick = tokio::time::interval(HEARTBEAT);
            loop {
                tick.tick().await;
                let now = chrono::Utc::now().timestamp_millis();
                let since = now - PEER_TTL.as_millis() as i64;
                let mut pipe = redis::pipe();
                pipe.cmd("ZADD")
                    .arg(&key)
                    .arg(now)
                    .arg(&link.instance)
                    .ignore()
                    .cmd("ZREMRANGEBYSCORE")
                    .arg(&key)
                    .arg("-inf")
                    .arg(since)
                    .ignore()
                    .cmd("ZRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(-1);
                let mut conn = link.conn.clone();
                let result = tokio::time::timeout(
                    link.op_timeout,
                    pipe.query_async::<(Vec<String>,)>(&mut conn),
                )
                .await;
                if let Ok((peers,)) = link.settle(result) {
                    if let Ok(mut p) = link.peers.lock() {
                        *p = peers;
                    }
                }
            }
        })
    }
}
