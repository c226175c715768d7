//! Share groups (KIP-932) on librdkafka's mock cluster (2.16.0), which
//! serves ShareGroupHeartbeat, ShareFetch and ShareAcknowledge v1 with
//! acquisition locks, delivery counts and share sessions: the work shared,
//! accept / release / reject, both acknowledgement modes, close; and the
//! clear error a broker without share groups (tansu 0.6.0) gives. Faults
//! are in `share_consumer_faults.rs`.
//!
//! Each test starts its own mock cluster: share-group settings (lock
//! duration, start offset) are cluster-wide defaults there.

#![cfg(feature = "testkit")]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use kafka_sync::consumer::{AckType, ShareConsumer};
use kafka_sync::testkit::unique_name;
use kafka_sync::{Error, KafkaClient, Message, ProducerConfig, Subscription};
use support::mock;
use support::share::{
    cluster, config, drain, explicit, join, join_new_group, produce, read, settle, topic, value,
};
use support::DEADLINE;

#[test]
fn one_member_reads_every_record_once_with_delivery_count_one() {
    let cluster = cluster(Duration::from_secs(30));
    let topic = topic(&cluster, "share-one", 2);
    let client = mock::client(cluster.bootstrap());
    produce(&client, &topic, 50);
    let consumer = join_new_group(&client, &topic, config());
    let seen = read(&consumer, 50);
    let values: BTreeSet<String> = seen.iter().map(value).collect();
    assert_eq!(values.len(), 50, "each record once");
    assert!(seen.iter().all(|m| m.delivery_count() == Some(1)));
    consumer.commit_sync(DEADLINE).unwrap();
    consumer.close().unwrap();
}

#[test]
fn three_members_on_two_partitions_share_the_work_and_accept_no_record_twice() {
    let cluster = cluster(Duration::from_secs(30));
    let topic = topic(&cluster, "share-three", 2);
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
    let topic = topic(&cluster, "share-release", 2);
    let client = mock::client(cluster.bootstrap());
    produce(&client, &topic, 6);
    let consumer = join_new_group(&client, &topic, explicit());
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
    let topic = topic(&cluster, "share-reject", 2);
    let client = mock::client(cluster.bootstrap());
    produce(&client, &topic, 6);
    let consumer = join_new_group(&client, &topic, explicit());
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
    let topic = topic(&cluster, "share-explicit", 1);
    let client = mock::client(cluster.bootstrap());
    produce(&client, &topic, 1);
    let consumer = join_new_group(&client, &topic, explicit());
    let m = read(&consumer, 1).remove(0);
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
    let topic = topic(&cluster, "share-close", 1);
    let client = mock::client(cluster.bootstrap());
    produce(&client, &topic, 10);
    let group = unique_name("g");
    let first = join(&client, &group, &topic, explicit().max_poll_records(10));
    let taken = read(&first, 1);
    // Released on close: the one handed out and unacknowledged, and the
    // rest of the fetch still buffered.
    first.close().unwrap();
    let second = join(&mock::client(cluster.bootstrap()), &group, &topic, config());
    let seen = read(&second, 10);
    let again = seen.iter().find(|m| value(m) == value(&taken[0])).unwrap();
    assert_eq!(again.delivery_count(), Some(2));
    second.close().unwrap();
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
