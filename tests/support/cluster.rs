//! Cluster mode for the end-to-end tests: a real `redis-server`, N gateway subprocesses and a
//! real HAProxy in front of them, round-robin, all on free loopback ports.
//!
//! Every process is started through `sh`, which waits on its stdin (as the test broker is): when
//! the test process ends in any way (pass, panic, kill -9) the pipe closes and `sh` kills the
//! process. Drop kills them too. Every wait is bounded and fails with the process's log tail.
//!
//! Missing `redis-server` or `haproxy` = failed test, never a skip: run `tests/run.sh`, which
//! installs both (Debian packages redis-server and haproxy).

use super::broker::{create_topics, free_port};
use super::consume::{consume, Consumed};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long any process of the harness may take to come up.
const START_WITHIN: Duration = Duration::from_secs(30);

/// A process started under a guarding `sh` (see the module doc), its output appended to a log.
struct Guarded {
    sh: Child,
    pid: i32,
}

impl Guarded {
    fn spawn(program: &Path, args: &[String], envs: &[(String, String)], log: &Path) -> Guarded {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(
                r#""$@" >>"$GUARD_LOG" 2>&1 & pid=$!; echo $pid; read _; kill -9 $pid 2>/dev/null"#,
            )
            .arg("sh")
            .arg(program)
            .args(args)
            .env("GUARD_LOG", log)
            .env_remove("INTAKE_CONFIG")
            .envs(envs.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut sh = command
            .spawn()
            .unwrap_or_else(|e| panic!("spawn sh for {}: {e}", program.display()));
        let mut line = String::new();
        BufReader::new(sh.stdout.take().expect("sh stdout"))
            .read_line(&mut line)
            .expect("pid from sh");
        let pid = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("no pid for {}: {line:?}", program.display()));
        Guarded { sh, pid }
    }

    fn signal(&self, sig: i32) {
        // SAFETY: a signal to a process this harness started (its pid is not reaped before
        // `stop`, so it cannot have been reused).
        unsafe { libc::kill(self.pid, sig) };
    }

    /// Still running (a killed process stays a zombie of its `sh` until `stop`).
    fn alive(&self) -> bool {
        std::fs::read_to_string(format!("/proc/{}/stat", self.pid))
            .ok()
            .and_then(|stat| {
                let state = stat.rsplit_once(')')?.1.trim_start().chars().next()?;
                Some(!matches!(state, 'Z' | 'X'))
            })
            .unwrap_or(false)
    }

    /// SIGKILL, then lets `sh` reap it and exit. Also works on a frozen (SIGSTOPped) process.
    fn stop(mut self) {
        self.signal(libc::SIGKILL);
        drop(self.sh.stdin.take());
        let _ = self.sh.wait();
    }
}

/// The path of `program` on PATH (or in /usr/sbin), or a loud failure naming its package.
fn require(program: &str, package: &str) -> PathBuf {
    for dir in std::env::var("PATH").unwrap_or_default().split(':').chain([
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
    ]) {
        let path = Path::new(dir).join(program);
        if path.is_file() {
            return path;
        }
    }
    panic!(
        "`{program}` is missing: the cluster tests need the Debian package {package} \
         (tests/run.sh installs it: apt-get install {package})"
    );
}

/// The last `max` bytes of a log file, for failure messages.
fn tail(path: &Path, max: usize) -> String {
    let text = std::fs::read(path).unwrap_or_default();
    let start = text.len().saturating_sub(max);
    String::from_utf8_lossy(&text[start..]).into_owned()
}

fn wait_port(port: u16, what: &str, process: &Guarded, log: &Path) {
    let deadline = Instant::now() + START_WITHIN;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            process.alive(),
            "{what} exited before listening on {port}:\n{}",
            tail(log, 4000)
        );
        assert!(
            Instant::now() < deadline,
            "{what} did not listen on {port} within {START_WITHIN:?}:\n{}",
            tail(log, 4000)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A `redis-server` without persistence on its own port: freeze it, thaw it, kill it and
/// start it again (empty) on the same port.
pub struct Redis {
    port: u16,
    dir: tempfile::TempDir,
    running: Option<Guarded>,
}

impl Redis {
    /// Starts `redis-server --save '' --appendonly no` on a free loopback port.
    pub fn start() -> Redis {
        let mut redis = Redis {
            port: free_port(),
            dir: tempfile::tempdir().expect("temp dir"),
            running: None,
        };
        redis.restart();
        redis
    }

    /// `redis://127.0.0.1:PORT`
    pub fn redis_url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server if it runs, and starts a fresh one (no data) on the same port.
    pub fn restart(&mut self) {
        self.kill();
        let bin = require("redis-server", "redis-server");
        let log = self.dir.path().join("redis.log");
        let args: Vec<String> = [
            "--save",
            "",
            "--appendonly",
            "no",
            "--port",
            &self.port.to_string(),
            "--bind",
            "127.0.0.1",
            "--dir",
            &self.dir.path().display().to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let process = Guarded::spawn(&bin, &args, &[], &log);
        wait_port(self.port, "redis-server", &process, &log);
        self.running = Some(process);
        let deadline = Instant::now() + START_WITHIN;
        while self.try_command(&["PING"]).as_deref() != Some("+PONG") {
            assert!(
                Instant::now() < deadline,
                "redis-server never answered PING"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGSTOP: Redis hangs with its connections open, like a stalled machine.
    pub fn freeze(&self) {
        if let Some(p) = &self.running {
            p.signal(libc::SIGSTOP);
        }
    }

    /// SIGCONT.
    pub fn thaw(&self) {
        if let Some(p) = &self.running {
            p.signal(libc::SIGCONT);
        }
    }

    /// SIGKILL; everything it held is gone. The port stays reserved for `restart`.
    pub fn kill(&mut self) {
        if let Some(p) = self.running.take() {
            p.stop();
        }
    }

    /// Runs one command and returns its reply's first line (`+OK`, `:3`, `$5`...); panics when
    /// Redis does not answer within 5 s.
    pub fn command(&self, args: &[&str]) -> String {
        self.try_command(args)
            .unwrap_or_else(|| panic!("redis did not answer {args:?}"))
    }

    /// The keys under `prefix` (SCAN-free: the test instance is small).
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        let mut stream = self.connect().expect("redis connection");
        stream
            .write_all(&resp(&["KEYS", &format!("{prefix}*")]))
            .expect("write");
        let mut reader = BufReader::new(stream);
        let count: usize = read_line(&mut reader)
            .strip_prefix('*')
            .and_then(|n| n.parse().ok())
            .expect("KEYS answers an array");
        (0..count)
            .map(|_| {
                let _len = read_line(&mut reader);
                read_line(&mut reader)
            })
            .collect()
    }

    fn connect(&self) -> Option<TcpStream> {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        Some(stream)
    }

    fn try_command(&self, args: &[&str]) -> Option<String> {
        let mut stream = self.connect()?;
        stream.write_all(&resp(args)).ok()?;
        let line = read_line(&mut BufReader::new(stream));
        (!line.is_empty()).then_some(line)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

fn resp(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
    }
    out
}

fn read_line(reader: &mut impl BufRead) -> String {
    let mut line = String::new();
    let _ = reader.read_line(&mut line);
    line.trim_end().to_string()
}

/// HAProxy in HTTP mode in front of the gateways: round-robin over a fresh server connection
/// per request (so consecutive requests really reach different replicas), health checks on
/// each gateway's ops port, connection failures redispatched to another replica.
pub struct Haproxy {
    port: u16,
    dir: tempfile::TempDir,
    running: Option<Guarded>,
}

impl Haproxy {
    /// Starts `haproxy -db` for `backends` (each `(name, hook port, ops port)`) and waits until
    /// its frontend answers and every backend is UP.
    pub fn start(backends: &[(String, u16, u16)]) -> Haproxy {
        let bin = require("haproxy", "haproxy");
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let socket = dir.path().join("admin.sock");
        let mut cfg = format!(
            "global\n\
             \tmaxconn 512\n\
             \tstats socket {socket} mode 600 level admin\n\
             defaults\n\
             \tmode http\n\
             \ttimeout connect 1s\n\
             \ttimeout client 30s\n\
             \ttimeout server 30s\n\
             \ttimeout http-request 10s\n\
             \tretries 3\n\
             \toption redispatch\n\
             \toption http-server-close\n\
             \thttp-reuse never\n\
             frontend intake\n\
             \tbind 127.0.0.1:{port}\n\
             \tdefault_backend gateways\n\
             backend gateways\n\
             \tbalance roundrobin\n\
             \toption httpchk GET /healthz\n\
             \tdefault-server inter 200ms fastinter 100ms downinter 100ms fall 2 rise 1\n",
            socket = socket.display()
        );
        for (name, hook, ops) in backends {
            cfg.push_str(&format!(
                "\tserver {name} 127.0.0.1:{hook} check port {ops}\n"
            ));
        }
        let path = dir.path().join("haproxy.cfg");
        std::fs::write(&path, cfg).expect("write haproxy.cfg");
        let log = dir.path().join("haproxy.log");
        let args = vec!["-f".to_string(), path.display().to_string(), "-db".into()];
        let process = Guarded::spawn(&bin, &args, &[], &log);
        wait_port(port, "haproxy", &process, &log);
        let proxy = Haproxy {
            port,
            dir,
            running: Some(process),
        };
        for (name, _, _) in backends {
            proxy.wait_status(name, true, START_WITHIN);
        }
        proxy
    }

    /// `http://127.0.0.1:PORT`, the frontend.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Each server's status as HAProxy sees it (`UP`, `DOWN`, `UP 1/2`...), from `show stat`.
    pub fn statuses(&self) -> Vec<(String, String)> {
        let Ok(mut stream) =
            std::os::unix::net::UnixStream::connect(self.dir.path().join("admin.sock"))
        else {
            return Vec::new();
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        if stream.write_all(b"show stat\n").is_err() {
            return Vec::new();
        }
        let mut csv = String::new();
        let _ = stream.read_to_string(&mut csv);
        csv.lines()
            .filter(|l| l.starts_with("gateways,") && !l.starts_with("gateways,BACKEND"))
            .filter_map(|l| {
                let fields: Vec<&str> = l.split(',').collect();
                Some((fields.get(1)?.to_string(), fields.get(17)?.to_string()))
            })
            .collect()
    }

    /// Waits until HAProxy sees server `name` up (`true`) or down (`false`).
    pub fn wait_status(&self, name: &str, up: bool, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let statuses = self.statuses();
            let now_up = statuses
                .iter()
                .any(|(n, s)| n == name && s.starts_with("UP") && !s.contains("going down"));
            if now_up == up {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "haproxy never saw {name} {}: {statuses:?}\n{}",
                if up { "UP" } else { "DOWN" },
                tail(&self.dir.path().join("haproxy.log"), 2000)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        if let Some(p) = self.running.take() {
            p.stop();
        }
    }
}

/// What a cluster runs: how many replicas, the configuration they share, and whether they get
/// a `[cluster]` section.
pub struct ClusterSpec {
    /// Number of gateway replicas.
    pub replicas: usize,
    /// Kafka bootstrap (`127.0.0.1:PORT`) the replicas publish to; its topics are created.
    pub bootstrap: String,
    /// Suffix of the per-test topics (see [`super::shared_toml`]).
    pub suffix: String,
    /// The configuration every replica shares, without `[server]`, `[ops]`, `[storage]`,
    /// `[log]` and `[cluster]`, which the harness writes per replica.
    pub fragment: String,
    /// Write `[cluster]` (`redis_url`, `key_prefix`, `instance_id`) into each replica's config.
    pub cluster_section: bool,
    /// Extra `INTAKE__SECTION__KEY` overrides for every replica (e.g. a shorter timeout than
    /// the fragment's).
    pub env: Vec<(String, String)>,
}

impl ClusterSpec {
    /// `replicas` gateways in cluster mode, with the standard test configuration
    /// ([`super::shared_toml`]) on fresh topics of `bootstrap`.
    pub fn new(replicas: usize, bootstrap: &str) -> ClusterSpec {
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        ClusterSpec {
            replicas,
            bootstrap: bootstrap.to_string(),
            fragment: super::shared_toml(&format!("\"{bootstrap}\""), &suffix),
            suffix,
            cluster_section: true,
            env: Vec::new(),
        }
    }

    /// Adds an `INTAKE__...` override, e.g. `("CHANNELS__SMS__REASSEMBLY_TIMEOUT", "2s")`.
    pub fn env(mut self, key: &str, value: &str) -> ClusterSpec {
        self.env.push((format!("INTAKE__{key}"), value.to_string()));
        self
    }

    /// Appends TOML sections the fragment does not have yet (e.g. `[spool]`).
    pub fn append(mut self, toml: &str) -> ClusterSpec {
        self.fragment.push('\n');
        self.fragment.push_str(toml);
        self
    }
}

/// One gateway subprocess with its own ports, data dir and config file, which survive a
/// kill -9 so it can be started again as the same replica.
pub struct Replica {
    /// `gw-N`, also its `cluster.instance_id` and its HAProxy server name.
    pub instance_id: String,
    /// `http://127.0.0.1:PORT`, its hook listener (bypassing HAProxy).
    pub base: String,
    /// `http://127.0.0.1:OPS_PORT`
    pub ops: String,
    /// Its data dir (journal, dedup index, spool).
    pub data_dir: PathBuf,
    /// Its config file.
    pub config_path: PathBuf,
    /// Hook port.
    pub port: u16,
    /// Ops port.
    pub ops_port: u16,
    log: PathBuf,
    env: Vec<(String, String)>,
    running: Option<Guarded>,
}

impl Replica {
    fn spawn(&mut self) {
        assert!(self.running.is_none(), "{} already runs", self.instance_id);
        let bin = PathBuf::from(env!("CARGO_BIN_EXE_intake-gateway"));
        let args = vec![
            "serve".to_string(),
            "--config".into(),
            self.config_path.display().to_string(),
        ];
        let _ = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&self.log)
            .and_then(|mut f| writeln!(f, "---- start {}", self.instance_id));
        self.running = Some(Guarded::spawn(&bin, &args, &self.env, &self.log));
    }

    /// Waits until `/healthz` answers; fails with the log tail if the process exits first.
    pub async fn wait_healthy(&self, client: &reqwest::Client) {
        let deadline = Instant::now() + START_WITHIN;
        loop {
            let ok = client
                .get(format!("{}/healthz", self.ops))
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ok {
                return;
            }
            let alive = self.running.as_ref().is_some_and(|p| p.alive());
            assert!(
                alive,
                "{} exited before /healthz answered:\n{}",
                self.instance_id,
                self.log_tail()
            );
            assert!(
                Instant::now() < deadline,
                "{} did not answer /healthz within {START_WITHIN:?}:\n{}",
                self.instance_id,
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// kill -9: no shutdown path runs; ports, data dir and config stay for `restart`.
    pub fn kill9(&mut self) {
        if let Some(p) = self.running.take() {
            p.stop();
        }
    }

    /// Starts it again on the same ports, data dir and config, and waits for `/healthz`.
    pub async fn restart(&mut self, client: &reqwest::Client) {
        self.kill9();
        self.spawn();
        self.wait_healthy(client).await;
    }

    /// Whether the process runs.
    pub fn is_running(&self) -> bool {
        self.running.as_ref().is_some_and(|p| p.alive())
    }

    /// The binary with this replica's environment (for `spool drain` and friends); the caller
    /// adds the arguments.
    pub fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_intake-gateway"));
        command
            .env_remove("INTAKE_CONFIG")
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        command
    }

    /// Its `/metrics` text.
    pub async fn metrics(&self, client: &reqwest::Client) -> String {
        client
            .get(format!("{}/metrics", self.ops))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{} /metrics: {e}", self.instance_id))
            .text()
            .await
            .expect("metrics text")
    }

    /// Its `/readyz` JSON (whatever the status).
    pub async fn readyz(&self, client: &reqwest::Client) -> serde_json::Value {
        client
            .get(format!("{}/readyz", self.ops))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{} /readyz: {e}", self.instance_id))
            .json()
            .await
            .expect("readyz JSON")
    }

    /// How many hook requests of `channel` it answered (`intake_request_duration_seconds_count`).
    pub async fn requests_answered(&self, client: &reqwest::Client, channel: &str) -> u64 {
        let label = format!("channel=\"{channel}\"");
        metric_sum(
            &self.metrics(client).await,
            "intake_request_duration_seconds_count",
            &[&label],
        ) as u64
    }

    /// The end of its log (stderr), for failure messages.
    pub fn log_tail(&self) -> String {
        tail(&self.log, 6000)
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Sum of the samples of `metric` whose labels contain every one of `labels` (e.g.
/// `channel="web"`), in a Prometheus text exposition.
pub fn metric_sum(text: &str, metric: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (name_labels, value) = l.rsplit_once(' ')?;
            let name = name_labels.split('{').next()?;
            (name == metric && labels.iter().all(|want| name_labels.contains(want)))
                .then(|| value.parse::<f64>().ok())?
        })
        .sum()
}

/// Redis, N gateway replicas and HAProxy in front of them, for one test.
pub struct Cluster {
    /// The gateways, `gw-1`... in HAProxy's server order.
    pub replicas: Vec<Replica>,
    /// The proxy (dropped before the replicas).
    pub proxy: Haproxy,
    /// The shared Redis.
    pub redis: Redis,
    /// `cluster.key_prefix` of every replica: `intake-test-XXXX`.
    pub key_prefix: String,
    /// Kafka bootstrap.
    pub bootstrap: String,
    /// Topic of request records.
    pub topic: String,
    /// Topic of channel events.
    pub events_topic: String,
    /// Topic of dead letters.
    pub dead_letter_topic: String,
    /// HTTP client with a 10 s timeout.
    pub client: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Cluster {
    /// Starts Redis, creates the topics, starts every replica (waiting for `/healthz`), then
    /// HAProxy (waiting until it sees every replica UP).
    pub async fn start(spec: ClusterSpec) -> Cluster {
        let redis = Redis::start();
        let dir = tempfile::tempdir().expect("temp dir");
        let key_prefix = format!(
            "intake-test-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let topic = format!("intake.requests.v1.{}", spec.suffix);
        let events_topic = format!("intake.events.v1.{}", spec.suffix);
        let dead_letter_topic = format!("intake.rejected.v1.{}", spec.suffix);
        let urgent_topic = format!("intake.urgent.v1.{}", spec.suffix);
        create_topics(
            &spec.bootstrap,
            &[&topic, &events_topic, &dead_letter_topic, &urgent_topic],
            3,
        )
        .await;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client");
        let mut replicas = Vec::new();
        for n in 1..=spec.replicas {
            let instance_id = format!("gw-{n}");
            let home = dir.path().join(&instance_id);
            let data_dir = home.join("data");
            std::fs::create_dir_all(&data_dir).expect("data dir");
            let (port, ops_port) = (free_port(), free_port());
            let cluster = if spec.cluster_section {
                format!(
                    "\n[cluster]\nredis_url = \"{}\"\nkey_prefix = \"{key_prefix}\"\ninstance_id = \"{instance_id}\"\n",
                    redis.redis_url()
                )
            } else {
                String::new()
            };
            let toml = format!(
                "[server]\nlisten = \"127.0.0.1:{port}\"\n[ops]\nlisten = \"127.0.0.1:{ops_port}\"\n\
                 [storage]\ndata_dir = \"{}\"\n[log]\nlevel = \"info\"\nformat = \"text\"\n{}\n{cluster}",
                data_dir.display(),
                spec.fragment
            );
            let config_path = home.join("intake.toml");
            std::fs::write(&config_path, toml).expect("write replica config");
            let mut replica = Replica {
                base: format!("http://127.0.0.1:{port}"),
                ops: format!("http://127.0.0.1:{ops_port}"),
                log: home.join("gateway.log"),
                instance_id,
                data_dir,
                config_path,
                port,
                ops_port,
                env: spec.env.clone(),
                running: None,
            };
            replica.spawn();
            replicas.push(replica);
        }
        for replica in &replicas {
            replica.wait_healthy(&client).await;
        }
        let backends: Vec<(String, u16, u16)> = replicas
            .iter()
            .map(|r| (r.instance_id.clone(), r.port, r.ops_port))
            .collect();
        let proxy = tokio::task::spawn_blocking(move || Haproxy::start(&backends))
            .await
            .expect("haproxy start");
        Cluster {
            replicas,
            proxy,
            redis,
            key_prefix,
            bootstrap: spec.bootstrap,
            topic,
            events_topic,
            dead_letter_topic,
            client,
            _dir: dir,
        }
    }

    /// `http://127.0.0.1:PORT` of HAProxy's frontend.
    pub fn base(&self) -> String {
        self.proxy.base()
    }

    /// kill -9 of replica `i` (0-based); waits until HAProxy marks it down.
    pub async fn kill9(&mut self, i: usize) {
        self.replicas[i].kill9();
        let name = self.replicas[i].instance_id.clone();
        self.blocking_wait_status(name, false).await;
    }

    /// Starts replica `i` again on its data dir and ports; waits until HAProxy marks it up.
    pub async fn restart(&mut self, i: usize) {
        let client = self.client.clone();
        self.replicas[i].restart(&client).await;
        let name = self.replicas[i].instance_id.clone();
        self.blocking_wait_status(name, true).await;
    }

    async fn blocking_wait_status(&self, name: String, up: bool) {
        // The stats socket is blocking I/O; a short poll loop on this thread is fine for tests,
        // but keep the runtime's other tasks (load clients) running.
        tokio::task::block_in_place(|| self.proxy.wait_status(&name, up, START_WITHIN));
    }

    /// Sum of `metric` (with `labels`) over every running replica's `/metrics`.
    pub async fn metric_total(&self, metric: &str, labels: &[&str]) -> f64 {
        let mut total = 0.0;
        for r in self.replicas.iter().filter(|r| r.is_running()) {
            total += metric_sum(&r.metrics(&self.client).await, metric, labels);
        }
        total
    }

    /// Waits until no running replica has spooled records left (`/readyz` `spool.entries`).
    pub async fn wait_spools_empty(&self, within: Duration) {
        let deadline = Instant::now() + within;
        for r in self.replicas.iter().filter(|r| r.is_running()) {
            loop {
                let ready = r.readyz(&self.client).await;
                let entries = ready["spool"]["entries"].as_u64().unwrap_or(0);
                if entries == 0 {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{} never drained its spool: {ready}",
                    r.instance_id
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }

    /// Records on the request topic: `expected` of them, or what came within `wait`.
    pub fn consume_requests(&self, expected: usize, wait: Duration) -> Vec<Consumed> {
        consume(&self.bootstrap, &self.topic, expected, wait)
    }

    /// Records on the events topic.
    pub fn consume_events(&self, expected: usize, wait: Duration) -> Vec<Consumed> {
        consume(&self.bootstrap, &self.events_topic, expected, wait)
    }
}
