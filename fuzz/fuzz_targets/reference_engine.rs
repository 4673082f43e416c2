//! The reference engine with the default policy: never panics, rejects
//! exactly what serde_json rejects, and emits valid JSON for what it accepts.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use redactor_core::{Policy, Redactor, Reference, Stats};

fn engine() -> &'static Reference {
    static E: OnceLock<Reference> = OnceLock::new();
    E.get_or_init(|| {
        Reference::new(Arc::new(
            Policy::builtin().expect("built-in policy compiles"),
        ))
    })
}

fuzz_target!(|data: &[u8]| {
    let e = engine();
    let mut out = Vec::new();
    let mut stats = Stats::new(e.policy());
    let ours = e.redact(data, &mut out, &mut stats);
    let theirs = serde_json::from_slice::<serde_json::Value>(data);
    assert_eq!(
        ours.is_ok(),
        theirs.is_ok(),
        "verdict differs from serde_json: {ours:?}"
    );
    if ours.is_ok() {
        serde_json::from_slice::<serde_json::Value>(&out).expect("output is valid JSON");
    }
});
