//! Share groups (KIP-932, "queues for Kafka"): the [`ShareConsumer`].
//!
//! Members of a share group read the same partitions; the partition leader
//! hands each record to one member at a time, locked for the acquisition
//! lock timeout, and the member acknowledges it: accept (done), release
//! (deliver again, to anyone, with a higher delivery count) or reject (never
//! again). A record whose lock runs out, or whose member leaves or dies, is
//! delivered again to another member.
//!
//! ```text
//! caller thread                                   kafka-sync-share-heartbeat
//! ─────────────                                   ──────────────────────────
//! consume / iterate ──▶ ShareFetch per leader      ShareGroupHeartbeat every
//!   (acks piggybacked, share session per leader)   heartbeat interval; takes
//! acknowledge ──▶ (short lock, no I/O)             the assignment; leaves
//! commit_sync / close ──▶ ShareAcknowledge         with epoch -1 on close
//! ```
//!
//! Fetches run on the caller's thread when it asks for a record and none
//! is buffered: records are acquired only when the application is ready
//! for them, so none sit locked in a prefetch queue.
//!
//! # References
//! KIP-932 (queues for Kafka); Kafka protocol guide, "ShareGroupHeartbeat
//! API", "ShareFetch API", "ShareAcknowledge API".

mod acks;
mod config;
mod member;
mod session;

use std::fmt;
use std::time::{Duration, Instant};

use log::warn;
use parking_lot::Mutex;

use self::acks::Acks;
use self::member::{Identity, Member};
use self::session::Sessions;
use crate::cluster::{GroupCoordinator, KafkaClient};
use crate::consumer::{Message, Subscription};
use crate::error::{Error, Result};

pub use config::{AckType, AcknowledgementMode, ShareConsumerConfig};

/// How long one idle wait lasts when nothing is assigned yet.
const IDLE_WAIT: Duration = Duration::from_millis(50);

impl KafkaClient {
    /// Joins share group `group_id` (KIP-932) as a new member reading
    /// `subscription`'s topics, and returns its consumer.
    ///
    /// The member id is generated here; the coordinator assigns partitions
    /// (possibly the same ones to several members: records, not
    /// partitions, are what members share). A pattern subscription is
    /// resolved once, here: share groups subscribe to topic names.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use kafka_sync::consumer::{AckType, ShareConsumerConfig};
    /// use kafka_sync::{KafkaClient, Subscription};
    ///
    /// let client = KafkaClient::new("127.0.0.1:9092")?;
    /// let consumer = client.get_share_consumer(
    ///     "workers",
    ///     Subscription::topics(["jobs"]),
    ///     ShareConsumerConfig::default().consumer_timeout(Duration::from_secs(5)),
    /// )?;
    /// for message in &consumer {
    ///     let m = message?;
    ///     let ok = !m.value_bytes().is_empty();
    ///     consumer.acknowledge(&m, if ok { AckType::Accept } else { AckType::Reject })?;
    /// }
    /// consumer.commit_sync(Duration::from_secs(5))?;
    /// # Ok::<(), kafka_sync::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::UnsupportedVersion`] naming ShareGroupHeartbeat when the
    /// group coordinator has no share groups (brokers before Kafka 4.1,
    /// tansu 0.6); [`Error::Config`] for an empty subscription;
    /// [`Error::Timeout`] when the coordinator does not accept the member
    /// within [`join_timeout`](ShareConsumerConfig::join_timeout); broker
    /// errors such as `GROUP_MAX_SIZE_REACHED`.
    pub fn get_share_consumer(
        &self,
        group_id: &str,
        subscription: Subscription,
        config: ShareConsumerConfig,
    ) -> Result<ShareConsumer> {
        ShareConsumer::new(self.clone(), group_id, subscription, config)
    }
}

/// A member of a share group (KIP-932); `Send + Sync`.
///
/// [`consume`](Self::consume) and iteration hand out acquired records one
/// at a time, each with its [`delivery_count`](Message::delivery_count);
/// when none is buffered they send a ShareFetch to each partition leader
/// (carrying the acknowledgements owed) and wait up to the timeout.
/// Iterating `&consumer` yields `Result<Message>` and ends after
/// [`consumer_timeout`](ShareConsumerConfig::consumer_timeout) without a
/// record.
///
/// In [implicit](AcknowledgementMode::Implicit) mode (the default) every
/// record handed out is accepted by the next fetch, `commit_sync` or
/// `close`, unless [`acknowledge`](Self::acknowledge) said otherwise; in
/// [explicit](AcknowledgementMode::Explicit) mode each must be
/// acknowledged before the next fetch. [`close`](Self::close) (or `Drop`)
/// sends what is owed, releases what is still held and leaves the group.
///
/// A background thread, `kafka-sync-share-heartbeat`, keeps the
/// membership. Calls that fetch or commit are serialized; `acknowledge`
/// never waits for them.
pub struct ShareConsumer {
    group_id: String,
    member_id: String,
    config: ShareConsumerConfig,
    acks: Mutex<Acks>,
    sessions: Mutex<Sessions>,
    member: Option<Member>,
    request_timeout: Duration,
    /// For [`assignment`](Self::assignment), which must not wait for a
    /// fetch in progress (it holds `sessions`).
    client: KafkaClient,
    topics: Vec<String>,
}

impl fmt::Debug for ShareConsumer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShareConsumer")
            .field("group_id", &self.group_id)
            .field("member_id", &self.member_id)
            .finish_non_exhaustive()
    }
}

impl ShareConsumer {
    fn new(
        client: KafkaClient,
        group_id: &str,
        subscription: Subscription,
        config: ShareConsumerConfig,
    ) -> Result<ShareConsumer> {
        if group_id.is_empty() {
            return Err(Error::Config(
                "a share group needs a non-empty group id".into(),
            ));
        }
        let topics = match subscription.listed_topics() {
            Some(topics) => topics.to_vec(),
            None => subscription.select(&client.topics()?),
        };
        if topics.is_empty() {
            return Err(Error::Config(format!(
                "share group `{group_id}`: the subscription names no topic; subscribe to at \
                 least one existing topic"
            )));
        }
        let member_id = crate::consumer::member_id::generate();
        let identity = Identity {
            group_id: group_id.to_owned(),
            member_id: member_id.clone(),
            topics: topics.clone(),
            rack_id: config.rack_id.clone(),
        };
        let backoff = client.config().retry_backoff();
        let request_timeout = client.config().request_timeout();
        let coordinator = GroupCoordinator::new(client.clone(), group_id);
        let member = Member::join(
            coordinator,
            identity,
            backoff,
            crate::time::after(config.join_timeout),
        )?;
        let sessions = Sessions::new(
            client.clone(),
            group_id.to_owned(),
            member_id.clone(),
            topics.clone(),
            config.clone(),
        );
        Ok(ShareConsumer {
            group_id: group_id.to_owned(),
            member_id,
            config,
            acks: Mutex::new(Acks::default()),
            sessions: Mutex::new(sessions),
            member: Some(member),
            request_timeout,
            client,
            topics,
        })
    }

    /// The share group's id.
    pub fn group_id(&self) -> &str {
        &self.group_id
    }

    /// This member's id (generated by the client).
    pub fn member_id(&self) -> &str {
        &self.member_id
    }

    /// The partitions the coordinator assigned to this member, by topic
    /// name (topics this client has no metadata for are left out).
    pub fn assignment(&self) -> Vec<(String, i32)> {
        let Some(member) = &self.member else {
            return Vec::new();
        };
        let assignment = member.shared.lock().assignment.clone();
        let mut out = Vec::new();
        for name in &self.topics {
            if let Ok(meta) = self.client.topic_metadata(name) {
                if let Some(parts) = assignment.get(&meta.topic_id) {
                    out.extend(parts.iter().map(|&p| (name.clone(), p)));
                }
            }
        }
        out.sort();
        out
    }

    /// The next acquired record, waiting up to `timeout`; `Ok(None)` when
    /// none came.
    ///
    /// # Errors
    /// [`Error::Config`] in explicit mode when records handed out earlier
    /// are not acknowledged yet; the membership's end (fenced for good,
    /// [`Error::UnsupportedVersion`]); non-retriable ShareFetch answers.
    pub fn consume(&self, timeout: Duration) -> Result<Option<Message>> {
        self.next_until(crate::time::after(timeout))
    }

    fn next_until(&self, deadline: Instant) -> Result<Option<Message>> {
        let Some(member) = &self.member else {
            return Err(Error::Closed("share consumer"));
        };
        loop {
            if let Some(m) = self.acks.lock().hand_out() {
                return Ok(Some(m));
            }
            if let Some(e) = member.shared.lock().fatal.clone() {
                return Err(e);
            }
            if !member.is_running() {
                return Err(Error::Closed("share consumer's membership"));
            }
            {
                let mut acks = self.acks.lock();
                match self.config.acknowledgement_mode {
                    AcknowledgementMode::Implicit => acks.acknowledge_delivered(AckType::Accept),
                    AcknowledgementMode::Explicit => {
                        let n = acks.unacknowledged();
                        if n > 0 {
                            return Err(Error::Config(format!(
                                "share group `{}`: {n} delivered records are not acknowledged; \
                                 in explicit acknowledgement mode call \
                                 ShareConsumer::acknowledge for every record before fetching \
                                 again",
                                self.group_id
                            )));
                        }
                    }
                }
            }
            let sent = self
                .sessions
                .lock()
                .fetch(&self.acks, &member.shared, deadline)?;
            if self.acks.lock().has_buffered() {
                continue;
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            if !sent {
                std::thread::sleep(IDLE_WAIT.min(deadline - now));
            }
        }
    }

    /// Acknowledges a record this consumer handed out: sent with the next
    /// fetch, [`commit_sync`](Self::commit_sync) or [`close`](Self::close).
    /// Does no I/O.
    ///
    /// # Errors
    /// [`Error::Config`] when the record was not handed out by this
    /// consumer or is acknowledged already.
    pub fn acknowledge(&self, message: &Message, ack: AckType) -> Result<()> {
        self.acks.lock().acknowledge(message, ack)
    }

    /// Sends every acknowledgement owed (in implicit mode, accepting the
    /// records handed out) with ShareAcknowledge and waits for the answers,
    /// up to `timeout`.
    ///
    /// # Errors
    /// The first acknowledgement a broker refused (since the last commit,
    /// piggybacked ones included), e.g. `INVALID_RECORD_STATE` when a
    /// record's lock ran out and it went to another member; transport
    /// errors and [`Error::Timeout`].
    pub fn commit_sync(&self, timeout: Duration) -> Result<()> {
        if self.member.is_none() {
            return Err(Error::Closed("share consumer"));
        }
        let deadline = crate::time::after(timeout.min(self.request_timeout));
        if self.config.acknowledgement_mode == AcknowledgementMode::Implicit {
            self.acks.lock().acknowledge_delivered(AckType::Accept);
        }
        let mut errors = self.acks.lock().take_errors();
        errors.extend(
            self.sessions
                .lock()
                .acknowledge(&self.acks, false, deadline),
        );
        let first = errors.into_iter().next();
        first.map_or(Ok(()), Err)
    }

    /// Iterates over acquired records; see [`ShareIter`].
    pub fn iter(&self) -> ShareIter<'_> {
        ShareIter {
            consumer: self,
            ended: false,
        }
    }

    /// Acknowledges what is owed (implicit mode: accepts the records
    /// handed out; explicit mode: releases those not acknowledged),
    /// releases the records still buffered, closes the share sessions and
    /// leaves the group, within
    /// [`close_timeout`](ShareConsumerConfig::close_timeout). `Drop` does
    /// the same and logs what fails.
    ///
    /// # Errors
    /// The first acknowledgement refused or not delivered.
    pub fn close(mut self) -> Result<()> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<()> {
        let Some(mut member) = self.member.take() else {
            return Ok(());
        };
        let deadline = crate::time::after(self.config.close_timeout);
        {
            let mut acks = self.acks.lock();
            acks.acknowledge_delivered(match self.config.acknowledgement_mode {
                AcknowledgementMode::Implicit => AckType::Accept,
                AcknowledgementMode::Explicit => AckType::Release,
            });
            acks.release_buffered();
        }
        let mut errors = self.acks.lock().take_errors();
        errors.extend(self.sessions.lock().acknowledge(&self.acks, true, deadline));
        member.stop(deadline);
        let first = errors.into_iter().next();
        first.map_or(Ok(()), Err)
    }
}

impl Drop for ShareConsumer {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            warn!("closing share group `{}` member: {e}", self.group_id);
        }
    }
}

/// Iterator over a [`ShareConsumer`]'s records; see [`ShareConsumer::iter`].
///
/// Ends after [`consumer_timeout`](ShareConsumerConfig::consumer_timeout)
/// without a record (never, without one), or after handing out an error
/// that ends the membership.
#[derive(Debug)]
pub struct ShareIter<'a> {
    consumer: &'a ShareConsumer,
    ended: bool,
}

impl Iterator for ShareIter<'_> {
    type Item = Result<Message>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.ended {
            return None;
        }
        let timeout = self.consumer.config.consumer_timeout;
        loop {
            let deadline = crate::time::after(timeout.unwrap_or(Duration::from_secs(1)));
            match self.consumer.next_until(deadline) {
                Ok(Some(m)) => return Some(Ok(m)),
                Ok(None) if timeout.is_some() => return None,
                Ok(None) => continue,
                Err(Error::Closed(_)) => return None,
                Err(e) => {
                    self.ended = !matches!(e, Error::Config(_)) && !e.is_retriable();
                    return Some(Err(e));
                }
            }
        }
    }
}

impl<'a> IntoIterator for &'a ShareConsumer {
    type Item = Result<Message>;
    type IntoIter = ShareIter<'a>;

    fn into_iter(self) -> ShareIter<'a> {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_consumer_can_be_shared_between_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<ShareConsumer>();
    }
}
