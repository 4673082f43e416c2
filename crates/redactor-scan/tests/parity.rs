//! The scanner against serde_json and across backends: same verdict on every
//! input, same tape on every backend, and a tape that rebuilds exactly the
//! value serde_json parses.

use proptest::prelude::*;
use redactor_scan::{Backend, ErrorKind, Kind, Limits, Node, Scanner, BOM_REASON};

fn scanners() -> Vec<Scanner> {
    let limits = Limits {
        max_depth: 128,
        max_bytes: 64 << 20,
    };
    Backend::available()
        .into_iter()
        .filter_map(|b| Scanner::with_backend(b, limits))
        .collect()
}

fn serde_ok(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(bytes).is_ok()
}

/// Rebuilds a serde_json value from a tape (keys and strings decoded).
fn rebuild(input: &[u8], tape: &[Node]) -> serde_json::Value {
    fn text(input: &[u8], n: &Node) -> String {
        let mut s = String::new();
        if n.has_escapes() {
            redactor_scan::unescape(&input[n.span()], &mut s);
        } else {
            s.push_str(std::str::from_utf8(&input[n.span()]).unwrap());
        }
        s
    }
    fn value(input: &[u8], tape: &[Node], i: &mut usize) -> serde_json::Value {
        let n = tape[*i];
        *i += 1;
        match n.kind {
            Kind::ObjectStart => {
                let mut m = serde_json::Map::new();
                while tape[*i].kind != Kind::ObjectEnd {
                    let k = text(input, &tape[*i]);
                    *i += 1;
                    let v = value(input, tape, i);
                    m.insert(k, v);
                }
                *i += 1;
                serde_json::Value::Object(m)
            }
            Kind::ArrayStart => {
                let mut a = Vec::new();
                while tape[*i].kind != Kind::ArrayEnd {
                    a.push(value(input, tape, i));
                }
                *i += 1;
                serde_json::Value::Array(a)
            }
            Kind::String => serde_json::Value::String(text(input, &n)),
            Kind::Number => serde_json::from_slice(&input[n.span()]).unwrap(),
            Kind::True => serde_json::Value::Bool(true),
            Kind::False => serde_json::Value::Bool(false),
            Kind::Null => serde_json::Value::Null,
            other => panic!("unexpected {other:?} at {}", n.start),
        }
    }
    let mut i = 0;
    let v = value(input, tape, &mut i);
    assert_eq!(i, tape.len(), "the tape holds exactly one value");
    v
}

/// Checks one input on every backend: verdict equals serde_json's, tapes are
/// identical across backends, links pair up, and the tape rebuilds the value.
fn check(input: &[u8]) {
    let expected = serde_ok(input);
    let mut first: Option<Result<Vec<Node>, redactor_scan::ScanError>> = None;
    for mut s in scanners() {
        let got = s.scan(input).map(|t| t.to_vec());
        assert_eq!(
            got.is_ok(),
            expected,
            "{} on {:?}: {got:?}",
            s.backend().name(),
            String::from_utf8_lossy(input)
        );
        if let Ok(tape) = &got {
            for (i, n) in tape.iter().enumerate() {
                if matches!(n.kind, Kind::ObjectStart | Kind::ArrayStart) {
                    assert_eq!(tape[n.link as usize].link as usize, i);
                }
            }
            assert_eq!(
                rebuild(input, tape),
                serde_json::from_slice::<serde_json::Value>(input).unwrap()
            );
        }
        match &first {
            None => first = Some(got),
            Some(f) => assert_eq!(
                f,
                &got,
                "{} differs from the first backend",
                s.backend().name()
            ),
        }
    }
}

#[test]
fn json_test_suite_on_every_backend() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/conformance/JSONTestSuite/test_parsing");
    if !dir.is_dir() {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "NOTICE: ../shared not found; skipping the JSONTestSuite scanner test"
        );
        return;
    }
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        check(&bytes);
        let ok = scanners()[0].scan(&bytes).is_ok();
        match name.as_bytes()[0] {
            b'y' => assert!(ok, "{name} must be accepted"),
            b'n' => assert!(!ok, "{name} must be rejected"),
            _ => {}
        }
        // The same file shifted across block boundaries.
        for pad in [1, 63, 64, 65] {
            let mut shifted = vec![b' '; pad];
            shifted.extend_from_slice(&bytes);
            check(&shifted);
        }
        n += 1;
    }
    assert_eq!(n, 318);
}

#[test]
fn structures_across_block_boundaries() {
    // Strings, escapes, numbers and literals placed so that they straddle
    // byte 64 (and 128, ...) at every offset.
    let pieces: &[&str] = &[
        r#""a\"b\\\\c\"""#,
        r#""\\\\\\\"""#,
        "-12.5e+3",
        "true",
        "null",
        r#"{"k\u00e9y":[1,{"x":"\ud83d\ude00"}]}"#,
        r#""a,b:c{d}[e]""#,
        "[]",
    ];
    for piece in pieces {
        for pad in 0..70 {
            for len in [1usize, 63, 64, 65, 4096] {
                let filler = "x".repeat(len.saturating_sub(2));
                let doc = format!("[{}\"{filler}\",{piece}]", " ".repeat(pad));
                check(doc.as_bytes());
            }
        }
    }
}

#[test]
fn deep_nesting_is_rejected_without_a_crash() {
    for mut s in scanners() {
        let deep = "[".repeat(100_000);
        assert!(matches!(
            s.scan(deep.as_bytes()).unwrap_err().kind,
            ErrorKind::TooDeep(128)
        ));
        let ok = format!("{}{}", "[".repeat(128), "]".repeat(128));
        assert!(s.scan(ok.as_bytes()).is_ok());
        let too = format!("{}{}", "{\"a\":".repeat(129), "}".repeat(129));
        assert!(matches!(
            s.scan(too.as_bytes()).unwrap_err().kind,
            ErrorKind::TooDeep(128)
        ));
        // Brackets inside strings do not count.
        let in_string = format!("[\"{}\"]", "[".repeat(100_000));
        assert!(s.scan(in_string.as_bytes()).is_ok());
    }
}

#[test]
fn size_limit_has_its_own_error() {
    let mut s = Scanner::new(Limits {
        max_depth: 128,
        max_bytes: 16,
    });
    assert!(s.scan(b"[1,2,3,4,5,6,7]").is_ok());
    let e = s.scan(b"[1,2,3,4,5,6,7,8]").unwrap_err();
    assert_eq!(e.kind, ErrorKind::TooLarge(16));
}

#[test]
fn errors_carry_offsets() {
    let mut s = Scanner::new(Limits::default());
    let cases: &[(&[u8], usize)] = &[
        (b"[1,]", 3),
        (b"{\"a\" 1}", 5),
        (b"[1] x", 4),
        (b"\"\\x\"", 2),
        (b"[\"a\x01\"]", 3),
        (b"\"\xff\"", 1),
        (b"[01]", 2),
        (b"tru", 0),
    ];
    for &(input, offset) in cases {
        assert_eq!(
            s.scan(input).unwrap_err().offset,
            offset,
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn a_byte_order_mark_opening_a_text_is_named() {
    // Rejected, as serde_json rejects it, but with a reason that says why.
    for backend in Backend::available() {
        let mut s = Scanner::with_backend(backend, Limits::default()).unwrap();
        let e = s.scan(b"\xEF\xBB\xBF{\"a\":1}").unwrap_err();
        assert_eq!((e.offset, e.kind), (0, ErrorKind::Syntax(BOM_REASON)));
        assert_eq!(
            e.to_string(),
            "invalid JSON at byte 0: byte order mark (U+FEFF) before the JSON text"
        );
        // Anywhere else it is a character like any other: no value starts
        // with it, and after the value it is trailing.
        for (text, offset, what) in [
            (&b" \xEF\xBB\xBF{}"[..], 1, "value expected"),
            (b"[\xEF\xBB\xBF]", 1, "value expected"),
            (
                b"{}\xEF\xBB\xBF",
                2,
                "trailing characters after the JSON value",
            ),
        ] {
            let e = s.scan(text).unwrap_err();
            assert_eq!((e.offset, e.kind), (offset, ErrorKind::Syntax(what)));
        }
    }
}

#[test]
fn the_first_control_character_in_a_string_is_the_one_reported() {
    // Control characters in strings of the same 64-byte block and of later
    // blocks: every backend reports the first, as serde_json does.
    for (first, others) in [
        (5usize, vec![9usize]),
        (5, vec![70, 200]),
        (130, vec![131, 300]),
    ] {
        let mut text = vec![b'a'; 400];
        text[0] = b'[';
        text[1] = b'"';
        text[398] = b'"';
        text[399] = b']';
        for &at in std::iter::once(&first).chain(&others) {
            text[at] = 0x01;
        }
        for backend in Backend::available() {
            let mut s = Scanner::with_backend(backend, Limits::default()).unwrap();
            let e = s.scan(&text).unwrap_err();
            assert_eq!(
                e.offset, first,
                "{backend:?}, control bytes at {first} and {others:?}"
            );
        }
        let serde = serde_json::from_slice::<serde_json::Value>(&text);
        assert!(
            serde.is_err(),
            "serde_json accepts a control byte in a string"
        );
    }
}

#[test]
fn random_ascii_gives_identical_structurals_on_every_backend() {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    // 0x0c and 0x1a share an operator's table slot in the AVX2 lookup;
    // 'J', 'K', 'L', 'M' and '|' share the slots of ':', '{', ',' and '}'.
    let alphabet = b"\"\\{}[]:, \t\n\rab01-e.tf\x01\x0c\x1aJKLM|";
    for round in 0..2000 {
        let len = (round * 7) % 300;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                alphabet[(x % alphabet.len() as u64) as usize]
            })
            .collect();
        let mut all = Vec::new();
        for mut s in scanners() {
            let verdict = s.scan(&bytes).is_ok();
            all.push((s.backend(), verdict, s.structurals().to_vec()));
        }
        for w in all.windows(2) {
            assert_eq!(
                (w[0].1, &w[0].2),
                (w[1].1, &w[1].2),
                "{:?} vs {:?} on {:?}",
                w[0].0,
                w[1].0,
                String::from_utf8_lossy(&bytes)
            );
        }
        assert_eq!(
            all[0].1,
            serde_ok(&bytes),
            "{:?}",
            String::from_utf8_lossy(&bytes)
        );
    }
}

#[test]
fn forced_backend_is_honoured() {
    // Re-runs this test binary with REDACTOR_SIMD=scalar and checks, in the
    // child, that detection picked the scalar backend.
    if std::env::var_os("REDACTOR_SCAN_CHILD").is_some() {
        assert_eq!(Backend::detect(), Backend::Scalar);
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["forced_backend_is_honoured", "--exact", "--nocapture"])
        .env("REDACTOR_SIMD", "scalar")
        .env("REDACTOR_SCAN_CHILD", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 passed"));
}

/// JSON text from a random value, with random escapes and whitespace.
fn json_text() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_string()),
        Just("true".to_string()),
        Just("false".to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        (any::<i32>(), 0u32..1000, -30i32..30).prop_map(|(a, b, e)| format!("{a}.{b}e{e}")),
        "\\PC{0,12}".prop_map(|s| serde_json::to_string(&s).unwrap()),
        "[a-z\"\\\\/]{0,10}".prop_map(|s| serde_json::to_string(&s).unwrap()),
        Just(r#""\u00e9\ud83d\ude00\/\b""#.to_string()),
    ];
    leaf.prop_recursive(6, 48, 6, |inner| {
        prop_oneof![
            (prop::collection::vec(inner.clone(), 0..6), " {0,2}")
                .prop_map(|(v, ws)| format!("[{ws}{}{ws}]", v.join(&format!("{ws},")))),
            prop::collection::vec(("[a-z$]{0,6}", inner), 0..6).prop_map(|m| {
                let members: Vec<String> = m
                    .into_iter()
                    .map(|(k, v)| format!("{}:{v}", serde_json::to_string(&k).unwrap()))
                    .collect();
                format!("{{{}}}", members.join(","))
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, .. ProptestConfig::default() })]

    #[test]
    fn valid_json_matches_serde(text in json_text(), pad in 0usize..70) {
        let doc = format!("{}{text}\n", " ".repeat(pad));
        check(doc.as_bytes());
    }

    #[test]
    fn mutated_json_matches_serde(
        text in json_text(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..6, any::<u8>()), 1..4),
    ) {
        let mut bytes = text.into_bytes();
        for (at, kind, b) in edits {
            if bytes.is_empty() { break; }
            let i = at.index(bytes.len());
            match kind {
                0 => bytes[i] = b,
                1 => bytes.truncate(i),
                2 => bytes.insert(i, b'"'),
                3 => bytes.insert(i, b'\\'),
                4 => { bytes.remove(i); }
                _ => bytes.insert(i, b),
            }
        }
        check(&bytes);
    }
}

#[test]
fn every_backend_of_this_cpu_is_tested() {
    let names: Vec<&str> = scanners().iter().map(|s| s.backend().name()).collect();
    assert!(names.contains(&"scalar"));
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("pclmulqdq")
    {
        assert!(names.contains(&"avx2"), "{names:?}");
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512bw") {
        assert!(names.contains(&"avx512"), "{names:?}");
    }
    #[cfg(target_arch = "aarch64")]
    if std::arch::is_aarch64_feature_detected!("neon") {
        assert!(names.contains(&"neon"), "{names:?}");
    }
    {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "scanner backends under test: {}",
            names.join(", ")
        );
    }
}
