//! A consumer's long-polling fetches do not hold up other requests to the
//! same broker: the fetcher talks to leaders on connections of its own, so a
//! commit or a produce never queues behind a Fetch the broker holds for
//! `fetch_max_wait` (a broker serves one request per connection at a time).

#![cfg(feature = "testkit")]

mod support;

use std::time::{Duration, Instant};

use kafka_sync::testkit::unique_name;
use kafka_sync::{
    KafkaClient, OffsetReset, ProducerConfig, Record, SimpleConsumer, SimpleConsumerConfig,
};
use support::{client, new_topic};

/// How long the broker may hold each of the consumer's fetches.
const MAX_WAIT: Duration = Duration::from_secs(3);
const ATTEMPTS: usize = 5;

/// A consumer of `topic` configured by `config` whose fetches the broker
/// holds for [`MAX_WAIT`], once its first long poll is under way.
fn long_polling(client: &KafkaClient, topic: &str, config: SimpleConsumerConfig) -> SimpleConsumer {
    let consumer = client
        .topic(topic)
        .unwrap()
        .get_simple_consumer(
            config
                .auto_offset_reset(OffsetReset::Latest)
                .fetch_max_wait(MAX_WAIT),
        )
        .unwrap();
    // The first long poll is under way once the fetcher has connected and
    // sent it; an idle partition keeps every later fetch a long poll too.
    assert!(consumer
        .consume(Duration::from_millis(500))
        .unwrap()
        .is_none());
    consumer
}

/// Runs `request` `ATTEMPTS` times, spread over the poll cycle, and
/// returns the slowest duration.
fn slowest(mut request: impl FnMut()) -> Duration {
    let mut slowest = Duration::ZERO;
    for attempt in 0..ATTEMPTS {
        std::thread::sleep(MAX_WAIT / 5);
        let started = Instant::now();
        request();
        let took = started.elapsed();
        eprintln!("attempt {attempt}: {took:?}");
        slowest = slowest.max(took);
    }
    slowest
}

#[test]
fn a_commit_does_not_wait_for_a_long_polling_fetch_to_the_same_broker() {
    let client = client();
    let name = new_topic(&client, "commit-beside-poll", 1);
    let consumer = long_polling(
        &client,
        &name,
        SimpleConsumerConfig::default()
            .consumer_group(unique_name("long-poll"))
            .enable_auto_commit(false),
    );
    let slowest = slowest(|| {
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
    let name = new_topic(&client, "produce-beside-poll", 2);
    let producer = client
        .topic(&name)
        .unwrap()
        .get_sync_producer(ProducerConfig::default())
        .expect("producer starts");
    // Warm the producer's metadata and connection first.
    producer
        .produce(b"warm-up")
        .expect("the first produce succeeds");
    // The consumer reads partition 0 only; records go to partition 1, so its
    // fetches stay long polls.
    let _consumer = long_polling(
        &client,
        &name,
        SimpleConsumerConfig::default().partitions([0]),
    );
    let slowest = slowest(|| {
        producer
            .send(Record::new(&b"beside a long poll"[..]).partition(1))
            .expect("the produce succeeds");
    });
    assert!(
        slowest < MAX_WAIT / 2,
        "a produce took {slowest:?} beside fetches held up to {MAX_WAIT:?}"
    );
}
