//! `redactor bench kafka`: end-to-end events/s through broker -> stage ->
//! broker for the redacting stage against a pass-through stage (the same
//! consumer, batching, producer and offset handling, payloads unchanged),
//! interleaved and repeated in one run; then the latency each adds at a
//! fixed event rate.
//!
//! Everything runs against the given broker with fresh topics and groups
//! (names start with `redactor-bench-`), and every wait is bounded. The
//! topics are deleted at the end, also after a failure or a stop request,
//! unless they are to be kept.

use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use redactor_core::{Redactor, Stats};

use crate::tools::{self, Outgoing};
use crate::{Stage, StageConfig};

/// What to measure.
#[derive(Debug, Clone)]
pub struct Options {
    /// Bootstrap servers.
    pub brokers: String,
    /// Events in the throughput corpus.
    pub events: usize,
    /// Throughput rounds (each runs both stages).
    pub rounds: usize,
    /// Partitions of the benchmark topics.
    pub partitions: i32,
    /// Redaction threads of the stage (0: one per core).
    pub workers: usize,
    /// Generator seed.
    pub seed: u64,
    /// Events per second of the latency phase (0 skips it).
    pub latency_rate: u64,
    /// Seconds of the latency phase, per stage.
    pub latency_secs: u64,
    /// Leave the benchmark topics on the broker rather than delete them.
    pub keep_topics: bool,
    /// A stop request: a nonzero value (the signal) is seen within about
    /// 100 ms, and the run ends with [`Interrupted`] once the running stage
    /// has shut down.
    pub stop: Option<Arc<AtomicUsize>>,
}

/// The error of a run ended by a stop request: nothing is reported.
#[derive(Debug, Clone, Copy)]
pub struct Interrupted {
    /// The value of the stop request (the signal).
    pub signal: usize,
}

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "stopped by signal {} before the measuring ended: nothing is reported",
            self.signal
        )
    }
}

impl std::error::Error for Interrupted {}

/// Ends the run with [`Interrupted`] when a stop was asked for.
fn check_stop(stop: Option<&Arc<AtomicUsize>>) -> anyhow::Result<()> {
    match stop.map_or(0, |s| s.load(SeqCst)) {
        0 => Ok(()),
        signal => Err(Interrupted { signal }.into()),
    }
}

/// One throughput measurement.
#[derive(Debug, Clone)]
pub struct Sample {
    /// `pass-through` or `redact`.
    pub mode: &'static str,
    /// Seconds from the first consumed record to the last acknowledged one.
    pub secs: f64,
    /// Events per second.
    pub events_per_sec: f64,
}

/// Latency added at a fixed rate, from the record's creation to its
/// arrival at a reader of the output topic.
#[derive(Debug, Clone)]
pub struct Latency {
    /// `pass-through` or `redact`.
    pub mode: &'static str,
    /// Records measured.
    pub records: usize,
    /// Median, milliseconds.
    pub p50_ms: f64,
    /// 99th percentile, milliseconds.
    pub p99_ms: f64,
}

/// Everything measured.
#[derive(Debug, Clone)]
pub struct Report {
    /// The options used.
    pub options: Options,
    /// Bytes of the corpus payloads.
    pub corpus_bytes: usize,
    /// Throughput samples in run order.
    pub samples: Vec<Sample>,
    /// Latency per stage.
    pub latency: Vec<Latency>,
}

impl Report {
    /// Median events/s of `mode` (of an even count, the mean of the two
    /// middle samples) and the spread (min, max).
    pub fn median(&self, mode: &str) -> (f64, f64, f64) {
        let mut v: Vec<f64> = self
            .samples
            .iter()
            .filter(|s| s.mode == mode)
            .map(|s| s.events_per_sec)
            .collect();
        v.sort_by(f64::total_cmp);
        if v.is_empty() {
            return (0.0, 0.0, 0.0);
        }
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        (median, v[0], v[n - 1])
    }
}

fn unique(what: &str) -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    format!("redactor-bench-{what}-{}-{t}", std::process::id())
}

/// A redacting or pass-through stage reading `input` into fresh output and
/// dead-letter topics and a fresh group; returns it with its output topic.
fn bench_stage(
    o: &Options,
    made: &mut Made,
    input: &str,
    tag: &str,
    redact: bool,
    engine: Arc<dyn Redactor>,
) -> anyhow::Result<(Stage, String)> {
    let (out, dlq, group) = (
        unique(&format!("{tag}-out")),
        unique(&format!("{tag}-dlq")),
        unique(&format!("{tag}-group")),
    );
    made.create(&o.brokers, &[(&out, o.partitions), (&dlq, 1)])?;
    let mut c = StageConfig::simple(&o.brokers, &group, input, &out, &dlq);
    c.workers = o.workers;
    c.consumer_properties = vec![
        ("session.timeout.ms".into(), "6000".into()),
        ("heartbeat.interval.ms".into(), "1000".into()),
    ];
    let stage = if redact {
        Stage::new(c, engine)?
    } else {
        Stage::pass_through(c, engine)?
    };
    Ok((stage, out))
}

/// The topics a run created, to delete at its end.
#[derive(Default)]
struct Made(Vec<String>);

impl Made {
    /// Creates topics, noting them first: a topic whose creation timed
    /// out may still appear on the broker.
    fn create(&mut self, brokers: &str, topics: &[(&str, i32)]) -> anyhow::Result<()> {
        self.0.extend(topics.iter().map(|(t, _)| (*t).to_owned()));
        tools::create_topics(brokers, topics)
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    let threads = std::thread::available_parallelism()
        .map_or(2, usize::from)
        .max(2);
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()?)
}

/// Runs `stage` until `n` records are accounted for; returns seconds from
/// the first consumed record to the last acknowledgement.
fn time_stage(stage: Stage, n: u64, stop: Option<&Arc<AtomicUsize>>) -> anyhow::Result<f64> {
    let rt = runtime()?;
    rt.block_on(async move {
        let m = stage.metrics();
        let (tx, rx) = tokio::sync::watch::channel(false);
        let run = tokio::spawn(stage.run(rx));
        let deadline = Instant::now() + Duration::from_secs(600);
        let mut first = None;
        let done = loop {
            if first.is_none() && m.records_in.load(Relaxed) > 0 {
                first = Some(Instant::now());
            }
            if m.records_out.load(Relaxed) + m.dead_lettered_total() >= n {
                break Instant::now();
            }
            if run.is_finished() || Instant::now() > deadline {
                let _ = tx.send(true);
                run.await??;
                bail!("the stage stopped or timed out before forwarding {n} records");
            }
            if let Err(e) = check_stop(stop) {
                let _ = tx.send(true);
                run.await??;
                return Err(e);
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        let _ = tx.send(true);
        run.await??;
        Ok(done.duration_since(first.unwrap_or(done)).as_secs_f64())
    })
}

/// Measures; `progress` gets one line per step. The topics the run
/// created are deleted at its end, whatever the outcome, unless
/// [`Options::keep_topics`] is set.
///
/// # Errors
///
/// When the broker cannot be used, a stage fails, the redacted output is
/// not the engine's redaction of the input (checked on the first round),
/// or a stop is requested ([`Interrupted`]).
pub fn run(
    o: &Options,
    engine: Arc<dyn Redactor>,
    mut progress: impl FnMut(&str),
) -> anyhow::Result<Report> {
    if o.events == 0 || o.rounds == 0 || o.partitions < 1 {
        bail!("events, rounds and partitions must be at least 1");
    }
    tools::reach(&o.brokers)?;
    let mut made = Made::default();
    let result = measure(o, engine, &mut made, &mut progress);
    let n = match made.0.len() {
        0 => return result,
        1 => "the benchmark topic".to_owned(),
        n => format!("the {n} benchmark topics"),
    };
    if o.keep_topics {
        progress(&format!(
            "kept {n} (redactor-bench-*-{}-*)",
            std::process::id()
        ));
    } else {
        match tools::delete_topics(&o.brokers, &made.0) {
            Ok(()) => progress(&format!("deleted {n}")),
            Err(e) => progress(&format!(
                "{n} (redactor-bench-*-{}-*) could not be deleted: {e:#}",
                std::process::id()
            )),
        }
    }
    result
}

fn measure(
    o: &Options,
    engine: Arc<dyn Redactor>,
    made: &mut Made,
    progress: &mut impl FnMut(&str),
) -> anyhow::Result<Report> {
    let stop = o.stop.as_ref();
    let input = unique("in");
    made.create(&o.brokers, &[(&input, o.partitions)])
        .with_context(|| format!("cannot create benchmark topics at {}", o.brokers))?;
    let records = tools::numbered_corpus(o.events, o.seed, 1024, |_, ev| ev);
    let corpus_bytes = records.iter().map(|r| r.payload.len()).sum();
    progress(&format!(
        "producing {} events ({:.1} MB) to {input}",
        o.events,
        corpus_bytes as f64 / 1e6
    ));
    for chunk in records.chunks(20_000) {
        check_stop(stop)?;
        tools::produce(&o.brokers, &input, chunk, Duration::from_secs(120))?;
    }
    let mut samples = Vec::new();
    for round in 0..o.rounds {
        // Alternate which stage goes first, so neither always gets the
        // warmer broker.
        let order: [bool; 2] = if round % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        for redact in order {
            let mode = if redact { "redact" } else { "pass-through" };
            check_stop(stop)?;
            let (stage, out) = bench_stage(o, made, &input, mode, redact, engine.clone())?;
            let secs = time_stage(stage, o.events as u64, stop)?;
            let eps = o.events as f64 / secs.max(1e-9);
            progress(&format!(
                "round {}: {mode:<12} {:>10.0} events/s ({secs:.2} s)",
                round + 1,
                eps
            ));
            samples.push(Sample {
                mode,
                secs,
                events_per_sec: eps,
            });
            if redact && round == 0 {
                verify(&o.brokers, &out, &records, engine.as_ref())?;
                progress("round 1: redacted output verified against the engine");
            }
        }
    }
    let mut latency = Vec::new();
    if o.latency_rate > 0 && o.latency_secs > 0 {
        for redact in [false, true] {
            check_stop(stop)?;
            let l = measure_latency(o, made, engine.clone(), redact)?;
            progress(&format!(
                "latency at {} events/s: {:<12} p50 {:.1} ms, p99 {:.1} ms ({} records)",
                o.latency_rate, l.mode, l.p50_ms, l.p99_ms, l.records
            ));
            latency.push(l);
        }
    }
    Ok(Report {
        options: o.clone(),
        corpus_bytes,
        samples,
        latency,
    })
}

/// Every output record is the engine's redaction of its input.
fn verify(
    brokers: &str,
    out: &str,
    input: &[Outgoing],
    engine: &dyn Redactor,
) -> anyhow::Result<()> {
    let got = tools::read_topic(brokers, out, input.len(), Duration::from_secs(120))?;
    if got.len() < input.len() {
        bail!(
            "verification: {} of {} records on the output topic",
            got.len(),
            input.len()
        );
    }
    let mut expected = Vec::new();
    for m in &got {
        let seq =
            tools::seq_of(m).context("verification: an output record lost its x-seq header")?;
        let src = input.get(seq).context("verification: unknown x-seq")?;
        engine
            .redact(&src.payload, &mut expected, &mut Stats::default())
            .map_err(|r| anyhow::anyhow!("verification: record {seq} rejected: {r}"))?;
        if m.payload() != Some(&expected[..]) {
            bail!("verification: output of record {seq} differs from the engine's redaction");
        }
    }
    Ok(())
}

fn measure_latency(
    o: &Options,
    made: &mut Made,
    engine: Arc<dyn Redactor>,
    redact: bool,
) -> anyhow::Result<Latency> {
    let mode = if redact { "redact" } else { "pass-through" };
    let input = unique(&format!("lat-{mode}-in"));
    made.create(&o.brokers, &[(&input, o.partitions)])?;
    let (stage, out) = bench_stage(o, made, &input, &format!("lat-{mode}"), redact, engine)?;
    let total = (o.latency_rate * o.latency_secs) as usize;
    let metrics = stage.metrics();
    let rt = runtime()?;
    let (tx, rx) = tokio::sync::watch::channel(false);
    let run = rt.spawn(stage.run(rx));
    let measured = paced_latencies(o, &metrics, &input, &out, total);
    let _ = tx.send(true);
    rt.block_on(run)??;
    let mut lat = measured.with_context(|| format!("latency of the {mode} stage"))?;
    lat.sort_by(f64::total_cmp);
    if lat.is_empty() {
        bail!("no record reached the output topic in the latency phase");
    }
    let pct = |p: f64| lat[((lat.len() as f64 - 1.0) * p).round() as usize];
    Ok(Latency {
        mode,
        records: lat.len(),
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
    })
}

/// Once the stage holds its partitions, produces `total` records to
/// `input` at the latency rate and returns how long each took to reach
/// `out`.
fn paced_latencies(
    o: &Options,
    metrics: &crate::metrics::Metrics,
    input: &str,
    out: &str,
    total: usize,
) -> anyhow::Result<Vec<f64>> {
    // Start the clock only once the stage holds its partitions.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !metrics.ready.load(Relaxed) {
        check_stop(o.stop.as_ref())?;
        if Instant::now() > deadline {
            bail!("the stage got no partitions within 60 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let reader = {
        let (brokers, out, stop) = (o.brokers.clone(), out.to_owned(), o.stop.clone());
        std::thread::spawn(move || read_latencies(&brokers, &out, total, stop.as_ref()))
    };
    // On a failed produce the reader is not waited for: it would wait for
    // records that never come, up to its deadline. It ends by itself.
    paced_produce(o, input, total)?;
    reader
        .join()
        .map_err(|_| anyhow::anyhow!("latency reader panicked"))?
}

fn paced_produce(o: &Options, topic: &str, total: usize) -> anyhow::Result<()> {
    let (brokers, rate, seed) = (&o.brokers, o.latency_rate, o.seed);
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "1")
        .create()?;
    let mut g = redactor_core::gen::Generator::new(redactor_core::gen::Format::Mixed, seed);
    let start = Instant::now();
    for i in 0..total {
        // Send record i at start + i/rate.
        let due = start + Duration::from_secs_f64(i as f64 / rate as f64);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        check_stop(o.stop.as_ref())?;
        let payload = g.event();
        let key = format!("k{}", i % 1024);
        let mut rec: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(topic)
            .payload(&payload[..])
            .key(key.as_bytes());
        loop {
            match producer.send(rec) {
                Ok(()) => break,
                Err((_, back)) => {
                    rec = back;
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
    }
    producer.flush(Duration::from_secs(60))?;
    Ok(())
}

/// Latencies in milliseconds: arrival at this reader minus the record's
/// timestamp (the stage keeps the input record's creation time).
fn read_latencies(
    brokers: &str,
    topic: &str,
    total: usize,
    stop: Option<&Arc<AtomicUsize>>,
) -> anyhow::Result<Vec<f64>> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "redactor-bench-latency")
        // It assigns its partitions itself and leaves no offsets behind.
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "5")
        .create()?;
    let md = consumer.fetch_metadata(Some(topic), Duration::from_secs(10))?;
    let mut tpl = TopicPartitionList::new();
    for t in md.topics() {
        for p in t.partitions() {
            tpl.add_partition_offset(topic, p.id(), Offset::Beginning)?;
        }
    }
    consumer.assign(&tpl)?;
    let mut out = Vec::with_capacity(total);
    let deadline = Instant::now() + Duration::from_secs(600);
    while out.len() < total && Instant::now() < deadline {
        check_stop(stop)?;
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            let m: OwnedMessage = m.detach();
            if let Some(ts) = m.timestamp().to_millis() {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as i64);
                out.push((now - ts) as f64);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(samples: &[(&'static str, f64)]) -> Report {
        Report {
            options: Options {
                brokers: String::new(),
                events: 1,
                rounds: 1,
                partitions: 1,
                workers: 0,
                seed: 1,
                latency_rate: 0,
                latency_secs: 0,
                keep_topics: false,
                stop: None,
            },
            corpus_bytes: 0,
            samples: samples
                .iter()
                .map(|&(mode, eps)| Sample {
                    mode,
                    secs: 1.0,
                    events_per_sec: eps,
                })
                .collect(),
            latency: Vec::new(),
        }
    }

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        let r = report(&[
            ("redact", 70.0),
            ("pass-through", 85.0),
            ("redact", 72.0),
            ("pass-through", 68.0),
            ("redact", 90.0),
        ]);
        assert_eq!(r.median("pass-through"), (76.5, 68.0, 85.0));
        assert_eq!(r.median("redact"), (72.0, 70.0, 90.0));
        assert_eq!(r.median("other"), (0.0, 0.0, 0.0));
    }
}
