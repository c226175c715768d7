//! The producer when its broker goes away: reports fail after
//! `delivery_timeout` without hanging, a restarted broker is used again, the
//! memory bound makes `produce` block and then fail, and dropping the
//! producer reports what is left. Each test runs its own broker.
#![cfg(feature = "testkit")]

mod support;

use std::time::{Duration, Instant};

use kafka_sync::producer::{DeliveryReport, ProducerConfig};
use kafka_sync::testkit::{unique_name, Broker};
use kafka_sync::{Error, KafkaClient, TimeoutKind};
use support::DEADLINE;

/// A local broker of our own, even with KAFKA_BOOTSTRAP set: these tests stop it.
fn own_broker() -> Broker {
    Broker::builder().force_local(true).start().unwrap()
}

fn client_for(broker: &Broker) -> KafkaClient {
    KafkaClient::builder()
        .hosts(broker.bootstrap())
        .request_timeout(Duration::from_secs(2))
        .reconnect_backoff_max(Duration::from_millis(200))
        .build()
        .unwrap()
}

fn recv(reports: &kafka_sync::producer::DeliveryReports, within: Duration) -> DeliveryReport {
    reports
        .recv_timeout(within)
        .expect("a report arrives in time")
}

/// Creates `name`, retrying while the client reconnects to a restarted broker.
fn create_topic_eventually(client: &KafkaClient, name: &str) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        match client.create_topic(name, 1, 1) {
            Ok(()) => return,
            Err(e) if e.code() == Some(kafka_sync::ErrorCode::TopicAlreadyExists) => return,
            Err(e) if Instant::now() < deadline => {
                eprintln!("not yet: {e}");
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("topic never created: {e}"),
        }
    }
}

#[test]
fn a_stopped_broker_fails_reports_after_delivery_timeout_and_a_restarted_one_is_used_again() {
    let mut broker = own_broker();
    let client = client_for(&broker);
    let name = unique_name("restart");
    client.create_topic(&name, 1, 1).unwrap();
    let delivery_timeout = Duration::from_secs(2);
    let producer = client
        .topic(&name)
        .unwrap()
        .get_producer(
            ProducerConfig::default()
                .delivery_reports(true)
                .delivery_timeout(delivery_timeout)
                .request_timeout(Duration::from_secs(1))
                .retry_backoff(Duration::from_millis(50), Duration::from_millis(200)),
        )
        .unwrap();
    producer.produce(b"before").unwrap();
    assert!(recv(producer.delivery_reports(), DEADLINE).is_ok());

    broker.stop();
    let stopped_at = Instant::now();
    for i in 0..10 {
        producer.produce(format!("lost {i}")).unwrap();
    }
    for _ in 0..10 {
        let report = recv(producer.delivery_reports(), delivery_timeout + DEADLINE);
        let e = report.error().expect("fails while the broker is down");
        assert!(
            matches!(
                e,
                Error::Timeout {
                    kind: TimeoutKind::Delivery,
                    ..
                }
            ),
            "{e}"
        );
    }
    let waited = stopped_at.elapsed();
    assert!(
        waited >= delivery_timeout,
        "failed only after delivery_timeout: {waited:?}"
    );
    assert!(
        waited < delivery_timeout + Duration::from_secs(10),
        "no hang: {waited:?}"
    );
    assert!(producer.metrics().records_failed >= 10);

    eprintln!("reports failed after {waited:?}; restarting the broker");
    broker.restart().unwrap();
    // Storage is in memory: the topic must be made again.
    create_topic_eventually(&client, &name);
    for i in 0..5 {
        producer.produce(format!("after {i}")).unwrap();
    }
    for _ in 0..5 {
        let report = recv(producer.delivery_reports(), DEADLINE);
        assert!(report.is_ok(), "{:?}", report.result);
    }
}

#[test]
fn a_full_buffer_blocks_produce_for_max_block_then_fails_and_drop_reports_the_rest() {
    let mut broker = own_broker();
    let client = client_for(&broker);
    let name = unique_name("full");
    client.create_topic(&name, 1, 1).unwrap();
    let max_block = Duration::from_millis(500);
    let producer = client
        .topic(&name)
        .unwrap()
        .get_producer(
            ProducerConfig::default()
                .delivery_reports(true)
                .buffer_memory(64 * 1024)
                // A batch must fit in the buffer (the default is 256 KiB).
                .batch_size(16 * 1024)
                .max_block(max_block)
                .close_timeout(Duration::from_secs(1)),
        )
        .unwrap();
    let reports = producer.delivery_reports().clone();
    broker.stop();

    let mut accepted = 0;
    let error = loop {
        let started = Instant::now();
        match producer.produce(vec![0u8; 1024]) {
            Ok(()) => accepted += 1,
            Err(e) => break (e, started.elapsed()),
        }
        assert!(accepted < 1000, "the buffer bound holds");
    };
    let (e, blocked) = error;
    assert!(
        matches!(
            e,
            Error::Timeout {
                kind: TimeoutKind::MaxBlock,
                ..
            }
        ),
        "{e}"
    );
    assert!(
        blocked >= max_block,
        "produce blocked for max_block: {blocked:?}"
    );
    assert!(
        (40..=64).contains(&accepted),
        "{accepted} records of 1 KiB fit in 64 KiB"
    );

    let dropping = Instant::now();
    drop(producer);
    assert!(
        dropping.elapsed() < Duration::from_secs(5),
        "drop is bounded"
    );
    let failed = reports.try_iter().filter(|r| !r.is_ok()).count();
    assert_eq!(failed, accepted, "every accepted record is reported");
}
