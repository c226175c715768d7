//! Group membership against a scripted fake coordinator: the error paths a
//! healthy test broker never takes — MEMBER_ID_REQUIRED, NOT_COORDINATOR,
//! REBALANCE_IN_PROGRESS, UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID,
//! COORDINATOR_NOT_AVAILABLE.
//!
//! The fake is `support::fake_coordinator`: one broker (node 1) that serves
//! ApiVersions, Metadata for one topic, FindCoordinator, and a one-member
//! group; requests and responses are coded with the `kafka-protocol` crate,
//! independent of ours.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use kafka_sync::consumer::assignor::TopicPartition;
use kafka_sync::consumer::membership::{
    GroupEvent, GroupMembership, MembershipConfig, Subscription,
};
use kafka_sync::{ErrorCode, KafkaClient};
use support::fake_coordinator::FakeCoordinator;
use support::DEADLINE;

const TOPIC: &str = "faults";
const PARTITIONS: i32 = 3;

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
    let fake = FakeCoordinator::start(TOPIC, PARTITIONS);
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
    let fake = FakeCoordinator::start(TOPIC, PARTITIONS);
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
    let fake = FakeCoordinator::start(TOPIC, PARTITIONS);
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
    let fake = FakeCoordinator::start(TOPIC, PARTITIONS);
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
    let fake = FakeCoordinator::start(TOPIC, PARTITIONS);
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
    let fake = FakeCoordinator::start(TOPIC, PARTITIONS);
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
    let fake = FakeCoordinator::start(TOPIC, PARTITIONS);
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
