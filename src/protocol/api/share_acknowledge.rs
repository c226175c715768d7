//! ShareAcknowledge (key 79): acknowledges delivered share-group records
//! without fetching more (KIP-932) — what a share consumer's `commit_sync`
//! and `close` send.
//!
//! It uses the ShareFetch session of the same (member, broker): its epoch
//! must be the session's next one (never 0: only ShareFetch opens a session),
//! and -1 closes the session after applying the acknowledgements. Only v1
//! exists (flexible).
//!
//! # References
//! Kafka protocol guide, "ShareAcknowledge API"; KIP-932 (queues for Kafka).

use crate::protocol::api::share_fetch::{
    decode_leader, decode_node_endpoints, encode_acknowledgement_batches, AcknowledgementBatch,
};
use crate::protocol::api::{LeaderIdAndEpoch, NodeEndpoint};
use crate::protocol::{
    api_key, DecodeResult, Decoder, EncodeError, Encoder, ErrorCode, Request, Response,
};

/// One partition's acknowledgements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareAcknowledgePartition {
    /// Partition index.
    pub partition_index: i32,
    /// Ascending, non-overlapping acknowledgement batches.
    pub acknowledgement_batches: Vec<AcknowledgementBatch>,
}

/// One topic's acknowledgements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareAcknowledgeTopic {
    /// Topic id (KIP-516).
    pub topic_id: [u8; 16],
    /// Partitions.
    pub partitions: Vec<ShareAcknowledgePartition>,
}

/// ShareAcknowledge request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareAcknowledgeRequest {
    /// Group id.
    pub group_id: String,
    /// The member id.
    pub member_id: String,
    /// The session's next epoch, or -1 to close it.
    pub share_session_epoch: i32,
    /// Acknowledgements.
    pub topics: Vec<ShareAcknowledgeTopic>,
}

/// One partition's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareAcknowledgePartitionResponse {
    /// Partition index.
    pub partition_index: i32,
    /// E.g. `INVALID_RECORD_STATE` (the records were not acquired by this
    /// member any more), `NOT_LEADER_OR_FOLLOWER`.
    pub error_code: ErrorCode,
    /// Its message, if any.
    pub error_message: Option<String>,
    /// The current leader, when `error_code` says it moved.
    pub current_leader: LeaderIdAndEpoch,
}

/// One topic's results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareAcknowledgeTopicResponse {
    /// Topic id.
    pub topic_id: [u8; 16],
    /// Partitions.
    pub partitions: Vec<ShareAcknowledgePartitionResponse>,
}

/// ShareAcknowledge response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareAcknowledgeResponse {
    /// Throttle time.
    pub throttle_time_ms: i32,
    /// Top-level error, e.g. `SHARE_SESSION_NOT_FOUND`,
    /// `INVALID_SHARE_SESSION_EPOCH`.
    pub error_code: ErrorCode,
    /// Its message, if any.
    pub error_message: Option<String>,
    /// Topics.
    pub responses: Vec<ShareAcknowledgeTopicResponse>,
    /// Endpoints of the leaders named in `NOT_LEADER_OR_FOLLOWER` answers.
    pub node_endpoints: Vec<NodeEndpoint>,
}

impl Request for ShareAcknowledgeRequest {
    const API_KEY: i16 = api_key::SHARE_ACKNOWLEDGE;
    const MIN_VERSION: i16 = 1;
    const MAX_VERSION: i16 = 1;
    const FIRST_FLEXIBLE: i16 = 0;
    type Response = ShareAcknowledgeResponse;

    fn encode(&self, _version: i16, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        e.string(&self.group_id)?;
        e.string(&self.member_id)?;
        e.i32(self.share_session_epoch);
        e.array_of(&self.topics, |e, t| {
            e.uuid(&t.topic_id);
            e.array_of(&t.partitions, |e, p| {
                e.i32(p.partition_index);
                encode_acknowledgement_batches(e, &p.acknowledgement_batches)?;
                e.tagged_fields();
                Ok(())
            })?;
            e.tagged_fields();
            Ok(())
        })?;
        e.tagged_fields();
        Ok(())
    }
}

impl Response for ShareAcknowledgeResponse {
    fn decode(_version: i16, d: &mut Decoder<'_>) -> DecodeResult<Self> {
        let throttle_time_ms = d.i32()?;
        let error_code = ErrorCode::from_code(d.i16()?);
        let error_message = d.nullable_string()?;
        let responses = d.array_of(18, |d| {
            let topic_id = d.uuid()?;
            let partitions = d.array_of(16, |d| {
                let partition_index = d.i32()?;
                let error_code = ErrorCode::from_code(d.i16()?);
                let error_message = d.nullable_string()?;
                let current_leader = decode_leader(d)?;
                d.tagged_fields()?;
                Ok(ShareAcknowledgePartitionResponse {
                    partition_index,
                    error_code,
                    error_message,
                    current_leader,
                })
            })?;
            d.tagged_fields()?;
            Ok(ShareAcknowledgeTopicResponse {
                topic_id,
                partitions,
            })
        })?;
        let node_endpoints = decode_node_endpoints(d)?;
        d.tagged_fields()?;
        Ok(ShareAcknowledgeResponse {
            throttle_time_ms,
            error_code,
            error_message,
            responses,
            node_endpoints,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::api::codec_checks::*;
    use crate::protocol::api::share_fetch::acknowledge_type;
    use kafka_protocol::messages::share_acknowledge_request as oreq;
    use kafka_protocol::messages::share_acknowledge_response as oresp;
    use kafka_protocol::messages::{
        GroupId, ShareAcknowledgeRequest as OracleRequest,
        ShareAcknowledgeResponse as OracleResponse,
    };

    type Req = ShareAcknowledgeRequest;

    fn sample_requests(_version: i16) -> Vec<Req> {
        let commit = Req {
            group_id: "workers".into(),
            member_id: "3f1c9a2e-7d4b-4e0a-9c1f-5b2d8e6a4c10".into(),
            share_session_epoch: 4,
            topics: vec![ShareAcknowledgeTopic {
                topic_id: [5; 16],
                partitions: vec![ShareAcknowledgePartition {
                    partition_index: 1,
                    acknowledgement_batches: vec![
                        AcknowledgementBatch {
                            first_offset: 0,
                            last_offset: 9,
                            acknowledge_types: vec![acknowledge_type::ACCEPT],
                        },
                        AcknowledgementBatch {
                            first_offset: 11,
                            last_offset: 12,
                            acknowledge_types: vec![
                                acknowledge_type::RELEASE,
                                acknowledge_type::REJECT,
                            ],
                        },
                    ],
                }],
            }],
        };
        let close = Req {
            share_session_epoch: -1,
            topics: vec![],
            ..commit.clone()
        };
        vec![commit, close]
    }

    fn oracle_request(r: &Req) -> OracleRequest {
        let mut o = OracleRequest::default();
        o.group_id = Some(GroupId(oracle_str(&r.group_id)));
        o.member_id = Some(oracle_str(&r.member_id));
        o.share_session_epoch = r.share_session_epoch;
        o.topics = oracle_acknowledgement_topics!(
            r.topics,
            oreq::AcknowledgeTopic,
            oreq::AcknowledgePartition,
            oreq::AcknowledgementBatch,
        );
        o
    }

    fn sample_response(_version: i16) -> ShareAcknowledgeResponse {
        ShareAcknowledgeResponse {
            throttle_time_ms: 0,
            error_code: ErrorCode::None,
            error_message: None,
            responses: vec![ShareAcknowledgeTopicResponse {
                topic_id: [5; 16],
                partitions: vec![
                    ShareAcknowledgePartitionResponse {
                        partition_index: 0,
                        error_code: ErrorCode::InvalidRecordState,
                        error_message: Some("not acquired".into()),
                        current_leader: LeaderIdAndEpoch::default(),
                    },
                    ShareAcknowledgePartitionResponse {
                        partition_index: 1,
                        error_code: ErrorCode::NotLeaderOrFollower,
                        error_message: None,
                        current_leader: LeaderIdAndEpoch {
                            leader_id: 3,
                            leader_epoch: 2,
                        },
                    },
                ],
            }],
            node_endpoints: vec![NodeEndpoint {
                node_id: 3,
                host: "localhost".into(),
                port: 9092,
                rack: Some("r1".into()),
            }],
        }
    }

    fn oracle_response(r: &ShareAcknowledgeResponse) -> OracleResponse {
        let mut o = OracleResponse::default();
        o.throttle_time_ms = r.throttle_time_ms;
        o.error_code = r.error_code.code();
        o.error_message = r.error_message.as_deref().map(oracle_str);
        o.responses = r
            .responses
            .iter()
            .map(|t| {
                oresp::ShareAcknowledgeTopicResponse::default()
                    .with_topic_id(oracle_uuid(&t.topic_id))
                    .with_partitions(
                        t.partitions
                            .iter()
                            .map(|p| {
                                oresp::PartitionData::default()
                                    .with_partition_index(p.partition_index)
                                    .with_error_code(p.error_code.code())
                                    .with_error_message(p.error_message.as_deref().map(oracle_str))
                                    .with_current_leader(
                                        oresp::LeaderIdAndEpoch::default()
                                            .with_leader_id(p.current_leader.leader_id)
                                            .with_leader_epoch(p.current_leader.leader_epoch),
                                    )
                            })
                            .collect(),
                    )
            })
            .collect();
        o.node_endpoints = oracle_node_endpoints!(oresp::NodeEndpoint, r.node_endpoints);
        o
    }

    oracle_codec_tests! {
        request: Req,
        bare_bodies_up_to: 64,
        request_test request_matches_kafka_protocol_at_every_version:
            sample_requests => |r, _| oracle_request(r),
        responses: sample_response => |r, _| oracle_response(r),
        corrupted_responses_never_panic,
    }
}
