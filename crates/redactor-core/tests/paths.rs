//! The indexed selector matcher against the plain NFA simulation: every
//! preset policy, the default policy and allowlist mode give identical output
//! on generated telemetry of every format and on the golden inputs (the
//! generator sends no credentials, which the golden inputs hold).

mod common;

use std::sync::Arc;

use redactor_core::gen::{Format, Generator};
use redactor_core::{Redactor, Reference, Stats};

#[test]
fn indexed_matcher_equals_naive_simulation() {
    let mut policies = vec![
        common::default_policy(),
        common::policy("mode = \"allowlist\"\npresets = \"all\"\n"),
    ];
    for name in redactor_core::presets::NAMES {
        policies.push(common::policy(&format!("presets = [\"{name}\"]\n")));
    }
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut golden: Vec<Vec<u8>> = Vec::new();
    for name in redactor_core::presets::NAMES {
        let text = std::fs::read_to_string(dir.join(format!("{name}.input.ndjson"))).unwrap();
        golden.extend(text.lines().map(|l| l.as_bytes().to_vec()));
    }
    for p in policies {
        let mut naive = (*p).clone();
        naive.matcher = naive.matcher.into_naive();
        let (fast, slow) = (Reference::new(p.clone()), Reference::new(Arc::new(naive)));
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let (mut sa, mut sb) = (Stats::new(&p), Stats::new(&p));
        for f in Format::ALL {
            let mut g = Generator::new(f, 99);
            for _ in 0..300 {
                let line = g.event();
                fast.redact(&line, &mut a, &mut sa).unwrap();
                slow.redact(&line, &mut b, &mut sb).unwrap();
                assert_eq!(String::from_utf8_lossy(&a), String::from_utf8_lossy(&b));
            }
        }
        for line in &golden {
            fast.redact(line, &mut a, &mut sa).unwrap();
            slow.redact(line, &mut b, &mut sb).unwrap();
            assert_eq!(String::from_utf8_lossy(&a), String::from_utf8_lossy(&b));
        }
        assert_eq!(sa, sb);
        assert!(sa.rules.iter().sum::<u64>() > 0);
    }
}
