//! DeleteRecords (key 21): move partitions' log start offsets forward,
//! deleting every record before the given offsets.
//!
//! Each partition must be sent to its leader (the client groups partitions
//! by leader). Each partition gets its own result with its new low
//! watermark: an offset past the high watermark answers
//! `OFFSET_OUT_OF_RANGE`, a broker that does not lead the partition
//! `NOT_LEADER_OR_FOLLOWER`. Offset -1 means "up to the high watermark".
//!
//! Versions 0 to 2: v1 is v0, v2 is the first flexible version.
//!
//! # References
//! Kafka protocol guide, "DeleteRecords API"; KIP-107.

use crate::protocol::{
    api_key, DecodeResult, Decoder, EncodeError, Encoder, ErrorCode, Request, Response,
};

/// DeleteRecords request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeleteRecordsRequest {
    /// The topics whose partitions to truncate.
    pub topics: Vec<DeleteRecordsTopic>,
    /// How long the broker waits for the deletion to reach the replicas, in ms.
    pub timeout_ms: i32,
}

/// One topic in a [`DeleteRecordsRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeleteRecordsTopic {
    /// The topic name.
    pub name: String,
    /// Each partition and the offset to delete records before.
    pub partitions: Vec<DeleteRecordsPartition>,
}

/// One partition in a [`DeleteRecordsTopic`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeleteRecordsPartition {
    /// The partition index.
    pub partition_index: i32,
    /// Records before this offset are deleted; -1 for the high watermark.
    pub offset: i64,
}

/// DeleteRecords response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteRecordsResponse {
    /// How long the broker throttled the request, in ms.
    pub throttle_time_ms: i32,
    /// The result for each topic.
    pub topics: Vec<DeleteRecordsTopicResult>,
}

/// One topic in a [`DeleteRecordsResponse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteRecordsTopicResult {
    /// The topic name.
    pub name: String,
    /// The result for each partition.
    pub partitions: Vec<DeleteRecordsPartitionResult>,
}

/// One partition in a [`DeleteRecordsTopicResult`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeleteRecordsPartitionResult {
    /// The partition index.
    pub partition_index: i32,
    /// The partition's low watermark (log start offset) after the deletion.
    pub low_watermark: i64,
    /// The partition's error, e.g. `OFFSET_OUT_OF_RANGE`.
    pub error_code: ErrorCode,
}

impl Request for DeleteRecordsRequest {
    const API_KEY: i16 = api_key::DELETE_RECORDS;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 2;
    const FIRST_FLEXIBLE: i16 = 2;
    type Response = DeleteRecordsResponse;

    fn encode(&self, _version: i16, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        e.array_of(&self.topics, |e, t| {
            e.string(&t.name)?;
            e.array_of(&t.partitions, |e, p| {
                e.i32(p.partition_index);
                e.i64(p.offset);
                e.tagged_fields();
                Ok(())
            })?;
            e.tagged_fields();
            Ok(())
        })?;
        e.i32(self.timeout_ms);
        e.tagged_fields();
        Ok(())
    }
}

// Smallest encodings, to bound array counts before allocating.
const MIN_TOPIC_SIZE: usize = 1 + 1;
const MIN_PARTITION_SIZE: usize = 4 + 8 + 2;

impl Response for DeleteRecordsResponse {
    fn decode(_version: i16, d: &mut Decoder<'_>) -> DecodeResult<Self> {
        let throttle_time_ms = d.i32()?;
        let topics = d.array_of(MIN_TOPIC_SIZE, |d| {
            let name = d.string()?;
            let partitions = d.array_of(MIN_PARTITION_SIZE, |d| {
                let p = DeleteRecordsPartitionResult {
                    partition_index: d.i32()?,
                    low_watermark: d.i64()?,
                    error_code: ErrorCode::from_code(d.i16()?),
                };
                d.tagged_fields()?;
                Ok(p)
            })?;
            d.tagged_fields()?;
            Ok(DeleteRecordsTopicResult { name, partitions })
        })?;
        d.tagged_fields()?;
        Ok(DeleteRecordsResponse {
            throttle_time_ms,
            topics,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::api::codec_checks::*;
    use kafka_protocol::messages::{self as oracle, delete_records_request, delete_records_response};

    type Req = DeleteRecordsRequest;

    fn sample_request(_: i16) -> [DeleteRecordsRequest; 2] {
        let p = |partition_index, offset| DeleteRecordsPartition {
            partition_index,
            offset,
        };
        [
            DeleteRecordsRequest {
                topics: vec![
                    DeleteRecordsTopic {
                        name: "events".into(),
                        partitions: vec![p(0, 10), p(2, -1)],
                    },
                    DeleteRecordsTopic {
                        name: "é".into(),
                        partitions: vec![p(1, i64::MAX)],
                    },
                ],
                timeout_ms: 30_000,
            },
            DeleteRecordsRequest::default(),
        ]
    }

    fn oracle_request(r: &DeleteRecordsRequest, _: i16) -> oracle::DeleteRecordsRequest {
        oracle::DeleteRecordsRequest::default()
            .with_timeout_ms(r.timeout_ms)
            .with_topics(
                r.topics
                    .iter()
                    .map(|t| {
                        delete_records_request::DeleteRecordsTopic::default()
                            .with_name(oracle_str(&t.name).into())
                            .with_partitions(
                                t.partitions
                                    .iter()
                                    .map(|p| {
                                        delete_records_request::DeleteRecordsPartition::default()
                                            .with_partition_index(p.partition_index)
                                            .with_offset(p.offset)
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            )
    }

    fn sample_response(_: i16) -> DeleteRecordsResponse {
        DeleteRecordsResponse {
            throttle_time_ms: 2,
            topics: vec![DeleteRecordsTopicResult {
                name: "events".into(),
                partitions: vec![
                    DeleteRecordsPartitionResult {
                        partition_index: 0,
                        low_watermark: 10,
                        error_code: ErrorCode::None,
                    },
                    DeleteRecordsPartitionResult {
                        partition_index: 2,
                        low_watermark: -1,
                        error_code: ErrorCode::OffsetOutOfRange,
                    },
                ],
            }],
        }
    }

    fn oracle_response(r: &DeleteRecordsResponse, _: i16) -> oracle::DeleteRecordsResponse {
        oracle::DeleteRecordsResponse::default()
            .with_throttle_time_ms(r.throttle_time_ms)
            .with_unknown_tagged_field(4, b"top".as_ref().into())
            .with_topics(
                r.topics
                    .iter()
                    .map(|t| {
                        delete_records_response::DeleteRecordsTopicResult::default()
                            .with_name(oracle_str(&t.name).into())
                            .with_partitions(
                                t.partitions
                                    .iter()
                                    .map(|p| {
                                        delete_records_response::DeleteRecordsPartitionResult::default()
                                            .with_partition_index(p.partition_index)
                                            .with_low_watermark(p.low_watermark)
                                            .with_error_code(p.error_code.code())
                                            .with_unknown_tagged_field(1, b"p".as_ref().into())
                                    })
                                    .collect(),
                            )
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
