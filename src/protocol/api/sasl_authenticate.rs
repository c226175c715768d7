//! SaslAuthenticate (key 36): carries one SASL token each way after a v1
//! [`SaslHandshakeRequest`](super::SaslHandshakeRequest).
//!
//! v1 adds the session lifetime (KIP-368: the client must re-authenticate
//! before it ends) and v2 is flexible. The tokens hold credentials or proofs
//! of them, so `Debug` shows only their length.
//!
//! # References
//! Kafka protocol guide, "SASL Authentication Sequence" and "SaslAuthenticate
//! API"; KIP-152, KIP-368.

use std::fmt;

use crate::protocol::{
    api_key, DecodeResult, Decoder, EncodeError, Encoder, ErrorCode, Request, Response,
};

/// SaslAuthenticate request.
#[derive(Clone, PartialEq, Eq)]
pub struct SaslAuthenticateRequest {
    /// The mechanism's next token (for PLAIN, `\0user\0password`).
    pub auth_bytes: Vec<u8>,
}

impl fmt::Debug for SaslAuthenticateRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SaslAuthenticateRequest")
            .field("auth_bytes", &Redacted(self.auth_bytes.len()))
            .finish()
    }
}

/// SaslAuthenticate response.
#[derive(Clone, PartialEq, Eq)]
pub struct SaslAuthenticateResponse {
    /// `SASL_AUTHENTICATION_FAILED` when the credentials are wrong.
    pub error_code: ErrorCode,
    /// The broker's explanation, if any.
    pub error_message: Option<String>,
    /// The mechanism's next token from the broker.
    pub auth_bytes: Vec<u8>,
    /// Milliseconds until the session must re-authenticate (v1+), 0 for never.
    pub session_lifetime_ms: i64,
}

impl fmt::Debug for SaslAuthenticateResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SaslAuthenticateResponse")
            .field("error_code", &self.error_code)
            .field("error_message", &self.error_message)
            .field("auth_bytes", &Redacted(self.auth_bytes.len()))
            .field("session_lifetime_ms", &self.session_lifetime_ms)
            .finish()
    }
}

/// Stands in for secret bytes in `Debug` output.
struct Redacted(usize);

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes redacted>", self.0)
    }
}

impl Request for SaslAuthenticateRequest {
    const API_KEY: i16 = api_key::SASL_AUTHENTICATE;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 2;
    const FIRST_FLEXIBLE: i16 = 2;
    type Response = SaslAuthenticateResponse;

    fn encode(&self, _version: i16, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        e.bytes(&self.auth_bytes)?;
        e.tagged_fields();
        Ok(())
    }
}

impl Response for SaslAuthenticateResponse {
    fn decode(version: i16, d: &mut Decoder<'_>) -> DecodeResult<Self> {
        let error_code = ErrorCode::from_code(d.i16()?);
        let error_message = d.nullable_string()?;
        let auth_bytes = d.bytes()?.to_vec();
        let session_lifetime_ms = if version >= 1 { d.i64()? } else { 0 };
        d.tagged_fields()?;
        Ok(SaslAuthenticateResponse {
            error_code,
            error_message,
            auth_bytes,
            session_lifetime_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::api::codec_checks::*;
    use kafka_protocol::messages::{
        SaslAuthenticateRequest as OracleRequest, SaslAuthenticateResponse as OracleResponse,
    };

    type Req = SaslAuthenticateRequest;

    fn sample_response(version: i16) -> SaslAuthenticateResponse {
        SaslAuthenticateResponse {
            error_code: ErrorCode::None,
            error_message: Some("re-authenticate within the session lifetime".into()),
            auth_bytes: b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=".to_vec(),
            session_lifetime_ms: if version >= 1 { 3_600_000 } else { 0 },
        }
    }

    fn oracle_response(r: &SaslAuthenticateResponse) -> OracleResponse {
        let mut o = OracleResponse::default();
        o.error_code = r.error_code.code();
        o.error_message = r.error_message.as_deref().map(oracle_str);
        o.auth_bytes = bytes::Bytes::from(r.auth_bytes.clone());
        o.session_lifetime_ms = r.session_lifetime_ms;
        o
    }

    #[test]
    fn request_matches_kafka_protocol_at_every_version() {
        let r = Req {
            auth_bytes: b"\0alice\0correct horse battery staple".to_vec(),
        };
        let mut oracle = OracleRequest::default();
        oracle.auth_bytes = bytes::Bytes::from(r.auth_bytes.clone());
        assert_every_request_version_matches_oracle(|_| [r.clone()], |_, _| oracle.clone());
    }

    #[test]
    fn debug_output_hides_the_tokens() {
        let r = Req {
            auth_bytes: b"\0alice\0secret".to_vec(),
        };
        let shown = format!("{r:?}");
        assert!(!shown.contains("secret") && shown.contains("13 bytes redacted"));
        let shown = format!("{:?}", sample_response(1));
        assert!(!shown.contains("rmF9") && shown.contains("3600000"));
    }

    oracle_codec_tests! {
        request: Req,
        bare_bodies_up_to: 64,
        responses: sample_response => |r, _| oracle_response(r),
    }
}
