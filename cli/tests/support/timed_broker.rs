//! A scripted in-process broker for the one thing no real broker here can
//! show: lookups of offsets by timestamp. tansu 0.6.0 answers every such
//! ListOffsets with offset 0 and librdkafka's mock cluster with -1, so
//! `-o s@TS`, `-o e@TS` and `-Q` with a time are checked against this.
//!
//! One broker (id 1), one topic, one partition holding records whose
//! timestamps the test chooses, each served as its own batch. It speaks
//! ApiVersions, Metadata, ListOffsets (earliest, latest, and by time, as
//! Kafka answers: the first offset whose timestamp is at or after the time,
//! else offset -1 and timestamp -1) and Fetch. Requests and responses are
//! coded with the `kafka-protocol` crate and record batches are written by
//! its encoder, independent of the library's codecs.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
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
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

/// `(api key, min version, max version)` served.
const APIS: [(ApiKey, i16, i16); 4] = [
    (ApiKey::ApiVersions, 0, 3),
    (ApiKey::Metadata, 1, 12),
    (ApiKey::ListOffsets, 1, 7),
    (ApiKey::Fetch, 4, 12),
];

/// The broker's log: `(timestamp, value)` per offset.
struct Log {
    topic: String,
    records: Vec<(i64, String)>,
    port: u16,
}

/// A running broker; its threads end with the test process.
pub struct TimedBroker {
    port: u16,
}

impl TimedBroker {
    /// Serves `topic` (one partition) holding `records`, `(timestamp ms,
    /// value)` at offsets 0, 1, ...
    pub fn start(topic: &str, records: Vec<(i64, String)>) -> TimedBroker {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = listener.local_addr().unwrap().port();
        let log = Arc::new(Log {
            topic: topic.to_string(),
            records,
            port,
        });
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let log = Arc::clone(&log);
                thread::spawn(move || serve(stream, &log));
            }
        });
        TimedBroker { port }
    }

    /// `127.0.0.1:port`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

fn serve(mut stream: TcpStream, log: &Log) {
    loop {
        let mut size = [0u8; 4];
        if stream.read_exact(&mut size).is_err() {
            return;
        }
        let mut frame = vec![0u8; i32::from_be_bytes(size).clamp(0, 1 << 24) as usize];
        if stream.read_exact(&mut frame).is_err() {
            return;
        }
        let key = i16::from_be_bytes([frame[0], frame[1]]);
        let version = i16::from_be_bytes([frame[2], frame[3]]);
        let Ok(api) = ApiKey::try_from(key) else {
            return;
        };
        let mut body = Bytes::from(frame);
        let header = RequestHeader::decode(&mut body, api.request_header_version(version))
            .expect("a request header");
        let answer = match api {
            ApiKey::ApiVersions => {
                // Versions past the served range get v0 and the error the
                // client retries on, as Kafka answers.
                let served = APIS[0].2;
                let (v, error) = if version > served {
                    (0, 35)
                } else {
                    (version, 0)
                };
                let r = ApiVersionsResponse::default()
                    .with_error_code(error)
                    .with_api_keys(
                        APIS.iter()
                            .map(|&(k, min, max)| {
                                ApiVersion::default()
                                    .with_api_key(k as i16)
                                    .with_min_version(min)
                                    .with_max_version(max)
                            })
                            .collect(),
                    );
                respond(&mut stream, &header, api, v, &r)
            }
            ApiKey::Metadata => respond(&mut stream, &header, api, version, &metadata(log)),
            ApiKey::ListOffsets => {
                let request = ListOffsetsRequest::decode(&mut body, version).unwrap();
                respond(
                    &mut stream,
                    &header,
                    api,
                    version,
                    &list_offsets(log, &request),
                )
            }
            ApiKey::Fetch => {
                let request = FetchRequest::decode(&mut body, version).unwrap();
                let (response, empty) = fetch(log, &request);
                if empty {
                    // A real broker holds an empty fetch for max_wait.
                    thread::sleep(Duration::from_millis(50));
                }
                respond(&mut stream, &header, api, version, &response)
            }
            other => panic!("the timed broker does not speak {other:?}"),
        };
        if answer.is_err() {
            return;
        }
    }
}

fn respond(
    stream: &mut TcpStream,
    header: &RequestHeader,
    api: ApiKey,
    version: i16,
    body: &impl Encodable,
) -> std::io::Result<()> {
    let mut out = BytesMut::new();
    ResponseHeader::default()
        .with_correlation_id(header.correlation_id)
        .encode(&mut out, api.response_header_version(version))
        .unwrap();
    body.encode(&mut out, version).unwrap();
    let mut frame = (out.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&out);
    stream.write_all(&frame)
}

fn metadata(log: &Log) -> MetadataResponse {
    MetadataResponse::default()
        .with_brokers(vec![MetadataResponseBroker::default()
            .with_node_id(BrokerId(1))
            .with_host(StrBytes::from_static_str("127.0.0.1"))
            .with_port(i32::from(log.port))])
        .with_controller_id(BrokerId(1))
        .with_cluster_id(Some(StrBytes::from_static_str("timed")))
        .with_topics(vec![MetadataResponseTopic::default()
            .with_name(Some(TopicName(StrBytes::from_string(log.topic.clone()))))
            .with_partitions(vec![MetadataResponsePartition::default()
                .with_partition_index(0)
                .with_leader_id(BrokerId(1))
                .with_replica_nodes(vec![BrokerId(1)])
                .with_isr_nodes(vec![BrokerId(1)])])])
}

fn list_offsets(log: &Log, request: &ListOffsetsRequest) -> ListOffsetsResponse {
    let end = log.records.len() as i64;
    let topics = request
        .topics
        .iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let r = ListOffsetsPartitionResponse::default()
                        .with_partition_index(p.partition_index);
                    if p.partition_index != 0 {
                        return r.with_error_code(3);
                    }
                    let (offset, ts) = match p.timestamp {
                        -2 => (0, -1),
                        -1 => (end, -1),
                        at => log
                            .records
                            .iter()
                            .position(|(ts, _)| *ts >= at)
                            .map_or((-1, -1), |i| (i as i64, log.records[i].0)),
                    };
                    r.with_offset(offset).with_timestamp(ts)
                })
                .collect();
            ListOffsetsTopicResponse::default()
                .with_name(t.name.clone())
                .with_partitions(partitions)
        })
        .collect();
    ListOffsetsResponse::default().with_topics(topics)
}

fn fetch(log: &Log, request: &FetchRequest) -> (FetchResponse, bool) {
    let end = log.records.len() as i64;
    let mut empty = true;
    let responses = request
        .topics
        .iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let r = PartitionData::default()
                        .with_partition_index(p.partition)
                        .with_high_watermark(end)
                        .with_last_stable_offset(end)
                        .with_log_start_offset(0);
                    if p.partition != 0 {
                        return r.with_error_code(3);
                    }
                    if p.fetch_offset < 0 || p.fetch_offset > end {
                        return r.with_error_code(1);
                    }
                    let mut buf = BytesMut::new();
                    for offset in p.fetch_offset..end {
                        let (ts, value) = &log.records[offset as usize];
                        let record = Record {
                            transactional: false,
                            control: false,
                            delete_horizon: false,
                            partition_leader_epoch: 0,
                            producer_id: -1,
                            producer_epoch: -1,
                            timestamp_type: TimestampType::Creation,
                            offset,
                            sequence: -1,
                            timestamp: *ts,
                            key: None,
                            value: Some(Bytes::from(value.clone())),
                            headers: IndexMap::new(),
                        };
                        let options = RecordEncodeOptions {
                            version: 2,
                            compression: Compression::None,
                        };
                        RecordBatchEncoder::encode(&mut buf, [&record], &options).unwrap();
                    }
                    empty &= buf.is_empty();
                    r.with_records(Some(buf.freeze()))
                })
                .collect();
            FetchableTopicResponse::default()
                .with_topic(t.topic.clone())
                .with_topic_id(t.topic_id)
                .with_partitions(partitions)
        })
        .collect();
    (FetchResponse::default().with_responses(responses), empty)
}
