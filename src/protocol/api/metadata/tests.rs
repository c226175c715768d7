use super::*;
use crate::protocol::api::codec_checks::*;
use crate::protocol::encode_request;
use kafka_protocol::messages::{self as oracle, metadata_request, metadata_response};

type Req = MetadataRequest;

const TOPIC_ID: [u8; 16] = [
    0x5d, 0x1b, 0x8a, 0x33, 0x02, 0x7e, 0x4c, 0x11, 0x9f, 0x60, 0xab, 0xcd, 0x12, 0x34, 0x56,
    0x78,
];
/// The test's own response encoder, the mirror image of the decoder. It
/// adds an unknown tagged field to every flexible struct, which the
/// decoder must skip.
fn response_body(r: &MetadataResponse, version: i16) -> Vec<u8> {
    let mut body = Vec::new();
    let e = &mut Encoder::with_flexible(&mut body, Req::is_flexible(version));
    let unknown_tag = |e: &mut Encoder<'_>| e.tagged_fields_with(&[(9, b"zz")]).unwrap();
    if version >= 3 {
        e.i32(r.throttle_time_ms);
    }
    e.array_of(&r.brokers, |e, b| {
        e.i32(b.node_id);
        e.string(&b.host)?;
        e.i32(b.port);
        e.nullable_string(b.rack.as_deref())?;
        unknown_tag(e);
        Ok(())
    })
    .unwrap();
    if version >= 2 {
        e.nullable_string(r.cluster_id.as_deref()).unwrap();
    }
    e.i32(r.controller_id);
    e.array_of(&r.topics, |e, t| {
        e.i16(t.error_code.code());
        e.nullable_string(t.name.as_deref())?;
        if version >= 10 {
            e.uuid(&t.topic_id);
        }
        e.bool(t.is_internal);
        e.array_of(&t.partitions, |e, p| {
            e.i16(p.error_code.code());
            e.i32(p.partition_index);
            e.i32(p.leader_id);
            if version >= 7 {
                e.i32(p.leader_epoch);
            }
            for nodes in [&p.replica_nodes, &p.isr_nodes] {
                e.array_of(nodes, |e, n| {
                    e.i32(*n);
                    Ok(())
                })?;
            }
            if version >= 5 {
                e.array_of(&p.offline_replicas, |e, n| {
                    e.i32(*n);
                    Ok(())
                })?;
            }
            unknown_tag(e);
            Ok(())
        })?;
        if version >= 8 {
            e.i32(t.topic_authorized_operations);
        }
        unknown_tag(e);
        Ok(())
    })
    .unwrap();
    if (8..=10).contains(&version) {
        e.i32(r.cluster_authorized_operations);
    }
    unknown_tag(e);
    body
}

/// A realistic response holding only what `version` can carry.
fn sample_response(version: i16) -> MetadataResponse {
    let at =
        |since: i16, value: i32, default: i32| if version >= since { value } else { default };
    let partition =
        |index: i32, error_code: ErrorCode, leader_id: i32| MetadataResponsePartition {
            error_code,
            partition_index: index,
            leader_id,
            leader_epoch: at(7, 12, -1),
            replica_nodes: vec![1, 2, 3],
            isr_nodes: vec![1, 3],
            offline_replicas: if version >= 5 { vec![2] } else { vec![] },
        };
    let mut topics = vec![
        MetadataResponseTopic {
            error_code: ErrorCode::None,
            name: Some("events".into()),
            topic_id: if version >= 10 { TOPIC_ID } else { [0; 16] },
            is_internal: false,
            partitions: vec![
                partition(0, ErrorCode::None, 1),
                partition(1, ErrorCode::LeaderNotAvailable, -1),
            ],
            topic_authorized_operations: at(8, 0x0df8, AUTHORIZED_OPERATIONS_OMITTED),
        },
        MetadataResponseTopic {
            error_code: ErrorCode::UnknownTopicOrPartition,
            name: Some("missing".into()),
            topic_id: [0; 16],
            is_internal: version >= 1,
            partitions: vec![],
            topic_authorized_operations: AUTHORIZED_OPERATIONS_OMITTED,
        },
    ];
    if version >= 12 {
        topics.push(MetadataResponseTopic {
            error_code: ErrorCode::UnknownTopicId,
            name: None,
            topic_id: [0xee; 16],
            is_internal: false,
            partitions: vec![],
            topic_authorized_operations: AUTHORIZED_OPERATIONS_OMITTED,
        });
    }
    MetadataResponse {
        throttle_time_ms: at(3, 25, 0),
        brokers: vec![
            MetadataResponseBroker {
                node_id: 1,
                host: "broker-1.example".into(),
                port: 9092,
                rack: Some("rack-a".into()),
            },
            MetadataResponseBroker {
                node_id: 2,
                host: "10.0.0.2".into(),
                port: 19092,
                rack: None,
            },
        ],
        cluster_id: (version >= 2).then(|| "kz1Y-cluster".to_string()),
        controller_id: 2,
        topics,
        cluster_authorized_operations: if (8..=10).contains(&version) {
            0x0bb8
        } else {
            AUTHORIZED_OPERATIONS_OMITTED
        },
    }
}

/// A realistic request holding only what `version` can carry.
fn sample_request(version: i16) -> MetadataRequest {
    let mut topics = vec![
        MetadataRequestTopic::named("events"),
        MetadataRequestTopic::named("topic-événement"),
    ];
    if version >= 12 {
        topics.push(MetadataRequestTopic::by_id(TOPIC_ID));
    }
    MetadataRequest {
        topics: Some(topics),
        allow_auto_topic_creation: version < 4,
        include_cluster_authorized_operations: (8..=10).contains(&version),
        include_topic_authorized_operations: version >= 8,
    }
}

fn oracle_request(r: &MetadataRequest) -> oracle::MetadataRequest {
    oracle::MetadataRequest::default()
        .with_topics(r.topics.as_ref().map(|topics| {
            topics
                .iter()
                .map(|t| {
                    metadata_request::MetadataRequestTopic::default()
                        .with_topic_id(oracle_uuid(&t.topic_id))
                        .with_name(t.name.as_deref().map(|n| oracle_str(n).into()))
                })
                .collect()
        }))
        .with_allow_auto_topic_creation(r.allow_auto_topic_creation)
        .with_include_cluster_authorized_operations(r.include_cluster_authorized_operations)
        .with_include_topic_authorized_operations(r.include_topic_authorized_operations)
}

fn oracle_response(r: &MetadataResponse, version: i16) -> oracle::MetadataResponse {
    let ids = |nodes: &[i32]| nodes.iter().map(|&n| oracle::BrokerId(n)).collect();
    let mut response = oracle::MetadataResponse::default()
        .with_throttle_time_ms(r.throttle_time_ms)
        .with_brokers(
            r.brokers
                .iter()
                .map(|b| {
                    metadata_response::MetadataResponseBroker::default()
                        .with_node_id(oracle::BrokerId(b.node_id))
                        .with_host(oracle_str(&b.host))
                        .with_port(b.port)
                        .with_rack(b.rack.as_deref().map(oracle_str))
                })
                .collect(),
        )
        .with_cluster_id(r.cluster_id.as_deref().map(oracle_str))
        .with_controller_id(oracle::BrokerId(r.controller_id))
        .with_cluster_authorized_operations(r.cluster_authorized_operations)
        .with_topics(
            r.topics
                .iter()
                .map(|t| {
                    metadata_response::MetadataResponseTopic::default()
                        .with_error_code(t.error_code.code())
                        .with_name(t.name.as_deref().map(|n| oracle_str(n).into()))
                        .with_topic_id(oracle_uuid(&t.topic_id))
                        .with_is_internal(t.is_internal)
                        .with_topic_authorized_operations(t.topic_authorized_operations)
                        .with_partitions(
                            t.partitions
                                .iter()
                                .map(|p| {
                                    metadata_response::MetadataResponsePartition::default()
                                        .with_error_code(p.error_code.code())
                                        .with_partition_index(p.partition_index)
                                        .with_leader_id(oracle::BrokerId(p.leader_id))
                                        .with_leader_epoch(p.leader_epoch)
                                        .with_replica_nodes(ids(&p.replica_nodes))
                                        .with_isr_nodes(ids(&p.isr_nodes))
                                        .with_offline_replicas(ids(&p.offline_replicas))
                                        .with_unknown_tagged_field(3, b"p".as_ref().into())
                                })
                                .collect(),
                        )
                })
                .collect(),
        );
    if version >= 9 {
        response = response.with_unknown_tagged_field(5, b"top".as_ref().into());
    }
    response
}

#[test]
fn no_topics_is_a_null_array_and_an_empty_list_is_empty() {
    let all = MetadataRequest::all_topics();
    assert_eq!(request_body(&all, 1), [0xff, 0xff, 0xff, 0xff]);
    assert_eq!(request_body(&all, 9), [0, 1, 0, 0, 0]);
    let none = MetadataRequest {
        topics: Some(vec![]),
        ..MetadataRequest::default()
    };
    assert_eq!(request_body(&none, 1), [0, 0, 0, 0]);
}

#[test]
fn for_topics_asks_by_name_without_auto_creation() {
    let request = MetadataRequest::for_topics(["a", "b"]);
    assert!(!request.allow_auto_topic_creation);
    let names: Vec<_> = request
        .topics
        .iter()
        .flatten()
        .map(|t| t.name.as_deref())
        .collect();
    assert_eq!(names, [Some("a"), Some("b")]);
}

#[test]
fn fields_a_version_cannot_carry_are_refused() {
    let no_auto_create = MetadataRequest::for_topics(["a"]);
    assert!(try_request_body(&no_auto_create, 3).is_err());
    assert!(try_request_body(&no_auto_create, 4).is_ok());
    let by_id = MetadataRequest {
        topics: Some(vec![MetadataRequestTopic::by_id(TOPIC_ID)]),
        ..MetadataRequest::default()
    };
    assert!(try_request_body(&by_id, 11).is_err());
    assert!(try_request_body(&by_id, 12).is_ok());
    let cluster_ops = MetadataRequest {
        include_cluster_authorized_operations: true,
        ..MetadataRequest::default()
    };
    assert!(try_request_body(&cluster_ops, 7).is_err());
    assert!(try_request_body(&cluster_ops, 10).is_ok());
    assert!(try_request_body(&cluster_ops, 11).is_err());
    let topic_ops = MetadataRequest {
        include_topic_authorized_operations: true,
        ..MetadataRequest::default()
    };
    assert!(try_request_body(&topic_ops, 7).is_err());
}

#[test]
fn a_framed_request_carries_key_version_and_flexible_header() {
    let frame = encode_request(&MetadataRequest::all_topics(), 12, 3, Some("c")).unwrap();
    assert_eq!(&frame[4..8], &[0, 3, 0, 12]);
    // size, key, version, correlation id, client id "c", empty header tags.
    assert_eq!(&frame[4 + 2 + 2 + 4 + 3..], &[0, 0, 1, 0, 0]);
}

#[test]
fn a_huge_broker_count_is_rejected_before_allocating() {
    let frame = response_frame::<Req>(1, &[0x7f, 0xff, 0xff, 0xff, 0, 0]);
    assert!(decode::<Req>(1, &frame).is_err());
}

oracle_codec_tests! {
    request: Req,
    requests encodes_like_oracle:
        |v| [sample_request(v), MetadataRequest::default()] => |r, _| oracle_request(r),
    responses: sample_response => oracle_response,
    round_trip_bodies: response_body,
}
