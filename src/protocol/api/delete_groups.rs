//! DeleteGroups (key 42): deletes empty groups and their committed offsets,
//! sent to each group's coordinator.
//!
//! v1 is the same as v0 (throttling changed), v2 is flexible.
//!
//! # References
//! Kafka protocol guide, "DeleteGroups API"; KIP-229.

use crate::protocol::{
    api_key, DecodeResult, Decoder, EncodeError, Encoder, ErrorCode, Request, Response,
};

/// DeleteGroups request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeleteGroupsRequest {
    /// The groups to delete.
    pub groups_names: Vec<String>,
}

/// DeleteGroups response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteGroupsResponse {
    /// Throttle time.
    pub throttle_time_ms: i32,
    /// One entry per group.
    pub results: Vec<DeletableGroupResult>,
}

/// One group's outcome in a [`DeleteGroupsResponse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletableGroupResult {
    /// Group id.
    pub group_id: String,
    /// E.g. `GROUP_ID_NOT_FOUND`, `NON_EMPTY_GROUP`, `NOT_COORDINATOR`.
    pub error_code: ErrorCode,
}

impl Request for DeleteGroupsRequest {
    const API_KEY: i16 = api_key::DELETE_GROUPS;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 2;
    const FIRST_FLEXIBLE: i16 = 2;
    type Response = DeleteGroupsResponse;

    fn encode(&self, _version: i16, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        e.array_of(&self.groups_names, |e, g| e.string(g))?;
        e.tagged_fields();
        Ok(())
    }
}

impl Response for DeleteGroupsResponse {
    fn decode(_version: i16, d: &mut Decoder<'_>) -> DecodeResult<Self> {
        let throttle_time_ms = d.i32()?;
        let results = d.array_of(3, |d| {
            let result = DeletableGroupResult {
                group_id: d.string()?,
                error_code: ErrorCode::from_code(d.i16()?),
            };
            d.tagged_fields()?;
            Ok(result)
        })?;
        d.tagged_fields()?;
        Ok(DeleteGroupsResponse {
            throttle_time_ms,
            results,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::api::codec_checks::*;
    use kafka_protocol::messages::delete_groups_response::DeletableGroupResult as OracleResult;
    use kafka_protocol::messages::{
        DeleteGroupsRequest as OracleRequest, DeleteGroupsResponse as OracleResponse, GroupId,
    };

    type Req = DeleteGroupsRequest;

    fn oracle_request(r: &Req) -> OracleRequest {
        let mut o = OracleRequest::default();
        o.groups_names = r.groups_names.iter().map(|g| GroupId(oracle_str(g))).collect();
        o
    }

    fn sample_response(_version: i16) -> DeleteGroupsResponse {
        DeleteGroupsResponse {
            throttle_time_ms: 2,
            results: vec![
                DeletableGroupResult {
                    group_id: "old".into(),
                    error_code: ErrorCode::None,
                },
                DeletableGroupResult {
                    group_id: "busy".into(),
                    error_code: ErrorCode::from_code(68),
                },
            ],
        }
    }

    fn oracle_response(r: &DeleteGroupsResponse) -> OracleResponse {
        let mut o = OracleResponse::default();
        o.throttle_time_ms = r.throttle_time_ms;
        o.results = r
            .results
            .iter()
            .map(|g| {
                let mut og = OracleResult::default();
                og.group_id = GroupId(oracle_str(&g.group_id));
                og.error_code = g.error_code.code();
                og
            })
            .collect();
        o
    }

    oracle_codec_tests! {
        request: Req,
        bare_bodies_up_to: 128,
        request_test request_matches_kafka_protocol_at_every_version: |_| {
            [Req {
                groups_names: vec!["old".into(), "busy".into()],
            }]
        } => |r, _| oracle_request(r),
        responses: sample_response => |r, _| oracle_response(r),
        corrupted_responses_never_panic,
    }
}
