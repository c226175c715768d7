//! The producer: background batching, acks, retries, partitioners, delivery
//! reports, sync mode and idempotence.
//!
//! `produce` chooses the partition (see [`Partitioning`]), encodes the record
//! into that partition's open batch and returns; a background thread,
//! `kafka-sync-sender`, sends ready batches to the partition leaders, retries
//! what can be retried, and reports each record's outcome. Three handles
//! share that machinery:
//!
//! - [`Producer`] (from [`KafkaClient::get_producer`]): any topic, `send(topic, record)`;
//! - [`TopicProducer`] (from [`Topic::get_producer`]): one topic, pykafka's `produce`;
//! - [`SyncProducer`] (from [`Topic::get_sync_producer`]): `produce` waits for the
//!   acknowledgement and returns where the record was written.
//!
//! ```no_run
//! use std::time::Duration;
//! use kafka_sync::producer::{Acks, ProducerConfig, Record};
//! let client = kafka_sync::KafkaClient::new("127.0.0.1:9092")?;
//! let topic = client.topic("events")?;
//! let producer = topic.get_producer(ProducerConfig::default()
//!     .linger(Duration::from_millis(5))
//!     .acks(Acks::All)
//!     .delivery_reports(true))?;
//! producer.produce(b"payload")?;
//! producer.produce_keyed(b"user-42", b"clicked")?;
//! producer.send(Record::new(b"v").key(b"k").header("trace", b"1"))?;
//! producer.flush(Duration::from_secs(10))?;
//! while let Ok(report) = producer.delivery_reports().try_recv() {
//!     println!("{} {} {:?}", report.topic, report.partition, report.result);
//! }
//! # Ok::<(), kafka_sync::Error>(())
//! ```
//!
//! Dropping a producer flushes it, waiting at most
//! [`close_timeout`](ProducerConfig::close_timeout); records still unacknowledged
//! then are reported failed. No accepted record goes without a report (or,
//! with reports off, without a log line and a count in [`ProducerMetrics`]).
//!
//! Idempotence is on by default with `acks=all` when the broker offers
//! InitProducerId: retries then neither duplicate nor reorder records.
//!
//! With a [`transactional_id`](ProducerConfig::transactional_id) the
//! producer writes transactions: [`Producer::init_transactions`] once, then
//! `begin_transaction`, sends (and `send_offsets_to_transaction` for a
//! consume-transform-produce loop), `commit_transaction` or
//! `abort_transaction`. Records outside a transaction are refused; a
//! transaction's delivery reports are handed over when it ends.
//!
//! # References
//! The Java producer (`KafkaProducer`, `RecordAccumulator`, `Sender`) and its
//! configuration reference; KIP-91 (delivery timeout), KIP-98 (idempotence),
//! KIP-360 (epoch bumps), KIP-480 and KIP-794 (sticky partitioning), KIP-98
//! and KIP-447 (transactions), KIP-890 (transactions v2).

mod accumulator;
mod config;
mod idempotence;
mod metrics;
mod partitioner;
mod payload;
mod record;
mod report;
mod reports;
mod retry;
mod sender;
mod topic_cache;
mod transaction;
mod transaction_calls;
mod transactional;

pub use config::{Acks, ProducerConfig};
pub use metrics::ProducerMetrics;
pub use partitioner::{murmur2, murmur2_partition, Partitioner, Partitioning};
pub use record::{DeliveryReport, HeaderKey, Payload, Record, RecordHeader, RecordMetadata};
pub use reports::{
    DeliveryReports, DeliveryReportsIter, DeliveryReportsTryIter, RecvError, RecvTimeoutError,
    TryRecvError,
};
pub use transaction::TransactionState;

pub use crate::protocol::records::Compression;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crossbeam_channel::bounded;
use parking_lot::{Mutex, RwLock};

use self::accumulator::{Accumulator, AccumulatorConfig, Want};
use self::metrics::Counters;
use self::partitioner::PartitionChooser;
use self::topic_cache::TopicCache;
use crate::cluster::TopicMetadata;
use crate::error::{Error, Result, TimeoutKind};
use crate::thread::{self as worker, Joined};
use crate::{KafkaClient, Topic};

/// The sender thread's name.
pub(crate) const SENDER_THREAD: &str = "kafka-sync-sender";

/// How long `close` waits past its deadline for the sender thread to hand
/// over the reports of records it failed at the deadline.
const JOIN_GRACE: Duration = Duration::from_millis(100);

/// State shared by the producer handle and its sender thread.
pub(crate) struct Shared {
    pub client: KafkaClient,
    pub config: ProducerConfig,
    pub accumulator: Accumulator,
    chooser: PartitionChooser,
    wake: crossbeam_channel::Sender<()>,
    pub reports_tx: Option<reports::ReportSender>,
    pub metrics: Counters,
    /// Set when the close deadline passes: the sender fails what is left.
    pub abort: AtomicBool,
    /// When `close` gives up; the sender waits for a full report queue
    /// until then, no longer.
    pub close_deadline: Mutex<Option<Instant>>,
    /// Set when the sender thread panicked: every call returns it.
    pub dead: OnceLock<Error>,
    topics: RwLock<HashMap<String, Arc<str>>>,
    /// The transaction state machine and coordinator, for a producer with a
    /// `transactional_id`.
    pub txn: Option<transaction::Txn>,
    /// Makes the sender thread panic at its next turn (tests of the panic path).
    #[cfg(test)]
    pub panic_for_test: AtomicBool,
    /// Makes it panic while it builds a request, batches in hand.
    #[cfg(test)]
    pub panic_in_send_for_test: AtomicBool,
}

impl Shared {
    fn wake(&self) {
        let _ = self.wake.try_send(());
    }

    /// The error of a dead sender thread, if it died.
    fn check_alive(&self) -> Result<()> {
        match self.dead.get() {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// `e`, or the sender thread's death when that is the real cause.
    fn or_dead(&self, e: Error) -> Error {
        self.dead.get().cloned().unwrap_or(e)
    }
}

/// A producer for any topic of the cluster; see the [module docs](self).
///
/// `Send + Sync`: share it between threads with an `Arc`.
pub struct Producer {
    shared: Arc<Shared>,
    reports: DeliveryReports,
    sender: Mutex<Option<worker::Handle>>,
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer")
            .field("config", &self.shared.config)
            .finish()
    }
}

impl KafkaClient {
    /// A producer for any topic; records name their topic in
    /// [`Producer::send`]. Starts the `kafka-sync-sender` thread.
    pub fn get_producer(&self, config: ProducerConfig) -> Result<Producer> {
        Producer::start(self.clone(), config)
    }
}

impl Topic {
    /// A producer for this topic (pykafka's `topic.get_producer()`).
    pub fn get_producer(&self, config: ProducerConfig) -> Result<TopicProducer> {
        Ok(TopicProducer {
            topic: Arc::from(self.name()),
            producer: Producer::start(self.client().clone(), config)?,
            cache: TopicCache::default(),
        })
    }

    /// A producer whose `produce` waits for the broker's acknowledgement and
    /// returns the record's partition and offset (pykafka's `sync=True`).
    /// Batches carrying a waited-on record are sent without lingering.
    pub fn get_sync_producer(&self, config: ProducerConfig) -> Result<SyncProducer> {
        Ok(SyncProducer {
            topic: Arc::from(self.name()),
            producer: Producer::start(self.client().clone(), config)?,
        })
    }
}

impl Producer {
    fn start(client: KafkaClient, config: ProducerConfig) -> Result<Producer> {
        config.validate()?;
        let (wake_tx, wake_rx) = bounded(1);
        let (reports_tx, reports) = if config.delivery_reports {
            let (tx, rx) = reports::queue(config.delivery_reports_capacity);
            (Some(tx), rx)
        } else {
            (None, reports::disconnected())
        };
        let shared = Arc::new(Shared {
            accumulator: Accumulator::new(AccumulatorConfig {
                batch_size: config.batch_size,
                linger: config.linger,
                buffer_memory: config.buffer_memory,
                compression: config.compression,
                compression_level: config.compression_level,
                transactional: config.transactional_id.is_some(),
            }),
            chooser: PartitionChooser::new(config.partitioning.clone(), config.batch_size),
            txn: config.transactional_id.clone().map(|id| {
                let timeout_ms =
                    i32::try_from(config.transaction_timeout.as_millis()).unwrap_or(i32::MAX);
                transaction::Txn::new(client.clone(), id, timeout_ms)
            }),
            client,
            config,
            wake: wake_tx,
            reports_tx,
            metrics: Counters::default(),
            abort: AtomicBool::new(false),
            close_deadline: Mutex::new(None),
            dead: OnceLock::new(),
            topics: RwLock::new(HashMap::new()),
            #[cfg(test)]
            panic_for_test: AtomicBool::new(false),
            #[cfg(test)]
            panic_in_send_for_test: AtomicBool::new(false),
        });
        let thread_shared = Arc::clone(&shared);
        let handle = worker::spawn(SENDER_THREAD, move || {
            sender::Sender::new(thread_shared, wake_rx).run();
        })?;
        Ok(Producer {
            shared,
            reports,
            sender: Mutex::new(Some(handle)),
        })
    }

    /// Queues `record` for `topic` and returns once it is in the buffer.
    ///
    /// Fails at once if the topic does not exist ([`Error::UnknownTopic`]),
    /// the partition is out of range or the record is larger than
    /// `max_request_size` or `buffer_memory` ([`Error::Config`]), or the
    /// producer is closed; fails after `max_block` if the buffer stays full
    /// or the topic's metadata cannot be loaded ([`TimeoutKind::MaxBlock`]).
    /// Fails at once with [`Error::ThreadPanicked`] once the sender thread
    /// has died.
    pub fn send(&self, topic: &str, record: Record) -> Result<()> {
        let topic = self.intern(topic);
        self.enqueue(&topic, record, self.default_want())
    }

    fn default_want(&self) -> Want {
        if self.shared.reports_tx.is_some() {
            Want::Report
        } else {
            Want::Nothing
        }
    }

    fn intern(&self, topic: &str) -> Arc<str> {
        if let Some(t) = self.shared.topics.read().get(topic) {
            return Arc::clone(t);
        }
        let interned: Arc<str> = Arc::from(topic);
        self.shared
            .topics
            .write()
            .entry(topic.to_owned())
            .or_insert(interned)
            .clone()
    }

    fn enqueue(&self, topic: &Arc<str>, record: Record, want: Want) -> Result<()> {
        self.enqueue_cached(topic, record, want, None)
    }

    /// Queues `record`; with a `cache` (a [`TopicProducer`]'s), the topic's
    /// metadata comes from it while it is current, which spares the
    /// client's lock, the hash of the name and a clock read per record.
    fn enqueue_cached(
        &self,
        topic: &Arc<str>,
        record: Record,
        want: Want,
        cache: Option<&TopicCache>,
    ) -> Result<()> {
        let shared = &*self.shared;
        let config = &shared.config;
        shared.check_alive()?;
        if shared.accumulator.is_closing() {
            return Err(Error::Closed("producer"));
        }
        // A transactional record goes only into an open transaction, which
        // stays open (commit and abort wait) until it is queued.
        let _in_transaction = match &shared.txn {
            Some(txn) => Some(txn.state.begin_send()?),
            None => None,
        };
        // The wall clock is read once, for the default timestamp and the
        // cache; the monotonic one only when something may wait.
        let wall = sender::now_ms();
        let mut started = None;
        let meta = match cache.and_then(|c| c.get(&shared.client, wall)) {
            Some(meta) => meta,
            None => {
                let generation = shared.client.metadata_generation();
                let now = Instant::now();
                started = Some(now);
                let meta = self.topic_metadata(topic, now)?;
                if let Some(cache) = cache {
                    cache.put(&meta, generation, wall);
                }
                meta
            }
        };
        let count = i32::try_from(meta.partitions.len()).unwrap_or(i32::MAX);
        if count == 0 {
            return Err(Error::UnknownTopic(topic.to_string()));
        }
        let size = record.memory_size();
        let limit = config.max_request_size.min(config.buffer_memory);
        if size > limit {
            return Err(Error::Config(format!(
                "a record of about {size} bytes for `{topic}` exceeds {} ({limit} bytes); \
                 raise it or send a smaller record",
                if config.max_request_size <= config.buffer_memory {
                    "max_request_size"
                } else {
                    "buffer_memory"
                }
            )));
        }
        let partition = match record.partition {
            Some(p) => p,
            None => shared
                .chooser
                .choose(topic, record.key.as_deref(), count, size, |p| {
                    meta.partition(p).is_some_and(|p| p.leader.is_some())
                }),
        };
        if !(0..count).contains(&partition) {
            return Err(Error::Config(format!(
                "topic `{topic}` has no partition {partition} (it has {count})"
            )));
        }
        let timestamp = record.timestamp.unwrap_or(wall);
        let max_block = config.max_block;
        let deadline = || crate::time::add(started.unwrap_or_else(Instant::now), max_block);
        let appended = shared
            .accumulator
            .append_by(topic, partition, timestamp, record, size, want, deadline)
            .map_err(|e| shared.or_dead(e))?;
        if appended.wake {
            shared.wake();
        }
        Ok(())
    }

    /// `topic`'s metadata: cached, else fetched, waiting up to `max_block`
    /// from `now`.
    fn topic_metadata(&self, topic: &Arc<str>, now: Instant) -> Result<Arc<TopicMetadata>> {
        let client = &self.shared.client;
        let deadline = crate::time::add(now, self.shared.config.max_block);
        // Cached metadata first: the retry loop's context is a formatted
        // string, too dear to build for every record.
        let cached = match client.cached_topic_metadata(topic, now) {
            Some(meta) => Some(meta),
            None => client.topic_metadata_until(topic, deadline).ok(),
        };
        match cached {
            Some(meta) => Ok(meta),
            None => client.retry_until(deadline, &format!("metadata for `{topic}`"), || {
                client.topic_metadata_until(topic, deadline)
            }),
        }
        .map_err(|e| match e {
            e @ (Error::UnknownTopic(_) | Error::Config(_)) => e,
            e if e.is_retriable() => Error::timeout(
                TimeoutKind::MaxBlock,
                format!("waiting for the metadata of topic `{topic}`: {e}"),
            ),
            e => e,
        })
    }

    /// Waits until every record queued so far is delivered or failed;
    /// batches are sent without lingering meanwhile. It waits until no
    /// record at all is pending, so records other threads produce during the
    /// flush are waited for too. Fails with a [`TimeoutKind::Flush`] timeout
    /// if records remain after `timeout`; they stay queued. Fails at once
    /// with [`Error::ThreadPanicked`] once the sender thread has died.
    pub fn flush(&self, timeout: Duration) -> Result<()> {
        self.shared.check_alive()?;
        if let Some(e) = self.shared.txn.as_ref().and_then(|t| t.state.fatal()) {
            return Err(e);
        }
        let deadline = crate::time::after(timeout);
        if self
            .shared
            .accumulator
            .flush(deadline, || self.shared.wake())
        {
            self.shared.check_alive()
        } else {
            self.shared.check_alive()?;
            Err(Error::timeout(
                TimeoutKind::Flush,
                format!(
                    "{} records still undelivered after {timeout:?}",
                    self.shared.accumulator.incomplete()
                ),
            ))
        }
    }

    /// The delivery reports, one per accepted record, when
    /// [`ProducerConfig::delivery_reports`] is on. When it is off the queue
    /// is disconnected: `recv` returns an error at once instead of blocking.
    /// Clone the [`DeliveryReports`] to read reports from another thread or
    /// after the producer is dropped.
    pub fn delivery_reports(&self) -> &DeliveryReports {
        &self.reports
    }

    /// pykafka's `get_delivery_report(block, timeout)`: the next report, or
    /// `None` if none arrives (at once when `block` is false; within
    /// `timeout`, or for as long as the producer lives when `None`).
    pub fn get_delivery_report(
        &self,
        block: bool,
        timeout: Option<Duration>,
    ) -> Option<DeliveryReport> {
        if !block {
            return self.reports.try_recv().ok();
        }
        match timeout {
            Some(t) => self.reports.recv_timeout(t).ok(),
            None => self.reports.recv().ok(),
        }
    }

    /// A snapshot of the producer's counters.
    pub fn metrics(&self) -> ProducerMetrics {
        let (queued_records, queued_bytes, used) = self.shared.accumulator.usage();
        self.shared
            .metrics
            .snapshot(queued_records, queued_bytes, used)
    }

    /// The producer's settings.
    pub fn config(&self) -> &ProducerConfig {
        &self.shared.config
    }

    /// Stops accepting records, sends what is queued and waits up to
    /// `timeout` for it; what is still unacknowledged then is reported
    /// failed. Returns a [`TimeoutKind::Flush`] timeout in that case.
    /// Called by `Drop` with [`ProducerConfig::close_timeout`].
    ///
    /// It returns within `timeout` plus 100 ms for the sender thread to
    /// hand over the last reports; a sender thread still inside a blocking
    /// step then (a metadata request or a connection attempt, bounded by the
    /// client's `request_timeout` and `connect_timeout`) is left to finish
    /// it and report the records failed on its own.
    ///
    /// Returns [`Error::ThreadPanicked`] if the sender thread had died.
    pub fn close(&self, timeout: Duration) -> Result<()> {
        let Some(handle) = self.sender.lock().take() else {
            return self.shared.check_alive();
        };
        let deadline = crate::time::after(timeout);
        self.abort_open_transaction(timeout);
        *self.shared.close_deadline.lock() = Some(deadline);
        self.shared.accumulator.close();
        let delivered = self
            .shared
            .accumulator
            .flush(deadline, || self.shared.wake());
        if !delivered {
            self.shared.abort.store(true, Ordering::SeqCst);
        }
        self.shared.wake();
        // The sender finishes promptly once everything is reported or aborted.
        match handle.join_until(crate::time::add(deadline, JOIN_GRACE)) {
            Joined::Finished | Joined::Detached => {}
            Joined::Panicked(detail) => {
                // A panic past the sender's own catch (in failing what it held).
                let _ =
                    self.shared
                        .dead
                        .set(Error::thread_panicked("producer", SENDER_THREAD, detail));
            }
        }
        self.shared.check_alive()?;
        if delivered {
            Ok(())
        } else {
            Err(Error::timeout(
                TimeoutKind::Flush,
                format!("closing the producer: undelivered records after {timeout:?} were reported failed"),
            ))
        }
    }

    /// Closing with a transaction open: it is aborted (bounded by the close
    /// timeout), so its records are reported aborted rather than left to the
    /// coordinator's transaction timeout.
    fn abort_open_transaction(&self, timeout: Duration) {
        let Some(txn) = &self.shared.txn else {
            return;
        };
        if matches!(
            txn.state.state(),
            TransactionState::InTransaction
                | TransactionState::AbortableError
                | TransactionState::Aborting
        ) {
            if let Err(e) = self.abort_transaction(timeout) {
                log::warn!(
                    "closing transactional producer `{}`: the open transaction could not be aborted ({e}); \
                     the coordinator aborts it after transaction_timeout",
                    txn.state.id
                );
            }
        }
    }

    fn send_sync(&self, topic: &Arc<str>, record: Record) -> Result<RecordMetadata> {
        let (tx, rx) = bounded(1);
        self.enqueue(topic, record, Want::Sync(tx))?;
        // The sender answers within delivery_timeout (plus one request
        // timeout for an answer in flight); the margin covers the rest.
        // A dead sender thread fails the record or drops `tx`: either wakes us.
        let bound = self
            .shared
            .config
            .delivery_timeout
            .saturating_add(self.shared.config.request_timeout)
            .saturating_add(Duration::from_secs(5));
        match rx.recv_deadline(crate::time::after(bound)) {
            Ok(result) => result,
            Err(RecvTimeoutError::Timeout) => Err(self.shared.or_dead(Error::timeout(
                TimeoutKind::Delivery,
                format!("waiting for the acknowledgement of a record to `{topic}`"),
            ))),
            Err(RecvTimeoutError::Disconnected) => {
                Err(self.shared.or_dead(Error::Closed("producer")))
            }
        }
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        let _ = self.close(self.shared.config.close_timeout);
    }
}

/// A producer bound to one topic, from [`Topic::get_producer`].
#[derive(Debug)]
pub struct TopicProducer {
    topic: Arc<str>,
    producer: Producer,
    cache: TopicCache,
}

impl TopicProducer {
    /// Queues a record with this value and no key.
    pub fn produce(&self, value: impl Into<Payload>) -> Result<()> {
        self.send(Record::new(value))
    }

    /// Queues a keyed record; the key picks the partition as in the Java client.
    pub fn produce_keyed(&self, key: impl Into<Payload>, value: impl Into<Payload>) -> Result<()> {
        self.send(Record::new(value).key(key))
    }

    /// Queues a record; see [`Producer::send`].
    pub fn send(&self, record: Record) -> Result<()> {
        self.producer.enqueue_cached(
            &self.topic,
            record,
            self.producer.default_want(),
            Some(&self.cache),
        )
    }

    /// The topic's name.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The multi-topic producer underneath (flush, reports, metrics, close).
    pub fn producer(&self) -> &Producer {
        &self.producer
    }
}

impl std::ops::Deref for TopicProducer {
    type Target = Producer;
    fn deref(&self) -> &Producer {
        &self.producer
    }
}

/// A producer whose `produce` returns once the record is acknowledged, from
/// [`Topic::get_sync_producer`].
#[derive(Debug)]
pub struct SyncProducer {
    topic: Arc<str>,
    producer: Producer,
}

impl SyncProducer {
    /// Produces a record with this value and waits for the acknowledgement.
    pub fn produce(&self, value: impl Into<Payload>) -> Result<RecordMetadata> {
        self.send(Record::new(value))
    }

    /// Produces a keyed record and waits for the acknowledgement.
    pub fn produce_keyed(
        &self,
        key: impl Into<Payload>,
        value: impl Into<Payload>,
    ) -> Result<RecordMetadata> {
        self.send(Record::new(value).key(key))
    }

    /// Produces `record` and waits for the acknowledgement (at most about
    /// `delivery_timeout`).
    pub fn send(&self, record: Record) -> Result<RecordMetadata> {
        self.producer.send_sync(&self.topic, record)
    }

    /// The topic's name.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The producer underneath (metrics, close).
    pub fn producer(&self) -> &Producer {
        &self.producer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn producers_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Producer>();
        assert_send_sync::<TopicProducer>();
        assert_send_sync::<SyncProducer>();
        assert_send_sync::<DeliveryReport>();
    }

    #[cfg(feature = "testkit")]
    mod sender_panics {
        use super::*;
        use crate::testkit;

        const DEADLINE: Duration = Duration::from_secs(20);

        fn topic() -> Topic {
            let broker = testkit::shared().expect("test broker starts");
            let client = KafkaClient::new(&broker.bootstrap()).expect("client bootstraps");
            let name = testkit::unique_name("sender-panics");
            client.create_topic(&name, 1, 1).expect("topic is created");
            client.topic(&name).expect("topic exists")
        }

        fn is_sender_panic(e: &Error) -> bool {
            matches!(
                e,
                Error::ThreadPanicked {
                    handle: "producer",
                    thread: SENDER_THREAD,
                    ..
                }
            )
        }

        #[test]
        fn a_panicking_sender_fails_every_queued_record_and_the_producer() {
            let producer = topic()
                .get_producer(
                    ProducerConfig::default()
                        .delivery_reports(true)
                        .linger(Duration::from_secs(600)),
                )
                .unwrap();
            for i in 0..5 {
                producer.produce(format!("v{i}")).unwrap();
            }
            producer.shared.panic_for_test.store(true, Ordering::SeqCst);
            producer.shared.wake();
            for i in 0..5 {
                let report = producer
                    .delivery_reports()
                    .recv_timeout(DEADLINE)
                    .unwrap_or_else(|_| panic!("report {i} arrives"));
                let e = report.result.expect_err("the record failed");
                assert!(is_sender_panic(&e), "{e}");
            }
            let started = Instant::now();
            assert!(is_sender_panic(
                &producer.produce(b"late".to_vec()).unwrap_err()
            ));
            assert!(is_sender_panic(&producer.flush(DEADLINE).unwrap_err()));
            assert!(is_sender_panic(&producer.close(DEADLINE).unwrap_err()));
            assert!(started.elapsed() < Duration::from_secs(2));
            assert_eq!(producer.metrics().records_failed, 5);
        }

        #[test]
        fn a_sender_panicking_with_batches_in_hand_still_reports_their_records() {
            let producer = topic()
                .get_producer(
                    ProducerConfig::default()
                        .delivery_reports(true)
                        .linger(Duration::ZERO),
                )
                .unwrap();
            producer
                .shared
                .panic_in_send_for_test
                .store(true, Ordering::SeqCst);
            let mut accepted = 0;
            for i in 0..5 {
                match producer.produce(format!("v{i}")) {
                    Ok(()) => accepted += 1,
                    Err(e) => assert!(is_sender_panic(&e), "{e}"),
                }
            }
            assert!(accepted > 0);
            for i in 0..accepted {
                let report = producer
                    .delivery_reports()
                    .recv_timeout(DEADLINE)
                    .unwrap_or_else(|_| panic!("report {i} of {accepted} arrives"));
                let e = report.result.expect_err("the record failed");
                assert!(is_sender_panic(&e), "{e}");
            }
            assert_eq!(producer.metrics().records_failed, accepted as u64);
        }

        #[test]
        fn a_panicking_sender_wakes_a_sync_producer_with_the_error() {
            let producer = topic()
                .get_sync_producer(ProducerConfig::default())
                .unwrap();
            producer.produce(b"first".to_vec()).expect("acknowledged");
            producer
                .producer()
                .shared
                .panic_for_test
                .store(true, Ordering::SeqCst);
            let started = Instant::now();
            let e = producer.produce(b"second".to_vec()).unwrap_err();
            assert!(is_sender_panic(&e), "{e}");
            assert!(started.elapsed() < Duration::from_secs(5));
        }
    }
}
