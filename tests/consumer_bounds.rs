//! The prefetch queue is bounded in bytes, even when one compressed batch
//! holds far more records than the queue may hold as messages: the batch is
//! handed out a part at a time, in order, and never becomes all its
//! messages at once.

#![cfg(feature = "testkit")]

mod support;

use std::time::{Duration, Instant};

use kafka_sync::{Compression, ProducerConfig};
use support::{client, earliest, new_topic, LONG};

#[test]
fn a_huge_compressed_batch_never_fills_the_queue_past_queued_max_bytes() {
    // Three lz4 batches of 300,000 four-byte records: each would become
    // about 35 MB of messages, 33 times the 1 MiB bound.
    const BATCHES: u32 = 3;
    const PER_BATCH: u32 = 300_000;
    const BOUND: usize = 1 << 20;
    let client = client();
    let name = new_topic(&client, "huge-batch", 1);
    let topic = client.topic(&name).unwrap();
    let producer = topic
        .get_producer(
            ProducerConfig::default()
                .compression(Compression::Lz4)
                .linger(Duration::from_secs(60))
                .batch_size(64 << 20)
                .max_request_size(64 << 20)
                .buffer_memory(256 << 20)
                .delivery_reports(false),
        )
        .unwrap();
    for b in 0..BATCHES {
        for i in 0..PER_BATCH {
            producer.produce((b * PER_BATCH + i).to_le_bytes()).unwrap();
        }
        // One batch per flush: the linger never runs out on its own.
        producer.flush(LONG).expect("the batch is written");
    }

    let consumer = topic
        .get_simple_consumer(earliest().queued_max_bytes(BOUND))
        .unwrap();
    let total = BATCHES * PER_BATCH;
    let started = Instant::now();
    let mut largest_message = 0;
    for expected in 0..total {
        let m = consumer
            .consume(LONG.saturating_sub(started.elapsed()))
            .unwrap()
            .unwrap_or_else(|| panic!("record {expected} did not arrive"));
        assert_eq!(m.offset(), i64::from(expected), "records arrive in order");
        assert_eq!(m.value_bytes(), expected.to_le_bytes(), "record {expected}");
        largest_message = largest_message.max(std::mem::size_of_val(&m) + m.value_bytes().len());
    }
    let peak = consumer.peak_queued_bytes();
    eprintln!("{total} records read; the queue held at most {peak} bytes (bound {BOUND})");
    assert!(
        peak <= BOUND + 2 * largest_message,
        "the queue held {peak} bytes of messages; the bound is {BOUND}"
    );
    assert!(
        consumer
            .consume(Duration::from_millis(200))
            .unwrap()
            .is_none(),
        "nothing more than was produced"
    );
}

/// Writes `records` records of `size` bytes into each partition of `name`.
fn fill(
    client: &kafka_sync::KafkaClient,
    name: &str,
    partitions: i32,
    records: usize,
    size: usize,
) {
    let value = vec![b'v'; size];
    let batch: Vec<support::Rec> = (0..100).map(|_| support::Rec::value(&value)).collect();
    for p in 0..partitions {
        for _ in 0..records / 100 {
            support::produce_batch(client, name, p, &batch);
        }
    }
}

#[test]
fn queued_max_bytes_bounds_all_partitions_together() {
    // Four partitions of 4 MB each, a 1 MiB bound over all of them: a bound
    // per partition would let 4 MiB in.
    const BOUND: usize = 1 << 20;
    const PER_PARTITION: usize = 4000;
    const SIZE: usize = 1000;
    let client = client();
    let name = new_topic(&client, "total-bound", 4);
    fill(&client, &name, 4, PER_PARTITION, SIZE);
    let consumer = client
        .topic(&name)
        .unwrap()
        .get_simple_consumer(
            earliest()
                .queued_max_bytes(BOUND)
                .max_partition_fetch_bytes(256 << 10)
                .fetch_max_bytes(1 << 20),
        )
        .unwrap();
    // A caller that takes one message and then nothing for a while: the
    // fetcher fills the queues as far as the bound lets it.
    let first = consumer.consume(LONG).unwrap().expect("a first message");
    std::thread::sleep(Duration::from_secs(2));
    let one = std::mem::size_of_val(&first) + 200 + SIZE;
    let peak = consumer.peak_queued_bytes();
    assert!(
        peak <= BOUND + one,
        "the queues held {peak} bytes together; the bound is {BOUND}"
    );
    let mut seen = std::collections::BTreeMap::<i32, i64>::new();
    seen.insert(first.partition(), first.offset() + 1);
    let total = 4 * PER_PARTITION;
    let mut read = 1;
    let started = Instant::now();
    while read < total {
        let batch = consumer
            .consume_batch(500, LONG.saturating_sub(started.elapsed()))
            .unwrap();
        assert!(!batch.is_empty(), "{read} of {total} records arrived");
        assert!(batch.len() <= 500, "at most `max` at once");
        for m in &batch {
            let next = seen.entry(m.partition()).or_insert(0);
            assert_eq!(
                m.offset(),
                *next,
                "partition {} in order, each record once",
                m.partition()
            );
            *next += 1;
            assert_eq!(m.value_bytes().len(), SIZE);
        }
        read += batch.len();
    }
    assert!(
        seen.values().all(|&n| n == PER_PARTITION as i64),
        "{seen:?}"
    );
    let peak = consumer.peak_queued_bytes();
    eprintln!("{total} records read; the queues held at most {peak} bytes (bound {BOUND})");
    assert!(
        peak <= BOUND + one,
        "the queues held {peak} bytes; the bound is {BOUND}"
    );
}

#[test]
fn settings_that_cannot_work_fail_when_the_consumer_is_built_naming_the_setting() {
    let client = client();
    let name = new_topic(&client, "bad-bounds", 1);
    let topic = client.topic(&name).unwrap();
    let cases = [
        (earliest().queued_max_bytes(1000), "queued_max_bytes"),
        (earliest().fetches_in_flight(0), "fetches_in_flight"),
        (earliest().queued_max_messages(0), "queued_max_messages"),
    ];
    for (config, setting) in cases {
        match topic.get_simple_consumer(config) {
            Err(kafka_sync::Error::Config(message)) => {
                assert!(message.contains(setting), "{setting}: {message}")
            }
            other => panic!("{setting}: expected a config error, got {other:?}"),
        }
    }
    let balanced = client.get_balanced_consumer(
        &kafka_sync::testkit::unique_name("bad-bounds"),
        kafka_sync::Subscription::topics([name.as_str()]),
        kafka_sync::BalancedConsumerConfig::default().queued_max_bytes(1000),
    );
    match balanced {
        Err(kafka_sync::Error::Config(message)) => {
            assert!(message.contains("queued_max_bytes"), "{message}")
        }
        other => panic!(
            "expected a config error, got {:?}",
            other.map(|_| "a consumer")
        ),
    }
}
