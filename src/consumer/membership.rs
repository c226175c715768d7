//! Consumer group membership: the `kafka-sync-heartbeat` thread that joins
//! a group through its coordinator, runs the assignor when elected leader,
//! heartbeats, follows rebalances and leaves the group on close — with the
//! classic protocol (`worker`), or with KIP-848's consumer protocol
//! (`consumer_protocol`: the broker assigns, the member reconciles), chosen
//! by [`MembershipConfig::group_protocol`]. What both need sits in `link`.
//!
//! [`GroupMembership`] is the building block of the balanced consumer. The
//! consumer's thread never blocks on it and it never blocks on the
//! consumer's thread (pykafka #701): they talk through channels.
//!
//! ```text
//! consumer thread                         kafka-sync-heartbeat thread
//! ───────────────                         ───────────────────────────
//! events().recv() ◀── Assigned / Revoked{ack} / Lost / Error
//! poll() ───────────▶ last poll time (max_poll_interval)
//! rejoin(), close() ─▶ commands            FindCoordinator, JoinGroup,
//! assignment(), generation(), … ◀── shared state ── SyncGroup, Heartbeat,
//!                                          LeaveGroup (own connection)
//! ```
//!
//! **Revocation**: before partitions leave this member (all of them before
//! every eager rejoin; only those that move under cooperative rebalancing)
//! the thread sends [`GroupEvent::Revoked`] and waits, heartbeating, until
//! the consumer drops or [`RevokeAck::ack`]s the enclosed acknowledgement —
//! the moment to commit their offsets — or until `rebalance_timeout` or
//! `max_poll_interval` runs out.
//!
//! **Liveness**: a consumer that calls [`GroupMembership::poll`] less often
//! than `max_poll_interval` is taken out of the group, as the Java consumer
//! does: its partitions are reported [`GroupEvent::Lost`], a dynamic member
//! sends LeaveGroup, and the next `poll` rejoins.
//!
//! # References
//! Kafka protocol guide, "The Consumer Group Protocol" (FindCoordinator,
//! JoinGroup, SyncGroup, Heartbeat, LeaveGroup); KIP-62 (background
//! heartbeats and `max.poll.interval.ms`), KIP-345 (static membership),
//! KIP-394 (`MEMBER_ID_REQUIRED`), KIP-429 (cooperative rebalancing),
//! KIP-848 (the consumer group protocol), KIP-1082 (client-side member id).

mod config;
mod consumer_protocol;
mod link;
mod worker;

pub use config::{MembershipConfig, Subscription};
pub use consumer_protocol::GroupProtocol;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, unbounded, Receiver, Sender};
use log::{debug, warn};
use parking_lot::Mutex;

use super::assignor::TopicPartition;
use crate::cluster::KafkaClient;
use crate::error::{Error, Result, TimeoutKind};
use crate::thread::{self as worker_thread, Joined};

/// The membership thread's name.
pub(crate) const HEARTBEAT_THREAD: &str = "kafka-sync-heartbeat";

/// What the membership thread tells the consumer.
#[derive(Debug)]
#[non_exhaustive]
pub enum GroupEvent {
    /// A rebalance completed: this member now owns `assignment`, of which
    /// `added` is new (start fetching those from their committed offsets).
    Assigned {
        /// The group generation the assignment belongs to.
        generation: i32,
        /// Every partition the member owns now.
        assignment: BTreeSet<TopicPartition>,
        /// The partitions it did not own before.
        added: BTreeSet<TopicPartition>,
    },
    /// These partitions are leaving the member: stop fetching them, commit
    /// their offsets, then drop or [`RevokeAck::ack`] `ack`. The membership
    /// thread waits for that (heartbeating) before it rejoins.
    Revoked {
        /// The partitions given up.
        partitions: BTreeSet<TopicPartition>,
        /// Acknowledges the revocation when dropped.
        ack: RevokeAck,
    },
    /// These partitions were lost without a chance to commit (the session
    /// expired, the member was fenced out, or `max_poll_interval` passed):
    /// another member may already own them, so do not commit their offsets.
    Lost {
        /// The partitions lost.
        partitions: BTreeSet<TopicPartition>,
    },
    /// Something failed. After a fatal error (fenced static member,
    /// authorization, incompatible protocols, invalid settings) the thread
    /// has stopped; [`GroupMembership::is_running`] says which.
    Error(Error),
}

/// Acknowledges a [`GroupEvent::Revoked`]: call [`RevokeAck::ack`] or drop it
/// once the revoked partitions' offsets are committed.
#[derive(Debug)]
pub struct RevokeAck {
    _done: Sender<()>,
}

impl RevokeAck {
    /// Acknowledges the revocation.
    pub fn ack(self) {}
}

pub(crate) enum Command {
    Leave { done: Sender<()> },
    Abandon,
    Rejoin,
    Resume,
}

/// The member's view of the group, shared with the handle.
#[derive(Debug, Clone, Default)]
pub(crate) struct MemberState {
    pub member_id: String,
    pub generation: i32,
    pub leader_id: String,
    pub protocol_name: Option<String>,
    pub assignment: BTreeSet<TopicPartition>,
}

pub(crate) struct Shared {
    pub state: Mutex<MemberState>,
    pub last_poll: Mutex<Instant>,
    /// Set while the member is out of the group for lack of polls.
    pub poll_expired: AtomicBool,
    pub running: AtomicBool,
    /// Makes the membership thread panic at its next turn (tests of the panic path).
    #[cfg(test)]
    pub panic_for_test: AtomicBool,
}

impl Shared {
    /// Whether the consumer went more than `max_poll_interval` without a
    /// poll at `now`.
    pub(crate) fn poll_overdue(&self, now: Instant, max_poll_interval: Duration) -> bool {
        now.saturating_duration_since(*self.last_poll.lock()) > max_poll_interval
    }
}

/// Membership of one consumer group, run by a `kafka-sync-heartbeat`
/// thread. Dropping it leaves the group within `close_timeout`.
///
/// If the thread panics, its partitions go out as [`GroupEvent::Lost`],
/// then [`Error::ThreadPanicked`] as a [`GroupEvent::Error`], and
/// [`is_running`](Self::is_running) turns false.
pub struct GroupMembership {
    shared: Arc<Shared>,
    commands: Sender<Command>,
    events: Receiver<GroupEvent>,
    thread: Option<worker_thread::Handle>,
    group_id: String,
    group_instance_id: Option<String>,
    close_timeout: Duration,
}

impl std::fmt::Debug for GroupMembership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.shared.state.lock();
        f.debug_struct("GroupMembership")
            .field("group_id", &self.group_id)
            .field("member_id", &state.member_id)
            .field("generation", &state.generation)
            .field("assignment", &state.assignment.len())
            .finish()
    }
}

impl GroupMembership {
    /// Starts the membership thread; it joins the group in the background.
    /// Watch [`GroupMembership::events`] for the assignment.
    pub fn start(client: &KafkaClient, config: MembershipConfig) -> Result<GroupMembership> {
        config.validate()?;
        let shared = Arc::new(Shared {
            state: Mutex::new(MemberState {
                generation: -1,
                ..MemberState::default()
            }),
            last_poll: Mutex::new(Instant::now()),
            poll_expired: AtomicBool::new(false),
            running: AtomicBool::new(true),
            #[cfg(test)]
            panic_for_test: AtomicBool::new(false),
        });
        let (command_tx, command_rx) = unbounded();
        // Unbounded, yet small: at most a few events per rebalance.
        let (event_tx, event_rx) = unbounded();
        let group_id = config.group_id.clone();
        let group_instance_id = config.group_instance_id.clone();
        let close_timeout = config.close_timeout;
        let thread = match config.group_protocol {
            GroupProtocol::Classic => {
                let worker = worker::Worker::new(
                    client.clone(),
                    config,
                    Arc::clone(&shared),
                    command_rx,
                    event_tx,
                );
                worker_thread::spawn(HEARTBEAT_THREAD, move || worker.run())?
            }
            GroupProtocol::Consumer => {
                let member = consumer_protocol::Member::new(
                    client.clone(),
                    config,
                    Arc::clone(&shared),
                    command_rx,
                    event_tx,
                );
                shared.state.lock().member_id = member.member_id().to_owned();
                worker_thread::spawn(HEARTBEAT_THREAD, move || member.run())?
            }
        };
        Ok(GroupMembership {
            shared,
            commands: command_tx,
            events: event_rx,
            thread: Some(thread),
            group_id,
            group_instance_id,
            close_timeout,
        })
    }

    /// The events channel: assignments, revocations, losses and errors.
    pub fn events(&self) -> &Receiver<GroupEvent> {
        &self.events
    }

    /// Records that the consumer is iterating. Call it on every iteration:
    /// a member that goes `max_poll_interval` without a poll leaves the
    /// group, and the next poll rejoins it.
    pub fn poll(&self) {
        *self.shared.last_poll.lock() = Instant::now();
        if self.shared.poll_expired.swap(false, Ordering::SeqCst) {
            let _ = self.commands.send(Command::Resume);
        }
    }

    /// Asks for a rebalance (after a subscription change, say).
    pub fn rejoin(&self) {
        let _ = self.commands.send(Command::Rejoin);
    }

    /// The partitions this member owns now.
    pub fn assignment(&self) -> BTreeSet<TopicPartition> {
        self.shared.state.lock().assignment.clone()
    }

    /// The current generation (consumer protocol: the member epoch), `-1`
    /// before the first join and while out of the group.
    pub fn generation(&self) -> i32 {
        self.shared.state.lock().generation
    }

    /// The member id the coordinator gave this member, empty before the
    /// first join (classic protocol), or the one this member generated at
    /// start (consumer protocol, KIP-1082). Offset commits of a group member
    /// carry it.
    pub fn member_id(&self) -> String {
        self.shared.state.lock().member_id.clone()
    }

    /// The group id.
    pub fn group_id(&self) -> &str {
        &self.group_id
    }

    /// The static member id, if any.
    pub fn group_instance_id(&self) -> Option<&str> {
        self.group_instance_id.as_deref()
    }

    /// Whether this member was elected leader in the current generation
    /// (never with the consumer protocol: the broker assigns).
    pub fn is_leader(&self) -> bool {
        let state = self.shared.state.lock();
        !state.member_id.is_empty() && state.member_id == state.leader_id
    }

    /// The assignor protocol the group uses, once joined (consumer
    /// protocol: the `remote_assignor` asked for, if any).
    pub fn protocol_name(&self) -> Option<String> {
        self.shared.state.lock().protocol_name.clone()
    }

    /// Whether the membership thread is still running (false after close or
    /// a fatal error).
    pub fn is_running(&self) -> bool {
        self.shared.running.load(Ordering::SeqCst)
    }

    /// Leaves the group (a dynamic member sends LeaveGroup) and stops the
    /// thread, within `close_timeout`. Commit offsets before calling it:
    /// no [`GroupEvent::Revoked`] is sent.
    pub fn close(mut self) -> Result<()> {
        let deadline = crate::time::after(self.close_timeout);
        self.shutdown(true, deadline)
    }

    /// [`close`](Self::close) by `deadline` instead of `close_timeout` from
    /// now (a consumer's one close deadline).
    pub(crate) fn close_until(mut self, deadline: Instant) -> Result<()> {
        self.shutdown(true, deadline)
    }

    /// Makes the membership thread panic at its next turn.
    #[cfg(all(test, feature = "testkit"))]
    pub(crate) fn panic_for_test(&self) {
        self.shared.panic_for_test.store(true, Ordering::SeqCst);
        self.rejoin();
    }

    /// Stops heartbeating without leaving the group, as a crashed process
    /// would: the coordinator removes the member after `session_timeout`.
    /// For tests of failure handling.
    #[cfg(feature = "testkit")]
    pub fn abandon(mut self) {
        let deadline = crate::time::after(self.close_timeout);
        let _ = self.shutdown(false, deadline);
    }

    /// Leaves (or abandons) the group and joins the thread, all by
    /// `deadline`; a thread still inside a bounded blocking call then is
    /// detached.
    fn shutdown(&mut self, leave: bool, deadline: Instant) -> Result<()> {
        let Some(thread) = self.thread.take() else {
            return Ok(());
        };
        let (done_tx, done_rx) = bounded(1);
        let command = if leave {
            Command::Leave { done: done_tx }
        } else {
            Command::Abandon
        };
        let _ = self.commands.send(command);
        let answered = if leave {
            // The worker drops `done` once LeaveGroup is answered or failed.
            !matches!(
                done_rx.recv_deadline(deadline),
                Err(crossbeam_channel::RecvTimeoutError::Timeout)
            )
        } else {
            true
        };
        if thread.join_until(deadline) == Joined::Detached {
            debug!(
                "group `{}`: membership thread still busy at the close deadline; detached",
                self.group_id
            );
        }
        if answered {
            Ok(())
        } else {
            warn!(
                "group `{}`: leaving did not finish within close_timeout",
                self.group_id
            );
            Err(Error::timeout(
                TimeoutKind::Coordinator,
                format!("leaving group `{}`", self.group_id),
            ))
        }
    }
}

impl Drop for GroupMembership {
    fn drop(&mut self) {
        let deadline = crate::time::after(self.close_timeout);
        let _ = self.shutdown(true, deadline);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_and_events_cross_threads() {
        fn send_sync<T: Send + Sync>() {}
        fn send<T: Send>() {}
        send_sync::<GroupMembership>();
        send_sync::<MembershipConfig>();
        send::<GroupEvent>();
    }
}
