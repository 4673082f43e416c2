//! The values that database servers and object-relational mappers log
//! apart from their statement, bound to its placeholders:
//!
//! - PostgreSQL's `parameters: $1 = 'Ann', $2 = NULL` (a `DETAIL` line, or
//!   an error's context: `unnamed portal with parameters: ...`);
//! - Hibernate's `binding parameter [1] as [VARCHAR] - [Ann]` and
//!   `extracted value ([name2_0_] : [VARCHAR]) - [Ann]`, and Hibernate 6's
//!   `binding parameter (1:VARCHAR) <- [Ann]` and `extracted value
//!   (1:VARCHAR) -> [Ann]`;
//! - MyBatis' `==> Parameters: Ann(String), 42(Integer), null` and its
//!   result rows, `<==        Row: 1, Ann, Lee`;
//! - TypeORM's `... -- PARAMETERS: ["Ann",42]`;
//! - SQLAlchemy's `[generated in 0.00012s] ('Ann', 42)` (also `[cached
//!   since ...]`, `[raw sql]`, `[no key ...]`, and a dict: `{'name_1':
//!   'Ann'}`);
//! - Knex's `knex:bindings [ 'Ann', 42 ]` and `bindings: [ 'Ann' ]`.
//!
//! The columns they belong to are not beside them (the statement is on
//! another line, or in another field of a JSON log record), so every
//! value is taken: each string's content and each number (not a dict's
//! keys; `NULL`, `null`, `None`, `true` and the placeholders' own numbers
//! stay). Every byte of a text is looked at a bounded number of times,
//! whatever the text.

use super::sql::{ends_with_keyword, number_len, string_end};
use super::{is_blank, line_end, line_start, trim_forward, Profile, C_COLON_OR_EQUALS};
use redactor_scan::census;

/// The shortest text with a bound value: `Row: 1, A` after `<==`.
const BINDINGS_MIN_LEN: usize = 12;

/// How far before a Hibernate value's `[` its line's `binding parameter`
/// or `extracted value` may start (a column's alias lies between).
const HIBERNATE_REACH: usize = 160;

/// Whether a text of `len` bytes with profile `p` may hold bound values:
/// each form has a `:`, or a `[` and a space.
#[inline(always)]
pub(super) fn may_hold_bindings(len: usize, p: Profile) -> bool {
    const BRACKET_AND_SPACE: u8 = census::QUOTE_OR_BRACKET | census::SPACE;
    len >= BINDINGS_MIN_LEN
        && (p.has(C_COLON_OR_EQUALS) || p.marks & BRACKET_AND_SPACE == BRACKET_AND_SPACE)
}

/// Adds the bound values of `text` (see the module's notes), in order.
pub(super) fn find_values(text: &str, out: &mut Vec<(usize, usize)>) {
    let b = text.as_bytes();
    let mut done = 0;
    for at in memchr::memchr2_iter(b':', b'[', b) {
        if at < done {
            continue;
        }
        let read = if b[at] == b':' {
            after_colon(b, at, out)
        } else {
            at_bracket(b, at, out)
        };
        if let Some(end) = read {
            done = end;
        }
    }
}

/// The values read after the `:` at `at`: PostgreSQL's, TypeORM's and
/// MyBatis' `parameters:`, MyBatis' `Row:`, Knex's `bindings:`. Returns
/// where the reading ends.
fn after_colon(b: &[u8], at: usize, out: &mut Vec<(usize, usize)>) -> Option<usize> {
    let after = at + 1;
    let s = trim_forward(b, after);
    if ends_with_keyword(b, at, b"parameters") {
        if b[..at - b"parameters".len()].ends_with(b"==> ") {
            // One space after the `:`; a value may start with another.
            let s = after + usize::from(b.get(after) == Some(&b' '));
            return Some(mybatis_parameters(b, s, out));
        }
        match b.get(s) {
            // PostgreSQL's `$1 = '...'` (a quote doubled inside, a
            // backslash as it is); TypeORM's JSON list.
            Some(b'$') => Some(literals(b, s, false, out)),
            Some(b'[') => Some(literals(b, s, true, out)),
            _ => None,
        }
    } else if ends_with_keyword(b, at, b"row") && s > after {
        // MyBatis' `<==        Row: ...`.
        let before = b[..at - 3].iter().rev().take_while(|&&c| c == b' ').count();
        b[..at - 3 - before]
            .ends_with(b"<==")
            .then(|| mybatis_row(b, s, out))
    } else if ends_with_keyword(b, at, b"bindings") && b.get(s) == Some(&b'[') {
        Some(literals(b, s, true, out))
    } else if ends_with_keyword(b, at, b"knex") && b[after..].starts_with(b"bindings ") {
        let s = trim_forward(b, after + b"bindings ".len());
        (b.get(s) == Some(&b'[')).then(|| literals(b, s, true, out))
    } else {
        None
    }
}

/// SQLAlchemy's statistics before its parameters, after the `[`.
const SQLALCHEMY_STATS: &[&[u8]] = &[b"generated in ", b"cached since ", b"raw sql]", b"no key "];

/// The values read at the `[` at `at`: SQLAlchemy's parameters after its
/// statistics, Hibernate's bound or extracted value. Returns where the
/// reading ends.
fn at_bracket(b: &[u8], at: usize, out: &mut Vec<(usize, usize)>) -> Option<usize> {
    let rest = &b[at + 1..];
    if SQLALCHEMY_STATS.iter().any(|s| rest.starts_with(s)) {
        let end = line_end(b, at);
        let close = at + memchr::memchr(b']', &b[at..end])?;
        let s = trim_forward(b, close + 1);
        return (s > close + 1 && matches!(b.get(s), Some(b'(' | b'{' | b'[')))
            .then(|| literals(b, s, true, out));
    }
    // Hibernate's ` - [`, ` <- [` and ` -> [`.
    let arrow = at >= 3 && b[at - 1] == b' ' && matches!(b[at - 2], b'-' | b'>');
    if !arrow {
        return None;
    }
    let from = at.saturating_sub(HIBERNATE_REACH);
    let before = &b[line_start(b, from, at)..at];
    if memchr::memmem::find(before, b"binding parameter ").is_none()
        && memchr::memmem::find(before, b"extracted value ").is_none()
    {
        return None;
    }
    let end = line_end(b, at);
    // The value runs to the line's last `]` (it may hold others), or to
    // the end of a line cut short.
    let close = memchr::memrchr(b']', &b[at + 1..end]).map_or(end, |n| at + 1 + n);
    let value = &b[at + 1..close];
    if !value.is_empty() && value != b"null" && value != b"<null>" {
        out.push((at + 1, close));
    }
    Some(end)
}

/// Whether a number may start after `c`: not inside a word, nor a
/// placeholder's (`$1`).
fn starts_number_after(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'(' | b'[' | b'{' | b',' | b':' | b'=')
}

/// The content of every string and every number of the list of literals
/// that starts at `b[start]`: to the bracket that closes the one it
/// starts with, or to the line's end when it starts with none
/// (PostgreSQL's `$1 = '...', $2 = ...`); a string ends as
/// [`string_end`] reads it, with `backslashes` or not. A string followed
/// by a `:` is a key and stays. Returns where the list ends.
fn literals(b: &[u8], start: usize, backslashes: bool, out: &mut Vec<(usize, usize)>) -> usize {
    let bracketed = matches!(b[start], b'(' | b'[' | b'{');
    let mut depth = 0usize;
    let mut i = start;
    while i < b.len() {
        match b[i] {
            b'\'' | b'"' => {
                let close = string_end(b, i, backslashes);
                let after = trim_forward(b, (close + 1).min(b.len()));
                if close > i + 1 && b.get(after) != Some(&b':') {
                    out.push((i + 1, close));
                }
                i = close + 1;
                continue;
            }
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => {
                if depth <= 1 && bracketed {
                    return i + 1;
                }
                depth = depth.saturating_sub(1);
            }
            b'\n' | b'\r' if !bracketed => return i,
            b'-' | b'0'..=b'9' if i > start && starts_number_after(b[i - 1]) => {
                let n = number_len(&b[i..]);
                if n > 0 {
                    out.push((i, i + n));
                    i += n;
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    b.len()
}

/// MyBatis' parameters from `start` to the line's end: `value(Type)`
/// items after `, ` (a value may hold `, ` itself: an item ends at a
/// `(Type)` followed by `, ` or the line's end), and `null`. A value
/// without a type runs to the line's end. Returns the line's end.
fn mybatis_parameters(b: &[u8], start: usize, out: &mut Vec<(usize, usize)>) -> usize {
    let end = line_end(b, start);
    let mut item = start;
    while item < end {
        let rest = &b[item..end];
        if rest == b"null" || rest.starts_with(b"null, ") {
            item += b"null, ".len();
            continue;
        }
        // The first `(Type)` that ends the item.
        let typed = memchr::memchr_iter(b'(', rest).find_map(|open| {
            let name = rest[open + 1..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'$'))
                .count();
            let close = open + 1 + name;
            let ends = close + 1 == rest.len() || rest[close + 1..].starts_with(b", ");
            (name > 0 && rest.get(close) == Some(&b')') && ends).then_some((open, close))
        });
        let Some((open, close)) = typed else {
            out.push((item, end));
            break;
        };
        if open > 0 {
            out.push((item, item + open));
        }
        item += close + 1 + b", ".len();
    }
    end
}

/// MyBatis' result row from `start` to the line's end: its columns'
/// values after `, ` (`null` stays). Returns the line's end.
fn mybatis_row(b: &[u8], start: usize, out: &mut Vec<(usize, usize)>) -> usize {
    let end = line_end(b, start);
    let mut item = start;
    while item < end {
        let len = memchr::memmem::find(&b[item..end], b", ").unwrap_or(end - item);
        let value = &b[item..item + len];
        if !value.is_empty() && value != b"null" && !value.iter().all(|&c| is_blank(c)) {
            out.push((item, item + len));
        }
        item += len + b", ".len();
    }
    end
}

#[cfg(test)]
mod tests {
    use super::super::{spans, DetectorKind};

    fn bound(text: &str) -> Vec<&str> {
        let mut v = Vec::new();
        super::find_values(text, &mut v);
        v.into_iter().map(|(s, e)| &text[s..e]).collect()
    }

    #[test]
    fn postgresql_parameters() {
        let text = "2026-12-07 10:00:01 UTC [42] DETAIL:  parameters: $1 = 'Ann', $2 = NULL, \
                    $3 = 'O''Brien', $4 = '42', $5 = ''\nLOG:  x = '1'";
        assert_eq!(bound(text), ["Ann", "O''Brien", "42"]);
        let text = "CONTEXT:  unnamed portal with parameters: $1 = 'ann@example.com'";
        assert_eq!(bound(text), ["ann@example.com"]);
        // Another word before, or no placeholder after.
        for text in [
            "query parameters: {'a': 'b'}",
            "parameters: 'a'",
            "xparameters: $1 = 'a'",
        ] {
            assert!(bound(text).is_empty(), "{text:?}");
        }
    }

    #[test]
    fn hibernate_bindings_and_extracted_values() {
        let text = "TRACE o.h.t.d.s.BasicBinder - binding parameter [1] as [VARCHAR] - [Ann]\n\
                    TRACE BasicBinder - binding parameter [2] as [VARCHAR] - [null]\n\
                    TRACE BasicExtractor - extracted value ([last_na3_0_] : [VARCHAR]) - [Lee [x]]\n\
                    TRACE org.hibernate.orm.jdbc.bind - binding parameter (1:VARCHAR) <- [ann@example.com]\n\
                    TRACE org.hibernate.orm.jdbc.extract - extracted value (2:BIGINT) -> [42]\n\
                    binding parameter [3] as [VARCHAR] - [cut sh";
        assert_eq!(
            bound(text),
            ["Ann", "Lee [x]", "ann@example.com", "42", "cut sh"]
        );
        // Brackets after a dash elsewhere.
        for text in [
            "retry - [attempt 2]",
            "binding parameter [1]\nvalue - [x]",
            "binding parameters [1] - [x]",
        ] {
            assert!(bound(text).is_empty(), "{text:?}");
        }
    }

    #[test]
    fn mybatis_parameters_and_rows() {
        let text = "DEBUG c.e.UserMapper.insert - ==>  Preparing: INSERT INTO users (name, age, note) VALUES (?, ?, ?)\n\
                    DEBUG c.e.UserMapper.insert - ==> Parameters: Lee, Ann(String), 42(Integer), null, x(y)z(String)\n\
                    TRACE c.e.UserMapper.find - <==    Columns: id, first_name, city\n\
                    TRACE c.e.UserMapper.find - <==        Row: 7, Ann, null, Leeds\n\
                    DEBUG c.e.UserMapper.find - <==      Total: 1";
        assert_eq!(
            bound(text),
            ["Lee, Ann", "42", "x(y)z", "7", "Ann", "Leeds"]
        );
        // A value without a type runs to the line's end.
        assert_eq!(bound("==> Parameters: Ann Lee\nx"), ["Ann Lee"]);
        // Not MyBatis'.
        for text in [
            "Parameters: Ann(String)",
            "table Row: 1, 2",
            "<== Total: 1, 2",
        ] {
            assert!(bound(text).is_empty(), "{text:?}");
        }
    }

    #[test]
    fn typeorm_sqlalchemy_and_knex_lists() {
        let text = "query: SELECT * FROM \"user\" WHERE \"email\" = $1 AND \"age\" > $2 \
                    -- PARAMETERS: [\"ann@example.com\",-4.5e1,null,true,\"a\\\"b\"]";
        assert_eq!(bound(text), ["ann@example.com", "-4.5e1", "a\\\"b"]);
        let text = "INFO sqlalchemy.engine.Engine [generated in 0.00012s] ('Ann', 42, None, \
                    datetime.date(1990, 1, 2))\nINFO sqlalchemy.engine.Engine [cached since 2.5s ago] \
                    {'first_name_1': 'Ann', 'param_2': 7}\n[raw sql] ()";
        assert_eq!(bound(text), ["Ann", "42", "1990", "1", "2", "Ann", "7"]);
        let text = "knex:bindings [ 'Ann', 42 ] +0ms { bindings: [ 'Lee' ], sql: 'select 1' }";
        assert_eq!(bound(text), ["Ann", "42", "Lee"]);
        // Another bracket's statistics; a list with no opening.
        for text in [
            "[generated by x] ('Ann')",
            "[generated in 1s] Ann",
            "bindings: none",
        ] {
            assert!(bound(text).is_empty(), "{text:?}");
        }
    }

    #[test]
    fn bound_values_are_personal_and_recur() {
        // Django-like: the statement's values interpolated, then bound.
        let text = "SELECT * FROM users WHERE name = 'Ann' [generated in 0.1s] ('Ann',)";
        assert_eq!(spans(DetectorKind::PersonalParam, text), ["Ann", "Ann"]);
    }

    /// Random values: strings over bytes that quotes, escapes, brackets,
    /// colons and commas make hard, numbers, and the words that stay.
    enum Value {
        Str(String),
        Num(String),
        Word(&'static str),
    }

    fn values(next: &mut impl FnMut() -> u64, max: u64) -> Vec<Value> {
        const PIECES: &[&str] = &[
            "a", "é", " ", ",", ", ", "(", ")", "[", "]", "{", "}", ":", "'", "\"", "\\", "$1",
            "-", "7", "''", "null", "(String)",
        ];
        const NUMBERS: &[&str] = &["42", "-4.5", "1e3", "0"];
        (0..1 + next() % max)
            .map(|_| match next() % 5 {
                0 => Value::Num(NUMBERS[(next() % 4) as usize].to_string()),
                1 => Value::Word(["null", "NULL", "None", "true"][(next() % 4) as usize]),
                _ => Value::Str(
                    (0..next() % 6)
                        .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
                        .collect(),
                ),
            })
            .collect()
    }

    /// Python's `repr` of a string (and JavaScript's inspect, alike).
    fn repr(v: &str) -> String {
        let q = if v.contains('\'') && !v.contains('"') {
            '"'
        } else {
            '\''
        };
        let mut out = String::from(q);
        for c in v.chars() {
            if c == '\\' || c == q {
                out.push('\\');
            }
            out.push(c);
        }
        out.push(q);
        out
    }

    #[test]
    fn lists_give_back_every_value_planted() {
        let mut next = crate::test_texts::xorshift(0xb1d5_0001);
        for round in 0..4000 {
            let vs = values(&mut next, 6);
            // What each dialect writes, and what must come back: a
            // string's written content, a number.
            let mut want = Vec::new();
            let items: Vec<String> = vs
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let (written, content) = match (round % 4, v) {
                        (_, Value::Word(w)) => (w.to_string(), None),
                        (_, Value::Num(n)) => (n.clone(), Some(n.clone())),
                        (0, Value::Str(s)) => {
                            let w = s.replace('\'', "''");
                            (format!("'{w}'"), Some(w))
                        }
                        (1, Value::Str(s)) => {
                            let w = serde_json::to_string(s).unwrap();
                            let inner = w[1..w.len() - 1].to_string();
                            (w, Some(inner))
                        }
                        (_, Value::Str(s)) => {
                            let w = repr(s);
                            let inner = w[1..w.len() - 1].to_string();
                            (w, Some(inner))
                        }
                    };
                    want.extend(content.filter(|c| !c.is_empty()));
                    match round % 4 {
                        0 => format!("${} = {written}", i + 1),
                        3 => format!("'k{i}': {written}"),
                        _ => written,
                    }
                })
                .collect();
            let list = items.join(", ");
            let text = match round % 4 {
                0 => format!("DETAIL:  parameters: {list}\nLOG: '1'"),
                1 => format!("query: SELECT 1 -- PARAMETERS: [{list}] x '1'"),
                2 => format!("sqlalchemy [generated in 0.1s] ({list},) x '1'"),
                _ => format!("sqlalchemy [cached since 2s ago] {{{list}}} x '1'"),
            };
            assert_eq!(bound(&text), want, "{text:?}");
        }
    }

    #[test]
    fn mybatis_and_hibernate_give_back_every_value_planted() {
        let mut next = crate::test_texts::xorshift(0xb1d5_0002);
        for round in 0..4000 {
            let vs = values(&mut next, 5);
            let mut want = Vec::new();
            let text = if round % 2 == 0 {
                // MyBatis: a value with a `(` could end an item early, one
                // that starts with `null, ` be taken for two.
                let items: Vec<String> = vs
                    .iter()
                    .map(|v| match v {
                        Value::Word(_) => "null".to_string(),
                        Value::Num(n) | Value::Str(n) => {
                            let mut n = n.replace('(', "");
                            if n.starts_with("null") {
                                n.insert(0, 'x');
                            }
                            if !n.is_empty() {
                                want.push(n.clone());
                            }
                            format!("{n}(String)")
                        }
                    })
                    .collect();
                format!("DEBUG m - ==> Parameters: {}\n(x)", items.join(", "))
            } else {
                let lines: Vec<String> = vs
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        let value = match v {
                            Value::Word(_) => "null".to_string(),
                            Value::Num(n) | Value::Str(n) => {
                                if !n.is_empty() && n != "null" {
                                    want.push(n.clone());
                                }
                                n.clone()
                            }
                        };
                        if i % 2 == 0 {
                            format!("TRACE b - binding parameter [{i}] as [VARCHAR] - [{value}]")
                        } else {
                            format!("TRACE e - extracted value ({i}:VARCHAR) -> [{value}]")
                        }
                    })
                    .collect();
                lines.join("\n")
            };
            assert_eq!(bound(&text), want, "{text:?}");
        }
    }
}
