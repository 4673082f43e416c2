//! The fast engine against the reference: same verdict on every line, and
//! for accepted lines the same parsed output (duplicates and order kept,
//! number text compared exactly), the same counters and the same
//! explanations, for every policy family.

mod common;

use std::sync::Arc;

use proptest::prelude::*;
use redactor_core::gen::{Format, Generator};
use redactor_core::{json, Fast, Policy, Redactor, Reference, Stats};

include!("policies/families.rs");

/// Every policy family, compiled with the test key.
fn policies() -> Vec<(&'static str, Arc<Policy>)> {
    policy_families()
        .into_iter()
        .map(|(name, src)| (name, common::policy(&src)))
        .collect()
}

/// Asserts that the fast engine's output `fast` (made `how`) parses to the
/// same value as the reference engine's output `reference` for `line`.
fn same_output(name: &str, how: &str, line: &[u8], fast: &[u8], reference: &[u8]) {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let got = json::parse(fast, 10_000)
        .unwrap_or_else(|e| panic!("{name}: fast output invalid ({e}): {}", text(fast)));
    assert_eq!(
        got,
        json::parse(reference, 10_000).unwrap(),
        "{name}: outputs differ{how} on {}\nfast: {}\nref:  {}",
        text(line),
        text(fast),
        text(reference)
    );
}

fn compare(name: &str, p: &Arc<Policy>, line: &[u8]) {
    let (fast, slow) = (Fast::new(p.clone()), Reference::new(p.clone()));
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let (mut sa, mut sb) = (Stats::new(p), Stats::new(p));
    let (mut ea, mut eb) = (Vec::new(), Vec::new());
    let ra = fast.explain(line, &mut a, &mut sa, &mut ea);
    let rb = slow.explain(line, &mut b, &mut sb, &mut eb);
    let show = || String::from_utf8_lossy(line).into_owned();
    assert_eq!(
        ra.is_ok(),
        rb.is_ok(),
        "{name}: verdicts differ on {}: {ra:?} vs {rb:?}",
        show()
    );
    if rb.is_ok() {
        same_output(name, "", line, &a, &b);
        assert_eq!(ea, eb, "{name}: explanations differ on {}", show());
    }
    // Without explanations the fast engine takes its native paths
    // everywhere (with them, it hands rewritten subtrees to the reference
    // to list their paths): compare those outputs and counters too.
    let mut c = Vec::new();
    let mut sc = Stats::new(p);
    let rc = fast.redact(line, &mut c, &mut sc);
    assert_eq!(
        rc.is_ok(),
        rb.is_ok(),
        "{name}: verdicts differ on {}",
        show()
    );
    if rb.is_ok() {
        same_output(name, " (no explanations)", line, &c, &b);
    }
    assert_eq!(
        (&sc.rules, &sc.detectors, sc.allowlist_dropped),
        (&sb.rules, &sb.detectors, sb.allowlist_dropped),
        "{name}: counters differ (no explanations) on {}",
        show()
    );
    assert_eq!(
        sa.rules,
        sb.rules,
        "{name}: rule counters differ on {}",
        show()
    );
    assert_eq!(
        sa.detectors,
        sb.detectors,
        "{name}: detector counters differ on {}",
        show()
    );
    assert_eq!(
        (sa.allowlist_dropped, sa.lines_ok, sa.rejects),
        (sb.allowlist_dropped, sb.lines_ok, sb.rejects),
        "{name}: {}",
        show()
    );
    // Appended after earlier output: the same bytes after it, and nothing
    // added on a reject (the fast engine's own path; the reference's
    // through the trait's default).
    for engine in [&fast as &dyn Redactor, &slow] {
        let mut alone = Vec::new();
        let r = engine.redact(line, &mut alone, &mut Stats::new(p));
        let mut appended = b"earlier output\n".to_vec();
        let ra = engine.redact_append(line, &mut appended, &mut Stats::new(p));
        assert_eq!(
            ra.is_ok(),
            r.is_ok(),
            "{name}: append verdict on {}",
            show()
        );
        let mut want = b"earlier output\n".to_vec();
        if r.is_ok() {
            want.extend_from_slice(&alone);
        }
        assert_eq!(
            String::from_utf8_lossy(&appended),
            String::from_utf8_lossy(&want),
            "{name}: appended output differs on {}",
            show()
        );
    }
}

#[test]
fn generated_telemetry() {
    for (name, p) in policies() {
        for f in Format::ALL {
            let mut g = Generator::new(f, 3);
            for _ in 0..150 {
                compare(name, &p, &g.event());
            }
        }
    }
}

/// One engine of each kind over a whole stream, twice: the fast engine's
/// per-thread caches (transitions, keys found clean) carry over from line
/// to line, and must never carry a result to a line it does not fit.
#[test]
fn one_engine_over_a_stream() {
    let mut lines: Vec<Vec<u8>> = Vec::new();
    let mut g = Generator::new(Format::Mixed, 11);
    for k in 0..600 {
        lines.push(g.event());
        // The same keys, once clean and once holding personal data.
        lines.push(format!(r#"{{"properties":{{"k{k}":1,"a{k}@example.com":2}}}}"#).into_bytes());
        lines.push(format!(r#"{{"properties":{{"k{k}":"b{k}@example.com"}}}}"#).into_bytes());
    }
    for (name, p) in policies() {
        let (fast, slow) = (Fast::new(p.clone()), Reference::new(p.clone()));
        let (mut sa, mut sb) = (Stats::new(&p), Stats::new(&p));
        for _ in 0..2 {
            for line in &lines {
                let (mut a, mut b) = (Vec::new(), Vec::new());
                let ra = fast.redact(line, &mut a, &mut sa);
                let rb = slow.redact(line, &mut b, &mut sb);
                assert_eq!(ra.is_ok(), rb.is_ok(), "{name}");
                if rb.is_ok() {
                    assert_eq!(
                        json::parse(&a, 10_000).unwrap(),
                        json::parse(&b, 10_000).unwrap(),
                        "{name}: {}\nfast: {}\nref:  {}",
                        String::from_utf8_lossy(line),
                        String::from_utf8_lossy(&a),
                        String::from_utf8_lossy(&b)
                    );
                }
            }
        }
        assert_eq!(
            (&sa.rules, &sa.detectors, sa.allowlist_dropped),
            (&sb.rules, &sb.detectors, sb.allowlist_dropped),
            "{name}"
        );
    }
}

/// Ids used as keys fill the fast engine's per-thread key cache, which
/// then starts afresh (past `MatchCache::MAX_ENTRIES` transitions) several
/// times over the stream; the keys that matter recur throughout, and what
/// the cache noted about them is lost each time. Nothing in the output or
/// the counters may change with it.
#[test]
fn the_key_cache_starting_afresh() {
    let lines: Vec<Vec<u8>> = (0..3_000)
        .map(|i| {
            let ids: Vec<String> = (0..20).map(|j| format!(r#""{:010x}":{j}"#, i * 20 + j)).collect();
            format!(
                r#"{{"event":"e{}","properties":{{"distinct_id":"u{}","email":"a{}@example.com","c{}@example.com":1,"ids":{{{}}}}}}}"#,
                i % 7,
                i % 50,
                i % 13,
                i % 5,
                ids.join(",")
            )
            .into_bytes()
        })
        .collect();
    assert!(lines.len() * 20 > 3 * redactor_core::selector::MatchCache::MAX_ENTRIES);
    for (name, p) in policies() {
        let (fast, slow) = (Fast::new(p.clone()), Reference::new(p.clone()));
        let (mut sa, mut sb) = (Stats::new(&p), Stats::new(&p));
        for line in &lines {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            fast.redact(line, &mut a, &mut sa).unwrap();
            slow.redact(line, &mut b, &mut sb).unwrap();
            same_output(name, "", line, &a, &b);
        }
        assert_eq!(
            (&sa.rules, &sa.detectors, sa.allowlist_dropped),
            (&sb.rules, &sb.detectors, sb.allowlist_dropped),
            "{name}"
        );
    }
}

/// Short strings the detectors rewrite, recurring within lines and from
/// line to line on one engine: the fast engine rewrites them again from its
/// per-thread notes, and must write, count and explain each match as a
/// search does. Explained and plain runs alternate, so that notes made by
/// one are used by the other.
#[test]
fn recurring_rewritten_strings() {
    let strings = [
        "ip-10-0-1-23",
        "10.1.2.3",
        "a.b@example.com",
        "a@x.io b@y.io",
        "+1 415 555 0132",
        // Full-width digits: rewritten through the folded forms.
        "１０.１.２.３",
        // More matches than a note holds.
        "1.1.1.1 2.2.2.2 3.3.3.3 4.4.4.4 5.5.5.5 6.6.6.6 7.7.7.7",
        "4111 1111 1111 1111",
    ];
    let mut lines = Vec::new();
    for k in 0..40usize {
        let a = strings[k % strings.len()];
        let b = strings[(k * 7 + 3) % strings.len()];
        // Keys too, below containers a rule rewrites (the custom policy
        // tokenizes `user`, the presets an attribute's `value` object),
        // where no transition holds a note on them.
        let line = serde_json::json!({
            "event": "e",
            "properties": {"note": a, "other": b, "list": [a, b, a], "k": k},
            "resource": {"attributes": [{"key": "host.name", "value": {"stringValue": a}}]},
            "user": {a: 1, "plain": {b: a, "plain": 2}},
            "attributes": [{"key": "user.email", "value": {b: a, "stringValue": b}}],
        });
        lines.push(line.to_string().into_bytes());
    }
    for (name, p) in policies() {
        let (fast, slow) = (Fast::new(p.clone()), Reference::new(p.clone()));
        let (mut sa, mut sb) = (Stats::new(&p), Stats::new(&p));
        for (i, line) in lines.iter().enumerate() {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            if i % 2 == 0 {
                let (mut ea, mut eb) = (Vec::new(), Vec::new());
                fast.explain(line, &mut a, &mut sa, &mut ea).unwrap();
                slow.explain(line, &mut b, &mut sb, &mut eb).unwrap();
                assert_eq!(ea, eb, "{name}: explanations of line {i}");
            } else {
                fast.redact(line, &mut a, &mut sa).unwrap();
                slow.redact(line, &mut b, &mut sb).unwrap();
            }
            same_output(name, "", line, &a, &b);
            assert_eq!(
                (&sa.rules, &sa.detectors),
                (&sb.rules, &sb.detectors),
                "{name}: counters after line {i}"
            );
        }
    }
}

/// Lines met again on one engine, so that its cache holds every key,
/// choice and clean string that lets a member pass without the full walk:
/// scalars that rules drop, replace (but for literals, when they keep
/// them) and generalise (dropping what is not an address), under keys the
/// detectors rewrite (so never noted clean), literals a
/// `keep` rule keeps with or without counting them,
/// containers below kept and unruled keys, arrays of scalars and of
/// arrays, elements that `[member=value]` selectors decide by their
/// fields, escaped keys and strings, and strings noted clean where they
/// are too deep to be nested JSON but that are nested JSON higher up.
/// The outputs and every counter must stay the reference's.
#[test]
fn members_met_again() {
    let mut all = policies();
    all.push((
        "keeps",
        common::policy(
            r#"
presets = ["otel"]
[limits]
max_depth = 5
[[rules]]
name = "flags"
select = ["**.flag"]
action = "keep"
keep_literals = true
[[rules]]
name = "ctx"
select = ["**.ctx"]
action = "keep"
[[rules]]
name = "elements"
select = ["**.s[*]"]
action = "replace"
value = 0
[[rules]]
name = "gone"
select = ["**.gone"]
action = "drop"
[[rules]]
name = "hidden"
select = ["**.hidden"]
action = "replace"
value = "x"
keep_literals = true
[[rules]]
name = "mailbox keys"
select = ["**.*@*"]
action = "replace"
value = "x"
[[rules]]
name = "address"
select = ["**.addr"]
action = "generalize"
kind = "ip"
on_invalid = "drop"
"#,
        ),
    ));
    all.push((
        "keeps, allowlist",
        common::policy(
            "mode = \"allowlist\"\npresets = []\n[[rules]]\nname = \"flags\"\n\
             select = [\"**.flag\"]\naction = \"keep\"\nkeep_literals = true\n\
             [[rules]]\nname = \"ctx\"\nselect = [\"**.ctx\"]\naction = \"keep\"\n",
        ),
    ));
    // Nested JSON that a rule rewrites when it is walked, noted clean
    // where it would pass the depth limit (5 in the "keeps" policy): the
    // string is not JSON there. With no quotes in it, so that it has no
    // escapes; the other policies walk it everywhere.
    let nested = " [1,[2,[3]]]";
    let lines: Vec<String> = [
        serde_json::json!({
            "gone": 1, "hidden": null, "addr": "nope", "x": {"gone": "a", "hidden": "b", "addr": "203.0.113.9"},
            "y": [{"hidden": true, "addr": 7, "gone": [1]}, {"k": 1, "gone": null}],
            "bob@example.com": "v", "z": {"ann@example.org": 5},
        }),
        serde_json::json!({
            "flag": true, "ctx": {"flag": null, "n": 1, "s": "plain", "a": [1, "b", [2, "c"]]},
            "n": [1, "a", [2, "b"], {"k": "v"}], "e\u{e9}": "v\u{e9}", "x": {"flag": false},
            "list": [{"name": "x-forwarded-for", "value": "203.0.113.7"}, {"name": "y", "value": "1"}],
        }),
        serde_json::json!({"a": {"b": {"c": {"s": nested}}}, "s": nested}),
        serde_json::json!({"s": nested, "a": {"b": {"c": {"s": nested}}}}),
        serde_json::json!({
            "resourceLogs": [{"scopeLogs": [{"logRecords": [{"attributes": [
                {"key": "user.email", "value": {"stringValue": "a@b.co"}},
                {"key": "plan", "value": {"stringValue": "pro"}},
            ]}]}]}],
        }),
    ]
    .iter()
    .map(|v| v.to_string().replace("\u{e9}", "\\u00e9"))
    .collect();
    for (name, p) in all {
        let (fast, slow) = (Fast::new(p.clone()), Reference::new(p.clone()));
        let (mut sa, mut sb) = (Stats::new(&p), Stats::new(&p));
        for round in 0..3 {
            for line in &lines {
                let (mut a, mut b) = (Vec::new(), Vec::new());
                let ra = fast.redact(line.as_bytes(), &mut a, &mut sa);
                let rb = slow.redact(line.as_bytes(), &mut b, &mut sb);
                assert_eq!(ra.is_ok(), rb.is_ok(), "{name}: verdicts on {line}");
                if rb.is_ok() {
                    same_output(name, " (met again)", line.as_bytes(), &a, &b);
                }
                assert_eq!(
                    (&sa.rules, &sa.detectors, sa.allowlist_dropped),
                    (&sb.rules, &sb.detectors, sb.allowlist_dropped),
                    "{name}: counters in round {round} after {line}"
                );
            }
        }
    }
}

#[test]
fn adversarial_and_edge_lines() {
    let lines: &[&str] = &[
        r#"{"\u0065mail":"a@b.c","email":"x","Email":{"a":1},"x":[{"email":1},{"k":"v"}]}"#,
        r#"{"user":{"name":"n","alice@example.com":"k","deep":[1,"203.0.113.7",{"z":null}]},"card":"4111 1111 1111 1111"}"#,
        r#"{"card":12345678,"ip2":"nope","ts":"2025-11-27T10:23:45Z","time":1732700000123,"note_const":[1,2]}"#,
        r#"{"payload":"{\"email\":\"alice@example.com\",\"n\":1.50}","p2":"[1,\"203.0.113.9\"]","p3":"{broken"}"#,
        r#"{"payload":" {\"email\":\"alice@example.com\"} \n\t","p2":"[Tag] see bob@example.org","p3":"[1,2] x@example.org]"}"#,
        r#"{"secret_obj":{"a":[1,2,{"b":3}]},"context":{"ip":"203.0.113.7","page":{"url":"https://x.example.com/?e=a%40b.co"}}}"#,
        r#"[{"name":"x-forwarded-for","value":"203.0.113.7"},{"name":"other","value":"198.51.100.1"},{"key":"user.email","value":{"stringValue":"a@b.co"}}]"#,
        r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"attributes":[{"key":"user.id","value":{"intValue":"42"}},{"key":"app.context","value":{"kvlistValue":{"values":[{"key":"user.email","value":{"stringValue":"a@b.co"}}]}}}]}]}]}]}"#,
        "  {\"a\" : 1 , \"email\" : \"x\" , \"b\" : [ 1 , 2 ] }  ",
        r#"{"email":"x"}"#,
        r#"{"a":1,"email":"x"}"#,
        r#"{"email":"x","email":"y","b":2}"#,
        r#"[]"#,
        r#"{}"#,
        r#""alice@example.com""#,
        r#"1.50"#,
        r#"null"#,
        r#"{"a":{},"b":[],"c":{"d":{}}}"#,
        r#"{"k\"q":"v\\","e\u00e9":"\ud83d\ude00 mail x@example.org"}"#,
        r#"[1,]"#,
        "{\"a\":\"\u{1}\"}",
        r#"{"a":1}x"#,
    ];
    for (name, p) in policies() {
        for l in lines {
            compare(name, &p, l.as_bytes());
        }
        let deep = "[".repeat(200);
        compare(name, &p, deep.as_bytes());
        // Strings holding JSON nested about as deep as the limit allows:
        // rewritten as JSON up to the limit, scanned as text past it.
        for k in 122..=130 {
            let inner = format!(
                "{}{{\\\"email\\\":\\\"a@b.co\\\",\\\"ip\\\":\\\"203.0.113.7\\\"}}{}",
                "[".repeat(k),
                "]".repeat(k)
            );
            let line = format!(r#"{{"a":{{"payload":"{inner}"}}}}"#);
            compare(name, &p, line.as_bytes());
        }
        compare(name, &p, b"\xff");
    }
}

#[test]
fn json_test_suite() {
    let Some(shared) = common::shared_dir() else {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "NOTICE: ../shared not found; skipping the JSONTestSuite differential test"
        );
        return;
    };
    let dir = shared.join("conformance/JSONTestSuite/test_parsing");
    let ps = policies();
    for e in std::fs::read_dir(dir).unwrap() {
        let bytes = std::fs::read(e.unwrap().path()).unwrap();
        for (name, p) in &ps {
            compare(name, p, &bytes);
        }
    }
}

fn json_text() -> impl Strategy<Value = String> {
    let keys = prop::sample::select(vec![
        "a",
        "email",
        "Email",
        "user",
        "ip",
        "ip2",
        "card",
        "$set",
        "properties",
        "key",
        "name",
        "value",
        "context",
        "traits",
        "ts",
        "x-forwarded-for",
        "user.id",
        "payload",
        "bob@example.org",
        "stringValue",
    ]);
    let leaf = prop_oneof![
        Just("null".to_string()),
        Just("true".to_string()),
        any::<i32>().prop_map(|n| n.to_string()),
        Just("1.50".to_string()),
        Just("1732700000123".to_string()),
        prop::sample::select(vec![
            "alice@example.com",
            "203.0.113.7",
            "2001:db8:1:2::9",
            "x-forwarded-for",
            "user.id",
            "hello",
            "{\"email\":\"a@b.co\"}",
            "Bearer abc123def456",
            "+1 555 555 0123",
            "2025-11-27T10:00:00Z",
            "4111 1111 1111 1111",
            // Full-width forms, and a full-width digit glued to an address.
            "ｔａｒｏ＠ｅｘａｍｐｌｅ．ｃｏｍ",
            "＋８１　９０－１２３４－５６７８",
            "１198.51.100.7",
            // Digits of another script, and one glued to an address.
            "+٩٧١ ٥٠ ١٢٣ ٤٥٦٧",
            "٣198.51.100.7",
            // Thai digits, and one glued to an address in Devanagari's.
            "+๖๖ ๘๑ ๒๓๔ ๕๖๗๘",
            "๓१९२.०.२.१५",
            // Argument lists' options and values.
            "--password",
            "--user-id",
            "-p",
            "-u",
            "-phunter2",
            "mysql",
            "hunter 2",
            "ann:pw",
            "-storepass",
            "/p:pw",
            "/P",
            "xfreerdp",
            "schtasks",
            "net user ann pw",
            "echo pw | sudo -S ls",
            "net",
            "user",
            "htpasswd",
            "-b",
            "create",
        ])
        .prop_map(|s| serde_json::to_string(s).unwrap()),
        // An option written with an escape; an OTLP string value.
        Just(r#""\u002d-token""#.to_string()),
        Just(r#""\/p:pw""#.to_string()),
        Just(r#"{"stringValue": "--api-key"}"#.to_string()),
        "\\PC{0,8}".prop_map(|s| serde_json::to_string(&s).unwrap()),
    ];
    leaf.prop_recursive(5, 40, 5, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(|v| format!("[{}]", v.join(", "))),
            prop::collection::vec((keys.clone(), inner), 0..5).prop_map(|m| {
                let members: Vec<String> = m
                    .into_iter()
                    .map(|(k, v)| format!("{}: {v}", serde_json::to_string(k).unwrap()))
                    .collect();
                format!("{{ {} }}", members.join(" ,"))
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]

    #[test]
    fn random_json(text in json_text()) {
        for (name, p) in policies() {
            compare(name, &p, text.as_bytes());
        }
    }
}
