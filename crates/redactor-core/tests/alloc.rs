//! Allocations of the fast engine per event, counted once its buffers are
//! warm: none for events it leaves untouched (the common case: span copies
//! only), and a bounded number per rewritten value.

#[path = "../../redactor-scan/tests/counting/mod.rs"]
mod counting;

use std::sync::Arc;

use redactor_core::{Fast, Policy, Redactor, Stats};

fn engine(src: &str) -> Fast {
    std::env::set_var("REDACTOR_ALLOC_TEST_KEY", "alloc-test-key-0123456789");
    let p = format!("{src}\n[[keys]]\nid = \"t\"\nenv = \"REDACTOR_ALLOC_TEST_KEY\"\n");
    Fast::new(Arc::new(Policy::from_toml(&p, "alloc test").unwrap()))
}

#[test]
fn untouched_events_allocate_nothing_once_warm() {
    // The default policy; generated events with identifying fields removed
    // by the generator's own policy-free formats would still be rewritten,
    // so use events the policy has nothing to do with.
    let e = engine("presets = \"all\"");
    let lines: Vec<Vec<u8>> = (0..500)
        .map(|i| {
            format!(
                r#"{{"event":"page_view","properties":{{"path":"/docs/{i}","items":[{i},{},true,null],"nested":{{"a":{{"b":[{{"c":"plain text {i}"}}]}}}},"ratio":{}.5}}}}"#,
                i * 3,
                i
            )
            .into_bytes()
        })
        .collect();
    let (mut out, mut stats) = (Vec::with_capacity(4096), Stats::default());
    for l in &lines {
        e.redact(l, &mut out, &mut stats).unwrap(); // warm every buffer and cache
    }
    let (ok, allocated) = counting::allocations(|| {
        lines
            .iter()
            .all(|l| e.redact(l, &mut out, &mut stats).is_ok() && out == *l)
    });
    assert!(ok, "untouched events are copied as they are");
    assert_eq!(
        allocated,
        0,
        "allocations for {} untouched events",
        lines.len()
    );
}

#[test]
fn rewritten_values_allocate_a_bounded_amount() {
    let e = engine("presets = \"all\"");
    let line = br#"{"event":"$pageview","properties":{"distinct_id":"user-1","$ip":"203.0.113.9","note":"write to ann@example.com"}}"#;
    let (mut out, mut stats) = (Vec::with_capacity(4096), Stats::default());
    for _ in 0..10 {
        e.redact(line, &mut out, &mut stats).unwrap();
    }
    let (_, allocated) = counting::allocations(|| {
        for _ in 0..100 {
            e.redact(line, &mut out, &mut stats).unwrap();
        }
    });
    // Three rewrites per event (a token, an IP generalisation, a detector
    // match): each builds its replacement text. Not yet allocation-free
    // (see docs/benchmarks.md); this bounds it so it cannot grow unnoticed.
    let per_event = allocated as f64 / 100.0;
    assert!(per_event <= 14.0, "{per_event} allocations per event");
    eprintln!("fast engine: {per_event} allocations per event with 3 rewrites");
}
