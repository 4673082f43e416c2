//! The stage against librdkafka's in-process mock cluster: topic to topic,
//! order per key, dead-letter routing, commit and resume, a dead-letter
//! topic that cannot be written, a record over the producer's size limit,
//! a broker going down and up, backpressure, and the transactional code
//! path.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::message::{Message, OwnedMessage};
use rdkafka::mocking::MockCluster;
use rdkafka::types::RDKafkaRespErr;
use redactor_core::{Fast, Policy, Redactor, Stats};
use redactor_kafka::config::Delivery;
use redactor_kafka::tools::{self, Outgoing};
use redactor_kafka::{Stage, StageConfig, Summary};

const PLANTED: &str = "ann.leak@example.com";

fn engine() -> Arc<dyn Redactor> {
    std::env::set_var("REDACTOR_TOKEN_KEY", "redactor-kafka-test-key-0123456789");
    Arc::new(Fast::new(Arc::new(
        Policy::builtin().expect("built-in policy"),
    )))
}

/// `n` records: generated events with a sequence number, a planted email in
/// every seventh, keys `user-0`..`user-9`, and an invalid payload at every
/// index in `invalid`.
fn corpus(n: usize, invalid: &[usize]) -> Vec<Outgoing> {
    tools::numbered_corpus(n, 7, 10, |i, ev| {
        if invalid.contains(&i) {
            format!("{{\"seq\":{i},\"broken\":").into_bytes()
        } else if i % 7 == 0 {
            tools::with_note(ev, "note", &format!("mail {PLANTED}"))
        } else {
            ev
        }
    })
}

/// The sequence number a record carries in its `x-seq` header.
fn seq_of(r: &OwnedMessage) -> usize {
    tools::seq_of(r).expect("x-seq header")
}

struct Mock {
    cluster: MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
    brokers: String,
}

fn mock(partitions: i32) -> Mock {
    let cluster = MockCluster::new(1).expect("mock cluster");
    let brokers = cluster.bootstrap_servers();
    for (t, p) in [("raw", partitions), ("out", partitions), ("dlq", 1)] {
        cluster.create_topic(t, p, 1).expect("mock topic");
    }
    Mock { cluster, brokers }
}

fn config(m: &Mock, group: &str) -> StageConfig {
    let mut c = StageConfig::simple(&m.brokers, group, "raw", "out", "dlq");
    c.workers = 2;
    c.batch_records = 64;
    c.consumer_properties = vec![
        ("session.timeout.ms".into(), "6000".into()),
        ("heartbeat.interval.ms".into(), "500".into()),
        ("auto.commit.interval.ms".into(), "200".into()),
    ];
    c
}

/// Runs a stage until `done(metrics)` holds (or 60 s pass), then shuts it
/// down and returns its result.
fn run_until(
    stage: Stage,
    done: impl Fn(&redactor_kafka::metrics::Metrics) -> bool,
) -> anyhow::Result<Summary> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(3)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let metrics = stage.metrics();
        let (tx, rx) = tokio::sync::watch::channel(false);
        let run = tokio::spawn(stage.run(rx));
        let deadline = Instant::now() + Duration::from_secs(60);
        while !done(&metrics) && !run.is_finished() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = tx.send(true);
        tokio::time::timeout(Duration::from_secs(60), run)
            .await
            .expect("the stage stops after shutdown")
            .expect("the stage task does not panic")
    })
}

fn accounted(n: u64) -> impl Fn(&redactor_kafka::metrics::Metrics) -> bool {
    move |m| m.records_out.load(Relaxed) + m.dead_lettered_total() >= n
}

#[test]
fn topic_to_topic_redacts_keeps_order_per_key_and_dead_letters_bad_records() {
    let m = mock(4);
    let n = 600;
    let invalid = [5, 77, 300, 599];
    let input = corpus(n, &invalid);
    tools::produce(&m.brokers, "raw", &input, Duration::from_secs(30)).unwrap();
    let engine = engine();
    let summary = run_until(
        Stage::new(config(&m, "g1"), engine.clone()).unwrap(),
        accounted(n as u64),
    )
    .unwrap();
    assert_eq!(summary.records_in, n as u64);
    assert_eq!(summary.records_out, (n - invalid.len()) as u64);
    assert_eq!(summary.dead_lettered, invalid.len() as u64);

    let out = tools::read_topic(
        &m.brokers,
        "out",
        n - invalid.len(),
        Duration::from_secs(30),
    )
    .unwrap();
    let dlq = tools::read_topic(&m.brokers, "dlq", invalid.len(), Duration::from_secs(30)).unwrap();
    assert_eq!(out.len() + dlq.len(), n, "output + dead letter = input");

    // Every output record is the engine's redaction of its input, keeps the
    // key and the headers, and holds no planted value.
    let mut last_seq_per_key: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut by_partition: BTreeMap<i32, Vec<&OwnedMessage>> = BTreeMap::new();
    for r in &out {
        by_partition.entry(r.partition()).or_default().push(r);
    }
    for records in by_partition.values() {
        for r in records.iter() {
            let payload = r.payload().unwrap();
            let seq = seq_of(r);
            let mut expected = Vec::new();
            engine
                .redact(&input[seq].payload, &mut expected, &mut Stats::default())
                .unwrap();
            assert_eq!(payload, &expected[..], "record {seq}");
            assert!(!String::from_utf8_lossy(payload).contains(PLANTED));
            assert_eq!(r.key(), input[seq].key.as_deref());
            // Order per key: sequence numbers of one key only grow.
            let key = r.key().unwrap().to_vec();
            if let Some(prev) = last_seq_per_key.insert(key, seq) {
                assert!(prev < seq, "key order broken: {prev} then {seq}");
            }
        }
    }
    // Dead letters: the original bytes, with headers naming the reason and
    // the source.
    let mut dead: Vec<usize> = dlq.iter().map(seq_of).collect();
    dead.sort_unstable();
    assert_eq!(dead, invalid);
    for r in &dlq {
        let seq = seq_of(r);
        assert_eq!(r.payload(), Some(&input[seq].payload[..]));
        assert_eq!(
            tools::header(r, "redactor.reason"),
            Some(&b"invalid_json"[..])
        );
        assert_eq!(tools::header(r, "redactor.source.topic"), Some(&b"raw"[..]));
        assert!(tools::header(r, "redactor.source.offset").is_some());
        assert!(tools::header(r, "redactor.source.partition").is_some());
    }
    // Everything consumed is committed after the graceful stop.
    assert_eq!(
        tools::committed(&m.brokers, "g1", "raw").unwrap(),
        tools::end_offsets(&m.brokers, "raw").unwrap()
    );
}

#[test]
fn resumes_from_committed_offsets_without_loss_or_duplicates() {
    let m = mock(2);
    let input = corpus(400, &[]);
    let engine = engine();
    tools::produce(&m.brokers, "raw", &input[..250], Duration::from_secs(30)).unwrap();
    let first = run_until(
        Stage::new(config(&m, "g2"), engine.clone()).unwrap(),
        accounted(250),
    )
    .unwrap();
    assert_eq!(first.records_out, 250);
    tools::produce(&m.brokers, "raw", &input[250..], Duration::from_secs(30)).unwrap();
    let second = run_until(
        Stage::new(config(&m, "g2"), engine).unwrap(),
        accounted(150),
    )
    .unwrap();
    assert_eq!(
        second.records_in, 150,
        "the second run starts where the first committed"
    );
    let out = tools::read_topic(&m.brokers, "out", 400, Duration::from_secs(30)).unwrap();
    let mut seqs: Vec<usize> = out.iter().map(seq_of).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (0..400).collect::<Vec<_>>());
}

#[test]
fn an_unwritable_dead_letter_topic_stops_the_stage_without_committing_past_it() {
    let m = mock(1);
    let input = corpus(100, &[40]);
    tools::produce(&m.brokers, "raw", &input, Duration::from_secs(30)).unwrap();
    m.cluster
        .topic_error(
            "dlq",
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
        )
        .unwrap();
    let mut c = config(&m, "g3");
    c.delivery_timeout = Duration::from_secs(3);
    let engine = engine();
    let err = run_until(Stage::new(c.clone(), engine.clone()).unwrap(), |_| false).unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("dead-letter topic"), "{msg}");
    assert!(msg.contains("offset 40"), "{msg}");
    let committed = tools::committed(&m.brokers, "g3", "raw").unwrap();
    assert!(
        committed.get(&0).copied().unwrap_or(0) <= 40,
        "committed past the failed record: {committed:?}"
    );
    // Once the topic can be written again, a restart accounts for everything.
    m.cluster
        .topic_error("dlq", RDKafkaRespErr::RD_KAFKA_RESP_ERR_NO_ERROR)
        .unwrap();
    let before = committed.get(&0).copied().unwrap_or(0) as u64;
    run_until(Stage::new(c, engine).unwrap(), accounted(100 - before)).unwrap();
    let out = tools::read_topic(&m.brokers, "out", 99, Duration::from_secs(30)).unwrap();
    let dlq = tools::read_topic(&m.brokers, "dlq", 1, Duration::from_secs(30)).unwrap();
    let mut seqs: Vec<usize> = out.iter().map(seq_of).collect();
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs.len(), 99, "every valid record reached the output");
    assert_eq!(dlq.len(), 1);
    assert_eq!(seq_of(&dlq[0]), 40);
}

#[test]
fn survives_a_broker_outage_without_loss() {
    let m = mock(2);
    let input = corpus(300, &[]);
    tools::produce(&m.brokers, "raw", &input[..100], Duration::from_secs(30)).unwrap();
    let stage = Stage::new(config(&m, "g4"), engine()).unwrap();
    let metrics = stage.metrics();
    let brokers = m.brokers.clone();
    let later = input[100..].to_vec();
    let cluster = &m.cluster;
    std::thread::scope(|s| {
        let runner = s.spawn(move || run_until(stage, accounted(300)));
        let deadline = Instant::now() + Duration::from_secs(60);
        while metrics.records_out.load(Relaxed) < 100 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        cluster.broker_down(1).unwrap();
        std::thread::sleep(Duration::from_millis(1500));
        cluster.broker_up(1).unwrap();
        tools::produce(&brokers, "raw", &later, Duration::from_secs(30)).unwrap();
        let summary = runner.join().unwrap().unwrap();
        assert!(summary.records_out >= 300, "{summary:?}");
    });
    let out = tools::read_topic(&m.brokers, "out", 300, Duration::from_secs(30)).unwrap();
    let mut seqs: Vec<usize> = out.iter().map(seq_of).collect();
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs, (0..300).collect::<Vec<_>>());
}

#[test]
fn backpressure_pauses_consumption_and_loses_nothing() {
    let m = mock(2);
    let input = corpus(500, &[]);
    tools::produce(&m.brokers, "raw", &input, Duration::from_secs(30)).unwrap();
    let mut c = config(&m, "g5");
    c.max_in_flight_bytes = 8 * 1024;
    let stage = Stage::new(c, engine()).unwrap();
    let metrics = stage.metrics();
    let summary = run_until(stage, accounted(500)).unwrap();
    assert_eq!(summary.records_out, 500);
    assert!(
        metrics.pauses.load(Relaxed) > 0,
        "the in-flight limit was reached"
    );
    assert_eq!(metrics.in_flight_bytes.load(Relaxed), 0);
}

#[test]
fn exactly_once_path_commits_outputs_and_offsets_in_transactions() {
    let m = mock(2);
    let input = corpus(300, &[9]);
    tools::produce(&m.brokers, "raw", &input, Duration::from_secs(30)).unwrap();
    let mut c = config(&m, "g6");
    c.delivery = Delivery::ExactlyOnce;
    c.transactional_id = "redactor-test-eos".into();
    let stage = Stage::new(c, engine()).unwrap();
    let metrics = stage.metrics();
    let summary = run_until(stage, accounted(300)).unwrap();
    assert_eq!(summary.records_out, 299);
    assert_eq!(summary.dead_lettered, 1);
    assert!(metrics.transactions.load(Relaxed) > 0);
    let out = tools::read_topic(&m.brokers, "out", 299, Duration::from_secs(30)).unwrap();
    assert_eq!(out.len(), 299);
    // The input offsets were sent to the transactions, but librdkafka's
    // mock ignores TxnOffsetCommit, so they cannot be read back here; the
    // end-to-end test against a real broker covers that (docs/kafka.md).
}

#[test]
fn pattern_subscription_maps_topics_and_dead_letters_unmapped_ones() {
    let cluster = MockCluster::new(1).expect("mock cluster");
    let brokers = cluster.bootstrap_servers();
    for (t, p) in [("raw.a", 2), ("raw.b", 1), ("out.a", 2), ("dlq", 1)] {
        cluster.create_topic(t, p, 1).unwrap();
    }
    let input = corpus(50, &[]);
    tools::produce(&brokers, "raw.a", &input[..30], Duration::from_secs(30)).unwrap();
    tools::produce(&brokers, "raw.b", &input[30..], Duration::from_secs(30)).unwrap();
    let text = format!(
        "[kafka]\nbrokers = {brokers:?}\ngroup = \"g7\"\n\
         [kafka.consumer]\n\"session.timeout.ms\" = 6000\n\"topic.metadata.refresh.interval.ms\" = 500\n\
         [topics]\ninput_pattern = \"^raw\\\\..*\"\ndead_letter = \"dlq\"\n[topics.output_map]\n\"raw.a\" = \"out.a\"\n\
         [record]\nkey = \"tokenize\"\n[metrics]\nlisten = \"\"\n"
    );
    let c = StageConfig::parse(&text, "pattern test", std::path::Path::new(".")).unwrap();
    let summary = run_until(Stage::new(c, engine()).unwrap(), accounted(50)).unwrap();
    assert_eq!(summary.records_out, 30);
    assert_eq!(summary.dead_lettered, 20);
    let out = tools::read_topic(&brokers, "out.a", 30, Duration::from_secs(30)).unwrap();
    assert_eq!(out.len(), 30);
    for r in &out {
        let key = r.key().unwrap();
        assert!(key.starts_with(b"tok_"), "keys are tokenized");
        assert_ne!(Some(key), input[seq_of(r)].key.as_deref());
    }
    let dlq = tools::read_topic(&brokers, "dlq", 20, Duration::from_secs(30)).unwrap();
    assert_eq!(dlq.len(), 20);
    for r in &dlq {
        assert_eq!(
            tools::header(r, "redactor.reason"),
            Some(&b"no_output_topic"[..])
        );
        assert_eq!(
            tools::header(r, "redactor.source.topic"),
            Some(&b"raw.b"[..])
        );
        // Dead letters keep the original key.
        assert_eq!(r.key(), input[seq_of(r)].key.as_deref());
    }
}

#[test]
fn a_record_over_the_producers_size_limit_stops_the_stage_until_the_limit_is_raised() {
    use rdkafka::config::ClientConfig;
    use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
    let m = mock(1);
    // 1.5 MB, over librdkafka's default message.max.bytes of 1 000 000.
    let big = format!(
        r#"{{"event":"x","properties":{{"email":"{PLANTED}","pad":"{}"}}}}"#,
        "y".repeat(1_500_000)
    );
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", &m.brokers)
        .set("message.max.bytes", "4000000")
        .create()
        .unwrap();
    producer
        .send(BaseRecord::<'_, [u8], [u8]>::to("raw").payload(big.as_bytes()))
        .map_err(|(e, _)| e)
        .unwrap();
    producer.flush(Duration::from_secs(30)).unwrap();
    let mut c = config(&m, "g-big");
    c.delivery_timeout = Duration::from_secs(3);
    let err = run_until(Stage::new(c.clone(), engine()).unwrap(), |_| false).unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("raw/0 offset 0"), "{msg}");
    assert!(msg.contains("MessageSizeTooLarge"), "{msg}");
    assert!(!msg.contains(PLANTED), "{msg}");
    assert!(tools::committed(&m.brokers, "g-big", "raw")
        .unwrap()
        .is_empty());
    // With the producer's limit raised, as docs/kafka.md says.
    c.producer_properties = vec![("message.max.bytes".into(), "4000000".into())];
    run_until(Stage::new(c, engine()).unwrap(), accounted(1)).unwrap();
    let out = tools::read_topic(&m.brokers, "out", 1, Duration::from_secs(30)).unwrap();
    assert_eq!(out.len(), 1);
    let payload = out[0].payload().unwrap();
    assert!(payload.len() > 1_500_000);
    assert!(!String::from_utf8_lossy(payload).contains(PLANTED));
}
