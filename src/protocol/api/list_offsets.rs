//! ListOffsets (key 2): the offset of a partition at a point in time: the
//! earliest offset still kept, the latest (the high watermark, or the last
//! stable offset under `READ_COMMITTED`), or the first offset whose timestamp
//! is at or after a given time.
//!
//! The client sends it to a partition's leader to resolve
//! `earliest_available_offsets`, `latest_available_offsets` and
//! `offsets_for_time`.
//!
//! Versions 1 to 9: v2 adds the isolation level, v4 leader epochs for fencing,
//! v6 is the first flexible version, and v7 to v9 add special timestamps
//! (`MAX_TIMESTAMP`, `EARLIEST_LOCAL_TIMESTAMP`, `LATEST_TIERED_TIMESTAMP`).
//!
//! # References
//! Kafka protocol guide, "ListOffsets API"; KIP-79 (offsets by timestamp),
//! KIP-98 (isolation level), KIP-320 (leader epoch), KIP-734, KIP-405, KIP-1005.

use crate::protocol::{
    api_key, DecodeResult, Decoder, EncodeError, Encoder, ErrorCode, Request, Response,
};

/// The timestamp that asks for the earliest offset still kept.
pub const EARLIEST_TIMESTAMP: i64 = -2;
/// The timestamp that asks for the latest offset (the high watermark, or the
/// last stable offset under `READ_COMMITTED`).
pub const LATEST_TIMESTAMP: i64 = -1;
/// The timestamp that asks for the offset of the record with the highest
/// timestamp (v7+, KIP-734).
pub const MAX_TIMESTAMP: i64 = -3;
/// The timestamp that asks for the earliest offset in the broker's local log,
/// as opposed to tiered storage (v8+, KIP-405).
pub const EARLIEST_LOCAL_TIMESTAMP: i64 = -4;
/// The timestamp that asks for the highest offset copied to tiered storage
/// (v9+, KIP-1005).
pub const LATEST_TIERED_TIMESTAMP: i64 = -5;

/// Isolation level `READ_UNCOMMITTED`: every record is visible.
pub const READ_UNCOMMITTED: i8 = 0;
/// Isolation level `READ_COMMITTED`: only records below the last stable
/// offset are visible.
pub const READ_COMMITTED: i8 = 1;

/// ListOffsets request.
///
/// `Default` is a consumer's request (`replica_id` -1, `READ_UNCOMMITTED`)
/// with no topics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListOffsetsRequest {
    /// The requesting broker's id, or -1 for a client. Defaults to -1.
    pub replica_id: i32,
    /// [`READ_UNCOMMITTED`] or [`READ_COMMITTED`] (v2+; v1 can only send
    /// `READ_UNCOMMITTED`). Defaults to `READ_UNCOMMITTED`.
    pub isolation_level: i8,
    /// The partitions to look up, by topic.
    pub topics: Vec<ListOffsetsTopic>,
}

impl Default for ListOffsetsRequest {
    fn default() -> Self {
        ListOffsetsRequest {
            replica_id: -1,
            isolation_level: READ_UNCOMMITTED,
            topics: Vec::new(),
        }
    }
}

impl ListOffsetsRequest {
    /// A consumer's request for `timestamp` in each of `partitions` of
    /// `topic`, with no leader epoch.
    pub fn for_partitions(topic: impl Into<String>, partitions: &[i32], timestamp: i64) -> Self {
        ListOffsetsRequest {
            topics: vec![ListOffsetsTopic {
                name: topic.into(),
                partitions: partitions
                    .iter()
                    .map(|&partition_index| ListOffsetsPartition::new(partition_index, timestamp))
                    .collect(),
            }],
            ..ListOffsetsRequest::default()
        }
    }
}

/// One topic in a [`ListOffsetsRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListOffsetsTopic {
    /// The topic name.
    pub name: String,
    /// The partitions to look up.
    pub partitions: Vec<ListOffsetsPartition>,
}

/// One partition in a [`ListOffsetsTopic`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListOffsetsPartition {
    /// The partition index.
    pub partition_index: i32,
    /// The leader epoch the client knows, so a stale leader is fenced (v4+,
    /// dropped before); -1 for none. Defaults to -1.
    pub current_leader_epoch: i32,
    /// [`EARLIEST_TIMESTAMP`], [`LATEST_TIMESTAMP`], another special value, or
    /// a time in ms since the Unix epoch.
    pub timestamp: i64,
}

impl ListOffsetsPartition {
    /// A lookup of `timestamp` in `partition_index`, with no leader epoch.
    pub fn new(partition_index: i32, timestamp: i64) -> Self {
        ListOffsetsPartition {
            partition_index,
            current_leader_epoch: -1,
            timestamp,
        }
    }
}

/// ListOffsets response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListOffsetsResponse {
    /// How long the broker throttled the request, in ms (v2+, else 0).
    pub throttle_time_ms: i32,
    /// The results, by topic.
    pub topics: Vec<ListOffsetsTopicResponse>,
}

/// One topic in a [`ListOffsetsResponse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListOffsetsTopicResponse {
    /// The topic name.
    pub name: String,
    /// The result for each partition.
    pub partitions: Vec<ListOffsetsPartitionResponse>,
}

/// One partition in a [`ListOffsetsTopicResponse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListOffsetsPartitionResponse {
    /// The partition index.
    pub partition_index: i32,
    /// The partition's error, e.g. `NOT_LEADER_OR_FOLLOWER`.
    pub error_code: ErrorCode,
    /// The timestamp of the returned offset's record, -1 for the special
    /// timestamps or when none.
    pub timestamp: i64,
    /// The offset found, -1 when there is none (e.g. no record at or after the
    /// requested time).
    pub offset: i64,
    /// The leader epoch of the returned offset (v4+, else -1).
    pub leader_epoch: i32,
}

impl Request for ListOffsetsRequest {
    const API_KEY: i16 = api_key::LIST_OFFSETS;
    const MIN_VERSION: i16 = 1;
    const MAX_VERSION: i16 = 9;
    const FIRST_FLEXIBLE: i16 = 6;
    type Response = ListOffsetsResponse;

    fn encode(&self, version: i16, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        e.i32(self.replica_id);
        if version >= 2 {
            e.i8(self.isolation_level);
        } else if self.isolation_level != READ_UNCOMMITTED {
            return Err(EncodeError::Unsupported(
                "ListOffsets v1 cannot ask for READ_COMMITTED",
            ));
        }
        e.array_of(&self.topics, |e, topic| {
            e.string(&topic.name)?;
            e.array_of(&topic.partitions, |e, partition| {
                e.i32(partition.partition_index);
                // The schema marks the epoch ignorable: older versions drop it.
                if version >= 4 {
                    e.i32(partition.current_leader_epoch);
                }
                e.i64(partition.timestamp);
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

// Smallest encodings, to bound array counts before allocating: a topic is an
// empty name and an empty partition array; a partition result is index, error,
// timestamp and offset.
const MIN_TOPIC_SIZE: usize = 1 + 1;
const MIN_PARTITION_SIZE: usize = 4 + 2 + 8 + 8;

impl Response for ListOffsetsResponse {
    fn decode(version: i16, d: &mut Decoder<'_>) -> DecodeResult<Self> {
        let throttle_time_ms = if version >= 2 { d.i32()? } else { 0 };
        let topics = d.array_of(MIN_TOPIC_SIZE, |d| {
            let name = d.string()?;
            let partitions = d.array_of(MIN_PARTITION_SIZE, |d| {
                let partition = ListOffsetsPartitionResponse {
                    partition_index: d.i32()?,
                    error_code: ErrorCode::from_code(d.i16()?),
                    timestamp: d.i64()?,
                    offset: d.i64()?,
                    leader_epoch: if version >= 4 { d.i32()? } else { -1 },
                };
                d.tagged_fields()?;
                Ok(partition)
            })?;
            d.tagged_fields()?;
            Ok(ListOffsetsTopicResponse { name, partitions })
        })?;
        d.tagged_fields()?;
        Ok(ListOffsetsResponse {
            throttle_time_ms,
            topics,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::api::codec_checks::*;
    use kafka_protocol::messages::{self as oracle, list_offsets_request, list_offsets_response};

    type Req = ListOffsetsRequest;

    /// The test's own response encoder, adding an unknown tagged field to
    /// every flexible struct.
    fn response_body(r: &ListOffsetsResponse, version: i16) -> Vec<u8> {
        let mut body = Vec::new();
        let e = &mut Encoder::with_flexible(&mut body, Req::is_flexible(version));
        let unknown_tag = |e: &mut Encoder<'_>| e.tagged_fields_with(&[(4, b"tag")]).unwrap();
        if version >= 2 {
            e.i32(r.throttle_time_ms);
        }
        e.array_of(&r.topics, |e, t| {
            e.string(&t.name)?;
            e.array_of(&t.partitions, |e, p| {
                e.i32(p.partition_index);
                e.i16(p.error_code.code());
                e.i64(p.timestamp);
                e.i64(p.offset);
                if version >= 4 {
                    e.i32(p.leader_epoch);
                }
                unknown_tag(e);
                Ok(())
            })?;
            unknown_tag(e);
            Ok(())
        })
        .unwrap();
        unknown_tag(e);
        body
    }

    fn sample_response(version: i16) -> ListOffsetsResponse {
        let epoch = |e: i32| if version >= 4 { e } else { -1 };
        ListOffsetsResponse {
            throttle_time_ms: if version >= 2 { 40 } else { 0 },
            topics: vec![
                ListOffsetsTopicResponse {
                    name: "events".into(),
                    partitions: vec![
                        ListOffsetsPartitionResponse {
                            partition_index: 0,
                            error_code: ErrorCode::None,
                            timestamp: 1_700_000_000_123,
                            offset: 4_294_967_296,
                            leader_epoch: epoch(3),
                        },
                        ListOffsetsPartitionResponse {
                            partition_index: 5,
                            error_code: ErrorCode::NotLeaderOrFollower,
                            timestamp: -1,
                            offset: -1,
                            leader_epoch: -1,
                        },
                    ],
                },
                ListOffsetsTopicResponse {
                    name: "empty".into(),
                    partitions: vec![],
                },
            ],
        }
    }

    fn sample_request(version: i16) -> ListOffsetsRequest {
        ListOffsetsRequest {
            replica_id: -1,
            isolation_level: if version >= 2 { READ_COMMITTED } else { 0 },
            topics: vec![
                ListOffsetsTopic {
                    name: "events".into(),
                    partitions: vec![
                        ListOffsetsPartition {
                            partition_index: 0,
                            current_leader_epoch: if version >= 4 { 7 } else { -1 },
                            timestamp: EARLIEST_TIMESTAMP,
                        },
                        ListOffsetsPartition::new(1, LATEST_TIMESTAMP),
                        ListOffsetsPartition::new(2, 1_700_000_000_000),
                    ],
                },
                ListOffsetsTopic {
                    name: "topic-événement".into(),
                    partitions: vec![],
                },
            ],
        }
    }

    fn oracle_request(r: &ListOffsetsRequest) -> oracle::ListOffsetsRequest {
        oracle::ListOffsetsRequest::default()
            .with_replica_id(oracle::BrokerId(r.replica_id))
            .with_isolation_level(r.isolation_level)
            .with_topics(
                r.topics
                    .iter()
                    .map(|t| {
                        list_offsets_request::ListOffsetsTopic::default()
                            .with_name(oracle_str(&t.name).into())
                            .with_partitions(
                                t.partitions
                                    .iter()
                                    .map(|p| {
                                        list_offsets_request::ListOffsetsPartition::default()
                                            .with_partition_index(p.partition_index)
                                            .with_current_leader_epoch(p.current_leader_epoch)
                                            .with_timestamp(p.timestamp)
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            )
    }

    fn oracle_response(r: &ListOffsetsResponse) -> oracle::ListOffsetsResponse {
        oracle::ListOffsetsResponse::default()
            .with_throttle_time_ms(r.throttle_time_ms)
            .with_unknown_tagged_field(2, b"top".as_ref().into())
            .with_topics(
                r.topics
                    .iter()
                    .map(|t| {
                        list_offsets_response::ListOffsetsTopicResponse::default()
                            .with_name(oracle_str(&t.name).into())
                            .with_partitions(
                                t.partitions
                                    .iter()
                                    .map(|p| {
                                        list_offsets_response::ListOffsetsPartitionResponse::default()
                                            .with_partition_index(p.partition_index)
                                            .with_error_code(p.error_code.code())
                                            .with_timestamp(p.timestamp)
                                            .with_offset(p.offset)
                                            .with_leader_epoch(p.leader_epoch)
                                            .with_unknown_tagged_field(0, b"p".as_ref().into())
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            )
    }

    #[test]
    fn the_special_timestamps_have_kafkas_values() {
        assert_eq!(EARLIEST_TIMESTAMP, -2);
        assert_eq!(LATEST_TIMESTAMP, -1);
        assert_eq!(MAX_TIMESTAMP, -3);
    }

    #[test]
    fn for_partitions_builds_a_consumer_request() {
        let request = ListOffsetsRequest::for_partitions("t", &[0, 3], LATEST_TIMESTAMP);
        assert_eq!(request.replica_id, -1);
        assert_eq!(request.isolation_level, READ_UNCOMMITTED);
        assert_eq!(
            request.topics[0].partitions,
            [
                ListOffsetsPartition::new(0, LATEST_TIMESTAMP),
                ListOffsetsPartition::new(3, LATEST_TIMESTAMP)
            ]
        );
        assert_eq!(request.topics[0].partitions[1].current_leader_epoch, -1);
    }

    #[test]
    fn read_committed_is_refused_by_v1() {
        let request = ListOffsetsRequest {
            isolation_level: READ_COMMITTED,
            ..ListOffsetsRequest::for_partitions("t", &[0], LATEST_TIMESTAMP)
        };
        assert!(try_request_body(&request, 1).is_err());
        assert!(try_request_body(&request, 2).is_ok());
    }

    #[test]
    fn the_leader_epoch_is_dropped_below_v4() {
        let mut request = ListOffsetsRequest::for_partitions("t", &[0], LATEST_TIMESTAMP);
        let without = request_body(&request, 3);
        request.topics[0].partitions[0].current_leader_epoch = 9;
        assert_eq!(request_body(&request, 3), without);
        assert_eq!(request_body(&request, 4).len(), without.len() + 4);
    }

    oracle_codec_tests! {
        request: Req,
        requests encodes_like_oracle: |v| [sample_request(v)] => |r, _| oracle_request(r),
        responses: sample_response => |r, _| oracle_response(r),
        round_trip_bodies: response_body,
    }
}
