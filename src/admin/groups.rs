//! Consumer groups: list them across the cluster, describe their members and
//! assignments, delete them, and read, change and delete their committed
//! offsets, with the lag of each partition.
//!
//! Every call about one group goes to that group's coordinator (found and
//! remembered by [`GroupCoordinator`], which forgets it on NOT_COORDINATOR so
//! the retry looks it up again); listing asks every broker, since each one
//! knows only the groups it coordinates. Offsets are written as the Java
//! admin writes them: an OffsetCommit outside any generation (generation -1,
//! no member id), which the broker accepts only while the group has no
//! active members.
//!
//! # References
//! Kafka protocol guide, "ListGroups API", "DescribeGroups API",
//! "DeleteGroups API", "OffsetFetch API", "OffsetCommit API", "OffsetDelete
//! API"; KIP-88, KIP-229, KIP-496; Java `KafkaAdminClient`.

use std::collections::BTreeMap;

use super::Admin;
use crate::cluster::{CoordinatorStatus, GroupCoordinator, LATEST};
use crate::consumer::TopicPartition;
use crate::error::{Error, Result};
use crate::protocol::api::delete_groups::DeleteGroupsRequest;
use crate::protocol::api::list_groups::ListGroupsRequest;
use crate::protocol::api::offset_delete::{OffsetDeleteRequest, OffsetDeleteRequestTopic};
use crate::protocol::api::{
    DescribeGroupsRequest, DescribedGroup, OffsetCommitRequest, OffsetCommitRequestPartition,
    OffsetCommitRequestTopic, OffsetFetchRequest,
};
use crate::protocol::consumer_protocol::{ConsumerProtocolAssignment, CONSUMER_PROTOCOL_TYPE};
use crate::protocol::ErrorCode;

/// One group in [`Admin::list_consumer_groups`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsumerGroupListing {
    /// Group id.
    pub group_id: String,
    /// `consumer` for consumer groups; empty for a group that only holds
    /// committed offsets.
    pub protocol_type: String,
    /// The group's state (`Stable`, `Empty`, …), when the broker reports it
    /// (ListGroups v4+).
    pub state: Option<String>,
    /// The broker that coordinates the group.
    pub coordinator: i32,
}

/// A group, as [`Admin::describe_consumer_groups`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsumerGroupDescription {
    /// Group id.
    pub group_id: String,
    /// `Empty`, `PreparingRebalance`, `CompletingRebalance`, `Stable` or `Dead`.
    pub state: String,
    /// `consumer` for consumer groups.
    pub protocol_type: String,
    /// The chosen protocol: the assignor (`range`, `roundrobin`, …) for
    /// consumer groups, in `Stable` state.
    pub protocol: String,
    /// The members.
    pub members: Vec<GroupMember>,
    /// The broker that coordinates the group.
    pub coordinator: i32,
}

/// One member of a [`ConsumerGroupDescription`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupMember {
    /// Member id.
    pub member_id: String,
    /// The static member's instance id.
    pub group_instance_id: Option<String>,
    /// The client id the member connected with.
    pub client_id: String,
    /// The member's host, as the broker saw it.
    pub client_host: String,
    /// The partitions assigned to the member, decoded with the standard
    /// consumer protocol; empty while the group rebalances, or when the
    /// group is not a consumer group or the assignment cannot be decoded.
    pub assignment: Vec<TopicPartition>,
}

/// A partition's committed offset against its end, from
/// [`Admin::consumer_group_lag`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionLag {
    /// The group's committed offset (the next offset it will read).
    pub committed: i64,
    /// The partition's high watermark (the offset the next record gets).
    pub high_watermark: i64,
    /// `high_watermark - committed`, never below 0.
    pub lag: i64,
}

impl Admin {
    /// Every group in the cluster: ListGroups sent to each broker (each
    /// knows the groups it coordinates), the answers merged.
    ///
    /// # Errors
    /// The first broker that cannot be asked, or answers with an error:
    /// a partial list would look complete.
    pub fn list_consumer_groups(&self) -> Result<Vec<ConsumerGroupListing>> {
        let client = &self.client;
        let deadline = self.deadline();
        client.refresh_metadata()?;
        let mut groups = BTreeMap::new();
        for broker in client.brokers() {
            let context = format!("ListGroups on broker {}", broker.id);
            let response = client.retry_until(deadline, &context, || {
                let conn = client.broker_connection(broker.id, deadline)?;
                let response = conn.request(&ListGroupsRequest::default())?;
                match response.error_code {
                    ErrorCode::None => Ok(response),
                    code => Err(Error::broker(code, None, context.clone())),
                }
            })?;
            for g in response.groups {
                groups.insert(
                    g.group_id.clone(),
                    ConsumerGroupListing {
                        group_id: g.group_id,
                        protocol_type: g.protocol_type,
                        state: (!g.group_state.is_empty()).then_some(g.group_state),
                        coordinator: broker.id,
                    },
                );
            }
        }
        Ok(groups.into_values().collect())
    }

    /// Describes `groups`, each at its coordinator: state, protocol and
    /// members with their decoded assignments. A group the broker does not
    /// know is reported as Kafka does, in state `Dead` with no members
    /// (Kafka 4 answers GROUP_ID_NOT_FOUND instead, that group's error).
    ///
    /// # Errors
    /// Only in the per-group results.
    pub fn describe_consumer_groups(
        &self,
        groups: &[&str],
    ) -> Result<BTreeMap<String, Result<ConsumerGroupDescription>>> {
        Ok(groups
            .iter()
            .map(|&group| (group.to_owned(), self.describe_one(group)))
            .collect())
    }

    fn describe_one(&self, group: &str) -> Result<ConsumerGroupDescription> {
        let context = format!("DescribeGroups for group `{group}`");
        let request = DescribeGroupsRequest {
            groups: vec![group.to_owned()],
            include_authorized_operations: false,
        };
        let (described, coordinator) = self.at_coordinator(group, &context, |conn| {
            let response = conn.request(&request)?;
            let described = response
                .groups
                .into_iter()
                .find(|g| g.group_id == group)
                .ok_or_else(|| Error::protocol(&context, "the response does not mention it"))?;
            Ok((described.error_code, None, described))
        })?;
        Ok(description(described, coordinator))
    }

    /// Deletes `groups` (each must have no active members), with their
    /// committed offsets.
    ///
    /// # Errors
    /// Only in the per-group results: GROUP_ID_NOT_FOUND for an unknown
    /// group, NON_EMPTY_GROUP for one with members.
    pub fn delete_consumer_groups(&self, groups: &[&str]) -> Result<BTreeMap<String, Result<()>>> {
        Ok(groups
            .iter()
            .map(|&group| {
                let context = format!("DeleteGroups for group `{group}`");
                let request = DeleteGroupsRequest {
                    groups_names: vec![group.to_owned()],
                };
                let outcome = self
                    .at_coordinator(group, &context, |conn| {
                        let response = conn.request(&request)?;
                        let result = response
                            .results
                            .into_iter()
                            .find(|r| r.group_id == group)
                            .ok_or_else(|| {
                                Error::protocol(&context, "the response does not mention it")
                            })?;
                        Ok((result.error_code, None, ()))
                    })
                    .map(|_| ());
                (group.to_owned(), outcome)
            })
            .collect())
    }

    /// The committed offsets of `group`, every partition it committed: the
    /// next offset the group will read from each.
    ///
    /// # Errors
    /// A group-level broker error (GROUP_AUTHORIZATION_FAILED, …); an unknown
    /// group has no offsets and gives an empty map, as in Kafka.
    pub fn list_consumer_group_offsets(
        &self,
        group: &str,
    ) -> Result<BTreeMap<TopicPartition, i64>> {
        let context = format!("OffsetFetch for group `{group}`");
        let request = OffsetFetchRequest::all_topics(group);
        let (offsets, _) = self.at_coordinator(group, &context, |conn| {
            let response = conn.request(&request)?;
            let g = response
                .group(group)
                .ok_or_else(|| Error::protocol(&context, "the response does not mention it"))?;
            let mut offsets = BTreeMap::new();
            for (topic, p) in g.partitions() {
                if p.error_code != ErrorCode::None {
                    return Ok((
                        p.error_code,
                        Some(format!("topic `{topic}` partition {}", p.partition_index)),
                        BTreeMap::new(),
                    ));
                }
                if p.committed_offset >= 0 {
                    offsets.insert(
                        TopicPartition::new(topic, p.partition_index),
                        p.committed_offset,
                    );
                }
            }
            Ok((g.error_code, None, offsets))
        })?;
        Ok(offsets)
    }

    /// Sets `group`'s committed offsets, as the Java admin does (an
    /// OffsetCommit outside any generation), by partition. The group must
    /// have no active members: a live group's coordinator refuses with
    /// UNKNOWN_MEMBER_ID or ILLEGAL_GENERATION.
    ///
    /// # Errors
    /// Only in the per-partition results (UNKNOWN_TOPIC_OR_PARTITION,
    /// OFFSET_METADATA_TOO_LARGE, …); a negative offset is that partition's
    /// [`Error::Config`].
    pub fn alter_consumer_group_offsets(
        &self,
        group: &str,
        offsets: &BTreeMap<TopicPartition, i64>,
    ) -> Result<BTreeMap<TopicPartition, Result<()>>> {
        let mut results = BTreeMap::new();
        let mut by_topic: BTreeMap<&str, Vec<OffsetCommitRequestPartition>> = BTreeMap::new();
        for (tp, &offset) in offsets {
            if offset < 0 {
                results.insert(
                    tp.clone(),
                    Err(Error::Config(format!(
                        "group `{group}` topic `{}` partition {}: offset {offset} is negative",
                        tp.topic, tp.partition
                    ))),
                );
                continue;
            }
            by_topic
                .entry(&tp.topic)
                .or_default()
                .push(OffsetCommitRequestPartition::new(tp.partition, offset));
        }
        if by_topic.is_empty() {
            return Ok(results);
        }
        let request = OffsetCommitRequest {
            topics: by_topic
                .into_iter()
                .map(|(name, partitions)| OffsetCommitRequestTopic {
                    name: name.to_owned(),
                    partitions,
                })
                .collect(),
            ..OffsetCommitRequest::new(group)
        };
        let context = format!("OffsetCommit for group `{group}`");
        let (codes, _) = self.at_coordinator(group, &context, |conn| {
            let response = conn.request(&request)?;
            let codes: Vec<(TopicPartition, ErrorCode)> = response
                .partitions()
                .map(|(t, p, code)| (TopicPartition::new(t, p), code))
                .collect();
            // A coordinator error (the same on every partition) retries the
            // whole commit; any other code is the partition's own.
            let moved = codes
                .iter()
                .map(|(_, code)| *code)
                .find(|&code| CoordinatorStatus::of(code).is_some());
            Ok((moved.unwrap_or(ErrorCode::None), None, codes))
        })?;
        for (tp, code) in codes {
            let outcome = match code {
                ErrorCode::None => Ok(()),
                code => Err(Error::broker(
                    code,
                    None,
                    format!("{context} topic `{}` partition {}", tp.topic, tp.partition),
                )),
            };
            results.insert(tp, outcome);
        }
        Ok(results)
    }

    /// Deletes `group`'s committed offsets of `partitions` (OffsetDelete),
    /// by partition.
    ///
    /// # Errors
    /// A group-level error (GROUP_ID_NOT_FOUND, …) for the whole call;
    /// GROUP_SUBSCRIBED_TO_TOPIC (the group's members consume the topic)
    /// and UNKNOWN_TOPIC_OR_PARTITION in the per-partition results;
    /// [`Error::UnsupportedVersion`] naming OffsetDelete on a broker
    /// without it.
    pub fn delete_consumer_group_offsets(
        &self,
        group: &str,
        partitions: &[TopicPartition],
    ) -> Result<BTreeMap<TopicPartition, Result<()>>> {
        let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
        for tp in partitions {
            by_topic.entry(&tp.topic).or_default().push(tp.partition);
        }
        let request = OffsetDeleteRequest {
            group_id: group.to_owned(),
            topics: by_topic
                .into_iter()
                .map(|(name, partitions)| OffsetDeleteRequestTopic {
                    name: name.to_owned(),
                    partitions,
                })
                .collect(),
        };
        let context = format!("OffsetDelete for group `{group}`");
        let (response, _) = self.at_coordinator(group, &context, |conn| {
            let response = conn.request(&request)?;
            Ok((response.error_code, None, response))
        })?;
        let mut results = BTreeMap::new();
        for topic in response.topics {
            for (partition, code) in topic.partitions {
                let outcome = match code {
                    ErrorCode::None => Ok(()),
                    code => Err(Error::broker(
                        code,
                        None,
                        format!("{context} topic `{}` partition {partition}", topic.name),
                    )),
                };
                results.insert(TopicPartition::new(&topic.name, partition), outcome);
            }
        }
        Ok(results)
    }

    /// The lag of every partition `group` committed: its committed offset
    /// against the partition's high watermark.
    ///
    /// # Errors
    /// As [`Admin::list_consumer_group_offsets`], and the ListOffsets errors
    /// of the topics (an offset of a deleted topic gives
    /// [`Error::UnknownTopic`]).
    pub fn consumer_group_lag(
        &self,
        group: &str,
    ) -> Result<BTreeMap<TopicPartition, PartitionLag>> {
        let committed = self.list_consumer_group_offsets(group)?;
        let mut by_topic: BTreeMap<&str, Vec<(i32, i64)>> = BTreeMap::new();
        for tp in committed.keys() {
            by_topic
                .entry(&tp.topic)
                .or_default()
                .push((tp.partition, LATEST));
        }
        let mut lags = BTreeMap::new();
        for (topic, queries) in by_topic {
            let ends = self.client.list_offsets(topic, &queries)?;
            for (partition, end) in ends {
                let tp = TopicPartition::new(topic, partition);
                if let Some(&committed) = committed.get(&tp) {
                    lags.insert(
                        tp,
                        PartitionLag {
                            committed,
                            high_watermark: end.offset,
                            lag: (end.offset - committed).max(0),
                        },
                    );
                }
            }
        }
        Ok(lags)
    }

    /// Runs `op` on a connection to `group`'s coordinator until it succeeds
    /// or fails for good: `op` returns the answer's group-level code (and a
    /// detail for the error), and its result; a coordinator code
    /// (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS, …) retries, looking
    /// the coordinator up again when it moved. Returns the result and the
    /// coordinator's node id.
    fn at_coordinator<T>(
        &self,
        group: &str,
        context: &str,
        mut op: impl FnMut(&crate::net::Connection) -> Result<(ErrorCode, Option<String>, T)>,
    ) -> Result<(T, i32)> {
        if group.is_empty() {
            return Err(Error::Config(format!("{context}: the group id is empty")));
        }
        let coordinator = GroupCoordinator::new(self.client.clone(), group);
        let deadline = self.deadline();
        self.client.retry_until(deadline, context, || {
            let node = coordinator.node(deadline)?;
            let conn = coordinator.connection(deadline)?;
            let (code, detail, value) = op(&conn)?;
            match code {
                ErrorCode::None => Ok((value, node)),
                code => {
                    coordinator.observe(code);
                    let context = match detail {
                        Some(detail) => format!("{context} {detail}"),
                        None => context.to_owned(),
                    };
                    Err(Error::broker(code, None, context))
                }
            }
        })
    }
}

fn description(g: DescribedGroup, coordinator: i32) -> ConsumerGroupDescription {
    let consumer = g.protocol_type == CONSUMER_PROTOCOL_TYPE;
    let members = g
        .members
        .into_iter()
        .map(|m| {
            let assignment = if consumer && !m.member_assignment.is_empty() {
                ConsumerProtocolAssignment::decode(&m.member_assignment)
                    .map(|a| {
                        a.assigned_partitions
                            .into_iter()
                            .flat_map(|t| {
                                let topic = t.topic;
                                t.partitions
                                    .into_iter()
                                    .map(move |p| TopicPartition::new(topic.clone(), p))
                            })
                            .collect()
                    })
                    .unwrap_or_default()
            } else {
                Vec::new()
            };
            GroupMember {
                member_id: m.member_id,
                group_instance_id: m.group_instance_id,
                client_id: m.client_id,
                client_host: m.client_host,
                assignment,
            }
        })
        .collect();
    ConsumerGroupDescription {
        group_id: g.group_id,
        state: g.group_state,
        protocol_type: g.protocol_type,
        protocol: g.protocol_data,
        members,
        coordinator,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::api::DescribedGroupMember;
    use crate::protocol::consumer_protocol::TopicPartitions;

    #[test]
    fn a_consumer_members_assignment_is_decoded() {
        let assignment = ConsumerProtocolAssignment {
            assigned_partitions: vec![TopicPartitions {
                topic: "events".into(),
                partitions: vec![0, 2],
            }],
            user_data: None,
        }
        .encode(0)
        .unwrap();
        let member = |assignment: Vec<u8>| DescribedGroupMember {
            member_id: "m-1".into(),
            group_instance_id: None,
            client_id: "kafka-sync".into(),
            client_host: "/127.0.0.1".into(),
            member_metadata: vec![],
            member_assignment: assignment,
        };
        let group = DescribedGroup {
            error_code: ErrorCode::None,
            group_id: "g".into(),
            group_state: "Stable".into(),
            protocol_type: "consumer".into(),
            protocol_data: "range".into(),
            members: vec![member(assignment), member(vec![0xff])],
            authorized_operations: i32::MIN,
        };
        let d = description(group, 7);
        assert_eq!(d.coordinator, 7);
        assert_eq!(
            d.members[0].assignment,
            [
                TopicPartition::new("events", 0),
                TopicPartition::new("events", 2)
            ]
        );
        assert!(d.members[1].assignment.is_empty(), "undecodable: empty");
    }
}
