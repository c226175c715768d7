//! Delivery reports: a batch's outcome becomes one report (or one answer to
//! a synchronous caller) per record, the metrics are counted, and the
//! records' memory is given back to the accumulator.
//!
//! A batch's reports are handed to the report queue (`reports.rs`) in one
//! step, as one chunk; the reader builds each report as it reads it. When
//! the queue is full the chunk (or the part of it that does not fit) waits
//! here, still counted against `buffer_memory`, so a reader that falls
//! behind slows `produce` down (and finally makes it fail after
//! `max_block`) instead of letting memory grow. Closing waits for a reader
//! until the close deadline, then logs what could not be handed over.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use log::error;

use super::accumulator::{Batch, Completion};
use super::record::DeliveryReport;
use super::reports::{metadata, BatchReports, Chunk, ReportSender};
use super::Shared;
use crate::error::Result;

pub(crate) struct Reporter {
    shared: Arc<Shared>,
    /// Reports waiting for room in the report queue, with their memory.
    overflow: VecDeque<(Chunk, usize)>,
}

impl Reporter {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Reporter {
            shared,
            overflow: VecDeque::new(),
        }
    }

    /// Whether reports wait for room in the queue.
    pub(crate) fn is_waiting(&self) -> bool {
        !self.overflow.is_empty()
    }

    /// Reports every record of `batch` and gives back its memory.
    pub(crate) fn complete(&mut self, mut batch: Batch, result: Result<(i64, i64)>) {
        let metrics = &self.shared.metrics;
        match &result {
            Ok(_) => {
                metrics
                    .records_sent
                    .fetch_add(batch.record_count as u64, Ordering::Relaxed);
            }
            Err(e) => {
                metrics
                    .records_failed
                    .fetch_add(batch.record_count as u64, Ordering::Relaxed);
                if batch.completions.is_empty() {
                    error!(
                        "{} records to `{}` partition {} were not delivered: {e}",
                        batch.record_count, batch.topic, batch.partition
                    );
                }
            }
        }
        let per_record = batch.memory / batch.record_count.max(1);
        let mut completions = std::mem::take(&mut batch.completions);
        let any_sync = completions
            .iter()
            .any(|(_, c)| matches!(c, Completion::Sync(..)));
        if any_sync {
            // Synchronous callers are answered here; the records that want
            // a report (a producer used both ways) go on in a list of their own.
            let mut wanting = Vec::new();
            for (delta, completion) in completions.drain(..) {
                match completion {
                    Completion::Sync(tx, timestamp) => {
                        let r = result.clone().map(|(base, append_time)| {
                            metadata(
                                &batch.topic,
                                batch.partition,
                                base,
                                delta,
                                append_time,
                                timestamp,
                            )
                        });
                        let _ = tx.send(r);
                    }
                    report => wanting.push((delta, report)),
                }
            }
            self.shared.accumulator.complete(0, 0, None, completions);
            completions = wanting;
        }
        let mut held = 0;
        let mut spare = None;
        if !completions.is_empty() {
            let chunk = BatchReports {
                topic: Arc::clone(&batch.topic),
                partition: batch.partition,
                result,
                records: VecDeque::from(completions),
            };
            if let Some(txn) = &self.shared.txn {
                // Reported when the transaction ends: Ok once it committed,
                // aborted otherwise. The records' memory is given back now,
                // so a transaction may be larger than buffer_memory.
                let mut chunk = Chunk::Batch(chunk);
                while let Some(report) = chunk.next_report() {
                    txn.state.hold(report);
                }
            } else if let Some(tx) = &self.shared.reports_tx {
                let chunk = Chunk::Batch(chunk);
                if self.overflow.is_empty() {
                    let offered = tx.offer(chunk);
                    spare = offered.spare;
                    if let Some(rest) = offered.rest {
                        held = per_record * rest.len();
                        self.overflow.push_back((rest, held));
                    }
                } else {
                    held = per_record * chunk.len();
                    self.overflow.push_back((chunk, held));
                }
            }
            completions = Vec::new();
        }
        self.shared.accumulator.complete(
            batch.record_count,
            batch.memory.saturating_sub(held),
            batch.encoded.take(),
            spare.unwrap_or(completions),
        );
    }

    /// Closing with reports still waiting for room: waits for a reader until
    /// the close deadline, then logs what could not be handed over.
    pub(crate) fn hand_over_last(&mut self) {
        self.take_released(true);
        let deadline = self
            .shared
            .close_deadline
            .lock()
            .unwrap_or_else(Instant::now);
        let Some(tx) = &self.shared.reports_tx else {
            return;
        };
        let mut freed = 0;
        let mut lost = 0;
        while let Some((chunk, memory)) = self.overflow.pop_front() {
            if lost > 0 {
                lost += chunk.len();
                freed += memory;
                continue;
            }
            let (taken, rest) = offer_waiting(tx, chunk, memory);
            freed += taken;
            if let Some((rest, left)) = rest {
                if tx.wait_for_room(deadline) {
                    self.overflow.push_front((rest, left));
                } else {
                    lost += rest.len();
                    freed += left;
                }
            }
        }
        if lost > 0 {
            error!(
                "{lost} delivery reports could not be handed over: the report queue stayed full while the producer closed"
            );
        }
        self.shared.accumulator.complete(0, freed, None, Vec::new());
    }

    /// Hands reports that waited for room to the queue.
    pub(crate) fn push_waiting(&mut self) {
        self.take_released(false);
        let Some(tx) = &self.shared.reports_tx else {
            return;
        };
        let mut freed = 0;
        while let Some((chunk, memory)) = self.overflow.pop_front() {
            let (taken, rest) = offer_waiting(tx, chunk, memory);
            freed += taken;
            if let Some(rest) = rest {
                self.overflow.push_front(rest);
                break;
            }
        }
        if freed > 0 {
            self.shared.accumulator.complete(0, freed, None, Vec::new());
        }
    }
}

/// Offers a waiting chunk that holds `memory` bytes of the producer's
/// budget: the memory of what the queue took, and what did not fit with its
/// share of the memory.
fn offer_waiting(
    tx: &ReportSender,
    chunk: Chunk,
    memory: usize,
) -> (usize, Option<(Chunk, usize)>) {
    let len = chunk.len();
    match tx.offer(chunk).rest {
        None => (memory, None),
        Some(rest) => {
            let left = memory * rest.len() / len.max(1);
            (memory - left, Some((rest, left)))
        }
    }
}

impl Reporter {
    /// Queues the reports of ended transactions (and, when closing, those
    /// of a transaction left open) behind the waiting ones. Their memory
    /// was given back when their batches completed.
    fn take_released(&mut self, closing: bool) {
        if let Some(txn) = &self.shared.txn {
            let released = txn.state.take_released(closing);
            if self.shared.reports_tx.is_some() && !released.is_empty() {
                let released: VecDeque<DeliveryReport> = released.into();
                self.overflow.push_back((Chunk::Ready(released), 0));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_the_base_plus_the_delta_unless_unknown() {
        let t: Arc<str> = Arc::from("t");
        assert_eq!(metadata(&t, 1, 100, 3, -1, 7).offset, 103);
        assert_eq!(metadata(&t, 1, -1, 3, -1, 7).offset, -1);
        assert_eq!(metadata(&t, 1, 100, 3, 99, 7).timestamp, 99);
        assert_eq!(metadata(&t, 1, 100, 3, -1, 7).timestamp, 7);
    }
}
