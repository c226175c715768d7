//! The admin API's routing and retries against a scripted two-broker fake
//! cluster: the admin requests' answers are scripted here (encoded by the
//! `kafka-protocol` crate) and served by `support::fake_broker`, for
//! what no broker here does: DeleteRecords at each partition's leader
//! (NOT_LEADER_OR_FOLLOWER, a metadata refresh, the retry at the new
//! leader; OFFSET_OUT_OF_RANGE for one partition only), CreateTopics and
//! CreatePartitions moving to a new controller on NOT_CONTROLLER,
//! CreatePartitions refusing to shrink a topic, OffsetDelete at the group's
//! coordinator (following it when it moves, GROUP_SUBSCRIBED_TO_TOPIC per
//! partition) and DeleteAcls answering the bindings each filter removed
//! (tansu 0.6.0 has none of CreatePartitions, OffsetDelete and DeleteAcls,
//! and librdkafka's mock cluster has no admin APIs).

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
    /// The broker coordinating every group.
    coordinator: i32,
    /// Hand the group coordinator over to broker 1 when broker 2 gets its
    /// first group request.
    move_coordinator: bool,
    /// Committed offsets by (group, topic, partition).
    offsets: BTreeMap<(String, String, i32), i64>,
    /// Topics the groups' members are subscribed to.
    subscribed: Vec<String>,
    /// ACL bindings: (resource type, resource name, principal, operation).
    acls: Vec<(i8, String, String, i8)>,
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
            coordinator: 2,
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
                    range(ApiKey::FindCoordinator, 0, 4),
                    range(ApiKey::OffsetDelete, 0, 0),
                    range(ApiKey::DeleteAcls, 1, 3),
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
        ApiKey::FindCoordinator => {
            let request = m::FindCoordinatorRequest::decode(&mut buf, version).unwrap();
            let node = st.coordinator;
            let port = i32::from(st.ports[node as usize - 1]);
            let mut response = m::FindCoordinatorResponse::default();
            if version >= 4 {
                response.coordinators = request
                    .coordinator_keys
                    .into_iter()
                    .map(|key| {
                        m::find_coordinator_response::Coordinator::default()
                            .with_key(key)
                            .with_node_id(BrokerId(node))
                            .with_host(s("127.0.0.1"))
                            .with_port(port)
                    })
                    .collect();
            } else {
                response = response
                    .with_node_id(BrokerId(node))
                    .with_host(s("127.0.0.1"))
                    .with_port(port);
            }
            response.encode(&mut body, version).unwrap();
        }
        ApiKey::OffsetDelete => {
            st.log.push((id, key as i16));
            let request = m::OffsetDeleteRequest::decode(&mut buf, version).unwrap();
            let mut response = m::OffsetDeleteResponse::default();
            if st.move_coordinator && id == 2 {
                st.move_coordinator = false;
                st.coordinator = 1;
            }
            if st.coordinator != id {
                response.error_code = ErrorCode::NotCoordinator.code();
            } else {
                let group = request.group_id.0.to_string();
                response.topics = request
                    .topics
                    .into_iter()
                    .map(|t| {
                        let topic = t.name.0.to_string();
                        let partitions = t
                            .partitions
                            .into_iter()
                            .map(|p| {
                                let index = p.partition_index;
                                let code = if st.subscribed.contains(&topic) {
                                    ErrorCode::GroupSubscribedToTopic
                                } else if st
                                    .offsets
                                    .remove(&(group.clone(), topic.clone(), index))
                                    .is_some()
                                {
                                    ErrorCode::None
                                } else {
                                    ErrorCode::UnknownTopicOrPartition
                                };
                                m::offset_delete_response::OffsetDeleteResponsePartition::default()
                                    .with_partition_index(index)
                                    .with_error_code(code.code())
                            })
                            .collect();
                        m::offset_delete_response::OffsetDeleteResponseTopic::default()
                            .with_name(t.name)
                            .with_partitions(partitions)
                    })
                    .collect();
            }
            response.encode(&mut body, version).unwrap();
        }
        ApiKey::DeleteAcls => {
            st.log.push((id, key as i16));
            let request = m::DeleteAclsRequest::decode(&mut buf, version).unwrap();
            let results = request
                .filters
                .into_iter()
                .map(|f| {
                    let result = m::delete_acls_response::DeleteAclsFilterResult::default();
                    // Kafka refuses a filter that names a pattern type of
                    // UNKNOWN (0); the test sends one to see a per-filter error.
                    if f.pattern_type_filter == 0 {
                        return result
                            .with_error_code(ErrorCode::InvalidRequest.code())
                            .with_error_message(Some(s("unknown pattern type")));
                    }
                    let matches = |acl: &(i8, String, String, i8)| {
                        (f.resource_type_filter == 1 || f.resource_type_filter == acl.0)
                            && f.resource_name_filter.as_ref().is_none_or(|n| **n == acl.1)
                            && f.principal_filter.as_ref().is_none_or(|p| **p == acl.2)
                            && (f.operation == 1 || f.operation == acl.3)
                    };
                    let (removed, kept) = std::mem::take(&mut st.acls)
                        .into_iter()
                        .partition::<Vec<_>, _>(|acl| matches(acl));
                    st.acls = kept;
                    result.with_matching_acls(
                        removed
                            .into_iter()
                            .map(|(resource_type, name, principal, operation)| {
                                m::delete_acls_response::DeleteAclsMatchingAcl::default()
                                    .with_resource_type(resource_type)
                                    .with_resource_name(s(&name))
                                    .with_pattern_type(3)
                                    .with_principal(s(&principal))
                                    .with_host(s("*"))
                                    .with_operation(operation)
                                    .with_permission_type(3)
                            })
                            .collect(),
                    )
                })
                .collect();
            m::DeleteAclsResponse::default()
                .with_filter_results(results)
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

#[test]
fn delete_consumer_group_offsets_goes_to_the_coordinator_and_follows_it_when_it_moves() {
    let fake = Fake::start(|st| {
        st.topics.insert("events".into(), 2);
        st.topics.insert("live".into(), 1);
        st.subscribed.push("live".into());
        st.move_coordinator = true;
        for (topic, partition) in [("events", 0), ("events", 1), ("live", 0)] {
            st.offsets
                .insert(("billing".into(), topic.into(), partition), 5);
        }
    });
    let admin = fake.client().admin();
    let asked = [
        TopicPartition::new("events", 0),
        TopicPartition::new("live", 0),
        TopicPartition::new("events", 7),
    ];
    let results = admin
        .delete_consumer_group_offsets("billing", &asked)
        .unwrap();
    assert_eq!(results.len(), 3, "{results:?}");
    results[&asked[0]].as_ref().unwrap();
    let e = results[&asked[1]].as_ref().unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::GroupSubscribedToTopic), "{e}");
    assert!(
        e.to_string().contains("billing") && e.to_string().contains("live"),
        "{e}"
    );
    let e = results[&asked[2]].as_ref().unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::UnknownTopicOrPartition), "{e}");
    // Coordinator 2 answered NOT_COORDINATOR and handed over to broker 1.
    let delete = ApiKey::OffsetDelete as i16;
    assert_eq!(fake.log(), [(2, delete), (1, delete)]);
    let st = fake.state.lock().unwrap();
    assert!(!st
        .offsets
        .contains_key(&("billing".into(), "events".into(), 0)));
    assert!(st
        .offsets
        .contains_key(&("billing".into(), "events".into(), 1)));
}

#[test]
fn delete_acls_answers_the_bindings_each_filter_removed() {
    use kafka_sync::admin::{AclBindingFilter, AclOperation, PatternType, ResourceType};
    let fake = Fake::start(|st| {
        st.acls = vec![
            (2, "events".into(), "User:alice".into(), 3),
            (2, "events".into(), "User:bob".into(), 4),
            (2, "audit".into(), "User:alice".into(), 3),
        ];
    });
    let admin = fake.client().admin();
    let mut unknown_pattern = AclBindingFilter::any();
    unknown_pattern.pattern_type = PatternType::from_code(0);
    let results = admin
        .delete_acls(&[
            AclBindingFilter::resource(ResourceType::Topic, "events").principal("User:alice"),
            AclBindingFilter::resource(ResourceType::Group, "events"),
            unknown_pattern,
        ])
        .unwrap();
    assert_eq!(results.len(), 3, "{results:?}");
    let removed = results[0].as_ref().unwrap();
    assert_eq!(removed.len(), 1, "{removed:?}");
    assert_eq!(removed[0].resource_name, "events");
    assert_eq!(removed[0].principal, "User:alice");
    assert_eq!(removed[0].operation, AclOperation::Read);
    assert!(results[1].as_ref().unwrap().is_empty());
    let e = results[2].as_ref().unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::InvalidRequest), "{e}");
    assert!(e.to_string().contains("unknown pattern type"), "{e}");
    assert_eq!(fake.state.lock().unwrap().acls.len(), 2);
}
