//! Starting and stopping one gateway: storage, sink, listeners, background upkeep.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::channels::call::CallChannel;
use crate::channels::sms::receipts::ReceiptSender;
use crate::channels::sms::{self, SmsChannel};
use crate::cluster::calls::SharedCalls;
use crate::cluster::groups::Groups;
use crate::cluster::leases::Leases;
use crate::cluster::markers::Markers;
use crate::cluster::Link;
use crate::config::Config;
use crate::dedup::DedupIndex;
use crate::hook::{Limits, Shared};
use crate::ops::{self, OpsState};
use crate::pipeline::Pipeline;
use crate::routes::{self, Stateful};
use crate::sink::{JournalSink, KafkaSink, Sink, Topics};
use crate::spool::{forwarder, Spool};
use crate::telemetry;

/// Added to a shared claim's lease beyond the longest a delivery can take.
const MARKER_LEASE_MARGIN: Duration = Duration::from_secs(15);

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory, dedup file or journal cannot be used.
    #[error("storage: {0}")]
    Storage(String),
    /// The Kafka producer cannot be built.
    #[error("sink: {0}")]
    Sink(#[from] crate::sink::SinkError),
    /// `[cluster]` cannot be used.
    #[error("cluster: {0}")]
    Cluster(String),
    /// A TLS setting cannot be honoured (certificate, key or CA file).
    #[error("tls: {0}")]
    Tls(String),
    /// The configuration cannot be used (checked at load; kept for callers building one).
    #[error("configuration: {0}")]
    Config(String),
    /// A listener cannot bind.
    #[error("cannot listen on {addr}: {error}")]
    Bind {
        /// The configured address.
        addr: SocketAddr,
        /// What the OS said.
        error: std::io::Error,
    },
}

/// A running gateway.
pub struct Gateway {
    /// Where the hooks listen (the real port when configured with port 0).
    pub addr: SocketAddr,
    /// Where the ops endpoints listen.
    pub ops_addr: SocketAddr,
    /// The sink in use.
    pub sink_kind: &'static str,
    stop: watch::Sender<bool>,
    /// Set when shutdown is over: the hook-serving threads may then drop their runtimes.
    retired: watch::Sender<bool>,
    servers: Vec<JoinHandle<()>>,
    upkeep: Vec<JoinHandle<()>>,
    forwarder: Option<JoinHandle<u64>>,
    pipeline: Arc<Pipeline>,
    receipts: Arc<ReceiptSender>,
    board: Arc<crate::ops::lines::LineBoard>,
    grace: Duration,
}

/// Opens storage and the sink, binds both listeners and starts serving.
pub async fn start(config: Config) -> Result<Gateway, StartError> {
    // Install the recorder before anything records: the startup Kafka probe sets intake_kafka_up.
    let prometheus = telemetry::prometheus();
    let config = Arc::new(config);
    let data_dir = config.storage.data_dir.clone();
    std::fs::create_dir_all(&data_dir)
        .map_err(|e| StartError::Storage(format!("{}: {e}", data_dir.display())))?;
    let dedup = DedupIndex::open(
        &data_dir.join("dedup"),
        config.storage.dedup_window,
        config.storage.dedup_max_entries,
    )
    .map_err(|e| StartError::Storage(format!("dedup index: {e}")))?;
    let topics = Topics::of(&config.kafka);
    let mut upkeep = Vec::new();
    let (stop, stopped) = watch::channel(false);
    let (retired, retired_rx) = watch::channel(false);
    let mut forwarder = None;
    let (sink, spool) = match config.kafka.bootstrap_servers() {
        Some(bootstrap) => {
            let kafka = Arc::new(KafkaSink::new(&config.kafka, &bootstrap, topics)?);
            tracing::info!(security_protocol = %config.kafka.security_protocol(), "kafka producer configured");
            // Know before the first request whether Kafka answers; otherwise it would be spooled.
            if !kafka.probe().await {
                tracing::warn!(
                    "kafka does not answer at start; requests are spooled until it does"
                );
            }
            upkeep.push(kafka.spawn_probe(Duration::from_secs(5)));
            let spool = Spool::open(
                &data_dir.join("spool"),
                config.storage.segment_bytes,
                config.spool.max_bytes,
            )
            .map_err(|e| StartError::Storage(format!("spool: {e}")))?;
            let spool = Arc::new(spool);
            if spool.has_backlog() {
                tracing::warn!(
                    entries = spool.stats().entries,
                    "spool holds requests from before the restart; forwarding them"
                );
            }
            forwarder = Some(tokio::spawn(forwarder::run(
                spool.clone(),
                kafka.clone(),
                stopped.clone(),
                false,
                Default::default(),
            )));
            (Sink::Kafka(kafka), Some(spool))
        }
        None => {
            let journal = JournalSink::open(
                &data_dir.join("journal"),
                config.storage.segment_bytes,
                topics,
            )?;
            (Sink::Journal(Arc::new(journal)), None)
        }
    };
    let cluster = match &config.cluster {
        Some(c) => {
            let link = Link::new(c).map_err(StartError::Cluster)?;
            upkeep.push(link.spawn_heartbeat());
            tracing::info!(instance = %link.instance(), key_prefix = %c.key_prefix, "cluster mode: state shared through redis");
            Some(link)
        }
        None => None,
    };
    let mut pipeline = Pipeline::new(
        dedup.clone(),
        sink,
        spool,
        config.kafka.delivery_timeout,
        config.spool.after,
    );
    if let Some(link) = &cluster {
        // Longer than any delivery can still succeed: librdkafka gives up after message_timeout.
        let lease = config.kafka.message_timeout + config.spool.after + MARKER_LEASE_MARGIN;
        pipeline = pipeline.with_markers(Arc::new(Markers::new(
            link.clone(),
            lease,
            config.storage.dedup_window,
        )));
    }
    let pipeline = Arc::new(pipeline);
    upkeep.push(spawn_upkeep(dedup, prometheus.clone()));

    let listener = bind(config.server.listen).await?;
    let ops_listener = bind(config.ops.listen).await?;
    let addr = listener.local_addr().map_err(|error| StartError::Bind {
        addr: config.server.listen,
        error,
    })?;
    let ops_addr = ops_listener
        .local_addr()
        .map_err(|error| StartError::Bind {
            addr: config.ops.listen,
            error,
        })?;
    for warning in config.deprecations() {
        tracing::warn!(deprecated = true, "{warning}");
    }
    let router = Arc::new(
        config
            .router()
            .map_err(|e| StartError::Config(e.to_string()))?,
    );
    let board = Arc::new(crate::ops::lines::LineBoard::open(
        crate::ops::lines::line_infos(router.registry()),
        config
            .ops
            .timezone
            .parse()
            .unwrap_or(chrono_tz::Asia::Shanghai),
        Some(&data_dir),
    ));
    upkeep.push(board.spawn_persist());
    let shared = Shared {
        pipeline: pipeline.clone(),
        limits: Arc::new(Limits::new(&config.limits)),
        max_body_bytes: config.server.max_body_bytes,
        router,
        board: board.clone(),
    };
    let shared_parts = cluster.as_ref().map(|link| {
        Arc::new(Groups::new(
            link.clone(),
            "sms",
            config.channels.sms.reassembly_timeout,
            config.kafka.message_timeout + MARKER_LEASE_MARGIN,
        ))
    });
    let shared_calls = (cluster.as_ref()).map(|link| {
        Arc::new(SharedCalls::new(
            link.clone(),
            config.channels.call.state_ttl,
        ))
    });
    let outbound = crate::outbound::Outbound::load(&config.outbound)
        .map_err(|e| StartError::Tls(e.to_string()))?;
    let leases = (cluster.as_ref()).map(|link| Arc::new(Leases::new(link.clone())));
    upkeep.extend(crate::channels::web::pull::spawn_all(
        &config,
        &shared,
        &data_dir,
        stopped.clone(),
        &outbound,
        leases,
    ));
    let sms = SmsChannel::open(
        shared.clone(),
        Arc::new(config.channels.sms.clone()),
        &data_dir.join("sms_parts"),
        shared_parts,
        outbound,
    )
    .map_err(|e| StartError::Storage(format!("sms parts: {e}")))?;
    upkeep.push(sms::spawn_reassembly_timeouts(&sms));
    let receipts = sms.receipts.clone();
    let call = CallChannel::new(
        shared.clone(),
        Arc::new(config.channels.call.clone()),
        shared_calls,
    );
    let hooks = routes::router(
        &config.server,
        &config.channels,
        shared,
        Stateful { sms, call },
    );
    let ops = ops::router(OpsState {
        pipeline: pipeline.clone(),
        prometheus,
        cluster,
        auth: ops::auth::OpsAuth::from_config(&config.ops),
        board: board.clone(),
    });
    let hooks_server = match &config.server.tls {
        // Refuse to start rather than serve plain HTTP where HTTPS was asked for.
        Some(tls) => {
            let live = crate::tls::load(tls).map_err(StartError::Tls)?;
            upkeep.push(crate::tls::spawn_reloader(live.clone(), tls.clone()));
            serve_tls(listener, hooks, stopped.clone(), live)?
        }
        None => {
            let threads = config
                .server
                .worker_threads
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            crate::per_core::serve(listener, hooks, threads, stopped.clone(), retired_rx)
                .map_err(|error| StartError::Bind { addr, error })?
        }
    };
    let servers = vec![hooks_server, serve(ops_listener, ops, stopped)];
    tracing::info!(%addr, %ops_addr, https = config.server.tls.is_some(), sink = pipeline.sink().kind(), data_dir = %data_dir.display(), "intake gateway listening");
    Ok(Gateway {
        addr,
        ops_addr,
        sink_kind: pipeline.sink().kind(),
        stop,
        retired,
        servers,
        upkeep,
        forwarder,
        pipeline,
        receipts,
        board,
        grace: config.limits.shutdown_grace,
    })
}

impl Gateway {
    /// Stops accepting, lets in-flight requests finish, flushes the sink and the dedup index.
    pub async fn shutdown(self) {
        tracing::info!(grace = ?self.grace, "shutting down: no new requests, finishing in-flight ones");
        let deadline = tokio::time::Instant::now() + self.grace;
        let _ = self.stop.send(true);
        for server in self.servers {
            if tokio::time::timeout_at(deadline, server).await.is_err() {
                tracing::warn!("grace period over with requests still in flight");
            }
        }
        if let Some(mut forwarder) = self.forwarder {
            // A batch still waiting on Kafka when the grace is over is abandoned; its entries stay
            // in the spool and are replayed on the next start.
            if tokio::time::timeout_at(deadline, &mut forwarder)
                .await
                .is_err()
            {
                forwarder.abort();
                let _ = forwarder.await;
            }
        }
        for task in &self.upkeep {
            task.abort();
        }
        // After the listeners: no hook can queue a receipt any more. Best effort, bounded.
        self.receipts.shutdown().await;
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        self.pipeline
            .sink()
            .close(remaining.max(Duration::from_secs(1)))
            .await;
        if let Some(spool) = self.pipeline.spool() {
            spool.close().await;
            let stats = spool.stats();
            if stats.entries > 0 {
                tracing::warn!(
                    entries = stats.entries,
                    bytes = stats.bytes,
                    "spool not empty at shutdown; it is forwarded on the next start"
                );
            }
        }
        if let Err(e) = self.board.persist() {
            tracing::warn!(error = %e, "per-line counts not persisted at shutdown");
        }
        if let Err(e) = self.pipeline.dedup().flush(true) {
            tracing::error!(error = %e, "dedup index flush failed: recent ids may be re-accepted as new after restart");
        }
        let _ = self.retired.send(true);
        tracing::info!("shutdown complete");
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|error| StartError::Bind { addr, error })
}

fn serve(
    listener: TcpListener,
    router: axum::Router,
    stopped: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(crate::per_core::until_stopped(listener, router, stopped))
}

fn serve_tls(
    listener: TcpListener,
    router: axum::Router,
    mut stopped: watch::Receiver<bool>,
    tls: axum_server::tls_rustls::RustlsConfig,
) -> Result<JoinHandle<()>, StartError> {
    let addr = listener.local_addr().ok();
    let listener = listener.into_std().map_err(|error| StartError::Bind {
        addr: addr.unwrap_or_else(|| ([0, 0, 0, 0], 0).into()),
        error,
    })?;
    let handle = axum_server::Handle::new();
    let on_stop = handle.clone();
    tokio::spawn(async move {
        let _ = stopped.wait_for(|s| *s).await;
        on_stop.graceful_shutdown(None);
    });
    Ok(tokio::spawn(async move {
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        if let Err(e) = axum_server::from_tcp_rustls(listener, tls)
            .handle(handle)
            .serve(service)
            .await
        {
            tracing::error!(error = %e, "TLS listener failed");
        }
    }))
}

fn spawn_upkeep(
    dedup: Arc<DedupIndex>,
    prometheus: metrics_exporter_prometheus::PrometheusHandle,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        let mut n: u64 = 0;
        loop {
            tick.tick().await;
            n += 1;
            let dedup = dedup.clone();
            let sweep = n % 240 == 0;
            let result = tokio::task::spawn_blocking(move || {
                dedup.flush(false)?;
                if sweep {
                    dedup.sweep()?;
                }
                Ok::<_, std::io::Error>(())
            })
            .await;
            if let Ok(Err(e)) = result {
                tracing::warn!(error = %e, "dedup index upkeep failed");
            }
            if n % 20 == 0 {
                prometheus.run_upkeep();
            }
        }
    })
}
