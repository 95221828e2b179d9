//! `channels.sms.lines`: which hotline a message reached, from the number it was sent to.
//!
//! Citizens text the short number (12345) or the long service number (1069012345…) that
//! carriers assign, often with an extension code appended (106901234501). The table lists the
//! numbers and codes of each line; the longest listed prefix of the destination wins.

use std::collections::BTreeMap;

/// The hotline lookup table: number or extension-code prefixes (digits only) to line names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lines {
    /// (prefix digits, line), longest prefix first so the first match is the best one.
    entries: Vec<(String, String)>,
}

impl Lines {
    /// Builds the table from `line -> [numbers or codes]`. Entries are reduced to their digits
    /// (`+86 10690-12345` lists as `861069012345`); an entry without digits is ignored. When two
    /// lines list the same prefix, the line that sorts first keeps it.
    pub fn new(map: &BTreeMap<String, Vec<String>>) -> Self {
        let mut entries: Vec<(String, String)> = Vec::new();
        for (line, numbers) in map {
            for number in numbers {
                let digits = digits(number);
                if !digits.is_empty() && !entries.iter().any(|(d, _)| *d == digits) {
                    entries.push((digits, line.clone()));
                }
            }
        }
        // Stable: equal lengths keep the map's (sorted) order.
        entries.sort_by_key(|(d, _)| std::cmp::Reverse(d.len()));
        Lines { entries }
    }

    /// The line whose listed number is the longest prefix of `destination`'s digits. A
    /// destination written internationally (`+86…`, `0086…`, `86…`) is also tried without the
    /// country code, so `+861069012345` finds an entry listed as `1069012345`.
    pub fn resolve(&self, destination: &str) -> Option<String> {
        let trimmed = destination.trim();
        let all = digits(trimmed);
        if all.is_empty() {
            return None;
        }
        let mut candidates = vec![all.clone()];
        for cc in ["0086", "86"] {
            if let Some(rest) = all.strip_prefix(cc).filter(|r| !r.is_empty()) {
                candidates.push(rest.to_string());
                break;
            }
        }
        let mut best: Option<(usize, &String)> = None;
        for candidate in &candidates {
            if let Some((prefix, line)) = self
                .entries
                .iter()
                .find(|(prefix, _)| candidate.starts_with(prefix.as_str()))
            {
                if best.is_none_or(|(len, _)| prefix.len() > len) {
                    best = Some((prefix.len(), line));
                }
            }
        }
        best.map(|(_, line)| line.clone())
    }

    /// True when no numbers are configured (every `source.line` will be null).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The ASCII digits of `s`, in order.
pub(crate) fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Lines {
        let mut map = BTreeMap::new();
        map.insert(
            "12345".to_string(),
            vec!["12345".to_string(), "1069012345".to_string()],
        );
        map.insert(
            "12328".to_string(),
            vec![
                "12328".into(),
                "106901234599".into(),
                "+86 10690-12328".into(),
            ],
        );
        Lines::new(&map)
    }

    #[test]
    fn longest_prefix_wins() {
        let lines = table();
        assert_eq!(lines.resolve("12345").as_deref(), Some("12345"));
        assert_eq!(lines.resolve("106901234501").as_deref(), Some("12345"));
        assert_eq!(lines.resolve("10690123459901").as_deref(), Some("12328"));
        assert_eq!(lines.resolve("+861069012345").as_deref(), Some("12345"));
        assert_eq!(lines.resolve("008612328").as_deref(), Some("12328"));
        assert_eq!(lines.resolve("8610690123287").as_deref(), Some("12328"));
        assert_eq!(lines.resolve("95555"), None);
        assert_eq!(lines.resolve(""), None);
        assert!(!lines.is_empty());
        assert!(Lines::default().is_empty());
    }

    #[test]
    fn duplicate_prefix_keeps_the_line_that_sorts_first() {
        let mut map = BTreeMap::new();
        map.insert("12345".to_string(), vec!["1069012345".to_string()]);
        map.insert(
            "12343".to_string(),
            vec!["".to_string(), "1069012345".to_string()],
        );
        let lines = Lines::new(&map);
        assert_eq!(lines.resolve("1069012345").as_deref(), Some("12343"));
    }
}
