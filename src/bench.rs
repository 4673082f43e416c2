//! `redactor bench`: in-memory throughput of the engines against the
//! physical floor and the baselines, measured interleaved and repeated in
//! one run, each engine's output checked before timing.

use std::cell::RefCell;
use std::fs::File;
use std::hint::black_box;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context as _, Result};
use redactor_core::baseline::{same_value, SimdJsonRoundTrip, Validators};
use redactor_core::gen::{Format, Generator};
use redactor_core::{Fast, Policy, Redactor, Reference, Stats};

/// What to measure.
#[derive(Debug, Clone)]
pub struct Options {
    /// Events per generated corpus.
    pub events: u64,
    /// Rounds (each runs every measurement once).
    pub rounds: usize,
    /// Highest thread count of the scaling curve.
    pub max_threads: usize,
    /// The user's policy file (the built-in default policy when `None`).
    pub policy: Option<PathBuf>,
    /// The user's NDJSON input instead of generated corpora (`-`: stdin).
    pub input: Option<PathBuf>,
    /// Generator seed.
    pub seed: u64,
    /// Set by a signal (see [`crate::filter::stop_on_signals`]): the run
    /// ends with [`Interrupted`] before its next measurement.
    pub stop: Option<Arc<AtomicUsize>>,
}

/// The error of a run stopped by a signal: nothing is reported, and the
/// temporary files are removed on the way out.
#[derive(Debug)]
pub struct Interrupted {
    /// The signal.
    pub signal: usize,
}

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "stopped by {} before the measuring ended: nothing is reported, and the temporary files are removed",
            crate::filter::signal_name(self.signal)
        )
    }
}

impl std::error::Error for Interrupted {}

/// Ends the run with [`Interrupted`] when a stop was asked for.
fn check_stop(o: &Options) -> Result<()> {
    match crate::filter::stop_requested(o.stop.as_ref()) {
        0 => Ok(()),
        signal => Err(Interrupted { signal }.into()),
    }
}

/// A corpus of lines.
struct Corpus {
    name: String,
    bytes: Vec<u8>,
    lines: Vec<(usize, usize)>,
}

impl Corpus {
    fn new(name: String, bytes: Vec<u8>) -> Corpus {
        let mut lines = Vec::new();
        let mut start = 0;
        for i in memchr::memchr_iter(b'\n', &bytes) {
            let end = if i > start && bytes[i - 1] == b'\r' {
                i - 1
            } else {
                i
            };
            if end > start {
                lines.push((start, end));
            }
            start = i + 1;
        }
        if start < bytes.len() {
            lines.push((start, bytes.len()));
        }
        Corpus { name, bytes, lines }
    }

    fn line(&self, i: usize) -> &[u8] {
        let (s, e) = self.lines[i];
        &self.bytes[s..e]
    }

    fn payload_bytes(&self) -> usize {
        self.lines.iter().map(|(s, e)| e - s).sum()
    }
}

/// One measured row.
#[derive(Debug, Clone)]
pub struct Row {
    /// What was measured.
    pub name: String,
    /// Corpus it ran on.
    pub corpus: String,
    /// Group: `floor`, `baseline`, `engine`, `threads`, `format`.
    pub group: &'static str,
    /// Threads used.
    pub threads: usize,
    /// Seconds per round.
    pub secs: Vec<f64>,
    /// Payload bytes per round.
    pub bytes: usize,
    /// Events per round.
    pub events: usize,
}

/// The median of sorted values: of an even count, the mean of the middle
/// two (0 for none).
fn median(sorted: &[f64]) -> f64 {
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

impl Row {
    fn sorted(&self) -> Vec<f64> {
        let mut v = self.secs.clone();
        v.sort_by(f64::total_cmp);
        v
    }

    /// MB/s (10^6 bytes per second) of a round that took `secs`.
    fn mb_in(&self, secs: f64) -> f64 {
        self.bytes as f64 / 1e6 / secs.max(1e-12)
    }

    /// Median MB/s.
    pub fn mb_per_sec(&self) -> f64 {
        let mut v: Vec<f64> = self.secs.iter().map(|&s| self.mb_in(s)).collect();
        v.sort_by(f64::total_cmp);
        median(&v)
    }

    /// Slowest and fastest round, in MB/s.
    pub fn spread(&self) -> (f64, f64) {
        let v = self.sorted();
        (self.mb_in(v[v.len() - 1]), self.mb_in(v[0]))
    }

    /// How many times faster than `base` this row ran: the median over the
    /// rounds of the ratio within each round. Rows of one round run within
    /// seconds of each other, so a machine whose speed drifts from round
    /// to round moves both sides of each ratio alike.
    pub fn ratio_to(&self, base: &Row) -> f64 {
        self.ratios_to(base).1
    }

    /// The lowest, median and highest of this row's speed over `base`'s
    /// within one round, over the rounds both ran (all 0 when none): the
    /// median is [`Row::ratio_to`], the ends show how far the host's pace
    /// moved it from round to round.
    pub fn ratios_to(&self, base: &Row) -> (f64, f64, f64) {
        let n = self.secs.len().min(base.secs.len());
        let mut v: Vec<f64> = (0..n)
            .map(|k| self.mb_in(self.secs[k]) / base.mb_in(base.secs[k]))
            .collect();
        v.sort_by(f64::total_cmp);
        match (v.first(), v.last()) {
            (Some(&lo), Some(&hi)) => (lo, median(&v), hi),
            _ => (0.0, 0.0, 0.0),
        }
    }

    /// Median events per second.
    pub fn events_per_sec(&self) -> f64 {
        self.mb_per_sec() * 1e6 / self.bytes.max(1) as f64 * self.events as f64
    }
}

/// Everything measured.
#[derive(Debug, Clone)]
pub struct Report {
    /// Options used.
    pub options: Options,
    /// Rows in table order.
    pub rows: Vec<Row>,
    /// CPU description.
    pub cpu: String,
    /// SIMD backend of the scanner.
    pub simd: &'static str,
}

type Job<'a> = Box<dyn FnMut() -> usize + 'a>;

/// Passes over the corpus per timing of a scanner row.
const SCAN_PASSES: usize = 5;
/// The scanner rows' names.
const SCANNER_ROW: &str = "scanner (validate + structural walk)";
const SERDE_ROW: &str = "serde_json IgnoredAny (validate)";
const TAPE_ROW: &str = "simd-json tape (copy + parse)";

/// `per_line` over every line of `c`, [`SCAN_PASSES`] times: the sum of
/// what it returns.
fn scan_passes(c: &Corpus, mut per_line: impl FnMut(&[u8]) -> usize) -> usize {
    let mut sum = 0;
    for _ in 0..SCAN_PASSES {
        for i in 0..c.lines.len() {
            sum += per_line(c.line(i));
        }
    }
    sum
}

fn engine_run(e: &dyn Redactor, c: &Corpus, out: &mut Vec<u8>, stats: &mut Stats) -> usize {
    redact_lines(e, &c.bytes, &c.lines, out, stats)
}

/// Redacts the `lines` (spans of `bytes`) into `out`, cleared first, one
/// output line each: the loop of every engine row, on one thread or on
/// each of several. Returns the bytes written.
fn redact_lines<R: Redactor + ?Sized>(
    e: &R,
    bytes: &[u8],
    lines: &[(usize, usize)],
    out: &mut Vec<u8>,
    stats: &mut Stats,
) -> usize {
    out.clear();
    for &(a, b) in lines {
        // Rejected lines would be quarantined; the bench counts them as work
        // done. Each line's output goes straight after the ones before, as
        // in `redactor filter`'s workers.
        if e.redact_append(&bytes[a..b], out, stats).is_ok() {
            out.push(b'\n');
        }
    }
    out.len()
}

/// The job of an engine row: [`engine_run`] over `c` into the first of
/// the shared output buffers, with counters of its own.
fn engine_job<'a>(e: &'a dyn Redactor, c: &'a Corpus, outs: &'a RefCell<Vec<Vec<u8>>>) -> Job<'a> {
    let mut st = Stats::default();
    Box::new(move || engine_run(e, c, &mut outs.borrow_mut()[0], &mut st))
}

/// Fast engine over one thread per buffer of `outs` (each cleared first),
/// lines split in contiguous chunks.
///
/// # Errors
///
/// A thread the system will not start.
fn threaded_run(e: &Fast, c: &Corpus, outs: &mut [Vec<u8>]) -> io::Result<usize> {
    let chunk = c.lines.len().div_ceil(outs.len().max(1)).max(1);
    std::thread::scope(|s| {
        let handles = c
            .lines
            .chunks(chunk)
            .zip(outs.iter_mut())
            .map(|(part, slot)| {
                std::thread::Builder::new().spawn_scoped(s, move || {
                    // Taken out while the thread writes: the buffers'
                    // lengths share a cache line in `outs`, which every
                    // append would bounce between the threads (two
                    // threads ran 9-11% slower so in `hot`).
                    let mut out = std::mem::take(slot);
                    let n = redact_lines(e, &c.bytes, part, &mut out, &mut Stats::default());
                    *slot = out;
                    n
                })
            })
            .collect::<io::Result<Vec<_>>>()?;
        Ok(handles.into_iter().map(|h| h.join().unwrap_or(0)).sum())
    })
}

/// Checks an engine against the reference on the first `n` lines: the same
/// verdicts and, for accepted lines, the same value.
fn verify(
    name: &str,
    c: &Corpus,
    reference: &Reference,
    redact: &mut dyn FnMut(&[u8], &mut Vec<u8>) -> bool,
) -> Result<()> {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let mut stats = Stats::default();
    for i in 0..c.lines.len().min(2000) {
        let line = c.line(i);
        let ok_ref = reference.redact(line, &mut a, &mut stats).is_ok();
        let ok = redact(line, &mut b);
        if ok_ref != ok {
            bail!("{name}: line {} of {} accepted by one and rejected by the reference or the other way round", i + 1, c.name);
        }
        if ok && !same_value(&a, &b) {
            bail!(
                "{name}: output of line {} of {} differs from the reference engine's",
                i + 1,
                c.name
            );
        }
    }
    Ok(())
}

/// Below this size (the corpus's bytes), `run` warns that the figures are
/// not steady throughput.
const SMALL_CORPUS_BYTES: usize = 10_000_000;

fn variant(src: &str) -> Result<Arc<Policy>> {
    Ok(Arc::new(
        Policy::from_toml(src, "bench").map_err(|e| anyhow::anyhow!("{e}"))?,
    ))
}

/// Runs the benchmark; `progress` gets one line per step.
///
/// # Errors
///
/// When the input or policy cannot be read, or an engine's output differs
/// from the reference.
pub fn run(o: &Options, policy: Arc<Policy>, mut progress: impl FnMut(&str)) -> Result<Report> {
    if o.rounds == 0 || o.max_threads == 0 {
        bail!("--rounds and --threads must be at least 1");
    }
    // Corpora.
    let main = match &o.input {
        Some(p) => read_input(p)?,
        None => gen_corpus(Format::Mixed, o.events, o.seed),
    };
    if main.lines.is_empty() {
        bail!("the corpus {} has no lines", main.name);
    }
    progress(&format!(
        "corpus {}: {} events, {:.1} MB",
        main.name,
        main.lines.len(),
        main.payload_bytes() as f64 / 1e6
    ));
    if main.payload_bytes() < SMALL_CORPUS_BYTES {
        progress(&format!(
            "warning: a round passes over the corpus once, and under {} MB fixed costs \
             (starting threads, creating files) weigh on the figures, most on the thread and \
             filter rows; the generated corpus is about 20 MB at the default --events",
            SMALL_CORPUS_BYTES / 1_000_000
        ));
    }
    let formats: Vec<Corpus> = if o.input.is_none() {
        Format::ALL
            .iter()
            .filter(|f| **f != Format::Mixed)
            .map(|f| gen_corpus(*f, o.events, o.seed))
            .collect()
    } else {
        Vec::new()
    };

    let reference = Reference::new(policy.clone());
    let fast = Fast::new(policy.clone());
    let baseline = SimdJsonRoundTrip::new(policy.clone());
    // Policy variants of the default policy (only without --policy).
    let mut variants: Vec<(String, Arc<Policy>)> = Vec::new();
    if o.policy.is_none() {
        for preset in redactor_core::presets::NAMES {
            variants.push((
                format!("fast, preset {preset} alone"),
                variant(&format!("presets = [\"{preset}\"]\ndetectors = \"off\""))?,
            ));
        }
        variants.push((
            "fast, all presets, detectors off".into(),
            variant("presets = \"all\"\ndetectors = \"off\"")?,
        ));
        variants.push(("fast, detectors only".into(), variant("")?));
        variants.push((
            "fast, allowlist mode (all presets)".into(),
            variant("mode = \"allowlist\"\npresets = \"all\"")?,
        ));
    }

    // Check every engine before timing.
    let mut scratch = Vec::new();
    verify("fast engine", &main, &reference, &mut |l, out| {
        fast.redact(l, out, &mut Stats::default()).is_ok()
    })?;
    verify("simd-json round trip", &main, &reference, &mut |l, out| {
        baseline
            .redact(l, &mut scratch, out, &mut Stats::default())
            .is_ok()
    })?;
    for (name, p) in &variants {
        let (f, r) = (Fast::new(p.clone()), Reference::new(p.clone()));
        verify(name, &main, &r, &mut |l, out| {
            f.redact(l, out, &mut Stats::default()).is_ok()
        })?;
    }
    for c in &formats {
        verify("fast engine", c, &reference, &mut |l, out| {
            fast.redact(l, out, &mut Stats::default()).is_ok()
        })?;
    }
    progress("outputs checked against the reference engine");
    check_stop(o)?;

    // Why a thread or filter row's run failed: a job returns a number, so
    // it returns usize::MAX and leaves the reason here for the report.
    let failure: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);
    let failure = &failure;
    let fail = move |why: String| {
        if let Ok(mut f) = failure.lock() {
            f.get_or_insert(why);
        }
        usize::MAX
    };
    // The corpus as a file, for the end-to-end rows.
    let files = TempFiles::new()?;
    std::fs::write(&files.input, &main.bytes)
        .with_context(|| format!("cannot write {}", files.input.display()))?;

    // Jobs, run interleaved.
    let variant_engines: Vec<(String, Fast)> = variants
        .iter()
        .map(|(n, p)| (n.clone(), Fast::new(p.clone())))
        .collect();
    // The engine rows' output buffers, one per thread, shared by all of
    // them (the jobs run one at a time): each row writes into memory that
    // the rows before it touched, as `redactor filter`'s workers write
    // into their recycled buffers. With a new buffer per row and round,
    // the rows on spawned threads paid the page faults of fresh memory in
    // every round (the main thread's rows reused what the allocator kept):
    // 42 000 more faults in three rounds, and the one-thread row ran about
    // 14% below the default-policy row, which measures the same engine on
    // the same lines.
    let outs: RefCell<Vec<Vec<u8>>> = RefCell::new(vec![Vec::new(); o.max_threads.max(1)]);
    let outs = &outs;
    let mut rows: Vec<Row> = Vec::new();
    let mut jobs: Vec<Job<'_>> = Vec::new();
    let add = |rows: &mut Vec<Row>,
               name: String,
               corpus: &Corpus,
               group: &'static str,
               threads: usize| {
        rows.push(Row {
            name,
            corpus: corpus.name.clone(),
            group,
            threads,
            secs: Vec::new(),
            bytes: corpus.payload_bytes(),
            events: corpus.lines.len(),
        });
    };

    let m = &main;
    add(&mut rows, "copy (floor)".into(), m, "floor", 1);
    jobs.push(Box::new(move || {
        let mut out = Vec::with_capacity(m.bytes.len());
        for i in 0..m.lines.len() {
            out.extend_from_slice(m.line(i));
            out.push(b'\n');
        }
        black_box(out.len())
    }));
    add(&mut rows, "line split (memchr)".into(), m, "floor", 1);
    jobs.push(Box::new(move || {
        black_box(memchr::memchr_iter(b'\n', &m.bytes).count())
    }));

    // The scanner alone against validating parsers (issue targets: 5x
    // serde_json, 2x simd-json), on the same lines, when all of them accept
    // every line. Each job makes SCAN_PASSES passes, so that one timing is
    // not a handful of milliseconds.
    let scan_ok = {
        let mut scanner = redactor_scan::Scanner::new(redactor_scan::Limits::default());
        let mut v = Validators::default();
        (0..m.lines.len()).all(|i| {
            let l = m.line(i);
            scanner.scan(l).is_ok()
                && v.simd_json_tape(l).is_some()
                && Validators::serde_json_ignored(l)
        })
    };
    if scan_ok {
        let add_scan = |rows: &mut Vec<Row>, name: &str| {
            add(rows, name.into(), m, "scanner", 1);
            if let Some(row) = rows.last_mut() {
                row.bytes *= SCAN_PASSES;
                row.events *= SCAN_PASSES;
            }
        };
        add_scan(&mut rows, SCANNER_ROW);
        jobs.push(Box::new(move || {
            let mut scanner = redactor_scan::Scanner::new(redactor_scan::Limits::default());
            scan_passes(m, |l| scanner.scan(l).map_or(0, <[_]>::len))
        }));
        add_scan(&mut rows, SERDE_ROW);
        jobs.push(Box::new(move || {
            scan_passes(m, |l| usize::from(Validators::serde_json_ignored(l)))
        }));
        add_scan(&mut rows, TAPE_ROW);
        jobs.push(Box::new(move || {
            let mut v = Validators::default();
            scan_passes(m, |l| v.simd_json_tape(l).unwrap_or(0))
        }));
    } else {
        progress(&format!(
            "a parser rejects a line of {}: the scanner rows are not measured",
            m.name
        ));
    }

    add(&mut rows, "reference engine (DOM)".into(), m, "baseline", 1);
    let r = &reference;
    jobs.push(engine_job(r, m, outs));
    add(
        &mut rows,
        "simd-json parse, mutate, serialize".into(),
        m,
        "baseline",
        1,
    );
    let bl = &baseline;
    let (mut lo, mut sc, mut st) = (Vec::new(), Vec::new(), Stats::default());
    jobs.push(Box::new(move || {
        let out = &mut outs.borrow_mut()[0];
        out.clear();
        for i in 0..m.lines.len() {
            if bl.redact(m.line(i), &mut sc, &mut lo, &mut st).is_ok() {
                out.extend_from_slice(&lo);
                out.push(b'\n');
            }
        }
        out.len()
    }));
    // The DOM round trip's own cost, without a policy: what the row above
    // spends beyond it is the policy's work.
    add(
        &mut rows,
        "simd-json parse, serialize (no policy)".into(),
        m,
        "baseline",
        1,
    );
    let (mut lo, mut sc) = (Vec::new(), Vec::new());
    jobs.push(Box::new(move || {
        let out = &mut outs.borrow_mut()[0];
        out.clear();
        for i in 0..m.lines.len() {
            if redactor_core::baseline::parse_serialize(m.line(i), &mut sc, &mut lo) {
                out.extend_from_slice(&lo);
                out.push(b'\n');
            }
        }
        out.len()
    }));
    let f = &fast;
    add(
        &mut rows,
        if o.policy.is_some() {
            "fast engine, your policy".into()
        } else {
            "fast engine, default policy".into()
        },
        m,
        "engine",
        1,
    );
    jobs.push(engine_job(f, m, outs));
    for (name, e) in &variant_engines {
        add(&mut rows, name.clone(), m, "engine", 1);
        jobs.push(engine_job(e, m, outs));
    }
    for c in &formats {
        add(
            &mut rows,
            format!("fast engine, {} events", c.name),
            c,
            "format",
            1,
        );
        jobs.push(engine_job(f, c, outs));
    }
    for t in 1..=o.max_threads {
        add(&mut rows, engine_row(t), m, "threads", t);
        jobs.push(Box::new(move || {
            threaded_run(f, m, &mut outs.borrow_mut()[..t])
                .unwrap_or_else(|e| fail(format!("cannot start a thread: {e}")))
        }));
    }

    // `redactor filter` end to end, file in, file out (in this process, so
    // that process start is not measured): the same reader, workers and
    // writer as the command.
    let fast_arc: Arc<dyn Redactor> = Arc::new(Fast::new(policy.clone()));
    // What the filter must write: the engine's output line by line. A
    // corpus with rejected lines (possible with --input) is not measured
    // end to end: rejects would be reported per line.
    let mut expected = Vec::with_capacity(m.bytes.len());
    let mut rejected = 0usize;
    {
        let (mut lo, mut st) = (Vec::new(), Stats::default());
        for i in 0..m.lines.len() {
            match fast.redact(m.line(i), &mut lo, &mut st) {
                Ok(()) => {
                    expected.extend_from_slice(&lo);
                    expected.push(b'\n');
                }
                Err(_) => rejected += 1,
            }
        }
    }
    let filter_threads = if rejected == 0 { o.max_threads } else { 0 };
    if rejected > 0 {
        progress(&format!(
            "{rejected} line(s) of {} are rejected: `filter end to end` is not measured",
            m.name
        ));
    }
    for t in 1..=filter_threads {
        add(
            &mut rows,
            format!("filter end to end, {t} thread(s)"),
            m,
            "filter",
            t,
        );
        let (policy, engine, files) = (policy.clone(), fast_arc.clone(), &files);
        jobs.push(Box::new(move || {
            let opts = crate::filter::Options {
                inputs: vec![Some(files.input.clone())],
                output: Some(files.output.clone()),
                append: false,
                quarantine: None,
                stats: false,
                threads: t,
                progress: false,
                stop: None,
            };
            match crate::filter::run(policy.clone(), engine.clone(), &opts) {
                Ok(outcome) => outcome.rejected as usize,
                Err(e) => fail(format!("{e:#}")),
            }
        }));
    }

    for round in 0..o.rounds {
        for (row, job) in rows.iter_mut().zip(jobs.iter_mut()) {
            check_stop(o)?;
            if row.group == "filter" {
                // Each run writes a new output file, as one invocation
                // does. Overwriting the last run's output would make the
                // run truncate it first: ~20 ms for 20 MB in the page
                // cache, serial, and no part of the filter's own work.
                let _ = std::fs::remove_file(&files.output);
            }
            let start = Instant::now();
            let result = black_box(job());
            row.secs.push(start.elapsed().as_secs_f64());
            let failed = failure.lock().ok().and_then(|mut f| f.take());
            if let Some(why) = failed {
                bail!("the run of `{}` failed: {why}", row.name);
            }
            if row.group == "filter" && result != 0 {
                bail!(
                    "the run of `{}` failed: {result} line(s) rejected",
                    row.name
                );
            }
        }
        progress(&format!("round {}/{} done", round + 1, o.rounds));
    }
    if filter_threads > 0 {
        let written = std::fs::read(&files.output)
            .with_context(|| format!("cannot read {}", files.output.display()))?;
        if written != expected {
            bail!("`filter end to end` wrote something else than the engine's output");
        }
        progress("filter output checked against the engine's");
    }
    Ok(Report {
        options: o.clone(),
        rows,
        cpu: cpu_name(),
        simd: redactor_scan::Scanner::new(redactor_scan::Limits::default())
            .backend()
            .name(),
    })
}

/// The input and output files of the end-to-end rows, in a fresh
/// directory only this user can read (the corpus may be the user's own
/// data), removed on drop.
struct TempFiles {
    dir: PathBuf,
    input: PathBuf,
    output: PathBuf,
}

impl TempFiles {
    fn new() -> Result<TempFiles> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir =
            std::env::temp_dir().join(format!("redactor-bench-{}-{nanos}", std::process::id()));
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        // Fails if the path exists: nothing else's files are written to.
        builder
            .create(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(TempFiles {
            input: dir.join("in.ndjson"),
            output: dir.join("out.ndjson"),
            dir,
        })
    }
}

impl Drop for TempFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.input);
        let _ = std::fs::remove_file(&self.output);
        let _ = std::fs::remove_dir(&self.dir);
    }
}

fn gen_corpus(format: Format, events: u64, seed: u64) -> Corpus {
    let mut g = Generator::new(format, seed);
    let mut bytes = Vec::new();
    let _ = g.write_ndjson(events, &mut bytes);
    Corpus::new(format.name().to_string(), bytes)
}

fn cpu_name() -> String {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    format!("{model}, {cores} logical core(s)")
}

fn find<'r>(r: &'r Report, name_prefix: &str) -> Option<&'r Row> {
    r.rows.iter().find(|x| x.name.starts_with(name_prefix))
}

/// The name of the in-memory engine's row on `threads` threads, where the
/// rows are made and where the summary looks them up.
fn engine_row(threads: usize) -> String {
    format!("fast engine, {threads} thread(s)")
}

/// `row`'s ratio to `base` as the summary gives it: the median over the
/// rounds of the ratio within each round, then its lowest and highest
/// round in brackets; as a percentage when `percent`.
fn ratio_text(row: &Row, base: &Row, percent: bool) -> String {
    let (lo, median, hi) = row.ratios_to(base);
    if percent {
        format!(
            "{:.0}% [{:.0}..{:.0}]",
            median * 100.0,
            lo * 100.0,
            hi * 100.0
        )
    } else {
        format!("{median:.2}x [{lo:.2}..{hi:.2}]")
    }
}

/// The table.
pub fn print(r: &Report, out: &mut impl Write) -> io::Result<()> {
    writeln!(out, "machine: {} (scanner backend {})", r.cpu, r.simd)?;
    writeln!(
        out,
        "rounds: {} (median MB/s; spread = slowest..fastest round; x ref, x simd and % floor: \
         median over the rounds of the ratio within each round; [a..b] after a ratio below: \
         its lowest and highest round)",
        r.options.rounds
    )?;
    let floor = find(r, "copy (floor)");
    let reference = find(r, "reference engine");
    let simd = find(r, "simd-json parse, mutate");
    let ratio = |row: &Row, base: Option<&Row>| base.map_or(0.0, |b| row.ratio_to(b));
    writeln!(
        out,
        "{:<40} {:<10} {:>9} {:>17} {:>11} {:>8} {:>8} {:>9}",
        "measurement", "corpus", "MB/s", "spread", "events/s", "x ref", "x simd", "% floor"
    )?;
    for row in &r.rows {
        let mb = row.mb_per_sec();
        let (lo, hi) = row.spread();
        writeln!(
            out,
            "{:<40} {:<10} {:>9.1} {:>17} {:>11.0} {:>8.2} {:>8.2} {:>9.2}",
            row.name,
            row.corpus,
            mb,
            format!("{lo:.1}..{hi:.1}"),
            row.events_per_sec(),
            ratio(row, reference),
            ratio(row, simd),
            ratio(row, floor) * 100.0
        )?;
    }
    // Issue targets that are ratios between rows of this run.
    if let (Some(scan), Some(serde), Some(tape)) =
        (find(r, SCANNER_ROW), find(r, SERDE_ROW), find(r, TAPE_ROW))
    {
        writeln!(
            out,
            "scanner: {} simd-json tape, {} serde_json IgnoredAny",
            ratio_text(scan, tape, false),
            ratio_text(scan, serde, false)
        )?;
    }
    let engine =
        find(r, "fast engine, default policy").or_else(|| find(r, "fast engine, your policy"));
    if let (Some(engine), Some(reference), Some(simd)) = (engine, reference, simd) {
        writeln!(
            out,
            "{}: {} the reference engine, {} the simd-json round trip",
            engine.name,
            ratio_text(engine, reference, false),
            ratio_text(engine, simd, false)
        )?;
    }
    let one = find(r, "filter end to end, 1 thread");
    if let (Some(engine), Some(one)) = (engine, one) {
        writeln!(
            out,
            "filter end to end, 1 thread: {} of the in-memory engine",
            ratio_text(one, engine, true)
        )?;
        // The in-memory engine's own ratio on as many threads, from the
        // same rounds: what each filter ratio is read against (its reader
        // and writer take a share of the same CPUs).
        let single = find(r, &engine_row(1));
        for row in r
            .rows
            .iter()
            .filter(|x| x.group == "filter" && x.threads > 1)
        {
            let in_memory = match (find(r, &engine_row(row.threads)), single) {
                (Some(many), Some(single)) => {
                    format!(" (the in-memory engine: {:.2}x)", many.ratio_to(single))
                }
                _ => String::new(),
            };
            writeln!(
                out,
                "filter end to end, {} threads: {} one thread{in_memory}",
                row.threads,
                ratio_text(row, one, false)
            )?;
        }
    }
    Ok(())
}

fn json_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// Machine-readable results.
pub fn json(r: &Report) -> String {
    let rows: Vec<String> = r
        .rows
        .iter()
        .map(|x| {
            let (lo, hi) = x.spread();
            let secs: Vec<String> = x.secs.iter().map(|s| format!("{s:.6}")).collect();
            format!(
                "{{\"name\":{},\"corpus\":{},\"group\":\"{}\",\"threads\":{},\"bytes\":{},\"events\":{},\"mb_per_sec\":{:.3},\"mb_per_sec_min\":{lo:.3},\"mb_per_sec_max\":{hi:.3},\"events_per_sec\":{:.1},\"seconds\":[{}]}}",
                json_escape(&x.name),
                json_escape(&x.corpus),
                x.group,
                x.threads,
                x.bytes,
                x.events,
                x.mb_per_sec(),
                x.events_per_sec(),
                secs.join(",")
            )
        })
        .collect();
    format!(
        "{{\"benchmark\":\"engines\",\"machine\":{},\"simd\":\"{}\",\"rounds\":{},\"rows\":[{}]}}\n",
        json_escape(&r.cpu),
        r.simd,
        r.options.rounds,
        rows.join(",")
    )
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// An SVG with a horizontal bar chart of throughput (every row but the
/// thread curve, the scanner rows and the copy floor, which would dwarf the
/// others; the floor is given in the title) and a line chart of thread
/// scaling.
pub fn svg(r: &Report) -> String {
    let bars: Vec<&Row> = r
        .rows
        .iter()
        .filter(|x| !matches!(x.group, "threads" | "floor" | "scanner"))
        .collect();
    let threads: Vec<&Row> = r.rows.iter().filter(|x| x.group == "threads").collect();
    let (w, bar_h, left, chart_w) = (900.0, 22.0, 330.0, 480.0);
    let top = 50.0;
    let bars_h = bars.len() as f64 * bar_h;
    let line_top = top + bars_h + 70.0;
    let line_h = 220.0;
    let h = line_top + line_h + 60.0;
    let max = bars.iter().map(|x| x.mb_per_sec()).fold(1.0, f64::max);
    let floor = find(r, "copy (floor)").map_or(0.0, Row::mb_per_sec);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h:.0}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"10\" y=\"20\" font-size=\"15\" font-weight=\"bold\">redactor bench: median MB/s per core ({})</text>\n\
         <text x=\"10\" y=\"38\" fill=\"#555\">copy floor {floor:.0} MB/s; {} round(s); scanner backend {}</text>\n",
        xml(&r.cpu),
        r.options.rounds,
        r.simd
    );
    for (i, row) in bars.iter().enumerate() {
        let y = top + i as f64 * bar_h;
        let mb = row.mb_per_sec();
        let len = mb / max * chart_w;
        let color = match row.group {
            "baseline" => "#9e9e9e",
            "format" => "#7aa6d6",
            _ => "#2e7d32",
        };
        s.push_str(&format!(
            "<text x=\"{:.0}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\
             <rect x=\"{left}\" y=\"{:.1}\" width=\"{len:.1}\" height=\"{:.1}\" fill=\"{color}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{mb:.1}</text>\n",
            left - 8.0,
            y + 15.0,
            xml(&row.name),
            y + 3.0,
            bar_h - 6.0,
            left + len + 5.0,
            y + 15.0
        ));
    }
    // Thread scaling.
    let tmax = threads.iter().map(|x| x.mb_per_sec()).fold(1.0, f64::max);
    let n = threads.len().max(2) as f64;
    s.push_str(&format!(
        "<text x=\"10\" y=\"{:.0}\" font-size=\"15\" font-weight=\"bold\">thread scaling, fast engine, {}</text>\n\
         <line x1=\"{left}\" y1=\"{:.0}\" x2=\"{left}\" y2=\"{:.0}\" stroke=\"black\"/>\
         <line x1=\"{left}\" y1=\"{:.0}\" x2=\"{:.0}\" y2=\"{:.0}\" stroke=\"black\"/>\n",
        line_top - 20.0,
        threads.first().map_or(String::new(), |x| xml(&x.corpus)),
        line_top,
        line_top + line_h,
        line_top + line_h,
        left + chart_w,
        line_top + line_h
    ));
    let point = |i: usize, mb: f64| {
        (
            left + i as f64 / (n - 1.0) * chart_w,
            line_top + line_h - mb / tmax * (line_h - 10.0),
        )
    };
    let pts: Vec<String> = threads
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let (px, py) = point(i, x.mb_per_sec());
            format!("{px:.1},{py:.1}")
        })
        .collect();
    s.push_str(&format!(
        "<polyline points=\"{}\" fill=\"none\" stroke=\"#2e7d32\" stroke-width=\"2\"/>\n",
        pts.join(" ")
    ));
    for (i, x) in threads.iter().enumerate() {
        let (px, py) = point(i, x.mb_per_sec());
        s.push_str(&format!(
            "<circle cx=\"{px:.1}\" cy=\"{py:.1}\" r=\"4\" fill=\"#2e7d32\"/>\
             <text x=\"{px:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{:.0}</text>\
             <text x=\"{px:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{} thr</text>\n",
            py - 8.0,
            x.mb_per_sec(),
            line_top + line_h + 16.0,
            x.threads
        ));
    }
    s.push_str(&format!(
        "<text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"end\" fill=\"#555\">MB/s</text>\n</svg>\n",
        left - 8.0,
        line_top + 12.0
    ));
    s
}

/// The most bytes `--input` may hold: the bench keeps the corpus in
/// memory several times over (its lines, each engine's output, the
/// baselines' documents; about 4x in all), so a whole log named by
/// mistake is refused rather than run into swap.
pub const MAX_INPUT_BYTES: u64 = 1 << 30;

/// The corpus of `--input` (`-`: stdin; a gzip file is read decompressed),
/// at most [`MAX_INPUT_BYTES`] of text.
fn read_input(p: &Path) -> Result<Corpus> {
    let stdin = crate::is_dash(p);
    let name = if stdin {
        "<stdin>".to_string()
    } else {
        p.display().to_string()
    };
    let too_large = || {
        anyhow::anyhow!(
            "cannot read {name}: larger than {} MiB; the bench holds its corpus in memory \
             several times over, so measure a sample (the first 200 000 lines: `head -n 200000`)",
            MAX_INPUT_BYTES >> 20
        )
    };
    let mut bytes = Vec::new();
    let read = if stdin {
        io::stdin()
            .lock()
            .take(MAX_INPUT_BYTES + 1)
            .read_to_end(&mut bytes)
    } else {
        let f = File::open(p).with_context(|| format!("cannot read {name}"))?;
        let opened = if f.metadata().is_ok_and(|m| m.is_file()) {
            crate::compressed::open(f, &name)?
        } else {
            crate::compressed::Opened::Plain(f)
        };
        match opened {
            crate::compressed::Opened::Gzip(r, _) => {
                r.take(MAX_INPUT_BYTES + 1).read_to_end(&mut bytes)
            }
            crate::compressed::Opened::Plain(f) => {
                // A regular file's size is known before a byte is read.
                if f.metadata().is_ok_and(|m| m.len() > MAX_INPUT_BYTES) {
                    return Err(too_large());
                }
                f.take(MAX_INPUT_BYTES + 1).read_to_end(&mut bytes)
            }
        }
    };
    read.with_context(|| format!("cannot read {name}"))?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(too_large());
    }
    Ok(Corpus::new(name, bytes))
}

/// A report file (`--json`, `--plot`), created before the measuring so
/// that a path that cannot be written ends the run at once.
pub struct ReportFile {
    path: PathBuf,
    file: File,
}

/// Creates (or truncates) the report file `path`.
///
/// # Errors
///
/// The file cannot be created; the error names it.
pub fn create(path: &Path) -> Result<ReportFile> {
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    Ok(ReportFile {
        path: path.to_path_buf(),
        file,
    })
}

impl ReportFile {
    /// Writes `text` to the file and closes it.
    ///
    /// # Errors
    ///
    /// The write fails; the error names the file.
    pub fn write(mut self, text: &str) -> Result<()> {
        self.file
            .write_all(text.as_bytes())
            .with_context(|| format!("cannot write {}", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::{
        engine_run, gen_corpus, ratio_text, threaded_run, Corpus, Row, SMALL_CORPUS_BYTES,
    };
    use redactor_core::gen::{Format, Generator};
    use redactor_core::{Fast, Policy, Stats};
    use std::sync::Arc;

    #[test]
    fn thread_rows_write_what_one_thread_writes_into_kept_buffers() {
        let mut bytes = Vec::new();
        Generator::new(Format::Mixed, 7)
            .write_ndjson(301, &mut bytes)
            .unwrap();
        let c = Corpus::new("mixed".into(), bytes);
        let fast = Fast::new(Arc::new(Policy::builtin().unwrap()));
        let mut one = Vec::new();
        let n = engine_run(&fast, &c, &mut one, &mut Stats::default());
        assert!(n > 0 && n == one.len());
        // Buffers that hold an earlier round's output, as the bench's do:
        // each is cleared, and the threads' parts follow the lines' order.
        let mut outs = vec![b"stale".to_vec(); 3];
        for threads in [1, 2, 3] {
            let written = threaded_run(&fast, &c, &mut outs[..threads]).unwrap();
            assert_eq!(written, n, "{threads} thread(s)");
            assert_eq!(outs[..threads].concat(), one, "{threads} thread(s)");
        }
    }

    /// The corpus of `--events`' default (20 000, main.rs) is not one the
    /// run warns about, as its warning says; 5 000 events are.
    #[test]
    fn only_corpora_smaller_than_the_default_are_warned_about() {
        let default = gen_corpus(Format::Mixed, 20_000, 1).payload_bytes();
        assert!(
            (SMALL_CORPUS_BYTES..30_000_000).contains(&default),
            "{default}"
        );
        assert!(gen_corpus(Format::Mixed, 5_000, 1).payload_bytes() < SMALL_CORPUS_BYTES);
    }

    fn row(bytes: usize, secs: &[f64]) -> Row {
        Row {
            name: String::new(),
            corpus: String::new(),
            group: "engine",
            threads: 1,
            secs: secs.to_vec(),
            bytes,
            events: 1,
        }
    }

    #[test]
    fn ratios_pair_the_rounds() {
        // Twice as fast in every round but the last, where the base had a
        // fast moment: the ratio is 2, though the medians alone give 0.2.
        let (fast, base) = (row(10, &[1.0, 10.0, 10.0]), row(10, &[2.0, 20.0, 1.0]));
        assert_eq!(fast.ratio_to(&base), 2.0);
        assert!((fast.mb_per_sec() / base.mb_per_sec() - 0.2).abs() < 1e-9);
        // Bytes count: the same seconds over three times the bytes.
        assert_eq!(row(30, &[1.0, 2.0]).ratio_to(&row(10, &[1.0, 2.0])), 3.0);
        assert_eq!(row(10, &[]).ratio_to(&base), 0.0);
    }

    #[test]
    fn ratio_ranges_name_the_lowest_and_highest_round() {
        // Rounds of 2x, 2x and 0.1x: the median and both ends.
        let (fast, base) = (row(10, &[1.0, 10.0, 10.0]), row(10, &[2.0, 20.0, 1.0]));
        assert_eq!(fast.ratios_to(&base), (0.1, 2.0, 2.0));
        assert_eq!(ratio_text(&fast, &base, false), "2.00x [0.10..2.00]");
        assert_eq!(ratio_text(&fast, &base, true), "200% [10..200]");
        // Only the rounds both rows ran count.
        assert_eq!(row(10, &[1.0]).ratios_to(&base), (2.0, 2.0, 2.0));
        assert_eq!(row(10, &[]).ratios_to(&base), (0.0, 0.0, 0.0));
        // Of an even number of rounds (1x and 2x), the mean of the middle
        // two, not the upper one.
        assert_eq!(
            row(10, &[2.0, 1.0]).ratios_to(&row(10, &[2.0, 2.0])),
            (1.0, 1.5, 2.0)
        );
        // The median MB/s likewise: rounds of 10 and 5 MB/s give 7.5.
        assert_eq!(row(10_000_000, &[1.0, 2.0]).mb_per_sec(), 7.5);
    }
}
