//! The `roundrobin` assignor, as the Java client's `RoundRobinAssignor`:
//! every subscribed partition, sorted by topic then index, goes to the next
//! member in a circle (member order) that subscribes to its topic.

use std::collections::BTreeMap;

use super::{
    empty_assignment, partition_count, sorted_members, GroupAssignment, MemberSubscription,
    TopicPartition,
};

pub(super) fn assign(
    members: &[MemberSubscription],
    partitions_per_topic: &BTreeMap<String, i32>,
) -> GroupAssignment {
    let mut assignment = empty_assignment(members);
    let circle = sorted_members(members);
    if circle.is_empty() {
        return assignment;
    }
    let mut topics: Vec<&str> = members
        .iter()
        .flat_map(|m| m.topics.iter().map(String::as_str))
        .collect();
    topics.sort_unstable();
    topics.dedup();
    let mut next = 0usize;
    for topic in topics {
        let Some(count) = partition_count(partitions_per_topic, topic) else {
            continue;
        };
        for partition in 0..count {
            // Some member subscribes to `topic` (that is how it got listed),
            // so this finds one within a lap of the circle.
            for _ in 0..circle.len() {
                let member = circle[next % circle.len()];
                next = (next + 1) % circle.len();
                if member.topics.iter().any(|t| t == topic) {
                    if let Some(owned) = assignment.get_mut(&member.member_id) {
                        owned.insert(TopicPartition::new(topic, partition));
                    }
                    break;
                }
            }
        }
    }
    assignment
}
