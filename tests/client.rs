//! KafkaClient against a live broker: bootstrap, metadata, topic admin and
//! offset queries.
#![cfg(feature = "testkit")]

mod support;

use std::time::{Duration, Instant};

use kafka_sync::testkit::{self, unique_name};
use kafka_sync::{Error, ErrorCode, KafkaClient, NewTopic};
use support::fake_broker::dead_address;
use support::{bootstrap, client, produce_batch, Rec, DEADLINE};

#[test]
fn brokers_are_listed_after_bootstrap() {
    let client = client();
    let brokers = client.brokers();
    assert!(!brokers.is_empty());
    for b in &brokers {
        assert!(b.id >= 0);
        assert!(!b.host.is_empty());
        assert!(b.port > 0);
    }
}

#[test]
fn a_created_topic_is_listed_with_its_partitions_and_then_deleted() {
    let client = client();
    let name = unique_name("admin");
    client.create_topic(&name, 3, 1).unwrap();
    assert!(client.topics().unwrap().contains(&name));

    let topic = client.topic(&name).unwrap();
    let partitions = topic.partitions();
    assert_eq!(
        partitions.iter().map(|p| p.id).collect::<Vec<_>>(),
        [0, 1, 2]
    );
    let broker_ids: Vec<i32> = client.brokers().iter().map(|b| b.id).collect();
    for p in &partitions {
        let leader = p.leader.expect("every partition has a leader");
        assert!(broker_ids.contains(&leader));
        assert!(p.replicas.contains(&leader), "{p:?}");
    }

    client.delete_topic(&name).unwrap();
    assert!(!client.topics().unwrap().contains(&name));
    assert!(matches!(client.topic(&name), Err(Error::UnknownTopic(t)) if t == name));
}

#[test]
fn a_topic_with_configs_can_be_created() {
    let client = client();
    let name = unique_name("configs");
    client
        .create_topic_with(NewTopic::new(&name, 1, 1).config("retention.ms", "3600000"))
        .unwrap();
    assert_eq!(client.topic(&name).unwrap().partitions().len(), 1);
}

#[test]
fn creating_an_existing_topic_is_topic_already_exists() {
    let client = client();
    let name = unique_name("twice");
    client.create_topic(&name, 1, 1).unwrap();
    let e = client.create_topic(&name, 1, 1).unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::TopicAlreadyExists), "{e}");
    assert!(e.to_string().contains(&name), "{e}");
}

#[test]
fn an_unknown_topic_is_unknown_topic() {
    let client = client();
    let name = unique_name("missing");
    let e = client.topic(&name).unwrap_err();
    assert!(matches!(&e, Error::UnknownTopic(t) if *t == name), "{e}");
    assert!(e.to_string().contains("create it"), "{e}");
}

#[test]
fn deleting_an_unknown_topic_is_unknown_topic() {
    let e = client().delete_topic(&unique_name("never")).unwrap_err();
    assert!(matches!(e, Error::UnknownTopic(_)), "{e}");
}

#[test]
fn an_invalid_topic_name_is_a_config_error() {
    let e = client().create_topic("bad name!", 1, 1).unwrap_err();
    assert!(matches!(e, Error::Config(_)), "{e}");
}

#[test]
fn a_bootstrap_list_with_one_dead_and_one_live_host_works() {
    let hosts = format!("{},{}", dead_address(), bootstrap());
    let client = KafkaClient::new(&hosts).unwrap();
    assert!(!client.brokers().is_empty());
}

#[test]
fn a_bootstrap_list_of_dead_hosts_fails_clearly_within_the_connect_timeout() {
    let hosts = format!("{},{}", dead_address(), dead_address());
    let start = Instant::now();
    let e = KafkaClient::builder()
        .hosts(&hosts)
        .connect_timeout(Duration::from_secs(2))
        .build()
        .unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(matches!(e, Error::NoBrokerAvailable(_)), "{e}");
    let text = e.to_string();
    for host in hosts.split(',') {
        assert!(text.contains(host), "{text} names {host}");
    }
}

#[test]
fn offsets_of_an_empty_topic_are_all_zero() {
    let client = client();
    let name = unique_name("empty");
    client.create_topic(&name, 2, 1).unwrap();
    let topic = client.topic(&name).unwrap();
    let zeros = [(0, 0), (1, 0)].into_iter().collect();
    assert_eq!(topic.latest_available_offsets().unwrap(), zeros);
    assert_eq!(topic.earliest_available_offsets().unwrap(), zeros);
    let at = topic.offsets_for_time(0).unwrap();
    assert_eq!(at.len(), 2);
    assert!(at.values().all(Option::is_none), "{at:?}");
}

#[test]
fn a_client_is_cheap_to_clone_and_shared_across_threads() {
    let client = client();
    let name = unique_name("threads");
    client.create_topic(&name, 4, 1).unwrap();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let topic = client.topic(&name).unwrap();
            std::thread::spawn(move || topic.latest_available_offsets().unwrap().len())
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), 4);
    }
}

/// Appends `count` records to `partition` with raw Produce requests to its
/// leader; record `i` has timestamp `base_ts + i`. One batch per record:
/// tansu 0.6.0 advances the high watermark by one per batch, not per record,
/// so single-record batches keep this test independent of that quirk.
fn produce_raw(client: &KafkaClient, topic: &str, partition: i32, count: i64, base_ts: i64) {
    for i in 0..count {
        let record = Rec {
            value: Some(format!("value-{i}").into_bytes()),
            timestamp: base_ts + i,
            ..Rec::default()
        };
        assert_eq!(produce_batch(client, topic, partition, &[record]), i);
    }
}

#[test]
fn offsets_of_a_non_empty_topic_follow_what_was_produced() {
    let client = client();
    let name = unique_name("offsets");
    client.create_topic(&name, 2, 1).unwrap();
    produce_raw(&client, &name, 0, 5, 1_000_000);
    produce_raw(&client, &name, 1, 3, 2_000_000);
    let topic = client.topic(&name).unwrap();

    let latest = topic.latest_available_offsets().unwrap();
    assert_eq!(latest, [(0, 5), (1, 3)].into_iter().collect());
    let earliest = topic.earliest_available_offsets().unwrap();
    assert_eq!(earliest, [(0, 0), (1, 0)].into_iter().collect());

    // The first record at or after 1_000_002 ms in partition 0 is offset 2;
    // partition 1's records are all later, so its first record matches.
    let at = topic.offsets_for_time(1_000_002).unwrap();
    assert_eq!(at.len(), 2);
    if client.cluster_id().as_deref() == Some("tansu_cluster") {
        // tansu 0.6.0 answers every timestamp query with offset 0 and no
        // timestamp (confluent-kafka's offsets_for_times sees the same), so
        // the timestamp lookup itself is checked only against other brokers
        // (KAFKA_BOOTSTRAP); the codec is checked against kafka-protocol.
        eprintln!("tansu: skipping offsets_for_time result checks");
        return;
    }
    assert_eq!(at[&0].map(|o| o.offset), Some(2));
    assert_eq!(at[&0].map(|o| o.timestamp), Some(1_000_002));
    assert_eq!(at[&1].map(|o| o.offset), Some(0));
    // Past every record: no match.
    let after = topic.offsets_for_time(3_000_000).unwrap();
    assert!(after.values().all(Option::is_none), "{after:?}");
}

#[test]
fn metadata_older_than_max_age_is_refreshed() {
    let name = unique_name("max-age");
    let admin = client();
    admin.create_topic(&name, 1, 1).unwrap();
    let max_age = Duration::from_millis(300);
    let cached = KafkaClient::builder()
        .hosts(bootstrap())
        .metadata_max_age(max_age)
        .build()
        .unwrap();
    assert_eq!(cached.topic(&name).unwrap().partitions().len(), 1);

    admin.delete_topic(&name).unwrap();
    admin.create_topic(&name, 3, 1).unwrap();
    // Within max age the cache answers; after it, a broker does.
    let deadline = Instant::now() + DEADLINE;
    while cached.topic(&name).unwrap().partitions().len() != 3 {
        assert!(Instant::now() < deadline, "metadata never refreshed");
        std::thread::sleep(max_age / 4);
    }
}

#[test]
fn a_topic_handle_follows_the_cluster_after_refresh_metadata() {
    let name = unique_name("refresh");
    let client = client();
    assert!(client.topic(&name).is_err());
    client.create_topic(&name, 2, 1).unwrap();
    client.refresh_metadata().unwrap();
    assert_eq!(
        client.topic(&name).unwrap().partition_ids().unwrap(),
        [0, 1]
    );
}

#[test]
fn a_restarted_broker_is_reconnected_to() {
    let mut broker = testkit::Broker::start().unwrap();
    if broker.is_external() {
        eprintln!("external broker: cannot restart it");
        return;
    }
    let client = KafkaClient::builder()
        .hosts(broker.bootstrap())
        .reconnect_backoff_max(Duration::from_millis(200))
        .build()
        .unwrap();
    client.create_topic(&unique_name("before"), 1, 1).unwrap();

    broker.stop();
    let e = client.topics().unwrap_err();
    assert!(
        e.is_retriable(),
        "a stopped broker is a retriable failure: {e}"
    );

    broker.restart().unwrap();
    // Storage is in memory: the restarted broker is empty, but reachable again
    // through the same client once the reconnect backoff has passed.
    let deadline = Instant::now() + DEADLINE;
    let name = unique_name("after");
    loop {
        match client.create_topic(&name, 1, 1) {
            Ok(()) => break,
            Err(e) if Instant::now() < deadline => {
                eprintln!("not yet: {e}");
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("never reconnected: {e}"),
        }
    }
    assert!(client.topics().unwrap().contains(&name));
}
