//! The sender thread (`kafka-sync-sender`): takes ready batches from the
//! accumulator, groups them by partition leader into one Produce request per
//! broker, keeps up to `max_in_flight` requests in flight per broker, and
//! turns answers into delivery reports.
//!
//! Retriable failures (leader moves, timeouts, lost connections) refresh the
//! topic's metadata and resend the batch after an exponential backoff with
//! jitter, until `delivery_timeout` has passed since the batch was created;
//! then the batch's records are reported failed. The thread never blocks for
//! long: it waits on a wake-up channel and on the in-flight responses at once
//! (`crossbeam_channel::Select`), bounded by the next linger, backoff or
//! request deadline.
//!
//! The loop and its state are here; what it does lives beside it:
//! `request` (what goes now, one Produce per leader), `answers` (responses
//! into reports and retries), `failure` (timeouts, dead topics, a panic or
//! an aborted close) and `transaction` (AddPartitionsToTxn, the transaction's
//! state).
//!
//! # References
//! Kafka protocol guide, "Produce API"; the Java producer's `Sender` and
//! `RecordAccumulator`; KIP-91 (delivery timeout), KIP-98 and KIP-360
//! (idempotence and epoch bumps).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, Select};

mod answers;
mod failure;
mod request;
mod transaction;

use super::accumulator::Batch;
use super::idempotence::Idempotence;
use super::report::Reporter;
use super::transaction::AddedPartitions;
use super::Shared;
use crate::error::Error;
use crate::net::PendingResponse;
use crate::protocol::api::ProduceRequest;

/// One Produce request waiting for its answer.
struct InFlight {
    broker: i32,
    pending: PendingResponse<ProduceRequest>,
    batches: Vec<Batch>,
}

pub(crate) struct Sender {
    shared: Arc<Shared>,
    wake: Receiver<()>,
    in_flight: Vec<InFlight>,
    retries: Vec<Batch>,
    reporter: Reporter,
    idempotence: Idempotence,
    /// Topics whose metadata must be refreshed before the next send.
    stale: HashSet<Arc<str>>,
    last_refresh: HashMap<Arc<str>, Instant>,
    /// Last error seen per topic that keeps batches from being sent.
    blocked: HashMap<Arc<str>, Error>,
    /// The last pass left ready batches behind for want of a leader or of
    /// room in flight: waiting for a response (or a backoff) beats spinning.
    stalled: bool,
    /// The last pass left ready batches behind only because a request was
    /// full: go again at once.
    more: bool,
    /// Per partition: how many of its batches are in flight, and to which
    /// broker (the ordering rules in [`Sender::send_ready`] need both).
    partitions_in_flight: HashMap<(Arc<str>, i32), (usize, i32)>,
    /// The next [`Batch::order`].
    next_order: u64,
    /// A transactional producer's partitions added to the open transaction.
    added: AddedPartitions,
    /// The generation of the transactional producer id in use.
    txn_generation: u64,
}

impl Sender {
    pub(crate) fn new(shared: Arc<Shared>, wake: Receiver<()>) -> Sender {
        let idempotence = Idempotence::new(&shared.config);
        let reporter = Reporter::new(Arc::clone(&shared));
        Sender {
            shared,
            wake,
            in_flight: Vec::new(),
            retries: Vec::new(),
            reporter,
            idempotence,
            stale: HashSet::new(),
            last_refresh: HashMap::new(),
            blocked: HashMap::new(),
            stalled: false,
            more: false,
            partitions_in_flight: HashMap::new(),
            next_order: 0,
            added: AddedPartitions::default(),
            txn_generation: 0,
        }
    }

    /// The thread's body: runs until the producer is closed and everything
    /// is reported, or until the close deadline aborts it. A panic of the
    /// loop fails every record the thread holds (see [`Sender::died`]).
    pub(crate) fn run(mut self) {
        if let Err(detail) = crate::thread::catch(super::SENDER_THREAD, || self.run_loop()) {
            self.died(&detail);
        }
    }

    fn run_loop(&mut self) {
        loop {
            #[cfg(test)]
            if self.shared.panic_for_test.load(Ordering::SeqCst) {
                panic!("test hook: the sender thread panics");
            }
            self.reporter.push_waiting();
            self.poll_in_flight();
            if self.shared.abort.load(Ordering::SeqCst) {
                self.abort();
                return;
            }
            let in_flight = &self.partitions_in_flight;
            let idle = |t: &Arc<str>, p: i32| !in_flight.contains_key(&(Arc::clone(t), p));
            if self.shared.txn.is_some() {
                self.poll_add_partitions();
                self.follow_transaction();
            } else if self.idempotence.wanted(idle) {
                if let Err(e) = self.idempotence.ensure(&self.shared.client) {
                    self.fail_everything_queued(e);
                }
            }
            self.restart_sequences();
            if self.idempotence.ready() {
                self.send_ready();
            }
            self.expire();
            if self.shared.accumulator.is_closing()
                && self.shared.accumulator.incomplete() == 0
                && self.in_flight.is_empty()
            {
                self.reporter.hand_over_last();
                return;
            }
            self.wait();
        }
    }

    /// Sleeps until a wake-up, a response, or the next timer.
    fn wait(&self) {
        let now = Instant::now();
        if self.more {
            return;
        }
        let mut until = now + Duration::from_millis(100);
        // While stalled, timers already due stay due until a response or a
        // backoff changes something; only later ones count.
        let due = |at: Instant| !self.stalled || at > now;
        if let Some(at) = self
            .shared
            .accumulator
            .next_ready_at(now)
            .filter(|&at| due(at))
        {
            until = until.min(at);
        }
        for batch in &self.retries {
            if let Some(at) = batch.retry_at.filter(|&at| due(at)) {
                until = until.min(at);
            }
        }
        if self.stalled {
            until = until.min(crate::time::add(now, self.shared.config.retry_backoff));
        }
        for f in &self.in_flight {
            until = until.min(f.pending.deadline());
        }
        if let Some(at) = self.added.retry_at {
            until = until.min(at.max(now));
        }
        if let Some(f) = &self.added.in_flight {
            until = until.min(f.pending.deadline());
        }
        let idle =
            |t: &Arc<str>, p: i32| !self.partitions_in_flight.contains_key(&(Arc::clone(t), p));
        // A transactional producer is woken by init_transactions instead.
        let polling_for_id = self.shared.txn.is_none()
            && (!self.idempotence.ready() || self.idempotence.wanted(idle));
        if self.reporter.is_waiting() || polling_for_id {
            until = until.min(now + Duration::from_millis(10));
        }
        if until <= now {
            return;
        }
        let mut select = Select::new();
        select.recv(&self.wake);
        for f in &self.in_flight {
            select.recv(f.pending.receiver());
        }
        if let Some(f) = &self.added.in_flight {
            select.recv(f.pending.receiver());
        }
        if let Ok(0) = select.ready_timeout(until - now) {
            while self.wake.try_recv().is_ok() {}
        }
    }

    /// Whether a partition's retries and new batches wait for its batches in
    /// flight: with idempotence, and without it unless reordering was
    /// allowed ([`ProducerConfig::preserve_order`](super::ProducerConfig::preserve_order)).
    fn keeps_order(&self) -> bool {
        self.idempotence.enabled() || self.shared.config.preserve_order
    }

    /// Counts `f`'s batches in flight per partition, and keeps it.
    fn push_in_flight(&mut self, f: InFlight) {
        for batch in &f.batches {
            let entry = self
                .partitions_in_flight
                .entry((Arc::clone(&batch.topic), batch.partition))
                .or_insert((0, f.broker));
            entry.0 += 1;
            entry.1 = f.broker;
        }
        self.in_flight.push(f);
    }

    /// Restarts the sequences of partitions whose first unresolved batch
    /// the broker refused, once they have nothing in flight and the epoch
    /// has been bumped: their retries, in order, get new sequences.
    fn restart_sequences(&mut self) {
        if !self.idempotence.restart_pending() {
            return;
        }
        let in_flight = &self.partitions_in_flight;
        let due = self
            .idempotence
            .restartable(|t, p| !in_flight.contains_key(&(Arc::clone(t), p)));
        for (topic, partition) in due {
            let mut batches: Vec<&mut Batch> = self
                .retries
                .iter_mut()
                .filter(|b| b.topic == topic && b.partition == partition)
                .collect();
            batches.sort_by_key(|b| b.order);
            self.idempotence.restart(&topic, partition, &mut batches);
        }
    }
}

/// Milliseconds since the Unix epoch, the default record timestamp.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
