//! The XML of WeChat pushes: a flat `<xml>` root whose children hold text or CDATA.
//!
//! The parser is deliberately narrow. Any DTD is refused, so neither external entities (XXE) nor
//! entity bombs (billion laughs) can exist; only XML's five built-in entities and character
//! references are resolved. Depth and element count are bounded so a hostile body costs linear
//! time and bounded memory. Only the root's direct children are kept: WeChat's message fields all
//! live there, and nested blocks of newer events are skipped rather than guessed at.

use intake_adapter::AdapterError;
use quick_xml::events::Event;
use quick_xml::Reader;
use std::borrow::Cow;

/// Deepest nesting accepted; WeChat's deepest push (menu picture events) is 4 levels.
pub const MAX_DEPTH: usize = 8;
/// Most elements accepted in one document; real pushes have a few dozen.
pub const MAX_ELEMENTS: usize = 512;

/// The direct children of the `<xml>` root, in document order, first occurrence of each name.
///
/// Names and values borrow from the parsed body wherever they can (a value is owned only when an
/// entity had to be resolved or it came in several pieces): a push is parsed on every request, and
/// owning each name and value cost two allocations per field, an eighth of a WeChat request's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fields<'a>(Vec<(&'a str, Cow<'a, str>)>);

impl<'a> Fields<'a> {
    /// The text of child `name` (exact case), if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_ref())
    }

    /// The text of child `name` with surrounding whitespace removed, `None` when absent or blank.
    pub fn trimmed(&self, name: &str) -> Option<&str> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty())
    }

    /// True when child `name` is present.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The names of all children, in document order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| *k)
    }

    fn insert(&mut self, name: &'a str, value: Cow<'a, str>) {
        // Keep the first: WeChat never repeats a field, so a repeat is noise, and one fixed rule
        // means every check and every mapping sees the same value.
        if !self.has(name) {
            self.0.push((name, value));
        }
    }
}

fn malformed(why: impl Into<String>) -> AdapterError {
    AdapterError::Malformed(why.into())
}

/// Parses a push body into the children of its `<xml>` root.
pub fn parse(body: &str) -> Result<Fields<'_>, AdapterError> {
    let mut reader = Reader::from_str(body);
    let config = reader.config_mut();
    config.check_end_names = true;
    config.expand_empty_elements = false;

    // A push has a dozen or so fields: room for them up front instead of growing four times.
    let mut fields = Fields(Vec::with_capacity(16));
    let mut depth = 0usize;
    let mut elements = 0usize;
    let mut root_done = false;
    // The child being read, and its text pieces (CDATA flag, text). The pieces borrow from the
    // body where no entity needed resolving, and their list is reused from child to child: a
    // field of one piece then costs no allocation at all.
    let mut current: Option<&str> = None;
    let mut pieces: Vec<(bool, Cow<str>)> = Vec::new();

    loop {
        let event = reader.read_event().map_err(|e| {
            malformed(format!(
                "invalid XML at byte {}: {e}",
                reader.error_position()
            ))
        })?;
        match event {
            Event::DocType(_) => {
                return Err(malformed("DTDs and entity declarations are not accepted"))
            }
            Event::Start(_) | Event::Empty(_) if root_done && depth == 0 => {
                return Err(malformed("content after the root element"));
            }
            Event::Start(start) => {
                elements += 1;
                depth += 1;
                if depth > MAX_DEPTH || elements > MAX_ELEMENTS {
                    return Err(malformed("XML nested too deep or too many elements"));
                }
                let name = element_name(body, start.name().as_ref())?;
                match depth {
                    1 if name != "xml" => return Err(malformed("the root element must be <xml>")),
                    2 => {
                        current = Some(name);
                        pieces.clear();
                    }
                    _ => {}
                }
            }
            Event::Empty(start) => {
                elements += 1;
                if depth + 1 > MAX_DEPTH || elements > MAX_ELEMENTS {
                    return Err(malformed("XML nested too deep or too many elements"));
                }
                let name = element_name(body, start.name().as_ref())?;
                match depth {
                    0 if name == "xml" => root_done = true,
                    0 => return Err(malformed("the root element must be <xml>")),
                    1 => fields.insert(name, Cow::Borrowed("")),
                    _ => {}
                }
            }
            Event::End(_) => {
                if depth == 2 {
                    if let Some(name) = current.take() {
                        fields.insert(name, join_pieces(&mut pieces));
                    }
                }
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    root_done = true;
                }
            }
            Event::Text(text) => {
                let text = text
                    .unescape()
                    .map_err(|e| malformed(format!("bad escape in text: {e}")))?;
                if depth == 2 {
                    if current.is_some() {
                        pieces.push((false, text));
                    }
                } else if depth == 0 && !text.trim().is_empty() {
                    return Err(malformed("text outside the root element"));
                }
            }
            Event::CData(data) => {
                if depth == 2 {
                    let not_utf8 = || AdapterError::Encoding("CDATA is not UTF-8".into());
                    let text = match data.into_inner() {
                        Cow::Borrowed(bytes) => {
                            Cow::Borrowed(std::str::from_utf8(bytes).map_err(|_| not_utf8())?)
                        }
                        Cow::Owned(bytes) => {
                            Cow::Owned(String::from_utf8(bytes).map_err(|_| not_utf8())?)
                        }
                    };
                    if current.is_some() {
                        pieces.push((true, text));
                    }
                } else if depth == 0 {
                    return Err(malformed("CDATA outside the root element"));
                }
            }
            Event::Eof => break,
            // Declarations, comments and processing instructions carry no message data.
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
        }
    }
    if depth != 0 {
        return Err(malformed("unexpected end of XML"));
    }
    if !root_done {
        return Err(malformed("no <xml> root element"));
    }
    Ok(fields)
}

/// The element name `raw` as a slice of `body`, so a field's name costs no allocation.
///
/// quick-xml hands out a start tag's name borrowed from the tag, not from the input, although a
/// reader over a `&str` never copies it: the name's position in `body` is recovered from its
/// address. A name that is not inside `body` (which such a reader never produces) is refused, not
/// guessed at, and `get` keeps the slice on character boundaries.
fn element_name<'a>(body: &'a str, raw: &[u8]) -> Result<&'a str, AdapterError> {
    let start = (raw.as_ptr() as usize).wrapping_sub(body.as_ptr() as usize);
    start
        .checked_add(raw.len())
        .and_then(|end| body.get(start..end))
        .filter(|name| name.as_ptr() == raw.as_ptr())
        .ok_or_else(|| malformed("element name outside the document"))
}

/// Joins the text pieces of one element, leaving `pieces` empty. Pretty-printed pushes put
/// newlines and indentation around a CDATA section; when CDATA is present, whitespace-only text
/// beside it is layout, not content. A lone piece (nearly every field) is passed on as it is.
fn join_pieces<'a>(pieces: &mut Vec<(bool, Cow<'a, str>)>) -> Cow<'a, str> {
    let has_cdata = pieces.iter().any(|(cdata, _)| *cdata);
    pieces.retain(|(cdata, text)| !has_cdata || *cdata || !text.trim().is_empty());
    if pieces.len() <= 1 {
        return pieces.pop().map(|(_, text)| text).unwrap_or_default();
    }
    Cow::Owned(pieces.drain(..).map(|(_, text)| text).collect())
}

/// Writes `text` onto the end of `out` (a reply is assembled in one string) as one or more CDATA
/// sections: a `]]>` inside is split across two sections, and characters XML 1.0 cannot carry at
/// all are dropped so the reply always parses.
pub fn push_cdata(out: &mut String, text: &str) {
    // Replies are rendered on every push: text that needs no cleaning (nearly all) is copied
    // once, not filtered char by char into a new string and then searched again for `]]>`.
    let clean: Cow<str> = if plainly_xml(text) || text.chars().all(is_xml_char) {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(text.chars().filter(|&c| is_xml_char(c)).collect())
    };
    out.push_str("<![CDATA[");
    let mut rest = clean.as_ref();
    while let Some(at) = cdata_end(rest) {
        out.push_str(&rest[..at]);
        out.push_str("]]]]><![CDATA[>");
        rest = &rest[at + 3..];
    }
    out.push_str(rest);
    out.push_str("]]>");
}

/// Where `]]>` starts in `text`: a byte scan for `]` first, since nearly no text has one and a
/// substring search has a setup cost of its own.
fn cdata_end(text: &str) -> Option<usize> {
    if text.contains(']') {
        text.find("]]>")
    } else {
        None
    }
}

/// A byte-wise sufficient test for "every char is an XML char", for the common case. In a `str`
/// the only chars XML 1.0 refuses are C0 controls other than tab, newline and carriage return, and
/// U+FFFE and U+FFFF, whose UTF-8 starts with 0xEF: text with neither kind of byte is clean.
/// (Text with an 0xEF byte, such as Chinese full-width punctuation, takes the exact char test.)
/// Safe mode's base64 `Encrypt` is about a kilobyte, and decoding it char by char was most of
/// rendering an encrypted reply.
fn plainly_xml(text: &str) -> bool {
    text.bytes()
        .all(|b| (b >= 0x20 && b != 0xEF) || matches!(b, b'\t' | b'\n' | b'\r'))
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cdata(text: &str) -> String {
        let mut out = String::new();
        push_cdata(&mut out, text);
        out
    }

    #[test]
    fn cdata_plain_and_entities() {
        let f = parse("<?xml version=\"1.0\"?><xml><A><![CDATA[a <b> &amp;]]></A>\n  <B>x &amp; y &#x4E2D;</B><C/><A>second</A><N><M>deep</M></N></xml>").unwrap();
        assert_eq!(f.get("A"), Some("a <b> &amp;"));
        assert_eq!(f.get("B"), Some("x & y 中"));
        assert_eq!(f.get("C"), Some(""));
        assert_eq!(f.get("N"), Some(""));
        assert_eq!(f.names().collect::<Vec<_>>(), ["A", "B", "C", "N"]);
    }

    #[test]
    fn single_pieces_borrow_from_the_body() {
        let f = parse("<xml><A><![CDATA[文本]]></A><B>x</B><C>a &amp; b</C>\n<D>\n <![CDATA[y]]> </D><E/></xml>")
            .unwrap();
        let owned: Vec<&str> =
            f.0.iter()
                .filter(|(_, v)| matches!(v, Cow::Owned(_)))
                .map(|(k, _)| *k)
                .collect();
        // Only the entity had to be resolved into a string of its own.
        assert_eq!(owned, ["C"]);
        assert_eq!(f.get("D"), Some("y"));
        let elsewhere = String::from("<xml/>");
        assert_eq!(
            element_name(&elsewhere, b"xml").ok(),
            None,
            "a name outside the body"
        );
    }

    #[test]
    fn layout_around_cdata_is_dropped() {
        let f = parse("<xml>\n <Content>\n   <![CDATA[ hi ]]>\n </Content>\n <T> 12 </T></xml>")
            .unwrap();
        assert_eq!(f.get("Content"), Some(" hi "));
        assert_eq!(f.get("T"), Some(" 12 "));
        assert_eq!(f.trimmed("T"), Some("12"));
    }

    #[test]
    fn rejects_dtd_xxe_and_bombs() {
        let xxe = "<?xml version=\"1.0\"?><!DOCTYPE xml [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><xml><Content>&x;</Content></xml>";
        assert!(parse(xxe).is_err());
        let lol = "<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;\">]><xml><A>&lol2;</A></xml>";
        assert!(parse(lol).is_err());
        assert!(
            parse("<xml><A>&lol;</A></xml>").is_err(),
            "unknown entities are not resolved"
        );
        assert!(parse("<xml><!ENTITY a \"b\"><A/></xml>").is_err());
    }

    #[test]
    fn structure_is_enforced() {
        assert!(parse("").is_err());
        assert!(parse("<root/>").is_err());
        assert!(parse("<root><A/></root>").is_err());
        assert!(parse("<xml><A></B></xml>").is_err());
        assert!(parse("<xml><A>").is_err());
        assert!(parse("<xml/><xml/>").is_err());
        assert!(parse("<xml/>trailing").is_err());
        assert!(parse("<xml/>").unwrap().names().next().is_none());
        let deep = format!(
            "<xml>{}{}</xml>",
            "<a>".repeat(MAX_DEPTH),
            "</a>".repeat(MAX_DEPTH)
        );
        assert!(parse(&deep).is_err());
        let wide = format!("<xml>{}</xml>", "<a/>".repeat(MAX_ELEMENTS));
        assert!(parse(&wide).is_err());
    }

    #[test]
    fn four_megabytes_of_nesting_fail_fast() {
        let open = "<a>".repeat(4 * 1024 * 1024 / 3);
        assert!(parse(&format!("<xml>{open}")).is_err());
    }

    #[test]
    fn cdata_escaping() {
        assert_eq!(cdata("a]]>b"), "<![CDATA[a]]]]><![CDATA[>b]]>");
        assert_eq!(cdata("x\u{0}\u{1}y"), "<![CDATA[xy]]>");
        let xml = format!("<xml><C>{}</C></xml>", cdata("]]>]]>x"));
        assert_eq!(parse(&xml).unwrap().get("C"), Some("]]>]]>x"));
    }

    #[test]
    fn the_byte_test_never_passes_what_the_char_test_refuses() {
        for text in [
            "plain ascii, tabs\t and\r\nnewlines",
            "延边州12345热线 연변 12345",
            "中文，全角标点！",
            "\u{FFFD}",
            "\u{FFFE}",
            "x\u{FFFF}y",
            "\u{1}",
            "\u{7F}\u{1F600}",
        ] {
            let exact = text.chars().all(is_xml_char);
            assert!(!plainly_xml(text) || exact, "{text:?}");
        }
        assert!(plainly_xml("延边州12345热线 연변"));
        assert_eq!(
            cdata("中文，全角\u{FFFE}标点"),
            "<![CDATA[中文，全角标点]]>"
        );
        assert_eq!(cdata("a]b]]c"), "<![CDATA[a]b]]c]]>");
    }
}
