//! Record batches (magic 2), legacy message sets (magic 0 and 1) and their
//! compression codecs: the bytes inside Produce requests and Fetch responses.
//!
//! **Writing** (the producer): a [`BatchBuilder`] collects the records of one
//! partition. Appending encodes the record at once into the builder's buffer
//! and [`BatchBuilder::size_in_bytes`] tells the size so far, so the producer
//! can seal the batch when it reaches `batch_size`. [`BatchBuilder::build`]
//! compresses the records, fills in the header and the CRC-32C, and returns
//! the batch ready for a Produce request. Only magic 2 is written.
//!
//! **Reading** (the consumers): [`decode_batches`] walks the `records` bytes of
//! one partition in a Fetch response and yields a [`RecordBatch`] per batch,
//! checking each CRC (unless [`DecodeOptions::check_crcs`] is off). Legacy
//! message sets come out as batches too: one per uncompressed message, one per
//! compressed wrapper. A partial batch at the end of the bytes, which brokers
//! send routinely, ends the iteration quietly; [`Batches::remainder`] shows it.
//! Control batches (transaction markers) say so through
//! [`RecordBatch::is_control`] and [`RecordBatch::control_type`].
//!
//! **Zero copy**: [`RecordBatch::records`] yields [`Record`]s whose keys,
//! values and header values borrow from the batch. An uncompressed batch
//! borrows straight from the fetched bytes; a compressed one is decompressed
//! once, on first access, into a buffer the batch owns. Records therefore
//! live as long as the batch, which lives as long as the fetched bytes; copy
//! what must outlive them.
//!
//! ```
//! use kafka_sync::protocol::records::{
//!     decode_batches, BatchBuilder, BatchOptions, Compression, DecodeOptions, Header,
//! };
//!
//! // Producer side: append, watch the size, seal.
//! let mut builder = BatchBuilder::new(BatchOptions::default().with_compression(Compression::Gzip, None));
//! builder.append(1_700_000_000_000, Some(b"user-42"), Some(b"clicked"), &[])?;
//! builder.append(1_700_000_000_005, None, Some(b"viewed"), &[Header::new("trace", Some(b"abc"))])?;
//! assert!(builder.size_in_bytes() < 16 * 1024);
//! let batch: Vec<u8> = builder.build()?;
//!
//! // Consumer side: batches, then records; skip what precedes the fetch offset.
//! let fetch_offset = 1;
//! for batch in decode_batches(&batch, DecodeOptions::default()) {
//!     let batch = batch?;
//!     if batch.is_control() || batch.last_offset() < fetch_offset {
//!         continue;
//!     }
//!     for record in batch.records()? {
//!         let record = record?;
//!         if record.offset < fetch_offset {
//!             continue;
//!         }
//!         assert_eq!(record.value, Some(&b"viewed"[..]));
//!         assert_eq!(record.headers[0].key, "trace");
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # References
//! Kafka protocol guide, "Messages" ("Record Batch", "Record", "Record
//! Header", "Control Batches", "Old Message Format"); KIP-98 (magic 2,
//! transactions), KIP-32 (magic 1 timestamps), KIP-31 (relative offsets),
//! KIP-82 (headers).

mod batch;
mod builder;
mod compression;
mod control;
pub(crate) mod crc;
mod legacy;

use std::borrow::Cow;

pub(crate) use batch::decode_batches_summed;
pub use batch::{decode_batches, BatchHeader, Batches, DecodeOptions, RecordBatch, Records};
pub use builder::{rewrite_producer_state, BatchBuilder, BatchOptions, PreparedBatch};
pub use compression::{Compression, ParseCompressionError};
pub use control::{ControlRecordType, END_TXN_MARKER_VALUE_LEN};

/// Size of the magic-2 batch header, up to and including the record count.
pub const BATCH_HEADER_LEN: usize = 61;
/// `producer_id` of a batch written without idempotence.
pub const NO_PRODUCER_ID: i64 = -1;
/// `producer_epoch` of a batch written without idempotence.
pub const NO_PRODUCER_EPOCH: i16 = -1;
/// `base_sequence` of a batch written without idempotence.
pub const NO_SEQUENCE: i32 = -1;
/// `partition_leader_epoch` of a batch the broker has not stamped yet.
pub const NO_PARTITION_LEADER_EPOCH: i32 = -1;
/// Timestamp of records that have none (magic 0).
pub const NO_TIMESTAMP: i64 = -1;

/// What a batch's timestamps mean (attributes bit 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TimestampType {
    /// Magic 0 messages carry no timestamp.
    NoTimestamp,
    /// Set by the producer when the record was created.
    #[default]
    CreateTime,
    /// Set by the broker when it appended the batch; every record of the
    /// batch then has the batch's `max_timestamp`.
    LogAppendTime,
}

/// One record read from a batch.
///
/// Key, value and header values borrow from the [`RecordBatch`] (see the
/// module docs); `offset` and `timestamp` are absolute, already resolved
/// from the batch's base values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    /// The record's offset in its partition.
    pub offset: i64,
    /// Milliseconds since the epoch: creation or log-append time, as the
    /// batch's [`TimestampType`] says; [`NO_TIMESTAMP`] for magic 0.
    pub timestamp: i64,
    /// The key; `None` is a null key, which is not the same as an empty one.
    pub key: Option<&'a [u8]>,
    /// The value; `None` is a null value (a tombstone on compacted topics).
    pub value: Option<&'a [u8]>,
    /// Headers in wire order (keys may repeat). Always empty before magic 2.
    pub headers: Vec<Header<'a>>,
}

/// A record header: a string key and an optional byte value (KIP-82).
///
/// Read from a batch, both borrow from it. Built for a batch builder, they
/// may borrow or own; `Header<'static>` is an owned header a producer can
/// keep in its queue.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Header<'a> {
    /// The key. Keys that are not valid UTF-8 on the wire are read with
    /// U+FFFD replacement characters, as the Java client reads them.
    pub key: Cow<'a, str>,
    /// The value; `None` is a null value.
    pub value: Option<Cow<'a, [u8]>>,
}

impl<'a> Header<'a> {
    /// A header borrowing its key and value.
    pub fn new(key: &'a str, value: Option<&'a [u8]>) -> Self {
        Header {
            key: Cow::Borrowed(key),
            value: value.map(Cow::Borrowed),
        }
    }

    /// A header owning its key and value.
    pub fn owned(key: String, value: Option<Vec<u8>>) -> Header<'static> {
        Header {
            key: Cow::Owned(key),
            value: value.map(Cow::Owned),
        }
    }

    /// The value as a slice.
    pub fn value(&self) -> Option<&[u8]> {
        self.value.as_deref()
    }

    /// Copies whatever is borrowed.
    pub fn into_owned(self) -> Header<'static> {
        Header {
            key: Cow::Owned(self.key.into_owned()),
            value: self.value.map(|v| Cow::Owned(v.into_owned())),
        }
    }
}

#[cfg(test)]
mod tests;
