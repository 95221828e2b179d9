//! The request as an adapter sees it: borrowed bytes, no HTTP library types.

use chrono::{DateTime, Utc};
use std::borrow::Cow;
use std::net::IpAddr;

/// Case-insensitive header lookup, implemented by the gateway over its HTTP header map and by
/// tests over a slice of pairs.
pub trait Headers {
    /// The value of header `name` (any case), if present and valid text.
    fn get(&self, name: &str) -> Option<&str>;
}

impl Headers for &[(&str, &str)] {
    fn get(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

/// One HTTP request to a hook, borrowed from the gateway.
pub struct Inbound<'a> {
    /// `GET` or `POST`.
    pub method: &'a str,
    /// The raw query string, without `?` (empty when none).
    pub query: &'a str,
    /// The request headers.
    pub headers: &'a dyn Headers,
    /// The body exactly as received; signatures are checked over these bytes.
    pub body: &'a [u8],
    /// The gateway's clock at arrival; adapters never read the clock themselves.
    pub now: DateTime<Utc>,
    /// The peer address (after trusted proxies), for allow lists.
    pub peer: Option<IpAddr>,
    /// The trace id to stamp on records (32 lowercase hex digits).
    pub trace_id: &'a str,
}

/// True when `raw` holds a percent escape or a `+` (a space): only then is it decoded.
fn needs_decoding(raw: &str) -> bool {
    raw.bytes().any(|b| b == b'%' || b == b'+')
}

impl<'a> Inbound<'a> {
    /// The first value of query parameter `name`, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<Cow<'a, str>> {
        // A WeChat push looks up five parameters; decoding every pair of the query for each
        // lookup was a few percent of a request. Keys and values that need no decoding (signatures,
        // timestamps, nonces, openids) are used as they are, borrowed; only escapes are decoded.
        // Cut with memchr: `str::split` and `split_once` with a char pattern set up a searcher
        // per pair, which cost more than the short pairs themselves (callgrind). '&' and '=' are
        // ASCII, so every cut below falls on a char boundary.
        let query = self.query;
        let mut start = 0;
        while start < query.len() {
            let end =
                memchr::memchr(b'&', &query.as_bytes()[start..]).map_or(query.len(), |i| start + i);
            let pair = &query[start..end];
            start = end + 1;
            if pair.is_empty() {
                continue;
            }
            let (raw_key, raw_value) = match memchr::memchr(b'=', pair.as_bytes()) {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, ""),
            };
            if needs_decoding(raw_key) {
                match form_urlencoded::parse(pair.as_bytes()).next() {
                    Some((key, value)) if key == name => return Some(value),
                    _ => continue,
                }
            }
            if raw_key != name {
                continue;
            }
            return if needs_decoding(raw_value) {
                form_urlencoded::parse(pair.as_bytes())
                    .next()
                    .map(|(_, v)| v)
            } else {
                Some(Cow::Borrowed(raw_value))
            };
        }
        None
    }

    /// The media type of the body, lowercased, without parameters (`application/json`).
    pub fn media_type(&self) -> Option<String> {
        self.headers.get("content-type").map(|ct| {
            ct.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
    }

    /// The raw Content-Type header, for the record's audit copy.
    pub fn content_type(&self) -> Option<&'a str> {
        self.headers.get("content-type")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_and_headers() {
        let headers: &[(&str, &str)] = &[("Content-Type", "Application/JSON; charset=utf-8")];
        let inbound = Inbound {
            method: "POST",
            query: "token=a%2Bb&x=1",
            headers: &headers,
            body: b"",
            now: Utc::now(),
            peer: None,
            trace_id: "0",
        };
        assert_eq!(inbound.query_param("token").as_deref(), Some("a+b"));
        assert_eq!(inbound.query_param("y"), None);
        // Encoded keys, empty pairs, a key without a value, and the first of two values.
        let inbound = Inbound {
            query: "&t%6Fken=1&a+b=2&flag&token=3&x==4",
            ..inbound
        };
        assert_eq!(inbound.query_param("token").as_deref(), Some("1"));
        assert_eq!(inbound.query_param("a b").as_deref(), Some("2"));
        assert_eq!(inbound.query_param("flag").as_deref(), Some(""));
        assert_eq!(inbound.query_param("x").as_deref(), Some("=4"));
        assert_eq!(inbound.query_param("t"), None);
        assert_eq!(inbound.media_type().as_deref(), Some("application/json"));
    }

    proptest::proptest! {
        #[test]
        fn query_param_agrees_with_decoding_every_pair(
            query in "[a-c%=&+0-9]{0,24}",
            name in "[a-c +]{0,2}",
        ) {
            let headers: &[(&str, &str)] = &[];
            let inbound = Inbound {
                method: "GET",
                query: &query,
                headers: &headers,
                body: b"",
                now: Utc::now(),
                peer: None,
                trace_id: "0",
            };
            let expected = form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k == name.as_str())
                .map(|(_, v)| v.into_owned());
            proptest::prop_assert_eq!(inbound.query_param(&name).map(Cow::into_owned), expected);
        }
    }
}
