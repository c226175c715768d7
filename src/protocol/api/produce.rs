//! Produce (key 0): record batches appended to partition leaders.
//!
//! The request carries already-encoded record batches per partition; this
//! module does not look inside them (see `protocol::records`). With `acks = 0`
//! the broker sends no response at all, which [`Request::expects_response`]
//! reports so the connection does not wait for one.
//!
//! Versions 3 to 11: v3 is the first with record batches (magic 2) and the
//! oldest Kafka 4 accepts; v9 is flexible; v10 adds the `current_leader` and
//! `node_endpoints` tagged fields, with which a broker that is no longer the
//! leader names the new one (KIP-951). [`LeaderIdAndEpoch`] and
//! [`NodeEndpoint`] are shared with Fetch.
//!
//! # References
//! Kafka protocol guide, "Produce API"; KIP-98 (v3), KIP-467 (record errors,
//! v8), KIP-482 (flexible versions, v9), KIP-951 (leader discovery, v10).

use crate::protocol::{
    api_key, DecodeResult, Decoder, EncodeError, Encoder, ErrorCode, Request, Response,
};

/// Produce request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProduceRequest {
    /// The transactional id, or `None` (the default) for a producer that is
    /// not transactional.
    pub transactional_id: Option<String>,
    /// Acknowledgements the leader waits for: 0 none (no response is sent),
    /// 1 the leader only, -1 every in-sync replica.
    pub acks: i16,
    /// How long the broker may wait for the acknowledgements, in milliseconds.
    pub timeout_ms: i32,
    /// The data, per topic.
    pub topic_data: Vec<TopicProduceData>,
}

/// The data for one topic.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TopicProduceData {
    /// Topic name.
    pub name: String,
    /// The data, per partition.
    pub partition_data: Vec<PartitionProduceData>,
}

/// The data for one partition.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PartitionProduceData {
    /// Partition index.
    pub index: i32,
    /// Encoded record batches, written as they are. The producer moves its
    /// sealed batch buffer in, so building a request copies no record data.
    pub records: Vec<u8>,
}

/// Produce response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProduceResponse {
    /// The results, per topic.
    pub responses: Vec<TopicProduceResponse>,
    /// How long the broker throttled the request, in milliseconds.
    pub throttle_time_ms: i32,
    /// Brokers named in `current_leader` fields (tagged, v10+; empty otherwise).
    pub node_endpoints: Vec<NodeEndpoint>,
}

/// The results for one topic.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TopicProduceResponse {
    /// Topic name.
    pub name: String,
    /// The results, per partition.
    pub partition_responses: Vec<PartitionProduceResponse>,
}

/// The result for one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionProduceResponse {
    /// Partition index.
    pub index: i32,
    /// The error, or `ErrorCode::None`.
    pub error_code: ErrorCode,
    /// Offset given to the first record of the first batch.
    pub base_offset: i64,
    /// The broker's append time when the topic uses `LogAppendTime`, else -1.
    pub log_append_time_ms: i64,
    /// The partition's log start offset (v5+; -1 before).
    pub log_start_offset: i64,
    /// Batches rejected because of individual records (v8+).
    pub record_errors: Vec<BatchIndexAndErrorMessage>,
    /// The broker's description of the error (v8+).
    pub error_message: Option<String>,
    /// The new leader, when the error is `NOT_LEADER_OR_FOLLOWER` (tagged, v10+).
    pub current_leader: Option<LeaderIdAndEpoch>,
}

impl Default for PartitionProduceResponse {
    fn default() -> Self {
        PartitionProduceResponse {
            index: 0,
            error_code: ErrorCode::None,
            base_offset: -1,
            log_append_time_ms: -1,
            log_start_offset: -1,
            record_errors: Vec::new(),
            error_message: None,
            current_leader: None,
        }
    }
}

/// A record that made its batch fail (v8+).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BatchIndexAndErrorMessage {
    /// Index of the record within its batch.
    pub batch_index: i32,
    /// Why the record was rejected.
    pub batch_index_error_message: Option<String>,
}

/// A partition's leader, as a broker sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaderIdAndEpoch {
    /// The leader's broker id, or -1 if unknown.
    pub leader_id: i32,
    /// The leader epoch, or -1 if unknown.
    pub leader_epoch: i32,
}

impl Default for LeaderIdAndEpoch {
    fn default() -> Self {
        LeaderIdAndEpoch {
            leader_id: -1,
            leader_epoch: -1,
        }
    }
}

impl LeaderIdAndEpoch {
    /// Decodes the tagged field's data (a flexible struct).
    pub(crate) fn decode_tagged(data: &[u8]) -> DecodeResult<Self> {
        let mut d = Decoder::with_flexible(data, true);
        let leader = LeaderIdAndEpoch {
            leader_id: d.i32()?,
            leader_epoch: d.i32()?,
        };
        d.tagged_fields()?;
        d.finish()?;
        Ok(leader)
    }
}

/// A broker's address, sent with `current_leader` so the client can reach a
/// new leader without a metadata refresh.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeEndpoint {
    /// Broker id.
    pub node_id: i32,
    /// Host name.
    pub host: String,
    /// Port.
    pub port: i32,
    /// Rack, if the broker has one.
    pub rack: Option<String>,
}

impl NodeEndpoint {
    /// Decodes the `node_endpoints` tagged field's data (a compact array).
    pub(crate) fn decode_tagged_array(data: &[u8]) -> DecodeResult<Vec<Self>> {
        let mut d = Decoder::with_flexible(data, true);
        let endpoints = d.array_of(11, |d| {
            let endpoint = NodeEndpoint {
                node_id: d.i32()?,
                host: d.string()?,
                port: d.i32()?,
                rack: d.nullable_string()?,
            };
            d.tagged_fields()?;
            Ok(endpoint)
        })?;
        d.finish()?;
        Ok(endpoints)
    }
}

impl Request for ProduceRequest {
    const API_KEY: i16 = api_key::PRODUCE;
    const MIN_VERSION: i16 = 3;
    const MAX_VERSION: i16 = 11;
    const FIRST_FLEXIBLE: i16 = 9;
    type Response = ProduceResponse;

    fn encode(&self, _version: i16, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        e.nullable_string(self.transactional_id.as_deref())?;
        e.i16(self.acks);
        e.i32(self.timeout_ms);
        e.array_of(&self.topic_data, |e, topic| {
            e.string(&topic.name)?;
            e.array_of(&topic.partition_data, |e, partition| {
                e.i32(partition.index);
                e.bytes(&partition.records)?;
                e.tagged_fields();
                Ok(())
            })?;
            e.tagged_fields();
            Ok(())
        })?;
        e.tagged_fields();
        Ok(())
    }

    fn expects_response(&self) -> bool {
        self.acks != 0
    }
}

impl Response for ProduceResponse {
    fn decode(version: i16, d: &mut Decoder<'_>) -> DecodeResult<Self> {
        // Smallest encodings: a topic is a compact name and array (2 bytes), a
        // partition its four fixed fields (22 bytes).
        let responses = d.array_of(2, |d| {
            let topic = TopicProduceResponse {
                name: d.string()?,
                partition_responses: d.array_of(22, |d| decode_partition(version, d))?,
            };
            d.tagged_fields()?;
            Ok(topic)
        })?;
        let throttle_time_ms = d.i32()?;
        let mut node_endpoints = Vec::new();
        d.tagged_fields_with(|tag, data, _| match tag {
            0 if version >= 10 => {
                node_endpoints = NodeEndpoint::decode_tagged_array(data)?;
                Ok(true)
            }
            _ => Ok(false),
        })?;
        Ok(ProduceResponse {
            responses,
            throttle_time_ms,
            node_endpoints,
        })
    }
}

fn decode_partition(version: i16, d: &mut Decoder<'_>) -> DecodeResult<PartitionProduceResponse> {
    let mut partition = PartitionProduceResponse {
        index: d.i32()?,
        error_code: ErrorCode::from_code(d.i16()?),
        base_offset: d.i64()?,
        log_append_time_ms: d.i64()?,
        ..Default::default()
    };
    if version >= 5 {
        partition.log_start_offset = d.i64()?;
    }
    if version >= 8 {
        partition.record_errors = d.array_of(5, |d| {
            let error = BatchIndexAndErrorMessage {
                batch_index: d.i32()?,
                batch_index_error_message: d.nullable_string()?,
            };
            d.tagged_fields()?;
            Ok(error)
        })?;
        partition.error_message = d.nullable_string()?;
    }
    d.tagged_fields_with(|tag, data, _| match tag {
        0 if version >= 10 => {
            partition.current_leader = Some(LeaderIdAndEpoch::decode_tagged(data)?);
            Ok(true)
        }
        _ => Ok(false),
    })?;
    Ok(partition)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{decode_response, encode_request};
    use kafka_protocol::messages::produce_request as oracle_req;
    use kafka_protocol::messages::produce_response as oracle_resp;
    use kafka_protocol::messages::{TopicName, TransactionalId};
    use kafka_protocol::protocol::{Encodable, StrBytes};
    use proptest::prelude::*;

    const VERSIONS: std::ops::RangeInclusive<i16> =
        ProduceRequest::MIN_VERSION..=ProduceRequest::MAX_VERSION;

    fn flexible(version: i16) -> bool {
        ProduceRequest::is_flexible(version)
    }

    fn str_bytes(s: &str) -> StrBytes {
        StrBytes::from_string(s.to_owned())
    }

    /// Our request body: the frame minus the size, the request header (null
    /// client id) and, when flexible, the header's tagged fields.
    fn our_body(request: &ProduceRequest, version: i16) -> Vec<u8> {
        let frame = encode_request(request, version, 1, None).unwrap();
        frame[14 + usize::from(flexible(version))..].to_vec()
    }

    fn oracle_body(message: &impl Encodable, version: i16) -> Vec<u8> {
        let mut body = bytes::BytesMut::new();
        message.encode(&mut body, version).unwrap();
        body.to_vec()
    }

    /// A response frame: correlation id 7, header tagged fields when flexible, body.
    fn response_frame(version: i16, body: &[u8]) -> Vec<u8> {
        let mut frame = 7i32.to_be_bytes().to_vec();
        if flexible(version) {
            frame.push(0);
        }
        frame.extend_from_slice(body);
        frame
    }

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

    /// Our own test encoder for responses, written from the schema.
    fn encode_response(version: i16, r: &ProduceResponse) -> Vec<u8> {
        fn leader_data(leader: &LeaderIdAndEpoch) -> Vec<u8> {
            let mut data = Vec::new();
            let mut e = Encoder::with_flexible(&mut data, true);
            e.i32(leader.leader_id);
            e.i32(leader.leader_epoch);
            e.tagged_fields();
            data
        }
        let mut body = Vec::new();
        let mut e = Encoder::with_flexible(&mut body, flexible(version));
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
        if r.node_endpoints.is_empty() {
            e.tagged_fields();
        } else {
            let mut data = Vec::new();
            let mut te = Encoder::with_flexible(&mut data, true);
            te.array_of(&r.node_endpoints, |e, n| {
                e.i32(n.node_id);
                e.string(&n.host)?;
                e.i32(n.port);
                e.nullable_string(n.rack.as_deref())?;
                e.tagged_fields();
                Ok(())
            })
            .unwrap();
            // An unknown tag after the known one is skipped by the decoder.
            e.tagged_fields_with(&[(0, &data), (5, b"future")]).unwrap();
        }
        response_frame(version, &body)
    }

    /// Our own test decoder for requests, written from the schema.
    fn decode_request(version: i16, body: &[u8]) -> DecodeResult<ProduceRequest> {
        let mut d = Decoder::with_flexible(body, flexible(version));
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
                    .map(|id| TransactionalId(str_bytes(id))),
            )
            .with_acks(r.acks)
            .with_timeout_ms(r.timeout_ms)
            .with_topic_data(
                r.topic_data
                    .iter()
                    .map(|t| {
                        oracle_req::TopicProduceData::default()
                            .with_name(TopicName(str_bytes(&t.name)))
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
                                    err.batch_index_error_message.as_deref().map(str_bytes),
                                )
                        })
                        .collect(),
                )
                .with_error_message(p.error_message.as_deref().map(str_bytes))
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
                            .with_name(TopicName(str_bytes(&t.name)))
                            .with_partition_responses(
                                t.partition_responses.iter().map(partition).collect(),
                            )
                    })
                    .collect(),
            )
            .with_throttle_time_ms(r.throttle_time_ms)
            .with_node_endpoints(
                r.node_endpoints
                    .iter()
                    .map(|n| {
                        oracle_resp::NodeEndpoint::default()
                            .with_node_id(n.node_id.into())
                            .with_host(str_bytes(&n.host))
                            .with_port(n.port)
                            .with_rack(n.rack.as_deref().map(str_bytes))
                    })
                    .collect(),
            )
    }

    #[test]
    fn every_version_request_round_trips() {
        for version in VERSIONS {
            for request in [sample_request(false), sample_request(true)] {
                let body = our_body(&request, version);
                assert_eq!(
                    decode_request(version, &body).unwrap(),
                    request,
                    "v{version}"
                );
            }
        }
    }

    #[test]
    fn every_version_response_round_trips() {
        for version in VERSIONS {
            let want = sample_response(version);
            let frame = encode_response(version, &want);
            let got = decode_response::<ProduceRequest>(&frame, version, 7).unwrap();
            assert_eq!(got, want, "v{version}");
        }
    }

    #[test]
    fn every_version_request_matches_kafka_protocol_crate() {
        for version in VERSIONS {
            for request in [sample_request(false), sample_request(true)] {
                assert_eq!(
                    our_body(&request, version),
                    oracle_body(&to_oracle_request(&request), version),
                    "v{version}"
                );
            }
        }
    }

    #[test]
    fn every_version_response_from_kafka_protocol_crate_decodes() {
        for version in VERSIONS {
            let want = sample_response(version);
            let body = oracle_body(&to_oracle_response(&want), version);
            let frame = response_frame(version, &body);
            let got = decode_response::<ProduceRequest>(&frame, version, 7).unwrap();
            assert_eq!(got, want, "v{version}");
        }
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
        let frame = encode_response(9, &with_leader);
        let got = decode_response::<ProduceRequest>(&frame, 9, 7).unwrap();
        assert_eq!(got.responses[1].partition_responses[0].current_leader, None);
    }

    #[test]
    fn every_truncation_of_a_response_is_an_error() {
        for version in VERSIONS {
            let frame = encode_response(version, &sample_response(version));
            for cut in 0..frame.len() {
                assert!(
                    decode_response::<ProduceRequest>(&frame[..cut], version, 7).is_err(),
                    "v{version} cut at {cut}"
                );
            }
        }
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(
            body in proptest::collection::vec(any::<u8>(), 0..256),
            version in VERSIONS,
        ) {
            let mut d = Decoder::with_flexible(&body, flexible(version));
            let _ = ProduceResponse::decode(version, &mut d);
        }

        #[test]
        fn corrupted_responses_never_panic(
            version in VERSIONS,
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        ) {
            let mut frame = encode_response(version, &sample_response(version));
            for (at, byte) in edits {
                let at = at.index(frame.len());
                frame[at] = byte;
            }
            let _ = decode_response::<ProduceRequest>(&frame, version, 7);
        }
    }
}
