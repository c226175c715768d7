//! Produce (key 0): record batches appended to partition leaders.
//!
//! The request carries already-encoded record batches per partition; this
//! module does not look inside them (see `protocol::records`). With `acks = 0`
//! the broker sends no response at all, which [`Request::expects_response`]
//! reports so the connection does not wait for one.
//!
//! Versions 3 to 12: v3 is the first with record batches (magic 2) and the
//! oldest Kafka 4 accepts; v9 is flexible; v10 adds the `current_leader` and
//! `node_endpoints` tagged fields, with which a broker that is no longer the
//! leader names the new one (KIP-951). v12 has v11's layout: sending it says
//! the producer runs transactions v2 (KIP-890), so the partition leader adds
//! a transactional batch's partition to the transaction itself and no
//! AddPartitionsToTxn is sent. A transactional producer of transactions v1
//! therefore caps Produce at v11 ([`PRODUCE_BEFORE_TRANSACTIONS_V2`]).
//! [`LeaderIdAndEpoch`] and [`NodeEndpoint`] are shared with Fetch.
//!
//! # References
//! Kafka protocol guide, "Produce API"; KIP-98 (v3), KIP-467 (record errors,
//! v8), KIP-482 (flexible versions, v9), KIP-951 (leader discovery, v10),
//! KIP-890 (transactions v2, v12).

use crate::protocol::{
    api_key, DecodeResult, Decoder, EncodeError, Encoder, ErrorCode, Request, Response,
};

/// The newest Produce version a transactional producer of transactions v1
/// may send: v12 and later mean transactions v2 (KIP-890).
pub const PRODUCE_BEFORE_TRANSACTIONS_V2: i16 = 11;

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
    const MAX_VERSION: i16 = 12;
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
mod tests;
