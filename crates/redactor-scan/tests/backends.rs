//! Every backend this CPU runs against the scalar one, through the public
//! API: the same verdict (error kind and offset), the same structural
//! offsets and the same tape on every input.
//!
//! A plain program (`harness = false`) that runs in one thread, so that it
//! also runs under an emulator whose threads do not work: CI runs it for
//! the aarch64 NEON backend under qemu-user (`.ci/cross-aarch64`), where
//! the `#[test]` suites, which start a thread per test, cannot run. Prints
//! `N passed, 0 failed` and exits 0, or stops at the first difference.

use redactor_scan::{Backend, Limits, Node, ScanError, Scanner};

/// What a scan gave: the verdict, the structurals and the tape.
type Outcome = (Result<(), ScanError>, Vec<u32>, Vec<Node>);

fn outcome(s: &mut Scanner, input: &[u8]) -> Outcome {
    let verdict = s.scan(input).map(|tape| tape.to_vec());
    let structurals = s.structurals().to_vec();
    match verdict {
        Ok(tape) => (Ok(()), structurals, tape),
        Err(e) => (Err(e), structurals, Vec::new()),
    }
}

struct Check {
    scanners: Vec<Scanner>,
    passed: usize,
}

impl Check {
    /// Scans `input` with every backend and stops the program at the first
    /// backend that differs from the scalar one.
    fn same(&mut self, what: &str, input: &[u8]) {
        let (first, rest) = self.scanners.split_first_mut().expect("scalar backend");
        let want = outcome(first, input);
        for s in rest {
            let got = outcome(s, input);
            if got != want {
                eprintln!(
                    "{what}: backend {} differs from scalar on {:?}\n  scalar: {:?}\n  {}: {:?}",
                    s.backend().name(),
                    String::from_utf8_lossy(input),
                    want.0,
                    s.backend().name(),
                    got.0
                );
                eprintln!("1 failed");
                std::process::exit(1);
            }
        }
        self.passed += 1;
    }
}

fn main() {
    let limits = Limits {
        max_depth: 128,
        max_bytes: 64 << 20,
    };
    let scanners: Vec<Scanner> = Backend::available()
        .into_iter()
        .filter_map(|b| Scanner::with_backend(b, limits))
        .collect();
    assert_eq!(scanners[0].backend(), Backend::Scalar);
    let names: Vec<&str> = scanners.iter().map(|s| s.backend().name()).collect();
    println!("backends against scalar: {}", names.join(", "));
    #[cfg(target_arch = "aarch64")]
    assert!(names.contains(&"neon"), "NEON is not tested: {names:?}");
    let mut c = Check {
        scanners,
        passed: 0,
    };

    // Every byte value in every lane of two blocks, outside strings, inside
    // a string, and after a backslash inside a string.
    for b in 0..=255u8 {
        for lane in 0..128 {
            let mut bare = br#"{"k":[1,true,"v"]}"#.repeat(8);
            bare.truncate(128);
            bare[lane] = b;
            c.same("byte outside strings", &bare);
            let mut quoted = vec![b'a'; 130];
            quoted[0] = b'"';
            quoted[129] = b'"';
            quoted[1 + lane] = b;
            c.same("byte in a string", &quoted);
            if lane > 0 {
                quoted[lane] = b'\\';
                c.same("escaped byte in a string", &quoted);
            }
        }
    }

    // Random texts over JSON's significant bytes and a few others, of every
    // length up to 300 and around 4 KiB.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let alphabet = b"\"\\{}[]:, \t\n\rab01-e.tfnulr\x01\x0c\x1aJKLM|\xc3\xa9\xff";
    for round in 0..6000 {
        let len = if round % 10 == 9 {
            4090 + round % 13
        } else {
            round % 301
        };
        let text: Vec<u8> = (0..len)
            .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
            .collect();
        c.same("random text", &text);
    }

    // Valid JSON of random shape, shifted across block edges.
    for round in 0..3000 {
        let mut text = Vec::new();
        value(&mut text, &mut next, 0);
        let pad = round % 70;
        let mut shifted = vec![b' '; pad];
        shifted.extend_from_slice(&text);
        c.same("random JSON", &shifted);
    }

    // JSONTestSuite.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/conformance/JSONTestSuite/test_parsing");
    match std::fs::read_dir(&dir) {
        Ok(entries) => {
            for e in entries {
                let bytes = std::fs::read(e.expect("directory entry").path()).expect("readable");
                for pad in [0, 1, 63, 64, 65] {
                    let mut shifted = vec![b' '; pad];
                    shifted.extend_from_slice(&bytes);
                    c.same("JSONTestSuite", &shifted);
                }
            }
        }
        Err(_) => println!("NOTICE: ../shared not found; skipping the JSONTestSuite cases"),
    }
    println!("{} passed, 0 failed", c.passed);
}

/// Appends a random JSON value (escapes, unicode, numbers, nesting).
fn value(out: &mut Vec<u8>, next: &mut impl FnMut() -> u64, depth: usize) {
    let pick = next() % if depth > 4 { 5 } else { 7 };
    match pick {
        0 => out.extend_from_slice(b"null"),
        1 => out.extend_from_slice(if next() & 1 == 0 { b"true" } else { b"false" }),
        2 => out.extend_from_slice(format!("{}", next() as i64 >> (next() % 60)).as_bytes()),
        3 => out.extend_from_slice(
            format!("{}.{}e-{}", next() % 1000, next() % 97, next() % 9).as_bytes(),
        ),
        4 => {
            out.push(b'"');
            let pieces: [&[u8]; 8] = [
                b"a",
                b"\\n",
                b"\\\"",
                b"\\u00e9",
                b"\\ud83d\\ude00",
                "é€😀".as_bytes(),
                b" ",
                b"@x.io",
            ];
            for _ in 0..next() % 40 {
                out.extend_from_slice(pieces[(next() % 8) as usize]);
            }
            out.push(b'"');
        }
        5 => {
            out.push(b'[');
            for i in 0..next() % 6 {
                if i > 0 {
                    out.push(b',');
                }
                value(out, next, depth + 1);
            }
            out.push(b']');
        }
        _ => {
            out.push(b'{');
            for i in 0..next() % 6 {
                if i > 0 {
                    out.extend_from_slice(b" , ");
                }
                out.extend_from_slice(format!("\"k{i}\\t\":").as_bytes());
                value(out, next, depth + 1);
            }
            out.push(b'}');
        }
    }
}
