//! The transactional producer's state machine, shared by the caller's
//! thread (which makes the transaction calls) and the sender thread (which
//! adds partitions to the transaction and reports failed records).
//!
//! ```text
//!                   init_transactions              begin_transaction
//!   Uninitialized ──────────────────▶ Ready ─────────────────────▶ InTransaction
//!                                     ▲  ▲                          │     │    │
//!                     EndTxn(commit)  │  │ EndTxn(abort)            │     │    │ a record or a call
//!                                     │  │ (+ epoch bump)  commit_  │     │    │ fails (abortable)
//!                                     │  │                 transaction    │    ▼
//!                            Committing ◀┼──────────────────────────┘     │  AbortableError
//!                                        │                                │    │
//!                                    Aborting ◀──── abort_transaction ────┴────┘
//!   Committing and Aborting stay after a timeout: the same call again resumes.
//!   any state ── PRODUCER_FENCED, INVALID_PRODUCER_EPOCH,
//!                TRANSACTIONAL_ID_AUTHORIZATION_FAILED, … ──▶ FatalError (kept)
//! ```
//!
//! Every call refused by the state returns a
//! [`TransactionErrorKind::InvalidState`] error naming the state; a fatal
//! error is kept and returned by every later call (sends included).
//!
//! The lock here is held for short, non-blocking sections only: no network
//! I/O happens under it.
//!
//! # References
//! KIP-98 (transactions), KIP-360 (epoch bumps), KIP-447 (consumer group
//! metadata in TxnOffsetCommit), KIP-890 (transactions v2); the Java
//! producer's `TransactionManager` and librdkafka's `rdkafka_txnmgr.c`.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::{Condvar, Mutex};

use super::record::DeliveryReport;
use crate::cluster::GroupCoordinator;
use crate::error::{Error, Result, TimeoutKind, TransactionErrorKind};
use crate::net::PendingResponse;
use crate::protocol::api::AddPartitionsToTxnRequest;
use crate::protocol::ErrorCode;
use crate::KafkaClient;

/// Where a transactional producer is in its life; see
/// [`Producer::transaction_state`](super::Producer::transaction_state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransactionState {
    /// `init_transactions` has not succeeded yet (or the producer is not
    /// transactional).
    Uninitialized,
    /// Initialized, no transaction open: `begin_transaction` next.
    Ready,
    /// A transaction is open: send records and offsets, then commit or abort.
    InTransaction,
    /// `commit_transaction` is running (or timed out: call it again).
    Committing,
    /// `abort_transaction` is running (or timed out: call it again).
    Aborting,
    /// The open transaction cannot commit: `abort_transaction` next.
    AbortableError,
    /// The producer cannot go on; every call returns the fatal error.
    FatalError,
}

impl fmt::Display for TransactionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransactionState::Uninitialized => "Uninitialized",
            TransactionState::Ready => "Ready",
            TransactionState::InTransaction => "InTransaction",
            TransactionState::Committing => "Committing",
            TransactionState::Aborting => "Aborting",
            TransactionState::AbortableError => "AbortableError",
            TransactionState::FatalError => "FatalError",
        })
    }
}

/// Broker codes after which a transactional producer cannot go on (the
/// Java producer's fatal errors).
pub(crate) fn is_fatal_code(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::ProducerFenced
            | ErrorCode::InvalidProducerEpoch
            | ErrorCode::TransactionalIdAuthorizationFailed
            | ErrorCode::ClusterAuthorizationFailed
            | ErrorCode::InvalidTxnState
            | ErrorCode::UnsupportedVersion
            | ErrorCode::UnsupportedForMessageFormat
            | ErrorCode::TransactionCoordinatorFenced
            | ErrorCode::InvalidTransactionTimeout
    )
}

/// Whether `e` makes the producer unusable.
pub(crate) fn is_fatal(e: &Error) -> bool {
    match e {
        Error::Broker(b) => is_fatal_code(b.code),
        Error::Transaction(t) => t.kind == TransactionErrorKind::Fatal,
        Error::UnsupportedVersion { .. } | Error::ThreadPanicked { .. } => true,
        _ => false,
    }
}

/// The mutable part, behind [`Transactions::inner`].
struct Inner {
    state: TransactionState,
    /// The abortable or fatal error the state is in.
    error: Option<Error>,
    /// Producer id and epoch, once initialized.
    producer: Option<(i64, i16)>,
    /// Changes whenever `producer` does: the sender restarts sequences.
    generation: u64,
    /// Counts transactions begun: the sender forgets the partitions it
    /// added when it changes.
    number: u64,
    /// Something was added at the coordinator (partitions or offsets): the
    /// transaction must end with EndTxn.
    started: bool,
    /// A record of the transaction failed or was aborted unsent: its
    /// sequence numbers may have a gap, so the epoch is bumped after the
    /// abort (KIP-360).
    bump: bool,
    /// Sends between their state check and their append.
    sends: usize,
    /// The sender must fail every queued record of the transaction.
    abort_queued: bool,
    /// Delivery reports of the open transaction, handed over at its end.
    held: Vec<DeliveryReport>,
    /// The open (or last) transaction runs transactions v2 (KIP-890):
    /// Produce v12 adds its partitions, TxnOffsetCommit v5 its offsets,
    /// EndTxn v5 bumps the epoch. Fixed from `begin` to `end`.
    v2: bool,
    /// The protocol the next transaction runs, as the transaction
    /// coordinator offered it at `init_transactions` or at the last end.
    next_v2: bool,
}

/// A transactional producer's state and its transaction coordinator.
pub(crate) struct Txn {
    pub state: Transactions,
    pub coordinator: GroupCoordinator,
    /// The group coordinators offsets were sent to, kept so that each
    /// transaction does not look them up again.
    groups: Mutex<HashMap<String, Arc<GroupCoordinator>>>,
}

impl Txn {
    pub(crate) fn new(client: KafkaClient, id: String, timeout_ms: i32) -> Self {
        Txn {
            coordinator: GroupCoordinator::transaction(client, id.clone()),
            state: Transactions::new(id, timeout_ms),
            groups: Mutex::new(HashMap::new()),
        }
    }

    /// The coordinator of consumer group `group` (found on first use).
    pub(crate) fn group_coordinator(&self, group: &str) -> Arc<GroupCoordinator> {
        let mut groups = self.groups.lock();
        Arc::clone(groups.entry(group.to_owned()).or_insert_with(|| {
            Arc::new(GroupCoordinator::new(
                self.coordinator.client().clone(),
                group.to_owned(),
            ))
        }))
    }
}

/// A transactional producer's shared state; one per producer.
pub(crate) struct Transactions {
    pub id: String,
    pub timeout_ms: i32,
    inner: Mutex<Inner>,
    /// Signalled when `sends` drops to 0.
    idle: Condvar,
    /// Reports of ended transactions, for the sender to hand over.
    released: Mutex<Vec<DeliveryReport>>,
}

/// Holds a send's place in the open transaction until its record is queued.
pub(crate) struct SendGuard<'a>(&'a Transactions);

impl Drop for SendGuard<'_> {
    fn drop(&mut self) {
        let mut inner = self.0.inner.lock();
        inner.sends -= 1;
        if inner.sends == 0 {
            self.0.idle.notify_all();
        }
    }
}

impl Transactions {
    pub(crate) fn new(id: String, timeout_ms: i32) -> Self {
        Transactions {
            id,
            timeout_ms,
            inner: Mutex::new(Inner {
                state: TransactionState::Uninitialized,
                error: None,
                producer: None,
                generation: 0,
                number: 0,
                started: false,
                bump: false,
                sends: 0,
                abort_queued: false,
                held: Vec::new(),
                v2: false,
                next_v2: false,
            }),
            idle: Condvar::new(),
            released: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn state(&self) -> TransactionState {
        self.inner.lock().state
    }

    /// The producer id and epoch with their generation, once initialized.
    pub(crate) fn producer(&self) -> Option<((i64, i16), u64)> {
        let inner = self.inner.lock();
        inner.producer.map(|p| (p, inner.generation))
    }

    /// The number of the open (or last) transaction.
    pub(crate) fn number(&self) -> u64 {
        self.inner.lock().number
    }

    /// An invalid-state error for `call` in `state`.
    pub(crate) fn invalid(state: TransactionState, call: &str, what_to_do: &str) -> Error {
        Error::transaction(
            TransactionErrorKind::InvalidState,
            state,
            format!("{call} is not allowed in state {state}; {what_to_do}"),
            None,
        )
    }

    /// The error a call gets in an error state: the kept fatal error, or an
    /// abortable error around the kept cause.
    fn error_state_error(inner: &Inner, call: &str) -> Option<Error> {
        match inner.state {
            TransactionState::FatalError => inner.error.clone(),
            TransactionState::AbortableError => Some(Error::transaction(
                TransactionErrorKind::Abortable,
                TransactionState::AbortableError,
                format!(
                    "{call}: the open transaction cannot commit; call abort_transaction, then begin the next one"
                ),
                inner.error.clone(),
            )),
            _ => None,
        }
    }

    /// The kept fatal error, if the producer is in `FatalError`.
    pub(crate) fn fatal(&self) -> Option<Error> {
        let inner = self.inner.lock();
        (inner.state == TransactionState::FatalError)
            .then(|| inner.error.clone())
            .flatten()
    }

    /// Checks that a record may be sent now (a transaction is open) and
    /// holds the transaction open until the guard is dropped.
    pub(crate) fn begin_send(&self) -> Result<SendGuard<'_>> {
        let mut inner = self.inner.lock();
        if let Some(e) = Self::error_state_error(&inner, "send") {
            return Err(e);
        }
        if inner.state != TransactionState::InTransaction {
            return Err(Self::invalid(
                inner.state,
                "send",
                "a transactional producer sends records only inside a transaction: call begin_transaction first",
            ));
        }
        inner.sends += 1;
        Ok(SendGuard(self))
    }

    /// Waits until no send is between its state check and its append, or
    /// until `deadline`.
    pub(crate) fn wait_for_sends(&self, deadline: Instant) -> bool {
        let mut inner = self.inner.lock();
        while inner.sends > 0 {
            if self.idle.wait_until(&mut inner, deadline).timed_out() {
                return inner.sends == 0;
            }
        }
        true
    }

    /// `init_transactions` may run: the producer is uninitialized.
    pub(crate) fn check_init(&self) -> Result<()> {
        let inner = self.inner.lock();
        if let Some(e) = Self::error_state_error(&inner, "init_transactions") {
            return Err(e);
        }
        match inner.state {
            TransactionState::Uninitialized => Ok(()),
            state => Err(Self::invalid(
                state,
                "init_transactions",
                "it succeeds once per producer; begin_transaction next",
            )),
        }
    }

    /// A new producer id and epoch (from InitProducerId or EndTxn v5).
    pub(crate) fn set_producer(&self, producer: (i64, i16)) {
        let mut inner = self.inner.lock();
        if inner.producer != Some(producer) {
            inner.producer = Some(producer);
            inner.generation += 1;
        }
        if inner.state == TransactionState::Uninitialized {
            inner.state = TransactionState::Ready;
        }
    }

    /// Whether the open (or last) transaction runs transactions v2.
    pub(crate) fn v2(&self) -> bool {
        self.inner.lock().v2
    }

    /// Whether the next transaction runs transactions v2.
    pub(crate) fn next_v2(&self) -> bool {
        self.inner.lock().next_v2
    }

    /// Sets the protocol the next transaction runs (the open one keeps its
    /// own).
    pub(crate) fn set_next_v2(&self, v2: bool) {
        self.inner.lock().next_v2 = v2;
    }

    /// `begin_transaction`: Ready → InTransaction.
    pub(crate) fn begin(&self) -> Result<()> {
        let mut inner = self.inner.lock();
        if let Some(e) = Self::error_state_error(&inner, "begin_transaction") {
            return Err(e);
        }
        match inner.state {
            TransactionState::Ready => {
                inner.state = TransactionState::InTransaction;
                inner.v2 = inner.next_v2;
                inner.number += 1;
                inner.started = false;
                inner.bump = false;
                inner.abort_queued = false;
                Ok(())
            }
            TransactionState::Uninitialized => Err(Self::invalid(
                inner.state,
                "begin_transaction",
                "call init_transactions first",
            )),
            state => Err(Self::invalid(
                state,
                "begin_transaction",
                "a transaction is already open: commit or abort it first",
            )),
        }
    }

    /// Checks that offsets may join the open transaction.
    pub(crate) fn check_in_transaction(&self, call: &str) -> Result<(i64, i16)> {
        let inner = self.inner.lock();
        if let Some(e) = Self::error_state_error(&inner, call) {
            return Err(e);
        }
        match (inner.state, inner.producer) {
            (TransactionState::InTransaction, Some(p)) => Ok(p),
            (state, _) => Err(Self::invalid(
                state,
                call,
                "it needs an open transaction: call begin_transaction first",
            )),
        }
    }

    /// `commit_transaction` starts (or resumes): InTransaction → Committing.
    pub(crate) fn start_commit(&self) -> Result<()> {
        let mut inner = self.inner.lock();
        if let Some(e) = Self::error_state_error(&inner, "commit_transaction") {
            return Err(e);
        }
        match inner.state {
            TransactionState::InTransaction | TransactionState::Committing => {
                inner.state = TransactionState::Committing;
                Ok(())
            }
            TransactionState::Aborting => Err(Self::invalid(
                inner.state,
                "commit_transaction",
                "an abort is in progress: call abort_transaction again to finish it",
            )),
            state => Err(Self::invalid(
                state,
                "commit_transaction",
                "no transaction is open: call begin_transaction first",
            )),
        }
    }

    /// `abort_transaction` starts (or resumes): InTransaction,
    /// AbortableError → Aborting; the sender is asked to fail every queued
    /// record.
    pub(crate) fn start_abort(&self) -> Result<()> {
        let mut inner = self.inner.lock();
        match inner.state {
            TransactionState::InTransaction
            | TransactionState::AbortableError
            | TransactionState::Aborting => {
                inner.state = TransactionState::Aborting;
                inner.abort_queued = true;
                Ok(())
            }
            TransactionState::FatalError => Err(inner
                .error
                .clone()
                .unwrap_or(Error::Closed("transactional producer"))),
            TransactionState::Committing => Err(Self::invalid(
                inner.state,
                "abort_transaction",
                "a commit is in progress: call commit_transaction again to finish it",
            )),
            state => Err(Self::invalid(
                state,
                "abort_transaction",
                "no transaction is open",
            )),
        }
    }

    /// Asks the sender again to fail queued records (sends that were
    /// blocked on buffer room may have queued more).
    pub(crate) fn request_abort_queued(&self) {
        self.inner.lock().abort_queued = true;
    }

    /// For the sender: whether it must fail every queued record now.
    pub(crate) fn take_abort_queued(&self) -> bool {
        std::mem::take(&mut self.inner.lock().abort_queued)
    }

    /// Marks that the coordinator knows of the transaction (partitions or
    /// offsets are being added), so it must end with EndTxn.
    pub(crate) fn mark_started(&self) {
        self.inner.lock().started = true;
    }

    /// EndTxn succeeded: a resumed call must not send it again.
    pub(crate) fn clear_started(&self) {
        self.inner.lock().started = false;
    }

    /// Whether the transaction must end with EndTxn.
    pub(crate) fn started(&self) -> bool {
        self.inner.lock().started
    }

    /// A batch with sequence numbers failed or was dropped: the epoch is
    /// bumped after the abort so that the next transaction's sequences
    /// start clean.
    pub(crate) fn mark_bump(&self) {
        self.inner.lock().bump = true;
    }

    /// Whether the epoch must be bumped after the abort.
    pub(crate) fn needs_bump(&self) -> bool {
        self.inner.lock().bump
    }

    /// A record of the transaction failed with `e` (or a transaction call
    /// did): the transaction can no longer commit, or, for a fatal error,
    /// the producer can no longer go on. Returns the error as classified.
    pub(crate) fn fail(&self, e: &Error) -> Error {
        let mut inner = self.inner.lock();
        if inner.state == TransactionState::FatalError {
            return inner.error.clone().unwrap_or_else(|| e.clone());
        }
        if is_fatal(e) {
            let fatal = match e {
                Error::Transaction(t) if t.kind == TransactionErrorKind::Fatal => e.clone(),
                _ => Error::transaction(
                    TransactionErrorKind::Fatal,
                    inner.state,
                    format!(
                        "transactional id `{}`: the producer cannot go on; drop it{}",
                        self.id,
                        if matches!(
                            e.code(),
                            Some(ErrorCode::ProducerFenced | ErrorCode::InvalidProducerEpoch)
                        ) {
                            " (another producer with the same transactional id fenced it)"
                        } else {
                            ""
                        }
                    ),
                    Some(e.clone()),
                ),
            };
            inner.state = TransactionState::FatalError;
            inner.error = Some(fatal.clone());
            return fatal;
        }
        if matches!(
            inner.state,
            TransactionState::InTransaction | TransactionState::Committing
        ) {
            inner.state = TransactionState::AbortableError;
            inner.error = Some(e.clone());
        }
        Error::transaction(
            TransactionErrorKind::Abortable,
            inner.state,
            "the transaction cannot commit; call abort_transaction, then begin the next one",
            Some(e.clone()),
        )
    }

    /// The abortable error a commit found after its flush, if any.
    pub(crate) fn commit_blocker(&self) -> Option<Error> {
        let inner = self.inner.lock();
        Self::error_state_error(&inner, "commit_transaction")
    }

    /// Holds a delivery report until the transaction ends.
    pub(crate) fn hold(&self, report: DeliveryReport) {
        self.inner.lock().held.push(report);
    }

    /// The transaction ended (committed or aborted): back to Ready, and its
    /// reports go to the sender to hand over (on abort, every record that
    /// was written is reported aborted).
    pub(crate) fn end(&self, committed: bool) {
        let mut inner = self.inner.lock();
        let state = inner.state;
        if state == TransactionState::FatalError {
            return;
        }
        inner.state = TransactionState::Ready;
        inner.error = None;
        inner.started = false;
        inner.bump = false;
        inner.abort_queued = false;
        let mut held = std::mem::take(&mut inner.held);
        drop(inner);
        if !committed {
            for report in &mut held {
                if report.result.is_ok() {
                    report.result = Err(aborted_error(&self.id, state));
                }
            }
        }
        self.released.lock().extend(held);
    }

    /// Reports of ended transactions, for the sender to hand over; also the
    /// reports still held when the producer closes (failed as aborted).
    pub(crate) fn take_released(&self, closing: bool) -> Vec<DeliveryReport> {
        let mut out = std::mem::take(&mut *self.released.lock());
        if closing {
            let mut inner = self.inner.lock();
            let state = inner.state;
            for mut report in inner.held.drain(..) {
                if report.result.is_ok() {
                    report.result = Err(if state == TransactionState::Committing {
                        // EndTxn may have reached the coordinator.
                        Error::timeout(
                            TimeoutKind::Transaction,
                            format!(
                                "transactional id `{}`: the producer closed while the record's \
                                 transaction was being committed; it may or may not have committed",
                                self.id
                            ),
                        )
                    } else {
                        aborted_error(&self.id, state)
                    });
                }
                out.push(report);
            }
        }
        out
    }

    /// A timeout of a transaction call; the same call again resumes.
    pub(crate) fn timeout(call: &str, detail: impl fmt::Display) -> Error {
        Error::timeout(
            TimeoutKind::Transaction,
            format!("{call}: {detail}; call it again to resume"),
        )
    }
}

/// The error of a record whose transaction was aborted.
pub(crate) fn aborted_error(id: &str, state: TransactionState) -> Error {
    Error::transaction(
        TransactionErrorKind::Aborted,
        state,
        format!(
            "transactional id `{id}`: the record's transaction was aborted; no read_committed consumer sees it"
        ),
        None,
    )
}

/// The partitions the sender has added to the open transaction.
#[derive(Default)]
pub(crate) struct AddedPartitions {
    /// The transaction they belong to ([`Transactions::number`]).
    pub number: u64,
    pub partitions: HashSet<(Arc<str>, i32)>,
    /// When AddPartitionsToTxn may be tried again after a failure.
    pub retry_at: Option<Instant>,
    pub attempts: u32,
    /// The AddPartitionsToTxn waiting for its answer.
    pub in_flight: Option<AddInFlight>,
}

/// An AddPartitionsToTxn in flight: its answer, the partitions it adds and
/// the transaction it was sent for (an answer for an ended one is ignored).
pub(crate) struct AddInFlight {
    pub pending: PendingResponse<AddPartitionsToTxnRequest>,
    pub wanted: HashSet<(Arc<str>, i32)>,
    pub number: u64,
}

#[cfg(test)]
mod tests;
