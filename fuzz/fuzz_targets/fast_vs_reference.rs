//! The fast engine against the reference engine with the default policy:
//! the same verdict on every input, and for accepted inputs outputs that
//! parse to the same value (duplicates, order and number text included).
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use redactor_core::{json, Fast, Policy, Redactor, Reference, Stats};

fn engines() -> &'static (Fast, Reference) {
    static E: OnceLock<(Fast, Reference)> = OnceLock::new();
    E.get_or_init(|| {
        // A fixed key, so both engines' tokens are comparable.
        std::env::set_var("REDACTOR_TOKEN_KEY", "fuzz-key-0123456789abcdef");
        let p = Arc::new(Policy::builtin().expect("built-in policy compiles"));
        (Fast::new(p.clone()), Reference::new(p))
    })
}

fuzz_target!(|data: &[u8]| {
    let (fast, reference) = engines();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let fa = fast.redact(data, &mut a, &mut Stats::new(fast.policy()));
    let ra = reference.redact(data, &mut b, &mut Stats::new(reference.policy()));
    assert_eq!(fa.is_ok(), ra.is_ok(), "verdicts differ: fast {fa:?}, reference {ra:?}");
    if fa.is_ok() {
        let depth = usize::MAX / 2;
        assert_eq!(
            json::parse(&a, depth).ok(),
            json::parse(&b, depth).ok(),
            "outputs differ"
        );
    }
});
