//! Keyword rules, compiled once at startup into one Aho–Corasick automaton over every word of
//! every rule, so a request's title and text are scanned once whatever the number of rules.
//!
//! Text and words are compared lowercased and without whitespace: a citizen writes `불이 났어요`
//! or `불이났어요`, `煤气 泄漏` or `煤气泄漏`, and both must match the same word.

use aho_corasick::{AhoCorasick, MatchKind};
use intake_schema::Priority;

use super::config::MatchRule;

/// What one matching rule sets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit<'a> {
    /// `rule:<name>`, for `routing.reasons`.
    pub by: &'a str,
    /// Tags to add.
    pub tags: &'a [String],
    /// The desk suggested.
    pub desk: Option<&'a str>,
    /// True when the rule makes the request urgent.
    pub urgent: bool,
}

#[derive(Clone, Copy, Debug)]
enum Role {
    Any,
    All(usize),
    None,
}

#[derive(Debug)]
struct Compiled {
    by: String,
    tags: Vec<String>,
    desk: Option<String>,
    urgent: bool,
    has_any: bool,
    all_count: usize,
}

/// The rules, ready to match.
#[derive(Debug)]
pub struct Rules {
    rules: Vec<Compiled>,
    automaton: Option<AhoCorasick>,
    /// Per automaton pattern: (rule index, its role in that rule).
    patterns: Vec<(usize, Role)>,
}

/// The form text and words are compared in.
pub fn fold(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    for c in text.chars().filter(|c| !c.is_whitespace()) {
        // Every text of every request is folded: Chinese and Korean (nearly all of it) have no
        // case, so their characters skip the case tables (a test checks those ranges).
        if c.is_ascii() {
            folded.push(c.to_ascii_lowercase());
        } else if is_caseless_cjk(c) {
            folded.push(c);
        } else {
            folded.extend(c.to_lowercase());
        }
    }
    folded
}

/// CJK symbols, kana, jamo and ideographs (U+3000..U+9FFF) and Hangul syllables: no case.
fn is_caseless_cjk(c: char) -> bool {
    matches!(c, '\u{3000}'..='\u{9FFF}' | '\u{AC00}'..='\u{D7A3}')
}

impl Rules {
    /// Compiles `rules` (named `rule:<name>`, or `rule:match<N>` when unnamed).
    pub fn compile(rules: &[MatchRule]) -> Result<Self, String> {
        let mut compiled = Vec::with_capacity(rules.len());
        let mut words: Vec<String> = Vec::new();
        let mut patterns = Vec::new();
        for (i, r) in rules.iter().enumerate() {
            let name = r.name.clone().unwrap_or_else(|| format!("match{i}"));
            for w in &r.any {
                words.push(fold(w));
                patterns.push((i, Role::Any));
            }
            for (j, w) in r.all.iter().enumerate() {
                words.push(fold(w));
                patterns.push((i, Role::All(j)));
            }
            for w in &r.none {
                words.push(fold(w));
                patterns.push((i, Role::None));
            }
            if r.all.len() > 64 {
                return Err(format!("rule {name}: at most 64 `all` words"));
            }
            compiled.push(Compiled {
                by: format!("rule:{name}"),
                tags: r.tags.clone(),
                desk: r.desk.clone(),
                urgent: r.priority == Some(Priority::Urgent),
                has_any: !r.any.is_empty(),
                all_count: r.all.len(),
            });
        }
        let automaton = if words.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .build(&words)
                    .map_err(|e| format!("rules cannot be compiled: {e}"))?,
            )
        };
        Ok(Rules {
            rules: compiled,
            automaton,
            patterns,
        })
    }

    /// How many rules there are.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when there is no rule.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules that match `folded` (see [`fold`]), in rule order.
    pub fn matches(&self, folded: &str) -> Vec<Hit<'_>> {
        let Some(automaton) = &self.automaton else {
            return Vec::new();
        };
        // Per rule: any seen, none seen, bitmap of `all` words seen.
        let mut seen: Vec<(bool, bool, u64)> = vec![(false, false, 0); self.rules.len()];
        for m in automaton.find_overlapping_iter(folded) {
            let (rule, role) = self.patterns[m.pattern().as_usize()];
            let s = &mut seen[rule];
            match role {
                Role::Any => s.0 = true,
                Role::None => s.1 = true,
                Role::All(j) => s.2 |= 1 << j,
            }
        }
        self.rules
            .iter()
            .zip(seen)
            .filter(|(r, (any, none, all))| {
                let all_ok = r.all_count == 0 || all.count_ones() as usize == r.all_count;
                (!r.has_any || *any) && all_ok && !none
            })
            .map(|(r, _)| Hit {
                by: &r.by,
                tags: &r.tags,
                desk: r.desk.as_deref(),
                urgent: r.urgent,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_caseless_ranges_have_no_case() {
        let ranges = ['\u{3000}'..='\u{9FFF}', '\u{AC00}'..='\u{D7A3}'];
        for c in ranges.into_iter().flatten() {
            assert!(is_caseless_cjk(c));
            assert!(c.to_lowercase().eq([c]), "{c:?} has a lowercase form");
        }
        assert_eq!(fold("Ａ Ab 路灯\u{3000}불이 ÄΣ"), "ａab路灯불이äσ");
    }

    use super::*;

    fn rule(name: &str, any: &[&str], all: &[&str], none: &[&str]) -> MatchRule {
        MatchRule {
            name: Some(name.into()),
            any: any.iter().map(|s| s.to_string()).collect(),
            all: all.iter().map(|s| s.to_string()).collect(),
            none: none.iter().map(|s| s.to_string()).collect(),
            tags: vec![name.into()],
            ..MatchRule::default()
        }
    }

    #[test]
    fn any_all_and_none() {
        let rules = Rules::compile(&[
            rule("a", &["拖欠", "欠款"], &[], &[]),
            rule("b", &[], &["车祸", "受伤"], &[]),
            rule("c", &["着火"], &[], &["隐患"]),
            rule("d", &["가스 냄새"], &[], &[]),
        ])
        .unwrap();
        let names = |t: &str| -> Vec<String> {
            rules
                .matches(&fold(t))
                .iter()
                .map(|h| h.by.to_string())
                .collect()
        };
        assert_eq!(names("公司拖欠工程款"), ["rule:a"]);
        assert_eq!(names("路口车祸，有人受伤"), ["rule:b"]);
        assert!(names("路口车祸").is_empty());
        assert_eq!(names("楼下着火了"), ["rule:c"]);
        assert!(names("楼道堆杂物，着火隐患大").is_empty());
        assert_eq!(names("집에서 가스냄새가 나요"), ["rule:d"]);
        assert!(Rules::compile(&[]).unwrap().matches("x").is_empty());
    }
}
