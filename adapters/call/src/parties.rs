//! Who called, who was called, and which hotline the citizen meant.
//!
//! Every dialect reports the same SIP facts under its own names; they are gathered into
//! [`Parties`] and turned into state fields here, once, so the precedence rules cannot
//! drift apart between dialects.

use intake_adapter::phone;

use crate::sip;
use crate::state::{CallState, Direction};
use crate::Lines;

/// The raw identity facts of one call, as header values or plain numbers.
#[derive(Debug, Default)]
pub(crate) struct Parties<'a> {
    /// P-Asserted-Identity value(s).
    pub pai: Option<&'a str>,
    /// The From user or caller-id number.
    pub from: Option<&'a str>,
    /// History-Info value(s).
    pub history_info: Option<&'a str>,
    /// Diversion value(s).
    pub diversion: Option<&'a str>,
    /// P-Called-Party-ID value.
    pub called_party: Option<&'a str>,
    /// The To user.
    pub to: Option<&'a str>,
    /// The Request-URI user (where the call was delivered).
    pub request_uri: Option<&'a str>,
}

impl Parties<'_> {
    /// Fills caller, callee, line and dialed number of `state`.
    ///
    /// The caller is P-Asserted-Identity when `trusted_pai` and present, else From. The
    /// dialed number is the first of History-Info `index=1`, the bottom Diversion entry,
    /// P-Called-Party-ID, To and Request-URI; the line is the first of those that resolves
    /// through `lines` (a carrier may put a routing number first). For an outbound call the
    /// hotline is the calling side, so the line comes from the caller.
    pub(crate) fn fill(&self, state: &mut CallState, trusted_pai: bool, lines: &Lines) {
        let asserted = if trusted_pai {
            self.pai.and_then(sip::first_uri).and_then(phone::normalize)
        } else {
            None
        };
        state.caller = asserted.or_else(|| self.from.and_then(phone::normalize));
        state.callee = [self.request_uri, self.to]
            .into_iter()
            .flatten()
            .find_map(number);
        if state.direction == Some(Direction::Outbound) {
            // A callback: the hotline is the calling side and the citizen dialed nothing.
            state.dialed_number = None;
            state.line = state.caller.as_deref().and_then(|n| lines.resolve(n));
            return;
        }
        let candidates = self.dialed_candidates();
        state.dialed_number = candidates.first().cloned();
        state.line = candidates.iter().find_map(|n| lines.resolve(n));
    }

    /// The dialed-number candidates, most original first, normalized.
    fn dialed_candidates(&self) -> Vec<String> {
        [
            self.history_info.and_then(sip::history_info_original),
            self.diversion.and_then(sip::diversion_original),
            self.called_party.and_then(sip::first_uri),
            self.to,
            self.request_uri,
        ]
        .into_iter()
        .flatten()
        .filter_map(number)
        .collect()
    }
}

/// A dialed number, normalized; dialplan names without digits (`s`, `h`) are not numbers.
fn number(raw: &str) -> Option<String> {
    phone::normalize(raw).filter(|n| n.bytes().any(|b| b.is_ascii_digit()))
}

/// `Some(text)` when `text` has something besides whitespace; PBXes send empty strings for
/// absent headers.
pub(crate) fn present(text: Option<&str>) -> Option<&str> {
    text.map(str::trim).filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn lines() -> Lines {
        let mut map = BTreeMap::new();
        map.insert("12328".to_string(), vec!["043312328".to_string()]);
        map.insert("12345".to_string(), vec!["043312345".to_string()]);
        Lines::new(&map)
    }

    #[test]
    fn diverted_call_keeps_the_dialed_line() {
        let p = Parties {
            pai: Some("<tel:+8613812345678>"),
            from: Some("13900000000"),
            history_info: Some("<sip:12328@sbc>;index=1,<sip:12345@pbx>;index=1.1"),
            diversion: Some("<sip:12345@pbx>;reason=unconditional"),
            to: Some("12345"),
            request_uri: Some("12345"),
            ..Parties::default()
        };
        let mut s = CallState::new("c", "call:x");
        p.fill(&mut s, true, &lines());
        assert_eq!(s.caller.as_deref(), Some("+8613812345678"));
        assert_eq!(s.callee.as_deref(), Some("12345"));
        assert_eq!(s.line.as_deref(), Some("12328"));
        p.fill(&mut s, false, &lines());
        assert_eq!(s.caller.as_deref(), Some("+8613900000000"));
    }

    #[test]
    fn unknown_first_candidate_falls_through_and_outbound_uses_caller() {
        let p = Parties {
            diversion: Some("<sip:95000@carrier>"),
            to: Some("043312345"),
            from: Some("anonymous"),
            ..Parties::default()
        };
        let mut s = CallState::new("c", "call:x");
        p.fill(&mut s, true, &lines());
        assert_eq!((s.caller, s.line.as_deref()), (None, Some("12345")));
        assert_eq!(s.dialed_number.as_deref(), Some("95000"));
        let out = Parties {
            from: Some("12328"),
            to: Some("13812345678"),
            ..Parties::default()
        };
        let mut s = CallState::new("c", "call:x");
        s.direction = Some(Direction::Outbound);
        out.fill(&mut s, true, &lines());
        assert_eq!(s.line.as_deref(), Some("12328"));
        assert_eq!(s.callee.as_deref(), Some("+8613812345678"));
    }
}
