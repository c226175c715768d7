//! LeaveGroup (key 13): a member leaves its classic group at once instead of
//! waiting for its session to time out, so the rebalance starts right away.
//!
//! Up to v2 a request names one member; from v3 it carries a batch of member
//! identities (KIP-345) and the response answers each. v4 is flexible and v5
//! sends a reason (KIP-800). [`LeaveGroupRequest::member`] builds a
//! one-member request that encodes at every version.
//!
//! # References
//! Kafka protocol guide, "LeaveGroup API"; KIP-345 (static membership), KIP-800.

use crate::protocol::{
    api_key, DecodeResult, Decoder, EncodeError, Encoder, ErrorCode, Request, Response,
};

/// LeaveGroup request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaveGroupRequest {
    /// Group id.
    pub group_id: String,
    /// The members leaving. Before v3 exactly one, without a
    /// `group_instance_id` (sent as `member_id`); encoding fails otherwise.
    pub members: Vec<LeaveGroupRequestMember>,
}

impl LeaveGroupRequest {
    /// Member `member_id` leaves `group_id`; valid at every version.
    pub fn member(group_id: impl Into<String>, member_id: impl Into<String>) -> Self {
        LeaveGroupRequest {
            group_id: group_id.into(),
            members: vec![LeaveGroupRequestMember {
                member_id: member_id.into(),
                group_instance_id: None,
                reason: None,
            }],
        }
    }
}

/// One leaving member (`MemberIdentity` in Kafka's schema).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaveGroupRequestMember {
    /// Member id.
    pub member_id: String,
    /// The static member's instance id (v3+).
    pub group_instance_id: Option<String>,
    /// Why the member leaves (v5+; dropped earlier).
    pub reason: Option<String>,
}

/// LeaveGroup response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaveGroupResponse {
    /// Throttle time (v1+).
    pub throttle_time_ms: i32,
    /// Group-level error, e.g. `NOT_COORDINATOR`.
    pub error_code: ErrorCode,
    /// Per-member results (v3+; empty before).
    pub members: Vec<LeaveGroupResponseMember>,
}

/// One member's result (`MemberResponse` in Kafka's schema).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaveGroupResponseMember {
    /// Member id.
    pub member_id: String,
    /// The static member's instance id.
    pub group_instance_id: Option<String>,
    /// E.g. `UNKNOWN_MEMBER_ID`, `FENCED_INSTANCE_ID`.
    pub error_code: ErrorCode,
}

impl Request for LeaveGroupRequest {
    const API_KEY: i16 = api_key::LEAVE_GROUP;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 5;
    const FIRST_FLEXIBLE: i16 = 4;
    type Response = LeaveGroupResponse;

    fn encode(&self, version: i16, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        e.string(&self.group_id)?;
        if version >= 3 {
            e.array_of(&self.members, |e, m| {
                e.string(&m.member_id)?;
                e.nullable_string(m.group_instance_id.as_deref())?;
                if version >= 5 {
                    e.nullable_string(m.reason.as_deref())?;
                }
                e.tagged_fields();
                Ok(())
            })?;
        } else {
            match self.members.as_slice() {
                [m] if m.group_instance_id.is_none() => e.string(&m.member_id)?,
                _ => {
                    return Err(EncodeError::Unsupported(
                        "LeaveGroup before v3 names exactly one member, without group_instance_id",
                    ))
                }
            }
        }
        e.tagged_fields();
        Ok(())
    }
}

impl Response for LeaveGroupResponse {
    fn decode(version: i16, d: &mut Decoder<'_>) -> DecodeResult<Self> {
        let throttle_time_ms = if version >= 1 { d.i32()? } else { 0 };
        let error_code = ErrorCode::from_code(d.i16()?);
        let members = if version >= 3 {
            // member id, instance id, error code, tagged fields.
            d.array_of(5, |d| {
                let member = LeaveGroupResponseMember {
                    member_id: d.string()?,
                    group_instance_id: d.nullable_string()?,
                    error_code: ErrorCode::from_code(d.i16()?),
                };
                d.tagged_fields()?;
                Ok(member)
            })?
        } else {
            Vec::new()
        };
        d.tagged_fields()?;
        Ok(LeaveGroupResponse {
            throttle_time_ms,
            error_code,
            members,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::api::codec_checks::*;
    use kafka_protocol::messages::leave_group_request::MemberIdentity as OracleMember;
    use kafka_protocol::messages::leave_group_response::MemberResponse as OracleResult;
    use kafka_protocol::messages::{
        GroupId, LeaveGroupRequest as OracleRequest, LeaveGroupResponse as OracleResponse,
    };

    type Req = LeaveGroupRequest;

    fn oracle_request(r: &Req, version: i16) -> OracleRequest {
        let mut o = OracleRequest::default();
        o.group_id = GroupId(oracle_str(&r.group_id));
        if version >= 3 {
            o.members = r
                .members
                .iter()
                .map(|m| {
                    let mut om = OracleMember::default();
                    om.member_id = oracle_str(&m.member_id);
                    om.group_instance_id = m.group_instance_id.as_deref().map(oracle_str);
                    if version >= 5 {
                        om.reason = m.reason.as_deref().map(oracle_str);
                    }
                    om
                })
                .collect();
        } else {
            o.member_id = oracle_str(&r.members[0].member_id);
        }
        o
    }

    fn batched_request() -> Req {
        Req {
            group_id: "billing".into(),
            members: vec![
                LeaveGroupRequestMember {
                    member_id: "kafka-sync-3f1c9a2e".into(),
                    group_instance_id: Some("billing-host-1".into()),
                    reason: Some("the consumer is being closed".into()),
                },
                LeaveGroupRequestMember {
                    member_id: String::new(),
                    group_instance_id: Some("billing-host-2".into()),
                    reason: None,
                },
            ],
        }
    }

    #[test]
    fn one_member_request_matches_kafka_protocol_at_every_version() {
        let mut r = Req::member("billing", "kafka-sync-3f1c9a2e");
        r.members[0].reason = Some("the consumer is being closed".into());
        assert_every_request_version_matches_oracle(|_| [r.clone()], oracle_request);
    }

    #[test]
    fn batched_request_matches_kafka_protocol_from_v3() {
        let r = batched_request();
        for version in 3..=Req::MAX_VERSION {
            assert_request_matches_oracle(&r, &oracle_request(&r, version), version);
        }
    }

    #[test]
    fn batches_and_static_members_before_v3_are_encode_errors() {
        let mut one_static = Req::member("billing", "m");
        one_static.members[0].group_instance_id = Some("host-1".into());
        assert_encode_fails_before(&batched_request(), 3);
        assert_encode_fails_before(&one_static, 3);
    }

    fn sample_response(version: i16) -> LeaveGroupResponse {
        let members = if version >= 3 {
            vec![
                LeaveGroupResponseMember {
                    member_id: "kafka-sync-3f1c9a2e".into(),
                    group_instance_id: Some("billing-host-1".into()),
                    error_code: ErrorCode::None,
                },
                LeaveGroupResponseMember {
                    member_id: String::new(),
                    group_instance_id: None,
                    error_code: ErrorCode::from_code(25),
                },
            ]
        } else {
            Vec::new()
        };
        LeaveGroupResponse {
            throttle_time_ms: if version >= 1 { 5 } else { 0 },
            error_code: ErrorCode::None,
            members,
        }
    }

    fn oracle_response(r: &LeaveGroupResponse) -> OracleResponse {
        let mut o = OracleResponse::default();
        o.throttle_time_ms = r.throttle_time_ms;
        o.error_code = r.error_code.code();
        o.members = r
            .members
            .iter()
            .map(|m| {
                let mut om = OracleResult::default();
                om.member_id = oracle_str(&m.member_id);
                om.group_instance_id = m.group_instance_id.as_deref().map(oracle_str);
                om.error_code = m.error_code.code();
                om
            })
            .collect();
        o
    }

    oracle_codec_tests! {
        request: Req,
        bare_bodies_up_to: 128,
        responses: sample_response => |r, _| oracle_response(r),
        corrupted_responses_never_panic,
    }
}
