//! The client against librdkafka's mock cluster (`testkit::MockCluster`): an
//! independent, multi-broker implementation of the protocol with replicated
//! partitions and injected faults.
#![cfg(feature = "testkit")]

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use kafka_sync::testkit::{unique_name, MockCluster};
use kafka_sync::{ApiKey, KafkaClient};
use support::fake_broker::dead_address;
use support::mock::{self, cluster, read_back, read_back_with, while_faulting};
use support::{DEADLINE, SHORT};

/// A client for the mock at `bootstrap` (`support::mock::client`);
/// `MOCK_TEST_LOG` sends the client's debug lines to stderr.
fn mock_client(bootstrap: &str) -> KafkaClient {
    support::log_to_stderr_if("MOCK_TEST_LOG");
    mock::client(bootstrap)
}

#[test]
fn client_bootstraps_past_a_dead_first_host_and_sees_three_brokers() {
    let cluster = cluster();
    let client = mock_client(&format!("{},{}", dead_address(), cluster.bootstrap()));
    let ids: BTreeSet<i32> = client.brokers().iter().map(|b| b.id).collect();
    assert_eq!(ids, BTreeSet::from([1, 2, 3]));
}

#[test]
fn metadata_shows_replicated_partitions_led_where_the_cluster_put_them() {
    let cluster = cluster();
    let topic = unique_name("mock-spread");
    cluster.create_topic(&topic, 6, 3).unwrap();
    // The mock places leaders at random; spread them deterministically.
    for partition in 0..6 {
        cluster
            .set_leader(&topic, partition, partition % 3 + 1)
            .unwrap();
    }
    let client = mock_client(cluster.bootstrap());
    let partitions = client.topic(&topic).unwrap().partitions();
    assert_eq!(partitions.len(), 6);
    for p in &partitions {
        assert_eq!(p.leader, Some(p.id % 3 + 1), "{p:?}");
        assert_eq!(p.replicas.len(), 3, "{p:?}");
    }
}

#[test]
fn a_refused_command_is_a_typed_error_naming_the_command() {
    let cluster = cluster();
    let err = cluster.broker_down(42).unwrap_err();
    let text = err.to_string();
    assert!(err.code().is_some(), "{err:?}");
    assert!(text.contains("broker_set_down(42)"), "{text}");
}

#[test]
fn dropping_the_cluster_stops_its_brokers() {
    let cluster = cluster();
    let first = cluster.bootstrap().split(',').next().unwrap().to_owned();
    let address: std::net::SocketAddr = first.parse().unwrap();
    std::net::TcpStream::connect_timeout(&address, Duration::from_secs(1))
        .expect("the mock's broker 1 accepts connections");
    drop(cluster);
    assert!(
        std::net::TcpStream::connect_timeout(&address, Duration::from_secs(1)).is_err(),
        "broker 1 still listens after drop"
    );
}

#[test]
fn a_one_member_group_gets_every_partition_and_reads_them() {
    use kafka_sync::{BalancedConsumerConfig, OffsetReset, TopicPartition};
    let cluster = cluster();
    let topic = unique_name("mock-group");
    cluster.create_topic(&topic, 4, 3).unwrap();
    let client = mock_client(cluster.bootstrap());
    let producer = client
        .topic(&topic)
        .unwrap()
        .get_producer(kafka_sync::ProducerConfig::default())
        .unwrap();
    for i in 0..40 {
        producer
            .produce_keyed(format!("k{i}"), format!("v{i}"))
            .unwrap();
    }
    producer.producer().flush(DEADLINE).unwrap();
    let consumer = client
        .topic(&topic)
        .unwrap()
        .get_balanced_consumer(
            &unique_name("mock-group"),
            BalancedConsumerConfig::default()
                .auto_offset_reset(OffsetReset::Earliest)
                .session_timeout(Duration::from_secs(6))
                .heartbeat_interval(Duration::from_millis(500)),
        )
        .unwrap();
    let want: BTreeSet<TopicPartition> = (0..4).map(|p| TopicPartition::new(&topic, p)).collect();
    let mut values = BTreeSet::new();
    let deadline = std::time::Instant::now() + DEADLINE;
    while values.len() < 40 {
        assert!(
            std::time::Instant::now() < deadline,
            "read {} of 40 records; assignment {:?}",
            values.len(),
            consumer.assignment()
        );
        if let Some(message) = consumer.consume(Duration::from_millis(200)).unwrap() {
            values.insert(String::from_utf8_lossy(message.value_bytes()).into_owned());
        }
    }
    assert_eq!(consumer.assignment(), want);
    consumer.close().unwrap();
}

// ---- the producer through faults: exactly once, in order, on the murmur2 partition ----

use std::collections::BTreeMap;
use std::time::Instant;

use kafka_sync::producer::{murmur2_partition, ProducerMetrics};
use kafka_sync::{Acks, ErrorCode, OffsetReset, ProducerConfig, SimpleConsumerConfig};

/// Distinct keys in a run; records of one key go to one partition.
const KEYS: usize = 500;

/// The `i`-th record of a run: key `k{i % KEYS}`, value `v{i}`.
fn record(i: usize) -> (String, String) {
    (format!("k{}", i % KEYS), format!("v{i}"))
}

/// What each partition must hold afterwards: the values of the records whose
/// key murmur2 puts there, in the order they were produced.
fn expected(records: usize, partitions: i32) -> BTreeMap<i32, Vec<String>> {
    let mut out: BTreeMap<i32, Vec<String>> = (0..partitions).map(|p| (p, Vec::new())).collect();
    for i in 0..records {
        let (key, value) = record(i);
        let partition = murmur2_partition(key.as_bytes(), partitions);
        out.get_mut(&partition).unwrap().push(value);
    }
    out
}

/// Produces `records` keyed records at about `rate` per second with an
/// idempotent acks=all producer while `fault` runs on another thread (called
/// every `period` until producing is done), then flushes. Returns how many
/// delivery reports were errors (the first few printed) and the producer's
/// metrics.
fn produce_through(
    client: &KafkaClient,
    topic: &str,
    records: usize,
    rate: usize,
    period: Duration,
    fault: impl Fn(usize) + Send + Sync,
) -> (usize, ProducerMetrics) {
    let config = ProducerConfig::default()
        .acks(Acks::All)
        .idempotence(Some(true));
    produce_through_with(client, topic, config, records, rate, period, fault)
}

/// [`produce_through`] with a producer configured by `config` (linger,
/// delivery timeout and reports are set here).
fn produce_through_with(
    client: &KafkaClient,
    topic: &str,
    config: ProducerConfig,
    records: usize,
    rate: usize,
    period: Duration,
    fault: impl Fn(usize) + Send + Sync,
) -> (usize, ProducerMetrics) {
    let producer = client
        .topic(topic)
        .unwrap()
        .get_producer(
            config
                .linger(Duration::from_millis(5))
                .delivery_timeout(Duration::from_secs(45))
                .delivery_reports(true),
        )
        .unwrap();
    let failed = std::thread::scope(|s| {
        let reports = producer.producer().delivery_reports().clone();
        let drain = s.spawn(move || mock::count_failed_reports(&reports, records));
        while_faulting(period, fault, || {
            let started = Instant::now();
            for i in 0..records {
                let (key, value) = record(i);
                producer.produce_keyed(key, value).unwrap();
                // Pace: record i is due at i / rate seconds.
                let due = started + Duration::from_secs_f64(i as f64 / rate as f64);
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
            }
        });
        producer
            .producer()
            .flush(DEADLINE)
            .expect("flush completes");
        drain.join().unwrap()
    });
    let metrics = producer.producer().metrics();
    drop(producer);
    (failed, metrics)
}

/// Every record exactly once, in production order, on its key's murmur2
/// partition; reports how far off a failing partition is.
fn assert_exactly_once_in_order(
    got: &BTreeMap<i32, Vec<String>>,
    want: &BTreeMap<i32, Vec<String>>,
) {
    for (partition, want) in want {
        let got = &got[partition];
        if got != want {
            let first_difference = got.iter().zip(want).position(|(a, b)| a != b);
            let distinct: BTreeSet<&String> = got.iter().collect();
            panic!(
                "partition {partition}: {} records read ({} distinct), {} expected; first \
                 difference at index {first_difference:?}",
                got.len(),
                distinct.len(),
                want.len()
            );
        }
    }
}

/// A topic on `cluster` with 6 partitions and 3 replicas, partition `p`
/// led by broker `p % 3 + 1` (the mock itself places leaders at random), so
/// every broker leads two.
fn fault_topic(cluster: &MockCluster, prefix: &str) -> String {
    let topic = unique_name(prefix);
    cluster.create_topic(&topic, 6, 3).unwrap();
    for partition in 0..6 {
        cluster
            .set_leader(&topic, partition, partition % 3 + 1)
            .unwrap();
    }
    topic
}

/// One record batch as stored in a partition's log.
struct StoredBatch {
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    values: Vec<String>,
}

/// Every batch of `topic`/`partition`, read raw from its leader.
fn stored_batches(client: &KafkaClient, topic: &str, partition: i32) -> Vec<StoredBatch> {
    client.refresh_metadata().unwrap();
    let meta = client.topic(topic).unwrap().metadata().unwrap();
    let leader = meta.partition(partition).and_then(|p| p.leader).unwrap();
    let conn = client.connection(leader).unwrap();
    let mut out = Vec::new();
    let mut offset = 0;
    loop {
        let mut progressed = false;
        let from = offset;
        support::fetch_batches(
            &conn,
            topic,
            meta.topic_id,
            partition,
            from,
            0,
            1 << 20,
            |batch| {
                let h = *batch.header();
                if h.base_offset < offset {
                    return;
                }
                offset = h.base_offset + i64::from(h.last_offset_delta) + 1;
                progressed = true;
                let values = batch
                    .records()
                    .unwrap()
                    .map(|r| {
                        String::from_utf8_lossy(r.unwrap().value.unwrap_or_default()).into_owned()
                    })
                    .collect();
                out.push(StoredBatch {
                    producer_id: h.producer_id,
                    producer_epoch: h.producer_epoch,
                    base_sequence: h.base_sequence,
                    values,
                });
            },
        );
        if !progressed {
            return out;
        }
    }
}

/// What each partition's log holds once batches stored again with the
/// producer id, epoch and sequence of one already stored are dropped, as a
/// Kafka broker drops them; and how many such batches there were.
/// librdkafka's mock checks sequences for transactional producers only
/// (`rd_kafka_mock_validate_records` returns early without a transactional
/// id), so an idempotent batch whose answer a dropped connection lost is
/// stored twice there when the producer resends it.
fn logs_by_sequence(
    client: &KafkaClient,
    topic: &str,
    partitions: i32,
) -> (BTreeMap<i32, Vec<String>>, usize) {
    let mut resent = 0;
    let mut logs = BTreeMap::new();
    for partition in 0..partitions {
        let mut seen = BTreeSet::new();
        let mut values = Vec::new();
        for batch in stored_batches(client, topic, partition) {
            if seen.insert((batch.producer_id, batch.producer_epoch, batch.base_sequence)) {
                values.extend(batch.values);
            } else {
                resent += 1;
            }
        }
        logs.insert(partition, values);
    }
    (logs, resent)
}

#[test]
fn idempotent_producer_delivers_exactly_once_in_order_through_leader_moves() {
    let cluster = cluster();
    let topic = fault_topic(&cluster, "mock-leader-moves");
    let client = mock_client(cluster.bootstrap());
    let records = 20_000;
    let (failed, metrics) = produce_through(
        &client,
        &topic,
        records,
        4_000,
        Duration::from_millis(700),
        |round| {
            // Every partition moves to the next broker.
            for partition in 0..6 {
                let broker = (partition + round as i32) % 3 + 1;
                cluster.set_leader(&topic, partition, broker).unwrap();
            }
        },
    );
    assert_eq!(failed, 0, "records failed");
    assert!(
        metrics.records_retried > 0,
        "the leader moves caused no retry: {metrics:?}"
    );
    let want = expected(records, 6);
    assert_exactly_once_in_order(&read_back(&client, &topic, &want), &want);
}

#[test]
fn idempotent_producer_retries_not_leader_answers_without_duplicates() {
    let cluster = cluster();
    let topic = fault_topic(&cluster, "mock-not-leader");
    let client = mock_client(cluster.bootstrap());
    let records = 10_000;
    let (failed, metrics) = produce_through(
        &client,
        &topic,
        records,
        4_000,
        Duration::from_millis(300),
        |_| {
            cluster
                .request_errors(
                    ApiKey::Produce,
                    &[
                        ErrorCode::NotLeaderOrFollower,
                        ErrorCode::NotLeaderOrFollower,
                    ],
                )
                .unwrap();
        },
    );
    assert_eq!(failed, 0, "records failed");
    assert!(
        metrics.records_retried > 0,
        "the injected errors caused no retry: {metrics:?}"
    );
    let want = expected(records, 6);
    assert_exactly_once_in_order(&read_back(&client, &topic, &want), &want);
}

#[test]
fn idempotent_producer_rides_out_a_broker_outage() {
    let cluster = cluster();
    let topic = fault_topic(&cluster, "mock-outage");
    let client = mock_client(cluster.bootstrap());
    let records = 12_000;
    let (failed, metrics) = produce_through(
        &client,
        &topic,
        records,
        3_000,
        Duration::from_secs(1),
        |round| {
            // Broker 2 is down from the first second to the third.
            match round {
                1 => cluster.broker_down(2).unwrap(),
                3 => cluster.broker_up(2).unwrap(),
                _ => {}
            }
        },
    );
    cluster.broker_up(2).unwrap();
    assert_eq!(failed, 0, "records failed");
    assert!(
        metrics.records_retried > 0,
        "the outage caused no retry: {metrics:?}"
    );
    // Stored once per sequence, in order, on the murmur2 partition. Batches
    // the mock stored twice (see `logs_by_sequence`) are resends with the
    // same sequence, which a Kafka broker drops; they are counted.
    let want = expected(records, 6);
    let (logs, resent) = logs_by_sequence(&client, &topic, 6);
    eprintln!("outage: {resent} batches resent with their sequence and stored again by the mock");
    assert_exactly_once_in_order(&logs, &want);
}

#[test]
fn idempotent_producer_keeps_order_with_a_300ms_round_trip() {
    let cluster = cluster();
    let topic = fault_topic(&cluster, "mock-rtt");
    let client = mock_client(cluster.bootstrap());
    cluster
        .round_trip_time(-1, Duration::from_millis(300))
        .unwrap();
    let records = 5_000;
    let (failed, metrics) = produce_through(
        &client,
        &topic,
        records,
        2_500,
        Duration::from_secs(1),
        |_| {},
    );
    assert_eq!(failed, 0, "records failed");
    assert_eq!(metrics.records_sent, records as u64, "{metrics:?}");
    cluster.round_trip_time(-1, Duration::ZERO).unwrap();
    let want = expected(records, 6);
    assert_exactly_once_in_order(&read_back(&client, &topic, &want), &want);
}

#[test]
fn acks_one_producer_loses_nothing_through_leader_moves() {
    let cluster = cluster();
    let topic = fault_topic(&cluster, "mock-acks1-moves");
    let client = mock_client(cluster.bootstrap());
    let records = 10_000;
    let config = ProducerConfig::default()
        .acks(Acks::Leader)
        .idempotence(Some(false));
    let (failed, metrics) = produce_through_with(
        &client,
        &topic,
        config,
        records,
        4_000,
        Duration::from_millis(500),
        |round| {
            for partition in 0..6 {
                let broker = (partition + round as i32) % 3 + 1;
                cluster.set_leader(&topic, partition, broker).unwrap();
            }
        },
    );
    assert_eq!(failed, 0, "records failed");
    assert!(
        metrics.records_retried > 0,
        "the leader moves caused no retry: {metrics:?}"
    );
    // At least once: every record on its partition; duplicates and
    // reordering are allowed without idempotence, and counted.
    let want = expected(records, 6);
    let got = read_back(&client, &topic, &want);
    let (duplicates, out_of_order) = mock::duplicates_and_inversions(&got, &want);
    eprintln!("acks=1 through leader moves: {duplicates} duplicates, {out_of_order} out of order");
}

#[test]
fn acks_zero_producer_delivers_everything_in_order_without_faults() {
    let cluster = cluster();
    let topic = fault_topic(&cluster, "mock-acks0");
    let client = mock_client(cluster.bootstrap());
    let records = 5_000;
    let config = ProducerConfig::default()
        .acks(Acks::None)
        .idempotence(Some(false));
    let (failed, metrics) =
        produce_through_with(&client, &topic, config, records, 5_000, DEADLINE, |_| {});
    assert_eq!(failed, 0, "records failed");
    assert_eq!(metrics.records_sent, records as u64, "{metrics:?}");
    let want = expected(records, 6);
    assert_exactly_once_in_order(&read_back(&client, &topic, &want), &want);
}

// ---- consumers through faults ----

/// Produces `records` keyed records without faults and returns what each
/// partition holds.
fn fill(client: &KafkaClient, topic: &str, records: usize) -> BTreeMap<i32, Vec<String>> {
    let (failed, _) = produce_through(client, topic, records, 1_000_000, DEADLINE, |_| {});
    assert_eq!(failed, 0, "records failed");
    expected(records, 6)
}

/// Small fetches, so that reading takes many round trips and faults land
/// in the middle of it.
fn slow_reader() -> SimpleConsumerConfig {
    SimpleConsumerConfig::default()
        .max_partition_fetch_bytes(2048)
        .fetch_max_bytes(4096)
        .fetch_max_wait(Duration::from_millis(50))
}

#[test]
fn simple_consumer_reads_everything_once_in_order_through_leader_moves() {
    let cluster = cluster();
    let topic = fault_topic(&cluster, "mock-consume-moves");
    let client = mock_client(cluster.bootstrap());
    let want = fill(&client, &topic, 20_000);
    let (got, rounds) = while_faulting(
        Duration::from_millis(200),
        |round| {
            for partition in 0..6 {
                let broker = (partition + round as i32) % 3 + 1;
                cluster.set_leader(&topic, partition, broker).unwrap();
            }
        },
        || read_back_with(&client, &topic, &want, slow_reader()),
    );
    assert!(
        rounds >= 3,
        "only {rounds} leader moves happened while reading"
    );
    assert_exactly_once_in_order(&got, &want);
}

#[test]
fn simple_consumer_reads_everything_once_in_order_through_a_broker_outage() {
    let cluster = cluster();
    let topic = fault_topic(&cluster, "mock-consume-outage");
    let client = mock_client(cluster.bootstrap());
    let want = fill(&client, &topic, 20_000);
    // Broker 3 leads two partitions; it is down when reading starts and
    // comes back after two seconds, so their records can only come late.
    cluster.broker_down(3).unwrap();
    let started = Instant::now();
    let (got, rounds) = while_faulting(
        Duration::from_secs(2),
        |round| {
            if round == 1 {
                cluster.broker_up(3).unwrap();
            }
        },
        || read_back_with(&client, &topic, &want, slow_reader()),
    );
    cluster.broker_up(3).unwrap();
    assert!(rounds >= 1 && started.elapsed() >= Duration::from_secs(2));
    assert_exactly_once_in_order(&got, &want);
}

#[test]
fn committed_offsets_survive_coordinator_moves() {
    use kafka_sync::testkit::CoordinatorKind;
    let cluster = cluster();
    let topic = fault_topic(&cluster, "mock-commit-moves");
    let client = mock_client(cluster.bootstrap());
    let want = fill(&client, &topic, 3_000);
    let group = unique_name("mock-commit-group");
    let consumer = client
        .topic(&topic)
        .unwrap()
        .get_simple_consumer(
            SimpleConsumerConfig::default()
                .consumer_group(group.clone())
                .enable_auto_commit(false)
                .partitions(0..6)
                .auto_offset_reset(OffsetReset::Earliest),
        )
        .unwrap();
    let mut read = 0;
    let deadline = Instant::now() + DEADLINE;
    for coordinator in [1, 2, 3, 1, 2, 3] {
        // Read a sixth, then commit through a coordinator that just moved.
        let target = read + 500;
        while read < target {
            assert!(Instant::now() < deadline, "read {read} records");
            if consumer
                .consume(Duration::from_millis(200))
                .unwrap()
                .is_some()
            {
                read += 1;
            }
        }
        cluster
            .set_coordinator(CoordinatorKind::Group, &group, coordinator)
            .unwrap();
        consumer
            .commit_offsets()
            .expect("the commit follows the coordinator");
        let committed = consumer.committed_offsets().unwrap();
        for (partition, position) in consumer.positions() {
            assert_eq!(
                committed[&partition],
                Some(position),
                "partition {partition}"
            );
        }
    }
    drop(consumer);
    // A new member of the group starts where the old one committed: at the end.
    let resumed = client
        .topic(&topic)
        .unwrap()
        .get_simple_consumer(
            SimpleConsumerConfig::default()
                .consumer_group(group)
                .partitions(0..6)
                .auto_offset_reset(OffsetReset::Earliest),
        )
        .unwrap();
    let committed = resumed.committed_offsets().unwrap();
    for (partition, values) in &want {
        assert_eq!(
            committed[partition],
            Some(values.len() as i64),
            "partition {partition}"
        );
    }
    assert!(resumed
        .consume(Duration::from_millis(500))
        .unwrap()
        .is_none());
}

// ---- the helper process never outlives its owner ----

/// Run by `the_mock_cluster_dies_with_a_killed_owner`: starts a cluster,
/// prints its bootstrap list and waits to be killed.
#[test]
#[ignore = "run as a child process by the_mock_cluster_dies_with_a_killed_owner"]
fn owner_child() {
    if !support::is_child("owner_child") {
        return;
    }
    let cluster = cluster();
    println!("bootstrap={}", cluster.bootstrap());
    std::thread::sleep(DEADLINE);
}

#[test]
fn the_mock_cluster_dies_with_a_killed_owner() {
    use std::io::BufRead;
    let mut child = support::child_test("owner_child")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let bootstrap = stdout
        .lines()
        .map_while(Result::ok)
        .find_map(|l| l.split_once("bootstrap=").map(|(_, b)| b.to_owned()))
        .expect("the child printed its cluster's bootstrap list");
    let address: std::net::SocketAddr = bootstrap.split(',').next().unwrap().parse().unwrap();
    std::net::TcpStream::connect_timeout(&address, Duration::from_secs(1))
        .expect("the child's cluster answers");
    child.kill().unwrap(); // SIGKILL: no destructor runs
    child.wait().unwrap();
    let deadline = Instant::now() + SHORT;
    while std::net::TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
        assert!(
            Instant::now() < deadline,
            "the mock cluster outlived its owner"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ---- a consumer group of three through coordinator moves and an outage ----

#[test]
fn three_members_share_the_partitions_through_coordinator_moves_and_its_outage() {
    use kafka_sync::testkit::CoordinatorKind;
    use kafka_sync::{BalancedConsumer, BalancedConsumerConfig, TopicPartition};
    use std::sync::Arc;

    let cluster = cluster();
    let topic = fault_topic(&cluster, "mock-group-faults");
    let client = mock_client(cluster.bootstrap());
    let group = unique_name("mock-group-faults");
    cluster
        .set_coordinator(CoordinatorKind::Group, &group, 1)
        .unwrap();
    let member = || {
        Arc::new(
            client
                .topic(&topic)
                .unwrap()
                .get_balanced_consumer(
                    &group,
                    BalancedConsumerConfig::default()
                        .auto_offset_reset(OffsetReset::Earliest)
                        .session_timeout(Duration::from_secs(10))
                        .heartbeat_interval(Duration::from_millis(500))
                        .auto_commit(Duration::from_millis(500)),
                )
                .unwrap(),
        )
    };
    let members: Vec<Arc<BalancedConsumer>> = (0..3).map(|_| member()).collect();
    let all: BTreeSet<TopicPartition> = (0..6).map(|p| TopicPartition::new(&topic, p)).collect();

    // A stable point: every member in the same generation, and the
    // assignments, read twice in a row alike, are disjoint and cover the topic.
    let stable_split =
        |members: &[Arc<BalancedConsumer>]| -> Option<Vec<BTreeSet<TopicPartition>>> {
            let first: Vec<_> = members
                .iter()
                .map(|m| (m.generation(), m.assignment()))
                .collect();
            std::thread::sleep(Duration::from_millis(200));
            let second: Vec<_> = members
                .iter()
                .map(|m| (m.generation(), m.assignment()))
                .collect();
            let generations: BTreeSet<i32> = second.iter().map(|(g, _)| *g).collect();
            if first != second || generations.len() != 1 {
                return None;
            }
            let sets: Vec<BTreeSet<TopicPartition>> = second.into_iter().map(|(_, a)| a).collect();
            let union: BTreeSet<TopicPartition> = sets.iter().flatten().cloned().collect();
            (union == all).then_some(sets)
        };
    let assert_no_two_owners = |sets: &[BTreeSet<TopicPartition>]| {
        let total: usize = sets.iter().map(BTreeSet::len).sum();
        assert_eq!(
            total, 6,
            "a partition has two owners at a stable point: {sets:?}"
        );
    };

    // Each value read, with who read it where.
    type Read = (usize, i32, i64); // (member, partition, offset)
    let seen: parking_lot::Mutex<BTreeMap<String, Vec<Read>>> = Default::default();
    let records = 6_000;
    let (stop, stopped) = crossbeam_channel::bounded::<()>(0);
    let mut stable_points = 0;
    let first_generation = std::cell::Cell::new(0);
    std::thread::scope(|s| {
        for (index, m) in members.iter().enumerate() {
            let m = Arc::clone(m);
            let stopped = stopped.clone();
            let seen = &seen;
            s.spawn(move || {
                while stopped.try_recv() != Err(crossbeam_channel::TryRecvError::Disconnected) {
                    if let Ok(Some(message)) = m.consume(Duration::from_millis(100)) {
                        let value = String::from_utf8_lossy(message.value_bytes()).into_owned();
                        seen.lock().entry(value).or_default().push((
                            index,
                            message.partition(),
                            message.offset(),
                        ));
                    }
                }
            });
        }
        // Wait for the first stable split before the faults start.
        let deadline = Instant::now() + DEADLINE;
        loop {
            assert!(Instant::now() < deadline, "the group never became stable");
            if let Some(sets) = stable_split(&members) {
                assert_no_two_owners(&sets);
                stable_points += 1;
                first_generation.set(members[0].generation());
                break;
            }
        }
        // Meanwhile, check every stable point.
        let sampler = {
            let stopped = stopped.clone();
            let members = &members;
            let stable_split = &stable_split;
            let assert_no_two_owners = &assert_no_two_owners;
            s.spawn(move || {
                let mut points = 0;
                while stopped.try_recv() != Err(crossbeam_channel::TryRecvError::Disconnected) {
                    if let Some(sets) = stable_split(members) {
                        assert_no_two_owners(&sets);
                        points += 1;
                    }
                }
                points
            })
        };
        // Produce for ~12 s while the coordinator moves 1 → 2 → 3 and then
        // broker 3 (the coordinator) is down for 3 s.
        let (failed, _) = produce_through(
            &client,
            &topic,
            records,
            500,
            Duration::from_secs(2),
            |round| match round {
                1 => cluster
                    .set_coordinator(CoordinatorKind::Group, &group, 2)
                    .unwrap(),
                2 => cluster
                    .set_coordinator(CoordinatorKind::Group, &group, 3)
                    .unwrap(),
                3 => cluster.broker_down(3).unwrap(),
                4 => {}
                5 => cluster.broker_up(3).unwrap(),
                _ => {}
            },
        );
        cluster.broker_up(3).unwrap();
        assert_eq!(failed, 0, "records failed");
        // Everything read, and the group stable again without two owners.
        let deadline = Instant::now() + DEADLINE;
        loop {
            let read = seen.lock().len();
            assert!(
                Instant::now() < deadline,
                "read {read} of {records} distinct records"
            );
            if read == records {
                if let Some(sets) = stable_split(&members) {
                    assert_no_two_owners(&sets);
                    stable_points += 1;
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        drop(stop);
        stable_points += sampler.join().unwrap();
    });
    let seen = seen.into_inner();
    let duplicates: usize = seen.values().map(|reads| reads.len() - 1).sum();
    for (value, reads) in seen.iter().filter(|(_, reads)| reads.len() > 1).take(10) {
        eprintln!("{value} read as (member, partition, offset) {reads:?}");
    }
    eprintln!(
        "3 members through coordinator moves and its outage: {records} records, {duplicates} \
         read more than once (at least once allows them), {stable_points} stable points checked, \
         generation {} to {}",
        first_generation.get(),
        members[0].generation()
    );
    let want: BTreeSet<String> = (0..records).map(|i| record(i).1).collect();
    assert_eq!(seen.keys().cloned().collect::<BTreeSet<_>>(), want);
    // The producer's side: once per sequence (see `logs_by_sequence`). A
    // client of its own: the members' 500 ms long polls would queue every
    // one of these fetches behind them on the shared connections.
    let reader = mock_client(cluster.bootstrap());
    let (logs, resent) = logs_by_sequence(&reader, &topic, 6);
    eprintln!("{resent} batches resent with their sequence and stored again by the mock");
    assert_exactly_once_in_order(&logs, &expected(records, 6));
    // Closing one member rebalances the others, so a later member's final
    // commit can meet REBALANCE_IN_PROGRESS; close() logs that, as the Java
    // client does, and succeeds.
    for m in members {
        let Ok(member) = Arc::try_unwrap(m) else {
            panic!("a thread still holds a member");
        };
        member
            .close()
            .expect("close succeeds even when the group moved on");
    }
}
