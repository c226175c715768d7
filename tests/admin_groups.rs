//! Consumer groups through the admin client, against tansu: a live balanced
//! consumer's group listed and described with its assignment, its offsets
//! read, changed, deleted and measured as lag, unknown groups, and
//! confluent-kafka's AdminClient reading back offsets this admin wrote, and
//! the reverse.
#![cfg(feature = "testkit")]

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::{Duration, Instant};

use kafka_sync::testkit::{self, unique_name};
use kafka_sync::{
    BalancedConsumer, BalancedConsumerConfig, Error, ErrorCode, KafkaClient, OffsetReset,
    ProducerConfig, Record, TopicPartition,
};

/// Bound on a group settling.
const DEADLINE: Duration = Duration::from_secs(60);

fn bootstrap() -> String {
    testkit::shared().expect("test broker starts").bootstrap()
}

fn client() -> KafkaClient {
    KafkaClient::new(&bootstrap()).expect("client bootstraps")
}

/// A topic of `partitions` partitions with `per_partition` records in each,
/// one batch per record: tansu 0.6.0's ListOffsets counts a batch of several
/// records as one offset.
fn topic_with_records(client: &KafkaClient, partitions: i32, per_partition: usize) -> String {
    let name = unique_name("admin-groups");
    client.create_topic(&name, partitions, 1).unwrap();
    let producer = client
        .topic(&name)
        .unwrap()
        .get_producer(ProducerConfig::default())
        .unwrap();
    for p in 0..partitions {
        for i in 0..per_partition {
            producer
                .send(Record::new(format!("{p}-{i}")).partition(p))
                .unwrap();
            producer.flush(Duration::from_secs(10)).unwrap();
        }
    }
    name
}

fn member(client: &KafkaClient, topic: &str, group: &str) -> BalancedConsumer {
    client
        .topic(topic)
        .unwrap()
        .get_balanced_consumer(
            group,
            BalancedConsumerConfig::default()
                .auto_offset_reset(OffsetReset::Earliest)
                .session_timeout(Duration::from_secs(6))
                .heartbeat_interval(Duration::from_millis(500))
                .rebalance_timeout(Duration::from_secs(20))
                .fetch_max_wait(Duration::from_millis(100))
                .close_timeout(Duration::from_secs(5)),
        )
        .unwrap()
}

fn wait_for_assignment(consumer: &BalancedConsumer, n: usize) {
    let start = Instant::now();
    while consumer.assignment().len() != n {
        assert!(
            start.elapsed() < DEADLINE,
            "no assignment of {n} partitions"
        );
        let _ = consumer.consume(Duration::from_millis(100));
    }
}

fn partitions(topic: &str, n: i32) -> Vec<TopicPartition> {
    (0..n).map(|p| TopicPartition::new(topic, p)).collect()
}

#[test]
fn a_live_group_is_listed_and_described_with_its_member() {
    let client = client();
    let topic = topic_with_records(&client, 3, 1);
    let group = unique_name("admin-live");
    let consumer = member(&client, &topic, &group);
    wait_for_assignment(&consumer, 3);
    // tansu 0.6.0 lists only groups that committed offsets: read what the
    // member was assigned, then commit.
    while consumer.consume(Duration::from_secs(1)).unwrap().is_some() {}
    consumer.commit_offsets().unwrap();
    let admin = client.admin();

    let listed = admin.list_consumer_groups().unwrap();
    let ours = listed
        .iter()
        .find(|g| g.group_id == group)
        .unwrap_or_else(|| panic!("{group} not in {listed:?}"));
    assert_eq!(ours.protocol_type, "consumer");

    let described = admin.describe_consumer_groups(&[&group]).unwrap();
    let d = described[&group].as_ref().unwrap();
    assert_eq!(d.state, "Stable");
    assert_eq!(d.protocol_type, "consumer");
    assert_eq!(d.members.len(), 1, "{d:?}");
    let m = &d.members[0];
    assert_eq!(m.member_id, consumer.member_id());
    // tansu 0.6.0 leaves the protocol, client id, host and assignment empty;
    // a broker that sends them must agree with the member.
    if !m.client_id.is_empty() {
        assert_eq!(m.client_id, client.config().client_id());
    }
    if !m.assignment.is_empty() {
        let assigned: BTreeSet<_> = m.assignment.iter().cloned().collect();
        assert_eq!(assigned, partitions(&topic, 3).into_iter().collect());
    }
    consumer.close().unwrap();
}

#[test]
fn offsets_written_by_the_admin_are_read_back_with_their_lag() {
    let client = client();
    let topic = topic_with_records(&client, 2, 5);
    let group = unique_name("admin-offsets");
    let admin = client.admin();
    let wanted: BTreeMap<_, _> = [
        (TopicPartition::new(&topic, 0), 2),
        (TopicPartition::new(&topic, 1), 5),
    ]
    .into();
    let results = admin.alter_consumer_group_offsets(&group, &wanted).unwrap();
    assert!(results.values().all(Result::is_ok), "{results:?}");

    assert_eq!(admin.list_consumer_group_offsets(&group).unwrap(), wanted);
    let lag = admin.consumer_group_lag(&group).unwrap();
    let p0 = lag[&TopicPartition::new(&topic, 0)];
    assert_eq!((p0.committed, p0.high_watermark, p0.lag), (2, 5, 3));
    assert_eq!(lag[&TopicPartition::new(&topic, 1)].lag, 0);
}

#[test]
fn a_negative_offset_is_its_partitions_error_and_the_others_are_written() {
    let client = client();
    let topic = topic_with_records(&client, 2, 1);
    let group = unique_name("admin-bad-offset");
    let admin = client.admin();
    let good = TopicPartition::new(&topic, 0);
    let bad = TopicPartition::new(&topic, 1);
    let results = admin
        .alter_consumer_group_offsets(&group, &[(good.clone(), 1), (bad.clone(), -5)].into())
        .unwrap();
    assert!(results[&good].is_ok(), "{results:?}");
    let err = results[&bad].as_ref().unwrap_err();
    assert!(
        matches!(err, Error::Config(m) if m.contains(&topic) && m.contains("-5")),
        "{err}"
    );
    assert_eq!(
        admin.list_consumer_group_offsets(&group).unwrap(),
        [(good, 1)].into()
    );
}

#[test]
fn an_unknown_group_has_no_offsets() {
    let admin = client().admin();
    let offsets = admin
        .list_consumer_group_offsets(&unique_name("admin-nobody"))
        .unwrap();
    assert!(offsets.is_empty(), "{offsets:?}");
}

#[test]
fn an_unknown_group_is_described_without_members_or_not_found_by_name() {
    let admin = client().admin();
    let known_missing = unique_name("admin-missing");
    let described = admin.describe_consumer_groups(&[&known_missing]).unwrap();
    match &described[&known_missing] {
        Ok(d) => {
            // Kafka 2.x-3.x say `Dead`, tansu 0.6.0 says `Empty`.
            assert!(["Dead", "Empty"].contains(&d.state.as_str()), "{d:?}");
            assert!(d.members.is_empty());
        }
        Err(e) => {
            assert_eq!(e.code(), Some(ErrorCode::GroupIdNotFound), "{e}");
            assert!(e.to_string().contains(&known_missing), "{e}");
        }
    }
}

#[test]
fn deleting_groups_reports_each_groups_outcome() {
    let client = client();
    let topic = topic_with_records(&client, 1, 1);
    let group = unique_name("admin-delete");
    let missing = unique_name("admin-delete-missing");
    let admin = client.admin();
    let results = admin
        .alter_consumer_group_offsets(&group, &[(TopicPartition::new(&topic, 0), 1)].into())
        .unwrap();
    assert!(results.values().all(Result::is_ok), "{results:?}");

    let deleted = admin.delete_consumer_groups(&[&group, &missing]).unwrap();
    assert_eq!(deleted.len(), 2, "{deleted:?}");
    assert!(deleted[&group].is_ok(), "{deleted:?}");
    let left = admin.list_consumer_group_offsets(&group).unwrap();
    assert!(left.is_empty(), "offsets outlived their group: {left:?}");
    // Kafka answers GROUP_ID_NOT_FOUND; tansu 0.6.0 answers success.
    if let Err(e) = &deleted[&missing] {
        assert!(e.to_string().contains(&missing), "{e}");
    }
}

#[test]
fn deleting_offsets_is_answered_or_named_unsupported() {
    let client = client();
    let topic = topic_with_records(&client, 2, 1);
    let group = unique_name("admin-offset-delete");
    let admin = client.admin();
    let all: BTreeMap<_, _> = partitions(&topic, 2)
        .into_iter()
        .map(|tp| (tp, 1))
        .collect();
    admin.alter_consumer_group_offsets(&group, &all).unwrap();
    match admin.delete_consumer_group_offsets(&group, &[TopicPartition::new(&topic, 0)]) {
        Ok(results) => {
            assert!(results.values().all(Result::is_ok), "{results:?}");
            let left = admin.list_consumer_group_offsets(&group).unwrap();
            assert_eq!(left, [(TopicPartition::new(&topic, 1), 1)].into());
        }
        Err(Error::UnsupportedVersion { api, .. }) => {
            println!("the broker has no OffsetDelete");
            assert_eq!(api, "OffsetDelete")
        }
        Err(e) => panic!("{e:?}"),
    }
}

#[test]
fn confluent_kafka_reads_back_the_offsets_this_admin_wrote() {
    let client = client();
    let topic = topic_with_records(&client, 3, 4);
    let group = unique_name("admin-interop");
    let written: BTreeMap<_, _> = [
        (TopicPartition::new(&topic, 0), 1),
        (TopicPartition::new(&topic, 1), 3),
        (TopicPartition::new(&topic, 2), 4),
    ]
    .into();
    let results = client
        .admin()
        .alter_consumer_group_offsets(&group, &written)
        .unwrap();
    assert!(results.values().all(Result::is_ok), "{results:?}");

    let out = peer(&group, &topic, &["read", "3"]);
    let read: BTreeMap<TopicPartition, i64> = out
        .lines()
        .map(|line| {
            let (p, o) = line.split_once(' ').expect("`partition offset` lines");
            (
                TopicPartition::new(&topic, p.parse().unwrap()),
                o.parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(read, written);
}

#[test]
fn offsets_confluent_kafka_wrote_are_read_back_by_this_admin() {
    let client = client();
    let topic = topic_with_records(&client, 2, 3);
    let group = unique_name("admin-interop-reverse");
    peer(&group, &topic, &["write", "0=2", "1=3"]);
    let read = client.admin().list_consumer_group_offsets(&group).unwrap();
    let expected: BTreeMap<_, _> = [
        (TopicPartition::new(&topic, 0), 2),
        (TopicPartition::new(&topic, 1), 3),
    ]
    .into();
    assert_eq!(read, expected);
}

/// Runs `tests/peers/admin_group_offsets.py` (confluent-kafka's AdminClient)
/// on `group` and `topic`; returns its output.
fn peer(group: &str, topic: &str, args: &[&str]) -> String {
    let python = testkit::python_peers().expect("the Python peers are provisioned");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/peers/admin_group_offsets.py"
    );
    let out = Command::new(python)
        .arg(script)
        .args([bootstrap().as_str(), group, topic])
        .args(args)
        .output()
        .expect("the peer script runs");
    assert!(
        out.status.success(),
        "peer failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
