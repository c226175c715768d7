//! Partitions added to a topic while a simple consumer created for all its
//! partitions runs are read too, from their first record; a consumer given
//! explicit partitions keeps to them.
//!
//! Neither broker available here can add partitions to a topic: tansu 0.6.0
//! has no CreatePartitions, and librdkafka's mock cluster has neither the API
//! nor a mock call for it (`rd_kafka_mock_topic_create` on an existing topic
//! answers TOPIC_ALREADY_EXISTS). So this runs against a small in-process
//! fake broker, below, that speaks just ApiVersions, Metadata, ListOffsets
//! and Fetch for one topic whose partition count can grow.

#![cfg(feature = "testkit")]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsResponse, BrokerId, FetchRequest, FetchResponse, ListOffsetsRequest,
    ListOffsetsResponse, MetadataResponse, RequestHeader, ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use kafka_sync::protocol::records::{BatchBuilder, BatchOptions};
use kafka_sync::{KafkaClient, OffsetReset, SimpleConsumer, SimpleConsumerConfig};

const DEADLINE: Duration = Duration::from_secs(20);
const TOPIC: &str = "growing";

/// One broker (id 1) holding one topic; each partition's log is a list of
/// values, one batch each.
struct FakeBroker {
    port: u16,
    logs: Arc<Mutex<Vec<Vec<Vec<u8>>>>>,
}

impl FakeBroker {
    fn start(partitions: usize) -> FakeBroker {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let logs = Arc::new(Mutex::new(vec![Vec::new(); partitions]));
        let shared = Arc::clone(&logs);
        // Accepts for as long as the test process lives.
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let logs = Arc::clone(&shared);
                thread::spawn(move || serve(stream, port, &logs));
            }
        });
        FakeBroker { port, logs }
    }

    fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn add_partition(&self) {
        self.logs.lock().unwrap().push(Vec::new());
    }

    fn append(&self, partition: usize, value: &str) {
        self.logs.lock().unwrap()[partition].push(value.as_bytes().to_vec());
    }
}

fn serve(mut stream: TcpStream, port: u16, logs: &Mutex<Vec<Vec<Vec<u8>>>>) {
    loop {
        let mut size = [0u8; 4];
        if stream.read_exact(&mut size).is_err() {
            return;
        }
        let mut body = vec![0u8; i32::from_be_bytes(size) as usize];
        if stream.read_exact(&mut body).is_err() {
            return;
        }
        let mut bytes = Bytes::from(body);
        let api_key = ApiKey::try_from(i16::from_be_bytes([bytes[0], bytes[1]])).unwrap();
        let version = i16::from_be_bytes([bytes[2], bytes[3]]);
        let header =
            RequestHeader::decode(&mut bytes, api_key.request_header_version(version)).unwrap();
        let mut out = BytesMut::new();
        ResponseHeader::default()
            .with_correlation_id(header.correlation_id)
            .encode(&mut out, api_key.response_header_version(version))
            .unwrap();
        let logs = logs.lock().unwrap().clone();
        let mut idle = false;
        match api_key {
            ApiKey::ApiVersions => api_versions().encode(&mut out, version).unwrap(),
            ApiKey::Metadata => metadata(port, &logs).encode(&mut out, version).unwrap(),
            ApiKey::ListOffsets => {
                let request = ListOffsetsRequest::decode(&mut bytes, version).unwrap();
                list_offsets(&logs, &request)
                    .encode(&mut out, version)
                    .unwrap();
            }
            ApiKey::Fetch => {
                let request = FetchRequest::decode(&mut bytes, version).unwrap();
                let (response, empty) = fetch(&logs, &request);
                idle = empty;
                response.encode(&mut out, version).unwrap();
            }
            other => panic!("the fake broker does not speak {other:?}"),
        }
        if idle {
            // A real broker holds an empty fetch for max_wait.
            thread::sleep(Duration::from_millis(20));
        }
        let mut frame = (out.len() as i32).to_be_bytes().to_vec();
        frame.extend_from_slice(&out);
        if stream.write_all(&frame).is_err() {
            return;
        }
    }
}

fn api_versions() -> ApiVersionsResponse {
    let key = |api_key: ApiKey, min: i16, max: i16| {
        ApiVersion::default()
            .with_api_key(api_key as i16)
            .with_min_version(min)
            .with_max_version(max)
    };
    ApiVersionsResponse::default().with_api_keys(vec![
        key(ApiKey::ApiVersions, 0, 3),
        key(ApiKey::Metadata, 1, 12),
        key(ApiKey::ListOffsets, 1, 7),
        key(ApiKey::Fetch, 4, 12),
    ])
}

fn metadata(port: u16, logs: &[Vec<Vec<u8>>]) -> MetadataResponse {
    let partitions = (0..logs.len())
        .map(|p| {
            MetadataResponsePartition::default()
                .with_partition_index(p as i32)
                .with_leader_id(BrokerId(1))
                .with_replica_nodes(vec![BrokerId(1)])
                .with_isr_nodes(vec![BrokerId(1)])
        })
        .collect();
    MetadataResponse::default()
        .with_brokers(vec![MetadataResponseBroker::default()
            .with_node_id(BrokerId(1))
            .with_host(StrBytes::from_static_str("127.0.0.1"))
            .with_port(i32::from(port))])
        .with_controller_id(BrokerId(1))
        .with_cluster_id(Some(StrBytes::from_static_str("fake")))
        .with_topics(vec![MetadataResponseTopic::default()
            .with_name(Some(TopicName(StrBytes::from_static_str(TOPIC))))
            .with_partitions(partitions)])
}

fn list_offsets(logs: &[Vec<Vec<u8>>], request: &ListOffsetsRequest) -> ListOffsetsResponse {
    let topics = request
        .topics
        .iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let response = ListOffsetsPartitionResponse::default()
                        .with_partition_index(p.partition_index);
                    match logs.get(p.partition_index as usize) {
                        Some(log) => {
                            response
                                .with_timestamp(-1)
                                .with_offset(if p.timestamp == -2 {
                                    0
                                } else {
                                    log.len() as i64
                                })
                        }
                        None => response.with_error_code(3),
                    }
                })
                .collect();
            ListOffsetsTopicResponse::default()
                .with_name(t.name.clone())
                .with_partitions(partitions)
        })
        .collect();
    ListOffsetsResponse::default().with_topics(topics)
}

/// The response, and whether it holds no records at all.
fn fetch(logs: &[Vec<Vec<u8>>], request: &FetchRequest) -> (FetchResponse, bool) {
    let mut empty = true;
    let responses = request
        .topics
        .iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let response = PartitionData::default().with_partition_index(p.partition);
                    let Some(log) = logs.get(p.partition as usize) else {
                        return response.with_error_code(3);
                    };
                    let end = log.len() as i64;
                    let response = response
                        .with_high_watermark(end)
                        .with_last_stable_offset(end)
                        .with_log_start_offset(0);
                    if p.fetch_offset < 0 || p.fetch_offset > end {
                        return response.with_error_code(1);
                    }
                    let mut records = Vec::new();
                    for (offset, value) in log.iter().enumerate().skip(p.fetch_offset as usize) {
                        let mut builder = BatchBuilder::new(
                            BatchOptions::default().with_base_offset(offset as i64),
                        );
                        builder.append(0, None, Some(value), &[]).unwrap();
                        records.extend(builder.build().unwrap());
                    }
                    empty &= records.is_empty();
                    response.with_records(Some(Bytes::from(records)))
                })
                .collect();
            FetchableTopicResponse::default()
                .with_topic(t.topic.clone())
                .with_partitions(partitions)
        })
        .collect();
    (FetchResponse::default().with_responses(responses), empty)
}

fn client(broker: &FakeBroker) -> KafkaClient {
    KafkaClient::builder()
        .hosts(broker.bootstrap())
        .metadata_max_age(Duration::from_millis(200))
        .build()
        .expect("client bootstraps")
}

/// Values read until `n` arrived, as (partition, offset, value).
fn read(consumer: &SimpleConsumer, n: usize) -> Vec<(i32, i64, String)> {
    let started = Instant::now();
    let mut got = Vec::new();
    while got.len() < n {
        let left = DEADLINE.saturating_sub(started.elapsed());
        match consumer.consume(left).unwrap() {
            Some(m) => got.push((
                m.partition,
                m.offset,
                String::from_utf8_lossy(m.value_bytes()).into_owned(),
            )),
            None => panic!("only {got:?} within {DEADLINE:?}"),
        }
    }
    got
}

#[test]
fn a_consumer_of_all_partitions_reads_a_partition_added_later_from_its_start() {
    let broker = FakeBroker::start(1);
    let client = client(&broker);
    // `Latest`: the new partition is read from its start all the same,
    // since everything in it is newer than the consumer.
    let consumer = client
        .topic(TOPIC)
        .unwrap()
        .get_simple_consumer(SimpleConsumerConfig::default().auto_offset_reset(OffsetReset::Latest))
        .unwrap();
    assert_eq!(consumer.partitions(), [0]);
    broker.append(0, "a");
    assert_eq!(read(&consumer, 1), [(0, 0, "a".to_owned())]);
    broker.add_partition();
    broker.append(1, "b");
    broker.append(1, "c");
    assert_eq!(
        read(&consumer, 2),
        [(1, 0, "b".to_owned()), (1, 1, "c".to_owned())]
    );
    assert_eq!(consumer.partitions(), [0, 1]);
    assert_eq!(consumer.position(1), Some(2));
}

#[test]
fn a_consumer_of_explicit_partitions_keeps_to_them_when_partitions_are_added() {
    let broker = FakeBroker::start(1);
    let client = client(&broker);
    let consumer = client
        .topic(TOPIC)
        .unwrap()
        .get_simple_consumer(
            SimpleConsumerConfig::default()
                .partitions([0])
                .auto_offset_reset(OffsetReset::Earliest),
        )
        .unwrap();
    broker.add_partition();
    broker.append(1, "elsewhere");
    broker.append(0, "here");
    assert_eq!(read(&consumer, 1), [(0, 0, "here".to_owned())]);
    // Several metadata refreshes later, still only partition 0.
    assert!(consumer.consume(Duration::from_secs(1)).unwrap().is_none());
    assert_eq!(consumer.partitions(), [0]);
}
