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
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kafka_sync::consumer::{AckType, AcknowledgementMode, ShareConsumer, ShareConsumerConfig};
use kafka_sync::testkit::{unique_name, CoordinatorKind, MockCluster};
use kafka_sync::{
    ApiKey, Error, ErrorCode, KafkaClient, Message, OffsetReset, ProducerConfig, Subscription,
};
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

fn explicit() -> ShareConsumerConfig {
    config().acknowledgement_mode(AcknowledgementMode::Explicit)
}

/// Waits until the members' assignments cover `partitions` partitions
/// between them and stay so for a few heartbeats.
fn settle(members: &[&ShareConsumer], partitions: usize) {
    let started = Instant::now();
    let mut stable = 0;
    while stable < 5 {
        assert!(started.elapsed() < LONG, "assignments never settled");
        let total: usize = members.iter().map(|m| m.assignment().len()).sum();
        stable = if total == partitions { stable + 1 } else { 0 };
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn three_members_on_two_partitions_share_the_work_and_accept_no_record_twice() {
    let cluster = cluster(Duration::from_secs(30));
    let topic = unique_name("share-three");
    cluster.create_topic(&topic, 2, 3).unwrap();
    let group = unique_name("g");
    let clients: Vec<KafkaClient> = (0..3).map(|_| mock::client(cluster.bootstrap())).collect();
    let members: Vec<ShareConsumer> = clients
        .iter()
        .map(|c| join(c, &group, &topic, config()))
        .collect();
    settle(&members.iter().collect::<Vec<_>>(), 2);
    let assigned: BTreeSet<(String, i32)> = members.iter().flat_map(|m| m.assignment()).collect();
    assert_eq!(assigned.len(), 2, "both partitions assigned: {assigned:?}");
    produce(&clients[0], &topic, 300);
    // How many records each member has taken so far.
    let taken: Vec<AtomicUsize> = (0..3).map(|_| AtomicUsize::new(0)).collect();
    let per_member: Vec<Vec<Message>> = std::thread::scope(|s| {
        let handles: Vec<_> = members
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let taken = &taken;
                s.spawn(move || {
                    let mut mine = drain(
                        m,
                        |_| None,
                        |seen| {
                            taken[i].store(seen.len(), Ordering::SeqCst);
                            taken
                                .iter()
                                .map(|t| t.load(Ordering::SeqCst))
                                .sum::<usize>()
                                >= 300
                        },
                    );
                    // Accept, then look for a second delivery of anything.
                    m.commit_sync(DEADLINE).unwrap();
                    while let Some(extra) = m.consume(Duration::from_millis(500)).unwrap() {
                        mine.push(extra);
                    }
                    m.commit_sync(DEADLINE).unwrap();
                    mine
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for m in per_member.iter().flatten() {
        *counts.entry(value(m)).or_default() += 1;
    }
    assert_eq!(counts.len(), 300, "every record delivered");
    let twice: Vec<_> = counts.iter().filter(|(_, &n)| n > 1).collect();
    assert!(
        twice.is_empty(),
        "records delivered (and accepted) twice: {twice:?}"
    );
    let working = per_member.iter().filter(|m| !m.is_empty()).count();
    assert!(
        working >= 2,
        "the work is shared: {:?}",
        per_member.iter().map(Vec::len).collect::<Vec<_>>()
    );
    for m in members {
        m.close().unwrap();
    }
}

#[test]
fn released_records_are_delivered_again_with_a_higher_delivery_count() {
    let cluster = cluster(Duration::from_secs(30));
    let topic = unique_name("share-release");
    cluster.create_topic(&topic, 2, 3).unwrap();
    let client = mock::client(cluster.bootstrap());
    produce(&client, &topic, 6);
    let consumer = join(&client, &unique_name("g"), &topic, explicit());
    let first = drain(&consumer, |_| Some(AckType::Release), |s| s.len() >= 6);
    assert!(first.iter().all(|m| m.delivery_count() == Some(1)));
    let second = drain(&consumer, |_| Some(AckType::Accept), |s| s.len() >= 6);
    let values = |ms: &[Message]| ms.iter().map(value).collect::<BTreeSet<_>>();
    assert_eq!(values(&first), values(&second), "the same records again");
    assert!(
        second.iter().all(|m| m.delivery_count() == Some(2)),
        "{:?}",
        second
            .iter()
            .map(Message::delivery_count)
            .collect::<Vec<_>>()
    );
    consumer.commit_sync(DEADLINE).unwrap();
    assert!(
        consumer.consume(Duration::from_secs(1)).unwrap().is_none(),
        "accepted ones stay done"
    );
    consumer.close().unwrap();
}

#[test]
fn rejected_records_are_not_delivered_again() {
    let cluster = cluster(Duration::from_secs(30));
    let topic = unique_name("share-reject");
    cluster.create_topic(&topic, 2, 3).unwrap();
    let client = mock::client(cluster.bootstrap());
    produce(&client, &topic, 6);
    let consumer = join(&client, &unique_name("g"), &topic, explicit());
    let rejected = drain(&consumer, |_| Some(AckType::Reject), |s| s.len() >= 6);
    consumer.commit_sync(DEADLINE).unwrap();
    // Newer records come; the rejected ones do not.
    let producer = client
        .topic(&topic)
        .unwrap()
        .get_producer(ProducerConfig::default())
        .unwrap();
    for i in 0..4 {
        producer
            .produce_keyed(format!("k{i}"), format!("new{i}"))
            .unwrap();
    }
    producer.producer().flush(DEADLINE).unwrap();
    let mut later = drain(&consumer, |_| Some(AckType::Accept), |s| s.len() >= 4);
    while let Some(m) = consumer.consume(Duration::from_secs(1)).unwrap() {
        consumer.acknowledge(&m, AckType::Accept).unwrap();
        later.push(m);
    }
    let old: BTreeSet<String> = rejected.iter().map(value).collect();
    let got: Vec<String> = later.iter().map(value).collect();
    assert!(
        got.iter().all(|v| v.starts_with("new")),
        "{got:?} after rejecting {old:?}"
    );
    assert_eq!(got.len(), 4);
    consumer.close().unwrap();
}

#[test]
fn explicit_mode_refuses_to_fetch_past_unacknowledged_records() {
    let cluster = cluster(Duration::from_secs(30));
    let topic = unique_name("share-explicit");
    cluster.create_topic(&topic, 1, 3).unwrap();
    let client = mock::client(cluster.bootstrap());
    produce(&client, &topic, 1);
    let consumer = join(&client, &unique_name("g"), &topic, explicit());
    let m = drain(&consumer, |_| None, |s| !s.is_empty()).remove(0);
    let err = consumer.consume(Duration::from_millis(200)).unwrap_err();
    assert!(
        matches!(err, Error::Config(ref s) if s.contains("acknowledge")),
        "{err}"
    );
    consumer.acknowledge(&m, AckType::Accept).unwrap();
    assert!(matches!(
        consumer.acknowledge(&m, AckType::Accept),
        Err(Error::Config(_))
    ));
    assert!(consumer
        .consume(Duration::from_millis(300))
        .unwrap()
        .is_none());
    consumer.close().unwrap();
}

#[test]
fn closing_releases_the_records_it_holds_to_the_other_members() {
    let cluster = cluster(Duration::from_secs(30));
    let topic = unique_name("share-close");
    cluster.create_topic(&topic, 1, 3).unwrap();
    let client = mock::client(cluster.bootstrap());
    produce(&client, &topic, 10);
    let group = unique_name("g");
    let first = join(&client, &group, &topic, explicit().max_poll_records(10));
    let taken = drain(&first, |_| None, |s| !s.is_empty());
    // Released on close: the one handed out and unacknowledged, and the
    // rest of the fetch still buffered.
    first.close().unwrap();
    let second = join(&mock::client(cluster.bootstrap()), &group, &topic, config());
    let seen = drain(&second, |_| None, |s| s.len() >= 10);
    let again = seen.iter().find(|m| value(m) == value(&taken[0])).unwrap();
    assert_eq!(again.delivery_count(), Some(2));
    second.close().unwrap();
}

/// A member that joins, acquires records and then goes silent without
/// closing anything, as a process that hangs does: raw requests on its own
/// client, whose connections stay open. Returns the (partition, offset)
/// pairs it acquired.
fn acquire_and_hang(
    client: &KafkaClient,
    group: &str,
    topic: &str,
    records_per_partition: i32,
) -> BTreeSet<(i32, i64)> {
    use kafka_sync::protocol::api::*;
    let heartbeat = client
        .connection(1)
        .unwrap()
        .request(&ShareGroupHeartbeatRequest {
            group_id: group.into(),
            member_id: unique_name("hanging-member"),
            member_epoch: 0,
            rack_id: None,
            subscribed_topic_names: Some(vec![topic.into()]),
        })
        .unwrap();
    assert!(heartbeat.error_code.is_ok(), "{heartbeat:?}");
    let member_id = heartbeat.member_id.clone().unwrap();
    let meta = client.topic(topic).unwrap().metadata().unwrap();
    let mut acquired = BTreeSet::new();
    for p in &meta.partitions {
        let leader = p.leader.unwrap();
        let answer = client
            .connection(leader)
            .unwrap()
            .request(&ShareFetchRequest {
                group_id: group.into(),
                member_id: member_id.clone(),
                share_session_epoch: 0,
                max_wait_ms: 100,
                min_bytes: 1,
                max_bytes: 1 << 20,
                max_records: records_per_partition,
                batch_size: records_per_partition,
                topics: vec![ShareFetchTopic {
                    topic_id: meta.topic_id,
                    partitions: vec![ShareFetchPartition {
                        partition_index: p.id,
                        acknowledgement_batches: vec![],
                    }],
                }],
                forgotten_topics_data: vec![],
            })
            .unwrap();
        assert!(answer.error_code.is_ok(), "{answer:?}");
        for t in &answer.responses {
            for part in &t.partitions {
                for r in &part.acquired_records {
                    acquired.extend(
                        (r.first_offset..=r.last_offset).map(|o| (part.partition_index, o)),
                    );
                }
            }
        }
    }
    acquired
}

#[test]
fn a_member_that_hangs_leaves_its_acquired_records_to_the_others_after_the_lock_timeout() {
    // Locks of 2 s; a silent member leaves the group after 3 s.
    let cluster = cluster(Duration::from_secs(2));
    cluster
        .set_share_group_session_timeout(Duration::from_secs(3))
        .unwrap();
    let topic = unique_name("share-hang");
    cluster.create_topic(&topic, 2, 3).unwrap();
    let group = unique_name("g");
    cluster
        .set_coordinator(CoordinatorKind::Group, &group, 1)
        .unwrap();
    let client = mock::client(cluster.bootstrap());
    produce(&client, &topic, 20);
    let hanging = mock::client(cluster.bootstrap());
    let held = acquire_and_hang(&hanging, &group, &topic, 3);
    assert!(!held.is_empty(), "the hanging member acquired records");
    let live = join(&client, &group, &topic, config());
    let seen = drain(&live, |_| None, |s| s.len() >= 20);
    let mut by_offset: BTreeMap<(i32, i64), Option<u16>> = BTreeMap::new();
    for m in &seen {
        assert!(
            by_offset
                .insert((m.partition, m.offset), m.delivery_count())
                .is_none(),
            "{}-{} delivered twice to the live member",
            m.partition,
            m.offset
        );
    }
    for (tp, count) in &by_offset {
        let expected = if held.contains(tp) { 2 } else { 1 };
        assert_eq!(
            *count,
            Some(expected),
            "record {tp:?} (held by the hanging member: {held:?})"
        );
    }
    live.close().unwrap();
    drop(hanging);
}

#[test]
fn a_broker_without_share_groups_is_an_unsupported_version_naming_share_group_heartbeat() {
    let client = support::client();
    let topic = support::new_topic(&client, "share-tansu", 1);
    let err = client
        .get_share_consumer(&unique_name("g"), Subscription::topics([topic]), config())
        .unwrap_err();
    match &err {
        Error::UnsupportedVersion { api, .. } => assert_eq!(*api, "ShareGroupHeartbeat"),
        other => panic!("expected UnsupportedVersion, got {other:?}"),
    }
    let text = err.to_string();
    eprintln!("tansu: {text}");
    assert!(text.contains("Kafka 4.1"), "{text}");
}

#[test]
fn a_share_session_the_broker_lost_is_opened_again_and_reading_goes_on() {
    let cluster = cluster(Duration::from_secs(30));
    let topic = unique_name("share-session");
    cluster.create_topic(&topic, 2, 3).unwrap();
    let client = mock::client(cluster.bootstrap());
    produce(&client, &topic, 40);
    let consumer = join(
        &client,
        &unique_name("g"),
        &topic,
        config().max_poll_records(5),
    );
    let mut seen = drain(&consumer, |_| None, |s| s.len() >= 5);
    // The next fetches find no session, then a wrong epoch.
    cluster
        .request_errors(
            ApiKey::ShareFetch,
            &[
                ErrorCode::ShareSessionNotFound,
                ErrorCode::InvalidShareSessionEpoch,
            ],
        )
        .unwrap();
    let before: BTreeSet<String> = seen.iter().map(value).collect();
    seen.extend(drain(
        &consumer,
        |_| None,
        |s| {
            s.iter()
                .map(value)
                .chain(before.iter().cloned())
                .collect::<BTreeSet<_>>()
                .len()
                >= 40
        },
    ));
    let distinct: BTreeSet<String> = seen.iter().map(value).collect();
    assert_eq!(distinct.len(), 40, "every record arrives");
    // Records whose acceptance was lost with the session came again.
    assert!(seen.iter().filter(|m| m.delivery_count() > Some(1)).count() <= seen.len() - 40);
    consumer.close().unwrap();
}

#[test]
fn a_fenced_member_joins_again_and_reading_goes_on() {
    let cluster = cluster(Duration::from_secs(30));
    let topic = unique_name("share-fenced");
    cluster.create_topic(&topic, 2, 3).unwrap();
    let client = mock::client(cluster.bootstrap());
    let consumer = join(&client, &unique_name("g"), &topic, config());
    cluster
        .request_errors(
            ApiKey::ShareGroupHeartbeat,
            &[ErrorCode::FencedMemberEpoch, ErrorCode::UnknownMemberId],
        )
        .unwrap();
    produce(&client, &topic, 20);
    let seen = drain(&consumer, |_| None, |s| s.len() >= 20);
    assert_eq!(seen.iter().map(value).collect::<BTreeSet<_>>().len(), 20);
    consumer.close().unwrap();
}

/// Every record of `produced` values was seen; a value seen more than once
/// came again only as a redelivery (a higher delivery count), never as a
/// second copy of one delivery.
fn assert_all_seen_once_per_delivery(seen: &[Message], produced: usize) {
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

#[test]
fn a_partition_whose_leader_moves_is_read_from_the_new_leader() {
    let cluster = cluster(Duration::from_secs(30));
    let topic = unique_name("share-leader");
    cluster.create_topic(&topic, 1, 3).unwrap();
    cluster.set_leader(&topic, 0, 1).unwrap();
    let client = mock::client(cluster.bootstrap());
    produce(&client, &topic, 60);
    let consumer = join(
        &client,
        &unique_name("g"),
        &topic,
        config().max_poll_records(5),
    );
    let mut seen = drain(&consumer, |_| None, |s| s.len() >= 10);
    cluster.set_leader(&topic, 0, 2).unwrap();
    let before: BTreeSet<String> = seen.iter().map(value).collect();
    seen.extend(drain(
        &consumer,
        |_| None,
        |s| {
            s.iter()
                .map(value)
                .chain(before.iter().cloned())
                .collect::<BTreeSet<_>>()
                .len()
                >= 60
        },
    ));
    assert_all_seen_once_per_delivery(&seen, 60);
    consumer.close().unwrap();
}

#[test]
fn a_coordinator_that_moves_is_found_again_and_the_membership_goes_on() {
    let cluster = cluster(Duration::from_secs(30));
    let topic = unique_name("share-coord");
    cluster.create_topic(&topic, 2, 3).unwrap();
    let group = unique_name("g");
    cluster
        .set_coordinator(CoordinatorKind::Group, &group, 1)
        .unwrap();
    let client = mock::client(cluster.bootstrap());
    let consumer = join(&client, &group, &topic, config());
    settle(&[&consumer], 2);
    cluster
        .set_coordinator(CoordinatorKind::Group, &group, 3)
        .unwrap();
    produce(&client, &topic, 30);
    let seen = drain(&consumer, |_| None, |s| s.len() >= 30);
    assert_all_seen_once_per_delivery(&seen, 30);
    settle(&[&consumer], 2);
    consumer.close().unwrap();
}

/// Waits until the record at `offset` of `topic` partition 0 can be
/// acquired by another member of `group` (its lock ran out), by raw
/// ShareFetches of an observer (the mock's leaders do not check
/// membership), then releases it again. The observer's client must outlive
/// the test's other sessions: closing a connection closes every share
/// session on that broker in the mock.
fn wait_until_acquirable(observer: &KafkaClient, group: &str, topic: &str, offset: i64) {
    use kafka_sync::protocol::api::share_fetch::acknowledge_type;
    use kafka_sync::protocol::api::*;
    let meta = observer.topic(topic).unwrap().metadata().unwrap();
    let conn = observer
        .connection(meta.partitions[0].leader.unwrap())
        .unwrap();
    let member_id = unique_name("observer");
    let started = Instant::now();
    loop {
        assert!(started.elapsed() < LONG, "the lock never ran out");
        let answer = conn
            .request(&ShareFetchRequest {
                group_id: group.into(),
                member_id: member_id.clone(),
                share_session_epoch: 0,
                max_wait_ms: 100,
                min_bytes: 1,
                max_bytes: 1 << 20,
                max_records: 1,
                batch_size: 1,
                topics: vec![ShareFetchTopic {
                    topic_id: meta.topic_id,
                    partitions: vec![ShareFetchPartition {
                        partition_index: 0,
                        acknowledgement_batches: vec![],
                    }],
                }],
                forgotten_topics_data: vec![],
            })
            .unwrap();
        let acquired = answer
            .responses
            .iter()
            .flat_map(|t| &t.partitions)
            .flat_map(|p| &p.acquired_records)
            .any(|r| (r.first_offset..=r.last_offset).contains(&offset));
        if acquired {
            let closed = conn
                .request(&ShareAcknowledgeRequest {
                    group_id: group.into(),
                    member_id: member_id.clone(),
                    share_session_epoch: -1,
                    topics: vec![ShareAcknowledgeTopic {
                        topic_id: meta.topic_id,
                        partitions: vec![ShareAcknowledgePartition {
                            partition_index: 0,
                            acknowledgement_batches: vec![AcknowledgementBatch {
                                first_offset: offset,
                                last_offset: offset,
                                acknowledge_types: vec![acknowledge_type::RELEASE],
                            }],
                        }],
                    }],
                })
                .unwrap();
            assert!(closed.error_code.is_ok(), "{closed:?}");
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn acknowledging_a_record_whose_lock_ran_out_is_invalid_record_state() {
    let cluster = cluster(Duration::from_secs(1));
    let topic = unique_name("share-expired");
    cluster.create_topic(&topic, 1, 3).unwrap();
    let client = mock::client(cluster.bootstrap());
    produce(&client, &topic, 1);
    let group = unique_name("g");
    let consumer = join(&client, &group, &topic, explicit());
    let m = drain(&consumer, |_| None, |s| !s.is_empty()).remove(0);
    let observer = mock::client(cluster.bootstrap());
    wait_until_acquirable(&observer, &group, &topic, m.offset);
    consumer.acknowledge(&m, AckType::Accept).unwrap();
    let err = consumer.commit_sync(DEADLINE).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidRecordState), "{err}");
    // Delivered to this member, then to the observer, now again here.
    let again = drain(&consumer, |_| Some(AckType::Accept), |s| !s.is_empty());
    assert_eq!(value(&again[0]), value(&m));
    assert_eq!(again[0].delivery_count(), Some(3));
    consumer.commit_sync(DEADLINE).unwrap();
    consumer.close().unwrap();
    drop(observer);
}

/// A mock quirk, not Kafka's behaviour: any connection to a broker that
/// closes closes every member's share sessions on that broker
/// (`rd_kafka_mock_sharegrps_node_connection_closed`). The consumer then
/// gets SHARE_SESSION_NOT_FOUND, opens a new session and goes on; what it
/// had not acknowledged yet is delivered again.
#[test]
fn a_session_the_broker_dropped_with_another_clients_connection_is_opened_again() {
    let cluster = cluster(Duration::from_secs(30));
    let topic = unique_name("share-dropped");
    cluster.create_topic(&topic, 1, 3).unwrap();
    cluster.set_leader(&topic, 0, 2).unwrap();
    let client = mock::client(cluster.bootstrap());
    produce(&client, &topic, 10);
    let consumer = join(
        &client,
        &unique_name("g"),
        &topic,
        config().max_poll_records(5),
    );
    let mut seen = drain(&consumer, |_| None, |s| s.len() >= 5);
    {
        let other = mock::client(cluster.bootstrap());
        other.connection(2).unwrap();
    } // its connection to broker 2 closes here
    let before: BTreeSet<String> = seen.iter().map(value).collect();
    seen.extend(drain(
        &consumer,
        |_| None,
        |s| {
            s.iter()
                .map(value)
                .chain(before.iter().cloned())
                .collect::<BTreeSet<_>>()
                .len()
                >= 10
        },
    ));
    assert_all_seen_once_per_delivery(&seen, 10);
    consumer.commit_sync(DEADLINE).unwrap();
    {
        let other = mock::client(cluster.bootstrap());
        other.connection(2).unwrap();
    }
    // Closing a session the broker already dropped, with nothing owed.
    consumer.close().unwrap();
}
