//! Baseline figures: the reference (DOM) engine and the `filter` command on
//! `redactor gen --format mixed` output, against a plain copy (the physical
//! floor) and a `serde_json` parse + serialise round trip of the same lines,
//! all with `Throughput::Bytes`, measured in one run; and the cost of one
//! keyed token (`tokens`, per token), the default policy's costliest action.
//!
//! Run: `cargo bench --bench reference`. Every measured path checks its
//! output on the corpus before it is timed.

use std::hint::black_box;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use redactor_core::gen::{Format, Generator};
use redactor_core::{Fast, Policy, Redactor, Reference, Stats};

const KEY_ENV: &str = "REDACTOR_TOKEN_KEY";
const KEY: &str = "bench-key-0123456789abcdef";

struct Corpus {
    bytes: Vec<u8>,
    lines: Vec<(usize, usize)>,
}

fn corpus(events: u64) -> Corpus {
    let mut g = Generator::new(Format::Mixed, 1);
    let mut bytes = Vec::new();
    g.write_ndjson(events, &mut bytes).unwrap();
    let mut lines = Vec::new();
    let mut start = 0;
    for i in memchr::memchr_iter(b'\n', &bytes) {
        lines.push((start, i));
        start = i + 1;
    }
    Corpus { bytes, lines }
}

fn policy(src: Option<&str>) -> Arc<Policy> {
    std::env::set_var(KEY_ENV, KEY);
    Arc::new(match src {
        None => Policy::builtin().unwrap(),
        Some(s) => Policy::from_toml(
            &format!("{s}\n[[keys]]\nid = \"bench\"\nenv = \"{KEY_ENV}\"\n"),
            "bench",
        )
        .unwrap(),
    })
}

fn run_engine(e: &dyn Redactor, c: &Corpus, out: &mut Vec<u8>, stats: &mut Stats) -> usize {
    let mut line_out = Vec::new();
    out.clear();
    for &(s, t) in &c.lines {
        e.redact(&c.bytes[s..t], &mut line_out, stats).unwrap();
        out.extend_from_slice(&line_out);
        out.push(b'\n');
    }
    out.len()
}

/// Checks a redacted corpus: one valid JSON text per input line and no
/// generated email address left.
fn check(c: &Corpus, out: &[u8], expect_redacted: bool) {
    let text = std::str::from_utf8(out).unwrap();
    assert_eq!(text.lines().count(), c.lines.len());
    for l in text.lines().take(500) {
        serde_json::from_str::<serde_json::Value>(l).unwrap();
    }
    if expect_redacted {
        assert!(!text.contains("@example."), "an email survived");
    }
}

fn benches(cr: &mut Criterion) {
    let c = corpus(5_000);
    let mut g = cr.benchmark_group("mixed");
    g.throughput(Throughput::Bytes(c.bytes.len() as u64));
    g.sample_size(10);

    g.bench_function("copy (floor)", |b| {
        let mut out = Vec::with_capacity(c.bytes.len());
        b.iter(|| {
            out.clear();
            for &(s, t) in &c.lines {
                out.extend_from_slice(&c.bytes[s..t]);
                out.push(b'\n');
            }
            black_box(out.len())
        })
    });

    g.bench_function("serde_json Value round trip (no redaction)", |b| {
        let mut out = Vec::with_capacity(c.bytes.len());
        b.iter(|| {
            out.clear();
            for &(s, t) in &c.lines {
                let v: serde_json::Value = serde_json::from_slice(&c.bytes[s..t]).unwrap();
                serde_json::to_writer(&mut out, &v).unwrap();
                out.push(b'\n');
            }
            black_box(out.len())
        })
    });

    // What a developer would write by hand: simd-json parse, mutate with the
    // same policy (the same cached selectors and detectors), serialise.
    // Checked against the reference first.
    {
        let p = policy(None);
        let baseline = redactor_core::baseline::SimdJsonRoundTrip::new(p.clone());
        let reference = Reference::new(p.clone());
        let (mut a, mut bo, mut scratch) = (Vec::new(), Vec::new(), Vec::new());
        let mut stats = Stats::new(&p);
        for &(s, t) in &c.lines {
            let line = &c.bytes[s..t];
            reference.redact(line, &mut a, &mut stats).unwrap();
            baseline
                .redact(line, &mut scratch, &mut bo, &mut stats)
                .unwrap();
            assert!(
                redactor_core::baseline::same_value(&a, &bo),
                "baseline differs from the reference"
            );
        }
        g.bench_function("simd-json round trip, default policy", |b| {
            let mut out = Vec::with_capacity(c.bytes.len());
            b.iter(|| {
                out.clear();
                for &(s, t) in &c.lines {
                    baseline
                        .redact(&c.bytes[s..t], &mut scratch, &mut bo, &mut stats)
                        .unwrap();
                    out.extend_from_slice(&bo);
                    out.push(b'\n');
                }
                black_box(out.len())
            })
        });
    }

    // Each preset alone (detectors off), fast engine: the cost per preset.
    for preset in redactor_core::presets::NAMES {
        let p = policy(Some(&format!(
            "presets = [\"{preset}\"]\ndetectors = \"off\""
        )));
        let e = Fast::new(p.clone());
        let mut out = Vec::new();
        let mut stats = Stats::new(&p);
        run_engine(&e, &c, &mut out, &mut stats);
        check(&c, &out, false);
        g.bench_function(format!("fast, preset {preset} alone"), |b| {
            b.iter(|| black_box(run_engine(&e, &c, &mut out, &mut stats)))
        });
    }

    for (name, src, redacts) in [
        ("default policy", None, true),
        (
            "presets only (detectors off)",
            Some("presets = \"all\"\ndetectors = \"off\""),
            false,
        ),
        ("detectors only (no presets)", Some(""), true),
        (
            "allowlist with all presets",
            Some("mode = \"allowlist\"\npresets = \"all\""),
            true,
        ),
    ] {
        let p = policy(src);
        let engines: [(&str, Box<dyn Redactor>); 2] = [
            ("fast", Box::new(Fast::new(p.clone()))),
            ("reference", Box::new(Reference::new(p.clone()))),
        ];
        for (ename, e) in engines {
            let mut out = Vec::new();
            let mut stats = Stats::new(&p);
            run_engine(e.as_ref(), &c, &mut out, &mut stats);
            check(&c, &out, redacts);
            g.bench_function(format!("{ename}, {name}"), |b| {
                b.iter(|| black_box(run_engine(e.as_ref(), &c, &mut out, &mut stats)))
            });
        }
    }

    // The filter command end to end (file in, file out), one and two threads.
    let dir = std::env::temp_dir().join(format!("redactor-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("in.ndjson");
    let output = dir.join("out.ndjson");
    std::fs::File::create(&input)
        .unwrap()
        .write_all(&c.bytes)
        .unwrap();
    for threads in ["1", "2"] {
        let run = || {
            let st = Command::new(env!("CARGO_BIN_EXE_redactor"))
                .args([
                    "filter",
                    "--threads",
                    threads,
                    "-o",
                    output.to_str().unwrap(),
                    input.to_str().unwrap(),
                ])
                .env(KEY_ENV, KEY)
                .stderr(Stdio::null())
                .status()
                .unwrap();
            assert!(st.success());
        };
        run();
        check(&c, &std::fs::read(&output).unwrap(), true);
        g.bench_function(
            format!("filter command, {threads} thread(s), file to file"),
            |b| b.iter_batched(|| (), |()| run(), BatchSize::PerIteration),
        );
    }
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

/// One long line dense with matches of every kind (a 1 MB log message or
/// a pasted list), against a copy: the detectors' cost per match must not
/// grow with the number of matches before it.
fn long_text(cr: &mut Criterion) {
    let piece = "+44 20 7946 0958 a@b.example 4111 1111 1111 1111 198.51.100.7 ";
    let note = piece.repeat(1_000_000 / piece.len());
    let line = serde_json::to_vec(&serde_json::json!({ "note": note })).unwrap();
    let p = policy(None);
    let fast = Fast::new(p.clone());
    let mut out = Vec::new();
    let mut stats = Stats::new(&p);
    fast.redact(&line, &mut out, &mut stats).unwrap();
    let text = std::str::from_utf8(&out).unwrap();
    assert!(!text.contains("a@b.example") && !text.contains("198.51.100.7"));
    let mut g = cr.benchmark_group("long text");
    g.throughput(Throughput::Bytes(line.len() as u64));
    g.sample_size(10);
    g.bench_function("copy (floor)", |b| {
        b.iter(|| {
            out.clear();
            out.extend_from_slice(black_box(&line));
            out.len()
        })
    });
    g.bench_function("fast engine, default policy, 1 MB of matches", |b| {
        b.iter(|| {
            fast.redact(black_box(&line), &mut out, &mut stats).unwrap();
            out.len()
        })
    });
    g.finish();
}

/// Events whose keys are ids (experiment and cart maps): every key new to
/// the selector cache (fresh events for each iteration, made outside the
/// timing), against events with the same number of keys that repeat.
fn ids_as_keys(cr: &mut Criterion) {
    // Keys never seen before: a counter is enough.
    let mut next_id = 0u32;
    let event = |keys: &mut dyn FnMut(usize) -> String| {
        let props: serde_json::Map<String, serde_json::Value> =
            (0..20).map(|k| (keys(k), "variant_a".into())).collect();
        serde_json::to_vec(&serde_json::json!({ "event": "x", "properties": props })).unwrap()
    };
    const EVENTS: usize = 2_000;
    let repeated: Vec<Vec<u8>> = (0..EVENTS)
        .map(|_| event(&mut |k| format!("exp_{k:08x}")))
        .collect();
    let fast = Fast::new(policy(None));
    let mut stats = Stats::new(fast.policy());
    let mut out = Vec::new();
    let mut g = cr.benchmark_group("ids as keys");
    g.sample_size(10);
    // Both kinds of event have the same length.
    g.throughput(Throughput::Bytes(
        repeated.iter().map(|l| l.len() as u64).sum(),
    ));
    g.bench_function("fast engine, default policy, new keys", |b| {
        b.iter_batched(
            || {
                (0..EVENTS)
                    .map(|_| {
                        event(&mut |_| {
                            next_id = next_id.wrapping_add(1);
                            format!("exp_{next_id:08x}")
                        })
                    })
                    .collect::<Vec<_>>()
            },
            |lines| {
                for l in &lines {
                    fast.redact(l, &mut out, &mut stats).unwrap();
                }
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("fast engine, default policy, repeated keys", |b| {
        b.iter(|| {
            for l in &repeated {
                fast.redact(l, &mut out, &mut stats).unwrap();
            }
        })
    });
    g.finish();
}

/// One keyed token of an id (the default policy's `tokenize` action on a
/// value): made afresh, for a new id each time (the per-thread memo
/// misses: one HMAC-SHA256, two SHA-256 compressions; the id's formatting
/// is timed with it), and for an id that recurs (the memo hits). Before
/// they are timed, tokens made afresh and from the memo are checked
/// against the HMAC they encode.
fn tokens(cr: &mut Criterion) {
    use redactor_core::actions::{Normalize, Shape, Tokenize};
    use redactor_core::keys::Key;
    use std::fmt::Write as _;
    let tokenize = Tokenize {
        key: Arc::new(Key::from_bytes("bench", KEY.as_bytes())),
        normalize: Normalize::None,
        shape: Shape::Opaque,
        bytes: 16,
        keep_prefixes: Vec::new(),
    };
    // `tok_<key id>_`, then the unpadded URL-safe base64 of the first 16
    // bytes of the id's HMAC-SHA256.
    let check = |id: &str| {
        use base64::Engine as _;
        let mac = redactor_core::actions::hmac(KEY.as_bytes(), id.as_bytes());
        let expected = format!(
            "tok_bench_{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&mac[..16])
        );
        for _ in 0..2 {
            let mut token = String::new();
            tokenize.token_into(id, &mut token);
            assert_eq!(token, expected);
        }
    };
    check("u_1");
    check("u_12345");
    let mut g = cr.benchmark_group("tokens");
    g.throughput(Throughput::Elements(1));
    let mut out = String::new();
    let mut id = String::new();
    let mut n = 0u64;
    g.bench_function("token of a new id each time (HMAC-SHA256)", |b| {
        b.iter(|| {
            n += 1;
            id.clear();
            let _ = write!(id, "u_{n}");
            out.clear();
            tokenize.token_into(&id, &mut out);
            black_box(out.len())
        })
    });
    g.bench_function("token of a recurring id (memo)", |b| {
        b.iter(|| {
            out.clear();
            tokenize.token_into(black_box("u_12345"), &mut out);
            black_box(out.len())
        })
    });
    g.finish();
}

criterion_group!(reference, benches, long_text, ids_as_keys, tokens);
criterion_main!(reference);
