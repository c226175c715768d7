//! Turns one partition's fetched record bytes into [`Message`]s: records
//! before the fetch offset are dropped (a fetch returns whole batches),
//! control batches are never delivered, and with read_committed the batches
//! of aborted transactions are dropped using the response's
//! `aborted_transactions`, as the Java consumer does.
//!
//! Pure: no I/O, no clocks; the fetcher thread calls it on each partition of
//! each Fetch response.
//!
//! Zero copy: messages' keys, values and header values are [`Bytes`] slices
//! of the response frame (uncompressed batches) or of the batch's
//! decompressed buffer (compressed ones), never copies; only legacy
//! compressed message sets, whose inner messages are decompressed per
//! wrapper, are copied.
//!
//! # References
//! Kafka protocol guide, "Fetch API" and "Control Batches"; KIP-98
//! (transactions, the consumer side of read_committed).

use std::collections::HashSet;
use std::sync::Arc;

use bytes::Bytes;

use crate::protocol::api::{AbortedTransaction, IsolationLevel};
use crate::protocol::records::{
    decode_batches, BatchHeader, ControlRecordType, DecodeOptions, Record, RecordBatch, Records,
    TimestampType,
};
use crate::protocol::DecodeError;

use super::message::{Message, MessageHeader};

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
    topic: Arc<str>,
    partition: i32,
    header: BatchHeader,
    /// Record data of the batch, read up to `pos`: a slice of the response
    /// or of the decompressed batch, which the messages made of it share.
    data: Bytes,
    pos: usize,
    /// Records in `data[pos..]`.
    left: i32,
    /// The offset after the last record made into a message: the
    /// partition's position while nothing of it is queued.
    pub next_offset: i64,
}

impl PendingBatch {
    /// Whether every record has been made into a message.
    pub fn is_done(&self) -> bool {
        self.left == 0 && self.pos == self.data.len()
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
        let mut records = Records::resume(&self.data[self.pos..], self.left, &self.header);
        while bytes < budget {
            let Some(record) = records.next() else {
                break;
            };
            let record = match record {
                Ok(record) => record,
                Err(e) => return (messages, bytes, Some(e)),
            };
            let message = to_message(
                &self.data,
                &self.topic,
                self.partition,
                self.header.timestamp_type,
                record,
            );
            bytes += message.queued_size();
            self.next_offset = message.offset + 1;
            messages.push(message);
        }
        let (rest, left) = records.remaining().unwrap_or((&[], 0));
        self.pos = self.data.len() - rest.len();
        self.left = left;
        (messages, bytes, None)
    }
}

/// `part` as a slice of `buf` when it lies inside it (no copy), else a copy
/// (the records of a legacy compressed wrapper live in a buffer of their own).
fn share(buf: &Bytes, part: &[u8]) -> Bytes {
    let start = buf.as_ptr() as usize;
    let at = part.as_ptr() as usize;
    if at >= start && at + part.len() <= start + buf.len() {
        buf.slice(at - start..at - start + part.len())
    } else {
        Bytes::copy_from_slice(part)
    }
}

/// A record as a message: its key, value and header values are slices of
/// `buf`, the buffer the record was read from.
fn to_message(
    buf: &Bytes,
    topic: &Arc<str>,
    partition: i32,
    timestamp_type: TimestampType,
    record: Record<'_>,
) -> Message {
    let headers = record
        .headers
        .into_iter()
        .map(|h| MessageHeader {
            key: h.key.into_owned(),
            value: h.value.map(|v| share(buf, &v)),
        })
        .collect();
    Message {
        topic: Arc::clone(topic),
        partition,
        offset: record.offset,
        key: record.key.map(|k| share(buf, k)),
        value: record.value.map(|v| share(buf, v)),
        headers,
        timestamp: record.timestamp,
        timestamp_type,
        delivery_count: None,
    }
}

/// What the partition is read as.
pub(crate) struct PartitionRead<'a> {
    pub topic: &'a Arc<str>,
    pub partition: i32,
    pub fetch_offset: i64,
    pub isolation_level: IsolationLevel,
    pub options: DecodeOptions,
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
        let mut batches = decode_batches(bytes, self.options);
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
            if let Err(e) = self.take_batch(bytes, &batch, &mut aborts, &mut out, budget) {
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
        let inflated = batch.take_decompressed()?.map(Bytes::from);
        let (buf, mut records) = match &inflated {
            Some(data) => (data, Records::resume(data, header.record_count, header)),
            None => (bytes, batch.records()?),
        };
        loop {
            if out.bytes >= budget {
                if let Some((rest, left)) = records.remaining() {
                    if left > 0 || !rest.is_empty() {
                        out.pending = Some(PendingBatch {
                            topic: Arc::clone(self.topic),
                            partition: self.partition,
                            header: *header,
                            data: share(buf, rest),
                            pos: 0,
                            left,
                            next_offset: out
                                .messages
                                .last()
                                .map_or(self.fetch_offset, |m| m.offset + 1),
                        });
                        return Ok(());
                    }
                }
            }
            let Some(record) = records.next() else {
                return Ok(());
            };
            let record = record?;
            if record.offset < self.fetch_offset {
                continue;
            }
            let message = to_message(buf, self.topic, self.partition, timestamp_type, record);
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

#[cfg(test)]
mod tests;
