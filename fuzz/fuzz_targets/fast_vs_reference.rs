//! The fast engine against the reference engine, on every policy family of
//! the differential test (`crates/redactor-core/tests/differential.rs`):
//! the same verdict on every input, and for accepted inputs outputs that
//! are valid JSON and parse to the same value (duplicates, order and number
//! text included), and the same counters.
//!
//! The input's first byte picks the policy (its low seven bits, modulo the
//! number of policies) and whether the explanations are compared too (its
//! high bit: then both engines also run `explain`, on which the fast engine
//! takes other paths); the rest is the line.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use redactor_core::{json, Fast, Policy, Redactor, Reference, Stats};

include!("../../crates/redactor-core/tests/policies/families.rs");

/// Each policy family with both engines on it.
fn engines() -> &'static [(&'static str, Fast, Reference)] {
    static E: OnceLock<Vec<(&'static str, Fast, Reference)>> = OnceLock::new();
    E.get_or_init(|| {
        // A fixed key, so that a failure reproduces with the same tokens.
        std::env::set_var("REDACTOR_TOKEN_KEY", "fuzz-key-0123456789abcdef");
        policy_families()
            .into_iter()
            .map(|(name, src)| {
                let p = Policy::from_toml(&src, name).unwrap_or_else(|e| panic!("{name}: {e}"));
                let p = Arc::new(p);
                (name, Fast::new(p.clone()), Reference::new(p))
            })
            .collect()
    })
}

/// Whether `a` and `b` are valid JSON that parses to the same value.
fn same(a: &[u8], b: &[u8]) -> bool {
    let depth = usize::MAX / 2;
    match (json::parse(a, depth), json::parse(b, depth)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, line)) = data.split_first() else {
        return;
    };
    let all = engines();
    let (name, fast, reference) = &all[usize::from(pick & 0x7f) % all.len()];
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let (mut sa, mut sb) = (Stats::new(fast.policy()), Stats::new(reference.policy()));
    let fa = fast.redact(line, &mut a, &mut sa);
    let ra = reference.redact(line, &mut b, &mut sb);
    assert_eq!(
        fa.is_ok(),
        ra.is_ok(),
        "{name}: verdicts differ: fast {fa:?}, reference {ra:?}"
    );
    if ra.is_err() {
        return;
    }
    assert!(same(&a, &b), "{name}: outputs differ");
    assert_eq!(
        (&sa.rules, &sa.detectors, sa.allowlist_dropped),
        (&sb.rules, &sb.detectors, sb.allowlist_dropped),
        "{name}: counters differ"
    );
    if pick & 0x80 != 0 {
        let (mut ea, mut eb) = (Vec::new(), Vec::new());
        let fe = fast.explain(line, &mut a, &mut Stats::new(fast.policy()), &mut ea);
        let re = reference.explain(line, &mut b, &mut Stats::new(reference.policy()), &mut eb);
        assert_eq!(fe.is_ok(), re.is_ok(), "{name}: explain verdicts differ");
        assert!(same(&a, &b), "{name}: explained outputs differ");
        assert_eq!(ea, eb, "{name}: explanations differ");
    }
});
