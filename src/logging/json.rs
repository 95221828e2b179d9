//! JSON string escaping for log lines (RFC 8259 §7), shared by the line format and the request
//! log context.

use std::fmt::{self, Write as _};

/// `value` as a JSON string, into any writer.
pub(super) fn write_string<W: fmt::Write + ?Sized>(out: &mut W, value: &str) -> fmt::Result {
    out.write_char('"')?;
    Escaped(out).write_str(value)?;
    out.write_char('"')
}

/// Escapes what it is given for the inside of a JSON string (RFC 8259 §7).
pub(super) struct Escaped<'a, W: fmt::Write + ?Sized>(pub(super) &'a mut W);

impl<W: fmt::Write + ?Sized> fmt::Write for Escaped<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // Nearly every value (ids, names, numbers as text) needs no escape: one pass that the
        // compiler can vectorize (no early exit) and one write, instead of a branch per byte.
        let plain = !s.bytes().fold(false, |seen, b| {
            seen | (b < 0x20) | (b == b'"') | (b == b'\\')
        });
        if plain {
            return self.0.write_str(s);
        }
        let mut start = 0;
        for (i, b) in s.bytes().enumerate() {
            let escape = match b {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0..=0x1f => "",
                _ => continue,
            };
            self.0.write_str(&s[start..i])?;
            if escape.is_empty() {
                write!(self.0, "\\u{b:04x}")?;
            } else {
                self.0.write_str(escape)?;
            }
            start = i + 1;
        }
        self.0.write_str(&s[start..])
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn strings_are_escaped_only_where_json_needs_it() {
        let mut out = String::new();
        super::write_string(&mut out, "plain 路灯 가로등").unwrap();
        super::write_string(&mut out, "a\"b\\c\nd\u{1}").unwrap();
        assert_eq!(out, r#""plain 路灯 가로등""a\"b\\c\nd\u0001""#);
    }
}
