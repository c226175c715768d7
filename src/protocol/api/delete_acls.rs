//! DeleteAcls (key 31): deletes the ACL bindings matching each filter and
//! returns what each filter matched.
//!
//! v1 adds the resource pattern type, v2 is flexible, v3 adds the user-group
//! resource type.
//!
//! # References
//! Kafka protocol guide, "DeleteAcls API"; KIP-140, KIP-290.

use super::describe_acls::{AclBindingData, AclFilterData};
use crate::protocol::{
    api_key, DecodeResult, Decoder, EncodeError, Encoder, ErrorCode, Request, Response,
};

/// DeleteAcls request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeleteAclsRequest {
    /// The filters; each binding matching one is deleted.
    pub filters: Vec<AclFilterData>,
}

/// DeleteAcls response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteAclsResponse {
    /// Throttle time.
    pub throttle_time_ms: i32,
    /// One result per filter, in request order.
    pub filter_results: Vec<DeleteAclsFilterResult>,
}

/// What one filter of a [`DeleteAclsRequest`] deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteAclsFilterResult {
    /// The filter's error.
    pub error_code: ErrorCode,
    /// The broker's message for `error_code`.
    pub error_message: Option<String>,
    /// The bindings the filter matched, each with its own error.
    pub matching_acls: Vec<(ErrorCode, Option<String>, AclBindingData)>,
}

impl Request for DeleteAclsRequest {
    const API_KEY: i16 = api_key::DELETE_ACLS;
    const MIN_VERSION: i16 = 1;
    const MAX_VERSION: i16 = 3;
    const FIRST_FLEXIBLE: i16 = 2;
    type Response = DeleteAclsResponse;

    fn encode(&self, _version: i16, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        e.array_of(&self.filters, |e, f| {
            f.encode(e)?;
            e.tagged_fields();
            Ok(())
        })?;
        e.tagged_fields();
        Ok(())
    }
}

impl Response for DeleteAclsResponse {
    fn decode(_version: i16, d: &mut Decoder<'_>) -> DecodeResult<Self> {
        let throttle_time_ms = d.i32()?;
        let filter_results = d.array_of(4, |d| {
            let error_code = ErrorCode::from_code(d.i16()?);
            let error_message = d.nullable_string()?;
            let matching_acls = d.array_of(12, |d| {
                let code = ErrorCode::from_code(d.i16()?);
                let message = d.nullable_string()?;
                let binding = AclBindingData {
                    resource_type: d.i8()?,
                    resource_name: d.string()?,
                    pattern_type: d.i8()?,
                    principal: d.string()?,
                    host: d.string()?,
                    operation: d.i8()?,
                    permission_type: d.i8()?,
                };
                d.tagged_fields()?;
                Ok((code, message, binding))
            })?;
            d.tagged_fields()?;
            Ok(DeleteAclsFilterResult {
                error_code,
                error_message,
                matching_acls,
            })
        })?;
        d.tagged_fields()?;
        Ok(DeleteAclsResponse {
            throttle_time_ms,
            filter_results,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::api::codec_checks::*;
    use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter as OracleFilter;
    use kafka_protocol::messages::delete_acls_response::{
        DeleteAclsFilterResult as OracleResult, DeleteAclsMatchingAcl as OracleMatch,
    };
    use kafka_protocol::messages::{
        DeleteAclsRequest as OracleRequest, DeleteAclsResponse as OracleResponse,
    };

    type Req = DeleteAclsRequest;

    fn sample_request() -> Req {
        Req {
            filters: vec![
                AclFilterData {
                    resource_type: 2,
                    resource_name: Some("events".into()),
                    pattern_type: 3,
                    principal: Some("User:alice".into()),
                    host: None,
                    operation: 1,
                    permission_type: 1,
                },
                AclFilterData {
                    resource_type: 1,
                    resource_name: None,
                    pattern_type: 1,
                    principal: None,
                    host: None,
                    operation: 1,
                    permission_type: 1,
                },
            ],
        }
    }

    fn oracle_request(r: &Req) -> OracleRequest {
        let mut o = OracleRequest::default();
        o.filters = r
            .filters
            .iter()
            .map(|f| {
                let mut of = OracleFilter::default();
                of.resource_type_filter = f.resource_type;
                of.resource_name_filter = f.resource_name.as_deref().map(oracle_str);
                of.pattern_type_filter = f.pattern_type;
                of.principal_filter = f.principal.as_deref().map(oracle_str);
                of.host_filter = f.host.as_deref().map(oracle_str);
                of.operation = f.operation;
                of.permission_type = f.permission_type;
                of
            })
            .collect();
        o
    }

    fn sample_response(_version: i16) -> DeleteAclsResponse {
        DeleteAclsResponse {
            throttle_time_ms: 0,
            filter_results: vec![
                DeleteAclsFilterResult {
                    error_code: ErrorCode::None,
                    error_message: None,
                    matching_acls: vec![(
                        ErrorCode::None,
                        None,
                        AclBindingData {
                            resource_type: 2,
                            resource_name: "events".into(),
                            pattern_type: 3,
                            principal: "User:alice".into(),
                            host: "*".into(),
                            operation: 3,
                            permission_type: 3,
                        },
                    )],
                },
                DeleteAclsFilterResult {
                    error_code: ErrorCode::from_code(54),
                    error_message: Some("no authorizer".into()),
                    matching_acls: vec![],
                },
            ],
        }
    }

    fn oracle_response(r: &DeleteAclsResponse) -> OracleResponse {
        let mut o = OracleResponse::default();
        o.throttle_time_ms = r.throttle_time_ms;
        o.filter_results = r
            .filter_results
            .iter()
            .map(|f| {
                let mut of = OracleResult::default();
                of.error_code = f.error_code.code();
                of.error_message = f.error_message.as_deref().map(oracle_str);
                of.matching_acls = f
                    .matching_acls
                    .iter()
                    .map(|(code, message, b)| {
                        let mut om = OracleMatch::default();
                        om.error_code = code.code();
                        om.error_message = message.as_deref().map(oracle_str);
                        om.resource_type = b.resource_type;
                        om.resource_name = oracle_str(&b.resource_name);
                        om.pattern_type = b.pattern_type;
                        om.principal = oracle_str(&b.principal);
                        om.host = oracle_str(&b.host);
                        om.operation = b.operation;
                        om.permission_type = b.permission_type;
                        om
                    })
                    .collect();
                of
            })
            .collect();
        o
    }

    oracle_codec_tests! {
        request: Req,
        bare_bodies_up_to: 128,
        request_test request_matches_kafka_protocol_at_every_version:
            |_| [sample_request()] => |r, _| oracle_request(r),
        responses: sample_response => |r, _| oracle_response(r),
        corrupted_responses_never_panic,
    }
}
