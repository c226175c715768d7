//! [`ProducerMetrics`]: a snapshot of a producer's counters.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters the sender thread updates as it goes.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub records_sent: AtomicU64,
    pub records_failed: AtomicU64,
    pub records_retried: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub batches_sent: AtomicU64,
    pub requests_sent: AtomicU64,
    pub in_flight: AtomicU64,
}

/// What a producer has done so far, from [`Producer::metrics`](super::Producer::metrics).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[non_exhaustive]
pub struct ProducerMetrics {
    /// Records acknowledged (or written to the socket, with `acks=0`).
    pub records_sent: u64,
    /// Records reported failed.
    pub records_failed: u64,
    /// Record sends that were retried (a record retried twice counts twice).
    pub records_retried: u64,
    /// Batch bytes sent (compressed size), retries included.
    pub bytes_sent: u64,
    /// Batches sent, retries included.
    pub batches_sent: u64,
    /// Produce requests sent.
    pub requests_sent: u64,
    /// Average bytes per batch sent.
    pub average_batch_size: f64,
    /// Produce requests waiting for an answer right now.
    pub in_flight_requests: u64,
    /// Records accepted and not yet handed to the sender.
    pub queued_records: u64,
    /// Bytes of those records.
    pub queued_bytes: u64,
    /// Bytes counted against `buffer_memory` (queued, in flight, or in unread reports).
    pub buffer_used: u64,
}

impl Counters {
    pub(crate) fn snapshot(
        &self,
        queued_records: usize,
        queued_bytes: usize,
        used: usize,
    ) -> ProducerMetrics {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let batches = load(&self.batches_sent);
        let bytes = load(&self.bytes_sent);
        ProducerMetrics {
            records_sent: load(&self.records_sent),
            records_failed: load(&self.records_failed),
            records_retried: load(&self.records_retried),
            bytes_sent: bytes,
            batches_sent: batches,
            requests_sent: load(&self.requests_sent),
            average_batch_size: if batches == 0 {
                0.0
            } else {
                bytes as f64 / batches as f64
            },
            in_flight_requests: load(&self.in_flight),
            queued_records: queued_records as u64,
            queued_bytes: queued_bytes as u64,
            buffer_used: used as u64,
        }
    }
}
