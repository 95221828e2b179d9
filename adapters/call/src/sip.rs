//! The SIP headers that tell who called and which hotline they dialed.
//!
//! PBXes hand these over as header text: Kamailio as `$hdr()` bodies, FreeSWITCH as channel
//! variables (several header lines joined as `ARRAY::a|:b`). Only the URIs matter here; the
//! numbers inside them are normalized by the caller.

/// The entries of a header value: split at commas outside quotes and `<…>` (a URI may hold a
/// comma in its parameters), with FreeSWITCH's `ARRAY::a|:b` form of repeated headers
/// flattened first. Empty entries are dropped.
pub(crate) fn entries(value: &str) -> Vec<&str> {
    let lines: Vec<&str> = match value.strip_prefix("ARRAY::") {
        Some(rest) => rest.split("|:").collect(),
        None => vec![value],
    };
    let mut out = Vec::new();
    for line in lines {
        let (mut depth, mut quoted, mut start) = (0u32, false, 0usize);
        for (i, c) in line.char_indices() {
            match c {
                '"' => quoted = !quoted,
                '<' if !quoted => depth += 1,
                '>' if !quoted => depth = depth.saturating_sub(1),
                ',' if !quoted && depth == 0 => {
                    out.push(&line[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        out.push(&line[start..]);
    }
    out.into_iter()
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect()
}

/// The URI of one entry: inside `<…>` when bracketed, else up to the first header parameter.
pub(crate) fn uri(entry: &str) -> &str {
    match entry.split_once('<') {
        Some((_, rest)) => rest.split('>').next().unwrap_or(rest).trim(),
        None => entry.split(';').next().unwrap_or(entry).trim(),
    }
}

/// The header parameters of one entry (after `>`, or after the URI when not bracketed).
fn header_params(entry: &str) -> &str {
    match entry.rsplit_once('>') {
        Some((_, params)) => params,
        None => entry.split_once(';').map(|(_, p)| p).unwrap_or(""),
    }
}

/// The value of header parameter `name` of one entry, if present.
fn param<'a>(entry: &'a str, name: &str) -> Option<&'a str> {
    header_params(entry).split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().trim_matches('"'))
    })
}

/// The originally dialed target from a History-Info value (RFC 7044): the entry with
/// `index=1`; failing that, the first entry, which proxies add first.
pub(crate) fn history_info_original(value: &str) -> Option<&str> {
    let all = entries(value);
    all.iter()
        .find(|e| param(e, "index") == Some("1"))
        .or_else(|| all.first())
        .map(|e| uri(e))
        .filter(|u| !u.is_empty())
}

/// The originally dialed target from a Diversion value (RFC 5806): every diverting server
/// adds its entry on top, so the bottom entry names the number the citizen dialed.
pub(crate) fn diversion_original(value: &str) -> Option<&str> {
    entries(value)
        .last()
        .map(|e| uri(e))
        .filter(|u| !u.is_empty())
}

/// The first URI of a header value (P-Asserted-Identity may carry a `sip:` and a `tel:`
/// identity; both name the same party).
pub(crate) fn first_uri(value: &str) -> Option<&str> {
    entries(value)
        .first()
        .map(|e| uri(e))
        .filter(|u| !u.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_info_index_one_wins() {
        let hi = "<sip:12345@10.0.0.2;cause=302?Reason=SIP%3Bcause%3D302>;index=1.1, \
                  <sip:12328@sbc.example.cn;user=phone>;index=1";
        assert_eq!(
            history_info_original(hi),
            Some("sip:12328@sbc.example.cn;user=phone")
        );
        assert_eq!(
            history_info_original("<sip:a@x>;index=2, <sip:b@x>;index=2.1"),
            Some("sip:a@x")
        );
        assert_eq!(history_info_original(""), None);
    }

    #[test]
    fn diversion_bottom_entry_is_the_original() {
        let div = "<sip:12345@pbx>;reason=unconditional;counter=1, \
                   \"Hotline, Transport\" <tel:+8643312328>;reason=user-busy";
        assert_eq!(diversion_original(div), Some("tel:+8643312328"));
        assert_eq!(
            diversion_original("ARRAY::<sip:1@a>;reason=x|:<sip:2@b>;reason=y"),
            Some("sip:2@b")
        );
        assert_eq!(
            diversion_original("sip:3@c;reason=deflection"),
            Some("sip:3@c")
        );
    }

    proptest::proptest! {
        #[test]
        fn header_parsing_never_panics_and_returns_slices(value in "\\PC{0,80}") {
            for found in [
                history_info_original(&value),
                diversion_original(&value),
                first_uri(&value),
            ]
            .into_iter()
            .flatten()
            {
                proptest::prop_assert!(value.contains(found));
            }
        }
    }

    #[test]
    fn first_identity() {
        assert_eq!(
            first_uri("\"Zhang\" <sip:+8613812345678@ims;user=phone>, <tel:+8613812345678>"),
            Some("sip:+8613812345678@ims;user=phone")
        );
        assert_eq!(first_uri(" , "), None);
        assert_eq!(first_uri("<>"), None);
    }
}
