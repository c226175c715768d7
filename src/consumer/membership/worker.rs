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

use crossbeam_channel::{Receiver, Sender};
use log::{debug, info, warn};

use super::link::{millis, Interrupt, Link, Next, Step, Stop};
use super::{Command, GroupEvent, MembershipConfig, Shared};
use crate::cluster::{CoordinatorStatus, KafkaClient};
use crate::consumer::assignor::{RebalanceProtocol, TopicPartition};
use crate::error::Error;
use crate::protocol::api::{HeartbeatRequest, LeaveGroupRequest, LeaveGroupRequestMember};
use crate::protocol::ErrorCode;

mod join;

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
    events: Sender<GroupEvent>,
    protocol: RebalanceProtocol,
    /// The coordinator, its connection and the command channel.
    link: Link,
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
            link: Link::new(client.clone(), config.group_id.clone(), commands),
            client,
            config,
            shared,
            events,
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
        }
    }

    fn group(&self) -> &str {
        &self.config.group_id
    }

    /// The thread's body. A panic of the loop is caught here: the member's
    /// partitions are reported lost, then [`Error::ThreadPanicked`] goes out
    /// as a [`GroupEvent::Error`], so a consumer stops reading partitions
    /// the group may have handed to someone else.
    pub(super) fn run(mut self) {
        match crate::thread::catch(super::HEARTBEAT_THREAD, || self.run_loop()) {
            Ok(()) => self.finish(),
            Err(detail) => self.died(&detail),
        }
    }

    fn died(&mut self, detail: &str) {
        let error = Error::thread_panicked("consumer", super::HEARTBEAT_THREAD, detail);
        // Not running any more before anyone hears of it.
        self.shared.running.store(false, Ordering::SeqCst);
        self.lose("the membership thread panicked");
        let _ = self.events.send(GroupEvent::Error(error));
        self.link.close();
    }

    #[cfg(test)]
    fn panic_if_asked(&self) {
        if self.shared.panic_for_test.load(Ordering::SeqCst) {
            panic!("test hook: the membership thread panics");
        }
    }

    fn run_loop(&mut self) {
        while self.link.stop.is_none() {
            #[cfg(test)]
            self.panic_if_asked();
            self.absorb_rejoin_request();
            let step = if self.rejoin_needed {
                self.join()
            } else {
                self.stable()
            };
            match self.link.recover(step) {
                Next::Continue => {}
                Next::Stop => break,
                Next::Rejoin => self.rejoin_needed = true,
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

    /// The loop ended: leave (or abandon) the group and close the
    /// coordinator connection.
    fn finish(&mut self) {
        match self.link.stop.take() {
            Some(Stop::Leave(done)) => {
                self.leave_group("the consumer is closing");
                drop(done);
            }
            Some(Stop::Abandon) => debug!("group `{}`: abandoned without leaving", self.group()),
            None => {}
        }
        self.link.close();
        self.shared.running.store(false, Ordering::SeqCst);
    }

    // ---- waiting and commands ----

    /// Turns a Rejoin command noted by the link into a rejoin.
    fn absorb_rejoin_request(&mut self) {
        if self.link.take_rejoin_request() {
            self.rejoin_needed = true;
            self.rejoin_reason = "the consumer asked to rejoin".into();
        }
    }

    /// Waits until `until`, answering commands; returns early on a rejoin
    /// request.
    fn wait_until(&mut self, until: Instant) -> Step<()> {
        let waited = self.link.wait_until(until);
        #[cfg(test)]
        self.panic_if_asked();
        self.absorb_rejoin_request();
        waited
    }

    fn coordinator_request<R: crate::protocol::Request>(
        &mut self,
        request: &R,
        timeout: Duration,
    ) -> Step<R::Response> {
        self.link.coordinator_request(request, timeout)
    }

    fn request_timeout(&self) -> Duration {
        self.client.config().request_timeout()
    }

    /// JoinGroup and SyncGroup wait for the whole group: up to the
    /// rebalance timeout, plus slack as in the Java client.
    fn rebalance_wait(&self) -> Duration {
        self.config
            .rebalance_timeout
            .saturating_add(Duration::from_secs(5).max(self.request_timeout()))
    }

    fn broker_error(&self, api: &str, code: ErrorCode) -> Error {
        Error::broker(code, None, format!("{api} for group `{}`", self.group()))
    }

    // ---- stable ----

    pub(super) fn poll_overdue(&self, now: Instant) -> bool {
        self.shared
            .poll_overdue(now, self.config.max_poll_interval)
    }

    fn metadata_interval(&self) -> Duration {
        self.config.metadata_interval(&self.client)
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
            self.next_heartbeat = crate::time::add(now, self.config.heartbeat_interval);
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
                    self.next_heartbeat =
                        crate::time::add(now, self.client.config().retry_backoff());
                }
            }
        }
        if now >= self.next_metadata_check {
            self.next_metadata_check = crate::time::add(now, self.metadata_interval());
            self.check_metadata()?;
            if self.rejoin_needed {
                return Ok(());
            }
        }
        let last_poll = *self.shared.last_poll.lock();
        let poll_deadline = crate::time::add(last_poll, self.config.max_poll_interval);
        let until = self
            .next_heartbeat
            .min(self.next_metadata_check)
            .min(crate::time::add(poll_deadline, Duration::from_millis(1)));
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
                // A fresh connection, to a coordinator looked up again.
                self.link.forget_coordinator();
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
                self.link.stop = Some(Stop::Abandon);
                Beat::Fenced {
                    reset_member_id: true,
                }
            }
            code if CoordinatorStatus::of(code) == Some(CoordinatorStatus::Moved) => {
                debug!("group `{}`: heartbeat said {}", self.group(), code.name());
                self.link.observe(code);
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
        if self.config.subscription.is_pattern() {
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
        self.link.warn_poll_expired(self.config.max_poll_interval);
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
        self.link
            .wait_for_poll(&self.shared, self.config.max_poll_interval)?;
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
        let request = LeaveGroupRequest {
            group_id: self.config.group_id.clone(),
            members: vec![LeaveGroupRequestMember {
                member_id: self.member_id.clone(),
                group_instance_id: None,
                reason: Some(reason.to_owned()),
            }],
        };
        let deadline = crate::time::after(self.config.close_timeout);
        let Some(result) = self.link.request_last_coordinator(&request, deadline) else {
            debug!(
                "group `{}`: coordinator unknown; not sending LeaveGroup",
                self.group()
            );
            return;
        };
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
