//! The KIP-848 consumer group protocol through faults on librdkafka's mock
//! cluster: fenced members, a coordinator move, the coordinator's broker
//! down, a member that stops polling, fatal heartbeat errors.
#![cfg(feature = "testkit")]

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka_sync::testkit::{unique_name, CoordinatorKind, MockCluster};
use kafka_sync::{ApiKey, ErrorCode, ProducerConfig, TopicPartition};
use support::group_protocol::*;
use support::{DEADLINE, LONG};

#[test]
fn a_fenced_member_loses_its_partitions_and_rejoins_at_epoch_zero_under_the_same_id() {
    let cluster = cluster();
    let topic = unique_name("kip848-fenced");
    cluster.create_topic(&topic, 3, 3).unwrap();
    let client = client(&cluster);
    let mut values = produce(&client, &topic, 30);
    let lost: Arc<parking_lot::Mutex<Vec<Vec<TopicPartition>>>> = Default::default();
    let on_lost = Arc::clone(&lost);
    let consumer = client
        .topic(&topic)
        .unwrap()
        .get_balanced_consumer(
            &unique_name("kip848-fenced"),
            config().on_lost(move |partitions| on_lost.lock().push(partitions.to_vec())),
        )
        .unwrap();
    assert_eq!(read_values(&consumer, 30), values);
    let member_id = consumer.member_id();
    consumer.commit_offsets().unwrap();
    for (round, code) in [ErrorCode::FencedMemberEpoch, ErrorCode::UnknownMemberId]
        .into_iter()
        .enumerate()
    {
        cluster
            .request_errors(ApiKey::ConsumerGroupHeartbeat, &[code])
            .unwrap();
        wait_for("the partitions to be lost", || lost.lock().len() > round);
        assert_eq!(
            lost.lock()[round],
            all(&topic, 3).into_iter().collect::<Vec<_>>(),
            "{code:?}"
        );
        wait_for("the member to rejoin", || {
            consumer.assignment() == all(&topic, 3)
        });
        assert_eq!(consumer.member_id(), member_id, "KIP-1082: the id stays");
        assert!(consumer.generation() > 0);
        // It reads on from the committed offsets: new records arrive.
        let more: BTreeSet<String> = (0..10).map(|i| format!("r{round}-{i}")).collect();
        let producer = client
            .topic(&topic)
            .unwrap()
            .get_producer(ProducerConfig::default())
            .unwrap();
        for v in &more {
            producer.produce_keyed(v.clone(), v.clone()).unwrap();
        }
        producer.producer().flush(DEADLINE).unwrap();
        let mut got = BTreeSet::new();
        let deadline = Instant::now() + DEADLINE;
        while !more.is_subset(&got) {
            assert!(Instant::now() < deadline, "read {got:?} after rejoining");
            if let Some(m) = consumer.consume(Duration::from_millis(100)).unwrap() {
                got.insert(String::from_utf8_lossy(m.value_bytes()).into_owned());
            }
        }
        assert!(
            got.iter().all(|v| more.contains(v) || values.contains(v)),
            "{got:?}"
        );
        values.extend(more);
        consumer.commit_offsets().unwrap();
    }
    assert!(consumer.is_member());
    consumer.close().unwrap();
}

/// Two members of a 6-partition topic with the group's coordinator on
/// broker 1, read by their own threads; `fault` runs once they split the
/// partitions, then the test checks that they kept them (no loss, no
/// rejoin: the same member epochs) through a mock session timeout, and
/// read everything produced before and after.
fn two_members_through(fault: impl FnOnce(&MockCluster, &str)) {
    let cluster = cluster();
    let topic = unique_name("kip848-coord");
    cluster.create_topic(&topic, 6, 3).unwrap();
    let client = client(&cluster);
    let lost = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = Arc::clone(&lost);
    let group = Group::new(
        &client,
        &topic,
        config().on_lost(move |_| {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }),
    );
    cluster
        .set_coordinator(CoordinatorKind::Group, &group.group, 1)
        .unwrap();
    let partitions = all(&topic, 6);
    let (stop_checking, checking) = crossbeam_channel::bounded::<()>(0);
    std::thread::scope(|s| {
        s.spawn(|| {
            while checking.try_recv() == Err(crossbeam_channel::TryRecvError::Empty) {
                group.check_owners();
            }
        });
        let mut produced = produce(&client, &topic, 60);
        group.join(s, 0);
        group.join(s, 1);
        group.wait_split(&partitions, &[3, 3]);
        let before: Vec<(i32, BTreeSet<TopicPartition>)> = (0..2)
            .map(|i| (group.member(i).generation(), group.member(i).assignment()))
            .collect();
        fault(&cluster, &group.group);
        // Longer than the mock's 6 s session timeout: had the members not
        // found the coordinator, it would have fenced them.
        std::thread::sleep(Duration::from_secs(7));
        produced.extend(produce_labeled(&client, &topic, "after", 60));
        let deadline = Instant::now() + LONG;
        while group.seen.lock().len() < produced.len() {
            assert!(Instant::now() < deadline, "records were not read");
            std::thread::sleep(Duration::from_millis(50));
        }
        let read: BTreeSet<String> = group.seen.lock().keys().cloned().collect();
        assert_eq!(read, produced);
        let after: Vec<(i32, BTreeSet<TopicPartition>)> = (0..2)
            .map(|i| (group.member(i).generation(), group.member(i).assignment()))
            .collect();
        assert_eq!(after, before, "the members rejoined or moved partitions");
        assert_eq!(
            lost.load(std::sync::atomic::Ordering::SeqCst),
            0,
            "partitions lost"
        );
        drop(stop_checking);
        group.leave(0);
        group.leave(1);
    });
    assert!(group.samples.load(std::sync::atomic::Ordering::Relaxed) > 100);
}

#[test]
fn members_follow_a_coordinator_move_without_rejoining() {
    two_members_through(|cluster, group| {
        cluster
            .set_coordinator(CoordinatorKind::Group, group, 2)
            .unwrap();
    });
}

#[test]
fn members_keep_their_partitions_while_the_coordinators_broker_is_down() {
    two_members_through(|cluster, group| {
        cluster.broker_down(1).unwrap();
        std::thread::sleep(Duration::from_secs(1));
        cluster
            .set_coordinator(CoordinatorKind::Group, group, 3)
            .unwrap();
        std::thread::sleep(Duration::from_secs(2));
        cluster.broker_up(1).unwrap();
    });
}

#[test]
fn a_member_that_stops_polling_leaves_and_rejoins_when_it_polls_again() {
    let cluster = cluster();
    let topic = unique_name("kip848-poll");
    cluster.create_topic(&topic, 6, 3).unwrap();
    let client = client(&cluster);
    let group = Group::new(
        &client,
        &topic,
        config().max_poll_interval(Duration::from_secs(1)),
    );
    let partitions = all(&topic, 6);
    std::thread::scope(|s| {
        group.join(s, 0);
        group.join(s, 1);
        group.wait_split(&partitions, &[3, 3]);
        group.paused.lock().insert(1);
        wait_for("the idle member to leave", || {
            group.member(1).assignment().is_empty() && group.member(0).assignment() == partitions
        });
        assert_eq!(group.member(1).generation(), -1);
        group.paused.lock().remove(&1);
        group.wait_split(&partitions, &[3, 3]);
        group.leave(0);
        group.leave(1);
    });
}

#[test]
fn fatal_heartbeat_errors_stop_the_member_with_advice() {
    let cluster = cluster();
    let topic = unique_name("kip848-fatal");
    cluster.create_topic(&topic, 2, 3).unwrap();
    let client = client(&cluster);
    for (code, advice) in [
        (ErrorCode::UnreleasedInstanceId, "group_instance_id `i-1`"),
        (ErrorCode::GroupMaxSizeReached, "group.consumer.max.size"),
    ] {
        cluster
            .request_errors(ApiKey::ConsumerGroupHeartbeat, &[code])
            .unwrap();
        let consumer = client
            .topic(&topic)
            .unwrap()
            .get_balanced_consumer(
                &unique_name("kip848-fatal"),
                config().group_instance_id("i-1"),
            )
            .unwrap();
        let error = consumer.consume(DEADLINE).expect_err("a fatal error");
        assert_eq!(error.code(), Some(code), "{error}");
        assert!(error.to_string().contains(advice), "{error}");
        assert!(!consumer.is_member());
    }
}
