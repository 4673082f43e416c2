//! The adversarial cases of the correctness contract.

mod common;

use redactor_core::{Redactor, Reference, Reject, Stats};

fn email_rule() -> std::sync::Arc<redactor_core::Policy> {
    common::policy(
        r#"
detectors = "off"
[[rules]]
name = "email"
select = ["**.email"]
match = "ignore-case"
action = "replace"
value = "X"
"#,
    )
}

fn reject(p: &std::sync::Arc<redactor_core::Policy>, line: &[u8]) -> Reject {
    let mut out = Vec::new();
    let r = Reference::new(p.clone())
        .redact(line, &mut out, &mut Stats::new(p))
        .expect_err("must be rejected");
    assert!(out.is_empty(), "nothing may be emitted for a rejected line");
    r
}

#[test]
fn escaped_keys_match_after_unescaping() {
    let p = email_rule();
    assert_eq!(
        common::redact(&p, r#"{"\u0065mail":"a@b.c"}"#),
        r#"{"email":"X"}"#
    );
    assert_eq!(
        common::redact(&p, r#"{"em\u0061il":"a@b.c","x":{"\u0045MAIL":1}}"#),
        r#"{"email":"X","x":{"EMAIL":"X"}}"#
    );
}

#[test]
fn every_duplicate_is_handled() {
    let p = email_rule();
    assert_eq!(
        common::redact(&p, r#"{"email":"a","email":"b","Email":"c"}"#),
        r#"{"email":"X","email":"X","Email":"X"}"#
    );
}

#[test]
fn case_variants_follow_the_rule() {
    let exact = common::policy(
        "detectors = \"off\"\n[[rules]]\nname = \"e\"\nselect = [\"email\"]\naction = \"drop\"\n",
    );
    assert_eq!(
        common::redact(&exact, r#"{"email":1,"Email":2,"EMAIL":3}"#),
        r#"{"Email":2,"EMAIL":3}"#
    );
    let loose = common::policy("detectors = \"off\"\n[[rules]]\nname = \"e\"\nselect = [\"firstname\"]\nmatch = \"loose\"\naction = \"drop\"\n");
    assert_eq!(
        common::redact(
            &loose,
            r#"{"first_name":1,"firstName":2,"$First-Name":3,"first":4}"#
        ),
        r#"{"first":4}"#
    );
}

#[test]
fn detectors_see_decoded_content() {
    let p = common::policy("");
    let out = common::redact(&p, r#"{"note":"mail alice\u0040example.com now"}"#);
    assert!(
        !out.contains("alice") && out.contains("@test.token.invalid"),
        "{out}"
    );
    let out = common::redact(&p, r#"{"ip":"203\u002e0.113.7"}"#);
    assert_eq!(out, r#"{"ip":"203.0.113.0"}"#);
}

#[test]
fn full_width_and_other_script_pii_is_detected_by_both_engines() {
    // As typed with an East Asian input method (full-width digits, signs
    // and letters, ideographic spaces) or in another script's digits. Each
    // is found in its ASCII form, and its replacement is that of the ASCII
    // form (one token for both).
    let p = common::default_policy();
    let cases = [
        ("ｔａｒｏ＠ｅｘａｍｐｌｅ．ｃｏｍ", "taro@example.com"),
        ("＋８１　９０－１２３４－５６７８", "+81 90-1234-5678"),
        (
            "４１１１　１１１１　１１１１　１１１１",
            "4111 1111 1111 1111",
        ),
        ("１９２．０．２．１５", "192.0.2.15"),
        // Digits of other scripts, as typed on Arabic, Persian and Hindi
        // keyboards.
        ("+٩٧١ ٥٠ ١٢٣ ٤٥٦٧", "+971 50 123 4567"),
        ("+۹۸ ۹۱۲ ۳۴۵ ۶۷۸۹", "+98 912 345 6789"),
        ("४१११ ११११ ११११ ११११", "4111 1111 1111 1111"),
        // Thai, Khmer, Myanmar and Gujarati digits: every script's decimal
        // digits are digits.
        ("+๖๖ ๘๑ ๒๓๔ ๕๖๗๘", "+66 81 234 5678"),
        ("+៨៥៥ ១២ ៣៤៥ ៦៧៨", "+855 12 345 678"),
        ("၁၉၂.၀.၂.၁၅", "192.0.2.15"),
        ("૪૧૧૧ ૧૧૧૧ ૧૧૧૧ ૧૧૧૧", "4111 1111 1111 1111"),
    ];
    for (wide, ascii) in cases {
        let line = format!(r#"{{"note":"連絡先：{wide}です"}}"#);
        let out = common::redact_both(&p, &line);
        assert!(!out.contains(wide), "{out}");
        let plain = common::redact_both(&p, &format!(r#"{{"note":"連絡先：{ascii}です"}}"#));
        assert_eq!(out, plain, "{wide} is rewritten as {ascii} is");
    }
    // A full-width digit glued to an address is not part of it: the
    // address in the text as it is still goes.
    let out = common::redact_both(&p, r#"{"note":"１198.51.100.7"}"#);
    assert!(!out.contains("198.51.100.7"), "{out}");
    // Nor is a digit of one script glued to an address in another's, also
    // with digits of many scripts in one text.
    for line in [
        r#"{"note":"๓१९२.०.२.१५"}"#,
        r#"{"note":"१९२.०.२.१५๓"}"#,
        r#"{"note":"٣៩𝟑१९२.०.२.१५๓၁ ४१११ ११११ ११११ ११११৩ +๖๖ ๘๑ ๒๓๔ ๕๖๗๘"}"#,
    ] {
        let out = common::redact_both(&p, line);
        assert!(!out.contains("१९२.०.२.१५"), "{out}");
        assert!(
            !out.contains("४१११ ११११") && !out.contains("๘๑ ๒๓๔"),
            "{out}"
        );
    }
}

#[test]
fn a_byte_order_mark_is_rejected_by_name_by_both_engines() {
    let p = common::default_policy();
    let line = "\u{feff}{\"email\":\"a@b.co\"}";
    let fast = redactor_core::Fast::new(p.clone());
    let slow = redactor_core::Reference::new(p.clone());
    for e in [&fast as &dyn Redactor, &slow] {
        let r = e
            .redact(line.as_bytes(), &mut Vec::new(), &mut Stats::new(&p))
            .unwrap_err();
        assert_eq!(
            r.to_string(),
            "invalid JSON at byte 0: byte order mark (U+FEFF) before the JSON text"
        );
    }
}

#[test]
fn emails_with_an_html_escaped_at_are_tokenized_by_both_engines() {
    // HTML-escaped text (an error page, a rendered template) may write the
    // `@` as a character reference. The address is found, tokenized as the
    // plain one is (same address, same token), and its replacement keeps
    // the reference.
    let p = common::default_policy();
    let line = r#"{"html":"<a href=\"mailto:alice&#64;example.com\">alice&#x40;example.com</a>","note":"cc bob&commat;example.org, alice@example.com"}"#;
    let out = common::redact_both(&p, line);
    assert!(!out.contains("alice") && !out.contains("bob"), "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let (html, note) = (v["html"].as_str().unwrap(), v["note"].as_str().unwrap());
    let token = |s: &str, at: &str| -> String {
        let i = s.find(at).unwrap_or_else(|| panic!("no {at} in {s}"));
        let start = s[..i].rfind([':', '>', ' ']).unwrap() + 1;
        s[start..i].to_string()
    };
    let plain = token(note, "@");
    assert_eq!(token(html, "&#64;"), plain, "{out}");
    assert_eq!(token(html, "&#x40;"), plain, "{out}");
    assert!(note.contains("&commat;"), "{out}");
}

#[test]
fn ipv4_in_hostnames_is_generalized_by_both_engines() {
    // Reverse DNS names carry the address with dashes: an ISP's name for a
    // subscriber's address is the subscriber's address.
    let p = common::default_policy();
    let line = r#"{"msg":"GET / from c-73-22-1-5.hsd1.ca.example.net via ec2-203-0-113-7.compute-1.amazonaws.com (call 1-800-555-0143, build v1-2-3-4)"}"#;
    // A phone number's four groups are not an address: `phone` takes it.
    let want = r#"{"msg":"GET / from c-73-22-1-0.hsd1.ca.example.net via ec2-203-0-113-0.compute-1.amazonaws.com (call [REDACTED-PHONE], build v1-2-3-4)"}"#;
    assert_eq!(common::redact_both(&p, line), want);
    // Another action sees the dotted form too (a mask keeps no dot).
    let masked = common::policy("[detectors]\nipv4 = { action = \"mask\", keep_last = 2 }\n");
    assert_eq!(
        common::redact_both(&masked, r#"{"h":"ip-10-0-1-23.ec2.internal"}"#),
        r#"{"h":"ip-*******23.ec2.internal"}"#
    );
}

#[test]
fn zero_padded_ipv4_is_generalized_by_both_engines() {
    // Some logs pad each octet to three digits; the standard parser
    // rejects such text, but it is an address all the same.
    let p = common::default_policy();
    for (line, want) in [
        (
            r#"{"note":"src=010.001.002.003 dst=198.051.100.007:443"}"#,
            r#"{"note":"src=10.1.2.0 dst=198.51.100.0:443"}"#,
        ),
        // A field the IP rule selects: generalized, where it was dropped.
        (r#"{"ip":"198.051.100.007"}"#, r#"{"ip":"198.51.100.0"}"#),
    ] {
        assert_eq!(common::redact_both(&p, line), want);
    }
}

#[test]
fn pii_in_url_queries_and_stringified_json() {
    let p = common::default_policy();
    let out = common::redact(
        &p,
        r#"{"link":"https://x.example.com/a?email=alice%40example.com&u=alice%2540example.com&ip=203.0.113.7"}"#,
    );
    assert!(!out.contains("alice"), "{out}");
    assert!(!out.contains("203.0.113.7"), "{out}");
    let nested = r#"{"payload":"{\"user\":{\"email\":\"alice@example.com\",\"$name\":\"Alice\"},\"n\":1.50}"}"#;
    let out = common::redact(&p, nested);
    assert!(
        !out.contains("alice@example.com") && !out.contains("Alice"),
        "{out}"
    );
    // The rules apply inside: the email key is dropped by the presets, not just detected.
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let inner: serde_json::Value = serde_json::from_str(v["payload"].as_str().unwrap()).unwrap();
    assert_eq!(inner.to_string(), r#"{"n":1.50,"user":{}}"#);
}

#[test]
fn stringified_json_with_blanks_around_it_is_redacted_alike_by_both_engines() {
    let p = common::default_policy();
    // JSON whitespace around it: still JSON, its rules apply inside, and
    // the whitespace stays around the rewritten text.
    let line = r#"{"payload":" \t\n{\"email\":\"alice@example.com\",\"n\":1}\r\n "}"#;
    let out = common::redact_both(&p, line);
    assert_eq!(out, r#"{"payload":" \t\n{\"n\":1}\r\n "}"#);
    // Other blanks (a no-break space, an ideographic space) are not JSON
    // whitespace: the text is not JSON, and the detectors find the email.
    for blank in [r"\u00a0", r"\u3000", "\u{a0}", "\u{3000}"] {
        let line = format!(r#"{{"payload":"{blank}{{\"email\":\"alice@example.com\"}}{blank}"}}"#);
        let out = common::redact_both(&p, &line);
        assert!(!out.contains("alice@example.com"), "{out}");
        assert!(out.contains(r#"{\"email\":\""#), "{out}");
    }
}

#[test]
fn deep_nesting_is_rejected_without_a_crash() {
    let p = common::default_policy();
    for open in [b'[', b'{'] {
        let mut line = Vec::new();
        for _ in 0..100_000 {
            line.push(open);
            if open == b'{' {
                line.extend_from_slice(b"\"a\":");
            }
        }
        assert!(matches!(
            reject(&p, &line),
            Reject::TooDeep { limit: 128, .. }
        ));
    }
    // Nested JSON inside a string counts toward the same limit.
    let deep_inner = format!("{}{}", "[".repeat(127), "]".repeat(127));
    let line = format!(r#"{{"s":"{deep_inner}"}}"#);
    common::redact(&p, &line);
}

#[test]
fn invalid_input_is_rejected_with_positions() {
    let p = common::default_policy();
    assert_eq!(
        reject(&p, b"{\"a\":\"\xff\"}"),
        Reject::InvalidUtf8 { offset: 6 }
    );
    assert!(matches!(
        reject(&p, b"{\"a\":1} x"),
        Reject::InvalidJson { offset: 8, .. }
    ));
    assert!(matches!(
        reject(&p, b"{\"a\":1}{}"),
        Reject::InvalidJson { offset: 7, .. }
    ));
    for bad in [
        &b"{\"a\":01}"[..],
        b"[NaN]",
        b"[1,]",
        b"/*c*/{}",
        b"{\"a\":\"\\q\"}",
        b"\"\\ud800\"",
        b"{\"a\":\"x\ty\"}",
        b"{\"a\":\"open",
        b"[-]",
        b"{'a':1}",
        b"",
    ] {
        assert!(
            matches!(reject(&p, bad), Reject::InvalidJson { .. }),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn too_large_lines_are_rejected() {
    let p = common::policy("detectors = \"off\"\n[limits]\nmax_line_bytes = 1024\n");
    let line = format!("[\"{}\"]", "a".repeat(1021));
    assert_eq!(line.len(), 1025);
    assert_eq!(
        reject(&p, line.as_bytes()),
        Reject::TooLarge {
            len: 1025,
            limit: 1024
        }
    );
    common::redact(
        &p,
        &line[..1024 - 2]
            .replace('a', "b")
            .chars()
            .chain("\"]".chars())
            .collect::<String>(),
    );
}

#[test]
fn untouched_content_is_preserved() {
    let p = common::policy(
        "detectors = \"off\"\n[[rules]]\nname = \"d\"\nselect = [\"x\"]\naction = \"drop\"\n",
    );
    let line = r#"{"z":1.50,"a":-0.0e+10,"b":[1E400,{"d":"é😀","d":null}],"x":1,"c":true}"#;
    assert_eq!(
        common::redact(&p, line),
        r#"{"z":1.50,"a":-0.0e+10,"b":[1E400,{"d":"é😀","d":null}],"c":true}"#
    );
}

#[test]
fn allowlist_mode_drops_everything_not_kept_at_any_depth() {
    let p = common::policy(
        r#"
mode = "allowlist"
detectors = "off"
[[rules]]
name = "keep"
select = ["event", "properties.time", "context"]
action = "keep"
[[rules]]
name = "uid"
select = ["**.user_id"]
action = "tokenize"
"#,
    );
    let out = common::redact(
        &p,
        r#"{"event":"x","properties":{"time":1,"email":"a@b.c","deep":{"x":1}},"context":{"a":{"b":2}},"user_id":"u","extra":[1,{"k":2}]}"#,
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["event"], "x");
    assert_eq!(v["properties"].to_string(), r#"{"time":1}"#);
    assert_eq!(v["context"].to_string(), r#"{"a":{"b":2}}"#);
    assert!(v["user_id"].as_str().unwrap().starts_with("tok_test_"));
    assert!(v.get("extra").is_none());
    // A bare scalar has no field to keep.
    assert_eq!(common::redact(&p, r#""alice@example.com""#), "null");
}

#[test]
fn key_as_value_lists_at_any_depth() {
    let p = common::policy(
        r#"
detectors = "off"
[[rules]]
name = "email-attr"
select = ["**[key=user.email]"]
action = "drop"
[[rules]]
name = "uid"
select = ["**[key=user.id].value"]
action = "mask"
"#,
    );
    let line = r#"{"a":[{"key":"user.email","value":{"stringValue":"x"}},{"key":"user.id","value":{"stringValue":"abc"}},{"key":"k","value":{"kvlistValue":{"values":[{"key":"user.email","value":{"stringValue":"y"}},{"key":"user.id","value":{"intValue":"12"}}]}}}]}"#;
    assert_eq!(
        common::redact(&p, line),
        r#"{"a":[{"key":"user.id","value":{"stringValue":"***"}},{"key":"k","value":{"kvlistValue":{"values":[{"key":"user.id","value":{"intValue":"**"}}]}}}]}"#
    );
}

#[test]
fn policy_rules_override_presets_and_preset_redaction_beats_preset_keep() {
    // The policy's own keep wins over a preset's drop.
    let p = common::policy("presets = [\"mixpanel\"]\ndetectors = \"off\"\n[[rules]]\nname = \"mine\"\nselect = [\"properties.$city\"]\naction = \"keep\"\n");
    assert_eq!(
        common::redact(&p, r#"{"properties":{"$city":"Lyon"}}"#),
        r#"{"properties":{"$city":"Lyon"}}"#
    );
    // Segment keeps `**.timestamp`; a preset drop on the same field would win.
    let p = common::policy("presets = [\"segment\", \"posthog\"]\ndetectors = \"off\"\n");
    let out = common::redact(
        &p,
        r#"{"properties":{"$group_key":"org_1","$initial_geoip_city_name":"Lyon"}}"#,
    );
    assert!(out.contains("tok_test_") && !out.contains("Lyon"), "{out}");
}

#[test]
fn stats_count_rules_detectors_and_rejects() {
    let p = common::policy("[[rules]]\nname = \"e\"\nselect = [\"**.email\"]\naction = \"drop\"\n");
    let e = Reference::new(p.clone());
    let mut s = Stats::new(&p);
    let mut out = Vec::new();
    e.redact(
        br#"[{"email":1},{"email":2,"t":"at 203.0.113.9 and 198.51.100.1"}]"#,
        &mut out,
        &mut s,
    )
    .unwrap();
    let _ = e.redact(b"[", &mut out, &mut s);
    assert_eq!(s.rules, vec![2]);
    let ipv4 = p
        .detectors
        .list
        .iter()
        .position(|d| d.kind == redactor_core::detectors::DetectorKind::Ipv4)
        .unwrap();
    assert_eq!(s.detectors[ipv4], 2);
    assert_eq!(s.lines_ok, 1);
    assert_eq!(s.rejects, [0, 1, 0, 0]);
}

#[test]
fn explain_names_paths_and_causes_but_never_values() {
    let p = common::default_policy();
    let e = Reference::new(p.clone());
    let (mut out, mut events) = (Vec::new(), Vec::new());
    e.explain(br#"{"batch":[{"traits":{"email":"alice@example.com","user.name":"x"},"note":"ip 203.0.113.7"}]}"#, &mut out, &mut Stats::new(&p), &mut events).unwrap();
    let rendered = format!("{events:?}");
    assert!(!rendered.contains("alice") && !rendered.contains("203.0.113.7"));
    let paths: Vec<&str> = events.iter().map(|e| e.path.as_str()).collect();
    assert!(paths.contains(&"batch[0].traits.email"), "{paths:?}");
    assert!(paths.contains(&"batch[0].note"), "{paths:?}");
}

/// Regression, found by the planted-PII property test: keys inside a subtree
/// that a value-rewriting rule handled were not scanned by the detectors.
#[test]
fn keys_under_rewritten_subtrees_are_scanned() {
    let p = common::default_policy();
    let out = common::redact(
        &p,
        r#"{"user_id":{"k2001:db8:1:1:1:2:3:1k":"x","alice@example.com":1}}"#,
    );
    assert!(
        !out.contains("2001:db8:1:1:1:2:3:1") && !out.contains("alice@example.com"),
        "{out}"
    );
}

/// The compiled policy and the engine are shared between threads.
#[test]
fn policy_and_engine_are_send_and_sync() {
    fn shared<T: Send + Sync>() {}
    shared::<redactor_core::Policy>();
    shared::<Reference>();
    shared::<std::sync::Arc<dyn Redactor>>();
}

/// The fast engine and the round-trip baseline note, per thread, the
/// strings their detectors found nothing in, and do not search them again.
/// A note is only true for the engine that left it: another engine on the
/// same thread, with other detectors, searches the same string afresh.
#[test]
fn strings_noted_clean_by_one_engine_are_searched_by_another() {
    let without_email = common::policy("[detectors]\nemail = \"off\"\n");
    let with_email = common::policy("");
    let line = br#"{"note":"bob@example.com","n":["bob@example.com"]}"#;
    let fast = |p: &std::sync::Arc<redactor_core::Policy>| {
        let p = p.clone();
        let e = redactor_core::Fast::new(p.clone());
        move || {
            let mut out = Vec::new();
            e.redact(line, &mut out, &mut Stats::new(&p))
                .expect("valid line");
            String::from_utf8(out).expect("UTF-8")
        }
    };
    let baseline = |p: &std::sync::Arc<redactor_core::Policy>| {
        let p = p.clone();
        let e = redactor_core::baseline::SimdJsonRoundTrip::new(p.clone());
        move || {
            let (mut scratch, mut out) = (Vec::new(), Vec::new());
            e.redact(line, &mut scratch, &mut out, &mut Stats::new(&p))
                .expect("valid line");
            String::from_utf8(out).expect("UTF-8")
        }
    };
    for (mut off, mut on) in [
        (
            Box::new(fast(&without_email)) as Box<dyn FnMut() -> String>,
            Box::new(fast(&with_email)) as Box<dyn FnMut() -> String>,
        ),
        (
            Box::new(baseline(&without_email)),
            Box::new(baseline(&with_email)),
        ),
        (
            Box::new(fast(&without_email)),
            Box::new(baseline(&with_email)),
        ),
    ] {
        for _ in 0..3 {
            // Twice each: the second run meets its own notes.
            for _ in 0..2 {
                assert!(off().contains("bob@example.com"), "email detector off");
            }
            for _ in 0..2 {
                let out = on();
                assert!(!out.contains("bob@example.com"), "{out}");
                assert!(out.contains(".token.invalid"), "{out}");
            }
        }
    }
}
