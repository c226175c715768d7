//! Turns one partition's fetched record bytes into [`Message`]s: records
//! before the fetch offset are dropped (a fetch returns whole batches),
//! control batches are never delivered, and with read_committed the batches
//! of aborted transactions are dropped using the response's
//! `aborted_transactions`, as the Java consumer does.
//!
//! Pure: no I/O, no clocks; the fetcher thread calls it on each partition of
//! each Fetch response.
//!
//! # References
//! Kafka protocol guide, "Fetch API" and "Control Batches"; KIP-98
//! (transactions, the consumer side of read_committed).

use std::collections::HashSet;
use std::sync::Arc;

use crate::protocol::api::{AbortedTransaction, IsolationLevel};
use crate::protocol::records::{
    decode_batches, ControlRecordType, DecodeOptions, Header, RecordBatch,
};
use crate::protocol::DecodeError;

use super::message::Message;

/// What one partition's bytes held.
#[derive(Debug, Default)]
pub(crate) struct Decoded {
    /// Deliverable messages, in offset order.
    pub messages: Vec<Message>,
    /// Where the next fetch of the partition starts: after the last whole
    /// batch, delivered or skipped; the fetch offset when there was none.
    pub next_offset: i64,
    /// Data that does not decode, and the offset where it starts; the
    /// messages before it are good.
    pub error: Option<(i64, DecodeError)>,
    /// The bytes held only the start of one batch: the batch is larger than
    /// the fetch allowed.
    pub truncated_batch: bool,
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
    /// aborted transactions.
    pub fn decode(&self, bytes: &[u8], aborted: &[AbortedTransaction]) -> Decoded {
        let mut out = Decoded {
            next_offset: self.fetch_offset,
            ..Decoded::default()
        };
        let mut aborts = Aborts::new(aborted);
        let mut batches = decode_batches(bytes, self.options);
        let mut whole_batches = 0usize;
        for batch in batches.by_ref() {
            let batch = match batch {
                Ok(batch) => batch,
                Err(e) => {
                    out.error = Some((out.next_offset, e));
                    return out;
                }
            };
            whole_batches += 1;
            if let Err(e) = self.take_batch(&batch, &mut aborts, &mut out) {
                out.error = Some((out.next_offset.max(batch.base_offset()), e));
                return out;
            }
            out.next_offset = out.next_offset.max(batch.next_offset());
        }
        out.truncated_batch = whole_batches == 0 && !batches.remainder().is_empty();
        out
    }

    /// Appends `batch`'s deliverable records to `out.messages`.
    fn take_batch(
        &self,
        batch: &RecordBatch<'_>,
        aborts: &mut Aborts,
        out: &mut Decoded,
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
        for record in batch.records_from(self.fetch_offset)? {
            let record = record?;
            out.messages.push(Message {
                topic: Arc::clone(self.topic),
                partition: self.partition,
                offset: record.offset,
                key: record.key.map(<[u8]>::to_vec),
                value: record.value.map(<[u8]>::to_vec),
                headers: record.headers.into_iter().map(Header::into_owned).collect(),
                timestamp: record.timestamp,
                timestamp_type,
            });
        }
        Ok(())
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
