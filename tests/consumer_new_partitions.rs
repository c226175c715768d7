//! Partitions added to a topic while a simple consumer created for all its
//! partitions runs are read too, from their first record; a consumer given
//! explicit partitions keeps to them.
//!
//! Neither broker available here can add partitions to a topic: tansu 0.6.0
//! has no CreatePartitions, and librdkafka's mock cluster has neither the API
//! nor a mock call for it (`rd_kafka_mock_topic_create` on an existing topic
//! answers TOPIC_ALREADY_EXISTS). So this runs against the scripted fake
//! cluster (`support::fake_cluster`), whose topic can grow a partition.

#![cfg(feature = "testkit")]

mod support;

use std::time::Duration;

use kafka_sync::{KafkaClient, OffsetReset, SimpleConsumer, SimpleConsumerConfig};
use support::fake_cluster::FakeCluster;
use support::{consume_n, value_str};

const TOPIC: &str = "growing";

/// A one-broker fake cluster whose topic has one partition, and a client
/// that refreshes its metadata every 200 ms (to see partitions added).
fn cluster() -> (FakeCluster, KafkaClient) {
    let cluster = FakeCluster::start(TOPIC, 1, &[1]);
    let client = KafkaClient::builder()
        .hosts(cluster.bootstrap())
        .metadata_max_age(Duration::from_millis(200))
        .build()
        .expect("client bootstraps");
    (cluster, client)
}

/// A consumer of the fake's topic.
fn consumer(client: &KafkaClient, config: SimpleConsumerConfig) -> SimpleConsumer {
    client
        .topic(TOPIC)
        .unwrap()
        .get_simple_consumer(config)
        .unwrap()
}

/// Values read until `n` arrived, as (partition, offset, value).
fn read(consumer: &SimpleConsumer, n: usize) -> Vec<(i32, i64, String)> {
    consume_n(consumer, n)
        .iter()
        .map(|m| (m.partition(), m.offset(), value_str(m)))
        .collect()
}

#[test]
fn a_consumer_of_all_partitions_reads_a_partition_added_later_from_its_start() {
    let (cluster, client) = cluster();
    // `Latest`: the new partition is read from its start all the same,
    // since everything in it is newer than the consumer.
    let consumer = consumer(
        &client,
        SimpleConsumerConfig::default().auto_offset_reset(OffsetReset::Latest),
    );
    assert_eq!(consumer.partitions(), [0]);
    cluster.append(0, &["a"]);
    assert_eq!(read(&consumer, 1), [(0, 0, "a".to_owned())]);
    assert_eq!(cluster.add_partition(1), 1);
    cluster.append(1, &["b", "c"]);
    assert_eq!(
        read(&consumer, 2),
        [(1, 0, "b".to_owned()), (1, 1, "c".to_owned())]
    );
    assert_eq!(consumer.partitions(), [0, 1]);
    assert_eq!(consumer.position(1), Some(2));
}

#[test]
fn a_consumer_of_explicit_partitions_keeps_to_them_when_partitions_are_added() {
    let (cluster, client) = cluster();
    let consumer = consumer(&client, support::earliest().partitions([0]));
    assert_eq!(cluster.add_partition(1), 1);
    cluster.append(1, &["elsewhere"]);
    cluster.append(0, &["here"]);
    assert_eq!(read(&consumer, 1), [(0, 0, "here".to_owned())]);
    // Several metadata refreshes later, still only partition 0.
    assert!(consumer.consume(Duration::from_secs(1)).unwrap().is_none());
    assert_eq!(consumer.partitions(), [0]);
}
