//! Golden files: for each preset, `golden/<preset>.input.ndjson` redacted by
//! a policy of that preset alone (detectors on, fixed key) must equal
//! `golden/<preset>.expected.ndjson`. Set `REDACTOR_BLESS=1` to rewrite the
//! expected files after reviewing a deliberate change.

mod common;

use std::path::PathBuf;

fn golden(preset: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let input = std::fs::read_to_string(dir.join(format!("{preset}.input.ndjson"))).unwrap();
    let p = common::policy(&format!("presets = [\"{preset}\"]\n"));
    let mut got = String::new();
    for line in input.lines() {
        got.push_str(&common::redact(&p, line));
        got.push('\n');
    }
    let expected_path = dir.join(format!("{preset}.expected.ndjson"));
    if std::env::var_os("REDACTOR_BLESS").is_some() {
        std::fs::write(&expected_path, &got).unwrap();
    }
    let expected = std::fs::read_to_string(&expected_path).unwrap();
    for (i, (g, e)) in got.lines().zip(expected.lines()).enumerate() {
        assert_eq!(g, e, "{preset} line {}", i + 1);
    }
    assert_eq!(got.lines().count(), expected.lines().count());
    // Whatever the preset, no email or IPv4 from the input survives.
    for needle in [
        "alice@example.com",
        "alice%40example.com",
        "203.0.113.7",
        "bob@example.com",
    ] {
        assert!(!got.contains(needle), "{preset}: {needle} survived");
    }
}

#[test]
fn mixpanel() {
    golden("mixpanel");
}
#[test]
fn segment() {
    golden("segment");
}
#[test]
fn amplitude() {
    golden("amplitude");
}
#[test]
fn posthog() {
    golden("posthog");
}
#[test]
fn otel() {
    golden("otel");
}
