//! Helpers for assignor tests: building inputs and checking outputs.

use std::collections::{BTreeMap, BTreeSet};

use super::{GroupAssignment, MemberSubscription, TopicPartition};

pub(crate) fn member(id: &str, topics: &[&str]) -> MemberSubscription {
    MemberSubscription::new(id, topics.iter().copied())
}

pub(crate) fn static_member(id: &str, instance: &str, topics: &[&str]) -> MemberSubscription {
    MemberSubscription {
        group_instance_id: Some(instance.to_owned()),
        ..member(id, topics)
    }
}

pub(crate) fn topics(counts: &[(&str, i32)]) -> BTreeMap<String, i32> {
    counts.iter().map(|&(t, n)| (t.to_owned(), n)).collect()
}

pub(crate) fn tps(list: &[(&str, i32)]) -> BTreeSet<TopicPartition> {
    list.iter()
        .map(|&(t, p)| TopicPartition::new(t, p))
        .collect()
}

/// Every existing partition some member subscribes to is assigned exactly
/// once, to a subscriber; every member has an entry.
pub(crate) fn assert_valid(
    members: &[MemberSubscription],
    partitions_per_topic: &BTreeMap<String, i32>,
    assignment: &GroupAssignment,
) {
    for m in members {
        assert!(
            assignment.contains_key(&m.member_id),
            "{} missing",
            m.member_id
        );
    }
    assert_eq!(assignment.len(), members.len(), "{assignment:?}");
    let mut seen = BTreeSet::new();
    for (id, parts) in assignment {
        let m = members
            .iter()
            .find(|m| &m.member_id == id)
            .expect("known member");
        for tp in parts {
            assert!(m.topics.contains(&tp.topic), "{id} got {tp} unsubscribed");
            assert!(
                seen.insert(tp.clone()),
                "{tp} assigned twice: {assignment:?}"
            );
        }
    }
    let expected: BTreeSet<TopicPartition> = members
        .iter()
        .flat_map(|m| m.topics.iter())
        .filter_map(|t| partitions_per_topic.get(t).map(|&n| (t, n)))
        .flat_map(|(t, n)| (0..n).map(move |p| TopicPartition::new(t.clone(), p)))
        .collect();
    assert_eq!(seen, expected, "not every partition is assigned");
}

/// Largest minus smallest member size.
pub(crate) fn spread(assignment: &GroupAssignment) -> usize {
    let sizes = assignment.values().map(BTreeSet::len);
    sizes.clone().max().unwrap_or(0) - sizes.min().unwrap_or(0)
}
