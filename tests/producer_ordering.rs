//! Per-partition order and exactly-once delivery when batches fail with
//! several of the same partition in flight (issue 12, M2 and M3), on
//! librdkafka's mock cluster (`testkit::MockCluster`).
//!
//! The mock checks no sequence numbers for a producer without a
//! transactional id, and writes whatever it accepts: a broker that refuses
//! one batch and accepts the next one behind it reorders the log whatever the
//! client does. So every fault here comes as a burst of errors for the next
//! requests to the partitions' leader, longer than what is in flight: the
//! batches behind a failed one fail too, as they would on a Kafka broker
//! (which refuses a sequence gap), and the end of a burst lands on the
//! client's retries. Injected errors are answered instead of writing, so a
//! batch resent after one was not written before, and a record read twice
//! is a client bug.
#![cfg(feature = "testkit")]

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kafka_sync::testkit::{unique_name, MockCluster};
use kafka_sync::{Acks, ApiKey, ErrorCode, KafkaClient, ProducerConfig, Record};
use support::mock::{self, duplicates_and_inversions, read_back, while_faulting};
use support::LONG;

/// The broker that leads the faulted partitions.
const LEADER: i32 = 1;

/// A 3-broker mock cluster and a client for it (`support::mock::client`);
/// `ORDER_TEST_LOG` sends the client's debug lines to stderr.
fn cluster() -> (MockCluster, KafkaClient) {
    support::log_to_stderr_if("ORDER_TEST_LOG");
    let cluster = MockCluster::builder()
        .brokers(3)
        .start()
        .expect("the mock cluster starts");
    let client = mock::client(cluster.bootstrap());
    (cluster, client)
}

/// A topic whose partitions 0 and 1 are led by [`LEADER`] (so one request
/// carries batches of both) and partition 2 by another broker.
fn topic(cluster: &MockCluster, prefix: &str) -> String {
    let topic = unique_name(prefix);
    cluster.create_topic(&topic, 3, 3).unwrap();
    for (partition, broker) in [(0, LEADER), (1, LEADER), (2, LEADER % 3 + 1)] {
        cluster.set_leader(&topic, partition, broker).unwrap();
    }
    topic
}

/// Many small batches per partition in flight: no linger, a small batch
/// size, five requests in flight, quick retries (so a client that resends
/// before what is in flight has come back shows it).
fn pipelining(config: ProducerConfig) -> ProducerConfig {
    config
        .linger(Duration::ZERO)
        .batch_size(256)
        .max_in_flight(5)
        .retry_backoff(Duration::from_millis(2), Duration::from_millis(20))
        .request_timeout(Duration::from_millis(800))
        .delivery_timeout(Duration::from_secs(50))
        .delivery_reports(true)
}

fn idempotent() -> ProducerConfig {
    pipelining(ProducerConfig::default())
        .acks(Acks::All)
        .idempotence(Some(true))
}

fn acks_one() -> ProducerConfig {
    pipelining(ProducerConfig::default())
        .acks(Acks::Leader)
        .idempotence(Some(false))
}

/// The errors of one fault: `code` for the next `count` Produce requests to
/// [`LEADER`], the first answered after `delay`.
fn burst(code: ErrorCode, delay: Duration, count: usize) -> Vec<(ErrorCode, Duration)> {
    (0..count)
        .map(|i| (code, if i == 0 { delay } else { Duration::ZERO }))
        .collect()
}

/// What a run saw.
struct Run {
    /// Values per partition, in the order they were produced.
    sent: BTreeMap<i32, Vec<String>>,
    /// Failed delivery reports.
    failed: usize,
    retried: u64,
    faults: usize,
}

/// Produces `records` records round robin over the 3 partitions, one every
/// `pace`, while `fault(round)` runs every `period` on another thread; then
/// stops the faults and waits for every delivery report.
#[allow(clippy::too_many_arguments)]
fn produce(
    client: &KafkaClient,
    topic: &str,
    config: ProducerConfig,
    records: usize,
    pace: Duration,
    period: Duration,
    fault: impl Fn(usize) + Send + Sync,
) -> Run {
    let producer = client.get_producer(config).unwrap();
    let mut sent: BTreeMap<i32, Vec<String>> = (0..3).map(|p| (p, Vec::new())).collect();
    let (failed, faults) = std::thread::scope(|s| {
        let reports = producer.delivery_reports().clone();
        let drain = s.spawn(move || mock::count_failed_reports(&reports, records));
        // No faults while the last batches are delivered (`while_faulting`
        // stops them when producing is done): a burst for a broker that
        // leads nothing at the moment waits for its next requests, and
        // would all be spent on the last few batches.
        let ((), faults) = while_faulting(period, fault, || {
            let started = Instant::now();
            for i in 0..records {
                let partition = (i % 3) as i32;
                let value = format!("v{i}");
                sent.get_mut(&partition).unwrap().push(value.clone());
                producer
                    .send(topic, Record::new(value).partition(partition))
                    .unwrap();
                // Paced: faults land mid-stream.
                let due = started + pace * i as u32;
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
            }
        });
        producer.flush(LONG).expect("flush completes");
        (drain.join().unwrap(), faults)
    });
    let retried = producer.metrics().records_retried;
    Run {
        sent,
        failed,
        retried,
        faults,
    }
}

/// Every record reported delivered, read back exactly once, in order.
fn assert_exactly_once_in_order(client: &KafkaClient, topic: &str, run: &Run) {
    assert_eq!(run.failed, 0, "records failed");
    assert!(run.faults > 0 && run.retried > 0, "no fault caused a retry");
    let got = read_back(client, topic, &run.sent);
    let (duplicates, inversions) = duplicates_and_inversions(&got, &run.sent);
    if (duplicates, inversions) != (0, 0) {
        for (partition, values) in &got {
            let mut seen = BTreeMap::new();
            for (i, v) in values.iter().enumerate() {
                if let Some(first) = seen.insert(v, i) {
                    eprintln!(
                        "partition {partition}: {v} at {first} and {i}: around {:?}",
                        &values[i.saturating_sub(3)..(i + 3).min(values.len())]
                    );
                    break;
                }
            }
        }
    }
    assert_eq!(
        (duplicates, inversions),
        (0, 0),
        "duplicates and out-of-order pairs read back (after {} faults)",
        run.faults
    );
}

/// Round `round` of a fault: `errors` for the next Produce requests to the
/// broker leading partitions 0 and 1, which then move to another broker
/// (between [`LEADER`] and broker 3), as when a slow leader loses its
/// leadership with requests in flight.
fn fault(cluster: &MockCluster, topic: &str, errors: &[(ErrorCode, Duration)], round: usize) {
    let (from, to) = if round % 2 == 1 {
        (LEADER, 3)
    } else {
        (3, LEADER)
    };
    cluster
        .broker_request_errors(from, ApiKey::Produce, errors)
        .unwrap();
    for partition in [0, 1] {
        cluster.set_leader(topic, partition, to).unwrap();
    }
}

/// The first request fails soon (after the leader has moved, so that its
/// retry goes to the new leader); the ones behind it, in flight on the same
/// connection, fail after `delay`.
fn first_then_late(first: ErrorCode, delay: Duration) -> Vec<(ErrorCode, Duration)> {
    let mut errors = vec![(first, Duration::from_millis(50))];
    errors.extend(burst(ErrorCode::NotLeaderOrFollower, delay, 4));
    errors
}

#[test]
fn idempotent_producer_restarts_sequences_only_after_the_partitions_batches_in_flight_resolve() {
    let (cluster, client) = cluster();
    let topic = topic(&cluster, "order-sequence-gap");
    // Slow answers keep several batches of a partition in flight.
    for broker in [LEADER, 3] {
        cluster
            .round_trip_time(broker, Duration::from_millis(40))
            .unwrap();
    }
    let late = Duration::from_millis(400);
    let faults = [
        first_then_late(ErrorCode::OutOfOrderSequenceNumber, late),
        first_then_late(ErrorCode::UnknownProducerId, late),
    ];
    let run = produce(
        &client,
        &topic,
        idempotent(),
        20_000,
        Duration::from_micros(200),
        Duration::from_millis(700),
        |round| fault(&cluster, &topic, &faults[round % 2], round),
    );
    cluster.round_trip_time(-1, Duration::ZERO).unwrap();
    assert_exactly_once_in_order(&client, &topic, &run);
}

#[test]
fn idempotent_producer_resends_batches_of_unknown_outcome_in_order() {
    let (cluster, client) = cluster();
    let topic = topic(&cluster, "order-unknown-outcome");
    for broker in [LEADER, 3] {
        cluster
            .round_trip_time(broker, Duration::from_millis(40))
            .unwrap();
    }
    // The second request's answer comes after the producer's request
    // timeout (800 ms): the producer closes the connection with the
    // requests behind it of unknown outcome, as when a connection is lost
    // mid-request. The errors keep the mock from writing any of them, so
    // resending them is right. (librdkafka's own connection drop, its
    // `_TRANSPORT` error, is no use here: it also loses answers of requests
    // the mock wrote, and the mock, which checks no sequences, writes those
    // again when any client resends them.)
    let faults = [
        first_then_late(ErrorCode::NotLeaderOrFollower, Duration::from_millis(1200)),
        first_then_late(
            ErrorCode::OutOfOrderSequenceNumber,
            Duration::from_millis(1200),
        ),
    ];
    let run = produce(
        &client,
        &topic,
        idempotent(),
        20_000,
        Duration::from_micros(200),
        Duration::from_millis(1500),
        |round| fault(&cluster, &topic, &faults[round % 2], round),
    );
    cluster.round_trip_time(-1, Duration::ZERO).unwrap();
    assert_exactly_once_in_order(&client, &topic, &run);
}

/// Round `round` of a fault where everything in flight to the leader of
/// partitions 0 and 1 fails at once (after 100 ms), the leader moves, and the
/// first request to the new leader fails too (after 150 ms): a client that
/// sends the next retry of a partition while the first one is in flight has
/// it written first.
fn retry_fails_again(cluster: &MockCluster, topic: &str, round: usize) {
    let (from, to) = if round % 2 == 1 {
        (LEADER, 3)
    } else {
        (3, LEADER)
    };
    cluster
        .broker_request_errors(
            from,
            ApiKey::Produce,
            &burst(
                ErrorCode::NotLeaderOrFollower,
                Duration::from_millis(100),
                6,
            ),
        )
        .unwrap();
    for partition in [0, 1] {
        cluster.set_leader(topic, partition, to).unwrap();
    }
    cluster
        .broker_request_errors(
            to,
            ApiKey::Produce,
            &[(ErrorCode::NotLeaderOrFollower, Duration::from_millis(150))],
        )
        .unwrap();
}

#[test]
fn idempotent_producer_resends_a_partitions_retries_one_at_a_time() {
    let (cluster, client) = cluster();
    let topic = topic(&cluster, "order-retries");
    for broker in [LEADER, 3] {
        cluster
            .round_trip_time(broker, Duration::from_millis(40))
            .unwrap();
    }
    let run = produce(
        &client,
        &topic,
        idempotent(),
        20_000,
        Duration::from_micros(200),
        Duration::from_millis(700),
        |round| retry_fails_again(&cluster, &topic, round),
    );
    cluster.round_trip_time(-1, Duration::ZERO).unwrap();
    assert_exactly_once_in_order(&client, &topic, &run);
}

#[test]
fn acks_one_producer_keeps_partition_order_through_retries_by_default() {
    let (cluster, client) = cluster();
    let topic = topic(&cluster, "order-acks1");
    for broker in [LEADER, 3] {
        cluster
            .round_trip_time(broker, Duration::from_millis(15))
            .unwrap();
    }
    let errors = first_then_late(ErrorCode::NotLeaderOrFollower, Duration::from_millis(400));
    let run = produce(
        &client,
        &topic,
        acks_one(),
        8_000,
        Duration::from_micros(400),
        Duration::from_millis(600),
        |round| fault(&cluster, &topic, &errors, round),
    );
    cluster.round_trip_time(-1, Duration::ZERO).unwrap();
    // NOT_LEADER_OR_FOLLOWER answers write nothing: no duplicates either.
    assert_exactly_once_in_order(&client, &topic, &run);
}

#[test]
fn acks_one_producer_may_reorder_on_retry_only_when_allowed() {
    let (cluster, client) = cluster();
    let topic = topic(&cluster, "order-acks1-relaxed");
    for broker in [LEADER, 3] {
        cluster
            .round_trip_time(broker, Duration::from_millis(15))
            .unwrap();
    }
    let errors = first_then_late(ErrorCode::NotLeaderOrFollower, Duration::from_millis(400));
    let run = produce(
        &client,
        &topic,
        acks_one().preserve_order(false),
        8_000,
        Duration::from_micros(400),
        Duration::from_millis(600),
        |round| fault(&cluster, &topic, &errors, round),
    );
    cluster.round_trip_time(-1, Duration::ZERO).unwrap();
    assert_eq!(run.failed, 0, "records failed");
    let got = read_back(&client, &topic, &run.sent);
    let (duplicates, inversions) = duplicates_and_inversions(&got, &run.sent);
    eprintln!(
        "preserve_order(false): {duplicates} duplicates, {inversions} out-of-order pairs after {} faults",
        run.faults
    );
    assert!(
        inversions > 0,
        "a retried batch never landed after a newer one: is the partition still limited to one \
         batch in flight?"
    );
}
