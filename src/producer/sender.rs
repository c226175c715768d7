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
//! # References
//! Kafka protocol guide, "Produce API"; the Java producer's `Sender` and
//! `RecordAccumulator`; KIP-91 (delivery timeout), KIP-98 and KIP-360
//! (idempotence and epoch bumps).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, Select};
use log::{debug, warn};

mod transaction;

use super::accumulator::Batch;
use super::idempotence::Idempotence;
use super::report::Reporter;
use super::retry::{backoff, classify, delivery_timeout_error, is_producer_state_error, Outcome};
use super::transaction::AddedPartitions;
use super::Shared;
use crate::cluster::TopicMetadata;
use crate::error::{Error, Result, TimeoutKind};
use crate::net::PendingResponse;
use crate::protocol::api::{
    PartitionProduceData, PartitionProduceResponse, ProduceRequest, TopicProduceData,
    PRODUCE_BEFORE_TRANSACTIONS_V2,
};
use crate::protocol::records::rewrite_producer_state;
use crate::protocol::Request;

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

    /// Handles every answered (or timed-out) request, in sending order.
    fn poll_in_flight(&mut self) {
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

    fn handle_answer(
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
    fn retry_or_fail(&mut self, mut batch: Batch, error: Error) {
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
    fn complete(&mut self, batch: Batch, result: Result<(i64, i64)>) {
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

    /// Refreshes stale topics, then sends every ready batch: retries first,
    /// then the accumulator's, one request per leader.
    fn send_ready(&mut self) {
        let now = Instant::now();
        let shared = Arc::clone(&self.shared);
        let config = &shared.config;
        let mut topics: Vec<Arc<str>> = self.shared.accumulator.topics();
        topics.extend(self.retries.iter().map(|b| Arc::clone(&b.topic)));
        topics.sort();
        topics.dedup();
        let mut metadata: HashMap<Arc<str>, Arc<TopicMetadata>> = HashMap::new();
        for topic in topics {
            match self.metadata_for(&topic, now) {
                Ok(meta) => {
                    self.blocked.remove(&topic);
                    metadata.insert(topic, meta);
                }
                Err(Error::UnknownTopic(name)) => {
                    let e = Error::UnknownTopic(name);
                    self.fail_topic(&topic, e);
                }
                Err(e) => {
                    debug!("metadata for `{topic}` unavailable: {e}");
                    self.blocked.insert(topic, e);
                }
            }
        }
        let mut per_broker_in_flight: HashMap<i32, usize> = HashMap::new();
        for f in &self.in_flight {
            *per_broker_in_flight.entry(f.broker).or_default() += 1;
        }
        let leader_of = |topic: &Arc<str>, partition: i32| -> Option<i32> {
            metadata.get(topic)?.partition(partition)?.leader
        };
        let mut requests: BTreeMap<i32, (Vec<Batch>, usize)> = BTreeMap::new();
        let mut stalled = false;
        let mut more = false;
        let mut busy: HashSet<(Arc<str>, i32)> = HashSet::new();
        // Ordering rules (M2/M3 of issue 12; the Java producer's
        // `RecordAccumulator.shouldStopDrainBatchesForPartition`, stricter):
        // a partition with a retry waiting sends nothing new; its retries go
        // one at a time, oldest first, and only once none of its batches is
        // in flight (their outcome may still change what must be resent);
        // a partition's new batches wait while its batches in flight went to
        // another broker (the leader moved). Without idempotence, a partition
        // also has at most one batch in flight, unless reordering is allowed.
        let ordered = self.keeps_order();
        let idempotent = self.idempotence.enabled();
        if let Some(txn) = &self.shared.txn {
            let number = txn.state.number();
            if self.added.number != number {
                self.added = AddedPartitions {
                    number,
                    ..AddedPartitions::default()
                };
            }
        }
        let transactional = self.shared.txn.is_some();
        // Transactions v2 (KIP-890): Produce v12 adds the partition to the
        // transaction at its leader, so nothing waits for AddPartitionsToTxn.
        let explicit_adds = transactional && !self.transactions_v2();
        let added = &self.added.partitions;
        let mut wanted: HashSet<(Arc<str>, i32)> = HashSet::new();
        let idempotence = &self.idempotence;
        let partitions_in_flight = &self.partitions_in_flight;
        // Retries due now; later ones keep their partition busy so newer
        // batches do not overtake them.
        let mut waiting = Vec::new();
        for batch in std::mem::take(&mut self.retries) {
            let key = (Arc::clone(&batch.topic), batch.partition);
            let due = batch.retry_at.is_none_or(|at| at <= now);
            let clear = !ordered
                || (!partitions_in_flight.contains_key(&key) && idempotence.may_resend(&batch));
            let leader = leader_of(&batch.topic, batch.partition);
            let room = |broker: i32, requests: &BTreeMap<i32, (Vec<Batch>, usize)>| {
                per_broker_in_flight.get(&broker).copied().unwrap_or(0) < config.max_in_flight
                    && requests
                        .get(&broker)
                        .is_none_or(|(_, size)| size + batch.size() <= config.max_request_size)
            };
            match leader {
                Some(broker) if due && clear && !busy.contains(&key) && room(broker, &requests) => {
                    busy.insert(key);
                    let entry = requests.entry(broker).or_default();
                    entry.1 += batch.size();
                    entry.0.push(batch);
                }
                _ => {
                    stalled |= due;
                    busy.insert(key);
                    waiting.push(batch);
                }
            }
        }
        self.retries = waiting;
        let drained = self
            .shared
            .accumulator
            .drain(now, |topic, partition, size| {
                let key = (Arc::clone(topic), partition);
                if busy.contains(&key) || !idempotence.may_send_new(topic, partition) {
                    stalled = true;
                    return false;
                }
                if explicit_adds && !added.contains(&key) {
                    // AddPartitionsToTxn first, for all new partitions at once.
                    wanted.insert(key);
                    stalled = true;
                    return false;
                }
                let Some(broker) = leader_of(topic, partition) else {
                    stalled = true;
                    return false;
                };
                if let Some(&(count, on)) = partitions_in_flight.get(&key) {
                    if ordered && (on != broker || (!idempotent && count > 0)) {
                        stalled = true;
                        return false;
                    }
                }
                if per_broker_in_flight.get(&broker).copied().unwrap_or(0) >= config.max_in_flight {
                    stalled = true;
                    return false;
                }
                let entry = requests.entry(broker).or_default();
                // `entry.1` counts the batches taken for this request so far
                // (retries already in it and those reserved here, which are
                // only moved in after the drain), so it is the test: one
                // batch always goes, more only while the request stays
                // within `max_request_size`.
                if entry.1 > 0 && entry.1 + size > config.max_request_size {
                    more = true;
                    return false;
                }
                // The batch itself is moved in below; reserve its size now.
                entry.1 += size;
                true
            });
        for mut batch in drained {
            batch.order = self.next_order;
            self.next_order += 1;
            match leader_of(&batch.topic, batch.partition) {
                Some(broker) => requests.entry(broker).or_default().0.push(batch),
                None => self.retries.push(batch),
            }
        }
        self.stalled = stalled;
        self.more = more;
        for (broker, (batches, _)) in requests {
            if !batches.is_empty() {
                self.send_to(broker, batches);
            }
        }
        if !wanted.is_empty() {
            self.add_partitions(wanted);
        }
    }

    /// The topic's metadata, refreshed when a leader error marked it stale
    /// (at most once per `retry_backoff`).
    fn metadata_for(&mut self, topic: &Arc<str>, now: Instant) -> Result<Arc<TopicMetadata>> {
        let client = &self.shared.client;
        if self.stale.contains(topic) {
            let recent = self
                .last_refresh
                .get(topic)
                .is_some_and(|at| now.duration_since(*at) < self.shared.config.retry_backoff);
            if !recent {
                self.last_refresh.insert(Arc::clone(topic), now);
                let meta = client.refresh_topic(topic)?;
                self.stale.remove(topic);
                return Ok(meta);
            }
        }
        client.topic_metadata(topic)
    }

    /// Seals `batches`, stamps producer state, and sends one request.
    fn send_to(&mut self, broker: i32, mut batches: Vec<Batch>) {
        let shared = Arc::clone(&self.shared);
        let config = &shared.config;
        let mut ready = Vec::with_capacity(batches.len());
        #[cfg(test)]
        if self.shared.panic_in_send_for_test.load(Ordering::SeqCst) {
            panic!("test hook: the sender thread panics with batches in hand");
        }
        for mut batch in batches.drain(..) {
            if let Err(e) = self.seal(&mut batch) {
                self.complete(batch, Err(e));
                continue;
            }
            ready.push(batch);
        }
        if ready.is_empty() {
            return;
        }
        ready.sort_by(|a, b| a.topic.cmp(&b.topic).then(a.partition.cmp(&b.partition)));
        // A transactional producer of transactions v1 stays below Produce
        // v12, which would tell the broker it runs v2; under v2 the batch
        // adds its partition, so the coordinator knows of the transaction.
        let cap = match &shared.txn {
            Some(txn) if txn.state.v2() => {
                txn.state.mark_started();
                ProduceRequest::MAX_VERSION
            }
            Some(_) => PRODUCE_BEFORE_TRANSACTIONS_V2,
            None => ProduceRequest::MAX_VERSION,
        };
        let mut request = ProduceRequest {
            transactional_id: config.transactional_id.clone(),
            acks: config.acks.code(),
            timeout_ms: i32::try_from(config.request_timeout.as_millis()).unwrap_or(i32::MAX),
            topic_data: Vec::new(),
        };
        for batch in &mut ready {
            let data = PartitionProduceData {
                index: batch.partition,
                records: batch.encoded.take().unwrap_or_default(),
            };
            match request.topic_data.last_mut() {
                Some(t) if t.name == *batch.topic => t.partition_data.push(data),
                _ => request.topic_data.push(TopicProduceData {
                    name: batch.topic.to_string(),
                    partition_data: vec![data],
                }),
            }
        }
        let deadline = crate::time::after(config.request_timeout);
        let sent = self
            .shared
            .client
            .broker_connection(
                broker,
                deadline.min(Instant::now() + Duration::from_millis(50)),
            )
            .and_then(|conn| {
                let sent = if request.acks == 0 {
                    conn.send_no_response_at_most(&request, cap).map(|()| None)
                } else {
                    conn.send_at_most(&request, cap).map(Some)
                };
                // A connection that failed under us (whatever the reason it
                // keeps) took nothing of this request: sending again is safe.
                sent.map_err(|e| {
                    if conn.is_closed() && !e.is_retriable() {
                        Error::io(
                            format!("sending Produce to {}", conn.addr()),
                            std::io::Error::new(
                                std::io::ErrorKind::ConnectionAborted,
                                e.to_string(),
                            ),
                        )
                    } else {
                        e
                    }
                })
            });
        // Take the encoded batches back for retries.
        let mut it = ready.iter_mut();
        for t in request.topic_data {
            for p in t.partition_data {
                if let Some(batch) = it.next() {
                    batch.encoded = Some(p.records);
                }
            }
        }
        let bytes: usize = ready.iter().map(Batch::size).sum();
        match sent {
            Ok(pending) => {
                let metrics = &self.shared.metrics;
                metrics.requests_sent.fetch_add(1, Ordering::Relaxed);
                metrics
                    .batches_sent
                    .fetch_add(ready.len() as u64, Ordering::Relaxed);
                metrics
                    .bytes_sent
                    .fetch_add(bytes as u64, Ordering::Relaxed);
                match pending {
                    Some(pending) => {
                        metrics.in_flight.fetch_add(1, Ordering::Relaxed);
                        self.push_in_flight(InFlight {
                            broker,
                            pending,
                            batches: ready,
                        });
                    }
                    None => {
                        for batch in ready {
                            self.complete(batch, Ok((-1, -1)));
                        }
                    }
                }
            }
            Err(e) => {
                debug!("cannot send Produce to broker {broker}: {e}");
                for batch in ready {
                    self.retry_or_fail(batch, e.clone());
                }
            }
        }
    }

    /// Builds (compresses) the batch on first send and stamps the producer
    /// id, epoch and sequence when idempotent.
    fn seal(&mut self, batch: &mut Batch) -> Result<()> {
        if let Some(builder) = batch.builder.take() {
            // Compress first: a batch that cannot be built takes no sequence.
            let mut prepared = builder.prepare().map_err(|e| {
                Error::encode(
                    format!(
                        "sealing a batch for `{}` partition {}",
                        batch.topic, batch.partition
                    ),
                    e,
                )
            })?;
            if let Some(spare) = prepared.take_spare_buffer() {
                // Compressed into another buffer: this one can be reused.
                self.shared.accumulator.recycle(spare);
            }
            // The header and its CRC are written once, with the producer
            // state: the CRC covers the whole batch, and this is the pass
            // that reads it.
            let (producer_id, epoch, sequence) = self
                .idempotence
                .stamp(batch)
                .unwrap_or_else(|| prepared.producer_state());
            batch.encoded = Some(prepared.finish(producer_id, epoch, sequence));
        } else if let Some((producer_id, epoch, sequence)) = self.idempotence.stamp(batch) {
            // Already encoded (a retry) and restamped since: a new epoch
            // after KIP-360's bump, or idempotence turned off.
            if let Some(encoded) = batch.encoded.as_mut() {
                rewrite_producer_state(encoded, producer_id, epoch, sequence)
                    .map_err(|e| Error::decode("stamping producer state on a batch", e))?;
            }
        }
        Ok(())
    }

    /// Fails batches that waited in the queue past `delivery_timeout`
    /// (no leader, broker unreachable).
    fn expire(&mut self) {
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

    fn fail_topic(&mut self, topic: &Arc<str>, error: Error) {
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

    fn fail_everything_queued(&mut self, error: Error) {
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
    fn died(&mut self, detail: &str) {
        let error = Error::thread_panicked("producer", super::SENDER_THREAD, detail);
        let _ = self.shared.dead.set(error.clone());
        self.shared.accumulator.close();
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
    fn abort(&mut self) {
        let error = Error::timeout(
            TimeoutKind::Flush,
            "closing the producer: close_timeout passed before the broker acknowledged; \
             the records may or may not have been written",
        );
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
        self.reporter.hand_over_last();
    }
}

/// Milliseconds since the Unix epoch, the default record timestamp.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
