//! Decoding string content that has escapes.

/// Appends the decoded form of validated string content `raw` (the bytes
/// between the quotes of a string the scanner accepted) to `out`.
///
/// Callers match keys and run detectors on the decoded text, so
/// `"$em\u0061il"` is `$email` and `\u0040` is `@`. Content without a
/// backslash needs no decoding: use it as it is.
pub fn unescape(raw: &[u8], out: &mut String) {
    let mut i = 0;
    while i < raw.len() {
        let Some(off) = memchr::memchr(b'\\', &raw[i..]) else {
            out.push_str(&String::from_utf8_lossy(&raw[i..]));
            return;
        };
        out.push_str(&String::from_utf8_lossy(&raw[i..i + off]));
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
}
