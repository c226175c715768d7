//! ListGroups (key 16): the groups one broker coordinates. A cluster's groups
//! are the union of every broker's answer.
//!
//! v1 adds the throttle time, v3 is flexible, v4 filters by state and returns
//! each group's state, v5 filters by type and returns each group's type
//! (classic, consumer, share).
//!
//! # References
//! Kafka protocol guide, "ListGroups API"; KIP-518 (states), KIP-848 (types).

use crate::protocol::{
    api_key, DecodeResult, Decoder, EncodeError, Encoder, ErrorCode, Request, Response,
};

/// ListGroups request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListGroupsRequest {
    /// Only groups in these states (v4+; empty: every state).
    pub states_filter: Vec<String>,
    /// Only groups of these types (v5+; empty: every type).
    pub types_filter: Vec<String>,
}

/// ListGroups response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListGroupsResponse {
    /// Throttle time (v1+).
    pub throttle_time_ms: i32,
    /// E.g. `COORDINATOR_LOAD_IN_PROGRESS`.
    pub error_code: ErrorCode,
    /// The groups this broker coordinates.
    pub groups: Vec<ListedGroup>,
}

/// One group in a [`ListGroupsResponse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedGroup {
    /// Group id.
    pub group_id: String,
    /// `consumer` for consumer groups; empty for a group without members yet
    /// only committed offsets.
    pub protocol_type: String,
    /// The group's state (v4+; empty before).
    pub group_state: String,
    /// The group's type (v5+; empty before).
    pub group_type: String,
}

impl Request for ListGroupsRequest {
    const API_KEY: i16 = api_key::LIST_GROUPS;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 5;
    const FIRST_FLEXIBLE: i16 = 3;
    type Response = ListGroupsResponse;

    fn encode(&self, version: i16, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        if version >= 4 {
            e.array_of(&self.states_filter, |e, s| e.string(s))?;
        } else if !self.states_filter.is_empty() {
            return Err(EncodeError::Unsupported(
                "ListGroups filters by state from v4",
            ));
        }
        if version >= 5 {
            e.array_of(&self.types_filter, |e, s| e.string(s))?;
        } else if !self.types_filter.is_empty() {
            return Err(EncodeError::Unsupported("ListGroups filters by type from v5"));
        }
        e.tagged_fields();
        Ok(())
    }
}

impl Response for ListGroupsResponse {
    fn decode(version: i16, d: &mut Decoder<'_>) -> DecodeResult<Self> {
        let throttle_time_ms = if version >= 1 { d.i32()? } else { 0 };
        let error_code = ErrorCode::from_code(d.i16()?);
        let groups = d.array_of(2, |d| {
            let group_id = d.string()?;
            let protocol_type = d.string()?;
            let group_state = if version >= 4 { d.string()? } else { String::new() };
            let group_type = if version >= 5 { d.string()? } else { String::new() };
            d.tagged_fields()?;
            Ok(ListedGroup {
                group_id,
                protocol_type,
                group_state,
                group_type,
            })
        })?;
        d.tagged_fields()?;
        Ok(ListGroupsResponse {
            throttle_time_ms,
            error_code,
            groups,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::api::codec_checks::*;
    use kafka_protocol::messages::list_groups_response::ListedGroup as OracleGroup;
    use kafka_protocol::messages::{
        GroupId, ListGroupsRequest as OracleRequest, ListGroupsResponse as OracleResponse,
    };

    type Req = ListGroupsRequest;

    fn sample_request(version: i16) -> Req {
        Req {
            states_filter: if version >= 4 {
                vec!["Stable".into(), "Empty".into()]
            } else {
                vec![]
            },
            types_filter: if version >= 5 {
                vec!["classic".into()]
            } else {
                vec![]
            },
        }
    }

    fn oracle_request(r: &Req) -> OracleRequest {
        let mut o = OracleRequest::default();
        o.states_filter = r.states_filter.iter().map(|s| oracle_str(s)).collect();
        o.types_filter = r.types_filter.iter().map(|s| oracle_str(s)).collect();
        o
    }

    fn sample_response(version: i16) -> ListGroupsResponse {
        let state = |s: &str| if version >= 4 { s.into() } else { String::new() };
        let kind = |s: &str| if version >= 5 { s.into() } else { String::new() };
        ListGroupsResponse {
            throttle_time_ms: if version >= 1 { 5 } else { 0 },
            error_code: ErrorCode::None,
            groups: vec![
                ListedGroup {
                    group_id: "billing".into(),
                    protocol_type: "consumer".into(),
                    group_state: state("Stable"),
                    group_type: kind("classic"),
                },
                ListedGroup {
                    group_id: "offsets-only".into(),
                    protocol_type: String::new(),
                    group_state: state("Empty"),
                    group_type: kind("classic"),
                },
            ],
        }
    }

    fn oracle_response(r: &ListGroupsResponse) -> OracleResponse {
        let mut o = OracleResponse::default();
        o.throttle_time_ms = r.throttle_time_ms;
        o.error_code = r.error_code.code();
        o.groups = r
            .groups
            .iter()
            .map(|g| {
                let mut og = OracleGroup::default();
                og.group_id = GroupId(oracle_str(&g.group_id));
                og.protocol_type = oracle_str(&g.protocol_type);
                og.group_state = oracle_str(&g.group_state);
                og.group_type = oracle_str(&g.group_type);
                og
            })
            .collect();
        o
    }

    #[test]
    fn filters_before_their_version_are_an_encode_error() {
        assert_encode_fails_before(&sample_request(4), 4);
        assert_encode_fails_before(&sample_request(5), 5);
    }

    oracle_codec_tests! {
        request: Req,
        bare_bodies_up_to: 128,
        request_test request_matches_kafka_protocol_at_every_version:
            |v| [sample_request(v), Req::default()] => |r, _| oracle_request(r),
        responses: sample_response => |r, _| oracle_response(r),
        corrupted_responses_never_panic,
    }
}
