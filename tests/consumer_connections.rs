//! A consumer's long-polling fetches do not hold up other requests to the
//! same broker: the fetcher talks to leaders on connections of its own, so a
//! commit or a produce never queues behind a Fetch the broker holds for
//! `fetch_max_wait` (a broker serves one request per connection at a time).

#![cfg(feature = "testkit")]

use std::time::{Duration, Instant};

use kafka_sync::testkit::{self, unique_name};
use kafka_sync::{KafkaClient, OffsetReset, ProducerConfig, Record, SimpleConsumerConfig};

/// How long the broker may hold each of the consumer's fetches.
const MAX_WAIT: Duration = Duration::from_secs(3);
const ATTEMPTS: usize = 5;

fn client() -> KafkaClient {
    let broker = testkit::shared().expect("test broker starts");
    KafkaClient::new(&broker.bootstrap()).expect("client bootstraps")
}

/// Runs `request` `ATTEMPTS` times while a consumer of an idle partition
/// long-polls the same (single) broker, and returns the slowest duration.
fn slowest_beside_a_long_poll(
    client: &KafkaClient,
    topic: &str,
    mut request: impl FnMut(&kafka_sync::SimpleConsumer),
) -> Duration {
    let consumer = client
        .topic(topic)
        .unwrap()
        .get_simple_consumer(
            SimpleConsumerConfig::default()
                .consumer_group(unique_name("long-poll"))
                .enable_auto_commit(false)
                .auto_offset_reset(OffsetReset::Latest)
                .fetch_max_wait(MAX_WAIT),
        )
        .unwrap();
    // The first long poll is under way once the fetcher has connected and
    // sent it; the idle partition keeps every later fetch a long poll too.
    assert!(consumer
        .consume(Duration::from_millis(500))
        .unwrap()
        .is_none());
    let mut slowest = Duration::ZERO;
    for attempt in 0..ATTEMPTS {
        // Spread the attempts over the poll cycle.
        std::thread::sleep(MAX_WAIT / 5);
        let started = Instant::now();
        request(&consumer);
        let took = started.elapsed();
        eprintln!("attempt {attempt}: {took:?}");
        slowest = slowest.max(took);
    }
    slowest
}

#[test]
fn a_commit_does_not_wait_for_a_long_polling_fetch_to_the_same_broker() {
    let client = client();
    let name = unique_name("commit-beside-poll");
    client.create_topic(&name, 1, 1).unwrap();
    let slowest = slowest_beside_a_long_poll(&client, &name, |consumer| {
        consumer.commit_offsets().expect("the commit succeeds");
    });
    assert!(
        slowest < MAX_WAIT / 2,
        "a commit took {slowest:?} beside fetches held up to {MAX_WAIT:?}"
    );
}

#[test]
fn a_produce_does_not_wait_for_a_long_polling_fetch_to_the_same_broker() {
    let client = client();
    let name = unique_name("produce-beside-poll");
    client.create_topic(&name, 2, 1).unwrap();
    let consumed = client.topic(&name).unwrap();
    let producer = consumed
        .get_sync_producer(ProducerConfig::default())
        .expect("producer starts");
    // Warm the producer's metadata and connection first.
    producer
        .produce(b"warm-up")
        .expect("the first produce succeeds");
    // The consumer reads partition 0 only; records go to partition 1, so its
    // fetches stay long polls.
    let consumer = consumed
        .get_simple_consumer(
            SimpleConsumerConfig::default()
                .partitions([0])
                .auto_offset_reset(OffsetReset::Latest)
                .fetch_max_wait(MAX_WAIT),
        )
        .unwrap();
    assert!(consumer
        .consume(Duration::from_millis(500))
        .unwrap()
        .is_none());
    let mut slowest = Duration::ZERO;
    for attempt in 0..ATTEMPTS {
        std::thread::sleep(MAX_WAIT / 5);
        let started = Instant::now();
        producer
            .send(Record::new(&b"beside a long poll"[..]).partition(1))
            .expect("the produce succeeds");
        let took = started.elapsed();
        eprintln!("attempt {attempt}: {took:?}");
        slowest = slowest.max(took);
    }
    assert!(
        slowest < MAX_WAIT / 2,
        "a produce took {slowest:?} beside fetches held up to {MAX_WAIT:?}"
    );
}
