//! The fetcher thread (`kafka-sync-fetcher`): keeps the prefetch queue full.
//!
//! It fetches whatever partitions the queue holds at the moment, of any
//! number of topics: the simple consumer's fixed set, or the balanced
//! consumer's assignment as rebalances change it. Each round it groups the
//! partitions that have room in their queue by leader and sends Fetches
//! (covering all their topics) to each leader with a free slot: up to
//! `fetches_in_flight` per leader, each for its own share of the partitions,
//! so the broker serves one while this thread decodes another; then waits
//! for whichever response comes first (or a poke from the caller: a seek, a
//! resume, room in a queue, close). Responses are decoded on this thread, so
//! the caller only pops ready messages.
//!
//! Faults stay local: a leader that cannot be reached is retried with
//! exponential backoff while the other leaders' partitions keep flowing;
//! leader errors refresh the topics' metadata (at most once per
//! `retry_backoff`) so partitions follow their new leader;
//! `OFFSET_OUT_OF_RANGE` applies the reset policy; corrupt data and
//! non-retriable errors are queued as an error for their partition, which
//! then stops until the caller seeks it.
//!
//! Beside this file: `responses` (Fetch answers into the queue), `metadata`
//! (refreshes, new and deleted partitions) and `connect` (the fetcher's own
//! connections and their backoff).
//!
//! # References
//! Kafka protocol guide, "Fetch API"; KIP-74 (fetch `max_bytes`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Select};
use log::{debug, warn};

use crate::cluster::{KafkaClient, TopicMetadata};
use crate::error::{Error, Result};
use crate::net::{Backoff, Connection, Frame, PendingResponse};
use crate::protocol::api::{
    FetchPartition, FetchRequest, FetchResponse, FetchTopic, IsolationLevel,
};
use crate::protocol::records::DecodeOptions;

use super::config::{OffsetReset, SimpleConsumerConfig};
use super::offsets::GroupCoordinator;
use super::queue::Shared;
use crate::thread::{self as worker, Joined};

/// The fetcher thread's name.
pub(crate) const FETCHER_THREAD: &str = "kafka-sync-fetcher";
/// The name of the short-lived threads that open leader connections.
const CONNECT_THREAD: &str = "kafka-sync-connect";

/// Longest the thread sleeps with nothing to do before it looks again.
const IDLE: Duration = Duration::from_secs(1);

/// Metadata refreshes in a row (each at least `retry_backoff` apart) that
/// must find a topic missing before its partitions stop with
/// [`Error::UnknownTopic`]: one answer could come from a broker whose
/// metadata lags behind the topic's creation.
const MISSING_REFRESHES: u32 = 3;

/// What the fetcher needs from the consumer's configuration.
#[derive(Debug, Clone)]
pub(crate) struct FetchSettings {
    pub min_bytes: i32,
    pub max_wait_ms: i32,
    pub partition_max_bytes: i32,
    pub max_bytes: i32,
    /// Fetches in flight per leader, each for its own share of the
    /// leader's partitions.
    pub in_flight: usize,
    pub isolation_level: IsolationLevel,
    pub decode: DecodeOptions,
    pub reset: OffsetReset,
    /// Partitions added to this topic while the consumer runs are read too.
    pub new_partitions: Option<NewPartitions>,
}

/// A topic whose partitions added later are picked up (a simple consumer
/// created for all partitions), with the group whose committed offsets they
/// start from.
#[derive(Clone)]
pub(crate) struct NewPartitions {
    pub topic: Arc<str>,
    pub coordinator: Option<Arc<GroupCoordinator>>,
}

impl std::fmt::Debug for NewPartitions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewPartitions")
            .field("topic", &self.topic)
            .field("group", &self.coordinator.is_some())
            .finish()
    }
}

impl FetchSettings {
    pub fn from_config(config: &SimpleConsumerConfig) -> Self {
        FetchSettings {
            min_bytes: config.fetch_min_bytes,
            max_wait_ms: i32::try_from(config.fetch_max_wait.as_millis()).unwrap_or(i32::MAX),
            // More than the queue can take would be fetched again.
            partition_max_bytes: config
                .max_partition_fetch_bytes
                .min(i32::try_from(config.queued_max_bytes).unwrap_or(i32::MAX)),
            // Two whole fetches may be in flight besides the queue's bound.
            max_bytes: config
                .fetch_max_bytes
                .min(i32::try_from(config.queued_max_bytes).unwrap_or(i32::MAX)),
            in_flight: config.fetches_in_flight,
            isolation_level: config.isolation_level,
            decode: DecodeOptions::default().with_check_crcs(config.check_crcs),
            reset: config.auto_offset_reset,
            new_partitions: None,
        }
    }
}

/// A running fetcher thread.
#[derive(Debug)]
pub(crate) struct FetcherHandle {
    thread: worker::Handle,
}

impl FetcherHandle {
    /// Closes `shared` and waits until `deadline` for the thread to end; a
    /// thread still stuck in a blocking call then is detached (it exits as
    /// soon as the call returns).
    pub fn stop(self, shared: &Shared, deadline: Instant) {
        shared.close();
        if self.thread.join_until(deadline) == Joined::Detached {
            warn!(
                "fetcher thread of {} did not stop by the close deadline; leaving it to exit on its own",
                shared.label
            );
        }
    }
}

/// Starts the fetcher thread for `shared`'s partitions.
pub(crate) fn spawn(
    client: KafkaClient,
    shared: Arc<Shared>,
    wake: Receiver<()>,
    settings: FetchSettings,
) -> Result<FetcherHandle> {
    let backoff = Backoff {
        initial: client.config().reconnect_backoff,
        max: client.config().reconnect_backoff_max,
    };
    let retry_backoff = client.config().retry_backoff;
    let mut fetcher = Fetcher {
        client,
        shared,
        wake,
        settings,
        backoff,
        retry_backoff,
        meta: HashMap::new(),
        metadata_stale: true,
        last_refresh: None,
        missing: HashMap::new(),
        in_flight: Vec::new(),
        conns: HashMap::new(),
        connecting: HashMap::new(),
        connect_threads: HashMap::new(),
        leader_failures: HashMap::new(),
        partition_retry_at: HashMap::new(),
    };
    let thread = worker::spawn(FETCHER_THREAD, move || {
        if let Err(detail) = worker::catch(FETCHER_THREAD, || fetcher.run()) {
            // The caller would otherwise wait for messages that never come.
            fetcher.shared.fail_for_good(Error::thread_panicked(
                "consumer",
                FETCHER_THREAD,
                detail,
            ));
        }
        fetcher.detach_connect_threads();
    })?;
    Ok(FetcherHandle { thread })
}

/// A topic and partition, as the fetcher keys its per-partition state.
type Key = (Arc<str>, i32);

/// One partition of a Fetch in flight, with the position it was sent at.
#[derive(Debug, Clone)]
struct Sent {
    topic: Arc<str>,
    partition: i32,
    offset: i64,
    epoch: u64,
}

impl Sent {
    fn key(&self) -> Key {
        (Arc::clone(&self.topic), self.partition)
    }
}

struct InFlight {
    pending: PendingResponse<FetchRequest>,
    parts: Vec<Sent>,
}

struct Fetcher {
    client: KafkaClient,
    shared: Arc<Shared>,
    wake: Receiver<()>,
    settings: FetchSettings,
    backoff: Backoff,
    retry_backoff: Duration,
    /// Metadata of the topics being fetched.
    meta: HashMap<Arc<str>, Arc<TopicMetadata>>,
    metadata_stale: bool,
    last_refresh: Option<Instant>,
    /// Metadata refreshes in a row that found a fetched topic missing.
    missing: HashMap<Arc<str>, u32>,
    /// Fetches in flight, with their leader: at most `settings.in_flight`
    /// per leader, for different partitions.
    in_flight: Vec<(i32, InFlight)>,
    /// The fetcher's own connections to leaders (outside the pool; see
    /// `start_connecting`), and connections being opened on a helper
    /// thread (so an unreachable host never stalls the other leaders).
    conns: HashMap<i32, Arc<Connection>>,
    connecting: HashMap<i32, Receiver<Result<Arc<Connection>>>>,
    connect_threads: HashMap<i32, worker::Handle>,
    /// Consecutive failures of a leader and when to try it again.
    leader_failures: HashMap<i32, (u32, Instant)>,
    /// Partitions waiting out a retriable error.
    partition_retry_at: HashMap<Key, Instant>,
}

type FetchResult = Result<(FetchResponse, Frame)>;

/// What woke the fetcher.
enum Arrived {
    Nothing,
    /// The response of `in_flight[i]`.
    Response(usize, Result<Frame>),
    Connection(i32, Result<Arc<Connection>>),
}

impl Fetcher {
    fn run(&mut self) {
        debug!("fetcher for {} started", self.shared.label);
        while !self.shared.is_closed() {
            #[cfg(test)]
            if self
                .shared
                .panic_fetcher_for_test
                .load(std::sync::atomic::Ordering::SeqCst)
            {
                panic!("test hook: the fetcher thread panics");
            }
            self.refresh_metadata();
            self.decode_pending();
            self.send_fetches();
            self.wait_and_handle();
        }
        debug!("fetcher for {} stopped", self.shared.label);
    }

    /// Makes more messages of partly handed-out batches (see
    /// `decode::PendingBatch`) for partitions whose queue is down to half its
    /// byte bound, decoding outside the lock.
    fn decode_pending(&mut self) {
        let limits = self.shared.limits;
        let mut work = Vec::new();
        {
            let mut state = self.shared.lock();
            for p in &mut state.partitions {
                if p.paused || p.pending.is_none() || !p.has_room(limits) {
                    continue;
                }
                if let Some(pending) = p.pending.take() {
                    let key: Key = (Arc::clone(&p.topic), p.id);
                    work.push((key, p.epoch, p.byte_room(limits), pending));
                }
            }
        }
        if work.is_empty() {
            return;
        }
        for ((topic, id), epoch, budget, mut pending) in work {
            let decoded = pending.decode(budget);
            let mut state = self.shared.lock();
            let Some(p) = state.partition_mut(&topic, id) else {
                continue;
            };
            if p.epoch != epoch {
                continue;
            }
            let (messages, bytes, failed) = decoded;
            p.push_messages(messages, bytes);
            match failed {
                None => {
                    if pending.is_done() {
                        p.resume_at = None;
                    } else {
                        p.resume_at = Some(pending.next_offset);
                        p.pending = Some(pending);
                        p.waiting_for_room = true;
                    }
                }
                Some(e) => {
                    let offset = pending.next_offset;
                    p.resume_at = None;
                    let error = Error::decode(
                        format!(
                            "fetching topic `{topic}` partition {id}: corrupt data at offset {offset}"
                        ),
                        e,
                    );
                    log::error!("{error}");
                    p.fail(Some(offset), error);
                }
            }
        }
        let again = self
            .shared
            .lock()
            .partitions
            .iter()
            .any(|p| !p.paused && p.pending.is_some() && p.has_room(limits));
        self.shared.notify_ready();
        if again {
            // The caller emptied the queue while this thread decoded.
            self.shared.poke_fetcher();
        }
    }

    /// Sends a Fetch to every leader that has fetchable partitions and no
    /// Fetch in flight.
    fn send_fetches(&mut self) {
        let now = Instant::now();
        let busy: HashSet<Key> = self
            .in_flight
            .iter()
            .flat_map(|(_, f)| f.parts.iter().map(Sent::key))
            .collect();
        let mut by_leader: BTreeMap<i32, Vec<Sent>> = BTreeMap::new();
        // Leaders with a partition whose queue is full, and leaders with a
        // partition known to have records past its fetch offset.
        let mut blocked: HashSet<i32> = HashSet::new();
        let mut has_data: HashSet<i32> = HashSet::new();
        {
            let mut state = self.shared.lock();
            for p in &mut state.partitions {
                let Some(offset) = p.fetch_offset else {
                    continue;
                };
                let key = (Arc::clone(&p.topic), p.id);
                if p.paused || p.halted || busy.contains(&key) {
                    continue;
                }
                if p.resume_at.is_some() {
                    // A batch is still being handed out (`decode_pending`).
                    if !p.has_room(self.shared.limits) {
                        p.waiting_for_room = true;
                    }
                    continue;
                }
                if self.partition_retry_at.get(&key).is_some_and(|&t| t > now) {
                    continue;
                }
                let leader = self
                    .meta
                    .get(&p.topic)
                    .and_then(|m| m.partition(p.id))
                    .and_then(|m| m.leader);
                let Some(leader) = leader else {
                    self.metadata_stale = true;
                    continue;
                };
                if !p.has_room(self.shared.limits) {
                    p.waiting_for_room = true;
                    blocked.insert(leader);
                    continue;
                }
                let leader_waits = self
                    .leader_failures
                    .get(&leader)
                    .is_some_and(|&(_, t)| t > now);
                let leader_busy = self.fetches_to(leader) >= self.settings.in_flight
                    || self.connecting.contains_key(&leader);
                if leader_busy || leader_waits {
                    continue;
                }
                if p.high_watermark < 0 || offset < p.high_watermark {
                    has_data.insert(leader);
                }
                by_leader.entry(leader).or_default().push(Sent {
                    topic: Arc::clone(&p.topic),
                    partition: p.id,
                    offset,
                    epoch: p.epoch,
                });
            }
        }
        // A fetch of caught-up partitions only is a long poll that would hold
        // the leader's one fetch slot for up to `fetch_max_wait`; while a
        // partition of that leader waits for room in its queue, it is better
        // sent together with that partition once the caller makes room.
        by_leader.retain(|leader, _| !blocked.contains(leader) || has_data.contains(leader));
        for (leader, parts) in by_leader {
            // Split among the free fetch slots, so that the broker serves one
            // share while this thread decodes another's response.
            let slots = self
                .settings
                .in_flight
                .saturating_sub(self.fetches_to(leader));
            let chunk = parts.len().div_ceil(slots.clamp(1, parts.len().max(1)));
            for share in parts.chunks(chunk.max(1)) {
                self.send(leader, share.to_vec());
            }
        }
    }

    /// Fetches in flight to `leader`.
    fn fetches_to(&self, leader: i32) -> usize {
        self.in_flight.iter().filter(|(l, _)| *l == leader).count()
    }

    fn send(&mut self, leader: i32, parts: Vec<Sent>) {
        // `parts` comes sorted by topic, so each topic's partitions are
        // consecutive.
        let mut topics: Vec<FetchTopic> = Vec::new();
        for s in &parts {
            let partition = FetchPartition {
                partition: s.partition,
                fetch_offset: s.offset,
                partition_max_bytes: self.settings.partition_max_bytes,
                ..FetchPartition::default()
            };
            match topics.last_mut() {
                Some(t) if *t.topic == *s.topic => t.partitions.push(partition),
                _ => topics.push(FetchTopic {
                    topic: s.topic.to_string(),
                    topic_id: self.meta.get(&s.topic).map_or([0; 16], |m| m.topic_id),
                    partitions: vec![partition],
                }),
            }
        }
        let request = FetchRequest {
            max_wait_ms: self.settings.max_wait_ms,
            min_bytes: self.settings.min_bytes,
            max_bytes: self.settings.max_bytes,
            isolation_level: self.settings.isolation_level,
            topics,
            ..FetchRequest::default()
        };
        let conn = match self.conns.get(&leader) {
            Some(conn) if !conn.is_closed() => Arc::clone(conn),
            _ => {
                self.conns.remove(&leader);
                if !self.connecting.contains_key(&leader) {
                    self.start_connecting(leader);
                }
                return;
            }
        };
        // KIP-368: the broker will soon close this session. A replacement is
        // opened in the background while this one goes on serving; it takes
        // over when it arrives (and the old one is retired, so a Fetch still
        // in flight on it gets its answer).
        if conn.session_expiring() && !self.connecting.contains_key(&leader) {
            debug!("broker {leader}: SASL session nearly over, opening a replacement connection");
            self.start_connecting(leader);
        }
        match conn.send(&request) {
            Ok(pending) => {
                debug!(
                    "fetch from broker {leader}: {:?}",
                    parts
                        .iter()
                        .map(|s| (&*s.topic, s.partition, s.offset))
                        .collect::<Vec<_>>()
                );
                self.in_flight.push((leader, InFlight { pending, parts }));
            }
            Err(e) => {
                self.conns.remove(&leader);
                self.leader_failed(leader, &e);
            }
        }
    }

    /// When the thread must look again even if nothing arrives.
    fn next_wakeup(&self, now: Instant) -> Instant {
        let mut at = now + IDLE;
        if self.metadata_stale {
            at = at.min(
                self.last_refresh
                    .map_or(now, |t| crate::time::add(t, self.retry_backoff))
                    .max(now),
            );
        }
        let retries = self
            .leader_failures
            .values()
            .map(|&(_, t)| t)
            .chain(self.partition_retry_at.values().copied())
            .filter(|&t| t > now);
        for t in retries {
            at = at.min(t);
        }
        for (_, f) in &self.in_flight {
            at = at.min(f.pending.deadline());
        }
        at
    }

    /// Waits for a response, a poke or the next retry time, and handles
    /// what came.
    fn wait_and_handle(&mut self) {
        let now = Instant::now();
        let wake_at = self.next_wakeup(now);
        let flights = self.in_flight.len();
        let dialling: Vec<i32> = self.connecting.keys().copied().collect();
        let arrived = {
            let mut select = Select::new();
            for (_, flight) in &self.in_flight {
                select.recv(flight.pending.receiver());
            }
            for leader in &dialling {
                select.recv(&self.connecting[leader]);
            }
            let wake_index = select.recv(&self.wake);
            match select.select_deadline(wake_at) {
                Ok(op) if op.index() == wake_index => {
                    let _ = op.recv(&self.wake);
                    Arrived::Nothing
                }
                Ok(op) if op.index() < flights => {
                    let i = op.index();
                    let frame = op.recv(self.in_flight[i].1.pending.receiver());
                    Arrived::Response(i, frame.unwrap_or(Err(Error::Closed("connection"))))
                }
                Ok(op) => {
                    let leader = dialling[op.index() - flights];
                    let conn = op.recv(&self.connecting[&leader]);
                    Arrived::Connection(
                        leader,
                        conn.unwrap_or(Err(Error::Closed("connect thread"))),
                    )
                }
                Err(_) => Arrived::Nothing,
            }
        };
        match arrived {
            Arrived::Response(i, frame) => {
                let (leader, flight) = self.in_flight.remove(i);
                let result = flight.pending.decode_keeping_frame(frame);
                self.handle(leader, &flight.parts, result);
            }
            Arrived::Connection(leader, conn) => {
                self.connecting.remove(&leader);
                self.join_connect_thread(leader);
                match conn {
                    Ok(conn) => {
                        if let Some(old) = self.conns.insert(leader, conn) {
                            old.retire();
                        }
                    }
                    Err(e) => self.leader_failed(leader, &e),
                }
            }
            Arrived::Nothing => {}
        }
        let now = Instant::now();
        while let Some(i) = self
            .in_flight
            .iter()
            .position(|(_, f)| f.pending.deadline() <= now)
        {
            let (leader, flight) = self.in_flight.remove(i);
            // Past its deadline: returns at once, closing the connection
            // if the response is still missing.
            let result = flight.pending.wait_keeping_frame();
            self.handle(leader, &flight.parts, result);
        }
        self.partition_retry_at.retain(|_, t| *t > now);
    }
}

mod connect;
mod metadata;
mod responses;
