//! Allocations of the fast engine per event, counted once its buffers are
//! warm: none, for untouched events (span copies only) and for rewritten
//! ones alike. The one exception is a string holding nested JSON, which
//! the reference engine's code rewrites.

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
fn rewritten_values_allocate_nothing_once_warm() {
    let e = engine("presets = \"all\"");
    // A token, an IP generalisation, a detector match in a value and one
    // in a key, an escaped key, a percent-encoded email in a URL.
    let line = br#"{"event":"$pageview","properties":{"distinct_id":"user-1","$ip":"203.0.113.9","note":"write to ann@example.com","bob@example.com":1,"n\u0061me":"x","link":"/a?u=al%40example.org"}}"#;
    let (mut out, mut stats) = (Vec::with_capacity(4096), Stats::default());
    for _ in 0..10 {
        e.redact(line, &mut out, &mut stats).unwrap();
    }
    let before = stats.clone();
    let (_, allocated) = counting::allocations(|| {
        for _ in 0..100 {
            e.redact(line, &mut out, &mut stats).unwrap();
        }
    });
    assert_eq!(allocated, 0, "allocations for 100 rewritten events");
    // The rewrites did happen.
    assert!(
        !out.windows(7).any(|w| w == b"example"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    assert_eq!(stats.lines_ok - before.lines_ok, 100);
}

/// The detectors' readings of command lines (options, plain arguments,
/// piped passwords, argument lists) keep what they read in place.
#[test]
fn command_lines_allocate_nothing_once_warm() {
    let e = engine("presets = \"all\"");
    let line = |i: usize| {
        format!(
            r#"{{"process":{{"command_line":"C:\\Windows\\system32\\net.exe user ann{i} pw-{i} /add","args":["sqlcmd","-U","sa{i}","-P","pw-{i}","/p:x{i}"],"argv":["net","user","ann{i}","pw-{i}"]}},"cmd":"echo pw-{i} | sudo -S true; mysql -u ann{i} -ppw-{i} && htpasswd -b f ann{i} pw-{i}","sudo":"ann : TTY=pts/0 ; COMMAND=/usr/bin/rabbitmqctl add_user ann{i} pw-{i}"}}"#
        )
        .into_bytes()
    };
    // Warm: every slot of the token memo filled once (new ids fill them).
    let (mut out, mut stats) = (Vec::with_capacity(1 << 16), Stats::default());
    for i in 0..3_000 {
        out.clear();
        e.redact(&line(i), &mut out, &mut stats).unwrap();
    }
    let lines: Vec<Vec<u8>> = (3_000..3_100).map(line).collect();
    out.clear();
    let (_, allocated) = counting::allocations(|| {
        for l in &lines {
            e.redact(l, &mut out, &mut stats).unwrap();
        }
    });
    assert_eq!(allocated, 0, "allocations for 100 command lines");
    // The passwords were found.
    let text = String::from_utf8_lossy(&out);
    assert!(!text.contains("pw-3"), "{text}");
}

#[test]
fn ids_as_keys_keep_the_key_cache_small() {
    // Every key new: the engine's per-thread cache of key transitions
    // starts afresh when full rather than grow with them.
    let e = engine("presets = \"all\"");
    let mut stats = Stats::default();
    let mut out = Vec::with_capacity(1 << 16);
    let line = |i: usize| {
        let fields: Vec<String> = (0..20)
            .map(|j| format!(r#""{:012x}":{j}"#, i * 20 + j))
            .collect();
        format!(r#"{{"event":"x","properties":{{{}}}}}"#, fields.join(","))
    };
    e.redact(line(0).as_bytes(), &mut out, &mut stats).unwrap();
    let before = counting::live_bytes();
    for i in 1..15_000 {
        out.clear();
        e.redact(line(i).as_bytes(), &mut out, &mut stats).unwrap();
    }
    let kept = counting::live_bytes() - before;
    assert!(kept < 4 << 20, "{kept} bytes kept for 300 000 keys");
}

/// Whether some string in `v` holds a JSON object or array (the engine
/// hands such strings to the reference engine's code, which allocates).
fn holds_nested_json(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::String(s) => {
            let t = s.trim_start();
            (t.starts_with('{') || t.starts_with('['))
                && serde_json::from_str::<serde_json::Value>(s).is_ok()
        }
        serde_json::Value::Array(a) => a.iter().any(holds_nested_json),
        serde_json::Value::Object(o) => o.values().any(holds_nested_json),
        _ => false,
    }
}

#[test]
fn generated_telemetry_allocates_nothing_once_warm() {
    use redactor_core::gen::{Format, Generator};
    // Every wire format under the policy of its own preset and under the
    // default policy (all presets, every detector): tokens, masks,
    // generalisations, detector matches in values and keys, escaped keys
    // and values, `[key=...]` attribute arrays. Each event is redacted
    // once to warm the buffers and caches, then counted alone.
    let mut policies = vec![("default", "presets = \"all\"".to_string())];
    for p in redactor_core::presets::NAMES {
        policies.push((p, format!("presets = [\"{p}\"]")));
    }
    let mut g = Generator::new(Format::Mixed, 11);
    let lines: Vec<Vec<u8>> = (0..2_000).map(|_| g.event()).collect();
    let nested: Vec<bool> = lines
        .iter()
        .map(|l| holds_nested_json(&serde_json::from_slice(l).unwrap()))
        .collect();
    let plain = nested.iter().filter(|n| !**n).count();
    assert!(plain > 1_000, "{plain} events without nested JSON");
    let mut failures = Vec::new();
    for (name, src) in &policies {
        let e = engine(src);
        let (mut out, mut stats) = (Vec::with_capacity(1 << 16), Stats::default());
        for l in &lines {
            e.redact(l, &mut out, &mut stats).unwrap();
        }
        let (mut in_plain, mut in_nested) = (0, 0);
        for (l, nested) in lines.iter().zip(&nested) {
            let (_, n) = counting::allocations(|| e.redact(l, &mut out, &mut stats).unwrap());
            if *nested {
                in_nested += n;
            } else {
                in_plain += n;
            }
        }
        eprintln!(
            "{name}: {in_plain} allocations for {plain} events, \
             {in_nested} for {} events holding nested JSON",
            lines.len() - plain
        );
        if in_plain != 0 {
            failures.push(format!("{name}: {in_plain}"));
        }
    }
    assert!(failures.is_empty(), "allocations once warm: {failures:?}");
}
