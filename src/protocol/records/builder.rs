//! Writing magic-2 record batches.
//!
//! [`BatchBuilder`] keeps one buffer: 61 bytes reserved for the header, then
//! the records, each encoded the moment it is appended. Sealing compresses
//! the records section if asked (the only copy of the payload), then writes
//! the header and the CRC-32C over everything from the attributes on.
//!
//! Field values follow the Java producer: base offset 0 (the broker assigns
//! offsets), partition leader epoch -1, `base_timestamp` the first record's
//! timestamp, deltas computed with wrapping arithmetic.
//!
//! # References
//! Kafka protocol guide, "Record Batch", "Record", "Record Header"; KIP-98.

use super::batch::LOG_OVERHEAD;
use super::compression::{self, Compression};
use super::crc::{crc32c, crc32c_combine};
use super::{Header, TimestampType, BATCH_HEADER_LEN};
use crate::protocol::{DecodeError, EncodeError, Encoder};

/// Header fields and codec of a batch being built.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchOptions {
    /// Codec for the records. Defaults to [`Compression::None`].
    pub compression: Compression,
    /// Codec level, within [`Compression::level_range`]; `None` (the
    /// default) uses [`Compression::default_level`].
    pub compression_level: Option<i32>,
    /// Offset of the first record. Defaults to 0: the broker assigns offsets.
    pub base_offset: i64,
    /// Defaults to -1: the broker stamps its own.
    pub partition_leader_epoch: i32,
    /// Idempotent or transactional producer id. Defaults to -1 (none).
    pub producer_id: i64,
    /// Producer epoch. Defaults to -1 (none).
    pub producer_epoch: i16,
    /// Sequence number of the first record. Defaults to -1 (none).
    pub base_sequence: i32,
    /// Part of a transaction. Defaults to `false`.
    pub transactional: bool,
    /// A control batch (brokers write these; useful to tests). Defaults to `false`.
    pub control: bool,
    /// Defaults to [`TimestampType::CreateTime`], what producers write.
    pub timestamp_type: TimestampType,
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            compression: Compression::None,
            compression_level: None,
            base_offset: 0,
            partition_leader_epoch: super::NO_PARTITION_LEADER_EPOCH,
            producer_id: super::NO_PRODUCER_ID,
            producer_epoch: super::NO_PRODUCER_EPOCH,
            base_sequence: super::NO_SEQUENCE,
            transactional: false,
            control: false,
            timestamp_type: TimestampType::CreateTime,
        }
    }
}

impl BatchOptions {
    /// Sets the codec and its level (`None` for the codec's default).
    pub fn with_compression(mut self, compression: Compression, level: Option<i32>) -> Self {
        self.compression = compression;
        self.compression_level = level;
        self
    }

    /// Sets the idempotent producer's id, epoch and first sequence number.
    pub fn with_producer_state(
        mut self,
        producer_id: i64,
        producer_epoch: i16,
        base_sequence: i32,
    ) -> Self {
        self.producer_id = producer_id;
        self.producer_epoch = producer_epoch;
        self.base_sequence = base_sequence;
        self
    }

    /// Marks the batch as part of a transaction.
    pub fn with_transactional(mut self, transactional: bool) -> Self {
        self.transactional = transactional;
        self
    }

    /// Sets the offset of the first record.
    pub fn with_base_offset(mut self, base_offset: i64) -> Self {
        self.base_offset = base_offset;
        self
    }

    fn attributes(&self) -> i16 {
        let mut attributes = i16::from(self.compression.id());
        if self.timestamp_type == TimestampType::LogAppendTime {
            attributes |= 0x08;
        }
        if self.transactional {
            attributes |= 0x10;
        }
        if self.control {
            attributes |= 0x20;
        }
        attributes
    }
}

/// Builds one magic-2 batch, a record at a time.
///
/// Appending is cheap: the record is encoded straight into the builder's
/// buffer. [`size_in_bytes`](Self::size_in_bytes) is the exact size the batch
/// would have uncompressed; compression shrinks it at [`build`](Self::build).
#[derive(Debug, Clone)]
pub struct BatchBuilder {
    options: BatchOptions,
    buf: Vec<u8>,
    record_count: i32,
    base_timestamp: i64,
    max_timestamp: i64,
    /// CRC-32C of the records so far, kept as they are appended (while
    /// they are in this core's cache) when they go uncompressed; the CRC
    /// of the header is combined with it at the end.
    records_crc: u32,
}

impl BatchBuilder {
    /// An empty batch.
    pub fn new(options: BatchOptions) -> Self {
        Self::with_capacity(options, 0)
    }

    /// An empty batch whose buffer holds `records_bytes` of records before
    /// it grows (for example the producer's `batch_size`).
    pub fn with_capacity(options: BatchOptions, records_bytes: usize) -> Self {
        Self::with_buffer(
            options,
            Vec::with_capacity(BATCH_HEADER_LEN.saturating_add(records_bytes)),
        )
    }

    /// An empty batch writing into `buf` (cleared first): a buffer of an
    /// earlier batch, reused so that its pages need not be mapped again.
    pub fn with_buffer(options: BatchOptions, mut buf: Vec<u8>) -> Self {
        buf.clear();
        buf.resize(BATCH_HEADER_LEN, 0);
        BatchBuilder {
            options,
            buf,
            record_count: 0,
            base_timestamp: 0,
            max_timestamp: 0,
            records_crc: 0,
        }
    }

    /// The options the batch was started with.
    pub fn options(&self) -> &BatchOptions {
        &self.options
    }

    /// Records appended so far.
    pub fn record_count(&self) -> usize {
        self.record_count as usize
    }

    /// Whether no record has been appended.
    pub fn is_empty(&self) -> bool {
        self.record_count == 0
    }

    /// Size of the batch so far, header included, before compression.
    pub fn size_in_bytes(&self) -> usize {
        self.buf.len()
    }

    /// What [`size_in_bytes`](Self::size_in_bytes) would be after appending
    /// this record: the producer's "does it still fit in `batch_size`" test.
    pub fn size_after(
        &self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header<'_>],
    ) -> usize {
        self.size_after_with(timestamp, key, value, header_fields(headers))
    }

    /// [`size_after`](Self::size_after) with the headers as `(key, value)`
    /// pairs, so a caller need not collect them into [`Header`]s.
    pub fn size_after_with<'h, I>(
        &self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: I,
    ) -> usize
    where
        I: IntoIterator<Item = (&'h str, Option<&'h [u8]>)>,
        I::IntoIter: ExactSizeIterator,
    {
        let body = self.record_body_len(timestamp, key, value, headers.into_iter());
        self.buf.len() + varint_len(body as i64) + body
    }

    /// Appends a record with this timestamp (milliseconds since the epoch),
    /// key, value and headers, and returns its offset delta (0 for the first
    /// record, then 1, 2, …).
    ///
    /// Fails only when a field or the record count exceeds what the format
    /// can express (more than `i32::MAX` bytes or records).
    pub fn append(
        &mut self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header<'_>],
    ) -> Result<i32, EncodeError> {
        self.append_with(timestamp, key, value, header_fields(headers))
    }

    /// [`append`](Self::append) with the headers as `(key, value)` pairs:
    /// the producer's path, which appends straight from its records without
    /// collecting their headers anywhere.
    pub fn append_with<'h, I>(
        &mut self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: I,
    ) -> Result<i32, EncodeError>
    where
        I: IntoIterator<Item = (&'h str, Option<&'h [u8]>)>,
        I::IntoIter: ExactSizeIterator + Clone,
    {
        let headers = headers.into_iter();
        let offset_delta = self.record_count;
        if offset_delta == i32::MAX {
            return Err(EncodeError::TooLong(i32::MAX as usize));
        }
        let body = self.record_body_len(timestamp, key, value, headers.clone());
        let body_i32 = i32::try_from(body).map_err(|_| EncodeError::TooLong(body))?;
        if self.record_count == 0 {
            self.base_timestamp = timestamp;
            self.max_timestamp = timestamp;
        }
        self.buf.reserve(5 + body);
        let start = self.buf.len();
        let mut e = Encoder::new(&mut self.buf);
        e.varint(body_i32);
        e.i8(0); // record attributes: unused
        e.varlong(timestamp.wrapping_sub(self.base_timestamp));
        e.varint(offset_delta);
        varint_bytes(&mut e, key);
        varint_bytes(&mut e, value);
        e.varint(headers.len() as i32); // bounded by the body length check above
        for (key, value) in headers {
            varint_bytes(&mut e, Some(key.as_bytes()));
            varint_bytes(&mut e, value);
        }
        if self.options.compression == Compression::None {
            self.records_crc = crc32c::crc32c_append(self.records_crc, &self.buf[start..]);
        }
        self.max_timestamp = self.max_timestamp.max(timestamp);
        self.record_count += 1;
        Ok(offset_delta)
    }

    /// Length of a record's body (everything after its length varint).
    /// Lengths over `i32::MAX` make `append` fail, so saturating is safe.
    fn record_body_len<'h>(
        &self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: impl ExactSizeIterator<Item = (&'h str, Option<&'h [u8]>)>,
    ) -> usize {
        let base_timestamp = if self.record_count == 0 {
            timestamp
        } else {
            self.base_timestamp
        };
        let mut len = 1 // attributes
            + varlong_len(timestamp.wrapping_sub(base_timestamp))
            + varint_len(i64::from(self.record_count))
            + bytes_len(key)
            + bytes_len(value)
            + varint_len(headers.len() as i64);
        for (key, value) in headers {
            len = len
                .saturating_add(bytes_len(Some(key.as_bytes())))
                .saturating_add(bytes_len(value));
        }
        len
    }

    /// Seals the batch: compresses the records, writes the header and the
    /// CRC, and returns the complete batch, ready for a Produce request.
    ///
    /// Fails on an empty batch (Kafka has no use for one), on a compression
    /// level outside the codec's range, on a codec whose cargo feature is off,
    /// or on a batch over `i32::MAX` bytes.
    pub fn build(self) -> Result<Vec<u8>, EncodeError> {
        let prepared = self.prepare()?;
        let (id, epoch, sequence) = prepared.producer_state();
        Ok(prepared.finish(id, epoch, sequence))
    }

    /// The fallible half of [`build`](Self::build): checks the batch and
    /// compresses its records. [`PreparedBatch::finish`] then writes the
    /// header, with the producer state known only now, and the CRC, once: a
    /// producer takes its sequence numbers between the two, so that a batch
    /// that cannot be built takes none.
    pub fn prepare(self) -> Result<PreparedBatch, EncodeError> {
        let BatchBuilder {
            options,
            mut buf,
            record_count,
            base_timestamp,
            max_timestamp,
            records_crc,
        } = self;
        if record_count == 0 {
            return Err(EncodeError::Unsupported(
                "a record batch needs at least one record",
            ));
        }
        let mut records_crc = Some(records_crc);
        let mut spare = None;
        if options.compression != Compression::None {
            records_crc = None;
            let records = &buf[BATCH_HEADER_LEN..];
            let mut out = Vec::with_capacity(BATCH_HEADER_LEN + records.len() / 2);
            out.resize(BATCH_HEADER_LEN, 0);
            compression::compress(
                options.compression,
                options.compression_level,
                records,
                &mut out,
            )?;
            spare = Some(std::mem::replace(&mut buf, out));
        }
        let batch_length = buf.len() - LOG_OVERHEAD;
        let batch_length =
            i32::try_from(batch_length).map_err(|_| EncodeError::TooLong(batch_length))?;
        Ok(PreparedBatch {
            options,
            buf,
            records_crc,
            spare,
            batch_length,
            record_count,
            base_timestamp,
            max_timestamp,
        })
    }
}

/// A batch whose records are encoded and compressed, waiting for its header;
/// from [`BatchBuilder::prepare`].
#[derive(Debug)]
pub struct PreparedBatch {
    options: BatchOptions,
    buf: Vec<u8>,
    /// The CRC of the records section, when it is what the builder
    /// appended (no compression).
    records_crc: Option<u32>,
    /// The uncompressed records' buffer, free once they are compressed.
    spare: Option<Vec<u8>>,
    batch_length: i32,
    record_count: i32,
    base_timestamp: i64,
    max_timestamp: i64,
}

impl PreparedBatch {
    /// Records in the batch.
    pub fn record_count(&self) -> usize {
        self.record_count as usize
    }

    /// The producer id, epoch and base sequence of the options the batch
    /// was started with.
    pub fn producer_state(&self) -> (i64, i16, i32) {
        (
            self.options.producer_id,
            self.options.producer_epoch,
            self.options.base_sequence,
        )
    }

    /// The buffer the records were appended to, when compression wrote the
    /// batch into another one: free for the next batch to reuse.
    pub fn take_spare_buffer(&mut self) -> Option<Vec<u8>> {
        self.spare.take()
    }

    /// Writes the header with this producer id, epoch and base sequence
    /// (-1, -1, -1 for none), and the CRC-32C, computed once over the
    /// finished batch; returns the complete batch.
    pub fn finish(self, producer_id: i64, producer_epoch: i16, base_sequence: i32) -> Vec<u8> {
        let PreparedBatch {
            options,
            mut buf,
            records_crc,
            spare: _,
            batch_length,
            record_count,
            base_timestamp,
            max_timestamp,
        } = self;
        let mut header = [0u8; BATCH_HEADER_LEN];
        let mut at = 0;
        let mut put = |bytes: &[u8]| {
            header[at..at + bytes.len()].copy_from_slice(bytes);
            at += bytes.len();
        };
        put(&options.base_offset.to_be_bytes());
        put(&batch_length.to_be_bytes());
        put(&options.partition_leader_epoch.to_be_bytes());
        put(&[2]);
        put(&[0; 4]); // CRC, below
        put(&options.attributes().to_be_bytes());
        put(&(record_count - 1).to_be_bytes());
        put(&base_timestamp.to_be_bytes());
        put(&max_timestamp.to_be_bytes());
        put(&producer_id.to_be_bytes());
        put(&producer_epoch.to_be_bytes());
        put(&base_sequence.to_be_bytes());
        put(&record_count.to_be_bytes());
        debug_assert_eq!(at, BATCH_HEADER_LEN);
        buf[..BATCH_HEADER_LEN].copy_from_slice(&header);
        match records_crc {
            Some(records) => {
                // The CRC covers the header from the attributes on, then
                // the records: combine the header's with the records'.
                let head = crc32c(&buf[21..BATCH_HEADER_LEN]);
                let crc = crc32c_combine(head, records, buf.len() - BATCH_HEADER_LEN);
                buf[17..21].copy_from_slice(&crc.to_be_bytes());
            }
            None => write_crc(&mut buf),
        }
        buf
    }
}

/// A slice of [`Header`]s as the `(key, value)` pairs the builder writes.
fn header_fields<'h>(
    headers: &'h [Header<'_>],
) -> impl ExactSizeIterator<Item = (&'h str, Option<&'h [u8]>)> + Clone {
    headers.iter().map(|h| (h.key.as_ref(), h.value()))
}

/// Computes and stores the CRC-32C of a complete magic-2 batch.
fn write_crc(batch: &mut [u8]) {
    let crc = crc32c(&batch[21..]);
    batch[17..21].copy_from_slice(&crc.to_be_bytes());
}

/// Rewrites the producer id, epoch and base sequence of a sealed magic-2
/// batch and recomputes its CRC: what a producer does when it retries
/// batches under a new epoch (KIP-360) or assigns sequences at send time.
pub fn rewrite_producer_state(
    batch: &mut [u8],
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
) -> Result<(), DecodeError> {
    if batch.len() < BATCH_HEADER_LEN {
        return Err(DecodeError::Truncated {
            needed: BATCH_HEADER_LEN,
            remaining: batch.len(),
        });
    }
    if batch[16] != 2 {
        return Err(DecodeError::Invalid(
            "producer state exists only in magic-2 batches",
        ));
    }
    batch[43..51].copy_from_slice(&producer_id.to_be_bytes());
    batch[51..53].copy_from_slice(&producer_epoch.to_be_bytes());
    batch[53..57].copy_from_slice(&base_sequence.to_be_bytes());
    write_crc(batch);
    Ok(())
}

/// A varint length (-1 for null) and the bytes.
fn varint_bytes(e: &mut Encoder<'_>, bytes: Option<&[u8]>) {
    match bytes {
        None => e.varint(-1),
        Some(bytes) => {
            // `append` checked that the whole record fits in an i32.
            e.varint(bytes.len() as i32);
            e.raw(bytes);
        }
    }
}

fn bytes_len(bytes: Option<&[u8]>) -> usize {
    match bytes {
        None => 1,
        Some(bytes) => varint_len(bytes.len() as i64).saturating_add(bytes.len()),
    }
}

/// Encoded size of a zig-zag varint holding `v` (which fits the 32-bit
/// varint when it fits an i32).
fn varint_len(v: i64) -> usize {
    varlong_len(v)
}

fn varlong_len(v: i64) -> usize {
    let zigzag = ((v << 1) ^ (v >> 63)) as u64;
    let bits = 64 - zigzag.leading_zeros() as usize;
    bits.max(1).div_ceil(7)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_lengths_match_the_encoder() {
        for v in [
            0i64,
            1,
            -1,
            63,
            64,
            -64,
            -65,
            8191,
            8192,
            i32::MAX as i64,
            i32::MIN as i64,
            i64::MAX,
            i64::MIN,
        ] {
            let mut buf = Vec::new();
            Encoder::new(&mut buf).varlong(v);
            assert_eq!(varlong_len(v), buf.len(), "{v}");
        }
    }

    #[test]
    fn size_after_predicts_size_in_bytes() {
        let mut builder = BatchBuilder::new(BatchOptions::default());
        let headers = [Header::new("h", Some(b"v")), Header::new("n", None)];
        for (i, value) in [&b""[..], &[7; 200], &[1; 70_000]].into_iter().enumerate() {
            let ts = 1_000 + i as i64 * 1_000_000;
            let expected = builder.size_after(ts, Some(b"k"), Some(value), &headers);
            builder
                .append(ts, Some(b"k"), Some(value), &headers)
                .unwrap();
            assert_eq!(builder.size_in_bytes(), expected);
        }
        let size = builder.size_in_bytes();
        assert_eq!(builder.build().unwrap().len(), size);
    }

    #[test]
    fn an_empty_batch_cannot_be_built() {
        assert!(BatchBuilder::new(BatchOptions::default()).build().is_err());
    }

    #[test]
    fn rewriting_producer_state_keeps_the_crc_valid() {
        let mut builder = BatchBuilder::new(BatchOptions::default());
        builder.append(5, None, Some(b"v"), &[]).unwrap();
        let mut batch = builder.build().unwrap();
        rewrite_producer_state(&mut batch, 77, 3, 1000).unwrap();
        let stored = u32::from_be_bytes(batch[17..21].try_into().unwrap());
        assert_eq!(stored, crc32c::crc32c(&batch[21..]));
        assert_eq!(i64::from_be_bytes(batch[43..51].try_into().unwrap()), 77);
        assert!(rewrite_producer_state(&mut batch[..60], 1, 1, 1).is_err());
    }

    fn check_crc(batch: &[u8]) {
        let stored = u32::from_be_bytes(batch[17..21].try_into().unwrap());
        assert_eq!(stored, crc32c::crc32c(&batch[21..]), "the stored CRC is the batch's");
    }

    #[test]
    fn a_batch_finished_with_its_producer_state_has_a_valid_crc_and_decodes() {
        use super::super::{decode_batches, DecodeOptions};
        for codec in [Compression::None, Compression::Gzip] {
            let mut builder =
                BatchBuilder::new(BatchOptions::default().with_compression(codec, None));
            for i in 0..50u8 {
                let headers = [("h", Some(&[i][..])), ("n", None)];
                builder
                    .append_with(1_000 + i64::from(i), Some(&[i]), Some(&[i; 300]), headers)
                    .unwrap();
            }
            let prepared = builder.prepare().unwrap();
            assert_eq!(prepared.record_count(), 50);
            assert_eq!(prepared.producer_state(), (-1, -1, -1));
            let batch = prepared.finish(42, 7, 1_000);
            check_crc(&batch);
            let decoded: Vec<_> = decode_batches(&batch, DecodeOptions::default())
                .collect::<Result<_, _>>()
                .unwrap();
            assert_eq!(decoded.len(), 1, "{codec:?}");
            let header = decoded[0].header();
            assert_eq!(header.producer_id, 42);
            assert_eq!(header.producer_epoch, 7);
            assert_eq!(header.base_sequence, 1_000);
            assert_eq!(header.last_offset_delta, 49);
            let records: Vec<_> = decoded[0]
                .records()
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert_eq!(records.len(), 50);
            assert_eq!(records[9].value, Some(&[9u8; 300][..]));
            assert_eq!(records[9].headers[0].value(), Some(&[9u8][..]));
            assert_eq!(records[9].headers[1].value(), None);
        }
    }

    #[test]
    fn build_and_finish_write_the_same_bytes_as_a_rewrite() {
        let fill = |builder: &mut BatchBuilder| {
            for i in 0..20 {
                builder.append(i, Some(b"k"), Some(&[1; 100]), &[]).unwrap();
            }
        };
        let mut a = BatchBuilder::new(BatchOptions::default());
        fill(&mut a);
        let mut rewritten = a.build().unwrap();
        rewrite_producer_state(&mut rewritten, 5, 1, 20).unwrap();
        let mut b = BatchBuilder::with_buffer(BatchOptions::default(), vec![9; 4096]);
        fill(&mut b);
        let finished = b.prepare().unwrap().finish(5, 1, 20);
        assert_eq!(finished, rewritten, "a reused buffer leaves nothing behind");
        let mut c = BatchBuilder::new(BatchOptions::default().with_producer_state(5, 1, 20));
        fill(&mut c);
        assert_eq!(c.build().unwrap(), rewritten);
    }
}
