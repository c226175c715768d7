//! One partition's queue of ready items, kept as the runs the fetcher
//! decoded: a run is the `Vec<Message>` one partition answer made, queued
//! as it is and handed to a batch caller as it is when the whole run fits,
//! so a message is not moved into the queue and out again. Errors sit
//! between runs, in order.

use std::collections::VecDeque;

use super::{Item, ItemError};
use crate::consumer::message::Message;

/// A run of one partition's messages, oldest first.
#[derive(Debug)]
struct Run {
    messages: std::vec::IntoIter<Message>,
    /// The remaining messages' [`Message::queued_size`], summed.
    bytes: usize,
}

#[derive(Debug)]
enum Entry {
    Run(Run),
    Error(Box<ItemError>),
}

/// A partition's queued messages (in runs) and errors, in order.
#[derive(Debug, Default)]
pub(crate) struct Runs {
    entries: VecDeque<Entry>,
    /// Messages and errors queued.
    len: usize,
}

impl Runs {
    /// How many messages and errors are queued.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Queues `messages` (whose sizes sum to `bytes`) as one run.
    pub fn push_messages(&mut self, messages: Vec<Message>, bytes: usize) {
        if let Some(run) = self.run(messages, bytes) {
            self.entries.push_back(run);
        }
    }

    /// Queues `messages` (whose sizes sum to `bytes`) in front of
    /// everything, as one run: what the caller's hand gives back.
    pub fn push_front_messages(&mut self, messages: Vec<Message>, bytes: usize) {
        if let Some(run) = self.run(messages, bytes) {
            self.entries.push_front(run);
        }
    }

    /// `messages` as a run to queue, counted; `None` when there are none.
    fn run(&mut self, messages: Vec<Message>, bytes: usize) -> Option<Entry> {
        if messages.is_empty() {
            return None;
        }
        self.len += messages.len();
        Some(Entry::Run(Run {
            messages: messages.into_iter(),
            bytes,
        }))
    }

    /// Queues one item at the back.
    pub fn push_back(&mut self, item: Item) {
        match item {
            Item::Message(m) => {
                let bytes = m.queued_size();
                self.push_messages(vec![m], bytes);
            }
            Item::Error(e) => {
                self.len += 1;
                self.entries.push_back(Entry::Error(e));
            }
        }
    }

    /// Whether the next item is a message.
    pub fn front_is_message(&self) -> bool {
        matches!(self.entries.front(), Some(Entry::Run(_)))
    }

    /// How many messages the run at the front holds (0 when an error or
    /// nothing is in front).
    pub fn front_run_len(&self) -> usize {
        match self.entries.front() {
            Some(Entry::Run(run)) => run.messages.len(),
            _ => 0,
        }
    }

    /// The offset of the next item: a message's, or where an error stopped
    /// the partition (`None` for an error without one, or an empty queue).
    pub fn front_offset(&self) -> Option<i64> {
        match self.entries.front()? {
            Entry::Run(run) => run.messages.as_slice().first().map(Message::offset),
            Entry::Error(e) => e.offset,
        }
    }

    /// Takes the next item, with its [`Message::queued_size`] (0 for an
    /// error).
    pub fn pop_front(&mut self) -> Option<(Item, usize)> {
        let (item, size, emptied) = match self.entries.front_mut()? {
            Entry::Run(run) => {
                let message = run.messages.next()?;
                let size = message.queued_size();
                run.bytes = run.bytes.saturating_sub(size);
                (Item::Message(message), size, run.messages.len() == 0)
            }
            Entry::Error(_) => match self.entries.pop_front() {
                Some(Entry::Error(e)) => (Item::Error(e), 0, false),
                _ => return None,
            },
        };
        if emptied {
            self.entries.pop_front();
        }
        self.len -= 1;
        Some((item, size))
    }

    /// Moves up to `n` messages from the front into `out`, stopping at an
    /// error; returns how many and their sizes summed. A whole run that fits
    /// into an empty `out` becomes `out` (no message is moved).
    pub fn take_messages(&mut self, out: &mut Vec<Message>, n: usize) -> (usize, usize) {
        let mut taken = 0;
        let mut bytes = 0;
        while taken < n {
            let Some(Entry::Run(run)) = self.entries.front_mut() else {
                break;
            };
            let left = run.messages.len();
            if left <= n - taken {
                let Some(Entry::Run(run)) = self.entries.pop_front() else {
                    break;
                };
                if out.is_empty() {
                    // In place: the run's allocation becomes `out`.
                    *out = run.messages.collect();
                } else {
                    out.extend(run.messages);
                }
                bytes += run.bytes;
                taken += left;
            } else {
                let want = n - taken;
                let mut size = 0;
                out.reserve(want);
                for message in run.messages.by_ref().take(want) {
                    size += message.queued_size();
                    out.push(message);
                }
                run.bytes = run.bytes.saturating_sub(size);
                bytes += size;
                taken += want;
            }
        }
        self.len -= taken;
        (taken, bytes)
    }

    /// Drops everything queued.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::error::Error;
    use crate::protocol::records::TimestampType;

    fn message(offset: i64) -> Message {
        Message::copied(
            &Arc::from("t"),
            0,
            offset,
            None,
            Some(b"v"),
            &[],
            0,
            TimestampType::CreateTime,
        )
    }

    fn run(offsets: std::ops::Range<i64>) -> (Vec<Message>, usize) {
        let messages: Vec<Message> = offsets.map(message).collect();
        let bytes = messages.iter().map(Message::queued_size).sum();
        (messages, bytes)
    }

    fn offsets(messages: &[Message]) -> Vec<i64> {
        messages.iter().map(Message::offset).collect()
    }

    #[test]
    fn a_whole_run_becomes_the_batch_without_moving_its_messages() {
        let mut runs = Runs::default();
        let (messages, bytes) = run(0..5);
        let first = messages.as_ptr();
        runs.push_messages(messages, bytes);
        let mut out = Vec::new();
        assert_eq!(runs.take_messages(&mut out, 10), (5, bytes));
        assert_eq!(out.as_ptr(), first, "the run's own allocation");
        assert_eq!(offsets(&out), [0, 1, 2, 3, 4]);
        assert!(runs.is_empty());
    }

    #[test]
    fn runs_are_split_joined_and_stop_at_an_error() {
        let mut runs = Runs::default();
        let (a, a_bytes) = run(0..3);
        let (b, b_bytes) = run(3..6);
        runs.push_messages(a, a_bytes);
        runs.push_messages(b, b_bytes);
        runs.push_back(Item::error(Some(6), Error::Closed("test")));
        runs.push_back(Item::Message(message(7)));
        assert_eq!(runs.len(), 8);

        let mut out = Vec::new();
        let (taken, bytes) = runs.take_messages(&mut out, 2);
        assert_eq!((taken, offsets(&out)), (2, vec![0, 1]));
        assert_eq!(runs.front_offset(), Some(2));
        let (taken, more) = runs.take_messages(&mut out, 100);
        assert_eq!((taken, offsets(&out)), (4, vec![0, 1, 2, 3, 4, 5]));
        assert_eq!(bytes + more, a_bytes + b_bytes, "every size counted once");
        assert_eq!(
            runs.take_messages(&mut out, 100),
            (0, 0),
            "stopped at the error"
        );
        assert!(!runs.front_is_message());
        assert_eq!(runs.front_offset(), Some(6));
        assert!(matches!(runs.pop_front(), Some((Item::Error(_), 0))));
        assert!(matches!(runs.pop_front(), Some((Item::Message(m), _)) if m.offset() == 7));
        assert!(runs.is_empty() && runs.pop_front().is_none());
    }

    #[test]
    fn popping_one_by_one_keeps_order_and_sizes_and_given_back_messages_come_first() {
        let mut runs = Runs::default();
        let (messages, bytes) = run(10..13);
        runs.push_messages(messages, bytes);
        let mut sizes = 0;
        let mut given_back = 0;
        let mut got = Vec::new();
        while let Some((Item::Message(m), size)) = runs.pop_front() {
            sizes += size;
            got.push(m.offset());
            if got.len() == 1 {
                let (back, back_bytes) = run(8..10);
                runs.push_front_messages(back, back_bytes);
                given_back = back_bytes;
            }
        }
        assert_eq!(got, [10, 8, 9, 11, 12]);
        assert_eq!(sizes, bytes + given_back);
        runs.push_messages(Vec::new(), 0);
        assert!(runs.is_empty(), "an empty run is not queued");
    }
}
