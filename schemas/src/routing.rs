//! The `routing` block: which line was reached, which desk and tags the gateway suggests, the
//! priority, and why. Hints for the dispatcher: nothing in it ever rejects or delays a request.

use serde::{Deserialize, Serialize};

/// How fast a request must reach people.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// The ordinary flow of the hotline.
    #[default]
    Normal,
    /// Belongs to the police, fire or ambulance services (国办发〔2022〕12号): danger to life or
    /// property, a crime or disaster in progress. Also published to `kafka.urgent_topic`.
    Urgent,
}

impl Priority {
    /// `normal` or `urgent`, as in the record and the Kafka header.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Normal => "normal",
            Priority::Urgent => "urgent",
        }
    }
}

/// What set one part of the routing block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    /// The field set: `desk`, `tag`, `priority`, `language` or `confidential`.
    pub sets: String,
    /// The value it was set to.
    pub value: String,
    /// What set it: `line:<id>`, `ivr:<digits>`, `rule:<name>`, `field:<name>` (a web or
    /// transfer post's own field) or `default`.
    pub by: String,
}

/// The `routing` block of a request.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Routing {
    /// The name of the line in `source.line` (Chinese), when the line is configured.
    #[serde(default)]
    pub line_name: Option<String>,
    /// The desk suggested: `general`, `korean`, `business_environment`, `arrears`, `epidemic`...
    pub desk: String,
    /// Tags, in the order they were added, without repeats.
    #[serde(default)]
    pub tags: Vec<String>,
    /// `normal` or `urgent`.
    #[serde(default)]
    pub priority: Priority,
    /// Why: one entry per desk, tag, priority or language set.
    #[serde(default)]
    pub reasons: Vec<Reason>,
}

impl Routing {
    /// The desk every request starts with.
    pub const GENERAL: &'static str = "general";

    /// Routing for a request nothing has matched yet: the general desk, normal priority.
    pub fn general() -> Self {
        Routing {
            desk: Self::GENERAL.to_string(),
            ..Routing::default()
        }
    }

    /// Adds `tag` once, noting who added it.
    pub fn tag(&mut self, tag: &str, by: &str) {
        if !self.tags.iter().any(|t| t == tag) {
            self.tags.push(tag.to_string());
            self.note("tag", tag, by);
        }
    }

    /// Sets the desk, noting who set it.
    pub fn set_desk(&mut self, desk: &str, by: &str) {
        if self.desk != desk {
            self.desk = desk.to_string();
            self.note("desk", desk, by);
        }
    }

    /// Raises the priority to urgent (never lowers it), noting who raised it.
    pub fn set_urgent(&mut self, by: &str) {
        if self.priority != Priority::Urgent {
            self.priority = Priority::Urgent;
            self.note("priority", "urgent", by);
        }
    }

    /// Records that `by` set `sets` to `value`.
    pub fn note(&mut self, sets: &str, value: &str, by: &str) {
        self.reasons.push(Reason {
            sets: sets.to_string(),
            value: value.to_string(),
            by: by.to_string(),
        });
    }

    /// True when the request is urgent.
    pub fn is_urgent(&self) -> bool {
        self.priority == Priority::Urgent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_once_and_priority_only_rises() {
        let mut r = Routing::general();
        r.tag("epidemic", "rule:epidemic");
        r.tag("epidemic", "rule:epidemic");
        r.set_desk("arrears", "line:hunchun_arrears");
        r.set_urgent("rule:urgent_fire");
        r.set_urgent("rule:urgent_gas");
        assert_eq!(r.tags, ["epidemic"]);
        assert_eq!(r.reasons.len(), 3);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["priority"], "urgent");
        assert_eq!(json["reasons"][1]["by"], "line:hunchun_arrears");
    }
}
