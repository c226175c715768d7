//! Share groups (KIP-932) on librdkafka's mock cluster (2.16.0), which
//! serves ShareGroupHeartbeat, ShareFetch and ShareAcknowledge v1 with
//! acquisition locks, delivery counts and share sessions; and the clear
//! error a broker without share groups (tansu 0.6.0) gives.
//!
//! Each test starts its own mock cluster: share-group settings (lock
//! duration, start offset) are cluster-wide defaults there.

#![cfg(feature = "testkit")]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use kafka_sync::consumer::{AckType, AcknowledgementMode, ShareConsumer, ShareConsumerConfig};
use kafka_sync::testkit::{unique_name, MockCluster};
use kafka_sync::{Error, KafkaClient, Message, OffsetReset, ProducerConfig, Subscription};
use support::mock;
use support::{DEADLINE, LONG};

/// A 3-broker mock whose share groups read from the earliest offset, beat
/// every 200 ms and lock records for `lock`.
fn cluster(lock: Duration) -> MockCluster {
    support::log_to_stderr_if("SHARE_LOG");
    let cluster = MockCluster::start(3).expect("the mock cluster starts");
    cluster
        .set_share_group_auto_offset_reset(OffsetReset::Earliest)
        .unwrap();
    cluster
        .set_share_group_heartbeat_interval(Duration::from_millis(200))
        .unwrap();
    cluster.set_share_group_record_lock_duration(lock).unwrap();
    cluster
}

/// Produces `n` records `v0..` to `topic` (keys spread them over the
/// partitions).
fn produce(client: &KafkaClient, topic: &str, n: usize) {
    let producer = client
        .topic(topic)
        .unwrap()
        .get_producer(ProducerConfig::default())
        .unwrap();
    for i in 0..n {
        producer
            .produce_keyed(format!("k{i}"), format!("v{i}"))
            .unwrap();
    }
    producer.producer().flush(DEADLINE).unwrap();
}

fn config() -> ShareConsumerConfig {
    ShareConsumerConfig::default()
        .fetch_max_wait(Duration::from_millis(100))
        .max_poll_records(10)
}

fn join(
    client: &KafkaClient,
    group: &str,
    topic: &str,
    config: ShareConsumerConfig,
) -> ShareConsumer {
    client
        .get_share_consumer(group, Subscription::topics([topic]), config)
        .expect("the member joins")
}

fn value(m: &Message) -> String {
    String::from_utf8_lossy(m.value_bytes()).into_owned()
}

/// Takes records from `consumer` until `done(&seen)` or [`LONG`] passes,
/// acknowledging each with what `ack` says.
fn drain(
    consumer: &ShareConsumer,
    mut ack: impl FnMut(&Message) -> Option<AckType>,
    mut done: impl FnMut(&[Message]) -> bool,
) -> Vec<Message> {
    let started = Instant::now();
    let mut seen = Vec::new();
    while !done(&seen) {
        assert!(
            started.elapsed() < LONG,
            "no end after {} records: {:?}",
            seen.len(),
            seen.iter().map(value).collect::<Vec<_>>()
        );
        if let Some(m) = consumer.consume(Duration::from_millis(200)).unwrap() {
            if let Some(a) = ack(&m) {
                consumer.acknowledge(&m, a).unwrap();
            }
            seen.push(m);
        }
    }
    seen
}

#[test]
fn one_member_reads_every_record_once_with_delivery_count_one() {
    let cluster = cluster(Duration::from_secs(30));
    let topic = unique_name("share-one");
    cluster.create_topic(&topic, 2, 3).unwrap();
    let client = mock::client(cluster.bootstrap());
    produce(&client, &topic, 50);
    let consumer = join(&client, &unique_name("g"), &topic, config());
    let seen = drain(&consumer, |_| None, |s| s.len() >= 50);
    let values: BTreeSet<String> = seen.iter().map(value).collect();
    assert_eq!(values.len(), 50, "each record once");
    assert!(seen.iter().all(|m| m.delivery_count() == Some(1)));
    consumer.commit_sync(DEADLINE).unwrap();
    consumer.close().unwrap();
}
