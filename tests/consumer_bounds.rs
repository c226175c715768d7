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
        assert_eq!(m.offset, i64::from(expected), "records arrive in order");
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
