//! The prefetch queue: per-partition positions and ready messages, shared by
//! the caller's thread and the fetcher thread under one short-held lock.
//!
//! Each partition keeps its own queue so that pausing or seeking one touches
//! only its own messages. A partition's *fetch offset* is where the next
//! fetch starts; its *position* (the next offset the caller will receive) is
//! the first queued message's offset, or the fetch offset when nothing is
//! queued. A seek bumps the partition's *epoch*: fetches sent before it are
//! recognised by their old epoch and dropped when they come back.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::Sender;
use parking_lot::{Condvar, Mutex, MutexGuard};

use crate::error::Error;

use super::message::Message;

/// Messages the caller takes from one partition before moving to the next,
/// so a partition with a deep backlog does not starve the others.
const STREAK: usize = 500;

/// What the caller receives from a partition: a message, or the error that
/// stopped the partition at `offset`.
#[derive(Debug)]
pub(crate) enum Item {
    Message(Message),
    Error { offset: Option<i64>, error: Error },
}

impl Item {
    fn offset(&self) -> Option<i64> {
        match self {
            Item::Message(m) => Some(m.offset),
            Item::Error { offset, .. } => *offset,
        }
    }
}

/// One partition's state.
#[derive(Debug)]
pub(crate) struct PartitionState {
    pub id: i32,
    /// Where the next fetch starts; `None` while the partition has no
    /// position (no committed offset and reset policy `Error`).
    pub fetch_offset: Option<i64>,
    /// Bumped by every seek.
    pub epoch: u64,
    pub paused: bool,
    /// Fetching stopped after an error was queued, until the next seek.
    pub halted: bool,
    /// The fetcher skipped the partition because its queue was full; the
    /// caller pokes it once there is room.
    pub waiting_for_room: bool,
    pub queue: VecDeque<Item>,
    /// The high watermark in the latest fetch response, `-1` before one.
    pub high_watermark: i64,
}

impl PartitionState {
    fn new(id: i32) -> Self {
        PartitionState {
            id,
            fetch_offset: None,
            epoch: 0,
            paused: false,
            halted: false,
            waiting_for_room: false,
            queue: VecDeque::new(),
            high_watermark: -1,
        }
    }

    /// The next offset the caller will receive.
    pub fn position(&self) -> Option<i64> {
        self.queue
            .front()
            .and_then(Item::offset)
            .or(self.fetch_offset)
    }

    /// Moves the partition to `offset`, dropping what was queued or is in
    /// flight.
    pub fn seek(&mut self, offset: Option<i64>) {
        self.queue.clear();
        self.fetch_offset = offset;
        self.epoch += 1;
        self.halted = false;
    }

    /// Queues an error and stops fetching the partition until a seek.
    pub fn fail(&mut self, offset: Option<i64>, error: Error) {
        self.queue.push_back(Item::Error { offset, error });
        self.halted = true;
    }
}

/// Everything behind the lock.
#[derive(Debug)]
pub(crate) struct State {
    /// Sorted by id.
    pub partitions: Vec<PartitionState>,
    /// Round-robin cursor into `partitions`, and messages taken there in a row.
    cursor: usize,
    streak: usize,
    pub closed: bool,
}

impl State {
    pub fn partition_mut(&mut self, id: i32) -> Option<&mut PartitionState> {
        let i = self.partitions.binary_search_by_key(&id, |p| p.id).ok()?;
        self.partitions.get_mut(i)
    }

    pub fn partition(&self, id: i32) -> Option<&PartitionState> {
        let i = self.partitions.binary_search_by_key(&id, |p| p.id).ok()?;
        self.partitions.get(i)
    }

    /// Takes the next item of an unpaused partition, round robin.
    fn pop(&mut self) -> Option<(usize, Item)> {
        let n = self.partitions.len();
        if self.streak >= STREAK {
            self.cursor += 1;
            self.streak = 0;
        }
        for step in 0..n {
            let i = (self.cursor + step) % n;
            let p = &mut self.partitions[i];
            if p.paused {
                continue;
            }
            if let Some(item) = p.queue.pop_front() {
                if step > 0 {
                    self.cursor = i;
                    self.streak = 0;
                }
                self.streak += 1;
                return Some((i, item));
            }
        }
        None
    }
}

/// The state shared by a consumer handle and its fetcher thread.
#[derive(Debug)]
pub(crate) struct Shared {
    pub topic: Arc<str>,
    pub queued_max_messages: usize,
    state: Mutex<State>,
    /// Signalled when items are queued or the consumer closes.
    ready: Condvar,
    /// Wakes the fetcher (capacity 1: pokes coalesce).
    wake: Sender<()>,
}

impl Shared {
    pub fn new(
        topic: Arc<str>,
        partitions: &[i32],
        queued_max_messages: usize,
        wake: Sender<()>,
    ) -> Self {
        let mut list: Vec<PartitionState> =
            partitions.iter().map(|&p| PartitionState::new(p)).collect();
        list.sort_by_key(|p| p.id);
        Shared {
            topic,
            queued_max_messages,
            state: Mutex::new(State {
                partitions: list,
                cursor: 0,
                streak: 0,
                closed: false,
            }),
            ready: Condvar::new(),
            wake,
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

    /// Takes the next item, waiting until `deadline` (`None`: forever).
    /// `None` when the deadline passed; [`Error::Closed`] once closed.
    pub fn pop(&self, deadline: Option<Instant>) -> Result<Option<Item>, Error> {
        let mut state = self.state.lock();
        loop {
            if state.closed {
                return Err(Error::Closed("consumer"));
            }
            if let Some((i, item)) = state.pop() {
                let p = &mut state.partitions[i];
                let poke = p.waiting_for_room && p.queue.len() < self.queued_max_messages;
                if poke {
                    p.waiting_for_room = false;
                }
                drop(state);
                if poke {
                    self.poke_fetcher();
                }
                return Ok(Some(item));
            }
            match deadline {
                Some(deadline) => {
                    if Instant::now() >= deadline {
                        return Ok(None);
                    }
                    self.ready.wait_until(&mut state, deadline);
                }
                None => self.ready.wait(&mut state),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::records::TimestampType;

    fn message(partition: i32, offset: i64) -> Item {
        Item::Message(Message {
            topic: Arc::from("t"),
            partition,
            offset,
            key: None,
            value: None,
            headers: Vec::new(),
            timestamp: 0,
            timestamp_type: TimestampType::CreateTime,
        })
    }

    fn shared(partitions: &[i32]) -> Shared {
        let (tx, _rx) = crossbeam_channel::bounded(1);
        Shared::new(Arc::from("t"), partitions, 10, tx)
    }

    fn offset_of(item: Option<Item>) -> (i32, i64) {
        match item {
            Some(Item::Message(m)) => (m.partition, m.offset),
            other => panic!("expected a message, got {other:?}"),
        }
    }

    #[test]
    fn position_is_the_first_queued_offset_else_the_fetch_offset() {
        let mut p = PartitionState::new(0);
        assert_eq!(p.position(), None);
        p.fetch_offset = Some(12);
        assert_eq!(p.position(), Some(12));
        p.queue.push_back(message(0, 7));
        assert_eq!(p.position(), Some(7));
    }

    #[test]
    fn a_seek_drops_queued_messages_and_bumps_the_epoch() {
        let mut p = PartitionState::new(0);
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
                    .partition_mut(0)
                    .unwrap()
                    .queue
                    .push_back(message(0, offset));
                state
                    .partition_mut(1)
                    .unwrap()
                    .queue
                    .push_back(message(1, offset));
            }
            state.partition_mut(0).unwrap().paused = true;
        }
        let now = Some(Instant::now());
        for offset in 0..3 {
            assert_eq!(offset_of(shared.pop(now).unwrap()), (1, offset));
        }
        assert!(shared.pop(now).unwrap().is_none());
        shared.lock().partition_mut(0).unwrap().paused = false;
        assert_eq!(offset_of(shared.pop(now).unwrap()), (0, 0));
    }

    #[test]
    fn popping_after_close_is_an_error() {
        let shared = shared(&[0]);
        shared.close();
        assert!(matches!(shared.pop(None), Err(Error::Closed(_))));
    }
}
