//! The comparison of the two engines that `fast_vs_reference` and
//! `random_policy` make on each input (a module of both, not a target).

use redactor_core::{json, Fast, Redactor, Reference, Stats};

/// Whether `a` and `b` are valid JSON that parses to the same value.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    let depth = usize::MAX / 2;
    match (json::parse(a, depth), json::parse(b, depth)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Redacts `line` with both engines and asserts the same verdict and, when
/// the line is accepted, outputs that are valid JSON and parse to the same
/// value, and the same counters; `what` names the policy in a failure.
/// True when the line was accepted.
pub fn redactions(what: &str, fast: &Fast, reference: &Reference, line: &[u8]) -> bool {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let (mut sa, mut sb) = (Stats::new(fast.policy()), Stats::new(reference.policy()));
    let fa = fast.redact(line, &mut a, &mut sa);
    let ra = reference.redact(line, &mut b, &mut sb);
    assert_eq!(
        fa.is_ok(),
        ra.is_ok(),
        "{what}: verdicts differ: fast {fa:?}, reference {ra:?}"
    );
    if ra.is_err() {
        return false;
    }
    assert!(same(&a, &b), "{what}: outputs differ");
    assert_eq!(
        (&sa.rules, &sa.detectors, sa.allowlist_dropped),
        (&sb.rules, &sb.detectors, sb.allowlist_dropped),
        "{what}: counters differ"
    );
    true
}
