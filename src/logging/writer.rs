//! The log writer: lines go into a bounded in-memory buffer that a background thread writes out
//! every few milliseconds.
//!
//! A request only copies its line into the buffer under a short lock: no system call, no wake-up
//! of another thread. (A channel to a writer thread, tracing-appender's design, wakes the thread
//! for nearly every line when it keeps up, a futex call on the request path, and writes each
//! line with its own `write(2)`; together about a tenth of a request's CPU.) When the buffer is
//! full because stderr is slow or blocked, lines are dropped and counted, never waited for.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use tracing_subscriber::fmt::MakeWriter;

/// How long a line may wait in the buffer before it is written out.
pub const FLUSH_EVERY: Duration = Duration::from_millis(20);
/// Bytes the buffer holds before lines are dropped: about 16,000 typical lines.
pub const BUFFER_BYTES: usize = 8 * 1024 * 1024;

struct Shared {
    buffer: Mutex<Vec<u8>>,
    capacity: usize,
    dropped: AtomicU64,
    stopping: AtomicBool,
}

/// The request side: a [`MakeWriter`] whose writers append whole lines to the buffer.
#[derive(Clone)]
pub struct LogWriter {
    shared: Arc<Shared>,
}

/// Counts the lines dropped because the buffer was full.
#[derive(Clone)]
pub struct Dropped(Arc<Shared>);

impl Dropped {
    /// Lines dropped since start.
    pub fn lines(&self) -> u64 {
        self.0.dropped.load(Ordering::Relaxed)
    }
}

/// Writes what is left and stops the background thread when dropped (at exit).
pub struct FlushGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// A writer to `out` through a buffer of `capacity` bytes flushed every `every`.
pub fn buffered<W: Write + Send + 'static>(
    out: W,
    capacity: usize,
    every: Duration,
) -> (LogWriter, Dropped, FlushGuard) {
    let shared = Arc::new(Shared {
        buffer: Mutex::new(Vec::with_capacity(64 * 1024)),
        capacity,
        dropped: AtomicU64::new(0),
        stopping: AtomicBool::new(false),
    });
    let background = shared.clone();
    let thread = std::thread::Builder::new()
        .name("intake-log".into())
        .spawn(move || flush_loop(background, out, every))
        .ok();
    (
        LogWriter {
            shared: shared.clone(),
        },
        Dropped(shared.clone()),
        FlushGuard { shared, thread },
    )
}

fn flush_loop<W: Write>(shared: Arc<Shared>, mut out: W, every: Duration) {
    // Swapped with the shared buffer, so the lock is held for a pointer swap, never for I/O.
    let mut spare: Vec<u8> = Vec::with_capacity(64 * 1024);
    loop {
        let stopping = shared.stopping.load(Ordering::Acquire);
        if let Ok(mut buffer) = shared.buffer.lock() {
            std::mem::swap(&mut *buffer, &mut spare);
        }
        if !spare.is_empty() {
            // A failing stderr cannot be reported anywhere; the lines are lost like dropped ones.
            let _ = out.write_all(&spare).and_then(|_| out.flush());
            spare.clear();
            // Don't keep a surge's worth of memory after it.
            spare.shrink_to(1024 * 1024);
        }
        if stopping {
            return;
        }
        std::thread::park_timeout(every);
    }
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

/// One line's writer, as handed out by [`LogWriter`].
pub struct Line<'a>(&'a Shared);

impl Write for Line<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        // The formatter hands over a whole line per call; it is kept or dropped whole.
        let Ok(mut buffer) = self.0.buffer.lock() else {
            return Ok(bytes.len());
        };
        if buffer.len() + bytes.len() > self.0.capacity {
            drop(buffer);
            self.0.dropped.fetch_add(1, Ordering::Relaxed);
        } else {
            buffer.extend_from_slice(bytes);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogWriter {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        Line(&self.shared)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_reach_the_output_by_exit_at_the_latest() {
        let out = Sink::default();
        let (writer, dropped, guard) = buffered(out.clone(), 1024, Duration::from_secs(60));
        writer.make_writer().write_all(b"one\n").unwrap();
        writer.make_writer().write_all(b"two\n").unwrap();
        drop(guard);
        assert_eq!(&*out.0.lock().unwrap(), b"one\ntwo\n");
        assert_eq!(dropped.lines(), 0);
    }

    #[test]
    fn a_full_buffer_drops_whole_lines_and_counts_them() {
        let out = Sink::default();
        let (writer, dropped, guard) = buffered(out.clone(), 10, Duration::from_secs(60));
        for line in [&b"12345\n"[..], b"abcdef\n", b"xy\n"] {
            writer.make_writer().write_all(line).unwrap();
        }
        drop(guard);
        assert_eq!(&*out.0.lock().unwrap(), b"12345\nxy\n");
        assert_eq!(dropped.lines(), 1);
    }

    #[test]
    fn the_thread_writes_on_its_own_while_running() {
        let out = Sink::default();
        let (writer, _dropped, _guard) = buffered(out.clone(), 1024, Duration::from_millis(5));
        writer.make_writer().write_all(b"soon\n").unwrap();
        for _ in 0..400 {
            if !out.0.lock().unwrap().is_empty() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("the line was not written within 2 s");
    }
}
