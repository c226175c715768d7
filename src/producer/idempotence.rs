//! The idempotent producer's state: producer id, epoch and per-partition
//! sequence numbers.
//!
//! The sender asks any broker for a producer id (InitProducerId with a null
//! transactional id) before its first send. Each batch gets the partition's
//! next sequence number when it is first sent and keeps it across retries,
//! so the broker can drop a batch it already has and refuse one that would
//! leave a gap. A batch whose outcome is unknown (request timeout, connection
//! lost) is therefore always resent with its original producer id, epoch and
//! sequence.
//!
//! When the broker no longer knows the producer or sees a gap
//! (UNKNOWN_PRODUCER_ID, OUT_OF_ORDER_SEQUENCE_NUMBER, INVALID_PRODUCER_EPOCH)
//! for the *first* unresolved batch of a partition (every earlier one is
//! acknowledged or finally failed), the partition's sequences must restart
//! under a new epoch; the same answer for a later batch only means an
//! earlier one is still unresolved, and the batch is just retried. As in the
//! Java producer (`TransactionManager`), the restart waits until none of the
//! partition's batches is in flight: then the epoch is bumped
//! (InitProducerId v3+ with the current id and epoch, KIP-360; a fresh id
//! before v3) unless another partition's restart already bumped it, and the
//! partition's unacknowledged batches get new sequences from 0, in their
//! original order. Other partitions keep their producer state, and so their
//! sequences, until they have nothing unresolved; a partition never has
//! batches of two epochs unresolved at once.
//!
//! # References
//! Kafka protocol guide, "InitProducerId API"; KIP-98 (idempotence), KIP-360
//! (epoch bumps for idempotent producers); the Java producer's
//! `TransactionManager` and `RecordAccumulator`.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::{info, warn};

use super::accumulator::Batch;
use super::config::{Acks, ProducerConfig};
use crate::error::{Error, Result};
use crate::protocol::api::InitProducerIdRequest;
use crate::protocol::{api_key, ErrorCode, Request};
use crate::KafkaClient;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Off,
    /// On if the broker supports it.
    Auto,
    /// On, or fail.
    Required,
}

pub(crate) struct Idempotence {
    mode: Mode,
    state: Option<(i64, i16)>,
    decided: bool,
    partitions: HashMap<(Arc<str>, i32), PartitionSequences>,
    /// Partitions waiting to restart their sequences (so the sender's loop
    /// does not look through every partition when none is).
    restarts: usize,
    next_attempt: Instant,
    attempts: u32,
    request_timeout: Duration,
    retry_backoff: (Duration, Duration),
}

/// One partition's sequence numbers.
struct PartitionSequences {
    /// The producer id and epoch the partition's sequences belong to; it
    /// lags behind the producer's after a bump until the partition has
    /// nothing unresolved (or restarts).
    producer: (i64, i16),
    next: i32,
    /// Base sequences of the batches stamped and not yet resolved (in
    /// flight or waiting for a retry), in stamping order.
    unresolved: VecDeque<i32>,
    /// The broker refused the first unresolved batch's producer state: the
    /// sequences restart under a newer epoch once nothing is in flight.
    restart: bool,
}

impl PartitionSequences {
    fn new(producer: (i64, i16)) -> Self {
        PartitionSequences {
            producer,
            next: 0,
            unresolved: VecDeque::new(),
            restart: false,
        }
    }

    /// Hands out `count` sequence numbers, wrapping after `i32::MAX`.
    fn take(&mut self, count: usize) -> i32 {
        let sequence = self.next;
        let count = i64::try_from(count).unwrap_or(i64::MAX);
        self.next = ((i64::from(sequence) + count) % (i64::from(i32::MAX) + 1)) as i32;
        self.unresolved.push_back(sequence);
        sequence
    }
}

fn key(batch: &Batch) -> (Arc<str>, i32) {
    (Arc::clone(&batch.topic), batch.partition)
}

impl Idempotence {
    pub(crate) fn new(config: &ProducerConfig) -> Self {
        let mode = match config.idempotence {
            Some(false) => Mode::Off,
            Some(true) => Mode::Required,
            None if config.acks == Acks::All && config.max_in_flight <= 5 => Mode::Auto,
            None => Mode::Off,
        };
        Idempotence {
            mode,
            state: None,
            decided: mode == Mode::Off,
            partitions: HashMap::new(),
            restarts: 0,
            next_attempt: Instant::now(),
            attempts: 0,
            request_timeout: config.request_timeout,
            retry_backoff: (config.retry_backoff, config.retry_backoff_max),
        }
    }

    /// Whether an InitProducerId is due before sending: there is no producer
    /// id yet, or a partition whose sequences must restart under the current
    /// epoch has nothing in flight any more (`idle(topic, partition)`).
    pub(crate) fn wanted(&self, idle: impl Fn(&Arc<str>, i32) -> bool) -> bool {
        if self.mode == Mode::Off {
            return false;
        }
        if !self.decided {
            return true;
        }
        let Some(state) = self.state.filter(|_| self.restarts > 0) else {
            return false;
        };
        self.partitions
            .iter()
            .any(|((t, p), s)| s.restart && s.producer == state && idle(t, *p))
    }

    /// Takes the producer id and epoch a transactional producer got from
    /// its coordinator (InitProducerId, an epoch bump, EndTxn v5): every
    /// partition's sequences start again at 0. Called between
    /// transactions only, when nothing is unresolved.
    pub(crate) fn adopt(&mut self, state: (i64, i16)) {
        self.mode = Mode::Required;
        self.state = Some(state);
        self.decided = true;
        self.partitions.clear();
        self.restarts = 0;
    }

    /// Whether a partition waits for an epoch bump.
    pub(crate) fn restart_pending(&self) -> bool {
        self.restarts > 0
    }

    /// Whether batches may be sent.
    pub(crate) fn ready(&self) -> bool {
        self.decided
    }

    /// Whether batches carry producer state.
    pub(crate) fn enabled(&self) -> bool {
        self.state.is_some()
    }

    /// Whether a new (unstamped) batch of `topic`/`partition` may be sent:
    /// not while the partition waits to restart its sequences, nor while it
    /// has unresolved batches of an older epoch (their outcome decides the
    /// partition's next sequence).
    pub(crate) fn may_send_new(&self, topic: &Arc<str>, partition: i32) -> bool {
        let Some(state) = self.state else {
            return true;
        };
        self.partitions
            .get(&(Arc::clone(topic), partition))
            .is_none_or(|s| !s.restart && (s.producer == state || s.unresolved.is_empty()))
    }

    /// Whether a batch that failed before may be resent as it is stamped:
    /// not while its partition waits to restart its sequences (one never
    /// stamped is a new batch).
    pub(crate) fn may_resend(&self, batch: &Batch) -> bool {
        if batch.stamped.is_none() {
            return self.may_send_new(&batch.topic, batch.partition);
        }
        self.partitions.get(&key(batch)).is_none_or(|s| !s.restart)
    }

    /// Gets a producer id (or a bumped epoch) if one is due. An error means
    /// idempotence was required and the cluster cannot provide it.
    pub(crate) fn ensure(&mut self, client: &KafkaClient) -> Result<()> {
        let now = Instant::now();
        if now < self.next_attempt {
            return Ok(());
        }
        match self.init_producer_id(client) {
            Ok(Some((id, epoch))) => {
                if self.state.is_none() {
                    info!("idempotent producer: producer id {id}, epoch {epoch}");
                } else {
                    warn!(
                        "idempotent producer: now producer id {id}, epoch {epoch}; \
                         partitions restart their sequences at 0 once nothing of theirs is in flight"
                    );
                }
                self.state = Some((id, epoch));
                self.decided = true;
                self.attempts = 0;
                Ok(())
            }
            Ok(None) => self.give_up(Error::UnsupportedVersion {
                broker: "the cluster".into(),
                api: "InitProducerId",
                ours: format!(
                    "v{}..=v{}",
                    InitProducerIdRequest::MIN_VERSION,
                    InitProducerIdRequest::MAX_VERSION
                ),
            }),
            Err(e) if e.is_retriable() => {
                self.attempts += 1;
                let wait = super::retry::backoff(
                    self.retry_backoff.0,
                    self.retry_backoff.1,
                    self.attempts,
                );
                warn!("InitProducerId failed ({e}); retrying in {wait:?}");
                self.next_attempt = crate::time::add(now, wait);
                Ok(())
            }
            Err(e) => self.give_up(e),
        }
    }

    /// Without a producer id: fatal when required, else carry on without.
    fn give_up(&mut self, e: Error) -> Result<()> {
        if self.mode == Mode::Required {
            // Keep retrying later; the queued records fail now.
            self.next_attempt = crate::time::after(self.retry_backoff.1);
            return Err(e);
        }
        warn!("idempotence is off: {e}");
        self.mode = Mode::Off;
        self.state = None;
        self.decided = true;
        self.partitions.clear();
        self.restarts = 0;
        Ok(())
    }

    /// `Ok(None)` when the broker has no InitProducerId.
    fn init_producer_id(&self, client: &KafkaClient) -> Result<Option<(i64, i16)>> {
        let conn = client.any_connection(crate::time::after(self.request_timeout))?;
        let Some(range) = conn.api_range(api_key::INIT_PRODUCER_ID) else {
            return Ok(None);
        };
        let fresh = InitProducerIdRequest::default();
        let response = match (range.max_version >= 3, self.state) {
            (true, Some((id, epoch))) => {
                let bump = InitProducerIdRequest {
                    producer_id: id,
                    producer_epoch: epoch,
                    ..InitProducerIdRequest::default()
                };
                let response = conn.request(&bump);
                // A broker that lost the producer (restarted, say) refuses
                // the bump; a fresh id serves as well.
                let refused = match &response {
                    Ok(r) => r.error_code != ErrorCode::None && !r.error_code.is_retriable(),
                    Err(e) => !e.is_retriable(),
                };
                if refused {
                    conn.request(&fresh)
                } else {
                    response
                }
            }
            _ => conn.request(&fresh),
        };
        let response = response?;
        match response.error_code {
            ErrorCode::None => Ok(Some((response.producer_id, response.producer_epoch))),
            code => Err(Error::broker(
                code,
                None,
                format!("InitProducerId on {}", conn.addr()),
            )),
        }
    }

    /// Sequence state for a batch about to be sent: `Some` when the batch
    /// needs (new) producer id, epoch and base sequence written into it. A
    /// new batch takes its partition's next sequence (the partition adopts
    /// the producer's current epoch first when it has nothing unresolved); a
    /// stamped one keeps its stamp unless [`restart`](Self::restart)
    /// reassigned it.
    pub(crate) fn stamp(&mut self, batch: &mut Batch) -> Option<(i64, i16, i32)> {
        let Some(state) = self.state else {
            // Idempotence was turned off after this batch was stamped.
            return batch.stamped.take().map(|_| {
                batch.base_sequence = None;
                batch.restamped = false;
                (-1, -1, -1)
            });
        };
        if let (Some((id, epoch)), Some(sequence)) = (batch.stamped, batch.base_sequence) {
            return std::mem::take(&mut batch.restamped).then_some((id, epoch, sequence));
        }
        let partition = self
            .partitions
            .entry(key(batch))
            .or_insert_with(|| PartitionSequences::new(state));
        if partition.producer != state && partition.unresolved.is_empty() && !partition.restart {
            // Nothing of the old epoch can still land: start the new one.
            *partition = PartitionSequences::new(state);
        }
        let sequence = partition.take(batch.record_count);
        batch.base_sequence = Some(sequence);
        batch.stamped = Some(partition.producer);
        batch.restamped = false;
        Some((partition.producer.0, partition.producer.1, sequence))
    }

    /// The broker refused `batch`'s producer state. Only when every earlier
    /// batch of the partition is resolved does that mean a real gap (or a
    /// broker that lost the producer): then the partition's sequences must
    /// restart under a newer epoch. Otherwise the batch is only retried: an
    /// earlier batch is still unresolved and explains the refusal.
    pub(crate) fn refused(&mut self, batch: &Batch, error: &Error) {
        let (Some(stamp), Some(sequence)) = (batch.stamped, batch.base_sequence) else {
            return;
        };
        let Some(partition) = self.partitions.get_mut(&key(batch)) else {
            return;
        };
        let first = partition.unresolved.front() == Some(&sequence);
        if first && partition.producer == stamp && !partition.restart {
            warn!(
                "`{}` partition {}: sequences restart under a new epoch once nothing of the \
                 partition is in flight, after: {error}",
                batch.topic, batch.partition
            );
            partition.restart = true;
            self.restarts += 1;
            self.next_attempt = self.next_attempt.min(Instant::now());
        }
    }

    /// `batch` left the sender (acknowledged, or finally failed): its
    /// sequence no longer holds the partition back.
    pub(crate) fn resolve(&mut self, batch: &Batch) {
        let (Some(stamp), Some(sequence)) = (batch.stamped, batch.base_sequence) else {
            return;
        };
        if let Some(partition) = self.partitions.get_mut(&key(batch)) {
            if partition.producer == stamp {
                if let Some(at) = partition.unresolved.iter().position(|&s| s == sequence) {
                    partition.unresolved.remove(at);
                }
            }
        }
    }

    /// Partitions whose sequences can restart now: they wait for it, have
    /// nothing in flight (`idle`), and the producer's epoch is newer than
    /// theirs.
    pub(crate) fn restartable(
        &self,
        idle: impl Fn(&Arc<str>, i32) -> bool,
    ) -> Vec<(Arc<str>, i32)> {
        let Some(state) = self.state else {
            return Vec::new();
        };
        self.partitions
            .iter()
            .filter(|((t, p), s)| s.restart && s.producer != state && idle(t, *p))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Restarts a partition's sequences under the current epoch: its
    /// unacknowledged `batches` (none in flight), in their original order,
    /// get sequences from 0, written into them when they are next sent.
    pub(crate) fn restart(&mut self, topic: &Arc<str>, partition: i32, batches: &mut [&mut Batch]) {
        let Some(state) = self.state else {
            return;
        };
        let mut sequences = PartitionSequences::new(state);
        for batch in batches.iter_mut() {
            batch.base_sequence = Some(sequences.take(batch.record_count));
            batch.stamped = Some(state);
            batch.restamped = true;
        }
        warn!(
            "`{topic}` partition {partition}: {} unacknowledged batches resent with producer id {}, \
             epoch {} from sequence 0",
            batches.len(),
            state.0,
            state.1
        );
        let old = self
            .partitions
            .insert((Arc::clone(topic), partition), sequences);
        if old.is_some_and(|s| s.restart) {
            self.restarts -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::records::BatchOptions;

    fn batch(partition: i32, records: usize) -> Batch {
        let mut b = Batch::new(&Arc::from("t"), partition, BatchOptions::default(), 0, None);
        b.record_count = records;
        b
    }

    fn enabled() -> Idempotence {
        let mut i = Idempotence::new(&ProducerConfig::default());
        i.state = Some((1000, 0));
        i.decided = true;
        i
    }

    #[test]
    fn sequences_start_at_zero_and_advance_by_record_count_per_partition() {
        let mut i = enabled();
        assert_eq!(i.stamp(&mut batch(0, 5)), Some((1000, 0, 0)));
        assert_eq!(i.stamp(&mut batch(0, 3)), Some((1000, 0, 5)));
        assert_eq!(i.stamp(&mut batch(1, 2)), Some((1000, 0, 0)));
        assert_eq!(i.stamp(&mut batch(0, 1)), Some((1000, 0, 8)));
    }

    #[test]
    fn a_retried_batch_keeps_its_sequence() {
        let mut i = enabled();
        let mut b = batch(0, 5);
        i.stamp(&mut b);
        assert_eq!(i.stamp(&mut b), None, "already stamped: sent as is");
        assert_eq!(b.base_sequence, Some(0));
    }

    #[test]
    fn after_an_epoch_bump_batches_are_restamped_from_zero() {
        let mut i = enabled();
        let mut old = batch(0, 5);
        i.stamp(&mut old);
        i.refused(&old, &Error::Closed("test"));
        assert!(i.wanted(|_, _| true) && !i.may_resend(&old));
        // What `ensure` does with the broker's answer.
        i.state = Some((1000, 1));
        assert!(!i.wanted(|_, _| true), "one bump is enough");
        assert_eq!(i.restartable(|_, _| true).len(), 1);
        i.restart(&Arc::from("t"), 0, &mut [&mut old]);
        assert!(i.may_resend(&old));
        assert_eq!(i.stamp(&mut old), Some((1000, 1, 0)));
    }

    #[test]
    fn a_batch_from_before_the_bump_does_not_bump_again() {
        let mut i = enabled();
        let mut old = batch(0, 5);
        i.stamp(&mut old);
        i.state = Some((1000, 1));
        i.refused(&old, &Error::Closed("test"));
        assert!(!i.wanted(|_, _| true));
    }

    #[test]
    fn no_bump_while_the_refused_partition_has_batches_in_flight() {
        let mut i = enabled();
        let mut first = batch(0, 5);
        i.stamp(&mut first);
        i.refused(&first, &Error::Closed("test"));
        assert!(
            !i.wanted(|_, _| false),
            "a batch of the partition is in flight"
        );
        assert!(i.wanted(|_, _| true));
    }

    #[test]
    fn a_refused_batch_behind_an_unresolved_one_is_only_retried() {
        let mut i = enabled();
        let (mut first, mut second) = (batch(0, 5), batch(0, 3));
        i.stamp(&mut first);
        i.stamp(&mut second);
        i.refused(&second, &Error::Closed("test"));
        assert!(!i.wanted(|_, _| true) && i.may_resend(&second));
        // Once the first is acknowledged, the second is first: a real gap.
        i.resolve(&first);
        i.refused(&second, &Error::Closed("test"));
        assert!(i.wanted(|_, _| true));
    }

    #[test]
    fn a_batch_of_unknown_outcome_keeps_its_stamp_across_another_partitions_bump() {
        let mut i = enabled();
        let mut unknown = batch(0, 5);
        let mut gap = batch(1, 2);
        i.stamp(&mut unknown);
        i.stamp(&mut gap);
        i.refused(&gap, &Error::Closed("test"));
        i.state = Some((1000, 1));
        i.restart(&Arc::from("t"), 1, &mut [&mut gap]);
        assert_eq!(i.stamp(&mut gap), Some((1000, 1, 0)));
        assert_eq!(i.stamp(&mut unknown), None, "resent as first stamped");
        assert_eq!(unknown.stamped, Some((1000, 0)));
        // Partition 0 sends nothing new until its old batch resolves...
        let t: Arc<str> = Arc::from("t");
        assert!(!i.may_send_new(&t, 0) && i.may_send_new(&t, 1));
        i.resolve(&unknown);
        // ...then starts the new epoch at 0.
        assert!(i.may_send_new(&t, 0));
        assert_eq!(i.stamp(&mut batch(0, 1)), Some((1000, 1, 0)));
    }

    #[test]
    fn restarted_batches_get_sequences_in_their_order() {
        let mut i = enabled();
        let mut batches = [batch(0, 5), batch(0, 3), batch(0, 2)];
        for b in &mut batches {
            i.stamp(b);
        }
        i.refused(&batches[0], &Error::Closed("test"));
        i.state = Some((1000, 1));
        let [a, b, c] = &mut batches;
        i.restart(&Arc::from("t"), 0, &mut [a, b, c]);
        let stamps: Vec<_> = batches.iter_mut().map(|b| i.stamp(b)).collect();
        assert_eq!(
            stamps,
            [Some((1000, 1, 0)), Some((1000, 1, 5)), Some((1000, 1, 8))]
        );
        assert_eq!(i.stamp(&mut batch(0, 1)), Some((1000, 1, 10)));
    }

    #[test]
    fn sequences_wrap_to_zero_after_i32_max() {
        let mut i = enabled();
        let mut near = PartitionSequences::new((1000, 0));
        near.next = i32::MAX - 1;
        i.partitions.insert((Arc::from("t"), 0), near);
        assert_eq!(i.stamp(&mut batch(0, 3)), Some((1000, 0, i32::MAX - 1)));
        assert_eq!(i.stamp(&mut batch(0, 1)), Some((1000, 0, 1)));
    }

    #[test]
    fn idempotence_off_clears_a_stamp() {
        let mut i = enabled();
        let mut b = batch(0, 5);
        i.stamp(&mut b);
        i.state = None;
        assert_eq!(i.stamp(&mut b), Some((-1, -1, -1)));
        assert_eq!(i.stamp(&mut b), None);
    }

    #[test]
    fn auto_idempotence_needs_acks_all() {
        let leader = ProducerConfig::default().acks(Acks::Leader);
        assert!(!Idempotence::new(&leader).wanted(|_, _| true));
        assert!(Idempotence::new(&ProducerConfig::default()).wanted(|_, _| true));
        let off = ProducerConfig::default().idempotence(Some(false));
        assert!(Idempotence::new(&off).ready());
    }
}
