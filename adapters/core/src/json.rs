//! Guards for JSON bodies, applied before any parser sees them.

use crate::AdapterError;

/// Deepest nesting any channel's JSON legitimately needs (FreeSWITCH CDRs reach about 8).
pub const MAX_JSON_DEPTH: usize = 64;

/// Refuses JSON nested deeper than `max` arrays/objects. serde_json skips unparsed values
/// iteratively without a depth limit, so without this a 10,000-deep array inside a post would
/// be carried (and copied) as a "valid" raw value.
pub fn check_json_depth(text: &str, max: usize) -> Result<(), AdapterError> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for b in text.bytes() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return Err(AdapterError::Malformed(format!(
                        "JSON nested deeper than {max} levels"
                    )));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth() {
        assert!(check_json_depth(r#"{"a":[{"b":"[[[[["}]}"#, 3).is_ok());
        assert!(check_json_depth(r#"{"a":[{"b":[]}]}"#, 3).is_err());
        assert!(check_json_depth(r#""\"[[[[""#, 1).is_ok());
        assert!(check_json_depth(&"[".repeat(100_000), MAX_JSON_DEPTH).is_err());
    }
}
