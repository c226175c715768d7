//! CreateAcls (key 30): adds ACL bindings; one result per binding, in order.
//!
//! v1 adds the resource pattern type, v2 is flexible, v3 adds the user-group
//! resource type.
//!
//! # References
//! Kafka protocol guide, "CreateAcls API"; KIP-140, KIP-290.

use super::describe_acls::AclBindingData;
use crate::protocol::{
    api_key, DecodeResult, Decoder, EncodeError, Encoder, ErrorCode, Request, Response,
};

/// CreateAcls request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreateAclsRequest {
    /// The bindings to create.
    pub creations: Vec<AclBindingData>,
}

/// CreateAcls response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateAclsResponse {
    /// Throttle time.
    pub throttle_time_ms: i32,
    /// `(error code, message)` per creation, in request order.
    pub results: Vec<(ErrorCode, Option<String>)>,
}

impl Request for CreateAclsRequest {
    const API_KEY: i16 = api_key::CREATE_ACLS;
    const MIN_VERSION: i16 = 1;
    const MAX_VERSION: i16 = 3;
    const FIRST_FLEXIBLE: i16 = 2;
    type Response = CreateAclsResponse;

    fn encode(&self, _version: i16, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        e.array_of(&self.creations, |e, b| {
            e.i8(b.resource_type);
            e.string(&b.resource_name)?;
            e.i8(b.pattern_type);
            e.string(&b.principal)?;
            e.string(&b.host)?;
            e.i8(b.operation);
            e.i8(b.permission_type);
            e.tagged_fields();
            Ok(())
        })?;
        e.tagged_fields();
        Ok(())
    }
}

impl Response for CreateAclsResponse {
    fn decode(_version: i16, d: &mut Decoder<'_>) -> DecodeResult<Self> {
        let throttle_time_ms = d.i32()?;
        let results = d.array_of(3, |d| {
            let result = (ErrorCode::from_code(d.i16()?), d.nullable_string()?);
            d.tagged_fields()?;
            Ok(result)
        })?;
        // tansu 0.6.0 answers with a null result list and no tagged-field
        // section after it: accept that empty answer.
        if !(results.is_empty() && d.remaining() == 0) {
            d.tagged_fields()?;
        }
        Ok(CreateAclsResponse {
            throttle_time_ms,
            results,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::api::codec_checks::*;
    use kafka_protocol::messages::create_acls_request::AclCreation as OracleCreation;
    use kafka_protocol::messages::create_acls_response::AclCreationResult as OracleResult;
    use kafka_protocol::messages::{
        CreateAclsRequest as OracleRequest, CreateAclsResponse as OracleResponse,
    };

    type Req = CreateAclsRequest;

    fn sample_request() -> Req {
        Req {
            creations: vec![
                AclBindingData {
                    resource_type: 2,
                    resource_name: "events".into(),
                    pattern_type: 3,
                    principal: "User:alice".into(),
                    host: "*".into(),
                    operation: 3,
                    permission_type: 3,
                },
                AclBindingData {
                    resource_type: 3,
                    resource_name: "billing-".into(),
                    pattern_type: 4,
                    principal: "User:bob".into(),
                    host: "10.0.0.1".into(),
                    operation: 2,
                    permission_type: 2,
                },
            ],
        }
    }

    fn oracle_request(r: &Req) -> OracleRequest {
        let mut o = OracleRequest::default();
        o.creations = r
            .creations
            .iter()
            .map(|b| {
                let mut oc = OracleCreation::default();
                oc.resource_type = b.resource_type;
                oc.resource_name = oracle_str(&b.resource_name);
                oc.resource_pattern_type = b.pattern_type;
                oc.principal = oracle_str(&b.principal);
                oc.host = oracle_str(&b.host);
                oc.operation = b.operation;
                oc.permission_type = b.permission_type;
                oc
            })
            .collect();
        o
    }

    fn sample_response(_version: i16) -> CreateAclsResponse {
        CreateAclsResponse {
            throttle_time_ms: 0,
            results: vec![
                (ErrorCode::None, None),
                (ErrorCode::from_code(87), Some("invalid principal".into())),
            ],
        }
    }

    fn oracle_response(r: &CreateAclsResponse) -> OracleResponse {
        let mut o = OracleResponse::default();
        o.throttle_time_ms = r.throttle_time_ms;
        o.results = r
            .results
            .iter()
            .map(|(code, message)| {
                let mut or = OracleResult::default();
                or.error_code = code.code();
                or.error_message = message.as_deref().map(oracle_str);
                or
            })
            .collect();
        o
    }

    #[test]
    fn tansus_empty_answer_without_its_last_tagged_fields_decodes() {
        // throttle, null results: as tansu 0.6.0 sends at v3.
        let frame = response_frame::<Req>(3, &[0, 0, 0, 0, 0]);
        assert!(decode::<Req>(3, &frame).unwrap().results.is_empty());
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
