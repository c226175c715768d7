//! OffsetDelete (key 47): deletes a group's committed offsets of some
//! partitions, sent to the group's coordinator. Kafka refuses it for
//! partitions the group's members are subscribed to
//! (GROUP_SUBSCRIBED_TO_TOPIC).
//!
//! Only v0 exists; it is not flexible.
//!
//! # References
//! Kafka protocol guide, "OffsetDelete API"; KIP-496.

use crate::protocol::{
    api_key, DecodeResult, Decoder, EncodeError, Encoder, ErrorCode, Request, Response,
};

/// OffsetDelete request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OffsetDeleteRequest {
    /// Group id.
    pub group_id: String,
    /// The partitions whose offsets to delete, by topic.
    pub topics: Vec<OffsetDeleteRequestTopic>,
}

/// One topic in an [`OffsetDeleteRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetDeleteRequestTopic {
    /// Topic name.
    pub name: String,
    /// Partition indexes.
    pub partitions: Vec<i32>,
}

/// OffsetDelete response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetDeleteResponse {
    /// A group-level error, e.g. `GROUP_ID_NOT_FOUND`, `NOT_COORDINATOR`.
    pub error_code: ErrorCode,
    /// Throttle time.
    pub throttle_time_ms: i32,
    /// Per-partition outcomes, by topic.
    pub topics: Vec<OffsetDeleteResponseTopic>,
}

/// One topic in an [`OffsetDeleteResponse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetDeleteResponseTopic {
    /// Topic name.
    pub name: String,
    /// `(partition, error code)` pairs.
    pub partitions: Vec<(i32, ErrorCode)>,
}

impl Request for OffsetDeleteRequest {
    const API_KEY: i16 = api_key::OFFSET_DELETE;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 0;
    const FIRST_FLEXIBLE: i16 = i16::MAX;
    type Response = OffsetDeleteResponse;

    fn encode(&self, _version: i16, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        e.string(&self.group_id)?;
        e.array_of(&self.topics, |e, t| {
            e.string(&t.name)?;
            e.array_of(&t.partitions, |e, &p| {
                e.i32(p);
                Ok(())
            })
        })
    }
}

impl Response for OffsetDeleteResponse {
    fn decode(_version: i16, d: &mut Decoder<'_>) -> DecodeResult<Self> {
        let error_code = ErrorCode::from_code(d.i16()?);
        let throttle_time_ms = d.i32()?;
        let topics = d.array_of(6, |d| {
            Ok(OffsetDeleteResponseTopic {
                name: d.string()?,
                partitions: d.array_of(6, |d| Ok((d.i32()?, ErrorCode::from_code(d.i16()?))))?,
            })
        })?;
        Ok(OffsetDeleteResponse {
            error_code,
            throttle_time_ms,
            topics,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::api::codec_checks::*;
    use kafka_protocol::messages::offset_delete_request::{
        OffsetDeleteRequestPartition as OraclePartition, OffsetDeleteRequestTopic as OracleTopic,
    };
    use kafka_protocol::messages::offset_delete_response::{
        OffsetDeleteResponsePartition as OracleResponsePartition,
        OffsetDeleteResponseTopic as OracleResponseTopic,
    };
    use kafka_protocol::messages::{
        GroupId, OffsetDeleteRequest as OracleRequest, OffsetDeleteResponse as OracleResponse,
        TopicName,
    };

    type Req = OffsetDeleteRequest;

    fn sample_request() -> Req {
        Req {
            group_id: "billing".into(),
            topics: vec![
                OffsetDeleteRequestTopic {
                    name: "events".into(),
                    partitions: vec![0, 2],
                },
                OffsetDeleteRequestTopic {
                    name: "audit".into(),
                    partitions: vec![1],
                },
            ],
        }
    }

    fn oracle_request(r: &Req) -> OracleRequest {
        let mut o = OracleRequest::default();
        o.group_id = GroupId(oracle_str(&r.group_id));
        o.topics = r
            .topics
            .iter()
            .map(|t| {
                let mut ot = OracleTopic::default();
                ot.name = TopicName(oracle_str(&t.name));
                ot.partitions = t
                    .partitions
                    .iter()
                    .map(|&p| {
                        let mut op = OraclePartition::default();
                        op.partition_index = p;
                        op
                    })
                    .collect();
                ot
            })
            .collect();
        o
    }

    fn sample_response(_version: i16) -> OffsetDeleteResponse {
        OffsetDeleteResponse {
            error_code: ErrorCode::None,
            throttle_time_ms: 1,
            topics: vec![OffsetDeleteResponseTopic {
                name: "events".into(),
                partitions: vec![(0, ErrorCode::None), (2, ErrorCode::from_code(86))],
            }],
        }
    }

    fn oracle_response(r: &OffsetDeleteResponse) -> OracleResponse {
        let mut o = OracleResponse::default();
        o.error_code = r.error_code.code();
        o.throttle_time_ms = r.throttle_time_ms;
        o.topics = r
            .topics
            .iter()
            .map(|t| {
                let mut ot = OracleResponseTopic::default();
                ot.name = TopicName(oracle_str(&t.name));
                ot.partitions = t
                    .partitions
                    .iter()
                    .map(|&(p, code)| {
                        let mut op = OracleResponsePartition::default();
                        op.partition_index = p;
                        op.error_code = code.code();
                        op
                    })
                    .collect();
                ot
            })
            .collect();
        o
    }

    oracle_codec_tests! {
        request: Req,
        bare_bodies_up_to: 128,
        request_test request_matches_kafka_protocol:
            |_| [sample_request()] => |r, _| oracle_request(r),
        responses: sample_response => |r, _| oracle_response(r),
        corrupted_responses_never_panic,
    }
}
