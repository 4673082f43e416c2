//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use redactor_core::{Policy, Redactor, Reference, Stats};

/// The key every deterministic test uses (test material, not a secret).
pub const TEST_KEY: &str = "redactor-test-key-0123456789";

/// Compiles `src` with the test key available as `[[keys]] id = "test"`.
pub fn policy(src: &str) -> Arc<Policy> {
    std::env::set_var("REDACTOR_TEST_KEY", TEST_KEY);
    let full = format!("{src}\n\n[[keys]]\nid = \"test\"\nenv = \"REDACTOR_TEST_KEY\"\n");
    Arc::new(Policy::from_toml(&full, "test").unwrap_or_else(|e| panic!("{e}")))
}

/// The default policy with the test key.
pub fn default_policy() -> Arc<Policy> {
    policy(redactor_core::policy::DEFAULT_POLICY)
}

/// Redacts one line to a string, panicking on reject.
pub fn redact(p: &Arc<Policy>, line: &str) -> String {
    let e = Reference::new(p.clone());
    let mut out = Vec::new();
    e.redact(line.as_bytes(), &mut out, &mut Stats::new(p))
        .unwrap_or_else(|r| panic!("{r}: {line}"));
    String::from_utf8(out).expect("output is UTF-8")
}

/// Redacts one line with both engines, panicking on reject or when their
/// outputs differ; the output.
pub fn redact_both(p: &Arc<Policy>, line: &str) -> String {
    let slow = redact(p, line);
    let mut out = Vec::new();
    redactor_core::Fast::new(p.clone())
        .redact(line.as_bytes(), &mut out, &mut Stats::new(p))
        .unwrap_or_else(|r| panic!("{r}: {line}"));
    let fast = String::from_utf8(out).expect("output is UTF-8");
    assert_eq!(fast, slow, "the engines differ on {line}");
    fast
}

/// `shared/` beside the repository, if present.
pub fn shared_dir() -> Option<PathBuf> {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    d.is_dir().then_some(d)
}
