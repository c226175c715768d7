//! The admin API's routing and retries against a scripted two-broker fake
//! cluster: the admin requests' answers are scripted here (encoded by the
//! `kafka-protocol` crate) and served by `support::fake_broker`, for
//! what no broker here does: DeleteRecords at each partition's leader
//! (NOT_LEADER_OR_FOLLOWER, a metadata refresh, the retry at the new
//! leader; OFFSET_OUT_OF_RANGE for one partition only), CreateTopics and
//! CreatePartitions moving to a new controller on NOT_CONTROLLER, and
//! CreatePartitions refusing to shrink a topic.

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use kafka_protocol::messages::{self as m, ApiKey, BrokerId};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use kafka_sync::{ErrorCode, KafkaClient, NewTopic, TopicPartition};
use support::fake_broker::{FakeBroker, Reply, Request};

const HIGH_WATERMARK: i64 = 10;

#[derive(Default)]
struct State {
    ports: Vec<u16>,
    controller: i32,
    /// Partition counts by topic.
    topics: BTreeMap<String, i32>,
    /// Leader of partition 1 of every topic (partition 0 is led by broker 1).
    leader_of_1: i32,
    /// Move partition 1's leader to broker 2 when broker 1 is asked to
    /// delete its records.
    move_leader_on_delete: bool,
    /// Hand the controller over to broker 2 when broker 1 gets its first
    /// controller request.
    move_controller: bool,
    /// (broker, API key) of every admin request.
    log: Vec<(i32, i16)>,
}

struct Fake {
    state: Arc<Mutex<State>>,
}

impl Fake {
    fn start(setup: impl FnOnce(&mut State)) -> Fake {
        let brokers = [FakeBroker::bind(), FakeBroker::bind()];
        let mut state = State {
            ports: brokers.iter().map(FakeBroker::port).collect(),
            controller: 1,
            leader_of_1: 1,
            ..State::default()
        };
        setup(&mut state);
        let state = Arc::new(Mutex::new(state));
        for (i, broker) in brokers.iter().enumerate() {
            let state = Arc::clone(&state);
            let id = i as i32 + 1;
            broker.serve(move || {
                let state = Arc::clone(&state);
                move |request: &Request| Reply::Body(answer(id, request, &state))
            });
        }
        Fake { state }
    }

    fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.state.lock().unwrap().ports[0])
    }

    fn client(&self) -> KafkaClient {
        KafkaClient::builder()
            .hosts(self.bootstrap())
            .request_timeout(Duration::from_secs(5))
            .retry_backoff(Duration::from_millis(10))
            .build()
            .unwrap()
    }

    fn log(&self) -> Vec<(i32, i16)> {
        self.state.lock().unwrap().log.clone()
    }
}

fn s(text: &str) -> StrBytes {
    StrBytes::from_string(text.to_owned())
}

/// Broker `id`'s answer to `request`.
fn answer(id: i32, request: &Request, state: &Mutex<State>) -> Vec<u8> {
    let mut buf = request.body.clone();
    let version = request.api_version;
    let key = request.key().expect("a known api");
    let mut body = BytesMut::new();
    let mut st = state.lock().unwrap();
    match key {
        ApiKey::ApiVersions => {
            let range = |k: ApiKey, min, max| {
                m::api_versions_response::ApiVersion::default()
                    .with_api_key(k as i16)
                    .with_min_version(min)
                    .with_max_version(max)
            };
            m::ApiVersionsResponse::default()
                .with_api_keys(vec![
                    range(ApiKey::ApiVersions, 0, 3),
                    range(ApiKey::Metadata, 1, 12),
                    range(ApiKey::CreateTopics, 2, 7),
                    range(ApiKey::DeleteRecords, 0, 2),
                    range(ApiKey::CreatePartitions, 0, 3),
                ])
                .encode(&mut body, version.min(3))
                .unwrap();
        }
        ApiKey::Metadata => {
            let request = m::MetadataRequest::decode(&mut buf, version).unwrap();
            let names: Vec<String> = match request.topics {
                None => st.topics.keys().cloned().collect(),
                Some(topics) => topics
                    .into_iter()
                    .filter_map(|t| t.name.map(|n| n.0.to_string()))
                    .collect(),
            };
            let topics = names
                .into_iter()
                .map(|name| {
                    let topic = m::metadata_response::MetadataResponseTopic::default()
                        .with_name(Some(s(&name).into()));
                    let Some(&count) = st.topics.get(&name) else {
                        return topic.with_error_code(ErrorCode::UnknownTopicOrPartition.code());
                    };
                    topic.with_partitions(
                        (0..count)
                            .map(|p| {
                                let leader = if p == 1 { st.leader_of_1 } else { 1 };
                                m::metadata_response::MetadataResponsePartition::default()
                                    .with_partition_index(p)
                                    .with_leader_id(BrokerId(leader))
                                    .with_replica_nodes(vec![BrokerId(leader)])
                                    .with_isr_nodes(vec![BrokerId(leader)])
                            })
                            .collect(),
                    )
                })
                .collect();
            m::MetadataResponse::default()
                .with_brokers(
                    st.ports
                        .iter()
                        .enumerate()
                        .map(|(i, port)| {
                            m::metadata_response::MetadataResponseBroker::default()
                                .with_node_id(BrokerId(i as i32 + 1))
                                .with_host(s("127.0.0.1"))
                                .with_port(i32::from(*port))
                        })
                        .collect(),
                )
                .with_cluster_id(Some(s("fake")))
                .with_controller_id(BrokerId(st.controller))
                .with_topics(topics)
                .encode(&mut body, version)
                .unwrap();
        }
        ApiKey::CreateTopics => {
            st.log.push((id, key as i16));
            let request = m::CreateTopicsRequest::decode(&mut buf, version).unwrap();
            let not_controller = controller_check(id, &mut st);
            let topics = request
                .topics
                .into_iter()
                .map(|t| {
                    let name = t.name.0.to_string();
                    let result = m::create_topics_response::CreatableTopicResult::default()
                        .with_name(s(&name).into());
                    if let Some(code) = not_controller {
                        return result.with_error_code(code);
                    }
                    st.topics.insert(name, t.num_partitions);
                    result
                })
                .collect();
            m::CreateTopicsResponse::default()
                .with_topics(topics)
                .encode(&mut body, version)
                .unwrap();
        }
        ApiKey::CreatePartitions => {
            st.log.push((id, key as i16));
            let request = m::CreatePartitionsRequest::decode(&mut buf, version).unwrap();
            let not_controller = controller_check(id, &mut st);
            let results = request
                    .topics
                    .into_iter()
                    .map(|t| {
                        let name = t.name.0.to_string();
                        let result =
                            m::create_partitions_response::CreatePartitionsTopicResult::default()
                                .with_name(s(&name).into());
                        if let Some(code) = not_controller {
                            return result.with_error_code(code);
                        }
                        let current = st.topics[&name];
                        if t.count <= current {
                            return result
                                .with_error_code(ErrorCode::InvalidPartitions.code())
                                .with_error_message(Some(s(&format!(
                                    "Topic currently has {current} partitions, which is higher than the requested {}.",
                                    t.count
                                ))));
                        }
                        st.topics.insert(name, t.count);
                        result
                    })
                    .collect();
            m::CreatePartitionsResponse::default()
                .with_results(results)
                .encode(&mut body, version)
                .unwrap();
        }
        ApiKey::DeleteRecords => {
            st.log.push((id, key as i16));
            let request = m::DeleteRecordsRequest::decode(&mut buf, version).unwrap();
            let topics = request
                .topics
                .into_iter()
                .map(|t| {
                    let partitions = t
                        .partitions
                        .into_iter()
                        .map(|p| {
                            let leader = if p.partition_index == 1 {
                                st.leader_of_1
                            } else {
                                1
                            };
                            let result =
                                m::delete_records_response::DeleteRecordsPartitionResult::default()
                                    .with_partition_index(p.partition_index);
                            if leader != id {
                                return result
                                    .with_low_watermark(-1)
                                    .with_error_code(ErrorCode::NotLeaderOrFollower.code());
                            }
                            if st.move_leader_on_delete && p.partition_index == 1 {
                                st.move_leader_on_delete = false;
                                st.leader_of_1 = 2;
                                return result
                                    .with_low_watermark(-1)
                                    .with_error_code(ErrorCode::NotLeaderOrFollower.code());
                            }
                            match p.offset {
                                -1 => result.with_low_watermark(HIGH_WATERMARK),
                                o if o > HIGH_WATERMARK => result
                                    .with_low_watermark(-1)
                                    .with_error_code(ErrorCode::OffsetOutOfRange.code()),
                                o => result.with_low_watermark(o),
                            }
                        })
                        .collect();
                    m::delete_records_response::DeleteRecordsTopicResult::default()
                        .with_name(t.name)
                        .with_partitions(partitions)
                })
                .collect();
            m::DeleteRecordsResponse::default()
                .with_topics(topics)
                .encode(&mut body, version)
                .unwrap();
        }
        other => panic!("the fake does not answer {other:?}"),
    }
    drop(st);
    body.to_vec()
}

/// NOT_CONTROLLER from a broker that is not (or no longer) the controller;
/// with `move_controller`, broker 1 hands over to broker 2 on its first call.
fn controller_check(id: i32, st: &mut State) -> Option<i16> {
    if st.move_controller && id == 1 {
        st.move_controller = false;
        st.controller = 2;
    }
    (st.controller != id).then_some(ErrorCode::NotController.code())
}

#[test]
fn delete_records_follows_a_moved_leader_and_answers_each_partition() {
    let fake = Fake::start(|st| {
        st.topics.insert("events".into(), 3);
        st.move_leader_on_delete = true;
    });
    let admin = fake.client().admin();
    let offsets = BTreeMap::from([
        (TopicPartition::new("events", 0), 4),
        (TopicPartition::new("events", 1), -1),
        (TopicPartition::new("events", 2), HIGH_WATERMARK + 5),
    ]);
    let results = admin.delete_records(&offsets).unwrap();
    assert_eq!(
        results[&TopicPartition::new("events", 0)].as_ref().unwrap(),
        &4
    );
    assert_eq!(
        results[&TopicPartition::new("events", 1)].as_ref().unwrap(),
        &HIGH_WATERMARK
    );
    let e = results[&TopicPartition::new("events", 2)]
        .as_ref()
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::OffsetOutOfRange), "{e}");
    assert!(e.to_string().contains("events-2"), "{e}");
    // First to broker 1 (every leader), then partition 1 alone to broker 2.
    let delete = ApiKey::DeleteRecords as i16;
    assert_eq!(fake.log(), [(1, delete), (2, delete)]);
}

#[test]
fn create_topics_moves_to_the_new_controller_on_not_controller() {
    let fake = Fake::start(|st| st.move_controller = true);
    let admin = fake.client().admin();
    let results = admin
        .create_topics(&[NewTopic::new("a", 2, 1), NewTopic::new("b", 1, 1)])
        .unwrap();
    results["a"].as_ref().unwrap();
    results["b"].as_ref().unwrap();
    let create = ApiKey::CreateTopics as i16;
    assert_eq!(fake.log(), [(1, create), (2, create)]);
    assert_eq!(
        admin.describe_topics(&["a"]).unwrap()["a"]
            .as_ref()
            .unwrap()
            .partitions
            .len(),
        2
    );
}

#[test]
fn create_partitions_grows_a_topic_and_refuses_to_shrink_it() {
    let fake = Fake::start(|st| {
        st.topics.insert("events".into(), 2);
        st.move_controller = true;
    });
    let admin = fake.client().admin();
    admin.create_partitions("events", 4).unwrap();
    let topic = admin.describe_topics(&["events"]).unwrap()["events"]
        .clone()
        .unwrap();
    assert_eq!(topic.partitions.len(), 4);
    let e = admin.create_partitions("events", 3).unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::InvalidPartitions), "{e}");
    let text = e.to_string();
    assert!(
        text.contains("events") && text.contains("currently has 4"),
        "{text}"
    );
    let create = ApiKey::CreatePartitions as i16;
    assert_eq!(fake.log(), [(1, create), (2, create), (2, create)]);
}
