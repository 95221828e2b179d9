//! Desks, tags and priority at intake: the line reached, the IVR choice, the keyword rules and
//! the post's own fields, turned into the record's `routing` block.
//!
//! Everything here is a hint for the dispatcher: routing never rejects, delays or drops a
//! request. The rules are compiled once at startup ([`Router::new`]); routing a record scans its
//! title and text once.

pub mod config;
pub mod defaults;
pub mod registry;
pub mod rules;

use intake_schema::{IntakeRequest, Language, Routing};
use std::collections::BTreeMap;

use config::{DesksConfig, IvrDesk, LineConfig, RulesConfig, UrgentConfig};
use registry::Registry;
use rules::{fold, Rules};

/// The registry, the IVR desks, the compiled rules and the urgent advice.
#[derive(Debug)]
pub struct Router {
    registry: Registry,
    ivr: BTreeMap<String, IvrDesk>,
    rules: Rules,
    advice: BTreeMap<String, String>,
}

impl Router {
    /// Builds the router from the configuration sections (already validated).
    pub fn new(
        registry: Registry,
        desks: &DesksConfig,
        rules: &RulesConfig,
        urgent: &UrgentConfig,
    ) -> Result<Self, String> {
        let mut all = if rules.defaults {
            defaults::rules()
        } else {
            Vec::new()
        };
        all.extend(rules.matches.iter().cloned());
        Ok(Router {
            registry,
            ivr: desks.ivr.clone(),
            rules: Rules::compile(&all)?,
            advice: urgent.advice.clone(),
        })
    }

    /// A router with the shipped rules and nothing configured (tests, tools).
    pub fn with_defaults() -> Self {
        Router::new(
            Registry::default(),
            &DesksConfig::default(),
            &RulesConfig::default(),
            &UrgentConfig::default(),
        )
        .expect("the shipped rules compile")
    }

    /// The merged line registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The configured line `id`.
    pub fn line(&self, id: &str) -> Option<&LineConfig> {
        self.registry.get(id)
    }

    /// Fills `record.routing` (keeping what the adapter already set, e.g. a post's category).
    pub fn route(&self, record: &mut IntakeRequest) {
        let mut routing = record.routing.take().unwrap_or_else(Routing::general);
        if let Some(id) = record.source.line.as_deref() {
            if let Some(line) = self.registry.get(id) {
                let by = ["line:", id].concat();
                routing.line_name = Some(line.name.clone());
                if let Some(desk) = &line.desk {
                    suggest_desk(&mut routing, desk, &by);
                }
                for tag in &line.tags {
                    routing.tag(tag, &by);
                }
            }
        }
        if let Some(digits) = record.call.as_ref().and_then(|c| c.ivr.as_deref()) {
            if let Some(choice) = self.ivr.get(digits) {
                let by = ["ivr:", digits].concat();
                suggest_desk(&mut routing, &choice.desk, &by);
                let language = match choice.language.as_deref() {
                    Some("ko") => Some(Language::Ko),
                    Some("zh") => Some(Language::Zh),
                    _ => None,
                };
                if let (Some(language), true) = (language, record.content.text.trim().is_empty()) {
                    record.content.language = language;
                    routing.note("language", choice.language.as_deref().unwrap_or(""), &by);
                }
            }
        }
        if !self.rules.is_empty() {
            let folded = match &record.content.title {
                // `concat`, not `format!`: every web post has a title, and the formatting
                // machinery was about 1,500 instructions of a request (callgrind).
                Some(title) => fold(&[title.as_str(), "\n", &record.content.text].concat()),
                None => fold(&record.content.text),
            };
            if !folded.is_empty() {
                for hit in self.rules.matches(&folded) {
                    for tag in hit.tags {
                        routing.tag(tag, hit.by);
                    }
                    if let Some(desk) = hit.desk {
                        suggest_desk(&mut routing, desk, hit.by);
                    }
                    if hit.urgent {
                        routing.set_urgent(hit.by);
                    }
                }
            }
        }
        record.routing = Some(routing);
    }

    /// The advice added to an urgent request's acknowledgement in `language` (Chinese when the
    /// language is unknown or mixed); `None` when none is configured.
    pub fn advice(&self, language: Language) -> Option<&str> {
        let key = match language {
            Language::Ko => "ko",
            _ => "zh",
        };
        self.advice
            .get(key)
            .map(String::as_str)
            .filter(|a| !a.is_empty())
    }

    /// The acknowledgement `text` with the urgent advice appended when `record` is urgent.
    pub fn acknowledgement(&self, record: &IntakeRequest, text: &str) -> String {
        match (
            record.routing.as_ref().is_some_and(Routing::is_urgent),
            self.advice(record.content.language),
        ) {
            (true, Some(advice)) if !text.contains(advice) => [text, advice].concat(),
            _ => text.to_string(),
        }
    }
}

/// The first specific desk wins (line, then IVR, then the post's fields, then rules, in that
/// order); a later suggestion of another desk is kept as a tag, so nothing is lost.
fn suggest_desk(routing: &mut Routing, desk: &str, by: &str) {
    if routing.desk == Routing::GENERAL {
        routing.set_desk(desk, by);
    } else if routing.desk != desk {
        routing.tag(desk, by);
    }
}

#[cfg(test)]
mod tests;
