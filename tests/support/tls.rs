//! Secured transports for the tests: a test CA (rcgen) with server and client certificates,
//! a Kafka-API broker behind a TLS terminator (stunnel4 from Debian), and tansu with SASL.
//!
//! tansu 0.6 itself cannot terminate TLS (its `--cert` and `--key` flags are declared as
//! conflicting, and `--cert` alone leaves the listener plaintext), so the broker listens on a
//! plain loopback port and advertises the terminator's port: every client connection, the
//! bootstrap one and the ones to the advertised broker, goes through stunnel.

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::broker::{free_port, tansu_binary};

/// PEM files of one test PKI in a temp dir.
pub struct Pki {
    /// Holds the files.
    pub dir: tempfile::TempDir,
    /// The CA certificate.
    pub ca: PathBuf,
    /// A server certificate for `localhost` and 127.0.0.1 and its key.
    pub server_cert: PathBuf,
    /// Its key.
    pub server_key: PathBuf,
    /// A client certificate (CN intake-gateway) for mutual TLS.
    pub client_cert: PathBuf,
    /// Its key.
    pub client_key: PathBuf,
}

fn ca(name: &str) -> (rcgen::Certificate, KeyPair) {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let key = KeyPair::generate().expect("ca key");
    (params.self_signed(&key).expect("ca cert"), key)
}

fn leaf(
    names: &[&str],
    cn: &str,
    issuer: &rcgen::Certificate,
    issuer_key: &KeyPair,
) -> (String, String) {
    let mut params =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .expect("leaf params");
    params.distinguished_name.push(DnType::CommonName, cn);
    let key = KeyPair::generate().expect("leaf key");
    let cert = params
        .signed_by(&key, issuer, issuer_key)
        .expect("leaf cert");
    (cert.pem(), key.serialize_pem())
}

impl Pki {
    /// A CA named `name`, a server certificate for localhost/127.0.0.1 and a client one.
    pub fn new(name: &str) -> Pki {
        let dir = tempfile::tempdir().expect("pki dir");
        let (ca_cert, ca_key) = ca(name);
        let (server_cert, server_key) =
            leaf(&["localhost", "127.0.0.1"], "localhost", &ca_cert, &ca_key);
        let (client_cert, client_key) = leaf(&[], "intake-gateway", &ca_cert, &ca_key);
        let write = |file: &str, text: &str| {
            let p = dir.path().join(file);
            std::fs::write(&p, text).expect("write pem");
            p
        };
        Pki {
            ca: write("ca.pem", &ca_cert.pem()),
            server_cert: write("server.pem", &server_cert),
            server_key: write("server.key", &server_key),
            client_cert: write("client.pem", &client_cert),
            client_key: write("client.key", &client_key),
            dir,
        }
    }

    /// A fresh server certificate (same CA? no: a new CA named `name`) written over this one's
    /// server files, for reload tests; returns the new CA's path.
    pub fn rotate_server(&self, name: &str) -> PathBuf {
        let (ca_cert, ca_key) = ca(name);
        let (cert, key) = leaf(&["localhost", "127.0.0.1"], "localhost", &ca_cert, &ca_key);
        // Key first, then certificate: a reload between the two writes fails and is retried.
        std::fs::write(&self.server_key, key).expect("write key");
        std::fs::write(&self.server_cert, cert).expect("write cert");
        let p = self.dir.path().join(format!("{name}.pem"));
        std::fs::write(&p, ca_cert.pem()).expect("write ca");
        p
    }
}

/// Kills the processes it holds when dropped.
pub struct Running {
    children: Vec<Child>,
}

impl Drop for Running {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn wait_listening(addr: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "{what} did not listen on {addr}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// tansu listening on a plain port and advertising `advertised` (host:port); extra args appended.
fn tansu(plain_port: u16, advertised: &str, extra: &[&str]) -> Child {
    let child = Command::new(tansu_binary())
        .args(["broker", "--listener-url"])
        .arg(format!("tcp://127.0.0.1:{plain_port}"))
        .arg("--advertised-listener-url")
        .arg(format!("tcp://{advertised}"))
        .args(["--storage-engine", "memory://tansu/"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn tansu");
    wait_listening(&format!("127.0.0.1:{plain_port}"), "tansu");
    child
}

fn stunnel_binary() -> &'static str {
    for p in ["/usr/bin/stunnel4", "/usr/bin/stunnel"] {
        if Path::new(p).exists() {
            return p;
        }
    }
    panic!("stunnel4 is missing: run the suite with tests/run.sh (it installs it), or apt-get install stunnel4");
}

/// A broker reachable only over TLS (mutual TLS when `require_client_cert`) at `bootstrap`.
pub struct TlsBroker {
    /// host:port of the TLS side.
    pub bootstrap: String,
    _running: Running,
    _conf: tempfile::TempDir,
}

impl TlsBroker {
    /// tansu behind stunnel, with `pki`'s server certificate.
    pub fn start(pki: &Pki, require_client_cert: bool) -> TlsBroker {
        Self::start_with(pki, require_client_cert, &[])
    }

    /// The same with extra tansu arguments (e.g. `--authentication`).
    pub fn start_with(pki: &Pki, require_client_cert: bool, args: &[&str]) -> TlsBroker {
        let plain = free_port();
        let tls = free_port();
        let bootstrap = format!("127.0.0.1:{tls}");
        let broker = tansu(plain, &bootstrap, args);
        let conf = tempfile::tempdir().expect("stunnel dir");
        let verify = if require_client_cert {
            format!("verifyChain = yes\nCAfile = {}\n", pki.ca.display())
        } else {
            String::new()
        };
        let text = format!(
            "foreground = yes\npid =\ndebug = 4\n[kafka]\naccept = 127.0.0.1:{tls}\nconnect = 127.0.0.1:{plain}\ncert = {}\nkey = {}\n{verify}",
            pki.server_cert.display(),
            pki.server_key.display(),
        );
        let file = conf.path().join("stunnel.conf");
        std::fs::write(&file, text).expect("stunnel conf");
        let stunnel = Command::new(stunnel_binary())
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn stunnel4");
        wait_listening(&bootstrap, "stunnel4");
        TlsBroker {
            bootstrap,
            _running: Running {
                children: vec![stunnel, broker],
            },
            _conf: conf,
        }
    }
}

/// Client properties for a TLS connection trusting `ca` (plus a client certificate).
pub fn client_props(ca: &Path, client: Option<(&Path, &Path)>) -> Vec<(String, String)> {
    let mut p = vec![
        ("security.protocol".to_string(), "SSL".to_string()),
        ("ssl.ca.location".to_string(), ca.display().to_string()),
    ];
    if let Some((cert, key)) = client {
        p.push((
            "ssl.certificate.location".into(),
            cert.display().to_string(),
        ));
        p.push(("ssl.key.location".into(), key.display().to_string()));
    }
    p
}
