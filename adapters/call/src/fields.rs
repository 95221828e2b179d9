//! Flat name/value pairs, whichever way a PBX encoded them: a JSON object, an
//! `application/x-www-form-urlencoded` body or `multipart/form-data` (what `curl --form`
//! sends, as in Zammad's generic CTI examples).

use serde_json::{Map, Value};

/// Upper bound on multipart parts: a call event has about ten fields.
const MAX_PARTS: usize = 256;

/// Name/value pairs in arrival order; a name may repeat (`user[]`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Fields {
    pairs: Vec<(String, String)>,
}

impl Fields {
    /// The pairs of a form-encoded body.
    pub(crate) fn from_form(body: &[u8]) -> Self {
        Fields {
            pairs: form_urlencoded::parse(body).into_owned().collect(),
        }
    }

    /// The scalar members of a JSON object, arrays of scalars as repeated names. Nested
    /// objects are not call fields and are left out.
    pub(crate) fn from_json(object: &Map<String, Value>) -> Self {
        let mut pairs = Vec::new();
        for (name, value) in object {
            match value {
                Value::Array(items) => {
                    pairs.extend(items.iter().filter_map(scalar).map(|v| (name.clone(), v)));
                }
                other => pairs.extend(scalar(other).map(|v| (name.clone(), v))),
            }
        }
        Fields { pairs }
    }

    /// The text parts of a `multipart/form-data` body with `boundary`; file parts are
    /// skipped. `None` when the body is not multipart with that boundary.
    pub(crate) fn from_multipart(body: &[u8], boundary: &str) -> Option<Self> {
        let text = std::str::from_utf8(body).ok()?;
        let delimiter = format!("--{boundary}");
        if boundary.is_empty() || !text.contains(delimiter.as_str()) {
            return None;
        }
        let mut sections = text.split(delimiter.as_str());
        // Whatever precedes the first delimiter is preamble.
        sections.next()?;
        let mut pairs = Vec::new();
        for section in sections.take(MAX_PARTS) {
            if section.starts_with("--") {
                break;
            }
            let section = section
                .strip_prefix("\r\n")
                .or_else(|| section.strip_prefix('\n'))?;
            let (head, value) = section
                .split_once("\r\n\r\n")
                .or_else(|| section.split_once("\n\n"))?;
            let value = value
                .strip_suffix("\r\n")
                .or_else(|| value.strip_suffix('\n'))
                .unwrap_or(value);
            let disposition = head
                .lines()
                .find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))?;
            if disposition_param(disposition, "filename").is_some() {
                continue;
            }
            if let Some(name) = disposition_param(disposition, "name") {
                pairs.push((name.to_string(), value.to_string()));
            }
        }
        Some(Fields { pairs })
    }

    /// The first non-empty value of `name` (also found as `name[]`), trimmed.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| named(k, name))
            .map(|(_, v)| v.trim())
            .find(|v| !v.is_empty())
    }

    /// Every non-empty value of `name` or `name[]`, trimmed, in order.
    #[cfg(test)]
    pub(crate) fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs
            .iter()
            .filter(move |(k, _)| named(k, name))
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// The first non-empty value among `names`, in the order given.
    pub(crate) fn first_of(&self, names: &[&str]) -> Option<&str> {
        names.iter().find_map(|n| self.get(n))
    }
}

/// True when field `key` is `name` or `name[]`.
fn named(key: &str, name: &str) -> bool {
    key == name || key.strip_suffix("[]") == Some(name)
}

/// A JSON scalar as text; `null` and containers are not values.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A parameter of a `Content-Disposition` or `Content-Type` header, unquoted.
pub(crate) fn disposition_param<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().trim_matches('"'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_json_and_multipart_agree() {
        let form = Fields::from_form(b"event=newCall&user%5B%5D=Li&user%5B%5D=Wang&from=%2B86138");
        let json: Value = serde_json::from_str(
            r#"{"event":"newCall","user":["Li","Wang"],"from":"+86138","n":3,"x":null,"o":{}}"#,
        )
        .unwrap_or_default();
        let json = Fields::from_json(json.as_object().unwrap_or(&Map::new()));
        let body = "--XyZ\r\nContent-Disposition: form-data; name=\"event\"\r\n\r\nnewCall\r\n\
                    --XyZ\r\nContent-Disposition: form-data; name=\"user[]\"\r\n\r\nLi\r\n\
                    --XyZ\r\nContent-Disposition: form-data; name=\"user[]\"\r\n\r\nWang\r\n\
                    --XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\n\r\nskip\r\n\
                    --XyZ\r\nContent-Disposition: form-data; name=\"from\"\r\n\r\n+86138\r\n--XyZ--\r\n";
        let multi = Fields::from_multipart(body.as_bytes(), "XyZ").unwrap_or_default();
        for f in [&form, &json, &multi] {
            assert_eq!(f.get("event"), Some("newCall"));
            assert_eq!(f.all("user").collect::<Vec<_>>(), ["Li", "Wang"]);
            assert_eq!(f.first_of(&["nope", "from"]), Some("+86138"));
            assert_eq!(f.get("f"), None);
        }
        assert_eq!(json.get("n"), Some("3"));
        assert!(Fields::from_multipart(b"no delimiter", "XyZ").is_none());
    }
}
