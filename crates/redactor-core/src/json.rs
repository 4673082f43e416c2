//! A strict RFC 8259 JSON document model for the reference engine.
//!
//! [`parse`] accepts exactly the texts that `serde_json` accepts into a
//! `serde_json::Value` (numbers are kept as their source text, so there is no
//! range limit), rejects everything else with a byte offset, and never
//! recurses: nesting is tracked on an explicit stack and capped by a depth
//! limit. Objects keep their members in source order, duplicates included.
//! [`write()`] serialises a [`Value`] compactly.

use crate::error::Reject;

/// A parsed JSON value. Object members keep source order and duplicates;
/// numbers keep their exact source text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `null`
    Null,
    /// `true` or `false`
    Bool(bool),
    /// A number, exactly as written in the source (already validated).
    Number(Num),
    /// A string, decoded (escapes resolved).
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// An object: members in source order, duplicates kept.
    Object(Vec<(String, Value)>),
}

impl Value {
    /// The nesting depth of this value: 0 for a scalar, 1 for `[]`, and so on.
    ///
    /// Recursive; call it only on values whose depth is already bounded
    /// (every value produced by [`parse`] is).
    pub fn depth(&self) -> usize {
        match self {
            Value::Array(items) => 1 + items.iter().map(Value::depth).max().unwrap_or(0),
            Value::Object(members) => 1 + members.iter().map(|(_, v)| v.depth()).max().unwrap_or(0),
            _ => 0,
        }
    }
}

/// The text of a number. Up to 22 bytes are stored inline, so a document
/// of many small numbers costs no heap allocation per number.
#[derive(Clone, PartialEq, Eq)]
pub struct Num(NumRepr);

#[derive(Clone, PartialEq, Eq)]
enum NumRepr {
    Inline(u8, [u8; 22]),
    Heap(Box<str>),
}

impl Num {
    /// The number's text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Only ever filled from a `&str` (see `From<&str>`).
            NumRepr::Inline(len, buf) => std::str::from_utf8(&buf[..*len as usize]).unwrap_or(""),
            NumRepr::Heap(s) => s,
        }
    }
}

impl From<&str> for Num {
    fn from(s: &str) -> Num {
        if s.len() <= 22 {
            let mut buf = [0u8; 22];
            buf[..s.len()].copy_from_slice(s.as_bytes());
            Num(NumRepr::Inline(s.len() as u8, buf))
        } else {
            Num(NumRepr::Heap(s.into()))
        }
    }
}

impl From<String> for Num {
    fn from(s: String) -> Num {
        Num::from(s.as_str())
    }
}

impl std::ops::Deref for Num {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Debug for Num {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// JSON whitespace as RFC 8259 defines it.
#[inline]
pub fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// `compact`, the rewritten JSON text of the string `original` held, with
/// the JSON whitespace that `original` had before and after its text put
/// back: a nested JSON text keeps its surroundings (a Docker log line's
/// closing newline), only its inside is written compact.
pub fn with_blank_ends(original: &str, compact: &str) -> String {
    let b = original.as_bytes();
    let lead = b.iter().take_while(|&&c| is_ws(c)).count();
    let trail = b[lead..].iter().rev().take_while(|&&c| is_ws(c)).count();
    let mut out = String::with_capacity(lead + compact.len() + trail);
    out.push_str(&original[..lead]);
    out.push_str(compact);
    out.push_str(&original[original.len() - trail..]);
    out
}

enum Frame {
    Array(Vec<Value>),
    Object(Vec<(String, Value)>, Option<String>),
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    #[cold]
    fn err(&self, what: &'static str) -> Reject {
        Reject::InvalidJson {
            offset: self.pos,
            what,
        }
    }

    fn skip_ws(&mut self) {
        while self.pos < self.s.len() && is_ws(self.s[self.pos]) {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn literal(&mut self, word: &'static [u8], v: Value) -> Result<Value, Reject> {
        for &expected in word {
            match self.peek() {
                Some(b) if b == expected => self.pos += 1,
                None => return Err(self.err("unexpected end of input in literal")),
                Some(_) => return Err(self.err("invalid literal")),
            }
        }
        Ok(v)
    }

    fn number(&mut self) -> Result<Value, Reject> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
            }
            Some(b'1'..=b'9') => {
                while matches!(self.peek(), Some(b'0'..=b'9')) {
                    self.pos += 1;
                }
            }
            None => return Err(self.err("unexpected end of input in number")),
            _ => return Err(self.err("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.err("invalid number: digit expected after '.'"));
            }
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.pos += 1;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.err("invalid number: digit expected in exponent"));
            }
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.pos += 1;
            }
        }
        // The input was validated as UTF-8 and the number is ASCII.
        let text = std::str::from_utf8(&self.s[start..self.pos])
            .map_err(|_| Reject::InvalidUtf8 { offset: start })?;
        Ok(Value::Number(text.into()))
    }

    fn hex4(&mut self) -> Result<u16, Reject> {
        let mut n: u16 = 0;
        for _ in 0..4 {
            let d = match self.peek() {
                Some(b @ b'0'..=b'9') => b - b'0',
                Some(b @ b'a'..=b'f') => b - b'a' + 10,
                Some(b @ b'A'..=b'F') => b - b'A' + 10,
                None => return Err(self.err("unexpected end of input in \\u escape")),
                Some(_) => return Err(self.err("invalid \\u escape")),
            };
            n = (n << 4) | u16::from(d);
            self.pos += 1;
        }
        Ok(n)
    }

    /// Parses a string; `self.pos` is just after the opening quote.
    fn string(&mut self) -> Result<String, Reject> {
        let mut out = String::new();
        loop {
            let run_start = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            // The whole input is valid UTF-8 and a run stops only at ASCII
            // bytes, so the run is valid UTF-8 on its own.
            out.push_str(
                std::str::from_utf8(&self.s[run_start..self.pos])
                    .map_err(|_| Reject::InvalidUtf8 { offset: run_start })?,
            );
            match self.peek() {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let c = match self.peek() {
                        None => return Err(self.err("unterminated string")),
                        Some(c) => c,
                    };
                    self.pos += 1;
                    match c {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let n = self.hex4()?;
                            let ch = match n {
                                0xDC00..=0xDFFF => {
                                    return Err(self.err("lone surrogate in \\u escape"))
                                }
                                0xD800..=0xDBFF => {
                                    if self.peek() != Some(b'\\') {
                                        return Err(self.err("lone surrogate in \\u escape"));
                                    }
                                    self.pos += 1;
                                    if self.peek() != Some(b'u') {
                                        return Err(self.err("lone surrogate in \\u escape"));
                                    }
                                    self.pos += 1;
                                    let lo = self.hex4()?;
                                    if !(0xDC00..=0xDFFF).contains(&lo) {
                                        return Err(self.err("lone surrogate in \\u escape"));
                                    }
                                    let cp = 0x10000
                                        + ((u32::from(n) - 0xD800) << 10)
                                        + (u32::from(lo) - 0xDC00);
                                    char::from_u32(cp)
                                        .ok_or_else(|| self.err("invalid \\u escape"))?
                                }
                                _ => char::from_u32(u32::from(n))
                                    .ok_or_else(|| self.err("invalid \\u escape"))?,
                            };
                            out.push(ch);
                        }
                        _ => {
                            self.pos -= 1;
                            return Err(self.err("invalid escape"));
                        }
                    }
                }
                Some(_) => return Err(self.err("control character in string")),
            }
        }
    }

    /// Parses a scalar or opens a container. Returns `Ok(Some(v))` for a
    /// complete value, `Ok(None)` when a container frame was pushed.
    fn value_start(
        &mut self,
        stack: &mut Vec<Frame>,
        max_depth: usize,
    ) -> Result<Option<Value>, Reject> {
        match self.peek() {
            None => Err(self.err("unexpected end of input, value expected")),
            Some(b'{') | Some(b'[') => {
                if stack.len() >= max_depth {
                    return Err(Reject::TooDeep {
                        offset: self.pos,
                        limit: max_depth,
                    });
                }
                let open = self.s[self.pos];
                self.pos += 1;
                self.skip_ws();
                if open == b'{' {
                    if self.peek() == Some(b'}') {
                        self.pos += 1;
                        return Ok(Some(Value::Object(Vec::new())));
                    }
                    let key = self.key()?;
                    stack.push(Frame::Object(Vec::with_capacity(1), Some(key)));
                } else {
                    if self.peek() == Some(b']') {
                        self.pos += 1;
                        return Ok(Some(Value::Array(Vec::new())));
                    }
                    stack.push(Frame::Array(Vec::with_capacity(1)));
                }
                Ok(None)
            }
            Some(b'"') => {
                self.pos += 1;
                Ok(Some(Value::String(self.string()?)))
            }
            Some(b't') => self.literal(b"true", Value::Bool(true)).map(Some),
            Some(b'f') => self.literal(b"false", Value::Bool(false)).map(Some),
            Some(b'n') => self.literal(b"null", Value::Null).map(Some),
            Some(b'-' | b'0'..=b'9') => self.number().map(Some),
            Some(_) if self.pos == 0 && self.s.starts_with(redactor_scan::BYTE_ORDER_MARK) => {
                Err(self.err(redactor_scan::BOM_REASON))
            }
            Some(_) => Err(self.err("value expected")),
        }
    }

    /// Parses `"key"` `:` with surrounding whitespace; leaves pos at the value.
    fn key(&mut self) -> Result<String, Reject> {
        match self.peek() {
            Some(b'"') => self.pos += 1,
            None => return Err(self.err("unexpected end of input, key expected")),
            Some(_) => return Err(self.err("key must be a string")),
        }
        let k = self.string()?;
        self.skip_ws();
        match self.peek() {
            Some(b':') => self.pos += 1,
            None => return Err(self.err("unexpected end of input, ':' expected")),
            Some(_) => return Err(self.err("':' expected")),
        }
        self.skip_ws();
        Ok(k)
    }
}

/// Parses one JSON text, strictly, with nesting capped at `max_depth`.
///
/// # Errors
///
/// [`Reject::InvalidUtf8`], [`Reject::InvalidJson`] (with the byte offset of
/// the first offending byte) or [`Reject::TooDeep`].
pub fn parse(input: &[u8], max_depth: usize) -> Result<Value, Reject> {
    if let Err(e) = std::str::from_utf8(input) {
        return Err(Reject::InvalidUtf8 {
            offset: e.valid_up_to(),
        });
    }
    let mut p = Parser { s: input, pos: 0 };
    let mut stack: Vec<Frame> = Vec::new();
    p.skip_ws();
    let mut current = p.value_start(&mut stack, max_depth)?;
    loop {
        // Either we hold a complete value to attach, or we just opened a
        // container and must parse its first element.
        let v = match current.take() {
            Some(v) => v,
            None => {
                p.skip_ws();
                current = p.value_start(&mut stack, max_depth)?;
                continue;
            }
        };
        let Some(frame) = stack.last_mut() else {
            p.skip_ws();
            if p.pos != input.len() {
                return Err(p.err("trailing characters after the JSON value"));
            }
            return Ok(v);
        };
        p.skip_ws();
        match frame {
            Frame::Array(items) => {
                items.push(v);
                match p.peek() {
                    Some(b',') => {
                        p.pos += 1;
                        p.skip_ws();
                        current = p.value_start(&mut stack, max_depth)?;
                    }
                    Some(b']') => {
                        p.pos += 1;
                        let Some(Frame::Array(items)) = stack.pop() else {
                            unreachable!()
                        };
                        current = Some(Value::Array(items));
                    }
                    None => return Err(p.err("unexpected end of input in array")),
                    Some(_) => return Err(p.err("',' or ']' expected")),
                }
            }
            Frame::Object(members, pending) => {
                let k = pending.take().unwrap_or_default();
                members.push((k, v));
                match p.peek() {
                    Some(b',') => {
                        p.pos += 1;
                        p.skip_ws();
                        let k = p.key()?;
                        if let Some(Frame::Object(_, pending)) = stack.last_mut() {
                            *pending = Some(k);
                        }
                        current = p.value_start(&mut stack, max_depth)?;
                    }
                    Some(b'}') => {
                        p.pos += 1;
                        let Some(Frame::Object(members, _)) = stack.pop() else {
                            unreachable!()
                        };
                        current = Some(Value::Object(members));
                    }
                    None => return Err(p.err("unexpected end of input in object")),
                    Some(_) => return Err(p.err("',' or '}' expected")),
                }
            }
        }
    }
}

/// Appends `s` as a JSON string literal (with quotes) to `out`.
///
/// Most strings need no escape: that is decided for the whole string by
/// word-at-a-time checks (the last word overlapping the one before, two
/// overlapping halves below eight bytes) and the string is copied whole.
/// Otherwise runs of bytes that need no escape are found eight at a time
/// and copied whole. `write_str_bytewise` is the byte-at-a-time reference
/// both paths are tested against.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    use redactor_scan::bytes::{half, word};
    let bytes = s.as_bytes();
    let n = bytes.len();
    out.reserve(n + 2);
    let clean = if n >= 8 {
        let mut i = 0;
        loop {
            if i + 8 >= n {
                break !needs_escape(word(bytes, n - 8));
            }
            if needs_escape(word(bytes, i)) {
                break false;
            }
            i += 8;
        }
    } else if n >= 4 {
        !needs_escape(half(bytes, 0) | half(bytes, n - 4) << 32)
    } else {
        bytes.iter().all(|&b| escape_of(b).is_none())
    };
    out.push(b'"');
    if clean {
        out.extend_from_slice(bytes);
    } else {
        write_escaped(out, bytes);
    }
    out.push(b'"');
}

/// Whether some byte of the word `x` needs an escape: a control byte, `"`
/// or `\`. Exact (bytes from 0x80 up are never taken for control bytes).
#[inline(always)]
fn needs_escape(x: u64) -> bool {
    use redactor_scan::bytes::{below_mask, splat};
    // A byte below 0x20, or a zero byte where `x` holds `"` or `\`.
    below_mask(x, 0x20) != 0
        || below_mask(x ^ splat(b'"'), 1) != 0
        || below_mask(x ^ splat(b'\\'), 1) != 0
}

/// The content of [`write_str`] for a string that needs escapes.
fn write_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if let Some(chunk) = bytes.get(i..i + 8) {
            let x = u64::from_ne_bytes(chunk.try_into().unwrap_or([0; 8]));
            if !needs_escape(x) {
                i += 8;
                continue;
            }
        }
        // Somewhere in the next eight bytes (or the tail): byte by byte.
        let stop = (i + 8).min(bytes.len());
        while i < stop {
            let b = bytes[i];
            if let Some(esc) = escape_of(b) {
                out.extend_from_slice(&bytes[start..i]);
                out.extend_from_slice(&esc.0[..esc.1]);
                start = i + 1;
            }
            i += 1;
        }
    }
    out.extend_from_slice(&bytes[start..]);
}

/// The escape of byte `b` in a JSON string (bytes and length), or `None`
/// when it stands for itself.
#[inline(always)]
fn escape_of(b: u8) -> Option<([u8; 6], usize)> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let two = |c: u8| Some(([b'\\', c, 0, 0, 0, 0], 2));
    match b {
        b'"' => two(b'"'),
        b'\\' => two(b'\\'),
        b'\n' => two(b'n'),
        b'\r' => two(b'r'),
        b'\t' => two(b't'),
        0x08 => two(b'b'),
        0x0c => two(b'f'),
        0..=0x1f => Some((
            [
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 15) as usize],
            ],
            6,
        )),
        _ => None,
    }
}

/// [`write_str`] one byte at a time: the reference for its fast path.
#[cfg(test)]
fn write_str_bytewise(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for &b in s.as_bytes() {
        match escape_of(b) {
            Some((e, n)) => out.extend_from_slice(&e[..n]),
            None => out.push(b),
        }
    }
    out.push(b'"');
}

/// Appends the compact serialisation of `v` to `out`.
///
/// Recursive in the nesting depth, which [`parse`] bounds.
pub fn write(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => out.extend_from_slice(n.as_bytes()),
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(out, item);
            }
            out.push(b']');
        }
        Value::Object(members) => {
            out.push(b'{');
            for (i, (k, item)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, k);
                out.push(b':');
                write(out, item);
            }
            out.push(b'}');
        }
    }
}

/// Serialises `v` into a new `String`.
pub fn to_string(v: &Value) -> String {
    let mut out = Vec::new();
    write(&mut out, v);
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_str_fast_path_equals_bytewise_and_round_trips() {
        // Every byte that needs an escape, at every position of strings
        // long enough to cross several eight-byte chunks, among plain and
        // multi-byte text.
        let specials: Vec<char> = (0u8..0x20)
            .map(char::from)
            .chain(['"', '\\', '/', '\u{7f}', 'é', '😀'])
            .collect();
        let mut fast = Vec::new();
        let mut slow = Vec::new();
        let mut checked = 0;
        for len in 0..34 {
            for at in 0..len.max(1) {
                for &c in &specials {
                    let s: String = (0..len)
                        .map(|i| {
                            if i == at {
                                c
                            } else {
                                (b'a' + (i % 26) as u8) as char
                            }
                        })
                        .collect();
                    fast.clear();
                    slow.clear();
                    write_str(&mut fast, &s);
                    write_str_bytewise(&mut slow, &s);
                    assert_eq!(fast, slow, "{s:?}");
                    let back = parse(&fast, 4).unwrap();
                    assert_eq!(back, Value::String(s.clone()));
                    checked += 1;
                }
            }
        }
        assert!(checked > 10_000);
        // Two escapes in one chunk, and escapes in consecutive chunks.
        for s in ["a\"\"b", "\n\n\n\n\n\n\n\n\n", "abcdefg\"hijklmn\\op"] {
            fast.clear();
            slow.clear();
            write_str(&mut fast, s);
            write_str_bytewise(&mut slow, s);
            assert_eq!(fast, slow);
        }
    }

    fn ok(s: &str) -> Value {
        parse(s.as_bytes(), 128).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn round_trips_and_preserves() {
        let src = r#"{"b":1,"a":[1.50,-0,2e10,{"x":null}],"a":"dup","s":"\u00e9\n\ud83d\ude00"}"#;
        let v = ok(src);
        assert_eq!(
            to_string(&v),
            "{\"b\":1,\"a\":[1.50,-0,2e10,{\"x\":null}],\"a\":\"dup\",\"s\":\"é\\n😀\"}"
        );
    }

    #[test]
    fn rejects_with_offsets() {
        let cases: &[(&str, usize)] = &[
            ("", 0),
            ("[1,]", 3),
            ("{\"a\" 1}", 5),
            ("01", 1),
            ("[1] x", 4),
            ("\"\\x\"", 2),
            ("\"\\ud800\"", 7),
            ("\"a\u{1}\"", 2),
            ("NaN", 0),
            ("[1.]", 3),
            ("{\"a\":1,}", 7),
        ];
        for &(src, off) in cases {
            match parse(src.as_bytes(), 128) {
                Err(Reject::InvalidJson { offset, .. }) => assert_eq!(offset, off, "{src:?}"),
                other => panic!("{src:?}: {other:?}"),
            }
        }
        assert!(matches!(
            parse(b"\"\xff\"", 128),
            Err(Reject::InvalidUtf8 { offset: 1 })
        ));
    }

    #[test]
    fn depth_limit_without_recursion() {
        let deep = "[".repeat(100_000);
        assert!(matches!(
            parse(deep.as_bytes(), 128),
            Err(Reject::TooDeep { limit: 128, .. })
        ));
        let ok_deep = format!("{}{}", "[".repeat(128), "]".repeat(128));
        assert_eq!(ok(&ok_deep).depth(), 128);
        let too = format!("{}{}", "[".repeat(129), "]".repeat(129));
        assert!(matches!(
            parse(too.as_bytes(), 128),
            Err(Reject::TooDeep { .. })
        ));
    }

    #[test]
    fn escapes_control_characters() {
        let v = Value::String("a\u{1}\u{1f}\"\\/".into());
        assert_eq!(to_string(&v), r#""a\u0001\u001f\"\\/""#);
    }
}
