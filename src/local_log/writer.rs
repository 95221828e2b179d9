//! The writer thread: one file handle, one fsync per batch of concurrent appends.
//!
//! fsync is a blocking call that takes milliseconds on real disks; doing it per request would cap
//! a surge at a few hundred requests per second. Appends queue up while the previous batch is
//! being synced, and the next fsync covers all of them; commits are at least
//! `MIN_COMMIT_INTERVAL` apart so that a fast disk does not turn every few appends into one.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

use super::{parse_segment_name, segment_name, Position};

/// Most appends one fsync covers, and most bytes; bounds the latency of the first in a batch.
const MAX_BATCH: usize = 4096;
const MAX_BATCH_BYTES: usize = 8 * 1024 * 1024;
/// Appends waiting for the writer; beyond it callers wait (backpressure, not memory growth).
const QUEUE: usize = 16 * 1024;
/// Least time from one commit to the next. On a fast disk an fsync takes ~0.3 ms, so under a
/// steady moderate load each one covered only three or four appends, and the fsyncs themselves
/// (each a few I/O submissions and, on a VM, exits to the host: ~140 µs of CPU) took about a
/// third of the gateway's CPU.
/// Pacing them to at most ~1,000 a second lets a batch fill first: it adds at most this much to
/// an append that arrives right behind a commit and nothing when commits are far apart (a quiet
/// hour, or a disk whose fsync alone takes longer). Measured in the README ("Performance").
const MIN_COMMIT_INTERVAL: Duration = Duration::from_millis(1);

/// Why an append did not become durable.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LogError {
    /// The disk refused: full, read-only, gone.
    #[error("local log I/O error: {0}")]
    Io(String),
    /// The log is shutting down.
    #[error("local log is closed")]
    Closed,
}

enum Op {
    Append(Vec<u8>, oneshot::Sender<Result<(), LogError>>),
    Close,
}

/// A directory of segment files with a group-committing writer.
pub struct LocalLog {
    dir: PathBuf,
    tx: mpsc::Sender<Op>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    appended: Arc<AtomicU64>,
    committed: Arc<Mutex<Position>>,
}

impl LocalLog {
    /// Opens (creating if needed) the log in `dir`; segments roll over at `segment_bytes`.
    pub fn open(dir: &Path, segment_bytes: u64) -> Result<Self, LogError> {
        std::fs::create_dir_all(dir).map_err(io)?;
        let segments = Segments::open(dir, segment_bytes)?;
        let (tx, rx) = mpsc::channel(QUEUE);
        let appended = Arc::new(AtomicU64::new(0));
        let committed = Arc::new(Mutex::new(segments.position()));
        let (counter, end) = (appended.clone(), committed.clone());
        let thread = std::thread::Builder::new()
            .name(format!(
                "local-log-{}",
                dir.file_name().and_then(|n| n.to_str()).unwrap_or("log")
            ))
            .spawn(move || run(segments, rx, counter, end))
            .map_err(io)?;
        Ok(LocalLog {
            dir: dir.to_path_buf(),
            tx,
            thread: Mutex::new(Some(thread)),
            appended,
            committed,
        })
    }

    /// Appends one encoded line; returns once it is fsynced.
    pub async fn append(&self, line: Vec<u8>) -> Result<(), LogError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Op::Append(line, done))
            .await
            .map_err(|_| LogError::Closed)?;
        wait.await.map_err(|_| LogError::Closed)?
    }

    /// The directory of the segments.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Lines made durable since open.
    pub fn appended(&self) -> u64 {
        self.appended.load(Ordering::Relaxed)
    }

    /// The end of what is fsynced: readers may read up to here and never see a partial line.
    pub fn committed(&self) -> Position {
        self.committed.lock().map(|p| *p).unwrap_or_default()
    }

    /// True while the writer thread runs.
    pub fn is_open(&self) -> bool {
        !self.tx.is_closed()
    }

    /// Finishes queued appends, syncs and stops the writer. Later appends fail with `Closed`.
    pub async fn close(&self) {
        let _ = self.tx.send(Op::Close).await;
        let thread = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(thread) = thread {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

fn io(e: std::io::Error) -> LogError {
    LogError::Io(e.to_string())
}

fn run(
    mut segments: Segments,
    mut rx: mpsc::Receiver<Op>,
    appended: Arc<AtomicU64>,
    committed: Arc<Mutex<Position>>,
) {
    let mut batch = Batch {
        done: Vec::with_capacity(MAX_BATCH),
        buf: Vec::with_capacity(64 * 1024),
        closing: false,
    };
    let mut last_commit: Option<Instant> = None;
    while !batch.closing {
        let Some(first) = rx.blocking_recv() else {
            break;
        };
        batch.add(first);
        batch.gather(&mut rx);
        if batch.done.is_empty() {
            continue;
        }
        // Too soon after the last commit: let the batch fill for the rest of the interval.
        if let Some(wait) = last_commit.and_then(|t| MIN_COMMIT_INTERVAL.checked_sub(t.elapsed())) {
            if !batch.closing && !batch.is_full() {
                std::thread::sleep(wait);
                batch.gather(&mut rx);
            }
        }
        last_commit = Some(Instant::now());
        let result = segments.write_durably(&batch.buf).map_err(io);
        if result.is_ok() {
            appended.fetch_add(batch.done.len() as u64, Ordering::Relaxed);
            if let Ok(mut end) = committed.lock() {
                *end = segments.position();
            }
        }
        for done in batch.done.drain(..) {
            let _ = done.send(result.clone());
        }
        batch.buf.clear();
    }
    // Anything queued behind Close is refused when `rx` drops here.
}

/// The appends one fsync will cover.
struct Batch {
    done: Vec<oneshot::Sender<Result<(), LogError>>>,
    buf: Vec<u8>,
    closing: bool,
}

impl Batch {
    fn add(&mut self, op: Op) {
        match op {
            Op::Append(line, done) => {
                self.buf.extend_from_slice(&line);
                self.done.push(done);
            }
            Op::Close => self.closing = true,
        }
    }

    fn is_full(&self) -> bool {
        self.done.len() >= MAX_BATCH || self.buf.len() >= MAX_BATCH_BYTES
    }

    /// Takes what is already queued, up to the batch limits or a Close.
    fn gather(&mut self, rx: &mut mpsc::Receiver<Op>) {
        while !self.closing && !self.is_full() {
            match rx.try_recv() {
                Ok(op) => self.add(op),
                Err(_) => break,
            }
        }
    }
}

/// The open segment and the rule for starting the next one.
struct Segments {
    dir: PathBuf,
    segment_bytes: u64,
    seq: u64,
    file: File,
    len: u64,
}

impl Segments {
    fn open(dir: &Path, segment_bytes: u64) -> Result<Self, LogError> {
        let last = std::fs::read_dir(dir)
            .map_err(io)?
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().and_then(parse_segment_name))
            .max();
        let seq = match last {
            // A segment not ending in a newline was torn by a crash: leave the torn line last
            // in its file, where readers skip it, and write on in a fresh segment.
            Some(seq) if ends_cleanly(&dir.join(segment_name(seq))).map_err(io)? => seq,
            Some(seq) => seq + 1,
            None => 1,
        };
        let (file, len) = open_segment(dir, seq).map_err(io)?;
        Ok(Segments {
            dir: dir.to_path_buf(),
            segment_bytes: segment_bytes.max(1),
            seq,
            file,
            len,
        })
    }

    fn position(&self) -> Position {
        Position {
            segment: self.seq,
            offset: self.len,
        }
    }

    fn write_durably(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        if self.len > 0 && self.len + bytes.len() as u64 > self.segment_bytes {
            self.file.sync_all()?;
            let (file, len) = open_segment(&self.dir, self.seq + 1)?;
            self.seq += 1;
            self.file = file;
            self.len = len;
        }
        self.file.write_all(bytes)?;
        self.file.sync_data()?;
        self.len += bytes.len() as u64;
        Ok(())
    }
}

fn ends_cleanly(path: &Path) -> std::io::Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = File::open(path)?;
    let len = f.metadata()?.len();
    if len == 0 {
        return Ok(true);
    }
    f.seek(SeekFrom::Start(len - 1))?;
    let mut last = [0u8; 1];
    f.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

fn open_segment(dir: &Path, seq: u64) -> std::io::Result<(File, u64)> {
    let path = dir.join(segment_name(seq));
    let created = !path.exists();
    let file = OpenOptions::new().create(true).append(true).open(&path)?;
    if created {
        // The new name must survive a crash too, or its fsynced lines are unreachable.
        File::open(dir)?.sync_all()?;
    }
    let len = file.metadata()?.len();
    Ok((file, len))
}
