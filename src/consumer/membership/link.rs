//! What both membership threads (the classic protocol's [`Worker`] and the
//! KIP-848 consumer protocol's member) need from the coordinator and from
//! their handle: the coordinator found through the shared
//! [`GroupCoordinator`], a dedicated connection to it (renewed before a SASL
//! session expires, KIP-368), requests on it that keep answering commands
//! while they wait, bounded waits and backoff, and the wait for the consumer
//! to poll again after `max_poll_interval` passed.
//!
//! [`Worker`]: super::worker::Worker

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, select, Receiver, RecvTimeoutError, Sender};
use log::{debug, warn};

use super::{Command, GroupEvent, Shared};
use crate::consumer::assignor::TopicPartition;
use crate::cluster::{CoordinatorStatus, GroupCoordinator, KafkaClient};
use crate::error::{Error, Result, TimeoutKind};
use crate::net::Connection;
use crate::protocol::{ErrorCode, Request};

/// Why the current activity stopped.
pub(super) enum Interrupt {
    /// A Leave or Abandon command arrived (kept in [`Link::stop`]).
    Stop,
    /// The group must be joined again.
    Rejoin,
    /// The coordinator moved or is unreachable: find it again.
    Coordinator(Error),
    /// A transient failure: back off, then try again.
    Retry(Error),
    /// The member cannot go on.
    Fatal(Error),
}

/// The result of one step of a membership thread.
pub(super) type Step<T> = std::result::Result<T, Interrupt>;

/// How the thread was told to stop.
pub(super) enum Stop {
    /// Leave the group; `done` is dropped once the leave was answered.
    Leave(Sender<()>),
    /// Stop heartbeating without leaving (a crash, for tests).
    Abandon,
}

/// What a membership thread does after [`Link::recover`].
pub(super) enum Next {
    /// Go on (after a backoff).
    Continue,
    /// Leave or abandon the group: the loop ends.
    Stop,
    /// Join the group again.
    Rejoin,
    /// The member cannot go on: report it, the loop ends.
    Fatal(Error),
}

/// The coordinator connection and the command channel of one membership
/// thread.
pub(super) struct Link {
    client: KafkaClient,
    group_id: String,
    commands: Receiver<Command>,
    /// Finds and remembers the coordinator (shared logic with commits).
    lookup: GroupCoordinator,
    /// After a failed renewal of the coordinator connection (KIP-368), no
    /// new attempt before this: each one blocks this thread up to the
    /// connect timeout, and the old connection still serves meanwhile.
    renew_not_before: Option<Instant>,
    /// The dedicated connection to the coordinator: a request the broker
    /// holds must not block other requests on a pooled connection.
    coordinator: Option<(i32, Connection)>,
    /// The last coordinator found, for leaving after its connection was
    /// dropped.
    last_coordinator: Option<i32>,
    /// Consecutive failures, for the backoff.
    pub failures: u32,
    /// Set once a Leave or Abandon command arrived.
    pub stop: Option<Stop>,
    /// A Rejoin command arrived and the thread has not acted on it yet.
    rejoin_requested: bool,
    /// How many coordinator connections were opened so far.
    connections: u64,
}

/// `d` in whole milliseconds, saturated to `i32::MAX`.
pub(super) fn millis(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

impl Link {
    pub(super) fn new(client: KafkaClient, group_id: String, commands: Receiver<Command>) -> Link {
        Link {
            lookup: GroupCoordinator::new(client.clone(), group_id.clone()),
            client,
            group_id,
            commands,
            renew_not_before: None,
            coordinator: None,
            last_coordinator: None,
            failures: 0,
            stop: None,
            rejoin_requested: false,
            connections: 0,
        }
    }

    fn group(&self) -> &str {
        &self.group_id
    }

    /// How many coordinator connections were opened so far: a change means
    /// the coordinator may have lost what it was told on the last one.
    pub(super) fn connections(&self) -> u64 {
        self.connections
    }

    /// Whether a Rejoin command arrived since the last call.
    pub(super) fn take_rejoin_request(&mut self) -> bool {
        std::mem::take(&mut self.rejoin_requested)
    }

    /// Applies a command: Leave and Abandon stop the thread, Rejoin is noted
    /// for [`Link::take_rejoin_request`].
    pub(super) fn on_command(&mut self, command: Command) -> Step<()> {
        match command {
            Command::Leave { done } => self.stop = Some(Stop::Leave(done)),
            Command::Abandon => self.stop = Some(Stop::Abandon),
            Command::Rejoin => {
                self.rejoin_requested = true;
                return Ok(());
            }
            Command::Resume => return Ok(()),
        }
        Err(Interrupt::Stop)
    }

    /// The handle is gone without a word: leave, as Drop would.
    fn orphaned(&mut self) -> Interrupt {
        self.stop = Some(Stop::Leave(bounded(1).0));
        Interrupt::Stop
    }

    /// Waits until `until`, answering commands; returns early on a rejoin
    /// request.
    pub(super) fn wait_until(&mut self, until: Instant) -> Step<()> {
        loop {
            match self.commands.recv_deadline(until) {
                Ok(command) => {
                    self.on_command(command)?;
                    if self.rejoin_requested {
                        return Ok(());
                    }
                }
                Err(RecvTimeoutError::Timeout) => return Ok(()),
                Err(RecvTimeoutError::Disconnected) => return Err(self.orphaned()),
            }
        }
    }

    /// Waits for `ack` (a revocation's acknowledgement) until `until`,
    /// answering commands; `Ok(true)` once acknowledged.
    pub(super) fn wait_ack(&mut self, ack: &Receiver<()>, until: Instant) -> Step<bool> {
        let commands = self.commands.clone();
        select! {
            recv(ack) -> _ => Ok(true),
            recv(commands) -> command => match command {
                Ok(command) => self.on_command(command).map(|()| false),
                Err(_) => Err(self.orphaned()),
            },
            default(until.saturating_duration_since(Instant::now())) => Ok(false),
        }
    }

    /// What to do after a step of a membership thread ended with `step`:
    /// coordinator trouble forgets the coordinator, and it and transient
    /// failures back off before the next step.
    pub(super) fn recover(&mut self, step: Step<()>) -> Next {
        let backoff = match step {
            Ok(()) => {
                self.failures = 0;
                return Next::Continue;
            }
            Err(Interrupt::Stop) => return Next::Stop,
            Err(Interrupt::Rejoin) => return Next::Rejoin,
            Err(Interrupt::Fatal(e)) => {
                warn!("group `{}`: giving up: {e}", self.group());
                return Next::Fatal(e);
            }
            Err(Interrupt::Coordinator(e)) => {
                debug!(
                    "group `{}`: coordinator lost ({e}); rediscovering",
                    self.group()
                );
                self.forget_coordinator();
                self.backoff()
            }
            Err(Interrupt::Retry(e)) => {
                warn!("group `{}`: {e}; retrying", self.group());
                self.backoff()
            }
        };
        match backoff {
            Ok(()) => Next::Continue,
            Err(_) => Next::Stop,
        }
    }

    /// Sleeps the retry backoff, doubling per consecutive failure up to 1 s.
    pub(super) fn backoff(&mut self) -> Step<()> {
        self.failures = self.failures.saturating_add(1);
        let base = self.client.config().retry_backoff();
        let wait = base
            .saturating_mul(1 << self.failures.min(5))
            .min(Duration::from_secs(1).max(base));
        self.wait_until(crate::time::after(wait))
    }

    /// Says that `max_poll_interval` passed without a poll.
    pub(super) fn warn_poll_expired(&self, max_poll_interval: Duration) {
        warn!(
            "group `{}`: no poll for more than max_poll_interval ({max_poll_interval:?}); \
             leaving the group until the consumer polls again",
            self.group()
        );
    }

    /// `max_poll_interval` passed without a poll and the member left the
    /// group: waits, answering commands, until the consumer polls again.
    pub(super) fn wait_for_poll(&mut self, shared: &Shared, max_poll_interval: Duration) -> Step<()> {
        shared.poll_expired.store(true, Ordering::SeqCst);
        // A poll may have landed between the check and the flag.
        let overdue = || {
            Instant::now().saturating_duration_since(*shared.last_poll.lock()) > max_poll_interval
        };
        while overdue() && shared.poll_expired.load(Ordering::SeqCst) {
            match self.commands.recv_timeout(Duration::from_millis(200)) {
                Ok(command) => self.on_command(command)?,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Err(Interrupt::Stop),
            }
        }
        shared.poll_expired.store(false, Ordering::SeqCst);
        Ok(())
    }

    /// Forgets the coordinator and its connection: the next request looks
    /// it up again.
    pub(super) fn forget_coordinator(&mut self) {
        self.coordinator = None;
        self.lookup.forget();
    }

    /// Classifies a code the coordinator answered; a moved coordinator is
    /// forgotten.
    pub(super) fn observe(&mut self, code: ErrorCode) -> Option<CoordinatorStatus> {
        let status = self.lookup.observe(code);
        if status == Some(CoordinatorStatus::Moved) {
            self.coordinator = None;
        }
        status
    }

    /// Closes the coordinator connection.
    pub(super) fn close(&mut self) {
        if let Some((_, conn)) = self.coordinator.take() {
            conn.close();
        }
    }

    /// Finds the coordinator (through the shared [`GroupCoordinator`]) and
    /// opens a connection of its own to it.
    pub(super) fn ensure_coordinator(&mut self) -> Step<()> {
        if let Some((node, conn)) = &self.coordinator {
            if !conn.is_closed() && !conn.session_expiring() {
                return Ok(());
            }
            if !conn.is_closed() {
                // KIP-368: the SASL session ends soon. Open the replacement
                // first, as the pool does; the old connection finishes what
                // is in flight on it (`Connection::retire`). If the broker
                // cannot be reached now, the old one serves meanwhile, and
                // the next try waits out a backoff so that heartbeats are
                // not held up by one connect attempt after another.
                if self.renew_not_before.is_some_and(|at| Instant::now() < at) {
                    return Ok(());
                }
                let node = *node;
                match self.client.dedicated_connection(node) {
                    Ok(fresh) => {
                        self.renew_not_before = None;
                        self.connections += 1;
                        if let Some((_, old)) = self.coordinator.replace((node, fresh)) {
                            old.retire();
                        }
                    }
                    Err(e) => {
                        self.renew_not_before =
                            Some(crate::time::after(self.client.config().reconnect_backoff_max));
                        debug!(
                            "group `{}`: cannot renew the coordinator connection yet: {e}",
                            self.group()
                        );
                    }
                }
                return Ok(());
            }
            // The connection died: the broker may be gone, so ask again.
            self.lookup.forget();
        }
        self.coordinator = None;
        let deadline = crate::time::after(self.client.config().request_timeout());
        let node = self.lookup.node(deadline).map_err(|e| match e {
            // A broker's answer that will not change on retry.
            Error::Broker(ref b) if !b.code.is_retriable() => Interrupt::Fatal(e),
            // The answer named no coordinator for the group.
            Error::Protocol { decode: None, .. } => Interrupt::Retry(e),
            e => Interrupt::Coordinator(e),
        })?;
        let conn = match self.client.dedicated_connection(node) {
            Ok(conn) => conn,
            Err(e) => {
                self.lookup.forget();
                return Err(Interrupt::Coordinator(e));
            }
        };
        debug!(
            "group `{}`: coordinator is broker {node} ({})",
            self.group(),
            conn.addr()
        );
        self.coordinator = Some((node, conn));
        self.connections += 1;
        self.last_coordinator = Some(node);
        Ok(())
    }

    /// The version of `R` the coordinator connection speaks.
    pub(super) fn coordinator_version<R: Request>(&mut self) -> Step<i16> {
        self.ensure_coordinator()?;
        match &self.coordinator {
            Some((_, conn)) => conn.version_for::<R>().map_err(Interrupt::Fatal),
            None => Err(Interrupt::Coordinator(Error::Closed(
                "coordinator connection",
            ))),
        }
    }

    /// Sends `request` to the coordinator and waits up to `timeout` for the
    /// answer, answering commands meanwhile. A Stop abandons the request.
    pub(super) fn coordinator_request<R: Request>(
        &mut self,
        request: &R,
        timeout: Duration,
    ) -> Step<R::Response> {
        self.ensure_coordinator()?;
        let Some((_, conn)) = &self.coordinator else {
            return Err(Interrupt::Coordinator(Error::Closed(
                "coordinator connection",
            )));
        };
        let pending = match conn.send(request) {
            Ok(p) => p,
            Err(e @ (Error::Protocol { .. } | Error::UnsupportedVersion { .. })) => {
                return Err(Interrupt::Fatal(e))
            }
            Err(e) => return Err(Interrupt::Coordinator(e)),
        };
        let deadline = crate::time::after(timeout);
        let commands = self.commands.clone();
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            select! {
                recv(pending.receiver()) -> frame => {
                    let frame = frame.unwrap_or(Err(Error::Closed("coordinator connection")));
                    return pending.decode(frame).map_err(|e| match e {
                        Error::Protocol { .. } => Interrupt::Retry(e),
                        e => Interrupt::Coordinator(e),
                    });
                }
                recv(commands) -> command => {
                    let stepped = match command {
                        Ok(command) => self.on_command(command),
                        Err(_) => Err(self.orphaned()),
                    };
                    if let Err(interrupt) = stepped {
                        // The answer would arrive on a stream nobody reads.
                        self.close();
                        return Err(interrupt);
                    }
                }
                default(remaining) => {
                    self.close();
                    return Err(Interrupt::Coordinator(Error::timeout(
                        TimeoutKind::Request,
                        format!("waiting for the coordinator of group `{}`", self.group_id),
                    )));
                }
            }
        }
    }

    /// Sends `request` to the last known coordinator on a pooled connection
    /// (the dedicated one may be mid-request) and waits until `deadline`:
    /// how a member leaves. `None` when no coordinator was ever found.
    pub(super) fn request_last_coordinator<R: Request>(
        &self,
        request: &R,
        deadline: Instant,
    ) -> Option<Result<R::Response>> {
        let node = self.last_coordinator?;
        let sent = self
            .client
            .broker_connection(node, deadline)
            .and_then(|conn| conn.send(request));
        Some(sent.and_then(|pending| {
            match pending
                .receiver()
                .recv_deadline(deadline.min(pending.deadline()))
            {
                Ok(frame) => pending.decode(frame),
                Err(_) => Err(Error::timeout(
                    TimeoutKind::Request,
                    format!("leaving group `{}`", self.group_id),
                )),
            }
        }))
    }
}

/// Reports every partition in `owned` lost (taking them out of it and of
/// the shared state): the member was fenced, its session expired, or it
/// stopped. No commit: another member may own them already.
pub(super) fn lose_all(
    group: &str,
    owned: &mut std::collections::BTreeSet<TopicPartition>,
    shared: &Shared,
    events: &Sender<GroupEvent>,
    why: &str,
) {
    if owned.is_empty() {
        return;
    }
    warn!("group `{group}`: lost {} partitions ({why})", owned.len());
    let partitions = std::mem::take(owned);
    shared.state.lock().assignment.clear();
    let _ = events.send(GroupEvent::Lost { partitions });
}

/// A member thread that revokes partitions: what [`revoke_and_wait`]
/// needs from it.
pub(super) trait Revoking {
    /// Its coordinator link.
    fn link(&mut self) -> &mut Link;
    /// Its settings, shared state and event channel.
    fn parts(&self) -> (&super::MembershipConfig, &Shared, &Sender<GroupEvent>);
    /// Heartbeats if one is due (the group waits for the revocation, the
    /// member must stay in it meanwhile); returns when the next is due.
    fn heartbeat_while_revoking(&mut self) -> Step<Instant>;
}

/// Announces the revocation of `partitions` and waits, heartbeating, until
/// the consumer acknowledges it, or `rebalance_timeout` passes, or the
/// consumer stops polling.
pub(super) fn revoke_and_wait<M: Revoking>(
    member: &mut M,
    partitions: &std::collections::BTreeSet<TopicPartition>,
) -> Step<()> {
    debug!("revoking {} partitions", partitions.len());
    let (ack_tx, ack) = bounded::<()>(0);
    let (config, _, events) = member.parts();
    let deadline = crate::time::after(config.rebalance_timeout);
    let _ = events.send(GroupEvent::Revoked {
        partitions: partitions.clone(),
        ack: super::RevokeAck { _done: ack_tx },
    });
    loop {
        let (config, shared, _) = member.parts();
        let now = Instant::now();
        if now >= deadline || shared.poll_overdue(now, config.max_poll_interval) {
            warn!(
                "group `{}`: the consumer did not acknowledge the revocation in time",
                config.group_id
            );
            return Ok(());
        }
        let next_heartbeat = member.heartbeat_while_revoking()?;
        if member.link().wait_ack(&ack, deadline.min(next_heartbeat))? {
            return Ok(());
        }
    }
}
