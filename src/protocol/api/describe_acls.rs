//! DescribeAcls (key 29): the ACL bindings matching a filter.
//!
//! v1 (the oldest Kafka 4 accepts, KIP-896) adds the resource pattern type
//! (KIP-290), v2 is flexible, v3 adds the user-group resource type.
//!
//! # References
//! Kafka protocol guide, "DescribeAcls API"; KIP-140, KIP-290.

use crate::protocol::{
    api_key, DecodeResult, Decoder, EncodeError, Encoder, ErrorCode, Request, Response,
};

/// An ACL filter on the wire: null strings and the `ANY` codes match every
/// value. Shared by DescribeAcls and DeleteAcls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclFilterData {
    /// Resource type code (1 any, 2 topic, 3 group, 4 cluster, …).
    pub resource_type: i8,
    /// Resource name; `None` matches every name.
    pub resource_name: Option<String>,
    /// Pattern type code (1 any, 2 match, 3 literal, 4 prefixed).
    pub pattern_type: i8,
    /// Principal (`User:alice`); `None` matches every principal.
    pub principal: Option<String>,
    /// Host; `None` matches every host.
    pub host: Option<String>,
    /// Operation code (1 any, 2 all, 3 read, 4 write, …).
    pub operation: i8,
    /// Permission type code (1 any, 2 deny, 3 allow).
    pub permission_type: i8,
}

impl AclFilterData {
    pub(crate) fn encode(&self, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        e.i8(self.resource_type);
        e.nullable_string(self.resource_name.as_deref())?;
        e.i8(self.pattern_type);
        e.nullable_string(self.principal.as_deref())?;
        e.nullable_string(self.host.as_deref())?;
        e.i8(self.operation);
        e.i8(self.permission_type);
        Ok(())
    }
}

/// An ACL binding on the wire. Shared by the three ACL APIs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclBindingData {
    /// Resource type code (2 topic, 3 group, 4 cluster, …).
    pub resource_type: i8,
    /// Resource name (`kafka-cluster` for the cluster).
    pub resource_name: String,
    /// Pattern type code (3 literal, 4 prefixed).
    pub pattern_type: i8,
    /// Principal (`User:alice`).
    pub principal: String,
    /// Host (`*` for every host).
    pub host: String,
    /// Operation code (2 all, 3 read, 4 write, …).
    pub operation: i8,
    /// Permission type code (2 deny, 3 allow).
    pub permission_type: i8,
}

/// DescribeAcls request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeAclsRequest {
    /// Which bindings to describe.
    pub filter: AclFilterData,
}

/// DescribeAcls response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeAclsResponse {
    /// Throttle time.
    pub throttle_time_ms: i32,
    /// E.g. `SECURITY_DISABLED` when the broker has no authorizer.
    pub error_code: ErrorCode,
    /// The broker's message for `error_code`.
    pub error_message: Option<String>,
    /// The matching bindings, flattened from the per-resource lists.
    pub bindings: Vec<AclBindingData>,
}

impl Request for DescribeAclsRequest {
    const API_KEY: i16 = api_key::DESCRIBE_ACLS;
    const MIN_VERSION: i16 = 1;
    const MAX_VERSION: i16 = 3;
    const FIRST_FLEXIBLE: i16 = 2;
    type Response = DescribeAclsResponse;

    fn encode(&self, _version: i16, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        self.filter.encode(e)?;
        e.tagged_fields();
        Ok(())
    }
}

impl Response for DescribeAclsResponse {
    fn decode(_version: i16, d: &mut Decoder<'_>) -> DecodeResult<Self> {
        let throttle_time_ms = d.i32()?;
        let error_code = ErrorCode::from_code(d.i16()?);
        let error_message = d.nullable_string()?;
        let mut bindings = Vec::new();
        // type, name, pattern, acls, tagged fields.
        let resources = d.array_of(5, |d| {
            let resource_type = d.i8()?;
            let resource_name = d.string()?;
            let pattern_type = d.i8()?;
            // principal, host, operation, permission, tagged fields.
            let acls = d.array_of(5, |d| {
                let acl = (d.string()?, d.string()?, d.i8()?, d.i8()?);
                d.tagged_fields()?;
                Ok(acl)
            })?;
            d.tagged_fields()?;
            Ok((resource_type, resource_name, pattern_type, acls))
        })?;
        for (resource_type, resource_name, pattern_type, acls) in resources {
            for (principal, host, operation, permission_type) in acls {
                bindings.push(AclBindingData {
                    resource_type,
                    resource_name: resource_name.clone(),
                    pattern_type,
                    principal,
                    host,
                    operation,
                    permission_type,
                });
            }
        }
        d.tagged_fields()?;
        Ok(DescribeAclsResponse {
            throttle_time_ms,
            error_code,
            error_message,
            bindings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::api::codec_checks::*;
    use kafka_protocol::messages::describe_acls_response::{
        AclDescription as OracleAcl, DescribeAclsResource as OracleResource,
    };
    use kafka_protocol::messages::{
        DescribeAclsRequest as OracleRequest, DescribeAclsResponse as OracleResponse,
    };

    type Req = DescribeAclsRequest;

    fn filters() -> [AclFilterData; 2] {
        [
            AclFilterData {
                resource_type: 2,
                resource_name: Some("events".into()),
                pattern_type: 3,
                principal: Some("User:alice".into()),
                host: Some("*".into()),
                operation: 3,
                permission_type: 3,
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
        ]
    }

    fn oracle_request(r: &Req) -> OracleRequest {
        let f = &r.filter;
        let mut o = OracleRequest::default();
        o.resource_type_filter = f.resource_type;
        o.resource_name_filter = f.resource_name.as_deref().map(oracle_str);
        o.pattern_type_filter = f.pattern_type;
        o.principal_filter = f.principal.as_deref().map(oracle_str);
        o.host_filter = f.host.as_deref().map(oracle_str);
        o.operation = f.operation;
        o.permission_type = f.permission_type;
        o
    }

    fn binding(name: &str, principal: &str, operation: i8) -> AclBindingData {
        AclBindingData {
            resource_type: 2,
            resource_name: name.into(),
            pattern_type: 3,
            principal: principal.into(),
            host: "*".into(),
            operation,
            permission_type: 3,
        }
    }

    fn sample_response(_version: i16) -> DescribeAclsResponse {
        DescribeAclsResponse {
            throttle_time_ms: 4,
            error_code: ErrorCode::None,
            error_message: None,
            bindings: vec![
                binding("events", "User:alice", 3),
                binding("events", "User:bob", 4),
                binding("audit", "User:alice", 3),
            ],
        }
    }

    /// The oracle groups bindings by resource, in order of first appearance.
    fn oracle_response(r: &DescribeAclsResponse) -> OracleResponse {
        let mut o = OracleResponse::default();
        o.throttle_time_ms = r.throttle_time_ms;
        o.error_code = r.error_code.code();
        o.error_message = r.error_message.as_deref().map(oracle_str);
        for b in &r.bindings {
            let mut acl = OracleAcl::default();
            acl.principal = oracle_str(&b.principal);
            acl.host = oracle_str(&b.host);
            acl.operation = b.operation;
            acl.permission_type = b.permission_type;
            match o.resources.iter_mut().find(|res| {
                res.resource_type == b.resource_type
                    && res.resource_name.as_str() == b.resource_name
                    && res.pattern_type == b.pattern_type
            }) {
                Some(res) => res.acls.push(acl),
                None => {
                    let mut res = OracleResource::default();
                    res.resource_type = b.resource_type;
                    res.resource_name = oracle_str(&b.resource_name);
                    res.pattern_type = b.pattern_type;
                    res.acls.push(acl);
                    o.resources.push(res);
                }
            }
        }
        o
    }

    oracle_codec_tests! {
        request: Req,
        bare_bodies_up_to: 128,
        request_test request_matches_kafka_protocol_at_every_version:
            |_| filters().map(|filter| Req { filter }) => |r, _| oracle_request(r),
        responses: sample_response => |r, _| oracle_response(r),
        corrupted_responses_never_panic,
    }
}
