//! The idempotent producer's state: producer id, epoch and per-partition
//! sequence numbers.
//!
//! The sender asks any broker for a producer id (InitProducerId with a null
//! transactional id) before its first send. Each batch gets the partition's
//! next sequence number when it is first sent and keeps it across retries,
//! so the broker can drop a batch it already has and refuse one that would
//! leave a gap. When the broker no longer knows the producer or sees a gap
//! (UNKNOWN_PRODUCER_ID, OUT_OF_ORDER_SEQUENCE_NUMBER), the sender bumps the
//! epoch (InitProducerId v3+ with the current id and epoch, KIP-360; a fresh
//! id before v3), restarts every partition's sequence at 0, and resends the
//! unacknowledged batches with new sequences, in their original order.
//!
//! # References
//! Kafka protocol guide, "InitProducerId API"; KIP-98 (idempotence), KIP-360
//! (epoch bumps for idempotent producers).

use std::collections::HashMap;
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
    bump: bool,
    sequences: HashMap<(Arc<str>, i32), i32>,
    next_attempt: Instant,
    attempts: u32,
    request_timeout: Duration,
    retry_backoff: (Duration, Duration),
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
            bump: false,
            sequences: HashMap::new(),
            next_attempt: Instant::now(),
            attempts: 0,
            request_timeout: config.request_timeout,
            retry_backoff: (config.retry_backoff, config.retry_backoff_max),
        }
    }

    /// Whether an InitProducerId is due before sending.
    pub(crate) fn wanted(&self) -> bool {
        self.mode != Mode::Off && (!self.decided || self.bump)
    }

    /// Whether batches may be sent.
    pub(crate) fn ready(&self) -> bool {
        self.decided && !self.bump
    }

    /// Whether batches carry producer state.
    pub(crate) fn enabled(&self) -> bool {
        self.state.is_some()
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
                    warn!("idempotent producer: now producer id {id}, epoch {epoch}; sequences restart at 0");
                }
                self.state = Some((id, epoch));
                self.sequences.clear();
                self.decided = true;
                self.bump = false;
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
        self.bump = false;
        Ok(())
    }

    /// `Ok(None)` when the broker has no InitProducerId.
    fn init_producer_id(&self, client: &KafkaClient) -> Result<Option<(i64, i16)>> {
        let conn = client.any_connection(crate::time::after(self.request_timeout))?;
        let Some(range) = conn.api_range(api_key::INIT_PRODUCER_ID) else {
            return Ok(None);
        };
        let fresh = InitProducerIdRequest::default();
        let response = match (self.bump && range.max_version >= 3, self.state) {
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
    /// needs (new) producer id, epoch and base sequence written into it.
    pub(crate) fn stamp(&mut self, batch: &mut Batch) -> Option<(i64, i16, i32)> {
        let Some((id, epoch)) = self.state else {
            // Idempotence was turned off after this batch was stamped.
            return batch.stamped.take().map(|_| {
                batch.base_sequence = None;
                (-1, -1, -1)
            });
        };
        if batch.stamped == Some((id, epoch)) {
            return None;
        }
        let key = (Arc::clone(&batch.topic), batch.partition);
        let next = self.sequences.entry(key).or_insert(0);
        let sequence = *next;
        let count = i64::try_from(batch.record_count).unwrap_or(i64::MAX);
        *next = ((i64::from(sequence) + count) % (i64::from(i32::MAX) + 1)) as i32;
        batch.base_sequence = Some(sequence);
        batch.stamped = Some((id, epoch));
        Some((id, epoch, sequence))
    }

    /// The broker rejected `batch`'s producer state: bump the epoch, unless
    /// the batch was stamped before the latest bump (it is only restamped).
    pub(crate) fn request_bump(&mut self, batch: &Batch, error: &Error) {
        if self.state.is_some() && batch.stamped == self.state && !self.bump {
            warn!("bumping the producer epoch after: {error}");
            self.bump = true;
            self.next_attempt = Instant::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::records::BatchOptions;

    fn batch(partition: i32, records: usize) -> Batch {
        let mut b = Batch::new(&Arc::from("t"), partition, BatchOptions::default(), 0);
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
        i.request_bump(&old, &Error::Closed("test"));
        assert!(i.wanted() && !i.ready());
        // What `ensure` does with the broker's answer.
        i.state = Some((1000, 1));
        i.sequences.clear();
        i.bump = false;
        assert_eq!(i.stamp(&mut old), Some((1000, 1, 0)));
    }

    #[test]
    fn a_batch_from_before_the_bump_does_not_bump_again() {
        let mut i = enabled();
        let mut old = batch(0, 5);
        i.stamp(&mut old);
        i.state = Some((1000, 1));
        i.request_bump(&old, &Error::Closed("test"));
        assert!(!i.bump);
    }

    #[test]
    fn sequences_wrap_to_zero_after_i32_max() {
        let mut i = enabled();
        i.sequences.insert((Arc::from("t"), 0), i32::MAX - 1);
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
        assert!(!Idempotence::new(&leader).wanted());
        assert!(Idempotence::new(&ProducerConfig::default()).wanted());
        let off = ProducerConfig::default().idempotence(Some(false));
        assert!(Idempotence::new(&off).ready());
    }
}
