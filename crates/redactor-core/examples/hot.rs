//! Profiling harness: one engine over the mixed corpus in a loop, nothing
//! else in the process, for `perf record` or `valgrind --tool=callgrind`.
//!
//! `cargo run --release -p redactor-core --example hot -- [fast|reference|scan] [SECONDS] [POLICY]`
//! (default policy when none is given). `HOT_CORPUS=FILE` reads the corpus
//! instead of generating it (`redactor gen -n 20000 -o FILE`), keeping the
//! generator out of profiles; `HOT_PASSES=N` runs exactly N passes, so that
//! instruction counts can be compared between builds: the count of
//! `HOT_PASSES=1` minus that of `HOT_PASSES=0` is the cost of one pass.
//! Not a benchmark: `cargo bench` and `redactor bench` measure speed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use redactor_core::engine::{Redactor, Stats};
use redactor_core::fast::Fast;
use redactor_core::gen::{Format, Generator};
use redactor_core::policy::Policy;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let engine = args.get(1).map_or("fast", String::as_str);
    let secs: f64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(5.0);
    std::env::set_var("REDACTOR_TOKEN_KEY", "0123456789abcdef0123456789abcdef");
    let policy = match args.get(3) {
        Some(f) => redactor_core::policy::load_file(std::path::Path::new(f)).unwrap(),
        None => Policy::builtin().unwrap(),
    };
    let policy = Arc::new(policy);
    let e: Box<dyn Redactor> = match engine {
        "reference" => Box::new(redactor_core::engine::Reference::new(policy.clone())),
        _ => Box::new(Fast::new(policy.clone())),
    };
    // HOT_CORPUS=FILE reads the corpus (keeps the generator out of profiles).
    let bytes = match std::env::var("HOT_CORPUS") {
        Ok(f) => std::fs::read(f).unwrap(),
        Err(_) => {
            let mut bytes = Vec::new();
            Generator::new(Format::Mixed, 1)
                .write_ndjson(20_000, &mut bytes)
                .unwrap();
            bytes
        }
    };
    let lines: Vec<&[u8]> = bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    if let Ok(n) = std::env::var("HOT_THREADS") {
        let n: usize = n.parse().unwrap();
        let e: &dyn Redactor = &*e;
        let lines = &lines;
        let policy = &policy;
        std::thread::scope(|s| {
            for _ in 0..n {
                s.spawn(move || {
                    let mut out = Vec::new();
                    let mut stats = Stats::new(policy);
                    let start = Instant::now();
                    let mut done = 0u64;
                    while start.elapsed() < Duration::from_secs_f64(secs) {
                        for l in lines {
                            out.clear();
                            let _ = e.process(l, &mut out, &mut stats, None);
                            done += l.len() as u64;
                        }
                    }
                    println!(
                        "thread: {:.1} MB/s",
                        done as f64 / start.elapsed().as_secs_f64() / 1e6
                    );
                });
            }
        });
        return;
    }
    let mut out = Vec::new();
    let mut stats = Stats::new(&policy);
    let mut scanner = redactor_scan::Scanner::new(redactor_scan::Limits::default());
    let start = Instant::now();
    let mut done = 0u64;
    // HOT_PASSES=N runs exactly N passes (for instruction counting).
    let passes: Option<u64> = std::env::var("HOT_PASSES")
        .ok()
        .and_then(|s| s.parse().ok());
    while passes.map_or(start.elapsed() < Duration::from_secs_f64(secs), |n| {
        done < n * bytes.len() as u64
    }) {
        for l in &lines {
            out.clear();
            if engine == "scan" {
                // The scanner alone (validation and tape).
                let _ = std::hint::black_box(scanner.scan(l).map(<[_]>::len));
            } else {
                let _ = e.process(l, &mut out, &mut stats, None);
            }
        }
        done += bytes.len() as u64;
    }
    let t = start.elapsed().as_secs_f64();
    println!("{engine}: {:.1} MB/s", done as f64 / t / 1e6);
}
