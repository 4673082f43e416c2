//! JSONTestSuite parity: every `y_` file is redacted, every `n_` file is
//! rejected, and on every file (`i_` included) the verdict equals
//! `serde_json`'s (parsing into a `serde_json::Value`). Skipped, with a
//! notice, when `../shared/conformance` is absent.

mod common;

use redactor_core::{Redactor, Reference, Stats};

#[test]
fn json_test_suite() {
    let Some(shared) = common::shared_dir() else {
        // Written to the stderr handle, not with eprintln!, so that the test
        // harness's output capture does not hide it.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "NOTICE: ../shared not found; skipping the JSONTestSuite conformance test"
        );
        return;
    };
    let dir = shared.join("conformance/JSONTestSuite/test_parsing");
    // No rules, no detectors: the verdict is the parser's alone. One more
    // policy (the default) must give the same verdicts.
    let policies = [
        common::policy("detectors = \"off\"\n"),
        common::default_policy(),
    ];
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let (mut y, mut n, mut i) = (0, 0, 0);
    let mut mismatches = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(path).unwrap();
        let serde_ok = serde_json::from_slice::<serde_json::Value>(&bytes).is_ok();
        for p in &policies {
            let engine = Reference::new(p.clone());
            let mut out = Vec::new();
            let ours = engine.redact(&bytes, &mut out, &mut Stats::new(p));
            match name.as_bytes()[0] {
                b'y' => assert!(ours.is_ok(), "{name} must be accepted: {ours:?}"),
                b'n' => assert!(ours.is_err(), "{name} must be rejected"),
                _ => {}
            }
            if ours.is_ok() != serde_ok {
                mismatches.push(format!("{name}: ours {ours:?}, serde_json ok={serde_ok}"));
            }
            if ours.is_ok() {
                // Output is valid JSON.
                serde_json::from_slice::<serde_json::Value>(&out)
                    .unwrap_or_else(|e| panic!("{name}: output invalid: {e}"));
            }
        }
        match name.as_bytes()[0] {
            b'y' => y += 1,
            b'n' => n += 1,
            _ => i += 1,
        }
    }
    assert_eq!(files.len(), 318, "the suite has 318 files");
    assert!(
        mismatches.is_empty(),
        "verdicts differ from serde_json:\n{}",
        mismatches.join("\n")
    );
    eprintln!("JSONTestSuite: {y} y_, {n} n_, {i} i_ files agree with serde_json");
}
