//! [`SimpleConsumerConfig`]: the settings of a
//! [`SimpleConsumer`](crate::SimpleConsumer), with every default in one place.
//!
//! Names follow pykafka where it has one (`consumer_timeout`,
//! `queued_max_messages`, `auto_offset_reset`) and the Java consumer
//! otherwise (`fetch_min_bytes`, `fetch_max_wait`, …); defaults follow the
//! Java consumer unless the setter says otherwise.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::protocol::api::IsolationLevel;

/// Where to start reading a partition that has no committed offset, or whose
/// position has fallen out of the log (`OFFSET_OUT_OF_RANGE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum OffsetReset {
    /// The oldest offset still stored (the log start offset).
    Earliest,
    /// The high watermark: only records produced from now on (the default,
    /// as in the Java consumer).
    #[default]
    Latest,
    /// No reset: the partition reports an error until it is moved with
    /// `seek` (the Java consumer's `none`).
    Error,
}

/// Settings of a [`SimpleConsumer`](crate::SimpleConsumer); build it with the
/// setters, starting from [`SimpleConsumerConfig::default`].
///
/// ```
/// use std::time::Duration;
/// use kafka_sync::{OffsetReset, SimpleConsumerConfig};
///
/// let config = SimpleConsumerConfig::default()
///     .consumer_group("audit")
///     .partitions([0, 2])
///     .auto_offset_reset(OffsetReset::Earliest)
///     .auto_commit(Duration::from_secs(5))
///     .consumer_timeout(Duration::from_secs(2));
/// ```
#[derive(Debug, Clone)]
pub struct SimpleConsumerConfig {
    pub(crate) consumer_group: Option<String>,
    pub(crate) partitions: Option<Vec<i32>>,
    pub(crate) auto_offset_reset: OffsetReset,
    pub(crate) auto_commit_enable: bool,
    pub(crate) auto_commit_interval: Duration,
    pub(crate) consumer_timeout: Option<Duration>,
    pub(crate) fetch_min_bytes: i32,
    pub(crate) fetch_max_wait: Duration,
    pub(crate) max_partition_fetch_bytes: i32,
    pub(crate) fetch_max_bytes: i32,
    pub(crate) queued_max_messages: usize,
    pub(crate) queued_max_bytes: usize,
    pub(crate) fetches_in_flight: usize,
    pub(crate) isolation_level: IsolationLevel,
    pub(crate) check_crcs: bool,
    pub(crate) close_timeout: Duration,
}

impl Default for SimpleConsumerConfig {
    fn default() -> Self {
        SimpleConsumerConfig {
            consumer_group: None,
            partitions: None,
            auto_offset_reset: OffsetReset::Latest,
            auto_commit_enable: true,
            auto_commit_interval: Duration::from_secs(5),
            consumer_timeout: None,
            fetch_min_bytes: 1,
            fetch_max_wait: Duration::from_millis(500),
            max_partition_fetch_bytes: 1024 * 1024,
            fetch_max_bytes: 50 * 1024 * 1024,
            queued_max_messages: 100_000,
            queued_max_bytes: 64 * 1024 * 1024,
            fetches_in_flight: 2,
            isolation_level: IsolationLevel::ReadUncommitted,
            check_crcs: true,
            close_timeout: Duration::from_secs(10),
        }
    }
}

impl SimpleConsumerConfig {
    /// The consumer group whose committed offsets the consumer starts from
    /// and commits to. The group's membership is not joined: partitions are
    /// the ones given to [`partitions`](Self::partitions). Defaults to none:
    /// no committed offsets, and [`commit_offsets`](crate::SimpleConsumer::commit_offsets)
    /// fails.
    #[must_use]
    pub fn consumer_group(mut self, group: impl Into<String>) -> Self {
        self.consumer_group = Some(group.into());
        self
    }

    /// The partitions to read, and only these. Defaults to every partition
    /// of the topic, including partitions added to it while the consumer
    /// runs: they are noticed at the next metadata refresh (at most the
    /// client's `metadata_max_age`, 5 min, as in the Java consumer) and read
    /// from the group's committed offset, else from their first record
    /// (whatever [`auto_offset_reset`](Self::auto_offset_reset) says: all of
    /// it is newer than the consumer).
    #[must_use]
    pub fn partitions(mut self, partitions: impl IntoIterator<Item = i32>) -> Self {
        let mut list: Vec<i32> = partitions.into_iter().collect();
        list.sort_unstable();
        list.dedup();
        self.partitions = Some(list);
        self
    }

    /// Where to start when a partition has no committed offset, and where to
    /// jump when its position falls out of the log. Defaults to
    /// [`OffsetReset::Latest`], as in the Java consumer.
    #[must_use]
    pub fn auto_offset_reset(mut self, reset: OffsetReset) -> Self {
        self.auto_offset_reset = reset;
        self
    }

    /// Commits the consumer's positions every `interval` (checked when
    /// messages are consumed) and on close. Only has an effect with a
    /// [`consumer_group`](Self::consumer_group). Defaults to on, every 5 s, as
    /// in the Java consumer (`enable.auto.commit`, `auto.commit.interval.ms`).
    #[must_use]
    pub fn auto_commit(mut self, interval: Duration) -> Self {
        self.auto_commit_enable = true;
        self.auto_commit_interval = interval;
        self
    }

    /// Turns automatic commits on or off; see [`auto_commit`](Self::auto_commit).
    #[must_use]
    pub fn enable_auto_commit(mut self, enable: bool) -> Self {
        self.auto_commit_enable = enable;
        self
    }

    /// How long iteration waits for a message before it ends. Defaults to
    /// none: iterating blocks until a message arrives (pykafka's `-1`).
    #[must_use]
    pub fn consumer_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.consumer_timeout = timeout.into();
        self
    }

    /// Bytes a broker waits for before it answers a fetch. Defaults to 1.
    #[must_use]
    pub fn fetch_min_bytes(mut self, bytes: i32) -> Self {
        self.fetch_min_bytes = bytes;
        self
    }

    /// How long a broker may hold a fetch waiting for `fetch_min_bytes`.
    /// Defaults to 500 ms, as in the Java consumer.
    #[must_use]
    pub fn fetch_max_wait(mut self, wait: Duration) -> Self {
        self.fetch_max_wait = wait;
        self
    }

    /// Largest amount of record data one fetch returns per partition (a
    /// larger first batch still comes whole). Defaults to 1 MiB, as in the
    /// Java consumer.
    #[must_use]
    pub fn max_partition_fetch_bytes(mut self, bytes: i32) -> Self {
        self.max_partition_fetch_bytes = bytes;
        self
    }

    /// Largest amount of record data one fetch returns over all its
    /// partitions. Defaults to 50 MiB, as in the Java consumer.
    #[must_use]
    pub fn fetch_max_bytes(mut self, bytes: i32) -> Self {
        self.fetch_max_bytes = bytes;
        self
    }

    /// Messages the fetcher keeps ready per partition: it fetches a partition
    /// again only while fewer are queued. Defaults to 100,000, librdkafka's
    /// `queued.min.messages` (it was pykafka's 2000, which at 100 B records
    /// is 200 KB per partition and starved each Fetch). The bound on memory
    /// is [`queued_max_bytes`](Self::queued_max_bytes).
    #[must_use]
    pub fn queued_max_messages(mut self, messages: usize) -> Self {
        self.queued_max_messages = messages;
        self
    }

    /// Bytes of messages the fetcher keeps ready, over all partitions
    /// together, counted as the memory they take once decoded and
    /// decompressed (key, value and headers plus about 100 bytes per
    /// message), like librdkafka's `queued.max.messages.kbytes`. It fetches
    /// only while at most half of this is queued, and stops making messages
    /// of a fetched batch when this is reached: the rest of a batch waits
    /// (decompressed) and is handed out a part at a time, so a batch of
    /// millions of tiny records never becomes millions of messages at once.
    /// The queues hold at most this plus one message; each partition's
    /// waiting batch is bounded by its decompressed size, and each Fetch
    /// asks for at most this much (its `max_bytes` is the smaller of this and
    /// [`fetch_max_bytes`](Self::fetch_max_bytes)), so with
    /// [`fetches_in_flight`](Self::fetches_in_flight) the consumer's memory
    /// stays within a small multiple of this however large the backlog.
    /// Defaults to 64 MiB, librdkafka's default.
    ///
    /// Messages are slices of the fetched response: a caller that keeps
    /// messages keeps their response's buffer alive, outside this bound.
    ///
    /// Must be at least [`max_partition_fetch_bytes`](Self::max_partition_fetch_bytes)
    /// (one partition's share of a fetch); `get_simple_consumer` fails with
    /// [`Error::Config`] otherwise.
    #[must_use]
    pub fn queued_max_bytes(mut self, bytes: usize) -> Self {
        self.queued_max_bytes = bytes;
        self
    }

    /// Fetches the consumer keeps in flight to each leader, each for its own
    /// share of the leader's partitions: while this consumer's thread decodes
    /// one response, the broker is already serving the next, which covers
    /// the round trip. Defaults to 2; must be at least 1 (the consumer fails
    /// to build with [`Error::Config`] otherwise).
    #[must_use]
    pub fn fetches_in_flight(mut self, fetches: usize) -> Self {
        self.fetches_in_flight = fetches;
        self
    }

    /// The bounds of the prefetch queues.
    pub(crate) fn queue_limits(&self) -> crate::consumer::queue::Limits {
        crate::consumer::queue::Limits {
            messages: self.queued_max_messages,
            bytes: self.queued_max_bytes,
        }
    }

    /// Whether records of open and aborted transactions are read. Defaults to
    /// [`IsolationLevel::ReadUncommitted`], as in the Java consumer.
    #[must_use]
    pub fn isolation_level(mut self, level: IsolationLevel) -> Self {
        self.isolation_level = level;
        self
    }

    /// Whether every batch's CRC is checked. Defaults to `true`, as in the
    /// Java consumer's `check.crcs`.
    #[must_use]
    pub fn check_crcs(mut self, check: bool) -> Self {
        self.check_crcs = check;
        self
    }

    /// The one bound on closing (or dropping) the consumer: stopping the
    /// `kafka-sync-fetcher` thread, waiting for background commits still
    /// running (so the final commit lands last) and the final auto commit
    /// (itself also bounded by the client's `request_timeout`) all finish
    /// within this. A thread still inside a blocking call then is detached
    /// with a warning and ends on its own. Defaults to 10 s.
    #[must_use]
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }

    /// Checks the settings against each other.
    pub(crate) fn validate(&self) -> Result<()> {
        if self.fetch_min_bytes < 0 {
            return Err(Error::Config("fetch_min_bytes must not be negative".into()));
        }
        if self.max_partition_fetch_bytes <= 0 || self.fetch_max_bytes <= 0 {
            return Err(Error::Config(
                "max_partition_fetch_bytes and fetch_max_bytes must be positive".into(),
            ));
        }
        if self.queued_max_messages == 0 {
            return Err(Error::Config(
                "queued_max_messages must be at least 1".into(),
            ));
        }
        if self.queued_max_bytes == 0 {
            return Err(Error::Config("queued_max_bytes must be at least 1".into()));
        }
        if self.queued_max_bytes < usize::try_from(self.max_partition_fetch_bytes).unwrap_or(0) {
            return Err(Error::Config(format!(
                "queued_max_bytes ({}) is smaller than max_partition_fetch_bytes ({}): the \
                 prefetch queue could not take one partition's fetch; raise queued_max_bytes \
                 or lower max_partition_fetch_bytes",
                self.queued_max_bytes, self.max_partition_fetch_bytes
            )));
        }
        if self.fetches_in_flight == 0 {
            return Err(Error::Config(
                "fetches_in_flight must be at least 1: with none the consumer never fetches".into(),
            ));
        }
        if i32::try_from(self.fetch_max_wait.as_millis()).is_err() {
            return Err(Error::Config("fetch_max_wait is too long".into()));
        }
        if self.auto_commit_enable && self.auto_commit_interval.is_zero() {
            return Err(Error::Config(
                "auto_commit interval must be longer than zero".into(),
            ));
        }
        Ok(())
    }

    /// Whether commits happen automatically: on, with a group.
    pub(crate) fn auto_commits(&self) -> bool {
        self.auto_commit_enable && self.consumer_group.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_java_consumer_and_pykafka() {
        let c = SimpleConsumerConfig::default();
        assert_eq!(c.auto_offset_reset, OffsetReset::Latest);
        assert_eq!(c.fetch_max_wait, Duration::from_millis(500));
        assert_eq!(c.max_partition_fetch_bytes, 1 << 20);
        assert_eq!(c.fetch_max_bytes, 50 << 20);
        assert_eq!(c.queued_max_messages, 100_000);
        assert_eq!(c.queued_max_bytes, 64 << 20);
        assert_eq!(c.fetches_in_flight, 2);
        assert_eq!(c.consumer_timeout, None);
        assert!(c.validate().is_ok());
        assert!(!c.auto_commits(), "no group, no commits");
        assert!(c.consumer_group("g").auto_commits());
    }

    #[test]
    fn partitions_are_sorted_and_deduplicated() {
        let c = SimpleConsumerConfig::default().partitions([2, 0, 2]);
        assert_eq!(c.partitions, Some(vec![0, 2]));
    }

    #[test]
    fn nonsense_settings_are_config_errors() {
        let bad = [
            SimpleConsumerConfig::default().queued_max_messages(0),
            SimpleConsumerConfig::default().queued_max_bytes(0),
            SimpleConsumerConfig::default().queued_max_bytes(1000),
            SimpleConsumerConfig::default().fetches_in_flight(0),
            SimpleConsumerConfig::default().fetch_max_bytes(0),
            SimpleConsumerConfig::default().auto_commit(Duration::ZERO),
        ];
        for c in bad {
            assert!(matches!(c.validate(), Err(Error::Config(_))), "{c:?}");
        }
    }
}
