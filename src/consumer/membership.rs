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

mod consumer_protocol;
mod link;
mod worker;

pub use consumer_protocol::GroupProtocol;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, unbounded, Receiver, Sender};
use log::{debug, warn};
use parking_lot::Mutex;

use super::assignor::{Assignor, PartitionAssignor, RebalanceProtocol, TopicPartition};
use crate::cluster::KafkaClient;
use crate::error::{Error, Result, TimeoutKind};
use crate::thread::{self as worker_thread, Joined};

/// The membership thread's name.
pub(crate) const HEARTBEAT_THREAD: &str = "kafka-sync-heartbeat";

/// What a member subscribes to: a list of topics
/// ([`Subscription::topics`]) or a name pattern ([`Subscription::pattern`]).
#[derive(Debug, Clone)]
pub struct Subscription {
    kind: SubscriptionKind,
}

/// The regex stays private so that `regex` is no public dependency.
#[derive(Debug, Clone)]
enum SubscriptionKind {
    /// These topics (a topic that does not exist yet is simply not assigned).
    Topics(Vec<String>),
    /// Every topic whose name matches, re-evaluated on each metadata refresh
    /// (`metadata_refresh_interval`). Internal topics never match.
    Pattern(regex::Regex),
}

impl Subscription {
    /// A subscription to `topics` (a topic that does not exist yet is simply
    /// not assigned).
    pub fn topics<S: Into<String>>(topics: impl IntoIterator<Item = S>) -> Self {
        Subscription {
            kind: SubscriptionKind::Topics(topics.into_iter().map(Into::into).collect()),
        }
    }

    /// A subscription to every topic matching `pattern` (a
    /// [regex](https://docs.rs/regex) expression, matched anywhere in the
    /// name: anchor it with `^…$`), re-evaluated on each metadata refresh
    /// (`metadata_refresh_interval`). Internal topics never match.
    ///
    /// # Errors
    /// [`Error::Config`] when `pattern` is not a valid expression.
    pub fn pattern(pattern: &str) -> Result<Self> {
        regex::Regex::new(pattern)
            .map(|re| Subscription {
                kind: SubscriptionKind::Pattern(re),
            })
            .map_err(|e| Error::Config(format!("invalid subscription pattern `{pattern}`: {e}")))
    }

    /// Whether this is a pattern subscription, whose topics change with the
    /// cluster's metadata.
    pub fn is_pattern(&self) -> bool {
        matches!(self.kind, SubscriptionKind::Pattern(_))
    }

    /// The listed topics of a [`Subscription::topics`] subscription; `None`
    /// for a pattern.
    pub(crate) fn listed_topics(&self) -> Option<&[String]> {
        match &self.kind {
            SubscriptionKind::Topics(topics) => Some(topics),
            SubscriptionKind::Pattern(_) => None,
        }
    }

    /// The expression of a [`Subscription::pattern`] subscription; `None`
    /// for a list of topics.
    pub(crate) fn pattern_source(&self) -> Option<&str> {
        match &self.kind {
            SubscriptionKind::Topics(_) => None,
            SubscriptionKind::Pattern(re) => Some(re.as_str()),
        }
    }

    /// The topics this subscription selects among `available`.
    pub fn select(&self, available: &[String]) -> Vec<String> {
        let mut topics: Vec<String> = match &self.kind {
            SubscriptionKind::Topics(topics) => topics.clone(),
            SubscriptionKind::Pattern(re) => available
                .iter()
                .filter(|t| re.is_match(t))
                .cloned()
                .collect(),
        };
        topics.sort();
        topics.dedup();
        topics
    }
}

/// Settings of a [`GroupMembership`]; every default below is the Java
/// consumer's.
#[derive(Debug, Clone)]
pub struct MembershipConfig {
    pub(crate) group_id: String,
    pub(crate) subscription: Subscription,
    pub(crate) assignors: Vec<Assignor>,
    pub(crate) group_instance_id: Option<String>,
    pub(crate) rack_id: Option<String>,
    pub(crate) session_timeout: Duration,
    pub(crate) heartbeat_interval: Duration,
    pub(crate) rebalance_timeout: Duration,
    pub(crate) max_poll_interval: Duration,
    pub(crate) close_timeout: Duration,
    pub(crate) metadata_refresh_interval: Option<Duration>,
    pub(crate) group_protocol: GroupProtocol,
    pub(crate) remote_assignor: Option<String>,
}

impl MembershipConfig {
    /// Membership of group `group_id` subscribed to `subscription`, with:
    /// assignor [`Assignor::Range`], no `group_instance_id` (a dynamic
    /// member), `session_timeout` 45 s, `heartbeat_interval` 3 s,
    /// `rebalance_timeout` and `max_poll_interval` 300 s, `close_timeout`
    /// 5 s, metadata re-checked every `metadata_max_age` of the client.
    pub fn new(group_id: impl Into<String>, subscription: Subscription) -> Self {
        MembershipConfig {
            group_id: group_id.into(),
            subscription,
            assignors: vec![Assignor::Range],
            group_instance_id: None,
            rack_id: None,
            session_timeout: Duration::from_secs(45),
            heartbeat_interval: Duration::from_secs(3),
            rebalance_timeout: Duration::from_secs(300),
            max_poll_interval: Duration::from_secs(300),
            close_timeout: Duration::from_secs(5),
            metadata_refresh_interval: None,
            group_protocol: GroupProtocol::Classic,
            remote_assignor: None,
        }
    }

    /// The group protocol: [`GroupProtocol::Classic`] (JoinGroup, SyncGroup,
    /// Heartbeat, the default) or [`GroupProtocol::Consumer`] (KIP-848's
    /// ConsumerGroupHeartbeat, Kafka 4.0+).
    #[must_use]
    pub fn group_protocol(mut self, protocol: GroupProtocol) -> Self {
        self.group_protocol = protocol;
        self
    }

    /// The broker-side assignor of a [`GroupProtocol::Consumer`] member
    /// (`"uniform"` or `"range"` on Apache Kafka). Defaults to none: the
    /// broker's `group.consumer.assignors` default (`uniform`). The classic
    /// protocol ignores it and uses [`assignor`](Self::assignor).
    #[must_use]
    pub fn remote_assignor(mut self, assignor: impl Into<String>) -> Self {
        self.remote_assignor = Some(assignor.into());
        self
    }

    /// Uses one assignor (replacing the list).
    #[must_use]
    pub fn assignor(mut self, assignor: Assignor) -> Self {
        self.assignors = vec![assignor];
        self
    }

    /// Offers several assignors, most preferred first; the coordinator picks
    /// the first one every member supports. Rebalancing is cooperative only
    /// when every one of them is cooperative.
    #[must_use]
    pub fn assignors(mut self, assignors: impl IntoIterator<Item = Assignor>) -> Self {
        self.assignors = assignors.into_iter().collect();
        self
    }

    /// Makes this a static member (KIP-345): a restart within
    /// `session_timeout` under the same id gets its partitions back without
    /// a rebalance. Static members do not send LeaveGroup on close.
    #[must_use]
    pub fn group_instance_id(mut self, id: impl Into<String>) -> Self {
        self.group_instance_id = Some(id.into());
        self
    }

    /// The member's rack, sent to rack-aware assignors (KIP-881).
    #[must_use]
    pub fn rack_id(mut self, rack: impl Into<String>) -> Self {
        self.rack_id = Some(rack.into());
        self
    }

    /// How long the coordinator waits for a heartbeat before removing the
    /// member. Defaults to 45 s; the broker bounds it by its
    /// `group.min/max.session.timeout.ms`.
    #[must_use]
    pub fn session_timeout(mut self, timeout: Duration) -> Self {
        self.session_timeout = timeout;
        self
    }

    /// Time between heartbeats. Defaults to 3 s; keep it well under a third
    /// of `session_timeout`.
    #[must_use]
    pub fn heartbeat_interval(mut self, interval: Duration) -> Self {
        self.heartbeat_interval = interval;
        self
    }

    /// How long the coordinator waits for every member to rejoin during a
    /// rebalance, and how long this member waits for the consumer to
    /// acknowledge a revocation. Defaults to 300 s (the Java consumer uses
    /// `max.poll.interval.ms`).
    #[must_use]
    pub fn rebalance_timeout(mut self, timeout: Duration) -> Self {
        self.rebalance_timeout = timeout;
        self
    }

    /// The longest the consumer may go without calling
    /// [`GroupMembership::poll`] before the member leaves the group.
    /// Defaults to 300 s.
    #[must_use]
    pub fn max_poll_interval(mut self, interval: Duration) -> Self {
        self.max_poll_interval = interval;
        self
    }

    /// Bound on leaving the group and joining the `kafka-sync-heartbeat`
    /// thread in [`GroupMembership::close`] and `Drop`; a thread still busy
    /// then is detached. A balanced consumer uses its own `close_timeout`
    /// instead. Defaults to 5 s.
    #[must_use]
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }

    /// How often a pattern subscription is re-evaluated and the leader
    /// checks subscribed topics' partition counts. Defaults to the client's
    /// `metadata_max_age`.
    #[must_use]
    pub fn metadata_refresh_interval(mut self, interval: Duration) -> Self {
        self.metadata_refresh_interval = Some(interval);
        self
    }

    /// The group id.
    pub fn group_id(&self) -> &str {
        &self.group_id
    }

    /// The rebalance protocol: cooperative when every assignor supports it.
    pub fn rebalance_protocol(&self) -> RebalanceProtocol {
        if !self.assignors.is_empty()
            && self
                .assignors
                .iter()
                .all(|a| a.protocol() == RebalanceProtocol::Cooperative)
        {
            RebalanceProtocol::Cooperative
        } else {
            RebalanceProtocol::Eager
        }
    }

    fn validate(&self) -> Result<()> {
        let fits_ms = |d: Duration| i32::try_from(d.as_millis()).is_ok();
        if self.group_id.is_empty() {
            return Err(Error::Config("the group id must not be empty".into()));
        }
        if self.assignors.is_empty() {
            return Err(Error::Config("name at least one assignor".into()));
        }
        let mut names: Vec<&str> = self.assignors.iter().map(|a| a.name()).collect();
        names.sort_unstable();
        if names.windows(2).any(|w| w[0] == w[1]) || names.contains(&"") {
            return Err(Error::Config(format!(
                "assignor names must be unique and non-empty: {names:?}"
            )));
        }
        if let Some(topics) = self.subscription.listed_topics() {
            if topics.is_empty() {
                return Err(Error::Config("subscribe to at least one topic".into()));
            }
        }
        if self.remote_assignor.as_deref() == Some("") {
            return Err(Error::Config(
                "remote_assignor must name an assignor such as \"uniform\" or \"range\"".into(),
            ));
        }
        if self.heartbeat_interval.is_zero() || self.heartbeat_interval >= self.session_timeout {
            return Err(Error::Config(format!(
                "heartbeat_interval ({:?}) must be positive and below session_timeout ({:?})",
                self.heartbeat_interval, self.session_timeout
            )));
        }
        if !fits_ms(self.session_timeout) || !fits_ms(self.rebalance_timeout) {
            return Err(Error::Config(
                "session_timeout and rebalance_timeout must fit in i32 milliseconds".into(),
            ));
        }
        Ok(())
    }
}

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

impl MembershipConfig {
    /// How often metadata is re-checked: `metadata_refresh_interval`, else
    /// the client's `metadata_max_age`.
    pub(crate) fn metadata_interval(&self, client: &KafkaClient) -> Duration {
        self.metadata_refresh_interval
            .unwrap_or_else(|| client.config().metadata_max_age())
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

    #[test]
    fn a_topic_subscription_is_sorted_and_deduplicated() {
        let s = Subscription::topics(["b", "a", "b"]);
        assert_eq!(s.select(&[]), ["a", "b"]);
    }

    #[test]
    fn a_pattern_subscription_selects_matching_topics() {
        let s = Subscription::pattern("^orders-.*$").unwrap();
        let available = ["orders-eu", "payments", "orders-us", "x-orders-"].map(String::from);
        assert_eq!(s.select(&available), ["orders-eu", "orders-us"]);
    }

    #[test]
    fn an_invalid_pattern_is_a_config_error() {
        assert!(matches!(
            Subscription::pattern("(unclosed"),
            Err(Error::Config(_))
        ));
    }

    #[test]
    fn defaults_are_the_java_consumers() {
        let c = MembershipConfig::new("g", Subscription::topics(["t"]));
        assert_eq!(c.session_timeout, Duration::from_secs(45));
        assert_eq!(c.heartbeat_interval, Duration::from_secs(3));
        assert_eq!(c.rebalance_timeout, Duration::from_secs(300));
        assert_eq!(c.max_poll_interval, Duration::from_secs(300));
        assert_eq!(c.assignors.len(), 1);
        assert_eq!(c.rebalance_protocol(), RebalanceProtocol::Eager);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn rebalancing_is_cooperative_only_when_every_assignor_is() {
        let c = MembershipConfig::new("g", Subscription::topics(["t"]));
        let coop = c.clone().assignor(Assignor::CooperativeSticky);
        assert_eq!(coop.rebalance_protocol(), RebalanceProtocol::Cooperative);
        let mixed = c.assignors([Assignor::CooperativeSticky, Assignor::Range]);
        assert_eq!(mixed.rebalance_protocol(), RebalanceProtocol::Eager);
    }

    #[test]
    fn invalid_settings_are_rejected() {
        let ok = || MembershipConfig::new("g", Subscription::topics(["t"]));
        let bad = [
            MembershipConfig::new("", Subscription::topics(["t"])),
            MembershipConfig::new("g", Subscription::topics(Vec::<String>::new())),
            ok().assignors([]),
            ok().assignors([Assignor::Range, Assignor::Range]),
            ok().heartbeat_interval(Duration::from_secs(45)),
            ok().heartbeat_interval(Duration::ZERO),
            ok().session_timeout(Duration::from_secs(u64::MAX / 2)),
        ];
        for config in bad {
            assert!(
                matches!(config.validate(), Err(Error::Config(_))),
                "{config:?}"
            );
        }
    }
}
