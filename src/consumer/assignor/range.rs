//! The `range` assignor, as the Java client's `RangeAssignor`: for each
//! topic, its subscribers in member order get consecutive ranges; when the
//! count does not divide evenly the first members get one partition more.

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
    let sorted = sorted_members(members);
    let mut topics: Vec<&str> = members
        .iter()
        .flat_map(|m| m.topics.iter().map(String::as_str))
        .collect();
    topics.sort_unstable();
    topics.dedup();
    for topic in topics {
        let Some(count) = partition_count(partitions_per_topic, topic) else {
            continue;
        };
        let subscribers: Vec<&MemberSubscription> = sorted
            .iter()
            .copied()
            .filter(|m| m.topics.iter().any(|t| t == topic))
            .collect();
        let Ok(n) = i32::try_from(subscribers.len()) else {
            continue;
        };
        let per_member = count / n;
        let extra = count % n;
        for (i, member) in (0..).zip(&subscribers) {
            let start = per_member * i + i.min(extra);
            let len = per_member + i32::from(i < extra);
            if let Some(owned) = assignment.get_mut(&member.member_id) {
                owned.extend((start..start + len).map(|p| TopicPartition::new(topic, p)));
            }
        }
    }
    assignment
}
