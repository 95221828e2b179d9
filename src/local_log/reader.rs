//! Reading a local log back: for tests, operators and replays.

use std::path::Path;

use super::{decode_line, parse_segment_name, Entry, Position};
use std::io::{Read, Seek, SeekFrom};

/// Most bytes one [`read_range`] call reads from disk.
const MAX_READ_BYTES: u64 = 8 * 1024 * 1024;

/// What [`read_range`] found.
#[derive(Debug, Default)]
pub struct RangeRead {
    /// Entries in log order, each with the position just past it.
    pub entries: Vec<(Entry, Position)>,
    /// Lines skipped for a bad checksum or a torn end.
    pub corrupt: usize,
    /// Where the next read starts.
    pub next: Position,
}

/// Segment numbers in `dir`, oldest first.
pub fn segments(dir: &Path) -> std::io::Result<Vec<u64>> {
    let mut seqs: Vec<u64> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(parse_segment_name))
        .collect();
    seqs.sort_unstable();
    Ok(seqs)
}

/// Reads up to `max` complete entries from `from` up to `to` (what the writer has committed).
/// Corrupt lines are skipped and counted, never returned, and never stop the reading.
pub fn read_range(
    dir: &Path,
    from: Position,
    to: Position,
    max: usize,
) -> std::io::Result<RangeRead> {
    let mut out = RangeRead {
        next: from,
        ..Default::default()
    };
    for seq in segments(dir)?
        .into_iter()
        .filter(|s| *s >= from.segment && *s <= to.segment)
    {
        let path = dir.join(super::segment_name(seq));
        let mut file = std::fs::File::open(&path)?;
        let len = file.metadata()?.len();
        let start = if seq == out.next.segment {
            out.next.offset
        } else {
            0
        };
        let end = if seq == to.segment {
            to.offset.min(len)
        } else {
            len
        };
        if start < end {
            let want = (end - start).min(MAX_READ_BYTES);
            let mut bytes = Vec::with_capacity(want as usize);
            file.seek(SeekFrom::Start(start))?;
            file.take(want).read_to_end(&mut bytes)?;
            let mut offset = start;
            for line in bytes.split_inclusive(|b| *b == b'\n') {
                if !line.ends_with(b"\n") {
                    if offset + line.len() as u64 >= len && seq != to.segment {
                        // A torn last line of an older segment: the writer moved on without it.
                        out.corrupt += 1;
                        offset += line.len() as u64;
                    }
                    break;
                }
                offset += line.len() as u64;
                match decode_line(line) {
                    Some(entry) => out.entries.push((
                        entry,
                        Position {
                            segment: seq,
                            offset,
                        },
                    )),
                    None => out.corrupt += 1,
                }
                out.next = Position {
                    segment: seq,
                    offset,
                };
                if out.entries.len() >= max {
                    return Ok(out);
                }
            }
            out.next = Position {
                segment: seq,
                offset,
            };
            if offset < end {
                return Ok(out); // read budget spent inside this segment
            }
        }
        if seq < to.segment {
            out.next = Position {
                segment: seq + 1,
                offset: 0,
            };
        }
    }
    Ok(out)
}

/// What a full read found.
#[derive(Debug, Default)]
pub struct ReadReport {
    /// Valid entries, oldest first.
    pub entries: Vec<Entry>,
    /// Lines that failed their checksum (a crash mid-write leaves at most one per segment).
    pub corrupt_lines: usize,
    /// Segment files read.
    pub segments: usize,
}

/// Reads every segment of the log in `dir`, oldest first, skipping corrupt lines.
pub fn read_all(dir: &Path) -> std::io::Result<ReadReport> {
    let mut report = ReadReport::default();
    if !dir.exists() {
        return Ok(report);
    }
    for seq in segments(dir)? {
        let path = dir.join(super::segment_name(seq));
        report.segments += 1;
        let bytes = std::fs::read(path)?;
        for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            match decode_line(line) {
                Some(e) => report.entries.push(e),
                None => report.corrupt_lines += 1,
            }
        }
    }
    Ok(report)
}

/// The headers that carry a record's id: a request's, an event's, a dead letter's.
pub const ID_HEADERS: [&str; 3] = ["request_id", "event_id", "dead_letter_id"];

/// The ids in the [`ID_HEADERS`] of the entries in the
/// segments of `dir` written to since `since_ms` (ms since the epoch, by file modification time):
/// what a crash may have left in the log that nobody else remembers. Unreadable ids are skipped.
pub fn ids_since(
    dir: &Path,
    since_ms: i64,
) -> std::io::Result<std::collections::HashSet<uuid::Uuid>> {
    let mut ids = std::collections::HashSet::new();
    if !dir.exists() {
        return Ok(ids);
    }
    let since = std::time::UNIX_EPOCH + std::time::Duration::from_millis(since_ms.max(0) as u64);
    for seq in segments(dir)? {
        let path = dir.join(super::segment_name(seq));
        if std::fs::metadata(&path)?.modified()? < since {
            continue;
        }
        let bytes = std::fs::read(path)?;
        for entry in bytes
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .filter_map(decode_line)
        {
            for (name, value) in &entry.headers {
                if ID_HEADERS.contains(&name.as_ref()) {
                    if let Ok(id) = uuid::Uuid::parse_str(value) {
                        ids.insert(id);
                    }
                }
            }
        }
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::super::{encode_line, segment_name, Entry, LocalLog};
    use super::*;
    use crate::local_log::Headers;

    fn line(n: usize) -> Vec<u8> {
        let e = Entry {
            topic: "t".into(),
            key: format!("k{n}"),
            headers: Default::default(),
            record: format!("{{\"n\":{n}}}").into(),
        };
        encode_line(&e).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_appends_are_all_durable_and_segments_roll() {
        let dir = tempfile::tempdir().unwrap();
        let log = std::sync::Arc::new(LocalLog::open(dir.path(), 2048).unwrap());
        let tasks: Vec<_> = (0..200)
            .map(|n| {
                let log = log.clone();
                tokio::spawn(async move { log.append(line(n)).await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        // One group commit may exceed a segment; sequential appends must then roll over.
        for n in 200..220 {
            log.append(line(n)).await.unwrap();
        }
        log.close().await;
        assert!(
            log.append(line(999)).await.is_err(),
            "closed log refuses appends"
        );
        let report = read_all(dir.path()).unwrap();
        assert_eq!(report.entries.len(), 220);
        assert_eq!(report.corrupt_lines, 0);
        assert!(report.segments > 1, "2 KiB segments must roll over");
    }

    #[tokio::test]
    async fn a_torn_tail_is_skipped_and_writing_goes_on_in_a_new_segment() {
        let dir = tempfile::tempdir().unwrap();
        let mut torn = line(1);
        torn.extend_from_slice(&line(2)[..10]);
        std::fs::write(dir.path().join(segment_name(1)), &torn).unwrap();
        let log = LocalLog::open(dir.path(), 1 << 20).unwrap();
        log.append(line(3)).await.unwrap();
        log.close().await;
        let report = read_all(dir.path()).unwrap();
        let keys: Vec<_> = report.entries.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["k1", "k3"]);
        assert_eq!(report.corrupt_lines, 1);
        assert!(dir.path().join(segment_name(2)).exists());
    }

    #[test]
    fn ids_since_reads_the_id_headers_of_recent_segments() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        let entry = |name: &str, id: String| Entry {
            topic: "t".into(),
            key: "k".into(),
            headers: Headers::from([
                (name.to_string().into(), id.into()),
                ("channel".into(), "web".into()),
            ]),
            record: "{}".into(),
        };
        let mut bytes = encode_line(&entry("request_id", a.to_string())).unwrap();
        bytes.extend(encode_line(&entry("dead_letter_id", b.to_string())).unwrap());
        bytes.extend(encode_line(&entry("request_id", "not-a-uuid".into())).unwrap());
        std::fs::write(dir.path().join(segment_name(1)), bytes).unwrap();
        let now = chrono::Utc::now().timestamp_millis();
        let ids = ids_since(dir.path(), now - 60_000).unwrap();
        assert_eq!(ids, [a, b].into_iter().collect());
        // A segment last written before the time is not read.
        assert!(ids_since(dir.path(), now + 60_000).unwrap().is_empty());
        assert!(ids_since(&dir.path().join("absent"), 0).unwrap().is_empty());
    }
}
