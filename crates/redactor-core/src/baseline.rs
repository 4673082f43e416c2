//! The baseline a developer would write by hand: parse each event with
//! simd-json into a borrowed DOM, walk it applying the same policy (the
//! same compiled selectors, with the same cache of their transitions and
//! rule choices as the fast engine, and the same actions and detectors),
//! and serialise it again. Benchmarks measure the engines against it; it is
//! not used to redact anything.
//!
//! It follows the reference engine's semantics, with the differences a DOM
//! of hash maps brings: duplicate keys collapse, objects with more than 32
//! members may be reordered, and numbers are re-printed from their binary
//! value. The benchmarks compare its output with the reference's as parsed
//! values, numbers by value.

use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::Arc;

use simd_json::prelude::*;
use simd_json::{BorrowedValue as Value, StaticNode};

use crate::actions::Action;
use crate::detectors::Scratch;
use crate::engine::{leaf, Leaf, Walk};
use crate::error::Reject;
use crate::json;
use crate::policy::{Mode, Policy};
use crate::selector::{ElementFields, MatchCache};
use crate::{Cause, Stats};

thread_local! {
    /// Per thread: the compiled selectors' cache (reset when a baseline of
    /// another policy uses it).
    static CACHE: RefCell<MatchCache> = RefCell::new(MatchCache::default());
}

/// simd-json parse, mutate and serialise with a policy.
#[derive(Debug, Clone)]
pub struct SimdJsonRoundTrip {
    policy: Arc<Policy>,
    /// Owns the notes on keys it leaves in the thread's cache.
    id: u64,
}

impl SimdJsonRoundTrip {
    /// A baseline for `policy`.
    pub fn new(policy: Arc<Policy>) -> Self {
        SimdJsonRoundTrip {
            policy,
            id: crate::fast::next_engine_id(),
        }
    }

    /// Redacts `line` into `out` (cleared first). simd-json parses in place,
    /// so the line is first copied into `scratch`.
    ///
    /// # Errors
    ///
    /// `invalid_json` when simd-json rejects the line.
    pub fn redact(
        &self,
        line: &[u8],
        scratch: &mut Vec<u8>,
        out: &mut Vec<u8>,
        stats: &mut Stats,
    ) -> Result<(), Reject> {
        out.clear();
        crate::engine::check_line(&self.policy, line, stats)?;
        let mut v = simd_json::to_borrowed_value(copied(scratch, line)).map_err(|_| {
            Reject::InvalidJson {
                offset: 0,
                what: "rejected by simd-json",
            }
        })?;
        let mut w = Walk::new(&self.policy, stats, None);
        if !matches!(v, Value::Object(_) | Value::Array(_)) && self.policy.mode == Mode::Allowlist {
            v = Value::Static(StaticNode::Null);
        } else {
            CACHE.with(|c| {
                let cache = &mut *c.borrow_mut();
                cache.claim(self.id);
                let set = self.policy.matcher.cached_start(cache);
                Round { w: &mut w, cache }.container(&mut v, set, 0, false);
            });
        }
        v.write(out).map_err(|_| Reject::InvalidJson {
            offset: 0,
            what: "simd-json cannot serialise the value",
        })?;
        Ok(())
    }
}

/// simd-json's parse and serialise of `line` into `out` (cleared first),
/// with no policy: the cost of the DOM round trip itself. False when
/// simd-json rejects the line.
pub fn parse_serialize(line: &[u8], scratch: &mut Vec<u8>, out: &mut Vec<u8>) -> bool {
    out.clear();
    simd_json::to_borrowed_value(copied(scratch, line)).is_ok_and(|v| v.write(out).is_ok())
}

/// `scratch`, holding a copy of `line`: simd-json parses in place, so a
/// caller holding `&[u8]` copies first.
fn copied<'s>(scratch: &'s mut Vec<u8>, line: &[u8]) -> &'s mut Vec<u8> {
    scratch.clear();
    scratch.extend_from_slice(line);
    scratch
}

/// The validating parsers the scanner is measured against (the scanner
/// rows of `redactor bench`; `benches/scan.rs` times the same calls under
/// criterion), with their reusable buffers.
#[derive(Default)]
pub struct Validators {
    scratch: Vec<u8>,
    buffers: simd_json::Buffers,
}

impl std::fmt::Debug for Validators {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validators").finish_non_exhaustive()
    }
}

impl Validators {
    /// simd-json's tape of `line`: its node count, `None` when simd-json
    /// rejects it. simd-json parses in place, so the line is copied first.
    pub fn simd_json_tape(&mut self, line: &[u8]) -> Option<usize> {
        simd_json::to_tape_with_buffers(copied(&mut self.scratch, line), &mut self.buffers)
            .ok()
            .map(|t| t.0.len())
    }

    /// Whether simd-json parses `line` into a borrowed value (the DOM the
    /// round trip above walks), copied first as for the tape.
    pub fn simd_json_borrowed(&mut self, line: &[u8]) -> bool {
        simd_json::to_borrowed_value_with_buffers(
            copied(&mut self.scratch, line),
            &mut self.buffers,
        )
        .is_ok()
    }

    /// Whether serde_json accepts `line`, skipping every value
    /// (`IgnoredAny`): validation alone.
    pub fn serde_json_ignored(line: &[u8]) -> bool {
        serde_json::from_slice::<serde::de::IgnoredAny>(line).is_ok()
    }
}

/// An array element of a parsed document.
struct ValueFields<'a, 'v>(&'a Value<'v>);

/// Each string-valued member of the element; none when it is not an
/// object.
impl ElementFields for ValueFields<'_, '_> {
    fn each(&self, mut sink: impl FnMut(&str, &str)) {
        if let Value::Object(m) = self.0 {
            for (k, x) in m.iter() {
                if let Value::String(s) = x {
                    sink(k, s);
                }
            }
        }
    }
}

/// A walk of one event's DOM: what it records, and the selectors' cache.
struct Round<'r, 'p> {
    w: &'r mut Walk<'p>,
    cache: &'r mut MatchCache,
}

impl Round<'_, '_> {
    fn container(&mut self, v: &mut Value<'_>, set: u32, depth: usize, kept: bool) {
        let matcher = &self.w.policy.matcher;
        match v {
            Value::Object(members) => {
                // Members that go are removed in place; keys the detectors
                // rewrite (rare) are moved afterwards.
                let mut renamed = Vec::new();
                members.retain(|k, child| {
                    let (child_set, clean) = matcher.cached_key_noted(self.cache, set, k);
                    if !self.node(child, child_set, depth + 1, kept) {
                        return false;
                    }
                    // A key the detectors found nothing in before is not
                    // scanned again (as in the fast engine).
                    if !clean {
                        match self.w.detect(k, true) {
                            Some(new) => renamed.push((k.clone(), new)),
                            None => matcher.note_key(self.cache, set, k),
                        }
                    }
                    true
                });
                for (old, new) in renamed {
                    if let Some(child) = members.remove(&old) {
                        members.insert(Cow::Owned(new), child);
                    }
                }
            }
            Value::Array(items) => {
                let mut i = 0;
                items.retain_mut(|child| {
                    let child_set = matcher.cached_index(self.cache, set, i, &ValueFields(child));
                    let stays = self.node(child, child_set, depth + 1, kept);
                    i += 1;
                    stays
                });
            }
            Value::String(s) => self.scan_string(s, set, depth, kept),
            Value::Static(n) => {
                // A whole number long enough to hold a card number, as the
                // engines search it (`engine::scans_number`).
                let whole = match *n {
                    StaticNode::U64(u) => Some(u),
                    StaticNode::I64(i) => u64::try_from(i).ok(),
                    _ => None,
                };
                if let Some(u) = whole.filter(|&u| u >= 1_000_000_000_000) {
                    let text = u.to_string();
                    if crate::engine::scans_number(&text) {
                        if let Some(new) = self.w.detect(&text, false) {
                            *v = Value::String(Cow::Owned(new));
                        }
                    }
                }
            }
        }
    }

    fn scan_string(&mut self, s: &mut Cow<'_, str>, set: u32, depth: usize, kept: bool) {
        let policy = self.w.policy;
        if policy.nested_json {
            let t = s.trim_start();
            if (t.starts_with('{') || t.starts_with('[')) && depth < policy.limits.max_depth {
                let mut bytes = s.as_bytes().to_vec();
                let parsed = simd_json::to_borrowed_value(&mut bytes);
                if let Ok(mut inner) = parsed {
                    let before = self.w.changes;
                    self.container(&mut inner, set, depth, kept);
                    if self.w.changes != before {
                        *s = Cow::Owned(crate::json::with_blank_ends(s, &inner.encode()));
                    }
                    return;
                }
            }
        }
        // As the fast engine does, with the same notes.
        let mut new = String::new();
        if self
            .w
            .detect_value(s, self.cache, &mut Scratch::default(), &mut new)
        {
            *s = Cow::Owned(new);
        }
    }

    /// Whether the node stays.
    fn node(&mut self, v: &mut Value<'_>, set: u32, depth: usize, kept: bool) -> bool {
        let policy = self.w.policy;
        let walk = &*self.w;
        let container = matches!(v, Value::Object(_) | Value::Array(_));
        if let Some(r) = self
            .cache
            .choice(set, container, |states, c| walk.choose(states, c))
        {
            let literal = matches!(v, Value::Static(StaticNode::Bool(_) | StaticNode::Null));
            if policy.rules[r].keep_literals && literal {
                return true;
            }
            let action = &policy.rules[r].action;
            self.w.note(Cause::Rule(r), action.name(), false);
            match action {
                Action::Keep => return self.unhandled(v, set, depth, true),
                Action::Drop => return false,
                Action::Replace(c) => {
                    let mut text = json::to_string(c).into_bytes();
                    *v = simd_json::to_owned_value(&mut text)
                        .map(Value::from)
                        .unwrap_or(Value::Static(StaticNode::Null));
                    return true;
                }
                Action::Tokenize(_) | Action::Mask(_) | Action::Generalize(_) => {
                    let stays = transform(v, action);
                    scan_keys_below(self.w, self.cache, v);
                    return stays;
                }
            }
        }
        let allow = policy.mode == Mode::Allowlist;
        if allow && !kept && !matches!(v, Value::Object(_) | Value::Array(_)) {
            self.w.note(Cause::Allowlist, "drop", false);
            return false;
        }
        self.unhandled(v, set, depth, kept)
    }

    fn unhandled(&mut self, v: &mut Value<'_>, set: u32, depth: usize, kept: bool) -> bool {
        let was_container = matches!(v, Value::Object(_) | Value::Array(_));
        self.container(v, set, depth, kept);
        if self.w.policy.mode == Mode::Allowlist && !kept && was_container {
            let empty = match v {
                Value::Object(m) => m.is_empty(),
                Value::Array(a) => a.is_empty(),
                _ => false,
            };
            if empty {
                self.w.note(Cause::Allowlist, "drop", false);
                return false;
            }
        }
        true
    }
}

/// Scans the keys below a rewritten container, as the fast engine does:
/// strings found clean before (keys or values) are not searched again.
fn scan_keys_below(w: &mut Walk<'_>, cache: &mut MatchCache, v: &mut Value<'_>) {
    if w.policy.detectors.list.is_empty() {
        return;
    }
    match v {
        Value::Object(members) => {
            let old = std::mem::take(&mut **members);
            for (k, mut child) in old {
                scan_keys_below(w, cache, &mut child);
                let key = if cache.is_clean_value(&k) {
                    k
                } else {
                    match w.detect(&k, true) {
                        Some(new) => Cow::Owned(new),
                        None => {
                            cache.note_clean_value(&k);
                            k
                        }
                    }
                };
                members.insert(key, child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|x| scan_keys_below(w, cache, x)),
        _ => {}
    }
}

fn number_text(n: &StaticNode) -> Option<String> {
    match n {
        StaticNode::I64(i) => Some(i.to_string()),
        StaticNode::U64(u) => Some(u.to_string()),
        StaticNode::F64(f) => Some(Value::Static(StaticNode::F64(*f)).encode()),
        _ => None,
    }
}

/// Applies a value-rewriting action to every string and number leaf.
fn transform(v: &mut Value<'_>, action: &Action) -> bool {
    let result = match v {
        Value::String(s) => leaf(s, false, action),
        Value::Static(n) => match number_text(n) {
            Some(t) => leaf(&t, true, action),
            None => return true,
        },
        Value::Array(items) => {
            items.retain_mut(|x| transform(x, action));
            return true;
        }
        Value::Object(members) => {
            members.retain(|_, x| transform(x, action));
            return true;
        }
    };
    match result {
        Leaf::Text(t) => *v = Value::String(Cow::Owned(t)),
        Leaf::Number(t) => {
            let mut b = t.into_bytes();
            *v = simd_json::to_owned_value(&mut b)
                .map(Value::from)
                .unwrap_or(Value::Static(StaticNode::Null));
        }
        Leaf::Null => *v = Value::Static(StaticNode::Null),
        Leaf::Unchanged => {}
        Leaf::Remove => return false,
    }
    true
}

/// Whether two JSON texts hold the same value, objects compared as maps and
/// numbers by value: how the benchmarks check this baseline's output against
/// the reference engine's.
pub fn same_value(a: &[u8], b: &[u8]) -> bool {
    fn eq(a: &serde_json::Value, b: &serde_json::Value) -> bool {
        use serde_json::Value as V;
        match (a, b) {
            (V::Number(x), V::Number(y)) => {
                let (x, y) = (x.to_string(), y.to_string());
                x == y || x.parse::<f64>().ok() == y.parse::<f64>().ok()
            }
            (V::Array(x), V::Array(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(p, q)| eq(p, q))
            }
            (V::Object(x), V::Object(y)) => {
                x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| eq(v, w)))
            }
            (V::String(x), V::String(y)) => x == y || same_nested(x, y),
            _ => a == b,
        }
    }
    // Strings holding JSON that was rewritten: compare what they hold.
    fn same_nested(x: &str, y: &str) -> bool {
        match (serde_json::from_str(x), serde_json::from_str(y)) {
            (Ok(p), Ok(q)) if !matches!(p, serde_json::Value::String(_)) => eq(&p, &q),
            _ => false,
        }
    }
    match (serde_json::from_slice(a), serde_json::from_slice(b)) {
        (Ok(x), Ok(y)) => eq(&x, &y),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Redactor, Reference};

    #[test]
    fn same_output_as_the_reference_on_generated_telemetry() {
        std::env::set_var("REDACTOR_TOKEN_KEY", "baseline-test-key-0123456789");
        let policy = Arc::new(Policy::builtin().unwrap());
        let reference = Reference::new(policy.clone());
        let baseline = SimdJsonRoundTrip::new(policy);
        let mut g = crate::gen::Generator::new(crate::gen::Format::Mixed, 5);
        let (mut a, mut b, mut scratch) = (Vec::new(), Vec::new(), Vec::new());
        // Literals under credential names stay (`keep_literals`).
        let flags = br#"{"has_password":true,"password":null,"api_token":false,"secret":"x"}"#;
        // Card numbers written as numbers are found; other numbers stay.
        let numbers = br#"{"pan":4111111111111111,"l":[5555555555554444,1732000000000,-4111111111111111,12345678901234567890]}"#;
        // Nested JSON keeps the blanks around it (a Docker log's newline).
        let docker = br#"{"log":"{\"email\":\"a@b.example\",\"n\":1}\n","stream":"stdout"}"#;
        for i in 0..3003 {
            let line = match i {
                3000 => flags.to_vec(),
                3001 => numbers.to_vec(),
                3002 => docker.to_vec(),
                _ => g.event(),
            };
            reference
                .redact(&line, &mut a, &mut Stats::default())
                .unwrap();
            baseline
                .redact(&line, &mut scratch, &mut b, &mut Stats::default())
                .unwrap();
            assert!(
                same_value(&a, &b),
                "event {i} differs:\n{}\n{}",
                String::from_utf8_lossy(&a),
                String::from_utf8_lossy(&b)
            );
        }
        assert_eq!(
            String::from_utf8_lossy(&b),
            r#"{"log":"{\"n\":1}\n","stream":"stdout"}"#
        );
        assert!(!same_value(b"{\"a\":1}", b"{\"a\":2}"));
        // Without a policy, the value goes through unchanged.
        let line = g.event();
        assert!(parse_serialize(&line, &mut scratch, &mut b));
        assert!(same_value(&line, &b));
        assert!(!parse_serialize(b"{\"a\":", &mut scratch, &mut b));
        let mut v = Validators::default();
        assert_eq!(
            v.simd_json_tape(b"[1,{\"a\":true}]"),
            v.simd_json_tape(b"[2,{\"b\":null}]")
        );
        assert!(v.simd_json_tape(b"[1,{\"a\":true}]").is_some_and(|n| n > 3));
        assert_eq!(v.simd_json_tape(b"[1,"), None);
        assert!(v.simd_json_borrowed(b"[1,{\"a\":true}]"));
        assert!(!v.simd_json_borrowed(b"[1,"));
        assert!(Validators::serde_json_ignored(b"{\"a\":[1,2,{}]}"));
        assert!(!Validators::serde_json_ignored(b"{\"a\":[1,2,{}]"));
        assert!(same_value(
            b"{\"a\":1.50,\"b\":[1]}",
            b"{\"b\":[1],\"a\":1.5}"
        ));
    }
}
