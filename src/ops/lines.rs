//! The per-line and per-desk counts behind `/ops/api/lines`: today's and the last hour's
//! requests by channel, and how many were urgent.
//!
//! "Today" starts at midnight in `ops.timezone` (Asia/Shanghai by default), the hotline's own
//! day, not the server's. The counts are persisted to `{data_dir}/ops_lines.json` every few
//! seconds and at shutdown, so a restart keeps them; a crash loses at most the last
//! [`PERSIST_EVERY`]. Only ids and counts are kept: never a contact, a text or a request id.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use super::named::named;

/// How often the counts are written to disk.
pub const PERSIST_EVERY: Duration = Duration::from_secs(5);
/// The label of requests on no configured line.
pub const OTHER: &str = "other";
/// At most this many desks are counted by name (desks come from the configuration and the
/// rules, so this only guards against a bug); the rest count as `other`.
const MAX_DESKS: usize = 64;
const FILE: &str = "ops_lines.json";

/// Requests by channel, and the urgent ones among them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    /// Requests by channel (`phone`, `sms`, `wechat`, `web`, `radio`).
    pub by_channel: BTreeMap<String, u64>,
    /// All of them.
    pub total: u64,
    /// Urgent ones.
    pub urgent: u64,
}

impl Tally {
    fn add(&mut self, channel: &str, urgent: bool) {
        *named(&mut self.by_channel, channel, || 0) += 1;
        self.total += 1;
        self.urgent += u64::from(urgent);
    }

    fn merge(&mut self, other: &Tally) {
        for (c, n) in &other.by_channel {
            *self.by_channel.entry(c.clone()).or_default() += n;
        }
        self.total += other.total;
        self.urgent += other.urgent;
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Minute {
    minute: u64,
    lines: BTreeMap<String, Tally>,
    desks: BTreeMap<String, Tally>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct State {
    day: String,
    lines: BTreeMap<String, Tally>,
    desks: BTreeMap<String, Tally>,
    minutes: VecDeque<Minute>,
    #[serde(skip)]
    dirty: bool,
    /// The minute `day` was last found right in: a day starts on a whole minute in every time
    /// zone, so within that minute the date need not be worked out (and formatted) again.
    #[serde(skip)]
    day_checked: Option<u64>,
}

/// One line's row.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LineRow {
    /// The id (`source.line`), or `other`.
    pub id: String,
    /// The Chinese name.
    pub name: String,
    /// The Korean name, if configured.
    pub name_ko: Option<String>,
    /// The line's desk.
    pub desk: String,
    /// Since midnight.
    pub today: Tally,
    /// In the last 60 minutes.
    pub last_hour: Tally,
}

/// One desk's row.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct DeskRow {
    /// The desk.
    pub desk: String,
    /// Since midnight.
    pub today: Tally,
    /// In the last 60 minutes.
    pub last_hour: Tally,
}

/// The whole table, as `/ops/api/lines` serves it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LinesView {
    /// The zone "today" is counted in.
    pub timezone: String,
    /// Today's date there.
    pub day: String,
    /// Configured lines in id order, then `other`.
    pub lines: Vec<LineRow>,
    /// Desks seen today, by name.
    pub desks: Vec<DeskRow>,
    /// Urgent requests in the last 60 minutes, all lines.
    pub urgent_last_hour: u64,
    /// Urgent requests today.
    pub urgent_today: u64,
}

/// (id, name, name_ko, desk) of a configured line.
pub type LineInfo = (String, String, Option<String>, String);

/// The rows of the configured lines, from the registry.
pub fn line_infos(registry: &crate::routing::registry::Registry) -> Vec<LineInfo> {
    registry
        .lines()
        .map(|(id, l)| {
            (
                id.to_string(),
                l.name.clone(),
                l.name_ko.clone(),
                l.desk.clone().unwrap_or_else(|| "general".into()),
            )
        })
        .collect()
}

/// The counters, their zone and their file.
#[derive(Debug)]
pub struct LineBoard {
    tz: Tz,
    lines: Vec<LineInfo>,
    path: Option<PathBuf>,
    state: Mutex<State>,
}

impl LineBoard {
    /// A board for `lines` counting days in `tz`, persisted in `data_dir` (when given) and
    /// loaded from there: counts of today and of the last hour survive a restart.
    pub fn open(lines: Vec<LineInfo>, tz: Tz, data_dir: Option<&Path>) -> Self {
        let path = data_dir.map(|d| d.join(FILE));
        let state = path
            .as_deref()
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|b| serde_json::from_slice::<State>(&b).ok())
            .unwrap_or_default();
        LineBoard {
            tz,
            lines,
            path,
            state: Mutex::new(state),
        }
    }

    /// The `line` label of a request: its configured line, else `other` (bounded whatever the
    /// adapters report).
    pub fn label<'a>(&'a self, line: Option<&str>) -> &'a str {
        line.and_then(|l| self.lines.iter().find(|(id, ..)| id == l))
            .map_or(OTHER, |(id, ..)| id.as_str())
    }

    fn day_of(&self, at: DateTime<Utc>) -> String {
        at.with_timezone(&self.tz).format("%Y-%m-%d").to_string()
    }

    /// Counts one new request of `channel` on `line` for `desk`.
    pub fn count(
        &self,
        line: Option<&str>,
        channel: &str,
        desk: &str,
        urgent: bool,
        at: DateTime<Utc>,
    ) {
        let line = self.label(line);
        let minute = (at.timestamp().max(0) as u64) / 60;
        let Ok(mut s) = self.state.lock() else {
            return;
        };
        if s.day_checked != Some(minute) {
            let day = self.day_of(at);
            if s.day != day {
                s.day = day;
                s.lines.clear();
                s.desks.clear();
            }
            s.day_checked = Some(minute);
        }
        let desk = if s.desks.contains_key(desk) || s.desks.len() < MAX_DESKS {
            desk
        } else {
            OTHER
        };
        named(&mut s.lines, line, Tally::default).add(channel, urgent);
        named(&mut s.desks, desk, Tally::default).add(channel, urgent);
        if s.minutes.back().is_none_or(|m| m.minute != minute) {
            s.minutes.push_back(Minute {
                minute,
                ..Minute::default()
            });
        }
        while s.minutes.front().is_some_and(|m| m.minute + 60 <= minute) {
            s.minutes.pop_front();
        }
        if let Some(m) = s.minutes.back_mut() {
            named(&mut m.lines, line, Tally::default).add(channel, urgent);
            named(&mut m.desks, desk, Tally::default).add(channel, urgent);
        }
        s.dirty = true;
    }

    /// The table at `now`.
    pub fn view(&self, now: DateTime<Utc>) -> LinesView {
        let day = self.day_of(now);
        let minute = (now.timestamp().max(0) as u64) / 60;
        let s = self.state.lock().map(|s| s.clone()).unwrap_or_default();
        let today_valid = s.day == day;
        let recent: Vec<&Minute> = s
            .minutes
            .iter()
            .filter(|m| m.minute + 60 > minute && m.minute <= minute)
            .collect();
        let hour = |pick: &dyn Fn(&Minute) -> Option<&Tally>| {
            let mut t = Tally::default();
            for m in &recent {
                if let Some(x) = pick(m) {
                    t.merge(x);
                }
            }
            t
        };
        let today = |map: &BTreeMap<String, Tally>, key: &str| {
            today_valid
                .then(|| map.get(key).cloned())
                .flatten()
                .unwrap_or_default()
        };
        let mut lines: Vec<LineRow> = self
            .lines
            .iter()
            .map(|(id, name, name_ko, desk)| LineRow {
                id: id.clone(),
                name: name.clone(),
                name_ko: name_ko.clone(),
                desk: desk.clone(),
                today: today(&s.lines, id),
                last_hour: hour(&|m| m.lines.get(id)),
            })
            .collect();
        lines.push(LineRow {
            id: OTHER.into(),
            name: "其他".into(),
            name_ko: Some("기타".into()),
            desk: "general".into(),
            today: today(&s.lines, OTHER),
            last_hour: hour(&|m| m.lines.get(OTHER)),
        });
        let mut desk_names: Vec<&String> = s.desks.keys().collect();
        for m in &recent {
            desk_names.extend(m.desks.keys());
        }
        desk_names.sort();
        desk_names.dedup();
        let desks = desk_names
            .into_iter()
            .map(|d| DeskRow {
                desk: d.clone(),
                today: today(&s.desks, d),
                last_hour: hour(&|m| m.desks.get(d)),
            })
            .collect::<Vec<_>>();
        LinesView {
            timezone: self.tz.name().to_string(),
            urgent_last_hour: lines.iter().map(|l| l.last_hour.urgent).sum(),
            urgent_today: lines.iter().map(|l| l.today.urgent).sum(),
            day,
            lines,
            desks,
        }
    }

    /// Writes the counts to disk when they changed (atomically: a crash leaves the old file).
    pub fn persist(&self) -> std::io::Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let bytes = {
            let Ok(mut s) = self.state.lock() else {
                return Ok(());
            };
            if !s.dirty {
                return Ok(());
            }
            s.dirty = false;
            serde_json::to_vec(&*s).map_err(std::io::Error::other)?
        };
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, bytes)?;
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, path)
    }

    /// Persists every [`PERSIST_EVERY`] until the task is aborted.
    pub fn spawn_persist(self: &std::sync::Arc<Self>) -> tokio::task::JoinHandle<()> {
        let board = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(PERSIST_EVERY).await;
                let b = board.clone();
                if let Ok(Err(e)) = tokio::task::spawn_blocking(move || b.persist()).await {
                    tracing::warn!(error = %e, "per-line counts not persisted");
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn board(dir: Option<&Path>) -> LineBoard {
        LineBoard::open(
            vec![
                ("12343".into(), "州长热线".into(), None, "general".into()),
                (
                    "hunchun_arrears".into(),
                    "珲春民营清欠".into(),
                    None,
                    "arrears".into(),
                ),
            ],
            "Asia/Shanghai".parse().unwrap(),
            dir,
        )
    }

    #[test]
    fn today_is_the_hotline_day_and_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let b = board(Some(dir.path()));
        // 23:30 Beijing time on the 2nd, then 00:10 on the 3rd.
        b.count(
            Some("12343"),
            "phone",
            "general",
            false,
            at("2026-12-02T15:30:00Z"),
        );
        b.count(
            Some("12343"),
            "phone",
            "general",
            true,
            at("2026-12-02T16:10:00Z"),
        );
        b.count(
            Some("unknown"),
            "sms",
            "arrears",
            false,
            at("2026-12-02T16:11:00Z"),
        );
        b.persist().unwrap();
        let again = board(Some(dir.path()));
        let v = again.view(at("2026-12-02T16:20:00Z"));
        assert_eq!(v.day, "2026-12-03");
        assert_eq!(v.lines[0].today.total, 1);
        assert_eq!(v.lines[0].today.urgent, 1);
        assert_eq!(v.lines[0].last_hour.total, 2);
        assert_eq!(v.lines[2].id, "other");
        assert_eq!(v.lines[2].today.by_channel["sms"], 1);
        assert_eq!(v.urgent_last_hour, 1);
        assert_eq!(
            v.desks
                .iter()
                .find(|d| d.desk == "arrears")
                .unwrap()
                .today
                .total,
            1
        );
        // Two hours later the hour is empty, the day is not.
        let later = again.view(at("2026-12-02T18:30:00Z"));
        assert_eq!(later.lines[0].last_hour.total, 0);
        assert_eq!(later.lines[0].today.total, 1);
        assert_eq!(again.label(Some("nope")), "other");
        assert_eq!(again.label(Some("12343")), "12343");
    }
}
