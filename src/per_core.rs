//! The public hook listener, served by one single-threaded runtime per core.
//!
//! Why not the shared work-stealing runtime: a webhook request is a short burst of CPU between two
//! waits (the body, then the sink), and on the shared runtime every wake-up could land on any
//! worker. The journal's writer and librdkafka's threads wake requests from outside the runtime,
//! so each wake went through the shared injection queue, woke a parked worker, and the workers
//! stole from each other: about a sixth of a request's CPU on the 2-core bench machine (README
//! "Performance"). Here a connection lives on one thread for its whole life, with its own queue,
//! timer and reactor, as thread-per-core servers (actix-web, Seastar) do.
//!
//! One acceptor on the main runtime hands accepted connections to the threads in turn. One
//! socket per thread with `SO_REUSEPORT` would spread them by address hash instead, but would also
//! let a second gateway started by mistake on the same port share its traffic silently, where
//! today it fails to bind.
//!
//! Background work (ops listener, Kafka probe, spool forwarder, upkeep) stays on the main runtime.

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener, ListenerExt};
use std::io;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

/// Accepted connections waiting for their thread; beyond it the acceptor waits (the listen
/// backlog then holds new ones, as with a single runtime).
const HANDOFF: usize = 256;

/// A thread's share of the listener: the connections the acceptor hands it.
struct Handed {
    rx: mpsc::Receiver<(std::net::TcpStream, SocketAddr)>,
    addr: SocketAddr,
}

impl Listener for Handed {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            let Some((stream, peer)) = self.rx.recv().await else {
                // The acceptor has stopped: so has serving new connections; the graceful
                // shutdown signal ends `serve`.
                return std::future::pending().await;
            };
            // Registers the socket with this thread's reactor.
            match TcpStream::from_std(stream) {
                Ok(stream) => return (stream, peer),
                Err(e) => tracing::warn!(error = %e, "cannot register an accepted connection"),
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.addr)
    }
}

/// Serves `router` on `listener` from `threads` threads; the handle ends when every thread has
/// stopped serving (after `stopped`, once their connections are done).
///
/// Each thread keeps its runtime until `retired` is set (or dropped): a delivery that outlived
/// its caller (see `pipeline::Detached`) still runs there until the gateway has closed its sink.
pub fn serve(
    listener: TcpListener,
    router: axum::Router,
    threads: usize,
    stopped: watch::Receiver<bool>,
    retired: watch::Receiver<bool>,
) -> io::Result<JoinHandle<()>> {
    let addr = listener.local_addr()?;
    let mut lanes = Vec::with_capacity(threads);
    let mut finished = Vec::with_capacity(threads);
    for i in 0..threads.max(1) {
        let (tx, rx) = mpsc::channel(HANDOFF);
        let (done, finish) = oneshot::channel();
        let handed = Handed { rx, addr };
        let (router, stopped, retired) = (router.clone(), stopped.clone(), retired.clone());
        std::thread::Builder::new()
            .name(format!("intake-hooks-{i}"))
            .spawn(move || run_thread(handed, router, stopped, retired, done))?;
        lanes.push(tx);
        finished.push(finish);
    }
    let acceptor = tokio::spawn(accept(listener, lanes, stopped));
    Ok(tokio::spawn(async move {
        let _ = acceptor.await;
        for finish in finished {
            let _ = finish.await;
        }
    }))
}

/// One serving thread: its own runtime, serving what it is handed until `stopped`.
fn run_thread(
    handed: Handed,
    router: axum::Router,
    stopped: watch::Receiver<bool>,
    mut retired: watch::Receiver<bool>,
    done: oneshot::Sender<()>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            // `done` drops unsent: the gateway's serving handle still ends.
            tracing::error!(error = %e, "cannot start a hook-serving thread");
            return;
        }
    };
    runtime.block_on(async move {
        // `tap_io` only for its peer address: axum provides `ConnectInfo<SocketAddr>` for a
        // tapped listener of any kind.
        until_stopped(handed.tap_io(|_| {}), router, stopped).await;
        let _ = done.send(());
        let _ = retired.wait_for(|r| *r).await;
    });
}

/// Serves `router` on `listener` until `stopped`, then lets open connections finish: each hook
/// thread's loop, and the ops listener's.
pub async fn until_stopped<L>(listener: L, router: axum::Router, mut stopped: watch::Receiver<bool>)
where
    L: Listener,
    L::Addr: std::fmt::Debug,
    SocketAddr: for<'a> Connected<IncomingStream<'a, L>>,
{
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    let shutdown = async move {
        let _ = stopped.wait_for(|s| *s).await;
    };
    if let Err(e) = axum::serve(listener, service)
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::error!(error = %e, "listener failed");
    }
}

/// Accepts on the main runtime and deals connections to the threads in turn, until `stopped`.
async fn accept(
    listener: TcpListener,
    lanes: Vec<mpsc::Sender<(std::net::TcpStream, SocketAddr)>>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut next = 0;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.wait_for(|s| *s) => return,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                // Out of file descriptors and the like: as axum does, wait rather than spin.
                tracing::error!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        // Out of this runtime's reactor, into the thread's (non-blocking mode is kept).
        let Ok(stream) = stream.into_std() else {
            continue;
        };
        // A thread that has stopped is skipped; when all have, stop accepting.
        let mut connection = (stream, peer);
        let mut handed = false;
        for _ in 0..lanes.len() {
            let lane = &lanes[next % lanes.len()];
            next = next.wrapping_add(1);
            match lane.send(connection).await {
                Ok(()) => {
                    handed = true;
                    break;
                }
                Err(mpsc::error::SendError(back)) => connection = back,
            }
        }
        if !handed {
            tracing::error!("no hook-serving thread left; not accepting");
            return;
        }
    }
}

/// Errors of one connection (the peer gave up before accept): not a reason to pause.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::extract::ConnectInfo;
    use axum::routing::get;
    use std::collections::BTreeSet;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// What a request sees: its thread and that axum knows the peer.
    async fn whoami(ConnectInfo(peer): ConnectInfo<SocketAddr>) -> String {
        let thread = std::thread::current().name().unwrap_or("?").to_string();
        format!("{thread} {}", peer.ip())
    }

    async fn ask(addr: SocketAddr) -> String {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET / HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).await.unwrap();
        reply
            .rsplit("\r\n\r\n")
            .next()
            .unwrap_or_default()
            .to_string()
    }

    #[tokio::test]
    async fn connections_are_dealt_to_every_thread_and_serving_stops_on_request() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = axum::Router::new().route("/", get(whoami));
        let (stop, stopped) = watch::channel(false);
        let (retire, retired) = watch::channel(false);
        let serving = serve(listener, router, 2, stopped, retired).unwrap();
        let mut threads = BTreeSet::new();
        for _ in 0..4 {
            let answer = ask(addr).await;
            assert!(answer.ends_with(" 127.0.0.1"), "{answer}");
            threads.insert(answer.split(' ').next().unwrap_or_default().to_string());
        }
        let expected: BTreeSet<String> = ["intake-hooks-0", "intake-hooks-1"]
            .map(String::from)
            .into();
        assert_eq!(threads, expected);
        stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), serving)
            .await
            .expect("serving ends after the stop")
            .unwrap();
        assert!(
            TcpStream::connect(addr).await.is_err(),
            "the listener is closed"
        );
        retire.send(true).unwrap();
    }
}
