//! Helpers for the producer tests: a raw Fetch that reads a partition back,
//! independent of the consumer.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use kafka_sync::protocol::api::{FetchPartition, FetchRequest, FetchTopic};
use kafka_sync::protocol::records::{decode_batches, DecodeOptions};
use kafka_sync::testkit;
use kafka_sync::{ErrorCode, KafkaClient};

/// How long a test waits for anything before it fails.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// A record as read back from the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub offset: i64,
    pub timestamp: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

pub fn client() -> KafkaClient {
    let broker = testkit::shared().expect("test broker starts");
    KafkaClient::new(&broker.bootstrap()).expect("client bootstraps")
}

/// A fresh topic with `partitions` partitions.
pub fn new_topic(client: &KafkaClient, prefix: &str, partitions: i32) -> String {
    let name = testkit::unique_name(prefix);
    client
        .create_topic(&name, partitions, 1)
        .expect("topic is created");
    name
}

/// Reads `partition` from offset 0 until `expected` records have arrived
/// (or `DEADLINE` passes, which fails the test).
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
        let request = FetchRequest {
            max_wait_ms: 100,
            topics: vec![FetchTopic {
                topic: topic.to_owned(),
                topic_id: meta.topic_id,
                partitions: vec![FetchPartition {
                    partition,
                    fetch_offset: offset,
                    partition_max_bytes: 4 << 20,
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
        let response = pending.decode(Ok(frame.clone())).expect("fetch decodes");
        let p = &response.responses[0].partitions[0];
        assert_eq!(p.error_code, ErrorCode::None, "fetch {topic}/{partition}");
        let bytes = p.records_in(&frame).expect("records within the frame");
        let mut progressed = false;
        for batch in decode_batches(bytes, DecodeOptions::default()) {
            let batch = batch.expect("batch decodes");
            for record in batch.records().expect("records decode") {
                let r = record.expect("record decodes");
                if r.offset < offset {
                    continue;
                }
                offset = r.offset + 1;
                progressed = true;
                out.push(Fetched {
                    offset: r.offset,
                    timestamp: r.timestamp,
                    key: r.key.map(<[u8]>::to_vec),
                    value: r.value.map(<[u8]>::to_vec),
                    headers: r
                        .headers
                        .iter()
                        .map(|h| (h.key.to_string(), h.value().map(<[u8]>::to_vec)))
                        .collect(),
                });
            }
        }
        if !progressed {
            std::thread::yield_now();
        }
    }
    out
}
