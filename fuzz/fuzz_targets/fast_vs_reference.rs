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
use redactor_core::{Fast, Policy, Redactor, Reference, Stats};

mod compare;

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

fuzz_target!(|data: &[u8]| {
    let Some((&pick, line)) = data.split_first() else {
        return;
    };
    let all = engines();
    let (name, fast, reference) = &all[usize::from(pick & 0x7f) % all.len()];
    if !compare::redactions(name, fast, reference, line) {
        return;
    }
    if pick & 0x80 != 0 {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let (mut ea, mut eb) = (Vec::new(), Vec::new());
        let fe = fast.explain(line, &mut a, &mut Stats::new(fast.policy()), &mut ea);
        let re = reference.explain(line, &mut b, &mut Stats::new(reference.policy()), &mut eb);
        assert_eq!(fe.is_ok(), re.is_ok(), "{name}: explain verdicts differ");
        assert!(compare::same(&a, &b), "{name}: explained outputs differ");
        assert_eq!(ea, eb, "{name}: explanations differ");
    }
});
