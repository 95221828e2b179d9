//! The forwarder's durable progress: the position up to which the spool reached Kafka.
//!
//! Written with write-beside, fsync, rename after every forwarded batch, so a crash replays at
//! most the batch in flight at that moment (see the README's guarantees).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::local_log::Position;

const FILE_NAME: &str = "cursor";

/// The cursor file of a spool directory.
pub struct Cursor {
    path: PathBuf,
}

impl Cursor {
    /// The cursor of the spool in `dir`.
    pub fn new(dir: &Path) -> Self {
        Cursor {
            path: dir.join(FILE_NAME),
        }
    }

    /// The stored position; the start of the oldest segment when there is none yet.
    pub fn load(&self, oldest_segment: Option<u64>) -> std::io::Result<Position> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => {
                let mut parts = text.split_whitespace().map(str::parse::<u64>);
                match (parts.next(), parts.next()) {
                    (Some(Ok(segment)), Some(Ok(offset))) => Ok(Position { segment, offset }),
                    _ => Err(std::io::Error::other(format!(
                        "{} is corrupt: {text:?}",
                        self.path.display()
                    ))),
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Position {
                segment: oldest_segment.unwrap_or(1),
                offset: 0,
            }),
            Err(e) => Err(e),
        }
    }

    /// Stores `position` durably.
    pub fn store(&self, position: Position) -> std::io::Result<()> {
        let tmp = self.path.with_extension("tmp");
        {
            let mut f = File::create(&tmp)?;
            writeln!(f, "{} {}", position.segment, position.offset)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &self.path)?;
        if let Some(dir) = self.path.parent() {
            File::open(dir)?.sync_all()?;
        }
        Ok(())
    }
}
