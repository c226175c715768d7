//! Fetch (key 1): record batches read from partition leaders.
//!
//! Versions 4 to 17: v4 is the first with `last_stable_offset` and aborted
//! transactions (read_committed), the oldest Kafka 4 accepts; v7 adds fetch
//! sessions (this crate sends `session_epoch = -1`, "no session"); v12 is
//! flexible and adds `diverging_epoch`, `current_leader` and `snapshot_id`;
//! v13 names topics by `topic_id` instead of name; v15 moves `replica_id` into
//! the `replica_state` tagged field; v16 adds `node_endpoints`.
//!
//! # Records are ranges into the frame
//!
//! A fetch response is mostly record bytes, many megabytes of them. Decoding
//! does not copy them: [`FetchPartitionResponse::records`] is the byte range
//! of the partition's records within the buffer the [`Decoder`] reads, which
//! for [`decode_response`](crate::protocol::decode_response) is the response
//! frame as passed in (after the 4-byte size prefix). The consumer keeps the
//! frame (a `Vec<u8>`, or an `Arc<[u8]>` / `Arc<Vec<u8>>` to share it between
//! partitions and threads) and reads each partition's records with
//! [`FetchPartitionResponse::records_in`]. A null records field decodes as an
//! empty range.
//!
//! # Fields a version cannot carry
//! As in Kafka's generated code, a field that Kafka marks ignorable is dropped
//! silently at versions without it (`session_id`, `rack_id`,
//! `current_leader_epoch`, `log_start_offset`, the topic name from v13, the
//! topic id before v13); setting any other field such a version cannot carry
//! (`last_fetched_epoch` before v12, `forgotten_topics_data` before v7,
//! `replica_epoch` before v15) fails with [`EncodeError::Unsupported`]. From
//! v13 on every topic needs its `topic_id`: a nil id is an encode error, since
//! the broker would only answer `UNKNOWN_TOPIC_ID`.
//!
//! # References
//! Kafka protocol guide, "Fetch API"; KIP-98 (v4), KIP-227 (fetch sessions,
//! v7), KIP-320 (leader epochs, v9), KIP-392 (rack, v11), KIP-482 and KIP-595
//! (v12), KIP-516 (topic ids, v13), KIP-903 (replica state, v15), KIP-951
//! (leader discovery, v16).

use std::ops::Range;

use super::produce::{LeaderIdAndEpoch, NodeEndpoint};
use crate::protocol::{
    api_key, DecodeResult, Decoder, EncodeError, Encoder, ErrorCode, Request, Response,
};

/// The all-zero topic id, meaning "no id".
const NIL_TOPIC_ID: [u8; 16] = [0; 16];

/// Which records a fetch may return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum IsolationLevel {
    /// Every record, including those of open or aborted transactions (the
    /// default, as in the Java consumer).
    #[default]
    ReadUncommitted,
    /// Only records below the last stable offset; records of aborted
    /// transactions come back too and are filtered with the response's
    /// `aborted_transactions`.
    ReadCommitted,
}

impl IsolationLevel {
    /// The wire value: 0 for read_uncommitted, 1 for read_committed.
    pub fn code(self) -> i8 {
        match self {
            IsolationLevel::ReadUncommitted => 0,
            IsolationLevel::ReadCommitted => 1,
        }
    }
}

/// Fetch request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchRequest {
    /// The follower's broker id; -1 (the default) for a consumer. Sent in the
    /// body before v15 and in the `replica_state` tagged field from v15.
    pub replica_id: i32,
    /// The follower's broker epoch (v15+); -1 (the default) for a consumer.
    pub replica_epoch: i64,
    /// How long the broker may wait for `min_bytes` to accumulate, in
    /// milliseconds. Defaults to 500 ms, as in the Java consumer.
    pub max_wait_ms: i32,
    /// Bytes the broker waits for before answering. Defaults to 1.
    pub min_bytes: i32,
    /// Upper bound on the response's record bytes (the first batch is returned
    /// whole even when larger). Defaults to 50 MiB, as in the Java consumer.
    pub max_bytes: i32,
    /// Which records may be returned. Defaults to read_uncommitted.
    pub isolation_level: IsolationLevel,
    /// Fetch session id (v7+); 0 (the default) when not in a session.
    pub session_id: i32,
    /// Fetch session epoch (v7+); -1 (the default) means "no session": the
    /// broker neither creates nor uses one and answers with every partition.
    pub session_epoch: i32,
    /// The partitions to fetch, per topic.
    pub topics: Vec<FetchTopic>,
    /// Partitions to drop from the fetch session (v7+).
    pub forgotten_topics_data: Vec<ForgottenTopic>,
    /// The consumer's rack, for fetching from the closest replica (v11+).
    /// Defaults to empty.
    pub rack_id: String,
}

impl Default for FetchRequest {
    fn default() -> Self {
        FetchRequest {
            replica_id: -1,
            replica_epoch: -1,
            max_wait_ms: 500,
            min_bytes: 1,
            max_bytes: 50 * 1024 * 1024,
            isolation_level: IsolationLevel::ReadUncommitted,
            session_id: 0,
            session_epoch: -1,
            topics: Vec::new(),
            forgotten_topics_data: Vec::new(),
            rack_id: String::new(),
        }
    }
}

/// The partitions to fetch of one topic.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FetchTopic {
    /// Topic name (sent up to v12).
    pub topic: String,
    /// Topic id (sent from v13; required there).
    pub topic_id: [u8; 16],
    /// The partitions.
    pub partitions: Vec<FetchPartition>,
}

/// One partition to fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchPartition {
    /// Partition index.
    pub partition: i32,
    /// The leader epoch the consumer knows (v9+), so a stale leader or
    /// consumer is detected; -1 (the default) skips the check.
    pub current_leader_epoch: i32,
    /// The first offset to return.
    pub fetch_offset: i64,
    /// Epoch of the last fetched batch (v12+), for divergence detection; -1
    /// (the default) when unknown.
    pub last_fetched_epoch: i32,
    /// The follower's log start offset (v5+); -1 (the default) for a consumer.
    pub log_start_offset: i64,
    /// Upper bound on this partition's record bytes. Defaults to 1 MiB, as in
    /// the Java consumer.
    pub partition_max_bytes: i32,
}

impl Default for FetchPartition {
    fn default() -> Self {
        FetchPartition {
            partition: 0,
            current_leader_epoch: -1,
            fetch_offset: 0,
            last_fetched_epoch: -1,
            log_start_offset: -1,
            partition_max_bytes: 1024 * 1024,
        }
    }
}

/// Partitions to remove from a fetch session (v7+).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ForgottenTopic {
    /// Topic name (sent v7 to v12).
    pub topic: String,
    /// Topic id (sent from v13; required there).
    pub topic_id: [u8; 16],
    /// Partition indexes.
    pub partitions: Vec<i32>,
}

/// Fetch response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchResponse {
    /// How long the broker throttled the request, in milliseconds.
    pub throttle_time_ms: i32,
    /// Top-level error (v7+), e.g. a fetch-session error; `None` before v7.
    pub error_code: ErrorCode,
    /// The fetch session id (v7+), 0 when there is none.
    pub session_id: i32,
    /// The results, per topic.
    pub responses: Vec<FetchTopicResponse>,
    /// Brokers named in `current_leader` fields (tagged, v16+; empty otherwise).
    pub node_endpoints: Vec<NodeEndpoint>,
}

impl Default for FetchResponse {
    fn default() -> Self {
        FetchResponse {
            throttle_time_ms: 0,
            error_code: ErrorCode::None,
            session_id: 0,
            responses: Vec::new(),
            node_endpoints: Vec::new(),
        }
    }
}

/// The results for one topic.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FetchTopicResponse {
    /// Topic name (up to v12; empty from v13).
    pub topic: String,
    /// Topic id (from v13; nil before).
    pub topic_id: [u8; 16],
    /// The results, per partition.
    pub partitions: Vec<FetchPartitionResponse>,
}

/// The result for one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchPartitionResponse {
    /// Partition index.
    pub partition_index: i32,
    /// The error, or `ErrorCode::None`.
    pub error_code: ErrorCode,
    /// Offset after the last fully replicated record.
    pub high_watermark: i64,
    /// Offset after the last record no open transaction precedes.
    pub last_stable_offset: i64,
    /// The partition's log start offset (v5+; -1 before).
    pub log_start_offset: i64,
    /// Where the follower's log diverges from the leader's (tagged, v12+).
    pub diverging_epoch: Option<EpochEndOffset>,
    /// The current leader, when this broker is not it (tagged, v12+).
    pub current_leader: Option<LeaderIdAndEpoch>,
    /// The snapshot to fetch instead, for KRaft followers (tagged, v12+).
    pub snapshot_id: Option<SnapshotId>,
    /// Aborted transactions within the returned records (read_committed
    /// only; a null array decodes as empty).
    pub aborted_transactions: Vec<AbortedTransaction>,
    /// The replica to fetch from instead (v11+), or -1.
    pub preferred_read_replica: i32,
    /// The byte range of this partition's records within the decoded buffer
    /// (the response frame); read them with [`Self::records_in`]. Empty for
    /// null records.
    pub records: Range<usize>,
}

impl Default for FetchPartitionResponse {
    fn default() -> Self {
        FetchPartitionResponse {
            partition_index: 0,
            error_code: ErrorCode::None,
            high_watermark: -1,
            last_stable_offset: -1,
            log_start_offset: -1,
            diverging_epoch: None,
            current_leader: None,
            snapshot_id: None,
            aborted_transactions: Vec::new(),
            preferred_read_replica: -1,
            records: 0..0,
        }
    }
}

impl FetchPartitionResponse {
    /// This partition's record bytes within `frame`, the buffer the response
    /// was decoded from; `None` if `frame` is too short to be that buffer.
    pub fn records_in<'f>(&self, frame: &'f [u8]) -> Option<&'f [u8]> {
        frame.get(self.records.clone())
    }
}

/// A transaction aborted within the returned records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTransaction {
    /// The transaction's producer id.
    pub producer_id: i64,
    /// Offset of the transaction's first record.
    pub first_offset: i64,
}

/// A leader epoch and the offset where it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochEndOffset {
    /// Leader epoch.
    pub epoch: i32,
    /// End offset of the epoch.
    pub end_offset: i64,
}

/// A KRaft snapshot's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotId {
    /// End offset of the snapshot.
    pub end_offset: i64,
    /// Epoch of the snapshot.
    pub epoch: i32,
}

impl Request for FetchRequest {
    const API_KEY: i16 = api_key::FETCH;
    const MIN_VERSION: i16 = 4;
    const MAX_VERSION: i16 = 17;
    const FIRST_FLEXIBLE: i16 = 12;
    type Response = FetchResponse;

    fn encode(&self, version: i16, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        if version < 15 {
            if self.replica_epoch != -1 {
                return Err(EncodeError::Unsupported(
                    "Fetch before v15 cannot carry replica_epoch",
                ));
            }
            e.i32(self.replica_id);
        }
        e.i32(self.max_wait_ms);
        e.i32(self.min_bytes);
        e.i32(self.max_bytes);
        e.i8(self.isolation_level.code());
        if version >= 7 {
            e.i32(self.session_id);
            e.i32(self.session_epoch);
        }
        e.array_of(&self.topics, |e, topic| {
            encode_topic_key(version, &topic.topic, &topic.topic_id, e)?;
            e.array_of(&topic.partitions, |e, p| encode_partition(version, p, e))?;
            e.tagged_fields();
            Ok(())
        })?;
        if version >= 7 {
            e.array_of(&self.forgotten_topics_data, |e, topic| {
                encode_topic_key(version, &topic.topic, &topic.topic_id, e)?;
                e.array_of(&topic.partitions, |e, p| {
                    e.i32(*p);
                    Ok(())
                })?;
                e.tagged_fields();
                Ok(())
            })?;
        } else if !self.forgotten_topics_data.is_empty() {
            return Err(EncodeError::Unsupported(
                "Fetch before v7 has no sessions to forget topics from",
            ));
        }
        if version >= 11 {
            e.string(&self.rack_id)?;
        }
        if version >= 15 && (self.replica_id != -1 || self.replica_epoch != -1) {
            let mut state = Vec::with_capacity(13);
            let mut se = Encoder::with_flexible(&mut state, true);
            se.i32(self.replica_id);
            se.i64(self.replica_epoch);
            se.tagged_fields();
            e.tagged_fields_with(&[(1, &state)])?;
        } else {
            e.tagged_fields();
        }
        Ok(())
    }
}

/// A topic's name up to v12, its id from v13.
fn encode_topic_key(
    version: i16,
    name: &str,
    id: &[u8; 16],
    e: &mut Encoder<'_>,
) -> Result<(), EncodeError> {
    if version < 13 {
        e.string(name)
    } else if *id == NIL_TOPIC_ID {
        Err(EncodeError::Unsupported(
            "Fetch v13+ names topics by topic_id, and this topic has none",
        ))
    } else {
        e.uuid(id);
        Ok(())
    }
}

fn encode_partition(
    version: i16,
    p: &FetchPartition,
    e: &mut Encoder<'_>,
) -> Result<(), EncodeError> {
    e.i32(p.partition);
    if version >= 9 {
        e.i32(p.current_leader_epoch);
    }
    e.i64(p.fetch_offset);
    if version >= 12 {
        e.i32(p.last_fetched_epoch);
    } else if p.last_fetched_epoch != -1 {
        return Err(EncodeError::Unsupported(
            "Fetch before v12 cannot carry last_fetched_epoch",
        ));
    }
    if version >= 5 {
        e.i64(p.log_start_offset);
    }
    e.i32(p.partition_max_bytes);
    e.tagged_fields();
    Ok(())
}

impl Response for FetchResponse {
    fn decode(version: i16, d: &mut Decoder<'_>) -> DecodeResult<Self> {
        let mut response = FetchResponse {
            throttle_time_ms: d.i32()?,
            ..Default::default()
        };
        if version >= 7 {
            response.error_code = ErrorCode::from_code(d.i16()?);
            response.session_id = d.i32()?;
        }
        // Smallest encodings: a topic is a compact name and array (2 bytes), a
        // partition its fixed fields and two compact lengths (24 bytes).
        response.responses = d.array_of(2, |d| {
            let mut topic = FetchTopicResponse::default();
            if version < 13 {
                topic.topic = d.string()?;
            } else {
                topic.topic_id = d.uuid()?;
            }
            topic.partitions = d.array_of(24, |d| decode_partition(version, d))?;
            d.tagged_fields()?;
            Ok(topic)
        })?;
        d.tagged_fields_with(|tag, data, _| match tag {
            0 if version >= 16 => {
                response.node_endpoints = NodeEndpoint::decode_tagged_array(data)?;
                Ok(true)
            }
            _ => Ok(false),
        })?;
        Ok(response)
    }
}

fn decode_partition(version: i16, d: &mut Decoder<'_>) -> DecodeResult<FetchPartitionResponse> {
    let mut p = FetchPartitionResponse {
        partition_index: d.i32()?,
        error_code: ErrorCode::from_code(d.i16()?),
        high_watermark: d.i64()?,
        last_stable_offset: d.i64()?,
        ..Default::default()
    };
    if version >= 5 {
        p.log_start_offset = d.i64()?;
    }
    p.aborted_transactions = d.array_of(16, |d| {
        let aborted = AbortedTransaction {
            producer_id: d.i64()?,
            first_offset: d.i64()?,
        };
        d.tagged_fields()?;
        Ok(aborted)
    })?;
    if version >= 11 {
        p.preferred_read_replica = d.i32()?;
    }
    // The records stay in the frame: remember where they are.
    let len = d.nullable_bytes()?.map_or(0, <[u8]>::len);
    let end = d.position();
    p.records = end - len..end;
    d.tagged_fields_with(|tag, data, _| {
        match tag {
            0 => p.diverging_epoch = Some(decode_epoch_end_offset(data)?),
            1 => p.current_leader = Some(LeaderIdAndEpoch::decode_tagged(data)?),
            2 => p.snapshot_id = Some(decode_snapshot_id(data)?),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(p)
}

fn decode_epoch_end_offset(data: &[u8]) -> DecodeResult<EpochEndOffset> {
    let mut d = Decoder::with_flexible(data, true);
    let value = EpochEndOffset {
        epoch: d.i32()?,
        end_offset: d.i64()?,
    };
    d.tagged_fields()?;
    d.finish()?;
    Ok(value)
}

fn decode_snapshot_id(data: &[u8]) -> DecodeResult<SnapshotId> {
    let mut d = Decoder::with_flexible(data, true);
    let value = SnapshotId {
        end_offset: d.i64()?,
        epoch: d.i32()?,
    };
    d.tagged_fields()?;
    d.finish()?;
    Ok(value)
}

#[cfg(test)]
mod tests;
