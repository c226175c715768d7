//! JoinGroup (key 11): the first step of a classic group rebalance.
//!
//! Each member sends the protocols it supports (for consumers, protocol type
//! `consumer` with one assignor per protocol, each carrying a
//! [`ConsumerProtocolSubscription`](crate::protocol::consumer_protocol::ConsumerProtocolSubscription)
//! as opaque metadata). The coordinator picks one protocol, names a leader and
//! sends the leader every member's metadata.
//!
//! Since v4 a member joining with an empty member id is answered
//! `MEMBER_ID_REQUIRED` with its new id in `member_id`, and must join again
//! with it (KIP-394). v2 is the oldest version Kafka 4.0 still accepts
//! (KIP-896); v5 adds static membership, v6 is flexible, v7 returns the
//! protocol type, v8 sends a reason and v9 tells a leader whose assignment the
//! broker computes to skip it.
//!
//! # References
//! Kafka protocol guide, "JoinGroup API"; KIP-345 (static membership),
//! KIP-394, KIP-559, KIP-800 (reasons), KIP-814 (skip assignment), KIP-896.

use crate::protocol::{
    api_key, DecodeResult, Decoder, EncodeError, Encoder, ErrorCode, Request, Response,
};

/// JoinGroup request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinGroupRequest {
    /// Group id.
    pub group_id: String,
    /// How long the coordinator waits for a heartbeat before evicting the member.
    pub session_timeout_ms: i32,
    /// How long the coordinator waits for every member to rejoin during a rebalance.
    pub rebalance_timeout_ms: i32,
    /// The member id from an earlier join, or empty on the first join.
    pub member_id: String,
    /// The static member's instance id (v5+; encoding fails below v5 when set).
    pub group_instance_id: Option<String>,
    /// The protocol type, `consumer` for consumer groups.
    pub protocol_type: String,
    /// The protocols this member supports, most preferred first.
    pub protocols: Vec<JoinGroupRequestProtocol>,
    /// Why the member (re)joins (v8+; dropped earlier).
    pub reason: Option<String>,
}

/// One protocol a member supports, in a [`JoinGroupRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinGroupRequestProtocol {
    /// Protocol name, for consumers the assignor (`range`, `cooperative-sticky`, …).
    pub name: String,
    /// Protocol metadata, opaque to the broker.
    pub metadata: Vec<u8>,
}

/// JoinGroup response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinGroupResponse {
    /// Throttle time.
    pub throttle_time_ms: i32,
    /// E.g. `MEMBER_ID_REQUIRED` (join again with `member_id`),
    /// `UNKNOWN_MEMBER_ID`, `INCONSISTENT_GROUP_PROTOCOL`.
    pub error_code: ErrorCode,
    /// The new generation, -1 on error.
    pub generation_id: i32,
    /// The group's protocol type (v7+).
    pub protocol_type: Option<String>,
    /// The protocol the coordinator chose (`None` only from v7).
    pub protocol_name: Option<String>,
    /// The leader's member id.
    pub leader: String,
    /// Whether the leader should skip computing the assignment (v9+).
    pub skip_assignment: bool,
    /// This member's id.
    pub member_id: String,
    /// Every member and its metadata; empty unless this member leads.
    pub members: Vec<JoinGroupResponseMember>,
}

impl JoinGroupResponse {
    /// Whether this member was chosen to compute the assignment.
    pub fn is_leader(&self) -> bool {
        !self.member_id.is_empty() && self.leader == self.member_id
    }
}

/// One member of the group, in a [`JoinGroupResponse`] sent to the leader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinGroupResponseMember {
    /// Member id.
    pub member_id: String,
    /// The static member's instance id (v5+).
    pub group_instance_id: Option<String>,
    /// The member's metadata for the chosen protocol.
    pub metadata: Vec<u8>,
}

impl Request for JoinGroupRequest {
    const API_KEY: i16 = api_key::JOIN_GROUP;
    const MIN_VERSION: i16 = 2;
    const MAX_VERSION: i16 = 9;
    const FIRST_FLEXIBLE: i16 = 6;
    type Response = JoinGroupResponse;

    fn encode(&self, version: i16, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        e.string(&self.group_id)?;
        e.i32(self.session_timeout_ms);
        e.i32(self.rebalance_timeout_ms);
        e.string(&self.member_id)?;
        if version >= 5 {
            e.nullable_string(self.group_instance_id.as_deref())?;
        } else if self.group_instance_id.is_some() {
            return Err(EncodeError::Unsupported(
                "JoinGroup carries group_instance_id from v5",
            ));
        }
        e.string(&self.protocol_type)?;
        e.array_of(&self.protocols, |e, p| {
            e.string(&p.name)?;
            e.bytes(&p.metadata)?;
            e.tagged_fields();
            Ok(())
        })?;
        if version >= 8 {
            e.nullable_string(self.reason.as_deref())?;
        }
        e.tagged_fields();
        Ok(())
    }
}

impl Response for JoinGroupResponse {
    fn decode(version: i16, d: &mut Decoder<'_>) -> DecodeResult<Self> {
        let throttle_time_ms = d.i32()?;
        let error_code = ErrorCode::from_code(d.i16()?);
        let generation_id = d.i32()?;
        let (protocol_type, protocol_name) = if version >= 7 {
            (d.nullable_string()?, d.nullable_string()?)
        } else {
            (None, Some(d.string()?))
        };
        let leader = d.string()?;
        let skip_assignment = version >= 9 && d.bool()?;
        let member_id = d.string()?;
        // member id, metadata, tagged fields.
        let members = d.array_of(3, |d| {
            let member_id = d.string()?;
            let group_instance_id = if version >= 5 {
                d.nullable_string()?
            } else {
                None
            };
            let metadata = d.bytes()?.to_vec();
            d.tagged_fields()?;
            Ok(JoinGroupResponseMember {
                member_id,
                group_instance_id,
                metadata,
            })
        })?;
        d.tagged_fields()?;
        Ok(JoinGroupResponse {
            throttle_time_ms,
            error_code,
            generation_id,
            protocol_type,
            protocol_name,
            leader,
            skip_assignment,
            member_id,
            members,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::api::codec_checks::*;
    use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol as OracleProtocol;
    use kafka_protocol::messages::join_group_response::JoinGroupResponseMember as OracleMember;
    use kafka_protocol::messages::{
        GroupId, JoinGroupRequest as OracleRequest, JoinGroupResponse as OracleResponse,
    };

    type Req = JoinGroupRequest;

    fn sample_request(version: i16) -> Req {
        Req {
            group_id: "billing".into(),
            session_timeout_ms: 6_000,
            rebalance_timeout_ms: 300_000,
            member_id: "kafka-sync-3f1c9a2e".into(),
            group_instance_id: (version >= 5).then(|| "billing-host-1".into()),
            protocol_type: "consumer".into(),
            protocols: vec![
                JoinGroupRequestProtocol {
                    name: "cooperative-sticky".into(),
                    metadata: vec![0, 3, 0, 0, 0, 1, 0, 8, b'i', b'n', b'v', b'o', b'i', b'c'],
                },
                JoinGroupRequestProtocol {
                    name: "range".into(),
                    metadata: vec![],
                },
            ],
            reason: Some("rebalance after metadata change".into()),
        }
    }

    fn oracle_request(r: &Req, version: i16) -> OracleRequest {
        let mut o = OracleRequest::default();
        o.group_id = GroupId(oracle_str(&r.group_id));
        o.session_timeout_ms = r.session_timeout_ms;
        o.rebalance_timeout_ms = r.rebalance_timeout_ms;
        o.member_id = oracle_str(&r.member_id);
        o.group_instance_id = r.group_instance_id.as_deref().map(oracle_str);
        o.protocol_type = oracle_str(&r.protocol_type);
        o.protocols = r
            .protocols
            .iter()
            .map(|p| {
                let mut op = OracleProtocol::default();
                op.name = oracle_str(&p.name);
                op.metadata = bytes::Bytes::from(p.metadata.clone());
                op
            })
            .collect();
        if version >= 8 {
            o.reason = r.reason.as_deref().map(oracle_str);
        }
        o
    }

    fn sample_response(version: i16) -> JoinGroupResponse {
        let member = |id: &str, instance: &str, metadata: &[u8]| JoinGroupResponseMember {
            member_id: id.into(),
            group_instance_id: (version >= 5).then(|| instance.to_owned()),
            metadata: metadata.to_vec(),
        };
        JoinGroupResponse {
            throttle_time_ms: 30,
            error_code: ErrorCode::None,
            generation_id: 18,
            protocol_type: (version >= 7).then(|| "consumer".into()),
            protocol_name: Some("cooperative-sticky".into()),
            leader: "kafka-sync-3f1c9a2e".into(),
            skip_assignment: version >= 9,
            member_id: "kafka-sync-3f1c9a2e".into(),
            members: vec![
                member("kafka-sync-3f1c9a2e", "billing-host-1", &[0, 1, 2, 3]),
                member("rdkafka-0c1d", "billing-host-2", &[]),
            ],
        }
    }

    fn oracle_response(r: &JoinGroupResponse) -> OracleResponse {
        let mut o = OracleResponse::default();
        o.throttle_time_ms = r.throttle_time_ms;
        o.error_code = r.error_code.code();
        o.generation_id = r.generation_id;
        o.protocol_type = r.protocol_type.as_deref().map(oracle_str);
        o.protocol_name = r.protocol_name.as_deref().map(oracle_str);
        o.leader = oracle_str(&r.leader);
        o.skip_assignment = r.skip_assignment;
        o.member_id = oracle_str(&r.member_id);
        o.members = r
            .members
            .iter()
            .map(|m| {
                let mut om = OracleMember::default();
                om.member_id = oracle_str(&m.member_id);
                om.group_instance_id = m.group_instance_id.as_deref().map(oracle_str);
                om.metadata = bytes::Bytes::from(m.metadata.clone());
                om
            })
            .collect();
        o
    }

    #[test]
    fn group_instance_id_before_v5_is_an_encode_error() {
        assert_encode_fails_before(&sample_request(5), 5);
    }

    #[test]
    fn member_id_required_answer_carries_the_new_member_id() {
        let mut want = sample_response(9);
        want.error_code = ErrorCode::from_code(79);
        want.generation_id = -1;
        want.protocol_type = None;
        want.protocol_name = None;
        want.leader = String::new();
        want.skip_assignment = false;
        want.member_id = "kafka-sync-0a1b2c".into();
        want.members.clear();
        let got = decode_oracle_response::<Req, _>(&oracle_response(&want), 9);
        assert_eq!(got, want);
        assert!(!got.is_leader());
    }

    #[test]
    fn the_member_named_leader_is_the_leader() {
        let mut response = sample_response(9);
        assert!(response.is_leader());
        response.member_id = "rdkafka-0c1d".into();
        assert!(!response.is_leader());
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
