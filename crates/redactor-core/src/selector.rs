//! Selectors: which fields of an event a rule addresses.
//!
//! Grammar (see `docs/configuration.md`):
//!
//! ```text
//! selector := group ( "." group )*
//! group    := step? bracket*          (a leading group may be brackets only)
//! step     := "**" | "*" | bare | quoted
//! bracket  := "[*]" | "[" name "=" name "]"
//! bare     := one or more characters other than . [ ] " = and whitespace,
//!             with no "**" (a "*" among other characters is a wildcard)
//! quoted   := '"' ( any character but " and \ | \" | \\ )* '"'
//! ```
//!
//! `*` is one object key, `**` is zero or more steps of any kind, `[*]` is
//! one array element, and `[key=user.email]` is one array element that is an
//! object whose member `key` is the string `user.email` (OTLP attribute lists).
//! In a bare key or a bracket's bare value, `*` among other characters
//! stands for any run of characters, none included: `*_password` is every
//! key ending in `_password` ([`Glob`]). Quoted names are literal.
//! A selector ends with a step that is not `**`.

/// How keys (and `[member=name]` predicate values) are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MatchMode {
    /// Byte-for-byte after unescaping.
    Exact,
    /// ASCII case-insensitive.
    IgnoreCase,
    /// ASCII case-insensitive, ignoring `$`, `_`, `-`, `.` and spaces:
    /// `firstName`, `first_name` and `$First-Name` are the same key.
    Loose,
}

impl MatchMode {
    /// The name used in policy files.
    pub fn name(self) -> &'static str {
        match self {
            MatchMode::Exact => "exact",
            MatchMode::IgnoreCase => "ignore-case",
            MatchMode::Loose => "loose",
        }
    }

    /// Parses a policy-file name.
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "exact" => Some(MatchMode::Exact),
            "ignore-case" => Some(MatchMode::IgnoreCase),
            "loose" => Some(MatchMode::Loose),
            _ => None,
        }
    }

    /// Normalises a key for comparison under this mode.
    pub fn normalize<'a>(self, key: &'a str) -> std::borrow::Cow<'a, str> {
        match self {
            MatchMode::Exact => key.into(),
            MatchMode::IgnoreCase => {
                if key.bytes().any(|b| b.is_ascii_uppercase()) {
                    key.to_ascii_lowercase().into()
                } else {
                    key.into()
                }
            }
            MatchMode::Loose => {
                if key
                    .bytes()
                    .any(|b| b.is_ascii_uppercase() || loose_ignores(b))
                {
                    key.chars()
                        .filter(|&c| !(c.is_ascii() && loose_ignores(c as u8)))
                        .map(|c| c.to_ascii_lowercase())
                        .collect::<String>()
                        .into()
                } else {
                    key.into()
                }
            }
        }
    }

    /// The bytes of [`MatchMode::normalize`]`(key)`, one at a time, without
    /// building it: byte by byte is char by char, since only ASCII bytes
    /// are dropped or changed.
    fn normalized_bytes(self, key: &str) -> impl Iterator<Item = u8> + '_ {
        key.bytes()
            .filter(move |&b| !(self == MatchMode::Loose && loose_ignores(b)))
            .map(move |b| {
                if self == MatchMode::Exact {
                    b
                } else {
                    b.to_ascii_lowercase()
                }
            })
    }
}

/// Whether [`MatchMode::Loose`] ignores byte `b`.
fn loose_ignores(b: u8) -> bool {
    matches!(b, b'$' | b'_' | b'-' | b'.' | b' ')
}

/// The first bytes of the names that `mode` normalises to `member` (a
/// normalised name): its first byte, in both cases unless `mode` is exact,
/// and the bytes [`MatchMode::Loose`] ignores; every byte for an empty
/// member (a name of ignored bytes only normalises to it).
fn where_first_bytes(mode: MatchMode, member: &str) -> Vec<u8> {
    let Some(&first) = member.as_bytes().first() else {
        return (0..=255).collect();
    };
    let mut bytes = vec![first];
    if mode != MatchMode::Exact {
        bytes.extend([first.to_ascii_lowercase(), first.to_ascii_uppercase()]);
    }
    if mode == MatchMode::Loose {
        bytes.extend((0..=255).filter(|&b| loose_ignores(b)));
    }
    bytes
}

impl MatchMode {
    /// Whether `key` normalises to `normalized` under this mode:
    /// `self.normalize(key) == normalized`, without building the
    /// normalised key.
    pub fn normalizes_to(self, key: &str, normalized: &str) -> bool {
        match self {
            MatchMode::Exact => key == normalized,
            MatchMode::IgnoreCase => {
                key.len() == normalized.len()
                    && key
                        .bytes()
                        .zip(normalized.bytes())
                        .all(|(a, b)| a.to_ascii_lowercase() == b)
            }
            MatchMode::Loose => self.normalized_bytes(key).eq(normalized.bytes()),
        }
    }
}

/// A name with `*` wildcards, each standing for any run of characters
/// (none included), normalised for its selector's mode: `*_password`,
/// `x-*-token`. It is compared with keys normalised the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    /// The literal text between the wildcards: at least two parts (the
    /// first before the first `*`, the last after the last one).
    parts: Vec<String>,
}

impl Glob {
    /// The glob of `normalized`, which holds at least one `*` and no `**`.
    fn new(normalized: &str) -> Glob {
        debug_assert!(normalized.contains('*') && !normalized.contains("**"));
        Glob {
            parts: normalized.split('*').map(str::to_string).collect(),
        }
    }

    /// Whether `text` (normalised for the glob's mode) matches: it starts
    /// with the first part, ends with the last, and holds the parts in
    /// between in order, none overlapping. Taking each middle part at its
    /// leftmost place is enough: a later place leaves less room for the rest.
    pub fn matches(&self, text: &str) -> bool {
        let (first, last) = (&self.parts[0], &self.parts[self.parts.len() - 1]);
        if text.len() < first.len() + last.len()
            || !text.starts_with(first.as_str())
            || !text.ends_with(last.as_str())
        {
            return false;
        }
        let mut rest = &text.as_bytes()[first.len()..text.len() - last.len()];
        for part in &self.parts[1..self.parts.len() - 1] {
            match memchr::memmem::find(rest, part.as_bytes()) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
        true
    }

    /// The glob as written (normalised), with its `*`s.
    pub fn text(&self) -> String {
        self.parts.join("*")
    }
}

/// One step of a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// An object key (stored normalised for the rule's mode).
    Key(String),
    /// An object key matching a name with wildcards: `*_password`.
    KeyGlob(Glob),
    /// `*`: any one object key.
    AnyKey,
    /// `**`: zero or more steps.
    AnyDepth,
    /// `[*]`: any one array element.
    AnyIndex,
    /// `[member=value]`: an array element that is an object whose `member`
    /// is the string `value` (both stored normalised).
    Where {
        /// The member to test, e.g. `key`.
        member: String,
        /// The string it must equal, e.g. `user.email`.
        value: String,
    },
    /// `[member=value]` where `value` has wildcards: `[key=*.password]`.
    WhereGlob {
        /// The member to test, e.g. `key`.
        member: String,
        /// The names its string must match.
        value: Glob,
    },
}

/// A parsed selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    /// The source text.
    pub text: String,
    /// Steps, names normalised for `mode`.
    pub steps: Vec<Step>,
    /// How names compare.
    pub mode: MatchMode,
    /// Whether a dotted key or `[member=value]` value is also matched by
    /// its tails after a dot (see [`Matcher::advance`]): in loose mode, by
    /// default. The policy clears it for `keep` rules, so that allowlist
    /// mode forwards no name it does not list.
    pub tails: bool,
}

fn is_bare(c: char) -> bool {
    !matches!(c, '.' | '[' | ']' | '"' | '*' | '=') && !c.is_whitespace()
}

/// A bare name, normalised: plain, or with wildcards.
enum Bare {
    Name(String),
    Glob(Glob),
}

/// The step or bracket value of a bare `name` (normalised for `mode`):
/// a plain name, or a [`Glob`] when it holds a `*`.
fn name_or_glob(name: &str, column: usize, mode: MatchMode) -> Result<Bare, String> {
    if name.contains("**") {
        return Err(format!(
            "'**' stands alone as a step; a name may hold single '*' wildcards (column {column})"
        ));
    }
    let n = mode.normalize(name).into_owned();
    Ok(if n.contains('*') {
        Bare::Glob(Glob::new(&n))
    } else {
        Bare::Name(n)
    })
}

struct Cursor<'a> {
    s: &'a str,
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<char> {
        self.s[self.i..].chars().next()
    }
    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.i += c.len_utf8();
            true
        } else {
            false
        }
    }
    fn quoted(&mut self) -> Result<String, String> {
        let start = self.i;
        self.i += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(format!(
                        "unterminated quoted name starting at column {}",
                        start + 1
                    ))
                }
                Some('"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some('\\') => {
                    self.i += 1;
                    match self.peek() {
                        Some(c @ ('"' | '\\')) => {
                            out.push(c);
                            self.i += 1;
                        }
                        Some('u') => {
                            let at = self.i;
                            out.push(self.code_point().ok_or_else(|| {
                                format!(
                                    "\\u must be followed by {{1 to 6 hex digits}} naming a character (column {})",
                                    at + 1
                                )
                            })?);
                        }
                        _ => {
                            return Err(format!(
                                "only \\\", \\\\ and \\u{{HEX}} may be escaped in a quoted name (column {})",
                                self.i + 1
                            ))
                        }
                    }
                }
                Some(c) => {
                    out.push(c);
                    self.i += c.len_utf8();
                }
            }
        }
    }
    /// After `\`, at its `u`: `u{HEX}` with 1 to 6 hex digits that name a
    /// character (not a surrogate), as `explain` writes control and format
    /// characters of a key. Moves past it.
    fn code_point(&mut self) -> Option<char> {
        let rest = self.s.get(self.i + 1..)?.strip_prefix('{')?;
        let end = rest.find('}')?;
        let hex = &rest[..end];
        if hex.is_empty() || hex.len() > 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let c = char::from_u32(u32::from_str_radix(hex, 16).ok()?)?;
        self.i += 1 + 1 + end + 1;
        Some(c)
    }
    /// A quoted or bare name; with `stars`, a bare name may hold `*`s.
    /// Returns the name and whether it was bare.
    fn name(&mut self, in_bracket_value: bool, stars: bool) -> Result<(String, bool), String> {
        if self.peek() == Some('"') {
            return Ok((self.quoted()?, false));
        }
        let start = self.i;
        while let Some(c) = self.peek() {
            let ok = if in_bracket_value {
                c != ']' && c != '"' && c != '[' && !c.is_whitespace()
            } else {
                is_bare(c) || (stars && c == '*')
            };
            if !ok {
                break;
            }
            self.i += c.len_utf8();
        }
        if self.i == start {
            return Err(format!("name expected at column {}", start + 1));
        }
        Ok((self.s[start..self.i].to_string(), true))
    }
}

impl Selector {
    /// Parses `text`, normalising names for `mode`.
    ///
    /// # Errors
    ///
    /// A message naming the column and what was expected.
    pub fn parse(text: &str, mode: MatchMode) -> Result<Selector, String> {
        let mut c = Cursor { s: text, i: 0 };
        let mut steps = Vec::new();
        if text.is_empty() {
            return Err("empty selector".into());
        }
        loop {
            let group_start = c.i;
            // The step part of the group.
            match c.peek() {
                Some('[') => {
                    if group_start != 0 {
                        return Err(format!(
                            "'[' must follow a name or '*' (column {})",
                            c.i + 1
                        ));
                    }
                }
                Some('*')
                    if matches!(c.s[c.i + 1..].chars().next(), None | Some('.' | '[' | '*')) =>
                {
                    c.i += 1;
                    if c.eat('*') {
                        if c.peek() == Some('*') {
                            return Err(format!("'***' is not a step (column {})", c.i + 1));
                        }
                        if steps.last() == Some(&Step::AnyDepth) {
                            return Err("'**.**' is redundant".into());
                        }
                        steps.push(Step::AnyDepth);
                    } else {
                        steps.push(Step::AnyKey);
                    }
                    if let Some(ch) = c.peek() {
                        if ch != '.' && ch != '[' {
                            return Err(format!(
                                "'*' must stand alone in a step; found {ch:?} after it (column {})",
                                c.i + 1
                            ));
                        }
                    }
                }
                Some(_) => {
                    let column = c.i + 1;
                    match c.name(false, true)? {
                        (n, true) => steps.push(match name_or_glob(&n, column, mode)? {
                            Bare::Name(n) => Step::Key(n),
                            Bare::Glob(g) => Step::KeyGlob(g),
                        }),
                        (n, false) => steps.push(Step::Key(mode.normalize(&n).into_owned())),
                    }
                }
                None => return Err(format!("name expected at column {}", c.i + 1)),
            }
            // Brackets.
            while c.eat('[') {
                if c.eat('*') {
                    if !c.eat(']') {
                        return Err(format!("']' expected at column {}", c.i + 1));
                    }
                    steps.push(Step::AnyIndex);
                    continue;
                }
                let (member, _) = c.name(false, false)?;
                if !c.eat('=') {
                    return Err(format!(
                        "'=' or '*' expected in brackets at column {}",
                        c.i + 1
                    ));
                }
                let column = c.i + 1;
                let value = c.name(true, true)?;
                if !c.eat(']') {
                    return Err(format!("']' expected at column {}", c.i + 1));
                }
                let member = mode.normalize(&member).into_owned();
                steps.push(match value {
                    (v, true) => match name_or_glob(&v, column, mode)? {
                        Bare::Name(value) => Step::Where { member, value },
                        Bare::Glob(value) => Step::WhereGlob { member, value },
                    },
                    (v, false) => Step::Where {
                        member,
                        value: mode.normalize(&v).into_owned(),
                    },
                });
            }
            match c.peek() {
                None => break,
                Some('.') => {
                    c.i += 1;
                }
                Some(ch) => return Err(format!("unexpected {ch:?} at column {}", c.i + 1)),
            }
        }
        if steps.last() == Some(&Step::AnyDepth) {
            return Err("a selector cannot end with '**'".into());
        }
        Ok(Selector {
            text: text.to_string(),
            steps,
            mode,
            tails: mode == MatchMode::Loose,
        })
    }
}

/// One element of a path from the root of a JSON text to a node.
#[derive(Debug, Clone, Copy)]
pub enum PathElem<'a> {
    /// An object member, by its decoded key.
    Key(&'a str),
    /// An array element, with the names and decoded values of its
    /// string-valued members when it is an object (for `[member=value]`).
    Index(usize, &'a [(&'a str, &'a str)]),
}

/// Selector ids indexed by a normalised name.
/// (FxHash: keys are short; SipHash measured as a visible share of
/// matching time.)
type IdsByName = rustc_hash::FxHashMap<String, Vec<u32>>;

/// A hash of the bytes of a normalised key, fed one at a time so that a key
/// can be hashed as it normalises (see [`Matcher::names`]).
/// The tails of `key` after each of its dots, longest first, as loose mode
/// also matches a key: `client.geo.city_name` gives `geo.city_name` and
/// `city_name`. An empty tail (a key ending with a dot) is left out.
fn dot_tails(key: &str) -> impl Iterator<Item = &str> {
    key.match_indices('.')
        .map(move |(i, _)| &key[i + 1..])
        .filter(|t| !t.is_empty())
}

/// The forms of a `[member=value]` field's value that a selector compares:
/// the value, and with `tails` (see [`Selector::tails`]) its [`dot_tails`]
/// too (an OTLP attribute named `app.user.first_name` is a `first_name`).
fn value_forms(tails: bool, value: &str) -> impl Iterator<Item = &str> {
    let tails = (tails && value.contains('.')).then(|| dot_tails(value));
    std::iter::once(value).chain(tails.into_iter().flatten())
}

fn word_hash(bytes: impl Iterator<Item = u8>) -> u64 {
    const K: u64 = 0xf135_7aea_2e62_a9c5;
    bytes.fold(0u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(K).rotate_left(26)
    })
}

/// The value of `key` in the small association list `list`, added (as
/// `V::default()`) when missing.
fn entry<K: PartialEq, V: Default>(list: &mut Vec<(K, V)>, key: K) -> &mut V {
    let i = match list.iter().position(|(k, _)| *k == key) {
        Some(i) => i,
        None => {
            list.push((key, V::default()));
            list.len() - 1
        }
    };
    &mut list[i].1
}

/// Globs of floating selectors (each with its selector), grouped by what
/// normalises the text they are compared with.
type GlobsBy<K> = Vec<(K, GlobSet<u32>)>;

/// Globs, each with a value, indexed by the byte their text must end with:
/// a text is tested only against the globs whose last part ends with its
/// last byte and those that end with `*`, not against all of them (the
/// preset globs are name endings, `*password`, `*_token`: most keys end
/// with a byte none of them does), and of those, only against the globs
/// whose last part's last eight bytes it ends with (`name` and `*otpcode`
/// share the `e`, not the `de`).
#[derive(Debug, Clone)]
pub(crate) struct GlobSet<T> {
    globs: Vec<(Glob, T)>,
    /// Per byte value: the globs whose last part ends with it, each as the
    /// last (up to) eight bytes of that part ([`tail_word`]) and its index
    /// into `globs`: a text whose own last bytes differ is turned away
    /// with one comparison, before any call to compare the whole part.
    by_last: Vec<Vec<(TailWord, u32)>>,
    /// The indices of the globs whose last part is empty (they end with a
    /// `*`, so any last byte will do).
    open_end: Vec<u32>,
}

impl<T> Default for GlobSet<T> {
    fn default() -> Self {
        GlobSet {
            globs: Vec::new(),
            by_last: vec![Vec::new(); 256],
            open_end: Vec::new(),
        }
    }
}

impl<T> GlobSet<T> {
    fn push(&mut self, glob: Glob, value: T) {
        let i = self.globs.len() as u32;
        let last = glob.parts[glob.parts.len() - 1].as_bytes();
        match last.last() {
            Some(&b) => self.by_last[usize::from(b)].push((tail_word(last), i)),
            None => self.open_end.push(i),
        }
        self.globs.push((glob, value));
    }

    /// Whether `text` matches some glob.
    fn any_matches(&self, text: &str) -> bool {
        self.matching(text).next().is_some()
    }

    /// The value of every glob that `text` matches, in no particular order.
    fn matching<'s>(&'s self, text: &'s str) -> impl Iterator<Item = &'s T> + 's {
        let tail: &[(TailWord, u32)] = match text.as_bytes().last() {
            Some(&b) => &self.by_last[usize::from(b)],
            None => &[],
        };
        let (word, len) = tail_word(text.as_bytes());
        tail.iter()
            .filter(move |&&((w, n), _)| n <= len && (word ^ w) & tail_mask(n) == 0)
            .map(|&(_, i)| i)
            .chain(self.open_end.iter().copied())
            .map(|i| &self.globs[i as usize])
            .filter(move |(g, _)| g.matches(text))
            .map(|(_, v)| v)
    }
}

/// The last (up to) eight bytes of a text, right-aligned in a word (the
/// last byte in the top byte), and how many there are.
type TailWord = (u64, usize);

/// The [`TailWord`] of `b`.
fn tail_word(b: &[u8]) -> TailWord {
    let n = b.len().min(8);
    let w = b[b.len() - n..]
        .iter()
        .fold(0u64, |w, &c| (w >> 8) | (u64::from(c) << 56));
    (w, n)
}

/// The bits of the top `n` bytes of a word (`n` at most 8).
fn tail_mask(n: usize) -> u64 {
    match n {
        0 => 0,
        n => u64::MAX << (64 - 8 * n),
    }
}

/// A fast hash of a normalised key, compared before the key itself.
fn key_hash(k: &str) -> u64 {
    use std::hash::BuildHasher;
    rustc_hash::FxBuildHasher.hash_one(k)
}

/// The string-valued fields of an array element, as
/// [`Matcher::cached_index`] reads them.
pub trait ElementFields {
    /// Hands each string-valued field (name, value) to `sink`, in order;
    /// none when the element is not an object.
    fn each(&self, sink: impl FnMut(&str, &str));
}

/// An element whose fields are not read (the policy has no
/// `[member=value]` step).
impl ElementFields for () {
    fn each(&self, _: impl FnMut(&str, &str)) {}
}

/// A state of the selector automaton: (selector index, step index).
pub type State = (u32, u16);

/// All selectors of a policy, compiled for simultaneous matching.
///
/// Matching is an NFA simulation: each node's state set is derived from its
/// parent's by one [`Matcher::advance`]; a node is selected by rule `r` when a
/// state of one of `r`'s selectors has consumed every step.
///
/// Selectors that start with `**` ("floating" selectors, most preset rules)
/// would otherwise keep a live state at every node. They are not stored in
/// state sets at all: their second step is indexed (exact keys and
/// `[member=value]` predicates by normalised name), so the cost per node is a
/// few hash lookups however many such selectors there are. `naive_advance`
/// keeps the plain simulation as the reference the index is tested against.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    sels: Vec<(usize, Selector)>,
    /// Floating selectors whose second step is `Key`: per mode, by key.
    float_keys: Vec<(MatchMode, IdsByName)>,
    /// Floating selectors whose second step is `[member=value]`, by
    /// (mode, member) and then value.
    float_where: Vec<((MatchMode, String), IdsByName)>,
    /// Floating selectors whose second step is a key with wildcards: per
    /// mode, (name, selector).
    float_key_globs: GlobsBy<MatchMode>,
    /// Floating selectors whose second step is `[member=value]` with
    /// wildcards in `value`: per (mode, member), (value, selector).
    float_where_globs: GlobsBy<(MatchMode, String)>,
    /// Floating selectors whose second step is `*`.
    float_any_key: Vec<u32>,
    /// Floating selectors whose second step is `[*]`.
    float_any_index: Vec<u32>,
    /// Whether any selector has a `[member=value]` step (callers may skip
    /// collecting element fields otherwise).
    pub has_where: bool,
    /// Every `[member=value]` member name, with its selector's mode
    /// (normalised): an element field named otherwise never matters.
    where_members: Vec<(MatchMode, String)>,
    /// The bytes a field name that is one of `where_members` can start
    /// with (bit `b % 64` of word `b / 64`): a name starting otherwise is
    /// none of them, told without normalising it.
    where_first: [u64; 4],
    /// Per selector, per step: the hash of a `Key` step's name (0 otherwise).
    step_hash: Vec<Vec<u64>>,
    /// Per mode: the [`word_hash`] of every `Key` step's name. A key whose
    /// normalised form is in none of them is named by no selector: every
    /// such key leads from a set to the same set ([`Matcher::names`]).
    key_words: Vec<(MatchMode, rustc_hash::FxHashSet<u64>)>,
    /// Per mode: every `KeyGlob` step's name. A key one of them matches
    /// is named too.
    key_globs: Vec<(MatchMode, GlobSet<()>)>,
    /// The start state set, computed once.
    start: std::sync::OnceLock<Vec<State>>,
    /// Whether the index is used (false only in tests of the naive path).
    naive: bool,
    /// Identifies this matcher's automaton for [`MatchCache`]s.
    id: u64,
}

static NEXT_MATCHER_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

fn fresh_id() -> u64 {
    NEXT_MATCHER_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// A lazily built deterministic automaton over a [`Matcher`]: state sets are
/// interned as ids, and each (set, key) transition and each set's rule
/// choice is computed once and then looked up. Keep one per thread. It is
/// bounded: past [`MatchCache::MAX_ENTRIES`] transitions, or
/// [`MatchCache::MAX_KEY_BYTES`] of keys held in full, it starts afresh, so
/// keys of unbounded variety (ids used as keys) or size cannot grow it
/// forever.
#[derive(Debug, Default)]
pub struct MatchCache {
    matcher: u64,
    sets: Vec<Vec<State>>,
    ids: rustc_hash::FxHashMap<Vec<State>, u32>,
    by_key: crate::keytable::KeyTable,
    choice: Vec<[Option<Option<usize>>; 2]>,
    /// Per set: the set reached by an array element with no string fields.
    by_plain_index: Vec<Option<u32>>,
    /// Per set: the set reached by a key no selector names.
    by_other_key: Vec<Option<u32>>,
    /// The set reached from a set by an element, by the element's fields
    /// that `[member=value]` steps name (each name and value after its
    /// length, the bytes looked up as a key is).
    by_where: crate::keytable::KeyTable,
    /// Reused to build `by_where` lookup keys.
    scratch: Vec<u8>,
    /// The root's set, once interned.
    start: Option<u32>,
    entries: usize,
    /// Bytes of the `by_where` lookup keys.
    where_bytes: usize,
    /// Who owns the notes on keys and values ([`MatchCache::claim`]).
    owner: u64,
    /// Strings the owner's detectors found nothing in.
    clean_values: CleanValues,
    /// Strings the owner's detectors rewrote, with what they made of them.
    rewrites: Rewrites,
}

/// Short strings the detectors found nothing in, noted so that the same
/// string met again (an event name, a browser, a library version: most of
/// the strings no rule handles recur from event to event) is not searched
/// again. A direct-mapped table: each string has one slot, by its hash,
/// holding the last string noted there, compared whole on lookup. Fixed
/// size, allocated on the first note.
#[derive(Default)]
struct CleanValues {
    slots: Vec<CleanSlot>,
}

/// Not the strings: only how many slots there are.
impl std::fmt::Debug for CleanValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CleanValues")
            .field("slots", &self.slots.len())
            .finish_non_exhaustive()
    }
}

/// One slot of [`CleanValues`]: a string of 1 to [`CleanValues::MAX_LEN`]
/// bytes, or none (`len` 0). Half a cache line: most strings that recur
/// are short (browsers, OS names, event names, versions), and a table of
/// 32-byte slots keeps more of them in the CPU's caches than one of
/// 64-byte slots with room for longer strings, whose misses cost more than
/// the detectors' passes over the few longer strings that recur.
#[derive(Clone, Copy)]
#[repr(C, align(32))]
struct CleanSlot {
    len: u8,
    bytes: [u8; CleanValues::MAX_LEN],
}

/// The slot of `text` in a direct-mapped table of `slots` slots (a power
/// of two).
#[inline]
fn slot_of(text: &[u8], slots: usize) -> usize {
    use std::hash::BuildHasher;
    let h = rustc_hash::FxBuildHasher.hash_one(text);
    // The high bits: FxHash mixes into those best.
    (h >> (64 - slots.trailing_zeros())) as usize
}

/// Whether `a` and `b`, of the same length (at most 31 bytes), are equal:
/// a word at a time, the last word overlapping the one before (two
/// overlapping halves below eight bytes), inline instead of a `memcmp`
/// call.
#[inline(always)]
fn same_short(a: &[u8], b: &[u8]) -> bool {
    use redactor_scan::bytes::{half, word};
    let n = a.len();
    debug_assert_eq!(n, b.len());
    if n >= 8 {
        let mut diff = word(a, n - 8) ^ word(b, n - 8);
        let mut i = 0;
        while i + 8 < n {
            diff |= word(a, i) ^ word(b, i);
            i += 8;
        }
        diff == 0
    } else if n >= 4 {
        (half(a, 0) ^ half(b, 0)) | (half(a, n - 4) ^ half(b, n - 4)) == 0
    } else {
        a == b
    }
}

impl CleanValues {
    /// The longest string noted (bytes).
    const MAX_LEN: usize = 31;
    /// Slots (a power of two).
    const SLOTS: usize = 4096;

    #[inline]
    fn slot_of(text: &[u8]) -> usize {
        slot_of(text, Self::SLOTS)
    }

    #[inline]
    fn contains(&self, text: &[u8]) -> bool {
        let n = text.len();
        if n == 0 || n > Self::MAX_LEN || self.slots.is_empty() {
            return false;
        }
        let slot = &self.slots[Self::slot_of(text)];
        usize::from(slot.len) == n && same_short(&slot.bytes[..n], text)
    }

    fn note(&mut self, text: &[u8]) {
        let n = text.len();
        if n == 0 || n > Self::MAX_LEN {
            return;
        }
        if self.slots.is_empty() {
            self.slots = vec![
                CleanSlot {
                    len: 0,
                    bytes: [0; Self::MAX_LEN],
                };
                Self::SLOTS
            ];
        }
        let slot = &mut self.slots[Self::slot_of(text)];
        slot.len = n as u8;
        slot.bytes[..n].copy_from_slice(text);
    }
}

/// Short strings the detectors rewrote, each with its rewritten text and
/// the detectors that matched in it, in order: the same string met again
/// (a host name with an address in it, sent with every event of a host)
/// is rewritten from here, its matches counted again, without a search.
/// The detectors' actions are functions of the matched text alone, so the
/// rewrite is the one a search would give. A direct-mapped table like
/// [`CleanValues`]'s, of fewer, larger slots; allocated on the first note.
#[derive(Default)]
struct Rewrites {
    slots: Vec<RewriteSlot>,
}

/// Not the strings: only how many slots there are.
impl std::fmt::Debug for Rewrites {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rewrites")
            .field("slots", &self.slots.len())
            .finish_non_exhaustive()
    }
}

/// One slot of [`Rewrites`]: a string of 1 to [`CleanValues::MAX_LEN`]
/// bytes (none when `len` is 0), what the detectors made of it (up to
/// [`Rewrites::MAX_OUT`] bytes) and the index of each detector that
/// matched (up to [`Rewrites::MAX_MATCHES`], each below 256). Two cache
/// lines.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct RewriteSlot {
    len: u8,
    text: [u8; CleanValues::MAX_LEN],
    out_len: u8,
    matches: u8,
    detectors: [u8; Rewrites::MAX_MATCHES],
    out: [u8; Rewrites::MAX_OUT],
}

const EMPTY_REWRITE: RewriteSlot = RewriteSlot {
    len: 0,
    text: [0; CleanValues::MAX_LEN],
    out_len: 0,
    matches: 0,
    detectors: [0; Rewrites::MAX_MATCHES],
    out: [0; Rewrites::MAX_OUT],
};

impl Rewrites {
    /// The most matches a noted string may have.
    const MAX_MATCHES: usize = 6;
    /// The longest rewritten text noted (bytes).
    const MAX_OUT: usize = 88;
    /// Slots (a power of two). Few: a slot is probed for every short
    /// string not noted clean, most strings with matches do not recur, and
    /// a table that stays in the L1 cache costs the other strings least
    /// (256 slots, 32 KiB, measured 0.988 in `hot fast` on the mixed
    /// corpus; 64 measured 0.997 and +3.1% on OpenTelemetry events).
    const SLOTS: usize = 64;

    #[inline]
    fn get(&self, text: &[u8]) -> Option<(&str, &[u8])> {
        let n = text.len();
        if n == 0 || n > CleanValues::MAX_LEN || self.slots.is_empty() {
            return None;
        }
        let slot = &self.slots[slot_of(text, Self::SLOTS)];
        if usize::from(slot.len) != n || !same_short(&slot.text[..n], text) {
            return None;
        }
        // Only whole strings are noted; a slot that is not one (never
        // expected) is a miss.
        let out = std::str::from_utf8(&slot.out[..usize::from(slot.out_len)]).ok()?;
        Some((out, &slot.detectors[..usize::from(slot.matches)]))
    }

    fn note(&mut self, text: &[u8], out: &str, detectors: &[usize]) {
        let n = text.len();
        if n == 0
            || n > CleanValues::MAX_LEN
            || out.len() > Self::MAX_OUT
            || detectors.len() > Self::MAX_MATCHES
            || detectors.iter().any(|&d| d > usize::from(u8::MAX))
        {
            return;
        }
        if self.slots.is_empty() {
            self.slots = vec![EMPTY_REWRITE; Self::SLOTS];
        }
        let slot = &mut self.slots[slot_of(text, Self::SLOTS)];
        slot.len = n as u8;
        slot.text[..n].copy_from_slice(text);
        slot.out_len = out.len() as u8;
        slot.out[..out.len()].copy_from_slice(out.as_bytes());
        slot.matches = detectors.len() as u8;
        for (to, &d) in slot.detectors.iter_mut().zip(detectors) {
            *to = d as u8;
        }
    }
}

/// In a `by_key` value: the owner noted that the key is clean.
const KEY_NOTED: u32 = 1 << 31;

impl MatchCache {
    /// Transitions kept before the cache starts afresh: a key table of
    /// 1 MiB. Ordinary telemetry needs a few hundred; ids used as keys
    /// would otherwise grow it, and the further it grows, the more of its
    /// lookups miss the CPU's caches.
    pub const MAX_ENTRIES: usize = 1 << 14;
    /// Bytes of keys held in full (object keys over 16 bytes, and the
    /// field values that `[member=value]` steps compare) kept before the
    /// cache starts afresh.
    pub const MAX_KEY_BYTES: usize = 2 << 20;
    /// The key table's allocation kept when the cache starts afresh:
    /// [`MatchCache::MAX_ENTRIES`] transitions take up to 64 Ki slots of
    /// 32 bytes, and the long keys up to twice [`MatchCache::MAX_KEY_BYTES`].
    const KEPT_TABLE_BYTES: usize = (2 << 20) + 2 * Self::MAX_KEY_BYTES;

    fn reset_for(&mut self, m: &Matcher) {
        if self.matcher != m.id
            || self.entries > Self::MAX_ENTRIES
            || self.by_key.long_key_bytes() + self.where_bytes > Self::MAX_KEY_BYTES
        {
            // The key table's allocation is kept, up to the size the
            // bounds let it reach (one line may take it further): it would
            // grow to the same size again.
            let mut by_key = std::mem::take(&mut self.by_key);
            if by_key.heap_bytes() <= Self::KEPT_TABLE_BYTES {
                by_key.clear();
            } else {
                by_key = crate::keytable::KeyTable::default();
            }
            *self = MatchCache {
                matcher: m.id,
                owner: self.owner,
                by_key,
                ..MatchCache::default()
            };
        }
    }

    /// Makes `owner` (a number unique to one user of the cache, such as
    /// one engine instance) the owner of the notes on keys
    /// ([`Matcher::note_key`]) and values ([`MatchCache::note_clean_value`]);
    /// another owner's notes are forgotten, with everything else.
    pub fn claim(&mut self, owner: u64) {
        if self.owner != owner {
            *self = MatchCache {
                owner,
                ..MatchCache::default()
            };
        }
    }

    fn intern(&mut self, set: Vec<State>) -> u32 {
        if let Some(&id) = self.ids.get(&set) {
            return id;
        }
        let id = self.sets.len() as u32;
        self.ids.insert(set.clone(), id);
        self.sets.push(set);
        self.choice.push([None, None]);
        self.by_plain_index.push(None);
        self.by_other_key.push(None);
        id
    }

    /// Whether the owner noted `text` with
    /// [`MatchCache::note_clean_value`] (and the note is still kept: one
    /// string per slot, strings of up to 31 bytes).
    #[inline]
    pub fn is_clean_value(&self, text: &str) -> bool {
        self.clean_values.contains(text.as_bytes())
    }

    /// Notes, for the owner, who gives the note its meaning (its detectors
    /// found nothing in `text`), that `text` is clean.
    pub fn note_clean_value(&mut self, text: &str) {
        self.clean_values.note(text.as_bytes());
    }

    /// What the owner's detectors made of `text`, and the index of each
    /// detector that matched, in order, when noted with
    /// [`MatchCache::note_rewrite`].
    #[inline]
    pub fn rewrite_of(&self, text: &str) -> Option<(&str, &[u8])> {
        self.rewrites.get(text.as_bytes())
    }

    /// Notes, for the owner, who gives the note its meaning, that its
    /// detectors rewrote `text` to `out`, the detectors numbered in
    /// `detectors` matching (in order). Only short strings are noted, with
    /// a short rewrite and a few matches; others are left out.
    pub fn note_rewrite(&mut self, text: &str, out: &str, detectors: &[usize]) {
        self.rewrites.note(text.as_bytes(), out, detectors);
    }

    /// The states of set `id`.
    pub fn set(&self, id: u32) -> &[State] {
        &self.sets[id as usize]
    }

    /// The rule choice of set `id` for a node that is a `container` or
    /// not, when [`MatchCache::choice`] computed it.
    #[inline]
    pub fn known_choice(&self, id: u32, container: bool) -> Option<Option<usize>> {
        self.choice[id as usize][usize::from(container)]
    }

    /// The set reached from set `from` by object key `key`, and whether
    /// the owner noted the key clean ([`Matcher::note_key`]), when the
    /// transition is cached; None otherwise (nothing is computed).
    #[inline(always)]
    pub fn known_key(&self, from: u32, key: &[u8]) -> Option<(u32, bool)> {
        self.by_key
            .get(from, key)
            .map(|to| (to & !KEY_NOTED, to & KEY_NOTED != 0))
    }

    /// The set reached from set `from` by an array element with no string
    /// fields, when cached ([`Matcher::cached_index`]).
    #[inline]
    pub fn plain_index(&self, from: u32) -> Option<u32> {
        self.by_plain_index[from as usize]
    }

    /// The rule choice of set `id` for a node that is a `container` (an
    /// object or an array) or not, computed by `choose` on first use.
    pub fn choice(
        &mut self,
        id: u32,
        container: bool,
        choose: impl FnOnce(&[State], bool) -> Option<usize>,
    ) -> Option<usize> {
        let slot = usize::from(container);
        if let Some(c) = self.choice[id as usize][slot] {
            return c;
        }
        let c = choose(&self.sets[id as usize], container);
        self.choice[id as usize][slot] = Some(c);
        c
    }
}

impl Matcher {
    /// The id of the root's state set in `cache` (resetting the cache when
    /// it belongs to another matcher or is full).
    pub fn cached_start(&self, cache: &mut MatchCache) -> u32 {
        cache.reset_for(self);
        if let Some(id) = cache.start {
            return id;
        }
        let id = cache.intern(self.start());
        cache.start = Some(id);
        id
    }

    /// Whether `key` may be named by some selector's `Key` or `KeyGlob`
    /// step: false when its normalised form, in every mode a `Key` step
    /// uses, is none of theirs (by hash, so a true answer may be wrong; a
    /// false one never is) and no glob matches it. Nothing is allocated,
    /// unless a glob is tested against a key that its mode changes.
    pub fn names(&self, key: &str) -> bool {
        self.names_in(key, None)
            || (key.contains('.')
                && dot_tails(key).any(|t| self.names_in(t, Some(MatchMode::Loose))))
    }

    /// [`Matcher::names`] of `key` itself, by the selectors of mode `only`
    /// (of every mode when `None`).
    fn names_in(&self, key: &str, only: Option<MatchMode>) -> bool {
        // Most keys no selector names (ids used as keys) are the same in
        // every mode: they are hashed once, and not copied for the globs.
        let b = key.as_bytes();
        // One pass without early exits, which the compiler vectorises.
        let (upper, ignored) = b.iter().fold((false, false), |(u, i), &c| {
            (u | c.is_ascii_uppercase(), i | loose_ignores(c))
        });
        let ignored = upper | ignored;
        let changes = |mode| match mode {
            MatchMode::Exact => false,
            MatchMode::IgnoreCase => upper,
            MatchMode::Loose => ignored,
        };
        let mut plain = None;
        let wanted = |mode| only.is_none_or(|o| o == mode);
        self.key_words.iter().any(|&(mode, ref words)| {
            if !wanted(mode) {
                return false;
            }
            let hash = if changes(mode) {
                word_hash(mode.normalized_bytes(key))
            } else {
                *plain.get_or_insert_with(|| word_hash(b.iter().copied()))
            };
            words.contains(&hash)
        }) || self.key_globs.iter().any(|&(mode, ref globs)| {
            if !wanted(mode) {
                false
            } else if changes(mode) {
                globs.any_matches(&mode.normalize(key))
            } else {
                globs.any_matches(key)
            }
        })
    }

    /// Whether some `[member=value]` step names a field called `name`
    /// (other fields of an array element never affect matching).
    pub fn is_where_member(&self, name: &str) -> bool {
        // Most fields of an element are named otherwise from their first
        // byte on (an empty name is left to the comparison).
        if let Some(&b) = name.as_bytes().first() {
            if self.where_first[usize::from(b / 64)] >> (b % 64) & 1 == 0 {
                return false;
            }
        }
        self.where_members
            .iter()
            .any(|(mode, member)| mode.normalizes_to(name, member))
    }

    /// The set reached from set `from` by object key `key`.
    pub fn cached_key(&self, cache: &mut MatchCache, from: u32, key: &str) -> u32 {
        self.cached_key_noted(cache, from, key).0
    }

    /// [`Matcher::cached_key`], and whether the cache's owner noted the
    /// key with [`Matcher::note_key`] (in the same lookup).
    #[inline]
    pub fn cached_key_noted(&self, cache: &mut MatchCache, from: u32, key: &str) -> (u32, bool) {
        match cache.known_key(from, key.as_bytes()) {
            Some(known) => known,
            None => (self.cache_key(cache, from, key), false),
        }
    }

    /// Computes and caches the transition of `key` from set `from` (not
    /// cached yet): the lookups' slow path, kept out of their callers.
    #[inline(never)]
    fn cache_key(&self, cache: &mut MatchCache, from: u32, key: &str) -> u32 {
        // A key no selector names (ids used as keys, most custom fields)
        // leads where every other such key does: the set is derived once.
        // The key is still cached, so that notes on it can be kept.
        let other = !self.names(key);
        let to = match cache.by_other_key[from as usize] {
            Some(to) if other => to,
            _ => {
                let mut out = Vec::new();
                self.advance(&cache.sets[from as usize], PathElem::Key(key), &mut out);
                let to = cache.intern(out);
                if other {
                    cache.by_other_key[from as usize] = Some(to);
                }
                to
            }
        };
        cache.by_key.insert(from, key.as_bytes(), to);
        cache.entries += 1;
        to
    }

    /// Notes the transition of `key` from set `from` (already cached) for
    /// the cache's owner, who gives the note its meaning.
    pub fn note_key(&self, cache: &mut MatchCache, from: u32, key: &str) {
        if let Some(to) = cache.by_key.get_mut(from, key.as_bytes()) {
            *to |= KEY_NOTED;
        }
    }

    /// The set reached from set `from` by array element number `index`,
    /// whose string-valued fields (name, value) `fields` hands over: once
    /// to build the cache's lookup key, and again on a miss. Cached
    /// per set unless the element has a field some `[member=value]` step
    /// names: then the transition depends on the field's value. Nothing is
    /// allocated on a hit.
    pub fn cached_index(
        &self,
        cache: &mut MatchCache,
        from: u32,
        index: usize,
        fields: &impl ElementFields,
    ) -> u32 {
        let scratch = self.index_lookup_key(cache, fields);
        if let Some(to) = Self::find_index(cache, from, &scratch) {
            cache.scratch = scratch;
            return to;
        }
        let plain = scratch.is_empty();
        let mut named: Vec<(String, String)> = Vec::new();
        fields.each(|k, v| {
            if self.is_where_member(k) {
                named.push((k.to_string(), v.to_string()));
            }
        });
        let view: Vec<(&str, &str)> = named.iter().map(|(k, v)| (&k[..], &v[..])).collect();
        let mut out = Vec::new();
        self.advance(
            &cache.sets[from as usize],
            PathElem::Index(index, &view),
            &mut out,
        );
        cache.entries += 1;
        let to = cache.intern(out);
        if plain {
            cache.by_plain_index[from as usize] = Some(to);
        } else {
            cache.where_bytes += scratch.len();
            cache.by_where.insert(from, &scratch, to);
        }
        cache.scratch = scratch;
        to
    }
}

impl Matcher {
    /// [`Matcher::cached_index`] when the transition is cached; None
    /// otherwise (nothing is computed).
    #[inline]
    pub fn known_index(
        &self,
        cache: &mut MatchCache,
        from: u32,
        fields: &impl ElementFields,
    ) -> Option<u32> {
        let scratch = self.index_lookup_key(cache, fields);
        let hit = Self::find_index(cache, from, &scratch);
        cache.scratch = scratch;
        hit
    }

    /// The cache's lookup key of an element (built in the cache's scratch
    /// buffer, taken out: the caller puts it back). Without fields that a
    /// `[member=value]` step names, the element's position is all that
    /// matters, and `[*]` ignores it: the key is empty and the transition
    /// is cached per set. Otherwise the named fields' values decide: the
    /// key holds each name and value after its length (so no two lists
    /// share a key).
    #[inline(always)]
    fn index_lookup_key(&self, cache: &mut MatchCache, fields: &impl ElementFields) -> Vec<u8> {
        let mut scratch = std::mem::take(&mut cache.scratch);
        scratch.clear();
        fields.each(|k, v| {
            if self.is_where_member(k) {
                for part in [k, v] {
                    scratch.extend_from_slice(&(part.len() as u64).to_le_bytes());
                    scratch.extend_from_slice(part.as_bytes());
                }
            }
        });
        scratch
    }

    /// The cached transition from set `from` of an element whose lookup
    /// key ([`Matcher::index_lookup_key`]) is `key`.
    #[inline(always)]
    fn find_index(cache: &MatchCache, from: u32, key: &[u8]) -> Option<u32> {
        if key.is_empty() {
            cache.by_plain_index[from as usize]
        } else {
            cache.by_where.get(from, key)
        }
    }

    /// Adds `sel` as a selector of rule `rule`.
    pub fn push(&mut self, rule: usize, sel: Selector) {
        let id = self.sels.len() as u32;
        self.start = std::sync::OnceLock::new();
        self.id = fresh_id();
        self.step_hash.push(
            sel.steps
                .iter()
                .map(|st| {
                    if let Step::Key(k) = st {
                        key_hash(k)
                    } else {
                        0
                    }
                })
                .collect(),
        );
        for st in &sel.steps {
            match st {
                Step::Key(k) => {
                    entry(&mut self.key_words, sel.mode).insert(word_hash(k.bytes()));
                }
                Step::KeyGlob(g) => entry(&mut self.key_globs, sel.mode).push(g.clone(), ()),
                Step::Where { member, .. } | Step::WhereGlob { member, .. } => {
                    self.has_where = true;
                    let m = (sel.mode, member.clone());
                    if !self.where_members.contains(&m) {
                        self.where_members.push(m);
                    }
                    for b in where_first_bytes(sel.mode, member) {
                        self.where_first[usize::from(b / 64)] |= 1 << (b % 64);
                    }
                }
                Step::AnyKey | Step::AnyDepth | Step::AnyIndex => {}
            }
        }
        if sel.steps.first() == Some(&Step::AnyDepth) {
            match &sel.steps[1] {
                Step::Key(k) => {
                    entry(&mut self.float_keys, sel.mode)
                        .entry(k.clone())
                        .or_default()
                        .push(id);
                }
                Step::Where { member, value } => {
                    entry(&mut self.float_where, (sel.mode, member.clone()))
                        .entry(value.clone())
                        .or_default()
                        .push(id);
                }
                Step::KeyGlob(g) => entry(&mut self.float_key_globs, sel.mode).push(g.clone(), id),
                Step::WhereGlob { member, value } => {
                    entry(&mut self.float_where_globs, (sel.mode, member.clone()))
                        .push(value.clone(), id);
                }
                Step::AnyKey => self.float_any_key.push(id),
                Step::AnyIndex => self.float_any_index.push(id),
                Step::AnyDepth => unreachable!("parse rejects `**.**`"),
            }
        }
        self.sels.push((rule, sel));
    }

    /// A matcher that always uses the plain NFA simulation (the reference
    /// for the indexed path).
    pub fn into_naive(mut self) -> Matcher {
        self.naive = true;
        self.id = fresh_id();
        self.start = std::sync::OnceLock::new();
        self
    }

    fn floating(&self, s: u32) -> bool {
        !self.naive && self.sels[s as usize].1.steps.first() == Some(&Step::AnyDepth)
    }

    fn close(&self, out: &mut Vec<State>, s: u32, mut i: u16) {
        let steps = &self.sels[s as usize].1.steps;
        loop {
            out.push((s, i));
            if steps.get(i as usize) == Some(&Step::AnyDepth) {
                i += 1;
            } else {
                break;
            }
        }
    }

    /// The state set of the root (computed on first use, then cached).
    pub fn start(&self) -> Vec<State> {
        self.start
            .get_or_init(|| {
                let mut out = Vec::new();
                for s in 0..self.sels.len() as u32 {
                    if !self.floating(s) {
                        self.close(&mut out, s, 0);
                    }
                }
                out
            })
            .clone()
    }

    fn step_hits<'k>(
        &self,
        sel: &Selector,
        step: &Step,
        elem: PathElem<'k>,
        norm: &mut [Option<std::borrow::Cow<'k, str>>; 3],
    ) -> bool {
        match (step, elem) {
            (Step::AnyKey, PathElem::Key(_)) | (Step::AnyIndex, PathElem::Index(..)) => true,
            (Step::Key(k), PathElem::Key(key)) => {
                let slot = &mut norm[sel.mode as usize];
                let n = slot.get_or_insert_with(|| sel.mode.normalize(key));
                n.as_ref() == k
            }
            (Step::KeyGlob(g), PathElem::Key(key)) => {
                let slot = &mut norm[sel.mode as usize];
                g.matches(slot.get_or_insert_with(|| sel.mode.normalize(key)))
            }
            (Step::Where { member, value }, PathElem::Index(_, fields)) => {
                fields.iter().any(|(mk, sv)| {
                    sel.mode.normalizes_to(mk, member)
                        && value_forms(sel.tails, sv)
                            .any(|v| sel.mode.normalize(v) == value.as_str())
                })
            }
            (Step::WhereGlob { member, value }, PathElem::Index(_, fields)) => {
                fields.iter().any(|(mk, sv)| {
                    sel.mode.normalizes_to(mk, member)
                        && value_forms(sel.tails, sv).any(|v| value.matches(&sel.mode.normalize(v)))
                })
            }
            _ => false,
        }
    }

    /// Derives a child's state set from its parent's `states`. For a
    /// selector with [`Selector::tails`], a key with dots is also each of
    /// its tails after a dot: `user.first_name` is `first_name` too, as
    /// flattened logs and OpenTelemetry's attribute names write a nested
    /// name.
    pub fn advance(&self, states: &[State], elem: PathElem<'_>, out: &mut Vec<State>) {
        out.clear();
        self.advance_by(states, elem, false, out);
        if let PathElem::Key(key) = elem {
            if key.contains('.') {
                for tail in dot_tails(key) {
                    self.advance_by(states, PathElem::Key(tail), true, out);
                }
            }
        }
        out.sort_unstable();
        out.dedup();
    }

    /// Adds to `out` the states that `elem` leads to from `states`: by
    /// every selector, or with `tails` (`elem` is a key's tail) by those
    /// that take tails ([`Selector::tails`], all of loose mode).
    fn advance_by(&self, states: &[State], elem: PathElem<'_>, tails: bool, out: &mut Vec<State>) {
        let wanted = |s: u32| !tails || self.sels[s as usize].1.tails;
        let mut norm: [Option<std::borrow::Cow<'_, str>>; 3] = [None, None, None];
        // Hash of the key normalised per mode, computed on first need.
        let mut hashes: [Option<u64>; 3] = [None, None, None];
        for &(s, i) in states {
            let (_, sel) = &self.sels[s as usize];
            let Some(step) = sel.steps.get(i as usize) else {
                continue;
            };
            if !wanted(s) {
                continue;
            }
            if *step == Step::AnyDepth {
                self.close(out, s, i);
                continue;
            }
            if let (Step::Key(_), PathElem::Key(key)) = (step, elem) {
                let m = sel.mode as usize;
                let h = *hashes[m].get_or_insert_with(|| {
                    key_hash(norm[m].get_or_insert_with(|| sel.mode.normalize(key)))
                });
                if h != self.step_hash[s as usize][i as usize] {
                    continue;
                }
            }
            if self.step_hits(sel, step, elem, &mut norm) {
                self.close(out, s, i + 1);
            }
        }
        if !self.naive {
            // Floating selectors: `**` has matched everything above; test
            // their second step against this element.
            match elem {
                PathElem::Key(key) => {
                    for (mode, by_key) in &self.float_keys {
                        if tails && *mode != MatchMode::Loose {
                            continue;
                        }
                        if let Some(ids) = by_key.get(mode.normalize(key).as_ref()) {
                            for &s in ids.iter().filter(|&&s| wanted(s)) {
                                self.close(out, s, 2);
                            }
                        }
                    }
                    for (mode, globs) in &self.float_key_globs {
                        if tails && *mode != MatchMode::Loose {
                            continue;
                        }
                        let key = mode.normalize(key);
                        for &s in globs.matching(&key).filter(|&&s| wanted(s)) {
                            self.close(out, s, 2);
                        }
                    }
                    if !tails {
                        for &s in &self.float_any_key {
                            self.close(out, s, 2);
                        }
                    }
                }
                PathElem::Index(_, fields) => {
                    for &s in &self.float_any_index {
                        self.close(out, s, 2);
                    }
                    for ((mode, member), by_value) in &self.float_where {
                        for (mk, sv) in fields {
                            if mode.normalizes_to(mk, member) {
                                // The value itself, then its tails for the
                                // selectors that take them.
                                let forms = value_forms(*mode == MatchMode::Loose, sv);
                                for (n, v) in forms.enumerate() {
                                    if let Some(ids) = by_value.get(mode.normalize(v).as_ref()) {
                                        for &s in ids {
                                            if n == 0 || self.sels[s as usize].1.tails {
                                                self.close(out, s, 2);
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    for ((mode, member), globs) in &self.float_where_globs {
                        for (mk, sv) in fields {
                            if mode.normalizes_to(mk, member) {
                                let forms = value_forms(*mode == MatchMode::Loose, sv);
                                for (n, v) in forms.enumerate() {
                                    for &s in globs.matching(&mode.normalize(v)) {
                                        if n == 0 || self.sels[s as usize].1.tails {
                                            self.close(out, s, 2);
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The rule indices whose selectors are complete in `states`.
    pub fn completed<'s>(&'s self, states: &'s [State]) -> impl Iterator<Item = usize> + 's {
        states
            .iter()
            .filter(|&&(s, i)| self.sels[s as usize].1.steps.len() == i as usize)
            .map(|&(s, _)| self.sels[s as usize].0)
    }

    /// The lowest rule index whose selector is complete in `states`.
    pub fn selected(&self, states: &[State]) -> Option<usize> {
        self.completed(states).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_strings_compare_as_slices_do() {
        // Every length up to the longest noted, equal and differing in
        // each byte.
        for n in 0..=CleanValues::MAX_LEN {
            let a: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
            assert!(same_short(&a, &a.clone()), "len {n}");
            for at in 0..n {
                let mut b = a.clone();
                b[at] ^= 0x01;
                assert!(!same_short(&a, &b), "len {n}, byte {at}");
            }
        }
    }

    #[test]
    fn clean_values_hold_one_string_per_slot_compared_whole() {
        // A string and its length fill a half cache line exactly.
        assert_eq!(std::mem::size_of::<CleanSlot>(), 32);
        let mut v = CleanValues::default();
        assert!(!v.contains(b"Chrome"), "nothing before a note");
        v.note(b"Chrome");
        assert!(v.contains(b"Chrome"));
        for other in [&b"chrome"[..], b"Chrom", b"Chromes", b""] {
            assert!(!v.contains(other), "{other:?}");
        }
        // The longest string noted, and one byte longer (not noted).
        let long = [b'x'; CleanValues::MAX_LEN + 1];
        v.note(&long[..CleanValues::MAX_LEN]);
        assert!(v.contains(&long[..CleanValues::MAX_LEN]));
        v.note(&long);
        assert!(!v.contains(&long));
        // Two strings of one slot and one length: the second note takes the
        // slot, the first is no longer taken for clean, nor is either for
        // the other.
        let slot = CleanValues::slot_of(b"v000000");
        let twin = (1..1_000_000)
            .map(|i| format!("v{i:06}"))
            .find(|t| CleanValues::slot_of(t.as_bytes()) == slot)
            .expect("a string of the same slot");
        v.note(b"v000000");
        assert!(!v.contains(twin.as_bytes()), "{twin} shares the slot only");
        v.note(twin.as_bytes());
        assert!(v.contains(twin.as_bytes()));
        assert!(!v.contains(b"v000000"), "replaced by {twin}");
    }

    #[test]
    fn rewrites_hold_one_string_per_slot_with_its_rewrite_and_matches() {
        assert_eq!(std::mem::size_of::<RewriteSlot>(), 128);
        let mut r = Rewrites::default();
        assert_eq!(r.get(b"ip-10-0-1-23"), None, "nothing before a note");
        r.note(b"ip-10-0-1-23", "ip-10-0-1-0", &[4]);
        assert_eq!(r.get(b"ip-10-0-1-23"), Some(("ip-10-0-1-0", &[4u8][..])));
        for other in [&b"ip-10-0-1-2"[..], b"ip-10-0-1-24", b"IP-10-0-1-23", b""] {
            assert_eq!(r.get(other), None, "{other:?}");
        }
        // A rewrite to nothing, and one of the most matches and bytes.
        r.note(b"a@b.c", "", &[1]);
        assert_eq!(r.get(b"a@b.c"), Some(("", &[1u8][..])));
        let most = [0, 255, 3, 3, 7, 1];
        let out = "\u{e9}".repeat(Rewrites::MAX_OUT / 2);
        assert_eq!(out.len(), Rewrites::MAX_OUT);
        r.note(b"six matches", &out, &most);
        assert_eq!(
            r.get(b"six matches"),
            Some((&out[..], &[0u8, 255, 3, 3, 7, 1][..]))
        );
        // Beyond any bound, nothing is noted (and nothing read back).
        let long = [b'x'; CleanValues::MAX_LEN + 1];
        r.note(&long, "y", &[0]);
        assert_eq!(r.get(&long), None);
        let text = &long[..CleanValues::MAX_LEN];
        for (out, matches) in [
            (&"y".repeat(Rewrites::MAX_OUT + 1)[..], &[0usize][..]),
            ("y", &[0; Rewrites::MAX_MATCHES + 1][..]),
            ("y", &[256][..]),
        ] {
            r.note(text, out, matches);
            assert_eq!(r.get(text), None, "{} bytes, {matches:?}", out.len());
        }
        r.note(text, "y", &[2]);
        assert_eq!(
            r.get(text),
            Some(("y", &[2u8][..])),
            "the longest string noted"
        );
        // Two strings of one slot: the second note takes it.
        let slot = slot_of(b"h000000", Rewrites::SLOTS);
        let twin = (1..1_000_000)
            .map(|i| format!("h{i:06}"))
            .find(|t| slot_of(t.as_bytes(), Rewrites::SLOTS) == slot)
            .expect("a string of the same slot");
        r.note(b"h000000", "first", &[1]);
        assert_eq!(r.get(twin.as_bytes()), None, "{twin} shares the slot only");
        r.note(twin.as_bytes(), "second", &[2, 2]);
        assert_eq!(r.get(twin.as_bytes()), Some(("second", &[2u8, 2][..])));
        assert_eq!(r.get(b"h000000"), None, "replaced by {twin}");
    }

    #[test]
    fn normalizes_to_is_normalize_then_compare() {
        let alphabet = [
            "a", "A", "b", "B", "$", "_", "-", ".", " ", "é", "É", "ß", "0",
        ];
        let mut texts = vec![String::new()];
        texts.extend(crate::test_texts::from_pieces(
            0x0123_4567_89ab_cdef,
            20_000,
            (0, 6),
            &alphabet,
        ));
        let mut equal = 0;
        for (key, other) in texts.iter().zip(texts.iter().skip(1)) {
            for mode in [MatchMode::Exact, MatchMode::IgnoreCase, MatchMode::Loose] {
                // Against a normalised form (what selectors hold) and an
                // arbitrary text.
                for target in [mode.normalize(other).into_owned(), other.clone()] {
                    let expected = mode.normalize(key) == target.as_str();
                    equal += usize::from(expected);
                    assert_eq!(
                        mode.normalizes_to(key, &target),
                        expected,
                        "{mode:?} {key:?} {target:?}"
                    );
                }
                assert!(mode.normalizes_to(key, &mode.normalize(key)));
            }
        }
        assert!(equal > 1_000, "{equal}");
    }

    fn sel(s: &str) -> Selector {
        Selector::parse(s, MatchMode::Exact).unwrap()
    }

    fn matches(selector: &str, mode: MatchMode, path: &[PathElem<'_>]) -> bool {
        let mut m = Matcher::default();
        m.push(0, Selector::parse(selector, mode).unwrap());
        let mut states = m.start();
        let mut next = Vec::new();
        for &e in path {
            m.advance(&states, e, &mut next);
            std::mem::swap(&mut states, &mut next);
        }
        m.selected(&states) == Some(0)
    }

    #[test]
    fn parses_forms() {
        assert_eq!(
            sel("a.b").steps,
            vec![Step::Key("a".into()), Step::Key("b".into())]
        );
        assert_eq!(
            sel("**.email").steps,
            vec![Step::AnyDepth, Step::Key("email".into())]
        );
        assert_eq!(sel("batch[*].context.ip").steps[1], Step::AnyIndex);
        assert_eq!(
            sel("[*].x").steps,
            vec![Step::AnyIndex, Step::Key("x".into())]
        );
        assert_eq!(
            sel("a.\"user.email\"").steps[1],
            Step::Key("user.email".into())
        );
        assert_eq!(
            sel("e.\"[Amplitude] Page URL\"").steps[1],
            Step::Key("[Amplitude] Page URL".into())
        );
        assert_eq!(
            sel("**[key=user.email].value").steps,
            vec![
                Step::AnyDepth,
                Step::Where {
                    member: "key".into(),
                    value: "user.email".into()
                },
                Step::Key("value".into())
            ]
        );
        assert_eq!(
            sel("a[key=\"x]y\"]").steps[1],
            Step::Where {
                member: "key".into(),
                value: "x]y".into()
            }
        );
        assert_eq!(
            sel("$set.*").steps,
            vec![Step::Key("$set".into()), Step::AnyKey]
        );
        // `\u{HEX}` in a quoted name, as `explain` writes hidden characters.
        assert_eq!(
            sel("\"a\\u{1b}[31m\\u{A}b\\u{10FFFF}\"").steps,
            vec![Step::Key("a\u{1b}[31m\nb\u{10ffff}".into())]
        );
    }

    /// Every key, written as `explain` writes a path, reads back as a
    /// selector of that one key, and the text shows no control or
    /// formatting character.
    #[test]
    fn paths_explain_writes_read_back_as_the_same_key() {
        use crate::engine::{render_path, Seg};
        for key in [
            "plain",
            "user.email",
            "a b",
            "quote\"back\\slash",
            "esc\u{1b}[2Jnew\nline\r\t",
            "nul\u{0}del\u{7f}c1\u{85}",
            "rtl\u{202e}olleh\u{2066}iso\u{2069}",
            "zero\u{200b}width\u{feff}bom\u{ad}shy",
            "é日本\u{1f600}",
            "*",
            "[x=y]",
        ] {
            let text = render_path(&[Seg::Key(key.into())]);
            assert!(
                !text
                    .chars()
                    .any(|c| c.is_control() || ('\u{200b}'..='\u{206f}').contains(&c)),
                "{text:?}"
            );
            assert_eq!(
                Selector::parse(&text, MatchMode::Exact).map(|s| s.steps),
                Ok(vec![Step::Key(key.into())]),
                "{key:?} written as {text:?}"
            );
        }
    }

    #[test]
    fn rejects_ambiguous_forms() {
        for bad in [
            "",
            "a.",
            ".a",
            "a..b",
            "**",
            "a.**",
            "a**",
            "**a",
            "a**b",
            "a.***",
            "a[",
            "a[x]",
            "a b",
            "\"open",
            "a.[*]",
            "**.**.a",
            "a]",
            "a[k=x**]",
            "a[*k=x]",
            "\"a\\u{}\"",
            "\"a\\u{d800}\"",
            "\"a\\u{110000}\"",
            "\"a\\u{1234567}\"",
            "\"a\\u1b\"",
            "\"a\\u{1b\"",
            "\"a\\u{+1b}\"",
            "\"a\\x\"",
        ] {
            assert!(
                Selector::parse(bad, MatchMode::Exact).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    /// A matcher of one rule per selector, in order.
    fn matcher_of(selectors: &[(&str, MatchMode)]) -> Matcher {
        let mut m = Matcher::default();
        for (r, &(t, mode)) in selectors.iter().enumerate() {
            m.push(r, Selector::parse(t, mode).unwrap());
        }
        m
    }

    #[test]
    fn where_members_are_told_apart_by_their_first_byte_as_by_comparison() {
        // Members in every mode, names built from their letters, the bytes
        // `loose` ignores and others: the filtered test is the comparison.
        let m = matcher_of(&[
            ("**[key=k].value", MatchMode::Loose),
            ("x[Name=n]", MatchMode::IgnoreCase),
            ("y[Type=t]", MatchMode::Exact),
            ("z[éclair=e]", MatchMode::Loose),
        ]);
        let names = crate::test_texts::from_pieces(
            0x5eed_0001,
            20_000,
            (0, 6),
            &[
                "k", "K", "ey", "EY", "name", "NAME", "N", "Type", "type", "é", "É", "clair", "$",
                "_", "-", ".", " ", "x", "0",
            ],
        );
        let mut members = 0;
        for name in &names {
            let want = m
                .where_members
                .iter()
                .any(|(mode, member)| mode.normalizes_to(name, member));
            assert_eq!(m.is_where_member(name), want, "{name:?}");
            members += usize::from(want);
        }
        assert!(members > 100, "{members} names are members");
    }

    #[test]
    fn cache_equals_direct_simulation_and_resets_per_matcher() {
        let mut m = Matcher::default();
        for (r, t) in ["a.b", "**.email", "x[*].y", "*.c", "**[key=k].value"]
            .iter()
            .enumerate()
        {
            m.push(r, Selector::parse(t, MatchMode::IgnoreCase).unwrap());
        }
        let mut cache = MatchCache::default();
        let root = m.cached_start(&mut cache);
        assert_eq!(cache.set(root), m.start().as_slice());
        for key in ["a", "A", "email", "x", "zzz"] {
            let to = m.cached_key(&mut cache, root, key);
            let mut direct = Vec::new();
            m.advance(&m.start(), PathElem::Key(key), &mut direct);
            assert_eq!(cache.set(to), direct.as_slice(), "{key}");
            assert_eq!(
                m.cached_key(&mut cache, root, key),
                to,
                "second lookup is cached"
            );
        }
        // Another matcher must not see this one's sets.
        let mut other = Matcher::default();
        other.push(0, Selector::parse("q", MatchMode::Exact).unwrap());
        let r2 = other.cached_start(&mut cache);
        assert_eq!(cache.set(r2), other.start().as_slice());
        assert_eq!(cache.sets.len(), 1, "the cache started afresh");
    }

    /// In loose mode a dotted key, and a dotted `[member=value]` value, is
    /// also each of its tails after a dot; in the other modes it is only
    /// itself. The indexed matcher and the naive simulation agree.
    #[test]
    fn loose_mode_matches_the_tails_of_dotted_names() {
        let m = matcher_of(&[
            ("**.first_name", MatchMode::Loose),
            ("**.city", MatchMode::Exact),
            ("**.zip", MatchMode::IgnoreCase),
            ("**[key=referer].value", MatchMode::Loose),
            ("**.geo.lat", MatchMode::Loose),
        ]);
        let naive = m.clone().into_naive();
        let selected = |m: &Matcher, elems: &[PathElem<'_>]| {
            let mut states = m.start();
            let mut next = Vec::new();
            for &e in elems {
                m.advance(&states, e, &mut next);
                std::mem::swap(&mut states, &mut next);
            }
            m.selected(&states)
        };
        let key = |k| [PathElem::Key(k)];
        for (k, want) in [
            ("user.first_name", Some(0)),
            ("a.b.First-Name", Some(0)),
            ("first_name.x", None),
            // Loose mode ignores a trailing dot, as any dot.
            ("user.first_name.", Some(0)),
            ("userfirst_name", None),
            ("userfirst.name", None),
            // Exact and ignore-case selectors see the whole key only.
            ("geo.city", None),
            ("archive.ZIP", None),
            ("ZIP", Some(2)),
            // A tail is one key: `geo.lat` is not two steps.
            ("client.geo.lat", None),
        ] {
            assert_eq!(selected(&m, &key(k)), want, "{k}");
            assert_eq!(selected(&naive, &key(k)), want, "naive {k}");
            // A key a selector takes is named (the cache's shortcut for
            // unnamed keys must not take it).
            assert!(want.is_none() || m.names(k), "{k}");
        }
        // A tail is a step that the next key may follow: `client.geo`
        // then `lat` is a `geo.lat`, as `geo` then `lat` is.
        for nested in [["client.geo", "lat"], ["geo", "lat"]] {
            let elems = nested.map(PathElem::Key);
            assert_eq!(selected(&m, &elems), Some(4), "{nested:?}");
            assert_eq!(selected(&naive, &elems), Some(4), "naive {nested:?}");
        }
        // `[key=referer]` takes an OTLP attribute named with a namespace.
        for (name, want) in [
            ("http.request.header.referer", Some(3)),
            ("referer", Some(3)),
            ("referer.x", None),
            ("httpreferer", None),
        ] {
            let fields = [("key", name)];
            let elems = [
                PathElem::Key("attributes"),
                PathElem::Index(0, &fields),
                PathElem::Key("value"),
            ];
            assert_eq!(selected(&m, &elems), want, "{name}");
            assert_eq!(selected(&naive, &elems), want, "naive {name}");
        }
    }

    #[test]
    fn keys_no_selector_names_share_one_transition() {
        let m = matcher_of(&[
            ("a.b", MatchMode::Exact),
            ("**.first_name", MatchMode::Loose),
            ("x.*.Y", MatchMode::IgnoreCase),
            ("**.ip", MatchMode::Exact),
        ]);
        // Every spelling a mode folds onto a named key is named.
        for key in [
            "a",
            "b",
            "first_name",
            "firstname",
            "FirstName",
            "$first-Name",
            "first.name",
            "y",
            "Y",
            "ip",
        ] {
            assert!(m.names(key), "{key}");
        }
        for key in ["A", "c", "first", "ips", "IP", "zz", ""] {
            assert!(!m.names(key), "{key}");
        }
        // Ids used as keys, from the root and from below `x`: each is
        // cached, all lead to one set, and that set is what the direct
        // simulation gives.
        let mut cache = MatchCache::default();
        let root = m.cached_start(&mut cache);
        let x = m.cached_key(&mut cache, root, "x");
        for from in [root, x] {
            let sets_before = cache.sets.len();
            let mut targets = Vec::new();
            for i in 0..200 {
                let key = format!("id_{i:x}");
                let to = m.cached_key(&mut cache, from, &key);
                let mut direct = Vec::new();
                m.advance(cache.set(from), PathElem::Key(&key), &mut direct);
                assert_eq!(cache.set(to), direct.as_slice(), "{key}");
                targets.push(to);
            }
            targets.dedup();
            assert_eq!(targets.len(), 1);
            assert!(cache.sets.len() <= sets_before + 1);
            // A named key after them still takes its own transition (below
            // `x`, `*` takes every key: only the floating selector's key
            // differs).
            let key = if from == root { "a" } else { "First_Name" };
            let named = m.cached_key(&mut cache, from, key);
            let mut direct = Vec::new();
            m.advance(cache.set(from), PathElem::Key(key), &mut direct);
            assert_eq!(cache.set(named), direct.as_slice());
            assert_ne!(named, targets[0]);
        }
    }

    #[test]
    fn cache_starts_afresh_past_its_entries() {
        let mut m = Matcher::default();
        m.push(0, Selector::parse("**.email", MatchMode::Exact).unwrap());
        let mut cache = MatchCache::default();
        let root = m.cached_start(&mut cache);
        let email = m.cached_key(&mut cache, root, "email");
        let email = cache.set(email).to_vec();
        for i in 0..MatchCache::MAX_ENTRIES {
            m.cached_key(&mut cache, root, &format!("id-{i}"));
        }
        assert!(cache.entries > MatchCache::MAX_ENTRIES);
        let root = m.cached_start(&mut cache);
        assert_eq!(cache.entries, 0, "the cache started afresh");
        assert_eq!(cache.known_key(root, b"email"), None);
        assert_eq!(cache.known_key(root, b"id-7"), None);
        // And answers as before.
        let again = m.cached_key(&mut cache, root, "email");
        assert_eq!(cache.set(again), email.as_slice());
        assert_eq!(cache.known_key(root, b"email"), Some((again, false)));
    }

    #[test]
    fn cache_starts_afresh_past_its_key_bytes() {
        let mut m = Matcher::default();
        m.push(0, Selector::parse("**.email", MatchMode::Exact).unwrap());
        let mut cache = MatchCache::default();
        // Distinct 1 MiB keys: one more than the budget holds.
        let mut key = "k".repeat(1 << 20);
        let keys = MatchCache::MAX_KEY_BYTES / key.len() + 1;
        for i in 0..keys {
            let root = m.cached_start(&mut cache);
            assert!(cache.by_key.long_key_bytes() <= MatchCache::MAX_KEY_BYTES);
            key.replace_range(..8, &format!("{i:08}"));
            m.cached_key(&mut cache, root, &key);
        }
        assert_eq!(cache.by_key.long_key_bytes(), key.len() * keys);
        m.cached_start(&mut cache);
        assert_eq!(cache.by_key.long_key_bytes(), 0, "the cache started afresh");
    }

    #[test]
    fn matching_semantics() {
        use PathElem::Key as K;
        let fields = [("key", "User.Email")];
        let idx = PathElem::Index(0, &fields);
        assert!(matches("a.b", MatchMode::Exact, &[K("a"), K("b")]));
        assert!(!matches("a.b", MatchMode::Exact, &[K("a"), K("B")]));
        assert!(matches("a.b", MatchMode::IgnoreCase, &[K("A"), K("B")]));
        assert!(matches(
            "traits.firstname",
            MatchMode::Loose,
            &[K("traits"), K("first_Name")]
        ));
        assert!(matches("**.email", MatchMode::Exact, &[K("email")]));
        assert!(matches(
            "**.email",
            MatchMode::Exact,
            &[K("x"), idx, K("y"), K("email")]
        ));
        assert!(!matches(
            "**.email",
            MatchMode::Exact,
            &[K("email"), K("x")]
        ));
        assert!(matches("*.email", MatchMode::Exact, &[K("x"), K("email")]));
        assert!(!matches("*.email", MatchMode::Exact, &[K("email")]));
        assert!(!matches("*.email", MatchMode::Exact, &[idx, K("email")]));
        assert!(matches(
            "batch[*].ip",
            MatchMode::Exact,
            &[K("batch"), idx, K("ip")]
        ));
        assert!(!matches(
            "batch[*].ip",
            MatchMode::Exact,
            &[K("batch"), K("0"), K("ip")]
        ));
        assert!(matches(
            "**[key=user.email].value",
            MatchMode::IgnoreCase,
            &[K("a"), idx, K("value")]
        ));
        assert!(!matches(
            "**[key=user.email].value",
            MatchMode::Exact,
            &[K("a"), idx, K("value")]
        ));
        assert!(matches(
            "\"user.email\"",
            MatchMode::Exact,
            &[K("user.email")]
        ));
        assert!(!matches("user.email", MatchMode::Exact, &[K("user.email")]));
    }

    #[test]
    fn parses_wildcard_names() {
        let glob = |s: &str| Glob::new(s);
        assert_eq!(
            sel("**.*_password").steps,
            vec![Step::AnyDepth, Step::KeyGlob(glob("*_password"))]
        );
        assert_eq!(sel("a*").steps, vec![Step::KeyGlob(glob("a*"))]);
        assert_eq!(
            sel("x-*-token.b").steps[0],
            Step::KeyGlob(glob("x-*-token"))
        );
        assert_eq!(
            Selector::parse("**.*_Password", MatchMode::Loose)
                .unwrap()
                .steps[1],
            Step::KeyGlob(glob("*password"))
        );
        assert_eq!(
            sel("**[key=*.token]").steps[1],
            Step::WhereGlob {
                member: "key".into(),
                value: glob("*.token")
            }
        );
        // `*` alone is still any key, and quoted names stay literal.
        assert_eq!(sel("a.*").steps[1], Step::AnyKey);
        assert_eq!(sel("\"*_x\"").steps, vec![Step::Key("*_x".into())]);
        assert_eq!(
            sel("a[k=\"*\"]").steps[1],
            Step::Where {
                member: "k".into(),
                value: "*".into()
            }
        );
        assert_eq!(glob("a*b*c").text(), "a*b*c");
    }

    /// The regex a glob stands for: its parts quoted, `.*` between them.
    fn glob_regex(g: &Glob) -> regex::Regex {
        let parts: Vec<String> = g.parts.iter().map(|p| regex::escape(p)).collect();
        regex::Regex::new(&format!("(?s)^{}$", parts.join(".*"))).unwrap()
    }

    #[test]
    fn glob_matches_as_its_regex_does() {
        // Few letters, so that parts repeat and overlap (`*ab*ba*`).
        let alphabet = ["a", "b", "ab", "é", "*"];
        let texts = crate::test_texts::from_pieces(0x005e_ed0f_6106, 3_000, (0, 8), &alphabet);
        let patterns: Vec<Glob> = texts
            .iter()
            .filter(|t| t.contains('*') && !t.contains("**"))
            .take(300)
            .map(|t| Glob::new(t))
            .collect();
        assert!(patterns.len() >= 200, "{}", patterns.len());
        let (mut hits, mut misses) = (0, 0);
        for g in &patterns {
            let re = glob_regex(g);
            for t in texts.iter().take(400) {
                let expected = re.is_match(t);
                assert_eq!(g.matches(t), expected, "{:?} against {t:?}", g.text());
                if expected {
                    hits += 1;
                } else {
                    misses += 1;
                }
            }
        }
        assert!(
            hits > 1_000 && misses > 1_000,
            "{hits} hits, {misses} misses"
        );
    }

    /// The indexed set finds exactly the globs that testing each one finds
    /// (globs ending with `*` and with a multi-byte character included).
    #[test]
    fn glob_set_finds_what_testing_every_glob_finds() {
        let alphabet = ["a", "b", "ab", "é", "*", "_"];
        let texts = crate::test_texts::from_pieces(0x0610_b5e7, 3_000, (0, 8), &alphabet);
        let globs: Vec<Glob> = texts
            .iter()
            .filter(|t| t.contains('*') && !t.contains("**"))
            .take(200)
            .map(|t| Glob::new(t))
            .collect();
        assert!(
            globs.iter().any(|g| g.parts.last().unwrap().is_empty())
                && globs.iter().any(|g| g.parts.last().unwrap().ends_with('é')),
            "both kinds of endings are generated"
        );
        let mut set = GlobSet::default();
        for (i, g) in globs.iter().enumerate() {
            set.push(g.clone(), i);
        }
        let mut hits = 0;
        for t in texts.iter().take(1_000) {
            let mut got: Vec<usize> = set.matching(t).copied().collect();
            got.sort_unstable();
            let want: Vec<usize> = (0..globs.len()).filter(|&i| globs[i].matches(t)).collect();
            assert_eq!(got, want, "{t:?}");
            hits += want.len();
        }
        assert!(hits > 1_000, "{hits} hits");
    }

    #[test]
    fn wildcard_names_match_at_any_depth_and_as_values() {
        use PathElem::Key as K;
        let ic = MatchMode::IgnoreCase;
        assert!(matches(
            "**.*_password",
            ic,
            &[K("env"), K("DATABASE_PASSWORD")]
        ));
        assert!(matches("**.*_password", ic, &[K("_password")]));
        assert!(!matches("**.*_password", ic, &[K("password")]));
        assert!(!matches("**.*_password", ic, &[K("db_password_hash")]));
        assert!(matches(
            "**.*password",
            MatchMode::Loose,
            &[K("app.db.Password")]
        ));
        assert!(matches("**.*Token", MatchMode::Exact, &[K("githubToken")]));
        assert!(!matches("**.*Token", MatchMode::Exact, &[K("token")]));
        assert!(matches("a.x*y*z", MatchMode::Exact, &[K("a"), K("xyz")]));
        assert!(matches(
            "a.x*y*z",
            MatchMode::Exact,
            &[K("a"), K("x_y_y_z")]
        ));
        assert!(!matches("a.x*y*z", MatchMode::Exact, &[K("a"), K("xz")]));
        assert!(!matches("a.x*y*z", MatchMode::Exact, &[K("b"), K("xyz")]));
        let attr = [("key", "app.user.Password"), ("value", "x")];
        let other = [("key", "password_length"), ("value", "x")];
        for (sel, ok) in [
            ("**[key=*.password]", true),
            ("**[key=*.password].value", false),
            ("a[key=*.password]", false),
        ] {
            assert_eq!(
                matches(sel, ic, &[K("x"), PathElem::Index(0, &attr)]),
                ok,
                "{sel}"
            );
            assert!(
                !matches(sel, ic, &[K("x"), PathElem::Index(0, &other)]),
                "{sel}"
            );
        }
        assert!(matches(
            "a[key=*.password].value",
            ic,
            &[K("a"), PathElem::Index(3, &attr), K("value")]
        ));
    }

    #[test]
    fn keys_a_wildcard_name_matches_are_named_and_cached_apart() {
        let mut m = Matcher::default();
        m.push(
            0,
            Selector::parse("**.*_token", MatchMode::IgnoreCase).unwrap(),
        );
        m.push(1, Selector::parse("a.b*", MatchMode::Exact).unwrap());
        for key in ["github_token", "X_TOKEN", "_token", "b", "bee"] {
            assert!(m.names(key), "{key}");
        }
        for key in ["token", "tokens", "a_tokens", "B", "ab", ""] {
            assert!(!m.names(key), "{key}");
        }
        let mut cache = MatchCache::default();
        let root = m.cached_start(&mut cache);
        let a = m.cached_key(&mut cache, root, "a");
        for from in [root, a] {
            for key in [
                "id_1",
                "github_token",
                "id_2",
                "bee",
                "csrf_Token",
                "token",
                "b",
            ] {
                let to = m.cached_key(&mut cache, from, key);
                let mut direct = Vec::new();
                m.advance(cache.set(from), PathElem::Key(key), &mut direct);
                assert_eq!(cache.set(to), direct.as_slice(), "{key}");
                let expected = key.to_ascii_lowercase().ends_with("_token")
                    || (from == a && key.starts_with('b'));
                assert_eq!(m.selected(cache.set(to)).is_some(), expected, "{key}");
            }
        }
    }
}
