//! The prefetch queue: per-partition positions and ready messages, shared by
//! the caller's thread and the fetcher thread under one short-held lock.
//!
//! Partitions are keyed by topic and index and can be assigned and
//! unassigned while the consumer runs (the balanced consumer follows its
//! group's rebalances this way; the simple consumer assigns its partitions
//! once). Unassigning a partition drops its queued messages under the lock,
//! so the caller never receives one of them afterwards.
//!
//! Each partition keeps its own queue so that pausing or seeking one touches
//! only its own messages. A partition's *fetch offset* is where the next
//! fetch starts; its *position* (the next offset the caller will receive) is
//! the first queued message's offset, or the fetch offset when nothing is
//! queued. A seek bumps the partition's *epoch*: fetches sent before it are
//! recognised by their old epoch and dropped when they come back. Each
//! assignment of a partition starts at a fresh epoch, 2^32 past the previous
//! assignment's, so a fetch sent before a partition was unassigned and
//! assigned again is dropped too.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crossbeam_channel::Sender;
use parking_lot::{Condvar, Mutex, MutexGuard};

use crate::error::Error;

use super::decode::PendingBatch;
use super::message::Message;

/// Messages the caller takes from one partition before moving to the next,
/// so a partition with a deep backlog does not starve the others.
pub(crate) const STREAK: usize = 500;

/// What the caller receives from a partition: a message, or the error that
/// stopped the partition at an offset (boxed, so that an item is no bigger
/// than a message).
#[derive(Debug)]
pub(crate) enum Item {
    Message(Message),
    Error(Box<ItemError>),
}

/// The error that stopped a partition, and where.
#[derive(Debug)]
pub(crate) struct ItemError {
    pub offset: Option<i64>,
    pub error: Error,
}

impl Item {
    /// An error item.
    pub fn error(offset: Option<i64>, error: Error) -> Self {
        Item::Error(Box::new(ItemError { offset, error }))
    }
}

/// How much the queues may hold.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// `queued_max_messages`, per partition: checked before a fetch.
    pub messages: usize,
    /// `queued_max_bytes`, over all partitions together, in
    /// [`Message::queued_size`]: checked before a fetch and while decoding
    /// one, so the queues never hold more than this plus one message.
    pub bytes: usize,
}

/// Bytes queued over all partitions (every partition holds the same
/// counter; it only changes under the state lock).
#[derive(Debug, Default)]
pub(crate) struct Totals {
    bytes: AtomicUsize,
    peak: AtomicUsize,
}

impl Totals {
    fn add(&self, bytes: usize) {
        let now = self.bytes.load(Ordering::Relaxed) + bytes;
        self.bytes.store(now, Ordering::Relaxed);
        if now > self.peak.load(Ordering::Relaxed) {
            self.peak.store(now, Ordering::Relaxed);
        }
    }

    fn sub(&self, bytes: usize) {
        let now = self.bytes.load(Ordering::Relaxed).saturating_sub(bytes);
        self.bytes.store(now, Ordering::Relaxed);
    }

    /// Bytes queued now.
    pub fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    /// The most bytes ever queued at once.
    #[cfg_attr(not(feature = "unstable-internals"), allow(dead_code))]
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }
}

/// Epochs between two assignments of a partition: more than any number of
/// seeks in between.
const ASSIGNMENT_EPOCHS: u64 = 1 << 32;

/// One partition's state.
#[derive(Debug)]
pub(crate) struct PartitionState {
    pub topic: Arc<str>,
    pub id: i32,
    /// Where the next fetch starts; `None` while the partition has no
    /// position (no committed offset and reset policy `Error`).
    pub fetch_offset: Option<i64>,
    /// Bumped by every seek.
    pub epoch: u64,
    /// Set through [`PartitionState::set_paused`], which also takes back
    /// what the caller's hand holds of the partition.
    pub paused: bool,
    /// What the caller's hand (see [`Hand`]) holds of this partition.
    pub hand: Arc<HandCell>,
    /// Fetching stopped after an error was queued, until the next seek.
    pub halted: bool,
    /// The fetcher skipped the partition because its queue was full; the
    /// caller pokes it once there is room.
    pub waiting_for_room: bool,
    pub queue: Runs,
    /// The queued messages' [`Message::queued_size`], summed.
    pub queued_bytes: usize,
    /// The most `queued_bytes` has been (for tests of the bound).
    pub peak_queued_bytes: usize,
    /// Bytes queued over every partition of the consumer.
    totals: Arc<Totals>,
    /// A fetched batch was only partly made into messages (the byte bound
    /// ran out inside it): the offset of its next record, which is the
    /// position while nothing is queued. `fetch_offset` is past the batch.
    pub resume_at: Option<i64>,
    /// The rest of that batch, while the fetcher is not decoding it.
    pub pending: Option<Box<PendingBatch>>,
    /// The high watermark in the latest fetch response, `-1` before one.
    pub high_watermark: i64,
}

impl PartitionState {
    fn new(topic: Arc<str>, id: i32, epoch: u64, totals: Arc<Totals>) -> Self {
        PartitionState {
            topic,
            id,
            fetch_offset: None,
            epoch,
            paused: false,
            hand: Arc::default(),
            halted: false,
            waiting_for_room: false,
            queue: Runs::default(),
            queued_bytes: 0,
            peak_queued_bytes: 0,
            totals,
            resume_at: None,
            pending: None,
            high_watermark: -1,
        }
    }

    /// Queues `messages`, whose sizes sum to `bytes`, as one run.
    pub fn push_messages(&mut self, messages: Vec<Message>, bytes: usize) {
        self.queue.push_messages(messages, bytes);
        self.queued_bytes += bytes;
        self.peak_queued_bytes = self.peak_queued_bytes.max(self.queued_bytes);
        self.totals.add(bytes);
    }

    /// Takes the next item off the queue.
    fn pop_front(&mut self) -> Option<Item> {
        let (item, size) = self.queue.pop_front()?;
        self.queued_bytes = self.queued_bytes.saturating_sub(size);
        self.totals.sub(size);
        Some(item)
    }

    /// Moves up to `n` queued messages from the front into `out`, stopping
    /// at an error; returns how many. A whole run that fits into an empty
    /// `out` becomes `out`.
    fn drain_messages(&mut self, out: &mut Vec<Message>, n: usize) -> usize {
        let (taken, size) = self.queue.take_messages(out, n);
        self.queued_bytes = self.queued_bytes.saturating_sub(size);
        self.totals.sub(size);
        taken
    }

    /// Drops every queued item.
    fn clear(&mut self) {
        self.queue.clear();
        self.totals.sub(self.queued_bytes);
        self.queued_bytes = 0;
    }

    /// Whether the fetcher should give the partition more messages (fetch,
    /// or decode more of a partly handed-out batch): while fewer than
    /// `messages` are queued in it and at most half the byte bound in all
    /// partitions together. The half is hysteresis: a fetch sent with a
    /// sliver of room left would be mostly dropped and fetched again, and
    /// the fetcher would be woken for every message taken.
    pub fn has_room(&self, limits: Limits) -> bool {
        self.totals.bytes() <= limits.bytes / 2 && self.queue.len() < limits.messages
    }

    /// Whether the fetcher, which skipped the partition for want of room,
    /// must be woken now that the caller has made room; it is then no
    /// longer waiting.
    pub fn room_made(&mut self, limits: Limits) -> bool {
        let made = self.waiting_for_room && self.has_room(limits);
        if made {
            self.waiting_for_room = false;
        }
        made
    }

    /// How many bytes of messages the queues can still take.
    pub fn byte_room(&self, limits: Limits) -> usize {
        limits.bytes.saturating_sub(self.totals.bytes())
    }

    /// The next offset the caller will receive.
    pub fn position(&self) -> Option<i64> {
        if let Some(offset) = self.hand.next() {
            return Some(offset);
        }
        self.queue
            .front_offset()
            .or(self.resume_at)
            .or(self.fetch_offset)
    }

    /// Moves the partition to `offset`, dropping what was queued or is in
    /// flight.
    pub fn seek(&mut self, offset: Option<i64>) {
        self.hand.drop_all();
        self.clear();
        self.resume_at = None;
        self.pending = None;
        self.fetch_offset = offset;
        self.epoch += 1;
        self.halted = false;
    }

    /// Pauses or resumes the partition; a pause takes back what the
    /// caller's hand holds of it (queued again, in order, at the next take).
    pub fn set_paused(&mut self, paused: bool) {
        self.paused = paused;
        if paused {
            self.hand.take_back();
        }
    }

    /// Queues an error and stops fetching the partition until a seek.
    pub fn fail(&mut self, offset: Option<i64>, error: Error) {
        self.queue.push_back(Item::error(offset, error));
        self.halted = true;
    }
}

/// Everything behind the lock.
#[derive(Debug)]
pub(crate) struct State {
    /// Sorted by topic, then id.
    pub partitions: Vec<PartitionState>,
    /// Errors of the consumer as a whole (a group error), handed out before
    /// any message.
    errors: VecDeque<Error>,
    /// Round-robin cursor into `partitions`, and messages taken there in a row.
    cursor: usize,
    streak: usize,
    /// The first epoch of the next assignment.
    next_epoch: u64,
    /// Bytes queued over all partitions.
    pub totals: Arc<Totals>,
    pub closed: bool,
    /// A background thread of the consumer died: handed out, for good, once
    /// nothing is queued any more.
    failure: Option<Error>,
}

impl State {
    fn index(&self, topic: &str, id: i32) -> Result<usize, usize> {
        self.partitions
            .binary_search_by(|p| (&*p.topic, p.id).cmp(&(topic, id)))
    }

    pub fn partition_mut(&mut self, topic: &str, id: i32) -> Option<&mut PartitionState> {
        let i = self.index(topic, id).ok()?;
        self.partitions.get_mut(i)
    }

    pub fn partition(&self, topic: &str, id: i32) -> Option<&PartitionState> {
        let i = self.index(topic, id).ok()?;
        self.partitions.get(i)
    }

    /// Adds partition `id` of `topic`, without a position yet (the caller
    /// sets `fetch_offset`); an already assigned partition is returned as
    /// it is.
    pub fn assign(&mut self, topic: &Arc<str>, id: i32) -> &mut PartitionState {
        let i = match self.index(topic, id) {
            Ok(i) => i,
            Err(i) => {
                let epoch = self.next_epoch;
                self.next_epoch += ASSIGNMENT_EPOCHS;
                let totals = Arc::clone(&self.totals);
                self.partitions
                    .insert(i, PartitionState::new(Arc::clone(topic), id, epoch, totals));
                if i < self.cursor {
                    self.cursor += 1;
                }
                i
            }
        };
        &mut self.partitions[i]
    }

    /// Removes partition `id` of `topic` with its queued messages; fetches
    /// of it in flight are dropped when they come back. Returns its last
    /// state (for its position), `None` when it was not assigned.
    pub fn unassign(&mut self, topic: &str, id: i32) -> Option<PartitionState> {
        let i = self.index(topic, id).ok()?;
        let mut removed = self.partitions.remove(i);
        removed.hand.take_back();
        // Its queue goes with it: no longer counted against the bound.
        removed.totals.sub(removed.queued_bytes);
        removed.queued_bytes = 0;
        if i < self.cursor {
            self.cursor -= 1;
        } else if i == self.cursor {
            self.streak = 0;
        }
        Some(removed)
    }

    /// The next unpaused partition with something queued, round robin:
    /// the one at the cursor until it has handed out [`STREAK`] messages
    /// in a row.
    fn next_partition(&mut self) -> Option<usize> {
        let n = self.partitions.len();
        if self.streak >= STREAK {
            self.cursor += 1;
            self.streak = 0;
        }
        for step in 0..n {
            let i = (self.cursor + step) % n;
            let p = &self.partitions[i];
            if p.paused || p.queue.is_empty() {
                continue;
            }
            if step > 0 {
                self.cursor = i;
                self.streak = 0;
            }
            return Some(i);
        }
        None
    }

    /// Takes the next item of an unpaused partition, round robin.
    fn pop(&mut self) -> Option<(usize, Item)> {
        let i = self.next_partition()?;
        let item = self.partitions[i].pop_front()?;
        self.streak += 1;
        Some((i, item))
    }
}

/// The state shared by a consumer handle and its fetcher thread.
#[derive(Debug)]
pub(crate) struct Shared {
    /// What the consumer reads, for log messages (``topic `x` ``, ``group `g` ``).
    pub label: String,
    pub limits: Limits,
    state: Mutex<State>,
    /// Signalled when items are queued or the consumer closes.
    ready: Condvar,
    /// Messages taken off the queue for the caller, a run of one partition
    /// at a time (lock order: `hand`, then `state`).
    hand: Mutex<Hand>,
    /// Wakes the fetcher (capacity 1: pokes coalesce).
    wake: Sender<()>,
    /// Makes the fetcher thread panic at its next turn (tests of the panic path).
    #[cfg(test)]
    pub panic_fetcher_for_test: std::sync::atomic::AtomicBool,
}

impl Shared {
    /// A queue without partitions; see [`State::assign`].
    pub fn new(label: impl Into<String>, limits: Limits, wake: Sender<()>) -> Self {
        Shared {
            label: label.into(),
            limits,
            state: Mutex::new(State {
                partitions: Vec::new(),
                errors: VecDeque::new(),
                cursor: 0,
                streak: 0,
                next_epoch: 0,
                totals: Arc::default(),
                closed: false,
                failure: None,
            }),
            ready: Condvar::new(),
            hand: Mutex::new(Hand::default()),
            wake,
            #[cfg(test)]
            panic_fetcher_for_test: std::sync::atomic::AtomicBool::new(false),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    /// Wakes the fetcher thread.
    pub fn poke_fetcher(&self) {
        let _ = self.wake.try_send(());
    }

    /// Wakes callers waiting for items.
    pub fn notify_ready(&self) {
        self.ready.notify_all();
    }

    /// Marks the consumer closed and wakes everyone.
    pub fn close(&self) {
        self.state.lock().closed = true;
        self.ready.notify_all();
        self.poke_fetcher();
    }

    pub fn is_closed(&self) -> bool {
        self.state.lock().closed
    }

    /// The consumer cannot go on (a background thread died): once what is
    /// queued has been taken, every `pop` returns `error` instead of waiting.
    pub fn fail_for_good(&self, error: Error) {
        self.state.lock().failure.get_or_insert(error);
        self.ready.notify_all();
    }

    /// Queues an error of the consumer as a whole for the caller.
    pub fn push_error(&self, error: Error) {
        self.state.lock().errors.push_back(error);
        self.ready.notify_all();
    }
}

mod hand;
mod runs;
pub(crate) use hand::{Hand, HandCell};
use runs::Runs;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::records::TimestampType;
    use std::time::Instant;

    fn message(partition: i32, offset: i64) -> Item {
        Item::Message(Message::copied(
            &Arc::from("t"),
            partition,
            offset,
            None,
            None,
            &[],
            0,
            TimestampType::CreateTime,
        ))
    }

    fn shared(partitions: &[i32]) -> Shared {
        let (tx, _rx) = crossbeam_channel::bounded(1);
        let limits = Limits {
            messages: 10,
            bytes: usize::MAX,
        };
        let shared = Shared::new("topic `t`", limits, tx);
        let topic: Arc<str> = Arc::from("t");
        for &p in partitions {
            shared.lock().assign(&topic, p);
        }
        shared
    }

    fn offset_of(item: Option<Item>) -> (i32, i64) {
        match item {
            Some(Item::Message(m)) => (m.partition(), m.offset()),
            other => panic!("expected a message, got {other:?}"),
        }
    }

    #[test]
    fn position_is_the_first_queued_offset_else_the_fetch_offset() {
        let mut p = PartitionState::new(Arc::from("t"), 0, 0, Arc::default());
        assert_eq!(p.position(), None);
        p.fetch_offset = Some(12);
        assert_eq!(p.position(), Some(12));
        p.queue.push_back(message(0, 7));
        assert_eq!(p.position(), Some(7));
    }

    #[test]
    fn a_seek_drops_queued_messages_and_bumps_the_epoch() {
        let mut p = PartitionState::new(Arc::from("t"), 0, 0, Arc::default());
        p.queue.push_back(message(0, 7));
        p.halted = true;
        p.seek(Some(3));
        assert!(p.queue.is_empty());
        assert_eq!((p.position(), p.epoch, p.halted), (Some(3), 1, false));
    }

    #[test]
    fn paused_partitions_are_skipped_and_order_within_a_partition_is_kept() {
        let shared = shared(&[1, 0]);
        {
            let mut state = shared.lock();
            for offset in 0..3 {
                state
                    .partition_mut("t", 0)
                    .unwrap()
                    .queue
                    .push_back(message(0, offset));
                state
                    .partition_mut("t", 1)
                    .unwrap()
                    .queue
                    .push_back(message(1, offset));
            }
            state.partition_mut("t", 0).unwrap().paused = true;
        }
        let now = Some(Instant::now());
        for offset in 0..3 {
            assert_eq!(offset_of(shared.pop(now).unwrap()), (1, offset));
        }
        assert!(shared.pop(now).unwrap().is_none());
        shared.lock().partition_mut("t", 0).unwrap().paused = false;
        assert_eq!(offset_of(shared.pop(now).unwrap()), (0, 0));
    }

    #[test]
    fn queued_bytes_follow_pushes_pops_and_seeks_and_a_waiting_batch_is_the_position() {
        let shared = shared(&[0]);
        let Item::Message(one) = message(0, 4) else {
            unreachable!("a message")
        };
        let size = one.queued_size();
        {
            let mut state = shared.lock();
            let p = state.partition_mut("t", 0).unwrap();
            p.fetch_offset = Some(100);
            p.resume_at = Some(6);
            let Item::Message(two) = message(0, 5) else {
                unreachable!("a message")
            };
            p.push_messages(vec![one, two], 2 * size);
            assert_eq!((p.queued_bytes, p.peak_queued_bytes), (2 * size, 2 * size));
            assert_eq!(p.position(), Some(4));
        }
        let now = Some(Instant::now());
        shared.pop(now).unwrap();
        shared.pop(now).unwrap();
        let mut state = shared.lock();
        let p = state.partition_mut("t", 0).unwrap();
        assert_eq!(p.queued_bytes, 0);
        assert_eq!(p.position(), Some(6), "the waiting batch's next record");
        p.seek(Some(2));
        assert_eq!((p.resume_at, p.position()), (None, Some(2)));
        assert_eq!(p.peak_queued_bytes, 2 * size);
    }

    #[test]
    fn popping_after_close_is_an_error() {
        let shared = shared(&[0]);
        shared.close();
        assert!(matches!(shared.pop(None), Err(Error::Closed(_))));
    }

    #[test]
    fn an_unassigned_partition_hands_out_nothing_more() {
        let shared = shared(&[0, 1]);
        {
            let mut state = shared.lock();
            for p in 0..2 {
                let state = state.partition_mut("t", p).unwrap();
                state.queue.push_back(message(p, 0));
                state.queue.push_back(message(p, 1));
            }
        }
        let now = Some(Instant::now());
        let (first, _) = offset_of(shared.pop(now).unwrap());
        let gone = shared.lock().unassign("t", first).expect("was assigned");
        assert_eq!(gone.position(), Some(1));
        for _ in 0..2 {
            assert_ne!(offset_of(shared.pop(now).unwrap()).0, first);
        }
        assert!(shared.pop(now).unwrap().is_none());
    }

    #[test]
    fn a_reassigned_partition_starts_at_a_new_epoch() {
        let shared = shared(&[]);
        let topic: Arc<str> = Arc::from("t");
        let mut state = shared.lock();
        let first = state.assign(&topic, 3).epoch;
        state.partition_mut("t", 3).unwrap().seek(Some(5));
        state.unassign("t", 3);
        let second = state.assign(&topic, 3).epoch;
        assert!(second > first + 1, "{first} then {second}");
    }

    #[test]
    fn partitions_of_several_topics_are_kept_apart() {
        let shared = shared(&[0]);
        let other: Arc<str> = Arc::from("other");
        shared.lock().assign(&other, 0).fetch_offset = Some(9);
        let state = shared.lock();
        assert_eq!(state.partition("t", 0).unwrap().fetch_offset, None);
        assert_eq!(state.partition("other", 0).unwrap().fetch_offset, Some(9));
        assert!(state.partition("other", 1).is_none());
    }

    #[test]
    fn a_failure_for_good_comes_after_queued_messages_and_stays() {
        let shared = shared(&[0]);
        shared
            .lock()
            .partition_mut("t", 0)
            .unwrap()
            .queue
            .push_back(message(0, 0));
        shared.fail_for_good(Error::Config("thread died".into()));
        assert_eq!(offset_of(shared.pop(None).unwrap()), (0, 0));
        for _ in 0..2 {
            assert!(matches!(shared.pop(None), Err(Error::Config(_))));
        }
    }

    #[test]
    fn a_consumer_error_comes_before_messages() {
        let shared = shared(&[0]);
        shared
            .lock()
            .partition_mut("t", 0)
            .unwrap()
            .queue
            .push_back(message(0, 0));
        shared.push_error(Error::Config("group trouble".into()));
        assert!(matches!(
            shared.pop(Some(Instant::now())),
            Ok(Some(Item::Error(e))) if e.offset.is_none()
        ));
        assert_eq!(offset_of(shared.pop(Some(Instant::now())).unwrap()), (0, 0));
    }
}
