//! End to end against a real broker process: the `redactor kafka` binary as
//! the stage, `kill -9` mid-stream and restart, and two instances in one
//! consumer group with one of them killed.
//!
//! `.ci/run` starts a Tansu broker on 127.0.0.1 and sets
//! `REDACTOR_KAFKA_BROKERS`; without it the tests that need a broker print
//! a notice and pass without running (`bash .ci/with-broker cargo test --release --test kafka_e2e` runs them by hand).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;
use common::TempPath;
use redactor_core::{Fast, Policy, Redactor, Stats};
use redactor_kafka::rdkafka::message::{Message, OwnedMessage};
use redactor_kafka::tools::{self, Outgoing};

const TOKEN_KEY: &str = "redactor-e2e-test-key-0123456789";
const PLANTED: &str = "zed.leak@example.com";

fn brokers() -> Option<String> {
    match std::env::var("REDACTOR_KAFKA_BROKERS") {
        Ok(b) if !b.is_empty() => Some(b),
        _ => {
            let _ = writeln!(
                std::io::stderr(),
                "notice: REDACTOR_KAFKA_BROKERS is not set; the end-to-end Kafka test is skipped (bash .ci/with-broker cargo test --release --test kafka_e2e runs it)"
            );
            None
        }
    }
}

fn unique(name: &str) -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    format!("{name}-{}-{t}", std::process::id())
}

fn corpus(n: usize, invalid_every: usize) -> Vec<Outgoing> {
    tools::numbered_corpus(n, 11, 50, |i, ev| {
        if i % invalid_every == invalid_every - 1 {
            b"{\"truncated\":".to_vec()
        } else if i % 5 == 0 {
            tools::with_note(ev, "comment", &format!("write to {PLANTED}"))
        } else {
            ev
        }
    })
}

fn seq_of(r: &OwnedMessage) -> usize {
    tools::seq_of(r).expect("x-seq header")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Topics {
    input: String,
    output: String,
    dlq: String,
    group: String,
}

fn topics(name: &str, brokers: &str) -> Topics {
    let t = Topics {
        input: unique(&format!("{name}-in")),
        output: unique(&format!("{name}-out")),
        dlq: unique(&format!("{name}-dlq")),
        group: unique(&format!("{name}-group")),
    };
    tools::create_topics(brokers, &[(&t.input, 4), (&t.output, 4), (&t.dlq, 1)]).unwrap();
    t
}

fn write_config(dir: &Path, brokers: &str, t: &Topics, port: u16) -> PathBuf {
    let path = dir.join(format!("{}.toml", t.group));
    std::fs::write(
        &path,
        format!(
            "[kafka]\nbrokers = {brokers:?}\ngroup = {:?}\n\
             [kafka.consumer]\n\"session.timeout.ms\" = 6000\n\"heartbeat.interval.ms\" = 1000\n\"auto.commit.interval.ms\" = 500\n\
             [topics]\ninput = [{:?}]\noutput = {:?}\ndead_letter = {:?}\n\
             [stage]\nbatch_records = 256\n\
             [metrics]\nlisten = \"127.0.0.1:{port}\"\nlog_format = \"json\"\n",
            t.group, t.input, t.output, t.dlq
        ),
    )
    .unwrap();
    path
}

struct StageProcess {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl StageProcess {
    fn start(config: &Path, port: u16, log: PathBuf) -> StageProcess {
        let child = Command::new(env!("CARGO_BIN_EXE_redactor"))
            .args(["kafka", "--config"])
            .arg(config)
            .env("REDACTOR_TOKEN_KEY", TOKEN_KEY)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("the redactor binary starts");
        StageProcess { child, port, log }
    }

    /// A counter from `/metrics` (0 while the endpoint is not up).
    fn metric(&self, name: &str) -> u64 {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return 0;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        if s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            .is_err()
        {
            return 0;
        }
        let mut body = String::new();
        let _ = s.read_to_string(&mut body);
        body.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or(0)
    }

    fn kill9(&mut self) {
        // Child::kill sends SIGKILL to this process (ours, by PID).
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then wait (bounded) for a clean exit.
    fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            if Instant::now() > deadline {
                self.kill9();
                panic!(
                    "the stage did not stop within 60 s of SIGTERM; log: {}",
                    self.log.display()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for StageProcess {
    fn drop(&mut self) {
        // A failed assertion must not leave our child running.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Whether the group committed every one of the `n` input records. Offsets
/// of the input topic are contiguous from 0 (one plain producer, no
/// transactions), so the committed offsets sum to `n` exactly then. (The
/// broker's high watermarks are not used: this Tansu build reports the start
/// of the last record batch.)
fn all_committed(brokers: &str, t: &Topics, n: usize) -> bool {
    tools::committed(brokers, &t.group, &t.input).is_ok_and(|c| c.values().sum::<i64>() == n as i64)
}

/// Checks that every input record is accounted for exactly once or more
/// (output + dead letter = input), that each output is the engine's
/// redaction of its input, and returns the number of duplicates.
fn verify(brokers: &str, t: &Topics, input: &[Outgoing], invalid: &BTreeSet<usize>) -> usize {
    let n = input.len();
    let out = tools::read_topic(
        brokers,
        &t.output,
        n - invalid.len(),
        Duration::from_secs(60),
    )
    .unwrap();
    let dlq = tools::read_topic(brokers, &t.dlq, invalid.len(), Duration::from_secs(60)).unwrap();
    std::env::set_var("REDACTOR_TOKEN_KEY", TOKEN_KEY);
    let engine = Fast::new(Arc::new(Policy::builtin().unwrap()));
    let mut seen: BTreeMap<usize, usize> = BTreeMap::new();
    let mut expected = Vec::new();
    for r in &out {
        let seq = seq_of(r);
        *seen.entry(seq).or_default() += 1;
        engine
            .redact(&input[seq].payload, &mut expected, &mut Stats::default())
            .unwrap();
        let payload = r.payload().unwrap();
        assert_eq!(
            payload,
            &expected[..],
            "output of record {seq} is its redaction"
        );
        assert!(!String::from_utf8_lossy(payload).contains(PLANTED));
        assert!(
            !invalid.contains(&seq),
            "invalid record {seq} reached the output"
        );
    }
    let mut dead = BTreeSet::new();
    for r in &dlq {
        let seq = seq_of(r);
        *seen.entry(seq).or_default() += 1;
        assert_eq!(r.payload(), Some(&input[seq].payload[..]));
        assert_eq!(
            tools::header(r, "redactor.source.topic"),
            Some(t.input.as_bytes())
        );
        dead.insert(seq);
    }
    assert_eq!(
        &dead, invalid,
        "exactly the invalid records are dead-lettered"
    );
    let missing: Vec<usize> = (0..n).filter(|i| !seen.contains_key(i)).take(10).collect();
    assert!(missing.is_empty(), "records lost, e.g. {missing:?}");
    out.len() + dlq.len() - n
}

#[test]
fn stage_survives_kill_9_and_restart_without_loss() {
    let Some(brokers) = brokers() else { return };
    let dir = tempdir("kill9");
    let t = topics("kill9", &brokers);
    let n = 20_000;
    let input = corpus(n, 997);
    let invalid: BTreeSet<usize> = (0..n).filter(|i| i % 997 == 996).collect();
    let producer = produce_while_running(&brokers, &t.input, &input);

    let port = free_port();
    let config = write_config(&dir, &brokers, &t, port);
    let mut first = StageProcess::start(&config, port, dir.join("first.log"));
    wait_until("a third of the records", Duration::from_secs(90), || {
        first.metric("redactor_records_out_total") > (n / 3) as u64
    });
    first.kill9();
    producer.join().unwrap();

    let second = StageProcess::start(&config, port, dir.join("second.log"));
    wait_until(
        "every input offset committed",
        Duration::from_secs(120),
        || all_committed(&brokers, &t, n),
    );
    let status = { second }.terminate();
    assert!(status.success(), "graceful stop exits 0: {status}");
    let duplicates = verify(&brokers, &t, &input, &invalid);
    let _ = writeln!(
        std::io::stderr(),
        "kill -9 and restart: {n} records, no loss, {duplicates} duplicate(s) re-sent after the kill"
    );
}

#[test]
fn two_instances_share_the_group_and_one_takes_over_from_the_other() {
    let Some(brokers) = brokers() else { return };
    let dir = tempdir("group");
    let t = topics("group", &brokers);
    let n = 20_000;
    let input = corpus(n, 1009);
    let invalid: BTreeSet<usize> = (0..n).filter(|i| i % 1009 == 1008).collect();
    let producer = produce_while_running(&brokers, &t.input, &input);

    let (pa, pb) = (free_port(), free_port());
    let ca = write_config(&dir, &brokers, &t, pa);
    let cb = dir.join("b.toml");
    std::fs::write(
        &cb,
        std::fs::read_to_string(&ca)
            .unwrap()
            .replace(&pa.to_string(), &pb.to_string()),
    )
    .unwrap();
    let mut a = StageProcess::start(&ca, pa, dir.join("a.log"));
    let b = StageProcess::start(&cb, pb, dir.join("b.log"));
    // Both instances must hold partitions: each forwards records.
    wait_until("both instances consuming", Duration::from_secs(90), || {
        a.metric("redactor_records_out_total") > 0 && b.metric("redactor_records_out_total") > 0
    });
    let b_before = b.metric("redactor_records_in_total");
    a.kill9();
    producer.join().unwrap();
    wait_until(
        "every input offset committed",
        Duration::from_secs(120),
        || all_committed(&brokers, &t, n),
    );
    let b_after = b.metric("redactor_records_in_total");
    assert!(
        b_after > b_before,
        "the survivor took over the killed instance's partitions"
    );
    assert!({ b }.terminate().success());
    let duplicates = verify(&brokers, &t, &input, &invalid);
    let _ = writeln!(
        std::io::stderr(),
        "two instances, one killed: {n} records, no loss, {duplicates} duplicate(s)"
    );
}

/// Without a broker (none is needed here): `/metrics` counts each
/// client's errors, so an operator can alert on a broker the stage cannot
/// reach while `redactor_ready` only says it holds no partitions.
#[test]
fn metrics_count_each_clients_errors() {
    let dir = tempdir("client-errors");
    let t = Topics {
        input: "raw".into(),
        output: "out".into(),
        dlq: "dlq".into(),
        group: unique("client-errors"),
    };
    let port = free_port();
    let config = write_config(&dir, "127.0.0.1:1", &t, port);
    let mut stage = StageProcess::start(&config, port, dir.join("stage.log"));
    wait_until("both clients' errors", Duration::from_secs(30), || {
        ["consumer", "producer"]
            .iter()
            .all(|c| stage.metric(&format!("redactor_kafka_errors_total{{client=\"{c}\"}}")) >= 1)
    });
    assert!(stage.terminate().success());
}

/// Produces `input` in chunks over a few seconds, so the stage is killed
/// while records are still arriving.
fn produce_while_running(
    brokers: &str,
    topic: &str,
    input: &[Outgoing],
) -> std::thread::JoinHandle<()> {
    let (brokers, topic, input) = (brokers.to_string(), topic.to_string(), input.to_vec());
    std::thread::spawn(move || {
        for chunk in input.chunks(500) {
            tools::produce(&brokers, &topic, chunk, Duration::from_secs(60)).unwrap();
            std::thread::sleep(Duration::from_millis(100));
        }
    })
}

/// A fresh directory, removed with what it holds when the test is done.
fn tempdir(name: &str) -> TempPath {
    let d = std::env::temp_dir().join(unique(&format!("redactor-e2e-{name}")));
    std::fs::create_dir_all(&d).unwrap();
    TempPath(d)
}

#[test]
fn gen_produces_events_to_a_topic() {
    let Some(brokers) = brokers() else { return };
    let topic = unique("gen");
    tools::create_topics(&brokers, &[(&topic, 2)]).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_redactor"))
        .args([
            "gen",
            "--count",
            "2500",
            "--seed",
            "3",
            "--kafka-brokers",
            &brokers,
            "--kafka-topic",
            &topic,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = tools::read_topic(&brokers, &topic, 2500, Duration::from_secs(60)).unwrap();
    assert_eq!(got.len(), 2500);
    let mut g = redactor_core::gen::Generator::new(redactor_core::gen::Format::Mixed, 3);
    let expected: BTreeSet<Vec<u8>> = (0..2500).map(|_| g.event()).collect();
    let produced: BTreeSet<Vec<u8>> = got.iter().map(|m| m.payload().unwrap().to_vec()).collect();
    assert_eq!(produced, expected);
}

/// Starts `redactor bench kafka` with a small corpus against `brokers`,
/// its stdout and stderr piped.
fn bench_kafka(brokers: &str, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_redactor"))
        .args([
            "bench",
            "kafka",
            "--brokers",
            brokers,
            "--events",
            "800",
            "--rounds",
            "1",
            "--partitions",
            "2",
        ])
        .args(extra)
        .env("REDACTOR_TOKEN_KEY", TOKEN_KEY)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// A `bench kafka` run with a one-second latency phase, to its end; it
/// must succeed. Its process id, its output and its stderr.
fn short_bench_kafka(brokers: &str, extra: &[&str]) -> (u32, std::process::Output, String) {
    let mut args = vec!["--latency-rate", "200", "--latency-secs", "1"];
    args.extend_from_slice(extra);
    let child = bench_kafka(brokers, &args);
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    (pid, out, stderr)
}

/// The broker's topics that the bench run with process id `pid` created.
fn bench_topics(brokers: &str, pid: u32) -> Vec<String> {
    let mine = format!("-{pid}-");
    tools::topic_names(brokers, Duration::from_secs(10))
        .unwrap()
        .into_iter()
        .filter(|t| t.starts_with("redactor-bench-") && t.contains(&mine))
        .collect()
}

#[test]
fn bench_kafka_smoke_run() {
    let Some(brokers) = brokers() else { return };
    let dir = tempdir("bench");
    let json = dir.join("kafka-bench.json");
    let (pid, out, stderr) = short_bench_kafka(&brokers, &["--json", json.to_str().unwrap()]);
    assert!(
        stderr.contains("redacted output verified against the engine"),
        "{stderr}"
    );
    assert!(
        stderr.contains("deleted the 11 benchmark topics"),
        "{stderr}"
    );
    assert_eq!(bench_topics(&brokers, pid), Vec::<String>::new());
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("redaction costs"), "{table}");
    assert!(table.contains("added by redaction"), "{table}");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(v["samples"].as_array().unwrap().len(), 2);
    assert_eq!(v["latency"].as_array().unwrap().len(), 2);
}

#[test]
fn bench_kafka_keeps_its_topics_when_asked() {
    let Some(brokers) = brokers() else { return };
    let (pid, _, stderr) = short_bench_kafka(&brokers, &["--keep-topics"]);
    assert!(stderr.contains("kept the 11 benchmark topics"), "{stderr}");
    let kept = bench_topics(&brokers, pid);
    assert_eq!(kept.len(), 11, "{kept:?}");
    // The latency phase reads the stages' outputs without committing
    // offsets under its group.
    let read = kept
        .iter()
        .filter(|t| t.contains("-lat-") && t.contains("-out-"));
    assert_eq!(read.clone().count(), 2, "{kept:?}");
    for topic in read {
        let offsets = tools::committed(&brokers, "redactor-bench-latency", topic).unwrap();
        assert!(offsets.is_empty(), "{topic}: {offsets:?}");
    }
    tools::delete_topics(&brokers, &kept).unwrap();
}

#[cfg(unix)]
#[test]
fn bench_kafka_stops_on_sigint_and_deletes_its_topics() {
    let Some(brokers) = brokers() else { return };
    // A latency phase of a minute, interrupted once it has begun.
    let mut child = bench_kafka(&brokers, &["--latency-rate", "50", "--latency-secs", "60"]);
    let pid = child.id();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    while !seen.contains("redacted output verified") {
        let mut line = String::new();
        let n = std::io::BufRead::read_line(&mut stderr, &mut line).unwrap();
        assert!(n > 0, "bench kafka ended early: {seen}");
        seen.push_str(&line);
    }
    // Into the latency phase: its topics exist once the first stage runs.
    wait_until(
        "the latency phase's topics",
        Duration::from_secs(30),
        || {
            bench_topics(&brokers, pid)
                .iter()
                .any(|t| t.contains("-lat-"))
        },
    );
    let started = Instant::now();
    let kill = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    stderr.read_to_string(&mut seen).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?} to stop",
        started.elapsed()
    );
    assert_eq!(out.status.code(), Some(130), "{seen}");
    assert!(
        seen.contains("stopped by SIGINT before the measuring ended"),
        "{seen}"
    );
    assert!(seen.contains("deleted the"), "{seen}");
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(bench_topics(&brokers, pid), Vec::<String>::new());
}
