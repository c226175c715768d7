//! Consumer group membership against a live broker: joins, rebalances as
//! members come and go, session expiry, static membership, the poll timer,
//! pattern subscriptions, and a group shared with a librdkafka member.

#![cfg(feature = "testkit")]

mod support;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::Child;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use kafka_sync::consumer::assignor::{Assignor, PartitionAssignor, TopicPartition};
use kafka_sync::consumer::membership::{
    GroupEvent, GroupMembership, MembershipConfig, Subscription,
};
use kafka_sync::testkit::{self, unique_name};
use kafka_sync::KafkaClient;
use support::peers::{self, Rebalance};
use support::{bootstrap, client, new_topic, partitions, LONG};

/// Short enough for tests; tansu holds a join for about half of it.
const SESSION_TIMEOUT: Duration = Duration::from_secs(6);
const HEARTBEAT: Duration = Duration::from_millis(500);

fn config(group: &str, topic: &str, assignor: Assignor) -> MembershipConfig {
    MembershipConfig::new(group, Subscription::topics([topic]))
        .assignor(assignor)
        .session_timeout(SESSION_TIMEOUT)
        .heartbeat_interval(HEARTBEAT)
        .rebalance_timeout(Duration::from_secs(20))
}

/// A member as a consumer would drive it: it polls, follows events and
/// acknowledges revocations at once.
struct Member {
    name: &'static str,
    membership: Option<GroupMembership>,
    owned: BTreeSet<TopicPartition>,
    events_seen: usize,
}

impl Member {
    fn start(name: &'static str, client: &KafkaClient, config: MembershipConfig) -> Member {
        Member {
            name,
            membership: Some(GroupMembership::start(client, config).expect("membership starts")),
            owned: BTreeSet::new(),
            events_seen: 0,
        }
    }

    fn m(&self) -> &GroupMembership {
        self.membership.as_ref().expect("member running")
    }

    /// Polls and applies every pending event.
    fn pump(&mut self) {
        let Some(m) = &self.membership else { return };
        m.poll();
        while let Ok(event) = m.events().try_recv() {
            self.events_seen += 1;
            match event {
                GroupEvent::Assigned {
                    assignment, added, ..
                } => {
                    assert!(added.is_subset(&assignment));
                    self.owned = assignment;
                }
                GroupEvent::Revoked { partitions, ack } => {
                    for tp in &partitions {
                        assert!(
                            self.owned.remove(tp),
                            "{}: revoked {tp} it did not own",
                            self.name
                        );
                    }
                    ack.ack();
                }
                GroupEvent::Lost { partitions } => {
                    for tp in &partitions {
                        self.owned.remove(tp);
                    }
                }
                GroupEvent::Error(e) => panic!("{}: {e}", self.name),
                other => panic!("{}: unexpected {other:?}", self.name),
            }
        }
    }

    fn close(&mut self) {
        if let Some(m) = self.membership.take() {
            m.close().expect("leaves within close_timeout");
        }
    }
}

/// Whether the members agree on one generation and split `all` exactly.
fn is_stable(members: &[&mut Member], all: &BTreeSet<TopicPartition>) -> bool {
    let generations: BTreeSet<i32> = members.iter().map(|m| m.m().generation()).collect();
    if generations.len() != 1 || generations.contains(&-1) {
        return false;
    }
    let mut union = BTreeSet::new();
    for m in members {
        if m.owned != m.m().assignment() {
            return false;
        }
        for tp in &m.owned {
            if !union.insert(tp.clone()) {
                return false;
            }
        }
    }
    &union == all
}

/// Revocations are acknowledged before the group moves on, so once every
/// member has handled its events no partition has two owners, even in the
/// middle of a rebalance.
fn assert_no_double_ownership(members: &[&mut Member]) {
    let mut seen = BTreeSet::new();
    for m in members {
        for tp in &m.owned {
            assert!(
                seen.insert(tp),
                "{tp} owned twice, by {} and another member",
                m.name
            );
        }
    }
}

/// Pumps every member until they are stable (and still are a heartbeat
/// later), then returns the generation.
fn wait_stable(members: &mut [&mut Member], all: &BTreeSet<TopicPartition>) -> i32 {
    let deadline = Instant::now() + LONG;
    let mut stable_since: Option<Instant> = None;
    loop {
        for m in members.iter_mut() {
            m.pump();
        }
        assert_no_double_ownership(members);
        if is_stable(members, all) {
            let since = *stable_since.get_or_insert_with(Instant::now);
            if since.elapsed() > HEARTBEAT * 3 {
                return members[0].m().generation();
            }
        } else {
            stable_since = None;
        }
        assert!(
            Instant::now() < deadline,
            "no stable assignment within {LONG:?}: {:?}",
            members
                .iter()
                .map(|m| (m.name, m.m().generation(), m.owned.clone()))
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_single_member_gets_every_partition() {
    let client = client();
    let topic = new_topic(&client, "group-topic", 4);
    let group = unique_name("group-single");
    let mut a = Member::start("a", &client, config(&group, &topic, Assignor::Range));
    wait_stable(&mut [&mut a], &partitions(&topic, 4));
    assert!(a.m().is_leader());
    assert!(!a.m().member_id().is_empty());
    assert_eq!(a.m().protocol_name().as_deref(), Some("range"));
    a.close();
}

fn members_join_and_leave_one_by_one(assignor: Assignor) {
    let client = client();
    let topic = new_topic(&client, "group-topic", 6);
    let all = partitions(&topic, 6);
    let group = unique_name("group-churn");
    let cfg = || config(&group, &topic, assignor.clone());
    let mut a = Member::start("a", &client, cfg());
    let g1 = wait_stable(&mut [&mut a], &all);
    let mut b = Member::start("b", &client, cfg());
    let g2 = wait_stable(&mut [&mut a, &mut b], &all);
    let mut c = Member::start("c", &client, cfg());
    let g3 = wait_stable(&mut [&mut a, &mut b, &mut c], &all);
    assert!(g1 < g2 && g2 < g3, "generations {g1} {g2} {g3}");
    for m in [&a, &b, &c] {
        assert_eq!(m.owned.len(), 2, "{} owns {:?}", m.name, m.owned);
    }
    c.close();
    wait_stable(&mut [&mut a, &mut b], &all);
    b.close();
    wait_stable(&mut [&mut a], &all);
    a.close();
}

#[test]
fn range_members_joining_and_leaving_always_split_partitions_exactly() {
    members_join_and_leave_one_by_one(Assignor::Range);
}

#[test]
fn roundrobin_members_joining_and_leaving_always_split_partitions_exactly() {
    members_join_and_leave_one_by_one(Assignor::RoundRobin);
}

#[test]
fn sticky_members_joining_and_leaving_always_split_partitions_exactly() {
    members_join_and_leave_one_by_one(Assignor::Sticky);
}

#[test]
fn cooperative_members_joining_and_leaving_always_split_partitions_exactly() {
    members_join_and_leave_one_by_one(Assignor::CooperativeSticky);
}

#[test]
fn a_rebalance_waits_for_the_revocation_to_be_acknowledged_while_heartbeating() {
    let client = client();
    let topic = new_topic(&client, "group-topic", 4);
    let all = partitions(&topic, 4);
    let group = unique_name("group-ack");
    // tansu completes a join after about half the session timeout whether
    // or not every member rejoined (Kafka waits for the rebalance timeout),
    // so against it the hold stays under that, with a longer session.
    let session = Duration::from_secs(12);
    let hold = if testkit::shared().unwrap().is_external() {
        session + Duration::from_secs(2)
    } else {
        Duration::from_secs(4)
    };
    let cfg = || config(&group, &topic, Assignor::Range).session_timeout(session);
    let mut a = Member::start("a", &client, cfg());
    let mut b = Member::start("b", &client, cfg());
    wait_stable(&mut [&mut a, &mut b], &all);
    let mut c = Member::start("c", &client, cfg());
    // `a` sits on its revocation (committing offsets, say) — on Kafka for
    // longer than the session timeout; the others carry on as usual.
    let deadline = Instant::now() + LONG;
    let (ack, revoked_at) = loop {
        assert!(Instant::now() < deadline, "a was never asked to revoke");
        let m = a.m();
        m.poll();
        match m.events().recv_timeout(Duration::from_millis(50)) {
            Ok(GroupEvent::Revoked { partitions, ack }) => {
                assert_eq!(partitions, a.owned);
                break (ack, Instant::now());
            }
            Ok(other) => panic!("a: unexpected {other:?}"),
            Err(_) => {}
        }
        b.pump();
        c.pump();
    };
    while revoked_at.elapsed() < hold {
        a.m().poll();
        b.pump();
        c.pump();
        assert!(
            c.owned.is_empty(),
            "c got {:?} before a released its partitions",
            c.owned
        );
        assert!(
            a.m().events().is_empty(),
            "a heard more before acknowledging"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    a.owned.clear();
    ack.ack();
    let lost_before = a.events_seen;
    wait_stable(&mut [&mut a, &mut b, &mut c], &all);
    assert!(a.events_seen > lost_before && !a.owned.is_empty());
    for m in [&mut a, &mut b, &mut c] {
        m.close();
    }
}

#[test]
fn a_member_that_vanishes_loses_its_partitions_after_the_session_timeout() {
    let client = client();
    let topic = new_topic(&client, "group-topic", 4);
    let all = partitions(&topic, 4);
    let group = unique_name("group-vanish");
    let mut a = Member::start("a", &client, config(&group, &topic, Assignor::Range));
    let mut b = Member::start("b", &client, config(&group, &topic, Assignor::Range));
    wait_stable(&mut [&mut a, &mut b], &all);
    let vanished_at = Instant::now();
    b.membership.take().expect("running").abandon();
    wait_stable(&mut [&mut a], &all);
    assert!(
        vanished_at.elapsed() >= SESSION_TIMEOUT / 2,
        "took over after {:?}, before the session could expire",
        vanished_at.elapsed()
    );
    a.close();
}

#[test]
fn a_closing_member_hands_over_its_partitions_before_its_session_would_expire() {
    let client = client();
    let topic = new_topic(&client, "group-topic", 4);
    let all = partitions(&topic, 4);
    let group = unique_name("group-leave");
    let mut a = Member::start("a", &client, config(&group, &topic, Assignor::Range));
    let mut b = Member::start("b", &client, config(&group, &topic, Assignor::Range));
    wait_stable(&mut [&mut a, &mut b], &all);
    let closed_at = Instant::now();
    b.close();
    wait_stable(&mut [&mut a], &all);
    assert!(
        closed_at.elapsed() < SESSION_TIMEOUT,
        "took {:?}: LeaveGroup did not trigger the rebalance",
        closed_at.elapsed()
    );
    a.close();
}

#[test]
fn a_static_member_rejoins_without_a_rebalance() {
    let client = client();
    let topic = new_topic(&client, "group-topic", 4);
    let all = partitions(&topic, 4);
    let group = unique_name("group-static");
    let cfg = |instance: &str| config(&group, &topic, Assignor::Range).group_instance_id(instance);
    let mut a = Member::start("a", &client, cfg("instance-a"));
    let mut b = Member::start("b", &client, cfg("instance-b"));
    let generation = wait_stable(&mut [&mut a, &mut b], &all);
    let b_owned = b.owned.clone();
    let a_events = a.events_seen;
    // A restart: no LeaveGroup, then the same instance id again.
    b.membership.take().expect("running").abandon();
    let mut b2 = Member::start("b2", &client, cfg("instance-b"));
    if !testkit::shared().unwrap().is_external() {
        // tansu 0.6 rebalances the group when a static member rejoins (under
        // the same generation id) and then may answer the new member's
        // heartbeats with UNKNOWN_MEMBER_ID over and over, so the group does
        // not settle; a Kafka broker does neither (KIP-345). Against tansu,
        // check only that the instance gets its partitions back; run with
        // KAFKA_BOOTSTRAP=… for the rest.
        eprintln!(
            "NOTE: static rejoin checked partially: tansu does not implement KIP-345 rejoins"
        );
        let deadline = Instant::now() + LONG;
        while b2.owned != b_owned {
            assert!(Instant::now() < deadline, "b2 never got {b_owned:?}");
            a.pump();
            b2.pump();
            std::thread::sleep(Duration::from_millis(20));
        }
        a.close();
        b2.close();
        return;
    }
    let again = wait_stable(&mut [&mut a, &mut b2], &all);
    assert_eq!(b2.owned, b_owned, "the static member got other partitions");
    assert_eq!(again, generation, "the group rebalanced");
    assert_eq!(a.events_seen, a_events, "the other member saw a rebalance");
    a.close();
    b2.close();
}

#[test]
fn a_member_that_stops_polling_leaves_and_rejoins_when_it_polls_again() {
    let client = client();
    let topic = new_topic(&client, "group-topic", 4);
    let all = partitions(&topic, 4);
    let group = unique_name("group-poll");
    let cfg = || config(&group, &topic, Assignor::Range).max_poll_interval(Duration::from_secs(3));
    let mut a = Member::start("a", &client, cfg());
    let mut b = Member::start("b", &client, cfg());
    wait_stable(&mut [&mut a, &mut b], &all);
    // Only `a` polls now.
    let deadline = Instant::now() + LONG;
    while a.owned != all || a.m().generation() < 0 {
        assert!(
            Instant::now() < deadline,
            "b never left: a owns {:?}",
            a.owned
        );
        a.pump();
        std::thread::sleep(Duration::from_millis(50));
    }
    // b hears it lost its partitions when it looks again, then rejoins.
    wait_stable(&mut [&mut a, &mut b], &all);
    assert!(!b.owned.is_empty());
    a.close();
    b.close();
}

#[test]
fn a_pattern_subscription_picks_up_a_new_matching_topic() {
    let client = client();
    let prefix = unique_name("pattern");
    let first = format!("{prefix}-one");
    client.create_topic(&first, 2, 1).unwrap();
    let group = unique_name("group-pattern");
    let subscription = Subscription::pattern(&format!("^{prefix}-.*$")).unwrap();
    let cfg = MembershipConfig::new(&group, subscription)
        .session_timeout(SESSION_TIMEOUT)
        .heartbeat_interval(HEARTBEAT)
        .rebalance_timeout(Duration::from_secs(20))
        .metadata_refresh_interval(Duration::from_millis(500));
    let mut a = Member::start("a", &client, cfg);
    wait_stable(&mut [&mut a], &partitions(&first, 2));
    let second = format!("{prefix}-two");
    client.create_topic(&second, 3, 1).unwrap();
    let mut all = partitions(&first, 2);
    all.extend(partitions(&second, 3));
    wait_stable(&mut [&mut a], &all);
    a.close();
}

#[test]
fn the_leader_rebalances_when_a_topic_gains_partitions() {
    // There is no CreatePartitions API in this crate yet; a deleted and
    // re-created topic with more partitions changes the count just as well.
    let client = client();
    let topic = new_topic(&client, "group-topic", 2);
    let group = unique_name("group-grow");
    let cfg = config(&group, &topic, Assignor::Range)
        .metadata_refresh_interval(Duration::from_millis(500));
    let mut a = Member::start("a", &client, cfg);
    wait_stable(&mut [&mut a], &partitions(&topic, 2));
    client.delete_topic(&topic).unwrap();
    client.create_topic(&topic, 5, 1).unwrap();
    wait_stable(&mut [&mut a], &partitions(&topic, 5));
    a.close();
}

#[test]
fn closing_a_member_is_bounded_in_time() {
    let client = client();
    let topic = new_topic(&client, "group-topic", 1);
    let group = unique_name("group-close");
    let membership = GroupMembership::start(
        &client,
        config(&group, &topic, Assignor::Range).close_timeout(Duration::from_secs(2)),
    )
    .unwrap();
    // Mid-join or joined: either way close returns within its bound.
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let _ = membership.close();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

// ---- groups shared with other clients' members ----

/// A consumer of another client in a Python process, printing its
/// rebalance callbacks as JSON lines.
#[derive(Clone, Copy, Debug)]
enum Peer {
    /// `confluent-kafka` (librdkafka).
    Librdkafka,
    /// `kafka-python`.
    KafkaPython,
}

impl Peer {
    fn script(self) -> &'static str {
        match self {
            Peer::Librdkafka => "group_member_rdkafka.py",
            Peer::KafkaPython => "group_member_kafka_python.py",
        }
    }
}

/// The peer process (its script in tests/peers/), in the group for 45 s.
fn spawn_peer(peer: Peer, bootstrap: &str, group: &str, topic: &str, strategy: &str) -> Child {
    peers::spawn(peer.script(), &[bootstrap, group, topic, strategy, "45"])
}

/// The peer's assignment after each callback: `assign` adds partitions,
/// `revoke` removes them (whole sets when eager, increments when
/// cooperative).
fn peer_assignments(child: &mut Child) -> Receiver<BTreeSet<i32>> {
    let (tx, rx) = crossbeam_channel::unbounded();
    let stdout = child.stdout.take().expect("piped stdout");
    std::thread::spawn(move || {
        let mut owned = BTreeSet::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let Some(rebalance) = Rebalance::parse(&line) else {
                continue;
            };
            rebalance.apply(&mut owned);
            if tx.send(owned.clone()).is_err() {
                break;
            }
        }
    });
    rx
}

/// Runs a group of one kafka-sync member and one member of another client;
/// whichever starts first leads the group and computes the assignment the
/// other must decode.
fn shared_with(peer: Peer, assignor: Assignor, ours_leads: bool) {
    let client = client();
    let bootstrap = bootstrap();
    let topic = new_topic(&client, "group-topic", 4);
    let all = partitions(&topic, 4);
    let group = unique_name("group-mixed");
    let strategy = assignor.name().to_owned();
    let mut ours = None;
    if ours_leads {
        let mut member = Member::start("ours", &client, config(&group, &topic, assignor.clone()));
        wait_stable(&mut [&mut member], &all);
        ours = Some(member);
    }
    let mut peer = spawn_peer(peer, &bootstrap, &group, &topic, &strategy);
    let peer_rx = peer_assignments(&mut peer);
    let mut theirs: BTreeSet<i32> = BTreeSet::new();
    let deadline = Instant::now() + LONG;
    if !ours_leads {
        while theirs.len() != 4 {
            assert!(
                Instant::now() < deadline,
                "the peer never got the topic: {theirs:?}"
            );
            if let Ok(now) = peer_rx.recv_timeout(Duration::from_millis(100)) {
                theirs = now;
            }
        }
        ours = Some(Member::start(
            "ours",
            &client,
            config(&group, &topic, assignor),
        ));
    }
    let mut ours = ours.expect("started");
    let mut stable_since: Option<Instant> = None;
    loop {
        ours.pump();
        while let Ok(now) = peer_rx.try_recv() {
            theirs = now;
        }
        let mine: BTreeSet<i32> = ours.owned.iter().map(|tp| tp.partition).collect();
        let split = !mine.is_empty()
            && !theirs.is_empty()
            && mine.is_disjoint(&theirs)
            && mine.union(&theirs).count() == 4;
        if split {
            if stable_since.get_or_insert_with(Instant::now).elapsed() > Duration::from_secs(2) {
                assert_eq!(mine.len(), 2, "ours {mine:?} theirs {theirs:?}");
                break;
            }
        } else {
            stable_since = None;
        }
        assert!(
            Instant::now() < deadline,
            "no split: ours {mine:?}, theirs {theirs:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(ours.m().is_leader(), ours_leads, "an unexpected leader");
    ours.close();
    let _ = peer.kill();
    let _ = peer.wait();
}

#[test]
fn a_librdkafka_member_decodes_our_range_assignment() {
    shared_with(Peer::Librdkafka, Assignor::Range, true);
}

#[test]
fn we_decode_a_librdkafka_leaders_range_assignment() {
    shared_with(Peer::Librdkafka, Assignor::Range, false);
}

#[test]
fn a_librdkafka_member_decodes_our_roundrobin_assignment() {
    shared_with(Peer::Librdkafka, Assignor::RoundRobin, true);
}

#[test]
fn we_decode_a_librdkafka_leaders_roundrobin_assignment() {
    shared_with(Peer::Librdkafka, Assignor::RoundRobin, false);
}

#[test]
fn a_librdkafka_member_follows_our_cooperative_sticky_assignment() {
    shared_with(Peer::Librdkafka, Assignor::CooperativeSticky, true);
}

#[test]
fn we_follow_a_librdkafka_leaders_cooperative_sticky_assignment() {
    shared_with(Peer::Librdkafka, Assignor::CooperativeSticky, false);
}

#[test]
fn a_kafka_python_member_decodes_our_range_assignment() {
    shared_with(Peer::KafkaPython, Assignor::Range, true);
}

#[test]
fn we_decode_a_kafka_python_leaders_roundrobin_assignment() {
    shared_with(Peer::KafkaPython, Assignor::RoundRobin, false);
}
