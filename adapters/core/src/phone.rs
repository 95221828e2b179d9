//! Phone numbers as Chinese telecom systems write them, normalised to E.164.
//!
//! PBXes, SIP proxies and SMS gateways write the same citizen as `13812345678`, `+8613812345678`,
//! `008613812345678`, `8613812345678`, `tel:+86-138-1234-5678` or `sip:13812345678@10.0.0.1;user=phone`.
//! The platform matches a caller's history by number, so every form must become one string.

/// What a caller-id says when the number is withheld.
const ANONYMOUS: [&str; 6] = [
    "anonymous",
    "restricted",
    "unknown",
    "unavailable",
    "private",
    "withheld",
];

/// Normalises `raw` to E.164 (`+86…`) where the form allows it, keeps short service numbers
/// (12345, 110) and numbers it cannot place as plain digits, and returns `None` for a withheld
/// or empty number.
pub fn normalize(raw: &str) -> Option<String> {
    let mut s = raw.trim();
    if let Some((_, rest)) = s.split_once('<') {
        // "Name" <sip:123@host> display form
        s = rest.trim_end_matches('>');
    }
    for scheme in ["tel:", "sips:", "sip:"] {
        if s.get(..scheme.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(scheme))
        {
            s = &s[scheme.len()..];
        }
    }
    let s = s.split(['@', ';', '>']).next().unwrap_or("");
    if s.is_empty() || ANONYMOUS.iter().any(|a| s.eq_ignore_ascii_case(a)) {
        return None;
    }
    let plus = s.starts_with('+');
    let digits: String = s.chars().filter(|c| c.is_ascii_digit()).collect();
    let visual_only = s
        .chars()
        .all(|c| c.is_ascii_digit() || " +-().".contains(c));
    if digits.is_empty() || !visual_only {
        // Not a number at all (a SIP user name, an alias): keep it, the platform shows it as is.
        return Some(s.to_string());
    }
    // `concat`, not `format!`: one of these runs for nearly every request, and the formatting
    // machinery costs more than the join.
    Some(if plus {
        ["+", &digits].concat()
    } else if let Some(rest) = digits.strip_prefix("00") {
        ["+", rest].concat()
    } else if digits.len() == 13 && digits.starts_with("861") {
        ["+", &digits].concat()
    } else if is_cn_mobile(&digits) {
        ["+86", &digits].concat()
    } else if digits.starts_with('0') && (10..=12).contains(&digits.len()) {
        // Landline with its area code (0433 Yanbian, 010 Beijing): the trunk 0 drops.
        ["+86", &digits[1..]].concat()
    } else {
        digits
    })
}

fn is_cn_mobile(digits: &str) -> bool {
    let b = digits.as_bytes();
    b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1])
}

/// Masks a number for logs and screens: `+8613812345678` -> `+86138****5678`.
pub fn mask(number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    if chars.len() <= 7 {
        return "*".repeat(chars.len());
    }
    let keep_tail = 4;
    let head = chars.len() - keep_tail - 4;
    let mut out: String = chars[..head].iter().collect();
    out.push_str("****");
    out.extend(&chars[chars.len() - keep_tail..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn chinese_forms() {
        for raw in [
            "13812345678",
            "+8613812345678",
            "008613812345678",
            "8613812345678",
            "tel:+86-138-1234-5678",
            "sip:13812345678@10.0.0.1;user=phone",
            "\"Zhang\" <sip:+8613812345678@pbx>",
        ] {
            assert_eq!(normalize(raw).as_deref(), Some("+8613812345678"), "{raw}");
        }
        assert_eq!(normalize("043312345678").as_deref(), Some("+8643312345678"));
        assert_eq!(normalize("12345").as_deref(), Some("12345"));
        assert_eq!(normalize("anonymous"), None);
        assert_eq!(normalize("  "), None);
        assert_eq!(normalize("sip:agent7@pbx").as_deref(), Some("agent7"));
    }

    #[test]
    fn masking() {
        assert_eq!(mask("+8613812345678"), "+86138****5678");
        assert_eq!(mask("13812345678"), "138****5678");
        assert_eq!(mask("12345"), "*****");
    }

    proptest! {
        #[test]
        fn normalize_is_idempotent(raw in "[0-9+ ()-]{0,20}") {
            if let Some(once) = normalize(&raw) {
                prop_assert_eq!(normalize(&once), Some(once.clone()));
            }
        }

        #[test]
        fn never_panics(raw in "\\PC{0,40}") {
            let _ = normalize(&raw);
            let _ = mask(&raw);
        }
    }
}
