//! CI smoke of the load tool: one gateway on `deploy/intake.load.toml` (every channel enabled)
//! into the real broker, and a 2-second `intake-load --verify-topic` run against each channel
//! kind: every acknowledged request must be on the topic exactly once.
//!
//! A smoke, not a benchmark: nothing here is timed. The fourteen runs go side by side so the
//! whole test takes seconds; speed is measured with the tool itself (README "Performance").

mod support;

use serde_json::Value;
use std::process::Command;
use support::*;

/// The load config, unchanged but for this process's ports, data dir and broker.
fn load_config(data: &std::path::Path, brokers: &str) -> intake_gateway::Config {
    let mut toml = include_str!("../deploy/intake.load.toml").to_string();
    let data_dir = format!("data_dir = \"{}\"", data.display());
    let brokers = format!("brokers = \"{brokers}\"");
    for (from, to) in [
        ("listen = \"127.0.0.1:8080\"", "listen = \"127.0.0.1:0\""),
        ("listen = \"127.0.0.1:9090\"", "listen = \"127.0.0.1:0\""),
        ("data_dir = \"./data-load\"", data_dir.as_str()),
        ("brokers = \"\"", brokers.as_str()),
    ] {
        assert!(toml.contains(from), "deploy/intake.load.toml lost {from}");
        toml = toml.replacen(from, to, 1);
    }
    intake_gateway::Config::from_toml(&toml).expect("deploy/intake.load.toml is a valid config")
}

const CHANNELS: [&str; 14] = [
    "web",
    "wechat-plain",
    "wechat-compat",
    "wechat-safe",
    "sms-aliyun",
    "sms-tencent",
    "sms-twilio",
    "sms-kannel",
    "sms-jasmin",
    "sms-generic",
    "call-freeswitch",
    "call-asterisk",
    "call-kamailio",
    "call-cti",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_load_tool_drives_every_channel_and_nothing_acked_is_lost_or_duplicated() {
    let data = tempfile::tempdir().expect("temp dir");
    let bootstrap = broker().bootstrap.clone();
    let config = load_config(data.path(), &bootstrap);
    let k = &config.kafka;
    broker()
        .create_topics(&[&k.topic, &k.events_topic, &k.dead_letter_topic], 3)
        .await;
    let topic = k.topic.clone();
    let app = start(config).await;
    let runs: Vec<_> = CHANNELS
        .iter()
        .map(|channel| {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_intake-load"));
            cmd.args(["--url", &app.base, "--channel", channel])
                .args(["--duration", "2s", "--requests", "0", "--concurrency", "4"])
                .args(["--duplicate-ratio", "0.1", "--posts", "3"])
                // deploy/intake.load.toml's twilio public_url: what Twilio would sign.
                .args(["--public-url", "http://127.0.0.1:8080"])
                .args(["--verify-topic", &bootstrap, "--topic", &topic, "--json"])
                .env("INTAKE_LOAD_SECRET", "load-secret")
                .env("INTAKE_LOAD_AES_KEY", SAFE_AES_KEY);
            (channel, cmd.spawn_output())
        })
        .collect();
    let mut failures = Vec::new();
    for (channel, run) in runs {
        let out = tokio::task::spawn_blocking(move || run.wait_with_output())
            .await
            .expect("join")
            .expect("intake-load ran");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let Ok(r) = serde_json::from_str::<Value>(&stdout) else {
            failures.push(format!("{channel}: no JSON report: {stdout} {stderr}"));
            continue;
        };
        let v = &r["verify"];
        let clean = out.status.success()
            && r["ok"] == true
            && r["acked"].as_u64() > Some(0)
            && r["status_class"]["4xx"] == 0
            && v["lost"] == 0
            && v["duplicated"] == 0
            && v["acked_ids"].as_u64() > Some(0);
        println!(
            "{channel}: {} requests, {} acked ids, {} found past the watermarks",
            r["requests"], v["acked_ids"], v["found_after_watermark"]
        );
        if !clean {
            failures.push(format!("{channel}: {r} {stderr}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `Command::spawn` with piped output, failing loudly.
trait SpawnOutput {
    fn spawn_output(&mut self) -> std::process::Child;
}

impl SpawnOutput for Command {
    fn spawn_output(&mut self) -> std::process::Child {
        self.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn intake-load")
    }
}
