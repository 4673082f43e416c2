//! Markup written into text: XML request and response bodies as SOAP
//! clients, API gateways and enterprise service buses log them
//! (`<Password>hunter2</Password>`, `<FirstName>Ann</FirstName>`), and SAML
//! assertions as single sign-on logs carry them (`<saml:NameID>`, an
//! `<saml:Attribute Name="givenName">`'s values).
//!
//! An element's name is read without its namespace prefix (`soap:`,
//! `saml:`); its content is what it holds up to its closing tag, or a
//! `CDATA` section's content, without the spaces and line breaks around
//! it. An element that holds other elements is not one: they are read in
//! turn. A text cut short inside an element's content gives the content to
//! its end. Every byte of a text is looked at a bounded number of times,
//! whatever the text.

use super::{trim_back, trim_forward, Profile};
use redactor_scan::census;

/// The shortest element with content: `<a>x</a>`.
const XML_MIN_LEN: usize = 8;

/// Whether a text of `len` bytes with profile `p` may hold an element
/// these finders read: it has a `<`.
#[inline(always)]
pub(super) fn may_hold_xml(len: usize, p: Profile) -> bool {
    len >= XML_MIN_LEN && p.marks & census::LESS_THAN != 0
}

/// A tag at some `<` of a text.
struct Tag {
    /// Whether it is a closing tag (`</name>`).
    closing: bool,
    /// Its name without a namespace prefix.
    local: (usize, usize),
    /// Its attributes: the bytes between its name and its `>`.
    attributes: (usize, usize),
    /// Where it ends: after its `>`.
    end: usize,
    /// Whether it closes itself (`<name/>`).
    empty: bool,
}

/// Whether `c` may be in an element's name (a namespace prefix's `:`
/// included).
fn is_tag_name_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b':')
}

/// The tag that starts at the `<` at `open` of `b`, if one does: a `<`, a
/// `/` for a closing tag, a name that starts with a letter or `_`, then
/// its `>` right away or after whitespace or a `/` (the attributes), with
/// no `<` before it.
fn tag_at(b: &[u8], open: usize) -> Option<Tag> {
    let closing = b.get(open + 1) == Some(&b'/');
    let start = open + 1 + usize::from(closing);
    if !b
        .get(start)
        .is_some_and(|&c| c.is_ascii_alphabetic() || c == b'_')
    {
        return None;
    }
    let name_end = start
        + b[start..]
            .iter()
            .take_while(|&&c| is_tag_name_byte(c))
            .count();
    let gt = name_end + memchr::memchr2(b'>', b'<', &b[name_end..])?;
    if b[gt] != b'>'
        || (gt > name_end && !(b[name_end].is_ascii_whitespace() || b[name_end] == b'/'))
    {
        return None;
    }
    let local = memchr::memrchr(b':', &b[start..name_end]).map_or(start, |i| start + i + 1);
    Some(Tag {
        closing,
        local: (local, name_end),
        attributes: (name_end, gt),
        end: gt + 1,
        empty: b[gt - 1] == b'/',
    })
}

/// The value of the attribute `name` (any letter case) among the
/// attributes at `b[s..e]`: what the quotes after its `=` enclose.
fn attribute(b: &[u8], (s, e): (usize, usize), name: &[u8]) -> Option<(usize, usize)> {
    for eq in memchr::memchr_iter(b'=', &b[s..e]).map(|i| s + i) {
        // (The byte before the attributes ends the tag's name, and the one
        // after them is its `>`: neither trim passes them.)
        let name_end = trim_back(b, eq);
        let name_start = b[s..name_end]
            .iter()
            .rposition(|&c| !is_tag_name_byte(c))
            .map_or(s, |i| s + i + 1);
        if !b[name_start..name_end].eq_ignore_ascii_case(name) {
            continue;
        }
        let q = trim_forward(b, eq + 1);
        if q < e && matches!(b[q], b'"' | b'\'') {
            let close = memchr::memchr(b[q], &b[q + 1..e]).map_or(e, |i| q + 1 + i);
            return Some((q + 1, close));
        }
    }
    None
}

/// The SAML attribute names that are LDAP's and eduPerson's short names
/// for a person's data, or their object identifiers, as identity providers
/// send them (the names of RFC 4519's and RFC 2798's attribute types and
/// eduPerson's, the identifiers of the SAML X.500/LDAP attribute
/// profile), with the name the detectors know that data by.
const SAML_ALIASES: &[(&[u8], &[u8])] = &[
    (b"sn", b"surname"),
    (b"urn:oid:2.5.4.4", b"surname"),
    (b"urn:oid:2.5.4.42", b"givenname"),
    (b"cn", b"fullname"),
    (b"urn:oid:2.5.4.3", b"fullname"),
    (b"urn:oid:2.16.840.1.113730.3.1.241", b"displayname"),
    (b"mail", b"email"),
    (b"urn:oid:0.9.2342.19200300.100.1.3", b"email"),
    (b"uid", b"userid"),
    (b"urn:oid:0.9.2342.19200300.100.1.1", b"userid"),
    (b"edupersonprincipalname", b"username"),
    (b"urn:oid:1.3.6.1.4.1.5923.1.1.1.6", b"username"),
    (b"telephonenumber", b"phone"),
    (b"urn:oid:2.5.4.20", b"phone"),
    (b"mobile", b"phone"),
    (b"urn:oid:0.9.2342.19200300.100.1.41", b"phone"),
    (b"l", b"city"),
    (b"urn:oid:2.5.4.7", b"city"),
];

/// The name a SAML attribute named `b[s..e]` is read by: its alias
/// ([`SAML_ALIASES`]), whole or by its last segment, otherwise that
/// segment (after the last `/`, `:` or `#`:
/// `http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname` is
/// `givenname`).
fn saml_name(b: &[u8], (s, e): (usize, usize)) -> &[u8] {
    let alias = |name: &[u8]| {
        SAML_ALIASES
            .iter()
            .find(|(a, _)| name.eq_ignore_ascii_case(a))
            .map(|&(_, long)| long)
    };
    let segment = b[s..e]
        .iter()
        .rposition(|&c| matches!(c, b'/' | b':' | b'#'))
        .map_or(s, |i| s + i + 1);
    alias(&b[s..e])
        .or_else(|| alias(&b[segment..e]))
        .unwrap_or(&b[segment..e])
}

/// The content of the elements of `text` whose names (without a namespace
/// prefix) `is_name` accepts; a SAML `AttributeValue`'s by the name of the
/// `Attribute` around it (its `FriendlyName`, otherwise its `Name`, read
/// by [`saml_name`]).
pub(super) fn find_values(text: &str, is_name: fn(&[u8]) -> bool, out: &mut Vec<(usize, usize)>) {
    let b = text.as_bytes();
    let mut done = 0;
    // The name of the SAML attribute whose values come next.
    let mut saml_attribute: Option<&[u8]> = None;
    for open in memchr::memchr_iter(b'<', b) {
        if open < done {
            continue;
        }
        let Some(tag) = tag_at(b, open) else {
            continue;
        };
        let local = &b[tag.local.0..tag.local.1];
        if local.eq_ignore_ascii_case(b"attribute") {
            saml_attribute = match tag.closing || tag.empty {
                true => None,
                false => attribute(b, tag.attributes, b"friendlyname")
                    .or_else(|| attribute(b, tag.attributes, b"name"))
                    .map(|name| saml_name(b, name)),
            };
            continue;
        }
        if tag.closing || tag.empty {
            continue;
        }
        let name = if local.eq_ignore_ascii_case(b"attributevalue") {
            match saml_attribute {
                Some(name) => name,
                None => continue,
            }
        } else {
            local
        };
        if !is_name(name) {
            continue;
        }
        const CDATA: &[u8] = b"<![CDATA[";
        let (s, e, after) = if b[tag.end..].starts_with(CDATA) {
            let s = tag.end + CDATA.len();
            let e = memchr::memmem::find(&b[s..], b"]]>").map_or(b.len(), |i| s + i);
            (s, e, (e + 3).min(b.len()))
        } else {
            let e = memchr::memchr(b'<', &b[tag.end..]).map_or(b.len(), |i| tag.end + i);
            (tag.end, e, e)
        };
        // An element that holds another: that one is read in turn.
        if after < b.len() && !b[after..].starts_with(b"</") {
            continue;
        }
        // The content without the spaces and line breaks around it.
        let s = trim_forward(b, s).min(e);
        let e = trim_back(b, e).max(s);
        if e > s {
            out.push((s, e));
            done = e;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{is_credential_name, spans, DetectorKind};
    use super::*;
    use regex::Regex;

    #[test]
    fn elements_by_their_names() {
        let text = "SOAP request: <soap:Envelope><soap:Body><Login xmlns=\"urn:x\">\
                    <Username>ann</Username><Password> two words\n</Password>\
                    <pwd><![CDATA[a<b]]></pwd><FirstName lang=\"en\">Ann</FirstName>\
                    <user_id>u-42</user_id><city/><zip></zip><Phone><Home>1</Home></Phone>\
                    </Login></soap:Body></soap:Envelope>";
        assert_eq!(spans(DetectorKind::Secret, text), ["two words", "a<b"]);
        assert_eq!(spans(DetectorKind::PersonalParam, text), ["ann", "Ann"]);
        assert_eq!(spans(DetectorKind::IdParam, text), ["u-42"]);
        // A text cut short inside the content.
        assert_eq!(spans(DetectorKind::Secret, "<Password>hunt"), ["hunt"]);
        // Not tags, not these names, mixed content.
        for text in [
            "a < b and <Passwords>x</Passwords>",
            "<p>password: <b>x</b></p> <Password><b>x</b></Password>",
            "< Password>x</Password> <Password/>x <1Password>x</1Password>",
        ] {
            assert!(spans(DetectorKind::Secret, text).is_empty(), "{text:?}");
        }
    }

    #[test]
    fn saml_subjects_and_attributes() {
        let text = "<saml:Assertion><saml:Subject><saml:NameID Format=\"urn:oasis:names:tc:\
                    SAML:1.1:nameid-format:unspecified\">ann.lee</saml:NameID></saml:Subject>\
                    <saml:AttributeStatement><saml:Attribute Name=\"urn:oid:2.5.4.42\" \
                    FriendlyName=\"givenName\"><saml:AttributeValue>Ann</saml:AttributeValue>\
                    </saml:Attribute><saml:Attribute Name=\"http://schemas.xmlsoap.org/ws/2005/\
                    05/identity/claims/surname\"><saml:AttributeValue xsi:type=\"xs:string\">Lee\
                    </saml:AttributeValue><saml:AttributeValue>Li</saml:AttributeValue>\
                    </saml:Attribute><saml:Attribute Name='groups'><saml:AttributeValue>admins\
                    </saml:AttributeValue></saml:Attribute><saml:AttributeValue>x\
                    </saml:AttributeValue></saml:AttributeStatement></saml:Assertion>";
        assert_eq!(spans(DetectorKind::IdParam, text), ["ann.lee"]);
        assert_eq!(
            spans(DetectorKind::PersonalParam, text),
            ["Ann", "Lee", "Li"]
        );
        // LDAP's and eduPerson's names and their object identifiers.
        let text = "<Attribute FriendlyName=\"sn\"><AttributeValue>Lee</AttributeValue></Attribute>\
                    <Attribute Name=\"urn:oid:2.5.4.42\"><AttributeValue>Ann</AttributeValue>\
                    </Attribute><Attribute Name=\"urn:oid:1.3.6.1.4.1.5923.1.1.1.6\">\
                    <AttributeValue>ann@uni</AttributeValue></Attribute>\
                    <Attribute Name=\"x:uid\"><AttributeValue>al7</AttributeValue></Attribute>\
                    <Attribute Name=\"urn:oid:2.5.4.10\"><AttributeValue>Uni</AttributeValue></Attribute>";
        assert_eq!(
            spans(DetectorKind::PersonalParam, text),
            ["Lee", "Ann", "ann@uni"]
        );
        assert_eq!(spans(DetectorKind::IdParam, text), ["al7"]);
    }

    #[test]
    fn elements_are_what_a_regex_finds() {
        const TAG: &str = r"^<(/?)([A-Za-z_][A-Za-z0-9_.:-]*)((?:[\t\n\x0C\r /][^<>]*)?)>";
        let tag = Regex::new(TAG).unwrap();
        let attr = |name: &str| {
            Regex::new(&format!(
                r#"(?i)(?:^|[^A-Za-z0-9_.:-]){name}[\t\n\x0C\r ]*=[\t\n\x0C\r ]*(?:"([^"]*)|'([^']*))"#
            ))
            .unwrap()
        };
        let (friendly, plain) = (attr("friendlyname"), attr("name"));
        let segment = Regex::new("[^/:#]*$").unwrap();
        let cdata = Regex::new(r"^<!\[CDATA\[((?s:.)*?)(?:\]\]>|$)").unwrap();
        let text_content = Regex::new("^[^<]*").unwrap();
        let ws = |c: char| c.is_ascii_whitespace();
        let pieces = [
            "<",
            ">",
            "</",
            "/>",
            "Password",
            "pwd",
            "x",
            " ",
            "\n",
            "saml:",
            "<![CDATA[",
            "]]>",
            "Attribute",
            "AttributeValue",
            " Name=\"givenName\"",
            " FriendlyName='pwd'",
            " Name=\"urn:oid:1#pwd\"",
            "\"",
            "=",
            "é",
            "1",
            ":",
            "/",
            "<Password>",
            "</Password>",
            "<saml:Attribute FriendlyName='pwd'>",
            "<Attribute Name = \"a:pwd\">",
            "</saml:Attribute>",
            "<AttributeValue>",
            "</saml:AttributeValue>",
            "<Attribute Name=\"x\" FriendlyName=\"pwd\">",
            "<Attribute Name=\"urn:oid:2.5.4.4\">",
            "<Attribute FriendlyName=\"sn\">",
        ];
        let texts =
            crate::test_texts::from_pieces(0x0a11_7a65_0000_0001, 100_000, (1, 12), &pieces);
        let (mut found, mut want, mut any) = (Vec::new(), Vec::new(), 0);
        for t in &texts {
            found.clear();
            find_values(t, is_credential_name, &mut found);
            want.clear();
            let (mut done, mut saml) = (0, None::<String>);
            for (open, _) in t.match_indices('<') {
                let Some(c) = (open >= done).then(|| tag.captures(&t[open..])).flatten() else {
                    continue;
                };
                let closing = !c[1].is_empty();
                let local = c[2].rsplit(':').next().unwrap();
                let attrs = &c[3];
                let empty = c[0].ends_with("/>");
                let end = open + c[0].len();
                if local.eq_ignore_ascii_case("attribute") {
                    saml = if closing || empty {
                        None
                    } else {
                        let value = |re: &Regex| {
                            re.captures(attrs)
                                .map(|c| c.get(1).or(c.get(2)).unwrap().as_str().to_string())
                        };
                        value(&friendly).or_else(|| value(&plain)).map(|v| {
                            let alias = |n: &str| {
                                SAML_ALIASES
                                    .iter()
                                    .find(|(a, _)| n.as_bytes().eq_ignore_ascii_case(a))
                                    .map(|(_, l)| String::from_utf8(l.to_vec()).unwrap())
                            };
                            let seg = segment.find(&v).unwrap().as_str();
                            alias(&v).or_else(|| alias(seg)).unwrap_or(seg.to_string())
                        })
                    };
                    continue;
                }
                if closing || empty {
                    continue;
                }
                let name = if local.eq_ignore_ascii_case("attributevalue") {
                    match &saml {
                        Some(n) => n.as_str(),
                        None => continue,
                    }
                } else {
                    local
                };
                if !is_credential_name(name.as_bytes()) {
                    continue;
                }
                let rest = &t[end..];
                let (content, after) = match cdata.captures(rest) {
                    Some(c) => (c.get(1).unwrap(), c.get(0).unwrap().end()),
                    None => {
                        let m = text_content.find(rest).unwrap();
                        (m, m.end())
                    }
                };
                if after < rest.len() && !rest[after..].starts_with("</") {
                    continue;
                }
                let inner = content.as_str();
                let trimmed = inner.trim_start_matches(ws);
                let s = end + content.start() + inner.len() - trimmed.len();
                let trimmed = trimmed.trim_end_matches(ws);
                if !trimmed.is_empty() {
                    want.push((s, s + trimmed.len()));
                    done = s + trimmed.len();
                }
            }
            assert_eq!(found, want, "{t:?}");
            any += usize::from(!want.is_empty());
        }
        assert!(any > 5_000, "{any} texts with values");
    }
}
