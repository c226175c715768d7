//! The `cooperative-sticky` assignor (KIP-429): the sticky assignment, minus
//! every partition that would change owner. The current owner does not get
//! it back, so it revokes it and rejoins; in that follow-up rebalance nobody
//! claims it any more and it goes to its new member.
//!
//! Members report ownership in the subscription's owned partitions; the
//! generation comes from the subscription (v2+) or, from older members, from
//! `user_data` (a single i32, as the Java `CooperativeStickyAssignor` sends).

use std::collections::BTreeMap;

use super::sticky::{balance, MemberData};
use super::{GroupAssignment, MemberSubscription, TopicPartition};

pub(super) fn assign(
    members: &[MemberSubscription],
    partitions_per_topic: &BTreeMap<String, i32>,
) -> GroupAssignment {
    let data: Vec<MemberData> = members.iter().map(member_data).collect();
    let mut assignment = balance(members, partitions_per_topic, &data);
    let mut claimed_by: BTreeMap<&TopicPartition, Vec<&str>> = BTreeMap::new();
    for m in members {
        for tp in &m.owned_partitions {
            claimed_by.entry(tp).or_default().push(&m.member_id);
        }
    }
    for (member, partitions) in &mut assignment {
        partitions.retain(|tp| {
            claimed_by
                .get(tp)
                .is_none_or(|owners| owners.iter().all(|o| *o == member.as_str()))
        });
    }
    assignment
}

fn member_data(member: &MemberSubscription) -> MemberData {
    let generation = member.generation_id.or_else(|| {
        member.user_data.as_deref().map(|d| match d {
            [a, b, c, e, ..] => i32::from_be_bytes([*a, *b, *c, *e]),
            _ => -1,
        })
    });
    MemberData {
        owned: member.owned_partitions.clone(),
        generation,
    }
}

/// `CooperativeStickyAssignorUserData` v0: the generation alone.
pub(super) fn encode_user_data(generation: i32) -> Vec<u8> {
    generation.to_be_bytes().to_vec()
}
