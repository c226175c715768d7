//! Turns one partition's fetched record bytes into [`Message`]s: records
//! before the fetch offset are dropped (a fetch returns whole batches),
//! control batches are never delivered, and with read_committed the batches
//! of aborted transactions are dropped using the response's
//! `aborted_transactions`, as the Java consumer does.
//!
//! Pure: no I/O, no clocks; the fetcher thread calls it on each partition of
//! each Fetch response.
//!
//! Zero copy: a message points at the buffer its record lies in (the
//! response frame for uncompressed batches, the batch's decompressed buffer
//! for compressed ones) and says where its key, value and headers are in
//! it; magic-2 records are read by [`spans::SpanReader`], which allocates
//! nothing. Only legacy compressed message sets, whose inner messages are
//! decompressed per wrapper, are copied.
//!
//! # References
//! Kafka protocol guide, "Fetch API" and "Control Batches"; KIP-98
//! (transactions, the consumer side of read_committed).

use std::collections::HashSet;
use std::sync::Arc;

use bytes::Bytes;

use crate::protocol::api::{AbortedTransaction, IsolationLevel};
use crate::protocol::records::crc::FrameSums;
use crate::protocol::records::{
    decode_batches_summed, BatchHeader, ControlRecordType, DecodeOptions, Record, RecordBatch,
    TimestampType,
};
use crate::protocol::DecodeError;

use super::message::{Chunk, Message, RawRecord, Span};
use spans::SpanReader;

/// What one partition's bytes held.
#[derive(Debug, Default)]
pub(crate) struct Decoded {
    /// Deliverable messages, in offset order.
    pub messages: Vec<Message>,
    /// Their [`Message::queued_size`], summed.
    pub bytes: usize,
    /// Where the next fetch of the partition starts: after the last whole
    /// batch, delivered or skipped; the fetch offset when there was none.
    /// Decoding that stopped at the byte budget stops at a batch boundary,
    /// or after the batch left in `pending`.
    pub next_offset: i64,
    /// The rest of a batch whose records were decoded only up to the byte
    /// budget, to be handed out later (see [`PendingBatch`]).
    pub pending: Option<PendingBatch>,
    /// Data that does not decode, and the offset where it starts; the
    /// messages before it are good.
    pub error: Option<(i64, DecodeError)>,
    /// The bytes held only the start of one batch: the batch is larger than
    /// the fetch allowed.
    pub truncated_batch: bool,
}

/// The undecoded rest of a magic-2 batch (decompressed), kept when the byte
/// budget ran out inside it: one compressed batch can hold millions of tiny
/// records, far more `Message`s than the prefetch queue may hold, so they
/// are made a budget at a time, without decompressing the batch again.
#[derive(Debug)]
pub(crate) struct PendingBatch {
    /// The buffer the records lie in (the response, or the decompressed
    /// batch), which the messages made of it share.
    chunk: Arc<Chunk>,
    partition: i32,
    header: BatchHeader,
    /// Record data of the batch: `chunk.buf[pos..end]`.
    pos: usize,
    end: usize,
    /// Records in `chunk.buf[pos..end]`.
    left: i32,
    /// The offset after the last record made into a message: the
    /// partition's position while nothing of it is queued.
    pub next_offset: i64,
}

impl PendingBatch {
    /// Whether every record has been made into a message.
    pub fn is_done(&self) -> bool {
        self.left == 0 && self.pos == self.end
    }

    /// Makes messages of the next records until their sizes reach `budget`
    /// bytes (at least one record, when any is left); returns the messages,
    /// their total size, and the error of a record that could not be read.
    /// The messages made before such a record are returned with it, so they
    /// are handed out and `next_offset` (the bad record's place) is never
    /// past a record nobody received.
    pub fn decode(&mut self, budget: usize) -> (Vec<Message>, usize, Option<DecodeError>) {
        let mut messages = Vec::new();
        let mut bytes = 0;
        let chunk = Arc::clone(&self.chunk);
        let mut records =
            match SpanReader::new(&chunk.buf, self.pos, self.end, self.left, &self.header) {
                Ok(records) => records,
                Err(e) => return (messages, bytes, Some(e)),
            };
        while bytes < budget {
            let Some(record) = records.next() else {
                break;
            };
            let record = match record {
                Ok(record) => record,
                Err(e) => return (messages, bytes, Some(e)),
            };
            let message = Message::new(&chunk, self.partition, self.header.timestamp_type, &record);
            bytes += message.queued_size();
            self.next_offset = record.offset + 1;
            messages.push(message);
        }
        (self.pos, self.left) = records.remaining();
        (messages, bytes, None)
    }
}

/// Where `part` lies in `buf`, when it does (the records of a legacy
/// compressed wrapper live in a buffer of their own).
fn span_in(buf: &[u8], part: Option<&[u8]>) -> Option<Span> {
    let Some(part) = part else {
        return Some(Span::NULL);
    };
    let start = buf.as_ptr() as usize;
    let at = part.as_ptr() as usize;
    if at >= start
        && at + part.len() <= start + buf.len()
        && at + part.len() - start <= u32::MAX as usize
    {
        Some(Span::new((at - start) as u32, part.len() as u32))
    } else {
        None
    }
}

/// A legacy (magic 0 or 1) record as a message: a slice of `chunk` when
/// it lies in it, else a copy. Legacy records have no headers.
fn legacy_message(
    chunk: &Arc<Chunk>,
    partition: i32,
    timestamp_type: TimestampType,
    record: &Record<'_>,
) -> Message {
    match (
        span_in(&chunk.buf, record.key),
        span_in(&chunk.buf, record.value),
    ) {
        (Some(key), Some(value)) => {
            let raw = RawRecord {
                offset: record.offset,
                timestamp: record.timestamp,
                key,
                value,
                headers: Span::new(0, 0),
                header_count: 0,
            };
            Message::new(chunk, partition, timestamp_type, &raw)
        }
        _ => Message::copied(
            &chunk.topic,
            partition,
            record.offset,
            record.key,
            record.value,
            &[],
            record.timestamp,
            timestamp_type,
        ),
    }
}

/// What the partition is read as.
pub(crate) struct PartitionRead<'a> {
    pub topic: &'a Arc<str>,
    pub partition: i32,
    pub fetch_offset: i64,
    pub isolation_level: IsolationLevel,
    pub options: DecodeOptions,
    /// The block sums of the frame the bytes are in, if the connection took
    /// any (`FrameSums::NONE` otherwise): CRC checks fold them in.
    pub sums: FrameSums<'a>,
}

impl PartitionRead<'_> {
    /// Decodes `bytes`, the partition's `records` field, with the response's
    /// aborted transactions, making messages until their sizes reach
    /// `budget` bytes (at least one, when `budget` is not zero). What is
    /// left of a batch the budget ran out in comes back as
    /// [`Decoded::pending`]; later batches are left for the next fetch.
    pub fn decode(&self, bytes: &Bytes, aborted: &[AbortedTransaction], budget: usize) -> Decoded {
        let mut out = Decoded {
            next_offset: self.fetch_offset,
            ..Decoded::default()
        };
        let mut aborts = Aborts::new(aborted);
        let mut batches = decode_batches_summed(bytes, self.options, self.sums);
        let chunk = Arc::new(Chunk {
            buf: bytes.clone(),
            topic: Arc::clone(self.topic),
        });
        let mut whole_batches = 0usize;
        let mut stopped = false;
        loop {
            if out.bytes >= budget {
                stopped = true;
                break;
            }
            let Some(batch) = batches.next() else {
                break;
            };
            let batch = match batch {
                Ok(batch) => batch,
                Err(e) => {
                    out.error = Some((out.next_offset, e));
                    return out;
                }
            };
            whole_batches += 1;
            if let Err(e) = self.take_batch(bytes, &chunk, &batch, &mut aborts, &mut out, budget) {
                out.error = Some((out.next_offset.max(batch.base_offset()), e));
                return out;
            }
            out.next_offset = out.next_offset.max(batch.next_offset());
            if out.pending.is_some() {
                stopped = true;
                break;
            }
        }
        out.truncated_batch = !stopped && whole_batches == 0 && !batches.remainder().is_empty();
        out
    }

    /// Appends `batch`'s deliverable records to `out.messages`, until their
    /// sizes reach `budget`; the rest of a magic-2 batch then goes to
    /// `out.pending` (legacy messages are small wrappers and always taken
    /// whole).
    fn take_batch(
        &self,
        bytes: &Bytes,
        chunk: &Arc<Chunk>,
        batch: &RecordBatch<'_>,
        aborts: &mut Aborts,
        out: &mut Decoded,
        budget: usize,
    ) -> Result<(), DecodeError> {
        let header = batch.header();
        if self.isolation_level == IsolationLevel::ReadCommitted && header.producer_id >= 0 {
            aborts.start_up_to(batch.last_offset());
            if batch.is_control() {
                if batch.control_type()? == Some(ControlRecordType::Abort) {
                    aborts.end(header.producer_id);
                }
            } else if batch.is_transactional() && aborts.is_aborted(header.producer_id) {
                return Ok(());
            }
        }
        if batch.is_control() || batch.next_offset() <= self.fetch_offset {
            return Ok(());
        }
        let timestamp_type = header.timestamp_type;
        // The buffer the records are read from, shared by their messages.
        let (chunk, pos, end) = match batch.take_decompressed()? {
            Some(data) => {
                let end = data.len();
                let chunk = Arc::new(Chunk {
                    buf: Bytes::from(data),
                    topic: Arc::clone(self.topic),
                });
                (chunk, 0, end)
            }
            None => {
                let chunk = Arc::clone(chunk);
                match batch.wire_records() {
                    Some(wire) => {
                        // `wire` is a slice of `bytes`, which `decode_batches` read.
                        let pos = (wire.as_ptr() as usize).wrapping_sub(bytes.as_ptr() as usize);
                        if pos > bytes.len() || wire.len() > bytes.len() - pos {
                            return Err(DecodeError::Invalid("batch records outside the fetch"));
                        }
                        (chunk, pos, pos + wire.len())
                    }
                    None => {
                        // Legacy messages: small wrappers, taken whole.
                        for record in batch.records()? {
                            let record = record?;
                            if record.offset < self.fetch_offset {
                                continue;
                            }
                            let message =
                                legacy_message(&chunk, self.partition, timestamp_type, &record);
                            out.bytes += message.queued_size();
                            out.messages.push(message);
                        }
                        return Ok(());
                    }
                }
            }
        };
        let mut records = SpanReader::new(&chunk.buf, pos, end, header.record_count, header)?;
        // Every record takes at least 7 bytes: a lying count reserves no more.
        let count = usize::try_from(header.record_count).unwrap_or(0);
        out.messages.reserve(count.min((end - pos) / 7 + 1));
        loop {
            if out.bytes >= budget {
                let (pos, left) = records.remaining();
                if left > 0 || pos != end {
                    out.pending = Some(PendingBatch {
                        chunk: Arc::clone(&chunk),
                        partition: self.partition,
                        header: *header,
                        pos,
                        end,
                        left,
                        next_offset: out
                            .messages
                            .last()
                            .map_or(self.fetch_offset, |m| m.offset() + 1),
                    });
                    return Ok(());
                }
            }
            let Some(record) = records.next() else {
                return Ok(());
            };
            let record = record?;
            if record.offset < self.fetch_offset {
                continue;
            }
            let message = Message::new(&chunk, self.partition, timestamp_type, &record);
            out.bytes += message.queued_size();
            out.messages.push(message);
        }
    }
}

/// The aborted transactions of a fetch, opened as their first offset is
/// reached and closed by their abort marker.
struct Aborts {
    /// Not yet reached, sorted by first offset, latest first (popped from the end).
    pending: Vec<AbortedTransaction>,
    open: HashSet<i64>,
}

impl Aborts {
    fn new(aborted: &[AbortedTransaction]) -> Self {
        let mut pending = aborted.to_vec();
        pending.sort_unstable_by_key(|t| std::cmp::Reverse(t.first_offset));
        Aborts {
            pending,
            open: HashSet::new(),
        }
    }

    fn start_up_to(&mut self, offset: i64) {
        while self
            .pending
            .last()
            .is_some_and(|t| t.first_offset <= offset)
        {
            if let Some(t) = self.pending.pop() {
                self.open.insert(t.producer_id);
            }
        }
    }

    fn end(&mut self, producer_id: i64) {
        self.open.remove(&producer_id);
    }

    fn is_aborted(&self, producer_id: i64) -> bool {
        self.open.contains(&producer_id)
    }
}

mod spans;
#[cfg(test)]
mod tests;
