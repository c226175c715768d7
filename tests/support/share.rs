//! What the share-group tests (`tests/share_consumer*.rs`) share: a mock
//! cluster with share-group settings for tests, records produced, members
//! joined, records drained with their acknowledgements, assignments
//! settled, raw ShareFetches for members the tests play by hand, and the
//! check that no delivery was handed out twice.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use kafka_sync::consumer::{AckType, AcknowledgementMode, ShareConsumer, ShareConsumerConfig};
use kafka_sync::net::Connection;
use kafka_sync::protocol::api::{
    ShareFetchPartition, ShareFetchRequest, ShareFetchResponse, ShareFetchTopic,
};
use kafka_sync::testkit::{unique_name, MockCluster};
use kafka_sync::{KafkaClient, Message, OffsetReset, ProducerConfig, Subscription};

use super::{DEADLINE, LONG};

/// A 3-broker mock whose share groups read from the earliest offset, beat
/// every 200 ms and lock records for `lock`.
pub fn cluster(lock: Duration) -> MockCluster {
    super::log_to_stderr_if("SHARE_LOG");
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

/// A new topic named after `prefix` with `partitions` partitions, each on
/// all 3 brokers.
pub fn topic(cluster: &MockCluster, prefix: &str, partitions: i32) -> String {
    let topic = unique_name(prefix);
    cluster.create_topic(&topic, partitions, 3).unwrap();
    topic
}

/// Produces `n` records `v0..` to `topic` (keys spread them over the
/// partitions).
pub fn produce(client: &KafkaClient, topic: &str, n: usize) {
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

pub fn config() -> ShareConsumerConfig {
    ShareConsumerConfig::default()
        .fetch_max_wait(Duration::from_millis(100))
        .max_poll_records(10)
}

pub fn join(
    client: &KafkaClient,
    group: &str,
    topic: &str,
    config: ShareConsumerConfig,
) -> ShareConsumer {
    client
        .get_share_consumer(group, Subscription::topics([topic]), config)
        .expect("the member joins")
}

pub fn value(m: &Message) -> String {
    String::from_utf8_lossy(m.value_bytes()).into_owned()
}

/// Takes records from `consumer` until `done(&seen)` or [`LONG`] passes,
/// acknowledging each with what `ack` says.
pub fn drain(
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

/// At least `n` records from `consumer`, acknowledging none explicitly.
pub fn read(consumer: &ShareConsumer, n: usize) -> Vec<Message> {
    drain(consumer, |_| None, |s| s.len() >= n)
}

/// Joins a new share group (a unique name) subscribed to `topic`.
pub fn join_new_group(
    client: &KafkaClient,
    topic: &str,
    config: ShareConsumerConfig,
) -> ShareConsumer {
    join(client, &unique_name("g"), topic, config)
}

/// Reads on from `consumer` (acknowledging nothing explicitly) until `seen`
/// and the new records hold `distinct` different values between them, and
/// adds the new records to `seen`.
pub fn drain_until_distinct(consumer: &ShareConsumer, seen: &mut Vec<Message>, distinct: usize) {
    let before: BTreeSet<String> = seen.iter().map(value).collect();
    let more = drain(
        consumer,
        |_| None,
        |s| {
            s.iter()
                .map(value)
                .chain(before.iter().cloned())
                .collect::<BTreeSet<_>>()
                .len()
                >= distinct
        },
    );
    seen.extend(more);
}

/// One raw ShareFetch, session epoch 0, of up to `records` records of
/// `partition`, as the member `member_id` of `group` (a member the test
/// plays by hand: the mock's leaders do not check membership).
pub fn raw_share_fetch(
    conn: &Connection,
    group: &str,
    member_id: &str,
    topic_id: [u8; 16],
    partition: i32,
    records: i32,
) -> ShareFetchResponse {
    conn.request(&ShareFetchRequest {
        group_id: group.into(),
        member_id: member_id.into(),
        share_session_epoch: 0,
        max_wait_ms: 100,
        min_bytes: 1,
        max_bytes: 1 << 20,
        max_records: records,
        batch_size: records,
        topics: vec![ShareFetchTopic {
            topic_id,
            partitions: vec![ShareFetchPartition {
                partition_index: partition,
                acknowledgement_batches: vec![],
            }],
        }],
        forgotten_topics_data: vec![],
    })
    .unwrap()
}

/// The (partition, offset) pairs a ShareFetch answer acquired.
pub fn acquired(answer: &ShareFetchResponse) -> BTreeSet<(i32, i64)> {
    answer
        .responses
        .iter()
        .flat_map(|t| &t.partitions)
        .flat_map(|p| {
            p.acquired_records.iter().flat_map(move |r| {
                (r.first_offset..=r.last_offset).map(move |o| (p.partition_index, o))
            })
        })
        .collect()
}

pub fn explicit() -> ShareConsumerConfig {
    config().acknowledgement_mode(AcknowledgementMode::Explicit)
}

/// Waits until the members' assignments cover `partitions` partitions
/// between them and stay so for a few heartbeats.
pub fn settle(members: &[&ShareConsumer], partitions: usize) {
    let started = Instant::now();
    let mut stable = 0;
    while stable < 5 {
        assert!(started.elapsed() < LONG, "assignments never settled");
        let total: usize = members.iter().map(|m| m.assignment().len()).sum();
        stable = if total == partitions { stable + 1 } else { 0 };
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Every record of `produced` values was seen; a value seen more than once
/// came again only as a redelivery (a higher delivery count), never as a
/// second copy of one delivery.
pub fn assert_all_seen_once_per_delivery(seen: &[Message], produced: usize) {
    let mut deliveries: BTreeMap<String, Vec<u16>> = BTreeMap::new();
    for m in seen {
        deliveries
            .entry(value(m))
            .or_default()
            .push(m.delivery_count().unwrap());
    }
    assert_eq!(deliveries.len(), produced, "every record arrives");
    for (v, counts) in &deliveries {
        let distinct: BTreeSet<_> = counts.iter().collect();
        assert_eq!(
            distinct.len(),
            counts.len(),
            "{v} delivered twice as one delivery: {counts:?}"
        );
    }
}
