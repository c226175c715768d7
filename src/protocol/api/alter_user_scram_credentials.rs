//! AlterUserScramCredentials (key 51): creates, replaces and deletes users'
//! SCRAM credentials.
//!
//! Kafka never sends a password over the wire: the client salts it and sends
//! the salted password (`Hi(password, salt, iterations)` of RFC 5802), from
//! which the broker derives the stored and server keys. Only v0 exists; it is
//! flexible.
//!
//! # References
//! Kafka protocol guide, "AlterUserScramCredentials API"; KIP-554; RFC 5802.

use crate::protocol::{
    api_key, DecodeResult, Decoder, EncodeError, Encoder, ErrorCode, Request, Response,
};

/// AlterUserScramCredentials request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AlterUserScramCredentialsRequest {
    /// Credentials to delete.
    pub deletions: Vec<ScramCredentialDeletion>,
    /// Credentials to create or replace.
    pub upsertions: Vec<ScramCredentialUpsertion>,
}

/// One credential to delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScramCredentialDeletion {
    /// User name.
    pub name: String,
    /// 1 for SCRAM-SHA-256, 2 for SCRAM-SHA-512.
    pub mechanism: i8,
}

/// One credential to create or replace.
#[derive(Clone, PartialEq, Eq)]
pub struct ScramCredentialUpsertion {
    /// User name.
    pub name: String,
    /// 1 for SCRAM-SHA-256, 2 for SCRAM-SHA-512.
    pub mechanism: i8,
    /// PBKDF2 iterations.
    pub iterations: i32,
    /// A random salt.
    pub salt: Vec<u8>,
    /// `Hi(password, salt, iterations)`.
    pub salted_password: Vec<u8>,
}

// The salted password is as good as the password for logging in to a broker
// that stores it: keep it (and the salt) out of logs.
impl std::fmt::Debug for ScramCredentialUpsertion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramCredentialUpsertion")
            .field("name", &self.name)
            .field("mechanism", &self.mechanism)
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

/// AlterUserScramCredentials response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlterUserScramCredentialsResponse {
    /// Throttle time.
    pub throttle_time_ms: i32,
    /// One entry per user altered.
    pub results: Vec<AlterUserScramCredentialsResult>,
}

/// One user's outcome in an [`AlterUserScramCredentialsResponse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlterUserScramCredentialsResult {
    /// User name.
    pub user: String,
    /// E.g. `UNSUPPORTED_SASL_MECHANISM`, `UNACCEPTABLE_CREDENTIAL`,
    /// `RESOURCE_NOT_FOUND` (deleting a credential that does not exist).
    pub error_code: ErrorCode,
    /// The broker's message for `error_code`.
    pub error_message: Option<String>,
}

impl Request for AlterUserScramCredentialsRequest {
    const API_KEY: i16 = api_key::ALTER_USER_SCRAM_CREDENTIALS;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 0;
    const FIRST_FLEXIBLE: i16 = 0;
    type Response = AlterUserScramCredentialsResponse;

    fn encode(&self, _version: i16, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        e.array_of(&self.deletions, |e, d| {
            e.string(&d.name)?;
            e.i8(d.mechanism);
            e.tagged_fields();
            Ok(())
        })?;
        e.array_of(&self.upsertions, |e, u| {
            e.string(&u.name)?;
            e.i8(u.mechanism);
            e.i32(u.iterations);
            e.bytes(&u.salt)?;
            e.bytes(&u.salted_password)?;
            e.tagged_fields();
            Ok(())
        })?;
        e.tagged_fields();
        Ok(())
    }
}

impl Response for AlterUserScramCredentialsResponse {
    fn decode(_version: i16, d: &mut Decoder<'_>) -> DecodeResult<Self> {
        let throttle_time_ms = d.i32()?;
        // user, code, message, tagged fields.
        let results = d.array_of(5, |d| {
            let result = AlterUserScramCredentialsResult {
                user: d.string()?,
                error_code: ErrorCode::from_code(d.i16()?),
                error_message: d.nullable_string()?,
            };
            d.tagged_fields()?;
            Ok(result)
        })?;
        d.tagged_fields()?;
        Ok(AlterUserScramCredentialsResponse {
            throttle_time_ms,
            results,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::api::codec_checks::*;
    use kafka_protocol::messages::alter_user_scram_credentials_request::{
        ScramCredentialDeletion as OracleDeletion, ScramCredentialUpsertion as OracleUpsertion,
    };
    use kafka_protocol::messages::alter_user_scram_credentials_response::AlterUserScramCredentialsResult as OracleResult;
    use kafka_protocol::messages::{
        AlterUserScramCredentialsRequest as OracleRequest,
        AlterUserScramCredentialsResponse as OracleResponse,
    };

    type Req = AlterUserScramCredentialsRequest;

    fn sample_request() -> Req {
        Req {
            deletions: vec![ScramCredentialDeletion {
                name: "mallory".into(),
                mechanism: 2,
            }],
            upsertions: vec![ScramCredentialUpsertion {
                name: "alice".into(),
                mechanism: 1,
                iterations: 8192,
                salt: b"0123456789abcdef".to_vec(),
                salted_password: vec![0xa5; 32],
            }],
        }
    }

    fn oracle_request(r: &Req) -> OracleRequest {
        let mut o = OracleRequest::default();
        o.deletions = r
            .deletions
            .iter()
            .map(|d| {
                let mut od = OracleDeletion::default();
                od.name = oracle_str(&d.name);
                od.mechanism = d.mechanism;
                od
            })
            .collect();
        o.upsertions = r
            .upsertions
            .iter()
            .map(|u| {
                let mut ou = OracleUpsertion::default();
                ou.name = oracle_str(&u.name);
                ou.mechanism = u.mechanism;
                ou.iterations = u.iterations;
                ou.salt = bytes::Bytes::from(u.salt.clone());
                ou.salted_password = bytes::Bytes::from(u.salted_password.clone());
                ou
            })
            .collect();
        o
    }

    fn sample_response(_version: i16) -> AlterUserScramCredentialsResponse {
        AlterUserScramCredentialsResponse {
            throttle_time_ms: 0,
            results: vec![
                AlterUserScramCredentialsResult {
                    user: "alice".into(),
                    error_code: ErrorCode::None,
                    error_message: None,
                },
                AlterUserScramCredentialsResult {
                    user: "mallory".into(),
                    error_code: ErrorCode::from_code(91),
                    error_message: Some("no such credential".into()),
                },
            ],
        }
    }

    fn oracle_response(r: &AlterUserScramCredentialsResponse) -> OracleResponse {
        let mut o = OracleResponse::default();
        o.throttle_time_ms = r.throttle_time_ms;
        o.results = r
            .results
            .iter()
            .map(|u| {
                let mut ou = OracleResult::default();
                ou.user = oracle_str(&u.user);
                ou.error_code = u.error_code.code();
                ou.error_message = u.error_message.as_deref().map(oracle_str);
                ou
            })
            .collect();
        o
    }

    #[test]
    fn debug_hides_the_salt_and_salted_password() {
        let shown = format!("{:?}", sample_request());
        assert!(shown.contains("alice"), "{shown}");
        assert!(!shown.contains("165") && !shown.contains("salt"), "{shown}");
    }

    oracle_codec_tests! {
        request: Req,
        bare_bodies_up_to: 128,
        request_test request_matches_kafka_protocol:
            |_| [sample_request(), Req::default()] => |r, _| oracle_request(r),
        responses: sample_response => |r, _| oracle_response(r),
        corrupted_responses_never_panic,
    }
}
