//! A scripted fake group coordinator: one broker (node 1) that serves
//! ApiVersions, Metadata for one topic, FindCoordinator, and a one-member
//! group, logging the group requests and answering with the errors a test
//! queues; requests and responses are coded with the `kafka-protocol`
//! crate, independent of ours. A handler on the shared frame loop
//! ([`super::fake_broker`]), which a front may wrap (SASL:
//! [`super::fake_sasl`]).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsResponse, BrokerId, FindCoordinatorResponse, HeartbeatResponse,
    JoinGroupRequest, JoinGroupResponse, LeaveGroupResponse, MetadataRequest, MetadataResponse,
    SyncGroupRequest, SyncGroupResponse, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use kafka_sync::ErrorCode;

use super::fake_broker::{FakeBroker, Handler, Reply, Request};
use super::DEADLINE;

/// The apis the coordinator serves, `(api key, min version, max version)`.
pub const APIS: [(i16, i16, i16); 7] = [
    (ApiKey::ApiVersions as i16, 0, 3),
    (ApiKey::Metadata as i16, 1, 8),
    (ApiKey::FindCoordinator as i16, 0, 3),
    (ApiKey::JoinGroup as i16, 2, 7),
    (ApiKey::SyncGroup as i16, 0, 4),
    (ApiKey::Heartbeat as i16, 0, 4),
    (ApiKey::LeaveGroup as i16, 0, 4),
];

/// What the fake coordinator saw, and the errors it is told to answer with.
#[derive(Default)]
pub struct Script {
    /// One line per group request: `JoinGroup <member id>`, `SyncGroup
    /// <generation>`, `Heartbeat <generation>`, `LeaveGroup`,
    /// `FindCoordinator`.
    pub log: Vec<String>,
    pub heartbeat_errors: VecDeque<i16>,
    pub join_errors: VecDeque<i16>,
    generation: i32,
    next_member: u32,
    /// The assignment the leader sent for itself at the last SyncGroup.
    assignment: Bytes,
}

impl Script {
    pub fn count(&self, prefix: &str) -> usize {
        self.log.iter().filter(|l| l.starts_with(prefix)).count()
    }
}

/// What every connection's handler shares.
struct Group {
    port: u16,
    /// The one topic, and how many partitions it has (all led by node 1).
    topic: &'static str,
    partitions: i32,
    script: Mutex<Script>,
}

pub struct FakeCoordinator {
    group: Arc<Group>,
}

impl FakeCoordinator {
    /// Serves `topic` with `partitions` partitions on a fresh loopback port.
    pub fn start(topic: &'static str, partitions: i32) -> FakeCoordinator {
        FakeCoordinator::start_behind(topic, partitions, |handler| handler)
    }

    /// As [`start`](Self::start), with each connection's handler wrapped
    /// by `front`: `|handler| sasl_server(fake.clone(), Some(handler))`.
    pub fn start_behind<W, H>(topic: &'static str, partitions: i32, front: W) -> FakeCoordinator
    where
        W: Fn(Handler) -> H + Send + 'static,
        H: FnMut(&Request) -> Reply + Send + 'static,
    {
        let broker = FakeBroker::bind();
        let group = Arc::new(Group {
            port: broker.port(),
            topic,
            partitions,
            script: Mutex::new(Script::default()),
        });
        let shared = Arc::clone(&group);
        broker.serve(move || {
            let group = Arc::clone(&shared);
            front(Box::new(move |request: &Request| {
                Reply::Body(answer(request, &group))
            }))
        });
        FakeCoordinator { group }
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.group.port)
    }

    pub fn script(&self) -> MutexGuard<'_, Script> {
        self.group.script.lock().unwrap()
    }

    /// Waits until the log satisfies `done`.
    pub fn wait_for(&self, what: &str, done: impl Fn(&Script) -> bool) {
        let deadline = Instant::now() + DEADLINE;
        while !done(&self.script()) {
            assert!(
                Instant::now() < deadline,
                "{what}: log {:?}",
                self.script().log
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn str(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

/// The fake coordinator's response body to `request`.
fn answer(request: &Request, group: &Group) -> Vec<u8> {
    let (port, script) = (group.port, &group.script);
    let key = request.key().expect("known api");
    let version = request.api_version;
    let mut frame = request.body.clone();
    let mut body = BytesMut::new();
    match key {
        ApiKey::ApiVersions => {
            let response = ApiVersionsResponse::default().with_api_keys(
                APIS.iter()
                    .map(|&(k, min, max)| {
                        ApiVersion::default()
                            .with_api_key(k)
                            .with_min_version(min)
                            .with_max_version(max)
                    })
                    .collect(),
            );
            response.encode(&mut body, version).unwrap();
        }
        ApiKey::Metadata => {
            let request = MetadataRequest::decode(&mut frame, version).unwrap();
            let names: Vec<String> = match request.topics {
                Some(topics) => topics
                    .into_iter()
                    .filter_map(|t| t.name.map(|n| n.0.to_string()))
                    .collect(),
                None => vec![group.topic.to_owned()],
            };
            let topics = names
                .iter()
                .map(|name| {
                    let topic =
                        MetadataResponseTopic::default().with_name(Some(TopicName(str(name))));
                    if name == group.topic {
                        topic.with_partitions(
                            (0..group.partitions)
                                .map(|p| {
                                    MetadataResponsePartition::default()
                                        .with_partition_index(p)
                                        .with_leader_id(BrokerId(1))
                                        .with_replica_nodes(vec![BrokerId(1)])
                                        .with_isr_nodes(vec![BrokerId(1)])
                                })
                                .collect(),
                        )
                    } else {
                        topic.with_error_code(ErrorCode::UnknownTopicOrPartition.code())
                    }
                })
                .collect();
            MetadataResponse::default()
                .with_brokers(vec![MetadataResponseBroker::default()
                    .with_node_id(BrokerId(1))
                    .with_host(str("127.0.0.1"))
                    .with_port(i32::from(port))])
                .with_controller_id(BrokerId(1))
                .with_topics(topics)
                .encode(&mut body, version)
                .unwrap();
        }
        ApiKey::FindCoordinator => {
            script.lock().unwrap().log.push("FindCoordinator".into());
            FindCoordinatorResponse::default()
                .with_node_id(BrokerId(1))
                .with_host(str("127.0.0.1"))
                .with_port(i32::from(port))
                .encode(&mut body, version)
                .unwrap();
        }
        ApiKey::JoinGroup => {
            let request = JoinGroupRequest::decode(&mut frame, version).unwrap();
            let mut s = script.lock().unwrap();
            let member_id = request.member_id.to_string();
            s.log.push(format!("JoinGroup {member_id}"));
            let mut response = JoinGroupResponse::default();
            if let Some(code) = s.join_errors.pop_front() {
                response.error_code = code;
            } else if member_id.is_empty() && request.group_instance_id.is_none() {
                s.next_member += 1;
                response.error_code = ErrorCode::MemberIdRequired.code();
                response.member_id = str(&format!("member-{}", s.next_member));
            } else {
                let member_id = if member_id.is_empty() {
                    s.next_member += 1;
                    format!("static-{}", s.next_member)
                } else {
                    member_id
                };
                s.generation += 1;
                let protocol = request.protocols.first().expect("a protocol");
                response.generation_id = s.generation;
                response.protocol_type = Some(str("consumer"));
                response.protocol_name = Some(protocol.name.clone());
                response.leader = str(&member_id);
                response.member_id = str(&member_id);
                response.members = vec![JoinGroupResponseMember::default()
                    .with_member_id(str(&member_id))
                    .with_group_instance_id(request.group_instance_id.clone())
                    .with_metadata(protocol.metadata.clone())];
            }
            response.encode(&mut body, version).unwrap();
        }
        ApiKey::SyncGroup => {
            let request = SyncGroupRequest::decode(&mut frame, version).unwrap();
            let mut s = script.lock().unwrap();
            s.log.push(format!("SyncGroup {}", request.generation_id));
            if let Some(mine) = request
                .assignments
                .iter()
                .find(|a| a.member_id == request.member_id)
            {
                s.assignment = mine.assignment.clone();
            }
            SyncGroupResponse::default()
                .with_protocol_type(request.protocol_type.clone())
                .with_protocol_name(request.protocol_name.clone())
                .with_assignment(s.assignment.clone())
                .encode(&mut body, version)
                .unwrap();
        }
        ApiKey::Heartbeat => {
            let mut s = script.lock().unwrap();
            let line = format!("Heartbeat {}", s.generation);
            s.log.push(line);
            let code = s.heartbeat_errors.pop_front().unwrap_or(0);
            HeartbeatResponse::default()
                .with_error_code(code)
                .encode(&mut body, version)
                .unwrap();
        }
        ApiKey::LeaveGroup => {
            script.lock().unwrap().log.push("LeaveGroup".into());
            LeaveGroupResponse::default()
                .encode(&mut body, version)
                .unwrap();
        }
        other => panic!("the fake coordinator does not serve {other:?}"),
    }
    body.to_vec()
}
