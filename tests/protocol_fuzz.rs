//! Every response decoder in `protocol::api`, at every version this crate
//! speaks, fed random bytes, every truncation of a valid answer, and valid
//! answers with bytes flipped, inserted and deleted. The property: decoding
//! returns `Ok` or a typed error, never panics, and never allocates from a
//! length it has not checked against the bytes left (no single allocation
//! larger than a small multiple of the input).
//!
//! Valid answers come from the `kafka-protocol` crate (generated from
//! Kafka's own schemas) encoding a default response and, for the APIs with
//! nested arrays, a populated one, at each version it also speaks (every
//! version this crate speaks, as of kafka-protocol 0.18). The consumer
//! protocol's subscription and assignment, which arrive inside JoinGroup and
//! SyncGroup answers from other members, start from our own encodings.
//!
//! 1024 cases per property keep this to a few seconds in a debug build;
//! `PROPTEST_CASES=30000` is a longer hunt (about 90 s; it found nothing as
//! of this writing).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages as oracle;
use kafka_protocol::protocol::{Encodable, StrBytes};
use kafka_sync::protocol::api::*;
use kafka_sync::protocol::{decode_response, Request};
use proptest::prelude::*;

const CORRELATION_ID: i32 = 0x0102_0304;

// --- the largest allocation made while decoding ---

/// The system allocator, noting the largest single allocation made by a
/// thread while that thread has asked for it (`measure`).
struct PeakAllocator;

thread_local! {
    static MEASURING: Cell<bool> = const { Cell::new(false) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    // `try_with`: no panic while a thread's locals are being torn down.
    let _ = MEASURING.try_with(|on| {
        if on.get() {
            let _ = PEAK.try_with(|peak| peak.set(peak.get().max(size)));
        }
    });
}

// SAFETY: every call is forwarded unchanged to `System`; the bookkeeping
// only touches const-initialised thread-locals, which do not allocate.
unsafe impl GlobalAlloc for PeakAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        System.alloc_zeroed(layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        System.realloc(ptr, layout, new_size)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static ALLOCATOR: PeakAllocator = PeakAllocator;

/// Runs `f` and returns the largest single allocation it made on this thread.
fn peak_allocation(f: impl FnOnce()) -> usize {
    PEAK.with(|peak| peak.set(0));
    MEASURING.with(|on| on.set(true));
    f();
    MEASURING.with(|on| on.set(false));
    PEAK.with(Cell::get)
}

/// The most a decoder may allocate at once for `input_len` bytes. An array
/// is sized from its count only after the count is checked against the bytes
/// left (each element needs at least one), so its buffer holds at most
/// `input_len` elements; a decoded element takes a few dozen bytes of memory
/// per wire byte (a one-byte empty compact string still becomes a `String`
/// inside a struct). Measured: at most about 28× the input; 64× leaves room.
fn allocation_bound(input_len: usize) -> usize {
    4096 + input_len * 64
}

// --- decoding one frame ---

/// A response frame (no size prefix) around `body`: the correlation id and,
/// for header v1, an empty tagged-field section.
fn frame<R: Request>(version: i16, body: &[u8]) -> Vec<u8> {
    let mut frame = CORRELATION_ID.to_be_bytes().to_vec();
    if R::response_header_version(version) >= 1 {
        frame.push(0);
    }
    frame.extend_from_slice(body);
    frame
}

/// Decodes `frame` as `R`'s response at `version` and checks the allocation
/// bound. A panic inside fails the proptest case that called it.
fn check<R: Request>(version: i16, frame: &[u8]) -> Result<(), TestCaseError> {
    let peak = peak_allocation(|| {
        let _ = decode_response::<R>(frame, version, CORRELATION_ID);
    });
    prop_assert!(
        peak <= allocation_bound(frame.len()),
        "v{version} of api {}: a {}-byte frame made a {peak}-byte allocation",
        R::API_KEY,
        frame.len()
    );
    Ok(())
}

fn versions<R: Request>() -> std::ops::RangeInclusive<i16> {
    R::MIN_VERSION..=R::MAX_VERSION
}

// --- valid answers to start from ---

/// The oracle's encoding of `message` at `version`, if it speaks it.
fn oracle_body<M: Encodable>(message: &M, version: i16) -> Option<Vec<u8>> {
    let mut buf = BytesMut::new();
    message.encode(&mut buf, version).ok()?;
    Some(buf.to_vec())
}

fn name(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

/// A Metadata answer with three brokers and `topics` topics of `partitions`
/// partitions each, using only the fields `version` has.
pub fn metadata_answer(version: i16, topics: usize, partitions: i32) -> oracle::MetadataResponse {
    let brokers = (0..3)
        .map(|id| {
            oracle::metadata_response::MetadataResponseBroker::default()
                .with_node_id(oracle::BrokerId(id))
                .with_host(name(&format!("broker-{id}.kafka.internal")))
                .with_port(9092)
                .with_rack((version >= 1).then(|| name(&format!("rack-{id}"))))
        })
        .collect();
    let topics = (0..topics)
        .map(|t| {
            let partitions = (0..partitions)
                .map(|p| {
                    let replicas: Vec<_> = (0..3).map(|r| oracle::BrokerId((p + r) % 3)).collect();
                    oracle::metadata_response::MetadataResponsePartition::default()
                        .with_partition_index(p)
                        .with_leader_id(replicas[0])
                        .with_leader_epoch(if version >= 7 { 5 } else { -1 })
                        .with_replica_nodes(replicas.clone())
                        .with_isr_nodes(replicas)
                })
                .collect();
            let mut topic = oracle::metadata_response::MetadataResponseTopic::default()
                .with_name(Some(oracle::TopicName(name(&format!("events-{t:03}")))))
                .with_is_internal(false)
                .with_partitions(partitions);
            if version >= 10 {
                topic = topic.with_topic_id(uuid_of(t));
            }
            topic
        })
        .collect();
    oracle::MetadataResponse::default()
        .with_brokers(brokers)
        .with_cluster_id((version >= 2).then(|| name("cluster-a")))
        .with_controller_id(oracle::BrokerId(if version >= 1 { 1 } else { -1 }))
        .with_topics(topics)
}

/// A Fetch answer with `topics` topics of `partitions` partitions, each
/// holding `records` as its record set.
pub fn fetch_answer(
    version: i16,
    topics: usize,
    partitions: i32,
    records: &Bytes,
) -> oracle::FetchResponse {
    let responses = (0..topics)
        .map(|t| {
            let partitions = (0..partitions)
                .map(|p| {
                    oracle::fetch_response::PartitionData::default()
                        .with_partition_index(p)
                        .with_high_watermark(1000)
                        .with_last_stable_offset(if version >= 4 { 1000 } else { -1 })
                        .with_log_start_offset(if version >= 5 { 0 } else { -1 })
                        .with_aborted_transactions((version >= 4).then(Vec::new))
                        .with_records(Some(records.clone()))
                })
                .collect();
            let topic = oracle::fetch_response::FetchableTopicResponse::default()
                .with_partitions(partitions);
            if version >= 13 {
                topic.with_topic_id(uuid_of(t))
            } else {
                topic.with_topic(oracle::TopicName(name(&format!("events-{t:03}"))))
            }
        })
        .collect();
    oracle::FetchResponse::default()
        .with_session_id(if version >= 7 { 12 } else { 0 })
        .with_responses(responses)
}

/// A distinct, non-nil topic id for topic `t`, in the oracle's UUID type.
fn uuid_of<T: std::str::FromStr>(t: usize) -> T
where
    T::Err: std::fmt::Debug,
{
    format!("00000000-0000-4000-8000-{:012x}", t + 1)
        .parse()
        .expect("a well-formed UUID")
}

/// A small RecordBatch v2 (two records), as a Fetch answer carries it.
fn record_batch() -> Bytes {
    use kafka_sync::protocol::records::{BatchBuilder, BatchOptions};
    let mut builder = BatchBuilder::with_capacity(BatchOptions::default(), 256);
    for i in 0..2i64 {
        builder
            .append(1_700_000_000_000 + i, Some(b"key"), Some(b"value"), &[])
            .expect("append");
    }
    Bytes::from(builder.build().expect("build"))
}

fn topic(t: usize) -> oracle::TopicName {
    oracle::TopicName(name(&format!("events-{t:03}")))
}

/// Populated answers with nested arrays, using only fields every version
/// has (the oracle refuses, and `seeds` drops, any it cannot encode).
fn produce_answers(_version: i16) -> Vec<oracle::ProduceResponse> {
    use oracle::produce_response::*;
    let partitions = (0..3)
        .map(|p| {
            PartitionProduceResponse::default()
                .with_index(p)
                .with_base_offset(1000 + i64::from(p))
        })
        .collect::<Vec<_>>();
    vec![oracle::ProduceResponse::default().with_responses(
        (0..2)
            .map(|t| {
                TopicProduceResponse::default()
                    .with_name(topic(t))
                    .with_partition_responses(partitions.clone())
            })
            .collect(),
    )]
}

fn list_offsets_answers(_version: i16) -> Vec<oracle::ListOffsetsResponse> {
    use oracle::list_offsets_response::*;
    let partitions = (0..3)
        .map(|p| {
            ListOffsetsPartitionResponse::default()
                .with_partition_index(p)
                .with_offset(42)
        })
        .collect::<Vec<_>>();
    vec![oracle::ListOffsetsResponse::default().with_topics(
        (0..2)
            .map(|t| {
                ListOffsetsTopicResponse::default()
                    .with_name(topic(t))
                    .with_partitions(partitions.clone())
            })
            .collect(),
    )]
}

fn offset_commit_answers(_version: i16) -> Vec<oracle::OffsetCommitResponse> {
    use oracle::offset_commit_response::*;
    let partitions = (0..3)
        .map(|p| OffsetCommitResponsePartition::default().with_partition_index(p))
        .collect::<Vec<_>>();
    vec![oracle::OffsetCommitResponse::default().with_topics(
        (0..2)
            .map(|t| {
                OffsetCommitResponseTopic::default()
                    .with_name(topic(t))
                    .with_partitions(partitions.clone())
            })
            .collect(),
    )]
}

fn offset_fetch_answers(_version: i16) -> Vec<oracle::OffsetFetchResponse> {
    use oracle::offset_fetch_response::*;
    let old = (0..2)
        .map(|t| {
            OffsetFetchResponseTopic::default()
                .with_name(topic(t))
                .with_partitions(
                    (0..3)
                        .map(|p| {
                            OffsetFetchResponsePartition::default()
                                .with_partition_index(p)
                                .with_committed_offset(7)
                                .with_metadata(Some(name("m")))
                        })
                        .collect(),
                )
        })
        .collect();
    let grouped = OffsetFetchResponseGroup::default()
        .with_group_id(oracle::GroupId(name("billing")))
        .with_topics(
            (0..2)
                .map(|t| {
                    OffsetFetchResponseTopics::default()
                        .with_name(topic(t))
                        .with_partitions(
                            (0..3)
                                .map(|p| {
                                    OffsetFetchResponsePartitions::default()
                                        .with_partition_index(p)
                                        .with_committed_offset(7)
                                })
                                .collect(),
                        )
                })
                .collect(),
        );
    vec![
        oracle::OffsetFetchResponse::default().with_topics(old),
        oracle::OffsetFetchResponse::default().with_groups(vec![grouped]),
    ]
}

fn join_group_answers(_version: i16) -> Vec<oracle::JoinGroupResponse> {
    use oracle::join_group_response::*;
    vec![oracle::JoinGroupResponse::default()
        .with_generation_id(3)
        .with_leader(name("member-0"))
        .with_member_id(name("member-0"))
        .with_members(
            (0..3)
                .map(|m| {
                    JoinGroupResponseMember::default()
                        .with_member_id(name(&format!("member-{m}")))
                        .with_metadata(Bytes::from_static(b"\0\x01\0\0\0\x01\0\x06events"))
                })
                .collect(),
        )]
}

fn describe_groups_answers(_version: i16) -> Vec<oracle::DescribeGroupsResponse> {
    use oracle::describe_groups_response::*;
    vec![
        oracle::DescribeGroupsResponse::default().with_groups(vec![DescribedGroup::default()
            .with_group_id(oracle::GroupId(name("billing")))
            .with_group_state(name("Stable"))
            .with_protocol_type(name("consumer"))
            .with_protocol_data(name("range"))
            .with_members(
                (0..2)
                    .map(|m| {
                        DescribedGroupMember::default()
                            .with_member_id(name(&format!("member-{m}")))
                            .with_client_id(name("client"))
                            .with_client_host(name("/127.0.0.1"))
                            .with_member_metadata(Bytes::from_static(b"meta"))
                            .with_member_assignment(Bytes::from_static(b"assignment"))
                    })
                    .collect(),
            )]),
    ]
}

fn consumer_group_heartbeat_answers(_version: i16) -> Vec<oracle::ConsumerGroupHeartbeatResponse> {
    use oracle::consumer_group_heartbeat_response::*;
    vec![oracle::ConsumerGroupHeartbeatResponse::default()
        .with_member_id(Some(name("kNf3XQv1T0uO6y2p1qL8AA")))
        .with_member_epoch(7)
        .with_heartbeat_interval_ms(5000)
        .with_assignment(Some(
            Assignment::default().with_topic_partitions(
                (0..3u8)
                    .map(|t| {
                        TopicPartitions::default()
                            .with_topic_id(format!("{:032x}", u128::from(t) + 1).parse().unwrap())
                            .with_partitions(vec![0, 1, 2])
                    })
                    .collect(),
            ),
        ))]
}

/// Valid bodies of `R`'s response at `version`: the oracle's default answer,
/// and `extra` (populated answers), whichever the oracle can encode there.
fn seeds<M: Encodable + Default>(version: i16, extra: impl Fn(i16) -> Vec<M>) -> Vec<Vec<u8>> {
    std::iter::once(M::default())
        .chain(extra(version))
        .filter_map(|m| oracle_body(&m, version))
        .collect()
}

// --- the properties, for one API ---

/// One edit of a valid frame.
#[derive(Debug, Clone)]
enum Edit {
    /// Replace the byte at (index modulo length) with a value.
    Set(usize, u8),
    /// XOR the byte with a one-bit mask.
    Flip(usize, u8),
    /// Insert a byte before (index modulo length + 1).
    Insert(usize, u8),
    /// Delete the byte.
    Delete(usize),
    /// Overwrite four bytes with a hostile length or count.
    Length(usize, i32),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, v)| Edit::Set(i, v)),
        (any::<usize>(), 0..8u8).prop_map(|(i, b)| Edit::Flip(i, 1 << b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, v)| Edit::Insert(i, v)),
        any::<usize>().prop_map(Edit::Delete),
        (
            any::<usize>(),
            prop_oneof![
                Just(i32::MAX),
                Just(-2),
                Just(0x7FFF),
                Just(1 << 20),
                any::<i32>()
            ]
        )
            .prop_map(|(i, n)| Edit::Length(i, n)),
    ]
}

fn apply(bytes: &mut Vec<u8>, edit: &Edit) {
    let len = bytes.len();
    match *edit {
        Edit::Insert(i, v) => bytes.insert(i % (len + 1), v),
        _ if len == 0 => {}
        Edit::Set(i, v) => bytes[i % len] = v,
        Edit::Flip(i, mask) => bytes[i % len] ^= mask,
        Edit::Delete(i) => {
            bytes.remove(i % len);
        }
        Edit::Length(i, n) => {
            let at = i % len;
            for (k, b) in n.to_be_bytes().into_iter().enumerate() {
                if let Some(slot) = bytes.get_mut(at + k) {
                    *slot = b;
                }
            }
        }
    }
}

/// Every proper prefix of every seed frame, at every version.
fn check_truncations<R: Request>(seeds: impl Fn(i16) -> Vec<Vec<u8>>) {
    for version in versions::<R>() {
        for body in seeds(version) {
            let frame = frame::<R>(version, &body);
            for cut in 0..=frame.len() {
                check::<R>(version, &frame[..cut]).unwrap();
            }
        }
    }
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(1024),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Random bytes after a valid header, at every version of `R`.
fn check_random<R: Request>() {
    proptest!(config(), |(body in proptest::collection::vec(any::<u8>(), 0..160))| {
        for version in versions::<R>() {
            check::<R>(version, &frame::<R>(version, &body))?;
        }
    });
}

/// Seeds edited one to six times, at every version of `R`.
fn check_mutations<R: Request>(seeds: impl Fn(i16) -> Vec<Vec<u8>>) {
    let all: Vec<(i16, Vec<u8>)> = versions::<R>()
        .flat_map(|v| seeds(v).into_iter().map(move |b| (v, frame::<R>(v, &b))))
        .collect();
    if all.is_empty() {
        return;
    }
    proptest!(config(), |(pick in any::<usize>(), edits in proptest::collection::vec(edit(), 1..6))| {
        // Each case edits one seed of each version, so every version is hit.
        for version in versions::<R>() {
            let mine: Vec<_> = all.iter().filter(|(v, _)| *v == version).collect();
            if mine.is_empty() {
                continue;
            }
            let mut bytes = mine[pick % mine.len()].1.clone();
            for edit in &edits {
                apply(&mut bytes, edit);
            }
            check::<R>(version, &bytes)?;
        }
    });
}

/// The three properties for `$request`'s response, with seeds from the
/// oracle's `$oracle` type (default answer, plus `$extra` answers).
macro_rules! fuzz_api {
    ($module:ident, $request:ty, $oracle:ty) => {
        fuzz_api!($module, $request, $oracle, |_version| Vec::<$oracle>::new());
    };
    ($module:ident, $request:ty, $oracle:ty, $extra:expr) => {
        mod $module {
            use super::*;

            fn seeds(version: i16) -> Vec<Vec<u8>> {
                super::seeds::<$oracle>(version, $extra)
            }

            #[test]
            fn random_bytes_never_panic_at_any_version() {
                check_random::<$request>();
            }

            #[test]
            fn every_truncation_of_a_valid_answer_is_handled() {
                check_truncations::<$request>(seeds);
            }

            #[test]
            fn mutated_valid_answers_never_panic_at_any_version() {
                check_mutations::<$request>(seeds);
            }

            #[test]
            fn the_oracle_seeds_a_valid_answer() {
                // Guards the mutation test against testing nothing: the
                // oracle must encode at least the newest version.
                assert!(!seeds(<$request as Request>::MAX_VERSION).is_empty());
            }
        }
    };
}

fuzz_api!(
    api_versions,
    ApiVersionsRequest,
    oracle::ApiVersionsResponse,
    |_| {
        vec![oracle::ApiVersionsResponse::default().with_api_keys(
            (0..20)
                .map(|k| {
                    oracle::api_versions_response::ApiVersion::default()
                        .with_api_key(k)
                        .with_max_version(9)
                })
                .collect(),
        )]
    }
);
fuzz_api!(
    create_topics,
    CreateTopicsRequest,
    oracle::CreateTopicsResponse
);
fuzz_api!(
    delete_topics,
    DeleteTopicsRequest,
    oracle::DeleteTopicsResponse
);
fuzz_api!(
    describe_groups,
    DescribeGroupsRequest,
    oracle::DescribeGroupsResponse,
    describe_groups_answers
);
fuzz_api!(fetch, FetchRequest, oracle::FetchResponse, |v| {
    vec![fetch_answer(v, 2, 2, &record_batch())]
});
fuzz_api!(
    find_coordinator,
    FindCoordinatorRequest,
    oracle::FindCoordinatorResponse
);
fuzz_api!(heartbeat, HeartbeatRequest, oracle::HeartbeatResponse);
fuzz_api!(
    consumer_group_heartbeat,
    ConsumerGroupHeartbeatRequest,
    oracle::ConsumerGroupHeartbeatResponse,
    consumer_group_heartbeat_answers
);
fuzz_api!(
    init_producer_id,
    InitProducerIdRequest,
    oracle::InitProducerIdResponse
);
fuzz_api!(
    add_partitions_to_txn,
    AddPartitionsToTxnRequest,
    oracle::AddPartitionsToTxnResponse
);
fuzz_api!(
    add_offsets_to_txn,
    AddOffsetsToTxnRequest,
    oracle::AddOffsetsToTxnResponse
);
fuzz_api!(end_txn, EndTxnRequest, oracle::EndTxnResponse);
fuzz_api!(
    txn_offset_commit,
    TxnOffsetCommitRequest,
    oracle::TxnOffsetCommitResponse
);
fuzz_api!(
    join_group,
    JoinGroupRequest,
    oracle::JoinGroupResponse,
    join_group_answers
);
fuzz_api!(leave_group, LeaveGroupRequest, oracle::LeaveGroupResponse);
fuzz_api!(
    list_offsets,
    ListOffsetsRequest,
    oracle::ListOffsetsResponse,
    list_offsets_answers
);
fuzz_api!(metadata, MetadataRequest, oracle::MetadataResponse, |v| {
    vec![metadata_answer(v, 3, 2)]
});
fuzz_api!(
    offset_commit,
    OffsetCommitRequest,
    oracle::OffsetCommitResponse,
    offset_commit_answers
);
fuzz_api!(
    offset_fetch,
    OffsetFetchRequest,
    oracle::OffsetFetchResponse,
    offset_fetch_answers
);
fuzz_api!(
    produce,
    ProduceRequest,
    oracle::ProduceResponse,
    produce_answers
);
fuzz_api!(
    sasl_authenticate,
    SaslAuthenticateRequest,
    oracle::SaslAuthenticateResponse
);
fuzz_api!(
    sasl_handshake,
    SaslHandshakeRequest,
    oracle::SaslHandshakeResponse
);
fuzz_api!(sync_group, SyncGroupRequest, oracle::SyncGroupResponse);
// Admin APIs (issue 15): topics, configs, records, cluster.
fuzz_api!(
    create_partitions_api,
    kafka_sync::protocol::api::create_partitions::CreatePartitionsRequest,
    oracle::CreatePartitionsResponse
);
fuzz_api!(
    delete_records_api,
    kafka_sync::protocol::api::delete_records::DeleteRecordsRequest,
    oracle::DeleteRecordsResponse
);
fuzz_api!(
    describe_cluster_api,
    kafka_sync::protocol::api::describe_cluster::DescribeClusterRequest,
    oracle::DescribeClusterResponse
);
fuzz_api!(
    describe_configs_api,
    kafka_sync::protocol::api::describe_configs::DescribeConfigsRequest,
    oracle::DescribeConfigsResponse
);
fuzz_api!(
    incremental_alter_configs_api,
    kafka_sync::protocol::api::incremental_alter_configs::IncrementalAlterConfigsRequest,
    oracle::IncrementalAlterConfigsResponse
);

// Admin APIs (issue 15).
use kafka_sync::protocol::api as admin_api;
fuzz_api!(
    alter_user_scram_credentials,
    admin_api::alter_user_scram_credentials::AlterUserScramCredentialsRequest,
    oracle::AlterUserScramCredentialsResponse
);
fuzz_api!(
    create_acls,
    admin_api::create_acls::CreateAclsRequest,
    oracle::CreateAclsResponse
);
fuzz_api!(
    delete_acls,
    admin_api::delete_acls::DeleteAclsRequest,
    oracle::DeleteAclsResponse
);
fuzz_api!(
    delete_groups,
    admin_api::delete_groups::DeleteGroupsRequest,
    oracle::DeleteGroupsResponse
);
fuzz_api!(
    describe_acls,
    admin_api::describe_acls::DescribeAclsRequest,
    oracle::DescribeAclsResponse
);
fuzz_api!(
    describe_user_scram_credentials,
    admin_api::describe_user_scram_credentials::DescribeUserScramCredentialsRequest,
    oracle::DescribeUserScramCredentialsResponse
);
fuzz_api!(
    list_groups,
    admin_api::list_groups::ListGroupsRequest,
    oracle::ListGroupsResponse
);
fuzz_api!(
    offset_delete,
    admin_api::offset_delete::OffsetDeleteRequest,
    oracle::OffsetDeleteResponse
);

// Share groups (KIP-932, issue 18).
fuzz_api!(
    share_group_heartbeat,
    ShareGroupHeartbeatRequest,
    oracle::ShareGroupHeartbeatResponse,
    |_| {
        use oracle::share_group_heartbeat_response::{Assignment, TopicPartitions};
        vec![oracle::ShareGroupHeartbeatResponse::default()
            .with_member_id(Some(StrBytes::from_static_str("m-1")))
            .with_member_epoch(3)
            .with_heartbeat_interval_ms(500)
            .with_assignment(Some(Assignment::default().with_topic_partitions(vec![
                TopicPartitions::default().with_partitions(vec![0, 1, 2]),
            ])))]
    }
);
fuzz_api!(
    share_fetch,
    ShareFetchRequest,
    oracle::ShareFetchResponse,
    |_| {
        use oracle::share_fetch_response::{
            AcquiredRecords, PartitionData, ShareFetchableTopicResponse,
        };
        vec![oracle::ShareFetchResponse::default()
            .with_acquisition_lock_timeout_ms(30_000)
            .with_responses(vec![ShareFetchableTopicResponse::default()
                .with_partitions(vec![PartitionData::default()
                    .with_records(Some(record_batch()))
                    .with_acquired_records(vec![AcquiredRecords::default()
                        .with_first_offset(0)
                        .with_last_offset(1)
                        .with_delivery_count(2)])])])]
    }
);
fuzz_api!(
    share_acknowledge,
    ShareAcknowledgeRequest,
    oracle::ShareAcknowledgeResponse,
    |_| {
        use oracle::share_acknowledge_response::{PartitionData, ShareAcknowledgeTopicResponse};
        vec![oracle::ShareAcknowledgeResponse::default()
            .with_responses(vec![ShareAcknowledgeTopicResponse::default()
                .with_partitions(vec![PartitionData::default().with_error_code(121)])])]
    }
);

// --- hostile counts fail fast ---

/// A Metadata v1 frame whose broker array claims `count` entries and then
/// ends: the decoder must refuse it without reserving room for them.
#[test]
fn a_metadata_answer_claiming_i32_max_brokers_fails_without_a_large_allocation() {
    let mut body = Vec::new();
    body.extend_from_slice(&i32::MAX.to_be_bytes()); // brokers: 2^31 - 1 entries
    body.extend_from_slice(&[0; 16]);
    let frame = frame::<MetadataRequest>(1, &body);
    let mut result = None;
    let peak = peak_allocation(|| {
        result = Some(decode_response::<MetadataRequest>(&frame, 1, CORRELATION_ID).is_err());
    });
    assert_eq!(result, Some(true));
    assert!(peak < 4096, "{peak}-byte allocation for a 24-byte frame");
}

/// The same for a flexible version's compact array (unsigned varint count).
#[test]
fn a_fetch_answer_claiming_a_huge_compact_array_fails_without_a_large_allocation() {
    let version = FetchRequest::MAX_VERSION;
    let mut body = Vec::new();
    body.extend_from_slice(&0i32.to_be_bytes()); // throttle_time_ms
    body.extend_from_slice(&0i16.to_be_bytes()); // error_code
    body.extend_from_slice(&0i32.to_be_bytes()); // session_id
    body.extend_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF, 0x07]); // responses: 2^31 - 2 entries
    body.extend_from_slice(&[0; 8]);
    let frame = frame::<FetchRequest>(version, &body);
    let mut result = None;
    let peak = peak_allocation(|| {
        result = Some(decode_response::<FetchRequest>(&frame, version, CORRELATION_ID).is_err());
    });
    assert_eq!(result, Some(true));
    assert!(
        peak < 4096,
        "{peak}-byte allocation for a {}-byte frame",
        frame.len()
    );
}

/// The allocation meter itself works: otherwise the bounds above pass
/// vacuously.
#[test]
fn the_allocation_meter_sees_a_large_allocation() {
    let peak = peak_allocation(|| drop(std::hint::black_box(vec![0u8; 1 << 20])));
    assert!(peak >= 1 << 20);
}

// --- the consumer protocol, carried inside JoinGroup and SyncGroup answers ---

mod consumer_protocol {
    use super::*;
    use kafka_sync::protocol::consumer_protocol::{
        ConsumerProtocolAssignment, ConsumerProtocolSubscription, TopicPartitions,
    };

    /// Our encodings of a subscription (at every version) and an assignment.
    fn seeds() -> Vec<Vec<u8>> {
        let owned = vec![TopicPartitions {
            topic: "events".into(),
            partitions: vec![0, 1, 2],
        }];
        let subscription = ConsumerProtocolSubscription {
            topics: vec!["events".into(), "audit".into()],
            user_data: Some(b"sticky".to_vec()),
            owned_partitions: owned.clone(),
            generation_id: 4,
            rack_id: Some("rack-a".into()),
        };
        let assignment = ConsumerProtocolAssignment {
            assigned_partitions: owned,
            user_data: Some(vec![1, 2, 3]),
        };
        (0..=ConsumerProtocolSubscription::MAX_VERSION)
            .filter_map(|v| subscription.encode(v).ok())
            .chain(assignment.encode(0).ok())
            .chain(assignment.encode(1).ok())
            .collect()
    }

    fn decode_both(bytes: &[u8]) -> Result<(), TestCaseError> {
        let peak = peak_allocation(|| {
            let _ = ConsumerProtocolSubscription::decode(bytes);
            let _ = ConsumerProtocolAssignment::decode(bytes);
        });
        prop_assert!(
            peak <= allocation_bound(bytes.len()),
            "{peak} B for {} B",
            bytes.len()
        );
        Ok(())
    }

    #[test]
    fn random_and_mutated_member_metadata_never_panics() {
        let seeds = seeds();
        assert!(
            seeds.len() >= 5,
            "every subscription version and the assignment encode"
        );
        for seed in &seeds {
            for cut in 0..=seed.len() {
                decode_both(&seed[..cut]).unwrap();
            }
        }
        proptest!(config(), |(body in proptest::collection::vec(any::<u8>(), 0..128))| {
            decode_both(&body)?;
        });
        proptest!(config(), |(pick in any::<usize>(), edits in proptest::collection::vec(edit(), 1..6))| {
            let mut bytes = seeds[pick % seeds.len()].clone();
            for edit in &edits {
                apply(&mut bytes, edit);
            }
            decode_both(&bytes)?;
        });
    }
}
