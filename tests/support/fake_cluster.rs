//! A scripted in-process cluster of fake brokers for consumer fault tests:
//! one topic whose partitions live on chosen brokers, with leader moves,
//! partitions added, brokers that go down and come back, log start offsets
//! (for OFFSET_OUT_OF_RANGE) and records appended on demand. It speaks just
//! enough protocol (ApiVersions, Metadata, ListOffsets, Fetch), with
//! `kafka-protocol` decoding requests and encoding responses, so the tests
//! do not depend on a real broker's quirks. Each broker answers through
//! the shared frame loop ([`super::fake_broker`]), possibly behind a front
//! (SASL: [`super::fake_sasl`]); the accept loop is its own, to take brokers
//! down and make them silent.

use std::collections::BTreeMap;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, FetchableTopicResponse, PartitionData,
};
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsResponse, BrokerId, FetchRequest, FetchResponse, ListOffsetsRequest,
    ListOffsetsResponse, MetadataResponse, ProducerId, TopicName,
};
use kafka_protocol::protocol::{Decodable, StrBytes};
use kafka_sync::protocol::records::{BatchBuilder, BatchOptions, ControlRecordType};

use super::fake_broker::{encode, serve_connection, Handler, Reply, Request};

/// The apis the cluster's brokers serve, `(api key, min version, max
/// version)` (for a front that answers ApiVersions itself).
pub const APIS: [(i16, i16, i16); 4] = [
    (ApiKey::ApiVersions as i16, 0, 3),
    (ApiKey::Metadata as i16, 1, 12),
    (ApiKey::ListOffsets as i16, 1, 7),
    (ApiKey::Fetch as i16, 4, 12),
];

/// One record of a log, each served as its own batch.
#[derive(Debug, Clone)]
enum Entry {
    Plain(Vec<u8>),
    /// A record of producer `.0`'s open transaction.
    Transactional(i64, Vec<u8>),
    /// The end of producer `.0`'s transaction: commit or abort.
    Marker(i64, bool),
}

/// One partition's log.
#[derive(Debug, Default)]
struct Log {
    leader: i32,
    log_start: i64,
    /// Entries by offset, from `log_start`.
    values: Vec<Entry>,
}

impl Log {
    fn end(&self) -> i64 {
        self.log_start + self.values.len() as i64
    }

    /// `(producer_id, first_offset)` of aborted transactions whose marker
    /// lies at or after `offset`.
    fn aborted_from(&self, offset: i64) -> Vec<(i64, i64)> {
        let mut open: BTreeMap<i64, i64> = BTreeMap::new();
        let mut aborted = Vec::new();
        for (i, entry) in self.values.iter().enumerate() {
            let at = self.log_start + i as i64;
            match entry {
                Entry::Transactional(pid, _) => {
                    open.entry(*pid).or_insert(at);
                }
                Entry::Marker(pid, commit) => {
                    if let Some(first) = open.remove(pid) {
                        if !commit && at >= offset {
                            aborted.push((*pid, first));
                        }
                    }
                }
                Entry::Plain(_) => {}
            }
        }
        aborted
    }
}

/// One entry as a batch at `offset`.
fn batch(offset: i64, entry: &Entry) -> Vec<u8> {
    let mut options = BatchOptions::default().with_base_offset(offset);
    let (key, value): (Option<Vec<u8>>, Vec<u8>) = match entry {
        Entry::Plain(v) => (None, v.clone()),
        Entry::Transactional(pid, v) => {
            options = options
                .with_producer_state(*pid, 0, 0)
                .with_transactional(true);
            (None, v.clone())
        }
        Entry::Marker(pid, commit) => {
            options = options
                .with_producer_state(*pid, 0, -1)
                .with_transactional(true);
            options.control = true;
            let kind = if *commit {
                ControlRecordType::Commit
            } else {
                ControlRecordType::Abort
            };
            (
                Some(kind.key().to_vec()),
                ControlRecordType::end_txn_marker_value(0).to_vec(),
            )
        }
    };
    let mut builder = BatchBuilder::new(options);
    builder
        .append(0, key.as_deref(), Some(&value), &[])
        .unwrap();
    builder.build().unwrap()
}

#[derive(Debug)]
struct State {
    topic: String,
    ports: BTreeMap<i32, u16>,
    down: BTreeMap<i32, bool>,
    /// Brokers that accept connections and never answer.
    silent: BTreeMap<i32, bool>,
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
        FakeCluster::start_behind(topic, brokers, leaders, |handler| handler)
    }

    /// As [`start`](Self::start), with each connection's handler wrapped
    /// by `front`: `|handler| sasl_server(fake.clone(), Some(handler))`.
    pub fn start_behind<W, H>(topic: &str, brokers: i32, leaders: &[i32], front: W) -> FakeCluster
    where
        W: Fn(Handler) -> H + Send + Sync + 'static,
        H: FnMut(&Request) -> Reply + 'static,
    {
        let front = Arc::new(front);
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
            silent: ports.keys().map(|&id| (id, false)).collect(),
            ports,
            logs,
        }));
        for (id, listener) in listeners {
            let (state, stop, conns) = (state.clone(), stop.clone(), conns.clone());
            let front = Arc::clone(&front);
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
                        if state.lock().unwrap().silent[&id] {
                            // Hold the connection open, answer nothing.
                            continue;
                        }
                        let state = state.clone();
                        let front = Arc::clone(&front);
                        thread::spawn(move || {
                            let handler: Handler =
                                Box::new(move |request: &Request| answer(id, request, &state));
                            serve_connection(stream, front(handler));
                        });
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
            .extend(values.iter().map(|v| Entry::Plain(v.as_bytes().to_vec())));
    }

    /// Appends a transaction of `producer_id` to partition `p`: its values,
    /// then its commit or abort marker.
    pub fn append_transaction(&self, p: i32, producer_id: i64, values: &[&str], commit: bool) {
        let mut state = self.state.lock().unwrap();
        let log = state.logs.get_mut(&p).unwrap();
        log.values.extend(
            values
                .iter()
                .map(|v| Entry::Transactional(producer_id, v.as_bytes().to_vec())),
        );
        log.values.push(Entry::Marker(producer_id, commit));
    }

    /// Adds a partition, led by `leader`, to the topic (as CreatePartitions
    /// does); returns its index.
    pub fn add_partition(&self, leader: i32) -> i32 {
        let mut state = self.state.lock().unwrap();
        let p = state.logs.keys().next_back().map_or(0, |&p| p + 1);
        state.logs.insert(
            p,
            Log {
                leader,
                ..Log::default()
            },
        );
        p
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
            self.cut(broker);
        }
    }

    /// Makes a broker a black hole (connections are accepted and never
    /// answered, like a host that stopped mid-way) or brings it back.
    pub fn set_silent(&self, broker: i32, silent: bool) {
        self.state.lock().unwrap().silent.insert(broker, silent);
        self.cut(broker);
    }

    /// Cuts every connection to `broker`.
    fn cut(&self, broker: i32) {
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

impl Drop for FakeCluster {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for (_, stream) in self.conns.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

fn answer(id: i32, request: &Request, state: &Mutex<State>) -> Reply {
    if state.lock().unwrap().down[&id] {
        return Reply::Close;
    }
    let api_key = request.key().expect("a known api");
    let version = request.api_version;
    let mut bytes = request.body.clone();
    let mut idle = false;
    let mut state_guard = state.lock().unwrap();
    let state = &mut *state_guard;
    let body = match api_key {
        ApiKey::ApiVersions => encode(&api_versions(), version),
        ApiKey::Metadata => encode(&metadata(state), version),
        ApiKey::ListOffsets => {
            let request = ListOffsetsRequest::decode(&mut bytes, version).unwrap();
            encode(&list_offsets(id, state, &request), version)
        }
        ApiKey::Fetch => {
            let request = FetchRequest::decode(&mut bytes, version).unwrap();
            let response = fetch(id, state, &request);
            idle = response.responses.iter().all(|t| {
                t.partitions
                    .iter()
                    .all(|p| p.records.as_ref().is_none_or(Bytes::is_empty))
            });
            encode(&response, version)
        }
        other => panic!("the fake cluster does not speak {other:?}"),
    };
    drop(state_guard);
    if idle {
        // A real broker holds an empty fetch for max_wait; a short pause
        // keeps the fetcher from spinning.
        thread::sleep(Duration::from_millis(20));
    }
    Reply::Body(body)
}

fn api_versions() -> ApiVersionsResponse {
    ApiVersionsResponse::default().with_api_keys(
        APIS.iter()
            .map(|&(key, min, max)| {
                ApiVersion::default()
                    .with_api_key(key)
                    .with_min_version(min)
                    .with_max_version(max)
            })
            .collect(),
    )
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
                    let mut records = Vec::new();
                    for (i, entry) in log.values[from..].iter().enumerate() {
                        records.extend(batch(p.fetch_offset + i as i64, entry));
                    }
                    let aborted = (request.isolation_level == 1).then(|| {
                        log.aborted_from(p.fetch_offset)
                            .into_iter()
                            .map(|(pid, first)| {
                                AbortedTransaction::default()
                                    .with_producer_id(ProducerId(pid))
                                    .with_first_offset(first)
                            })
                            .collect()
                    });
                    response
                        .with_aborted_transactions(aborted)
                        .with_records(Some(Bytes::from(records)))
                })
                .collect();
            FetchableTopicResponse::default()
                .with_topic(t.topic.clone())
                .with_partitions(partitions)
        })
        .collect();
    FetchResponse::default().with_responses(responses)
}
