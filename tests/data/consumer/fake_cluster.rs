//! A scripted in-process cluster of fake brokers for consumer fault tests:
//! one topic whose partitions live on chosen brokers, with leader moves,
//! brokers that go down and come back, log start offsets (for
//! OFFSET_OUT_OF_RANGE) and records appended on demand. It speaks just
//! enough protocol (ApiVersions, Metadata, ListOffsets, Fetch), with
//! `kafka-protocol` decoding requests and encoding responses, so the tests
//! do not depend on a real broker's quirks.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

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

/// One partition's log.
#[derive(Debug, Default)]
struct Log {
    leader: i32,
    log_start: i64,
    /// Values by offset, from `log_start`.
    values: Vec<Vec<u8>>,
}

impl Log {
    fn end(&self) -> i64 {
        self.log_start + self.values.len() as i64
    }
}

#[derive(Debug)]
struct State {
    topic: String,
    ports: BTreeMap<i32, u16>,
    down: BTreeMap<i32, bool>,
    logs: BTreeMap<i32, Log>,
}

/// The cluster; brokers stop when it is dropped.
pub struct FakeCluster {
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    /// Every accepted connection, to cut them when a broker goes down.
    conns: Arc<Mutex<Vec<(i32, TcpStream)>>>,
}

impl FakeCluster {
    /// Brokers `1..=brokers`; `leaders[p]` is partition `p`'s leader.
    pub fn start(topic: &str, brokers: i32, leaders: &[i32]) -> FakeCluster {
        let stop = Arc::new(AtomicBool::new(false));
        let conns = Arc::new(Mutex::new(Vec::new()));
        let mut listeners = Vec::new();
        let mut ports = BTreeMap::new();
        for id in 1..=brokers {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            ports.insert(id, listener.local_addr().unwrap().port());
            listeners.push((id, listener));
        }
        let logs = leaders
            .iter()
            .enumerate()
            .map(|(p, &leader)| {
                (
                    p as i32,
                    Log {
                        leader,
                        ..Log::default()
                    },
                )
            })
            .collect();
        let state = Arc::new(Mutex::new(State {
            topic: topic.to_owned(),
            down: ports.keys().map(|&id| (id, false)).collect(),
            ports,
            logs,
        }));
        for (id, listener) in listeners {
            let (state, stop, conns) = (state.clone(), stop.clone(), conns.clone());
            listener.set_nonblocking(true).unwrap();
            thread::spawn(move || loop {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                match listener.accept() {
                    Ok((stream, _)) => {
                        stream.set_nonblocking(false).unwrap();
                        if state.lock().unwrap().down[&id] {
                            // A dead broker: the connection goes nowhere.
                            let _ = stream.shutdown(Shutdown::Both);
                            continue;
                        }
                        conns
                            .lock()
                            .unwrap()
                            .push((id, stream.try_clone().unwrap()));
                        let state = state.clone();
                        thread::spawn(move || serve(id, stream, &state));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            });
        }
        FakeCluster { state, stop, conns }
    }

    /// `host:port` of broker 1, for bootstrapping.
    pub fn bootstrap(&self) -> String {
        let state = self.state.lock().unwrap();
        let port = state.ports.values().next().unwrap();
        format!("127.0.0.1:{port}")
    }

    /// Appends values to partition `p`.
    pub fn append(&self, p: i32, values: &[&str]) {
        let mut state = self.state.lock().unwrap();
        let log = state.logs.get_mut(&p).unwrap();
        log.values
            .extend(values.iter().map(|v| v.as_bytes().to_vec()));
    }

    /// Deletes partition `p`'s records below `offset` (retention).
    pub fn truncate_before(&self, p: i32, offset: i64) {
        let mut state = self.state.lock().unwrap();
        let log = state.logs.get_mut(&p).unwrap();
        let drop = (offset - log.log_start).clamp(0, log.values.len() as i64) as usize;
        log.values.drain(..drop);
        log.log_start += drop as i64;
    }

    /// Makes `broker` partition `p`'s leader; the old leader answers
    /// NOT_LEADER_OR_FOLLOWER from now on.
    pub fn move_leader(&self, p: i32, broker: i32) {
        self.state.lock().unwrap().logs.get_mut(&p).unwrap().leader = broker;
    }

    /// Takes a broker down (its connections are cut, new ones are closed at
    /// once) or brings it back.
    pub fn set_down(&self, broker: i32, down: bool) {
        self.state.lock().unwrap().down.insert(broker, down);
        if down {
            let mut conns = self.conns.lock().unwrap();
            conns.retain(|(id, stream)| {
                if *id == broker {
                    let _ = stream.shutdown(Shutdown::Both);
                    false
                } else {
                    true
                }
            });
        }
    }
}

impl Drop for FakeCluster {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for (_, stream) in self.conns.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

fn serve(id: i32, mut stream: TcpStream, state: &Mutex<State>) {
    loop {
        let mut size = [0u8; 4];
        if stream.read_exact(&mut size).is_err() {
            return;
        }
        let mut body = vec![0u8; i32::from_be_bytes(size) as usize];
        if stream.read_exact(&mut body).is_err() {
            return;
        }
        if state.lock().unwrap().down[&id] {
            let _ = stream.shutdown(Shutdown::Both);
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
        let mut idle = false;
        let mut state_guard = state.lock().unwrap();
        let state = &mut *state_guard;
        match api_key {
            ApiKey::ApiVersions => api_versions().encode(&mut out, version).unwrap(),
            ApiKey::Metadata => metadata(state).encode(&mut out, version).unwrap(),
            ApiKey::ListOffsets => {
                let request = ListOffsetsRequest::decode(&mut bytes, version).unwrap();
                list_offsets(id, state, &request)
                    .encode(&mut out, version)
                    .unwrap();
            }
            ApiKey::Fetch => {
                let request = FetchRequest::decode(&mut bytes, version).unwrap();
                let response = fetch(id, state, &request);
                idle = response.responses.iter().all(|t| {
                    t.partitions
                        .iter()
                        .all(|p| p.records.as_ref().is_none_or(Bytes::is_empty))
                });
                response.encode(&mut out, version).unwrap();
            }
            other => panic!("the fake cluster does not speak {other:?}"),
        }
        drop(state_guard);
        if idle {
            // A real broker holds an empty fetch for max_wait; a short pause
            // keeps the fetcher from spinning.
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

fn metadata(state: &State) -> MetadataResponse {
    let brokers = state
        .ports
        .iter()
        .map(|(&id, &port)| {
            MetadataResponseBroker::default()
                .with_node_id(BrokerId(id))
                .with_host(StrBytes::from_static_str("127.0.0.1"))
                .with_port(i32::from(port))
        })
        .collect();
    let partitions = state
        .logs
        .iter()
        .map(|(&p, log)| {
            MetadataResponsePartition::default()
                .with_partition_index(p)
                .with_leader_id(BrokerId(log.leader))
                .with_replica_nodes(vec![BrokerId(log.leader)])
                .with_isr_nodes(vec![BrokerId(log.leader)])
        })
        .collect();
    MetadataResponse::default()
        .with_brokers(brokers)
        .with_controller_id(BrokerId(1))
        .with_cluster_id(Some(StrBytes::from_static_str("fake")))
        .with_topics(vec![MetadataResponseTopic::default()
            .with_name(Some(TopicName(StrBytes::from_string(state.topic.clone()))))
            .with_partitions(partitions)])
}

fn list_offsets(id: i32, state: &State, request: &ListOffsetsRequest) -> ListOffsetsResponse {
    let topics = request
        .topics
        .iter()
        .map(|t| {
            let partitions =
                t.partitions
                    .iter()
                    .map(|p| {
                        let response = ListOffsetsPartitionResponse::default()
                            .with_partition_index(p.partition_index);
                        match state.logs.get(&p.partition_index) {
                            Some(log) if log.leader == id => response
                                .with_timestamp(-1)
                                .with_offset(if p.timestamp == -2 {
                                    log.log_start
                                } else {
                                    log.end()
                                }),
                            Some(_) => response.with_error_code(6),
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

fn fetch(id: i32, state: &State, request: &FetchRequest) -> FetchResponse {
    let responses = request
        .topics
        .iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let response = PartitionData::default().with_partition_index(p.partition);
                    let Some(log) = state.logs.get(&p.partition) else {
                        return response.with_error_code(3);
                    };
                    if log.leader != id {
                        return response.with_error_code(6);
                    }
                    let response = response
                        .with_high_watermark(log.end())
                        .with_last_stable_offset(log.end())
                        .with_log_start_offset(log.log_start);
                    if p.fetch_offset < log.log_start || p.fetch_offset > log.end() {
                        return response.with_error_code(1);
                    }
                    let from = (p.fetch_offset - log.log_start) as usize;
                    if from == log.values.len() {
                        return response.with_records(Some(Bytes::new()));
                    }
                    let mut builder =
                        BatchBuilder::new(BatchOptions::default().with_base_offset(p.fetch_offset));
                    for v in &log.values[from..] {
                        builder.append(0, None, Some(v), &[]).unwrap();
                    }
                    response.with_records(Some(Bytes::from(builder.build().unwrap())))
                })
                .collect();
            FetchableTopicResponse::default()
                .with_topic(t.topic.clone())
                .with_partitions(partitions)
        })
        .collect();
    FetchResponse::default().with_responses(responses)
}
