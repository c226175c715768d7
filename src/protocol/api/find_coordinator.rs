//! FindCoordinator (key 10): which broker coordinates a consumer group or a
//! transactional id.
//!
//! Up to v3 a request names one key and the response carries one unnamed
//! answer; from v4 (KIP-699) both are batched and each answer names its key.
//! [`FindCoordinatorRequest::group`] builds a one-key request that encodes at
//! every version, and [`FindCoordinatorResponse::coordinator`] finds the
//! answer for a key whatever the version.
//!
//! # References
//! Kafka protocol guide, "FindCoordinator API"; KIP-699 (batched lookups),
//! KIP-896 (v0 removed in Kafka 4.0).

use crate::protocol::{
    api_key, DecodeResult, Decoder, EncodeError, Encoder, ErrorCode, Request, Response,
};

/// What kind of coordinator a key names (`key_type` on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum CoordinatorKeyType {
    /// A consumer group id (0). The only kind v0 can look up.
    #[default]
    Group,
    /// A transactional id (1).
    Transaction,
}

impl CoordinatorKeyType {
    /// The wire value.
    pub fn code(self) -> i8 {
        match self {
            CoordinatorKeyType::Group => 0,
            CoordinatorKeyType::Transaction => 1,
        }
    }
}

/// FindCoordinator request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FindCoordinatorRequest {
    /// The kind of coordinator wanted (v1+; v0 only finds group coordinators).
    pub key_type: CoordinatorKeyType,
    /// The keys to look up. Before v4 the request carries exactly one (sent
    /// as `key`); encoding fails otherwise.
    pub coordinator_keys: Vec<String>,
}

impl FindCoordinatorRequest {
    /// A lookup of one key of `key_type`, valid at every version (v0 only for
    /// groups).
    pub fn new(key_type: CoordinatorKeyType, key: impl Into<String>) -> Self {
        FindCoordinatorRequest {
            key_type,
            coordinator_keys: vec![key.into()],
        }
    }

    /// A lookup of the coordinator of consumer group `group_id`.
    pub fn group(group_id: impl Into<String>) -> Self {
        Self::new(CoordinatorKeyType::Group, group_id)
    }

    /// A lookup of the coordinator of transactional id `transactional_id` (v1+).
    pub fn transaction(transactional_id: impl Into<String>) -> Self {
        Self::new(CoordinatorKeyType::Transaction, transactional_id)
    }
}

/// One coordinator in a [`FindCoordinatorResponse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coordinator {
    /// The key this answers (v4+). `None` before v4, where the one answer
    /// belongs to the one key the request carried.
    pub key: Option<String>,
    /// The coordinator's broker id.
    pub node_id: i32,
    /// The coordinator's host name.
    pub host: String,
    /// The coordinator's port.
    pub port: i32,
    /// `COORDINATOR_NOT_AVAILABLE` while the coordinator is being elected.
    pub error_code: ErrorCode,
    /// The broker's error message (v1+), if any.
    pub error_message: Option<String>,
}

/// FindCoordinator response. The single answer of v0-v3 is presented as a
/// one-entry `coordinators` list whose `key` is `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindCoordinatorResponse {
    /// Throttle time (v1+).
    pub throttle_time_ms: i32,
    /// One answer per key asked for.
    pub coordinators: Vec<Coordinator>,
}

impl FindCoordinatorResponse {
    /// The answer for `key`: the entry naming it (v4+), or the one unnamed
    /// answer of a v0-v3 response.
    pub fn coordinator(&self, key: &str) -> Option<&Coordinator> {
        self.coordinators
            .iter()
            .find(|c| c.key.as_deref().is_none_or(|k| k == key))
    }
}

impl Request for FindCoordinatorRequest {
    const API_KEY: i16 = api_key::FIND_COORDINATOR;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 6;
    const FIRST_FLEXIBLE: i16 = 3;
    type Response = FindCoordinatorResponse;

    fn encode(&self, version: i16, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        if version >= 4 {
            e.i8(self.key_type.code());
            e.array_of(&self.coordinator_keys, |e, key| e.string(key))?;
        } else {
            let [key] = self.coordinator_keys.as_slice() else {
                return Err(EncodeError::Unsupported(
                    "FindCoordinator before v4 looks up exactly one key",
                ));
            };
            e.string(key)?;
            if version >= 1 {
                e.i8(self.key_type.code());
            } else if self.key_type != CoordinatorKeyType::Group {
                return Err(EncodeError::Unsupported(
                    "FindCoordinator v0 only finds group coordinators",
                ));
            }
        }
        e.tagged_fields();
        Ok(())
    }
}

impl Response for FindCoordinatorResponse {
    fn decode(version: i16, d: &mut Decoder<'_>) -> DecodeResult<Self> {
        let throttle_time_ms = if version >= 1 { d.i32()? } else { 0 };
        let coordinators = if version >= 4 {
            // key, node id, host, port, error code, message, tagged fields.
            d.array_of(14, |d| {
                let key = Some(d.string()?);
                let node_id = d.i32()?;
                let host = d.string()?;
                let port = d.i32()?;
                let error_code = ErrorCode::from_code(d.i16()?);
                let error_message = d.nullable_string()?;
                d.tagged_fields()?;
                Ok(Coordinator {
                    key,
                    node_id,
                    host,
                    port,
                    error_code,
                    error_message,
                })
            })?
        } else {
            let error_code = ErrorCode::from_code(d.i16()?);
            let error_message = if version >= 1 {
                d.nullable_string()?
            } else {
                None
            };
            vec![Coordinator {
                key: None,
                error_code,
                error_message,
                node_id: d.i32()?,
                host: d.string()?,
                port: d.i32()?,
            }]
        };
        d.tagged_fields()?;
        Ok(FindCoordinatorResponse {
            throttle_time_ms,
            coordinators,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::api::codec_checks::*;
    use kafka_protocol::messages::find_coordinator_response::Coordinator as OracleCoordinator;
    use kafka_protocol::messages::{
        BrokerId, FindCoordinatorRequest as OracleRequest,
        FindCoordinatorResponse as OracleResponse,
    };

    type Req = FindCoordinatorRequest;

    fn oracle_request(r: &Req, version: i16) -> OracleRequest {
        let mut o = OracleRequest::default();
        if version >= 4 {
            o.coordinator_keys = r.coordinator_keys.iter().map(|k| oracle_str(k)).collect();
        } else {
            o.key = oracle_str(&r.coordinator_keys[0]);
        }
        if version >= 1 {
            o.key_type = r.key_type.code();
        }
        o
    }

    fn sample_response(version: i16) -> FindCoordinatorResponse {
        let mut coordinators = vec![Coordinator {
            key: (version >= 4).then(|| "billing".to_owned()),
            node_id: 3,
            host: "broker-3.kafka.internal".into(),
            port: 9093,
            error_code: ErrorCode::None,
            error_message: None,
        }];
        if version >= 4 {
            coordinators.push(Coordinator {
                key: Some("audit".into()),
                node_id: -1,
                host: String::new(),
                port: -1,
                error_code: ErrorCode::from_code(15),
                error_message: Some("The coordinator is not available.".into()),
            });
        } else if version >= 1 {
            coordinators[0].error_message = Some("no error, just a note".into());
        }
        FindCoordinatorResponse {
            throttle_time_ms: if version >= 1 { 120 } else { 0 },
            coordinators,
        }
    }

    fn oracle_response(r: &FindCoordinatorResponse, version: i16) -> OracleResponse {
        let mut o = OracleResponse::default();
        o.throttle_time_ms = r.throttle_time_ms;
        if version >= 4 {
            o.coordinators = r
                .coordinators
                .iter()
                .map(|c| {
                    let mut oc = OracleCoordinator::default();
                    oc.key = oracle_str(c.key.as_deref().unwrap_or_default());
                    oc.node_id = BrokerId(c.node_id);
                    oc.host = oracle_str(&c.host);
                    oc.port = c.port;
                    oc.error_code = c.error_code.code();
                    oc.error_message = c.error_message.as_deref().map(oracle_str);
                    oc
                })
                .collect();
        } else {
            let c = &r.coordinators[0];
            o.error_code = c.error_code.code();
            o.error_message = c.error_message.as_deref().map(oracle_str);
            o.node_id = BrokerId(c.node_id);
            o.host = oracle_str(&c.host);
            o.port = c.port;
        }
        o
    }

    #[test]
    fn one_key_request_matches_kafka_protocol_at_every_version() {
        let requests = |version| {
            let mut requests = vec![Req::group("billing")];
            if version >= 1 {
                requests.push(Req::transaction("payments-tx-7"));
            }
            requests
        };
        assert_every_request_version_matches_oracle(requests, oracle_request);
    }

    #[test]
    fn batched_request_matches_kafka_protocol_from_v4() {
        let r = Req {
            key_type: CoordinatorKeyType::Group,
            coordinator_keys: vec!["billing".into(), "audit".into(), "search".into()],
        };
        for version in 4..=Req::MAX_VERSION {
            assert_request_matches_oracle(&r, &oracle_request(&r, version), version);
        }
    }

    #[test]
    fn several_keys_before_v4_are_an_encode_error() {
        let r = Req {
            key_type: CoordinatorKeyType::Group,
            coordinator_keys: vec!["a".into(), "b".into()],
        };
        assert_encode_fails_before(&r, 4);
    }

    #[test]
    fn transaction_lookup_at_v0_is_an_encode_error() {
        let r = Req::transaction("tx");
        assert!(try_request_body(&r, 0).is_err());
    }

    #[test]
    fn coordinator_is_found_for_a_key_at_every_version() {
        for version in Req::MIN_VERSION..=Req::MAX_VERSION {
            let response = sample_response(version);
            let c = response
                .coordinator("billing")
                .expect("billing coordinator");
            assert_eq!(
                (c.node_id, c.host.as_str(), c.port),
                (3, "broker-3.kafka.internal", 9093)
            );
            assert!(c.error_code.is_ok());
        }
        let batched = sample_response(4);
        assert_eq!(
            batched.coordinator("audit").map(|c| c.error_code.code()),
            Some(15)
        );
        assert!(batched.coordinator("unknown-group").is_none());
    }

    oracle_codec_tests! {
        request: Req,
        bare_bodies_up_to: 128,
        responses: sample_response => oracle_response,
        corrupted_responses_never_panic,
    }
}
