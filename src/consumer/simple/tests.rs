use std::sync::atomic::Ordering;

use super::*;
use crate::consumer::OffsetReset;
use crate::producer::ProducerConfig;
use crate::testkit;
use crate::KafkaClient;

const DEADLINE: Duration = Duration::from_secs(20);

/// A fresh one-partition topic holding `records` records.
fn topic_with(records: usize) -> Topic {
    let broker = testkit::shared().expect("test broker starts");
    let client = KafkaClient::new(&broker.bootstrap()).expect("client bootstraps");
    let name = testkit::unique_name("simple-threads");
    client.create_topic(&name, 1, 1).expect("topic is created");
    let topic = client.topic(&name).expect("topic exists");
    let producer = topic.get_producer(ProducerConfig::default()).unwrap();
    for i in 0..records {
        producer.produce(format!("v{i}")).unwrap();
    }
    producer.flush(DEADLINE).expect("records are written");
    topic
}

#[test]
fn a_panicking_fetcher_makes_consume_fail_instead_of_waiting() {
    let consumer = topic_with(0)
        .get_simple_consumer(
            SimpleConsumerConfig::default().auto_offset_reset(OffsetReset::Earliest),
        )
        .unwrap();
    consumer
        .shared
        .panic_fetcher_for_test
        .store(true, Ordering::SeqCst);
    consumer.shared.poke_fetcher();
    let started = Instant::now();
    let e = consumer.consume(DEADLINE).unwrap_err();
    assert!(
        matches!(
            e,
            Error::ThreadPanicked {
                thread: fetcher::FETCHER_THREAD,
                ..
            }
        ),
        "{e}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    let mut iter = consumer.iter();
    assert!(matches!(
        iter.next(),
        Some(Err(Error::ThreadPanicked { .. }))
    ));
    assert!(iter.next().is_none(), "the iteration ends after the error");
}

#[test]
fn close_waits_for_a_running_auto_commit_so_the_final_commit_lands_last() {
    let topic = topic_with(10);
    let group = testkit::unique_name("simple-commit-order");
    let config = SimpleConsumerConfig::default()
        .consumer_group(group.clone())
        .auto_offset_reset(OffsetReset::Earliest)
        .auto_commit(Duration::from_millis(50));
    let mut consumer = topic.get_simple_consumer(config.clone()).unwrap();
    // The background commit of an early position lands 1.5 s after it starts.
    consumer.commit_delay_for_test = Duration::from_millis(1500);
    for _ in 0..3 {
        consumer.consume(DEADLINE).unwrap().expect("a message");
    }
    std::thread::sleep(Duration::from_millis(100));
    // Starts the auto commit of position 3, then takes a message.
    consumer.consume(DEADLINE).unwrap().expect("a message");
    for _ in 4..10 {
        consumer.consume(DEADLINE).unwrap().expect("a message");
    }
    assert_eq!(consumer.position(0), Some(10));
    consumer.close().expect("the final commit succeeds");
    // Past the moment the delayed commit would land, had close not waited.
    std::thread::sleep(Duration::from_millis(2000));
    let reader = topic.get_simple_consumer(config).unwrap();
    assert_eq!(
        reader.committed_offsets().unwrap(),
        BTreeMap::from([(0, Some(10))])
    );
}
