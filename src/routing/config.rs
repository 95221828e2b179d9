//! `[lines.*]`, `[desks.*]`, `[rules]` and `[urgent]`: the merged hotlines, the desks and the
//! intake rules, as configured.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::config::names::check_name;

/// `[lines.<id>]`: one of the merged hotlines. `<id>` is what `source.line` carries.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineConfig {
    /// The line's name, in Chinese (市长热线, 营商环境投诉专线...).
    pub name: String,
    /// The name in Korean, for the Korean-speaking desk and screens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_ko: Option<String>,
    /// The name in English.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_en: Option<String>,
    /// Phone numbers that reach it, any spelling (`12343`, `043312343`, `+8643312343`,
    /// `sip:12343@sbc`); the id counts as one of them when it is a number.
    #[serde(default)]
    pub numbers: Vec<String>,
    /// SMS service numbers and extension codes that reach it (longest prefix wins).
    #[serde(default)]
    pub sms_numbers: Vec<String>,
    /// The desk its requests go to (e.g. `arrears`); unset: `general`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desk: Option<String>,
    /// Tags every request of the line carries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// `[desks]`
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DesksConfig {
    /// `[desks.ivr."<digits>"]`: the desk (and language) an IVR choice stands for.
    pub ivr: BTreeMap<String, IvrDesk>,
}

/// `[desks.ivr."<digits>"]`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IvrDesk {
    /// The desk, e.g. `korean`.
    pub desk: String,
    /// The caller's language (`zh` or `ko`), used as `content.language` of a call without text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

/// `[rules]`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RulesConfig {
    /// Use the shipped Chinese and Korean rules (desks, the epidemic tag, urgent) besides the
    /// configured ones; `false` turns them off.
    pub defaults: bool,
    /// `[[rules.match]]`: the configured rules, tried after the shipped ones.
    #[serde(rename = "match")]
    pub matches: Vec<MatchRule>,
}

impl Default for RulesConfig {
    fn default() -> Self {
        RulesConfig {
            defaults: true,
            matches: Vec::new(),
        }
    }
}

/// `[[rules.match]]`: words looked for in title + text (case and spaces ignored).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchRule {
    /// A name for `routing.reasons` (`rule:<name>`); unset: `match<N>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Matches when any of these words occurs...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub any: Vec<String>,
    /// ...and all of these occur...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub all: Vec<String>,
    /// ...and none of these does (a fire *hazard* or a fire *drill* is no fire in progress).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub none: Vec<String>,
    /// Tags it adds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// The desk it suggests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desk: Option<String>,
    /// `urgent` makes the request urgent; `normal` (the default) leaves the priority alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<intake_schema::Priority>,
}

/// `[urgent]`: what the citizen is told when their request looks urgent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UrgentConfig {
    /// Advice added to the WeChat and SMS acknowledgement, by language (`zh`, `ko`); empty
    /// turns the advice off for that language.
    pub advice: BTreeMap<String, String>,
}

impl Default for UrgentConfig {
    fn default() -> Self {
        UrgentConfig {
            advice: BTreeMap::from([
                (
                    "zh".to_string(),
                    "如遇紧急危险请立即拨打110/119/120。".to_string(),
                ),
                (
                    "ko".to_string(),
                    "긴급한 위험이 있으면 즉시 110/119/120에 전화하십시오.".to_string(),
                ),
            ]),
        }
    }
}

/// Desk names and tags are identifiers consumers route on: short, no spaces or controls.
pub fn check_label(section: &str, label: &str) -> Result<(), String> {
    if label.is_empty()
        || label.chars().count() > 32
        || label.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(format!(
            "{section}: {label:?} must be 1 to 32 characters without spaces"
        ));
    }
    Ok(())
}

/// Checks the four sections together.
pub fn validate(
    lines: &BTreeMap<String, LineConfig>,
    desks: &DesksConfig,
    rules: &RulesConfig,
    urgent: &UrgentConfig,
) -> Result<(), String> {
    for (id, line) in lines {
        check_name("lines", id)?;
        if line.name.trim().is_empty() {
            return Err(format!("lines.{id}.name must not be empty"));
        }
        if let Some(desk) = &line.desk {
            check_label(&format!("lines.{id}.desk"), desk)?;
        }
        for tag in &line.tags {
            check_label(&format!("lines.{id}.tags"), tag)?;
        }
    }
    for (digits, d) in &desks.ivr {
        if intake_call::ivr_digits(Some(digits)).as_deref() != Some(digits.as_str()) {
            return Err(format!(
                "desks.ivr.{digits:?}: the key must be the keypad digits (0-9, *, #)"
            ));
        }
        check_label(&format!("desks.ivr.{digits:?}.desk"), &d.desk)?;
        if let Some(l) = &d.language {
            if !["zh", "ko"].contains(&l.as_str()) {
                return Err(format!(
                    "desks.ivr.{digits:?}.language must be zh or ko, not {l:?}"
                ));
            }
        }
    }
    for (i, rule) in rules.matches.iter().enumerate() {
        let at = format!("rules.match[{i}]");
        if rule.any.is_empty() && rule.all.is_empty() {
            return Err(format!("{at}: give `any` or `all` words"));
        }
        if rule
            .any
            .iter()
            .chain(&rule.all)
            .chain(&rule.none)
            .any(|w| w.trim().is_empty())
        {
            return Err(format!("{at}: empty words match everything"));
        }
        if rule.tags.is_empty() && rule.desk.is_none() && rule.priority.is_none() {
            return Err(format!("{at}: sets nothing (give tags, desk or priority)"));
        }
        if let Some(desk) = &rule.desk {
            check_label(&format!("{at}.desk"), desk)?;
        }
        for tag in &rule.tags {
            check_label(&format!("{at}.tags"), tag)?;
        }
    }
    for lang in urgent.advice.keys() {
        if !["zh", "ko", "en"].contains(&lang.as_str()) {
            return Err(format!("urgent.advice.{lang}: languages are zh, ko and en"));
        }
    }
    Ok(())
}
