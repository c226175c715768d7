//! The sender's ends: batches past their delivery timeout, topics that
//! cannot be produced to, and everything held when the thread panics or
//! the close deadline passes, each reported failed.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use super::super::accumulator::Batch;
use super::super::retry::delivery_timeout_error;
use super::Sender;
use crate::error::{Error, TimeoutKind};

impl Sender {
    /// Fails batches that waited in the queue past `delivery_timeout`
    /// (no leader, broker unreachable).
    pub(super) fn expire(&mut self) {
        let now = Instant::now();
        let timeout = self.shared.config.delivery_timeout;
        let Some(cutoff) = now.checked_sub(timeout) else {
            return;
        };
        let mut expired = self.shared.accumulator.take_expired(cutoff);
        // Retries that cannot be sent (no leader known) expire the same way.
        let (late, kept): (Vec<Batch>, Vec<Batch>) = std::mem::take(&mut self.retries)
            .into_iter()
            .partition(|b| b.created < cutoff);
        self.retries = kept;
        expired.extend(late);
        for batch in expired {
            let cause = batch
                .last_error
                .clone()
                .or_else(|| self.blocked.get(&batch.topic).cloned())
                .unwrap_or_else(|| Error::NoBrokerAvailable("no leader for the partition".into()));
            let e = delivery_timeout_error(&batch, timeout, &cause);
            self.complete(batch, Err(e));
        }
    }

    pub(super) fn fail_topic(&mut self, topic: &Arc<str>, error: Error) {
        let batches = self.shared.accumulator.take_where(|b| b.topic == *topic);
        let retries: Vec<Batch> = {
            let (gone, kept) = std::mem::take(&mut self.retries)
                .into_iter()
                .partition(|b| b.topic == *topic);
            self.retries = kept;
            gone
        };
        for batch in batches.into_iter().chain(retries) {
            self.complete(batch, Err(error.clone()));
        }
    }

    pub(super) fn fail_everything_queued(&mut self, error: Error) {
        let batches = self.shared.accumulator.take_where(|_| true);
        let retries = std::mem::take(&mut self.retries);
        for batch in batches.into_iter().chain(retries) {
            self.complete(batch, Err(error.clone()));
        }
    }

    /// The loop panicked: the producer is dead. Every record still reachable
    /// (in flight, retrying, queued, or in hand when the panic struck: those
    /// batches leave their completions behind when dropped) is reported
    /// failed with [`Error::ThreadPanicked`]; records without a completion
    /// (reports off) are logged and counted failed; and the handle returns
    /// the error from then on.
    pub(super) fn died(&mut self, detail: &str) {
        let error = Error::thread_panicked("producer", super::super::SENDER_THREAD, detail);
        let _ = self.shared.dead.set(error.clone());
        self.shared.accumulator.close();
        self.fail_held(&error);
        // Batches the panic caught in hand (taken out for a request) left
        // their completions behind when they were dropped.
        let orphans = std::mem::take(&mut *self.shared.accumulator.orphans.lock());
        for orphan in orphans {
            let mut batch = Batch::new(
                &orphan.topic,
                orphan.partition,
                crate::protocol::records::BatchOptions::default(),
                0,
                None,
            );
            batch.completions = orphan.completions;
            batch.record_count = orphan.record_count;
            batch.memory = orphan.memory;
            self.complete(batch, Err(error.clone()));
        }
        self.reporter.push_waiting();
        let lost = self.shared.accumulator.kill();
        if lost > 0 {
            self.shared
                .metrics
                .records_failed
                .fetch_add(lost as u64, Ordering::Relaxed);
            log::error!("{lost} records were lost without a delivery report: {error}");
        }
        self.reporter.hand_over_last();
    }

    /// The close deadline passed: everything still held is reported failed.
    pub(super) fn abort(&mut self) {
        let error = Error::timeout(
            TimeoutKind::Flush,
            "closing the producer: close_timeout passed before the broker acknowledged; \
             the records may or may not have been written",
        );
        self.fail_held(&error);
        self.reporter.hand_over_last();
    }

    /// Reports every batch the thread holds failed with `error`: in flight,
    /// retrying and queued.
    fn fail_held(&mut self, error: &Error) {
        let in_flight = std::mem::take(&mut self.in_flight);
        for f in in_flight {
            self.shared
                .metrics
                .in_flight
                .fetch_sub(1, Ordering::Relaxed);
            for batch in f.batches {
                self.complete(batch, Err(error.clone()));
            }
        }
        let queued = self.shared.accumulator.take_all();
        let retries = std::mem::take(&mut self.retries);
        for batch in queued.into_iter().chain(retries) {
            self.complete(batch, Err(error.clone()));
        }
    }
}
