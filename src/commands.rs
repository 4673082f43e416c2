//! `check`, `explain` and `gen`.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use anyhow::{Context, Result};
use redactor_core::policy::Mode;
use redactor_core::{Cause, Policy, Redactor, Stats};

use redactor_scan::lines::{LineReader, Next};

use crate::filter::{first_line_hint, stop_requested, Source, Stopped};

/// The context of an error writing standard output.
pub const WRITE_STDOUT: &str = "cannot write stdout";

/// One-paragraph summary of a policy.
pub fn print_summary(p: &Policy, origin: &str, out: &mut impl Write) -> io::Result<()> {
    let own = p.rules.iter().filter(|r| r.origin == "policy").count();
    writeln!(out, "policy OK: {origin}")?;
    writeln!(
        out,
        "  mode        {}",
        if p.mode == Mode::Allowlist {
            "allowlist"
        } else {
            "denylist"
        }
    )?;
    writeln!(
        out,
        "  rules       {} ({} own, {} from presets: {})",
        p.rules.len(),
        own,
        p.rules.len() - own,
        if p.presets.is_empty() {
            "none".into()
        } else {
            p.presets.join(", ")
        }
    )?;
    let dets: Vec<&str> = p.detectors.list.iter().map(|d| d.kind.name()).collect();
    writeln!(
        out,
        "  detectors   {}",
        if dets.is_empty() {
            "none".into()
        } else {
            dets.join(", ")
        }
    )?;
    let keys: Vec<String> = p
        .keys
        .iter()
        .map(|k| {
            if k.is_ephemeral() {
                format!("{} (ephemeral)", k.id())
            } else {
                k.id().to_string()
            }
        })
        .collect();
    writeln!(out, "  keys        {}", keys.join(", "))?;
    writeln!(
        out,
        "  limits      max_depth {}, max_line_bytes {}",
        p.limits.max_depth, p.limits.max_line_bytes
    )?;
    writeln!(out, "  nested_json {}", p.nested_json)
}

/// Every compiled rule and detector, as text.
pub fn print_rules(p: &Policy, out: &mut impl Write) -> io::Result<()> {
    writeln!(
        out,
        "\nrules (the policy's own first, then presets; see docs/configuration.md for precedence):"
    )?;
    for (i, r) in p.rules.iter().enumerate() {
        writeln!(
            out,
            "  {i:>3}  {}  [{}]  {}{}",
            r.label(),
            r.mode.name(),
            r.action.describe(),
            literals_note(r)
        )?;
        for s in &r.selectors {
            writeln!(out, "         {s}")?;
        }
    }
    writeln!(out, "\ndetectors (earlier ones win overlapping matches):")?;
    let width = p
        .detectors
        .list
        .iter()
        .map(|d| d.kind.name().len())
        .max()
        .unwrap_or(0);
    for d in &p.detectors.list {
        writeln!(out, "  {:<width$} {}", d.kind.name(), d.action.describe())?;
    }
    Ok(())
}

/// An action's description with key ids replaced by `(current)`, so that
/// generated docs do not depend on which key the environment provides.
fn describe_generic(p: &Policy, a: &redactor_core::actions::Action) -> String {
    let mut d = a.describe();
    for k in &p.keys {
        d = d.replace(&format!("key={} ", k.id()), "key=(current) ");
    }
    d
}

/// What a rule's `keep_literals` and `scalars_only` add to its action's
/// description.
fn literals_note(r: &redactor_core::policy::Rule) -> &'static str {
    match (r.keep_literals, r.scalars_only) {
        (false, false) => "",
        (true, false) => " (true, false and null kept)",
        (false, true) => " (objects and arrays left to the rules below)",
        (true, true) => " (true, false and null kept; objects and arrays left to the rules below)",
    }
}

/// Every preset rule as Markdown (the body of `docs/presets.md`).
pub fn print_markdown(p: &Policy, out: &mut impl Write) -> io::Result<()> {
    let mut current = String::new();
    for r in &p.rules {
        if r.origin != current {
            current = r.origin.clone();
            writeln!(out, "\n## {}\n", current.trim_start_matches("preset:"))?;
            writeln!(out, "| Rule | Action | Match | Fields |")?;
            writeln!(out, "|---|---|---|---|")?;
        }
        let fields: Vec<String> = r
            .selectors
            .iter()
            .map(|s| format!("`{}`", s.replace('|', "\\|")))
            .collect();
        writeln!(
            out,
            "| **{}**: {} | {}{} | {} | {} |",
            r.name,
            r.description,
            describe_generic(p, &r.action),
            literals_note(r),
            r.mode.name(),
            fields.join(", ")
        )?;
    }
    writeln!(out, "\n## Detectors (default actions)\n")?;
    writeln!(out, "| Detector | Action |")?;
    writeln!(out, "|---|---|")?;
    for d in &p.detectors.list {
        writeln!(
            out,
            "| {} | {} |",
            d.kind.name(),
            describe_generic(p, &d.action)
        )?;
    }
    Ok(())
}

/// The widest path column `explain` pads to; a longer path has a line of
/// its own.
const EXPLAIN_PATH_WIDTH: usize = 60;

/// The heading of an event's `explain` listing: the fields rewritten, and
/// those a `keep` rule left as they are (listed too, so that the policy's
/// reach shows).
fn explain_heading(events: &[redactor_core::Explained]) -> String {
    let kept = events.iter().filter(|e| e.action == "keep").count();
    let rewrites = events.len() - kept;
    let mut heading = format!("{rewrites} rewrite{}", if rewrites == 1 { "" } else { "s" });
    if kept > 0 {
        heading.push_str(&format!(
            ", {kept} field{} kept by rule",
            if kept == 1 { "" } else { "s" }
        ));
    }
    heading
}

/// Prints, per line, each rewrite's path, cause and action. Returns the
/// number of rejected lines, and the stop when `stop` (see
/// [`crate::filter::stop_on_signals`]) asked for one: a file stops at a line
/// boundary, a pipe at its next read, and every line read is explained.
pub fn explain(
    engine: &dyn Redactor,
    input: Option<&PathBuf>,
    stop: Option<&Arc<AtomicUsize>>,
) -> Result<(u64, Option<Stopped>)> {
    let policy = engine.policy();
    let Source {
        name,
        reader,
        waits,
        ..
    } = Source::open(input, stop)?;
    let stop_signal = || stop_requested(stop);
    let mut lr = LineReader::new(reader, policy.limits.max_line_bytes);
    let mut out = BufWriter::new(io::stdout().lock());
    let (mut buf, mut events, mut stats) = (Vec::new(), Vec::new(), Stats::new(policy));
    let (mut line_no, mut rejected) = (0u64, 0u64);
    loop {
        if !waits && stop_signal() != 0 {
            break;
        }
        // What is explained so far goes out before a read that may wait.
        if !lr.ready() {
            out.flush().context(WRITE_STDOUT)?;
        }
        let next = lr
            .next_line()
            .with_context(|| format!("cannot read {name} after line {line_no}"))?;
        if !matches!(next, Next::Eof) {
            line_no += 1;
        }
        match next {
            Next::Eof => break,
            Next::TooLong => {
                let n = lr.drain_long(|_| Ok(()))?;
                rejected += 1;
                writeln!(
                    out,
                    "{name}:{line_no}: rejected: {}",
                    redactor_core::Reject::TooLarge {
                        len: n,
                        limit: policy.limits.max_line_bytes
                    }
                )
                .context(WRITE_STDOUT)?;
            }
            Next::Line(l) if l.iter().all(|&b| redactor_core::json::is_ws(b)) => {}
            Next::Line(l) => match engine.explain(l, &mut buf, &mut stats, &mut events) {
                Err(r) => {
                    rejected += 1;
                    writeln!(out, "{name}:{line_no}: rejected: {r}").context(WRITE_STDOUT)?;
                    if let Some(hint) = first_line_hint(&name, line_no, &r, l) {
                        out.flush().context(WRITE_STDOUT)?;
                        eprintln!("{hint}");
                    }
                }
                Ok(()) => {
                    writeln!(out, "{name}:{line_no}: {}", explain_heading(&events))
                        .context(WRITE_STDOUT)?;
                    let paths: Vec<String> = events
                        .iter()
                        .map(|e| {
                            if e.in_key {
                                format!("{} (key)", e.path)
                            } else {
                                e.path.clone()
                            }
                        })
                        .collect();
                    // The path column is as wide as its longest path, up to
                    // a limit; a longer path has a line of its own, and its
                    // action and cause go on the next line, in the columns.
                    let width = paths
                        .iter()
                        .map(|p| p.chars().count())
                        .max()
                        .unwrap_or(0)
                        .min(EXPLAIN_PATH_WIDTH);
                    for (e, path) in events.iter().zip(&paths) {
                        let by = match e.cause {
                            Cause::Rule(r) => format!("rule {}", policy.rules[r].label()),
                            Cause::Detector(d) => {
                                format!("detector {}", policy.detectors.list[d].kind.name())
                            }
                            Cause::Allowlist => "allowlist (no rule keeps it)".to_string(),
                        };
                        let path = if path.chars().count() > width {
                            writeln!(out, "  {path}").context(WRITE_STDOUT)?;
                            ""
                        } else {
                            path
                        };
                        writeln!(out, "  {path:<width$}  {:<10}  {by}", e.action)
                            .context(WRITE_STDOUT)?;
                    }
                }
            },
        }
    }
    out.flush().context(WRITE_STDOUT)?;
    let signal = stop_signal();
    let stopped = (signal != 0).then_some(Stopped {
        signal,
        source: name,
        line: line_no,
    });
    Ok((rejected, stopped))
}

/// Writes `count` generated lines.
pub fn gen(
    format: redactor_core::gen::Format,
    count: u64,
    seed: u64,
    output: Option<&Path>,
) -> Result<()> {
    let g = redactor_core::gen::Generator::new(format, seed);
    // A bar on a terminal while the lines go elsewhere: a million lines
    // take seconds.
    let shown = io::stderr().is_terminal() && (output.is_some() || !io::stdout().is_terminal());
    let started = std::time::Instant::now();
    let written = match output {
        Some(p) => {
            let w = BufWriter::with_capacity(
                1 << 20,
                File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
            );
            write_lines(g, count, w, shown)
                .with_context(|| format!("cannot write {}", p.display()))?
        }
        None => write_lines(
            g,
            count,
            BufWriter::with_capacity(1 << 20, io::stdout().lock()),
            shown,
        )
        .context(WRITE_STDOUT)?,
    };
    if shown {
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "redactor: {count} lines, {:.1} MB, in {secs:.2} s",
            written as f64 / 1e6
        );
    }
    Ok(())
}

/// Writes `count` lines of `g` to `w` and flushes it, with a progress bar
/// when `shown`; returns the bytes written.
fn write_lines(
    mut g: redactor_core::gen::Generator,
    count: u64,
    mut w: impl Write,
    shown: bool,
) -> io::Result<u64> {
    let bar = shown.then(|| {
        let pb = indicatif::ProgressBar::new(count);
        pb.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} lines, eta {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        pb
    });
    let result = (|| {
        let (mut done, mut written, mut chunk) = (0, 0u64, Vec::new());
        while done < count {
            let n = (count - done).min(1_000);
            chunk.clear();
            g.write_ndjson(n, &mut chunk)?;
            w.write_all(&chunk)?;
            written += chunk.len() as u64;
            done += n;
            if let Some(pb) = &bar {
                pb.set_position(done);
            }
        }
        w.flush()?;
        Ok(written)
    })();
    // Also on an error (a closed pipe): no bar is left behind.
    if let Some(pb) = bar {
        pb.finish_and_clear();
    }
    result
}

/// Produces `count` generated events to a Kafka topic, in chunks, each
/// acknowledged before the next (bounded memory), with a progress line.
pub fn gen_to_kafka(
    format: redactor_core::gen::Format,
    count: u64,
    seed: u64,
    brokers: &str,
    topic: &str,
) -> Result<()> {
    // Fail in seconds, not after the 120 s a record may wait.
    redactor_kafka::tools::reach(brokers)?;
    let mut g = redactor_core::gen::Generator::new(format, seed);
    let mut sent = 0u64;
    while sent < count {
        let n = (count - sent).min(10_000);
        let chunk: Vec<redactor_kafka::tools::Outgoing> = (0..n)
            .map(|_| redactor_kafka::tools::Outgoing {
                key: None,
                payload: g.event(),
                headers: Vec::new(),
            })
            .collect();
        redactor_kafka::tools::produce(brokers, topic, &chunk, std::time::Duration::from_secs(120))
            .with_context(|| format!("cannot produce to {topic} at {brokers}"))?;
        sent += n;
        eprintln!("redactor gen: {sent}/{count} events produced to {topic}");
    }
    Ok(())
}

/// Prints what `redactor kafka --check` validated (never property values,
/// which may be secrets).
pub fn print_stage(c: &redactor_kafka::StageConfig, out: &mut impl Write) -> io::Result<()> {
    use redactor_kafka::config::{Inputs, Outputs, Partitioning};
    writeln!(out, "stage OK")?;
    writeln!(out, "  brokers     {}", c.brokers)?;
    writeln!(out, "  group       {}", c.group)?;
    match &c.inputs {
        Inputs::Topics(t) => writeln!(out, "  input       {}", t.join(", "))?,
        Inputs::Pattern(p) => writeln!(out, "  input       topics matching {p}")?,
    }
    match &c.outputs {
        Outputs::Fixed(t) => writeln!(out, "  output      {t}")?,
        Outputs::Map(m) => {
            let pairs: Vec<String> = m.iter().map(|(i, o)| format!("{i} -> {o}")).collect();
            writeln!(out, "  output      {}", pairs.join(", "))?;
        }
    }
    writeln!(out, "  dead letter {}", c.dead_letter)?;
    write!(out, "  delivery    {}", c.delivery.name())?;
    if c.delivery == redactor_kafka::Delivery::ExactlyOnce {
        write!(out, ", transactional id {}", c.transactional_id)?;
    }
    let partitioning = match c.partitioning {
        Partitioning::Key => "by key",
        Partitioning::Input => "as the input",
    };
    writeln!(out, ", output partitions {partitioning}")?;
    match c.workers {
        0 => writeln!(
            out,
            "  workers     {} (one per core)",
            redactor_core::default_threads()
        )?,
        n => writeln!(out, "  workers     {n}")?,
    }
    writeln!(
        out,
        "  batches     {} records or {} bytes, linger {} ms; at most {} bytes in flight",
        c.batch_records,
        c.batch_bytes,
        c.linger.as_millis(),
        c.max_in_flight_bytes
    )?;
    writeln!(
        out,
        "  timeouts    delivery {} ms, drain {} ms",
        c.delivery_timeout.as_millis(),
        c.drain_timeout.as_millis()
    )?;
    writeln!(
        out,
        "  record      key {}, unlisted headers {}, {} header rule(s)",
        c.key.name(),
        c.headers_default.name(),
        c.header_rules.len()
    )?;
    let scopes = [
        ("both clients", &c.properties),
        ("consumer", &c.consumer_properties),
        ("producer", &c.producer_properties),
    ];
    let named: Vec<String> = scopes
        .iter()
        .filter(|(_, props)| !props.is_empty())
        .map(|(scope, props)| {
            let names: Vec<&str> = props.iter().map(|(k, _)| k.as_str()).collect();
            format!("{} ({scope})", names.join(", "))
        })
        .collect();
    if !named.is_empty() {
        writeln!(out, "  properties  {}; values not shown", named.join("; "))?;
    }
    writeln!(
        out,
        "  metrics     {}, log {}",
        c.metrics_listen.as_deref().unwrap_or("off"),
        c.log_format.name()
    )
}

/// The table of `redactor bench kafka`.
pub fn print_kafka_bench(
    r: &redactor_kafka::bench::Report,
    out: &mut impl Write,
) -> io::Result<()> {
    let o = &r.options;
    let mb = r.corpus_bytes as f64 / 1e6;
    writeln!(
        out,
        "Kafka end to end: broker {}, {} partitions, {} events ({mb:.1} MB), {} round(s), stage workers: {}",
        o.brokers,
        o.partitions,
        o.events,
        o.rounds,
        if o.workers == 0 { "one per core".to_string() } else { o.workers.to_string() }
    )?;
    writeln!(
        out,
        "{:<14} {:>12} {:>9} {:>25}",
        "stage", "events/s", "MB/s", "spread (min..max ev/s)"
    )?;
    for mode in ["pass-through", "redact"] {
        let (med, lo, hi) = r.median(mode);
        let per_event = mb / o.events as f64;
        writeln!(
            out,
            "{mode:<14} {med:>12.0} {:>9.1} {:>25}",
            med * per_event,
            format!("{lo:.0}..{hi:.0}")
        )?;
    }
    let (pass, _, _) = r.median("pass-through");
    let (red, _, _) = r.median("redact");
    if pass > 0.0 {
        writeln!(
            out,
            "redaction costs {:.1}% of pass-through throughput (redact / pass-through = {:.3})",
            (1.0 - red / pass) * 100.0,
            red / pass
        )?;
    }
    for l in &r.latency {
        writeln!(
            out,
            "latency at {} events/s, {:<12} p50 {:>6.1} ms  p99 {:>6.1} ms  ({} records)",
            o.latency_rate, l.mode, l.p50_ms, l.p99_ms, l.records
        )?;
    }
    if let [a, b] = &r.latency[..] {
        writeln!(
            out,
            "added by redaction: p50 {:+.1} ms, p99 {:+.1} ms",
            b.p50_ms - a.p50_ms,
            b.p99_ms - a.p99_ms
        )?;
    }
    Ok(())
}

/// `redactor bench kafka --json`.
pub fn kafka_bench_json(r: &redactor_kafka::bench::Report) -> String {
    let o = &r.options;
    let samples: Vec<String> = r
        .samples
        .iter()
        .map(|s| {
            format!(
                "{{\"stage\":\"{}\",\"seconds\":{:.4},\"events_per_sec\":{:.1}}}",
                s.mode, s.secs, s.events_per_sec
            )
        })
        .collect();
    let latency: Vec<String> = r
        .latency
        .iter()
        .map(|l| {
            format!(
                "{{\"stage\":\"{}\",\"records\":{},\"p50_ms\":{:.2},\"p99_ms\":{:.2}}}",
                l.mode, l.records, l.p50_ms, l.p99_ms
            )
        })
        .collect();
    let (pass, _, _) = r.median("pass-through");
    let (red, _, _) = r.median("redact");
    format!(
        "{{\"benchmark\":\"kafka\",\"events\":{},\"corpus_bytes\":{},\"partitions\":{},\"rounds\":{},\"workers\":{},\
         \"median_events_per_sec\":{{\"pass-through\":{pass:.1},\"redact\":{red:.1}}},\"samples\":[{}],\"latency_rate\":{},\"latency\":[{}]}}\n",
        o.events,
        r.corpus_bytes,
        o.partitions,
        o.rounds,
        o.workers,
        samples.join(","),
        o.latency_rate,
        latency.join(",")
    )
}
