//! The SMS channel through a real Kannel 1.4.5 (Debian packages `kannel` and `kannel-extras`):
//! `fakesmsc` plays the operator's SMSC and hands a mobile-originated UCS-2 message to
//! `bearerbox` (`smsc = fake`), `smsbox` calls the gateway on exactly the documented sms-service
//! `get-url`, and the record must arrive on the real broker.
//!
//! Kannel runs as child processes on free loopback ports, each started through `sh`, which waits
//! on its stdin: when the test ends in any way (pass, panic, kill -9), the pipe closes and `sh`
//! kills the Kannel process. The guards also kill them on drop.
//!
//! Missing Kannel = failed test, never a skip: run `tests/run.sh`, which installs it.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::broker::free_port;
use support::*;

/// What the citizen texts, sent as UCS-2 (UTF-16BE), one SMS (32 octets).
const TEXT: &str = "公园路的路灯不亮了，请尽快修理。";
/// The citizen's number as the SMSC reports it.
const CITIZEN: &str = "13812345678";
/// The hotline's SMS service number.
const SERVICE_NUMBER: &str = "1069012345";
/// Kannel's admin password (loopback only).
const ADMIN_PASSWORD: &str = "kannel-test-admin";

/// Where Debian (and a source build) put Kannel's programs; `PATH` is searched first.
fn kannel_program(name: &str, dirs: &[&str]) -> PathBuf {
    let path_dirs = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    let candidates: Vec<PathBuf> = path_dirs
        .into_iter()
        .chain(dirs.iter().map(PathBuf::from))
        .map(|d| d.join(name))
        .collect();
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .unwrap_or_else(|| {
            panic!(
            "Kannel's `{name}` is not installed (looked in PATH and {dirs:?}): run the suite with \
             tests/run.sh, which installs the Debian packages `kannel` (bearerbox, smsbox) and \
             `kannel-extras` (fakesmsc)"
        )
        })
}

/// A Kannel process, killed when this is dropped or when the test process dies.
struct Peer {
    name: &'static str,
    sh: Child,
    output: PathBuf,
}

impl Peer {
    /// Starts `program args…` with stdout and stderr in `{dir}/{name}.out`.
    fn start(name: &'static str, program: &Path, args: &[&str], dir: &Path) -> Peer {
        let output = dir.join(format!("{name}.out"));
        // $0 is the program, "$@" its arguments: nothing is quoted by hand.
        let script = r#""$0" "$@" >"$PEER_OUTPUT" 2>&1 & pid=$!; read _; { kill -9 $pid; wait $pid; } 2>/dev/null"#;
        let sh = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(program)
            .args(args)
            .current_dir(dir)
            .env("PEER_OUTPUT", &output)
            .stdin(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn sh for {name}: {e}"));
        Peer { name, sh, output }
    }

    /// The last lines the process wrote.
    fn tail(&self) -> String {
        let text = std::fs::read_to_string(&self.output).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let from = lines.len().saturating_sub(40);
        format!(
            "--- {} ({}) ---\n{}",
            self.name,
            self.output.display(),
            lines[from..].join("\n")
        )
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        drop(self.sh.stdin.take());
        let _ = self.sh.wait();
    }
}

/// Everything the Kannel processes said, for a failure message.
fn logs(peers: &[&Peer], dir: &Path) -> String {
    let mut out: Vec<String> = peers.iter().map(|p| p.tail()).collect();
    for file in ["bearerbox.log", "smsbox.log"] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let from = lines.len().saturating_sub(40);
        out.push(format!("--- {file} ---\n{}", lines[from..].join("\n")));
    }
    out.join("\n")
}

struct Ports {
    admin: u16,
    smsbox: u16,
    sendsms: u16,
    fake_smsc: u16,
}

/// bearerbox + smsbox: one fake SMSC, every MO to the gateway's Kannel hook, no reply sent back.
fn kannel_conf(ports: &Ports, dir: &Path, gateway: &str) -> String {
    let get_url = format!(
        "{gateway}/hooks/sms/kannel?token={SMS_TOKEN}&from=%p&to=%P&text=%b&coding=%c&charset=%C&udh=%u&time=%T&smsc=%i&id=%I"
    );
    format!(
        r#"group = core
admin-port = {admin}
admin-interface = 127.0.0.1
admin-password = {ADMIN_PASSWORD}
admin-allow-ip = 127.0.0.1
smsbox-port = {smsbox}
smsbox-interface = 127.0.0.1
box-allow-ip = 127.0.0.1
log-file = "{dir}/bearerbox.log"
log-level = 0

# The operator's SMSC: fakesmsc connects here (only from 127.0.0.1).
group = smsc
smsc = fake
smsc-id = fake
port = {fake_smsc}
connect-allow-ip = 127.0.0.1

group = smsbox
bearerbox-host = 127.0.0.1
sendsms-port = {sendsms}
sendsms-interface = 127.0.0.1
log-file = "{dir}/smsbox.log"
log-level = 0

# README.md, "SMS gateways": the kannel get-url. %b is the message's raw octets, URL-encoded.
group = sms-service
keyword = default
catch-all = true
max-messages = 0
omit-empty = true
accept-x-kannel-headers = true
get-url = "{get_url}"
"#,
        admin = ports.admin,
        smsbox = ports.smsbox,
        sendsms = ports.sendsms,
        fake_smsc = ports.fake_smsc,
        dir = dir.display(),
    )
}

/// `%XX` for every octet: what fakesmsc's `ucs2` message type expects.
fn url_octets(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("%{b:02X}")).collect()
}

/// Polls bearerbox's status page until it shows every one of `wanted`.
async fn wait_for_status(
    client: &reqwest::Client,
    ports: &Ports,
    wanted: &[&str],
    peers: &[&Peer],
    dir: &Path,
) {
    let url = format!(
        "http://127.0.0.1:{}/status.txt?password={ADMIN_PASSWORD}",
        ports.admin
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = String::new();
    loop {
        if let Ok(r) = client
            .get(&url)
            .timeout(Duration::from_secs(2))
            .send()
            .await
        {
            last = r.text().await.unwrap_or_default();
            if wanted.iter().all(|w| last.contains(w)) {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "bearerbox's status did not show {wanted:?} within 20 s.\nLast status:\n{last}\n{}",
            logs(peers, dir)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ucs2_mo_through_kannel_bearerbox_and_smsbox_lands_on_kafka() {
    const SBIN: &[&str] = &["/usr/sbin", "/usr/local/sbin", "/usr/local/bin"];
    const TEST: &[&str] = &["/usr/lib/kannel/test", "/usr/local/lib/kannel/test"];
    let bearerbox = kannel_program("bearerbox", SBIN);
    let smsbox = kannel_program("smsbox", SBIN);
    let fakesmsc = kannel_program("fakesmsc", TEST);

    let (config, _data) = test_config(true).await;
    let app = start(config).await;

    let dir = tempfile::tempdir().expect("temp dir for kannel");
    let ports = Ports {
        admin: free_port(),
        smsbox: free_port(),
        sendsms: free_port(),
        fake_smsc: free_port(),
    };
    let conf = dir.path().join("kannel.conf");
    std::fs::write(&conf, kannel_conf(&ports, dir.path(), &app.base)).expect("write kannel.conf");
    let conf = conf.to_str().expect("utf-8 temp path");

    // smsbox gives up at once when bearerbox is not listening yet: start them in turn.
    let bb = Peer::start("bearerbox", &bearerbox, &["-v", "0", conf], dir.path());
    let fake = format!("FAKE:{}", ports.fake_smsc);
    wait_for_status(
        &app.client,
        &ports,
        &["Status: running", &fake],
        &[&bb],
        dir.path(),
    )
    .await;
    let sb = Peer::start("smsbox", &smsbox, &["-v", "0", conf], dir.path());
    wait_for_status(&app.client, &ports, &["smsbox:"], &[&bb, &sb], dir.path()).await;

    let utf16be: Vec<u8> = TEXT.encode_utf16().flat_map(u16::to_be_bytes).collect();
    let mo = format!("{CITIZEN} {SERVICE_NUMBER} ucs2 {}", url_octets(&utf16be));
    let port = ports.fake_smsc.to_string();
    let smsc = Peer::start(
        "fakesmsc",
        &fakesmsc,
        &["-H", "127.0.0.1", "-r", &port, "-m", "1", &mo],
        dir.path(),
    );

    let records = tokio::task::block_in_place(|| app.consume_requests(1));
    assert_eq!(
        records.len(),
        1,
        "one record from Kannel's get-url, got {records:?}\n{}",
        logs(&[&bb, &sb, &smsc], dir.path())
    );
    let record = &records[0].value;
    assert_valid_request(record);
    assert_eq!(record["channel"], "sms");
    assert_eq!(record["source"]["system"], "sms:kannel");
    assert_eq!(
        record["source"]["line"], "12345",
        "line from {SERVICE_NUMBER}"
    );
    assert_eq!(record["citizen"]["contact_kind"], "phone");
    assert_eq!(record["citizen"]["contact"], "+8613812345678");
    assert_eq!(
        record["content"]["text"], TEXT,
        "UCS-2 octets decoded exactly"
    );
    let id = record["source"]["message_id"].as_str().unwrap_or_default();
    assert!(
        uuid::Uuid::parse_str(id).is_ok(),
        "message id is Kannel's %I (a UUID): {record}"
    );

    drop(smsc);
    drop(sb);
    drop(bb);
    app.gateway.unwrap().shutdown().await;
}
