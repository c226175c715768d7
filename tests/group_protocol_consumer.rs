//! The KIP-848 consumer group protocol (`GroupProtocol::Consumer`) on
//! librdkafka's mock cluster, which serves ConsumerGroupHeartbeat v1 with a
//! broker-side range assignor and withholds a partition from its new owner
//! until the old one's heartbeat says it released it; and against tansu,
//! which has no ConsumerGroupHeartbeat.
#![cfg(feature = "testkit")]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka_sync::testkit::{unique_name, CoordinatorKind, MockCluster};
use kafka_sync::{
    ApiKey, BalancedConsumer, BalancedConsumerConfig, Error, ErrorCode, GroupProtocol, KafkaClient,
    OffsetReset, ProducerConfig, TopicPartition,
};
use support::{mock, DEADLINE, LONG};

/// The heartbeat interval the mock tells members to keep.
const HEARTBEAT: Duration = Duration::from_millis(200);

/// A 3-broker mock cluster with a short KIP-848 heartbeat interval and
/// session timeout; `MOCK_TEST_DEBUG=mock,protocol` turns on librdkafka's
/// debug log in the helper's log file.
fn cluster() -> MockCluster {
    let debug = std::env::var("MOCK_TEST_DEBUG").unwrap_or_default();
    let cluster = MockCluster::builder()
        .brokers(3)
        .debug(debug)
        .start()
        .expect("the mock cluster starts");
    cluster
        .set_group_consumer_heartbeat_interval(HEARTBEAT)
        .unwrap();
    cluster
        .set_group_consumer_session_timeout(Duration::from_secs(6))
        .unwrap();
    cluster
}

fn client(cluster: &MockCluster) -> KafkaClient {
    support::log_to_stderr_if("KIP848_TEST_LOG");
    mock::client(cluster.bootstrap())
}

/// A consumer-protocol member's settings: from the beginning, a client-side
/// session bound of 6 s (the mock's), commits every 300 ms.
fn config() -> BalancedConsumerConfig {
    BalancedConsumerConfig::default()
        .group_protocol(GroupProtocol::Consumer)
        .auto_offset_reset(OffsetReset::Earliest)
        .session_timeout(Duration::from_secs(6))
        .auto_commit(Duration::from_millis(300))
        .fetch_max_wait(Duration::from_millis(100))
        .close_timeout(Duration::from_secs(5))
}

fn all(topic: &str, partitions: i32) -> BTreeSet<TopicPartition> {
    (0..partitions)
        .map(|p| TopicPartition::new(topic, p))
        .collect()
}

/// Produces `records` values `v0…` keyed over the partitions; returns them.
fn produce(client: &KafkaClient, topic: &str, records: usize) -> BTreeSet<String> {
    produce_labeled(client, topic, "v", records)
}

/// Produces `records` values `{label}0…` keyed over the partitions; returns
/// them.
fn produce_labeled(
    client: &KafkaClient,
    topic: &str,
    label: &str,
    records: usize,
) -> BTreeSet<String> {
    let producer = client
        .topic(topic)
        .unwrap()
        .get_producer(ProducerConfig::default())
        .unwrap();
    let mut values = BTreeSet::new();
    for i in 0..records {
        let value = format!("{label}{i}");
        producer
            .produce_keyed(format!("k{i}"), value.clone())
            .unwrap();
        values.insert(value);
    }
    producer.producer().flush(DEADLINE).unwrap();
    values
}

/// Reads from `consumer` until `want` values were seen (or fails after
/// `DEADLINE`).
fn read_values(consumer: &BalancedConsumer, want: usize) -> BTreeSet<String> {
    let mut values = BTreeSet::new();
    let deadline = Instant::now() + DEADLINE;
    while values.len() < want {
        assert!(
            Instant::now() < deadline,
            "read {} of {want} records; assignment {:?}",
            values.len(),
            consumer.assignment()
        );
        if let Some(message) = consumer.consume(Duration::from_millis(100)).unwrap() {
            values.insert(String::from_utf8_lossy(message.value_bytes()).into_owned());
        }
    }
    values
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

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

/// Members of one group, each read by a thread of its own, and what they
/// read.
struct Group<'a> {
    client: &'a KafkaClient,
    topic: String,
    group: String,
    config: BalancedConsumerConfig,
    members: parking_lot::Mutex<BTreeMap<usize, Arc<BalancedConsumer>>>,
    /// Every value read, with the members that read it.
    seen: parking_lot::Mutex<BTreeMap<String, Vec<usize>>>,
    /// Ownership checks made.
    samples: std::sync::atomic::AtomicUsize,
    /// Members whose threads do not poll for now.
    paused: parking_lot::Mutex<BTreeSet<usize>>,
}

impl<'a> Group<'a> {
    fn new(client: &'a KafkaClient, topic: &str, config: BalancedConsumerConfig) -> Self {
        Group {
            client,
            topic: topic.to_owned(),
            group: unique_name("kip848-group"),
            config,
            members: Default::default(),
            seen: Default::default(),
            samples: Default::default(),
            paused: Default::default(),
        }
    }

    /// Starts member `index` and the thread that reads it until it is
    /// stopped (then drops it: it commits and leaves).
    fn join<'s>(&'s self, s: &'s std::thread::Scope<'s, '_>, index: usize) {
        let member = Arc::new(
            self.client
                .topic(&self.topic)
                .unwrap()
                .get_balanced_consumer(&self.group, self.config.clone())
                .unwrap(),
        );
        self.members.lock().insert(index, Arc::clone(&member));
        s.spawn(move || {
            while self.members.lock().contains_key(&index) {
                if self.paused.lock().contains(&index) {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
                if let Some(m) = member.consume(Duration::from_millis(50)).unwrap() {
                    let value = String::from_utf8_lossy(m.value_bytes()).into_owned();
                    self.seen.lock().entry(value).or_default().push(index);
                }
            }
        });
    }

    /// Stops member `index`: its thread ends and the last handle's drop
    /// leaves the group.
    fn leave(&self, index: usize) {
        self.members.lock().remove(&index);
    }

    fn member(&self, index: usize) -> Arc<BalancedConsumer> {
        Arc::clone(&self.members.lock()[&index])
    }

    fn snapshot(&self) -> Vec<(usize, Arc<BalancedConsumer>)> {
        self.members
            .lock()
            .iter()
            .map(|(i, m)| (*i, Arc::clone(m)))
            .collect()
    }

    /// The members' assignments once they are disjoint, cover `want` and
    /// read alike twice in a row.
    fn split(&self) -> Option<BTreeMap<usize, BTreeSet<TopicPartition>>> {
        let read = || -> BTreeMap<usize, BTreeSet<TopicPartition>> {
            self.snapshot()
                .into_iter()
                .map(|(i, m)| (i, m.assignment()))
                .collect()
        };
        let first = read();
        std::thread::sleep(Duration::from_millis(100));
        (read() == first).then_some(first)
    }

    /// Checks that no partition has two owners now. The assignments are
    /// read one member after another, then the first pass again: a
    /// partition in member x's first read, in a later member y's read, and
    /// in x's second read was owned by both when y was read.
    fn check_owners(&self) {
        let members = self.snapshot();
        let first: Vec<BTreeSet<TopicPartition>> =
            members.iter().map(|(_, m)| m.assignment()).collect();
        let again: Vec<BTreeSet<TopicPartition>> =
            members.iter().map(|(_, m)| m.assignment()).collect();
        for x in 0..members.len() {
            for y in x + 1..members.len() {
                let both: Vec<&TopicPartition> = first[x]
                    .intersection(&first[y])
                    .filter(|tp| again[x].contains(*tp))
                    .collect();
                assert!(
                    both.is_empty(),
                    "members {} and {} both own {both:?}",
                    members[x].0,
                    members[y].0
                );
            }
        }
        self.samples
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Waits until the split has `count` members, each owning `each`
    /// partitions (counts in member order), covering every partition.
    fn wait_split(&self, partitions: &BTreeSet<TopicPartition>, each: &[usize]) {
        let deadline = Instant::now() + LONG;
        loop {
            if let Some(split) = self.split() {
                let mut sizes: Vec<usize> = split.values().map(BTreeSet::len).collect();
                sizes.sort_unstable();
                let union: BTreeSet<TopicPartition> = split.values().flatten().cloned().collect();
                if sizes == each && &union == partitions {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "no split of sizes {each:?}: {:?}",
                self.split()
            );
        }
    }
}

/// Produces keyed values `p0…` until `stop` is dropped; returns them.
fn produce_until(
    client: &KafkaClient,
    topic: &str,
    stop: &crossbeam_channel::Receiver<()>,
) -> BTreeSet<String> {
    let producer = client
        .topic(topic)
        .unwrap()
        .get_producer(ProducerConfig::default().linger(Duration::from_millis(5)))
        .unwrap();
    let mut values = BTreeSet::new();
    let mut i = 0usize;
    while stop.recv_timeout(Duration::from_millis(2))
        == Err(crossbeam_channel::RecvTimeoutError::Timeout)
    {
        let value = format!("p{i}");
        producer
            .produce_keyed(format!("k{i}"), value.clone())
            .unwrap();
        values.insert(value);
        i += 1;
    }
    producer.producer().flush(DEADLINE).unwrap();
    values
}

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

// ---- fencing, coordinator moves and outages, liveness ----

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
