//! Joining a group: JoinGroup (with the member id round trip), the
//! leader's assignment, SyncGroup, and adopting the result — revoking
//! first what leaves this member.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use log::{debug, info, warn};

use super::{millis, Beat, Interrupt, Step, Worker};
use crate::consumer::membership::link::{lose_all, revoke_and_wait, Link, Revoking};
use crate::consumer::membership::{MembershipConfig, Shared};
use crossbeam_channel::Sender;
use crate::cluster::CoordinatorStatus;
use crate::consumer::assignor::{
    flatten, group_by_topic, MemberSubscription, PartitionAssignor, RebalanceProtocol,
    TopicPartition,
};
use crate::consumer::membership::GroupEvent;
use crate::error::Error;
use crate::protocol::api::{
    JoinGroupRequest, JoinGroupRequestProtocol, JoinGroupResponse, JoinGroupResponseMember,
    SyncGroupRequest, SyncGroupRequestAssignment,
};
use crate::protocol::consumer_protocol::{
    self, ConsumerProtocolAssignment, ConsumerProtocolSubscription, CONSUMER_PROTOCOL_TYPE,
};
use crate::protocol::ErrorCode;

impl Worker {
    pub(super) fn subscribed_topics(&self) -> Step<Vec<String>> {
        if self.config.subscription.is_pattern() {
            let available = self.client.topics().map_err(Interrupt::Retry)?;
            Ok(self.config.subscription.select(&available))
        } else {
            Ok(self.config.subscription.select(&[]))
        }
    }

    pub(super) fn join(&mut self) -> Step<()> {
        if self.protocol == RebalanceProtocol::Eager && !self.owned.is_empty() {
            let all = self.owned.clone();
            self.revoke(all)?;
        }
        self.link.ensure_coordinator()?;
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
        // A rejoin asked for during the join is answered by this join.
        self.link.take_rejoin_request();
        let now = Instant::now();
        self.last_heartbeat_ok = now;
        self.next_heartbeat = crate::time::add(now, self.config.heartbeat_interval);
        self.next_metadata_check = crate::time::add(now, self.metadata_interval());
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
                code if CoordinatorStatus::of(code) == Some(CoordinatorStatus::Moved) => {
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
                    decode: None,
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
    pub(super) fn partition_counts(&self, topics: &[&str]) -> Step<BTreeMap<String, i32>> {
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
            code if CoordinatorStatus::of(code) == Some(CoordinatorStatus::Moved) => {
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
        revoke_and_wait(self, &partitions)?;
        for tp in &partitions {
            self.owned.remove(tp);
        }
        self.shared.state.lock().assignment.clone_from(&self.owned);
        Ok(())
    }

    /// Reports the owned partitions lost.
    pub(super) fn lose(&mut self, why: &str) {
        let group = self.config.group_id.clone();
        lose_all(&group, &mut self.owned, &self.shared, &self.events, why);
    }

    /// Forgets the generation (and the member id) after the coordinator
    /// said they are no longer valid; owned partitions are lost.
    pub(super) fn reset_member(&mut self, api: &str, reset_member_id: bool) {
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
}

impl Revoking for Worker {
    fn link(&mut self) -> &mut Link {
        &mut self.link
    }

    fn parts(&self) -> (&MembershipConfig, &Shared, &Sender<GroupEvent>) {
        (&self.config, &self.shared, &self.events)
    }

    fn heartbeat_while_revoking(&mut self) -> Step<Instant> {
        let now = Instant::now();
        if now >= self.next_heartbeat && self.generation >= 0 && !self.member_id.is_empty() {
            self.next_heartbeat = crate::time::add(now, self.config.heartbeat_interval);
            let beat = self.heartbeat();
            if self.link.stop.is_some() {
                return Err(Interrupt::Stop);
            }
            if let Beat::Fenced { reset_member_id } = beat {
                // The partitions are gone anyway; stop waiting.
                self.reset_member("Heartbeat", reset_member_id);
                return Err(Interrupt::Rejoin);
            }
        }
        Ok(self.next_heartbeat.max(now + Duration::from_millis(10)))
    }
}

/// A member's subscription from its JoinGroup metadata; an undecodable one
/// subscribes to nothing rather than stalling the group.
fn decode_member(group: &str, member: &JoinGroupResponseMember) -> MemberSubscription {
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

#[cfg(test)]
mod tests {
    use super::*;
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
