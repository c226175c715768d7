//! Reading legacy message sets (magic 0 and 1), so that topics holding data
//! written before Kafka 0.11 can still be consumed. They are never written.
//!
//! A message set is a sequence of `offset (INT64), size (INT32), message`,
//! where a message is `crc (UINT32, CRC-32 of the rest), magic (INT8),
//! attributes (INT8), timestamp (INT64, magic 1 only), key (BYTES), value
//! (BYTES)`. A compressed message (a "wrapper") carries a whole inner message
//! set, compressed, as its value. In magic 1 the inner offsets are relative:
//! the wrapper holds the absolute offset of the last inner message (KIP-31).
//! In magic 0 they are absolute. Under log-append time every inner message
//! takes the wrapper's timestamp (KIP-32).
//!
//! # References
//! Kafka protocol guide, "Old Message Format"; KIP-31, KIP-32, KIP-57.

use std::ops::Range;

use super::batch::{BatchHeader, DecodeOptions, LOG_OVERHEAD};
use super::compression::{self, Compression};
use super::{Record, TimestampType};
use crate::protocol::{DecodeError, DecodeResult, Decoder};

/// Smallest message body (crc, magic, attributes, null key, null value),
/// excluding the offset and size fields.
const MIN_MESSAGE_V0: usize = 14;
/// Magic 1 adds the timestamp.
const MIN_MESSAGE_V1: usize = 22;

/// The records of one legacy "batch": a single uncompressed message, or the
/// inner messages of a compressed wrapper.
#[derive(Debug)]
pub(crate) enum LegacyBody<'a> {
    Single {
        offset: i64,
        timestamp: i64,
        key: Option<&'a [u8]>,
        value: Option<&'a [u8]>,
    },
    Wrapped {
        inner: Vec<u8>,
        entries: Vec<InnerEntry>,
    },
}

/// An inner message of a wrapper, with its fields resolved and its key and
/// value as ranges of the decompressed buffer.
#[derive(Debug)]
pub(crate) struct InnerEntry {
    offset: i64,
    timestamp: i64,
    key: Option<Range<usize>>,
    value: Option<Range<usize>>,
}

impl<'a> LegacyBody<'a> {
    pub(crate) fn records(&self) -> LegacyRecords<'_> {
        match self {
            LegacyBody::Single {
                offset,
                timestamp,
                key,
                value,
            } => LegacyRecords::Single(Some(Record {
                offset: *offset,
                timestamp: *timestamp,
                key: *key,
                value: *value,
                headers: Vec::new(),
            })),
            LegacyBody::Wrapped { inner, entries } => LegacyRecords::Wrapped {
                inner,
                entries: entries.iter(),
            },
        }
    }
}

/// Iterator over the records of a legacy batch; all validation happened when
/// the batch was decoded.
#[derive(Debug)]
pub(crate) enum LegacyRecords<'b> {
    Single(Option<Record<'b>>),
    Wrapped {
        inner: &'b [u8],
        entries: std::slice::Iter<'b, InnerEntry>,
    },
}

impl<'b> Iterator for LegacyRecords<'b> {
    type Item = DecodeResult<Record<'b>>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            LegacyRecords::Single(record) => record.take().map(Ok),
            LegacyRecords::Wrapped { inner, entries } => {
                let entry = entries.next()?;
                // The ranges were checked against this buffer when decoded.
                let slice = |range: &Option<Range<usize>>| range.clone().and_then(|r| inner.get(r));
                Some(Ok(Record {
                    offset: entry.offset,
                    timestamp: entry.timestamp,
                    key: slice(&entry.key),
                    value: slice(&entry.value),
                    headers: Vec::new(),
                }))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            LegacyRecords::Single(record) => {
                let n = usize::from(record.is_some());
                (n, Some(n))
            }
            LegacyRecords::Wrapped { entries, .. } => entries.size_hint(),
        }
    }
}

/// One message, as read from a message set entry; key and value are ranges
/// of the entry.
struct Message {
    offset: i64,
    crc: u32,
    magic: i8,
    attributes: i8,
    timestamp: i64,
    key: Option<Range<usize>>,
    value: Option<Range<usize>>,
    size: i32,
}

/// Reads the message-set entry filling all of `entry`.
fn read_message(entry: &[u8], check_crcs: bool) -> DecodeResult<Message> {
    let mut d = Decoder::new(entry);
    let offset = d.i64()?;
    let size = d.i32()?;
    let crc = d.u32()?;
    let magic = d.i8()?;
    let min = match magic {
        0 => MIN_MESSAGE_V0,
        1 => MIN_MESSAGE_V1,
        _ => {
            return Err(DecodeError::InvalidOwned(format!(
                "unknown message magic {magic}"
            )))
        }
    };
    if usize::try_from(size).map_or(true, |size| size < min) {
        return Err(DecodeError::Invalid(
            "message size below the minimum for its magic",
        ));
    }
    if check_crcs {
        // From the magic byte to the end.
        let computed = crc32fast::hash(&entry[LOG_OVERHEAD + 4..]);
        if computed != crc {
            return Err(DecodeError::CrcMismatch {
                stored: crc,
                computed,
            });
        }
    }
    let attributes = d.i8()?;
    let timestamp = if magic == 1 {
        d.i64()?
    } else {
        super::NO_TIMESTAMP
    };
    let key = bytes_range(&mut d)?;
    let value = bytes_range(&mut d)?;
    d.finish()?;
    Ok(Message {
        offset,
        crc,
        magic,
        attributes,
        timestamp,
        key,
        value,
        size,
    })
}

/// Reads nullable BYTES, returning where the bytes sit in the decoder's buffer.
fn bytes_range(d: &mut Decoder<'_>) -> DecodeResult<Option<Range<usize>>> {
    let before = d.position();
    Ok(d.nullable_bytes()?.map(|b| {
        let start = before + 4;
        start..start + b.len()
    }))
}

/// Decodes the legacy message that fills `bytes` (offset and size included).
pub(crate) fn decode_message(
    bytes: &[u8],
    options: DecodeOptions,
) -> DecodeResult<(BatchHeader, LegacyBody<'_>)> {
    let message = read_message(bytes, options.check_crcs)?;
    let mut header = BatchHeader::blank(message.magic, message.attributes)?;
    header.crc = message.crc;
    header.batch_length = message.size;
    header.max_timestamp = message.timestamp;
    if header.compression == Compression::None {
        header.base_offset = message.offset;
        header.base_timestamp = message.timestamp;
        header.record_count = 1;
        return Ok((
            header,
            LegacyBody::Single {
                offset: message.offset,
                timestamp: message.timestamp,
                key: message.key.and_then(|r| bytes.get(r)),
                value: message.value.and_then(|r| bytes.get(r)),
            },
        ));
    }
    if header.compression == Compression::Zstd {
        return Err(DecodeError::Invalid("zstd is not allowed before magic 2"));
    }
    let compressed = message
        .value
        .clone()
        .and_then(|r| bytes.get(r))
        .ok_or(DecodeError::Invalid("compressed message without a value"))?;
    let inner = compression::decompress(
        header.compression,
        compressed,
        options.max_decompressed_size,
        message.magic == 0,
    )?;
    let entries = read_inner(&inner, &message, header.timestamp_type, options.check_crcs)?;
    let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
        return Err(DecodeError::Invalid(
            "compressed message set without messages",
        ));
    };
    header.base_offset = first.offset;
    header.base_timestamp = first.timestamp;
    header.last_offset_delta = i32::try_from(last.offset.saturating_sub(first.offset))
        .map_err(|_| DecodeError::Invalid("inner offsets of a compressed message span too far"))?;
    header.record_count = i32::try_from(entries.len())
        .map_err(|_| DecodeError::Invalid("too many inner messages"))?;
    Ok((header, LegacyBody::Wrapped { inner, entries }))
}

/// Reads the inner messages of `wrapper`, resolving their offsets and
/// timestamps.
fn read_inner(
    inner: &[u8],
    wrapper: &Message,
    timestamp_type: TimestampType,
    check_crcs: bool,
) -> DecodeResult<Vec<InnerEntry>> {
    let mut entries = Vec::new();
    let mut rest = inner;
    while !rest.is_empty() {
        let mut d = Decoder::new(rest);
        d.skip(8)?;
        let size = d.i32()?;
        let size = usize::try_from(size).map_err(|_| DecodeError::NegativeLength(size))?;
        let len = LOG_OVERHEAD + size;
        let entry = rest.get(..len).ok_or(DecodeError::Truncated {
            needed: len,
            remaining: rest.len(),
        })?;
        let message = read_message(entry, check_crcs)?;
        if message.magic != wrapper.magic {
            return Err(DecodeError::Invalid(
                "inner message magic differs from its wrapper's",
            ));
        }
        if message.attributes & 0x07 != 0 {
            return Err(DecodeError::Invalid(
                "compressed message nested in a compressed message",
            ));
        }
        let start = inner.len() - rest.len();
        let range = |field: Option<Range<usize>>| field.map(|r| start + r.start..start + r.end);
        let timestamp = if timestamp_type == TimestampType::LogAppendTime {
            wrapper.timestamp
        } else {
            message.timestamp
        };
        entries.push(InnerEntry {
            offset: message.offset,
            timestamp,
            key: range(message.key),
            value: range(message.value),
        });
        rest = &rest[len..];
    }
    if wrapper.magic >= 1 {
        // Relative offsets: the wrapper holds the last inner message's offset.
        let last = entries.last().map_or(0, |e| e.offset);
        for entry in &mut entries {
            entry.offset = wrapper
                .offset
                .checked_sub(last)
                .and_then(|base| base.checked_add(entry.offset))
                .ok_or(DecodeError::Invalid("inner message offset overflows"))?;
        }
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::super::{decode_batches, DecodeOptions, RecordBatch};
    use super::*;

    /// A message-set entry, as Kafka 0.10 wrote them.
    fn message(
        offset: i64,
        magic: i8,
        attributes: i8,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
    ) -> Vec<u8> {
        let mut body = vec![magic as u8, attributes as u8];
        if magic == 1 {
            body.extend_from_slice(&1_000i64.to_be_bytes());
        }
        for field in [key, value] {
            match field {
                None => body.extend_from_slice(&(-1i32).to_be_bytes()),
                Some(f) => {
                    body.extend_from_slice(&(f.len() as i32).to_be_bytes());
                    body.extend_from_slice(f);
                }
            }
        }
        let mut entry = offset.to_be_bytes().to_vec();
        entry.extend_from_slice(&(body.len() as i32 + 4).to_be_bytes());
        entry.extend_from_slice(&crc32fast::hash(&body).to_be_bytes());
        entry.extend_from_slice(&body);
        entry
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        compression::compress(Compression::Gzip, None, data, &mut out).unwrap();
        out
    }

    fn decode(bytes: &[u8]) -> DecodeResult<Vec<(i64, i64)>> {
        let mut out = Vec::new();
        for batch in decode_batches(bytes, DecodeOptions::default()) {
            let batch: RecordBatch<'_> = batch?;
            for record in batch.records()? {
                let record = record?;
                out.push((record.offset, record.timestamp));
            }
        }
        Ok(out)
    }

    #[test]
    fn magic_1_inner_offsets_are_relative_to_the_wrapper() {
        let inner = [
            message(0, 1, 0, None, Some(b"a")),
            message(1, 1, 0, None, Some(b"b")),
        ]
        .concat();
        let wrapper = message(11, 1, 1, None, Some(&gzip(&inner)));
        assert_eq!(decode(&wrapper), Ok(vec![(10, 1_000), (11, 1_000)]));
    }

    #[test]
    fn magic_0_inner_offsets_are_absolute() {
        let inner = [
            message(5, 0, 0, None, Some(b"a")),
            message(6, 0, 0, None, Some(b"b")),
        ]
        .concat();
        let wrapper = message(6, 0, 1, None, Some(&gzip(&inner)));
        assert_eq!(decode(&wrapper), Ok(vec![(5, -1), (6, -1)]));
    }

    #[test]
    fn a_nested_compressed_message_is_an_error() {
        let innermost = message(0, 1, 0, None, Some(b"a"));
        let middle = message(0, 1, 1, None, Some(&gzip(&innermost)));
        let wrapper = message(0, 1, 1, None, Some(&gzip(&middle)));
        assert!(decode(&wrapper).is_err());
    }

    #[test]
    fn an_inner_magic_unlike_the_wrappers_is_an_error() {
        let inner = message(0, 0, 0, None, Some(b"a"));
        let wrapper = message(0, 1, 1, None, Some(&gzip(&inner)));
        assert!(decode(&wrapper).is_err());
    }

    #[test]
    fn a_corrupt_inner_message_fails_its_crc() {
        let mut inner = message(0, 1, 0, None, Some(b"abc"));
        let last = inner.len() - 1;
        inner[last] ^= 1;
        let wrapper = message(0, 1, 1, None, Some(&gzip(&inner)));
        assert!(matches!(
            decode(&wrapper),
            Err(DecodeError::CrcMismatch { .. })
        ));
    }

    #[test]
    fn a_corrupt_message_fails_its_crc() {
        let mut bytes = message(0, 0, 0, Some(b"k"), Some(b"v"));
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(matches!(
            decode(&bytes),
            Err(DecodeError::CrcMismatch { .. })
        ));
    }

    #[test]
    fn an_empty_or_valueless_wrapper_is_an_error() {
        assert!(decode(&message(0, 1, 1, None, Some(&gzip(b"")))).is_err());
        assert!(decode(&message(0, 1, 1, None, None)).is_err());
    }

    #[test]
    fn zstd_before_magic_2_is_an_error() {
        assert!(decode(&message(0, 1, 4, None, Some(b"x"))).is_err());
    }

    #[test]
    fn a_message_shorter_than_its_magic_allows_is_an_error() {
        let mut bytes = message(0, 1, 0, None, None);
        // Claim the magic-0 minimum size for a magic-1 message.
        bytes[8..12].copy_from_slice(&14i32.to_be_bytes());
        bytes.truncate(12 + 14);
        assert!(decode(&bytes).is_err());
    }

    #[test]
    fn uncompressed_messages_are_one_batch_each_with_null_and_empty_fields() {
        let bytes = [
            message(3, 1, 0, None, Some(b"")),
            message(4, 1, 0, Some(b""), None),
        ]
        .concat();
        let batches: Vec<_> = decode_batches(&bytes, DecodeOptions::default())
            .map(Result::unwrap)
            .collect();
        assert_eq!(batches.len(), 2);
        let r = batches[1].records().unwrap().next().unwrap().unwrap();
        assert_eq!((r.offset, r.key, r.value), (4, Some(&b""[..]), None));
    }
}
