//! [`ProducerConfig`]: every producer setting, with the Java producer's
//! defaults where the meaning is the same.
//!
//! The config is a plain value built with chained setters; it is validated
//! and frozen when a producer is made from it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::partitioner::{Partitioner, Partitioning};
use crate::error::{Error, Result};
use crate::protocol::records::Compression;

/// How many acknowledgements the partition leader waits for before answering
/// a Produce request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Acks {
    /// `acks=0`: the broker sends no answer; records are reported delivered
    /// once written to the socket, with offset -1. Fastest, may lose data.
    None,
    /// `acks=1`: the leader has written the records.
    Leader,
    /// `acks=all` (`-1`): every in-sync replica has the records. The default,
    /// as in the Java producer since Kafka 3.0.
    #[default]
    All,
}

impl Acks {
    /// The wire value: 0, 1 or -1.
    pub fn code(self) -> i16 {
        match self {
            Acks::None => 0,
            Acks::Leader => 1,
            Acks::All => -1,
        }
    }
}

/// Settings of a [`Producer`](super::Producer).
///
/// | setting | default | Java producer |
/// |---|---|---|
/// | [`linger`](Self::linger) | 5 ms | `linger.ms` (Kafka 4.0) |
/// | [`batch_size`](Self::batch_size) | 256 KiB | `batch.size` (Java: 16 KiB; librdkafka: 1 MB) |
/// | [`acks`](Self::acks) | [`Acks::All`] | `acks` |
/// | [`compression`](Self::compression) | none | `compression.type` |
/// | [`delivery_timeout`](Self::delivery_timeout) | 120 s | `delivery.timeout.ms` |
/// | [`request_timeout`](Self::request_timeout) | 30 s | `request.timeout.ms` |
/// | [`max_in_flight`](Self::max_in_flight) | 5 | `max.in.flight.requests.per.connection` |
/// | [`preserve_order`](Self::preserve_order) | `true`: without idempotence, one batch per partition in flight | — (Java reorders on retry unless `max.in.flight.requests.per.connection=1`) |
/// | [`buffer_memory`](Self::buffer_memory) | 32 MiB | `buffer.memory` |
/// | [`max_block`](Self::max_block) | 60 s | `max.block.ms` |
/// | [`max_request_size`](Self::max_request_size) | 1 MiB | `max.request.size` |
/// | [`retry_backoff`](Self::retry_backoff) | 100 ms → 1 s | `retry.backoff.ms`, `retry.backoff.max.ms` |
/// | [`idempotence`](Self::idempotence) | on when the broker supports it | `enable.idempotence` |
/// | [`partitioner`](Self::partitioner) | murmur2 for keys, sticky otherwise | `partitioner.class` unset |
/// | [`delivery_reports`](Self::delivery_reports) | off | pykafka's `delivery_reports` |
/// | [`close_timeout`](Self::close_timeout) | 30 s | — |
/// | [`transactional_id`](Self::transactional_id) | none: no transactions | `transactional.id` |
/// | [`transaction_timeout`](Self::transaction_timeout) | 60 s | `transaction.timeout.ms` |
///
/// ```
/// use std::time::Duration;
/// use kafka_sync::producer::{Acks, ProducerConfig};
/// let config = ProducerConfig::default()
///     .linger(Duration::from_millis(10))
///     .acks(Acks::Leader)
///     .delivery_reports(true);
/// ```
#[derive(Clone)]
#[must_use = "a config does nothing until a producer is made from it"]
pub struct ProducerConfig {
    pub(crate) linger: Duration,
    pub(crate) batch_size: usize,
    pub(crate) acks: Acks,
    pub(crate) compression: Compression,
    pub(crate) compression_level: Option<i32>,
    pub(crate) delivery_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) max_in_flight: usize,
    pub(crate) preserve_order: bool,
    pub(crate) buffer_memory: usize,
    pub(crate) max_block: Duration,
    pub(crate) max_request_size: usize,
    pub(crate) retry_backoff: Duration,
    pub(crate) retry_backoff_max: Duration,
    pub(crate) idempotence: Option<bool>,
    pub(crate) partitioning: Partitioning,
    pub(crate) delivery_reports: bool,
    pub(crate) delivery_reports_capacity: usize,
    pub(crate) close_timeout: Duration,
    pub(crate) transactional_id: Option<String>,
    pub(crate) transaction_timeout: Duration,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            linger: Duration::from_millis(5),
            batch_size: 256 * 1024,
            acks: Acks::All,
            compression: Compression::None,
            compression_level: None,
            delivery_timeout: Duration::from_secs(120),
            request_timeout: Duration::from_secs(30),
            max_in_flight: 5,
            preserve_order: true,
            buffer_memory: 32 * 1024 * 1024,
            max_block: Duration::from_secs(60),
            max_request_size: 1024 * 1024,
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_secs(1),
            idempotence: None,
            partitioning: Partitioning::Default,
            delivery_reports: false,
            delivery_reports_capacity: 100_000,
            close_timeout: Duration::from_secs(30),
            transactional_id: None,
            transaction_timeout: Duration::from_secs(60),
        }
    }
}

impl fmt::Debug for ProducerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProducerConfig")
            .field("linger", &self.linger)
            .field("batch_size", &self.batch_size)
            .field("acks", &self.acks)
            .field("compression", &self.compression)
            .field("compression_level", &self.compression_level)
            .field("delivery_timeout", &self.delivery_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("max_in_flight", &self.max_in_flight)
            .field("preserve_order", &self.preserve_order)
            .field("buffer_memory", &self.buffer_memory)
            .field("max_block", &self.max_block)
            .field("max_request_size", &self.max_request_size)
            .field("retry_backoff", &self.retry_backoff)
            .field("retry_backoff_max", &self.retry_backoff_max)
            .field("idempotence", &self.idempotence)
            .field("partitioning", &self.partitioning)
            .field("delivery_reports", &self.delivery_reports)
            .field("close_timeout", &self.close_timeout)
            .field("transactional_id", &self.transactional_id)
            .field("transaction_timeout", &self.transaction_timeout)
            .finish()
    }
}

impl ProducerConfig {
    /// How long a partition's batch waits for more records before it is
    /// sent, unless it fills up first. Defaults to 5 ms, as in the Java
    /// producer since Kafka 4.0 (KIP-1030).
    pub fn linger(mut self, linger: Duration) -> Self {
        self.linger = linger;
        self
    }

    /// Size in bytes (uncompressed, header included) at which a partition's
    /// batch is sealed and sent. A record larger than this travels alone in
    /// its batch. Defaults to 256 KiB: the Java producer's 16 KiB made a
    /// Produce request carry about sixteen 1 KiB records per partition, and
    /// the broker's per-request cost then capped 1 KiB records at half
    /// librdkafka's rate (which fills batches of up to 1 MB); 256 KiB lets
    /// one request of `max_request_size` (1 MiB) carry a full batch for each
    /// of four partitions. Memory stays bounded by
    /// [`buffer_memory`](Self::buffer_memory), and a batch is sent after
    /// [`linger`](Self::linger) however full it is.
    pub fn batch_size(mut self, bytes: usize) -> Self {
        self.batch_size = bytes;
        self
    }

    /// Acknowledgements to wait for. Defaults to [`Acks::All`], as in the
    /// Java producer.
    pub fn acks(mut self, acks: Acks) -> Self {
        self.acks = acks;
        self
    }

    /// Compression codec of the record batches. Defaults to none, as in the
    /// Java producer.
    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// Compression level; `None` (the default) takes the codec's default.
    pub fn compression_level(mut self, level: Option<i32>) -> Self {
        self.compression_level = level;
        self
    }

    /// Upper bound on the time from `produce` returning to the delivery
    /// report, retries included; a record not acknowledged by then is
    /// reported failed. Defaults to 120 s, as the Java producer's
    /// `delivery.timeout.ms`.
    pub fn delivery_timeout(mut self, timeout: Duration) -> Self {
        self.delivery_timeout = timeout;
        self
    }

    /// How long the broker may take to acknowledge a Produce request (sent as
    /// the request's `timeout_ms`). Defaults to 30 s, as the Java producer's
    /// `request.timeout.ms`. The producer waits for the answer as long as the
    /// client's own [`request_timeout`](crate::KafkaClientBuilder::request_timeout)
    /// allows (the connection is shared), then retries.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Produce requests in flight per broker connection. Defaults to 5, as in
    /// the Java producer; at most 5 with idempotence. How many of them may
    /// carry batches of one partition depends on
    /// [`preserve_order`](Self::preserve_order).
    pub fn max_in_flight(mut self, requests: usize) -> Self {
        self.max_in_flight = requests;
        self
    }

    /// Whether a partition's records are written in the order they were
    /// produced even when batches are retried. Defaults to `true`.
    ///
    /// With idempotence in effect (the default with [`Acks::All`]), order
    /// holds whatever this says: sequence numbers let up to
    /// [`max_in_flight`](Self::max_in_flight) batches of a partition be in
    /// flight, and a failed batch is resent before any newer one.
    ///
    /// Without idempotence (acks 0 or 1, [`idempotence(Some(false))`](Self::idempotence),
    /// or a broker without InitProducerId), a batch retried after a failure
    /// could land after a newer batch of its partition that was in flight
    /// behind it. With `true`, each partition has at most one batch in
    /// flight, so a retry cannot be overtaken, while different partitions
    /// still share the `max_in_flight` requests per broker. `false` lets a
    /// partition pipeline up to `max_in_flight` batches, as the Java producer
    /// (`max.in.flight.requests.per.connection` 5) and librdkafka do: more
    /// throughput for a single hot partition, and retries may reorder (they
    /// may duplicate records either way without idempotence). With
    /// [`Acks::None`] nothing waits for an answer, so this changes nothing.
    pub fn preserve_order(mut self, preserve: bool) -> Self {
        self.preserve_order = preserve;
        self
    }

    /// Bytes of records the producer holds (queued, in flight or awaiting a
    /// report read); when full, `produce` blocks up to
    /// [`max_block`](Self::max_block). Defaults to 32 MiB, as the Java
    /// producer's `buffer.memory`.
    pub fn buffer_memory(mut self, bytes: usize) -> Self {
        self.buffer_memory = bytes;
        self
    }

    /// How long `produce` waits for room in the buffer (or for the topic's
    /// metadata) before failing with a [`TimeoutKind::MaxBlock`](crate::TimeoutKind::MaxBlock)
    /// timeout. Defaults to 60 s, as the Java producer's `max.block.ms`.
    pub fn max_block(mut self, timeout: Duration) -> Self {
        self.max_block = timeout;
        self
    }

    /// Largest record (encoded, in a batch of its own) and largest Produce
    /// request. A bigger record is refused at once. Defaults to 1 MiB, as the
    /// Java producer's `max.request.size`.
    pub fn max_request_size(mut self, bytes: usize) -> Self {
        self.max_request_size = bytes;
        self
    }

    /// Wait before the first retry of a failed batch, doubling per attempt up
    /// to `max`, with ±20 % jitter. Defaults to 100 ms and 1 s, as the Java
    /// producer's `retry.backoff.ms` and `retry.backoff.max.ms`.
    pub fn retry_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.retry_backoff = initial;
        self.retry_backoff_max = max;
        self
    }

    /// Idempotent delivery: the broker drops duplicates that retries would
    /// otherwise write. `Some(true)` requires it (and `acks=all`); `Some(false)`
    /// turns it off; `None` (the default) uses it when acks are
    /// [`Acks::All`] and the broker supports InitProducerId, as the Java
    /// producer does since Kafka 3.0.
    pub fn idempotence(mut self, enabled: Option<bool>) -> Self {
        self.idempotence = enabled;
        self
    }

    /// How records without an explicit partition are spread. Defaults to
    /// [`Partitioning::Default`]: murmur2 of the key as the Java client, and
    /// sticky partitioning for records without a key.
    pub fn partitioning(mut self, partitioning: Partitioning) -> Self {
        self.partitioning = partitioning;
        self
    }

    /// A user-supplied partitioner: a closure `Fn(&str, Option<&[u8]>, i32) -> i32`
    /// taking the topic, the key and the partition count, or any
    /// [`Partitioner`]. Shorthand for [`Partitioning::Custom`].
    pub fn partitioner(mut self, partitioner: impl Partitioner + 'static) -> Self {
        self.partitioning = Partitioning::Custom(Arc::new(partitioner));
        self
    }

    /// Whether every accepted record produces a [`DeliveryReport`](super::DeliveryReport)
    /// on [`Producer::delivery_reports`](super::Producer::delivery_reports).
    /// Defaults to `false`, as in pykafka: with nobody reading the reports,
    /// the buffer would fill up and `produce` would block. Failures are
    /// logged and counted in [`metrics`](super::Producer::metrics) either way.
    pub fn delivery_reports(mut self, enabled: bool) -> Self {
        self.delivery_reports = enabled;
        self
    }

    /// How many delivery reports the [`DeliveryReports`](super::DeliveryReports)
    /// queue holds unread, counted in reports (a batch's reports are handed
    /// over together, and split when they do not all fit). When it is full,
    /// reports wait in the producer (their records still count against
    /// [`buffer_memory`](Self::buffer_memory)). Defaults to 100 000.
    pub fn delivery_reports_capacity(mut self, reports: usize) -> Self {
        self.delivery_reports_capacity = reports;
        self
    }

    /// How long dropping the producer waits for queued records to be
    /// delivered; what is left is then reported failed. Defaults to 30 s.
    ///
    /// The one bound of `Drop` (and of [`Producer::close`](super::Producer::close)):
    /// flushing, failing what is left and joining the `kafka-sync-sender`
    /// thread together take at most this plus 100 ms for the thread to hand
    /// over its last reports.
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }

    /// Makes the producer transactional under this id (the Java producer's
    /// `transactional.id`): records are written in transactions
    /// ([`Producer::begin_transaction`](super::Producer::begin_transaction) …
    /// [`commit_transaction`](super::Producer::commit_transaction)) that
    /// `read_committed` consumers see whole or not at all, and
    /// [`init_transactions`](super::Producer::init_transactions) fences any
    /// older producer with the same id. Needs idempotence (on by default) and
    /// [`Acks::All`]. Defaults to none: a plain producer.
    pub fn transactional_id(mut self, id: impl Into<String>) -> Self {
        self.transactional_id = Some(id.into());
        self
    }

    /// How long the transaction coordinator lets a transaction stay open
    /// before it aborts it (sent with InitProducerId; the broker caps it at
    /// its `transaction.max.timeout.ms`, 15 min by default). Defaults to
    /// 60 s, as the Java producer's `transaction.timeout.ms`.
    pub fn transaction_timeout(mut self, timeout: Duration) -> Self {
        self.transaction_timeout = timeout;
        self
    }

    /// The transactional id, if the producer is transactional.
    pub fn get_transactional_id(&self) -> Option<&str> {
        self.transactional_id.as_deref()
    }

    /// The linger time.
    pub fn get_linger(&self) -> Duration {
        self.linger
    }

    /// The acks setting.
    pub fn get_acks(&self) -> Acks {
        self.acks
    }

    /// The compression codec.
    pub fn get_compression(&self) -> Compression {
        self.compression
    }

    /// Checks the settings against each other.
    pub(crate) fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(m));
        if self.batch_size == 0 {
            return bad("batch_size must be at least 1 byte".into());
        }
        if self.max_in_flight == 0 {
            return bad("max_in_flight must be at least 1".into());
        }
        if self.idempotence == Some(true) {
            if self.acks != Acks::All {
                return bad("idempotence needs acks=all (Acks::All)".into());
            }
            if self.max_in_flight > 5 {
                return bad("idempotence allows at most 5 requests in flight".into());
            }
        }
        if let Some(id) = &self.transactional_id {
            if id.is_empty() {
                return bad("transactional_id must not be empty".into());
            }
            if self.idempotence == Some(false) {
                return bad("a transactional producer needs idempotence; remove idempotence(Some(false)) or the transactional_id".into());
            }
            if self.acks != Acks::All {
                return bad("a transactional producer needs acks=all (Acks::All)".into());
            }
            if self.max_in_flight > 5 {
                return bad("a transactional producer allows at most 5 requests in flight".into());
            }
            if self.transaction_timeout.is_zero()
                || self.transaction_timeout.as_millis() > i32::MAX as u128
            {
                return bad("transaction_timeout must be between 1 ms and i32::MAX ms".into());
            }
        }
        if self.max_request_size < 128 {
            return bad("max_request_size below 128 bytes cannot hold a record batch".into());
        }
        if self.max_request_size > i32::MAX as usize {
            return bad(format!("max_request_size is at most {} bytes", i32::MAX));
        }
        if self.buffer_memory < self.max_request_size.min(self.batch_size) {
            return bad("buffer_memory must hold at least one batch".into());
        }
        if self.request_timeout.is_zero() || self.delivery_timeout.is_zero() {
            return bad("request_timeout and delivery_timeout must be greater than zero".into());
        }
        if self.delivery_reports && self.delivery_reports_capacity == 0 {
            return bad("delivery_reports_capacity must be at least 1".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_java_producer() {
        let c = ProducerConfig::default();
        assert_eq!(c.linger, Duration::from_millis(5));
        assert_eq!(c.batch_size, 256 * 1024);
        assert_eq!(c.acks, Acks::All);
        assert_eq!(c.delivery_timeout, Duration::from_secs(120));
        assert_eq!(c.request_timeout, Duration::from_secs(30));
        assert_eq!(c.max_in_flight, 5);
        assert!(c.preserve_order);
        assert_eq!(c.buffer_memory, 32 << 20);
        assert_eq!(c.max_block, Duration::from_secs(60));
        assert_eq!(c.max_request_size, 1 << 20);
        assert_eq!(c.retry_backoff, Duration::from_millis(100));
        assert_eq!(c.retry_backoff_max, Duration::from_secs(1));
        assert!(c.validate().is_ok());
    }

    #[test]
    fn acks_have_their_wire_values() {
        assert_eq!(
            [Acks::None.code(), Acks::Leader.code(), Acks::All.code()],
            [0, 1, -1]
        );
    }

    #[test]
    fn required_idempotence_needs_acks_all() {
        let c = ProducerConfig::default()
            .acks(Acks::Leader)
            .idempotence(Some(true));
        assert!(matches!(c.validate(), Err(Error::Config(m)) if m.contains("acks")));
    }

    #[test]
    fn a_transactional_producer_needs_idempotence_and_acks_all() {
        let tx = || ProducerConfig::default().transactional_id("billing-1");
        assert!(tx().validate().is_ok());
        assert_eq!(tx().transaction_timeout, Duration::from_secs(60));
        for bad in [
            tx().idempotence(Some(false)),
            tx().acks(Acks::Leader),
            tx().max_in_flight(6),
            ProducerConfig::default().transactional_id(""),
            tx().transaction_timeout(Duration::ZERO),
        ] {
            assert!(matches!(bad.validate(), Err(Error::Config(_))), "{bad:?}");
        }
    }

    #[test]
    fn zero_batch_size_and_in_flight_are_rejected() {
        assert!(ProducerConfig::default().batch_size(0).validate().is_err());
        assert!(ProducerConfig::default()
            .max_in_flight(0)
            .validate()
            .is_err());
    }
}
