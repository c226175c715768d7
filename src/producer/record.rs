//! What goes in and what comes out of a producer: [`Record`],
//! [`RecordMetadata`] and [`DeliveryReport`].

use std::sync::Arc;

use crate::error::{Error, Result};

/// A record to produce: value, and optionally key, headers, partition and
/// timestamp.
///
/// ```
/// use kafka_sync::producer::Record;
/// let record = Record::new(b"clicked")
///     .key(b"user-42")
///     .header("trace", b"1")
///     .partition(3)
///     .timestamp(1_700_000_000_000);
/// assert_eq!(record.get_key(), Some(&b"user-42"[..]));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    pub(crate) key: Option<Vec<u8>>,
    pub(crate) value: Option<Vec<u8>>,
    pub(crate) headers: Vec<(String, Option<Vec<u8>>)>,
    pub(crate) partition: Option<i32>,
    pub(crate) timestamp: Option<i64>,
}

impl Record {
    /// A record with this value, no key, no headers; the partitioner picks
    /// the partition and the timestamp is the time of `produce`.
    pub fn new(value: impl Into<Vec<u8>>) -> Self {
        Record {
            value: Some(value.into()),
            ..Record::default()
        }
    }

    /// A record with a null value: a tombstone, which deletes `key` from a
    /// compacted topic.
    pub fn tombstone(key: impl Into<Vec<u8>>) -> Self {
        Record {
            key: Some(key.into()),
            ..Record::default()
        }
    }

    /// Sets the key; keyed records are partitioned by the key's murmur2 hash.
    #[must_use]
    pub fn key(mut self, key: impl Into<Vec<u8>>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Adds a header (keys may repeat).
    #[must_use]
    pub fn header(mut self, key: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((key.into(), Some(value.into())));
        self
    }

    /// Adds a header with a null value.
    #[must_use]
    pub fn null_header(mut self, key: impl Into<String>) -> Self {
        self.headers.push((key.into(), None));
        self
    }

    /// Sends the record to this partition, bypassing the partitioner.
    #[must_use]
    pub fn partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// Sets the timestamp, in milliseconds since the Unix epoch (create time).
    #[must_use]
    pub fn timestamp(mut self, timestamp_ms: i64) -> Self {
        self.timestamp = Some(timestamp_ms);
        self
    }

    /// The key.
    pub fn get_key(&self) -> Option<&[u8]> {
        self.key.as_deref()
    }

    /// The value; `None` for a tombstone.
    pub fn get_value(&self) -> Option<&[u8]> {
        self.value.as_deref()
    }

    /// The headers, in order.
    pub fn get_headers(&self) -> &[(String, Option<Vec<u8>>)] {
        &self.headers
    }

    /// The explicit partition, if one was set.
    pub fn get_partition(&self) -> Option<i32> {
        self.partition
    }

    /// The explicit timestamp, if one was set.
    pub fn get_timestamp(&self) -> Option<i64> {
        self.timestamp
    }

    /// Bytes the record holds, the amount counted against `buffer_memory`:
    /// key, value and headers plus a fixed per-record overhead.
    pub(crate) fn memory_size(&self) -> usize {
        const OVERHEAD: usize = 64;
        OVERHEAD
            + self.key.as_ref().map_or(0, Vec::len)
            + self.value.as_ref().map_or(0, Vec::len)
            + self
                .headers
                .iter()
                .map(|(k, v)| k.len() + v.as_ref().map_or(0, Vec::len) + 8)
                .sum::<usize>()
    }
}

/// Where a record was written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct RecordMetadata {
    /// The topic.
    pub topic: Arc<str>,
    /// The partition.
    pub partition: i32,
    /// The record's offset; -1 with `acks=0`, or when the broker recognised
    /// an idempotent retry as a duplicate of a write it had already acknowledged.
    pub offset: i64,
    /// The record's timestamp: its create time, or the broker's append time
    /// when the topic uses `LogAppendTime`.
    pub timestamp: i64,
}

/// The outcome of one accepted record: written (with its offset) or failed
/// (with the error). Every record `produce` accepted gets exactly one report
/// when [`delivery_reports`](super::ProducerConfig::delivery_reports) is on.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DeliveryReport {
    /// The topic.
    pub topic: Arc<str>,
    /// The partition the record was assigned to.
    pub partition: i32,
    /// The record as it was produced (its partition and timestamp filled in).
    pub record: Record,
    /// Where it was written, or why it was not.
    pub result: Result<RecordMetadata, Error>,
}

impl DeliveryReport {
    /// Whether the record was written.
    pub fn is_ok(&self) -> bool {
        self.result.is_ok()
    }

    /// The offset, when the record was written.
    pub fn offset(&self) -> Option<i64> {
        self.result.as_ref().ok().map(|m| m.offset)
    }

    /// The error, when the record was not written.
    pub fn error(&self) -> Option<&Error> {
        self.result.as_ref().err()
    }
}
