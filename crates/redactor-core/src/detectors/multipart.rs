//! The fields of `multipart/form-data` bodies written into text, as
//! request logs, error reports and HTTP debug output carry a form posted
//! with a file input or by a mobile client:
//!
//! ```text
//! --boundary
//! Content-Disposition: form-data; name="password"
//!
//! hunter2
//! --boundary--
//! ```
//!
//! A part's name is its `Content-Disposition` header's `name="..."`; its
//! value runs from after the blank line that ends its headers to the line
//! break before the next line that starts with `--` (a boundary), or to the
//! end of a text cut short. A file's part (with a `filename=`) is not read.
//! Line breaks are CR LF, LF or CR, also written as the escapes `\r\n`,
//! `\n` and `\r` (as a body printed as a Python bytes literal or a quoted
//! string shows them).
//! Every byte of a text is looked at a bounded number of times, whatever
//! the text.

use super::{Profile, C_COLON_OR_EQUALS, C_DASH};
use redactor_scan::census;
use std::sync::OnceLock;

/// The shortest part with a value: `form-data; name="a"\n\nx`.
const MULTIPART_MIN_LEN: usize = 24;

/// The most header lines of a part read after its `Content-Disposition`
/// (`Content-Type`, `Content-Transfer-Encoding`, ...).
const MAX_HEADERS: usize = 4;

/// Whether a text of `len` bytes with profile `p` may hold a part these
/// finders read: an `=`, a `-` and a quote.
#[inline(always)]
pub(super) fn may_hold_multipart(len: usize, p: Profile) -> bool {
    len >= MULTIPART_MIN_LEN
        && p.has(C_COLON_OR_EQUALS)
        && p.has(C_DASH)
        && p.marks & census::QUOTE_OR_BRACKET != 0
}

/// The length of the line break at `b[i..]`: CR LF, LF or CR, or the
/// escapes `\r\n`, `\n` and `\r`; 0 when none starts there.
fn line_break(b: &[u8], i: usize) -> usize {
    match &b[i..] {
        [b'\r', b'\n', ..] => 2,
        [b'\n' | b'\r', ..] => 1,
        [b'\\', b'r', b'\\', b'n', ..] => 4,
        [b'\\', b'n' | b'r', ..] => 2,
        _ => 0,
    }
}

/// The next line break at or after `i` of `b`: where it starts and its
/// length.
fn next_break(b: &[u8], i: usize) -> Option<(usize, usize)> {
    let mut at = i;
    while let Some(k) = memchr::memchr3(b'\r', b'\n', b'\\', &b[at..]) {
        let k = at + k;
        let len = line_break(b, k);
        if len > 0 {
            return Some((k, len));
        }
        at = k + 1;
    }
    None
}

/// The searcher for the disposition that starts a form's part.
fn form_data() -> &'static memchr::memmem::Finder<'static> {
    static FINDER: OnceLock<memchr::memmem::Finder<'static>> = OnceLock::new();
    FINDER.get_or_init(|| memchr::memmem::Finder::new(b"form-data;"))
}

/// The values of the parts of `multipart/form-data` bodies in `text` whose
/// names `is_name` accepts.
pub(super) fn find_values(text: &str, is_name: fn(&[u8]) -> bool, out: &mut Vec<(usize, usize)>) {
    let b = text.as_bytes();
    let mut done = 0;
    for at in form_data().find_iter(b) {
        if at < done {
            continue;
        }
        // The disposition's parameters, to the end of its line.
        let params = at + b"form-data;".len();
        let Some((line_end, len)) = next_break(b, params) else {
            continue;
        };
        let line = &b[params..line_end];
        let Some(name) = parameter(line, b"name") else {
            continue;
        };
        if parameter(line, b"filename").is_some() || !is_name(name) {
            continue;
        }
        // The part's other headers, then the blank line.
        let mut i = line_end + len;
        let mut start = None;
        for _ in 0..=MAX_HEADERS {
            let blank = line_break(b, i.min(b.len()));
            if i < b.len() && blank > 0 {
                start = Some(i + blank);
                break;
            }
            let Some((end, len)) = next_break(b, i) else {
                break;
            };
            if memchr::memchr(b':', &b[i..end]).is_none() {
                break;
            }
            i = end + len;
        }
        let Some(start) = start else {
            continue;
        };
        // The value: to the break before the next boundary.
        let mut end = b.len();
        let mut k = start;
        while let Some((brk, len)) = next_break(b, k) {
            if b[brk + len..].starts_with(b"--") {
                end = brk;
                break;
            }
            k = brk + len;
        }
        if end > start {
            out.push((start, end));
        }
        done = end;
    }
}

/// The value of the parameter `name` of a `Content-Disposition` header's
/// parameters `line` (`; name="first_name"; filename="a.png"`): what its
/// quotes enclose, after a `;` or the start and blanks.
fn parameter<'a>(line: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let mut from = 0;
    while let Some(eq) = memchr::memchr(b'=', &line[from..]) {
        let eq = from + eq;
        from = eq + 1;
        let before = &line[..eq];
        let Some(start) = before.len().checked_sub(name.len()) else {
            continue;
        };
        let named = before[start..].eq_ignore_ascii_case(name)
            && before[..start]
                .iter()
                .rev()
                .find(|&&c| c != b' ' && c != b'\t')
                .is_none_or(|&c| c == b';');
        if named && line.get(eq + 1) == Some(&b'"') {
            let value = &line[eq + 2..];
            return Some(&value[..memchr::memchr(b'"', value).unwrap_or(value.len())]);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::{spans, DetectorKind};

    #[test]
    fn parts_by_their_names() {
        let text = "POST /signup\r\n------b7\r\nContent-Disposition: form-data; name=\"first_name\"\r\n\r\n\
                    Ann\r\n------b7\r\nContent-Disposition: form-data; name=\"password\"\r\n\
                    Content-Type: text/plain; charset=utf-8\r\n\r\ntwo\r\nlines\r\n------b7\r\n\
                    Content-Disposition: form-data; name=\"avatar\"; filename=\"ann.png\"\r\n\r\n\
                    PNG\r\n------b7\r\nContent-Disposition: form-data; name=\"user_id\"\n\nu-42\n--b7--";
        assert_eq!(spans(DetectorKind::PersonalParam, text), ["Ann"]);
        assert_eq!(spans(DetectorKind::Secret, text), ["two\r\nlines"]);
        assert_eq!(spans(DetectorKind::IdParam, text), ["u-42"]);
        // A body printed with its line breaks escaped; cut short.
        let text = "body=b'--x\\r\\nContent-Disposition: form-data; name=\"pwd\"\\r\\n\\r\\nhunter2\\r\\n--x--\\r\\n' \
                    then Content-Disposition: form-data; name=\"password\"\n\nhunt";
        assert_eq!(spans(DetectorKind::Secret, text), ["hunter2", "hunt"]);
        // Another parameter's name; no blank line after the headers.
        for text in [
            "Content-Disposition: form-data; filename=\"password\"\r\n\r\nx",
            "Content-Disposition: form-data; xname=\"password\"\r\n\r\nx",
            "Content-Disposition: form-data; name=\"password\"\r\nnot a header\r\n\r\nx",
            "Content-Disposition: form-data; name=\"password\"",
        ] {
            assert!(spans(DetectorKind::Secret, text).is_empty(), "{text:?}");
        }
    }

    #[test]
    fn parts_are_what_a_regex_finds() {
        use super::super::is_credential_name;
        use super::find_values;
        use regex::Regex;
        // The text cut into lines at its breaks, leftmost first.
        let breaks = Regex::new(r"\r\n|\n|\r|\\r\\n|\\n|\\r").unwrap();
        let name = Regex::new(r#"(?:^|;)[ \t]*(?i:name)="([^"]*)"#).unwrap();
        let filename = Regex::new(r#"(?:^|;)[ \t]*(?i:filename)=""#).unwrap();
        let pieces = [
            "form-data;",
            " name=\"pwd\"",
            "; filename=\"x\"",
            "\r\n",
            "\n",
            "\r",
            "\\r\\n",
            "\\n",
            "\\",
            "--",
            "-",
            "x",
            ":",
            " ",
            "Content-Type: a",
            "=",
            "\"",
            ";",
            "é",
            "name=\"password\"",
            "form-data; name=\"password\"\r\n\r\n",
            "form-data; name=\"pwd\"\n\n",
            "form-data; name=\"pwd\"\\r\\nA: b\\r\\n\\r\\n",
            "\r\n--b",
            "A: b\nA: b\nA: b\nA: b\n",
        ];
        let texts =
            crate::test_texts::from_pieces(0xf0a3_da7a_0000_0001, 100_000, (1, 12), &pieces);
        let (mut found, mut want, mut any) = (Vec::new(), Vec::new(), 0);
        for t in &texts {
            found.clear();
            find_values(t, is_credential_name, &mut found);
            want.clear();
            let brks: Vec<(usize, usize)> =
                breaks.find_iter(t).map(|m| (m.start(), m.end())).collect();
            // The first break at or after `i`.
            let next = |i: usize| brks.iter().copied().find(|&(s, _)| s >= i);
            let mut done = 0;
            for (at, _) in t.match_indices("form-data;") {
                if at < done {
                    continue;
                }
                let params = at + "form-data;".len();
                let Some((line_end, mut i)) = next(params) else {
                    continue;
                };
                let line = &t[params..line_end];
                let Some(c) = name.captures(line) else {
                    continue;
                };
                if filename.is_match(line) || !is_credential_name(c[1].as_bytes()) {
                    continue;
                }
                let mut start = None;
                for _ in 0..=4 {
                    match next(i) {
                        Some((s, e)) if s == i => {
                            start = Some(e);
                            break;
                        }
                        Some((s, e)) if t[i..s].contains(':') => i = e,
                        _ => break,
                    }
                }
                let Some(start) = start else {
                    continue;
                };
                let end = brks
                    .iter()
                    .find(|&&(s, e)| s >= start && t[e..].starts_with("--"))
                    .map_or(t.len(), |&(s, _)| s);
                if end > start {
                    want.push((start, end));
                }
                done = end;
            }
            assert_eq!(found, want, "{t:?}");
            any += usize::from(!want.is_empty());
        }
        assert!(any > 2_000, "{any} texts with values");
    }
}
