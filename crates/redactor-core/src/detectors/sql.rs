//! SQL written into text: statements as database servers log them
//! (PostgreSQL's `log_statement`, MySQL's general log), as traces carry
//! them (OpenTelemetry's `db.statement` and `db.query.text`), and as
//! object-relational mappers log them with their bound values (Rails'
//! `[["first_name", "Ann"]]`).
//!
//! A statement's values are not next to their columns' names as a
//! `name=value` log's are: an `INSERT` lists the names first and the
//! values after (`INSERT INTO users (first_name, email) VALUES ('Ann',
//! ...)`), and a comparison may quote the name (`"users"."username" =
//! 'ann'`, `` `email` = '...' ``, `[FirstName] = N'Ann'`), and a
//! condition may list them or give a pattern (`first_name IN ('Ann',
//! 'Bo')`, `last_name LIKE 'Lee%'`). The finders here
//! pair each value with its name and give the values of the names a
//! detector's `is_name` accepts; [`find_passwords`] gives the passwords of
//! the statements that create or change a database's users (`ALTER ROLE
//! ann PASSWORD '...'`, `IDENTIFIED BY '...'`).
//!
//! A value is a string literal (its content: `'...'` with `''` or `\'`
//! inside it, also `N'...'` and `E'...'`, or MySQL's `"..."`), a number,
//! or an expression that holds one (`lower('Ann')`, `crypt('...',
//! gen_salt('bf'))`, all of it); not a placeholder (`$1`, `?`, `:name`), a
//! keyword (`NULL`, `DEFAULT`) or another column. Every byte of a text is
//! looked at a bounded number of times, whatever the text.

use super::{is_name_byte, start_of_name, trim_back, trim_forward, Profile};
use redactor_scan::census;

/// The shortest text these finders read: `[["a", 1]]`, Rails' binds.
const SQL_MIN_LEN: usize = 10;

/// Whether a text of `len` bytes with profile `p` may hold SQL that these
/// finders read: it has words and a quote or a bracket (a statement
/// without either, such as `INSERT INTO t (a) VALUES (1)`, is not read).
#[inline(always)]
pub(super) fn may_hold_sql(len: usize, p: Profile) -> bool {
    len >= SQL_MIN_LEN && p.marks & census::SPACE != 0 && p.marks & census::QUOTE_OR_BRACKET != 0
}

/// One reading of SQL at an index of a text ([`inserted_at`],
/// [`compared_at`], [`bound_at`]): given the text, the index, the names
/// whose values it gives and where it adds them, it returns where what it
/// read ends, if it read something there.
type Reading = fn(&[u8], usize, fn(&[u8]) -> bool, &mut Vec<(usize, usize)>) -> Option<usize>;

/// The values of the columns whose names `is_name` accepts in the SQL of
/// `text`: an `INSERT`'s values paired with its column list
/// ([`inserted_at`]) and an `IN` list's ([`listed_at`]), a comparison or
/// an assignment to a quoted column's name ([`compared_at`]), and Rails'
/// bound values ([`bound_at`]), in one pass over the bytes they start at;
/// then `LIKE` patterns ([`liked_at`]), at each `k` and `K`. Each
/// reading's spans are in order, but not the lists.
pub(super) fn find_values(text: &str, is_name: fn(&[u8]) -> bool, out: &mut Vec<(usize, usize)>) {
    let b = text.as_bytes();
    // How far each reading has taken the text.
    let (mut inserted, mut compared, mut bound) = (0, 0, 0);
    for at in memchr::memchr3_iter(b'(', b'=', b'[', b) {
        let (done, read): (_, Reading) = match b[at] {
            b'(' => (&mut inserted, inserted_or_listed_at),
            b'=' => (&mut compared, compared_at),
            _ => (&mut bound, bound_at),
        };
        if at >= *done {
            if let Some(end) = read(b, at, is_name, out) {
                *done = end;
            }
        }
    }
    find_each(
        b,
        memchr::memchr2_iter(b'k', b'K', b),
        liked_at,
        is_name,
        out,
    );
}

/// Each of `read`'s findings at the indexes `anchors` of `text`, in
/// increasing order (also for the tests of each reading alone).
fn find_each(
    text: &[u8],
    anchors: impl Iterator<Item = usize>,
    read: Reading,
    is_name: fn(&[u8]) -> bool,
    out: &mut Vec<(usize, usize)>,
) {
    let mut done = 0;
    for at in anchors {
        if at >= done {
            done = read(text, at, is_name, out).unwrap_or(done);
        }
    }
}

/// Whether `b[..end]` ends with the keyword `word` (lowercase), in any
/// letter case, as a word of its own.
pub(super) fn ends_with_keyword(b: &[u8], end: usize, word: &[u8]) -> bool {
    end >= word.len()
        && b[end - word.len()..end].eq_ignore_ascii_case(word)
        && (end == word.len() || !is_name_byte(b[end - word.len() - 1]))
}

/// The index of the quote that closes the string whose opening quote is
/// `b[open]`, or `b.len()` when it does not close: a doubled quote
/// (`'O''Brien'`) is inside it, and with `backslashes` a quote (or any
/// byte) after a backslash (`'O\'Brien'`, as MySQL, JSON, Python and
/// JavaScript write it; without, a backslash is itself, as PostgreSQL
/// logs a value).
pub(super) fn string_end(b: &[u8], open: usize, backslashes: bool) -> usize {
    let quote = b[open];
    let mut i = open + 1;
    while i < b.len() {
        let next = if backslashes {
            memchr::memchr2(quote, b'\\', &b[i..])
        } else {
            memchr::memchr(quote, &b[i..])
        };
        let Some(k) = next else { break };
        let k = i + k;
        // An escaped byte, or a doubled quote: both two bytes inside.
        if b[k] == quote && b.get(k + 1) != Some(&quote) {
            return k;
        }
        i = k + 2;
    }
    b.len()
}

/// The index of the quote that closes the string literal whose opening
/// quote is `b[open]`, or `b.len()` when it does not close: a doubled
/// quote (`'O''Brien'`) and a quote after a backslash (`'O\'Brien'`, as
/// MySQL writes it) are inside it.
fn literal_end(b: &[u8], open: usize) -> usize {
    string_end(b, open, true)
}

/// The length of the number at the start of `b` (a sign, digits, a
/// fraction, an exponent), or 0.
pub(super) fn number_len(b: &[u8]) -> usize {
    let sign = usize::from(matches!(b.first(), Some(b'-' | b'+')));
    let digits = b[sign..]
        .iter()
        .take_while(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E'))
        .count();
    if b.get(sign).is_some_and(u8::is_ascii_digit) {
        sign + digits
    } else {
        0
    }
}

/// The content of the string literal that starts at `b[s]` and the index
/// of its closing quote (`b.len()` when it does not close), if one does:
/// `'...'`, also with a prefix (`N'...'`, SQL Server's; `E'...'`,
/// PostgreSQL's), or MySQL's `"..."` unless `double_is_name` says that a
/// `"` quotes a name (PostgreSQL's, when the statement quotes its names
/// with it).
fn literal_at(b: &[u8], s: usize, double_is_name: bool) -> Option<(usize, usize)> {
    let lit = match b.get(s..s + 2) {
        Some([p, b'\'']) if matches!(p.to_ascii_lowercase(), b'n' | b'e') => s + 1,
        _ => s,
    };
    match b.get(lit) {
        Some(b'\'') => {}
        Some(b'"') if !double_is_name => {}
        _ => return None,
    }
    Some((lit + 1, literal_end(b, lit)))
}

/// What a value of an `INSERT` that starts at `b[start]` (spaces before
/// it skipped) holds for a detector, and where the value ends: the
/// content of a string literal that is the whole value ([`literal_at`]);
/// a number; an expression that holds a literal or a number, all of it
/// (to a `,` or `)` outside its parentheses and literals); nothing for
/// anything else (a placeholder, a keyword, a column).
fn value_at(b: &[u8], start: usize, double_is_name: bool) -> (Option<(usize, usize)>, usize) {
    let s = trim_forward(b, start);
    if let Some((content, close)) = literal_at(b, s, double_is_name) {
        let after = trim_forward(b, (close + 1).min(b.len()));
        if after == b.len() || matches!(b[after], b',' | b')' | b';') {
            return ((close > content).then_some((content, close)), after);
        }
    }
    // An expression: to a `,` or `)` outside parentheses and literals.
    let mut depth = 0usize;
    let mut literal = false;
    let mut i = s;
    while i < b.len() {
        match b[i] {
            b'\'' | b'"' | b'`' => {
                literal |= b[i] == b'\'' || (b[i] == b'"' && !double_is_name);
                i = literal_end(b, i);
            }
            b'(' => depth += 1,
            b')' if depth == 0 => break,
            b')' => depth -= 1,
            b',' | b';' if depth == 0 => break,
            _ => {}
        }
        i += 1;
    }
    let i = i.min(b.len());
    let end = trim_back(b, i).max(s);
    let number = number_len(&b[s..end]);
    let found = (literal || (number > 0 && number == end - s)).then_some((s, end));
    (found, i)
}

/// The name of a column as a statement writes it at `b[s..e]` (spaces
/// around it trimmed): bare, or in `"..."`, `` `...` `` or `[...]`; `None`
/// for anything else.
fn column_name(b: &[u8], s: usize, e: usize) -> Option<&[u8]> {
    let s = trim_forward(&b[..e], s);
    let e = trim_back(b, e).max(s);
    let name = match b.get(s..e)? {
        [b'"', name @ .., b'"'] | [b'`', name @ .., b'`'] | [b'[', name @ .., b']'] => name,
        name => name,
    };
    (!name.is_empty() && name.iter().all(|&c| is_name_byte(c))).then_some(name)
}

/// An `INSERT`'s values paired with its column list, when the `(` at
/// `open` of `b` opens them: `(first_name, email) VALUES ('Ann', ...),
/// ('Bo', ...)`, each row of them (a statement cut short pairs the values
/// it holds). Returns where the values end.
fn inserted_at(
    b: &[u8],
    open: usize,
    is_name: fn(&[u8]) -> bool,
    out: &mut Vec<(usize, usize)>,
) -> Option<usize> {
    let values = trim_back(b, open);
    if !ends_with_keyword(b, values, b"values") {
        return None;
    }
    let close = trim_back(b, values - b"values".len());
    if close == 0 || b[close - 1] != b')' {
        return None;
    }
    // The column list: no parenthesis, literal or other byte inside.
    let list = memchr::memrchr2(b'(', b')', &b[..close - 1])?;
    if b[list] != b'(' {
        return None;
    }
    let list = list + 1..close - 1;
    let double_is_name = b[list.clone()].contains(&b'"');
    if !b[list.clone()].iter().all(|&c| {
        is_name_byte(c) || c.is_ascii_whitespace() || matches!(c, b',' | b'"' | b'`' | b'[' | b']')
    }) {
        return None;
    }
    // Each row, its values in step with the columns.
    let mut row = open;
    loop {
        let mut at = row + 1;
        let mut column = Some(list.start);
        loop {
            let (found, end) = value_at(b, at, double_is_name);
            if let Some(c) = column {
                let name_end = memchr::memchr(b',', &b[c..list.end]).map_or(list.end, |i| c + i);
                if found.is_some() && column_name(b, c, name_end).is_some_and(is_name) {
                    out.extend(found);
                }
                column = (name_end < list.end).then_some(name_end + 1);
            }
            at = end;
            if at >= b.len() || b[at] != b',' {
                break;
            }
            at += 1;
        }
        // `, (...)`: the next row.
        let next = trim_forward(b, (at + 1).min(b.len()));
        if at >= b.len() || b[at] != b')' || next >= b.len() || b[next] != b',' {
            return Some(at);
        }
        let next = trim_forward(b, next + 1);
        if next >= b.len() || b[next] != b'(' {
            return Some(at);
        }
        row = next;
    }
}

/// [`inserted_at`], or else [`listed_at`].
fn inserted_or_listed_at(
    b: &[u8],
    open: usize,
    is_name: fn(&[u8]) -> bool,
    out: &mut Vec<(usize, usize)>,
) -> Option<usize> {
    inserted_at(b, open, is_name, out).or_else(|| listed_at(b, open, is_name, out))
}

/// The name of the column that a condition's keyword at `end` of `b`
/// follows (spaces between): bare (`last_name`, also after a table's
/// `users.`), or in `"..."`, `` `...` `` or `[...]`; a `NOT` between them
/// is passed over (`last_name NOT LIKE`).
fn column_before(b: &[u8], end: usize) -> Option<&[u8]> {
    let mut end = trim_back(b, end);
    for _ in 0..2 {
        let (s, e) = match *b.get(end.checked_sub(1)?)? {
            q @ (b'"' | b'`' | b']') => {
                let open = if q == b']' { b'[' } else { q };
                let s = start_of_name(b, end - 1);
                if s == 0 || b[s - 1] != open {
                    return None;
                }
                (s, end - 1)
            }
            _ => (start_of_name(b, end), end),
        };
        if s == e {
            return None;
        }
        if !b[s..e].eq_ignore_ascii_case(b"not") {
            return Some(&b[s..e]);
        }
        end = trim_back(b, s);
    }
    None
}

/// The values of an `IN` list, when the `(` at `open` of `b` opens one
/// after a column's name ([`column_before`]): `first_name IN ('Ann',
/// 'Bo')`, each value as [`value_at`] reads it. Returns where the list
/// ends.
fn listed_at(
    b: &[u8],
    open: usize,
    is_name: fn(&[u8]) -> bool,
    out: &mut Vec<(usize, usize)>,
) -> Option<usize> {
    let keyword = trim_back(b, open);
    if !ends_with_keyword(b, keyword, b"in") || !column_before(b, keyword - 2).is_some_and(is_name)
    {
        return None;
    }
    let mut at = open + 1;
    loop {
        let (found, end) = value_at(b, at, false);
        out.extend(found);
        if end >= b.len() || b[end] != b',' {
            return Some(end);
        }
        at = end + 1;
    }
}

/// The pattern of a `LIKE` or `ILIKE` after a column's name
/// ([`column_before`]), when the `k` at `k` of `b` is the keyword's:
/// `last_name LIKE 'Lee%'`, `email ILIKE '%ann%'` (the literal's content).
/// Returns where it ends.
fn liked_at(
    b: &[u8],
    k: usize,
    is_name: fn(&[u8]) -> bool,
    out: &mut Vec<(usize, usize)>,
) -> Option<usize> {
    let (s, e) = (k.checked_sub(2)?, k + 2);
    if e > b.len()
        || !b[s..e].eq_ignore_ascii_case(b"like")
        || b.get(e).is_some_and(|&c| is_name_byte(c))
    {
        return None;
    }
    let start = if s >= 1 && b[s - 1].eq_ignore_ascii_case(&b'i') {
        s - 1
    } else {
        s
    };
    if start > 0 && is_name_byte(b[start - 1]) {
        return None;
    }
    if !column_before(b, start).is_some_and(is_name) {
        return None;
    }
    let literal = literal_at(b, trim_forward(b, e), false)?;
    found(literal, out)
}

/// A comparison with or an assignment to a quoted column's name, when the
/// `=` at `eq` of `b` is one: `"users"."username" = 'ann'`,
/// `` `email`='...' ``, `[FirstName] = N'Ann'` (a bare name's value is
/// [`super::find_named_values`]'s). Not `<=`, `!=` or `:=`, whose name
/// does not end right before the `=`; not `==` or `=>`, whose value does
/// not start right after it. Returns where the value ends.
fn compared_at(
    b: &[u8],
    eq: usize,
    is_name: fn(&[u8]) -> bool,
    out: &mut Vec<(usize, usize)>,
) -> Option<usize> {
    let j = trim_back(b, eq);
    if j < 3 {
        return None;
    }
    let open = match b[j - 1] {
        b'"' => b'"',
        b'`' => b'`',
        b']' => b'[',
        _ => return None,
    };
    let name_start = start_of_name(b, j - 1);
    if name_start == 0 || b[name_start - 1] != open || !is_name(&b[name_start..j - 1]) {
        return None;
    }
    let s = trim_forward(b, eq + 1);
    let span = match literal_at(b, s, open == b'"') {
        Some(literal) => literal,
        None => {
            let len = number_len(&b[s..]);
            if b.get(s + len).is_some_and(|&c| is_name_byte(c)) {
                return None;
            }
            (s, s + len)
        }
    };
    found(span, out)
}

/// Adds `span` to `out` unless it is empty; where it ends, if added.
fn found(span: (usize, usize), out: &mut Vec<(usize, usize)>) -> Option<usize> {
    (span.1 > span.0).then(|| {
        out.push(span);
        span.1
    })
}

/// The values Rails logs beside a statement, each with its column's name,
/// when the `[` at `open` of `b` starts one: `[["first_name", "Ann"],
/// ["LIMIT", 1]]`, a pair after a `[` or a `,` whose value (a string as
/// Ruby's `inspect` writes it, or a number) is followed by its `]`.
/// Returns where the value ends.
fn bound_at(
    b: &[u8],
    open: usize,
    is_name: fn(&[u8]) -> bool,
    out: &mut Vec<(usize, usize)>,
) -> Option<usize> {
    if b.get(open + 1) != Some(&b'"') {
        return None;
    }
    // One of a list of pairs: not a list of names (`["first_name",
    // "last_name"]`).
    let before = trim_back(b, open);
    if before == 0 || !matches!(b[before - 1], b'[' | b',') {
        return None;
    }
    let name_start = open + 2;
    let name_end = name_start
        + b[name_start..]
            .iter()
            .take_while(|&&c| is_name_byte(c))
            .count();
    if b.get(name_end..name_end + 2) != Some(b"\",") || !is_name(&b[name_start..name_end]) {
        return None;
    }
    let s = trim_forward(b, name_end + 2);
    let (start, end) = if b.get(s) == Some(&b'"') {
        (s + 1, literal_end(b, s))
    } else {
        (s, s + number_len(&b[s..]))
    };
    // The pair's `]` (or the end of a text cut short) after the value.
    let close = end + usize::from(start > s);
    if b.get(close).is_some_and(|&c| c != b']') {
        return None;
    }
    found((start, end), out)
}

/// The passwords of the statements that create or change a database's
/// users: PostgreSQL's `PASSWORD '...'` (`CREATE ROLE ann LOGIN PASSWORD
/// '...'`, `ALTER USER ann WITH ENCRYPTED PASSWORD '...'`), MySQL's and
/// Oracle's `IDENTIFIED BY '...'` (also `IDENTIFIED WITH plugin BY '...'`),
/// MySQL's `PASSWORD('...')` and `SET PASSWORD FOR account = '...'`: the
/// literal's content after the keyword and a space (or the function's
/// parenthesis, or the `=`). A `PASSWORD = '...'` is
/// [`super::find_named_values`]'s.
pub(super) fn find_passwords(text: &str, out: &mut Vec<(usize, usize)>) {
    let b = text.as_bytes();
    let mut done = 0;
    for q in memchr::memchr2_iter(b'\'', b'"', b) {
        if q < done {
            continue;
        }
        let mut word_end = trim_back(b, q);
        let call = word_end > 0 && b[word_end - 1] == b'(';
        let assigned = word_end > 0 && b[word_end - 1] == b'=';
        if call {
            word_end = trim_back(b, word_end - 1);
        } else if word_end == q && !assigned {
            // `wrong password"`: a quote that closes, not one that opens.
            continue;
        }
        let keyword = if ends_with_keyword(b, word_end, b"password") {
            true
        } else if assigned {
            set_password_for(b, word_end - 1)
        } else if !call && ends_with_keyword(b, word_end, b"by") {
            // `IDENTIFIED BY`, `IDENTIFIED WITH plugin BY`.
            let before = trim_back(b, word_end - 2);
            let plugin = start_of_name(b, before);
            let with = trim_back(b, plugin);
            ends_with_keyword(b, before, b"identified")
                || (plugin < before
                    && ends_with_keyword(b, with, b"with")
                    && ends_with_keyword(b, trim_back(b, with - 4), b"identified"))
        } else {
            false
        };
        if !keyword {
            continue;
        }
        let close = literal_end(b, q);
        if close > q + 1 {
            out.push((q + 1, close));
        }
        done = close + 1;
    }
}

/// The longest account of a `SET PASSWORD FOR account = '...'`.
const ACCOUNT_MAX_LEN: usize = 256;

/// Whether the `=` at `b[eq]` is MySQL's `SET PASSWORD FOR account =`
/// (`'ann'@'localhost'`, `ann@'%'`, `CURRENT_USER()`: one word).
fn set_password_for(b: &[u8], eq: usize) -> bool {
    let account_end = trim_back(b, eq);
    let from = account_end.saturating_sub(ACCOUNT_MAX_LEN);
    let Some(space) = b[from..account_end]
        .iter()
        .rposition(u8::is_ascii_whitespace)
    else {
        return false;
    };
    let for_end = trim_back(b, from + space);
    ends_with_keyword(b, for_end, b"for")
        && ends_with_keyword(b, trim_back(b, for_end - 3), b"password")
}

#[cfg(test)]
mod tests {
    use super::super::{spans, DetectorKind};
    use super::*;
    use regex::Regex;

    fn found(f: impl Fn(&str, &mut Vec<(usize, usize)>), text: &str) -> Vec<String> {
        let mut v = Vec::new();
        f(text, &mut v);
        // In order of position (each reading's spans are, not the lists).
        v.sort_unstable();
        v.into_iter().map(|(s, e)| text[s..e].to_string()).collect()
    }

    fn personal(text: &str) -> Vec<String> {
        found(
            |t, out| find_values(t, super::super::is_personal_name, out),
            text,
        )
    }

    #[test]
    fn inserted_values_are_paired_with_their_columns() {
        let text =
            "INSERT INTO customers (id, last_name, \"Phone\", `city`, [email_address], note) \
                    VALUES (1, 'O''Brien', 4155550132, lower('Leeds'), N'a@b', 'x'), \
                    (2,E'Lee\\'s',NULL,$1, 'c@d', 'y'),\n (3, 'Bo', -1";
        assert_eq!(
            personal(text),
            [
                "O''Brien",
                "4155550132",
                "lower('Leeds')",
                "a@b",
                "Lee\\'s",
                "c@d",
                "Bo",
                "-1"
            ]
        );
        // MySQL's double-quoted strings; PostgreSQL's quoted names.
        assert_eq!(personal("insert into t(`zip`) values(\"SW1\")"), ["SW1"]);
        assert!(personal("INSERT INTO t (\"zip\") VALUES (\"other\".\"zip\")").is_empty());
        // A password's hash is a credential's value; a user's id an id's.
        let text = "INSERT INTO users (user_id, password_digest) VALUES ('u-1', '$2a$12$abc')";
        assert_eq!(spans(DetectorKind::Secret, text), ["$2a$12$abc"]);
        assert_eq!(spans(DetectorKind::IdParam, text), ["u-1"]);
        // Not a column list; no column list; placeholders, keywords and
        // columns; an `ON CONFLICT` clause's `VALUES(...)`.
        for text in [
            "INSERT INTO t (city || 'x') VALUES ('Leeds')",
            "INSERT INTO t VALUES ('Leeds', 'Ann')",
            "INSERT INTO t (city, zip) VALUES ($1, ?), (DEFAULT, NULL), (:city, other.zip)",
            "ON DUPLICATE KEY UPDATE city = VALUES(city)",
            "the (city) valuesx ('Leeds')",
        ] {
            assert!(personal(text).is_empty(), "{text:?}");
        }
    }

    #[test]
    fn compared_values_of_quoted_names() {
        let text = "SELECT \"users\".* FROM \"users\" INNER JOIN \"orders\" ON \
                    \"orders\".\"user_id\" = \"users\".\"id\" WHERE \"users\".\"last_name\" = 'O''Brien' \
                    AND `city`='Leeds' AND [ZipCode] = N'SW1' AND \"phone\" = 4155550132 \
                    AND \"email\" >= 'x' AND \"email\" = $1 AND `zip` = \"E1\"";
        assert_eq!(
            personal(text),
            ["O''Brien", "Leeds", "SW1", "4155550132", "E1"]
        );
        assert_eq!(
            spans(
                DetectorKind::IdParam,
                "UPDATE [dbo].[Users] SET [UserId] = 42, \"user\" = 'root'"
            ),
            ["42"]
        );
    }

    #[test]
    fn in_lists_and_like_patterns() {
        let text = "SELECT * FROM users WHERE last_name LIKE 'Lee%' AND \"city\" NOT IN ('Leeds', 'York') \
                    AND users.first_name IN (N'Ann',2) AND email ilike '%ann%' AND zip NOT LIKE 'E1%' \
                    AND plan IN ('pro') AND city LIKE $1 AND alike LIKE 'x' AND zip LIKEx 'y'";
        assert_eq!(
            personal(text),
            ["Lee%", "Leeds", "York", "Ann", "2", "%ann%", "E1%"]
        );
    }

    #[test]
    fn bound_values_as_rails_logs_them() {
        let text = "User Create (0.5ms)  INSERT INTO \"users\" (\"first_name\", \"zip\") \
                    VALUES ($1, $2)  [[\"first_name\", \"Ann \\\"A\\\" Lee\"], [\"zip\", 12345], \
                    [\"city\", nil], [\"LIMIT\", 1]]";
        assert_eq!(personal(text), ["Ann \\\"A\\\" Lee", "12345"]);
        // A list of names, not of pairs; a pair that goes on.
        assert!(personal("fields: [\"first_name\", \"last_name\"]").is_empty());
        assert!(personal("[[\"first_name\", \"last_name\", \"x\"]]").is_empty());
    }

    #[test]
    fn passwords_of_database_users() {
        let text = "statement: CREATE ROLE ann LOGIN PASSWORD 'a''b'; \
                    ALTER USER bo WITH ENCRYPTED PASSWORD 'md5abc'; \
                    CREATE USER 'cy'@'%' IDENTIFIED BY 'c\\'d'; \
                    ALTER USER dee IDENTIFIED WITH caching_sha2_password BY \"e f\"; \
                    SET PASSWORD = PASSWORD( 'g'); ALTER USER scott IDENTIFIED BY \"tiger\"; \
                    SET PASSWORD FOR 'ann'@'localhost' = 'h'; set password for ann@'%'='i'";
        assert_eq!(
            found(find_passwords, text),
            ["a''b", "md5abc", "c\\'d", "e f", "g", "tiger", "h", "i"]
        );
        // A quote that closes what the keyword is in; another keyword.
        for text in [
            "{\"msg\": \"wrong password\", \"user\": \"ann\"}",
            "passwords 'x'",
            "mypassword 'x'",
            "BY 'x'",
            "IDENTIFIED WITH BY 'x'",
            "PASSWORD ''",
            "SET PASSWORD FOR = 'x'",
            "SET PASSWORD FOR a b = 'x'",
            "x = 'y'",
        ] {
            assert!(found(find_passwords, text).is_empty(), "{text:?}");
        }
    }

    /// The content of a literal as [`literal_end`] reads it (a doubled
    /// quote and an escaped byte inside it, an unclosed one to the end),
    /// as a regex: `q` the quote.
    fn literal_re(q: char) -> String {
        format!(r"{q}((?:[^{q}\\]|{q}{q}|\\(?s:.)|\\$)*)")
    }

    /// ASCII whitespace as `u8::is_ascii_whitespace` has it.
    const WS: &str = r"[\t\n\x0C\r ]";

    fn texts(seed: u64, pieces: &[&str]) -> Vec<String> {
        crate::test_texts::from_pieces(seed, 100_000, (1, 12), pieces)
    }

    /// The finder against a formulation with regexes and a tokenizer: the
    /// column list before each `VALUES (`, each row's text cut into
    /// tokens (a literal, a parenthesis, a `,`, a `;`, a run of other
    /// bytes) and its values at the `,`s outside parentheses.
    #[test]
    fn inserted_values_are_what_a_tokenizer_finds() {
        let head = Regex::new(&format!(r"\(([^()]*)\){WS}*(?i:values){WS}*$")).unwrap();
        let list_chars = Regex::new(&format!(r#"^(?:[A-Za-z0-9_,"`\[\]-]|{WS})*$"#)).unwrap();
        let column = Regex::new(&format!(
            r#"^{WS}*(?:"([A-Za-z0-9_-]+)"|`([A-Za-z0-9_-]+)`|\[([A-Za-z0-9_-]+)\]|([A-Za-z0-9_-]+)){WS}*$"#
        ))
        .unwrap();
        let token = Regex::new(&format!(
            r#"{}'?|{}"?|{}`?|[(),;]|[^'"`(),;]+"#,
            literal_re('\''),
            literal_re('"'),
            literal_re('`')
        ))
        .unwrap();
        // A literal that is the whole value: closed, or to the end.
        let single = Regex::new(&format!(r"^[NnEe]?{}(?:'{WS}*)?$", literal_re('\''))).unwrap();
        let double = Regex::new(&format!(r#"^{}(?:"{WS}*)?$"#, literal_re('"'))).unwrap();
        let number = Regex::new(r"^[-+]?[0-9][0-9.eE]*$").unwrap();
        let ws = |c: char| c.is_ascii_whitespace();
        let pieces = [
            "(",
            ")",
            ",",
            ", ",
            " ",
            "VALUES",
            "values (",
            "(city, zip) VALUES (",
            "(\"zip\",x,[city]) values(",
            "(`city`) VALUES ",
            "'",
            "''",
            "\"",
            "`",
            "\\",
            "N",
            "E",
            "12",
            "-",
            ".",
            "e",
            "x",
            "NULL",
            ";",
            "é",
            "\n",
            "'Leeds'",
            "\"E1\"",
            "lower(",
            "), (",
        ];
        let (mut found, mut want, mut any) = (Vec::new(), Vec::new(), 0);
        for t in texts(0x5a1c_0e9a_7e11_0004, &pieces) {
            found.clear();
            find_each(
                t.as_bytes(),
                memchr::memchr_iter(b'(', t.as_bytes()),
                inserted_at,
                super::super::is_personal_name,
                &mut found,
            );
            want.clear();
            let mut done = 0;
            for (open, _) in t.match_indices('(') {
                if open < done {
                    continue;
                }
                let Some(h) = head.captures(&t[..open]) else {
                    continue;
                };
                let list = h.get(1).unwrap().as_str();
                if !list_chars.is_match(list) {
                    continue;
                }
                let strings = !list.contains('"');
                let columns: Vec<Option<&str>> = list
                    .split(',')
                    .map(|c| {
                        let c = column.captures(c)?;
                        Some((1..=4).find_map(|i| c.get(i)).unwrap().as_str())
                    })
                    .collect();
                let mut row = open + 1;
                loop {
                    // The row's values, and what ended it.
                    let (mut values, mut start, mut depth, mut end) = (Vec::new(), row, 0, None);
                    for m in token.find_iter(&t[row..]) {
                        let at = row + m.start();
                        match m.as_str() {
                            "(" => depth += 1,
                            ")" if depth > 0 => depth -= 1,
                            ")" | ";" if depth == 0 => {
                                end = Some(at);
                                break;
                            }
                            "," if depth == 0 => {
                                values.push((start, at));
                                start = at + 1;
                            }
                            _ => {}
                        }
                    }
                    let end_at = end.unwrap_or(t.len());
                    values.push((start, end_at));
                    for (i, &(s, e)) in values.iter().enumerate() {
                        let from_start = t[s..e].trim_start_matches(ws);
                        let (vs, v) = (e - from_start.len(), from_start.trim_end_matches(ws));
                        let literal = single
                            .captures(from_start)
                            .or_else(|| strings.then(|| double.captures(from_start)).flatten());
                        let span = match literal {
                            Some(c) => Some(c.get(1).unwrap().range()),
                            None => token
                                .find_iter(v)
                                .any(|m| {
                                    m.as_str().starts_with('\'')
                                        || (strings && m.as_str().starts_with('"'))
                                })
                                .then_some(0..v.len()),
                        }
                        .or_else(|| number.is_match(v).then_some(0..v.len()));
                        let named = columns
                            .get(i)
                            .copied()
                            .flatten()
                            .is_some_and(|c| super::super::is_personal_name(c.as_bytes()));
                        if let Some(span) = span.filter(|s| !s.is_empty() && named) {
                            want.push((vs + span.start, vs + span.end));
                        }
                    }
                    done = end_at;
                    // `), (`: the next row.
                    let next = t[end_at..]
                        .strip_prefix(')')
                        .map(|r| r.trim_start_matches(ws));
                    match next
                        .and_then(|r| r.strip_prefix(','))
                        .map(|r| r.trim_start_matches(ws))
                    {
                        Some(r) if r.starts_with('(') => row = t.len() - r.len() + 1,
                        _ => break,
                    }
                }
            }
            assert_eq!(found, want, "{t:?}");
            any += usize::from(!want.is_empty());
        }
        assert!(any > 2_000, "{any} texts with values");
    }

    #[test]
    fn compared_values_are_what_a_regex_finds() {
        let name = Regex::new(&format!(
            r#"(?:"([A-Za-z0-9_-]+)"|`([A-Za-z0-9_-]+)`|\[([A-Za-z0-9_-]+)\]){WS}*$"#
        ))
        .unwrap();
        let single = Regex::new(&format!("^{WS}*[NnEe]?{}", literal_re('\''))).unwrap();
        let double = Regex::new(&format!("^{WS}*{}", literal_re('"'))).unwrap();
        let number = Regex::new(&format!("^{WS}*([-+]?[0-9][0-9.eE]*)([A-Za-z0-9_-])?")).unwrap();
        let pieces = [
            "\"",
            "'",
            "`",
            "[",
            "]",
            "=",
            " ",
            "\t",
            "city",
            "zip",
            "x",
            "''",
            "\\",
            "N",
            "E",
            "12",
            "-",
            ".",
            "e",
            "<",
            "!",
            ">",
            ":",
            "$1",
            "\n",
            "é",
            "\"city\"",
            "'Leeds'",
            "= ",
            "==",
            "[zip]",
            "`city`",
            "\"zip\" = ",
            "`city`='",
            "[ZipCode] = N'",
            " = 4",
        ];
        let (mut found, mut want, mut any) = (Vec::new(), Vec::new(), 0);
        for t in texts(0x5a1c_0e9a_7e11_0001, &pieces) {
            found.clear();
            find_each(
                t.as_bytes(),
                memchr::memchr_iter(b'=', t.as_bytes()),
                compared_at,
                super::super::is_personal_name,
                &mut found,
            );
            want.clear();
            let mut done = 0;
            for (eq, _) in t.match_indices('=') {
                if eq < done {
                    continue;
                }
                let Some(c) = name.captures(&t[..eq]) else {
                    continue;
                };
                let quoted = c.get(1).or(c.get(2)).or(c.get(3)).unwrap();
                if !super::super::is_personal_name(quoted.as_str().as_bytes()) {
                    continue;
                }
                let rest = &t[eq + 1..];
                let span = if let Some(c) = single
                    .captures(rest)
                    .or_else(|| c.get(1).is_none().then(|| double.captures(rest)).flatten())
                {
                    c.get(1).unwrap().range()
                } else if let Some(c) = number.captures(rest) {
                    if c.get(2).is_some() {
                        continue;
                    }
                    c.get(1).unwrap().range()
                } else {
                    continue;
                };
                if !span.is_empty() {
                    want.push((eq + 1 + span.start, eq + 1 + span.end));
                    done = eq + 1 + span.end;
                }
            }
            assert_eq!(found, want, "{t:?}");
            any += usize::from(!want.is_empty());
        }
        assert!(any > 5_000, "{any} texts with values");
    }

    #[test]
    fn like_patterns_are_what_a_regex_finds() {
        let like = Regex::new("(?i)like").unwrap();
        let name = "[A-Za-z0-9_-]+";
        let column = Regex::new(&format!(
            r#"(?:"({name})"|`({name})`|\[({name})\]|(?:^|[^A-Za-z0-9_-])({name}))(?:{WS}*(?i:not))?{WS}*$"#
        ))
        .unwrap();
        let single = Regex::new(&format!("^{WS}*[NnEe]?{}", literal_re('\''))).unwrap();
        let double = Regex::new(&format!("^{WS}*{}", literal_re('"'))).unwrap();
        let pieces = [
            "zip",
            "city",
            "x",
            " ",
            "\t",
            "LIKE",
            "like",
            "Like",
            "i",
            "I",
            "NOT",
            "not",
            "'",
            "''",
            "\"",
            "`",
            "[",
            "]",
            "\\",
            "N",
            "é",
            "a",
            "_",
            " LIKE '",
            "\"zip\" ILIKE ",
            "zip LIKEN'",
        ];
        let (mut found, mut want, mut any) = (Vec::new(), Vec::new(), 0);
        for t in texts(0x5a1c_0e9a_7e11_0005, &pieces) {
            found.clear();
            let b = t.as_bytes();
            let anchors = memchr::memchr2_iter(b'k', b'K', b);
            find_each(
                b,
                anchors,
                liked_at,
                super::super::is_personal_name,
                &mut found,
            );
            want.clear();
            let mut done = 0;
            for m in like.find_iter(&t) {
                let (s, e) = (m.start(), m.end());
                if s + 2 < done
                    || t[e..]
                        .starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                {
                    continue;
                }
                let start = if t[..s].ends_with(['i', 'I']) {
                    s - 1
                } else {
                    s
                };
                if t[..start].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                {
                    continue;
                }
                let Some(c) = column.captures(&t[..start]) else {
                    continue;
                };
                let col = (1..=4).find_map(|i| c.get(i)).unwrap().as_str();
                if !super::super::is_personal_name(col.as_bytes()) {
                    continue;
                }
                let rest = &t[e..];
                let Some(c) = single.captures(rest).or_else(|| double.captures(rest)) else {
                    continue;
                };
                let content = c.get(1).unwrap().range();
                if !content.is_empty() {
                    want.push((e + content.start, e + content.end));
                    done = e + content.end;
                }
            }
            want.sort_unstable();
            assert_eq!(found, want, "{t:?}");
            any += usize::from(!want.is_empty());
        }
        assert!(any > 2_000, "{any} texts with patterns");
    }

    #[test]
    fn bound_values_are_what_a_regex_finds() {
        let pair = Regex::new(&format!(r#"^\["([A-Za-z0-9_-]*)",{WS}*"#)).unwrap();
        let after = Regex::new(&format!(r"[\[,]{WS}*$")).unwrap();
        // Closed by its `]`, or at the end of a text cut short.
        let string = Regex::new(&format!(r#"^{}("\]|"?$)"#, literal_re('"'))).unwrap();
        let number = Regex::new(r"^([-+]?[0-9][0-9.eE]*)(?:\]|$)").unwrap();
        let pieces = [
            "[",
            "]",
            "\"",
            "\",",
            ", ",
            " ",
            "zip",
            "city",
            "x",
            "\\",
            "\\\"",
            "12",
            "-",
            ".",
            "e",
            "nil",
            "\n",
            "é",
            "[\"zip\", ",
            "\"]",
            "[[\"city\",",
            "\"\"",
        ];
        let (mut found, mut want, mut any) = (Vec::new(), Vec::new(), 0);
        for t in texts(0x5a1c_0e9a_7e11_0002, &pieces) {
            found.clear();
            find_each(
                t.as_bytes(),
                memchr::memchr_iter(b'[', t.as_bytes()),
                bound_at,
                super::super::is_personal_name,
                &mut found,
            );
            want.clear();
            let mut done = 0;
            for (open, _) in t.match_indices('[') {
                if open < done || !after.is_match(&t[..open]) {
                    continue;
                }
                let Some(c) = pair.captures(&t[open..]) else {
                    continue;
                };
                if !super::super::is_personal_name(c[1].as_bytes()) {
                    continue;
                }
                let s = open + c.get(0).unwrap().end();
                let span = match (string.captures(&t[s..]), number.captures(&t[s..])) {
                    (Some(c), _) => c.get(1).unwrap().range(),
                    (None, Some(c)) => c.get(1).unwrap().range(),
                    _ => continue,
                };
                if !span.is_empty() {
                    want.push((s + span.start, s + span.end));
                    done = s + span.end;
                }
            }
            assert_eq!(found, want, "{t:?}");
            any += usize::from(!want.is_empty());
        }
        assert!(any > 2_000, "{any} texts with values");
    }

    #[test]
    fn passwords_are_what_a_regex_finds() {
        let b = "(?:^|[^A-Za-z0-9_-])";
        let keyword = Regex::new(&format!(
            "(?i)(?:{b}password{WS}+|{b}password{WS}*\\({WS}*|{b}identified{WS}+by{WS}+\
             |{b}identified{WS}+with{WS}+[A-Za-z0-9_-]+{WS}+by{WS}+\
             |{b}password{WS}+for{WS}+[^\t\n\x0C\r ]{{1,256}}{WS}*={WS}*)$"
        ))
        .unwrap();
        let literal = [
            Regex::new(&format!("^{}", literal_re('\''))).unwrap(),
            Regex::new(&format!("^{}", literal_re('"'))).unwrap(),
        ];
        let pieces = [
            "password",
            "PASSWORD",
            "identified",
            "IDENTIFIED",
            "by",
            "BY",
            "with",
            "WITH",
            "sha2",
            " ",
            "\n",
            "(",
            "'",
            "\"",
            "''",
            "\\",
            "x",
            "_",
            "é",
            "a b",
            "'x'",
            ")",
            " PASSWORD '",
            "identified by '",
            "IDENTIFIED WITH sha2 BY \"",
            "password('",
            "for",
            "FOR",
            "=",
            "'a'@'h'",
            " PASSWORD FOR ",
            "password for a = '",
        ];
        let (mut found, mut want, mut any) = (Vec::new(), Vec::new(), 0);
        for t in texts(0x5a1c_0e9a_7e11_0003, &pieces) {
            found.clear();
            find_passwords(&t, &mut found);
            want.clear();
            let mut done = 0;
            for (q, quote) in t.match_indices(['\'', '"']) {
                if q < done || !keyword.is_match(&t[..q]) {
                    continue;
                }
                let c = literal[usize::from(quote == "\"")]
                    .captures(&t[q..])
                    .unwrap();
                let content = c.get(1).unwrap().range();
                if !content.is_empty() {
                    want.push((q + content.start, q + content.end));
                }
                done = (q + content.end + 1).min(t.len());
            }
            assert_eq!(found, want, "{t:?}");
            any += usize::from(!want.is_empty());
        }
        assert!(any > 5_000, "{any} texts with passwords");
    }

    #[test]
    fn literals_end_at_their_quote() {
        assert_eq!(literal_end(b"'ab' x", 0), 3);
        assert_eq!(literal_end(b"'O''Brien' x", 0), 9);
        assert_eq!(literal_end(b"'O\\'Brien' x", 0), 9);
        assert_eq!(literal_end(b"'ab", 0), 3);
        assert_eq!(literal_end(b"'ab\\", 0), 4);
        assert_eq!(literal_end(b"'ab''", 0), 5);
        assert_eq!(literal_end(b"\"a'b\"", 0), 4);
    }
}
