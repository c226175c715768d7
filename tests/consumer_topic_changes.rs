//! What a consumer does when its topic changes under it: a deleted topic
//! stops it with an error instead of a silent Metadata and Fetch loop.

#![cfg(feature = "testkit")]

use std::time::{Duration, Instant};

use kafka_sync::testkit::{self, unique_name};
use kafka_sync::{Error, KafkaClient, OffsetReset, ProducerConfig, Record, SimpleConsumerConfig};

const DEADLINE: Duration = Duration::from_secs(20);

fn client() -> KafkaClient {
    let broker = testkit::shared().expect("test broker starts");
    KafkaClient::new(&broker.bootstrap()).expect("client bootstraps")
}

#[test]
fn a_deleted_topic_stops_consume_with_unknown_topic_after_the_fetched_messages() {
    let client = client();
    let name = unique_name("deleted-under-consumer");
    client.create_topic(&name, 2, 1).unwrap();
    let topic = client.topic(&name).unwrap();
    let producer = topic.get_producer(ProducerConfig::default()).unwrap();
    for i in 0..20 {
        producer
            .send(Record::new(format!("v{i}")).partition(i % 2))
            .unwrap();
    }
    producer.flush(DEADLINE).expect("records are written");
    drop(producer);
    let consumer = topic
        .get_simple_consumer(
            SimpleConsumerConfig::default().auto_offset_reset(OffsetReset::Earliest),
        )
        .unwrap();
    let first = consumer
        .consume(DEADLINE)
        .unwrap()
        .expect("a first message");
    // Twenty small records come in one fetch per partition: give the fetcher
    // time to have them all in its queue before the topic goes.
    std::thread::sleep(Duration::from_secs(1));
    client.delete_topic(&name).expect("the topic is deleted");

    let started = Instant::now();
    let mut messages = vec![first];
    let mut stopped = Vec::new();
    while stopped.len() < 2 {
        assert!(
            started.elapsed() < DEADLINE,
            "no error within {DEADLINE:?} of deleting the topic; got {} messages",
            messages.len()
        );
        match consumer.consume(Duration::from_millis(200)) {
            Ok(Some(m)) => {
                assert!(stopped.is_empty(), "message after an error: {m:?}");
                messages.push(m);
            }
            Ok(None) => {}
            Err(Error::UnknownTopic(t)) => {
                assert_eq!(t, name);
                stopped.push(t);
            }
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    let text = Error::UnknownTopic(name.clone()).to_string();
    assert!(text.contains("does not exist"), "{text}");
    assert_eq!(messages.len(), 20, "every fetched message first");
    for p in 0..2 {
        let offsets: Vec<i64> = messages
            .iter()
            .filter(|m| m.partition == p)
            .map(|m| m.offset)
            .collect();
        assert_eq!(offsets, (0..10).collect::<Vec<_>>(), "partition {p}");
    }
    // The stopped partitions stay quiet: no error loop, no more messages.
    assert!(consumer
        .consume(Duration::from_millis(500))
        .unwrap()
        .is_none());
}
