//! `channels.call.lines`: which hotline a dialed number belongs to.
//!
//! One hotline is reached under many spellings: `12328`, `043312328` (with the Yanbian area
//! code), `+8643312328`, `tel:+86-433-12328`, `sip:12328@sbc;user=phone`. Every spelling is
//! reduced to its national significant digits (no `+86`, no trunk `0`) before it is looked up,
//! so the table may list any of them and a call in any other form still finds its line.

use intake_adapter::phone;
use std::collections::BTreeMap;

/// Hotline lines by the numbers that reach them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lines {
    /// National significant digits of every configured number, to its line.
    exact: BTreeMap<String, String>,
    /// The short number inside every configured number written with an area code, to its
    /// line, so `12328` also finds a line configured only as `043312328`.
    short: BTreeMap<String, String>,
}

impl Lines {
    /// Builds the lookup from `line -> [numbers]`. The line's own name counts as one of its
    /// numbers. When two lines claim one number, the line that sorts first keeps it.
    pub fn new(map: &BTreeMap<String, Vec<String>>) -> Self {
        let mut lines = Lines::default();
        for (line, numbers) in map {
            for number in std::iter::once(line).chain(numbers) {
                let Some(key) = line_key(number) else {
                    continue;
                };
                if let Some(short) = without_area_code(&key) {
                    lines
                        .short
                        .entry(short.to_string())
                        .or_insert_with(|| line.clone());
                }
                lines.exact.entry(key).or_insert_with(|| line.clone());
            }
        }
        lines
    }

    /// The line `number` (any spelling: national, E.164, `tel:`/`sip:` URI) reaches, if any.
    /// The area code is optional on either side: `043312345` finds a line listed as `12345`.
    pub fn resolve(&self, number: &str) -> Option<String> {
        let key = line_key(number)?;
        if let Some(line) = self.exact.get(&key).or_else(|| self.short.get(&key)) {
            return Some(line.clone());
        }
        without_area_code(&key).and_then(|short| self.exact.get(short).cloned())
    }

    /// True when no line is configured.
    pub fn is_empty(&self) -> bool {
        self.exact.is_empty()
    }
}

/// The national significant digits of a Chinese number in any spelling, the form lines are
/// matched on: `+8643312328`, `008643312328` and `043312328` all give `43312328`; `12345`
/// stays `12345`. Foreign E.164 numbers keep their `+`. `None` for withheld numbers and for
/// SIP user names that are not numbers.
pub fn line_key(raw: &str) -> Option<String> {
    let normalized = phone::normalize(raw)?;
    let (plus, rest) = match normalized.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, normalized.as_str()),
    };
    if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let national = if plus {
        match rest.strip_prefix("86") {
            Some(national) => national,
            None => return Some(normalized.clone()),
        }
    } else {
        rest
    };
    // The trunk prefix: `0433…` is dialed nationally, `433…` follows +86.
    let national = national.strip_prefix('0').unwrap_or(national);
    (!national.is_empty()).then(|| national.to_string())
}

/// The short service number inside `area code + short number`, when `key` has that shape.
///
/// Chinese area codes are two digits when they start with 1 or 2 (10 Beijing, 2x) and three
/// otherwise (433 Yanbian); service numbers (110, 12345, 95xxx) have three to six digits.
fn without_area_code(key: &str) -> Option<&str> {
    let area = match key.as_bytes().first()? {
        b'1' | b'2' => 2,
        b'3'..=b'9' => 3,
        _ => return None,
    };
    let short = key.get(area..)?;
    ((3..=6).contains(&short.len()) && short.bytes().all(|b| b.is_ascii_digit())).then_some(short)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Lines {
        let mut map = BTreeMap::new();
        map.insert(
            "12328".to_string(),
            vec!["12328".to_string(), "043312328".to_string()],
        );
        map.insert("12345".to_string(), vec!["+8643312345".to_string()]);
        map.insert("12343".to_string(), vec![]);
        map.insert("market".to_string(), vec!["043312315".to_string()]);
        Lines::new(&map)
    }

    #[test]
    fn keys() {
        for raw in [
            "043312328",
            "+8643312328",
            "008643312328",
            "tel:+86-433-12328",
            "sip:043312328@sbc;user=phone",
            "<sip:+86043312328@ims>",
        ] {
            assert_eq!(line_key(raw).as_deref(), Some("43312328"), "{raw}");
        }
        assert_eq!(line_key("12345").as_deref(), Some("12345"));
        assert_eq!(line_key("+12025550100").as_deref(), Some("+12025550100"));
        assert_eq!(line_key("anonymous"), None);
        assert_eq!(line_key("sip:agent7@pbx"), None);
    }

    #[test]
    fn resolution_with_and_without_area_code() {
        let lines = table();
        assert_eq!(lines.resolve("12328").as_deref(), Some("12328"));
        assert_eq!(lines.resolve("+8643312328").as_deref(), Some("12328"));
        assert_eq!(
            lines.resolve("sip:12345@10.1.1.1").as_deref(),
            Some("12345")
        );
        // Listed only with its area code, dialed short.
        assert_eq!(lines.resolve("12315").as_deref(), Some("market"));
        // Listed short, dialed with another area code.
        assert_eq!(lines.resolve("02112343").as_deref(), Some("12343"));
        assert_eq!(lines.resolve("13812345678"), None);
        assert_eq!(lines.resolve("anonymous"), None);
        assert!(!lines.is_empty() && Lines::default().is_empty());
    }
}
