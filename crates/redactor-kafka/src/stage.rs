//! The stage: consume, redact on a worker pool, produce, and commit only
//! what the broker acknowledged.
//!
//! At-least-once (the default) is a pipeline of three tasks joined by
//! bounded channels:
//!
//! 1. the consumer loop receives records, groups them into batches and hands
//!    each batch to the worker pool (`std` threads, off the reactor);
//! 2. the producer task takes the redacted batches *in dispatch order* and
//!    sends every record (output or dead letter) — so records of one input
//!    partition are sent in their input order, and the idempotent producer
//!    keeps that order per output partition;
//! 3. the acknowledgement task awaits the deliveries in send order and stores
//!    the input offset of each acknowledged record. Because it walks in send
//!    order, a stored offset never passes a record that is not yet
//!    acknowledged. librdkafka commits stored offsets periodically, on
//!    revocation and on close.
//!
//! A delivery that fails (after the client's own retries, within
//! `stage.delivery_timeout_ms`) stops the stage without storing that offset
//! or any later one: nothing is lost, the next start resumes from there.
//!
//! Memory is bounded by `stage.max_in_flight_bytes`: when the records
//! consumed and not yet acknowledged reach it, the stage pauses its
//! partitions until acknowledgements free room.
//!
//! Exactly-once runs batch by batch inside producer transactions, with the
//! input offsets sent to the transaction.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use rdkafka::client::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use redactor_core::{Redactor, Stats};
use tokio::sync::{mpsc, oneshot, watch, Semaphore};
use tracing::{debug, error, info, warn};

use crate::config::{Delivery, Inputs, Partitioning, StageConfig};
use crate::metrics::{lag_from_statistics, Client, Metrics};
use crate::record::{Fate, Incoming, Processed, RecordRules, DEAD_LETTER_REASONS};

/// What a run did, for the closing log line and for tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Records consumed.
    pub records_in: u64,
    /// Records acknowledged on output topics.
    pub records_out: u64,
    /// Records acknowledged on the dead-letter topic.
    pub dead_lettered: u64,
}

/// The Kafka stage.
#[derive(Debug)]
pub struct Stage {
    config: StageConfig,
    rules: Arc<RecordRules>,
    metrics: Arc<Metrics>,
}

impl Stage {
    /// A redacting stage.
    ///
    /// # Errors
    ///
    /// When the record rules cannot be applied with this policy.
    pub fn new(config: StageConfig, engine: Arc<dyn Redactor>) -> anyhow::Result<Stage> {
        Stage::build(config, engine, true)
    }

    /// The benchmark baseline: the same consumer, batching, producer and
    /// offset handling, with payloads forwarded unchanged. Never use it in
    /// front of a vendor.
    ///
    /// # Errors
    ///
    /// As [`Stage::new`].
    pub fn pass_through(config: StageConfig, engine: Arc<dyn Redactor>) -> anyhow::Result<Stage> {
        Stage::build(config, engine, false)
    }

    fn build(
        config: StageConfig,
        engine: Arc<dyn Redactor>,
        redact: bool,
    ) -> anyhow::Result<Stage> {
        let metrics = Arc::new(Metrics::new(engine.policy()));
        let rules = Arc::new(RecordRules::new(&config, engine, redact).map_err(|e| anyhow!(e))?);
        Ok(Stage {
            config,
            rules,
            metrics,
        })
    }

    /// How long draining may take (`stage.drain_timeout_ms`).
    pub fn drain_timeout(&self) -> Duration {
        self.config.drain_timeout
    }

    /// The stage's metrics (shared with its tasks and the HTTP endpoint).
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// Runs until `shutdown` turns true (then drains and commits) or an
    /// error stops it. Needs a multi-threaded tokio runtime.
    ///
    /// # Errors
    ///
    /// When the clients cannot be created, a delivery fails, or a
    /// transaction cannot be completed; offsets past the failure are not
    /// committed.
    pub async fn run(self, shutdown: watch::Receiver<bool>) -> anyhow::Result<Summary> {
        let result = match self.config.delivery {
            Delivery::AtLeastOnce => self.at_least_once(shutdown).await,
            Delivery::ExactlyOnce => self.exactly_once(shutdown).await,
        };
        self.metrics.ready.store(false, Relaxed);
        if result.is_err() {
            self.metrics.live.store(false, Relaxed);
        }
        let m = &self.metrics;
        let summary = Summary {
            records_in: m.records_in.load(Relaxed),
            records_out: m.records_out.load(Relaxed),
            dead_lettered: m.dead_lettered_total(),
        };
        info!(
            records_in = summary.records_in,
            records_out = summary.records_out,
            dead_lettered = summary.dead_lettered,
            "stage stopped"
        );
        result.map(|()| summary)
    }

    fn workers(&self) -> usize {
        if self.config.workers > 0 {
            self.config.workers
        } else {
            redactor_core::default_threads()
        }
    }

    fn consumer(&self, ctx: StageContext) -> anyhow::Result<Arc<StreamConsumer<StageContext>>> {
        let c = &self.config;
        let mut cfg = ClientConfig::new();
        cfg.set("bootstrap.servers", &c.brokers)
            .set("group.id", &c.group)
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("statistics.interval.ms", "5000")
            .set("queued.max.messages.kbytes", "16384")
            // With a bounded prefetch buffer, librdkafka's default of 1 s
            // here turns a full buffer into a second of idling: the stage
            // drains 16 MiB in a fraction of that and then waits.
            .set("fetch.queue.backoff.ms", "20")
            .set_log_level(RDKafkaLogLevel::Warning);
        match c.delivery {
            Delivery::AtLeastOnce => {
                cfg.set("enable.auto.commit", "true");
            }
            Delivery::ExactlyOnce => {
                cfg.set("enable.auto.commit", "false")
                    .set("isolation.level", "read_committed");
            }
        }
        for (k, v) in c.properties.iter().chain(&c.consumer_properties) {
            cfg.set(k, v);
        }
        let consumer: StreamConsumer<StageContext> = cfg
            .create_with_context(ctx)
            .context("cannot create the Kafka consumer (check [kafka] and [kafka.consumer])")?;
        match &c.inputs {
            Inputs::Topics(list) => {
                let topics: Vec<&str> = list.iter().map(String::as_str).collect();
                consumer.subscribe(&topics)
            }
            Inputs::Pattern(p) => {
                let p = if p.starts_with('^') {
                    p.clone()
                } else {
                    format!("^{p}")
                };
                consumer.subscribe(&[&p])
            }
        }
        .context("cannot subscribe to the input topics")?;
        Ok(Arc::new(consumer))
    }

    fn producer(&self) -> anyhow::Result<FutureProducer<LogContext>> {
        let c = &self.config;
        let mut cfg = ClientConfig::new();
        cfg.set("bootstrap.servers", &c.brokers)
            .set("enable.idempotence", "true")
            .set("linger.ms", "5")
            .set(
                "message.timeout.ms",
                c.delivery_timeout.as_millis().to_string(),
            )
            .set_log_level(RDKafkaLogLevel::Warning);
        if c.delivery == Delivery::ExactlyOnce {
            // A record may be retried for as long as its transaction lives.
            cfg.set("transactional.id", &c.transactional_id).set(
                "transaction.timeout.ms",
                c.delivery_timeout.as_millis().max(1000).to_string(),
            );
        }
        for (k, v) in c.properties.iter().chain(&c.producer_properties) {
            cfg.set(k, v);
        }
        cfg.create_with_context(LogContext::new(
            Client::Producer,
            Some(self.metrics.clone()),
        ))
        .context("cannot create the Kafka producer (check [kafka] and [kafka.producer])")
    }

    fn context(&self, in_flight: Arc<InFlight>) -> StageContext {
        StageContext {
            log: LogContext::new(Client::Consumer, Some(self.metrics.clone())),
            metrics: self.metrics.clone(),
            in_flight,
            drain_timeout: self.config.drain_timeout,
            revoked: Arc::new(AtomicBool::new(false)),
        }
    }

    async fn at_least_once(&self, mut shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
        let c = &self.config;
        let in_flight = Arc::new(InFlight::default());
        let consumer = self.consumer(self.context(in_flight.clone()))?;
        let producer = self.producer()?;
        let pool = Pool::new(self.workers(), self.rules.clone())?;
        let permits = Arc::new(Semaphore::new(c.max_in_flight_bytes));
        let (batch_tx, batch_rx) =
            mpsc::channel::<oneshot::Receiver<Redacted>>(self.workers() * 2 + 2);
        let (ack_tx, ack_rx) = mpsc::unbounded_channel::<Pending>();
        let mut producing = tokio::spawn(produce(
            producer,
            Arc::new(self.config.clone()),
            batch_rx,
            ack_tx,
            self.metrics.clone(),
        ));
        let mut acking = tokio::spawn(acknowledge(
            consumer.clone(),
            ack_rx,
            self.metrics.clone(),
            in_flight.clone(),
            permits.clone(),
            c.max_in_flight_bytes,
        ));
        info!(
            brokers = %c.brokers,
            group = %c.group,
            delivery = c.delivery.name(),
            workers = self.workers(),
            "stage started"
        );

        let mut batch = Batch::default();
        let mut failure: Option<anyhow::Error> = None;
        let stop_signal = shutdown.clone();
        'main: loop {
            tokio::select! {
                biased;
                _ = stopped(&mut shutdown) => {
                    info!("shutdown requested: draining in-flight records");
                    break;
                }
                r = &mut producing => { failure = Some(task_error(r, "producer")); break; }
                r = &mut acking => { failure = Some(task_error(r, "acknowledgement")); break; }
                _ = sleep_until(batch.deadline), if batch.deadline.is_some() => {
                    if !batch.dispatch(&pool, &batch_tx, &in_flight).await { break; }
                }
                m = consumer.recv() => {
                    let m = match m {
                        Ok(m) => m,
                        Err(e) => { consumer_error(consumer.context(), &e); continue; }
                    };
                    let rec = owned(&m);
                    drop(m);
                    self.metrics.records_in.fetch_add(1, Relaxed);
                    self.metrics.bytes_in.fetch_add(rec.payload.as_ref().map_or(0, Vec::len) as u64, Relaxed);
                    let need = permits_for(rec.size(), c.max_in_flight_bytes);
                    match permits.clone().try_acquire_many_owned(need) {
                        Ok(p) => p.forget(),
                        Err(_) => {
                            // Backpressure: hand over what we hold, pause
                            // fetching, and wait for acknowledgements.
                            if !batch.dispatch(&pool, &batch_tx, &in_flight).await { break; }
                            let assigned = consumer.assignment().unwrap_or_default();
                            let _ = consumer.pause(&assigned);
                            self.metrics.pauses.fetch_add(1, Relaxed);
                            debug!("in-flight limit reached: consumption paused");
                            let mut stop = stop_signal.clone();
                            tokio::select! {
                                biased;
                                _ = stopped(&mut stop) => {
                                    info!("shutdown requested while paused: draining");
                                    // This record was never counted: it is
                                    // not forwarded nor committed.
                                    break 'main;
                                }
                                r = &mut producing => { failure = Some(task_error(r, "producer")); break 'main; }
                                r = &mut acking => { failure = Some(task_error(r, "acknowledgement")); break 'main; }
                                p = permits.clone().acquire_many_owned(need) => {
                                    if let Ok(p) = p { p.forget(); }
                                }
                            }
                            let _ = consumer.resume(&assigned);
                        }
                    }
                    self.metrics.in_flight_bytes.store((c.max_in_flight_bytes - permits.available_permits()) as u64, Relaxed);
                    batch.push(rec, c.linger);
                    let full = batch.records.len() >= c.batch_records || batch.bytes >= c.batch_bytes;
                    if full && !batch.dispatch(&pool, &batch_tx, &in_flight).await { break; }
                }
            }
        }

        // Drain: dispatch what is held, let the producer send everything,
        // wait (bounded) for the acknowledgements, then commit.
        if failure.is_none() {
            batch.dispatch(&pool, &batch_tx, &in_flight).await;
        }
        drop(batch_tx);
        if failure.is_none() {
            match tokio::time::timeout(c.drain_timeout, &mut producing).await {
                Ok(r) => {
                    if let Err(e) = flatten(r, "producer") {
                        failure = Some(e);
                    }
                }
                Err(_) => warn!("drain timeout: records not yet sent are not committed"),
            }
        }
        if failure.is_none() || !acking.is_finished() {
            match tokio::time::timeout(c.drain_timeout, &mut acking).await {
                Ok(r) => {
                    if let Err(e) = flatten(r, "acknowledgement") {
                        failure.get_or_insert(e);
                    }
                }
                Err(_) => warn!("drain timeout: unacknowledged records are not committed and will be read again"),
            }
        }
        producing.abort();
        acking.abort();
        commit(&*consumer);
        match failure {
            Some(e) => {
                error!(error = %e, "the stage stops; offsets past the failure are not committed");
                Err(e)
            }
            None => Ok(()),
        }
    }

    async fn exactly_once(&self, mut shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
        let c = &self.config;
        let ctx = self.context(Arc::new(InFlight::default()));
        let revoked = ctx.revoked.clone();
        let consumer = self.consumer(ctx)?;
        let producer = self.producer()?;
        let timeout = c.delivery_timeout;
        blocking(|| producer.init_transactions(timeout))
            .context("cannot initialise transactions (is transactional.id unique per instance?)")?;
        let pool = Pool::new(self.workers(), self.rules.clone())?;
        let config = Arc::new(c.clone());
        info!(
            brokers = %c.brokers,
            group = %c.group,
            delivery = c.delivery.name(),
            transactional_id = %c.transactional_id,
            "stage started"
        );
        loop {
            // Collect one batch.
            revoked.store(false, Relaxed);
            let mut batch = Batch::default();
            let mut stop = false;
            loop {
                let wait = batch
                    .deadline
                    .map(|d| d.saturating_duration_since(Instant::now()));
                tokio::select! {
                    biased;
                    _ = stopped(&mut shutdown) => { stop = true; break; }
                    _ = tokio::time::sleep(wait.unwrap_or(Duration::from_secs(3600))), if wait.is_some() => break,
                    m = consumer.recv() => match m {
                        Ok(m) => {
                            let rec = owned(&m);
                            drop(m);
                                    batch.push(rec, c.linger);
                            if batch.records.len() >= c.batch_records || batch.bytes >= c.batch_bytes { break; }
                        }
                        Err(e) => consumer_error(consumer.context(), &e),
                    }
                }
            }
            if revoked.load(Relaxed) {
                // A rebalance happened while collecting: the new assignment
                // restarts from committed offsets, so this batch is dropped
                // unprocessed rather than committed for partitions we may no
                // longer own.
                info!(
                    records = batch.records.len(),
                    "rebalance during a batch: batch discarded, to be read again"
                );
                if stop {
                    break;
                }
                continue;
            }
            if batch.records.is_empty() {
                if stop {
                    break;
                }
                continue;
            }
            let n = batch.records.len() as u64;
            self.metrics.records_in.fetch_add(n, Relaxed);
            self.metrics.bytes_in.fetch_add(batch.bytes as u64, Relaxed);
            let first_offsets = first_offsets(&batch.records);
            let next_offsets = next_offsets(&batch.records)?;
            let redacted = pool
                .run_split(std::mem::take(&mut batch.records), self.workers())
                .await?;
            match self
                .transaction(&producer, &consumer, &config, redacted, &next_offsets)
                .await
            {
                Ok(()) => {
                    self.metrics.transactions.fetch_add(1, Relaxed);
                }
                Err(TxnError::Abortable(e)) => {
                    warn!(error = %e, "transaction aborted; the batch will be read again");
                    self.metrics.aborts.fetch_add(1, Relaxed);
                    blocking(|| producer.abort_transaction(timeout))
                        .context("cannot abort the transaction")?;
                    for ((topic, partition), offset) in &first_offsets {
                        consumer
                            .seek(topic, *partition, Offset::Offset(*offset), timeout)
                            .with_context(|| {
                                format!("cannot rewind {topic}/{partition} after an abort")
                            })?;
                    }
                }
                Err(TxnError::Fatal(e)) => {
                    return Err(e.context("transaction failed; nothing of it is committed"));
                }
            }
            if stop {
                break;
            }
        }
        Ok(())
    }

    async fn transaction(
        &self,
        producer: &FutureProducer<LogContext>,
        consumer: &StreamConsumer<StageContext>,
        config: &StageConfig,
        redacted: Vec<Redacted>,
        offsets: &TopicPartitionList,
    ) -> Result<(), TxnError> {
        let timeout = config.delivery_timeout;
        producer.begin_transaction().map_err(classify)?;
        let mut futures = Vec::new();
        for r in &redacted {
            for p in &r.processed {
                let f = send(producer, config, p).await.map_err(classify)?;
                futures.push((f, p));
            }
        }
        let group = consumer
            .group_metadata()
            .ok_or_else(|| TxnError::Fatal(anyhow!("the consumer has no group metadata")))?;
        blocking(|| producer.send_offsets_to_transaction(offsets, &group, timeout))
            .map_err(classify)?;
        blocking(|| producer.commit_transaction(timeout)).map_err(classify)?;
        for r in &redacted {
            self.metrics.batches.fetch_add(1, Relaxed);
            self.metrics.batch_latency.observe(r.elapsed);
            self.metrics.add_redactions(&r.stats);
        }
        for (f, p) in futures {
            match f.await {
                Ok(Ok(_)) => {
                    let (dead_letter, payload_bytes) = outcome(p);
                    count_delivered(&self.metrics, dead_letter, payload_bytes);
                }
                Ok(Err((e, _))) => {
                    return Err(TxnError::Fatal(anyhow!(
                        "a record of a committed transaction reports a failed delivery: {e}"
                    )))
                }
                Err(_) => {
                    return Err(TxnError::Fatal(anyhow!(
                        "the producer dropped a delivery report"
                    )))
                }
            }
        }
        Ok(())
    }
}

enum TxnError {
    Abortable(anyhow::Error),
    Fatal(anyhow::Error),
}

fn classify(e: KafkaError) -> TxnError {
    match &e {
        KafkaError::Transaction(t) if t.txn_requires_abort() => TxnError::Abortable(e.into()),
        KafkaError::Transaction(t) if t.is_fatal() => TxnError::Fatal(anyhow::Error::from(e).context(
            "the producer was fenced or failed fatally (another instance with the same transactional.id?)",
        )),
        KafkaError::MessageProduction(_) => TxnError::Abortable(e.into()),
        _ => TxnError::Fatal(e.into()),
    }
}

fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

fn first_offsets(records: &[Incoming]) -> BTreeMap<(String, i32), i64> {
    let mut m = BTreeMap::new();
    for r in records {
        m.entry((r.topic.to_string(), r.partition))
            .or_insert(r.offset);
    }
    m
}

fn next_offsets(records: &[Incoming]) -> anyhow::Result<TopicPartitionList> {
    let mut last: BTreeMap<(&str, i32), i64> = BTreeMap::new();
    for r in records {
        last.insert((&r.topic, r.partition), r.offset);
    }
    let mut tpl = TopicPartitionList::new();
    for ((t, p), o) in last {
        tpl.add_partition_offset(t, p, Offset::Offset(o + 1))?;
    }
    Ok(tpl)
}

fn permits_for(size: usize, max: usize) -> u32 {
    u32::try_from(size.clamp(1, max)).unwrap_or(u32::MAX)
}

/// Resolves once shutdown is requested (or its sender is gone).
async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

async fn sleep_until(deadline: Option<Instant>) {
    if let Some(d) = deadline {
        tokio::time::sleep_until(d.into()).await;
    }
}

fn task_error(r: Result<anyhow::Result<()>, tokio::task::JoinError>, what: &str) -> anyhow::Error {
    match flatten(r, what) {
        Err(e) => e,
        Ok(()) => anyhow!("the {what} task ended early"),
    }
}

fn flatten(
    r: Result<anyhow::Result<()>, tokio::task::JoinError>,
    what: &str,
) -> anyhow::Result<()> {
    r.map_err(|e| anyhow!("the {what} task failed: {e}"))?
}

fn commit<C: Consumer<StageContext>>(consumer: &C) {
    match consumer.commit_consumer_state(CommitMode::Sync) {
        Ok(()) => debug!("offsets committed"),
        Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
        Err(e) => warn!(error = %e, "final commit failed; uncommitted records will be read again"),
    }
}

/// Copies a consumed record out of the client's buffer.
fn owned(m: &BorrowedMessage<'_>) -> Incoming {
    let headers = m
        .headers()
        .map(|h| {
            h.iter()
                .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
                .collect()
        })
        .unwrap_or_default();
    Incoming {
        topic: Arc::from(m.topic()),
        partition: m.partition(),
        offset: m.offset(),
        key: m.key().map(<[u8]>::to_vec),
        payload: m.payload().map(<[u8]>::to_vec),
        headers,
        timestamp: m.timestamp().to_millis(),
    }
}

#[derive(Default)]
struct Batch {
    records: Vec<Incoming>,
    bytes: usize,
    deadline: Option<Instant>,
}

impl Batch {
    fn push(&mut self, rec: Incoming, linger: Duration) {
        if self.records.is_empty() {
            self.deadline = Some(Instant::now() + linger);
        }
        self.bytes += rec.size();
        self.records.push(rec);
    }

    /// Hands the batch to the pool; false when the producer side is gone.
    async fn dispatch(
        &mut self,
        pool: &Pool,
        tx: &mpsc::Sender<oneshot::Receiver<Redacted>>,
        in_flight: &InFlight,
    ) -> bool {
        self.deadline = None;
        self.bytes = 0;
        if self.records.is_empty() {
            return true;
        }
        let records = std::mem::take(&mut self.records);
        in_flight.add(&records);
        tx.send(pool.submit(records)).await.is_ok()
    }
}

/// A redacted batch.
struct Redacted {
    processed: Vec<Processed>,
    stats: Stats,
    elapsed: Duration,
    dispatched: Instant,
}

struct Job {
    records: Vec<Incoming>,
    dispatched: Instant,
    reply: oneshot::Sender<Redacted>,
}

/// Redaction threads fed with whole batches.
struct Pool {
    tx: crossbeam_channel::Sender<Job>,
}

impl Pool {
    fn new(workers: usize, rules: Arc<RecordRules>) -> anyhow::Result<Pool> {
        let (tx, rx) = crossbeam_channel::bounded::<Job>(workers * 2);
        for i in 0..workers {
            let rx = rx.clone();
            let rules = rules.clone();
            std::thread::Builder::new()
                .name(format!("redact-{i}"))
                .spawn(move || {
                    let mut out = Vec::with_capacity(4096);
                    for job in rx {
                        let start = Instant::now();
                        let mut stats = Stats::new(rules.engine().policy());
                        let processed = job
                            .records
                            .into_iter()
                            .map(|r| rules.process(r, &mut out, &mut stats))
                            .collect();
                        let _ = job.reply.send(Redacted {
                            processed,
                            stats,
                            elapsed: start.elapsed(),
                            dispatched: job.dispatched,
                        });
                    }
                })
                .with_context(|| format!("cannot start redaction thread {} of {workers}", i + 1))?;
        }
        Ok(Pool { tx })
    }

    fn submit(&self, records: Vec<Incoming>) -> oneshot::Receiver<Redacted> {
        let (reply, rx) = oneshot::channel();
        // Workers only stop when the pool is dropped; a closed channel
        // surfaces as a dropped reply.
        let _ = self.tx.send(Job {
            records,
            dispatched: Instant::now(),
            reply,
        });
        rx
    }

    /// Redacts `records` split over `parts` workers, results in order.
    async fn run_split(
        &self,
        mut records: Vec<Incoming>,
        parts: usize,
    ) -> anyhow::Result<Vec<Redacted>> {
        let chunk = records.len().div_ceil(parts.max(1)).max(1);
        let mut replies = Vec::new();
        while !records.is_empty() {
            let rest = records.split_off(chunk.min(records.len()));
            replies.push(self.submit(std::mem::replace(&mut records, rest)));
        }
        let mut out = Vec::with_capacity(replies.len());
        for r in replies {
            out.push(r.await.map_err(|_| anyhow!("a redaction thread stopped"))?);
        }
        Ok(out)
    }
}

/// Records handed to the workers and not yet acknowledged, per partition
/// (what a revocation waits for).
#[derive(Default)]
struct InFlight {
    counts: Mutex<HashMap<(Arc<str>, i32), usize>>,
    changed: Condvar,
}

impl InFlight {
    fn add(&self, records: &[Incoming]) {
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        for r in records {
            *c.entry((r.topic.clone(), r.partition)).or_default() += 1;
        }
    }

    fn done(&self, topic: &Arc<str>, partition: i32) {
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = c.get_mut(&(topic.clone(), partition)) {
            *n = n.saturating_sub(1);
        }
        self.changed.notify_all();
    }

    /// Waits until no record of `partitions` is in flight; returns how many
    /// still are when `timeout` ran out.
    fn wait_for(&self, partitions: &[(String, i32)], timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let left: usize = partitions
                .iter()
                .map(|(t, p)| c.get(&(Arc::from(t.as_str()), *p)).copied().unwrap_or(0))
                .sum();
            let now = Instant::now();
            if left == 0 || now >= deadline {
                return left;
            }
            c = self
                .changed
                .wait_timeout(c, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

/// A sent record waiting for its acknowledgement.
struct Pending {
    topic: Arc<str>,
    partition: i32,
    offset: i64,
    permits: u32,
    dead_letter: Option<usize>,
    payload_bytes: usize,
    future: DeliveryFuture,
    /// Set on the last record of a batch.
    batch_dispatched: Option<Instant>,
}

async fn produce(
    producer: FutureProducer<LogContext>,
    config: Arc<StageConfig>,
    mut batches: mpsc::Receiver<oneshot::Receiver<Redacted>>,
    acks: mpsc::UnboundedSender<Pending>,
    metrics: Arc<Metrics>,
) -> anyhow::Result<()> {
    while let Some(reply) = batches.recv().await {
        let batch = reply
            .await
            .map_err(|_| anyhow!("a redaction thread stopped"))?;
        metrics.batches.fetch_add(1, Relaxed);
        metrics.batch_latency.observe(batch.elapsed);
        metrics.add_redactions(&batch.stats);
        let n = batch.processed.len();
        for (i, p) in batch.processed.iter().enumerate() {
            let future = send(&producer, &config, p).await.with_context(|| {
                format!(
                    "cannot send the record from {}/{} offset {}",
                    p.input.topic, p.input.partition, p.input.offset
                )
            })?;
            let (dead_letter, payload_bytes) = outcome(p);
            let pending = Pending {
                topic: p.input.topic.clone(),
                partition: p.input.partition,
                offset: p.input.offset,
                permits: permits_for(p.input.size(), config.max_in_flight_bytes),
                dead_letter,
                payload_bytes,
                future,
                batch_dispatched: (i + 1 == n).then_some(batch.dispatched),
            };
            if acks.send(pending).is_err() {
                bail!("the acknowledgement task stopped");
            }
        }
    }
    // Every record is handed to the client: wait for the queue to empty so
    // the acknowledgements arrive before the producer is dropped.
    let _ = tokio::task::spawn_blocking(move || producer.flush(Duration::from_secs(30))).await;
    Ok(())
}

/// Sends one processed record; waits while the client's queue is full.
async fn send(
    producer: &FutureProducer<LogContext>,
    config: &StageConfig,
    p: &Processed,
) -> Result<DeliveryFuture, KafkaError> {
    let input = &p.input;
    let (topic, key, payload, headers, partition): (&str, _, _, OwnedHeaders, Option<i32>) =
        match &p.fate {
            Fate::Output {
                topic,
                key,
                payload,
                headers,
            } => {
                let mut h = OwnedHeaders::new_with_capacity(headers.len());
                for (name, value) in headers {
                    h = h.insert(Header {
                        key: name,
                        value: value.as_deref(),
                    });
                }
                let partition = match config.partitioning {
                    Partitioning::Key => None,
                    Partitioning::Input => Some(input.partition),
                };
                (topic, key.as_deref(), payload.as_deref(), h, partition)
            }
            Fate::DeadLetter { reason, detail } => {
                let mut h = OwnedHeaders::new_with_capacity(input.headers.len() + 5);
                for (name, value) in &input.headers {
                    h = h.insert(Header {
                        key: name,
                        value: value.as_deref(),
                    });
                }
                let partition = input.partition.to_string();
                let offset = input.offset.to_string();
                for (k, v) in [
                    ("redactor.reason", DEAD_LETTER_REASONS[*reason]),
                    ("redactor.detail", detail.as_str()),
                    ("redactor.source.topic", &*input.topic),
                    ("redactor.source.partition", &partition),
                    ("redactor.source.offset", &offset),
                ] {
                    h = h.insert(Header {
                        key: k,
                        value: Some(v),
                    });
                }
                (
                    config.dead_letter.as_str(),
                    input.key.as_deref(),
                    input.payload.as_deref(),
                    h,
                    None,
                )
            }
        };
    let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic).headers(headers);
    if let Some(k) = key {
        record = record.key(k);
    }
    if let Some(p) = payload {
        record = record.payload(p);
    }
    if let Some(ts) = input.timestamp {
        record = record.timestamp(ts);
    }
    if let Some(part) = partition {
        record = record.partition(part);
    }
    loop {
        match producer.send_result(record) {
            Ok(f) => return Ok(f),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                record = r;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            Err((e, _)) => return Err(e),
        }
    }
}

/// The dead-letter reason (if dead-lettered) and the output payload bytes.
fn outcome(p: &Processed) -> (Option<usize>, usize) {
    match &p.fate {
        Fate::Output { payload, .. } => (None, payload.as_ref().map_or(0, Vec::len)),
        Fate::DeadLetter { reason, .. } => (Some(*reason), 0),
    }
}

/// Counts one acknowledged record (output or dead letter).
fn count_delivered(metrics: &Metrics, dead_letter: Option<usize>, payload_bytes: usize) {
    match dead_letter {
        None => {
            metrics.records_out.fetch_add(1, Relaxed);
            metrics.bytes_out.fetch_add(payload_bytes as u64, Relaxed);
        }
        Some(r) => {
            metrics.dead_lettered[r].fetch_add(1, Relaxed);
        }
    }
}

async fn acknowledge(
    consumer: Arc<StreamConsumer<StageContext>>,
    mut acks: mpsc::UnboundedReceiver<Pending>,
    metrics: Arc<Metrics>,
    in_flight: Arc<InFlight>,
    permits: Arc<Semaphore>,
    max_in_flight: usize,
) -> anyhow::Result<()> {
    while let Some(p) = acks.recv().await {
        let destination = if p.dead_letter.is_some() {
            "the dead-letter topic"
        } else {
            "the output topic"
        };
        match p.future.await {
            Ok(Ok(_)) => {}
            Ok(Err((e, _))) => bail!(
                "delivery to {destination} of the record from {}/{} offset {} failed: {e}; \
                 consumption stops and no offset from there on is committed",
                p.topic,
                p.partition,
                p.offset
            ),
            Err(_) => bail!(
                "the producer dropped the delivery report of {}/{} offset {}",
                p.topic,
                p.partition,
                p.offset
            ),
        }
        if let Err(e) = consumer.store_offset(&p.topic, p.partition, p.offset) {
            // The partition was revoked meanwhile: its new owner reads the
            // record again (at-least-once).
            debug!(topic = %p.topic, partition = p.partition, error = %e, "offset not stored");
        }
        count_delivered(&metrics, p.dead_letter, p.payload_bytes);
        if let Some(r) = p.dead_letter {
            warn!(
                topic = %p.topic,
                partition = p.partition,
                offset = p.offset,
                reason = DEAD_LETTER_REASONS[r],
                "record sent to the dead-letter topic"
            );
        }
        if let Some(t) = p.batch_dispatched {
            metrics.ack_latency.observe(t.elapsed());
        }
        in_flight.done(&p.topic, p.partition);
        permits.add_permits(p.permits as usize);
        metrics.in_flight_bytes.store(
            (max_in_flight.saturating_sub(permits.available_permits())) as u64,
            Relaxed,
        );
    }
    Ok(())
}

/// Routes one client's librdkafka log lines and errors to `tracing`, each
/// naming the client (`consumer` or `producer`).
///
/// librdkafka reports a broker failure (connection refused, a TLS or SASL
/// failure) as an error-level log line and then as one or more error
/// events with the same text. An event that repeats a line or event of the
/// last second is logged at debug level only, so that an unreachable
/// broker costs one line per client and attempt.
#[derive(Debug)]
pub struct LogContext {
    client: Client,
    /// Where the client's errors are counted.
    metrics: Option<Arc<Metrics>>,
    /// The latest error-level lines and events: when, their text, and the
    /// code of an event (a line has none).
    recent: Mutex<VecDeque<Reported>>,
}

/// An error line or event a [`LogContext`] reported.
#[derive(Debug)]
struct Reported {
    at: Instant,
    text: String,
    code: Option<RDKafkaErrorCode>,
}

/// The log target of librdkafka's log lines and error events, so that
/// `REDACTOR_LOG` can filter them apart from the stage's own lines
/// (`info,librdkafka=error`).
pub const LIBRDKAFKA: &str = "librdkafka";

/// How many of its latest error texts a [`LogContext`] remembers: the event
/// of a failure follows its log line within microseconds, but the lines of
/// other brokers may come between them.
const RECENT_ERRORS: usize = 16;
/// How long an error text counts as just reported.
const REPEAT_WINDOW: Duration = Duration::from_secs(1);

impl LogContext {
    /// The context of `client`, counting its errors in `metrics`.
    pub fn new(client: Client, metrics: Option<Arc<Metrics>>) -> LogContext {
        LogContext {
            client,
            metrics,
            recent: Mutex::new(VecDeque::with_capacity(RECENT_ERRORS)),
        }
    }

    /// Counts an error of the client.
    fn count(&self) {
        if let Some(m) = &self.metrics {
            m.client_errors[self.client as usize].fetch_add(1, Relaxed);
        }
    }

    fn recent(&self) -> std::sync::MutexGuard<'_, VecDeque<Reported>> {
        self.recent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Notes `text` (of an error with `code`) as reported now; returns
    /// whether the same text was reported within the last [`REPEAT_WINDOW`].
    fn repeats(&self, text: &str, code: Option<RDKafkaErrorCode>) -> bool {
        let now = Instant::now();
        let mut recent = self.recent();
        let seen = recent
            .iter()
            .any(|r| r.text == text && now.duration_since(r.at) < REPEAT_WINDOW);
        if recent.len() == RECENT_ERRORS {
            recent.pop_front();
        }
        recent.push_back(Reported {
            at: now,
            text: text.to_owned(),
            code,
        });
        seen
    }

    /// Whether an error with `code` was reported within the last
    /// [`REPEAT_WINDOW`].
    fn reported(&self, code: RDKafkaErrorCode) -> bool {
        let now = Instant::now();
        self.recent()
            .iter()
            .any(|r| r.code == Some(code) && now.duration_since(r.at) < REPEAT_WINDOW)
    }
}

/// The text of a librdkafka log line without its thread tag
/// (`[thrd:NAME]: `), as its error events carry it.
fn without_thread_tag(message: &str) -> &str {
    message
        .strip_prefix("[thrd:")
        .and_then(|rest| rest.split_once("]: "))
        .map_or(message, |(_, text)| text)
        .trim()
}

impl ClientContext for LogContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        let client = self.client.name();
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => {
                if !self.repeats(without_thread_tag(message), None) {
                    self.count();
                }
                error!(target: LIBRDKAFKA, client, facility = fac, "{message}");
            }
            RDKafkaLogLevel::Warning => {
                warn!(target: LIBRDKAFKA, client, facility = fac, "{message}")
            }
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                info!(target: LIBRDKAFKA, client, facility = fac, "{message}");
            }
            RDKafkaLogLevel::Debug => {
                debug!(target: LIBRDKAFKA, client, facility = fac, "{message}")
            }
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        let client = self.client.name();
        if self.repeats(reason.trim(), error.rdkafka_error_code()) {
            debug!(target: LIBRDKAFKA, client, error = %error, reason, "kafka client error (reported just before)");
        } else {
            self.count();
            warn!(target: LIBRDKAFKA, client, error = %error, reason, "kafka client error");
        }
    }
}

/// Logs an error the consumer's stream returned. When the consumer's context
/// has just had an error event with the same code, this is a copy of it
/// without its reason, and is logged at debug level only.
fn consumer_error(ctx: &StageContext, e: &KafkaError) {
    let code = e.rdkafka_error_code();
    if code.is_some_and(|c| ctx.log.reported(c)) {
        debug!(client = "consumer", error = %e, "consumer error (reported just before)");
    } else {
        ctx.log.count();
        warn!(client = "consumer", error = %e, "consumer error");
    }
}

/// The consumer's context: logging, statistics, and rebalance handling.
struct StageContext {
    log: LogContext,
    metrics: Arc<Metrics>,
    in_flight: Arc<InFlight>,
    drain_timeout: Duration,
    revoked: Arc<AtomicBool>,
}

impl ClientContext for StageContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        self.log.log(level, fac, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.log.error(error, reason);
    }

    fn stats_raw(&self, statistics: &[u8]) {
        if let Some(lag) = lag_from_statistics(statistics) {
            self.metrics.set_lag(lag);
        }
    }
}

impl ConsumerContext for StageContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            self.revoked.store(true, Relaxed);
            self.metrics.ready.store(false, Relaxed);
            let parts: Vec<(String, i32)> = tpl
                .elements()
                .iter()
                .map(|e| (e.topic().to_string(), e.partition()))
                .collect();
            // Let the records of revoked partitions finish, so their offsets
            // are committed before another instance takes over.
            let left = self.in_flight.wait_for(&parts, self.drain_timeout);
            if left > 0 {
                warn!(records = left, "partitions revoked with records in flight: their offsets are not committed (they will be read again)");
            }
            match consumer.commit_consumer_state(CommitMode::Sync) {
                Ok(()) | Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
                Err(e) => debug!(error = %e, "commit on revocation failed"),
            }
            info!(partitions = parts.len(), "partitions revoked");
        }
    }

    fn commit_callback(
        &self,
        result: rdkafka::error::KafkaResult<()>,
        offsets: &TopicPartitionList,
    ) {
        match result {
            Ok(()) => debug!(partitions = offsets.count(), "offsets committed"),
            Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
            Err(e) => warn!(error = %e, "offset commit failed; it is retried with the next commit"),
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(tpl) => {
                self.metrics.ready.store(true, Relaxed);
                info!(partitions = tpl.count(), "partitions assigned");
            }
            Rebalance::Revoke(_) => {}
            Rebalance::Error(e) => warn!(error = %e, "rebalance error"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_line_is_compared_without_its_thread_tag() {
        assert_eq!(
            without_thread_tag(
                "[thrd:127.0.0.1:9/bootstrap]: 127.0.0.1:9/bootstrap: Connect failed "
            ),
            "127.0.0.1:9/bootstrap: Connect failed"
        );
        assert_eq!(without_thread_tag("no tag here"), "no tag here");
        assert_eq!(without_thread_tag("[thrd:unclosed"), "[thrd:unclosed");
    }

    #[test]
    fn an_error_event_repeating_a_recent_line_is_a_repeat() {
        let ctx = LogContext::new(Client::Producer, None);
        ctx.log(
            RDKafkaLogLevel::Error,
            "FAIL",
            "[thrd:b/1]: b/1: Connect to b failed: Connection refused",
        );
        // A warning is not remembered.
        ctx.log(RDKafkaLogLevel::Warning, "X", "[thrd:b/1]: b/1: slow");
        assert!(ctx.repeats("b/1: Connect to b failed: Connection refused", None));
        assert!(!ctx.repeats("b/1: slow", None));
        assert!(!ctx.repeats("b/2: Connect to c failed: Connection refused", None));
        // The same event again, at once: a repeat too.
        assert!(ctx.repeats("b/2: Connect to c failed: Connection refused", None));
    }

    #[test]
    fn a_failure_counts_once_among_the_client_errors() {
        let metrics = Arc::new(Metrics::new(&redactor_core::Policy::builtin().unwrap()));
        let ctx = LogContext::new(Client::Producer, Some(metrics.clone()));
        let errors = || Client::ALL.map(|c| metrics.client_errors[c as usize].load(Relaxed));
        ctx.log(
            RDKafkaLogLevel::Error,
            "FAIL",
            "[thrd:b/1]: b/1: Connect to b failed: Connection refused",
        );
        ctx.error(
            KafkaError::Global(RDKafkaErrorCode::BrokerTransportFailure),
            "b/1: Connect to b failed: Connection refused",
        );
        assert_eq!(errors(), [0, 1]);
        ctx.log(RDKafkaLogLevel::Warning, "X", "[thrd:b/1]: b/1: slow");
        assert_eq!(errors(), [0, 1]);
        ctx.error(
            KafkaError::Global(RDKafkaErrorCode::AllBrokersDown),
            "1/1 brokers are down",
        );
        assert_eq!(errors(), [0, 2]);
    }

    #[test]
    fn a_repeat_counts_only_within_the_window() {
        let ctx = LogContext::new(Client::Consumer, None);
        ctx.recent().push_back(Reported {
            at: Instant::now() - REPEAT_WINDOW - Duration::from_millis(10),
            text: "old".into(),
            code: Some(RDKafkaErrorCode::AllBrokersDown),
        });
        assert!(!ctx.repeats("old", None));
        assert!(!ctx.reported(RDKafkaErrorCode::AllBrokersDown));
        assert!(!ctx.repeats("new", Some(RDKafkaErrorCode::AllBrokersDown)));
        assert!(ctx.reported(RDKafkaErrorCode::AllBrokersDown));
        assert!(!ctx.reported(RDKafkaErrorCode::BrokerTransportFailure));
    }

    #[test]
    fn the_memory_of_recent_errors_is_bounded() {
        let ctx = LogContext::new(Client::Consumer, None);
        for i in 0..3 * RECENT_ERRORS {
            ctx.repeats(&format!("error {i}"), None);
        }
        assert_eq!(ctx.recent().len(), RECENT_ERRORS);
        assert!(!ctx.repeats("error 0", None));
        assert!(ctx.repeats(&format!("error {}", 3 * RECENT_ERRORS - 1), None));
    }
}
