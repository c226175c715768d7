//! The KIP-848 consumer group protocol (`GroupProtocol::Consumer`) on
//! librdkafka's mock cluster, which serves ConsumerGroupHeartbeat v1 with a
//! broker-side range assignor and withholds a partition from its new owner
//! until the old one's heartbeat says it released it; and against tansu,
//! which has no ConsumerGroupHeartbeat. Faults: group_protocol_consumer_faults.rs;
//! mixed groups with confluent-kafka: group_protocol_consumer_interop.rs.
#![cfg(feature = "testkit")]

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use kafka_sync::testkit::unique_name;
use kafka_sync::{Error, KafkaClient, TopicPartition};
use support::group_protocol::*;
use support::LONG;

#[test]
fn one_member_joins_reads_every_partition_commits_with_its_epoch_and_leaves() {
    let cluster = cluster();
    let topic = unique_name("kip848-one");
    cluster.create_topic(&topic, 4, 3).unwrap();
    let client = client(&cluster);
    let values = produce(&client, &topic, 40);
    let group = unique_name("kip848-one");
    let consumer = client
        .topic(&topic)
        .unwrap()
        .get_balanced_consumer(&group, config().enable_auto_commit(false))
        .unwrap();
    assert_eq!(
        consumer.member_id().len(),
        22,
        "a client-generated member id"
    );
    assert_eq!(read_values(&consumer, 40), values);
    assert_eq!(consumer.assignment(), all(&topic, 4));
    assert!(consumer.generation() > 0, "a member epoch");
    consumer
        .commit_offsets()
        .expect("a commit with the member epoch");
    let committed = consumer.committed_offsets().unwrap();
    let positions = consumer.positions();
    assert_eq!(committed.len(), 4);
    for (tp, offset) in &positions {
        assert_eq!(committed[tp], Some(*offset), "{tp}");
    }
    consumer.close().unwrap();

    // It left: the next member gets every partition at once (not after the
    // 6 s session timeout) and resumes from the commits: nothing to read.
    let started = Instant::now();
    let next = client
        .topic(&topic)
        .unwrap()
        .get_balanced_consumer(&group, config())
        .unwrap();
    wait_for("the next member's assignment", || {
        next.assignment() == all(&topic, 4)
    });
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the first member did not leave on close"
    );
    assert!(next.consume(Duration::from_secs(1)).unwrap().is_none());
    next.close().unwrap();
}

#[test]
fn tansu_without_consumer_group_heartbeat_is_an_unsupported_version_error_naming_classic() {
    let broker = kafka_sync::testkit::shared().expect("test broker starts");
    let client = KafkaClient::new(&broker.bootstrap()).unwrap();
    let topic = unique_name("kip848-tansu");
    client.create_topic(&topic, 1, 1).unwrap();
    let consumer = client
        .topic(&topic)
        .unwrap()
        .get_balanced_consumer(&unique_name("kip848-tansu"), config())
        .unwrap();
    let error = consumer
        .consume(LONG)
        .expect_err("the consumer fails instead of waiting");
    match &error {
        Error::UnsupportedVersion { api, .. } => assert_eq!(*api, "ConsumerGroupHeartbeat"),
        other => panic!("expected UnsupportedVersion, got {other:?}"),
    }
    assert!(
        error.to_string().contains("GroupProtocol::Classic"),
        "{error}"
    );
    assert!(!consumer.is_member());
}

// ---- several members: 1 → 3 → 1 ----

#[test]
fn one_then_three_then_one_members_never_share_a_partition_and_lose_nothing() {
    let cluster = cluster();
    let topic = unique_name("kip848-scale");
    cluster.create_topic(&topic, 6, 3).unwrap();
    let client = client(&cluster);
    let partitions = all(&topic, 6);
    let group = Group::new(&client, &topic, config());
    let (stop_producing, producing) = crossbeam_channel::bounded::<()>(0);
    let (stop_checking, checking) = crossbeam_channel::bounded::<()>(0);
    let produced = std::thread::scope(|s| {
        let producer = s.spawn(|| produce_until(&client, &topic, &producing));
        s.spawn(|| {
            while checking.try_recv() == Err(crossbeam_channel::TryRecvError::Empty) {
                group.check_owners();
            }
        });
        group.join(s, 0);
        group.wait_split(&partitions, &[6]);
        group.join(s, 1);
        group.join(s, 2);
        group.wait_split(&partitions, &[2, 2, 2]);
        group.leave(1);
        group.wait_split(&partitions, &[3, 3]);
        group.leave(2);
        group.wait_split(&partitions, &[6]);
        drop(stop_producing);
        let produced = producer.join().unwrap();
        // Member 0 reads what is left.
        let deadline = Instant::now() + LONG;
        while group.seen.lock().len() < produced.len() {
            assert!(
                Instant::now() < deadline,
                "read {} of {} records",
                group.seen.lock().len(),
                produced.len()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        drop(stop_checking);
        group.leave(0);
        produced
    });
    let seen = group.seen.lock();
    let read: BTreeSet<String> = seen.keys().cloned().collect();
    assert_eq!(read, produced, "records were lost");
    let readers: BTreeSet<usize> = seen.values().flatten().copied().collect();
    assert_eq!(readers.len(), 3, "every member read records");
    let duplicates = seen.values().filter(|who| who.len() > 1).count();
    assert_eq!(duplicates, 0, "a record was handed out twice");
    assert!(group.samples.load(std::sync::atomic::Ordering::Relaxed) > 100);
}

#[test]
fn a_static_member_keeps_its_partitions_through_a_restart() {
    let cluster = cluster();
    let topic = unique_name("kip848-static");
    cluster.create_topic(&topic, 4, 3).unwrap();
    let client = client(&cluster);
    let group = unique_name("kip848-static");
    let start = |instance: &str| {
        client
            .topic(&topic)
            .unwrap()
            .get_balanced_consumer(&group, config().group_instance_id(instance))
            .unwrap()
    };
    let a = start("a");
    let b = start("b");
    wait_for("a split", || {
        a.assignment().len() == 2 && b.assignment().len() == 2
    });
    let owned_by_a = a.assignment();
    let first_id = a.member_id();
    a.close().unwrap(); // member epoch -2: the coordinator keeps a's place
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        b.assignment().len(),
        2,
        "b took the static member's partitions"
    );
    let a = start("a");
    assert_ne!(a.member_id(), first_id, "a new process, a new member id");
    wait_for("a's partitions back", || a.assignment() == owned_by_a);
    assert_eq!(b.assignment().len(), 2);
    a.close().unwrap();
    b.close().unwrap();
}

#[test]
fn a_pattern_subscription_is_matched_by_the_broker_and_follows_new_topics() {
    use kafka_sync::Subscription;
    let cluster = cluster();
    let prefix = unique_name("kip848-re");
    cluster.create_topic(&format!("{prefix}-a"), 2, 3).unwrap();
    cluster.create_topic(&format!("{prefix}-b"), 2, 3).unwrap();
    cluster.create_topic(&format!("x-{prefix}"), 2, 3).unwrap();
    let client = client(&cluster);
    let consumer = client
        .get_balanced_consumer(
            &unique_name("kip848-re"),
            Subscription::pattern(&format!("^{prefix}-")).unwrap(),
            // No client-side re-matching during the test.
            config().metadata_refresh_interval(Duration::from_secs(3600)),
        )
        .unwrap();
    let expect = |topics: &[&str]| -> BTreeSet<TopicPartition> {
        topics
            .iter()
            .flat_map(|t| all(&format!("{prefix}-{t}"), 2))
            .collect()
    };
    wait_for("the matching topics", || {
        consumer.assignment() == expect(&["a", "b"])
    });
    cluster.create_topic(&format!("{prefix}-c"), 2, 3).unwrap();
    wait_for("the new topic", || {
        consumer.assignment() == expect(&["a", "b", "c"])
    });
    let values = produce(&client, &format!("{prefix}-c"), 10);
    assert_eq!(read_values(&consumer, 10), values);
    consumer.close().unwrap();
}

#[test]
fn listeners_hear_each_increment_of_the_assignment() {
    type Calls = std::sync::Arc<parking_lot::Mutex<Vec<(&'static str, Vec<TopicPartition>)>>>;
    let cluster = cluster();
    let topic = unique_name("kip848-listeners");
    cluster.create_topic(&topic, 4, 3).unwrap();
    let client = client(&cluster);
    let group = unique_name("kip848-listeners");
    let calls: Calls = Default::default();
    let (assigned, revoked) = (calls.clone(), calls.clone());
    let a = client
        .topic(&topic)
        .unwrap()
        .get_balanced_consumer(
            &group,
            config()
                .on_assign(move |p| assigned.lock().push(("assign", p.to_vec())))
                .on_revoke(move |p| revoked.lock().push(("revoke", p.to_vec()))),
        )
        .unwrap();
    wait_for("a owns everything", || a.assignment().len() == 4);
    let b = client
        .topic(&topic)
        .unwrap()
        .get_balanced_consumer(&group, config())
        .unwrap();
    wait_for("a split", || {
        a.assignment().len() == 2 && b.assignment().len() == 2
    });
    let kept = a.assignment();
    b.close().unwrap();
    wait_for("a owns everything again", || a.assignment().len() == 4);
    let calls = calls.lock().clone();
    let given_back: Vec<TopicPartition> = all(&topic, 4).difference(&kept).cloned().collect();
    assert_eq!(
        calls,
        [
            ("assign", all(&topic, 4).into_iter().collect()),
            ("revoke", given_back.clone()),
            ("assign", given_back),
        ],
        "on_assign gets the added partitions, on_revoke the revoked ones"
    );
    a.close().unwrap();
}
