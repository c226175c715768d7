//! SaslHandshake (key 17): picks the SASL mechanism on a new connection.
//!
//! The broker answers with the mechanisms it enables. After a v1 handshake
//! the SASL tokens travel in [`SaslAuthenticateRequest`](super::SaslAuthenticateRequest)s;
//! after v0 they travel as raw size-prefixed frames outside the Kafka
//! protocol (every broker since Kafka 1.0 accepts v1, so prefer it). Never flexible: the
//! version cannot be bumped without breaking old clients (KAFKA-9577).
//!
//! # References
//! Kafka protocol guide, "SASL Authentication Sequence" and "SaslHandshake
//! API"; KIP-43, KIP-152.

use crate::protocol::{
    api_key, DecodeResult, Decoder, EncodeError, Encoder, ErrorCode, Request, Response,
};

/// SaslHandshake request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslHandshakeRequest {
    /// The mechanism, e.g. `PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512`.
    pub mechanism: String,
}

/// SaslHandshake response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslHandshakeResponse {
    /// `UNSUPPORTED_SASL_MECHANISM` when the broker does not enable `mechanism`.
    pub error_code: ErrorCode,
    /// The mechanisms the broker enables.
    pub mechanisms: Vec<String>,
}

impl Request for SaslHandshakeRequest {
    const API_KEY: i16 = api_key::SASL_HANDSHAKE;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 1;
    const FIRST_FLEXIBLE: i16 = i16::MAX;
    type Response = SaslHandshakeResponse;

    fn encode(&self, _version: i16, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        e.string(&self.mechanism)
    }
}

impl Response for SaslHandshakeResponse {
    fn decode(_version: i16, d: &mut Decoder<'_>) -> DecodeResult<Self> {
        let error_code = ErrorCode::from_code(d.i16()?);
        let mechanisms = d.array_of(2, |d| d.string())?;
        Ok(SaslHandshakeResponse {
            error_code,
            mechanisms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::api::codec_checks::*;
    use kafka_protocol::messages::{
        SaslHandshakeRequest as OracleRequest, SaslHandshakeResponse as OracleResponse,
    };

    type Req = SaslHandshakeRequest;

    fn sample_response() -> SaslHandshakeResponse {
        SaslHandshakeResponse {
            error_code: ErrorCode::from_code(33),
            mechanisms: vec!["SCRAM-SHA-256".into(), "SCRAM-SHA-512".into()],
        }
    }

    fn oracle_response(r: &SaslHandshakeResponse) -> OracleResponse {
        let mut o = OracleResponse::default();
        o.error_code = r.error_code.code();
        o.mechanisms = r.mechanisms.iter().map(|m| oracle_str(m)).collect();
        o
    }

    #[test]
    fn request_matches_kafka_protocol_at_every_version() {
        let r = Req {
            mechanism: "SCRAM-SHA-512".into(),
        };
        let mut oracle = OracleRequest::default();
        oracle.mechanism = oracle_str("SCRAM-SHA-512");
        assert_every_request_version_matches_oracle(|_| [r.clone()], |_, _| oracle.clone());
    }

    oracle_codec_tests! {
        request: Req,
        bare_bodies_up_to: 64,
        responses: |_| sample_response() => |r, _| oracle_response(r),
    }
}
