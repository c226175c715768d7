//! SimpleConsumer when things go wrong: a broker that goes away and comes
//! back, corrupt data in a partition.

#![cfg(feature = "testkit")]

mod support;

use std::time::{Duration, Instant};

use kafka_sync::protocol::records::{BatchBuilder, BatchOptions};
use kafka_sync::testkit::{unique_name, Broker};
use kafka_sync::{DecodeError, KafkaClient};
use support::*;

#[test]
fn a_partition_whose_leader_disappears_and_returns_keeps_flowing() {
    let mut broker = Broker::builder().force_local(true).start().unwrap();
    let client = KafkaClient::builder()
        .hosts(broker.bootstrap())
        .build()
        .unwrap();
    let name = unique_name("restart");
    client.create_topic(&name, 1, 1).unwrap();
    produce_values(
        &client,
        &name,
        0,
        &(0..3).map(|i| format!("before-{i}")).collect::<Vec<_>>(),
    );
    let consumer = client
        .topic(&name)
        .unwrap()
        .get_simple_consumer(earliest())
        .unwrap();
    assert_eq!(consume_n(&consumer, 3).len(), 3);

    broker.stop();
    // The consumer neither fails nor hangs while its leader is gone.
    assert!(consumer
        .consume(Duration::from_millis(500))
        .unwrap()
        .is_none());

    // tansu keeps its log in memory: the broker returns empty, so the topic
    // is created again and refilled past the consumer's position.
    broker.restart().unwrap();
    let deadline = Instant::now() + DEADLINE;
    while let Err(e) = client.create_topic(&name, 1, 1) {
        assert!(Instant::now() < deadline, "topic not recreated: {e}");
    }
    produce_values(
        &client,
        &name,
        0,
        &(0..5).map(|i| format!("after-{i}")).collect::<Vec<_>>(),
    );
    let got = consume_n(&consumer, 2);
    let values: Vec<(i64, String)> = got.iter().map(|m| (m.offset(), value_str(m))).collect();
    assert_eq!(values, [(3, "after-3".into()), (4, "after-4".into())]);
}

/// Appends one single-record batch whose CRC is wrong.
fn produce_corrupt(client: &KafkaClient, topic: &str, partition: i32) {
    let mut builder = BatchBuilder::new(BatchOptions::default());
    builder
        .append(now_ms(), None, Some(b"garbled"), &[])
        .unwrap();
    let mut batch = builder.build().unwrap();
    let last = batch.len() - 1;
    batch[last] ^= 0xff;
    produce_encoded(client, topic, partition, batch);
}

/// A batch of `count` records of 1 KiB (about `count` KiB: many of the
/// 8 KiB blocks the connection sums as it reads a large response).
fn large_batch(first: u8, count: usize) -> Vec<u8> {
    let mut builder = BatchBuilder::new(BatchOptions::default());
    for i in 0..count {
        let value = vec![first.wrapping_add(i as u8); 1024];
        builder.append(now_ms(), None, Some(&value), &[]).unwrap();
    }
    builder.build().unwrap()
}

/// The CRC check of a batch inside a large Fetch response folds in the sums
/// the connection took of each 8 KiB block as it read it: large good batches
/// pass, and one byte changed deep inside a large batch still fails it.
#[test]
fn a_byte_changed_deep_inside_a_large_batch_fails_its_crc() {
    let client = client();
    let name = unique_name("corrupt-large");
    client.create_topic(&name, 1, 1).unwrap();
    assert_eq!(
        client.cluster_id().as_deref(),
        Some("tansu_cluster"),
        "this test writes a corrupt batch, which only tansu accepts (Kafka checks CRCs on produce)"
    );
    produce_encoded(&client, &name, 0, large_batch(0, 200));
    let mut corrupt = large_batch(1, 200);
    let middle = corrupt.len() / 2 + 3;
    corrupt[middle] ^= 0x10;
    produce_encoded(&client, &name, 0, corrupt);
    let consumer = client
        .topic(&name)
        .unwrap()
        .get_simple_consumer(earliest())
        .unwrap();

    let mut read = 0;
    let deadline = Instant::now() + DEADLINE;
    let error = loop {
        assert!(Instant::now() < deadline, "read {read}, no error");
        match consumer.consume(Duration::from_millis(200)) {
            Ok(Some(m)) => {
                assert_eq!(m.offset(), read, "in order, none skipped");
                assert_eq!(m.value(), Some(&[read as u8; 1024][..]));
                read += 1;
            }
            Ok(None) => {}
            Err(e) => break e,
        }
    };
    assert_eq!(read, 200, "the whole good batch came first");
    assert!(
        matches!(error.decode_error(), Some(DecodeError::CrcMismatch { .. })),
        "{error:?}"
    );
    assert!(error.to_string().contains("offset 200"), "{error}");
}

#[test]
fn corrupt_data_is_an_error_for_its_partition_with_its_offset() {
    let client = client();
    let name = unique_name("corrupt");
    client.create_topic(&name, 2, 1).unwrap();
    if client.cluster_id().as_deref() != Some("tansu_cluster") {
        // Kafka checks CRCs on produce, so a corrupt batch cannot be written.
        eprintln!("skipped: the broker rejects corrupt batches");
        return;
    }
    produce_values(&client, &name, 0, &["good-0".into()]);
    produce_corrupt(&client, &name, 0);
    produce_values(&client, &name, 0, &["good-2".into()]);
    produce_values(&client, &name, 1, &["other-0".into(), "other-1".into()]);
    let consumer = client
        .topic(&name)
        .unwrap()
        .get_simple_consumer(earliest())
        .unwrap();

    let mut values = Vec::new();
    let mut error = None;
    let deadline = Instant::now() + DEADLINE;
    while values.len() < 3 || error.is_none() {
        assert!(Instant::now() < deadline, "got {values:?}, error {error:?}");
        match consumer.consume(Duration::from_millis(200)) {
            Ok(Some(m)) => values.push((m.partition(), m.offset())),
            Ok(None) => {}
            Err(e) => error = Some(e),
        }
    }
    values.sort_unstable();
    assert_eq!(
        values,
        [(0, 0), (1, 0), (1, 1)],
        "the other partition flows"
    );
    let error = error.unwrap();
    assert!(
        matches!(error.decode_error(), Some(DecodeError::CrcMismatch { .. })),
        "{error:?}"
    );
    let error = error.to_string();
    assert!(
        error.contains("partition 0") && error.contains("offset 1"),
        "{error}"
    );
    assert_eq!(consumer.position(0), Some(1));

    // The partition stays stopped until it is moved past the bad batch.
    assert!(consumer
        .consume(Duration::from_millis(300))
        .unwrap()
        .is_none());
    consumer.seek(0, 2).unwrap();
    let m = consume_n(&consumer, 1).remove(0);
    assert_eq!(
        (m.partition(), m.offset(), value_str(&m)),
        (0, 2, "good-2".into())
    );
}
