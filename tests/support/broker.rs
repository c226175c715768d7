//! The shared testkit broker and what tests do with it: a client, a unique
//! topic, records appended with raw Produce requests (independent of the
//! producer) and read back with raw Fetch requests (independent of the
//! consumer).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use kafka_sync::net::Connection;
use kafka_sync::protocol::api::{
    FetchPartition, FetchRequest, FetchTopic, PartitionProduceData, ProduceRequest,
    TopicProduceData,
};
use kafka_sync::protocol::records::{
    decode_batches, BatchBuilder, BatchOptions, DecodeOptions, Header, Record, RecordBatch,
};
use kafka_sync::testkit;
use kafka_sync::{
    Admin, ErrorCode, KafkaClient, Message, OffsetReset, SimpleConsumer, SimpleConsumerConfig,
    TopicPartition,
};

use super::DEADLINE;

/// The broker shared by every test of the process (`testkit::shared`, or
/// `KAFKA_BOOTSTRAP`: then `is_external()`).
pub fn shared_broker() -> &'static testkit::Broker {
    testkit::shared().expect("test broker starts")
}

/// `host:port` of the [`shared_broker`].
pub fn bootstrap() -> String {
    shared_broker().bootstrap()
}

/// A client of the shared broker, with default settings.
pub fn client() -> KafkaClient {
    KafkaClient::new(&bootstrap()).expect("client bootstraps")
}

/// The admin API of a [`client`] of the shared broker.
pub fn admin() -> Admin {
    client().admin()
}

/// A fresh topic named `{prefix}-…` with `partitions` partitions.
pub fn new_topic(client: &KafkaClient, prefix: &str, partitions: i32) -> String {
    let name = testkit::unique_name(prefix);
    client
        .create_topic(&name, partitions, 1)
        .expect("topic is created");
    name
}

/// Partitions `0..n` of `topic`.
pub fn partitions(topic: &str, n: i32) -> BTreeSet<TopicPartition> {
    (0..n).map(|p| TopicPartition::new(topic, p)).collect()
}

/// A client and a fresh topic whose every partition `p` holds the values
/// `p{p}-0` … `p{p}-{per_partition - 1}`, one batch each.
pub fn topic_with_values(
    prefix: &str,
    partitions: i32,
    per_partition: usize,
) -> (KafkaClient, String) {
    let client = client();
    let name = new_topic(&client, prefix, partitions);
    for p in 0..partitions {
        let values: Vec<String> = (0..per_partition).map(|i| format!("p{p}-{i}")).collect();
        produce_values(&client, &name, p, &values);
    }
    (client, name)
}

/// A record to encode or produce: key, value, headers, timestamp.
#[derive(Clone, Debug, Default)]
pub struct Rec {
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    pub timestamp: i64,
}

impl Rec {
    /// A record with only a value, stamped now.
    pub fn value(v: impl AsRef<[u8]>) -> Rec {
        Rec {
            value: Some(v.as_ref().to_vec()),
            timestamp: now_ms(),
            ..Rec::default()
        }
    }
}

impl Rec {
    /// Its headers as the batch builder takes them.
    pub fn header_refs(&self) -> Vec<Header<'_>> {
        self.headers
            .iter()
            .map(|(k, v)| Header::new(k, v.as_deref()))
            .collect()
    }
}

/// Encodes `records` as one batch with `options`.
pub fn build_batch(options: BatchOptions, records: &[Rec]) -> Vec<u8> {
    let mut builder = BatchBuilder::new(options);
    for r in records {
        builder
            .append(
                r.timestamp,
                r.key.as_deref(),
                r.value.as_deref(),
                &r.header_refs(),
            )
            .unwrap();
    }
    builder.build().unwrap()
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap())
        .unwrap()
}

/// Appends `records` to `partition` as one batch, through a raw Produce to
/// its leader; returns the batch's base offset.
pub fn produce_batch(client: &KafkaClient, topic: &str, partition: i32, records: &[Rec]) -> i64 {
    let batch = build_batch(BatchOptions::default(), records);
    produce_encoded(client, topic, partition, batch)
}

/// Appends an encoded record batch (possibly a deliberately broken one) to
/// `partition` with a raw Produce (acks=all) to its leader; asserts that the
/// broker took it and returns its base offset.
pub fn produce_encoded(client: &KafkaClient, topic: &str, partition: i32, records: Vec<u8>) -> i64 {
    let leader = client
        .topic(topic)
        .unwrap()
        .metadata()
        .unwrap()
        .partition(partition)
        .and_then(|p| p.leader)
        .expect("partition has a leader");
    let response = client
        .connection(leader)
        .unwrap()
        .request(&ProduceRequest {
            transactional_id: None,
            acks: -1,
            timeout_ms: 10_000,
            topic_data: vec![TopicProduceData {
                name: topic.to_owned(),
                partition_data: vec![PartitionProduceData {
                    index: partition,
                    records,
                }],
            }],
        })
        .unwrap();
    let p = &response.responses[0].partition_responses[0];
    assert!(p.error_code.is_ok(), "{:?}", p.error_code);
    p.base_offset
}

/// Appends each value as its own one-record batch (tansu 0.6.0 moves the
/// high watermark by one per batch; single-record batches keep offsets and
/// watermarks in step whatever the broker).
pub fn produce_values(client: &KafkaClient, topic: &str, partition: i32, values: &[String]) {
    for v in values {
        produce_batch(client, topic, partition, &[Rec::value(v)]);
    }
}

/// Consumes until `count` messages arrived or `DEADLINE` passed.
pub fn consume_n(consumer: &SimpleConsumer, count: usize) -> Vec<Message> {
    let deadline = Instant::now() + DEADLINE;
    let mut out = Vec::new();
    while out.len() < count {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "only {} of {count} messages arrived",
            out.len()
        );
        if let Some(m) = consumer
            .consume(left.min(Duration::from_millis(200)))
            .unwrap()
        {
            out.push(m);
        }
    }
    out
}

/// A message's value as text.
pub fn value_str(m: &Message) -> String {
    String::from_utf8_lossy(m.value_bytes()).into_owned()
}

/// A record's fields, owned: as read back from the broker (or as a test
/// vector's manifest states them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub offset: i64,
    pub timestamp: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

impl From<Record<'_>> for Fetched {
    fn from(r: Record<'_>) -> Fetched {
        Fetched {
            offset: r.offset,
            timestamp: r.timestamp,
            key: r.key.map(<[u8]>::to_vec),
            value: r.value.map(<[u8]>::to_vec),
            headers: r
                .headers
                .iter()
                .map(|h| (h.key.to_string(), h.value().map(<[u8]>::to_vec)))
                .collect(),
        }
    }
}

/// One raw Fetch of `topic`/`partition` (whose id is `topic_id`) from
/// `offset` on `conn`, the partition's leader, that the broker may hold for
/// `max_wait_ms`; asserts it is answered without an error and calls `each`
/// with every batch of the answer.
#[allow(clippy::too_many_arguments)]
pub fn fetch_batches(
    conn: &Connection,
    topic: &str,
    topic_id: [u8; 16],
    partition: i32,
    offset: i64,
    max_wait_ms: i32,
    max_bytes: i32,
    each: impl FnMut(RecordBatch<'_>),
) {
    let options = DecodeOptions::default();
    fetch_batches_with(
        conn,
        (topic, topic_id, partition),
        offset,
        max_wait_ms,
        max_bytes,
        options,
        each,
    );
}

/// [`fetch_batches`] of `(topic, topic_id, partition)`, decoding the
/// batches with `options` (the mock cluster writes its transaction markers
/// with a zero CRC, so `support::txn_log` reads without CRC checks).
pub fn fetch_batches_with(
    conn: &Connection,
    (topic, topic_id, partition): (&str, [u8; 16], i32),
    offset: i64,
    max_wait_ms: i32,
    max_bytes: i32,
    options: DecodeOptions,
    mut each: impl FnMut(RecordBatch<'_>),
) {
    let request = FetchRequest {
        max_wait_ms,
        topics: vec![FetchTopic {
            topic: topic.to_owned(),
            topic_id,
            partitions: vec![FetchPartition {
                partition,
                fetch_offset: offset,
                partition_max_bytes: max_bytes,
                ..FetchPartition::default()
            }],
        }],
        ..FetchRequest::default()
    };
    let pending = conn.send(&request).unwrap();
    let frame = pending
        .receiver()
        .recv_timeout(DEADLINE)
        .expect("fetch answered")
        .expect("fetch frame");
    let (response, frame) = pending
        .decode_keeping_frame(Ok(frame))
        .expect("fetch decodes");
    let p = &response.responses[0].partitions[0];
    assert_eq!(p.error_code, ErrorCode::None, "fetch {topic}/{partition}");
    let bytes = p
        .records_in(&frame.bytes)
        .expect("records within the frame");
    for batch in decode_batches(bytes, options) {
        each(batch.expect("batch decodes"));
    }
}

/// Reads `partition` from offset 0 with raw Fetch requests until `expected`
/// records have arrived (or `DEADLINE` passes, which fails the test).
pub fn read_partition(
    client: &KafkaClient,
    topic: &str,
    partition: i32,
    expected: usize,
) -> Vec<Fetched> {
    let deadline = Instant::now() + DEADLINE;
    let meta = client.topic(topic).unwrap().metadata().unwrap();
    let leader = meta
        .partition(partition)
        .and_then(|p| p.leader)
        .expect("partition has a leader");
    let conn = client.connection(leader).unwrap();
    let mut out: Vec<Fetched> = Vec::new();
    let mut offset = 0;
    while out.len() < expected {
        assert!(
            Instant::now() < deadline,
            "read {} of {expected} records from {topic}/{partition}",
            out.len()
        );
        let mut progressed = false;
        let from = offset;
        fetch_batches(
            &conn,
            topic,
            meta.topic_id,
            partition,
            from,
            100,
            4 << 20,
            |batch| {
                for record in batch.records().expect("records decode") {
                    let r = record.expect("record decodes");
                    if r.offset < offset {
                        continue;
                    }
                    offset = r.offset + 1;
                    progressed = true;
                    out.push(Fetched::from(r));
                }
            },
        );
        if !progressed {
            std::thread::yield_now();
        }
    }
    out
}

/// A SimpleConsumer configuration that starts partitions without a
/// committed offset at the earliest one.
pub fn earliest() -> SimpleConsumerConfig {
    SimpleConsumerConfig::default().auto_offset_reset(OffsetReset::Earliest)
}
