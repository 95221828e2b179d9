//! The time formats PBXes write, read into UTC.
//!
//! FreeSWITCH and Kamailio give unix seconds; Asterisk CDRs give local wall-clock time without
//! a zone; ARI gives ISO 8601 with a `+0800`-style offset. Anything unreadable, zero (`0` is
//! FreeSWITCH's "never happened") or outside 2000–2100 is `None` rather than a wrong date.

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};

/// Earliest accepted instant, 2000-01-01T00:00:00Z: older values are unset fields.
const MIN_SECS: i64 = 946_684_800;
/// Latest accepted instant, 2100-01-01T00:00:00Z.
const MAX_SECS: i64 = 4_102_444_800;

/// Unix seconds, with an optional fraction (`1764000000` or `1764000000.25`).
pub(crate) fn unix(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    let (secs, frac) = text.split_once('.').unwrap_or((text, ""));
    if secs.is_empty() || !secs.bytes().all(|b| b.is_ascii_digit()) || secs.len() > 12 {
        return None;
    }
    let secs: i64 = secs.parse().ok()?;
    let millis: u32 = if frac.is_empty() {
        0
    } else if frac.bytes().all(|b| b.is_ascii_digit()) {
        // Keep milliseconds: the record's time format has no more.
        let digits: String = frac.chars().chain("000".chars()).take(3).collect();
        digits.parse().ok()?
    } else {
        return None;
    };
    in_range(DateTime::from_timestamp(secs, millis * 1_000_000)?)
}

/// ISO 8601 / RFC 3339 with an offset: `2026-11-24T09:02:03.123+0800`, `…+08:00`, `…Z`.
pub(crate) fn zoned(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .ok()
        .and_then(|t| in_range(t.with_timezone(&Utc)))
}

/// A wall-clock time without zone (`2026-11-24 09:02:03`, optionally with `T` and a
/// fraction), read at `offset_minutes` east of UTC. A zoned time or unix seconds are also
/// accepted, since CDR backends differ in what they print.
pub(crate) fn local(text: &str, offset_minutes: i32) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Some(t) = unix(text).or_else(|| zoned(text)) {
        return Some(t);
    }
    let naive = ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())?;
    // An invalid offset was refused by `Source::validate`; UTC is the harmless fallback.
    let zone = FixedOffset::east_opt(offset_minutes.saturating_mul(60))
        .or_else(|| FixedOffset::east_opt(0))?;
    let t = zone.from_local_datetime(&naive).single()?;
    in_range(t.with_timezone(&Utc))
}

/// Unix seconds or a zoned ISO 8601 time, whichever `text` is.
pub(crate) fn any(text: &str) -> Option<DateTime<Utc>> {
    unix(text).or_else(|| zoned(text))
}

fn in_range(t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    (MIN_SECS..MAX_SECS).contains(&t.timestamp()).then_some(t)
}

/// Whole seconds from `from` to `to`, or `None` when `to` is earlier (clocks of different
/// sources disagree, or events arrived in the wrong order).
pub(crate) fn seconds_between(from: DateTime<Utc>, to: DateTime<Utc>) -> Option<u64> {
    u64::try_from((to - from).num_seconds()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn formats() {
        let t = at("2026-11-24T01:02:03Z");
        assert_eq!(unix("1795482123"), Some(t));
        assert_eq!(
            unix("1795482123.5").map(|t| t.timestamp_subsec_millis()),
            Some(500)
        );
        assert_eq!(unix("0"), None);
        assert_eq!(unix("-5"), None);
        assert_eq!(unix("99999999999999999999"), None);
        assert_eq!(zoned("2026-11-24T09:02:03.000+0800"), Some(t));
        assert_eq!(zoned("2026-11-24T09:02:03+08:00"), Some(t));
        assert_eq!(local("2026-11-24 09:02:03", 480), Some(t));
        assert_eq!(local("2026-11-24 01:02:03", 0), Some(t));
        assert_eq!(local("0000-00-00 00:00:00", 480), None);
        assert_eq!(local("", 480), None);
        assert_eq!(
            local("2026-11-24 09:02:03", i32::MAX),
            Some(at("2026-11-24T09:02:03Z"))
        );
        assert_eq!(any("1795482123"), Some(t));
    }

    #[test]
    fn durations() {
        let a = at("2026-11-24T01:02:03Z");
        let b = at("2026-11-24T01:04:08Z");
        assert_eq!(seconds_between(a, b), Some(125));
        assert_eq!(seconds_between(b, a), None);
    }
}
