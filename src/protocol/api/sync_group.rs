//! SyncGroup (key 14): the second step of a classic group rebalance.
//!
//! The leader sends every member's assignment (for consumers, a
//! [`ConsumerProtocolAssignment`](crate::protocol::consumer_protocol::ConsumerProtocolAssignment)
//! as opaque bytes); followers send none. Each member receives its own.
//! v3 adds static membership, v4 is flexible and v5 sends and returns the
//! protocol type and name, which the broker checks (KIP-559).
//!
//! # References
//! Kafka protocol guide, "SyncGroup API"; KIP-345, KIP-559.

use crate::protocol::{
    api_key, DecodeResult, Decoder, EncodeError, Encoder, ErrorCode, Request, Response,
};

/// SyncGroup request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncGroupRequest {
    /// Group id.
    pub group_id: String,
    /// The generation the JoinGroup response announced.
    pub generation_id: i32,
    /// This member's id.
    pub member_id: String,
    /// The static member's instance id (v3+; encoding fails below v3 when set).
    pub group_instance_id: Option<String>,
    /// The group's protocol type (v5+; dropped earlier).
    pub protocol_type: Option<String>,
    /// The chosen protocol (v5+; dropped earlier).
    pub protocol_name: Option<String>,
    /// Every member's assignment when this member leads; empty otherwise.
    pub assignments: Vec<SyncGroupRequestAssignment>,
}

/// One member's assignment, in a leader's [`SyncGroupRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncGroupRequestAssignment {
    /// Member id.
    pub member_id: String,
    /// The assignment, opaque to the broker.
    pub assignment: Vec<u8>,
}

/// SyncGroup response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncGroupResponse {
    /// Throttle time (v1+).
    pub throttle_time_ms: i32,
    /// E.g. `REBALANCE_IN_PROGRESS` (join again), `ILLEGAL_GENERATION`.
    pub error_code: ErrorCode,
    /// The group's protocol type (v5+).
    pub protocol_type: Option<String>,
    /// The chosen protocol (v5+).
    pub protocol_name: Option<String>,
    /// This member's assignment; may be empty when the leader assigned it nothing.
    pub assignment: Vec<u8>,
}

impl Request for SyncGroupRequest {
    const API_KEY: i16 = api_key::SYNC_GROUP;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 5;
    const FIRST_FLEXIBLE: i16 = 4;
    type Response = SyncGroupResponse;

    fn encode(&self, version: i16, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        e.string(&self.group_id)?;
        e.i32(self.generation_id);
        e.string(&self.member_id)?;
        if version >= 3 {
            e.nullable_string(self.group_instance_id.as_deref())?;
        } else if self.group_instance_id.is_some() {
            return Err(EncodeError::Unsupported(
                "SyncGroup carries group_instance_id from v3",
            ));
        }
        if version >= 5 {
            e.nullable_string(self.protocol_type.as_deref())?;
            e.nullable_string(self.protocol_name.as_deref())?;
        }
        e.array_of(&self.assignments, |e, a| {
            e.string(&a.member_id)?;
            e.bytes(&a.assignment)?;
            e.tagged_fields();
            Ok(())
        })?;
        e.tagged_fields();
        Ok(())
    }
}

impl Response for SyncGroupResponse {
    fn decode(version: i16, d: &mut Decoder<'_>) -> DecodeResult<Self> {
        let throttle_time_ms = if version >= 1 { d.i32()? } else { 0 };
        let error_code = ErrorCode::from_code(d.i16()?);
        let (protocol_type, protocol_name) = if version >= 5 {
            (d.nullable_string()?, d.nullable_string()?)
        } else {
            (None, None)
        };
        let assignment = d.bytes()?.to_vec();
        d.tagged_fields()?;
        Ok(SyncGroupResponse {
            throttle_time_ms,
            error_code,
            protocol_type,
            protocol_name,
            assignment,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::api::codec_checks::*;
    use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment as OracleAssignment;
    use kafka_protocol::messages::{
        GroupId, SyncGroupRequest as OracleRequest, SyncGroupResponse as OracleResponse,
    };

    type Req = SyncGroupRequest;

    fn sample_request(version: i16) -> Req {
        Req {
            group_id: "billing".into(),
            generation_id: 18,
            member_id: "kafka-sync-3f1c9a2e".into(),
            group_instance_id: (version >= 3).then(|| "billing-host-1".into()),
            protocol_type: Some("consumer".into()),
            protocol_name: Some("range".into()),
            assignments: vec![
                SyncGroupRequestAssignment {
                    member_id: "kafka-sync-3f1c9a2e".into(),
                    assignment: vec![0, 0, 0, 0, 0, 1, 0, 8, b'i', b'n', b'v', b'o', b'i', b'c'],
                },
                SyncGroupRequestAssignment {
                    member_id: "rdkafka-0c1d".into(),
                    assignment: vec![],
                },
            ],
        }
    }

    fn oracle_request(r: &Req, version: i16) -> OracleRequest {
        let mut o = OracleRequest::default();
        o.group_id = GroupId(oracle_str(&r.group_id));
        o.generation_id = r.generation_id;
        o.member_id = oracle_str(&r.member_id);
        o.group_instance_id = r.group_instance_id.as_deref().map(oracle_str);
        if version >= 5 {
            o.protocol_type = r.protocol_type.as_deref().map(oracle_str);
            o.protocol_name = r.protocol_name.as_deref().map(oracle_str);
        }
        o.assignments = r
            .assignments
            .iter()
            .map(|a| {
                let mut oa = OracleAssignment::default();
                oa.member_id = oracle_str(&a.member_id);
                oa.assignment = bytes::Bytes::from(a.assignment.clone());
                oa
            })
            .collect();
        o
    }

    fn sample_response(version: i16) -> SyncGroupResponse {
        SyncGroupResponse {
            throttle_time_ms: if version >= 1 { 40 } else { 0 },
            error_code: ErrorCode::None,
            protocol_type: (version >= 5).then(|| "consumer".into()),
            protocol_name: (version >= 5).then(|| "range".into()),
            assignment: vec![
                0, 3, 0, 0, 0, 1, 0, 7, b'r', b'e', b'f', b'u', b'n', b'd', b's',
            ],
        }
    }

    fn oracle_response(r: &SyncGroupResponse) -> OracleResponse {
        let mut o = OracleResponse::default();
        o.throttle_time_ms = r.throttle_time_ms;
        o.error_code = r.error_code.code();
        o.protocol_type = r.protocol_type.as_deref().map(oracle_str);
        o.protocol_name = r.protocol_name.as_deref().map(oracle_str);
        o.assignment = bytes::Bytes::from(r.assignment.clone());
        o
    }

    #[test]
    fn follower_request_without_assignments_matches_kafka_protocol() {
        let follower = |version| {
            let mut r = sample_request(version);
            r.assignments.clear();
            r.protocol_type = None;
            r.protocol_name = None;
            [r]
        };
        assert_every_request_version_matches_oracle(follower, oracle_request);
    }

    #[test]
    fn group_instance_id_before_v3_is_an_encode_error() {
        assert_encode_fails_before(&sample_request(3), 3);
    }

    oracle_codec_tests! {
        request: Req,
        bare_bodies_up_to: 128,
        request_test request_matches_kafka_protocol_at_every_version:
            |v| [sample_request(v)] => oracle_request,
        responses: sample_response => |r, _| oracle_response(r),
        corrupted_responses_never_panic,
    }
}
