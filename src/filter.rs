//! `redactor filter`: NDJSON in, redacted NDJSON out, in input order.
//!
//! One reader (this thread) frames lines into batches; `threads` workers
//! redact batches; one writer restores input order and writes output and
//! quarantine records. A fixed number of batch permits bounds the memory in
//! flight whatever the input size; over-long lines are streamed straight to
//! the quarantine without being buffered.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result};
use base64::Engine as _;
use crossbeam_channel::{bounded, Receiver, Sender, TryRecvError};
use redactor_core::{json, Policy, Redactor, Reject, Stats};

use redactor_scan::lines::{LineReader, Span};

use crate::compressed;
use crate::same_file::{self, Named};

/// Options of `redactor filter`.
#[derive(Debug)]
pub struct Options {
    /// Inputs, read in turn; `None` is stdin.
    pub inputs: Vec<Option<PathBuf>>,
    /// Output file; `None` means stdout.
    pub output: Option<PathBuf>,
    /// Append to the output file instead of replacing it.
    pub append: bool,
    /// Quarantine file for rejected lines.
    pub quarantine: Option<PathBuf>,
    /// Print counters at the end.
    pub stats: bool,
    /// Worker threads.
    pub threads: usize,
    /// Show a progress bar (when stderr is a terminal and sizes are known).
    pub progress: bool,
    /// Set (to a signal number) to stop reading: the lines read so far are
    /// redacted or rejected and written, the rest is not read. `None`: no
    /// stop is watched for.
    pub stop: Option<Arc<AtomicUsize>>,
}

/// How a run ended.
#[derive(Debug)]
pub struct Outcome {
    /// Lines rejected.
    pub rejected: u64,
    /// Whether rejects went to a quarantine file.
    pub quarantined: bool,
    /// The downstream pipe closed early.
    pub broken_pipe: bool,
    /// Reading stopped on request (see [`Options::stop`]) before the end.
    pub stopped: Option<Stopped>,
}

/// Where a run stopped on request.
#[derive(Debug)]
pub struct Stopped {
    /// What [`Options::stop`] was set to.
    pub signal: usize,
    /// The source being read.
    pub source: Arc<str>,
    /// Its last line read (every line up to it was written or rejected).
    pub line: u64,
}

impl Stopped {
    /// Reports the stop on stderr (every line read was `handled`) and
    /// returns the exit status the signal would have given: 128 + its
    /// number.
    pub fn report(&self, handled: &str) -> std::process::ExitCode {
        eprintln!(
            "redactor: stopped by {}: {} was read up to line {}, and every line read was {handled}; the rest was not read",
            signal_name(self.signal),
            self.source,
            self.line
        );
        std::process::ExitCode::from(128u8.saturating_add(self.signal as u8))
    }
}

/// The signal a stop request (see [`stop_on_signals`]) holds; 0 while none
/// came, or without one.
pub(crate) fn stop_requested(stop: Option<&Arc<AtomicUsize>>) -> usize {
    stop.map_or(0, |s| s.load(Ordering::SeqCst))
}

/// A hint for an input whose first line (`line`) was rejected: one that
/// starts like compressed data (see [`compressed::compressed_hint`]), or
/// one that ends inside a JSON text, as the first line of JSON spread over
/// several lines (pretty-printed) does. Without it, such an input is only
/// a reject for each of its lines.
pub(crate) fn first_line_hint(
    source: &str,
    line_no: u64,
    reject: &Reject,
    line: &[u8],
) -> Option<String> {
    if line_no != 1 {
        return None;
    }
    if let Some(hint) = compressed::compressed_hint(source, line) {
        return Some(hint);
    }
    match reject {
        Reject::InvalidJson { what, .. } if what.starts_with("unexpected end of input") => {
            Some(format!(
                "redactor: hint: {source}:1 ends inside a JSON text; redactor reads one JSON \
                 text per line (NDJSON). JSON spread over several lines needs each event put \
                 on a line of its own first, for example with `jq -c '.[]'` (an array of \
                 events) or `jq -c .` (one event)"
            ))
        }
        _ => None,
    }
}

/// Batch buffers that grew beyond this (for lines of several hundred KiB)
/// are released rather than kept for the next batch.
const KEPT_BUFFER_BYTES: usize = 1 << 20;
/// A batch holds the lines of one read of the input (about 256 KiB, see
/// `LineReader`), and at most this many.
const BATCH_LINES: usize = 32 * 1024;

/// A batch's output of at least this many bytes is written straight to the
/// output rather than through its buffer.
const DIRECT_WRITE: usize = 64 * 1024;

struct LineRef {
    start: usize,
    end: usize,
    line_no: u64,
}

struct Batch {
    seq: u64,
    source: Arc<str>,
    /// The reader's buffer the lines were read into (and were not copied
    /// out of): `lines` are positions in it.
    data: Vec<u8>,
    lines: Vec<LineRef>,
    /// A recycled buffer for the worker's output.
    out: Vec<u8>,
}

/// The buffers of a written batch, handed back to the reader with its
/// permit so steady-state batches allocate nothing.
#[derive(Default)]
struct Buffers {
    data: Vec<u8>,
    lines: Vec<LineRef>,
    out: Vec<u8>,
}

impl Buffers {
    /// Keeps the buffers unless a batch of huge lines grew them far beyond
    /// the usual size (then they are released).
    fn recycle(data: Vec<u8>, lines: Vec<LineRef>, out: Vec<u8>) -> Buffers {
        let keep = |v: Vec<u8>| {
            if v.capacity() > KEPT_BUFFER_BYTES {
                Vec::new()
            } else {
                v
            }
        };
        Buffers {
            data: keep(data),
            lines,
            out: keep(out),
        }
    }
}

struct RejectRec {
    source: Arc<str>,
    line_no: u64,
    reject: Reject,
    /// The line, when it was buffered (over-long lines are streamed).
    raw: Option<(usize, usize)>,
}

struct Done {
    seq: u64,
    out: Vec<u8>,
    rejects: Vec<RejectRec>,
    batch: Batch,
}

/// The quarantine sink: NDJSON records with the reason and the original
/// bytes in base64 (so invalid UTF-8 survives).
struct Quarantine {
    w: BufWriter<File>,
}

impl Quarantine {
    fn head(
        &mut self,
        source: &str,
        line_no: u64,
        reject: &Reject,
        len: Option<u64>,
    ) -> io::Result<()> {
        let mut h = Vec::with_capacity(160);
        h.extend_from_slice(b"{\"source\":");
        json::write_str(&mut h, source);
        h.extend_from_slice(
            format!(
                ",\"line\":{line_no},\"reason\":\"{}\",\"detail\":",
                reject.code()
            )
            .as_bytes(),
        );
        json::write_str(&mut h, &reject.to_string());
        if let Some(len) = len {
            h.extend_from_slice(format!(",\"bytes\":{len}").as_bytes());
        }
        h.extend_from_slice(b",\"raw_base64\":\"");
        self.w.write_all(&h)
    }

    fn record(
        &mut self,
        source: &str,
        line_no: u64,
        reject: &Reject,
        raw: &[u8],
    ) -> io::Result<()> {
        self.head(source, line_no, reject, Some(raw.len() as u64))?;
        let enc = base64::engine::general_purpose::STANDARD.encode(raw);
        self.w.write_all(enc.as_bytes())?;
        self.w.write_all(b"\"}\n")
    }
}

/// Streams base64 of an unbounded byte sequence in pieces.
struct B64Stream<'a> {
    w: &'a mut BufWriter<File>,
    carry: Vec<u8>,
}

impl B64Stream<'_> {
    fn push(&mut self, mut b: &[u8]) -> io::Result<()> {
        let eng = &base64::engine::general_purpose::STANDARD;
        if !self.carry.is_empty() {
            while self.carry.len() < 3 && !b.is_empty() {
                self.carry.push(b[0]);
                b = &b[1..];
            }
            if self.carry.len() < 3 {
                return Ok(());
            }
            self.w.write_all(eng.encode(&self.carry).as_bytes())?;
            self.carry.clear();
        }
        let whole = b.len() / 3 * 3;
        self.w.write_all(eng.encode(&b[..whole]).as_bytes())?;
        self.carry.extend_from_slice(&b[whole..]);
        Ok(())
    }
    fn finish(self) -> io::Result<()> {
        if !self.carry.is_empty() {
            self.w.write_all(
                base64::engine::general_purpose::STANDARD
                    .encode(&self.carry)
                    .as_bytes(),
            )?;
        }
        Ok(())
    }
}

/// Watches SIGINT, SIGTERM and SIGHUP (the terminal of a pipeline closed)
/// for a run of the filter: the first sets the returned flag to its number
/// ([`Options::stop`]: reading stops, what was read is finished and
/// written, where SIGHUP's default would lose it); a second one ends the
/// process at once, with status 128 + its number, as the signal would have.
///
/// # Errors
///
/// When a handler cannot be installed.
pub fn stop_on_signals() -> io::Result<Arc<AtomicUsize>> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let stop = Arc::new(AtomicUsize::new(0));
    let armed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM, SIGHUP] {
        // The shutdown goes first: it sees `armed` as the signal before
        // this one left it.
        signal_hook::flag::register_conditional_shutdown(signal, 128 + signal, armed.clone())?;
        signal_hook::flag::register_usize(signal, stop.clone(), signal as usize)?;
        signal_hook::flag::register(signal, armed.clone())?;
    }
    Ok(stop)
}

/// The name of a signal [`stop_on_signals`] watches.
pub fn signal_name(signal: usize) -> &'static str {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    match i32::try_from(signal) {
        Ok(SIGINT) => "SIGINT",
        Ok(SIGTERM) => "SIGTERM",
        Ok(SIGHUP) => "SIGHUP",
        _ => "a signal",
    }
}

/// An opened input.
pub(crate) struct Source {
    pub(crate) name: Arc<str>,
    /// Its reader (one that may wait ends early once a stop is requested).
    pub(crate) reader: Box<dyn Read>,
    /// Whether reading may wait for input (see [`may_wait`]).
    pub(crate) waits: bool,
    /// For an input that may wait, where possible: its descriptor, to ask
    /// whether more input is already there.
    watch: Option<File>,
    /// For a gzip file: the compressed bytes read so far (the progress
    /// bar measures these against the file's size).
    pub(crate) compressed: Option<Arc<AtomicU64>>,
}

impl Source {
    /// Opens `src` (`None`: stdin). Stdin on a terminal gets a hint on
    /// stderr, since a run started without input would otherwise wait in
    /// silence.
    pub(crate) fn open(src: Option<&PathBuf>, stop: Option<&Arc<AtomicUsize>>) -> Result<Source> {
        if src.is_none() && io::stdin().is_terminal() {
            eprintln!("redactor: reading NDJSON from the terminal; Ctrl-D ends the input");
        }
        let (name, file): (Arc<str>, File) = match src {
            None => match stdin_file() {
                Some(file) => ("<stdin>".into(), file),
                None => {
                    // No descriptor to watch: read stdin as it is.
                    return Ok(Source {
                        name: "<stdin>".into(),
                        reader: Box::new(io::stdin().lock()),
                        waits: true,
                        watch: None,
                        compressed: None,
                    });
                }
            },
            Some(p) => (
                p.display().to_string().into(),
                File::open(p).with_context(|| format!("cannot open input {}", p.display()))?,
            ),
        };
        let waits = may_wait(file.metadata());
        // A regular file may be compressed (a rotated log); a stream is
        // read as it comes.
        let file = if waits {
            file
        } else {
            match compressed::open(file, &name)? {
                compressed::Opened::Plain(file) => file,
                compressed::Opened::Gzip(reader, count) => {
                    return Ok(Source {
                        name,
                        reader,
                        waits,
                        watch: None,
                        compressed: Some(count),
                    });
                }
            }
        };
        let watch = if waits && cfg!(unix) {
            file.try_clone().ok()
        } else {
            None
        };
        let reader: Box<dyn Read> = match stop {
            Some(stop) if waits => Box::new(Stoppable {
                file,
                stop: stop.clone(),
            }),
            _ => Box::new(file),
        };
        Ok(Source {
            name,
            reader,
            waits,
            watch,
            compressed: None,
        })
    }
}

/// Opens `p` for appending: the lines of earlier runs stay (a filter
/// restarted beside a log shipper must not drop what it wrote before). The
/// quarantine always is; the output with `--append`. The quarantine holds
/// the original, unredacted lines, so with `private` a new file is
/// readable and writable by its owner only (mode 0600 before the umask),
/// not by everyone as a plain create would make it; an existing file keeps
/// its permissions. An existing file whose last line was cut short (a run
/// killed midway) gets a newline first, so that the next line starts on a
/// line of its own.
fn open_appending(p: &Path, private: bool) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    if private {
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut f = options.open(p)?;
    let meta = f.metadata()?;
    // Two runs appending to one file would interleave parts of their
    // records. The lock ends with the process; a file system without
    // locks goes without.
    if meta.is_file() {
        match f.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(io::Error::other(
                    "another run is writing it (two runs appending to one file would interleave their lines)",
                ));
            }
            Err(std::fs::TryLockError::Error(_)) => {}
        }
        if meta.len() > 0 && !ends_with_newline(p, meta.len()) {
            f.write_all(b"\n")?;
        }
    }
    Ok(f)
}

/// Whether the regular file `p` of `len` bytes (more than 0) ends with a
/// newline. One whose last byte cannot be read (write-only for this user,
/// or cut shorter meanwhile) counts as ending with one: nothing is added.
fn ends_with_newline(p: &Path, len: u64) -> bool {
    let mut last = [b'\n'];
    if let Ok(mut r) = File::open(p) {
        if r.seek(io::SeekFrom::Start(len - 1))
            .and_then(|_| r.read_exact(&mut last))
            .is_err()
        {
            last[0] = b'\n';
        }
    }
    last[0] == b'\n'
}

/// Checks that the input `p` can be read, so that a missing or unreadable
/// file in a list of inputs, or one compressed in a format that is not
/// read, ends the run before any output rather than midway. A regular file
/// is opened, its first bytes read, and closed; anything else (a FIFO
/// would block in its open until a writer comes) only has to exist.
pub(crate) fn check_input(p: &Path) -> Result<Named> {
    let meta =
        std::fs::metadata(p).with_context(|| format!("cannot open input {}", p.display()))?;
    if meta.is_dir() {
        anyhow::bail!("cannot read input {}: it is a directory", p.display());
    }
    Ok(if meta.is_file() {
        let f = File::open(p).with_context(|| format!("cannot open input {}", p.display()))?;
        let named = Named::file("input", p, &f);
        // A format that is not read is refused here.
        compressed::open(f, &p.display().to_string())?;
        named
    } else {
        Named::path("input", p)
    })
}

/// Whether a read of the input `watch` watches would give input at once:
/// then the lines read so far can wait for more. False when not known.
fn has_input(watch: Option<&File>) -> bool {
    watch.is_some_and(|f| readable(f, std::time::Duration::ZERO).unwrap_or(false))
}

/// An input that may wait (a pipe, a terminal) and ends (reads return 0)
/// once a stop is requested: it is polled every [`STOP_POLL`] instead of
/// blocking in `read`, so that a stop is seen while no input comes. The
/// bytes it gave before are all handled: a line it cut short is rejected,
/// not lost.
struct Stoppable {
    file: File,
    stop: Arc<AtomicUsize>,
}

/// How often a waiting read looks at the stop request.
const STOP_POLL: std::time::Duration = std::time::Duration::from_millis(100);

impl Read for Stoppable {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.stop.load(Ordering::SeqCst) != 0 {
                return Ok(0);
            }
            if readable(&self.file, STOP_POLL)? {
                return self.file.read(buf);
            }
        }
    }
}

/// Whether a read of `file` would not block (input, its end, or an error
/// to report), waiting up to `timeout` for it.
#[cfg(unix)]
fn readable(file: &File, timeout: std::time::Duration) -> io::Result<bool> {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let mut fds = [PollFd::new(file, PollFlags::IN)];
    let timeout = Timespec {
        tv_sec: timeout.as_secs() as _,
        tv_nsec: timeout.subsec_nanos() as _,
    };
    match poll(&mut fds, Some(&timeout)) {
        Ok(n) => Ok(n > 0),
        Err(rustix::io::Errno::INTR) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Without `poll`, a read blocks: a stop is seen at the next input.
#[cfg(not(unix))]
fn readable(_: &File, _: std::time::Duration) -> io::Result<bool> {
    Ok(true)
}

/// Standard input as an unbuffered file of its own descriptor (a
/// duplicate), so that it can be polled; `None` where that is not possible.
#[cfg(unix)]
fn stdin_file() -> Option<File> {
    use std::os::fd::AsFd;
    io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .ok()
        .map(File::from)
}

#[cfg(not(unix))]
fn stdin_file() -> Option<File> {
    None
}

/// Whether reading a source of this metadata may wait for input that has
/// not arrived yet: anything but a regular file (a pipe, a terminal, a
/// socket, a FIFO). Lines from such a source are redacted and written as
/// they come instead of in full batches.
fn may_wait(meta: io::Result<std::fs::Metadata>) -> bool {
    !meta.is_ok_and(|m| m.is_file())
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(|&b| json::is_ws(b))
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

fn worker(
    engine: Arc<dyn Redactor>,
    rx: Receiver<Batch>,
    tx: Sender<Done>,
    stats: Arc<Mutex<Stats>>,
) {
    let mut local = Stats::new(engine.policy());
    for mut batch in rx {
        let mut out = std::mem::take(&mut batch.out);
        out.clear();
        out.reserve(batch.data.len() + batch.data.len() / 8);
        let mut rejects = Vec::new();
        for l in &batch.lines {
            let line = &batch.data[l.start..l.end];
            // Straight into the batch's output: on a reject nothing is added.
            match engine.redact_append(line, &mut out, &mut local) {
                Ok(()) => out.push(b'\n'),
                Err(reject) => rejects.push(RejectRec {
                    source: batch.source.clone(),
                    line_no: l.line_no,
                    reject,
                    raw: Some((l.start, l.end)),
                }),
            }
        }
        if tx
            .send(Done {
                seq: batch.seq,
                out,
                rejects,
                batch,
            })
            .is_err()
        {
            break;
        }
    }
    if let Ok(mut s) = stats.lock() {
        s.merge(&local);
    }
}

struct Writer {
    out: BufWriter<Box<dyn Write + Send>>,
    /// What a write error names: `output <path>` or `stdout`.
    out_name: String,
    quarantine: Option<Arc<Mutex<Quarantine>>>,
    /// What a quarantine write error names: `quarantine <path>`.
    quarantine_name: String,
    rejected: u64,
    free: Sender<Buffers>,
    /// The progress bar, which a line on stderr must not write over.
    progress: Option<indicatif::ProgressBar>,
}

impl Writer {
    fn report(&mut self, r: &RejectRec, data: &[u8]) -> io::Result<()> {
        self.rejected += 1;
        match &self.quarantine {
            Some(q) => {
                let (s, e) = r.raw.unwrap_or((0, 0));
                let mut q = q
                    .lock()
                    .map_err(|_| io::Error::other("quarantine lock poisoned"))?;
                q.record(&r.source, r.line_no, &r.reject, &data[s..e])?;
            }
            None => {
                say(
                    self.progress.as_ref(),
                    &format!(
                        "redactor: {}:{}: rejected: {}",
                        r.source, r.line_no, r.reject
                    ),
                );
            }
        }
        let (s, e) = r.raw.unwrap_or((0, 0));
        if let Some(hint) = first_line_hint(&r.source, r.line_no, &r.reject, &data[s..e]) {
            say(self.progress.as_ref(), &hint);
        }
        Ok(())
    }

    fn run(mut self, rx: Receiver<Done>) -> Result<Writer> {
        let mut pending: BTreeMap<u64, Done> = BTreeMap::new();
        let mut next = 0u64;
        loop {
            let d = match rx.try_recv() {
                Ok(d) => d,
                Err(TryRecvError::Disconnected) => break,
                Err(TryRecvError::Empty) => {
                    // Nothing more is ready: what is written goes out now,
                    // so that lines from a slow source do not wait in the
                    // buffers for the ones after them.
                    self.flush()?;
                    match rx.recv() {
                        Ok(d) => d,
                        Err(_) => break,
                    }
                }
            };
            pending.insert(d.seq, d);
            while let Some(d) = pending.remove(&next) {
                self.write(&d.out)
                    .with_context(|| format!("cannot write {}", self.out_name))?;
                for r in &d.rejects {
                    self.report(r, &d.batch.data)
                        .with_context(|| format!("cannot write {}", self.quarantine_name))?;
                }
                next += 1;
                let _ = self
                    .free
                    .send(Buffers::recycle(d.batch.data, d.batch.lines, d.out));
            }
        }
        self.flush()?;
        Ok(self)
    }

    /// Writes a batch's output. A large one (a batch from a file) goes
    /// straight to the output after what the buffer holds, instead of
    /// through the buffer: one copy of every output byte fewer.
    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        if bytes.len() >= DIRECT_WRITE {
            self.out.flush()?;
            self.out.get_mut().write_all(bytes)
        } else {
            self.out.write_all(bytes)
        }
    }

    /// Flushes the quarantine, then the output (so that a reader who sees
    /// an output line also finds the rejects of the lines before it).
    fn flush(&mut self) -> Result<()> {
        if let Some(q) = &self.quarantine {
            q.lock()
                .map_err(|_| anyhow::anyhow!("quarantine lock poisoned"))?
                .w
                .flush()
                .with_context(|| format!("cannot write {}", self.quarantine_name))?;
        }
        self.out
            .flush()
            .with_context(|| format!("cannot write {}", self.out_name))
    }
}

/// Runs the filter; prints stats when asked.
///
/// # Errors
///
/// Unreadable inputs, unwritable outputs (except a closed pipe).
pub fn run(policy: Arc<Policy>, engine: Arc<dyn Redactor>, opts: &Options) -> Result<Outcome> {
    let started = Instant::now();
    let threads = opts.threads.max(1);
    // Nothing is created or truncated before it is known that every input
    // can be read and that none would be written over.
    let mut reads: Vec<Named> = opts
        .inputs
        .iter()
        .map(|p| {
            p.as_ref()
                .map_or_else(|| Ok(Named::stdin()), |p| check_input(p))
        })
        .collect::<Result<_>>()?;
    reads.extend(Named::policy_files(&policy));
    let mut writes = vec![match &opts.output {
        Some(p) => Named::path("--output", p),
        None => Named::stdout(),
    }];
    writes.extend(
        opts.quarantine
            .iter()
            .map(|p| Named::path("--quarantine", p)),
    );
    same_file::refuse_overwrite(&reads, &writes)?;
    // Two existing files are told apart now, before either is opened.
    same_file::refuse_shared(&writes)?;
    // The quarantine first: its open appends and truncates nothing, so a
    // quarantine that cannot be opened (or that another run holds) leaves
    // an existing output as it was.
    let quarantine_name = opts
        .quarantine
        .as_ref()
        .map_or_else(String::new, |p| format!("quarantine {}", p.display()));
    let quarantine_file = match &opts.quarantine {
        Some(p) => Some((
            p,
            open_appending(p, true)
                .with_context(|| format!("cannot open quarantine {}", p.display()))?,
        )),
        None => None,
    };
    let (out, out_named): (Box<dyn Write + Send>, Named) = match &opts.output {
        Some(p) if opts.append => {
            let f = open_appending(p, false)
                .with_context(|| format!("cannot open output {}", p.display()))?;
            let named = Named::file("--output", p, &f);
            (Box::new(f), named)
        }
        Some(p) => {
            let f =
                File::create(p).with_context(|| format!("cannot create output {}", p.display()))?;
            let named = Named::file("--output", p, &f);
            (Box::new(f), named)
        }
        // Already looked up for the check above: the first of `writes`.
        None => (Box::new(io::stdout()), writes.swap_remove(0)),
    };
    let out = BufWriter::with_capacity(256 * 1024, out);
    let quarantine = match quarantine_file {
        Some((p, f)) => {
            // Only now can two new files' names be told apart.
            same_file::refuse_shared(&[out_named, Named::file("--quarantine", p, &f)])?;
            Some(Arc::new(Mutex::new(Quarantine {
                w: BufWriter::new(f),
            })))
        }
        None => None,
    };
    // Four per worker: batches finish out of order, and the writer keeps
    // each one until those before it are written. With two per worker the
    // reader often waited for a buffer while a worker waited for a batch
    // (two threads: 1.8-1.9 of the 2 CPUs busy; with four: 1.95-2.0).
    let permits = threads * 4 + 2;
    let (free_tx, free_rx) = bounded::<Buffers>(permits);
    for _ in 0..permits {
        free_tx.send(Buffers::default()).ok();
    }
    let (work_tx, work_rx) = bounded::<Batch>(permits);
    let (done_tx, done_rx) = bounded::<Done>(permits);
    let stats = Arc::new(Mutex::new(Stats::new(&policy)));
    let mut workers = Vec::new();
    for i in 0..threads {
        let (engine, rx, tx, stats) = (
            engine.clone(),
            work_rx.clone(),
            done_tx.clone(),
            stats.clone(),
        );
        workers.push(
            std::thread::Builder::new()
                .name(format!("redact-{i}"))
                .spawn(move || worker(engine, rx, tx, stats))?,
        );
    }
    drop(work_rx);
    drop(done_tx);
    let progress = make_progress(opts);
    let writer = Writer {
        out,
        out_name: opts.output.as_ref().map_or_else(
            || "stdout".to_string(),
            |p| format!("output {}", p.display()),
        ),
        quarantine: quarantine.clone(),
        quarantine_name: quarantine_name.clone(),
        rejected: 0,
        free: free_tx,
        progress: progress.clone(),
    };
    let writer = std::thread::Builder::new()
        .name("writer".into())
        .spawn(move || writer.run(done_rx))?;

    // Lines over the limit, streamed past the engines: their rejects and
    // bytes are counted here.
    let mut extra_rejects = 0u64;
    let mut extra_bytes = 0u64;
    let mut blank = 0u64;
    let mut stopped = None;
    let read_result = (|| -> Result<()> {
        let mut seq = 0u64;
        let sources: Vec<Option<&PathBuf>> = opts.inputs.iter().map(Option::as_ref).collect();
        let mut done_bytes = 0u64;
        // The signal that asked for a stop, 0 while none did.
        let stop_signal = || stop_requested(opts.stop.as_ref());
        for src in sources {
            let Source {
                name,
                reader,
                waits,
                watch,
                compressed,
            } = Source::open(src, opts.stop.as_ref())?;
            // How far into the file the reading is: the compressed bytes of
            // a gzip file, else the bytes of its lines.
            let position = |lr: &LineReader<Box<dyn Read>>| {
                compressed
                    .as_ref()
                    .map_or(lr.bytes_read, |c| c.load(Ordering::Relaxed))
            };
            let mut lr = LineReader::new(reader, policy.limits.max_line_bytes);
            let mut line_no = 0u64;
            // The lines lent by `lr` since the last batch went, the output
            // buffer of the next batch, and the buffer `lr` goes on in when
            // the batch takes its buffer.
            let mut next = Buffers::default();
            // Hands the lines lent so far to the workers, in the buffer
            // they were read into. False when the workers are gone.
            let mut ship = |lr: &mut LineReader<Box<dyn Read>>, next: &mut Buffers| {
                let Ok(mut after) = free_rx.recv() else {
                    return false;
                };
                after.lines.clear();
                let Buffers { data, lines, out } = std::mem::replace(next, after);
                let batch = Batch {
                    seq,
                    source: name.clone(),
                    data: lr.swap_buffer(data),
                    lines,
                    out,
                };
                seq += 1;
                work_tx.send(batch).is_ok()
            };
            loop {
                // A file stops at a line boundary: what is buffered past it
                // stays unread in the file. (A source that may wait ends at
                // its next read instead, see `Stoppable`: what it gave is
                // gone from it, so every byte of it is handled.)
                if !waits && stop_signal() != 0 {
                    break;
                }
                // The lines lent so far go on before a read that would move
                // them (their buffer is full) or that may wait (from a pipe
                // fed by `tail -F`), or when there are many.
                if !next.lines.is_empty()
                    && (next.lines.len() >= BATCH_LINES
                        || !lr.ready() && (lr.needs_swap() || waits && !has_input(watch.as_ref())))
                {
                    if !ship(&mut lr, &mut next) {
                        return Ok(());
                    }
                    if let Some(pb) = &progress {
                        pb.set_position(done_bytes + position(&lr));
                    }
                }
                let span = match lr.next_span() {
                    Ok(span) => span,
                    Err(e) => {
                        // The lines read before the error (a gzip file cut
                        // short, a disk error) are still redacted and
                        // written; the error names where it came.
                        if !next.lines.is_empty() {
                            ship(&mut lr, &mut next);
                        }
                        return Err(anyhow::Error::new(e)
                            .context(format!("cannot read {name} after line {line_no}")));
                    }
                };
                match span {
                    Span::Eof => break,
                    Span::Line(l) => {
                        line_no += 1;
                        if is_blank(&lr.buffer()[l.clone()]) {
                            blank += 1;
                            continue;
                        }
                        next.lines.push(LineRef {
                            start: l.start,
                            end: l.end,
                            line_no,
                        });
                    }
                    Span::TooLong => {
                        // Streamed past the lines lent before it, which stay.
                        line_no += 1;
                        extra_rejects += 1;
                        let limit = policy.limits.max_line_bytes;
                        let n = match &quarantine {
                            Some(q) => {
                                let mut q = q
                                    .lock()
                                    .map_err(|_| anyhow::anyhow!("quarantine lock poisoned"))?;
                                let placeholder = Reject::TooLarge {
                                    len: limit as u64 + 1,
                                    limit,
                                };
                                q.head(&name, line_no, &placeholder, None)
                                    .with_context(|| format!("cannot write {quarantine_name}"))?;
                                let mut st = B64Stream {
                                    w: &mut q.w,
                                    carry: Vec::new(),
                                };
                                let n = lr
                                    .drain_long(|b| st.push(b))
                                    .with_context(|| format!("cannot read {name}"))?;
                                st.finish()
                                    .with_context(|| format!("cannot write {quarantine_name}"))?;
                                q.w.write_all(format!("\",\"bytes\":{n}}}\n").as_bytes())
                                    .and_then(|()| q.w.flush())
                                    .with_context(|| format!("cannot write {quarantine_name}"))?;
                                n
                            }
                            None => {
                                let n = lr
                                    .drain_long(|_| Ok(()))
                                    .with_context(|| format!("cannot read {name}"))?;
                                say(
                                    progress.as_ref(),
                                    &format!(
                                        "redactor: {name}:{line_no}: rejected: {}",
                                        Reject::TooLarge { len: n, limit }
                                    ),
                                );
                                n
                            }
                        };
                        extra_bytes += n;
                    }
                }
            }
            done_bytes += position(&lr);
            if !next.lines.is_empty() && !ship(&mut lr, &mut next) {
                return Ok(());
            }
            // A stop ends this input early (its reads return 0) and skips
            // the ones after it.
            let signal = stop_signal();
            if signal != 0 {
                stopped = Some(Stopped {
                    signal,
                    source: name,
                    line: line_no,
                });
                break;
            }
        }
        Ok(())
    })();
    drop(work_tx);
    for w in workers {
        let _ = w.join();
    }
    let writer_result = writer
        .join()
        .map_err(|_| anyhow::anyhow!("writer thread panicked"))?;
    if let Some(pb) = &progress {
        pb.finish_and_clear();
    }
    let (rejected, broken_pipe) = match writer_result {
        Ok(w) => (w.rejected, false),
        Err(e) if is_broken_pipe(&e) => (0, true),
        Err(e) => return Err(e),
    };
    read_result?;
    let mut stats = stats
        .lock()
        .map_err(|_| anyhow::anyhow!("stats lock poisoned"))?
        .clone();
    stats.rejects[3] += extra_rejects;
    stats.bytes_in += extra_bytes;
    if opts.stats {
        print_stats(&policy, &stats, blank, started.elapsed());
    } else if progress.is_some() {
        // The bar is gone: one line says what the run did.
        print_summary(&stats, started.elapsed());
    }
    Ok(Outcome {
        rejected: rejected + extra_rejects,
        quarantined: opts.quarantine.is_some(),
        broken_pipe,
        stopped,
    })
}

fn make_progress(opts: &Options) -> Option<indicatif::ProgressBar> {
    // With stdin among the inputs there is no total to show.
    if !opts.progress || opts.inputs.iter().any(Option::is_none) || !io::stderr().is_terminal() {
        return None;
    }
    let total: u64 = opts
        .inputs
        .iter()
        .flatten()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let pb = indicatif::ProgressBar::new(total);
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Some(pb)
}

/// Prints `line` on stderr, above the progress bar when one is shown.
fn say(progress: Option<&indicatif::ProgressBar>, line: &str) {
    match progress {
        Some(pb) => pb.suspend(|| eprintln!("{line}")),
        None => eprintln!("{line}"),
    }
}

/// The line that replaces the progress bar at the end of a run without
/// `--stats`.
fn print_summary(s: &Stats, elapsed: std::time::Duration) {
    let secs = elapsed.as_secs_f64().max(1e-9);
    eprintln!(
        "redactor: {} lines redacted, {} rejected, {:.1} MB in {:.2} s ({:.1} MB/s)",
        s.lines_ok,
        s.rejects.iter().sum::<u64>(),
        s.bytes_in as f64 / 1e6,
        secs,
        s.bytes_in as f64 / secs / 1e6
    );
}

fn print_stats(policy: &Policy, s: &Stats, blank: u64, elapsed: std::time::Duration) {
    let secs = elapsed.as_secs_f64().max(1e-9);
    let rejected: u64 = s.rejects.iter().sum();
    let mut e = io::stderr().lock();
    let _ = writeln!(e, "redactor: stats");
    let _ = writeln!(e, "  lines redacted   {:>12}", s.lines_ok);
    let _ = writeln!(e, "  lines rejected   {:>12}", rejected);
    let _ = writeln!(e, "  blank lines      {:>12}", blank);
    let _ = writeln!(e, "  bytes in         {:>12}", s.bytes_in);
    let _ = writeln!(e, "  bytes out        {:>12}", s.bytes_out);
    let _ = writeln!(
        e,
        "  elapsed          {:>12.3} s  ({:.1} MB/s, {:.0} lines/s)",
        secs,
        s.bytes_in as f64 / secs / 1e6,
        s.lines_ok as f64 / secs
    );
    let _ = writeln!(e, "  rejects by reason");
    for (code, n) in Reject::CODES.iter().zip(s.rejects) {
        let _ = writeln!(e, "    {code:<28} {n:>12}");
    }
    let _ = writeln!(e, "  rules fired");
    for (rule, n) in policy.rules.iter().zip(&s.rules) {
        if *n > 0 {
            let _ = writeln!(
                e,
                "    {:<28} {n:>12}  ({})",
                rule.label(),
                rule.action.name()
            );
        }
    }
    if s.allowlist_dropped > 0 {
        let _ = writeln!(
            e,
            "    {:<28} {:>12}  (drop)",
            "(allowlist: not kept)", s.allowlist_dropped
        );
    }
    let _ = writeln!(e, "  detector matches");
    for (d, n) in policy.detectors.list.iter().zip(&s.detectors) {
        let _ = writeln!(
            e,
            "    {:<28} {n:>12}  ({})",
            d.kind.name(),
            d.action.name()
        );
    }
}
