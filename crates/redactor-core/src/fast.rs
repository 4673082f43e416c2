//! The zero-copy engine: drives the policy from the SIMD scanner's tape
//! instead of a DOM.
//!
//! One pass over the tape with the selector automaton; untouched bytes are
//! copied to the output as whole spans (lazily: only when a rewrite needs
//! them flushed), and only rewritten keys and values are written anew.
//! Dropping a field removes its key, value and exactly one separating comma.
//! The rare complex cases (a value-rewriting rule on an object or array, a
//! string holding nested JSON) are handed to the reference engine's own code
//! for that subtree, so both engines share one definition of the semantics;
//! differential tests hold the outputs equal.

use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use redactor_scan::{ErrorKind, Kind, Limits, Node, ScanError, Scanner};

use crate::actions::Action;
use crate::detectors::{ArgumentSpans, PlainSpans, Scratch};
use crate::engine::{
    leaf_into, Cause, Explained, Fate, LeafKind, Redactor, Seg, Stats, Walk, STRING_VALUE,
};
use crate::error::Reject;
use crate::json;
use crate::policy::{Mode, Policy};
use crate::selector::{ElementFields, MatchCache};

/// The zero-copy, tape-driven engine.
#[derive(Debug, Clone)]
pub struct Fast {
    policy: Arc<Policy>,
    /// Unique per engine: owns the notes it leaves in a thread's
    /// [`MatchCache`] (keys the detectors found nothing in), which are only
    /// true for this engine's policy.
    id: u64,
}

static NEXT_ENGINE_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// A number no other engine (or baseline) of this process has, to own the
/// notes it leaves in a [`MatchCache`] ([`MatchCache::claim`]).
pub(crate) fn next_engine_id() -> u64 {
    NEXT_ENGINE_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// The scanner and rewrite buffers of long lines (over
/// [`LONG_LINE`](crate::LONG_LINE)): one set in the process, used under
/// the long-line turn ([`crate::engine::long_line_turn`]), so that a
/// thread's own buffers keep the size ordinary lines need rather than what
/// the longest line it met needed (up to 15 times that line). They are
/// kept for the long lines that follow, and freed by the next ordinary
/// line ([`LONG_BUFFERS_KEPT`]).
static LONG_BUFFERS: std::sync::Mutex<Option<(Scanner, Buffers)>> = std::sync::Mutex::new(None);
/// Whether [`LONG_BUFFERS`] holds buffers: one load per ordinary line.
static LONG_BUFFERS_KEPT: AtomicBool = AtomicBool::new(false);

/// Frees the long-line buffers, unless a long line is using them.
#[cold]
fn free_long_buffers() {
    if let Ok(mut long) = LONG_BUFFERS.try_lock() {
        *long = None;
        LONG_BUFFERS_KEPT.store(false, Relaxed);
    }
}

thread_local! {
    /// Per thread: the scanner's buffers, the lazily built automaton, and
    /// the buffers that rewrites reuse.
    static SCANNER: RefCell<Option<(Scanner, MatchCache, Buffers)>> = const { RefCell::new(None) };
}

/// Buffers reused from line to line, so that once they have grown the
/// engine allocates nothing per event (asserted by `tests/alloc.rs`), but
/// for strings holding nested JSON, which the reference engine's code
/// rewrites.
#[derive(Debug, Default)]
struct Buffers {
    /// The detectors' own buffers.
    detect: Scratch,
    /// A rewritten value or key, before it is written out JSON-escaped.
    value: String,
    /// A rewritten key, quoted.
    quoted: Vec<u8>,
    /// Decoded copies of escaped keys and strings, returned after use.
    decoded: Vec<String>,
    /// Checks strings that look like nested JSON.
    nested: Option<Scanner>,
    /// What the options of an argument list give an element.
    argument: ArgumentSpans,
    /// What an argument list's command's plain arguments give its first
    /// elements, and a decoded element.
    plain: PlainSpans,
    element: String,
}

impl Buffers {
    /// Whether `text` is one JSON text nested at most `max_depth` deep:
    /// the reference parser's verdict (the scanner's is the same), found
    /// without building anything.
    fn is_json(&mut self, text: &str, max_depth: usize) -> bool {
        let limits = Limits {
            max_depth,
            max_bytes: usize::MAX,
        };
        let scanner = self.nested.get_or_insert_with(|| Scanner::new(limits));
        scanner.set_limits(limits);
        scanner.scan(text.as_bytes()).is_ok()
    }
}

/// Decoded-string buffers kept for reuse (more are dropped after use).
const DECODED_KEPT: usize = 32;
/// The largest decoded-string buffer kept for reuse (bytes).
const DECODED_KEPT_BYTES: usize = 64 << 10;

fn reject_of(e: ScanError) -> Reject {
    match e.kind {
        ErrorKind::InvalidUtf8 => Reject::InvalidUtf8 { offset: e.offset },
        ErrorKind::TooDeep(limit) => Reject::TooDeep {
            offset: e.offset,
            limit,
        },
        ErrorKind::TooLarge(limit) => Reject::TooLarge {
            len: e.offset as u64,
            limit,
        },
        ErrorKind::Syntax(what) => Reject::InvalidJson {
            offset: e.offset,
            what,
        },
        _ => Reject::InvalidJson {
            offset: e.offset,
            what: "invalid JSON",
        },
    }
}

impl Fast {
    /// An engine for `policy`.
    pub fn new(policy: Arc<Policy>) -> Fast {
        Fast {
            policy,
            id: next_engine_id(),
        }
    }
}

impl Redactor for Fast {
    /// The spans of the pass are positions in `out`, wherever it starts.
    /// Nothing is written before the scanner accepted the whole line, so on
    /// `Err` `out` is unchanged.
    fn process_append(
        &self,
        line: &[u8],
        out: &mut Vec<u8>,
        stats: &mut Stats,
        events: Option<&mut Vec<Explained>>,
    ) -> Result<(), Reject> {
        crate::engine::check_line(&self.policy, line, stats)?;
        let scan_limits = self.scan_limits();
        SCANNER.with(|cell| {
            let mut slot = cell.borrow_mut();
            let (scanner, cache, bufs) = slot.get_or_insert_with(|| {
                (
                    Scanner::new(scan_limits),
                    MatchCache::default(),
                    Buffers::default(),
                )
            });
            cache.claim(self.id);
            let Some(_turn) = crate::engine::long_line_turn(line.len()) else {
                if LONG_BUFFERS_KEPT.load(Relaxed) {
                    free_long_buffers();
                }
                return self.pass(line, out, stats, events, scanner, cache, bufs);
            };
            let mut long = LONG_BUFFERS.lock().unwrap_or_else(|p| p.into_inner());
            let (scanner, bufs) = long.get_or_insert_with(|| {
                LONG_BUFFERS_KEPT.store(true, Relaxed);
                (Scanner::new(scan_limits), Buffers::default())
            });
            self.pass(line, out, stats, events, scanner, cache, bufs)
        })
    }

    fn policy(&self) -> &Policy {
        &self.policy
    }
}

impl Fast {
    /// The scanner's limits: the policy's.
    fn scan_limits(&self) -> Limits {
        Limits {
            max_depth: self.policy.limits.max_depth,
            max_bytes: self.policy.limits.max_line_bytes,
        }
    }

    /// Redacts `line` with the given scanner and buffers.
    #[allow(clippy::too_many_arguments)]
    fn pass(
        &self,
        line: &[u8],
        out: &mut Vec<u8>,
        stats: &mut Stats,
        events: Option<&mut Vec<Explained>>,
        scanner: &mut Scanner,
        cache: &mut MatchCache,
        bufs: &mut Buffers,
    ) -> Result<(), Reject> {
        let start = out.len();
        scanner.set_limits(self.scan_limits());
        let (tape, text) = match scanner.scan_str(line) {
            Ok(t) => t,
            Err(e) => {
                let r = reject_of(e);
                stats.reject(&r);
                return Err(r);
            }
        };
        let policy = &*self.policy;
        let mut f = Pass {
            w: Walk::new(policy, stats, events),
            input: line,
            text,
            tape,
            out,
            last: 0,
            cache,
            bufs,
            known: None,
        };
        let set = policy.matcher.cached_start(f.cache);
        let root = tape[0];
        match root.kind {
            Kind::ObjectStart | Kind::ArrayStart => {
                f.container(0, set, 0, false, true);
            }
            _ if policy.mode == Mode::Allowlist => {
                f.w.note(Cause::Allowlist, "replace", false);
                f.last = line.len();
                f.out.extend_from_slice(b"null");
            }
            _ => {
                f.unhandled(0, set, 0, false);
            }
        }
        f.flush_to(line.len());
        let produced = (f.out.len() - start) as u64;
        stats.lines_ok += 1;
        stats.bytes_out += produced;
        Ok(())
    }
}

/// One pass over one line's tape.
struct Pass<'a, 'w> {
    w: Walk<'w>,
    input: &'a [u8],
    /// The same bytes as `input`, as the scanner validated them.
    text: &'a str,
    tape: &'a [Node],
    out: &'a mut Vec<u8>,
    /// Input bytes before `last` are already accounted for in `out`.
    last: usize,
    cache: &'a mut MatchCache,
    bufs: &'a mut Buffers,
    /// The transition of the key (or element) of the member about to be
    /// visited, and whether the key is noted clean, when
    /// [`Pass::quiet_member`] looked it up.
    known: Option<(u32, bool)>,
}

/// What [`Pass::quiet_member`] did with a member.
enum Quiet {
    /// It stays, its value ending at `.0`; the next member is at tape
    /// index `.1`.
    Stays(usize, usize),
    /// Its rule removes it (nothing was written for it).
    Removed,
    /// It is left to the full path.
    Full,
}

/// What the match cache says of an object key: the detectors found
/// nothing in it before (so they are not run again), or not yet.
#[derive(Debug, Clone, Copy, Default)]
enum KeyNote {
    #[default]
    Unknown,
    /// Not noted yet: its transition from this set is cached.
    Unnoted(u32),
    Clean,
}

impl<'a> Pass<'a, '_> {
    /// Copies untouched input up to `pos`.
    fn flush_to(&mut self, pos: usize) {
        if pos > self.last {
            self.out.extend_from_slice(&self.input[self.last..pos]);
            self.last = pos;
        }
    }

    /// Replaces input `start..end` with `bytes`.
    fn replace(&mut self, start: usize, end: usize, bytes: &[u8]) {
        self.flush_to(start);
        self.out.extend_from_slice(bytes);
        self.last = self.last.max(end);
    }

    /// Replaces input `start..end` with what `write` appends to the
    /// output (written in place: no intermediate buffer).
    fn replace_with(&mut self, start: usize, end: usize, write: impl FnOnce(&mut Vec<u8>)) {
        self.flush_to(start);
        write(self.out);
        self.last = self.last.max(end);
    }

    /// Removes input `start..end` (a part before `last` is already skipped).
    fn delete(&mut self, start: usize, end: usize) {
        self.flush_to(start);
        self.last = self.last.max(end);
    }

    /// Input span of the value at tape index `i`, and the index after it.
    fn span(&self, i: usize) -> (usize, usize, usize) {
        let n = self.tape[i];
        match n.kind {
            Kind::ObjectStart | Kind::ArrayStart => {
                (n.start as usize, n.end as usize, n.link as usize + 1)
            }
            Kind::String | Kind::Key => (n.start as usize - 1, n.end as usize + 1, i + 1),
            _ => (n.start as usize, n.end as usize, i + 1),
        }
    }

    /// Decoded text of a key or string node (borrowing the input, not
    /// `self`, so that it can be passed to `self`'s methods). A decoded
    /// copy comes from the reusable buffers: hand it back with
    /// [`Pass::recycle`].
    #[inline(always)]
    fn text(&mut self, i: usize) -> Cow<'a, str> {
        let n = self.tape[i];
        if n.has_escapes() {
            self.decoded(n)
        } else {
            // Spans start and end at ASCII quotes: always char boundaries.
            let text: &'a str = self.text;
            Cow::Borrowed(text.get(n.span()).unwrap_or(""))
        }
    }

    /// [`Pass::text`] of a node with escapes, kept out of line: most keys
    /// and strings have none, and their path stays small enough to inline.
    #[inline(never)]
    fn decoded(&mut self, n: Node) -> Cow<'a, str> {
        let mut s = self.bufs.decoded.pop().unwrap_or_default();
        s.clear();
        // Spans start and end at ASCII quotes: always char boundaries.
        redactor_scan::unescape_str(self.text.get(n.span()).unwrap_or(""), &mut s);
        Cow::Owned(s)
    }

    /// Returns a decoded copy made by [`Pass::text`] to the buffers (but
    /// for a very large one, so that a few huge escaped strings do not
    /// stay in memory as spare buffers).
    fn recycle(&mut self, text: Cow<'a, str>) {
        if let Cow::Owned(s) = text {
            if self.bufs.decoded.len() < DECODED_KEPT && s.capacity() <= DECODED_KEPT_BYTES {
                self.bufs.decoded.push(s);
            }
        }
    }

    /// Hands the subtree at `i` to the reference engine's node logic.
    fn delegate_node(&mut self, i: usize, set: u32, depth: usize, kept: bool) -> Fate {
        let states = self.cache.set(set).to_vec();
        let (start, end, _) = self.span(i);
        let Ok(mut v) = json::parse(&self.input[start..end], self.w.policy.limits.max_depth) else {
            // Unreachable: the scanner accepted the whole text.
            return Fate::Remove;
        };
        match self.w.node(&mut v, &states, depth, kept) {
            Fate::Stay => {
                let mut buf = Vec::new();
                json::write(&mut buf, &v);
                self.replace(start, end, &buf);
                Fate::Stay
            }
            Fate::Remove => Fate::Remove,
        }
    }

    /// One field or element at tape index `i` whose state set is `states`.
    fn node(&mut self, i: usize, set: u32, depth: usize, kept: bool) -> Fate {
        let policy = self.w.policy;
        let kind = self.tape[i].kind;
        let scalar = !matches!(kind, Kind::ObjectStart | Kind::ArrayStart);
        let w = &self.w;
        let container = !scalar;
        if let Some(r) = self.cache.choice(set, container, |st, c| w.choose(st, c)) {
            if policy.rules[r].keep_literals
                && matches!(kind, Kind::True | Kind::False | Kind::Null)
            {
                return Fate::Stay;
            }
            let action = &policy.rules[r].action;
            let name = action.name();
            match action {
                Action::Keep => {
                    self.w.note(Cause::Rule(r), name, false);
                    return self.unhandled(i, set, depth, true);
                }
                Action::Drop => {
                    self.w.note(Cause::Rule(r), name, false);
                    return Fate::Remove;
                }
                Action::Replace(c) => {
                    self.w.note(Cause::Rule(r), name, false);
                    let (start, end, _) = self.span(i);
                    self.replace_with(start, end, |out| json::write(out, c));
                    return Fate::Stay;
                }
                Action::Tokenize(_) | Action::Mask(_) | Action::Generalize(_) => {
                    if !scalar && self.w.events.is_some() {
                        // Explanations list paths below: the reference's code.
                        return self.delegate_node(i, set, depth, kept);
                    }
                    self.w.note(Cause::Rule(r), name, false);
                    if !scalar {
                        self.transform_container(i, action);
                        return Fate::Stay;
                    }
                    return self.transform_scalar(i, action);
                }
            }
        }
        if policy.mode == Mode::Allowlist && !kept && scalar {
            self.w.note(Cause::Allowlist, "drop", false);
            return Fate::Remove;
        }
        self.unhandled(i, set, depth, kept)
    }

    /// Applies a value-rewriting action to the string or number at `i`.
    fn transform_scalar(&mut self, i: usize, action: &Action) -> Fate {
        let n = self.tape[i];
        let mut new = std::mem::take(&mut self.bufs.value);
        new.clear();
        let result = match n.kind {
            Kind::String => {
                let text = self.text(i);
                let result = leaf_into(&text, false, action, &mut new);
                self.recycle(text);
                result
            }
            Kind::Number => leaf_into(
                self.text.get(n.span()).unwrap_or(""),
                true,
                action,
                &mut new,
            ),
            _ => LeafKind::Unchanged,
        };
        let (start, end, _) = self.span(i);
        match result {
            LeafKind::Text => self.replace_with(start, end, |out| json::write_str(out, &new)),
            LeafKind::Number => self.replace(start, end, new.as_bytes()),
            LeafKind::Null => self.replace(start, end, b"null"),
            LeafKind::Unchanged | LeafKind::Remove => {}
        }
        self.bufs.value = new;
        if result == LeafKind::Remove {
            return Fate::Remove;
        }
        Fate::Stay
    }

    /// Applies a value-rewriting action to every string and number leaf
    /// below the container at `ci`, removing the leaves it removes; keys
    /// stay and are scanned by the detectors (the reference's `transform`
    /// and `scan_keys_below`).
    fn transform_container(&mut self, ci: usize, action: &Action) {
        self.members(ci, false, None, |p, _, vi| {
            let fate = match p.tape[vi].kind {
                Kind::ObjectStart | Kind::ArrayStart => {
                    p.transform_container(vi, action);
                    Fate::Stay
                }
                _ => p.transform_scalar(vi, action),
            };
            (fate, KeyNote::Unknown)
        });
    }

    /// A node no terminal rule handled: descend or scan.
    fn unhandled(&mut self, i: usize, set: u32, depth: usize, kept: bool) -> Fate {
        match self.tape[i].kind {
            Kind::ObjectStart | Kind::ArrayStart => self.container(i, set, depth, kept, false),
            Kind::String => {
                if let Some(argument) = self.w.argument.take() {
                    self.rewrite_argument(i, argument);
                    return Fate::Stay;
                }
                let text = self.text(i);
                let policy = self.w.policy;
                // Strings such as "[Amplitude] Page Viewed" start like JSON
                // but are not: found out by their last character or by a
                // scanner, they go straight to the detectors, as in the
                // reference engine, whose parse attempt would allocate.
                // Only JSON's whitespace is skipped at either end (the
                // reference trims Unicode's, but then parses the whole
                // string, which JSON text with other blanks around is not).
                let max_depth = policy.limits.max_depth;
                let nested = policy.nested_json
                    && matches!(first_non_blank(text.bytes()), Some(b'{' | b'['))
                    && matches!(first_non_blank(text.bytes().rev()), Some(b'}' | b']'))
                    && depth < max_depth
                    && self.bufs.is_json(&text, max_depth - depth);
                // Most strings recur and were found clean before: done
                // before any buffer is taken.
                if !nested && self.w.is_known_clean(&text, self.cache) {
                    self.recycle(text);
                    return Fate::Stay;
                }
                self.rewrite_string(i, text, nested, set, depth, kept);
                Fate::Stay
            }
            Kind::Number => {
                self.rewrite_number(i);
                Fate::Stay
            }
            _ => Fate::Stay,
        }
    }

    /// The number at `i`, which no rule handled: the detectors search it
    /// when it has a card number's shape ([`crate::engine::scans_number`]);
    /// one they rewrite becomes a string. Not noted in the match cache:
    /// such numbers rarely recur.
    #[inline(always)]
    fn rewrite_number(&mut self, i: usize) {
        let text = self.text.get(self.tape[i].span()).unwrap_or("");
        if self.w.policy.detectors.list.is_empty() || !crate::engine::scans_number(text) {
            return;
        }
        self.rewrite_long_number(i, text);
    }

    /// [`Pass::rewrite_number`] for a number the detectors search; out of
    /// line, as most numbers are not.
    #[inline(never)]
    fn rewrite_long_number(&mut self, i: usize, text: &str) {
        let mut new = std::mem::take(&mut self.bufs.value);
        new.clear();
        if self
            .w
            .detect_into(text, false, &mut self.bufs.detect, &mut new)
        {
            let (start, end, _) = self.span(i);
            self.replace_with(start, end, |out| json::write_str(out, &new));
        }
        self.bufs.value = new;
    }

    /// The string at `i`, whose decoded text is `text`, which no rule
    /// handled: its nested JSON is walked (`nested`), or else (the string
    /// is not known clean) the detectors search it. Out of line: most
    /// strings are known clean, and the walk's frames stay small without
    /// this.
    #[inline(never)]
    fn rewrite_string(
        &mut self,
        i: usize,
        text: Cow<'a, str>,
        nested: bool,
        set: u32,
        depth: usize,
        kept: bool,
    ) {
        let mut new = std::mem::take(&mut self.bufs.value);
        new.clear();
        let rewritten = if nested {
            // The reference engine's code, which allocates (and replaces
            // the string it is given: not the reused one).
            let mut s = text.to_string();
            let before = self.w.changes;
            let states = self.cache.set(set).to_vec();
            self.w.scan_string(&mut s, &states, depth, kept);
            new.push_str(&s);
            self.w.changes != before
        } else {
            self.w
                .detect_unknown(&text, self.cache, &mut self.bufs.detect, &mut new)
        };
        self.recycle(text);
        if rewritten {
            let (start, end, _) = self.span(i);
            self.replace_with(start, end, |out| json::write_str(out, &new));
        }
        self.bufs.value = new;
    }

    /// The string at `i`, an argument list's element that the options
    /// before it give `argument` ([`Pass::argument_at`]): searched with
    /// it, not as JSON, and not noted in the match cache (what is found
    /// depends on the elements before it).
    #[inline(never)]
    fn rewrite_argument(&mut self, i: usize, argument: ArgumentSpans) {
        let text = self.text(i);
        let mut new = std::mem::take(&mut self.bufs.value);
        new.clear();
        let rewritten =
            self.w
                .detect_argument_into(&text, &argument, &mut self.bufs.detect, &mut new);
        self.recycle(text);
        if rewritten {
            let (start, end, _) = self.span(i);
            self.replace_with(start, end, |out| json::write_str(out, &new));
        }
        self.bufs.value = new;
        self.bufs.argument = argument;
    }

    /// Whether the array element at tape index `e` may be an argument
    /// list's element that starts with `-` or `/` ([`argument_string`]):
    /// told by its first byte (one with escapes may: it is decoded to
    /// tell).
    #[inline(always)]
    fn may_start_option(&self, e: usize) -> bool {
        let n = self.tape[e];
        let s = match n.kind {
            Kind::String => n,
            Kind::ObjectStart if n.link as usize == e + 3 => self.tape[e + 2],
            _ => return false,
        };
        s.kind == Kind::String
            && matches!(self.input.get(s.start as usize), Some(b'-' | b'/' | b'\\'))
    }

    /// When the array at tape index `ci` starts with a string that names a
    /// command whose plain arguments are read
    /// ([`PlainSpans::names_command`]), reads them into `self.bufs.plain`
    /// and returns how many of its first elements they may give something
    /// (the strings before any other element); else 0.
    #[inline(never)]
    fn read_plain(&mut self, ci: usize) -> usize {
        let (tape, text) = (self.tape, self.text);
        let end = tape[ci].link as usize;
        let mut buf = std::mem::take(&mut self.bufs.element);
        let named = ci + 1 < end
            && argument_string(tape, text, ci + 1)
                .is_some_and(|si| PlainSpans::names_command(decode(tape[si], text, &mut buf)));
        let mut n = 0;
        if named {
            let plain = &mut self.bufs.plain;
            plain.clear();
            let mut e = ci + 1;
            for _ in 0..PlainSpans::ELEMENTS {
                let Some(si) = (e < end).then(|| argument_string(tape, text, e)).flatten() else {
                    break;
                };
                plain.push(decode(tape[si], text, &mut buf));
                e = after(tape, e);
            }
            n = plain.read();
        }
        self.bufs.element = buf;
        n
    }

    /// What the options of the array at tape index `ci` give its element
    /// at `i`, after the element at `prev`, and, with `plain` (the
    /// element's number, in a list that [`Pass::read_plain`] read), what
    /// its command's plain arguments give it, if anything: left in
    /// `self.w.argument` for the element's search (see [`ArgumentSpans`];
    /// the reference engine's `argument_at`).
    #[inline(never)]
    fn argument_at(
        &mut self,
        ci: usize,
        i: usize,
        prev: Option<usize>,
        plain: Option<usize>,
    ) -> bool {
        let (tape, text) = (self.tape, self.text);
        let Some(vi) = argument_string(tape, text, i) else {
            return false;
        };
        let prev = prev.and_then(|p| argument_string(tape, text, p));
        let value = self.text(vi);
        let prev_text = prev.map(|p| self.text(p));
        let mut argument = std::mem::take(&mut self.bufs.argument);
        argument.clear();
        let mut found = ArgumentSpans::may_apply(prev_text.as_deref(), &value) && {
            let end = tape[ci].link as usize;
            // The strings of the list's first elements, decoded where they
            // have escapes.
            let in_list = |named: &dyn Fn(&str) -> bool| {
                let mut e = ci + 1;
                let mut decoded = String::new();
                for _ in 0..ArgumentSpans::COMMAND_ELEMENTS {
                    if e >= end {
                        break;
                    }
                    if let Some(si) = argument_string(tape, text, e) {
                        if named(decode(tape[si], text, &mut decoded)) {
                            return true;
                        }
                    }
                    e = after(tape, e);
                }
                false
            };
            argument.read(prev_text.as_deref(), &value, in_list)
        };
        if let Some(index) = plain {
            found = argument.add_plain(&self.bufs.plain, index);
        }
        self.recycle(value);
        if let Some(p) = prev_text {
            self.recycle(p);
        }
        if found {
            self.w.argument = Some(argument);
        } else {
            self.bufs.argument = argument;
        }
        found
    }

    /// The members or elements of the container at tape index `ci`.
    fn container(&mut self, ci: usize, set: u32, depth: usize, kept: bool, root: bool) -> Fate {
        let (out_mark, last_mark) = (self.out.len(), self.last);
        let is_object = self.tape[ci].kind == Kind::ObjectStart;
        // Members nothing can change take the quiet path (not when
        // explaining, which tracks paths, nor where unhandled scalars are
        // dropped).
        let policy = self.w.policy;
        let quiet = (self.w.events.is_none() && (policy.mode == Mode::Denylist || kept))
            .then_some((set, depth, kept));
        let emitted_any = self.members(ci, true, quiet, |p, index, vi| {
            let (child, note) = if is_object {
                let key = p.text(vi - 1);
                let (child, clean) = match p.known.take() {
                    Some(known) => known,
                    None => p.w.policy.matcher.cached_key_noted(p.cache, set, &key),
                };
                if p.w.events.is_some() {
                    p.w.path.push(Seg::key(&key, &p.w.policy.detectors));
                }
                p.recycle(key);
                let note = if clean {
                    KeyNote::Clean
                } else {
                    KeyNote::Unnoted(set)
                };
                (child, note)
            } else {
                let matcher = &p.w.policy.matcher;
                let child = if let Some((child, _)) = p.known.take() {
                    child
                } else if matcher.has_where {
                    let element = p.element(vi);
                    matcher.cached_index(p.cache, set, index, &element)
                } else {
                    matcher.cached_index(p.cache, set, index, &())
                };
                if p.w.events.is_some() {
                    p.w.path.push(Seg::Index(index));
                }
                (child, KeyNote::Unknown)
            };
            (p.node(vi, child, depth + 1, kept), note)
        });
        if !root && self.w.policy.mode == Mode::Allowlist && !kept && !emitted_any {
            self.out.truncate(out_mark);
            self.last = last_mark;
            self.w.note(Cause::Allowlist, "drop", false);
            return Fate::Remove;
        }
        Fate::Stay
    }

    /// Visits the members (or elements) of the container at tape index
    /// `ci` with `each(pass, position, value index)`, which returns the
    /// member's fate and what the match cache says of its key; then scans
    /// the keys of the members that stay, and removes the members that do
    /// not with exactly one separating comma. With `tracks_path`, `each`
    /// pushed one path segment (when explaining) that is popped here. With
    /// `quiet` (the container's state set, depth and whether it is kept), a
    /// member that [`Pass::quiet_member`] finds nothing can change is
    /// passed over without `each`. Returns whether any member stayed.
    fn members(
        &mut self,
        ci: usize,
        tracks_path: bool,
        quiet: Option<(u32, usize, bool)>,
        mut each: impl FnMut(&mut Self, usize, usize) -> (Fate, KeyNote),
    ) -> bool {
        let node = self.tape[ci];
        let is_object = node.kind == Kind::ObjectStart;
        let end_index = node.link as usize;
        let open = node.start as usize;
        let close = self.tape[end_index].start as usize;
        let mut emitted_any = false;
        let mut prev_end = open + 1;
        let mut i = ci + 1;
        let mut index = 0usize;
        // An argument list's element (an OTLP `stringValue` object) that
        // an option before it takes: its member goes the full way too, to
        // the string that takes what the option gives.
        let taken = self.w.argument.is_some();
        // In an array: the element before, and whether it may start an
        // option (`-`, `/`); whether the first names a command whose plain
        // arguments are read.
        let (mut prev, mut prev_option) = (None, false);
        // (The elements it may give something are strings: no list inside
        // reads another into the buffer before they are done.)
        let plain = if is_object { 0 } else { self.read_plain(ci) };
        while i < end_index {
            // An argument list's element that an option before it or its
            // command takes goes the full way, with what they give it.
            let option = !is_object && self.may_start_option(i);
            let argument = (option || prev_option || index < plain)
                && self.argument_at(ci, i, prev, (index < plain).then_some(index));
            (prev, prev_option) = (Some(i), option);
            let quiet = match quiet {
                Some(at) if !argument && !taken => self.quiet_member(i, is_object, at),
                _ => Quiet::Full,
            };
            // Taken after the quiet path, which writes nothing for a
            // member it does not keep.
            let member_mark = (self.out.len(), self.last);
            let stays = match quiet {
                Quiet::Stays(value_end, after) => {
                    emitted_any = true;
                    prev_end = value_end;
                    i = after;
                    index += 1;
                    continue;
                }
                Quiet::Removed => false,
                Quiet::Full => {
                    let stays =
                        self.full_member(i, is_object, index, tracks_path, member_mark, &mut each);
                    if argument {
                        // Not taken when a rule handled the element.
                        if let Some(a) = self.w.argument.take() {
                            self.bufs.argument = a;
                        }
                    }
                    stays
                }
            };
            let (item_start, vi) = if is_object {
                (self.tape[i].start as usize - 1, i + 1)
            } else {
                (self.span(i).0, i)
            };
            let (_, value_end, after) = self.span(vi);
            if stays {
                emitted_any = true;
                prev_end = value_end;
            } else {
                self.out.truncate(member_mark.0);
                self.last = member_mark.1;
                if emitted_any {
                    self.delete(prev_end, value_end);
                } else {
                    let next_start = if after < end_index {
                        if is_object {
                            self.tape[after].start as usize - 1
                        } else {
                            self.span(after).0
                        }
                    } else {
                        close
                    };
                    self.delete(item_start.max(open + 1), next_start);
                }
            }
            i = after;
            index += 1;
        }
        emitted_any
    }

    /// The member (or element) at tape index `i`, number `index`, the full
    /// way: `each` with it, then its key scanned when it stays (and its path
    /// segment popped with `tracks_path`). Returns whether it stays.
    #[inline(always)]
    fn full_member(
        &mut self,
        i: usize,
        is_object: bool,
        index: usize,
        tracks_path: bool,
        member_mark: (usize, usize),
        each: &mut impl FnMut(&mut Self, usize, usize) -> (Fate, KeyNote),
    ) -> bool {
        let vi = if is_object { i + 1 } else { i };
        let (fate, note) = each(self, index, vi);
        let stays = matches!(fate, Fate::Stay);
        // Keys survive: scan them too (after the value, as the reference
        // does; the key precedes the value in the output, so rewrite it
        // in place in `out`). A key found clean before is not scanned
        // again.
        let scan = !matches!(note, KeyNote::Clean) && !self.w.policy.detectors.list.is_empty();
        if stays && is_object && scan {
            let key = self.text(i);
            // Keys below a rewritten container have no transition to
            // hold a note: the strings found clean hold theirs (the
            // detectors find in a key what they find in a value).
            let known_clean = matches!(note, KeyNote::Unknown) && self.cache.is_clean_value(&key);
            let mut new_key = std::mem::take(&mut self.bufs.value);
            new_key.clear();
            if !known_clean {
                if self
                    .w
                    .detect_into(&key, true, &mut self.bufs.detect, &mut new_key)
                {
                    self.rewrite_key(member_mark, i, &new_key);
                } else if let KeyNote::Unnoted(set) = note {
                    self.w.policy.matcher.note_key(self.cache, set, &key);
                } else {
                    self.cache.note_clean_value(&key);
                }
            }
            self.bufs.value = new_key;
            self.recycle(key);
        }
        if tracks_path && self.w.events.is_some() {
            self.w.path.pop();
        }
        stays
    }

    /// The member (or element) at tape index `i` of a container whose state
    /// set is `set`, at `depth`, kept or not, when the match cache shows
    /// what to do with it without the full path: its key's transition is
    /// cached (and noted clean, when the detectors would scan the key of a
    /// member that stays), and the set it leads to chooses
    ///
    /// - no rule or a `keep` rule (counted here), and its value is a
    ///   literal, a number, a string that cannot be nested JSON (searched
    ///   from here unless noted clean), or a container (walked from here);
    /// - or a rule that drops, replaces or rewrites it, and its value is
    ///   a literal, a number or a string: the rule is applied here.
    ///
    /// Anything else is left to the full path ([`Quiet::Full`]), which
    /// gives the same output (and computes and notes what this reads); a
    /// key transition found is left for it in `known`.
    #[inline(always)]
    fn quiet_member(
        &mut self,
        i: usize,
        is_object: bool,
        (set, depth, kept): (u32, usize, bool),
    ) -> Quiet {
        let policy = self.w.policy;
        let no_detectors = policy.detectors.list.is_empty();
        let (child, noted, vi) = if is_object {
            let key = self.tape[i];
            if key.has_escapes() {
                return Quiet::Full;
            }
            let Some(key) = self.input.get(key.span()) else {
                return Quiet::Full;
            };
            let Some((child, noted)) = self.cache.known_key(set, key) else {
                return Quiet::Full;
            };
            (child, noted || no_detectors, i + 1)
        } else {
            // An object element's fields may decide its set.
            let child = if policy.matcher.has_where && self.tape[i].kind == Kind::ObjectStart {
                let element = self.element(i);
                policy.matcher.known_index(self.cache, set, &element)
            } else {
                self.cache.plain_index(set)
            };
            let Some(child) = child else {
                return Quiet::Full;
            };
            (child, true, i)
        };
        let value = self.tape[vi];
        // Kinds are told apart by comparisons, not a `match`: its jump
        // table costs a mispredicted indirect jump whenever the kind
        // differs from the last member's.
        let kind = value.kind;
        let scalar = kind as u8 >= Kind::String as u8;
        let Some(choice) = self.cache.known_choice(child, !scalar) else {
            return self.not_quiet(child, noted);
        };
        let literal = kind as u8 >= Kind::True as u8;
        let keep = match choice {
            None => None,
            Some(r) if matches!(policy.rules[r].action, Action::Keep) => Some(r),
            Some(r) => {
                // What `node` does with a scalar a rule rewrites (a
                // container's rewrite is left to it). A member dropped has
                // no key to scan.
                let rule = &policy.rules[r];
                let drops = matches!(rule.action, Action::Drop);
                if !scalar || !(noted || drops) {
                    return self.not_quiet(child, noted);
                }
                let (start, end) = scalar_span(value);
                if rule.keep_literals && literal {
                    return Quiet::Stays(end, vi + 1);
                }
                self.w.note(Cause::Rule(r), rule.action.name(), false);
                let fate = match &rule.action {
                    Action::Drop => Fate::Remove,
                    Action::Replace(c) => {
                        self.replace_with(start, end, |out| json::write(out, c));
                        Fate::Stay
                    }
                    action => self.transform_scalar(vi, action),
                };
                return match fate {
                    Fate::Stay => Quiet::Stays(end, vi + 1),
                    Fate::Remove => Quiet::Removed,
                };
            }
        };
        if !noted {
            return self.not_quiet(child, noted);
        }
        // A string without escapes that cannot be nested JSON (anything
        // nested JSON could start with goes the full way).
        let mut text: &'a str = "";
        if kind == Kind::String {
            if value.has_escapes() {
                return self.not_quiet(child, noted);
            }
            // Spans start and end at ASCII quotes: always char boundaries.
            text = self.text.get(value.span()).unwrap_or("");
            let nests = policy.nested_json
                && matches!(
                    text.as_bytes().first(),
                    Some(b'{' | b'[' | b' ' | b'\t' | b'\n' | b'\r')
                );
            if nests {
                return self.not_quiet(child, noted);
            }
        }
        // As `node` does: a rule that keeps literals keeps them without
        // counting.
        if let Some(r) = keep {
            if !(policy.rules[r].keep_literals && literal) {
                self.w.note(Cause::Rule(r), "keep", false);
            }
        }
        if !scalar {
            // An object or an array (the only other kinds a value has):
            // what `unhandled` does with it (a container stays where the
            // quiet path is taken).
            self.container(vi, child, depth + 1, kept || keep.is_some(), false);
            return Quiet::Stays(value.end as usize, value.link as usize + 1);
        }
        if kind == Kind::String && !self.w.is_known_clean(text, self.cache) {
            // Searched as `unhandled` would.
            self.rewrite_string(vi, Cow::Borrowed(text), false, child, depth + 1, kept);
        } else if kind == Kind::Number {
            self.rewrite_number(vi);
        }
        Quiet::Stays(scalar_span(value).1, vi + 1)
    }

    /// The array element at tape index `i`, for its `[member=value]`
    /// fields.
    #[inline(always)]
    fn element(&self, i: usize) -> TapeElement<'a> {
        TapeElement {
            tape: self.tape,
            text: self.text,
            i,
        }
    }

    /// Leaves a member to the full path: the key transition that
    /// [`Pass::quiet_member`] found is handed to it.
    #[inline(always)]
    fn not_quiet(&mut self, child: u32, noted: bool) -> Quiet {
        self.known = Some((child, noted));
        Quiet::Full
    }

    /// Replaces key `ki` (already copied or about to be) with `new_key`.
    fn rewrite_key(&mut self, member_mark: (usize, usize), ki: usize, new_key: &str) {
        let key_start = self.tape[ki].start as usize - 1;
        let key_end = self.tape[ki].end as usize + 1;
        let mut quoted = std::mem::take(&mut self.bufs.quoted);
        quoted.clear();
        json::write_str(&mut quoted, new_key);
        if self.last <= key_start {
            // Nothing of the key was copied yet.
            self.replace(key_start, key_end, &quoted);
        } else {
            // The member was partly written: from the mark, the output holds
            // input[last..key_start] (the separator), the original key, and
            // what followed; splice the new key in place of the original.
            let (out_len, last) = member_mark;
            let at = out_len + key_start.saturating_sub(last);
            let old_key_len = key_end - key_start;
            self.out
                .splice(at..at + old_key_len, quoted.iter().copied());
        }
        self.bufs.quoted = quoted;
    }
}

/// The input span of scalar node `n`, a string's with its quotes (told by
/// a comparison, not by [`Pass::span`]'s `match`).
#[inline(always)]
fn scalar_span(n: Node) -> (usize, usize) {
    let quote = usize::from(n.kind == Kind::String);
    (n.start as usize - quote, n.end as usize + quote)
}

/// The first byte of `bytes` that is not JSON whitespace.
#[inline]
fn first_non_blank(mut bytes: impl Iterator<Item = u8>) -> Option<u8> {
    bytes.find(|&b| !json::is_ws(b))
}

/// The text of string node `n` of a tape of `text`, decoded into
/// `decoded` when it has escapes.
#[inline]
fn decode<'t>(n: Node, text: &'t str, decoded: &'t mut String) -> &'t str {
    // Spans start and end at ASCII quotes: always char boundaries.
    let raw = text.get(n.span()).unwrap_or("");
    if !n.has_escapes() {
        return raw;
    }
    decoded.clear();
    redactor_scan::unescape_str(raw, decoded);
    decoded
}

/// The tape index after the value at tape index `i` (past its subtree).
#[inline]
fn after(tape: &[Node], i: usize) -> usize {
    let n = tape[i];
    match n.kind {
        Kind::ObjectStart | Kind::ArrayStart => n.link as usize + 1,
        _ => i + 1,
    }
}

/// The tape index of the string that the array element at tape index `e`
/// is as an argument list's element: the element itself, or the string of
/// an object with it as its only member under the key `stringValue`
/// (OTLP's `arrayValue`, whose values are such objects).
fn argument_string(tape: &[Node], text: &str, e: usize) -> Option<usize> {
    let n = tape[e];
    match n.kind {
        Kind::String => Some(e),
        Kind::ObjectStart
            if n.link as usize == e + 3
                && tape[e + 2].kind == Kind::String
                && decode(tape[e + 1], text, &mut String::new()) == STRING_VALUE =>
        {
            Some(e + 2)
        }
        _ => None,
    }
}

/// The array element at tape index `i` of a tape of `text`.
struct TapeElement<'t> {
    tape: &'t [Node],
    text: &'t str,
    i: usize,
}

/// Each string-valued member of the element (name and value, decoded);
/// none when it is not an object.
impl ElementFields for TapeElement<'_> {
    fn each(&self, mut sink: impl FnMut(&str, &str)) {
        let (tape, text, i) = (self.tape, self.text, self.i);
        let n = tape[i];
        if n.kind != Kind::ObjectStart {
            return;
        }
        // Escaped names and values are decoded into these (allocated only then).
        let (mut name_buf, mut value_buf) = (String::new(), String::new());
        let mut k = i + 1;
        while k < n.link as usize {
            let (name, value) = (tape[k], tape[k + 1]);
            if value.kind == Kind::String {
                sink(
                    decode(name, text, &mut name_buf),
                    decode(value, text, &mut value_buf),
                );
            }
            k = after(tape, k + 1);
        }
    }
}
