//! `redactor`: redacts JSON telemetry before it reaches third-party vendors.
//!
//! `main` parses arguments, calls [`run`], prints the error chain once and
//! exits with 0 (success), 1 (runtime error), 2 (usage or policy error) or
//! 3 (some lines were rejected and no quarantine file was given).

#![forbid(unsafe_code)]

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::same_file::Named;

mod bench;
mod commands;
mod compressed;
mod filter;
mod same_file;

/// Redacts JSON telemetry (NDJSON) before it reaches third-party vendors.
///
/// Identifying fields are dropped, generalised, masked or replaced by keyed
/// tokens; free text is scanned for emails, IPs, card numbers, IBANs, phone
/// numbers, social security numbers, MAC addresses, credentials, and
/// personal data and user, device and organisation ids in `name=value`
/// parameters (URL queries, `key=value` logs), in SQL statements and the
/// values database servers and ORMs log bound to them, and in XML
/// bodies and SAML assertions, and the names beside email addresses
/// (`Author: Ann Lee <ann@...>`); the query of an HTTP request
/// line in text goes whole, as does the referrer's query of an access-log
/// line (combined log format), whose user is tokenized and User-Agent
/// reduced; a user's name in a home directory path, in an SSH, PAM, sudo
/// or database login message, in a Windows security event's text or in an
/// LDAP distinguished name is tokenized. Invalid lines are never
/// forwarded: they are quarantined with a reason. With no --policy, a
/// built-in policy applies every preset (mixpanel, segment, amplitude,
/// posthog, snowplow, ga4, otel, and credentials and personal for fields
/// under their usual names in any payload) and every detector.
#[derive(Debug, Parser)]
#[command(
    name = "redactor",
    version,
    propagate_version = true,
    max_term_width = 100
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Redact NDJSON from files or stdin to a file or stdout.
    ///
    /// One output line per valid input line, in input order. Blank lines are
    /// skipped. Each invalid line (bad JSON or UTF-8, too deep, too large) is
    /// written to the quarantine file with its source, line number, reason and
    /// original bytes; without --quarantine it is reported on stderr by line
    /// number and reason only, and the exit status is 3. Lines from a pipe
    /// (`tail -F app.ndjson | redactor filter`) are written as soon as they
    /// are redacted, without waiting for more input. SIGINT, SIGTERM or
    /// SIGHUP stops the reading: every line already read is still written
    /// or rejected, stderr names the last line read, and the status is 130,
    /// 143 or 129 (a second signal ends at once). An output, quarantine or
    /// stdout that is one of the inputs (also through a link) is refused
    /// with status 2 before anything is written. On a terminal, a run over files shows a
    /// progress bar and ends with a one-line summary (--stats prints the
    /// full counts instead); stdin on a terminal gets a hint that Ctrl-D
    /// ends the input.
    Filter {
        #[command(flatten)]
        policy: PolicyFile,
        /// Write redacted lines here instead of stdout (`-`: stdout; an
        /// existing file is replaced, unless --append).
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Append to the --output file instead of replacing it, as a filter
        /// restarted beside a log shipper must (a line a killed run cut
        /// short is ended with a newline first; a second run is refused
        /// while one appends, since their lines would interleave).
        #[arg(short, long, requires = "output")]
        append: bool,
        /// Append rejected lines here (NDJSON, original bytes in base64; the
        /// records of earlier runs are kept, and a second run is refused
        /// while one writes it; a new file is readable by its owner only).
        #[arg(short, long, value_name = "FILE")]
        quarantine: Option<PathBuf>,
        /// Print counts per rule, detector and reject reason, and the bytes read (rejected lines
        /// included) and written, to stderr at the end.
        #[arg(long)]
        stats: bool,
        /// Worker threads, at most 1024 (default: the number of CPUs).
        /// Memory peaks near 15 MB plus up to 4 MB per thread.
        #[arg(short = 'j', long, value_name = "N", value_parser = count(1..=MAX_THREADS))]
        threads: Option<usize>,
        /// Never show a progress bar.
        #[arg(long)]
        no_progress: bool,
        /// Redaction engine: `fast` (zero-copy, scanner-driven) or
        /// `reference` (the DOM engine both are tested against).
        #[arg(long, value_enum, default_value_t = EngineKind::Fast)]
        engine: EngineKind,
        /// Input files, read in turn; `-` is stdin, which is read when none
        /// are given (`./-` is a file of that name). A gzip file (told by its
        /// first bytes, as rotated logs are) is read decompressed; a zstd,
        /// xz, bzip2 or lz4 file is refused before anything is written.
        #[arg(value_name = "INPUT")]
        inputs: Vec<PathBuf>,
    },
    /// Validate a policy and summarise it; --print lists every compiled rule.
    Check {
        #[command(flatten)]
        policy: PolicyFile,
        /// List every rule (presets expanded) and detector.
        #[arg(long)]
        print: bool,
        /// Output format of --print.
        #[arg(long, value_enum, default_value_t = PrintFormat::Text, requires = "print")]
        format: PrintFormat,
    },
    /// Show, per event, each field a rule or detector acted on: its path,
    /// what fired and the action. Never prints values.
    ///
    /// Fields a `keep` rule leaves as they are are listed too, and the
    /// heading of each event counts them apart from the rewrites.
    ///
    /// Lines from a pipe are explained as they arrive. SIGINT, SIGTERM or
    /// SIGHUP stops the reading: every line already read is still explained,
    /// stderr names the last line read, and the status is 130, 143 or 129.
    Explain {
        #[command(flatten)]
        policy: PolicyFile,
        /// Redaction engine (see `filter --help`).
        #[arg(long, value_enum, default_value_t = EngineKind::Fast)]
        engine: EngineKind,
        /// Input files, read in turn; `-` is stdin, which is read when none
        /// are given. A gzip file is read decompressed (see `filter
        /// --help`); every input is checked before any is explained.
        #[arg(value_name = "INPUT")]
        inputs: Vec<PathBuf>,
    },
    /// Run as a Kafka pipeline stage: input topics to a redacted output
    /// topic, with a dead-letter topic for records that cannot be redacted.
    ///
    /// Offsets are committed only after the broker acknowledged the output
    /// (at-least-once), or inside producer transactions (exactly-once).
    /// Serves Prometheus /metrics and /health; stops on SIGTERM or SIGINT
    /// after draining in-flight records. Logs on stderr, as text or JSON;
    /// `REDACTOR_LOG` sets the filter (default `info`; the Kafka client's
    /// own lines have the target `librdkafka`). See docs/kafka.md.
    Kafka {
        /// Stage configuration (TOML): brokers, topics, delivery, record key
        /// and header rules, metrics endpoint.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Policy file; overrides the configuration's `policy` (the built-in
        /// default policy when neither is given).
        #[arg(short, long, value_name = "FILE")]
        policy: Option<PathBuf>,
        /// Log format on stderr (overrides `[metrics] log_format`).
        #[arg(long, value_enum, value_name = "FORMAT")]
        log_format: Option<LogFormatArg>,
        /// Validate the configuration and the policy, print a summary and
        /// exit without connecting.
        #[arg(long)]
        check: bool,
    },
    /// Measure throughput against the physical floor and baselines, in one
    /// run, on generated corpora (or your input) in memory.
    ///
    /// Measures, interleaved and repeated: a plain copy and a line split
    /// (the floor); the scanner alone against serde_json's validation
    /// (`IgnoredAny`) and simd-json's tape; the reference DOM engine, a
    /// simd-json parse, mutate and serialize round trip of the same policy
    /// (with the same compiled, cached selectors and detectors) and the
    /// same round trip without a policy (the baselines); the fast engine
    /// with the policy, each preset alone, detectors off and only,
    /// allowlist mode, each wire format; the fast engine on 1..N threads;
    /// and `redactor filter` end to end on 1..N threads (the corpus from a
    /// temporary file to a new temporary file each run, in this process),
    /// with its ratios to the in-memory engine (and, beside the ratio of N
    /// threads to one, the in-memory engine's own ratio on N threads).
    /// Ratios are the median over the rounds of the ratio within each
    /// round, so that a machine whose speed drifts moves both sides alike.
    /// Beneath the table, the ratios the speed targets name (scanner to
    /// baselines, engine to baselines, filter to engine, threads to one),
    /// each with its lowest and highest round in brackets.
    /// Every engine's output is checked against the reference first.
    /// SIGINT, SIGTERM or SIGHUP stops it at its next measurement, without
    /// a report, removing its temporary files (status 130, 143 or 129). `bench
    /// kafka` measures the Kafka stage through a broker.
    #[command(args_conflicts_with_subcommands = true)]
    Bench {
        #[command(subcommand)]
        what: Option<BenchWhat>,
        /// Policy file; the built-in default policy when omitted (then the
        /// preset, detector and allowlist variants are measured too).
        #[arg(short, long, value_name = "FILE")]
        policy: Option<PathBuf>,
        /// Measure on this NDJSON file (`-`: stdin; a gzip file is read
        /// decompressed) instead of generated corpora; at most 1 GiB of
        /// text, since it is held in memory (about 4x).
        /// Under 10 MB fixed costs weigh on the figures, and the run warns.
        #[arg(short, long, value_name = "FILE")]
        input: Option<PathBuf>,
        /// Events per generated corpus (each format and mixed); the
        /// default makes about 20 MB of mixed events.
        #[arg(short = 'n', long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(1..))]
        events: u64,
        /// Rounds; the median and the spread are reported.
        #[arg(long, default_value_t = 5, value_parser = count(1..))]
        rounds: usize,
        /// Highest thread count of the scaling curve, at most 1024 (default:
        /// the CPUs).
        #[arg(short = 'j', long, value_name = "N", value_parser = count(1..=MAX_THREADS))]
        threads: Option<usize>,
        /// Also write the results here as JSON.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// Draw a bar chart of throughput and the thread-scaling curve here (SVG).
        #[arg(long, value_name = "FILE.svg")]
        plot: Option<PathBuf>,
    },
    /// Generate deterministic, realistic synthetic telemetry as NDJSON.
    ///
    /// With stderr on a terminal and the lines going to a file or a pipe,
    /// a progress bar shows, and a one-line summary ends the run.
    Gen {
        /// Wire format of the events: mixpanel, segment, amplitude, posthog,
        /// otel, mixed (each line from a random one of those five, the
        /// benchmark corpus), snowplow (enriched events in the Analytics
        /// SDKs' JSON and trackers' payload_data envelopes), or logs
        /// (structured application and access logs as log shippers carry
        /// them: ECS-style nested objects, flat dotted names, and nginx- and
        /// Traefik-style access log lines; messages hold request lines,
        /// `key=value` lines with ids, and free text).
        #[arg(short, long, default_value = "mixed", value_parser = parse_format)]
        format: redactor_core::gen::Format,
        /// Number of lines.
        #[arg(short = 'n', long, default_value_t = 1000)]
        count: u64,
        /// Seed; the same seed gives the same bytes.
        #[arg(short, long, default_value_t = 1)]
        seed: u64,
        /// Write here instead of stdout (`-`: stdout).
        #[arg(short, long, value_name = "FILE", conflicts_with = "kafka_brokers")]
        output: Option<PathBuf>,
        /// Produce the events to a Kafka topic at these brokers instead
        /// (needs --kafka-topic); a broker must answer within 10 s.
        #[arg(long, value_name = "HOST:PORT", requires = "kafka_topic")]
        kafka_brokers: Option<String>,
        /// The topic for --kafka-brokers.
        #[arg(long, value_name = "TOPIC", requires = "kafka_brokers")]
        kafka_topic: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum EngineKind {
    Fast,
    Reference,
}

fn engine_for(
    kind: EngineKind,
    policy: Arc<redactor_core::Policy>,
) -> Arc<dyn redactor_core::Redactor> {
    match kind {
        EngineKind::Fast => Arc::new(redactor_core::Fast::new(policy)),
        EngineKind::Reference => Arc::new(redactor_core::Reference::new(policy)),
    }
}

/// The policy option of `filter`, `explain` and `check`: `-p`/`--policy` as
/// for `bench` and `kafka`, and `-c`/`--config`, its first name.
#[derive(Debug, Args)]
struct PolicyFile {
    /// Policy file (TOML); the built-in default policy when omitted.
    #[arg(
        short = 'p',
        long = "policy",
        visible_short_alias = 'c',
        visible_alias = "config",
        value_name = "FILE"
    )]
    path: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum BenchWhat {
    /// End to end through a Kafka broker: events/s of the redacting stage
    /// against a pass-through stage (same consumer, producer and offset
    /// handling, no redaction), interleaved and repeated, then the latency
    /// each adds at a fixed rate. Uses fresh `redactor-bench-*` topics and
    /// deletes them at the end, also after a failure or Ctrl-C.
    Kafka {
        /// Bootstrap servers of the broker to use.
        #[arg(long, value_name = "HOST:PORT")]
        brokers: String,
        /// Policy file; the built-in default policy when omitted.
        #[arg(short, long, value_name = "FILE")]
        policy: Option<PathBuf>,
        /// Events in the throughput corpus (`gen --format mixed`).
        #[arg(long, default_value_t = 200_000, value_parser = count(1..))]
        events: usize,
        /// Rounds; each runs both stages.
        #[arg(long, default_value_t = 3, value_parser = count(1..))]
        rounds: usize,
        /// Partitions of the benchmark topics.
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(i32).range(1..))]
        partitions: i32,
        /// Redaction threads of the stage, at most 1024 (default: one per
        /// core).
        #[arg(short = 'j', long, default_value_t = 0, value_parser = count(0..=MAX_THREADS))]
        workers: usize,
        /// Events per second in the latency phase (0 skips it).
        #[arg(long, default_value_t = 5000)]
        latency_rate: u64,
        /// Seconds of the latency phase, per stage.
        #[arg(long, default_value_t = 5)]
        latency_secs: u64,
        /// Leave the benchmark topics on the broker; by default they are
        /// deleted at the end, also after a failure or Ctrl-C.
        #[arg(long)]
        keep_topics: bool,
        /// Also write the results here as JSON.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormatArg {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum PrintFormat {
    Text,
    Markdown,
}

fn parse_format(s: &str) -> Result<redactor_core::gen::Format, String> {
    redactor_core::gen::Format::from_name(s).ok_or_else(|| {
        let names: Vec<&str> = redactor_core::gen::Format::ALL
            .iter()
            .map(|f| f.name())
            .collect();
        format!(
            "unknown format {s:?} (expected one of: {})",
            names.join(", ")
        )
    })
}

/// An error that exits with status 2 (usage or policy).
#[derive(Debug)]
pub(crate) struct UsageError(pub(crate) String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// The most threads a command starts, as a bound of [`count`].
const MAX_THREADS: u64 = redactor_core::MAX_THREADS as u64;

/// Parses a count in `range`; clap reports one outside it as a usage error
/// (status 2) before anything runs.
fn count(range: impl std::ops::RangeBounds<u64>) -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::new().range(range)
}

/// The warning due when `REDACTOR_SIMD` asks for a backend that is not
/// the one in use: a name the scanner does not know, or a backend this CPU
/// cannot run. The scanner falls back to the fastest backend then, and a
/// comparison of backends would silently compare one with itself.
fn unused_simd_request() -> Option<String> {
    let wanted = std::env::var_os("REDACTOR_SIMD")?;
    let wanted = wanted.to_string_lossy();
    if wanted.is_empty() || wanted == "auto" {
        return None;
    }
    let used = redactor_scan::Backend::detect();
    match redactor_scan::Backend::ALL
        .into_iter()
        .find(|b| b.name() == wanted)
    {
        None => Some(format!(
            "REDACTOR_SIMD={wanted:?} names no backend (scalar, avx2, avx512, neon or auto); using {}",
            used.name()
        )),
        Some(b) if b != used => Some(format!(
            "REDACTOR_SIMD={wanted}: this CPU cannot run that backend; using {}",
            used.name()
        )),
        Some(_) => None,
    }
}

/// Whether `path` is `-`, which names stdin or stdout as in most Unix
/// tools (`./-` names a file of that name).
pub(crate) fn is_dash(path: &std::path::Path) -> bool {
    path.as_os_str() == "-"
}

/// `path`, or `None` when it [`is_dash`].
fn unless_dash(path: Option<PathBuf>) -> Option<PathBuf> {
    path.filter(|p| !is_dash(p))
}

/// Loads the policy at `path` (the built-in default one without), printing
/// its warnings on stderr.
fn load_policy(path: Option<&std::path::Path>) -> anyhow::Result<Arc<redactor_core::Policy>> {
    let policy = load_policy_quietly(path)?;
    for w in &policy.warnings {
        eprintln!("redactor: warning: {w}");
    }
    Ok(policy)
}

/// Refuses `-` for a bench report file (`flag`): stdout carries the table.
fn refuse_dash_report(flag: &str, path: Option<&std::path::Path>) -> anyhow::Result<()> {
    if path.is_some_and(is_dash) {
        return Err(UsageError(format!(
            "{flag} -: the report must be a file, since stdout carries the table \
             (`./-` names a file called -)"
        ))
        .into());
    }
    Ok(())
}

/// Where a policy comes from, as `check` names it.
fn policy_origin(path: Option<&std::path::Path>) -> String {
    path.map_or("built-in default policy".to_string(), |p| {
        p.display().to_string()
    })
}

/// Loads a policy as [`load_policy`] does, leaving its warnings to the
/// caller (the Kafka stage logs them).
fn load_policy_quietly(
    path: Option<&std::path::Path>,
) -> anyhow::Result<Arc<redactor_core::Policy>> {
    let policy = match path {
        Some(p) => redactor_core::policy::load_file(p),
        None => redactor_core::Policy::builtin(),
    };
    Ok(Arc::new(policy.map_err(|e| UsageError(e.to_string()))?))
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // The Kafka stage logs this warning in its log's format; every other
    // command says it first.
    let simd_warning = unused_simd_request();
    let stage_run = matches!(cli.command, Command::Kafka { check: false, .. });
    if let (Some(w), false) = (&simd_warning, stage_run) {
        eprintln!("redactor: warning: {w}");
    }
    match cli.command {
        Command::Filter {
            policy,
            output,
            append,
            quarantine,
            stats,
            threads,
            no_progress,
            engine,
            inputs,
        } => {
            let threads = threads.unwrap_or_else(redactor_core::default_threads);
            if quarantine.as_deref().is_some_and(is_dash) {
                return Err(UsageError(
                    "--quarantine -: the quarantine must be a file, since stdout or the \
                     output carries the redacted lines (`./-` names a file called -)"
                        .into(),
                )
                .into());
            }
            let policy = load_policy(policy.path.as_deref())?;
            let engine = engine_for(engine, policy.clone());
            let inputs = if inputs.is_empty() {
                vec![None]
            } else {
                inputs.into_iter().map(|p| unless_dash(Some(p))).collect()
            };
            let opts = filter::Options {
                inputs,
                output: unless_dash(output),
                append,
                quarantine,
                stats,
                threads,
                progress: !no_progress,
                stop: Some(filter::stop_on_signals().context("cannot watch for signals")?),
            };
            let outcome = filter::run(policy, engine, &opts)?;
            if outcome.broken_pipe {
                return Ok(ExitCode::SUCCESS);
            }
            let mut code = ExitCode::SUCCESS;
            if outcome.rejected > 0 && !outcome.quarantined {
                eprintln!("redactor: {} line(s) rejected and not forwarded; use --quarantine FILE to keep them", outcome.rejected);
                code = ExitCode::from(3);
            }
            if let Some(s) = outcome.stopped {
                code = s.report("written or rejected");
            }
            Ok(code)
        }
        Command::Check {
            policy,
            print,
            format,
        } => {
            let origin = policy_origin(policy.path.as_deref());
            let policy = load_policy(policy.path.as_deref())?;
            let mut out = io::stdout().lock();
            match (print, format) {
                (true, PrintFormat::Markdown) => commands::print_markdown(&policy, &mut out),
                (true, PrintFormat::Text) => commands::print_summary(&policy, &origin, &mut out)
                    .and_then(|()| commands::print_rules(&policy, &mut out)),
                (false, _) => commands::print_summary(&policy, &origin, &mut out),
            }
            .and_then(|()| out.flush())
            .context(commands::WRITE_STDOUT)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Explain {
            policy,
            engine,
            inputs,
        } => {
            let inputs: Vec<Option<PathBuf>> = if inputs.is_empty() {
                vec![None]
            } else {
                inputs.into_iter().map(|p| unless_dash(Some(p))).collect()
            };
            let policy = load_policy(policy.path.as_deref())?;
            // Every input is checked before the first is explained, as
            // `filter` checks them before it writes.
            let mut reads = inputs
                .iter()
                .map(|p| {
                    p.as_ref()
                        .map_or_else(|| Ok(Named::stdin()), |p| filter::check_input(p))
                })
                .collect::<anyhow::Result<Vec<Named>>>()?;
            reads.extend(Named::policy_files(&policy));
            same_file::refuse_overwrite(&reads, &[Named::stdout()])?;
            let engine = engine_for(engine, policy);
            let stop = filter::stop_on_signals().context("cannot watch for signals")?;
            let mut rejected = 0;
            for input in &inputs {
                let (rejects, stopped) =
                    commands::explain(engine.as_ref(), input.as_ref(), Some(&stop))?;
                rejected += rejects;
                if let Some(s) = stopped {
                    return Ok(s.report("explained"));
                }
            }
            Ok(if rejected > 0 {
                ExitCode::from(3)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Kafka {
            config,
            policy,
            log_format,
            check,
        } => {
            let mut stage = redactor_kafka::StageConfig::load(&config)
                .map_err(|e| UsageError(e.to_string()))?;
            if let Some(f) = log_format {
                stage.log_format = match f {
                    LogFormatArg::Text => redactor_kafka::LogFormat::Text,
                    LogFormatArg::Json => redactor_kafka::LogFormat::Json,
                };
            }
            let policy_path = policy.or_else(|| stage.policy.clone());
            // The stage's warnings go to its log, in its format.
            let policy = if check {
                load_policy(policy_path.as_deref())?
            } else {
                load_policy_quietly(policy_path.as_deref())?
            };
            let engine: Arc<dyn redactor_core::Redactor> =
                Arc::new(redactor_core::Fast::new(policy.clone()));
            if check {
                let mut out = io::stdout().lock();
                commands::print_stage(&stage, &mut out).context(commands::WRITE_STDOUT)?;
                let origin = policy_origin(policy_path.as_deref());
                commands::print_summary(&policy, &origin, &mut out)
                    .context(commands::WRITE_STDOUT)?;
                // Record rules are checked against the policy too.
                redactor_kafka::Stage::new(stage, engine).map_err(|e| UsageError(e.to_string()))?;
                out.flush().context(commands::WRITE_STDOUT)?;
                return Ok(ExitCode::SUCCESS);
            }
            redactor_kafka::init_logging(stage.log_format);
            redactor_kafka::log_warnings(simd_warning.iter().chain(&policy.warnings));
            // From here on the log is the stage's voice: an error that
            // stops it is a line of the log, in its format.
            match redactor_kafka::run_until_signal(stage, engine) {
                Ok(_) => Ok(ExitCode::SUCCESS),
                Err(e) => {
                    redactor_kafka::log_fatal(&error_text(&e));
                    Ok(ExitCode::from(1))
                }
            }
        }
        Command::Bench {
            what: None,
            policy,
            input,
            events,
            rounds,
            threads,
            json,
            plot,
        } => {
            refuse_dash_report("--json", json.as_deref())?;
            refuse_dash_report("--plot", plot.as_deref())?;
            let max_threads = threads.unwrap_or_else(redactor_core::default_threads);
            let loaded = load_policy(policy.as_deref())?;
            let mut reads: Vec<Named> = input
                .iter()
                .map(|i| {
                    if is_dash(i) {
                        Named::stdin()
                    } else {
                        Named::path("--input", i)
                    }
                })
                .collect();
            reads.extend(Named::policy_files(&loaded));
            let mut writes = vec![Named::stdout()];
            writes.extend(json.iter().map(|p| Named::path("--json", p)));
            writes.extend(plot.iter().map(|p| Named::path("--plot", p)));
            same_file::refuse_overwrite(&reads, &writes)?;
            // Created now, so that a path that cannot be written ends the
            // run before the measuring, not after it.
            let json = json.map(|p| bench::create(&p)).transpose()?;
            let plot = plot.map(|p| bench::create(&p)).transpose()?;
            let options = bench::Options {
                events,
                rounds,
                max_threads,
                policy,
                input,
                seed: 1,
                stop: Some(filter::stop_on_signals().context("cannot watch for signals")?),
            };
            let report = bench::run(&options, loaded, |line| eprintln!("redactor bench: {line}"))?;
            let mut out = io::stdout().lock();
            bench::print(&report, &mut out)
                .and_then(|()| out.flush())
                .context(commands::WRITE_STDOUT)?;
            if let Some(f) = json {
                f.write(&bench::json(&report))?;
            }
            if let Some(f) = plot {
                f.write(&bench::svg(&report))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            what:
                Some(BenchWhat::Kafka {
                    brokers,
                    policy,
                    events,
                    rounds,
                    partitions,
                    workers,
                    latency_rate,
                    latency_secs,
                    keep_topics,
                    json,
                }),
            ..
        } => {
            refuse_dash_report("--json", json.as_deref())?;
            let policy = load_policy(policy.as_deref())?;
            let json = json.map(|p| bench::create(&p)).transpose()?;
            let engine: Arc<dyn redactor_core::Redactor> =
                Arc::new(redactor_core::Fast::new(policy));
            let options = redactor_kafka::bench::Options {
                brokers,
                events,
                rounds,
                partitions,
                workers,
                seed: 1,
                latency_rate,
                latency_secs,
                keep_topics,
                stop: Some(filter::stop_on_signals().context("cannot watch for signals")?),
            };
            let report = redactor_kafka::bench::run(&options, engine, |line| {
                eprintln!("redactor bench: {line}");
            })?;
            let mut out = io::stdout().lock();
            commands::print_kafka_bench(&report, &mut out)
                .and_then(|()| out.flush())
                .context(commands::WRITE_STDOUT)?;
            if let Some(f) = json {
                f.write(&commands::kafka_bench_json(&report))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Gen {
            format,
            count,
            seed,
            output,
            kafka_brokers,
            kafka_topic,
        } => {
            match (kafka_brokers, kafka_topic) {
                (Some(b), Some(t)) => {
                    if let Some(why) = redactor_kafka::config::bad_topic_name(&t) {
                        return Err(UsageError(format!("--kafka-topic: {why}")).into());
                    }
                    commands::gen_to_kafka(format, count, seed, &b, &t)?;
                }
                _ => commands::gen(format, count, seed, unless_dash(output).as_deref())?,
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// An error and its causes, joined by `: `. A cause whose text the line
/// already holds is left out: some errors (the Kafka client's) print their
/// source in their own message.
fn error_text(err: &anyhow::Error) -> String {
    let mut msg = err.to_string();
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        if !msg.contains(&cause) {
            msg.push_str(": ");
            msg.push_str(&cause);
        }
    }
    msg
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            if err.chain().any(|c| {
                c.downcast_ref::<io::Error>()
                    .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            if let Some(i) = err.downcast_ref::<bench::Interrupted>() {
                eprintln!("redactor: {i}");
                return ExitCode::from(128u8.saturating_add(i.signal as u8));
            }
            if let Some(i) = err.downcast_ref::<redactor_kafka::bench::Interrupted>() {
                eprintln!(
                    "redactor: stopped by {} before the measuring ended: nothing is reported",
                    filter::signal_name(i.signal)
                );
                return ExitCode::from(128u8.saturating_add(i.signal as u8));
            }
            eprintln!("redactor: {}", error_text(&err));
            if err.downcast_ref::<UsageError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error that prints its source in its own message, as the Kafka
    /// client's errors do.
    #[derive(Debug)]
    struct Wraps(io::Error);

    impl std::fmt::Display for Wraps {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "flush error: {}", self.0)
        }
    }

    impl std::error::Error for Wraps {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn an_error_line_names_each_cause_once() {
        let timed_out = || io::Error::new(io::ErrorKind::TimedOut, "timed out");
        let e = anyhow::Error::new(Wraps(timed_out())).context("cannot produce to t");
        assert_eq!(
            error_text(&e),
            "cannot produce to t: flush error: timed out"
        );
        let e = anyhow::Error::new(timed_out()).context("cannot read a.ndjson");
        assert_eq!(error_text(&e), "cannot read a.ndjson: timed out");
    }
}
