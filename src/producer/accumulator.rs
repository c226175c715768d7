//! The record accumulator: per-partition batches between `produce` and the
//! sender thread, and the `buffer_memory` bound.
//!
//! `produce` encodes each record straight into its partition's open batch
//! (a [`BatchBuilder`]) under one short lock. A batch is sealed when the next
//! record would take it past `batch_size`; it is *ready* once sealed, once
//! `linger` has passed since its first record, or at once while someone
//! flushes, closes, or waits synchronously on one of its records. The sender
//! thread takes ready batches out (at most one per partition per request, as
//! the Java producer does) and compresses them outside the lock.
//!
//! Memory is counted per record when it is accepted and given back when its
//! report has been handed over, so the bound covers queued, in-flight and
//! unread-report records alike. `produce` waits on a condition variable for
//! room, up to `max_block`.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use parking_lot::{Condvar, Mutex};

use super::record::{Record, RecordMetadata};
use crate::error::{Error, Result, TimeoutKind};
use crate::protocol::records::{BatchBuilder, BatchOptions, Compression};

/// Who learns the outcome of a record.
pub(crate) enum Completion {
    /// A delivery report carrying the record.
    Report(Record),
    /// A synchronous caller waiting on a one-shot channel.
    Sync(Sender<Result<RecordMetadata>>, i64),
}

/// What the caller of `produce` wants to hear about a record.
pub(crate) enum Want {
    /// Nothing (delivery reports off): failures are logged and counted.
    Nothing,
    /// A delivery report.
    Report,
    /// The outcome on this one-shot channel (sync mode).
    Sync(Sender<Result<RecordMetadata>>),
}

/// A batch of one partition's records, open, sealed, in flight or retrying.
pub(crate) struct Batch {
    pub topic: Arc<str>,
    pub partition: i32,
    /// Records are appended here until the sender seals the batch.
    pub builder: Option<BatchBuilder>,
    /// The sealed bytes, kept for retries.
    pub encoded: Option<Vec<u8>>,
    pub record_count: usize,
    /// Completions of records that want one, by offset delta.
    pub completions: Vec<(i32, Completion)>,
    /// Bytes counted against `buffer_memory`.
    pub memory: usize,
    pub created: Instant,
    pub attempts: u32,
    pub retry_at: Option<Instant>,
    pub base_sequence: Option<i32>,
    /// The producer id and epoch `base_sequence` belongs to.
    pub stamped: Option<(i64, i16)>,
    /// The producer state was reassigned (sequences restarted after an
    /// epoch bump) since it was written into `encoded`.
    pub restamped: bool,
    /// Position among the batches the sender drained, so that retries of
    /// a partition go out in the order the batches were first sent.
    pub order: u64,
    /// Someone waits synchronously on a record: send without lingering.
    pub urgent: bool,
    pub last_error: Option<Error>,
    /// Where the batch's completions go if it is dropped without being
    /// completed (it unwound with a panicking sender thread).
    pub orphans: Option<Orphans>,
}

/// The completions of batches dropped before their outcome was reported.
pub(crate) type Orphans = Arc<Mutex<Vec<Orphan>>>;

/// A dropped batch's records that still await a report.
pub(crate) struct Orphan {
    pub topic: Arc<str>,
    pub partition: i32,
    pub completions: Vec<(i32, Completion)>,
    pub record_count: usize,
    pub memory: usize,
}

impl Drop for Batch {
    fn drop(&mut self) {
        // Completed batches have handed their completions over; only a batch
        // lost in an unwinding sender thread gets here with some left.
        if self.completions.is_empty() {
            return;
        }
        if let Some(orphans) = &self.orphans {
            orphans.lock().push(Orphan {
                topic: Arc::clone(&self.topic),
                partition: self.partition,
                completions: std::mem::take(&mut self.completions),
                record_count: self.record_count,
                memory: self.memory,
            });
        }
    }
}

impl Batch {
    /// A batch writing into `buffer` if one is given (a spare one, see
    /// [`Accumulator::complete`]), else into a new one of `capacity` bytes.
    pub(crate) fn new(
        topic: &Arc<str>,
        partition: i32,
        options: BatchOptions,
        capacity: usize,
        buffer: Option<Vec<u8>>,
    ) -> Batch {
        let builder = match buffer {
            Some(buffer) => BatchBuilder::with_buffer(options, buffer),
            None => BatchBuilder::with_capacity(options, capacity),
        };
        Batch {
            topic: Arc::clone(topic),
            partition,
            builder: Some(builder),
            encoded: None,
            record_count: 0,
            completions: Vec::new(),
            memory: 0,
            created: Instant::now(),
            attempts: 0,
            retry_at: None,
            base_sequence: None,
            stamped: None,
            restamped: false,
            order: 0,
            urgent: false,
            last_error: None,
            orphans: None,
        }
    }

    /// Uncompressed size so far (or sealed size).
    pub fn size(&self) -> usize {
        match (&self.builder, &self.encoded) {
            (Some(b), _) => b.size_in_bytes(),
            (None, Some(e)) => e.len(),
            (None, None) => 0,
        }
    }
}

#[derive(Default)]
struct PartitionQueue {
    open: Option<Batch>,
    sealed: VecDeque<Batch>,
}

#[derive(Default)]
struct State {
    topics: HashMap<Arc<str>, Vec<PartitionQueue>>,
    used_memory: usize,
    /// Records accepted and not yet reported.
    incomplete: usize,
    /// Bytes and records still in the accumulator (not yet drained).
    queued_records: usize,
    queued_bytes: usize,
    flushing: usize,
    closing: bool,
    /// The sender thread died: nothing will complete any more.
    dead: bool,
    /// Buffers of completed batches, for new batches to write into: a
    /// fresh `batch_size` buffer is mapped by the allocator and faulted
    /// in page by page, a reused one is not. At most [`SPARE_BUFFERS`].
    spare: Vec<Vec<u8>>,
    /// Emptied completion lists of reported batches, kept the same way: a
    /// batch of small records holds thousands, and growing a new list for
    /// each batch reallocated it a dozen times.
    spare_completions: Vec<Vec<(i32, Completion)>>,
}

/// Batch buffers kept for reuse: enough for the batches that open while
/// others are in flight, few enough to stay a small part of the memory
/// (2 MiB with the default `batch_size`).
const SPARE_BUFFERS: usize = 8;

/// Settings the accumulator needs.
pub(crate) struct AccumulatorConfig {
    pub batch_size: usize,
    pub linger: Duration,
    pub buffer_memory: usize,
    pub compression: Compression,
    pub compression_level: Option<i32>,
    /// Batches are part of transactions (the batch attribute bit).
    pub transactional: bool,
}

/// Per-partition batches and the memory bound; shared by the callers of
/// `produce` and the sender thread.
pub(crate) struct Accumulator {
    config: AccumulatorConfig,
    state: Mutex<State>,
    /// Signalled when memory is released (producers waiting for room).
    space: Condvar,
    /// Signalled when records complete (flush and close waiting).
    done: Condvar,
    /// Completions of batches dropped unreported (see [`Orphan`]).
    pub orphans: Orphans,
}

/// What an append did, so the caller can wake the sender only when needed.
pub(crate) struct Appended {
    /// A batch became ready or a new one started: the sender should look.
    pub wake: bool,
}

impl Accumulator {
    pub(crate) fn new(config: AccumulatorConfig) -> Self {
        Accumulator {
            config,
            state: Mutex::new(State::default()),
            space: Condvar::new(),
            done: Condvar::new(),
            orphans: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Appends `record` to `topic`/`partition`'s open batch, waiting until
    /// `deadline` for room in the buffer.
    #[cfg(test)]
    pub(crate) fn append(
        &self,
        topic: &Arc<str>,
        partition: i32,
        timestamp: i64,
        record: Record,
        want: Want,
        deadline: Instant,
    ) -> Result<Appended> {
        let memory = record.memory_size();
        self.append_by(topic, partition, timestamp, record, memory, want, || {
            deadline
        })
    }

    /// Appends `record`, of `memory` bytes (its
    /// [`memory_size`](Record::memory_size)), to `topic`/`partition`'s open
    /// batch, waiting until `deadline()` for room in the buffer; the
    /// deadline is asked for only if it has to wait (it reads the clock).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn append_by(
        &self,
        topic: &Arc<str>,
        partition: i32,
        timestamp: i64,
        record: Record,
        memory: usize,
        want: Want,
        deadline: impl Fn() -> Instant,
    ) -> Result<Appended> {
        let mut state = self.state.lock();
        let mut until = None;
        // A record bigger than the whole buffer is refused by the caller
        // before this; an empty buffer always takes one record.
        while state.used_memory > 0 && state.used_memory + memory > self.config.buffer_memory {
            if state.closing {
                return Err(Error::Closed("producer"));
            }
            let deadline = *until.get_or_insert_with(&deadline);
            if self.space.wait_until(&mut state, deadline).timed_out()
                && state.used_memory + memory > self.config.buffer_memory
            {
                return Err(Error::timeout(
                    TimeoutKind::MaxBlock,
                    format!(
                        "waiting for room in the producer's buffer ({} of {} bytes used); \
                         the brokers are not keeping up or are unreachable; \
                         raise buffer_memory or max_block, or produce more slowly",
                        state.used_memory, self.config.buffer_memory
                    ),
                ));
            }
        }
        if state.closing {
            return Err(Error::Closed("producer"));
        }
        let state = &mut *state;
        // Looked up by name: cloning the `Arc` for `entry` on every record
        // bounced its count's cache line between the callers and the sender.
        let queues = match state.topics.get_mut(&**topic) {
            Some(queues) => queues,
            None => state.topics.entry(Arc::clone(topic)).or_default(),
        };
        let index = usize::try_from(partition).unwrap_or(0);
        if queues.len() <= index {
            queues.resize_with(index + 1, PartitionQueue::default);
        }
        let queue = &mut queues[index];
        let headers = || {
            record
                .headers
                .as_slice()
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_deref()))
        };
        let key = record.key.as_deref();
        let value = record.value.as_deref();
        let mut wake = false;
        let fits = queue.open.as_ref().map(|b| {
            let builder = b.builder.as_ref().expect("an open batch has a builder");
            builder.record_count() == 0
                || builder.size_after_with(timestamp, key, value, headers())
                    <= self.config.batch_size
        });
        if fits == Some(false) {
            let full = queue.open.take().expect("checked above");
            queue.sealed.push_back(full);
            wake = true;
        }
        let orphans = &self.orphans;
        let spare = &mut state.spare;
        let spare_completions = &mut state.spare_completions;
        let batch = queue.open.get_or_insert_with(|| {
            wake = true;
            let mut batch = Batch::new(
                topic,
                partition,
                BatchOptions::default()
                    .with_compression(self.config.compression, self.config.compression_level)
                    .with_transactional(self.config.transactional),
                self.config.batch_size,
                spare.pop(),
            );
            batch.orphans = Some(Arc::clone(orphans));
            batch.completions = spare_completions.pop().unwrap_or_default();
            batch
        });
        let builder = batch.builder.as_mut().expect("an open batch has a builder");
        let delta = builder
            .append_with(timestamp, key, value, headers())
            .map_err(|e| Error::encode(format!("encoding a record for `{topic}`"), e))?;
        batch.record_count += 1;
        batch.memory += memory;
        let size = builder.size_in_bytes();
        match want {
            Want::Nothing => {}
            Want::Report => {
                let record = Record {
                    partition: Some(partition),
                    timestamp: Some(timestamp),
                    ..record
                };
                batch.completions.push((delta, Completion::Report(record)));
            }
            Want::Sync(tx) => {
                batch.urgent = true;
                wake = true;
                batch
                    .completions
                    .push((delta, Completion::Sync(tx, timestamp)));
            }
        }
        state.used_memory += memory;
        state.incomplete += 1;
        state.queued_records += 1;
        state.queued_bytes += memory;
        if size >= self.config.batch_size {
            let full = queue.open.take().expect("appended above");
            queue.sealed.push_back(full);
            wake = true;
        }
        Ok(Appended { wake })
    }

    /// Takes at most one ready batch per partition, for which
    /// `accept(topic, partition, size)` says yes (the sender checks leaders,
    /// in-flight limits and request size there).
    pub(crate) fn drain(
        &self,
        now: Instant,
        mut accept: impl FnMut(&Arc<str>, i32, usize) -> bool,
    ) -> Vec<Batch> {
        let mut out = Vec::new();
        let mut state = self.state.lock();
        let state = &mut *state;
        let hurry = state.flushing > 0 || state.closing;
        for (topic, queues) in state.topics.iter_mut() {
            for (index, queue) in queues.iter_mut().enumerate() {
                let partition = index as i32;
                let ready_open = queue.open.as_ref().is_some_and(|b| {
                    hurry || b.urgent || now >= crate::time::add(b.created, self.config.linger)
                });
                let size = if let Some(front) = queue.sealed.front() {
                    front.size()
                } else if ready_open {
                    queue.open.as_ref().map_or(0, Batch::size)
                } else {
                    continue;
                };
                if !accept(topic, partition, size) {
                    continue;
                }
                let batch = match queue.sealed.pop_front() {
                    Some(b) => b,
                    None => match queue.open.take() {
                        Some(b) => b,
                        None => continue,
                    },
                };
                state.queued_records -= batch.record_count;
                state.queued_bytes -= batch.memory;
                out.push(batch);
            }
        }
        out
    }

    /// When the next open batch's linger runs out (`None`: nothing lingering;
    /// `now` if something is ready already).
    pub(crate) fn next_ready_at(&self, now: Instant) -> Option<Instant> {
        let state = self.state.lock();
        let hurry = state.flushing > 0 || state.closing;
        let mut next: Option<Instant> = None;
        for queue in state.topics.values().flatten() {
            let at = if !queue.sealed.is_empty() {
                Some(now)
            } else {
                queue.open.as_ref().map(|b| {
                    if hurry || b.urgent {
                        now
                    } else {
                        crate::time::add(b.created, self.config.linger)
                    }
                })
            };
            if let Some(at) = at {
                next = Some(next.map_or(at, |n| n.min(at)));
            }
        }
        next
    }

    /// Gives back the memory of completed records and wakes waiters; keeps
    /// `buffer`, the completed batch's, for a new batch (see
    /// [`recycle`](Self::recycle)).
    /// `completions`, an emptied completion list, is kept likewise.
    pub(crate) fn complete(
        &self,
        records: usize,
        memory: usize,
        buffer: Option<Vec<u8>>,
        completions: Vec<(i32, Completion)>,
    ) {
        let buffer = buffer.filter(|b| self.reusable(b.capacity()));
        let mut state = self.state.lock();
        state.used_memory = state.used_memory.saturating_sub(memory);
        state.incomplete = state.incomplete.saturating_sub(records);
        if let Some(buffer) = buffer {
            keep_spare(&mut state, buffer);
        }
        if completions.capacity() > 0
            && completions.is_empty()
            && state.spare_completions.len() < SPARE_BUFFERS
        {
            state.spare_completions.push(completions);
        }
        drop(state);
        self.space.notify_all();
        self.done.notify_all();
    }

    /// Keeps `buffer` for a new batch if it is the size batches start with
    /// (not a compressed batch's smaller one, nor one a large record grew)
    /// and fewer than [`SPARE_BUFFERS`] are kept.
    pub(crate) fn recycle(&self, buffer: Vec<u8>) {
        if self.reusable(buffer.capacity()) {
            keep_spare(&mut self.state.lock(), buffer);
        }
    }

    fn reusable(&self, capacity: usize) -> bool {
        let wanted = crate::protocol::records::BATCH_HEADER_LEN + self.config.batch_size;
        (wanted..=wanted.saturating_mul(2)).contains(&capacity)
    }

    /// Waits until every accepted record has completed; `false` on timeout.
    /// Batches are sent without lingering meanwhile.
    pub(crate) fn flush(&self, deadline: Instant, wake: impl Fn()) -> bool {
        let mut state = self.state.lock();
        state.flushing += 1;
        drop(state);
        wake();
        let mut state = self.state.lock();
        while state.incomplete > 0 && !state.dead {
            if self.done.wait_until(&mut state, deadline).timed_out() {
                break;
            }
        }
        state.flushing -= 1;
        state.incomplete == 0
    }

    /// Refuses further records; queued ones are sent without lingering.
    pub(crate) fn close(&self) {
        self.state.lock().closing = true;
        self.space.notify_all();
    }

    /// The sender thread died and what it could reach is reported: refuses
    /// records like [`close`](Self::close), forgets the records nobody can
    /// complete any more (their completions unwound with the thread) and
    /// wakes every waiter. Returns how many were forgotten.
    pub(crate) fn kill(&self) -> usize {
        let mut state = self.state.lock();
        state.closing = true;
        state.dead = true;
        let lost = std::mem::take(&mut state.incomplete);
        drop(state);
        self.space.notify_all();
        self.done.notify_all();
        lost
    }

    /// Whether [`close`](Self::close) was called.
    pub(crate) fn is_closing(&self) -> bool {
        self.state.lock().closing
    }

    /// Records accepted and not yet completed.
    pub(crate) fn incomplete(&self) -> usize {
        self.state.lock().incomplete
    }

    /// Takes every batch still queued, ready or not (closing after the
    /// deadline, to fail them).
    pub(crate) fn take_all(&self) -> Vec<Batch> {
        let mut state = self.state.lock();
        let mut out = Vec::new();
        for queue in state.topics.values_mut().flatten() {
            out.extend(queue.sealed.drain(..));
            out.extend(queue.open.take());
        }
        state.queued_records = 0;
        state.queued_bytes = 0;
        out
    }

    /// The topics with queued batches.
    pub(crate) fn topics(&self) -> Vec<Arc<str>> {
        let state = self.state.lock();
        state
            .topics
            .iter()
            .filter(|(_, queues)| {
                queues
                    .iter()
                    .any(|q| q.open.is_some() || !q.sealed.is_empty())
            })
            .map(|(t, _)| Arc::clone(t))
            .collect()
    }

    /// Takes the batches `pick` selects: those of a topic that disappeared,
    /// or older than `delivery_timeout` (they never got a leader).
    pub(crate) fn take_where(&self, mut pick: impl FnMut(&Batch) -> bool) -> Vec<Batch> {
        let mut state = self.state.lock();
        let state = &mut *state;
        let mut out = Vec::new();
        for queue in state.topics.values_mut().flatten() {
            let mut kept = VecDeque::with_capacity(queue.sealed.len());
            for batch in queue.sealed.drain(..) {
                if pick(&batch) {
                    out.push(batch);
                } else {
                    kept.push_back(batch);
                }
            }
            queue.sealed = kept;
            if queue.open.as_ref().is_some_and(&mut pick) {
                out.extend(queue.open.take());
            }
        }
        for batch in &out {
            state.queued_records -= batch.record_count;
            state.queued_bytes -= batch.memory;
        }
        out
    }

    /// Takes the batches created before `cutoff`: they waited past
    /// `delivery_timeout` without a leader to send them to. Queues are in
    /// creation order, so only their fronts are looked at.
    pub(crate) fn take_expired(&self, cutoff: Instant) -> Vec<Batch> {
        let mut state = self.state.lock();
        let state = &mut *state;
        let mut out = Vec::new();
        for queue in state.topics.values_mut().flatten() {
            while queue.sealed.front().is_some_and(|b| b.created < cutoff) {
                out.extend(queue.sealed.pop_front());
            }
            if queue.sealed.is_empty() && queue.open.as_ref().is_some_and(|b| b.created < cutoff) {
                out.extend(queue.open.take());
            }
        }
        for batch in &out {
            state.queued_records -= batch.record_count;
            state.queued_bytes -= batch.memory;
        }
        out
    }

    /// Records and bytes not yet handed to the sender, and bytes held overall.
    pub(crate) fn usage(&self) -> (usize, usize, usize) {
        let state = self.state.lock();
        (state.queued_records, state.queued_bytes, state.used_memory)
    }
}

fn keep_spare(state: &mut State, buffer: Vec<u8>) {
    if state.spare.len() < SPARE_BUFFERS {
        state.spare.push(buffer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accumulator(batch_size: usize, buffer_memory: usize) -> Accumulator {
        Accumulator::new(AccumulatorConfig {
            batch_size,
            linger: Duration::from_millis(50),
            buffer_memory,
            compression: Compression::None,
            compression_level: None,
            transactional: false,
        })
    }

    fn topic() -> Arc<str> {
        Arc::from("t")
    }

    fn far() -> Instant {
        Instant::now() + Duration::from_secs(5)
    }

    #[test]
    fn a_lingering_batch_is_not_ready_until_linger_passes() {
        let acc = accumulator(16384, 1 << 20);
        let t0 = Instant::now();
        acc.append(&topic(), 0, 1, Record::new(b"v"), Want::Nothing, far())
            .unwrap();
        assert!(acc.drain(t0, |_, _, _| true).is_empty());
        let later = t0 + Duration::from_millis(60);
        let batches = acc.drain(later, |_, _, _| true);
        assert_eq!(batches.len(), 1);
        assert_eq!(batches[0].record_count, 1);
    }

    #[test]
    fn a_full_batch_is_sealed_and_ready_at_once() {
        let acc = accumulator(200, 1 << 20);
        for _ in 0..5 {
            acc.append(
                &topic(),
                2,
                1,
                Record::new(vec![0u8; 50]),
                Want::Nothing,
                far(),
            )
            .unwrap();
        }
        let batches = acc.drain(Instant::now(), |_, p, _| p == 2);
        assert_eq!(batches.len(), 1, "one batch per partition per drain");
        assert!(batches[0].size() <= 200);
        assert!(batches[0].record_count >= 1);
        // The next sealed batch comes with the next drain.
        assert_eq!(acc.drain(Instant::now(), |_, _, _| true).len(), 1);
    }

    #[test]
    fn a_record_larger_than_batch_size_travels_alone() {
        let acc = accumulator(100, 1 << 20);
        acc.append(
            &topic(),
            0,
            1,
            Record::new(vec![1u8; 500]),
            Want::Nothing,
            far(),
        )
        .unwrap();
        let batches = acc.drain(Instant::now(), |_, _, _| true);
        assert_eq!(batches.len(), 1);
        assert_eq!(batches[0].record_count, 1);
    }

    #[test]
    fn a_full_buffer_blocks_then_fails_with_max_block() {
        let acc = accumulator(16384, 1000);
        acc.append(
            &topic(),
            0,
            1,
            Record::new(vec![0u8; 900]),
            Want::Nothing,
            far(),
        )
        .unwrap();
        let start = Instant::now();
        let deadline = start + Duration::from_millis(100);
        let e = acc
            .append(
                &topic(),
                0,
                1,
                Record::new(vec![0u8; 900]),
                Want::Nothing,
                deadline,
            )
            .err()
            .expect("no room");
        assert!(start.elapsed() >= Duration::from_millis(100));
        assert!(
            matches!(
                e,
                Error::Timeout {
                    kind: TimeoutKind::MaxBlock,
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn completed_records_free_room_for_blocked_producers() {
        let acc = Arc::new(accumulator(16384, 1000));
        acc.append(
            &topic(),
            0,
            1,
            Record::new(vec![0u8; 900]),
            Want::Nothing,
            far(),
        )
        .unwrap();
        let freer = Arc::clone(&acc);
        let t = std::thread::spawn(move || {
            let batches = loop {
                let b = freer.drain(Instant::now() + Duration::from_secs(1), |_, _, _| true);
                if !b.is_empty() {
                    break b;
                }
            };
            freer.complete(batches[0].record_count, batches[0].memory, None, Vec::new());
        });
        acc.append(
            &topic(),
            0,
            1,
            Record::new(vec![0u8; 900]),
            Want::Nothing,
            far(),
        )
        .unwrap();
        t.join().unwrap();
        assert_eq!(acc.incomplete(), 1);
    }
}
