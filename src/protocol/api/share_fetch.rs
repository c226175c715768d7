//! ShareFetch (key 78): acquires records of share-group partitions from
//! their leader, and acknowledges earlier deliveries in the same request
//! (KIP-932).
//!
//! A share session per (member, broker) keeps the partition set: epoch 0
//! opens it with the full set (and must carry no acknowledgements), each
//! later request sends the next epoch with only the partitions to add
//! (`topics`) or remove (`forgotten_topics_data`), and epoch -1 closes it
//! after applying its acknowledgements (nothing is acquired then). The
//! answer's `records` are whole stored batches; only the offsets in
//! `acquired_records` belong to this member, each range with its delivery
//! count. Only v1 exists (flexible).
//!
//! # References
//! Kafka protocol guide, "ShareFetch API"; KIP-932 (queues for Kafka).

use crate::protocol::api::{LeaderIdAndEpoch, NodeEndpoint};
use crate::protocol::{
    api_key, DecodeResult, Decoder, EncodeError, Encoder, ErrorCode, Request, Response,
};

/// The share-session epoch that opens a session.
pub const OPEN_SESSION_EPOCH: i32 = 0;
/// The share-session epoch that closes a session.
pub const CLOSE_SESSION_EPOCH: i32 = -1;

/// How a delivered record is acknowledged, as on the wire.
pub mod acknowledge_type {
    /// An offset with no record (a gap in a compacted or transactional log).
    pub const GAP: i8 = 0;
    /// Processed: never delivered again.
    pub const ACCEPT: i8 = 1;
    /// Not processed: deliver it again (to any member).
    pub const RELEASE: i8 = 2;
    /// Unprocessable: never delivered again.
    pub const REJECT: i8 = 3;
}

/// Acknowledgements of a contiguous offset range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcknowledgementBatch {
    /// First offset acknowledged.
    pub first_offset: i64,
    /// Last offset acknowledged (inclusive).
    pub last_offset: i64,
    /// One type for the whole range, or one per offset (see
    /// [`acknowledge_type`]).
    pub acknowledge_types: Vec<i8>,
}

/// One partition of a ShareFetch request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareFetchPartition {
    /// Partition index.
    pub partition_index: i32,
    /// Acknowledgements piggybacked on the fetch, ascending and
    /// non-overlapping.
    pub acknowledgement_batches: Vec<AcknowledgementBatch>,
}

/// One topic of a ShareFetch request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareFetchTopic {
    /// Topic id (KIP-516).
    pub topic_id: [u8; 16],
    /// Partitions to add to the session, or to acknowledge.
    pub partitions: Vec<ShareFetchPartition>,
}

/// Partitions to remove from the share session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareForgottenTopic {
    /// Topic id.
    pub topic_id: [u8; 16],
    /// Partition indexes.
    pub partitions: Vec<i32>,
}

/// ShareFetch request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareFetchRequest {
    /// Group id.
    pub group_id: String,
    /// The member id (as in ShareGroupHeartbeat).
    pub member_id: String,
    /// 0 opens the session, -1 closes it, else the next epoch.
    pub share_session_epoch: i32,
    /// Longest time the broker may wait for `min_bytes`.
    pub max_wait_ms: i32,
    /// Bytes to wait for.
    pub min_bytes: i32,
    /// Most bytes to return.
    pub max_bytes: i32,
    /// Most records to acquire.
    pub max_records: i32,
    /// Preferred number of records per acquired batch.
    pub batch_size: i32,
    /// Partitions to fetch (epoch 0: all) or acknowledge.
    pub topics: Vec<ShareFetchTopic>,
    /// Partitions to remove from the session.
    pub forgotten_topics_data: Vec<ShareForgottenTopic>,
}

/// A range of offsets acquired by this member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcquiredRecords {
    /// First acquired offset.
    pub first_offset: i64,
    /// Last acquired offset (inclusive).
    pub last_offset: i64,
    /// How many times these records have been delivered, this time included.
    pub delivery_count: i16,
}

/// One partition of a ShareFetch response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareFetchPartitionResponse {
    /// Partition index.
    pub partition_index: i32,
    /// The fetch's error, e.g. `NOT_LEADER_OR_FOLLOWER`.
    pub error_code: ErrorCode,
    /// Its message, if any.
    pub error_message: Option<String>,
    /// The piggybacked acknowledgements' error, e.g. `INVALID_RECORD_STATE`.
    pub acknowledge_error_code: ErrorCode,
    /// Its message, if any.
    pub acknowledge_error_message: Option<String>,
    /// The current leader, when `error_code` says it moved.
    pub current_leader: LeaderIdAndEpoch,
    /// Whole record batches holding the acquired records (`None` when null).
    pub records: Option<Vec<u8>>,
    /// The acquired offsets and their delivery counts.
    pub acquired_records: Vec<AcquiredRecords>,
}

/// One topic of a ShareFetch response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareFetchTopicResponse {
    /// Topic id.
    pub topic_id: [u8; 16],
    /// Partitions.
    pub partitions: Vec<ShareFetchPartitionResponse>,
}

/// ShareFetch response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareFetchResponse {
    /// Throttle time.
    pub throttle_time_ms: i32,
    /// Top-level error, e.g. `SHARE_SESSION_NOT_FOUND`,
    /// `INVALID_SHARE_SESSION_EPOCH`, `SHARE_SESSION_LIMIT_REACHED`.
    pub error_code: ErrorCode,
    /// Its message, if any.
    pub error_message: Option<String>,
    /// How long acquired records stay locked to this member.
    pub acquisition_lock_timeout_ms: i32,
    /// Topics.
    pub responses: Vec<ShareFetchTopicResponse>,
    /// Endpoints of the leaders named in `NOT_LEADER_OR_FOLLOWER` answers.
    pub node_endpoints: Vec<NodeEndpoint>,
}

/// Writes acknowledgement batches (shared with ShareAcknowledge).
pub(crate) fn encode_acknowledgement_batches(
    e: &mut Encoder<'_>,
    batches: &[AcknowledgementBatch],
) -> Result<(), EncodeError> {
    e.array_of(batches, |e, b| {
        e.i64(b.first_offset);
        e.i64(b.last_offset);
        e.array_of(&b.acknowledge_types, |e, t| {
            e.i8(*t);
            Ok(())
        })?;
        e.tagged_fields();
        Ok(())
    })
}

/// Reads a current-leader struct (a regular field in the share APIs).
pub(crate) fn decode_leader(d: &mut Decoder<'_>) -> DecodeResult<LeaderIdAndEpoch> {
    let leader = LeaderIdAndEpoch {
        leader_id: d.i32()?,
        leader_epoch: d.i32()?,
    };
    d.tagged_fields()?;
    Ok(leader)
}

/// Reads a node-endpoint array (a regular field in the share APIs).
pub(crate) fn decode_node_endpoints(d: &mut Decoder<'_>) -> DecodeResult<Vec<NodeEndpoint>> {
    d.array_of(11, |d| {
        let endpoint = NodeEndpoint {
            node_id: d.i32()?,
            host: d.string()?,
            port: d.i32()?,
            rack: d.nullable_string()?,
        };
        d.tagged_fields()?;
        Ok(endpoint)
    })
}

impl Request for ShareFetchRequest {
    const API_KEY: i16 = api_key::SHARE_FETCH;
    const MIN_VERSION: i16 = 1;
    const MAX_VERSION: i16 = 1;
    const FIRST_FLEXIBLE: i16 = 0;
    type Response = ShareFetchResponse;

    fn encode(&self, _version: i16, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        e.string(&self.group_id)?;
        e.string(&self.member_id)?;
        e.i32(self.share_session_epoch);
        e.i32(self.max_wait_ms);
        e.i32(self.min_bytes);
        e.i32(self.max_bytes);
        e.i32(self.max_records);
        e.i32(self.batch_size);
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
        e.array_of(&self.forgotten_topics_data, |e, t| {
            e.uuid(&t.topic_id);
            e.array_of(&t.partitions, |e, p| {
                e.i32(*p);
                Ok(())
            })?;
            e.tagged_fields();
            Ok(())
        })?;
        e.tagged_fields();
        Ok(())
    }
}

fn decode_partition(d: &mut Decoder<'_>) -> DecodeResult<ShareFetchPartitionResponse> {
    let partition_index = d.i32()?;
    let error_code = ErrorCode::from_code(d.i16()?);
    let error_message = d.nullable_string()?;
    let acknowledge_error_code = ErrorCode::from_code(d.i16()?);
    let acknowledge_error_message = d.nullable_string()?;
    let current_leader = decode_leader(d)?;
    let records = d.nullable_bytes()?.map(<[u8]>::to_vec);
    let acquired_records = d.array_of(19, |d| {
        let acquired = AcquiredRecords {
            first_offset: d.i64()?,
            last_offset: d.i64()?,
            delivery_count: d.i16()?,
        };
        d.tagged_fields()?;
        Ok(acquired)
    })?;
    d.tagged_fields()?;
    Ok(ShareFetchPartitionResponse {
        partition_index,
        error_code,
        error_message,
        acknowledge_error_code,
        acknowledge_error_message,
        current_leader,
        records,
        acquired_records,
    })
}

impl Response for ShareFetchResponse {
    fn decode(_version: i16, d: &mut Decoder<'_>) -> DecodeResult<Self> {
        let throttle_time_ms = d.i32()?;
        let error_code = ErrorCode::from_code(d.i16()?);
        let error_message = d.nullable_string()?;
        let acquisition_lock_timeout_ms = d.i32()?;
        let responses = d.array_of(18, |d| {
            let topic_id = d.uuid()?;
            let partitions = d.array_of(25, decode_partition)?;
            d.tagged_fields()?;
            Ok(ShareFetchTopicResponse {
                topic_id,
                partitions,
            })
        })?;
        let node_endpoints = decode_node_endpoints(d)?;
        d.tagged_fields()?;
        Ok(ShareFetchResponse {
            throttle_time_ms,
            error_code,
            error_message,
            acquisition_lock_timeout_ms,
            responses,
            node_endpoints,
        })
    }
}

#[cfg(test)]
mod tests;
