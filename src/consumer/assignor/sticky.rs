//! The `sticky` assignor (KIP-54) and the balancing core it shares with
//! `cooperative-sticky`.
//!
//! The core keeps every partition a member validly owned, hands the
//! unowned partitions to the least loaded subscribers, then moves partitions
//! one at a time from a member with at least two more than a subscriber of
//! their topic, until no such move exists. With identical subscriptions that
//! ends with member sizes differing by at most one, after moving only the
//! partitions that had to move.
//!
//! Ownership claims count only from the members of the newest generation
//! any member reports, as in the Java client: an older claim is stale. A
//! partition two members of that generation both claim is treated as
//! unowned.
//!
//! The eager `sticky` assignor learns what members owned from their
//! `user_data` (they revoke everything before rejoining, so their owned
//! partitions are empty): the Java `StickyAssignor` layout, an array of
//! `(topic, [partition])` followed by the generation (omitted in the
//! original version 0).

use std::collections::{BTreeMap, BTreeSet};

use super::{member_order, partition_count, GroupAssignment, MemberSubscription, TopicPartition};
use crate::protocol::{Decoder, Encoder};

/// What a member owned, and in which generation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct MemberData {
    pub owned: Vec<TopicPartition>,
    pub generation: Option<i32>,
}

/// The generation Java assumes for members that report none.
const DEFAULT_GENERATION: i32 = -1;

pub(super) fn assign_eager(
    members: &[MemberSubscription],
    partitions_per_topic: &BTreeMap<String, i32>,
) -> GroupAssignment {
    let data: Vec<MemberData> = members.iter().map(eager_member_data).collect();
    balance(members, partitions_per_topic, &data)
}

/// The previous assignment of an eager member: from its `user_data`, or
/// from the owned partitions of its subscription when it sent none.
fn eager_member_data(member: &MemberSubscription) -> MemberData {
    member
        .user_data
        .as_deref()
        .filter(|d| !d.is_empty())
        .and_then(decode_user_data)
        .unwrap_or_else(|| MemberData {
            owned: member.owned_partitions.clone(),
            generation: member.generation_id,
        })
}

/// `StickyAssignorUserData` v1: the previous assignment and its generation.
pub(super) fn encode_user_data(assigned: &BTreeSet<TopicPartition>, generation: i32) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut e = Encoder::new(&mut buf);
    let topics = super::group_by_topic(assigned);
    // Topic names and counts come from metadata; they cannot overflow the
    // classic length prefixes, and if one did the data is merely dropped.
    let encoded = e.array_of(&topics, |e, t| {
        e.string(&t.topic)?;
        e.array_of(&t.partitions, |e, &p| {
            e.i32(p);
            Ok(())
        })
    });
    if encoded.is_err() {
        buf.clear();
        return buf;
    }
    e.i32(generation);
    buf
}

/// Reads `StickyAssignorUserData` v1, or v0 (no generation); `None` when the
/// bytes are not sticky user data.
pub(super) fn decode_user_data(bytes: &[u8]) -> Option<MemberData> {
    let mut d = Decoder::new(bytes);
    let topics = d
        .array_of(6, |d| {
            let topic = d.string()?;
            let partitions = d.array_of(4, |d| d.i32())?;
            Ok((topic, partitions))
        })
        .ok()?;
    let generation = if d.remaining() >= 4 {
        d.i32().ok()
    } else {
        None
    };
    let owned = topics
        .into_iter()
        .flat_map(|(topic, partitions)| {
            partitions
                .into_iter()
                .map(move |p| TopicPartition::new(topic.clone(), p))
        })
        .collect();
    Some(MemberData { owned, generation })
}

/// The balanced, sticky assignment of `members` (with `data[i]` what
/// `members[i]` owned).
pub(super) fn balance(
    members: &[MemberSubscription],
    partitions_per_topic: &BTreeMap<String, i32>,
    data: &[MemberData],
) -> GroupAssignment {
    // Work in member order so the result does not depend on input order.
    let mut order: Vec<usize> = (0..members.len()).collect();
    order.sort_by(|&a, &b| member_order(&members[a], &members[b]));
    let ms: Vec<&MemberSubscription> = order.iter().map(|&i| &members[i]).collect();
    let ds: Vec<MemberData> = order
        .iter()
        .map(|&i| data.get(i).cloned().unwrap_or_default())
        .collect();
    let n = ms.len();

    let subscribed: Vec<BTreeSet<&str>> = ms
        .iter()
        .map(|m| {
            m.topics
                .iter()
                .map(String::as_str)
                .filter(|t| partition_count(partitions_per_topic, t).is_some())
                .collect()
        })
        .collect();
    let all_partitions: BTreeSet<TopicPartition> = subscribed
        .iter()
        .flatten()
        .copied()
        .collect::<BTreeSet<&str>>()
        .into_iter()
        .flat_map(|topic| {
            let count = partition_count(partitions_per_topic, topic).unwrap_or(0);
            (0..count).map(move |p| TopicPartition::new(topic, p))
        })
        .collect();

    // Valid claims: newest generation only, subscribed, existing, unique.
    let newest = ds
        .iter()
        .map(|d| d.generation.unwrap_or(DEFAULT_GENERATION))
        .max()
        .unwrap_or(DEFAULT_GENERATION);
    let mut claims: BTreeMap<&TopicPartition, Vec<usize>> = BTreeMap::new();
    for (i, d) in ds.iter().enumerate() {
        if d.generation.unwrap_or(DEFAULT_GENERATION) != newest {
            continue;
        }
        for tp in &d.owned {
            if let Some(tp) = all_partitions.get(tp) {
                if subscribed[i].contains(tp.topic.as_str()) {
                    let claimants = claims.entry(tp).or_default();
                    if !claimants.contains(&i) {
                        claimants.push(i);
                    }
                }
            }
        }
    }
    let mut retained: Vec<BTreeSet<TopicPartition>> = vec![BTreeSet::new(); n];
    for (tp, claimants) in &claims {
        if let [only] = claimants.as_slice() {
            retained[*only].insert((*tp).clone());
        }
    }
    let mut assigned = retained.clone();

    // Unowned partitions, hardest to place first, to the least loaded.
    let owned: BTreeSet<&TopicPartition> = assigned.iter().flatten().collect();
    let mut unowned: Vec<(usize, &TopicPartition)> = all_partitions
        .iter()
        .filter(|tp| !owned.contains(tp))
        .map(|tp| {
            let eligible = subscribed
                .iter()
                .filter(|s| s.contains(tp.topic.as_str()))
                .count();
            (eligible, tp)
        })
        .collect();
    unowned.sort();
    for (_, tp) in unowned {
        let target = (0..n)
            .filter(|&i| subscribed[i].contains(tp.topic.as_str()))
            .min_by_key(|&i| (assigned[i].len(), i));
        if let Some(i) = target {
            assigned[i].insert(tp.clone());
        }
    }

    // Even out: each move takes a partition from a member holding at least
    // two more than the receiver, so the sum of squared sizes falls and the
    // loop ends.
    loop {
        let mut receivers: Vec<usize> = (0..n).collect();
        receivers.sort_by_key(|&i| (assigned[i].len(), i));
        let mut givers: Vec<usize> = (0..n).collect();
        givers.sort_by_key(|&i| (std::cmp::Reverse(assigned[i].len()), i));
        let mut chosen: Option<(usize, usize, TopicPartition)> = None;
        'search: for &to in &receivers {
            for &from in &givers {
                if assigned[from].len() < assigned[to].len() + 2 {
                    break;
                }
                // Prefer a partition the giver did not own before (moving it
                // costs no stickiness), then the highest.
                let candidate = assigned[from]
                    .iter()
                    .rev()
                    .filter(|tp| subscribed[to].contains(tp.topic.as_str()))
                    .min_by_key(|tp| retained[from].contains(*tp));
                if let Some(tp) = candidate {
                    chosen = Some((from, to, tp.clone()));
                    break 'search;
                }
            }
        }
        let Some((from, to, tp)) = chosen else { break };
        assigned[from].remove(&tp);
        assigned[to].insert(tp);
    }

    ms.iter()
        .zip(assigned)
        .map(|(m, parts)| (m.member_id.clone(), parts))
        .collect()
}
