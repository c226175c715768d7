use super::*;
use crate::protocol::api::codec_checks::*;
use kafka_protocol::messages::share_fetch_request as oreq;
use kafka_protocol::messages::share_fetch_response as oresp;
use kafka_protocol::messages::{
    GroupId, ShareFetchRequest as OracleRequest, ShareFetchResponse as OracleResponse,
};

type Req = ShareFetchRequest;

fn batch(first: i64, last: i64, types: &[i8]) -> AcknowledgementBatch {
    AcknowledgementBatch {
        first_offset: first,
        last_offset: last,
        acknowledge_types: types.to_vec(),
    }
}

fn sample_requests(_version: i16) -> Vec<Req> {
    let open = Req {
        group_id: "workers".into(),
        member_id: "3f1c9a2e-7d4b-4e0a-9c1f-5b2d8e6a4c10".into(),
        share_session_epoch: OPEN_SESSION_EPOCH,
        max_wait_ms: 500,
        min_bytes: 1,
        max_bytes: 52_428_800,
        max_records: 500,
        batch_size: 500,
        topics: vec![ShareFetchTopic {
            topic_id: [5; 16],
            partitions: vec![
                ShareFetchPartition {
                    partition_index: 0,
                    acknowledgement_batches: vec![],
                },
                ShareFetchPartition {
                    partition_index: 1,
                    acknowledgement_batches: vec![],
                },
            ],
        }],
        forgotten_topics_data: vec![],
    };
    let next = Req {
        share_session_epoch: 3,
        topics: vec![ShareFetchTopic {
            topic_id: [5; 16],
            partitions: vec![ShareFetchPartition {
                partition_index: 1,
                acknowledgement_batches: vec![
                    batch(10, 14, &[acknowledge_type::ACCEPT]),
                    batch(15, 17, &[2, 3, 1]),
                ],
            }],
        }],
        forgotten_topics_data: vec![ShareForgottenTopic {
            topic_id: [6; 16],
            partitions: vec![0, 2],
        }],
        ..open.clone()
    };
    let close = Req {
        share_session_epoch: CLOSE_SESSION_EPOCH,
        forgotten_topics_data: vec![],
        ..next.clone()
    };
    vec![open, next, close]
}

fn oracle_request(r: &Req) -> OracleRequest {
    let mut o = OracleRequest::default();
    o.group_id = Some(GroupId(oracle_str(&r.group_id)));
    o.member_id = Some(oracle_str(&r.member_id));
    o.share_session_epoch = r.share_session_epoch;
    o.max_wait_ms = r.max_wait_ms;
    o.min_bytes = r.min_bytes;
    o.max_bytes = r.max_bytes;
    o.max_records = r.max_records;
    o.batch_size = r.batch_size;
    o.topics = oracle_acknowledgement_topics!(
        r.topics,
        oreq::FetchTopic,
        oreq::FetchPartition,
        oreq::AcknowledgementBatch,
    );
    o.forgotten_topics_data = r
        .forgotten_topics_data
        .iter()
        .map(|t| {
            oreq::ForgottenTopic::default()
                .with_topic_id(oracle_uuid(&t.topic_id))
                .with_partitions(t.partitions.clone())
        })
        .collect();
    o
}

fn sample_response(_version: i16) -> ShareFetchResponse {
    ShareFetchResponse {
        throttle_time_ms: 0,
        error_code: ErrorCode::None,
        error_message: None,
        acquisition_lock_timeout_ms: 30_000,
        responses: vec![ShareFetchTopicResponse {
            topic_id: [5; 16],
            partitions: vec![
                ShareFetchPartitionResponse {
                    partition_index: 0,
                    error_code: ErrorCode::None,
                    error_message: None,
                    acknowledge_error_code: ErrorCode::InvalidRecordState,
                    acknowledge_error_message: Some("not acquired".into()),
                    current_leader: LeaderIdAndEpoch::default(),
                    records: Some(b"batch bytes".to_vec()),
                    acquired_records: vec![
                        AcquiredRecords {
                            first_offset: 0,
                            last_offset: 4,
                            delivery_count: 1,
                        },
                        AcquiredRecords {
                            first_offset: 5,
                            last_offset: 5,
                            delivery_count: 3,
                        },
                    ],
                },
                ShareFetchPartitionResponse {
                    partition_index: 1,
                    error_code: ErrorCode::NotLeaderOrFollower,
                    error_message: Some("moved".into()),
                    acknowledge_error_code: ErrorCode::None,
                    acknowledge_error_message: None,
                    current_leader: LeaderIdAndEpoch {
                        leader_id: 2,
                        leader_epoch: 9,
                    },
                    records: None,
                    acquired_records: vec![],
                },
            ],
        }],
        node_endpoints: vec![NodeEndpoint {
            node_id: 2,
            host: "127.0.0.1".into(),
            port: 40_001,
            rack: None,
        }],
    }
}

fn oracle_response(r: &ShareFetchResponse) -> OracleResponse {
    let mut o = OracleResponse::default();
    o.throttle_time_ms = r.throttle_time_ms;
    o.error_code = r.error_code.code();
    o.error_message = r.error_message.as_deref().map(oracle_str);
    o.acquisition_lock_timeout_ms = r.acquisition_lock_timeout_ms;
    o.responses = r
        .responses
        .iter()
        .map(|t| {
            oresp::ShareFetchableTopicResponse::default()
                .with_topic_id(oracle_uuid(&t.topic_id))
                .with_partitions(
                    t.partitions
                        .iter()
                        .map(|p| {
                            oresp::PartitionData::default()
                                .with_partition_index(p.partition_index)
                                .with_error_code(p.error_code.code())
                                .with_error_message(p.error_message.as_deref().map(oracle_str))
                                .with_acknowledge_error_code(p.acknowledge_error_code.code())
                                .with_acknowledge_error_message(
                                    p.acknowledge_error_message.as_deref().map(oracle_str),
                                )
                                .with_current_leader(
                                    oresp::LeaderIdAndEpoch::default()
                                        .with_leader_id(p.current_leader.leader_id)
                                        .with_leader_epoch(p.current_leader.leader_epoch),
                                )
                                .with_records(p.records.clone().map(bytes::Bytes::from))
                                .with_acquired_records(
                                    p.acquired_records
                                        .iter()
                                        .map(|a| {
                                            oresp::AcquiredRecords::default()
                                                .with_first_offset(a.first_offset)
                                                .with_last_offset(a.last_offset)
                                                .with_delivery_count(a.delivery_count)
                                        })
                                        .collect(),
                                )
                        })
                        .collect(),
                )
        })
        .collect();
    o.node_endpoints = oracle_node_endpoints!(oresp::NodeEndpoint, r.node_endpoints);
    o
}

#[test]
fn a_top_level_session_error_decodes_with_no_topics() {
    let r = ShareFetchResponse {
        error_code: ErrorCode::ShareSessionNotFound,
        error_message: Some("no session".into()),
        acquisition_lock_timeout_ms: 0,
        responses: vec![],
        node_endpoints: vec![],
        ..sample_response(1)
    };
    assert_eq!(decode_oracle_response::<Req, _>(&oracle_response(&r), 1), r);
}

oracle_codec_tests! {
    request: Req,
    bare_bodies_up_to: 96,
    request_test request_matches_kafka_protocol_at_every_version:
        sample_requests => |r, _| oracle_request(r),
    responses: sample_response => |r, _| oracle_response(r),
    corrupted_responses_never_panic,
}
