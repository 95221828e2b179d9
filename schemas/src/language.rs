//! The language of a citizen's text, judged by its script.
//!
//! Yanbian is a Korean autonomous prefecture: texts arrive in Chinese, Korean or both. The
//! platform routes Korean texts to bilingual agents, so a cheap script test is all it needs.

use serde::{Deserialize, Serialize};

/// `zh` (Han only), `ko` (Hangul only), `mixed` (both) or `und` (neither).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    /// Han characters and no Hangul.
    Zh,
    /// Hangul and no Han characters.
    Ko,
    /// Both scripts.
    Mixed,
    /// Neither script (digits, Latin, emoji, empty).
    Und,
}

impl Language {
    /// Classifies `text` by the scripts it contains.
    pub fn of(text: &str) -> Self {
        let (mut han, mut hangul) = (false, false);
        for c in text.chars() {
            han |= is_han(c);
            hangul |= is_hangul(c);
            if han && hangul {
                return Language::Mixed;
            }
        }
        match (han, hangul) {
            (true, false) => Language::Zh,
            (false, true) => Language::Ko,
            _ => Language::Und,
        }
    }
}

fn is_han(c: char) -> bool {
    matches!(c as u32,
        0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0x20000..=0x2EBEF | 0xF900..=0xFAFF | 0x30000..=0x3134F)
}

fn is_hangul(c: char) -> bool {
    matches!(c as u32, 0xAC00..=0xD7AF | 0x1100..=0x11FF | 0x3130..=0x318F | 0xA960..=0xA97F | 0xD7B0..=0xD7FF)
}

#[cfg(test)]
mod tests {
    use super::Language::*;
    use super::*;

    #[test]
    fn scripts() {
        assert_eq!(Language::of("路灯不亮了"), Zh);
        assert_eq!(Language::of("가로등이 꺼졌어요"), Ko);
        assert_eq!(Language::of("延吉市 가로등 不亮"), Mixed);
        assert_eq!(Language::of("12345 ok"), Und);
        assert_eq!(Language::of(""), Und);
    }
}
