//! Group membership against a scripted fake coordinator: the error paths a
//! healthy test broker never takes — MEMBER_ID_REQUIRED, NOT_COORDINATOR,
//! REBALANCE_IN_PROGRESS, UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID,
//! COORDINATOR_NOT_AVAILABLE.
//!
//! The fake is one broker (node 1) that serves ApiVersions, Metadata for one
//! topic, FindCoordinator, and a one-member group; requests and responses
//! are coded with the `kafka-protocol` crate, independent of ours.

mod support;

use std::collections::{BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
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
use kafka_sync::consumer::assignor::TopicPartition;
use kafka_sync::consumer::membership::{
    GroupEvent, GroupMembership, MembershipConfig, Subscription,
};
use kafka_sync::{ErrorCode, KafkaClient};
use support::fake_broker::{FakeBroker, Reply, Request};
use support::DEADLINE;

const TOPIC: &str = "faults";
const PARTITIONS: i32 = 3;

/// What the fake coordinator saw, and the errors it is told to answer with.
#[derive(Default)]
struct Script {
    /// One line per group request: `JoinGroup <member id>`, `SyncGroup
    /// <generation>`, `Heartbeat <generation>`, `LeaveGroup`,
    /// `FindCoordinator`.
    log: Vec<String>,
    heartbeat_errors: VecDeque<i16>,
    join_errors: VecDeque<i16>,
    generation: i32,
    next_member: u32,
    /// The assignment the leader sent for itself at the last SyncGroup.
    assignment: Bytes,
}

impl Script {
    fn count(&self, prefix: &str) -> usize {
        self.log.iter().filter(|l| l.starts_with(prefix)).count()
    }
}

struct FakeCoordinator {
    port: u16,
    script: Arc<Mutex<Script>>,
}

impl FakeCoordinator {
    fn start() -> FakeCoordinator {
        let broker = FakeBroker::bind();
        let port = broker.port();
        let script = Arc::new(Mutex::new(Script::default()));
        let shared = Arc::clone(&script);
        broker.serve(move || {
            let script = Arc::clone(&shared);
            move |request: &Request| Reply::Body(answer(request, port, &script))
        });
        FakeCoordinator { port, script }
    }

    fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn script(&self) -> std::sync::MutexGuard<'_, Script> {
        self.script.lock().unwrap()
    }

    /// Waits until the log satisfies `done`.
    fn wait_for(&self, what: &str, done: impl Fn(&Script) -> bool) {
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
fn answer(request: &Request, port: u16, script: &Mutex<Script>) -> Vec<u8> {
    let key = request.key().expect("known api");
    let version = request.api_version;
    let mut frame = request.body.clone();
    let mut body = BytesMut::new();
    match key {
        ApiKey::ApiVersions => {
            let versions = [
                (ApiKey::ApiVersions, 0, 3),
                (ApiKey::Metadata, 1, 8),
                (ApiKey::FindCoordinator, 0, 3),
                (ApiKey::JoinGroup, 2, 7),
                (ApiKey::SyncGroup, 0, 4),
                (ApiKey::Heartbeat, 0, 4),
                (ApiKey::LeaveGroup, 0, 4),
            ];
            let response = ApiVersionsResponse::default().with_api_keys(
                versions
                    .iter()
                    .map(|&(k, min, max)| {
                        ApiVersion::default()
                            .with_api_key(k as i16)
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
                None => vec![TOPIC.to_owned()],
            };
            let topics = names
                .iter()
                .map(|name| {
                    let topic =
                        MetadataResponseTopic::default().with_name(Some(TopicName(str(name))));
                    if name == TOPIC {
                        topic.with_partitions(
                            (0..PARTITIONS)
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

fn join(fake: &FakeCoordinator, instance: Option<&str>) -> GroupMembership {
    let client = KafkaClient::new(&fake.bootstrap()).expect("client bootstraps");
    let mut config = MembershipConfig::new("faults-group", Subscription::topics([TOPIC]))
        .session_timeout(Duration::from_secs(6))
        .heartbeat_interval(Duration::from_millis(100))
        .close_timeout(Duration::from_secs(2));
    if let Some(id) = instance {
        config = config.group_instance_id(id);
    }
    GroupMembership::start(&client, config).expect("membership starts")
}

fn all() -> BTreeSet<TopicPartition> {
    (0..PARTITIONS)
        .map(|p| TopicPartition::new(TOPIC, p))
        .collect()
}

/// The next event, acknowledging revocations.
fn next_event(m: &GroupMembership) -> GroupEvent {
    m.poll();
    m.events()
        .recv_timeout(DEADLINE)
        .expect("an event within the deadline")
}

fn expect_assigned(m: &GroupMembership) -> i32 {
    match next_event(m) {
        GroupEvent::Assigned {
            generation,
            assignment,
            ..
        } => {
            assert_eq!(assignment, all());
            generation
        }
        other => panic!("expected an assignment, got {other:?}"),
    }
}

#[test]
fn a_new_member_joins_again_with_the_member_id_the_coordinator_required() {
    let fake = FakeCoordinator::start();
    let m = join(&fake, None);
    assert_eq!(expect_assigned(&m), 1);
    let log = fake.script().log.clone();
    let joins: Vec<&String> = log.iter().filter(|l| l.starts_with("JoinGroup")).collect();
    assert_eq!(joins, ["JoinGroup ", "JoinGroup member-1"]);
    assert_eq!(m.member_id(), "member-1");
    assert!(m.is_leader());
    m.close().unwrap();
    assert_eq!(
        fake.script().log.last().map(String::as_str),
        Some("LeaveGroup")
    );
}

#[test]
fn not_coordinator_on_a_heartbeat_finds_the_coordinator_again_without_rejoining() {
    let fake = FakeCoordinator::start();
    let m = join(&fake, None);
    expect_assigned(&m);
    let finds = fake.script().count("FindCoordinator");
    fake.script()
        .heartbeat_errors
        .push_back(ErrorCode::NotCoordinator.code());
    fake.wait_for("rediscovery, then heartbeats again", |s| {
        s.count("FindCoordinator") > finds
            && s.log.last().is_some_and(|l| l.starts_with("Heartbeat"))
    });
    assert_eq!(fake.script().count("JoinGroup"), 2, "the member rejoined");
    assert_eq!(m.generation(), 1);
    assert!(m.events().is_empty());
}

#[test]
fn rebalance_in_progress_revokes_then_rejoins_into_the_next_generation() {
    let fake = FakeCoordinator::start();
    let m = join(&fake, None);
    expect_assigned(&m);
    fake.script()
        .heartbeat_errors
        .push_back(ErrorCode::RebalanceInProgress.code());
    match next_event(&m) {
        GroupEvent::Revoked { partitions, ack } => {
            assert_eq!(partitions, all());
            ack.ack();
        }
        other => panic!("expected a revocation, got {other:?}"),
    }
    assert_eq!(expect_assigned(&m), 2);
    assert_eq!(
        m.member_id(),
        "member-1",
        "the member id survives a rebalance"
    );
}

#[test]
fn unknown_member_id_loses_the_partitions_and_joins_as_a_new_member() {
    let fake = FakeCoordinator::start();
    let m = join(&fake, None);
    expect_assigned(&m);
    fake.script()
        .heartbeat_errors
        .push_back(ErrorCode::UnknownMemberId.code());
    match next_event(&m) {
        GroupEvent::Lost { partitions } => assert_eq!(partitions, all()),
        other => panic!("expected a loss, got {other:?}"),
    }
    assert_eq!(expect_assigned(&m), 2);
    assert_eq!(m.member_id(), "member-2");
}

#[test]
fn a_fenced_static_member_reports_the_error_and_stops() {
    let fake = FakeCoordinator::start();
    let m = join(&fake, Some("instance-1"));
    expect_assigned(&m);
    assert_eq!(m.group_instance_id(), Some("instance-1"));
    fake.script()
        .heartbeat_errors
        .push_back(ErrorCode::FencedInstanceId.code());
    match next_event(&m) {
        GroupEvent::Error(e) => assert_eq!(e.code(), Some(ErrorCode::FencedInstanceId), "{e}"),
        other => panic!("expected an error, got {other:?}"),
    }
    let deadline = Instant::now() + DEADLINE;
    while m.is_running() {
        assert!(Instant::now() < deadline, "the membership kept running");
        std::thread::sleep(Duration::from_millis(20));
    }
    m.close().unwrap();
    assert_eq!(
        fake.script().count("LeaveGroup"),
        0,
        "a static member does not leave"
    );
}

#[test]
fn coordinator_not_available_on_join_is_retried() {
    let fake = FakeCoordinator::start();
    {
        let mut s = fake.script();
        s.join_errors
            .push_back(ErrorCode::CoordinatorNotAvailable.code());
        s.join_errors
            .push_back(ErrorCode::CoordinatorLoadInProgress.code());
    }
    let m = join(&fake, None);
    assert_eq!(expect_assigned(&m), 1);
    assert!(fake.script().count("FindCoordinator") >= 2);
}

#[test]
fn an_incompatible_protocol_is_a_fatal_error() {
    let fake = FakeCoordinator::start();
    fake.script()
        .join_errors
        .push_back(ErrorCode::InconsistentGroupProtocol.code());
    let m = join(&fake, None);
    match next_event(&m) {
        GroupEvent::Error(e) => {
            assert_eq!(e.code(), Some(ErrorCode::InconsistentGroupProtocol), "{e}");
        }
        other => panic!("expected an error, got {other:?}"),
    }
}
