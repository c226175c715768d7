//! The KIP-848 consumer group protocol (`GroupProtocol::Consumer`) on
//! librdkafka's mock cluster, which serves ConsumerGroupHeartbeat v1 with a
//! broker-side range assignor and withholds a partition from its new owner
//! until the old one's heartbeat says it released it; and against tansu,
//! which has no ConsumerGroupHeartbeat.
#![cfg(feature = "testkit")]

mod support;

use std::collections::BTreeSet;
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
    let producer = client
        .topic(topic)
        .unwrap()
        .get_producer(ProducerConfig::default())
        .unwrap();
    let mut values = BTreeSet::new();
    for i in 0..records {
        let value = format!("v{i}");
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
