//! Counters of the stage and their Prometheus text rendering.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Duration;

use redactor_core::{Policy, Stats};

use crate::record::DEAD_LETTER_REASONS;

/// Upper bounds (seconds) of the latency histogram buckets.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// A Prometheus histogram with fixed buckets.
#[derive(Debug, Default)]
pub struct Histogram {
    counts: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                self.counts[i].fetch_add(1, Relaxed);
            }
        }
        self.count.fetch_add(1, Relaxed);
        self.sum_micros
            .fetch_add(u64::try_from(d.as_micros()).unwrap_or(u64::MAX), Relaxed);
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.count.load(Relaxed)
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{b}\"}} {}",
                self.counts[i].load(Relaxed)
            );
        }
        let n = self.count.load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {n}");
        let _ = writeln!(
            out,
            "{name}_sum {}",
            self.sum_micros.load(Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count {n}");
    }
}

/// The two Kafka clients of a stage, as its log and its metrics name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    /// The consumer of the input topics.
    Consumer = 0,
    /// The producer of the output and dead-letter topics.
    Producer = 1,
}

impl Client {
    /// Both, in the order of [`Metrics::client_errors`].
    pub const ALL: [Client; 2] = [Client::Consumer, Client::Producer];

    /// `consumer` or `producer`.
    pub fn name(self) -> &'static str {
        match self {
            Client::Consumer => "consumer",
            Client::Producer => "producer",
        }
    }
}

/// Everything `/metrics` shows. Shared by the stage's tasks.
#[derive(Debug)]
pub struct Metrics {
    /// Records consumed.
    pub records_in: AtomicU64,
    /// Payload bytes consumed.
    pub bytes_in: AtomicU64,
    /// Records acknowledged on the output topic.
    pub records_out: AtomicU64,
    /// Payload bytes acknowledged on the output topic.
    pub bytes_out: AtomicU64,
    /// Records acknowledged on the dead-letter topic, by reason.
    pub dead_lettered: [AtomicU64; DEAD_LETTER_REASONS.len()],
    /// Batches redacted.
    pub batches: AtomicU64,
    /// Times consumption was paused for backpressure.
    pub pauses: AtomicU64,
    /// Transactions committed (exactly-once).
    pub transactions: AtomicU64,
    /// Transactions aborted (exactly-once).
    pub aborts: AtomicU64,
    /// Redaction time per batch.
    pub batch_latency: Histogram,
    /// Time from a batch being handed to the workers until its last record
    /// is acknowledged by the broker.
    pub ack_latency: Histogram,
    /// Payload bytes consumed and not yet acknowledged.
    pub in_flight_bytes: AtomicU64,
    /// Whether the stage has an assignment and is consuming.
    pub ready: AtomicBool,
    /// Whether the stage is running (false once it stops on an error).
    pub live: AtomicBool,
    /// Errors each client reported (broker failures, ...), by
    /// [`Client`]; repeats of one failure count once.
    pub client_errors: [AtomicU64; 2],
    rules: Vec<String>,
    detectors: Vec<String>,
    redactions: Mutex<Stats>,
    lag: Mutex<BTreeMap<(String, i32), i64>>,
}

impl Metrics {
    /// Zeroed metrics for `policy`'s rules and detectors.
    pub fn new(policy: &Policy) -> Metrics {
        Metrics {
            records_in: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            records_out: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            dead_lettered: Default::default(),
            batches: AtomicU64::new(0),
            pauses: AtomicU64::new(0),
            transactions: AtomicU64::new(0),
            aborts: AtomicU64::new(0),
            batch_latency: Histogram::default(),
            ack_latency: Histogram::default(),
            in_flight_bytes: AtomicU64::new(0),
            ready: AtomicBool::new(false),
            live: AtomicBool::new(true),
            client_errors: Default::default(),
            rules: policy.rule_labels(),
            detectors: policy
                .detectors
                .list
                .iter()
                .map(|d| d.kind.name().to_string())
                .collect(),
            redactions: Mutex::new(Stats::new(policy)),
            lag: Mutex::new(BTreeMap::new()),
        }
    }

    /// Adds a batch's redaction counters.
    pub fn add_redactions(&self, stats: &Stats) {
        self.redactions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .merge(stats);
    }

    /// The redaction counters so far.
    pub fn redactions(&self) -> Stats {
        self.redactions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Records dead-lettered so far, all reasons.
    pub fn dead_lettered_total(&self) -> u64 {
        self.dead_lettered.iter().map(|c| c.load(Relaxed)).sum()
    }

    /// Replaces the commit lag per partition (from the client's statistics).
    pub fn set_lag(&self, lag: BTreeMap<(String, i32), i64>) {
        *self.lag.lock().unwrap_or_else(|e| e.into_inner()) = lag;
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut o = String::with_capacity(4096);
        let counter = |o: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
        };
        counter(
            &mut o,
            "redactor_records_in_total",
            "Records consumed from input topics.",
            self.records_in.load(Relaxed),
        );
        counter(
            &mut o,
            "redactor_bytes_in_total",
            "Payload bytes consumed.",
            self.bytes_in.load(Relaxed),
        );
        counter(
            &mut o,
            "redactor_records_out_total",
            "Redacted records acknowledged on output topics.",
            self.records_out.load(Relaxed),
        );
        counter(
            &mut o,
            "redactor_bytes_out_total",
            "Redacted payload bytes acknowledged.",
            self.bytes_out.load(Relaxed),
        );
        counter(
            &mut o,
            "redactor_batches_total",
            "Batches redacted.",
            self.batches.load(Relaxed),
        );
        counter(
            &mut o,
            "redactor_pauses_total",
            "Times consumption paused for backpressure.",
            self.pauses.load(Relaxed),
        );
        counter(
            &mut o,
            "redactor_transactions_total",
            "Transactions committed (exactly-once).",
            self.transactions.load(Relaxed),
        );
        counter(
            &mut o,
            "redactor_transaction_aborts_total",
            "Transactions aborted (exactly-once).",
            self.aborts.load(Relaxed),
        );
        let _ = writeln!(
            o,
            "# HELP redactor_kafka_errors_total Errors the Kafka clients reported (an unreachable broker, a failed authentication, ...), by client.\n# TYPE redactor_kafka_errors_total counter"
        );
        for c in Client::ALL {
            let _ = writeln!(
                o,
                "redactor_kafka_errors_total{{client=\"{}\"}} {}",
                c.name(),
                self.client_errors[c as usize].load(Relaxed)
            );
        }
        let _ = writeln!(
            o,
            "# HELP redactor_dead_lettered_total Records acknowledged on the dead-letter topic, by reason.\n# TYPE redactor_dead_lettered_total counter"
        );
        for (i, r) in DEAD_LETTER_REASONS.iter().enumerate() {
            let _ = writeln!(
                o,
                "redactor_dead_lettered_total{{reason=\"{r}\"}} {}",
                self.dead_lettered[i].load(Relaxed)
            );
        }
        let stats = self.redactions();
        let _ = writeln!(
            o,
            "# HELP redactor_rule_redactions_total Fields rewritten, by rule.\n# TYPE redactor_rule_redactions_total counter"
        );
        for (label, n) in self.rules.iter().zip(&stats.rules) {
            let _ = writeln!(
                o,
                "redactor_rule_redactions_total{{rule=\"{}\"}} {n}",
                escape(label)
            );
        }
        let _ = writeln!(
            o,
            "# HELP redactor_detector_redactions_total Values rewritten, by detector.\n# TYPE redactor_detector_redactions_total counter"
        );
        for (name, n) in self.detectors.iter().zip(&stats.detectors) {
            let _ = writeln!(
                o,
                "redactor_detector_redactions_total{{detector=\"{}\"}} {n}",
                escape(name)
            );
        }
        counter(
            &mut o,
            "redactor_allowlist_dropped_total",
            "Fields dropped because no rule kept them.",
            stats.allowlist_dropped,
        );
        let _ = writeln!(
            o,
            "# HELP redactor_in_flight_bytes Payload bytes consumed and not yet acknowledged.\n# TYPE redactor_in_flight_bytes gauge\nredactor_in_flight_bytes {}",
            self.in_flight_bytes.load(Relaxed)
        );
        let _ = writeln!(
            o,
            "# HELP redactor_consumer_lag Records behind the partition's end, per assigned partition.\n# TYPE redactor_consumer_lag gauge"
        );
        for ((topic, partition), lag) in self.lag.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = writeln!(
                o,
                "redactor_consumer_lag{{topic=\"{}\",partition=\"{partition}\"}} {lag}",
                escape(topic)
            );
        }
        self.batch_latency.render(
            &mut o,
            "redactor_batch_redact_seconds",
            "Time to redact one batch.",
        );
        self.ack_latency.render(
            &mut o,
            "redactor_batch_ack_seconds",
            "Time from a batch's dispatch to the broker's acknowledgement of its last record.",
        );
        let _ = writeln!(
            o,
            "# HELP redactor_ready Whether the stage is consuming.\n# TYPE redactor_ready gauge\nredactor_ready {}",
            u8::from(self.ready.load(Relaxed))
        );
        o
    }
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Parses librdkafka's statistics JSON into the lag per partition.
pub fn lag_from_statistics(json: &[u8]) -> Option<BTreeMap<(String, i32), i64>> {
    let v: serde_json::Value = serde_json::from_slice(json).ok()?;
    let mut lag = BTreeMap::new();
    for (topic, t) in v.get("topics")?.as_object()? {
        for (p, part) in t.get("partitions")?.as_object()? {
            let Ok(partition) = p.parse::<i32>() else {
                continue;
            };
            if partition < 0 {
                continue; // librdkafka's internal "unassigned" partition
            }
            let assigned = part
                .get("fetch_state")
                .and_then(|s| s.as_str())
                .is_some_and(|s| s != "none" && s != "stopped");
            let l = part
                .get("consumer_lag_stored")
                .and_then(serde_json::Value::as_i64);
            if let (true, Some(l)) = (assigned, l) {
                if l >= 0 {
                    lag.insert((topic.clone(), partition), l);
                }
            }
        }
    }
    Some(lag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_rules_and_histograms() {
        let policy = Policy::builtin().unwrap();
        let m = Metrics::new(&policy);
        m.records_in.fetch_add(3, Relaxed);
        m.dead_lettered[1].fetch_add(2, Relaxed);
        m.client_errors[Client::Producer as usize].fetch_add(4, Relaxed);
        m.batch_latency.observe(Duration::from_millis(3));
        let mut s = Stats::new(&policy);
        s.rules[0] = 5;
        m.add_redactions(&s);
        let mut lag = BTreeMap::new();
        lag.insert(("raw".to_string(), 2), 17);
        m.set_lag(lag);
        let text = m.render();
        assert!(text.contains("redactor_records_in_total 3\n"), "{text}");
        assert!(text.contains("redactor_dead_lettered_total{reason=\"invalid_json\"} 2\n"));
        assert!(text.contains("redactor_kafka_errors_total{client=\"consumer\"} 0\n"));
        assert!(text.contains("redactor_kafka_errors_total{client=\"producer\"} 4\n"));
        assert!(text.contains(&format!(
            "redactor_rule_redactions_total{{rule=\"{}\"}} 5\n",
            escape(&policy.rule_labels()[0])
        )));
        assert!(text.contains("redactor_batch_redact_seconds_bucket{le=\"0.0025\"} 0\n"));
        assert!(text.contains("redactor_batch_redact_seconds_bucket{le=\"0.005\"} 1\n"));
        assert!(text.contains("redactor_batch_redact_seconds_count 1\n"));
        assert!(text.contains("redactor_consumer_lag{topic=\"raw\",partition=\"2\"} 17\n"));
        // Every sample line is `name{labels} value` or `name value`.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let value = line.rsplit(' ').next().unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }

    #[test]
    fn lag_comes_from_assigned_partitions_only() {
        let json = br#"{"topics":{"raw":{"partitions":{
            "0":{"fetch_state":"active","consumer_lag_stored":4},
            "1":{"fetch_state":"none","consumer_lag_stored":9},
            "-1":{"fetch_state":"none","consumer_lag_stored":-1}}}}}"#;
        let lag = lag_from_statistics(json).unwrap();
        assert_eq!(
            lag.into_iter().collect::<Vec<_>>(),
            vec![(("raw".to_string(), 0), 4)]
        );
        assert!(lag_from_statistics(b"not json").is_none());
    }
}
