//! Reading record batches: splitting a Fetch response's `records` bytes into
//! batches, checking their CRCs, and iterating their records.
//!
//! Every batch starts with the same twelve bytes whatever its magic: the base
//! offset (INT64) and the length of the rest (INT32). The magic byte sits at
//! offset 16 in both layouts, so [`Batches`] reads it there and hands magic 0
//! and 1 to the legacy module.
//!
//! # References
//! Kafka protocol guide, "Record Batch" and "Record"; KIP-98.

use std::cell::OnceCell;

use super::compression::{self, Compression};
use super::control::ControlRecordType;
use super::crc::FrameSums;
use super::legacy::{self, LegacyBody};
use super::{Header, Record, TimestampType, BATCH_HEADER_LEN};
use crate::protocol::{DecodeError, DecodeResult, Decoder};

/// Base offset and length: the part of every batch that precedes its body.
pub(crate) const LOG_OVERHEAD: usize = 12;
/// Offset of the magic byte, in every format.
const MAGIC_OFFSET: usize = 16;
/// First byte covered by the CRC-32C (the attributes).
const CRC_START: usize = 21;

const COMPRESSION_MASK: i16 = 0x07;
const TIMESTAMP_TYPE_BIT: i16 = 0x08;
const TRANSACTIONAL_BIT: i16 = 0x10;
const CONTROL_BIT: i16 = 0x20;
const DELETE_HORIZON_BIT: i16 = 0x40;

/// How batches are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DecodeOptions {
    /// Verify every CRC (CRC-32C of magic-2 batches, CRC-32 of legacy
    /// messages). Defaults to `true`, like the Java consumer's `check.crcs`.
    pub check_crcs: bool,
    /// Largest decompressed size of one batch, in bytes; a batch that
    /// inflates past it is an error, not an allocation. Defaults to 64 MiB.
    pub max_decompressed_size: usize,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            check_crcs: true,
            max_decompressed_size: 64 * 1024 * 1024,
        }
    }
}

impl DecodeOptions {
    /// Sets [`DecodeOptions::check_crcs`].
    pub fn with_check_crcs(mut self, check: bool) -> Self {
        self.check_crcs = check;
        self
    }

    /// Sets [`DecodeOptions::max_decompressed_size`].
    pub fn with_max_decompressed_size(mut self, bytes: usize) -> Self {
        self.max_decompressed_size = bytes;
        self
    }
}

/// The header of a batch, in Kafka's field names.
///
/// Legacy messages (magic 0 and 1) get a header too: `base_offset` and
/// `last_offset_delta` span the messages of a compressed wrapper, the
/// producer fields hold their "none" values (-1), and `max_timestamp` is the
/// wrapper's timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchHeader {
    /// Offset of the first record (as written; compaction may have removed it).
    pub base_offset: i64,
    /// Bytes after the length field.
    pub batch_length: i32,
    /// Leader epoch of the broker that appended the batch (-1 if none).
    pub partition_leader_epoch: i32,
    /// Format version: 2, or 0 and 1 for legacy messages.
    pub magic: i8,
    /// The stored CRC (CRC-32C for magic 2, CRC-32 of the wrapper for legacy).
    pub crc: u32,
    /// The raw attributes; see the decoded fields below.
    pub attributes: i16,
    /// The batch's codec.
    pub compression: Compression,
    /// What the timestamps mean.
    pub timestamp_type: TimestampType,
    /// Part of a transaction (KIP-98).
    pub is_transactional: bool,
    /// Holds control records (transaction markers), not data.
    pub is_control: bool,
    /// `base_timestamp` is a delete horizon set by compaction (KIP-534).
    pub has_delete_horizon: bool,
    /// `last offset - base_offset`; survives compaction of the last records.
    pub last_offset_delta: i32,
    /// Timestamp of the first record (`baseTimestamp`, once `firstTimestamp`).
    pub base_timestamp: i64,
    /// Largest timestamp in the batch (the log-append time under
    /// [`TimestampType::LogAppendTime`]).
    pub max_timestamp: i64,
    /// Idempotent or transactional producer id, -1 if none.
    pub producer_id: i64,
    /// Producer epoch, -1 if none.
    pub producer_epoch: i16,
    /// Sequence number of the first record, -1 if none.
    pub base_sequence: i32,
    /// Number of records in the batch.
    pub record_count: i32,
}

impl BatchHeader {
    /// Offset of the last record the batch was written with.
    pub fn last_offset(&self) -> i64 {
        self.base_offset
            .saturating_add(i64::from(self.last_offset_delta))
    }

    /// The offset to fetch from after this batch: `last_offset() + 1`.
    pub fn next_offset(&self) -> i64 {
        self.last_offset().saturating_add(1)
    }

    /// Decodes the attributes bits into the header's decoded fields.
    fn set_attributes(&mut self, attributes: i16) -> DecodeResult<()> {
        self.attributes = attributes;
        self.compression = codec(attributes)?;
        self.timestamp_type = if attributes & TIMESTAMP_TYPE_BIT != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        };
        self.is_transactional = attributes & TRANSACTIONAL_BIT != 0;
        self.is_control = attributes & CONTROL_BIT != 0;
        self.has_delete_horizon = attributes & DELETE_HORIZON_BIT != 0;
        Ok(())
    }

    /// A header holding the "none" values (-1) and the given magic and
    /// attributes, for a decoder to fill in.
    pub(crate) fn blank(magic: i8, attributes: i8) -> DecodeResult<Self> {
        let mut header = BatchHeader {
            base_offset: 0,
            batch_length: 0,
            partition_leader_epoch: super::NO_PARTITION_LEADER_EPOCH,
            magic,
            crc: 0,
            attributes: 0,
            compression: Compression::None,
            timestamp_type: TimestampType::NoTimestamp,
            is_transactional: false,
            is_control: false,
            has_delete_horizon: false,
            last_offset_delta: 0,
            base_timestamp: super::NO_TIMESTAMP,
            max_timestamp: super::NO_TIMESTAMP,
            producer_id: super::NO_PRODUCER_ID,
            producer_epoch: super::NO_PRODUCER_EPOCH,
            base_sequence: super::NO_SEQUENCE,
            record_count: 0,
        };
        // Only the codec and timestamp type bits exist before magic 2.
        let attributes = i16::from(attributes) & (COMPRESSION_MASK | TIMESTAMP_TYPE_BIT);
        header.set_attributes(attributes)?;
        if magic == 0 {
            header.timestamp_type = TimestampType::NoTimestamp;
        }
        Ok(header)
    }
}

/// The codec named by attributes bits 0-2.
pub(crate) fn codec(attributes: i16) -> DecodeResult<Compression> {
    let id = (attributes & COMPRESSION_MASK) as u8;
    Compression::from_id(id).ok_or(DecodeError::Invalid(
        "unknown compression codec id in batch attributes",
    ))
}

/// One batch of a Fetch response (or a Produce request): its header and its
/// records, decompressed on first access.
#[derive(Debug)]
pub struct RecordBatch<'a> {
    header: BatchHeader,
    body: Body<'a>,
}

#[derive(Debug)]
enum Body<'a> {
    /// Magic 2: the records section as on the wire.
    V2 {
        wire: &'a [u8],
        inflated: OnceCell<Vec<u8>>,
        limit: usize,
    },
    Legacy(LegacyBody<'a>),
}

impl<'a> RecordBatch<'a> {
    /// The batch header.
    pub fn header(&self) -> &BatchHeader {
        &self.header
    }

    /// Offset of the first record the batch was written with.
    pub fn base_offset(&self) -> i64 {
        self.header.base_offset
    }

    /// Offset of the last record the batch was written with.
    pub fn last_offset(&self) -> i64 {
        self.header.last_offset()
    }

    /// The offset to fetch from after this batch.
    pub fn next_offset(&self) -> i64 {
        self.header.next_offset()
    }

    /// Whether the batch holds control records (transaction markers) rather
    /// than data; consumers skip its records.
    pub fn is_control(&self) -> bool {
        self.header.is_control
    }

    /// Whether the batch belongs to a transaction.
    pub fn is_transactional(&self) -> bool {
        self.header.is_transactional
    }

    /// The batch's codec.
    pub fn compression(&self) -> Compression {
        self.header.compression
    }

    /// For a control batch, the type of its (first) control record: commit
    /// or abort of the transaction of `header().producer_id`. `None` for data
    /// batches and for control batches left empty by compaction.
    pub fn control_type(&self) -> DecodeResult<Option<ControlRecordType>> {
        if !self.is_control() {
            return Ok(None);
        }
        match self.records()?.next() {
            None => Ok(None),
            Some(record) => {
                let key = record?
                    .key
                    .ok_or(DecodeError::Invalid("control record without a key"))?;
                ControlRecordType::from_key(key).map(Some)
            }
        }
    }

    /// The records, in offset order. A compressed batch is decompressed on
    /// the first call (errors, such as exceeding the decompression limit,
    /// surface here); later calls reuse the result.
    pub fn records(&self) -> DecodeResult<Records<'_>> {
        match &self.body {
            Body::V2 {
                wire,
                inflated,
                limit,
            } => {
                let data: &[u8] = match self.header.compression {
                    Compression::None => wire,
                    codec => match inflated.get() {
                        Some(data) => data,
                        None => {
                            let data = compression::decompress(codec, wire, *limit, false)?;
                            inflated.get_or_init(|| data)
                        }
                    },
                };
                let log_append_time = (self.header.timestamp_type == TimestampType::LogAppendTime)
                    .then_some(self.header.max_timestamp);
                Ok(Records(RecordsInner::V2 {
                    data,
                    left: self.header.record_count,
                    base_offset: self.header.base_offset,
                    base_timestamp: self.header.base_timestamp,
                    log_append_time,
                }))
            }
            Body::Legacy(body) => Ok(Records(RecordsInner::Legacy(body.records()))),
        }
    }

    /// For a compressed magic-2 batch, its record data decompressed into a
    /// buffer the caller keeps (consumers hand out slices of it); `None` for
    /// uncompressed and legacy batches, whose [`RecordBatch::records`]
    /// borrow from the input.
    pub(crate) fn take_decompressed(&self) -> DecodeResult<Option<Vec<u8>>> {
        match &self.body {
            Body::V2 {
                wire,
                inflated,
                limit,
            } if self.header.compression != Compression::None => match inflated.get() {
                Some(data) => Ok(Some(data.clone())),
                None => compression::decompress(self.header.compression, wire, *limit, false)
                    .map(Some),
            },
            _ => Ok(None),
        }
    }

    /// For an uncompressed magic-2 batch, its record data as on the wire
    /// (a slice of the input); `None` for compressed and legacy batches.
    pub(crate) fn wire_records(&self) -> Option<&'a [u8]> {
        match &self.body {
            Body::V2 { wire, .. } if self.header.compression == Compression::None => Some(wire),
            _ => None,
        }
    }

    /// Like [`RecordBatch::records`], skipping records before `offset`: the
    /// records a consumer must drop when its fetch offset falls inside a batch.
    pub fn records_from(
        &self,
        offset: i64,
    ) -> DecodeResult<impl Iterator<Item = DecodeResult<Record<'_>>>> {
        Ok(self
            .records()?
            .filter(move |record| record.as_ref().map_or(true, |r| r.offset >= offset)))
    }
}

/// Iterator over a batch's records; see [`RecordBatch::records`].
///
/// Yields an error, then stops, at the first malformed record, or when the
/// record data does not end with the batch's last record.
#[derive(Debug)]
pub struct Records<'b>(RecordsInner<'b>);

#[derive(Debug)]
enum RecordsInner<'b> {
    V2 {
        data: &'b [u8],
        left: i32,
        base_offset: i64,
        base_timestamp: i64,
        log_append_time: Option<i64>,
    },
    Legacy(legacy::LegacyRecords<'b>),
    Done,
}

impl<'b> Iterator for Records<'b> {
    type Item = DecodeResult<Record<'b>>;

    fn next(&mut self) -> Option<Self::Item> {
        let result = match &mut self.0 {
            RecordsInner::Done => return None,
            RecordsInner::Legacy(records) => return records.next(),
            RecordsInner::V2 {
                data,
                left,
                base_offset,
                base_timestamp,
                log_append_time,
            } => {
                if *left == 0 {
                    if data.is_empty() {
                        self.0 = RecordsInner::Done;
                        return None;
                    }
                    Err(DecodeError::Invalid(
                        "bytes left after the batch's last record",
                    ))
                } else {
                    *left -= 1;
                    let mut d = Decoder::new(data);
                    let record =
                        read_record(&mut d, *base_offset, *base_timestamp, *log_append_time);
                    *data = d.rest();
                    record
                }
            }
        };
        if result.is_err() {
            self.0 = RecordsInner::Done;
        }
        Some(result)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.0 {
            RecordsInner::Done => (0, Some(0)),
            RecordsInner::Legacy(records) => records.size_hint(),
            // Every record takes at least 7 bytes; a lying count ends in an error.
            RecordsInner::V2 { data, left, .. } => {
                (0, Some((*left as usize).min(data.len() / 7) + 1))
            }
        }
    }
}

/// Reads one magic-2 record: its varint length, then the body, which must be
/// used up exactly.
fn read_record<'b>(
    d: &mut Decoder<'b>,
    base_offset: i64,
    base_timestamp: i64,
    log_append_time: Option<i64>,
) -> DecodeResult<Record<'b>> {
    let len = d.varint()?;
    let len = usize::try_from(len).map_err(|_| DecodeError::NegativeLength(len))?;
    let mut r = Decoder::new(d.take(len)?);
    let _attributes = r.i8()?; // unused by every Kafka version so far
    let timestamp_delta = r.varlong()?;
    let offset_delta = r.varint()?;
    let key = varint_bytes(&mut r)?;
    let value = varint_bytes(&mut r)?;
    let header_count = r.varint()?;
    let header_count =
        usize::try_from(header_count).map_err(|_| DecodeError::NegativeLength(header_count))?;
    // Each header takes at least two bytes, so the remaining length bounds
    // the allocation whatever the count claims.
    let mut headers = Vec::with_capacity(header_count.min(r.remaining() / 2));
    for _ in 0..header_count {
        let key = varint_bytes(&mut r)?.ok_or(DecodeError::UnexpectedNull)?;
        let value = varint_bytes(&mut r)?;
        headers.push(Header {
            key: String::from_utf8_lossy(key),
            value: value.map(Into::into),
        });
    }
    r.finish()?;
    let offset = base_offset
        .checked_add(i64::from(offset_delta))
        .ok_or(DecodeError::Invalid("record offset overflows"))?;
    // Deltas are written with wrapping arithmetic, as in Java.
    let timestamp = log_append_time.unwrap_or(base_timestamp.wrapping_add(timestamp_delta));
    Ok(Record {
        offset,
        timestamp,
        key,
        value,
        headers,
    })
}

/// A varint length (-1 for null) and that many bytes.
fn varint_bytes<'b>(d: &mut Decoder<'b>) -> DecodeResult<Option<&'b [u8]>> {
    match d.varint()? {
        -1 => Ok(None),
        len => {
            let len = usize::try_from(len).map_err(|_| DecodeError::NegativeLength(len))?;
            d.take(len).map(Some)
        }
    }
}

/// Splits `bytes` (a Fetch response partition's `records` field, or a Produce
/// request's) into batches. See [`Batches`].
pub fn decode_batches(bytes: &[u8], options: DecodeOptions) -> Batches<'_> {
    decode_batches_summed(bytes, options, FrameSums::NONE)
}

/// Like [`decode_batches`], for `bytes` inside a frame whose block sums the
/// connection took as it read it: checking a batch's CRC folds in the sums
/// of the blocks it covers (see [`super::crc`]).
pub(crate) fn decode_batches_summed<'a>(
    bytes: &'a [u8],
    options: DecodeOptions,
    sums: FrameSums<'a>,
) -> Batches<'a> {
    Batches {
        rest: bytes,
        options,
        sums,
        failed: false,
    }
}

/// Iterator over the batches in a record set; made by [`decode_batches`].
///
/// Stops without an error at a batch cut short by the end of the bytes:
/// brokers fill a fetch up to its size limit and the last batch is often
/// partial. After a malformed batch it yields the error, then stops.
#[derive(Debug, Clone)]
pub struct Batches<'a> {
    rest: &'a [u8],
    options: DecodeOptions,
    sums: FrameSums<'a>,
    failed: bool,
}

impl<'a> Batches<'a> {
    /// The bytes not yet decoded. Once the iterator has ended without an
    /// error, a non-empty remainder is a partial batch: if no batch at all was
    /// complete, the fetch size is smaller than the batch and must grow.
    pub fn remainder(&self) -> &'a [u8] {
        self.rest
    }

    /// Whether the iterator ended on (or will end at) a partial batch.
    pub fn ends_with_partial_batch(&self) -> bool {
        !self.failed && !self.rest.is_empty() && complete_batch_len(self.rest).is_none()
    }
}

/// The length of the batch at the start of `bytes`, if it is all there.
/// Malformed lengths count as "all there" so that decoding reports them.
fn complete_batch_len(bytes: &[u8]) -> Option<usize> {
    let length = bytes.get(8..LOG_OVERHEAD)?;
    let length = i32::from_be_bytes([length[0], length[1], length[2], length[3]]);
    match usize::try_from(length) {
        Ok(length) if LOG_OVERHEAD + length > bytes.len() => None,
        Ok(length) => Some(LOG_OVERHEAD + length),
        Err(_) => Some(bytes.len()),
    }
}

impl<'a> Iterator for Batches<'a> {
    type Item = DecodeResult<RecordBatch<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        let len = complete_batch_len(self.rest)?;
        let result = decode_one(self.rest, self.options, &self.sums);
        match result {
            Ok(_) => self.rest = &self.rest[len..],
            Err(_) => self.failed = true,
        }
        Some(result)
    }
}

/// Decodes the complete batch at the start of `bytes`.
fn decode_one<'b>(
    bytes: &'b [u8],
    options: DecodeOptions,
    sums: &FrameSums<'_>,
) -> DecodeResult<RecordBatch<'b>> {
    let mut d = Decoder::new(bytes);
    d.skip(8)?; // base offset, read again by each format's decoder
    let batch_length = d.i32()?;
    let len =
        usize::try_from(batch_length).map_err(|_| DecodeError::NegativeLength(batch_length))?;
    let batch = d.take(len)?;
    let bytes = &bytes[..LOG_OVERHEAD + len];
    let magic = *batch
        .get(MAGIC_OFFSET - LOG_OVERHEAD)
        .ok_or(DecodeError::Invalid("batch too short for its magic byte"))?;
    match magic {
        2 => decode_v2(bytes, options, sums),
        0 | 1 => {
            let (header, body) = legacy::decode_message(bytes, options)?;
            Ok(RecordBatch {
                header,
                body: Body::Legacy(body),
            })
        }
        _ => Err(DecodeError::InvalidOwned(format!(
            "unknown record batch magic {magic}"
        ))),
    }
}

/// Whether `bytes` is a control batch (a transaction marker) whose CRC field
/// is zero: librdkafka's mock cluster writes its markers without computing
/// the CRC. Kafka always sums them, so a zero is taken as "not summed" for
/// control batches only (whose content is still checked when decoded);
/// a data batch with a zero CRC is still a mismatch.
fn unsummed_control_batch(bytes: &[u8], stored: u32) -> bool {
    let attributes = bytes
        .get(CRC_START..CRC_START + 2)
        .map_or(0, |a| i16::from_be_bytes([a[0], a[1]]));
    stored == 0 && attributes & CONTROL_BIT != 0
}

/// Decodes a complete magic-2 batch (`bytes` is exactly the batch).
fn decode_v2<'b>(
    bytes: &'b [u8],
    options: DecodeOptions,
    sums: &FrameSums<'_>,
) -> DecodeResult<RecordBatch<'b>> {
    if bytes.len() < BATCH_HEADER_LEN {
        return Err(DecodeError::Invalid(
            "record batch shorter than the 61-byte magic-2 header",
        ));
    }
    let mut d = Decoder::new(bytes);
    let mut header = BatchHeader::blank(2, 0)?;
    header.base_offset = d.i64()?;
    header.batch_length = d.i32()?;
    header.partition_leader_epoch = d.i32()?;
    header.magic = d.i8()?;
    header.crc = d.u32()?;
    if options.check_crcs {
        let computed = sums.crc32c(&bytes[CRC_START..]);
        if computed != header.crc && !unsummed_control_batch(bytes, header.crc) {
            return Err(DecodeError::CrcMismatch {
                stored: header.crc,
                computed,
            });
        }
    }
    header.set_attributes(d.i16()?)?;
    header.last_offset_delta = d.i32()?;
    header.base_timestamp = d.i64()?;
    header.max_timestamp = d.i64()?;
    header.producer_id = d.i64()?;
    header.producer_epoch = d.i16()?;
    header.base_sequence = d.i32()?;
    header.record_count = d.i32()?;
    if header.record_count < 0 {
        return Err(DecodeError::Invalid("negative record count"));
    }
    Ok(RecordBatch {
        header,
        body: Body::V2 {
            wire: d.rest(),
            inflated: OnceCell::new(),
            limit: options.max_decompressed_size,
        },
    })
}
