//! The reference (DOM) redaction engine, and what every engine shares:
//! the [`Redactor`] trait, [`Stats`] counters and [`Explained`] events.
//!
//! The reference engine parses a line into a [`Value`], walks it once with
//! the selector automaton, rewrites it in place and serialises it. It is
//! deliberately simple: it is the oracle every faster engine is tested
//! against.

use std::sync::Arc;

use crate::actions::{Action, GeneralizeKind, OnInvalid};
use crate::detectors::{ArgumentSpans, Detectors, PlainSpans, Scratch};
use crate::error::Reject;
use crate::json::{self, Value};
use crate::policy::{Mode, Policy};
use crate::selector::{MatchCache, PathElem, State};

/// Counters kept by an engine; merge per-thread copies with [`Stats::merge`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Lines redacted and emitted.
    pub lines_ok: u64,
    /// Rejected lines by reason, indexed like [`Reject::CODES`].
    pub rejects: [u64; 4],
    /// Times each rule fired, indexed like `Policy::rules`.
    pub rules: Vec<u64>,
    /// Matches of each detector, indexed like `Policy::detectors.list`.
    pub detectors: Vec<u64>,
    /// Fields dropped because no rule kept them (allowlist mode).
    pub allowlist_dropped: u64,
    /// Input bytes of every line given to an engine, rejected ones
    /// included (without newlines).
    pub bytes_in: u64,
    /// Output bytes (without newlines).
    pub bytes_out: u64,
}

impl Stats {
    /// Zeroed counters sized for `policy`.
    pub fn new(policy: &Policy) -> Stats {
        Stats {
            rules: vec![0; policy.rules.len()],
            detectors: vec![0; policy.detectors.list.len()],
            ..Stats::default()
        }
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &Stats) {
        self.lines_ok += other.lines_ok;
        for (a, b) in self.rejects.iter_mut().zip(other.rejects) {
            *a += b;
        }
        if self.rules.len() < other.rules.len() {
            self.rules.resize(other.rules.len(), 0);
        }
        for (a, b) in self.rules.iter_mut().zip(&other.rules) {
            *a += b;
        }
        if self.detectors.len() < other.detectors.len() {
            self.detectors.resize(other.detectors.len(), 0);
        }
        for (a, b) in self.detectors.iter_mut().zip(&other.detectors) {
            *a += b;
        }
        self.allowlist_dropped += other.allowlist_dropped;
        self.bytes_in += other.bytes_in;
        self.bytes_out += other.bytes_out;
    }

    /// Records a reject.
    pub fn reject(&mut self, r: &Reject) {
        self.rejects[r.index()] += 1;
    }
}

/// What rewrote a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// A rule, by index in `Policy::rules`.
    Rule(usize),
    /// A detector, by index in `Policy::detectors.list`.
    Detector(usize),
    /// Allowlist mode: no rule kept the field.
    Allowlist,
}

/// One rewrite, for `redactor explain`. Never holds a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explained {
    /// JSON path of the field, e.g. `batch[0].traits.email`. Keys that the
    /// detectors rewrite (an email address used as a key) appear as the
    /// output writes them, never as the input had them.
    pub path: String,
    /// What fired.
    pub cause: Cause,
    /// The action's name (`drop`, `tokenize`, ...).
    pub action: &'static str,
    /// Whether the match was in an object key rather than a value.
    pub in_key: bool,
}

/// A redaction engine: one line (a JSON text) in, its redacted text out.
pub trait Redactor: Send + Sync {
    /// Appends the redaction of `line` to `out`, keeping what `out` held
    /// before, and lists every rewrite in `events` when given. On `Err`,
    /// `out` is as it was.
    ///
    /// # Errors
    ///
    /// A [`Reject`] when the line is not a valid JSON text within limits.
    fn process_append(
        &self,
        line: &[u8],
        out: &mut Vec<u8>,
        stats: &mut Stats,
        events: Option<&mut Vec<Explained>>,
    ) -> Result<(), Reject>;

    /// The compiled policy.
    fn policy(&self) -> &Policy;

    /// Redacts `line` into `out` (cleared first), listing every rewrite in
    /// `events` when given. On `Err` nothing in `out` may be forwarded.
    ///
    /// # Errors
    ///
    /// As [`Redactor::process_append`].
    fn process(
        &self,
        line: &[u8],
        out: &mut Vec<u8>,
        stats: &mut Stats,
        events: Option<&mut Vec<Explained>>,
    ) -> Result<(), Reject> {
        out.clear();
        self.process_append(line, out, stats, events)
    }

    /// Redacts `line` into `out` (cleared first).
    ///
    /// # Errors
    ///
    /// As [`Redactor::process`].
    fn redact(&self, line: &[u8], out: &mut Vec<u8>, stats: &mut Stats) -> Result<(), Reject> {
        self.process(line, out, stats, None)
    }

    /// Appends the redaction of `line` to `out` (what `out` held stays; on
    /// `Err` nothing is added): a stream's lines go straight after each
    /// other, without a copy from a buffer of their own.
    ///
    /// # Errors
    ///
    /// As [`Redactor::process_append`].
    fn redact_append(
        &self,
        line: &[u8],
        out: &mut Vec<u8>,
        stats: &mut Stats,
    ) -> Result<(), Reject> {
        self.process_append(line, out, stats, None)
    }

    /// Like [`Redactor::redact`], also listing every rewrite.
    ///
    /// # Errors
    ///
    /// As [`Redactor::process`].
    fn explain(
        &self,
        line: &[u8],
        out: &mut Vec<u8>,
        stats: &mut Stats,
        events: &mut Vec<Explained>,
    ) -> Result<(), Reject> {
        events.clear();
        self.process(line, out, stats, Some(events))
    }
}

/// Lines longer than this are long: a process redacts them one at a time,
/// whatever the engine and the thread, each engine taking a process-wide
/// turn around such a line.
pub const LONG_LINE: usize = 1 << 20;

static LONG_LINES: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// For a line longer than [`LONG_LINE`]: waits until no other thread of
/// the process holds the turn, and returns this line's turn. `None` for
/// other lines. An engine needs up to 15 times a line's length while it
/// redacts it (the fast engine's tape for a line of tiny values, the
/// reference engine's document); both engines take the turn around each
/// long line, so that memory grows with one long line at a time rather
/// than one per thread. A caller that holds a turn must not redact
/// another long line on the same thread before dropping it.
pub(crate) fn long_line_turn(len: usize) -> Option<std::sync::MutexGuard<'static, ()>> {
    (len > LONG_LINE).then(|| LONG_LINES.lock().unwrap_or_else(|p| p.into_inner()))
}

/// What every engine does first: count the line's bytes, reject an
/// over-long line, and size the counters for `policy`.
pub(crate) fn check_line(policy: &Policy, line: &[u8], stats: &mut Stats) -> Result<(), Reject> {
    stats.bytes_in += line.len() as u64;
    if line.len() > policy.limits.max_line_bytes {
        let r = Reject::TooLarge {
            len: line.len() as u64,
            limit: policy.limits.max_line_bytes,
        };
        stats.reject(&r);
        return Err(r);
    }
    if stats.rules.len() != policy.rules.len()
        || stats.detectors.len() != policy.detectors.list.len()
    {
        stats.merge(&Stats::new(policy));
    }
    Ok(())
}

/// The DOM-based reference engine.
#[derive(Debug, Clone)]
pub struct Reference {
    policy: Arc<Policy>,
}

#[derive(Clone, Debug)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

impl Seg {
    /// The segment of key `k` in `explain`'s paths: as the output writes the
    /// key, not as the input had it, when the detectors rewrite it. Its
    /// text is what redaction removes (an email address used as a key), and
    /// every path below it would print it too. Found once per key, as the
    /// walk enters it, not once per path printed.
    pub(crate) fn key(k: &str, detectors: &Detectors) -> Seg {
        let mut rewritten = String::new();
        if !detectors.list.is_empty()
            && detectors.rewrite_into(k, &mut Scratch::default(), &mut rewritten, |_| {})
        {
            Seg::Key(rewritten)
        } else {
            Seg::Key(k.to_string())
        }
    }
}

/// A path as a selector would write it: a key with characters a bare name
/// cannot hold is quoted. Keys come from the input, so a control or
/// invisible formatting character (an escape sequence for the terminal, a
/// newline that would start a false line, a bidirectional override that
/// reorders what is shown) is written as `\u{HEX}`, which the selector
/// syntax reads back as that character.
pub(crate) fn render_path(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                let plain = !k.is_empty()
                    && k.chars().all(|c| {
                        !matches!(c, '.' | '[' | ']' | '"' | '*' | '=' | '\\')
                            && !c.is_whitespace()
                            && !hidden(c)
                    });
                if plain {
                    s.push_str(k);
                } else {
                    s.push('"');
                    for c in k.chars() {
                        match c {
                            '\\' | '"' => {
                                s.push('\\');
                                s.push(c);
                            }
                            c if hidden(c) => s.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
                            c => s.push(c),
                        }
                    }
                    s.push('"');
                }
            }
        }
    }
    s
}

/// Whether `c` is a control character or one of Unicode's invisible
/// formatting characters (zero-width spaces and joiners, direction marks,
/// embeddings, overrides and isolates, word joiners, the byte order mark),
/// which a path shows as `\u{HEX}`.
fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{ad}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{206f}'
                | '\u{feff}'
                | '\u{fff9}'..='\u{fffb}'
        )
}

pub(crate) struct Walk<'a> {
    pub(crate) policy: &'a Policy,
    pub(crate) stats: &'a mut Stats,
    pub(crate) events: Option<&'a mut Vec<Explained>>,
    pub(crate) path: Vec<Seg>,
    /// Rewrites so far (to know whether a nested JSON string changed).
    pub(crate) changes: u64,
    /// What the options before it give the array element about to be
    /// visited, when it is a string that one of them takes as its value
    /// (taken by the string's search, dropped after the element).
    pub(crate) argument: Option<ArgumentSpans>,
}

/// What became of a node.
pub(crate) enum Fate {
    Stay,
    Remove,
}

impl<'a> Walk<'a> {
    /// Counts a rewrite (or a kept field) in the stats and, when
    /// explaining, records it. Inline: the engines call it for most fields
    /// a rule matches, and its counting is a few instructions.
    #[inline(always)]
    pub(crate) fn note(&mut self, cause: Cause, action: &'static str, in_key: bool) {
        if !matches!((cause, action), (Cause::Rule(_), "keep")) {
            self.changes += 1;
        }
        match cause {
            Cause::Rule(r) => self.stats.rules[r] += 1,
            Cause::Detector(d) => self.stats.detectors[d] += 1,
            Cause::Allowlist => self.stats.allowlist_dropped += 1,
        }
        if self.events.is_some() {
            self.explain(cause, action, in_key);
        }
    }

    /// Records a rewrite for `explain`.
    #[cold]
    fn explain(&mut self, cause: Cause, action: &'static str, in_key: bool) {
        if let Some(ev) = self.events.as_deref_mut() {
            ev.push(Explained {
                path: render_path(&self.path),
                cause,
                action,
                in_key,
            });
        }
    }

    /// The rule deciding a node: the policy's own rules first (in order),
    /// then preset rules, where any redacting preset rule beats a preset
    /// `keep`. A rule with `scalars_only` does not decide a `container`
    /// (an object or an array).
    pub(crate) fn choose(&self, states: &[State], container: bool) -> Option<usize> {
        let (mut own, mut redact, mut keep) = (None::<usize>, None::<usize>, None::<usize>);
        for r in self.policy.matcher.completed(states) {
            let rule = &self.policy.rules[r];
            if container && rule.scalars_only {
                continue;
            }
            let slot = if rule.origin == "policy" {
                &mut own
            } else if matches!(rule.action, Action::Keep) {
                &mut keep
            } else {
                &mut redact
            };
            *slot = Some(slot.map_or(r, |x| x.min(r)));
        }
        own.or(redact).or(keep)
    }

    /// Applies detectors to a string; returns the rewritten text if any matched.
    pub(crate) fn detect(&mut self, text: &str, in_key: bool) -> Option<String> {
        let mut out = String::new();
        self.detect_into(text, in_key, &mut Scratch::default(), &mut out)
            .then_some(out)
    }

    /// [`Walk::detect`], appending the rewritten text to `out`; false (and
    /// `out` unchanged) when nothing matched.
    pub(crate) fn detect_into(
        &mut self,
        text: &str,
        in_key: bool,
        scratch: &mut Scratch,
        out: &mut String,
    ) -> bool {
        if self.policy.detectors.list.is_empty() {
            return false;
        }
        self.policy
            .detectors
            .rewrite_into(text, scratch, out, |d| self.note_detection(d, in_key))
    }

    /// [`Walk::detect_into`] of an argument list's element `text`, with
    /// what the options before it give it (see [`ArgumentSpans`]).
    pub(crate) fn detect_argument_into(
        &mut self,
        text: &str,
        argument: &ArgumentSpans,
        scratch: &mut Scratch,
        out: &mut String,
    ) -> bool {
        self.policy
            .detectors
            .rewrite_argument_into(text, argument, scratch, out, |d| {
                self.note_detection(d, false)
            })
    }

    /// Counts (and explains) a match of detector `d`.
    #[inline]
    fn note_detection(&mut self, d: usize, in_key: bool) {
        let name = self.policy.detectors.list[d].action.name();
        self.note(Cause::Detector(d), name, in_key);
    }

    /// Rewrites string value `text`, which no rule handled, with the
    /// detectors, appending the result to `out`; false (and `out`
    /// unchanged) when nothing matched. `cache` holds the owner's notes: a
    /// string found clean before is not searched, and one rewritten before
    /// is rewritten from its note, each of its matches counted as a search
    /// would count it. What a search finds is noted there.
    #[inline(always)]
    pub(crate) fn detect_value(
        &mut self,
        text: &str,
        cache: &mut MatchCache,
        scratch: &mut Scratch,
        out: &mut String,
    ) -> bool {
        !self.is_known_clean(text, cache) && self.detect_unknown(text, cache, scratch, out)
    }

    /// Whether string value `text` is clean without a search: there are no
    /// detectors, or the owner noted it clean in `cache`.
    #[inline(always)]
    pub(crate) fn is_known_clean(&self, text: &str, cache: &MatchCache) -> bool {
        self.policy.detectors.list.is_empty() || cache.is_clean_value(text)
    }

    /// [`Walk::detect_value`] for a `text` that is not known clean.
    #[inline(always)]
    pub(crate) fn detect_unknown(
        &mut self,
        text: &str,
        cache: &mut MatchCache,
        scratch: &mut Scratch,
        out: &mut String,
    ) -> bool {
        let policy = self.policy;
        if let Some((rewritten, detectors)) = cache.rewrite_of(text) {
            out.push_str(rewritten);
            for &d in detectors {
                self.note_detection(usize::from(d), false);
            }
            return true;
        }
        let start = out.len();
        let mut matched = std::mem::take(&mut scratch.matched);
        matched.clear();
        let found = policy.detectors.rewrite_into(text, scratch, out, |d| {
            matched.push(d);
            self.note_detection(d, false);
        });
        if found {
            cache.note_rewrite(text, &out[start..], &matched);
        } else {
            cache.note_clean_value(text);
        }
        scratch.matched = matched;
        found
    }

    /// A walker over `policy` recording into `stats` (and `events`).
    pub(crate) fn new(
        policy: &'a Policy,
        stats: &'a mut Stats,
        events: Option<&'a mut Vec<Explained>>,
    ) -> Walk<'a> {
        Walk {
            policy,
            stats,
            events,
            path: Vec::new(),
            changes: 0,
            argument: None,
        }
    }

    /// Processes an unhandled string: nested JSON first, then detectors.
    pub(crate) fn scan_string(
        &mut self,
        s: &mut String,
        states: &[State],
        depth: usize,
        kept: bool,
    ) {
        if let Some(argument) = self.argument.take() {
            // An option's value: read with the option, not as JSON.
            let mut out = String::new();
            if self.detect_argument_into(s, &argument, &mut Scratch::default(), &mut out) {
                *s = out;
            }
            return;
        }
        if self.policy.nested_json {
            let t = s.trim_start();
            if (t.starts_with('{') || t.starts_with('[')) && depth < self.policy.limits.max_depth {
                if let Ok(mut inner) =
                    json::parse(s.as_bytes(), self.policy.limits.max_depth - depth)
                {
                    let before = self.changes;
                    self.container(&mut inner, states, depth, kept);
                    if self.changes != before {
                        *s = json::with_blank_ends(s, &json::to_string(&inner));
                    }
                    return;
                }
            }
        }
        if let Some(new) = self.detect(s, false) {
            *s = new;
        }
    }

    /// Pushes a path segment; paths are only tracked for explanations.
    pub(crate) fn enter(&mut self, seg: impl FnOnce() -> Seg) {
        if self.events.is_some() {
            self.path.push(seg());
        }
    }

    pub(crate) fn leave(&mut self) {
        if self.events.is_some() {
            self.path.pop();
        }
    }

    /// Processes the children of a container (or a scalar root).
    pub(crate) fn container(&mut self, v: &mut Value, states: &[State], depth: usize, kept: bool) {
        match v {
            Value::Object(members) => {
                // Filtered in place: no second buffer, whatever the size.
                let mut next = Vec::new();
                members.retain_mut(|(k, child)| {
                    self.policy
                        .matcher
                        .advance(states, PathElem::Key(k), &mut next);
                    let child_states = std::mem::take(&mut next);
                    let policy = self.policy;
                    self.enter(|| Seg::key(k, &policy.detectors));
                    let stays =
                        matches!(self.node(child, &child_states, depth + 1, kept), Fate::Stay);
                    if stays {
                        if let Some(new_key) = self.detect(k, true) {
                            *k = new_key;
                        }
                    }
                    self.leave();
                    next = child_states;
                    stays
                });
            }
            Value::Array(items) => {
                let mut next = Vec::new();
                let mut i = 0;
                let arguments = argument_list(items);
                items.retain_mut(|child| {
                    self.policy.matcher.advance(
                        states,
                        PathElem::Index(i, &string_fields(child)),
                        &mut next,
                    );
                    let child_states = std::mem::take(&mut next);
                    self.enter(|| Seg::Index(i));
                    if let Some(list) = &arguments {
                        self.argument = argument_at(list, i);
                    }
                    let stays =
                        matches!(self.node(child, &child_states, depth + 1, kept), Fate::Stay);
                    self.argument = None;
                    self.leave();
                    next = child_states;
                    i += 1;
                    stays
                });
            }
            Value::String(s) => self.scan_string(s, states, depth, kept),
            Value::Number(n) if scans_number(n.as_str()) => {
                if let Some(new) = self.detect(n.as_str(), false) {
                    *v = Value::String(new);
                }
            }
            _ => {}
        }
    }

    /// Processes one field or element whose state set is `states`.
    pub(crate) fn node(
        &mut self,
        v: &mut Value,
        states: &[State],
        depth: usize,
        kept: bool,
    ) -> Fate {
        let allow = self.policy.mode == Mode::Allowlist;
        let container = matches!(v, Value::Object(_) | Value::Array(_));
        if let Some(r) = self.choose(states, container) {
            if self.policy.rules[r].keep_literals && matches!(v, Value::Bool(_) | Value::Null) {
                return Fate::Stay;
            }
            let action = &self.policy.rules[r].action;
            let name = action.name();
            match action {
                Action::Keep => {
                    self.note(Cause::Rule(r), name, false);
                    return self.unhandled(v, states, depth, true);
                }
                Action::Drop => {
                    self.note(Cause::Rule(r), name, false);
                    return Fate::Remove;
                }
                Action::Replace(c) => {
                    self.note(Cause::Rule(r), name, false);
                    *v = c.clone();
                    return Fate::Stay;
                }
                Action::Tokenize(_) | Action::Mask(_) | Action::Generalize(_) => {
                    self.note(Cause::Rule(r), name, false);
                    let stays = transform(v, action);
                    self.scan_keys_below(v);
                    return if stays { Fate::Stay } else { Fate::Remove };
                }
            }
        }
        if allow && !kept && !matches!(v, Value::Object(_) | Value::Array(_)) {
            self.note(Cause::Allowlist, "drop", false);
            return Fate::Remove;
        }
        self.unhandled(v, states, depth, kept)
    }

    /// Keys survive value-rewriting actions: scan every key below `v`.
    pub(crate) fn scan_keys_below(&mut self, v: &mut Value) {
        if self.policy.detectors.list.is_empty() {
            return;
        }
        match v {
            Value::Object(members) => {
                for (k, child) in members.iter_mut() {
                    if let Some(new_key) = self.detect(k, true) {
                        *k = new_key;
                    }
                    self.scan_keys_below(child);
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|x| self.scan_keys_below(x)),
            _ => {}
        }
    }

    /// A node no terminal rule handled: descend or scan.
    pub(crate) fn unhandled(
        &mut self,
        v: &mut Value,
        states: &[State],
        depth: usize,
        kept: bool,
    ) -> Fate {
        let allow = self.policy.mode == Mode::Allowlist;
        let was_container = matches!(v, Value::Object(_) | Value::Array(_));
        self.container(v, states, depth, kept);
        if allow && !kept && was_container {
            let empty = match v {
                Value::Object(m) => m.is_empty(),
                Value::Array(a) => a.is_empty(),
                _ => false,
            };
            if empty {
                self.note(Cause::Allowlist, "drop", false);
                return Fate::Remove;
            }
        }
        Fate::Stay
    }
}

/// The key of OTLP's `AnyValue` that holds a string.
pub(crate) const STRING_VALUE: &str = "stringValue";

/// The string that array element `v` is as an argument list's element:
/// the element itself, or the string of an object with it as its only
/// member under the key `stringValue` (OTLP's `arrayValue`, whose values
/// are such objects).
fn argument_text(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) => Some(s),
        Value::Object(m) => match m.as_slice() {
            [(k, Value::String(s))] if k == STRING_VALUE => Some(s),
            _ => None,
        },
        _ => None,
    }
}

/// An array read as an argument list: its elements' strings as they came
/// (`None` for the others; see [`argument_text`]), and what its command's
/// plain arguments give its first elements (see [`PlainSpans`]).
struct ArgumentList {
    strings: Vec<Option<String>>,
    plain: PlainSpans,
    /// How many of the first elements `plain` may give something.
    plain_elements: usize,
}

/// The array `items` as an argument list, when one of its elements starts
/// with `-` or `/` (an argument list's options may give the elements
/// after them) or its first names a command whose plain arguments are
/// read (see [`ArgumentSpans`], [`PlainSpans`]).
fn argument_list(items: &[Value]) -> Option<ArgumentList> {
    let option = |v: &Value| argument_text(v).is_some_and(|s| s.starts_with(['-', '/']));
    let command = items
        .first()
        .and_then(argument_text)
        .is_some_and(PlainSpans::names_command);
    if !command && !items.iter().any(option) {
        return None;
    }
    let strings: Vec<Option<String>> = items
        .iter()
        .map(|v| argument_text(v).map(str::to_string))
        .collect();
    let mut plain = PlainSpans::default();
    let mut plain_elements = 0;
    if command {
        // The command line of the list's first strings.
        let first = strings.iter().take(PlainSpans::ELEMENTS);
        for e in first.map_while(Option::as_deref) {
            plain.push(e);
        }
        plain_elements = plain.read();
    }
    Some(ArgumentList {
        strings,
        plain,
        plain_elements,
    })
}

/// What the options of the argument list `list` give its element `i`, and
/// what the plain arguments of its command do, if anything.
fn argument_at(list: &ArgumentList, i: usize) -> Option<ArgumentSpans> {
    let strings = &list.strings;
    let value = strings[i].as_deref()?;
    let prev = i.checked_sub(1).and_then(|p| strings[p].as_deref());
    let mut argument = ArgumentSpans::default();
    let in_list = |named: &dyn Fn(&str) -> bool| {
        strings
            .iter()
            .take(ArgumentSpans::COMMAND_ELEMENTS)
            .flatten()
            .any(|e| named(e))
    };
    let mut found = ArgumentSpans::may_apply(prev, value) && argument.read(prev, value, in_list);
    if i < list.plain_elements {
        found = argument.add_plain(&list.plain, i);
    }
    found.then_some(argument)
}

/// Whether the detectors search a number of text `text` that no rule
/// handled: a whole number in which they may find something
/// ([`crate::detectors::digits_may_match`]: one shaped like a payment card
/// number, as a card number written as a JSON number is, `"pan":
/// 4111111111111111`). A number a detector rewrites becomes a string of
/// the rewritten text.
#[inline(always)]
pub(crate) fn scans_number(text: &str) -> bool {
    crate::detectors::digits_may_match(text.as_bytes()) && text.bytes().all(|b| b.is_ascii_digit())
}

/// The string-valued members of an object element, for `[member=value]`.
fn string_fields(v: &Value) -> Vec<(&str, &str)> {
    match v {
        Value::Object(members) => members
            .iter()
            .filter_map(|(k, x)| match x {
                Value::String(s) => Some((k.as_str(), s.as_str())),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Applies a value-transforming action to every string and number leaf of
/// `v`. Returns `false` when `v` itself must be removed (an invalid scalar
/// under `on_invalid = "drop"`).
fn transform(v: &mut Value, action: &Action) -> bool {
    let result = match v {
        Value::String(s) => leaf(s, false, action),
        Value::Number(n) => leaf(n, true, action),
        Value::Array(items) => {
            items.retain_mut(|x| transform(x, action));
            return true;
        }
        Value::Object(members) => {
            members.retain_mut(|(_, x)| transform(x, action));
            return true;
        }
        Value::Null | Value::Bool(_) => return true,
    };
    match result {
        Leaf::Text(t) => *v = Value::String(t),
        Leaf::Number(t) => *v = Value::Number(t.into()),
        Leaf::Null => *v = Value::Null,
        Leaf::Unchanged => {}
        Leaf::Remove => return false,
    }
    true
}

pub(crate) enum Leaf {
    Text(String),
    Number(String),
    Null,
    Unchanged,
    Remove,
}

pub(crate) fn leaf(text: &str, is_number: bool, action: &Action) -> Leaf {
    let mut out = String::new();
    match leaf_into(text, is_number, action, &mut out) {
        LeafKind::Text => Leaf::Text(out),
        LeafKind::Number => Leaf::Number(out),
        LeafKind::Null => Leaf::Null,
        LeafKind::Unchanged => Leaf::Unchanged,
        LeafKind::Remove => Leaf::Remove,
    }
}

/// What [`leaf_into`] made of a leaf; its new text is in the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LeafKind {
    Text,
    Number,
    Null,
    Unchanged,
    Remove,
}

/// [`leaf`], appending a new text or number to `out` (which is left
/// unchanged for the other outcomes).
pub(crate) fn leaf_into(
    text: &str,
    is_number: bool,
    action: &Action,
    out: &mut String,
) -> LeafKind {
    match action {
        Action::Tokenize(t) => {
            t.token_into(text, out);
            LeafKind::Text
        }
        Action::Mask(m) => {
            m.apply_into(text, out);
            LeafKind::Text
        }
        Action::Generalize(g) => {
            if is_number
                && matches!(
                    g.kind,
                    GeneralizeKind::Url { .. } | GeneralizeKind::UserAgent
                )
            {
                return LeafKind::Unchanged;
            }
            if g.apply_into(text, is_number, out) {
                if is_number && matches!(g.kind, GeneralizeKind::Timestamp { .. }) {
                    LeafKind::Number
                } else {
                    LeafKind::Text
                }
            } else {
                match g.on_invalid {
                    OnInvalid::Drop => LeafKind::Remove,
                    OnInvalid::Null => LeafKind::Null,
                }
            }
        }
        Action::Drop | Action::Keep | Action::Replace(_) => LeafKind::Unchanged,
    }
}

impl Reference {
    /// An engine for `policy`.
    pub fn new(policy: Arc<Policy>) -> Reference {
        Reference { policy }
    }
}

impl Redactor for Reference {
    fn process_append(
        &self,
        line: &[u8],
        out: &mut Vec<u8>,
        stats: &mut Stats,
        events: Option<&mut Vec<Explained>>,
    ) -> Result<(), Reject> {
        check_line(&self.policy, line, stats)?;
        let _turn = long_line_turn(line.len());
        let start = out.len();
        let limits = self.policy.limits;
        let mut v = match json::parse(line, limits.max_depth) {
            Ok(v) => v,
            Err(r) => {
                stats.reject(&r);
                return Err(r);
            }
        };
        let states = self.policy.matcher.start();
        let mut w = Walk {
            policy: &self.policy,
            stats,
            events,
            path: Vec::new(),
            changes: 0,
            argument: None,
        };
        let scalar_root = !matches!(v, Value::Object(_) | Value::Array(_));
        if scalar_root && self.policy.mode == Mode::Allowlist {
            // Allowlist mode keeps only what rules keep; a bare scalar text
            // has no field a rule could name.
            w.note(Cause::Allowlist, "replace", false);
            v = Value::Null;
        } else {
            w.container(&mut v, &states, 0, false);
        }
        json::write(out, &v);
        stats.lines_ok += 1;
        stats.bytes_out += (out.len() - start) as u64;
        Ok(())
    }

    fn policy(&self) -> &Policy {
        &self.policy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_take_turns() {
        assert!(long_line_turn(LONG_LINE).is_none());
        let turn = long_line_turn(LONG_LINE + 1).expect("a turn for a long line");
        let (tx, rx) = std::sync::mpsc::channel();
        let other = std::thread::spawn(move || {
            // A short line does not wait; a long one waits for the turn.
            assert!(long_line_turn(100).is_none());
            tx.send("short").unwrap();
            let _turn = long_line_turn(LONG_LINE + 1);
            tx.send("long").unwrap();
        });
        assert_eq!(rx.recv().unwrap(), "short");
        assert!(rx
            .recv_timeout(std::time::Duration::from_millis(200))
            .is_err());
        drop(turn);
        assert_eq!(rx.recv().unwrap(), "long");
        other.join().unwrap();
    }
}
