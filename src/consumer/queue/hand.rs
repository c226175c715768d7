//! The caller's hand: messages taken off the prefetch queue a run at a time
//! (up to [`RUN`] of one partition under one lock), then handed out one by
//! one without touching the lock the fetcher thread uses.
//!
//! The queue stays the record of positions: while the hand holds messages of
//! a partition, the partition's [`HandCell`] says the offset of the next one,
//! which is the partition's position. A seek, a pause or an unassignment
//! marks the cell invalid under the state lock; the hand notices before it
//! hands out another message, and gives back what it holds (queued again at
//! the front, in order, when the partition is still there at the same epoch)
//! or drops it (after a seek or an unassignment).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::MutexGuard;

use super::{Item, Shared, State, STREAK};
use crate::consumer::message::Message;
use crate::error::Error;

/// Most messages taken into the hand at once.
const RUN: usize = 256;

/// What the hand holds of one partition, shared with its [`super::PartitionState`].
#[derive(Debug)]
pub(crate) struct HandCell {
    /// Offset of the next message the hand holds; -1 when it holds none.
    next: AtomicI64,
    /// Cleared by a seek, pause or unassignment: the hand must give back
    /// (or drop) what it holds before handing out more.
    valid: AtomicBool,
}

impl Default for HandCell {
    fn default() -> Self {
        HandCell {
            next: AtomicI64::new(-1),
            valid: AtomicBool::new(false),
        }
    }
}

impl HandCell {
    /// The offset of the next message the hand holds of the partition.
    pub fn next(&self) -> Option<i64> {
        let next = self.next.load(Ordering::Acquire);
        (next >= 0).then_some(next)
    }

    /// A seek: what the hand holds is dropped, and no longer the position.
    pub fn drop_all(&self) {
        self.valid.store(false, Ordering::Release);
        self.next.store(-1, Ordering::Release);
    }

    /// A pause or unassignment: the hand gives back what it holds (which
    /// stays the position until then).
    pub fn take_back(&self) {
        self.valid.store(false, Ordering::Release);
    }
}

/// Where the hand's messages came from.
#[derive(Debug)]
struct Source {
    cell: Arc<HandCell>,
    topic: Arc<str>,
    id: i32,
    epoch: u64,
}

/// Messages taken off one partition's queue for the caller.
#[derive(Debug, Default)]
pub(crate) struct Hand {
    messages: VecDeque<Message>,
    source: Option<Source>,
}

impl Shared {
    fn lock_hand(&self, deadline: Option<Instant>) -> Option<MutexGuard<'_, Hand>> {
        match deadline {
            Some(deadline) => self.hand.try_lock_until(deadline),
            None => Some(self.hand.lock()),
        }
    }

    /// The hand's next message, while what it holds is still valid.
    fn next_in_hand(&self, hand: &mut Hand) -> Option<Message> {
        let source = hand.source.as_ref()?;
        if !source.cell.valid.load(Ordering::Acquire) {
            self.give_back(hand);
            return None;
        }
        let message = hand.messages.pop_front()?;
        match hand.messages.front() {
            Some(next) => source.cell.next.store(next.offset(), Ordering::Release),
            None => {
                source.cell.next.store(-1, Ordering::Release);
                hand.source = None;
            }
        }
        Some(message)
    }

    /// Queues what the hand holds again, at the front of its partition, if
    /// the partition is still there at the same epoch; drops it otherwise.
    fn give_back(&self, hand: &mut Hand) {
        let Some(source) = hand.source.take() else {
            return;
        };
        let messages = std::mem::take(&mut hand.messages);
        let mut state = self.state.lock();
        if let Some(p) = state.partition_mut(&source.topic, source.id) {
            if p.epoch == source.epoch && Arc::ptr_eq(&p.hand, &source.cell) {
                let bytes: usize = messages.iter().map(Message::queued_size).sum();
                p.queue.push_front_messages(messages.into(), bytes);
                p.queued_bytes += bytes;
                p.totals.add(bytes);
            }
        }
        source.cell.next.store(-1, Ordering::Release);
        drop(state);
        self.ready.notify_all();
    }

    /// Takes the next item off the queues; a message comes with up to
    /// [`RUN`] - 1 more of its partition, which go into the hand. Also says
    /// whether the fetcher should be woken (room was made).
    fn take(&self, state: &mut State, hand: &mut Hand, run: usize) -> Option<(Item, bool)> {
        let (i, item) = state.pop()?;
        let p = &mut state.partitions[i];
        let mut taken = 0;
        if matches!(item, Item::Message(_)) {
            while taken + 1 < run && p.queue.front_is_message() {
                if let Some(Item::Message(m)) = p.pop_front() {
                    hand.messages.push_back(m);
                    taken += 1;
                }
            }
            if let Some(next) = hand.messages.front() {
                p.hand.next.store(next.offset(), Ordering::Release);
                p.hand.valid.store(true, Ordering::Release);
                hand.source = Some(Source {
                    cell: Arc::clone(&p.hand),
                    topic: Arc::clone(&p.topic),
                    id: p.id,
                    epoch: p.epoch,
                });
            }
        }
        let poke = p.room_made(self.limits);
        state.streak += taken;
        Some((item, poke))
    }

    /// Waits on the state lock until `deadline`; false once it passed.
    fn wait(&self, state: &mut MutexGuard<'_, State>, deadline: Option<Instant>) -> bool {
        match deadline {
            Some(deadline) => {
                if Instant::now() >= deadline {
                    return false;
                }
                self.ready.wait_until(state, deadline);
            }
            None => self.ready.wait(state),
        }
        true
    }

    /// Takes the next item, waiting until `deadline` (`None`: forever).
    /// `None` when the deadline passed; [`Error::Closed`] once closed.
    pub fn pop(&self, deadline: Option<Instant>) -> Result<Option<Item>, Error> {
        let Some(mut hand) = self.lock_hand(deadline) else {
            return Ok(None);
        };
        if let Some(m) = self.next_in_hand(&mut hand) {
            return Ok(Some(Item::Message(m)));
        }
        let mut state = self.state.lock();
        loop {
            if state.closed {
                return Err(Error::Closed("consumer"));
            }
            if let Some(error) = state.errors.pop_front() {
                return Ok(Some(Item::error(None, error)));
            }
            if let Some((item, poke)) = self.take(&mut state, &mut hand, RUN) {
                drop(state);
                if poke {
                    self.poke_fetcher();
                }
                return Ok(Some(item));
            }
            if let Some(error) = &state.failure {
                return Err(error.clone());
            }
            if !self.wait(&mut state, deadline) {
                return Ok(None);
            }
        }
    }

    /// Takes up to `max` messages under one lock, waiting until `deadline`
    /// (`None`: forever) for the first. A partition's error comes on its own
    /// as `Err` (an error met after some messages stays queued for the next
    /// call, so the messages before it are handed out first). Empty when the
    /// deadline passed; [`Error::Closed`] once closed.
    pub fn pop_batch(&self, max: usize, deadline: Option<Instant>) -> Result<Vec<Message>, Error> {
        if max == 0 {
            return Ok(Vec::new());
        }
        // Empty until something is taken: a whole queued run can become the
        // batch as it is.
        let mut out = Vec::new();
        let Some(mut hand) = self.lock_hand(deadline) else {
            return Ok(out);
        };
        out.reserve(hand.messages.len().min(max));
        while out.len() < max {
            match self.next_in_hand(&mut hand) {
                Some(m) => out.push(m),
                None => break,
            }
        }
        if out.len() == max {
            return Ok(out);
        }
        let mut state = self.state.lock();
        loop {
            if state.closed {
                return Err(Error::Closed("consumer"));
            }
            if out.is_empty() {
                if let Some(error) = state.errors.pop_front() {
                    return Err(error);
                }
            }
            let mut poke = false;
            while out.len() < max {
                let Some(i) = state.next_partition() else {
                    break;
                };
                // The partition's run, without going round the partitions
                // for each message: up to the streak's end, or the whole
                // run the fetcher queued when it fits (then the streak is
                // over and the next partition's turn comes).
                let streak_left = STREAK.saturating_sub(state.streak);
                let p = &mut state.partitions[i];
                let room = (max - out.len()).min(streak_left.max(p.queue.front_run_len()));
                if p.queue.front_is_message() {
                    let taken = p.drain_messages(&mut out, room.max(1));
                    poke |= p.room_made(self.limits);
                    state.streak += taken;
                } else if out.is_empty() {
                    // A partition's error comes on its own.
                    let item = p.pop_front();
                    poke |= p.room_made(self.limits);
                    if let Some(Item::Error(e)) = item {
                        drop(state);
                        if poke {
                            self.poke_fetcher();
                        }
                        return Err(e.error);
                    }
                } else {
                    // An error after some messages waits for the next call.
                    break;
                }
            }
            if !out.is_empty() {
                drop(state);
                if poke {
                    self.poke_fetcher();
                }
                return Ok(out);
            }
            if let Some(error) = &state.failure {
                return Err(error.clone());
            }
            if !self.wait(&mut state, deadline) {
                return Ok(out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Limits;
    use super::*;
    use crate::protocol::records::TimestampType;

    fn message(partition: i32, offset: i64) -> Message {
        Message::copied(
            &Arc::from("t"),
            partition,
            offset,
            None,
            None,
            &[],
            0,
            TimestampType::CreateTime,
        )
    }

    /// A queue of partitions 0 and 1 of `t` holding offsets `0..n` each.
    fn shared(n: i64) -> Shared {
        let (tx, _rx) = crossbeam_channel::bounded(1);
        let limits = Limits {
            messages: 1000,
            bytes: usize::MAX,
        };
        let shared = Shared::new("topic `t`", limits, tx);
        let topic: Arc<str> = Arc::from("t");
        for p in 0..2 {
            let mut state = shared.lock();
            let part = state.assign(&topic, p);
            let messages: Vec<Message> = (0..n).map(|o| message(p, o)).collect();
            let size = messages.iter().map(Message::queued_size).sum();
            part.fetch_offset = Some(n);
            part.push_messages(messages, size);
        }
        shared
    }

    fn next(shared: &Shared) -> (i32, i64) {
        match shared.pop(Some(Instant::now())).unwrap() {
            Some(Item::Message(m)) => (m.partition(), m.offset()),
            other => panic!("expected a message, got {other:?}"),
        }
    }

    #[test]
    fn the_position_counts_what_the_hand_holds_as_not_yet_received() {
        let shared = shared(10);
        let (p, o) = next(&shared);
        assert_eq!(o, 0);
        let state = shared.lock();
        assert_eq!(state.partition("t", p).unwrap().position(), Some(1));
        assert!(
            state.partition("t", p).unwrap().queue.is_empty(),
            "the rest is in the hand"
        );
    }

    #[test]
    fn a_pause_gives_back_what_the_hand_holds_and_a_resume_hands_it_out_in_order() {
        let shared = shared(5);
        let (p, _) = next(&shared);
        shared
            .lock()
            .partition_mut("t", p)
            .unwrap()
            .set_paused(true);
        for _ in 0..5 {
            assert_ne!(next(&shared).0, p, "nothing of the paused partition");
        }
        assert_eq!(shared.lock().partition("t", p).unwrap().position(), Some(1));
        shared
            .lock()
            .partition_mut("t", p)
            .unwrap()
            .set_paused(false);
        let offsets: Vec<i64> = (0..4).map(|_| next(&shared).1).collect();
        assert_eq!(offsets, [1, 2, 3, 4]);
    }

    #[test]
    fn a_seek_drops_what_the_hand_holds() {
        let shared = shared(5);
        let (p, _) = next(&shared);
        shared.lock().partition_mut("t", p).unwrap().seek(Some(42));
        assert_eq!(
            shared.lock().partition("t", p).unwrap().position(),
            Some(42)
        );
        for _ in 0..5 {
            assert_ne!(next(&shared).0, p, "the held messages are gone");
        }
        assert!(shared.pop(Some(Instant::now())).unwrap().is_none());
    }

    #[test]
    fn a_batch_takes_the_hand_first_and_an_error_waits_behind_messages() {
        let shared = shared(3);
        let (p, _) = next(&shared);
        shared
            .lock()
            .partition_mut("t", p)
            .unwrap()
            .fail(Some(3), Error::Closed("test"));
        let batch = shared.pop_batch(100, Some(Instant::now())).unwrap();
        let got: Vec<(i32, i64)> = batch.iter().map(|m| (m.partition(), m.offset())).collect();
        assert_eq!(
            got,
            [(p, 1), (p, 2)],
            "the hand's messages, up to the error"
        );
        assert!(
            shared.pop_batch(100, Some(Instant::now())).is_err(),
            "then the error"
        );
        let rest = shared.pop_batch(100, Some(Instant::now())).unwrap();
        assert_eq!(rest.len(), 3, "then the other partition");
        assert!(rest.iter().all(|m| m.partition() != p));
    }
}
