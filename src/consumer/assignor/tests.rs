//! Assignor behaviour: the Java client's expectations as fixed vectors, and
//! properties (validity, balance, stickiness, determinism, cooperation).

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::test_support::{assert_valid, member, spread, static_member, topics, tps};
use super::*;

fn run(
    a: &Assignor,
    members: &[MemberSubscription],
    ppt: &BTreeMap<String, i32>,
) -> GroupAssignment {
    let assignment = a
        .assign(members, ppt)
        .expect("built-in assignors do not fail");
    assert_valid(members, ppt, &assignment);
    assignment
}

fn of<'a>(a: &'a GroupAssignment, id: &str) -> &'a BTreeSet<TopicPartition> {
    a.get(id).expect("member present")
}

// ---- range: vectors from the Java client's RangeAssignorTest ----

#[test]
fn range_gives_one_consumer_every_partition() {
    let ppt = topics(&[("t", 3), ("other", 3)]);
    let a = run(&Assignor::Range, &[member("c", &["t"])], &ppt);
    assert_eq!(of(&a, "c"), &tps(&[("t", 0), ("t", 1), ("t", 2)]));
}

#[test]
fn range_skips_topics_that_do_not_exist() {
    let a = run(&Assignor::Range, &[member("c", &["t"])], &topics(&[]));
    assert!(of(&a, "c").is_empty());
}

#[test]
fn range_leaves_the_second_consumer_empty_with_one_partition() {
    let members = [member("consumer1", &["t"]), member("consumer2", &["t"])];
    let a = run(&Assignor::Range, &members, &topics(&[("t", 1)]));
    assert_eq!(of(&a, "consumer1"), &tps(&[("t", 0)]));
    assert!(of(&a, "consumer2").is_empty());
}

#[test]
fn range_splits_mixed_subscriptions_per_topic() {
    let members = [
        member("consumer1", &["topic1"]),
        member("consumer2", &["topic1", "topic2"]),
        member("consumer3", &["topic1"]),
    ];
    let a = run(
        &Assignor::Range,
        &members,
        &topics(&[("topic1", 3), ("topic2", 2)]),
    );
    assert_eq!(of(&a, "consumer1"), &tps(&[("topic1", 0)]));
    assert_eq!(
        of(&a, "consumer2"),
        &tps(&[("topic1", 1), ("topic2", 0), ("topic2", 1)])
    );
    assert_eq!(of(&a, "consumer3"), &tps(&[("topic1", 2)]));
}

#[test]
fn range_gives_the_first_members_the_extra_partitions_of_every_topic() {
    let members = [
        member("consumer1", &["topic1", "topic2"]),
        member("consumer2", &["topic1", "topic2"]),
    ];
    let a = run(
        &Assignor::Range,
        &members,
        &topics(&[("topic1", 3), ("topic2", 3)]),
    );
    assert_eq!(
        of(&a, "consumer1"),
        &tps(&[("topic1", 0), ("topic1", 1), ("topic2", 0), ("topic2", 1)])
    );
    assert_eq!(of(&a, "consumer2"), &tps(&[("topic1", 2), ("topic2", 2)]));
}

#[test]
fn range_orders_static_members_by_instance_id_before_dynamic_ones() {
    let members = [
        member("consumer-a", &["t"]),
        static_member("consumer-c", "instance2", &["t"]),
        static_member("consumer-b", "instance1", &["t"]),
    ];
    let a = run(&Assignor::Range, &members, &topics(&[("t", 3)]));
    assert_eq!(of(&a, "consumer-b"), &tps(&[("t", 0)]));
    assert_eq!(of(&a, "consumer-c"), &tps(&[("t", 1)]));
    assert_eq!(of(&a, "consumer-a"), &tps(&[("t", 2)]));
}

#[test]
fn range_keeps_static_assignments_when_member_ids_change() {
    let ppt = topics(&[("t1", 3), ("t2", 3)]);
    let before = [
        static_member("consumer1", "instance1", &["t1", "t2"]),
        static_member("consumer2", "instance2", &["t1", "t2"]),
        static_member("consumer3", "instance3", &["t1", "t2"]),
    ];
    let after = [
        static_member("consumer4", "instance1", &["t1", "t2"]),
        static_member("consumer5", "instance2", &["t1", "t2"]),
        static_member("consumer1", "instance3", &["t1", "t2"]),
    ];
    let a = run(&Assignor::Range, &before, &ppt);
    let b = run(&Assignor::Range, &after, &ppt);
    for (x, y) in before.iter().zip(&after) {
        assert_eq!(of(&a, &x.member_id), of(&b, &y.member_id));
    }
    assert_eq!(of(&b, "consumer4"), &tps(&[("t1", 0), ("t2", 0)]));
}

// ---- roundrobin: vectors from the Java client's RoundRobinAssignorTest ----

#[test]
fn roundrobin_deals_all_partitions_in_topic_order() {
    let members = [
        member("consumer1", &["topic1", "topic2"]),
        member("consumer2", &["topic1", "topic2"]),
    ];
    let a = run(
        &Assignor::RoundRobin,
        &members,
        &topics(&[("topic1", 3), ("topic2", 3)]),
    );
    assert_eq!(
        of(&a, "consumer1"),
        &tps(&[("topic1", 0), ("topic1", 2), ("topic2", 1)])
    );
    assert_eq!(
        of(&a, "consumer2"),
        &tps(&[("topic1", 1), ("topic2", 0), ("topic2", 2)])
    );
}

#[test]
fn roundrobin_skips_members_not_subscribed_to_the_topic() {
    let members = [
        member("consumer1", &["topic1"]),
        member("consumer2", &["topic1", "topic2"]),
        member("consumer3", &["topic1"]),
    ];
    let a = run(
        &Assignor::RoundRobin,
        &members,
        &topics(&[("topic1", 3), ("topic2", 2)]),
    );
    assert_eq!(of(&a, "consumer1"), &tps(&[("topic1", 0)]));
    assert_eq!(
        of(&a, "consumer2"),
        &tps(&[("topic1", 1), ("topic2", 0), ("topic2", 1)])
    );
    assert_eq!(of(&a, "consumer3"), &tps(&[("topic1", 2)]));
}

#[test]
fn roundrobin_puts_a_static_member_before_a_dynamic_one() {
    let members = [
        static_member("consumer-b", "instance1", &["topic1", "topic2"]),
        member("consumer-a", &["topic1", "topic2"]),
    ];
    let a = run(
        &Assignor::RoundRobin,
        &members,
        &topics(&[("topic1", 3), ("topic2", 3)]),
    );
    assert_eq!(
        of(&a, "consumer-b"),
        &tps(&[("topic1", 0), ("topic1", 2), ("topic2", 1)])
    );
}

#[test]
fn roundrobin_static_assignment_survives_a_dynamic_member_swap() {
    let ppt = topics(&[("topic1", 3), ("topic2", 3)]);
    let mut members = vec![
        static_member("consumer1", "instance1", &["topic1", "topic2"]),
        static_member("consumer2", "instance2", &["topic1", "topic2"]),
        static_member("consumer3", "instance3", &["topic1", "topic2"]),
        member("consumer4", &["topic1", "topic2"]),
    ];
    let a = run(&Assignor::RoundRobin, &members, &ppt);
    assert_eq!(of(&a, "consumer1"), &tps(&[("topic1", 0), ("topic2", 1)]));
    assert_eq!(of(&a, "consumer2"), &tps(&[("topic1", 1), ("topic2", 2)]));
    assert_eq!(of(&a, "consumer3"), &tps(&[("topic1", 2)]));
    assert_eq!(of(&a, "consumer4"), &tps(&[("topic2", 0)]));
    members[3] = member("consumer5", &["topic1", "topic2"]);
    let b = run(&Assignor::RoundRobin, &members, &ppt);
    assert_eq!(of(&b, "consumer5"), &tps(&[("topic2", 0)]));
    assert_eq!(of(&b, "consumer1"), of(&a, "consumer1"));
}

// ---- sticky ----

/// Members' subscriptions for the next generation of an eager sticky group:
/// each reports its last assignment in user_data.
fn next_generation(
    ids: &[&str],
    topics_: &[&str],
    previous: &GroupAssignment,
    generation: i32,
) -> Vec<MemberSubscription> {
    ids.iter()
        .map(|id| {
            let mut m = member(id, topics_);
            if let Some(owned) = previous.get(*id) {
                m.user_data = Assignor::Sticky.user_data(owned, generation);
            }
            m
        })
        .collect()
}

#[test]
fn sticky_balances_a_fresh_group() {
    let ppt = topics(&[("a", 5), ("b", 4)]);
    let members = [
        member("m1", &["a", "b"]),
        member("m2", &["a", "b"]),
        member("m3", &["a", "b"]),
    ];
    let a = run(&Assignor::Sticky, &members, &ppt);
    assert_eq!(spread(&a), 0);
}

#[test]
fn sticky_moves_only_what_a_new_member_needs() {
    let ppt = topics(&[("t", 12)]);
    let first = run(
        &Assignor::Sticky,
        &next_generation(&["m1", "m2", "m3"], &["t"], &BTreeMap::new(), -1),
        &ppt,
    );
    let second = run(
        &Assignor::Sticky,
        &next_generation(&["m1", "m2", "m3", "m4"], &["t"], &first, 1),
        &ppt,
    );
    assert_eq!(spread(&second), 0);
    for id in ["m1", "m2", "m3"] {
        assert!(
            of(&second, id).is_subset(of(&first, id)),
            "{id} gained or swapped"
        );
    }
    assert_eq!(of(&second, "m4").len(), 3);
}

#[test]
fn sticky_hands_a_leaving_members_partitions_to_the_others_only() {
    let ppt = topics(&[("t", 9), ("u", 3)]);
    let first = run(
        &Assignor::Sticky,
        &next_generation(&["m1", "m2", "m3"], &["t", "u"], &BTreeMap::new(), -1),
        &ppt,
    );
    let second = run(
        &Assignor::Sticky,
        &next_generation(&["m1", "m3"], &["t", "u"], &first, 1),
        &ppt,
    );
    assert_eq!(spread(&second), 0);
    for id in ["m1", "m3"] {
        assert!(
            of(&first, id).is_subset(of(&second, id)),
            "{id} lost a partition"
        );
    }
}

#[test]
fn sticky_ignores_claims_from_an_older_generation() {
    let ppt = topics(&[("t", 4)]);
    let mut stale = member("m1", &["t"]);
    stale.user_data =
        Assignor::Sticky.user_data(&tps(&[("t", 0), ("t", 1), ("t", 2), ("t", 3)]), 3);
    let mut current = member("m2", &["t"]);
    current.user_data = Assignor::Sticky.user_data(&tps(&[("t", 2), ("t", 3)]), 5);
    let a = run(&Assignor::Sticky, &[stale, current], &ppt);
    assert_eq!(of(&a, "m2"), &tps(&[("t", 2), ("t", 3)]));
}

#[test]
fn sticky_reassigns_a_partition_claimed_twice_in_one_generation() {
    let ppt = topics(&[("t", 2)]);
    let mut m1 = member("m1", &["t"]);
    m1.user_data = Assignor::Sticky.user_data(&tps(&[("t", 0), ("t", 1)]), 2);
    let mut m2 = member("m2", &["t"]);
    m2.user_data = Assignor::Sticky.user_data(&tps(&[("t", 1)]), 2);
    let a = run(&Assignor::Sticky, &[m1, m2], &ppt);
    assert_eq!(of(&a, "m1"), &tps(&[("t", 0)]));
    assert_eq!(of(&a, "m2"), &tps(&[("t", 1)]));
}

#[test]
fn sticky_user_data_round_trips_and_reads_version_0() {
    let owned = tps(&[("a", 1), ("a", 4), ("b", 0)]);
    let bytes = sticky::encode_user_data(&owned, 7);
    let data = sticky::decode_user_data(&bytes).expect("decodes");
    assert_eq!(data.owned.into_iter().collect::<BTreeSet<_>>(), owned);
    assert_eq!(data.generation, Some(7));
    let v0 = &bytes[..bytes.len() - 4];
    assert_eq!(
        sticky::decode_user_data(v0).expect("v0 decodes").generation,
        None
    );
    assert!(sticky::decode_user_data(&[0xff, 0xff, 0xff]).is_none());
}

#[test]
fn sticky_falls_back_to_owned_partitions_without_user_data() {
    let ppt = topics(&[("t", 4)]);
    let mut m1 = member("m1", &["t"]);
    m1.owned_partitions = vec![TopicPartition::new("t", 3), TopicPartition::new("t", 2)];
    let a = run(&Assignor::Sticky, &[m1, member("m0", &["t"])], &ppt);
    assert_eq!(of(&a, "m1"), &tps(&[("t", 2), ("t", 3)]));
}

#[test]
fn sticky_places_partitions_by_subscription_when_subscriptions_differ() {
    let ppt = topics(&[("a", 3), ("b", 3)]);
    let members = [
        member("m1", &["a"]),
        member("m2", &["a", "b"]),
        member("m3", &["b"]),
    ];
    let a = run(&Assignor::Sticky, &members, &ppt);
    assert_eq!(spread(&a), 0);
}

// ---- cooperative-sticky ----

/// Subscriptions of a cooperative group where every member reports what it
/// owns now, at `generation`.
fn cooperative_round(
    ids: &[&str],
    topics_: &[&str],
    owned: &GroupAssignment,
    generation: i32,
) -> Vec<MemberSubscription> {
    ids.iter()
        .map(|id| {
            let mut m = member(id, topics_);
            if let Some(parts) = owned.get(*id) {
                m.owned_partitions = parts.iter().cloned().collect();
                m.generation_id = Some(generation);
            }
            m
        })
        .collect()
}

/// Runs cooperative rebalances until the assignment stops changing, checking
/// that no partition goes to a new owner while another member still owns it.
fn settle(
    ids: &[&str],
    topics_: &[&str],
    mut owned: GroupAssignment,
    ppt: &BTreeMap<String, i32>,
) -> (GroupAssignment, i32) {
    for round in 1..10 {
        let members = cooperative_round(ids, topics_, &owned, round);
        let assignment = Assignor::CooperativeSticky
            .assign(&members, ppt)
            .expect("does not fail");
        for (id, parts) in &assignment {
            for tp in parts {
                for (other, had) in &owned {
                    assert!(
                        other == id || !had.contains(tp),
                        "{tp} given to {id} while {other} still owns it"
                    );
                }
            }
        }
        let revoked = owned
            .iter()
            .any(|(id, had)| assignment.get(id).is_none_or(|now| !had.is_subset(now)));
        let changed = owned != assignment;
        owned = assignment;
        if !revoked && !changed {
            return (owned, round);
        }
    }
    panic!("cooperative rebalancing did not settle: {owned:?}");
}

#[test]
fn cooperative_assigns_everything_at_once_to_a_fresh_group() {
    let ppt = topics(&[("t", 6)]);
    let members = cooperative_round(&["m1", "m2"], &["t"], &BTreeMap::new(), -1);
    let a = run(&Assignor::CooperativeSticky, &members, &ppt);
    assert_eq!(spread(&a), 0);
}

#[test]
fn cooperative_revokes_first_and_assigns_in_the_follow_up_rebalance() {
    let ppt = topics(&[("t", 6)]);
    let owned = run(
        &Assignor::CooperativeSticky,
        &cooperative_round(&["m1", "m2"], &["t"], &BTreeMap::new(), -1),
        &ppt,
    );
    let members = cooperative_round(&["m1", "m2", "m3"], &["t"], &owned, 1);
    let first = Assignor::CooperativeSticky.assign(&members, &ppt).unwrap();
    assert!(
        of(&first, "m3").is_empty(),
        "m3 must wait for the revocation"
    );
    assert_eq!(of(&first, "m1").len() + of(&first, "m2").len(), 4);
    let (settled, _) = settle(&["m1", "m2", "m3"], &["t"], first, &ppt);
    assert_valid(
        &cooperative_round(&["m1", "m2", "m3"], &["t"], &settled, 9),
        &ppt,
        &settled,
    );
    assert_eq!(spread(&settled), 0);
}

#[test]
fn cooperative_user_data_carries_the_generation_for_old_members() {
    assert_eq!(cooperative::encode_user_data(4), vec![0, 0, 0, 4]);
    let ppt = topics(&[("t", 2)]);
    let mut old = member("m1", &["t"]);
    old.owned_partitions = vec![TopicPartition::new("t", 0), TopicPartition::new("t", 1)];
    old.user_data = Assignor::CooperativeSticky.user_data(&BTreeSet::new(), 4);
    let a = run(&Assignor::CooperativeSticky, &[old], &ppt);
    assert_eq!(of(&a, "m1").len(), 2);
}

// ---- all assignors ----

#[test]
fn names_and_protocols_match_the_java_client() {
    let all = [
        Assignor::Range,
        Assignor::RoundRobin,
        Assignor::Sticky,
        Assignor::CooperativeSticky,
    ];
    let names: Vec<&str> = all.iter().map(|a| a.name()).collect();
    assert_eq!(
        names,
        ["range", "roundrobin", "sticky", "cooperative-sticky"]
    );
    for a in &all {
        assert_eq!(
            Assignor::from_name(a.name()).map(|b| b.name().to_owned()),
            Some(a.name().to_owned())
        );
    }
    assert_eq!(
        Assignor::CooperativeSticky.protocol(),
        RebalanceProtocol::Cooperative
    );
    assert_eq!(Assignor::Sticky.protocol(), RebalanceProtocol::Eager);
}

#[test]
fn a_custom_assignor_is_called_through_the_enum() {
    #[derive(Debug)]
    struct AllToFirst;
    impl PartitionAssignor for AllToFirst {
        fn name(&self) -> &str {
            "all-to-first"
        }
        fn assign(
            &self,
            members: &[MemberSubscription],
            ppt: &BTreeMap<String, i32>,
        ) -> Result<GroupAssignment> {
            let mut a = empty_assignment(members);
            if let Some(first) = members.first() {
                let parts = ppt
                    .iter()
                    .flat_map(|(t, &n)| (0..n).map(move |p| TopicPartition::new(t.clone(), p)));
                a.insert(first.member_id.clone(), parts.collect());
            }
            Ok(a)
        }
    }
    let custom = Assignor::Custom(Arc::new(AllToFirst));
    assert_eq!(custom.name(), "all-to-first");
    assert_eq!(custom.protocol(), RebalanceProtocol::Eager);
    let a = run(
        &custom,
        &[member("x", &["t"]), member("y", &["t"])],
        &topics(&[("t", 2)]),
    );
    assert_eq!(of(&a, "x").len(), 2);
}

#[test]
fn group_by_topic_and_flatten_are_inverse() {
    let parts = tps(&[("b", 2), ("a", 1), ("b", 0)]);
    let grouped = group_by_topic(&parts);
    assert_eq!(grouped[0].topic, "a");
    assert_eq!(grouped[1].partitions, vec![0, 2]);
    assert_eq!(flatten(&grouped), parts);
}

fn arbitrary_group() -> impl Strategy<Value = (Vec<MemberSubscription>, BTreeMap<String, i32>)> {
    let topic_names = ["t0", "t1", "t2", "t3"];
    (
        proptest::collection::vec(0i32..9, 4),
        proptest::collection::vec(
            (
                proptest::bits::u8::between(0, 4),
                proptest::option::of(0u8..3),
            ),
            1..7,
        ),
    )
        .prop_map(move |(counts, members)| {
            let ppt: BTreeMap<String, i32> = topic_names
                .iter()
                .zip(counts)
                .filter(|(_, n)| *n > 0)
                .map(|(t, n)| ((*t).to_owned(), n))
                .collect();
            let members = members
                .into_iter()
                .enumerate()
                .map(|(i, (mask, instance))| {
                    let subscribed: Vec<&str> = topic_names
                        .iter()
                        .enumerate()
                        .filter(|(bit, _)| mask & (1 << bit) != 0 || *bit == i % 4)
                        .map(|(_, t)| *t)
                        .collect();
                    let mut m = member(&format!("member-{i:02}"), &subscribed);
                    m.group_instance_id = instance.map(|k| format!("instance-{i}-{k}"));
                    m
                })
                .collect();
            (members, ppt)
        })
}

proptest! {
    #[test]
    fn every_assignor_assigns_each_subscribed_partition_once((members, ppt) in arbitrary_group()) {
        for a in [Assignor::Range, Assignor::RoundRobin, Assignor::Sticky, Assignor::CooperativeSticky] {
            run(&a, &members, &ppt);
        }
    }

    #[test]
    fn assignments_do_not_depend_on_member_order((members, ppt) in arbitrary_group()) {
        let mut reversed = members.clone();
        reversed.reverse();
        for a in [Assignor::Range, Assignor::RoundRobin, Assignor::Sticky, Assignor::CooperativeSticky] {
            prop_assert_eq!(run(&a, &members, &ppt), run(&a, &reversed, &ppt));
        }
    }

    #[test]
    fn roundrobin_and_sticky_balance_identical_subscriptions(n in 1usize..8, partitions in 0i32..40) {
        let ppt = topics(&[("a", partitions), ("b", partitions / 3)]);
        let members: Vec<_> = (0..n).map(|i| member(&format!("m{i}"), &["a", "b"])).collect();
        prop_assert!(spread(&run(&Assignor::RoundRobin, &members, &ppt)) <= 1);
        prop_assert!(spread(&run(&Assignor::Sticky, &members, &ppt)) <= 1);
    }

    #[test]
    fn sticky_members_either_gain_or_lose_across_generations(
        before in 1usize..7, after in 1usize..7, partitions in 1i32..30
    ) {
        let ppt = topics(&[("t", partitions)]);
        let ids: Vec<String> = (0..before.max(after)).map(|i| format!("m{i}")).collect();
        let first_ids: Vec<&str> = ids[..before].iter().map(String::as_str).collect();
        let second_ids: Vec<&str> = ids[ids.len() - after..].iter().map(String::as_str).collect();
        let first = run(&Assignor::Sticky, &next_generation(&first_ids, &["t"], &BTreeMap::new(), -1), &ppt);
        let second = run(&Assignor::Sticky, &next_generation(&second_ids, &["t"], &first, 1), &ppt);
        prop_assert!(spread(&second) <= 1);
        for id in &second_ids {
            if let Some(old) = first.get(*id) {
                let new = of(&second, id);
                prop_assert!(old.is_subset(new) || new.is_subset(old), "{} swapped partitions", id);
            }
        }
    }

    #[test]
    fn cooperative_rebalances_settle_balanced_without_double_ownership(
        before in 1usize..6, after in 1usize..6, partitions in 1i32..24
    ) {
        let ppt = topics(&[("t", partitions)]);
        let ids: Vec<String> = (0..before + after).map(|i| format!("m{i}")).collect();
        let first_ids: Vec<&str> = ids[..before].iter().map(String::as_str).collect();
        let second_ids: Vec<&str> = ids[before.saturating_sub(1)..before + after - 1].iter().map(String::as_str).collect();
        let (owned, _) = settle(&first_ids, &["t"], BTreeMap::new(), &ppt);
        let survivors: GroupAssignment = owned.into_iter().filter(|(id, _)| second_ids.contains(&id.as_str())).collect();
        let (settled, rounds) = settle(&second_ids, &["t"], survivors, &ppt);
        prop_assert!(rounds <= 3, "took {} rounds", rounds);
        prop_assert!(spread(&settled) <= 1);
    }
}
