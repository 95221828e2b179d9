//! The dedup file: fixed 24-byte records (16-byte request id, 8-byte little-endian unix ms).
//!
//! Fixed-size records make a torn tail obvious (a length not divisible by 24) and loading a few
//! million ids a single read.

use intake_schema::RequestId;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use uuid::Uuid;

const RECORD: usize = 24;
const FILE_NAME: &str = "seen.bin";

/// The open dedup file.
pub(super) struct SeenFile {
    path: PathBuf,
    out: BufWriter<File>,
    records: u64,
}

impl SeenFile {
    /// Loads the unexpired ids (at or after `cutoff_ms`) and rewrites the file with only them.
    pub(super) fn open(
        dir: &Path,
        cutoff_ms: i64,
    ) -> std::io::Result<(Self, Vec<(RequestId, i64)>)> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(FILE_NAME);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        let entries: Vec<(RequestId, i64)> = bytes
            .chunks_exact(RECORD)
            .filter_map(decode)
            .filter(|(_, at)| *at >= cutoff_ms)
            .collect();
        let mut file = SeenFile {
            out: BufWriter::new(create(&path)?),
            path,
            records: 0,
        };
        file.rewrite(&entries)?;
        Ok((file, entries))
    }

    /// Records written since the last rewrite.
    pub(super) fn records(&self) -> u64 {
        self.records
    }

    /// Appends and flushes to the OS (no fsync).
    pub(super) fn append(&mut self, entries: &[(RequestId, i64)]) -> std::io::Result<()> {
        for (id, at) in entries {
            self.out.write_all(&encode(id, *at))?;
        }
        self.out.flush()?;
        self.records += entries.len() as u64;
        Ok(())
    }

    /// Forces what was appended to disk.
    pub(super) fn sync(&mut self) -> std::io::Result<()> {
        self.out.flush()?;
        self.out.get_ref().sync_data()
    }

    /// Replaces the file with `entries`, atomically (write beside, fsync, rename).
    pub(super) fn rewrite(&mut self, entries: &[(RequestId, i64)]) -> std::io::Result<()> {
        let tmp = self.path.with_extension("tmp");
        {
            let mut w = BufWriter::new(File::create(&tmp)?);
            for (id, at) in entries {
                w.write_all(&encode(id, *at))?;
            }
            w.flush()?;
            w.get_ref().sync_all()?;
        }
        std::fs::rename(&tmp, &self.path)?;
        if let Some(dir) = self.path.parent() {
            File::open(dir)?.sync_all()?;
        }
        self.out = BufWriter::new(create(&self.path)?);
        self.records = entries.len() as u64;
        Ok(())
    }
}

fn create(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

fn encode(id: &RequestId, at_ms: i64) -> [u8; RECORD] {
    let mut rec = [0u8; RECORD];
    rec[..16].copy_from_slice(id.as_uuid().as_bytes());
    rec[16..].copy_from_slice(&at_ms.to_le_bytes());
    rec
}

fn decode(rec: &[u8]) -> Option<(RequestId, i64)> {
    let id = Uuid::from_slice(rec.get(..16)?).ok()?;
    let at = i64::from_le_bytes(rec.get(16..RECORD)?.try_into().ok()?);
    Some((RequestId::from_uuid(id), at))
}
