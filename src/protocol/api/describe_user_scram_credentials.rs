//! DescribeUserScramCredentials (key 50): which SCRAM mechanisms (and
//! iteration counts) each user has credentials for. Never the salts or keys.
//!
//! Only v0 exists; it is flexible. A null user list asks for every user.
//!
//! # References
//! Kafka protocol guide, "DescribeUserScramCredentials API"; KIP-554.

use crate::protocol::{
    api_key, DecodeResult, Decoder, EncodeError, Encoder, ErrorCode, Request, Response,
};

/// DescribeUserScramCredentials request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DescribeUserScramCredentialsRequest {
    /// The users to describe; `None` describes every user.
    pub users: Option<Vec<String>>,
}

/// DescribeUserScramCredentials response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeUserScramCredentialsResponse {
    /// Throttle time.
    pub throttle_time_ms: i32,
    /// A request-level error, e.g. `CLUSTER_AUTHORIZATION_FAILED`.
    pub error_code: ErrorCode,
    /// The broker's message for `error_code`.
    pub error_message: Option<String>,
    /// One entry per user.
    pub results: Vec<DescribeUserScramCredentialsResult>,
}

/// One user in a [`DescribeUserScramCredentialsResponse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeUserScramCredentialsResult {
    /// User name.
    pub user: String,
    /// E.g. `RESOURCE_NOT_FOUND` for a user without credentials.
    pub error_code: ErrorCode,
    /// The broker's message for `error_code`.
    pub error_message: Option<String>,
    /// The user's credentials.
    pub credential_infos: Vec<CredentialInfo>,
}

/// One credential of a user: its mechanism and iteration count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CredentialInfo {
    /// 1 for SCRAM-SHA-256, 2 for SCRAM-SHA-512 (0 unknown).
    pub mechanism: i8,
    /// PBKDF2 iterations.
    pub iterations: i32,
}

impl Request for DescribeUserScramCredentialsRequest {
    const API_KEY: i16 = api_key::DESCRIBE_USER_SCRAM_CREDENTIALS;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 0;
    const FIRST_FLEXIBLE: i16 = 0;
    type Response = DescribeUserScramCredentialsResponse;

    fn encode(&self, _version: i16, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        match &self.users {
            None => e.nullable_array_len(None)?,
            Some(users) => e.array_of(users, |e, u| {
                e.string(u)?;
                e.tagged_fields();
                Ok(())
            })?,
        }
        e.tagged_fields();
        Ok(())
    }
}

impl Response for DescribeUserScramCredentialsResponse {
    fn decode(_version: i16, d: &mut Decoder<'_>) -> DecodeResult<Self> {
        let throttle_time_ms = d.i32()?;
        let error_code = ErrorCode::from_code(d.i16()?);
        let error_message = d.nullable_string()?;
        // user, code, message, infos, tagged fields.
        let results = d.array_of(6, |d| {
            let user = d.string()?;
            let error_code = ErrorCode::from_code(d.i16()?);
            let error_message = d.nullable_string()?;
            // mechanism, iterations, tagged fields.
            let credential_infos = d.array_of(6, |d| {
                let info = CredentialInfo {
                    mechanism: d.i8()?,
                    iterations: d.i32()?,
                };
                d.tagged_fields()?;
                Ok(info)
            })?;
            d.tagged_fields()?;
            Ok(DescribeUserScramCredentialsResult {
                user,
                error_code,
                error_message,
                credential_infos,
            })
        })?;
        // tansu 0.6.0 answers with a null result list and no tagged-field
        // section after it: accept that empty answer.
        if !(results.is_empty() && d.remaining() == 0) {
            d.tagged_fields()?;
        }
        Ok(DescribeUserScramCredentialsResponse {
            throttle_time_ms,
            error_code,
            error_message,
            results,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::api::codec_checks::*;
    use kafka_protocol::messages::describe_user_scram_credentials_request::UserName;
    use kafka_protocol::messages::describe_user_scram_credentials_response::{
        CredentialInfo as OracleInfo, DescribeUserScramCredentialsResult as OracleResult,
    };
    use kafka_protocol::messages::{
        DescribeUserScramCredentialsRequest as OracleRequest,
        DescribeUserScramCredentialsResponse as OracleResponse,
    };

    type Req = DescribeUserScramCredentialsRequest;

    fn oracle_request(r: &Req) -> OracleRequest {
        let mut o = OracleRequest::default();
        o.users = r.users.as_ref().map(|users| {
            users
                .iter()
                .map(|u| {
                    let mut n = UserName::default();
                    n.name = oracle_str(u);
                    n
                })
                .collect()
        });
        o
    }

    fn sample_response(_version: i16) -> DescribeUserScramCredentialsResponse {
        DescribeUserScramCredentialsResponse {
            throttle_time_ms: 3,
            error_code: ErrorCode::None,
            error_message: None,
            results: vec![
                DescribeUserScramCredentialsResult {
                    user: "alice".into(),
                    error_code: ErrorCode::None,
                    error_message: None,
                    credential_infos: vec![
                        CredentialInfo {
                            mechanism: 1,
                            iterations: 8192,
                        },
                        CredentialInfo {
                            mechanism: 2,
                            iterations: 4096,
                        },
                    ],
                },
                DescribeUserScramCredentialsResult {
                    user: "nobody".into(),
                    error_code: ErrorCode::from_code(91),
                    error_message: Some("Attempt to describe a user credential that does not exist".into()),
                    credential_infos: vec![],
                },
            ],
        }
    }

    fn oracle_response(r: &DescribeUserScramCredentialsResponse) -> OracleResponse {
        let mut o = OracleResponse::default();
        o.throttle_time_ms = r.throttle_time_ms;
        o.error_code = r.error_code.code();
        o.error_message = r.error_message.as_deref().map(oracle_str);
        o.results = r
            .results
            .iter()
            .map(|u| {
                let mut ou = OracleResult::default();
                ou.user = oracle_str(&u.user);
                ou.error_code = u.error_code.code();
                ou.error_message = u.error_message.as_deref().map(oracle_str);
                ou.credential_infos = u
                    .credential_infos
                    .iter()
                    .map(|c| {
                        let mut oc = OracleInfo::default();
                        oc.mechanism = c.mechanism;
                        oc.iterations = c.iterations;
                        oc
                    })
                    .collect();
                ou
            })
            .collect();
        o
    }

    #[test]
    fn tansus_empty_answer_without_its_last_tagged_fields_decodes() {
        // throttle, error code, null message, null results: as tansu 0.6.0 sends.
        let body = [0, 0, 0, 0, 0, 0, 0, 0];
        let frame = response_frame::<Req>(0, &body);
        let response = decode::<Req>(0, &frame).unwrap();
        assert!(response.results.is_empty());
        assert_eq!(response.error_code, ErrorCode::None);
    }

    oracle_codec_tests! {
        request: Req,
        bare_bodies_up_to: 128,
        request_test request_matches_kafka_protocol_for_some_and_all_users: |_| {
            [
                Req {
                    users: Some(vec!["alice".into(), "bob".into()]),
                },
                Req { users: None },
                Req {
                    users: Some(vec![]),
                },
            ]
        } => |r, _| oracle_request(r),
        responses: sample_response => |r, _| oracle_response(r),
        corrupted_responses_never_panic,
    }
}
