//! CreatePartitions (key 37): raise a topic's partition count, optionally
//! placing the new partitions' replicas by hand.
//!
//! The client sends it to the controller (any broker forwards it in KRaft
//! clusters). Each topic gets its own result: a count at or below the current
//! one answers `INVALID_PARTITIONS`, an unknown topic
//! `UNKNOWN_TOPIC_OR_PARTITION`.
//!
//! Versions 0 to 3: v1 is v0 (Kafka bumped it for quota throttling), v2 is
//! the first flexible version, v3 may answer `THROTTLING_QUOTA_EXCEEDED`
//! (KIP-599).
//!
//! # References
//! Kafka protocol guide, "CreatePartitions API"; KIP-195, KIP-599.

use crate::protocol::{
    api_key, DecodeResult, Decoder, EncodeError, Encoder, ErrorCode, Request, Response,
};

/// CreatePartitions request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatePartitionsRequest {
    /// The topics to grow.
    pub topics: Vec<CreatePartitionsTopic>,
    /// How long the broker waits for the partitions to be created, in ms.
    pub timeout_ms: i32,
    /// Check that the partitions could be created, without creating them.
    pub validate_only: bool,
}

/// One topic in a [`CreatePartitionsRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatePartitionsTopic {
    /// The topic name.
    pub name: String,
    /// The new total partition count.
    pub count: i32,
    /// The replicas of each new partition (preferred leader first), or `None`
    /// to let the broker place them.
    pub assignments: Option<Vec<Vec<i32>>>,
}

/// CreatePartitions response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatePartitionsResponse {
    /// How long the broker throttled the request, in ms.
    pub throttle_time_ms: i32,
    /// The result for each topic.
    pub results: Vec<CreatePartitionsTopicResult>,
}

/// The result for one topic in a [`CreatePartitionsResponse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatePartitionsTopicResult {
    /// The topic name.
    pub name: String,
    /// The topic's error, e.g. `INVALID_PARTITIONS`.
    pub error_code: ErrorCode,
    /// The broker's explanation of the error, if any.
    pub error_message: Option<String>,
}

impl Request for CreatePartitionsRequest {
    const API_KEY: i16 = api_key::CREATE_PARTITIONS;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 3;
    const FIRST_FLEXIBLE: i16 = 2;
    type Response = CreatePartitionsResponse;

    fn encode(&self, _version: i16, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        e.array_of(&self.topics, |e, topic| {
            e.string(&topic.name)?;
            e.i32(topic.count);
            match &topic.assignments {
                None => e.nullable_array_len(None)?,
                Some(assignments) => e.array_of(assignments, |e, broker_ids| {
                    e.array_of(broker_ids, |e, id| {
                        e.i32(*id);
                        Ok(())
                    })?;
                    e.tagged_fields();
                    Ok(())
                })?,
            }
            e.tagged_fields();
            Ok(())
        })?;
        e.i32(self.timeout_ms);
        e.bool(self.validate_only);
        e.tagged_fields();
        Ok(())
    }
}

/// Smallest topic result, to bound the count before allocating: an empty
/// name, an error code and a null message.
const MIN_RESULT_SIZE: usize = 1 + 2 + 1;

impl Response for CreatePartitionsResponse {
    fn decode(_version: i16, d: &mut Decoder<'_>) -> DecodeResult<Self> {
        let throttle_time_ms = d.i32()?;
        let results = d.array_of(MIN_RESULT_SIZE, |d| {
            let result = CreatePartitionsTopicResult {
                name: d.string()?,
                error_code: ErrorCode::from_code(d.i16()?),
                error_message: d.nullable_string()?,
            };
            d.tagged_fields()?;
            Ok(result)
        })?;
        d.tagged_fields()?;
        Ok(CreatePartitionsResponse {
            throttle_time_ms,
            results,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::api::codec_checks::*;
    use kafka_protocol::messages::{
        self as oracle, create_partitions_request, create_partitions_response,
    };

    type Req = CreatePartitionsRequest;

    fn sample_request(_version: i16) -> [CreatePartitionsRequest; 2] {
        [
            CreatePartitionsRequest {
                topics: vec![
                    CreatePartitionsTopic {
                        name: "events".into(),
                        count: 6,
                        assignments: None,
                    },
                    CreatePartitionsTopic {
                        name: "placed-é".into(),
                        count: 4,
                        assignments: Some(vec![vec![1, 2], vec![2, 3]]),
                    },
                ],
                timeout_ms: 30_000,
                validate_only: false,
            },
            CreatePartitionsRequest {
                topics: vec![],
                timeout_ms: 0,
                validate_only: true,
            },
        ]
    }

    fn oracle_request(r: &CreatePartitionsRequest, _: i16) -> oracle::CreatePartitionsRequest {
        oracle::CreatePartitionsRequest::default()
            .with_timeout_ms(r.timeout_ms)
            .with_validate_only(r.validate_only)
            .with_topics(
                r.topics
                    .iter()
                    .map(|t| {
                        create_partitions_request::CreatePartitionsTopic::default()
                            .with_name(oracle_str(&t.name).into())
                            .with_count(t.count)
                            .with_assignments(t.assignments.as_ref().map(|a| {
                                a.iter()
                                    .map(|ids| {
                                        create_partitions_request::CreatePartitionsAssignment::default()
                                            .with_broker_ids(
                                                ids.iter().map(|&id| oracle::BrokerId(id)).collect(),
                                            )
                                    })
                                    .collect()
                            }))
                    })
                    .collect(),
            )
    }

    fn sample_response(_version: i16) -> CreatePartitionsResponse {
        CreatePartitionsResponse {
            throttle_time_ms: 7,
            results: vec![
                CreatePartitionsTopicResult {
                    name: "events".into(),
                    error_code: ErrorCode::None,
                    error_message: None,
                },
                CreatePartitionsTopicResult {
                    name: "shrinking".into(),
                    error_code: ErrorCode::InvalidPartitions,
                    error_message: Some("Topic currently has 6 partitions".into()),
                },
            ],
        }
    }

    fn oracle_response(r: &CreatePartitionsResponse, _: i16) -> oracle::CreatePartitionsResponse {
        oracle::CreatePartitionsResponse::default()
            .with_throttle_time_ms(r.throttle_time_ms)
            .with_unknown_tagged_field(5, b"top".as_ref().into())
            .with_results(
                r.results
                    .iter()
                    .map(|t| {
                        create_partitions_response::CreatePartitionsTopicResult::default()
                            .with_name(oracle_str(&t.name).into())
                            .with_error_code(t.error_code.code())
                            .with_error_message(t.error_message.as_deref().map(oracle_str))
                            .with_unknown_tagged_field(2, b"t".as_ref().into())
                    })
                    .collect(),
            )
    }

    oracle_codec_tests! {
        request: Req,
        requests matches_oracle: sample_request => oracle_request,
        responses: sample_response => oracle_response,
    }
}
