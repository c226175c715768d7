//! OffsetCommit (key 8): stores a consumer group's positions with its
//! coordinator.
//!
//! v2 is the oldest version Kafka 4.0 still accepts (KIP-896); v2-v4 carry a
//! retention time, v6 adds the leader epoch, v7 the static member's
//! `group_instance_id`, v8 is flexible and v9 accepts a KIP-848 member epoch
//! in `generation_id_or_member_epoch`. A simple (group-less) consumer commits
//! with generation -1 and an empty member id.
//!
//! # References
//! Kafka protocol guide, "OffsetCommit API"; KIP-320 (leader epoch), KIP-345
//! (static membership), KIP-848, KIP-896.

use crate::protocol::{
    api_key, DecodeResult, Decoder, EncodeError, Encoder, ErrorCode, Request, Response,
};

/// OffsetCommit request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetCommitRequest {
    /// The group whose offsets are committed.
    pub group_id: String,
    /// The group generation (classic protocol) or member epoch (KIP-848);
    /// -1 (the default) for a consumer outside any group.
    pub generation_id_or_member_epoch: i32,
    /// The member id the coordinator assigned; empty outside any group.
    pub member_id: String,
    /// The static member's instance id (v7+; encoding fails below v7 when set).
    pub group_instance_id: Option<String>,
    /// How long the broker keeps the offsets (v2-v4; dropped later). Defaults
    /// to -1, the broker's `offsets.retention.minutes`.
    pub retention_time_ms: i64,
    /// The offsets, per topic.
    pub topics: Vec<OffsetCommitRequestTopic>,
}

impl OffsetCommitRequest {
    /// A commit for `group_id` with no generation and no member: what a
    /// consumer outside the group's membership sends.
    pub fn new(group_id: impl Into<String>) -> Self {
        OffsetCommitRequest {
            group_id: group_id.into(),
            generation_id_or_member_epoch: -1,
            member_id: String::new(),
            group_instance_id: None,
            retention_time_ms: -1,
            topics: Vec::new(),
        }
    }
}

/// The offsets of one topic in an [`OffsetCommitRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetCommitRequestTopic {
    /// Topic name.
    pub name: String,
    /// The offsets, per partition.
    pub partitions: Vec<OffsetCommitRequestPartition>,
}

/// The offset of one partition in an [`OffsetCommitRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetCommitRequestPartition {
    /// Partition index.
    pub partition_index: i32,
    /// The next offset to consume (the last processed one plus one).
    pub committed_offset: i64,
    /// Leader epoch of the last consumed record (v6+; dropped earlier), -1
    /// when unknown.
    pub committed_leader_epoch: i32,
    /// Free-form metadata stored with the offset.
    pub committed_metadata: Option<String>,
}

impl OffsetCommitRequestPartition {
    /// `committed_offset` for `partition_index`, with no leader epoch and no
    /// metadata.
    pub fn new(partition_index: i32, committed_offset: i64) -> Self {
        OffsetCommitRequestPartition {
            partition_index,
            committed_offset,
            committed_leader_epoch: -1,
            committed_metadata: None,
        }
    }
}

/// OffsetCommit response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetCommitResponse {
    /// Throttle time (v3+).
    pub throttle_time_ms: i32,
    /// Results, per topic.
    pub topics: Vec<OffsetCommitResponseTopic>,
}

impl OffsetCommitResponse {
    /// Every partition's result as (topic, partition index, error code).
    pub fn partitions(&self) -> impl Iterator<Item = (&str, i32, ErrorCode)> + '_ {
        self.topics.iter().flat_map(|t| {
            t.partitions
                .iter()
                .map(move |p| (t.name.as_str(), p.partition_index, p.error_code))
        })
    }
}

/// The results for one topic in an [`OffsetCommitResponse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetCommitResponseTopic {
    /// Topic name.
    pub name: String,
    /// Results, per partition.
    pub partitions: Vec<OffsetCommitResponsePartition>,
}

/// The result for one partition in an [`OffsetCommitResponse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetCommitResponsePartition {
    /// Partition index.
    pub partition_index: i32,
    /// E.g. `ILLEGAL_GENERATION` or `REBALANCE_IN_PROGRESS` when the group
    /// moved on, `NOT_COORDINATOR` when the coordinator moved.
    pub error_code: ErrorCode,
}

impl Request for OffsetCommitRequest {
    const API_KEY: i16 = api_key::OFFSET_COMMIT;
    const MIN_VERSION: i16 = 2;
    const MAX_VERSION: i16 = 9;
    const FIRST_FLEXIBLE: i16 = 8;
    type Response = OffsetCommitResponse;

    fn encode(&self, version: i16, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        e.string(&self.group_id)?;
        e.i32(self.generation_id_or_member_epoch);
        e.string(&self.member_id)?;
        if version >= 7 {
            e.nullable_string(self.group_instance_id.as_deref())?;
        } else if self.group_instance_id.is_some() {
            return Err(EncodeError::Unsupported(
                "OffsetCommit carries group_instance_id from v7",
            ));
        }
        if version <= 4 {
            e.i64(self.retention_time_ms);
        }
        e.array_of(&self.topics, |e, topic| {
            e.string(&topic.name)?;
            e.array_of(&topic.partitions, |e, p| {
                e.i32(p.partition_index);
                e.i64(p.committed_offset);
                if version >= 6 {
                    e.i32(p.committed_leader_epoch);
                }
                e.nullable_string(p.committed_metadata.as_deref())?;
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

impl Response for OffsetCommitResponse {
    fn decode(version: i16, d: &mut Decoder<'_>) -> DecodeResult<Self> {
        let throttle_time_ms = if version >= 3 { d.i32()? } else { 0 };
        // name, partition count, tagged fields.
        let topics = d.array_of(3, |d| {
            let name = d.string()?;
            // index, error code, tagged fields.
            let partitions = d.array_of(6, |d| {
                let partition = OffsetCommitResponsePartition {
                    partition_index: d.i32()?,
                    error_code: ErrorCode::from_code(d.i16()?),
                };
                d.tagged_fields()?;
                Ok(partition)
            })?;
            d.tagged_fields()?;
            Ok(OffsetCommitResponseTopic { name, partitions })
        })?;
        d.tagged_fields()?;
        Ok(OffsetCommitResponse {
            throttle_time_ms,
            topics,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::api::codec_checks::*;
    use kafka_protocol::messages::offset_commit_request::{
        OffsetCommitRequestPartition as OraclePartition, OffsetCommitRequestTopic as OracleTopic,
    };
    use kafka_protocol::messages::offset_commit_response::{
        OffsetCommitResponsePartition as OracleResultPartition,
        OffsetCommitResponseTopic as OracleResultTopic,
    };
    use kafka_protocol::messages::{
        GroupId, OffsetCommitRequest as OracleRequest, OffsetCommitResponse as OracleResponse,
        TopicName,
    };

    type Req = OffsetCommitRequest;

    fn sample_request(version: i16) -> Req {
        Req {
            group_id: "billing".into(),
            generation_id_or_member_epoch: 17,
            member_id: "kafka-sync-3f1c9a2e".into(),
            group_instance_id: (version >= 7).then(|| "billing-host-1".into()),
            retention_time_ms: 86_400_000,
            topics: vec![
                OffsetCommitRequestTopic {
                    name: "invoices".into(),
                    partitions: vec![
                        OffsetCommitRequestPartition {
                            partition_index: 0,
                            committed_offset: 1_234_567,
                            committed_leader_epoch: 5,
                            committed_metadata: Some("host-1@2024-06-01".into()),
                        },
                        OffsetCommitRequestPartition::new(3, 42),
                    ],
                },
                OffsetCommitRequestTopic {
                    name: "refunds".into(),
                    partitions: vec![OffsetCommitRequestPartition {
                        committed_metadata: Some(String::new()),
                        ..OffsetCommitRequestPartition::new(1, 0)
                    }],
                },
            ],
        }
    }

    fn oracle_request(r: &Req, version: i16) -> OracleRequest {
        let mut o = OracleRequest::default();
        o.group_id = GroupId(oracle_str(&r.group_id));
        o.generation_id_or_member_epoch = r.generation_id_or_member_epoch;
        o.member_id = oracle_str(&r.member_id);
        o.group_instance_id = r.group_instance_id.as_deref().map(oracle_str);
        o.retention_time_ms = if version <= 4 {
            r.retention_time_ms
        } else {
            -1
        };
        o.topics = r
            .topics
            .iter()
            .map(|t| {
                let mut ot = OracleTopic::default();
                ot.name = TopicName(oracle_str(&t.name));
                ot.partitions = t
                    .partitions
                    .iter()
                    .map(|p| {
                        let mut op = OraclePartition::default();
                        op.partition_index = p.partition_index;
                        op.committed_offset = p.committed_offset;
                        op.committed_leader_epoch = if version >= 6 {
                            p.committed_leader_epoch
                        } else {
                            -1
                        };
                        op.committed_metadata = p.committed_metadata.as_deref().map(oracle_str);
                        op
                    })
                    .collect();
                ot
            })
            .collect();
        o
    }

    fn sample_response(version: i16) -> OffsetCommitResponse {
        let partition = |partition_index, code| OffsetCommitResponsePartition {
            partition_index,
            error_code: ErrorCode::from_code(code),
        };
        OffsetCommitResponse {
            throttle_time_ms: if version >= 3 { 250 } else { 0 },
            topics: vec![
                OffsetCommitResponseTopic {
                    name: "invoices".into(),
                    partitions: vec![partition(0, 0), partition(3, 22)],
                },
                OffsetCommitResponseTopic {
                    name: "refunds".into(),
                    partitions: vec![partition(1, 27)],
                },
            ],
        }
    }

    fn oracle_response(r: &OffsetCommitResponse) -> OracleResponse {
        let mut o = OracleResponse::default();
        o.throttle_time_ms = r.throttle_time_ms;
        o.topics = oracle_partition_codes!(
            r.topics,
            OracleResultTopic { partitions: partitions },
            OracleResultPartition { error_code: error_code },
        );
        o
    }

    #[test]
    fn commit_outside_a_group_matches_kafka_protocol_at_every_version() {
        let mut r = Req::new("reporting");
        r.topics.push(OffsetCommitRequestTopic {
            name: "events".into(),
            partitions: vec![OffsetCommitRequestPartition::new(7, 99)],
        });
        assert_every_request_version_matches_oracle(|_| [r.clone()], oracle_request);
    }

    #[test]
    fn group_instance_id_before_v7_is_an_encode_error() {
        let mut r = sample_request(7);
        r.group_instance_id = Some("static".into());
        assert_encode_fails_before(&r, 7);
    }

    #[test]
    fn partitions_lists_every_result() {
        let response = sample_response(9);
        let got: Vec<_> = response.partitions().collect();
        assert_eq!(
            got,
            vec![
                ("invoices", 0, ErrorCode::None),
                ("invoices", 3, ErrorCode::from_code(22)),
                ("refunds", 1, ErrorCode::from_code(27)),
            ]
        );
    }

    oracle_codec_tests! {
        request: Req,
        bare_bodies_up_to: 128,
        request_test request_matches_kafka_protocol_at_every_version:
            |v| [sample_request(v)] => oracle_request,
        responses: sample_response => |r, _| oracle_response(r),
        corrupted_responses_never_panic,
    }
}
