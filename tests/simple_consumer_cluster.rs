//! SimpleConsumer against a scripted fake cluster (tests/support/
//! fake_cluster.rs): offsets out of range under each reset policy, leader
//! moves, and a dead broker while another keeps serving.

mod support;

use std::time::{Duration, Instant};

use kafka_sync::consumer::IsolationLevel;
use kafka_sync::{
    ErrorCode, KafkaClient, Message, OffsetReset, SimpleConsumer, SimpleConsumerConfig,
};
use support::fake_cluster::FakeCluster;
use support::DEADLINE;

const TOPIC: &str = "events";

fn consumer(cluster: &FakeCluster, reset: OffsetReset) -> SimpleConsumer {
    let client = KafkaClient::builder()
        .hosts(cluster.bootstrap())
        .request_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    client
        .topic(TOPIC)
        .unwrap()
        .get_simple_consumer(SimpleConsumerConfig::default().auto_offset_reset(reset))
        .unwrap()
}

fn next(consumer: &SimpleConsumer) -> Message {
    consumer
        .consume(DEADLINE)
        .unwrap()
        .expect("a message within the deadline")
}

fn read(consumer: &SimpleConsumer, n: usize) -> Vec<(i32, i64, String)> {
    (0..n)
        .map(|_| {
            let m = next(consumer);
            let value = String::from_utf8_lossy(m.value_bytes()).into_owned();
            (m.partition(), m.offset(), value)
        })
        .collect()
}

#[test]
fn out_of_range_with_earliest_resets_to_the_log_start() {
    let cluster = FakeCluster::start(TOPIC, 1, &[1]);
    cluster.append(0, &["a", "b", "c", "d"]);
    let consumer = consumer(&cluster, OffsetReset::Earliest);
    assert_eq!(read(&consumer, 1), [(0, 0, "a".into())]);
    // Retention deletes records the consumer has not reached yet.
    cluster.truncate_before(0, 3);
    consumer.seek(0, 1).unwrap();
    assert_eq!(read(&consumer, 1), [(0, 3, "d".into())]);
}

#[test]
fn out_of_range_with_latest_resets_to_the_end() {
    let cluster = FakeCluster::start(TOPIC, 1, &[1]);
    cluster.append(0, &["a", "b", "c"]);
    let consumer = consumer(&cluster, OffsetReset::Latest);
    consumer.seek(0, 100).unwrap();
    // Once the reset has happened the position is the end of the log.
    let deadline = Instant::now() + DEADLINE;
    while consumer.position(0) != Some(3) {
        assert!(consumer
            .consume(Duration::from_millis(50))
            .unwrap()
            .is_none());
        assert!(
            Instant::now() < deadline,
            "never reset: {:?}",
            consumer.position(0)
        );
    }
    cluster.append(0, &["d"]);
    assert_eq!(read(&consumer, 1), [(0, 3, "d".into())]);
}

#[test]
fn out_of_range_with_policy_error_is_an_error_for_the_partition_until_a_seek() {
    let cluster = FakeCluster::start(TOPIC, 2, &[1, 2]);
    cluster.append(0, &["a", "b"]);
    cluster.append(1, &["x"]);
    let consumer = consumer(&cluster, OffsetReset::Error);
    consumer.seek(0, 0).unwrap();
    consumer.seek(1, 0).unwrap();
    let mut got = Vec::new();
    let mut first_round = read(&consumer, 3);
    first_round.sort();
    got.extend(first_round);
    assert_eq!(got.len(), 3);
    consumer.seek(0, 50).unwrap();
    let e = consumer.consume(DEADLINE).unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::OffsetOutOfRange), "{e}");
    assert!(
        e.to_string().contains("partition 0") && e.to_string().contains("50"),
        "{e}"
    );
    // The other partition still flows; partition 0 waits for a seek.
    cluster.append(1, &["y"]);
    assert_eq!(read(&consumer, 1), [(1, 1, "y".into())]);
    consumer.seek(0, 1).unwrap();
    assert_eq!(read(&consumer, 1), [(0, 1, "b".into())]);
}

#[test]
fn a_partition_follows_its_leader_to_another_broker() {
    let cluster = FakeCluster::start(TOPIC, 2, &[1]);
    cluster.append(0, &["a"]);
    let consumer = consumer(&cluster, OffsetReset::Earliest);
    assert_eq!(read(&consumer, 1), [(0, 0, "a".into())]);
    cluster.move_leader(0, 2);
    cluster.append(0, &["b", "c"]);
    assert_eq!(read(&consumer, 2), [(0, 1, "b".into()), (0, 2, "c".into())]);
}

#[test]
fn a_dead_broker_is_retried_while_the_other_brokers_partitions_keep_flowing() {
    let cluster = FakeCluster::start(TOPIC, 2, &[1, 2]);
    cluster.append(0, &["p0-a"]);
    cluster.append(1, &["p1-a"]);
    let consumer = consumer(&cluster, OffsetReset::Earliest);
    let mut first = read(&consumer, 2);
    first.sort();
    assert_eq!(first, [(0, 0, "p0-a".into()), (1, 0, "p1-a".into())]);

    cluster.set_down(1, true);
    cluster.append(0, &["p0-b"]);
    for i in 0..5 {
        cluster.append(1, &[&format!("p1-{i}")]);
        let started = Instant::now();
        assert_eq!(read(&consumer, 1), [(1, i + 1, format!("p1-{i}"))]);
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }

    cluster.set_down(1, false);
    assert_eq!(read(&consumer, 1), [(0, 1, "p0-b".into())]);
}

#[test]
fn read_committed_drops_aborted_transactions_and_never_delivers_markers() {
    let cluster = FakeCluster::start(TOPIC, 1, &[1]);
    cluster.append(0, &["plain"]);
    cluster.append_transaction(0, 7, &["aborted-a", "aborted-b"], false);
    cluster.append_transaction(0, 8, &["committed"], true);
    cluster.append_transaction(0, 7, &["aborted-c"], false);
    cluster.append(0, &["last"]);
    let read_all = |level: IsolationLevel| {
        let client = KafkaClient::new(&cluster.bootstrap()).unwrap();
        let consumer = client
            .topic(TOPIC)
            .unwrap()
            .get_simple_consumer(
                SimpleConsumerConfig::default()
                    .auto_offset_reset(OffsetReset::Earliest)
                    .isolation_level(level)
                    .consumer_timeout(Duration::from_millis(500)),
            )
            .unwrap();
        consumer
            .iter()
            .map(|m| {
                let m = m.unwrap();
                (
                    m.offset(),
                    String::from_utf8_lossy(m.value_bytes()).into_owned(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        read_all(IsolationLevel::ReadCommitted),
        [
            (0, "plain".into()),
            (4, "committed".into()),
            (8, "last".into())
        ]
    );
    assert_eq!(read_all(IsolationLevel::ReadUncommitted).len(), 6);
}

#[test]
fn a_broker_that_never_answers_does_not_stall_the_other_brokers_partitions() {
    let cluster = FakeCluster::start(TOPIC, 2, &[1, 2]);
    cluster.append(0, &["p0-a"]);
    cluster.append(1, &["p1-a"]);
    // Handshakes with the silent broker wait out the 5 s request timeout.
    let consumer = consumer(&cluster, OffsetReset::Earliest);
    assert_eq!(read(&consumer, 2).len(), 2);

    cluster.set_silent(1, true);
    cluster.append(0, &["p0-b"]);
    let started = Instant::now();
    for i in 0..8 {
        cluster.append(1, &[&format!("p1-{i}")]);
        assert_eq!(read(&consumer, 1), [(1, i + 1, format!("p1-{i}"))]);
    }
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );

    cluster.set_silent(1, false);
    assert_eq!(read(&consumer, 1), [(0, 1, "p0-b".into())]);
}
