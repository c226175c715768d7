//! Partition assignors: how a consumer group's leader splits the subscribed
//! topics' partitions among the members.
//!
//! The group coordinator only relays bytes; the member elected leader runs
//! the assignor over every member's subscription and hands the result back
//! through SyncGroup. Members of different clients (Java, librdkafka,
//! kafka-python, kafka-sync) can share a group when they name a common
//! assignor, so the built-in ones follow the Java client's algorithms:
//!
//! | [`Assignor`] | protocol name | rebalance | result |
//! |---|---|---|---|
//! | [`Assignor::Range`] | `range` | eager | per topic, consecutive ranges in member order (the Java default) |
//! | [`Assignor::RoundRobin`] | `roundrobin` | eager | all partitions dealt in turn over the members |
//! | [`Assignor::Sticky`] | `sticky` | eager | balanced, keeps what members had (KIP-54) |
//! | [`Assignor::CooperativeSticky`] | `cooperative-sticky` | cooperative | sticky, and a moving partition is first revoked, then assigned in a follow-up rebalance (KIP-429) |
//!
//! Range and round robin give exactly the Java client's assignment for the
//! same input (members ordered by `group.instance.id`, then member id). The
//! sticky assignors give a balanced, sticky and deterministic assignment but
//! not always the same one as Java's when several equally good ones exist.
//! Rack-aware placement (KIP-881) is not implemented: racks are carried but
//! ignored.
//!
//! Write your own by implementing [`PartitionAssignor`] and passing
//! [`Assignor::Custom`].
//!
//! # References
//! Kafka protocol guide, "The Consumer Group Protocol"; KIP-54 (sticky),
//! KIP-345 (static membership ordering), KIP-429 (cooperative rebalancing).

mod cooperative;
mod range;
mod roundrobin;
mod sticky;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use crate::error::Result;
use crate::protocol::consumer_protocol::TopicPartitions;

/// One partition of one topic.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicPartition {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
}

impl TopicPartition {
    /// Partition `partition` of `topic`.
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// Groups partitions by topic, in the wire shape of the consumer protocol.
pub fn group_by_topic<'a>(
    partitions: impl IntoIterator<Item = &'a TopicPartition>,
) -> Vec<TopicPartitions> {
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for tp in partitions {
        by_topic.entry(&tp.topic).or_default().push(tp.partition);
    }
    by_topic
        .into_iter()
        .map(|(topic, mut partitions)| {
            partitions.sort_unstable();
            partitions.dedup();
            TopicPartitions {
                topic: topic.to_owned(),
                partitions,
            }
        })
        .collect()
}

/// Flattens the consumer protocol's per-topic lists into partitions.
pub fn flatten(topics: &[TopicPartitions]) -> BTreeSet<TopicPartition> {
    topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(move |&p| TopicPartition::new(t.topic.clone(), p))
        })
        .collect()
}

/// How a group moves partitions between members during a rebalance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RebalanceProtocol {
    /// Every member gives up all its partitions before rejoining (the
    /// classic protocol).
    #[default]
    Eager,
    /// Members keep their partitions through a rebalance and give up only
    /// those that move, which are assigned in a follow-up rebalance (KIP-429).
    Cooperative,
}

/// One member's subscription, as the leader sees it in JoinGroup.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct MemberSubscription {
    /// The member id the coordinator gave the member.
    pub member_id: String,
    /// The member's `group.instance.id`, for static members (KIP-345).
    pub group_instance_id: Option<String>,
    /// Subscribed topics.
    pub topics: Vec<String>,
    /// Partitions the member says it owns (consumer protocol v1+; empty for
    /// eager members, which give up everything before rejoining).
    pub owned_partitions: Vec<TopicPartition>,
    /// The generation the owned partitions belong to (consumer protocol v2+);
    /// `None` when the member did not say.
    pub generation_id: Option<i32>,
    /// The member's rack (consumer protocol v3+).
    pub rack_id: Option<String>,
    /// Assignor-specific data.
    pub user_data: Option<Vec<u8>>,
}

impl MemberSubscription {
    /// A member subscribed to `topics`, owning nothing.
    pub fn new<S: Into<String>>(
        member_id: impl Into<String>,
        topics: impl IntoIterator<Item = S>,
    ) -> Self {
        MemberSubscription {
            member_id: member_id.into(),
            topics: topics.into_iter().map(Into::into).collect(),
            ..Default::default()
        }
    }
}

/// What an assignor decides: member id → the partitions it gets. Every
/// member of the input has an entry, possibly empty.
pub type GroupAssignment = BTreeMap<String, BTreeSet<TopicPartition>>;

/// A partition assignment strategy, run by the group leader.
///
/// Implementations must be deterministic: every member may become leader,
/// and a group should not depend on which one did.
pub trait PartitionAssignor: Send + Sync + fmt::Debug {
    /// The protocol name announced in JoinGroup (`range`, `roundrobin`, …);
    /// members of other clients pick the same strategy by this name.
    fn name(&self) -> &str;

    /// The rebalance protocol this assignor supports. Defaults to eager.
    fn protocol(&self) -> RebalanceProtocol {
        RebalanceProtocol::Eager
    }

    /// The `user_data` a member puts in its subscription, given what it was
    /// last assigned and in which generation (`-1`: never). Defaults to none.
    fn user_data(&self, assigned: &BTreeSet<TopicPartition>, generation: i32) -> Option<Vec<u8>> {
        let _ = (assigned, generation);
        None
    }

    /// Splits the partitions of `partitions_per_topic` (topic → partition
    /// count; subscribed topics missing from it do not exist and are
    /// skipped) among `members`.
    fn assign(
        &self,
        members: &[MemberSubscription],
        partitions_per_topic: &BTreeMap<String, i32>,
    ) -> Result<GroupAssignment>;
}

/// The assignment strategy of a consumer group member.
///
/// Defaults to [`Assignor::Range`], the Java consumer's default.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub enum Assignor {
    /// `range`: for each topic, members (ordered by `group.instance.id`, then
    /// member id) get consecutive ranges, the first ones one partition more
    /// when the count does not divide evenly.
    #[default]
    Range,
    /// `roundrobin`: every subscribed partition, sorted by topic and index,
    /// dealt in turn to the members subscribed to its topic.
    RoundRobin,
    /// `sticky`: balanced like round robin, moving as few partitions as
    /// possible from their previous owners (eager rebalancing).
    Sticky,
    /// `cooperative-sticky`: sticky with incremental (cooperative)
    /// rebalancing.
    CooperativeSticky,
    /// A user-supplied strategy.
    Custom(Arc<dyn PartitionAssignor>),
}

impl Assignor {
    /// The assignor a protocol name selects, among the built-in ones.
    pub fn from_name(name: &str) -> Option<Assignor> {
        match name {
            "range" => Some(Assignor::Range),
            "roundrobin" => Some(Assignor::RoundRobin),
            "sticky" => Some(Assignor::Sticky),
            "cooperative-sticky" => Some(Assignor::CooperativeSticky),
            _ => None,
        }
    }
}

impl PartitionAssignor for Assignor {
    fn name(&self) -> &str {
        match self {
            Assignor::Range => "range",
            Assignor::RoundRobin => "roundrobin",
            Assignor::Sticky => "sticky",
            Assignor::CooperativeSticky => "cooperative-sticky",
            Assignor::Custom(a) => a.name(),
        }
    }

    fn protocol(&self) -> RebalanceProtocol {
        match self {
            Assignor::CooperativeSticky => RebalanceProtocol::Cooperative,
            Assignor::Custom(a) => a.protocol(),
            _ => RebalanceProtocol::Eager,
        }
    }

    fn user_data(&self, assigned: &BTreeSet<TopicPartition>, generation: i32) -> Option<Vec<u8>> {
        match self {
            Assignor::Sticky => Some(sticky::encode_user_data(assigned, generation)),
            Assignor::CooperativeSticky => Some(cooperative::encode_user_data(generation)),
            Assignor::Custom(a) => a.user_data(assigned, generation),
            Assignor::Range | Assignor::RoundRobin => None,
        }
    }

    fn assign(
        &self,
        members: &[MemberSubscription],
        partitions_per_topic: &BTreeMap<String, i32>,
    ) -> Result<GroupAssignment> {
        match self {
            Assignor::Range => Ok(range::assign(members, partitions_per_topic)),
            Assignor::RoundRobin => Ok(roundrobin::assign(members, partitions_per_topic)),
            Assignor::Sticky => Ok(sticky::assign_eager(members, partitions_per_topic)),
            Assignor::CooperativeSticky => Ok(cooperative::assign(members, partitions_per_topic)),
            Assignor::Custom(a) => a.assign(members, partitions_per_topic),
        }
    }
}

/// The Java client's member order (`MemberInfo.compareTo`): static members
/// first, by `group.instance.id`; then dynamic members by member id.
fn member_order(a: &MemberSubscription, b: &MemberSubscription) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (&a.group_instance_id, &b.group_instance_id) {
        (Some(x), Some(y)) => x.cmp(y).then_with(|| a.member_id.cmp(&b.member_id)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.member_id.cmp(&b.member_id),
    }
}

/// Members sorted in the Java client's order.
fn sorted_members(members: &[MemberSubscription]) -> Vec<&MemberSubscription> {
    let mut sorted: Vec<&MemberSubscription> = members.iter().collect();
    sorted.sort_by(|a, b| member_order(a, b));
    sorted
}

/// An assignment with an empty entry for every member.
fn empty_assignment(members: &[MemberSubscription]) -> GroupAssignment {
    members
        .iter()
        .map(|m| (m.member_id.clone(), BTreeSet::new()))
        .collect()
}

/// The partition count of `topic`, when it exists and has partitions.
fn partition_count(partitions_per_topic: &BTreeMap<String, i32>, topic: &str) -> Option<i32> {
    partitions_per_topic.get(topic).copied().filter(|&n| n > 0)
}

#[cfg(test)]
pub(crate) mod test_support;

#[cfg(test)]
mod tests;
