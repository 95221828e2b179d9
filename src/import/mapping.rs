//! From a file's columns to post fields: the default mapping (the Chinese headers government
//! offices use and the English field paths), or an operator's mapping file.
//!
//! A mapping file is TOML:
//!
//! ```toml
//! [columns]           # header -> field path; added to (and overriding) the defaults
//! "受理编号" = "id"
//! "诉求内容" = "body"
//! [set]               # a constant for every row, e.g. the sender of a whole file
//! "transfer.platform" = "state_council"
//! ```

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// Every post field a column may fill, as a dotted path into the push's post object.
pub const FIELDS: [&str; 29] = [
    "id",
    "kind",
    "board",
    "title",
    "body",
    "posted_at",
    "author.name",
    "author.phone",
    "author.account",
    "moderation.moderator",
    "moderation.approved_at",
    "location.lat",
    "location.lon",
    "location.label",
    "program.name",
    "program.aired_at",
    "program.episode",
    "program.segment",
    "caller.phone",
    "caller.name",
    "transfer.platform",
    "transfer.original_id",
    "transfer.transferred_at",
    "transfer.url",
    "transfer.deadline",
    "transfer.instructions",
    "transfer.reply_to",
    "transfer.original_title",
    "transfer.original_received_at",
];

/// The Chinese headers understood without a mapping file (besides the field paths themselves).
pub const CHINESE_HEADERS: [(&str, &str); 28] = [
    ("编号", "id"),
    ("标题", "title"),
    ("内容", "body"),
    ("姓名", "author.name"),
    ("联系电话", "author.phone"),
    ("来源平台", "transfer.platform"),
    ("原编号", "transfer.original_id"),
    ("转办时间", "transfer.transferred_at"),
    ("办理时限", "transfer.deadline"),
    ("批示意见", "transfer.instructions"),
    ("审核人", "moderation.moderator"),
    ("审核时间", "moderation.approved_at"),
    ("类型", "kind"),
    ("版块", "board"),
    ("发布时间", "posted_at"),
    ("账号", "author.account"),
    ("原链接", "transfer.url"),
    ("回复方式", "transfer.reply_to"),
    ("原标题", "transfer.original_title"),
    ("原受理时间", "transfer.original_received_at"),
    ("节目", "program.name"),
    ("播出时间", "program.aired_at"),
    ("期数", "program.episode"),
    ("环节", "program.segment"),
    ("来电号码", "caller.phone"),
    ("来电人", "caller.name"),
    ("地点", "location.label"),
    ("转办意见", "transfer.instructions"),
];

/// What the sending platforms are called in their own sheets, and their `transfer.platform` name.
const PLATFORM_NAMES: [(&str, &str); 8] = [
    ("市长信箱", "mayor_mailbox"),
    ("州长信箱", "mayor_mailbox"),
    ("省长公开电话", "provincial_hotline"),
    ("省长公开电话转办", "provincial_hotline"),
    ("国务院转办", "state_council"),
    ("国务院", "state_council"),
    ("互联网+督查", "state_council"),
    ("人民网地方领导留言板", "people_daily"),
];

/// One cell as the reader found it.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    /// Text (every CSV cell).
    Text(String),
    /// A number (spreadsheets store ids and phone numbers as numbers).
    Number(f64),
    /// A spreadsheet date, in the file's local time.
    Date(NaiveDateTime),
    /// A JSON value from a JSON Lines file, kept as it is.
    Json(Value),
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct MappingFile {
    columns: BTreeMap<String, String>,
    set: BTreeMap<String, String>,
}

/// Which header fills which field, and the constants set on every row.
#[derive(Clone, Debug)]
pub struct Mapping {
    columns: HashMap<String, &'static str>,
    set: Vec<(&'static str, String)>,
    tz: Tz,
}

impl Mapping {
    /// The default mapping in `tz` (the zone of times written without an offset).
    pub fn default_in(tz: Tz) -> Self {
        let mut columns = HashMap::new();
        for f in FIELDS {
            columns.insert(f.to_string(), f);
        }
        for (h, f) in CHINESE_HEADERS {
            columns.insert(h.to_string(), f);
        }
        Mapping {
            columns,
            set: Vec::new(),
            tz,
        }
    }

    /// The defaults plus the mapping file at `path`.
    pub fn from_file(path: &Path, tz: Tz) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the mapping file {}: {e}", path.display()))?;
        let file: MappingFile =
            toml::from_str(&text).map_err(|e| format!("mapping file {}: {e}", path.display()))?;
        let mut mapping = Mapping::default_in(tz);
        for (header, field) in file.columns {
            mapping
                .columns
                .insert(normalize(&header), field_name(&field)?);
        }
        for (field, value) in file.set {
            mapping.set.push((field_name(&field)?, value));
        }
        Ok(mapping)
    }

    /// The field a header fills, if any.
    pub fn field(&self, header: &str) -> Option<&'static str> {
        let h = normalize(header);
        self.columns
            .get(&h)
            .or_else(|| self.columns.get(&h.to_ascii_lowercase()))
            .copied()
    }

    /// Whole-file check of a header row: the fields every post needs must have a column (or a
    /// constant). Returns the columns that fill nothing, for a warning.
    pub fn check_headers(&self, headers: &[String]) -> Result<Vec<String>, String> {
        let mapped: Vec<&str> = headers
            .iter()
            .filter_map(|h| self.field(h))
            .chain(self.set.iter().map(|(f, _)| *f))
            .collect();
        if !mapped.contains(&"body") {
            return Err("missing required column: 内容 (body)".into());
        }
        if !mapped.contains(&"id") && !mapped.contains(&"transfer.original_id") {
            return Err(
                "missing required column: 编号 (id), or 原编号 (transfer.original_id)".into(),
            );
        }
        Ok(headers
            .iter()
            .filter(|h| self.field(h).is_none() && !h.trim().is_empty())
            .cloned()
            .collect())
    }

    /// The row's id as written, for the report of a row that cannot become a post.
    pub fn id_of(&self, cells: &[(String, Cell)]) -> String {
        cells
            .iter()
            .find(|(h, _)| self.field(h) == Some("id"))
            .and_then(|(_, c)| self.convert("id", c).ok())
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string())
            })
            .unwrap_or_default()
    }

    /// Builds the post of one row; an error names the column and what is wrong with it.
    pub fn post(&self, cells: &[(String, Cell)]) -> Result<Value, String> {
        let mut post = Map::new();
        for (field, value) in &self.set {
            set_path(
                &mut post,
                field,
                self.convert(field, &Cell::Text(value.clone()))?,
            );
        }
        for (header, cell) in cells {
            let Some(field) = self.field(header) else {
                // A JSON Lines post may carry whole blocks ("transfer": {...}) as pushes do.
                if let Cell::Json(v) = cell {
                    if FIELDS
                        .iter()
                        .any(|f| f.split('.').next() == Some(header.as_str()))
                    {
                        post.insert(header.clone(), self.normalize_json(header, v.clone())?);
                    }
                }
                continue;
            };
            if is_empty(cell) {
                continue;
            }
            let value = self
                .convert(field, cell)
                .map_err(|e| format!("column {header:?}: {e}"))?;
            set_path(&mut post, field, value);
        }
        if !post.contains_key("id") {
            if let Some(original) = post.get("transfer").and_then(|t| t.get("original_id")) {
                post.insert("id".into(), original.clone());
            }
        }
        Ok(Value::Object(post))
    }

    /// Times inside a JSON block may be written like the sheet's (`2026-11-24 08:00`).
    fn normalize_json(&self, block: &str, value: Value) -> Result<Value, String> {
        let Value::Object(mut map) = value else {
            return Ok(value);
        };
        for (key, v) in map.iter_mut() {
            let path = format!("{block}.{key}");
            if let (true, Value::String(s)) = (is_time(&path), &*v) {
                *v = Value::String(self.time(s).map_err(|e| format!("{path}: {e}"))?);
            }
        }
        Ok(Value::Object(map))
    }

    fn convert(&self, field: &str, cell: &Cell) -> Result<Value, String> {
        if is_time(field) {
            let text = match cell {
                Cell::Date(d) => return Ok(Value::String(self.local(*d, field)?)),
                Cell::Text(s) => s.clone(),
                Cell::Json(Value::String(s)) => s.clone(),
                _ => return Err("is not a date".into()),
            };
            return self.time(&text).map(Value::String);
        }
        if field == "location.lat" || field == "location.lon" {
            let n = match cell {
                Cell::Number(n) => Some(*n),
                Cell::Text(s) => s.trim().parse().ok(),
                Cell::Json(v) => v.as_f64(),
                Cell::Date(_) => None,
            };
            return n
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .ok_or_else(|| "is not a number".into());
        }
        let text = match cell {
            Cell::Text(s) => s.trim().to_string(),
            // Ids and phone numbers typed into a spreadsheet become numbers: 13812345678.0.
            Cell::Number(n) if n.fract() == 0.0 && n.abs() < 1e16 => format!("{}", *n as i64),
            Cell::Number(n) => n.to_string(),
            Cell::Date(d) => d.format("%Y-%m-%d %H:%M:%S").to_string(),
            Cell::Json(Value::String(s)) => s.clone(),
            Cell::Json(v) => v.to_string(),
        };
        if field == "transfer.platform" {
            let name = PLATFORM_NAMES
                .iter()
                .find(|(zh, _)| *zh == text)
                .map(|(_, id)| id.to_string());
            return Ok(Value::String(name.unwrap_or(text)));
        }
        Ok(Value::String(text))
    }

    /// RFC 3339 as is; `2026-11-24 08:00[:00]`, `2026/11/24 08:00` and `2026-11-24` in the
    /// import's zone.
    pub fn time(&self, s: &str) -> Result<String, String> {
        let s = s.trim();
        if let Ok(t) = DateTime::parse_from_rfc3339(s) {
            return Ok(t.with_timezone(&Utc).to_rfc3339());
        }
        let unified = s.replace('/', "-");
        for format in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"] {
            if let Ok(t) = NaiveDateTime::parse_from_str(&unified, format) {
                return self.local(t, s);
            }
        }
        if let Ok(d) = NaiveDate::parse_from_str(&unified, "%Y-%m-%d") {
            return self.local(d.and_hms_opt(0, 0, 0).unwrap_or_default(), s);
        }
        Err(format!(
            "{:?} is not a time (2026-11-24 08:00 or RFC 3339)",
            s.chars().take(30).collect::<String>()
        ))
    }

    fn local(&self, t: NaiveDateTime, what: &str) -> Result<String, String> {
        self.tz
            .from_local_datetime(&t)
            .earliest()
            .map(|t| t.with_timezone(&Utc).to_rfc3339())
            .ok_or_else(|| format!("{what}: that local time does not exist in {}", self.tz))
    }
}

fn field_name(field: &str) -> Result<&'static str, String> {
    FIELDS
        .iter()
        .find(|f| **f == field)
        .copied()
        .ok_or_else(|| {
            format!(
                "{field:?} is not a post field; known: {}",
                FIELDS.join(", ")
            )
        })
}

fn normalize(header: &str) -> String {
    header.trim().trim_start_matches('\u{feff}').to_string()
}

fn is_time(field: &str) -> bool {
    field.ends_with("_at") || field == "transfer.deadline"
}

fn is_empty(cell: &Cell) -> bool {
    match cell {
        Cell::Text(s) => s.trim().is_empty(),
        Cell::Json(Value::Null) => true,
        Cell::Json(Value::String(s)) => s.trim().is_empty(),
        _ => false,
    }
}

fn set_path(post: &mut Map<String, Value>, path: &str, value: Value) {
    match path.split_once('.') {
        None => {
            post.insert(path.to_string(), value);
        }
        Some((block, key)) => {
            let entry = post
                .entry(block.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(map) = entry {
                map.insert(key.to_string(), value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn text(h: &str, v: &str) -> (String, Cell) {
        (h.to_string(), Cell::Text(v.to_string()))
    }

    #[test]
    fn chinese_headers_and_local_times() {
        let m = Mapping::default_in(chrono_tz::Asia::Shanghai);
        let post = m
            .post(&[
                text("编号", "A-1"),
                text("内容", "路灯不亮"),
                text("联系电话", "13812345678"),
                text("来源平台", "国务院转办"),
                text("原编号", "GWY-9"),
                text("办理时限", "2026-11-24 08:00"),
                text("审核时间", "2026-11-24T08:00:00+08:00"),
                text("备注", "ignored"),
                text("批示意见", ""),
            ])
            .unwrap();
        assert_eq!(
            post,
            json!({"id": "A-1", "body": "路灯不亮", "author": {"phone": "13812345678"},
                "transfer": {"platform": "state_council", "original_id": "GWY-9", "deadline": "2026-11-24T00:00:00+00:00"},
                "moderation": {"approved_at": "2026-11-24T00:00:00+00:00"}})
        );
    }

    #[test]
    fn spreadsheet_numbers_and_dates() {
        let m = Mapping::default_in(chrono_tz::Asia::Shanghai);
        let d = NaiveDate::from_ymd_opt(2026, 11, 24)
            .unwrap()
            .and_hms_opt(8, 0, 0)
            .unwrap();
        let post = m
            .post(&[
                ("id".into(), Cell::Number(12345.0)),
                ("author.phone".into(), Cell::Number(13812345678.0)),
                ("transfer.deadline".into(), Cell::Date(d)),
            ])
            .unwrap();
        assert_eq!(post["id"], "12345");
        assert_eq!(post["author"]["phone"], "13812345678");
        assert_eq!(post["transfer"]["deadline"], "2026-11-24T00:00:00+00:00");
    }

    #[test]
    fn bad_dates_name_their_column_and_required_columns_are_checked() {
        let m = Mapping::default_in(chrono_tz::Asia::Shanghai);
        let e = m.post(&[text("办理时限", "明天")]).unwrap_err();
        assert!(e.contains("办理时限") && e.contains("not a time"), "{e}");
        assert!(m
            .check_headers(&["编号".into(), "标题".into()])
            .unwrap_err()
            .contains("内容"));
        assert_eq!(
            m.check_headers(&["原编号".into(), "内容".into(), "x".into()]),
            Ok(vec!["x".to_string()])
        );
    }

    #[test]
    fn a_mapping_file_adds_columns_and_constants() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.toml");
        std::fs::write(
            &path,
            "[columns]\n\"诉求内容\" = \"body\"\n[set]\n\"transfer.platform\" = \"mayor_mailbox\"\n",
        )
        .unwrap();
        let m = Mapping::from_file(&path, chrono_tz::Asia::Shanghai).unwrap();
        let post = m
            .post(&[text("诉求内容", "x"), text("原编号", "9")])
            .unwrap();
        assert_eq!(
            post,
            json!({"id": "9", "body": "x", "transfer": {"platform": "mayor_mailbox", "original_id": "9"}})
        );
        std::fs::write(&path, "[columns]\n\"a\" = \"nope\"\n").unwrap();
        assert!(Mapping::from_file(&path, chrono_tz::Asia::Shanghai)
            .unwrap_err()
            .contains("not a post field"));
    }
}
