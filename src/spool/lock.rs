//! One forwarder per spool: an exclusive `flock` on `{spool}/LOCK`, held while the gateway (or
//! `spool drain`) runs. Two forwarders would publish the same entries twice.

use std::fs::{File, OpenOptions};
use std::path::Path;

/// Held for as long as it lives; the OS releases it when the process dies, even on kill -9.
pub struct SpoolLock {
    _file: File,
}

impl SpoolLock {
    /// Takes the lock, or says who holds it.
    pub fn acquire(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("LOCK"))?;
        #[cfg(unix)]
        {
            use std::os::unix::io::AsRawFd;
            // SAFETY: flock on a file descriptor we own; no memory is shared.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if rc != 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::WouldBlock,
                    format!(
                        "{} is in use by another gateway or `spool drain`",
                        dir.display()
                    ),
                ));
            }
        }
        Ok(SpoolLock { _file: file })
    }
}
