//! TxnOffsetCommit (key 28): commits a consumer group's offsets as part of a
//! producer's transaction.
//!
//! Sent to the *group* coordinator after AddOffsetsToTxn; the offsets become
//! visible only when the transaction commits. From v3 on (KIP-447) it carries
//! the consumer's generation, member id and instance id so that the group
//! coordinator fences a zombie that lost its partitions. v2 adds the leader
//! epoch, v3 is the first flexible version, v5 (KIP-890) may answer
//! TRANSACTION_ABORTABLE.
//!
//! # References
//! Kafka protocol guide, "TxnOffsetCommit API"; KIP-98, KIP-447, KIP-890.

use crate::protocol::{
    api_key, DecodeResult, Decoder, EncodeError, Encoder, ErrorCode, Request, Response,
};

/// The newest TxnOffsetCommit version a producer of transactions v1 may
/// send: from v5 (transactions v2, KIP-890) the group coordinator adds the
/// offsets to the transaction itself, without AddOffsetsToTxn.
pub const TXN_OFFSET_COMMIT_BEFORE_TRANSACTIONS_V2: i16 = 4;

/// One partition's offset to commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnOffsetCommitRequestPartition {
    /// The partition.
    pub partition_index: i32,
    /// The next offset to read.
    pub committed_offset: i64,
    /// The leader epoch of the last record read (v2+), or -1.
    pub committed_leader_epoch: i32,
    /// Free-form metadata, or `None`.
    pub committed_metadata: Option<String>,
}

/// One topic's offsets to commit.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TxnOffsetCommitRequestTopic {
    /// The topic.
    pub name: String,
    /// Its partitions.
    pub partitions: Vec<TxnOffsetCommitRequestPartition>,
}

/// TxnOffsetCommit request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnOffsetCommitRequest {
    /// The producer's transactional id.
    pub transactional_id: String,
    /// The consumer group.
    pub group_id: String,
    /// The producer id InitProducerId gave.
    pub producer_id: i64,
    /// The producer's current epoch.
    pub producer_epoch: i16,
    /// The consumer's group generation (v3+), or -1.
    pub generation_id: i32,
    /// The consumer's member id (v3+), or empty.
    pub member_id: String,
    /// The consumer's static instance id (v3+), or `None`.
    pub group_instance_id: Option<String>,
    /// The offsets, by topic.
    pub topics: Vec<TxnOffsetCommitRequestTopic>,
}

/// One partition's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnOffsetCommitResponsePartition {
    /// The partition.
    pub partition_index: i32,
    /// Its error, or `ErrorCode::None`.
    pub error_code: ErrorCode,
}

/// One topic's results.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TxnOffsetCommitResponseTopic {
    /// The topic.
    pub name: String,
    /// Its partitions' results.
    pub partitions: Vec<TxnOffsetCommitResponsePartition>,
}

/// TxnOffsetCommit response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TxnOffsetCommitResponse {
    /// How long the broker throttled the request, in milliseconds.
    pub throttle_time_ms: i32,
    /// The results, by topic.
    pub topics: Vec<TxnOffsetCommitResponseTopic>,
}

impl TxnOffsetCommitResponse {
    /// Every partition's result as `(topic, partition, code)`.
    pub fn results(&self) -> impl Iterator<Item = (&str, i32, ErrorCode)> {
        self.topics.iter().flat_map(|t| {
            t.partitions
                .iter()
                .map(move |p| (t.name.as_str(), p.partition_index, p.error_code))
        })
    }
}

impl Request for TxnOffsetCommitRequest {
    const API_KEY: i16 = api_key::TXN_OFFSET_COMMIT;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 5;
    const FIRST_FLEXIBLE: i16 = 3;
    type Response = TxnOffsetCommitResponse;

    /// Before v3 the consumer's generation, member id and instance id cannot
    /// be sent and are left out (the group coordinator then cannot fence a
    /// zombie consumer, as with Kafka before 2.5).
    fn encode(&self, version: i16, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        e.string(&self.transactional_id)?;
        e.string(&self.group_id)?;
        e.i64(self.producer_id);
        e.i16(self.producer_epoch);
        if version >= 3 {
            e.i32(self.generation_id);
            e.string(&self.member_id)?;
            e.nullable_string(self.group_instance_id.as_deref())?;
        }
        e.array_of(&self.topics, |e, topic| {
            e.string(&topic.name)?;
            e.array_of(&topic.partitions, |e, p| {
                e.i32(p.partition_index);
                e.i64(p.committed_offset);
                if version >= 2 {
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

impl Response for TxnOffsetCommitResponse {
    fn decode(_version: i16, d: &mut Decoder<'_>) -> DecodeResult<Self> {
        let throttle_time_ms = d.i32()?;
        // name, partition count.
        let topics = d.array_of(3, |d| {
            let name = d.string()?;
            // index, error code.
            let partitions = d.array_of(6, |d| {
                let partition = TxnOffsetCommitResponsePartition {
                    partition_index: d.i32()?,
                    error_code: ErrorCode::from_code(d.i16()?),
                };
                d.tagged_fields()?;
                Ok(partition)
            })?;
            d.tagged_fields()?;
            Ok(TxnOffsetCommitResponseTopic { name, partitions })
        })?;
        d.tagged_fields()?;
        Ok(TxnOffsetCommitResponse {
            throttle_time_ms,
            topics,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::api::codec_checks::*;
    use kafka_protocol::messages::txn_offset_commit_request::{
        TxnOffsetCommitRequestPartition as OraclePartition,
        TxnOffsetCommitRequestTopic as OracleTopic,
    };
    use kafka_protocol::messages::txn_offset_commit_response::{
        TxnOffsetCommitResponsePartition as OracleResultPartition,
        TxnOffsetCommitResponseTopic as OracleResultTopic,
    };
    use kafka_protocol::messages::{
        GroupId, TopicName, TransactionalId, TxnOffsetCommitRequest as OracleRequest,
        TxnOffsetCommitResponse as OracleResponse,
    };

    type Req = TxnOffsetCommitRequest;

    fn sample_request(version: i16) -> Req {
        let v3 = version >= 3;
        Req {
            transactional_id: "billing-1".into(),
            group_id: "billing".into(),
            producer_id: 4_000_000_123,
            producer_epoch: 17,
            generation_id: if v3 { 5 } else { -1 },
            member_id: if v3 { "kafka-sync-3f1c9a2e".into() } else { String::new() },
            group_instance_id: v3.then(|| "billing-host-1".into()),
            topics: vec![
                TxnOffsetCommitRequestTopic {
                    name: "invoices".into(),
                    partitions: vec![
                        TxnOffsetCommitRequestPartition {
                            partition_index: 0,
                            committed_offset: 1_234_567,
                            committed_leader_epoch: if version >= 2 { 4 } else { -1 },
                            committed_metadata: Some("host-1".into()),
                        },
                        TxnOffsetCommitRequestPartition {
                            partition_index: 2,
                            committed_offset: 0,
                            committed_leader_epoch: -1,
                            committed_metadata: None,
                        },
                    ],
                },
                TxnOffsetCommitRequestTopic {
                    name: "refunds".into(),
                    partitions: vec![TxnOffsetCommitRequestPartition {
                        partition_index: 1,
                        committed_offset: 42,
                        committed_leader_epoch: -1,
                        committed_metadata: Some(String::new()),
                    }],
                },
            ],
        }
    }

    fn oracle_request(r: &Req) -> OracleRequest {
        let mut o = OracleRequest::default();
        o.transactional_id = TransactionalId(oracle_str(&r.transactional_id));
        o.group_id = GroupId(oracle_str(&r.group_id));
        o.producer_id = r.producer_id.into();
        o.producer_epoch = r.producer_epoch;
        o.generation_id = r.generation_id;
        o.member_id = oracle_str(&r.member_id);
        o.group_instance_id = r.group_instance_id.as_deref().map(oracle_str);
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
                        op.committed_leader_epoch = p.committed_leader_epoch;
                        op.committed_metadata = p.committed_metadata.as_deref().map(oracle_str);
                        op
                    })
                    .collect();
                ot
            })
            .collect();
        o
    }

    fn sample_response(_version: i16) -> TxnOffsetCommitResponse {
        let partition = |partition_index, code| TxnOffsetCommitResponsePartition {
            partition_index,
            error_code: ErrorCode::from_code(code),
        };
        TxnOffsetCommitResponse {
            throttle_time_ms: 3,
            topics: vec![
                TxnOffsetCommitResponseTopic {
                    name: "invoices".into(),
                    partitions: vec![partition(0, 0), partition(2, 22)],
                },
                TxnOffsetCommitResponseTopic {
                    name: "refunds".into(),
                    partitions: vec![partition(1, 82)],
                },
            ],
        }
    }

    fn oracle_response(r: &TxnOffsetCommitResponse) -> OracleResponse {
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
    fn before_v3_the_consumer_identity_is_left_out() {
        let mut r = sample_request(3);
        let v3 = request_body(&r, 3).len();
        r.generation_id = -1;
        assert!(request_body(&r, 2).len() < v3);
    }

    oracle_codec_tests! {
        request: Req,
        bare_bodies_up_to: 64,
        request_test request_matches_kafka_protocol_at_every_version:
            |v| [sample_request(v)] => |r, _| oracle_request(r),
        responses: sample_response => |r, _| oracle_response(r),
    }
}
