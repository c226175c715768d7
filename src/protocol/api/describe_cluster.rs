//! DescribeCluster (key 60): the cluster id, the controller and the brokers,
//! without topic metadata (KIP-700, Kafka 2.8+).
//!
//! Any broker answers it. Versions 0 to 2, all flexible: v1 adds the
//! endpoint type (brokers or, from KIP-919, controllers), v2 fenced brokers
//! (KIP-1073).
//!
//! # References
//! Kafka protocol guide, "DescribeCluster API"; KIP-700, KIP-919, KIP-1073.

use crate::protocol::{
    api_key, DecodeResult, Decoder, EncodeError, Encoder, ErrorCode, Request, Response,
};

/// The `endpoint_type` asking for brokers (the default).
pub const ENDPOINT_TYPE_BROKERS: i8 = 1;

/// DescribeCluster request.
///
/// `Default` asks for the brokers, without authorized operations or fenced
/// brokers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeClusterRequest {
    /// Whether to return the cluster's authorized operations.
    pub include_cluster_authorized_operations: bool,
    /// Which endpoints to list (v1+; only [`ENDPOINT_TYPE_BROKERS`] before).
    pub endpoint_type: i8,
    /// Whether to list fenced brokers too (v2+; `false` before).
    pub include_fenced_brokers: bool,
}

impl Default for DescribeClusterRequest {
    fn default() -> Self {
        DescribeClusterRequest {
            include_cluster_authorized_operations: false,
            endpoint_type: ENDPOINT_TYPE_BROKERS,
            include_fenced_brokers: false,
        }
    }
}

/// DescribeCluster response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeClusterResponse {
    /// How long the broker throttled the request, in ms.
    pub throttle_time_ms: i32,
    /// The top-level error.
    pub error_code: ErrorCode,
    /// The broker's explanation of the error, if any.
    pub error_message: Option<String>,
    /// The endpoint type listed (v1+, else brokers).
    pub endpoint_type: i8,
    /// The cluster id.
    pub cluster_id: String,
    /// The controller's broker id, -1 when unknown.
    pub controller_id: i32,
    /// Each broker.
    pub brokers: Vec<DescribeClusterBroker>,
    /// The cluster's authorized operations bit field (`i32::MIN` when not
    /// requested).
    pub cluster_authorized_operations: i32,
}

/// One broker in a [`DescribeClusterResponse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeClusterBroker {
    /// The broker id.
    pub broker_id: i32,
    /// Its advertised host.
    pub host: String,
    /// Its advertised port.
    pub port: i32,
    /// Its rack, if any.
    pub rack: Option<String>,
    /// Whether it is fenced (v2+, else `false`).
    pub is_fenced: bool,
}

impl Request for DescribeClusterRequest {
    const API_KEY: i16 = api_key::DESCRIBE_CLUSTER;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 2;
    const FIRST_FLEXIBLE: i16 = 0;
    type Response = DescribeClusterResponse;

    fn encode(&self, version: i16, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        e.bool(self.include_cluster_authorized_operations);
        if version >= 1 {
            e.i8(self.endpoint_type);
        } else if self.endpoint_type != ENDPOINT_TYPE_BROKERS {
            return Err(EncodeError::Unsupported(
                "DescribeCluster below v1 lists brokers only",
            ));
        }
        if version >= 2 {
            e.bool(self.include_fenced_brokers);
        } else if self.include_fenced_brokers {
            return Err(EncodeError::Unsupported(
                "DescribeCluster below v2 cannot list fenced brokers",
            ));
        }
        e.tagged_fields();
        Ok(())
    }
}

/// Smallest broker entry, to bound the count before allocating: id, empty
/// host, port, null rack, tagged fields.
const MIN_BROKER_SIZE: usize = 4 + 1 + 4 + 1 + 1;

impl Response for DescribeClusterResponse {
    fn decode(version: i16, d: &mut Decoder<'_>) -> DecodeResult<Self> {
        let throttle_time_ms = d.i32()?;
        let error_code = ErrorCode::from_code(d.i16()?);
        let error_message = d.nullable_string()?;
        let endpoint_type = if version >= 1 {
            d.i8()?
        } else {
            ENDPOINT_TYPE_BROKERS
        };
        let cluster_id = d.string()?;
        let controller_id = d.i32()?;
        let brokers = d.array_of(MIN_BROKER_SIZE, |d| {
            let broker = DescribeClusterBroker {
                broker_id: d.i32()?,
                host: d.string()?,
                port: d.i32()?,
                rack: d.nullable_string()?,
                is_fenced: if version >= 2 { d.bool()? } else { false },
            };
            d.tagged_fields()?;
            Ok(broker)
        })?;
        let cluster_authorized_operations = d.i32()?;
        d.tagged_fields()?;
        Ok(DescribeClusterResponse {
            throttle_time_ms,
            error_code,
            error_message,
            endpoint_type,
            cluster_id,
            controller_id,
            brokers,
            cluster_authorized_operations,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::api::codec_checks::*;
    use kafka_protocol::messages::{self as oracle, describe_cluster_response};

    type Req = DescribeClusterRequest;

    fn sample_request(version: i16) -> [DescribeClusterRequest; 2] {
        [
            DescribeClusterRequest::default(),
            DescribeClusterRequest {
                include_cluster_authorized_operations: true,
                endpoint_type: if version >= 1 { 2 } else { 1 },
                include_fenced_brokers: version >= 2,
            },
        ]
    }

    fn oracle_request(r: &DescribeClusterRequest, _: i16) -> oracle::DescribeClusterRequest {
        oracle::DescribeClusterRequest::default()
            .with_include_cluster_authorized_operations(r.include_cluster_authorized_operations)
            .with_endpoint_type(r.endpoint_type)
            .with_include_fenced_brokers(r.include_fenced_brokers)
    }

    fn sample_response(version: i16) -> DescribeClusterResponse {
        DescribeClusterResponse {
            throttle_time_ms: 4,
            error_code: ErrorCode::None,
            error_message: None,
            endpoint_type: 1,
            cluster_id: "tansu-é".into(),
            controller_id: 2,
            brokers: vec![
                DescribeClusterBroker {
                    broker_id: 1,
                    host: "127.0.0.1".into(),
                    port: 9092,
                    rack: None,
                    is_fenced: false,
                },
                DescribeClusterBroker {
                    broker_id: 2,
                    host: "kafka-2".into(),
                    port: 9093,
                    rack: Some("rack-b".into()),
                    is_fenced: version >= 2,
                },
            ],
            cluster_authorized_operations: i32::MIN,
        }
    }

    fn oracle_response(r: &DescribeClusterResponse, _: i16) -> oracle::DescribeClusterResponse {
        oracle::DescribeClusterResponse::default()
            .with_throttle_time_ms(r.throttle_time_ms)
            .with_error_code(r.error_code.code())
            .with_error_message(r.error_message.as_deref().map(oracle_str))
            .with_endpoint_type(r.endpoint_type)
            .with_cluster_id(oracle_str(&r.cluster_id))
            .with_controller_id(oracle::BrokerId(r.controller_id))
            .with_cluster_authorized_operations(r.cluster_authorized_operations)
            .with_unknown_tagged_field(5, b"top".as_ref().into())
            .with_brokers(
                r.brokers
                    .iter()
                    .map(|b| {
                        describe_cluster_response::DescribeClusterBroker::default()
                            .with_broker_id(oracle::BrokerId(b.broker_id))
                            .with_host(oracle_str(&b.host))
                            .with_port(b.port)
                            .with_rack(b.rack.as_deref().map(oracle_str))
                            .with_is_fenced(b.is_fenced)
                            .with_unknown_tagged_field(1, b"b".as_ref().into())
                    })
                    .collect(),
            )
    }

    #[test]
    fn fields_a_version_cannot_carry_do_not_encode() {
        let controllers = DescribeClusterRequest {
            endpoint_type: 2,
            ..DescribeClusterRequest::default()
        };
        assert_encode_fails_before(&controllers, 1);
        let fenced = DescribeClusterRequest {
            include_fenced_brokers: true,
            ..DescribeClusterRequest::default()
        };
        assert_encode_fails_before(&fenced, 2);
    }

    oracle_codec_tests! {
        request: Req,
        requests matches_oracle: sample_request => oracle_request,
        responses: sample_response => oracle_response,
    }
}
