//! EndTxn (key 26): commits or aborts a producer's ongoing transaction.
//!
//! The producer sends it to its transaction coordinator once every record of
//! the transaction is acknowledged. The coordinator writes the commit or abort
//! markers into every partition (and offsets topic) the transaction touched.
//! From v5 on (transactions v2, KIP-890) the answer carries the producer id
//! and epoch to use for the next transaction: the coordinator bumps the epoch
//! at the end of every transaction. v3 is the first flexible version.
//!
//! # References
//! Kafka protocol guide, "EndTxn API"; KIP-98 (transactions), KIP-890
//! (transactions v2).

use crate::protocol::{
    api_key, DecodeResult, Decoder, EncodeError, Encoder, ErrorCode, Request, Response,
};

/// The newest EndTxn version a producer of transactions v1 may send: v5
/// means transactions v2 (KIP-890), whose coordinator bumps the epoch.
pub const END_TXN_BEFORE_TRANSACTIONS_V2: i16 = 4;

/// EndTxn request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndTxnRequest {
    /// The producer's transactional id.
    pub transactional_id: String,
    /// The producer id InitProducerId gave.
    pub producer_id: i64,
    /// The producer's current epoch.
    pub producer_epoch: i16,
    /// `true` to commit, `false` to abort.
    pub committed: bool,
}

/// EndTxn response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndTxnResponse {
    /// How long the broker throttled the request, in milliseconds.
    pub throttle_time_ms: i32,
    /// The error, or `ErrorCode::None`.
    pub error_code: ErrorCode,
    /// The producer id for the next transaction (v5+, transactions v2); -1
    /// before v5.
    pub producer_id: i64,
    /// The epoch for the next transaction (v5+); -1 before v5.
    pub producer_epoch: i16,
}

impl Request for EndTxnRequest {
    const API_KEY: i16 = api_key::END_TXN;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 5;
    const FIRST_FLEXIBLE: i16 = 3;
    type Response = EndTxnResponse;

    fn encode(&self, _version: i16, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        e.string(&self.transactional_id)?;
        e.i64(self.producer_id);
        e.i16(self.producer_epoch);
        e.bool(self.committed);
        e.tagged_fields();
        Ok(())
    }
}

impl Response for EndTxnResponse {
    fn decode(version: i16, d: &mut Decoder<'_>) -> DecodeResult<Self> {
        let throttle_time_ms = d.i32()?;
        let error_code = ErrorCode::from_code(d.i16()?);
        let (producer_id, producer_epoch) = if version >= 5 {
            (d.i64()?, d.i16()?)
        } else {
            (-1, -1)
        };
        d.tagged_fields()?;
        Ok(EndTxnResponse {
            throttle_time_ms,
            error_code,
            producer_id,
            producer_epoch,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::api::codec_checks::*;
    use kafka_protocol::messages::{
        EndTxnRequest as OracleRequest, EndTxnResponse as OracleResponse, TransactionalId,
    };

    type Req = EndTxnRequest;

    fn sample_requests(_version: i16) -> Vec<Req> {
        let commit = Req {
            transactional_id: "billing-1".into(),
            producer_id: 4_000_000_123,
            producer_epoch: 17,
            committed: true,
        };
        let abort = Req {
            committed: false,
            ..commit.clone()
        };
        vec![commit, abort]
    }

    fn oracle_request(r: &Req) -> OracleRequest {
        let mut o = OracleRequest::default();
        o.transactional_id = TransactionalId(oracle_str(&r.transactional_id));
        o.producer_id = r.producer_id.into();
        o.producer_epoch = r.producer_epoch;
        o.committed = r.committed;
        o
    }

    fn sample_response(version: i16) -> EndTxnResponse {
        EndTxnResponse {
            throttle_time_ms: 12,
            error_code: ErrorCode::from_code(90), // PRODUCER_FENCED
            producer_id: if version >= 5 { 4_000_000_124 } else { -1 },
            producer_epoch: if version >= 5 { 0 } else { -1 },
        }
    }

    fn oracle_response(r: &EndTxnResponse) -> OracleResponse {
        let mut o = OracleResponse::default();
        o.throttle_time_ms = r.throttle_time_ms;
        o.error_code = r.error_code.code();
        o.producer_id = r.producer_id.into();
        o.producer_epoch = r.producer_epoch;
        o
    }

    #[test]
    fn v5_carries_the_next_producer_id_and_epoch() {
        let got = decode_oracle_response::<Req, _>(&oracle_response(&sample_response(5)), 5);
        assert_eq!((got.producer_id, got.producer_epoch), (4_000_000_124, 0));
    }

    oracle_codec_tests! {
        request: Req,
        bare_bodies_up_to: 32,
        request_test request_matches_kafka_protocol_at_every_version:
            sample_requests => |r, _| oracle_request(r),
        responses: sample_response => |r, _| oracle_response(r),
    }
}
