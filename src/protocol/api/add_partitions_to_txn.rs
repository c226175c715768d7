//! AddPartitionsToTxn (key 24): adds partitions to a producer's transaction
//! before it writes to them.
//!
//! The producer sends it to its transaction coordinator once per new
//! partition of a transaction (in one request per flush of new partitions);
//! the coordinator then knows where to write the commit or abort markers.
//! Clients speak v0–v3 (v3 is the first flexible version); v4 and v5 batch
//! several transactional ids and are sent by brokers only (KIP-890), so they
//! are not spoken here. Under transactions v2 (KIP-890) a producer adds
//! partitions implicitly with Produce v12 instead.
//!
//! # References
//! Kafka protocol guide, "AddPartitionsToTxn API"; KIP-98, KIP-890.

use crate::protocol::{
    api_key, DecodeResult, Decoder, EncodeError, Encoder, ErrorCode, Request, Response,
};

/// One topic's partitions to add.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AddPartitionsToTxnTopic {
    /// The topic.
    pub name: String,
    /// Its partitions to add.
    pub partitions: Vec<i32>,
}

/// AddPartitionsToTxn request (v0–v3, the client's form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddPartitionsToTxnRequest {
    /// The producer's transactional id.
    pub transactional_id: String,
    /// The producer id InitProducerId gave.
    pub producer_id: i64,
    /// The producer's current epoch.
    pub producer_epoch: i16,
    /// The partitions to add, by topic.
    pub topics: Vec<AddPartitionsToTxnTopic>,
}

/// One partition's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddPartitionsToTxnPartitionResult {
    /// The partition.
    pub partition_index: i32,
    /// Its error, or `ErrorCode::None`; OPERATION_NOT_ATTEMPTED when another
    /// partition of the request failed.
    pub partition_error_code: ErrorCode,
}

/// One topic's results.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AddPartitionsToTxnTopicResult {
    /// The topic.
    pub name: String,
    /// Its partitions' results.
    pub results_by_partition: Vec<AddPartitionsToTxnPartitionResult>,
}

/// AddPartitionsToTxn response (v0–v3).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AddPartitionsToTxnResponse {
    /// How long the broker throttled the request, in milliseconds.
    pub throttle_time_ms: i32,
    /// The results, by topic.
    pub results_by_topic: Vec<AddPartitionsToTxnTopicResult>,
}

impl Request for AddPartitionsToTxnRequest {
    const API_KEY: i16 = api_key::ADD_PARTITIONS_TO_TXN;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 3;
    const FIRST_FLEXIBLE: i16 = 3;
    type Response = AddPartitionsToTxnResponse;

    fn encode(&self, _version: i16, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        e.string(&self.transactional_id)?;
        e.i64(self.producer_id);
        e.i16(self.producer_epoch);
        e.array_of(&self.topics, |e, topic| {
            e.string(&topic.name)?;
            e.array_of(&topic.partitions, |e, p| {
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

impl Response for AddPartitionsToTxnResponse {
    fn decode(_version: i16, d: &mut Decoder<'_>) -> DecodeResult<Self> {
        let throttle_time_ms = d.i32()?;
        // name, partition count (tagged fields when flexible).
        let results_by_topic = d.array_of(3, |d| {
            let name = d.string()?;
            // index, error code.
            let results_by_partition = d.array_of(6, |d| {
                let result = AddPartitionsToTxnPartitionResult {
                    partition_index: d.i32()?,
                    partition_error_code: ErrorCode::from_code(d.i16()?),
                };
                d.tagged_fields()?;
                Ok(result)
            })?;
            d.tagged_fields()?;
            Ok(AddPartitionsToTxnTopicResult {
                name,
                results_by_partition,
            })
        })?;
        d.tagged_fields()?;
        Ok(AddPartitionsToTxnResponse {
            throttle_time_ms,
            results_by_topic,
        })
    }
}

impl AddPartitionsToTxnResponse {
    /// Every partition's result as `(topic, partition, code)`.
    pub fn results(&self) -> impl Iterator<Item = (&str, i32, ErrorCode)> {
        self.results_by_topic.iter().flat_map(|t| {
            t.results_by_partition
                .iter()
                .map(move |p| (t.name.as_str(), p.partition_index, p.partition_error_code))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::api::codec_checks::*;
    use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic as OracleTopic;
    use kafka_protocol::messages::add_partitions_to_txn_response::{
        AddPartitionsToTxnPartitionResult as OraclePartitionResult,
        AddPartitionsToTxnTopicResult as OracleTopicResult,
    };
    use kafka_protocol::messages::{
        AddPartitionsToTxnRequest as OracleRequest, AddPartitionsToTxnResponse as OracleResponse,
        TopicName, TransactionalId,
    };

    type Req = AddPartitionsToTxnRequest;

    fn sample_request(_version: i16) -> Req {
        Req {
            transactional_id: "billing-1".into(),
            producer_id: 4_000_000_123,
            producer_epoch: 17,
            topics: vec![
                AddPartitionsToTxnTopic {
                    name: "invoices".into(),
                    partitions: vec![0, 3, 7],
                },
                AddPartitionsToTxnTopic {
                    name: "refunds".into(),
                    partitions: vec![1],
                },
            ],
        }
    }

    fn oracle_request(r: &Req) -> OracleRequest {
        let mut o = OracleRequest::default();
        o.v3_and_below_transactional_id = TransactionalId(oracle_str(&r.transactional_id));
        o.v3_and_below_producer_id = r.producer_id.into();
        o.v3_and_below_producer_epoch = r.producer_epoch;
        o.v3_and_below_topics = r
            .topics
            .iter()
            .map(|t| {
                let mut ot = OracleTopic::default();
                ot.name = TopicName(oracle_str(&t.name));
                ot.partitions = t.partitions.clone();
                ot
            })
            .collect();
        o
    }

    fn sample_response(_version: i16) -> AddPartitionsToTxnResponse {
        let result = |partition_index, code| AddPartitionsToTxnPartitionResult {
            partition_index,
            partition_error_code: ErrorCode::from_code(code),
        };
        AddPartitionsToTxnResponse {
            throttle_time_ms: 9,
            results_by_topic: vec![
                AddPartitionsToTxnTopicResult {
                    name: "invoices".into(),
                    results_by_partition: vec![result(0, 0), result(3, 55)],
                },
                AddPartitionsToTxnTopicResult {
                    name: "refunds".into(),
                    results_by_partition: vec![result(1, 29)],
                },
            ],
        }
    }

    fn oracle_response(r: &AddPartitionsToTxnResponse) -> OracleResponse {
        let mut o = OracleResponse::default();
        o.throttle_time_ms = r.throttle_time_ms;
        o.results_by_topic_v3_and_below = oracle_partition_codes!(
            r.results_by_topic,
            OracleTopicResult { results_by_partition: results_by_partition },
            OraclePartitionResult { partition_error_code: partition_error_code },
        );
        o
    }

    #[test]
    fn results_list_every_partition_with_its_code() {
        let got: Vec<_> = sample_response(3).results().map(|(t, p, c)| (t.to_owned(), p, c.code())).collect();
        assert_eq!(
            got,
            [
                ("invoices".to_owned(), 0, 0),
                ("invoices".to_owned(), 3, 55),
                ("refunds".to_owned(), 1, 29)
            ]
        );
    }

    oracle_codec_tests! {
        request: Req,
        bare_bodies_up_to: 64,
        request_test request_matches_kafka_protocol_at_every_version:
            |v| [sample_request(v)] => |r, _| oracle_request(r),
        responses: sample_response => |r, _| oracle_response(r),
    }
}
