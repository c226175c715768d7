//! The sender's requests: which ready batches go now (the ordering rules
//! per partition, room in flight per broker, `max_request_size`), sealing
//! them (compression, producer state), and one Produce request per leader.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::debug;

use super::super::accumulator::Batch;
use super::super::transaction::AddedPartitions;
use super::{InFlight, Sender};
use crate::cluster::TopicMetadata;
use crate::error::{Error, Result};
use crate::protocol::api::{
    PartitionProduceData, ProduceRequest, TopicProduceData, PRODUCE_BEFORE_TRANSACTIONS_V2,
};
use crate::protocol::records::rewrite_producer_state;
use crate::protocol::Request;

impl Sender {
    /// Refreshes stale topics, then sends every ready batch: retries first,
    /// then the accumulator's, one request per leader.
    pub(super) fn send_ready(&mut self) {
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
    pub(super) fn metadata_for(
        &mut self,
        topic: &Arc<str>,
        now: Instant,
    ) -> Result<Arc<TopicMetadata>> {
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
    pub(super) fn send_to(&mut self, broker: i32, mut batches: Vec<Batch>) {
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
    pub(super) fn seal(&mut self, batch: &mut Batch) -> Result<()> {
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
}
