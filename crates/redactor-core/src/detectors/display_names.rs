//! The names that stand beside email addresses: a mail header's display
//! name (`From: "Lee, Ann" <ann@example.com>`, `To: Bob Smith
//! <bob@example.org>`), a commit's author and trailers (`Author: Ann Lee
//! <ann@example.com>`, `Signed-off-by: ...`, `Co-authored-by: ...`) and a
//! package's maintainer, as mail, CI and build logs carry them. The
//! address itself is the email detector's.
//!
//! A display name is what quotes enclose right before the `<` of an
//! address (spaces between), or the words right before it that read as a
//! name: each starts with a capital letter or a letter outside ASCII, or
//! is a particle of a family name (`van`, `de`, ...), at most
//! [`MAX_WORDS`] of them (`Mail sent to <ann@...>` has none). Every byte of
//! a text is looked at a bounded number of times, whatever the text.

use super::line_start;

/// The most words an unquoted display name is read over.
const MAX_WORDS: usize = 6;

/// The longest address (RFC 5321's path limit).
const MAX_ADDRESS_LEN: usize = 256;

/// The lowercase particles of family names (`Mary Ann van der Berg`,
/// `Ana de la Cruz`, `Omar bin Said`).
const PARTICLES: &[&[u8]] = &[
    b"van", b"von", b"der", b"den", b"de", b"da", b"del", b"della", b"di", b"du", b"la", b"le",
    b"bin", b"ibn", b"al", b"y", b"dos", b"das",
];

/// Whether `c` may be in a word of an unquoted display name.
fn is_word_byte(c: u8) -> bool {
    !c.is_ascii_whitespace()
        && !matches!(
            c,
            b'<' | b'>' | b',' | b';' | b':' | b'"' | b'(' | b')' | b'[' | b']' | b'@' | b'='
        )
}

/// Whether `word` reads as a word of a name.
fn is_name_word(word: &[u8]) -> bool {
    word.first()
        .is_some_and(|&c| c.is_ascii_uppercase() || c >= 0x80)
        || PARTICLES.contains(&word)
}

/// Where the address in angle brackets that starts at the `<` at `open`
/// of `b` ends (its `>`), if one does: an `@` before the `>`, no
/// whitespace, at most [`MAX_ADDRESS_LEN`] bytes.
fn address_end(b: &[u8], open: usize) -> Option<usize> {
    let rest = &b[open + 1..b.len().min(open + 1 + MAX_ADDRESS_LEN)];
    let close = memchr::memchr(b'>', rest)?;
    let inner = &rest[..close];
    (inner.contains(&b'@') && !inner.iter().any(|&c| c.is_ascii_whitespace() || c == b'<'))
        .then_some(open + 1 + close)
}

/// The display names of the addresses in angle brackets in `text`.
pub(super) fn find_display_names(text: &str, out: &mut Vec<(usize, usize)>) {
    let b = text.as_bytes();
    // Where the last address read ends: a name does not reach back past it.
    let mut done = 0;
    for open in memchr::memchr_iter(b'<', b) {
        if open < done {
            continue;
        }
        let Some(close) = address_end(b, open) else {
            continue;
        };
        let end = b[done..open]
            .iter()
            .rposition(|&c| c != b' ' && c != b'\t')
            .map_or(done, |i| done + i + 1);
        if end > done && matches!(b[end - 1], b'"' | b'\'') {
            // A quoted name, on its line.
            let line = line_start(b, done, end - 1);
            if let Some(q) = memchr::memrchr(b[end - 1], &b[line..end - 1]) {
                if end - 1 > line + q + 1 {
                    out.push((line + q + 1, end - 1));
                }
            }
        } else {
            // The name's words, back from the address, one space or tab
            // between them.
            let (mut start, mut at) = (end, end);
            for _ in 0..MAX_WORDS {
                let word = b[done..at]
                    .iter()
                    .rposition(|&c| !is_word_byte(c))
                    .map_or(done, |i| done + i + 1);
                if word == at || !is_name_word(&b[word..at]) {
                    break;
                }
                start = word;
                if word == done || !matches!(b[word - 1], b' ' | b'\t') {
                    break;
                }
                at = word - 1;
            }
            if start < end {
                out.push((start, end));
            }
        }
        done = close + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<&str> {
        let mut v = Vec::new();
        find_display_names(text, &mut v);
        v.into_iter().map(|(s, e)| &text[s..e]).collect()
    }

    #[test]
    fn names_beside_addresses() {
        assert_eq!(
            names(
                "commit 1a2b\nAuthor: Ann Lee <ann@example.com>\nDate: Mon\n\
                 From: \"Lee, Ann\" <ann@example.com>\r\nTo: Bob Smith <bob@example.org>, \
                 'Cy' <cy@x.test>,Dee<dee@x.test>\nMaintainer: Mary Ann van der Berg \
                 <m@x.test>\nthanks to Émile Zola <ez@x.test> and Eve  <e@x.test>"
            ),
            [
                "Ann Lee",
                "Lee, Ann",
                "Bob Smith",
                "Cy",
                "Dee",
                "Mary Ann van der Berg",
                "Émile Zola",
                "Eve"
            ]
        );
        // No name; words that do not read as one; not an address.
        for text in [
            "Mail sent to <ann@example.com>",
            "to=<ann@example.com>, from=<bo@x.test>",
            "Ann Lee <not an address>",
            "Ann Lee <ann@x.test",
            "\"\" <ann@x.test>",
            "<ann@x.test>",
        ] {
            assert!(names(text).is_empty(), "{text:?}");
        }
        // At most six words.
        assert_eq!(names("A B C D E F G <g@x.test>"), ["B C D E F G"]);
    }

    #[test]
    fn names_are_what_a_regex_finds() {
        use regex::Regex;
        let address = Regex::new("^<([^>]{0,255})>").unwrap();
        let quoted = Regex::new(r#"(?:"([^"\n\r]*)"|'([^'\n\r]*)')[ \t]*$"#).unwrap();
        let ends_quoted = Regex::new(r#"["'][ \t]*$"#).unwrap();
        let word = r#"[^\t\n\x0C\r <>,;:"()\[\]@=]"#;
        let particles = "van|von|der|den|de|da|del|della|di|du|la|le|bin|ibn|al|y|dos|das";
        let name_word = format!("(?:[A-Z]{word}*|[^\\x00-\\x7F]{word}*|{particles})");
        let unquoted = Regex::new(&format!(
            r#"(?:^|[\t\n\x0C\r <>,;:"()\[\]@=])((?:{name_word}[ \t]){{0,5}}{name_word})[ \t]*$"#
        ))
        .unwrap();
        let pieces = [
            "Ann",
            "Lee",
            "van",
            "de",
            "x",
            " ",
            "  ",
            "\t",
            "\n",
            "<",
            ">",
            "@",
            "a@b",
            "<a@b>",
            "\"",
            "'",
            ",",
            ":",
            "É",
            "é",
            "=",
            "(",
            "A",
            "<a@b.test>",
            " <c@d>",
            "vanx",
            "\r",
            "Ann Bo Cy Dee Eve ",
            "'Ann\r",
        ];
        let texts =
            crate::test_texts::from_pieces(0xd15b_1a7e_0000_0001, 100_000, (1, 12), &pieces);
        let (mut found, mut want, mut any) = (Vec::new(), Vec::new(), 0);
        for t in &texts {
            found.clear();
            find_display_names(t, &mut found);
            want.clear();
            let mut done = 0;
            for (open, _) in t.match_indices('<') {
                if open < done {
                    continue;
                }
                let Some(c) = address.captures(&t[open..]) else {
                    continue;
                };
                let inner = &c[1];
                if !inner.contains('@')
                    || inner.contains(|c: char| c.is_ascii_whitespace() || c == '<')
                {
                    continue;
                }
                let prefix = &t[done..open];
                if ends_quoted.is_match(prefix) {
                    if let Some(c) = quoted.captures(prefix) {
                        let m = c.get(1).or(c.get(2)).unwrap();
                        if !m.is_empty() {
                            want.push((done + m.start(), done + m.end()));
                        }
                    }
                } else if let Some(c) = unquoted.captures(prefix) {
                    let m = c.get(1).unwrap();
                    want.push((done + m.start(), done + m.end()));
                }
                done = open + c.get(0).unwrap().end();
            }
            assert_eq!(found, want, "{t:?}");
            any += usize::from(!want.is_empty());
        }
        assert!(any > 5_000, "{any} texts with names");
    }
}
