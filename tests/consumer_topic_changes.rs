//! What a consumer does when its topic changes under it: a deleted topic
//! stops it with an error instead of a silent Metadata and Fetch loop.

#![cfg(feature = "testkit")]

mod support;

use std::time::{Duration, Instant};

use kafka_sync::Error;
use support::{earliest, topic_with_values, DEADLINE};

#[test]
fn a_deleted_topic_stops_consume_with_unknown_topic_after_the_fetched_messages() {
    let (client, name) = topic_with_values("deleted-under-consumer", 2, 10);
    let topic = client.topic(&name).unwrap();
    let consumer = topic.get_simple_consumer(earliest()).unwrap();
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
            .filter(|m| m.partition() == p)
            .map(|m| m.offset())
            .collect();
        assert_eq!(offsets, (0..10).collect::<Vec<_>>(), "partition {p}");
    }
    // The stopped partitions stay quiet: no error loop, no more messages.
    assert!(consumer
        .consume(Duration::from_millis(500))
        .unwrap()
        .is_none());
}
