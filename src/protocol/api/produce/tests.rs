//! Produce codec tests: round trips through test codecs written from the schema,
//! byte-for-byte agreement with the `kafka-protocol` crate, hostile input.

use super::*;
use crate::protocol::api::codec_checks::*;
use kafka_protocol::messages::produce_request as oracle_req;
use kafka_protocol::messages::produce_response as oracle_resp;
use kafka_protocol::messages::{TopicName, TransactionalId};
use proptest::prelude::*;

type Req = ProduceRequest;

fn sample_request(transactional: bool) -> ProduceRequest {
    ProduceRequest {
        transactional_id: transactional.then(|| "orders-tx".to_owned()),
        acks: -1,
        timeout_ms: 30_000,
        topic_data: vec![
            TopicProduceData {
                name: "events".into(),
                partition_data: vec![
                    PartitionProduceData {
                        index: 0,
                        records: (0..=255).collect(),
                    },
                    PartitionProduceData {
                        index: 7,
                        records: vec![],
                    },
                ],
            },
            TopicProduceData {
                name: "audit".into(),
                partition_data: vec![PartitionProduceData {
                    index: 2,
                    records: b"batch".to_vec(),
                }],
            },
        ],
    }
}

/// The idempotent and the transactional request, at any version.
fn sample_requests(_version: i16) -> [ProduceRequest; 2] {
    [sample_request(false), sample_request(true)]
}

/// A response using every field, as the broker would send it at `version`.
fn sample_response(version: i16) -> ProduceResponse {
    let ok = PartitionProduceResponse {
        index: 0,
        error_code: ErrorCode::None,
        base_offset: 1_234_567_890_123,
        log_append_time_ms: 1_700_000_000_000,
        log_start_offset: if version >= 5 { 42 } else { -1 },
        ..Default::default()
    };
    let mut rejected = PartitionProduceResponse {
        index: 3,
        error_code: ErrorCode::from_code(87), // INVALID_RECORD
        ..Default::default()
    };
    let mut moved = PartitionProduceResponse {
        index: 5,
        error_code: ErrorCode::NotLeaderOrFollower,
        ..Default::default()
    };
    let mut node_endpoints = Vec::new();
    if version >= 8 {
        rejected.record_errors = vec![
            BatchIndexAndErrorMessage {
                batch_index: 4,
                batch_index_error_message: Some("null key on a compacted topic".into()),
            },
            BatchIndexAndErrorMessage {
                batch_index: 9,
                batch_index_error_message: None,
            },
        ];
        rejected.error_message = Some("one or more records were invalid".into());
    }
    if version >= 10 {
        moved.current_leader = Some(LeaderIdAndEpoch {
            leader_id: 2,
            leader_epoch: 11,
        });
        node_endpoints = vec![
            NodeEndpoint {
                node_id: 2,
                host: "kafka-2.internal".into(),
                port: 9093,
                rack: Some("eu-west-1b".into()),
            },
            NodeEndpoint {
                node_id: 4,
                host: "kafka-4.internal".into(),
                port: 9092,
                rack: None,
            },
        ];
    }
    ProduceResponse {
        responses: vec![
            TopicProduceResponse {
                name: "events".into(),
                partition_responses: vec![ok, rejected],
            },
            TopicProduceResponse {
                name: "audit".into(),
                partition_responses: vec![moved],
            },
        ],
        throttle_time_ms: 15,
        node_endpoints,
    }
}

/// Our own test encoder for response bodies, written from the schema.
fn response_body(r: &ProduceResponse, version: i16) -> Vec<u8> {
    let mut body = Vec::new();
    let mut e = Encoder::with_flexible(&mut body, Req::is_flexible(version));
    e.array_of(&r.responses, |e, topic| {
        e.string(&topic.name)?;
        e.array_of(&topic.partition_responses, |e, p| {
            e.i32(p.index);
            e.i16(p.error_code.code());
            e.i64(p.base_offset);
            e.i64(p.log_append_time_ms);
            if version >= 5 {
                e.i64(p.log_start_offset);
            }
            if version >= 8 {
                e.array_of(&p.record_errors, |e, err| {
                    e.i32(err.batch_index);
                    e.nullable_string(err.batch_index_error_message.as_deref())?;
                    e.tagged_fields();
                    Ok(())
                })?;
                e.nullable_string(p.error_message.as_deref())?;
            }
            match &p.current_leader {
                Some(leader) => e.tagged_fields_with(&[(0, &leader_data(leader))])?,
                None => e.tagged_fields(),
            }
            Ok(())
        })?;
        e.tagged_fields();
        Ok(())
    })
    .unwrap();
    e.i32(r.throttle_time_ms);
    end_with_node_endpoints(&mut e, &r.node_endpoints, 5);
    body
}

/// Our own test decoder for requests, written from the schema.
fn decode_request(version: i16, body: &[u8]) -> DecodeResult<ProduceRequest> {
    let mut d = Decoder::with_flexible(body, Req::is_flexible(version));
    let request = ProduceRequest {
        transactional_id: d.nullable_string()?,
        acks: d.i16()?,
        timeout_ms: d.i32()?,
        topic_data: d.array_of(2, |d| {
            let topic = TopicProduceData {
                name: d.string()?,
                partition_data: d.array_of(5, |d| {
                    let partition = PartitionProduceData {
                        index: d.i32()?,
                        records: d.bytes()?.to_vec(),
                    };
                    d.tagged_fields()?;
                    Ok(partition)
                })?,
            };
            d.tagged_fields()?;
            Ok(topic)
        })?,
    };
    d.tagged_fields()?;
    d.finish()?;
    Ok(request)
}

fn to_oracle_request(r: &ProduceRequest) -> oracle_req::ProduceRequest {
    oracle_req::ProduceRequest::default()
        .with_transactional_id(
            r.transactional_id
                .as_deref()
                .map(|id| TransactionalId(oracle_str(id))),
        )
        .with_acks(r.acks)
        .with_timeout_ms(r.timeout_ms)
        .with_topic_data(
            r.topic_data
                .iter()
                .map(|t| {
                    oracle_req::TopicProduceData::default()
                        .with_name(TopicName(oracle_str(&t.name)))
                        .with_partition_data(
                            t.partition_data
                                .iter()
                                .map(|p| {
                                    oracle_req::PartitionProduceData::default()
                                        .with_index(p.index)
                                        .with_records(Some(p.records.clone().into()))
                                })
                                .collect(),
                        )
                })
                .collect(),
        )
}

fn to_oracle_response(r: &ProduceResponse) -> oracle_resp::ProduceResponse {
    let partition = |p: &PartitionProduceResponse| {
        let leader = p.current_leader.unwrap_or_default();
        oracle_resp::PartitionProduceResponse::default()
            .with_index(p.index)
            .with_error_code(p.error_code.code())
            .with_base_offset(p.base_offset)
            .with_log_append_time_ms(p.log_append_time_ms)
            .with_log_start_offset(p.log_start_offset)
            .with_record_errors(
                p.record_errors
                    .iter()
                    .map(|err| {
                        oracle_resp::BatchIndexAndErrorMessage::default()
                            .with_batch_index(err.batch_index)
                            .with_batch_index_error_message(
                                err.batch_index_error_message.as_deref().map(oracle_str),
                            )
                    })
                    .collect(),
            )
            .with_error_message(p.error_message.as_deref().map(oracle_str))
            .with_current_leader(
                oracle_resp::LeaderIdAndEpoch::default()
                    .with_leader_id(leader.leader_id.into())
                    .with_leader_epoch(leader.leader_epoch),
            )
            .with_unknown_tagged_field(3, bytes::Bytes::from_static(b"x"))
    };
    oracle_resp::ProduceResponse::default()
        .with_responses(
            r.responses
                .iter()
                .map(|t| {
                    oracle_resp::TopicProduceResponse::default()
                        .with_name(TopicName(oracle_str(&t.name)))
                        .with_partition_responses(
                            t.partition_responses.iter().map(partition).collect(),
                        )
                })
                .collect(),
        )
        .with_throttle_time_ms(r.throttle_time_ms)
        .with_node_endpoints(
            oracle_node_endpoints!(oracle_resp::NodeEndpoint, r.node_endpoints),
        )
}

#[test]
fn every_version_request_round_trips() {
    assert_every_request_version_round_trips(sample_requests, decode_request);
}

#[test]
fn every_version_response_round_trips() {
    assert_every_response_version_decodes::<Req>(sample_response, response_body);
}

#[test]
fn every_version_request_matches_kafka_protocol_crate() {
    assert_every_request_version_encodes_like_oracle(sample_requests, |r, _| to_oracle_request(r));
}

#[test]
fn every_version_response_from_kafka_protocol_crate_decodes() {
    assert_every_response_version_decodes_like_oracle::<Req, _>(sample_response, |r, _| {
        to_oracle_response(r)
    });
}

#[test]
fn acks_zero_expects_no_response() {
    let mut request = sample_request(false);
    request.acks = 0;
    assert!(!request.expects_response());
    request.acks = 1;
    assert!(request.expects_response());
    request.acks = -1;
    assert!(request.expects_response());
}

#[test]
fn leader_tags_before_v10_are_skipped_as_unknown() {
    // A v9 broker cannot send tag 0; if one did, it is not ours to read.
    let mut with_leader = sample_response(10);
    with_leader.node_endpoints.clear();
    let got = decode_framed::<Req>(9, &response_body(&with_leader, 9));
    assert_eq!(got.responses[1].partition_responses[0].current_leader, None);
}

#[test]
fn every_truncation_of_a_response_is_an_error() {
    assert_every_truncation_of_every_version_fails::<Req>(|v| {
        response_body(&sample_response(v), v)
    });
}

proptest! {
    #[test]
    fn random_bytes_never_panic(
        body in proptest::collection::vec(any::<u8>(), 0..256),
        version in versions::<Req>(),
    ) {
        let _ = decode_response_body::<Req>(version, &body);
    }

    #[test]
    fn corrupted_responses_never_panic(
        version in versions::<Req>(),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
    ) {
        let frame = response_frame::<Req>(version, &response_body(&sample_response(version), version));
        let _ = decode::<Req>(version, &edited(&frame, &edits));
    }
}

#[test]
fn v12_has_v11s_layout_and_only_signals_transactions_v2() {
    for request in sample_requests(12) {
        assert_eq!(request_body(&request, 12), request_body(&request, 11));
    }
    assert_eq!(PRODUCE_BEFORE_TRANSACTIONS_V2, 11);
    let got = decode_framed::<Req>(12, &response_body(&sample_response(12), 12));
    assert_eq!(got, sample_response(12));
}
