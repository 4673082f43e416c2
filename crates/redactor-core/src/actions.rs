//! Actions: what happens to a selected value or a detected substring.
//!
//! The value transforms here work on decoded text and know nothing about
//! JSON structure; the engine decides where they apply.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use base64::Engine as _;

use crate::json::Value;
use crate::keys::Key;

/// A compiled action.
#[derive(Debug, Clone)]
pub enum Action {
    /// Remove the field (key and value) or array element.
    Drop,
    /// Replace the value with a constant (`Value::Null` for null).
    Replace(Value),
    /// Replace every string and number leaf with a keyed token.
    Tokenize(Tokenize),
    /// Mask every string and number leaf.
    Mask(Mask),
    /// Generalise every string and number leaf.
    Generalize(Generalize),
    /// Forward unchanged (in allowlist mode: keep this subtree).
    Keep,
}

impl Action {
    /// The action's name as written in policy files.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Drop => "drop",
            Action::Replace(_) => "replace",
            Action::Tokenize(_) => "tokenize",
            Action::Mask(_) => "mask",
            Action::Generalize(_) => "generalize",
            Action::Keep => "keep",
        }
    }

    /// A one-line description with parameters (never key material).
    pub fn describe(&self) -> String {
        match self {
            Action::Drop | Action::Keep => self.name().to_string(),
            Action::Replace(v) => format!("replace with {}", crate::json::to_string(v)),
            Action::Tokenize(t) => {
                let mut s = format!(
                    "tokenize key={} shape={} bytes={}",
                    t.key.id(),
                    t.shape.name(),
                    t.bytes
                );
                if t.normalize != Normalize::None {
                    s += &format!(" normalize={}", t.normalize.name());
                }
                if !t.keep_prefixes.is_empty() {
                    s += &format!(" keep_prefixes={:?}", t.keep_prefixes);
                }
                s
            }
            Action::Mask(m) => match (m.keep_domain, m.keep_last) {
                (true, _) => "mask keep_domain".into(),
                (false, 0) => "mask all".into(),
                (false, n) => format!("mask keep_last={n}"),
            },
            Action::Generalize(g) => match &g.kind {
                GeneralizeKind::Ip {
                    v4_prefix,
                    v6_prefix,
                } => format!(
                    "generalize ip /{v4_prefix} /{v6_prefix} on_invalid={}",
                    g.on_invalid.name()
                ),
                GeneralizeKind::Url { query_allow } if query_allow.is_empty() => {
                    "generalize url (no query, no fragment)".into()
                }
                GeneralizeKind::Url { query_allow } => {
                    format!("generalize url query_allow={query_allow:?}")
                }
                GeneralizeKind::UserAgent => {
                    "generalize user_agent (family, major version, OS)".into()
                }
                GeneralizeKind::Timestamp { unit } => format!(
                    "generalize timestamp to the {} on_invalid={}",
                    unit.name(),
                    g.on_invalid.name()
                ),
            },
        }
    }
}

/// Normalisation applied before tokenizing, so equal identities give equal tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Normalize {
    /// As is.
    None,
    /// Trimmed and ASCII-lowercased.
    Email,
    /// Digits only.
    Phone,
    /// Unicode-lowercased.
    Lowercase,
    /// Leading and trailing whitespace removed.
    Trim,
}

impl Normalize {
    /// Policy-file name.
    pub fn name(self) -> &'static str {
        match self {
            Normalize::None => "none",
            Normalize::Email => "email",
            Normalize::Phone => "phone",
            Normalize::Lowercase => "lowercase",
            Normalize::Trim => "trim",
        }
    }
    /// Parses a policy-file name.
    pub fn from_name(s: &str) -> Option<Self> {
        [
            Normalize::None,
            Normalize::Email,
            Normalize::Phone,
            Normalize::Lowercase,
            Normalize::Trim,
        ]
        .into_iter()
        .find(|n| n.name() == s)
    }
    /// Hands the normalised form of `s` to `sink` in pieces whose
    /// concatenation is that form, without building it (Unicode
    /// lowercasing of non-ASCII text excepted).
    fn feed(self, s: &str, sink: &mut dyn FnMut(&[u8])) {
        match self {
            Normalize::None => sink(s.as_bytes()),
            Normalize::Trim => sink(s.trim().as_bytes()),
            Normalize::Email => ascii_lowercase_pieces(s.trim().as_bytes(), sink),
            // ASCII digits are never part of a multi-byte character.
            Normalize::Phone => s
                .as_bytes()
                .split(|b| !b.is_ascii_digit())
                .filter(|run| !run.is_empty())
                .for_each(sink),
            Normalize::Lowercase if s.is_ascii() => ascii_lowercase_pieces(s.as_bytes(), sink),
            Normalize::Lowercase => sink(s.to_lowercase().as_bytes()),
        }
    }

    /// The normalised form of `s`, built: the reference [`Normalize::feed`]
    /// is tested against.
    #[cfg(test)]
    fn apply(self, s: &str) -> std::borrow::Cow<'_, str> {
        match self {
            Normalize::None => s.into(),
            Normalize::Email => s.trim().to_ascii_lowercase().into(),
            Normalize::Phone => s
                .chars()
                .filter(char::is_ascii_digit)
                .collect::<String>()
                .into(),
            Normalize::Lowercase => s.to_lowercase().into(),
            Normalize::Trim => s.trim().into(),
        }
    }
}

/// Hands `b` ASCII-lowercased to `sink`, 64 bytes at a time.
fn ascii_lowercase_pieces(b: &[u8], sink: &mut dyn FnMut(&[u8])) {
    let mut buf = [0u8; 64];
    for chunk in b.chunks(64) {
        let piece = &mut buf[..chunk.len()];
        piece.copy_from_slice(chunk);
        piece.make_ascii_lowercase();
        sink(piece);
    }
}

/// The shape of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `tok_<keyid>_<base64url>`.
    Opaque,
    /// `u<base32>@<keyid>.token.invalid`: passes email-format validation.
    Email,
    /// A UUID (version 8): 122 bits of the HMAC, no key id (see docs).
    Uuid,
}

impl Shape {
    /// Policy-file name.
    pub fn name(self) -> &'static str {
        match self {
            Shape::Opaque => "opaque",
            Shape::Email => "email",
            Shape::Uuid => "uuid",
        }
    }
    /// Parses a policy-file name.
    pub fn from_name(s: &str) -> Option<Self> {
        [Shape::Opaque, Shape::Email, Shape::Uuid]
            .into_iter()
            .find(|n| n.name() == s)
    }
}

/// Keyed tokenization parameters.
#[derive(Debug, Clone)]
pub struct Tokenize {
    /// The key (shared, immutable).
    pub key: Arc<Key>,
    /// Normalisation before hashing.
    pub normalize: Normalize,
    /// Output shape.
    pub shape: Shape,
    /// Bytes of HMAC output in opaque and email tokens (16..=32).
    pub bytes: usize,
    /// Prefixes kept verbatim in front of the token (e.g. `$device:`).
    pub keep_prefixes: Vec<String>,
}

/// HMAC-SHA256 of `msg` under `key` (the computation [`Key`] uses, with
/// the key absorbed here instead of once).
pub fn hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
    crate::keys::Pads::new(key).mac(|sink| sink(msg))
}

const B32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// Appends the unpadded lowercase base32 of `bytes` to `out`.
fn base32_into(bytes: &[u8], out: &mut String) {
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(B32[((acc >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(B32[((acc << (5 - bits)) & 31) as usize] as char);
    }
}

impl Tokenize {
    /// The token of `text` (a decoded string or a number's text).
    pub fn token(&self, text: &str) -> String {
        let mut out = String::new();
        self.token_into(text, &mut out);
        out
    }

    /// Appends the token of `text` to `out`: no allocation once `out` has
    /// room (the text is normalised on its way into the MAC, and the
    /// token is encoded on the stack).
    pub fn token_into(&self, text: &str, out: &mut String) {
        for p in &self.keep_prefixes {
            if let Some(rest) = text.strip_prefix(p.as_str()) {
                out.push_str(p);
                return self.token_of(rest, out);
            }
        }
        self.token_of(text, out)
    }

    /// Appends the token of `text` (without a kept prefix), from the
    /// per-thread memo when it was made recently.
    fn token_of(&self, text: &str, t: &mut String) {
        if text.len() > TOKEN_MEMO_MAX {
            return self.token_uncached(text, t);
        }
        use std::hash::BuildHasher;
        let h = rustc_hash::FxBuildHasher.hash_one((
            Arc::as_ptr(&self.key) as usize,
            self.normalize as u8,
            self.shape as u8,
            self.bytes,
            text,
        ));
        TOKEN_MEMO.with(|memo| {
            let mut memo = memo.borrow_mut();
            let (slot, hit) = two_way(&mut memo, h, |slot| {
                slot.hash == h
                    && std::ptr::eq(slot.key.as_ptr(), Arc::as_ptr(&self.key))
                    && (slot.normalize, slot.shape, slot.bytes)
                        == (self.normalize, self.shape, self.bytes)
                    && slot.text == text
            });
            if hit {
                t.push_str(&slot.token);
                return;
            }
            let start = t.len();
            self.token_uncached(text, t);
            slot.hash = h;
            if !std::ptr::eq(slot.key.as_ptr(), Arc::as_ptr(&self.key)) {
                slot.key = Arc::downgrade(&self.key);
            }
            (slot.normalize, slot.shape, slot.bytes) = (self.normalize, self.shape, self.bytes);
            refill(&mut slot.text, text, TOKEN_MEMO_MAX);
            refill(&mut slot.token, &t[start..], MEMO_RESULT_ROOM);
        });
    }

    /// [`Tokenize::token_of`] without the memo: the MAC and its encoding.
    fn token_uncached(&self, text: &str, t: &mut String) {
        let mac = self.key.hmac_fed(|sink| self.normalize.feed(text, sink));
        match self.shape {
            Shape::Opaque => {
                let id = self.key.id();
                // At most 32 MAC bytes: 43 base64 characters, on the stack.
                let mut b64 = [0u8; 44];
                let n = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode_slice(&mac[..self.bytes], &mut b64)
                    .expect("44 bytes hold the base64 of 32");
                t.push_str("tok_");
                t.push_str(id);
                t.push('_');
                // Base64 output is ASCII.
                t.push_str(std::str::from_utf8(&b64[..n]).unwrap_or_default());
            }
            Shape::Email => {
                t.push('u');
                base32_into(&mac[..self.bytes], t);
                t.push('@');
                t.push_str(self.key.id());
                t.push_str(".token.invalid");
            }
            Shape::Uuid => {
                let mut b = [0u8; 16];
                b.copy_from_slice(&mac[..16]);
                b[6] = (b[6] & 0x0f) | 0x80;
                b[8] = (b[8] & 0x3f) | 0x80;
                const HEX: &[u8; 16] = b"0123456789abcdef";
                for (i, x) in b.iter().enumerate() {
                    if matches!(i, 4 | 6 | 8 | 10) {
                        t.push('-');
                    }
                    t.push(HEX[usize::from(x >> 4)] as char);
                    t.push(HEX[usize::from(x & 15)] as char);
                }
            }
        }
    }
}

/// A recently made token, per thread. The same identities recur within a
/// batch and a session (a user id in several fields and events), and the
/// MAC is the costliest step of tokenizing. The memo is two-way
/// set-associative ([`two_way`]) by a hash of everything the token depends
/// on, compared in full: the key by address, held as a `Weak` so that no
/// other key can take that address while the slot names it (and a dropped
/// key is not kept in use), the normalisation, shape and length, and the
/// text.
struct TokenSlot {
    hash: u64,
    key: std::sync::Weak<Key>,
    normalize: Normalize,
    shape: Shape,
    bytes: usize,
    text: String,
    token: String,
}

/// Finds a memo's slot for hash `h` among `slots`, a power of two of them
/// taken as sets of two ways: `(slot, true)` when a way of the set holds
/// what `holds` looks for, else `(slot, false)` with the set's least
/// recently used way, for the caller to refill. Either way the slot
/// becomes the set's first way (the most recently used).
///
/// Two ways rather than one: with one slot per hash, two texts that recur
/// together and share a slot (two browsers' User-Agents did on the
/// telemetry corpus) evict each other on every use, and the memo misses
/// for both; a second way keeps both, for one more comparison on a miss.
fn two_way<T>(slots: &mut [T], h: u64, holds: impl Fn(&T) -> bool) -> (&mut T, bool) {
    debug_assert!(slots.len().is_power_of_two() && slots.len() >= 2);
    let set = (h as usize & (slots.len() / 2 - 1)) * 2;
    let ways = &mut slots[set..set + 2];
    if holds(&ways[0]) {
        return (&mut ways[0], true);
    }
    let hit = holds(&ways[1]);
    // A hit in the second way moves it first; on a miss the first way
    // becomes the second and the old second way, the least recently used,
    // is handed out to be refilled.
    ways.swap(0, 1);
    (&mut ways[0], hit)
}

/// Replaces a memo slot's `buf` with `s`, giving the buffer room for
/// `room` bytes at its first fill. A slot's buffers move between the ways
/// of its set, so one sized for a short text may later receive a long
/// one: sizing every buffer for the longest text it may hold once keeps
/// a warm memo from allocating.
fn refill(buf: &mut String, s: &str, room: usize) {
    buf.clear();
    buf.reserve(room.max(s.len()));
    buf.push_str(s);
}

/// Room kept for a memoised token or generalised User-Agent: more than a
/// token of 32 MAC bytes in any shape (the longest, the email shape, takes
/// 68 bytes and the key id, of at most 16), and than any
/// `Family Major / OS` form.
const MEMO_RESULT_ROOM: usize = 128;

/// Slots of the token memo (a power of two).
const TOKEN_MEMO_SLOTS: usize = 256;
/// The longest text whose token the memo keeps (bytes).
const TOKEN_MEMO_MAX: usize = 256;

thread_local! {
    static TOKEN_MEMO: std::cell::RefCell<Vec<TokenSlot>> = std::cell::RefCell::new(
        (0..TOKEN_MEMO_SLOTS)
            .map(|_| TokenSlot {
                hash: 0,
                key: std::sync::Weak::new(),
                normalize: Normalize::None,
                shape: Shape::Opaque,
                bytes: 0,
                text: String::new(),
                token: String::new(),
            })
            .collect(),
    );
}

/// Masking parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mask {
    /// For emails: keep `@domain`, mask the local part as `***`.
    pub keep_domain: bool,
    /// Keep this many trailing characters, mask the others one for one.
    pub keep_last: usize,
}

impl Mask {
    /// The masked form of `text`.
    pub fn apply(&self, text: &str) -> String {
        let mut out = String::new();
        self.apply_into(text, &mut out);
        out
    }

    /// Appends the masked form of `text` to `out`.
    pub fn apply_into(&self, text: &str, out: &mut String) {
        if self.keep_domain {
            if let Some(at) = text.rfind('@') {
                out.push_str("***");
                out.push_str(&text[at..]);
                return;
            }
        }
        let n = text.chars().count();
        let keep = self.keep_last.min(n);
        out.extend(std::iter::repeat_n('*', n - keep));
        out.extend(text.chars().skip(n - keep));
    }
}

/// What a generalisation does with a value it cannot parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnInvalid {
    /// Remove the field.
    Drop,
    /// Replace the value with `null`.
    Null,
}

impl OnInvalid {
    /// Policy-file name.
    pub fn name(self) -> &'static str {
        match self {
            OnInvalid::Drop => "drop",
            OnInvalid::Null => "null",
        }
    }
}

/// Truncation unit for timestamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TimeUnit {
    /// Whole seconds.
    Second,
    /// Whole minutes.
    Minute,
    /// Whole hours.
    Hour,
    /// Whole days (UTC for epoch numbers).
    Day,
    /// First day of the month.
    Month,
}

impl TimeUnit {
    /// Policy-file name.
    pub fn name(self) -> &'static str {
        match self {
            TimeUnit::Second => "second",
            TimeUnit::Minute => "minute",
            TimeUnit::Hour => "hour",
            TimeUnit::Day => "day",
            TimeUnit::Month => "month",
        }
    }
    /// Parses a policy-file name.
    pub fn from_name(s: &str) -> Option<Self> {
        [
            TimeUnit::Second,
            TimeUnit::Minute,
            TimeUnit::Hour,
            TimeUnit::Day,
            TimeUnit::Month,
        ]
        .into_iter()
        .find(|u| u.name() == s)
    }
}

/// What a generalisation reduces a value to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GeneralizeKind {
    /// Zero the host bits of an IP address.
    Ip {
        /// Prefix kept for IPv4 (and IPv4-mapped IPv6).
        v4_prefix: u8,
        /// Prefix kept for IPv6.
        v6_prefix: u8,
    },
    /// Remove userinfo, query (except allowed parameters) and fragment.
    Url {
        /// Query parameter names kept.
        query_allow: Vec<String>,
    },
    /// Browser family + major version + OS family.
    UserAgent,
    /// Truncate an RFC 3339 string or epoch number.
    Timestamp {
        /// The unit.
        unit: TimeUnit,
    },
}

/// Generalisation parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generalize {
    /// What to reduce to.
    pub kind: GeneralizeKind,
    /// What to do when the value does not parse.
    pub on_invalid: OnInvalid,
}

/// Generalises an IP address text; `None` when it is not an address.
pub fn generalize_ip(text: &str, v4_prefix: u8, v6_prefix: u8) -> Option<String> {
    let mut out = String::new();
    generalize_ip_into(text, v4_prefix, v6_prefix, &mut out).then_some(out)
}

/// [`generalize_ip`], appended to `out`; false (and `out` unchanged) when
/// `text` is not an address.
pub fn generalize_ip_into(text: &str, v4_prefix: u8, v6_prefix: u8, out: &mut String) -> bool {
    use std::fmt::Write as _;
    let t = text.trim();
    let Some(ip) = dotted_quad(t.as_bytes(), false)
        .map(IpAddr::V4)
        .or_else(|| t.parse::<IpAddr>().ok())
        .or_else(|| t.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| padded_quad(t.as_bytes()).map(IpAddr::V4))
    else {
        return false;
    };
    // Writing to a `String` cannot fail.
    let _ = match ip {
        IpAddr::V4(v4) => {
            dotted_into(mask_v4(v4, v4_prefix), out);
            Ok(())
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => write!(out, "{}", mask_v4(v4, v4_prefix).to_ipv6_mapped()),
            None => {
                let bits = u128::from(v6);
                let m = if v6_prefix == 0 {
                    0
                } else {
                    u128::MAX << (128 - u32::from(v6_prefix.min(128)))
                };
                write!(out, "{}", Ipv6Addr::from(bits & m))
            }
        },
    };
    true
}

/// [`generalize_ip_into`] on a value that may list several addresses
/// separated by commas, as `X-Forwarded-For` writes a request's way through
/// proxies (`198.51.100.4, 10.0.0.1`): each is generalised, and the commas
/// and the blanks around them are kept. False (and `out` unchanged) when
/// any element is not an address, so that such a list is invalid as a
/// whole (see `on_invalid`), never forwarded in part.
pub fn generalize_ip_list_into(text: &str, v4_prefix: u8, v6_prefix: u8, out: &mut String) -> bool {
    if memchr::memchr(b',', text.as_bytes()).is_none() {
        return generalize_ip_into(text, v4_prefix, v6_prefix, out);
    }
    let start = out.len();
    for (i, element) in text.split(',').enumerate() {
        if i > 0 {
            out.push(',');
        }
        let address = element.trim();
        let lead = element.len() - element.trim_start().len();
        out.push_str(&element[..lead]);
        if !generalize_ip_into(address, v4_prefix, v6_prefix, out) {
            out.truncate(start);
            return false;
        }
        out.push_str(&element[lead + address.len()..]);
    }
    true
}

/// `b` as a dotted-decimal IPv4 address whose octets may be padded with
/// leading zeros, as some logs write them (`198.051.100.007`, read in
/// decimal as people pad, not in octal as `inet_aton` would): what the
/// standard parser rejects but an address all the same.
pub(crate) fn padded_quad(b: &[u8]) -> Option<Ipv4Addr> {
    dotted_quad(b, true)
}

/// `b` as a dotted-decimal IPv4 address, as `Ipv4Addr`'s `FromStr`
/// accepts it (four octets of one to three digits, at most 255, no
/// leading zero unless `padded`), in one pass without the standard
/// parser's general machinery; `None` for anything else, which the caller
/// hands to the standard parsers. A test holds it equal to
/// `Ipv4Addr::from_str` (on the text with its padding stripped).
fn dotted_quad(b: &[u8], padded: bool) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut i = 0;
    for (k, octet) in octets.iter_mut().enumerate() {
        if k > 0 {
            if b.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        let start = i;
        let mut value = 0u32;
        while let Some(&c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            if i - start == 3 {
                return None;
            }
            value = value * 10 + u32::from(c - b'0');
            i += 1;
        }
        let digits = i - start;
        if digits == 0 || value > 255 || (digits > 1 && b[start] == b'0' && !padded) {
            return None;
        }
        *octet = value as u8;
    }
    (i == b.len()).then_some(Ipv4Addr::from(octets))
}

/// Appends `v4` in dotted-decimal form, as its `Display` writes it,
/// without the formatting machinery (every IP rule and detector match goes
/// through here).
fn dotted_into(v4: Ipv4Addr, out: &mut String) {
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        if octet >= 100 {
            out.push(char::from(b'0' + octet / 100));
        }
        if octet >= 10 {
            out.push(char::from(b'0' + octet / 10 % 10));
        }
        out.push(char::from(b'0' + octet % 10));
    }
}

fn mask_v4(v4: Ipv4Addr, prefix: u8) -> Ipv4Addr {
    let m = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix.min(32)))
    };
    Ipv4Addr::from(u32::from(v4) & m)
}

/// Generalises a URL text: userinfo, fragment and query (but allowed
/// parameters) removed. Works on any string; relative URLs too.
pub fn generalize_url(text: &str, query_allow: &[String]) -> String {
    let mut out = String::with_capacity(text.len());
    generalize_url_into(text, query_allow, &mut out);
    out
}

/// The offsets of every `://` in `b`, found by the memchr crate's search
/// for `:` (no substring searcher built per call).
pub(crate) fn scheme_separators(b: &[u8]) -> impl Iterator<Item = usize> + '_ {
    memchr::memchr_iter(b':', b).filter(move |&i| b.get(i + 1..i + 3) == Some(&b"//"[..]))
}

/// [`generalize_url`], appended to `out`.
pub fn generalize_url_into(text: &str, query_allow: &[String], out: &mut String) {
    // Every separator is ASCII, so every cut is at a char boundary; the
    // searches are the memchr crate's (one per separator, no substring
    // searcher built per call).
    let t = text.as_bytes();
    let no_frag = memchr::memchr(b'#', t).unwrap_or(t.len());
    let (base_end, query) = match memchr::memchr(b'?', &t[..no_frag]) {
        Some(q) => (q, Some(&text[q + 1..no_frag])),
        None => (no_frag, None),
    };
    let (base, b) = (&text[..base_end], &t[..base_end]);
    let scheme_end = scheme_separators(b).next();
    match scheme_end {
        Some(i) => {
            let auth_start = i + 3;
            let auth_end =
                memchr::memchr(b'/', &b[auth_start..]).map_or(b.len(), |j| auth_start + j);
            out.push_str(&base[..auth_start]);
            // Userinfo is everything up to the last `@` of the authority.
            let host = memchr::memrchr(b'@', &b[auth_start..auth_end])
                .map_or(auth_start, |j| auth_start + j + 1);
            out.push_str(&base[host..]);
        }
        None => out.push_str(base),
    }
    if let (Some(q), false) = (query, query_allow.is_empty()) {
        let kept = q.split('&').filter(|kv| {
            let k = memchr::memchr(b'=', kv.as_bytes()).map_or(*kv, |e| &kv[..e]);
            query_allow.iter().any(|a| a == k)
        });
        for (i, kv) in kept.enumerate() {
            out.push(if i == 0 { '?' } else { '&' });
            out.push_str(kv);
        }
    }
}

/// The digits right after the first `marker` in `ua`, if any.
fn major_after<'u>(ua: &'u str, marker: &str) -> Option<&'u str> {
    let i = ua.find(marker)? + marker.len();
    let digits = ua.as_bytes()[i..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    (digits > 0).then(|| &ua[i..i + digits])
}

/// Browser markers in priority order: the first one present names the
/// family (then `Safari/`).
const UA_BROWSERS: &[(&str, &str)] = &[
    ("Edg/", "Edge"),
    ("EdgA/", "Edge"),
    ("EdgiOS/", "Edge"),
    ("Edge/", "Edge"),
    ("OPR/", "Opera"),
    ("SamsungBrowser/", "Samsung Internet"),
    ("YaBrowser/", "Yandex Browser"),
    ("Firefox/", "Firefox"),
    ("FxiOS/", "Firefox"),
    ("CriOS/", "Chrome"),
    ("Chrome/", "Chrome"),
    ("MSIE ", "Internet Explorer"),
    ("Trident/", "Internet Explorer"),
    ("curl/", "curl"),
    ("okhttp/", "okhttp"),
    ("python-requests/", "python-requests"),
    ("Googlebot/", "Googlebot"),
    ("bingbot/", "bingbot"),
];

/// OS markers in priority order.
const UA_OSES: &[(&str, &str)] = &[
    ("Windows", "Windows"),
    ("iPhone", "iOS"),
    ("iPad", "iOS"),
    ("iPod", "iOS"),
    ("Android", "Android"),
    ("CrOS", "Chrome OS"),
    ("Mac OS X", "Mac OS X"),
    ("Macintosh", "Mac OS X"),
    ("Linux", "Linux"),
];

/// Every marker of [`UA_BROWSERS`], then `Safari/`, then [`UA_OSES`], in
/// one leftmost-first automaton (SIMD-searched). No marker contains
/// another (a test checks), so no two markers can match at one position,
/// and searching again one byte after each match start finds every
/// occurrence of every marker.
fn ua_markers() -> &'static aho_corasick::AhoCorasick {
    static A: std::sync::OnceLock<aho_corasick::AhoCorasick> = std::sync::OnceLock::new();
    A.get_or_init(|| {
        let markers = UA_BROWSERS
            .iter()
            .map(|(m, _)| *m)
            .chain(["Safari/"])
            .chain(UA_OSES.iter().map(|(m, _)| *m));
        // Standard semantics: one overlapping pass reports every
        // occurrence of every marker.
        aho_corasick::AhoCorasick::builder()
            .kind(Some(aho_corasick::AhoCorasickKind::DFA))
            .build(markers)
            .expect("built-in markers compile")
    })
}

/// Reduces a User-Agent to `Family Major / OS`: the first browser marker
/// in priority order that occurs anywhere, and likewise the OS.
pub fn generalize_user_agent(ua: &str) -> String {
    let mut out = String::with_capacity(40);
    generalize_user_agent_into(ua, &mut out);
    out
}

/// Recent User-Agents and their generalised forms, per thread. A few
/// strings make up most traffic and the marker search is the costliest
/// generalisation (about 5% of the fast engine's time on the telemetry
/// corpus before this memo). Two-way set-associative ([`two_way`]) by a
/// hash of the text, compared in full; the slots' buffers are reused, so a
/// warm memo allocates nothing, and texts longer than [`UA_MEMO_MAX`] are
/// not kept.
struct UaMemo {
    slots: Vec<(u64, String, String)>,
}

/// Slots of the User-Agent memo (a power of two).
const UA_MEMO_SLOTS: usize = 64;
/// The longest User-Agent the memo keeps (bytes).
const UA_MEMO_MAX: usize = 512;

thread_local! {
    static UA_MEMO: std::cell::RefCell<UaMemo> = std::cell::RefCell::new(UaMemo {
        slots: vec![(0, String::new(), String::new()); UA_MEMO_SLOTS],
    });
}

/// [`generalize_user_agent`], appended to `out`.
pub fn generalize_user_agent_into(ua: &str, out: &mut String) {
    if ua.len() > UA_MEMO_MAX {
        return generalize_user_agent_uncached(ua, out);
    }
    use std::hash::BuildHasher;
    let h = rustc_hash::FxBuildHasher.hash_one(ua);
    UA_MEMO.with(|memo| {
        let mut memo = memo.borrow_mut();
        let ((hash, text, general), hit) = two_way(&mut memo.slots, h, |(hash, text, _)| {
            *hash == h && text == ua
        });
        if hit {
            out.push_str(general);
            return;
        }
        let start = out.len();
        generalize_user_agent_uncached(ua, out);
        *hash = h;
        refill(text, ua, UA_MEMO_MAX);
        refill(general, &out[start..], MEMO_RESULT_ROOM);
    });
}

/// [`generalize_user_agent_into`] without the memo.
fn generalize_user_agent_uncached(ua: &str, out: &mut String) {
    let markers = ua_markers();
    let mut present = 0u64;
    for m in markers.find_overlapping_iter(ua) {
        present |= 1 << m.pattern().as_usize();
    }
    let safari = UA_BROWSERS.len();
    match (0..safari).find(|&i| present & (1 << i) != 0) {
        Some(i) => {
            let (m, name) = UA_BROWSERS[i];
            out.push_str(name);
            let major = if m == "Trident/" {
                major_after(ua, "rv:")
            } else {
                major_after(ua, m)
            };
            if let Some(v) = major {
                out.push(' ');
                out.push_str(v);
            }
        }
        None if present & (1 << safari) != 0 => {
            out.push_str("Safari");
            if let Some(v) = major_after(ua, "Version/") {
                out.push(' ');
                out.push_str(v);
            }
        }
        None => out.push_str("Other"),
    }
    out.push_str(" / ");
    let os = (0..UA_OSES.len())
        .find(|&i| present & (1 << (safari + 1 + i)) != 0)
        .map_or("Other", |i| UA_OSES[i].1);
    out.push_str(os);
}

/// [`generalize_user_agent`] by one substring search per marker: the
/// reference its single-pass search is tested against.
#[cfg(test)]
fn generalize_user_agent_by_search(ua: &str) -> String {
    const BROWSERS: &[(&str, &str)] = UA_BROWSERS;
    const OSES: &[(&str, &str)] = UA_OSES;
    let browser = BROWSERS
        .iter()
        .find(|(m, _)| ua.contains(m))
        .map(|(m, name)| {
            let major = if *m == "Trident/" {
                major_after(ua, "rv:")
            } else {
                major_after(ua, m)
            };
            match major {
                Some(v) => format!("{name} {v}"),
                None => (*name).to_string(),
            }
        })
        .or_else(|| {
            ua.contains("Safari/")
                .then(|| match major_after(ua, "Version/") {
                    Some(v) => format!("Safari {v}"),
                    None => "Safari".to_string(),
                })
        })
        .unwrap_or_else(|| "Other".to_string());
    let os = OSES
        .iter()
        .find(|(m, _)| ua.contains(m))
        .map_or("Other", |(_, n)| n);
    format!("{browser} / {os}")
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn truncate_epoch_seconds(secs: i64, unit: TimeUnit) -> i64 {
    match unit {
        TimeUnit::Second => secs,
        TimeUnit::Minute => secs - secs.rem_euclid(60),
        TimeUnit::Hour => secs - secs.rem_euclid(3600),
        TimeUnit::Day => secs - secs.rem_euclid(86_400),
        TimeUnit::Month => {
            let (y, m, _) = civil_from_days(secs.div_euclid(86_400));
            days_from_civil(y, m, 1) * 86_400
        }
    }
}

/// Truncates an epoch number written as decimal digits (seconds, ms, µs or
/// ns, chosen by magnitude; a fraction is dropped). `None` if not a number.
pub fn truncate_epoch_text(text: &str, unit: TimeUnit) -> Option<String> {
    let mut out = String::new();
    truncate_epoch_into(text, unit, &mut out).then_some(out)
}

/// [`truncate_epoch_text`], appended to `out`; false (and `out`
/// unchanged) when `text` is not a number.
fn truncate_epoch_into(text: &str, unit: TimeUnit, out: &mut String) -> bool {
    use std::fmt::Write as _;
    let Some((secs, scale)) = epoch_parts(text) else {
        return false;
    };
    // Writing to a `String` cannot fail.
    let _ = write!(out, "{}", truncate_epoch_seconds(secs, unit) * scale);
    true
}

/// Whole seconds and the unit's scale of an epoch number's text.
fn epoch_parts(text: &str) -> Option<(i64, i64)> {
    let int_part = text.split(['.', 'e', 'E']).next()?;
    if text.contains(['e', 'E']) {
        return None;
    }
    let (neg, digits) = match int_part.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, int_part),
    };
    if digits.is_empty() || digits.len() > 19 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let v: i64 = digits.parse().ok()?;
    let v = if neg { -v } else { v };
    let scale: i64 = match digits.len() {
        0..=11 => 1,
        12..=14 => 1_000,
        15..=17 => 1_000_000,
        _ => 1_000_000_000,
    };
    Some((v.div_euclid(scale), scale))
}

/// Truncates an RFC 3339 date or date-time string. `None` if it is not one.
pub fn truncate_rfc3339(text: &str, unit: TimeUnit) -> Option<String> {
    let mut out = String::new();
    truncate_rfc3339_into(text, unit, &mut out).then_some(out)
}

/// [`truncate_rfc3339`], appended to `out`; false (and `out` unchanged)
/// when `text` is not a date or date-time.
fn truncate_rfc3339_into(text: &str, unit: TimeUnit, out: &mut String) -> bool {
    use std::fmt::Write as _;
    let b = text.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        b.get(r.clone())
            .is_some_and(|s| s.iter().all(u8::is_ascii_digit))
    };
    if !(digits(0..4)
        && b.get(4) == Some(&b'-')
        && digits(5..7)
        && b.get(7) == Some(&b'-')
        && digits(8..10))
    {
        return false;
    }
    let date = &text[..10];
    let (y, mo) = (&text[..4], &text[5..7]);
    // Writing to a `String` cannot fail.
    if b.len() == 10 {
        let _ = if unit == TimeUnit::Month {
            write!(out, "{y}-{mo}-01")
        } else {
            write!(out, "{date}")
        };
        return true;
    }
    if !(matches!(b[10], b'T' | b't' | b' ')
        && digits(11..13)
        && b.get(13) == Some(&b':')
        && digits(14..16))
    {
        return false;
    }
    let mut i = 16;
    let mut sec = "00";
    if b.get(16) == Some(&b':') {
        if !digits(17..19) {
            return false;
        }
        sec = &text[17..19];
        i = 19;
        if b.get(i) == Some(&b'.') {
            i += 1;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
    }
    let zone = &text[i..];
    let zone_ok = zone.is_empty()
        || zone == "Z"
        || zone == "z"
        || (zone.len() == 6
            && matches!(zone.as_bytes()[0], b'+' | b'-')
            && zone.as_bytes()[3] == b':');
    if !zone_ok {
        return false;
    }
    let (h, mi) = (&text[11..13], &text[14..16]);
    let sep = b[10] as char;
    let _ = match unit {
        TimeUnit::Second => write!(out, "{date}{sep}{h}:{mi}:{sec}{zone}"),
        TimeUnit::Minute => write!(out, "{date}{sep}{h}:{mi}:00{zone}"),
        TimeUnit::Hour => write!(out, "{date}{sep}{h}:00:00{zone}"),
        TimeUnit::Day => write!(out, "{date}{sep}00:00:00{zone}"),
        TimeUnit::Month => write!(out, "{y}-{mo}-01{sep}00:00:00{zone}"),
    };
    true
}

impl Generalize {
    /// Generalises `text`; `None` when it does not parse (see `on_invalid`).
    pub fn apply(&self, text: &str, is_number: bool) -> Option<String> {
        let mut out = String::new();
        self.apply_into(text, is_number, &mut out).then_some(out)
    }

    /// [`Generalize::apply`], appended to `out`; false (and `out`
    /// unchanged) when `text` does not parse.
    pub fn apply_into(&self, text: &str, is_number: bool, out: &mut String) -> bool {
        match &self.kind {
            GeneralizeKind::Ip {
                v4_prefix,
                v6_prefix,
            } => generalize_ip_list_into(text, *v4_prefix, *v6_prefix, out),
            GeneralizeKind::Url { query_allow } => {
                generalize_url_into(text, query_allow, out);
                true
            }
            GeneralizeKind::UserAgent => {
                generalize_user_agent_into(text, out);
                true
            }
            GeneralizeKind::Timestamp { unit } => {
                if is_number || text.bytes().all(|b| b.is_ascii_digit()) {
                    truncate_epoch_into(text, *unit, out)
                } else {
                    truncate_rfc3339_into(text, *unit, out)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tok(shape: Shape, normalize: Normalize) -> Tokenize {
        Tokenize {
            key: Arc::new(Key::from_bytes("k1", b"0123456789abcdef0123")),
            normalize,
            shape,
            bytes: 16,
            keep_prefixes: vec!["$device:".into()],
        }
    }

    #[test]
    fn normalising_on_the_fly_gives_the_normalised_text() {
        // Pieces: case, surrounding space, digits and separators, non-ASCII
        // letters (a final sigma, whose lowercase depends on its position),
        // and runs longer than one 64-byte chunk.
        let long = "AbC".repeat(30);
        let pieces = [
            " ",
            "\t",
            "A",
            "z",
            "Ä",
            "ΣΑΣ",
            "ς",
            "1",
            "-",
            "(",
            "555",
            "@",
            "Example.COM",
            &long,
            "İ",
            "\u{a0}",
        ];
        let texts = crate::test_texts::from_pieces(0x5eed_0f0a_1100, 20_000, (0, 8), &pieces);
        let modes = [
            Normalize::None,
            Normalize::Email,
            Normalize::Phone,
            Normalize::Lowercase,
            Normalize::Trim,
        ];
        let mut fed = Vec::new();
        for t in &texts {
            for mode in modes {
                fed.clear();
                mode.feed(t, &mut |piece| fed.extend_from_slice(piece));
                assert_eq!(fed, mode.apply(t).as_bytes(), "{mode:?} {t:?}");
            }
        }
    }

    #[test]
    fn dotted_quad_is_the_standard_parser() {
        // Addresses and texts one edit away from them (extra, missing and
        // changed digits and dots, leading zeros, signs, spaces, ports).
        let bases = [
            "0.0.0.0",
            "1.2.3.4",
            "255.255.255.255",
            "198.51.100.82",
            "10.0.0.1",
        ];
        let edits = [
            "", "0", "1", "9", "00", ".", "-", "+", " ", ":80", "a", "256", "é",
        ];
        let mut checked = 0;
        for base in bases {
            for at in 0..=base.len() {
                for e in edits {
                    let mut texts = vec![format!("{}{e}{}", &base[..at], &base[at..])];
                    if at < base.len() {
                        texts.push(format!("{}{e}{}", &base[..at], &base[at + 1..]));
                    }
                    for t in texts {
                        let want = t.parse::<Ipv4Addr>().ok();
                        assert_eq!(dotted_quad(t.as_bytes(), false), want, "{t:?}");
                        let want = unpadded(&t).and_then(|u| u.parse::<Ipv4Addr>().ok());
                        assert_eq!(padded_quad(t.as_bytes()), want, "{t:?}");
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 1_000);
        // Every octet value, alone and with a leading zero.
        for v in 0..=999u32 {
            for t in [
                format!("1.2.3.{v}"),
                format!("{v}.2.3.4"),
                format!("1.2.3.0{v}"),
                format!("{v:03}.0{v}.2.{v:02}"),
            ] {
                assert_eq!(
                    dotted_quad(t.as_bytes(), false),
                    t.parse::<Ipv4Addr>().ok(),
                    "{t:?}"
                );
                let want = unpadded(&t).and_then(|u| u.parse::<Ipv4Addr>().ok());
                assert_eq!(padded_quad(t.as_bytes()), want, "{t:?}");
            }
        }
    }

    /// `t` with the leading zeros of each dot-separated run of one to three
    /// digits removed (`None` for longer runs, which pad nothing).
    fn unpadded(t: &str) -> Option<String> {
        let parts: Option<Vec<String>> = t
            .split('.')
            .map(|p| match p.trim_start_matches('0') {
                _ if p.len() > 3 && p.bytes().all(|b| b.is_ascii_digit()) => None,
                "" if !p.is_empty() && p.bytes().all(|b| b == b'0') => Some("0".to_string()),
                rest if p.bytes().all(|b| b.is_ascii_digit()) => Some(rest.to_string()),
                _ => Some(p.to_string()),
            })
            .collect();
        parts.map(|p| p.join("."))
    }

    #[test]
    fn padded_addresses_are_generalized_as_their_plain_form() {
        for (padded, plain) in [
            ("198.051.100.007", "198.51.100.7"),
            ("010.001.002.003", "10.1.2.3"),
            ("000.000.000.000", "0.0.0.0"),
        ] {
            let (mut a, mut b) = (String::new(), String::new());
            assert!(generalize_ip_into(padded, 24, 48, &mut a), "{padded}");
            assert!(generalize_ip_into(plain, 24, 48, &mut b));
            assert_eq!(a, b);
        }
        for not in [
            "256.001.002.003",
            "0001.2.3.4",
            "1.2.3",
            "1.2.3.4.5",
            "01.2.3.-4",
        ] {
            assert!(
                !generalize_ip_into(not, 24, 48, &mut String::new()),
                "{not}"
            );
        }
    }

    #[test]
    fn two_way_sets_keep_the_two_most_recent() {
        // Eight slots, four sets; hashes 1, 5 and 9 share set 1.
        let mut slots = [0u64; 8];
        let use_once = |slots: &mut [u64], h: u64| {
            let (slot, hit) = two_way(slots, h, |&s| s == h);
            if !hit {
                *slot = h;
            }
            hit
        };
        assert!(!use_once(&mut slots, 1));
        assert!(!use_once(&mut slots, 5));
        // Alternating between two texts of one set: both stay.
        for _ in 0..3 {
            assert!(use_once(&mut slots, 1));
            assert!(use_once(&mut slots, 5));
        }
        // A third text evicts the least recently used (1), not 5.
        assert!(!use_once(&mut slots, 9));
        assert!(use_once(&mut slots, 5));
        assert!(!use_once(&mut slots, 1));
        // Other sets were never touched.
        assert_eq!(slots.iter().filter(|&&s| s != 0).count(), 2);
        assert!(!use_once(&mut slots, 2));
        assert_eq!(&slots[2..4], &[1, 5]);
    }

    #[test]
    fn memoised_tokens_are_the_tokens() {
        // Configurations that differ in one thing each, two of them only in
        // their key's material (same key id): a memo slot must never answer
        // for another configuration. Texts repeat across three rounds in
        // different orders, so slots are filled, evicted and hit.
        let other_key = Arc::new(Key::from_bytes("k1", b"another-key-material"));
        let configs = [
            tok(Shape::Opaque, Normalize::None),
            tok(Shape::Opaque, Normalize::Email),
            tok(Shape::Email, Normalize::None),
            tok(Shape::Uuid, Normalize::Lowercase),
            Tokenize {
                bytes: 32,
                ..tok(Shape::Opaque, Normalize::None)
            },
            Tokenize {
                key: other_key,
                ..tok(Shape::Opaque, Normalize::None)
            },
        ];
        let pieces = [
            "u_",
            "1",
            "23",
            "A",
            "b",
            "@x.io",
            " ",
            "-",
            &"z".repeat(250),
        ];
        let texts = crate::test_texts::from_pieces(0x70c3_11a5_0000_0001, 3_000, (1, 4), &pieces);
        let rounds = [texts.clone(), texts.iter().rev().cloned().collect(), texts];
        let (mut got, mut want) = (String::new(), String::new());
        for text in rounds.iter().flatten() {
            for c in &configs {
                got.clear();
                want.clear();
                c.token_of(text, &mut got);
                c.token_uncached(text, &mut want);
                assert_eq!(got, want, "{c:?} {text:?}");
            }
        }
    }

    #[test]
    fn tokens_are_keyed_stable_and_shaped() {
        let t = tok(Shape::Opaque, Normalize::Email);
        let a = t.token(" Alice@Example.com ");
        assert_eq!(a, t.token("alice@example.com"));
        assert!(
            a.starts_with("tok_k1_") && a.len() == "tok_k1_".len() + 22,
            "{a}"
        );
        assert!(a["tok_k1_".len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        let other = Tokenize {
            key: Arc::new(Key::from_bytes("k1", b"another-key-material")),
            ..t.clone()
        };
        assert_ne!(a, other.token("alice@example.com"));
        let e = tok(Shape::Email, Normalize::None).token("x");
        assert!(
            e.starts_with('u')
                && e.ends_with("@k1.token.invalid")
                && e.len() == 1 + 26 + "@k1.token.invalid".len(),
            "{e}"
        );
        let u = tok(Shape::Uuid, Normalize::None).token("x");
        assert_eq!(u.len(), 36);
        assert!(u.split('-').map(str::len).eq([8, 4, 4, 4, 12]), "{u}");
        assert!(u.bytes().all(|b| b == b'-' || b.is_ascii_hexdigit()), "{u}");
        assert_eq!(&u[14..15], "8");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"));
        let d = tok(Shape::Opaque, Normalize::None).token("$device:abc");
        assert!(d.starts_with("$device:tok_k1_"));
        assert_eq!(
            tok(Shape::Opaque, Normalize::Phone).token("+1 (555) 555-0123"),
            tok(Shape::Opaque, Normalize::Phone).token("15555550123")
        );
    }

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        let mac = hmac(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn masks() {
        assert_eq!(
            Mask {
                keep_domain: true,
                keep_last: 0
            }
            .apply("alice@example.com"),
            "***@example.com"
        );
        assert_eq!(
            Mask {
                keep_domain: false,
                keep_last: 4
            }
            .apply("4111111111111111"),
            "************1111"
        );
        assert_eq!(
            Mask {
                keep_domain: false,
                keep_last: 4
            }
            .apply("ab"),
            "ab"
        );
        assert_eq!(
            Mask {
                keep_domain: false,
                keep_last: 0
            }
            .apply("héllo"),
            "*****"
        );
    }

    #[test]
    fn ips() {
        assert_eq!(generalize_ip("203.0.113.7", 24, 48).unwrap(), "203.0.113.0");
        assert_eq!(generalize_ip("203.0.113.7", 16, 48).unwrap(), "203.0.0.0");
        assert_eq!(
            generalize_ip("2001:db8:1234:5678::1", 24, 48).unwrap(),
            "2001:db8:1234::"
        );
        assert_eq!(
            generalize_ip("::ffff:203.0.113.7", 24, 48).unwrap(),
            "::ffff:203.0.113.0"
        );
        assert_eq!(
            generalize_ip("203.0.113.7:443", 24, 48).unwrap(),
            "203.0.113.0"
        );
        assert_eq!(generalize_ip("$remote", 24, 48), None);
        let list = |t: &str| {
            let mut out = String::from("kept:");
            let ok = generalize_ip_list_into(t, 24, 48, &mut out);
            (ok, out)
        };
        assert_eq!(
            list("198.51.100.4, 10.0.0.1,2001:db8:1:2::9 ,  [2001:db8::1]:443"),
            (
                true,
                "kept:198.51.100.0, 10.0.0.0,2001:db8:1:: ,  2001:db8::".into()
            )
        );
        assert_eq!(list(" 203.0.113.7 "), (true, "kept:203.0.113.0".into()));
        // One element that is not an address makes the whole list invalid,
        // and nothing of it is written.
        for bad in [
            "198.51.100.4, unknown",
            "198.51.100.4,",
            ",198.51.100.4",
            "198.51.100.4,,10.0.0.1",
            "alice, 10.0.0.1",
            ",",
        ] {
            assert_eq!(list(bad), (false, "kept:".into()), "{bad}");
        }
        // Through a rule's action, as both engines apply it.
        let g = Generalize {
            kind: GeneralizeKind::Ip {
                v4_prefix: 16,
                v6_prefix: 32,
            },
            on_invalid: OnInvalid::Drop,
        };
        assert_eq!(
            g.apply("198.51.100.4, 2001:db8:1:2::9", false).as_deref(),
            Some("198.51.0.0, 2001:db8::")
        );
        assert_eq!(g.apply("198.51.100.4, $remote", false), None);
        // The hand-written dotted form is `Display`'s, for every octet value
        // in every position.
        for o in 0..=255u8 {
            for a in [
                Ipv4Addr::new(o, 0, 9, 255),
                Ipv4Addr::new(10, o, 100, 99),
                Ipv4Addr::new(255, 1, o, 0),
                Ipv4Addr::new(0, 250, 20, o),
            ] {
                let mut d = String::new();
                dotted_into(a, &mut d);
                assert_eq!(d, a.to_string());
            }
        }
    }

    #[test]
    fn urls() {
        let allow = vec!["utm_source".to_string()];
        assert_eq!(
            generalize_url(
                "https://u:p@app.example.com/s?email=a%40b.c&utm_source=x#t",
                &[]
            ),
            "https://app.example.com/s"
        );
        assert_eq!(
            generalize_url(
                "https://app.example.com/s?email=a%40b.c&utm_source=x#t",
                &allow
            ),
            "https://app.example.com/s?utm_source=x"
        );
        assert_eq!(generalize_url("/settings?email=x", &[]), "/settings");
        assert_eq!(generalize_url("$direct", &[]), "$direct");
    }

    /// [`generalize_url`] with the standard library's substring search and
    /// a joined list: the reference its memchr scan is tested against.
    fn generalize_url_by_split(text: &str, query_allow: &[String]) -> String {
        let no_frag = text.split('#').next().unwrap_or("");
        let (base, query) = match no_frag.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (no_frag, None),
        };
        let mut out = String::new();
        match base.find("://") {
            Some(i) => {
                let auth_end = base[i + 3..].find('/').map_or(base.len(), |j| i + 3 + j);
                let auth = &base[i + 3..auth_end];
                out.push_str(&base[..i + 3]);
                out.push_str(auth.rsplit_once('@').map_or(auth, |(_, host)| host));
                out.push_str(&base[auth_end..]);
            }
            None => out.push_str(base),
        }
        if let (Some(q), false) = (query, query_allow.is_empty()) {
            let kept: Vec<&str> = q
                .split('&')
                .filter(|kv| {
                    query_allow
                        .iter()
                        .any(|a| a == kv.split('=').next().unwrap_or(""))
                })
                .collect();
            if !kept.is_empty() {
                out.push('?');
                out.push_str(&kept.join("&"));
            }
        }
        out
    }

    #[test]
    fn urls_equal_the_reference_on_random_texts() {
        let allow = ["a".to_string(), "ab".to_string()];
        let pieces = [
            ":", "/", ":/", "//", "://", "?", "#", "&", "=", "@", "a", "ab", "h:p@", "x",
        ];
        let fixed = [
            ":/a@b://c@d/e",
            "s:/",
            "a:/@b",
            "s://",
            "s://u@h",
            "s://u@h/p@q?a=1&b#c",
            "s://a@b@c/d@e",
            "s://h:p@x@y?a=1#b?c",
            "s://h#x?a=1",
        ];
        let mut texts: Vec<String> = fixed.iter().map(|t| t.to_string()).collect();
        texts.extend(crate::test_texts::from_pieces(
            0x2545_f491_4f6c_dd1d,
            50_000,
            (0, 11),
            &pieces,
        ));
        for t in texts {
            for allow in [&allow[..], &[]] {
                assert_eq!(
                    generalize_url(&t, allow),
                    generalize_url_by_split(&t, allow),
                    "{t:?}"
                );
            }
        }
    }

    #[test]
    fn user_agent_single_pass_equals_search_per_marker() {
        let all: Vec<&str> = UA_BROWSERS
            .iter()
            .chain(UA_OSES)
            .map(|(m, _)| *m)
            .chain(["Safari/"])
            .collect();
        assert!(all.len() <= 64, "markers are bits of a u64");
        for a in &all {
            for b in &all {
                assert!(a == b || !b.contains(a), "{a:?} is inside {b:?}");
            }
        }
        // Real User-Agents, and texts made of several markers in every
        // order (priority must follow the table, not the position), with
        // versions, overlapping markers and junk around them.
        let mut uas: Vec<String> = [
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; Trident/7.0; rv:11.0) like Gecko",
            "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0)",
            "Mozilla/5.0 (iPad; CPU OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/120.0 Mobile/15E148 Safari/604.1",
            "curl/8.5.0",
            "",
            "EdgiOS/EdgA/Edg/",
            "Safari/Version/",
            "Version/17 Safari/",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let markers: Vec<&str> = UA_BROWSERS
            .iter()
            .map(|(m, _)| *m)
            .chain(["Safari/", "Version/", "rv:"])
            .chain(UA_OSES.iter().map(|(m, _)| *m))
            .collect();
        let seed = 0x2545_f491_4f6c_dd1du64;
        let (mut next, mut x) = (crate::test_texts::xorshift(seed), seed);
        for _ in 0..5_000 {
            let mut ua = String::new();
            for _ in 0..(x % 5) {
                x = next();
                ua.push_str(["", "x", " ", "(", ";", "Mozilla/5.0 "][(x % 6) as usize]);
                ua.push_str(markers[(x >> 8) as usize % markers.len()]);
                if x & (1 << 40) != 0 {
                    ua.push_str(&((x >> 20) % 300).to_string());
                }
            }
            x = next();
            uas.push(ua);
        }
        uas.push(format!("{} Firefox/99", "x".repeat(UA_MEMO_MAX)));
        // Three rounds, forwards, backwards and forwards: the memo's slots
        // are filled, evicted and hit, and every answer must still be the
        // reference's.
        let rounds = [uas.clone(), uas.iter().rev().cloned().collect(), uas];
        for ua in rounds.iter().flatten() {
            assert_eq!(
                generalize_user_agent(ua),
                generalize_user_agent_by_search(ua),
                "{ua:?}"
            );
        }
    }

    #[test]
    fn user_agents() {
        let mac_chrome = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
        assert_eq!(generalize_user_agent(mac_chrome), "Chrome 131 / Mac OS X");
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1";
        assert_eq!(generalize_user_agent(iphone), "Safari 17 / iOS");
        let edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91";
        assert_eq!(generalize_user_agent(edge), "Edge 120 / Windows");
        assert_eq!(
            generalize_user_agent(
                "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
            ),
            "Firefox 121 / Linux"
        );
        assert_eq!(generalize_user_agent("weird"), "Other / Other");
    }

    #[test]
    fn timestamps() {
        assert_eq!(
            truncate_rfc3339("2025-11-27T10:23:45.123Z", TimeUnit::Hour).unwrap(),
            "2025-11-27T10:00:00Z"
        );
        assert_eq!(
            truncate_rfc3339("2025-11-27T10:23:45+02:00", TimeUnit::Day).unwrap(),
            "2025-11-27T00:00:00+02:00"
        );
        assert_eq!(
            truncate_rfc3339("2025-11-27", TimeUnit::Month).unwrap(),
            "2025-11-01"
        );
        assert_eq!(
            truncate_rfc3339("2024-03-01T10:00:00", TimeUnit::Minute).unwrap(),
            "2024-03-01T10:00:00"
        );
        assert_eq!(truncate_rfc3339("yesterday", TimeUnit::Day), None);
        // 2024-11-27T09:33:20Z
        assert_eq!(
            truncate_epoch_text("1732700000", TimeUnit::Hour).unwrap(),
            "1732698000"
        );
        assert_eq!(
            truncate_epoch_text("1732700000.123", TimeUnit::Day).unwrap(),
            "1732665600"
        );
        assert_eq!(
            truncate_epoch_text("1732700000123", TimeUnit::Day).unwrap(),
            "1732665600000"
        );
        assert_eq!(
            truncate_epoch_text("1732700000123000000", TimeUnit::Month).unwrap(),
            "1730419200000000000"
        );
        assert_eq!(truncate_epoch_text("1e9", TimeUnit::Day), None);
        for days in [-800_000i64, -1, 0, 59, 60, 19_000, 2_000_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
