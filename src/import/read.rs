//! Reading an import file into rows of (header, cell): CSV in UTF-8 (with or without BOM) or
//! GBK/GB18030, JSON Lines, and XLSX. Whole-file problems (size, encoding, not a workbook) are
//! errors before any row; a broken row is an error of that row only.

use calamine::{Data, Reader, Xlsx};
use encoding_rs::GB18030;
use serde_json::Value;
use std::io::Cursor;
use std::path::Path;

use super::mapping::Cell;

/// The file's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON object (a post, or header -> value) per line.
    Jsonl,
    /// An Excel workbook: the first sheet, with a header row.
    Xlsx,
}

/// A CSV file's text encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Encoding {
    /// UTF-8 when it decodes as UTF-8 (BOM or not), else GB18030 (a superset of GBK).
    Auto,
    /// UTF-8, with or without a BOM.
    #[value(name = "utf-8", alias = "utf8")]
    Utf8,
    /// GBK; read as GB18030, of which GBK is a subset.
    Gbk,
    /// GB18030.
    Gb18030,
}

/// One data row: its number in the file (line or sheet row, 1-based, header = 1) and cells.
pub type Row = (usize, Result<Vec<(String, Cell)>, String>);

/// What a file holds: its header (empty for JSON Lines) and its rows.
pub struct Table {
    /// Column headers, in file order.
    pub headers: Vec<String>,
    /// Rows in file order.
    pub rows: Vec<Row>,
}

/// The format named by the file's extension.
pub fn format_of(path: &Path) -> Option<Format> {
    match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
        "csv" | "txt" => Some(Format::Csv),
        "jsonl" | "ndjson" | "json" => Some(Format::Jsonl),
        "xlsx" | "xlsm" => Some(Format::Xlsx),
        _ => None,
    }
}

/// Reads the whole file; refuses one larger than `max_bytes` before reading it.
pub fn read(
    path: &Path,
    format: Format,
    encoding: Encoding,
    max_bytes: u64,
) -> Result<Table, String> {
    let size = std::fs::metadata(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?
        .len();
    if size > max_bytes {
        return Err(format!(
            "{} is {} MiB; at most {} MiB per import (split the file, or raise --max-size)",
            path.display(),
            size / (1024 * 1024),
            max_bytes / (1024 * 1024)
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse(bytes, format, encoding)
}

/// Parses a file's bytes: whole-file errors as `Err`, row errors inside the table.
pub fn parse(bytes: Vec<u8>, format: Format, encoding: Encoding) -> Result<Table, String> {
    match format {
        Format::Csv => csv_table(&decode(&bytes, encoding)?),
        Format::Jsonl => jsonl_table(&decode(&bytes, Encoding::Utf8)?),
        // A workbook is a zip of XML from anywhere: whatever the reader makes of a malformed
        // one must end as this file's error, not as a crash of the whole import.
        Format::Xlsx => {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| xlsx_table(bytes)))
                .unwrap_or_else(|_| Err("the workbook is damaged and cannot be read".into()))
        }
    }
}

/// The file's text, or a whole-file error that says which encoding failed where.
pub fn decode(bytes: &[u8], encoding: Encoding) -> Result<String, String> {
    let body = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    if bytes.starts_with(b"\xff\xfe") || bytes.starts_with(b"\xfe\xff") {
        return Err("the file is UTF-16; save it as UTF-8 or GBK".into());
    }
    let utf8 = || {
        std::str::from_utf8(body).map(str::to_string).map_err(|e| {
            format!(
                "the file is not valid UTF-8 (at byte {}); if it is GBK, pass --encoding gbk",
                e.valid_up_to()
            )
        })
    };
    let gb = || {
        GB18030
            .decode_without_bom_handling_and_without_replacement(bytes)
            .map(|t| t.into_owned())
            .ok_or_else(|| "the file is neither UTF-8 nor GBK/GB18030 text".to_string())
    };
    match encoding {
        Encoding::Utf8 => utf8(),
        Encoding::Gbk | Encoding::Gb18030 => gb(),
        Encoding::Auto => utf8().or_else(|_| gb()),
    }
}

fn csv_table(text: &str) -> Result<Table, String> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(true)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| format!("cannot read the header row: {e}"))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    if headers.iter().all(String::is_empty) {
        return Err("the file has no header row".into());
    }
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let fallback = i + 2;
        let row = match record {
            Ok(r) => {
                let line = r.position().map_or(fallback, |p| p.line() as usize);
                if r.len() != headers.len() {
                    (
                        line,
                        Err(format!(
                            "has {} fields; the header has {}",
                            r.len(),
                            headers.len()
                        )),
                    )
                } else {
                    let cells = headers
                        .iter()
                        .cloned()
                        .zip(r.iter().map(|c| Cell::Text(c.to_string())))
                        .collect();
                    (line, Ok(cells))
                }
            }
            Err(e) => {
                let line = e.position().map_or(fallback, |p| p.line() as usize);
                (line, Err(format!("is not valid CSV ({})", csv_kind(&e))))
            }
        };
        rows.push(row);
    }
    Ok(Table { headers, rows })
}

/// csv's messages may quote cell text (a citizen's words): say only what kind of problem it was.
fn csv_kind(e: &csv::Error) -> &'static str {
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "invalid text",
        csv::ErrorKind::UnequalLengths { .. } => "wrong number of fields",
        _ => "unreadable record",
    }
}

fn jsonl_table(text: &str) -> Result<Table, String> {
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let row = match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(map)) => {
                Ok(map.into_iter().map(|(k, v)| (k, Cell::Json(v))).collect())
            }
            Ok(_) => Err("is not a JSON object".to_string()),
            Err(e) => Err(format!("is not valid JSON (column {})", e.column())),
        };
        rows.push((i + 1, row));
    }
    Ok(Table {
        headers: Vec::new(),
        rows,
    })
}

fn xlsx_table(bytes: Vec<u8>) -> Result<Table, String> {
    let mut book = Xlsx::new(Cursor::new(bytes))
        .map_err(|e| format!("the file is not an XLSX workbook: {e}"))?;
    let sheet = book
        .worksheet_range_at(0)
        .ok_or("the workbook has no sheet")?
        .map_err(|e| format!("cannot read the first sheet: {e}"))?;
    let first_row = sheet.start().map_or(0, |(r, _)| r as usize);
    let mut lines = sheet.rows();
    let headers: Vec<String> = lines
        .next()
        .ok_or("the first sheet is empty")?
        .iter()
        .map(|c| text_of(c).trim().to_string())
        .collect();
    let mut rows = Vec::new();
    for (i, line) in lines.enumerate() {
        if line.iter().all(|c| matches!(c, Data::Empty)) {
            continue;
        }
        let number = first_row + i + 2;
        let mut cells = Vec::with_capacity(headers.len());
        let mut error = None;
        for (header, cell) in headers.iter().zip(line) {
            let cell = match cell {
                Data::Empty => continue,
                Data::Int(n) => Cell::Number(*n as f64),
                Data::Float(f) => Cell::Number(*f),
                Data::DateTime(d) if d.is_datetime() => {
                    let (y, mo, da, h, mi, s, _) = d.to_ymd_hms_milli();
                    match chrono::NaiveDate::from_ymd_opt(y.into(), mo.into(), da.into())
                        .and_then(|d| d.and_hms_opt(h.into(), mi.into(), s.into()))
                    {
                        Some(t) => Cell::Date(t),
                        None => {
                            error = Some(format!("column {header:?}: not a valid date"));
                            break;
                        }
                    }
                }
                Data::Error(e) => {
                    error = Some(format!("column {header:?}: the cell holds an error ({e})"));
                    break;
                }
                other => Cell::Text(text_of(other)),
            };
            cells.push((header.clone(), cell));
        }
        rows.push((number, error.map_or(Ok(cells), Err)));
    }
    Ok(Table { headers, rows })
}

fn text_of(c: &Data) -> String {
    match c {
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Empty => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn no_file_makes_the_readers_or_the_mapping_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400), text in "\\PC{0,200}") {
            let mapping = crate::import::mapping::Mapping::default_in(chrono_tz::Asia::Shanghai);
            for input in [bytes.clone(), text.clone().into_bytes(), format!("编号,内容,办理时限\n{text}").into_bytes()] {
                for format in [Format::Csv, Format::Jsonl, Format::Xlsx] {
                    for encoding in [Encoding::Auto, Encoding::Utf8, Encoding::Gbk] {
                        if let Ok(table) = parse(input.clone(), format, encoding) {
                            let _ = mapping.check_headers(&table.headers);
                            for (_, row) in table.rows {
                                if let Ok(cells) = row {
                                    let _ = mapping.post(&cells);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn encodings_are_detected_or_refused() {
        let (gbk, _, _) = encoding_rs::GBK.encode("编号,内容\n1,路灯\n");
        assert_eq!(decode(&gbk, Encoding::Auto).unwrap(), "编号,内容\n1,路灯\n");
        assert!(decode(&gbk, Encoding::Utf8)
            .unwrap_err()
            .contains("--encoding gbk"));
        let bom = [b"\xef\xbb\xbf".as_slice(), "编号".as_bytes()].concat();
        assert_eq!(decode(&bom, Encoding::Auto).unwrap(), "编号");
        assert!(decode(b"\xff\xfe1\x00", Encoding::Auto)
            .unwrap_err()
            .contains("UTF-16"));
        assert!(decode(b"\x81\x20\xff", Encoding::Auto).is_err());
    }

    #[test]
    fn a_broken_row_costs_only_itself() {
        let t = csv_table("编号,内容\n1,a\n2,b,extra\n\"3,c\n").unwrap();
        assert!(t.rows[0].1.is_ok());
        assert_eq!(t.rows[1].0, 3);
        assert!(t.rows[1].1.as_ref().unwrap_err().contains("3 fields"));
        assert!(t.rows.len() >= 2);
        let j = jsonl_table("{\"id\":1}\n\nnot json\n[1]\n").unwrap();
        assert_eq!(j.rows.len(), 3);
        assert_eq!(j.rows[1].0, 3);
        assert!(j.rows[1].1.is_err() && j.rows[2].1.is_err());
    }
}
