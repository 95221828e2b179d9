//! The page in flight: closes the crash window between the broker's acknowledgement and the dedup
//! file.
//!
//! A pulled item is published, acknowledged, and then written to the dedup file. A crash between
//! the broker's append and that write leaves an item on the topic that the dedup file does not
//! know; the restart re-reads the page and would publish it a second time. So before a page's
//! first item is submitted, the ids of the whole page are written here (fsync); the file goes
//! once the page's items are in the dedup file. A restart that finds it reads the topics back
//! from the page's time (see [`crate::spool::readback`]) and remembers the ids already there, so
//! the re-read page skips them. One file write per page, not per item: pulled feeds are slow.
//!
//! On the embedded journal the journal's recent segments are read back the same way. Items the
//! spool took while Kafka was down are not read back: the window stays for them (a duplicate
//! with the same request id).

use intake_schema::RequestId;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The in-flight file of a feed.
pub struct InFlightFile {
    path: PathBuf,
}

/// What a crash left in flight: when the page was started (ms since the epoch) and its ids.
#[derive(Debug, PartialEq, Eq)]
pub struct InFlightPage {
    /// When the page's first item was about to be submitted.
    pub at_ms: i64,
    /// The ids of every item of the page.
    pub ids: Vec<RequestId>,
}

impl InFlightFile {
    /// `{dir}/{feed}.inflight`; `dir` exists (the cursor file made it).
    pub fn new(dir: &Path, feed: &str) -> Self {
        InFlightFile {
            path: dir.join(format!("{feed}.inflight")),
        }
    }

    /// Records a page as in flight, durably, before its first item is submitted.
    pub fn mark(&self, at_ms: i64, ids: &[RequestId]) -> std::io::Result<()> {
        let mut text = format!("{at_ms}\n");
        for id in ids {
            text.push_str(&id.to_string());
            text.push('\n');
        }
        let mut file = File::create(&self.path)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        if let Some(dir) = self.path.parent() {
            File::open(dir)?.sync_all()?;
        }
        Ok(())
    }

    /// The page is in the dedup file: nothing is in flight any more. Not synced: a file that
    /// outlives a crash only costs the restart a read-back.
    pub fn clear(&self) -> std::io::Result<()> {
        match fs::remove_file(&self.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// The page a crash left in flight, if any. A torn or unreadable file counts as none: the
    /// mark is fsynced before anything is published, so a torn one guarded nothing yet.
    pub fn load(&self) -> Option<InFlightPage> {
        let text = fs::read_to_string(&self.path).ok()?;
        let mut lines = text.lines();
        let at_ms = lines.next()?.parse().ok()?;
        let ids = lines
            .map(|l| uuid::Uuid::parse_str(l).ok().map(RequestId::from_uuid))
            .collect::<Option<Vec<_>>>()?;
        Some(InFlightPage { at_ms, ids })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marked_page_is_found_until_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let file = InFlightFile::new(dir.path(), "feed");
        assert_eq!(file.load(), None);
        let ids = vec![
            RequestId::for_transfer("p", "1"),
            RequestId::for_transfer("p", "2"),
        ];
        file.mark(1_700_000_000_000, &ids).unwrap();
        assert_eq!(
            InFlightFile::new(dir.path(), "feed").load(),
            Some(InFlightPage {
                at_ms: 1_700_000_000_000,
                ids
            })
        );
        file.clear().unwrap();
        file.clear().unwrap();
        assert_eq!(file.load(), None);
    }

    #[test]
    fn a_torn_file_guards_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let file = InFlightFile::new(dir.path(), "feed");
        fs::write(dir.path().join("feed.inflight"), "17000\nnot-an-id\n").unwrap();
        assert_eq!(file.load(), None);
        fs::write(dir.path().join("feed.inflight"), "").unwrap();
        assert_eq!(file.load(), None);
    }
}
