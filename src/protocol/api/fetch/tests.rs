//! Fetch codec tests: round trips through test codecs written from the schema,
//! byte-for-byte agreement with the `kafka-protocol` crate, hostile input.

use super::*;
use crate::protocol::api::codec_checks::*;
use kafka_protocol::messages::fetch_request as oracle_req;
use kafka_protocol::messages::fetch_response as oracle_resp;
use kafka_protocol::messages::TopicName;
use proptest::prelude::*;

type Req = FetchRequest;

const EVENTS_ID: [u8; 16] = [
    0x5f, 0x3c, 0x91, 0x0e, 0x2a, 0x44, 0x4b, 0x1d, 0x9e, 0x07, 0x6c, 0xd2, 0x13, 0x88, 0xa1, 0x42,
];
const AUDIT_ID: [u8; 16] = [
    0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0x4c, 0xde, 0x8f, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd,
];

// ---------------------------------------------------------------- requests

/// A request using every field, for a consumer or a follower.
fn full_request(follower: bool) -> FetchRequest {
    FetchRequest {
        replica_id: if follower { 3 } else { -1 },
        replica_epoch: if follower { 9 } else { -1 },
        max_wait_ms: 250,
        min_bytes: 1024,
        max_bytes: 8 * 1024 * 1024,
        isolation_level: IsolationLevel::ReadCommitted,
        session_id: 123,
        session_epoch: 5,
        topics: vec![
            FetchTopic {
                topic: "events".into(),
                topic_id: EVENTS_ID,
                partitions: vec![
                    FetchPartition {
                        partition: 0,
                        current_leader_epoch: 7,
                        fetch_offset: 1_000,
                        last_fetched_epoch: 6,
                        log_start_offset: 55,
                        partition_max_bytes: 512 * 1024,
                    },
                    FetchPartition {
                        partition: 4,
                        fetch_offset: 9_876_543_210,
                        ..Default::default()
                    },
                ],
            },
            FetchTopic {
                topic: "audit".into(),
                topic_id: AUDIT_ID,
                partitions: vec![FetchPartition {
                    partition: 1,
                    current_leader_epoch: 2,
                    fetch_offset: 0,
                    ..Default::default()
                }],
            },
        ],
        forgotten_topics_data: vec![ForgottenTopic {
            topic: "audit".into(),
            topic_id: AUDIT_ID,
            partitions: vec![0, 2, 5],
        }],
        rack_id: "eu-west-1a".into(),
    }
}

/// Removes the fields Kafka marks ignorable that `version` does not carry.
fn drop_ignorable(mut r: FetchRequest, version: i16) -> FetchRequest {
    if version < 7 {
        r.session_id = 0;
        r.session_epoch = -1;
    }
    if version < 11 {
        r.rack_id.clear();
    }
    for t in &mut r.topics {
        if version < 13 {
            t.topic_id = NIL_TOPIC_ID;
        } else {
            t.topic.clear();
        }
        for p in &mut t.partitions {
            if version < 9 {
                p.current_leader_epoch = -1;
            }
            if version < 5 {
                p.log_start_offset = -1;
            }
        }
    }
    for t in &mut r.forgotten_topics_data {
        if version < 13 {
            t.topic_id = NIL_TOPIC_ID;
        } else {
            t.topic.clear();
        }
    }
    r
}

/// Removes the fields `version` cannot carry and Kafka does not let it drop.
fn drop_unignorable(mut r: FetchRequest, version: i16) -> FetchRequest {
    if version < 15 {
        r.replica_epoch = -1;
    }
    if version < 7 {
        r.forgotten_topics_data.clear();
    }
    if version < 12 {
        for p in r.topics.iter_mut().flat_map(|t| &mut t.partitions) {
            p.last_fetched_epoch = -1;
        }
    }
    r
}

/// The full request as `version` carries it.
fn sample_request(follower: bool, version: i16) -> FetchRequest {
    drop_ignorable(drop_unignorable(full_request(follower), version), version)
}

/// The consumer's and the follower's request as `version` carries them.
fn sample_requests(version: i16) -> [FetchRequest; 2] {
    [false, true].map(|follower| sample_request(follower, version))
}

/// Our own test decoder for requests, written from the schema.
fn decode_request(version: i16, body: &[u8]) -> DecodeResult<FetchRequest> {
    fn topic_key(version: i16, d: &mut Decoder<'_>) -> DecodeResult<(String, [u8; 16])> {
        if version < 13 {
            Ok((d.string()?, NIL_TOPIC_ID))
        } else {
            Ok((String::new(), d.uuid()?))
        }
    }
    let mut d = Decoder::with_flexible(body, Req::is_flexible(version));
    let mut r = FetchRequest::default();
    if version < 15 {
        r.replica_id = d.i32()?;
    }
    r.max_wait_ms = d.i32()?;
    r.min_bytes = d.i32()?;
    r.max_bytes = d.i32()?;
    r.isolation_level = match d.i8()? {
        0 => IsolationLevel::ReadUncommitted,
        1 => IsolationLevel::ReadCommitted,
        _ => return Err(crate::protocol::DecodeError::Invalid("isolation level")),
    };
    if version >= 7 {
        r.session_id = d.i32()?;
        r.session_epoch = d.i32()?;
    }
    r.topics = d.array_of(2, |d| {
        let (topic, topic_id) = topic_key(version, d)?;
        let partitions = d.array_of(16, |d| {
            let mut p = FetchPartition {
                partition: d.i32()?,
                ..Default::default()
            };
            if version >= 9 {
                p.current_leader_epoch = d.i32()?;
            }
            p.fetch_offset = d.i64()?;
            if version >= 12 {
                p.last_fetched_epoch = d.i32()?;
            }
            if version >= 5 {
                p.log_start_offset = d.i64()?;
            }
            p.partition_max_bytes = d.i32()?;
            d.tagged_fields()?;
            Ok(p)
        })?;
        d.tagged_fields()?;
        Ok(FetchTopic {
            topic,
            topic_id,
            partitions,
        })
    })?;
    if version >= 7 {
        r.forgotten_topics_data = d.array_of(2, |d| {
            let (topic, topic_id) = topic_key(version, d)?;
            let partitions = d.array_of(4, |d| d.i32())?;
            d.tagged_fields()?;
            Ok(ForgottenTopic {
                topic,
                topic_id,
                partitions,
            })
        })?;
    }
    if version >= 11 {
        r.rack_id = d.string()?;
    }
    let mut replica_state = None;
    d.tagged_fields_with(|tag, data, _| {
        if tag == 1 && version >= 15 {
            let mut sd = Decoder::with_flexible(data, true);
            replica_state = Some((sd.i32()?, sd.i64()?));
            sd.tagged_fields()?;
            sd.finish()?;
            return Ok(true);
        }
        Ok(false)
    })?;
    if let Some((replica_id, replica_epoch)) = replica_state {
        r.replica_id = replica_id;
        r.replica_epoch = replica_epoch;
    }
    d.finish()?;
    Ok(r)
}

fn to_oracle_request(r: &FetchRequest, version: i16) -> oracle_req::FetchRequest {
    let mut oracle = oracle_req::FetchRequest::default()
        .with_max_wait_ms(r.max_wait_ms)
        .with_min_bytes(r.min_bytes)
        .with_max_bytes(r.max_bytes)
        .with_isolation_level(r.isolation_level.code())
        .with_session_id(r.session_id)
        .with_session_epoch(r.session_epoch)
        .with_topics(
            r.topics
                .iter()
                .map(|t| {
                    oracle_req::FetchTopic::default()
                        .with_topic(TopicName(oracle_str(&t.topic)))
                        .with_topic_id(oracle_uuid(&t.topic_id))
                        .with_partitions(
                            t.partitions
                                .iter()
                                .map(|p| {
                                    oracle_req::FetchPartition::default()
                                        .with_partition(p.partition)
                                        .with_current_leader_epoch(p.current_leader_epoch)
                                        .with_fetch_offset(p.fetch_offset)
                                        .with_last_fetched_epoch(p.last_fetched_epoch)
                                        .with_log_start_offset(p.log_start_offset)
                                        .with_partition_max_bytes(p.partition_max_bytes)
                                })
                                .collect(),
                        )
                })
                .collect(),
        )
        .with_forgotten_topics_data(
            r.forgotten_topics_data
                .iter()
                .map(|t| {
                    oracle_req::ForgottenTopic::default()
                        .with_topic(TopicName(oracle_str(&t.topic)))
                        .with_topic_id(oracle_uuid(&t.topic_id))
                        .with_partitions(t.partitions.clone())
                })
                .collect(),
        )
        .with_rack_id(oracle_str(&r.rack_id));
    if version >= 15 {
        oracle = oracle.with_replica_state(
            oracle_req::ReplicaState::default()
                .with_replica_id(r.replica_id.into())
                .with_replica_epoch(r.replica_epoch),
        );
    } else {
        oracle = oracle.with_replica_id(r.replica_id.into());
    }
    oracle
}

#[test]
fn every_version_request_round_trips() {
    assert_every_request_version_round_trips(sample_requests, decode_request);
}

#[test]
fn every_version_request_matches_kafka_protocol_crate() {
    assert_every_request_version_encodes_like_oracle(sample_requests, to_oracle_request);
}

#[test]
fn ignorable_fields_are_dropped_at_versions_without_them() {
    for version in versions::<Req>() {
        let request = drop_unignorable(full_request(false), version);
        assert_eq!(
            request_body(&request, version),
            request_body(&drop_ignorable(request.clone(), version), version),
            "v{version}"
        );
    }
}

#[test]
fn unignorable_fields_at_versions_without_them_are_encode_errors() {
    let unsupported = |r: &FetchRequest, version| {
        matches!(
            try_request_body(r, version),
            Err(EncodeError::Unsupported(_))
        )
    };
    let mut epoch = sample_request(false, 12);
    epoch.topics[0].partitions[0].last_fetched_epoch = 6;
    assert!(unsupported(&epoch, 11));
    assert!(!unsupported(&epoch, 12));

    let forget = sample_request(false, 7);
    assert!(!forget.forgotten_topics_data.is_empty());
    assert!(unsupported(&forget, 6));
    assert!(!unsupported(&forget, 7));

    let follower = sample_request(true, 15);
    assert!(unsupported(&follower, 14));
    assert!(!unsupported(&follower, 15));
}

#[test]
fn a_nil_topic_id_from_v13_is_an_encode_error() {
    let mut request = sample_request(false, 12);
    assert!(try_request_body(&request, 12).is_ok());
    assert!(matches!(
        try_request_body(&request, 13),
        Err(EncodeError::Unsupported(_))
    ));
    request.topics[0].topic_id = EVENTS_ID;
    request.topics[1].topic_id = AUDIT_ID;
    request.forgotten_topics_data[0].topic_id = AUDIT_ID;
    assert!(try_request_body(&request, 13).is_ok());
}

#[test]
fn a_default_request_is_a_consumer_outside_any_fetch_session() {
    let request = FetchRequest::default();
    assert_eq!(request.replica_id, -1);
    assert_eq!((request.session_id, request.session_epoch), (0, -1));
    let oracle = oracle_req::FetchRequest::default()
        .with_max_wait_ms(500)
        .with_min_bytes(1)
        .with_max_bytes(50 * 1024 * 1024);
    assert_every_request_version_encodes_like_oracle(|_| [request.clone()], |_, _| oracle.clone());
}

// --------------------------------------------------------------- responses

/// The records each partition of the sample carries (`None` is null).
fn records_for(partition_index: i32) -> Option<Vec<u8>> {
    match partition_index {
        0 => Some((0..=255).collect()),
        2 => Some(Vec::new()),
        3 => Some(b"batch".to_vec()),
        _ => None,
    }
}

/// A response using every field, as the broker would send it at `version`,
/// with empty record ranges (the records are in [`records_for`]).
fn sample_response(version: i16) -> FetchResponse {
    let name = |name: &str| {
        if version < 13 {
            name.to_owned()
        } else {
            String::new()
        }
    };
    let id = |id| if version < 13 { NIL_TOPIC_ID } else { id };
    let since = |first: i16, value: i64| if version >= first { value } else { -1 };
    let records = 0..0;
    let with_data = FetchPartitionResponse {
        partition_index: 0,
        error_code: ErrorCode::None,
        high_watermark: 5_000,
        last_stable_offset: 4_990,
        log_start_offset: since(5, 100),
        aborted_transactions: vec![
            AbortedTransaction {
                producer_id: 77,
                first_offset: 4_000,
            },
            AbortedTransaction {
                producer_id: 78,
                first_offset: 4_100,
            },
        ],
        preferred_read_replica: since(11, 2) as i32,
        records: records.clone(),
        ..Default::default()
    };
    let out_of_range = FetchPartitionResponse {
        partition_index: 1,
        error_code: ErrorCode::OffsetOutOfRange,
        high_watermark: 10,
        last_stable_offset: 10,
        log_start_offset: since(5, 0),
        records: records.clone(),
        ..Default::default()
    };
    let mut moved = FetchPartitionResponse {
        partition_index: 2,
        error_code: ErrorCode::NotLeaderOrFollower,
        records: records.clone(),
        ..Default::default()
    };
    if version >= 12 {
        moved.diverging_epoch = Some(EpochEndOffset {
            epoch: 5,
            end_offset: 4_321,
        });
        moved.current_leader = Some(LeaderIdAndEpoch {
            leader_id: 3,
            leader_epoch: 12,
        });
        moved.snapshot_id = Some(SnapshotId {
            end_offset: 9_999,
            epoch: 4,
        });
    }
    let audit = FetchPartitionResponse {
        partition_index: 3,
        high_watermark: 1,
        last_stable_offset: 1,
        log_start_offset: since(5, 0),
        records,
        ..Default::default()
    };
    let node_endpoints = if version >= 16 {
        vec![
            NodeEndpoint {
                node_id: 3,
                host: "kafka-3.internal".into(),
                port: 9094,
                rack: Some("eu-west-1c".into()),
            },
            NodeEndpoint {
                node_id: 1,
                host: "kafka-1.internal".into(),
                port: 9092,
                rack: None,
            },
        ]
    } else {
        Vec::new()
    };
    FetchResponse {
        throttle_time_ms: 20,
        error_code: ErrorCode::None,
        session_id: if version >= 7 { 0x5eed } else { 0 },
        responses: vec![
            FetchTopicResponse {
                topic: name("events"),
                topic_id: id(EVENTS_ID),
                partitions: vec![with_data, out_of_range, moved],
            },
            FetchTopicResponse {
                topic: name("audit"),
                topic_id: id(AUDIT_ID),
                partitions: vec![audit],
            },
        ],
        node_endpoints,
    }
}

/// Our own test encoder for response bodies, written from the schema; records
/// come from [`records_for`].
fn response_body(r: &FetchResponse, version: i16) -> Vec<u8> {
    let mut body = Vec::new();
    let mut e = Encoder::with_flexible(&mut body, Req::is_flexible(version));
    e.i32(r.throttle_time_ms);
    if version >= 7 {
        e.i16(r.error_code.code());
        e.i32(r.session_id);
    }
    e.array_of(&r.responses, |e, t| {
        if version < 13 {
            e.string(&t.topic)?;
        } else {
            e.uuid(&t.topic_id);
        }
        e.array_of(&t.partitions, |e, p| {
            e.i32(p.partition_index);
            e.i16(p.error_code.code());
            e.i64(p.high_watermark);
            e.i64(p.last_stable_offset);
            if version >= 5 {
                e.i64(p.log_start_offset);
            }
            e.array_of(&p.aborted_transactions, |e, a| {
                e.i64(a.producer_id);
                e.i64(a.first_offset);
                e.tagged_fields();
                Ok(())
            })?;
            if version >= 11 {
                e.i32(p.preferred_read_replica);
            }
            e.nullable_bytes(records_for(p.partition_index).as_deref())?;
            let mut fields = Vec::new();
            if let Some(x) = p.diverging_epoch {
                fields.push((
                    0,
                    tagged_struct(|e| {
                        e.i32(x.epoch);
                        e.i64(x.end_offset);
                    }),
                ));
            }
            if let Some(x) = p.current_leader {
                fields.push((1, leader_data(&x)));
            }
            if let Some(x) = p.snapshot_id {
                fields.push((
                    2,
                    tagged_struct(|e| {
                        e.i64(x.end_offset);
                        e.i32(x.epoch);
                    }),
                ));
            }
            let fields: Vec<(u32, &[u8])> = fields.iter().map(|(t, d)| (*t, &d[..])).collect();
            e.tagged_fields_with(&fields)
        })?;
        e.tagged_fields();
        Ok(())
    })
    .unwrap();
    end_with_node_endpoints(&mut e, &r.node_endpoints, 6);
    body
}

/// The frame around our encoding of the sample response at `version`.
fn sample_frame(version: i16) -> Vec<u8> {
    response_frame::<Req>(version, &response_body(&sample_response(version), version))
}

fn to_oracle_response(r: &FetchResponse) -> oracle_resp::FetchResponse {
    let partition = |p: &FetchPartitionResponse| {
        let diverging = p.diverging_epoch.map_or_else(Default::default, |x| {
            oracle_resp::EpochEndOffset::default()
                .with_epoch(x.epoch)
                .with_end_offset(x.end_offset)
        });
        let leader = p.current_leader.map_or_else(Default::default, |x| {
            oracle_resp::LeaderIdAndEpoch::default()
                .with_leader_id(x.leader_id.into())
                .with_leader_epoch(x.leader_epoch)
        });
        let snapshot = p.snapshot_id.map_or_else(Default::default, |x| {
            oracle_resp::SnapshotId::default()
                .with_end_offset(x.end_offset)
                .with_epoch(x.epoch)
        });
        // An empty list goes out as null, which must decode as empty.
        let aborted = (!p.aborted_transactions.is_empty()).then(|| {
            p.aborted_transactions
                .iter()
                .map(|a| {
                    oracle_resp::AbortedTransaction::default()
                        .with_producer_id(a.producer_id.into())
                        .with_first_offset(a.first_offset)
                })
                .collect()
        });
        oracle_resp::PartitionData::default()
            .with_partition_index(p.partition_index)
            .with_error_code(p.error_code.code())
            .with_high_watermark(p.high_watermark)
            .with_last_stable_offset(p.last_stable_offset)
            .with_log_start_offset(p.log_start_offset)
            .with_diverging_epoch(diverging)
            .with_current_leader(leader)
            .with_snapshot_id(snapshot)
            .with_aborted_transactions(aborted)
            .with_preferred_read_replica(p.preferred_read_replica.into())
            .with_records(records_for(p.partition_index).map(Into::into))
            .with_unknown_tagged_field(5, bytes::Bytes::from_static(b"x"))
    };
    oracle_resp::FetchResponse::default()
        .with_throttle_time_ms(r.throttle_time_ms)
        .with_error_code(r.error_code.code())
        .with_session_id(r.session_id)
        .with_responses(
            r.responses
                .iter()
                .map(|t| {
                    oracle_resp::FetchableTopicResponse::default()
                        .with_topic(TopicName(oracle_str(&t.topic)))
                        .with_topic_id(oracle_uuid(&t.topic_id))
                        .with_partitions(t.partitions.iter().map(partition).collect())
                })
                .collect(),
        )
        .with_node_endpoints(
            oracle_node_endpoints!(oracle_resp::NodeEndpoint, r.node_endpoints),
        )
        .with_unknown_tagged_field(3, bytes::Bytes::from_static(b"later"))
}

/// Checks that `got`, decoded from `frame`, is `want` with each partition's
/// records where [`records_for`] says.
fn assert_decoded(got: &FetchResponse, frame: &[u8], want: &FetchResponse, version: i16) {
    let mut got = got.clone();
    for p in got.responses.iter_mut().flat_map(|t| &mut t.partitions) {
        let expected = records_for(p.partition_index).unwrap_or_default();
        assert_eq!(
            p.records_in(frame),
            Some(&expected[..]),
            "v{version} partition {}",
            p.partition_index
        );
        p.records = 0..0;
    }
    assert_eq!(&got, want, "v{version}");
}

/// Checks [`assert_decoded`] at every version for the sample response and the
/// body `body` encodes of it.
fn assert_every_version_decodes(body: impl Fn(&FetchResponse, i16) -> Vec<u8>) {
    for version in versions::<Req>() {
        let want = sample_response(version);
        let frame = response_frame::<Req>(version, &body(&want, version));
        let got = decode::<Req>(version, &frame).unwrap();
        assert_decoded(&got, &frame, &want, version);
    }
}

#[test]
fn every_version_response_round_trips() {
    assert_every_version_decodes(response_body);
}

#[test]
fn every_version_response_from_kafka_protocol_crate_decodes() {
    assert_every_version_decodes(|r, v| oracle_bytes(&to_oracle_response(r), v));
}

#[test]
fn null_records_decode_as_an_empty_range() {
    let frame = sample_frame(17);
    let got = decode::<Req>(17, &frame).unwrap();
    let null = &got.responses[0].partitions[1];
    assert_eq!(records_for(null.partition_index), None);
    assert!(null.records.is_empty());
    assert_eq!(null.records_in(&frame), Some(&[][..]));
}

#[test]
fn records_are_a_range_of_the_frame_not_a_copy() {
    let frame = sample_frame(11);
    let got = decode::<Req>(11, &frame).unwrap();
    let p = &got.responses[0].partitions[0];
    assert_eq!(p.records.len(), 256);
    assert_eq!(&frame[p.records.clone()], &records_for(0).unwrap()[..]);
    // A buffer that is not the frame the ranges came from is refused, not sliced
    // out of bounds.
    assert_eq!(p.records_in(&frame[..p.records.end - 1]), None);
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
        if let Ok(response) = decode_response_body::<Req>(version, &body) {
            for p in response.responses.iter().flat_map(|t| &t.partitions) {
                prop_assert!(p.records_in(&body).is_some());
            }
        }
    }

    #[test]
    fn corrupted_responses_never_panic(
        version in versions::<Req>(),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
    ) {
        let frame = edited(&sample_frame(version), &edits);
        if let Ok(response) = decode::<Req>(version, &frame) {
            for p in response.responses.iter().flat_map(|t| &t.partitions) {
                prop_assert!(p.records_in(&frame).is_some());
            }
        }
    }
}
