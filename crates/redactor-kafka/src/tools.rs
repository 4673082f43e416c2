//! Client helpers used by `redactor bench kafka` and the tests: produce a
//! corpus to a topic, read a topic back, query committed offsets.
//! Every wait is bounded by a timeout.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication, TopicResult};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Message, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};

/// An admin client for `brokers` and a runtime to drive its requests.
fn admin(
    brokers: &str,
) -> anyhow::Result<(AdminClient<DefaultClientContext>, tokio::runtime::Runtime)> {
    let admin = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .context("cannot create an admin client")?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok((admin, rt))
}

/// Creates topics (ignoring "already exists").
///
/// # Errors
///
/// When the admin request fails for another reason.
pub fn create_topics(brokers: &str, topics: &[(&str, i32)]) -> anyhow::Result<()> {
    let (admin, rt) = admin(brokers)?;
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|(t, p)| NewTopic::new(t, *p, TopicReplication::Fixed(1)))
        .collect();
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let results = rt.block_on(admin.create_topics(&new, &opts))?;
    each_topic_done(results, "create", RDKafkaErrorCode::TopicAlreadyExists)
}

/// Fails on the first topic an admin request could not `verb`, unless for
/// the `expected` reason.
fn each_topic_done(
    results: Vec<TopicResult>,
    verb: &str,
    expected: RDKafkaErrorCode,
) -> anyhow::Result<()> {
    for r in results {
        if let Err((topic, code)) = r {
            if code != expected {
                bail!("cannot {verb} topic {topic}: {code}");
            }
        }
    }
    Ok(())
}

/// Deletes topics (ignoring "does not exist").
///
/// # Errors
///
/// When the admin request fails for another reason, naming the first
/// topic that could not be deleted.
pub fn delete_topics(brokers: &str, topics: &[String]) -> anyhow::Result<()> {
    if topics.is_empty() {
        return Ok(());
    }
    let (admin, rt) = admin(brokers)?;
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    let opts = AdminOptions::new()
        .request_timeout(Some(Duration::from_secs(10)))
        .operation_timeout(Some(Duration::from_secs(10)));
    let results = rt.block_on(admin.delete_topics(&names, &opts))?;
    each_topic_done(results, "delete", RDKafkaErrorCode::UnknownTopicOrPartition)
}

/// How long [`reach`] waits for a broker's answer.
pub const REACH_TIMEOUT: Duration = Duration::from_secs(10);

/// Checks that a broker at `brokers` answers a metadata request within
/// [`REACH_TIMEOUT`].
///
/// # Errors
///
/// When none does, naming the brokers and the client's reason.
pub fn reach(brokers: &str) -> anyhow::Result<()> {
    topic_names(brokers, REACH_TIMEOUT)
        .map(drop)
        .with_context(|| {
            format!(
                "no Kafka broker at {brokers} answered within {} s",
                REACH_TIMEOUT.as_secs()
            )
        })
}

/// The names of the topics the broker has.
///
/// # Errors
///
/// When the broker does not answer within `timeout`.
pub fn topic_names(brokers: &str, timeout: Duration) -> anyhow::Result<Vec<String>> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .context("cannot create a consumer")?;
    let md = consumer.fetch_metadata(None, timeout)?;
    Ok(md.topics().iter().map(|t| t.name().to_owned()).collect())
}

/// One record to produce.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// Key.
    pub key: Option<Vec<u8>>,
    /// Value.
    pub payload: Vec<u8>,
    /// Headers.
    pub headers: Vec<(String, Vec<u8>)>,
}

/// Produces `records` to `topic` and waits until all are acknowledged.
///
/// # Errors
///
/// When a record is not acknowledged within `timeout`.
pub fn produce(
    brokers: &str,
    topic: &str,
    records: &[Outgoing],
    timeout: Duration,
) -> anyhow::Result<()> {
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .set("message.timeout.ms", timeout.as_millis().to_string())
        .create()
        .context("cannot create a producer")?;
    let deadline = Instant::now() + timeout;
    for r in records {
        let mut headers = OwnedHeaders::new_with_capacity(r.headers.len());
        for (k, v) in &r.headers {
            headers = headers.insert(Header {
                key: k,
                value: Some(v),
            });
        }
        let mut rec: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(topic)
            .payload(&r.payload[..])
            .headers(headers);
        if let Some(k) = &r.key {
            rec = rec.key(&k[..]);
        }
        loop {
            match producer.send(rec) {
                Ok(()) => break,
                Err((e, back)) => {
                    if Instant::now() > deadline {
                        bail!("cannot produce to {topic}: {e}");
                    }
                    rec = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
    }
    producer
        .flush(deadline.saturating_duration_since(Instant::now()))
        .context("records not acknowledged in time")?;
    Ok(())
}

/// Reads every partition of `topic` from the beginning (no group) until at
/// least `expected` records arrived and nothing more came for a second (so
/// duplicates do not hide records), or `timeout` passed; returns what
/// arrived.
///
/// # Errors
///
/// When the topic's metadata cannot be fetched.
pub fn read_topic(
    brokers: &str,
    topic: &str,
    expected: usize,
    timeout: Duration,
) -> anyhow::Result<Vec<OwnedMessage>> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "redactor-reader")
        .set("enable.auto.commit", "false")
        .create()
        .context("cannot create a reader")?;
    let deadline = Instant::now() + timeout;
    let partitions = partitions(&consumer, topic, deadline)?;
    let mut tpl = TopicPartitionList::new();
    for p in partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)?;
    }
    consumer.assign(&tpl)?;
    let mut out = Vec::new();
    let mut last = Instant::now();
    while Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                out.push(m.detach());
                last = Instant::now();
            }
            Some(Err(_)) => {}
            None if out.len() >= expected && last.elapsed() > Duration::from_secs(1) => break,
            None => {}
        }
    }
    Ok(out)
}

fn partitions(consumer: &BaseConsumer, topic: &str, deadline: Instant) -> anyhow::Result<Vec<i32>> {
    loop {
        let md = consumer.fetch_metadata(Some(topic), Duration::from_secs(5));
        if let Ok(md) = &md {
            if let Some(t) = md.topics().iter().find(|t| t.name() == topic) {
                if t.error().is_none() && !t.partitions().is_empty() {
                    return Ok(t.partitions().iter().map(|p| p.id()).collect());
                }
            }
        }
        if Instant::now() > deadline {
            bail!("no metadata for topic {topic}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The committed offset of each partition of `topic` for `group`
/// (partitions without a commit are left out).
///
/// # Errors
///
/// When the metadata or the offsets cannot be fetched.
pub fn committed(brokers: &str, group: &str, topic: &str) -> anyhow::Result<BTreeMap<i32, i64>> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()?;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut tpl = TopicPartitionList::new();
    for p in partitions(&consumer, topic, deadline)? {
        tpl.add_partition(topic, p);
    }
    let got = consumer.committed_offsets(tpl, Duration::from_secs(10))?;
    Ok(got
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(o) => Some((e.partition(), o)),
            _ => None,
        })
        .collect())
}

/// The end offset (high watermark) of each partition of `topic`.
///
/// # Errors
///
/// When the metadata or the watermarks cannot be fetched.
pub fn end_offsets(brokers: &str, topic: &str) -> anyhow::Result<BTreeMap<i32, i64>> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()?;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut out = BTreeMap::new();
    for p in partitions(&consumer, topic, deadline)? {
        let (_, high) = consumer.fetch_watermarks(topic, p, Duration::from_secs(10))?;
        out.insert(p, high);
    }
    Ok(out)
}

/// Header value by name.
pub fn header<'a>(m: &'a OwnedMessage, name: &str) -> Option<&'a [u8]> {
    use rdkafka::message::Headers;
    m.headers()?
        .iter()
        .find(|h| h.key == name)
        .and_then(|h| h.value)
}

/// `n` generated events (`gen --format mixed`, `seed`) as records keyed
/// `user-<i mod keys>`, each numbered by an `x-seq` header (headers are
/// forwarded by the stage and kept on dead letters, so outputs can be
/// matched to inputs). `edit(i, event)` may change the payload.
pub fn numbered_corpus(
    n: usize,
    seed: u64,
    keys: usize,
    mut edit: impl FnMut(usize, Vec<u8>) -> Vec<u8>,
) -> Vec<Outgoing> {
    let mut g = redactor_core::gen::Generator::new(redactor_core::gen::Format::Mixed, seed);
    (0..n)
        .map(|i| Outgoing {
            key: Some(format!("user-{}", i % keys.max(1)).into_bytes()),
            payload: edit(i, g.event()),
            headers: vec![("x-seq".into(), i.to_string().into_bytes())],
        })
        .collect()
}

/// The `x-seq` number of a record of [`numbered_corpus`].
pub fn seq_of(m: &OwnedMessage) -> Option<usize> {
    std::str::from_utf8(header(m, "x-seq")?).ok()?.parse().ok()
}

/// Prepends a member holding `text` to an event that is a JSON object.
pub fn with_note(event: Vec<u8>, name: &str, text: &str) -> Vec<u8> {
    if event.first() != Some(&b'{') {
        return event;
    }
    let mut p = format!("{{\"{name}\":\"{text}\",").into_bytes();
    p.extend_from_slice(&event[1..]);
    p
}
