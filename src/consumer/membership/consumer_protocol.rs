//! The KIP-848 consumer group protocol: the member state machine run by the
//! `kafka-sync-heartbeat` thread when a consumer uses
//! [`GroupProtocol::Consumer`].
//!
//! The broker assigns the partitions; a member only heartbeats
//! (ConsumerGroupHeartbeat) with its subscription and the partitions it
//! owns, and reconciles towards the target assignment each answer may carry:
//!
//! ```text
//!            epoch 0 (join, full request)
//!   ┌──────────────▶ joining ── answer: epoch N ──▶ stable ◀─────────┐
//!   │                                                │ target ≠ owned │
//!   │ FENCED_MEMBER_EPOCH / UNKNOWN_MEMBER_ID        ▼                │
//!   │ (partitions lost)                          reconciling ─────────┘
//!   └──────────────────────────────────────────  1. revoke owned − target
//!                                                   (Revoked, wait for ack)
//!                                                2. take target − owned
//!                                                   (Assigned)
//!                                                3. heartbeat the owned set
//! ```
//!
//! The coordinator gives a member only partitions that no other member
//! still owns (it withholds those until their owner's heartbeat says it
//! released them), so revoking first and acknowledging with the owned set
//! is all a member does for "no partition with two owners".
//!
//! The member id is generated here, once per consumer (KIP-1082), and kept
//! across rejoins. Heartbeats go out every `heartbeat_interval_ms` the
//! coordinator names, at once when the owned set changed. Close leaves with
//! member epoch -1 (-2 for a static member, whose assignment the
//! coordinator then keeps for its restart).
//!
//! # References
//! KIP-848 (the next generation of the consumer rebalance protocol),
//! KIP-1082 (client-generated member id); Java `ConsumerMembershipManager`
//! and librdkafka's `rdkafka_cgrp.c` for the reconciliation order.

mod heartbeat;
mod reconcile;
mod topic_ids;

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use log::{debug, info};

use super::link::{Link, Next, Step, Stop};
use super::{Command, GroupEvent, MembershipConfig, Shared};
use crate::cluster::KafkaClient;
use crate::consumer::assignor::TopicPartition;
use crate::consumer::member_id;
use crate::protocol::api::consumer_group_heartbeat::{JOIN_EPOCH, LEAVE_EPOCH, STATIC_LEAVE_EPOCH};

use topic_ids::TopicIds;

/// Which consumer group protocol a member speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum GroupProtocol {
    /// The classic protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup):
    /// the group's leader member runs the client-side
    /// [`Assignor`](crate::Assignor). Every Kafka broker speaks it. The
    /// default.
    #[default]
    Classic,
    /// The consumer protocol of KIP-848 (ConsumerGroupHeartbeat; Apache
    /// Kafka 4.0 and later, where it is the default for new Java and
    /// librdkafka consumers): the broker assigns partitions with its
    /// `remote_assignor`, rebalances are incremental and never stop the
    /// whole group. A broker without it makes the consumer fail with
    /// [`Error::UnsupportedVersion`](crate::Error::UnsupportedVersion).
    Consumer,
}

/// The consumer protocol's member, run by the `kafka-sync-heartbeat`
/// thread.
pub(super) struct Member {
    client: KafkaClient,
    config: MembershipConfig,
    shared: Arc<Shared>,
    events: Sender<GroupEvent>,
    link: Link,
    /// Generated once (KIP-1082), kept across rejoins.
    member_id: String,
    /// 0 while joining; the coordinator's epoch afterwards.
    epoch: i32,
    /// The coordinator's heartbeat interval (the configured one until the
    /// first answer).
    interval: Duration,
    /// The partitions this member owns now.
    owned: BTreeSet<TopicPartition>,
    /// The latest target assignment the coordinator sent, by topic id, not
    /// yet reconciled.
    target: Option<Vec<(TopicIdBytes, Vec<i32>)>>,
    /// A heartbeat answered since `target` was last reconciled: reconcile
    /// (once per answer, so an unresolvable topic id costs one metadata
    /// request per heartbeat, not one per wake-up).
    reconcile_due: bool,
    topic_ids: TopicIds,
    /// The next heartbeat carries every field (joining, after a new
    /// connection or an error).
    send_full: bool,
    /// The owned set the coordinator last acknowledged hearing.
    sent_owned: Option<BTreeSet<TopicPartition>>,
    /// With a client-side pattern: the topics it matched when last sent.
    sent_topics: Option<Vec<String>>,
    /// With a client-side pattern: the topics it matched at the last check.
    matched: Option<Vec<String>>,
    /// The coordinator connection the last heartbeat went over.
    connection_seen: u64,
    /// Tell the consumer the assignment after the next successful join
    /// even if it is empty.
    announce: bool,
    last_heartbeat_ok: Instant,
    next_heartbeat: Instant,
    next_metadata_check: Instant,
}

/// A topic id (KIP-516).
pub(super) type TopicIdBytes = [u8; 16];

impl Member {
    pub(super) fn new(
        client: KafkaClient,
        config: MembershipConfig,
        shared: Arc<Shared>,
        commands: Receiver<Command>,
        events: Sender<GroupEvent>,
    ) -> Member {
        let now = Instant::now();
        Member {
            link: Link::new(client.clone(), config.group_id.clone(), commands),
            topic_ids: TopicIds::default(),
            interval: config.heartbeat_interval,
            client,
            config,
            shared,
            events,
            member_id: member_id::generate(),
            epoch: JOIN_EPOCH,
            owned: BTreeSet::new(),
            target: None,
            reconcile_due: false,
            send_full: true,
            sent_owned: None,
            sent_topics: None,
            matched: None,
            connection_seen: 0,
            announce: true,
            last_heartbeat_ok: now,
            next_heartbeat: now,
            next_metadata_check: now,
        }
    }

    /// The member id this member heartbeats with.
    pub(super) fn member_id(&self) -> &str {
        &self.member_id
    }

    fn group(&self) -> &str {
        &self.config.group_id
    }

    /// The thread's body; a panic is reported as the classic worker's is.
    pub(super) fn run(mut self) {
        match crate::thread::catch(super::HEARTBEAT_THREAD, || self.run_loop()) {
            Ok(()) => self.finish(),
            Err(detail) => {
                let error = crate::error::Error::thread_panicked(
                    "consumer",
                    super::HEARTBEAT_THREAD,
                    detail,
                );
                self.shared.running.store(false, Ordering::SeqCst);
                self.lose("the membership thread panicked");
                let _ = self.events.send(GroupEvent::Error(error));
                self.link.close();
            }
        }
    }

    fn run_loop(&mut self) {
        while self.link.stop.is_none() {
            if self.link.take_rejoin_request() {
                // The consumer asked: re-send everything (and re-match a
                // client-side pattern).
                self.send_full = true;
                self.next_metadata_check = Instant::now();
                self.next_heartbeat = Instant::now();
            }
            let step = self.turn();
            match self.link.recover(step) {
                Next::Continue => {}
                Next::Stop => break,
                Next::Rejoin => self.rejoin("the coordinator fenced the member"),
                Next::Fatal(e) => {
                    self.lose("fatal error");
                    // Not running any more before anyone hears of it.
                    self.shared.running.store(false, Ordering::SeqCst);
                    let _ = self.events.send(GroupEvent::Error(e));
                    break;
                }
            }
        }
    }

    /// One pass: enforce the poll and session timers, heartbeat when due,
    /// reconcile a new target, then wait for the next deadline.
    fn turn(&mut self) -> Step<()> {
        let now = Instant::now();
        if self.poll_overdue(now) {
            return self.poll_expired();
        }
        if self.epoch > 0
            && now.saturating_duration_since(self.last_heartbeat_ok) > self.config.session_timeout
        {
            // The coordinator will have removed us by now.
            self.rejoin("no heartbeat was answered within session_timeout");
            return Ok(());
        }
        if self.config.subscription.is_pattern() && now >= self.next_metadata_check {
            self.next_metadata_check = crate::time::add(now, self.metadata_interval());
            self.check_pattern();
        }
        if now >= self.next_heartbeat {
            self.heartbeat()?;
        }
        if std::mem::take(&mut self.reconcile_due) {
            self.reconcile()?;
        }
        let last_poll = *self.shared.last_poll.lock();
        let poll_deadline = crate::time::add(last_poll, self.config.max_poll_interval);
        let mut until = self
            .next_heartbeat
            .min(crate::time::add(poll_deadline, Duration::from_millis(1)));
        if self.config.subscription.is_pattern() {
            until = until.min(self.next_metadata_check);
        }
        self.link.wait_until(until)
    }

    fn poll_overdue(&self, now: Instant) -> bool {
        self.shared
            .poll_overdue(now, self.config.max_poll_interval)
    }

    fn metadata_interval(&self) -> Duration {
        self.config.metadata_interval(&self.client)
    }

    /// Starts over with epoch 0 (same member id), after the coordinator
    /// fenced the member or forgot it: every owned partition is lost.
    fn rejoin(&mut self, why: &str) {
        info!(
            "group `{}`: rejoining as {} ({why})",
            self.group(),
            self.member_id
        );
        self.lose(why);
        self.epoch = JOIN_EPOCH;
        self.target = None;
        self.reconcile_due = false;
        self.send_full = true;
        self.sent_owned = None;
        self.announce = true;
        self.publish();
        self.next_heartbeat = Instant::now();
    }

    /// `max_poll_interval` passed without a poll: leave the group (epoch -1,
    /// so that the partitions move on even for a static member) and wait
    /// for the next poll to join again.
    fn poll_expired(&mut self) -> Step<()> {
        self.link.warn_poll_expired(self.config.max_poll_interval);
        self.lose("max_poll_interval expired");
        self.leave(LEAVE_EPOCH);
        self.rejoin("max_poll_interval expired");
        self.link
            .wait_for_poll(&self.shared, self.config.max_poll_interval)?;
        self.next_heartbeat = Instant::now();
        Ok(())
    }

    /// The loop ended: leave (or abandon) the group, close the connection.
    fn finish(&mut self) {
        match self.link.stop.take() {
            Some(Stop::Leave(done)) => {
                let epoch = if self.config.group_instance_id.is_some() {
                    STATIC_LEAVE_EPOCH
                } else {
                    LEAVE_EPOCH
                };
                self.leave(epoch);
                drop(done);
            }
            Some(Stop::Abandon) => debug!("group `{}`: abandoned without leaving", self.group()),
            None => {}
        }
        self.link.close();
        self.shared.running.store(false, Ordering::SeqCst);
    }

    /// Shares the member's view with the handle: the epoch (as the
    /// generation, -1 while not a member), the member id and the owned set.
    fn publish(&self) {
        let mut state = self.shared.state.lock();
        state.generation = if self.epoch > 0 { self.epoch } else { -1 };
        state.member_id.clone_from(&self.member_id);
        state.protocol_name.clone_from(&self.config.remote_assignor);
        state.assignment.clone_from(&self.owned);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_is_the_default_protocol() {
        assert_eq!(GroupProtocol::default(), GroupProtocol::Classic);
    }
}
