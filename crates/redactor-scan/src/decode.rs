//! Decoding string content that has escapes.

/// Appends the decoded form of validated string content `raw` (the bytes
/// between the quotes of a string the scanner accepted) to `out`.
///
/// Callers match keys and run detectors on the decoded text, so
/// `"$em\u0061il"` is `$email` and `\u0040` is `@`. Content without a
/// backslash needs no decoding: use it as it is.
///
/// Bytes that are not UTF-8 (content the scanner did not accept) become
/// U+FFFD. When the content is known to be text, [`unescape_str`] saves
/// checking it again.
pub fn unescape(raw: &[u8], out: &mut String) {
    match std::str::from_utf8(raw) {
        Ok(text) => unescape_str(text, out),
        Err(_) => unescape_lossy(raw, out),
    }
}

/// [`unescape`] checking each run between escapes on its own: the path of
/// content that is not UTF-8, and the reference [`unescape_str`] is tested
/// against.
fn unescape_lossy(raw: &[u8], out: &mut String) {
    decode(raw, out, |from, to, out| {
        out.push_str(&String::from_utf8_lossy(&raw[from..to]));
    });
}

/// [`unescape`] for content already known to be UTF-8 (a span of a text
/// the scanner accepted, taken from the input as a `&str`): the runs
/// between escapes are copied as they are, without a second check.
pub fn unescape_str(raw: &str, out: &mut String) {
    decode(raw.as_bytes(), out, |from, to, out| {
        // Runs start after an escape and end before a backslash, both ASCII
        // in valid content, so they are whole characters; an escape
        // followed by a multi-byte character (not valid JSON) leaves a run
        // that starts inside one, decoded as `unescape` decodes it.
        match raw.get(from..to) {
            Some(text) => out.push_str(text),
            None => out.push_str(&String::from_utf8_lossy(&raw.as_bytes()[from..to])),
        }
    });
}

/// Decodes `raw`, handing each run of bytes between escapes to `run` as
/// its start and end.
#[inline(always)]
fn decode(raw: &[u8], out: &mut String, run: impl Fn(usize, usize, &mut String)) {
    let mut i = 0;
    while i < raw.len() {
        let Some(off) = crate::bytes::find(&raw[i..], b'\\') else {
            run(i, raw.len(), out);
            return;
        };
        run(i, i + off, out);
        i += off + 1;
        let c = raw.get(i).copied().unwrap_or(b'\\');
        i += 1;
        match c {
            b'b' => out.push('\u{8}'),
            b'f' => out.push('\u{c}'),
            b'n' => out.push('\n'),
            b'r' => out.push('\r'),
            b't' => out.push('\t'),
            b'u' => {
                let hex = |at: usize| {
                    raw.get(at..at + 4)
                        .and_then(|h| std::str::from_utf8(h).ok())
                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                };
                let hi = hex(i).unwrap_or(0xFFFD);
                i += 4;
                let cp = if (0xD800..0xDC00).contains(&hi) && raw.get(i) == Some(&b'\\') {
                    let lo = hex(i + 2).unwrap_or(0);
                    i += 6;
                    0x10000 + ((hi - 0xD800) << 10) + (lo.wrapping_sub(0xDC00) & 0x3FF)
                } else {
                    hi
                };
                out.push(char::from_u32(cp).unwrap_or('\u{FFFD}'));
            }
            other => out.push(other as char),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_every_escape() {
        let mut s = String::new();
        unescape(
            br#"$em\u0061il \"q\" \\ \/ \b\f\n\r\t \u00e9 \ud83d\ude00 plain"#,
            &mut s,
        );
        assert_eq!(s, "$email \"q\" \\ / \u{8}\u{c}\n\r\t é 😀 plain");
    }

    #[test]
    fn text_and_bytes_decode_alike() {
        // Valid content, and content no valid JSON string holds (an escape
        // before a multi-byte character, truncated and lone `\u`, a
        // trailing backslash), every split of a few pieces: the `&str`
        // path must give what the run-by-run checking path gives, without
        // panicking.
        let pieces = [
            "a", "é", "😀", "\\n", "\\\\", "\\u00e9", "\\ud83d", "\\ude00", "\\u12", "\\", "\\é",
            "\\😀", "\\\"", "plain",
        ];
        let mut texts = vec![String::new()];
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    texts.push(format!("{a}{b}{c}"));
                }
            }
        }
        let (mut by_bytes, mut by_text) = (String::new(), String::new());
        for t in &texts {
            by_bytes.clear();
            by_text.clear();
            unescape_lossy(t.as_bytes(), &mut by_bytes);
            unescape_str(t, &mut by_text);
            assert_eq!(by_text, by_bytes, "{t:?}");
        }
        // And bytes that are not UTF-8 still decode, lossily.
        by_bytes.clear();
        unescape(b"a\\n\xff\\u0041", &mut by_bytes);
        assert_eq!(by_bytes, "a\n\u{fffd}A");
    }
}
