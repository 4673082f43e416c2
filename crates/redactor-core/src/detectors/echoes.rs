//! The other places in a text where a value that a reading by name found
//! stands again. Django's SQL log writes a statement's values twice
//! (`... WHERE "users"."first_name" = 'Ann'; args=('Ann',)`), and a
//! message often repeats what its `key=value` part holds (`first_name=Ann
//! ... welcome, Ann`): the name is beside one of them only. Each such
//! place is matched as the value itself is, so a tokenized value gives the
//! same token in both.
//!
//! A place counts when it is not part of a longer word: the bytes beside
//! it are not letters, digits or `_` (nor of a non-ASCII character), where
//! the value's own first or last byte is one. Values shorter than
//! [`ECHO_MIN_LEN`] and the words that stand for no value (`null`,
//! `None`, ...) are not looked for, and at most [`ECHO_VALUES_MAX`]
//! distinct values of one text are: the cost is bounded by that many
//! searches of the text.

/// The shortest value whose other places are looked for.
const ECHO_MIN_LEN: usize = 3;

/// The most distinct values of one text whose other places are looked
/// for.
const ECHO_VALUES_MAX: usize = 16;

/// Words that stand for no value, in lowercase: their other places are
/// not the value's.
const PLACEHOLDERS: &[&[u8]] = &[
    b"null",
    b"none",
    b"nil",
    b"undefined",
    b"true",
    b"false",
    b"unknown",
    b"n/a",
];

/// Whether `c` is part of a word: a letter, a digit, `_`, or a byte of a
/// non-ASCII character.
fn is_word_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
}

/// Adds to `out` the other places in `text` of the values `out[from..]`
/// spans (see the module's notes), after them; the caller merges overlaps.
pub(super) fn find_echoes(text: &str, from: usize, out: &mut Vec<(usize, usize)>) {
    let b = text.as_bytes();
    let found = out.len();
    let mut searched = [(0, 0); ECHO_VALUES_MAX];
    let mut n = 0;
    for i in from..found {
        if n == ECHO_VALUES_MAX {
            break;
        }
        let (s, e) = out[i];
        let value = &b[s..e];
        if value.len() < ECHO_MIN_LEN
            || PLACEHOLDERS.iter().any(|p| value.eq_ignore_ascii_case(p))
            || searched[..n].iter().any(|&(s, e)| &b[s..e] == value)
        {
            continue;
        }
        searched[n] = (s, e);
        n += 1;
        let open = is_word_byte(value[0]);
        let close = is_word_byte(value[value.len() - 1]);
        each_place(b, value, |at| {
            let end = at + value.len();
            let glued_before = open && at > 0 && is_word_byte(b[at - 1]);
            let glued_after = close && end < b.len() && is_word_byte(b[end]);
            let alone = !glued_before && !glued_after;
            if at != s && alone {
                out.push((at, end));
            }
        });
    }
}

/// The longest text whose places of a value are found by comparing the
/// value at each place of its first byte: a search that needs no setup,
/// for the short texts and values most logs hold (a longer one is
/// searched with [`memchr::memmem`], in linear time).
const SHORT_TEXT: usize = 1024;

/// The longest value whose places are found so ([`SHORT_TEXT`]): a
/// text's compares are bounded by its length times this.
const SHORT_VALUE: usize = 64;

/// Calls `f` with each place where `value` (not empty) stands in `b`, in
/// order and not overlapping, as [`memchr::memmem::find_iter`] finds them.
fn each_place(b: &[u8], value: &[u8], mut f: impl FnMut(usize)) {
    if b.len() > SHORT_TEXT || value.len() > SHORT_VALUE {
        memchr::memmem::find_iter(b, value).for_each(f);
        return;
    }
    let mut next = 0;
    for at in memchr::memchr_iter(value[0], b) {
        if at >= next && b[at..].starts_with(value) {
            f(at);
            next = at + value.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{spans, DetectorKind};
    use super::*;

    #[test]
    fn values_are_found_where_they_stand_again() {
        // Django's SQL log: the statement's values, then the same as args.
        let text = "(0.001) UPDATE \"users\" SET \"last_name\" = 'Lee', \"city\" = 'Leeds' \
                    WHERE \"users\".\"id\" = 42; args=('Lee', 'Leeds', 42); alias=default";
        assert_eq!(
            spans(DetectorKind::PersonalParam, text),
            ["Lee", "Leeds", "Lee", "Leeds"]
        );
        // A message beside its parameters; not inside longer words.
        let text = "first_name=Ann welcome, Ann! Annie, ANN, _Ann, Ann_, Anné, (Ann)";
        assert_eq!(
            spans(DetectorKind::PersonalParam, text),
            ["Ann", "Ann", "Ann"]
        );
        // An id's other places; a credential's.
        let text = "user_id=u-42 GET /users/u-42/orders?x=u-420 password=hunter2 echo hunter2";
        assert_eq!(spans(DetectorKind::IdParam, text), ["u-42", "u-42"]);
        assert_eq!(spans(DetectorKind::Secret, text), ["hunter2", "hunter2"]);
        // A value that starts or ends with punctuation needs no boundary
        // there.
        let text = "first_name=-Ann- x-Ann-y";
        assert_eq!(spans(DetectorKind::PersonalParam, text), ["-Ann-", "-Ann-"]);
    }

    #[test]
    fn short_and_placeholder_values_are_not_looked_for() {
        for text in [
            "first_name=Al and Al",
            "first_name=null is null",
            "first_name=None is None",
            "first_name=N/A n/a",
            "last_name=false false",
        ] {
            assert_eq!(
                spans(DetectorKind::PersonalParam, text).len(),
                1,
                "{text:?}"
            );
        }
    }

    #[test]
    fn at_most_so_many_values_are_looked_for() {
        // Seventeen distinct values, each standing again at the end: the
        // first sixteen's other places are found. The same value twice is
        // looked for once.
        let names: Vec<String> = (0..17).map(|i| format!("nm{i:02}")).collect();
        let mut text = String::from("first_name=nm00 ");
        for name in &names {
            text += &format!("first_name={name} ");
        }
        for name in &names {
            text += &format!("{name} ");
        }
        let found = spans(DetectorKind::PersonalParam, &text);
        let again = &found[names.len() + 1..];
        assert_eq!(again, &names[..ECHO_VALUES_MAX]);
    }

    /// Every place of each value, by a plain scan of every position.
    fn echoes_by_scan(b: &[u8], values: &[(usize, usize)]) -> Vec<(usize, usize)> {
        let mut want = Vec::new();
        let mut seen: Vec<&[u8]> = Vec::new();
        for &(s, e) in values {
            let v = &b[s..e];
            if v.len() < ECHO_MIN_LEN
                || PLACEHOLDERS.iter().any(|p| v.eq_ignore_ascii_case(p))
                || seen.contains(&v)
            {
                continue;
            }
            if seen.len() == ECHO_VALUES_MAX {
                break;
            }
            seen.push(v);
            // Non-overlapping, leftmost first, as a search from each end.
            let mut at = 0;
            while at + v.len() <= b.len() {
                if &b[at..at + v.len()] != v {
                    at += 1;
                    continue;
                }
                let end = at + v.len();
                let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || !c.is_ascii();
                let before_ok = at == 0 || !word(v[0]) || !word(b[at - 1]);
                let after_ok = end == b.len() || !word(v[v.len() - 1]) || !word(b[end]);
                if at != s && before_ok && after_ok {
                    want.push((at, end));
                }
                at = end;
            }
        }
        want
    }

    /// The search without setup finds what `memmem` finds, overlapping
    /// and repeated values included.
    #[test]
    fn places_are_those_memmem_finds() {
        let pieces = ["a", "a", "ab", "b", "aab", " ", "é"];
        let texts = crate::test_texts::from_pieces(0x5eed_ec41, 2000, (1, 60), &pieces);
        let mut any = 0;
        for text in &texts {
            let b = text.as_bytes();
            for (start, len) in [(0, 1), (0, 2), (1, 3), (2, 2), (0, 5), (3, 4)] {
                let Some(value) = b.get(start..start + len) else {
                    continue;
                };
                let mut found = Vec::new();
                each_place(b, value, |at| found.push(at));
                let want: Vec<usize> = memchr::memmem::find_iter(b, value).collect();
                assert_eq!(found, want, "{text:?} {value:?}");
                any += usize::from(want.len() > 1);
            }
        }
        assert!(any > 2000, "{any}");
    }

    #[test]
    fn echoes_are_what_a_scan_of_every_position_finds() {
        let pieces = ["ab", "ab", "a", " ", " ", "_", "é", "null", "NULL", ","];
        let texts = crate::test_texts::from_pieces(0x5eed_ec40, 3000, (8, 40), &pieces);
        let mut any = 0;
        for text in &texts {
            let b = text.as_bytes();
            // A value at every character: some stand again, some are
            // placeholders, some the same as another.
            let mut values = Vec::new();
            for (i, _) in text.char_indices() {
                let len = text[i..].chars().take(3).map(char::len_utf8).sum::<usize>();
                if len > 0 {
                    values.push((i, i + len));
                }
            }
            let mut out = values.clone();
            find_echoes(text, 0, &mut out);
            let found = out.split_off(values.len());
            let want = echoes_by_scan(b, &values);
            any += usize::from(!want.is_empty());
            assert_eq!(found, want, "{text:?} {values:?}");
        }
        assert!(any > 400, "{any}");
    }
}
