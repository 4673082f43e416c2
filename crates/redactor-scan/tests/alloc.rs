//! Once its buffers are warm, the scanner allocates nothing per text.

mod counting;

use redactor_scan::{Backend, Limits, Scanner};

#[test]
fn no_allocation_per_text_once_warm() {
    let mut g = redactor_core_free_corpus();
    for backend in Backend::available() {
        let mut s = Scanner::with_backend(backend, Limits::default()).unwrap();
        // Warm up on the largest text so every buffer has its final size.
        let largest = g.iter().max_by_key(|l| l.len()).unwrap().clone();
        s.scan(&largest).unwrap();
        let ((nodes, errors), allocated) = counting::allocations(|| {
            let (mut nodes, mut errors) = (0, 0);
            for line in &g {
                match s.scan(line) {
                    Ok(t) => nodes += t.len(),
                    Err(_) => errors += 1,
                }
            }
            (nodes, errors)
        });
        assert_eq!(errors, 0);
        assert!(nodes > 1000);
        assert_eq!(allocated, 0, "{} allocated while scanning", backend.name());
    }
    g.clear();
}

/// Varied JSON texts built without the scanner (allocation happens here,
/// before counting starts).
fn redactor_core_free_corpus() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for i in 0..300 {
        let v = serde_json::json!({
            "event": format!("e{i}"),
            "properties": {"email\u{e9}": "a\"b\\c", "n": i, "f": 1.5e3, "list": [1, 2, {"deep": [true, false, null]}]},
            "pad": "x".repeat(i * 3),
        });
        out.push(serde_json::to_vec(&v).unwrap());
    }
    out
}
