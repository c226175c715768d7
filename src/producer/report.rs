//! Delivery reports: a batch's outcome becomes one report (or one answer to
//! a synchronous caller) per record, the metrics are counted, and the
//! records' memory is given back to the accumulator.
//!
//! Reports go to a bounded channel. When it is full they wait here, still
//! counted against `buffer_memory`, so a reader that falls behind slows
//! `produce` down (and finally makes it fail after `max_block`) instead of
//! letting memory grow. Closing waits for a reader until the close deadline,
//! then logs what could not be handed over.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::TrySendError;
use log::error;

use super::accumulator::{Batch, Completion};
use super::record::{DeliveryReport, RecordMetadata};
use super::Shared;
use crate::error::Result;

pub(crate) struct Reporter {
    shared: Arc<Shared>,
    /// Reports waiting for room in the report channel, with their memory.
    overflow: VecDeque<(DeliveryReport, usize)>,
}

impl Reporter {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Reporter {
            shared,
            overflow: VecDeque::new(),
        }
    }

    /// Whether reports wait for room in the channel.
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
        let mut held = 0;
        let mut completions = std::mem::take(&mut batch.completions);
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
                Completion::Report(record) => {
                    let timestamp = record.timestamp.unwrap_or(-1);
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
                    let report = DeliveryReport {
                        topic: Arc::clone(&batch.topic),
                        partition: batch.partition,
                        record,
                        result: r,
                    };
                    if let Some(txn) = &self.shared.txn {
                        // Reported when the transaction ends: Ok once it
                        // committed, aborted otherwise. The record's memory
                        // is given back now, so a transaction may be larger
                        // than buffer_memory.
                        txn.state.hold(report);
                        continue;
                    }
                    if self.overflow.is_empty() {
                        if let Some(tx) = &self.shared.reports_tx {
                            match tx.try_send(report) {
                                Ok(()) => continue,
                                Err(TrySendError::Full(report)) => {
                                    self.overflow.push_back((report, per_record));
                                }
                                Err(TrySendError::Disconnected(_)) => continue,
                            }
                        }
                    } else {
                        self.overflow.push_back((report, per_record));
                    }
                    held += per_record;
                }
            }
        }
        self.shared.accumulator.complete(
            batch.record_count,
            batch.memory.saturating_sub(held),
            batch.encoded.take(),
            completions,
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
        let Some(tx) = self.shared.reports_tx.clone() else {
            return;
        };
        let mut freed = 0;
        let mut lost = 0;
        for (report, memory) in self.overflow.drain(..) {
            freed += memory;
            if lost > 0 || tx.send_deadline(report, deadline).is_err() {
                lost += 1;
            }
        }
        if lost > 0 {
            error!(
                "{lost} delivery reports could not be handed over: the report channel stayed full while the producer closed"
            );
        }
        self.shared.accumulator.complete(0, freed, None, Vec::new());
    }

    /// Hands reports that waited for room to the channel.
    pub(crate) fn push_waiting(&mut self) {
        self.take_released(false);
        let Some(tx) = &self.shared.reports_tx else {
            return;
        };
        let mut freed = 0;
        while let Some((report, memory)) = self.overflow.pop_front() {
            match tx.try_send(report) {
                Ok(()) | Err(TrySendError::Disconnected(_)) => freed += memory,
                Err(TrySendError::Full(report)) => {
                    self.overflow.push_front((report, memory));
                    break;
                }
            }
        }
        if freed > 0 {
            self.shared.accumulator.complete(0, freed, None, Vec::new());
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
            if self.shared.reports_tx.is_some() {
                self.overflow.extend(released.into_iter().map(|r| (r, 0)));
            }
        }
    }
}

fn metadata(
    topic: &Arc<str>,
    partition: i32,
    base_offset: i64,
    delta: i32,
    log_append_time: i64,
    timestamp: i64,
) -> RecordMetadata {
    RecordMetadata {
        topic: Arc::clone(topic),
        partition,
        offset: if base_offset >= 0 {
            base_offset + i64::from(delta)
        } else {
            -1
        },
        timestamp: if log_append_time >= 0 {
            log_append_time
        } else {
            timestamp
        },
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
