//! The transaction calls of [`Producer`]: `init_transactions`,
//! `begin_transaction`, `send_offsets_to_transaction`, `commit_transaction`,
//! `abort_transaction` (the Java client's and librdkafka's names).
//!
//! They run on the caller's thread, each bounded by the timeout it is
//! given; the sender thread adds partitions to the transaction as their
//! first batches become ready (one AddPartitionsToTxn per round of new
//! partitions; none under transactions v2, where Produce v12 adds them) and
//! reports failed records to the state machine in
//! [`transaction`](super::transaction). Which protocol a transaction runs
//! is decided from the coordinator's connection at `init_transactions` and
//! at the end of each transaction (see docs/design.md, "Transactions v1 and
//! v2").
//!
//! # References
//! KIP-98, KIP-447, KIP-890; the Java `KafkaProducer` transaction methods.

use std::collections::BTreeMap;
use std::time::Duration;

use log::{info, warn};

use super::transaction::{is_fatal, Transactions, Txn};
use super::transaction_calls::{self, call, call_at_most, first_error, Backoff};
use super::Producer;
use crate::consumer::{ConsumerGroupMetadata, TopicPartition};
use crate::error::{Error, Result};
use crate::producer::TransactionState;
use crate::protocol::api::{
    AddOffsetsToTxnRequest, EndTxnRequest, TxnOffsetCommitRequest, TxnOffsetCommitRequestPartition,
    TxnOffsetCommitRequestTopic, END_TXN_BEFORE_TRANSACTIONS_V2,
    TXN_OFFSET_COMMIT_BEFORE_TRANSACTIONS_V2,
};

impl Producer {
    fn txn(&self, call: &str) -> Result<&Txn> {
        self.shared.check_alive()?;
        self.shared.txn.as_ref().ok_or_else(|| {
            Transactions::invalid(
                TransactionState::Uninitialized,
                call,
                "the producer is not transactional: set ProducerConfig::transactional_id",
            )
        })
    }

    fn retry(&self) -> Backoff {
        Backoff {
            initial: self.shared.config.retry_backoff,
            max: self.shared.config.retry_backoff_max,
        }
    }

    /// The transaction state; [`TransactionState::Uninitialized`] for a
    /// producer without a `transactional_id`.
    pub fn transaction_state(&self) -> TransactionState {
        self.shared
            .txn
            .as_ref()
            .map_or(TransactionState::Uninitialized, |t| t.state.state())
    }

    /// Registers the `transactional_id` with its transaction coordinator and
    /// gets the producer id and epoch: any older producer with the same id
    /// is fenced (its next transactional call fails with a fatal
    /// `PRODUCER_FENCED` error) and a transaction it left open is aborted.
    /// Call it once, before the first [`begin_transaction`](Self::begin_transaction).
    ///
    /// # Errors
    /// [`TimeoutKind::Transaction`](crate::TimeoutKind::Transaction) after
    /// `timeout` (call it again); a [`TransactionErrorKind::Fatal`](crate::TransactionErrorKind::Fatal)
    /// error for an unauthorized id or a refused transaction timeout; a
    /// [`TransactionErrorKind::InvalidState`](crate::TransactionErrorKind::InvalidState)
    /// error on a producer without a `transactional_id` or called twice.
    pub fn init_transactions(&self, timeout: Duration) -> Result<()> {
        let txn = self.txn("init_transactions")?;
        txn.state.check_init()?;
        let deadline = crate::time::after(timeout);
        match transaction_calls::init_producer_id(
            &txn.coordinator,
            &txn.state,
            self.retry(),
            deadline,
            "init_transactions",
            None,
        ) {
            Ok(producer) => {
                let v2 = transaction_calls::offers_v2(&txn.coordinator, deadline).unwrap_or(false);
                info!(
                    "transactional id `{}`: producer id {}, epoch {}, transactions v{}",
                    txn.state.id,
                    producer.0,
                    producer.1,
                    if v2 { 2 } else { 1 }
                );
                txn.state.set_next_v2(v2);
                txn.state.set_producer(producer);
                self.shared.wake();
                Ok(())
            }
            Err(e) if is_fatal(&e) => Err(txn.state.fail(&e)),
            Err(e) => Err(e),
        }
    }

    /// Opens a transaction: records sent from now on, and offsets given to
    /// [`send_offsets_to_transaction`](Self::send_offsets_to_transaction),
    /// commit or abort together. Needs no round trip.
    ///
    /// # Errors
    /// A [`TransactionErrorKind::InvalidState`](crate::TransactionErrorKind::InvalidState)
    /// error before `init_transactions` or while a transaction is open; the
    /// kept error in an error state.
    pub fn begin_transaction(&self) -> Result<()> {
        self.txn("begin_transaction")?.state.begin()
    }

    /// Adds a consumer's positions to the open transaction: `offsets` maps
    /// each partition to the *next* offset to read (last processed + 1),
    /// committed for `group` only if the transaction commits. `group` comes
    /// from [`BalancedConsumer::group_metadata`](crate::BalancedConsumer::group_metadata)
    /// (the coordinator then refuses offsets of a consumer that lost its
    /// partitions in a rebalance) or
    /// [`SimpleConsumer::group_metadata`](crate::SimpleConsumer::group_metadata).
    ///
    /// # Errors
    /// [`TimeoutKind::Transaction`](crate::TimeoutKind::Transaction) after
    /// `timeout` (call it again); an abortable error when the coordinator
    /// refuses the offsets (a stale generation, say); a fatal one when the
    /// producer was fenced.
    pub fn send_offsets_to_transaction<'a>(
        &self,
        offsets: impl IntoIterator<Item = (&'a TopicPartition, &'a i64)>,
        group: &ConsumerGroupMetadata,
        timeout: Duration,
    ) -> Result<()> {
        const CALL: &str = "send_offsets_to_transaction";
        let txn = self.txn(CALL)?;
        let (producer_id, producer_epoch) = txn.state.check_in_transaction(CALL)?;
        let mut by_topic: BTreeMap<&str, Vec<TxnOffsetCommitRequestPartition>> = BTreeMap::new();
        for (tp, &offset) in offsets {
            if offset < 0 {
                return Err(Error::Config(format!(
                    "{CALL}: offset {offset} for `{}` partition {} is negative; pass the next offset to read",
                    tp.topic, tp.partition
                )));
            }
            by_topic
                .entry(tp.topic.as_str())
                .or_default()
                .push(TxnOffsetCommitRequestPartition {
                    partition_index: tp.partition,
                    committed_offset: offset,
                    committed_leader_epoch: -1,
                    committed_metadata: None,
                });
        }
        if by_topic.is_empty() {
            return Ok(());
        }
        let deadline = crate::time::after(timeout);
        txn.state.mark_started();
        // Transactions v2 (KIP-890, as the Java producer does): TxnOffsetCommit
        // v5 adds the group's offsets to the transaction itself.
        let v2 = txn.state.v2();
        if !v2 {
            let add = AddOffsetsToTxnRequest {
                transactional_id: txn.state.id.clone(),
                producer_id,
                producer_epoch,
                group_id: group.group_id.clone(),
            };
            let added = call(&txn.coordinator, self.retry(), deadline, CALL, &add, |r| {
                (r.error_code, None)
            });
            self.settle(txn, added)?;
        }
        let commit = TxnOffsetCommitRequest {
            transactional_id: txn.state.id.clone(),
            group_id: group.group_id.clone(),
            producer_id,
            producer_epoch,
            generation_id: group.generation_id,
            member_id: group.member_id.clone(),
            group_instance_id: group.group_instance_id.clone(),
            topics: by_topic
                .into_iter()
                .map(|(name, partitions)| TxnOffsetCommitRequestTopic {
                    name: name.to_owned(),
                    partitions,
                })
                .collect(),
        };
        let group_coordinator = txn.group_coordinator(&group.group_id);
        let committed = call_at_most(
            &group_coordinator,
            if v2 {
                TXN_OFFSET_COMMIT_BEFORE_TRANSACTIONS_V2 + 1
            } else {
                TXN_OFFSET_COMMIT_BEFORE_TRANSACTIONS_V2
            },
            self.retry(),
            deadline,
            CALL,
            &commit,
            |r| (first_error(r.results().map(|(_, _, c)| c)), None),
        );
        self.settle(txn, committed).map(|_| ())
    }

    /// A transaction call's outcome: retriable errors (timeouts) as they
    /// are, others through the state machine (abortable or fatal).
    fn settle<T>(&self, txn: &Txn, result: Result<T>) -> Result<T> {
        result.map_err(|e| {
            if e.is_retriable() {
                e
            } else {
                txn.state.fail(&e)
            }
        })
    }

    /// Commits the open transaction: waits for every record sent in it to be
    /// acknowledged (as [`flush`](Self::flush) does), then asks the
    /// coordinator to commit (EndTxn). Delivery reports of the transaction's
    /// records are handed over once it has committed.
    ///
    /// # Errors
    /// [`TimeoutKind::Transaction`](crate::TimeoutKind::Transaction) after
    /// `timeout`: the transaction is still being committed, call
    /// `commit_transaction` again. An abortable error when a record of the
    /// transaction failed (its delivery report says why): call
    /// [`abort_transaction`](Self::abort_transaction). A fatal error when the
    /// producer was fenced. An invalid-state error without an open
    /// transaction.
    pub fn commit_transaction(&self, timeout: Duration) -> Result<()> {
        const CALL: &str = "commit_transaction";
        let txn = self.txn(CALL)?;
        txn.state.start_commit()?;
        let deadline = crate::time::after(timeout);
        self.drain_transaction(txn, CALL, deadline)?;
        if let Some(e) = txn.state.commit_blocker() {
            return Err(e);
        }
        self.end_transaction(txn, true, CALL, deadline)
    }

    /// Aborts the open transaction: records not yet sent are dropped and
    /// reported failed ([`TransactionErrorKind::Aborted`](crate::TransactionErrorKind::Aborted)),
    /// records in flight are waited for, then the coordinator writes abort
    /// markers (EndTxn); every record of the transaction that was written is
    /// reported aborted too, and no `read_committed` consumer sees any of
    /// them. The producer is then ready for the next transaction.
    ///
    /// # Errors
    /// [`TimeoutKind::Transaction`](crate::TimeoutKind::Transaction) after
    /// `timeout`: call `abort_transaction` again. A fatal error when the
    /// producer was fenced (the coordinator aborts the transaction itself).
    pub fn abort_transaction(&self, timeout: Duration) -> Result<()> {
        const CALL: &str = "abort_transaction";
        let txn = self.txn(CALL)?;
        txn.state.start_abort()?;
        self.shared.wake();
        let deadline = crate::time::after(timeout);
        self.drain_transaction(txn, CALL, deadline)?;
        self.end_transaction(txn, false, CALL, deadline)
    }

    /// Waits for sends in progress and for every record of the transaction
    /// to be acknowledged or failed.
    fn drain_transaction(&self, txn: &Txn, call: &str, deadline: std::time::Instant) -> Result<()> {
        if !txn.state.wait_for_sends(deadline) {
            return Err(Transactions::timeout(
                call,
                "a send of the transaction was still waiting for buffer room",
            ));
        }
        if txn.state.state() == TransactionState::Aborting {
            // Sends that waited for room may have queued more records.
            txn.state.request_abort_queued();
            self.shared.wake();
        }
        if !self
            .shared
            .accumulator
            .flush(deadline, || self.shared.wake())
        {
            self.shared.check_alive()?;
            return Err(Transactions::timeout(
                call,
                format!(
                    "{} records of the transaction are still unacknowledged",
                    self.shared.accumulator.incomplete()
                ),
            ));
        }
        self.shared.check_alive()
    }

    /// EndTxn (when the coordinator knows of the transaction), an epoch
    /// bump after an abort that needs one (or before the first transaction
    /// of transactions v2), then back to Ready.
    fn end_transaction(
        &self,
        txn: &Txn,
        committed: bool,
        call_name: &str,
        deadline: std::time::Instant,
    ) -> Result<()> {
        let v2 = txn.state.v2();
        // EndTxn v5 bumps the epoch: the next transaction starts clean.
        let mut bumped = false;
        if txn.state.started() {
            let Some(((producer_id, producer_epoch), _)) = txn.state.producer() else {
                return Err(Transactions::invalid(
                    txn.state.state(),
                    call_name,
                    "call init_transactions first",
                ));
            };
            let request = EndTxnRequest {
                transactional_id: txn.state.id.clone(),
                producer_id,
                producer_epoch,
                committed,
            };
            let ended = call_at_most(
                &txn.coordinator,
                if v2 {
                    END_TXN_BEFORE_TRANSACTIONS_V2 + 1
                } else {
                    END_TXN_BEFORE_TRANSACTIONS_V2
                },
                self.retry(),
                deadline,
                call_name,
                &request,
                |r| (r.error_code, None),
            );
            let response = self.settle(txn, ended)?;
            txn.state.clear_started();
            if response.producer_id >= 0 && response.producer_epoch >= 0 {
                // Transactions v2 (EndTxn v5, KIP-890): the next
                // transaction runs under the epoch the coordinator bumped.
                txn.state
                    .set_producer((response.producer_id, response.producer_epoch));
                bumped = true;
            }
        }
        // The protocol of the next transaction, as the coordinator offers it
        // now (its connection may have been reopened since). Moving up to
        // transactions v2 bumps the epoch first, as the Java producer does,
        // so that nothing of a v1 transaction counts in the first v2 one.
        let next_v2 = transaction_calls::offers_v2(&txn.coordinator, deadline)
            .unwrap_or_else(|| txn.state.next_v2());
        let upgrade = next_v2 && !v2;
        if (upgrade || (!committed && txn.state.needs_bump())) && !bumped {
            let current = txn.state.producer().map(|(p, _)| p);
            match transaction_calls::init_producer_id(
                &txn.coordinator,
                &txn.state,
                self.retry(),
                deadline,
                call_name,
                current,
            ) {
                Ok(producer) => {
                    if upgrade {
                        info!(
                            "transactional id `{}`: the coordinator now offers transactions v2; epoch bumped to {}",
                            txn.state.id, producer.1
                        );
                    } else {
                        warn!(
                            "transactional id `{}`: epoch bumped to {} after a failed record; sequences restart at 0",
                            txn.state.id, producer.1
                        );
                    }
                    txn.state.set_producer(producer);
                }
                Err(e) => return self.settle(txn, Err(e)),
            }
        }
        if next_v2 != v2 {
            info!(
                "transactional id `{}`: the next transaction runs transactions v{}",
                txn.state.id,
                if next_v2 { 2 } else { 1 }
            );
        }
        txn.state.set_next_v2(next_v2);
        txn.state.end(committed);
        self.shared.wake();
        Ok(())
    }
}
