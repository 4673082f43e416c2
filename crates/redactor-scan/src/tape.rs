//! Stage 2: walk the structural indices, validate the grammar, and record a
//! flat tape of [`Node`]s (spans into the input, no copies).

use crate::arch::fill::Fill;
use crate::arch::Structurals;
use crate::error::ScanError;

/// What a [`Node`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Kind {
    /// `{`: `start` is its offset, `end` the offset after the matching `}`,
    /// `link` the tape index of the matching [`Kind::ObjectEnd`].
    ObjectStart,
    /// `}`: `start` is its offset, `link` the index of the opening node.
    ObjectEnd,
    /// `[`: as [`Kind::ObjectStart`].
    ArrayStart,
    /// `]`: as [`Kind::ObjectEnd`].
    ArrayEnd,
    /// An object key: `start..end` is the content between the quotes;
    /// `link` is 1 when it contains escapes.
    Key,
    /// A string value: as [`Kind::Key`].
    String,
    /// A number: `start..end` is its text.
    Number,
    /// `true`
    True,
    /// `false`
    False,
    /// `null`
    Null,
}

/// One token of a scanned text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node {
    /// What it is.
    pub kind: Kind,
    /// Start offset (see [`Kind`]).
    pub start: u32,
    /// End offset (see [`Kind`]).
    pub end: u32,
    /// Kind-specific link (see [`Kind`]).
    pub link: u32,
}

impl Node {
    /// For keys and strings: whether the content has escapes and must be
    /// decoded (see [`crate::unescape`]) before it is compared or scanned.
    #[inline]
    pub fn has_escapes(&self) -> bool {
        matches!(self.kind, Kind::Key | Kind::String) && self.link != 0
    }

    /// The node's byte range in the input (content only for strings).
    #[inline]
    pub fn span(&self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

#[inline]
fn is_delimiter(b: u8) -> bool {
    matches!(
        b,
        b' ' | b'\t' | b'\n' | b'\r' | b',' | b']' | b'}' | b':' | b'[' | b'{' | b'"'
    )
}

/// The end of the number starting at `pos`, validating RFC 8259 grammar.
#[inline(always)]
fn number_end(s: &[u8], mut i: usize) -> Result<usize, ScanError> {
    let digit = |s: &[u8], i: usize| s.get(i).is_some_and(u8::is_ascii_digit);
    if s.get(i) == Some(&b'-') {
        i += 1;
    }
    match s.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            i += 1;
            while digit(s, i) {
                i += 1;
            }
        }
        _ => return Err(ScanError::syntax(i, "invalid number")),
    }
    if s.get(i) == Some(&b'.') {
        i += 1;
        if !digit(s, i) {
            return Err(ScanError::syntax(
                i,
                "invalid number: digit expected after '.'",
            ));
        }
        while digit(s, i) {
            i += 1;
        }
    }
    if matches!(s.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(s.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digit(s, i) {
            return Err(ScanError::syntax(
                i,
                "invalid number: digit expected in exponent",
            ));
        }
        while digit(s, i) {
            i += 1;
        }
    }
    Ok(i)
}

fn hex4(s: &[u8], i: usize) -> Result<u16, ScanError> {
    let mut n = 0u16;
    for k in 0..4 {
        let d = match s.get(i + k) {
            Some(&b @ b'0'..=b'9') => b - b'0',
            Some(&b @ b'a'..=b'f') => b - b'a' + 10,
            Some(&b @ b'A'..=b'F') => b - b'A' + 10,
            _ => return Err(ScanError::syntax(i + k, "invalid \\u escape")),
        };
        n = (n << 4) | u16::from(d);
    }
    Ok(n)
}

/// Validates the escapes of string content `s[start..end]` (which holds at
/// least one backslash). Control characters were rejected by stage 1.
fn validate_escapes(s: &[u8], start: usize, end: usize) -> Result<(), ScanError> {
    let mut i = start;
    while let Some(off) = crate::bytes::find(&s[i..end], b'\\') {
        i += off + 1;
        match s[i] {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 1,
            b'u' => {
                let n = hex4(s, i + 1)?;
                i += 5;
                match n {
                    0xDC00..=0xDFFF => {
                        return Err(ScanError::syntax(i - 6, "lone surrogate in \\u escape"))
                    }
                    0xD800..=0xDBFF => {
                        if s.get(i) != Some(&b'\\') || s.get(i + 1) != Some(&b'u') {
                            return Err(ScanError::syntax(i, "lone surrogate in \\u escape"));
                        }
                        let lo = hex4(s, i + 2)?;
                        if !(0xDC00..=0xDFFF).contains(&lo) {
                            return Err(ScanError::syntax(i, "lone surrogate in \\u escape"));
                        }
                        i += 6;
                    }
                    _ => {}
                }
            }
            _ => return Err(ScanError::syntax(i, "invalid escape")),
        }
    }
    Ok(())
}

/// Whether the string closed by the quote at `end` holds a backslash:
/// bit `end % 64` of stage 1's mask of block `end / 64` (see
/// `arch::generic::escaped_string_ends`). No loop and no branch: one load.
#[inline(always)]
fn ends_escaped_string(masks: &[u64], end: usize) -> bool {
    masks
        .get(end / 64)
        .is_some_and(|&m| m >> (end % 64) & 1 != 0)
}

/// The node of the key or string whose opening quote is at `pos` and
/// closing quote at `end` (the structural after an opening quote is always
/// its closing quote: stage 1 keeps none inside strings): its content
/// span, its escapes (validated) flagged in `link`.
#[inline(always)]
fn string_node(
    s: &[u8],
    masks: &[u64],
    pos: usize,
    end: usize,
    kind: Kind,
    any_backslash: bool,
) -> Result<Node, ScanError> {
    let has_esc = any_backslash && ends_escaped_string(masks, end);
    if has_esc {
        validate_escapes(s, pos + 1, end)?;
    }
    Ok(Node {
        kind,
        start: pos as u32 + 1,
        end: end as u32,
        link: u32::from(has_esc),
    })
}

/// The inputs and outputs of stage 2 for one text.
#[derive(Debug)]
pub(crate) struct Walk<'a> {
    /// The text.
    pub s: &'a [u8],
    /// Stage 1's structural offsets, and its masks of escaped strings'
    /// closing quotes.
    pub structurals: &'a Structurals,
    /// The nesting limit.
    pub max_depth: usize,
    /// False when the text holds no backslash (then no string has escapes).
    pub any_backslash: bool,
    /// Filled with the nodes.
    pub tape: &'a mut Vec<Node>,
    /// The open containers (reused).
    pub stack: &'a mut Vec<u32>,
}

impl Walk<'_> {
    /// Runs stage 2. Inlined into each backend's entry point, which compiles
    /// it with that backend's target features.
    #[inline(always)]
    pub(crate) fn run(self) -> Result<(), ScanError> {
        walk(
            self.s,
            self.structurals,
            self.max_depth,
            self.any_backslash,
            self.tape,
            self.stack,
        )
    }
}

/// Walks `structurals` of `s`, validating, and fills `tape`. Stage 1's
/// masks of every 64-byte block's closing quotes of strings with a
/// backslash come with the offsets; `any_backslash` is false when the text
/// has none.
///
/// The loops follow the grammar (a value; then, inside a container, a comma
/// or the container's end) instead of dispatching on a state variable, so
/// that branches follow the shape of the document.
#[inline(always)]
fn walk(
    s: &[u8],
    structurals: &Structurals,
    max_depth: usize,
    any_backslash: bool,
    tape: &mut Vec<Node>,
    stack: &mut Vec<u32>,
) -> Result<(), ScanError> {
    stack.clear();
    let masks = structurals.escaped_ends();
    // A string takes two structurals; every other node at least one.
    let mut nodes = Fill::new(tape, structurals.as_slice().len());
    // Stage 1 only records offsets inside its text: the cursor checks
    // that it ran on `s`, and then reads the byte at each offset without a
    // check of its own.
    let Some(mut rest) = structurals.cursor(s) else {
        return Err(ScanError::syntax(
            s.len(),
            "internal error: structural past the end",
        ));
    };
    // Whether the innermost open container is an object (mirrors the top
    // of `stack`, whose entries carry it in `OBJECT_FLAG`).
    let mut in_object = false;
    macro_rules! next {
        () => {{
            match rest.next() {
                Some(found) => found,
                None => return Err(ScanError::syntax(s.len(), "unexpected end of input")),
            }
        }};
    }
    // The key or string opened at `pos`: its closing quote is the next
    // structural, if there is one.
    macro_rules! string {
        ($pos:expr, $kind:expr) => {{
            let pos = $pos;
            match rest.next_offset() {
                Some(end) => string_node(s, masks, pos, end, $kind, any_backslash)?,
                None => return Err(ScanError::syntax(pos, "unterminated string")),
            }
        }};
    }
    // A key at `pos` (already known to be a quote), then its colon; then,
    // when the value is a string (the most common value of a member), that
    // string too. Evaluates to whether it did: the value is complete.
    macro_rules! key_and_colon {
        ($pos:expr) => {{
            let key = string!($pos, Kind::Key);
            let (cpos, c) = next!();
            if c != b':' {
                return Err(ScanError::syntax(cpos, "':' expected"));
            }
            match rest.peek() {
                Some((vpos, b'"')) => {
                    rest.next();
                    // Both nodes with one check of the room.
                    nodes.push2(key, string!(vpos, Kind::String));
                    true
                }
                _ => {
                    nodes.push(key);
                    false
                }
            }
        }};
    }
    'value: loop {
        let (pos, c) = next!();
        // The value's kind by a chain of tests, containers first (the most
        // common value here: `key_and_colon!` takes members' strings),
        // rather than a `match`, which compiled to a jump table whose one
        // indirect branch mispredicted more (+2.0% in `hot scan`).
        if c | 0x20 == b'{' {
            // `{` or `[` (`[` is `{` without bit 5).
            if stack.len() >= max_depth {
                return Err(ScanError::too_deep(pos, max_depth));
            }
            in_object = c == b'{';
            stack.push(nodes.len() as u32 | if in_object { OBJECT_FLAG } else { 0 });
            let kind = if in_object {
                Kind::ObjectStart
            } else {
                Kind::ArrayStart
            };
            nodes.push(Node {
                kind,
                start: pos as u32,
                end: 0,
                link: 0,
            });
            let close_at = rest
                .peek()
                .filter(|&(_, b)| b == if in_object { b'}' } else { b']' });
            if let Some((end_pos, _)) = close_at {
                rest.next();
                let kind = if in_object {
                    Kind::ObjectEnd
                } else {
                    Kind::ArrayEnd
                };
                in_object = close(&mut nodes, stack, end_pos, kind);
            } else if in_object {
                let (kpos, kc) = next!();
                if kc != b'"' {
                    return Err(ScanError::syntax(kpos, "key must be a string"));
                }
                if !key_and_colon!(kpos) {
                    continue 'value;
                }
            } else {
                continue 'value;
            }
        } else if c == b'"' {
            nodes.push(string!(pos, Kind::String));
        } else if matches!(c, b'-' | b'0'..=b'9') {
            let end = number_end(s, pos)?;
            if end < s.len() && !is_delimiter(s[end]) {
                return Err(ScanError::syntax(end, "invalid number"));
            }
            nodes.push(Node {
                kind: Kind::Number,
                start: pos as u32,
                end: end as u32,
                link: 0,
            });
        } else if matches!(c, b't' | b'f' | b'n') {
            let (word, kind): (&[u8], Kind) = match c {
                b't' => (b"true", Kind::True),
                b'f' => (b"false", Kind::False),
                _ => (b"null", Kind::Null),
            };
            let end = pos + word.len();
            if s.get(pos..end) != Some(word) || (end < s.len() && !is_delimiter(s[end])) {
                return Err(ScanError::syntax(pos, "invalid literal"));
            }
            nodes.push(Node {
                kind,
                start: pos as u32,
                end: end as u32,
                link: 0,
            });
        } else {
            return Err(value_expected(s, pos));
        }
        // A value is complete: a comma or the end of its container follows.
        loop {
            if stack.is_empty() {
                return match rest.next_offset() {
                    Some(p) => Err(ScanError::syntax(
                        p,
                        "trailing characters after the JSON value",
                    )),
                    None => {
                        nodes.finish();
                        Ok(())
                    }
                };
            }
            let (pos, c) = next!();
            match (c, in_object) {
                (b',', true) => {
                    let (kpos, kc) = next!();
                    if kc != b'"' {
                        return Err(ScanError::syntax(kpos, "key must be a string"));
                    }
                    if !key_and_colon!(kpos) {
                        continue 'value;
                    }
                }
                (b',', false) => continue 'value,
                (b'}', true) => in_object = close(&mut nodes, stack, pos, Kind::ObjectEnd),
                (b']', false) => in_object = close(&mut nodes, stack, pos, Kind::ArrayEnd),
                (_, true) => return Err(ScanError::syntax(pos, "',' or '}' expected")),
                (_, false) => return Err(ScanError::syntax(pos, "',' or ']' expected")),
            }
        }
    }
}

/// The error for a byte at `pos` that cannot start a value; one that names
/// a UTF-8 byte order mark opening the text, so that a user sees why a file
/// saved with one is rejected (JSON texts have none, RFC 8259 section 8.1).
#[cold]
fn value_expected(s: &[u8], pos: usize) -> ScanError {
    if pos == 0 && s.starts_with(BYTE_ORDER_MARK) {
        ScanError::syntax(0, BOM_REASON)
    } else {
        ScanError::syntax(pos, "value expected")
    }
}

/// U+FEFF in UTF-8.
pub const BYTE_ORDER_MARK: &[u8] = b"\xEF\xBB\xBF";

/// The reason given for a text that opens with [`BYTE_ORDER_MARK`].
pub const BOM_REASON: &str = "byte order mark (U+FEFF) before the JSON text";

/// Marks a stack entry whose container is an object.
const OBJECT_FLAG: u32 = 1 << 31;

/// Closes the innermost container; returns whether the new innermost one is
/// an object.
#[inline(always)]
fn close(nodes: &mut Fill<'_, Node>, stack: &mut Vec<u32>, pos: usize, kind: Kind) -> bool {
    let open = (stack.pop().unwrap_or(0) & !OBJECT_FLAG) as usize;
    let here = nodes.len() as u32;
    nodes.push(Node {
        kind,
        start: pos as u32,
        end: pos as u32 + 1,
        link: open as u32,
    });
    let opening = nodes.get_mut(open);
    opening.end = pos as u32 + 1;
    opening.link = here;
    stack.last().is_some_and(|&e| e & OBJECT_FLAG != 0)
}
