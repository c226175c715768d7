//! The records a share consumer holds and what it owes the brokers for them:
//! acquired records not handed out yet, records handed out and not
//! acknowledged, and acknowledgements not sent yet.
//!
//! Pure bookkeeping behind one short-held lock: no I/O, so
//! [`acknowledge`](super::ShareConsumer::acknowledge) never waits for the
//! network, even while another thread polls.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use log::warn;

use super::config::AckType;
use crate::consumer::Message;
use crate::error::{Error, Result};
use crate::protocol::api::share_fetch::acknowledge_type;
use crate::protocol::api::AcknowledgementBatch;

/// A topic-partition, by topic name.
pub(crate) type Tp = (Arc<str>, i32);

/// What the consumer holds.
#[derive(Debug, Default)]
pub(crate) struct Acks {
    /// Acquired by the last fetch, not handed out yet.
    buffered: VecDeque<Message>,
    /// Handed out, not acknowledged.
    delivered: BTreeMap<Tp, BTreeSet<i64>>,
    /// Acknowledgements to send: offset → type.
    pending: BTreeMap<Tp, BTreeMap<i64, i8>>,
    /// Acknowledgements the brokers refused, for the next `commit_sync`.
    errors: Vec<Error>,
}

impl Acks {
    /// Hands out the next buffered record, which then awaits its
    /// acknowledgement.
    pub(crate) fn hand_out(&mut self) -> Option<Message> {
        let m = self.buffered.pop_front()?;
        self.delivered
            .entry((Arc::clone(m.topic_arc()), m.partition()))
            .or_default()
            .insert(m.offset());
        Some(m)
    }

    /// Whether acquired records are waiting to be handed out.
    pub(crate) fn has_buffered(&self) -> bool {
        !self.buffered.is_empty()
    }

    /// Adds freshly acquired records.
    pub(crate) fn buffer(&mut self, messages: impl IntoIterator<Item = Message>) {
        self.buffered.extend(messages);
    }

    /// Records `ack` for a handed-out record.
    ///
    /// # Errors
    /// [`Error::Config`] when this consumer did not hand the record out, or
    /// it was acknowledged already.
    pub(crate) fn acknowledge(&mut self, m: &Message, ack: AckType) -> Result<()> {
        let tp: Tp = (Arc::clone(m.topic_arc()), m.partition());
        let removed = self
            .delivered
            .get_mut(&tp)
            .is_some_and(|offsets| offsets.remove(&m.offset()));
        if !removed {
            return Err(Error::Config(format!(
                "record {}-{}@{} was not handed out by this share consumer or is acknowledged \
                 already; acknowledge each delivered record once",
                m.topic(),
                m.partition(),
                m.offset()
            )));
        }
        self.owe(tp, m.offset(), ack.code());
        Ok(())
    }

    /// Queues an acknowledgement that needs no delivery (a gap, a record
    /// that does not decode).
    pub(crate) fn owe(&mut self, tp: Tp, offset: i64, code: i8) {
        self.pending.entry(tp).or_default().insert(offset, code);
    }

    /// How many handed-out records await an acknowledgement.
    pub(crate) fn unacknowledged(&self) -> usize {
        self.delivered.values().map(BTreeSet::len).sum()
    }

    /// Acknowledges every handed-out record with `ack` (implicit mode's
    /// accept, close's release).
    pub(crate) fn acknowledge_delivered(&mut self, ack: AckType) {
        for (tp, offsets) in std::mem::take(&mut self.delivered) {
            let pending = self.pending.entry(tp).or_default();
            for offset in offsets {
                pending.insert(offset, ack.code());
            }
        }
    }

    /// Releases every buffered record (closing, or a session that ended).
    pub(crate) fn release_buffered(&mut self) {
        for m in std::mem::take(&mut self.buffered) {
            self.owe(
                (Arc::clone(m.topic_arc()), m.partition()),
                m.offset(),
                acknowledge_type::RELEASE,
            );
        }
    }

    /// Forgets everything held of `tps` (their share session ended: the
    /// broker released those records for redelivery), saying so.
    pub(crate) fn forget(&mut self, tps: &BTreeSet<Tp>, why: &str) {
        let pending: usize = tps
            .iter()
            .filter_map(|tp| self.pending.remove(tp))
            .map(|p| p.len())
            .sum();
        self.buffered
            .retain(|m| !tps.contains(&(Arc::clone(m.topic_arc()), m.partition())));
        if pending > 0 {
            warn!(
                "share consumer: {pending} acknowledgements of {tps:?} were not sent ({why}); \
                 the broker releases those records for redelivery"
            );
        }
    }

    /// Drops the buffered records of `tps`, which the consumer no longer
    /// reads (forgetting a partition releases its records on the broker).
    pub(crate) fn unbuffer(&mut self, tps: &BTreeSet<Tp>) {
        self.buffered
            .retain(|m| !tps.contains(&(Arc::clone(m.topic_arc()), m.partition())));
    }

    /// Takes the acknowledgements owed for `tp`, as wire batches.
    pub(crate) fn take(&mut self, tp: &Tp) -> Vec<AcknowledgementBatch> {
        self.pending
            .remove(tp)
            .map(|p| batches(&p))
            .unwrap_or_default()
    }

    /// The partitions with acknowledgements owed.
    pub(crate) fn owed(&self) -> Vec<Tp> {
        self.pending
            .iter()
            .filter(|(_, p)| !p.is_empty())
            .map(|(tp, _)| tp.clone())
            .collect()
    }

    /// Notes an acknowledgement a broker refused.
    pub(crate) fn refused(&mut self, error: Error) {
        warn!("share consumer: {error}");
        self.errors.push(error);
    }

    /// The refusals noted since the last call.
    pub(crate) fn take_errors(&mut self) -> Vec<Error> {
        std::mem::take(&mut self.errors)
    }
}

/// Coalesces offset → type into ascending, non-overlapping batches of
/// contiguous offsets with one type each (the compact form every broker
/// accepts).
pub(crate) fn batches(pending: &BTreeMap<i64, i8>) -> Vec<AcknowledgementBatch> {
    let mut out: Vec<AcknowledgementBatch> = Vec::new();
    for (&offset, &code) in pending {
        if let Some(last) = out.last_mut() {
            if last.last_offset + 1 == offset && last.acknowledge_types == [code] {
                last.last_offset = offset;
                continue;
            }
        }
        out.push(AcknowledgementBatch {
            first_offset: offset,
            last_offset: offset,
            acknowledge_types: vec![code],
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::records::TimestampType;

    fn message(offset: i64) -> Message {
        {
            let mut m = Message::copied(
                &Arc::from("jobs"),
                0,
                offset,
                None,
                None,
                &[],
                0,
                TimestampType::CreateTime,
            );
            m.set_delivery_count(1);
            m
        }
    }

    fn tp() -> Tp {
        (Arc::from("jobs"), 0)
    }

    #[test]
    fn contiguous_offsets_of_one_type_make_one_batch() {
        let pending: BTreeMap<i64, i8> = [(1, 1), (2, 1), (3, 2), (5, 2), (6, 3)]
            .into_iter()
            .collect();
        let got: Vec<_> = batches(&pending)
            .into_iter()
            .map(|b| (b.first_offset, b.last_offset, b.acknowledge_types))
            .collect();
        assert_eq!(
            got,
            vec![
                (1, 2, vec![1]),
                (3, 3, vec![2]),
                (5, 5, vec![2]),
                (6, 6, vec![3])
            ]
        );
    }

    #[test]
    fn a_record_is_acknowledged_once_and_only_when_handed_out() {
        let mut acks = Acks::default();
        acks.buffer([message(4), message(5)]);
        let m = acks.hand_out().unwrap();
        assert!(acks.acknowledge(&message(5), AckType::Accept).is_err());
        acks.acknowledge(&m, AckType::Release).unwrap();
        assert!(matches!(
            acks.acknowledge(&m, AckType::Accept),
            Err(Error::Config(_))
        ));
        assert_eq!(acks.unacknowledged(), 0);
        let b = acks.take(&tp());
        assert_eq!(b.len(), 1);
        assert_eq!((b[0].first_offset, b[0].acknowledge_types[0]), (4, 2));
    }

    #[test]
    fn implicit_accept_and_release_on_close_cover_everything_held() {
        let mut acks = Acks::default();
        acks.buffer([message(0), message(1), message(2)]);
        acks.hand_out();
        acks.hand_out();
        acks.acknowledge_delivered(AckType::Accept);
        acks.release_buffered();
        let b = acks.take(&tp());
        let got: Vec<_> = b
            .iter()
            .map(|b| (b.first_offset, b.last_offset, b.acknowledge_types[0]))
            .collect();
        assert_eq!(got, vec![(0, 1, 1), (2, 2, 2)]);
        assert!(acks.owed().is_empty());
    }
}
