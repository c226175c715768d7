//! The membership thread's state machine: discover the coordinator, join
//! (JoinGroup, assignment when leader, SyncGroup), then heartbeat until a
//! rebalance, an error or a command sends it back to joining or out.
//!
//! Every wait selects on the command channel too, so close and abandon are
//! answered within one bounded request at worst.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, select, Receiver, RecvTimeoutError, Sender};
use log::{debug, info, warn};

use super::{Command, GroupEvent, MembershipConfig, RevokeAck, Shared, Subscription};
use crate::client::KafkaClient;
use crate::consumer::assignor::{
    flatten, group_by_topic, MemberSubscription, PartitionAssignor, RebalanceProtocol,
    TopicPartition,
};
use crate::error::{Error, TimeoutKind};
use crate::net::Connection;
use crate::protocol::api::{
    FindCoordinatorRequest, HeartbeatRequest, JoinGroupRequest, JoinGroupRequestProtocol,
    JoinGroupResponse, LeaveGroupRequest, LeaveGroupRequestMember, SyncGroupRequest,
    SyncGroupRequestAssignment,
};
use crate::protocol::consumer_protocol::{
    self, ConsumerProtocolAssignment, ConsumerProtocolSubscription, CONSUMER_PROTOCOL_TYPE,
};
use crate::protocol::{ErrorCode, Request};

/// Why the current activity stopped.
enum Interrupt {
    /// A Leave or Abandon command arrived (kept in `Worker::stop`).
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

type Step<T> = std::result::Result<T, Interrupt>;

enum Stop {
    Leave(Sender<()>),
    Abandon,
}

/// What a heartbeat said.
enum Beat {
    Ok,
    Rebalance,
    /// The member is no longer in this generation: its partitions are lost.
    Fenced {
        reset_member_id: bool,
    },
    Failed,
}

pub(super) struct Worker {
    client: KafkaClient,
    config: MembershipConfig,
    shared: Arc<Shared>,
    commands: Receiver<Command>,
    events: Sender<GroupEvent>,
    protocol: RebalanceProtocol,
    coordinator: Option<(i32, Connection)>,
    /// The last coordinator found, for LeaveGroup after its connection
    /// was dropped.
    last_coordinator: Option<i32>,
    member_id: String,
    generation: i32,
    owned: BTreeSet<TopicPartition>,
    /// Topics this member subscribed to at its last join.
    topics: Vec<String>,
    /// As leader: every topic some member subscribes to, and the partition
    /// counts of those that existed, at the last assignment.
    group_topics: Vec<String>,
    group_partitions: BTreeMap<String, i32>,
    is_leader: bool,
    rejoin_needed: bool,
    rejoin_reason: String,
    last_heartbeat_ok: Instant,
    next_heartbeat: Instant,
    next_metadata_check: Instant,
    failures: u32,
    stop: Option<Stop>,
}

impl Worker {
    pub(super) fn new(
        client: KafkaClient,
        config: MembershipConfig,
        shared: Arc<Shared>,
        commands: Receiver<Command>,
        events: Sender<GroupEvent>,
    ) -> Worker {
        let now = Instant::now();
        Worker {
            protocol: config.rebalance_protocol(),
            client,
            config,
            shared,
            commands,
            events,
            coordinator: None,
            last_coordinator: None,
            member_id: String::new(),
            generation: -1,
            owned: BTreeSet::new(),
            topics: Vec::new(),
            group_topics: Vec::new(),
            group_partitions: BTreeMap::new(),
            is_leader: false,
            rejoin_needed: true,
            rejoin_reason: "joining".into(),
            last_heartbeat_ok: now,
            next_heartbeat: now,
            next_metadata_check: now,
            failures: 0,
            stop: None,
        }
    }

    fn group(&self) -> &str {
        &self.config.group_id
    }

    pub(super) fn run(mut self) {
        while self.stop.is_none() {
            let step = if self.rejoin_needed {
                self.join()
            } else {
                self.stable()
            };
            match step {
                Ok(()) => self.failures = 0,
                Err(Interrupt::Stop) => break,
                Err(Interrupt::Rejoin) => self.rejoin_needed = true,
                Err(Interrupt::Coordinator(e)) => {
                    debug!(
                        "group `{}`: coordinator lost ({e}); rediscovering",
                        self.group()
                    );
                    self.coordinator = None;
                    if self.backoff().is_err() {
                        break;
                    }
                }
                Err(Interrupt::Retry(e)) => {
                    warn!("group `{}`: {e}; retrying", self.group());
                    if self.backoff().is_err() {
                        break;
                    }
                }
                Err(Interrupt::Fatal(e)) => {
                    warn!("group `{}`: giving up: {e}", self.group());
                    if !self.owned.is_empty() {
                        self.lose("fatal error");
                    }
                    let _ = self.events.send(GroupEvent::Error(e));
                    break;
                }
            }
        }
        match self.stop.take() {
            Some(Stop::Leave(done)) => {
                self.leave_group("the consumer is closing");
                drop(done);
            }
            Some(Stop::Abandon) => debug!("group `{}`: abandoned without leaving", self.group()),
            None => {}
        }
        if let Some((_, conn)) = self.coordinator.take() {
            conn.close();
        }
        self.shared.running.store(false, Ordering::SeqCst);
    }

    // ---- waiting and commands ----

    fn on_command(&mut self, command: Command) -> Step<()> {
        match command {
            Command::Leave { done } => self.stop = Some(Stop::Leave(done)),
            Command::Abandon => self.stop = Some(Stop::Abandon),
            Command::Rejoin => {
                self.rejoin_needed = true;
                self.rejoin_reason = "the consumer asked to rejoin".into();
                return Ok(());
            }
            Command::Resume => return Ok(()),
        }
        Err(Interrupt::Stop)
    }

    /// Waits until `until`, answering commands; returns early on a rejoin
    /// request.
    fn wait_until(&mut self, until: Instant) -> Step<()> {
        loop {
            match self.commands.recv_deadline(until) {
                Ok(command) => {
                    self.on_command(command)?;
                    if self.rejoin_needed {
                        return Ok(());
                    }
                }
                Err(RecvTimeoutError::Timeout) => return Ok(()),
                Err(RecvTimeoutError::Disconnected) => {
                    // The handle is gone without a word: leave, as Drop would.
                    self.stop = Some(Stop::Leave(bounded(1).0));
                    return Err(Interrupt::Stop);
                }
            }
        }
    }

    /// Sleeps the retry backoff, doubling per consecutive failure up to 1 s.
    fn backoff(&mut self) -> Step<()> {
        self.failures = self.failures.saturating_add(1);
        let base = self.client.config().retry_backoff();
        let wait = base
            .saturating_mul(1 << self.failures.min(5))
            .min(Duration::from_secs(1).max(base));
        self.wait_until(Instant::now() + wait)
    }

    // ---- requests ----

    /// Finds the coordinator and opens a connection of its own to it.
    fn ensure_coordinator(&mut self) -> Step<()> {
        if let Some((_, conn)) = &self.coordinator {
            if !conn.is_closed() {
                return Ok(());
            }
        }
        self.coordinator = None;
        let deadline = Instant::now() + self.client.config().request_timeout();
        let request = FindCoordinatorRequest::group(self.group());
        let response = self
            .client
            .any_connection(deadline)
            .and_then(|conn| conn.request(&request))
            .map_err(Interrupt::Coordinator)?;
        let found = response.coordinator(self.group()).ok_or_else(|| {
            Interrupt::Retry(Error::Protocol {
                context: format!("FindCoordinator for group `{}`", self.group()),
                detail: "the response names no coordinator".into(),
            })
        })?;
        match found.error_code {
            ErrorCode::None => {}
            code => {
                let error = Error::broker(
                    code,
                    found.error_message.clone(),
                    format!("FindCoordinator for group `{}`", self.group()),
                );
                return Err(if code.is_retriable() {
                    Interrupt::Coordinator(error)
                } else {
                    Interrupt::Fatal(error)
                });
            }
        }
        let node = found.node_id;
        let conn = self
            .client
            .dedicated_connection(node)
            .map_err(Interrupt::Coordinator)?;
        debug!(
            "group `{}`: coordinator is broker {node} ({})",
            self.group(),
            conn.addr()
        );
        self.coordinator = Some((node, conn));
        self.last_coordinator = Some(node);
        Ok(())
    }

    /// Sends `request` to the coordinator and waits up to `timeout` for the
    /// answer, answering commands meanwhile. A Stop abandons the request.
    fn coordinator_request<R: Request>(
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
        let deadline = Instant::now() + timeout;
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
                        Err(_) => {
                            self.stop = Some(Stop::Leave(bounded(1).0));
                            Err(Interrupt::Stop)
                        }
                    };
                    if let Err(interrupt) = stepped {
                        // The answer would arrive on a stream nobody reads.
                        if let Some((_, conn)) = self.coordinator.take() {
                            conn.close();
                        }
                        return Err(interrupt);
                    }
                }
                default(remaining) => {
                    if let Some((_, conn)) = self.coordinator.take() {
                        conn.close();
                    }
                    return Err(Interrupt::Coordinator(Error::timeout(
                        TimeoutKind::Request,
                        format!("waiting for the coordinator of group `{}`", self.config.group_id),
                    )));
                }
            }
        }
    }

    fn request_timeout(&self) -> Duration {
        self.client.config().request_timeout()
    }

    /// JoinGroup and SyncGroup wait for the whole group: up to the
    /// rebalance timeout, plus slack as in the Java client.
    fn rebalance_wait(&self) -> Duration {
        self.config.rebalance_timeout + Duration::from_secs(5).max(self.request_timeout())
    }

    fn broker_error(&self, api: &str, code: ErrorCode) -> Error {
        Error::broker(code, None, format!("{api} for group `{}`", self.group()))
    }

    // ---- joining ----

    fn subscribed_topics(&self) -> Step<Vec<String>> {
        match &self.config.subscription {
            Subscription::Topics(_) => Ok(self.config.subscription.select(&[])),
            Subscription::Pattern(_) => {
                let available = self.client.topics().map_err(Interrupt::Retry)?;
                Ok(self.config.subscription.select(&available))
            }
        }
    }

    fn join(&mut self) -> Step<()> {
        if self.protocol == RebalanceProtocol::Eager && !self.owned.is_empty() {
            let all = self.owned.clone();
            self.revoke(all)?;
        }
        self.ensure_coordinator()?;
        self.topics = self.subscribed_topics()?;
        let response = self.join_group()?;
        self.member_id.clone_from(&response.member_id);
        self.generation = response.generation_id;
        self.is_leader = response.is_leader();
        let protocol_name = response.protocol_name.clone().unwrap_or_default();
        {
            let mut state = self.shared.state.lock();
            state.member_id.clone_from(&self.member_id);
            state.generation = self.generation;
            state.leader_id.clone_from(&response.leader);
            state.protocol_name = Some(protocol_name.clone());
        }
        info!(
            "group `{}`: joined generation {} as {}{} with `{protocol_name}`",
            self.group(),
            self.generation,
            self.member_id,
            if self.is_leader { " (leader)" } else { "" }
        );
        let assignments = if self.is_leader && !response.skip_assignment {
            self.assign(&response, &protocol_name)?
        } else {
            Vec::new()
        };
        let assignment = self.sync_group(&protocol_name, assignments)?;
        self.rejoin_needed = false;
        let now = Instant::now();
        self.last_heartbeat_ok = now;
        self.next_heartbeat = now + self.config.heartbeat_interval;
        self.next_metadata_check = now + self.metadata_interval();
        self.install(assignment)
    }

    fn join_group(&mut self) -> Step<JoinGroupResponse> {
        loop {
            let request = self.join_request()?;
            let response = self.coordinator_request(&request, self.rebalance_wait())?;
            match response.error_code {
                ErrorCode::None => return Ok(response),
                ErrorCode::MemberIdRequired => {
                    // KIP-394: the coordinator names our id; join again with it.
                    debug!(
                        "group `{}`: assigned member id {}",
                        self.group(),
                        response.member_id
                    );
                    self.member_id = response.member_id;
                }
                ErrorCode::UnknownMemberId => self.reset_member("JoinGroup", true),
                ErrorCode::IllegalGeneration | ErrorCode::RebalanceInProgress => {}
                code @ (ErrorCode::NotCoordinator | ErrorCode::CoordinatorNotAvailable) => {
                    return Err(Interrupt::Coordinator(self.broker_error("JoinGroup", code)))
                }
                code if code.is_retriable() => {
                    return Err(Interrupt::Retry(self.broker_error("JoinGroup", code)))
                }
                code => return Err(Interrupt::Fatal(self.broker_error("JoinGroup", code))),
            }
        }
    }

    fn join_request(&self) -> Step<JoinGroupRequest> {
        let mut protocols = Vec::with_capacity(self.config.assignors.len());
        for assignor in &self.config.assignors {
            let subscription = ConsumerProtocolSubscription {
                topics: self.topics.clone(),
                user_data: assignor.user_data(&self.owned, self.generation),
                owned_partitions: group_by_topic(&self.owned),
                generation_id: self.generation,
                rack_id: self.config.rack_id.clone(),
            };
            let metadata = subscription
                .encode(ConsumerProtocolSubscription::MAX_VERSION)
                .map_err(|e| Interrupt::Fatal(Error::encode("encoding the subscription", e)))?;
            protocols.push(JoinGroupRequestProtocol {
                name: assignor.name().to_owned(),
                metadata,
            });
        }
        Ok(JoinGroupRequest {
            group_id: self.config.group_id.clone(),
            session_timeout_ms: millis(self.config.session_timeout),
            rebalance_timeout_ms: millis(self.config.rebalance_timeout),
            member_id: self.member_id.clone(),
            group_instance_id: self.config.group_instance_id.clone(),
            protocol_type: CONSUMER_PROTOCOL_TYPE.to_owned(),
            protocols,
            reason: Some(self.rejoin_reason.clone()),
        })
    }

    /// As leader: runs the assignor over the members' subscriptions.
    fn assign(
        &mut self,
        response: &JoinGroupResponse,
        protocol_name: &str,
    ) -> Step<Vec<SyncGroupRequestAssignment>> {
        let assignor = self
            .config
            .assignors
            .iter()
            .find(|a| a.name() == protocol_name)
            .cloned()
            .ok_or_else(|| {
                Interrupt::Fatal(Error::Protocol {
                    context: format!("JoinGroup for group `{}`", self.group()),
                    detail: format!("the coordinator chose assignor `{protocol_name}`, which this member did not offer"),
                })
            })?;
        let members: Vec<MemberSubscription> = response
            .members
            .iter()
            .map(|m| decode_member(self.group(), m))
            .collect();
        let mut all_topics: Vec<&str> = members
            .iter()
            .flat_map(|m| m.topics.iter().map(String::as_str))
            .collect();
        all_topics.sort_unstable();
        all_topics.dedup();
        let counts = self.partition_counts(&all_topics)?;
        let assignment = assignor
            .assign(&members, &counts)
            .map_err(Interrupt::Retry)?;
        self.group_topics = all_topics.iter().map(|t| (*t).to_owned()).collect();
        self.group_partitions = counts;
        let mut out = Vec::with_capacity(members.len());
        for member in &members {
            let partitions = assignment
                .get(&member.member_id)
                .cloned()
                .unwrap_or_default();
            debug!(
                "group `{}` generation {}: {} gets {} partitions",
                self.group(),
                self.generation,
                member.member_id,
                partitions.len()
            );
            let bytes = ConsumerProtocolAssignment {
                assigned_partitions: group_by_topic(&partitions),
                user_data: None,
            }
            // Version 1 has the layout of every later one and is read by all
            // clients that know owned partitions.
            .encode(1)
            .map_err(|e| Interrupt::Fatal(Error::encode("encoding an assignment", e)))?;
            out.push(SyncGroupRequestAssignment {
                member_id: member.member_id.clone(),
                assignment: bytes,
            });
        }
        Ok(out)
    }

    /// Partition counts of `topics` from fresh metadata; missing topics are
    /// left out.
    fn partition_counts(&self, topics: &[&str]) -> Step<BTreeMap<String, i32>> {
        let mut counts = BTreeMap::new();
        for topic in topics {
            match self.client.refresh_topic(topic) {
                Ok(meta) => {
                    let n = i32::try_from(meta.partitions.len()).unwrap_or(i32::MAX);
                    counts.insert((*topic).to_owned(), n);
                }
                Err(Error::UnknownTopic(_) | Error::Config(_)) => {}
                Err(e) => return Err(Interrupt::Retry(e)),
            }
        }
        Ok(counts)
    }

    fn sync_group(
        &mut self,
        protocol_name: &str,
        assignments: Vec<SyncGroupRequestAssignment>,
    ) -> Step<BTreeSet<TopicPartition>> {
        let request = SyncGroupRequest {
            group_id: self.config.group_id.clone(),
            generation_id: self.generation,
            member_id: self.member_id.clone(),
            group_instance_id: self.config.group_instance_id.clone(),
            protocol_type: Some(CONSUMER_PROTOCOL_TYPE.to_owned()),
            protocol_name: Some(protocol_name.to_owned()),
            assignments,
        };
        let response = self.coordinator_request(&request, self.rebalance_wait())?;
        match response.error_code {
            ErrorCode::None => {}
            ErrorCode::RebalanceInProgress | ErrorCode::IllegalGeneration => {
                self.rejoin_reason = format!("SyncGroup said {}", response.error_code.name());
                return Err(Interrupt::Rejoin);
            }
            ErrorCode::UnknownMemberId => {
                self.reset_member("SyncGroup", true);
                return Err(Interrupt::Rejoin);
            }
            code @ (ErrorCode::NotCoordinator | ErrorCode::CoordinatorNotAvailable) => {
                return Err(Interrupt::Coordinator(self.broker_error("SyncGroup", code)))
            }
            code if code.is_retriable() => {
                return Err(Interrupt::Retry(self.broker_error("SyncGroup", code)))
            }
            code => return Err(Interrupt::Fatal(self.broker_error("SyncGroup", code))),
        }
        if response.assignment.is_empty() {
            return Ok(BTreeSet::new());
        }
        ConsumerProtocolAssignment::decode(&response.assignment)
            .map(|a| flatten(&a.assigned_partitions))
            .map_err(|e| {
                Interrupt::Retry(Error::decode(
                    format!("the assignment of group `{}`", self.group()),
                    e,
                ))
            })
    }

    /// Adopts a new assignment: revokes what moved away (cooperative), then
    /// announces it.
    fn install(&mut self, assignment: BTreeSet<TopicPartition>) -> Step<()> {
        let revoked: BTreeSet<TopicPartition> =
            self.owned.difference(&assignment).cloned().collect();
        let added: BTreeSet<TopicPartition> = assignment.difference(&self.owned).cloned().collect();
        if !revoked.is_empty() {
            self.revoke(revoked)?;
            // KIP-429: the partitions just released go to their new owners
            // in a follow-up rebalance.
            self.rejoin_needed = true;
            self.rejoin_reason = "partitions were revoked".into();
        }
        self.owned.clone_from(&assignment);
        self.shared.state.lock().assignment.clone_from(&assignment);
        let _ = self.events.send(GroupEvent::Assigned {
            generation: self.generation,
            assignment,
            added,
        });
        Ok(())
    }

    /// Announces a revocation and waits, heartbeating, for its
    /// acknowledgement (bounded by `rebalance_timeout` and the poll timer).
    fn revoke(&mut self, partitions: BTreeSet<TopicPartition>) -> Step<()> {
        let (ack_tx, ack_rx) = bounded::<()>(0);
        debug!(
            "group `{}`: revoking {} partitions",
            self.group(),
            partitions.len()
        );
        let _ = self.events.send(GroupEvent::Revoked {
            partitions: partitions.clone(),
            ack: RevokeAck { _done: ack_tx },
        });
        let deadline = Instant::now() + self.config.rebalance_timeout;
        let commands = self.commands.clone();
        loop {
            let now = Instant::now();
            if now >= deadline || self.poll_overdue(now) {
                warn!(
                    "group `{}`: the consumer did not acknowledge the revocation in time",
                    self.group()
                );
                break;
            }
            if now >= self.next_heartbeat && self.generation >= 0 && !self.member_id.is_empty() {
                self.next_heartbeat = now + self.config.heartbeat_interval;
                let beat = self.heartbeat();
                if self.stop.is_some() {
                    return Err(Interrupt::Stop);
                }
                if let Beat::Fenced { reset_member_id } = beat {
                    // The partitions are gone anyway; stop waiting.
                    self.reset_member("Heartbeat", reset_member_id);
                    return Err(Interrupt::Rejoin);
                }
            }
            let until = deadline.min(self.next_heartbeat.max(now + Duration::from_millis(10)));
            select! {
                recv(ack_rx) -> _ => break,
                recv(commands) -> command => match command {
                    Ok(command) => self.on_command(command)?,
                    Err(_) => {
                        self.stop = Some(Stop::Leave(bounded(1).0));
                        return Err(Interrupt::Stop);
                    }
                },
                default(until.saturating_duration_since(Instant::now())) => {}
            }
        }
        for tp in &partitions {
            self.owned.remove(tp);
        }
        self.shared.state.lock().assignment.clone_from(&self.owned);
        Ok(())
    }

    /// Reports the owned partitions lost.
    fn lose(&mut self, why: &str) {
        if self.owned.is_empty() {
            return;
        }
        warn!(
            "group `{}`: lost {} partitions ({why})",
            self.group(),
            self.owned.len()
        );
        let partitions = std::mem::take(&mut self.owned);
        self.shared.state.lock().assignment.clear();
        let _ = self.events.send(GroupEvent::Lost { partitions });
    }

    /// Forgets the generation (and the member id) after the coordinator
    /// said they are no longer valid; owned partitions are lost.
    fn reset_member(&mut self, api: &str, reset_member_id: bool) {
        self.lose(&format!("{api}: no longer a member of the generation"));
        self.generation = -1;
        if reset_member_id {
            self.member_id.clear();
        }
        let mut state = self.shared.state.lock();
        state.generation = -1;
        state.member_id.clone_from(&self.member_id);
        drop(state);
        self.rejoin_needed = true;
        self.rejoin_reason = format!("{api} fenced the member");
    }

    // ---- stable ----

    fn poll_overdue(&self, now: Instant) -> bool {
        now.saturating_duration_since(*self.shared.last_poll.lock()) > self.config.max_poll_interval
    }

    fn metadata_interval(&self) -> Duration {
        self.config
            .metadata_refresh_interval
            .unwrap_or_else(|| self.client.config().metadata_max_age())
    }

    /// One pass of the stable state: enforce timers, heartbeat when due,
    /// then wait for the next deadline or a command.
    fn stable(&mut self) -> Step<()> {
        let now = Instant::now();
        if self.poll_overdue(now) {
            return self.poll_expired();
        }
        if now.saturating_duration_since(self.last_heartbeat_ok) > self.config.session_timeout {
            // The coordinator will have removed us by now.
            self.reset_member("session timeout", true);
            return Ok(());
        }
        if now >= self.next_heartbeat {
            self.next_heartbeat = now + self.config.heartbeat_interval;
            match self.heartbeat() {
                Beat::Ok => {}
                Beat::Rebalance => {
                    self.rejoin_needed = true;
                    self.rejoin_reason = "the group is rebalancing".into();
                    return Ok(());
                }
                Beat::Fenced { reset_member_id } => {
                    self.reset_member("Heartbeat", reset_member_id);
                    return Ok(());
                }
                Beat::Failed => {
                    // Retry soon, against a rediscovered coordinator.
                    self.next_heartbeat = now + self.client.config().retry_backoff();
                }
            }
        }
        if now >= self.next_metadata_check {
            self.next_metadata_check = now + self.metadata_interval();
            self.check_metadata()?;
            if self.rejoin_needed {
                return Ok(());
            }
        }
        let poll_deadline = *self.shared.last_poll.lock() + self.config.max_poll_interval;
        let until = self
            .next_heartbeat
            .min(self.next_metadata_check)
            .min(poll_deadline + Duration::from_millis(1));
        self.wait_until(until)
    }

    /// Sends one heartbeat; coordinator trouble drops the coordinator so the
    /// next one rediscovers it.
    fn heartbeat(&mut self) -> Beat {
        let request = HeartbeatRequest {
            group_id: self.config.group_id.clone(),
            generation_id: self.generation,
            member_id: self.member_id.clone(),
            group_instance_id: self.config.group_instance_id.clone(),
        };
        let timeout = self.request_timeout().min(self.config.session_timeout);
        let response = match self.coordinator_request(&request, timeout) {
            Ok(r) => r,
            Err(Interrupt::Stop) => return Beat::Ok,
            Err(Interrupt::Fatal(e)) => {
                let _ = self.events.send(GroupEvent::Error(e));
                return Beat::Failed;
            }
            Err(Interrupt::Coordinator(e) | Interrupt::Retry(e)) => {
                debug!("group `{}`: heartbeat failed: {e}", self.group());
                self.coordinator = None;
                return Beat::Failed;
            }
            Err(Interrupt::Rejoin) => return Beat::Rebalance,
        };
        match response.error_code {
            ErrorCode::None => {
                self.last_heartbeat_ok = Instant::now();
                Beat::Ok
            }
            ErrorCode::RebalanceInProgress => {
                // Still a member until the rejoin completes.
                self.last_heartbeat_ok = Instant::now();
                Beat::Rebalance
            }
            ErrorCode::UnknownMemberId => Beat::Fenced {
                reset_member_id: true,
            },
            ErrorCode::IllegalGeneration => Beat::Fenced {
                reset_member_id: false,
            },
            ErrorCode::FencedInstanceId => {
                let error = self.broker_error("Heartbeat", ErrorCode::FencedInstanceId);
                let _ = self.events.send(GroupEvent::Error(error));
                self.stop = Some(Stop::Abandon);
                Beat::Fenced {
                    reset_member_id: true,
                }
            }
            code @ (ErrorCode::NotCoordinator | ErrorCode::CoordinatorNotAvailable) => {
                debug!("group `{}`: heartbeat said {}", self.group(), code.name());
                self.coordinator = None;
                Beat::Failed
            }
            code => {
                warn!("group `{}`: heartbeat said {}", self.group(), code.name());
                Beat::Failed
            }
        }
    }

    /// Re-evaluates a pattern subscription; as leader, checks partition
    /// counts. Either change asks for a rebalance.
    fn check_metadata(&mut self) -> Step<()> {
        if let Subscription::Pattern(_) = self.config.subscription {
            match self.subscribed_topics() {
                Ok(topics) if topics != self.topics => {
                    info!(
                        "group `{}`: subscription now matches {topics:?}",
                        self.group()
                    );
                    self.rejoin_needed = true;
                    self.rejoin_reason = "the subscribed topics changed".into();
                    return Ok(());
                }
                Ok(_) => {}
                Err(Interrupt::Retry(e)) => debug!("group `{}`: metadata: {e}", self.group()),
                Err(other) => return Err(other),
            }
        }
        if self.is_leader {
            let topics = self.group_topics.clone();
            let refs: Vec<&str> = topics.iter().map(String::as_str).collect();
            match self.partition_counts(&refs) {
                Ok(counts) if counts != self.group_partitions => {
                    info!(
                        "group `{}`: partition counts changed; rebalancing",
                        self.group()
                    );
                    self.rejoin_needed = true;
                    self.rejoin_reason = "partition counts changed".into();
                }
                Ok(_) => {}
                Err(Interrupt::Retry(e)) => debug!("group `{}`: metadata: {e}", self.group()),
                Err(other) => return Err(other),
            }
        }
        Ok(())
    }

    /// `max_poll_interval` passed without a poll: leave the group as the
    /// Java consumer does, and wait for the next poll to rejoin.
    fn poll_expired(&mut self) -> Step<()> {
        warn!(
            "group `{}`: no poll for more than max_poll_interval ({:?}); leaving the group until the consumer polls again",
            self.group(),
            self.config.max_poll_interval
        );
        self.lose("max_poll_interval expired");
        self.leave_group("max_poll_interval expired");
        self.generation = -1;
        if self.config.group_instance_id.is_none() {
            self.member_id.clear();
        }
        {
            let mut state = self.shared.state.lock();
            state.generation = -1;
            state.member_id.clone_from(&self.member_id);
        }
        self.shared.poll_expired.store(true, Ordering::SeqCst);
        // A poll may have landed between the check and the flag.
        while self.poll_overdue(Instant::now()) {
            if !self.shared.poll_expired.load(Ordering::SeqCst) {
                break;
            }
            match self.commands.recv_timeout(self.config.heartbeat_interval) {
                Ok(command) => self.on_command(command)?,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Err(Interrupt::Stop),
            }
        }
        self.shared.poll_expired.store(false, Ordering::SeqCst);
        self.rejoin_needed = true;
        self.rejoin_reason = "the consumer resumed polling".into();
        Ok(())
    }

    /// Sends LeaveGroup (dynamic members only, as the Java client), bounded
    /// by `close_timeout`; failures are logged: the session timeout removes
    /// the member anyway.
    fn leave_group(&mut self, reason: &str) {
        if self.config.group_instance_id.is_some() || self.member_id.is_empty() {
            return;
        }
        let Some(node) = self.last_coordinator else {
            debug!(
                "group `{}`: coordinator unknown; not sending LeaveGroup",
                self.group()
            );
            return;
        };
        let request = LeaveGroupRequest {
            group_id: self.config.group_id.clone(),
            members: vec![LeaveGroupRequestMember {
                member_id: self.member_id.clone(),
                group_instance_id: None,
                reason: Some(reason.to_owned()),
            }],
        };
        let deadline = Instant::now() + self.config.close_timeout;
        // A pooled connection: the dedicated one may be mid-join.
        let sent = self
            .client
            .broker_connection(node, deadline)
            .and_then(|conn| conn.send(&request));
        let result = sent.and_then(|pending| {
            match pending
                .receiver()
                .recv_deadline(deadline.min(pending.deadline()))
            {
                Ok(frame) => pending.decode(frame),
                Err(_) => Err(Error::timeout(TimeoutKind::Request, "LeaveGroup")),
            }
        });
        match result {
            Ok(response) if response.error_code == ErrorCode::None => {
                info!("group `{}`: left as {}", self.group(), self.member_id);
            }
            Ok(response) => debug!(
                "group `{}`: LeaveGroup said {}",
                self.group(),
                response.error_code.name()
            ),
            Err(e) => debug!("group `{}`: LeaveGroup failed: {e}", self.group()),
        }
    }
}

/// A member's subscription from its JoinGroup metadata; an undecodable one
/// subscribes to nothing rather than stalling the group.
fn decode_member(
    group: &str,
    member: &crate::protocol::api::JoinGroupResponseMember,
) -> MemberSubscription {
    let mut out = MemberSubscription {
        member_id: member.member_id.clone(),
        group_instance_id: member.group_instance_id.clone(),
        ..MemberSubscription::default()
    };
    match ConsumerProtocolSubscription::decode(&member.metadata) {
        Ok(s) => {
            let version = consumer_protocol::version(&member.metadata).unwrap_or(0);
            out.topics = s.topics;
            out.owned_partitions = flatten(&s.owned_partitions).into_iter().collect();
            out.generation_id = (version >= 2).then_some(s.generation_id);
            out.rack_id = s.rack_id;
            out.user_data = s.user_data;
        }
        Err(e) => warn!(
            "group `{group}`: cannot decode the subscription of member {}: {e}; assigning it nothing",
            member.member_id
        ),
    }
    out
}

fn millis(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::api::JoinGroupResponseMember;
    use crate::protocol::consumer_protocol::TopicPartitions;

    fn joined(metadata: Vec<u8>) -> JoinGroupResponseMember {
        JoinGroupResponseMember {
            member_id: "m-1".into(),
            group_instance_id: Some("i-1".into()),
            metadata,
        }
    }

    fn subscription() -> ConsumerProtocolSubscription {
        ConsumerProtocolSubscription {
            topics: vec!["a".into(), "b".into()],
            user_data: Some(vec![1, 2]),
            owned_partitions: vec![TopicPartitions {
                topic: "a".into(),
                partitions: vec![3, 1],
            }],
            generation_id: 7,
            rack_id: Some("r1".into()),
        }
    }

    #[test]
    fn a_members_subscription_is_read_with_every_field_of_version_3() {
        let member = decode_member("g", &joined(subscription().encode(3).unwrap()));
        assert_eq!(member.member_id, "m-1");
        assert_eq!(member.group_instance_id.as_deref(), Some("i-1"));
        assert_eq!(member.topics, ["a", "b"]);
        assert_eq!(
            member.owned_partitions,
            [TopicPartition::new("a", 1), TopicPartition::new("a", 3)]
        );
        assert_eq!(member.generation_id, Some(7));
        assert_eq!(member.rack_id.as_deref(), Some("r1"));
        assert_eq!(member.user_data, Some(vec![1, 2]));
    }

    #[test]
    fn a_version_1_subscription_has_no_generation() {
        let member = decode_member("g", &joined(subscription().encode(1).unwrap()));
        assert_eq!(member.generation_id, None);
        assert_eq!(member.owned_partitions.len(), 2);
    }

    #[test]
    fn an_undecodable_subscription_subscribes_to_nothing() {
        let member = decode_member("g", &joined(vec![0, 0, 0xff]));
        assert_eq!(member.member_id, "m-1");
        assert!(member.topics.is_empty());
    }
}
