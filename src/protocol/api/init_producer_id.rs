//! InitProducerId (key 22): a producer id and epoch for an idempotent or
//! transactional producer.
//!
//! An idempotent producer sends it once, to any broker, with a null
//! `transactional_id`, and stamps the returned id and epoch on every record
//! batch so the broker can drop duplicates. From v3 on (KIP-360) a producer
//! that hit an unknown-producer or out-of-order error sends its current id and
//! epoch to have the epoch bumped instead of getting a fresh id.
//!
//! # References
//! Kafka protocol guide, "InitProducerId API"; KIP-98 (idempotence and
//! transactions), KIP-360 (epoch bump), KIP-482 (flexible versions, v2+).

use crate::protocol::{
    api_key, DecodeResult, Decoder, EncodeError, Encoder, ErrorCode, Request, Response,
};

/// InitProducerId request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitProducerIdRequest {
    /// The transactional id, or `None` for an idempotent, non-transactional
    /// producer. Defaults to `None`.
    pub transactional_id: Option<String>,
    /// How long the coordinator waits for a transaction to finish before
    /// aborting it. Ignored by the broker when `transactional_id` is `None`.
    /// Defaults to 60 000 ms, as in the Java producer.
    pub transaction_timeout_ms: i32,
    /// The producer's current id (v3+), to bump its epoch; -1 (the default) asks
    /// for a new id.
    pub producer_id: i64,
    /// The producer's current epoch (v3+); -1 (the default) asks for a new id.
    pub producer_epoch: i16,
}

impl Default for InitProducerIdRequest {
    fn default() -> Self {
        InitProducerIdRequest {
            transactional_id: None,
            transaction_timeout_ms: 60_000,
            producer_id: -1,
            producer_epoch: -1,
        }
    }
}

/// InitProducerId response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InitProducerIdResponse {
    /// How long the broker throttled the request, in milliseconds.
    pub throttle_time_ms: i32,
    /// The error, or `ErrorCode::None`.
    pub error_code: ErrorCode,
    /// The assigned producer id, or -1 on error.
    pub producer_id: i64,
    /// The producer's epoch, or -1 on error.
    pub producer_epoch: i16,
}

impl Request for InitProducerIdRequest {
    const API_KEY: i16 = api_key::INIT_PRODUCER_ID;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 5;
    const FIRST_FLEXIBLE: i16 = 2;
    type Response = InitProducerIdResponse;

    /// Fails with [`EncodeError::Unsupported`] when an epoch bump
    /// (`producer_id` or `producer_epoch` other than -1) is asked of a version
    /// before v3, which cannot carry it; silently dropping it would hand the
    /// producer a new id instead of the bump it asked for.
    fn encode(&self, version: i16, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        e.nullable_string(self.transactional_id.as_deref())?;
        e.i32(self.transaction_timeout_ms);
        if version >= 3 {
            e.i64(self.producer_id);
            e.i16(self.producer_epoch);
        } else if self.producer_id != -1 || self.producer_epoch != -1 {
            return Err(EncodeError::Unsupported(
                "InitProducerId before v3 cannot bump an epoch (producer_id/producer_epoch must be -1)",
            ));
        }
        e.tagged_fields();
        Ok(())
    }
}

impl Response for InitProducerIdResponse {
    fn decode(_version: i16, d: &mut Decoder<'_>) -> DecodeResult<Self> {
        let response = InitProducerIdResponse {
            throttle_time_ms: d.i32()?,
            error_code: ErrorCode::from_code(d.i16()?),
            producer_id: d.i64()?,
            producer_epoch: d.i16()?,
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
        InitProducerIdRequest as OracleRequest, InitProducerIdResponse as OracleResponse,
        TransactionalId,
    };
    use proptest::prelude::*;

    type Req = InitProducerIdRequest;

    fn response_body(r: &InitProducerIdResponse, version: i16) -> Vec<u8> {
        let mut body = Vec::new();
        let mut e = Encoder::with_flexible(&mut body, Req::is_flexible(version));
        e.i32(r.throttle_time_ms);
        e.i16(r.error_code.code());
        e.i64(r.producer_id);
        e.i16(r.producer_epoch);
        e.tagged_fields();
        body
    }

    fn decode_request(version: i16, body: &[u8]) -> DecodeResult<InitProducerIdRequest> {
        let mut d = Decoder::with_flexible(body, Req::is_flexible(version));
        let mut request = InitProducerIdRequest {
            transactional_id: d.nullable_string()?,
            transaction_timeout_ms: d.i32()?,
            ..Default::default()
        };
        if version >= 3 {
            request.producer_id = d.i64()?;
            request.producer_epoch = d.i16()?;
        }
        d.tagged_fields()?;
        d.finish()?;
        Ok(request)
    }

    fn requests(version: i16) -> Vec<InitProducerIdRequest> {
        let idempotent = InitProducerIdRequest {
            transaction_timeout_ms: 45_000,
            ..Default::default()
        };
        let mut transactional = InitProducerIdRequest {
            transactional_id: Some("orders-tx".into()),
            transaction_timeout_ms: 30_000,
            ..Default::default()
        };
        if version >= 3 {
            transactional.producer_id = 4_000_000_123;
            transactional.producer_epoch = 17;
        }
        vec![idempotent, transactional]
    }

    fn oracle_request(request: &InitProducerIdRequest) -> OracleRequest {
        OracleRequest::default()
            .with_transactional_id(
                request
                    .transactional_id
                    .as_deref()
                    .map(|id| TransactionalId(oracle_str(id))),
            )
            .with_transaction_timeout_ms(request.transaction_timeout_ms)
            .with_producer_id(request.producer_id.into())
            .with_producer_epoch(request.producer_epoch)
    }

    fn sample_response() -> InitProducerIdResponse {
        InitProducerIdResponse {
            throttle_time_ms: 25,
            error_code: ErrorCode::None,
            producer_id: 4_000_000_123,
            producer_epoch: 18,
        }
    }

    #[test]
    fn every_version_round_trips() {
        assert_every_request_version_round_trips(requests, decode_request);
        assert_every_response_version_decodes::<Req>(|_| sample_response(), response_body);
    }

    #[test]
    fn error_codes_decode_as_error_code() {
        let want = InitProducerIdResponse {
            error_code: ErrorCode::from_code(53), // TRANSACTIONAL_ID_AUTHORIZATION_FAILED
            producer_id: -1,
            producer_epoch: -1,
            ..sample_response()
        };
        let got = decode_framed::<Req>(4, &response_body(&want, 4));
        assert_eq!(got.error_code.code(), 53);
    }

    #[test]
    fn an_epoch_bump_before_v3_is_an_encode_error() {
        let bump = InitProducerIdRequest {
            producer_id: 9,
            producer_epoch: 2,
            ..Default::default()
        };
        for version in 0..3 {
            assert!(matches!(
                try_request_body(&bump, version),
                Err(EncodeError::Unsupported(_))
            ));
        }
        assert!(try_request_body(&bump, 3).is_ok());
    }

    #[test]
    fn every_version_request_matches_kafka_protocol_crate() {
        assert_every_request_version_encodes_like_oracle(requests, |r, _| oracle_request(r));
    }

    #[test]
    fn every_version_response_from_kafka_protocol_crate_decodes() {
        let oracle = |want: &InitProducerIdResponse, _| {
            OracleResponse::default()
                .with_throttle_time_ms(want.throttle_time_ms)
                .with_error_code(want.error_code.code())
                .with_producer_id(want.producer_id.into())
                .with_producer_epoch(want.producer_epoch)
                .with_unknown_tagged_field(9, bytes::Bytes::from_static(b"future"))
        };
        assert_every_response_version_decodes_like_oracle::<Req, _>(|_| sample_response(), oracle);
    }

    #[test]
    fn every_truncation_of_a_response_is_an_error() {
        assert_every_truncation_of_every_version_fails::<Req>(|v| {
            response_body(&sample_response(), v)
        });
    }

    #[test]
    fn trailing_bytes_are_ignored_and_counted() {
        let mut body = response_body(&sample_response(), 0);
        body.push(0);
        let frame = response_frame::<Req>(0, &body);
        assert_eq!(decode::<Req>(0, &frame), Ok(sample_response()));
        assert_eq!(
            crate::protocol::decode_response_counting_trailing::<Req>(&frame, 0, CORRELATION_ID),
            Ok((sample_response(), 1))
        );
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(
            body in proptest::collection::vec(any::<u8>(), 0..64),
            version in versions::<Req>(),
        ) {
            let _ = decode_response_body::<Req>(version, &body);
        }
    }
}
