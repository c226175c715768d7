//! Heartbeat (key 12): keeps a classic group member alive between rebalances.
//!
//! The answer `REBALANCE_IN_PROGRESS` tells the member to join again. v3 adds
//! static membership and v4 is flexible.
//!
//! # References
//! Kafka protocol guide, "Heartbeat API"; KIP-62 (background heartbeats), KIP-345.

use crate::protocol::{
    api_key, DecodeResult, Decoder, EncodeError, Encoder, ErrorCode, Request, Response,
};

/// Heartbeat request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartbeatRequest {
    /// Group id.
    pub group_id: String,
    /// The member's current generation.
    pub generation_id: i32,
    /// This member's id.
    pub member_id: String,
    /// The static member's instance id (v3+; encoding fails below v3 when set).
    pub group_instance_id: Option<String>,
}

/// Heartbeat response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeartbeatResponse {
    /// Throttle time (v1+).
    pub throttle_time_ms: i32,
    /// E.g. `REBALANCE_IN_PROGRESS` (join again), `UNKNOWN_MEMBER_ID`,
    /// `ILLEGAL_GENERATION`, `FENCED_INSTANCE_ID`.
    pub error_code: ErrorCode,
}

impl Request for HeartbeatRequest {
    const API_KEY: i16 = api_key::HEARTBEAT;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 4;
    const FIRST_FLEXIBLE: i16 = 4;
    type Response = HeartbeatResponse;

    fn encode(&self, version: i16, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        e.string(&self.group_id)?;
        e.i32(self.generation_id);
        e.string(&self.member_id)?;
        if version >= 3 {
            e.nullable_string(self.group_instance_id.as_deref())?;
        } else if self.group_instance_id.is_some() {
            return Err(EncodeError::Unsupported(
                "Heartbeat carries group_instance_id from v3",
            ));
        }
        e.tagged_fields();
        Ok(())
    }
}

impl Response for HeartbeatResponse {
    fn decode(version: i16, d: &mut Decoder<'_>) -> DecodeResult<Self> {
        let throttle_time_ms = if version >= 1 { d.i32()? } else { 0 };
        let error_code = ErrorCode::from_code(d.i16()?);
        d.tagged_fields()?;
        Ok(HeartbeatResponse {
            throttle_time_ms,
            error_code,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::api::codec_checks::*;
    use kafka_protocol::messages::{
        GroupId, HeartbeatRequest as OracleRequest, HeartbeatResponse as OracleResponse,
    };

    type Req = HeartbeatRequest;

    fn sample_request(version: i16) -> Req {
        Req {
            group_id: "billing".into(),
            generation_id: 18,
            member_id: "kafka-sync-3f1c9a2e".into(),
            group_instance_id: (version >= 3).then(|| "billing-host-1".into()),
        }
    }

    fn oracle_request(r: &Req) -> OracleRequest {
        let mut o = OracleRequest::default();
        o.group_id = GroupId(oracle_str(&r.group_id));
        o.generation_id = r.generation_id;
        o.member_id = oracle_str(&r.member_id);
        o.group_instance_id = r.group_instance_id.as_deref().map(oracle_str);
        o
    }

    fn sample_response(version: i16) -> HeartbeatResponse {
        HeartbeatResponse {
            throttle_time_ms: if version >= 1 { 15 } else { 0 },
            error_code: ErrorCode::from_code(27),
        }
    }

    fn oracle_response(r: &HeartbeatResponse) -> OracleResponse {
        let mut o = OracleResponse::default();
        o.throttle_time_ms = r.throttle_time_ms;
        o.error_code = r.error_code.code();
        o
    }

    #[test]
    fn group_instance_id_before_v3_is_an_encode_error() {
        assert_encode_fails_before(&sample_request(3), 3);
    }

    oracle_codec_tests! {
        request: Req,
        bare_bodies_up_to: 32,
        request_test request_matches_kafka_protocol_at_every_version:
            |v| [sample_request(v)] => |r, _| oracle_request(r),
        responses: sample_response => |r, _| oracle_response(r),
    }
}
