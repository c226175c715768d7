//! DescribeGroups (key 15): a classic group's state, protocol and members
//! with their metadata and assignments, for administration and tests.
//!
//! v3 can ask for the caller's authorized operations, v4 returns static
//! members' instance ids and v5 is flexible.
//!
//! # References
//! Kafka protocol guide, "DescribeGroups API"; KIP-430 (authorized
//! operations), KIP-345.

use crate::protocol::{
    api_key, DecodeResult, Decoder, EncodeError, Encoder, ErrorCode, Request, Response,
};

/// DescribeGroups request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DescribeGroupsRequest {
    /// The groups to describe.
    pub groups: Vec<String>,
    /// Whether to return the caller's authorized operations on each group
    /// (v3+; encoding fails below v3 when set).
    pub include_authorized_operations: bool,
}

/// DescribeGroups response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeGroupsResponse {
    /// Throttle time (v1+).
    pub throttle_time_ms: i32,
    /// One entry per group asked for.
    pub groups: Vec<DescribedGroup>,
}

/// One group in a [`DescribeGroupsResponse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribedGroup {
    /// E.g. `NOT_COORDINATOR`, `GROUP_AUTHORIZATION_FAILED`.
    pub error_code: ErrorCode,
    /// Group id.
    pub group_id: String,
    /// `Empty`, `PreparingRebalance`, `CompletingRebalance`, `Stable` or `Dead`.
    pub group_state: String,
    /// The protocol type, `consumer` for consumer groups; empty when unknown.
    pub protocol_type: String,
    /// The chosen protocol (the assignor for consumer groups), in `Stable` state.
    pub protocol_data: String,
    /// The members; empty when the group is `Dead`.
    pub members: Vec<DescribedGroupMember>,
    /// Bit field of the caller's authorized operations (v3+), `i32::MIN`
    /// when not requested.
    pub authorized_operations: i32,
}

/// One member in a [`DescribedGroup`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribedGroupMember {
    /// Member id.
    pub member_id: String,
    /// The static member's instance id (v4+).
    pub group_instance_id: Option<String>,
    /// The client id the member connected with.
    pub client_id: String,
    /// The member's host, as the broker saw it.
    pub client_host: String,
    /// The member's metadata for the chosen protocol (in `Stable` state).
    pub member_metadata: Vec<u8>,
    /// The member's assignment (in `Stable` state).
    pub member_assignment: Vec<u8>,
}

impl Request for DescribeGroupsRequest {
    const API_KEY: i16 = api_key::DESCRIBE_GROUPS;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 5;
    const FIRST_FLEXIBLE: i16 = 5;
    type Response = DescribeGroupsResponse;

    fn encode(&self, version: i16, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        e.array_of(&self.groups, |e, g| e.string(g))?;
        if version >= 3 {
            e.bool(self.include_authorized_operations);
        } else if self.include_authorized_operations {
            return Err(EncodeError::Unsupported(
                "DescribeGroups returns authorized operations from v3",
            ));
        }
        e.tagged_fields();
        Ok(())
    }
}

impl Response for DescribeGroupsResponse {
    fn decode(version: i16, d: &mut Decoder<'_>) -> DecodeResult<Self> {
        let throttle_time_ms = if version >= 1 { d.i32()? } else { 0 };
        // error code, five strings, member count, tagged fields.
        let groups = d.array_of(9, |d| {
            let error_code = ErrorCode::from_code(d.i16()?);
            let group_id = d.string()?;
            let group_state = d.string()?;
            let protocol_type = d.string()?;
            let protocol_data = d.string()?;
            // four strings, two byte arrays, tagged fields.
            let members = d.array_of(7, |d| {
                let member_id = d.string()?;
                let group_instance_id = if version >= 4 {
                    d.nullable_string()?
                } else {
                    None
                };
                let member = DescribedGroupMember {
                    member_id,
                    group_instance_id,
                    client_id: d.string()?,
                    client_host: d.string()?,
                    member_metadata: d.bytes()?.to_vec(),
                    member_assignment: d.bytes()?.to_vec(),
                };
                d.tagged_fields()?;
                Ok(member)
            })?;
            let authorized_operations = if version >= 3 { d.i32()? } else { i32::MIN };
            d.tagged_fields()?;
            Ok(DescribedGroup {
                error_code,
                group_id,
                group_state,
                protocol_type,
                protocol_data,
                members,
                authorized_operations,
            })
        })?;
        d.tagged_fields()?;
        Ok(DescribeGroupsResponse {
            throttle_time_ms,
            groups,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::api::codec_checks::*;
    use kafka_protocol::messages::describe_groups_response::{
        DescribedGroup as OracleGroup, DescribedGroupMember as OracleMember,
    };
    use kafka_protocol::messages::{
        DescribeGroupsRequest as OracleRequest, DescribeGroupsResponse as OracleResponse, GroupId,
    };

    type Req = DescribeGroupsRequest;

    fn sample_request(version: i16) -> Req {
        Req {
            groups: vec!["billing".into(), "audit".into()],
            include_authorized_operations: version >= 3,
        }
    }

    fn oracle_request(r: &Req) -> OracleRequest {
        let mut o = OracleRequest::default();
        o.groups = r.groups.iter().map(|g| GroupId(oracle_str(g))).collect();
        o.include_authorized_operations = r.include_authorized_operations;
        o
    }

    fn sample_response(version: i16) -> DescribeGroupsResponse {
        let stable = DescribedGroup {
            error_code: ErrorCode::None,
            group_id: "billing".into(),
            group_state: "Stable".into(),
            protocol_type: "consumer".into(),
            protocol_data: "range".into(),
            members: vec![
                DescribedGroupMember {
                    member_id: "kafka-sync-3f1c9a2e".into(),
                    group_instance_id: (version >= 4).then(|| "billing-host-1".into()),
                    client_id: "kafka-sync".into(),
                    client_host: "/10.0.0.7".into(),
                    member_metadata: vec![0, 0, 0, 0, 0, 1, 0, 1, b'x', 0xff, 0xff, 0xff, 0xff],
                    member_assignment: vec![0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                },
                DescribedGroupMember {
                    member_id: "rdkafka-0c1d".into(),
                    group_instance_id: None,
                    client_id: "rdkafka".into(),
                    client_host: "/10.0.0.8".into(),
                    member_metadata: vec![],
                    member_assignment: vec![],
                },
            ],
            authorized_operations: if version >= 3 {
                0b1_0110_0000
            } else {
                i32::MIN
            },
        };
        let dead = DescribedGroup {
            error_code: ErrorCode::from_code(16),
            group_id: "audit".into(),
            group_state: "Dead".into(),
            protocol_type: String::new(),
            protocol_data: String::new(),
            members: vec![],
            authorized_operations: i32::MIN,
        };
        DescribeGroupsResponse {
            throttle_time_ms: if version >= 1 { 9 } else { 0 },
            groups: vec![stable, dead],
        }
    }

    fn oracle_response(r: &DescribeGroupsResponse) -> OracleResponse {
        let mut o = OracleResponse::default();
        o.throttle_time_ms = r.throttle_time_ms;
        o.groups = r
            .groups
            .iter()
            .map(|g| {
                let mut og = OracleGroup::default();
                og.error_code = g.error_code.code();
                og.group_id = GroupId(oracle_str(&g.group_id));
                og.group_state = oracle_str(&g.group_state);
                og.protocol_type = oracle_str(&g.protocol_type);
                og.protocol_data = oracle_str(&g.protocol_data);
                og.authorized_operations = g.authorized_operations;
                og.members = g
                    .members
                    .iter()
                    .map(|m| {
                        let mut om = OracleMember::default();
                        om.member_id = oracle_str(&m.member_id);
                        om.group_instance_id = m.group_instance_id.as_deref().map(oracle_str);
                        om.client_id = oracle_str(&m.client_id);
                        om.client_host = oracle_str(&m.client_host);
                        om.member_metadata = bytes::Bytes::from(m.member_metadata.clone());
                        om.member_assignment = bytes::Bytes::from(m.member_assignment.clone());
                        om
                    })
                    .collect();
                og
            })
            .collect();
        o
    }

    #[test]
    fn authorized_operations_before_v3_are_an_encode_error() {
        assert_encode_fails_before(&sample_request(3), 3);
    }

    oracle_codec_tests! {
        request: Req,
        bare_bodies_up_to: 128,
        request_test request_matches_kafka_protocol_at_every_version:
            |v| [sample_request(v)] => |r, _| oracle_request(r),
        responses: sample_response => |r, _| oracle_response(r),
        corrupted_responses_never_panic,
    }
}
