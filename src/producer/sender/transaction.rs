//! The sender's part in a transaction: it fails an aborting transaction's
//! queued records, follows the producer id and epoch the transaction calls
//! got (sequences restart at 0 under a new one), fails everything queued
//! once the producer is fatal, and adds partitions to the open transaction
//! (AddPartitionsToTxn) before their first batch is sent, unless the
//! transaction runs transactions v2 (KIP-890), where Produce v12 adds them.
//!
//! # References
//! Kafka protocol guide, "AddPartitionsToTxn API"; the Java producer's
//! `TransactionManager` (`AddPartitionsToTxnHandler`).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::warn;

use super::super::retry::backoff;
use super::super::transaction::AddInFlight;
use super::super::transaction::{aborted_error, TransactionState};
use super::super::transaction_calls::send_add_partitions;
use super::Sender;
use crate::cluster::CoordinatorStatus;
use crate::error::Error;
use crate::protocol::api::{
    AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, AddPartitionsToTxnTopic,
};
use crate::protocol::ErrorCode;

impl Sender {
    /// A transactional producer: fails the queued records of an aborting
    /// transaction, and takes a new producer id or epoch (sequences
    /// restart at 0).
    pub(super) fn follow_transaction(&mut self) {
        let shared = Arc::clone(&self.shared);
        let Some(txn) = &shared.txn else {
            return;
        };
        if txn.state.take_abort_queued() {
            let error = aborted_error(&txn.state.id, TransactionState::Aborting);
            let batches = self.shared.accumulator.take_all();
            let retries = std::mem::take(&mut self.retries);
            for batch in batches.into_iter().chain(retries) {
                self.complete(batch, Err(error.clone()));
            }
        }
        if let Some(fatal) = txn.state.fatal() {
            // Nothing of a producer in a fatal state may reach a broker.
            let batches = self.shared.accumulator.take_all();
            let retries = std::mem::take(&mut self.retries);
            for batch in batches.into_iter().chain(retries) {
                self.complete(batch, Err(fatal.clone()));
            }
            return;
        }
        if let Some((producer, generation)) = txn.state.producer() {
            if generation != self.txn_generation {
                self.txn_generation = generation;
                self.idempotence.adopt(producer);
            }
        }
    }

    /// Whether the open transaction runs transactions v2 (no
    /// AddPartitionsToTxn: Produce v12 adds the partitions).
    pub(super) fn transactions_v2(&self) -> bool {
        self.shared.txn.as_ref().is_some_and(|t| t.state.v2())
    }

    /// Starts AddPartitionsToTxn for the partitions whose first batch of
    /// the transaction is ready (one request per round, none while one is in
    /// flight). The answer is awaited with the Produce answers, not here:
    /// the sender only waits (at most 50 ms) for a connection to a known
    /// coordinator, or for a FindCoordinator round trip when it is unknown.
    pub(super) fn add_partitions(&mut self, wanted: HashSet<(Arc<str>, i32)>) {
        let shared = Arc::clone(&self.shared);
        let Some(txn) = &shared.txn else {
            return;
        };
        let now = Instant::now();
        if self.added.in_flight.is_some() || self.added.retry_at.is_some_and(|at| now < at) {
            return;
        }
        if txn.state.state() != TransactionState::InTransaction
            && txn.state.state() != TransactionState::Committing
        {
            // An abort fails the queued records; an error state waits for it.
            return;
        }
        let Some(((producer_id, producer_epoch), _)) = txn.state.producer() else {
            return;
        };
        let mut by_topic: BTreeMap<Arc<str>, Vec<i32>> = BTreeMap::new();
        for (topic, partition) in &wanted {
            by_topic
                .entry(Arc::clone(topic))
                .or_default()
                .push(*partition);
        }
        let request = AddPartitionsToTxnRequest {
            transactional_id: txn.state.id.clone(),
            producer_id,
            producer_epoch,
            topics: by_topic
                .into_iter()
                .map(|(name, mut partitions)| {
                    partitions.sort_unstable();
                    AddPartitionsToTxnTopic {
                        name: name.to_string(),
                        partitions,
                    }
                })
                .collect(),
        };
        txn.state.mark_started();
        let connect_by = crate::time::after(Duration::from_millis(50));
        match send_add_partitions(&txn.coordinator, connect_by, &request) {
            Ok(pending) => {
                self.added.in_flight = Some(AddInFlight {
                    pending,
                    wanted,
                    number: self.added.number,
                });
            }
            Err(e) => self.added_partitions(&wanted, Err(e)),
        }
    }

    /// Handles the AddPartitionsToTxn answer once it is there (or its
    /// request timed out).
    pub(super) fn poll_add_partitions(&mut self) {
        let Some(f) = &self.added.in_flight else {
            return;
        };
        let answer = match f.pending.receiver().try_recv() {
            Ok(frame) => f.pending.decode(frame),
            Err(crossbeam_channel::TryRecvError::Empty)
                if Instant::now() < f.pending.deadline() =>
            {
                return;
            }
            Err(crossbeam_channel::TryRecvError::Empty) => {
                let f = self.added.in_flight.take().expect("checked above");
                let (wanted, number) = (f.wanted.clone(), f.number);
                // Past its deadline: `wait` closes the connection and says so.
                let answer = f.pending.wait();
                if number == self.added.number {
                    self.added_partitions(&wanted, answer);
                }
                return;
            }
            Err(crossbeam_channel::TryRecvError::Disconnected) => Err(Error::io(
                "AddPartitionsToTxn",
                std::io::Error::new(
                    std::io::ErrorKind::ConnectionAborted,
                    "the connection closed before the answer came",
                ),
            )),
        };
        let f = self.added.in_flight.take().expect("checked above");
        if f.number == self.added.number {
            self.added_partitions(&f.wanted, answer);
        }
    }

    /// Applies an AddPartitionsToTxn outcome: added partitions may send;
    /// retriable failures are tried again after a backoff; others make the
    /// transaction abortable (or the producer fatal) and fail its queued
    /// records.
    fn added_partitions(
        &mut self,
        wanted: &HashSet<(Arc<str>, i32)>,
        answer: crate::error::Result<AddPartitionsToTxnResponse>,
    ) {
        let shared = Arc::clone(&self.shared);
        let Some(txn) = &shared.txn else {
            return;
        };
        let mut retry = false;
        let mut failure = None;
        match answer {
            Ok(response) => {
                for (topic, partition, code) in response.results() {
                    match code {
                        ErrorCode::None => {
                            if let Some(key) = wanted
                                .iter()
                                .find(|(t, p)| &**t == topic && *p == partition)
                            {
                                self.added.partitions.insert(key.clone());
                            }
                        }
                        code if CoordinatorStatus::of(code).is_some() => {
                            txn.coordinator.observe(code);
                            retry = true;
                        }
                        code if code.is_retriable() || code == ErrorCode::OperationNotAttempted => {
                            retry = true;
                        }
                        code => {
                            failure = Some(Error::broker(
                                code,
                                None,
                                format!(
                                    "AddPartitionsToTxn `{topic}` partition {partition} for transactional id `{}`",
                                    txn.state.id
                                ),
                            ));
                        }
                    }
                }
            }
            Err(e) if e.is_retriable() => {
                warn!(
                    "AddPartitionsToTxn for transactional id `{}` failed: {e}; retrying",
                    txn.state.id
                );
                txn.coordinator.forget();
                retry = true;
            }
            Err(e) => failure = Some(e),
        }
        if let Some(e) = failure {
            let e = txn.state.fail(&e);
            self.added.retry_at = None;
            self.fail_everything_queued(e);
        } else if retry {
            self.added.attempts += 1;
            let config = &shared.config;
            let wait = backoff(
                config.retry_backoff.min(Duration::from_millis(20)),
                config.retry_backoff_max,
                self.added.attempts,
            );
            self.added.retry_at = Some(crate::time::add(Instant::now(), wait));
        } else {
            self.added.attempts = 0;
            self.added.retry_at = None;
            self.more = true;
        }
    }
}
