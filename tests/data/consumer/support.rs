//! Helpers shared by the consumer's integration tests: a client on the shared
//! broker, raw Produce requests, and the `confluent-kafka` peer scripts.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use kafka_sync::protocol::api::{PartitionProduceData, ProduceRequest, TopicProduceData};
use kafka_sync::protocol::records::{BatchBuilder, BatchOptions, Header};
use kafka_sync::testkit;
use kafka_sync::{KafkaClient, Message, SimpleConsumer};

/// How long any test waits for something that should happen promptly.
pub const DEADLINE: Duration = Duration::from_secs(30);

pub fn bootstrap() -> String {
    testkit::shared().expect("test broker starts").bootstrap()
}

pub fn client() -> KafkaClient {
    KafkaClient::new(&bootstrap()).expect("client bootstraps")
}

/// A record to produce: key, value, headers, timestamp.
#[derive(Clone, Debug, Default)]
pub struct Rec {
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    pub timestamp: i64,
}

impl Rec {
    pub fn value(v: impl AsRef<[u8]>) -> Rec {
        Rec {
            value: Some(v.as_ref().to_vec()),
            timestamp: now_ms(),
            ..Rec::default()
        }
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap())
        .unwrap()
}

/// Appends `records` to `partition` as one batch, through a raw Produce to
/// its leader; returns the batch's base offset.
pub fn produce_batch(client: &KafkaClient, topic: &str, partition: i32, records: &[Rec]) -> i64 {
    let leader = client
        .topic(topic)
        .unwrap()
        .metadata()
        .unwrap()
        .partition(partition)
        .and_then(|p| p.leader)
        .expect("partition has a leader");
    let conn = client.connection(leader).unwrap();
    let mut builder = BatchBuilder::new(BatchOptions::default());
    for r in records {
        let headers: Vec<Header<'_>> = r
            .headers
            .iter()
            .map(|(k, v)| Header::new(k, v.as_deref()))
            .collect();
        builder
            .append(r.timestamp, r.key.as_deref(), r.value.as_deref(), &headers)
            .unwrap();
    }
    let response = conn
        .request(&ProduceRequest {
            transactional_id: None,
            acks: -1,
            timeout_ms: 10_000,
            topic_data: vec![TopicProduceData {
                name: topic.to_owned(),
                partition_data: vec![PartitionProduceData {
                    index: partition,
                    records: builder.build().unwrap(),
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

pub fn value_str(m: &Message) -> String {
    String::from_utf8_lossy(m.value_bytes()).into_owned()
}

/// `tests/data/consumer/<name>`.
pub fn data_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/consumer")
        .join(name)
}

/// Runs a peer script with the testkit's Python peers and returns its
/// standard output.
pub fn python(script: &str, args: &[&str]) -> String {
    let python = testkit::python_peers().expect("the Python peers are provisioned");
    let output = Command::new(python)
        .arg(data_file(script))
        .args(args)
        .output()
        .expect("the peers' python runs");
    assert!(
        output.status.success(),
        "{script} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}
