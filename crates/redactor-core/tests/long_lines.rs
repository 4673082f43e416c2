//! What the fast engine keeps after a long line (over `LONG_LINE`): the
//! buffers such a line grows are shared by the process's long lines and
//! freed by the next ordinary line, on whichever thread it comes. Alone in
//! its test binary, since the allocator counts per thread and another
//! test's ordinary line would free them on its own thread.

mod common;
#[path = "../../redactor-scan/tests/counting/mod.rs"]
mod counting;

use redactor_core::{Fast, Redactor, Stats};

#[test]
fn long_lines_share_buffers_that_the_next_ordinary_line_frees() {
    let e = Fast::new(common::policy("presets = \"all\""));
    let mut g = redactor_core::gen::Generator::new(redactor_core::gen::Format::Mixed, 5);
    let small: Vec<Vec<u8>> = (0..200).map(|_| g.event()).collect();
    let mut stats = Stats::default();
    let mut run = |line: &[u8]| {
        let mut out = Vec::new();
        e.redact(line, &mut out, &mut stats).is_ok()
    };
    // Numbers (a tape node each), a long escaped text with an email and a
    // folded form for the detectors' buffers, and many keys for the key
    // cache.
    let text = "caf\\u00e9 a\\u0040example.com ".repeat(50_000);
    let keys: Vec<String> = (0..100_000)
        .map(|i| format!(r#""key-{i:024}":{i}"#))
        .collect();
    let long = format!(
        r#"{{"n":[{}0],"note":"{text}","m":{{{}}}}}"#,
        "0,".repeat(1 << 20),
        keys.join(",")
    );
    let invalid = &long.as_bytes()[..long.len() - 1];
    for l in &small {
        assert!(run(l));
    }
    for (what, line, ok) in [
        ("redacted", long.as_bytes(), true),
        ("rejected", invalid, false),
    ] {
        let before = counting::live_bytes();
        assert_eq!(run(line), ok, "{what}");
        // Kept for the long lines that follow, which grow them no further.
        let one = counting::live_bytes() - before;
        assert!(one > 10 << 20, "{what}: {one} bytes kept for long lines");
        assert_eq!(run(line), ok, "{what}");
        let two = counting::live_bytes() - before;
        assert!(two - one < 64 << 10, "{what}: {one}, then {two} bytes");
        // Freed by the next ordinary line.
        for l in &small {
            assert!(run(l));
        }
        let kept = counting::live_bytes() - before;
        assert!(
            kept < 64 << 10,
            "{what}: {kept} bytes kept after a long line"
        );
    }
}
