//! The persisted cursor of one feed: written (fsync, rename, fsync of the directory) only after
//! every item of the page it follows is durable, so a crash re-reads at most one page.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The cursor file of a feed.
pub struct CursorFile {
    path: PathBuf,
}

impl CursorFile {
    /// `{dir}/{feed}.cursor`; creates `dir`.
    pub fn open(dir: &Path, feed: &str) -> std::io::Result<Self> {
        fs::create_dir_all(dir)?;
        Ok(CursorFile {
            path: dir.join(format!("{feed}.cursor")),
        })
    }

    /// The last saved cursor; none before the first page.
    pub fn load(&self) -> std::io::Result<Option<String>> {
        match fs::read_to_string(&self.path) {
            Ok(s) if s.is_empty() => Ok(None),
            Ok(s) => Ok(Some(s)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Replaces the cursor atomically and durably.
    pub fn save(&self, cursor: &str) -> std::io::Result<()> {
        let tmp = self.path.with_extension("cursor.tmp");
        let mut file = File::create(&tmp)?;
        file.write_all(cursor.as_bytes())?;
        file.sync_all()?;
        fs::rename(&tmp, &self.path)?;
        if let Some(dir) = self.path.parent() {
            File::open(dir)?.sync_all()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_and_loads() {
        let dir = tempfile::tempdir().unwrap();
        let c = CursorFile::open(&dir.path().join("pull"), "p").unwrap();
        assert_eq!(c.load().unwrap(), None);
        c.save("abc").unwrap();
        c.save("def").unwrap();
        assert_eq!(
            CursorFile::open(&dir.path().join("pull"), "p")
                .unwrap()
                .load()
                .unwrap()
                .as_deref(),
            Some("def")
        );
    }
}
