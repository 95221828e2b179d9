//! `intake-gateway spool status|drain`: what an operator runs when the spool grows.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::sink::{connection_config, KafkaSink, Topics};
use crate::spool::readback::ids_on_topics;
use crate::spool::{end_on_disk, forwarder, inspect, Spool};

/// Prints what waits in the spool, as JSON. Works while the gateway runs (read-only).
pub fn status(config: &Config) -> ExitCode {
    let dir = config.storage.data_dir.join("spool");
    if !dir.exists() {
        println!(
            "{}",
            serde_json::json!({"dir": dir, "entries": 0, "bytes": 0, "oldest": null})
        );
        return ExitCode::SUCCESS;
    }
    match end_on_disk(&dir).and_then(|end| inspect(&dir, end)) {
        Ok(stats) => {
            let age = stats.oldest.map(|t| (chrono::Utc::now() - t).num_seconds());
            let in_use = crate::spool::SpoolLock::acquire(&dir).is_err();
            println!(
                "{}",
                serde_json::json!({"dir": dir, "entries": stats.entries, "bytes": stats.bytes, "oldest": stats.oldest,
                    "oldest_age_seconds": age, "in_use_by_a_running_gateway": in_use})
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "intake-gateway: cannot read the spool in {}: {e}",
                dir.display()
            );
            ExitCode::FAILURE
        }
    }
}

/// Forwards the spool to Kafka and exits when it is empty (0) or on Ctrl-C / `timeout` (1).
/// Refuses to run while a gateway holds the spool: that gateway is already forwarding it.
///
/// Before forwarding, the topics are read back from the spool's oldest entry time, and entries
/// already there (a delivery in flight when the replica died that landed after all) are skipped:
/// the drain itself doubles nothing. A drained spool is marked `DRAINED`.
pub fn drain(config: Config, timeout: Duration) -> ExitCode {
    let Some(bootstrap) = config.kafka.bootstrap_servers() else {
        eprintln!("intake-gateway: kafka.brokers is not configured; there is nothing to drain to");
        return ExitCode::from(2);
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("intake-gateway: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let dir = config.storage.data_dir.join("spool");
        let spool = match Spool::open(&dir, config.storage.segment_bytes, config.spool.max_bytes) {
            Ok(s) => Arc::new(s),
            Err(e) => {
                eprintln!("intake-gateway: {e}");
                return ExitCode::FAILURE;
            }
        };
        let topics = Topics::of(&config.kafka);
        let kafka = match KafkaSink::new(&config.kafka, &bootstrap, topics) {
            Ok(k) => Arc::new(k),
            Err(e) => {
                eprintln!("intake-gateway: {e}");
                return ExitCode::FAILURE;
            }
        };
        let stats = spool.stats();
        let before = stats.entries;
        let mut on_topic = Default::default();
        if before > 0 {
            let client = connection_config(&config.kafka, &bootstrap);
            let topics = vec![config.kafka.topic.clone(), config.kafka.events_topic.clone(), config.kafka.dead_letter_topic.clone()];
            let since = stats.oldest.map_or(0, |t| t.timestamp_millis());
            eprintln!("reading the topics back from {} to skip what is there already", stats.oldest.map_or("the beginning".to_string(), |t| t.to_rfc3339()));
            match tokio::task::spawn_blocking(move || ids_on_topics(&client, &topics, since)).await {
                Ok(Ok(ids)) => on_topic = ids,
                Ok(Err(e)) => {
                    eprintln!("intake-gateway: cannot read the topics back ({e}); nothing forwarded, so nothing is doubled: retry");
                    return ExitCode::FAILURE;
                }
                Err(e) => {
                    eprintln!("intake-gateway: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
        let skipped = on_topic.len();
        eprintln!("draining {before} spooled records to {bootstrap} ({skipped} ids already on the topics)");
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let run = tokio::spawn(forwarder::run(spool.clone(), kafka.clone(), stopped, true, on_topic));
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = tokio::time::sleep(timeout) => eprintln!("timeout reached"),
            _ = async { while !run.is_finished() { tokio::time::sleep(Duration::from_millis(100)).await } } => {}
        }
        let _ = stop.send(true);
        let forwarded = tokio::time::timeout(Duration::from_secs(30), run).await.ok().and_then(|r| r.ok()).unwrap_or(0);
        kafka.close(Duration::from_secs(10)).await;
        spool.close().await;
        let left = spool.stats().entries;
        println!("{}", serde_json::json!({"forwarded": forwarded, "remaining": left, "dir": dir}));
        if left == 0 {
            let mark = serde_json::json!({"drained_at": chrono::Utc::now(), "entries": before});
            if let Err(e) = std::fs::write(dir.join("DRAINED"), format!("{mark}\n")) {
                eprintln!("intake-gateway: drained, but cannot mark the spool drained: {e}");
            }
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    })
}
