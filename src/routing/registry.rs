//! The one registry of lines: `[lines.*]` merged with the old per-channel `lines` maps, and the
//! lookups the call and SMS adapters use, built once at startup.

use serde::Serialize;
use std::collections::BTreeMap;

use super::config::LineConfig;

/// The configured lines and the number lookups built from them.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    lines: BTreeMap<String, LineConfig>,
    call: intake_call::Lines,
    sms: intake_sms::Lines,
    /// Lines only the old maps named, for the startup warning.
    legacy: Vec<String>,
}

/// One line as `check-config` and `/ops/api/lines` show it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LineView<'a> {
    /// The id (`source.line`).
    pub id: &'a str,
    /// Its configuration after the merge.
    #[serde(flatten)]
    pub line: &'a LineConfig,
}

impl Registry {
    /// Merges `[lines.*]` with `channels.call.lines` and `channels.sms.lines` (deprecated: their
    /// numbers are added to the line of the same id, which is created when only they name it).
    pub fn new(
        lines: &BTreeMap<String, LineConfig>,
        legacy_call: &BTreeMap<String, Vec<String>>,
        legacy_sms: &BTreeMap<String, Vec<String>>,
    ) -> Self {
        let mut merged = lines.clone();
        let mut legacy = Vec::new();
        for (from_sms, map) in [(false, legacy_call), (true, legacy_sms)] {
            for (id, numbers) in map {
                let line = merged.entry(id.clone()).or_insert_with(|| {
                    legacy.push(id.clone());
                    LineConfig {
                        name: id.clone(),
                        ..LineConfig::default()
                    }
                });
                let list = if from_sms {
                    &mut line.sms_numbers
                } else {
                    &mut line.numbers
                };
                for n in numbers {
                    if !list.contains(n) {
                        list.push(n.clone());
                    }
                }
            }
        }
        let call: BTreeMap<String, Vec<String>> = merged
            .iter()
            .map(|(id, l)| (id.clone(), l.numbers.clone()))
            .collect();
        let sms: BTreeMap<String, Vec<String>> = merged
            .iter()
            .map(|(id, l)| {
                // The SMS short number of a line is usually its id (12345): count it, as the
                // call lookup does, when the id is a number.
                let mut numbers = l.sms_numbers.clone();
                if id.bytes().all(|b| b.is_ascii_digit()) && !numbers.contains(id) {
                    numbers.push(id.clone());
                }
                (id.clone(), numbers)
            })
            .collect();
        legacy.sort();
        legacy.dedup();
        Registry {
            call: intake_call::Lines::new(&call),
            sms: intake_sms::Lines::new(&sms),
            lines: merged,
            legacy,
        }
    }

    /// The line `id`, when configured.
    pub fn get(&self, id: &str) -> Option<&LineConfig> {
        self.lines.get(id)
    }

    /// Every line, by id.
    pub fn lines(&self) -> impl Iterator<Item = (&str, &LineConfig)> {
        self.lines.iter().map(|(id, l)| (id.as_str(), l))
    }

    /// The call adapter's lookup of dialed numbers.
    pub fn call_lines(&self) -> &intake_call::Lines {
        &self.call
    }

    /// The SMS adapter's lookup of destination numbers.
    pub fn sms_lines(&self) -> &intake_sms::Lines {
        &self.sms
    }

    /// Ids only the deprecated per-channel maps name.
    pub fn legacy_only(&self) -> &[String] {
        &self.legacy
    }

    /// The merged registry, for `check-config`.
    pub fn views(&self) -> Vec<LineView<'_>> {
        self.lines
            .iter()
            .map(|(id, line)| LineView { id, line })
            .collect()
    }
}

/// The startup warnings for the deprecated maps: each names its replacement.
pub fn deprecation_warnings(
    legacy_call: &BTreeMap<String, Vec<String>>,
    legacy_sms: &BTreeMap<String, Vec<String>>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (key, field, map) in [
        ("channels.call.lines", "numbers", legacy_call),
        ("channels.sms.lines", "sms_numbers", legacy_sms),
    ] {
        if !map.is_empty() {
            let ids: Vec<&str> = map.keys().map(String::as_str).collect();
            out.push(format!(
                "{key} is deprecated and will be removed in the next release: move its numbers to `{field}` of [lines.<id>] (ids: {})",
                ids.join(", ")
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(name: &str, numbers: &[&str], sms: &[&str], desk: Option<&str>) -> LineConfig {
        LineConfig {
            name: name.into(),
            numbers: numbers.iter().map(|s| s.to_string()).collect(),
            sms_numbers: sms.iter().map(|s| s.to_string()).collect(),
            desk: desk.map(Into::into),
            ..LineConfig::default()
        }
    }

    #[test]
    fn merged_with_the_old_maps() {
        let lines = BTreeMap::from([
            (
                "12343".to_string(),
                line("州长热线", &["043312343"], &[], None),
            ),
            (
                "hunchun_arrears".to_string(),
                line(
                    "珲春民营清欠举报",
                    &["04337512345"],
                    &["1069012345601"],
                    Some("arrears"),
                ),
            ),
        ]);
        let call = BTreeMap::from([("12328".to_string(), vec!["043312328".to_string()])]);
        let sms = BTreeMap::from([("12343".to_string(), vec!["1069012343".to_string()])]);
        let r = Registry::new(&lines, &call, &sms);
        assert_eq!(
            r.call_lines().resolve("+8643312343").as_deref(),
            Some("12343")
        );
        assert_eq!(r.call_lines().resolve("12328").as_deref(), Some("12328"));
        assert_eq!(
            r.call_lines().resolve("0433-7512345").as_deref(),
            Some("hunchun_arrears")
        );
        assert_eq!(
            r.sms_lines().resolve("106901234301").as_deref(),
            Some("12343")
        );
        assert_eq!(r.sms_lines().resolve("12343").as_deref(), Some("12343"));
        assert_eq!(
            r.sms_lines().resolve("10690123456019").as_deref(),
            Some("hunchun_arrears")
        );
        assert_eq!(r.legacy_only(), ["12328"]);
        assert_eq!(r.get("12328").unwrap().name, "12328");
        assert_eq!(deprecation_warnings(&call, &sms).len(), 2);
        assert!(deprecation_warnings(&call, &sms)[0].contains("[lines.<id>]"));
    }
}
