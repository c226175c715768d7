//! AddOffsetsToTxn (key 25): adds a consumer group's offsets to a producer's
//! transaction.
//!
//! Sent to the transaction coordinator before TxnOffsetCommit, so that the
//! offsets commit or abort with the transaction's records (the coordinator
//! adds the group's partition of `__consumer_offsets` to the transaction).
//! v3 is the first flexible version; v4 (KIP-890) may answer
//! TRANSACTION_ABORTABLE.
//!
//! # References
//! Kafka protocol guide, "AddOffsetsToTxn API"; KIP-98, KIP-447, KIP-890.

use crate::protocol::{
    api_key, DecodeResult, Decoder, EncodeError, Encoder, ErrorCode, Request, Response,
};

/// AddOffsetsToTxn request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddOffsetsToTxnRequest {
    /// The producer's transactional id.
    pub transactional_id: String,
    /// The producer id InitProducerId gave.
    pub producer_id: i64,
    /// The producer's current epoch.
    pub producer_epoch: i16,
    /// The consumer group whose offsets join the transaction.
    pub group_id: String,
}

/// AddOffsetsToTxn response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddOffsetsToTxnResponse {
    /// How long the broker throttled the request, in milliseconds.
    pub throttle_time_ms: i32,
    /// The error, or `ErrorCode::None`.
    pub error_code: ErrorCode,
}

impl Request for AddOffsetsToTxnRequest {
    const API_KEY: i16 = api_key::ADD_OFFSETS_TO_TXN;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 4;
    const FIRST_FLEXIBLE: i16 = 3;
    type Response = AddOffsetsToTxnResponse;

    fn encode(&self, _version: i16, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        e.string(&self.transactional_id)?;
        e.i64(self.producer_id);
        e.i16(self.producer_epoch);
        e.string(&self.group_id)?;
        e.tagged_fields();
        Ok(())
    }
}

impl Response for AddOffsetsToTxnResponse {
    fn decode(_version: i16, d: &mut Decoder<'_>) -> DecodeResult<Self> {
        let response = AddOffsetsToTxnResponse {
            throttle_time_ms: d.i32()?,
            error_code: ErrorCode::from_code(d.i16()?),
        };
        d.tagged_fields()?;
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::api::codec_checks::*;
    use kafka_protocol::messages::{
        AddOffsetsToTxnRequest as OracleRequest, AddOffsetsToTxnResponse as OracleResponse,
        GroupId, TransactionalId,
    };

    type Req = AddOffsetsToTxnRequest;

    fn sample_request(_version: i16) -> Req {
        Req {
            transactional_id: "billing-1".into(),
            producer_id: 4_000_000_123,
            producer_epoch: 17,
            group_id: "billing".into(),
        }
    }

    fn oracle_request(r: &Req) -> OracleRequest {
        let mut o = OracleRequest::default();
        o.transactional_id = TransactionalId(oracle_str(&r.transactional_id));
        o.producer_id = r.producer_id.into();
        o.producer_epoch = r.producer_epoch;
        o.group_id = GroupId(oracle_str(&r.group_id));
        o
    }

    fn sample_response(_version: i16) -> AddOffsetsToTxnResponse {
        AddOffsetsToTxnResponse {
            throttle_time_ms: 7,
            error_code: ErrorCode::from_code(51), // CONCURRENT_TRANSACTIONS
        }
    }

    fn oracle_response(r: &AddOffsetsToTxnResponse) -> OracleResponse {
        let mut o = OracleResponse::default();
        o.throttle_time_ms = r.throttle_time_ms;
        o.error_code = r.error_code.code();
        o
    }

    oracle_codec_tests! {
        request: Req,
        bare_bodies_up_to: 32,
        request_test request_matches_kafka_protocol_at_every_version:
            |v| [sample_request(v)] => |r, _| oracle_request(r),
        responses: sample_response => |r, _| oracle_response(r),
    }
}
