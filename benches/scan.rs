//! The scanner (each backend) against `serde_json::from_slice::<IgnoredAny>`
//! and simd-json (tape and borrowed value) on the same bytes, with
//! `Throughput::Bytes`, in one run:
//!
//! - `telemetry`: `redactor gen --format mixed --count 20000 --seed 1`, line by line;
//! - `twitter`: the statuses of `shared/data/json-benchmark/twitter.json`, one compact line each;
//! - `citm`: `shared/data/json-benchmark/citm_catalog.json` as one text.
//!
//! Every contender is checked to accept every line before it is timed. The
//! parsers are called through `redactor_core::baseline::Validators`, as in
//! the scanner rows of `redactor bench`.
//!
//! A `census` group measures the byte census that the detectors' prefilters
//! take of every string value (`redactor_scan::census`) over the string
//! values of the telemetry corpus: as the engine calls it (the backend in
//! use), and on each backend through `census_on`.
//!
//! Run: `cargo bench --bench scan`. `REDACTOR_SIMD` only chooses the
//! backend of the census's "in use" row; every other row names its backend.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use redactor_core::baseline::Validators;
use redactor_core::gen::{Format, Generator};
use redactor_scan::{Backend, Limits, Scanner};

fn lines_of(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

fn corpora() -> Vec<(&'static str, Vec<Vec<u8>>)> {
    let mut out = Vec::new();
    let mut g = Generator::new(Format::Mixed, 1);
    let mut bytes = Vec::new();
    g.write_ndjson(20_000, &mut bytes).unwrap();
    out.push(("telemetry", lines_of(&bytes)));
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/json-benchmark");
    match (std::fs::read(dir.join("twitter.json")), std::fs::read(dir.join("citm_catalog.json"))) {
        (Ok(twitter), Ok(citm)) => {
            let v: serde_json::Value = serde_json::from_slice(&twitter).unwrap();
            let statuses = v["statuses"].as_array().unwrap().iter().map(|s| serde_json::to_vec(s).unwrap()).collect();
            out.push(("twitter", statuses));
            out.push(("citm", vec![citm]));
        }
        _ => eprintln!("NOTICE: ../shared/data/json-benchmark not found; benchmarking the telemetry corpus only"),
    }
    out
}

fn benches(c: &mut Criterion) {
    let limits = Limits {
        max_depth: 128,
        max_bytes: 64 << 20,
    };
    for (name, lines) in corpora() {
        let total: usize = lines.iter().map(Vec::len).sum();
        let mut g = c.benchmark_group(name);
        g.throughput(Throughput::Bytes(total as u64));
        g.sample_size(20);
        for backend in Backend::available() {
            let mut s = Scanner::with_backend(backend, limits).unwrap();
            for l in &lines {
                assert!(s.scan(l).is_ok(), "{name}: the scanner rejected a line");
            }
            g.bench_function(format!("redactor-scan {}", backend.name()), |b| {
                b.iter(|| {
                    let mut nodes = 0;
                    for l in &lines {
                        nodes += s.scan(l).map(|t| t.len()).unwrap_or(0);
                    }
                    black_box(nodes)
                })
            });
        }
        let mut v = Validators::default();
        for l in &lines {
            assert!(
                Validators::serde_json_ignored(l),
                "{name}: serde_json rejected a line"
            );
            assert!(
                v.simd_json_tape(l).is_some(),
                "{name}: simd-json rejected a line"
            );
            assert!(v.simd_json_borrowed(l), "{name}: simd-json rejected a line");
        }
        g.bench_function("serde_json IgnoredAny", |b| {
            b.iter(|| {
                for l in &lines {
                    black_box(Validators::serde_json_ignored(l));
                }
            })
        });
        g.bench_function("simd-json tape (copy + parse)", |b| {
            b.iter(|| {
                for l in &lines {
                    black_box(v.simd_json_tape(l).unwrap_or(0));
                }
            })
        });
        g.bench_function("simd-json borrowed value (copy + parse)", |b| {
            b.iter(|| {
                for l in &lines {
                    black_box(v.simd_json_borrowed(l));
                }
            })
        });
        g.finish();
    }
    census(c, limits);
}

/// The byte census of each backend over every string value (keys left out)
/// of the telemetry corpus.
fn census(c: &mut Criterion, limits: Limits) {
    let mut bytes = Vec::new();
    Generator::new(Format::Mixed, 1)
        .write_ndjson(20_000, &mut bytes)
        .unwrap();
    let mut s = Scanner::new(limits);
    // The values back to back, as they lie in the lines.
    let (mut text, mut spans) = (Vec::new(), Vec::new());
    for l in lines_of(&bytes) {
        let tape = s.scan(&l).unwrap();
        for n in tape
            .iter()
            .filter(|n| n.kind == redactor_scan::Kind::String)
        {
            let at = text.len();
            text.extend_from_slice(&l[n.span()]);
            spans.push(at..text.len());
        }
    }
    let total = text.len();
    let mut g = c.benchmark_group("census");
    g.throughput(Throughput::Bytes(total as u64));
    g.sample_size(20);
    g.bench_function(
        format!("census in use ({})", Backend::detect().name()),
        |b| b.iter(|| black_box(digits_of(&text, &spans, redactor_scan::census::census))),
    );
    for backend in Backend::available() {
        g.bench_function(format!("census {}", backend.name()), |b| {
            b.iter(|| {
                black_box(digits_of(&text, &spans, |t| {
                    redactor_scan::census::census_on(backend, t)
                }))
            })
        });
    }
    g.finish();
}

/// The digits that `census` counts over the `spans` of `text`, one call per
/// span (generic, so each row's census is called directly).
#[inline(always)]
fn digits_of(
    text: &[u8],
    spans: &[std::ops::Range<usize>],
    census: impl Fn(&[u8]) -> redactor_scan::census::Census,
) -> usize {
    spans.iter().map(|r| census(&text[r.clone()]).digits).sum()
}

criterion_group!(scan, benches);
criterion_main!(scan);
