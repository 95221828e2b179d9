//! `application/x-www-form-urlencoded` to **bytes**.
//!
//! SMS gateways percent-encode message bytes in the message's own charset (UCS-2 arrives as raw
//! UTF-16BE octets, GBK as GBK). Decoding such a form into UTF-8 strings first, as
//! `form_urlencoded` does, would replace those bytes with U+FFFD before we ever see the coding.

use intake_adapter::AdapterError;
use percent_encoding::percent_decode;

/// A parsed form or query: names as text, values as the exact bytes sent, in order.
#[derive(Clone, Debug, Default)]
pub(crate) struct Form {
    pairs: Vec<(String, Vec<u8>)>,
}

impl Form {
    /// Parses `a=1&b=x+y%20z`: `+` is a space and `%XX` a byte, in names and values alike. A `%`
    /// not followed by two hex digits stays literal, as browsers and gateways treat it.
    pub(crate) fn parse(input: &[u8]) -> Form {
        let pairs = input
            .split(|b| *b == b'&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (name, value) = match pair.iter().position(|b| *b == b'=') {
                    Some(eq) => (&pair[..eq], &pair[eq + 1..]),
                    None => (pair, &b""[..]),
                };
                let name = String::from_utf8_lossy(&unescape(name)).into_owned();
                (name, unescape(value))
            })
            .collect();
        Form { pairs }
    }

    /// Every pair in order.
    pub(crate) fn pairs(&self) -> &[(String, Vec<u8>)] {
        &self.pairs
    }

    /// The first value of `name`, as bytes.
    pub(crate) fn bytes(&self, name: &str) -> Option<&[u8]> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// The first value of `name` as UTF-8 text; a value that is not UTF-8 is malformed (these
    /// are numbers, ids and addresses, never the message text).
    pub(crate) fn text(&self, name: &str) -> Result<Option<String>, AdapterError> {
        self.bytes(name)
            .map(|v| {
                String::from_utf8(v.to_vec())
                    .map_err(|_| AdapterError::Malformed(format!("field {name} is not UTF-8")))
            })
            .transpose()
    }

    /// Like [`Form::text`], but an empty value counts as absent.
    pub(crate) fn non_empty(&self, name: &str) -> Result<Option<String>, AdapterError> {
        Ok(self
            .text(name)?
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty()))
    }

    /// Adds the pairs of `other` whose names this form does not have yet (body fields win over
    /// query fields of the same name).
    pub(crate) fn merge_missing(&mut self, other: Form) {
        for (name, value) in other.pairs {
            if self.bytes(&name).is_none() {
                self.pairs.push((name, value));
            }
        }
    }
}

fn unescape(raw: &[u8]) -> Vec<u8> {
    let spaced: Vec<u8> = raw
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    percent_decode(&spaced).collect()
}

/// The raw query without the pairs named `secret` (the URL token), for audit copies that must
/// never hold a credential. The other pairs keep their exact original encoding.
pub(crate) fn query_without(query: &str, secret: &str) -> String {
    query
        .split('&')
        .filter(|pair| {
            let name = pair.split('=').next().unwrap_or("");
            !name.is_empty() && unescape(name.as_bytes()) != secret.as_bytes()
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_stay_bytes() {
        let form = Form::parse(b"text=%4E%2D%65%87&coding=2&sp=a+b%2Bc&flag&bad=%zz%4");
        assert_eq!(form.bytes("text"), Some(&[0x4E, 0x2D, 0x65, 0x87][..]));
        assert_eq!(form.text("sp").unwrap().as_deref(), Some("a b+c"));
        assert_eq!(form.bytes("flag"), Some(&b""[..]));
        assert_eq!(form.bytes("bad"), Some(&b"%zz%4"[..]));
        assert!(form.text("text").is_err());
        assert!(Form::parse(b"x=%FF").text("x").is_err());
        assert_eq!(form.non_empty("flag").unwrap(), None);
    }

    #[test]
    fn token_is_dropped_from_audit_copies() {
        assert_eq!(
            query_without("token=s3cret&from=%2B86138&to=12345&to%6Ben=x", "token"),
            "from=%2B86138&to=12345"
        );
    }
}
