//! SimpleConsumer against a live broker: reading, iteration, seeking,
//! pausing, lag.

#![cfg(feature = "testkit")]

mod support;

use std::time::{Duration, Instant};

use kafka_sync::testkit::unique_name;
use kafka_sync::SimpleConsumerConfig;
use support::*;

#[test]
fn messages_of_each_partition_come_in_offset_order() {
    let client = client();
    let name = unique_name("order");
    client.create_topic(&name, 2, 1).unwrap();
    for p in 0..2 {
        let values: Vec<String> = (0..20).map(|i| format!("p{p}-{i}")).collect();
        produce_values(&client, &name, p, &values);
    }
    let consumer = client
        .topic(&name)
        .unwrap()
        .get_simple_consumer(earliest())
        .unwrap();
    let got = consume_n(&consumer, 40);
    for p in 0..2 {
        let offsets: Vec<i64> = got
            .iter()
            .filter(|m| m.partition() == p)
            .map(|m| m.offset())
            .collect();
        assert_eq!(offsets, (0..20).collect::<Vec<_>>(), "partition {p}");
        let values: Vec<String> = got
            .iter()
            .filter(|m| m.partition() == p)
            .map(value_str)
            .collect();
        assert_eq!(values[3], format!("p{p}-3"));
    }
    assert!(consumer
        .consume(Duration::from_millis(300))
        .unwrap()
        .is_none());
}

#[test]
fn iteration_yields_every_message_then_ends_after_the_consumer_timeout() {
    let (client, name) = topic_with_values("consume", 2, 5);
    let timeout = Duration::from_millis(700);
    let consumer = client
        .topic(&name)
        .unwrap()
        .get_simple_consumer(earliest().consumer_timeout(timeout))
        .unwrap();
    let mut count = 0;
    let mut last_at = Instant::now();
    for message in &consumer {
        message.unwrap();
        count += 1;
        last_at = Instant::now();
    }
    let idle = last_at.elapsed();
    assert_eq!(count, 10);
    assert!(idle >= timeout, "ended after {idle:?}, before the timeout");
    assert!(
        idle < timeout + Duration::from_secs(2),
        "ended late: {idle:?}"
    );
}

#[test]
fn consume_returns_none_when_nothing_arrives_in_time() {
    let (client, name) = topic_with_values("consume", 1, 0);
    let consumer = client
        .topic(&name)
        .unwrap()
        .get_simple_consumer(earliest())
        .unwrap();
    let started = Instant::now();
    assert!(consumer
        .consume(Duration::from_millis(300))
        .unwrap()
        .is_none());
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_secs(2),
        "{waited:?}"
    );
}

#[test]
fn a_message_produced_while_waiting_is_delivered() {
    let (client, name) = topic_with_values("consume", 1, 0);
    let consumer = client
        .topic(&name)
        .unwrap()
        .get_simple_consumer(earliest())
        .unwrap();
    assert!(consumer
        .consume(Duration::from_millis(100))
        .unwrap()
        .is_none());
    produce_values(&client, &name, 0, &["late".into()]);
    let m = consume_n(&consumer, 1).remove(0);
    assert_eq!((m.offset(), value_str(&m)), (0, "late".into()));
}

#[test]
fn latest_reset_skips_what_was_produced_before_the_consumer_started() {
    let (client, name) = topic_with_values("consume", 1, 3);
    let consumer = client
        .topic(&name)
        .unwrap()
        .get_simple_consumer(SimpleConsumerConfig::default())
        .unwrap();
    assert_eq!(consumer.position(0), Some(3));
    produce_values(&client, &name, 0, &["new".into()]);
    let m = consume_n(&consumer, 1).remove(0);
    assert_eq!((m.offset(), value_str(&m)), (3, "new".into()));
}

#[test]
fn only_the_chosen_partitions_are_read() {
    let (client, name) = topic_with_values("consume", 3, 4);
    let consumer = client
        .topic(&name)
        .unwrap()
        .get_simple_consumer(earliest().partitions([0, 2]))
        .unwrap();
    assert_eq!(consumer.partitions(), [0, 2]);
    let got = consume_n(&consumer, 8);
    assert!(got.iter().all(|m| m.partition() != 1));
    assert!(consumer
        .consume(Duration::from_millis(300))
        .unwrap()
        .is_none());
}

#[test]
fn a_partition_the_topic_lacks_is_a_config_error() {
    let (client, name) = topic_with_values("consume", 1, 0);
    let e = client
        .topic(&name)
        .unwrap()
        .get_simple_consumer(earliest().partitions([0, 7]))
        .unwrap_err();
    assert!(matches!(e, kafka_sync::Error::Config(_)), "{e}");
    assert!(e.to_string().contains("partition 7"), "{e}");
}

#[test]
fn position_is_one_past_the_last_message_returned() {
    let (client, name) = topic_with_values("consume", 1, 5);
    let consumer = client
        .topic(&name)
        .unwrap()
        .get_simple_consumer(earliest())
        .unwrap();
    assert_eq!(consumer.position(0), Some(0));
    consume_n(&consumer, 2);
    assert_eq!(consumer.position(0), Some(2));
    consume_n(&consumer, 3);
    assert_eq!(consumer.positions(), [(0, 5)].into_iter().collect());
}

#[test]
fn seek_rereads_from_the_given_offset() {
    let (client, name) = topic_with_values("consume", 1, 10);
    let consumer = client
        .topic(&name)
        .unwrap()
        .get_simple_consumer(earliest())
        .unwrap();
    consume_n(&consumer, 8);
    consumer.seek(0, 3).unwrap();
    assert_eq!(consumer.position(0), Some(3));
    let again: Vec<i64> = consume_n(&consumer, 7).iter().map(|m| m.offset()).collect();
    assert_eq!(again, (3..10).collect::<Vec<_>>());
}

#[test]
fn seek_forward_skips_queued_messages() {
    let (client, name) = topic_with_values("consume", 1, 10);
    let consumer = client
        .topic(&name)
        .unwrap()
        .get_simple_consumer(earliest())
        .unwrap();
    consume_n(&consumer, 1);
    consumer.seek(0, 8).unwrap();
    let rest: Vec<i64> = consume_n(&consumer, 2).iter().map(|m| m.offset()).collect();
    assert_eq!(rest, [8, 9]);
}

#[test]
fn seek_to_beginning_and_to_end_move_every_partition() {
    let (client, name) = topic_with_values("consume", 2, 3);
    let consumer = client
        .topic(&name)
        .unwrap()
        .get_simple_consumer(earliest())
        .unwrap();
    consume_n(&consumer, 6);
    consumer.seek_to_beginning(&[]).unwrap();
    assert_eq!(consumer.positions(), [(0, 0), (1, 0)].into_iter().collect());
    assert_eq!(consume_n(&consumer, 6).len(), 6);
    consumer.seek_to_beginning(&[1]).unwrap();
    consumer.seek_to_end(&[1]).unwrap();
    assert!(consumer
        .consume(Duration::from_millis(300))
        .unwrap()
        .is_none());
    assert_eq!(consumer.positions(), [(0, 3), (1, 3)].into_iter().collect());
}

#[test]
fn seeking_a_partition_not_read_is_an_error() {
    let (client, name) = topic_with_values("consume", 2, 0);
    let consumer = client
        .topic(&name)
        .unwrap()
        .get_simple_consumer(earliest().partitions([0]))
        .unwrap();
    assert!(consumer.seek(1, 0).is_err());
    assert!(consumer.seek(0, -3).is_err());
    assert!(consumer.seek_to_beginning(&[1]).is_err());
}

#[test]
fn seek_to_time_finds_the_first_message_at_or_after_the_timestamp() {
    let client = client();
    let name = unique_name("seek-time");
    client.create_topic(&name, 1, 1).unwrap();
    for i in 0..6 {
        let mut rec = Rec::value(format!("t{i}"));
        rec.timestamp = 1_000_000 + i * 1_000;
        produce_batch(&client, &name, 0, &[rec]);
    }
    let consumer = client
        .topic(&name)
        .unwrap()
        .get_simple_consumer(earliest())
        .unwrap();
    if client.cluster_id().as_deref() == Some("tansu_cluster") {
        // tansu 0.6.0 answers every timestamp lookup with offset 0 (see
        // docs/design.md), so the lookup is checked only against other
        // brokers (KAFKA_BOOTSTRAP).
        eprintln!("tansu: skipping the timestamp lookup check");
        return;
    }
    // Past every message: the end.
    consumer.seek_to_time(9_000_000).unwrap();
    assert_eq!(consumer.position(0), Some(6));
    consumer.seek_to_time(1_003_000).unwrap();
    let m = consume_n(&consumer, 1).remove(0);
    assert_eq!((m.offset(), m.timestamp()), (3, 1_003_000));
}

#[test]
fn a_paused_partition_is_held_back_until_resumed() {
    let (client, name) = topic_with_values("consume", 2, 5);
    let consumer = client
        .topic(&name)
        .unwrap()
        .get_simple_consumer(earliest())
        .unwrap();
    consumer.pause(&[0]);
    assert_eq!(consumer.paused(), [0]);
    let got = consume_n(&consumer, 5);
    assert!(got.iter().all(|m| m.partition() == 1));
    assert!(consumer
        .consume(Duration::from_millis(300))
        .unwrap()
        .is_none());
    consumer.resume(&[0]);
    assert!(consumer.paused().is_empty());
    let got = consume_n(&consumer, 5);
    assert!(got.iter().all(|m| m.partition() == 0));
    assert_eq!(got[0].offset(), 0);
}

#[test]
fn lag_counts_the_messages_not_yet_consumed() {
    let (client, name) = topic_with_values("consume", 2, 4);
    let consumer = client
        .topic(&name)
        .unwrap()
        .get_simple_consumer(earliest().partitions([0]))
        .unwrap();
    assert_eq!(consumer.lag().unwrap(), [(0, 4)].into_iter().collect());
    consume_n(&consumer, 3);
    assert_eq!(consumer.lag().unwrap(), [(0, 1)].into_iter().collect());
}

#[test]
fn dropping_a_consumer_stops_its_fetcher_promptly() {
    let (client, name) = topic_with_values("consume", 1, 0);
    let consumer = client
        .topic(&name)
        .unwrap()
        .get_simple_consumer(earliest().fetch_max_wait(Duration::from_secs(20)))
        .unwrap();
    assert!(consumer
        .consume(Duration::from_millis(200))
        .unwrap()
        .is_none());
    let started = Instant::now();
    drop(consumer);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_consumer_can_be_shared_between_threads() {
    let (client, name) = topic_with_values("consume", 2, 50);
    let consumer = client
        .topic(&name)
        .unwrap()
        .get_simple_consumer(earliest())
        .unwrap();
    let counts: Vec<usize> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    let mut n = 0;
                    while consumer
                        .consume(Duration::from_millis(500))
                        .unwrap()
                        .is_some()
                    {
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(counts.iter().sum::<usize>(), 100);
}

#[test]
fn a_fetch_wait_longer_than_the_request_timeout_is_a_config_error() {
    let (_, name) = topic_with_values("consume", 1, 0);
    let client = kafka_sync::KafkaClient::builder()
        .hosts(bootstrap())
        .request_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let e = client
        .topic(&name)
        .unwrap()
        .get_simple_consumer(earliest().fetch_max_wait(Duration::from_secs(5)))
        .unwrap_err();
    assert!(e.to_string().contains("request_timeout"), "{e}");
}
