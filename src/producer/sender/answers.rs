//! The sender's answers: Produce responses (or their timeouts and lost
//! connections) turned into delivery reports, retries with backoff, or
//! failures once the delivery timeout would pass.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use log::{debug, warn};

use super::super::accumulator::Batch;
use super::super::retry::{
    backoff, classify, delivery_timeout_error, is_producer_state_error, Outcome,
};
use super::Sender;
use crate::error::{Error, Result};
use crate::protocol::api::PartitionProduceResponse;

impl Sender {
    /// Handles every answered (or timed-out) request, in sending order.
    pub(super) fn poll_in_flight(&mut self) {
        let now = Instant::now();
        let mut i = 0;
        while i < self.in_flight.len() {
            let f = &self.in_flight[i];
            let answer = match f.pending.receiver().try_recv() {
                Ok(frame) => Some(f.pending.decode(frame)),
                Err(crossbeam_channel::TryRecvError::Disconnected) => Some(Err(Error::io(
                    format!("Produce to broker {}", f.broker),
                    std::io::Error::new(
                        std::io::ErrorKind::ConnectionAborted,
                        "the connection closed before the answer came",
                    ),
                ))),
                Err(crossbeam_channel::TryRecvError::Empty) if now >= f.pending.deadline() => None,
                Err(crossbeam_channel::TryRecvError::Empty) => {
                    i += 1;
                    continue;
                }
            };
            let f = self.in_flight.remove(i);
            self.shared
                .metrics
                .in_flight
                .fetch_sub(1, Ordering::Relaxed);
            for batch in &f.batches {
                let key = (Arc::clone(&batch.topic), batch.partition);
                if let Some((count, _)) = self.partitions_in_flight.get_mut(&key) {
                    *count -= 1;
                    if *count == 0 {
                        self.partitions_in_flight.remove(&key);
                    }
                }
            }
            let answer = match answer {
                Some(answer) => answer,
                // Past its deadline: `wait` closes the connection and reports the timeout.
                None => f.pending.wait(),
            };
            self.handle_answer(f.broker, f.batches, answer);
        }
    }

    pub(super) fn handle_answer(
        &mut self,
        broker: i32,
        batches: Vec<Batch>,
        answer: Result<crate::protocol::api::ProduceResponse>,
    ) {
        let response = match answer {
            Ok(r) => r,
            Err(e) => {
                debug!("Produce to broker {broker} failed: {e}");
                for batch in batches {
                    self.retry_or_fail(batch, e.clone());
                }
                return;
            }
        };
        let mut by_partition: HashMap<(&str, i32), &PartitionProduceResponse> = HashMap::new();
        for t in &response.responses {
            for p in &t.partition_responses {
                by_partition.insert((t.name.as_str(), p.index), p);
            }
        }
        let mut outcomes = Vec::with_capacity(batches.len());
        for batch in batches {
            let outcome = match by_partition.get(&(&*batch.topic, batch.partition)) {
                Some(p) => classify(&batch, p, self.idempotence.enabled()),
                None => Outcome::Retry(Error::Protocol {
                    decode: None,
                    context: format!(
                        "Produce to `{}` partition {} on broker {broker}",
                        batch.topic, batch.partition
                    ),
                    detail: "the response does not mention the partition".into(),
                }),
            };
            outcomes.push((batch, outcome));
        }
        for (batch, outcome) in outcomes {
            match outcome {
                Outcome::Written {
                    base_offset,
                    log_append_time,
                } => self.complete(batch, Ok((base_offset, log_append_time))),
                Outcome::Retry(e) => self.retry_or_fail(batch, e),
                // In a transaction a sequence gap aborts the transaction
                // (and bumps the epoch after it) instead of restarting.
                Outcome::ResetProducer(e) if self.shared.txn.is_some() => {
                    self.complete(batch, Err(e));
                }
                Outcome::ResetProducer(e) => {
                    self.idempotence.refused(&batch, &e);
                    self.retry_or_fail(batch, e);
                }
                Outcome::Fail(e) => self.complete(batch, Err(e)),
            }
        }
    }

    /// Schedules `batch` for another attempt, or reports it failed when the
    /// error is final or its delivery timeout would pass first.
    pub(super) fn retry_or_fail(&mut self, mut batch: Batch, error: Error) {
        let config = &self.shared.config;
        let resettable = self.shared.txn.is_none()
            && matches!(error.code(), Some(c) if is_producer_state_error(c));
        if !error.is_retriable() && !resettable {
            self.complete(batch, Err(error));
            return;
        }
        batch.attempts += 1;
        let backoff = backoff(
            config.retry_backoff,
            config.retry_backoff_max,
            batch.attempts,
        );
        let now = Instant::now();
        if crate::time::add(now, backoff)
            >= crate::time::add(batch.created, config.delivery_timeout)
        {
            let e = delivery_timeout_error(&batch, config.delivery_timeout, &error);
            self.complete(batch, Err(e));
            return;
        }
        warn!(
            "retrying {} records to `{}` partition {} in {backoff:?} (attempt {}): {error}",
            batch.record_count, batch.topic, batch.partition, batch.attempts
        );
        self.stale.insert(Arc::clone(&batch.topic));
        self.shared
            .metrics
            .records_retried
            .fetch_add(batch.record_count as u64, Ordering::Relaxed);
        batch.retry_at = Some(crate::time::add(now, backoff));
        batch.last_error = Some(error);
        self.retries.push(batch);
        // Resend in the order the batches were first sent, per partition.
        self.retries.sort_by(|a, b| {
            (&a.topic, a.partition, a.order).cmp(&(&b.topic, b.partition, b.order))
        });
    }

    /// Reports `batch`'s outcome; its sequence no longer holds its
    /// partition back.
    pub(super) fn complete(&mut self, batch: Batch, result: Result<(i64, i64)>) {
        if let (Some(txn), Err(e)) = (&self.shared.txn, &result) {
            if batch.stamped.is_some() {
                txn.state.mark_bump();
            }
            if e.transaction_kind() != Some(crate::TransactionErrorKind::Aborted) {
                txn.state.fail(e);
            }
        }
        self.idempotence.resolve(&batch);
        self.reporter.complete(batch, result);
    }
}
